"""What every service's HTTP does whatever the route (shared/http.py, shared/identity): text with
U+0000 and bodies that are not UTF-8 are 422 naming where, never a 500 or a bare 400; the OpenAPI
document shows the 401 and 403 a route's sign-in dependencies give. Found by fuzzing the
services' APIs (tests/fuzz)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from harness import bearer, dev_token
from pydantic import BaseModel

from shared.http import install_error_handlers, refuse_nul_characters
from shared.identity import (
    DEV_JWT_SECRET,
    CurrentPrincipal,
    Role,
    document_refusals,
    install_identity,
    require_roles,
    verifier_from,
)


class Names(BaseModel):
    names: list[str]


router = APIRouter(prefix="/v1")


@router.post("/things/{thing_id}")
async def change(thing_id: str, body: Names, _caller: CurrentPrincipal, unit: str = "") -> dict:
    return {"thing_id": thing_id, "names": body.names, "unit": unit}


@router.get("/things", dependencies=[Depends(require_roles(Role.OPS))])
async def listing() -> list[str]:
    return []


@router.get("/open")
async def open_route() -> dict:
    return {}


def service() -> FastAPI:
    app = FastAPI(dependencies=[Depends(refuse_nul_characters)])
    install_error_handlers(app, "test")
    install_identity(app, verifier_from(dev_mode=True, secret=DEV_JWT_SECRET))
    app.include_router(router)
    document_refusals(app, [router])
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(dev_token())
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "params", "body", "where"),
    [
        ("/v1/things/a%00b", {}, {"names": []}, ["path", "thing_id"]),
        ("/v1/things/a", {"unit": "x\x00"}, {"names": []}, ["query", "unit"]),
        ("/v1/things/a", {}, {"names": ["ok", "n\x00"]}, ["body", "names", 1]),
        ("/v1/things/a", {}, {"names": [], "n\x00": 1}, ["body", "n\x00"]),
    ],
)
async def test_a_nul_anywhere_is_422_naming_it(
    client: httpx.AsyncClient, path: str, params: dict, body: dict, where: list
) -> None:
    response = await client.post(path, params=params, json=body)
    assert response.status_code == 422, response.text
    assert [p["loc"] for p in response.json()["detail"]] == [where]
    assert response.json()["detail"][0]["type"] == "nul_character"


async def test_text_without_a_nul_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things/a", params={"unit": "u"}, json={"names": ["停水"]})
    assert response.status_code == 200
    assert response.json() == {"thing_id": "a", "names": ["停水"], "unit": "u"}


async def test_a_body_that_is_not_utf8_is_422_naming_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/things/a",
        content=b'{"names": ["\xff\xfe"]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body"]


async def test_other_http_refusals_keep_their_status_and_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things/a", json={"names": []}, headers=bearer("garbled"))
    assert response.status_code == 401
    assert response.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_document_shows_the_refusals_of_the_sign_in_dependencies() -> None:
    document = service().openapi()
    answers = {
        (path, method): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert answers[("/v1/things/{thing_id}", "post")] == {"200", "401", "422"}
    assert answers[("/v1/things", "get")] == {"200", "401", "403"}
    assert answers[("/v1/open", "get")] == {"200"}
    refused = document["paths"]["/v1/things"]["get"]["responses"]["403"]
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problems"
    }
    assert {"Problems", "Problem"} <= set(document["components"]["schemas"])
