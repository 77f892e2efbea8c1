"""Intake's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.intake import api, handlers, inbound, store
from services.intake.accept import CodeBook, Intake
from services.intake.auth import AuthConfig, ChannelAuth, install
from services.intake.classification import Rules, default_rules, load_rules
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_LIFECYCLE

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


def classification_rules(settings: Settings) -> Rules:
    # Loaded once at start-up: a broken rules file stops the start, naming the bad rule.
    path = settings.classification_rules_path
    return default_rules() if path is None else load_rules(Path(path))


def build(settings: Settings) -> FastAPI:
    codes = code_book(settings)
    rules = classification_rules(settings)
    auth_config = AuthConfig.from_settings(settings)  # no encryption key: refuses to start
    # Intake answers adapters while the broker is away: its outbox holds the events.
    runtime = ServiceRuntime(NAME, settings, store.metadata, ready_needs_broker=False)
    intake = Intake(
        runtime.units,
        codes,
        rules,
        merge_threshold=settings.merge_threshold,
        merge_window=timedelta(hours=settings.merge_window_hours),
    )
    runtime.consume(APPEALS_LIFECYCLE, handlers.lifecycle_routes())
    # All channels' inbound topics in one group: one group join, not five.
    runtime.consume(
        "appeals.inbound",
        inbound.inbound_routes(intake),
        unwrap=inbound.unwrap,
        topics=inbound.TOPICS,
    )
    channel_auth = ChannelAuth(runtime.db, auth_config)
    runtime.add_worker(channel_auth.pruner)
    app = runtime.app(
        api.router,
        title="Jiban intake",
        description="Channel adapters submit appeals here (接诉即办: accept).",
    )
    app.state.intake = intake
    install(app, channel_auth)  # dev keys under JIBAN_DEV_MODE=1, else refuses while any exist
    return app
