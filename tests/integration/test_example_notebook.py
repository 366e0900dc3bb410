"""The example notebook, executed by nbclient in a kernel from the project's environment, shows what it
says: the answers with their tables and plots, the numbers, LaTeX read as the text grammar, and refusals
with their columns."""

from __future__ import annotations

import ast
import base64
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import tutor.engine
from tutor.engine import Question

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backprop_tutor.ipynb"

pytestmark = pytest.mark.slow


def outputs_of(cell) -> tuple[str, dict]:
    """A code cell's printed text and its result's data."""
    printed = "".join(output.text for output in cell.outputs if output.output_type == "stream")
    result = next((output.data for output in cell.outputs if output.output_type == "execute_result"), {})
    return printed, result


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    notebook = nbformat.read(EXAMPLE, as_version=4)
    # Which Python the kernel runs: it must be this environment's, where the project is installed.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys, tutor; print(sys.prefix, tutor.__file__)"))
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("notebook"))}},
    )
    client.execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_kernel_is_the_projects_environment(executed):
    printed, _ = outputs_of(executed[-1])
    prefix, module = printed.split()
    assert prefix == sys.prefix
    assert module == tutor.__file__


def test_no_cell_fails(executed):
    errors = [output for cell in executed for output in cell.outputs if output.output_type == "error"]
    assert errors == []


def test_the_answer_shows_the_explanation_its_tables_and_its_plots(executed):
    _, shown = outputs_of(executed[1])
    expected = tutor.engine.answer(Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01))

    assert shown["text/markdown"].startswith(expected["explanation"]["markdown"].rstrip())
    html = shown["text/html"]
    assert "<table>" in html and "<h3>Forward pass</h3>" in html
    images = html.split('<img src="data:image/png;base64,')[1:]
    assert len(images) == 2  # the loss and the line plots: two parameters are not three, no contour
    assert all(base64.b64decode(image.split('"')[0]).startswith(b"\x89PNG") for image in images)
    assert shown["text/plain"] == "<Explanation f = (x+y)*z, loss -12>"


def test_the_numbers_are_the_circuits(executed):
    printed, _ = outputs_of(executed[2])
    loss, gradient = printed.split(" ", 1)

    # f = (x+y)z: ∂f/∂x = ∂f/∂y = z, ∂f/∂z = x + y.
    x, y, z = -2, 5, -4
    assert float(loss) == (x + y) * z
    assert ast.literal_eval(gradient.strip()) == {"x": z, "y": z, "z": x + y}


def test_the_latex_neuron_is_read_and_answered(executed):
    printed, shown = outputs_of(executed[3])

    assert printed.strip() == "(1/2)*(sigmoid(w0*x0+w1*x1+b)-y)**2"
    # σ(0.5·1 − 0.3·2 + 0.1) = σ(0) = 1/2, and ½(1/2 − 1)² = 0.125.
    assert shown["text/plain"].endswith("loss 0.125>")
    assert "Momentum" in shown["text/markdown"] or "momentum" in shown["text/markdown"]


def test_the_plot_is_a_figure_that_shows_inline(executed):
    printed, shown = outputs_of(executed[4])

    assert printed.strip() == "['loss', 'line'] Loss after each step"
    assert base64.b64decode(shown["image/png"]).startswith(b"\x89PNG")


def test_refusals_give_the_field_and_the_column(executed):
    printed, _ = outputs_of(executed[5])

    assert printed.splitlines() == [
        "'2x + y': expression, column 2: write 2*x to multiply",
        "'$x^10 + y$': expression, column 4: in LaTeX ^10 is ^1 followed by 0: write ^{10}",
    ]
