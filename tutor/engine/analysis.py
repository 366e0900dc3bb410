"""Analysis of the first simultaneous step: does it lower the loss, by how much, and up to which η.

Taylor's theorem gives f(x − ηg) − f(x) = −η‖g‖² + ½η²·gᵀHg + O(η³). The first-order gain −η‖g‖²
is negative whenever g ≠ 0 and shrinks like η, the rest like η²: that is why a small enough step
always helps. The interplay the forum thread worries about (moving z changes y's slope) lives in the
off-diagonal part of gᵀHg. The bound on η is found on the real function, not on the quadratic model.

What the numbers cannot say is said too: at a stationary point the Hessian decides what kind it is (and
which direction lowers f, if any); at a kink Taylor's expansion does not apply; where a step leaves f's
domain the search stops there; and where float64 cannot resolve the changes of f (f = 1e9 changing by
1e-6), φ is evaluated again with 50 significant digits (precise.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tutor.engine.numbers import fmt
from tutor.engine.precise import DIGITS, PreciseLine, PreciseLoss
from tutor.engine.problem import Problem

GRID_PER_DECADE = 80
BISECTION_STEPS = 200
# The least rounding noise assumed in a change of f, in units in the last place of f(x): each of the
# two values it subtracts is off by up to about an ulp, so noise reaches about 2 ulps; twice that.
NOISE_ULPS = 4
# float64 is trusted with a change of f that is at least this many ulps of f: its rounding (a few ulps)
# then stays below the 6th significant digit the answer prints. Smaller changes are computed precisely.
RESOLVED_ULPS = 2**20
# A sum of products in float64 is off by up to about (number of terms)·ε of the sum of their sizes;
# gᵀHg within this many ε of Σ|gᵢHᵢⱼgⱼ| (which is at least |own| + |interplay|) is 0 up to rounding.
CURVATURE_ROUNDING_EPS = 64
# Evaluations at 50 digits are ~10 µs per operation of the tree: the precise search gets this many
# tree operations (about a second or two), on a coarser grid when the tree or the data is large.
PRECISE_OPERATIONS = 150_000
MIN_PRECISE_PER_DECADE = 10
# The explanation prints 6 significant digits: float64 and 50 digits agree when closer than this.
PRINTED_DIGITS_RELATIVE = 1e-7
# Halvings of the learner's η until this many steps stay inside f's domain (at most MAX_HALVINGS).
SHRINKING_ROWS = 4
MAX_HALVINGS = 40
# Sampled local maxima of φ below 0 checked for a rise to 0 hidden between grid points, at most.
MAX_PEAKS = 200
# Approaching the domain's edge a decade at a time, f falls without bound when each decade's drop is
# at least this fraction of the one before (log: 1; x**p with a limit: 10**-p).
UNBOUNDED_RATIO = 0.9
# Steps tried when showing that a direction lowers f at a stationary point (times max(1, ‖p‖)).
PROBE_STEPS = (1e-3, 1e-2, 1e-1, 1.0)


class LineSearch:
    """φ(η) = f(x − ηg) − f(x) along the negative gradient of the parameters: in float64, or with 50
    digits once ``use_precise`` switched it (when float64 cannot resolve the changes)."""

    def __init__(self, problem: Problem, loss: float, gradient: np.ndarray, curvature: float | None = None):
        """``curvature`` is gᵀHg when the Hessian is known (it sharpens the model noise_floor uses)."""
        self.problem = problem
        self.loss = loss
        self.direction = np.zeros_like(problem.start)
        self.direction[problem.parameter_index] = gradient[problem.parameter_index]
        self.norm_squared = float(self.direction @ self.direction)
        self.curvature = curvature if curvature is not None and math.isfinite(curvature) else 0.0
        self.precise: PreciseLine | None = None
        self.per_decade = GRID_PER_DECADE
        self.edge: tuple[float, float] | None = None  # where the step leaves f's domain, once found
        self.noise = NOISE_ULPS * float(np.spacing(abs(loss)))  # rounding in a change, once measured

    # --- float64 or 50 digits -----------------------------------------------------------------------

    def precise_line(self) -> PreciseLine:
        problem = self.problem
        exact = PreciseLoss(
            problem.checked.parsed.tree, problem.compiled.names, problem.data_index, problem.data
        )
        return PreciseLine(exact, problem.start, self.direction)

    def precise_step(self) -> bool:
        """Switch to 50 digits for the learner's step and its halvings only; False if even that is
        beyond the budget."""
        line = self.precise_line()
        if line.cost * (MAX_HALVINGS + 2) > PRECISE_OPERATIONS:
            return False
        self.precise = line
        return True

    def float_step_disagrees(self, rate: float, in_float: float) -> bool:
        """Whether the step's change in float64 and at 50 digits differ in the digits the answer prints
        (checked when one evaluation at 50 digits is cheap)."""
        line = self.precise_line()
        if line.cost > PRECISE_OPERATIONS // 100:
            return False
        exact = line.change(rate)
        if math.isfinite(exact) != math.isfinite(in_float):
            return True
        return math.isfinite(exact) and abs(exact - in_float) > PRINTED_DIGITS_RELATIVE * max(
            abs(exact), abs(in_float)
        )

    def use_precise(self) -> bool:
        """Switch to 50 digits, on a grid as fine as the budget allows; False if not even the coarsest
        grid fits (the tree times the data rows is too large)."""
        line = self.precise_line()
        low, high = self.search_range()
        decades = math.log10(high / low)
        # The grid, the bisection (about 60 evaluations), the best η (about 200) and the halvings.
        per_decade = int((PRECISE_OPERATIONS / line.cost - 300) / decades) if line.cost else 0
        if per_decade < MIN_PRECISE_PER_DECADE:
            return False
        self.precise = line
        self.per_decade = min(GRID_PER_DECADE, per_decade)
        return True

    def change(self, rates: np.ndarray) -> np.ndarray:
        if self.precise is not None:
            return np.array([self.precise.change(float(rate)) for rate in rates])
        columns = self.problem.start[:, None] - self.direction[:, None] * rates[None, :]
        return self.problem.loss_along(columns) - self.loss

    def change_at(self, rate: float) -> float:
        if self.precise is not None:
            return self.precise.change(rate)
        # One point: the scalar path (bisection and golden-section call this a hundred times).
        return self.problem.loss(self.problem.start - rate * self.direction) - self.loss

    def float_change_at(self, rate: float) -> float:
        """The change in float64, as an optimizer's step computes it, whichever arithmetic the search uses."""
        return self.problem.loss(self.problem.start - rate * self.direction) - self.loss

    # --- the grid -------------------------------------------------------------------------------------

    def search_range(self) -> tuple[float, float]:
        # From well below the learner's η to well above it; the learning-rate limits keep this within
        # about 27 decades, so the grid stays a few thousand points.
        rate = self.problem.learning_rate
        return min(1e-12, rate * 1e-6), max(1e6, rate * 1e3)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.search_range()
        rates = np.logspace(
            math.log10(low), math.log10(high), int(math.log10(high / low) * self.per_decade) + 1
        )
        return rates, self.change(rates)

    def noise_floor(self, rates: np.ndarray, changes: np.ndarray) -> float:
        """The largest change of f that rounding alone may cause along the step. Measured, not assumed
        from |f|: where terms cancel it is many ulps of f (0.701x² + 2.905x + 3.971 is 0.96 at
        x = -2.05, from terms near 6), while near f = 1e9 the whole decrease can be 8 ulps (1e9 + x² at
        x = 0.001). Where Taylor's model is exact far below rounding (the first decade of the grid, and
        steps whose first-order change is under one ulp of f), what the grid sees beyond the model is
        rounding: the floor is twice the largest of that, and at least NOISE_ULPS ulps. At 50 digits
        the floor is that many digits below f."""
        ulp = float(np.spacing(abs(self.loss)))
        if self.precise is not None:
            self.noise = abs(self.loss) * 10.0 ** (2 - DIGITS)
            return self.noise
        gain = rates * self.norm_squared  # the first-order decrease η‖g‖²
        deviation = np.abs(changes - (-gain + 0.5 * rates**2 * self.curvature))
        sample = ((rates <= 10 * rates[0]) | (gain <= ulp)) & np.isfinite(deviation)
        self.noise = max(NOISE_ULPS * ulp, 2 * float(np.max(deviation[sample], initial=0.0)))
        return self.noise

    # --- the bound ------------------------------------------------------------------------------------

    def max_decreasing(self, rates: np.ndarray, changes: np.ndarray) -> tuple[float | None, str]:
        """The first η > 0 where the loss stops going down: bracket on the grid, refine by bisection."""
        high = float(rates[-1])
        # At the tiniest steps the change is lost in the rounding of f(x) and its sign is noise. Start
        # from the first step whose decrease clearly exceeds that noise floor, so that noise flipping
        # sign between two tiny steps is not taken for the loss turning back up.
        noise = self.noise_floor(rates, changes)
        decreasing = changes < 0
        clearly = changes < -noise
        first = int(np.argmax(clearly)) if clearly.any() else None
        if first is None:
            return None, f"the loss does not go down for any η searched, from {fmt(rates[0])} to {fmt(high)}"
        if first > 0 and not np.all(np.abs(changes[:first]) <= noise):
            return None, f"the loss does not go down even for steps as small as {fmt(rates[0])}"
        stops = ~decreasing[first:]
        crossing = first + int(np.argmax(stops)) if stops.any() else len(rates)
        hidden = self._hidden_rise(rates, changes, first, crossing)
        if hidden is not None:
            (left, right), undefined = hidden, False
        elif crossing == len(rates):
            return None, f"the loss went down for every η searched, up to {fmt(high)}"
        else:
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
            self.edge = (left, right)  # the step leaves f's domain between these two
            reason = "beyond it the step leaves f's domain (f is not a finite real number there)"
        else:
            reason = "the first learning rate at which the step no longer lowers the loss"
        return right, reason

    def _hidden_rise(
        self, rates: np.ndarray, changes: np.ndarray, start: int, stop: int
    ) -> tuple[float, float] | None:
        """A rise back to f(x) between two grid points that the grid did not see: where the sampled
        changes have a local maximum (below 0), the true maximum nearby is found by golden-section
        search; if it reaches 0 the loss stopped going down there. (φ = sin(y²) − sin(y₀²) oscillates
        faster and faster: its first return to 0 can be narrower than the grid's spacing.)"""
        # A peak standing above its neighbours by more than rounding: a flat stretch of float64 noise
        # (f rounded to one value) has many of those, none real.
        noise = self.noise
        peaks = [
            i
            for i in range(max(start, 1), min(stop, len(rates) - 1))
            if changes[i - 1] + noise < changes[i] >= changes[i + 1] + noise
        ][:MAX_PEAKS]
        for i in peaks:
            a, b = float(rates[i - 1]), float(rates[i + 1])
            peak, value = _golden_minimum(lambda eta: -self.change_at(eta), a, b)
            if -value >= 0:
                return a, peak
        return None

    # --- the best η ------------------------------------------------------------------------------------

    def best(
        self, bound: float | None, rates: np.ndarray, changes: np.ndarray
    ) -> tuple[float | None, float | None, str]:
        """The η that lowers f most along −g, within (0, bound], with why there is none when there is
        none: f keeps falling to the end of the range, or without bound toward the domain's edge."""
        finite = np.isfinite(changes)
        usable = finite & (changes < 0)
        if bound is not None:
            usable &= rates <= bound
        if not usable.any():
            return None, None, "no step along −g lowers the loss"
        candidates = np.where(usable, changes, np.inf)
        at = int(np.argmin(candidates))
        noise = self.noise_floor(rates, changes)
        if bound is None and finite[-1] and changes[-1] <= changes[at] + noise:
            # Where the last grid values are all the same number, rounding, not f, stopped the fall:
            # float64 holds f at the value it approaches along the step.
            moving = np.flatnonzero(changes != changes[-1])
            level = int(moving[-1]) + 1 if moving.size else 0
            if level < len(rates) - 1:
                why = (
                    "f keeps falling along −g toward a value it never reaches (for large η float64 rounds "
                    "f to that limit, so the change stops moving)"
                )
            else:
                why = f"f keeps falling along −g to the end of the search, η = {fmt(rates[-1])}"
            return None, None, f"no best η: {why}"
        edge = self.edge
        next_undefined = at + 1 < len(rates) and not finite[at + 1]
        if next_undefined and edge is None:
            edge = self._domain_edge(float(rates[at]), float(rates[at + 1]))
        if next_undefined and edge is not None:
            return self._best_at_edge(float(rates[at]), edge, float(changes[at]), bound)
        return (*self._golden(rates, changes, at), "the lowest point of f along −g")

    def _golden(self, rates: np.ndarray, changes: np.ndarray, at: int) -> tuple[float, float]:
        left = float(rates[max(at - 1, 0)])
        right = float(rates[min(at + 1, len(rates) - 1)])
        rate, change = _golden_minimum(self.change_at, left, right)
        if not change <= changes[at]:
            rate, change = float(rates[at]), float(changes[at])
        return rate, change

    def _domain_edge(self, inside: float, outside: float) -> tuple[float, float] | None:
        """Where the step leaves f's domain, between a defined and an undefined η, by bisection."""
        for _ in range(BISECTION_STEPS):
            middle = 0.5 * (inside + outside)
            if middle in (inside, outside):
                break
            if math.isfinite(self.change_at(middle)):
                inside = middle
            else:
                outside = middle
        return inside, outside

    def _best_at_edge(
        self, grid_rate: float, edge: tuple[float, float], grid_change: float, bound: float | None
    ) -> tuple[float | None, float | None, str]:
        """The lowest point is at the domain's edge (sqrt(x) at x = 0) or there is none because f falls
        without bound toward it (log(x) as x → 0). Read from φ approaching the edge: each decade
        closer falls by a shrinking amount when f has a limit there, by as much or more when not."""
        inside, outside = edge
        gap = inside - grid_rate
        rates: list[float] = []
        for k in range(17):  # one decade closer each time, while float64 still tells them apart
            rate = inside - gap * 10.0**-k
            if rates and rate <= rates[-1]:
                break
            rates.append(rate)
        approach = [c for c in (self.change_at(rate) for rate in rates) if math.isfinite(c)]
        drops = [a - b for a, b in zip(approach, approach[1:], strict=False)]
        falling = len(drops) >= 4 and all(d > 0 for d in drops[-4:])
        # log(x) falls by the same amount each decade closer, 1/x by more; x**p (p > 0) by 10**-p as
        # much: a ratio near 1 or above means no limit.
        unbounded = falling and all(
            later >= UNBOUNDED_RATIO * earlier
            for earlier, later in zip(drops[-4:-1], drops[-3:], strict=True)
        )
        at_edge = self.change_at(inside)
        if unbounded or at_edge == -math.inf:
            return (
                None,
                None,
                f"no best η: f falls without bound as η approaches {fmt(bound if bound is not None else outside)}, "
                "where the step leaves f's domain",
            )
        if math.isfinite(at_edge) and at_edge <= grid_change:
            return inside, at_edge, f"at the edge of f's domain: beyond η = {fmt(inside)} f has no real value"
        return grid_rate, grid_change, "the lowest point of f along −g"

    # --- halvings -------------------------------------------------------------------------------------

    def shrinking(self, rate: float, norm_squared: float) -> list[dict]:
        """η, η/2, η/4, ... until SHRINKING_ROWS steps stay inside f's domain: predicted −η‖g‖² against
        the actual change."""
        rows: list[dict] = []
        for k in range(MAX_HALVINGS + 1):
            eta = rate / 2**k
            predicted = -eta * norm_squared
            change = self.change_at(eta)
            defined = math.isfinite(change)
            rows.append(
                {
                    "learning_rate": eta,
                    "predicted": predicted,
                    "actual": change,
                    "gap": change - predicted,
                    "gap_over_lr_squared": (change - predicted) / eta**2,
                    "inside_domain": defined,
                }
            )
            if sum(row["inside_domain"] for row in rows) >= SHRINKING_ROWS:
                break
        return rows


def _golden_minimum(function, left: float, right: float) -> tuple[float, float]:
    """The lowest point of ``function`` on [left, right] by golden-section search, and its value."""
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        a = right - ratio * (right - left)
        b = left + ratio * (right - left)
        if function(a) < function(b):
            right = b
        else:
            left = a
        if right - left <= 1e-12 * right:
            break
    rate = 0.5 * (left + right)
    return rate, function(rate)


def _second_order(g: np.ndarray, hessian: np.ndarray, along: float) -> tuple[float, float, float]:
    """gᵀHg split into each parameter's own curvature (diagonal) and the interplay (off-diagonal), with
    a total within rounding of 0 set to 0 (sqrt(x²+y²) at (3, 4): ±1.65888 cancel exactly, in float64
    to 5e-17). The total is ``along``, f's second derivative along g itself (one Hessian-vector
    product), where the rounding of the two parts does not add up."""
    squares = g * g
    diagonal = np.diag(hessian)
    own = float(np.sum(diagonal * squares))
    # The off-diagonal part on its own, not the whole minus the diagonal: with one parameter it is
    # 0 even when the diagonal part overflows (infinity minus infinity would be NaN).
    interplay = float(g @ (hessian - np.diag(diagonal)) @ g)
    curvature = along
    sizes = float(np.abs(g) @ np.abs(hessian) @ np.abs(g))
    if abs(curvature) <= CURVATURE_ROUNDING_EPS * np.finfo(float).eps * sizes:
        curvature = 0.0
    return own, interplay, curvature


def analyse_first_step(
    problem: Problem,
    loss: float,
    gradient: np.ndarray,
    hessian: np.ndarray | None,
    kinks: Sequence[str] = (),
) -> dict:
    """``gradient`` over every symbol (as Problem.start); ``hessian`` over the parameters only;
    ``kinks`` the labels of the nodes that sit exactly on a kink at the start."""
    lr = problem.learning_rate
    g = gradient[problem.parameter_index]
    # Products in NumPy floats: a partial above about 1e154 squares to infinity (reported as null)
    # where a Python float's ** would raise OverflowError.
    squares = g * g
    shares = {name: -lr * float(square) for name, square in zip(problem.parameters, squares, strict=True)}
    norm_squared = float(np.sum(squares))
    first_order = -lr * norm_squared

    curvature = second_own = second_interplay = second = quadratic = None
    taylor_applies = not kinks
    if hessian is not None and np.all(np.isfinite(hessian)):
        own, interplay, curvature = _second_order(g, hessian, problem.curvature(problem.start, g))
        if taylor_applies:
            second = 0.5 * lr**2 * curvature
            second_own = 0.5 * lr**2 * own
            second_interplay = 0.5 * lr**2 * interplay
            quadratic = 2 * norm_squared / curvature if curvature > 0 else None

    search = LineSearch(problem, loss, gradient, curvature if taylor_applies else None)
    ulp = float(np.spacing(abs(loss)))
    high_precision = precise_search = False
    if norm_squared == 0:
        bound, reason = None, "the gradient is 0: a step along −g does not move"
        best_rate = best_change = None
        best_reason = "no best η: the step does not move"
    else:
        rates, changes = search.grid()
        deepest = float(-np.min(changes[np.isfinite(changes)], initial=0.0))
        if deepest < RESOLVED_ULPS * ulp and search.use_precise():
            # float64 cannot tell these changes from rounding: the search runs again at 50 digits.
            high_precision = precise_search = True
            rates, changes = search.grid()
        bound, reason = search.max_decreasing(rates, changes)
        best_rate, best_change, best_reason = search.best(bound, rates, changes)

    float_actual = search.float_change_at(lr)
    # The learner's own step, and its halvings, in 50 digits when float64 cannot resolve them: when
    # the step is a few spacings of f, or when float64 and 50 digits disagree on it (terms far larger
    # than f cancel: sin(3z)·(x − z) where the step takes z to x).
    if not high_precision and norm_squared > 0:
        if 0 < abs(first_order) < RESOLVED_ULPS * ulp or search.float_step_disagrees(lr, float_actual):
            high_precision = search.precise_step()
    actual = search.change_at(lr) if high_precision else float_actual
    shrinking = search.shrinking(lr, norm_squared)
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
        "taylor_applies": taylor_applies,
        "max_decreasing_learning_rate": bound,
        "max_decreasing_reason": reason,
        "quadratic_estimate": quadratic,
        "best_learning_rate": best_rate,
        "best_change": best_change,
        "best_reason": best_reason,
        "search_range": list(search.search_range()),
        "shrinking": shrinking,
        "verdict": verdict,
        "guaranteed_below": bound,
        "resolution": {
            "loss_spacing": ulp,
            "high_precision": high_precision,
            "precise_search": precise_search,  # the bound and the best η too, not only the step
            # The rounding a reported change may carry: measured along the step in float64 (at least
            # NOISE_ULPS spacings of f), or 50 digits below f when computed precisely.
            "change_noise": abs(loss) * 10.0 ** (2 - DIGITS) if high_precision else search.noise,
            "float64_actual_change": float_actual,
        },
        "stationary": classify_stationary(problem, loss, hessian, kinks) if norm_squared == 0 else None,
    }


def classify_stationary(
    problem: Problem, loss: float, hessian: np.ndarray | None, kinks: Sequence[str]
) -> dict:
    """What kind of point a zero gradient is, from the Hessian where it decides, and a direction that
    lowers f when there is one, shown on f itself. At a kink the Hessian (and the averaged slope) say
    nothing: the coordinate directions and the Hessian's are tried on f instead."""
    names = problem.parameters
    eigenvalues: list[float] = []
    vectors = np.eye(len(names))
    if hessian is not None and np.all(np.isfinite(hessian)):
        symmetric = 0.5 * (hessian + hessian.T)
        values, vectors = np.linalg.eigh(symmetric)
        scale = float(np.max(np.abs(values), initial=0.0))
        tolerance = CURVATURE_ROUNDING_EPS * np.finfo(float).eps * scale
        eigenvalues = [0.0 if abs(v) <= tolerance else float(v) for v in values]
    negative = [i for i, v in enumerate(eigenvalues) if v < 0]
    positive = [i for i, v in enumerate(eigenvalues) if v > 0]
    if kinks:
        kind = "kink"
    elif not eigenvalues:
        kind = "inconclusive"
    elif negative and positive:
        kind = "saddle"
    elif len(negative) == len(eigenvalues):
        kind = "maximum"
    elif len(positive) == len(eigenvalues):
        kind = "minimum"
    else:
        kind = "inconclusive"  # some curvature is 0: terms beyond second order decide

    descent = None
    if kind != "minimum":
        directions: list[tuple[np.ndarray, float | None]] = []
        if negative:
            most = min(negative, key=lambda i: eigenvalues[i])
            directions.append((vectors[:, most], eigenvalues[most]))
        zero = [i for i, v in enumerate(eigenvalues) if v == 0]
        directions += [(vectors[:, i], 0.0) for i in zero]
        if kind == "kink" or not eigenvalues:
            directions += [(row, None) for row in np.eye(len(names))]
        descent = _probe(problem, loss, directions)
    return {
        "kind": kind,
        "eigenvalues": eigenvalues or None,
        # Each eigenvalue's direction (a unit vector over the parameters), in the same order.
        "eigenvectors": [
            dict(zip(names, map(float, vectors[:, i]), strict=True)) for i in range(len(eigenvalues))
        ]
        or None,
        "descent": descent,
    }


def _probe(problem: Problem, loss: float, directions: list[tuple[np.ndarray, float | None]]) -> dict | None:
    """The first direction (in either sense) along which a short move lowers f clearly above rounding:
    the move, its length and the change of f; None if none of them does."""
    start = problem.start
    index = problem.parameter_index
    scale = max(1.0, float(np.linalg.norm(start[index])))
    noise = NOISE_ULPS * float(np.spacing(abs(loss)))
    for length in PROBE_STEPS:
        for vector, curvature in directions:
            # The sign that makes the largest component positive, then its opposite.
            base = vector if vector[np.argmax(np.abs(vector))] > 0 else -vector
            for sense in (base, -base):
                values = start.copy()
                values[index] = start[index] + length * scale * sense
                change = problem.loss(values) - loss
                if change < -noise:
                    return {
                        "direction": dict(zip(problem.parameters, (float(v) for v in sense), strict=True)),
                        "curvature": curvature,
                        "step": length * scale,
                        "change": float(change),
                    }
    return None
