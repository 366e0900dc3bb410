"""Property tests: three independent computations of the gradient agree, and closed forms hold.

The oracles are independent of the engine's symbolic path: the backprop walk works on floats from the
learner's own tree, and centered finite differences only evaluate f.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.strategies import NAMES, expressions, points

from tutor.engine import Question, answer, parse_expression
from tutor.engine.compiled import compile_parsed
from tutor.engine.graph import build_graph
from tutor.engine.numbers import fmt


def central_difference(f, values: np.ndarray, i: int) -> float:
    h = 1e-5 * max(1.0, abs(values[i]))
    up, down = values.copy(), values.copy()
    up[i] += h
    down[i] -= h
    return (f(up) - f(down)) / (2 * h)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), point=points)
def test_graph_gradients_equal_symbolic_partials_equal_finite_differences(expression, point):
    parsed = parse_expression(expression)
    used = {name: point[name] for name in parsed.symbols}
    compiled = compile_parsed(parsed)
    values = np.array([used[n] for n in compiled.names])
    loss, symbolic = compiled.loss_and_gradient(values)
    assume(math.isfinite(loss) and np.all(np.isfinite(symbolic)) and abs(loss) < 1e6)

    graph = build_graph(parsed.tree, used)
    assert graph.nodes[graph.output].value == pytest.approx(loss, rel=1e-9, abs=1e-12)
    walked = graph.leaf_gradients()
    for i, name in enumerate(compiled.names):
        assert walked[name] == pytest.approx(symbolic[i], rel=1e-8, abs=1e-10)
        numeric = central_difference(compiled.loss, values, i)
        assert symbolic[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def quadratic(a: np.ndarray, b: np.ndarray) -> str:
    """½ xᵀAx + bᵀx written out as text, in the names x, y, z."""
    n = len(b)
    terms = [f"{float(0.5 * a[i, i])!r}*{NAMES[i]}**2" for i in range(n)]
    terms += [f"{float(a[i, j])!r}*{NAMES[i]}*{NAMES[j]}" for i in range(n) for j in range(i + 1, n)]
    terms += [f"{float(b[i])!r}*{NAMES[i]}" for i in range(n)]
    return " + ".join(terms)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3),
    lr=st.floats(1e-4, 0.5),
)
def test_quadratic_bound_is_the_closed_form(seed, n, lr):
    rng = np.random.default_rng(seed)
    m = rng.uniform(-1, 1, (n, n))
    a = np.round(m @ m.T + 0.5 * np.eye(n), 3)  # symmetric positive definite
    b = np.round(rng.uniform(-2, 2, n), 3)
    x0 = np.round(rng.uniform(-2, 2, n), 3)
    point = {NAMES[i]: float(x0[i]) for i in range(n)}
    g = a @ x0 + b
    assume(np.linalg.norm(g) > 1e-3)
    document = answer(Question(quadratic(a, b), point, lr))
    analysis = document["analysis"]

    bound = 2 * (g @ g) / (g @ a @ g)
    assert analysis["quadratic_estimate"] == pytest.approx(bound, rel=1e-9)
    assert analysis["max_decreasing_learning_rate"] == pytest.approx(bound, rel=1e-6)
    assert analysis["best_learning_rate"] == pytest.approx(bound / 2, rel=1e-4)
    # On a quadratic the second-order model is exact: nothing is left over.
    expected = -lr * (g @ g) + 0.5 * lr**2 * (g @ a @ g)
    assert analysis["actual_change"] == pytest.approx(expected, rel=1e-7, abs=1e-10)
    assert analysis["remainder"] == pytest.approx(0, abs=1e-9 * max(1, abs(expected)))
    for row in analysis["shrinking"]:
        # gap = actual - predicted cancels: its rounding error is about eps*|f| / eta^2 after dividing.
        rounding = 64 * np.finfo(float).eps * (1 + abs(document["loss"])) / row["learning_rate"] ** 2
        assert row["gap_over_lr_squared"] == pytest.approx(0.5 * (g @ a @ g), rel=1e-5, abs=rounding)


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["sin({v})", "({v})**2", "tanh({v})", "3*{v}", "exp({v}/4)"]), min_size=2, max_size=3
    ),
    point=points,
    lr=st.floats(1e-3, 0.3),
    steps=st.integers(1, 5),
)
def test_sequential_equals_simultaneous_for_separable_functions(parts, point, lr, steps):
    names = NAMES[: len(parts)]
    expression = " + ".join(part.format(v=name) for part, name in zip(parts, names, strict=False))
    document = answer(Question(expression, {n: point[n] for n in names}, lr, steps=steps))
    simultaneous, sequential = document["trials"]
    for a, b in zip(simultaneous["steps"], sequential["steps"], strict=True):
        for name in names:
            assert a["point"][name] == pytest.approx(b["point"][name], rel=1e-12, abs=1e-12)
        assert not any(update["sign_flip"] for update in b["updates"])


@settings(max_examples=30, deadline=None)
@given(expression=expressions(), point=points, lr=st.floats(1e-3, 1.0))
def test_explanation_quotes_the_documents_numbers(expression, point, lr):
    parsed = parse_expression(expression)
    document = answer(Question(expression, {n: point[n] for n in parsed.symbols}, lr))
    assume(document["analysis"] is not None)
    markdown, text = document["explanation"]["markdown"], document["explanation"]["text"]
    quoted = [document["loss"], document["analysis"]["first_order_change"]]
    quoted += list(document["gradient"].values())
    if document["analysis"]["max_decreasing_learning_rate"] is not None:
        quoted.append(document["analysis"]["max_decreasing_learning_rate"])
    for trial in document["trials"]:
        quoted.append(trial["final_loss"])
    for value in quoted:
        assert fmt(value) in markdown
        assert fmt(value) in text
