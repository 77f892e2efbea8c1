"""Dispatch on a real broker and Postgres: the rules with the directory's own data, capacity
decided in the database across two replicas, closures freeing capacity, returns (退单),
reassignment and assisting officers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from factories import envelope_of, received
from harness import bearer, dev_token, eventually, running
from sqlalchemy import insert, select, update

from services.dispatch import tables
from shared.db import Database
from shared.events import (
    AppealReceived,
    AppealStatusChanged,
    Appellant,
    Location,
    ReassignmentRequested,
    ReturnRequested,
)
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, APPEALS_LIFECYCLE
from shared.vocabulary import AppealStatus, Category

pytestmark = pytest.mark.integration

DISPATCHER = bearer(dev_token("disp-1", ("officer", "dispatcher"), unit="指挥调度中心"))
SUPERVISOR = bearer(dev_token("sup-1", ("officer", "supervisor"), unit="人社局"))
OFFICER = bearer(dev_token("dept-1", ("officer",), unit="人社局"))
CREDIT_CODE = "91441200MA4WK3Q5X0"


def officer_row(officer_id: str, role: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "officer_id": officer_id,
        "name": f"干部{officer_id}",
        "phone": "13700000000",
        "email": f"{officer_id}@jiban.example",
        "role": role,
        "unit": "人社局",
        "on_duty": True,
        "capacity": 10,
        "categories": [],
        "communities": [],
        "department_id": None,
        "paired_officer_id": None,
        "chain": None,
        "leave": [],
    }
    row.update(kw)
    return row


async def seed(settings, *, department_capacity: int = 10, leave: list | None = None) -> None:
    """A small directory written straight into dispatch's tables: a department owning
    `employment` with two officers, an enterprise whose CSO has an assistant, two community
    workers, the duty supervisor and dispatcher."""
    db = Database(settings)
    try:
        async with db.transaction() as session:
            await session.execute(
                insert(tables.officers),
                [
                    officer_row(
                        "dept-1",
                        "department_officer",
                        department_id="hrss",
                        capacity=department_capacity,
                    ),
                    officer_row(
                        "dept-2",
                        "department_officer",
                        department_id="hrss",
                        capacity=department_capacity,
                    ),
                    officer_row(
                        "cso-1",
                        "chief_service_officer",
                        paired_officer_id="pba-1",
                        chain="nev",
                        leave=leave or [],
                    ),
                    officer_row("pba-1", "party_building_assistant", paired_officer_id="cso-1"),
                    officer_row("cw-1", "community_worker", communities=["将军社区"]),
                    officer_row("cw-2", "community_worker", communities=["将军社区"]),
                    officer_row("sup-1", "supervisor", capacity=5),
                    officer_row("disp-1", "department_officer", unit="指挥调度中心"),
                ],
            )
            await session.execute(
                insert(tables.departments).values(
                    department_id="hrss", name="人社局", categories=["employment"]
                )
            )
            await session.execute(
                insert(tables.duty),
                [
                    {"post": "supervisor", "officer_id": "sup-1"},
                    {"post": "dispatcher", "officer_id": "disp-1"},
                ],
            )
            await session.execute(
                insert(tables.enterprises).values(
                    credit_code=CREDIT_CODE,
                    name="肇庆星河新能源有限公司",
                    chain="nev",
                    community="将军社区",
                    cso_officer_id="cso-1",
                )
            )
    finally:
        await db.dispose()


async def rows(settings, query) -> list:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            return list((await session.execute(query)).all())
    finally:
        await db.dispose()


def appeal(**overrides) -> AppealReceived:
    values = {
        "appellant": Appellant(name="王先生", phone="13912345678"),
        "location": Location(address="大旺大道", community=None),
        "category": None,
    }
    values.update(overrides)
    return received(**values)


async def send(topics, topic: str, event) -> None:
    env = envelope_of(event)
    await topics.send(topic, env.to_bytes(), env.key)


async def assignment(settings, appeal_id):
    found = await rows(
        settings, select(tables.assignments).where(tables.assignments.c.appeal_id == appeal_id)
    )
    return found[0] if found else None


async def wait_for_pending(dispatch, officer_id: str) -> dict:
    async def pending():
        page = (
            await dispatch.get("/v1/returns", params={"status": "pending"}, headers=DISPATCHER)
        ).json()
        return next((r for r in page["items"] if r["officer_id"] == officer_id), None)

    return await eventually(pending, timeout_s=30)


async def ask_return(topics, dispatch, appeal_id, officer_id: str) -> dict:
    """Sends the officer's ReturnRequested and waits for it to await a ruling."""
    await send(
        topics,
        APPEALS_LIFECYCLE,
        ReturnRequested(
            appeal_id=appeal_id, officer_id=officer_id, reason_code="workload", reason="积压较多"
        ),
    )
    return await wait_for_pending(dispatch, officer_id)


async def test_each_rule_with_the_directory_data(settings, run_service, topics, wait_until):
    today = date.today()
    await seed(
        settings,
        leave=[{"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1))}],
    )
    cases = {
        # The CSO is on leave: the assistant takes the enterprise's appeal.
        "cso_backup_assistant": appeal(
            appellant=Appellant(
                name="陈经理", phone="13912345678", enterprise_credit_code=CREDIT_CODE
            )
        ),
        "department": appeal(category=Category.EMPLOYMENT),
        "community": appeal(location=Location(community="将军社区"), category=Category.OTHER),
        "triage": appeal(category=Category.TRANSPORT),
    }
    async with run_service("dispatch") as dispatch:
        for event in cases.values():
            await send(topics, APPEALS_IMMEDIATE, event)

        async def all_assigned():
            found = [await assignment(settings, e.appeal_id) for e in cases.values()]
            return found if all(found) else None

        found = await wait_until(all_assigned)
        explained = (
            await dispatch.get(f"/v1/appeals/{cases['cso_backup_assistant'].appeal_id}/routing")
        ).json()
    published = {
        r.json()["payload"]["appeal_id"]: r.json()["payload"]
        for r in await topics.read(APPEALS_ASSIGNMENTS, at_least=len(cases))
    }
    # An enterprise's appeal names the enterprise and its CSO's assistant (notify copies them in).
    enterprise_appeal = published[str(cases["cso_backup_assistant"].appeal_id)]
    assert (enterprise_appeal["enterprise_credit_code"], enterprise_appeal["cso_assistant_id"]) == (
        CREDIT_CODE,
        "pba-1",
    )
    assert published[str(cases["department"].appeal_id)]["cso_assistant_id"] is None
    got = {row.reason_code: row.officer_id for row in found}
    assert got["cso_backup_assistant"] == "pba-1"
    assert got["department"] in {"dept-1", "dept-2"}
    assert got["community"] in {"cw-1", "cw-2"}
    assert got["triage"] == "sup-1"
    assert set(got) == set(cases)
    assert explained["officer_id"] == "pba-1"
    assert [r["rule"] for r in explained["rules"]][:2] == ["enterprise_cso", "cso_backup_assistant"]
    assert explained["rules"][0]["matched"] is False and "休假" in explained["rules"][0]["why"]
    assert explained["rules"][1]["matched"] is True


async def test_two_replicas_never_push_an_officer_past_capacity(settings, topics, wait_until):
    from services.dispatch.app import build

    await seed(settings, department_capacity=3)
    events = [appeal(category=Category.EMPLOYMENT) for _ in range(24)]
    async with running(build(settings)), running(build(settings)):
        # Both replicas are in the group (each waits for its assignment) before the burst.
        await asyncio.sleep(1)
        await asyncio.gather(*(send(topics, APPEALS_IMMEDIATE, e) for e in events))

        async def all_assigned():
            found = await rows(settings, select(tables.assignments))
            return found if len(found) >= len(events) else None

        found = await wait_until(all_assigned, timeout_s=60)
    by_officer: dict[str, int] = {}
    for row in found:
        by_officer[row.officer_id] = by_officer.get(row.officer_id, 0) + 1
    assert by_officer.get("dept-1") == 3 and by_officer.get("dept-2") == 3
    assert by_officer.get("sup-1") == len(events) - 6  # triage takes the rest: never dropped
    loads = {
        r.officer_id: r.open_assignments for r in await rows(settings, select(tables.officers))
    }
    assert loads["dept-1"] == 3 and loads["dept-2"] == 3


async def test_closing_frees_capacity(settings, run_service, topics, wait_until):
    await seed(settings, department_capacity=1)
    first, second = appeal(category=Category.EMPLOYMENT), appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch"):
        await send(topics, APPEALS_IMMEDIATE, first)
        owner = (await wait_until(lambda: assignment(settings, first.appeal_id))).officer_id
        closed = AppealStatusChanged(
            appeal_id=first.appeal_id,
            from_status=AppealStatus.RESOLVED,
            to_status=AppealStatus.CLOSED,
            changed_at=datetime.now(UTC),
        )
        await send(topics, APPEALS_LIFECYCLE, closed)

        async def freed():
            row = await assignment(settings, first.appeal_id)
            return row if not row.open else None

        await wait_until(freed)
        loads = {
            r.officer_id: r.open_assignments for r in await rows(settings, select(tables.officers))
        }
        await send(topics, APPEALS_IMMEDIATE, second)
        await wait_until(lambda: assignment(settings, second.appeal_id))
    assert loads[owner] == 0


async def test_returns_rejected_accepted_and_the_two_return_limit(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, event)
        first = (await wait_until(lambda: assignment(settings, event.appeal_id))).officer_id
        path = f"/v1/appeals/{event.appeal_id}/return-decision"
        nothing_pending = await dispatch.post(path, json={"decision": "accept"}, headers=DISPATCHER)
        await ask_return(topics, dispatch, event.appeal_id, first)
        by_officer = await dispatch.post(path, json={"decision": "reject"}, headers=OFFICER)
        rejected = await dispatch.post(
            path, json={"decision": "reject", "note": "首接负责"}, headers=DISPATCHER
        )
        still = await assignment(settings, event.appeal_id)
        await ask_return(topics, dispatch, event.appeal_id, first)
        accepted = await dispatch.post(path, json={"decision": "accept"}, headers=DISPATCHER)
        second = accepted.json()["officer_id"]
        await ask_return(topics, dispatch, event.appeal_id, second)
        twice = await dispatch.post(path, json={"decision": "accept"}, headers=DISPATCHER)
        officers = {r.officer_id: r for r in await rows(settings, select(tables.officers))}
        published = await topics.read(APPEALS_ASSIGNMENTS, at_least=6)
    assert nothing_pending.status_code == 409
    assert by_officer.status_code == 403
    assert rejected.status_code == 200 and still.officer_id == first
    assert accepted.status_code == 200 and second not in {first, "sup-1"}
    assert {first, second} == {"dept-1", "dept-2"}
    assert twice.json()["officer_id"] == "sup-1"  # two accepted returns: the duty supervisor
    assert (officers[first].returns_rejected, officers[first].returns_accepted) == (1, 1)
    assert (officers[second].returns_rejected, officers[second].returns_accepted) == (0, 1)
    kinds = [
        (r.json()["type"], r.json()["payload"].get("decision") or r.json()["payload"].get("cause"))
        for r in published
    ]
    assert kinds == [
        ("AppealAssigned", None),
        ("ReturnDecided", "reject"),
        ("ReturnDecided", "accept"),
        ("AppealReassigned", "return"),
        ("ReturnDecided", "accept"),
        ("AppealReassigned", "return"),
    ]
    assert officers[first].open_assignments == 0 and officers["sup-1"].open_assignments == 1


async def test_a_not_my_area_return_with_a_clear_owner_is_accepted_at_once(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch"):
        await send(topics, APPEALS_IMMEDIATE, event)
        first = (await wait_until(lambda: assignment(settings, event.appeal_id))).officer_id
        await send(
            topics,
            APPEALS_LIFECYCLE,
            ReturnRequested(
                appeal_id=event.appeal_id,
                officer_id=first,
                reason_code="not_my_area",
                reason="非本人职责",
            ),
        )

        async def moved():
            row = await assignment(settings, event.appeal_id)
            return row if row.officer_id != first else None

        row = await wait_until(moved)
        decided = [
            r.json()["payload"]
            for r in await topics.read(APPEALS_ASSIGNMENTS, at_least=3)
            if r.json()["type"] == "ReturnDecided"
        ]
    assert row.reason_code == "department" and row.officer_id in {"dept-1", "dept-2"}
    assert decided[0]["automatic"] is True and decided[0]["decided_by"] == "dispatch"
    assert "规则明确找到其他承办人" in decided[0]["note"]


async def test_reassignment_requested_manual_and_assistants(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, event)
        first = (await wait_until(lambda: assignment(settings, event.appeal_id))).officer_id
        await send(
            topics,
            APPEALS_LIFECYCLE,
            ReassignmentRequested(appeal_id=event.appeal_id, reason_code="not_acknowledged"),
        )

        async def moved():
            row = await assignment(settings, event.appeal_id)
            return row if row.officer_id != first else None

        second = (await wait_until(moved)).officer_id
        base = f"/v1/appeals/{event.appeal_id}"
        by_officer = await dispatch.post(
            f"{base}/reassign", json={"officer_id": "cw-1"}, headers=OFFICER
        )
        unknown = await dispatch.post(
            f"{base}/reassign", json={"officer_id": "nobody"}, headers=SUPERVISOR
        )
        manual = await dispatch.post(
            f"{base}/reassign",
            json={"officer_id": "cw-1", "note": "熟悉该企业"},
            headers=SUPERVISOR,
        )
        helpers = await dispatch.post(
            f"{base}/assistants", json={"officer_ids": ["dept-1", "dept-2"]}, headers=SUPERVISOR
        )
        bad_helpers = await dispatch.post(
            f"{base}/assistants", json={"officer_ids": ["ghost"]}, headers=SUPERVISOR
        )
        lead_reads = await dispatch.get(
            f"/v1/assignments/{event.appeal_id}", headers=bearer(dev_token("cw-1", ("officer",)))
        )
        assistant_reads = await dispatch.get(
            f"/v1/assignments/{event.appeal_id}", headers=bearer(dev_token("dept-2", ("officer",)))
        )
        stranger = await dispatch.get(
            f"/v1/assignments/{event.appeal_id}", headers=bearer(dev_token("cw-2", ("officer",)))
        )
        anonymous = await dispatch.get(
            f"/v1/assignments/{event.appeal_id}", headers={"Authorization": ""}
        )
        published = await topics.read(APPEALS_ASSIGNMENTS, at_least=4)
    assert second != first and second in {"dept-1", "dept-2"}
    assert by_officer.status_code == 403
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == [
        "body",
        "officer_id",
    ]
    assert manual.status_code == 200, manual.text
    assert manual.json()["officer_id"] == "cw-1" and manual.json()["reason_code"] == "manual"
    assert helpers.status_code == 200 and helpers.json()["assistant_officer_ids"] == [
        "dept-1",
        "dept-2",
    ]
    assert bad_helpers.status_code == 422 and bad_helpers.json()["detail"][0]["loc"] == [
        "body",
        "officer_ids",
    ]
    assert lead_reads.status_code == 200 and assistant_reads.status_code == 200
    assert stranger.status_code == 403 and anonymous.status_code == 401
    types = [r.json()["type"] for r in published]
    assert types == ["AppealAssigned", "AppealReassigned", "AppealReassigned", "AssistantsChanged"]
    causes = [
        r.json()["payload"]["cause"] for r in published if r.json()["type"] == "AppealReassigned"
    ]
    assert causes == ["reassignment_request", "manual"]
    loads = {
        r.officer_id: r.open_assignments for r in await rows(settings, select(tables.officers))
    }
    assert loads[first] == 0 and loads[second] == 0 and loads["cw-1"] == 1


async def test_a_closed_appeal_no_longer_moves(settings, run_service, topics, wait_until):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, event)
        await wait_until(lambda: assignment(settings, event.appeal_id))
        db = Database(settings)
        try:
            async with db.transaction() as session:
                await session.execute(
                    update(tables.assignments)
                    .where(tables.assignments.c.appeal_id == event.appeal_id)
                    .values(open=False)
                )
        finally:
            await db.dispose()
        moved = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/reassign", json={}, headers=SUPERVISOR
        )
        missing = await dispatch.post(
            f"/v1/appeals/{uuid.uuid4()}/reassign", json={}, headers=SUPERVISOR
        )
    assert moved.status_code == 409
    assert missing.status_code == 404


async def test_a_directory_change_takes_effect_for_the_next_decision(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    from_enterprise = Appellant(
        name="陈经理", phone="13912345678", enterprise_credit_code=CREDIT_CODE
    )
    before, after_leave, after_duty = (appeal(appellant=from_enterprise) for _ in range(3))
    today = date.today()
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, before)
        first = await wait_until(lambda: assignment(settings, before.appeal_id))
        leave = {
            "leave": [
                {"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=2))}
            ]
        }
        on_leave = await dispatch.patch("/v1/officers/cso-1", json=leave, headers=SUPERVISOR)
        await send(topics, APPEALS_IMMEDIATE, after_leave)
        second = await wait_until(lambda: assignment(settings, after_leave.appeal_id))
        back = await dispatch.patch("/v1/officers/cso-1", json={"leave": []}, headers=SUPERVISOR)
        off = await dispatch.patch(
            "/v1/officers/pba-1", json={"on_duty": False}, headers=SUPERVISOR
        )
        off_cso = await dispatch.patch(
            "/v1/officers/cso-1", json={"on_duty": False}, headers=SUPERVISOR
        )
        await send(topics, APPEALS_IMMEDIATE, after_duty)
        third = await wait_until(lambda: assignment(settings, after_duty.appeal_id))
    assert {r.status_code for r in (on_leave, back, off, off_cso)} == {200}
    assert (first.officer_id, first.reason_code) == ("cso-1", "enterprise_cso")
    assert (second.officer_id, second.reason_code) == ("pba-1", "cso_backup_assistant")
    # CSO and assistant both away: the enterprise's chain team has nobody else, so the rules go
    # on down the list (no category, not a resident) to the duty supervisor.
    assert (third.officer_id, third.reason_code) == ("sup-1", "triage")


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    [
        ("get", "/v1/returns", None, DISPATCHER),
        ("post", "/v1/appeals/{id}/return-decision", {"decision": "reject"}, DISPATCHER),
        ("post", "/v1/appeals/{id}/reassign", {}, SUPERVISOR),
        ("post", "/v1/appeals/{id}/assistants", {"officer_ids": []}, SUPERVISOR),
        ("get", "/v1/appeals/{id}/routing", None, SUPERVISOR),
        ("get", "/v1/assignments/{id}", None, SUPERVISOR),
    ],
)
async def test_every_appeal_route_needs_the_right_sign_in(
    settings, run_service, method, path, body, allowed
):
    url = path.format(id=uuid.uuid4())
    kwargs = {} if body is None else {"json": body}
    async with run_service("dispatch") as dispatch:
        call = getattr(dispatch, method)
        anonymous = await call(url, headers={"Authorization": ""}, **kwargs)
        garbage = await call(url, headers=bearer("not-a-token"), **kwargs)
        plain = await call(url, headers=bearer(dev_token("cw-9", ("officer",))), **kwargs)
        right = await call(url, headers=allowed, **kwargs)
    assert anonymous.status_code == 401 and garbage.status_code == 401
    assert anonymous.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert plain.status_code == 403
    # The right role gets past sign-in: the unknown appeal is then 404 (or an empty list).
    assert right.status_code in {200, 404}, right.text
    assert right.status_code == (200 if path == "/v1/returns" else 404)


def accepts_travel_with_their_move(published) -> bool:
    """Every ReturnDecided `accept` is followed at once by the AppealReassigned that moves it."""
    kinds = [(r.json()["type"], r.json()["payload"]) for r in published]
    for index, (kind, payload) in enumerate(kinds):
        if kind == "ReturnDecided" and payload["decision"] == "accept":
            following = kinds[index + 1] if index + 1 < len(kinds) else (None, {})
            if following[0] != "AppealReassigned" or following[1]["cause"] != "return":
                return False
    return True


async def test_a_reassignment_settles_the_pending_return_and_the_next_return_is_heard(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, event)
        first = (await wait_until(lambda: assignment(settings, event.appeal_id))).officer_id
        await ask_return(topics, dispatch, event.appeal_id, first)
        await send(
            topics,
            APPEALS_LIFECYCLE,
            ReassignmentRequested(appeal_id=event.appeal_id, reason_code="not_acknowledged"),
        )

        async def moved():
            row = await assignment(settings, event.appeal_id)
            return row if row.officer_id != first else None

        second = (await wait_until(moved)).officer_id
        pending_after_move = (
            await dispatch.get("/v1/returns", params={"status": "pending"}, headers=DISPATCHER)
        ).json()["items"]
        superseded = (
            await dispatch.get("/v1/returns", params={"status": "superseded"}, headers=DISPATCHER)
        ).json()["items"]
        stale_ruling = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/return-decision",
            json={"decision": "accept"},
            headers=DISPATCHER,
        )
        # The new holder's return is heard although the first officer's was never ruled on.
        heard = await ask_return(topics, dispatch, event.appeal_id, second)
        accepted = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/return-decision",
            json={"decision": "accept"},
            headers=DISPATCHER,
        )
        officers = {r.officer_id: r for r in await rows(settings, select(tables.officers))}
        published = await topics.read(APPEALS_ASSIGNMENTS, at_least=4)
    assert second != first and second in {"dept-1", "dept-2"}
    assert pending_after_move == []
    assert len(superseded) == 1 and superseded[0]["officer_id"] == first
    assert superseded[0]["decided_by"] == "dispatch" and superseded[0]["decided_at"] is not None
    assert "改派" in superseded[0]["note"]
    assert stale_ruling.status_code == 409
    assert heard["officer_id"] == second
    assert accepted.status_code == 200 and accepted.json()["officer_id"] == "sup-1"
    # A superseded return is counted neither accepted nor rejected.
    assert (officers[first].returns_accepted, officers[first].returns_rejected) == (0, 0)
    assert (officers[second].returns_accepted, officers[second].returns_rejected) == (1, 0)
    kinds = [
        (r.json()["type"], r.json()["payload"].get("decision") or r.json()["payload"].get("cause"))
        for r in published
    ]
    assert kinds == [
        ("AppealAssigned", None),
        ("AppealReassigned", "reassignment_request"),
        ("ReturnDecided", "accept"),
        ("AppealReassigned", "return"),
    ]
    assert accepts_travel_with_their_move(published)


async def test_a_manual_reassignment_settles_the_pending_return(
    settings, run_service, topics, wait_until
):
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch:
        await send(topics, APPEALS_IMMEDIATE, event)
        first = (await wait_until(lambda: assignment(settings, event.appeal_id))).officer_id
        await ask_return(topics, dispatch, event.appeal_id, first)
        manual = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/reassign",
            json={"officer_id": "cw-1", "note": "熟悉情况"},
            headers=SUPERVISOR,
        )
        stale_ruling = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/return-decision",
            json={"decision": "reject"},
            headers=DISPATCHER,
        )
        returns = await rows(
            settings, select(tables.returns).where(tables.returns.c.appeal_id == event.appeal_id)
        )
        officers = {r.officer_id: r for r in await rows(settings, select(tables.officers))}
        published = await topics.read(APPEALS_ASSIGNMENTS, at_least=2)
    assert manual.status_code == 200 and manual.json()["officer_id"] == "cw-1"
    assert stale_ruling.status_code == 409
    assert [(r.officer_id, r.status, r.decided_by) for r in returns] == [
        (first, "superseded", "sup-1")
    ]
    assert returns[0].decided_at is not None and "改派" in returns[0].note
    assert (officers[first].returns_accepted, officers[first].returns_rejected) == (0, 0)
    assert [r.json()["type"] for r in published] == ["AppealAssigned", "AppealReassigned"]


async def test_tracking_follows_returns_and_reassignments_to_the_end(
    settings, run_service, topics, wait_until
):
    """The whole loop with tracking: a return pending at a reassignment ends with it, the next
    holder's return is heard and ruled on, and tracking is never left `returned`."""
    await seed(settings)
    event = appeal(category=Category.EMPLOYMENT)
    async with run_service("dispatch") as dispatch, run_service("tracking") as tracking:

        async def tracked(status: str, officer_id: str):
            async def check():
                response = await tracking.get(f"/v1/appeals/{event.appeal_id}")
                view = response.json() if response.status_code == 200 else {}
                wanted = (view.get("status"), view.get("officer_id")) == (status, officer_id)
                return view if wanted else None

            return await wait_until(check, timeout_s=40)

        async def give_back(officer_id: str) -> int:
            response = await tracking.post(
                f"/v1/appeals/{event.appeal_id}/return",
                json={"reason_code": "workload", "reason": "积压较多"},
                headers=bearer(dev_token(officer_id, ("officer",), unit="人社局")),
            )
            return response.status_code

        await send(topics, APPEALS_IMMEDIATE, event)
        await tracked("assigned", "dept-1")
        first_return = await give_back("dept-1")
        await tracked("returned", "dept-1")
        await wait_for_pending(dispatch, "dept-1")
        moved = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/reassign",
            json={"officer_id": "dept-2"},
            headers=SUPERVISOR,
        )
        await tracked("assigned", "dept-2")
        second_return = await give_back("dept-2")
        await tracked("returned", "dept-2")
        await wait_for_pending(dispatch, "dept-2")
        ruled = await dispatch.post(
            f"/v1/appeals/{event.appeal_id}/return-decision",
            json={"decision": "accept"},
            headers=DISPATCHER,
        )
        final = await tracked("assigned", "sup-1")
        returns = await rows(
            settings, select(tables.returns).where(tables.returns.c.appeal_id == event.appeal_id)
        )
    assert (first_return, second_return) == (200, 200)
    assert moved.status_code == 200 and ruled.status_code == 200
    assert sorted((r.officer_id, r.status) for r in returns) == [
        ("dept-1", "superseded"),
        ("dept-2", "accepted"),
    ]
    steps = [
        (entry["kind"], entry["from_status"], entry["to_status"])
        for entry in final["history"]
        if entry["kind"] not in {"received", "deadlines_set"}
    ]
    assert steps == [
        ("assigned", "received", "assigned"),
        ("request_return", "assigned", "returned"),
        ("reassigned", "returned", "assigned"),  # the pending return ended with the move
        ("request_return", "assigned", "returned"),
        ("return_decided", "returned", "returned"),
        ("reassigned", "returned", "assigned"),
    ]
