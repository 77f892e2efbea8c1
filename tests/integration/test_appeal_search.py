"""Supervisors, dispatchers and ops find appeals on tracking (`GET /v1/appeals`: filters, their
own unit only, JSON pages or a CSV file, nothing personal) and mark one unreasonable (不合理诉求),
against a real broker and Postgres."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, envelope_of, received
from harness import bearer, dev_token, sql

from services.tracking.search import api as search_api
from shared.db import Database
from shared.events import Appellant
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, APPEALS_LIFECYCLE
from shared.vocabulary import Category, Channel

pytestmark = pytest.mark.integration

DAWANG, LONGWAN = "大旺社区", "龙湾社区"
NAME, PHONE = "陈小姐", "13922223333"
NOW = datetime.now(UTC).replace(microsecond=0)

SUP_DAWANG = bearer(dev_token("sup-dw", ("officer", "supervisor"), DAWANG))
SUP_LONGWAN = bearer(dev_token("sup-lw", ("officer", "supervisor"), LONGWAN))
DISPATCHER_DAWANG = bearer(dev_token("disp-dw", ("dispatcher",), DAWANG))
DISPATCHER_LONGWAN = bearer(dev_token("disp-lw", ("dispatcher",), LONGWAN))
OFFICER = bearer(dev_token("cw-a", ("officer",), DAWANG))
NO_UNIT = bearer(dev_token("sup-x", ("supervisor",), None))

ITEM_KEYS = {
    "appeal_id",
    "tracking_code",
    "status",
    "channel",
    "type",
    "category",
    "urgency",
    "summary",
    "officer_id",
    "unit",
    "assistant_officer_ids",
    "received_at",
    "due_at",
    "due_stage",
    "overdue",
    "urged",
    "escalated",
    "closed_reason",
    "unreasonable",
}


async def seed_officers(db: Database) -> None:
    for officer_id, unit in (("cw-a", DAWANG), ("cw-b", DAWANG), ("cw-c", LONGWAN)):
        await sql(
            db,
            "INSERT INTO tracking.officers (officer_id, name, role, unit, updated_at)"
            " VALUES (:id, :name, 'community_worker', :unit, now())",
            id=officer_id,
            name=f"干部{officer_id}",
            unit=unit,
        )


async def seed(topics, db: Database, wait_until, *appeals: tuple[Any, str | None]) -> None:
    """Publishes each AppealReceived (and its AppealAssigned when it has an officer), waits until
    tracking holds them, then clears any deadlines the service derived: the tests set their own."""
    for event, officer_id in appeals:
        env = envelope_of(event)
        await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)
        if officer_id is not None:
            env = envelope_of(assigned(event.appeal_id, officer_id))
            await topics.send(APPEALS_ASSIGNMENTS, env.to_bytes(), env.key)
    ids = [e.appeal_id for e, _ in appeals]
    wanted = {(e.appeal_id, o) for e, o in appeals}

    async def all_in() -> bool:
        rows = await sql(
            db,
            "SELECT appeal_id, officer_id FROM tracking.appeals"
            " WHERE appeal_id = ANY(:ids) AND received_at IS NOT NULL",
            ids=ids,
        )
        return {(r.appeal_id, r.officer_id) for r in rows} == wanted

    await wait_until(all_in)
    await sql(db, "DELETE FROM tracking.deadlines WHERE appeal_id = ANY(:ids)", ids=ids)
    await sql(
        db,
        "UPDATE tracking.appeals SET appellant_name = :name, appellant_phone = :phone,"
        " due_at = NULL, due_stage = NULL WHERE appeal_id = ANY(:ids)",
        ids=ids,
        name=NAME,
        phone=PHONE,
    )


async def deadline(
    db: Database, appeal_id: uuid.UUID, stage: str, due_at: datetime, met_at: datetime | None
) -> None:
    # next_fire_at NULL: nothing for the service's scheduler to fire.
    await sql(
        db,
        "INSERT INTO tracking.deadlines (appeal_id, stage, start_at, start_basis, due_at,"
        " warn_at, public_notice_at, rule_dimension, rule_limit, reason, met_at)"
        " VALUES (:id, :stage, :start, 'received', :due, :due, :due, 'default',"
        " '1 working days', 'default: 1 working days', :met)",
        id=appeal_id,
        stage=stage,
        start=due_at - timedelta(days=1),
        due=due_at,
        met=met_at,
    )


def make(content: str, channel: Channel, category: Category, at: datetime) -> Any:
    return received(
        content=content,
        channel=channel,
        category=category,
        received_at=at,
        appellant=Appellant(name=NAME, phone=PHONE),
    )


def ids_of(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item["appeal_id"] for item in answer.json()["items"]}


# Receipt times around a Shanghai midnight: 2026-03-02 16:30 UTC is 2026-03-03 00:30 there.
DAY1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 03-01 in Shanghai
DAY2_EARLY = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 03-03 00:30 in Shanghai
DAY2_LATE = datetime(2026, 3, 3, 15, 59, tzinfo=UTC)  # 03-03 23:59 in Shanghai
DAY3 = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 03-04 00:00 in Shanghai


@pytest.fixture
def four() -> dict[str, Any]:
    """Four appeals: three assigned (two officers of 大旺, one of 龙湾), one not yet."""
    a = make("宿舍楼 WiFi 信号差，网络经常断开。", Channel.HOTLINE_12345, Category.UTILITIES, DAY1)
    b = make("大旺大道雨后积水。", Channel.WEB, Category.DRAINAGE_ROADS, DAY2_EARLY)
    c = make("公租房漏水，请维修。", Channel.MAYOR_LINE, Category.HOUSING, DAY2_LATE)
    d = make("窗口咨询入学政策。", Channel.WINDOW, Category.EDUCATION, DAY3)
    return {"a": a, "b": b, "c": c, "d": d}


async def prepare(topics, db, wait_until, four: dict[str, Any]) -> None:
    await seed_officers(db)
    await seed(
        topics,
        db,
        wait_until,
        (four["a"], "cw-a"),
        (four["b"], "cw-b"),
        (four["c"], "cw-c"),
        (four["d"], None),
    )
    a, b, c, d = (four[k].appeal_id for k in "abcd")
    # a: resolve deadline passed, unmet: overdue. b: passed but met; a follow-up deadline passed
    # (not the officer's). c: closed with an unmet passed deadline. d: due tomorrow.
    await deadline(db, a, "resolve", NOW - timedelta(hours=1), None)
    await deadline(db, b, "resolve", NOW - timedelta(hours=2), NOW - timedelta(hours=3))
    await deadline(db, b, "follow_up", NOW - timedelta(hours=1), None)
    await deadline(db, c, "first_contact", NOW - timedelta(hours=1), None)
    await deadline(db, d, "acknowledge", NOW + timedelta(days=1), None)
    await sql(
        db,
        "UPDATE tracking.appeals SET due_at = :due, due_stage = 'resolve' WHERE appeal_id = :id",
        id=a,
        due=NOW - timedelta(hours=1),
    )
    await sql(
        db,
        "UPDATE tracking.appeals SET status = 'closed', closed_reason = 'resolved',"
        " closed_at = now() WHERE appeal_id = :id",
        id=c,
    )


async def test_ops_search_by_each_filter(settings, run_service, topics, db, wait_until, four):
    a, b, c, d = (str(four[k].appeal_id) for k in "abcd")
    async with run_service("tracking") as tracking:
        await prepare(topics, db, wait_until, four)

        async def search(**params: Any) -> set[str]:
            return ids_of(await tracking.get("/v1/appeals", params=params))

        everything = await tracking.get("/v1/appeals")
        found = {
            "all": ids_of(everything),
            "closed": await search(status="closed"),
            "assigned": await search(status="assigned"),
            "dawang": await search(unit=DAWANG),
            "cw-c": await search(officer="cw-c"),
            "web": await search(channel="web"),
            "housing": await search(category="housing"),
            "overdue": await search(overdue="true"),
            "on time": await search(overdue="false"),
            "03-03": await search(**{"from": "2026-03-03", "to": "2026-03-03"}),
            "to 03-02": await search(to="2026-03-02"),
            "from 03-04": await search(**{"from": "2026-03-04"}),
            "q wifi": await search(q="wifi"),
            "q code": await search(q=four["b"].tracking_code[-6:].lower()),
            "q percent": await search(q="%"),
            "combined": await search(unit=DAWANG, overdue="true", channel="hotline_12345"),
        }
        first = (await tracking.get("/v1/appeals", params={"limit": 3})).json()
        rest = (
            await tracking.get("/v1/appeals", params={"limit": 3, "cursor": first["next_cursor"]})
        ).json()

    assert found == {
        "all": {a, b, c, d},
        "closed": {c},
        "assigned": {a, b},
        "dawang": {a, b},
        "cw-c": {c},
        "web": {b},
        "housing": {c},
        "overdue": {a},
        "on time": {b, c, d},
        "03-03": {b, c},  # Shanghai dates: b at 00:30, c at 23:59 on 03-03
        "to 03-02": {a},
        "from 03-04": {d},
        "q wifi": {a},
        "q code": {b},
        "q percent": set(),  # a LIKE wildcard is searched for as itself
        "combined": {a},
    }
    items = everything.json()["items"]
    # Oldest receipt first, pages hand out each once.
    assert [i["appeal_id"] for i in items] == [a, b, c, d]
    assert [i["appeal_id"] for i in first["items"] + rest["items"]] == [a, b, c, d]
    assert rest["next_cursor"] is None
    by_id = {i["appeal_id"]: i for i in items}
    assert set(by_id[a]) == ITEM_KEYS
    assert (by_id[a]["unit"], by_id[a]["officer_id"], by_id[a]["overdue"]) == (DAWANG, "cw-a", True)
    assert (by_id[a]["due_stage"], by_id[a]["type"]) == ("resolve", None)
    assert (by_id[c]["status"], by_id[c]["closed_reason"], by_id[c]["overdue"]) == (
        "closed",
        "resolved",
        False,
    )
    assert (by_id[d]["officer_id"], by_id[d]["unit"]) == (None, None)
    body = everything.text
    assert NAME not in body and PHONE not in body and "3333" not in body


async def test_board_filters_and_counts(settings, run_service, topics, db, wait_until, four):
    """Open, due soon, urged (催办), escalated and unreasonable, as filters and as counts (one
    query, the same filters, the same unit scope)."""
    a, b, c, d = (str(four[k].appeal_id) for k in "abcd")
    async with run_service("tracking") as tracking:
        await prepare(topics, db, wait_until, four)
        # a: urged on its resolve deadline and escalated; b: marked unreasonable; d: due in 2 h;
        # c: closed, its unmet first contact urged too (still counted as urged, not as open).
        await sql(
            db,
            "UPDATE tracking.deadlines SET urged_at = now() WHERE appeal_id = ANY(:ids)",
            ids=[four["a"].appeal_id, four["c"].appeal_id],
        )
        await sql(
            db,
            "UPDATE tracking.appeals SET escalated = true, reopen_count = 2 WHERE appeal_id = :id",
            id=four["a"].appeal_id,
        )
        await sql(
            db,
            "UPDATE tracking.appeals SET unreasonable_at = now(), unreasonable_by = 'sup-dw',"
            " unreasonable_reason = '无政策依据' WHERE appeal_id = :id",
            id=four["b"].appeal_id,
        )
        await sql(
            db,
            "UPDATE tracking.appeals SET due_at = :due, due_stage = 'acknowledge'"
            " WHERE appeal_id = :id",
            id=four["d"].appeal_id,
            due=NOW + timedelta(hours=2),
        )

        async def search(**params: Any) -> set[str]:
            return ids_of(await tracking.get("/v1/appeals", params=params))

        found = {
            "open": await search(open="true"),
            "not open": await search(open="false"),
            "due soon": await search(due_soon="true"),
            "urged": await search(urged="true"),
            "not urged": await search(urged="false"),
            "escalated": await search(escalated="true"),
            "unreasonable": await search(unreasonable="true"),
            "reasonable, open": await search(unreasonable="false", open="true"),
        }
        counts = {
            "ops": await tracking.get("/v1/appeals/counts"),
            "ops, open": await tracking.get("/v1/appeals/counts", params={"open": "true"}),
            "supervisor": await tracking.get("/v1/appeals/counts", headers=SUP_DAWANG),
            "longwan": await tracking.get("/v1/appeals/counts", headers=SUP_LONGWAN),
            "q": await tracking.get("/v1/appeals/counts", params={"q": "wifi"}),
        }
        refused = {
            "other unit": await tracking.get(
                "/v1/appeals/counts", params={"unit": LONGWAN}, headers=SUP_DAWANG
            ),
            "officer": await tracking.get("/v1/appeals/counts", headers=OFFICER),
        }
        invalid = await tracking.get(
            "/v1/appeals/counts", params={"from": "2026-03-05", "to": "2026-03-04"}
        )
        items = {i["appeal_id"]: i for i in (await tracking.get("/v1/appeals")).json()["items"]}

    assert found == {
        "open": {a, b, d},
        "not open": {c},
        "due soon": {d},
        "urged": {a, c},
        "not urged": {b, d},
        "escalated": {a},
        "unreasonable": {b},
        "reasonable, open": {a, d},
    }
    keys = ("total", "open", "due_soon", "overdue", "urged", "escalated", "unreasonable")
    figures = {who: r.json() for who, r in counts.items()}
    assert {who: tuple(f[k] for k in keys) for who, f in figures.items()} == {
        "ops": (4, 3, 1, 1, 2, 1, 1),
        "ops, open": (3, 3, 1, 1, 1, 1, 1),
        "supervisor": (2, 2, 0, 1, 1, 1, 1),
        "longwan": (1, 0, 0, 0, 1, 0, 0),
        "q": (1, 1, 0, 1, 1, 1, 0),
    }
    assert (figures["ops"]["unit"], figures["supervisor"]["unit"]) == (None, DAWANG)
    assert {who: r.status_code for who, r in refused.items()} == dict.fromkeys(refused, 403)
    assert (invalid.status_code, invalid.json()["detail"][0]["loc"]) == (422, ["query", "from"])
    assert (items[a]["urged"], items[a]["escalated"], items[b]["urged"]) == (True, True, False)
    assert items[a]["summary"] == four["a"].content[:200]
    assert items[a]["assistant_officer_ids"] == []


async def test_supervisors_and_dispatchers_search_their_unit_and_officers_not_at_all(
    settings, run_service, topics, db, wait_until, four
):
    a, b = (str(four[k].appeal_id) for k in "ab")
    async with run_service("tracking") as tracking:
        await prepare(topics, db, wait_until, four)
        supervisor = await tracking.get("/v1/appeals", headers=SUP_DAWANG)
        dispatcher = await tracking.get("/v1/appeals", headers=DISPATCHER_DAWANG)
        own_unit = await tracking.get("/v1/appeals", params={"unit": DAWANG}, headers=SUP_DAWANG)
        filtered = await tracking.get(
            "/v1/appeals", params={"overdue": "true"}, headers=DISPATCHER_DAWANG
        )
        other_unit = await tracking.get("/v1/appeals", params={"unit": LONGWAN}, headers=SUP_DAWANG)
        officer = await tracking.get("/v1/appeals", headers=OFFICER)
        no_unit = await tracking.get("/v1/appeals", headers=NO_UNIT)
        longwan = await tracking.get("/v1/appeals", headers=SUP_LONGWAN)
        anonymous = await tracking.get("/v1/appeals", headers={"Authorization": ""})

    assert ids_of(supervisor) == ids_of(dispatcher) == ids_of(own_unit) == {a, b}
    assert ids_of(filtered) == {a}
    assert ids_of(longwan) == {str(four["c"].appeal_id)}
    for refused in (other_unit, officer, no_unit):
        assert refused.status_code == 403
        assert refused.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert anonymous.status_code == 401


async def test_csv_export_has_every_match_and_nothing_personal(
    settings, run_service, topics, db, wait_until, four, monkeypatch
):
    a, b = (str(four[k].appeal_id) for k in "ab")
    async with run_service("tracking") as tracking:
        await prepare(topics, db, wait_until, four)
        csv_accept = {**SUP_DAWANG, "Accept": "text/csv"}
        # `limit` does not cut an export: it is the whole result.
        export = await tracking.get("/v1/appeals", params={"limit": 1}, headers=csv_accept)
        monkeypatch.setattr(search_api, "CSV_MAX_ROWS", 1)
        cut = await tracking.get("/v1/appeals", headers=csv_accept)

    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "x-jiban-truncated" not in export.headers
    body = export.content.decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads it as UTF-8
    assert NAME not in body and PHONE not in body
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    header = next(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert header == search_api.CSV_COLUMNS
    assert "name" not in header and "phone" not in header
    assert [r["appeal_id"] for r in rows] == [a, b]
    first = rows[0]
    assert (first["unit"], first["overdue"], first["due_stage"]) == (DAWANG, "true", "resolve")
    assert first["tracking_code"] == four["a"].tracking_code
    assert first["unreasonable_at"] == ""
    assert cut.headers["x-jiban-truncated"] == "true"
    assert len(list(csv.DictReader(io.StringIO(cut.text.removeprefix("\ufeff"))))) == 1


async def test_invalid_filters_are_422_naming_the_field(settings, run_service):
    async with run_service("tracking") as tracking:
        answers = {
            "from after to": await tracking.get(
                "/v1/appeals", params={"from": "2026-03-05", "to": "2026-03-04"}
            ),
            "status": await tracking.get("/v1/appeals", params={"status": "lost"}),
            "from": await tracking.get("/v1/appeals", params={"from": "yesterday"}),
            "channel": await tracking.get("/v1/appeals", params={"channel": "fax"}),
            "overdue": await tracking.get("/v1/appeals", params={"overdue": "maybe"}),
        }
    locations = {what: (r.status_code, r.json()["detail"][0]["loc"]) for what, r in answers.items()}
    assert locations == {
        "from after to": (422, ["query", "from"]),
        "status": (422, ["query", "status"]),
        "from": (422, ["query", "from"]),
        "channel": (422, ["query", "channel"]),
        "overdue": (422, ["query", "overdue"]),
    }


# --- 不合理诉求 ---------------------------------------------------------------------------------


async def test_marking_unreasonable(settings, run_service, topics, db, wait_until):
    await seed_officers(db)
    event = make("要求政府每月发放生活费一万元。", Channel.WEB, Category.OTHER, NOW)
    appeal_id = event.appeal_id
    url = f"/v1/appeals/{appeal_id}/unreasonable"
    unknown = f"/v1/appeals/{uuid.uuid4()}/unreasonable"
    reason = "经核查，诉求无政策依据，已向诉求人解释。"
    async with run_service("tracking") as tracking:
        await seed(topics, db, wait_until, (event, "cw-a"))
        body = {"reason": reason}
        refused = {
            "officer": await tracking.post(url, json=body, headers=OFFICER),
            "other dispatcher": await tracking.post(url, json=body, headers=DISPATCHER_LONGWAN),
            "other unit": await tracking.post(url, json=body, headers=SUP_LONGWAN),
        }
        invalid = {
            "blank": await tracking.post(url, json={"reason": "   "}, headers=SUP_DAWANG),
            "long": await tracking.post(url, json={"reason": "长" * 1001}, headers=SUP_DAWANG),
            "missing": await tracking.post(url, json={}, headers=SUP_DAWANG),
        }
        not_heard = {
            "ops": await tracking.post(unknown, json=body),
            "supervisor": await tracking.post(unknown, json=body, headers=SUP_DAWANG),
        }
        marked = await tracking.post(
            url, json={"reason": f"  {reason} "}, headers={**SUP_DAWANG, "X-Correlation-Id": "c-1"}
        )
        again = await tracking.post(url, json={"reason": "再次标记"})
        view = (await tracking.get(f"/v1/appeals/{appeal_id}")).json()
        found = (await tracking.get("/v1/appeals", params={"q": "生活费"})).json()["items"]

        async def marked_events() -> list[dict[str, Any]]:
            records = await topics.read(APPEALS_LIFECYCLE, at_least=1, timeout_s=1)
            return [r.json() for r in records if r.json()["type"] == "AppealMarkedUnreasonable"]

        events = await wait_until(marked_events)

    assert {who: r.status_code for who, r in refused.items()} == dict.fromkeys(refused, 403)
    for r in invalid.values():
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "reason"]
    assert {who: r.status_code for who, r in not_heard.items()} == dict.fromkeys(not_heard, 404)
    assert marked.status_code == 200, marked.text
    mark = marked.json()
    assert (mark["status"], mark["unreasonable"]["by"], mark["unreasonable"]["reason"]) == (
        "assigned",
        "sup-dw",
        reason,
    )
    assert again.status_code == 409
    assert reason in again.json()["detail"] and "sup-dw" in again.json()["detail"]
    # The status stays; the mark is in the view, the search and the history.
    assert view["status"] == "assigned"
    assert view["unreasonable"] == mark["unreasonable"]
    assert found[0]["unreasonable"] == mark["unreasonable"]
    last = view["history"][-1]
    assert (last["kind"], last["from_status"], last["to_status"], last["actor"]) == (
        "unreasonable",
        "assigned",
        "assigned",
        "sup-dw",
    )
    assert last["note"] == reason
    assert len(events) == 1
    (envelope,) = events
    assert envelope["subject_id"] == str(appeal_id)
    assert (envelope["producer"], envelope["correlation_id"]) == ("tracking", "c-1")
    assert envelope["payload"]["marked_by"] == "sup-dw"
    assert envelope["payload"]["reason"] == reason
    assert json.dumps(envelope, ensure_ascii=False).count(PHONE) == 0
