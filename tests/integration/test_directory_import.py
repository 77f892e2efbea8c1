"""`jiban directory import`: rosters into dispatch's migrated tables, in one transaction."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from jiban.directory_import import ProgressBar, format_result, import_roster, run_import
from services.dispatch import tables
from services.dispatch.directory import Department, Directory, DutyPost, Officer
from services.dispatch.directory.load import DirectoryReferenceError, load_directory
from shared.credit_code import complete
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork

pytestmark = pytest.mark.integration

OFFICER_HEADER = ["工号", "姓名", "手机", "邮箱", "角色", "单位", "在岗", "负责类别", "社区"]
OFFICER_HEADER += ["上级", "搭档"]
ENTERPRISE_HEADER = ["统一社会信用代码", "企业名称", "产业链", "社区", "挂点首席服务官"]
CODE_A = complete("91441200MA4UAAAA1")
CODE_B = complete("91441200MA4UBBBB2")


def officer(officer_id: str, phone: str, role: str, supervisor: str = "", paired: str = "") -> list:
    email = f"{officer_id}@jiban.example"
    unit = "首席服务官办公室"
    return [officer_id, "陈伟", phone, email, role, unit, "是", "", "大旺社区", supervisor, paired]


GOOD_OFFICERS = [
    officer("sup-1", "13900139000", "主管"),
    officer("cso-001", "13900139001", "首席服务官", "sup-1", "pba-001"),
    officer("pba-001", "13900139002", "党建助手", "sup-1", "cso-001"),
    officer("cw-1", "13900139003", "社区工作人员", "sup-1"),
]
BAD_OFFICER = officer("cw-2", "1380013800", "社区工作人员", "sup-1")  # 10 digits
GOOD_ENTERPRISE = [CODE_A, "肇庆鹏华汽车零部件有限公司", "新能源汽车", "大旺社区", "cso-001"]
BAD_ENTERPRISE = [CODE_B[:-1] + "X", "肇庆宏宇食品有限公司", "食品饮料", "迳口社区", "cso-001"]


def roster(path: Path, officers: list[list], enterprises: list[list]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in (
        ("人员", OFFICER_HEADER, officers),
        ("企业", ENTERPRISE_HEADER, enterprises),
    ):
        sheet = workbook.create_sheet(title)
        for row in [header, *rows]:
            sheet.append(row)
    workbook.save(path)
    return path


async def counts(settings: Settings) -> dict[str, Any]:
    db = Database(settings)
    try:
        async with db.transaction() as session:

            async def count(table: Any, *where: Any) -> int:
                stmt = select(func.count()).select_from(table)
                return int((await session.execute(stmt.where(*where))).scalar_one())

            event = tables.outbox.c.headers["x-event-type"].astext
            return {
                "officers": await count(tables.officers),
                "enterprises": await count(tables.enterprises),
                "OfficerChanged": await count(tables.outbox, event == "OfficerChanged"),
                "EnterpriseChanged": await count(tables.outbox, event == "EnterpriseChanged"),
            }
    finally:
        await db.dispose()


async def test_good_rows_imported_bad_rows_reported(settings: Settings, tmp_path: Path) -> None:
    path = roster(
        tmp_path / "名册.xlsx", [*GOOD_OFFICERS, BAD_OFFICER], [GOOD_ENTERPRISE, BAD_ENTERPRISE]
    )
    out, err = io.StringIO(), io.StringIO()
    # The CLI entry runs its own event loop, so it runs in a thread here.
    code = await asyncio.to_thread(run_import, settings, path, out=out, err=err)
    assert code == 1
    text = out.getvalue()
    assert '人员: row 6: 手机 (phone) "1380013800" is not a mobile number' in text
    assert "企业: row 3: 统一社会信用代码 (credit_code)" in text
    assert "2 of 7 rows rejected" in text
    assert (
        "imported 4 officers and 1 enterprise: 4 officers and 1 enterprise new or changed" in text
    )
    assert await counts(settings) == {
        "officers": 4,
        "enterprises": 1,
        "OfficerChanged": 4,
        "EnterpriseChanged": 1,
    }
    db = Database(settings)
    try:
        async with db.transaction() as session:
            cso = (
                await session.execute(
                    select(tables.officers).where(tables.officers.c.officer_id == "cso-001")
                )
            ).one()
    finally:
        await db.dispose()
    assert (cso.role, cso.paired_officer_id, cso.capacity) == (
        "chief_service_officer",
        "pba-001",
        30,
    )


async def test_strict_commits_nothing_when_a_row_is_bad(settings: Settings, tmp_path: Path) -> None:
    path = roster(tmp_path / "r.xlsx", [*GOOD_OFFICERS, BAD_OFFICER], [GOOD_ENTERPRISE])
    result = await import_roster(settings, path, strict=True)
    assert (result.exit_code, result.committed, result.changes) == (1, False, None)
    assert result.report is not None and result.report.rows_rejected == 1
    assert await counts(settings) == dict.fromkeys(
        ("officers", "enterprises", "OfficerChanged", "EnterpriseChanged"), 0
    )

    good = roster(tmp_path / "good.xlsx", GOOD_OFFICERS, [GOOD_ENTERPRISE])
    result = await import_roster(settings, good, strict=True)
    assert (result.exit_code, result.committed) == (0, True)
    assert (await counts(settings))["officers"] == 4


async def test_importing_twice_changes_nothing_the_second_time(
    settings: Settings, tmp_path: Path
) -> None:
    path = roster(tmp_path / "r.xlsx", [*GOOD_OFFICERS, BAD_OFFICER], [GOOD_ENTERPRISE])
    first = await import_roster(settings, path)
    assert first.changes is not None and first.changes.officers_changed == 4
    after_first = await counts(settings)

    second = await import_roster(settings, path)
    assert second.exit_code == 1 and second.committed  # the bad row is still reported
    assert second.changes is not None
    assert (second.changes.officers_changed, second.changes.enterprises_changed) == (0, 0)
    assert await counts(settings) == after_first, "no new rows, no new events"

    # One changed cell: one officer changed, one event.
    edited = [*GOOD_OFFICERS[:3], officer("cw-1", "13900139999", "社区工作人员", "sup-1")]
    third = await import_roster(settings, roster(tmp_path / "r2.xlsx", edited, [GOOD_ENTERPRISE]))
    assert third.exit_code == 0 and third.changes is not None
    assert (third.changes.officers_changed, third.changes.enterprises_changed) == (1, 0)
    assert (await counts(settings))["OfficerChanged"] == after_first["OfficerChanged"] + 1


async def test_references_may_name_officers_already_in_the_directory(
    settings: Settings, tmp_path: Path
) -> None:
    await import_roster(settings, roster(tmp_path / "a.xlsx", GOOD_OFFICERS[:1], []))
    # Only the worker: its supervisor sup-1 is known from the database, cso-404 is not.
    rows = [officer("cw-9", "13900139009", "社区工作人员", "sup-1")]
    rows.append(officer("cw-10", "13900139010", "社区工作人员", "cso-404"))
    result = await import_roster(settings, roster(tmp_path / "b.xlsx", rows, []))
    assert result.report is not None
    assert [(e.row_number, e.field) for e in result.report.errors] == [(3, "supervisor_id")]
    assert (await counts(settings))["officers"] == 2


async def test_dry_run_reports_and_rolls_back(settings: Settings, tmp_path: Path) -> None:
    path = roster(tmp_path / "r.xlsx", GOOD_OFFICERS, [GOOD_ENTERPRISE])
    result = await import_roster(settings, path, dry_run=True)
    assert result.exit_code == 0 and not result.committed
    assert result.changes is not None and result.changes.officers_changed == 4
    assert await counts(settings) == dict.fromkeys(
        ("officers", "enterprises", "OfficerChanged", "EnterpriseChanged"), 0
    )


async def test_a_large_csv_in_batches_with_a_progress_bar(
    settings: Settings, tmp_path: Path
) -> None:
    # More rows than one statement may carry parameters for (15 per officer, 32,767 at most).
    count = 3000
    rows = [OFFICER_HEADER, GOOD_OFFICERS[0]]
    rows += [officer(f"cw-{n}", f"138{n:08d}", "社区工作人员", "sup-1") for n in range(count)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = tmp_path / "big.csv"
    path.write_bytes(buffer.getvalue().encode("gbk"))
    stderr = io.StringIO()
    result = await import_roster(settings, path, progress=ProgressBar(stderr, enabled=True))
    assert result.exit_code == 0 and result.changes is not None
    assert result.changes.officers_changed == count + 1
    assert (await counts(settings))["OfficerChanged"] == count + 1
    drawn = stderr.getvalue()
    assert "\rimporting [" in drawn and f"{count + 1}/{count + 1}" in drawn


async def test_unreadable_file_exits_2(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    result = await import_roster(settings, path)
    assert result.exit_code == 2 and result.problem is not None and ".xlsx" in result.problem


async def test_a_column_left_out_keeps_what_the_directory_has(
    settings: Settings, tmp_path: Path
) -> None:
    full = [*GOOD_OFFICERS[:3], officer("cw-1", "13900139003", "社区工作人员", "sup-1")]
    full_header = [*OFFICER_HEADER, "容量"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "人员"
    for row in [full_header, *[[*r, 200 if r[0] == "cw-1" else 30] for r in full]]:
        sheet.append(row)
    enterprises = workbook.create_sheet("企业")
    for row in [ENTERPRISE_HEADER, GOOD_ENTERPRISE]:
        enterprises.append(row)
    workbook.save(tmp_path / "full.xlsx")
    assert (await import_roster(settings, tmp_path / "full.xlsx")).exit_code == 0

    # A later list without the capacity and CSO columns, and one enterprise renamed.
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "企业"
    sheet.append(ENTERPRISE_HEADER[:4])
    sheet.append([*GOOD_ENTERPRISE[:1], "肇庆鹏华新能源科技有限公司", *GOOD_ENTERPRISE[2:4]])
    officers = workbook.create_sheet("人员")
    for row in [OFFICER_HEADER, *full]:
        officers.append(row)
    workbook.save(tmp_path / "partial.xlsx")
    result = await import_roster(settings, tmp_path / "partial.xlsx")
    assert result.exit_code == 0 and result.changes is not None
    assert (result.changes.officers_changed, result.changes.enterprises_changed) == (0, 1)

    db = Database(settings)
    try:
        async with db.transaction() as session:
            enterprise = (await session.execute(select(tables.enterprises))).one()
            capacity = (
                await session.execute(
                    select(tables.officers.c.capacity).where(tables.officers.c.officer_id == "cw-1")
                )
            ).scalar_one()
    finally:
        await db.dispose()
    assert enterprise.name == "肇庆鹏华新能源科技有限公司"
    assert enterprise.cso_officer_id == "cso-001", "no CSO column: the assignment stays"
    assert capacity == 200, "no capacity column: the capacity stays"


# --- leave, departments, service teams, duty posts ----------------------------------------------

TEAM_HEADER = [*OFFICER_HEADER, "休假", "部门编号", "产业链专班"]
DEPARTMENT_HEADER = ["部门编号", "部门名称", "负责类别", "分管领导"]
DUTY_HEADER = ["值班岗位", "工号"]


def team_officer(*cells: str, leave: str = "", dept: str = "", team: str = "") -> list:
    return [*officer(*cells), leave, dept, team]


TEAM_OFFICERS = [
    team_officer("sup-1", "13900139000", "主管"),
    team_officer("cso-001", "13900139001", "首席服务官", "sup-1", "pba-001", team="新能源汽车专班"),
    team_officer("pba-001", "13900139002", "党建助手", "sup-1", "cso-001"),
    team_officer(
        "dept-hrss-1",
        "13900139003",
        "部门工作人员",
        "sup-1",
        leave="2026-12-01~2026-12-05; 2027-01-10（调休）",
        dept="hrss",
    ),
]
DEPARTMENT_ROWS = [["hrss", "人社局", "用工招聘", "sup-1"], ["gsc", "行政服务中心", "审批许可", ""]]
DUTY_ROWS = [["值班调度员", "dept-hrss-1"], ["值班领导", "sup-1"]]


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def full_roster(path: Path, *, departments: list[list] = DEPARTMENT_ROWS, duty=DUTY_ROWS) -> Path:
    return workbook(
        path,
        {
            "人员": [TEAM_HEADER, *TEAM_OFFICERS],
            "部门": [DEPARTMENT_HEADER, *departments],
            "值班": [DUTY_HEADER, *duty],
        },
    )


async def directory_state(settings: Settings) -> dict[str, Any]:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            event = tables.outbox.c.headers["x-event-type"].astext

            async def events(kind: str) -> int:
                stmt = select(func.count()).select_from(tables.outbox).where(event == kind)
                return int((await session.execute(stmt)).scalar_one())

            officers = {
                r.officer_id: r for r in (await session.execute(select(tables.officers))).all()
            }
            departments = {
                r.department_id: r
                for r in (await session.execute(select(tables.departments))).all()
            }
            duty = dict(
                (await session.execute(select(tables.duty.c.post, tables.duty.c.officer_id))).all()
            )
            return {
                "officers": officers,
                "departments": departments,
                "duty": duty,
                "DepartmentChanged": await events("DepartmentChanged"),
                "DutyChanged": await events("DutyChanged"),
                "OfficerChanged": await events("OfficerChanged"),
            }
    finally:
        await db.dispose()


async def test_departments_duty_leave_and_teams(settings: Settings, tmp_path: Path) -> None:
    path = full_roster(tmp_path / "full.xlsx")
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_import, settings, path, out=out, err=err)
    assert code == 0, out.getvalue()
    text = out.getvalue()
    assert "部门: 2 rows of departments (header: row 1)" in text
    assert "值班: 2 rows of duty (header: row 1)" in text
    assert (
        "imported 4 officers, 0 enterprises, 2 departments and 2 duty posts: "
        "4 officers, 0 enterprises, 2 departments and 2 duty posts new or changed"
    ) in text

    state = await directory_state(settings)
    assert set(state["departments"]) == {"hrss", "gsc"}
    hrss = state["departments"]["hrss"]
    assert (hrss.name, hrss.categories, hrss.supervisor_id) == ("人社局", ["employment"], "sup-1")
    assert state["departments"]["gsc"].supervisor_id is None
    assert state["duty"] == {"dispatcher": "dept-hrss-1", "supervisor": "sup-1"}
    officer = state["officers"]["dept-hrss-1"]
    assert officer.department_id == "hrss"
    assert officer.leave == [
        {"start": "2026-12-01", "end": "2026-12-05", "note": ""},
        {"start": "2027-01-10", "end": "2027-01-10", "note": "调休"},
    ]
    assert state["officers"]["cso-001"].chain == "nev"
    assert (state["DepartmentChanged"], state["DutyChanged"], state["OfficerChanged"]) == (2, 2, 4)

    # Again: nothing changes, nothing is published.
    again = await import_roster(settings, path)
    assert again.exit_code == 0 and again.changes is not None
    assert again.changes == type(again.changes)(0, 0, 0, 0)
    # The duty post handed over and one department renamed: one event each.
    edited = full_roster(
        tmp_path / "edited.xlsx",
        departments=[["hrss", "人力资源和社会保障局", "用工招聘", "sup-1"], DEPARTMENT_ROWS[1]],
        duty=[["dispatcher", "sup-1"], DUTY_ROWS[1]],
    )
    third = await import_roster(settings, edited)
    assert third.changes is not None
    assert (third.changes.departments_changed, third.changes.duty_changed) == (1, 1)
    state = await directory_state(settings)
    assert state["duty"]["dispatcher"] == "sup-1"
    assert (state["DepartmentChanged"], state["DutyChanged"]) == (3, 3)


async def test_strict_commits_no_department_or_duty_when_one_row_is_bad(
    settings: Settings, tmp_path: Path
) -> None:
    bad_department = ["econ", "经济发展局", "招商引资", ""]  # not a category
    path = full_roster(tmp_path / "r.xlsx", departments=[*DEPARTMENT_ROWS, bad_department])
    result = await import_roster(settings, path, strict=True)
    assert (result.exit_code, result.committed, result.changes) == (1, False, None)
    assert result.report is not None
    (error,) = result.report.errors
    assert (error.sheet, error.row_number, error.field) == ("部门", 4, "categories")
    state = await directory_state(settings)
    assert (state["officers"], state["departments"], state["duty"]) == ({}, {}, {})
    assert state["DepartmentChanged"] == state["DutyChanged"] == 0
    text = format_result(result, strict=True)
    assert (
        "--strict: nothing imported "
        "(4 officers, 0 enterprises, 2 departments and 2 duty posts were good)"
    ) in text

    # Without --strict the good rows go in and the bad one is reported.
    result = await import_roster(settings, path)
    assert (result.exit_code, result.committed) == (1, True)
    state = await directory_state(settings)
    assert set(state["departments"]) == {"hrss", "gsc"} and len(state["duty"]) == 2


async def test_a_bad_duty_row_and_a_department_already_in_the_directory(
    settings: Settings, tmp_path: Path
) -> None:
    first = full_roster(tmp_path / "first.xlsx")
    assert (await import_roster(settings, first)).exit_code == 0

    # Officers alone may name departments the directory already holds; a duty row naming
    # nobody known is rejected, the other one goes in.
    later = workbook(
        tmp_path / "later.xlsx",
        {
            "人员": [
                TEAM_HEADER,
                team_officer("dept-gsc-1", "13900139009", "部门工作人员", "sup-1", dept="gsc"),
            ],
            "值班": [DUTY_HEADER, ["值班调度员", "dept-gsc-1"], ["值班领导", "sup-404"]],
        },
    )
    result = await import_roster(settings, later)
    assert result.exit_code == 1 and result.report is not None
    assert [(e.sheet, e.row_number, e.field) for e in result.report.errors] == [
        ("值班", 3, "officer_id")
    ]
    state = await directory_state(settings)
    assert state["officers"]["dept-gsc-1"].department_id == "gsc"
    assert state["duty"] == {"dispatcher": "dept-gsc-1", "supervisor": "sup-1"}
    # The leave, department and team columns absent from an older roster keep what is there.
    older = roster(
        tmp_path / "older.xlsx",
        [officer("dept-hrss-1", "13900139003", "部门工作人员", "sup-1")],
        [],
    )
    assert (await import_roster(settings, older)).exit_code == 0
    kept = (await directory_state(settings))["officers"]["dept-hrss-1"]
    assert kept.department_id == "hrss" and len(kept.leave) == 2


async def test_a_directory_naming_unknown_departments_or_officers_is_refused(
    settings: Settings,
) -> None:
    def person(officer_id: str, **fields: Any) -> Officer:
        return Officer(
            officer_id=officer_id,
            name="陈伟",
            phone="13800138000",
            email=f"{officer_id}@jiban.example",
            role="department_officer",
            unit="人社局",
            **fields,
        )

    broken = Directory(
        officers=[person("dept-1", department_id="hrss"), person("dept-2", department_id="nr")],
        enterprises=[],
        departments=[Department(department_id="gsc", name="行政服务中心", supervisor_id="sup-9")],
        duty={DutyPost.DISPATCHER: "nobody"},
    )
    db = Database(settings)
    try:
        with pytest.raises(DirectoryReferenceError) as raised:
            await load_directory(UnitsOfWork.of(db, tables.metadata, producer="dispatch"), broken)
        message = str(raised.value)
        assert "department 'hrss' (named by dept-1) is not in the directory" in message
        assert "department 'nr' (named by dept-2)" in message
        assert "officer 'nobody' (named by duty post dispatcher)" in message
        assert "officer 'sup-9' (named by department gsc)" in message
        assert (await directory_state(settings))["officers"] == {}, "nothing was written"

        # What the tables already hold may be named.
        fixed = Directory(
            officers=[person("sup-9"), person("nobody")],
            enterprises=[],
            departments=[Department(department_id="hrss", name="人社局")],
        )
        await load_directory(UnitsOfWork.of(db, tables.metadata, producer="dispatch"), fixed)
        later = Directory(
            officers=[person("dept-1", department_id="hrss")],
            enterprises=[],
            departments=[
                Department(department_id="gsc", name="行政服务中心", supervisor_id="sup-9")
            ],
            duty={DutyPost.DISPATCHER: "nobody"},
        )
        report = await load_directory(
            UnitsOfWork.of(db, tables.metadata, producer="dispatch"), later
        )
        assert (report.officers_changed, report.departments_changed, report.duty_changed) == (
            1,
            1,
            1,
        )
    finally:
        await db.dispose()
