"""Tracking's API fuzzed: appeals, queues, officers' actions, extensions, the access log, the
status page and the reports, as ops, the appeals' officer, their unit's supervisor and dispatcher,
and a supervisor of another unit."""

from __future__ import annotations

import pytest
from harness import dev_token, running
from openapi_fuzz import Fuzzer, signed_in
from seeds import DISPATCHER, OFFICER, SUPERVISOR, UNIT, assigned_appeals, officer, send

from services.tracking.app import build
from shared.clock import utcnow

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

CALLERS = [
    signed_in("ops", dev_token()),
    signed_in("the officer", dev_token(OFFICER, ("officer",), UNIT)),
    signed_in("their supervisor", dev_token(SUPERVISOR, ("supervisor",), UNIT)),
    signed_in("their dispatcher", dev_token(DISPATCHER, ("dispatcher",), UNIT)),
    signed_in("another unit's supervisor", dev_token("sup-9", ("supervisor",), "荔枝社区")),
]


async def test_tracking_api(settings, topics, wait_until):
    await send(topics, officer())
    appeals = await assigned_appeals(topics, 3)
    app = build(settings)
    async with running(app) as client:

        async def all_assigned():
            for appeal, _ in appeals:
                r = await client.get(f"/v1/appeals/{appeal.appeal_id}")
                if r.status_code != 200 or r.json()["status"] != "assigned":
                    return False
            return True

        await wait_until(all_assigned, timeout_s=30)
        month = utcnow().strftime("%Y-%m")
        fuzzer = Fuzzer(
            "tracking",
            app,
            callers=lambda _label: CALLERS,
            beyond_schemas={
                # A first day after the last: two parameters together.
                "GET /v1/reports/rates": {("query", "from")},
                "GET /v1/appeals": {("query", "from")},
                "GET /v1/appeals/counts": {("query", "from")},
                # Months that have begun, or are over; CSOs tracking knows.
                "POST /v1/reports/cso-reporters/{month}": {("path", "month")},
                "POST /v1/reports/cso-reporters/{month}/reported": {
                    ("path", "month"),
                    ("body", "officer_id"),
                },
            },
            known={
                "appeal_id": [str(a.appeal_id) for a, _ in appeals],
                "officer_id": [OFFICER],
                "tracking_code": [a.tracking_code for a, _ in appeals],
                "month": [month],
            },
        )
        report = await fuzzer.run()
    assert not report.findings, report.failures()
    assert 200 in report.reached("GET /v1/appeals/{appeal_id}")
    assert 200 in report.reached("POST /v1/appeals/{appeal_id}/accept")
