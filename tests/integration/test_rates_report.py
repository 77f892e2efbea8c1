"""The three rates report and the monthly CSO proposal, against a real Postgres: a fixture put
straight into tracking's tables, the figures worked out by hand in the comments."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from harness import bearer, dev_token
from sqlalchemy import func, insert, select

from services.tracking import tables as store
from services.tracking.reports.cso_reporters import CsoProposalWorker
from shared.clock import ZONE
from shared.db import Database
from shared.outbox import Outbox
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
NO_TOKEN = {"Authorization": ""}
RATES = "/v1/reports/rates"
REPORTERS = "/v1/reports/cso-reporters"
CSO = "chief_service_officer"


def sh(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A time in 2026 in Asia/Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


class Fixture:
    def __init__(self) -> None:
        self.officers: list[dict[str, Any]] = []
        self.appeals: list[dict[str, Any]] = []
        self.deadlines: list[dict[str, Any]] = []

    def officer(self, officer_id: str, unit: str, role: str = "community_worker") -> None:
        self.officers.append(
            {
                "officer_id": officer_id,
                "name": f"officer {officer_id}",
                "role": role,
                "unit": unit,
                "updated_at": sh(1, 1),
            }
        )

    def appeal(
        self, received_at: datetime, *, stages: dict[str, tuple[datetime, Any]], **values: Any
    ) -> uuid.UUID:
        """`stages`: {stage: (due_at, met_at or None)}."""
        appeal_id = uuid.uuid4()
        row = {
            "appeal_id": appeal_id,
            "received_at": received_at,
            "status": "in_progress",
            "channel": "hotline_12345",
            "category": "utilities",
            "officer_id": None,
            "anonymous": False,
            "resolved_at": None,
            "closed_reason": None,
            "followed_up_at": None,
            "follow_up_solved": None,
            "follow_up_satisfaction": None,
            "unreasonable_at": None,
        }
        self.appeals.append({**row, **values})
        for stage, (due, met) in stages.items():
            self.deadlines.append(
                {
                    "appeal_id": appeal_id,
                    "stage": stage,
                    "start_at": received_at,
                    "start_basis": "received",
                    "due_at": due,
                    "warn_at": due,
                    "public_notice_at": due,
                    "rule_dimension": "default",
                    "rule_limit": "1 working day",
                    "reason": "test",
                    "met_at": met,
                }
            )
        return appeal_id

    async def save(self, settings: Settings) -> None:
        db = Database(settings)
        try:
            async with db.transaction() as session:
                for table, rows in (
                    (store.officers, self.officers),
                    (store.appeals, self.appeals),
                    (store.deadlines, self.deadlines),
                ):
                    if rows:
                        await session.execute(insert(table), rows)
        finally:
            await db.dispose()


def in_time(received: datetime, hours: int = 2) -> tuple[datetime, datetime]:
    return received + timedelta(hours=hours), received + timedelta(hours=1)


def late(received: datetime, hours: int = 2) -> tuple[datetime, datetime]:
    return received + timedelta(hours=hours), received + timedelta(hours=hours + 1)


def rates_fixture() -> Fixture:
    f = Fixture()
    f.officer("o1", "u1")
    f.officer("o2", "u2")
    # P1: 03-01 00:30 in Shanghai (still February in UTC): in range. Response T; solved,
    # satisfied; resolve in time; 24 h; closed.
    p1 = sh(3, 1, 0, 30)
    f.appeal(
        p1,
        officer_id="o1",
        status="closed",
        closed_reason="resolved",
        stages={
            "acknowledge": in_time(p1),
            "first_contact": in_time(p1, 4),
            "resolve": (p1 + timedelta(days=5), p1 + timedelta(hours=24)),
        },
        resolved_at=p1 + timedelta(hours=24),
        followed_up_at=p1 + timedelta(days=2),
        follow_up_solved=True,
        follow_up_satisfaction="satisfied",
    )
    # P2: acknowledged late. Response F; not solved, unsatisfied; resolved late; 48 h; closed.
    p2 = sh(3, 10)
    f.appeal(
        p2,
        officer_id="o1",
        channel="web",
        status="closed",
        closed_reason="resolved",
        stages={
            "acknowledge": late(p2),
            "first_contact": in_time(p2, 4),
            "resolve": late(p2, 47),
        },
        resolved_at=p2 + timedelta(hours=48),
        followed_up_at=p2 + timedelta(days=3),
        follow_up_solved=False,
        follow_up_satisfaction="unsatisfied",
    )
    # P3: no first-contact deadline: response T on acknowledging. Resolve due 03-30, never
    # met: on time 0 of 1, open and overdue.
    p3 = sh(3, 20, 12)
    f.appeal(
        p3,
        officer_id="o2",
        category="housing",
        stages={"acknowledge": in_time(p3), "resolve": (sh(3, 30), None)},
    )
    # P4: unreasonable: excluded (counted apart).
    p4 = sh(3, 21)
    f.appeal(
        p4,
        officer_id="o2",
        unreasonable_at=p4 + timedelta(days=1),
        stages={"acknowledge": late(p4)},
    )
    # P5 (02-28 23:59) and P6 (04-01 00:00) in Shanghai: outside March.
    f.appeal(sh(2, 28, 23, 59), officer_id="o1", stages={"acknowledge": late(sh(2, 28, 23))})
    f.appeal(sh(4, 1, 0, 0), officer_id="o1", stages={"acknowledge": late(sh(4, 1))})
    # P7: no officer; closed without feedback. Response T.
    p7 = sh(3, 15)
    f.appeal(
        p7,
        channel="web",
        status="closed",
        closed_reason="no_feedback",
        stages={"acknowledge": in_time(p7)},
    )
    return f


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def _loc(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


async def test_rates_report_json_csv_groups_dates_and_who_may_read(settings, run_service):
    await rates_fixture().save(settings)
    async with run_service("tracking") as tracking:
        whole = await tracking.get(RATES, params=MARCH)
        by_unit = await tracking.get(RATES, params={**MARCH, "group_by": "unit"})
        by_month = await tracking.get(RATES, params={**MARCH, "group_by": "month"})
        by_channel_csv = await tracking.get(
            RATES, params={**MARCH, "group_by": "channel"}, headers={"Accept": "text/csv"}
        )
        middle = await tracking.get(RATES, params={"from": "2026-03-10", "to": "2026-03-20"})
        supervisor = await tracking.get(
            RATES, params=MARCH, headers=bearer(dev_token("s1", ("supervisor",), "u1"))
        )
        dispatcher = await tracking.get(
            RATES,
            params={**MARCH, "group_by": "officer"},
            headers=bearer(dev_token("d2", ("dispatcher",), "u2")),
        )
        officer = await tracking.get(
            RATES, params=MARCH, headers=bearer(dev_token("o1", ("officer",), "u1"))
        )
        no_unit = await tracking.get(
            RATES, params=MARCH, headers=bearer(dev_token("s9", ("supervisor",)))
        )
        anonymous = await tracking.get(RATES, params=MARCH, headers=NO_TOKEN)
        reversed_range = await tracking.get(
            RATES, params={"from": "2026-03-31", "to": "2026-03-01"}
        )
        bad_day = await tracking.get(RATES, params={"from": "2026-02-30", "to": "2026-03-01"})
        bad_group = await tracking.get(RATES, params={**MARCH, "group_by": "weather"})
        no_to = await tracking.get(RATES, params={"from": "2026-03-01"})
        # Without `from` and `to`: the current month.
        this_month = await tracking.get(RATES)
        year_zero = await tracking.get(RATES, params={"from": "0001-01-01", "to": "0001-01-31"})

    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert (body["from"], body["to"], body["group_by"], body["unit"]) == (
        "2026-03-01",
        "2026-03-31",
        None,
        None,
    )
    (row,) = body["rows"]
    assert row == body["overall"]
    # P1 P2 P3 P7 (P4 unreasonable; P5, P6 outside the days).
    assert (row["group"], row["total"], row["excluded_unreasonable"]) == (None, 4, 1)
    # Response: P1 T, P2 F, P3 T, P7 T → 3/4. Followed up: P1 (solved, satisfied), P2 (neither).
    assert (row["response_numerator"], row["response_denominator"], row["response_rate"]) == (
        3,
        4,
        0.75,
    )
    assert (row["resolution_numerator"], row["resolution_denominator"]) == (1, 2)
    assert (row["satisfaction_numerator"], row["satisfaction_denominator"]) == (1, 2)
    assert (row["resolution_rate"], row["satisfaction_rate"]) == (0.5, 0.5)
    # On time: P1 yes, P2 late, P3 due and unmet → 1/3.
    assert (row["on_time_numerator"], row["on_time_denominator"], row["on_time_rate"]) == (
        1,
        3,
        0.3333,
    )
    # 0.30·0.75 + 0.35·0.5 + 0.35·0.5 = 0.575; hours 24 and 48 → 36.
    assert (row["composite_rate"], row["median_handling_hours"]) == (0.575, 36.0)
    assert (row["open"], row["overdue"], row["no_feedback"]) == (1, 1, 1)

    units = {r["group"]: r for r in by_unit.json()["rows"]}
    assert list(units) == ["u1", "u2", "unknown"]
    assert [(r["total"], r["excluded_unreasonable"]) for r in units.values()] == [
        (2, 0),
        (1, 1),
        (1, 0),
    ]
    # u1 (P1, P2): response 1/2, composite 0.15 + 0.175 + 0.175 = 0.5. u2: no follow-up.
    assert (units["u1"]["response_rate"], units["u1"]["composite_rate"]) == (0.5, 0.5)
    assert (units["u2"]["resolution_rate"], units["u2"]["composite_rate"]) == (None, None)
    assert by_unit.json()["overall"] == row
    # P1 came in on 03-01 in Shanghai, though 02-28 in UTC.
    assert [(r["group"], r["total"]) for r in by_month.json()["rows"]] == [("2026-03", 4)]

    assert by_channel_csv.status_code == 200
    assert by_channel_csv.headers["content-type"].startswith("text/csv")
    text = by_channel_csv.content.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["group"], r["total"], r["response_rate"]) for r in table] == [
        ("hotline_12345", "2", "1.0"),  # P1 T, P3 T
        ("web", "2", "0.5"),  # P2 F, P7 T
    ]
    assert table[0]["excluded_unreasonable"] == "1"  # P4 came by the hotline
    # web: response 1/2, P2 neither solved nor satisfied → 0.30·0.5 + 0 + 0 = 0.15.
    assert table[1]["resolution_denominator"] == "1" and table[1]["composite_rate"] == "0.15"
    assert table[0]["median_handling_hours"] == "24.0"
    assert "overall" not in text and "response_numerator" in table[0]

    # 03-10 .. 03-20: P2, P7 and P3 (at 12:00 on the last day, included); P4 (03-21) is out.
    assert (
        middle.json()["overall"]["total"],
        middle.json()["overall"]["excluded_unreasonable"],
    ) == (3, 0)

    # A supervisor of u1 reads o1's appeals only; a dispatcher of u2, o2's.
    assert supervisor.status_code == 200
    assert supervisor.json()["unit"] == "u1"
    assert supervisor.json()["overall"]["total"] == 2
    assert dispatcher.status_code == 200
    assert [
        (r["group"], r["total"], r["excluded_unreasonable"]) for r in dispatcher.json()["rows"]
    ] == [("o2", 1, 1)]
    assert officer.status_code == 403 and no_unit.status_code == 403
    assert officer.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert anonymous.status_code == 401

    assert _loc(reversed_range) == ["query", "from"]
    assert _loc(bad_day) == ["query", "from"]
    assert _loc(bad_group) == ["query", "group_by"]
    # `from` alone: to the end of its month.
    assert no_to.status_code == 200, no_to.text
    assert (no_to.json()["to"], no_to.json()["overall"]["total"]) == ("2026-03-31", 4)
    assert this_month.status_code == 200, this_month.text
    today = datetime.now(ZONE).date()
    assert this_month.json()["from"] == today.replace(day=1).isoformat()
    assert this_month.json()["to"][:7] == today.isoformat()[:7]
    assert _loc(year_zero) == ["query", "from"]


# --- the CSO proposal ------------------------------------------------------------------------


def proposal_fixture() -> Fixture:
    """Five CSOs; their February appeals rank them for March. c2 reported in February."""
    f = Fixture()
    for n in range(1, 6):
        f.officer(f"c{n}", "zone", CSO)
    f.officer("w1", "zone")  # not a CSO
    feb = sh(2, 10)

    def led(officer_id: str, ack: tuple[datetime, datetime], solved: bool, answer: str) -> None:
        f.appeal(
            feb,
            officer_id=officer_id,
            status="closed",
            closed_reason="resolved",
            stages={"acknowledge": ack},
            followed_up_at=feb + timedelta(days=3),
            follow_up_solved=solved,
            follow_up_satisfaction=answer,
        )

    led("c1", in_time(feb), True, "satisfied")  # 0.30 + 0.35 + 0.35 = 1.0
    led("c2", late(feb), False, "unsatisfied")  # 0
    led("c3", in_time(feb), True, "unsatisfied")  # 0.30 + 0.35 = 0.65
    # c4: no appeals in February: no composite.
    led("c5", in_time(feb), False, "basically_satisfied")  # 0.30 + 0.35 = 0.65
    # A March appeal of c1's does not count for March's proposal.
    f.appeal(sh(3, 2), officer_id="c1", stages={"acknowledge": late(sh(3, 2))})
    return f


async def _proposals(settings: Settings) -> list[Any]:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            return list((await session.execute(select(store.cso_proposals))).all())
    finally:
        await db.dispose()


async def _add_report(settings: Settings, officer_id: str, month: str) -> None:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            await session.execute(
                insert(store.cso_reports).values(
                    officer_id=officer_id, month=month, recorded_by="t", recorded_at=sh(3, 1)
                )
            )
    finally:
        await db.dispose()


async def test_the_proposal_is_stored_once_and_reports_are_recorded(settings, run_service):
    f = proposal_fixture()
    await f.save(settings)
    await _add_report(settings, "c2", "2026-02")
    supervisor = bearer(dev_token("s1", ("supervisor",), "zone"))
    officer = bearer(dev_token("c1", ("officer",), "zone"))
    async with run_service("tracking") as tracking:
        # Reading a month that has begun stores nothing; proposing (POST) stores it.
        looked = await tracking.get(REPORTERS, params={"month": "2026-03"})
        stored_by_reading = await _proposals(settings)
        first = await tracking.post(f"{REPORTERS}/2026-03")
        proposed_again = await tracking.post(f"{REPORTERS}/2026-03")
        not_begun = await tracking.post(f"{REPORTERS}/2099-01")
        month_zero = await tracking.get(REPORTERS, params={"month": "0000-01"})
        path_zero = await tracking.post(f"{REPORTERS}/0000-01")
        # Things move after the proposal: c1 reports, another report lands in February.
        recorded = await tracking.post(
            f"{REPORTERS}/2026-03/reported", json={"officer_id": "c3"}, headers=supervisor
        )
        again = await tracking.post(f"{REPORTERS}/2026-03/reported", json={"officer_id": "c3"})
        await _add_report(settings, "c3", "2026-02")
        second = await tracking.get(REPORTERS, params={"month": "2026-03"}, headers=supervisor)
        future = await tracking.get(REPORTERS, params={"month": "2099-01"})
        not_cso = await tracking.post(f"{REPORTERS}/2026-03/reported", json={"officer_id": "w1"})
        unknown = await tracking.post(f"{REPORTERS}/2026-03/reported", json={"officer_id": "zz"})
        to_come = await tracking.post(f"{REPORTERS}/2099-01/reported", json={"officer_id": "c1"})
        bad_month = await tracking.post(f"{REPORTERS}/2026-3/reported", json={"officer_id": "c1"})
        bad_query = await tracking.get(REPORTERS, params={"month": "2026-13"})
        by_officer = await tracking.post(
            f"{REPORTERS}/2026-03/reported", json={"officer_id": "c1"}, headers=officer
        )
        read_by_officer = await tracking.get(
            REPORTERS, params={"month": "2026-03"}, headers=officer
        )
        nobody = await tracking.post(
            f"{REPORTERS}/2026-03/reported", json={"officer_id": "c1"}, headers=NO_TOKEN
        )

    assert looked.status_code == 200, looked.text
    assert (looked.json()["stored"], looked.json()["proposed_at"]) == (False, None)
    # (The worker stores the current month's at start; March is the one read.)
    assert "2026-03" not in {r.month for r in stored_by_reading}
    assert first.status_code == 200, first.text
    body = first.json()
    # Proposing again changes nothing: the stored four stand.
    assert proposed_again.json()["proposed_at"] == body["proposed_at"]
    assert [o["officer_id"] for o in looked.json()["officers"]] == [
        o["officer_id"] for o in body["officers"]
    ]
    assert _loc(not_begun) == ["path", "month"]
    assert _loc(month_zero) == ["query", "month"]
    assert _loc(path_zero) == ["path", "month"]
    # c2 reported this cycle; c3 and c5 tie at 0.65 (by id), then c1 (1.0), then c4 (none).
    assert [o["officer_id"] for o in body["officers"]] == ["c3", "c5", "c1", "c4"]
    assert [o["composite_rate"] for o in body["officers"]] == [0.65, 0.65, 1.0, None]
    assert body["officers"][0] == {
        "officer_id": "c3",
        "name": "officer c3",
        "unit": "zone",
        "reported": False,
        "appeals": 1,
        "composite_rate": 0.65,
        "response_rate": 1.0,
        "resolution_rate": 1.0,
        "satisfaction_rate": 0.0,
    }
    assert (body["month"], body["basis_month"], body["stored"]) == ("2026-03", "2026-02", True)
    assert body["reported_in_cycle"] == ["c2"]

    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["officer_id"], recorded.json()["recorded_by"]) == ("c3", "s1")
    # The repeat changes nothing: the first record stays.
    assert again.status_code == 200 and again.json() == recorded.json()

    # Read again: the same four, as stored, with c3 now marked as reported.
    later = second.json()
    assert [o["officer_id"] for o in later["officers"]] == ["c3", "c5", "c1", "c4"]
    assert later["proposed_at"] == body["proposed_at"]
    assert later["officers"][0]["reported"] is True
    assert later["reported_in_cycle"] == ["c2", "c3"]

    # A month to come is answered, provisionally, and not stored.
    assert future.status_code == 200 and future.json()["stored"] is False
    assert future.json()["proposed_at"] is None
    months = {r.month: r for r in await _proposals(settings)}
    assert "2099-01" not in months
    assert months["2026-03"].officer_ids == ["c3", "c5", "c1", "c4"]

    assert _loc(not_cso) == ["body", "officer_id"]
    assert _loc(unknown) == ["body", "officer_id"]
    assert _loc(to_come) == ["path", "month"]
    assert _loc(bad_month) == ["path", "month"]
    assert _loc(bad_query) == ["query", "month"]
    assert by_officer.status_code == 403 and read_by_officer.status_code == 403
    assert nobody.status_code == 401


async def test_two_workers_racing_publish_the_proposal_once(settings):
    f = proposal_fixture()
    await f.save(settings)
    databases = [Database(settings), Database(settings)]
    wakes: list[int] = []

    def worker(db: Database, month_start: datetime) -> CsoProposalWorker:
        # Five minutes into the month, in Shanghai.
        units = UnitsOfWork(
            db,
            Outbox(store.outbox),
            producer="tracking",
            after_commit=lambda: wakes.append(1),
        )
        return CsoProposalWorker(
            units, lambda: (month_start + timedelta(minutes=5)).astimezone(UTC)
        )

    try:
        for month in (3, 4, 5):
            racers = [worker(db, sh(month, 1, 0)) for db in databases]
            done = await asyncio.gather(*(w.round() for w in racers))
            assert sorted(done) == [0, 1]
            # Once stored, a round does nothing.
            assert await racers[0].round() == 0
        async with databases[0].transaction() as session:
            kind = store.outbox.c.headers["x-event-type"].astext
            events = (
                await session.execute(
                    select(store.outbox.c.value).where(kind == "CsoReportersProposed")
                )
            ).scalars()
            payloads = [json.loads(value)["payload"] for value in events]
            stored = await session.scalar(select(func.count()).select_from(store.cso_proposals))
    finally:
        for db in databases:
            await db.dispose()
    assert sorted(p["month"] for p in payloads) == ["2026-03", "2026-04", "2026-05"]
    assert stored == 3 and len(wakes) == 3
    march = next(p for p in payloads if p["month"] == "2026-03")
    # No report recorded: c2 (0) first, then c3, c5 (0.65).
    assert march["officer_ids"] == ["c2", "c3", "c5", "c1"]


async def test_no_csos_no_proposal(settings):
    db = Database(settings)
    try:
        worker = CsoProposalWorker(
            UnitsOfWork.of(db, store.metadata, producer="tracking"), lambda: sh(3, 1, 9)
        )
        assert await worker.round() == 0
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(store.cso_proposals)) == 0
            assert await session.scalar(select(func.count()).select_from(store.outbox)) == 0
    finally:
        await db.dispose()


async def test_rates_by_community_count_where_each_appeal_was_located(settings, run_service):
    f = Fixture()
    f.officer("o1", "u1")
    a = sh(3, 5)
    # Two in 大旺社区 (one acknowledged in time, one late), one in 迳口社区, one with none.
    f.appeal(a, officer_id="o1", community="大旺社区", stages={"acknowledge": in_time(a)})
    f.appeal(a, officer_id="o1", community="大旺社区", stages={"acknowledge": late(a)})
    f.appeal(
        a,
        officer_id="o1",
        community="迳口社区",
        status="closed",
        closed_reason="resolved",
        stages={"acknowledge": in_time(a)},
        followed_up_at=a + timedelta(days=2),
        follow_up_solved=True,
        follow_up_satisfaction="satisfied",
    )
    f.appeal(a, officer_id="o1", community=None, stages={"acknowledge": in_time(a)})
    # Unreasonable: left out, counted apart in its community.
    f.appeal(
        a,
        officer_id="o1",
        community="迳口社区",
        unreasonable_at=a + timedelta(days=1),
        stages={"acknowledge": late(a)},
    )
    await f.save(settings)
    async with run_service("tracking") as tracking:
        by_community = await tracking.get(RATES, params={**MARCH, "group_by": "community"})
        supervisor = await tracking.get(
            RATES,
            params={**MARCH, "group_by": "community"},
            headers=bearer(dev_token("s2", ("supervisor",), "u2")),
        )

    assert by_community.status_code == 200, by_community.text
    body = by_community.json()
    assert body["group_by"] == "community"
    rows = {r["group"]: r for r in body["rows"]}
    assert list(rows) == ["unknown", "大旺社区", "迳口社区"]
    assert [(r["total"], r["excluded_unreasonable"]) for r in rows.values()] == [
        (1, 0),
        (2, 0),
        (1, 1),
    ]
    assert (rows["大旺社区"]["response_numerator"], rows["大旺社区"]["response_denominator"]) == (
        1,
        2,
    )
    # 迳口社区: response, solved and satisfied, 1/1 each: composite 1.
    assert rows["迳口社区"]["composite_rate"] == 1.0
    assert body["overall"]["total"] == 4
    # A supervisor of another unit sees no community's appeals of u1.
    assert supervisor.status_code == 200 and supervisor.json()["rows"] == []
