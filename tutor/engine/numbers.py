"""Numbers for people (no float noise) and for strict JSON (no NaN or Infinity tokens)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def fmt(value: float | None, digits: int = 6) -> str:
    """5.040000000000001 -> "5.04"; 1e-07 -> "1e-7"; None or NaN -> "undefined"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if math.isinf(value):
        return "infinity" if value > 0 else "-infinity"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return "0" if text in ("-0", "0") else text


def denoise(value: float | None, scale: float | None) -> float | None:
    """A difference of nearly equal floats below the rounding level of ``scale`` is the 0 it is
    (on f = x*y the part of the change beyond second order is 0, computed as -1.4e-17)."""
    if value is None or scale is None:
        return value
    return 0.0 if abs(value) <= 1e-12 * abs(scale) else value


def strict_json(value: Any) -> Any:
    """A copy with every non-finite float replaced by None and NumPy scalars made plain."""
    # Exact type checks first: a document holds thousands of plain floats, dicts and lists, and this
    # walk is five times faster than a round trip through the json module.
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {str(k): strict_json(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [strict_json(v) for v in value]
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if math.isfinite(value) else None
    return value
