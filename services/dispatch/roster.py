"""Rosters: the directory as the zone keeps it, in Excel workbooks and CSV exports.

`read_roster` turns a file into checked `Officer` and `Enterprise` models plus a row-by-row list
of what was rejected and why, with row numbers as the user sees them in Excel (header = row 1).
It only reads the bytes it is given; what to do with the result is the caller's business.

- Formats: XLSX (read-only) and CSV in UTF-8 (with or without BOM), UTF-16 with BOM (Excel's
  "Unicode text") or GB18030/GBK (what Chinese Excel saves "CSV" as). The format is decided by
  the content, not the file name.
- Sheets: an officers sheet has an id column (工号 / officer_id), an enterprises sheet a credit
  code column (统一社会信用代码 / credit_code), a departments sheet a department id column
  (部门编号 / department_id), a duty sheet a post column (值班岗位 / post) and the holder's id; a
  workbook may hold any of them. Headers may be Chinese or English, and may sit below a title
  row. Sheets without such a header (instructions, notes) are skipped and mentioned in the report.
  A header that could be read two ways is read as duty before officers (a duty sheet names
  officers by 工号 too) unless it has officers' phones, emails, roles or units, and as officers
  before departments (an officers sheet may have a 部门编号 column); between officers and
  enterprises the sheet's name decides.
- Officers' leave (休假) is a list of periods, `2026-12-01~2026-12-05; 2027-01-10` (a single
  day), each with an optional note in brackets: `2026-12-01~2026-12-05（年假）`.
- Cross-row checks: an id appears once per roster; supervisor, partner, CSO, department
  supervisor and duty references name an officer in the roster (not itself rejected) or one the
  caller says already exists; an officer's department names a department in the same way.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from services.dispatch.demo_directory import CHAIN_LABELS_ZH
from services.dispatch.directory import (
    Department,
    Directory,
    DutyPost,
    Enterprise,
    LeavePeriod,
    Officer,
)
from shared.normalize import (
    clean_text,
    normalize_credit_code,
    normalize_identifier,
    normalize_phone,
)
from shared.vocabulary import CATEGORY_LABELS_ZH, Category, IndustryChain, OfficerRole

Progress = Callable[[int, int | None], None]  # (rows done, rows expected or None)

# Mirror the column sizes of dispatch.officers / dispatch.enterprises (a unit test holds them in
# step): a value too long would fail the whole import transaction instead of one row.
MAX_LENGTHS: dict[str, int] = {
    "officer_id": 64,
    "name": 100,
    "email": 200,
    "unit": 100,
    "supervisor_id": 64,
    "paired_officer_id": 64,
    "enterprise_name": 200,
    "community": 100,
    "cso_officer_id": 64,
    "department_id": 64,
    "department_name": 100,
}
MAX_CAPACITY = 10_000
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in Excel rosters
PROGRESS_EVERY = 200


class SheetKind(StrEnum):
    OFFICERS = "officers"
    ENTERPRISES = "enterprises"
    DEPARTMENTS = "departments"
    DUTY = "duty"


class DutyHolder(BaseModel):
    """A row of a duty sheet: who holds the post."""

    post: DutyPost
    officer_id: str


class RosterUnreadable(Exception):
    """The file cannot be read as a roster at all (not CSV/XLSX, wrong encoding, no header)."""


@dataclass(frozen=True)
class RowError:
    sheet: str
    row_number: int  # as Excel shows it: the header is row 1 (unless a title sits above it)
    field: str | None  # the model field, None when the whole row is concerned
    value: str | None  # the cell as written in the file
    message: str  # 'row 17: 手机 (phone) "1380013800" is not a mobile number (…)'

    def __str__(self) -> str:
        return f"{self.sheet}: {self.message}"


@dataclass(frozen=True)
class SheetSummary:
    name: str
    kind: SheetKind
    header_row: int
    rows: int  # non-blank data rows
    ignored_columns: tuple[str, ...] = ()


@dataclass
class RosterReport:
    source: str
    officers: list[Officer] = field(default_factory=list)
    enterprises: list[Enterprise] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    duty: dict[DutyPost, str] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    sheets: list[SheetSummary] = field(default_factory=list)
    skipped_sheets: list[str] = field(default_factory=list)  # "说明: no header …"
    # Optional fields whose column the row's sheet lacks, by officer id / credit code: the
    # importer keeps the directory's values for them rather than resetting them to defaults
    # (an enterprise list without a CSO column must not unassign every CSO).
    officer_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)
    enterprise_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)
    department_fields_absent: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(sheet.rows for sheet in self.sheets)

    @property
    def rows_rejected(self) -> int:
        return len({(error.sheet, error.row_number) for error in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def empty(self) -> bool:
        """No good row at all: nothing to import."""
        return not (self.officers or self.enterprises or self.departments or self.duty)

    def directory(self) -> Directory:
        """The good rows, ready for `load_directory` (which upserts; absent rows stay)."""
        return Directory(
            officers=self.officers,
            enterprises=self.enterprises,
            departments=self.departments,
            duty=self.duty,
        )


# --- reading the file into sheets of cells ----------------------------------------------------


@dataclass
class RawSheet:
    name: str
    rows: list[tuple[str, ...]]  # rows[i] is Excel row i + 1; cells as text, "" when empty


@dataclass
class RosterFile:
    source: str
    sheets: list[RawSheet]


_XLSX_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls format


def open_roster(
    source: str | Path | bytes, *, name: str | None = None, progress: Progress | None = None
) -> RosterFile:
    """Reads a CSV or XLSX file into sheets of text cells; RosterUnreadable if it cannot."""
    if isinstance(source, bytes):
        data, label = source, name or "roster"
    else:
        path = Path(source)
        label = name or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or exc
            raise RosterUnreadable(f"{label}: cannot read the file ({reason})") from None
    if not data.strip():
        raise RosterUnreadable(f"{label}: the file is empty")
    if data.startswith(_OLE2_MAGIC):
        raise RosterUnreadable(
            f"{label}: an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV and retry"
        )
    if data.startswith(_XLSX_MAGIC):
        return RosterFile(label, _xlsx_sheets(data, label, progress))
    return RosterFile(label, [_csv_sheet(data, label, progress)])


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps numbers typed into a General column (phones, ids) as floats.
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _xlsx_sheets(data: bytes, label: str, progress: Progress | None) -> list[RawSheet]:
    from openpyxl import load_workbook  # only XLSX needs it

    try:
        # read_only streams the rows; data_only gives formulas' cached values, not the formulas.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign zip
        raise RosterUnreadable(f"{label}: not a readable XLSX workbook ({exc})") from None
    try:
        worksheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        expected = sum(ws.max_row or 0 for ws in worksheets) or None
        done = 0
        sheets: list[RawSheet] = []
        for ws in worksheets:
            rows: list[tuple[str, ...]] = []
            # Read-only mode yields an empty row for each row missing from the file, so the
            # index stays the Excel row number.
            for values in ws.iter_rows(values_only=True):
                rows.append(tuple(_cell_text(v) for v in values))
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done, expected)
            sheets.append(RawSheet(ws.title, rows))
    except RosterUnreadable:
        raise
    except Exception as exc:
        raise RosterUnreadable(f"{label}: not a readable XLSX workbook ({exc})") from None
    finally:
        workbook.close()
    if progress is not None:
        progress(done, done)
    return sheets


def _decode(data: bytes, label: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: one try covers all of Chinese Excel's exports.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise RosterUnreadable(
            f"{label}: neither UTF-8 nor GBK/GB18030 text; save it as CSV UTF-8 or as .xlsx"
        ) from None


def _delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    counts = {d: head.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_sheet(data: bytes, label: str, progress: Progress | None) -> RawSheet:
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if (b"\x00" in data and not utf16) or (utf16 and "\x00" in data.decode("utf-16", "replace")):
        raise RosterUnreadable(f"{label}: neither a workbook nor text (binary content)")
    try:
        text = _decode(data, label)
    except UnicodeDecodeError as exc:
        raise RosterUnreadable(f"{label}: damaged text ({exc.reason})") from None
    try:
        # One record is one Excel row, even when a quoted cell holds a line break.
        rows = [
            tuple(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        ]
    except csv.Error as exc:
        raise RosterUnreadable(f"{label}: not a readable CSV file ({exc})") from None
    if progress is not None:
        progress(len(rows), len(rows))
    return RawSheet(Path(label).stem or label, rows)


# --- headers ----------------------------------------------------------------------------------

_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")


def _header_key(text: str) -> str:
    """What aliases are matched on: "手机号码（必填）*" → "手机号码", "Officer ID" → "officerid"."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _BRACKETED.sub("", text)
    return re.sub(r"[\s_\-*:：.·]", "", text)


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(_header_key(n) for n in names)


OFFICER_COLUMNS: dict[str, frozenset[str]] = {
    "officer_id": _aliases("officer_id", "id", "工号", "编号", "人员编号", "职工号", "人员工号"),
    "name": _aliases("name", "姓名", "名字"),
    "phone": _aliases(
        "phone", "mobile", "手机", "手机号", "手机号码", "联系电话", "电话", "移动电话"
    ),
    "email": _aliases("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件", "邮件"),
    "role": _aliases("role", "角色", "岗位", "身份", "人员类别"),
    "unit": _aliases("unit", "单位", "所在单位", "工作单位", "所属单位", "部门"),
    "on_duty": _aliases("on_duty", "在岗", "是否在岗", "在岗状态"),
    "capacity": _aliases("capacity", "容量", "承办上限", "最大承办量"),
    "categories": _aliases("categories", "负责类别", "类别", "业务类别", "诉求类别"),
    "communities": _aliases("communities", "社区", "负责社区", "联系社区", "挂点社区"),
    "supervisor_id": _aliases(
        "supervisor_id", "supervisor", "上级", "上级工号", "主管工号", "上级领导工号"
    ),
    "paired_officer_id": _aliases(
        "paired_officer_id", "paired", "paired_officer", "搭档", "搭档工号", "结对", "结对工号"
    ),
    "leave": _aliases("leave", "休假", "休假时间", "休假期间", "请假", "请假时间", "假期"),
    "department_id": _aliases(
        "department_id", "dept_id", "部门编号", "所属部门编号", "部门代码", "部门id"
    ),
    "chain": _aliases(
        "chain", "chain_team", "产业链专班", "专班", "所属专班", "服务专班", "产业链"
    ),
}
ENTERPRISE_COLUMNS: dict[str, frozenset[str]] = {
    "credit_code": _aliases(
        "credit_code", "uscc", "统一社会信用代码", "社会信用代码", "信用代码", "统一代码"
    ),
    "name": _aliases("name", "enterprise_name", "企业名称", "名称", "企业", "单位名称"),
    "chain": _aliases("chain", "industry_chain", "产业链", "所属产业链"),
    "community": _aliases("community", "社区", "所在社区", "所属社区"),
    "cso_officer_id": _aliases(
        "cso_officer_id",
        "cso",
        "cso_id",
        "挂点首席服务官",
        "挂点首席服务官工号",
        "首席服务官",
        "首席服务官工号",
    ),
}
DEPARTMENT_COLUMNS: dict[str, frozenset[str]] = {
    "department_id": _aliases("department_id", "dept_id", "部门编号", "部门代码", "部门id"),
    "name": _aliases("name", "department_name", "部门名称", "部门", "名称"),
    "categories": _aliases("categories", "负责类别", "类别", "业务类别", "诉求类别", "职责类别"),
    "supervisor_id": _aliases(
        "supervisor_id", "supervisor", "分管领导", "分管领导工号", "上级", "上级工号", "主管工号"
    ),
}
DUTY_COLUMNS: dict[str, frozenset[str]] = {
    "post": _aliases("post", "duty_post", "值班岗位", "值班职务", "值班"),
    "officer_id": _aliases(
        "officer_id", "工号", "人员工号", "值班人员工号", "值班人员", "值班人", "holder"
    ),
}
COLUMNS: dict[SheetKind, dict[str, frozenset[str]]] = {
    SheetKind.OFFICERS: OFFICER_COLUMNS,
    SheetKind.ENTERPRISES: ENTERPRISE_COLUMNS,
    SheetKind.DEPARTMENTS: DEPARTMENT_COLUMNS,
    SheetKind.DUTY: DUTY_COLUMNS,
}
KEY_FIELD = {
    SheetKind.OFFICERS: "officer_id",
    SheetKind.ENTERPRISES: "credit_code",
    SheetKind.DEPARTMENTS: "department_id",
    SheetKind.DUTY: "post",
}
REQUIRED: dict[SheetKind, tuple[str, ...]] = {
    SheetKind.OFFICERS: ("officer_id", "name", "phone", "email", "role", "unit"),
    SheetKind.ENTERPRISES: ("credit_code", "name", "chain", "community"),
    SheetKind.DEPARTMENTS: ("department_id", "name"),
    SheetKind.DUTY: ("post", "officer_id"),
}
# When a header can be read as several kinds (see the module docstring): lower wins, then the
# sheet's name, then the reading that recognises more columns.
_PRECEDENCE = {
    SheetKind.DUTY: 0,
    SheetKind.OFFICERS: 1,
    SheetKind.ENTERPRISES: 1,
    SheetKind.DEPARTMENTS: 2,
}
_SHEET_NAME_HINTS: dict[SheetKind, tuple[str, ...]] = {
    SheetKind.OFFICERS: ("officer", "staff", "人员", "干部", "服务官", "工作人员"),
    SheetKind.ENTERPRISES: ("enterprise", "compan", "企业"),
    SheetKind.DEPARTMENTS: ("department", "部门"),
    SheetKind.DUTY: ("duty", "值班"),
}


@dataclass(frozen=True)
class _Header:
    kind: SheetKind
    row_index: int  # 0-based index into RawSheet.rows
    columns: dict[str, int]  # field -> cell index
    titles: dict[str, str]  # field -> the header as written
    ignored: tuple[str, ...]
    duplicated: tuple[str, ...]  # fields named by two columns


def _map_header(cells: Sequence[str], kind: SheetKind) -> _Header | None:
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored: list[str] = []
    duplicated: list[str] = []
    for index, cell in enumerate(cells):
        key = _header_key(cell)
        if not key:
            continue
        matched = next((f for f, names in COLUMNS[kind].items() if key in names), None)
        if matched is None:
            ignored.append(cell.strip())
        elif matched in columns:
            duplicated.append(matched)
        else:
            columns[matched], titles[matched] = index, cell.strip()
    if KEY_FIELD[kind] not in columns:
        return None
    return _Header(kind, -1, columns, titles, tuple(ignored), tuple(duplicated))


def _hinted_kind(sheet_name: str) -> SheetKind | None:
    lowered = sheet_name.lower()
    for kind, hints in _SHEET_NAME_HINTS.items():
        if any(hint in lowered for hint in hints):
            return kind
    return None


def _find_header(sheet: RawSheet) -> _Header | None:
    for index, cells in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        found = [h for kind in SheetKind if (h := _map_header(cells, kind)) is not None]
        if not found:
            continue
        kinds = {h.kind for h in found}
        if {SheetKind.DUTY, SheetKind.OFFICERS} <= kinds:
            # A duty sheet names its officers by 工号, maybe with their names; a sheet with
            # their phones, roles or units as well is officers, whatever else it holds.
            officers = next(h for h in found if h.kind is SheetKind.OFFICERS)
            if any(name in officers.columns for name in ("phone", "email", "role", "unit")):
                found = [h for h in found if h.kind is not SheetKind.DUTY]
        if len(found) > 1:
            hint = _hinted_kind(sheet.name)
            found.sort(key=lambda h: (_PRECEDENCE[h.kind], h.kind is not hint, -len(h.columns)))
        header = found[0]
        return _Header(
            header.kind, index, header.columns, header.titles, header.ignored, header.duplicated
        )
    return None


# --- values -----------------------------------------------------------------------------------


class _Problem(ValueError):
    """A cell's value is wrong; the text completes 'row N: <column> "<value>" …'."""


def _role_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", text).strip().lower())


ROLE_NAMES: dict[str, OfficerRole] = {
    **{_role_key(role.value): role for role in OfficerRole},
    **{_role_key(role.value.replace("_", " ")): role for role in OfficerRole},
    "cso": OfficerRole.CHIEF_SERVICE_OFFICER,
    "首席服务官": OfficerRole.CHIEF_SERVICE_OFFICER,
    "党建助手": OfficerRole.PARTY_BUILDING_ASSISTANT,
    "党建助理": OfficerRole.PARTY_BUILDING_ASSISTANT,
    "党建指导员": OfficerRole.PARTY_BUILDING_INSTRUCTOR,
    "社区工作人员": OfficerRole.COMMUNITY_WORKER,
    "社区工作者": OfficerRole.COMMUNITY_WORKER,
    "社区干部": OfficerRole.COMMUNITY_WORKER,
    "网格员": OfficerRole.COMMUNITY_WORKER,
    "部门工作人员": OfficerRole.DEPARTMENT_OFFICER,
    "部门人员": OfficerRole.DEPARTMENT_OFFICER,
    "部门干部": OfficerRole.DEPARTMENT_OFFICER,
    "主管": OfficerRole.SUPERVISOR,
    "分管领导": OfficerRole.SUPERVISOR,
    "督办人员": OfficerRole.SUPERVISOR,
}
ROLE_LABELS_ZH: dict[OfficerRole, str] = {
    OfficerRole.CHIEF_SERVICE_OFFICER: "首席服务官",
    OfficerRole.PARTY_BUILDING_ASSISTANT: "党建助手",
    OfficerRole.PARTY_BUILDING_INSTRUCTOR: "党建指导员",
    OfficerRole.COMMUNITY_WORKER: "社区工作人员",
    OfficerRole.DEPARTMENT_OFFICER: "部门工作人员",
    OfficerRole.SUPERVISOR: "主管",
}

CHAIN_NAMES: dict[str, IndustryChain] = {
    **{chain.value: chain for chain in IndustryChain},
    **{label: chain for chain, label in CHAIN_LABELS_ZH.items()},
    "新能源车": IndustryChain.NEV,
    "新能源": IndustryChain.NEV,
    "食品": IndustryChain.FOOD_BEVERAGE,
    "其他": IndustryChain.OTHER,
    "其它": IndustryChain.OTHER,
}
CATEGORY_NAMES: dict[str, Category] = {
    **{category.value: category for category in Category},
    **{label: category for category, label in CATEGORY_LABELS_ZH.items()},
}

_TRUE = frozenset({"是", "在岗", "true", "yes", "y", "t", "1", "√", "✓", "✔"})
_FALSE = frozenset({"否", "不在岗", "离岗", "休假", "false", "no", "n", "f", "0", "×", "✗", "✘"})
_LIST_SEPARATORS = re.compile(r"[,，、;；/\n]+")
_CATEGORY_SEPARATORS = re.compile(r"[,，、;；/\s]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)


def _identifier(text: str, max_length: int) -> str:
    value = normalize_identifier(text)
    if " " in value:
        raise _Problem("has spaces inside; an id is one word")
    if len(value) > max_length:
        raise _Problem(f"is longer than {max_length} characters")
    return value


def _plain_text(text: str, max_length: int) -> str:
    value = clean_text(text)
    if len(value) > max_length:
        raise _Problem(f"is longer than {max_length} characters")
    return value


def _mobile(text: str) -> str:
    # Officers are reached by SMS (new assignments, reminders to acknowledge): mobiles only.
    if _SCIENTIFIC.match(normalize_identifier(text)):
        raise _Problem(
            "is not a mobile number (Excel turned it into scientific notation: "
            "format the column as text and export again)"
        )
    try:
        phone = normalize_phone(text)
    except ValueError as exc:
        reason = str(exc).split("; expected", 1)[0]
        raise _Problem(f"is not a mobile number ({reason})") from None
    if "-" in phone:
        raise _Problem("is not a mobile number (a landline; officers are reached by SMS)")
    return phone


def _email(text: str) -> str:
    value = normalize_identifier(text)
    if not _EMAIL.match(value) or len(value) > MAX_LENGTHS["email"]:
        raise _Problem("is not an email address")
    return value


def _role(text: str) -> OfficerRole:
    role = ROLE_NAMES.get(_role_key(text))
    if role is None:
        known = "、".join(ROLE_LABELS_ZH.values())
        raise _Problem(f"is not a known role (one of {known}, or {', '.join(OfficerRole)})")
    return role


def _flag(text: str) -> bool:
    key = normalize_identifier(text).lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise _Problem("is not yes or no (是/否, true/false, 1/0)")


def _capacity(text: str) -> int:
    key = normalize_identifier(text)
    try:
        number = float(key)
    except ValueError:
        raise _Problem("is not a whole number") from None
    if not number.is_integer() or not 0 <= number <= MAX_CAPACITY:
        raise _Problem(f"is not a whole number from 0 to {MAX_CAPACITY}")
    return int(number)


def _categories(text: str) -> list[Category]:
    found: list[Category] = []
    unknown: list[str] = []
    for part in _CATEGORY_SEPARATORS.split(clean_text(text)):
        if not part:
            continue
        category = CATEGORY_NAMES.get(part) or CATEGORY_NAMES.get(part.lower())
        if category is None:
            unknown.append(part)
        elif category not in found:
            found.append(category)
    if unknown:
        raise _Problem(
            "names unknown categories "
            + ", ".join(f'"{u}"' for u in unknown)
            + f" (use {'、'.join(CATEGORY_LABELS_ZH.values())} or their English values)"
        )
    return found


def _communities(text: str) -> list[str]:
    names: list[str] = []
    for part in _LIST_SEPARATORS.split(text):
        name = clean_text(part)
        if len(name) > MAX_LENGTHS["community"]:
            raise _Problem(f"names a community longer than {MAX_LENGTHS['community']} characters")
        if name and name not in names:
            names.append(name)
    return names


def _chain(text: str) -> IndustryChain:
    key = clean_text(text)
    for candidate in (key, key.lower(), key.removesuffix("产业链"), key.removesuffix("链")):
        if candidate in CHAIN_NAMES:
            return CHAIN_NAMES[candidate]
    labels = "、".join(CHAIN_LABELS_ZH.values())
    values = ", ".join(IndustryChain)
    raise _Problem(f"is not a known industry chain (one of {labels}, or {values})")


def _credit_code(text: str) -> str:
    try:
        return normalize_credit_code(text)
    except ValueError as exc:
        reason = str(exc)
        for prefix in (
            "not a valid unified social credit code (GB 32100-2015): ",
            "not a unified social credit code: ",
        ):
            reason = reason.removeprefix(prefix)
        raise _Problem(f"is not a valid unified social credit code ({reason})") from None


# A day as written in a roster: 2026-12-01, 2026/12/1, 2026.12.01, 2026年12月1日, or what Excel
# makes of a date cell (2026-12-01T00:00:00).
_DAY = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:[T ]00:00(?::00)?)?"
_LEAVE_PERIOD = re.compile(
    rf"^(?P<start>{_DAY})(?:\s*(?:~+|〜|至|到|—+|–|\s-\s)\s*(?P<end>{_DAY}))?"
    r"\s*(?:\((?P<note>[^()]*)\))?$"
)
_LEAVE_SEPARATORS = re.compile(r"[;,、\n]+")
_LEAVE_EXAMPLE = "2026-12-01~2026-12-05; 2027-01-10"
MAX_LEAVE_PERIODS = 50
DUTY_POST_NAMES: dict[str, DutyPost] = {
    **{post.value: post for post in DutyPost},
    "值班调度员": DutyPost.DISPATCHER,
    "调度员": DutyPost.DISPATCHER,
    "调度": DutyPost.DISPATCHER,
    "值班领导": DutyPost.SUPERVISOR,
    "带班领导": DutyPost.SUPERVISOR,
    "值班主管": DutyPost.SUPERVISOR,
    "值班督办": DutyPost.SUPERVISOR,
}


def _day(text: str) -> date:
    year, month, day = (int(n) for n in re.findall(r"\d+", text)[:3])
    try:
        return date(year, month, day)
    except ValueError:
        raise _Problem(f"names a day that does not exist ({text.strip()})") from None


def _leave(text: str) -> list[LeavePeriod]:
    """`2026-12-01~2026-12-05; 2027-01-10（调休）`: periods, each a day or a range, both ends
    included, with an optional note in brackets."""
    periods: list[LeavePeriod] = []
    for part in _LEAVE_SEPARATORS.split(unicodedata.normalize("NFKC", text)):
        part = part.strip()
        if not part:
            continue
        match = _LEAVE_PERIOD.match(part)
        if match is None:
            raise _Problem(f'has "{part}", not a leave period (write {_LEAVE_EXAMPLE})')
        start = _day(match["start"])
        end = _day(match["end"]) if match["end"] else start
        if end < start:
            raise _Problem(f'has "{part}", which ends before it starts')
        note = clean_text(match["note"] or "")
        if len(note) > 200:
            raise _Problem(f'has "{part}", whose note is longer than 200 characters')
        periods.append(LeavePeriod(start=start, end=end, note=note))
    if len(periods) > MAX_LEAVE_PERIODS:
        raise _Problem(f"has more than {MAX_LEAVE_PERIODS} periods")
    return sorted(periods, key=lambda p: (p.start, p.end))


def _team_chain(text: str) -> IndustryChain:
    """An officer's service team: the chain, or the team's name (新能源汽车产业链服务专班)."""
    key = clean_text(text)
    for suffix in ("服务专班", "专班"):
        key = key.removesuffix(suffix)
    return _chain(key)


def _duty_post(text: str) -> DutyPost:
    post = DUTY_POST_NAMES.get(normalize_identifier(text).lower())
    if post is None:
        raise _Problem("is not a duty post (值班调度员 or 值班领导; dispatcher or supervisor)")
    return post


Parser = Callable[[str], Any]
OFFICER_PARSERS: dict[str, Parser] = {
    "officer_id": lambda t: _identifier(t, MAX_LENGTHS["officer_id"]),
    "name": lambda t: _plain_text(t, MAX_LENGTHS["name"]),
    "phone": _mobile,
    "email": _email,
    "role": _role,
    "unit": lambda t: _plain_text(t, MAX_LENGTHS["unit"]),
    "on_duty": _flag,
    "capacity": _capacity,
    "categories": _categories,
    "communities": _communities,
    "supervisor_id": lambda t: _identifier(t, MAX_LENGTHS["supervisor_id"]),
    "paired_officer_id": lambda t: _identifier(t, MAX_LENGTHS["paired_officer_id"]),
    "leave": _leave,
    "department_id": lambda t: _identifier(t, MAX_LENGTHS["department_id"]),
    "chain": _team_chain,
}
ENTERPRISE_PARSERS: dict[str, Parser] = {
    "credit_code": _credit_code,
    "name": lambda t: _plain_text(t, MAX_LENGTHS["enterprise_name"]),
    "chain": _chain,
    "community": lambda t: _plain_text(t, MAX_LENGTHS["community"]),
    "cso_officer_id": lambda t: _identifier(t, MAX_LENGTHS["cso_officer_id"]),
}
DEPARTMENT_PARSERS: dict[str, Parser] = {
    "department_id": lambda t: _identifier(t, MAX_LENGTHS["department_id"]),
    "name": lambda t: _plain_text(t, MAX_LENGTHS["department_name"]),
    "categories": _categories,
    "supervisor_id": lambda t: _identifier(t, MAX_LENGTHS["supervisor_id"]),
}
DUTY_PARSERS: dict[str, Parser] = {
    "post": _duty_post,
    "officer_id": lambda t: _identifier(t, MAX_LENGTHS["officer_id"]),
}
PARSERS = {
    SheetKind.OFFICERS: OFFICER_PARSERS,
    SheetKind.ENTERPRISES: ENTERPRISE_PARSERS,
    SheetKind.DEPARTMENTS: DEPARTMENT_PARSERS,
    SheetKind.DUTY: DUTY_PARSERS,
}
# Fields that name another row: an officer (by id) or a department.
REFERENCES: dict[SheetKind, dict[str, SheetKind]] = {
    SheetKind.OFFICERS: {
        "supervisor_id": SheetKind.OFFICERS,
        "paired_officer_id": SheetKind.OFFICERS,
        "department_id": SheetKind.DEPARTMENTS,
    },
    SheetKind.ENTERPRISES: {"cso_officer_id": SheetKind.OFFICERS},
    SheetKind.DEPARTMENTS: {"supervisor_id": SheetKind.OFFICERS},
    SheetKind.DUTY: {"officer_id": SheetKind.OFFICERS},
}
MODELS: dict[SheetKind, type[BaseModel]] = {
    SheetKind.OFFICERS: Officer,
    SheetKind.ENTERPRISES: Enterprise,
    SheetKind.DEPARTMENTS: Department,
    SheetKind.DUTY: DutyHolder,
}


# --- rows -------------------------------------------------------------------------------------


@dataclass
class _Row:
    sheet: str
    kind: SheetKind
    number: int
    titles: dict[str, str]
    raw: dict[str, str]
    key: str | None = None
    references: dict[str, str] = field(default_factory=dict)
    model: BaseModel | None = None
    errors: list[RowError] = field(default_factory=list)

    def label(self, name: str) -> str:
        title = self.titles.get(name, name)
        return name if _header_key(title) == _header_key(name) else f"{title} ({name})"

    def fail(self, name: str | None, text: str, *, with_value: bool = True) -> None:
        value = self.raw.get(name, "") if name else None
        shown = f' "{value}"' if with_value and value else ""
        subject = f"{self.label(name)}{shown} " if name else ""
        self.errors.append(
            RowError(self.sheet, self.number, name, value, f"row {self.number}: {subject}{text}")
        )

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


def _parse_row(row: _Row) -> None:
    values: dict[str, Any] = {}
    for name, parse in PARSERS[row.kind].items():
        text = row.raw.get(name, "").strip()
        if not text:
            if name in REQUIRED[row.kind]:
                row.fail(name, "is empty", with_value=False)
            continue
        try:
            values[name] = parse(text)
        except _Problem as exc:
            row.fail(name, str(exc))
    key = values.get(KEY_FIELD[row.kind])
    row.key = key
    row.references = {name: values[name] for name in REFERENCES[row.kind] if name in values}
    if row.kind is SheetKind.OFFICERS and key is not None:
        for name, target in row.references.items():
            if target == key and REFERENCES[row.kind][name] is SheetKind.OFFICERS:
                row.fail(name, "names the officer themselves")
    if row.rejected:
        return
    try:
        row.model = MODELS[row.kind](**values)
    except ValidationError as exc:  # the checks above should leave nothing for pydantic
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else None
            row.fail(name, f"is not accepted: {error['msg']}")


def _sheet_rows(sheet: RawSheet, header: _Header) -> Iterator[_Row]:
    for index in range(header.row_index + 1, len(sheet.rows)):
        cells = sheet.rows[index]
        if not any(cell.strip() for cell in cells):
            continue  # blank rows (often formatted but empty at the end of a sheet)
        raw = {
            name: cells[column] if column < len(cells) else ""
            for name, column in header.columns.items()
        }
        yield _Row(sheet.name, header.kind, index + 1, header.titles, raw)


def _check_duplicates(rows: Sequence[_Row]) -> None:
    seen: dict[tuple[SheetKind, str], list[_Row]] = {}
    for row in rows:
        if row.key is not None:
            seen.setdefault((row.kind, row.key), []).append(row)
    for (kind, _key), same in seen.items():
        if len(same) < 2:
            continue
        # Every copy is rejected: when they differ, nothing says which one is right.
        for row in same:
            others = ", ".join(
                f"row {o.number}" + ("" if o.sheet == row.sheet else f" of {o.sheet}")
                for o in same
                if o is not row
            )
            row.fail(KEY_FIELD[kind], f"appears more than once (also on {others})")


_WHAT = {SheetKind.OFFICERS: "an officer", SheetKind.DEPARTMENTS: "a department"}


def _check_references(
    rows: Sequence[_Row],
    known_officer_ids: Collection[str],
    known_department_ids: Collection[str] = frozenset(),
) -> None:
    known = {SheetKind.OFFICERS: known_officer_ids, SheetKind.DEPARTMENTS: known_department_ids}
    rows_by_key: dict[SheetKind, dict[str, _Row]] = {kind: {} for kind in known}
    for r in rows:
        if r.kind in rows_by_key and r.key is not None:
            rows_by_key[r.kind][r.key] = r
    # Names of no one at all, reported on every row (rejected or not) so one pass shows it all.
    for row in rows:
        for name, target in row.references.items():
            kind = REFERENCES[row.kind][name]
            if target not in known[kind] and target not in rows_by_key[kind]:
                row.fail(name, f"is not {_WHAT[kind]} in this roster or in the directory")
    # A reference to a row that is rejected would dangle once imported, so rejecting a row can
    # reject the rows that name it: repeat until nothing more falls.
    changed = True
    while changed:
        changed = False
        for row in rows:
            if row.rejected:
                continue
            for name, target in row.references.items():
                kind = REFERENCES[row.kind][name]
                target_row = rows_by_key[kind].get(target)
                if target in known[kind] or target_row is None or not target_row.rejected:
                    continue
                where = "" if target_row.sheet == row.sheet else f" of {target_row.sheet}"
                row.fail(name, f"is rejected too (row {target_row.number}{where})")
                changed = True


def check_roster(
    roster: RosterFile,
    *,
    known_officer_ids: Collection[str] = frozenset(),
    known_department_ids: Collection[str] = frozenset(),
    progress: Progress | None = None,
) -> RosterReport:
    """Validates every row of every recognised sheet; see the module docstring."""
    report = RosterReport(roster.source)
    rows: list[_Row] = []
    headers: list[tuple[RawSheet, _Header]] = []
    for sheet in roster.sheets:
        if not any(any(cell.strip() for cell in cells) for cells in sheet.rows):
            if len(roster.sheets) > 1:
                report.skipped_sheets.append(f"{sheet.name}: empty")
            continue
        header = _find_header(sheet)
        if header is None:
            report.skipped_sheets.append(
                f"{sheet.name}: no header with 工号/officer_id, 统一社会信用代码/credit_code, "
                "部门编号/department_id or 值班岗位/post"
            )
            continue
        headers.append((sheet, header))
    if not headers:
        reasons = "; ".join(report.skipped_sheets) or "no rows"
        raise RosterUnreadable(
            f"{roster.source}: no officers, enterprises, departments or duty sheet ({reasons})"
        )

    expected = sum(len(sheet.rows) - header.row_index - 1 for sheet, header in headers)
    for sheet, header in headers:
        header_row = header.row_index + 1
        missing = [name for name in REQUIRED[header.kind] if name not in header.columns]
        problems = [f"the {name} column is missing" for name in missing] + [
            f"two columns are read as {name}" for name in header.duplicated
        ]
        sheet_rows = list(_sheet_rows(sheet, header))
        report.sheets.append(
            SheetSummary(sheet.name, header.kind, header_row, len(sheet_rows), header.ignored)
        )
        if problems:
            # Without a required column no row of the sheet can be read: one error says so.
            for problem in problems:
                report.errors.append(
                    RowError(
                        sheet.name,
                        header_row,
                        None,
                        None,
                        f"row {header_row}: {problem}; none of the sheet's "
                        f"{len(sheet_rows)} rows can be imported",
                    )
                )
            continue
        for row in sheet_rows:
            _parse_row(row)
            rows.append(row)
            if progress is not None and len(rows) % PROGRESS_EVERY == 0:
                progress(len(rows), expected)
    if progress is not None:
        progress(len(rows), len(rows))

    _check_duplicates(rows)
    _check_references(rows, known_officer_ids, known_department_ids)

    order = {sheet.name: index for index, sheet in enumerate(roster.sheets)}
    absent = {
        sheet.name: frozenset(PARSERS[header.kind]) - frozenset(header.columns)
        for sheet, header in headers
    }
    for row in rows:
        report.errors.extend(row.errors)
        if row.rejected or row.model is None:
            continue
        model = row.model
        if isinstance(model, Officer):
            report.officers.append(model)
            if absent[row.sheet]:
                report.officer_fields_absent[model.officer_id] = absent[row.sheet]
        elif isinstance(model, Enterprise):
            report.enterprises.append(model)
            if absent[row.sheet]:
                report.enterprise_fields_absent[model.credit_code] = absent[row.sheet]
        elif isinstance(model, Department):
            report.departments.append(model)
            if absent[row.sheet]:
                report.department_fields_absent[model.department_id] = absent[row.sheet]
        elif isinstance(model, DutyHolder):
            report.duty[model.post] = model.officer_id
    report.errors.sort(key=lambda e: (order.get(e.sheet, 0), e.row_number))
    return report


def read_roster(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    known_officer_ids: Collection[str] = frozenset(),
    known_department_ids: Collection[str] = frozenset(),
    progress: Progress | None = None,
) -> RosterReport:
    """Reads and checks a roster: `open_roster` then `check_roster`."""
    roster = open_roster(source, name=name, progress=progress)
    return check_roster(
        roster,
        known_officer_ids=known_officer_ids,
        known_department_ids=known_department_ids,
        progress=progress,
    )
