"""Dispatch's directory API: reads over the demo directory (filters, keyset pages), changes over a
small one (each published on directory.changes), sign-in and validation errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from factories import credit_code, officer
from fastapi import FastAPI
from harness import bearer, dev_token

from jiban.setup import load_demo_directory
from services.dispatch.app import build
from services.dispatch.directory import (
    Department,
    Directory,
    DutyPost,
    Enterprise,
    local_today,
)
from services.dispatch.directory.demo import DEPARTMENTS, DUTY_DISPATCHER_ID, SUP_DISPATCH
from shared.credit_code import is_valid
from shared.settings import Settings
from shared.topics import DIRECTORY_CHANGES
from shared.vocabulary import Category, IndustryChain, OfficerRole

pytestmark = pytest.mark.integration

ENTERPRISE = credit_code(7001)
OTHER_ENTERPRISE = credit_code(7002)


async def all_pages(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@asynccontextmanager
async def client_of(app: FastAPI, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app without starting it (the routes only need the database)."""
    headers = bearer(token) if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        yield client


def small_directory() -> Directory:
    cso = OfficerRole.CHIEF_SERVICE_OFFICER
    pba = OfficerRole.PARTY_BUILDING_ASSISTANT
    return Directory(
        officers=[
            officer("sup-1", OfficerRole.SUPERVISOR),
            officer("cso-1", cso, paired_officer_id="pba-1", chain=IndustryChain.NEV),
            officer("pba-1", pba, paired_officer_id="cso-1"),
            officer("cso-2", cso, paired_officer_id="pba-2"),
            officer("pba-2", pba, paired_officer_id="cso-2"),
            officer("cw-1", OfficerRole.COMMUNITY_WORKER, communities=["大旺社区"]),
            officer(
                "dept-hrss-1",
                OfficerRole.DEPARTMENT_OFFICER,
                department_id="hrss",
                categories=[Category.EMPLOYMENT],
            ),
        ],
        enterprises=[
            Enterprise(
                credit_code=ENTERPRISE,
                name="肇庆测试新能源有限公司",
                chain=IndustryChain.NEV,
                community="大旺社区",
                cso_officer_id="cso-1",
            ),
            Enterprise(
                credit_code=OTHER_ENTERPRISE,
                name="肇庆测试食品有限公司",
                chain=IndustryChain.FOOD_BEVERAGE,
                community="迳口社区",
                cso_officer_id="cso-2",
            ),
        ],
        departments=[
            Department(
                department_id="hrss",
                name="人社局",
                categories=[Category.EMPLOYMENT],
                supervisor_id="sup-1",
            )
        ],
        duty={DutyPost.DISPATCHER: "cw-1", DutyPost.SUPERVISOR: "sup-1"},
    )


def small_directory_events() -> int:
    d = small_directory()
    return len(d.officers) + len(d.enterprises) + len(d.departments) + len(d.duty)


# --- reads over the demo directory ---------------------------------------------------------


async def test_demo_directory_pages_and_filters(settings: Settings) -> None:
    report = await load_demo_directory(settings)
    assert (report.officers_changed, report.enterprises_changed) == (640, 1050)
    assert (report.departments_changed, report.duty_changed) == (13, 2)
    again = await load_demo_directory(settings)
    assert again == type(again)(0, 0, 0, 0), "loading is idempotent"

    # Reading needs a token, any role will do: an officer's here.
    async with client_of(build(settings), dev_token("cw-dw01-2", ("officer",))) as client:
        officers = await all_pages(client, "/v1/officers", limit=100)
        assert len(officers) == len({o["officer_id"] for o in officers}) == 640
        csos = await all_pages(client, "/v1/officers", role="chief_service_officer", limit=50)
        assert len(csos) == 132
        assert all(o["assistant_officer_id"] == o["paired_officer_id"] for o in csos)
        assert all(o["assistant_officer_id"].startswith("pba-") for o in csos)
        others = [o for o in officers if o["role"] != "chief_service_officer"]
        assert all(o["assistant_officer_id"] is None for o in others)
        assert {"leave", "on_leave_today", "department_id", "chain", "capacity"} <= set(csos[0])
        assert {"open_assignments", "returns_accepted", "returns_rejected"} <= set(csos[0])
        assert "phone" not in csos[0] and "email" not in csos[0]

        off_duty = await all_pages(client, "/v1/officers", on_duty="false")
        assert off_duty and all(not o["on_duty"] for o in off_duty)
        away = await all_pages(client, "/v1/officers", on_leave="true")
        assert len(away) == 8 and all(o["on_leave_today"] for o in away)
        today = local_today().isoformat()
        assert all(p["start"] <= today <= p["end"] for o in away for p in o["leave"])
        present = await all_pages(client, "/v1/officers", on_leave="false", limit=500)
        assert len(present) == 640 - 8

        hrss = await all_pages(client, "/v1/officers", department="hrss")
        assert [o["officer_id"] for o in hrss] == ["dept-hrss-1", "dept-hrss-2"]
        nev_team = await all_pages(client, "/v1/officers", chain="nev")
        assert {o["role"] for o in nev_team} == {"chief_service_officer", "department_officer"}
        assert all(o["chain"] == "nev" for o in nev_team)
        dawang = await all_pages(
            client, "/v1/officers", community="大旺社区", role="community_worker"
        )
        assert [o["officer_id"] for o in dawang] == ["cw-dw01-1", "cw-dw01-2", "cw-dw01-3"]
        reports = await all_pages(client, "/v1/officers", supervisor=SUP_DISPATCH)
        assert [o["officer_id"] for o in reports] == [DUTY_DISPATCHER_ID]
        unit = await all_pages(client, "/v1/officers", unit="人社局")
        assert unit == hrss

        enterprises = await all_pages(client, "/v1/enterprises", limit=200)
        assert len(enterprises) == 1050
        assert all(is_valid(e["credit_code"]) for e in enterprises)
        one = enterprises[0]
        mine = await all_pages(client, "/v1/enterprises", cso=one["cso_officer_id"])
        assert one in mine and all(e["cso_officer_id"] == one["cso_officer_id"] for e in mine)
        nev = await all_pages(client, "/v1/enterprises", chain="nev")
        assert nev and all(e["chain"] == "nev" for e in nev)
        there = await all_pages(client, "/v1/enterprises", community="迳口社区", chain="nev")
        assert there and all(e["community"] == "迳口社区" for e in there)

        departments = await all_pages(client, "/v1/departments")
        assert [d["department_id"] for d in departments] == sorted(
            d.department_id for d in DEPARTMENTS
        )
        employment = await all_pages(client, "/v1/departments", category="employment")
        assert employment == [
            {
                "department_id": "hrss",
                "name": "人社局",
                "categories": ["employment"],
                "supervisor_id": "sup-4",
                "officer_ids": ["dept-hrss-1", "dept-hrss-2"],
            }
        ]
        assert (await client.get("/v1/departments/hrss")).json() == employment[0]

        communities = (await client.get("/v1/communities")).json()["items"]
        assert len(communities) == 8
        first = communities[0]
        assert first["community"] == min(c["community"] for c in communities)
        assert all(len(c["worker_ids"]) == 3 for c in communities)
        assert sum(c["enterprises"] for c in communities) == 1050

        duty = (await client.get("/v1/duty")).json()["items"]
        assert [(d["post"], d["officer_id"]) for d in duty] == [
            ("dispatcher", DUTY_DISPATCHER_ID),
            ("supervisor", SUP_DISPATCH),
        ]
        assert all(d["officer_name"] for d in duty)

        bad_cursor = await client.get("/v1/officers", params={"cursor": "not-a-cursor"})
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["detail"][0]["loc"] == ["query", "cursor"]
        bad_chain = await client.get("/v1/enterprises", params={"chain": "steel"})
        assert bad_chain.status_code == 422
        assert bad_chain.json()["detail"][0]["loc"] == ["query", "chain"]
        missing = await client.get("/v1/officers/nobody")
        assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
        assert (await client.get("/v1/departments/nothing")).status_code == 404
        found = await client.get(f"/v1/enterprises/{one['credit_code'].lower()}")
        assert found.status_code == 200 and found.json() == one


# --- changes -------------------------------------------------------------------------------


async def test_changes_are_seen_and_published_on_directory_changes(
    settings: Settings, run_service: Any, topics: Any
) -> None:
    await load_demo_directory(settings, small_directory())
    today = local_today()
    leave = [
        {
            "start": (today + timedelta(days=30)).isoformat(),
            "end": (today + timedelta(days=31)).isoformat(),
            "note": "调休",
        },
        {
            "start": (today - timedelta(days=1)).isoformat(),
            "end": (today + timedelta(days=2)).isoformat(),
            "note": "年假",
        },
    ]
    async with run_service("dispatch") as client:  # signed in as ops
        off = await client.patch("/v1/officers/cso-1", json={"on_duty": False})
        assert off.status_code == 200, off.text
        assert off.json()["on_duty"] is False
        assert (await client.get("/v1/officers/cso-1")).json()["on_duty"] is False

        away = await client.patch("/v1/officers/cso-1", json={"leave": leave, "capacity": 5})
        assert away.status_code == 200, away.text
        body = away.json()
        assert body["capacity"] == 5 and body["on_leave_today"] is True
        assert [p["note"] for p in body["leave"]] == ["年假", "调休"], "kept in date order"
        assert body["assistant_officer_id"] == "pba-1" and body["chain"] == "nev"
        listed = await all_pages(client, "/v1/officers", on_leave="true")
        assert [o["officer_id"] for o in listed] == ["cso-1"]

        # The same again changes nothing and publishes nothing.
        same = await client.patch("/v1/officers/cso-1", json={"on_duty": False, "capacity": 5})
        assert same.status_code == 200 and same.json() == body

        moved = await client.put(f"/v1/enterprises/{ENTERPRISE}/cso", json={"officer_id": "cso-2"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["cso_officer_id"] == "cso-2"
        mine = await all_pages(client, "/v1/enterprises", cso="cso-2")
        assert {e["credit_code"] for e in mine} == {ENTERPRISE, OTHER_ENTERPRISE}

        handed = await client.put("/v1/duty/dispatcher", json={"officer_id": "dept-hrss-1"})
        assert handed.status_code == 200, handed.text
        assert handed.json() == {
            "post": "dispatcher",
            "officer_id": "dept-hrss-1",
            "officer_name": "干部dept-hrss-1",
        }
        duty = (await client.get("/v1/duty")).json()["items"]
        assert duty[0] == handed.json()

        loaded = small_directory_events()
        records = await topics.read(DIRECTORY_CHANGES, at_least=loaded + 4)
    events = [(r.headers.get("x-event-type"), r.key.decode(), r.json()) for r in records]
    changes = [e for e in events if e[2]["correlation_id"].startswith("directory-api-")]
    assert len(events) == loaded + 4, [(t, k) for t, k, _ in events]
    assert [(t, k) for t, k, _ in changes if t == "OfficerChanged"] == [
        ("OfficerChanged", "cso-1"),
        ("OfficerChanged", "cso-1"),
    ]
    last_officer = [p for t, _, p in changes if t == "OfficerChanged"][-1]["payload"]
    assert last_officer["on_duty"] is False
    assert [p["note"] for p in last_officer["leave"]] == ["年假", "调休"]
    (enterprise,) = [p["payload"] for t, _, p in changes if t == "EnterpriseChanged"]
    assert (enterprise["credit_code"], enterprise["cso_officer_id"]) == (ENTERPRISE, "cso-2")
    (duty_event,) = [(k, p["payload"]) for t, k, p in changes if t == "DutyChanged"]
    assert duty_event == ("duty:dispatcher", {"post": "dispatcher", "officer_id": "dept-hrss-1"})
    assert {p["producer"] for _, _, p in events} == {"dispatch"}


async def test_validation_errors_name_the_field(settings: Settings) -> None:
    await load_demo_directory(settings, small_directory())
    async with client_of(build(settings), dev_token()) as client:

        async def refused(method: str, path: str, body: Any) -> list[dict]:
            response = await client.request(method, path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            return response.json()["detail"]

        def locs(detail: list[dict]) -> list[list[Any]]:
            return [d["loc"] for d in detail]

        patch = "/v1/officers/cso-1"
        assert locs(await refused("PATCH", patch, {"on_duty": "maybe"})) == [["body", "on_duty"]]
        assert locs(await refused("PATCH", patch, {"on_duty": None})) == [["body", "on_duty"]]
        assert locs(await refused("PATCH", patch, {"capacity": -1})) == [["body", "capacity"]]
        extra = await refused("PATCH", patch, {"on_duty": True, "nickname": "老陈"})
        assert locs(extra) == [["body", "nickname"]] and extra[0]["type"] == "extra_forbidden"
        backwards = {"leave": [{"start": "2026-12-05", "end": "2026-12-01"}]}
        detail = await refused("PATCH", patch, backwards)
        assert locs(detail) == [["body", "leave", 0]] and "before it starts" in detail[0]["msg"]
        assert "at least one" in (await refused("PATCH", patch, {}))[0]["msg"]

        cso = f"/v1/enterprises/{ENTERPRISE}/cso"
        not_a_cso = await refused("PUT", cso, {"officer_id": "cw-1"})
        assert locs(not_a_cso) == [["body", "officer_id"]]
        assert "not a chief_service_officer" in not_a_cso[0]["msg"]
        nobody = await refused("PUT", cso, {"officer_id": "cso-404"})
        assert locs(nobody) == [["body", "officer_id"]] and "cso-404" in nobody[0]["msg"]
        assert locs(await refused("PUT", cso, {})) == [["body", "officer_id"]]
        assert locs(await refused("PUT", "/v1/duty/janitor", {"officer_id": "cw-1"})) == [
            ["path", "post"]
        ]
        assert locs(await refused("PUT", "/v1/duty/supervisor", {"officer_id": "x"})) == [
            ["body", "officer_id"]
        ]

        assert (
            await client.patch("/v1/officers/nobody", json={"on_duty": False})
        ).status_code == 404
        unknown = await client.put(
            f"/v1/enterprises/{credit_code(9999)}/cso", json={"officer_id": "cso-2"}
        )
        assert unknown.status_code == 404

        # Nothing of the refused requests was stored.
        officer = (await client.get("/v1/officers/cso-1")).json()
        assert (officer["on_duty"], officer["capacity"], officer["leave"]) == (True, 30, [])
        enterprise = (await client.get(f"/v1/enterprises/{ENTERPRISE}")).json()
        assert enterprise["cso_officer_id"] == "cso-1"


async def test_reading_needs_a_token_and_changing_needs_ops_or_supervisor(
    settings: Settings,
) -> None:
    await load_demo_directory(settings, small_directory())
    app = build(settings)
    change = ("PATCH", "/v1/officers/cw-1", {"on_duty": False})
    reads = [
        "/v1/officers",
        "/v1/officers/cw-1",
        f"/v1/enterprises/{ENTERPRISE}",
        "/v1/enterprises",
        "/v1/departments",
        "/v1/communities",
        "/v1/duty",
    ]

    async with client_of(app, None) as anonymous:
        for path in reads:
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
        response = await anonymous.request(change[0], change[1], json=change[2])
        assert response.status_code == 401
        # Even a change that would be refused for its body is refused for the missing token.
        response = await anonymous.patch("/v1/officers/nobody", json={"nickname": 1})
        assert response.status_code == 401

    async with client_of(app, "not-a-token") as forged:
        assert (await forged.get("/v1/officers")).status_code == 401

    officer = dev_token("cw-1", ("officer",), unit="测试")
    async with client_of(app, officer) as client:
        for path in reads:
            assert (await client.get(path)).status_code == 200, path
        for method, path, body in [
            change,
            ("PUT", f"/v1/enterprises/{ENTERPRISE}/cso", {"officer_id": "cso-2"}),
            ("PUT", "/v1/duty/dispatcher", {"officer_id": "cw-1"}),
        ]:
            response = await client.request(method, path, json=body)
            assert response.status_code == 403, path
            assert "ops" in response.json()["detail"][0]["msg"]
        # A dispatcher is not allowed to change the directory either.
        dispatcher = bearer(dev_token("cw-1", ("officer", "dispatcher")))
        response = await client.patch(change[1], json=change[2], headers=dispatcher)
        assert response.status_code == 403
        assert (await client.get("/v1/officers/cw-1")).json()["on_duty"] is True

    supervisor = dev_token("sup-1", ("officer", "supervisor"), unit="测试")
    async with client_of(app, supervisor) as client:
        response = await client.request(change[0], change[1], json=change[2])
        assert response.status_code == 200 and response.json()["on_duty"] is False
