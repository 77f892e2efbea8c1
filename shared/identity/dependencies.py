"""FastAPI's side of sign-in: the verifier installed on the app, and the dependencies routes
declare (`CurrentPrincipal`, `require_roles(...)`); refusals are 401/403 naming the header."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.identity.principal import Principal, Role
from shared.identity.tokens import (
    REFUSALS,
    RETRY_AFTER_S,
    InvalidToken,
    JwksUnavailable,
    TokenVerifier,
)

log = logging.getLogger(__name__)


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

    return dependency


def forbidden(request: Request, msg: str) -> HTTPException:
    """A 403 for a route's own check on a valid principal (whose thing it is, which unit),
    shaped and counted like `require_roles`' refusals. `raise forbidden(request, "…")`."""
    return _refusal(403, "forbidden", msg, request.url.path)


# The signed-in caller of a route (401 without a valid token): `caller: CurrentPrincipal`.
CurrentPrincipal = Annotated[Principal, Depends(_authenticated)]
