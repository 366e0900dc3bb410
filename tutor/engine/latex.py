"""LaTeX input: the formulas learners copy from papers and write on forums, read onto the same checked tree.

``translate`` turns the LaTeX into the text grammar of parse.py (``\\frac{a}{b}`` into ``((a)/(b))``,
``\\sigma(z)`` into ``sigmoid(z)``, ``w_0 x_0`` into ``w0*x0``), keeping for every character of the
translation the column of the LaTeX it came from; ``parse_expression`` parses the translation. So every
check and every limit of the text grammar applies once, in one place, and its refusals are moved back to
the column of the LaTeX the learner wrote.

Nothing here evaluates anything. It is a whitelist scanner over characters: each LaTeX command it knows
maps to a fixed piece of the text grammar, everything else is refused with the column. It reads the text
once, left to right, and nests no deeper than ``Limits.max_depth`` groups, so its work is linear in the
length, which is bounded by ``Limits.max_expression_length`` before anything else happens.

What is read (see README "Writing maths"): numbers; single letters as variables, with digits right after
them (``w0``) and subscripts (``w_0`` → w0, ``w_{12}`` → w12, ``x_i`` → x_i) as part of the name;
``\\hat{y}`` → y_hat (also ``\\bar``, ``\\tilde``); Greek letters by name; ``\\mathrm{..}``,
``\\text{..}``, ``\\operatorname{..}`` for longer names and functions; ``+ - * / \\cdot \\times \\div``;
juxtaposition as multiplication (``2x``, ``(x+y)z``, ``w_0 x_0``); ``^`` with one character or a group;
``\\frac``, ``\\sqrt`` (and ``\\sqrt[n]``), ``\\exp \\log \\ln \\sin \\cos \\tan \\tanh \\sinh \\cosh
\\arctan \\max \\min`` and ``\\sigma(..)`` (the sigmoid), ``e^{x}``; ``( ) [ ] \\{ \\}`` with or without
``\\left``/``\\right``; ``|x|``; a formula between ``$ $``, ``$$ $$``, ``\\( \\)`` or ``\\[ \\]``; and a
left-hand side (``L = ...``), which is dropped.
"""

from __future__ import annotations

import difflib
import keyword
import re
from dataclasses import dataclass

from tutor.config import Limits
from tutor.engine.errors import InputError
from tutor.engine.functions import FUNCTIONS

# Functions by the names LaTeX and learners give them (a command, or a word in \operatorname{..}, \mathrm{..}
# or written out): the text grammar's name.
FUNCTION_WORDS = {name: name for name in FUNCTIONS} | {
    "ln": "log",
    "arctan": "atan",
    "tanh": "tanh",
    "sigma": "sigmoid",
    "logistic": "sigmoid",
}
GREEK = {
    name: name
    for name in (
        "alpha beta gamma delta epsilon zeta eta theta iota kappa mu nu xi omicron rho tau upsilon phi chi "
        "psi omega Gamma Delta Theta Xi Phi Psi Omega Lambda Upsilon sigma"
    ).split()
} | {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varrho": "rho", "lambda": "lambda_"}
# Typed Greek letters, read as their command.
UNICODE_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "ρ": "rho",
    "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}  # fmt: skip
ACCENTS = {
    "hat": "hat",
    "widehat": "hat",
    "bar": "bar",
    "overline": "bar",
    "tilde": "tilde",
    "widetilde": "tilde",
}
# Commands whose braced argument is a name, or a function's name.
NAME_COMMANDS = {"mathrm", "text", "textrm", "textit", "operatorname", "mathit", "mathbf", "boldsymbol", "bm"}
FRACTIONS = {"frac", "dfrac", "tfrac", "cfrac"}
OPERATORS = {"cdot": "*", "times": "*", "ast": "*", "div": "/"}
# Spacing and style commands: they change how a formula looks, not what it says.
IGNORED = {"quad", "qquad", "displaystyle", "textstyle", "limits", "nolimits", "big", "Big", "bigg", "Bigg"}
# Sizes before a delimiter: \bigl( ... \bigr).
OPENING_SIZES = {"left", "bigl", "Bigl", "biggl", "Biggl"}
CLOSING_SIZES = {"right", "bigr", "Bigr", "biggr", "Biggr"}
PAIRS = {"(": ")", "[": "]", "\\{": "\\}", "|": "|"}
TYPED_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "−": "-", "×": "*", "·": "*", "⋅": "*"}
# What learners write that has no place in one formula of scalars, and what to write instead.
REFUSED = {
    "sum": "sums are not read: write the terms out, e.g. w_0 x_0 + w_1 x_1",
    "prod": "products over an index are not read: write the factors out",
    "int": "integrals are not read: the tutor works on a formula of scalars",
    "partial": "derivatives are what the tutor computes: give it f itself",
    "nabla": "gradients are what the tutor computes: give it f itself",
    "infty": "infinity is not a number the tutor can step from",
    "top": "transposes are of vectors: write the sum of products, e.g. w_0 x_0 + w_1 x_1",
    "intercal": "transposes are of vectors: write the sum of products, e.g. w_0 x_0 + w_1 x_1",
    "pi": "π is not read as a number: write its value, e.g. 3.14159",
    "mathcal": "a script letter names a function, not a number: write the formula of it",
    "lim": "limits are not read: the tutor works on a formula of scalars",
    "begin": "environments are not read: write one formula",
    "end": "environments are not read: write one formula",
}
# Commands that may stand for an operand: used to suggest a close one for a misspelled command.
KNOWN_COMMANDS = sorted(
    set(FUNCTION_WORDS) | set(GREEK) | set(ACCENTS) | NAME_COMMANDS | FRACTIONS | set(OPERATORS) | {"sqrt"}
)
DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def is_latex(text: str) -> bool:
    """Whether ``text`` is LaTeX rather than the text grammar: it is wrapped in ``$ $``, ``$$ $$``,
    ``\\( \\)`` or ``\\[ \\]``, or it has a backslash, a brace or a bar (which the text grammar never
    accepts, so no text expression changes meaning)."""
    stripped = text.strip()
    return stripped.startswith(("$", "\\(", "\\[")) or any(char in stripped for char in "\\{}|")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def name_as_read(name: str) -> str:
    """A variable's name written as in a LaTeX formula (``w_0``, ``w_{12}``, ``\\hat{y}``, ``\\theta_1``)
    as the formula reads it (w0, w12, y_hat, theta1), for the point and the other fields that name the
    variables of a LaTeX question. A name no formula could have made is left as it is, for the checks
    to refuse."""
    if _IDENTIFIER.fullmatch(name):
        return re.sub(r"_(\d+)$", r"\1", name)
    try:
        text = translate(name).text
    except InputError:
        return name
    return text if _IDENTIFIER.fullmatch(text) else name


@dataclass(frozen=True)
class Translation:
    """The LaTeX as the text grammar, and for each of its characters the LaTeX column it came from, then
    the column just past the formula."""

    text: str
    columns: tuple[int, ...]


def translate(text: str, limits: Limits | None = None) -> Translation:
    """The LaTeX ``text`` in the text grammar. Linear in its length; parse_expression bounds that."""
    limits = limits or Limits()
    start, end = _formula_bounds(text)
    reader = _Reader(text, start, end, limits)
    reader.formula()
    if not reader.out:
        raise InputError("the expression is empty")
    return Translation("".join(reader.out), (*reader.columns, end + 1))


def _formula_bounds(text: str) -> tuple[int, int]:
    """The formula's first index and the index past its end: without the math delimiters around it,
    without a left-hand side (``L =``, ``f(x, y) =``) and without the punctuation of a sentence after it."""
    start, end = len(text) - len(text.lstrip()), len(text.rstrip())
    if end - start > 2 and text[end - 1] in ".,;" and text[end - 2] in "$)]":
        end -= 1  # the sentence's full stop after $x^2$.
    for opening, closing in DELIMITERS:
        if text.startswith(opening, start):
            if end - start < len(opening) + len(closing) or not text.endswith(closing, 0, end):
                raise InputError(f"the {opening} that opens the formula is not closed", column=start + 1)
            start, end = start + len(opening), end - len(closing)
            break
    depth, equals = 0, []
    for index in range(start, end):
        char = text[index]
        if char == "$":
            raise InputError("write one formula: a $ inside it ends it", column=index + 1)
        depth += (char == "{") - (char == "}")
        if char == "=" and depth == 0:
            equals.append(index)
    if len(equals) > 1:
        raise InputError("write one formula: its right-hand side after one =", column=equals[1] + 1)
    if equals:
        start = equals[0] + 1
    while end > start and (
        text[end - 1] in " \t\r\n,;" or text[end - 1] == "." and not _digit(text[end - 2])
    ):
        end -= 1
    return start, end


def _atomic(text: str) -> bool:
    """Whether ``text`` in the text grammar is one operand: a name, a number, or a call or parenthesised
    group whose first parenthesis closes at its end."""
    if text and all(char.isascii() and (char.isalnum() or char in "_.") for char in text):
        return True
    opening = text.find("(")
    if opening < 0 or not all(char.isascii() and (char.isalnum() or char == "_") for char in text[:opening]):
        return False
    depth = 0
    for index in range(opening, len(text)):
        depth += (text[index] == "(") - (text[index] == ")")
        if depth == 0:
            return index == len(text) - 1
    return False


def _digit(char: str) -> bool:
    return "0" <= char <= "9"  # not str.isdigit, which is true of ² and of other scripts' digits


def _letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _sized(ahead: str, sizes: set[str]) -> bool:
    """Whether ``ahead`` is a \\left- or \\right-like command (``sizes`` names them without the backslash)."""
    return ahead.startswith("\\") and ahead[1:] in sizes


# Commands read as the plain character they typeset.
PLAIN = {
    "\\lvert": "|", "\\rvert": "|", "\\vert": "|", "\\lbrace": "\\{", "\\rbrace": "\\}",
    "\\lbrack": "[", "\\rbrack": "]",
}  # fmt: skip


class _Reader:
    """Reads the formula in ``text[start:end]`` into ``out``, one piece of the text grammar at a time, with
    the column of the LaTeX that produced each character (in ``columns``)."""

    def __init__(self, text: str, start: int, end: int, limits: Limits):
        self.text = text
        self.position = start
        self.end = end
        self.limits = limits
        self.depth = 0
        self.out: list[str] = []
        self.columns: list[int] = []
        self.next_length = 0  # of what peek returned last

    # Output

    def emit(self, piece: str, index: int) -> None:
        self.out.append(piece)
        self.columns.extend([index + 1] * len(piece))

    def captured(self, read) -> tuple[list[str], list[int]]:
        """What ``read()`` emits, taken out of the output (to be emitted in another order)."""
        pieces, columns = len(self.out), len(self.columns)
        read()
        taken = self.out[pieces:], self.columns[columns:]
        del self.out[pieces:], self.columns[columns:]
        return taken

    def emit_captured(self, captured: tuple[list[str], list[int]]) -> None:
        self.out.extend(captured[0])
        self.columns.extend(captured[1])

    def emit_operand(self, captured: tuple[list[str], list[int]], opening: int, closing: int) -> None:
        """Emits what was captured as one operand: in parentheses, unless it is a name, a number, a call or
        a group already (x**2, not x**(2))."""
        wrap = not _atomic("".join(captured[0]))
        if wrap:
            self.emit("(", opening)
        self.emit_captured(captured)
        if wrap:
            self.emit(")", closing)

    # Input

    def refuse(self, message: str, index: int | None = None) -> InputError:
        return InputError(message, column=(self.position if index is None else index) + 1)

    def command_at(self, index: int) -> str:
        """The name of the command whose backslash is at ``index``: its letters, or its one other character."""
        stop = index + 1
        while stop < self.end and _letter(self.text[stop]):
            stop += 1
        return self.text[index + 1 : max(stop, min(index + 2, self.end))]

    def peek(self) -> str:
        """What comes next, after spaces and spacing commands: a character, ``\\name`` for a command
        (``\\lvert`` and the like as the character they typeset), or "" at the end."""
        text = self.text
        while self.position < self.end:
            char = text[self.position]
            if char in " \t\r\n~":
                self.position += 1
                continue
            if char != "\\":
                self.next_length = 1
                return char
            name = self.command_at(self.position)
            if name in IGNORED or name in (",", ";", ":", "!", " "):
                self.position += 1 + len(name)
                continue
            self.next_length = 1 + len(name)
            return PLAIN.get("\\" + name, "\\" + name)
        self.next_length = 0
        return ""

    def take(self) -> int:
        """Moves past what ``peek`` returned last; returns its index."""
        index = self.position
        self.position += self.next_length
        return index

    def nested(self, index: int) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self.refuse(f"the formula is nested more than {self.limits.max_depth} levels deep", index)

    # The grammar: operands and operators in a row, two operands side by side being a product; the text
    # grammar then reads the precedence.

    def formula(self) -> None:
        self.sequence(closers=())
        ahead = self.peek()
        if ahead:
            raise self.refuse(f"this {ahead} closes nothing that was opened")

    def sequence(self, closers: tuple[str, ...], commas: bool = False) -> None:
        """Operands and operators up to one of ``closers`` or \\right (left for the caller) or the end."""
        expecting = True  # an operand, rather than an operator
        while True:
            ahead = self.peek()
            if (
                not ahead
                or _sized(ahead, CLOSING_SIZES)
                or ahead in closers
                and not (ahead == "|" and expecting)
            ):
                return
            index = self.position
            operator = TYPED_OPERATORS.get(ahead) or OPERATORS.get(ahead[1:] if ahead[0] == "\\" else "")
            if operator:
                self.take()
                self.emit(operator, index)
                expecting = True
            elif ahead == ",":
                self.comma(commas)
                expecting = True
            elif ahead in (")", "]", "}", "\\}"):
                raise self.refuse(f"this {ahead} closes nothing that was opened")
            elif ahead in ("^", "_"):
                what = "a power" if ahead == "^" else "a subscript"
                raise self.refuse(f"{ahead} ({what}) needs something before it, as in x{ahead}{{2}}")
            else:
                if not expecting:
                    self.emit("*", index)  # side by side: a product (2x, (x+y)z, w_0 x_0)
                self.operand()
                expecting = False

    def comma(self, allowed: bool) -> None:
        index = self.take()
        text = self.text
        if index > 0 and _digit(text[index - 1]) and index + 1 < self.end and _digit(text[index + 1]):
            raise self.refuse("use a point as the decimal separator (0.5, not 0,5)", index)
        if not allowed:
            raise self.refuse("a comma may only separate the arguments of max or min", index)
        self.emit(",", index)

    def operand(self) -> None:
        """One operand, with its power if it has one. Operands inside operands count the nesting."""
        index = self.position
        self.nested(index)
        self.operand_at(index)
        self.depth -= 1

    def operand_at(self, index: int) -> None:
        ahead = self.peek()
        char = self.text[index]
        if _digit(char) or char == "." and index + 1 < self.end and _digit(self.text[index + 1]):
            self.number()
        elif _letter(char):
            self.letters()
            return  # a variable or a function reads its own subscript and power
        elif char in UNICODE_GREEK:
            self.take()
            self.variable_or_sigmoid(UNICODE_GREEK[char], index)
            return
        elif ahead in ("(", "[", "|", "\\{"):
            self.group(ahead, index)
        elif ahead == "{":
            self.braced(index)
        elif ahead[0] == "\\":
            if self.command(ahead[1:], index):
                return
        else:
            hint = "; write powers as x^2" if char in "²³" else ""
            raise self.refuse(f"the character {char!r} is not allowed in a formula{hint}")
        self.power()

    def number(self) -> None:
        text, index = self.text, self.position
        stop = index
        while stop < self.end and _digit(text[stop]):
            stop += 1
        if stop + 1 < self.end and text[stop] == "." and _digit(text[stop + 1]):
            stop += 1
            while stop < self.end and _digit(text[stop]):
                stop += 1
        # 1e-3 as programmers write it; an e not followed by digits is Euler's e (2e^{x}).
        if stop < self.end and text[stop] in "eE":
            exponent = stop + 1 + (stop + 1 < self.end and text[stop + 1] in "+-")
            if exponent < self.end and _digit(text[exponent]):
                stop = exponent
                while stop < self.end and _digit(text[stop]):
                    stop += 1
        self.position = stop
        self.emit(text[index:stop], index)

    def letters(self) -> None:
        """Letters: a function's name written out (exp, sigmoid, ReLU), or else one variable per letter, as
        LaTeX reads them (xy is x times y), each with the digits right after it (w0)."""
        text, index = self.text, self.position
        stop = index
        while stop < self.end and _letter(text[stop]):
            stop += 1
        word = text[index:stop].lower()
        if len(word) > 1 and word in FUNCTION_WORDS and word != "sigma":
            self.position = stop
            self.function(FUNCTION_WORDS[word], index)
            return
        self.position = index + 1
        self.variable(text[index], index)

    def variable(self, name: str, index: int) -> None:
        """A variable: ``name``, the digits right after it, its subscript, then its power. e alone is
        Euler's number: e^{x} is exp(x)."""
        text = self.text
        stop = self.position
        while stop < self.end and _digit(text[stop]):
            stop += 1
        name += text[self.position : stop]
        self.position = stop
        name += self.subscript()
        if name != "e":
            self.emit(name + "_" if keyword.iskeyword(name) else name, index)
            self.power()
            return
        if self.peek() == "^":
            self.take()
            self.emit("exp(", index)
            self.argument("e^")
            self.emit(")", self.position - 1)
            if self.peek() == "^":
                raise self.refuse("a second ^ is ambiguous: write e^{a^{b}} or (e^a)^b")
        else:
            self.emit("exp(1)", index)
            self.power()

    def variable_or_sigmoid(self, name: str, index: int) -> None:
        """σ(z) is the sigmoid of z; σ alone, with a subscript or a power, is a variable; other Greek
        letters are variables."""
        following = self.peek()
        if name == "sigma" and (following in ("(", "[") or _sized(following, OPENING_SIZES)):
            self.function("sigmoid", index)
        else:
            self.variable(GREEK[name], index)

    def subscript(self) -> str:
        """A name's subscript as part of the name: ``_0`` → "0", ``_{12}`` → "12", ``_i`` → "_i",
        ``_{i,j}`` → "_i_j"; "" when there is none."""
        if self.peek() != "_":
            return ""
        index = self.take()
        ahead = self.peek()
        start = self.position
        if ahead == "{":
            close = self.text.find("}", start, self.end)
            if close < 0:
                raise self.refuse("this { is not closed", start)
            content = self.text[start + 1 : close].replace(" ", "")
            self.position = close + 1
        elif len(ahead) == 1 and ahead.isascii() and ahead.isalnum():
            content = ahead
            self.position = start + 1
            if _digit(ahead) and self.position < self.end and _digit(self.text[self.position]):
                whole = self.digits_from(start)
                raise self.refuse(
                    f"in LaTeX _{whole} is _{ahead} followed by {whole[1:]}: write _{{{whole}}}", start
                )
        else:
            raise self.refuse("a subscript is a letter, a digit or a group in braces: w_0, w_{12}", index)
        if not content or not all(char.isascii() and (char.isalnum() or char == ",") for char in content):
            raise self.refuse("a subscript may hold letters, digits and commas: w_0, w_{12}, w_{i,j}", start)
        return content if all(_digit(char) for char in content) else "_" + content.replace(",", "_")

    def digits_from(self, start: int) -> str:
        stop = start
        while stop < self.end and (_digit(self.text[stop]) or self.text[stop] == "."):
            stop += 1
        return self.text[start:stop]

    def power(self) -> None:
        ahead = self.peek()
        if ahead == "'":
            raise self.refuse("primes are not read: write the formula of the derivative, or name it y_prime")
        if ahead == "!":
            raise self.refuse("factorials are not read")
        if ahead != "^":
            return
        index = self.take()
        self.emit("**", index)
        self.emit_operand(self.captured(lambda: self.argument("^")), index, self.position - 1)
        if self.peek() == "^":
            raise self.refuse("a second ^ is ambiguous: write x^{a^{b}} or (x^a)^b")

    def argument(self, what: str) -> None:
        """The argument of ^, \\frac or \\sqrt, as LaTeX takes it: a group in braces, or one character or
        command. A power of several digits without braces is refused: x^10 typesets as x¹0."""
        ahead = self.peek()
        index = self.position
        if ahead == "{":
            self.braced(index, parentheses=False)
        elif not ahead:
            raise self.refuse(f"{what} needs an argument")
        elif ahead in ("-", "+", "−"):
            raise self.refuse(
                f"in LaTeX {what}{ahead}1 is {what}{ahead} followed by 1: write {what}{{{ahead}1}}"
            )
        elif _digit(ahead):
            if what.endswith("^") and index + 1 < self.end and self.text[index + 1] in "0123456789.":
                whole = self.digits_from(index)
                raise self.refuse(
                    f"in LaTeX {what}{whole} is {what}{ahead} followed by {whole[1:]}: write {what}{{{whole}}}"
                )
            self.take()
            self.emit(ahead, index)
        elif _letter(ahead):
            self.take()
            self.emit("exp(1)" if ahead == "e" else ahead, index)
        elif ahead[0] == "\\" and ahead[1:] in GREEK:
            self.take()
            self.emit(GREEK[ahead[1:]], index)
        elif ahead[0] == "\\" and ahead[1:] in FRACTIONS | NAME_COMMANDS | {"sqrt"} | REFUSED.keys():
            self.nested(index)  # \sqrt\sqrt x nests without braces
            self.command(ahead[1:], index)
            self.depth -= 1
        else:
            raise self.refuse(f"{what} takes one character or a group in braces, as in {what}{{2}}")

    def braced(self, index: int, parentheses: bool = True, commas: bool = False) -> None:
        """``{ ... }``: a group, in parentheses unless the caller writes them."""
        self.take()
        if parentheses:
            self.emit("(", index)
        self.sequence(closers=("}",), commas=commas)
        if self.peek() != "}":
            raise self.refuse("this { is not closed", index)
        close = self.take()
        if parentheses:
            self.emit(")", close)

    def group(self, opening: str, index: int, call: bool = False) -> None:
        """``( )``, ``[ ]``, ``\\{ \\}`` or ``| |`` (the absolute value), with or without \\left and \\right.
        ``call``: a function's arguments, which may have commas, in the call's parentheses."""
        self.take()
        closing = PAIRS[opening]
        if not call:
            self.emit("abs(" if opening == "|" else "(", index)
        self.sequence(closers=(closing,), commas=call)
        ahead = self.peek()
        if _sized(ahead, CLOSING_SIZES):
            self.take()
            ahead = self.delimiter()
        if ahead != closing:
            raise self.refuse(f"this {opening} is not closed by {closing}", index)
        close = self.take()
        if not call:
            self.emit(")", close)

    def delimiter(self) -> str:
        """The delimiter after \\left or \\right."""
        ahead = self.peek()
        if ahead in ("(", ")", "[", "]", "|", "\\{", "\\}"):
            return ahead
        raise self.refuse("\\left and \\right take a delimiter: ( ) [ ] | \\{ \\}")

    def command(self, name: str, index: int) -> bool:
        """A command standing for an operand. True when it read its own power."""
        if name in OPENING_SIZES:
            self.take()
            self.group(self.delimiter(), index)
            return False
        self.take()
        if name in FRACTIONS:
            self.emit("(", index)
            self.emit_operand(self.captured(lambda: self.argument("\\" + name)), index, self.position - 1)
            self.emit("/", self.position)
            self.emit_operand(self.captured(lambda: self.argument("\\" + name)), index, self.position - 1)
            self.emit(")", self.position - 1)
            return False
        if name == "sqrt":
            self.square_root(index)
            return False
        if name in GREEK:
            self.variable_or_sigmoid(name, index)
        elif name in FUNCTION_WORDS:
            self.function(FUNCTION_WORDS[name], index)
        elif name in ACCENTS:
            self.accented(ACCENTS[name], index)
        elif name in NAME_COMMANDS:
            self.written_name(index)
        elif name in REFUSED:
            raise self.refuse(f"\\{name}: {REFUSED[name]}", index)
        else:
            raise self.refuse(_unknown_command(name), index)
        return True

    def square_root(self, index: int) -> None:
        if self.peek() == "[":
            # \sqrt[n]{x} is x to the power 1/n: the degree comes first in LaTeX, last in the translation.
            opening = self.take()
            degree = self.captured(lambda: self.sequence(closers=("]",)))
            if self.peek() != "]":
                raise self.refuse("this [ is not closed", opening)
            close = self.take()
            self.emit_operand(self.captured(lambda: self.argument("\\sqrt")), index, self.position - 1)
            self.emit("**(1/", close)
            self.emit_operand(degree, opening, close)
            self.emit(")", close)
        else:
            self.emit("sqrt(", index)
            self.argument("\\sqrt")
            self.emit(")", self.position - 1)

    def accented(self, accent: str, index: int) -> None:
        """``\\hat{y}`` → y_hat, ``\\bar x`` → x_bar, ``\\hat{\\theta}`` → theta_hat: a name of its own."""
        ahead = self.peek()
        start = self.position
        stop = start + self.next_length
        inner = ahead
        if ahead == "{":
            close = self.text.find("}", start, self.end)
            inner = self.text[start + 1 : close].strip() if close > 0 else ""
            stop = close + 1
        if inner.startswith("\\") and inner[1:] in GREEK:
            inner = GREEK[inner[1:]].rstrip("_")
        if not inner or not inner.isascii() or not inner.isalnum() or not _letter(inner[0]):
            raise self.refuse(f"\\{accent} takes a letter or a name, as in \\{accent}{{y}}", index)
        self.position = stop
        self.variable(f"{inner}_{accent}", index)

    def written_name(self, index: int) -> None:
        """``\\mathrm{..}``, ``\\text{..}``, ``\\operatorname{..}``: a function's name, or a longer name."""
        if self.peek() != "{":
            raise self.refuse("write the name in braces, as in \\mathrm{loss}", index)
        start = self.position
        close = self.text.find("}", start, self.end)
        if close < 0:
            raise self.refuse("this { is not closed", start)
        word = self.text[start + 1 : close].strip().replace("\\_", "_")
        self.position = close + 1
        if word.lower() in FUNCTION_WORDS and word.lower() != "sigma":
            self.function(FUNCTION_WORDS[word.lower()], index)
        elif (
            word
            and _letter(word[0])
            and all(char.isascii() and (char.isalnum() or char == "_") for char in word)
        ):
            self.variable(word, index)
        else:
            raise self.refuse("a name starts with a letter and holds letters, digits and _", start + 1)

    def function(self, name: str, index: int) -> None:
        """A function and its argument: in parentheses or braces (\\exp(x), \\exp{x}), or the factors written
        after it (\\sin 2x is sin(2*x), \\log x + 1 is log(x) + 1). \\sin^2 x is sin(x)**2 and \\log_2 x
        is log(x)/log(2)."""
        base = exponent = None
        if name == "log" and self.peek() == "_":
            self.take()
            base = self.captured(lambda: self.argument("\\log_"))
        if self.peek() == "^":
            self.take()
            exponent = self.captured(lambda: self.argument("^"))
        if base is not None:
            self.emit("(", index)
        self.emit(f"{name}(", index)
        ahead = self.peek()
        start = self.position
        if ahead in ("(", "[", "\\{"):
            self.group(ahead, start, call=True)
        elif _sized(ahead, OPENING_SIZES):
            self.take()
            self.group(self.delimiter(), start, call=True)
        elif ahead == "{":
            self.braced(start, parentheses=False, commas=True)
        else:
            self.factors(name)
        self.emit(")", self.position - 1)
        if base is not None:
            self.emit("/log(", index)
            self.emit_captured(base)
            self.emit("))", index)
        if exponent is not None:
            self.emit("**", index)
            self.emit_operand(exponent, index, index)
        self.power()

    def factors(self, name: str) -> None:
        """An argument written without parentheses: a sign, then numbers, letters and groups side by side."""
        ahead = self.peek()
        if ahead in ("-", "+", "−"):
            self.emit(TYPED_OPERATORS[ahead], self.take())
        count = 0
        while True:
            ahead = self.peek()
            if not ahead or not (
                _digit(ahead[0])
                or _letter(ahead[0])
                or ahead == "{"
                or ahead in UNICODE_GREEK
                or ahead[0] == "\\"
                and ahead[1:] in (GREEK.keys() | FRACTIONS | ACCENTS.keys() | {"sqrt"})
            ):
                break
            if count:
                self.emit("*", self.position)
            self.operand()
            count += 1
        if not count:
            raise self.refuse(f"{name} needs an argument, as in {name}(x)")


def _unknown_command(name: str) -> str:
    if not name or not _letter(name[0]):
        return f"\\{name[:1]} is not read in a formula"
    close = difflib.get_close_matches(name[:40], KNOWN_COMMANDS, n=1, cutoff=0.75)
    if close:
        return f"\\{name[:40]} is not a command I read: did you mean \\{close[0]}?"
    return f'\\{name[:40]} is not a command I read (the README\'s "Writing maths" lists them)'
