"""Dispatch's API fuzzed over the demo directory and a few appeals it routed (one with a return
pending): the directory, the duty posts, assignments, routing, returns, reassignment and
assistants, as ops, the duty dispatcher, a supervisor and an officer."""

from __future__ import annotations

import pytest
from factories import received
from harness import dev_token, running
from openapi_fuzz import Fuzzer, signed_in
from seeds import fixed_id, send

from jiban.setup import load_demo_directory
from services.dispatch.app import build
from services.dispatch.directory import local_today
from services.dispatch.directory.demo import (
    DUTY_DISPATCHER_ID,
    SUP_SERVICE,
    SUPERVISOR_UNITS,
    generate_demo_directory,
)
from shared.events import Location, ReturnRequested

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]


async def test_dispatch_api(settings, topics, wait_until):
    directory = generate_demo_directory(today=local_today())
    await load_demo_directory(settings, directory)
    enterprises = directory.enterprises[:3]
    appeals = [
        received(
            appeal_id=fixed_id(n),
            tracking_code=f"DW-20261127-{n:06d}-0",
            external_id=f"GD-FUZZ-{n}",
            enterprise_credit_code=e.credit_code,
            location=Location(address="大旺工业园", community=e.community),
        )
        for n, e in enumerate(enterprises, start=1)
    ]
    app = build(settings)
    async with running(app) as client:
        for appeal in appeals:
            await send(topics, appeal)

        async def routed():
            answers = [await client.get(f"/v1/assignments/{a.appeal_id}") for a in appeals]
            return (
                [r.json() for r in answers] if all(r.status_code == 200 for r in answers) else None
            )

        assignments = await wait_until(routed, timeout_s=30)
        lead = assignments[0]["officer_id"]
        await send(
            topics,
            ReturnRequested(
                appeal_id=appeals[0].appeal_id,
                officer_id=lead,
                reason_code="overlapping_functions",
                reason="职能交叉，请重新派单",
            ),
        )

        async def pending():
            page = (await client.get("/v1/returns", params={"status": "pending"})).json()
            return page["items"]

        await wait_until(pending, timeout_s=30)
        officers = [o.officer_id for o in directory.officers[:3]] + [lead]
        callers = [
            signed_in("ops", dev_token()),
            signed_in("the duty dispatcher", dev_token(DUTY_DISPATCHER_ID, ("dispatcher",))),
            signed_in(
                "a supervisor",
                dev_token(SUP_SERVICE, ("supervisor",), SUPERVISOR_UNITS[SUP_SERVICE]),
            ),
            signed_in("the lead officer", dev_token(lead, ("officer",))),
        ]
        fuzzer = Fuzzer(
            "dispatch",
            app,
            callers=lambda _label: callers,
            beyond_schemas={
                # A leave period ending before it starts: two fields, beyond a schema.
                "PATCH /v1/officers/{officer_id}": {("body", "leave", "*")},
                # Officers that must be in the directory (and a CSO, for an enterprise).
                "PUT /v1/enterprises/{credit_code}/cso": {("body", "officer_id")},
                "PUT /v1/duty/{post}": {("body", "officer_id")},
                "POST /v1/appeals/{appeal_id}/reassign": {("body", "officer_id")},
                "POST /v1/appeals/{appeal_id}/assistants": {("body", "officer_ids")},
                # Whether the bytes are a roster (CSV or XLSX with a known header) is no
                # schema's to say.
                "POST /v1/directory/roster": {("body", "file")},
            },
            known={
                "appeal_id": [str(a.appeal_id) for a in appeals],
                "officer_id": officers,
                "credit_code": [e.credit_code for e in enterprises],
                "department_id": [d.department_id for d in directory.departments[:3]],
                "post": ["dispatcher", "supervisor"],
            },
        )
        report = await fuzzer.run()
    assert not report.findings, report.failures()
    assert 200 in report.reached("GET /v1/officers/{officer_id}")
    assert 200 in report.reached("GET /v1/appeals/{appeal_id}/routing")
