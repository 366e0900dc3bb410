"""The engine per case, split by phase, cold (new expression) and warm (compiled functions cached).

Cold and warm are measured in the same run, interleaved, as medians of repeats, so their ratio holds on
a busy machine where the absolute numbers do not. Cold clears every cache an expression fills: the
compiled code, the printed formulas and the expression's LaTeX.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from tutor.config import Limits
from tutor.engine import Question, answer, parse
from tutor.engine import symbolic as formulas
from tutor.engine.analysis import analyse_first_step
from tutor.engine.compiled import clear_cache, compile_parsed
from tutor.engine.explain import explain
from tutor.engine.graph import build_graph
from tutor.engine.parse import parse_expression
from tutor.engine.problem import Problem
from tutor.engine.question import check_question
from tutor.engine.trials import TRIALS

# Every cache a new expression fills, besides the compiled code (tests/unit/test_bench.py checks that
# no other function of the engine is cached, so a cache added later is not silently left warm).
EXPRESSION_CACHES = (formulas.partials, parse._latex)


def clear_caches() -> None:
    clear_cache()
    for cached in EXPRESSION_CACHES:
        cached.cache_clear()


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
    timed("compile", compile_parsed, parsed)
    problem = Problem.from_checked(checked)
    timed("formulas", formulas.partials, parsed.symbolic, checked.parameters)
    loss, gradient = problem.loss_and_gradient(problem.start)
    hessian = timed("hessian", problem.hessian, problem.start)
    point = dict(checked.point) | {name: values[0] for name, values in (checked.data or {}).items()}
    timed("graph", build_graph, parsed.tree, point)
    timed("trials", lambda: [TRIALS[m](problem, question.steps) for m in checked.methods])
    timed("analysis", analyse_first_step, problem, loss, gradient, hessian)
    document = answer(question)
    timed("explanation", explain, document)
    return times


def _seconds(question: Question, cold: bool) -> float:
    if cold:
        clear_caches()
    started = time.perf_counter()
    answer(question)
    return time.perf_counter() - started


def run(cases: dict[str, Question], repeats: int = 15) -> dict:
    results = {}
    for name, question in cases.items():
        answer(question)  # first use of every code path, not of this expression
        cold_samples, warm_samples = [], []
        for _ in range(repeats):
            cold_samples.append(_seconds(question, cold=True))
            warm_samples.append(_seconds(question, cold=False))
        clear_caches()
        cold_phases = phases(question)
        warm_phases = phases(question)
        cold, warm = statistics.median(cold_samples), statistics.median(warm_samples)
        results[name] = {
            "parameters": len(question.point) - len(question.fixed),
            "data_rows": len(next(iter(question.data.values()))) if question.data else 0,
            "methods": list(question.methods),
            "steps": question.steps,
            "cold_ms": cold * 1e3,
            "warm_ms": warm * 1e3,
            "cold_over_warm": cold / warm,
            "cold_phases_ms": {k: v * 1e3 for k, v in cold_phases.items()},
            "warm_phases_ms": {k: v * 1e3 for k, v in warm_phases.items()},
        }
    return results


def total(question: Question, repeats: int) -> float:
    return statistics.median(_seconds(question, cold=False) for _ in range(repeats))


def growth(question: Question) -> dict:
    """Cost per step as steps grow 1 -> 1000, and total cost as parameters grow 2 -> 64."""
    by_steps = {}
    answer(question)
    for steps in (1, 10, 100, 1000):
        seconds = total(replace(question, steps=steps), 5)
        by_steps[steps] = {"total_ms": seconds * 1e3, "per_step_us": seconds / steps * 1e6}
    by_parameters = {}
    for n in (2, 8, 16, 32, 64):
        names = [f"w{i}" for i in range(n)]
        expression = "(" + " + ".join(f"{w}*x{i}" for i, w in enumerate(names)) + " - 1)**2"
        point = {w: 0.1 for w in names} | {f"x{i}": 1.0 / (i + 1) for i in range(n)}
        q = Question(expression, point, 0.1, steps=100, fixed=tuple(f"x{i}" for i in range(n)))
        answer(q)
        by_parameters[n] = {"warm_ms": total(q, 5) * 1e3}
    return {"steps": by_steps, "parameters": by_parameters}
