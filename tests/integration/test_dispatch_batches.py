"""Dispatch's consumer of received appeals handles a batch in a handful of statements: the
routing context loaded once, claims and assignments written together at the end. Each decision
must still be the one handling the appeals one at a time would have made (counts moved by the
earlier appeals of the batch, leave, duty, the fallback supervisor), on the real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from factories import envelope_of, received
from harness import running
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from services.dispatch import tables
from services.dispatch.app import build, ownership_in
from services.dispatch.directory.model import local_today
from shared.db import Database
from shared.events import AppealReceived, Appellant, Location
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Category

pytestmark = pytest.mark.integration

STAR = "91441200MA4WK3Q5X0"  # its CSO and assistant take two and one
RIVER = "91441200MA4WK3Q6X1"  # no CSO, on the NEV chain
TWIN = "双胞胎食品有限公司"  # two enterprises of that exact name: identifies neither
LONE = "孤山综合服务有限公司"  # one enterprise of that name, chain "other"


def officer(officer_id: str, role: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "officer_id": officer_id,
        "name": f"干部{officer_id}",
        "phone": "13700000000",
        "email": f"{officer_id}@jiban.example",
        "role": role,
        "unit": "人社局",
        "on_duty": True,
        "capacity": 2,
        "categories": [],
        "communities": [],
        "department_id": None,
        "paired_officer_id": None,
        "chain": None,
        "leave": [],
    }
    row.update(kw)
    return row


async def seed(db: Database, *, duty_post: bool) -> None:
    today = local_today()
    away = [{"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1))}]
    later = [{"start": str(today + timedelta(days=5)), "end": str(today + timedelta(days=9))}]
    async with db.transaction() as session:
        await session.execute(
            insert(tables.officers),
            [
                officer("cso-1", "chief_service_officer", paired_officer_id="pba-1", chain="nev"),
                officer("pba-1", "party_building_assistant", paired_officer_id="cso-1", capacity=1),
                officer("cso-2", "chief_service_officer", paired_officer_id="pba-2", on_duty=False),
                officer("pba-2", "party_building_assistant", capacity=1, leave=later),
                officer("nev-1", "department_officer", chain="nev", capacity=1),
                officer("nev-2", "department_officer", chain="nev", capacity=2, leave=away),
                officer("nev-3", "department_officer", chain="nev", capacity=3),
                officer("dept-1", "department_officer", department_id="hrss", capacity=2),
                officer("dept-2", "department_officer", department_id="hrss", capacity=3),
                officer("dept-3", "department_officer", department_id="jobs", capacity=1),
                officer("dept-4", "department_officer", department_id="jobs", on_duty=False),
                officer("cw-1", "community_worker", communities=["将军社区"], capacity=2),
                officer("cw-2", "community_worker", communities=["将军社区", "大旺社区"]),
                officer("cw-3", "community_worker", communities=["大旺社区"], leave=away),
                officer("sup-2", "supervisor", capacity=1),
                officer("sup-1", "supervisor", capacity=1),
                officer("sup-0", "supervisor", on_duty=False),
            ],
        )
        await session.execute(
            insert(tables.departments),
            [
                {"department_id": "hrss", "name": "人社局", "categories": ["employment"]},
                {"department_id": "jobs", "name": "就业局", "categories": ["employment", "policy"]},
            ],
        )
        if duty_post:
            await session.execute(insert(tables.duty).values(post="supervisor", officer_id="sup-2"))
        await session.execute(
            insert(tables.enterprises),
            [
                {
                    "credit_code": STAR,
                    "name": "肇庆星河新能源有限公司",
                    "chain": "nev",
                    "community": "将军社区",
                    "cso_officer_id": "cso-1",
                },
                {
                    "credit_code": "91441200MA4WK3Q7X2",
                    "name": "远山新能源有限公司",
                    "chain": "nev",
                    "community": "将军社区",
                    "cso_officer_id": "cso-2",
                },
                {
                    "credit_code": RIVER,
                    "name": "河口新能源有限公司",
                    "chain": "nev",
                    "community": "大旺社区",
                    "cso_officer_id": None,
                },
                {
                    "credit_code": "91441200MA4WK3Q8X3",
                    "name": TWIN,
                    "chain": "food_beverage",
                    "community": "大旺社区",
                    "cso_officer_id": "cso-1",
                },
                {
                    "credit_code": "91441200MA4WK3Q9X4",
                    "name": TWIN,
                    "chain": "food_beverage",
                    "community": "大旺社区",
                    "cso_officer_id": "cso-1",
                },
                {
                    "credit_code": "91441200MA4WK3QAX5",
                    "name": LONE,
                    "chain": "other",
                    "community": "大旺社区",
                    "cso_officer_id": "cso-2",
                },
            ],
        )


def appeals() -> list[AppealReceived]:
    """Enough of each kind to fill the officers they go to, so later ones in the batch must see
    the counts the earlier ones left."""

    def of(*, code: str | None = None, name: str | None = None, **kw: Any) -> AppealReceived:
        values: dict[str, Any] = {
            "appellant": Appellant(
                name="陈经理",
                phone="13912345678",
                enterprise_credit_code=code,
                enterprise_name=name,
            ),
            "location": Location(address="大旺大道", community=None),
            "category": None,
        }
        values.update(kw)
        return received(**values)

    resident = Location(address="将军路", community="将军社区")
    dawang = Location(address="大旺路", community="大旺社区")
    events = [
        *(of(code=STAR) for _ in range(8)),  # CSO, assistant, the NEV team, then on down
        of(code=f" {STAR.lower()} "),  # the code as typed
        of(code="91441200MA4WK3Q7X2", category=Category.EMPLOYMENT),  # CSO off, assistant in
        *(of(code=RIVER) for _ in range(3)),
        of(name=f" {TWIN} ", category=Category.POLICY),
        of(name=LONE),
        *(of(category=Category.EMPLOYMENT) for _ in range(8)),
        *(of(location=resident) for _ in range(5)),
        *(of(location=dawang, category=Category.TRANSPORT) for _ in range(3)),
        of(category=Category.OTHER),
    ]
    # The same appeal again under a new event id, later in the batch: assigned once.
    events.append(events[3].model_copy())
    return events


def decided(row: Any) -> tuple[Any, ...]:
    return (
        row.appeal_id,
        row.officer_id,
        row.reason_code,
        row.reason,
        row.rules,
        row.routing_input,
        row.tracking_code,
        row.open,
    )


async def outcome(db: Database) -> tuple[list[Any], dict[str, int]]:
    async with db.transaction() as session:
        found = await session.execute(
            select(tables.assignments).order_by(tables.assignments.c.appeal_id)
        )
        loads = await session.execute(
            select(tables.officers.c.officer_id, tables.officers.c.open_assignments)
        )
        return [decided(r) for r in found], {o: n for o, n in loads}


def payloads(envelopes: list[Any]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in e.payload.items() if k != "assigned_at"}
        for e in envelopes
        if e.type == "AppealAssigned"
    ]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("duty_post", [True, False], ids=["duty_supervisor", "first_supervisor"])
async def test_a_batch_decides_as_one_at_a_time_in_a_handful_of_statements(
    db: Database, duty_post: bool
) -> None:
    await seed(db, duty_post=duty_post)
    events = appeals()
    units = UnitsOfWork.of(db, tables.metadata, producer="dispatch")

    one_at_a_time = []
    for e in events:
        async with units.begin() as uow:
            await ownership_in(uow).assign(e, "c")
        one_at_a_time.extend(uow.published)
    alone = await outcome(db)

    async with db.transaction() as session:
        await session.execute(delete(tables.assignments))
        await session.execute(update(tables.officers).values(open_assignments=0))
    with statements(db) as sent:
        async with units.begin() as uow:
            # As the consumer does: the decisions made afresh per message, over the one
            # repository attached to the batch's unit of work.
            await ownership_in(uow).prepare(events)
            for e in events:
                await ownership_in(uow).assign(e, "c")
    together = await outcome(db)

    assert together == alone
    assert payloads(uow.published) == payloads(one_at_a_time)
    assert len(payloads(one_at_a_time)) == len(events) - 1
    reasons = {row[2] for row in alone[0]}
    assert reasons == {
        "enterprise_cso",
        "cso_backup_assistant",
        "chain_team",
        "department",
        "community",
        "triage",
    }
    supervisor = "sup-2" if duty_post else "sup-1"
    assert {row[1] for row in alone[0] if row[2] == "triage"} == {supervisor}
    # Nobody the rules picked went past capacity; the supervisor takes what no rule fits.
    capacity = {"cso-1": 2, "pba-1": 1, "nev-1": 1, "nev-3": 3, "dept-1": 2, "dept-2": 3}
    assert all(alone[1][o] == n for o, n in capacity.items())
    assert alone[1]["nev-2"] == 0 and alone[1]["cw-3"] == 0  # on leave
    # Assignments, enterprises, departments, officers (locked); the claims; the assignments;
    # the outbox.
    assert len(sent) == 7, sent


async def test_a_batch_holds_the_officers_it_decides_from(db: Database) -> None:
    """The counts a batch decides from stay its own until it commits: another transaction's
    claim on an officer it loaded (picked or not) waits for it, then counts the batch's claims."""
    await seed(db, duty_post=True)
    units = UnitsOfWork.of(db, tables.metadata, producer="dispatch")
    first = received(category=Category.EMPLOYMENT, location=Location(address="大旺大道"))

    def claim(officer_id: str) -> Any:
        return text(
            "UPDATE dispatch.officers SET open_assignments = open_assignments + 1"
            " WHERE officer_id = :officer_id RETURNING open_assignments"
        ).bindparams(officer_id=officer_id)

    async with units.begin() as uow:
        decisions = ownership_in(uow)
        await decisions.prepare([first])
        await decisions.assign(first, "c")
        for officer_id in ("dept-1", "dept-2"):
            with pytest.raises(DBAPIError) as waited:
                async with db.transaction() as other:
                    await other.execute(text("SET LOCAL lock_timeout = '200ms'"))
                    await other.execute(claim(officer_id))
            assert "lock timeout" in str(waited.value), officer_id
    async with db.transaction() as other:
        after = (await other.execute(claim("dept-1"))).scalar_one()
    rows, _ = await outcome(db)
    assert [row[1] for row in rows] == ["dept-1"]
    assert after == 2


async def test_the_consumer_assigns_a_batch_with_its_duplicates_once(
    settings: Any, db: Database, topics: Any, wait_until: Any
) -> None:
    """Sent before dispatch starts, the appeals come in a poll or two: each appeal assigned once,
    published once, and every officer's count the assignments it holds."""
    await seed(db, duty_post=True)
    events = appeals()
    envelopes = [envelope_of(e) for e in events]
    envelopes.append(envelopes[0])  # the same event twice: the inbox drops the second
    for env in envelopes:
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)
    distinct = {e.appeal_id for e in events}

    async with running(build(settings)):

        async def all_assigned() -> list[Any] | None:
            found = (await outcome(db))[0]
            return found if len(found) == len(distinct) else None

        found = await wait_until(all_assigned, timeout_s=60)
    published = await topics.read(APPEALS_ASSIGNMENTS, at_least=len(distinct))
    assert sorted(r.json()["payload"]["appeal_id"] for r in published) == sorted(
        str(a) for a in distinct
    )
    loads = (await outcome(db))[1]
    held: dict[str, int] = {}
    for row in found:
        held[row[1]] = held.get(row[1], 0) + 1
    assert {o: n for o, n in loads.items() if n} == held
