"""Reading a question out of a forum post, writing the replies, signatures and retry timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

import tutor.discourse
import tutor.engine
from tutor.discourse import (
    answer_reply,
    backoff_seconds,
    help_reply,
    mentions,
    read_question,
    retry_after_seconds,
    sign,
    signature_valid,
)
from tutor.engine import InputError, Question, TooExpensive

BOT = "tutorbot"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@tutorbot f = x at x=1 lr 1", True),
        ("Hello @TutorBot, please look", True),
        ("thanks @tutorbot.", True),
        ("@tutorbot2 f = x", False),
        ("mail me@tutorbot.org", False),
        ("`@tutorbot` is the bot's name", False),
        ("```\n@tutorbot f = x at x=1 lr 1\n```", False),
        ('[quote="ann, post:1"]\n@tutorbot f = x at x=1 lr 1\n[/quote]\nme too', False),
        ('[quote="a"][quote="b"]@tutorbot[/quote][/quote] and @tutorbot', True),
        ("> @tutorbot f = x at x=1 lr 1\n\nme too", False),
        ("  > > @tutorbot f = x at x=1 lr 1", False),
        ("> someone else\n@tutorbot f = x at x=1 lr 1", True),
        ("~~~\n@tutorbot f = x at x=1 lr 1\n~~~", False),
        ("````\n```\n@tutorbot f = x at x=1 lr 1\n````", False),
        ("```\r\n@tutorbot f = x at x=1 lr 1\r\n```\r\n", False),
        ("~~~\n@tutorbot f = x at x=1 lr 1\n```", False),
        ("```\n@tutorbot f = x at x=1 lr 1\n~~~\n```\n@tutorbot", True),
        ("```@tutorbot``` is me", False),
        ("no mention here", False),
    ],
)
def test_a_mention_is_the_bot_named_in_the_post_itself(raw, expected):
    assert mentions(raw, BOT) is expected


def test_the_one_line_question():
    question = read_question("Is this right?\n@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01\nThanks!", BOT)

    assert question == Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01)


def test_the_one_line_question_with_every_option():
    question = read_question(
        "@TutorBot f=`(x+y)*z*w` at x=-2, y=5, z=-4, w=1 lr: 0.01 steps 3 order z,y,x fixed w "
        "methods simultaneous,sequential?",
        BOT,
    )

    assert question.expression == "(x+y)*z*w"
    assert (question.steps, question.order, question.fixed) == (3, ("z", "y", "x"), ("w",))
    assert question.methods == ("simultaneous", "sequential")


def test_key_words_inside_names_are_part_of_the_expression():
    question = read_question("@tutorbot f = atan(lrate*at2) at lrate=1, at2=2 lr 0.1", BOT)

    assert question.expression == "atan(lrate*at2)"
    assert question.point == {"lrate": 1.0, "at2": 2.0}


def test_the_block_question():
    raw = (
        "@tutorbot what happens here?\n\n"
        "```tutor\n"
        "# the loss from the cs231n example\n"
        "f = (x+y)*z\n"
        "at x=-2, y=5, z=-4\n"
        "lr 0.01\n"
        "steps: 2\n"
        "order z, y, x\n"
        "```\n"
    )

    question = read_question(raw, BOT)

    assert question == Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01, 2, (), ("z", "y", "x"))


@pytest.mark.parametrize(
    "raw",
    [
        "Thanks @tutorbot!\n\n@tutorbot f = x^2 at x=1 lr 0.1",
        "@tutorbot\nf = x^2 at x=1 lr 0.1",
        "Hi @tutorbot,\n\n  f = x^2 at x=1 lr 0.1\n\nthanks!",
        "@tutorbot: f = x^2 at x=1 lr 0.1",
        "Use `@tutorbot f = ...` like so:\n@tutorbot f = x^2 at x=1 lr 0.1",
        "@tutorbot f = `x^2` at x=1 lr 0.1",
        "> @tutorbot f = y at y=2 lr 0.5\n\n@tutorbot f = x^2 at x=1 lr 0.1",
        "```\n@tutorbot f = y at y=2 lr 0.5\n```\n@tutorbot f = x^2 at x=1 lr 0.1",
        "Done, @tutorbot @tutorbot f = x^2 at x=1 lr 0.1",
    ],
)
def test_the_question_is_read_after_the_mention_that_asks_it(raw):
    assert read_question(raw, BOT) == Question("x^2", {"x": 1.0}, 0.1)


@pytest.mark.parametrize(
    "raw",
    [
        "@tutorbot\r\n\r\n```tutor\r\nf = x^2\r\nat x=1\r\nlr 0.1\r\n```\r\n",
        "@tutorbot\n~~~tutor\nf = x^2\nat x=1\nlr 0.1\n~~~",
        "@tutorbot\n````tutor\nf = x^2\nat x=1\nlr 0.1\n`````\n```\nat x=2\n```",
        "@tutorbot\n~~~~ Tutor\nf = x^2\nat x=1\nlr 0.1\n~~~~\n\n~~~\nlr 2\n~~~",
        "@tutorbot\n```tutor\nf = x^2\nat x=1\nlr 0.1",
        "@tutorbot\n  ```tutor\n  f = x^2\n  at x=1\n  lr 0.1\n  ```",
    ],
)
def test_the_block_question_in_any_fence(raw):
    assert read_question(raw, BOT) == Question("x^2", {"x": 1.0}, 0.1)


def test_a_quoted_block_is_not_read():
    raw = "> ```tutor\n> f = y\n> at y=2\n> lr 0.5\n> ```\n\n@tutorbot f = x^2 at x=1 lr 0.1"

    assert read_question(raw, BOT) == Question("x^2", {"x": 1.0}, 0.1)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("@tutorbot hello!", "point", "`at` (the starting point) and `lr` (the learning rate)"),
        ("@tutorbot", "expression", "`f` (the function)"),
        ("@tutorbot f = x at x=1", "learning_rate", "`lr`"),
        ("@tutorbot f = x at x=1 lr 1 lr 2", "learning_rate", "twice"),
        ("@tutorbot f = x at x=one lr 1", "point", "not a number"),
        ("@tutorbot f = x at x=1 lr fast", "learning_rate", "not a number"),
        ("@tutorbot\n```tutor\nf = x\nwhere x=1\n```", "post", "known key"),
        # A shorter fence or one of the other character is inside the block, not its end.
        ("@tutorbot\n````tutor\nf = x\n```\nat x=1\n````", "post", "the line `" + "```" + "`"),
        ("@tutorbot\n~~~tutor\nf = x\n```\nat x=1\n~~~", "post", "the line `" + "```" + "`"),
        # No mention asks: the reason is the first one that has words after it.
        ("Thanks @tutorbot!\n\n@tutorbot f = x at x=1", "learning_rate", "`lr`"),
        ("@tutorbot\n\n@tutorbot f = x lr 1", "point", "`at`"),
        ("@tutorbot @tutorbot", "expression", "`f` (the function)"),
        ("`@tutorbot f = x at x=1 lr 1` is how", "post", "does not mention"),
        ("> @tutorbot f = x at x=1 lr 1", "post", "does not mention"),
    ],
)
def test_an_unreadable_question_says_what_is_wrong(raw, field, words):
    with pytest.raises(InputError) as caught:
        read_question(raw, BOT)

    assert caught.value.field == field
    assert words in caught.value.message


def test_the_answer_reply_has_the_short_answer_the_worked_numbers_and_the_case_link():
    case = {"id": "abc", **tutor.engine.answer(Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01))}

    reply = answer_reply(case, "https://tutor.example/cases/abc")

    assert reply.startswith(case["explanation"]["summary"]["markdown"].rstrip())
    assert "-12.4124" in reply
    assert reply.endswith("(https://tutor.example/cases/abc)\n")


def test_a_long_answer_is_cut_at_a_section_to_fit_a_post(monkeypatch):
    case = {"id": "abc", **tutor.engine.answer(Question("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}, 0.01))}
    monkeypatch.setattr(tutor.discourse, "MAX_REPLY_CHARS", 3000)

    reply = answer_reply(case, "https://tutor.example/cases/abc")

    assert len(reply) <= 3000
    assert "The rest is on the case page" in reply
    assert reply.endswith("(https://tutor.example/cases/abc)\n")
    body = reply.split("\n\n*(The rest")[0]
    assert body.rstrip().endswith("|") or body.rstrip().endswith(".")  # a whole section, not half a table
    assert reply.index("[/details]") > reply.index("*(The rest")


def test_the_help_reply_gives_the_reason_and_the_syntax():
    reply = help_reply(InputError("this is not a formula I can read", "expression", 8), BOT)

    assert "this is not a formula I can read (at column 8 of the expression)" in reply
    assert "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01" in reply
    assert "```tutor" in reply


def test_the_reply_to_a_too_expensive_question_says_so():
    reply = help_reply(TooExpensive("answering this took longer than 10 seconds", "expression"), BOT)

    assert "took longer than 10 seconds" in reply


def test_signatures():
    body = b'{"post": {"id": 1}}'
    good = sign("secret", body)

    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert signature_valid("secret", body, good)
    assert not signature_valid("secret", body + b" ", good)
    assert not signature_valid("other", body, good)
    assert not signature_valid("secret", body, good.removeprefix("sha256="))
    assert not signature_valid("secret", body, None)
    assert not signature_valid("", body, sign("", body))


def test_backoff_doubles_up_to_an_hour():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(50) == 3600


def response_with(headers: dict[str, str], body: bytes = b"") -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    response._content = body
    return response


def test_retry_after_in_seconds_as_a_date_or_in_discourses_body():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(response_with({"Retry-After": "7"})) == 7
    in_a_minute = format_datetime(now + timedelta(minutes=1), usegmt=True)
    assert retry_after_seconds(response_with({"Retry-After": in_a_minute}), now) == 60
    assert retry_after_seconds(response_with({}, b'{"extras": {"wait_seconds": 12}}')) == 12
    assert retry_after_seconds(response_with({}, b"Slow down")) is None


def test_the_readmes_examples_are_questions_the_tutor_answers():
    # The syntax learners copy from the README must keep working.
    import re
    import textwrap
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Discourse", 1)[1].split("\n## ", 1)[0]
    inline = re.search(r"^    (@tutorbot f = .*)$", section, re.M).group(1)
    block = re.search(r"^(    ```tutor\n(?:    .*\n)+?    ```)$", section, re.M).group(1)
    for post in (inline, textwrap.dedent(block)):
        document = tutor.engine.answer(read_question(post, BOT))
        assert document["trials"] and document["analysis"] is not None
