"""The CSOs' monthly five ones in tracking, against a real broker and Postgres: the directory's
enterprises and CSOs' visits arrive on their topics, the report says who is left to contact
(JSON and CSV, with who may read whose), contacts on appeals count only for the enterprise's own
CSO, and two replicas' reminder workers send each reminder once."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import credit_code, envelope_of
from harness import bearer, dev_token
from sqlalchemy import func, insert, select

from services.tracking.directory import store as directory_store
from services.tracking.five_ones import store as five_ones_store
from services.tracking.five_ones.worker import FiveOnesReminderWorker
from services.tracking.periods import Month
from services.tracking.tables import (
    appeals,
    cso_contacts,
    five_ones_reminders,
    inbox,
    outbox,
)
from services.tracking.tables import metadata as tracking_metadata
from shared.clock import ZONE
from shared.db import Database
from shared.envelope import Envelope
from shared.events import EnterpriseChanged, FiveOnesReminder, OfficerChanged, VisitLogged
from shared.settings import Settings
from shared.topics import DIRECTORY_CHANGES, VISITS_LOGGED
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import IndustryChain, OfficerRole

pytestmark = pytest.mark.integration

OCTOBER = Month(2026, 10)
UNIT = "高新区经发局"
OTHER_UNIT = "大旺社区"
A, B, C = credit_code(101), credit_code(102), credit_code(103)
NAMES = {A: "肇庆甲新能源有限公司", B: "肇庆乙食品有限公司", C: "肇庆丙医药有限公司"}
NO_TOKEN = {"Authorization": ""}


def _officer(officer_id: str, role: OfficerRole, unit: str) -> OfficerChanged:
    return OfficerChanged(
        officer_id=officer_id, name=f"干部{officer_id}", role=role, unit=unit, on_duty=True
    )


def _enterprise(code: str, cso: str | None) -> EnterpriseChanged:
    return EnterpriseChanged(
        credit_code=code,
        name=NAMES[code],
        chain=IndustryChain.NEV,
        community="大旺社区",
        cso_officer_id=cso,
    )


def _visit(officer_id: str, code: str, at: datetime, visit_id: str | None = None) -> VisitLogged:
    return VisitLogged(
        visit_id=visit_id or uuid.uuid4().hex,
        officer_id=officer_id,
        enterprise_credit_code=code,
        visited_at=at,
    )


def _shanghai(day: int, hour: int = 10, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


async def _send(topics: Any, topic: str, envelope: Envelope) -> None:
    await topics.send(topic, envelope.to_bytes(), envelope.key)


async def _count(db: Database, table: Any, *where: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


async def test_the_report_shows_who_each_cso_has_not_contacted_this_month(
    settings, run_service, topics, wait_until, db
):
    t0 = datetime.now(UTC)
    directory = [
        envelope_of(_officer("cso-1", OfficerRole.CHIEF_SERVICE_OFFICER, UNIT)),
        envelope_of(_officer("cso-2", OfficerRole.CHIEF_SERVICE_OFFICER, OTHER_UNIT)),
        envelope_of(_officer("cw-1", OfficerRole.COMMUNITY_WORKER, UNIT)),
        envelope_of(_enterprise(A, "cso-1"), occurred_at=t0),
        envelope_of(_enterprise(B, "cso-1"), occurred_at=t0),
        envelope_of(_enterprise(C, "cso-2"), occurred_at=t0),
        # An older change heard late (C used to be cso-1's): ignored.
        envelope_of(_enterprise(C, "cso-1"), occurred_at=t0 - timedelta(days=1)),
    ]
    last_minute = _visit("cso-1", A, _shanghai(31, 23, 59), visit_id="v-late")
    visits = [
        envelope_of(last_minute),
        # The same visit republished under another event id: one contact.
        envelope_of(last_minute),
        # Just before October began in Shanghai (15:59 UTC on 30 September): not October's.
        envelope_of(_visit("cso-1", B, _shanghai(30, 23, 59, month=9))),
        # On 1 November in Shanghai, though still 31 October in UTC: not October's either.
        envelope_of(_visit("cso-1", B, datetime(2026, 10, 31, 16, 30, tzinfo=UTC))),
        envelope_of(_visit("cso-2", C, _shanghai(1, 0, 0))),
        envelope_of(_visit("cso-2", C, _shanghai(15))),
    ]
    for env in directory:
        await _send(topics, DIRECTORY_CHANGES, env)
    for env in visits:
        await _send(topics, VISITS_LOGGED, env)
    async with db.transaction() as session:
        # Appeals cso-1 leads: two resolved in October (Shanghai), one the evening before.
        for resolved in (_shanghai(2), _shanghai(31, 23), _shanghai(30, 23, month=9)):
            await session.execute(
                insert(appeals).values(
                    appeal_id=uuid.uuid4(),
                    officer_id="cso-1",
                    status="resolved",
                    resolved_at=resolved,
                )
            )

    report = "/v1/reports/five-ones"
    october = {"month": str(OCTOBER)}
    async with run_service("tracking") as tracking:
        # Everything sent was consumed (the late, older change and the republished visit too).
        await wait_until(lambda: _inbox_reached(db, len(directory) + len(visits)), timeout_s=15)
        everyone = await tracking.get(report, params=october)
        as_csv = await tracking.get(report, params=october, headers={"Accept": "text/csv"})
        one = await tracking.get(report, params={**october, "officer_id": "cso-2"})
        current = await tracking.get(report)
        bad = await tracking.get(report, params={"month": "2026-13"})
        unsigned = await tracking.get(report, params=october, headers=NO_TOKEN)

        async def as_caller(sub: str, roles: tuple[str, ...], unit: str | None, **params: str):
            headers = bearer(dev_token(sub, roles, unit))
            return await tracking.get(report, params={**october, **params}, headers=headers)

        supervisor = await as_caller("sup-1", ("supervisor",), UNIT)
        supervisor_other = await as_caller("sup-1", ("supervisor",), UNIT, officer_id="cso-2")
        cso_self = await as_caller("cso-1", ("officer",), UNIT)
        cso_named_self = await as_caller("cso-1", ("officer",), UNIT, officer_id="cso-1")
        cso_other = await as_caller("cso-1", ("officer",), UNIT, officer_id="cso-2")
        not_a_cso = await as_caller("cw-1", ("officer",), UNIT)
        dispatcher = await as_caller("d-1", ("dispatcher",), UNIT)

    assert everyone.status_code == 200, everyone.text
    body = everyone.json()
    assert (body["month"], body["month_ends_on"]) == ("2026-10", "2026-10-31")
    first, second = body["items"]
    assert first == {
        "officer_id": "cso-1",
        "name": "干部cso-1",
        "unit": UNIT,
        "enterprises_total": 2,
        "contacted": 1,
        "uncontacted": [{"credit_code": B, "name": NAMES[B]}],
        "visits": 1,
        "problems_solved": 2,
        "complete": False,
    }
    assert second == {
        "officer_id": "cso-2",
        "name": "干部cso-2",
        "unit": OTHER_UNIT,
        "enterprises_total": 1,
        "contacted": 1,
        "uncontacted": [],
        "visits": 2,
        "problems_solved": 0,
        "complete": True,
    }

    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [(r["officer_id"], r["contacted"], r["complete"]) for r in rows] == [
        ("cso-1", "1", "false"),
        ("cso-2", "1", "true"),
    ]
    assert rows[0]["uncontacted"] == f"{B} {NAMES[B]}"
    assert (rows[0]["month"], rows[0]["name"], rows[0]["problems_solved"]) == (
        "2026-10",
        "干部cso-1",
        "2",
    )

    assert [i["officer_id"] for i in one.json()["items"]] == ["cso-2"]
    assert current.status_code == 200
    assert current.json()["month"] == str(Month.of(datetime.now(UTC)))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "month"]
    assert unsigned.status_code == 401

    assert supervisor.status_code == 200
    assert [i["officer_id"] for i in supervisor.json()["items"]] == ["cso-1"]
    assert supervisor_other.status_code == 403
    for mine in (cso_self, cso_named_self):
        assert mine.status_code == 200
        assert [i["officer_id"] for i in mine.json()["items"]] == ["cso-1"]
    assert cso_other.status_code == 403
    assert not_a_cso.status_code == 403
    assert dispatcher.status_code == 403
    assert dispatcher.json()["detail"][0]["loc"] == ["header", "Authorization"]


async def _inbox_reached(db: Database, n: int) -> bool:
    return await _count(db, inbox) >= n


async def test_a_contact_on_an_appeal_counts_only_for_the_enterprises_own_cso(db):
    at = _shanghai(20)
    async with db.transaction() as session:
        await directory_store.save_enterprise(
            session,
            credit_code=A,
            name=NAMES[A],
            community=None,
            cso_officer_id="cso-1",
            changed_at=at,
        )
    async with db.transaction() as session:
        for ref, officer_id, code in (
            ("appeal:1:contact", "cso-1", A),  # its CSO: counted
            ("appeal:1:contact", "cso-1", A),  # the same contact again: once
            ("appeal:2:contact", "cw-9", A),  # another officer: not the five ones
            ("appeal:3:contact", "cso-1", B),  # an enterprise tracking does not know
        ):
            await five_ones_store.record_appeal_contact(
                session, ref=ref, officer_id=officer_id, credit_code=code, contacted_at=at
            )
    async with db.transaction() as session:
        rows = (await session.execute(select(cso_contacts))).all()
        (facts,) = await five_ones_store.month_facts(
            session, await five_ones_store.csos(session), OCTOBER
        )
    assert [(r.ref, r.officer_id, r.credit_code, r.source) for r in rows] == [
        ("appeal:1:contact", "cso-1", A, "appeal")
    ]
    assert rows[0].contacted_at == at
    # An appeal contact makes the enterprise contacted, but is not a visit.
    assert (facts.officer_id, facts.contacted_codes, facts.visits) == ("cso-1", {A}, 0)


async def test_two_replicas_send_each_reminder_once_and_none_before_the_day(settings, db):
    november = Month(2026, 11)
    async with db.transaction() as session:
        for code, cso in ((A, "cso-1"), (B, "cso-2"), (C, "cso-3")):
            await directory_store.save_enterprise(
                session,
                credit_code=code,
                name=NAMES[code],
                community=None,
                cso_officer_id=cso,
                changed_at=datetime.now(UTC),
            )
        # cso-2 has contacted their one enterprise: nothing to remind them of.
        await five_ones_store.record_visit(
            session,
            visit_id="v1",
            officer_id="cso-2",
            credit_code=B,
            visited_at=_shanghai(3, month=11),
        )
        # cso-3 was reminded already (by a replica that has since gone).
        await session.execute(
            insert(five_ones_reminders).values(
                officer_id="cso-3", month=str(november), sent_at=datetime.now(UTC)
            )
        )

    now = datetime(2026, 11, 26, 23, 59, tzinfo=ZONE)  # the day before the reminder day
    replicas = [Database(settings), Database(settings)]
    try:
        workers = [
            FiveOnesReminderWorker(
                UnitsOfWork.of(r, tracking_metadata, producer="tracking"),
                settings,
                clock=lambda: now,
            )
            for r in replicas
        ]
        assert await asyncio.gather(*(w.round() for w in workers)) == [0, 0]
        assert await _count(db, five_ones_reminders) == 1

        now = datetime(2026, 11, 27, 0, 0, tzinfo=ZONE)  # the reminder day (3 days before)
        for _ in range(3):
            sent = await asyncio.gather(*(w.round() for w in workers))
            assert sum(sent) <= 1
        reminder = FiveOnesReminder.TYPE
        assert await _count(db, outbox, outbox.c.headers["x-event-type"].astext == reminder) == 1
        async with db.transaction() as session:
            (row,) = (await session.execute(select(outbox))).all()
            reminded = (await session.execute(select(five_ones_reminders.c.officer_id))).all()
    finally:
        for r in replicas:
            await r.dispose()
    event = FiveOnesReminder.model_validate(Envelope.model_validate_json(row.value).payload)
    assert event == FiveOnesReminder(
        officer_id="cso-1",
        month="2026-11",
        uncontacted_credit_codes=[A],
        enterprises_total=1,
        problems_solved=0,
        month_ends_on=november.last_day,
    )
    assert sorted(r.officer_id for r in reminded) == ["cso-1", "cso-3"]
