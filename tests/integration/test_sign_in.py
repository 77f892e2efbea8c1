"""Sign-in on tracking's and notify's person-facing endpoints, against a real broker and Postgres:
401 without a valid token, 403 with the wrong one, 200 for who may read. Tracking learns who is
in which unit from `directory.changes` (its own copy of the officers), and who is on an appeal
from dispatch's ownership events; health, readiness and metrics stay open in every service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from factories import assigned, envelope_of, received
from harness import bearer, dev_token
from sqlalchemy import select

from services.tracking import tables as tracking_store
from shared.db import Database
from shared.events import (
    AppealReassigned,
    AssistantsChanged,
    DutyChanged,
    EnterpriseChanged,
    Event,
    OfficerChanged,
    ReturnDecided,
)
from shared.identity import DEV_JWT_SECRET, issue_dev_token
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, DIRECTORY_CHANGES
from shared.vocabulary import IndustryChain, OfficerRole

pytestmark = pytest.mark.integration

DAWANG = "大旺社区"
LONGWAN = "龙湾社区"

# Who is who in these tests: two officers of one unit, one of another, a supervisor of each.
OFFICERS: dict[str, tuple[OfficerRole, str]] = {
    "cw-lead": (OfficerRole.COMMUNITY_WORKER, DAWANG),
    "cw-other": (OfficerRole.COMMUNITY_WORKER, DAWANG),
    "cw-helper": (OfficerRole.COMMUNITY_WORKER, LONGWAN),
    "sup-dawang": (OfficerRole.SUPERVISOR, DAWANG),
    "sup-longwan": (OfficerRole.SUPERVISOR, LONGWAN),
}


def officer_token(officer_id: str) -> str:
    role, unit = OFFICERS[officer_id]
    roles = ("officer", "supervisor") if role is OfficerRole.SUPERVISOR else ("officer",)
    return dev_token(officer_id, roles, unit)


def as_(officer_id: str) -> dict[str, str]:
    return bearer(officer_token(officer_id))


OPS = bearer(dev_token())


def officer_changed(officer_id: str, role: OfficerRole, unit: str, **kw: Any) -> OfficerChanged:
    return OfficerChanged(
        officer_id=officer_id,
        name=f"干部{officer_id}",
        role=role,
        unit=unit,
        on_duty=True,
        phone="13700000000",
        **kw,
    )


async def publish(topics, topic: str, event: Event, **envelope: Any) -> None:
    env = envelope_of(event, **envelope)
    await topics.send(topic, env.to_bytes(), env.key)


async def known_officers(settings) -> dict[str, tuple[str, str, str | None]]:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            t = tracking_store.officers
            rows = (await session.execute(select(t))).all()
    finally:
        await db.dispose()
    return {r.officer_id: (r.role, r.unit, r.supervisor_id) for r in rows}


async def load_officers(settings, topics, wait_until) -> None:
    """Publishes the test's officers on directory.changes, as dispatch does, and waits until
    tracking has them."""
    for officer_id, (role, unit) in OFFICERS.items():
        await publish(topics, DIRECTORY_CHANGES, officer_changed(officer_id, role, unit))

    async def all_known():
        return set(OFFICERS) <= set(await known_officers(settings))

    await wait_until(all_known)


async def anonymous(client: httpx.AsyncClient, url: str, **kw: Any) -> httpx.Response:
    """A GET with no Authorization header at all (the test client sends ops' by default)."""
    request = client.build_request("GET", url, **kw)
    del request.headers["Authorization"]
    return await client.send(request)


def refused(response: httpx.Response, status: int) -> bool:
    """Refused with `status`, the body naming the Authorization header."""
    if response.status_code != status:
        return False
    detail = response.json()["detail"]
    return detail[0]["loc"] == ["header", "Authorization"]


# --- 401 ----------------------------------------------------------------------------------------


async def test_tracking_answers_401_without_a_valid_token(run_service, settings):
    appeal_id = uuid.uuid4()
    expired = issue_dev_token(
        DEV_JWT_SECRET,
        sub="ops",
        roles=["ops"],
        now=datetime.now(UTC) - timedelta(hours=2),
        minutes=60,
    )
    other_secret = issue_dev_token(
        "some-other-secret-that-is-32-bytes-long!", sub="ops", roles=["ops"]
    )
    urls = [f"/v1/appeals/{appeal_id}", "/v1/officers/cw-lead/queue"]
    async with run_service("tracking") as tracking:
        for url in urls:
            missing = await anonymous(tracking, url)
            assert refused(missing, 401), missing.text
            assert missing.headers["www-authenticate"] == "Bearer"
            assert missing.json()["detail"][0]["type"] == "missing_token"
            for token in ("not-a-jwt", expired, other_secret):
                response = await tracking.get(url, headers=bearer(token))
                assert refused(response, 401), (url, token, response.text)
            # A valid token for it: no longer refused (404: nobody has heard of that appeal).
            assert (await tracking.get(url, headers=OPS)).status_code in (200, 404)


# --- tracking's officers and queues --------------------------------------------------------------


async def test_tracking_keeps_its_own_copy_of_the_officers(
    settings, run_service, topics, wait_until
):
    now = datetime.now(UTC)
    async with run_service("tracking"):
        # Other directory events travel on the same topic: tracking skips them.
        await publish(
            topics,
            DIRECTORY_CHANGES,
            EnterpriseChanged(
                credit_code="91441200000000007X",
                name="肇庆测试新能源有限公司",
                chain=IndustryChain.NEV,
                community=DAWANG,
                cso_officer_id="cso-1",
            ),
        )
        await publish(topics, DIRECTORY_CHANGES, DutyChanged(post="dispatcher", officer_id="x"))
        newer = officer_changed(
            "cw-moved", OfficerRole.COMMUNITY_WORKER, LONGWAN, supervisor_id="sup-longwan"
        )
        await publish(topics, DIRECTORY_CHANGES, newer, occurred_at=now)
        # An older change of the same officer heard after the newer one does not undo it.
        older = officer_changed("cw-moved", OfficerRole.COMMUNITY_WORKER, DAWANG)
        await publish(topics, DIRECTORY_CHANGES, older, occurred_at=now - timedelta(days=1))
        sentinel = officer_changed("cw-last", OfficerRole.DEPARTMENT_OFFICER, DAWANG)
        await publish(topics, DIRECTORY_CHANGES, sentinel, occurred_at=now)

        async def both():
            known = await known_officers(settings)
            return known if {"cw-moved", "cw-last"} <= set(known) else None

        await wait_until(both)
        # The older change is on cw-moved's partition, after the newer one: wait until all
        # three officer changes were handled (the skipped types never enter the inbox).
        await wait_until(lambda: _inbox_has(settings, 3))
        known = await known_officers(settings)
    assert known == {
        "cw-moved": ("community_worker", LONGWAN, "sup-longwan"),
        "cw-last": ("department_officer", DAWANG, None),
    }


async def _inbox_has(settings, n: int) -> bool:
    from sqlalchemy import func

    db = Database(settings)
    try:
        async with db.transaction() as session:
            count = await session.scalar(select(func.count()).select_from(tracking_store.inbox))
            return int(count) >= n
    finally:
        await db.dispose()


async def test_a_queue_is_for_its_officer_their_supervisor_and_ops(
    settings, run_service, topics, wait_until
):
    appeal_id = uuid.uuid4()
    async with run_service("tracking") as tracking:
        await load_officers(settings, topics, wait_until)
        await publish(topics, APPEALS_IMMEDIATE, received(appeal_id))
        await publish(topics, APPEALS_ASSIGNMENTS, assigned(appeal_id, "cw-lead"))
        helpers = AssistantsChanged(
            appeal_id=appeal_id,
            lead_officer_id="cw-lead",
            assistant_officer_ids=["cw-helper"],
            changed_by="sup-dawang",
            changed_at=datetime.now(UTC),
        )
        await publish(topics, APPEALS_ASSIGNMENTS, helpers)

        async def in_helpers_queue():
            r = await tracking.get("/v1/officers/cw-helper/queue", headers=as_("cw-helper"))
            return r.json()["items"] if r.status_code == 200 and r.json()["items"] else None

        helper_items = await wait_until(in_helpers_queue)

        async def queue(officer_id: str, headers: dict[str, str]) -> httpx.Response:
            return await tracking.get(f"/v1/officers/{officer_id}/queue", headers=headers)

        own = await queue("cw-lead", as_("cw-lead"))
        others = await queue("cw-lead", as_("cw-other"))
        helper_reads_lead = await queue("cw-lead", as_("cw-helper"))
        supervisor = await queue("cw-lead", as_("sup-dawang"))
        other_supervisor = await queue("cw-lead", as_("sup-longwan"))
        helpers_supervisor = await queue("cw-helper", as_("sup-longwan"))
        ops = await queue("cw-lead", OPS)
        # A supervisor token without a unit supervises nobody's queue.
        unitless = await queue("cw-lead", bearer(dev_token("sup-x", ("supervisor",), None)))
        # A dispatcher (no officer role) named like the officer is not them.
        namesake = await queue("cw-lead", bearer(dev_token("cw-lead", ("dispatcher",), LONGWAN)))

    assert own.status_code == 200
    assert [(i["appeal_id"], i["role"]) for i in own.json()["items"]] == [(str(appeal_id), "lead")]
    assert [(i["appeal_id"], i["role"]) for i in helper_items] == [(str(appeal_id), "assistant")]
    for response in (others, helper_reads_lead, other_supervisor, unitless, namesake):
        assert refused(response, 403), response.text
        assert response.json()["detail"][0]["type"] == "forbidden"
    for response in (supervisor, ops):
        assert response.status_code == 200
        assert _timeless(response.json()["items"]) == _timeless(own.json()["items"])
    assert helpers_supervisor.status_code == 200
    assert _timeless(helpers_supervisor.json()["items"]) == _timeless(helper_items)


def _timeless(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The time left is counted at each request: a second may pass between two of them.
    return [{k: v for k, v in item.items() if k != "time_left_s"} for item in items]


# --- tracking's appeal view ----------------------------------------------------------------------


async def test_an_appeal_is_for_its_officers_their_supervisor_and_ops(
    settings, run_service, topics, wait_until
):
    appeal_id = uuid.uuid4()
    unknown = uuid.uuid4()
    now = datetime.now(UTC)
    async with run_service("tracking") as tracking:
        await load_officers(settings, topics, wait_until)
        await publish(topics, APPEALS_IMMEDIATE, received(appeal_id))
        await publish(topics, APPEALS_ASSIGNMENTS, assigned(appeal_id, "cw-lead", assigned_at=now))
        await publish(
            topics,
            APPEALS_ASSIGNMENTS,
            AssistantsChanged(
                appeal_id=appeal_id,
                lead_officer_id="cw-lead",
                assistant_officer_ids=["cw-helper"],
                changed_by="sup-dawang",
                changed_at=now + timedelta(seconds=1),
            ),
        )
        url = f"/v1/appeals/{appeal_id}"

        async def with_assistant():
            r = await tracking.get(url, headers=as_("cw-lead"))
            return r.json() if r.status_code == 200 and r.json()["assistant_officer_ids"] else None

        view = await wait_until(with_assistant)
        answers = {
            who: (await tracking.get(url, headers=as_(who))).status_code
            for who in ("cw-helper", "cw-other", "sup-dawang", "sup-longwan")
        }
        answers["ops"] = (await tracking.get(url, headers=OPS)).status_code
        other = await tracking.get(url, headers=as_("cw-other"))
        # An appeal tracking has not heard of: 404 to those who could read any, 403 to an
        # officer (who cannot tell it from someone else's).
        not_heard = {
            who: await tracking.get(f"/v1/appeals/{unknown}", headers=headers)
            for who, headers in (
                ("ops", OPS),
                ("sup-dawang", as_("sup-dawang")),
                ("cw-lead", as_("cw-lead")),
            )
        }

    assert view["officer_id"] == "cw-lead"
    assert view["assistant_officer_ids"] == ["cw-helper"]
    assert [h["kind"] for h in view["history"]] == [
        "received",
        "deadlines_set",
        "assigned",
        "assistants_changed",
    ]
    assert view["history"][-1]["to_status"] == "assigned"  # assistants move no status
    assert answers == {
        "cw-helper": 200,
        "cw-other": 403,
        "sup-dawang": 200,
        "sup-longwan": 403,  # supervises the assistant's unit, not the lead's
        "ops": 200,
    }
    assert refused(other, 403)
    assert not_heard["ops"].status_code == 404
    assert not_heard["sup-dawang"].status_code == 404
    assert refused(not_heard["cw-lead"], 403)


async def test_a_reassigned_appeal_moves_between_queues_and_readers(
    settings, run_service, topics, wait_until
):
    appeal_id = uuid.uuid4()
    early = uuid.uuid4()  # reassigned before tracking heard anything else of it
    t0 = datetime.now(UTC)
    moved = AppealReassigned(
        appeal_id=appeal_id,
        from_officer_id="cw-lead",
        officer_id="cw-other",
        reason_code="department",
        reason="退单已同意，按类别改派",
        cause="return",
        reassigned_at=t0 + timedelta(minutes=5),
    )
    ruling = ReturnDecided(
        appeal_id=appeal_id,
        officer_id="cw-lead",
        decision="accept",
        decided_by="dispatcher-1",
        note="不属本网格",
        decided_at=t0 + timedelta(minutes=4),
    )
    async with run_service("tracking") as tracking:
        await load_officers(settings, topics, wait_until)
        await publish(topics, APPEALS_IMMEDIATE, received(appeal_id))
        await publish(topics, APPEALS_ASSIGNMENTS, assigned(appeal_id, "cw-lead", assigned_at=t0))
        await publish(
            topics,
            APPEALS_ASSIGNMENTS,
            AppealReassigned(**{**moved.model_dump(), "appeal_id": early, "officer_id": "cw-lead"}),
        )
        url = f"/v1/appeals/{appeal_id}"

        async def assigned_to_lead():
            r = await tracking.get(url, headers=OPS)
            return r.status_code == 200 and r.json()["officer_id"] == "cw-lead"

        await wait_until(assigned_to_lead)
        before = (await tracking.get(url, headers=as_("cw-lead"))).status_code
        await publish(topics, APPEALS_ASSIGNMENTS, ruling, occurred_at=ruling.decided_at)
        await publish(topics, APPEALS_ASSIGNMENTS, moved, occurred_at=moved.reassigned_at)

        async def moved_to_other():
            r = await tracking.get(url, headers=OPS)
            return r.json() if r.json()["officer_id"] == "cw-other" else None

        view = await wait_until(moved_to_other)
        lead_view = await tracking.get(url, headers=as_("cw-lead"))
        other_view = await tracking.get(url, headers=as_("cw-other"))
        lead_queue = await tracking.get("/v1/officers/cw-lead/queue", headers=as_("cw-lead"))
        other_queue = await tracking.get("/v1/officers/cw-other/queue", headers=as_("cw-other"))
        early_before_receipt = await tracking.get(f"/v1/appeals/{early}", headers=OPS)
        # The move of an appeal tracking had not heard of waits for its receipt, then applies.
        # (Received before it was moved, as ever: only heard late.)
        await publish(topics, APPEALS_IMMEDIATE, received(early), occurred_at=t0)

        async def early_assigned():
            r = await tracking.get(f"/v1/appeals/{early}", headers=OPS)
            return r if r.status_code == 200 and r.json()["status"] == "assigned" else None

        early_view = await wait_until(early_assigned)

    assert before == 200
    assert (view["status"], view["assignment_reason_code"], view["assignment_reason"]) == (
        "assigned",
        "department",
        "退单已同意，按类别改派",
    )
    assert view["last_return_decision"]["decision"] == "accept"
    assert view["last_return_decision"]["note"] == "不属本网格"
    moves = [h for h in view["history"] if h["kind"] != "deadlines_set"]
    assert [(h["kind"], h["to_status"]) for h in moves] == [
        ("received", "received"),
        ("assigned", "assigned"),
        ("return_decided", "assigned"),
        ("reassigned", "assigned"),
    ]
    assert "cw-lead" in moves[-1]["note"] and "cw-other" in moves[-1]["note"]
    # The new officer's acknowledgement is counted afresh; the history says so.
    assert view["history"][-1]["kind"] == "deadlines_set"
    assert "reassigned to cw-other" in view["history"][-1]["note"]
    assert refused(lead_view, 403)  # no longer theirs
    assert other_view.status_code == 200
    assert str(appeal_id) not in {i["appeal_id"] for i in lead_queue.json()["items"]}
    assert [(i["appeal_id"], i["role"]) for i in other_queue.json()["items"]] == [
        (str(appeal_id), "lead")
    ]
    assert early_before_receipt.status_code == 404
    assert (early_view.json()["status"], early_view.json()["officer_id"]) == (
        "assigned",
        "cw-lead",
    )
    assert [
        (h["kind"], h["to_status"])
        for h in early_view.json()["history"]
        if h["kind"] != "deadlines_set"
    ] == [("received", "received"), ("reassigned", "assigned")]


# --- notify's delivery log -----------------------------------------------------------------------


async def test_the_delivery_log_is_for_ops_and_supervisors(run_service):
    async with run_service("notify") as notify:
        missing = await anonymous(notify, "/v1/notifications")
        garbage = await notify.get("/v1/notifications", headers=bearer("garbage"))
        officer = await notify.get("/v1/notifications", headers=as_("cw-lead"))
        dispatcher = await notify.get(
            "/v1/notifications", headers=bearer(dev_token("disp-1", ("dispatcher",), None))
        )
        supervisor = await notify.get("/v1/notifications", headers=as_("sup-dawang"))
        ops = await notify.get("/v1/notifications", headers=OPS)
    assert refused(missing, 401) and refused(garbage, 401)
    assert refused(officer, 403) and refused(dispatcher, 403)
    assert supervisor.status_code == 200 and supervisor.json() == {"items": [], "next_cursor": None}
    assert ops.status_code == 200


# --- open to all --------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["intake", "dispatch", "tracking", "notify"])
async def test_health_readiness_and_metrics_need_no_token(run_service, wait_until, service):
    async with run_service(service) as client:

        async def ready() -> httpx.Response | None:
            # Not ready yet is a 503 on a busy machine (a database ping over its 3 s), never
            # a 401: asked again until it is.
            answer = await anonymous(client, "/readyz")
            assert answer.status_code in (200, 503), answer.text
            return answer if answer.status_code == 200 else None

        answers = {path: await anonymous(client, path) for path in ("/healthz", "/metrics")}
        answers["/readyz"] = await wait_until(ready)
    assert {path: r.status_code for path, r in answers.items()} == {
        "/healthz": 200,
        "/metrics": 200,
        "/readyz": 200,
    }
