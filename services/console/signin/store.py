"""The console's sessions table: one row per sign-in, found by the hash of the cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.console.signin.service import Person, session_hash
from services.console.tables import sessions
from shared.identity import Role


async def save(session: AsyncSession, cookie_value: str, person: Person) -> None:
    await session.execute(
        insert(sessions).values(
            session_hash=session_hash(cookie_value),
            subject=person.subject,
            name=person.name,
            roles=sorted(person.roles),
            unit=person.unit,
            token=person.token,
            csrf_token=person.csrf_token,
            expires_at=person.expires_at,
        )
    )


async def find(session: AsyncSession, cookie_value: str, now: datetime) -> Person | None:
    row = (
        await session.execute(
            select(sessions).where(
                sessions.c.session_hash == session_hash(cookie_value),
                sessions.c.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    return Person(
        subject=row.subject,
        name=row.name,
        roles=frozenset(Role(r) for r in row.roles),
        unit=row.unit,
        token=row.token,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


async def forget(session: AsyncSession, cookie_value: str, now: datetime) -> None:
    """Ends this session, and clears away any that ran out."""
    await session.execute(
        delete(sessions).where(
            (sessions.c.session_hash == session_hash(cookie_value)) | (sessions.c.expires_at <= now)
        )
    )
