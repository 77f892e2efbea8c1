"""Intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake import api, store
from shared.service import ServiceRuntime
from shared.settings import Settings

NAME = "intake"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata, ready_needs_broker=False)
    return runtime.app(
        api.router,
        title="Jiban intake",
        description="Channel adapters submit appeals here (接诉即办: accept).",
    )
