"""Notify's API fuzzed: the delivery log and the resend, as ops, a supervisor and an officer."""

from __future__ import annotations

import pytest
from harness import dev_token, running
from openapi_fuzz import Fuzzer, signed_in
from seeds import OFFICER, SUPERVISOR, UNIT, assigned_appeals, officer, send

from services.notify.app import build

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

CALLERS = [
    signed_in("ops", dev_token()),
    signed_in("a supervisor", dev_token(SUPERVISOR, ("supervisor",), UNIT)),
    signed_in("an officer", dev_token(OFFICER, ("officer",), UNIT)),
]


async def test_notify_api(settings, topics, wait_until):
    await send(topics, officer())
    await assigned_appeals(topics, 2)
    app = build(settings)
    async with running(app) as client:

        async def notified():
            page = (await client.get("/v1/notifications", params={"limit": 50})).json()
            return page["items"] if len(page["items"]) >= 4 else None

        notifications = await wait_until(notified, timeout_s=30)
        fuzzer = Fuzzer(
            "notify",
            app,
            callers=lambda _label: CALLERS,
            known={"notification_id": [n["notification_id"] for n in notifications]},
        )
        report = await fuzzer.run()
    assert not report.findings, report.failures()
    assert report.reached("POST /v1/notifications/{notification_id}/resend") >= {403, 409}
