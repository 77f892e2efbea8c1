"""Dispatch's HTTP API for the directory: officers, enterprises, departments, communities, duty
posts, and a roster imported from a file. Reading needs a valid sign-in token; changing needs the
`ops` or `supervisor` role. Each change commits with its event (OfficerChanged,
EnterpriseChanged, DepartmentChanged, DutyChanged on `directory.changes`) through the outbox, and
routing reads the tables it changed: the next routing decision sees it. A change that changes
nothing answers the same and publishes nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.dispatch import tables
from services.dispatch.directory import service, store
from services.dispatch.directory.load import RosterImport, import_lines, import_roster
from services.dispatch.directory.model import (
    MAX_CAPACITY,
    MAX_LEAVE_PERIODS,
    DutyPost,
    LeavePeriod,
    local_today,
    on_leave,
)
from services.dispatch.directory.service import DirectoryRefusal
from services.dispatch.roster import RosterUnreadable, SheetKind, open_roster
from shared.http import (
    MAX_BODY_BYTES,
    CorrelationId,
    Cursor,
    Limit,
    Message,
    Page,
    Problems,
    SessionDep,
    UnitsDep,
    refusal,
)
from shared.identity import Principal, Role, authenticated, require_roles
from shared.pagination import paginate
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

    # The schema says what `_something` checks: at least one field.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Defaults are not validated: a field left out is None, an explicit null is refused (and the
    # schema does not offer it), so the None defaults are deliberately outside the field types.
    on_duty: bool = Field(default=None)  # type: ignore[assignment]
    leave: list[LeavePeriod] = Field(default=None, max_length=MAX_LEAVE_PERIODS)  # type: ignore[arg-type]
    capacity: int = Field(default=None, ge=0, le=MAX_CAPACITY)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something(self) -> OfficerPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of on_duty, leave, capacity")
        return self


class OfficerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(min_length=1, max_length=64)


class RosterSheetOut(BaseModel):
    name: str
    kind: SheetKind
    header_row: int  # as Excel numbers it
    rows: int  # non-blank data rows
    ignored_columns: list[str]  # headers no column of the directory is read from


class RosterRowErrorOut(BaseModel):
    sheet: str
    row: int  # as Excel numbers it: the header is row 1 unless a title sits above it
    field: str | None  # the directory's field, null when the whole row is concerned
    value: str | None  # the cell as written
    message: str  # 'row 6: 手机 (phone) "1380013800" is not a mobile number (…)'


class DirectoryCounts(BaseModel):
    officers: int
    enterprises: int
    departments: int
    duty: int


class RosterImportOut(BaseModel):
    """The report `jiban directory import` prints, as data: each sheet, each rejected row with
    its row number, field and reason, the good rows, and what changed (null when nothing was
    applied: `strict` with a bad row, or no good row). `summary` is the CLI's text."""

    source: str
    strict: bool
    dry_run: bool
    committed: bool
    rows_read: int
    rows_rejected: int
    sheets: list[RosterSheetOut]
    skipped_sheets: list[str]
    errors: list[RosterRowErrorOut]
    good: DirectoryCounts
    changed: DirectoryCounts | None
    summary: list[str]


def roster_import_out(outcome: RosterImport, *, strict: bool, dry_run: bool) -> RosterImportOut:
    report, changes = outcome.report, outcome.changes
    return RosterImportOut(
        source=report.source,
        strict=strict,
        dry_run=dry_run,
        committed=outcome.committed,
        rows_read=report.rows_read,
        rows_rejected=report.rows_rejected,
        sheets=[
            RosterSheetOut(
                name=sheet.name,
                kind=sheet.kind,
                header_row=sheet.header_row,
                rows=sheet.rows,
                ignored_columns=list(sheet.ignored_columns),
            )
            for sheet in report.sheets
        ],
        skipped_sheets=report.skipped_sheets,
        errors=[
            RosterRowErrorOut(
                sheet=e.sheet, row=e.row_number, field=e.field, value=e.value, message=e.message
            )
            for e in report.errors
        ],
        good=DirectoryCounts(
            officers=len(report.officers),
            enterprises=len(report.enterprises),
            departments=len(report.departments),
            duty=len(report.duty),
        ),
        changed=None
        if changes is None
        else DirectoryCounts(
            officers=changes.officers_changed,
            enterprises=changes.enterprises_changed,
            departments=changes.departments_changed,
            duty=changes.duty_changed,
        ),
        summary=import_lines(outcome, strict=strict, dry_run=dry_run),
    )


# What a route on one officer, enterprise or department answers when there is none.
NOT_IN_DIRECTORY: dict[int | str, dict[str, Any]] = {404: refusal("Not in the directory")}


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


def department_out(row: Any, members: dict[str, list[str]]) -> DepartmentOut:
    return DepartmentOut(
        **store.department_from_row(row).model_dump(),
        officer_ids=members.get(row.department_id, []),
    )


async def refused(_request: Request, error: Exception) -> JSONResponse:
    """The app's handler for DirectoryRefusal: 404 for what is not there, 422 naming the field."""
    assert isinstance(error, DirectoryRefusal)
    if error.field is None:
        return JSONResponse(status_code=404, content={"detail": str(error)})
    return JSONResponse(
        status_code=422,
        content={
            "detail": [{"loc": ["body", error.field], "msg": str(error), "type": "value_error"}]
        },
    )


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
    today = local_today()
    wanted = store.OfficerFilter(
        role, unit, on_duty, on_leave, department, chain, community, supervisor
    )
    return await paginate(
        session,
        store.officers_query(wanted, today),
        [tables.officers.c.officer_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: officer_out(r, today),
    )


@router.get("/officers/{officer_id}", responses=NOT_IN_DIRECTORY)
async def get_officer(officer_id: str, session: SessionDep) -> OfficerOut:
    row = await store.officer_row(session, officer_id)
    if row is None:
        raise HTTPException(404, f"no officer {officer_id}")
    return officer_out(row, local_today())


@router.patch("/officers/{officer_id}", responses=NOT_IN_DIRECTORY)
async def change_officer(
    officer_id: str,
    patch: OfficerPatch,
    units: UnitsDep,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> OfficerOut:
    """Takes an officer off duty or back, sets their leave (the whole list), or their capacity;
    the next routing decision sees it. Publishes OfficerChanged when something changed."""
    values = patch.model_dump(mode="json", include=patch.model_fields_set)
    async with units.begin() as uow:
        row = await service.change_officer(uow, officer_id, values, x_correlation_id)
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
    return await paginate(
        session,
        store.enterprises_query(chain=chain, community=community, cso=cso),
        [tables.enterprises.c.credit_code],
        limit=limit,
        cursor=cursor,
        item=lambda r: EnterpriseOut.model_validate(r, from_attributes=True),
    )


@router.get("/enterprises/{credit_code}", responses=NOT_IN_DIRECTORY)
async def get_enterprise(credit_code: str, session: SessionDep) -> EnterpriseOut:
    row = await store.enterprise_row(session, credit_code)
    if row is None:
        raise HTTPException(404, f"no enterprise {credit_code}")
    return EnterpriseOut.model_validate(row, from_attributes=True)


@router.put("/enterprises/{credit_code}/cso", responses=NOT_IN_DIRECTORY)
async def assign_cso(
    credit_code: str,
    body: OfficerRef,
    units: UnitsDep,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> EnterpriseOut:
    """Assigns the enterprise to a chief service officer (挂点). Publishes EnterpriseChanged when
    the CSO changed. Appeals already assigned stay with whoever holds them."""
    async with units.begin() as uow:
        row = await service.assign_cso(uow, credit_code, body.officer_id, x_correlation_id)
    return EnterpriseOut.model_validate(row, from_attributes=True)


# --- departments ---------------------------------------------------------------------------


@router.get("/departments")
async def list_departments(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    category: Annotated[Category | None, Query(description="Departments owning it")] = None,
) -> Page[DepartmentOut]:
    page = await paginate(
        session,
        store.departments_query(category),
        [tables.departments.c.department_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: r,
    )
    members = await store.department_members(session, [r.department_id for r in page.items])
    return Page(
        items=[department_out(r, members) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/departments/{department_id}", responses=NOT_IN_DIRECTORY)
async def get_department(department_id: str, session: SessionDep) -> DepartmentOut:
    row = await store.department_row(session, department_id)
    if row is None:
        raise HTTPException(404, f"no department {department_id}")
    return department_out(row, await store.department_members(session, [department_id]))


# --- communities ---------------------------------------------------------------------------


@router.get("/communities")
async def list_communities(session: SessionDep) -> Page[CommunityOut]:
    """Every community a community worker covers or an enterprise is registered in, with the
    workers who cover it (a community with enterprises and no worker shows an empty list).
    One page: communities are few."""
    return Page(
        items=[
            CommunityOut(community=c.name, worker_ids=c.worker_ids, enterprises=c.enterprises)
            for c in await store.communities(session)
        ]
    )


# --- duty posts ----------------------------------------------------------------------------


@router.get("/duty")
async def list_duty(session: SessionDep) -> Page[DutyOut]:
    """Who holds each duty post: the dispatcher (rules on returns) and the duty supervisor
    (takes what no rule can route). Every post is listed, held or not."""
    held = await store.duty_holders(session)
    items: list[DutyOut] = []
    for post in DutyPost:
        officer_id, name = held.get(post, (None, None))
        items.append(DutyOut(post=post, officer_id=officer_id, officer_name=name))
    return Page(items=items)


@router.put("/duty/{post}")
async def set_duty(
    post: DutyPost,
    body: OfficerRef,
    units: UnitsDep,
    _editor: Editor,
    x_correlation_id: CorrelationId = None,
) -> DutyOut:
    """Hands a duty post to an officer (any officer in the directory). Publishes DutyChanged
    when the holder changed."""
    async with units.begin() as uow:
        name = await service.hand_duty(uow, post, body.officer_id, x_correlation_id)
    return DutyOut(post=post, officer_id=body.officer_id, officer_name=name)


# --- rosters -------------------------------------------------------------------------------

ROSTER_REFUSALS: dict[int | str, dict[str, Any]] = {
    # Starlette's multipart parser answers a body that is not multipart form data itself.
    400: refusal("The body is not multipart form data", Message),
    413: refusal(f"The file is larger than {MAX_BODY_BYTES} bytes", Message),
    422: refusal("The file cannot be read as a roster (`loc` names the file)", Problems),
}


@router.post("/directory/roster", responses=ROSTER_REFUSALS)
async def import_roster_file(
    file: Annotated[
        UploadFile, File(description="The roster: .xlsx, or CSV in UTF-8, UTF-16 or GBK")
    ],
    units: UnitsDep,
    _editor: Editor,
    strict: Annotated[bool, Query(description="Import nothing if any row is bad")] = False,
    dry_run: Annotated[
        bool, Query(description="Check and count what would change; commit nothing")
    ] = False,
) -> RosterImportOut:
    """Imports officers, enterprises, departments and duty posts from a roster, as `jiban
    directory import` does: rows not in the file stay, bad rows are reported one by one (row
    number, field, reason) and the good ones upserted in one transaction, each new or changed
    row with its event. A file that is not a roster at all is 422 naming it."""
    data = await file.read()
    name = file.filename or "roster"
    try:
        # Parsing a workbook is CPU work: off the event loop, like checking the rows.
        roster = await asyncio.to_thread(open_roster, data, name=name)
        outcome = await import_roster(units, roster, strict=strict, dry_run=dry_run)
    except RosterUnreadable as exc:
        problem = {"loc": ["body", "file"], "msg": str(exc), "type": "value_error"}
        raise RequestValidationError([problem]) from None
    return roster_import_out(outcome, strict=strict, dry_run=dry_run)
