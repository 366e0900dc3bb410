"""The backprop walk: the expression as a computational graph, one node per operation.

Like the circuit diagrams of the cs231n notes (and micrograd): one forward pass computes every node's
value, one backward pass computes the gradient of f with respect to every node, adding up where a
value feeds several operations. It steps through the learner's own tree node by node in plain floats,
with the per-operation semantics of operations.py, so its leaf gradients are a second computation of
what the generated code (compiled.py) computes in one piece.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tutor.engine.functions import FUNCTIONS
from tutor.engine.operations import NAN, float_op, local_slopes
from tutor.engine.parse import Node


@dataclass
class GraphNode:
    id: int
    op: str
    label: str
    inputs: list[int]
    value: float = NAN
    grad: float = 0.0
    kink: bool = field(default=False)


@dataclass
class Graph:
    nodes: list[GraphNode]
    output: int

    def leaf_gradients(self) -> dict[str, float]:
        return {node.label: node.grad for node in self.nodes if node.op == "input"}

    def kinks(self) -> list[GraphNode]:
        return [node for node in self.nodes if node.kink]

    def first_undefined(self) -> GraphNode | None:
        """The first operation whose value is not a finite real number though its inputs are."""
        for node in self.nodes:
            inputs_fine = all(math.isfinite(self.nodes[i].value) for i in node.inputs)
            if node.inputs and inputs_fine and not math.isfinite(node.value):
                return node
        return None


def build_graph(tree: Node, point: Mapping[str, float]) -> Graph:
    """Lay the tree out as nodes (variables first, one node each however often they appear), run the
    forward pass at ``point`` and the backward pass from the output."""
    nodes: list[GraphNode] = []
    variable_ids: dict[str, int] = {}
    ids: dict[int, int] = {}
    constant_ids: set[int] = set()  # numbers and operations without variables

    def visit_variables(node: Node) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if current.op == "input" and current.name not in variable_ids:
                variable_ids[current.name] = len(nodes)
                nodes.append(GraphNode(len(nodes), "input", current.name, [], float(point[current.name])))
            stack.extend(reversed(current.children))

    visit_variables(tree)

    # Post-order: every node after its inputs. Explicit stack; depth is bounded by the parser anyway.
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        current, expanded = stack.pop()
        if current.op == "input":
            ids[id(current)] = variable_ids[current.name]
            continue
        if current.op == "const":
            node = GraphNode(len(nodes), "const", current.text, [], float(current.value))
        elif not expanded:
            stack.append((current, True))
            stack.extend((child, False) for child in reversed(current.children))
            continue
        else:
            inputs = [ids[id(child)] for child in current.children]
            args = [nodes[i].value for i in inputs]
            node = GraphNode(len(nodes), current.op, current.text, inputs, float_op(current.op, args))
            if current.op in FUNCTIONS and all(math.isfinite(a) for a in args):
                node.kink = FUNCTIONS[current.op].kink(*args)
        if current.constant is not None:
            constant_ids.add(node.id)
        ids[id(current)] = node.id
        nodes.append(node)

    output = ids[id(tree)]
    nodes[output].grad = 1.0
    for node in reversed(nodes):
        if not node.inputs:
            continue
        slopes = local_slopes(node.op, [nodes[i].value for i in node.inputs], node.value)
        for i, slope in zip(node.inputs, slopes, strict=True):
            # Constants are never updated, so backprop sends them nothing (their grad stays 0), as in
            # the cs231n circuits where a constant is part of its gate. The slope into one can be
            # undefined where f's gradient is not: x**2 has slope log(x)*x**2 in its exponent, not a
            # real number for x < 0.
            if i not in constant_ids:
                nodes[i].grad += node.grad * slope
    return Graph(nodes, output)
