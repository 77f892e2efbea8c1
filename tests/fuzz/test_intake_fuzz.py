"""Intake's API fuzzed: every channel's native form, the unified form, receipts and follow-up
results, signed afresh for each request by the channel's development key (and by another
channel's, which must be refused), over a few appeals it took (one of them resolved)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from factories import submission
from harness import running
from openapi_fuzz import Caller, ChannelSigner, Fuzzer
from seeds import send

from services.intake.app import build
from shared.events import AppealStatusChanged
from shared.signing import signature_headers
from shared.vocabulary import AppealStatus, Channel

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

CHANNELS = [c.value for c in Channel]
ANONYMOUS_GIVES_NO = ("name", "phone", "enterprise_credit_code", "enterprise_name")


def _channel_of(path: str, body: bytes) -> str:
    """The channel a request is for: its path's, else its body's (the unified form)."""
    parts = path.split("/")
    if len(parts) > 3 and parts[2] == "channels" and parts[3] in CHANNELS:
        return parts[3]
    try:
        named = json.loads(body).get("channel")
    except (ValueError, AttributeError):
        named = None
    return named if named in CHANNELS else Channel.HOTLINE_12345.value


def appellant(phone: str) -> dict[str, str | None]:
    return {"name": "李女士", "phone": phone, "enterprise_credit_code": None}


def adapters() -> list[Caller]:
    """The channel's own adapter, and another channel's (401/403 before the body is looked at)."""
    signer = ChannelSigner()

    def own(method: str, path: str, body: bytes) -> dict[str, str]:
        channel = _channel_of(path, body)
        return signer.sign(f"dev-{channel}", f"dev-secret-{channel}", method, path, body)

    def other(method: str, path: str, body: bytes) -> dict[str, str]:
        channel = _channel_of(path, body)
        stranger = CHANNELS[(CHANNELS.index(channel) + 1) % len(CHANNELS)]
        return signer.sign(f"dev-{stranger}", f"dev-secret-{stranger}", method, path, body)

    return [
        Caller("the channel's adapter", own),
        Caller("another channel's adapter", other),
    ] * 2 + [Caller("unsigned", lambda _m, _p, _b: {})]


async def test_intake_api(settings, topics, wait_until):
    # The web form is limited per address; here every request comes from one.
    settings = settings.model_copy(
        update={"web_rate_limit_per_minute": 100_000, "web_rate_limit_burst": 100_000}
    )
    app = build(settings)
    async with running(app) as client:
        receipts = []
        for body in (
            submission(external_id="GD-FUZZ-1", appellant=appellant("13800138001")),
            submission(
                external_id="GD-FUZZ-2",
                appellant=appellant("13800138002"),
                content="江南小区路灯损坏已一周，夜间行人看不清路。",
            ),
        ):
            raw = json.dumps(body).encode()
            headers = signature_headers(
                "dev-hotline_12345",
                "dev-secret-hotline_12345",
                "POST",
                "/v1/appeals",
                raw,
                time.time(),
            )
            headers["Content-Type"] = "application/json"
            answer = await client.post("/v1/appeals", content=raw, headers=headers)
            assert answer.status_code == 202, answer.text
            receipts.append((body["external_id"], answer.json()))
        resolved = receipts[0][1]
        await send(
            topics,
            AppealStatusChanged(
                appeal_id=resolved["appeal_id"],
                from_status=AppealStatus.IN_PROGRESS,
                to_status=AppealStatus.RESOLVED,
                changed_at=datetime.now(UTC),
                tracking_code=resolved["tracking_code"],
            ),
        )
        fuzzer = Fuzzer(
            "intake",
            app,
            callers=lambda _label: adapters(),
            # Intake cleans what people type before it checks it (NFC, widths, spaces:
            # shared/normalize.py): text the schema calls too long may be taken.
            refuses_invalid=False,
            beyond_schemas={
                # A credit code's check character, a tracking code's; the clock (times not in
                # the future); two fields together (an anonymous appellant names nobody, an
                # enterprise gives its code, a category needs the problem it classifies).
                "POST /v1/appeals": {
                    *(("body", "appellant", field) for field in ANONYMOUS_GIVES_NO),
                    ("body", "submitted_at"),
                },
                "POST /v1/channels/hotline_12345/appeals": {("body", "accepted_at")},
                "POST /v1/channels/mayor_line/appeals": {("body", "written_at")},
                "POST /v1/channels/cso_visit/appeals": {
                    ("body", "enterprise_credit_code"),
                    ("body", "visited_at"),
                    ("body", "category"),
                },
                "POST /v1/channels/web/appeals": {
                    *(("body", field) for field in ANONYMOUS_GIVES_NO),
                    ("body", "submitted_at"),
                },
                "POST /v1/channels/window/appeals": {
                    ("body", "enterprise_credit_code"),
                    ("body", "recorded_at"),
                },
                "POST /v1/channels/{channel}/follow-ups": {("body",)},
            },
            known={
                "channel": [Channel.HOTLINE_12345.value, *CHANNELS],
                "external_id": [external_id for external_id, _ in receipts],
            },
        )
        report = await fuzzer.run()
    assert not report.findings, report.failures()
    assert 202 in report.reached("POST /v1/channels/hotline_12345/appeals")
    assert 200 in report.reached("GET /v1/channels/{channel}/appeals/{external_id}")
