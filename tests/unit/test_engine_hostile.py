"""Hostile input: refused quickly, with a one-line reason, and nothing executed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sympy
from support import calibration
from support.cost import counting_calls

from tutor.config import Limits
from tutor.engine import InputError, Question, TooExpensive, answer, parse_expression
from tutor.sandbox import Analyzer

CANARY = Path("/tmp/tutor-hostile-canary")
# Function calls a refusal may cost: what no number in the expression (9**9**9) can make larger.
MAX_REFUSAL_CALLS = 100_000

CODE_EXECUTION = [
    f"__import__('os').system('touch {CANARY}')",
    f"exp(x).__class__.__init__.__globals__['os'].system('touch {CANARY}')",
    "x.__class__",
    "(lambda: 1)()",
    "[x for x in ()]",
    "'abc'",
    "x[0]",
    "x if y else z",
    "x == y",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "sympify('x')",
    "exp(x=1)",
    "exp(*x)",
    "x; y",
    "x := 1",
    "import os",
    "x and y",
    "1j*x",
    "True*x",
]

EXPENSIVE = [
    "9**9**9",
    "x**(10**10)",
    "2**1000*x",
    "x**1e308",
    "1e400*x",
    "((x**64)**64)**64",
    "(" * 300 + "x" + ")" * 300,
    "exp(" * 60 + "x" + ")" * 60,
    "+".join(["x"] * 400),
    "x" * 600,
    "+".join(f"a{i}" for i in range(130)),
]


@pytest.fixture(autouse=True)
def sympy_string_functions_are_never_called(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a SymPy string parser was called")

    monkeypatch.setattr(sympy, "sympify", forbidden)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", forbidden)
    CANARY.unlink(missing_ok=True)
    yield
    assert not CANARY.exists(), "hostile input ran code"


@pytest.mark.parametrize("expression", CODE_EXECUTION + EXPENSIVE)
def test_refused_after_bounded_work_with_one_line(expression):
    parse_expression("x + 1")  # first-use work (imports, caches) is not the refusal's
    with pytest.raises(InputError) as error, counting_calls() as calls:
        parse_expression(expression)
    # Counted, not timed: the bound holds on any machine. The deepest nesting allowed costs ~40,000.
    assert calls.count < MAX_REFUSAL_CALLS
    message = str(error.value)
    assert "\n" not in message and len(message) < 400
    assert error.value.field == "expression"


def test_refusals_say_where():
    with pytest.raises(InputError) as error:
        parse_expression("x + y.real")
    assert error.value.column == 5
    with pytest.raises(InputError) as error:
        parse_expression("x^2 + 3^99")
    assert error.value.column == 9  # the exponent 99, in the learner's own columns
    with pytest.raises(InputError) as error:
        parse_expression("x + 2²")
    assert error.value.column == 6 and "x**2" in error.value.message


@pytest.mark.parametrize(("text", "column"), [("x*", 3), ("x +", 4), ("x**", 4), ("x + * y", 5), ("x y", 3)])
def test_syntax_errors_point_at_the_column(text, column):
    with pytest.raises(InputError) as error:
        parse_expression(text)
    assert error.value.column == column


def test_a_long_sum_is_long_not_deep():
    # 24 weighted inputs of a linear model: Python nests the sum 24 levels to the left.
    terms = " + ".join(f"w{i}*x{i}" for i in range(24))
    parsed = parse_expression(f"({terms} - 1)**2")
    assert len(parsed.symbols) == 48
    product = "*".join(f"a{i}" for i in range(30))
    assert len(parse_expression(product).symbols) == 30
    with pytest.raises(InputError, match="nested"):
        parse_expression("sin(" * 30 + "x" + ")" * 30)


def test_caret_is_power_with_maths_precedence():
    assert parse_expression("x^2 + y^2").canonical == parse_expression("x**2 + y**2").canonical


def test_a_variable_named_like_a_module_cannot_shadow_the_generated_code():
    document = answer(Question("numpy*exp(math)", {"numpy": 2, "math": 0}, 0.1))
    assert document["loss"] == 2


def test_the_sandbox_kills_runaway_work_and_keeps_answering():
    # Parse limits raised so the work gets past them and only the clock stops it. The clock is the
    # calibrated budget, which small questions meet with room to spare on this machine as it is now.
    # The memory limit out of the way too: a forked worker inherits this test process's address space
    # (torch and the browser tests' libraries loaded), which alone can come near the default.
    limits = calibration.limits(
        max_expression_length=5000, max_nodes=2000, max_depth=50, worker_memory_mb=1 << 16
    )
    analyzer = Analyzer(limits, context="fork")
    try:
        # Within every parse limit, but far too slow: a big Hessian of nested terms.
        names = [f"w{i}" for i in range(30)]
        heavy = "*".join(
            f"sigmoid(tanh(sin({n})*cos({m})))" for n, m in zip(names, reversed(names), strict=True)
        )
        with pytest.raises(TooExpensive, match=f"took longer than {limits.seconds_per_question:g} seconds"):
            analyzer.answer(Question(heavy, {n: 0.3 for n in names}, 0.1, steps=1000))
        document = analyzer.answer(Question("x**2", {"x": 1}, 0.1))
        assert document["loss"] == 1
    finally:
        analyzer.close()


def test_the_sandbox_refuses_what_needs_too_much_memory():
    analyzer = Analyzer(Limits(worker_memory_mb=64), context="fork")
    try:
        with pytest.raises(TooExpensive):
            # An expression no earlier test compiled (a forked worker inherits the parent's cache)
            # whose line search evaluates 240 operations over 400 data rows at a time: each keeps an
            # array of 512 kB alive, far more than the 64 MB address space has left.
            names = [f"w{i}" for i in range(80)]
            expression = "(" + " + ".join(f"tanh({n}*x)" for n in names) + " - y)**2"
            data = {"x": [k / 400 for k in range(400)], "y": [1 - k / 400 for k in range(400)]}
            analyzer.answer(
                Question(expression, {n: 0.01 for n in names}, 0.1, methods=("simultaneous",), data=data)
            )
    finally:
        analyzer.close()


@pytest.mark.parametrize("name", ["exp", "select", "less", "nan", "inf", "numpy", "e", "pi", "print", "x0"])
def test_no_variable_name_can_shadow_the_generated_code(name):
    if name == "exp":
        with pytest.raises(InputError):
            parse_expression(f"{name} + 1")
        return
    # Compared with the same function in a name that cannot collide.
    ours = answer(Question(f"{name}**2*y + sin({name})", {name: 0.7, "y": 2}, 0.1))
    plain = answer(Question("q**2*y + sin(q)", {"q": 0.7, "y": 2}, 0.1))
    assert ours["loss"] == plain["loss"]
    assert ours["gradient"][name] == plain["gradient"]["q"]
    assert ours["trials"][1]["final_loss"] == plain["trials"][1]["final_loss"]


def test_a_pool_whose_workers_cannot_start_is_replaced(monkeypatch):
    from tutor import sandbox

    def cannot_start(memory_mb):
        raise OSError("no worker today")

    # Forked workers run the patched set-up, so every worker dies and the pool breaks.
    monkeypatch.setattr(sandbox, "_start_worker", cannot_start)
    analyzer = Analyzer(Limits(), context="fork")
    try:
        with pytest.raises(sandbox.AnalysisUnavailable):
            analyzer.answer(Question("x**2", {"x": 1}, 0.1))
        monkeypatch.undo()
        assert analyzer.answer(Question("x**2", {"x": 3}, 0.1))["loss"] == 9
    finally:
        analyzer.close()


def test_starting_the_workers_early_answers_a_question_in_them(caplog):
    analyzer = Analyzer(Limits(), context="fork")
    try:
        analyzer.start()
        assert not caplog.records  # started without complaint
        assert analyzer.answer(Question("x**2", {"x": 2}, 0.1))["loss"] == 4
    finally:
        analyzer.close()


def test_workers_that_cannot_start_early_are_left_to_the_first_question(monkeypatch, caplog):
    from tutor import sandbox

    monkeypatch.setattr(sandbox, "_start_worker", lambda memory_mb: os._exit(3))
    analyzer = Analyzer(Limits(), context="fork")
    try:
        analyzer.start()  # logs, does not raise: a server still starts and answers 503 meanwhile
        assert "did not start" in caplog.text
        monkeypatch.undo()
        assert analyzer.answer(Question("x**2", {"x": 3}, 0.1))["loss"] == 9
    finally:
        analyzer.close()
