"""``from tutor import explain``: the service's question, options and refusals, in a notebook's process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

import tutor.engine
from tutor.cli import main
from tutor.engine import InputError, Question
from tutor.notebook import Explanation, explain


def test_importing_tutor_stays_light_and_explain_comes_on_first_use():
    code = (
        "import sys, tutor\n"
        "heavy = [m for m in ('symengine', 'numpy', 'matplotlib', 'flask', 'sqlalchemy') if m in sys.modules]\n"
        "from tutor import explain\n"
        "print(heavy, explain.__module__, 'tutor.engine' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.split() == ["[]", "tutor.notebook", "True"]


def test_the_options_have_the_command_lines_names_and_give_its_numbers(tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("x\n1\n2\n3\n4\n")
    cli = CliRunner().invoke(
        main,
        [
            "explain", "(w*x - 1)**2 + b**2", "--at", "w=0.5, b=0.1", "--lr", "0.1", "--steps", "4",
            "--methods", "simultaneous,sequential,momentum,adam", "--momentum", "0.5", "--beta1", "0.8",
            "--data", str(data), "--batch-size", "2", "--shuffle-seed", "3", "--order", "b,w", "--json",
        ],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output)

    as_text = explain(
        "(w*x - 1)**2 + b**2", at="w=0.5, b=0.1", lr="0.1", steps="4", order="b,w",
        methods="simultaneous,sequential,momentum,adam", momentum="0.5", beta1="0.8",
        data=str(data), batch_size="2", shuffle_seed="3",
    )  # fmt: skip
    as_values = explain(
        "(w*x - 1)**2 + b**2", at={"w": np.float64(0.5), "b": 0.1}, lr=0.1, steps=4, order=["b", "w"],
        methods=["simultaneous", "sequential", "momentum", "adam"], momentum=0.5, beta1=0.8,
        data={"x": np.array([1, 2, 3, 4])}, batch_size=np.int64(2), shuffle_seed=3,
    )  # fmt: skip
    for answer in (as_text, as_values):
        assert answer.document["input"] == expected["input"]
        assert answer.document["trials"] == expected["trials"]
        assert answer.document["gradient"] == expected["gradient"]


def test_a_data_frame_is_read_by_its_columns():
    class Frame:  # what pandas.DataFrame.to_dict("list") gives
        def to_dict(self, orient):
            assert orient == "list"
            return {"x": [np.int64(1), np.int64(2)]}

    answer = explain("(w*x - 1)**2", at={"w": 0.5}, lr=0.1, data=Frame())

    assert answer.document["input"]["data"] == {"x": [1.0, 2.0]}
    assert answer.document["loss"] == pytest.approx(((0.5 - 1) ** 2 + (1 - 1) ** 2) / 2)


def test_values_alone_are_in_the_order_the_variables_first_appear():
    answer = explain("z*(y + x)", at=(1, 2, 3), lr=0.1)

    assert answer.document["input"]["point"] == {"z": 1.0, "y": 2.0, "x": 3.0}


@pytest.mark.parametrize(
    ("expression", "point"),
    [
        ("x + * y", {"x": 1, "y": 2}),
        ("2x + y", {"x": 1, "y": 2}),
        (r"\frac{1}{x", {"x": 1}),
        ("x*y", {"x": 1}),
    ],
)
def test_refusals_are_the_services_with_their_column(expression, point):
    with pytest.raises(InputError) as service:
        tutor.engine.answer(Question(expression, point, 0.1))
    with pytest.raises(InputError) as ours:
        explain(expression, at=point, lr=0.1)

    assert (ours.value.message, ours.value.field, ours.value.column) == (
        service.value.message,
        service.value.field,
        service.value.column,
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"at": 5}, "point"),
        ({"at": {"x": "one"}}, "point"),
        ({"lr": "0,1"}, "learning_rate"),
        ({"lr": None}, "learning_rate"),
        ({"steps": 2.5}, "steps"),
        ({"fixed": [1]}, "fixed"),
        ({"methods": "simultaneous,teleport"}, "methods"),
        ({"data": "/nonexistent/rows.csv"}, "data"),
        ({"data": 7}, "data"),
        ({"at": (1, 2)}, "point"),
    ],
)
def test_every_bad_option_is_one_exception_type_naming_its_field(options, field):
    with pytest.raises(InputError) as error:
        explain("x**2", **{"at": {"x": 1}, "lr": 0.1, **options})

    assert error.value.field == field
    assert "\n" not in str(error.value)


def test_the_answer_shows_itself_with_its_plots():
    answer = explain("x**2 + 3*y**2", at={"x": 1, "y": 1}, lr=0.1, steps=3)

    assert isinstance(answer, Explanation)
    assert answer.markdown == answer.document["explanation"]["markdown"]
    assert answer.text == answer.document["explanation"]["text"]
    assert answer.plots == ["loss", "line", "contour"]
    markdown, html = answer._repr_markdown_(), answer._repr_html_()
    assert markdown.startswith(answer.markdown.rstrip())
    assert markdown.count("](data:image/png;base64,") == 3
    assert html.count('<img src="data:image/png;base64,') == 3 and "<table>" in html
    figure = answer.plot("contour")
    assert isinstance(figure, Figure) and figure.axes[0].get_title() == "Contour map with every trajectory"
    with pytest.raises(InputError, match="no plot 'batches'"):
        answer.plot("batches")
    assert repr(answer) == "<Explanation f = x**2 + 3*y**2, loss 4>"
