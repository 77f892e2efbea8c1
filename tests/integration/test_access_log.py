"""The appeal's view on tracking (`GET /v1/appeals/{id}`) for the officers on it: the appellant to
call back, the lifecycle, deadlines and extension requests, and the history; every answer that
showed the appellant is in the access log (`GET /v1/access-log`, ops only), and no log line holds
a name or phone. Against a real broker and Postgres."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, envelope_of, merged, received
from harness import bearer, dev_token, sql

from shared.db import Database
from shared.events import Appellant
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration

DAWANG, LONGWAN = "大旺社区", "龙湾社区"
NAME, PHONE = "陈小姐", "13922223333"
ROUTE = "GET /v1/appeals/{appeal_id}"

OFFICER = bearer(dev_token("cw-a", ("officer",), DAWANG))
OTHER_OFFICER = bearer(dev_token("cw-c", ("officer",), LONGWAN))
SUP_DAWANG = bearer(dev_token("sup-dw", ("officer", "supervisor"), DAWANG))
SUP_LONGWAN = bearer(dev_token("sup-lw", ("officer", "supervisor"), LONGWAN))


async def seed(topics, db: Database, wait_until, *events: Any) -> None:
    """Officers cw-a (大旺) and cw-c (龙湾); each appeal received and assigned to cw-a, with the
    appellant's name and phone, and no deadlines but the ones a test inserts."""
    for officer_id, unit in (("cw-a", DAWANG), ("cw-c", LONGWAN)):
        await sql(
            db,
            "INSERT INTO tracking.officers (officer_id, name, role, unit, updated_at)"
            " VALUES (:id, :id, 'community_worker', :unit, now())",
            id=officer_id,
            unit=unit,
        )
    for event in events:
        for topic, e in (
            (APPEALS_IMMEDIATE, event),
            (APPEALS_ASSIGNMENTS, assigned(event.appeal_id, "cw-a")),
        ):
            env = envelope_of(e)
            await topics.send(topic, env.to_bytes(), env.key)
    ids = [e.appeal_id for e in events]

    async def all_in() -> bool:
        rows = await sql(
            db,
            "SELECT count(*) AS n FROM tracking.appeals WHERE appeal_id = ANY(:ids)"
            " AND received_at IS NOT NULL AND officer_id = 'cw-a'",
            ids=ids,
        )
        return rows[0].n == len(ids)

    await wait_until(all_in)
    await sql(db, "DELETE FROM tracking.deadlines WHERE appeal_id = ANY(:ids)", ids=ids)
    await sql(
        db,
        "UPDATE tracking.appeals SET appellant_name = :name, appellant_phone = :phone"
        " WHERE appeal_id = ANY(:ids)",
        ids=ids,
        name=NAME,
        phone=PHONE,
    )


async def test_each_read_of_the_appellant_is_logged_once(
    settings, run_service, topics, db, wait_until, caplog
):
    named = received(appellant=Appellant(name=NAME, phone=PHONE))
    anonymous = received(appellant=Appellant(anonymous=True))
    caplog.set_level(logging.DEBUG)
    async with run_service("tracking") as tracking:
        await seed(topics, db, wait_until, named, anonymous)
        await sql(
            db,
            "UPDATE tracking.appeals SET anonymous = true, appellant_name = NULL,"
            " appellant_phone = NULL WHERE appeal_id = :id",
            id=anonymous.appeal_id,
        )
        url = f"/v1/appeals/{named.appeal_id}"
        reads = {
            "ops": await tracking.get(url),
            "cw-a": await tracking.get(url, headers=OFFICER),
            "sup-dw": await tracking.get(url, headers=SUP_DAWANG),
            "cw-c": await tracking.get(url, headers=OTHER_OFFICER),
            "sup-lw": await tracking.get(url, headers=SUP_LONGWAN),
        }
        nobody = await tracking.get(f"/v1/appeals/{anonymous.appeal_id}")
        log = "/v1/access-log"
        of_named = await tracking.get(log, params={"appeal_id": str(named.appeal_id)})
        of_anonymous = await tracking.get(log, params={"appeal_id": str(anonymous.appeal_id)})
        by_officer = await tracking.get(log, params={"subject": "cw-a"})
        first = (await tracking.get(log, params={"limit": 2})).json()
        rest = (await tracking.get(log, params={"limit": 2, "cursor": first["next_cursor"]})).json()
        refused = [
            await tracking.get(log, headers=SUP_DAWANG),
            await tracking.get(log, headers=OFFICER),
        ]

    assert {who: r.status_code for who, r in reads.items()} == {
        "ops": 200,
        "cw-a": 200,
        "sup-dw": 200,
        "cw-c": 403,
        "sup-lw": 403,
    }
    assert reads["cw-a"].json()["appellant"] == {"name": NAME, "phone": PHONE}
    assert nobody.status_code == 200
    assert (nobody.json()["appellant"], nobody.json()["anonymous"]) == (None, True)
    # One row per read that showed the appellant, naming the reader; none for the refused
    # reads, none for the anonymous appeal.
    rows = of_named.json()["items"]
    assert [(r["subject"], r["roles"]) for r in rows] == [
        ("ops", ["ops"]),
        ("cw-a", ["officer"]),
        ("sup-dw", ["officer", "supervisor"]),
    ]
    for row in rows:
        assert (row["appeal_id"], row["fields"], row["route"]) == (
            str(named.appeal_id),
            ["name", "phone"],
            ROUTE,
        )
        assert datetime.fromisoformat(row["at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert of_anonymous.json()["items"] == []
    assert [r["subject"] for r in by_officer.json()["items"]] == ["cw-a"]
    assert [r["id"] for r in first["items"] + rest["items"]] == [r["id"] for r in rows]
    assert rest["next_cursor"] is None
    assert [r.status_code for r in refused] == [403, 403]
    # The reads were logged as such, and no line of the services' logs holds the name or the
    # phone (the test's own Kafka client logs what it sends at DEBUG: not the service's).
    ours = [r for r in caplog.records if r.name.startswith(("services.", "shared."))]
    noted = [r for r in ours if r.getMessage() == "personal data read"]
    assert [r.__dict__["subject"] for r in noted] == ["ops", "cw-a", "sup-dw"]
    for record in ours:
        line = f"{record.getMessage()} {record.__dict__}"
        assert NAME not in line and PHONE not in line


async def test_the_view_shows_the_lifecycle_deadlines_and_extensions(
    settings, run_service, topics, db, wait_until
):
    event = received(appellant=Appellant(name=NAME, phone=PHONE))
    appeal_id = event.appeal_id
    now = datetime.now(UTC).replace(microsecond=0)
    at = {n: now - timedelta(hours=n) for n in range(1, 8)}
    async with run_service("tracking") as tracking:
        await seed(topics, db, wait_until, event)
        await sql(
            db,
            "UPDATE tracking.appeals SET status = 'in_progress', contacted = true,"
            " accepted_at = :h6, first_contacted_at = :h5, resolution = '已疏通',"
            " reopen_count = 1, escalated = false, followed_up_at = :h4,"
            " follow_up_solved = false, follow_up_satisfaction = 'unsatisfied',"
            " due_at = :due, due_stage = 'resolve' WHERE appeal_id = :id",
            id=appeal_id,
            h6=at[6],
            h5=at[5],
            h4=at[4],
            due=now + timedelta(days=3),
        )
        for stage, due, met in (
            ("resolve", now + timedelta(days=3), None),
            ("acknowledge", at[7], at[6]),
            ("first_contact", at[1], None),
        ):
            await sql(
                db,
                "INSERT INTO tracking.deadlines (appeal_id, stage, start_at, start_basis, due_at,"
                " warn_at, public_notice_at, rule_dimension, rule_limit, reason, met_at,"
                " extensions) VALUES (:id, :stage, :start, 'received', :due, :due, :due,"
                " 'default', '1 hours', :reason, :met, CAST(:ext AS jsonb))",
                id=appeal_id,
                stage=stage,
                start=now - timedelta(days=1),
                due=due,
                met=met,
                reason=f"default: {stage}",
                ext='[{"working_days": 2, "reason": "需协调"}]' if stage == "resolve" else "[]",
            )
        for status, decided in (("granted", at[2]), ("pending", None)):
            await sql(
                db,
                "INSERT INTO tracking.extensions (appeal_id, stage, working_days, reason,"
                " requested_by, requested_at, status, decided_by, decided_at)"
                " VALUES (:id, 'resolve', 2, '需协调', 'cw-a', :requested, :status,"
                " :by, :decided)",
                id=appeal_id,
                requested=at[3] if decided else at[1],
                status=status,
                by="sup-dw" if decided else None,
                decided=decided,
            )
        view = (await tracking.get(f"/v1/appeals/{appeal_id}", headers=OFFICER)).json()

    assert view["status"] == "in_progress"
    assert view["appellant"] == {"name": NAME, "phone": PHONE}
    assert (view["contacted"], view["resolution"], view["reopen_count"], view["escalated"]) == (
        True,
        "已疏通",
        1,
        False,
    )
    assert datetime.fromisoformat(view["accepted_at"]) == at[6]
    assert datetime.fromisoformat(view["first_contacted_at"]) == at[5]
    assert (view["resolved_at"], view["closed_at"], view["closed_reason"]) == (None, None, None)
    assert view["follow_up"]["solved"] is False
    assert view["follow_up"]["satisfaction"] == "unsatisfied"
    assert view["unreasonable"] is None
    assert view["due_stage"] == "resolve"
    # In the order the stages fall due; overdue: not met and past due.
    assert [(d["stage"], d["overdue"], d["met_at"] is not None) for d in view["deadlines"]] == [
        ("acknowledge", False, True),
        ("first_contact", True, False),
        ("resolve", False, False),
    ]
    assert view["deadlines"][2]["extensions"] == [{"working_days": 2, "reason": "需协调"}]
    assert view["deadlines"][0]["reason"] == "default: acknowledge"
    assert [(e["status"], e["decided_by"]) for e in view["extensions"]] == [
        ("granted", "sup-dw"),
        ("pending", None),
    ]


async def test_a_repeat_heard_before_the_assignment_shows_where_the_appeal_stood(
    settings, run_service, topics, db, wait_until
):
    """Received at t0, assigned at t0+30 s, a repeat merged at t0+60 s, but the repeat (on the
    intake topic) is heard before the assignment (on dispatch's): it moved no status, so it
    shows the status of its own time, not of when tracking heard it."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    event = received(received_at=t0)
    repeat = merged(event.appeal_id, event.tracking_code, merged_at=t0 + timedelta(seconds=60))
    assignment = assigned(event.appeal_id, "cw-a", assigned_at=t0 + timedelta(seconds=30))
    async with run_service("tracking") as tracking:
        for e, occurred in ((event, t0), (repeat, repeat.merged_at)):
            env = envelope_of(e, occurred_at=occurred)
            await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

        async def with_entry(kind: str) -> Any:
            r = await tracking.get(f"/v1/appeals/{event.appeal_id}")
            found = r.status_code == 200 and kind in {h["kind"] for h in r.json()["history"]}
            return r.json() if found else None

        await wait_until(lambda: with_entry("merged"))
        env = envelope_of(assignment, occurred_at=assignment.assigned_at)
        await topics.send(APPEALS_ASSIGNMENTS, env.to_bytes(), env.key)
        view = await wait_until(lambda: with_entry("assigned"))

    # Other entries (the deadlines set, …) may come between; they move no status either.
    steps = [
        (h["kind"], h["from_status"], h["to_status"])
        for h in view["history"]
        if h["kind"] in ("received", "assigned", "merged")
    ]
    assert steps == [
        ("received", None, "received"),
        ("assigned", "received", "assigned"),
        ("merged", "assigned", "assigned"),
    ]
