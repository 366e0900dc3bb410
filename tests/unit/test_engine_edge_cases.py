"""Edge cases an audit found: expressions undefined everywhere, overflowing partials, a loss far larger
than its change, constants in the graph, refusals without a column, and text pasted with spaces or
typographic signs. Every expected value comes from plain arithmetic or a closed form."""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

from tutor.config import Limits
from tutor.engine import InputError, Question, answer, parse_expression

# ---------------------------------------------------------------------------------------------------
# Expressions SymPy reduces to infinity or nan for every value are refused before anything compiles.


@pytest.mark.parametrize(
    ("expression", "culprit"),
    [
        ("x/(y-y)", "y-y"),
        ("x/0", "0"),
        ("(x-x)**-1", "x-x"),
        ("x+log(y-y)", "y-y"),
        ("(y-y)/(y-y)*x", "y-y)*x"),  # 0/0: the divisor is the second y-y
        ("1/(x/(y-y))", "y-y))"),  # SymPy would fold this to 0; x/(y-y) is still undefined
        ("exp(x^2/(y*0))", "y*0"),
    ],
)
def test_expressions_undefined_everywhere_are_refused_at_the_zero(expression, culprit):
    with pytest.raises(InputError) as error:
        parse_expression(expression)
    assert error.value.field == "expression"
    assert error.value.column == expression.rindex(culprit) + 1
    assert "divides by zero" in error.value.message or "undefined" in error.value.message
    assert "\n" not in str(error.value)


def test_the_undefined_refusal_reaches_the_learner_through_answer():
    with pytest.raises(InputError, match="divides by zero"):
        answer(Question("x/(y-y)", {"x": 1, "y": 1}, 0.1))
    with pytest.raises(InputError, match="log"):
        answer(Question("x+log(y-y)", {"x": 1, "y": 1}, 0.1))


def test_a_divisor_that_is_zero_only_at_the_point_is_still_answered():
    document = answer(Question("x/(y-1)", {"x": 1, "y": 1}, 0.1))
    assert document["special_cases"][0]["kind"] == "undefined"


# ---------------------------------------------------------------------------------------------------
# Partials above about 1e154: their squares overflow to infinity instead of raising.


def test_a_partial_whose_square_overflows_still_gives_a_document():
    document = answer(Question("exp(x) + y**2", {"x": 700, "y": 1}, 0.1))
    analysis = document["analysis"]
    assert document["gradient"]["x"] == pytest.approx(math.exp(700), rel=1e-12)
    # -η·g_x² overflows: JSON has no infinity, so the document says null; y's share is plain arithmetic.
    assert analysis["first_order_shares"] == {"x": None, "y": pytest.approx(-0.1 * 2.0**2)}
    assert analysis["first_order_change"] is None
    # The step itself is finite: x falls to 700 - 0.1·e^700, where exp is 0; y to 0.8.
    expected = (0 + 0.8**2) - (math.exp(700) + 1)
    assert analysis["actual_change"] == pytest.approx(expected, rel=1e-12)
    assert analysis["verdict"] == "decreases"
    # No two parameters interact here (∂²f/∂x∂y = 0), overflow or not.
    assert analysis["second_order_interplay"] == 0
    json.dumps(document, allow_nan=False)
    assert (
        "undefined" in document["explanation"]["markdown"]
        or "infinity" in document["explanation"]["markdown"]
    )


# ---------------------------------------------------------------------------------------------------
# The bound search's rounding-noise floor: measured along the step, at least a few ulps of f.


def test_a_loss_far_larger_than_its_change_is_computed_precisely_and_said_so():
    # f = 1e9 + x² at x = 0.001: doubles near 1e9 are 2**-23 ≈ 1.19e-7 apart, and the whole possible
    # decrease (down to x = 0) is x² = 1e-6, about 8 of those steps. float64 cannot resolve that (it
    # put the bound at 0.97 and the best η at 0.4); exactly, φ(η) = x²((1 - 2η)² - 1), so the bound is
    # 1, the best η 1/2 and the change at η = 1/4 is -3x²/4.
    def along(rate: float) -> float:  # f(x - η f'(x)) - f(x), in the same float operations
        x = 0.001
        return (1e9 + (x - rate * 2 * x) ** 2) - (1e9 + x**2)

    x = mpmath.mpf(0.001)  # the double nearest 0.001, exactly
    with mpmath.workdps(50):
        exact = float(x**2 * ((1 - 2 * mpmath.mpf(0.25)) ** 2 - 1))

    document = answer(Question("1000000000 + x^2", {"x": 0.001}, 0.25))
    analysis = document["analysis"]
    assert analysis["resolution"]["high_precision"] is True
    assert analysis["actual_change"] == pytest.approx(exact, rel=1e-12)
    assert analysis["resolution"]["float64_actual_change"] == along(0.25)
    assert analysis["resolution"]["loss_spacing"] == 2.0**-23
    assert analysis["verdict"] == "decreases"
    assert analysis["max_decreasing_learning_rate"] == pytest.approx(1, rel=1e-9)
    assert analysis["best_learning_rate"] == pytest.approx(0.5, rel=1e-6)
    assert analysis["best_change"] == pytest.approx(-(0.001**2), rel=1e-9)
    assert analysis["quadratic_estimate"] == pytest.approx(1, rel=1e-12)
    markdown = document["explanation"]["markdown"]
    assert "50 significant digits" in markdown and "1.19209e-7 apart" in markdown
    assert "terms beyond second order still matter" not in markdown
    assert "at 50 digits; float64 rounds it to -7.15256e-7" in document["explanation"]["summary"]["text"]


def test_rounding_noise_many_ulps_of_a_small_loss_is_not_taken_for_a_turn():
    # f = 0.701x² + 2.905x + 3.971 is 0.96 at x = -2.049944, summed from terms near 6 whose rounding is
    # several ulps of f: a floor of a few ulps of f alone took that noise for the loss turning back up
    # at η ≈ 1e-12. Closed form for a quadratic: the bound is 2/f'' = 1/0.701, the best η half of it.
    analysis = answer(Question("0.701*x**2 + 2.905*x + 3.971", {"x": -2.049944}, 0.5))["analysis"]
    assert analysis["max_decreasing_learning_rate"] == pytest.approx(1 / 0.701, rel=1e-6)
    assert analysis["best_learning_rate"] == pytest.approx(0.5 / 0.701, rel=1e-4)


def test_a_change_of_a_few_units_in_the_last_place_is_computed_exactly():
    # f = 2**29 + x² at x = 2**-10: every number here is exact in binary. Doubles near 2**29 are
    # 2**-23 apart and x² = 8 of those steps, the most the loss can fall; the step η = 1/4 halves x,
    # so the loss falls by 6 of them, exactly. float64 rounds f(x(1 - 2η)) back to f(x) from
    # η = (1 + √(15/16))/2 on; exactly, the bound is where x(1 - 2η) = -x: η = 1.
    x, ulp = 2.0**-10, 2.0**-23
    assert np.spacing(2.0**29) == ulp and x**2 == 8 * ulp
    analysis = answer(Question("536870912 + x^2", {"x": x}, 0.25))["analysis"]
    assert analysis["actual_change"] == -6 * ulp == analysis["resolution"]["float64_actual_change"]
    assert analysis["resolution"]["high_precision"] is True
    assert analysis["max_decreasing_learning_rate"] == pytest.approx(1, rel=1e-9)
    assert analysis["best_learning_rate"] == pytest.approx(0.5, rel=1e-6)


# ---------------------------------------------------------------------------------------------------
# Constants in the graph: backprop sends them nothing, so a plain square has no undefined gradient.


def _graph(document: dict) -> dict[str, dict]:
    return {node["label"]: node for node in document["graph"]["nodes"]}


@pytest.mark.parametrize(("x", "y"), [(-3, 1), (3, 1), (1, 1)])
def test_a_constant_exponent_gets_no_gradient_whatever_the_sign_of_its_base(x, y):
    document = answer(Question("(x-y)^2", {"x": x, "y": y}, 0.1))
    nodes = _graph(document)
    assert nodes["2"]["op"] == "const" and nodes["2"]["grad"] == 0
    # Leaf gradients are the closed-form partials 2(x - y) and -2(x - y).
    assert nodes["x"]["grad"] == 2 * (x - y) == document["gradient"]["x"]
    assert nodes["y"]["grad"] == -2 * (x - y) == document["gradient"]["y"]
    assert nodes["x - y"]["grad"] == 2 * (x - y)


def test_constant_sub_expressions_get_no_gradient_and_the_variables_theirs():
    # f = x·(2 - 3) + 5·y³ at x = -2, y = -1: ∂f/∂x = -1, ∂f/∂y = 15y² = 15.
    document = answer(Question("x*(2-3) + 5*y**3", {"x": -2, "y": -1}, 0.1))
    nodes = _graph(document)
    for label in ("2", "3", "2 - 3", "5"):
        assert nodes[label]["grad"] == 0
    assert nodes["x"]["grad"] == -1 and nodes["y"]["grad"] == 15
    assert all(node["grad"] is not None for node in document["graph"]["nodes"])


# ---------------------------------------------------------------------------------------------------
# Every size refusal says where.


def test_too_many_parts_points_where_the_limit_is_passed():
    # Python's tree of x+x+...+x: the first x is 2 parts (the name and its load context), each further
    # "+x" 4 more (name, context, operator, sum), and the whole expression 1: the 201st part completes
    # with the 51st x (2 + 4·49 = 198 < 200 < 202), which ends at column 2·50 + 1.
    text = "+".join(["x"] * 150)
    with pytest.raises(InputError, match="parts") as error:
        parse_expression(text, Limits(max_nodes=200))
    assert error.value.column == 101


def test_too_many_variables_points_at_the_first_one_beyond_the_limit():
    # Within the default limit of 200 parts an expression has at most about 50 variables, below the
    # limit of 64, so the limit is lowered here.
    text = "a + b*c - d/(a + e)"
    with pytest.raises(InputError, match="5 variables") as error:
        parse_expression(text, Limits(max_symbols=3))
    assert error.value.column == text.index("d") + 1  # the 4th to appear


@pytest.mark.parametrize("text", ["((x**64)**64)**64", "((x^64)^64)^64", "  ((x^64) ^ 64) ^ 64"])
def test_a_combined_exponent_points_at_the_exponent_that_crosses_the_limit(text):
    # (x^64)^64 is x^4096, exactly the limit 64²; the third 64 takes it over.
    with pytest.raises(InputError, match="combined exponent") as error:
        parse_expression(text)
    assert error.value.column == text.rindex("64") + 1


# ---------------------------------------------------------------------------------------------------
# Pasted text: surrounding spaces, and the minus and times signs of typeset maths.


@pytest.mark.parametrize("text", [" x*y", "x*y ", "\t x*y \n", "x × y", "x·y", "  x ×y  "])
def test_pasted_spaces_and_times_signs_read_as_typed_in_ascii(text):
    assert parse_expression(text).canonical == "x*y"


def test_the_unicode_minus_is_a_minus():
    assert parse_expression("x − y").canonical == parse_expression("x - y").canonical
    assert parse_expression("−x^2").canonical == "-x**2"
    document = answer(Question("(x − y)^2", {"x": 3, "y": 1}, 0.1))
    assert document["gradient"] == {"x": 4, "y": -4}


def test_two_times_signs_are_not_a_power():
    with pytest.raises(InputError):
        parse_expression("x××2")


@pytest.mark.parametrize("char", ["÷", "√", "∗", "⋅", "²", "\u00a0"])
def test_other_typographic_signs_stay_refused(char):
    text = f"x {char} y"
    with pytest.raises(InputError, match="not allowed") as error:
        parse_expression(text)
    assert error.value.column == 3


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("  x + y.real", 7),  # columns count what the learner typed, leading spaces included
        ("x − y.real", 5),
        ("x × y.real", 5),
        ("x×y.real", 3),
        ("  x^2 + 3^99", 11),
        ("  x +", 6),  # ends too early: just past the last character typed
        ("  x +   ", 6),
        (" x y", 4),
        (" x ÷ y", 4),
    ],
)
def test_columns_count_the_text_as_typed(text, column):
    with pytest.raises(InputError) as error:
        parse_expression(text)
    assert error.value.column == column
