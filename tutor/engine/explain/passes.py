"""The story of the forward and the backward pass: the graph's values, then every partial at one point."""

from __future__ import annotations

from tutor.engine.explain import maths
from tutor.engine.explain.blocks import Block, Heading, Paragraph, Table, code
from tutor.engine.numbers import denoise, fmt

MAX_GRAPH_ROWS = 40
MAX_PARTIAL_BLOCKS = 6


def shown_values(nodes: list[dict]) -> dict[int, float | None]:
    """Each node's forward value as a person reads it: a sum or difference whose inputs cancel within
    rounding is the 0 it is (w0·x0 + w1·x1 + b at 0.5·1 − 0.3·2 + 0.1 computes as 2.8e-17)."""
    value = {node["id"]: node["value"] for node in nodes}
    shown = {}
    for node in nodes:
        inputs = [abs(value[i]) for i in node["inputs"] if value[i] is not None]
        cancels = node["op"] in ("add", "sub") and inputs
        shown[node["id"]] = denoise(node["value"], max(inputs)) if cancels else node["value"]
    return shown


def forward_backward(document: dict) -> list[Block]:
    graph = document["graph"]
    nodes = graph["nodes"]
    shown = shown_values(nodes)
    rows = tuple(
        (str(n["id"]), n["op"], code(n["label"]), fmt(shown[n["id"]]), fmt(n["grad"]))
        for n in nodes[:MAX_GRAPH_ROWS]
    )
    row = document["graph_row"]
    if row is None:
        forward = (
            "Backprop first computes every node of the graph from its inputs, left to right; "
            f"the last node is f = **{fmt(document['loss'])}**."
        )
    else:
        output = next(n for n in nodes if n["id"] == graph["output"])
        forward = (
            f"Backprop runs once per example. Here is the graph for **data row {row}**: every node is "
            f"computed from its inputs, left to right, and the last node is that example's "
            f"f = {fmt(output['value'])}. Averaged over all {document['data_rows']} rows, "
            f"L = **{fmt(document['loss'])}**."
        )
    blocks: list[Block] = [
        Heading("Forward pass"),
        Paragraph(forward),
        Table(("node", "operation", "computes", "value", "∂f/∂node"), rows),
    ]
    if len(nodes) > MAX_GRAPH_ROWS:
        blocks.append(
            Paragraph(
                f"(The first {MAX_GRAPH_ROWS} of {len(nodes)} nodes; all of them are in the JSON document.)"
            )
        )
    blocks.append(Heading("Backward pass"))
    blocks.append(
        Paragraph(
            "Then it walks the graph backwards: each node passes ∂f/∂node times its local slope to its "
            "inputs, and a variable used in several places adds up what it receives. "
            "All partial derivatives come out **at the same point**"
            + (":" if row is None else "; L's partials are the means of each example's over the rows:")
        )
    )
    names = list(document["gradient"])
    if len(names) <= MAX_PARTIAL_BLOCKS:
        blocks += [maths.partial(document, name) for name in names]
    else:
        # One table instead of a formula per parameter: each formula is shown once.
        blocks.append(
            Table(
                ("parameter", "∂f/∂parameter", "value"),
                tuple(
                    (code(n), code(maths.partial_formula(document, n)), fmt(document["gradient"][n]))
                    for n in names
                ),
            )
        )
    named_parts = maths.definitions(document)
    if named_parts:
        # Each partial is the chain rule along the graph (the local slopes from f down to the parameter,
        # multiplied), written with names for the parts of f it passes through.
        blocks.append(Paragraph("where the named parts of f are"))
        blocks += named_parts
    return blocks
