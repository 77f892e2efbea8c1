"""Channel keys and the signatures already accepted: the queries on `channel_keys` and
`seen_signatures`. Secrets go in and come out through the cipher (keys.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channel_keys.keys import (
    DEV_KEY_PREFIX,
    ChannelKey,
    KeyInfo,
    Scope,
    SecretCipher,
)
from services.intake.tables import AnyRow, channel_keys, insert_if_new, seen_signatures
from shared.vocabulary import Channel


def _scopes(values: Iterable[str]) -> frozenset[Scope]:
    return frozenset(Scope(v) for v in values)


# Everything about a key but its secret.
_INFO_COLUMNS = (
    channel_keys.c.key_id,
    channel_keys.c.channel,
    channel_keys.c.scopes,
    channel_keys.c.created_at,
    channel_keys.c.revoked_at,
)


def _info(row: AnyRow) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        channel=Channel(row.channel),
        scopes=_scopes(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _key_values(
    cipher: SecretCipher,
    key_id: str,
    channel: Channel,
    scopes: Iterable[Scope],
    secret: SecretStr | str,
) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "channel": Channel(channel).value,
        "scopes": sorted(Scope(s).value for s in scopes),
        "secret_encrypted": cipher.encrypt(secret),
    }


async def create_key(
    session: AsyncSession,
    cipher: SecretCipher,
    *,
    key_id: str,
    channel: Channel,
    scopes: Iterable[Scope],
    secret: SecretStr | str,
    now: datetime,
) -> bool:
    """Stores a new key, its secret encrypted; False if the id is taken."""
    values = _key_values(cipher, key_id, channel, scopes, secret)
    return await insert_if_new(session, channel_keys, **values, created_at=now)


async def put_key(
    session: AsyncSession, cipher: SecretCipher, key: ChannelKey, *, now: datetime
) -> None:
    """Creates the key or resets it to exactly this (secret, channel, scopes, not revoked)."""
    values = _key_values(cipher, key.key_id, key.channel, key.scopes, key.secret)
    statement = insert(channel_keys).values(**values, created_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["key_id"],
            set_={
                "channel": statement.excluded.channel,
                "scopes": statement.excluded.scopes,
                "secret_encrypted": statement.excluded.secret_encrypted,
                "revoked_at": None,
            },
        )
    )


async def get_key(session: AsyncSession, cipher: SecretCipher, key_id: str) -> ChannelKey | None:
    """The key with its secret decrypted (revoked keys too: the caller tells them apart)."""
    row = (
        await session.execute(select(channel_keys).where(channel_keys.c.key_id == key_id))
    ).first()
    if row is None:
        return None
    return ChannelKey(
        key_id=row.key_id,
        channel=Channel(row.channel),
        scopes=_scopes(row.scopes),
        secret=cipher.decrypt(row.secret_encrypted),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def list_keys(session: AsyncSession, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key, oldest first, without secrets (nothing is decrypted)."""
    query = select(*_INFO_COLUMNS).order_by(channel_keys.c.created_at, channel_keys.c.key_id)
    if not include_revoked:
        query = query.where(channel_keys.c.revoked_at.is_(None))
    return [_info(row) for row in (await session.execute(query)).all()]


async def revoke_key(session: AsyncSession, key_id: str, *, now: datetime) -> KeyInfo | None:
    """Revokes the key (a second revoke keeps the first time); None if there is no such key."""
    await session.execute(
        update(channel_keys)
        .where(channel_keys.c.key_id == key_id, channel_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = (
        await session.execute(select(*_INFO_COLUMNS).where(channel_keys.c.key_id == key_id))
    ).first()
    return None if row is None else _info(row)


async def active_dev_key_ids(session: AsyncSession) -> list[str]:
    """Development keys (`dev-*`) that are not revoked."""
    query = (
        select(channel_keys.c.key_id)
        .where(
            channel_keys.c.key_id.startswith(DEV_KEY_PREFIX, autoescape=True),
            channel_keys.c.revoked_at.is_(None),
        )
        .order_by(channel_keys.c.key_id)
    )
    return list((await session.scalars(query)).all())


_RECORD = (
    insert(seen_signatures)
    .on_conflict_do_nothing(index_elements=[seen_signatures.c.signature])
    .returning(seen_signatures.c.signature)
)


async def record_signature(
    session: AsyncSession, key_id: str, signature: str, expires_at: datetime
) -> bool:
    """Records an accepted signature; False if it was already recorded (a replay). Across
    replicas the primary key decides (as in `insert_if_new`)."""
    result = await session.execute(
        _RECORD, {"signature": signature, "key_id": key_id, "expires_at": expires_at}
    )
    return result.first() is not None


async def prune_signatures(
    session: AsyncSession, *, before: datetime, limit: int | None = None
) -> int:
    """Forgets signatures that expired before `before` (at most `limit` of them, so one round
    never holds a long transaction); how many were dropped."""
    expired = seen_signatures.c.expires_at < before
    if limit is not None:
        oldest = select(seen_signatures.c.signature).where(expired).limit(limit)
        expired = seen_signatures.c.signature.in_(oldest.scalar_subquery())
    dropped = delete(seen_signatures).where(expired).returning(seen_signatures.c.signature)
    return len((await session.execute(dropped)).all())


async def count_signatures(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(seen_signatures)) or 0)
