"""The appellant's status page on tracking: the tracking code and the phone's last four digits
show where the appeal stands, with nothing personal; anything else is the same 404."""

from __future__ import annotations

import json

import pytest
from factories import assigned, envelope_of, received

from shared.events import Appellant
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration

NO_TOKEN = {"Authorization": ""}


async def test_the_status_page_needs_the_code_and_the_phone_and_shows_nothing_personal(
    settings, run_service, topics, wait_until
):
    named = received(appellant=Appellant(name="王先生", phone="139 1234 5678"))
    anonymous = received(appellant=Appellant(anonymous=True))
    events = [
        envelope_of(named),
        envelope_of(assigned(named.appeal_id, "cw-7", tracking_code=named.tracking_code)),
        envelope_of(anonymous),
    ]
    topics_of = (APPEALS_IMMEDIATE, APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE)
    for env, topic in zip(events, topics_of, strict=True):
        await topics.send(topic, env.to_bytes(), env.key)
    page = f"/v1/status/{named.tracking_code}"
    async with run_service("tracking") as tracking:

        async def shown():
            answer = await tracking.get(page, params={"phone_last4": "5678"}, headers=NO_TOKEN)
            ok = answer.status_code == 200 and answer.json()["status"] == "assigned"
            return answer if ok else None

        found = await wait_until(shown)
        lower = await tracking.get(page.lower(), params={"phone_last4": "5678"}, headers=NO_TOKEN)
        wrong = await tracking.get(page, params={"phone_last4": "1234"}, headers=NO_TOKEN)
        missing = await tracking.get(page, headers=NO_TOKEN)
        unknown = await tracking.get(
            "/v1/status/DW-20260101-000000-0", params={"phone_last4": "5678"}, headers=NO_TOKEN
        )
        nobody = await tracking.get(
            f"/v1/status/{anonymous.tracking_code}",
            params={"phone_last4": "0000"},
            headers=NO_TOKEN,
        )
        malformed = await tracking.get(page, params={"phone_last4": "56a8"}, headers=NO_TOKEN)
    body = found.json()
    assert body["tracking_code"] == named.tracking_code
    assert [step["kind"] for step in body["history"]] == ["received", "assigned"]
    text = json.dumps(body, ensure_ascii=False)
    for personal in ("王先生", "5678", "cw-7", str(named.appeal_id)):
        assert personal not in text
    assert lower.status_code == 200
    assert {r.status_code for r in (wrong, missing, unknown, nobody)} == {404}
    assert wrong.json() == missing.json() == unknown.json() == nobody.json()
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["query", "phone_last4"]
