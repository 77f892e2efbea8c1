"""The closed loop's defects found by review (issue 12), each on the real broker and database,
through tracking's HTTP API and topics only (each test failed on the code before its fix):

1. a reopened appeal resolved without being accepted again kept a live acknowledge deadline;
2. a receipt heard after the assignment (and the officer's accept) reset the deadlines and was
   announced out of lifecycle order;
4. a pending extension outlived its round (resolve, reassignment);
6. a refused event still rewrote the record;
7. a follow-up for an appeal not awaiting one was refused without a word;
8. assisting officers could not record their part;
9. the public status page allowed unlimited guesses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from factories import assigned, envelope_of, received
from harness import bearer, dev_token, running, sql

from services.tracking.app import build
from shared.db import Database
from shared.events import (
    AppealReassigned,
    AssistantsChanged,
    FollowUpRecorded,
    OfficerChanged,
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
CW9 = bearer(dev_token("cw-9", ("officer",), UNIT))
DISPATCHER = bearer(dev_token("disp-1", ("dispatcher",), UNIT))


async def _send(topics: Any, topic: str, event: Any, **envelope: Any) -> UUID:
    env = envelope_of(event, **envelope)
    await topics.send(topic, env.to_bytes(), env.key)
    return env.event_id


async def _officers(topics: Any) -> None:
    for officer_id in ("cw-7", "cw-8", "cw-9"):
        await _send(
            topics,
            DIRECTORY_CHANGES,
            OfficerChanged(
                officer_id=officer_id,
                name=f"干部{officer_id}",
                role=OfficerRole.COMMUNITY_WORKER,
                unit=UNIT,
                on_duty=True,
                supervisor_id="sup-1",
            ),
        )


async def _view(tracking: Any, appeal_id: UUID) -> dict[str, Any]:
    response = await tracking.get(f"/v1/appeals/{appeal_id}")
    return response.json() if response.status_code == 200 else {}


async def _until_status(tracking: Any, wait_until: Any, appeal_id: UUID, status: str) -> Any:
    async def check() -> Any:
        view = await _view(tracking, appeal_id)
        return view if view.get("status") == status else None

    return await wait_until(check)


async def _accepted_appeal(topics: Any, tracking: Any, wait_until: Any) -> UUID:
    appeal = received(appeal_type=AppealType.COMPLAINT)
    await _send(topics, APPEALS_IMMEDIATE, appeal)
    await _send(topics, APPEALS_ASSIGNMENTS, assigned(appeal.appeal_id, "cw-7"))
    await _until_status(tracking, wait_until, appeal.appeal_id, "assigned")
    url = f"/v1/appeals/{appeal.appeal_id}"
    assert (await tracking.post(f"{url}/accept", json={}, headers=CW7)).status_code == 200
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


async def _lifecycle(topics: Any, appeal_id: UUID, at_least: int) -> list[dict[str, Any]]:
    return [
        r.json()
        for r in await topics.read(APPEALS_LIFECYCLE, at_least=at_least)
        if r.json()["subject_id"] == str(appeal_id)
    ]


async def test_defect_1_a_reopened_appeal_is_accepted_again_and_nothing_is_left_due(
    settings, run_service, topics, wait_until
):
    await _officers(topics)
    async with run_service("tracking") as tracking:
        appeal_id = await _accepted_appeal(topics, tracking, wait_until)
        url = f"/v1/appeals/{appeal_id}"
        await tracking.post(f"{url}/contact", json={"method": "phone"}, headers=CW7)
        await tracking.post(f"{url}/resolve", json={"resolution": "已处理"}, headers=CW7)
        await _send(
            topics, APPEALS_FOLLOW_UPS, _follow_up(appeal_id, False, Satisfaction.UNSATISFIED)
        )
        reopened = await _until_status(tracking, wait_until, appeal_id, "reopened")
        assert reopened["due_stage"] == "acknowledge"  # 重办 is acknowledged again

        contact = await tracking.post(f"{url}/contact", json={"method": "phone"}, headers=CW7)
        resolve = await tracking.post(f"{url}/resolve", json={"resolution": "x"}, headers=CW7)
        assert contact.status_code == resolve.status_code == 409
        assert "accept it (签收) again first" in resolve.json()["detail"]

        assert (await tracking.post(f"{url}/accept", json={}, headers=CW7)).status_code == 200
        await tracking.post(f"{url}/contact", json={"method": "visit"}, headers=CW7)
        done = await tracking.post(f"{url}/resolve", json={"resolution": "再处理"}, headers=CW7)
        assert done.status_code == 200 and done.json()["due_at"] is None
        view = await _view(tracking, appeal_id)
        queue = await tracking.get("/v1/me/queue", headers=CW7, params={"status": "resolved"})
    running = {d["stage"] for d in view["deadlines"] if d["running"]}
    assert running == {"follow_up"}
    assert not any(d["overdue"] for d in view["deadlines"])
    [item] = queue.json()["items"]
    assert (item["due_stage"], item["overdue"]) == (None, False)


async def test_defect_2_a_receipt_heard_after_the_assignment_changes_no_order_and_no_deadline(
    settings, run_service, topics, wait_until, db: Database
):
    await _officers(topics)
    appeal = received(appeal_type=AppealType.COMPLAINT)
    async with run_service("tracking") as tracking:
        # The assignment overtakes the receipt (another topic); tracking has handled it …
        heard = await _send(topics, APPEALS_ASSIGNMENTS, assigned(appeal.appeal_id, "cw-7"))

        async def handled() -> bool:
            rows = await sql(db, "SELECT 1 FROM tracking.inbox WHERE event_id = :e", e=heard)
            return bool(rows)

        await wait_until(handled)
        url = f"/v1/appeals/{appeal.appeal_id}"
        # … but the appeal is not known, and nothing can be done to it, until its receipt.
        assert (await tracking.post(f"{url}/accept", json={}, headers=CW7)).status_code == 403
        await _send(topics, APPEALS_IMMEDIATE, appeal)
        await _until_status(tracking, wait_until, appeal.appeal_id, "assigned")
        assert (await tracking.post(f"{url}/accept", json={}, headers=CW7)).status_code == 200
        # The receipt again, under another event id (a republished copy): nothing resets.
        await _send(topics, APPEALS_IMMEDIATE, appeal)
        await _send(
            topics, APPEALS_FOLLOW_UPS, _follow_up(appeal.appeal_id, True, Satisfaction.SATISFIED)
        )

        async def refused_follow_up() -> Any:
            view = await _view(tracking, appeal.appeal_id)
            return view if "follow_up_refused" in {h["kind"] for h in view["history"]} else None

        view = await wait_until(refused_follow_up)
    acknowledge = next(d for d in view["deadlines"] if d["stage"] == "acknowledge")
    assert acknowledge["met_at"] is not None
    changes = [
        (e["payload"]["from_status"], e["payload"]["to_status"])
        for e in await _lifecycle(topics, appeal.appeal_id, at_least=3)
        if e["type"] == "AppealStatusChanged"
    ]
    assert changes == [(None, "received"), ("received", "assigned"), ("assigned", "accepted")]


async def test_defect_4_a_pending_extension_is_cancelled_when_its_round_ends(
    settings, run_service, topics, wait_until
):
    await _officers(topics)
    async with run_service("tracking") as tracking:
        resolved_id = await _accepted_appeal(topics, tracking, wait_until)
        moved_id = await _accepted_appeal(topics, tracking, wait_until)
        for appeal_id in (resolved_id, moved_id):
            url = f"/v1/appeals/{appeal_id}"
            await tracking.post(f"{url}/contact", json={"method": "phone"}, headers=CW7)
            asked = await tracking.post(
                f"{url}/extension", json={"days": 3, "reason": "等配件"}, headers=CW7
            )
            assert asked.status_code == 201, asked.text
        # Resolved: the request is over.
        url = f"/v1/appeals/{resolved_id}"
        await tracking.post(f"{url}/resolve", json={"resolution": "已处理"}, headers=CW7)
        stale = await tracking.post(
            f"{url}/extension-decision", json={"decision": "grant"}, headers=DISPATCHER
        )
        resolved_view = await _view(tracking, resolved_id)
        # Moved to another officer: the request is over, and theirs may be made.
        await _send(
            topics,
            APPEALS_ASSIGNMENTS,
            AppealReassigned(
                appeal_id=moved_id,
                from_officer_id="cw-7",
                officer_id="cw-8",
                reason_code="manual",
                reason="主管改派",
                cause="manual",
                reassigned_at=datetime.now(UTC),
            ),
        )

        async def moved() -> Any:
            view = await _view(tracking, moved_id)
            return view if view.get("officer_id") == "cw-8" else None

        await wait_until(moved)
        url = f"/v1/appeals/{moved_id}"
        assert (await tracking.post(f"{url}/accept", json={}, headers=CW8)).status_code == 200
        theirs = await tracking.post(
            f"{url}/extension", json={"days": 2, "reason": "新情况"}, headers=CW8
        )
        granted = await tracking.post(
            f"{url}/extension-decision", json={"decision": "grant"}, headers=DISPATCHER
        )
        moved_view = await _view(tracking, moved_id)
    assert stale.status_code == 409 and "no extension request is pending" in stale.json()["detail"]
    assert [e["status"] for e in resolved_view["extensions"]] == ["cancelled"]
    assert theirs.status_code == 201, theirs.text
    assert granted.status_code == 200 and granted.json()["working_days"] == 2
    assert [(e["requested_by"], e["status"]) for e in moved_view["extensions"]] == [
        ("cw-7", "cancelled"),
        ("cw-8", "granted"),
    ]
    cancelled = [
        e["payload"]
        for appeal_id in (resolved_id, moved_id)
        for e in await _lifecycle(topics, appeal_id, at_least=10)
        if e["type"] == "ExtensionCancelled"
    ]
    assert sorted(c["reason"] for c in cancelled) == ["reassigned", "resolved"]
    assert all(c["tracking_code"] for c in cancelled)  # what the people told quote


async def test_defect_6_and_8_a_refused_event_keeps_the_record_and_assistants_record_their_part(
    settings, run_service, topics, wait_until
):
    await _officers(topics)
    async with run_service("tracking") as tracking:
        appeal_id = await _accepted_appeal(topics, tracking, wait_until)
        url = f"/v1/appeals/{appeal_id}"
        await _send(
            topics,
            APPEALS_ASSIGNMENTS,
            AssistantsChanged(
                appeal_id=appeal_id,
                lead_officer_id="cw-7",
                assistant_officer_ids=["cw-9"],
                changed_by="sup-1",
                changed_at=datetime.now(UTC),
            ),
        )

        async def assisted() -> Any:
            return (await _view(tracking, appeal_id)).get("assistant_officer_ids") == ["cw-9"]

        await wait_until(assisted)
        contact = await tracking.post(
            f"{url}/contact", json={"method": "visit", "note": "现场查看"}, headers=CW9
        )
        note = await tracking.post(f"{url}/progress", json={"note": "已联系供水"}, headers=CW9)
        helper_resolve = await tracking.post(
            f"{url}/resolve", json={"resolution": "x"}, headers=CW9
        )
        stranger = await tracking.post(f"{url}/contact", json={"method": "sms"}, headers=CW8)
        lead_resolve = await tracking.post(
            f"{url}/resolve", json={"resolution": "已恢复供水"}, headers=CW7
        )
        await _send(topics, APPEALS_FOLLOW_UPS, _follow_up(appeal_id, True, Satisfaction.SATISFIED))
        closed = await _until_status(tracking, wait_until, appeal_id, "closed")
        # A reassignment heard after the close is refused: the record stays as it was.
        late = AppealReassigned(
            appeal_id=appeal_id,
            from_officer_id="cw-7",
            officer_id="cw-8",
            reason_code="manual",
            reason="迟到的改派",
            cause="manual",
            reassigned_at=datetime.now(UTC) + timedelta(minutes=1),
        )
        await _send(topics, APPEALS_ASSIGNMENTS, late)

        async def refused() -> Any:
            view = await _view(tracking, appeal_id)
            return view if "reassigned_refused" in {h["kind"] for h in view["history"]} else None

        after = await wait_until(refused)
    assert contact.status_code == note.status_code == 200
    assert helper_resolve.status_code == stranger.status_code == 403
    assert lead_resolve.status_code == 200
    by_helper = [(h["kind"], h["actor"]) for h in closed["history"] if h["actor"] == "cw-9"]
    assert by_helper == [("contact", "cw-9"), ("progress", "cw-9")]
    for field in ("officer_id", "assigned_at", "assignment_reason", "assignment_reason_code"):
        assert after[field] == closed[field], field


async def test_defect_7_a_follow_up_for_an_appeal_not_awaiting_one_is_announced(
    settings, run_service, topics, wait_until
):
    await _officers(topics)
    async with run_service("tracking") as tracking:
        appeal_id = await _accepted_appeal(topics, tracking, wait_until)
        result = _follow_up(appeal_id, True, Satisfaction.SATISFIED)
        follow_up_id = await _send(topics, APPEALS_FOLLOW_UPS, result)

        async def announced() -> Any:
            events = await _lifecycle(topics, appeal_id, at_least=3)
            return [e for e in events if e["type"] == "FollowUpRefused"]

        [refusal] = await wait_until(announced)
        view = await _view(tracking, appeal_id)
    payload = refusal["payload"]
    assert (payload["channel"], payload["status"]) == ("hotline_12345", "accepted")
    assert payload["follow_up_event_id"] == str(follow_up_id)
    assert "not resolved" in payload["reason"]
    assert view["status"] == "accepted"


async def test_defect_9_guesses_at_the_status_page_are_limited_across_replicas(
    settings, topics, wait_until
):
    appeal = received()  # the phone ends in 5678
    limited = settings.model_copy(
        update={"status_guesses_per_code": 3, "status_guesses_per_client": 100}
    )
    async with running(build(limited)) as one, running(build(limited)) as two:
        await _send(topics, APPEALS_IMMEDIATE, appeal)

        async def known() -> bool:
            return (await one.get(f"/v1/appeals/{appeal.appeal_id}")).status_code == 200

        await wait_until(known)
        code = appeal.tracking_code
        right_first = await one.get(f"/v1/status/{code}", params={"phone_last4": "5678"})
        wrong = [
            await replica.get(f"/v1/status/{code}", params={"phone_last4": f"{n:04d}"})
            for n, replica in zip(range(4), (one, two, one, two), strict=True)
        ]
        right_now = await two.get(f"/v1/status/{code}", params={"phone_last4": "5678"})
        malformed = await one.get(f"/v1/status/{code}", params={"phone_last4": "12"})
    # A right guess uses no allowance; three wrong ones are answered 404 whichever replica
    # takes them; the fourth is refused, and so is even the right one, until the window ends.
    assert right_first.status_code == 200
    assert [r.status_code for r in wrong] == [404, 404, 404, 429]
    assert right_now.status_code == 429
    assert int(right_now.headers["Retry-After"]) >= 1
    assert right_now.json()["detail"][0]["loc"] == ["path", "tracking_code"]
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["query", "phone_last4"]
