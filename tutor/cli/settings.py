"""``tutor settings``: the settings in force, and ``--reference`` the README's tables of every variable."""

from __future__ import annotations

import click

from tutor.cli import main
from tutor.config import Limits, Settings, in_force, reference_table


@main.command()
@click.option(
    "--reference",
    is_flag=True,
    help="Print every variable's default and meaning as the README's Markdown tables instead.",
)
def settings(reference: bool) -> None:
    """Print each TUTOR_* variable, the value in force (secrets hidden) and whether it was set.

    Read as every other command reads them, so a value that cannot be read fails here the same way."""
    if reference:
        click.echo(reference_table(Settings) + "\n" + reference_table(Limits), nl=False)
        return
    rows = in_force(Settings.from_env())
    width = max(len(name) for name, _, _ in rows)
    for name, value, changed in rows:
        click.echo(f"{name:<{width}}  {'set    ' if changed else 'default'}  {value}")
