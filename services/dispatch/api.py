"""Dispatch's HTTP API: reading the directory and the assignments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.dispatch import store
from shared.http import Cursor, Limit, Page, SessionDep, decode_cursor, encode_cursor
from shared.vocabulary import Category, IndustryChain, OfficerRole

router = APIRouter(prefix="/v1", tags=["directory"])


class OfficerOut(BaseModel):
    officer_id: str
    name: str
    role: OfficerRole
    unit: str
    on_duty: bool
    capacity: int
    open_assignments: int
    categories: list[Category]
    communities: list[str]
    supervisor_id: str | None
    paired_officer_id: str | None


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    chain: IndustryChain
    community: str
    cso_officer_id: str | None


class AssignmentOut(BaseModel):
    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    assigned_at: datetime
    open: bool


@router.get("/officers")
async def list_officers(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    role: OfficerRole | None = None,
    unit: str | None = None,
    on_duty: bool | None = None,
) -> Page[OfficerOut]:
    t = store.officers
    query = select(t).order_by(t.c.officer_id).limit(limit + 1)
    if role is not None:
        query = query.where(t.c.role == role)
    if unit is not None:
        query = query.where(t.c.unit == unit)
    if on_duty is not None:
        query = query.where(t.c.on_duty == on_duty)
    if cursor is not None:
        query = query.where(t.c.officer_id > str(decode_cursor(cursor)[0]))
    rows = (await session.execute(query)).all()
    items = [OfficerOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor([items[-1].officer_id]) if more else None)


@router.get("/officers/{officer_id}")
async def get_officer(officer_id: str, session: SessionDep) -> OfficerOut:
    row = (
        await session.execute(
            select(store.officers).where(store.officers.c.officer_id == officer_id)
        )
    ).first()
    if row is None:
        raise HTTPException(404, f"no officer {officer_id}")
    return OfficerOut.model_validate(row, from_attributes=True)


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
    query = select(t).order_by(t.c.credit_code).limit(limit + 1)
    if chain is not None:
        query = query.where(t.c.chain == chain)
    if community is not None:
        query = query.where(t.c.community == community)
    if cso is not None:
        query = query.where(t.c.cso_officer_id == cso)
    if cursor is not None:
        query = query.where(t.c.credit_code > str(decode_cursor(cursor)[0]))
    rows = (await session.execute(query)).all()
    items = [EnterpriseOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor([items[-1].credit_code]) if more else None)


@router.get("/enterprises/{credit_code}")
async def get_enterprise(credit_code: str, session: SessionDep) -> EnterpriseOut:
    t = store.enterprises
    row = (await session.execute(select(t).where(t.c.credit_code == credit_code.upper()))).first()
    if row is None:
        raise HTTPException(404, f"no enterprise {credit_code}")
    return EnterpriseOut.model_validate(row, from_attributes=True)


@router.get("/assignments/{appeal_id}", tags=["assignments"])
async def get_assignment(appeal_id: UUID, session: SessionDep) -> AssignmentOut:
    """Who an appeal was routed to, and why."""
    row = await store.assignment_of(session, appeal_id)
    if row is None:
        raise HTTPException(404, f"appeal {appeal_id} has not been assigned")
    return AssignmentOut.model_validate(row, from_attributes=True)
