"""Notify against a real broker and Postgres: a delivery is recorded and announced once."""

from __future__ import annotations

from datetime import datetime

import pytest
from factories import assigned, envelope_of, received

from shared.events import NotificationSent
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, NOTIFICATIONS_SENT

pytestmark = pytest.mark.integration


async def test_each_delivery_publishes_exactly_one_notification_sent(
    settings, run_service, topics, wait_until
):
    event = received()
    appeal_id = event.appeal_id
    rec = envelope_of(event)
    asg = envelope_of(assigned(appeal_id, "cw-7", tracking_code=event.tracking_code))
    async with run_service("notify") as notify:
        for _ in range(2):  # the received event delivered twice: still one notification
            await topics.send(APPEALS_IMMEDIATE, rec.to_bytes(), rec.key)
        await topics.send(APPEALS_ASSIGNMENTS, asg.to_bytes(), asg.key)

        async def both_sent():
            r = await notify.get("/v1/notifications", params={"appeal_id": str(appeal_id)})
            items = r.json()["items"]
            return items if len(items) == 2 and all(n["status"] == "sent" for n in items) else None

        log = await wait_until(both_sent)
        published = await topics.read(NOTIFICATIONS_SENT, at_least=2)

    assert len(published) == 2
    by_id = {n["notification_id"]: n for n in log}
    for record in published:
        envelope = record.json()
        assert envelope["type"] == NotificationSent.TYPE
        assert envelope["producer"] == "notify"
        assert envelope["subject_id"] == str(appeal_id)
        assert record.key == str(appeal_id).encode()
        sent = NotificationSent.model_validate(envelope["payload"])
        logged = by_id.pop(str(sent.notification_id))
        assert sent.appeal_id == appeal_id
        assert (sent.recipient, sent.medium, sent.kind) == (
            logged["recipient"],
            logged["medium"],
            logged["kind"],
        )
        assert sent.sent_at == datetime.fromisoformat(logged["sent_at"])
    assert by_id == {}  # one event per delivery, none missing
    assert {p.json()["payload"]["recipient"] for p in published} == {"appellant", "officer:cw-7"}
