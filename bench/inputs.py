"""`python -m bench.inputs`: reading what people write, timed: LaTeX against the same function typed in the
text grammar, forum posts as people write them, and [quote] stripping on the largest posts (with the old
quadratic stripping beside it, on a post small enough for it to finish)."""

from __future__ import annotations

import re
import statistics
import time

from bench.report import table
from tutor.discourse import MAX_POST_CHARS, _without_quotes, read_post
from tutor.engine.latex import translate
from tutor.engine.parse import parse_expression

PAIRS = {
    "neuron": (
        r"$\frac{1}{2}\left(\sigma(w_0 x_0 + w_1 x_1 + b) - y\right)^2$",
        "0.5*(sigmoid(w0*x0 + w1*x1 + b) - y)**2",
    ),
    "24 inputs": (
        "$(" + " + ".join(f"w_{{{i}}} x_{{{i}}}" for i in range(24)) + " - y)^2$",
        "(" + " + ".join(f"w{i}*x{i}" for i in range(24)) + " - y)**2",
    ),
}
POST = (
    "Hi @tutorbot, does a small step lower this?\n\n$$\nL = (\\sigma(w x + b) - y)^2\n$$\n"
    "starting at (0.5, 1, 0.1, 0) with learning rate 0.05\n"
)
# The stripping this replaced: innermost quotes removed, again and again, until none was left.
_OLD_QUOTE = re.compile(r"\[quote[^\]]*\](?:(?!\[quote).)*?\[/quote\]", re.DOTALL | re.IGNORECASE)


def _old_without_quotes(raw: str) -> str:
    previous = None
    while previous != raw:
        previous, raw = raw, _OLD_QUOTE.sub("", raw)
    return raw


def _median_ms(fn, *args, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _nested(size: int) -> str:
    depth = size // len("[quote][/quote]")
    return "[quote]" * depth + "@tutorbot" + "[/quote]" * depth


def _parse(text: str) -> None:
    parse_expression(text)  # nothing of it is cached: each parse builds the tree and SymEngine's form anew


def main() -> None:
    rows = [["function", "LaTeX translate ms", "LaTeX parse ms", "text parse ms"]]
    for name, (latex, text) in PAIRS.items():
        rows.append(
            [
                name,
                f"{_median_ms(translate, latex):.3f}",
                f"{_median_ms(_parse, latex):.2f}",
                f"{_median_ms(_parse, text):.2f}",
            ]
        )
    print("Parsing, median of 7 (parse includes the checks and SymEngine's expression)\n")
    print(table(rows))

    print(f"\nA forum post as people write it (read_post): {_median_ms(read_post, POST, 'tutorbot'):.3f} ms")

    rows = [["nested [quote] post", "one pass ms", "old, innermost first ms"]]
    for size in (120 * 1024, MAX_POST_CHARS, 1024 * 1024):
        post = _nested(size)
        old = f"{_median_ms(_old_without_quotes, post, repeats=1):.0f}" if size <= 120 * 1024 else "-"
        rows.append(
            [f"{len(post) / 1024:.0f} KiB", f"{_median_ms(_without_quotes, post, repeats=3):.1f}", old]
        )
    print("\nStripping quotes\n")
    print(table(rows))


if __name__ == "__main__":
    main()
