"""Who hears what (services/notify/decisions/rules.py), as a table over the real event models."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from notify_samples import (
    APPEAL_ID,
    CODE,
    FOLLOW_UP_EVENT_ID,
    NOW,
    OFFICER,
    REFUSED_BECAUSE,
    SUPERVISOR,
    deadline,
    extension_cancelled,
    follow_up_refused,
    status,
)

from services.notify.appeals.facts import AppealFacts
from services.notify.decisions import rules
from services.notify.decisions.audience import (
    Appellant,
    Audience,
    ChannelSystem,
    CsoAssistant,
    Officer,
    SupervisorOf,
    UnitLeadership,
)
from services.notify.decisions.rules import Intent, decide
from services.notify.decisions.words import KINDS
from shared.events import (
    AcknowledgementReminder,
    AppealAssigned,
    AppealEscalated,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FiveOnesReminder,
    FollowUpRefused,
    OfficerChanged,
    PublicNoticeIssued,
    ReturnRequested,
)
from shared.events import Appellant as EventAppellant
from shared.vocabulary import AppealStatus, Channel, OfficerRole, Urgency

PHONE = "13812345678"
NAME = "李女士"
DUTY = "sup-duty"
CREDIT_CODE = "91441200MA4W3XYZ5K"

FACTS = AppealFacts(
    appeal_id=APPEAL_ID,
    tracking_code=CODE,
    channel=Channel.WEB.value,
    external_id="W-0001",
    appellant_name=NAME,
    appellant_phone=PHONE,
    officer_id=OFFICER,
    status="in_progress",
)
ANONYMOUS = replace(FACTS, anonymous=True, appellant_name=None, appellant_phone=None)
# Notify keeps no contact of an anonymous appellant; should one slip into its copy, the rules
# still tell them nothing and pass it to nobody.
ANONYMOUS_WITH_CONTACT = replace(FACTS, anonymous=True)
NO_PHONE = replace(FACTS, appellant_phone=None)
ENTERPRISE = replace(FACTS, enterprise_credit_code=CREDIT_CODE)
URGENT = replace(FACTS, urgency=Urgency.URGENT.value)


def received(**appellant: Any) -> AppealReceived:
    return AppealReceived(
        appeal_id=APPEAL_ID,
        tracking_code=CODE,
        channel=Channel.HOTLINE_12345,
        external_id="GD-0001",
        appellant=EventAppellant(**({"name": NAME, "phone": PHONE} | appellant)),
        content="宿舍楼停水两天，请协调供水。",
        received_at=NOW,
    )


def assigned(reason_code: str = "community", officer_id: str = OFFICER) -> AppealAssigned:
    return AppealAssigned(
        appeal_id=APPEAL_ID,
        officer_id=officer_id,
        reason_code=reason_code,
        reason="居民诉求，所在社区 大旺社区，由负荷最低的社区工作人员承办",
        assigned_at=NOW,
        tracking_code=CODE,
    )


def reassigned(reason_code: str = "department", officer_id: str = "do-water-2") -> AppealReassigned:
    return AppealReassigned(
        appeal_id=APPEAL_ID,
        from_officer_id=OFFICER,
        officer_id=officer_id,
        reason_code=reason_code,
        reason="退单获批，转供水部门",
        cause="return",
        reassigned_at=NOW,
        tracking_code=CODE,
    )


ESCALATED = AppealEscalated(
    appeal_id=APPEAL_ID,
    officer_id=OFFICER,
    supervisor_id=SUPERVISOR,
    unit="大旺社区",
    reason="reopened_again",
    reopen_count=2,
    escalated_at=NOW,
)
EXTENSION_REQUESTED = ExtensionRequested(
    appeal_id=APPEAL_ID,
    extension_id=7,
    officer_id=OFFICER,
    supervisor_id=SUPERVISOR,
    stage="resolve",
    working_days=3,
    reason="需协调供水公司更换主管道",
    due_at=NOW,
    requested_at=NOW,
)
EXTENSION_DECIDED = ExtensionDecided(
    appeal_id=APPEAL_ID,
    extension_id=7,
    officer_id=OFFICER,
    decision="grant",
    decided_by=SUPERVISOR,
    previous_due_at=NOW,
    due_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    decided_at=NOW,
)
RETURN_REQUESTED = ReturnRequested(
    appeal_id=APPEAL_ID, officer_id=OFFICER, reason_code="not_my_area", reason="不属本社区辖区"
)
FIVE_ONES = FiveOnesReminder(
    officer_id="cso-dw-3",
    month="2026-11",
    uncontacted_credit_codes=[CREDIT_CODE, "91441200MA4W3XYZ6L"],
    enterprises_total=12,
    problems_solved=3,
    month_ends_on=date(2026, 11, 30),
)


CHANNEL = ChannelSystem(Channel.WEB.value)
HOTLINE = ChannelSystem(Channel.HOTLINE_12345.value)

# (id, event, what notify knows, {(audience, kind)}): the module docstring's table, run.
TABLE: list[tuple[str, Event, AppealFacts | None, set[tuple[Audience, str]]]] = [
    (
        "received",
        received(),
        FACTS,
        {(Appellant(), "appeal_received"), (HOTLINE, "status_callback")},
    ),
    (
        "received_unknown_appeal",  # the event carries the appellant and the channel itself
        received(),
        None,
        {(Appellant(), "appeal_received"), (HOTLINE, "status_callback")},
    ),
    ("received_anonymous", received(anonymous=True), None, {(HOTLINE, "status_callback")}),
    ("received_no_phone", received(phone=None), None, {(HOTLINE, "status_callback")}),
    ("assigned", assigned(), FACTS, {(Officer(OFFICER), "new_assignment")}),
    ("assigned_unknown_appeal", assigned(), None, {(Officer(OFFICER), "new_assignment")}),
    ("assigned_triage", assigned("triage", DUTY), FACTS, {(Officer(DUTY), "triage")}),
    (
        "assigned_enterprise",
        assigned(),
        ENTERPRISE,
        {(Officer(OFFICER), "new_assignment"), (CsoAssistant(CREDIT_CODE), "cso_copy")},
    ),
    (
        "assigned_triage_enterprise",
        assigned("triage", DUTY),
        ENTERPRISE,
        {(Officer(DUTY), "triage"), (CsoAssistant(CREDIT_CODE), "cso_copy")},
    ),
    ("reassigned", reassigned(), ENTERPRISE, {(Officer("do-water-2"), "new_assignment")}),
    ("reassigned_triage", reassigned("triage", DUTY), FACTS, {(Officer(DUTY), "triage")}),
    (
        "accepted",
        status(AppealStatus.ACCEPTED),
        FACTS,
        {(Appellant(), "appeal_accepted"), (CHANNEL, "status_callback")},
    ),
    (
        "resolved",
        status(AppealStatus.RESOLVED, note="已协调供水公司抢修，今日恢复供水。"),
        FACTS,
        {
            (Appellant(), "appeal_resolved"),
            (Appellant(), "follow_up_request"),
            (CHANNEL, "status_callback"),
        },
    ),
    (
        "closed",
        status(AppealStatus.CLOSED, closed_reason="no_feedback"),
        FACTS,
        {(Appellant(), "appeal_closed"), (CHANNEL, "status_callback")},
    ),
    (
        "reopened",
        status(AppealStatus.REOPENED, note="诉求人反映仍未解决"),
        FACTS,
        {(Officer(OFFICER), "appeal_reopened"), (CHANNEL, "status_callback")},
    ),
    ("in_progress", status(AppealStatus.IN_PROGRESS), FACTS, {(CHANNEL, "status_callback")}),
    ("returned", status(AppealStatus.RETURNED), FACTS, {(CHANNEL, "status_callback")}),
    ("status_unknown_appeal", status(AppealStatus.RESOLVED), None, set()),
    (
        "anonymous_resolved",
        status(AppealStatus.RESOLVED),
        ANONYMOUS,
        {(CHANNEL, "status_callback")},
    ),
    ("no_phone_accepted", status(AppealStatus.ACCEPTED), NO_PHONE, {(CHANNEL, "status_callback")}),
    (
        "no_channel_accepted",
        status(AppealStatus.ACCEPTED),
        replace(FACTS, channel=None),
        {(Appellant(), "appeal_accepted")},
    ),
    ("escalated", ESCALATED, FACTS, {(SupervisorOf(OFFICER, SUPERVISOR), "escalation")}),
    (
        "extension_requested",
        EXTENSION_REQUESTED,
        FACTS,
        {(SupervisorOf(OFFICER, SUPERVISOR), "extension_requested")},
    ),
    ("extension_decided", EXTENSION_DECIDED, FACTS, {(Officer(OFFICER), "extension_decided")}),
    (
        "extension_cancelled_resolved",
        extension_cancelled("resolved"),
        FACTS,
        {(Officer(SUPERVISOR), "extension_cancelled")},
    ),
    (
        "extension_cancelled_closed",
        extension_cancelled("closed"),
        None,
        {(Officer(SUPERVISOR), "extension_cancelled")},
    ),
    (
        "extension_cancelled_reassigned",  # the requester no longer holds it: they hear too
        extension_cancelled("reassigned"),
        FACTS,
        {(Officer(SUPERVISOR), "extension_cancelled"), (Officer(OFFICER), "extension_lapsed")},
    ),
    (
        "extension_cancelled_nobody_named",  # the requester's supervisor in the directory copy
        extension_cancelled("resolved", supervisor_id=None),
        FACTS,
        {(SupervisorOf(OFFICER), "extension_cancelled")},
    ),
    ("follow_up_refused", follow_up_refused(), FACTS, {(HOTLINE, "follow_up_refused")}),
    (
        "follow_up_refused_unknown_appeal",
        follow_up_refused(),
        None,
        {(HOTLINE, "follow_up_refused")},
    ),
    (
        "follow_up_refused_anonymous",
        follow_up_refused(Channel.WEB),
        ANONYMOUS,
        {(CHANNEL, "follow_up_refused")},
    ),
    ("return_requested", RETURN_REQUESTED, FACTS, {(SupervisorOf(OFFICER), "return_requested")}),
    (
        "acknowledgement_reminder",
        deadline(AcknowledgementReminder, reminder_number=2),
        FACTS,
        {(Officer(OFFICER), "acknowledgement_reminder")},
    ),
    (
        "deadline_warning",
        deadline(DeadlineWarning),
        FACTS,
        {(Officer(OFFICER), "deadline_warning")},
    ),
    (
        "deadline_overdue",
        deadline(DeadlineOverdue),
        None,
        {
            (Officer(OFFICER), "urging_notice"),
            (SupervisorOf(OFFICER, SUPERVISOR), "overdue_supervision"),
        },
    ),
    (
        "deadline_no_officer_in_event",
        deadline(DeadlineOverdue, officer_id=None),
        FACTS,
        {
            (Officer(OFFICER), "urging_notice"),
            (SupervisorOf(OFFICER, SUPERVISOR), "overdue_supervision"),
        },
    ),
    ("deadline_nobody", deadline(DeadlineOverdue, officer_id=None), None, set()),
    (
        "public_notice",
        deadline(PublicNoticeIssued, overdue_working_days=3),
        FACTS,
        {(UnitLeadership("大旺社区", SUPERVISOR), "public_notice")},
    ),
    ("five_ones", FIVE_ONES, None, {(Officer("cso-dw-3"), "five_ones_reminder")}),
    (
        "merged",
        AppealMerged(
            appeal_id=APPEAL_ID,
            tracking_code=CODE,
            channel=Channel.MAYOR_LINE,
            external_id="ML-9",
            appellant=EventAppellant(name=NAME, phone=PHONE),
            content="同一宿舍楼停水",
            merged_at=NOW,
            score=0.93,
            reason="same place, same problem",
        ),
        FACTS,
        set(),
    ),
    (
        "directory",
        OfficerChanged(
            officer_id=OFFICER,
            name="李社工",
            role=OfficerRole.COMMUNITY_WORKER,
            unit="大旺社区",
            on_duty=True,
        ),
        None,
        set(),
    ),
]


def heard(intents: list[Intent]) -> set[tuple[Audience, str]]:
    return {(intent.audience, intent.kind) for intent in intents}


def by_kind(event: Event, appeal: AppealFacts | None) -> dict[str, Intent]:
    intents = decide(event, appeal)
    kinds = [intent.kind for intent in intents]
    assert len(kinds) == len(set(kinds)), kinds
    return {intent.kind: intent for intent in intents}


@pytest.mark.parametrize(
    ("event", "appeal", "expected"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_who_hears_what(
    event: Event, appeal: AppealFacts | None, expected: set[tuple[Audience, str]]
) -> None:
    intents = decide(event, appeal)
    assert heard(intents) == expected
    assert len(intents) == len(expected)  # nobody is told the same thing twice


def test_every_kind_the_rules_make_has_words_and_every_word_has_a_rule() -> None:
    made = {kind for _, event, appeal, _ in TABLE for _, kind in heard(decide(event, appeal))}
    assert made == KINDS


def test_the_docstring_table_is_the_table_the_rules_follow() -> None:
    rows = re.findall(r"^\| (\w+)\s+\|[^|]*\|[^|]*\| (\w+)\s+\|$", rules.__doc__ or "", re.M)
    documented = {(event, kind) for event, kind in rows if event != "event"}
    made = {
        (event.TYPE, kind)
        for _, event, appeal, _ in TABLE
        for _, kind in heard(decide(event, appeal))
    }
    assert documented == made
    assert {event for event, _ in documented} == set(rules.RULES)


# --- the appellant ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        received(anonymous=True),
        status(AppealStatus.ACCEPTED),
        status(AppealStatus.RESOLVED),
        status(AppealStatus.CLOSED, closed_reason="resolved"),
    ],
    ids=lambda e: getattr(e, "to_status", "received"),
)
@pytest.mark.parametrize("appeal", [ANONYMOUS, ANONYMOUS_WITH_CONTACT], ids=["kept", "slipped"])
def test_anonymous_appellant_hears_nothing_but_the_channel_still_gets_the_status(
    event: Event, appeal: AppealFacts
) -> None:
    intents = decide(event, appeal)
    assert [intent.kind for intent in intents] == ["status_callback"]
    # Nothing of the appellant travels to the channel.
    assert "appellant_name" not in intents[0].context
    assert PHONE not in repr(intents)


@pytest.mark.parametrize(
    "event",
    [assigned(), status(AppealStatus.REOPENED), ESCALATED, RETURN_REQUESTED],
    ids=lambda e: e.TYPE,
)
def test_an_anonymous_appellant_is_never_mentioned_to_officers(event: Event) -> None:
    for intent in decide(
        event, replace(ANONYMOUS_WITH_CONTACT, enterprise_credit_code=CREDIT_CODE)
    ):
        assert intent.context.get("appellant_phone") is None
        assert intent.context.get("appellant_name") is None


@pytest.mark.parametrize("appeal", [NO_PHONE, replace(FACTS, appellant_phone="")])
def test_no_phone_means_no_message_to_the_appellant(appeal: AppealFacts) -> None:
    for to in (AppealStatus.ACCEPTED, AppealStatus.RESOLVED, AppealStatus.CLOSED):
        assert Appellant() not in {intent.audience for intent in decide(status(to), appeal)}


def test_received_context_has_the_tracking_code_and_not_the_phone() -> None:
    intent = by_kind(received(), None)["appeal_received"]
    assert intent.context == {"tracking_code": CODE, "appellant_name": NAME}


def test_resolved_tells_what_was_done_then_asks_for_a_rating() -> None:
    intents = decide(status(AppealStatus.RESOLVED, note="已恢复供水"), FACTS)
    kinds = [intent.kind for intent in intents]
    # The outcome comes before the question about it.
    assert kinds.index("appeal_resolved") < kinds.index("follow_up_request")
    resolved = intents[kinds.index("appeal_resolved")]
    assert resolved.context["note"] == "已恢复供水"
    assert intents[kinds.index("follow_up_request")].context["channel"] == Channel.WEB.value


def test_resolved_without_a_note_still_tells_the_appellant() -> None:
    assert by_kind(status(AppealStatus.RESOLVED), FACTS)["appeal_resolved"].context["note"] is None


def test_closed_says_why() -> None:
    closed = by_kind(status(AppealStatus.CLOSED, closed_reason="no_feedback"), FACTS)
    assert closed["appeal_closed"].context["closed_reason"] == "no_feedback"


# --- officers and supervisors ------------------------------------------------------------------


def test_new_assignment_carries_the_appellant_for_the_call_back() -> None:
    context = by_kind(assigned(), FACTS)["new_assignment"].context
    assert context["appellant_phone"] == PHONE
    assert context["appellant_name"] == NAME
    assert context["tracking_code"] == CODE
    assert "大旺社区" in context["reason"]
    assert context["reassigned"] is False
    assert "content" not in context


def test_reassignment_goes_to_the_new_officer_and_says_so() -> None:
    intent = by_kind(reassigned(), FACTS)["new_assignment"]
    assert intent.audience == Officer("do-water-2")
    assert intent.context["reassigned"] is True


def test_triage_goes_to_the_duty_supervisor_as_triage_not_as_new_assignment() -> None:
    intents = decide(assigned("triage", DUTY), FACTS)
    assert [(i.audience, i.kind) for i in intents] == [(Officer(DUTY), "triage")]
    assert intents[0].context["reason"]


@pytest.mark.parametrize("appeal", [FACTS, None], ids=["no_enterprise", "unknown_appeal"])
def test_cso_copy_only_for_an_enterprise_appeal(appeal: AppealFacts | None) -> None:
    assert "cso_copy" not in by_kind(assigned(), appeal)


def test_cso_copy_names_the_enterprise_and_the_officer() -> None:
    intent = by_kind(assigned(), ENTERPRISE)["cso_copy"]
    assert intent.audience == CsoAssistant(CREDIT_CODE)
    assert intent.context["enterprise_credit_code"] == CREDIT_CODE
    assert intent.context["officer_id"] == OFFICER


def test_assigned_without_any_tracking_code_falls_back_to_the_appeal_id() -> None:
    event = assigned().model_copy(update={"tracking_code": None})
    intent = by_kind(event, replace(FACTS, tracking_code=None))["new_assignment"]
    assert intent.context["tracking_code"] == str(APPEAL_ID)


def test_assigned_takes_the_tracking_code_from_the_copy_when_the_event_has_none() -> None:
    event = assigned().model_copy(update={"tracking_code": None})
    assert by_kind(event, FACTS)["new_assignment"].context["tracking_code"] == CODE


def test_reopened_goes_to_the_event_officer_when_notify_knows_none() -> None:
    event = status(AppealStatus.REOPENED, officer_id="cw-dw01-9")
    assert by_kind(event, replace(FACTS, officer_id=None))["appeal_reopened"].audience == Officer(
        "cw-dw01-9"
    )
    # Notify's copy (the one responsible now) wins over the event's.
    assert by_kind(event, FACTS)["appeal_reopened"].audience == Officer(OFFICER)


def test_deadline_context_is_local_time() -> None:
    context = by_kind(deadline(DeadlineWarning), FACTS)["deadline_warning"].context
    assert context["due_at"] == "2026-11-27T17:00:00+08:00"
    assert context["stage"] == "acknowledge"
    assert context["rule"] == "complaint: 15 working days"


def test_extension_decided_carries_both_deadlines() -> None:
    context = by_kind(EXTENSION_DECIDED, FACTS)["extension_decided"].context
    assert context["decision"] == "grant"
    assert context["previous_due_at"] == "2026-11-27T17:00:00+08:00"
    assert context["due_at"] == "2026-12-02T17:00:00+08:00"
    assert context["note"] is None  # an empty note is no note


def test_public_notice_counts_the_working_days_overdue() -> None:
    intent = by_kind(deadline(PublicNoticeIssued, overdue_working_days=4), None)["public_notice"]
    assert intent.context["overdue_working_days"] == 4
    assert intent.context["appellant_phone"] is None  # unknown appeal: nothing to mention


def test_five_ones_counts_the_enterprises_not_contacted() -> None:
    context = by_kind(FIVE_ONES, None)["five_ones_reminder"].context
    assert context == {
        "month": "2026-11",
        "uncontacted": 2,
        "enterprises_total": 12,
        "problems_solved": 3,
        "month_ends_on": "2026-11-30",
    }


# --- the channel -------------------------------------------------------------------------------


def test_status_callback_context() -> None:
    event = status(AppealStatus.CLOSED, closed_reason="resolved", note="回访满意")
    context = by_kind(event, FACTS)["status_callback"].context
    assert context == {
        "channel": "web",
        "external_id": "W-0001",
        "appeal_id": str(APPEAL_ID),
        "tracking_code": CODE,
        "status": "closed",
        "closed_reason": "resolved",
        "note": "回访满意",
        "occurred_at": "2026-11-27T09:00:00+00:00",
    }


def test_received_callback_uses_the_event_channel_and_external_id() -> None:
    intent = by_kind(received(), replace(FACTS, channel="web", external_id="W-0001"))[
        "status_callback"
    ]
    assert intent.audience == HOTLINE
    assert intent.context["external_id"] == "GD-0001"
    assert intent.context["status"] == "received"


# --- urgency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        deadline(AcknowledgementReminder, reminder_number=1),
        deadline(DeadlineWarning),
        deadline(DeadlineOverdue),
    ],
    ids=lambda e: e.TYPE,
)
def test_officer_deadline_reminders_are_urgent_even_for_a_normal_appeal(event: Event) -> None:
    intents = decide(event, FACTS)
    assert intents and all(intent.urgent for intent in intents)


@pytest.mark.parametrize(
    "event",
    [
        assigned(),
        status(AppealStatus.ACCEPTED),
        status(AppealStatus.RESOLVED),
        ESCALATED,
        deadline(PublicNoticeIssued, overdue_working_days=3),
        FIVE_ONES,
    ],
    ids=lambda e: getattr(e, "to_status", e.TYPE),
)
def test_normal_appeal_is_not_urgent(event: Event) -> None:
    assert {intent.urgent for intent in decide(event, FACTS)} == {False}


@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.EMERGENCY])
def test_urgent_appeal_makes_every_intent_urgent(urgency: Urgency) -> None:
    appeal = replace(ENTERPRISE, urgency=urgency.value)
    for event in (assigned(), status(AppealStatus.ACCEPTED), status(AppealStatus.RESOLVED)):
        intents = decide(event, appeal)
        assert intents and all(intent.urgent for intent in intents)


def test_urgent_received_is_urgent_from_the_event_itself() -> None:
    event = received().model_copy(update={"urgency": Urgency.EMERGENCY})
    assert all(intent.urgent for intent in decide(event, None))
    assert not any(intent.urgent for intent in decide(received(), None))


def test_urgency_of_the_appeal_reaches_the_assignment_words() -> None:
    assert by_kind(assigned(), URGENT)["new_assignment"].context["urgency"] == "urgent"
    assert by_kind(assigned(), None)["new_assignment"].context["urgency"] == "normal"


def test_cso_copy_goes_to_the_assistant_dispatch_named_before_notify_heard_the_receipt() -> None:
    # The assignment can be consumed before the receipt (another topic), and the directory copy
    # may still be catching up: the event's own names are enough.
    event = assigned().model_copy(
        update={"enterprise_credit_code": CREDIT_CODE, "cso_assistant_id": "pba-094"}
    )
    intent = by_kind(event, None)["cso_copy"]
    assert intent.audience == CsoAssistant(CREDIT_CODE, "pba-094")
    assert intent.context["enterprise_credit_code"] == CREDIT_CODE
    assert intent.context["appellant_anonymous"] is False


@pytest.mark.parametrize(
    ("event", "appeal", "external_id", "tracking_code"),
    [
        (follow_up_refused(Channel.WEB), FACTS, "W-0001", CODE),  # the channel that submitted it
        (
            follow_up_refused(Channel.HOTLINE_12345),
            FACTS,
            None,
            CODE,
        ),  # another channel's id is not sent
        (follow_up_refused(Channel.WEB), None, None, CODE),
        (
            follow_up_refused(Channel.WEB).model_copy(update={"tracking_code": None}),
            FACTS,
            "W-0001",
            CODE,
        ),
        (
            follow_up_refused(Channel.WEB).model_copy(update={"tracking_code": None}),
            None,
            None,
            None,
        ),
    ],
    ids=["submitter", "other_channel", "unknown_appeal", "code_from_copy", "nothing_known"],
)
def test_a_refused_follow_up_tells_the_reporting_channel_what_it_knows(
    event: FollowUpRefused,
    appeal: AppealFacts | None,
    external_id: str | None,
    tracking_code: str | None,
) -> None:
    [intent] = decide(event, appeal)
    assert intent.context == {
        "channel": event.channel.value,
        "external_id": external_id,
        "appeal_id": str(APPEAL_ID),
        "tracking_code": tracking_code,
        "follow_up_event_id": str(FOLLOW_UP_EVENT_ID),
        "status": "closed",
        "reason": REFUSED_BECAUSE,
        "occurred_at": NOW.isoformat(),
    }
    # A channel never hears of the appellant.
    assert not any(key.startswith("appellant") for key in intent.context)


def test_a_cancelled_extension_says_whose_request_and_why_in_local_time() -> None:
    intents = by_kind(extension_cancelled("reassigned"), FACTS)
    expected = {
        "tracking_code": CODE,
        "officer_id": OFFICER,
        "reason": "reassigned",
        "cancelled_at": "2026-11-27T17:00:00+08:00",
    }
    assert intents["extension_cancelled"].context == expected
    assert intents["extension_lapsed"].context == expected


@pytest.mark.parametrize(
    ("appeal", "urgent"),
    [(FACTS, False), (URGENT, True), (None, False)],
    ids=["normal", "urgent", "unknown"],
)
def test_a_cancelled_extension_and_a_refused_follow_up_are_urgent_only_for_an_urgent_appeal(
    appeal: AppealFacts | None, urgent: bool
) -> None:
    intents = decide(extension_cancelled("reassigned"), appeal) + decide(
        follow_up_refused(), appeal
    )
    assert [intent.urgent for intent in intents] == [urgent] * 3
