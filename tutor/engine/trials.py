"""Trials: run gradient descent from the learner's point and record every step.

*simultaneous* is what backprop + SGD does: one forward and backward pass gives every partial at the
same point, then every parameter moves at once. *sequential* moves one parameter at a time, each
partial recomputed at the partly updated point: the scheme the learner imagines, where moving z first
can flip the sign of y's slope before y moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tutor.engine.problem import Problem


def _finite(loss: float, values: np.ndarray) -> bool:
    return math.isfinite(loss) and bool(np.all(np.isfinite(values)))


def _trial(problem: Problem, method: str, settings: dict, steps: list[dict], diverged_at: int | None) -> dict:
    initial = problem.compiled.loss(problem.start)
    return {
        "method": method,
        "learning_rate": problem.learning_rate,
        "settings": settings,
        "initial_loss": initial,
        "final_loss": steps[-1]["loss"] if steps else initial,
        "diverged_at": diverged_at,
        "steps": steps,
    }


def simultaneous(problem: Problem, steps: int) -> dict:
    lr, index, compiled = problem.learning_rate, problem.parameter_index, problem.compiled
    values = problem.start.copy()
    records: list[dict] = []
    _, gradient = compiled.loss_and_gradient(values)
    for step in range(1, steps + 1):
        used = gradient
        values = values.copy()
        values[index] -= lr * used[index]
        loss, gradient = compiled.loss_and_gradient(values)
        if not _finite(loss, values) or not np.all(np.isfinite(used[index])):
            return _trial(problem, "simultaneous", {}, records, step)
        records.append(
            {
                "step": step,
                "point": problem.point_of(values),
                "loss": loss,
                "gradient": problem.gradient_of(used),
            }
        )
    return _trial(problem, "simultaneous", {}, records, None)


def sequential(problem: Problem, steps: int) -> dict:
    lr, compiled = problem.learning_rate, problem.compiled
    values = problem.start.copy()
    records: list[dict] = []
    for step in range(1, steps + 1):
        _, at_start = compiled.loss_and_gradient(values)
        updates = []
        for name, i in zip(problem.parameters, problem.parameter_index, strict=True):
            # Recomputed at the partly updated point: the parameters before this one have moved.
            partial = float(compiled.loss_and_gradient(values)[1][i]) if updates else float(at_start[i])
            values = values.copy()
            values[i] -= lr * partial
            loss = compiled.loss(values)
            if not _finite(loss, values) or not math.isfinite(partial):
                return _trial(problem, "sequential", {}, records, step)
            updates.append(
                {
                    "parameter": name,
                    "partial": partial,
                    "partial_at_start": float(at_start[i]),
                    "value": float(values[i]),
                    "loss": loss,
                    "sign_flip": partial * float(at_start[i]) < 0,
                }
            )
        records.append({"step": step, "point": problem.point_of(values), "loss": loss, "updates": updates})
    return _trial(problem, "sequential", {}, records, None)


TRIALS: dict[str, Callable[[Problem, int], dict]] = {
    "simultaneous": simultaneous,
    "sequential": sequential,
}
