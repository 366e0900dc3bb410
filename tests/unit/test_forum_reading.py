"""Reading a forum post as people write it, quotes stripped in linear time, and the code spans that keep a
post's words from rendering in the bot's replies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tutor.discourse import _QUOTE_TAG, MAX_POST_CHARS, _without_quotes, help_reply, mentions, read_post
from tutor.engine import InputError, Question
from tutor.engine.markup import code_block, code_span

BOT = "tutorbot"


@pytest.mark.parametrize(
    ("raw", "point", "learning_rate"),
    [
        ("@tutorbot f = x^2 + y^2 at x=1, y=2 learning rate 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 at x=1, y=2 lr=0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 at x=1, y=2, η = 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 at x=1, y=2 eta 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 at x=1, y=2 with a learning rate of 0.05, please", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 starting at x=1 and y=2 lr 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 starting from x=1, y=2 step size 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2 from x=1, y=2 lr 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot what about f = x^2 + y^2? start at x=1, y=2, lr: 0.05", {"x": 1, "y": 2}, 0.05),
        ("Could you look at this @tutorbot: f = x^2 + y^2 at x=1, y=2 lr 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot which learning rate? f = x^2 + y^2 at x=1, y=2 lr 0.05", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot f = x^2 + y^2\nat x=1, y=2\nlearning rate 0.05\nThanks, lr 7!", {"x": 1, "y": 2}, 0.05),
        ("@tutorbot\n```tutor\nf = x^2 + y^2\nfrom x=1, y=2\nη = 0.05\n```", {"x": 1, "y": 2}, 0.05),
    ],
)
def test_the_keys_as_people_write_them(raw, point, learning_rate):
    read = read_post(raw, BOT)

    assert read.question == Question("x^2 + y^2", point, learning_rate)
    assert read.notes == ()


@pytest.mark.parametrize(
    ("raw", "expression", "point"),
    [
        ("@tutorbot f = (x+y)*z at (-2, 5, -4) lr 0.01", "(x+y)*z", {"x": -2, "y": 5, "z": -4}),
        ("@tutorbot f = z*(y+x) starting at [1, 2, 3] lr 0.01", "z*(y+x)", {"z": 1, "y": 2, "x": 3}),
        ("@tutorbot f = sin(b) + a at (1,2) lr 0.01", "sin(b) + a", {"b": 1, "a": 2}),
        (
            "@tutorbot $\\sigma(w_0 x_0 + b)$ from (0.5, 1, -1) lr 0.01",
            "$\\sigma(w_0 x_0 + b)$",
            {"w0": 0.5, "x0": 1, "b": -1},
        ),
    ],
)
def test_a_point_without_names_is_in_the_order_the_variables_first_appear_and_the_reply_says_so(
    raw, expression, point
):
    read = read_post(raw, BOT)

    assert read.question == Question(expression, point, 0.01)
    [note] = read.notes
    named = ", ".join(f"{name}={value:g}" for name, value in point.items())
    assert f"as `{named}`: the values in the order the variables first appear in f" in note


def test_a_point_without_names_must_give_one_value_per_variable():
    with pytest.raises(InputError, match=r"gives 2 values but f has 3 variables \(x, y, z\)") as error:
        read_post("@tutorbot f = (x+y)*z at (1, 2) lr 0.1", BOT)
    assert error.value.field == "point"


@pytest.mark.parametrize(
    ("raw", "expression", "point"),
    [
        (
            "@tutorbot what does $$ (w x + b - y)^2 $$ do from w=1, x=2, b=0, y=1 lr 0.1",
            "$$ (w x + b - y)^2 $$",
            None,
        ),
        (
            "@tutorbot\n$$\n\\frac{1}{2}(\\hat{y} - y)^2\n$$\nat \\hat{y}=2, y=1\nlr 0.1",
            "$$ \\frac{1}{2}(\\hat{y} - y)^2 $$",
            {"y_hat": 2, "y": 1},
        ),
        ("@tutorbot f = $x^2$ at x=1 lr 0.1", "$x^2$", {"x": 1}),
        (
            "Hi @tutorbot, does a small step lower this?\n\n$$\n(w x - y)^2\n$$\n\nfrom w=1, x=2, y=1\n"
            "learning rate 0.1\n\nThanks, at x=3 it was odd",
            "$$ (w x - y)^2 $$",
            {"w": 1, "x": 2, "y": 1},
        ),
        ("Hi @tutorbot, does `x^2` go down at x=1 with lr 0.1?", "x^2", {"x": 1}),
        ("@tutorbot f = \\sigma(w_0 x_0) at w_0=1, x_0=2 lr 0.1", "\\sigma(w_0 x_0)", {"w0": 1, "x0": 2}),
    ],
)
def test_the_function_in_latex_or_code_within_a_sentence(raw, expression, point):
    read = read_post(raw, BOT)

    assert read.question.expression == expression
    if point is not None:
        assert read.question.point == point


def test_keys_inside_maths_or_code_are_not_keys():
    read = read_post("@tutorbot $\\eta x + \\text{at} y$ at x=1, y=2 lr 0.1", BOT)

    assert read.question.expression == "$\\eta x + \\text{at} y$"
    assert read.question.learning_rate == 0.1


# [quote] stripping


@pytest.mark.parametrize(
    ("raw", "own"),
    [
        ("a [quote]b[/quote] c", "a  c"),
        ('a [quote="ann, post:1, topic:2"]b[/quote] c', "a  c"),
        ("a [QUOTE]b[quote]c[/quote]d[/Quote] e", "a  e"),
        ("[quote]a[/quote][quote]b[/quote]c", "c"),
        ("a [quote]b [quote]c[/quote] d", "a [quote]b  d"),  # the outer one is not closed: it stays text
        ("a [/quote] b [quote]c[/quote]", "a [/quote] b "),  # a closing without its opening stays text
        ("[quotes] are not quotes [/quote]", "[quotes] are not quotes [/quote]"),
        # An attribution longer than any real one is not a tag: no search can run away along the post.
        ("[quote=" + "x" * 600 + "]a[/quote]b", "[quote=" + "x" * 600 + "]a[/quote]b"),
    ],
)
def test_quotes_are_stripped_innermost_first_and_unbalanced_tags_stay(raw, own):
    assert _without_quotes(raw) == own


def test_a_mebibyte_of_nested_quotes_is_read_in_one_pass():
    depth = 1024 * 1024 // len("[quote][/quote]")
    nested = "[quote]" * depth + "@tutorbot f = x at x=1 lr 1" + "[/quote]" * depth

    assert _without_quotes(nested) == ""
    assert _without_quotes("[quote]" * depth + "@tutorbot") == "[quote]" * depth + "@tutorbot"
    # One pass: the tags are matched once each, however deep (a search per nesting level was quadratic).
    assert sum(1 for _ in _QUOTE_TAG.finditer(nested)) == 2 * depth
    # A post that long is over what is read, and refused without reading it.
    assert len(nested) > MAX_POST_CHARS
    with pytest.raises(InputError, match="longer than"):
        read_post(nested, BOT)


def test_a_post_just_under_the_bound_is_read():
    depth = (MAX_POST_CHARS - 100) // len("[quote][/quote]")
    raw = (
        "[quote]" * depth
        + "@tutorbot f = y at y=2 lr 1"
        + "[/quote]" * depth
        + "\n@tutorbot f = x at x=1 lr 1"
    )

    assert len(raw) <= MAX_POST_CHARS and mentions(raw, BOT)
    assert read_post(raw, BOT).question == Question("x", {"x": 1}, 1)


# Code spans and blocks: nothing in them renders


def rendered_inline(markdown: str) -> list:
    [_, inline, _] = MarkdownIt("commonmark").parse(markdown)
    return inline.children


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=60)


@given(TEXT)
def test_a_code_span_is_one_code_span_showing_the_text(text):
    children = rendered_inline(f"a {code_span(text)} b")

    assert [child.type for child in children] == ["text", "code_inline", "text"]
    assert children[1].content == (text.replace("\n", " ") or " ")


@given(TEXT)
def test_a_code_block_is_one_block_showing_the_text(text):
    [token] = MarkdownIt("commonmark").parse(code_block(text) + "\n[after](http://x.example)")[:1]

    assert token.type == "fence"
    assert token.content == text.rstrip("\n") + "\n"


@pytest.mark.parametrize(
    "text",
    [
        "`",
        "``",
        "a`b",
        "` a `",
        " a ",
        "[x](http://e.example)",
        "<b>x</b>",
        "@moderators",
        "x ``` y",
        "\n# h",
    ],
)
def test_code_spans_of_hostile_text(text):
    children = rendered_inline(f"a {code_span(text)} b")

    assert [child.type for child in children] == ["text", "code_inline", "text"]
    assert children[1].content == text.replace("\n", " ")


def test_the_help_reply_shows_the_reason_as_code_with_a_caret_under_the_column():
    reply = help_reply(
        InputError("write 2*x to multiply", "expression", 6), BOT, "1 + [2x](http://e.example)"
    )

    fences = [token for token in MarkdownIt("commonmark").parse(reply) if token.type == "fence"]
    assert fences[0].content == (
        "1 + [2x](http://e.example)\n     ^ write 2*x to multiply (at column 6 of the expression)\n"
    )
    assert not re.search(r"\]\(http", reply.split(fences[0].content)[1])
