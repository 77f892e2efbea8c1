"""Tracking shows an appeal's classification and every time it was raised: the original
submission and each repeat merged into it, against a real broker and Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from factories import assigned, envelope_of, merged, received
from sqlalchemy import func, select

from shared.db import Database
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE
from shared.vocabulary import AppealType, Category, Channel, Urgency

pytestmark = pytest.mark.integration

CLASSIFIED_BY = {"type": "rule:complaint_words", "category": "submitter", "urgency": "default"}


async def test_merged_repeats_show_in_the_view_without_moving_the_status(
    settings, run_service, topics, wait_until
):
    appeal_id = uuid.uuid4()
    t0 = datetime.now(UTC).replace(microsecond=0)
    original = received(
        appeal_id,
        external_id="GD-0001",
        appeal_type=AppealType.COMPLAINT,
        category=Category.UTILITIES,
        urgency=Urgency.URGENT,
        classified_by=CLASSIFIED_BY,
        received_at=t0,
    )
    code = original.tracking_code
    mayor = merged(
        appeal_id,
        code,
        Channel.MAYOR_LINE,
        external_id="ML-0001",
        merged_at=t0 + timedelta(minutes=1),
    )
    web = merged(
        appeal_id,
        code,
        Channel.WEB,
        external_id="W-0001",
        merged_at=t0 + timedelta(minutes=2),
        score=0.83,
        reason="同一地点、内容相似",
    )

    async def view(min_history: int):
        async def ready():
            r = await tracking.get(f"/v1/appeals/{appeal_id}")
            if r.status_code == 200 and len(r.json()["history"]) >= min_history:
                return r.json()
            return None

        return await wait_until(ready)

    async with run_service("tracking") as tracking:
        assignment = assigned(appeal_id, "cw-7", assigned_at=t0 + timedelta(seconds=30))
        for topic, event in ((APPEALS_IMMEDIATE, original), (APPEALS_ASSIGNMENTS, assignment)):
            env = envelope_of(event)
            await topics.send(topic, env.to_bytes(), env.key)
        before = await view(3)  # received, its deadlines, assigned
        for event in (mayor, web):
            env = envelope_of(event, occurred_at=event.merged_at)
            await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)
        # The web repeat again under another event id (a republish): counted once.
        again = envelope_of(web, occurred_at=web.merged_at)
        await topics.send(APPEALS_IMMEDIATE, again.to_bytes(), again.key)
        after = await view(5)
        queue = (await tracking.get("/v1/officers/cw-7/queue")).json()
        # The republished repeat was consumed (the inbox holds all five) and changed nothing.
        await wait_until(lambda: _inbox_holds(settings, 5))
        final = (await tracking.get(f"/v1/appeals/{appeal_id}")).json()

    assert before["times_raised"] == 1
    for v in (after, final):
        assert v["status"] == "assigned" and v["officer_id"] == "cw-7"
        assert (v["type"], v["category"], v["urgency"]) == ("complaint", "utilities", "urgent")
        assert v["classified_by"] == CLASSIFIED_BY
        assert v["times_raised"] == 3
        assert [(s["kind"], s["channel"], s["external_id"]) for s in v["submissions"]] == [
            ("original", "hotline_12345", "GD-0001"),
            ("merged", "mayor_line", "ML-0001"),
            ("merged", "web", "W-0001"),
        ]
    first, second, third = final["submissions"]
    assert datetime.fromisoformat(first["at"]) == t0
    assert (first["score"], first["reason"]) == (None, None)
    assert datetime.fromisoformat(second["at"]) == mayor.merged_at
    assert (second["score"], second["reason"]) == (0.91, mayor.reason)
    assert (third["score"], third["reason"]) == (0.83, "同一地点、内容相似")
    assert [
        (h["kind"], h["from_status"], h["to_status"], h["actor"], h["note"])
        for h in final["history"]
        if h["kind"] != "deadlines_set"  # tracking's own, checked in test_closed_loop
    ] == [
        ("received", None, "received", "channel:hotline_12345", None),
        ("assigned", "received", "assigned", "dispatch", f"派给 cw-7：{assignment.reason}"),
        ("merged", "assigned", "assigned", "channel:mayor_line", mayor.reason),
        ("merged", "assigned", "assigned", "channel:web", "同一地点、内容相似"),
    ]
    (item,) = queue["items"]
    assert (item["type"], item["category"], item["urgency"], item["times_raised"]) == (
        "complaint",
        "utilities",
        "urgent",
        3,
    )


async def _inbox_holds(settings, n: int) -> bool:
    from services.tracking.tables import inbox

    db = Database(settings)
    try:
        async with db.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(inbox))) >= n
    finally:
        await db.dispose()
