"""Questions the API tests ask."""

from __future__ import annotations

import secrets

NORMAL = {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01}


def slow_question() -> dict:
    """Within every static limit, yet seconds of work: a 41-parameter tanh network over 100 data rows,
    500 steps of both schemes (the sequential one recomputes the gradient for each parameter). Beyond the
    default work estimate (TUTOR_LIMIT_MAX_WORK_SECONDS), so tests of the clock lift that (see
    support.calibration.WORK_ESTIMATE_LIFTED). A new constant each time, so no worker's cache of
    compiled expressions has it."""
    hidden, inputs, rows = 8, 3, 100
    constant = secrets.randbelow(10**6) + 2
    point: dict[str, float] = {"c": constant / 10**6}
    terms = []
    for j in range(hidden):
        terms.append(f"v{j}*tanh({' + '.join(f'w{j}_{i}*x{i}' for i in range(inputs))} + b{j})")
        point |= {f"w{j}_{i}": 0.1 * ((i + j) % 3) - 0.1 for i in range(inputs)}
        point |= {f"b{j}": 0.05 * j, f"v{j}": 0.3 - 0.05 * j}
    data = {f"x{i}": [((k * (i + 3)) % 17) / 17 - 0.5 for k in range(rows)] for i in range(inputs)}
    data["y"] = [((k * 7) % 11) / 11 for k in range(rows)]
    return {
        "expression": f"({' + '.join(terms)} + c - y)**2",
        "point": point,
        "learning_rate": 0.01,
        "steps": 500,
        "data": data,
    }
