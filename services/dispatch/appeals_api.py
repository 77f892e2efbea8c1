"""Dispatch's HTTP API for appeals: who owns one and why, and the decisions that move it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.dispatch import store
from shared.http import SessionDep

router = APIRouter(prefix="/v1", tags=["assignments"])


class AssignmentOut(BaseModel):
    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    assigned_at: datetime
    open: bool


@router.get("/assignments/{appeal_id}")
async def get_assignment(appeal_id: UUID, session: SessionDep) -> AssignmentOut:
    """Who an appeal was routed to, and why."""
    row = await store.assignment_of(session, appeal_id)
    if row is None:
        raise HTTPException(404, f"appeal {appeal_id} has not been assigned")
    return AssignmentOut.model_validate(row, from_attributes=True)
