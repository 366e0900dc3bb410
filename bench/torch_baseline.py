"""What a learner would do in a notebook instead: the same trials in PyTorch eager autograd.

The expression is interpreted from the engine's parsed tree into torch operations (no string is
evaluated), then both schemes run the way a notebook would write them: forward, backward, update.
"""

from __future__ import annotations

import statistics
import time

import torch

from tutor.engine import Question, parse_expression
from tutor.engine.parse import Node

_UNARY = {
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "atan": torch.atan,
    "sigmoid": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
    "relu": torch.relu,
    "abs": torch.abs,
    "neg": torch.neg,
    "pos": lambda a: a,
}
_BINARY = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "max": torch.maximum,
    "min": torch.minimum,
}


def evaluate(node: Node, values: dict[str, torch.Tensor]) -> torch.Tensor:
    if node.op == "input":
        return values[node.name]
    if node.op == "const":
        return torch.tensor(float(node.value), dtype=torch.float64)
    args = [evaluate(child, values) for child in node.children]
    return _UNARY[node.op](*args) if node.op in _UNARY else _BINARY[node.op](*args)


def _tensors(question: Question) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Every symbol as a float64 tensor; the trainable ones (not fixed) also as a list."""
    values = {
        n: torch.tensor(float(v), dtype=torch.float64, requires_grad=n not in question.fixed)
        for n, v in question.point.items()
    }
    return values, [values[n] for n in question.point if n not in question.fixed]


def _final_loss(tree: Node, values: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        return float(evaluate(tree, values))


def simultaneous(tree: Node, question: Question) -> float:
    values, trainable = _tensors(question)
    for _ in range(question.steps):
        grads = torch.autograd.grad(evaluate(tree, values), trainable)
        with torch.no_grad():
            for p, g in zip(trainable, grads, strict=True):
                p -= question.learning_rate * g
    return _final_loss(tree, values)


def sequential(tree: Node, question: Question) -> float:
    values, trainable = _tensors(question)
    for _ in range(question.steps):
        for p in trainable:
            (g,) = torch.autograd.grad(evaluate(tree, values), [p])
            with torch.no_grad():
                p -= question.learning_rate * g
    return _final_loss(tree, values)


def run(cases: dict[str, Question], repeats: int = 5) -> dict:
    torch.set_num_threads(1)
    results = {}
    for name, question in cases.items():
        if question.data is not None or set(question.methods) != {"simultaneous", "sequential"}:
            results[name] = {"torch_eager_ms": None}  # the baseline runs the two basic schemes only
            continue
        tree = parse_expression(question.expression).tree
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            simultaneous(tree, question)
            sequential(tree, question)
            samples.append(time.perf_counter() - started)
        results[name] = {"torch_eager_ms": statistics.median(samples) * 1e3}
    return results
