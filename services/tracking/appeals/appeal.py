"""The appeal, and every change to it, decided in one place. Pure: no database, no broker, no
clock (each change is given its time). The workflow (`workflow.py`) loads an `Appeal`, asks
`AppealRules` for the `Change` a command or an event makes, stores it and publishes its events in
one unit of work; nothing else changes an appeal's state, history, deadlines or extensions.

What a change decides, besides the record (`record.py`) and the status (`lifecycle.py`, the one
authority on what may happen next):

- **History**: one entry per step (who, when, where the appeal stood after it, what was said).
  An event another service reports that the lifecycle refuses (an assignment of a closed appeal,
  a call-back for one not resolved) leaves the appeal as it was — record included — and only the
  history says what came and why it changed nothing; a refused call-back is also announced
  (`FollowUpRefused`) so the channel that reported it learns why.
- **Deadlines**, per step:
  - received: acknowledge, first contact (not for anonymous appeals) and resolve, from the
    policy; the history says which limit won and why;
  - reassigned to another officer: the new officer's acknowledgement counts afresh from the
    reassignment; the appellant's resolve deadline keeps running;
  - accepted / first contact / resolved: that stage is met; a resolution starts the follow-up
    window (回访);
  - reopened (重办): acknowledge, first contact and resolve start afresh;
  - which deadlines run at all follows from the status (`deadlines/alarms.py`, `RUNNING`): a stage
    that no longer applies never fires and is not what the officer's queue is due on.
- **Extensions** (延期): one pending request at a time, for the running resolve deadline, asked
  before it falls due; a dispatcher or the unit's supervisor grants (the deadline moves) or
  refuses it. A request whose round ends first — resolved, moved to another officer, closed — is
  cancelled (`ExtensionCancelled`): nobody may grant it any more.
- **Events** to publish, in the order the steps happened.

Events from other services are idempotent here as in the lifecycle; the workflow keeps the ones
heard before the appeal's receipt until the receipt comes (`received` is False until then), so
every arrival order gives the same final state and the same announcements, in lifecycle order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from services.tracking.appeals.authority import may_act
from services.tracking.appeals.lifecycle import (
    Accept,
    Action,
    AppealState,
    Assign,
    Contact,
    Escalation,
    FollowUp,
    FollowUpWindowExpired,
    Outcome,
    ReassignmentRequest,
    Refused,
    RequestExtension,
    RequestReassignment,
    Resolve,
    ReturnRejected,
    ReturnRequest,
    StatusChange,
    decide,
)
from services.tracking.appeals.record import (
    AppealRecord,
    apply_assigned,
    apply_assistants,
    apply_merged,
    apply_reassigned,
    apply_received,
    apply_return_decided,
)
from services.tracking.deadlines.alarms import OFFICER_STAGES, Alarm, Deadline, Fired, runs
from services.tracking.deadlines.policy import ExtensionRefused, Stage, StageDeadline
from services.tracking.deadlines.timekeeping import Timekeeping
from shared.clock import ZONE
from shared.events import (
    AcknowledgementReminder,
    AppealAssigned,
    AppealEscalated,
    AppealMarkedUnreasonable,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AppealStatusChanged,
    AssistantsChanged,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionCancelled,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpRecorded,
    FollowUpRefused,
    PublicNoticeIssued,
    ReassignmentRequested,
    ReturnDecided,
    ReturnRequested,
)
from shared.vocabulary import AppealStatus, AppealType, Category, Satisfaction, Urgency

S = AppealStatus
SERVICE = "tracking"
# The history's column widths: a long note is cut, never a failed message.
ACTOR_CHARS = 100
NOTE_CHARS = 1000
# An appeal whose type nobody could tell is held to the `help` limit (10 working days): neither
# the consultation's 2 days nor the complaint's 15.
UNKNOWN_TYPE = AppealType.HELP
# An extension is asked in working days; a month of them is the most one request may ask.
MAX_EXTENSION_DAYS = 22

STAGE_ZH = {
    Stage.ACKNOWLEDGE: "签收",
    Stage.FIRST_CONTACT: "首次联系",
    Stage.RESOLVE: "办结",
    Stage.FOLLOW_UP: "回访",
}
ALARM_KIND = {
    Alarm.REMINDER: "acknowledgement_reminder",
    Alarm.WARNING: "deadline_warning",
    Alarm.OVERDUE: "deadline_overdue",
    Alarm.PUBLIC_NOTICE: "public_notice",
}


# --- what an appeal holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Milestones:
    """When each step last happened (the rates and the queue read these), and the
    unreasonable mark."""

    accepted_at: datetime | None = None
    first_contacted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # The last conclusive follow-up (回访): the appellant answered (not `unreachable`).
    followed_up_at: datetime | None = None
    follow_up_solved: bool | None = None
    follow_up_satisfaction: str | None = None
    # 不合理诉求: judged unreasonable after review, so left out of the rates.
    unreasonable_at: datetime | None = None
    unreasonable_by: str | None = None
    unreasonable_reason: str | None = None


@dataclass(frozen=True)
class PendingExtension:
    extension_id: int
    stage: Stage
    working_days: int
    reason: str
    requested_by: str
    requested_at: datetime
    previous_due_at: datetime


@dataclass(frozen=True)
class OfficerInfo:
    """The lead officer as the directory last said: whom to escalate to, which unit."""

    officer_id: str
    supervisor_id: str | None
    unit: str | None


@dataclass(frozen=True)
class Appeal:
    appeal_id: UUID
    record: AppealRecord
    state: AppealState = field(default_factory=AppealState)
    milestones: Milestones = field(default_factory=Milestones)
    deadlines: Mapping[Stage, Deadline] = field(default_factory=dict)
    pending_extension: PendingExtension | None = None
    officer: OfficerInfo | None = None

    @classmethod
    def unknown(cls, appeal_id: UUID) -> Appeal:
        """An appeal tracking has not heard of: only its id."""
        return cls(appeal_id, AppealRecord(appeal_id=str(appeal_id)))

    @property
    def received(self) -> bool:
        """Its receipt has been heard (the workflow keeps what comes before it waiting)."""
        return self.record.received_at is not None

    def due(self) -> tuple[datetime | None, Stage | None]:
        """The officer's nearest unmet deadline among those running now (the queue sorts on
        it); none once resolved or closed."""
        own = [
            d
            for d in self.deadlines.values()
            if d.stage in OFFICER_STAGES and d.met_at is None and runs(d.stage, self.state.status)
        ]
        if not own:
            return None, None
        nearest = min(own, key=lambda d: d.due_at)
        return nearest.due_at, nearest.stage


# --- what a change is -------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    entry_id: UUID  # derived from the cause, so a replay adds nothing
    kind: str
    status: AppealStatus  # where the appeal stood after it
    at: datetime
    actor: str
    note: str | None


ExtensionStatus = Literal["pending", "granted", "refused", "cancelled"]


@dataclass(frozen=True)
class ExtensionChange:
    """An extension request made (`pending`) or settled (granted, refused, cancelled)."""

    request: PendingExtension
    status: ExtensionStatus
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    new_due_at: datetime | None = None


@dataclass(frozen=True)
class CsoContact:
    """A contact with an enterprise's appellant, for the five ones (五个一)."""

    ref: str
    officer_id: str
    credit_code: str
    contacted_at: datetime


@dataclass(frozen=True)
class Change:
    before: Appeal
    after: Appeal
    history: tuple[HistoryLine, ...] = ()
    events: tuple[Event, ...] = ()
    extensions: tuple[ExtensionChange, ...] = ()
    cso_contacts: tuple[CsoContact, ...] = ()
    alarms: tuple[tuple[Stage, Alarm], ...] = ()  # what fired (for the metrics)

    @property
    def changed(self) -> bool:
        return bool(self.history) or self.after != self.before


@dataclass(frozen=True)
class Cause:
    """What a change comes from: an event's or a request's id (history entries derive theirs
    from it) and the time the history records."""

    event_id: UUID
    at: datetime


class NotYours(Exception):
    """Someone acted on an appeal that is not (or no longer) theirs to act on (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_KIND = re.compile(r"(?<!^)(?=[A-Z])")


def kind_of(action: Action) -> str:
    """`RequestReturn` → `request_return`: the history's kind for an action."""
    return _KIND.sub("_", type(action).__name__).lower()


# --- deciding ---------------------------------------------------------------------------------


class _Draft:
    """A change being put together: the appeal as it stands so far, and what to record."""

    def __init__(self, appeal: Appeal, cause: Cause) -> None:
        self.before = appeal
        self.appeal = appeal
        self.cause = cause
        self.history: list[HistoryLine] = []
        self.events: list[Event] = []
        self.extensions: list[ExtensionChange] = []
        self.cso_contacts: list[CsoContact] = []
        self.alarms: list[tuple[Stage, Alarm]] = []

    def entry_id(self) -> UUID:
        """The first entry takes the cause's id, the others ids derived from it."""
        n = len(self.history)
        return self.cause.event_id if n == 0 else uuid.uuid5(self.cause.event_id, f"history:{n}")

    def note(
        self,
        kind: str,
        actor: str,
        note: str | None,
        *,
        status: AppealStatus | None = None,
        at: datetime | None = None,
    ) -> None:
        self.history.append(
            HistoryLine(
                entry_id=self.entry_id(),
                kind=kind,
                status=status or self.appeal.state.status,
                at=at or self.cause.at,
                actor=actor[:ACTOR_CHARS],
                note=None if note is None else note[:NOTE_CHARS] or None,
            )
        )

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def set(self, **changes: object) -> None:
        self.appeal = replace(self.appeal, **changes)  # type: ignore[arg-type]

    def deadline(self, stage: Stage) -> Deadline | None:
        return self.appeal.deadlines.get(stage)

    def put_deadline(self, deadline: Deadline) -> None:
        self.set(deadlines={**self.appeal.deadlines, deadline.stage: deadline})

    def meet(self, stage: Stage, at: datetime) -> None:
        deadline = self.deadline(stage)
        if deadline is not None:
            self.put_deadline(deadline.met(at))

    def finish(self) -> Change:
        return Change(
            before=self.before,
            after=self.appeal,
            history=tuple(self.history),
            events=tuple(self.events),
            extensions=tuple(self.extensions),
            cso_contacts=tuple(self.cso_contacts),
            alarms=tuple(self.alarms),
        )


def unchanged(appeal: Appeal) -> Change:
    return Change(before=appeal, after=appeal)


class AppealRules:
    """Every change an appeal can go through, as `(appeal, …, cause) -> Change`."""

    def __init__(self, time: Timekeeping) -> None:
        self.time = time

    # -- what other services report ---------------------------------------------------------

    def receive(self, appeal: Appeal, event: AppealReceived, cause: Cause) -> Change:
        """The receipt: the record, (None → received) announced, the officer's deadlines set."""
        if appeal.received:
            return unchanged(appeal)  # the same receipt again
        draft = _Draft(appeal, cause)
        anonymous = event.appellant.anonymous
        record = replace(apply_received(appeal.record, event), status=S.RECEIVED)
        draft.set(record=record, state=replace(appeal.state, anonymous=anonymous))
        channel = f"channel:{event.channel}"
        draft.note("received", channel, None, status=S.RECEIVED)
        draft.publish(
            AppealStatusChanged(
                appeal_id=appeal.appeal_id,
                from_status=None,
                to_status=S.RECEIVED,
                changed_at=cause.at,
                changed_by=channel,
                tracking_code=event.tracking_code,
            )
        )
        self._set_deadlines(
            draft, self._officer_schedule(record, event.received_at, anonymous), "deadlines"
        )
        return draft.finish()

    def merge(self, appeal: Appeal, event: AppealMerged, cause: Cause) -> Change:
        """A repeat joined the appeal: one more submission; the status does not move. The same
        repeat again (under another event id) changes nothing."""
        record = apply_merged(appeal.record, event)
        if record == appeal.record:
            return unchanged(appeal)
        draft = _Draft(appeal, cause)
        draft.set(record=record)
        draft.note("merged", f"channel:{event.channel}", event.reason)
        return draft.finish()

    def assign(
        self, appeal: Appeal, event: AppealAssigned | AppealReassigned, cause: Cause
    ) -> Change:
        """Dispatch's assignment or reassignment (an `Assign`). An older one heard late (a
        replay) changes nothing: the newer stands."""
        if isinstance(event, AppealAssigned):
            at, kind = event.assigned_at, "assigned"
            note = f"派给 {event.officer_id}：{event.reason}"
            record = apply_assigned(appeal.record, event)
        else:
            at, kind = event.reassigned_at, "reassigned"
            note = f"由 {event.from_officer_id} 改派给 {event.officer_id}：{event.reason}"
            record = apply_reassigned(appeal.record, event)
        last = appeal.record.assigned_at
        if last is not None and at < last:
            return unchanged(appeal)
        draft = _Draft(appeal, cause)
        self._event_action(
            draft, Assign(officer_id=event.officer_id, note=note), kind, note, record
        )
        return draft.finish()

    def change_assistants(self, appeal: Appeal, event: AssistantsChanged, cause: Cause) -> Change:
        draft = _Draft(appeal, cause)
        draft.set(record=apply_assistants(appeal.record, event))
        names = "、".join(event.assistant_officer_ids) or "无"
        draft.note("assistants_changed", event.changed_by, f"协办：{names}")
        return draft.finish()

    def rule_on_return(self, appeal: Appeal, event: ReturnDecided, cause: Cause) -> Change:
        """The dispatcher's ruling on a return (退单): rejected, the appeal goes back where it
        was; accepted, the move itself comes next as `AppealReassigned`."""
        ruling = "同意" if event.decision == "accept" else "驳回"
        note = f"{event.officer_id} 的退单申请：{ruling}"
        if event.note:
            note += f"（{event.note}）"
        record = apply_return_decided(appeal.record, event)
        draft = _Draft(appeal, replace(cause, at=event.decided_at))
        if event.decision == "reject":
            action = ReturnRejected(note=event.note, by=event.decided_by)
            self._event_action(draft, action, "return_decided", note, record)
        else:
            draft.set(record=record)
            draft.note("return_decided", event.decided_by, note)
        return draft.finish()

    def follow_up(self, appeal: Appeal, event: FollowUpRecorded, cause: Cause) -> Change:
        """The call-back's result (回访). Refused (the appeal is not awaiting one): the history
        says so and `FollowUpRefused` tells the channel that reported it."""
        said = f"回访：{'已解决' if event.solved else '未解决'}，{event.satisfaction}"
        note = f"{said}；{event.note}" if event.note else said
        action = FollowUp(
            ref=str(cause.event_id),
            contacted=event.contacted,
            solved=event.solved,
            satisfaction=event.satisfaction,
            note=event.note or "",
            by=f"channel:{event.channel}",
        )
        draft = _Draft(appeal, replace(cause, at=event.recorded_at))
        refused = self._event_action(draft, action, "follow_up", note, appeal.record)
        if refused is not None:
            draft.publish(
                FollowUpRefused(
                    appeal_id=appeal.appeal_id,
                    follow_up_event_id=cause.event_id,
                    channel=event.channel,
                    status=appeal.state.status,
                    reason=refused.reason,
                    refused_at=event.recorded_at,
                    tracking_code=appeal.record.tracking_code,
                )
            )
        return draft.finish()

    # -- what officers and their supervisors do --------------------------------------------

    def officer_act(self, appeal: Appeal, action: Action, cause: Cause) -> Change:
        """An officer's step (accept, contact, progress, resolve, return): the lead's, or an
        assisting officer's contact or progress note. NotYours, or lifecycle.Refused."""
        self._check_officer(appeal, action)
        draft = _Draft(appeal, cause)
        self._act(draft, action)
        return draft.finish()

    def request_extension(
        self,
        appeal: Appeal,
        action: RequestExtension,
        cause: Cause,
        *,
        extension_id: int,
    ) -> Change:
        """延期: more working days for the running resolve deadline, asked before it falls due,
        one pending at a time (Refused otherwise)."""
        self._check_officer(appeal, action)
        status = appeal.state.status
        deadline = appeal.deadlines.get(Stage.RESOLVE)
        if deadline is None or deadline.met_at is not None or not runs(Stage.RESOLVE, status):
            raise _refused(appeal, "RequestExtension", "the appeal has no running resolve deadline")
        if cause.at > deadline.due_at:
            raise _refused(
                appeal,
                "RequestExtension",
                f"an extension must be asked for before the deadline "
                f"({deadline.due_at.isoformat()}); it has passed",
            )
        if appeal.pending_extension is not None:
            raise _refused(appeal, "RequestExtension", "an extension request is already pending")
        draft = _Draft(appeal, cause)
        self._act(draft, action, kind="extension_requested")
        request = PendingExtension(
            extension_id=extension_id,
            stage=Stage.RESOLVE,
            working_days=action.days,
            reason=action.reason,
            requested_by=action.by,
            requested_at=cause.at,
            previous_due_at=deadline.due_at,
        )
        draft.set(pending_extension=request)
        draft.extensions.append(ExtensionChange(request, "pending"))
        draft.publish(
            ExtensionRequested(
                appeal_id=appeal.appeal_id,
                extension_id=extension_id,
                officer_id=action.by,
                supervisor_id=_supervisor(appeal, action.by),
                stage=Stage.RESOLVE.value,
                working_days=action.days,
                reason=action.reason,
                due_at=deadline.due_at,
                requested_at=cause.at,
            )
        )
        return draft.finish()

    def decide_extension(
        self, appeal: Appeal, *, grant: bool, by: str, note: str, cause: Cause
    ) -> Change:
        """The ruling on the pending extension. Granted, the resolve deadline moves by the
        working days asked, counted from the day it fell due; its warning and public notice
        move with it."""
        pending = appeal.pending_extension
        if pending is None:
            raise _refused(appeal, "DecideExtension", "no extension request is pending")
        deadline = appeal.deadlines[pending.stage]
        draft = _Draft(appeal, cause)
        due_at = deadline.due_at
        if grant:
            if deadline.met_at is not None:
                raise _refused(
                    appeal,
                    "DecideExtension",
                    f"the {pending.stage} stage is already done; refuse it",
                )
            try:
                moved = self.time.policy.extend(
                    deadline.due,
                    pending.working_days,
                    requested_at=pending.requested_at,
                    reason=pending.reason,
                    calendar=self.time.calendar,
                )
            except ExtensionRefused as exc:
                raise _refused(appeal, "DecideExtension", str(exc)) from None
            due_at = moved.due_at
            draft.put_deadline(
                deadline.extended(
                    moved,
                    {
                        "extension_id": pending.extension_id,
                        "working_days": pending.working_days,
                        "reason": pending.reason,
                        "requested_by": pending.requested_by,
                        "requested_at": pending.requested_at.isoformat(),
                        "granted_by": by,
                        "previous_due_at": deadline.due_at.isoformat(),
                        "due_at": due_at.isoformat(),
                    },
                    cause.at,
                )
            )
        status: ExtensionStatus = "granted" if grant else "refused"
        draft.set(pending_extension=None)
        draft.extensions.append(
            ExtensionChange(pending, status, by, cause.at, note, new_due_at=due_at)
        )
        ruling = "同意" if grant else "不同意"
        said = f"延期 {pending.working_days} 个工作日：{ruling}；办结时限 {due_at.isoformat()}"
        draft.note("extension_decided", by, f"{said}（{note}）" if note else said)
        draft.publish(
            ExtensionDecided(
                appeal_id=appeal.appeal_id,
                extension_id=pending.extension_id,
                officer_id=pending.requested_by,
                decision="grant" if grant else "refuse",
                decided_by=by,
                note=note,
                previous_due_at=deadline.due_at,
                due_at=due_at,
                decided_at=cause.at,
            )
        )
        return draft.finish()

    def mark_unreasonable(self, appeal: Appeal, *, by: str, reason: str, cause: Cause) -> Change:
        """不合理诉求: left out of the rates; the status does not change; the mark is final."""
        m = appeal.milestones
        if m.unreasonable_at is not None:
            raise _refused(
                appeal,
                "MarkUnreasonable",
                f"already marked unreasonable by {m.unreasonable_by} at "
                f"{m.unreasonable_at.isoformat()}: {m.unreasonable_reason}",
            )
        draft = _Draft(appeal, cause)
        by = by[:ACTOR_CHARS]
        draft.set(
            milestones=replace(
                m, unreasonable_at=cause.at, unreasonable_by=by, unreasonable_reason=reason
            )
        )
        draft.note("unreasonable", by, reason)
        draft.publish(
            AppealMarkedUnreasonable(
                appeal_id=appeal.appeal_id, marked_by=by, reason=reason, marked_at=cause.at
            )
        )
        return draft.finish()

    # -- tracking's clock -------------------------------------------------------------------

    def fire(self, appeal: Appeal, now: datetime, cause: Cause) -> Change:
        """Fires what has fallen due by `now` (only deadlines running in the appeal's status),
        in order of their due times, each alarm once."""
        draft = _Draft(appeal, cause)
        every = self.time.reminder_every
        for deadline in sorted(appeal.deadlines.values(), key=lambda d: d.due_at):
            # The status may have moved on during this round (a window that closed it).
            current = draft.deadline(deadline.stage) or deadline
            fired, marked = current.fire(draft.appeal.state.status, now, every)
            draft.put_deadline(marked)
            for alarm in fired:
                draft.alarms.append((deadline.stage, alarm.alarm))
                self._signal(draft, marked, alarm, now)
        return draft.finish()

    def _signal(self, draft: _Draft, deadline: Deadline, fired: Fired, now: datetime) -> None:
        appeal = draft.appeal
        stage = deadline.stage
        if fired.alarm is Alarm.WINDOW_END:
            self._event_action(
                draft,
                FollowUpWindowExpired(),
                "closed_no_feedback",
                None,
                appeal.record,
                at=now,
            )
            return
        officer_id = appeal.state.officer_id
        officer = (
            appeal.officer if appeal.officer and appeal.officer.officer_id == officer_id else None
        )
        supervisor = officer.supervisor_id if officer else None
        unit = officer.unit if officer else None
        common = {
            "appeal_id": appeal.appeal_id,
            "stage": stage.value,
            "officer_id": officer_id,
            "supervisor_id": supervisor,
            "unit": unit,
            "due_at": deadline.due_at,
            "rule": deadline.reason[:500],
            "fired_at": now,
            "tracking_code": appeal.record.tracking_code,
        }
        what = STAGE_ZH[stage]
        due = deadline.due_at.isoformat()
        event: Event
        if fired.alarm is Alarm.REMINDER:
            event = AcknowledgementReminder(**common, reminder_number=fired.number)
            note = f"第 {fired.number} 次提醒签收；时限 {due}"
        elif fired.alarm is Alarm.WARNING:
            event = DeadlineWarning(**common)
            note = f"{what}时限将到（{due}）：{deadline.reason}"
        elif fired.alarm is Alarm.OVERDUE:
            event = DeadlineOverdue(**common)
            note = f"{what}超时，催办；已报 {supervisor or '（未知）'}：{deadline.reason}"
        else:
            days = self.time.policy.public_notice_after_working_days
            event = PublicNoticeIssued(**common, overdue_working_days=days)
            note = f"{what}超时 {days} 个工作日仍未办理，通报 {unit or ''}"
        draft.publish(event)
        draft.note(ALARM_KIND[fired.alarm], SERVICE, note, at=now)
        if (
            fired.alarm is Alarm.OVERDUE
            and stage is Stage.ACKNOWLEDGE
            and appeal.state.status is S.ASSIGNED
            and officer_id is not None
        ):
            # Not acknowledged in time: dispatch finds someone else.
            action = RequestReassignment(
                reason_code="not_acknowledged", exclude_officer_ids=(officer_id,)
            )
            try:
                self._act(draft, action, kind="reassignment_requested", at=now)
            except Refused:
                pass  # the appeal moved on meanwhile: nothing to ask

    # -- the lifecycle's steps and what follows from them ------------------------------------

    def _check_officer(self, appeal: Appeal, action: Action) -> None:
        why = may_act(
            action,
            action.by,
            lead=appeal.state.officer_id,
            assistants=appeal.record.assistant_officer_ids,
        )
        if why is not None:
            raise NotYours(why)

    def _event_action(
        self,
        draft: _Draft,
        action: Action,
        kind: str,
        note: str | None,
        record: AppealRecord,
        *,
        at: datetime | None = None,
    ) -> Refused | None:
        """An event's step: applied with the record it brings; refused, the appeal (record
        included) stays as it was and the history says why."""
        try:
            self._act(draft, action, kind=kind, note=note, record=record, at=at)
        except Refused as refused:
            said = f"{note} — {refused.reason}" if note else refused.reason
            draft.note(f"{kind}_refused", action.by, said, at=at)
            return refused
        return None

    def _act(
        self,
        draft: _Draft,
        action: Action,
        *,
        kind: str | None = None,
        note: str | None = None,
        record: AppealRecord | None = None,
        at: datetime | None = None,
    ) -> Outcome:
        """Asks the lifecycle (raises Refused), then applies its answer: the state, the record,
        the milestones, the history, the events and the deadlines."""
        at = at or draft.cause.at
        before = draft.appeal
        outcome = decide(before.state, action)
        if not outcome.changed:
            return outcome
        new = outcome.state
        text = note if note is not None else "; ".join(e.note for e in outcome.history)
        said = text[:NOTE_CHARS] or None
        draft.set(
            state=new,
            record=replace(record or before.record, status=new.status, officer_id=new.officer_id),
            milestones=_milestones(before, new, action, at),
        )
        for entry in outcome.history:
            draft.note(kind or kind_of(action), entry.by, said, status=entry.to_status, at=at)
        for effect in outcome.effects:
            event = self._event_of(draft.appeal, effect, action.by, said, at)
            if event is not None:
                draft.publish(event)
        self._move_deadlines(draft, before, action, at)
        if isinstance(action, Contact) and draft.appeal.record.enterprise_credit_code:
            # A contact with an enterprise counts for its CSO's five ones (五个一).
            draft.cso_contacts.append(
                CsoContact(
                    ref=f"appeal:{draft.cause.event_id}",
                    officer_id=action.by,
                    credit_code=draft.appeal.record.enterprise_credit_code,
                    contacted_at=at,
                )
            )
        return outcome

    def _move_deadlines(self, draft: _Draft, before: Appeal, action: Action, at: datetime) -> None:
        after = draft.appeal.state
        record = draft.appeal.record
        if after.status is S.CLOSED:
            if isinstance(action, FollowUp):
                draft.meet(Stage.FOLLOW_UP, at)
            self._cancel_extension(draft, "closed", at)
        elif isinstance(action, Assign) and before.state.officer_id not in (None, after.officer_id):
            if before.received:
                fresh = self._restart(record, Stage.ACKNOWLEDGE, at, "reassigned")
                self._set_deadlines(draft, [fresh], f"reassigned to {after.officer_id}", at=at)
            self._cancel_extension(draft, "reassigned", at)
        elif isinstance(action, Accept):
            draft.meet(Stage.ACKNOWLEDGE, at)
        elif isinstance(action, Contact):
            draft.meet(Stage.FIRST_CONTACT, at)
        elif isinstance(action, Resolve):
            draft.meet(Stage.RESOLVE, at)
            fresh = self._restart(record, Stage.FOLLOW_UP, at, "resolved")
            self._set_deadlines(draft, [fresh], "resolved; the follow-up window", at=at)
            self._cancel_extension(draft, "resolved", at)
        elif isinstance(action, FollowUp) and after.status is S.REOPENED:
            draft.meet(Stage.FOLLOW_UP, at)
            fresh_round = self._officer_schedule(record, at, after.anonymous, basis="reopened")
            self._set_deadlines(draft, fresh_round, "reopened (重办)", at=at)

    def _cancel_extension(
        self, draft: _Draft, why: Literal["resolved", "reassigned", "closed"], at: datetime
    ) -> None:
        """The round a pending extension was asked for is over: nobody may grant it now."""
        pending = draft.appeal.pending_extension
        if pending is None:
            return
        draft.set(pending_extension=None)
        draft.extensions.append(
            ExtensionChange(pending, "cancelled", SERVICE, at, f"cancelled: {why}")
        )
        draft.note(
            "extension_cancelled",
            SERVICE,
            f"延期申请（{pending.working_days} 个工作日）已撤销：{why}",
            at=at,
        )
        draft.publish(
            ExtensionCancelled(
                appeal_id=draft.appeal.appeal_id,
                extension_id=pending.extension_id,
                officer_id=pending.requested_by,
                supervisor_id=_supervisor(draft.before, pending.requested_by),
                reason=why,
                cancelled_at=at,
                tracking_code=draft.appeal.record.tracking_code,
            )
        )

    def _event_of(
        self, appeal: Appeal, effect: object, by: str, note: str | None, at: datetime
    ) -> Event | None:
        match effect:
            case StatusChange(from_status=before, to_status=after, officer_id=officer):
                return AppealStatusChanged(
                    appeal_id=appeal.appeal_id,
                    from_status=before,
                    to_status=after,
                    officer_id=officer,
                    changed_at=at,
                    changed_by=by,
                    note=note,
                    closed_reason=appeal.state.closed_reason if after is S.CLOSED else None,
                    tracking_code=appeal.record.tracking_code,
                )
            case ReturnRequest(officer_id=officer, reason_code=code, reason=reason):
                return ReturnRequested(
                    appeal_id=appeal.appeal_id, officer_id=officer, reason_code=code, reason=reason
                )
            case ReassignmentRequest(reason_code=code, exclude_officer_ids=exclude):
                return ReassignmentRequested(
                    appeal_id=appeal.appeal_id, reason_code=code, exclude_officer_ids=list(exclude)
                )
            case Escalation(officer_id=officer, reopen_count=count):
                info = (
                    appeal.officer
                    if appeal.officer and appeal.officer.officer_id == officer
                    else None
                )
                return AppealEscalated(
                    appeal_id=appeal.appeal_id,
                    officer_id=officer,
                    supervisor_id=info.supervisor_id if info else None,
                    unit=info.unit if info else None,
                    reason="reopened_again",
                    reopen_count=count,
                    escalated_at=at,
                )
        # ExtensionRequest: request_extension publishes ExtensionRequested with the request's id.
        return None

    # -- deadlines --------------------------------------------------------------------------

    def _officer_schedule(
        self, record: AppealRecord, start: datetime, anonymous: bool, *, basis: str = "received"
    ) -> list[StageDeadline]:
        """The officer's deadlines from `start`: acknowledge, first contact (none for an
        anonymous appeal: nobody to contact) and resolve."""
        schedule = self.time.policy.schedule(*_key(record), start, self.time.calendar, basis=basis)
        skip = {Stage.FOLLOW_UP, *((Stage.FIRST_CONTACT,) if anonymous else ())}
        return [d for d in schedule if d.stage not in skip]

    def _restart(
        self, record: AppealRecord, stage: Stage, start: datetime, basis: str
    ) -> StageDeadline:
        return self.time.policy.stage_deadline(
            stage, *_key(record), start, self.time.calendar, start_basis=basis
        )

    def _set_deadlines(
        self, draft: _Draft, due: list[StageDeadline], why: str, *, at: datetime | None = None
    ) -> None:
        """Sets the deadlines afresh and says in the history which limit applied to each."""
        for stage_due in due:
            draft.put_deadline(Deadline.fresh(stage_due))
        if due:
            # Local time, to the minute: the line is read by people (the console's timeline).
            lines = [
                f"{d.stage}: {d.due_at.astimezone(ZONE):%Y-%m-%d %H:%M} ({d.reason})" for d in due
            ]
            draft.note("deadlines_set", SERVICE, f"{why}: " + "; ".join(lines), at=at)


def _refused(appeal: Appeal, action: str, reason: str) -> Refused:
    """A 409 that is not the lifecycle's table but this module's rules (extensions, marks)."""
    return Refused(appeal.state.status, action, reason)


def _supervisor(appeal: Appeal, officer_id: str) -> str | None:
    info = appeal.officer
    return info.supervisor_id if info is not None and info.officer_id == officer_id else None


def _key(record: AppealRecord) -> tuple[str, str, str]:
    return (
        record.appeal_type or UNKNOWN_TYPE,
        record.urgency or Urgency.NORMAL,
        record.category or Category.OTHER,
    )


def _milestones(before: Appeal, after: AppealState, action: Action, at: datetime) -> Milestones:
    m = before.milestones
    if isinstance(action, Accept):
        m = replace(m, accepted_at=at)
    if isinstance(action, Contact) and m.first_contacted_at is None:
        m = replace(m, first_contacted_at=at)
    if isinstance(action, Resolve):
        m = replace(m, resolved_at=at)
    if isinstance(action, FollowUp) and action.satisfaction is not Satisfaction.UNREACHABLE:
        m = replace(
            m,
            followed_up_at=at,
            follow_up_solved=action.solved,
            follow_up_satisfaction=action.satisfaction.value,
        )
    if after.status is S.CLOSED and before.state.status is not S.CLOSED:
        m = replace(m, closed_at=at)
    return m
