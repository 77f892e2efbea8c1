"""Tracking's consumers of what other services report about appeals: intake's receipts and
repeats (`appeals.immediate`), dispatch's assignments, reassignments, assistants and rulings on
returns (`appeals.assignments`), and the call-back's results (`appeals.follow-ups`). Each hands
its event to the workflow, the one way an appeal changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.tracking.appeals.workflow import AppealWorkflow, Heard
from shared.consumer import Prepare, Route
from shared.envelope import Envelope
from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AssistantsChanged,
    FollowUpRecorded,
    ReturnDecided,
)
from shared.unit_of_work import UnitOfWork


def _routes(workflow: AppealWorkflow, *models: type[Heard]) -> dict[str, Route]:
    def handler(model: type[Heard]) -> Callable[[UnitOfWork, Envelope, Heard], Awaitable[None]]:
        async def hear(uow: UnitOfWork, envelope: Envelope, event: Heard) -> None:
            await workflow.hear(uow, envelope, event, model.TOPIC)

        return hear

    return {model.TYPE: Route(model, handler(model)) for model in models}


def prepare(workflow: AppealWorkflow) -> Prepare:
    """Loads a batch's appeals in one go (see AppealWorkflow.prepare)."""

    async def load(uow: UnitOfWork, batch: list[tuple[Envelope, Heard]]) -> None:
        await workflow.prepare(uow, [event for _, event in batch])

    return load


def received_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    # Both share appeals.immediate and its key (the appeal id), so one consumer takes them in
    # order: a merge never overtakes the appeal it joins.
    return _routes(workflow, AppealReceived, AppealMerged)


def assignment_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    # One topic, keyed by appeal id: one appeal's ownership moves arrive in the order dispatch
    # made them.
    return _routes(workflow, AppealAssigned, AppealReassigned, AssistantsChanged, ReturnDecided)


def follow_up_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    """The call-back's results (回访), published by intake for the hotline."""
    return _routes(workflow, FollowUpRecorded)
