"""The story of a point where the gradient is zero: gradient descent does not move, so what matters is
what kind of point it is (from the Hessian, where it decides) and whether some other direction lowers f,
shown on f itself."""

from __future__ import annotations

from tutor.engine.explain.blocks import TABLE_ABOVE, Block, Heading, Paragraph, Table, code
from tutor.engine.explain.common import MAX_STEP_ROWS, kink_labels, rows_note
from tutor.engine.numbers import fmt

MAX_LISTED_EIGENVALUES = 4


def direction_text(direction: dict[str, float]) -> str:
    return ", ".join(f"{name}={fmt(value)}" for name, value in direction.items())


def eigenvalues_text(eigenvalues: list[float]) -> str:
    if len(eigenvalues) == 1:
        return fmt(eigenvalues[0])
    if len(eigenvalues) <= MAX_LISTED_EIGENVALUES:
        return ", ".join(fmt(v) for v in eigenvalues[:-1]) + " and " + fmt(eigenvalues[-1])
    return f"from {fmt(min(eigenvalues))} to {fmt(max(eigenvalues))} ({len(eigenvalues)} of them)"


def _move(descent: dict) -> str:
    return f"a move of {fmt(descent['step'])} along {code(direction_text(descent['direction']))}"


def kind_sentence(document: dict) -> str:
    """What kind of point it is and which direction lowers f, in one sentence with its numbers."""
    stationary = document["analysis"]["stationary"]
    kind, descent = stationary["kind"], stationary["descent"]
    eigenvalues = stationary["eigenvalues"] or []
    values = eigenvalues_text(eigenvalues) if eigenvalues else "none"
    nowhere = "no move of 0.001 to 1 (times the point's size) along its directions or the axes lowered f"
    if kind == "minimum":
        return f"It is a minimum: the Hessian's eigenvalues {values} are all positive, so every short move raises f."
    if kind == "kink":
        kinks = ", ".join(code(label) for label in kink_labels(document))
        head = (
            f"f is not differentiable here ({kinks} on its kink): the zero gradient is only the average of the "
            "slopes on either side, a convention"
        )
        if descent is None:
            return f"{head}, and {nowhere}."
        return f"{head}, and {_move(descent)} lowers f by {fmt(-descent['change'])}."
    if descent is None:
        return f"The Hessian cannot tell what kind of point this is (eigenvalues {values}), and {nowhere}."
    if kind == "maximum":
        return (
            f"It is a maximum (Hessian eigenvalues {values}): every short move lowers f, e.g. {_move(descent)} "
            f"changes it by {fmt(descent['change'])}."
        )
    if kind == "saddle":
        return (
            f"It is a saddle (Hessian eigenvalues {values}): {_move(descent)}, where the curvature is "
            f"{fmt(descent['curvature'])}, lowers f by {fmt(-descent['change'])}."
        )
    return (
        f"The Hessian cannot tell what kind of point this is (eigenvalues {values}), but f itself falls: "
        f"{_move(descent)} changes it by {fmt(descent['change'])}."
    )


def eigen_table(document: dict) -> list[Block]:
    """The Hessian's directions and f's curvature along each (the key table at a stationary point)."""
    stationary = document["analysis"]["stationary"]
    if not stationary["eigenvalues"]:
        return []
    pairs = list(zip(stationary["eigenvalues"], stationary["eigenvectors"], strict=True))
    rows = tuple(
        (
            code(direction_text(vector)),
            fmt(value),
            "rises" if value > 0 else "falls" if value < 0 else "flat to second order",
        )
        for value, vector in pairs[:MAX_STEP_ROWS]
    )
    blocks: list[Block] = [Table(("direction", "curvature of f along it", "f to second order"), rows)]
    note = rows_note(len(rows), len(pairs), "directions")
    if note:
        blocks.append(Paragraph(note.replace("every step", "every direction")))
    return blocks


def stationary_section(document: dict, table_above: bool = False) -> list[Block]:
    stationary = document["analysis"]["stationary"]
    blocks: list[Block] = [
        Heading("Where the gradient is zero"),
        Paragraph(
            "Every partial is 0 here, so backprop has no direction to offer and gradient descent stays put, "
            "whatever the learning rate. Whether some other direction lowers f depends on the curvature: the "
            "Hessian's eigenvalues are f's curvature along its eigenvectors (positive: f rises that way, "
            "negative: f falls)."
            + (
                " At a kink these describe only the smooth parts; f itself is not differentiable here."
                if stationary["kind"] == "kink"
                else ""
            )
        ),
    ]
    if stationary["eigenvalues"]:
        blocks += [TABLE_ABOVE] if table_above else eigen_table(document)
    blocks.append(Paragraph(kind_sentence(document)))
    return blocks
