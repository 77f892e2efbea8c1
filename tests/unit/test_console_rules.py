"""The console's pure rules: queue punctuality, filters and counts; sign-in redirects and the
directory as the development sign-in lists it; step bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from services.console.appeals.service import STEPS, step_body
from services.console.queue.service import (
    DUE_SOON_S,
    Punctuality,
    QueueFilters,
    punctuality,
    queue_view,
    time_left_words,
)
from services.console.signin.api import page_of
from services.console.signin.service import expiry, people_of, safe_next
from shared.identity import Role


def item(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "appeal_id": "a",
        "tracking_code": "DW-1",
        "status": "assigned",
        "role": "lead",
        "time_left_s": 3 * 86400,
        "overdue": False,
        "category": "utilities",
        "summary": "停电",
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"time_left_s": DUE_SOON_S + 1}, Punctuality.ON_TIME),
        ({"time_left_s": DUE_SOON_S}, Punctuality.DUE_SOON),
        ({"time_left_s": -5, "overdue": True}, Punctuality.OVERDUE),
        ({"time_left_s": None}, Punctuality.ON_TIME),
    ],
)
def test_punctuality(fields: dict[str, object], expected: Punctuality) -> None:
    assert punctuality(item(**fields)) == expected


def test_queue_view_filters_but_counts_the_whole_queue_in_the_services_order() -> None:
    items = [
        item(appeal_id="1", time_left_s=-3600, overdue=True),
        item(appeal_id="2", time_left_s=3600, role="assistant", category="housing"),
        item(appeal_id="3", summary="路灯不亮", status="accepted", channel="mayor_line"),
    ]
    view = queue_view(items, QueueFilters(punctuality="due_soon"))
    assert [i["appeal_id"] for i in view.items] == ["2"]
    assert view.counts == {
        "overdue": 1,
        "due_soon": 1,
        "on_time": 1,
        "total": 3,
        "led": 2,
        "assisted": 1,
    }
    assert [i["appeal_id"] for i in queue_view(items, QueueFilters(q="路灯")).items] == ["3"]
    assert [i["appeal_id"] for i in queue_view(items, QueueFilters(role="lead")).items] == [
        "1",
        "3",
    ]
    by_channel = queue_view(items, QueueFilters(channel="mayor_line"))
    assert [i["appeal_id"] for i in by_channel.items] == ["3"]
    assert view.categories == ["housing", "utilities"]
    assert view.statuses == ["accepted", "assigned"]
    assert view.channels == ["mayor_line"]


def test_time_left_words() -> None:
    assert time_left_words(2 * 86400 + 3 * 3600 + 59) == (2, 3, False)
    assert time_left_words(-(5 * 3600)) == (0, 5, True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/queue?x=1", "/queue?x=1"),
        ("https://evil.example/", "/"),
        ("//evil", "/"),
        ("/\\evil", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_only_paths_of_the_console_are_followed_after_sign_in(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


def test_a_session_ends_with_its_token_when_that_comes_first() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert expiry(now, 60) == now + timedelta(minutes=60)
    assert expiry(now, 60, now + timedelta(minutes=5)) == now + timedelta(minutes=5)


def test_people_of_groups_by_unit_and_role_with_duty_posts_in_their_roles() -> None:
    officers = [
        {"officer_id": "o2", "name": "乙", "role": "department_officer", "unit": "u1"},
        {"officer_id": "o1", "name": "甲", "role": "supervisor", "unit": "u1"},
        {"officer_id": "o3", "name": "丙", "role": "community_worker", "unit": "u2"},
    ]
    duty = [{"post": "dispatcher", "officer_id": "o3"}, {"post": "supervisor", "officer_id": None}]
    people = people_of(officers, duty)
    assert list(people) == ["u1", "u2"]
    assert [p.officer_id for p in people["u1"]["supervisor"]] == ["o1"]
    assert people["u1"]["supervisor"][0].roles == {Role.OFFICER, Role.SUPERVISOR}
    assert people["u2"]["community_worker"][0].roles == {Role.OFFICER, Role.DISPATCHER}


def test_step_bodies_take_the_fields_typed_and_days_as_a_number_when_they_are_one() -> None:
    assert step_body(STEPS["accept"], {}) == {}
    assert step_body(STEPS["extension"], {"days": "3", "reason": "x"}) == {"days": 3, "reason": "x"}
    assert step_body(STEPS["extension"], {"days": "three", "reason": "x"})["days"] == "three"


def _request(method: str, path: str, query: str = "", **headers: str) -> Request:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "server": ("console.example", 443),
        "scheme": "https",
    }
    return Request(scope)


def test_after_signing_in_the_person_comes_back_to_the_page_they_were_on() -> None:
    assert page_of(_request("GET", "/board", "overdue=true")) == "/board?overdue=true"
    htmx = _request("GET", "/queue", "status=assigned", HX_Current_URL_Path="/queue?q=x")
    assert page_of(htmx) == "/queue?q=x"
    form = _request(
        "POST", "/appeals/a/accept", Referer="https://console.example/appeals/a?lang=en"
    )
    assert page_of(form) == "/appeals/a?lang=en"
    elsewhere = _request("POST", "/appeals/a/accept", Referer="https://evil.example/x")
    assert page_of(elsewhere) == "/"
