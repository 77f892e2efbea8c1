"""`python -m jiban.bench.console` (`make bench-console`): the server time of the console's two
heaviest pages — an officer's queue with 1,000 open appeals and a unit board over 10,000 — against
the 300 ms budget. Prints figures; asserts nothing.

The console runs in this process (its real app: sessions in Postgres, templates, catalogues) and
is asked through ASGI, twice over:
- `console alone`: tracking and dispatch answer from memory, with bodies made by their own
  response models in pages of the sizes they serve: the console's own work per page (reading the
  pages of JSON, shaping, rendering);
- `with tracking`: tracking's real app (in this process too) answers from its tables in Postgres,
  holding the same 10,000 open appeals (written straight into its tables for the bench: putting
  them through the pipeline would take a quarter of an hour): the page as a person waits for it,
  but for the network hops.
Dispatch (the officers, a few dozen rows) answers from memory in both."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from jiban.dev import create_database, infrastructure
from jiban.servers import STATE_DIR
from services.console.app import build
from services.console.backend import Backend
from services.console.signin import store as sessions
from services.console.signin.service import Person, new_secret
from services.dispatch.directory.api import OfficerOut
from services.tracking.app import build as build_tracking
from services.tracking.desk.api import QueueItem
from services.tracking.search.api import SearchCounts, SearchItem
from shared.broker import ensure_topics
from shared.identity import DEV_JWT_SECRET, Role, issue_dev_token
from shared.migrations import CONSOLE, upgrade
from shared.settings import Settings
from shared.vocabulary import AppealStatus, Category, Channel

BUDGET_MS = 300.0
QUEUE_APPEALS = 1_000
BOARD_APPEALS = 10_000
UNIT = "住建局"
OFFICERS = 40
SESSION_COOKIE = "jiban_session"
QUEUE_OFFICER = "bench-officer-000"
TRACKING = "tracking"
WARM_UP = 3
# (figure, path, who asks, open appeals behind it)
PAGES: tuple[tuple[str, str, Role, int], ...] = (
    ("queue", "/queue", Role.OFFICER, QUEUE_APPEALS),
    ("board", "/board", Role.SUPERVISOR, BOARD_APPEALS),
)


def _officers() -> list[dict[str, Any]]:
    return [
        OfficerOut.model_validate(
            {
                "officer_id": f"bench-officer-{i:03d}",
                "name": f"测试干部{i:03d}",
                "role": "department_officer",
                "unit": UNIT,
                "on_duty": i % 7 != 0,
                "leave": [],
                "on_leave_today": i % 11 == 0,
                "capacity": 300,
                "open_assignments": BOARD_APPEALS // OFFICERS,
                "categories": [],
                "communities": [],
                "supervisor_id": None,
                "paired_officer_id": None,
                "assistant_officer_id": None,
                "department_id": None,
                "chain": None,
                "returns_accepted": 0,
                "returns_rejected": 0,
            }
        ).model_dump(mode="json")
        for i in range(OFFICERS)
    ]


def _appeals(n: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Varied open appeals, nearest deadline first (as the services order them)."""
    categories, channels = list(Category), list(Channel)
    statuses = (AppealStatus.ASSIGNED, AppealStatus.ACCEPTED, AppealStatus.IN_PROGRESS)
    for i in range(n):
        due = now + timedelta(hours=i * 0.5 - 48)
        yield {
            "appeal_id": str(uuid.UUID(int=i + 1)),
            "tracking_code": f"DW-20261203-{i:06d}-1",
            "status": statuses[i % len(statuses)].value,
            "channel": channels[i % len(channels)].value,
            "appeal_type": "complaint",
            "category": categories[i % len(categories)].value,
            "urgency": "normal",
            "summary": f"大旺大道第{i}号路灯不亮，夜间出行不便，请尽快维修。",
            "officer_id": f"bench-officer-{i % OFFICERS:03d}",
            "unit": UNIT,
            "assistant_officer_ids": [],
            "received_at": (now - timedelta(days=3)).isoformat(),
            "assigned_at": (now - timedelta(days=3)).isoformat(),
            "due_at": due.isoformat(),
            "due_stage": "resolve",
            "time_left_s": int((due - now).total_seconds()),
            "overdue": due < now,
            "urged": i % 13 == 0,
            "escalated": i % 29 == 0,
            "times_raised": 1 + (i % 13 == 0),
            "reopen_count": 0,
            "closed_reason": None,
            "unreasonable": None,
            "role": "lead",
        }


def _appeal_rows(now: datetime) -> list[dict[str, Any]]:
    """Tracking's rows for the same appeals: the first 1,000 the queue's officer's."""
    rows = []
    for i, a in enumerate(_appeals(BOARD_APPEALS, now)):
        rows.append(
            {
                "appeal_id": uuid.UUID(a["appeal_id"]),
                "status": a["status"],
                "tracking_code": a["tracking_code"],
                "channel": a["channel"],
                "appeal_type": a["appeal_type"],
                "category": a["category"],
                "urgency": a["urgency"],
                "summary": a["summary"],
                "community": "大旺社区",
                "received_at": now - timedelta(days=3),
                # The queue's officer has exactly the first 1,000; the others share the rest.
                "officer_id": (
                    QUEUE_OFFICER
                    if i < QUEUE_APPEALS
                    else f"bench-officer-{1 + i % (OFFICERS - 1):03d}"
                ),
                "assigned_at": now - timedelta(days=3),
                "escalated": a["escalated"],
                "due_at": datetime.fromisoformat(a["due_at"]),
                "due_stage": a["due_stage"],
            }
        )
    return rows


async def seed_tracking(settings: Settings) -> None:
    from services.tracking import tables as tracking_tables

    now = datetime.now(UTC)
    officers = [
        {
            "officer_id": o["officer_id"],
            "name": o["name"],
            "role": o["role"],
            "unit": UNIT,
            "updated_at": now,
        }
        for o in _officers()
    ]
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(tracking_tables.officers), officers)
            rows = _appeal_rows(now)
            for start in range(0, len(rows), 1000):
                await conn.execute(insert(tracking_tables.appeals), rows[start : start + 1000])
            await conn.execute(text("ANALYZE tracking.appeals"))
    finally:
        await engine.dispose()


class ToTracking(httpx.AsyncBaseTransport):
    """Tracking's URLs to its app in this process; the rest (dispatch) to the canned answers."""

    def __init__(self, tracking_url: str, tracking: httpx.ASGITransport, rest: CannedServices):
        self.tracking_url = tracking_url
        self.tracking = tracking
        self.rest = httpx.MockTransport(rest)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(self.tracking_url):
            return await self.tracking.handle_async_request(request)
        return await self.rest.handle_async_request(request)


class CannedServices:
    """Tracking and dispatch as the console reaches them, answering from memory in keyset pages
    (the cursor is an offset here; the console passes it back untouched)."""

    def __init__(self, now: datetime) -> None:
        self.queue = [
            QueueItem.model_validate(a).model_dump(mode="json")
            for a in _appeals(QUEUE_APPEALS, now)
        ]
        self.search = [
            SearchItem.model_validate(a).model_dump(mode="json")
            for a in _appeals(BOARD_APPEALS, now)
        ]
        self.officers = _officers()
        overdue = sum(1 for a in self.search if a["overdue"])
        self.counts = SearchCounts.model_validate(
            {
                "unit": UNIT,
                "total": BOARD_APPEALS,
                "open": BOARD_APPEALS,
                "due_soon": 48,
                "overdue": overdue,
                "urged": sum(1 for a in self.search if a["urged"]),
                "escalated": sum(1 for a in self.search if a["escalated"]),
                "unreasonable": 0,
            }
        ).model_dump(mode="json")

    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["50"])[0])
        start = int(query.get("cursor", ["0"])[0])
        end = start + limit
        return {"items": items[start:end], "next_cursor": str(end) if end < len(items) else None}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, parse_qs(request.url.query.decode())
        body: dict[str, Any]
        if path == "/v1/me/queue":
            body = {"officer_id": "bench-officer-000", **self._page(self.queue, query)}
        elif path == "/v1/appeals":
            body = self._page(self.search, query)
        elif path == "/v1/appeals/counts":
            body = self.counts
        elif path == "/v1/officers":
            body = self._page(self.officers, query)
        else:
            # Returns, extension requests, duty posts: none waiting in this bench.
            body = {"items": [], "next_cursor": None}
        return httpx.Response(200, json=body)


def _person(subject: str, role: Role) -> Person:
    return Person(
        subject=subject,
        name="测试",
        roles=frozenset({role}),
        unit=UNIT,
        token=issue_dev_token(DEV_JWT_SECRET, sub=subject, roles=[role], unit=UNIT),
        csrf_token=new_secret(),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _time_page(
    client: httpx.AsyncClient, path: str, cookie: str, repeats: int
) -> dict[str, float]:
    timings = []
    for i in range(repeats + WARM_UP):
        started = time.perf_counter()
        response = await client.get(path, cookies={SESSION_COOKIE: cookie})
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
        if i >= WARM_UP:  # the first ones warm the template cache and the connection pool
            timings.append(elapsed_ms)
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(_percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "bytes": len(response.content),
    }


async def _time_pages(
    app: FastAPI, transport: httpx.AsyncBaseTransport, settings: Settings, repeats: int
) -> dict[str, Any]:
    counted = Counted(transport)
    await app.state.backend.close()
    app.state.backend = Backend(settings, transport=counted)
    cookies = {Role.OFFICER: new_secret(), Role.SUPERVISOR: new_secret()}
    async with app.state.runtime.db.transaction() as session:
        await sessions.save(session, cookies[Role.OFFICER], _person(QUEUE_OFFICER, Role.OFFICER))
        await sessions.save(
            session, cookies[Role.SUPERVISOR], _person("bench-supervisor", Role.SUPERVISOR)
        )
    figures: dict[str, Any] = {}
    asgi = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=asgi, base_url="http://console") as client:
        for name, path, role, appeals in PAGES:
            counted.calls = 0
            timed = await _time_page(client, path, cookies[role], repeats)
            figures[name] = {
                "path": path,
                "open_appeals": appeals,
                **timed,
                "service_calls_per_page": counted.calls // (repeats + WARM_UP),
                "share_of_budget": round(timed["p50_ms"] / BUDGET_MS, 3),
            }
    return figures


class Counted(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)


async def measure(settings: Settings, repeats: int) -> dict[str, Any]:
    """The figures of both ways (`console alone`, `with tracking`), page by page."""
    canned = CannedServices(datetime.now(UTC))
    console = build(settings)
    tracking = build_tracking(settings)
    results: dict[str, Any] = {}
    async with console.router.lifespan_context(console):
        results["console alone"] = await _time_pages(
            console, httpx.MockTransport(canned), settings, repeats
        )
        async with tracking.router.lifespan_context(tracking):
            split = ToTracking(
                settings.console_tracking_url.rstrip("/"),
                httpx.ASGITransport(app=tracking),
                canned,
            )
            results["with tracking"] = await _time_pages(console, split, settings, repeats)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jiban.bench.console", description=__doc__)
    parser.add_argument("--repeats", type=int, default=30, help="timed requests per page")
    parser.add_argument("--out", type=Path, default=STATE_DIR / "bench", help="results folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    base = Settings()
    with infrastructure(base) as (database_url, kafka):
        database_url = asyncio.run(create_database(database_url, "jiban_bench_console"))
        settings = Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka,
            topic_prefix=f"benchconsole{uuid.uuid4().hex[:6]}.",
            dev_mode=True,
        )
        upgrade(settings, (CONSOLE, TRACKING))
        asyncio.run(ensure_topics(settings))
        asyncio.run(seed_tracking(settings))
        results = asyncio.run(measure(settings, args.repeats))
    print()
    print(
        f"{'':<16}{'page':<7}{'open appeals':>13}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'calls':>7}{'of 300 ms':>11}"
    )
    for way, figures in results.items():
        for name, f in figures.items():
            print(
                f"{way:<16}{name:<7}{f['open_appeals']:>13,}{f['p50_ms']:>9}{f['p95_ms']:>9}"
                f"{f['max_ms']:>9}{f['service_calls_per_page']:>7}{f['share_of_budget']:>10.0%}"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / ("console-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    path = stem.with_suffix(".json")
    path.write_text(json.dumps({"budget_ms": BUDGET_MS, "results": results}, indent=2))
    print(f"\nfigures: {path}")


if __name__ == "__main__":
    main()
