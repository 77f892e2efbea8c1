"""Intake against a real Postgres and a real broker: accept, idempotency, validation, outages."""

from __future__ import annotations

import json

import pytest
from factories import submission
from harness import running
from sqlalchemy import func, select

from jiban.local_infra import free_port
from services.intake.tracking_codes.codes import is_valid_tracking_code
from shared.db import Database
from shared.topics import APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration


async def test_accepted_appeal_is_stored_and_published_once(run_service, topics, settings):
    async with run_service("intake") as intake:
        body = submission()
        first = await intake.post("/v1/appeals", json=body)
        assert first.status_code == 202, first.text
        accepted = first.json()
        assert accepted["status"] == "received"
        assert is_valid_tracking_code(accepted["tracking_code"], prefix="DW")

        again = await intake.post("/v1/appeals", json=body)
        assert again.status_code == 200
        assert again.json() == accepted

        records = await topics.read(APPEALS_IMMEDIATE, at_least=1)
    assert len(records) == 1, "a repeated submission must not publish again"
    record = records[0]
    assert record.key == accepted["appeal_id"].encode()
    assert record.headers["x-event-type"] == "AppealReceived"
    envelope = record.json()
    assert envelope["subject_id"] == accepted["appeal_id"]
    assert envelope["payload"]["tracking_code"] == accepted["tracking_code"]
    assert envelope["payload"]["appellant"]["phone"] == body["appellant"]["phone"]

    db = Database(settings)
    try:
        async with db.transaction() as session:
            from services.intake.tables import appeals, outbox

            assert await session.scalar(select(func.count()).select_from(appeals)) == 1
            # Published rows leave the outbox.
            assert await session.scalar(select(func.count()).select_from(outbox)) == 0
    finally:
        await db.dispose()


async def test_same_external_id_on_another_channel_is_another_appeal(run_service):
    async with run_service("intake") as intake:
        body = submission()
        a = await intake.post("/v1/appeals", json=body)
        # Another appellant with another matter (the same one would join the first appeal).
        other = submission(content="江南小区路灯损坏已一周，夜间行人看不清路。")
        b = await intake.post(
            "/v1/appeals",
            json={**other, "external_id": body["external_id"], "channel": "mayor_line"},
        )
    assert a.status_code == b.status_code == 202
    assert a.json()["appeal_id"] != b.json()["appeal_id"]


async def test_bad_input_is_422_naming_each_field(run_service, topics):
    async with run_service("intake") as intake:
        response = await intake.post(
            "/v1/appeals",
            json=submission(
                channel="fax",
                content="   ",
                appellant={"phone": "12345", "enterprise_credit_code": "91441200000000000X"},
                urgency="whenever",
            ),
        )
        not_json = await intake.post(
            "/v1/appeals", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    locations = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert {
        ("body", "channel"),
        ("body", "content"),
        ("body", "appellant", "phone"),
        ("body", "appellant", "enterprise_credit_code"),
        ("body", "urgency"),
    } <= locations
    assert not_json.status_code == 422
    assert await topics.read(APPEALS_IMMEDIATE, at_least=1, timeout_s=1) == []


async def test_oversized_body_is_refused_with_413(run_service):
    async with run_service("intake") as intake:
        huge = json.dumps(submission(content="很" * 600_000)).encode()
        response = await intake.post(
            "/v1/appeals", content=huge, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "detail" in response.json()


async def test_database_down_answers_503_with_retry_after(settings, topics):
    from services.intake.app import build

    unreachable = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"}
    )
    async with running(build(unreachable)) as intake:
        response = await intake.post("/v1/appeals", json=submission())
        ready = await intake.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "retry" in response.json()["detail"]
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")
    assert await topics.read(APPEALS_IMMEDIATE, at_least=1, timeout_s=1) == []


async def test_ops_endpoints_answer(run_service, wait_until):
    async with run_service("intake") as intake:
        await intake.post("/v1/appeals", json=submission())
        health = await intake.get("/healthz")

        async def connected():
            # Intake serves before its broker connection is up (it starts in the background).
            answer = await intake.get("/readyz")
            return answer if answer.json()["checks"]["broker"] == "ok" else None

        ready = await wait_until(connected)
        metrics = await intake.get("/metrics")
    assert health.status_code == 200 and health.json()["service"] == "intake"
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"] == "ok"
    assert metrics.status_code == 200
    assert 'jiban_outbox_published_total{service="intake"}' in metrics.text


async def test_broker_outage_keeps_intake_ready_but_not_a_consumer(settings):
    from services.intake import tables as intake_tables
    from shared.service import ServiceRuntime

    unreachable = settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    intake = ServiceRuntime("intake", unreachable, intake_tables.metadata, ready_needs_broker=False)
    # Readiness reads no table: any service's metadata will do for one that needs the broker.
    dispatch = ServiceRuntime("dispatch", unreachable, intake_tables.metadata)
    try:
        intake_ready, intake_checks = await intake.readiness()
        dispatch_ready, dispatch_checks = await dispatch.readiness()
    finally:
        await intake.db.dispose()
        await dispatch.db.dispose()
    assert intake_checks["broker"] == dispatch_checks["broker"] == "unavailable"
    assert intake_checks["database"] == "ok"
    assert intake_ready is True  # the outbox holds appeals until the broker is back
    assert dispatch_ready is False


async def test_intake_starts_and_accepts_while_the_broker_is_away(settings, topics):
    """Its consumers cannot join, its relay cannot publish: it still takes appeals (202) into
    its outbox, and they leave once the broker answers (here: never, within the test)."""
    from services.intake.app import build
    from services.intake.tables import outbox

    unreachable = settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    async with running(build(unreachable)) as intake:
        response = await intake.post("/v1/appeals", json=submission())
        ready = await intake.get("/readyz")
    assert response.status_code == 202, response.text
    assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "unavailable"
    db = Database(settings)
    try:
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(outbox)) == 1
    finally:
        await db.dispose()
