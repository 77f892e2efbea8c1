"""`make run`: the whole system on one machine, in the foreground, Ctrl-C to stop.

Without DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS it starts an embedded PostgreSQL and an embedded
Kafka-protocol broker, both fresh (the broker keeps nothing across restarts, so neither does the
database: a half-remembered system would be worse). With them, it uses those servers as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

import httpx

from jiban.local_infra import LocalKafka, LocalPostgres
from shared.migrations import SERVICES
from shared.settings import Settings

STATE_DIR = Path(".jiban")
EMBEDDED_PG_PORT = 55432
EMBEDDED_KAFKA_PORT = 9092


def say(message: str) -> None:
    print(f"[jiban] {message}", flush=True)


async def create_database(server_url: str, name: str) -> str:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def prepare(settings: Settings) -> None:
    """Topics, then the demo directory (dispatch's outbox publishes it once dispatch runs)."""
    from jiban.setup import load_demo_directory
    from shared.broker import ensure_topics

    created = await ensure_topics(settings)
    say(f"topics ready ({len(created)} created)")
    report = await load_demo_directory(settings)
    say(
        f"demo directory loaded: {report.officers_changed} officers, "
        f"{report.enterprises_changed} enterprises, {report.departments_changed} departments, "
        f"{report.duty_changed} duty posts changed"
    )


def wait_ready(urls: dict[str, str], children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 90
    pending = dict(urls)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if children[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {children[name].returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    del pending[name]
        time.sleep(0.3)
    if pending:
        raise TimeoutError(f"not ready after 90 s: {', '.join(pending)}")


def start_services(
    env: dict[str, str], children: dict[str, subprocess.Popen[bytes]] | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Starts the four services into `children` (pass the dict the caller's `finally` stops, so
    that an interruption half-way leaves none of the started ones behind)."""
    children = {} if children is None else children
    for name in SERVICES:
        # Own session: Ctrl-C reaches us only, and we stop the services in order.
        children[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=env, start_new_session=True
        )
    return children


def stop_services(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in 30 s; killing it")
            child.kill()
            child.wait()


def external_servers(settings: Settings) -> tuple[str | None, str | None]:
    """The PostgreSQL and Kafka the environment names (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS),
    None for each one to start embedded. Settings' defaults do not count: only what was set."""
    given = settings.model_fields_set
    database_url = settings.database_url if "database_url" in given else ""
    kafka = settings.kafka_bootstrap_servers if "kafka_bootstrap_servers" in given else ""
    return database_url or None, kafka or None


@contextlib.contextmanager
def infrastructure(settings: Settings) -> Iterator[tuple[str, str]]:
    """Yields (database_url, kafka_bootstrap_servers), embedded where none were configured."""
    with contextlib.ExitStack() as stack:
        database_url, kafka = external_servers(settings)
        STATE_DIR.mkdir(exist_ok=True)
        if not database_url:
            # In the stack before it starts: interrupted while starting, it is stopped too.
            pg = stack.enter_context(
                LocalPostgres(EMBEDDED_PG_PORT, log_to=STATE_DIR / "postgres.log")
            )
            pg.start()
            database_url = asyncio.run(create_database(pg.url, "jiban"))
            say(f"embedded PostgreSQL on 127.0.0.1:{pg.port} (fresh; nothing kept after exit)")
        else:
            say("using PostgreSQL from DATABASE_URL")
        if not kafka:
            broker = stack.enter_context(
                LocalKafka(EMBEDDED_KAFKA_PORT, log_to=STATE_DIR / "kafka.log")
            )
            broker.start()
            kafka = broker.bootstrap_servers
            say(f"embedded Kafka-protocol broker (Tansu) on {kafka} (in memory; fresh)")
        else:
            say(f"using Kafka at {kafka}")
        yield database_url, kafka


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM raise KeyboardInterrupt wherever `make run` is (starting the
    embedded servers, migrating, waiting for the services to be ready), so that the `finally`
    blocks and context managers stop whatever was started so far. Only the first signal does:
    once stopping has begun, more are ignored rather than cutting the clean-up short."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[int, object] = {}

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def run() -> int:
    with Interrupts() as interrupts:
        try:
            return _run(interrupts)
        except KeyboardInterrupt:
            say("interrupted while starting; everything started so far is stopped")
            return 130


def _run(interrupts: Interrupts) -> int:
    base = Settings()
    with infrastructure(base) as (database_url, kafka):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "JIBAN_DEV_MODE": "1",
        }
        embedded_kafka = external_servers(base)[1] is None
        if embedded_kafka and "consumer_session_timeout_ms" not in base.model_fields_set:
            # Tansu answers a group join after half the session timeout: start in 1.5 s, not 5.
            env["JIBAN_CONSUMER_SESSION_TIMEOUT_MS"] = "3000"
        settings = Settings(database_url=database_url, kafka_bootstrap_servers=kafka, dev_mode=True)
        from shared.migrations import upgrade

        upgrade(settings)
        say("migrations applied")
        asyncio.run(prepare(settings))

        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            start_services(env, children)
            urls = {
                name: f"http://{settings.http_host}:{settings.port_for(name)}" for name in SERVICES
            }
            wait_ready(urls, children)
            say("all four services are ready:")
            for name, url in urls.items():
                say(f"  {name:<9} {url}/docs")
            say("Ctrl-C stops everything.")
            try:
                while True:
                    for name, child in children.items():
                        if child.poll() is not None:
                            say(f"{name} exited with {child.returncode}; stopping everything")
                            return 1
                    time.sleep(0.5)
            except KeyboardInterrupt:
                say("stopping…")
                return 0
        finally:
            interrupts.stopping = True
            stop_services(children)
            say("services stopped")
