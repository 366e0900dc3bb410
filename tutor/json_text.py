"""JSON text for the database and the HTTP responses: keys in the order they were made, no NaN tokens.

A case document is about a hundred kilobytes and every answer writes it, its step rows and the
response, so serializing JSON was a third of a request's time with the standard library; orjson does
it ten times faster. It cannot write integers beyond 64 bits, so a value holding one goes through the
standard library instead. Either way a non-finite float becomes null, as in the engine's documents
(PostgreSQL's json type has no NaN), and keys are never sorted: the order of a point's symbols is the
learner's and is the default order of the sequential updates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from tutor.engine.numbers import strict_json

# Dates go to ``default`` as they do with the standard library (Flask writes them as HTTP dates).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """JSON text for ``value``; ``default`` turns an object JSON has no form for into one it has."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(strict_json(value), default=default, allow_nan=False)


loads = orjson.loads
