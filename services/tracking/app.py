"""Tracking's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.tracking import api, handlers, store
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_IMMEDIATE

NAME = "tracking"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    runtime.consume(APPEALS_IMMEDIATE, handlers.received_routes(runtime.outbox))
    runtime.consume(APPEALS_ASSIGNMENTS, handlers.assignment_routes(runtime.outbox))
    return runtime.app(
        api.router,
        title="Jiban tracking",
        description="Each appeal's record and history, and officers' queues (跟踪督办).",
    )
