"""The simultaneous and sequential trials against PyTorch autograd, with each function written in torch
by hand (not through the engine's parser), so nothing of the engine's path is shared with the oracle."""

from __future__ import annotations

import pytest
from support.ci import skip_or_fail_in_ci

from tutor.engine import Question, answer

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test extra
    torch = None

pytestmark = pytest.mark.torch

if torch is None:
    skip_or_fail_in_ci("torch is not installed (pip install -e '.[torch]')", allow_module_level=True)

CASES = [
    ("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, (), lambda v: (v["x"] + v["y"]) * v["z"], 0.01),
    (
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1.0, "x1": 2.0},
        ("x0", "x1"),
        lambda v: (torch.sigmoid(v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["b"]) - 1) ** 2,
        0.5,
    ),
    (
        "(1-x)**2 + 100*(y-x**2)**2",
        {"x": -1.2, "y": 1.0},
        (),
        lambda v: (1 - v["x"]) ** 2 + 100 * (v["y"] - v["x"] ** 2) ** 2,
        0.001,
    ),
    ("x*y", {"x": 0.01, "y": 1.0}, (), lambda v: v["x"] * v["y"], 0.1),
    (
        "tanh(a*b) + log(1 + c**2)*a",
        {"a": 0.3, "b": -1.5, "c": 2.0},
        (),
        lambda v: torch.tanh(v["a"] * v["b"]) + torch.log(1 + v["c"] ** 2) * v["a"],
        0.2,
    ),
]


def tensors(point):
    return {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in point.items()}


@pytest.mark.parametrize(("expression", "point", "fixed", "f", "lr"), CASES)
def test_trials_match_torch(expression, point, fixed, f, lr):
    steps = 20
    document = answer(Question(expression, point, lr, steps=steps, fixed=fixed))
    simultaneous, sequential = document["trials"]
    parameters = [n for n in point if n not in fixed]

    values = tensors(point)
    for step in range(steps):
        grads = torch.autograd.grad(f(values), [values[n] for n in parameters])
        with torch.no_grad():
            for n, g in zip(parameters, grads, strict=True):
                values[n] -= lr * g
        for n in parameters:
            assert simultaneous["steps"][step]["point"][n] == pytest.approx(
                values[n].item(), rel=1e-10, abs=1e-12
            )

    values = tensors(point)
    for step in range(steps):
        start = torch.autograd.grad(f(values), [values[n] for n in parameters])
        for k, n in enumerate(parameters):
            (g,) = torch.autograd.grad(f(values), [values[n]])
            update = sequential["steps"][step]["updates"][k]
            assert update["partial"] == pytest.approx(g.item(), rel=1e-10, abs=1e-12)
            assert update["sign_flip"] == (g.item() * start[k].item() < 0)
            with torch.no_grad():
                values[n] -= lr * g
            assert update["value"] == pytest.approx(values[n].item(), rel=1e-10, abs=1e-12)
