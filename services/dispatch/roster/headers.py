"""Recognising a sheet by its header row: which kind of sheet it is (officers, enterprises,
departments, duty) and which column holds which field. Headers may be Chinese or English, and
may sit below a title row. A header that could be read two ways is read as duty before officers
(a duty sheet names officers by 工号 too) unless it has officers' phones, emails, roles or units,
and as officers before departments (an officers sheet may have a 部门编号 column); between
officers and enterprises the sheet's name decides."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.dispatch.roster.files import HEADER_SEARCH_ROWS, RawSheet


class SheetKind(StrEnum):
    OFFICERS = "officers"
    ENTERPRISES = "enterprises"
    DEPARTMENTS = "departments"
    DUTY = "duty"


_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")


def header_key(text: str) -> str:
    """What aliases are matched on: "手机号码（必填）*" → "手机号码", "Officer ID" → "officerid"."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _BRACKETED.sub("", text)
    return re.sub(r"[\s_\-*:：.·]", "", text)


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(header_key(n) for n in names)


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
class Header:
    kind: SheetKind
    row_index: int  # 0-based index into RawSheet.rows
    columns: dict[str, int]  # field -> cell index
    titles: dict[str, str]  # field -> the header as written
    ignored: tuple[str, ...]
    duplicated: tuple[str, ...]  # fields named by two columns


def _map_header(cells: Sequence[str], kind: SheetKind) -> Header | None:
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored: list[str] = []
    duplicated: list[str] = []
    for index, cell in enumerate(cells):
        key = header_key(cell)
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
    return Header(kind, -1, columns, titles, tuple(ignored), tuple(duplicated))


def _hinted_kind(sheet_name: str) -> SheetKind | None:
    lowered = sheet_name.lower()
    for kind, hints in _SHEET_NAME_HINTS.items():
        if any(hint in lowered for hint in hints):
            return kind
    return None


def find_header(sheet: RawSheet) -> Header | None:
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
        return Header(
            header.kind, index, header.columns, header.titles, header.ignored, header.duplicated
        )
    return None
