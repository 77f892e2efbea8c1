"""Intake's channels end to end on a real Postgres and broker: each channel's native form,
signatures, repeats merged across channels, classification, visits, receipts, follow-ups."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from factories import credit_code, envelope_of
from harness import running
from pydantic import SecretStr

from services.intake.app import build
from shared.events import AppealStatusChanged
from shared.signing import kafka_signature_headers, signature_headers
from shared.topics import (
    APPEALS_FOLLOW_UPS,
    APPEALS_IMMEDIATE,
    APPEALS_LIFECYCLE,
    INBOUND_RECEIPTS,
    VISITS_LOGGED,
    dlq_of,
    inbound_topic,
)
from shared.vocabulary import AppealStatus

pytestmark = pytest.mark.integration

ENTERPRISE = credit_code(4242)
HOTLINE_PATH = "/v1/channels/hotline_12345/appeals"


def phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


async def post_signed(
    client,
    path: str,
    payload: dict[str, Any],
    channel: str,
    *,
    later_s: float = 0,
    at: float | None = None,
    key: tuple[str, str] | None = None,
) -> Any:
    """As a channel adapter does it, with the development key of `channel` unless given
    another `key` (id, secret). The same bytes signed in the same second are the same
    signature, which is refused as a replay: a retry is signed at a later second (`later_s`);
    `at` pins the signing time (a deliberate replay)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    key_id, secret = key or (f"dev-{channel}", f"dev-secret-{channel}")
    headers = signature_headers(
        key_id,
        secret,
        "POST",
        path,
        body,
        at if at is not None else time.time() + later_s,
    )
    return await client.post(
        path, content=body, headers={**headers, "content-type": "application/json"}
    )


async def get_signed(client, path: str, channel: str) -> Any:
    headers = signature_headers(
        f"dev-{channel}", f"dev-secret-{channel}", "GET", path, b"", time.time()
    )
    return await client.get(path, headers=headers)


async def send_signed(
    topics,
    channel: str,
    message: dict[str, Any] | bytes,
    key: bytes,
    *,
    later_s: float = 0,
    at: float | None = None,
    signer: str | None = None,
) -> dict[str, str]:
    """Publishes to `channel`'s inbound topic as its adapter does: signed with the development
    key of `signer` (default: the channel's own). Returns the signature headers it sent."""
    value = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False)
    value = value if isinstance(value, bytes) else value.encode()
    headers = kafka_signature_headers(
        f"dev-{signer or channel}",
        f"dev-secret-{signer or channel}",
        inbound_topic(channel),
        value,
        at if at is not None else time.time() + later_s,
    )
    await topics.send(inbound_topic(channel), value, key, headers)
    return headers


def work_order(caller_phone: str, content: str, **overrides: Any) -> dict[str, Any]:
    return {
        "order_no": f"ZQ12345-{uuid.uuid4().hex[:12]}",
        "caller_name": "李女士",
        "caller_phone": caller_phone,
        "type_code": "03",
        "category_code": "02",
        "urgency_flag": "0",
        "content": content,
        "address": "肇庆高新区江南小区",
        "accepted_at": "2026-11-27 09:15:00",
        "operator_id": "hw-017",
        **overrides,
    }


WATER = (
    "江南小区3栋从周一开始停水，已经三天了，至今没有来水，老人小孩生活很不方便，请尽快恢复供水。"
)
WATER_AGAIN = "江南小区3栋停水三天了至今没有来水，请尽快恢复供水！"
LIGHTS = "江南小区门口的路灯坏了一个多星期，晚上出入很不安全，请派人维修。"


async def test_a_repeat_from_another_channel_joins_the_open_appeal(run_service, topics):
    caller = phone()
    async with run_service("intake") as intake:
        first = await post_signed(
            intake, "/v1/channels/hotline_12345/appeals", work_order(caller, WATER), "hotline_12345"
        )
        assert first.status_code == 202, first.text
        letter = {
            "message_id": f"SZZTC-{uuid.uuid4().hex[:8]}",
            "title": "停水投诉",
            "body": WATER_AGAIN,
            "writer_name": "李女士",
            "contact_phone": caller,
        }
        again = await post_signed(intake, "/v1/channels/mayor_line/appeals", letter, "mayor_line")
        other = await post_signed(
            intake,
            "/v1/channels/hotline_12345/appeals",
            work_order(caller, LIGHTS),
            "hotline_12345",
        )
        receipt = await get_signed(
            intake, f"/v1/channels/mayor_line/appeals/{letter['message_id']}", "mayor_line"
        )
        unknown = await get_signed(intake, "/v1/channels/mayor_line/appeals/nope", "mayor_line")
        records = await topics.read(APPEALS_IMMEDIATE, at_least=3)

    accepted = first.json()
    assert again.status_code == 200, again.text
    merged = again.json()
    assert merged["status"] == "merged"
    assert (merged["appeal_id"], merged["tracking_code"]) == (
        accepted["appeal_id"],
        accepted["tracking_code"],
    )
    assert "相似度" in merged["reason"] and caller not in merged["reason"]  # phone masked
    # A different matter from the same person is new work.
    assert other.status_code == 202 and other.json()["appeal_id"] != accepted["appeal_id"]
    assert receipt.status_code == 200 and receipt.json() == merged
    assert unknown.status_code == 404 and unknown.json()["detail"][0]["loc"][-1] == "external_id"

    by_type = {}
    for record in records:
        by_type.setdefault(record.headers["x-event-type"], []).append(record.json())
    assert len(by_type["AppealReceived"]) == 2 and len(by_type["AppealMerged"]) == 1
    joined = by_type["AppealMerged"][0]
    assert joined["subject_id"] == accepted["appeal_id"]
    assert joined["payload"]["channel"] == "mayor_line"
    received = next(
        e for e in by_type["AppealReceived"] if e["subject_id"] == accepted["appeal_id"]
    )
    payload = received["payload"]
    # The 12345 system's own codes decided type and category; classified_by says so.
    assert payload["appeal_type"] == "complaint"
    assert payload["classified_by"]["type"] == "channel:hotline_12345"
    assert payload["submitted_at"] is not None


async def test_a_closed_appeal_takes_no_repeats(run_service, topics, wait_until):
    caller = phone()
    async with run_service("intake") as intake:
        first = await post_signed(
            intake, "/v1/channels/hotline_12345/appeals", work_order(caller, WATER), "hotline_12345"
        )
        appeal_id = uuid.UUID(first.json()["appeal_id"])
        closed = AppealStatusChanged(
            appeal_id=appeal_id,
            from_status=AppealStatus.RESOLVED,
            to_status=AppealStatus.CLOSED,
            changed_at="2026-11-27T12:00:00+08:00",
        )
        env = envelope_of(closed)
        await topics.send(APPEALS_LIFECYCLE, env.to_bytes(), env.key)

        async def after_closure():
            # Intake learns of the closure from appeals.lifecycle; retry until it has.
            response = await post_signed(
                intake,
                "/v1/channels/hotline_12345/appeals",
                work_order(caller, WATER_AGAIN),
                "hotline_12345",
            )
            return response if response.status_code == 202 else None

        again = await wait_until(after_closure, timeout_s=30)
    assert again.json()["appeal_id"] != str(appeal_id)


async def test_signatures_guard_every_channel_but_web(run_service):
    async with run_service("intake") as intake:
        path = "/v1/channels/hotline_12345/appeals"
        unsigned = await intake.post(path, json=work_order(phone(), LIGHTS))
        wrong_channel = await post_signed(intake, path, work_order(phone(), LIGHTS), "mayor_line")
        web = await intake.post(
            "/v1/channels/web/appeals",
            json={
                "external_id": str(uuid.uuid4()),
                "name": "黄女士",
                "phone": phone(),
                "content": "请问高新区人才住房补贴怎么申请？需要哪些材料？",
            },
        )
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"][0]["loc"] == ["header", "X-Jiban-Key"]
    assert wrong_channel.status_code == 403
    assert web.status_code == 202, web.text


async def test_the_caller_is_refused_before_the_body_is_validated(run_service, db):
    """401 and 403 come before 422 on every signed route: a key of another channel (or without
    the scope) never learns what the route's body should look like."""
    from services.intake.channel_keys import store
    from services.intake.channel_keys.keys import Scope, cipher_for
    from shared.vocabulary import Channel

    submit_only = ("hotline-submit-only", "secret-of-the-submit-only-key")
    async with db.transaction() as session:
        assert await store.create_key(
            session,
            cipher_for(None, dev_mode=True),  # the test settings run in development mode
            key_id=submit_only[0],
            channel=Channel.HOTLINE_12345,
            scopes=frozenset({Scope.SUBMIT}),
            secret=submit_only[1],
            now=datetime.now(UTC),
        )
    not_json = b"{not json"
    json_type = {"content-type": "application/json"}

    def refused(response: Any, status: int, kind: str) -> None:
        assert response.status_code == status, response.text
        assert response.json()["detail"][0]["type"] == kind, response.text

    async with run_service("intake") as intake:
        native = "/v1/channels/hotline_12345/appeals"
        refused(
            await intake.post(native, content=not_json, headers=json_type), 401, "missing_header"
        )
        refused(await post_signed(intake, native, {}, "mayor_line"), 403, "wrong_channel")
        authorised = await post_signed(intake, native, {}, "hotline_12345")

        unified = "/v1/appeals"
        wrong_secret = await post_signed(
            intake, unified, {"content": ""}, "hotline_12345", key=("dev-hotline_12345", "guess")
        )
        refused(wrong_secret, 401, "signature_mismatch")
        other_channel = await post_signed(
            intake, unified, {"channel": "mayor_line", "content": ""}, "hotline_12345"
        )
        refused(other_channel, 403, "wrong_channel")

        follow_ups = "/v1/channels/hotline_12345/follow-ups"
        refused(
            await intake.post(follow_ups, content=not_json, headers=json_type),
            401,
            "missing_header",
        )
        refused(await post_signed(intake, follow_ups, {}, "mayor_line"), 403, "wrong_channel")
        without_scope = await post_signed(intake, follow_ups, {}, "hotline_12345", key=submit_only)
        refused(without_scope, 403, "wrong_scope")
        unknown_channel = await post_signed(
            intake, "/v1/channels/fax/follow-ups", {}, "hotline_12345"
        )
        refused(unknown_channel, 403, "wrong_channel")

        receipts = "/v1/channels/hotline_12345/appeals/GD-1"
        refused(await intake.get(receipts), 401, "missing_header")
        refused(await get_signed(intake, receipts, "mayor_line"), 403, "wrong_channel")
        refused(await intake.get("/v1/channels/fax/appeals/GD-1"), 401, "missing_header")

    # Once the caller may, the body is validated as usual.
    assert authorised.status_code == 422, authorised.text
    assert ("body", "order_no") in {tuple(e["loc"]) for e in authorised.json()["detail"]}
    assert other_channel.json()["detail"][0]["loc"] == ["body", "channel"]


async def test_unsigned_web_submissions_are_rate_limited(settings, run_service):
    strict = settings.model_copy(update={"web_rate_limit_burst": 2, "web_rate_limit_per_minute": 1})
    async with running(build(strict)) as intake:
        answers = []
        for _ in range(3):
            response = await intake.post(
                "/v1/channels/web/appeals",
                json={"external_id": str(uuid.uuid4()), "phone": phone(), "content": LIGHTS},
            )
            answers.append(response)
    assert [r.status_code for r in answers[:2]] == [202, 202], [r.text for r in answers]
    assert answers[2].status_code == 429
    assert int(answers[2].headers["retry-after"]) >= 1


async def test_native_validation_names_the_channels_own_fields(run_service):
    from factories import submission

    async with run_service("intake") as intake:
        response = await post_signed(
            intake,
            "/v1/channels/hotline_12345/appeals",
            work_order("12345", WATER, accepted_at="2099-01-01 00:00:00"),
            "hotline_12345",
        )
        # Valid but for the time: the refusal names the native field, and the unified one.
        future_order = await post_signed(
            intake,
            "/v1/channels/hotline_12345/appeals",
            work_order(phone(), WATER, accepted_at="2099-01-01 00:00:00"),
            "hotline_12345",
        )
        future_form = await intake.post(
            "/v1/appeals", json=submission(submitted_at="2099-01-01T00:00:00+08:00")
        )
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("body", "caller_phone") in fields
    assert future_order.status_code == 422, future_order.text
    assert [e["loc"] for e in future_order.json()["detail"]] == [["body", "accepted_at"]]
    assert future_form.status_code == 422, future_form.text
    assert [e["loc"] for e in future_form.json()["detail"]] == [["body", "submitted_at"]]


async def test_a_visit_without_a_problem_is_logged_not_an_appeal(run_service, topics):
    visit = {
        "visit_id": f"cso-visit-{uuid.uuid4().hex[:8]}",
        "officer_id": "cso-017",
        "enterprise_credit_code": ENTERPRISE,
        "visited_at": "2026-11-27T09:30:00+08:00",
    }
    async with run_service("intake") as intake:
        path = "/v1/channels/cso_visit/appeals"
        first = await post_signed(intake, path, visit, "cso_visit")
        # One signing time for both, so the second is a replay whatever the clock does between.
        retry_at = time.time() + 1
        again = await post_signed(intake, path, visit, "cso_visit", at=retry_at)
        replayed = await post_signed(intake, path, visit, "cso_visit", at=retry_at)
        logged = await topics.read(VISITS_LOGGED, at_least=1)
        appeals = await topics.read(APPEALS_IMMEDIATE, at_least=1, timeout_s=1)
    assert first.status_code == 202, first.text
    assert first.json() == {"status": "visit_logged", "visit_id": visit["visit_id"]}
    assert again.status_code == 200 and again.json() == first.json()
    assert replayed.status_code == 401 and replayed.json()["detail"][0]["type"] == "replayed"
    assert len(logged) == 1 and logged[0].json()["payload"]["officer_id"] == "cso-017"
    assert appeals == []


FOLLOW_UPS_PATH = "/v1/channels/hotline_12345/follow-ups"
RESULT = {"contacted": True, "solved": True, "satisfaction": "satisfied", "note": "已修好"}


async def tell_intake(topics, db, wait_until, *events: AppealStatusChanged) -> None:
    """Sends tracking's status changes on appeals.lifecycle and waits until intake handled the
    last one (its inbox holds the event id): the appeal's events share a partition, so every
    earlier one was handled too."""
    from sqlalchemy import select

    from services.intake.tables import inbox

    envelopes = [envelope_of(event) for event in events]
    for env in envelopes:
        await topics.send(APPEALS_LIFECYCLE, env.to_bytes(), env.key)

    async def handled() -> bool:
        async with db.transaction() as session:
            query = select(inbox.c.event_id).where(inbox.c.event_id == envelopes[-1].event_id)
            return await session.scalar(query) is not None

    await wait_until(handled, timeout_s=30)


def status_changed(
    appeal_id: str, from_status: AppealStatus, to_status: AppealStatus, at: str
) -> AppealStatusChanged:
    return AppealStatusChanged(
        appeal_id=uuid.UUID(appeal_id),
        from_status=from_status,
        to_status=to_status,
        changed_at=at,
    )


async def test_follow_ups_are_signed_checked_and_published(run_service, topics, db, wait_until):
    async with run_service("intake") as intake:
        first = await post_signed(
            intake,
            "/v1/channels/hotline_12345/appeals",
            work_order(phone(), LIGHTS),
            "hotline_12345",
        )
        code, appeal_id = first.json()["tracking_code"], first.json()["appeal_id"]
        await tell_intake(
            topics,
            db,
            wait_until,
            status_changed(
                appeal_id, AppealStatus.IN_PROGRESS, AppealStatus.RESOLVED, "2026-11-27T12:00+08:00"
            ),
        )
        spoken = code.lower().replace("-", " ")  # as read out over the phone
        ok = await post_signed(
            intake, FOLLOW_UPS_PATH, {"tracking_code": spoken, **RESULT}, "hotline_12345"
        )
        both = await post_signed(
            intake,
            FOLLOW_UPS_PATH,
            {"tracking_code": code, "appeal_id": appeal_id, **RESULT},
            "hotline_12345",
        )
        missing = await post_signed(
            intake, FOLLOW_UPS_PATH, {"appeal_id": str(uuid.uuid4()), **RESULT}, "hotline_12345"
        )
        unsigned = await intake.post(FOLLOW_UPS_PATH, json={"tracking_code": code, **RESULT})
        published = await topics.read(APPEALS_FOLLOW_UPS, at_least=1)
    assert ok.status_code == 202, ok.text
    assert ok.json()["appeal_id"] == appeal_id
    assert both.status_code == 422
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == [
        "body",
        "appeal_id",
    ]
    assert unsigned.status_code == 401
    assert len(published) == 1
    assert published[0].json()["payload"]["satisfaction"] == "satisfied"


async def test_a_follow_up_is_taken_only_while_the_appeal_awaits_one(
    run_service, topics, db, wait_until
):
    """Intake keeps each appeal's status from appeals.lifecycle (the latest change wins) and
    answers 409 with the status and why, rather than a 202 that tracking would refuse."""
    notes = iter(range(1000))

    async def follow_up(**reference: str) -> Any:
        # A new note each time: the same bytes signed in the same second would be a replay.
        body = {**reference, **RESULT, "note": f"回访 {next(notes)}"}
        return await post_signed(intake, FOLLOW_UPS_PATH, body, "hotline_12345")

    async with run_service("intake") as intake:
        first = await post_signed(
            intake,
            "/v1/channels/hotline_12345/appeals",
            work_order(phone(), LIGHTS),
            "hotline_12345",
        )
        appeal_id, code = first.json()["appeal_id"], first.json()["tracking_code"]
        just_received = await follow_up(appeal_id=appeal_id)
        await tell_intake(
            topics,
            db,
            wait_until,
            status_changed(
                appeal_id, AppealStatus.ACCEPTED, AppealStatus.IN_PROGRESS, "2026-11-27T10:00+08:00"
            ),
        )
        in_progress = await follow_up(tracking_code=code)
        # Resolved, then an older change heard late (a replay from the DLQ, say): it does not
        # roll the status back.
        await tell_intake(
            topics,
            db,
            wait_until,
            status_changed(
                appeal_id, AppealStatus.IN_PROGRESS, AppealStatus.RESOLVED, "2026-11-27T12:00+08:00"
            ),
            status_changed(
                appeal_id, AppealStatus.ACCEPTED, AppealStatus.IN_PROGRESS, "2026-11-27T10:00+08:00"
            ),
        )
        resolved = await follow_up(appeal_id=appeal_id)
        await tell_intake(
            topics,
            db,
            wait_until,
            status_changed(
                appeal_id, AppealStatus.RESOLVED, AppealStatus.CLOSED, "2026-11-27T12:30+08:00"
            ),
        )
        closed = await follow_up(appeal_id=appeal_id)
        published = await topics.read(APPEALS_FOLLOW_UPS, at_least=1)

    assert just_received.status_code == 409, just_received.text
    assert just_received.json() == {
        "detail": [
            {
                "loc": ["body", "appeal_id"],
                "msg": "the appeal is received, not resolved: a follow-up result is taken only "
                "while it awaits one",
                "type": "conflict",
            }
        ],
        "status": "received",
    }
    assert in_progress.status_code == 409, in_progress.text
    assert in_progress.json()["status"] == "in_progress"
    assert in_progress.json()["detail"][0]["loc"] == ["body", "tracking_code"]
    assert "the appeal is in_progress, not resolved" in in_progress.json()["detail"][0]["msg"]
    assert resolved.status_code == 202, resolved.text
    assert closed.status_code == 409 and closed.json()["status"] == "closed"
    # Only the result taken reached tracking.
    assert [p.json()["payload"]["note"] for p in published] == ["回访 2"]


async def test_outside_development_the_unified_form_needs_a_signature(settings, db):
    production = settings.model_copy(
        update={
            "dev_mode": False,
            "channel_key_encryption_key": SecretStr(Fernet.generate_key().decode()),
            # Outside development every service needs a way to verify sign-in tokens.
            "jwt_secret": SecretStr("a-production-jwt-secret-of-at-least-32-bytes"),
        }
    )
    from factories import submission

    from services.intake.channel_keys import store
    from services.intake.channel_keys.keys import Scope, cipher_from_settings
    from shared.vocabulary import Channel

    web_key = ("web-portal", "secret-of-the-web-portal")
    async with db.transaction() as session:
        assert await store.create_key(
            session,
            cipher_from_settings(production),
            key_id=web_key[0],
            channel=Channel.WEB,
            scopes=frozenset({Scope.SUBMIT}),
            secret=web_key[1],
            now=datetime.now(UTC),
        )

    def web_form() -> dict[str, Any]:
        return submission(channel="web", external_id=str(uuid.uuid4()))

    async with running(build(production)) as intake:
        response = await intake.post("/v1/appeals", json=submission())
        unsigned_web = await intake.post("/v1/appeals", json=web_form())
        signed_web = await post_signed(intake, "/v1/appeals", web_form(), "web", key=web_key)
        native_web = await intake.post(
            "/v1/channels/web/appeals",
            json={"external_id": str(uuid.uuid4()), "phone": phone(), "content": LIGHTS},
        )
    for refused in (response, unsigned_web):
        assert refused.status_code == 401, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["header", "X-Jiban-Key"] and error["type"] == "missing_header"
        assert refused.headers["www-authenticate"] == "Jiban-HMAC-SHA256"
    assert signed_web.status_code == 202, signed_web.text
    # Browsers use the web channel's own route: unsigned (and rate-limited).
    assert native_web.status_code == 202, native_web.text


async def test_submissions_over_the_inbound_topics_get_receipts(run_service, topics, wait_until):
    good = work_order(phone(), LIGHTS)
    bad = work_order("12345", WATER)
    visit = {
        "visit_id": f"cso-visit-{uuid.uuid4().hex[:8]}",
        "officer_id": "cso-017",
        "enterprise_credit_code": ENTERPRISE,
        "visited_at": "2026-11-27T09:30:00+08:00",
    }
    # Rejected, yet named as an accepted record would be: "<window_id>/<record_id>".
    bad_window = {
        "record_id": str(uuid.uuid4()),
        "window_id": "dw-window-03",
        "staff_id": "staff-205",
        "visitor_phone": "12345",
        "request": LIGHTS,
    }
    hotline = inbound_topic("hotline_12345")

    async with run_service("intake") as intake:
        await send_signed(topics, "hotline_12345", bad, bad["order_no"].encode())
        await send_signed(topics, "hotline_12345", b"not json {", b"garbage")
        await send_signed(topics, "hotline_12345", good, good["order_no"].encode())
        # The adapter retried, signing afresh (a second later: a new signature).
        await send_signed(topics, "hotline_12345", good, good["order_no"].encode(), later_s=1)
        await send_signed(topics, "cso_visit", visit, visit["visit_id"].encode())
        await send_signed(topics, "window", bad_window, b"window")
        receipts = [r.json()["payload"] for r in await topics.read(INBOUND_RECEIPTS, at_least=5)]
        by_id = {r["external_id"]: r for r in receipts}
        looked_up = await get_signed(
            intake, f"/v1/channels/hotline_12345/appeals/{good['order_no']}", "hotline_12345"
        )
        dead = await topics.read(dlq_of(hotline), at_least=1)
        appeals = await topics.read(APPEALS_IMMEDIATE, at_least=1)

    assert len(receipts) == 5
    accepted = [r for r in receipts if r["external_id"] == good["order_no"]]
    assert [r["status"] for r in accepted] == ["received", "received"]
    assert accepted[0]["appeal_id"] == accepted[1]["appeal_id"]  # the retry, answered the same
    rejected = by_id[bad["order_no"]]
    assert rejected["status"] == "rejected"
    assert ["caller_phone"] in [e["loc"] for e in rejected["errors"]]
    assert by_id[visit["visit_id"]]["status"] == "visit_logged"
    window_receipt = by_id[f"dw-window-03/{bad_window['record_id']}"]
    assert window_receipt["status"] == "rejected" and window_receipt["channel"] == "window"
    assert ["visitor_phone"] in [e["loc"] for e in window_receipt["errors"]]
    assert looked_up.status_code == 200
    assert looked_up.json()["appeal_id"] == accepted[0]["appeal_id"]
    assert [d.key for d in dead] == [b"garbage"] and "not JSON" in dead[0].headers["x-error"]
    assert len(appeals) == 1  # one appeal for the good order, however often it came


async def test_a_walk_in_at_the_window_is_classified_by_the_rules(run_service, topics):
    record = {
        "record_id": str(uuid.uuid4()),
        "window_id": "dw-window-01",
        "staff_id": "staff-203",
        "visitor_name": "张阿姨",
        "visitor_phone": "０７５８ ３６１２３４５",  # full-width, as typed at the counter
        "request": "  我家那栋楼  停水两天了，  请帮忙问问什么时候恢复。 ",
        "community": "大旺社区",
        "recorded_at": "2026-11-27T09:45:00+08:00",
    }
    async with run_service("intake") as intake:
        response = await post_signed(intake, "/v1/channels/window/appeals", record, "window")
        published = await topics.read(APPEALS_IMMEDIATE, at_least=1)
    assert response.status_code == 202, response.text
    payload = published[0].json()["payload"]
    assert payload["external_id"] == f"dw-window-01/{record['record_id']}"
    assert payload["filed_by"] == "staff-203"
    assert payload["appellant"]["phone"] == "0758-3612345"
    assert payload["category"] == "utilities"
    assert payload["classified_by"]["category"] == "rule:water_outage"


async def test_window_and_web_receipts_are_read_over_http(run_service):
    record = {
        "record_id": str(uuid.uuid4()),
        "window_id": "dw-window-01",
        "staff_id": "staff-203",
        "visitor_phone": phone(),
        "request": "咨询新生儿医保参保手续。",
    }
    form = {"external_id": str(uuid.uuid4()), "phone": phone(), "content": LIGHTS}
    window_receipts = "/v1/channels/window/appeals"
    async with run_service("intake") as intake:
        filed = await post_signed(intake, window_receipts, record, "window")
        # The window's external id holds a "/": as sent, or escaped; signed over the raw path.
        plain = await get_signed(
            intake, f"{window_receipts}/dw-window-01/{record['record_id']}", "window"
        )
        escaped = await get_signed(
            intake, f"{window_receipts}/dw-window-01%2F{record['record_id']}", "window"
        )
        other_window = await get_signed(
            intake, f"{window_receipts}/dw-window-09/{record['record_id']}", "window"
        )
        unsigned_window = await intake.get(f"{window_receipts}/dw-window-01/{record['record_id']}")
        web = await intake.post("/v1/channels/web/appeals", json=form)
        web_receipt = await intake.get(f"/v1/channels/web/appeals/{form['external_id']}")
    assert filed.status_code == 202, filed.text
    assert plain.status_code == 200, plain.text
    assert plain.json() == filed.json()
    assert escaped.status_code == 200, escaped.text
    assert escaped.json() == filed.json()
    assert other_window.status_code == 404
    assert other_window.json()["detail"][0]["loc"] == ["path", "external_id"]
    assert unsigned_window.status_code == 401
    assert web.status_code == 202, web.text
    assert web_receipt.status_code == 200, web_receipt.text
    assert web_receipt.json() == web.json()


def native_samples() -> dict[str, dict[str, Any]]:
    """One valid native payload per channel, as each adapter would send it."""
    return {
        "hotline_12345": work_order(phone(), LIGHTS),
        "mayor_line": {
            "message_id": f"SZZTC-{uuid.uuid4().hex[:8]}",
            "title": "公交线路建议",
            "body": "工业园上下班高峰公交车太少，建议增开班次。",
            "anonymous": True,
        },
        "cso_visit": {
            "visit_id": f"cso-visit-{uuid.uuid4().hex[:8]}",
            "officer_id": "cso-017",
            "enterprise_credit_code": ENTERPRISE,
            "visited_at": "2026-11-27T09:30:00+08:00",
            "problem": "新生产线需新增变压器，供电报装进度慢，请协调供电局。",
            "category": "utilities",
        },
        "web": {"external_id": str(uuid.uuid4()), "phone": phone(), "content": WATER},
        "window": {
            "record_id": str(uuid.uuid4()),
            "window_id": "dw-window-02",
            "staff_id": "staff-204",
            "visitor_phone": phone(),
            "request": "咨询新生儿医保参保手续。",
        },
    }


async def test_every_channel_can_submit_over_its_inbound_topic(run_service, topics):
    samples = native_samples()
    async with run_service("intake"):
        for channel, payload in samples.items():
            await send_signed(topics, channel, payload, channel.encode())
        receipts = [r.json()["payload"] for r in await topics.read(INBOUND_RECEIPTS, at_least=5)]
        appeals = await topics.read(APPEALS_IMMEDIATE, at_least=5)
    assert sorted(r["channel"] for r in receipts) == sorted(samples)
    assert {r["status"] for r in receipts} == {"received"}, receipts
    assert sorted(a.json()["payload"]["channel"] for a in appeals) == sorted(samples)


async def test_inbound_messages_must_be_signed_by_a_key_of_their_channel(settings, topics):
    def order() -> dict[str, Any]:
        return work_order(phone(), LIGHTS)

    good, waited, unsigned, stale, foreign, tampered = (order() for _ in range(6))
    visit = {
        "visit_id": f"cso-visit-{uuid.uuid4().hex[:8]}",
        "officer_id": "cso-017",
        "enterprise_credit_code": ENTERPRISE,
        "visited_at": "2026-11-27T09:30:00+08:00",
    }
    # cso_visit's adapter is one that does not sign yet: turned off for it alone.
    relaxed = settings.model_copy(update={"inbound_unsigned_channels": "cso_visit"})

    def raw(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, ensure_ascii=False).encode()

    hotline = "hotline_12345"
    async with running(build(relaxed)):
        sent = await send_signed(topics, hotline, good, b"good")
        # A copy of the same message, headers and all (someone replaying what they read).
        await topics.send(inbound_topic(hotline), raw(good), b"good", sent)
        await topics.send(inbound_topic(hotline), raw(unsigned), b"unsigned")
        # Signed well before intake consumed it (an outage): older than the HTTP window,
        # within the inbound age.
        await send_signed(
            topics, hotline, waited, b"waited", later_s=-settings.signature_window_s - 60
        )
        await send_signed(
            topics, hotline, stale, b"stale", later_s=-settings.inbound_signature_max_age_s - 5
        )
        await send_signed(topics, hotline, foreign, b"foreign", signer="mayor_line")
        headers = kafka_signature_headers(
            "dev-hotline_12345",
            "dev-secret-hotline_12345",
            inbound_topic(hotline),
            raw(tampered),
            time.time(),
        )
        await topics.send(
            inbound_topic(hotline), raw({**tampered, "content": WATER}), b"x", headers
        )
        await topics.send(inbound_topic("cso_visit"), raw(visit), b"visit")
        receipts = [r.json()["payload"] for r in await topics.read(INBOUND_RECEIPTS, at_least=8)]
        appeals = await topics.read(APPEALS_IMMEDIATE, at_least=2)

    by_id: dict[str, list[dict[str, Any]]] = {}
    for receipt in receipts:
        by_id.setdefault(receipt["external_id"], []).append(receipt)
    assert len(receipts) == 8

    def refusal(payload: dict[str, Any]) -> tuple[list[str], str]:
        [receipt] = by_id[payload["order_no"]]
        assert receipt["status"] == "rejected" and receipt["channel"] == hotline
        [error] = receipt["errors"]
        return error["loc"], error["type"]

    assert sorted(r["status"] for r in by_id[good["order_no"]]) == ["received", "rejected"]
    [replay] = [r for r in by_id[good["order_no"]] if r["status"] == "rejected"]
    assert [e["type"] for e in replay["errors"]] == ["replayed"]
    assert refusal(unsigned) == (["header", "X-Jiban-Key"], "missing_header")
    assert refusal(stale) == (["header", "X-Jiban-Timestamp"], "stale_timestamp")
    assert refusal(foreign) == (["topic"], "wrong_channel")
    assert refusal(tampered) == (["header", "X-Jiban-Signature"], "signature_mismatch")
    assert [r["status"] for r in by_id[visit["visit_id"]]] == ["visit_logged"]
    assert [r["status"] for r in by_id[waited["order_no"]]] == ["received"]
    # Only the signed orders became appeals, once each.
    assert sorted(a.json()["payload"]["external_id"] for a in appeals) == sorted(
        [good["order_no"], waited["order_no"]]
    )
