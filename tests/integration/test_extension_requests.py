"""The rulers' work list of extension requests (延期) on tracking (`GET /v1/extensions`): what
awaits a ruling, of a supervisor's own unit, every unit's for dispatchers and ops, nobody's for
officers; ruled, a request leaves the pending list and shows its ruling. Against a real broker
and Postgres, the requests made and ruled through tracking's own routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from factories import assigned, envelope_of, received
from harness import bearer, dev_token, sql

from shared.db import Database
from shared.events import Appellant
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration

DAWANG, LONGWAN = "大旺社区", "龙湾社区"
PHONE = "13922223333"

SUP_DAWANG = bearer(dev_token("sup-dw", ("officer", "supervisor"), DAWANG))
SUP_LONGWAN = bearer(dev_token("sup-lw", ("supervisor",), LONGWAN))
DISPATCHER_LONGWAN = bearer(dev_token("disp-lw", ("dispatcher",), LONGWAN))
NO_UNIT = bearer(dev_token("sup-x", ("supervisor",), None))


def officer_headers(officer_id: str, unit: str) -> dict[str, str]:
    return bearer(dev_token(officer_id, ("officer",), unit))


async def seed_officers(db: Database) -> None:
    for officer_id, unit in (("cw-a", DAWANG), ("cw-c", LONGWAN)):
        await sql(
            db,
            "INSERT INTO tracking.officers (officer_id, name, role, unit, updated_at)"
            " VALUES (:id, :name, 'community_worker', :unit, now())",
            id=officer_id,
            name=f"干部{officer_id}",
            unit=unit,
        )


async def assigned_appeal(topics, db: Database, wait_until, officer_id: str, content: str) -> Any:
    event = received(
        content=content,
        received_at=datetime.now(UTC),
        appellant=Appellant(name="陈小姐", phone=PHONE),
    )
    for env in (envelope_of(event), envelope_of(assigned(event.appeal_id, officer_id))):
        topic = APPEALS_IMMEDIATE if env.type == "AppealReceived" else APPEALS_ASSIGNMENTS
        await topics.send(topic, env.to_bytes(), env.key)

    async def is_assigned() -> bool:
        rows = await sql(
            db,
            "SELECT status FROM tracking.appeals WHERE appeal_id = :id",
            id=event.appeal_id,
        )
        return bool(rows) and rows[0].status == "assigned"

    await wait_until(is_assigned)
    return event


async def ask_for_extension(tracking, appeal_id: Any, officer: dict[str, str], days: int) -> None:
    accepted = await tracking.post(f"/v1/appeals/{appeal_id}/accept", json={}, headers=officer)
    assert accepted.status_code == 200, accepted.text
    asked = await tracking.post(
        f"/v1/appeals/{appeal_id}/extension",
        json={"days": days, "reason": f"需协调多个部门，申请延期 {days} 个工作日。"},
        headers=officer,
    )
    assert asked.status_code == 201, asked.text


def ids_of(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["appeal_id"] for item in answer.json()["items"]]


async def test_pending_extension_requests_by_unit_ruled_and_gone(
    settings, run_service, topics, db, wait_until
):
    await seed_officers(db)
    async with run_service("tracking") as tracking:
        a = await assigned_appeal(topics, db, wait_until, "cw-a", "大旺大道路灯损坏多处。")
        c = await assigned_appeal(topics, db, wait_until, "cw-c", "龙湾市场排水沟堵塞。")
        await ask_for_extension(tracking, a.appeal_id, officer_headers("cw-a", DAWANG), 3)
        await ask_for_extension(tracking, c.appeal_id, officer_headers("cw-c", LONGWAN), 2)
        pending = {"status": "pending"}
        seen = {
            "own unit": await tracking.get("/v1/extensions", params=pending, headers=SUP_DAWANG),
            "other supervisor": await tracking.get(
                "/v1/extensions", params=pending, headers=SUP_LONGWAN
            ),
            "dispatcher": await tracking.get(
                "/v1/extensions", params=pending, headers=DISPATCHER_LONGWAN
            ),
            "dispatcher, one unit": await tracking.get(
                "/v1/extensions", params={**pending, "unit": DAWANG}, headers=DISPATCHER_LONGWAN
            ),
            "ops": await tracking.get("/v1/extensions", params=pending),
        }
        refused = {
            "another unit": await tracking.get(
                "/v1/extensions", params={"unit": LONGWAN}, headers=SUP_DAWANG
            ),
            "officer": await tracking.get(
                "/v1/extensions", headers=officer_headers("cw-a", DAWANG)
            ),
            "no unit": await tracking.get("/v1/extensions", headers=NO_UNIT),
        }
        invalid = await tracking.get("/v1/extensions", params={"status": "lost"})
        first = (await tracking.get("/v1/extensions", params={"limit": 1})).json()
        rest = (
            await tracking.get(
                "/v1/extensions", params={"limit": 1, "cursor": first["next_cursor"]}
            )
        ).json()

        ruled = await tracking.post(
            f"/v1/appeals/{a.appeal_id}/extension-decision",
            json={"decision": "grant", "note": "同意。"},
            headers=SUP_DAWANG,
        )
        assert ruled.status_code == 200, ruled.text
        after = await tracking.get("/v1/extensions", params=pending, headers=SUP_DAWANG)
        granted = await tracking.get(
            "/v1/extensions", params={"status": "granted"}, headers=SUP_DAWANG
        )
        view = (await tracking.get(f"/v1/appeals/{a.appeal_id}")).json()

    a_id, c_id = str(a.appeal_id), str(c.appeal_id)
    assert {who: ids_of(r) for who, r in seen.items()} == {
        "own unit": [a_id],
        "other supervisor": [c_id],
        "dispatcher": [a_id, c_id],  # dispatchers rule zone-wide; oldest request first
        "dispatcher, one unit": [a_id],
        "ops": [a_id, c_id],
    }
    for who, r in refused.items():
        assert r.status_code == 403, (who, r.text)
        assert r.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["query", "status"]
    assert [i["appeal_id"] for i in first["items"] + rest["items"]] == [a_id, c_id]

    (item,) = seen["own unit"].json()["items"]
    assert (item["tracking_code"], item["officer_id"], item["unit"]) == (
        a.tracking_code,
        "cw-a",
        DAWANG,
    )
    assert (item["stage"], item["working_days"], item["status"]) == ("resolve", 3, "pending")
    assert (item["requested_by"], item["appeal_status"], item["decided_by"]) == (
        "cw-a",
        "accepted",
        None,
    )
    assert "3 个工作日" in item["reason"]
    resolve = next(d for d in view["deadlines"] if d["stage"] == "resolve")
    assert item["due_at"] is not None
    assert datetime.fromisoformat(item["due_at"]) < datetime.fromisoformat(resolve["due_at"])
    assert PHONE not in seen["ops"].text and "陈小姐" not in seen["ops"].text

    assert ids_of(after) == []
    (done,) = granted.json()["items"]
    assert (done["appeal_id"], done["status"], done["decided_by"], done["note"]) == (
        a_id,
        "granted",
        "sup-dw",
        "同意。",
    )
    assert datetime.fromisoformat(done["due_at"]) == datetime.fromisoformat(resolve["due_at"])
