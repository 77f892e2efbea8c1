"""Rosters read from real files written here: XLSX (openpyxl), CSV in UTF-8 with BOM and GBK."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from jiban.cli import main
from services.dispatch import tables
from services.dispatch.directory import DutyPost, LeavePeriod
from services.dispatch.roster import (
    MAX_LENGTHS,
    RosterUnreadable,
    SheetKind,
    read_roster,
)
from shared.credit_code import complete
from shared.vocabulary import Category, IndustryChain, OfficerRole

ZH_OFFICERS = ["工号", "姓名", "手机", "邮箱", "角色", "单位", "在岗", "容量", "负责类别", "社区"]
ZH_OFFICERS += ["上级", "搭档"]
EN_OFFICERS = ["officer_id", "name", "phone", "email", "role", "unit", "on_duty", "capacity"]
EN_OFFICERS += ["categories", "communities", "supervisor_id", "paired_officer_id"]
ZH_ENTERPRISES = ["统一社会信用代码", "企业名称", "产业链", "社区", "挂点首席服务官"]

CODE_A = complete("91441200MA4UAAAA1")
CODE_B = complete("91441200MA4UBBBB2")
CODE_C = complete("91441200MA4UCCCC3")


def officer(
    officer_id: str,
    phone: str = "13800138000",
    role: str = "社区工作人员",
    *,
    supervisor: str = "sup-1",
    paired: str = "",
    name: str = "陈伟",
    on_duty: str = "是",
    capacity: str = "30",
    categories: str = "",
    communities: str = "大旺社区",
) -> list[str]:
    return [
        officer_id,
        name,
        phone,
        f"{officer_id}@jiban.example",
        role,
        "社会事务局",
        on_duty,
        capacity,
        categories,
        communities,
        supervisor,
        paired,
    ]


SUPERVISOR = officer("sup-1", "13900139000", "主管", supervisor="")


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def messages(report: Any) -> list[str]:
    return [error.message for error in report.errors]


# --- headers, encodings, normalisation ----------------------------------------------------------


def test_chinese_headers_in_xlsx_with_full_width_digits_and_labels(tmp_path: Path) -> None:
    rows = [
        ZH_OFFICERS,
        SUPERVISOR,
        officer(
            "ｃｗ－１",  # full-width id
            "１３８ ００１３ ８００１",
            "社区工作人员",
            on_duty="否",
            capacity="２０",
            categories="排水道路、生态环境，drainage_roads",
            communities="大旺社区、迳口社区\n大旺社区",
        ),
        officer("cso-001", "+86 139-0013-9001", "首席服务官", paired="pba-001"),
        officer("pba-001", "8613900139002", "党建助理", paired="cso-001", categories="党建"),
        officer("pbi-001", "13900139003", "党建指导员"),
        officer("dept-1", "13900139004", "部门工作人员"),
    ]
    report = read_roster(write_xlsx(tmp_path / "名册.xlsx", {"人员": rows}))
    assert report.ok, messages(report)
    by_id = {o.officer_id: o for o in report.officers}
    assert set(by_id) == {"sup-1", "cw-1", "cso-001", "pba-001", "pbi-001", "dept-1"}
    worker = by_id["cw-1"]
    assert worker.phone == "13800138001"
    assert worker.on_duty is False and worker.capacity == 20
    assert worker.categories == [Category.DRAINAGE_ROADS, Category.ENVIRONMENT]
    assert worker.communities == ["大旺社区", "迳口社区"]
    assert worker.supervisor_id == "sup-1"
    assert by_id["sup-1"].role is OfficerRole.SUPERVISOR and by_id["sup-1"].supervisor_id is None
    assert by_id["cso-001"].role is OfficerRole.CHIEF_SERVICE_OFFICER
    assert by_id["cso-001"].phone == "13900139001"
    assert by_id["pba-001"].role is OfficerRole.PARTY_BUILDING_ASSISTANT
    assert by_id["pba-001"].phone == "13900139002"
    assert by_id["pba-001"].paired_officer_id == "cso-001"
    assert by_id["pba-001"].categories == [Category.PARTY_BUILDING]
    assert by_id["pbi-001"].role is OfficerRole.PARTY_BUILDING_INSTRUCTOR
    assert by_id["dept-1"].role is OfficerRole.DEPARTMENT_OFFICER
    assert [(s.name, s.kind, s.rows) for s in report.sheets] == [("人员", SheetKind.OFFICERS, 6)]


def test_english_headers_in_utf8_bom_csv(tmp_path: Path) -> None:
    rows = [
        EN_OFFICERS,
        [
            "sup-1",
            "Li Na",
            "13900139000",
            "li@x.cn",
            "supervisor",
            "Office",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "cw-1",
            "陈伟",
            "138 0013 8000",
            "chen@x.cn",
            "Community Worker",
            "居委会",
            "true",
            "12",
            "housing, other",
            "大旺社区",
            "sup-1",
            "",
        ],
    ]
    path = write_csv(tmp_path / "officers.csv", rows, "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = read_roster(path)
    assert report.ok, messages(report)
    sup, worker = report.officers
    assert sup.on_duty is True and sup.capacity == 30, "empty cells take the defaults"
    assert worker.role is OfficerRole.COMMUNITY_WORKER and worker.capacity == 12
    assert worker.categories == [Category.HOUSING, Category.OTHER]
    assert report.sheets[0].name == "officers"


def test_gbk_csv_from_chinese_excel(tmp_path: Path) -> None:
    rows = [
        ZH_ENTERPRISES,
        [CODE_A.lower(), "肇庆鹏华汽车零部件有限公司", "新能源汽车", "大旺社区", ""],
    ]
    rows.append(
        [f" {CODE_B[:9]} {CODE_B[9:]} ", "肇庆宏宇食品有限公司", "食品饮料产业链", "迳口社区", ""]
    )
    path = write_csv(tmp_path / "企业.csv", rows, "gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    report = read_roster(path)
    assert report.ok, messages(report)
    first, second = report.enterprises
    assert (first.credit_code, first.chain, first.cso_officer_id) == (
        CODE_A,
        IndustryChain.NEV,
        None,
    )
    assert second.credit_code == CODE_B and second.chain is IndustryChain.FOOD_BEVERAGE
    assert second.name == "肇庆宏宇食品有限公司"


def test_utf16_tab_separated_text(tmp_path: Path) -> None:
    text = "\t".join(EN_OFFICERS) + "\n" + "\t".join(officer("sup-1", supervisor="")) + "\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))
    report = read_roster(path)
    assert report.ok and report.officers[0].officer_id == "sup-1"


def test_numbers_typed_into_excel_cells(tmp_path: Path) -> None:
    row: list[Any] = officer("cw-1")
    row[2], row[6], row[7] = 13800138000, True, 25.0  # phone as a number, a bool, a float
    report = read_roster(
        write_xlsx(tmp_path / "r.xlsx", {"Sheet1": [ZH_OFFICERS, SUPERVISOR, row]})
    )
    assert report.ok, messages(report)
    assert report.officers[1].phone == "13800138000" and report.officers[1].capacity == 25


# --- rejected rows --------------------------------------------------------------------------------


def test_bad_phone_is_reported_with_its_excel_row_number(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, SUPERVISOR]
    rows += [officer(f"cw-{n}", f"1380013{n:04d}") for n in range(2, 17)]  # Excel rows 3 to 17
    rows[16] = officer("cw-16", "1380013800")  # row 17
    report = read_roster(write_xlsx(tmp_path / "r.xlsx", {"人员": rows}))
    (error,) = report.errors
    assert (error.sheet, error.row_number, error.field, error.value) == (
        "人员",
        17,
        "phone",
        "1380013800",
    )
    assert error.message.startswith('row 17: 手机 (phone) "1380013800" is not a mobile number')
    assert "11 digits" in error.message
    assert len(report.officers) == 15 and "cw-16" not in {o.officer_id for o in report.officers}
    assert report.rows_rejected == 1 and report.rows_read == 16


def test_english_header_message_reads_as_in_the_spec(tmp_path: Path) -> None:
    rows = [EN_OFFICERS, officer("sup-1", "1380013800", supervisor="")]
    (error,) = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8")).errors
    assert error.message.startswith('row 2: phone "1380013800" is not a mobile number')


@pytest.mark.parametrize(
    ("phone", "why"),
    [
        ("0758-2345678", "landline"),
        ("1.38001E+10", "scientific notation"),
        ("12345678901", "start with 13 to 19"),
        ("138-0013-800a", "only digits"),
    ],
)
def test_officers_need_a_mobile(tmp_path: Path, phone: str, why: str) -> None:
    rows = [EN_OFFICERS, officer("sup-1", phone, supervisor="")]
    (error,) = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8")).errors
    assert error.field == "phone" and why in error.message


def test_unknown_role_and_other_bad_values_each_named(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, SUPERVISOR]
    rows.append(officer("x-1", role="村长", on_duty="也许", capacity="many", categories="修路"))
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    by_field = {e.field: e for e in report.errors}
    assert set(by_field) == {"role", "on_duty", "capacity", "categories"}
    assert all(e.row_number == 3 for e in report.errors)
    assert by_field["role"].message.startswith('row 3: 角色 (role) "村长" is not a known role')
    assert "首席服务官" in by_field["role"].message
    assert '"修路"' in by_field["categories"].message
    assert report.rows_rejected == 1 and [o.officer_id for o in report.officers] == ["sup-1"]


def test_required_cells_empty(tmp_path: Path) -> None:
    row = officer("cw-1")
    row[1] = row[3] = ""
    report = read_roster(write_csv(tmp_path / "o.csv", [ZH_OFFICERS, SUPERVISOR, row], "utf-8"))
    assert messages(report) == ["row 3: 姓名 (name) is empty", "row 3: 邮箱 (email) is empty"]


def test_bad_credit_code(tmp_path: Path) -> None:
    wrong_check = CODE_A[:-1] + ("0" if CODE_A[-1] != "0" else "1")
    rows = [ZH_ENTERPRISES, [wrong_check, "甲公司", "生物医药", "大旺社区", ""]]
    rows += [["91441200MA4U", "乙公司", "生物医药", "大旺社区", ""]]
    rows += [[CODE_C, "丙公司", "钢铁", "大旺社区", ""]]
    report = read_roster(write_csv(tmp_path / "e.csv", rows, "utf-8"))
    assert [(e.row_number, e.field) for e in report.errors] == [
        (2, "credit_code"),
        (3, "credit_code"),
        (4, "chain"),
    ]
    assert "check character" in report.errors[0].message
    assert "18 characters" in report.errors[1].message
    assert report.errors[0].message.startswith(
        f'row 2: 统一社会信用代码 (credit_code) "{wrong_check}" is not a valid'
    )
    assert report.enterprises == []


def test_duplicate_ids_reject_every_copy(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, SUPERVISOR, officer("cw-1"), officer("cw-2"), officer("ＣＷ-1".lower())]
    rows += [officer("cw-3")]
    report = read_roster(write_xlsx(tmp_path / "r.xlsx", {"人员": rows}))
    assert [(e.row_number, e.field) for e in report.errors] == [
        (3, "officer_id"),
        (5, "officer_id"),
    ]
    assert "also on row 5" in report.errors[0].message
    assert "also on row 3" in report.errors[1].message
    assert {o.officer_id for o in report.officers} == {"sup-1", "cw-2", "cw-3"}


def test_duplicate_credit_codes_after_normalisation(tmp_path: Path) -> None:
    rows = [
        ZH_ENTERPRISES,
        [CODE_A, "甲", "nev", "大旺社区", ""],
        [CODE_A.lower(), "乙", "nev", "x", ""],
    ]
    report = read_roster(write_csv(tmp_path / "e.csv", rows, "utf-8"))
    assert [e.row_number for e in report.errors] == [2, 3] and report.enterprises == []


def test_dangling_supervisor_reference(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, officer("cw-1", supervisor="sup-9"), officer("cw-2", supervisor="sup-1")]
    path = write_csv(tmp_path / "o.csv", rows, "utf-8")
    report = read_roster(path)
    assert messages(report) == [
        'row 2: 上级 (supervisor_id) "sup-9" is not an officer in this roster or in the directory',
        'row 3: 上级 (supervisor_id) "sup-1" is not an officer in this roster or in the directory',
    ]
    # Officers already in the directory may be named.
    known = read_roster(path, known_officer_ids={"sup-1"})
    assert [e.row_number for e in known.errors] == [2]
    assert [o.officer_id for o in known.officers] == ["cw-2"]


def test_reference_to_a_rejected_row_is_rejected_too(tmp_path: Path) -> None:
    bad_supervisor = officer("sup-1", "123", "主管", supervisor="")
    cso = officer("cso-1", role="首席服务官", paired="pba-1", supervisor="sup-1")
    pba = officer("pba-1", role="党建助手", paired="cso-1", supervisor="")
    rows = [ZH_OFFICERS, bad_supervisor, cso, pba]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    assert [(e.row_number, e.field) for e in report.errors] == [
        (2, "phone"),
        (3, "supervisor_id"),
        (4, "paired_officer_id"),
    ]
    assert "is rejected too (row 2)" in report.errors[1].message
    assert report.officers == []


def test_self_reference(tmp_path: Path) -> None:
    rows = [EN_OFFICERS, officer("sup-1", supervisor="sup-1")]
    (error,) = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8")).errors
    assert error.field == "supervisor_id" and "themselves" in error.message


def test_both_sheets_in_one_workbook(tmp_path: Path) -> None:
    officers = [
        ["大旺高新区首席服务官名册（2026年）"],  # a title row: the header is row 2
        ZH_OFFICERS,
        SUPERVISOR,
        officer("cso-001", "13900139001", "首席服务官"),
        [],  # a blank row keeps its number
        officer("cw-1", "13900139002", "社区工作人员"),
    ]
    enterprises = [
        ZH_ENTERPRISES,
        [CODE_A, "肇庆鹏华汽车零部件有限公司", "新能源汽车", "大旺社区", "cso-001"],
        [CODE_B, "肇庆宏宇食品有限公司", "food_beverage", "迳口社区", "cso-404"],
        [CODE_C, "肇庆瑞安五金制品有限公司", "综合", "迳口社区", ""],
    ]
    notes = [["填表说明"], ["手机请填写11位手机号"]]
    path = write_xlsx(
        tmp_path / "directory.xlsx", {"说明": notes, "人员": officers, "企业": enterprises}
    )
    report = read_roster(path)
    assert [(s.name, s.kind, s.header_row, s.rows) for s in report.sheets] == [
        ("人员", SheetKind.OFFICERS, 2, 3),
        ("企业", SheetKind.ENTERPRISES, 1, 3),
    ]
    assert report.skipped_sheets and report.skipped_sheets[0].startswith("说明:")
    assert [o.officer_id for o in report.officers] == ["sup-1", "cso-001", "cw-1"]
    assert [e.credit_code for e in report.enterprises] == [CODE_A, CODE_C]
    assert report.enterprises[1].chain is IndustryChain.OTHER
    (error,) = report.errors
    assert (error.sheet, error.row_number, error.field) == ("企业", 3, "cso_officer_id")
    assert str(error).startswith('企业: row 3: 挂点首席服务官 (cso_officer_id) "cso-404"')


def test_blank_rows_keep_excel_numbering(tmp_path: Path) -> None:
    rows = [EN_OFFICERS, SUPERVISOR, [], [], officer("cw-1", "999")]
    (error,) = read_roster(write_xlsx(tmp_path / "r.xlsx", {"Sheet": rows})).errors
    assert error.row_number == 5


def test_missing_required_column(tmp_path: Path) -> None:
    header = [h for h in ZH_OFFICERS if h != "手机"]
    rows = [header, [c for h, c in zip(ZH_OFFICERS, SUPERVISOR, strict=True) if h != "手机"]]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    (error,) = report.errors
    assert error.row_number == 1 and "phone column is missing" in error.message
    assert report.officers == []


def test_unknown_columns_are_listed(tmp_path: Path) -> None:
    rows = [[*EN_OFFICERS, "备注"], [*officer("sup-1", supervisor=""), "老同志"]]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    assert report.ok and report.sheets[0].ignored_columns == ("备注",)


def test_progress_is_reported(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, SUPERVISOR] + [officer(f"cw-{n}", f"138{n:08d}") for n in range(450)]
    seen: list[tuple[int, int | None]] = []
    report = read_roster(
        write_xlsx(tmp_path / "r.xlsx", {"人员": rows}),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.ok and len(report.officers) == 451
    assert len(seen) >= 4 and seen[-1] == (451, 451)


# --- unreadable files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"PK\x03\x04 not really a zip", "XLSX"),
        ("姓名,年龄\n张三,30\n".encode(), "no officers, enterprises, departments or duty sheet"),
        (b"\x00\x01\x02\xff\xfe\x00\x81", "binary"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "roster.xlsx"
    path.write_bytes(content)
    with pytest.raises(RosterUnreadable, match=r"roster\.xlsx") as raised:
        read_roster(path)
    assert why in str(raised.value)


def test_missing_file_exits_2_before_touching_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["directory", "import", str(tmp_path / "nope.xlsx")]) == 2
    assert "nope.xlsx" in capsys.readouterr().err


def test_lengths_match_the_dispatch_tables() -> None:
    columns = {
        "officer_id": tables.officers.c.officer_id,
        "name": tables.officers.c.name,
        "email": tables.officers.c.email,
        "unit": tables.officers.c.unit,
        "supervisor_id": tables.officers.c.supervisor_id,
        "paired_officer_id": tables.officers.c.paired_officer_id,
        "enterprise_name": tables.enterprises.c.name,
        "community": tables.enterprises.c.community,
        "cso_officer_id": tables.enterprises.c.cso_officer_id,
        "department_id": tables.departments.c.department_id,
        "department_name": tables.departments.c.name,
    }
    assert {name: column.type.length for name, column in columns.items()} == MAX_LENGTHS
    assert tables.officers.c.department_id.type.length == MAX_LENGTHS["department_id"]


def test_a_rejected_row_still_shows_its_dangling_reference(tmp_path: Path) -> None:
    rows = [ZH_OFFICERS, officer("x-1", role="村长", supervisor="sup-9")]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    assert [e.field for e in report.errors] == ["role", "supervisor_id"], "all at once"


def test_credit_code_message_says_it_once(tmp_path: Path) -> None:
    wrong = CODE_A[:-1] + ("0" if CODE_A[-1] != "0" else "1")
    rows = [ZH_ENTERPRISES, [wrong, "甲公司", "nev", "大旺社区", ""]]
    (error,) = read_roster(write_csv(tmp_path / "e.csv", rows, "utf-8")).errors
    assert error.message.count("unified social credit code") == 1
    assert error.message.endswith(f"(check character should be {CODE_A[-1]!r}, got {wrong[-1]!r})")


def test_fields_whose_column_is_absent_are_named(tmp_path: Path) -> None:
    rows = [ZH_ENTERPRISES[:4], [CODE_A, "甲公司", "nev", "大旺社区"]]
    report = read_roster(write_csv(tmp_path / "e.csv", rows, "utf-8"))
    assert report.ok and report.enterprise_fields_absent == {CODE_A: frozenset({"cso_officer_id"})}
    older = read_roster(write_csv(tmp_path / "o.csv", [EN_OFFICERS, SUPERVISOR], "utf-8"))
    # A roster from before leave, departments and service teams keeps what the directory has.
    assert older.officer_fields_absent == {"sup-1": frozenset({"leave", "department_id", "chain"})}
    header = [*EN_OFFICERS, "leave", "department_id", "chain"]
    full = read_roster(write_csv(tmp_path / "f.csv", [header, [*SUPERVISOR, "", "", ""]], "utf-8"))
    assert full.ok and full.officer_fields_absent == {}


# --- leave, departments, service teams, duty posts ----------------------------------------------

ZH_DEPARTMENTS = ["部门编号", "部门名称", "负责类别", "分管领导"]
ZH_DUTY = ["值班岗位", "工号", "姓名"]


def team_officer(
    officer_id: str, phone: str, role: str, *, leave: str = "", dept: str = "", team: str = ""
) -> list[Any]:
    supervisor = "" if role == "主管" else "sup-1"
    return [*officer(officer_id, phone, role, supervisor=supervisor), leave, dept, team]


ZH_TEAM_OFFICERS = [*ZH_OFFICERS, "休假", "部门编号", "产业链专班"]


def test_leave_departments_teams_and_duty_in_one_workbook(tmp_path: Path) -> None:
    from datetime import date, datetime

    officers: list[list[Any]] = [
        ZH_TEAM_OFFICERS,
        team_officer("sup-1", "13900139000", "主管"),
        team_officer(
            "dept-hrss-1",
            "13900139001",
            "部门工作人员",
            leave="2026-12-01~2026-12-05；２０２７年１月１０日～2027/1/12（调休）",
            dept="hrss",
        ),
        team_officer("cso-001", "13900139002", "首席服务官", team="新能源汽车产业链服务专班"),
        team_officer("team-bio-1", "13900139003", "部门工作人员", team="biomedicine"),
        team_officer("cw-1", "13900139004", "社区工作人员"),
    ]
    officers[5][12] = datetime(2026, 12, 24)  # a date cell: one day
    departments = [
        ZH_DEPARTMENTS,
        ["hrss", "人社局", "用工招聘", "sup-1"],
        ["housing", "住建局", "住房宿舍、排水道路", ""],
    ]
    duty = [ZH_DUTY, ["值班调度员", "cw-1", "陈伟"], ["值班领导", "sup-1", "陈伟"]]
    path = write_xlsx(
        tmp_path / "directory.xlsx", {"人员": officers, "部门": departments, "值班": duty}
    )
    report = read_roster(path)
    assert report.ok, messages(report)
    assert [(s.name, s.kind, s.rows) for s in report.sheets] == [
        ("人员", SheetKind.OFFICERS, 5),
        ("部门", SheetKind.DEPARTMENTS, 2),
        ("值班", SheetKind.DUTY, 2),
    ]
    by_id = {o.officer_id: o for o in report.officers}
    assert by_id["dept-hrss-1"].leave == [
        LeavePeriod(start=date(2026, 12, 1), end=date(2026, 12, 5)),
        LeavePeriod(start=date(2027, 1, 10), end=date(2027, 1, 12), note="调休"),
    ]
    assert by_id["dept-hrss-1"].department_id == "hrss"
    assert by_id["cw-1"].leave == [LeavePeriod(start=date(2026, 12, 24), end=date(2026, 12, 24))]
    assert by_id["cso-001"].chain is IndustryChain.NEV
    assert by_id["team-bio-1"].chain is IndustryChain.BIOMEDICINE
    assert by_id["sup-1"].leave == [] and by_id["sup-1"].chain is None
    hrss, housing = report.departments
    assert (hrss.department_id, hrss.name, hrss.categories, hrss.supervisor_id) == (
        "hrss",
        "人社局",
        [Category.EMPLOYMENT],
        "sup-1",
    )
    assert housing.categories == [Category.HOUSING, Category.DRAINAGE_ROADS]
    assert housing.supervisor_id is None
    assert report.duty == {DutyPost.DISPATCHER: "cw-1", DutyPost.SUPERVISOR: "sup-1"}
    directory = report.directory()
    assert directory.departments == report.departments and directory.duty == report.duty


@pytest.mark.parametrize(
    ("leave", "why"),
    [
        ("2026-12-05~2026-12-01", 'has "2026-12-05~2026-12-01", which ends before it starts'),
        ("2026-02-30", "names a day that does not exist (2026-02-30)"),
        ("下周", 'has "下周", not a leave period (write 2026-12-01~2026-12-05; 2027-01-10)'),
        ("2026-12-01; 12月3日", 'has "12月3日", not a leave period'),
    ],
)
def test_bad_leave_is_reported_with_its_row(tmp_path: Path, leave: str, why: str) -> None:
    rows = [ZH_TEAM_OFFICERS, team_officer("sup-1", "13900139000", "主管", leave=leave)]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8-sig"))
    (error,) = report.errors
    assert (error.row_number, error.field, error.value) == (2, "leave", leave)
    assert error.message.startswith(f'row 2: 休假 (leave) "{leave}" ')
    assert why in error.message
    assert report.officers == []


def test_bad_team_and_department_cells(tmp_path: Path) -> None:
    rows = [
        ZH_TEAM_OFFICERS,
        team_officer("sup-1", "13900139000", "主管"),
        team_officer("cw-1", "13900139001", "社区工作人员", team="钢铁专班"),
        team_officer("cw-2", "13900139002", "社区工作人员", dept="no such"),
        team_officer("cw-3", "13900139003", "社区工作人员", dept="water"),
    ]
    report = read_roster(write_csv(tmp_path / "o.csv", rows, "utf-8"))
    assert [(e.row_number, e.field) for e in report.errors] == [
        (3, "chain"),
        (4, "department_id"),
        (5, "department_id"),
    ]
    assert "is not a known industry chain" in report.errors[0].message
    assert "has spaces inside" in report.errors[1].message
    assert report.errors[2].message == (
        'row 5: 部门编号 (department_id) "water" is not a department in this roster or in the '
        "directory"
    )
    # A department the directory already holds may be named.
    known = read_roster(
        write_csv(tmp_path / "o.csv", rows, "utf-8"), known_department_ids={"water"}
    )
    assert [e.row_number for e in known.errors] == [3, 4]
    assert {o.officer_id for o in known.officers} == {"sup-1", "cw-3"}


def test_rejected_department_rejects_its_officers_and_bad_supervisor(tmp_path: Path) -> None:
    officers = [
        ZH_TEAM_OFFICERS,
        team_officer("sup-1", "13900139000", "主管"),
        team_officer("dept-x-1", "13900139001", "部门工作人员", dept="x"),
    ]
    departments = [
        ZH_DEPARTMENTS,
        ["x", "某局", "修路", "sup-1"],  # an unknown category
        ["y", "", "employment", "sup-9"],  # no name; a supervisor who does not exist
        ["z", "另一局", "employment", "sup-1"],
    ]
    report = read_roster(write_xlsx(tmp_path / "r.xlsx", {"人员": officers, "部门": departments}))
    assert [(e.sheet, e.row_number, e.field) for e in report.errors] == [
        ("人员", 3, "department_id"),
        ("部门", 2, "categories"),
        ("部门", 3, "name"),
        ("部门", 3, "supervisor_id"),
    ]
    assert "is rejected too (row 2 of 部门)" in report.errors[0].message
    assert report.errors[2].message == "row 3: 部门名称 (name) is empty"
    assert [d.department_id for d in report.departments] == ["z"]
    assert [o.officer_id for o in report.officers] == ["sup-1"]


def test_duty_sheet_errors(tmp_path: Path) -> None:
    officers = [ZH_OFFICERS, SUPERVISOR, officer("cw-1", "123")]  # cw-1 is rejected
    duty = [
        ["值班岗位", "值班人员工号"],
        ["值班调度员", "cw-1"],
        ["值班领导", "sup-1"],
        ["门卫", "sup-1"],
        ["supervisor", "sup-404"],
    ]
    report = read_roster(write_xlsx(tmp_path / "r.xlsx", {"人员": officers, "duty": duty}))
    assert [(e.sheet, e.row_number, e.field) for e in report.errors] == [
        ("人员", 3, "phone"),
        ("duty", 2, "officer_id"),
        ("duty", 3, "post"),
        ("duty", 4, "post"),
        ("duty", 5, "post"),
        ("duty", 5, "officer_id"),
    ]
    messages_ = messages(report)
    assert "is rejected too (row 3 of 人员)" in messages_[1]
    assert "appears more than once (also on row 5)" in messages_[2]
    assert messages_[3].startswith('row 4: 值班岗位 (post) "门卫" is not a duty post')
    assert report.duty == {}


def test_a_header_read_two_ways(tmp_path: Path) -> None:
    # A duty sheet names officers by 工号 (an officers sheet's key) and is still read as duty;
    # an officers sheet with a 部门编号 column, in a sheet named like departments, as officers.
    officers = [[*ZH_OFFICERS, "部门编号"], [*SUPERVISOR, ""]]
    duty = [ZH_DUTY, ["dispatcher", "sup-1", "李娜"]]
    report = read_roster(write_xlsx(tmp_path / "r.xlsx", {"各部门": officers, "Sheet2": duty}))
    assert report.ok, messages(report)
    assert [s.kind for s in report.sheets] == [SheetKind.OFFICERS, SheetKind.DUTY]
    assert report.duty == {DutyPost.DISPATCHER: "sup-1"}

    # An English officers sheet whose "Post" is the job and "Department" the unit's name stays
    # an officers sheet, and neither column is taken for a duty post or a department id.
    rows = [[*EN_OFFICERS, "Post", "Department"], [*SUPERVISOR, "科长", "Labour Bureau"]]
    english = read_roster(write_csv(tmp_path / "staff.csv", rows, "utf-8"))
    assert english.ok, messages(english)
    assert english.sheets[0].kind is SheetKind.OFFICERS
    assert english.sheets[0].ignored_columns == ("Post", "Department")
    assert english.officers[0].department_id is None and english.duty == {}
