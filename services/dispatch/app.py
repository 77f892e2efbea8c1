"""Dispatch's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.dispatch import appeals_api, directory_api, handlers, store
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE

NAME = "dispatch"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    runtime.consume(APPEALS_IMMEDIATE, handlers.appeal_routes(runtime.outbox))
    return runtime.app(
        directory_api.router,
        appeals_api.router,
        title="Jiban dispatch",
        description="The directory, and routing of every appeal to its officer (派单).",
    )
