"""`jiban wait`: blocks until every service's schema is at its Alembic head and every topic
exists, or says in one line what is still missing when the time is up. Kubernetes runs it as
each service's init container, so a pod starts only after the migration and topics Jobs did
their work (deploy/k8s/)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from jiban.failures import EXIT_UNAVAILABLE, CommandError, one_line
from shared.broker import admin_client
from shared.migrations import ALL_SERVICES, alembic_config, metadata_of
from shared.settings import Settings
from shared.topics import TopicNames, all_topics

# One round's look at the database and the broker: a server that does not answer is "not
# ready" for this round, not a hang.
ROUND_TIMEOUT_S = 10.0
# Topics named in the error line; the rest are counted.
NAMED = 3


@dataclass(frozen=True)
class Ready:
    schemas: int
    topics: int
    seconds: float


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return one_line(str(exc)) or type(exc).__name__


def _heads(service: str, settings: Settings) -> tuple[set[str], set[str]]:
    """The service's Alembic heads, and every revision its migrations know."""
    script = ScriptDirectory.from_config(alembic_config(service, settings))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


async def _version(connection: AsyncConnection, schema: str) -> set[str]:
    table = await connection.scalar(
        text("SELECT to_regclass(:name)"), {"name": f'"{schema}".alembic_version'}
    )
    if table is None:
        return set()
    rows = await connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
    return {str(row[0]) for row in rows}


async def schemas_behind(settings: Settings) -> list[str]:
    """One phrase per service whose schema is not at its head (a schema migrated by a newer
    release, at a revision this code does not know, counts as ready: rolling upgrades)."""
    engine = create_async_engine(settings.database_url)
    behind = []
    try:
        async with engine.connect() as connection:
            for service in ALL_SERVICES:
                schema = metadata_of(service).schema
                assert schema is not None
                heads, known = _heads(service, settings)
                current = await _version(connection, schema)
                if current == heads or current - known:
                    continue
                at = ", ".join(sorted(current)) or "none"
                behind.append(f"{service}'s schema at {at} (head {', '.join(sorted(heads))})")
    finally:
        await engine.dispose()
    return behind


async def topics_missing(settings: Settings) -> list[str]:
    names = TopicNames(settings.topic_prefix)
    admin = admin_client(settings, "jiban-wait")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return [t for t in (names.physical(t) for t in all_topics()) if t not in existing]


async def pending(settings: Settings) -> list[str]:
    """What is not ready yet, one phrase each; empty when the services may start."""
    problems: list[str] = []
    try:
        problems += await asyncio.wait_for(schemas_behind(settings), ROUND_TIMEOUT_S)
    except Exception as exc:
        problems.append(f"PostgreSQL: {_reason(exc)}")
    try:
        missing = await asyncio.wait_for(topics_missing(settings), ROUND_TIMEOUT_S)
    except Exception as exc:
        problems.append(f"the Kafka broker: {_reason(exc)}")
    else:
        if missing:
            named = ", ".join(missing[:NAMED])
            more = f" and {len(missing) - NAMED} more" if len(missing) > NAMED else ""
            problems.append(f"{len(missing)} topics missing ({named}{more})")
    return problems


async def wait_ready(settings: Settings, timeout_s: float, poll_s: float = 2.0) -> Ready:
    """Looks again every `poll_s` until nothing is pending; CommandError (exit 3, worth a
    retry) naming what still is once `timeout_s` have passed."""
    began = time.monotonic()
    while True:
        problems = await pending(settings)
        elapsed = time.monotonic() - began
        if not problems:
            return Ready(len(ALL_SERVICES), len(all_topics()), elapsed)
        if elapsed >= timeout_s:
            raise CommandError(
                f"not ready after {elapsed:.0f} s: "
                + "; ".join(problems)
                + " (run `jiban migrate` and `jiban topics create`)",
                EXIT_UNAVAILABLE,
            )
        # The last look comes when the time is up, not a poll early.
        await asyncio.sleep(min(poll_s, timeout_s - elapsed))
