"""Dispatch's directory API over the demo directory: filters, keyset pages, errors."""

from __future__ import annotations

import httpx
import pytest

from jiban.setup import load_demo_directory
from services.dispatch.app import build
from shared.credit_code import is_valid

pytestmark = pytest.mark.integration


async def all_pages(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=query)).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_demo_directory_pages_and_filters(settings):
    report = await load_demo_directory(settings)
    assert report.officers_changed == 634 and report.enterprises_changed == 1050
    again = await load_demo_directory(settings)
    assert again.officers_changed == again.enterprises_changed == 0, "loading is idempotent"

    # The routes only need the database: no broker is started for these reads.
    transport = httpx.ASGITransport(app=build(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        officers = await all_pages(client, "/v1/officers", limit=100)
        assert len(officers) == len({o["officer_id"] for o in officers}) == 634
        csos = await all_pages(client, "/v1/officers", role="chief_service_officer", limit=50)
        assert len(csos) == 132
        off_duty = await all_pages(client, "/v1/officers", on_duty="false")
        assert off_duty and all(not o["on_duty"] for o in off_duty)

        enterprises = await all_pages(client, "/v1/enterprises", limit=200)
        assert len(enterprises) == 1050
        assert all(is_valid(e["credit_code"]) for e in enterprises)
        one = enterprises[0]
        mine = await all_pages(client, "/v1/enterprises", cso=one["cso_officer_id"])
        assert one in mine and all(e["cso_officer_id"] == one["cso_officer_id"] for e in mine)
        nev = await all_pages(client, "/v1/enterprises", chain="nev")
        assert nev and all(e["chain"] == "nev" for e in nev)

        bad_cursor = await client.get("/v1/officers", params={"cursor": "not-a-cursor"})
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["detail"][0]["loc"] == ["query", "cursor"]
        bad_chain = await client.get("/v1/enterprises", params={"chain": "steel"})
        assert bad_chain.status_code == 422
        assert bad_chain.json()["detail"][0]["loc"] == ["query", "chain"]
        missing = await client.get("/v1/officers/nobody")
        assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
        found = await client.get(f"/v1/enterprises/{one['credit_code'].lower()}")
        assert found.status_code == 200 and found.json() == one
