"""Intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake import api, store
from services.intake.accept import CodeBook
from shared.service import ServiceRuntime
from shared.settings import Settings

NAME = "intake"
# Only under JIBAN_DEV_MODE=1: codes are then guessable by anyone who reads this file.
DEV_TRACKING_CODE_KEY = b"jiban-development-tracking-code-key"


class ConfigurationError(RuntimeError):
    """Intake refuses to start with settings that are unsafe outside development."""


def code_book(settings: Settings) -> CodeBook:
    if settings.tracking_code_key is not None:
        key = settings.tracking_code_key.get_secret_value().encode()
    elif settings.dev_mode:
        key = DEV_TRACKING_CODE_KEY
    else:
        raise ConfigurationError(
            "JIBAN_TRACKING_CODE_KEY is not set (a secret of at least 16 characters); "
            "only JIBAN_DEV_MODE=1 runs without one"
        )
    if len(key) < 16:
        raise ConfigurationError("JIBAN_TRACKING_CODE_KEY must be at least 16 characters")
    return CodeBook(settings.tracking_code_prefix, key)


def build(settings: Settings) -> FastAPI:
    codes = code_book(settings)
    runtime = ServiceRuntime(NAME, settings, store.metadata, ready_needs_broker=False)
    app = runtime.app(
        api.router,
        title="Jiban intake",
        description="Channel adapters submit appeals here (接诉即办: accept).",
    )
    app.state.codes = codes
    return app
