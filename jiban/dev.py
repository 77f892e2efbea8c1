"""`make run`: the whole system on one machine, in the foreground, Ctrl-C to stop.

Without DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS it starts an embedded PostgreSQL and an embedded
Kafka-protocol broker, both fresh (the broker keeps nothing across restarts, so neither does the
database: a half-remembered system would be worse). With them, it uses those servers as they are.
Once they are migrated and loaded, it says where they are in `.jiban/dev.json` (jiban/servers.py)
for the other `jiban` commands, until it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

import httpx

from jiban.failures import EXIT_UNAVAILABLE, CommandError, Server, explain
from jiban.local_infra import LocalKafka, LocalPostgres, LocalServerError, port_free
from jiban.servers import FROM_ENVIRONMENT, STATE_DIR, DevState, Servers, configured, published
from shared.migrations import ALL_SERVICES, CONSOLE
from shared.settings import Settings

EMBEDDED_PG_PORT = 55432
EMBEDDED_KAFKA_PORT = 9092
READY_TIMEOUT_S = 90
# Tansu answers a group join after half the session timeout: start in 1.5 s, not 5.
EMBEDDED_BROKER_SESSION_TIMEOUT_MS = 3000


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


def check_ports(settings: Settings) -> None:
    """Each service's port is free: a second `make run` says so before starting anything."""
    for name in ALL_SERVICES:
        port = settings.port_for(name)
        if not port_free(port, settings.http_host):
            raise CommandError(
                f"{name}'s port {settings.http_host}:{port} is in use (another `make run`?): "
                f"stop what holds it, or set JIBAN_{name.upper()}_PORT",
                EXIT_UNAVAILABLE,
            )


def wait_ready(urls: dict[str, str], children: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = dict(urls)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if children[name].poll() is not None:
                raise CommandError(
                    f"{name} exited with {children[name].returncode} before it was ready "
                    "(its log is above); everything else is stopped"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    del pending[name]
        time.sleep(0.3)
    if pending:
        raise CommandError(
            f"not ready after {READY_TIMEOUT_S} s: {', '.join(pending)} (their logs are above)"
        )


def start_services(
    env: dict[str, str], children: dict[str, subprocess.Popen[bytes]] | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Starts the five services into `children` (pass the dict the caller's `finally` stops, so
    that an interruption half-way leaves none of the started ones behind)."""
    children = {} if children is None else children
    for name in ALL_SERVICES:
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
    return configured(settings, "database_url"), configured(settings, "kafka_bootstrap_servers")


@contextlib.contextmanager
def infrastructure(settings: Settings) -> Iterator[tuple[str, str]]:
    """Yields (database_url, kafka_bootstrap_servers), embedded where none were configured."""
    with contextlib.ExitStack() as stack:
        database_url, kafka = external_servers(settings)
        STATE_DIR.mkdir(exist_ok=True)
        try:
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
        except LocalServerError as exc:
            raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc
        yield database_url, kafka


# What signal.getsignal answers: a function, SIG_DFL / SIG_IGN, or None (not set from Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM raise KeyboardInterrupt wherever `make run` is (starting the
    embedded servers, migrating, waiting for the services to be ready), so that the `finally`
    blocks and context managers stop whatever was started so far. Only the first signal does:
    once stopping has begun, more are ignored rather than cutting the clean-up short."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[signal.Signals, SignalHandler] = {}

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
            # None: a handler not installed from Python; the default is what stands for it.
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def run() -> int:
    with Interrupts() as interrupts:
        try:
            return _run(interrupts)
        except KeyboardInterrupt:
            say("interrupted while starting; everything started so far is stopped")
            return 130


def _run(interrupts: Interrupts) -> int:
    base = Settings()
    check_ports(base)
    with infrastructure(base) as (database_url, kafka):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "JIBAN_DEV_MODE": "1",
        }
        external_database, external_kafka = external_servers(base)
        session_timeout_ms: int | None = None
        if external_kafka is None and not configured(base, "consumer_session_timeout_ms"):
            session_timeout_ms = EMBEDDED_BROKER_SESSION_TIMEOUT_MS
            env["JIBAN_CONSUMER_SESSION_TIMEOUT_MS"] = str(session_timeout_ms)
        settings = Settings(database_url=database_url, kafka_bootstrap_servers=kafka, dev_mode=True)
        servers = Servers(
            settings,
            database_origin="embedded"
            if external_database is None
            else FROM_ENVIRONMENT.format(variable="DATABASE_URL"),
            broker_origin="embedded"
            if external_kafka is None
            else FROM_ENVIRONMENT.format(variable="KAFKA_BOOTSTRAP_SERVERS"),
        )
        from shared.migrations import upgrade

        try:
            upgrade(settings)
            say("migrations applied")
            asyncio.run(prepare(settings))
        except Exception as exc:
            raise explain(exc, servers, frozenset(Server)) from exc

        urls = {
            name: f"http://{settings.http_host}:{settings.port_for(name)}" for name in ALL_SERVICES
        }
        # The console reaches the others where this run serves them.
        for name in ("dispatch", "tracking", "notify"):
            env[f"JIBAN_CONSOLE_{name.upper()}_URL"] = urls[name]
        state = DevState(
            pid=os.getpid(),
            database_url=settings.database_url,
            kafka_bootstrap_servers=kafka,
            consumer_session_timeout_ms=session_timeout_ms,
            services=urls,
        )
        children: dict[str, subprocess.Popen[bytes]] = {}
        with published(state):
            try:
                start_services(env, children)
                wait_ready(urls, children)
                say("all five services are ready:")
                for name, url in urls.items():
                    say(f"  {name:<9} {url}/" if name == CONSOLE else f"  {name:<9} {url}/docs")
                say("Ctrl-C stops everything.")
                try:
                    while True:
                        for name, child in children.items():
                            if child.poll() is not None:
                                raise CommandError(
                                    f"{name} exited with {child.returncode} (its log is above); "
                                    "everything else is stopped"
                                )
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    say("stopping…")
                    return 0
            finally:
                interrupts.stopping = True
                stop_services(children)
                say("services stopped")
