"""Intake's tables (schema `intake`) and the queries on them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import SecretStr
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.keys import DEV_KEY_PREFIX, ChannelKey, KeyInfo, Scope, SecretCipher
from services.intake.submission import AppealSubmission
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import Channel

SCHEMA = "intake"
metadata = service_metadata(SCHEMA)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("tracking_code", String(32), nullable=False, unique=True),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("submission", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_appeals_channel_external_id"),
    # Who raised it (for finding repeats) and whether tracking has closed it (from
    # appeals.lifecycle; intake never reads tracking's tables).
    Column("phone", String(32), nullable=True, index=True),
    Column("enterprise_credit_code", String(18), nullable=True, index=True),
    Column("classification", JSONB, nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)
# Every submission intake answered, by (channel, external_id): a retry gets the same answer, a
# receipt can be looked up, and each channel that raised an appeal is known.
submissions = Table(
    "submissions",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("outcome", String(16), nullable=False),  # received | merged | visit_logged
    Column("appeal_id", PgUUID(as_uuid=True), nullable=True, index=True),
    Column("tracking_code", String(32), nullable=True),
    Column("score", Float, nullable=True),
    Column("reason", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Who may push appeals in: one row per adapter key; the secret is Fernet-encrypted (keys.py).
channel_keys = Table(
    "channel_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("scopes", ARRAY(String(32)), nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
# Signatures already accepted, shared by every intake replica so a replay is caught whichever
# replica it reaches; a row can go once its signature would be refused as stale anyway.
seen_signatures = Table(
    "seen_signatures",
    metadata,
    Column("signature", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_seen_signatures_expires_at", "expires_at"),
)


async def insert_appeal(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    tracking_code: str,
    submission: AppealSubmission,
    classification: dict[str, Any],
    received_at: datetime,
) -> None:
    appellant = submission.appellant
    await session.execute(
        insert(appeals).values(
            appeal_id=appeal_id,
            tracking_code=tracking_code,
            channel=submission.channel,
            external_id=submission.external_id,
            submission=submission.model_dump(mode="json"),
            received_at=received_at,
            phone=appellant.phone,
            enterprise_credit_code=appellant.enterprise_credit_code,
            classification=classification,
        )
    )


async def claim_submission(
    session: AsyncSession, channel: str, external_id: str, received_at: datetime
) -> bool:
    """Takes (channel, external_id) for this transaction; False if it was answered before (or a
    concurrent transaction answered it: the insert waits for that one to finish)."""
    result = await session.execute(
        insert(submissions)
        .values(channel=channel, external_id=external_id, outcome="", received_at=received_at)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(submissions.c.channel)
    )
    return result.first() is not None


async def settle_submission(
    session: AsyncSession,
    channel: str,
    external_id: str,
    *,
    outcome: str,
    appeal_id: UUID | None = None,
    tracking_code: str | None = None,
    score: float | None = None,
    reason: str | None = None,
) -> None:
    await session.execute(
        update(submissions)
        .where(submissions.c.channel == channel, submissions.c.external_id == external_id)
        .values(
            outcome=outcome,
            appeal_id=appeal_id,
            tracking_code=tracking_code,
            score=score,
            reason=reason,
        )
    )


async def find_submission(session: AsyncSession, channel: str, external_id: str) -> Any | None:
    return (
        await session.execute(
            select(submissions).where(
                submissions.c.channel == channel, submissions.c.external_id == external_id
            )
        )
    ).first()


async def open_appeals_of(
    session: AsyncSession, *, phone: str | None, credit_code: str | None, since: datetime
) -> list[Any]:
    """The appellant's appeals received since `since` and not known to be closed."""
    who = []
    if phone:
        who.append(appeals.c.phone == phone)
    if credit_code:
        who.append(appeals.c.enterprise_credit_code == credit_code)
    if not who:
        return []
    return list(
        (
            await session.execute(
                select(
                    appeals.c.appeal_id,
                    appeals.c.tracking_code,
                    appeals.c.phone,
                    appeals.c.enterprise_credit_code,
                    appeals.c.submission["content"].astext.label("content"),
                    appeals.c.received_at,
                ).where(or_(*who), appeals.c.received_at >= since, appeals.c.closed_at.is_(None))
            )
        ).all()
    )


async def find_appeal(
    session: AsyncSession, *, appeal_id: UUID | None = None, tracking_code: str | None = None
) -> Any | None:
    query = select(appeals.c.appeal_id, appeals.c.tracking_code, appeals.c.channel)
    if appeal_id is not None:
        query = query.where(appeals.c.appeal_id == appeal_id)
    else:
        query = query.where(appeals.c.tracking_code == tracking_code)
    return (await session.execute(query)).first()


async def mark_closed(session: AsyncSession, appeal_id: UUID, closed_at: datetime) -> None:
    await session.execute(
        update(appeals)
        .where(appeals.c.appeal_id == appeal_id, appeals.c.closed_at.is_(None))
        .values(closed_at=closed_at)
    )


# --- channel keys ----------------------------------------------------------------------------


def _scopes(values: Iterable[str]) -> frozenset[Scope]:
    return frozenset(Scope(v) for v in values)


def _info(row: Any) -> KeyInfo:
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
    result = await session.execute(
        insert(channel_keys)
        .values(**_key_values(cipher, key_id, channel, scopes, secret), created_at=now)
        .on_conflict_do_nothing(index_elements=["key_id"])
        .returning(channel_keys.c.key_id)
    )
    return result.first() is not None


async def put_key(
    session: AsyncSession,
    cipher: SecretCipher,
    *,
    key_id: str,
    channel: Channel,
    scopes: Iterable[Scope],
    secret: SecretStr | str,
    now: datetime,
) -> None:
    """Creates the key or resets it to exactly this (secret, channel, scopes, not revoked)."""
    values = _key_values(cipher, key_id, channel, scopes, secret)
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
    query = select(
        channel_keys.c.key_id,
        channel_keys.c.channel,
        channel_keys.c.scopes,
        channel_keys.c.created_at,
        channel_keys.c.revoked_at,
    ).order_by(channel_keys.c.created_at, channel_keys.c.key_id)
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
        await session.execute(
            select(
                channel_keys.c.key_id,
                channel_keys.c.channel,
                channel_keys.c.scopes,
                channel_keys.c.created_at,
                channel_keys.c.revoked_at,
            ).where(channel_keys.c.key_id == key_id)
        )
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


async def record_signature(
    session: AsyncSession, key_id: str, signature: str, expires_at: datetime
) -> bool:
    """Records an accepted signature; False if it was already recorded (a replay). Across
    replicas the primary key decides: of two concurrent inserts, one waits and then conflicts."""
    result = await session.execute(
        insert(seen_signatures)
        .values(signature=signature, key_id=key_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["signature"])
        .returning(seen_signatures.c.signature)
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
    result = await session.execute(delete(seen_signatures).where(expired))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count_signatures(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(seen_signatures)) or 0)
