"""Safe parsing of an expression typed by a stranger.

Nothing here hands the text to SymPy, ``eval`` or ``exec``: SymPy's string functions (``sympify``,
``parse_expr``, and any SymPy function given a string) evaluate Python code. The text is parsed with
``ast.parse`` into Python's syntax tree, checked node by node against a small grammar, bounded in size
before any symbolic work, and only then turned into SymEngine objects built directly (symbolic.py),
which refuse an operation that is undefined for every value.

Grammar: numbers, names, ``+ - * / **`` (``^`` means power too, the typeset − is a minus, × and · are
times), unary minus and plus, parentheses, and calls of the functions in ``functions.FUNCTIONS`` with
their fixed number of arguments. LaTeX (``latex.is_latex``) is translated into this grammar by latex.py
and comes back here. A refusal of a common slip says how to write it (``2x``: write 2*x).
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import symengine as se

from tutor.config import Limits
from tutor.engine import symbolic
from tutor.engine.errors import InputError
from tutor.engine.functions import FUNCTIONS
from tutor.engine.latex import is_latex, translate
from tutor.engine.operations import float_op

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos"}
# What the learner may type for Python's operators: ^ is a power (in Python it binds looser than +),
# and the minus and times signs of typeset maths (the web form's hint shows −) are pasted too. The
# times signs become " * " so that two of them never fuse into ** (a power).
_TYPED_OPERATORS = {"^": "**", "−": "-", "×": " * ", "·": " * "}
# The argument that makes an operation undefined when it is 0 for every value: a divisor, the base of
# a power (0 to a negative power), the argument of log.
_ZERO_ARGUMENT = {"div": 1, "pow": 0, "log": 0}


@dataclass(frozen=True)
class Node:
    """One operation of the expression as the learner wrote it (the graph is drawn from these)."""

    op: str  # input, const, add, sub, mul, div, pow, neg, pos, or a function name
    children: tuple[Node, ...] = ()
    name: str | None = None  # for input
    value: Fraction | None = None  # for const
    text: str = ""  # the sub-expression, written back out
    column: int = 1
    # Its value in floats when it has no variables (a constant sub-expression), else None; computed
    # from the children's as the tree is built, so bounding constants stays linear in the tree size.
    constant: float | None = None


@dataclass(frozen=True)
class Parsed:
    text: str
    tree: Node
    symbolic: se.Basic  # f for formulas people read (symbolic.py); numbers come from the tree
    symbols: tuple[str, ...]  # names in order of first appearance
    canonical: str  # the tree written out one standard way: equal texts, equal trees

    @property
    def latex(self) -> str:
        return _latex(self.symbolic)


@lru_cache(maxsize=256)
def _latex(expr: se.Basic) -> str:
    return symbolic.latex(expr)


def check_name(name: str, limits: Limits, field: str = "point", column: int | None = None) -> str:
    """A symbol name: an ASCII identifier, no double underscore, not a function name."""
    if not _NAME.match(name):
        raise InputError(f"'{name}' is not a valid name (letters, digits and _ only)", field, column)
    if "__" in name:
        raise InputError(f"name '{name}' may not contain '__'", field, column)
    if name in FUNCTIONS:
        raise InputError(f"'{name}' is a function, not a variable", field, column)
    if len(name) > limits.max_name_length:
        raise InputError(
            f"name '{name[:20]}…' is longer than {limits.max_name_length} characters", field, column
        )
    return name


def _parse_latex(text: str, limits: Limits) -> Parsed:
    """The LaTeX ``text`` parsed as its translation is (``Parsed.text`` is the translation: the formula as
    the tutor read it), with refusals at their column in ``text``."""
    translation = translate(text, limits)
    # The length limit is on what the learner wrote; the translation of a formula within it may be longer
    # (|x| is abs(x)), and the limits on the tree's size still apply to it.
    room = limits.model_copy(
        update={"max_expression_length": max(limits.max_expression_length, len(translation.text))}
    )
    try:
        return parse_expression(translation.text, room)
    except InputError as error:
        if error.column is None:
            raise
        column = translation.columns[min(max(error.column, 1), len(translation.columns)) - 1]
        raise type(error)(error.message, error.field, column) from None


def parse_expression(text: str, limits: Limits | None = None) -> Parsed:
    """Columns in refusals count the text as typed, from 1, surrounding spaces included."""
    limits = limits or Limits()
    if not isinstance(text, str):
        raise InputError("the expression must be text")
    if not text.strip():
        raise InputError("the expression is empty")
    if len(text) > limits.max_expression_length:
        raise InputError(
            f"the expression is {len(text)} characters long; the limit is {limits.max_expression_length}",
            column=limits.max_expression_length + 1,
        )
    if is_latex(text):
        return _parse_latex(text, limits)
    source, columns = _python_source(text)
    try:
        module = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if not exc.offset:
            # Python gives no position when the text stops mid-formula ("x*", "x +"): point past its end.
            raise InputError("the formula ends too early", column=columns[-1]) from None
        column = columns[min(exc.offset - 1, len(columns) - 1)]
        side_by_side = _side_by_side(source) if exc.msg.startswith("invalid") else None
        if side_by_side is not None:
            hint, index = side_by_side
            raise InputError(hint, column=columns[index]) from None
        raise InputError(f"this is not a formula I can read ({exc.msg})", column=column) from None
    except (RecursionError, MemoryError, ValueError):
        raise InputError("the expression is nested too deeply") from None

    ends = sorted(_part_ends(module))
    if len(ends) > limits.max_nodes:
        # Reading left to right, the parts complete by this column are already more than the limit.
        raise InputError(
            f"the expression has {len(ends)} parts; it passes the limit of {limits.max_nodes} here",
            column=columns[ends[limits.max_nodes] - 1],
        )
    tree = _Builder(source, columns, limits).build(module.body, depth=1)
    names = _first_appearances(tree)
    if len(names) > limits.max_symbols:
        raise InputError(
            f"the expression has {len(names)} variables; the limit is {limits.max_symbols}",
            column=list(names.values())[limits.max_symbols],
        )
    if not names:
        raise InputError("the expression has no variables to differentiate")
    symbols = {name: symbolic.symbol(name) for name in names}
    expr = _to_symbolic(tree, symbols, limits)
    return Parsed(text=text, tree=tree, symbolic=expr, symbols=tuple(names), canonical=tree_text(tree))


def _python_source(text: str) -> tuple[str, list[int]]:
    """The text as Python source, and for each source character the column of the typed character it
    comes from, then the column just past the last one typed. Surrounding whitespace is dropped (Python
    reads a pasted " x" as an indented block) and the typed operators become Python's."""
    start = len(text) - len(text.lstrip())
    stripped = text.strip()
    out: list[str] = []
    columns: list[int] = []
    for index, char in enumerate(stripped, start):
        allowed = char.isascii() and (char.isprintable() or char in " \t")
        if not allowed and char not in _TYPED_OPERATORS:
            raise InputError(
                f"the character {char!r} is not allowed{_character_hint(char)}", column=index + 1
            )
        piece = _TYPED_OPERATORS.get(char, char)
        out.append(piece)
        columns.extend([index + 1] * len(piece))
    columns.append(start + len(stripped) + 1)
    return "".join(out), columns


def _part_ends(module: ast.Expression) -> list[int]:
    """Where each node of the syntax tree ends in the source (an offset past its last character); an
    operator or a context has no position and ends with the node it belongs to."""
    ends: list[int] = []
    stack: list[tuple[ast.AST, int]] = [(module, module.body.end_col_offset)]
    while stack:
        node, parent_end = stack.pop()
        end = getattr(node, "end_col_offset", None)
        end = parent_end if end is None else end
        ends.append(end)
        stack.extend((child, end) for child in ast.iter_child_nodes(node))
    return ends


class _Builder:
    def __init__(self, source: str, columns: list[int], limits: Limits):
        self.source = source
        self.columns = columns
        self.limits = limits

    def column(self, node: ast.AST) -> int:
        offset = getattr(node, "col_offset", 0)
        return self.columns[min(offset, len(self.columns) - 1)]

    def refuse(self, message: str, node: ast.AST) -> InputError:
        return InputError(message, column=self.column(node))

    def build(self, node: ast.AST, depth: int) -> Node:
        if depth > self.limits.max_depth:
            raise self.refuse(f"the expression is nested more than {self.limits.max_depth} levels deep", node)
        column = self.column(node)
        if isinstance(node, ast.Constant):
            value = self.number(node)
            return Node("const", value=value, text=ast.unparse(node), column=column, constant=float(value))
        if isinstance(node, ast.Name):
            name = check_name(node.id, self.limits, "expression", column)
            return Node("input", name=name, text=name, column=column)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            # a + b + c + ... is a left-leaning chain in Python's tree; a sum of many terms is long,
            # not deep, so a chain of the same kind of operator counts as one level.
            left = self.build(node.left, depth if _same_chain(node, node.left) else depth + 1)
            right = self.build(node.right, depth + 1)
            op = _BINARY[type(node.op)]
            if op == "pow":
                self.check_power(right, node)
            return self.bounded(op, (left, right), _unparsed(op, (left, right)), node)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            operand = self.build(node.operand, depth + 1)
            op = _UNARY[type(node.op)]
            return self.bounded(op, (operand,), _unparsed(op, (operand,)), node)
        if isinstance(node, ast.Call):
            return self.call(node, depth, column)
        if isinstance(node, ast.Tuple):
            comma = re.search(r"\d,\d", self.source)
            if comma:
                raise InputError(
                    "use a point as the decimal separator (0.5, not 0,5)",
                    column=self.columns[comma.start() + 1],
                )
            raise self.refuse("a comma may only separate the arguments of max or min", node)
        raise self.refuse(f"'{_describe(node)}' is not allowed in a formula", node)

    def call(self, node: ast.Call, depth: int, column: int) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise self.refuse(_unknown_function(node), node)
        function = FUNCTIONS[node.func.id]
        if node.keywords:
            raise self.refuse(f"{function.name}() takes no named arguments", node.keywords[0])
        if len(node.args) != function.arity:
            plural = "s" if function.arity > 1 else ""
            raise self.refuse(
                f"{function.name}() takes {function.arity} argument{plural}, not {len(node.args)}", node
            )
        args = tuple(self.build(arg, depth + 1) for arg in node.args)
        return self.bounded(function.name, args, _unparsed(function.name, args), node)

    def number(self, node: ast.Constant) -> Fraction:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse(f"'{_describe(node)}' is not a number", node)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.refuse("this number is too large", node)
        if abs(value) > self.limits.max_constant:
            raise self.refuse(
                f"the number {value:g} is larger than the limit {self.limits.max_constant:g}", node
            )
        # repr of a float is the shortest text that gives it back, so 0.1 becomes exactly 1/10.
        return Fraction(value) if isinstance(value, int) else Fraction(repr(value))

    def check_power(self, exponent: Node, node: ast.BinOp) -> None:
        value = exponent.constant
        if value is None:
            return
        if not math.isfinite(value) or abs(value) > self.limits.max_exponent:
            raise InputError(
                f"the exponent {exponent.text} is larger than the limit {self.limits.max_exponent:g}",
                column=self.column(node.right),
            )

    def bounded(self, op: str, children: tuple[Node, ...], text: str, node: ast.AST) -> Node:
        """An operation; one without variables is a number: keep it finite and within the limit."""
        constant = None
        if all(child.constant is not None for child in children):
            constant = float_op(op, [child.constant for child in children])
            if not math.isfinite(constant):
                raise self.refuse(f"{text} is not a finite number", node)
            if abs(constant) > self.limits.max_constant:
                raise self.refuse(f"{text} is larger than the limit {self.limits.max_constant:g}", node)
        return Node(op, children, text=text, column=self.column(node), constant=constant)


_CHAINS = ({ast.Add, ast.Sub}, {ast.Mult, ast.Div})
# The names of the functions without their aliases (ln is log), for a refusal to list.
_KNOWN = ", ".join(sorted(name for name, function in FUNCTIONS.items() if function.name == name))
# Typed symbols of maths, and what to write for them.
_CHARACTER_HINTS = {"σ": "sigmoid(…) for σ(…)", "√": "sqrt(…)", "²": "x**2 or x^2", "³": "x**3 or x^3"}
# One piece of the source: a number, a name, or any other character.
_PIECE = re.compile(r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<other>\S)")


def _character_hint(char: str) -> str:
    """What to write instead of a character the grammar does not have: "; write ..." or ""."""
    if char in _CHARACTER_HINTS:
        return f"; write {_CHARACTER_HINTS[char]}"
    try:
        name = unicodedata.name(char)
    except ValueError:
        return ""
    if name.startswith("GREEK SMALL LETTER ") or name.startswith("GREEK CAPITAL LETTER "):
        spelled = name.rsplit(" ", 1)[1].lower()
        return f"; write its name, e.g. {spelled if name.startswith('GREEK SMALL') else spelled.capitalize()}"
    return ""


def _unknown_function(node: ast.Call) -> str:
    """The refusal of a call of something that is not a function: a close misspelling, or a product
    written without its * (x(y+1), 2(x+y))."""
    what = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
    argument = _describe(node.args[0]) if len(node.args) == 1 and not node.keywords else "…"
    close = difflib.get_close_matches(what[:40], _KNOWN.split(", "), n=1, cutoff=0.7)
    if close:
        return f"unknown function '{what}': did you mean {close[0]}?"
    if isinstance(node.func, ast.Constant | ast.Name):
        return f"'{what}' is not a function (known: {_KNOWN}); to multiply, write {what}*({argument})"
    return f"unknown function '{what}' (known: {_KNOWN})"


def _side_by_side(source: str) -> tuple[str, int] | None:
    """Two operands with no operator between them (2x, (x+y)z, x y): how to write the product, and the
    index of the second operand; None if there are none. Linear in the source."""
    pieces = [(match.lastgroup, match.start(), match.end()) for match in _PIECE.finditer(source)]
    for (kind, start, end), (next_kind, next_start, next_end) in zip(pieces, pieces[1:], strict=False):
        ends_operand = kind in ("number", "name") or source[start:end] == ")"
        if ends_operand and next_kind in ("number", "name"):
            left = _group_before(source, end) if kind == "other" else source[start:end]
            return f"write {left}*{source[next_start:next_end]} to multiply", next_start
    return None


def _group_before(source: str, end: int) -> str:
    """The parenthesised group that ends at ``end``, with the function name before it; cut to its last
    20 characters."""
    start, depth = end - 1, 0
    for index in range(end - 1, -1, -1):
        depth += (source[index] == ")") - (source[index] == "(")
        if depth == 0:
            start = index
            break
    while start > 0 and (source[start - 1].isalnum() or source[start - 1] == "_"):
        start -= 1
    text = source[start:end]
    return text if len(text) <= 20 else "…" + text[-19:]


# ast.unparse's spacing and Python's precedence (higher binds tighter; names, numbers and calls bind
# tightest), for writing each node's text from its children's as the tree is built. ast.unparse on
# every node would write each sub-expression once per enclosing node: quadratic in a long sum.
_UNPARSED = {"add": " + ", "sub": " - ", "mul": " * ", "div": " / ", "pow": " ** ", "neg": "-", "pos": "+"}


def _binding(node: Node) -> int:
    return _PRECEDENCE.get(node.op, 6)


def _unparsed(op: str, children: tuple[Node, ...]) -> str:
    """The text ast.unparse writes for an operation, from its children's texts."""
    if op not in _UNPARSED:
        return f"{op}({', '.join(child.text for child in children)})"
    precedence = _PRECEDENCE[op]
    if len(children) == 1:
        (operand,) = children
        return _UNPARSED[op] + _parenthesised(operand.text, _binding(operand) < precedence)
    left, right = children
    if op == "pow":  # right-associative
        wrap_left, wrap_right = _binding(left) <= precedence, _binding(right) < precedence
    else:
        wrap_left, wrap_right = _binding(left) < precedence, _binding(right) <= precedence
    return _parenthesised(left.text, wrap_left) + _UNPARSED[op] + _parenthesised(right.text, wrap_right)


def _parenthesised(text: str, parentheses: bool) -> str:
    return f"({text})" if parentheses else text


def _same_chain(parent: ast.BinOp, child: ast.AST) -> bool:
    return isinstance(child, ast.BinOp) and any(
        type(parent.op) in chain and type(child.op) in chain for chain in _CHAINS
    )


def _describe(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - a description only; any failure falls back to the node type
        text = type(node).__name__
    return text if len(text) <= 30 else text[:27] + "..."


def _first_appearances(node: Node) -> dict[str, int]:
    """Each variable with the column where it first appears, in order of first appearance."""
    seen: dict[str, int] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if current.op == "input":
            seen.setdefault(current.name, current.column)
        stack.extend(reversed(current.children))
    return seen


def _to_symbolic(node: Node, symbols: dict[str, se.Symbol], limits: Limits) -> se.Basic:
    if node.op == "input":
        return symbols[node.name]
    if node.op == "const":
        return se.Rational(node.value.numerator, node.value.denominator)
    args = [_to_symbolic(child, symbols, limits) for child in node.children]
    expr = symbolic.operation(node.op, args)
    _check_built(node, args, expr, limits)
    return expr


def _check_built(node: Node, args: list[se.Basic], expr: se.Basic, limits: Limits) -> None:
    """Refuse, at the operation that makes it, what no number can be computed from. Checked at every
    operation, not on the whole: SymEngine may fold an undefined part away (1/(x/(y-y)) becomes 0)."""
    if symbolic.is_undefined(expr):
        raise _undefined_everywhere(node, args)
    # (x**a)**b folds into x**(a*b): keep folded exponents small enough to differentiate and print.
    bound = limits.max_exponent**2
    if node.op != "pow":
        return
    for power in expr.atoms(se.Pow):
        exponent = power.args[1]
        if exponent.is_Number and abs(float(exponent)) > bound:
            raise InputError(
                f"the combined exponent {exponent} is larger than the limit {bound:g}",
                column=node.children[1].column,
            )


def _undefined_everywhere(node: Node, args: list[se.Basic]) -> InputError:
    """The refusal of an operation SymEngine made infinite or NaN, at the argument that is always 0."""
    index = _ZERO_ARGUMENT.get(node.op)
    if index is None or args[index] != 0:
        return InputError(f"{node.text} is undefined for every value of its variables", column=node.column)
    zero = node.children[index]
    what = f"{node.text} is undefined (the log of 0)" if node.op == "log" else f"{node.text} divides by zero"
    why = "" if zero.constant is not None else f": {zero.text} is 0 for every value of its variables"
    return InputError(what + why, column=zero.column)


# Python's precedence of each operation, for writing a tree back out with only the parentheses it needs.
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pos": 3, "pow": 4}
_SYMBOLS = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "pow": "**", "neg": "-", "pos": "+"}


def tree_text(node: Node) -> str:
    """The tree written out one standard way: Python's operators (** for powers), spaces around + and -,
    numbers as their shortest decimal, parentheses only where the tree needs them. Reading the text
    back gives the same tree, so equal texts mean equal trees: the numbers of one are the other's."""
    op = node.op
    if op == "input":
        return node.name
    if op == "const":
        value = node.value
        return str(value.numerator) if value.denominator == 1 else repr(float(value))
    precedence = _PRECEDENCE.get(op)
    if precedence is None:  # a function call
        return f"{op}({', '.join(tree_text(child) for child in node.children)})"
    if op in ("neg", "pos"):
        (operand,) = node.children
        return _SYMBOLS[op] + _wrapped(operand, _PRECEDENCE.get(operand.op, 5) <= precedence)
    left, right = node.children
    left_precedence, right_precedence = _PRECEDENCE.get(left.op, 5), _PRECEDENCE.get(right.op, 5)
    if op == "pow":  # right-associative: x**y**z is x**(y**z)
        wrap_left, wrap_right = left_precedence <= precedence, right_precedence < precedence
    else:
        wrap_left, wrap_right = left_precedence < precedence, right_precedence <= precedence
    wrap_right = wrap_right or right.op in ("neg", "pos")  # x - (-y), not x - -y
    return _wrapped(left, wrap_left) + _SYMBOLS[op] + _wrapped(right, wrap_right)


def _wrapped(node: Node, parentheses: bool) -> str:
    text = tree_text(node)
    return f"({text})" if parentheses else text
