"""LaTeX input: read onto the same checked tree as the text grammar, with the same limits, refusals at
the LaTeX's own columns, and nothing ever executed."""

from __future__ import annotations

import math

import pytest

# Every test here runs with SymPy's string parsers made to fail and a canary file that code would touch.
from test_engine_hostile import (  # noqa: F401 - an autouse fixture
    CANARY,
    CODE_EXECUTION,
    EXPENSIVE,
    sympy_string_functions_are_never_called,
)

from tutor.config import Limits
from tutor.engine import InputError, Question, answer, parse_expression
from tutor.engine import latex as latex_module
from tutor.engine.latex import is_latex, translate

# What learners write in LaTeX, and the same function in the text grammar.
PAIRS = [
    (r"\frac{1}{2}(\hat{y} - y)^2", "(1/2)*(y_hat - y)**2"),
    (r"$\sigma(w_0 x_0 + w_1 x_1 + b)$", "sigmoid(w0*x0 + w1*x1 + b)"),
    (r"$$ L = (\sigma(w x + b) - y)^2 $$", "(sigmoid(w*x + b) - y)**2"),
    (r"$(x+y)z$", "(x+y)*z"),
    (r"$2x + y$", "2*x + y"),
    (r"w_{12} x_{12} + w_0 x_0", "w12*x12 + w0*x0"),
    (r"\tanh(w x) \cdot v", "tanh(w*x)*v"),
    (r"\exp(x) + \log(y) + \ln(z)", "exp(x) + log(y) + log(z)"),
    (r"\sqrt{x^2 + y^2}", "sqrt(x**2 + y**2)"),
    (r"\sqrt[3]{x} + y", "x**(1/3) + y"),
    (r"e^{-x^2} + e^x", "exp(-x**2) + exp(x)"),
    (r"\max(0, x) - \min(x, y)", "max(0, x) - min(x, y)"),
    (r"|x| + |y - 1|", "abs(x) + abs(y - 1)"),
    (r"\left| x - y \right| \cdot \lvert y \rvert", "abs(x - y)*abs(y)"),
    (r"\left( x + y \right) \times z", "(x + y)*z"),
    (r"\left[ x + y \right] \div \left\{ 2 z \right\}", "(x + y)/(2*z)"),
    (r"\frac{1}{1 + e^{-z}}", "1/(1 + exp(-z))"),
    (r"\sigma(z)(1 - \sigma(z))", "sigmoid(z)*(1 - sigmoid(z))"),
    (r"\sin^2 x + \cos^2 y", "sin(x)**2 + cos(y)**2"),
    (r"\sin 2x + y", "sin(2*x) + y"),
    (r"x^{10} + x^2", "x**10 + x**2"),
    (r"\operatorname{ReLU}(w x + b)", "relu(w*x + b)"),
    (r"\mathrm{softplus}(x) + \text{loss}", "softplus(x) + loss"),
    (r"\log_2 x + y", "log(x)/log(2) + y"),
    (r"\alpha \beta^2 + \eta", "alpha*beta**2 + eta"),
    (r"\theta_0 + \theta_1 x", "theta0 + theta1*x"),
    (r"-\log(\hat{y}) y - \log(1 - \hat{y})(1 - y)", "-log(y_hat)*y - log(1 - y_hat)*(1 - y)"),
    (r"\frac{\exp(a)}{\exp(a) + \exp(b)}", "exp(a)/(exp(a) + exp(b))"),
    (r"\frac12 x^{\frac12}", "(1/2)*x**(1/2)"),
    (r"\hat{\theta}_1 x_i", "theta_hat1*x_i"),
    (r"\lambda w^2 + 1e-3 w", "lambda_*w**2 + 0.001*w"),
    (r"\( x \cdot y \)", "x*y"),
    (r"\[ (x - 1)^2 \]", "(x - 1)**2"),
    (r"f(x, y) = x\,y + \; y", "x*y + y"),
]


def point_for(symbols) -> dict[str, float]:
    # Inside every function's domain: log, sqrt and the cube root need positive values, 1 - ŷ too.
    return {name: 0.3 + 0.1 * index for index, name in enumerate(symbols)}


@pytest.mark.parametrize(("written", "text"), PAIRS)
def test_latex_and_text_give_the_same_expression_and_numbers(written, text):
    assert is_latex(written) and not is_latex(text)
    from_latex, from_text = parse_expression(written), parse_expression(text)

    assert from_latex.canonical == from_text.canonical
    assert set(from_latex.symbols) == set(from_text.symbols)
    point = point_for(from_text.symbols)
    ours, theirs = (
        answer(Question(written, point, 0.05, steps=3)),
        answer(Question(text, point, 0.05, steps=3)),
    )
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-12)
    for name in point:
        assert ours["gradient"][name] == pytest.approx(theirs["gradient"][name], rel=1e-12, abs=1e-15)
    assert [t["final_loss"] for t in ours["trials"]] == pytest.approx(
        [t["final_loss"] for t in theirs["trials"]]
    )


def test_the_answer_shows_the_expression_as_written_and_as_read():
    written = r"$\frac{1}{2}(\hat{y} - y)^2$"
    document = answer(Question(written, {"y_hat": 0.8, "y": 1.0}, 0.1))

    assert document["input"]["expression"] == written
    assert document["expression"]["notation"] == "latex"
    assert document["expression"]["read_as"] == "(1/2)*(y_hat-y)**2"
    # The worked numbers open with the question as asked (after the short answer and its table).
    first = next(p for p in document["explanation"]["markdown"].split("\n\n") if p.startswith("**f = "))
    assert "`$\\frac{1}{2}(\\hat{y} - y)^2$`" in first and "read as `(1/2)*(y_hat-y)**2`" in first
    plain = answer(Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01))
    assert plain["expression"]["notation"] == "text" and "read as" not in plain["explanation"]["markdown"]


def test_an_independent_oracle_agrees_on_a_neuron_written_in_latex():
    # The partials of σ(w0·x0 + b) against central differences of the formula written in Python.
    document = answer(
        Question(r"$(\sigma(w_0 x_0 + b) - y)^2$", {"w0": 0.5, "x0": 1.5, "b": -0.2, "y": 1}, 0.1)
    )

    def f(w0, x0, b, y):
        return (1 / (1 + math.exp(-(w0 * x0 + b))) - y) ** 2

    values = {"w0": 0.5, "x0": 1.5, "b": -0.2, "y": 1.0}
    for name in values:
        up, down = dict(values), dict(values)
        up[name] += 1e-6
        down[name] -= 1e-6
        numeric = (f(**up) - f(**down)) / 2e-6
        assert document["gradient"][name] == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize(
    ("written", "column", "words"),
    [
        (r"\frac{1}{x", 9, "not closed"),
        (r"$x^10$", 4, "write ^{10}"),
        (r"$w_12 x$", 4, "write _{12}"),
        (r"\foo(x)", 1, "not a command I read"),
        (r"x + \sigmoit(y)", 5, "did you mean \\sigmoid?"),
        (r"\sum_i w_i x_i", 1, "write the terms out"),
        (r"\sigma(w^\top x)", 10, "transposes"),
        (r"\frac{1}{2} x^{99}", 16, "larger than the limit"),
        (r"\frac{x}{y - y}", 10, "divides by zero"),
        (r"$x = y = z$", 8, "one ="),
        (r"$x + y", 1, "not closed"),
        (r"\max(x; y)", 7, "not allowed"),
        (r"0,5 \cdot x", 2, "decimal separator"),
        (r"\exp", 5, "needs an argument"),
        (r"$(x + y]$", 8, "closes nothing"),
        (r"\left( x \right]", 1, "not closed by )"),
        (r"x^{2}^{3}", 6, "second ^"),
        (r"$x \cdot$", 9, "ends too early"),
        (r"$y'$", 3, "primes"),
    ],
)
def test_refusals_give_the_column_in_the_latex(written, column, words):
    with pytest.raises(InputError) as error:
        parse_expression(written)

    assert error.value.field == "expression"
    assert error.value.column == column, str(error.value)
    assert words in error.value.message


def test_the_limits_are_the_text_grammars():
    limits = Limits()
    too_long = r"\frac{1}{2}" + " + x" * (limits.max_expression_length // 4)
    with pytest.raises(InputError, match="characters long") as error:
        parse_expression(too_long)
    assert error.value.column == limits.max_expression_length + 1

    many = "$" + "x" * limits.max_nodes + "$"  # factors side by side: about two parts each
    with pytest.raises(InputError, match="parts") as error:
        parse_expression(many)
    assert 1 < error.value.column <= len(many)

    deep = r"\sqrt{" * 30 + "x" + "}" * 30
    with pytest.raises(InputError, match="nested more than") as error:
        parse_expression(deep)
    assert error.value.column == 6 * limits.max_depth + 1  # the \sqrt one level too deep

    wide = Limits(max_nodes=4000, max_expression_length=4000)
    cap = limits.max_symbols
    over = "$" + "+".join(f"a_{{{i}}}" for i in range(cap + 6)) + "$"
    with pytest.raises(InputError, match=f"variables; the limit is {cap}") as error:
        parse_expression(over, wide)
    assert error.value.column == over.index(f"a_{{{cap}}}") + 1  # the first name past the limit


def test_text_hints_for_the_common_slips():
    cases = {
        "2x + y": ("write 2*x to multiply", 2),
        "(x+y)z": ("write (x+y)*z to multiply", 6),
        "x y": ("write x*y to multiply", 3),
        "sigmod(x)": ("did you mean sigmoid?", 1),
        "x(y + 1)": ("to multiply, write x*(y + 1)", 1),
        "σ(x)": ("write sigmoid(…)", 1),
        "η*x": ("e.g. eta", 1),
        "0,5*x": ("decimal separator", 2),
    }
    for text, (words, column) in cases.items():
        with pytest.raises(InputError) as error:
            parse_expression(text)
        assert words in error.value.message, text
        assert error.value.column == column, text
    assert parse_expression("ln(x) + arctan(y)").canonical == parse_expression("log(x) + atan(y)").canonical


# Hostile LaTeX: TeX's own commands that read files, run programs or define macros are not LaTeX the
# tutor knows; it refuses them by name, as it refuses everything it does not know.
LATEX_HOSTILE = [
    r"\input{/etc/passwd}",
    r"\include{secrets}",
    f"\\write18{{touch {CANARY}}}",
    f"\\immediate\\write18{{touch {CANARY}}}",
    r"\def\x{1}\x",
    r"\newcommand{\x}{1} \x",
    r"\catcode`\^=11 x",
    r"\csname os\endcsname",
    r"\expandafter\x",
    r"\usepackage{shellesc}",
    r"\begin{verbatim}x\end{verbatim}",
    r"\verb|x|",
    r"\href{javascript:alert(1)}{x}",
    r"\includegraphics{x.png}",
    r"\text{__import__}(x)",
    r"\mathrm{__class__} + x",
    r"\operatorname{eval}(x)",
    r"\hat{__import__}",
    r"x_{__class__}",
    "x + \x00",
    r"\left(" * 200 + "x",
    "{" * 400 + "x",
    "|" * 400,
    r"x^{9^{9^{9}}}",
    r"2^{1000} x",
    r"e^{e^{e^{e^{e^{x}}}}}" + "^{64}",
    r"\exp(" * 40 + "x" + ")" * 40,
    r"\frac{" * 40 + "x" + "}{2}" * 40,
    r"\sqrt[10^{10}]{x}",
    "$" + "\\," * 300 + "$",
]


@pytest.mark.parametrize(
    "written", LATEX_HOSTILE + CODE_EXECUTION + EXPENSIVE + [f"${t}$" for t in CODE_EXECUTION]
)
def test_hostile_latex_is_refused_in_one_line_and_runs_nothing(written, monkeypatch):
    # Bounded work, counted rather than timed: every step of the reader looks at what comes next, so
    # counting those looks bounds its work whatever the machine's load.
    looks = 0
    peek = latex_module._Reader.peek

    def counted(self):
        nonlocal looks
        looks += 1
        return peek(self)

    monkeypatch.setattr(latex_module._Reader, "peek", counted)
    try:
        parsed = parse_expression(written)
    except InputError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 400
        assert error.field == "expression"
        assert error.column is None or 1 <= error.column <= len(written) + 1
    else:
        # What LaTeX does read (x[0] is x times 0 in maths) is a checked tree like any other.
        assert parsed.symbols
    assert looks <= 8 * len(written) + 20


def test_translation_keeps_a_column_for_every_character():
    translation = translate(r"$\frac{1}{2} w_0 x_0$")
    assert translation.text == "(1/2)*w0*x0"
    assert len(translation.columns) == len(translation.text) + 1
    # w0 comes from the w at column 14, x0 from column 18; the end is just past the formula.
    assert translation.columns[translation.text.index("w0")] == 14
    assert translation.columns[translation.text.index("x0")] == 18
    assert translation.columns[-1] == 21
