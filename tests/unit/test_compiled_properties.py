"""The code generated from the tree (compiled.py) against independent computations.

Oracles: SymPy's own differentiation of a SymPy expression built here from the parser's tree and
compiled with ``lambdify`` (the path the engine used before it generated code), centered finite
differences of f and of the gradient, and the backprop walk (graph.py) node by node.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.strategies import NAMES, expressions, points
from support.sympy_oracle import to_sympy

from tutor.config import Limits
from tutor.engine import Question, answer, parse_expression
from tutor.engine.compiled import compile_parsed
from tutor.engine.graph import build_graph
from tutor.engine.parse import Node
from tutor.engine.problem import Problem
from tutor.engine.question import check_question


def sympy_functions(expression: str):
    """f, its gradient and its Hessian by SymPy, compiled with lambdify, over the parser's symbols."""
    parsed = parse_expression(expression)
    symbols = {name: sp.Symbol(name, real=True) for name in parsed.symbols}
    ordered = [symbols[name] for name in parsed.symbols]
    f = to_sympy(parsed.tree, symbols)
    gradient = [sp.diff(f, s) for s in ordered]
    hessian = [[sp.diff(g, s) for s in ordered] for g in gradient]
    return (
        parsed,
        sp.lambdify(ordered, f, "numpy"),
        sp.lambdify(ordered, gradient, "numpy"),
        sp.lambdify(ordered, hessian, "numpy"),
    )


def _values(parsed, point) -> np.ndarray:
    return np.array([point[name] for name in parsed.symbols], dtype=float)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), point=points)
def test_value_gradient_and_hessian_equal_sympy_lambdify(expression, point):
    parsed, f, gradient, hessian = sympy_functions(expression)
    values = _values(parsed, point)
    with np.errstate(all="ignore"):
        expected_f = float(f(*values))
        expected_g = np.array(gradient(*values), dtype=float)
        expected_h = np.array(hessian(*values), dtype=float)
    assume(math.isfinite(expected_f) and abs(expected_f) < 1e8)
    assume(np.all(np.isfinite(expected_g)) and np.all(np.isfinite(expected_h)))
    assume(np.max(np.abs(expected_h), initial=0) < 1e8)

    compiled = compile_parsed(parsed)
    loss, g = compiled.loss_and_gradient(values)
    assert loss == pytest.approx(expected_f, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(g, expected_g, rtol=1e-8, atol=1e-10)

    problem = _problem(expression, point)
    np.testing.assert_allclose(problem.hessian(values), expected_h, rtol=1e-7, atol=1e-9)


def _problem(expression: str, point: dict[str, float]) -> Problem:
    parsed = parse_expression(expression)
    question = Question(expression, {n: point[n] for n in parsed.symbols}, 0.1)
    return Problem.from_checked(check_question(question, parsed, Limits()))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=expressions(),
    point=points,
    direction=st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=3),
)
def test_hessian_vector_products_equal_differences_of_the_gradient(expression, point, direction):
    problem = _problem(expression, point)
    n = len(problem.parameters)
    d = np.array(direction[:n])
    assume(np.linalg.norm(d) > 1e-3)
    values = problem.start
    loss, gradient = problem.loss_and_gradient(values)
    assume(math.isfinite(loss) and abs(loss) < 1e6 and np.all(np.isfinite(gradient)))

    h = 1e-5
    shift = np.zeros_like(values)
    shift[problem.parameter_index] = d * h
    up, down = problem.loss_and_gradient(values + shift)[1], problem.loss_and_gradient(values - shift)[1]
    numeric = (up - down)[problem.parameter_index] / (2 * h)
    product = problem.hessian_vector(values, d)
    scale = 1 + np.max(np.abs(numeric))
    np.testing.assert_allclose(product, numeric, rtol=1e-4, atol=1e-5 * scale)

    # dᵀHd is f's second derivative along d: the second difference of f itself.
    curvature = problem.curvature(values, d)
    assert curvature == pytest.approx(float(d @ product), rel=1e-9, abs=1e-12)
    k = 1e-4
    second = (problem.loss(values + shift * k / h) - 2 * loss + problem.loss(values - shift * k / h)) / k**2
    assert curvature == pytest.approx(second, rel=1e-3, abs=1e-3 * (1 + abs(loss)) + 1e-7 / k**2 * abs(loss))

    # The full Hessian is symmetric and its product with d is the Hessian-vector product.
    hessian = problem.hessian(values)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(hessian @ d, product, rtol=1e-9, atol=1e-12 * scale)


# Every function of the grammar, also where it is not defined: the walk and the code must agree on
# which values are NaN, which infinite, and on the finite ones.
ANY_UNARY = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan", "sigmoid")
ANY_UNARY += ("softplus", "relu", "abs")


def any_expressions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), st.sampled_from(["0.5", "2", "3", "1.5", "0"]))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(ANY_UNARY), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["max", "min"]), children, children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            children.map(lambda c: f"-({c})"),
        )

    return st.recursive(leaf, extend, max_leaves=7)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=any_expressions(),
    point=st.fixed_dictionaries(
        {n: st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 800.0]) for n in NAMES}
    ),
)
def test_the_code_and_the_walk_agree_everywhere_even_where_f_is_undefined(expression, point):
    try:
        parsed = parse_expression(expression)
    except Exception:  # noqa: BLE001 - constant or undefined-everywhere expressions are refused
        assume(False)
    used = {name: point[name] for name in parsed.symbols}
    compiled = compile_parsed(parsed)
    values = _values(parsed, used)
    loss, gradient = compiled.loss_and_gradient(values)
    graph = build_graph(parsed.tree, used)
    assert _same(loss, graph.nodes[graph.output].value)
    walked = graph.leaf_gradients()
    for i, name in enumerate(compiled.names):
        assert _same(gradient[i], walked[name]), name
    # The array form (data rows, grids of learning rates) gives the scalar form's numbers.
    array_loss, array_gradient = compiled.loss_and_gradient_at([np.array([v, v]) for v in values])
    assert _same(float(array_loss[1]), loss)
    for i in range(len(values)):
        assert _same(float(array_gradient[i, 0]), float(gradient[i]))


@pytest.mark.parametrize(
    ("expression", "point", "loss", "gradient"),
    [
        ("sqrt(x) + y", {"x": -1.0, "y": 1.0}, math.nan, {"x": math.nan, "y": 1.0}),
        # log's slope is 1/x, as SymPy writes it, also where log itself is not real.
        ("log(x) + y", {"x": -1.0, "y": 1.0}, math.nan, {"x": -1.0, "y": 1.0}),
        ("x**0.5 + y", {"x": -4.0, "y": 1.0}, math.nan, {"x": math.nan, "y": 1.0}),
        ("exp(x)*y", {"x": 1000.0, "y": 1.0}, math.inf, {"x": math.inf, "y": math.inf}),
        ("sinh(x)*y", {"x": -1000.0, "y": 1.0}, -math.inf, {"x": math.inf, "y": -math.inf}),
        ("log(x) + y", {"x": 0.0, "y": 1.0}, -math.inf, {"x": math.inf, "y": 1.0}),
        # Kinks: the average of the one-sided slopes.
        ("relu(x) + 3*y", {"x": 0.0, "y": 1.0}, 3.0, {"x": 0.5, "y": 3.0}),
        ("abs(x) + y", {"x": 0.0, "y": 1.0}, 1.0, {"x": 0.0, "y": 1.0}),
        ("max(x, y)", {"x": 2.0, "y": 2.0}, 2.0, {"x": 0.5, "y": 0.5}),
        ("min(x, y)", {"x": 2.0, "y": 2.0}, 2.0, {"x": 0.5, "y": 0.5}),
        # Not simplified away: x/x is undefined at x = 0 (SymPy would have written y).
        ("x/x*y", {"x": 0.0, "y": 2.0}, math.nan, {"x": math.nan, "y": math.nan}),
    ],
)
def test_values_outside_the_domain_and_at_kinks(expression, point, loss, gradient):
    parsed = parse_expression(expression)
    compiled = compile_parsed(parsed)
    values = _values(parsed, point)
    got, got_gradient = compiled.loss_and_gradient(values)
    assert _same(got, loss)
    for name, expected in gradient.items():
        assert _same(float(got_gradient[parsed.symbols.index(name)]), expected), name
    assert _same(compiled.loss(values), loss)


@pytest.mark.parametrize(
    ("expression", "point", "hessian"),
    [
        # Off the kink the curvature of relu, abs, max and min is 0 (SymPy's DiracDelta dropped)...
        ("relu(x)*y", {"x": 2.0, "y": 3.0}, [[0, 1], [1, 0]]),
        ("abs(x - y)**2", {"x": 1.0, "y": 3.0}, [[2, -2], [-2, 2]]),
        # ... and at the kink the Heaviside(0) = 1/2 convention carries into the second derivative:
        # d²/dx² relu(x)² = 2·H(x)² = 1/2 at 0.
        ("relu(x)**2 + y", {"x": 0.0, "y": 1.0}, [[0.5, 0], [0, 0]]),
        ("max(x, y)*x", {"x": 1.0, "y": 2.0}, [[0, 1], [1, 0]]),
    ],
)
def test_curvature_at_and_off_kinks(expression, point, hessian):
    problem = _problem(expression, point)
    np.testing.assert_array_equal(problem.hessian(problem.start), np.array(hessian, dtype=float))


def test_data_rows_row_by_row_and_as_arrays_agree():
    # 3 rows are evaluated one by one in plain floats, 40 rows as NumPy arrays: the same function.
    expression = "(w*x + b - y)**2 + 0.1*tanh(w*b)"
    for rows in (3, 40):
        x = [0.1 * k - 1 for k in range(rows)]
        y = [math.sin(v) for v in x]
        document = answer(Question(expression, {"w": 0.3, "b": -0.2}, 0.1, data={"x": x, "y": y}))
        w, b = 0.3, -0.2
        residual = np.array([w * xi + b - yi for xi, yi in zip(x, y, strict=True)])
        expected = float(np.mean(residual**2)) + 0.1 * math.tanh(w * b)
        assert document["loss"] == pytest.approx(expected, rel=1e-12)
        slope = 0.1 * (1 - math.tanh(w * b) ** 2)
        assert document["gradient"]["w"] == pytest.approx(
            float(np.mean(2 * residual * x)) + slope * b, rel=1e-10
        )
        assert document["gradient"]["b"] == pytest.approx(float(np.mean(2 * residual)) + slope * w, rel=1e-10)
        # ∂²/∂w² of the mean: 2·mean(x²), plus 0.1·b²·(tanh)'' where tanh'' = -2·tanh·(1 - tanh²).
        t = math.tanh(w * b)
        expected = 2 * float(np.mean(np.square(x))) + 0.1 * b**2 * (-2 * t * (1 - t * t))
        assert document["hessian"][0][0] == pytest.approx(expected, rel=1e-10)


def test_the_canonical_text_reads_back_as_the_same_tree():
    for text in [
        "x - (y - z)",
        "x - y - z",
        "(x/y)/z",
        "x/(y/z)",
        "x**y**z",
        "(x**y)**z",
        "-x**2",
        "(-x)**2",
        "x*(-y)",
        "-(x*y)",
        "2*-x + +y",
        "sigmoid(x + 1e-07*y)",
        "max(x, -y) - min(-(x), y)",
    ]:
        parsed = parse_expression(text)
        again = parse_expression(parsed.canonical)
        assert again.canonical == parsed.canonical
        assert _shape(again.tree) == _shape(parsed.tree), text


def _shape(node: Node) -> tuple:
    return (node.op, node.name, node.value, tuple(_shape(child) for child in node.children))


def test_generated_code_holds_no_learner_text():
    parsed = parse_expression("print_me*secret_name + exp(another_name)")
    source = compile_parsed(parsed).source
    for name in parsed.symbols:
        assert name not in source


def test_a_formula_too_long_to_read_is_left_out_with_a_note_and_its_value_kept():
    # ∂/∂x of a product of 40 factors with x in each is a sum of 40 products of 40 factors.
    expression = "y*" + "*".join(f"tanh(x + {i})" for i in range(1, 41))
    document = answer(Question(expression, {"x": 0.5, "y": 2.0}, 0.01))
    assert document["partials"]["x"] is None and document["partials_latex"]["x"] is None
    assert document["partials"]["y"].count("tanh") == 40  # the product itself is short enough
    notes = [case for case in document["special_cases"] if case["kind"] == "formulas_omitted"]
    assert len(notes) == 1 and "∂f/∂x" in notes[0]["message"] and "∂f/∂y" not in notes[0]["message"]
    # The numbers do not depend on the formulas: ∂f/∂x = f·Σ (1 - tanh²)/tanh, in closed form.
    factors = [math.tanh(0.5 + i) for i in range(1, 41)]
    f = 2.0 * math.prod(factors)
    expected = f * sum((1 - t * t) / t for t in factors)
    assert document["gradient"]["x"] == pytest.approx(expected, rel=1e-12)
    assert "∂f/∂x = " in document["explanation"]["text"]


def _nodes(node: Node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def _python_nodes(node):
    import ast

    yield node
    children = {
        ast.BinOp: lambda n: [n.left, n.right],
        ast.UnaryOp: lambda n: [n.operand],
        ast.Call: lambda n: n.args,
    }
    for child in children.get(type(node), lambda n: [])(node):
        yield from _python_nodes(child)


@settings(max_examples=150, deadline=None)
@given(expression=any_expressions())
def test_each_nodes_text_is_what_ast_unparse_writes(expression):
    # The parser writes each node's text from its children's (linear in the expression's size); the
    # graph's labels and the refusals show it, so it must be exactly Python's own unparsing.
    import ast

    try:
        parsed = parse_expression(expression)
    except Exception:  # noqa: BLE001 - constant or undefined-everywhere expressions are refused
        assume(False)
    python = ast.parse(expression, mode="eval").body
    for node, python_node in zip(_nodes(parsed.tree), _python_nodes(python), strict=True):
        assert node.text == ast.unparse(python_node)
