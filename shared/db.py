"""Database access: one async engine per service, one transaction per unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, Table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.settings import Settings

# Stable constraint names, so Alembic migrations can name what they create and later drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Each service owns one Postgres schema, named after the service; no one else reads it."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class Database:
    def __init__(self, settings: Settings) -> None:
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            # No pre-ping (a round trip per transaction): a dropped connection surfaces as a
            # transient error, which callers retry or answer with 503.
            pool_timeout=5,
            # Fail fast when Postgres is unreachable: callers retry or answer 503.
            connect_args={"timeout": 5, "command_timeout": 30},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[AsyncSession]:
        """Everything done with the session commits together, or nothing does. Changes go
        through a unit of work (shared/unit_of_work.py), which holds one of these. `snapshot`:
        every statement sees the same snapshot (REPEATABLE READ)."""
        async with self.sessions.begin() as session:
            if snapshot:
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits by itself (no BEGIN, no COMMIT): for a lone
        write that nothing else must commit with. Changes that publish events go through a unit
        of work instead."""
        async with self.sessions() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def upsert_if_newer(
    session: AsyncSession,
    table: Table,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    stamp: str = "updated_at",
) -> None:
    """Inserts the row, or updates it unless what it holds is newer (by `stamp`): a copy kept
    from another service's events, where an older change heard late must not undo a newer one."""
    statement = insert(table).values(**key, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=list(key),
            set_={column: statement.excluded[column] for column in values},
            where=table.c[stamp] <= statement.excluded[stamp],
        )
    )
