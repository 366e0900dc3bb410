"""Bearer tokens for bots: create (shown once), list, revoke, and look up who presents one."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tutor.persistence.database import Database
from tutor.persistence.integrations import ApiToken

# The prefix lets secret scanners and people recognise a leaked token; the rest is 256 random bits.
TOKEN_PREFIX = "tt_"  # noqa: S105 - a prefix, not a secret
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# "admin" is what cases made with TUTOR_ADMIN_TOKEN are marked with: no bot may pass as it.
RESERVED_NAMES = frozenset({"admin"})


class TokenError(ValueError):
    """A name that cannot be used, or a token that does not exist."""


@dataclass(frozen=True)
class Principal:
    """Who sent a request: a named bot, or the administrator."""

    name: str
    admin: bool = False

    @property
    def source(self) -> str:
        """What cases this principal creates are marked with."""
        return f"api:{self.name}"


ADMIN = Principal("admin", admin=True)


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    # A plain SHA-256 is enough: the token is random and long, so there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, database: Database, *, clock=None):
        self.database = database
        self._clock = clock or (lambda: datetime.now(UTC))

    def create(self, name: str) -> str:
        """A new token for ``name``; returns the token, which is stored only as its hash."""
        if not NAME.match(name):
            raise TokenError(
                "a token name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        if name.lower() in RESERVED_NAMES:
            raise TokenError(f"'{name}' is reserved")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self.database.session(write=True) as session:
                session.add(ApiToken(name=name, token_hash=token_hash(token), created_at=self._clock()))
        except IntegrityError:
            raise TokenError(
                f"the name '{name}' is taken (names are never reused, even after revoking)"
            ) from None
        return token

    def list(self) -> list[TokenInfo]:
        with self.database.session() as session:
            tokens = session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
            return [TokenInfo(token.name, token.created_at, token.revoked_at) for token in tokens]

    def revoke(self, name: str) -> None:
        with self.database.session(write=True) as session:
            token = session.scalar(select(ApiToken).where(ApiToken.name == name))
            if token is None:
                raise TokenError(f"no token named '{name}'")
            if token.revoked_at is None:
                token.revoked_at = self._clock()

    def principal(self, token: str) -> Principal | None:
        """The bot that owns ``token``, or None for an unknown or revoked one."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self.database.session() as session:
            found = session.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
                )
            )
            return Principal(found.name) if found is not None else None
