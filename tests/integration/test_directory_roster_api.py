"""Dispatch's `POST /v1/directory/roster`: a roster file uploaded over HTTP, imported as `jiban
directory import` imports it (one implementation, services/dispatch/directory/load.py), its
events in dispatch's outbox, its per-row report as JSON; files that are not rosters are 4xx JSON
naming the file, never a 500."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from harness import bearer, dev_token
from sqlalchemy import func, select

from services.dispatch import tables
from services.dispatch.app import build
from shared.db import Database
from shared.http import MAX_BODY_BYTES
from shared.settings import Settings

pytestmark = pytest.mark.integration

ROSTER = "/v1/directory/roster"
HEADER = ["工号", "姓名", "手机", "邮箱", "角色", "单位", "在岗", "容量", "上级"]


def row(officer_id: str, phone: str, role: str, supervisor: str = "", capacity: str = "") -> list:
    email = f"{officer_id}@jiban.example"
    return [officer_id, "陈伟", phone, email, role, "大旺社区", "是", capacity, supervisor]


GOOD = [
    row("sup-1", "13900139000", "主管"),
    row("cw-1", "13900139001", "社区工作人员", "sup-1", "12"),
    row("cw-2", "13900139002", "社区工作人员", "sup-1"),
]
BAD_PHONE = row("cw-3", "1380013800", "社区工作人员", "sup-1")  # 10 digits: row 5
BAD_SUPERVISOR = row("cw-4", "13900139004", "社区工作人员", "sup-404")  # nobody: row 6


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    return buffer.getvalue().encode("utf-8")


@asynccontextmanager
async def client_of(settings: Settings, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client on dispatch's app without starting it (the route only needs the database)."""
    transport = httpx.ASGITransport(app=build(settings))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(token)
    ) as client:
        yield client


async def upload(
    client: httpx.AsyncClient, data: bytes, name: str = "名册.csv", **params: Any
) -> httpx.Response:
    return await client.post(ROSTER, params=params, files={"file": (name, data, "text/csv")})


async def state(settings: Settings) -> dict[str, Any]:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            event = tables.outbox.c.headers["x-event-type"].astext
            officers = (await session.execute(select(tables.officers))).all()
            changed = select(func.count()).select_from(tables.outbox)
            events = (await session.execute(changed.where(event == "OfficerChanged"))).scalar()
            return {"officers": {o.officer_id: o for o in officers}, "OfficerChanged": events}
    finally:
        await db.dispose()


async def test_good_rows_imported_bad_rows_reported_by_row_and_field(settings: Settings) -> None:
    async with client_of(settings, dev_token("sup-9", ("officer", "supervisor"))) as client:
        response = await upload(client, csv_bytes([*GOOD, BAD_PHONE, BAD_SUPERVISOR]))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["committed"], body["rows_read"], body["rows_rejected"]) == (True, 5, 2)
        assert [(e["row"], e["field"]) for e in body["errors"]] == [
            (5, "phone"),
            (6, "supervisor_id"),
        ]
        assert "is not a mobile number" in body["errors"][0]["message"]
        assert body["errors"][0]["value"] == "1380013800"
        assert body["good"] == {"officers": 3, "enterprises": 0, "departments": 0, "duty": 0}
        assert body["changed"] == body["good"]
        assert body["sheets"][0]["kind"] == "officers" and body["sheets"][0]["rows"] == 5
        assert "2 of 5 rows rejected:" in body["summary"]

        after = await state(settings)
        assert set(after["officers"]) == {"sup-1", "cw-1", "cw-2"}
        assert after["officers"]["cw-1"].capacity == 12
        assert after["OfficerChanged"] == 3, "each new officer's event is in the outbox"

        # The same file again changes nothing and publishes nothing; the bad rows still show.
        again = (await upload(client, csv_bytes([*GOOD, BAD_PHONE, BAD_SUPERVISOR]))).json()
        assert again["changed"] == {"officers": 0, "enterprises": 0, "departments": 0, "duty": 0}
        assert again["rows_rejected"] == 2
        assert (await state(settings))["OfficerChanged"] == 3


async def test_strict_and_dry_run_commit_nothing(settings: Settings) -> None:
    async with client_of(settings, dev_token()) as client:
        strict = (await upload(client, csv_bytes([*GOOD, BAD_PHONE]), strict="true")).json()
        assert (strict["committed"], strict["changed"], strict["rows_rejected"]) == (
            False,
            None,
            1,
        )
        assert (
            "strict: nothing imported (3 officers and 0 enterprises were good)"
            in (strict["summary"])
        )
        dry = (await upload(client, csv_bytes(GOOD), dry_run="true")).json()
        assert dry["committed"] is False and dry["changed"]["officers"] == 3
        assert await state(settings) == {"officers": {}, "OfficerChanged": 0}


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        (b"", "empty.csv", "the file is empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.xls", ".xlsx"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "not a readable XLSX workbook"),
        ("名字,电话\n张三,1\n".encode(), "notes.csv", "no officers, enterprises"),
        (b"\xff\xfe\x00\xd8", "odd.csv", "damaged text"),
    ],
)
async def test_a_file_that_is_not_a_roster_is_422_naming_the_file(
    settings: Settings, data: bytes, name: str, said: str
) -> None:
    async with client_of(settings, dev_token()) as client:
        response = await upload(client, data, name)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "file"]
    assert said in problem["msg"]
    assert (await state(settings))["officers"] == {}


async def test_no_file_too_large_and_who_may_import(settings: Settings) -> None:
    async with client_of(settings, dev_token()) as client:
        missing = await client.post(ROSTER, data={"other": "x"})
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == [
            "body",
            "file",
        ]
        too_large = await upload(client, b"x" * (MAX_BODY_BYTES + 1))
        assert too_large.status_code == 413 and "larger than" in too_large.json()["detail"]

    for token in (dev_token("cw-1", ("officer",)), dev_token("cw-1", ("officer", "dispatcher"))):
        async with client_of(settings, token) as client:
            refused = await upload(client, csv_bytes(GOOD))
            assert refused.status_code == 403, refused.text
            assert refused.json()["detail"][0]["loc"] == ["header", "Authorization"]
    async with client_of(settings, "not-a-token") as client:
        assert (await upload(client, csv_bytes(GOOD))).status_code == 401
    assert (await state(settings))["officers"] == {}
