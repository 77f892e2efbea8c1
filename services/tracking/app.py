"""Tracking's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import tables
from services.tracking.access_log import api as access_log_api
from services.tracking.appeals import api as appeals_api
from services.tracking.appeals import handlers as appeals_handlers
from services.tracking.appeals import store as appeals_store
from services.tracking.appeals.appeal import NotYours
from services.tracking.appeals.lifecycle import Refused
from services.tracking.appeals.workflow import AppealWorkflow, UnknownAppeal
from services.tracking.deadlines.scheduler import DeadlineScheduler
from services.tracking.deadlines.timekeeping import Timekeeping
from services.tracking.desk import api as desk_api
from services.tracking.directory import handlers as directory_handlers
from services.tracking.extensions import api as extensions_api
from services.tracking.five_ones import api as five_ones_api
from services.tracking.five_ones import handlers as five_ones_handlers
from services.tracking.five_ones.worker import FiveOnesReminderWorker
from services.tracking.public import api as public_api
from services.tracking.reports import api as reports_api
from services.tracking.reports.cso_reporters import CsoProposalWorker
from services.tracking.reports.rates import parse_counted
from services.tracking.search import api as search_api
from shared.clock import utcnow
from shared.metrics import (
    APPEAL_EVENTS_WAITING,
    APPEAL_EVENTS_WAITING_OLDEST,
    APPEALS_ESCALATED,
    APPEALS_OPEN,
    APPEALS_OVERDUE,
    SCHEDULER_DUE_BACKLOG,
    SCHEDULER_OLDEST_DUE,
)
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


async def appeal_gauges(session: AsyncSession) -> None:
    figures = await appeals_store.figures(session, utcnow())
    APPEALS_OPEN.labels(NAME).set(figures.open)
    APPEALS_OVERDUE.labels(NAME).set(figures.overdue)
    APPEALS_ESCALATED.labels(NAME).set(figures.escalated)
    SCHEDULER_DUE_BACKLOG.labels(NAME).set(figures.due_alarms)
    SCHEDULER_OLDEST_DUE.labels(NAME).set(figures.oldest_due_s)
    APPEAL_EVENTS_WAITING.labels(NAME).set(figures.events_waiting)
    APPEAL_EVENTS_WAITING_OLDEST.labels(NAME).set(figures.oldest_waiting_s)


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, tables.metadata)
    # The one way appeals change (lifecycle, history, events, deadlines), whoever moves them.
    workflow = AppealWorkflow(Timekeeping.from_settings(settings))
    batch = appeals_handlers.prepare(workflow)
    runtime.consume(APPEALS_IMMEDIATE, appeals_handlers.received_routes(workflow), prepare=batch)
    runtime.consume(
        APPEALS_ASSIGNMENTS, appeals_handlers.assignment_routes(workflow), prepare=batch
    )
    runtime.consume(APPEALS_FOLLOW_UPS, appeals_handlers.follow_up_routes(workflow))
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
    runtime.consume(DIRECTORY_CHANGES, directory_handlers.directory_routes())
    # CSOs' visits that found no problem: contacts for the five ones.
    runtime.consume(VISITS_LOGGED, five_ones_handlers.visit_routes())
    runtime.add_worker(FiveOnesReminderWorker(runtime.units, settings))
    runtime.add_worker(
        CsoProposalWorker(runtime.units, counted=parse_counted(settings.satisfaction_counts))
    )
    runtime.add_gauge_refresher(appeal_gauges)
    app = runtime.app(
        # GET /v1/appeals (search) and GET /v1/appeals/{appeal_id} are distinct paths: either
        # order works.
        search_api.router,
        appeals_api.router,
        desk_api.router,
        extensions_api.router,
        access_log_api.router,
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
    app.add_exception_handler(Refused, appeals_api.refused)
    app.add_exception_handler(NotYours, appeals_api.not_yours)
    app.add_exception_handler(UnknownAppeal, appeals_api.unknown)
    return app
