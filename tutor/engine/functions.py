"""The functions a learner may call, in one table: name, number of arguments and where they have a kink.

How each computes (its value, local slopes and their changes) is in operations.py, the same for every
numeric path; how each is written as a formula is in symbolic.py. At a kink (abs or relu at 0, max/min
at a tie) every path uses the average of the one-sided slopes, which is also what SymPy's
Heaviside(0) = 1/2 gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    # input values at which the function has a kink (not differentiable)
    kink: Callable[..., bool] = lambda *args: False


def _table() -> dict[str, Function]:
    fns = [
        Function("exp", 1),
        Function("log", 1),
        Function("sqrt", 1),
        Function("sin", 1),
        Function("cos", 1),
        Function("tan", 1),
        Function("tanh", 1),
        Function("sinh", 1),
        Function("cosh", 1),
        Function("atan", 1),
        Function("sigmoid", 1),
        Function("softplus", 1),
        Function("relu", 1, kink=lambda a: a == 0),
        Function("abs", 1, kink=lambda a: a == 0),
        Function("max", 2, kink=lambda a, b: a == b),
        Function("min", 2, kink=lambda a, b: a == b),
    ]
    return {f.name: f for f in fns}


FUNCTIONS: dict[str, Function] = _table()
# Other names learners write for the same functions: ln(x) is log(x) (the node is a log node).
ALIASES = {"ln": "log", "arctan": "atan"}
FUNCTIONS.update({alias: FUNCTIONS[name] for alias, name in ALIASES.items()})
