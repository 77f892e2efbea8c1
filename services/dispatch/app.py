"""Dispatch's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.dispatch import appeals_api, directory_api, handlers, store
from services.dispatch.ownership import Ownership, OwnershipError
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE

NAME = "dispatch"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    ownership = Ownership()
    runtime.consume(APPEALS_IMMEDIATE, handlers.appeal_routes(ownership))
    runtime.consume(APPEALS_LIFECYCLE, handlers.lifecycle_routes(ownership))
    app = runtime.app(
        directory_api.router,
        appeals_api.router,
        title="Jiban dispatch",
        description="The directory, and routing of every appeal to its officer (派单).",
    )
    app.state.ownership = ownership
    app.add_exception_handler(OwnershipError, appeals_api.ownership_refused)
    return app
