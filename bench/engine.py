"""The engine per case, split by phase, cold (new expression) and warm (compiled functions cached)."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from tutor.config import Limits
from tutor.engine import Question, answer
from tutor.engine.analysis import analyse_first_step
from tutor.engine.compiled import _compile, _hessian_function, differentiate
from tutor.engine.explain import explain
from tutor.engine.graph import build_graph
from tutor.engine.parse import _printed, parse_expression
from tutor.engine.problem import Problem
from tutor.engine.question import check_question
from tutor.engine.trials import TRIALS


def _clear_caches() -> None:
    differentiate.cache_clear()
    _compile.cache_clear()
    _hessian_function.cache_clear()
    _printed.cache_clear()


def phases(question: Question) -> dict[str, float]:
    """Seconds per phase for one question, the phases done in the order answer() does them."""
    limits = Limits()
    times: dict[str, float] = {}

    def timed(name, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        times[name] = time.perf_counter() - started
        return result

    parsed = timed("parse", parse_expression, question.expression, limits)
    checked = check_question(question, parsed, limits)
    # Differentiating first fills its cache, so building the Problem then times the compiling alone
    # (printing the partials as text and LaTeX, and lambdify with cse).
    timed("differentiate", differentiate, parsed.expr, parsed.symbols)
    problem = timed("compile", Problem.from_checked, checked)
    loss, gradient = problem.compiled.loss_and_gradient(problem.start)
    hessian = timed("hessian", problem.hessian, problem.start)
    timed("graph", build_graph, parsed.tree, checked.point)
    timed("trials", lambda: [TRIALS[m](problem, question.steps) for m in checked.methods])
    timed("analysis", analyse_first_step, problem, loss, gradient, hessian)
    document = answer(question)
    timed("explanation", explain, document)
    return times


def total(question: Question, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer(question)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(cases: dict[str, Question], repeats: int = 20) -> dict:
    results = {}
    for name, question in cases.items():
        _clear_caches()
        cold_phases = phases(question)
        _clear_caches()
        started = time.perf_counter()
        answer(question)
        cold = time.perf_counter() - started
        answer(question)
        warm_phases = phases(question)
        results[name] = {
            "parameters": len(question.point) - len(question.fixed),
            "steps": question.steps,
            "cold_ms": cold * 1e3,
            "warm_ms": total(question, repeats) * 1e3,
            "cold_phases_ms": {k: v * 1e3 for k, v in cold_phases.items()},
            "warm_phases_ms": {k: v * 1e3 for k, v in warm_phases.items()},
        }
    return results


def growth(question: Question) -> dict:
    """Cost per step as steps grow 1 -> 1000, and total cost as parameters grow 2 -> 24."""
    by_steps = {}
    answer(question)
    for steps in (1, 10, 100, 1000):
        seconds = total(replace(question, steps=steps), 5)
        by_steps[steps] = {"total_ms": seconds * 1e3, "per_step_us": seconds / steps * 1e6}
    by_parameters = {}
    for n in (2, 4, 8, 16, 24):
        names = [f"w{i}" for i in range(n)]
        expression = "(" + " + ".join(f"{w}*x{i}" for i, w in enumerate(names)) + " - 1)**2"
        point = {w: 0.1 for w in names} | {f"x{i}": 1.0 / (i + 1) for i in range(n)}
        q = Question(expression, point, 0.1, steps=100, fixed=tuple(f"x{i}" for i in range(n)))
        answer(q)
        by_parameters[n] = {"warm_ms": total(q, 5) * 1e3}
    return {"steps": by_steps, "parameters": by_parameters}
