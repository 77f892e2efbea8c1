"""Intake's set-based paths on a real Postgres: submissions answered together (one read, one
write, one transaction) give what one after another would, concurrent duplicates get one answer
across replicas, and a batch of lifecycle changes leaves what one change at a time leaves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import submission
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from services.intake import tables
from services.intake.channels import VisitLog
from services.intake.classification.rules import default_rules
from services.intake.lifecycle.handlers import on_status_changed
from services.intake.repeats.service import Repeats
from services.intake.submissions.form import AppealSubmission
from services.intake.submissions.service import Intake, Submitted
from services.intake.tracking_codes.codes import is_valid_tracking_code
from services.intake.tracking_codes.store import CodeBook
from shared import tracing
from shared.db import Database
from shared.envelope import Envelope
from shared.events import AppealStatusChanged
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import AppealStatus

pytestmark = pytest.mark.integration

WATER = (
    "江南小区3栋从周一开始停水，已经三天了，至今没有来水，老人小孩生活很不方便，请尽快恢复供水。"
)
WATER_AGAIN = "江南小区3栋停水三天了至今没有来水，请尽快恢复供水！"
LIGHTS = "江南小区门口的路灯坏了一个多星期，晚上出入很不安全，请派人维修。"


@asynccontextmanager
async def replica(settings: Any) -> AsyncIterator[Intake]:
    """An intake's use case on its own connection pool, as another process would have it."""
    db = Database(settings)
    try:
        units = UnitsOfWork.of(db, tables.metadata, producer="intake")
        yield Intake(units, CodeBook("DW", b"test-tracking-code-key"), default_rules(), Repeats())
    finally:
        await db.dispose()


def appeal(phone: str | None, content: str, **overrides: Any) -> AppealSubmission:
    appellant = {"name": "李女士", "phone": phone} if phone else {"anonymous": True}
    return AppealSubmission.model_validate(
        submission(appellant=appellant, content=content, **overrides)
    )


def visit() -> VisitLog:
    return VisitLog(
        visit_id=f"V-{uuid.uuid4().hex[:8]}",
        officer_id="cso-1",
        enterprise_credit_code="91441200000000001X",
        visited_at=datetime.now(UTC),
    )


def phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def group(caller: str) -> list[Submitted]:
    """A new appeal, a repeat of it, the first again, a visit twice, an anonymous appeal, and
    another appellant's."""
    first = appeal(caller, WATER)
    a_visit = visit()
    return [
        first,
        appeal(caller, WATER_AGAIN, channel="mayor_line"),
        first,
        a_visit,
        a_visit,
        appeal(None, WATER),
        appeal(phone(), LIGHTS),
    ]


def shape(answers: list[tuple[Any, bool]]) -> list[tuple[str, bool, int | None]]:
    """Each answer's status, whether it was new, and which earlier answer's appeal it names."""
    ids = [receipt.appeal_id for receipt, _ in answers]
    return [
        (receipt.status, new, None if receipt.appeal_id is None else ids.index(receipt.appeal_id))
        for receipt, new in answers
    ]


async def count(db: Database, table: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def outbox_types(db: Database) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(select(tables.outbox.c.headers).order_by(tables.outbox.c.id))
        return [row.headers["x-event-type"] for row in rows]


async def test_a_group_is_answered_as_one_submission_after_another(settings, db):
    async with replica(settings) as intake:
        together = group(phone())
        async with intake.units.begin() as uow:
            grouped = await intake.accept_in(uow, [(s, "c") for s in together])
        events_grouped = await outbox_types(db)
        one_by_one = []
        for item in group(phone()):
            async with intake.units.begin() as uow:
                one_by_one += await intake.accept_in(uow, [(item, "c")])
        events_all = await outbox_types(db)

    assert (
        shape(grouped)
        == shape(one_by_one)
        == [
            ("received", True, 0),
            ("merged", True, 0),
            ("received", False, 0),
            ("visit_logged", True, None),
            ("visit_logged", False, None),
            ("received", True, 5),
            ("received", True, 6),
        ]
    )
    assert grouped[2][0] == grouped[0][0] and grouped[4][0] == grouped[3][0]
    assert grouped[1][0].reason and grouped[1][0].tracking_code == grouped[0][0].tracking_code
    codes = [r.tracking_code for r, _ in grouped + one_by_one if r.tracking_code]
    assert all(is_valid_tracking_code(c, prefix="DW") for c in codes)
    assert len(set(codes)) == 6  # 3 appeals each way, the merge quoting its appeal's code
    expected = ["AppealReceived", "AppealMerged", "VisitLogged", "AppealReceived", "AppealReceived"]
    assert events_grouped == expected
    assert events_all == expected * 2
    assert await count(db, tables.appeals) == 6
    assert await count(db, tables.submissions) == 10


async def test_concurrent_duplicates_on_two_replicas_get_one_answer(settings, db):
    async with replica(settings) as a, replica(settings) as b:
        item = appeal(phone(), WATER)
        answers = await asyncio.gather(
            *(replica_.submit(item, f"c{i}") for i, replica_ in enumerate([a, b] * 4))
        )
    assert sorted(new for _, new in answers) == [False] * 7 + [True]
    assert len({receipt.model_dump_json() for receipt, _ in answers}) == 1
    assert await count(db, tables.appeals) == 1
    assert await outbox_types(db) == ["AppealReceived"]


async def test_a_submission_answered_meanwhile_gets_the_earlier_answer(settings, db, caplog):
    """Another replica's transaction holds the same (channel, external_id): this one waits for
    it, then answers what it answered; the rest of its group is still accepted."""
    async with replica(settings) as a, replica(settings) as b:
        held, fresh = appeal(phone(), WATER), appeal(phone(), LIGHTS)
        inserted, release = asyncio.Event(), asyncio.Event()

        async def other_replica() -> Any:
            async with b.units.begin() as uow:
                [answer] = await b.accept_in(uow, [(held, "b")])
                inserted.set()
                await release.wait()
            return answer

        earlier = asyncio.create_task(other_replica())
        await inserted.wait()
        # One group: both arrive before it starts.
        waiting = asyncio.gather(a.submit(held, "a"), a.submit(fresh, "a"))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "the insert waits for the other transaction"
        release.set()
        (held_answer, fresh_answer), (earlier_receipt, _) = await waiting, await earlier

    assert held_answer == (earlier_receipt, False)
    assert fresh_answer[1] is True and fresh_answer[0].status == "received"
    # The group found it answered, was rolled back and taken one at a time.
    assert any("one at a time" in r.getMessage() for r in caplog.records)
    assert await count(db, tables.appeals) == 2
    assert await outbox_types(db) == ["AppealReceived", "AppealReceived"]


async def test_a_submission_held_by_a_transaction_that_rolls_back_is_accepted(settings, db):
    async with replica(settings) as a, replica(settings) as b:
        item = appeal(phone(), WATER)
        inserted = asyncio.Event()
        release = asyncio.Event()

        async def other_replica() -> None:
            async with b.units.begin() as uow:
                await b.accept_in(uow, [(item, "b")])
                inserted.set()
                await release.wait()
                raise RuntimeError("the other transaction fails")

        failing = asyncio.create_task(other_replica())
        await inserted.wait()
        answer = asyncio.create_task(a.submit(item, "a"))
        await asyncio.sleep(0.3)
        release.set()
        with pytest.raises(RuntimeError):
            await failing
        receipt, new = await answer
    assert new is True and receipt.status == "received"
    assert await count(db, tables.appeals) == 1


async def test_each_submission_of_a_group_is_published_in_its_own_trace(settings, db):
    tracing.export_to(InMemorySpanExporter())
    try:
        async with replica(settings) as intake:
            sizes: list[int] = []
            run = intake._groups._run

            async def counted(calls: Any) -> Any:
                sizes.append(len(calls))
                return await run(calls)

            intake._groups._run = counted

            async def request(n: int) -> tuple[str, str | None]:
                with tracing.span("test", f"request {n}"):
                    receipt, _ = await intake.submit(appeal(phone(), WATER), f"c{n}")
                    return str(receipt.appeal_id), tracing.traceparent()

            sent = dict(await asyncio.gather(*(request(n) for n in range(5))))
    finally:
        tracing.off()
    async with db.transaction() as session:
        rows = await session.execute(select(tables.outbox.c.key, tables.outbox.c.headers))
        published = {row.key.decode(): row.headers.get("traceparent") for row in rows}
    assert max(sizes) > 1, sizes  # some of them did share a group
    assert published == sent


# --- appeals.lifecycle ------------------------------------------------------------------------

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)


def changed(appeal_id: uuid.UUID, to: AppealStatus, minutes: int) -> AppealStatusChanged:
    return AppealStatusChanged(
        appeal_id=appeal_id,
        tracking_code="DW-20261127-000001-0",
        from_status=None,
        to_status=to,
        changed_at=T0 + timedelta(minutes=minutes),
    )


HEARD = [
    (AppealStatus.ASSIGNED, 1),
    (AppealStatus.IN_PROGRESS, 3),
    (AppealStatus.ACCEPTED, 2),  # heard late: older than what is kept
    (AppealStatus.CLOSED, 4),
    (AppealStatus.REOPENED, 4),  # the same instant, heard after: it wins
    (AppealStatus.CLOSED, 9),  # closed again: the first closure's time is kept
    (AppealStatus.RESOLVED, 5),  # older than the last change
]


async def test_a_batch_of_status_changes_leaves_what_one_at_a_time_leaves(settings, db):
    async with replica(settings) as intake:
        appeals = []
        for content in (WATER, LIGHTS, WATER):
            async with intake.units.begin() as uow:
                [(receipt, _)] = await intake.accept_in(uow, [(appeal(phone(), content), "c")])
            appeals.append(receipt.appeal_id)
        batched, single, untouched = appeals

        def envelope(event: AppealStatusChanged) -> Envelope:
            return event.envelope(correlation_id="c", producer="tracking")

        async with intake.units.begin() as uow:
            for status, minutes in HEARD:
                event = changed(batched, status, minutes)
                await on_status_changed(uow, envelope(event), event)
            # Another appeal in the same batch, and one that intake never accepted.
            event = changed(untouched, AppealStatus.ASSIGNED, 1)
            await on_status_changed(uow, envelope(event), event)
            event = changed(uuid.uuid4(), AppealStatus.CLOSED, 1)
            await on_status_changed(uow, envelope(event), event)
        for status, minutes in HEARD:
            async with intake.units.begin() as uow:
                event = changed(single, status, minutes)
                await on_status_changed(uow, envelope(event), event)

    async with db.transaction() as session:
        rows = {
            row.appeal_id: (row.status, row.status_changed_at, row.closed_at)
            for row in await session.execute(
                select(
                    tables.appeals.c.appeal_id,
                    tables.appeals.c.status,
                    tables.appeals.c.status_changed_at,
                    tables.appeals.c.closed_at,
                )
            )
        }
    assert (
        rows[batched]
        == rows[single]
        == (
            AppealStatus.CLOSED.value,
            T0 + timedelta(minutes=9),
            T0 + timedelta(minutes=4),
        )
    )
    assert rows[untouched] == (AppealStatus.ASSIGNED.value, T0 + timedelta(minutes=1), None)
