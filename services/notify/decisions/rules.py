"""Who hears what (pure, no I/O): one function per event type in `RULES`, tested as a table.

Each rule turns an event, and notify's own copy of the appeal (`AppealFacts`, None when notify
never heard of it), into intents: an audience (audience.py), a kind (the words, words.py) and
the values the words need. Which medium, and whether someone can be reached at all, is decided
later (media.py, recipients.py).

| event                   | when           | audience                  | kind                     |
|-------------------------|----------------|---------------------------|--------------------------|
| AppealReceived          | reachable¹     | Appellant                 | appeal_received          |
| AppealReceived          | always         | ChannelSystem(submitter)³ | status_callback          |
| AppealAssigned          | code ≠ triage  | Officer(officer_id)       | new_assignment           |
| AppealAssigned          | code = triage  | Officer(officer_id)⁵      | triage                   |
| AppealAssigned          | has enterprise | CsoAssistant(enterprise)⁶ | cso_copy                 |
| AppealReassigned        | code ≠ triage  | Officer(officer_id)       | new_assignment           |
| AppealReassigned        | code = triage  | Officer(officer_id)⁵      | triage                   |
| AppealStatusChanged     | to accepted, ¹ | Appellant                 | appeal_accepted          |
| AppealStatusChanged     | to resolved, ¹ | Appellant                 | appeal_resolved          |
| AppealStatusChanged     | to resolved, ¹ | Appellant                 | follow_up_request        |
| AppealStatusChanged     | to closed, ¹   | Appellant                 | appeal_closed            |
| AppealStatusChanged     | to reopened, ² | Officer(responsible)      | appeal_reopened          |
| AppealStatusChanged     | any status     | ChannelSystem(submitter)³ | status_callback          |
| AppealEscalated         | always         | SupervisorOf(officer_id)⁴ | escalation               |
| ExtensionRequested      | always         | SupervisorOf(officer_id)⁴ | extension_requested      |
| ExtensionDecided        | always         | Officer(officer_id)       | extension_decided        |
| ExtensionCancelled      | always         | Officer(supervisor_id)⁷   | extension_cancelled      |
| ExtensionCancelled      | reassigned⁸    | Officer(officer_id)       | extension_lapsed         |
| ReturnRequested         | always         | SupervisorOf(officer_id)  | return_requested         |
| AcknowledgementReminder | an officer²    | Officer(responsible)      | acknowledgement_reminder |
| DeadlineWarning         | an officer²    | Officer(responsible)      | deadline_warning         |
| DeadlineOverdue         | an officer²    | Officer(responsible)      | urging_notice            |
| DeadlineOverdue         | an officer²    | SupervisorOf(responsible)⁴| overdue_supervision      |
| PublicNoticeIssued      | always         | UnitLeadership(unit)⁴     | public_notice            |
| FiveOnesReminder        | always         | Officer(officer_id)       | five_ones_reminder       |
| FollowUpRefused         | always         | ChannelSystem(reporter)⁹  | follow_up_refused        |

¹ The appellant is reachable: notify knows the appeal, it is not anonymous and has a phone.
  AppealReceived carries the appellant itself, so it needs no copy.
² The responsible officer: for reopened the appeal's, else the event's officer_id; for the
  deadline reminders the event's officer_id, else the appeal's. None (not yet assigned): nobody.
³ The channel that submitted it: AppealReceived's own, else the appeal's copy; unknown: nobody.
  Anonymous appeals too: a channel gets no contact, only the status.
⁴ With the event's supervisor_id as the fallback when the directory copy names nobody.
⁵ The duty supervisor that triage assigns it to: no rule found an owner, so it is routed by hand.
⁶ The enterprise and its CSO's assistant as dispatch named them in the event (it knows them as it
  routes, while notify's directory copy may still be catching up); else notify's copies.
⁷ The supervisor asked to rule, as the event names them; when it names none, the requesting
  officer's supervisor in notify's directory copy (who heard the request).
⁸ The requesting officer hears it only when the appeal moved to someone else: nobody else tells
  them their request is void. Resolved or closed, they know why themselves.
⁹ The channel that reported the follow-up result, whichever submitted the appeal (its
  `external_id` is sent only when it is the same channel). Anonymous appeals too.

Urgent (may be sent in quiet hours): the three deadline reminders to officers (签收 and 催办
cannot wait for morning), and every intent about an emergency or urgent appeal.

Values: every context holds all its kind's words need (None where a value is optional), and
`appellant_name`/`appellant_phone` only where the words mention the appellant; words.py masks
them for anyone but the appellant and the responsible officers. Times are ISO 8601 strings
(deadlines in the zone's local time) so a context is plain JSON. A tracking code falls back to
the appeal id so an officer can still find the appeal; a callback sends what it knows (None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notify.appeals.facts import AppealFacts
from services.notify.decisions.audience import (
    Appellant,
    Audience,
    ChannelSystem,
    CsoAssistant,
    Officer,
    SupervisorOf,
    UnitLeadership,
)
from shared.clock import ZONE
from shared.events import (
    AcknowledgementReminder,
    AppealAssigned,
    AppealEscalated,
    AppealReassigned,
    AppealReceived,
    AppealStatusChanged,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionCancelled,
    ExtensionDecided,
    ExtensionRequested,
    FiveOnesReminder,
    FollowUpRefused,
    PublicNoticeIssued,
    ReturnRequested,
)
from shared.vocabulary import AppealStatus, Urgency

TRIAGE = "triage"  # dispatch's reason code when no rule found an owner: routed by hand
URGENT_APPEALS = frozenset({Urgency.EMERGENCY.value, Urgency.URGENT.value})


@dataclass(frozen=True)
class Intent:
    """Somebody should be told something; the medium is the delivery side's choice."""

    audience: Audience
    kind: str
    context: dict[str, Any]
    # True: may be sent in quiet hours (emergency/urgent appeals, time-critical reminders).
    urgent: bool = False


Rule = Callable[[Any, AppealFacts | None], list[Intent]]


# --- helpers -------------------------------------------------------------------------------


def _reachable(appeal: AppealFacts) -> bool:
    return not appeal.anonymous and bool(appeal.appellant_phone)


def _urgent(appeal: AppealFacts | None) -> bool:
    return appeal is not None and str(appeal.urgency) in URGENT_APPEALS


def _code(event: Any, appeal: AppealFacts | None) -> str:
    """What an officer or appellant quotes: the tracking code, else the appeal id."""
    code = getattr(event, "tracking_code", None) or (appeal.tracking_code if appeal else None)
    return code or str(event.appeal_id)


def _appellant(appeal: AppealFacts | None) -> dict[str, Any]:
    """The appellant as the words may mention them (None for an anonymous or unknown one)."""
    anonymous = appeal is not None and appeal.anonymous
    if appeal is None or anonymous:
        return {"appellant_name": None, "appellant_phone": None, "appellant_anonymous": anonymous}
    return {
        "appellant_name": appeal.appellant_name,
        "appellant_phone": appeal.appellant_phone,
        "appellant_anonymous": False,
    }


def _local(at: datetime) -> str:
    # Deadlines are read by people in the zone: their local time, offset included.
    return at.astimezone(ZONE).isoformat()


def _status_callback(
    channel: str,
    appeal_id: UUID,
    *,
    external_id: str | None,
    tracking_code: str | None,
    status: str,
    occurred_at: datetime,
    closed_reason: str | None = None,
    note: str | None = None,
    urgent: bool = False,
) -> Intent:
    return Intent(
        ChannelSystem(str(channel)),
        "status_callback",
        {
            "channel": str(channel),
            "external_id": external_id,
            "appeal_id": str(appeal_id),
            "tracking_code": tracking_code,
            "status": str(status),
            "closed_reason": closed_reason,
            "note": note,
            "occurred_at": occurred_at.isoformat(),
        },
        urgent,
    )


# --- the rules ------------------------------------------------------------------------------


def on_received(event: AppealReceived, appeal: AppealFacts | None) -> list[Intent]:
    appellant = event.appellant
    urgent = event.urgency.value in URGENT_APPEALS
    intents: list[Intent] = []
    # The event carries the appellant: no copy needed to thank them.
    if not appellant.anonymous and appellant.phone:
        intents.append(
            Intent(
                Appellant(),
                "appeal_received",
                {"tracking_code": event.tracking_code, "appellant_name": appellant.name},
                urgent,
            )
        )
    # The channel hears every status, anonymous appeals included: it holds no contact.
    intents.append(
        _status_callback(
            event.channel,
            event.appeal_id,
            external_id=event.external_id,
            tracking_code=event.tracking_code,
            status=AppealStatus.RECEIVED,
            occurred_at=event.received_at,
            urgent=urgent,
        )
    )
    return intents


def on_assigned(
    event: AppealAssigned | AppealReassigned, appeal: AppealFacts | None
) -> list[Intent]:
    urgent = _urgent(appeal)
    context: dict[str, Any] = {
        "tracking_code": _code(event, appeal),
        "reason_code": event.reason_code,
        "reason": event.reason,
        "urgency": str(appeal.urgency) if appeal else Urgency.NORMAL.value,
        "reassigned": isinstance(event, AppealReassigned),
        **_appellant(appeal),
    }
    # Triage means no rule found an owner: the duty supervisor routes it by hand, which is
    # other work than acknowledging it (so another kind), whether first assigned or moved.
    kind = "triage" if event.reason_code == TRIAGE else "new_assignment"
    intents = [Intent(Officer(event.officer_id), kind, context, urgent)]
    # Dispatch names the enterprise and the assistant (it knows them as it routes); an older
    # event does not, and then notify's copies of the appeal and the directory say.
    credit_code = (
        (event.enterprise_credit_code or (appeal.enterprise_credit_code if appeal else None))
        if isinstance(event, AppealAssigned)
        else None
    )
    if isinstance(event, AppealAssigned) and (credit_code or event.cso_assistant_id):
        intents.append(
            Intent(
                CsoAssistant(credit_code, event.cso_assistant_id),
                "cso_copy",
                {
                    "tracking_code": context["tracking_code"],
                    "enterprise_credit_code": credit_code,
                    "officer_id": event.officer_id,
                    "reason": event.reason,
                    **_appellant(appeal),
                },
                urgent,
            )
        )
    return intents


# Status → what the appellant is told (resolved tells two things: the outcome, then the ask).
_APPELLANT_KINDS: dict[str, tuple[str, ...]] = {
    AppealStatus.ACCEPTED.value: ("appeal_accepted",),
    AppealStatus.RESOLVED.value: ("appeal_resolved", "follow_up_request"),
    AppealStatus.CLOSED.value: ("appeal_closed",),
}


def on_status_changed(event: AppealStatusChanged, appeal: AppealFacts | None) -> list[Intent]:
    urgent = _urgent(appeal)
    status = event.to_status.value
    code = _code(event, appeal)
    intents: list[Intent] = []
    if appeal is not None and _reachable(appeal):
        for kind in _APPELLANT_KINDS.get(status, ()):
            context: dict[str, Any] = {
                "tracking_code": code,
                "appellant_name": appeal.appellant_name,
            }
            if kind == "appeal_resolved":
                context["note"] = event.note
            elif kind == "follow_up_request":
                # 12345 calls every appellant back itself; other channels take a reply.
                context["channel"] = str(appeal.channel) if appeal.channel else None
            elif kind == "appeal_closed":
                context["closed_reason"] = event.closed_reason
            intents.append(Intent(Appellant(), kind, context, urgent))
    if status == AppealStatus.REOPENED.value:
        officer_id = (appeal.officer_id if appeal else None) or event.officer_id
        if officer_id:
            intents.append(
                Intent(
                    Officer(officer_id),
                    "appeal_reopened",
                    {"tracking_code": code, "note": event.note, **_appellant(appeal)},
                    urgent,
                )
            )
    if appeal is not None and appeal.channel:
        intents.append(
            _status_callback(
                appeal.channel,
                event.appeal_id,
                external_id=appeal.external_id,
                tracking_code=event.tracking_code or appeal.tracking_code,
                status=status,
                occurred_at=event.changed_at,
                closed_reason=event.closed_reason,
                note=event.note,
                urgent=urgent,
            )
        )
    return intents


def on_escalated(event: AppealEscalated, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            SupervisorOf(event.officer_id, event.supervisor_id),
            "escalation",
            {
                "tracking_code": _code(event, appeal),
                "officer_id": event.officer_id,
                "unit": event.unit,
                "reopen_count": event.reopen_count,
                **_appellant(appeal),
            },
            _urgent(appeal),
        )
    ]


def on_extension_requested(event: ExtensionRequested, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            SupervisorOf(event.officer_id, event.supervisor_id),
            "extension_requested",
            {
                "tracking_code": _code(event, appeal),
                "officer_id": event.officer_id,
                "stage": event.stage,
                "working_days": event.working_days,
                "reason": event.reason,
                "due_at": _local(event.due_at),
            },
            _urgent(appeal),
        )
    ]


def on_extension_decided(event: ExtensionDecided, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            Officer(event.officer_id),
            "extension_decided",
            {
                "tracking_code": _code(event, appeal),
                "decision": event.decision,
                "due_at": _local(event.due_at),
                "previous_due_at": _local(event.previous_due_at),
                "note": event.note or None,
            },
            _urgent(appeal),
        )
    ]


def on_extension_cancelled(event: ExtensionCancelled, appeal: AppealFacts | None) -> list[Intent]:
    context: dict[str, Any] = {
        "tracking_code": _code(event, appeal),
        "officer_id": event.officer_id,
        "reason": event.reason,
        "cancelled_at": _local(event.cancelled_at),
    }
    urgent = _urgent(appeal)
    ruler: Audience = (
        Officer(event.supervisor_id) if event.supervisor_id else SupervisorOf(event.officer_id)
    )
    intents = [Intent(ruler, "extension_cancelled", context, urgent)]
    if event.reason == "reassigned":
        intents.append(Intent(Officer(event.officer_id), "extension_lapsed", context, urgent))
    return intents


def on_return_requested(event: ReturnRequested, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            SupervisorOf(event.officer_id),
            "return_requested",
            {
                "tracking_code": _code(event, appeal),
                "officer_id": event.officer_id,
                "reason_code": event.reason_code,
                "reason": event.reason,
                **_appellant(appeal),
            },
            _urgent(appeal),
        )
    ]


def _deadline(kind: str) -> Rule:
    def rule(
        event: AcknowledgementReminder | DeadlineWarning | DeadlineOverdue,
        appeal: AppealFacts | None,
    ) -> list[Intent]:
        officer_id = event.officer_id or (appeal.officer_id if appeal else None)
        if not officer_id:
            return []
        context: dict[str, Any] = {
            "tracking_code": _code(event, appeal),
            "stage": event.stage,
            "due_at": _local(event.due_at),
            "rule": event.rule,
        }
        if isinstance(event, AcknowledgementReminder):
            context["reminder_number"] = event.reminder_number
        # Officers' clocks do not stop at night: these go whatever the appeal's urgency.
        intents = [Intent(Officer(officer_id), kind, context, urgent=True)]
        if isinstance(event, DeadlineOverdue):
            # 催办 to the officer is 督办 for their supervisor: the limit has passed.
            intents.append(
                Intent(
                    SupervisorOf(officer_id, event.supervisor_id),
                    "overdue_supervision",
                    {**context, "officer_id": officer_id, **_appellant(appeal)},
                    urgent=True,
                )
            )
        return intents

    rule.__name__ = f"on_{kind}"
    return rule


def on_public_notice(event: PublicNoticeIssued, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            UnitLeadership(event.unit, event.supervisor_id),
            "public_notice",
            {
                "tracking_code": _code(event, appeal),
                "officer_id": event.officer_id,
                "unit": event.unit,
                "stage": event.stage,
                "due_at": _local(event.due_at),
                "rule": event.rule,
                "overdue_working_days": event.overdue_working_days,
                **_appellant(appeal),
            },
            _urgent(appeal),
        )
    ]


def on_five_ones(event: FiveOnesReminder, appeal: AppealFacts | None) -> list[Intent]:
    return [
        Intent(
            Officer(event.officer_id),
            "five_ones_reminder",
            {
                "month": event.month,
                "uncontacted": len(event.uncontacted_credit_codes),
                "enterprises_total": event.enterprises_total,
                "problems_solved": event.problems_solved,
                "month_ends_on": event.month_ends_on.isoformat(),
            },
        )
    ]


def on_follow_up_refused(event: FollowUpRefused, appeal: AppealFacts | None) -> list[Intent]:
    # The channel's own id for the appeal, when the channel that reported it submitted it.
    submitted_here = appeal is not None and appeal.channel == event.channel.value
    return [
        Intent(
            ChannelSystem(event.channel.value),
            "follow_up_refused",
            {
                "channel": event.channel.value,
                "external_id": appeal.external_id if appeal and submitted_here else None,
                "appeal_id": str(event.appeal_id),
                "tracking_code": event.tracking_code or (appeal.tracking_code if appeal else None),
                "follow_up_event_id": str(event.follow_up_event_id),
                "status": event.status.value,
                "reason": event.reason,
                "occurred_at": event.refused_at.isoformat(),
            },
            _urgent(appeal),
        )
    ]


RULES: dict[str, Rule] = {
    AppealReceived.TYPE: on_received,
    AppealAssigned.TYPE: on_assigned,
    AppealReassigned.TYPE: on_assigned,
    AppealStatusChanged.TYPE: on_status_changed,
    AppealEscalated.TYPE: on_escalated,
    ExtensionRequested.TYPE: on_extension_requested,
    ExtensionDecided.TYPE: on_extension_decided,
    ExtensionCancelled.TYPE: on_extension_cancelled,
    ReturnRequested.TYPE: on_return_requested,
    AcknowledgementReminder.TYPE: _deadline("acknowledgement_reminder"),
    DeadlineWarning.TYPE: _deadline("deadline_warning"),
    DeadlineOverdue.TYPE: _deadline("urging_notice"),
    PublicNoticeIssued.TYPE: on_public_notice,
    FiveOnesReminder.TYPE: on_five_ones,
    FollowUpRefused.TYPE: on_follow_up_refused,
}


def decide(event: Event, appeal: AppealFacts | None) -> list[Intent]:
    """The intents an event makes, in the table's order; [] for events nobody hears about."""
    rule = RULES.get(event.TYPE)
    return [] if rule is None else rule(event, appeal)
