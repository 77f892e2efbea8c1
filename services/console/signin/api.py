"""Signing in and out. Development (`make run`): a page lists the demo directory's people by
unit and role, and picking one signs in as them with a token the console signs with the
development secret. Production: OpenID Connect (services/console/signin/oidc.py). Either way the
person's session lives in the console's table, its cookie HttpOnly (Secure and SameSite=Lax
outside development), and every form carries the session's CSRF token."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.console.backend import Backend, ServiceUnavailable
from services.console.pages import problem_page, render
from services.console.signin import oidc, store
from services.console.signin.service import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Person,
    expiry,
    new_secret,
    people_of,
    safe_next,
    same_secret,
)
from shared.clock import utcnow
from shared.identity import DEV_JWT_SECRET, Role, issue_dev_token
from shared.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


class NeedsSignIn(Exception):
    """No session, or it ran out: sign in, then come back to `next`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class BadCsrf(Exception):
    """A form without this session's CSRF token (answered 403 with a page saying so)."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def page_of(request: Request) -> str:
    """The page to come back to after signing in: the one a partial (htmx) request was made
    from, the one a form was posted from (its Referer, on this console), else the address."""
    if current := request.headers.get("HX-Current-URL-Path"):
        return current
    if request.method != "GET":
        referer = urlsplit(request.headers.get("Referer", ""))
        if referer.netloc == request.url.netloc and referer.path:
            return referer.path + (f"?{referer.query}" if referer.query else "")
        return "/"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def signed_in(request: Request) -> Person:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with request.app.state.runtime.db.sessions() as session:
            person = await store.find(session, cookie, utcnow())
        if person is not None:
            return person
    raise NeedsSignIn(page_of(request))


CurrentPerson = Annotated[Person, Depends(signed_in)]


async def checked_form(request: Request, person: CurrentPerson) -> Person:
    """The person, once the form's (or htmx's header) CSRF token is their session's."""
    form = await request.form()
    given = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not same_secret(str(given) if given else None, person.csrf_token):
        raise BadCsrf()
    return person


FormPerson = Annotated[Person, Depends(checked_form)]


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeedsSignIn)
    target = "/sign-in?next=" + quote(safe_next(exc.next_path), safe="")
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def csrf_refused(request: Request, _exc: Exception) -> Response:
    return problem_page(request, "csrf", 403)


def _secure(settings: Settings) -> bool:
    if settings.console_secure_cookies is not None:
        return settings.console_secure_cookies
    return not settings.dev_mode


def _signing_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return DEV_JWT_SECRET


def _ops_token(settings: Settings) -> str:
    return issue_dev_token(
        _signing_secret(settings),
        sub="console-sign-in",
        roles=[Role.OPS],
        unit=None,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        minutes=5,
    )


async def _directory(request: Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    settings, backend = settings_of(request), backend_of(request)
    token = _ops_token(settings)
    officers = await backend.all_pages("dispatch", "/v1/officers", token)
    duty = (await backend.get("dispatch", "/v1/duty", token))["items"]
    return officers, duty


async def _sign_in_page(
    request: Request,
    next_path: str,
    *,
    refusal: oidc.Refusal | None = None,
    status_code: int = 200,
) -> Response:
    """The sign-in page: the organisation's account (when an issuer is set), the demo directory
    (development), and why the last attempt did not finish (`refusal`)."""
    settings = settings_of(request)
    csrf = request.cookies.get(CSRF_COOKIE) or new_secret()
    context: dict[str, Any] = {
        "person": None,
        "next": safe_next(next_path),
        "csrf_token": csrf,
        "dev_mode": settings.dev_mode,
        "oidc": settings.oidc_issuer is not None,
        "people": {},
        "problem": None,
        "refusal": refusal.value if refusal else None,
    }
    if settings.dev_mode:
        try:
            officers, duty = await _directory(request)
            context["people"] = people_of(officers, duty)
        except ServiceUnavailable as exc:
            context["problem"] = exc.service
            status_code = max(status_code, 503)
    response = render(request, "sign_in.html", context, status_code=status_code)
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="lax", secure=_secure(settings), max_age=3600
    )
    return response


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    return await _sign_in_page(request, next_path)


async def open_session(
    request: Request,
    *,
    subject: str,
    name: str,
    roles: frozenset[Role],
    unit: str | None,
    token: str,
    next_path: str,
    token_expires_at: datetime | None = None,
) -> Response:
    settings = settings_of(request)
    cookie = new_secret()
    person = Person(
        subject=subject,
        name=name,
        roles=roles,
        unit=unit,
        token=token,
        csrf_token=new_secret(),
        expires_at=expiry(utcnow(), settings.console_session_minutes, token_expires_at),
    )
    async with request.app.state.runtime.db.transaction() as session:
        await store.save(session, cookie, person)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        max_age=settings.console_session_minutes * 60,
    )
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/sign-in/dev")
async def dev_sign_in(
    request: Request,
    officer_id: Annotated[str, Form(max_length=100)],
    csrf_token: Annotated[str, Form(max_length=200)],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    settings = settings_of(request)
    if not settings.dev_mode:
        return problem_page(request, "dev_only", 404)
    if not same_secret(csrf_token, request.cookies.get(CSRF_COOKIE)):
        raise BadCsrf()
    officers, duty = await _directory(request)
    listed = people_of(officers, duty)
    chosen = [p for roles in listed.values() for ps in roles.values() for p in ps]
    person = next((p for p in chosen if p.officer_id == officer_id), None)
    if person is None:
        return problem_page(request, "unknown_person", 404)
    token = issue_dev_token(
        _signing_secret(settings),
        sub=person.officer_id,
        roles=person.roles,
        unit=person.unit,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        minutes=settings.console_session_minutes,
    )
    return await open_session(
        request,
        subject=person.officer_id,
        name=person.name,
        roles=person.roles,
        unit=person.unit,
        token=token,
        next_path=next_path,
    )


def provider_of(request: Request) -> oidc.Provider:
    """The app's one `oidc.Provider` (app.py makes it when an issuer is set: it keeps the
    discovery document and the provider's keys between sign-ins)."""
    provider: oidc.Provider = request.app.state.oidc_provider
    return provider


async def _refused(request: Request, refused: oidc.SignInRefused, next_path: str) -> Response:
    log.warning(
        "sign-in through the identity provider refused",
        extra={"refusal": refused.refusal.value, "detail": refused.detail[:500]},
    )
    return await _sign_in_page(
        request, next_path, refusal=refused.refusal, status_code=refused.refusal.status_code
    )


@router.get("/sign-in/oidc")
async def oidc_sign_in(
    request: Request, next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    """Starts the authorisation code flow: off to the provider's authorise page, with this
    attempt's state, nonce and PKCE verifier in a signed cookie of its own."""
    settings = settings_of(request)
    if settings.oidc_issuer is None:
        return await _sign_in_page(request, next_path, refusal=oidc.Refusal.OFF, status_code=404)
    provider = provider_of(request)
    try:
        metadata = await provider.metadata()
    except oidc.SignInRefused as refused:
        return await _refused(request, refused, next_path)
    url, pending = oidc.start(
        metadata,
        client_id=provider.client_id,
        redirect_to=provider.redirect_uri,
        scope=provider.scope,
        next_path=safe_next(next_path),
        now=time.time(),
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.pending_cookie_name(pending.state),
        oidc.seal(pending, provider.key),
        max_age=oidc.PENDING_MAX_AGE_S,
        path=oidc.PENDING_COOKIE_PATH,
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET, which carries it.
        samesite="lax",
        secure=_secure(settings),
    )
    return response


@router.get(oidc.CALLBACK_PATH)
async def oidc_callback(request: Request) -> Response:
    """Finishes it: the state must be this browser's attempt, the code is exchanged, the ID token
    proven, and a session opened for whoever it names; then back to the page asked for."""
    settings = settings_of(request)
    if settings.oidc_issuer is None:
        return await _sign_in_page(request, "/", refusal=oidc.Refusal.OFF, status_code=404)
    provider = provider_of(request)
    cookie_name: str | None = None
    next_path = "/"
    try:
        try:
            params = oidc.CallbackParams.model_validate(dict(request.query_params))
        except ValidationError:
            raise oidc.SignInRefused(oidc.Refusal.STATE, "unreadable callback query") from None
        if params.state:
            cookie_name = oidc.pending_cookie_name(params.state)
        pending = oidc.unseal(
            request.cookies.get(cookie_name) if cookie_name else None,
            provider.key,
            now=time.time(),
        )
        if pending is not None:
            next_path = pending.next_path
        code, pending = oidc.check_callback(params, pending, issuer=provider.issuer)
        id_token = await provider.exchange(code, pending)
        person = await provider.person(id_token, pending)
    except oidc.SignInRefused as refused:
        response = await _refused(request, refused, next_path)
    else:
        response = await open_session(
            request,
            subject=person.subject,
            name=person.name,
            roles=person.roles,
            unit=person.unit,
            token=id_token,
            next_path=pending.next_path,
            token_expires_at=person.expires_at,
        )
    if cookie_name is not None:
        # The attempt is spent either way (the provider takes each code once): its cookie goes.
        response.delete_cookie(cookie_name, path=oidc.PENDING_COOKIE_PATH)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, person: FormPerson) -> Response:
    """Ends the session; one that came from the provider ends the provider's session too (where
    it offers RP-initiated logout), which then sends the browser back to sign in."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    async with request.app.state.runtime.db.transaction() as session:
        await store.forget(session, cookie, utcnow())
    settings = settings_of(request)
    target = "/sign-in"
    if settings.oidc_issuer is not None and oidc.issued_by(person.token, settings.oidc_issuer):
        provider = provider_of(request)
        try:
            metadata = await provider.metadata()
        except oidc.SignInRefused:
            metadata = None  # the provider is away: the console's own session is over anyway
        if metadata is not None:
            target = (
                oidc.end_session_url(
                    metadata,
                    id_token=person.token,
                    client_id=provider.client_id,
                    after=settings.console_public_url.rstrip("/") + "/sign-in",
                )
                or target
            )
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
async def home(_person: CurrentPerson) -> Response:
    return RedirectResponse("/queue", status_code=303)
