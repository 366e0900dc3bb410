"""Questions the API tests ask."""

from __future__ import annotations

import secrets

NORMAL = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}


def slow_question() -> dict:
    """Within every static limit but seconds of symbolic work; a new constant each time, so no worker's
    cache of compiled expressions has it."""
    n, constant = 10, secrets.randbelow(10**6) + 2
    terms = "+".join(f"tanh(x{i}*x{(i + 1) % n}+{constant})" for i in range(n))
    product = "*".join(f"x{i}" for i in range(n))
    return {
        "expression": f"({terms})**3*exp({product})",
        "point": {f"x{i}": (i + 1) / 10 for i in range(n)},
        "learning_rate": 0.01,
        "steps": 1000,
    }
