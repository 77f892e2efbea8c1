"""Who hears what (services/notify/rules.py) and the words they get (templates.py)."""

import uuid
from datetime import UTC, datetime
from string import Formatter

import pytest

from services.notify.rules import Intent, decide
from services.notify.templates import TEMPLATES, MissingValue, render
from shared.events import (
    AppealAssigned,
    AppealReceived,
    AppealStatusChanged,
    Appellant,
    OfficerChanged,
)
from shared.vocabulary import AppealStatus, Channel, OfficerRole

APPEAL_ID = uuid.UUID("6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b")
CODE = "JB261127-7K3Q9X"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def received(appellant: Appellant) -> AppealReceived:
    return AppealReceived(
        appeal_id=APPEAL_ID,
        tracking_code=CODE,
        channel=Channel.HOTLINE_12345,
        external_id="GD-0001",
        appellant=appellant,
        content="宿舍楼停水两天，请协调供水。",
        received_at=NOW,
    )


def assigned(tracking_code: str | None = CODE) -> AppealAssigned:
    return AppealAssigned(
        appeal_id=APPEAL_ID,
        officer_id="cw-dw01-1",
        reason_code="least_loaded_handler",
        reason="在岗办理人员中在办诉求最少（0 件）：李社工",
        assigned_at=NOW,
        tracking_code=tracking_code,
    )


# --- who hears what ------------------------------------------------------------------------


def test_received_tells_the_appellant_with_tracking_code() -> None:
    intents = decide(received(Appellant(name="王先生", phone="13912345678")))
    assert intents == [
        Intent("appellant", "appeal_received", {"tracking_code": CODE, "name": "王先生"})
    ]


def test_received_intent_never_carries_the_phone_number() -> None:
    (intent,) = decide(received(Appellant(name="王先生", phone="13912345678")))
    assert "13912345678" not in repr(intent)


@pytest.mark.parametrize(
    "appellant",
    [
        Appellant(name="王先生", phone="13912345678", anonymous=True),
        Appellant(name="王先生", phone=None),
        Appellant(name="王先生", phone=""),
    ],
    ids=["anonymous", "no_phone", "empty_phone"],
)
def test_received_tells_nobody_when_appellant_cannot_or_must_not_be_reached(
    appellant: Appellant,
) -> None:
    assert decide(received(appellant)) == []


def test_assigned_tells_the_officer_about_the_new_assignment() -> None:
    (intent,) = decide(assigned())
    assert intent.recipient == "officer:cw-dw01-1"
    assert intent.kind == "new_assignment"
    assert intent.context["tracking_code"] == CODE
    assert "李社工" in intent.context["reason"]


def test_assigned_without_tracking_code_falls_back_to_appeal_id() -> None:
    (intent,) = decide(assigned(tracking_code=None))
    assert intent.context["tracking_code"] == str(APPEAL_ID)


@pytest.mark.parametrize(
    "event",
    [
        AppealStatusChanged(
            appeal_id=APPEAL_ID,
            from_status=AppealStatus.RECEIVED,
            to_status=AppealStatus.ASSIGNED,
            changed_at=NOW,
        ),
        OfficerChanged(
            officer_id="cw-1",
            name="李社工",
            role=OfficerRole.COMMUNITY_WORKER,
            unit="大旺社区",
            on_duty=True,
        ),
    ],
    ids=lambda e: e.TYPE,
)
def test_event_without_a_rule_tells_nobody(event: object) -> None:
    assert decide(event) == []


def test_every_intent_kind_has_a_template() -> None:
    kinds = {i.kind for i in decide(received(Appellant(phone="13912345678")))}
    kinds |= {i.kind for i in decide(assigned())}
    assert kinds <= set(TEMPLATES)


@pytest.mark.parametrize(
    "event",
    [received(Appellant(name="王先生", phone="13912345678")), assigned()],
    ids=lambda e: e.TYPE,
)
def test_intents_render_without_missing_values(event: AppealReceived | AppealAssigned) -> None:
    for intent in decide(event):
        assert CODE in render(intent.kind, intent.context)


# --- the words -----------------------------------------------------------------------------


def placeholders(kind: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(TEMPLATES[kind]) if name}


def full_context(kind: str) -> dict[str, str]:
    context = {name: f"<{name}>" for name in placeholders(kind)}
    context["tracking_code"] = CODE
    return context


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_every_template_renders_with_the_tracking_code(kind: str) -> None:
    assert "tracking_code" in placeholders(kind)
    text = render(kind, full_context(kind))
    assert CODE in text
    assert "{" not in text and "}" not in text


def test_appeal_received_fits_one_sms_segment() -> None:
    text = render("appeal_received", {"tracking_code": CODE, "name": "欧阳先生"})
    assert len(text) <= 70


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind in sorted(TEMPLATES) for name in sorted(placeholders(kind))],
)
def test_missing_value_is_refused(kind: str, name: str) -> None:
    context = full_context(kind)
    del context[name]
    with pytest.raises(MissingValue, match=name):
        render(kind, context)


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind in sorted(TEMPLATES) for name in sorted(placeholders(kind))],
)
def test_none_value_is_refused(kind: str, name: str) -> None:
    context: dict[str, str | None] = {**full_context(kind), name: None}
    with pytest.raises(MissingValue, match=name):
        render(kind, context)


def test_extra_values_are_ignored() -> None:
    context = {**full_context("appeal_received"), "phone": "13912345678"}
    assert "13912345678" not in render("appeal_received", context)
