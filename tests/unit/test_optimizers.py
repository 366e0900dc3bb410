"""The momentum, nesterov, adam and rmsprop trials: against torch.optim step by step, the per-step
records against their definitions, the explanation's claims against the document, and bad input."""

from __future__ import annotations

import importlib
import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from support.ci import skip_or_fail_in_ci

from tutor.cli import main
from tutor.engine import InputError, Question, answer, question_from_text

OPTIMIZERS = ("momentum", "nesterov", "adam", "rmsprop")


@pytest.fixture(scope="module")
def torch():
    # torch is an optional test extra: locally a missing torch skips, in CI it must be there.
    try:
        return importlib.import_module("torch")
    except ImportError as error:
        skip_or_fail_in_ci(f"could not import 'torch': {error}")


# (expression, point, fixed, the same function written by hand for torch, learning rate)
CASES = [
    ("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, (), lambda t, v: (v["x"] + v["y"]) * v["z"], 0.01),
    (
        "(1-x)**2 + 100*(y-x**2)**2",
        {"x": -1.2, "y": 1.0},
        (),
        lambda t, v: (1 - v["x"]) ** 2 + 100 * (v["y"] - v["x"] ** 2) ** 2,
        0.001,
    ),
    (
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1.0, "x1": 2.0},
        ("x0", "x1"),
        lambda t, v: (t.sigmoid(v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["b"]) - 1) ** 2,
        0.5,
    ),
    (
        "tanh(a*b) + log(1 + c**2)*a + 0.1*(a**2 + b**2 + c**2)",
        {"a": 0.3, "b": -1.5, "c": 2.0},
        (),
        lambda t, v: (
            t.tanh(v["a"] * v["b"])
            + t.log(1 + v["c"] ** 2) * v["a"]
            + 0.1 * (v["a"] ** 2 + v["b"] ** 2 + v["c"] ** 2)
        ),
        0.2,
    ),
    ("x**2 + 10*y**2", {"x": 3.0, "y": 1.0}, (), lambda t, v: v["x"] ** 2 + 10 * v["y"] ** 2, 0.09),
]

# Non-default settings too, so a setting that is read but ignored would show.
SETTINGS = [{}, {"momentum": 0.5, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "alpha": 0.9}]


def torch_optimizer(torch, method, parameters, lr, settings):
    full = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "alpha": 0.99} | settings
    optim = torch.optim
    if method in ("momentum", "nesterov"):
        return optim.SGD(parameters, lr=lr, momentum=full["momentum"], nesterov=method == "nesterov")
    if method == "adam":
        return optim.Adam(parameters, lr=lr, betas=(full["beta1"], full["beta2"]), eps=full["eps"])
    return optim.RMSprop(parameters, lr=lr, alpha=full["alpha"], eps=full["eps"])


@pytest.mark.torch
@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "custom"])
@pytest.mark.parametrize(("expression", "point", "fixed", "f", "lr"), CASES, ids=[c[0] for c in CASES])
def test_optimizers_match_torch_optim(torch, expression, point, fixed, f, lr, settings):
    steps = 25
    document = answer(
        Question(expression, point, lr, steps=steps, fixed=fixed, methods=OPTIMIZERS, settings=settings)
    )
    names = [n for n in point if n not in fixed]
    for trial in document["trials"]:
        assert trial["diverged_at"] is None
        values = {
            n: torch.tensor(v, dtype=torch.float64, requires_grad=n not in fixed) for n, v in point.items()
        }
        optimizer = torch_optimizer(torch, trial["method"], [values[n] for n in names], lr, settings)
        for step in trial["steps"]:
            optimizer.zero_grad()
            f(torch, values).backward()
            for n in names:
                assert step["gradient"][n] == pytest.approx(values[n].grad.item(), rel=1e-9, abs=1e-12)
            optimizer.step()
            for n in names:
                assert step["point"][n] == pytest.approx(values[n].item(), rel=1e-9, abs=1e-12), (
                    trial["method"],
                    step["step"],
                    n,
                )
            with torch.no_grad():
                assert step["loss"] == pytest.approx(f(torch, values).item(), rel=1e-9, abs=1e-12)


def vector(mapping, names):
    return np.array([mapping[n] for n in names])


def cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def test_records_follow_their_definitions():
    mu, lr = 0.9, 0.05
    document = answer(
        Question("x**2 + 10*y**2 + x*y", {"x": 3.0, "y": 1.0}, lr, steps=40, methods=OPTIMIZERS)
    )
    names = document["parameters"]
    for trial in document["trials"]:
        before = trial["initial_loss"]
        previous_point = vector(document["input"]["point"], names)
        velocity = np.zeros(len(names))
        for step in trial["steps"]:
            g = vector(step["gradient"], names)
            update = vector(step["update"], names)
            point = vector(step["point"], names)
            assert update == pytest.approx(point - previous_point, rel=1e-9, abs=1e-12)
            assert step["loss_went_up"] == (step["loss"] > before)
            # Compared as cosines: arccos, the obvious oracle, loses digits near 0° and 180°.
            degrees = step["angle_to_negative_gradient"]
            assert math.cos(math.radians(degrees)) == pytest.approx(cosine(update, -g), abs=1e-12)
            if trial["method"] in ("momentum", "nesterov"):
                remembered = mu * velocity if trial["method"] == "momentum" else mu * mu * velocity
                share = np.linalg.norm(lr * remembered) / np.linalg.norm(update)
                assert step["velocity_share"] == pytest.approx(share, rel=1e-9, abs=1e-12)
                velocity = mu * velocity + g
            else:
                assert "velocity_share" not in step
            before, previous_point = step["loss"], point


def test_momentum_raises_the_loss_where_plain_descent_does_not():
    # A narrow valley: η is safe for plain descent, but momentum's velocity carries it up the walls.
    document = answer(
        Question("x**2 + 10*y**2", {"x": 3.0, "y": 1.0}, 0.05, steps=30, methods=("simultaneous", "momentum"))
    )
    plain, heavy = document["trials"]
    assert not any(s["loss_went_up"] for s in plain["steps"])
    up = [s for s in heavy["steps"] if s["loss_went_up"]]
    assert up
    # Every rise comes from a step that is not the gradient step: at an angle to −g.
    assert all(s["angle_to_negative_gradient"] > 1 for s in up)
    assert heavy["settings"] == {"momentum": 0.9}
    json.dumps(document, allow_nan=False)


WENT_UP = re.compile(r"\*\*(\w+)\*\*: the loss went up at steps? ([\d, …]+) \((\d+) of (\d+) steps\)")
WENT_DOWN = re.compile(r"\*\*(\w+)\*\*: the loss went down at every one of the (\d+) steps")


def check_claims(document):
    """Every "the loss went up at steps ..." sentence against the steps' numbers. Returns the methods
    whose claims were found."""
    markdown = document["explanation"]["markdown"]
    trials = {t["method"]: t for t in document["trials"]}
    seen = set()
    for method, listed, count, total in WENT_UP.findall(markdown):
        steps = trials[method]["steps"]
        up = [s["step"] for s in steps if s["loss_went_up"]]
        # The step numbers say the loss went up there, checked on the losses themselves.
        losses = [trials[method]["initial_loss"]] + [s["loss"] for s in steps]
        assert up == [k for k in range(1, len(losses)) if losses[k] > losses[k - 1]]
        named = [int(n) for n in re.findall(r"\d+", listed)]
        assert named == up[: len(named)]
        assert (int(count), int(total)) == (len(up), len(steps))
        seen.add(method)
    for method, total in WENT_DOWN.findall(markdown):
        steps = trials[method]["steps"]
        assert int(total) == len(steps)
        assert not any(s["loss_went_up"] for s in steps)
        losses = [trials[method]["initial_loss"]] + [s["loss"] for s in steps]
        assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
        seen.add(method)
    return seen


@pytest.mark.parametrize(
    ("expression", "point", "lr"),
    [
        ("x**2 + 10*y**2", {"x": 3.0, "y": 1.0}, 0.05),
        ("(1-x)**2 + 100*(y-x**2)**2", {"x": -1.2, "y": 1.0}, 0.001),
        ("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01),
    ],
)
def test_the_explanations_claims_match_the_numbers(expression, point, lr):
    methods = ("simultaneous", *OPTIMIZERS)
    document = answer(Question(expression, point, lr, steps=30, methods=methods))
    assert check_claims(document) == set(methods)
    # The first step named as going up gets its why, with the numbers of that step.
    for trial in document["trials"]:
        up = [s for s in trial["steps"] if s["loss_went_up"]]
        if trial["method"] in OPTIMIZERS and up:
            assert f"Why step {up[0]['step']} went up" in document["explanation"]["markdown"]


def test_many_rises_are_listed_with_their_count():
    document = answer(
        Question("x**2 + 10*y**2", {"x": 3.0, "y": 1.0}, 0.05, steps=200, methods=("momentum",))
    )
    up = [s for s in document["trials"][0]["steps"] if s["loss_went_up"]]
    assert len(up) > 12
    assert "…" in document["explanation"]["markdown"]
    assert check_claims(document) == {"momentum"}


def test_questions_without_the_new_fields_keep_their_trials():
    document = answer(Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01))
    assert [t["method"] for t in document["trials"]] == ["simultaneous", "sequential"]
    assert document["input"]["methods"] == ["simultaneous", "sequential"]
    assert document["input"]["settings"] == {}
    assert document["trials"][0]["steps"][0]["point"] == pytest.approx({"x": -1.96, "y": 5.04, "z": -4.03})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"methods": ("adam", "foo")}, "methods"),
        ({"methods": ("adam", "adam")}, "methods"),
        ({"methods": ()}, "methods"),
        ({"methods": "adam"}, "methods"),
        ({"methods": (["adam"],)}, "methods"),
        ({"methods": ("minibatch",)}, "methods"),
        ({"settings": {"mu": 0.5}}, "settings"),
        ({"settings": {"momentum": 1.0}}, "settings"),
        ({"settings": {"momentum": -0.1}}, "settings"),
        ({"settings": {"beta2": math.nan}}, "settings"),
        ({"settings": {"eps": 0.0}}, "settings"),
        ({"settings": {"alpha": True}}, "settings"),
        ({"settings": {"beta1": "0.9"}}, "settings"),
        ({"settings": [("momentum", 0.5)]}, "settings"),
    ],
)
def test_bad_methods_and_settings_name_the_field(changes, field):
    question = Question("x**2 + y**2", {"x": 1.0, "y": 2.0}, 0.1, **changes)
    with pytest.raises(InputError) as caught:
        answer(question)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_settings_from_text_fields():
    question = question_from_text(
        "x**2", "x=1", "0.1", methods="momentum, adam", settings={"momentum": "0.5", "beta1": " "}
    )
    assert question.methods == ("momentum", "adam")
    assert question.settings == {"momentum": 0.5}
    with pytest.raises(InputError) as caught:
        question_from_text("x**2", "x=1", "0.1", settings={"eps": "tiny"})
    assert caught.value.field == "settings"


def test_cli_runs_the_optimizers_and_refuses_bad_settings():
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["explain", "x**2 + 10*y**2", "--at", "x=3, y=1", "--lr", "0.05", "--steps", "5"]
        + ["--methods", "simultaneous,nesterov,rmsprop", "--momentum", "0.5", "--alpha", "0.9", "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [t["method"] for t in document["trials"]] == ["simultaneous", "nesterov", "rmsprop"]
    assert document["trials"][1]["settings"] == {"momentum": 0.5}
    assert document["trials"][2]["settings"] == {"alpha": 0.9, "eps": 1e-8}

    result = runner.invoke(main, ["explain", "x**2", "--at", "x=1", "--lr", "0.1", "--beta1", "1.5"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("tutor: settings:")
