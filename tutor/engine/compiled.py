"""Numbers from the learner's own graph: f, its gradient and Hessian-vector products compiled from the
parser's checked tree into straight-line Python, once per expression.

The generated code walks the same graph as the backprop walk (graph.py): one line per operation
forward, then reverse mode (each operation passes its adjoint times its local slope to its inputs; a
variable adds up what it receives; constants get nothing). Second order is forward-over-reverse: every
value carries a tangent along a direction, and so does every adjoint, which gives H·d without forming H.
Each operation's source comes from operations.OPERATIONS, so every path computes alike.

The code never contains the learner's text: symbols are arguments by position (a0, a1, ...), constants
are float literals (``repr``), operations are the table's templates. It runs on plain floats (the
trials' hot loop; a NaN or overflow raises there and the call is redone with NumPy, whose answer
counts) and on NumPy arrays that broadcast (data rows, grids of learning rates, stacked directions).
Compiled functions are cached by the tree's canonical text and the symbols' order.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from threading import Lock

import numpy as np

from tutor.engine.operations import ARRAY, FLOAT_EXCEPTIONS, OPERATIONS, SCALAR, Operation, power_by_constant
from tutor.engine.parse import Node, Parsed

CACHE_SIZE = 256


@dataclass(frozen=True)
class Functions:
    """The three generated functions in one namespace (plain floats or NumPy arrays)."""

    value: Callable[..., object]
    value_and_gradient: Callable[..., tuple]
    hessian_vector: Callable[..., tuple]


@dataclass(frozen=True, eq=False)
class Compiled:
    """f over ``names`` (every symbol, in order of first appearance), its gradient and H·d."""

    names: tuple[str, ...]
    source: str  # the generated Python, kept for reading and profiling
    scalar: Functions
    array: Functions
    # Over many points given as rows of plain floats: the sums of f and of the gradient. Only questions
    # with data use them, so they are compiled on first use.
    sums_source: str
    _sums: dict[str, Callable[[list[list[float]]], object]] = field(default_factory=dict)

    def _sum(self, name: str) -> Callable[[list[list[float]]], object]:
        if not self._sums:
            namespace = dict(SCALAR)
            exec(compile(self.sums_source, "<compiled sums>", "exec"), namespace)  # noqa: S102 - generated
            self._sums.update(
                value_sum=namespace["value_sum"], value_and_gradient_sum=namespace["value_and_gradient_sum"]
            )
        return self._sums[name]

    # The scalar forms are what the trials call thousands of times: plain floats in, plain floats out.

    def loss(self, values: np.ndarray) -> float:
        return self._value(values.tolist())

    def loss_and_gradient(self, values: np.ndarray) -> tuple[float, np.ndarray]:
        out = self._value_and_gradient(values.tolist())
        return out[0], np.array(out[1:], dtype=float)

    # The row forms evaluate point by point in plain floats: ``matrix`` has one row per point and one
    # column per symbol. For a few data rows this is many times faster than NumPy, whose cost per
    # operation (about a microsecond) dwarfs the arithmetic on short arrays.

    def loss_rows(self, matrix: np.ndarray) -> np.ndarray:
        return np.array([self._value(row) for row in matrix.tolist()], dtype=float)

    def mean_loss_rows(self, matrix: np.ndarray) -> float:
        rows = matrix.tolist()
        try:
            return self._sum("value_sum")(rows) / len(rows)
        except FLOAT_EXCEPTIONS:
            return float(np.mean(self.loss_rows(matrix)))

    def mean_loss_and_gradient_rows(self, matrix: np.ndarray) -> tuple[float, np.ndarray]:
        """The means over the points of f and of its gradient."""
        rows = matrix.tolist()
        try:
            sums = np.array(self._sum("value_and_gradient_sum")(rows), dtype=float) / len(rows)
        except FLOAT_EXCEPTIONS:
            sums = np.mean([self._value_and_gradient(row) for row in rows], axis=0)
        return float(sums[0]), sums[1:]

    def _value(self, args: list[float]) -> float:
        try:
            return self.scalar.value(*args)
        except FLOAT_EXCEPTIONS:
            return float(_call(self.array.value, args))

    def _value_and_gradient(self, args: list[float]) -> tuple[float, ...]:
        try:
            return self.scalar.value_and_gradient(*args)
        except FLOAT_EXCEPTIONS:
            return tuple(float(v) for v in _call(self.array.value_and_gradient, args))

    def loss_along(self, columns: np.ndarray) -> np.ndarray:
        """f at many points at once: ``columns`` has one row per symbol and one column per point."""
        return self.loss_at(list(columns))

    # The *_at forms take one argument per symbol, each a number or an array; the arrays broadcast
    # (a data column against the rows, a grid of learning rates against the points) and the result
    # has the broadcast shape, with the symbol axis first for gradients.

    def loss_at(self, args: Sequence[object]) -> np.ndarray:
        shape = _shape(args)
        return _real(_call(self.array.value, args), shape)

    def loss_and_gradient_at(self, args: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        shape = _shape(args)
        out = _stacked(_call(self.array.value_and_gradient, args), shape)
        return out[0], out[1:]

    def hessian_vector_at(
        self, args: Sequence[object], directions: Sequence[object]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """f, the gradient and H·d, where ``directions`` gives d's entry for each symbol (numbers or
        arrays that broadcast with ``args``: stacking unit vectors on a new axis gives H's columns)."""
        shape = _shape([*args, *directions])
        out = _stacked(_call(self.array.hessian_vector, [*args, *directions]), shape)
        n = len(self.names)
        return out[0], out[1 : n + 1], out[n + 1 :]


def _shape(args: Sequence[object]) -> tuple[int, ...]:
    # The distinct shapes only: broadcast_shapes is slow with a hundred arguments, most of them ().
    return np.broadcast_shapes(*{np.shape(a) for a in args})


def _call(function: Callable[..., object], args: Sequence[object]) -> object:
    # NumPy's float64 maths: NaN and infinity are answers here (outside the domain, overflow), not
    # errors to warn about. Every argument is made a NumPy value so that no operation is done on two
    # plain floats (which would raise where NumPy gives inf or NaN).
    with np.errstate(all="ignore"):
        return function(*(np.asarray(a, dtype=float) for a in args))


def _real(value: object, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()


def _stacked(values: Sequence[object], shape: tuple[int, ...]) -> np.ndarray:
    """Several results (numbers or arrays) broadcast to one shape, stacked on a new first axis."""
    out = np.empty((len(values), *shape))
    for i, value in enumerate(values):
        out[i] = value
    return out


def compile_parsed(parsed: Parsed) -> Compiled:
    return compile_tree(parsed.tree, parsed.symbols, parsed.canonical)


_cache: OrderedDict[tuple[str, tuple[str, ...]], Compiled] = OrderedDict()
_cache_lock = Lock()


def compile_tree(tree: Node, names: tuple[str, ...], canonical: str) -> Compiled:
    """The compiled functions of ``tree`` over ``names``; ``canonical`` is the tree's canonical text,
    which identifies the tree exactly (equal texts, equal trees), so it keys the cache."""
    key = (canonical, names)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    source, sums_source = generate(tree, names)
    code = compile(source, "<compiled expression>", "exec")
    namespaces = []
    for helpers in (SCALAR, ARRAY):
        namespace = dict(helpers)
        exec(code, namespace)  # noqa: S102 - source generated from the checked tree, no learner text
        namespaces.append(Functions(*(namespace[field.name] for field in fields(Functions))))
    compiled = Compiled(names, source, *namespaces, sums_source)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


# ---------------------------------------------------------------------------------------------------
# Code generation


@dataclass
class _Step:
    """One operation of the graph, as generated code sees it."""

    index: int
    operation: Operation
    args: list[str]  # each argument's reference: a0 (a symbol), v3 (an operation), 2.0 (a constant)
    tangents: list[str | None]  # each argument's tangent reference; None for a constant
    inputs: list[int | None]  # the step each argument comes from (None: a symbol or a constant)
    symbols: list[int | None]  # the symbol's position when an argument is a symbol
    slopes: list[str] = field(default_factory=list)  # each argument's slope as written in the code


def _literal(value: float) -> str:
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _steps(tree: Node, names: tuple[str, ...]) -> tuple[list[_Step], str]:
    """The operations in post-order (every one after its inputs), and the output's reference."""
    position = {name: i for i, name in enumerate(names)}
    steps: list[_Step] = []
    refs: dict[int, tuple[str, int | None, int | None]] = {}  # id(node) -> (ref, step, symbol)

    def reference(node: Node) -> tuple[str, int | None, int | None]:
        if node.constant is not None:
            return _literal(node.constant), None, None
        if node.op == "input":
            i = position[node.name]
            return f"a{i}", None, i
        return refs[id(node)]

    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if node.constant is not None or node.op == "input":
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))
            continue
        children = [reference(child) for child in node.children]
        if node.op == "pow" and node.children[1].constant is not None:
            operation = power_by_constant(node.children[1].constant)
        else:
            operation = OPERATIONS[node.op]
        index = len(steps)
        steps.append(
            _Step(
                index,
                operation,
                [ref for ref, _, _ in children],
                [
                    None if child.constant is not None else f"t{ref}"
                    for child, (ref, _, _) in zip(node.children, children, strict=True)
                ],
                [step for _, step, _ in children],
                [symbol for _, _, symbol in children],
            )
        )
        refs[id(node)] = (f"v{index}", index, None)
    return steps, reference(tree)[0]


def generate(tree: Node, names: tuple[str, ...]) -> tuple[str, str]:
    """Python source of value(a0, ...), value_and_gradient(a0, ...), hessian_vector(a0, ..., ta0, ...),
    and apart from them of value_sum(rows) and value_and_gradient_sum(rows) over rows of points."""
    steps, output = _steps(tree, names)
    arguments = [f"a{i}" for i in range(len(names))]
    tangent_arguments = [f"ta{i}" for i in range(len(names))]
    n = len(names)

    forward = [f"    v{s.index} = {s.operation.value.format(*s.args)}" for s in steps]
    value = [f"def value({', '.join(arguments)}):", *forward, f"    return {output}", ""]

    gradient = [f"def value_and_gradient({', '.join(arguments)}):", *forward]
    gradient += _reverse(steps, n, output, second_order=False)
    returned = [f"    return {output}, {', '.join(f'G{i}' for i in range(n))}", ""]

    # The same bodies in a loop over points, summing as they go (no call per point).
    value_sum = [
        "def value_sum(rows):",
        "    total = 0.0",
        f"    for {', '.join(arguments)}, in rows:",
        *("    " + line for line in forward),
        f"        total += {output}",
        "    return total",
        "",
    ]
    sums = ["total"] + [f"S{i}" for i in range(n)]
    gradient_sum = [
        "def value_and_gradient_sum(rows):",
        f"    {' = '.join(sums)} = 0.0",
        f"    for {', '.join(arguments)}, in rows:",
        *("    " + line for line in gradient[1:]),
        f"        total += {output}",
        *(f"        S{i} += G{i}" for i in range(n)),
        f"    return {', '.join(sums)}",
        "",
    ]

    hessian = [f"def hessian_vector({', '.join(arguments + tangent_arguments)}):"]
    hessian += _forward_with_tangents(steps)
    hessian += _reverse(steps, n, output, second_order=True)
    results = [f"G{i}" for i in range(n)] + [f"H{i}" for i in range(n)]
    hessian += [f"    return {output}, {', '.join(results)}", ""]
    gradient_function = gradient + returned
    return "\n".join(value + gradient_function + hessian), "\n".join(value_sum + gradient_sum)


def _slope_refs(step: _Step) -> list[str]:
    """Each argument's slope as an expression: kept inline when it is a literal or a name."""
    return [
        step.operation.slopes[j].format(*step.args, out=f"v{step.index}") for j in range(step.operation.arity)
    ]


_SIMPLE = re.compile(r"[A-Za-z_]\w*|-?[\d.]+(e[+-]?\d+)?|\(-[\d.]+(e[+-]?\d+)?\)")


def _named_slopes(s: _Step, lines: list[str]) -> list[str]:
    """Each argument's slope as the code refers to it: inline when a name or a number, else a line
    ``s<step>_<argument> = ...`` added to ``lines``. A constant argument's slope is never needed."""
    slopes = []
    for j, slope in enumerate(_slope_refs(s)):
        if s.tangents[j] is not None and not _is_simple(slope):
            lines.append(f"    s{s.index}_{j} = {slope}")
            slope = f"s{s.index}_{j}"
        slopes.append(slope)
    return slopes


def _is_simple(expression: str) -> bool:
    """A name or a number: safe to repeat inline and to multiply without parentheses."""
    return _SIMPLE.fullmatch(expression) is not None


def _forward_with_tangents(steps: list[_Step]) -> list[str]:
    lines = []
    for s in steps:
        lines.append(f"    v{s.index} = {s.operation.value.format(*s.args)}")
        slopes = _named_slopes(s, lines)
        terms = [
            _times(slope, tangent)
            for slope, tangent in zip(slopes, s.tangents, strict=True)
            if tangent is not None
        ]
        terms = [t for t in terms if t != "0.0"]
        lines.append(f"    tv{s.index} = {' + '.join(terms) if terms else '0.0'}")
        s.slopes = slopes
    return lines


def _times(a: str, b: str) -> str:
    """a*b as source, with the exact simplifications (times 1 or -1, and an explicit 0 stays 0)."""
    if a == "0.0" or b == "0.0":
        return "0.0"
    if a == "1.0":
        return b
    if b == "1.0":
        return a
    if a == "-1.0":
        return f"-{_wrap(b)}"
    if b == "-1.0":
        return f"-{_wrap(a)}"
    return f"{_wrap(a)} * {_wrap(b)}"


def _wrap(expression: str) -> str:
    return expression if _is_simple(expression) else f"({expression})"


def _reverse(steps: list[_Step], n: int, output: str, second_order: bool) -> list[str]:
    """The backward pass: adjoint g of each operation (and its tangent h, for second order)."""
    lines: list[str] = []
    adjoint = {len(steps) - 1: "1.0"} if steps else {}
    tangent = {len(steps) - 1: "0.0"} if steps else {}
    written: set[str] = set()

    def add(target: str, term: str) -> None:
        if term == "0.0" and target in written:
            return
        if target in written:
            # Not +=: on arrays that would write into an array another name may share, in place.
            lines.append(f"    {target} = {target} + {term}")
        else:
            lines.append(f"    {target} = {term}")
            written.add(target)

    for s in reversed(steps):
        g = adjoint[s.index]
        h = tangent.get(s.index, "0.0")
        slopes = s.slopes if second_order else _named_slopes(s, lines)
        for j in range(s.operation.arity):
            if s.tangents[j] is None:
                continue  # a constant: backprop sends it nothing
            term = _times(g, slopes[j])
            if second_order:
                change = _slope_change(s, j)
                parts = [_times(h, slopes[j]), _times(g, change) if change else "0.0"]
                parts = [p for p in parts if p != "0.0"]
                second = " + ".join(_wrap(p) for p in parts) if parts else "0.0"
            if s.symbols[j] is not None:
                add(f"G{s.symbols[j]}", term)
                if second_order:
                    add(f"H{s.symbols[j]}", second)
            else:
                child = s.inputs[j]
                lines.append(f"    g{child} = {term}")
                adjoint[child] = f"g{child}"
                if second_order:
                    if second == "0.0":
                        tangent[child] = "0.0"
                    else:
                        lines.append(f"    h{child} = {second}")
                        tangent[child] = f"h{child}"
    for i in range(n):
        if f"G{i}" not in written:
            lines.append(f"    G{i} = 1.0" if output == f"a{i}" else f"    G{i} = 0.0")
        if second_order and f"H{i}" not in written:
            lines.append(f"    H{i} = 0.0")
    return lines


def _slope_change(s: _Step, j: int) -> str | None:
    """How slope j of step s changes along the direction, as source; None when it does not."""
    terms = []
    for coefficient, which in s.operation.slope_changes[j]:
        if which == "dout":
            tangent = f"tv{s.index}"
        else:
            tangent = s.tangents[int(which[1])]
            if tangent is None:
                continue  # a constant argument does not move
        slopes = {f"s{k}": slope for k, slope in enumerate(s.slopes)}
        filled = coefficient.format(*s.args, out=f"v{s.index}", **slopes)
        terms.append(_times(filled, tangent))
    terms = [t for t in terms if t != "0.0"]
    return " + ".join(_wrap(t) for t in terms) if terms else None
