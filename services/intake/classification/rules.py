"""Deciding an appeal's type, category and urgency, and saying who decided each.

Each field is decided by the first source that has an answer:
1. the channel's own codes (`submission.channel_codes`), through the rules file's code table for
   that channel — the 12345 hotline's type, category and urgency codes;
2. what the submitter chose explicitly (`submission.type`, `.category`, `.urgency`);
3. keyword rules from the rules file, in order: for each field, the first matching rule that
   sets that field;
4. the rules file's defaults (consultation / other / normal).
An escalating rule (`escalate: true`, for emergencies) that matches raises the urgency above
whatever 1–3 decided: a form left at "normal" must not hide a gas leak.

`classified_by` maps each field to its source: "channel:<channel>", "submitter",
"rule:<name>" or "default", e.g. {"type": "channel:hotline_12345", "category":
"rule:water_outage", "urgency": "default"}. `notes` says what was ignored or overridden.

The rules live in `classification_rules.yaml` (package data) so ops can change them without a
release; `load_rules` validates a file and names the rule that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from services.intake.submissions.form import AppealSubmission
from shared.normalize import clean_text
from shared.vocabulary import AppealType, Category, Channel, Urgency

RULES_RESOURCE = "classification_rules.yaml"
FIELDS = ("type", "category", "urgency")
DEFAULT = "default"
SUBMITTER = "submitter"

# Higher is more urgent; escalation only ever raises.
_URGENCY_RANK = {Urgency.NORMAL: 0, Urgency.URGENT: 1, Urgency.EMERGENCY: 2}


class RulesError(ValueError):
    """A rules file that cannot be used; `problems` lists each one, naming where it is."""

    def __init__(self, problems: list[str], source: str = "classification rules") -> None:
        self.problems = problems
        super().__init__(f"invalid {source}:\n" + "\n".join(f"  - {p}" for p in problems))


# --- the rules file's shape --------------------------------------------------------------------


def _keyword(value: str) -> str:
    # Keywords are compared with cleaned, case-folded text, so clean them the same way.
    return clean_text(value).casefold()


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    keywords: tuple[str, ...] = Field(min_length=1)
    exclude: tuple[str, ...] = ()
    type: AppealType | None = None
    category: Category | None = None
    urgency: Urgency | None = None
    escalate: bool = False

    @field_validator("keywords", "exclude")
    @classmethod
    def _clean_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(_keyword(k) for k in value)
        if any(not k for k in cleaned):
            raise ValueError("keywords may not be blank")
        return cleaned

    @model_validator(mode="after")
    def _sets_something(self) -> Rule:
        if self.type is None and self.category is None and self.urgency is None:
            raise ValueError("a rule sets at least one of type, category, urgency")
        if self.escalate and self.urgency is None:
            raise ValueError("an escalating rule needs an urgency")
        return self

    def matches(self, text: str) -> bool:
        """`text` cleaned and case-folded (see `_searchable`)."""
        return any(k in text for k in self.keywords) and not any(k in text for k in self.exclude)


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AppealType = AppealType.CONSULTATION
    category: Category = Category.OTHER
    urgency: Urgency = Urgency.NORMAL


class CodeTable(BaseModel):
    """One channel's codes → our vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: dict[str, AppealType] = {}
    category: dict[str, Category] = {}
    urgency: dict[str, Urgency] = {}

    @field_validator("type", "category", "urgency", mode="before")
    @classmethod
    def _quoted_codes(cls, value: Any) -> Any:
        for key in value if isinstance(value, dict) else ():
            if not isinstance(key, str):
                raise ValueError(
                    f'code {key!r} must be quoted ("{key}"): unquoted, YAML reads it as a '
                    "number and leading zeros are lost"
                )
        return value


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    defaults: Defaults = Defaults()
    channel_codes: dict[Channel, CodeTable] = {}
    rules: tuple[Rule, ...] = ()


# --- loading -----------------------------------------------------------------------------------


def _where(loc: tuple[str | int, ...], raw: Any) -> str:
    """ "rules[3] (gas_leak).urgency" from a pydantic loc, naming the rule when it has a name."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str) and len(parts) == 2:
                parts.append(f" ({node['name']})")
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def load_rules(source: str | Path, *, name: str | None = None) -> Rules:
    """Rules from YAML text (a `str`) or a file (a `Path`). Raises RulesError listing every
    problem, each naming where it is ("rules[3] (gas_leak).urgency: …")."""
    label = name or (str(source) if isinstance(source, Path) else "classification rules")
    if isinstance(source, Path):
        try:
            source = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError([f"cannot read the file: {exc.strerror}"], label) from None
    try:
        raw = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError([f"not valid YAML: {where}{problem}"], label) from None
    if not isinstance(raw, dict):
        raise RulesError(["expected a mapping with version, defaults, channel_codes, rules"], label)
    try:
        rules = Rules.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_where(tuple(e['loc']), raw)}: {_message(e)}" for e in exc.errors()]
        raise RulesError(problems, label) from None
    seen: dict[str, int] = {}
    duplicates = []
    for index, rule in enumerate(rules.rules):
        if rule.name in seen:
            duplicates.append(
                f"rules[{index}] ({rule.name}): name already used by rules[{seen[rule.name]}]"
            )
        seen.setdefault(rule.name, index)
    if duplicates:
        raise RulesError(duplicates, label)
    return rules


def _message(error: Any) -> str:
    message = str(error["msg"])
    # "Value error, a rule sets …" reads better without pydantic's prefix.
    return re.sub(r"^(Value|Assertion) error, ", "", message)


def default_rules() -> Rules:
    """The rules shipped with intake (`classification_rules.yaml`, next to this module)."""
    text = resources.files(__package__ or "").joinpath(RULES_RESOURCE).read_text("utf-8")
    return load_rules(text, name=RULES_RESOURCE)


# --- classifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    type: AppealType
    category: Category
    urgency: Urgency
    classified_by: dict[str, str]
    notes: tuple[str, ...] = field(default=())


def _searchable(content: str) -> str:
    return clean_text(content, multiline=True).casefold()


def classify(submission: AppealSubmission, rules: Rules) -> Classification:
    """Pure: the same submission and rules always give the same answer."""
    decided: dict[str, Any] = {}
    by: dict[str, str] = {}
    notes: list[str] = []
    channel = Channel(submission.channel)

    # 1. The channel's own codes.
    codes = submission.channel_codes
    if codes is not None:
        table = rules.channel_codes.get(channel)
        for name in FIELDS:
            code = getattr(codes, name)
            if code is None:
                continue
            mapping: dict[str, Any] = getattr(table, name) if table else {}
            if code in mapping:
                decided[name] = mapping[code]
                by[name] = f"channel:{channel}"
            else:
                notes.append(f"{channel} {name} code {code!r} is not in the code table")

    # 2. What the submitter chose.
    for name in FIELDS:
        value = getattr(submission, name)
        if name not in decided and value is not None:
            decided[name] = value
            by[name] = SUBMITTER

    # 3. Keyword rules, first match per field.
    text = _searchable(submission.content)
    matching = [rule for rule in rules.rules if rule.matches(text)]
    for rule in matching:
        for name in FIELDS:
            value = getattr(rule, name)
            if name not in decided and value is not None:
                decided[name] = value
                by[name] = f"rule:{rule.name}"

    # 4. Defaults.
    for name in FIELDS:
        if name not in decided:
            decided[name] = getattr(rules.defaults, name)
            by[name] = DEFAULT

    # Emergencies override: the most urgent escalating rule that matched, if more urgent.
    escalating = [(r.urgency, r) for r in matching if r.escalate and r.urgency is not None]
    if escalating:
        urgency, top = max(escalating, key=lambda e: _URGENCY_RANK[e[0]])  # first among equals
        if _URGENCY_RANK[urgency] > _URGENCY_RANK[decided["urgency"]]:
            notes.append(
                f"urgency raised from {decided['urgency']} ({by['urgency']}) "
                f"to {urgency} by rule:{top.name}"
            )
            decided["urgency"] = urgency
            by["urgency"] = f"rule:{top.name}"

    return Classification(
        type=decided["type"],
        category=decided["category"],
        urgency=decided["urgency"],
        classified_by={name: by[name] for name in FIELDS},
        notes=tuple(notes),
    )
