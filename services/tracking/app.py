"""Tracking's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.tracking import (
    access_log,
    actions_api,
    api,
    cso_proposal_worker,
    five_ones_api,
    five_ones_handlers,
    five_ones_worker,
    handlers,
    public_api,
    reports_api,
    search_api,
    store,
    unreasonable,
)
from services.tracking.lifecycle import Refused
from services.tracking.scheduler import DeadlineScheduler
from services.tracking.workflow import AppealWorkflow, Timekeeping
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import (
    APPEALS_ASSIGNMENTS,
    APPEALS_FOLLOW_UPS,
    APPEALS_IMMEDIATE,
    DIRECTORY_CHANGES,
    VISITS_LOGGED,
)

NAME = "tracking"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    # The one way appeals change (lifecycle, history, events, deadlines), whoever moves them.
    workflow = AppealWorkflow(Timekeeping.from_settings(settings))
    runtime.consume(APPEALS_IMMEDIATE, handlers.received_routes(workflow))
    runtime.consume(APPEALS_ASSIGNMENTS, handlers.assignment_routes(workflow))
    runtime.consume(APPEALS_FOLLOW_UPS, handlers.follow_up_routes(workflow))
    runtime.add_worker(
        DeadlineScheduler(
            runtime.units,
            workflow,
            batch_size=settings.scheduler_batch_size,
            poll_interval_s=settings.scheduler_poll_interval_s,
            max_backoff_s=settings.consumer_max_backoff_s,
        )
    )
    # Its own copy of the officers (units decide who may read whose queue) and of the
    # enterprises with their CSOs (the five ones).
    runtime.consume(
        DIRECTORY_CHANGES,
        {**handlers.directory_routes(), **five_ones_handlers.directory_routes()},
    )
    # CSOs' visits that found no problem: contacts for the five ones.
    runtime.consume(VISITS_LOGGED, five_ones_handlers.visit_routes())
    runtime.add_worker(five_ones_worker.FiveOnesReminderWorker(runtime.units, settings))
    runtime.add_worker(
        cso_proposal_worker.CsoProposalWorker(
            runtime.units,
            counted=cso_proposal_worker.parse_counted(settings.satisfaction_counts),
        )
    )
    app = runtime.app(
        actions_api.router,
        # GET /v1/appeals (search) and GET /v1/appeals/{appeal_id} are distinct paths: either
        # order works.
        search_api.router,
        api.router,
        unreasonable.router,
        access_log.router,
        public_api.router,
        five_ones_api.router,
        reports_api.router,
        title="Jiban tracking",
        description=(
            "The closed loop (跟踪督办): each appeal's lifecycle, history and deadlines, "
            "officers' queues and actions, follow-ups, the three rates and the five ones."
        ),
    )
    app.state.workflow = workflow
    app.add_exception_handler(Refused, actions_api.refused)
    return app
