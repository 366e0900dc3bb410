"""What every request passes before a view reads it, and what every response loses on its way out.

Refused at once, with a 4xx that says what and where (every byte sequence a client can send gets one,
on SQLite and PostgreSQL alike, before anything reaches the database):

- **NUL characters** (U+0000) anywhere: in the address, the query, a header, a form field or a JSON
  string. PostgreSQL cannot store them and answered with a 500 (which Discourse retries for ever); no
  question needs one. JSON strings with lone surrogates (``"\\ud800"``), which no database encoding can
  store either, are refused with them.
- **Deep JSON**: nesting deeper than ``MAX_JSON_DEPTH`` is measured on the bytes, before a recursive
  parser sees them (Python's json gave up about 1,000 levels down with a RecursionError and a 500).
- **Bodies over the limit, however framed**: a chunked body has no Content-Length to check, and werkzeug
  read it only up to the limit, silently, so a body whose first 64 KiB were valid JSON was accepted with
  the rest dropped. It is read here up to one byte past the limit, and refused with 413 when it is longer.

Also here: whose analysis work a request is (``tutor.sandbox.current_client``: the API token, else the
client's address). ``Retry-After`` on 429 and 503 only is the rate limits' rule (tutor.web.extensions).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import numpy as np
from flask import Blueprint, Flask, Response, current_app, g, request

from tutor import sandbox
from tutor.web.errors import refusal

MAX_JSON_DEPTH = 32
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# \u0000 or a \uD800-\uDFFF escape, not itself escaped (an even number of backslashes before it).
_SUSPECT_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89abAB][0-9a-fA-F]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Blueprints that take larger bodies than TUTOR_MAX_REQUEST_BYTES: name -> bytes.
_BODY_LIMITS: dict[str, int] = {}


def allow_bodies_up_to(blueprint: Blueprint, limit: int) -> None:
    """Lets the routes of ``blueprint`` take bodies of up to ``limit`` bytes (the Discourse webhook)."""
    _BODY_LIMITS[blueprint.name] = limit


def register_request_guards(app: Flask) -> None:
    """Registered before the other extensions: the guards run before anything reads the request."""
    app.before_request(_mark_client)
    app.before_request(_refuse_unacceptable_bytes)
    app.teardown_request(_forget_client)


def _mark_client() -> None:
    from tutor.web.api.auth import token_or_address  # the rate limiter's key; imported late (cycle)

    g.tutor_client = sandbox.current_client.set(token_or_address())


def _forget_client(_error: BaseException | None) -> None:
    marker = g.pop("tutor_client", None)
    if marker is not None:
        try:
            sandbox.current_client.reset(marker)
        except ValueError:  # set in another context (a streamed response): nothing to undo here
            pass


def body_limit() -> int:
    return _BODY_LIMITS.get(request.blueprint or "", current_app.config["MAX_CONTENT_LENGTH"])


def _refuse_unacceptable_bytes() -> Response | None:
    nul = _nul_outside_the_body()
    if nul is not None:
        return nul
    if request.method not in BODY_METHODS:
        return None
    limit = body_limit()
    request.max_content_length = limit
    body = _bounded_body(limit)
    if body is None:
        return refusal(413, f"The body may be at most {limit} bytes.")
    if not body:
        return None
    if request.mimetype in FORM_TYPES:
        for name, values in request.form.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return refusal(
                    400, f"The form field '{_shown(name)}' contains a NUL character (U+0000); remove it."
                )
        return None
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        return refusal(
            400, f"The JSON body is nested {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted."
        )
    if _SUSPECT_ESCAPE.search(body):
        found = _unstorable_string(body)
        if found is not None:
            path, column, what = found
            detail = f"{'.'.join(path) or 'the body'}: {what} at column {column} is not accepted; remove it."
            return refusal(422, detail, field=path[0] if path else "body", column=column)
    return None


def _nul_outside_the_body() -> Response | None:
    """The refusal of a NUL character in the address (404: nothing has such an address), the query
    (422 at the parameter, like any invalid value) or a header (400), or None."""
    if "\x00" in request.path:
        return refusal(
            404, "The address contains a NUL character (U+0000): nothing here has such an address."
        )
    for name, values in request.args.lists():
        for text in (name, *values):
            if "\x00" in text:
                shown, column = _shown(name), text.index("\x00") + 1
                detail = f"{shown}: a NUL character (U+0000) at column {column} is not accepted; remove it."
                return refusal(422, detail, field=shown, column=column)
    for name, value in request.headers.items():
        if "\x00" in value:
            return refusal(400, f"The {_shown(name)} header contains a NUL character (U+0000); remove it.")
    return None


def _bounded_body(limit: int) -> bytes | None:
    """The body, read whole and kept for the views; None when it is longer than ``limit`` bytes."""
    length = request.content_length
    if length is not None:
        return None if length > limit else request.get_data(cache=True)
    environ = request.environ
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and no server to end the stream: werkzeug reads nothing either
    # A chunked body: read up to one byte past the limit, then hand the views a body with a length.
    chunks, size, stream = [], 0, environ["wsgi.input"]
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        return None
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return request.get_data(cache=True)


def json_depth(body: bytes) -> int:
    """How deep the brackets of a JSON text nest, counted outside its strings: linear in the body's
    length whatever it holds (a regular expression for strings went quadratic on an unterminated one
    full of escaped quotes: 37 s for 100 kB)."""
    data = np.frombuffer(body, dtype=np.uint8)
    if data.size == 0:
        return 0
    index = np.arange(data.size, dtype=np.int32)
    # A quote ends or starts a string unless an odd number of backslashes stands right before it.
    last_other = np.maximum.accumulate(np.where(data == ord("\\"), np.int32(-1), index))
    backslashes_before = index - 1 - np.concatenate(([np.int32(-1)], last_other[:-1]))
    quote = (data == ord('"')) & (backslashes_before % 2 == 0)
    inside = np.cumsum(quote, dtype=np.int32) % 2 == 1
    steps = ((data == ord("[")) | (data == ord("{"))).astype(np.int32)
    steps -= (data == ord("]")) | (data == ord("}"))
    steps[inside] = 0
    return max(0, int(np.cumsum(steps, dtype=np.int32).max()))


def _unstorable_string(body: bytes) -> tuple[list[str], int, str] | None:
    """The first string (member name or value) of a JSON body that no database can store: its path,
    the 1-based column in it, and what is wrong. None if there is none or the body is not JSON (the
    view reports that)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    for path, text in _strings(document, []):
        if "\x00" in text:
            return path, text.index("\x00") + 1, "a NUL character (U+0000)"
        surrogate = _SURROGATE.search(text)
        if surrogate is not None:
            return path, surrogate.start() + 1, f"an unpaired surrogate (U+{ord(surrogate.group()):04X})"
    return None


def _strings(value: object, path: list[str]) -> Iterator[tuple[list[str], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield [*path, _shown(key)], key
            yield from _strings(item, [*path, _shown(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, [*path, str(index)])


def _shown(name: str) -> str:
    """A name from the request as it can be shown in a message: NULs and surrogates made visible."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")[:100]
