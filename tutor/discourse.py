"""The Discourse integration without the web: read a question out of a post, write the reply, send it.

A post asks the tutor by mentioning it, on one line (or with the mention alone on the line before)::

    @tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01 steps 3 order z,y,x

or as people write it: ``learning rate 0.05``, ``lr=0.05``, ``η = 0.05``, ``eta 0.05``; ``starting at``
or ``from`` for ``at``; ``at (1, 1)`` for the values in the order the variables first appear in f (the
reply says how it read them); the function in LaTeX between ``$ $`` or ``$$ $$``; the keys on the lines
that follow. Or with the same keys one per line in a fenced block opened with ```tutor or ~~~tutor. What
the post quotes ([quote] or "> " lines) and code (fenced or inline) is never read. Reading is linear in
the post's length, and a post over MAX_POST_CHARS is not read at all.

Replies go to the forum through its API (POST /posts.json); a forum that is down or rate-limits us raises
``DeliveryFailed`` with how long to wait, and the caller keeps the reply and tries again later. Nothing a
post says reaches a reply except inside a code span or block (tutor.engine.markup).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
import urllib3

from tutor.config import Limits
from tutor.engine import InputError, Question, TooExpensive, parse_expression, question_from_text
from tutor.engine.explain import render_answer
from tutor.engine.explain.render import MathMode
from tutor.engine.markup import code_block, code_span
from tutor.engine.numbers import fmt

# Discourse's default max_post_length is 32000 characters; a reply over it would be refused forever.
MAX_REPLY_CHARS = 30_000
# The title of the folded block (Discourse's [details]) that holds the worked numbers.
WORKED_TITLE = "Worked numbers"
# What is kept of a post as the case's question text.
MAX_QUESTION_CHARS = 4_000
# A post longer than this is not read (a forum's posts are at most 32 000 characters unless its admins
# raise the limit): reading is linear, and this bounds it.
MAX_POST_CHARS = 200_000

KEYS = {
    "f": "expression",
    "at": "point",
    "lr": "learning_rate",
    "steps": "steps",
    "order": "order",
    "fixed": "fixed",
    "methods": "methods",
}
REQUIRED = {"f": "the function", "at": "the starting point", "lr": "the learning rate"}
# How people write each key. A key stands alone between spaces, so `atan(x)` or `lr2` stay in the text.
_KEY_WORDS = {
    "at": r"starting\s+(?:at|from)|start\s+(?:at|from)|starting\s+point|at|from",
    "lr": r"learning[\s_-]+rate|step\s+size|lr|eta|η|\\eta",
    "steps": "steps",
    "order": "order",
    "fixed": "fixed",
    "methods": "methods",
}
_KEY = re.compile(
    r"(?<!\S)(?:"
    + "|".join(f"(?P<{key}>{words})" for key, words in _KEY_WORDS.items())
    + r")(?=[\s:=(\[]|$)",
    re.IGNORECASE,
)
# Words that are keys only when a value of the key's kind follows: in "look at this" or "from the
# thread", "at" and "from" are words, and so is "learning rate" in "which learning rate should I use?".
_NATURAL = re.compile(r"at|from|start.*|learning.*|step\s+size|eta|η|\\eta", re.IGNORECASE)
_LOOKS_LIKE = {
    "at": re.compile(r"\s*(?:[:=]\s*)?(?:[(\[]|[-+.\d]|[^\s=,()]{1,40}\s*=)"),  # (1, 2), 1, 2 or w_0 =
    "lr": re.compile(r"\s*(?:[:=]|of|is)?\s*[-+.\d]", re.IGNORECASE),
}
_EXPRESSION_START = re.compile(r"\s*f\s*[:=]\s*", re.IGNORECASE)
# "f =", "f(x, y) =", "L =" where the function starts in the middle of a sentence.
_EXPRESSION_NAMED = re.compile(r"(?<!\S)(?:f|L|loss)\s*(?:\([^()=]{0,100}\))?\s*[:=]\s*", re.IGNORECASE)
# Maths between $$ $$ or $ $ in a line, and inline code: neither holds keys, and either may be the function.
_MATH_OR_CODE = re.compile(r"\$\$[^$]+\$\$|\$[^$\n]+\$|`[^`\n]*`")
# Words that join a value to the next key in a sentence: "at x=1 with learning rate 0.1".
_FILLERS = {"with", "and", "using", "a", "an", "the", "of", "please", "then"}
# CommonMark's fences: three or more backticks or tildes; a backtick fence's info string has no backtick
# (a line like ```x``` is inline code).
_FENCE_OPENING = re.compile(r"[ \t]*(?P<fence>`{3,}(?=[^`]*$)|~{3,})(?P<info>.*)")
# A [quote] tag's opening (with its attribution, of bounded length: no search runs away) or closing.
_QUOTE_TAG = re.compile(r"\[(?P<closing>/?)quote(?:[= ][^\[\]\n]{0,500})?\]", re.IGNORECASE)
# A Markdown blockquote line, in any nesting: someone else's words, like [quote].
_QUOTED_LINE = re.compile(r"[ \t]*>")
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def _mention(username: str) -> re.Pattern[str]:
    # Discourse usernames are case-insensitive and may contain . - _; "@tutorbot2" is someone else.
    return re.compile(rf"(?<![\w@/.]){re.escape('@' + username)}(?![\w.-]*\w)", re.IGNORECASE)


def _without_quotes(raw: str) -> str:
    """The post's own words: [quote] ... [/quote] blocks removed, nested ones with the quote around them.

    One pass over the tags with a stack of open quotes, so the work is linear in the post's length (a
    regular expression removing innermost pairs until none is left is quadratic: 5.7 s for 120 KB). As
    Discourse shows it, an opening without its closing, or a closing without its opening, stays text."""
    opened: list[int] = []  # where each open quote starts
    removed: list[tuple[int, int]] = []  # spans to remove, none inside another, in order
    for tag in _QUOTE_TAG.finditer(raw):
        if not tag["closing"]:
            opened.append(tag.start())
        elif opened:
            start = opened.pop()
            while removed and removed[-1][0] >= start:
                removed.pop()  # a quote inside this one
            removed.append((start, tag.end()))
    kept, position = [], 0
    for start, end in removed:
        kept.append(raw[position:start])
        position = end
    kept.append(raw[position:])
    return "".join(kept)


@dataclass(frozen=True)
class _Post:
    """A post's own words: ``prose`` is its text outside quotes and fenced code blocks, ``fenced`` each
    fenced block's info string (e.g. "tutor") and body."""

    prose: str
    fenced: list[tuple[str, str]]


def _own_words(raw: str) -> _Post:
    # Posts from some clients end their lines with \r\n: a fence line must still read as a fence.
    lines = iter(_without_quotes(raw.replace("\r\n", "\n").replace("\r", "\n")).split("\n"))
    prose, fenced = [], []
    for line in lines:
        opening = _FENCE_OPENING.fullmatch(line)
        if opening:
            fenced.append((opening["info"].strip(), _fenced_body(lines, opening["fence"])))
        elif not _QUOTED_LINE.match(line):
            prose.append(line)
    return _Post("\n".join(prose), fenced)


def _fenced_body(lines: Iterator[str], fence: str) -> str:
    """The lines up to the closing fence (consumed with them): a line of the fence's character at least
    as long, or else the end of the post."""
    closing = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
    return "\n".join(itertools.takewhile(lambda line: not closing.fullmatch(line), lines))


def _without_inline_code(prose: str) -> str:
    # Blanked rather than removed, so that positions in it are positions in the prose.
    return _INLINE_CODE.sub(lambda code: " " * len(code.group()), prose)


def mentions(raw: str, username: str) -> bool:
    """Whether the post itself (not a quote of another post, not code) mentions ``@username``."""
    return bool(_mention(username).search(_without_inline_code(_own_words(raw).prose)))


@dataclass(frozen=True)
class ReadPost:
    """The question a post asks, and notes for the reply where the tutor had to choose how to read it
    (Markdown in which the post's own words appear only in code spans)."""

    question: Question
    notes: tuple[str, ...] = ()


def read_question(raw: str, username: str) -> Question:
    """The question in the post. Raises InputError saying what is missing or wrong."""
    return read_post(raw, username).question


def read_post(raw: str, username: str, limits: Limits | None = None) -> ReadPost:
    """The question in the post with the notes on how it was read. Raises InputError saying what is
    missing or wrong."""
    if len(raw) > MAX_POST_CHARS:
        raise InputError(f"the post is longer than the {MAX_POST_CHARS} characters I read", "post")
    post = _own_words(raw)
    block = next((body for info, body in post.fenced if info.lower() == "tutor"), None)
    if block is not None:
        return _question(_block_values(block), limits or Limits())
    return _mentioned_question(post.prose, username, limits or Limits())


def _mentioned_question(prose: str, username: str, limits: Limits) -> ReadPost:
    """The question after a mention: the first that reads as one, as "Thanks @tutorbot!" may come first."""
    prose = _display_math_on_one_line(prose)
    found = list(_mention(username).finditer(_without_inline_code(prose)))
    if not found:
        raise InputError(f"the post does not mention @{username}", "post")
    ends = [mention.start() for mention in found[1:]] + [len(prose)]
    asked = [_asked_after(prose[mention.end() : end]) for mention, end in zip(found, ends, strict=True)]
    errors = []
    for line in asked:
        try:
            return _question(_inline_values(line), limits)
        except InputError as error:
            errors.append(error)
    # The reason given is the first mention's that had words after it: the likeliest attempt to ask.
    raise next((error for line, error in zip(asked, errors, strict=True) if line), errors[0])


def _display_math_on_one_line(prose: str) -> str:
    """Each $$ ... $$ block on one line (Discourse writes display maths over several), so that it is
    read like the rest of the line it starts on. Linear: each search starts where the last one ended."""
    parts, position = [], 0
    while (start := prose.find("$$", position)) >= 0:
        end = prose.find("$$", start + 2)
        if end < 0:
            break
        parts += [prose[position:start], prose[start : end + 2].replace("\n", " ")]
        position = end + 2
    parts.append(prose[position:])
    return "".join(parts)


def _asked_after(text: str) -> str:
    """What follows a mention: the rest of its line or, if nothing is there, the next line with words;
    and with it the lines after that start with a key (``at ...``, ``learning rate ...``) or hold only
    maths, as people write a question over several lines (blank lines between them too), up to the first
    line of other words."""
    first, *others = text.split("\n")
    lines = iter(others)
    asked = _asked(first) or next((_asked(line) for line in lines if line.strip()), "")
    for line in lines:
        if not line.strip():
            continue
        if not (_starts_with_key(line) or _MATH_OR_CODE.fullmatch(line.strip())):
            break
        asked += " " + _asked(line)
    return asked


def _starts_with_key(line: str) -> bool:
    return any(key.start() == len(line) - len(line.lstrip()) for key in _keys(line))


def _asked(line: str) -> str:
    # "Hi @tutorbot, ..." or "@tutorbot: ... ?" put punctuation around the question: it is not part of it.
    return line.strip(" \t,:").rstrip("?!.;").strip()


def _keys(line: str) -> list[re.Match[str]]:
    """The keys in a line, outside its maths and code, where a value of their kind follows."""
    masked = _MATH_OR_CODE.sub(lambda span: "\x01" * len(span.group()), line)
    keys = []
    for key in _KEY.finditer(masked):
        looks_like = _LOOKS_LIKE.get(key.lastgroup)
        if looks_like and _NATURAL.fullmatch(key.group()) and not looks_like.match(masked, key.end()):
            continue
        keys.append(key)
    return keys


def _question(values: dict[str, str], limits: Limits) -> ReadPost:
    missing = [key for key in ("f", "at", "lr") if key not in values]
    if missing:
        needed = " and ".join(f"`{key}` ({REQUIRED[key]})" for key in missing)
        raise InputError(f"the question needs {needed}", KEYS[missing[0]])
    expression, notes = values["f"], []
    point = values["at"]
    if _is_positional(point):
        point, note = _named_point(expression, point, limits)
        notes.append(note)
    question = question_from_text(
        expression,
        point,
        values["lr"],
        values.get("steps", ""),
        values.get("fixed", ""),
        values.get("order", ""),
        values.get("methods", ""),
    )
    return ReadPost(question, tuple(notes))


def _is_positional(point: str) -> bool:
    """``(1, 1)``, ``[1, -2]`` or ``1, 2``: values without names."""
    return "=" not in point and bool(re.fullmatch(r"[(\[]?[-+.\deE,;\s]+[)\]]?", point.strip()))


def _named_point(expression: str, point: str, limits: Limits) -> tuple[str, str]:
    """``at (1, 2)`` as ``x=1, y=2``: the values in the order the variables first appear in f; and the
    note that says so in the reply."""
    names = parse_expression(expression, limits).symbols
    raw_values = [value for value in re.split(r"[,;\s]+", point.strip().strip("()[]").strip()) if value]
    values = []
    for value in raw_values:
        try:
            values.append(float(value))
        except ValueError:
            raise InputError(f"'{value[:20]}' is not a number", "point") from None
    if len(values) != len(names):
        given = f"{len(values)} value{'s' if len(values) != 1 else ''}"
        variables = f"{len(names)} variable{'s' if len(names) != 1 else ''} ({', '.join(names)})"
        raise InputError(f"`at` gives {given} but f has {variables}: write name=value pairs", "point")
    named = ", ".join(f"{name}={fmt(value)}" for name, value in zip(names, values, strict=True))
    note = (
        f"I read {code_span('at ' + point.strip())} as {code_span(named)}: the values in the order "
        "the variables first appear in f."
    )
    return named, note


def _put(values: dict[str, str], key: str, value: str) -> None:
    if key in values:
        raise InputError(f"`{key}` is given twice", KEYS[key])
    values[key] = _value(key, value)


def _value(key: str, text: str) -> str:
    """A key's value as written after it: without the separator ("lr: 0.1", "η = 0.1", "learning rate of
    0.1"), the words joining it to the next key ("at x=1 with"), code marks and closing punctuation."""
    words = re.sub(r"^\s*(?:[:=]|of\b|is\b)?\s*", "", text, flags=re.IGNORECASE).replace("`", "").split()
    while words and words[-1].lower().rstrip(",;") in _FILLERS:
        words.pop()
    if key in ("lr", "steps") and words:
        words = words[:1]  # a number: "learning rate 0.05 please"
    value = " ".join(words).rstrip(",;")
    if key == "at":
        value = re.sub(r"\s+and\s+", ", ", value, flags=re.IGNORECASE)  # "x=1 and y=2"
    return value


def _inline_values(line: str) -> dict[str, str]:
    if not line:
        return {}
    keys = _keys(line)
    head = line[: keys[0].start()] if keys else line
    values: dict[str, str] = {}
    if head.strip():
        values["f"] = _expression_in(head)
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(line)
        _put(values, key.lastgroup, line[key.end() : end])
    return values


def _expression_in(head: str) -> str:
    """The function in the words before the first key: the maths between $ $ or $$ $$, else what follows
    "f =" (or "L =", "f(x, y) ="), and of that the code between backticks if there is some."""
    spans = list(_MATH_OR_CODE.finditer(head))
    math_span = next((span.group() for span in spans if span.group().startswith("$")), None)
    if math_span is not None:
        return math_span
    named = _EXPRESSION_NAMED.search(head)
    if named:
        head = head[named.end() :]
    code = _INLINE_CODE.search(head)
    if code:
        return code.group()[1:-1].strip()
    # The end of the sentence the function stood in ("... f = x^2?") is not part of it; "2." would be.
    expression = head.strip().rstrip("?!,;:")
    return expression[:-1] if re.search(r"\D\.$", expression) else expression


def _block_values(block: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        expression = _EXPRESSION_START.match(line)
        if expression:
            _put(values, "f", line[expression.end() :])
            continue
        key = next((key for key in _keys(line) if key.start() == 0), None)
        if key is None:
            known = ", ".join(f"`{name}`" for name in KEYS)
            raise InputError(f"the line `{line[:40]}` does not start with a known key ({known})", "post")
        _put(values, key.lastgroup, line[key.end() :])
    return values


def question_text(raw: str) -> str:
    return raw.strip()[:MAX_QUESTION_CHARS]


def answer_reply(case: dict, case_url: str, math: MathMode = "off") -> str:
    """The reply to a question the tutor answered, in the order a forum reader needs it: the short
    answer (no heading or table before it), the one table that shows it, the worked numbers folded in
    Discourse's [details] block, then the case's link. ``math`` is TUTOR_DISCOURSE_MATH: "off" writes
    formulas as Unicode in code, "on" as $$ blocks for Discourse's math plugin."""
    parts = render_answer(case, math)
    link = f"Every number, the plots and a form to try another learning rate: [case {case['id']}]({case_url})"
    head = [parts.summary.markdown.rstrip()]
    if parts.key_table is not None:
        head.append(parts.key_table.markdown.rstrip())
    worked = parts.worked.markdown.rstrip()
    room = MAX_REPLY_CHARS - sum(len(part) + 2 for part in head) - len(link) - 200
    if len(worked) > room:
        # Cut at the last section that fits, so no table or formula is left half written.
        cut = worked.rfind("\n### ", 0, room)
        worked = worked[: cut if cut > 0 else room].rstrip() + "\n\n*(The rest is on the case page.)*"
    details = f'[details="{WORKED_TITLE}"]\n\n{worked}\n\n[/details]'
    return "\n\n".join([*head, details, link]) + "\n"


def reading_notes(notes: tuple[str, ...] | list[str]) -> str:
    """Notes on how a post was read, as the reply's first lines (empty without notes)."""
    return "".join(f"*{note}*\n\n" for note in notes)


def help_reply(error: InputError, username: str, expression: str | None = None) -> str:
    """The reply to a mention the tutor could not answer: why, and how to ask (``expression``: the
    function as the post wrote it, shown with a caret under the column at fault). The reason may repeat
    the post's words, so it is shown as code, never as Markdown."""
    if isinstance(error, TooExpensive):
        return (
            "Sorry, I could not answer this one:\n\n"
            + code_block(error.message)
            + "\nA shorter expression or fewer steps should work.\n"
        )
    where = ""
    if error.column is not None and error.field == "expression":
        where = f" (at column {error.column} of the expression)"
    reason = f"{error.message}{where}"
    if where and expression and "\n" not in expression and len(expression) <= 100:
        # The function as written, with a caret under the column at fault.
        reason = f"{expression}\n{' ' * (error.column - 1)}^ {reason}"
    return (
        "Sorry, I could not read a question in your post:\n\n"
        + code_block(reason)
        + "\nAsk on one line after the mention, with the function, the starting point and the learning "
        "rate:\n\n"
        "```text\n"
        f"@{username} f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01\n"
        "```\n\n"
        "The point may also be `at (-2, 5, -4)` (the values in the order the variables first appear in f) "
        "and the learning rate `learning rate 0.01` or `η = 0.01`; the function may be LaTeX between `$` "
        "signs, e.g. `$\\sigma(w_0 x_0 + b)$`. If you like, add `steps 10`, `order z,y,x` (for the "
        "one-at-a-time updates), `fixed x0,x1` (symbols that are data, never updated) or "
        "`methods simultaneous,sequential,momentum,adam`. The same keys also work one per line in a "
        "block:\n\n"
        "````text\n"
        "```tutor\n"
        "f = (x+y)*z\n"
        "at x=-2, y=5, z=-4\n"
        "lr 0.01\n"
        "steps 3\n"
        "```\n"
        "````\n"
        "\nEditing your post to fix it works too: I answer the edit.\n"
    )


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is Discourse's ``sha256=<hex HMAC-SHA256 of the body>`` under ``secret``."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256=").strip().encode(), expected.encode())


def sign(secret: str, body: bytes) -> str:
    """The signature header Discourse sends for ``body`` (for tests and local tools)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Retry delays: 30 s, 1 min, 2 min ... doubling up to an hour, then hourly until the forum accepts.
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0


def backoff_seconds(attempts: int) -> float:
    """The wait after the ``attempts``-th failure in a row (1 for the first)."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


class DeliveryFailed(Exception):
    """The forum did not take the reply. ``retry_after`` is the forum's own wait, in seconds, if it said;
    ``maybe_sent``: the connection broke after the reply went out, so the forum may have it."""

    def __init__(self, message: str, retry_after: float | None = None, *, maybe_sent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


def retry_after_seconds(response: requests.Response, now: datetime | None = None) -> float | None:
    """The wait a 429 or 503 asks for: Retry-After in seconds or as a date, or Discourse's wait_seconds."""
    header = response.headers.get("Retry-After", "").strip()
    if header:
        if header.isdigit():
            return float(header)
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
    try:
        wait = response.json().get("extras", {}).get("wait_seconds")
    except (ValueError, AttributeError):
        return None
    return float(wait) if isinstance(wait, int | float) and math.isfinite(wait) and wait >= 0 else None


@dataclass(frozen=True)
class ForumClient:
    """Posts replies through Discourse's API as the bot user."""

    base_url: str
    api_key: str
    username: str
    timeout: float = 15.0

    def _headers(self) -> dict[str, str]:
        return {"Api-Key": self.api_key, "Api-Username": self.username, "Accept": "application/json"}

    def create_post(self, topic_id: int, raw: str, reply_to_post_number: int | None) -> int:
        """Posts ``raw`` into the topic; returns the new post's id. Raises DeliveryFailed."""
        try:
            response = requests.post(
                f"{self.base_url}/posts.json",
                json={"topic_id": topic_id, "raw": raw, "reply_to_post_number": reply_to_post_number},
                headers=self._headers(),
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            # Refused or unreachable: nothing went out. Anything later (a reset, a read timeout): the
            # forum may have taken the reply before the connection failed.
            sent = not _never_connected(error)
            raise DeliveryFailed(f"the forum could not be reached: {error}", maybe_sent=sent) from None
        if response.status_code in (200, 201):
            try:
                return int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                raise DeliveryFailed(f"the forum answered {response.status_code} without a post id") from None
        raise _refused(response)

    def find_reply(self, post_id: int) -> int | None:
        """The id of the bot's reply to post ``post_id`` if the forum has one (Discourse's
        ``GET /posts/{id}/replies.json``); None if it has none. Raises DeliveryFailed."""
        try:
            response = requests.get(
                f"{self.base_url}/posts/{post_id}/replies.json", headers=self._headers(), timeout=self.timeout
            )
        except requests.RequestException as error:
            raise DeliveryFailed(f"the forum could not be reached: {error}") from None
        if response.status_code == 404:
            return None  # the post is gone: there is nothing to reply to, and no reply
        if response.status_code != 200:
            raise _refused(response)
        try:
            replies = response.json()
            return next(
                int(reply["id"])
                for reply in replies
                if str(reply.get("username", "")).lower() == self.username.lower()
            )
        except StopIteration:
            return None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DeliveryFailed("the forum's list of replies could not be read") from None


def _never_connected(error: requests.RequestException) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _refused(response: requests.Response) -> DeliveryFailed:
    retry_after = retry_after_seconds(response) if response.status_code in (429, 503) else None
    return DeliveryFailed(f"the forum answered {response.status_code}: {response.text[:300]}", retry_after)
