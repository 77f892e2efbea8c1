"""Tracking's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.tracking import api, handlers, public_api, store
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE, DIRECTORY_CHANGES

NAME = "tracking"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    runtime.consume(APPEALS_IMMEDIATE, handlers.received_routes(runtime.outbox))
    runtime.consume(APPEALS_ASSIGNMENTS, handlers.assignment_routes(runtime.outbox))
    # Its own copy of the officers (units decide who may read whose queue).
    runtime.consume(DIRECTORY_CHANGES, handlers.directory_routes())
    return runtime.app(
        api.router,
        public_api.router,
        title="Jiban tracking",
        description="Each appeal's record and history, and officers' queues (跟踪督办).",
    )
