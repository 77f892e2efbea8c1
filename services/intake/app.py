"""Intake's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.intake import tables
from services.intake.channel_keys.dependencies import install
from services.intake.channel_keys.service import AuthConfig, ChannelAuth
from services.intake.channel_keys.worker import SignaturePruner
from services.intake.classification.rules import Rules, default_rules, load_rules
from services.intake.follow_ups import api as follow_ups_api
from services.intake.lifecycle import handlers as lifecycle_handlers
from services.intake.repeats.service import Repeats
from services.intake.submissions import api as submissions_api
from services.intake.submissions import handlers as submissions_handlers
from services.intake.submissions.service import Intake
from services.intake.tracking_codes.store import CodeBook
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_LIFECYCLE
from shared.vocabulary import Channel

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


def unsigned_channels(settings: Settings) -> frozenset[Channel]:
    """JIBAN_INBOUND_UNSIGNED_CHANNELS; a misspelt channel stops the start rather than leave
    that channel's adapter refused for want of a signature."""
    names = [n.strip() for n in settings.inbound_unsigned_channels.split(",") if n.strip()]
    known = {c.value for c in Channel}
    if unknown := [n for n in names if n not in known]:
        raise ConfigurationError(
            f"JIBAN_INBOUND_UNSIGNED_CHANNELS: no channel {', '.join(map(repr, unknown))} "
            f"(the channels: {', '.join(sorted(known))})"
        )
    return frozenset(Channel(n) for n in names)


def classification_rules(settings: Settings) -> Rules:
    # Loaded once at start-up: a broken rules file stops the start, naming the bad rule.
    path = settings.classification_rules_path
    return default_rules() if path is None else load_rules(Path(path))


def build(settings: Settings) -> FastAPI:
    codes = code_book(settings)
    rules = classification_rules(settings)
    auth_config = AuthConfig.from_settings(settings)  # no encryption key: refuses to start
    # Intake answers adapters while the broker is away: its outbox holds the events.
    runtime = ServiceRuntime(NAME, settings, tables.metadata, ready_needs_broker=False)
    intake = Intake(
        runtime.units,
        codes,
        rules,
        Repeats(
            threshold=settings.merge_threshold,
            window=timedelta(hours=settings.merge_window_hours),
        ),
    )
    runtime.consume(APPEALS_LIFECYCLE, lifecycle_handlers.lifecycle_routes())
    auth = ChannelAuth(runtime.units, auth_config)
    unsigned = unsigned_channels(settings)
    # All channels' inbound topics in one group: one group join, not five.
    runtime.consume(
        "appeals.inbound",
        submissions_handlers.inbound_routes(intake, auth, unsigned),
        unwrap=submissions_handlers.unwrap,
        topics=submissions_handlers.TOPICS,
    )
    runtime.add_worker(SignaturePruner(runtime.units))
    app = runtime.app(
        submissions_api.router,
        follow_ups_api.router,
        title="Jiban intake",
        description="Channel adapters submit appeals here (接诉即办: accept).",
    )
    app.state.intake = intake
    # Dev keys under JIBAN_DEV_MODE=1, else refuses to start while any exists.
    install(app, auth)
    return app
