"""Changes to the directory one at a time (ops and supervisors, over HTTP): an officer's duty,
leave and capacity, an enterprise's CSO (挂点), a duty post's holder. Each is made in the
caller's unit of work together with its event on `directory.changes`; a change that changes
nothing publishes nothing. Also the events themselves, made from the models (loading a whole
directory publishes the same ones)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from services.dispatch.directory import store
from services.dispatch.directory.model import Department, DutyPost, Enterprise, Officer
from shared.events import (
    DepartmentChanged,
    DutyChanged,
    EnterpriseChanged,
    Event,
    OfficerChanged,
)
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import OfficerRole

# --- the events, from the models -------------------------------------------------------------


def officer_changed(officer: Officer) -> OfficerChanged:
    # Capacity and load are dispatch's own business; the rest is what others keep a copy of.
    return OfficerChanged(**officer.model_dump(exclude={"capacity"}))


def enterprise_changed(enterprise: Enterprise) -> EnterpriseChanged:
    return EnterpriseChanged(**enterprise.model_dump())


def department_changed(department: Department) -> DepartmentChanged:
    return DepartmentChanged(**department.model_dump())


def duty_changed(post: DutyPost, officer_id: str) -> DutyChanged:
    return DutyChanged(post=post.value, officer_id=officer_id)


# --- refusals ----------------------------------------------------------------------------------


class DirectoryRefusal(Exception):
    """A change the directory cannot make: the thing changed is not there (`field` None: 404),
    or a field of the request names something it may not (`field`: 422)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- the changes -------------------------------------------------------------------------------


async def _publish(uow: UnitOfWork, event: Event, correlation_id: str | None) -> None:
    await uow.publish(event, correlation_id=correlation_id or f"directory-api-{uuid4()}")


async def change_officer(
    uow: UnitOfWork, officer_id: str, values: Mapping[str, Any], correlation_id: str | None
) -> Any:
    """Sets the officer's `values` (JSON-ready columns; `leave` is kept in date order) and
    returns the officer's row. Publishes OfficerChanged when something changed."""
    values = dict(values)
    if "leave" in values:
        values["leave"] = sorted(values["leave"], key=lambda p: (p["start"], p["end"]))
    row = await store.change_officer(uow.session, officer_id, values)
    if row is not None:
        await _publish(uow, officer_changed(store.officer_from_row(row)), correlation_id)
        return row
    row = await store.officer_row(uow.session, officer_id)
    if row is None:
        raise DirectoryRefusal(f"no officer {officer_id}")
    return row


async def assign_cso(
    uow: UnitOfWork, credit_code: str, officer_id: str, correlation_id: str | None
) -> Any:
    """Gives the enterprise to a chief service officer (挂点) and returns its row. Appeals
    already assigned stay with whoever holds them. Publishes EnterpriseChanged when the CSO
    changed."""
    session = uow.session
    enterprise = await store.enterprise_row(session, credit_code)
    if enterprise is None:
        raise DirectoryRefusal(f"no enterprise {credit_code}")
    officer = await store.officer_row(session, officer_id)
    if officer is None:
        raise DirectoryRefusal(f"no officer {officer_id} in the directory", "officer_id")
    if officer.role != OfficerRole.CHIEF_SERVICE_OFFICER.value:
        raise DirectoryRefusal(
            f"officer {officer_id} is a {officer.role}, not a chief_service_officer",
            "officer_id",
        )
    row = await store.change_enterprise(
        session, enterprise.credit_code, {"cso_officer_id": officer_id}
    )
    if row is None:
        return enterprise
    await _publish(uow, enterprise_changed(store.enterprise_from_row(row)), correlation_id)
    return row


async def hand_duty(
    uow: UnitOfWork, post: DutyPost, officer_id: str, correlation_id: str | None
) -> str:
    """Hands a duty post to any officer in the directory; returns the officer's name.
    Publishes DutyChanged when the holder changed."""
    officer = await store.officer_row(uow.session, officer_id)
    if officer is None:
        raise DirectoryRefusal(f"no officer {officer_id} in the directory", "officer_id")
    if await store.set_duty(uow.session, {post: officer_id}):
        await _publish(uow, duty_changed(post, officer_id), correlation_id)
    name: str = officer.name
    return name
