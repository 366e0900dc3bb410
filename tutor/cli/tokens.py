"""``tutor tokens create|list|revoke``: the bearer tokens bots use with the API."""

from __future__ import annotations

import click

from tutor.cli import fail, main, migrated_database
from tutor.services.tokens import TokenError, TokenService


@main.group()
def tokens() -> None:
    """API tokens for bots: create (shown once), list, revoke."""


@tokens.command()
@click.argument("name")
def create(name: str) -> None:
    """Create a token for the bot NAME and print it, once, as the last line.

    Cases the bot creates are marked api:NAME. Only the token's SHA-256 is stored: keep the token now.
    """
    db = migrated_database()
    try:
        token = TokenService(db).create(name)
    except TokenError as error:
        fail(str(error))
    finally:
        db.dispose()
    click.echo(
        f"Token for {name} (shown only this once; send it as 'Authorization: Bearer <token>'):", err=True
    )
    click.echo(token)


@tokens.command("list")
def list_tokens() -> None:
    """List tokens by name, with when they were created and revoked (never the tokens themselves)."""
    db = migrated_database()
    try:
        found = TokenService(db).list()
    finally:
        db.dispose()
    for token in found:
        revoked = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}Z" if token.revoked_at else "active"
        click.echo(f"{token.name:<32}  created {token.created_at:%Y-%m-%d %H:%M}Z  {revoked}")
    click.echo(f"{len(found)} token{'s' if len(found) != 1 else ''}")


@tokens.command()
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke NAME's token: requests with it are refused from now on. The name is not reused."""
    db = migrated_database()
    try:
        TokenService(db).revoke(name)
    except TokenError as error:
        fail(str(error))
    finally:
        db.dispose()
    click.echo(f"revoked the token of {name}")
