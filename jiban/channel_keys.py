"""`jiban channel-keys create|list|revoke`: the keys channel adapters sign their requests with.

A secret is shown once, when its key is created; intake keeps it encrypted and never shows it
again (`list` does not decrypt anything). Revoking takes effect at once on every intake replica.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import SecretStr

from jiban.failures import EXIT_FAILED, EXIT_USAGE, CommandError
from services.intake import tables
from services.intake.channel_keys import store
from services.intake.channel_keys.keys import (
    ChannelKey,
    KeyInfo,
    Scope,
    SecretCipher,
    is_dev_key_id,
    new_key_id,
    new_secret,
    valid_key_id,
)
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Channel


class ChannelKeyError(CommandError):
    """A request the operator can fix (bad id, id taken, unknown channel…): exit 2."""

    exit_code = EXIT_USAGE


class NoSuchKey(ChannelKeyError):
    """Nothing to revoke: the command did not do what was asked (exit 1)."""

    exit_code = EXIT_FAILED


def _units(db: Database) -> UnitsOfWork:
    """Intake's units of work, for the keys the CLI changes (what it reads needs none)."""
    return UnitsOfWork.of(db, tables.metadata, producer="intake")


def parse_channel(text: str) -> Channel:
    try:
        return Channel(text.strip())
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise ChannelKeyError(f"unknown channel {text!r} (known: {known})") from None


async def create_key(
    settings: Settings,
    cipher: SecretCipher,
    *,
    channel: Channel,
    scopes: Iterable[Scope],
    key_id: str | None = None,
) -> ChannelKey:
    scopes = frozenset(scopes)
    if not scopes:
        raise ChannelKeyError("a key needs at least one scope")
    if key_id is not None:
        if not valid_key_id(key_id):
            raise ChannelKeyError(
                f"key id {key_id!r}: 1-64 letters, digits, '_', '.', '-', starting with a "
                "letter or digit"
            )
        if is_dev_key_id(key_id):
            raise ChannelKeyError("ids starting with 'dev-' are reserved for development keys")
    chosen = key_id or new_key_id(channel)
    secret = SecretStr(new_secret())
    db = Database(settings)
    try:
        async with _units(db).begin() as uow:
            created = await store.create_key(
                uow.session,
                cipher,
                key_id=chosen,
                channel=channel,
                scopes=scopes,
                secret=secret,
                now=datetime.now(UTC),
            )
    finally:
        await db.dispose()
    if not created:
        raise ChannelKeyError(f"key id {chosen!r} is taken")
    return ChannelKey(key_id=chosen, channel=channel, scopes=scopes, secret=secret)


async def list_keys(settings: Settings) -> list[KeyInfo]:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            return await store.list_keys(session)
    finally:
        await db.dispose()


async def revoke_key(settings: Settings, key_id: str) -> KeyInfo:
    db = Database(settings)
    try:
        async with _units(db).begin() as uow:
            info = await store.revoke_key(uow.session, key_id, now=datetime.now(UTC))
    finally:
        await db.dispose()
    if info is None:
        raise NoSuchKey(f"no key {key_id!r}")
    return info


def scopes_text(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))


def format_created(key: ChannelKey) -> str:
    return "\n".join(
        [
            f"id       {key.key_id}",
            f"secret   {key.secret.get_secret_value()}",
            f"channel  {key.channel.value}",
            f"scopes   {scopes_text(key.scopes)}",
            "Keep the secret now: it is shown only this once (intake stores it encrypted).",
        ]
    )


def format_list(keys: list[KeyInfo]) -> str:
    rows = [("ID", "CHANNEL", "SCOPES", "CREATED (UTC)", "STATUS")]
    for info in keys:
        status = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        rows.append(
            (
                info.key_id,
                info.channel.value,
                scopes_text(info.scopes),
                f"{info.created_at:%Y-%m-%d %H:%M}",
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"{len(keys)} keys")
    return "\n".join(line.rstrip() for line in lines)
