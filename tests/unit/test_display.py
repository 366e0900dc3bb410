"""Formulas as learners write them (tutor.engine.display, tutor.mathml).

The oracles are independent of the printers: the tutor's own parser reads the text forms back (the same
tree, the same values), the chain-rule partials are evaluated from their text and checked against the
engine's symbolic gradient (SymPy) and centered finite differences, and the MathML is parsed as XML.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from tutor import mathml
from tutor.config import Limits
from tutor.engine import Question, answer, display, parse_expression
from tutor.engine.compiled import compile_parsed
from tutor.engine.errors import InputError
from tutor.engine.functions import FUNCTIONS
from tutor.engine.graph import build_graph
from tutor.engine.parse import Node, Parsed

# Partials written out are longer than a learner's question may be.
ROOMY = Limits(max_expression_length=100_000, max_nodes=100_000, max_depth=10_000, max_symbols=1_000)
NAMES = ("x", "y_hat", "w_1", "xabs")
# Where f is steep (sigmoid(12345.678*x)) finite differences are not an oracle: only small numbers there.
SMALL_NUMBERS = ("0.5", "2", "3", "1.5", "0.1")
NUMBERS = (*SMALL_NUMBERS, "0.001", "1e-7", "12345.678")
# Smooth everywhere on the reals, so every random point is a fair test.
HAS_NAME = re.compile(r"\b(" + "|".join(NAMES) + r")\b")
SMOOTH = ("sin", "cos", "tanh", "sigmoid", "softplus", "atan")
KINKED = ("relu", "abs")


@st.composite
def expressions(
    draw, functions: tuple[str, ...], pairs: tuple[str, ...] = (), numbers: tuple[str, ...] = NUMBERS
) -> str:
    # Composite, so that hypothesis shows this call and not the whole recursive strategy.
    expression = draw(_expressions(functions, pairs, numbers))
    # At least one variable: a constant has nothing to differentiate (and is refused).
    assume(HAS_NAME.search(expression) is not None)
    return expression


@functools.cache
def _expressions(
    functions: tuple[str, ...], pairs: tuple[str, ...], numbers: tuple[str, ...]
) -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), st.sampled_from(numbers))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        options = [
            st.tuples(children, st.sampled_from(["+", "-", "*", "·", "−"]), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(children, children).map(lambda t: f"({t[0]}) / (1 + ({t[1]})**2)"),
            st.tuples(children, st.sampled_from(["2", "3", "1/3", "(2 - 0.5)"])).map(
                lambda t: f"(1 + ({t[0]})^2)^{t[1]}"
            ),
            st.tuples(children, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]})^{t[1]}"),
            children.map(lambda c: f"2^({c})"),
            st.tuples(st.sampled_from(functions), children).map(lambda t: f"{t[0]}({t[1]})"),
            children.map(lambda c: f"-({c})"),
            children.map(lambda c: f"+({c})"),
            children.map(lambda c: f"exp(tanh({c}))"),
            children.map(lambda c: f"log(1 + ({c})^2)"),
            children.map(lambda c: f"sqrt(2 + sin({c}))"),
            # The same sub-expression twice: backprop adds up what its two uses send back.
            children.map(lambda c: f"sigmoid({c})*(1 - sigmoid({c}))"),
        ]
        if pairs:
            options.append(
                st.tuples(st.sampled_from(pairs), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
            )
        return st.one_of(options)

    return st.recursive(leaf, extend, max_leaves=8)


points = st.fixed_dictionaries({n: st.floats(-2, 2, allow_nan=False) for n in NAMES})


def accepted(expression: str) -> Parsed:
    """The parsed expression; the random ones the tutor refuses (a constant part over the limit) are
    no test of printing. So is max/min of a constant SymPy cannot compare with 0, which the parser lets
    through as a bare ValueError (max(sigmoid(12345.678)*(1 - sigmoid(12345.678)), x); reported)."""
    try:
        return parse_expression(expression)
    except (InputError, ValueError):
        reject()


def shape(node: Node) -> tuple:
    """The tree without its texts and columns: what was typed, operation by operation."""
    return (node.op, node.name, node.value, tuple(shape(child) for child in node.children))


def check_latex(latex: str) -> None:
    """Structurally sound LaTeX: balanced braces, \\left/\\right in pairs, no raw underscore in a name."""
    depth = 0
    for char in latex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, latex
    assert depth == 0, latex
    assert latex.count(r"\left") == latex.count(r"\right"), latex
    for name in re.findall(r"\\mathit\{([^}]*)\}", latex):
        assert re.fullmatch(r"(?:[A-Za-z0-9]|\\_)+", name), latex


def check_mathml(content: str) -> ET.Element:
    root = ET.fromstring(f'<math display="block">{content}</math>')
    for element in root.iter():
        assert element.tag in {"math", "mrow", "mi", "mn", "mo", "mfrac", "msup", "msqrt", "mtext"}, (
            element.tag
        )
    return root


def central_difference(f, values: np.ndarray, i: int) -> float:
    h = 1e-5 * max(1.0, abs(values[i]))
    up, down = values.copy(), values.copy()
    up[i] += h
    down[i] -= h
    return (f(up) - f(down)) / (2 * h)


def _closing(text: str, opening: int) -> int:
    pairs = {"(": ")", "[": "]"}
    stack = []
    for i in range(opening, len(text)):
        if text[i] in pairs:
            stack.append(pairs[text[i]])
        elif stack and text[i] == stack[-1]:
            stack.pop()
            if not stack:
                return i
    raise AssertionError(f"unbalanced: {text}")


def evaluable(text: str) -> str:
    """The text form with the two step functions of the kinks, which the parser has no words for, as
    what they equal away from the kink: 𝟙[a > b] = (1 + (a − b)/|a − b|)/2 and sign(u) = u/|u|."""
    while "𝟙[" in text:
        start = text.index("𝟙[")
        end = _closing(text, start + 1)
        left, relation, right = re.fullmatch(r"(.*) ([<>]) (.*)", text[start + 2 : end]).groups()
        difference = f"(({left}) - ({right}))" if relation == ">" else f"(({right}) - ({left}))"
        text = text[:start] + f"((1 + {difference}/abs({difference}))/2)" + text[end + 1 :]
    while (match := re.search(r"(?<![A-Za-z0-9_])sign\(", text)) is not None:
        end = _closing(text, match.end() - 1)
        argument = text[match.end() : end]
        text = text[: match.start()] + f"(({argument})/abs({argument}))" + text[end + 1 :]
    return text


def evaluate(text: str, values: dict[str, float]) -> float:
    """A text form read by the tutor's parser and computed on its tree (the backprop walk's forward pass)."""
    parsed = parse_expression(f"0*novariable + ({evaluable(text)})", ROOMY)
    point = {name: values.get(name, 0.0) for name in parsed.symbols}
    graph = build_graph(parsed.tree, point)
    return graph.nodes[graph.output].value


def with_definitions(shown: display.Formulas, point: dict[str, float]) -> dict[str, float]:
    values = dict(point)
    for name, formula in shown.definitions:
        assert name not in point, f"the intermediate {name} takes a learner's name"
        values[name] = evaluate(formula.text, values)
    return values


# ---------------------------------------------------------------------------------------------------
# f as typed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(SMOOTH + KINKED + ("exp", "log", "sqrt"), ("max", "min")))
def test_the_text_form_reads_back_as_the_same_tree(expression):
    parsed = accepted(expression)
    shown = display.expression(parsed.tree)
    assert shape(parse_expression(shown.text, ROOMY).tree) == shape(parsed.tree)
    check_latex(shown.latex)
    check_mathml(shown.mathml)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(SMOOTH + KINKED, ("max", "min")))
def test_parentheses_are_only_where_precedence_needs_them(expression):
    """Dropping any pair of grouping parentheses changes the tree, except the two kept for reading:
    around a sign after an operator (a·(−b), −(+a)) and around a compound exponent (x^(−1), 2^(x + y))."""
    parsed = accepted(expression)
    text = display.expression(parsed.tree).text
    for opening in (
        i for i, char in enumerate(text) if char == "(" and (i == 0 or not text[i - 1].isalnum())
    ):
        closing = _closing(text, opening)
        without = text[:opening] + text[opening + 1 : closing] + text[closing + 1 :]
        try:
            same = shape(parse_expression(without, ROOMY).tree) == shape(parsed.tree)
        except Exception:  # noqa: BLE001 - unreadable without them: they were needed
            same = False
        if same:
            assert text[opening + 1] in "−+" or text[opening - 1] == "^", (text, opening)


def test_the_issue_example_reads_as_learners_write_it():
    parsed = parse_expression("(sigmoid(w0*x0 + w1*x1 + b) - 1)^2")
    shown = display.formulas(parsed.tree, ("w0", "w1", "b"))
    assert shown.expression.text == "(sigmoid(w0·x0 + w1·x1 + b) − 1)^2"
    assert shown.expression.latex == (
        r"\left(\sigma\left(\mathit{w0} \cdot \mathit{x0} + \mathit{w1} \cdot \mathit{x1} + b\right) - 1\right)^{2}"
    )
    assert [(name, formula.text) for name, formula in shown.definitions] == [("z", "w0·x0 + w1·x1 + b")]
    w0 = shown.partials["w0"]
    assert w0.text == "2·(sigmoid(z) − 1)·sigmoid(z)·(1 − sigmoid(z))·x0"
    # Written as in the issue: 2(σ(z)−1)·σ(z)(1−σ(z))·x0.
    assert w0.latex == (
        r"2 \left(\sigma\left(z\right) - 1\right) \cdot \sigma\left(z\right) \left(1 - \sigma\left(z\right)\right)"
        r" \cdot \mathit{x0}"
    )
    assert shown.partials["b"].text == "2·(sigmoid(z) − 1)·sigmoid(z)·(1 − sigmoid(z))"
    assert shown.substituted["w0"] is None  # too long written out in full
    for formula in (shown.expression, w0):
        assert "e^" not in formula.latex and "ⅇ" not in formula.mathml
        assert '<mi mathvariant="normal">σ</mi>' in formula.mathml


@pytest.mark.parametrize("name", ["xabs", "xdot", "imag", "y_hat", "w_1", "lambda_", "beta", "e", "x"])
def test_names_are_shown_exactly_as_typed(name):
    parsed = parse_expression(f"{name}*{name} + sigmoid({name})")
    shown = display.formulas(parsed.tree, (name,))
    assert shown.expression.text == f"{name}·{name} + sigmoid({name})"
    literal = name if len(name) == 1 else r"\mathit{" + name.replace("_", r"\_") + "}"
    assert display.latex_name(name) == literal
    assert shown.expression.latex == rf"{literal} \cdot {literal} + \sigma\left({literal}\right)"
    variable = f"<mi>{name}</mi>" if len(name) == 1 else f'<mi mathvariant="italic">{name}</mi>'
    assert re.findall(r"<mi[^>]*>[^<]*</mi>", shown.expression.mathml) == [
        variable,
        variable,
        '<mi mathvariant="normal">σ</mi>',
        variable,
    ]
    for formula in (shown.expression, shown.partials[name]):
        check_latex(formula.latex)
        check_mathml(formula.mathml)
        for decoration in (r"\dot", r"\operatorname{im}", r"\lambda", r"\beta", "|", "_{", "ⅇ", "ẋ"):
            assert decoration not in formula.latex + formula.mathml + formula.text


def test_sympy_would_decorate_these_names():
    """Why the tutor prints its own formulas: SymPy's printers read meaning into names."""
    assert sp.latex(sp.Symbol("xdot")) == r"\dot{x}"
    assert sp.latex(sp.Symbol("xabs")) == r"\left|{x}\right|"
    assert sp.latex(sp.Symbol("w_1")) == "w_{1}"
    assert sp.latex(sp.Symbol("lambda_")) != r"\mathit{lambda\_}"


def test_e_is_upright_e_unless_the_learner_has_a_variable_called_e():
    shown = display.expression(parse_expression("exp(-x^2) + exp(x*y + 1) + exp(x/y)").tree)
    assert shown.latex == r"\mathrm{e}^{-x^{2}} + \mathrm{e}^{x \cdot y + 1} + \exp\left(\frac{x}{y}\right)"
    assert shown.text == "exp(−x^2) + exp(x·y + 1) + exp(x/y)"
    assert shown.mathml.count('<mi mathvariant="normal">e</mi>') == 2 and "ⅇ" not in shown.mathml
    with_e = display.expression(parse_expression("exp(e) * e").tree)
    assert with_e.latex == r"\exp\left(e\right) \cdot e"
    assert '<mi mathvariant="normal">e</mi>' not in with_e.mathml


def test_numbers_are_exact_and_readable():
    shown = display.formulas(
        parse_expression("0.1*x + 1e-7*y + 12345.678*x + x^(1/3) + 2.5e8*y").tree, ("x", "y")
    )
    assert shown.expression.text == "0.1·x + 1e-7·y + 12345.678·x + x^(1/3) + 250000000·y"
    assert shown.expression.latex == r"0.1 x + 10^{-7} y + 12345.678 x + x^{\frac{1}{3}} + 250000000 y"
    # 0.1 + 12345.678 added exactly; the exponent 1/3 - 1 folded to the exact -2/3.
    assert shown.partials["x"].text == "12345.778 + 1/3·x^(−2/3)"
    assert shown.partials["x"].latex == r"12345.778 + \frac{1}{3} x^{-\frac{2}{3}}"
    assert shown.partials["y"].text == "250000000.0000001"


# ---------------------------------------------------------------------------------------------------
# Chain-rule partials


@pytest.mark.parametrize(
    ("expression", "parameter", "text", "latex"),
    [
        ("tanh(w*x + b)", "b", "1 − tanh(w·x + b)^2", r"1 - \tanh^{2}\left(w \cdot x + b\right)"),
        ("relu(w*x + b)", "w", "𝟙[w·x + b > 0]·x", r"\mathbf{1}\left[w \cdot x + b > 0\right] \cdot x"),
        ("log(w*x)", "w", "(1/(w·x))·x", r"\frac{1}{w \cdot x} \cdot x"),
        ("exp(w*x)", "w", "exp(w·x)·x", r"\mathrm{e}^{w \cdot x} \cdot x"),
        ("sqrt(w)", "w", "1/(2·sqrt(w))", r"\frac{1}{2 \sqrt{w}}"),
        ("abs(w - 1)", "w", "sign(w − 1)", r"\operatorname{sign}\left(w - 1\right)"),
        ("max(w, x)", "w", "𝟙[w > x]", r"\mathbf{1}\left[w > x\right]"),
        ("min(w, x)", "w", "𝟙[w < x]", r"\mathbf{1}\left[w < x\right]"),
        ("softplus(w)", "w", "sigmoid(w)", r"\sigma\left(w\right)"),
        ("atan(w)", "w", "1/(1 + w^2)", r"\frac{1}{1 + w^{2}}"),
        ("x/w", "w", "−x/w^2", r"-\frac{x}{w^{2}}"),
        ("w^x", "w", "x·w^(x − 1)", r"x \cdot w^{x - 1}"),
        ("2^w", "w", "2^w·log(2)", r"2^{w} \cdot \log\left(2\right)"),
        ("(w - x)^2", "w", "2·(w − x)", r"2 \left(w - x\right)"),
        # A parameter used twice: the two paths add up.
        ("w*x + w*y", "w", "x + y", "x + y"),
        (
            "sin(w)*cos(w)",
            "w",
            "cos(w)·cos(w) − sin(w)·sin(w)",
            r"\cos\left(w\right) \cdot \cos\left(w\right) - \sin\left(w\right) \cdot \sin\left(w\right)",
        ),
    ],
)
def test_local_slopes_are_written_as_learners_write_them(expression, parameter, text, latex):
    partial = display.formulas(parse_expression(expression).tree, (parameter,)).partials[parameter]
    assert (partial.text, partial.latex) == (text, latex)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_has_its_local_slope_in_learners_form(function):
    args = ", ".join(["w*x", "w + 2"][: FUNCTIONS[function].arity])
    parsed = parse_expression(f"{function}({args})")
    shown = display.formulas(parsed.tree, ("w",))
    assert "′" not in shown.partials["w"].text
    point = {"w": 0.7, "x": 0.3}
    _, gradient = compile_parsed(parsed).loss_and_gradient(np.array([point[n] for n in parsed.symbols]))
    value = evaluate(shown.partials["w"].text, with_definitions(shown, point))
    assert value == pytest.approx(gradient[parsed.symbols.index("w")], rel=1e-12)


def test_a_function_without_a_learners_slope_is_written_f_prime(monkeypatch):
    """A function added to the table before display knows its slope still gets a formula, not an error."""
    # A tree as the parser would build it once "lg" were in the table (parse.py would also need its
    # numbers and formula, so the node is built here rather than parsed).
    monkeypatch.setitem(FUNCTIONS, "lg", dataclasses.replace(FUNCTIONS["log"], name="lg"))
    product = parse_expression("w*x").tree
    shown = display.formulas(Node("lg", (product,), text="lg(w*x)"), ("w",))
    assert shown.partials["w"].text == "lg′(w·x)·x"
    check_latex(shown.partials["w"].latex)
    check_mathml(shown.partials["w"].mathml)


def test_a_network_reads_as_the_cs231n_notes():
    hidden = " + ".join(f"v{j}*tanh(w{j}0*x0 + w{j}1*x1 + b{j})" for j in range(3))
    parsed = parse_expression(f"(sigmoid({hidden} + c) - y)^2")
    parameters = tuple(name for name in parsed.symbols if name not in ("x0", "x1", "y"))
    shown = display.formulas(parsed.tree, parameters)
    assert [(name, formula.text) for name, formula in shown.definitions] == [
        ("z1", "w00·x0 + w01·x1 + b0"),
        ("z2", "w10·x0 + w11·x1 + b1"),
        ("z3", "w20·x0 + w21·x1 + b2"),
        ("z4", "v0·tanh(z1) + v1·tanh(z2) + v2·tanh(z3) + c"),
    ]
    assert (
        shown.partials["w21"].text
        == "2·(sigmoid(z4) − y)·sigmoid(z4)·(1 − sigmoid(z4))·v2·(1 − tanh(z3)^2)·x1"
    )
    assert shown.partials["c"].text == "2·(sigmoid(z4) − y)·sigmoid(z4)·(1 − sigmoid(z4))"


def test_a_repeated_sub_expression_is_named_once():
    shown = display.formulas(parse_expression("sigmoid(x)*(1 - sigmoid(x))").tree, ("x",))
    assert [(name, formula.text) for name, formula in shown.definitions] == [("a", "sigmoid(x)")]
    # Each path's contribution, then the slope of a = σ(x).
    assert shown.partials["x"].text == "((1 − a) − a)·a·(1 − a)"
    assert shown.substituted["x"].text == "((1 − sigmoid(x)) − sigmoid(x))·sigmoid(x)·(1 − sigmoid(x))"


def test_intermediate_names_never_take_a_learners_name():
    parsed = parse_expression("(sigmoid(z*a + u*h + s) - g)^2 + sigmoid(a*v + r*q + s1)*z1")
    shown = display.formulas(parsed.tree, parsed.symbols)
    taken = set(parsed.symbols)
    names = [name for name, _ in shown.definitions]
    assert len(names) == 2 and not taken.intersection(names)
    point = {name: 0.1 * (i + 1) for i, name in enumerate(parsed.symbols)}
    compiled = compile_parsed(parsed)
    _, gradient = compiled.loss_and_gradient(np.array([point[n] for n in compiled.names]))
    values = with_definitions(shown, point)
    for i, name in enumerate(compiled.names):
        assert evaluate(shown.partials[name].text, values) == pytest.approx(gradient[i], rel=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(SMOOTH, numbers=SMALL_NUMBERS), point=points)
def test_chain_rule_partials_equal_the_gradient_and_finite_differences(expression, point):
    parsed = accepted(expression)
    used = {name: point[name] for name in parsed.symbols}
    compiled = compile_parsed(parsed)
    values = np.array([used[n] for n in compiled.names])
    loss, gradient = compiled.loss_and_gradient(values)
    assume(math.isfinite(loss) and np.all(np.isfinite(gradient)) and abs(loss) < 1e6)

    shown = display.formulas(parsed.tree, compiled.names)
    defined = with_definitions(shown, used)
    for i, name in enumerate(compiled.names):
        partial = shown.partials[name]
        value = evaluate(partial.text, defined)
        assert value == pytest.approx(gradient[i], rel=1e-8, abs=1e-10)
        assert value == pytest.approx(central_difference(compiled.loss, values, i), rel=1e-4, abs=1e-6)
        if shown.substituted[name] is not None:
            assert evaluate(shown.substituted[name].text, used) == pytest.approx(value, rel=1e-9, abs=1e-12)
        check_latex(partial.latex)
        check_mathml(partial.mathml)
    for _, formula in shown.definitions:
        check_latex(formula.latex)
        check_mathml(formula.mathml)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(SMOOTH + KINKED, ("max", "min")), point=points)
def test_chain_rule_partials_with_kinks_and_any_numbers_equal_the_gradient(expression, point):
    parsed = accepted(expression)
    used = {name: point[name] for name in parsed.symbols}
    # On a kink the engine takes the average slope, the indicator one side's: only off the kinks.
    assume(not build_graph(parsed.tree, used).kinks())
    compiled = compile_parsed(parsed)
    loss, gradient = compiled.loss_and_gradient(np.array([used[n] for n in compiled.names]))
    assume(math.isfinite(loss) and np.all(np.isfinite(gradient)) and abs(loss) < 1e6)

    shown = display.formulas(parsed.tree, compiled.names)
    defined = with_definitions(shown, used)
    for i, name in enumerate(compiled.names):
        assert evaluate(shown.partials[name].text, defined) == pytest.approx(gradient[i], rel=1e-8, abs=1e-10)


def test_a_partial_too_long_to_write_out_is_left_out(monkeypatch):
    monkeypatch.setattr(display, "MAX_NODES", 4)
    shown = display.formulas(parse_expression("sin(x*y)*y + x").tree, ("x",))
    assert shown.partials["x"] is None and shown.substituted["x"] is None
    assert display.formulas(parse_expression("x*y").tree, ("x",)).partials["x"].text == "y"


# ---------------------------------------------------------------------------------------------------
# What the rest of the tutor uses


def test_the_document_carries_the_display_formulas():
    question = Question(
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)^2",
        {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1.0, "x1": 2.0},
        0.1,
        fixed=("x0", "x1"),
    )
    document = answer(question)
    shown = json.loads(json.dumps(document["display"]))
    assert shown["expression"]["text"] == "(sigmoid(w0·x0 + w1·x1 + b) − 1)^2"
    assert shown["definitions"] == [
        {
            "name": "z",
            "latex": r"\mathit{w0} \cdot \mathit{x0} + \mathit{w1} \cdot \mathit{x1} + b",
            "text": "w0·x0 + w1·x1 + b",
        }
    ]
    assert list(shown["partials"]) == document["parameters"] == ["w0", "w1", "b"]
    assert shown["partials"]["w1"]["text"] == "2·(sigmoid(z) − 1)·sigmoid(z)·(1 − sigmoid(z))·x1"
    assert shown["partials"]["w1"]["substituted"] is None
    values = with_definitions(
        display.formulas(parse_expression(question.expression).tree, ()), dict(question.point)
    )
    for name in document["parameters"]:
        assert evaluate(shown["partials"][name]["text"], values) == pytest.approx(
            document["gradient"][name], rel=1e-12
        )


def test_equations_for_the_explanation():
    document = answer(Question("sigmoid(x + y_hat)", {"x": 1.0, "y_hat": -2.0}, 0.1))
    equations = display.equations(document["display"])
    assert equations.f == (r"f = \sigma\left(x + \mathit{y\_hat}\right)", "f = sigmoid(x + y_hat)")
    assert equations.definitions == (("z = x + \\mathit{y\\_hat}", "z = x + y_hat"),)
    latex, text = equations.partials["y_hat"]
    assert text == "∂f/∂y_hat = sigmoid(z)·(1 − sigmoid(z)) = sigmoid(x + y_hat)·(1 − sigmoid(x + y_hat))"
    assert latex.startswith(r"\frac{\partial f}{\partial \mathit{y\_hat}} = \sigma\left(z\right) \left(1 - ")
    check_latex(latex)


def test_page_mathml_is_the_learners_notation_and_well_formed():
    written = mathml.formulas("(sigmoid(w0*xabs + imag) - y_hat)^2", ("w0", "imag"))
    assert set(written) == {"f", "definitions", "partials"} and set(written["partials"]) == {"w0", "imag"}
    pieces = [written["f"], *written["definitions"], *written["partials"].values()]
    for piece in pieces:
        assert piece.startswith('<math display="block">')
        ET.fromstring(piece)
        assert "ⅇ" not in piece and "<script" not in piece
    assert (
        '<mi mathvariant="italic">xabs</mi>' in written["f"]
        and '<mi mathvariant="italic">y_hat</mi>' in written["f"]
        and '<mi mathvariant="italic">imag</mi>' in written["f"]
    )
    assert written["definitions"] == [
        '<math display="block"><mrow><mi>z</mi><mo>=</mo><mrow><mrow><mi mathvariant="italic">w0</mi><mo>⋅</mo>'
        '<mi mathvariant="italic">xabs</mi></mrow><mo>+</mo><mi mathvariant="italic">imag</mi></mrow></mrow></math>'
    ]
    assert '<mi mathvariant="normal">σ</mi>' in written["partials"]["w0"]


def test_page_mathml_says_when_a_partial_is_too_long(monkeypatch):
    monkeypatch.setattr(display, "MAX_NODES", 4)
    mathml.formulas.cache_clear()
    try:
        written = mathml.formulas("x*y + sin(x)*cos(x)", ("x", "y"))
    finally:
        mathml.formulas.cache_clear()
    assert "too long to write out" in written["partials"]["x"]
    ET.fromstring(written["partials"]["x"])
    assert "too long" not in written["partials"]["y"]
