"""``tutor explain EXPRESSION --at "x=-2, y=5, z=-4" --lr 0.01``: the answer on stdout."""

from __future__ import annotations

import json

import click

from tutor.cli import fail, main
from tutor.config import Limits
from tutor.engine import InputError, question_from_text
from tutor.sandbox import Analyzer


@main.command()
@click.argument("expression")
@click.option("--at", "point", required=True, help='The starting point, e.g. "x=-2, y=5, z=-4".')
@click.option("--lr", "learning_rate", required=True, help="The learning rate η.")
@click.option("--steps", default="1", show_default=True, help="How many steps each trial runs.")
@click.option("--fixed", default="", help="Symbols held at their value (data), e.g. x0,x1.")
@click.option("--order", default="", help="Order of the sequential updates, e.g. z,y,x.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis document as JSON.")
def explain(
    expression: str, point: str, learning_rate: str, steps: str, fixed: str, order: str, as_json: bool
):
    """Explain one gradient-descent step on EXPRESSION with worked numbers (Markdown)."""
    # A local process: fork is cheapest, and the time and memory limits still apply.
    analyzer = Analyzer(Limits.from_env(), context="fork")
    try:
        question = question_from_text(expression, point, learning_rate, steps, fixed, order)
        document = analyzer.answer(question)
    except InputError as error:
        fail(str(error))
    finally:
        analyzer.close()
    if as_json:
        click.echo(json.dumps(document, indent=2, allow_nan=False))
    else:
        click.echo(document["explanation"]["markdown"], nl=False)
