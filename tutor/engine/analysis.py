"""Analysis of the first simultaneous step: does it lower the loss, by how much, and up to which η.

Taylor's theorem gives f(x − ηg) − f(x) = −η‖g‖² + ½η²·gᵀHg + O(η³). The first-order gain −η‖g‖²
is negative whenever g ≠ 0 and shrinks like η, the rest like η²: that is why a small enough step
always helps. The interplay the forum thread worries about (moving z changes y's slope) lives in the
off-diagonal part of gᵀHg. The bound on η is found on the real function, not on the quadratic model.
"""

from __future__ import annotations

import math

import numpy as np

from tutor.engine.numbers import fmt
from tutor.engine.problem import Problem

GRID_PER_DECADE = 80
BISECTION_STEPS = 200
# The least rounding noise assumed in a change of f, in units in the last place of f(x): each of the
# two values it subtracts is off by up to about an ulp, so noise reaches about 2 ulps; twice that.
NOISE_ULPS = 4


class LineSearch:
    """φ(η) = f(x − ηg) − f(x) along the negative gradient of the parameters."""

    def __init__(self, problem: Problem, loss: float, gradient: np.ndarray, curvature: float | None = None):
        """``curvature`` is gᵀHg when the Hessian is known (it sharpens the model noise_floor uses)."""
        self.problem = problem
        self.loss = loss
        self.direction = np.zeros_like(problem.start)
        self.direction[problem.parameter_index] = gradient[problem.parameter_index]
        self.norm_squared = float(self.direction @ self.direction)
        self.curvature = curvature if curvature is not None and math.isfinite(curvature) else 0.0

    def change(self, rates: np.ndarray) -> np.ndarray:
        columns = self.problem.start[:, None] - self.direction[:, None] * rates[None, :]
        return self.problem.loss_along(columns) - self.loss

    def change_at(self, rate: float) -> float:
        # One point: the scalar path (bisection and golden-section call this a hundred times).
        return self.problem.loss(self.problem.start - rate * self.direction) - self.loss

    def search_range(self) -> tuple[float, float]:
        # From well below the learner's η to well above it; the learning-rate limits keep this within
        # about 27 decades, so the grid stays a few thousand points.
        rate = self.problem.learning_rate
        return min(1e-12, rate * 1e-6), max(1e6, rate * 1e3)

    def noise_floor(self, rates: np.ndarray, changes: np.ndarray) -> float:
        """The largest change of f that rounding alone may cause along the step. Measured, not assumed
        from |f|: where terms cancel it is many ulps of f (0.701x² + 2.905x + 3.971 is 0.96 at
        x = -2.05, from terms near 6), while near f = 1e9 the whole decrease can be 8 ulps (1e9 + x² at
        x = 0.001). Where Taylor's model is exact far below rounding (the first decade of the grid, and
        steps whose first-order change is under one ulp of f), what the grid sees beyond the model is
        rounding: the floor is twice the largest of that, and at least NOISE_ULPS ulps."""
        ulp = np.spacing(abs(self.loss))
        gain = rates * self.norm_squared  # the first-order decrease η‖g‖²
        deviation = np.abs(changes - (-gain + 0.5 * rates**2 * self.curvature))
        sample = ((rates <= 10 * rates[0]) | (gain <= ulp)) & np.isfinite(deviation)
        return max(NOISE_ULPS * ulp, 2 * float(np.max(deviation[sample], initial=0.0)))

    def max_decreasing(self) -> tuple[float | None, str, np.ndarray, np.ndarray]:
        """The first η > 0 where the loss stops going down: bracket on a log grid, refine by bisection."""
        low, high = self.search_range()
        rates = np.logspace(
            math.log10(low), math.log10(high), int(math.log10(high / low) * GRID_PER_DECADE) + 1
        )
        changes = self.change(rates)
        # At the tiniest steps the change is lost in the rounding of f(x) and its sign is noise. Start
        # from the first step whose decrease clearly exceeds that noise floor, so that noise flipping
        # sign between two tiny steps is not taken for the loss turning back up.
        noise = self.noise_floor(rates, changes)
        decreasing = changes < 0
        clearly = changes < -noise
        first = int(np.argmax(clearly)) if clearly.any() else None
        if first is None:
            return None, "the loss does not go down for any step size I tried", rates, changes
        if first > 0 and not np.all(np.abs(changes[:first]) <= noise):
            return (
                None,
                f"the loss does not go down even for steps as small as {fmt(rates[0])}",
                rates,
                changes,
            )
        stops = ~decreasing[first:]
        if not stops.any():
            return (
                None,
                f"the loss kept going down for every learning rate up to {fmt(high)} that I tried",
                rates,
                changes,
            )
        crossing = first + int(np.argmax(stops))
        left, right = float(rates[crossing - 1]), float(rates[crossing])
        undefined = not math.isfinite(changes[crossing])
        for _ in range(BISECTION_STEPS):
            middle = 0.5 * (left + right)
            if middle in (left, right):
                break
            if self.change_at(middle) < 0:
                left = middle
            else:
                right = middle
        if undefined and not math.isfinite(self.change_at(right)):
            reason = "beyond it f is not a finite real number along the step"
        else:
            reason = "the first learning rate at which the step no longer lowers the loss"
        return right, reason, rates, changes

    def best(
        self, bound: float | None, rates: np.ndarray, changes: np.ndarray
    ) -> tuple[float | None, float | None]:
        """The η that lowers f most along −g, within (0, bound]; refined by golden-section search."""
        usable = np.isfinite(changes) & (changes < 0)
        if bound is not None:
            usable &= rates <= bound
        if not usable.any():
            return None, None
        candidates = np.where(usable, changes, np.inf)
        at = int(np.argmin(candidates))
        if bound is None and at == len(rates) - 1:
            return None, None  # still falling at the end of the range: no minimum found
        left = float(rates[max(at - 1, 0)])
        right = float(rates[min(at + 1, len(rates) - 1)])
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(100):
            a = right - ratio * (right - left)
            b = left + ratio * (right - left)
            if self.change_at(a) < self.change_at(b):
                right = b
            else:
                left = a
            if right - left <= 1e-12 * right:
                break
        rate = 0.5 * (left + right)
        change = self.change_at(rate)
        if not change <= changes[at]:
            rate, change = float(rates[at]), float(changes[at])
        return rate, change


def analyse_first_step(
    problem: Problem, loss: float, gradient: np.ndarray, hessian: np.ndarray | None
) -> dict:
    """``gradient`` over every symbol (as Problem.start); ``hessian`` over the parameters only."""
    lr = problem.learning_rate
    g = gradient[problem.parameter_index]
    # Products in NumPy floats: a partial above about 1e154 squares to infinity (reported as null)
    # where a Python float's ** would raise OverflowError.
    squares = g * g
    shares = {name: -lr * float(square) for name, square in zip(problem.parameters, squares, strict=True)}
    norm_squared = float(np.sum(squares))
    first_order = -lr * norm_squared

    curvature = second_own = second_interplay = second = quadratic = None
    if hessian is not None and np.all(np.isfinite(hessian)):
        diagonal = np.diag(hessian)
        own = float(np.sum(diagonal * squares))
        # The off-diagonal part on its own, not the whole minus the diagonal: with one parameter it is
        # 0 even when the diagonal part overflows (infinity minus infinity would be NaN).
        interplay = float(g @ (hessian - np.diag(diagonal)) @ g)
        # gᵀHg as f's second derivative along g itself (one Hessian-vector product), not the sum of
        # the parts, where rounding in own and interplay does not cancel.
        curvature = problem.curvature(problem.start, g)
        second = 0.5 * lr**2 * curvature
        second_own = 0.5 * lr**2 * own
        second_interplay = 0.5 * lr**2 * interplay
        quadratic = 2 * norm_squared / curvature if curvature > 0 else None

    search = LineSearch(problem, loss, gradient, curvature)
    actual = search.change_at(lr)
    bound, reason, rates, changes = search.max_decreasing()
    best_rate, best_change = search.best(bound, rates, changes)
    shrinking = []
    for k in range(4):
        rate = lr / 2**k
        predicted = -rate * norm_squared
        change = search.change_at(rate)
        shrinking.append(
            {
                "learning_rate": rate,
                "predicted": predicted,
                "actual": change,
                "gap": change - predicted,
                "gap_over_lr_squared": (change - predicted) / rate**2,
            }
        )
    if not math.isfinite(actual):
        verdict = "undefined"
    else:
        verdict = "decreases" if actual < 0 else "increases" if actual > 0 else "unchanged"
    remainder = actual - first_order - second if second is not None else None
    return {
        "learning_rate": lr,
        "actual_change": actual,
        "first_order_change": first_order,
        "first_order_shares": shares,
        "second_order_change": second,
        "second_order_own": second_own,
        "second_order_interplay": second_interplay,
        "remainder": remainder,
        "max_decreasing_learning_rate": bound,
        "max_decreasing_reason": reason,
        "quadratic_estimate": quadratic,
        "best_learning_rate": best_rate,
        "best_change": best_change,
        "search_range": list(search.search_range()),
        "shrinking": shrinking,
        "verdict": verdict,
        "guaranteed_below": bound,
    }
