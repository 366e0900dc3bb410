"""Right-aligned text tables for the benchmark reports."""

from __future__ import annotations


def table(rows: list[list[str]]) -> str:
    """The first row is the header; a rule goes under it."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
