"""The status page's guess counts (tables.status_guesses), shared by every replica."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.public.guesses import Scope
from services.tracking.tables import status_guesses

KEY_CHARS = 100


async def count(
    session: AsyncSession, keys: dict[Scope, str], window_start: datetime
) -> dict[Scope, int]:
    """Counts one more lookup against each key in the window; the counts now."""
    rows = [
        {"scope": scope, "key": key[:KEY_CHARS], "window_start": window_start, "failures": 1}
        for scope, key in keys.items()
    ]
    statement = insert(status_guesses).values(rows)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=["scope", "key", "window_start"],
            set_={"failures": status_guesses.c.failures + 1},
        ).returning(status_guesses.c.scope, status_guesses.c.failures)
    )
    return {row.scope: int(row.failures) for row in result}


async def give_back(session: AsyncSession, keys: dict[Scope, str], window_start: datetime) -> None:
    """A right guess uses no allowance."""
    for scope, key in keys.items():
        await session.execute(
            update(status_guesses)
            .where(
                status_guesses.c.scope == scope,
                status_guesses.c.key == key[:KEY_CHARS],
                status_guesses.c.window_start == window_start,
                status_guesses.c.failures > 0,
            )
            .values(failures=status_guesses.c.failures - 1)
        )


async def forget_before(session: AsyncSession, before: datetime, window: timedelta) -> None:
    """Windows that ended are of no more use."""
    await session.execute(
        delete(status_guesses).where(status_guesses.c.window_start < before - window)
    )
