"""Small readings of the document that several stories share."""

from __future__ import annotations

from tutor.engine.numbers import fmt

# Step numbers named in one sentence and rows of a per-step table: the same, so that every step a
# sentence names is in its table.
MAX_STEP_ROWS = MAX_LISTED_STEPS = 10
OPTIMIZERS = ("momentum", "nesterov", "adam", "rmsprop")


def trial(document: dict, method: str) -> dict | None:
    return next((t for t in document["trials"] if t["method"] == method), None)


def ran(document: dict, method: str) -> dict | None:
    """The trial of ``method`` if it took at least one step."""
    found = trial(document, method)
    return found if found is not None and found["steps"] else None


def kinds(document: dict) -> set[str]:
    return {case["kind"] for case in document["special_cases"]}


def is_stationary(document: dict) -> bool:
    """The gradient is zero and the point classified (documents saved before classification existed
    are told as before)."""
    analysis = document["analysis"]
    return analysis is not None and analysis.get("stationary") is not None


def kink_labels(document: dict) -> list[str]:
    """The labels of the operations that sit on their kink (older documents name them only in the
    message, between backticks)."""
    labels = []
    for case in document["special_cases"]:
        if case["kind"] == "kink":
            node = case.get("node")
            labels.append(node["label"] if node else case["message"].split("`")[1])
    return labels


def point_text(point: dict[str, float]) -> str:
    return ", ".join(f"{name}={fmt(value)}" for name, value in point.items())


def losses_before(trial: dict) -> list[float]:
    """The loss before each recorded step: the initial loss, then each step's loss after."""
    return [trial["initial_loss"]] + [step["loss"] for step in trial["steps"][:-1]]


def step_list(numbers: list[int]) -> str:
    listed = ", ".join(str(n) for n in numbers[:MAX_LISTED_STEPS])
    return listed + (", …" if len(numbers) > MAX_LISTED_STEPS else "")


def rows_note(shown: int, total: int, what: str) -> str | None:
    """What a table cut to its first rows leaves out, and where the rest is."""
    if shown >= total:
        return None
    return f"(The first {shown} of {total} {what}; every step is in the JSON document.)"


def steps_word(count: int) -> str:
    return "step" if count == 1 else "steps"


def went_up_sentence(trial: dict) -> str:
    """Which steps raised the loss, in a fixed form (the tests read it back against the numbers)."""
    up = [step["step"] for step in trial["steps"] if step["loss_went_up"]]
    total = len(trial["steps"])
    if not up:
        return f"**{trial['method']}**: the loss went down at every one of the {total} steps."
    return (
        f"**{trial['method']}**: the loss went up at {steps_word(len(up))} {step_list(up)} "
        f"({len(up)} of {total} steps)."
    )


def settings_text(settings: dict) -> str:
    return ", ".join(
        f"{name} = {fmt(value) if value is not None else 'none'}" for name, value in settings.items()
    )


def lower_scheme(simultaneous: dict, sequential: dict) -> str | None:
    """The scheme with the lower final loss; None on a tie or when either diverged, because a diverged
    trial's final loss is only its last finite one, not where it ended."""
    if simultaneous["diverged_at"] is not None or sequential["diverged_at"] is not None:
        return None
    a, b = simultaneous["final_loss"], sequential["final_loss"]
    if a == b:
        return None
    return "sequential" if b < a else "simultaneous"


def diverged_text(trial: dict) -> str:
    return f"{trial['method']} trial **diverged at step {trial['diverged_at']}**"
