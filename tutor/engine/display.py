"""Formulas as learners write them: f and its partial derivatives in LaTeX, plain text and MathML.

SymPy's printers show SymPy's form, not the learner's: sigmoid(w0*x0 + w1*x1 + b) comes out as
1/(1 + e^(−b − w0·x0 − w1·x1)), e as a double-struck ⅇ, and names decorated (``xabs`` as |x|, ``xdot``
as ẋ). This module prints the parser's checked tree (``Parsed.tree``) itself, in pure Python:

- f as typed: the learner's operations in the learner's order, with only the parentheses its precedence
  needs (so the text form, parsed again, gives the same tree), σ for sigmoid, the learner's names exactly
  as typed, numbers as exact decimals (or p/q), e^u for exp only where the exponent is small.
- each partial ∂f/∂p by the chain rule along the learner's own graph, as backprop computes it: the
  gradient of f flows back from f, each operation multiplies it by its local slope written the way a
  learner writes it (σ(z)(1 − σ(z)), 1 − tanh²(z), 1/u, 𝟙[z > 0] for relu), and where a value feeds several
  operations the contributions add up. Sub-expressions get names (z = w0·x0 + w1·x1 + b, a = σ(z), …)
  where they are long or repeated, as in the cs231n notes. Simplification is light on purpose: drop ·1
  and +0, multiply numbers together, add up equal terms; never expand.

The text form is also input the tutor accepts (− and · are read as - and *, ^ as **), except the two
step functions of the kinks, 𝟙[u > 0] and sign(u), which the parser has no words for.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING

from tutor.engine.functions import FUNCTIONS

if TYPE_CHECKING:  # only a type here: parse.py prints formulas through symbolic.py, which uses this module
    from tutor.engine.parse import Node

# Precedence of what a printed piece is, loosest first; an operand looser than its place needs parentheses.
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5
# A sub-expression is long (and gets a name) above this many characters, and worth a name when it
# appears twice in one partial above SHORT characters; the fully substituted form is shown up to
# SUBSTITUTED characters. Above MAX_NODES nodes a partial is not written out at all (its value is).
LONG, SHORT, SUBSTITUTED, MAX_NODES = 16, 8, 60, 600
# Functions whose powers read f²(u), as learners write tanh² and sin².
_POWER_BEFORE_ARGUMENT = frozenset({"sin", "cos", "tan", "sinh", "cosh", "tanh"})
# Names the intermediates may take, by what they are: a function's argument (z = w·x + b), a function's
# value (a = σ(z)), anything else (u = x·y + 1). More than one of a kind are numbered: z1, z2, …
_NAME_CHOICES = {"argument": ("z", "s", "r"), "value": ("a", "h", "g"), "other": ("u", "v", "q")}


@dataclass(eq=False, frozen=True, slots=True)
class Expr:
    """One expression. Every Expr is interned by its ``Algebra``, so equal structure is the same object:
    equality is identity, a repeated sub-expression is one shared node, and hashing is free."""

    # The learner's tree has name, num, add, sub, mul, div, pow, neg, pos and call; the chain rule adds
    # sum and product (of any number of terms; a product's number is its ``value``), step, sign and
    # slope (a function's derivative without a learner's form).
    kind: str
    args: tuple[Expr, ...]
    label: str  # the variable's or function's name, or the relation of a step (> or <)
    value: Fraction | None  # a number's value, a product's numeric factor
    uid: int  # creation order: every expression comes after its arguments
    variables: frozenset[str]


class Algebra:
    """Builds interned expressions, with the light simplification the chain rule needs."""

    def __init__(self) -> None:
        self._pool: dict[tuple, Expr] = {}

    def make(
        self, kind: str, args: Sequence[Expr] = (), label: str = "", value: Fraction | None = None
    ) -> Expr:
        key = (kind, label, value, tuple(arg.uid for arg in args))
        found = self._pool.get(key)
        if found is None:
            variables = (
                frozenset({label}) if kind == "name" else frozenset().union(*(a.variables for a in args))
            )
            found = Expr(kind, tuple(args), label, value, len(self._pool), variables)
            self._pool[key] = found
        return found

    def num(self, value: Fraction | int) -> Expr:
        return self.make("num", value=Fraction(value))

    def from_tree(self, node: Node) -> Expr:
        """The learner's tree as an expression, operation for operation (iteratively: trees are deep)."""
        built: dict[int, Expr] = {}
        stack: list[tuple[Node, bool]] = [(node, False)]
        while stack:
            current, expanded = stack.pop()
            if current.op == "input":
                built[id(current)] = self.make("name", label=current.name)
            elif current.op == "const":
                built[id(current)] = self.num(current.value)
            elif not expanded:
                stack.append((current, True))
                # Reversed, so that the arguments are built left to right: names are numbered in reading order.
                stack.extend((child, False) for child in reversed(current.children))
            else:
                args = [built[id(child)] for child in current.children]
                if current.op in FUNCTIONS:
                    built[id(current)] = self.make("call", args, label=current.op)
                else:
                    built[id(current)] = self.make(current.op, args)
        return built[id(node)]

    # The chain rule's constructors.

    def times(self, *factors: Expr) -> Expr:
        """A product: nested products flattened, numbers multiplied into one leading number, 1s dropped."""
        coefficient = Fraction(1)
        kept: list[Expr] = []
        for factor in factors:
            if factor.kind == "num":
                coefficient *= factor.value
            elif factor.kind == "product":
                coefficient *= factor.value
                kept.extend(factor.args)
            else:
                kept.append(factor)
        if coefficient == 0 or not kept:
            return self.num(coefficient)
        if coefficient == 1 and len(kept) == 1:
            return kept[0]
        return self.make("product", kept, value=coefficient)

    def negative(self, term: Expr) -> Expr:
        return self.times(self.num(-1), term)

    def plus(self, *terms: Expr) -> Expr:
        """A sum: nested sums flattened, numbers added, 0s dropped, equal terms added up (a + a = 2·a)."""
        flat: list[Expr] = []
        for term in terms:
            flat.extend(term.args if term.kind == "sum" else (term,))
        number = Fraction(0)
        numbers_placed = False
        coefficients: dict[Expr, Fraction] = {}
        order: list[Expr | None] = []  # None marks where the numbers go: where the first one was
        for term in flat:
            if term.kind == "num":
                number += term.value
                if not numbers_placed:
                    numbers_placed = True
                    order.append(None)
                continue
            coefficient, rest = self._split(term)
            if rest not in coefficients:
                order.append(rest)
                coefficients[rest] = Fraction(0)
            coefficients[rest] += coefficient
        kept = []
        for rest in order:
            if rest is None:
                if number != 0:
                    kept.append(self.num(number))
            elif coefficients[rest] != 0:
                kept.append(self.times(self.num(coefficients[rest]), rest))
        if not kept:
            return self.num(0)
        return kept[0] if len(kept) == 1 else self.make("sum", kept)

    def _split(self, term: Expr) -> tuple[Fraction, Expr]:
        if term.kind == "product":
            return term.value, self.times(*term.args)
        return Fraction(1), term

    def over(self, numerator: Expr, denominator: Expr) -> Expr:
        if denominator.kind == "num" and denominator.value == 1:
            return numerator
        if numerator.kind == "num" and denominator.kind == "num":
            return self.num(numerator.value / denominator.value)
        return self.make("div", (numerator, denominator))

    def power(self, base: Expr, exponent: Expr) -> Expr:
        if exponent.kind == "num" and exponent.value == 1:
            return base
        if exponent.kind == "num" and exponent.value == 0:
            return self.num(1)
        return self.make("pow", (base, exponent))

    def call(self, function: str, *args: Expr) -> Expr:
        return self.make("call", args, label=function)

    def step(self, left: Expr, relation: str, right: Expr) -> Expr:
        return self.make("step", (left, right), label=relation)


# ---------------------------------------------------------------------------------------------------
# The chain rule


def _exact(expr: Expr) -> Fraction | None:
    """The exact value of a number written as arithmetic (1/3, 2 - 0.5), else None."""
    if expr.kind == "num":
        return expr.value
    if expr.variables or expr.kind not in ("add", "sub", "mul", "div", "neg", "pos", "pow"):
        return None
    values = [_exact(arg) for arg in expr.args]
    if any(v is None for v in values):
        return None
    match expr.kind:
        case "add":
            return values[0] + values[1]
        case "sub":
            return values[0] - values[1]
        case "mul":
            return values[0] * values[1]
        case "div":
            return values[0] / values[1] if values[1] else None
        case "neg":
            return -values[0]
        case "pos":
            return values[0]
    base, exponent = values
    # Small integer powers only: 0.3**64 written out exactly has 64 digits.
    if exponent.denominator != 1 or abs(exponent) > 8 or (base == 0 and exponent < 0):
        return None
    return base ** int(exponent)


def _slope(algebra: Algebra, node: Expr, index: int) -> Expr:
    """∂node/∂(its argument ``index``), written as a learner writes the local derivative."""
    a = algebra
    args = node.args
    u = args[0]
    match node.kind:
        case "add" | "pos":
            return a.num(1)
        case "sub":
            return a.num(1 if index == 0 else -1)
        case "neg":
            return a.num(-1)
        case "mul":
            return args[1 - index]
        case "div":
            if index == 0:
                return a.over(a.num(1), args[1])
            return a.negative(a.over(u, a.power(args[1], a.num(2))))
        case "pow":
            base, exponent = args
            if index == 1:
                return a.times(node, a.call("log", base))
            k = _exact(exponent)
            if k is not None:
                return a.times(a.num(k), a.power(base, a.num(k - 1)))
            return a.times(exponent, a.power(base, a.plus(exponent, a.num(-1))))
    match node.label:
        case "exp":
            return node
        case "log":
            return a.over(a.num(1), u)
        case "sqrt":
            return a.over(a.num(1), a.times(a.num(2), node))
        case "sin":
            return a.call("cos", u)
        case "cos":
            return a.negative(a.call("sin", u))
        case "tan":
            return a.plus(a.num(1), a.power(node, a.num(2)))
        case "tanh":
            return a.plus(a.num(1), a.negative(a.power(node, a.num(2))))
        case "sinh":
            return a.call("cosh", u)
        case "cosh":
            return a.call("sinh", u)
        case "atan":
            return a.over(a.num(1), a.plus(a.num(1), a.power(u, a.num(2))))
        case "sigmoid":
            return a.times(node, a.plus(a.num(1), a.negative(node)))
        case "softplus":
            return a.call("sigmoid", u)
        case "relu":
            return a.step(u, ">", a.num(0))
        case "abs":
            return a.make("sign", (u,))
        case "max":
            return a.step(args[index], ">", args[1 - index])
        case "min":
            return a.step(args[index], "<", args[1 - index])
    # A function added to functions.FUNCTIONS without a line here: written f′(u) (∂ᵢf(u, v) for one of
    # several arguments) until it has one; a test lists the functions that have none.
    return a.make("slope", args, label=node.label, value=Fraction(index if len(args) > 1 else -1))


def _reachable(root: Expr) -> list[Expr]:
    """Every expression under root, once each, outputs before their arguments."""
    seen: dict[int, Expr] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        if current.uid not in seen:
            seen[current.uid] = current
            stack.extend(current.args)
    return sorted(seen.values(), key=lambda e: e.uid, reverse=True)


def _occurrences(root: Expr, stop: Container[Expr] = frozenset()) -> dict[Expr, int]:
    """How often each sub-expression appears in root written out in full (not going into ``stop``)."""
    counts: dict[Expr, int] = {root: 1}
    for current in _reachable(root):
        count = counts.get(current, 0)
        if count and current not in stop:
            for arg in current.args:
                counts[arg] = counts.get(arg, 0) + count
    return counts


def _reading_order(root: Expr) -> dict[Expr, int]:
    """Each sub-expression's place in reading order (where it is first written, from the left)."""
    order: dict[Expr, int] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        if current not in order:
            order[current] = len(order)
            stack.extend(reversed(current.args))
    return order


def _gradients(algebra: Algebra, f: Expr, parameters: Iterable[str]) -> dict[str, Expr]:
    """∂f/∂p for each parameter: reverse accumulation over the graph of f, one pass for all of them.

    Each operation receives the gradient of f with respect to its value (its parents' gradients times
    their local slopes, added up), and passes it on times its own local slope: so each partial reads,
    from left to right, as the local slopes met on the way from f down to the parameter."""
    wanted = frozenset(parameters)
    # Each operation's incoming parts: (where the operation they come from is written, its gradient,
    # its local slope).
    written_at = _reading_order(f)
    incoming: dict[Expr, list[tuple[int, Expr, Expr]]] = {f: [(0, algebra.num(1), algebra.num(1))]}
    gradient: dict[Expr, Expr] = {}
    for node in _reachable(f):
        parts = incoming.pop(node, None)
        if not parts:
            continue
        # Parents that hand down the same gradient share it as a factor: g·(slope1 + slope2) (a number
        # is no factor worth sharing). In the order the learner wrote the operations they come from.
        by_gradient: dict[object, tuple[Expr, list[Expr]]] = {}
        for index, (_, upstream, slope) in enumerate(sorted(parts, key=lambda part: part[0])):
            key = index if upstream.kind == "num" else upstream
            by_gradient.setdefault(key, (upstream, []))[1].append(slope)
        total = algebra.plus(
            *(algebra.times(up, algebra.plus(*slopes)) for up, slopes in by_gradient.values())
        )
        gradient[node] = total
        for index, arg in enumerate(node.args):
            # Numbers and data columns are never updated: backprop sends them nothing.
            if arg.variables & wanted:
                incoming.setdefault(arg, []).append((written_at[node], total, _slope(algebra, node, index)))
    return {name: gradient.get(algebra.make("name", label=name), algebra.num(0)) for name in parameters}


# ---------------------------------------------------------------------------------------------------
# Naming intermediate nodes


def _width(expr: Expr, named: Mapping[Expr, object], widths: dict[Expr, int]) -> int:
    """About how many characters expr takes written out (σ counts as one), a named part as two."""
    if expr in named:
        return 2
    if expr in widths:
        return widths[expr]
    inner = [_width(arg, named, widths) for arg in expr.args]
    if expr.kind == "name":
        width = len(expr.label)
    elif expr.kind == "num":
        width = len(_number_text(abs(expr.value))) + (expr.value < 0)
    elif expr.kind == "call":
        width = (1 if expr.label == "sigmoid" else len(expr.label)) + 2 + sum(inner) + 2 * (len(inner) - 1)
    else:
        width = sum(inner) + max(len(inner) - 1, 1)
    widths[expr] = width
    return width


def _choose_named(f: Expr, partials: Mapping[str, Expr]) -> dict[Expr, str]:
    """Which operations of f get a name, each with its kind (argument, value, other).

    First, from the arguments up: an operation that appears more than once in f, or twice in one
    partial when it is a function's argument (z in σ(z)(1 − σ(z))) or not short. A function call itself
    is not named for appearing twice, so σ(z) stays σ(z) once z is named. Then, reading each partial
    from the left: an operation still written out in full and long gets a name (the outermost one, so a
    long sum is named whole, not in pieces; a function's long argument rather than the call, unless that
    argument is a call itself, as in sin(sin(…)))."""
    in_f = _occurrences(f)
    per_partial = [_occurrences(partial) for partial in partials.values()]
    arguments = {arg for node in in_f if node.kind == "call" for arg in node.args}
    parents: dict[Expr, list[Expr]] = {}
    for node in in_f:
        for arg in node.args:
            parents.setdefault(arg, []).append(node)

    def repeated(node: Expr, counts: Mapping[Expr, int]) -> bool:
        # Twice in the partial, and not only as part of a larger repeated operation (named instead).
        count = counts.get(node, 0)
        return count >= 2 and not any(
            p.kind != "call" and counts.get(p, 0) == count for p in parents.get(node, ())
        )

    def nameable(node: Expr) -> bool:
        if node.kind in ("name", "num") or not node.variables:
            return False
        return not (node.kind == "neg" and node.args[0].kind in ("name", "num"))

    def kind(node: Expr) -> str:
        return "argument" if node in arguments else "value" if node.kind == "call" else "other"

    kinds: dict[Expr, str] = {}
    widths: dict[Expr, int] = {}  # a named part counts as two characters

    def long_operation(node: Expr) -> bool:
        # A long argument that is no function call: named itself, rather than the call around it.
        return node.kind != "call" and nameable(node) and _width(node, kinds, widths) > LONG

    for node in sorted(in_f, key=lambda e: e.uid):
        if not nameable(node):
            continue
        twice = node.kind != "call" and any(repeated(node, counts) for counts in per_partial)
        if in_f[node] >= 2 or (twice and (node in arguments or _width(node, kinds, widths) > SHORT)):
            kinds[node] = kind(node)
    for partial in partials.values():
        stack = [partial]
        while stack:
            current = stack.pop()
            if current in kinds:
                continue
            if current in in_f and nameable(current):
                if _width(current, kinds, widths) <= LONG:
                    continue  # and so is everything inside it
                if not (current.kind == "call" and any(long_operation(arg) for arg in current.args)):
                    kinds[current] = kind(current)
                    continue
            stack.extend(reversed(current.args))
    return kinds


def _give_names(kinds: Mapping[Expr, str], taken: set[str]) -> dict[Expr, str]:
    names: dict[Expr, str] = {}
    for kind, choices in _NAME_CHOICES.items():
        members = [node for node in kinds if kinds[node] == kind]
        if not members:
            continue
        for base in choices:
            candidates = [base] if len(members) == 1 else [f"{base}{i}" for i in range(1, len(members) + 1)]
            if not taken.intersection(candidates):
                break
        else:
            # Every choice is one of the learner's names: number on from the first free one.
            candidates, i = [], 1
            while len(candidates) < len(members):
                if f"{base}{i}" not in taken:
                    candidates.append(f"{base}{i}")
                i += 1
        taken.update(candidates)
        names.update(zip(members, candidates, strict=True))
    return names


def _used_definitions(partials: Iterable[Expr], names: Mapping[Expr, object]) -> list[Expr]:
    """The named nodes the partials need, with the ones those need, each after those it uses."""
    needed: set[Expr] = set()
    stack = list(partials)
    visited: set[Expr] = set()
    while stack:
        current = stack.pop()
        if current in visited:
            continue
        visited.add(current)
        if current in names:
            needed.add(current)
        stack.extend(current.args)
    return sorted(needed, key=lambda e: e.uid)


def _size(root: Expr, names: Mapping[Expr, object]) -> int:
    """The number of nodes of root written out, named parts counted as one, without writing it out."""
    counts = _occurrences(root, stop=names)
    return sum(counts.values())


# ---------------------------------------------------------------------------------------------------
# Numbers


def _terminating(value: Fraction) -> tuple[int, int] | None:
    """(digits, places) with value = digits / 10**places when value is a finite decimal, else None."""
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return None
    places = max(twos, fives)
    return int(value * 10**places), places


def _scientific(value: Fraction) -> tuple[str, int] | None:
    """(mantissa, exponent) when value (≥ 0) is a decimal too small or large to read positionally."""
    decimal = _terminating(value)
    if decimal is None or value == 0:
        return None
    digits, places = decimal
    text = str(digits).rstrip("0")
    exponent = len(str(digits)) - 1 - places
    if -5 <= exponent < 16:
        return None
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return mantissa, exponent


def _number_text(value: Fraction) -> str:
    """A non-negative number as the text form writes it: 2, 0.25, 1.5e-7, or 2/3 when not a decimal."""
    if value.denominator == 1 and value < 10**16:
        return str(value.numerator)
    scientific = _scientific(value)
    if scientific is not None:
        return f"{scientific[0]}e{scientific[1]}"
    decimal = _terminating(value)
    if decimal is None:
        return f"{value.numerator}/{value.denominator}"
    digits, places = decimal
    text = str(digits).rjust(places + 1, "0")
    return f"{text[:-places]}.{text[-places:]}"


# ---------------------------------------------------------------------------------------------------
# Printers


@dataclass(frozen=True, slots=True)
class _Out:
    """A printed piece and what its neighbours need to know about it."""

    text: str
    precedence: int
    lead: str = "other"  # what it starts with: num, name, call, paren, frac, other
    tail: str = "other"  # what it ends with
    signed: bool = False  # starts with a minus or plus sign
    number: bool = False  # is a number and nothing else


class _Printer:
    """Precedence and the shape of sums and products, shared by the three notations."""

    minus = " − "
    plus = " + "

    def __init__(self, names: Mapping[Expr, str] | None = None, variables: Iterable[str] = ()) -> None:
        self.names = names or {}
        # e^u for exp would be read as a power of the learner's variable e.
        self.use_euler = "e" not in set(variables)
        # Each sub-expression printed once: the partials share most of theirs (σ(z) in every one).
        self.printed: dict[Expr, _Out] = {}

    def show(self, expr: Expr) -> str:
        """The expression itself, even if it has a name (a definition's right-hand side)."""
        return self.piece(expr, top=True).text

    def inner(self, expr: Expr) -> str:
        """expr standing on its own inside a larger piece (an exponent, a fraction's part)."""
        return self.piece(expr).text

    def piece(self, expr: Expr, top: bool = False) -> _Out:
        if not top and expr in self.names:
            return self.name(self.names[expr])
        out = self.printed.get(expr)
        if out is None:
            out = self.printed[expr] = self.written(expr)
        return out

    def written(self, expr: Expr) -> _Out:
        """expr written out (not by its name)."""
        match expr.kind:
            case "name":
                return self.name(expr.label)
            case "num":
                return self.signed_number(expr.value)
            case "add" | "sub":
                left = self.operand(expr.args[0], SUM)
                right = self.operand(expr.args[1], SUM + 1, first=False)
                between = self.plus if expr.kind == "add" else self.minus
                return self.joined([left.text, self.symbol(between), right.text], SUM, left, right)
            case "mul":
                left = self.operand(expr.args[0], PRODUCT)
                right = self.operand(expr.args[1], PRODUCT + 1, first=False)
                return self.joined([left.text, self.times(left, right), right.text], PRODUCT, left, right)
            case "neg" | "pos":
                inner = self.operand(expr.args[0], UNARY + 1)
                sign = "−" if expr.kind == "neg" else "+"
                return _Out(self.row([self.symbol(sign), inner.text]), UNARY, signed=True)
            case "sum":
                return self.sum(expr.args)
            case "product":
                return self.product(expr.value, expr.args)
            case "div":
                return self.divide(expr.args[0], expr.args[1])
            case "pow":
                return self.power(expr.args[0], expr.args[1])
            case "call":
                return self.call(expr.label, expr.args)
            case "step":
                return self.step(expr.args[0], expr.label, expr.args[1])
            case "sign":
                return self.function("sign", [self.piece(expr.args[0])])
            case "slope":
                mark = "′" if expr.value < 0 else f"′{int(expr.value) + 1}"
                return self.function(expr.label + mark, [self.piece(arg) for arg in expr.args])
        raise ValueError(f"cannot print {expr.kind}")

    def operand(self, expr: Expr, precedence: int, first: bool = True) -> _Out:
        """expr in a place that needs at least ``precedence``; a sign after an operator (a·(−b)) is put
        in parentheses too."""
        out = self.piece(expr)
        if out.precedence < precedence or (out.signed and not first):
            return self.parenthesized(out)
        return out

    def joined(self, texts: list[str], precedence: int, first: _Out, last: _Out) -> _Out:
        return _Out(self.row(texts), precedence, first.lead, last.tail, first.signed)

    def sum(self, terms: Sequence[Expr]) -> _Out:
        if terms[0].kind == "num" and terms[0].value < 0:
            terms = [*terms[1:], terms[0]]  # y − 1, not −1 + y
        first = self.term(terms[0], first=True)
        texts = [first.text]
        last = first
        for term in terms[1:]:
            magnitude = self.magnitude(term)
            if magnitude is None:
                last = self.term(term, first=False)
                texts += [self.symbol(self.plus), last.text]
            else:
                last = magnitude if magnitude.precedence > SUM else self.parenthesized(magnitude)
                texts += [self.symbol(self.minus), last.text]
        return self.joined(texts, SUM, first, last)

    def term(self, term: Expr, first: bool) -> _Out:
        """A term of a chain-rule sum. One that is a sum of the learner's keeps its brackets, so that each
        term reads as one path's contribution: (1 − a) − a, not 1 − a − a."""
        out = self.piece(term)
        if term not in self.names and term.kind in ("add", "sub") or (out.signed and not first):
            return self.parenthesized(out)
        return out

    def magnitude(self, term: Expr) -> _Out | None:
        """A negative term without its minus sign (so that a sum reads a − b), or None if not negative."""
        if term in self.names:
            return None
        if term.kind == "num" and term.value < 0:
            return self.signed_number(-term.value)
        if term.kind == "product" and term.value < 0:
            return self.product(-term.value, term.args)
        if term.kind == "neg":
            return self.operand(term.args[0], UNARY + 1)
        return None

    def product(self, coefficient: Fraction, factors: Sequence[Expr]) -> _Out:
        pieces: list[_Out] = []
        if abs(coefficient) != 1:
            pieces.append(self.signed_number(abs(coefficient)))
        for index, factor in enumerate(factors):
            out = self.operand(factor, PRODUCT, first=not pieces and coefficient > 0)
            pieces.append(self.product_factor(out, followed=index < len(factors) - 1))
        if len(pieces) == 1 and coefficient > 0:
            return pieces[0]
        texts = [pieces[0].text]
        for left, right in zip(pieces, pieces[1:], strict=False):
            texts += [self.times(left, right), right.text]
        if coefficient < 0:
            return _Out(self.row([self.symbol("−"), *texts]), UNARY, signed=True, tail=pieces[-1].tail)
        return _Out(self.row(texts), PRODUCT, pieces[0].lead, pieces[-1].tail)

    def product_factor(self, out: _Out, followed: bool) -> _Out:
        """A factor of a product as it stands among the others (the text form brackets 1/u there)."""
        return out

    def call(self, function: str, args: Sequence[Expr]) -> _Out:
        if function == "exp" and self.use_euler and _small_exponent(args[0], self.names):
            return self.exponential(args[0])
        return self.function(function, [self.piece(arg) for arg in args])

    # What each notation writes.

    def name(self, name: str) -> _Out:
        raise NotImplementedError

    def signed_number(self, value: Fraction) -> _Out:
        if value < 0:
            return _Out(self.row([self.symbol("−"), self.number(-value).text]), UNARY, signed=True)
        return self.number(value)

    def number(self, value: Fraction) -> _Out:
        scientific = _scientific(value)
        if scientific is not None:
            return self.scientific(*scientific)
        text = _number_text(value)
        if "/" in text:
            return self.fraction(value.numerator, value.denominator)
        return _Out(self.digits(text), ATOM, "num", "num", number=True)

    def scientific(self, mantissa: str, exponent: int) -> _Out:
        power = self.superscript(self.digits("10"), self.signed_number(Fraction(exponent)).text)
        if mantissa == "1":
            return _Out(power, POWER, "num", "num", number=True)
        return _Out(
            self.row([self.digits(mantissa), self.symbol(" × "), power]), PRODUCT, "num", "num", number=True
        )

    def power(self, base: Expr, exponent: Expr) -> _Out:
        top = self.inner(exponent)
        if base not in self.names and base.kind == "call" and _power_before_argument(base, exponent):
            return self.applied(self.superscript(self.head(base.label), top), self.inner(base.args[0]))
        bottom = self.operand(base, ATOM)
        if bottom.lead == "frac":
            bottom = self.parenthesized(bottom)
        return _Out(self.superscript(bottom.text, top), POWER, bottom.lead, "other")

    def exponential(self, exponent: Expr) -> _Out:
        return _Out(self.superscript(self.euler, self.inner(exponent)), POWER, "name", "other")

    def digits(self, text: str) -> str:
        return text

    def fraction(self, numerator: int, denominator: int) -> _Out:
        raise NotImplementedError

    def superscript(self, base: str, exponent: str) -> str:
        raise NotImplementedError

    def head(self, function: str) -> str:
        """A function's name as the notation writes it before its argument."""
        raise NotImplementedError

    def applied(self, head: str, inner: str) -> _Out:
        """A function (its written head) applied to its arguments, written out."""
        raise NotImplementedError

    def symbol(self, symbol: str) -> str:
        raise NotImplementedError

    def row(self, texts: Sequence[str]) -> str:
        return "".join(texts)

    def parenthesized(self, out: _Out) -> _Out:
        raise NotImplementedError

    def times(self, left: _Out, right: _Out) -> str:
        raise NotImplementedError

    def divide(self, numerator: Expr, denominator: Expr) -> _Out:
        raise NotImplementedError

    def function(self, function: str, args: Sequence[_Out]) -> _Out:
        raise NotImplementedError

    def step(self, left: Expr, relation: str, right: Expr) -> _Out:
        raise NotImplementedError


def _small_exponent(expr: Expr, names: Mapping[Expr, str]) -> bool:
    """exp(u) reads as e^u when u is a few symbols without fractions or functions: e^(−x²), e^(x·y)."""
    if expr in names or expr.kind in ("name", "num"):
        return True
    if expr.kind in ("div", "call", "step", "sign") or len(expr.args) > 2 or _depth(expr) > 3:
        return False
    return all(_small_exponent(arg, names) for arg in expr.args)


def _depth(expr: Expr) -> int:
    return 1 + max((_depth(arg) for arg in expr.args), default=0)


def _juxtaposed(left: _Out, right: _Out) -> bool:
    """Whether two factors may stand side by side without a times sign, as 2x, 2σ(z) and σ(z)(1 − σ(z))."""
    if right.lead in ("num", "frac") or right.signed:
        return False
    return left.number or (right.lead == "paren" and left.tail in ("call", "paren"))


class TextPrinter(_Printer):
    """Plain Unicode text: what a forum shows in code, and what the tutor reads back as input."""

    def name(self, name: str) -> _Out:
        return _Out(name, ATOM, "name", "name")

    def scientific(self, mantissa: str, exponent: int) -> _Out:
        return _Out(f"{mantissa}e{exponent}", ATOM, "num", "num", number=True)  # as Python writes it

    def fraction(self, numerator: int, denominator: int) -> _Out:
        return _Out(f"{numerator}/{denominator}", PRODUCT, "num", "num", number=True)

    def symbol(self, symbol: str) -> str:
        return symbol

    def parenthesized(self, out: _Out) -> _Out:
        return _Out(f"({out.text})", ATOM, "paren", "paren")

    def times(self, left: _Out, right: _Out) -> str:
        return "·"

    def product_factor(self, out: _Out, followed: bool) -> _Out:
        # 1/u·x reads (and parses) as (1/u)·x, but a reader should not have to know that.
        if followed and out.precedence == PRODUCT and "/" in out.text:
            return self.parenthesized(out)
        return out

    def divide(self, numerator: Expr, denominator: Expr) -> _Out:
        top = self.operand(numerator, PRODUCT)
        bottom = self.operand(denominator, PRODUCT + 1, first=False)
        return _Out(f"{top.text}/{bottom.text}", PRODUCT, top.lead, bottom.tail, top.signed)

    def power(self, base: Expr, exponent: Expr) -> _Out:
        bottom = self.operand(base, ATOM)
        top = self.piece(exponent)
        if top.precedence < ATOM or top.signed or "e" in top.text and top.number:
            top = self.parenthesized(top)
        return _Out(f"{bottom.text}^{top.text}", POWER, bottom.lead, top.tail)

    def function(self, function: str, args: Sequence[_Out]) -> _Out:
        return _Out(f"{function}({', '.join(a.text for a in args)})", ATOM, "call", "call")

    def call(self, function: str, args: Sequence[Expr]) -> _Out:
        # Always the name the parser knows (exp, sigmoid), so the text can be pasted back in.
        return self.function(function, [self.piece(arg) for arg in args])

    def step(self, left: Expr, relation: str, right: Expr) -> _Out:
        return _Out(f"𝟙[{self.inner(left)} {relation} {self.inner(right)}]", ATOM, "call", "paren")


_LATEX_FUNCTIONS = {
    "sigmoid": r"\sigma",
    "atan": r"\arctan",
    **{
        name: "\\" + name
        for name in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "max", "min")
    },
}


class LatexPrinter(_Printer):
    minus = " - "

    def name(self, name: str) -> _Out:
        # Exactly as typed: one letter is a letter; longer names in italics, with literal underscores
        # (w_1 is the name w_1, not w with a subscript 1).
        text = name if len(name) == 1 else r"\mathit{" + name.replace("_", r"\_") + "}"
        return _Out(text, ATOM, "name", "name")

    euler = r"\mathrm{e}"

    def fraction(self, numerator: int, denominator: int) -> _Out:
        return _Out(rf"\frac{{{numerator}}}{{{denominator}}}", ATOM, "num", "frac", number=True)

    def superscript(self, base: str, exponent: str) -> str:
        return f"{base}^{{{exponent}}}"

    def head(self, function: str) -> str:
        return _LATEX_FUNCTIONS.get(function, r"\operatorname{" + function + "}")

    def applied(self, head: str, inner: str) -> _Out:
        return _Out(rf"{head}\left({inner}\right)", ATOM, "call", "call")

    def symbol(self, symbol: str) -> str:
        return symbol.replace("−", "-").replace("×", r"\times")

    def parenthesized(self, out: _Out) -> _Out:
        return _Out(rf"\left({out.text}\right)", ATOM, "paren", "paren")

    def times(self, left: _Out, right: _Out) -> str:
        return " " if _juxtaposed(left, right) else r" \cdot "

    def divide(self, numerator: Expr, denominator: Expr) -> _Out:
        return _Out(rf"\frac{{{self.inner(numerator)}}}{{{self.inner(denominator)}}}", ATOM, "frac", "frac")

    def function(self, function: str, args: Sequence[_Out]) -> _Out:
        inner = ", ".join(a.text for a in args)
        if function == "sqrt":
            return _Out(rf"\sqrt{{{inner}}}", ATOM, "call", "call")
        if function == "abs":
            return _Out(rf"\left|{inner}\right|", ATOM, "call", "call")
        return self.applied(self.head(function), inner)

    def step(self, left: Expr, relation: str, right: Expr) -> _Out:
        inner = f"{self.inner(left)} {relation} {self.inner(right)}"
        return _Out(rf"\mathbf{{1}}\left[{inner}\right]", ATOM, "call", "paren")


def _power_before_argument(base: Expr, exponent: Expr) -> bool:
    """tanh(z)² is written tanh²(z), as learners write it."""
    return (
        base.label in _POWER_BEFORE_ARGUMENT
        and exponent.kind == "num"
        and exponent.value.denominator == 1
        and exponent.value > 0
    )


_MATHML_FUNCTIONS = {"sigmoid": "σ", "atan": "arctan"}
_APPLY, _INVISIBLE_TIMES = "<mo>&#x2061;</mo>", "<mo>&#x2062;</mo>"


class MathMLPrinter(_Printer):
    """Presentation MathML (the content of a <math> element); every name is escaped, though the parser
    lets through only ASCII identifiers."""

    def name(self, name: str) -> _Out:
        # A variable in italics as in the LaTeX; MathML draws a one-letter <mi> so already, and a longer
        # one upright like a function's name unless told (browsers that implement only MathML Core,
        # such as Chromium, draw it upright all the same).
        variant = "" if len(name) == 1 else ' mathvariant="italic"'
        return _Out(f"<mi{variant}>{escape(name)}</mi>", ATOM, "name", "name")

    # Euler's number is upright e (not SymPy's double-struck ⅇ), apart from a variable called e.
    euler = '<mi mathvariant="normal">e</mi>'

    def digits(self, text: str) -> str:
        return f"<mn>{text}</mn>"

    def fraction(self, numerator: int, denominator: int) -> _Out:
        return _Out(
            f"<mfrac><mn>{numerator}</mn><mn>{denominator}</mn></mfrac>", ATOM, "num", "frac", number=True
        )

    def superscript(self, base: str, exponent: str) -> str:
        return f"<msup>{base}{exponent}</msup>"

    def head(self, function: str) -> str:
        shown = _MATHML_FUNCTIONS.get(function, function)
        # A one-letter <mi> is italic, as a variable; σ here is a function, upright like tanh.
        return f'<mi mathvariant="normal">{shown}</mi>' if len(shown) == 1 else f"<mi>{shown}</mi>"

    def applied(self, head: str, inner: str) -> _Out:
        return _Out(
            self.row([head, _APPLY, f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"]), ATOM, "call", "call"
        )

    def symbol(self, symbol: str) -> str:
        return f"<mo>{symbol.strip()}</mo>"

    def row(self, texts: Sequence[str]) -> str:
        return "<mrow>" + "".join(texts) + "</mrow>"

    def parenthesized(self, out: _Out) -> _Out:
        return _Out(f"<mrow><mo>(</mo>{out.text}<mo>)</mo></mrow>", ATOM, "paren", "paren")

    def times(self, left: _Out, right: _Out) -> str:
        return _INVISIBLE_TIMES if _juxtaposed(left, right) else "<mo>⋅</mo>"

    def divide(self, numerator: Expr, denominator: Expr) -> _Out:
        return _Out(f"<mfrac>{self.inner(numerator)}{self.inner(denominator)}</mfrac>", ATOM, "frac", "frac")

    def function(self, function: str, args: Sequence[_Out]) -> _Out:
        inner = "<mo>,</mo>".join(a.text for a in args)
        if function == "sqrt":
            return _Out(f"<msqrt>{inner}</msqrt>", ATOM, "call", "call")
        if function == "abs":
            return _Out(f"<mrow><mo>|</mo>{inner}<mo>|</mo></mrow>", ATOM, "call", "call")
        return self.applied(self.head(function), inner)

    def step(self, left: Expr, relation: str, right: Expr) -> _Out:
        relation = "&gt;" if relation == ">" else "&lt;"
        inner = f"<mrow>{self.inner(left)}<mo>{relation}</mo>{self.inner(right)}</mrow>"
        return _Out(f"<mrow><mn>𝟙</mn><mrow><mo>[</mo>{inner}<mo>]</mo></mrow></mrow>", ATOM, "call", "paren")


# ---------------------------------------------------------------------------------------------------
# What the rest of the tutor calls


class Notations:
    """The three printers for one choice of names, which remember what they printed."""

    def __init__(self, names: Mapping[Expr, str], variables: Iterable[str]) -> None:
        self.latex = LatexPrinter(names, variables)
        self.text = TextPrinter(names, variables)
        self.mathml = MathMLPrinter(names, variables)


class Formula:
    """One formula in the three notations, each written when first asked for; ``mathml`` is the
    content of a <math> element."""

    def __init__(self, expr: Expr, notations: Notations) -> None:
        self._expr = expr
        self._notations = notations

    @cached_property
    def latex(self) -> str:
        return self._notations.latex.show(self._expr)

    @cached_property
    def text(self) -> str:
        return self._notations.text.show(self._expr)

    @cached_property
    def mathml(self) -> str:
        return self._notations.mathml.show(self._expr)

    def entry(self) -> dict[str, str]:
        return {"latex": self.latex, "text": self.text}


@dataclass(frozen=True)
class Formulas:
    """f, the named intermediate nodes and each partial in chain-rule form.

    ``partials[p]`` is ∂f/∂p in terms of the ``definitions`` (None when it would be more than MAX_NODES
    nodes long); ``substituted[p]`` is the same partial with every name replaced by what it stands for,
    where that is short and differs (else None)."""

    expression: Formula
    definitions: tuple[tuple[str, Formula], ...]
    partials: dict[str, Formula | None]
    substituted: dict[str, Formula | None]

    def entry(self) -> dict:
        """``document["display"]``: the LaTeX and text forms (docs/analysis-document.md)."""
        return {
            "expression": self.expression.entry(),
            "definitions": [{"name": name, **formula.entry()} for name, formula in self.definitions],
            "partials": {
                name: None
                if formula is None
                else {**formula.entry(), "substituted": _entry_or_none(self.substituted[name])}
                for name, formula in self.partials.items()
            },
        }


def _entry_or_none(formula: Formula | None) -> dict[str, str] | None:
    return None if formula is None else formula.entry()


def expression(tree: Node) -> Formula:
    """f as the learner typed it."""
    f = Algebra().from_tree(tree)
    return Formula(f, Notations({}, f.variables))


def formulas(tree: Node, parameters: Sequence[str]) -> Formulas:
    """f as typed and ∂f/∂p for each parameter p by the chain rule along the learner's graph."""
    algebra = Algebra()
    f = algebra.from_tree(tree)
    variables = f.variables
    gradients = _gradients(algebra, f, parameters)
    kinds = _choose_named(f, gradients)
    used = _used_definitions(gradients.values(), kinds)
    names = _give_names({node: kinds[node] for node in used}, set(variables) | set(FUNCTIONS) | {"e"})
    named, in_full = Notations(names, variables), Notations({}, variables)
    partials: dict[str, Formula | None] = {}
    substituted: dict[str, Formula | None] = {}
    for name, partial in gradients.items():
        fits = _size(partial, names) <= MAX_NODES
        partials[name] = Formula(partial, named) if fits else None
        substituted[name] = None
        if fits and any(node in names for node in _reachable(partial)) and _size(partial, {}) <= MAX_NODES:
            full = Formula(partial, in_full)
            if len(full.text) <= SUBSTITUTED:
                substituted[name] = full
    definitions = tuple((names[node], Formula(node, named)) for node in used)
    return Formulas(Formula(f, in_full), definitions, partials, substituted)


def latex_name(name: str) -> str:
    """A name in LaTeX exactly as typed (SymPy's printer would make w_in_1 w_{in 1} and xdot ẋ)."""
    return LatexPrinter().name(name).text


@dataclass(frozen=True)
class Equations:
    """Whole equations ready for a math block, each as (LaTeX, text)."""

    f: tuple[str, str]
    definitions: tuple[tuple[str, str], ...]
    partials: dict[str, tuple[str, str]]


def equations(display: Mapping, of: str = "f") -> Equations:
    """From ``document["display"]``: "f = …", each definition "z = …", and each partial
    "∂f/∂p = chain-rule form [= substituted form]" (the caller appends " = value"). A partial too long to
    write out is left out."""
    expression = display["expression"]
    definitions = tuple(
        (f"{latex_name(d['name'])} = {d['latex']}", f"{d['name']} = {d['text']}")
        for d in display["definitions"]
    )
    partials: dict[str, tuple[str, str]] = {}
    for name, partial in display["partials"].items():
        if partial is None:
            continue
        latex = rf"\frac{{\partial {of}}}{{\partial {latex_name(name)}}} = {partial['latex']}"
        text = f"∂{of}/∂{name} = {partial['text']}"
        if partial.get("substituted"):
            latex += f" = {partial['substituted']['latex']}"
            text += f" = {partial['substituted']['text']}"
        partials[name] = (latex, text)
    return Equations((f"{of} = {expression['latex']}", f"{of} = {expression['text']}"), definitions, partials)
