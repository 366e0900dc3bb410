"""Text typed by strangers, placed safely in Markdown.

A CommonMark code span shows its content literally: nothing inside becomes a link, an image, HTML,
emphasis or (on Discourse) a mention. What can break out of one is a backtick run as long as its fence,
or a blank line ending the paragraph; ``code_span`` rules out both.
"""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_BACKTICK_RUNS = re.compile(r"`+")


def code_span(text: str) -> str:
    """``text`` as one inline code span that renders exactly as the text (line breaks become spaces,
    which is what a code span shows for them anyway).

    The fence is one backtick longer than the longest run inside, so no run can close it. CommonMark
    strips one space from each end when both ends have one; a space is added at both ends when the
    content starts or ends with a backtick (it would merge with the fence) or starts and ends with a
    space (its own spaces would be stripped), so what is stripped is always the padding."""
    content = _LINE_BREAKS.sub(" ", text)
    if not content:
        return "` `"  # an empty span is no span at all; a lone space shows as nothing visible
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(content)), default=0)
    fence = "`" * (longest + 1)
    touches_backtick = content[0] == "`" or content[-1] == "`"
    spaced_both = content[0] == " " and content[-1] == " " and content.strip(" ") != ""
    if touches_backtick or spaced_both:
        content = f" {content} "
    return f"{fence}{content}{fence}"
