"""The explanation's claims read back against the document's own numbers.

Each test finds a sentence in the explanation and checks that what it says (the loss went down, gap/η²
stays the same, a scheme is lower, a slope can flip) is what the numbers in the same document show.
"""

from __future__ import annotations

import re

import pytest
import sympy as sp

from tutor.engine import Question, answer
from tutor.engine.display import latex_name
from tutor.engine.explain import Math, build_blocks
from tutor.engine.numbers import denoise, fmt


def ask(expression: str, point: dict[str, float], learning_rate: float, steps: int = 1) -> dict:
    return answer(Question(expression, point, learning_rate, steps))


def section(document: dict, heading: str) -> str:
    """The plain text under one heading of the explanation, up to the next heading."""
    parts = re.split(r"^### ", document["explanation"]["markdown"], flags=re.MULTILINE)
    found = [part for part in parts if part.startswith(heading)]
    assert found, f"no section {heading!r}"
    return found[0].removeprefix(heading)


def paragraph_starting(text: str, start: str) -> str:
    found = [p for p in text.split("\n\n") if p.startswith(start)]
    assert len(found) == 1, f"expected one paragraph starting {start!r} in {text!r}"
    return found[0]


def short_answer(document: dict) -> str:
    """The short answer that opens every explanation, in plain text."""
    summary = document["explanation"]["summary"]["text"].strip()
    assert document["explanation"]["text"].startswith(summary)
    return summary


def kinds(document: dict) -> set[str]:
    return {case["kind"] for case in document["special_cases"]}


def measured_changes(analysis: dict) -> list[float | None]:
    """Every change of the loss the document measured along −g: the learner's step and the halvings."""
    return [analysis["actual_change"], *(row["actual"] for row in analysis["shrinking"])]


# (expression, point, η): smooth and bounded, smooth past the first crossing, unbounded below,
# kinks that never descend, descend only at large steps or descend everywhere, and a stationary point.
CASES = [
    ("x**2", {"x": 1}, 0.1),
    ("x**2", {"x": 1}, 1.5),
    ("sin(x)", {"x": 1}, 13),
    ("sin(x)", {"x": 1}, 1),
    ("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01),
    ("relu(x)", {"x": 0}, 0.1),
    ("abs(x) + x", {"x": 0}, 0.1),
    ("max(x, -2*x) - x**2/10", {"x": 0}, 400),
    ("relu(x) + x", {"x": 0}, 0.1),
    ("x**2 + y**2", {"x": 0, "y": 0}, 0.1),
    ("x**2 + 100*y**2", {"x": 1, "y": 1}, 0.011),  # just past the bound: the loss goes up
]


# --- 1. the direct answer -------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "point", "rate"), CASES)
def test_the_answer_says_yes_only_when_small_steps_are_shown_to_lower_the_loss(expression, point, rate):
    document = ask(expression, point, rate)
    analysis = document["analysis"]
    answer_text = short_answer(document)
    changes = measured_changes(analysis)
    lowered_somewhere = any(c is not None and c < 0 for c in changes) or analysis["best_change"] is not None
    if answer_text.startswith("Yes"):
        assert "stationary" not in kinds(document)
        if analysis["max_decreasing_learning_rate"] is None:
            # No bound: only a "yes" when every step size measured lowered the loss, away from a kink.
            assert all(c is not None and c < 0 for c in changes)
            assert "kink" not in kinds(document)
    if not lowered_somewhere:
        assert not answer_text.startswith("Yes"), answer_text
    if re.match(r"No\b", answer_text):
        assert not any(c is not None and c < 0 for c in changes)


@pytest.mark.parametrize(("expression", "point", "rate"), CASES)
def test_the_answer_never_says_the_learners_step_went_down_when_it_did_not(expression, point, rate):
    document = ask(expression, point, rate)
    analysis = document["analysis"]
    answer_text = short_answer(document)
    bound = analysis["max_decreasing_learning_rate"]
    if answer_text.startswith("Yes") and bound is not None and not analysis["actual_change"] < 0:
        # A yes for small steps must say the learner's own step was not one of them.
        assert re.search(rf"Your η = {re.escape(fmt(rate))} (raised it|left it unchanged)", answer_text)
        assert "past that bound" in answer_text, answer_text
    yours = re.search(
        rf"Your η = {re.escape(fmt(rate))} (lowered|raised) it by (\d(?:[\d.e+-]*\d)?)", answer_text
    )
    if yours:
        assert (yours.group(1) == "lowered") == (analysis["actual_change"] < 0)
        assert yours.group(2) == fmt(abs(analysis["actual_change"]))


def test_relu_on_its_kink_is_not_answered_yes():
    document = ask("relu(x)", {"x": 0}, 0.1)
    assert document["analysis"]["max_decreasing_learning_rate"] is None
    assert document["analysis"]["actual_change"] == 0
    answer_text = short_answer(document)
    assert re.match(r"No\b", answer_text), answer_text


# --- 2. the Taylor paragraph ----------------------------------------------------------------------


def gap_ratios(analysis: dict) -> list[float]:
    return [
        0.0 if denoise(row["gap"], row["predicted"]) == 0 else row["gap_over_lr_squared"]
        for row in analysis["shrinking"]
    ]


@pytest.mark.parametrize(("expression", "point", "rate"), CASES)
def test_gap_over_lr_squared_is_called_steady_only_when_the_table_shows_it(expression, point, rate):
    document = ask(expression, point, rate)
    if document["gradient_norm"] == 0:
        # No step moves: the explanation classifies the point instead of comparing step sizes.
        assert "Why the first step goes the way it does" not in document["explanation"]["markdown"]
        assert "Where the gradient is zero" in document["explanation"]["markdown"]
        return
    ratios = gap_ratios(document["analysis"])
    taylor = section(document, "Why the first step goes the way it does")
    if "stays about the same" in taylor:
        sizes = [abs(r) for r in ratios]
        assert all(r == 0 for r in ratios) or (
            min(sizes) > 0 and len({r > 0 for r in ratios}) == 1 and max(sizes) <= 2 * min(sizes)
        ), ratios
    if "kink" in kinds(document):
        assert "not smooth" in taylor and "Taylor's expansion does not apply" in taylor
        assert "stays about the same" not in taylor


def test_on_a_kink_gap_over_lr_squared_doubles_and_the_text_says_f_is_not_smooth():
    document = ask("relu(x)", {"x": 0}, 0.1)
    assert [round(r, 9) for r in gap_ratios(document["analysis"])] == [2.5, 5, 10, 20]
    taylor = section(document, "Why the first step goes the way it does")
    assert "stays about the same" not in taylor and "the gain always wins" not in taylor
    assert "not smooth" in taylor


# --- 3. the verdict on the learner's η ------------------------------------------------------------


@pytest.mark.parametrize(("expression", "point", "rate"), CASES)
def test_the_verdict_on_the_learners_rate_follows_the_actual_change(expression, point, rate):
    document = ask(expression, point, rate)
    analysis = document["analysis"]
    if "stationary" in kinds(document):
        return
    yours = paragraph_starting(section(document, "Which learning rates still lower the loss"), "Your η")
    change = analysis["actual_change"]
    assert ("lowers the loss" in yours) == (change < 0), yours
    assert ("raises the loss" in yours) == (change > 0), yours
    assert ("does not change the loss" in yours) == (change == 0), yours
    assert "does not lower" not in yours or change >= 0
    bound = analysis["max_decreasing_learning_rate"]
    if bound is not None and analysis["learning_rate"] >= bound and change < 0:
        assert "not a guarantee" in yours


def test_sin_past_its_first_crossing_still_lowers_the_loss_and_says_so():
    document = ask("sin(x)", {"x": 1}, 13)
    analysis = document["analysis"]
    assert analysis["learning_rate"] > analysis["max_decreasing_learning_rate"]
    assert analysis["actual_change"] < 0
    yours = paragraph_starting(section(document, "Which learning rates still lower the loss"), "Your η")
    assert "above it" in yours and "still lowers the loss" in yours and "not a guarantee" in yours


# --- 4. diverged trials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "point", "rate", "steps"),
    [
        ("x**2 + y**2", {"x": 3, "y": 1}, 5, 1000),  # both diverge at the same step
        ("x*y", {"x": 3, "y": 1}, 3, 200),  # only the sequential one diverges
        ("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01, 2),  # neither: a winner by final loss
        ("x**2 + y**2", {"x": 1, "y": 1}, 0.1, 1),  # neither: a tie
    ],
)
def test_the_scheme_verdict_never_compares_a_diverged_trial(expression, point, rate, steps):
    document = ask(expression, point, rate, steps)
    trials = {t["method"]: t for t in document["trials"]}
    verdict = section(document, "Which scheme did better")
    diverged = [t for t in trials.values() if t["diverged_at"] is not None]
    for trial in diverged:
        assert re.search(rf"{trial['method']}[^.]*diverged at step {trial['diverged_at']}\b", verdict), (
            verdict
        )
    a, b = trials["simultaneous"]["final_loss"], trials["sequential"]["final_loss"]
    says_lower = re.search(r"\*\*(\w+) is lower by", verdict)
    says_same = "reach the same loss" in verdict
    if diverged:
        assert not says_lower and not says_same
    elif a == b:
        assert says_same and not says_lower
    else:
        assert says_lower and says_lower.group(1) == ("sequential" if b < a else "simultaneous")


# --- 5. the LaTeX of the partials -----------------------------------------------------------------


def test_the_partials_name_their_symbol_in_valid_latex():
    document = ask("w_in_1*lambda_ + x", {"w_in_1": 1, "lambda_": 2, "x": 1}, 0.1)
    partials = [b.latex for b in build_blocks(document) if isinstance(b, Math) and "\\partial f" in b.latex]
    assert len(partials) == 3
    for name, latex in zip(document["parameters"], partials, strict=True):
        # Names exactly as typed (SymPy's printer would write w_{in 1} and \\lambda_{}).
        assert latex.startswith(f"\\frac{{\\partial f}}{{\\partial {latex_name(name)}}} = ")
        escaped = name.replace("_", "\\_")
        assert latex_name(name) == (name if len(name) == 1 else f"\\mathit{{{escaped}}}")
    markdown = document["explanation"]["markdown"]
    assert "\\partial w_in_1" not in markdown and "\\partial lambda_}" not in markdown


# --- 6. the sequential story when no slope flipped ------------------------------------------------


def slopes_interact(document: dict) -> bool:
    """Whether some partial depends on another parameter, read with SymPy from the document's formulas."""
    names = document["parameters"]
    symbols = {name: sp.Symbol(name) for name in names}
    depends = any(
        (sp.sympify(document["partials"][name], locals=symbols).free_symbols - {symbols[name]})
        & set(symbols.values())
        for name in names
    )
    hessian = document["hessian"]
    if any(hessian[i][j] != 0 for i in range(len(names)) for j in range(len(names)) if i != j):
        assert depends  # a non-zero off-diagonal entry is a slope moving with another parameter
    return depends


@pytest.mark.parametrize(
    ("expression", "point", "rate"),
    [
        ("x**2 + y**2", {"x": 3, "y": 1}, 0.1),  # separable: no slope depends on another parameter
        ("sin(x)", {"x": 1}, 0.1),  # one parameter
        ("x*y", {"x": 1, "y": 1}, 0.01),  # ∂f/∂y = x: it could flip, but x moved too little
        ("x*y", {"x": 0.01, "y": 1}, 0.1),  # it does flip
        # ∂f/∂x = 2xy² depends on y although the Hessian's off-diagonal 4xy is 0 at x = 0
        ("x**2*y**2 + y", {"x": 0, "y": 1}, 0.1),
    ],
)
def test_not_far_enough_is_said_only_where_a_slope_depends_on_another_parameter(expression, point, rate):
    document = ask(expression, point, rate)
    story = section(document, "Sequential update (one parameter at a time)")
    flipped = any(u["sign_flip"] for u in document["trials"][1]["steps"][0]["updates"])
    if flipped:
        # Step 1's table, with the flip marked, is the answer's key table at the top.
        assert "changed sign" in story and "(This table is at the top of the answer.)" in story
        assert "| `y` | 0.01 | -0.09 **(sign flipped)** |" in document["explanation"]["markdown"]
        return
    assert ("did not move far enough" in story) == slopes_interact(document), story
    assert ("no parameter's slope depends on another's" in story) == (not slopes_interact(document)), story


def test_a_sum_that_cancels_within_rounding_is_shown_as_zero_and_others_as_computed():
    document = ask(
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2", {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2}, 0.5
    )
    nodes = {n["id"]: n for n in document["graph"]["nodes"]}
    table = section(document, "Forward pass")
    for node in nodes.values():
        inputs = [abs(nodes[i]["value"]) for i in node["inputs"]]
        cancels = node["op"] in ("add", "sub") and abs(node["value"]) <= 1e-12 * max(inputs, default=0)
        row = re.search(rf"^\| {node['id']} \| .*$", table, re.M).group(0)
        value_cell = row.split("|")[4].strip()
        assert value_cell == ("0" if cancels else fmt(node["value"])), row
    # 0.5·1 − 0.3·2 + 0.1 is 2.8e-17 in floats: the case this is about is really here.
    assert any(n["op"] == "add" and 0 < abs(n["value"]) < 1e-15 for n in nodes.values())
