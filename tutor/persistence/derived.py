"""What a reviewer filters on, derived from an analysis document: the `cases` columns beside it.

Pure functions of the stored document (no database, no engine), so the repository fills the columns
on save and migration 0005 backfills them from documents saved before they existed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

# The headline of simultaneous against sequential, in the order a reviewer reads them.
OUTCOMES = ("sequential_better", "simultaneous_better", "tie", "loss_went_up", "diverged")
# Special cases a reviewer can filter on (a diverged trial has its own column).
SPECIAL_CASES = ("stationary", "kink", "undefined")

# Final losses this close count as a tie: with one parameter the two methods are the same sums, and
# rounding must not make one of them "better".
TIE_RELATIVE = 1e-12
TIE_ABSOLUTE = 1e-300


def losses_went_up(trial: Mapping[str, Any]) -> Iterator[bool]:
    """For each step of the trial, whether the loss after it is above the loss before it.

    Every kind of trial has a loss after each step (for mini-batches, the full loss), and a
    sequential step is judged as a whole, after all its updates, as the other methods are."""
    before = trial.get("initial_loss")
    for step in trial.get("steps") or []:
        after = step.get("loss")
        yield before is not None and after is not None and after > before
        before = after


def loss_increases(trials: Sequence[Mapping[str, Any]]) -> int:
    """Steps, over every trial, after which the loss was higher than before."""
    return sum(sum(losses_went_up(trial)) for trial in trials)


def sign_flips(trials: Sequence[Mapping[str, Any]]) -> int:
    """Sequential updates whose partial had changed sign since the start of their step."""
    return sum(
        1
        for trial in trials
        for step in trial.get("steps") or []
        for update in step.get("updates") or []
        if update.get("sign_flip")
    )


def outcome_of(trials: Sequence[Mapping[str, Any]]) -> str | None:
    """Simultaneous against sequential in one word; None when the two are not both there.

    "diverged" when any trial diverged; else "loss_went_up" when the loss rose after any step of
    simultaneous or sequential (a rising pair is never a tie, even when the two rise alike, as on a
    separable f); else whichever ended lower, or "tie"."""
    if any(trial.get("diverged_at") is not None for trial in trials):
        return "diverged"
    pair = {trial["method"]: trial for trial in trials if trial["method"] in ("simultaneous", "sequential")}
    if len(pair) < 2:
        return None
    if any(any(losses_went_up(trial)) for trial in pair.values()):
        return "loss_went_up"
    simultaneous, sequential = pair["simultaneous"].get("final_loss"), pair["sequential"].get("final_loss")
    if simultaneous is None or sequential is None:
        return None
    if math.isclose(simultaneous, sequential, rel_tol=TIE_RELATIVE, abs_tol=TIE_ABSOLUTE):
        return "tie"
    return "sequential_better" if sequential < simultaneous else "simultaneous_better"


def review_columns(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `cases` columns derived from the analysis document, by column name."""
    trials = document.get("trials") or []
    kinds = {case.get("kind") for case in document.get("special_cases") or []}
    return {
        "outcome": outcome_of(trials),
        "methods": " ".join(trial["method"] for trial in trials),
        "sign_flips": sign_flips(trials),
        "loss_increases": loss_increases(trials),
        "diverged": any(trial.get("diverged_at") is not None for trial in trials),
        "stationary": "stationary" in kinds,
        "kink": "kink" in kinds,
        "undefined": "undefined" in kinds,
    }
