"""FastAPI's side of sign-in: the verifier installed on the app, and the dependencies routes
declare (`CurrentPrincipal`, `require_roles(...)`); refusals are 401/403 naming the header, and
every route's OpenAPI entry documents the ones its dependencies can give."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.http import Problems, refusal
from shared.identity.principal import Principal, Role
from shared.identity.tokens import (
    REFUSALS,
    RETRY_AFTER_S,
    InvalidToken,
    JwksUnavailable,
    TokenVerifier,
)

log = logging.getLogger(__name__)


# What a route that needs a sign-in may answer before it runs (its OpenAPI `responses`); a
# route's own check on whose thing it is (`forbidden`) documents FORBIDDEN itself.
SIGN_IN_REQUIRED = refusal(
    "No valid sign-in token (missing, garbled, expired, another key or audience)", Problems
)
FORBIDDEN = refusal("Signed in, but not allowed this", Problems)


def install_identity(app: FastAPI, verifier: TokenVerifier) -> None:
    """Makes `verifier` what the dependencies use, and closes its JWKS client at shutdown."""
    app.state.identity = verifier
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        try:
            async with inner(a) as state:
                yield state
        finally:
            await verifier.aclose()

    app.router.lifespan_context = lifespan


# auto_error=False: a missing header is ours to answer (401 with our body), and /docs still
# shows an "Authorize" button for the scheme.
_bearer = HTTPBearer(auto_error=False, description="A Jiban sign-in token (JWT)")
_AUTH_LOC = ["header", "Authorization"]


def _refusal(status: int, kind: str, msg: str, path: str) -> HTTPException:
    REFUSALS.labels(kind).inc()
    # Never the token itself: it is a credential.
    log.info("request refused", extra={"reason": kind, "path": path})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    detail = [{"loc": _AUTH_LOC, "msg": msg, "type": kind}]
    return HTTPException(status, detail=detail, headers=headers)


async def _authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    verifier: TokenVerifier | None = getattr(request.app.state, "identity", None)
    if verifier is None:
        # Fail closed: a route that asks for a principal must never run without a verifier.
        raise RuntimeError("no TokenVerifier installed: call install_identity(app, verifier)")
    path = request.url.path
    if credentials is None:
        raise _refusal(401, "missing_token", "an `Authorization: Bearer <token>` is needed", path)
    try:
        principal = await verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise _refusal(401, exc.kind, exc.msg, path) from None
    except JwksUnavailable as exc:
        REFUSALS.labels("jwks_unavailable").inc()
        log.warning("identity provider unavailable", extra={"path": path, "error": str(exc)})
        raise HTTPException(
            503,
            detail="the identity provider's keys are unavailable; retry",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    request.state.principal = principal
    return principal


def authenticated() -> Callable[..., Awaitable[Principal]]:
    """`Depends(authenticated())`: the caller's Principal, or 401. The same callable every time,
    so FastAPI verifies a token once per request however many dependencies ask for it."""
    return _authenticated


def require_roles(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """`Depends(require_roles(Role.SUPERVISOR, Role.OPS))`: the Principal if it holds at least one
    of `roles`; 401 without a valid token, 403 with none of them."""
    wanted = frozenset(Role(r) for r in roles)  # a typo fails at import, not at request time
    if not wanted:
        raise ValueError("require_roles needs at least one role")
    names = ", ".join(sorted(wanted))

    async def dependency(
        request: Request, principal: Principal = Depends(_authenticated)
    ) -> Principal:
        if principal.roles.isdisjoint(wanted):
            raise _refusal(403, "forbidden", f"needs one of the roles: {names}", request.url.path)
        return principal

    _ROLE_CHECKS.add(dependency)
    return dependency


# Every dependency require_roles made: a route that depends on one may answer 403.
_ROLE_CHECKS: set[Callable[..., Any]] = set()


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _refusals_of(route: APIRoute) -> dict[str, dict[str, Any]]:
    calls = set(_calls(route.dependant))
    refusals: dict[str, dict[str, Any]] = {}
    if _authenticated in calls:
        refusals["401"] = SIGN_IN_REQUIRED
    if calls & _ROLE_CHECKS:
        refusals["403"] = FORBIDDEN
    return refusals


def document_refusals(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Adds 401 (and 403 for a required role) to the OpenAPI entry of every route of `routers`
    (included in `app`) whose dependencies ask for a principal, unless the route documents them
    itself: what a dependency refuses is in the route's published answers without each route
    repeating it."""
    generate = app.openapi
    reference = {"$ref": "#/components/schemas/Problems"}
    routes = [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
    ]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        documented = False
        for route in routes:
            refusals = _refusals_of(route)
            for method in route.methods or ():
                answers = document["paths"][route.path_format][method.lower()]["responses"]
                for status, entry in refusals.items():
                    if status not in answers:
                        content = {"application/json": {"schema": reference}}
                        answers[status] = {"description": entry["description"], "content": content}
                        documented = True
        if documented:
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problems = Problems.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problems.pop("$defs", {}))
            schemas.setdefault("Problems", problems)
        app.openapi_schema = document
        return document

    # FastAPI's documented way to change the document: replace `app.openapi`.
    app.openapi = openapi  # type: ignore[method-assign]


def forbidden(request: Request, msg: str) -> HTTPException:
    """A 403 for a route's own check on a valid principal (whose thing it is, which unit),
    shaped and counted like `require_roles`' refusals. `raise forbidden(request, "…")`."""
    return _refusal(403, "forbidden", msg, request.url.path)


# The signed-in caller of a route (401 without a valid token): `caller: CurrentPrincipal`.
CurrentPrincipal = Annotated[Principal, Depends(_authenticated)]
