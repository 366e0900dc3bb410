"""``tutor explain EXPRESSION --at "x=-2, y=5, z=-4" --lr 0.01``: the answer on stdout."""

from __future__ import annotations

import json

import click

from tutor.cli import fail, main
from tutor.cli.cases import case_service
from tutor.config import Limits
from tutor.engine import InputError, question_from_text
from tutor.engine.question import METHODS, SETTINGS
from tutor.sandbox import Analyzer


def _read_data(path: str | None) -> str:
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        fail(f"data: cannot read {path}: {getattr(error, 'strerror', None) or error}")


@main.command()
@click.argument("expression")
@click.option("--at", "point", required=True, help='The starting point, e.g. "x=-2, y=5, z=-4".')
@click.option("--lr", "learning_rate", required=True, help="The learning rate η.")
@click.option("--steps", default="1", show_default=True, help="How many steps each trial runs.")
@click.option("--fixed", default="", help="Symbols held at their value (data), e.g. x0,x1.")
@click.option("--order", default="", help="Order of the sequential updates, e.g. z,y,x.")
@click.option(
    "--methods",
    default="",
    help=f"Trials to run, comma-separated: {', '.join(METHODS)} [default: simultaneous,sequential].",
)
@click.option(
    "--momentum", default="", help=f"μ of momentum and nesterov [default: {SETTINGS['momentum'][0]}]."
)
@click.option("--beta1", default="", help=f"Adam's β1 [default: {SETTINGS['beta1'][0]}].")
@click.option("--beta2", default="", help=f"Adam's β2 [default: {SETTINGS['beta2'][0]}].")
@click.option("--eps", default="", help=f"ε of Adam and RMSprop [default: {SETTINGS['eps'][0]:g}].")
@click.option("--alpha", default="", help=f"RMSprop's smoothing constant [default: {SETTINGS['alpha'][0]}].")
@click.option(
    "--data",
    "data_path",
    default=None,
    help="CSV file of data rows, header = symbol names; f is then one example's loss, L the mean.",
)
@click.option("--batch-size", default="", help="Rows per step: adds the minibatch trial (needs --data).")
@click.option("--shuffle-seed", default="", help="Shuffle the rows each epoch of the minibatch trial.")
@click.option("--save", is_flag=True, help="Store the case in the database (TUTOR_DATABASE_URL).")
@click.option("--question", "question_text", default=None, help="The question in words, stored with --save.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the analysis document (with --save: the case document)."
)
def explain(
    expression: str,
    point: str,
    learning_rate: str,
    steps: str,
    fixed: str,
    order: str,
    methods: str,
    momentum: str,
    beta1: str,
    beta2: str,
    eps: str,
    alpha: str,
    data_path: str | None,
    batch_size: str,
    shuffle_seed: str,
    save: bool,
    question_text: str | None,
    as_json: bool,
):
    """Explain one gradient-descent step on EXPRESSION with worked numbers (Markdown)."""
    data = _read_data(data_path)
    settings = {"momentum": momentum, "beta1": beta1, "beta2": beta2, "eps": eps, "alpha": alpha}
    # A local process: fork is cheapest, and the time and memory limits still apply.
    analyzer = Analyzer(Limits.from_env(), context="fork")
    try:
        question = question_from_text(
            expression,
            point,
            learning_rate,
            steps,
            fixed,
            order,
            methods,
            settings=settings,
            data=data,
            batch_size=batch_size,
            shuffle_seed=shuffle_seed,
        )
        if save:
            with case_service(analyzer) as service:
                document = service.ask(question, source="cli", question_text=question_text)
            click.echo(f"saved as case {document['id']}", err=True)
        else:
            document = analyzer.answer(question)
    except InputError as error:
        fail(str(error))
    finally:
        analyzer.close()
    if as_json:
        click.echo(json.dumps(document, indent=2, allow_nan=False))
    else:
        click.echo(document["explanation"]["markdown"], nl=False)
