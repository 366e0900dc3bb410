"""The Discourse integration without the web: read a question out of a post, write the reply, send it.

A post asks the tutor by mentioning it, on one line::

    @tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01 steps 3 order z,y,x

or with the same keys one per line in a fenced block opened with ```tutor. Replies go to the forum
through its API (POST /posts.json); a forum that is down or rate-limits us raises ``DeliveryFailed``
with how long to wait, and the caller keeps the reply and tries again later.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

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
_BLOCK = re.compile(r"^[ \t]*```[ \t]*tutor[ \t]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE | re.IGNORECASE)
_OTHER_FENCES = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.DOTALL | re.MULTILINE)
_QUOTE = re.compile(r"\[quote[^\]]*\](?:(?!\[quote).)*?\[/quote\]", re.DOTALL | re.IGNORECASE)
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


def mentions(raw: str, username: str) -> bool:
    """Whether the post itself (not a quote of another post, not code) mentions ``@username``."""
    text = _INLINE_CODE.sub("", _OTHER_FENCES.sub("", _without_quotes(raw)))
    return bool(_mention(username).search(text))


def read_question(raw: str, username: str) -> Question:
    """The question in the post. Raises InputError saying what is missing or wrong."""
    own = _without_quotes(raw)
    block = _BLOCK.search(own)
    if block:
        values = _block_values(block.group(1))
    else:
        text = _OTHER_FENCES.sub("", own)
        match = _mention(username).search(text)
        if match is None:
            raise InputError(f"the post does not mention @{username}", "post")
        line = text[match.end() :].split("\n", 1)[0]
        # Backticks are how people quote a formula in Markdown; they are not part of it.
        values = _inline_values(line.replace("`", "").strip().rstrip("?!.;").strip())
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
    """The forum did not take the reply. ``retry_after`` is the forum's own wait, in seconds, if it said."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


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

    def create_post(self, topic_id: int, raw: str, reply_to_post_number: int | None) -> int:
        """Posts ``raw`` into the topic; returns the new post's id. Raises DeliveryFailed."""
        try:
            response = requests.post(
                f"{self.base_url}/posts.json",
                json={"topic_id": topic_id, "raw": raw, "reply_to_post_number": reply_to_post_number},
                headers={
                    "Api-Key": self.api_key,
                    "Api-Username": self.username,
                    "Accept": "application/json",
                },
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise DeliveryFailed(f"the forum could not be reached: {error}") from None
        if response.status_code in (200, 201):
            try:
                return int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                raise DeliveryFailed(f"the forum answered {response.status_code} without a post id") from None
        retry_after = retry_after_seconds(response) if response.status_code in (429, 503) else None
        raise DeliveryFailed(f"the forum answered {response.status_code}: {response.text[:300]}", retry_after)
