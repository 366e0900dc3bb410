"""The short answer: two to five sentences that answer the thread's question with this case's numbers.

In this order: (a) whether a small enough simultaneous step lowers the loss here, and what the learner's
own η did; (b) whether updating one parameter at a time flipped a slope, and which scheme ended lower;
(c) each optimizer that raised the loss, in how many steps; (d) the mini-batch steps that lowered their
own batch's loss but raised the full loss. Every sentence carries a number of this case, read from the
document (or, for "lower by", the difference of two of its numbers).
"""

from __future__ import annotations

from tutor.engine.explain.blocks import Paragraph, code
from tutor.engine.explain.common import OPTIMIZERS, kink_labels, lower_scheme, point_text, ran, steps_word
from tutor.engine.explain.minibatch import against_full_loss
from tutor.engine.explain.render import render_markdown
from tutor.engine.explain.stationary import kind_sentence
from tutor.engine.numbers import fmt

# The short answer must fit a forum reply's first lines (issue 10: at most 600 characters of Markdown).
MAX_SUMMARY_CHARS = 600
# A point written out in the summary at most this long; a longer one is "this point".
MAX_POINT_CHARS = 60


def summary_paragraph(document: dict) -> Paragraph:
    """The short answer as one paragraph; in its brief form (fewer asides, the point unnamed) when the
    full one would pass MAX_SUMMARY_CHARS."""
    paragraph = Paragraph(" ".join(summary_sentences(document)))
    if len(render_markdown([paragraph])) > MAX_SUMMARY_CHARS:
        paragraph = Paragraph(" ".join(summary_sentences(document, brief=True)))
    return paragraph


def summary_sentences(document: dict, brief: bool = False) -> list[str]:
    if document["analysis"] is None:
        return _undefined(document, brief)
    sentences = _small_steps(document, brief)
    for part in (_sequential(document, brief), _optimizers(document), _minibatch(document)):
        if part:
            sentences.append(part)
    return sentences


def _at(document: dict, brief: bool) -> str:
    point = point_text(document["input"]["point"])
    return "this point" if brief or len(point) > MAX_POINT_CHARS else f"{code(point)}"


def _undefined(document: dict, brief: bool) -> list[str]:
    case = next(c for c in document["special_cases"] if c["kind"] == "undefined")
    node, row = case.get("node"), case.get("row")  # absent from cases saved before they existed
    why = ""
    if row is not None:
        why = f": f has no finite real value at data row {row}"
    elif node is not None:
        inputs = ", ".join(fmt(value) for value in node["inputs"])
        which = "input" if len(node["inputs"]) == 1 else "inputs"
        why = f": {code(node['label'])} has no finite real value at its {which} {inputs}"
    what = "f" if document["loss"] is None else "a partial derivative of f"
    return [
        f"Not at this point: {what} is not a finite real number at {_at(document, brief)}{why}.",
        f"No step can be computed from here, at η = {fmt(document['input']['learning_rate'])} or any other; "
        "pick a point inside the function's domain.",
    ]


def _lowered_it(analysis: dict) -> str:
    """What the learner's step did, as a clause: "lowered it by 0.5"; where float64 cannot resolve the
    change, with what float64 gives."""
    change = analysis["actual_change"]
    if change is None:
        return "takes the step to where the loss is not a finite number"
    if change == 0:
        said = "left it unchanged"
    else:
        said = f"{'lowered' if change < 0 else 'raised'} it by {fmt(abs(change))}"
    resolution = analysis.get("resolution") or {}
    if resolution.get("high_precision"):
        said += f" (at 50 digits; float64 rounds it to {fmt(resolution['float64_actual_change'])})"
    return said


def _small_steps(document: dict, brief: bool) -> list[str]:
    """(a): yes only where the numbers show small steps going down: a bound below which every η lowers
    the loss, or (with no bound) every step size tried lowering it away from a kink. At a stationary
    point: what kind of point it is and which direction lowers f instead."""
    analysis = document["analysis"]
    lr = fmt(analysis["learning_rate"])
    bound = analysis["max_decreasing_learning_rate"]
    change = analysis["actual_change"]
    yours = f"Your η = {lr} {_lowered_it(analysis)}"
    if document["gradient_norm"] == 0:
        stays = (
            f"No step of gradient descent moves from {_at(document, brief)}: the gradient is 0 there, so whatever "
            f"the η (yours is {lr}) the loss stays at {fmt(document['loss'])}."
        )
        if analysis.get("stationary") is None:  # a document saved before points were classified
            return [stays, f"Every one of the {len(document['parameters'])} partials is 0."]
        return [stays, kind_sentence(document)]
    kinked = ", ".join(code(label) for label in kink_labels(document))
    if bound is not None:
        if kinked:
            claim = (
                f"Yes, measured on f itself: one simultaneous step lowers the loss for every η below {fmt(bound)}, "
                f"though {kinked} sits on its kink here, where the gradient only averages the slopes on either "
                "side and promises nothing."
            )
        else:
            claim = (
                f"Yes: at this point one simultaneous step lowers the loss for every η below {fmt(bound)}"
                + ("." if brief else ", though each partial assumed the other weights stay put.")
            )
        if change is not None and change < 0 and analysis["learning_rate"] >= bound:
            return [claim, f"{yours}, past that bound: luck of this function, not a guarantee."]
        if analysis["verdict"] != "decreases":
            return [claim, f"{yours}: it is past that bound."]
        return [claim, f"{yours}."]
    reason = analysis["max_decreasing_reason"]
    tried = [analysis["actual_change"], *(row["actual"] for row in analysis["shrinking"])]
    lowered = [c is not None and c < 0 for c in tried]
    if not any(lowered) and analysis["best_change"] is None:
        return [f"No: at {_at(document, brief)} {reason}.", f"{yours}."]
    if kinked:
        return [
            f"Not guaranteed: {kinked} sits on its kink at {_at(document, brief)}, where the gradient is an "
            f"average of the slopes on either side and does not promise that a small step lowers the loss "
            f"({reason}).",
            f"{yours}.",
        ]
    if all(lowered):
        return [f"Yes: at {_at(document, brief)} {reason}.", f"{yours}."]
    return [f"Not guaranteed: at {_at(document, brief)} {reason}.", f"{yours}."]


def _after(steps: int) -> str:
    return "after 1 step" if steps == 1 else f"after {steps} steps"


def _sequential(document: dict, brief: bool) -> str | None:
    """(b): the first flipped slope (which parameter, at which step, after which updates moved) and
    which scheme ended lower, by how much."""
    sequential = ran(document, "sequential")
    if sequential is None or document["gradient_norm"] == 0:
        return None
    flips = [
        (step, index)
        for step in sequential["steps"]
        for index, update in enumerate(step["updates"])
        if update["sign_flip"]
    ]
    if flips:
        step, index = flips[0]
        update = step["updates"][index]
        before = step["updates"][:index]
        moved = (
            f"the {len(before)} parameters before it"
            if brief or len(before) > 2
            else " and ".join(code(u["parameter"]) for u in before)
        )
        flipped = (
            f"Updating one parameter at a time flips a slope: in step {step['step']}, after {moved} moved, "
            f"the slope of {code(update['parameter'])} changed sign from {fmt(update['partial_at_start'])} "
            f"to {fmt(update['partial'])}"
        )
        if len(flips) > 1 and not brief:
            flipped += f" ({len(flips)} updates in all used a flipped slope)"
    else:
        total = len(sequential["steps"])
        flipped = f"Updating one parameter at a time flipped no slope in {total} {steps_word(total)}"
    simultaneous = ran(document, "simultaneous")
    if simultaneous is None:
        return flipped + "."
    return f"{flipped}; {_which_lower(simultaneous, sequential, say_when=bool(flips))}."


def _which_lower(simultaneous: dict, sequential: dict, say_when: bool) -> str:
    diverged = [t for t in (simultaneous, sequential) if t["diverged_at"] is not None]
    if diverged:
        named = " and ".join(f"the {t['method']} one at step {t['diverged_at']}" for t in diverged)
        return f"neither scheme can be called lower, as {named} diverged"
    a, b = simultaneous["final_loss"], sequential["final_loss"]
    after = _after(len(simultaneous["steps"])) + " " if say_when else ""
    winner = lower_scheme(simultaneous, sequential)
    if winner is None:
        return f"{after}both schemes end at {fmt(a)}"
    low, high = (b, a) if winner == "sequential" else (a, b)
    return f"{after}the {winner} scheme ends lower, at {fmt(low)} against {fmt(high)} (by {fmt(abs(a - b))})"


def _optimizers(document: dict) -> str | None:
    """(c): each optimizer that raised the loss, in how many of its steps (and those that never did)."""
    trials = [t for t in document["trials"] if t["method"] in OPTIMIZERS and t["steps"]]
    if not trials:
        return None
    clauses, steady = [], []
    for trial in trials:
        up = sum(1 for step in trial["steps"] if step["loss_went_up"])
        total = len(trial["steps"])
        diverged = (
            f", then diverged at step {trial['diverged_at']}" if trial["diverged_at"] is not None else ""
        )
        if not up:
            steady.append((trial, total, diverged))
        elif not clauses:
            clauses.append(
                f"{code(trial['method'])} raised the loss in {up} of its {total} {steps_word(total)}{diverged}"
            )
        else:
            clauses.append(f"{code(trial['method'])} in {up} of {total}{diverged}")
    parts = [_and(clauses)] if clauses else []
    if steady:
        names = _and([code(trial["method"]) + diverged for trial, _, diverged in steady])
        totals = {total for _, total, _ in steady}
        whose = "its" if len(steady) == 1 else "their"
        every = f"every one of {whose} {totals.pop()} steps" if len(totals) == 1 else "every step"
        parts.append(f"{names} lowered {'it' if clauses else 'the loss'} at {every}")
    return "With the same η, " + "; ".join(parts) + "."


def _minibatch(document: dict) -> str | None:
    """(d): how many mini-batch steps lowered their batch's loss but raised the full loss."""
    trial = ran(document, "minibatch")
    if trial is None:
        return None
    against = against_full_loss(trial)
    total = len(trial["steps"])
    if not against:
        return (
            f"None of the {total} mini-batch {steps_word(total)} lowered its own batch's loss while raising "
            "the full loss."
        )
    return (
        f"{len(against)} of the {total} mini-batch {steps_word(total)} lowered their own batch's loss but "
        "raised the full loss."
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
