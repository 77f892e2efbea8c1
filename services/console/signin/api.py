"""Signing in and out. Development (`make run`): a page lists the demo directory's people by
unit and role, and picking one signs in as them with a token the console signs with the
development secret. Production: OpenID Connect (services/console/signin/oidc.py). Either way the
person's session lives in the console's table, its cookie HttpOnly (Secure and SameSite=Lax
outside development), and every form carries the session's CSRF token."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import Backend, ServiceUnavailable
from services.console.pages import problem_page, render
from services.console.signin import store
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


def _where(request: Request) -> str:
    url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # A partial (htmx) request comes back to the page it was made from.
    return request.headers.get("HX-Current-URL-Path") or url


async def signed_in(request: Request) -> Person:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with request.app.state.runtime.db.sessions() as session:
            person = await store.find(session, cookie, utcnow())
        if person is not None:
            return person
    raise NeedsSignIn(_where(request))


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


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
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
    }
    status = 200
    if settings.dev_mode:
        try:
            officers, duty = await _directory(request)
            context["people"] = people_of(officers, duty)
        except ServiceUnavailable as exc:
            context["problem"] = exc.service
            status = 503
    response = render(request, "sign_in.html", context, status_code=status)
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="lax", secure=_secure(settings), max_age=3600
    )
    return response


async def open_session(
    request: Request,
    *,
    subject: str,
    name: str,
    roles: frozenset[Role],
    unit: str | None,
    token: str,
    next_path: str,
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
        expires_at=expiry(utcnow(), settings.console_session_minutes),
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


@router.post("/sign-out")
async def sign_out(request: Request, _person: FormPerson) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    async with request.app.state.runtime.db.transaction() as session:
        await store.forget(session, cookie, utcnow())
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
async def home(_person: CurrentPerson) -> Response:
    return RedirectResponse("/queue", status_code=303)
