"""Forum posts as people write them, end to end against the fake forum: natural syntax, LaTeX, edited
posts (answered once per version), and posts that try to make the bot post their Markdown."""

from __future__ import annotations

import re
import time

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import update
from support.apps import app_for
from support.forum import FakeForum
from support.workers import outbox_worker
from test_discourse_webhook import count_cases, deliver, post_payload, rows, settings_for, wait_until

import tutor.engine
from tutor.engine import Question
from tutor.persistence.integrations import DiscoursePost
from tutor.persistence.migrate import downgrade, upgrade
from tutor.services.discourse import IncomingPost

EDIT_NOTE = "This answers the post as edited."


@pytest.fixture
def forum():
    forum = FakeForum()
    yield forum
    forum.close()


@pytest.fixture
def app(database_url, forum, tmp_path):
    """The web app with `tutor worker`'s loop beside it, as `make run` runs them."""
    with app_for(settings_for(database_url, forum.url), tmp_path / "instance", TESTING=True) as app:
        app.extensions["tutor"].cases.analyzer = tutor.engine
        with outbox_worker(app):
            yield app


@pytest.fixture
def client(app):
    return app.test_client()


def edit(client, raw: str, *, version: int, event_id: str, post_id: int = 41):
    return deliver(
        client, post_payload(post_id, raw, version=version), event="post_edited", event_id=event_id
    )


def settled(app, count: int) -> list[DiscoursePost]:
    """The rows once every one of them is sent (and there are ``count``)."""
    wait_until(lambda: len(rows(app)) == count and all(row.state == "sent" for row in rows(app)))
    return rows(app)


def case_of(app, row: DiscoursePost) -> dict:
    return app.extensions["tutor"].cases.get(row.case_id)


# Natural syntax and LaTeX, end to end


def test_a_question_in_natural_words_is_answered_and_the_reply_says_how_the_point_was_read(
    app, client, forum
):
    raw = "Hi @tutorbot, what happens to f = x^2 + 3*y^2 starting at (1, -1) with learning rate 0.05?"

    assert deliver(client, post_payload(raw=raw)).status_code == 202

    [reply] = forum.wait_for(1)
    [row] = settled(app, 1)
    case = case_of(app, row)
    assert case["input"]["point"] == {"x": 1.0, "y": -1.0}
    assert case["input"]["learning_rate"] == 0.05
    text = reply["json"]["raw"]
    assert text.startswith("*I read `at (1, -1)` as `x=1, y=-1`: the values in the order the variables")
    expected = tutor.engine.answer(Question("x^2 + 3*y^2", {"x": 1, "y": -1}, 0.05))
    assert case["loss"] == expected["loss"] == 4.0
    assert case["trials"][0]["final_loss"] == expected["trials"][0]["final_loss"]


@pytest.mark.parametrize(
    "raw",
    [
        "@tutorbot f = (x+y)*z from x=-2, y=5, z=-4 lr=0.01",
        "@tutorbot f = (x+y)*z at x=-2 and y=5 and z=-4, η = 0.01",
        "@tutorbot f = (x+y)*z\nat x=-2, y=5, z=-4\neta 0.01\n\nThanks!",
        "@tutorbot\n```tutor\nf = (x+y)*z\nstarting at x=-2, y=5, z=-4\nlearning rate: 0.01\n```",
    ],
)
def test_each_way_people_write_the_keys_asks_the_same_question(app, client, forum, raw):
    deliver(client, post_payload(raw=raw))

    [reply] = forum.wait_for(1)
    [row] = settled(app, 1)
    case = case_of(app, row)
    assert (case["input"]["point"], case["input"]["learning_rate"]) == ({"x": -2, "y": 5, "z": -4}, 0.01)
    assert "-12.4124" in reply["json"]["raw"]


def test_a_forum_post_in_latex_is_answered_end_to_end(app, client, forum):
    raw = (
        "Does a small step lower this loss, @tutorbot?\n\n"
        "@tutorbot\n$$\nL = \\left(\\sigma(w_0 x_0 + b) - y\\right)^2\n$$\n"
        "from w_0=0.5, x_0=1.5, b=-0.2, y=1\nlearning rate 0.5\n"
    )

    assert deliver(client, post_payload(raw=raw)).status_code == 202

    [reply] = forum.wait_for(1)
    [row] = settled(app, 1)
    case = case_of(app, row)
    assert case["expression"]["notation"] == "latex"
    assert case["expression"]["read_as"] == "(sigmoid(w0*x0+b)-y)**2"
    # The same numbers as the function typed in the text grammar.
    typed = tutor.engine.answer(
        Question("(sigmoid(w0*x0 + b) - y)**2", {"w0": 0.5, "x0": 1.5, "b": -0.2, "y": 1}, 0.5)
    )
    assert case["loss"] == typed["loss"]
    assert case["gradient"] == typed["gradient"]
    text = reply["json"]["raw"]
    assert "read as `(sigmoid(w0*x0+b)-y)**2`" in text


def test_a_latex_function_that_cannot_be_read_gets_its_column_and_a_caret(app, client, forum):
    deliver(client, post_payload(raw="@tutorbot f = $x^10 + y$ at x=1, y=2 lr 0.1"))

    [reply] = forum.wait_for(1)
    text = reply["json"]["raw"]
    assert (
        "$x^10 + y$\n   ^ in LaTeX ^10 is ^1 followed by 0: write ^{10} (at column 4 of the expression)"
        in text
    )


# Edited posts


def test_an_edit_after_the_help_reply_is_answered_once_and_says_it_answers_the_edit(app, client, forum):
    deliver(client, post_payload(raw="@tutorbot f = (x+y)*z at x=-2, y=5, z=-4"), event_id="ev-1")
    [help] = forum.wait_for(1)
    assert help["json"]["raw"].startswith("Sorry, I could not read a question")
    settled(app, 1)

    fixed = "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01"
    assert edit(client, fixed, version=2, event_id="ev-2").status_code == 202
    assert edit(client, fixed, version=2, event_id="ev-2").json["status"] == "duplicate"
    assert edit(client, fixed, version=2, event_id="ev-3").json["status"] == "duplicate"

    first, answer = forum.wait_for(2)
    assert answer["json"]["raw"].startswith(f"*{EDIT_NOTE}*\n\n")
    assert "-12.4124" in answer["json"]["raw"]
    assert answer["json"]["reply_to_post_number"] == 3
    help_row, answered = settled(app, 2)
    assert (help_row.case_id, answered.version) == (None, 2)
    time.sleep(0.5)
    assert len(forum.accepted) == 2 and count_cases(app) == 1


def test_an_edit_in_discourses_grace_period_keeps_the_version_and_is_still_answered(app, client, forum):
    deliver(client, post_payload(raw="@tutorbot f = x^2 at x=1 lr 0,1"), event_id="ev-1")
    forum.wait_for(1)
    settled(app, 1)

    edit(client, "@tutorbot f = x^2 at x=1 lr 0.1", version=1, event_id="ev-2")

    _, answer = forum.wait_for(2)
    assert EDIT_NOTE in answer["json"]["raw"]
    assert case_of(app, settled(app, 2)[1])["input"]["learning_rate"] == 0.1


def test_an_edit_after_a_real_answer_is_answered_only_when_the_question_changed(app, client, forum):
    deliver(client, post_payload(), event_id="ev-1")
    forum.wait_for(1)
    settled(app, 1)

    unchanged = edit(
        client,
        "Does the loss go down? Thanks!\n@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.01",
        version=2,
        event_id="ev-2",
    )
    assert unchanged.status_code == 200 and "did not change the question" in unchanged.json["reason"]

    changed = edit(client, "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.02", version=3, event_id="ev-3")
    assert changed.status_code == 202
    first, second = forum.wait_for(2)
    assert second["json"]["raw"].startswith(f"*{EDIT_NOTE}*")
    cases = [case_of(app, row)["input"]["learning_rate"] for row in settled(app, 2)]
    assert cases == [0.01, 0.02]
    # A delivery of an older version that arrives late changes nothing.
    late = edit(client, "@tutorbot f = (x+y)*z at x=-2, y=5, z=-4 lr 0.5", version=2, event_id="ev-4")
    assert late.json["status"] == "ignored" and "newer version" in late.json["reason"]
    time.sleep(0.5)
    assert len(forum.accepted) == 2


def test_an_edit_that_adds_the_mention_is_answered_as_a_new_question(app, client, forum):
    assert (
        deliver(client, post_payload(raw="f = x^2 at x=1 lr 0.1, what happens?")).json["status"] == "ignored"
    )

    assert (
        edit(client, "@tutorbot f = x^2 at x=1 lr 0.1, what happens?", version=2, event_id="ev-2").status_code
        == 202
    )

    [reply] = forum.wait_for(1)
    assert EDIT_NOTE not in reply["json"]["raw"] and "Sorry" not in reply["json"]["raw"]


def test_an_edit_before_the_first_version_is_answered_replaces_it(app, forum):
    service = app.extensions["tutor_discourse"].service
    service.receive(IncomingPost(60, 7, 2, "brent", "@tutorbot f = x^2 at x=1"), event_id="ev-60")

    received = service.receive(
        IncomingPost(60, 7, 2, "brent", "@tutorbot f = x^2 at x=1 lr 0.1", version=2),
        event_id="ev-61",
        edited=True,
    )

    assert received.status == "queued" and "replaces" in received.reason
    summary = service.run_due()
    assert (summary.answered, summary.sent) == (1, 1)
    [reply] = forum.wait_for(1)
    assert "Sorry" not in reply["json"]["raw"] and EDIT_NOTE not in reply["json"]["raw"]
    [row] = rows(app)
    assert (row.version, row.event_id) == (2, "ev-60")


def test_an_edit_while_the_first_version_is_being_answered_is_kept_for_its_own_answer(app, forum):
    service = app.extensions["tutor_discourse"].service
    service.receive(IncomingPost(61, 7, 2, "brent", "@tutorbot f = x^2 at x=1 lr 0.2"), event_id="ev-70")
    with service.database.session(write=True) as session:  # a worker holds the first version's lease
        session.execute(update(DiscoursePost).values(locked_until=service._clock().replace(year=2999)))

    received = service.receive(
        IncomingPost(61, 7, 2, "brent", "@tutorbot f = x^2 at x=1 lr 0.1", version=2),
        event_id="ev-71",
        edited=True,
    )

    assert received.status == "queued"
    assert [row.version for row in rows(app)] == [1, 2]


def test_an_edit_delivered_three_times_is_stored_once(app, forum):
    service = app.extensions["tutor_discourse"].service
    service.receive(IncomingPost(62, 7, 2, "brent", "@tutorbot hello"), event_id="ev-80")
    service.run_due()
    forum.wait_for(1)
    edited = IncomingPost(62, 7, 2, "brent", "@tutorbot f = x at x=1 lr 0.1", version=2)

    outcomes = [service.receive(edited, event_id=f"ev-8{n}", edited=True).status for n in (1, 2, 3)]

    assert outcomes == ["queued", "duplicate", "duplicate"]


def test_migration_0007_keeps_stored_posts_as_their_first_version(empty_database_url):
    from sqlalchemy import create_engine, text

    upgrade(empty_database_url, "0004")
    engine = create_engine(empty_database_url)
    insert = text(
        "INSERT INTO discourse_posts (post_id, topic_id, post_number, username, raw, received_at, state, "
        "attempts, next_attempt_at) VALUES (:post_id, 1, 1, 'ann', :raw, CURRENT_TIMESTAMP, 'sent', 0, "
        "CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(insert, {"post_id": 5, "raw": "@tutorbot f = x at x=1 lr 1"})
        upgrade(empty_database_url)
        with engine.begin() as connection:
            row = connection.execute(text("SELECT version, raw_sha256 FROM discourse_posts")).one()
            assert row.version == 1
            assert row.raw_sha256 == IncomingPost(5, 1, 1, "ann", "@tutorbot f = x at x=1 lr 1").raw_sha256
            connection.execute(
                text(
                    "INSERT INTO discourse_posts (post_id, version, raw_sha256, topic_id, post_number, username, "
                    "raw, received_at, state, attempts, next_attempt_at) VALUES (5, 2, 'b', 1, 1, 'ann', 'v2', "
                    "CURRENT_TIMESTAMP, 'sent', 0, CURRENT_TIMESTAMP)"
                )
            )
        downgrade(empty_database_url, "0004")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT raw FROM discourse_posts")).scalars().all() == [
                "@tutorbot f = x at x=1 lr 1"
            ]
    finally:
        engine.dispose()


# The bot never posts a post's Markdown


INJECTIONS = [
    "@tutorbot f = x at x=1 lr [click me](http://evil.example/phish)",
    "@tutorbot f = x at x=1 lr ![t](http://evil.example/track.png)",
    "@tutorbot f = x at x=<img src=x onerror=alert(1)> lr 1",
    "@tutorbot f = x at x=1 lr @moderators",
    "@tutorbot f = x at @staff=1 lr 1",
    "@tutorbot f = x at x=1 lr 1 methods @admins,@everyone",
    "@tutorbot f = x + [y](http://evil.example) at x=1 lr 1",
    "@tutorbot f = <script>alert(1)</script> at x=1 lr 1",
    "@tutorbot f = x at x=1 lr http://evil.example/bare",
    "@tutorbot f = x at x=1 lr [url=http://evil.example]x[/url]",
    "@tutorbot\n```tutor\n[link](http://evil.example)\n```",
    "@tutorbot\n```tutor\n<div onclick=x>@here @group_all @alice @bob</div>\n```",
    "@tutorbot\n```tutor\nx ```` ` [y](http://evil.example) ``````` @carol\n```",
    "@tutorbot\n```tutor\n`` ![i](http://evil.example/i.png) ``\n```",
    "@tutorbot\n```tutor\n</code></pre><a href=http://evil.example>x</a> [img]http://evil.example/i.png[/img]\n```",
    "@tutorbot f = x at x=1 lr 1 order `` @dave ``",
    "@tutorbot f = $\\href{http://evil.example}{x}$ at x=1 lr 1",
]


def user_text_that_renders(markdown: str) -> list[str]:
    """What in the reply a forum would render as more than text: links, images, HTML, mentions, URLs
    and BBCode outside code. Empty for a safe reply."""
    found = []
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "html_block":
            found.append(token.content)
        for child in token.children or []:
            if child.type in ("link_open", "image", "html_inline"):
                found.append(child.type)
            if child.type == "text" and re.search(r"@\w|https?:|www\.|\[/?(url|img|quote)|<", child.content):
                found.append(child.content)
    return found


@pytest.mark.parametrize("raw", INJECTIONS)
def test_no_link_image_html_or_mention_from_a_post_reaches_the_reply(app, client, forum, raw):
    deliver(client, post_payload(raw=raw))

    [reply] = forum.wait_for(1)
    text = reply["json"]["raw"]
    assert text.startswith("Sorry, I could not read a question")
    assert user_text_that_renders(text) == []
    # The reason is there, shown as code: the learner still sees what was not understood.
    reason = next(token.content for token in MarkdownIt("commonmark").parse(text) if token.type == "fence")
    assert reason.strip()


def test_a_mebibyte_of_nested_quotes_is_ignored_at_once_and_the_next_post_is_answered(app, client, forum):
    depth = 1024 * 1024 // len("[quote][/quote]") - 10
    raw = "[quote]" * depth + "@tutorbot f = y at y=2 lr 1" + "[/quote]" * depth + "\n@tutorbot"

    response = deliver(client, post_payload(raw=raw), event_id="ev-big")

    assert response.status_code == 200
    assert response.json["status"] == "ignored" and "longer than" in response.json["reason"]
    assert rows(app) == []
    assert deliver(client, post_payload(post_id=42), event_id="ev-next").status_code == 202
    assert "-12.4124" in forum.wait_for(1)[0]["json"]["raw"]
