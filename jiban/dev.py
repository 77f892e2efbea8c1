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


def start_services(env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    children = {}
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


@contextlib.contextmanager
def infrastructure(settings: Settings) -> Iterator[tuple[str, str]]:
    """Yields (database_url, kafka_bootstrap_servers), embedded where none were configured."""
    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        STATE_DIR.mkdir(exist_ok=True)
        if not database_url:
            pg = stack.enter_context(
                LocalPostgres(EMBEDDED_PG_PORT, log_to=STATE_DIR / "postgres.log").start()
            )
            database_url = asyncio.run(create_database(pg.url, "jiban"))
            say(f"embedded PostgreSQL on 127.0.0.1:{pg.port} (fresh; nothing kept after exit)")
        else:
            say("using PostgreSQL from DATABASE_URL")
        if not kafka:
            broker = stack.enter_context(
                LocalKafka(EMBEDDED_KAFKA_PORT, log_to=STATE_DIR / "kafka.log").start()
            )
            kafka = broker.bootstrap_servers
            say(f"embedded Kafka-protocol broker (Tansu) on {kafka} (in memory; fresh)")
        else:
            say(f"using Kafka at {kafka}")
        yield database_url, kafka


def run() -> int:
    base = Settings()
    with infrastructure(base) as (database_url, kafka):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "JIBAN_DEV_MODE": "1",
        }
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            # Tansu answers a group join after half the session timeout: start in 1.5 s, not 5.
            env.setdefault("JIBAN_CONSUMER_SESSION_TIMEOUT_MS", "3000")
        settings = Settings(database_url=database_url, kafka_bootstrap_servers=kafka, dev_mode=True)
        from shared.migrations import upgrade

        upgrade(settings)
        say("migrations applied")
        asyncio.run(prepare(settings))

        children = start_services(env)
        interrupted = False

        def on_signal(_signum: int, _frame: object) -> None:
            nonlocal interrupted
            interrupted = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            urls = {
                name: f"http://{settings.http_host}:{settings.port_for(name)}" for name in SERVICES
            }
            wait_ready(urls, children)
            say("all four services are ready:")
            for name, url in urls.items():
                say(f"  {name:<9} {url}/docs")
            say("Ctrl-C stops everything.")
            while not interrupted:
                for name, child in children.items():
                    if child.poll() is not None:
                        say(f"{name} exited with {child.returncode}; stopping everything")
                        return 1
                time.sleep(0.5)
            say("stopping…")
            return 0
        finally:
            stop_services(children)
            say("services stopped")
