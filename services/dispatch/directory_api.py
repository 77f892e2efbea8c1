"""Dispatch's HTTP API for the directory: officers, enterprises, departments, communities, duty
posts. Reading needs a valid sign-in token; changing needs the `ops` or `supervisor` role. Each
change commits with its event (OfficerChanged, EnterpriseChanged, DutyChanged on
`directory.changes`) through the outbox, and routing reads the tables it changed: the next
routing decision sees it. A change that changes nothing answers the same and publishes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import store
from services.dispatch.directory import DutyPost, LeavePeriod, local_today, on_leave
from services.dispatch.directory_load import (
    duty_changed,
    enterprise_changed,
    officer_changed,
)
from services.dispatch.roster import MAX_CAPACITY, MAX_LEAVE_PERIODS
from shared.events import Event
from shared.http import CorrelationId, Cursor, Limit, Page, SessionDep
from shared.identity import Principal, Role, authenticated, require_roles
from shared.pagination import paginate
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import Category, IndustryChain, OfficerRole

# Every route reads the caller's token; changes also need one of these roles.
router = APIRouter(prefix="/v1", tags=["directory"], dependencies=[Depends(authenticated())])
Editor = Annotated[Principal, Depends(require_roles(Role.OPS, Role.SUPERVISOR))]


# --- shapes --------------------------------------------------------------------------------


class OfficerOut(BaseModel):
    officer_id: str
    name: str
    role: OfficerRole
    unit: str
    on_duty: bool
    leave: list[LeavePeriod]
    on_leave_today: bool  # a leave period covers today (Asia/Shanghai)
    capacity: int
    open_assignments: int
    categories: list[Category]
    communities: list[str]
    supervisor_id: str | None
    paired_officer_id: str | None
    # A CSO's party-building assistant (the pairing seen from the CSO); null for others.
    assistant_officer_id: str | None
    department_id: str | None
    chain: IndustryChain | None  # member of that chain's service team (专班)
    returns_accepted: int
    returns_rejected: int


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    chain: IndustryChain
    community: str
    cso_officer_id: str | None


class DepartmentOut(BaseModel):
    department_id: str
    name: str
    categories: list[Category]
    supervisor_id: str | None
    officer_ids: list[str]  # the officers whose department this is


class DutyOut(BaseModel):
    post: DutyPost
    officer_id: str | None  # null while nobody holds the post
    officer_name: str | None


class CommunityOut(BaseModel):
    community: str
    worker_ids: list[str]  # community workers who cover it
    enterprises: int  # enterprises registered in it


class OfficerPatch(BaseModel):
    """What ops or a supervisor may change on an officer. Fields left out stay as they are;
    `leave` replaces the whole list (send `[]` to clear it)."""

    model_config = ConfigDict(extra="forbid")

    # Defaults are not validated: a field left out is None, an explicit null is refused.
    on_duty: bool = Field(default=None)  # type: ignore[assignment]
    leave: list[LeavePeriod] = Field(default=None, max_length=MAX_LEAVE_PERIODS)  # type: ignore[assignment]
    capacity: int = Field(default=None, ge=0, le=MAX_CAPACITY)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something(self) -> OfficerPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of on_duty, leave, capacity")
        return self


class OfficerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(min_length=1, max_length=64)


# --- helpers -------------------------------------------------------------------------------


def officer_out(row: Any, today: date) -> OfficerOut:
    officer = store.officer_from_row(row)
    is_cso = officer.role is OfficerRole.CHIEF_SERVICE_OFFICER
    return OfficerOut(
        **officer.model_dump(exclude={"phone", "email"}),
        on_leave_today=on_leave(officer.leave, today),
        assistant_officer_id=officer.paired_officer_id if is_cso else None,
        open_assignments=row.open_assignments,
        returns_accepted=row.returns_accepted,
        returns_rejected=row.returns_rejected,
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", field), "msg": message, "type": "value_error", "input": None}]
    )


@asynccontextmanager
async def _changing(request: Request) -> AsyncIterator[UnitOfWork]:
    """A change's unit of work: committed before the answer is sent (or rolled back by the error
    that ends it)."""
    async with request.app.state.runtime.units.begin() as uow:
        yield uow


async def _publish(uow: UnitOfWork, event: Event, correlation_id: str | None) -> None:
    await uow.publish(event, correlation_id=correlation_id or f"directory-api-{uuid4()}")


# --- officers ------------------------------------------------------------------------------


@router.get("/officers")
async def list_officers(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    role: OfficerRole | None = None,
    unit: str | None = None,
    on_duty: bool | None = None,
    on_leave: Annotated[
        bool | None, Query(description="A leave period covers today (Asia/Shanghai)")
    ] = None,
    department: Annotated[str | None, Query(description="Department id")] = None,
    chain: Annotated[
        IndustryChain | None, Query(description="Member of this chain's service team (专班)")
    ] = None,
    community: Annotated[str | None, Query(description="Covers this community")] = None,
    supervisor: Annotated[str | None, Query(description="Reports to this officer")] = None,
) -> Page[OfficerOut]:
    t = store.officers
    today = local_today()
    query = select(t)
    if role is not None:
        query = query.where(t.c.role == role)
    if unit is not None:
        query = query.where(t.c.unit == unit)
    if on_duty is not None:
        query = query.where(t.c.on_duty == on_duty)
    if on_leave is not None:
        away = store.away_on(today)
        query = query.where(away if on_leave else ~away)
    if department is not None:
        query = query.where(t.c.department_id == department)
    if chain is not None:
        query = query.where(t.c.chain == chain)
    if community is not None:
        query = query.where(t.c.communities.contains([community]))
    if supervisor is not None:
        query = query.where(t.c.supervisor_id == supervisor)
    return await paginate(
        session,
        query,
        [t.c.officer_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: officer_out(r, today),
    )


@router.get("/officers/{officer_id}")
async def get_officer(officer_id: str, session: SessionDep) -> OfficerOut:
    row = await store.officer_row(session, officer_id)
    if row is None:
        raise HTTPException(404, f"no officer {officer_id}")
    return officer_out(row, local_today())


@router.patch("/officers/{officer_id}")
async def change_officer(
    officer_id: str,
    patch: OfficerPatch,
    request: Request,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> OfficerOut:
    """Takes an officer off duty or back, sets their leave (the whole list), or their capacity;
    the next routing decision sees it. Publishes OfficerChanged when something changed."""
    values = patch.model_dump(mode="json", include=patch.model_fields_set)
    if "leave" in values:
        values["leave"] = sorted(values["leave"], key=lambda p: (p["start"], p["end"]))
    async with _changing(request) as uow:
        session = uow.session
        row = await store.change_officer(session, officer_id, values)
        if row is None:
            row = await store.officer_row(session, officer_id)
            if row is None:
                raise HTTPException(404, f"no officer {officer_id}")
        else:
            officer = store.officer_from_row(row)
            await _publish(uow, officer_changed(officer), x_correlation_id)
    return officer_out(row, local_today())


# --- enterprises ---------------------------------------------------------------------------


@router.get("/enterprises")
async def list_enterprises(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    chain: IndustryChain | None = None,
    community: str | None = None,
    cso: Annotated[str | None, Query(description="Assigned chief service officer's id")] = None,
) -> Page[EnterpriseOut]:
    t = store.enterprises
    query = select(t)
    if chain is not None:
        query = query.where(t.c.chain == chain)
    if community is not None:
        query = query.where(t.c.community == community)
    if cso is not None:
        query = query.where(t.c.cso_officer_id == cso)
    return await paginate(
        session,
        query,
        [t.c.credit_code],
        limit=limit,
        cursor=cursor,
        item=lambda r: EnterpriseOut.model_validate(r, from_attributes=True),
    )


async def _enterprise_row(session: AsyncSession, credit_code: str) -> Any | None:
    t = store.enterprises
    code = credit_code.strip().upper()
    return (await session.execute(select(t).where(t.c.credit_code == code))).first()


@router.get("/enterprises/{credit_code}")
async def get_enterprise(credit_code: str, session: SessionDep) -> EnterpriseOut:
    row = await _enterprise_row(session, credit_code)
    if row is None:
        raise HTTPException(404, f"no enterprise {credit_code}")
    return EnterpriseOut.model_validate(row, from_attributes=True)


@router.put("/enterprises/{credit_code}/cso")
async def assign_cso(
    credit_code: str,
    body: OfficerRef,
    request: Request,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> EnterpriseOut:
    """Assigns the enterprise to a chief service officer (挂点). Publishes EnterpriseChanged when
    the CSO changed. Appeals already assigned stay with whoever holds them."""
    async with _changing(request) as uow:
        session = uow.session
        enterprise = await _enterprise_row(session, credit_code)
        if enterprise is None:
            raise HTTPException(404, f"no enterprise {credit_code}")
        officer = await store.officer_row(session, body.officer_id)
        if officer is None:
            raise _invalid("officer_id", f"no officer {body.officer_id} in the directory")
        if officer.role != OfficerRole.CHIEF_SERVICE_OFFICER.value:
            raise _invalid(
                "officer_id",
                f"officer {body.officer_id} is a {officer.role}, not a chief_service_officer",
            )
        row = await store.change_enterprise(
            session, enterprise.credit_code, {"cso_officer_id": body.officer_id}
        )
        if row is None:
            row = enterprise
        else:
            event = enterprise_changed(store.enterprise_from_row(row))
            await _publish(uow, event, x_correlation_id)
    return EnterpriseOut.model_validate(row, from_attributes=True)


# --- departments ---------------------------------------------------------------------------


async def _department_officers(session: AsyncSession, ids: list[str]) -> dict[str, list[str]]:
    t = store.officers
    rows = await session.execute(
        select(t.c.department_id, t.c.officer_id)
        .where(t.c.department_id.in_(ids))
        .order_by(t.c.officer_id)
    )
    members: dict[str, list[str]] = {}
    for department_id, officer_id in rows:
        members.setdefault(department_id, []).append(officer_id)
    return members


@router.get("/departments")
async def list_departments(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    category: Annotated[Category | None, Query(description="Departments owning it")] = None,
) -> Page[DepartmentOut]:
    t = store.departments
    query = select(t)
    if category is not None:
        query = query.where(t.c.categories.contains([category.value]))
    page = await paginate(
        session, query, [t.c.department_id], limit=limit, cursor=cursor, item=lambda r: r
    )
    members = await _department_officers(session, [r.department_id for r in page.items])
    return Page(
        items=[
            DepartmentOut(
                **store.department_from_row(r).model_dump(),
                officer_ids=members.get(r.department_id, []),
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/departments/{department_id}")
async def get_department(department_id: str, session: SessionDep) -> DepartmentOut:
    t = store.departments
    row = (await session.execute(select(t).where(t.c.department_id == department_id))).first()
    if row is None:
        raise HTTPException(404, f"no department {department_id}")
    members = await _department_officers(session, [department_id])
    return DepartmentOut(
        **store.department_from_row(row).model_dump(),
        officer_ids=members.get(department_id, []),
    )


# --- communities ---------------------------------------------------------------------------


@router.get("/communities")
async def list_communities(session: SessionDep) -> Page[CommunityOut]:
    """Every community a community worker covers or an enterprise is registered in, with the
    workers who cover it (a community with enterprises and no worker shows an empty list).
    One page: communities are few."""
    o, e = store.officers, store.enterprises
    workers = await session.execute(
        select(o.c.officer_id, o.c.communities)
        .where(o.c.role == OfficerRole.COMMUNITY_WORKER.value)
        .order_by(o.c.officer_id)
    )
    worker_ids: dict[str, list[str]] = {}
    for officer_id, communities in workers:
        for community in communities or []:
            worker_ids.setdefault(community, []).append(officer_id)
    counted = await session.execute(select(e.c.community, func.count()).group_by(e.c.community))
    enterprises = {community: count for community, count in counted}
    return Page(
        items=[
            CommunityOut(
                community=name,
                worker_ids=worker_ids.get(name, []),
                enterprises=enterprises.get(name, 0),
            )
            for name in sorted(set(worker_ids) | set(enterprises))
        ]
    )


# --- duty posts ----------------------------------------------------------------------------


async def _duty(session: AsyncSession) -> list[DutyOut]:
    d, o = store.duty, store.officers
    rows = await session.execute(
        select(d.c.post, d.c.officer_id, o.c.name).outerjoin(o, o.c.officer_id == d.c.officer_id)
    )
    held = {post: (officer_id, name) for post, officer_id, name in rows}
    items: list[DutyOut] = []
    for post in DutyPost:
        officer_id, name = held.get(post.value, (None, None))
        items.append(DutyOut(post=post, officer_id=officer_id, officer_name=name))
    return items


@router.get("/duty")
async def list_duty(session: SessionDep) -> Page[DutyOut]:
    """Who holds each duty post: the dispatcher (rules on returns) and the duty supervisor
    (takes what no rule can route). Every post is listed, held or not."""
    return Page(items=await _duty(session))


@router.put("/duty/{post}")
async def set_duty(
    post: DutyPost,
    body: OfficerRef,
    request: Request,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> DutyOut:
    """Hands a duty post to an officer (any officer in the directory). Publishes DutyChanged
    when the holder changed."""
    async with _changing(request) as uow:
        session = uow.session
        officer = await store.officer_row(session, body.officer_id)
        if officer is None:
            raise _invalid("officer_id", f"no officer {body.officer_id} in the directory")
        if await store.set_duty(session, {post: body.officer_id}):
            event = duty_changed(post, body.officer_id)
            await _publish(uow, event, x_correlation_id)
    return DutyOut(post=post, officer_id=body.officer_id, officer_name=officer.name)
