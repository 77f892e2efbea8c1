"""The console's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.console import tables
from services.console.appeals import api as appeals_api
from services.console.backend import Backend, ServiceUnavailable, SignInExpired
from services.console.board import api as board_api
from services.console.dashboard import api as dashboard_api
from services.console.directory import api as directory_api
from services.console.live import api as live_api
from services.console.live import handlers as live_handlers
from services.console.live.feed import LiveFeed, NoticePruner
from services.console.pages import problem_page
from services.console.queue import api as queue_api
from services.console.signin import api as signin_api
from services.console.signin import oidc
from services.console.views import api as views_api
from shared.service import ServiceRuntime
from shared.settings import Settings

NAME = "console"
STATIC = Path(__file__).parent / "static"


def unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceUnavailable)
    return problem_page(request, "unavailable", 503, service=exc.service)


def expired(request: Request, _exc: Exception) -> Response:
    # A service refused the session's token (it ran out there first): sign in, then come back.
    return signin_api.sign_in_redirect(request, signin_api.NeedsSignIn(signin_api.page_of(request)))


def build(settings: Settings) -> FastAPI:
    # Pages are served while the broker is away (only live notices wait for it), as long as
    # the services the console calls answer.
    runtime = ServiceRuntime(NAME, settings, tables.metadata, ready_needs_broker=False)
    for topic, routes in live_handlers.routes().items():
        runtime.consume(topic, routes)
    feed = LiveFeed(runtime.db, settings.console_live_poll_s)
    runtime.add_worker(feed)
    runtime.add_worker(NoticePruner(runtime.db))
    app = runtime.app(
        signin_api.router,
        queue_api.router,
        appeals_api.router,
        live_api.router,
        board_api.router,
        dashboard_api.router,
        directory_api.router,
        views_api.router,
        title="Jiban console",
        description="The web console for officers, supervisors and dispatchers.",
    )
    backend = Backend(settings)
    app.state.backend = backend
    provider = oidc.Provider(settings) if settings.oidc_issuer else None
    app.state.oidc_provider = provider
    app.state.live_feed = feed
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app_):
            try:
                yield
            finally:
                await backend.close()
                if provider is not None:
                    await provider.aclose()

    app.router.lifespan_context = lifespan
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(signin_api.NeedsSignIn, signin_api.sign_in_redirect)
    app.add_exception_handler(signin_api.BadCsrf, signin_api.csrf_refused)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(SignInExpired, expired)
    return app
