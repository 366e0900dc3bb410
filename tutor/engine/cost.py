"""What a question will cost, estimated from its size before anything runs.

The time limit (``Limits.seconds_per_question``) kills a worker that runs too long, but a question that
needs a minute should be told so at once, with what to change, and not after ten seconds of a worker's
time. Every loop of the engine has a size known in advance: how many evaluations each trial makes, how
many operations the graph has, how many data rows each evaluation covers. The rates below were
measured on the project's 2-core machine while it was busy (bench/ has the benchmarks); the limit
``max_work_seconds`` is kept well inside the time limit, so a question inside every limit answers.
The estimate is deterministic: the same question is always admitted or always refused.
"""

from __future__ import annotations

from tutor.config import Limits
from tutor.engine.errors import TooExpensive
from tutor.engine.parse import Node
from tutor.engine.question import Checked

# Seconds per graph operation of one evaluation of f and its gradient: in plain floats (one point, or
# a few data rows one by one), and in NumPy over arrays (a fixed cost, then a cost per element).
SCALAR_OPERATION = 2.5e-7
ARRAY_OPERATION = 3.0e-6
ARRAY_ELEMENT = 1.2e-8
# ... and per symbol: its argument in, its partial out.
ARRAY_SYMBOL = 2.5e-6
# Up to this many data rows the engine evaluates row by row in plain floats (problem.ROW_BY_ROW).
ROW_BY_ROW = 24
# Building, checking and storing one recorded number (a parameter's value after a step, its partial).
RECORDED_NUMBER = 3e-6
# The first-step analysis: a vectorised grid of learning rates, then single evaluations (bisection,
# golden-section search, the halving table).
LINE_SEARCH_GRID = 1500
LINE_SEARCH_EVALUATIONS = 320


def operations(tree: Node) -> int:
    """The operations the generated code runs per evaluation: nodes with a variable below them."""
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        if node.constant is None and node.op not in ("input", "const"):
            count += 1
            stack.extend(node.children)
    return max(count, 1)


def _evaluation(operations: int, symbols: int, rows: int) -> float:
    """Seconds for one evaluation of f and its gradient over ``rows`` data rows (0: no data)."""
    if rows <= ROW_BY_ROW:
        return operations * SCALAR_OPERATION * max(rows, 1)
    return operations * (ARRAY_OPERATION + ARRAY_ELEMENT * rows) + symbols * ARRAY_SYMBOL


# Numbers recorded per step and parameter: the point and the gradient (and the update of an optimizer's
# step); the sequential trial records each update with its partials, loss and flip; mini-batches the
# batch besides.
RECORDED_PER_PARAMETER = {"sequential": 6, "minibatch": 5}
RECORDED_OTHERWISE = 3


def recorded_numbers(checked: Checked) -> int:
    """The numbers the answer records over all its trials: what the case stores, step by step, and sends."""
    per_step = sum(RECORDED_PER_PARAMETER.get(method, RECORDED_OTHERWISE) for method in checked.methods)
    return checked.question.steps * len(checked.parameters) * per_step


def estimate_seconds(checked: Checked) -> float:
    """The work the question asks for, in seconds on the reference machine."""
    n, symbols = operations(checked.parsed.tree), len(checked.parsed.symbols)
    rows = len(next(iter(checked.data.values()))) if checked.data else 0
    steps = checked.question.steps
    parameters = len(checked.parameters)
    evaluations = 0.0
    for method in checked.methods:
        if method == "sequential":
            evaluations += steps * parameters * _evaluation(n, symbols, rows)
        elif method == "minibatch":
            batch = checked.batch_size or rows
            evaluations += steps * (_evaluation(n, symbols, rows) + 2 * _evaluation(n, symbols, batch))
        else:
            evaluations += steps * _evaluation(n, symbols, rows)
    # The analysis: the grid at once, then single points; and the Hessian, one direction per parameter.
    analysis = n * (ARRAY_OPERATION + ARRAY_ELEMENT * LINE_SEARCH_GRID * max(rows, 1))
    analysis += LINE_SEARCH_EVALUATIONS * _evaluation(n, symbols, rows)
    analysis += 3 * n * (ARRAY_OPERATION + ARRAY_ELEMENT * parameters * max(rows, 1))
    return evaluations + analysis + recorded_numbers(checked) * RECORDED_NUMBER


def check_cost(checked: Checked, limits: Limits) -> None:
    """Refuse, before any work, a question whose answer would record more than ``max_recorded_numbers``
    or whose estimated work is beyond ``max_work_seconds``.

    The first bounds what the server process does with an answer (saving its step rows holds the
    database's write turn, sending it holds a thread) so that no answer makes others wait long; the
    second bounds the worker's time."""
    recorded = recorded_numbers(checked)
    if recorded > limits.max_recorded_numbers:
        per_step = recorded // checked.question.steps
        raise TooExpensive(
            f"this question's answer would record {recorded:,} numbers ({checked.question.steps} steps of "
            f"{len(checked.parameters)} parameters in {len(checked.methods)} trials); the limit is "
            f"{limits.max_recorded_numbers:,}. Ask for at most {max(limits.max_recorded_numbers // per_step, 1)} "
            "steps, or fewer methods",
            "steps",
        )
    seconds = estimate_seconds(checked)
    if seconds <= limits.max_work_seconds:
        return
    levers = ["fewer steps"]
    if "sequential" in checked.methods and len(checked.parameters) > 1:
        levers.append("no sequential trial (it recomputes the gradient once per parameter)")
    if checked.data:
        levers.append("fewer data rows")
    if len(checked.methods) > 1:
        levers.append("fewer methods")
    raise TooExpensive(
        f"this question needs about {seconds:.3g} s of work; the limit is {limits.max_work_seconds:g} s. "
        f"Ask for {', or '.join(levers)}",
        "steps",
    )
