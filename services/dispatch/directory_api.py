"""Dispatch's HTTP API for the directory: officers, enterprises, departments, duty posts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.dispatch import store
from shared.http import Cursor, Limit, Page, SessionDep
from shared.pagination import paginate
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
    query = select(t)
    if role is not None:
        query = query.where(t.c.role == role)
    if unit is not None:
        query = query.where(t.c.unit == unit)
    if on_duty is not None:
        query = query.where(t.c.on_duty == on_duty)
    return await paginate(
        session,
        query,
        [t.c.officer_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: OfficerOut.model_validate(r, from_attributes=True),
    )


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


@router.get("/enterprises/{credit_code}")
async def get_enterprise(credit_code: str, session: SessionDep) -> EnterpriseOut:
    t = store.enterprises
    row = (await session.execute(select(t).where(t.c.credit_code == credit_code.upper()))).first()
    if row is None:
        raise HTTPException(404, f"no enterprise {credit_code}")
    return EnterpriseOut.model_validate(row, from_attributes=True)
