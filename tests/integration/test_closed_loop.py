"""The closed loop on the real broker and database: officers work their appeals over HTTP
(accept, contact, progress, resolve, return, extension), the call-back's results come in from
appeals.follow-ups, and every change is refused or made by the lifecycle, recorded in the
history and published on appeals.lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from factories import assigned, envelope_of, received
from harness import bearer, dev_token
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.tracking import tables as store
from services.tracking.deadlines.working_days import WorkingCalendar
from shared.events import (
    FollowUpRecorded,
    OfficerChanged,
    ReturnDecided,
)
from shared.topics import (
    APPEALS_ASSIGNMENTS,
    APPEALS_FOLLOW_UPS,
    APPEALS_IMMEDIATE,
    APPEALS_LIFECYCLE,
    DIRECTORY_CHANGES,
)
from shared.vocabulary import AppealType, Channel, OfficerRole, Satisfaction

pytestmark = pytest.mark.integration

UNIT = "大旺社区"
CW7 = bearer(dev_token("cw-7", ("officer",), UNIT))
CW8 = bearer(dev_token("cw-8", ("officer",), UNIT))
SUPERVISOR = bearer(dev_token("sup-1", ("supervisor",), UNIT))
OTHER_SUPERVISOR = bearer(dev_token("sup-9", ("supervisor",), "荔枝社区"))


def _officer(officer_id: str) -> OfficerChanged:
    return OfficerChanged(
        officer_id=officer_id,
        name=f"干部{officer_id}",
        role=OfficerRole.COMMUNITY_WORKER,
        unit=UNIT,
        on_duty=True,
        supervisor_id="sup-1",
    )


async def _send(topics, topic: str, event) -> None:
    env = envelope_of(event)
    await topics.send(topic, env.to_bytes(), env.key)


async def _assigned_appeal(topics, tracking, wait_until, officer_id="cw-7", **kw) -> UUID:
    appeal = received(appeal_type=AppealType.COMPLAINT, **kw)
    await _send(topics, APPEALS_IMMEDIATE, appeal)
    await _send(topics, APPEALS_ASSIGNMENTS, assigned(appeal.appeal_id, officer_id))

    async def ready():
        r = await tracking.get(f"/v1/appeals/{appeal.appeal_id}")
        return r.status_code == 200 and r.json()["status"] == "assigned"

    await wait_until(ready)
    return appeal.appeal_id


def _follow_up(appeal_id: UUID, solved: bool, satisfaction: Satisfaction) -> FollowUpRecorded:
    return FollowUpRecorded(
        appeal_id=appeal_id,
        channel=Channel.HOTLINE_12345,
        contacted=True,
        solved=solved,
        satisfaction=satisfaction,
        recorded_at=datetime.now(UTC),
    )


async def _status_is(tracking, wait_until, appeal_id: UUID, status: str) -> dict:
    async def check():
        body = (await tracking.get(f"/v1/appeals/{appeal_id}")).json()
        return body if body.get("status") == status else None

    return await wait_until(check)


async def test_an_appeal_goes_round_the_loop_reopened_twice_escalated_then_closed(
    settings, run_service, topics, wait_until
):
    for officer_id in ("cw-7", "cw-8"):
        await _send(topics, DIRECTORY_CHANGES, _officer(officer_id))
    async with run_service("tracking") as tracking:
        appeal_id = await _assigned_appeal(topics, tracking, wait_until)
        url = f"/v1/appeals/{appeal_id}"

        queue = (await tracking.get("/v1/me/queue", headers=CW7)).json()
        [item] = queue["items"]
        assert (item["appeal_id"], item["role"], item["due_stage"]) == (
            str(appeal_id),
            "lead",
            "acknowledge",
        )
        assert 0 < item["time_left_s"] <= 24 * 3600 and not item["overdue"]
        assert (await tracking.get("/v1/me/queue", headers=CW8)).json()["items"] == []

        # Only the appeal's own officer acts on it.
        assert (await tracking.post(f"{url}/accept", json={}, headers=CW8)).status_code == 403
        assert (await tracking.post(f"{url}/accept", json={})).status_code == 403  # ops
        # Out of order: refused with the reason.
        early = await tracking.post(f"{url}/contact", json={"method": "phone"}, headers=CW7)
        assert early.status_code == 409
        assert "accept" in early.json()["detail"] and early.json()["status"] == "assigned"
        bad = await tracking.post(f"{url}/contact", json={"method": "fax"}, headers=CW7)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "method"]

        for round_ in range(3):
            accepted = await tracking.post(f"{url}/accept", json={}, headers=CW7)
            assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
            again = await tracking.post(f"{url}/accept", json={}, headers=CW7)
            assert again.status_code == 409 and "already accepted" in again.json()["detail"]
            blind = await tracking.post(
                f"{url}/resolve", json={"resolution": "已处理"}, headers=CW7
            )
            assert blind.status_code == 409 and "contact" in blind.json()["detail"]
            contact = {"method": "phone", "note": "已电话联系王先生"}
            assert (
                await tracking.post(f"{url}/contact", json=contact, headers=CW7)
            ).status_code == 200
            moving = await tracking.post(
                f"{url}/progress", json={"note": "已派员到场"}, headers=CW7
            )
            assert moving.json()["status"] == "in_progress"
            done = await tracking.post(
                f"{url}/resolve", json={"resolution": "已恢复供水"}, headers=CW7
            )
            assert done.status_code == 200 and done.json()["status"] == "resolved"
            assert done.json()["due_at"] is None  # nothing left for the officer
            if round_ < 2:
                await _send(
                    topics,
                    APPEALS_FOLLOW_UPS,
                    _follow_up(appeal_id, False, Satisfaction.UNSATISFIED),
                )
                await _status_is(tracking, wait_until, appeal_id, "reopened")
        final = _follow_up(appeal_id, True, Satisfaction.BASICALLY_SATISFIED)
        env = envelope_of(final)
        await topics.send(APPEALS_FOLLOW_UPS, env.to_bytes(), env.key)
        closed = await _status_is(tracking, wait_until, appeal_id, "closed")
        # The same result again (a redelivery under its event id) changes nothing.
        await topics.send(APPEALS_FOLLOW_UPS, env.to_bytes(), env.key)
        late = await tracking.post(f"{url}/progress", json={"note": "补充"}, headers=CW7)
        assert late.status_code == 409 and "closed" in late.json()["detail"]
        assert (await tracking.get("/v1/me/queue", headers=CW7)).json()["items"] == []

    events = [
        r.json()
        for r in await topics.read(APPEALS_LIFECYCLE, at_least=18)
        if r.json()["subject_id"] == str(appeal_id)
    ]
    changes = [
        (e["payload"]["from_status"], e["payload"]["to_status"])
        for e in events
        if e["type"] == "AppealStatusChanged"
    ]
    one_round = [("accepted", "in_progress"), ("in_progress", "resolved")]
    # The receipt and the assignment travel on two topics: whichever tracking hears first,
    # they are announced in lifecycle order.
    assert changes[:2] == [(None, "received"), ("received", "assigned")]
    assert changes[2:] == [
        ("assigned", "accepted"),
        *one_round,
        ("resolved", "reopened"),
        ("reopened", "accepted"),
        *one_round,
        ("resolved", "reopened"),
        ("reopened", "accepted"),
        *one_round,
        ("resolved", "closed"),
    ]
    resolved = next(
        e["payload"]
        for e in events
        if e["type"] == "AppealStatusChanged" and e["payload"]["to_status"] == "resolved"
    )
    assert (resolved["changed_by"], resolved["note"]) == ("cw-7", "已恢复供水")
    last = [e for e in events if e["type"] == "AppealStatusChanged"][-1]["payload"]
    assert (last["closed_reason"], last["changed_by"]) == ("resolved", "channel:hotline_12345")
    escalations = [e["payload"] for e in events if e["type"] == "AppealEscalated"]
    assert [(e["reopen_count"], e["supervisor_id"]) for e in escalations] == [(2, "sup-1")]
    assert closed["closed_reason"] == "resolved"
    kinds = [h["kind"] for h in closed["history"]]
    assert kinds.count("follow_up") == 3  # the redelivered result is not in it


async def test_a_return_waits_for_the_dispatcher_and_a_rejection_gives_it_back(
    settings, run_service, topics, wait_until
):
    async with run_service("tracking") as tracking:
        appeal_id = await _assigned_appeal(topics, tracking, wait_until)
        url = f"/v1/appeals/{appeal_id}"
        await tracking.post(f"{url}/accept", json={}, headers=CW7)
        back = {"reason_code": "not_my_area", "reason": "属道路管养，非社区职责"}
        returned = await tracking.post(f"{url}/return", json=back, headers=CW7)
        assert returned.status_code == 200 and returned.json()["status"] == "returned"
        waiting = await tracking.post(f"{url}/progress", json={"note": "x"}, headers=CW7)
        assert waiting.status_code == 409 and "dispatcher" in waiting.json()["detail"]
        ruling = ReturnDecided(
            appeal_id=appeal_id,
            officer_id="cw-7",
            decision="reject",
            decided_by="disp-1",
            note="属社区职责",
            decided_at=datetime.now(UTC),
        )
        await _send(topics, APPEALS_ASSIGNMENTS, ruling)
        await _status_is(tracking, wait_until, appeal_id, "accepted")
    requests = [
        r.json()["payload"]
        for r in await topics.read(APPEALS_LIFECYCLE, at_least=4)
        if r.json()["type"] == "ReturnRequested"
    ]
    assert requests == [
        {
            "appeal_id": str(appeal_id),
            "officer_id": "cw-7",
            "reason_code": "not_my_area",
            "reason": "属道路管养，非社区职责",
        }
    ]


async def test_an_extension_is_asked_by_the_officer_and_granted_by_the_units_supervisor(
    settings, run_service, topics, wait_until
):
    await _send(topics, DIRECTORY_CHANGES, _officer("cw-7"))
    async with run_service("tracking") as tracking:
        appeal_id = await _assigned_appeal(topics, tracking, wait_until)
        url = f"/v1/appeals/{appeal_id}"

        async def unit_known():
            r = await tracking.get(url, headers=SUPERVISOR)
            return r.status_code == 200

        await wait_until(unit_known)
        ask = {"days": 3, "reason": "需协调供水公司更换管道"}
        early = await tracking.post(f"{url}/extension", json=ask, headers=CW7)
        assert early.status_code == 409  # accept first
        await tracking.post(f"{url}/accept", json={}, headers=CW7)
        asked = await tracking.post(f"{url}/extension", json=ask, headers=CW7)
        assert asked.status_code == 201 and asked.json()["status"] == "pending"
        due = datetime.fromisoformat(asked.json()["due_at"])
        twice = await tracking.post(f"{url}/extension", json=ask, headers=CW7)
        assert twice.status_code == 409 and "pending" in twice.json()["detail"]
        too_long = await tracking.post(f"{url}/extension", json={**ask, "days": 99}, headers=CW7)
        assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == [
            "body",
            "days",
        ]

        decision = {"decision": "grant", "note": "同意"}
        for who in (CW7, OTHER_SUPERVISOR):
            refused = await tracking.post(f"{url}/extension-decision", json=decision, headers=who)
            assert refused.status_code == 403
        granted = await tracking.post(
            f"{url}/extension-decision", json=decision, headers=SUPERVISOR
        )
        assert granted.status_code == 200 and granted.json()["status"] == "granted"
        moved = datetime.fromisoformat(granted.json()["due_at"])
        assert moved == WorkingCalendar.from_file().add_working_days(due, 3)
        none_left = await tracking.post(
            f"{url}/extension-decision", json=decision, headers=SUPERVISOR
        )
        assert none_left.status_code == 409

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            deadline = (
                await conn.execute(
                    select(store.deadlines).where(
                        store.deadlines.c.appeal_id == appeal_id,
                        store.deadlines.c.stage == "resolve",
                    )
                )
            ).one()
            kinds = (
                (
                    await conn.execute(
                        select(store.history.c.kind).where(store.history.c.appeal_id == appeal_id)
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert deadline.due_at == moved
    assert deadline.extensions[0]["working_days"] == 3
    assert "extended by 3 working days" in deadline.reason
    assert {"extension_requested", "extension_decided"} <= set(kinds)
    events = {r.json()["type"] for r in await topics.read(APPEALS_LIFECYCLE, at_least=5)}
    assert {"ExtensionRequested", "ExtensionDecided"} <= events


async def test_an_officers_queue_comes_in_pages_nearest_deadline_first(
    settings, run_service, topics, wait_until
):
    await _send(topics, DIRECTORY_CHANGES, _officer("cw-7"))
    async with run_service("tracking") as tracking:
        ids = [await _assigned_appeal(topics, tracking, wait_until) for _ in range(3)]

        # Each deadline is set when its receipt is heard (which may follow the assignment).
        async def all_due():
            queue = (await tracking.get("/v1/me/queue", headers=CW7)).json()
            return queue if all(item["due_at"] for item in queue["items"]) else None

        whole = await wait_until(all_due)
        pages, cursor = [], None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await tracking.get("/v1/me/queue", params=params, headers=CW7)).json()
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await tracking.get("/v1/me/queue", params={"cursor": "nonsense"}, headers=CW7)
    assert whole["next_cursor"] is None
    assert {item["appeal_id"] for item in whole["items"]} == {str(i) for i in ids}
    due = [item["due_at"] for item in whole["items"]]
    assert due == sorted(due)
    # Page by page, the same appeals in the same order, each once.
    assert [len(p) for p in pages] == [1, 1, 1]
    assert [p[0]["appeal_id"] for p in pages] == [item["appeal_id"] for item in whole["items"]]
    assert bad.status_code == 422
