"""Parsing one cell: each column's values as people type them in Excel (是/否, 2026/12/1,
全角 digits, a phone in scientific notation…), into the model's value or a `CellProblem` whose
text completes 'row N: <column> "<value>" …'. `PARSERS` says which parser reads which column of
each kind of sheet."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

from services.dispatch.directory.model import (
    CHAIN_LABELS_ZH,
    MAX_CAPACITY,
    MAX_LEAVE_PERIODS,
    DutyPost,
    LeavePeriod,
)
from services.dispatch.roster.headers import SheetKind
from shared.normalize import (
    clean_text,
    normalize_credit_code,
    normalize_identifier,
    normalize_phone,
)
from shared.vocabulary import CATEGORY_LABELS_ZH, Category, IndustryChain, OfficerRole

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


class CellProblem(ValueError):
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
        raise CellProblem("has spaces inside; an id is one word")
    if len(value) > max_length:
        raise CellProblem(f"is longer than {max_length} characters")
    return value


def _plain_text(text: str, max_length: int) -> str:
    value = clean_text(text)
    if len(value) > max_length:
        raise CellProblem(f"is longer than {max_length} characters")
    return value


def _mobile(text: str) -> str:
    # Officers are reached by SMS (new assignments, reminders to acknowledge): mobiles only.
    if _SCIENTIFIC.match(normalize_identifier(text)):
        raise CellProblem(
            "is not a mobile number (Excel turned it into scientific notation: "
            "format the column as text and export again)"
        )
    try:
        phone = normalize_phone(text)
    except ValueError as exc:
        reason = str(exc).split("; expected", 1)[0]
        raise CellProblem(f"is not a mobile number ({reason})") from None
    if "-" in phone:
        raise CellProblem("is not a mobile number (a landline; officers are reached by SMS)")
    return phone


def _email(text: str) -> str:
    value = normalize_identifier(text)
    if not _EMAIL.match(value) or len(value) > MAX_LENGTHS["email"]:
        raise CellProblem("is not an email address")
    return value


def _role(text: str) -> OfficerRole:
    role = ROLE_NAMES.get(_role_key(text))
    if role is None:
        known = "、".join(ROLE_LABELS_ZH.values())
        raise CellProblem(f"is not a known role (one of {known}, or {', '.join(OfficerRole)})")
    return role


def _flag(text: str) -> bool:
    key = normalize_identifier(text).lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise CellProblem("is not yes or no (是/否, true/false, 1/0)")


def _capacity(text: str) -> int:
    key = normalize_identifier(text)
    try:
        number = float(key)
    except ValueError:
        raise CellProblem("is not a whole number") from None
    if not number.is_integer() or not 0 <= number <= MAX_CAPACITY:
        raise CellProblem(f"is not a whole number from 0 to {MAX_CAPACITY}")
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
        raise CellProblem(
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
            longest = MAX_LENGTHS["community"]
            raise CellProblem(f"names a community longer than {longest} characters")
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
    raise CellProblem(f"is not a known industry chain (one of {labels}, or {values})")


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
        raise CellProblem(f"is not a valid unified social credit code ({reason})") from None


# A day as written in a roster: 2026-12-01, 2026/12/1, 2026.12.01, 2026年12月1日, or what Excel
# makes of a date cell (2026-12-01T00:00:00).
_DAY = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:[T ]00:00(?::00)?)?"
_LEAVE_PERIOD = re.compile(
    rf"^(?P<start>{_DAY})(?:\s*(?:~+|〜|至|到|—+|–|\s-\s)\s*(?P<end>{_DAY}))?"
    r"\s*(?:\((?P<note>[^()]*)\))?$"
)
_LEAVE_SEPARATORS = re.compile(r"[;,、\n]+")
_LEAVE_EXAMPLE = "2026-12-01~2026-12-05; 2027-01-10"
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
        raise CellProblem(f"names a day that does not exist ({text.strip()})") from None


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
            raise CellProblem(f'has "{part}", not a leave period (write {_LEAVE_EXAMPLE})')
        start = _day(match["start"])
        end = _day(match["end"]) if match["end"] else start
        if end < start:
            raise CellProblem(f'has "{part}", which ends before it starts')
        note = clean_text(match["note"] or "")
        if len(note) > 200:
            raise CellProblem(f'has "{part}", whose note is longer than 200 characters')
        periods.append(LeavePeriod(start=start, end=end, note=note))
    if len(periods) > MAX_LEAVE_PERIODS:
        raise CellProblem(f"has more than {MAX_LEAVE_PERIODS} periods")
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
        raise CellProblem("is not a duty post (值班调度员 or 值班领导; dispatcher or supervisor)")
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
