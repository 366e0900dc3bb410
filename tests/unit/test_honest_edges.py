"""The first-step analysis at the edges (issue 11, items 1-10), each checked against an independent
oracle: a closed form, or SymPy's own expression evaluated by mpmath at 50 digits (not the engine's tree
evaluator, not its compiled float64 code). Then a property over random smooth expressions: every number
the answer quotes is the document's, and the reported bound holds on f."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from support.strategies import expressions, points
from support.sympy_oracle import to_sympy

from tutor.engine import Question, answer, parse_expression
from tutor.engine.explain import Math, Paragraph, Table, build_blocks
from tutor.engine.explain.blocks import map_marked
from tutor.engine.numbers import fmt


def oracle(document: dict):
    """φ(η) = f(p − ηg) − f(p) from the tree rebuilt in SymPy in mpmath at 50 digits; None where not real."""
    parsed = parse_expression(document["input"]["expression"])
    names = parsed.symbols
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    f = sp.lambdify([symbols[n] for n in names], to_sympy(parsed.tree, symbols), modules="mpmath")
    point, gradient = document["input"]["point"], document["gradient"]

    def value(values):
        try:
            result = f(*values)
        except (ZeroDivisionError, ValueError):
            return None
        if isinstance(result, mpmath.mpc):
            return None if result.imag != 0 else result.real
        return result

    def phi(eta: float):
        with mpmath.workdps(50):
            start = [mpmath.mpf(point[n]) for n in names]
            moved = [mpmath.mpf(point[n]) - mpmath.mpf(eta) * mpmath.mpf(gradient.get(n, 0.0)) for n in names]
            a, b = value(moved), value(start)
            return None if a is None or b is None else a - b

    return phi


def kinds(document: dict) -> set[str]:
    return {case["kind"] for case in document["special_cases"]}


# --- 1. zero gradient: classified, with a direction that lowers f ------------------------------------


def test_a_saddle_is_said_to_be_one_with_the_direction_that_lowers_f():
    document = answer(Question("x**2 - y**2", {"x": 0.0, "y": 0.0}, 0.1))
    stationary = document["analysis"]["stationary"]
    assert stationary["kind"] == "saddle" and sorted(stationary["eigenvalues"]) == [-2, 2]
    descent = stationary["descent"]
    t = descent["step"]
    assert abs(descent["direction"]["x"]) < 1e-12 and abs(descent["direction"]["y"]) == pytest.approx(1)
    assert descent["change"] == pytest.approx(-(t**2), rel=1e-12)  # closed form: f(0, ±t) = −t²
    assert descent["curvature"] == -2
    summary = document["explanation"]["summary"]["text"]
    assert "saddle" in summary and f"lowers f by {fmt(t**2)}" in summary
    markdown = document["explanation"]["markdown"]
    assert "No step lowers the loss from here" not in markdown
    assert "the gain always wins" not in markdown and "gap / η²" not in markdown


@pytest.mark.parametrize(
    ("expression", "point", "kind", "change"),
    [
        ("x**3", {"x": 0.0}, "inconclusive", lambda t: -(t**3)),  # f(−t) = −t³
        ("-abs(x) + y**2", {"x": 0.0, "y": 0.0}, "kink", lambda t: -t),  # f(±t, 0) = −t
        ("-x**2 - y**2", {"x": 0.0, "y": 0.0}, "maximum", lambda t: -(t**2)),
        ("x**2 + y**2", {"x": 0.0, "y": 0.0}, "minimum", None),
        ("x**2 + y**4", {"x": 0.0, "y": 0.0}, "inconclusive", None),  # a minimum the Hessian cannot see
    ],
)
def test_stationary_points_are_classified_and_a_lowering_move_is_shown_on_f(expression, point, kind, change):
    document = answer(Question(expression, point, 0.1))
    stationary = document["analysis"]["stationary"]
    assert stationary["kind"] == kind
    summary = document["explanation"]["summary"]["text"]
    assert "No step of gradient descent moves" in summary
    if change is None:
        assert stationary["descent"] is None
        assert "lowers f by" not in summary and "changes it by" not in summary
    else:
        descent = stationary["descent"]
        assert descent["change"] == pytest.approx(change(descent["step"]), rel=1e-12)
        assert fmt(descent["change"]) in summary or fmt(-descent["change"]) in summary
    if kind == "kink":
        assert "not differentiable" in summary and "average of the slopes" in summary


# --- 2, 3. the best η: none where f keeps falling, at the domain's edge where f is lowest there -------


def test_no_best_rate_where_f_only_approaches_its_infimum():
    question = Question(
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2},
        0.5,
        fixed=("x0", "x1"),
    )
    document = answer(question)
    analysis = document["analysis"]
    assert analysis["best_learning_rate"] is None and analysis["best_change"] is None
    assert "keeps falling" in analysis["best_reason"]
    phi = oracle(document)
    # At 50 digits f is strictly lower at every larger η: there is no best one.
    values = [phi(eta) for eta in (1, 10, 20, 34.47, 60)]  # beyond, 50 digits round σ to 1 as well
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    assert "lowers f the most" not in document["explanation"]["markdown"]


def test_no_best_rate_where_f_falls_without_bound_toward_the_domain_edge():
    document = answer(Question("log(x*y)", {"x": 0.001, "y": 2.0}, 0.1))
    analysis = document["analysis"]
    assert analysis["best_learning_rate"] is None
    assert "without bound" in analysis["best_reason"]
    phi = oracle(document)
    edge = 0.001 / document["gradient"]["x"]  # x − η/x reaches 0
    drops = [phi(edge * (1 - 10.0**-k)) for k in range(2, 12)]
    assert all(b < a - 1 for a, b in zip(drops, drops[1:], strict=False))  # about −2.3 per decade: log


@pytest.mark.parametrize(
    ("expression", "point", "edge", "lowest"),
    [
        # x − η/(2√x) = 0 at η = 2x^{3/2}; there f = (1 − 2η)²: the change is −√x − 4η + 4η²
        ("sqrt(x) + (y-1)**2", {"x": 1e-6, "y": 0.0}, lambda: 2e-9, lambda e: -(1e-3) - 4 * e + 4 * e * e),
        # 2 − 12η = 0 at η = 1/6, where 0 to a positive power is 0: the change is −8
        ("x**y", {"x": 2.0, "y": 3.0}, lambda: 1 / 6, lambda e: -8.0),
    ],
)
def test_the_best_rate_at_the_domain_edge_is_found(expression, point, edge, lowest):
    analysis = answer(Question(expression, point, 0.1))["analysis"]
    assert analysis["best_learning_rate"] == pytest.approx(edge(), rel=1e-9)
    assert analysis["best_change"] == pytest.approx(lowest(edge()), rel=1e-6)
    assert "edge of f's domain" in analysis["best_reason"]


# --- 4. gᵀHg within rounding of 0 ---------------------------------------------------------------------


def test_a_curvature_that_cancels_exactly_counts_as_zero():
    document = answer(Question("sqrt(x**2+y**2)", {"x": 3.0, "y": 4.0}, 0.1))
    analysis = document["analysis"]
    # Closed form: H = (I − uuᵀ)/r with u = g, so gᵀHg = 0 exactly; own and interplay cancel.
    assert analysis["second_order_change"] == 0
    assert analysis["second_order_own"] == pytest.approx(-analysis["second_order_interplay"], rel=1e-12)
    assert analysis["quadratic_estimate"] is None
    markdown = document["explanation"]["markdown"]
    assert "off by" not in markdown and "e17" not in markdown and "e18" not in markdown
    assert "terms beyond second order still matter" not in markdown
    # f is linear along −g until the origin (η = 5): the actual change is exactly −η·‖g‖² = −0.1.
    assert analysis["actual_change"] == pytest.approx(-0.1, rel=1e-12)


# --- 6. halvings that leave the domain -----------------------------------------------------------------


def test_halvings_that_leave_the_domain_say_so():
    document = answer(Question("log(x) + y", {"x": 1.0, "y": 0.0}, 10.0))
    rows = document["analysis"]["shrinking"]
    # x − η > 0 exactly when η < 1: the first four halvings of 10 leave the domain.
    assert [row["inside_domain"] for row in rows] == [row["learning_rate"] < 1 for row in rows]
    assert sum(row["inside_domain"] for row in rows) == 4 and rows[0]["learning_rate"] == 10
    taylor = document["explanation"]["markdown"].split("### Why the first step", 1)[1]
    assert "At η = 10, 5, 2.5, 1.25 the step leaves f's domain" in taylor
    assert "undefined to undefined" not in taylor


# --- 7. a kink: Taylor's table not applicable ----------------------------------------------------------


def test_at_a_kink_the_taylor_split_is_not_applicable_and_no_quadratic_estimate_is_given():
    document = answer(Question("relu(x) + 0.1*y**2", {"x": 0.0, "y": 1.0}, 0.1))
    analysis = document["analysis"]
    assert analysis["taylor_applies"] is False
    assert analysis["quadratic_estimate"] is None and analysis["second_order_change"] is None
    # Closed form: x goes to −0.05 (relu 0), y to 0.98: the change is 0.1·(0.98² − 1).
    assert analysis["actual_change"] == pytest.approx(0.1 * (0.98**2 - 1), rel=1e-12)
    markdown = document["explanation"]["markdown"]
    assert "not applicable" in markdown and "quadratic model's estimate" not in markdown
    assert "terms beyond second order" not in markdown


# --- 8. an optimizer's update is the move made ---------------------------------------------------------


def test_a_step_below_the_parameters_spacing_is_recorded_as_no_move():
    # f = 1e-17·x + y²: momentum's moves of x (1e-17 … 3e-17 at η = 1) are below half the spacing of
    # doubles at 1 (1.1e-16), so x never moves; y does.
    document = answer(Question("1e-17*x + y**2", {"x": 1.0, "y": 1.0}, 0.1, steps=3, methods=("momentum",)))
    trial = document["trials"][0]
    before = document["input"]["point"]
    for step in trial["steps"]:
        after = step["point"]
        for name in ("x", "y"):
            assert step["update"][name] == after[name] - before[name]
        assert step["update"]["x"] == 0 and step["lost_to_rounding"] == ["x"]
        before = after
    assert "lost to rounding" in document["explanation"]["markdown"]


def test_a_step_that_does_not_move_has_no_angle():
    document = answer(Question("1e-17*x", {"x": 1.0}, 0.1, steps=2, methods=("simultaneous", "momentum")))
    for trial in document["trials"]:
        for step in trial["steps"]:
            assert step["update"] == {"x": 0.0} and step["angle_to_negative_gradient"] is None


def test_uphill_is_said_only_beyond_90_degrees_by_more_than_rounding():
    from tutor.engine.explain.optimizers import _why_up, angle_rounding

    step = {
        "point": {"x": 1.0, "y": 1.0},
        "update": {"x": 1e-14, "y": 1e-14},
        "angle_to_negative_gradient": 90.04,
    }
    assert angle_rounding(step) > 0.04  # a 1e-14 step at p = 1 has no direction to within 0.6°
    assert not _why_up(step).startswith("uphill")
    step = {
        "point": {"x": 1.0, "y": 1.0},
        "update": {"x": 0.1, "y": 0.1},
        "angle_to_negative_gradient": 90.04,
    }
    assert _why_up(step).startswith("uphill")


# --- 9. one rule for undefined parts ------------------------------------------------------------------


def test_an_undefined_part_makes_f_undefined_even_where_the_simplified_formula_is_not():
    document = answer(Question("x/x*y", {"x": 0.0, "y": 2.0}, 0.1))
    assert document["loss"] is None and document["analysis"] is None and document["trials"] == []
    case = next(c for c in document["special_cases"] if c["kind"] == "undefined")
    assert case["node"]["label"] == "x / x" and case["node"]["inputs"] == [0.0, 0.0]  # 0/0
    assert "`x / x`" in case["message"]
    assert "x / x has no finite real value" in document["explanation"]["summary"]["text"]


# --- 10. truncated tables say so, and every increase named is in its table or pointed to ----------------


def test_every_increase_a_sentence_names_is_in_its_table_or_the_table_says_where_the_rest_is():
    document = answer(
        Question("x**2 + 10*y**2", {"x": 3.0, "y": 1.0}, 0.05, steps=60, methods=("momentum", "nesterov"))
    )
    markdown = document["explanation"]["markdown"]
    for trial in document["trials"]:
        up = [s["step"] for s in trial["steps"] if s["loss_went_up"]]
        assert len(up) > 10
        part = markdown.split(f"`{trial['method']}` (", 1)[1].split("Why step", 1)[0]
        listed = [int(n) for n in re.findall(r"\d+", re.search(r"went up at steps ([\d, ]+)", part).group(1))]
        rows = [int(n) for n in re.findall(r"^\| (\d+) \|", part, re.M)]
        assert set(listed) <= set(rows)
        assert f"(The first {len(rows)} of {len(up)} steps where the loss went up" in part


# --- the property: numbers are the document's, and the bound holds on f ------------------------------

# Tokens that are numbers on their own (not part of a name like float64 or a formula like 2gᵀg).
_NUMBER = re.compile(r"(?<![\w.^/])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.]|\^)")


def document_numbers(document: dict) -> set[str]:
    """Every number of the document as the answer may write it."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            for v in (value, -value, abs(value)):
                found.update({fmt(v), fmt(v, 3), fmt(v, 2)})
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk({k: v for k, v in document.items() if k != "explanation"})
    analysis = document["analysis"]
    finals = [t["final_loss"] for t in document["trials"] if t["final_loss"] is not None]
    found.update(fmt(abs(a - b)) for a in finals for b in finals)  # "lower by"
    bound, estimate, lr = (
        analysis["max_decreasing_learning_rate"],
        analysis["quadratic_estimate"],
        analysis["learning_rate"],
    )
    if bound:
        found.update({fmt(lr / bound * 100, 3), fmt(lr / bound)})  # the learner's η against the bound
        if estimate:
            found.add(fmt(abs(estimate / bound - 1) * 100, 3))  # the model off by
    if estimate:
        found.add(fmt(estimate / 2))
    resolution = analysis["resolution"]
    if resolution["float64_actual_change"]:
        found.add(fmt(abs(resolution["float64_actual_change"]) / resolution["loss_spacing"], 3))
    return found


def quoted_numbers(document: dict) -> list[str]:
    """The numbers the answer writes in its own words and tables (code spans hold the learner's text
    and formulas, not the answer's numbers; displayed formulas likewise)."""
    texts = []
    for block in build_blocks(document):
        if isinstance(block, Paragraph):
            texts.append(block.text)
        elif isinstance(block, Table):
            texts += [cell for row in block.rows for cell in row]
        elif not isinstance(block, Math):
            continue
    prose = [map_marked(text, lambda p: p, lambda _: " ") for text in texts]
    return [token for text in prose for token in _NUMBER.findall(text)]


def is_count(token: str) -> bool:
    return re.fullmatch(r"\d+", token) is not None and int(token) <= 1000


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=expressions(),
    point=points,
    lr=st.floats(1e-3, 1.0),
)
def test_every_quoted_number_is_the_documents_and_the_bound_holds_on_f(expression, point, lr):
    parsed = parse_expression(expression)
    note(f"f = {expression} at {point}, η = {lr}")
    document = answer(Question(expression, {n: point[n] for n in parsed.symbols}, lr))
    assume(document["analysis"] is not None and document["gradient_norm"] > 1e-6)
    allowed = document_numbers(document)
    for token in quoted_numbers(document):
        assert token in allowed or is_count(token), token
    assert document["explanation"]["text"].startswith(document["explanation"]["summary"]["text"])

    analysis = document["analysis"]
    phi = oracle(document)
    bound = analysis["max_decreasing_learning_rate"]
    # The documented resolution: a change within the rounding of f is no evidence either way.
    noise = 4 * float(np.spacing(abs(document["loss"]))) + analysis["resolution"]["change_noise"]
    if bound is not None and "domain" not in analysis["max_decreasing_reason"]:
        for fraction in (0.01, 0.25, 0.5, 0.99):
            change = phi(fraction * bound)
            assert change is not None and change < noise, (fraction, change)
        # Just above, the loss no longer goes down; or f(x) is reached at the bound itself and φ only
        # touches 0 there (y − 2/(1+y²) at y = 0: φ = −η + 2η²/(1+η²) touches 0 at η = 1).
        above, at = phi(bound * (1 + 1e-6)), phi(bound)
        assert above is None or above > -noise or at > -noise, (above, at)
    elif bound is None and analysis["max_decreasing_reason"].startswith("the loss went down for every η"):
        for eta in (1e-3, 1.0, 1e3):
            change = phi(eta)
            assert change is not None and change < noise
    best = analysis["best_learning_rate"]
    if best is not None:
        assert phi(best) is not None and float(phi(best)) == pytest.approx(
            analysis["best_change"], rel=1e-6, abs=noise
        )
    if analysis["actual_change"] is not None:
        assert float(phi(lr)) == pytest.approx(analysis["actual_change"], rel=1e-6, abs=noise), (
            expression,
            point,
            lr,
        )
    assert math.isfinite(analysis["first_order_change"])
