"""The Discourse integration without the web: read a question out of a post, write the reply, send it.

A post asks the tutor by mentioning it, on one line (or with the mention alone on the line before)::

    @tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01 steps 3 order z,y,x

or with the same keys one per line in a fenced block opened with ```tutor or ~~~tutor. What the post
quotes ([quote] or "> " lines) and code (fenced or inline) is never read. Replies go to the forum
through its API (POST /posts.json); a forum that is down or rate-limits us raises ``DeliveryFailed``
with how long to wait, and the caller keeps the reply and tries again later.
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

from tutor.engine import InputError, Question, TooExpensive, question_from_text

# Discourse's default max_post_length is 32000 characters; a reply over it would be refused forever.
MAX_REPLY_CHARS = 30_000
# What is kept of a post as the case's question text.
MAX_QUESTION_CHARS = 4_000

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
# The same keys inline: each must stand alone between spaces, so `atan(x)` or `lr2` stay in the text.
_INLINE_KEY = re.compile(r"(?<!\S)(at|lr|steps|order|fixed|methods)(?=\s|:|=|$)", re.IGNORECASE)
_EXPRESSION_START = re.compile(r"\s*f\s*[:=]\s*", re.IGNORECASE)
# CommonMark's fences: three or more backticks or tildes; a backtick fence's info string has no backtick
# (a line like ```x``` is inline code).
_FENCE_OPENING = re.compile(r"[ \t]*(?P<fence>`{3,}(?=[^`]*$)|~{3,})(?P<info>.*)")
_QUOTE = re.compile(r"\[quote[^\]]*\](?:(?!\[quote).)*?\[/quote\]", re.DOTALL | re.IGNORECASE)
# A Markdown blockquote line, in any nesting: someone else's words, like [quote].
_QUOTED_LINE = re.compile(r"[ \t]*>")
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def _mention(username: str) -> re.Pattern[str]:
    # Discourse usernames are case-insensitive and may contain . - _; "@tutorbot2" is someone else.
    return re.compile(rf"(?<![\w@/.]){re.escape('@' + username)}(?![\w.-]*\w)", re.IGNORECASE)


def _without_quotes(raw: str) -> str:
    """The post's own words: quotes of other posts removed (innermost first, so nesting works)."""
    previous = None
    while previous != raw:
        previous, raw = raw, _QUOTE.sub("", raw)
    return raw


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


def read_question(raw: str, username: str) -> Question:
    """The question in the post. Raises InputError saying what is missing or wrong."""
    post = _own_words(raw)
    block = next((body for info, body in post.fenced if info.lower() == "tutor"), None)
    if block is not None:
        return _question(_block_values(block))
    return _mentioned_question(post.prose, username)


def _mentioned_question(prose: str, username: str) -> Question:
    """The question after a mention: the first that reads as one, as "Thanks @tutorbot!" may come first."""
    found = list(_mention(username).finditer(_without_inline_code(prose)))
    if not found:
        raise InputError(f"the post does not mention @{username}", "post")
    ends = [mention.start() for mention in found[1:]] + [len(prose)]
    asked = [_asked_after(prose[mention.end() : end]) for mention, end in zip(found, ends, strict=True)]
    errors = []
    for line in asked:
        try:
            return _question(_inline_values(line))
        except InputError as error:
            errors.append(error)
    # The reason given is the first mention's that had words after it: the likeliest attempt to ask.
    raise next((error for line, error in zip(asked, errors, strict=True) if line), errors[0])


def _asked_after(text: str) -> str:
    """What follows a mention: the rest of its line or, if nothing is there, the next line with words."""
    first, *others = text.split("\n")
    following = next((line for line in others if line.strip()), "")
    return _asked(first) or _asked(following)


def _asked(line: str) -> str:
    # Backticks are how people quote a formula in Markdown, and "Hi @tutorbot, ..." or "@tutorbot: ..."
    # put punctuation around the question: neither is part of it.
    return line.replace("`", "").strip(" \t,:").rstrip("?!.;").strip()


def _question(values: dict[str, str]) -> Question:
    missing = [key for key in ("f", "at", "lr") if key not in values]
    if missing:
        needed = " and ".join(f"`{key}` ({REQUIRED[key]})" for key in missing)
        raise InputError(f"the question needs {needed}", KEYS[missing[0]])
    return question_from_text(
        values["f"],
        values["at"],
        values["lr"],
        values.get("steps", ""),
        values.get("fixed", ""),
        values.get("order", ""),
        values.get("methods", ""),
    )


def _put(values: dict[str, str], key: str, value: str) -> None:
    if key in values:
        raise InputError(f"`{key}` is given twice", KEYS[key])
    values[key] = value.strip()


def _inline_values(line: str) -> dict[str, str]:
    if not line:
        return {}
    keys = list(_INLINE_KEY.finditer(line))
    head = line[: keys[0].start()] if keys else line
    values: dict[str, str] = {}
    start = _EXPRESSION_START.match(head)
    if head.strip():
        _put(values, "f", head[start.end() :] if start else head)
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(line)
        _put(values, key.group(1).lower(), _strip_separator(line[key.end() : end]))
    return values


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
        key, _, rest = line.partition(" ")
        key = key.rstrip(":=").lower()
        if key not in KEYS or key == "f":
            known = ", ".join(f"`{name}`" for name in KEYS)
            raise InputError(f"the line `{line[:40]}` does not start with a known key ({known})", "post")
        _put(values, key, _strip_separator(rest))
    return values


def _strip_separator(value: str) -> str:
    return re.sub(r"^\s*[:=]?\s*", "", value)


def question_text(raw: str) -> str:
    return raw.strip()[:MAX_QUESTION_CHARS]


def answer_reply(case: dict, case_url: str) -> str:
    """The reply to a question the tutor answered: the worked explanation and the case's link."""
    link = f"Every number, the plots and a form to try another learning rate: [case {case['id']}]({case_url})"
    explanation = case["explanation"]["markdown"].rstrip()
    room = MAX_REPLY_CHARS - len(link) - 200
    if len(explanation) > room:
        # Cut at the last section that fits, so no table or formula is left half written.
        cut = explanation.rfind("\n### ", 0, room)
        explanation = (
            explanation[: cut if cut > 0 else room].rstrip() + "\n\n*(The rest is on the case page.)*"
        )
    return f"{explanation}\n\n{link}\n"


def help_reply(error: InputError, username: str) -> str:
    """The reply to a mention the tutor could not answer: why, and how to ask."""
    if isinstance(error, TooExpensive):
        return (
            f"Sorry, I could not answer this one: {error.message}. "
            "A shorter expression or fewer steps should work.\n"
        )
    where = ""
    if error.column is not None and error.field == "expression":
        where = f" (at column {error.column} of the expression)"
    return (
        f"Sorry, I could not read a question in your post: {error.message}{where}.\n\n"
        "Ask on one line after the mention, with the function, the starting point and the learning rate:\n\n"
        "```text\n"
        f"@{username} f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01\n"
        "```\n\n"
        "and if you like `steps 10`, `order z,y,x` (for the one-at-a-time updates), `fixed x0,x1` "
        "(symbols that are data, never updated) or `methods simultaneous,sequential,momentum,adam`. "
        "The same keys also work one per line in a block:\n\n"
        "````text\n"
        "```tutor\n"
        "f = (x+y)*z\n"
        "at x=-2, y=5, z=-4\n"
        "lr 0.01\n"
        "steps 3\n"
        "```\n"
        "````\n"
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
