"""`jiban token`: HS256 sign-in tokens for development and for deployments that sign their own
(JIBAN_JWT_SECRET). Production people get theirs from the identity provider instead.

An officer's roles come from dispatch's directory, read straight from its `officers` and `duty`
tables: the CLI is ops tooling, allowed to read the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from jiban.failures import EXIT_USAGE, CommandError
from services.dispatch import tables as dispatch_tables
from services.dispatch.directory import DutyPost
from shared.db import Database
from shared.identity import (
    DEFAULT_AUDIENCE,
    DEV_JWT_SECRET,
    MIN_SECRET_BYTES,
    Role,
    issue_dev_token,
)
from shared.identity.roles import token_roles
from shared.settings import Settings
from shared.vocabulary import OfficerRole

__all__ = [
    "SigningConfig",
    "TokenError",
    "officer_token",
    "ops_token",
    "signing_config",
    "token_roles",
]

DEFAULT_MINUTES = 60
MAX_MINUTES = 24 * 60  # a forgotten token should not outlive a working day by much
OPS_SUBJECT = "ops"


class TokenError(CommandError):
    """Why no token was issued: a setting or an argument to fix (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class SigningConfig:
    secret: str
    audience: str = DEFAULT_AUDIENCE
    issuer: str | None = None


def signing_config(
    *, dev_mode: bool, secret: str | None, audience: str | None = None, issuer: str | None = None
) -> SigningConfig:
    """The configured secret, else the dev secret under dev mode, else TokenError."""
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise TokenError(f"JIBAN_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        if not dev_mode and secret == DEV_JWT_SECRET:
            raise TokenError("JIBAN_JWT_SECRET is the published development secret")
    elif dev_mode:
        secret = DEV_JWT_SECRET
    else:
        raise TokenError(
            "no signing key: set JIBAN_JWT_SECRET (HS256), or JIBAN_DEV_MODE=1 in development; "
            "with an identity provider (JIBAN_JWT_JWKS_URL), tokens come from it"
        )
    return SigningConfig(secret=secret, audience=audience or DEFAULT_AUDIENCE, issuer=issuer)


def _check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= MAX_MINUTES:
        raise TokenError(f"--minutes must be between 1 and {MAX_MINUTES}")


async def officer_token(
    settings: Settings,
    config: SigningConfig,
    officer_id: str,
    *,
    minutes: int = DEFAULT_MINUTES,
    now: datetime | None = None,
) -> str:
    _check_minutes(minutes)
    officers, duty = dispatch_tables.officers, dispatch_tables.duty
    db = Database(settings)
    try:
        async with db.sessions() as session:
            row = (
                await session.execute(
                    select(officers.c.role, officers.c.unit).where(
                        officers.c.officer_id == officer_id
                    )
                )
            ).first()
            posts = {
                DutyPost(post)
                for post in (
                    await session.execute(
                        select(duty.c.post).where(duty.c.officer_id == officer_id)
                    )
                ).scalars()
                if post in set(DutyPost)
            }
    finally:
        await db.dispose()
    if row is None:
        raise TokenError(f"no officer {officer_id!r} in dispatch's directory")
    return issue_dev_token(
        config.secret,
        sub=officer_id,
        roles=token_roles(OfficerRole(row.role), posts),
        unit=row.unit,
        audience=config.audience,
        issuer=config.issuer,
        minutes=minutes,
        now=now,
    )


def ops_token(
    config: SigningConfig, *, minutes: int = DEFAULT_MINUTES, now: datetime | None = None
) -> str:
    _check_minutes(minutes)
    return issue_dev_token(
        config.secret,
        sub=OPS_SUBJECT,
        roles=[Role.OPS],
        unit=None,
        audience=config.audience,
        issuer=config.issuer,
        minutes=minutes,
        now=now,
    )
