"""Dispatch's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.dispatch import tables
from services.dispatch.assignments import api as assignments_api
from services.dispatch.assignments import handlers
from services.dispatch.assignments.service import Ownership, OwnershipError
from services.dispatch.assignments.store import PostgresAssignments
from services.dispatch.directory import api as directory_api
from services.dispatch.directory.service import DirectoryRefusal
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE
from shared.unit_of_work import UnitOfWork

NAME = "dispatch"


def ownership_in(uow: UnitOfWork) -> Ownership:
    """The ownership decisions over dispatch's tables, inside `uow`: one repository per unit of
    work, so what a consumer's batch loaded (and keeps to write) serves all its messages."""
    return Ownership(
        uow.attached(PostgresAssignments, lambda: PostgresAssignments(uow.session)), uow
    )


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, tables.metadata)
    runtime.consume(
        APPEALS_IMMEDIATE,
        handlers.appeal_routes(ownership_in),
        prepare=handlers.prepare_appeals(ownership_in),
    )
    runtime.consume(APPEALS_LIFECYCLE, handlers.lifecycle_routes(ownership_in))
    app = runtime.app(
        directory_api.router,
        assignments_api.router,
        title="Jiban dispatch",
        description="The directory, and routing of every appeal to its officer (派单).",
    )
    app.state.ownership_in = ownership_in
    app.add_exception_handler(OwnershipError, assignments_api.ownership_refused)
    app.add_exception_handler(DirectoryRefusal, directory_api.refused)
    return app
