"""Trials: run an optimizer from the learner's point and record every step.

*simultaneous* is what backprop + SGD does: one forward and backward pass gives every partial at the
same point, then every parameter moves at once. *sequential* moves one parameter at a time, each
partial recomputed at the partly updated point: the scheme the learner imagines, where moving z first
can flip the sign of y's slope before y moves.

*momentum*, *nesterov*, *adam* and *rmsprop* follow torch.optim's update rules to the letter (the
tests compare them with torch step by step). Their steps no longer follow the current gradient, which
is why the loss can go up: each step records the angle between the step and −g, and for the
momentum methods how much of the step is remembered velocity.

*minibatch* is gradient descent where each step sees only a batch of the data rows: a different loss
function every step. Each step records its batch's loss and gradient next to the full loss and
gradient.

Every loop calls compiled NumPy functions only; no SymPy runs per step.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator

import numpy as np

from tutor.engine.problem import Problem

# Given the gradient over the parameters and the step number (from 1): the update Δp to add to the
# parameters, and the part of Δp that comes from remembered velocity (None for methods without one).
Stepper = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray | None]]


def _finite(loss: float, values: np.ndarray) -> bool:
    # Callers pass the parameters only: a data column's place in the vector holds NaN by design.
    # Plain floats: vectors here have a handful of entries, where NumPy's per-call cost dominates.
    return math.isfinite(loss) and all(map(math.isfinite, values.tolist()))


def angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two vectors in degrees, NaN if either is zero. Computed from the unit
    vectors' difference and sum, which stays accurate near 0° and 180° where arccos does not."""
    # Plain floats: vectors here have a handful of entries, where NumPy's per-call cost dominates.
    a, b = a.tolist(), b.tolist()
    norm_a, norm_b = math.hypot(*a), math.hypot(*b)
    if norm_a == 0 or norm_b == 0 or not math.isfinite(norm_a) or not math.isfinite(norm_b):
        return math.nan
    difference = math.hypot(*(x / norm_a - y / norm_b for x, y in zip(a, b, strict=True)))
    total = math.hypot(*(x / norm_a + y / norm_b for x, y in zip(a, b, strict=True)))
    return math.degrees(2 * math.atan2(difference, total))


def _named(problem: Problem, vector: np.ndarray) -> dict[str, float]:
    """A vector over the parameters, by name."""
    return dict(zip(problem.parameters, vector.tolist(), strict=True))


def _trial(problem: Problem, method: str, settings: dict, steps: list[dict], diverged_at: int | None) -> dict:
    initial = problem.loss(problem.start)
    return {
        "method": method,
        "learning_rate": problem.learning_rate,
        "settings": settings,
        "initial_loss": initial,
        "final_loss": steps[-1]["loss"] if steps else initial,
        "diverged_at": diverged_at,
        "steps": steps,
    }


def _quiet(trial: Callable[..., dict]) -> Callable[..., dict]:
    """Run a trial with NumPy's floating-point warnings off: an overflow becomes inf or NaN, which the
    trial reports as divergence, so a warning would only repeat it on stderr."""

    @functools.wraps(trial)
    def run(*args: object) -> dict:
        with np.errstate(all="ignore"):
            return trial(*args)

    return run


@_quiet
def _run(problem: Problem, steps: int, method: str, settings: dict, stepper: Stepper) -> dict:
    """The loop every whole-loss optimizer shares: gradient at the current point, step, record."""
    index = problem.parameter_index
    values = problem.start.copy()
    records: list[dict] = []
    loss, gradient = problem.loss_and_gradient(values)
    for step in range(1, steps + 1):
        g = gradient[index]
        if not np.all(np.isfinite(g)):
            return _trial(problem, method, settings, records, step)
        update, remembered = stepper(g, step)
        before = values
        values = values.copy()
        values[index] += update
        new_loss, gradient = problem.loss_and_gradient(values)
        if not _finite(new_loss, values[index]):
            return _trial(problem, method, settings, records, step)
        # What the point actually did: a step below a parameter's spacing is lost to rounding, and
        # the angle is of the move made, not of the one computed.
        moved = values[index] - before[index]
        record = {
            "step": step,
            "point": problem.point_of(values),
            "loss": new_loss,
            "gradient": _named(problem, g),
            "update": _named(problem, moved),
            "angle_to_negative_gradient": angle_degrees(moved, -g),
            "loss_went_up": new_loss > loss,
        }
        lost = [
            name
            for name, want, got in zip(problem.parameters, update.tolist(), moved.tolist(), strict=True)
            if want != 0 and got == 0
        ]
        if lost:
            record["lost_to_rounding"] = lost
        if remembered is not None:
            step_norm = float(np.linalg.norm(update))
            record["velocity_share"] = (
                float(np.linalg.norm(remembered)) / step_norm if step_norm else math.nan
            )
        records.append(record)
        loss = new_loss
    return _trial(problem, method, settings, records, None)


def simultaneous(problem: Problem, steps: int) -> dict:
    lr = problem.learning_rate
    return _run(problem, steps, "simultaneous", {}, lambda g, _: (-lr * g, None))


def _heavy_ball(problem: Problem, nesterov: bool) -> Stepper:
    lr, mu = problem.learning_rate, problem.settings["momentum"]
    velocity = np.zeros(len(problem.parameter_index))

    def step(g: np.ndarray, _: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal velocity
        previous = velocity
        velocity = mu * previous + g
        if nesterov:
            # torch: p ← p − η(g + μv) with the new v = μv_prev + g, so v_prev enters as μ²·v_prev.
            return -lr * (g + mu * velocity), -lr * mu * mu * previous
        return -lr * velocity, -lr * mu * previous

    return step


def momentum(problem: Problem, steps: int) -> dict:
    settings = {"momentum": problem.settings["momentum"]}
    return _run(problem, steps, "momentum", settings, _heavy_ball(problem, nesterov=False))


def nesterov(problem: Problem, steps: int) -> dict:
    settings = {"momentum": problem.settings["momentum"]}
    return _run(problem, steps, "nesterov", settings, _heavy_ball(problem, nesterov=True))


def adam(problem: Problem, steps: int) -> dict:
    lr = problem.learning_rate
    beta1, beta2, eps = (problem.settings[name] for name in ("beta1", "beta2", "eps"))
    mean = np.zeros(len(problem.parameter_index))
    mean_square = np.zeros(len(problem.parameter_index))

    def step(g: np.ndarray, t: int) -> tuple[np.ndarray, None]:
        nonlocal mean, mean_square
        mean = beta1 * mean + (1 - beta1) * g
        mean_square = beta2 * mean_square + (1 - beta2) * g * g
        # torch.optim.Adam's order of operations: bias-correct the step size and the root separately.
        denominator = np.sqrt(mean_square) / math.sqrt(1 - beta2**t) + eps
        return -(lr / (1 - beta1**t)) * mean / denominator, None

    settings = {"beta1": beta1, "beta2": beta2, "eps": eps}
    return _run(problem, steps, "adam", settings, step)


def rmsprop(problem: Problem, steps: int) -> dict:
    lr, alpha, eps = problem.learning_rate, problem.settings["alpha"], problem.settings["eps"]
    mean_square = np.zeros(len(problem.parameter_index))

    def step(g: np.ndarray, _: int) -> tuple[np.ndarray, None]:
        nonlocal mean_square
        mean_square = alpha * mean_square + (1 - alpha) * g * g
        return -lr * g / (np.sqrt(mean_square) + eps), None

    return _run(problem, steps, "rmsprop", {"alpha": alpha, "eps": eps}, step)


@_quiet
def sequential(problem: Problem, steps: int) -> dict:
    lr = problem.learning_rate
    values = problem.start.copy()
    records: list[dict] = []
    _, gradient = problem.loss_and_gradient(values)
    for step in range(1, steps + 1):
        at_start = gradient
        updates = []
        for name, i in zip(problem.parameters, problem.parameter_index, strict=True):
            # The gradient at the partly updated point: the parameters before this one have moved.
            # One evaluation after each update gives both the loss there and the next partial.
            partial = float(gradient[i])
            values = values.copy()
            values[i] -= lr * partial
            loss, gradient = problem.loss_and_gradient(values)
            if not _finite(loss, values[problem.parameter_index]) or not math.isfinite(partial):
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


def batches(rows: int, size: int, seed: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(epoch, row indices) for ever: each epoch goes through the rows in order (or in a fresh
    permutation from numpy.random.default_rng(seed)), ``size`` rows a batch, the last batch of an
    epoch holding what is left, like torch's DataLoader with drop_last=False."""
    generator = np.random.default_rng(seed) if seed is not None else None
    epoch = 0
    while True:
        epoch += 1
        order = generator.permutation(rows) if generator is not None else np.arange(rows)
        for first in range(0, rows, size):
            yield epoch, order[first : first + size]


@_quiet
def minibatch(problem: Problem, steps: int) -> dict:
    lr, index = problem.learning_rate, problem.parameter_index
    size, seed = problem.checked.batch_size, problem.checked.shuffle_seed
    settings = {"batch_size": size, "shuffle_seed": seed}
    values = problem.start.copy()
    records: list[dict] = []
    loss, full_gradient = problem.loss_and_gradient(values)
    schedule = batches(problem.rows, size, seed)
    for step in range(1, steps + 1):
        epoch, rows = next(schedule)
        batch_loss, batch_gradient = problem.loss_and_gradient(values, rows)
        g, full = batch_gradient[index], full_gradient[index]
        if not _finite(batch_loss, g):
            return _trial(problem, "minibatch", settings, records, step)
        values = values.copy()
        values[index] -= lr * g
        new_loss, full_gradient = problem.loss_and_gradient(values)
        if not _finite(new_loss, values[index]):
            return _trial(problem, "minibatch", settings, records, step)
        records.append(
            {
                "step": step,
                "epoch": epoch,
                "batch": [int(row) for row in rows],
                "point": problem.point_of(values),
                "batch_loss": batch_loss,
                "batch_loss_after": problem.loss(values, rows),
                "loss": new_loss,
                "loss_went_up": new_loss > loss,
                "gradient": _named(problem, g),
                "full_gradient": _named(problem, full),
                "gradient_norm": float(np.linalg.norm(g)),
                "full_gradient_norm": float(np.linalg.norm(full)),
                "angle_to_full_gradient": angle_degrees(g, full),
            }
        )
        loss = new_loss
    return _trial(problem, "minibatch", settings, records, None)


TRIALS: dict[str, Callable[[Problem, int], dict]] = {
    "simultaneous": simultaneous,
    "sequential": sequential,
    "momentum": momentum,
    "nesterov": nesterov,
    "adam": adam,
    "rmsprop": rmsprop,
    "minibatch": minibatch,
}
