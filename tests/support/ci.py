"""What a test needs from the machine: locally a missing piece skips, in CI (CI=true) it fails."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def skip_or_fail_in_ci(
    reason: str, *, ci_reason: str | None = None, allow_module_level: bool = False
) -> NoReturn:
    """Skip with ``reason``; under CI=true fail instead (with ``ci_reason`` if given): what CI is told
    to run must run there."""
    if in_ci():
        pytest.fail(ci_reason or reason)
    pytest.skip(reason, allow_module_level=allow_module_level)
