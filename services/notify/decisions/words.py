"""The words of every notification: Jinja2 templates per language, kind and medium.

Templates live in ``services/notify/decisions/templates/<language>/``:

- ``<kind>.sms.j2``: one line. Starts with 【即办】 (en: ``[Jiban] ``). In Chinese each fits one
  segment (`SMS_SEGMENT` characters) with typical values (a 20-character tracking code, a
  four-character name); the four that carry what people wrote (appeal_resolved and
  appeal_reopened: the note; extension_decided: the ruling's note; return_requested: the
  reason) run longer when that text is long, and are sent whole over more segments rather than
  cut. English words are longer; an English SMS takes two or more segments.
- ``<kind>.email.j2``: extends ``_layout.email.j2`` and fills ``{% block subject %}`` (one
  line) and ``{% block body %}``.
- ``status_callback.webhook.j2``, ``follow_up_refused.webhook.j2``: the short human `text` of
  the callbacks below.

The ``record`` medium (development) keeps what the SMS would say, or the callback's document
for the callbacks, which have no SMS.

Values come from the intent's context (rules.py). Rendering is strict: a value a template
needs and the context lacks, or that is None where the template prints it without testing it
(``{% if note %}`` marks the optional ones), raises `MissingWords`; a message with a hole in it
is worse than a failure someone sees. Unless `reveal_appellant`, the appellant's phone and name
are replaced by their masks (masking.py) before any template sees them.

Filters the templates use (language-aware): ``when`` (an ISO datetime → local month, day and
time), ``day`` (an ISO date), ``month`` (``2026-11``), ``stage``, ``status``, ``channel``,
``closed_reason``, ``urgency``, ``cancelled_because`` (labels), ``clause`` (free text without
its final punctuation, so the template ends the sentence).

The webhook documents (`CALLBACKS`: the body is ``json.dumps(..., ensure_ascii=False,
sort_keys=True)``; the delivery id travels in a header, not here). A status change
(`StatusCallback`, kind `status_callback`)::

    {
      "type": "jiban.appeal.status",    # always this value
      "channel": "hotline_12345",       # the channel that submitted the appeal
      "external_id": "GD-0001" | null,  # the channel's own id for the appeal
      "appeal_id": "6a1f3c2e-…",        # Jiban's id (UUID)
      "tracking_code": "DW-20261127-418305-7" | null,
      "status": "received" | "assigned" | "accepted" | "in_progress" | "resolved"
              | "closed" | "returned" | "reopened",
      "closed_reason": "resolved" | "no_feedback" | null,   # set when status is closed
      "note": "…" | null,               # what was said: the resolution, the reason, …
      "occurred_at": "2026-11-27T09:00:00Z",                # ISO 8601, with offset
      "text": "…"                       # a short text for people, in the configured language
    }

A follow-up result (回访) the channel reported that was not applied, because the appeal was
not awaiting a follow-up when it arrived (`FollowUpRefusedCallback`, kind `follow_up_refused`)::

    {
      "type": "jiban.follow_up.refused",   # always this value
      "channel": "hotline_12345",          # the channel that reported the result
      "external_id": "GD-0001" | null,     # its own id for the appeal, when it submitted it
      "appeal_id": "6a1f3c2e-…",
      "tracking_code": "DW-20261127-418305-7" | null,
      "follow_up_event_id": "0b7e…",       # the result's event id (FollowUpRecorded)
      "status": "closed" | …,              # where the appeal stood when the result arrived
      "reason": "…",                       # why it was not applied
      "occurred_at": "2026-11-27T09:00:00Z",
      "text": "…"
    }
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    UndefinedError,
    pass_context,
)
from jinja2.runtime import Context
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from services.notify.decisions.masking import mask_name, mask_phone
from shared.clock import ZONE
from shared.vocabulary import AppealStatus

Language = Literal["zh-CN", "en"]
DEFAULT_LANGUAGE: Language = "zh-CN"
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

# "record" (the development provider) uses the sms words (a callback's document for callbacks).
MEDIA_WITH_WORDS = ("sms", "email", "webhook")
RECORD = "record"

SMS_SEGMENT = 70  # characters of one SMS segment in UCS-2, i.e. with any Chinese in it

_PEOPLE = ("sms", "email")

# Kind → the media it has words for. rules.py produces exactly these kinds.
MEDIA: dict[str, tuple[str, ...]] = {
    # to the appellant
    "appeal_received": _PEOPLE,
    "appeal_accepted": _PEOPLE,
    "appeal_resolved": _PEOPLE,
    "follow_up_request": _PEOPLE,
    "appeal_closed": _PEOPLE,
    # to the responsible officer
    "new_assignment": _PEOPLE,
    "acknowledgement_reminder": _PEOPLE,
    "deadline_warning": _PEOPLE,
    "urging_notice": _PEOPLE,
    "appeal_reopened": _PEOPLE,
    "extension_decided": _PEOPLE,
    # to supervisors and leadership
    "triage": _PEOPLE,
    "escalation": _PEOPLE,
    "overdue_supervision": _PEOPLE,
    "extension_requested": _PEOPLE,
    "return_requested": _PEOPLE,
    "public_notice": _PEOPLE,
    # to chief service officers and their assistants
    "cso_copy": _PEOPLE,
    "five_ones_reminder": _PEOPLE,
    "extension_cancelled": _PEOPLE,
    "extension_lapsed": _PEOPLE,
    # to the channels' systems
    "status_callback": ("webhook",),
    "follow_up_refused": ("webhook",),
}
KINDS: frozenset[str] = frozenset(MEDIA)

TEMPLATES_DIR = Path(__file__).with_name("templates")


class MissingWords(LookupError):
    """No words for this kind, medium or language, or a value they need is missing."""


@dataclass(frozen=True)
class Message:
    subject: str | None  # e-mail only
    body: str  # sms/email text; for a webhook the JSON document


class ChannelCallback(BaseModel):
    """What every callback to a channel's system says of the appeal (a webhook's JSON document)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    external_id: str | None
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus
    occurred_at: AwareDatetime
    text: str


class StatusCallback(ChannelCallback):
    """The appeal's status changed: the submitting channel's system is told."""

    type: Literal["jiban.appeal.status"] = "jiban.appeal.status"
    closed_reason: Literal["resolved", "no_feedback"] | None
    note: str | None


class FollowUpRefusedCallback(ChannelCallback):
    """A follow-up result the channel reported was not applied (`status`: where the appeal
    stood when it arrived)."""

    type: Literal["jiban.follow_up.refused"] = "jiban.follow_up.refused"
    follow_up_event_id: UUID
    reason: str


# Kind → the JSON document its webhook body is (the template gives its `text`).
CALLBACKS: dict[str, type[ChannelCallback]] = {
    "status_callback": StatusCallback,
    "follow_up_refused": FollowUpRefusedCallback,
}


# --- labels and filters ----------------------------------------------------------------------

_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "stage": {
        "zh-CN": {"acknowledge": "签收", "first_contact": "首次联系", "resolve": "办结"},
        "en": {
            "acknowledge": "acknowledgement",
            "first_contact": "first contact",
            "resolve": "resolution",
        },
    },
    "status": {
        "zh-CN": {
            "received": "已受理",
            "assigned": "已派单",
            "accepted": "已签收",
            "in_progress": "办理中",
            "resolved": "已办结",
            "closed": "已结案",
            "returned": "已退单，正在重新派单",
            "reopened": "已重新办理",
        },
        "en": {
            "received": "received",
            "assigned": "assigned",
            "accepted": "accepted",
            "in_progress": "in progress",
            "resolved": "resolved",
            "closed": "closed",
            "returned": "returned, being reassigned",
            "reopened": "reopened",
        },
    },
    "channel": {
        "zh-CN": {
            "hotline_12345": "12345热线",
            "mayor_line": "市长热线",
            "cso_visit": "首席服务官走访",
            "web": "网上平台",
            "window": "服务窗口",
        },
        "en": {
            "hotline_12345": "the 12345 hotline",
            "mayor_line": "the mayor's line",
            "cso_visit": "a chief service officer's visit",
            "web": "the website",
            "window": "a service window",
        },
    },
    "closed_reason": {
        "zh-CN": {"resolved": "已回访评价", "no_feedback": "回访期内未收到评价"},
        "en": {"resolved": "followed up", "no_feedback": "no feedback in time"},
    },
    "cancelled_because": {
        "zh-CN": {"resolved": "诉求已办结", "reassigned": "诉求已改派", "closed": "诉求已结案"},
        "en": {
            "resolved": "the appeal was resolved",
            "reassigned": "the appeal was reassigned",
            "closed": "the appeal was closed",
        },
    },
    "urgency": {
        "zh-CN": {"emergency": "特急", "urgent": "紧急", "normal": "一般"},
        "en": {"emergency": "EMERGENCY", "urgent": "URGENT", "normal": "normal"},
    },
}

_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class _NoneValue(Exception):
    """A template printed a None (rendering turns it into MissingWords with the name)."""


def _given(value: Any) -> Any:
    if value is None:
        raise _NoneValue
    return value


def _language(context: Context) -> str:
    return str(context.get("language", DEFAULT_LANGUAGE))


def _label(table: str) -> Callable[[Context, Any], str]:
    @pass_context
    def label(context: Context, code: Any) -> str:
        key = str(_given(code))
        # An unknown code (a newer vocabulary) is shown as is rather than refused.
        return _LABELS[table][_language(context)].get(key, key)

    return label


def _datetime(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(_given(value)))
    return at.astimezone(ZONE) if at.tzinfo else at


@pass_context
def _when(context: Context, value: Any) -> str:
    at = _datetime(value)
    if _language(context) == "en":
        return f"{at.day} {_EN_MONTHS[at.month - 1][:3]} {at:%H:%M}"
    return f"{at.month}月{at.day}日{at:%H:%M}"


@pass_context
def _day(context: Context, value: Any) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(_given(value)))
    if _language(context) == "en":
        return f"{day.day} {_EN_MONTHS[day.month - 1][:3]}"
    return f"{day.month}月{day.day}日"


@pass_context
def _month(context: Context, value: Any) -> str:
    year, month = (int(part) for part in str(_given(value)).split("-")[:2])
    if _language(context) == "en":
        return f"{_EN_MONTHS[month - 1]} {year}"
    return f"{year}年{month}月"


def _clause(value: Any) -> str:
    # People end their notes with any punctuation; the template ends the sentence once.
    return str(_given(value)).strip().rstrip("。．.！!；;，,、 ")


@cache
def environment() -> Environment:
    """One per process: templates are compiled once and cached (no reload checks)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=False,  # plain text and JSON built in Python: nothing is HTML
        finalize=_given,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(
        {name: _label(name) for name in _LABELS}
        | {"when": _when, "day": _day, "month": _month, "clause": _clause}
    )
    return env


# --- rendering -------------------------------------------------------------------------------


def _words_medium(kind: str, medium: str) -> str:
    media = MEDIA[kind]
    if medium == RECORD:
        return "sms" if "sms" in media else media[0]
    if medium not in media:
        raise MissingWords(f"{kind} has no {medium} words (only {', '.join(media)})")
    return medium


def _template(name: str) -> Template:
    try:
        return environment().get_template(name)
    except TemplateNotFound as e:
        raise MissingWords(f"no template {name}") from e


def _draw(template: Template, values: Mapping[str, Any], block: str | None) -> str:
    if block is None:
        return template.render(values).strip()
    if block not in template.blocks:
        raise MissingWords(f"{template.name} has no {block} block")
    return "".join(template.blocks[block](template.new_context(dict(values)))).strip()


def _printed_nones(template: Template, values: Mapping[str, Any], block: str | None) -> list[str]:
    """Which None values the words print untested (the others are optional): each is tried
    alone as None, every other None given a stand-in. Only on the failure path."""
    printed: list[str] = []
    for key in [k for k, v in values.items() if v is None]:
        trial = {k: ("…" if v is None and k != key else v) for k, v in values.items()}
        try:
            _draw(template, trial, block)
        except _NoneValue:
            printed.append(key)
        except Exception:  # a stand-in of the wrong type: this key is not the one asked about
            continue
    return sorted(printed)


def _text(name: str, values: Mapping[str, Any], block: str | None = None) -> str:
    template = _template(name)
    try:
        return _draw(template, values, block)
    except UndefinedError as e:
        raise MissingWords(f"{name} needs a value: {e.message}") from e
    except _NoneValue as e:
        names = _printed_nones(template, values, block) or ["a value that is None"]
        raise MissingWords(f"{name} needs {', '.join(names)} (None given)") from e


def _callback(kind: str, values: Mapping[str, Any], text: str) -> str:
    model = CALLBACKS[kind]
    fields = [name for name in model.model_fields if name not in ("type", "text")]
    missing = [name for name in fields if name not in values]
    if missing:
        raise MissingWords(f"{kind} needs {', '.join(missing)}")
    try:
        document = model.model_validate({name: values[name] for name in fields} | {"text": text})
    except ValidationError as e:
        wrong = sorted({str(error["loc"][0]) for error in e.errors() if error["loc"]})
        raise MissingWords(f"{kind} has no usable {', '.join(wrong)}") from e
    return json.dumps(document.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)


def render(
    kind: str,
    medium: str,
    context: Mapping[str, Any],
    *,
    language: str = DEFAULT_LANGUAGE,
    reveal_appellant: bool,
) -> Message:
    """The message for `kind` by `medium` in `language`; MissingWords when it cannot be said.

    reveal_appellant: False for anyone but the appellant and the responsible officers, who
    then see the appellant's phone and name only masked."""
    if language not in LANGUAGES:
        raise MissingWords(f"no words in {language!r} (only {', '.join(LANGUAGES)})")
    if kind not in KINDS:
        raise MissingWords(f"no words for kind {kind!r}")
    words = _words_medium(kind, str(medium))
    values = dict(context)
    if not reveal_appellant:
        if "appellant_phone" in values:
            values["appellant_phone"] = mask_phone(values["appellant_phone"])
        if "appellant_name" in values:
            values["appellant_name"] = mask_name(values["appellant_name"])
    values["language"] = language  # for the filters; set last, so no context value changes it
    name = f"{language}/{kind}.{words}.j2"
    if words == "email":
        # One line: a value with a line break must not start a new header.
        subject = " ".join(_text(name, values, block="subject").split())
        return Message(subject, _text(name, values))
    if words == "webhook":
        return Message(None, _callback(kind, values, _text(name, values)))
    return Message(None, _text(name, values))
