"""The lifecycle of an appeal: the single authority on what may happen next. Pure: no database,
no broker, no clock (the caller stamps history entries with the time it received the action).

    received → assigned → accepted (签收) → in_progress → resolved (办结) → follow-up → closed

with returns (退单: `returned` until dispatch rules on it) and reopening (重办: an unsolved or
unsatisfied follow-up sends it back to the same officer; from the second time on it is escalated).

`decide(state, action)` answers an `Outcome` (the new state, the history entries to append, the
effects to publish) or raises `Refused` with an English reason naming the status and the action
(the API answers 409 with it; a consumer logs it and changes nothing).

Decisions, so nobody has to guess:

- **Who may act** is the caller's check (403, not 409): `decide` never compares `by` with the
  officer on the appeal; `by` only goes into the history.
- **The table** `ALLOWED` says, per (status, action type), the statuses the action may lead to.
  A pair not in it is refused. Guards on top of it: a resolution needs a contact with the
  appellant recorded since the last (re)assignment or reopening, unless the appeal is anonymous,
  and a non-blank text.
- **Events are idempotent, commands are not repeated silently.** Dispatch's and the call-back's
  events applied twice in a row change nothing: `Assign` to the officer who already has the
  appeal is a no-op (in any status, so a redelivered `AppealAssigned` never undoes an accept or a
  pending return); a `FollowUp` whose `ref` was already applied is a no-op (so an `unreachable`
  result is counted once); a second `ReturnRejected` or `FollowUpWindowExpired` is refused (no
  return pending / already closed), which also leaves the state as it was. Officers' commands
  that would repeat a status are refused ("already accepted", "a return is already pending",
  "already resolved"); `Contact`, `Progress` and `RequestExtension` may be repeated (each is a
  new record).
- **Returned** is the status while a return waits for the dispatcher: the officer may do nothing
  on it meanwhile (no contact, progress or resolution); `ReturnRejected` puts it back in the
  status it had, with the same officer; an accepted return changes nothing here — dispatch's
  `AppealReassigned` that follows is an `Assign`.
- **Accept first**: contact, progress, resolution and extensions need the appeal accepted.
  Resolving straight from `accepted` (a consultation answered in the first call) is allowed;
  `in_progress` is optional.
- **Reopened** (重办) keeps the officer, forgets the contact and the resolution of the previous
  round (the history keeps them) and must be accepted again (签收) before it is worked on: a
  reopened appeal is new work with a fresh acknowledgement limit. It may also be returned. The
  second and every later reopening sets `escalated` and emits `Escalation`.
- **Closed** is final: `closed_reason` is `resolved` (followed up: solved, and satisfied or
  basically satisfied) or `no_feedback` (the follow-up window ran out while it was resolved:
  unreachable appellants, anonymous appeals).
- **Status changes** emit `StatusChange` (→ `AppealStatusChanged` on appeals.lifecycle); changes
  that keep the status (a contact, a progress note, an unreachable call-back, a request) are
  history entries only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from shared.vocabulary import AppealStatus, Satisfaction

S = AppealStatus

ContactMethod = Literal["phone", "visit", "sms"]
ClosedReason = Literal["resolved", "no_feedback"]

# Satisfaction answers that close an appeal when it is also solved.
SATISFIED: frozenset[Satisfaction] = frozenset(
    {Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED}
)
# From this reopening on, the appeal is escalated.
ESCALATE_AT_REOPEN = 2


# ---------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class AppealState:
    """What the lifecycle needs to know about one appeal."""

    status: AppealStatus = S.RECEIVED
    officer_id: str | None = None  # the lead officer; None only while received
    anonymous: bool = False  # no call-back possible, no contact needed to resolve
    # A contact with the appellant was recorded since the last (re)assignment or reopening.
    contacted: bool = False
    resolution: str | None = None  # what was done, for the current round
    reopen_count: int = 0
    escalated: bool = False
    # While returned: the status to go back to if the dispatcher rejects the return.
    status_before_return: AppealStatus | None = None
    follow_up_refs: tuple[str, ...] = ()  # every follow-up applied (its ref), in order
    unreachable_count: int = 0
    closed_reason: ClosedReason | None = None

    @property
    def return_pending(self) -> bool:
        return self.status is S.RETURNED

    @property
    def follow_up_attempts(self) -> int:
        return len(self.follow_up_refs)


# ---------------------------------------------------------------------------------------------
# Actions. Officers' commands carry `by` (the officer); events carry who produced them.


@dataclass(frozen=True)
class Assign:
    """Event: dispatch's `AppealAssigned` or `AppealReassigned` (to `officer_id`)."""

    officer_id: str
    note: str = ""
    by: str = "dispatch"


@dataclass(frozen=True)
class Accept:
    """Officer: acknowledge the appeal (签收)."""

    by: str


@dataclass(frozen=True)
class Contact:
    """Officer: a contact with the appellant."""

    by: str
    method: ContactMethod
    note: str = ""


@dataclass(frozen=True)
class Progress:
    """Officer: work has started / a progress note."""

    by: str
    note: str = ""


@dataclass(frozen=True)
class Resolve:
    """Officer: done (办结), with what was done."""

    by: str
    resolution: str


@dataclass(frozen=True)
class RequestReturn:
    """Officer: asks to give the appeal back (退单); the duty dispatcher rules on it."""

    by: str
    reason_code: str
    reason: str


@dataclass(frozen=True)
class ReturnRejected:
    """Event: dispatch's `ReturnDecided` with `reject`: it stays with the officer."""

    note: str = ""
    by: str = "dispatch"


@dataclass(frozen=True)
class RequestReassignment:
    """Tracking asks dispatch to move the appeal (not acknowledged in time, officer on leave)."""

    reason_code: str
    exclude_officer_ids: tuple[str, ...] = ()
    by: str = "tracking"


@dataclass(frozen=True)
class RequestExtension:
    """Officer: asks for more time (延期); the dispatcher approves it elsewhere."""

    by: str
    days: int
    reason: str


@dataclass(frozen=True)
class FollowUp:
    """Event: the call-back's result (`FollowUpRecorded`). `ref` identifies it (the envelope's
    event id): the same ref twice is a redelivery and changes nothing."""

    ref: str
    contacted: bool
    solved: bool
    satisfaction: Satisfaction
    note: str = ""
    by: str = "follow-up"


@dataclass(frozen=True)
class FollowUpWindowExpired:
    """Event (from tracking's clock): no conclusive follow-up came in time."""

    by: str = "tracking"


Action = (
    Assign
    | Accept
    | Contact
    | Progress
    | Resolve
    | RequestReturn
    | ReturnRejected
    | RequestReassignment
    | RequestExtension
    | FollowUp
    | FollowUpWindowExpired
)

ACTIONS: tuple[type[Action], ...] = (
    Assign,
    Accept,
    Contact,
    Progress,
    Resolve,
    RequestReturn,
    ReturnRejected,
    RequestReassignment,
    RequestExtension,
    FollowUp,
    FollowUpWindowExpired,
)
# Actions that arrive as events from other services (or tracking's clock): idempotent.
EVENT_ACTIONS: tuple[type[Action], ...] = (
    Assign,
    ReturnRejected,
    FollowUp,
    FollowUpWindowExpired,
)
# Actions an officer takes over HTTP: the caller checks `by` is the appeal's officer (403).
OFFICER_ACTIONS: tuple[type[Action], ...] = (
    Accept,
    Contact,
    Progress,
    Resolve,
    RequestReturn,
    RequestExtension,
)


# ---------------------------------------------------------------------------------------------
# Effects: what the caller publishes (through the outbox) besides the history.


@dataclass(frozen=True)
class StatusChange:
    """→ `AppealStatusChanged` on appeals.lifecycle."""

    from_status: AppealStatus
    to_status: AppealStatus
    officer_id: str | None


@dataclass(frozen=True)
class ReturnRequest:
    """→ `ReturnRequested` on appeals.lifecycle."""

    officer_id: str
    reason_code: str
    reason: str


@dataclass(frozen=True)
class ReassignmentRequest:
    """→ `ReassignmentRequested` on appeals.lifecycle."""

    reason_code: str
    exclude_officer_ids: tuple[str, ...]


@dataclass(frozen=True)
class ExtensionRequest:
    """An officer asked for more time (no event type for it exists yet)."""

    officer_id: str
    days: int
    reason: str


@dataclass(frozen=True)
class Escalation:
    """Reopened a second time (or more): escalate to the officer's supervisor."""

    officer_id: str | None
    reopen_count: int


Effect = StatusChange | ReturnRequest | ReassignmentRequest | ExtensionRequest | Escalation


@dataclass(frozen=True)
class HistoryEntry:
    """One append-only history row; the caller adds when."""

    by: str
    from_status: AppealStatus
    to_status: AppealStatus
    action: str  # the action's type name: `Accept`, `FollowUp`, …
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    state: AppealState
    history: tuple[HistoryEntry, ...] = ()
    effects: tuple[Effect, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.history)


class Refused(Exception):
    """The action may not happen now (409); `reason` says why, naming the status."""

    def __init__(self, status: AppealStatus, action: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.action = action
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# The table: (status, action type) → the statuses it may lead to. Anything else is refused.

_WORKING = (S.ACCEPTED, S.IN_PROGRESS)  # an officer is working on it (accepted)
_HELD = (S.ASSIGNED, *_WORKING, S.REOPENED)  # an officer holds it (and may give it back)


def _build() -> dict[tuple[AppealStatus, type[Action]], tuple[AppealStatus, ...]]:
    table: dict[tuple[AppealStatus, type[Action]], tuple[AppealStatus, ...]] = {}
    for status in (S.RECEIVED, *_HELD, S.RETURNED):
        table[(status, Assign)] = (S.ASSIGNED,)
    table[(S.ASSIGNED, Accept)] = (S.ACCEPTED,)
    table[(S.REOPENED, Accept)] = (S.ACCEPTED,)
    for status in _WORKING:
        table[(status, Contact)] = (status,)
        table[(status, Progress)] = (S.IN_PROGRESS,)
        table[(status, Resolve)] = (S.RESOLVED,)
        table[(status, RequestExtension)] = (status,)
    for status in _HELD:
        table[(status, RequestReturn)] = (S.RETURNED,)
        table[(status, RequestReassignment)] = (status,)
    table[(S.RETURNED, ReturnRejected)] = _HELD
    table[(S.RESOLVED, FollowUp)] = (S.CLOSED, S.REOPENED, S.RESOLVED)
    table[(S.RESOLVED, FollowUpWindowExpired)] = (S.CLOSED,)
    return table


ALLOWED: Mapping[tuple[AppealStatus, type[Action]], tuple[AppealStatus, ...]] = _build()


def transitions() -> Iterator[tuple[AppealStatus, str, tuple[AppealStatus, ...]]]:
    """The table in vocabulary order, for documentation: (status, action name, targets)."""
    for status in AppealStatus:
        for kind in ACTIONS:
            if (status, kind) in ALLOWED:
                yield status, kind.__name__, ALLOWED[(status, kind)]


def transitions_markdown() -> str:
    """The table as a Markdown table (for the README)."""
    lines = ["| status | action | may lead to |", "|---|---|---|"]
    for status, name, targets in transitions():
        lines.append(f"| `{status}` | `{name}` | {', '.join(f'`{t}`' for t in targets)} |")
    return "\n".join(lines)


def status_table_markdown() -> str:
    """The table by status, one row each (for the README): what may happen, and where to."""
    lines = ["| status | may happen (→ the status it leads to) |", "|---|---|"]
    for status in AppealStatus:
        steps = [
            f"`{name}` → {' / '.join(f'`{t}`' for t in targets)}"
            for s, name, targets in transitions()
            if s is status
        ]
        lines.append(f"| `{status}` | {'; '.join(steps) or 'nothing: final'} |")
    return "\n".join(lines)


# The officers' steps by the names their routes and the console use; an assistant (协办) may only
# record contacts and progress on the appeals they assist.
STEP_NAMES: Mapping[type[Action], str] = {
    Accept: "accept",
    Contact: "contact",
    Progress: "progress",
    Resolve: "resolve",
    RequestReturn: "return",
    RequestExtension: "extension",
}
ASSISTANT_STEPS: tuple[type[Action], ...] = (Contact, Progress)


def steps_allowed(status: AppealStatus, *, lead: bool) -> list[str]:
    """The officer steps the lifecycle allows in `status`, for the lead or an assistant."""
    kinds = OFFICER_ACTIONS if lead else ASSISTANT_STEPS
    return [STEP_NAMES[kind] for kind in kinds if (status, kind) in ALLOWED]


def allowed_statuses(kind: type[Action]) -> tuple[AppealStatus, ...]:
    return tuple(s for s in AppealStatus if (s, kind) in ALLOWED)


# ---------------------------------------------------------------------------------------------
# Deciding


def _refuse(state: AppealState, action: Action, reason: str | None = None) -> Refused:
    name = type(action).__name__
    if reason is None:
        where = ", ".join(allowed_statuses(type(action)))
        reason = (
            f"{name} is not allowed while the appeal is {state.status}; "
            f"it is allowed only when the appeal is {where}"
        )
    return Refused(state.status, name, reason)


def _special_refusal(state: AppealState, action: Action) -> str | None:
    """A clearer reason than the generic one for the usual mistakes."""
    name, status = type(action).__name__, state.status
    if status is S.CLOSED:
        return f"{name} refused: the appeal is closed ({state.closed_reason}); nothing may change"
    if isinstance(action, Accept) and status in (S.ACCEPTED, S.IN_PROGRESS):
        return f"Accept refused: the appeal is already {status}"
    if isinstance(action, Resolve) and status is S.RESOLVED:
        return "Resolve refused: the appeal is already resolved and awaits its follow-up"
    if isinstance(action, RequestReturn) and status is S.RETURNED:
        return "RequestReturn refused: the appeal is returned; a return is already pending"
    if status is S.RETURNED and type(action) in OFFICER_ACTIONS:
        return (
            f"{name} refused: the appeal is returned; wait for the dispatcher's decision "
            "on the return"
        )
    if status is S.ASSIGNED and isinstance(action, Contact | Progress | Resolve | RequestExtension):
        return f"{name} refused: the appeal is assigned; accept it (签收) first"
    if status is S.REOPENED and isinstance(action, Contact | Progress | Resolve | RequestExtension):
        return f"{name} refused: the appeal is reopened (重办); accept it (签收) again first"
    if isinstance(action, ReturnRejected):
        return f"ReturnRejected refused: the appeal is {status}; no return is pending"
    if isinstance(action, FollowUp | FollowUpWindowExpired):
        return f"{name} refused: the appeal is {status}, not resolved and awaiting a follow-up"
    return None


def decide(state: AppealState, action: Action) -> Outcome:
    """What `action` does to `state`; raises `Refused` if it may not happen now."""
    # Redelivered events: nothing changes, whatever the status.
    if isinstance(action, Assign) and action.officer_id == state.officer_id:
        return Outcome(state)
    if isinstance(action, FollowUp) and action.ref in state.follow_up_refs:
        return Outcome(state)

    if (state.status, type(action)) not in ALLOWED:
        raise _refuse(state, action, _special_refusal(state, action))

    new, note, effects = _apply(state, action)
    before, after = state.status, new.status
    entry = HistoryEntry(action.by, before, after, type(action).__name__, note)
    if after is not before:
        effects = (StatusChange(before, after, new.officer_id), *effects)
    assert after in ALLOWED[(before, type(action))], (before, action, after)
    return Outcome(new, (entry,), effects)


def _apply(state: AppealState, action: Action) -> tuple[AppealState, str, tuple[Effect, ...]]:
    match action:
        case Assign(officer_id=officer_id, note=note):
            new = replace(
                state,
                status=S.ASSIGNED,
                officer_id=officer_id,
                contacted=False,
                status_before_return=None,
            )
            return new, note, ()
        case Accept():
            return replace(state, status=S.ACCEPTED), "", ()
        case Contact(method=method, note=note):
            return replace(state, contacted=True), f"{method}: {note}" if note else method, ()
        case Progress(note=note):
            return replace(state, status=S.IN_PROGRESS), note, ()
        case Resolve(resolution=resolution):
            if not resolution.strip():
                raise _refuse(
                    state,
                    action,
                    f"Resolve refused: the appeal is {state.status}; the resolution is blank, "
                    "say what was done",
                )
            if not (state.contacted or state.anonymous):
                raise _refuse(
                    state,
                    action,
                    f"Resolve refused: the appeal is {state.status} and no contact with the "
                    "appellant was recorded since it was assigned or reopened; record one "
                    "(phone, visit or sms) first",
                )
            return replace(state, status=S.RESOLVED, resolution=resolution), resolution, ()
        case RequestReturn(by=by, reason_code=code, reason=reason):
            new = replace(state, status=S.RETURNED, status_before_return=state.status)
            return new, f"{code}: {reason}", (ReturnRequest(by, code, reason),)
        case ReturnRejected(note=note):
            back = state.status_before_return or S.ASSIGNED
            return replace(state, status=back, status_before_return=None), note, ()
        case RequestReassignment(reason_code=code, exclude_officer_ids=exclude):
            return state, code, (ReassignmentRequest(code, exclude),)
        case RequestExtension(by=by, days=days, reason=reason):
            return state, f"{days} days: {reason}", (ExtensionRequest(by, days, reason),)
        case FollowUp():
            return _follow_up(state, action)
        case FollowUpWindowExpired():
            new = replace(state, status=S.CLOSED, closed_reason="no_feedback")
            return new, "follow-up window expired without feedback", ()
    raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover


def _follow_up(state: AppealState, f: FollowUp) -> tuple[AppealState, str, tuple[Effect, ...]]:
    refs = (*state.follow_up_refs, f.ref)
    said = f"solved={'yes' if f.solved else 'no'}, {f.satisfaction}"
    note = f"{said}; {f.note}" if f.note else said
    if f.satisfaction is Satisfaction.UNREACHABLE:
        new = replace(state, follow_up_refs=refs, unreachable_count=state.unreachable_count + 1)
        return new, note, ()
    if f.solved and f.satisfaction in SATISFIED:
        new = replace(state, status=S.CLOSED, closed_reason="resolved", follow_up_refs=refs)
        return new, note, ()
    count = state.reopen_count + 1
    escalate = count >= ESCALATE_AT_REOPEN
    new = replace(
        state,
        status=S.REOPENED,
        follow_up_refs=refs,
        reopen_count=count,
        escalated=state.escalated or escalate,
        contacted=False,
        resolution=None,
    )
    effects: tuple[Effect, ...] = (Escalation(state.officer_id, count),) if escalate else ()
    return new, note, effects


def apply(state: AppealState, action: Action) -> AppealState:
    """`decide`'s new state, or the same state if refused (for folding a stream of events)."""
    try:
        return decide(state, action).state
    except Refused:
        return state


def invariant_violations(state: AppealState) -> list[str]:
    """What is wrong with a state (empty for every state `decide` can reach)."""
    problems = []
    closed = state.status is S.CLOSED
    if closed != (state.closed_reason is not None):
        problems.append("closed_reason is set exactly when closed")
    if state.status in (S.RESOLVED, S.CLOSED) and not state.resolution:
        problems.append("a resolved or closed appeal has a resolution")
    if state.status is S.RESOLVED and not (state.contacted or state.anonymous):
        problems.append("a resolved appeal had a contact unless anonymous")
    if (state.status is S.RECEIVED) != (state.officer_id is None):
        problems.append("an appeal has an officer exactly when it is no longer received")
    if (state.status is S.RETURNED) != (state.status_before_return is not None):
        problems.append("status_before_return is set exactly when returned")
    if state.status_before_return not in (None, *_HELD):
        problems.append("a return goes back to a status an officer holds")
    if state.escalated != (state.reopen_count >= ESCALATE_AT_REOPEN):
        problems.append("escalated exactly from the second reopening")
    if state.status is S.REOPENED and state.reopen_count < 1:
        problems.append("a reopened appeal was reopened")
    if state.unreachable_count > len(state.follow_up_refs):
        problems.append("unreachable follow-ups are follow-ups")
    if len(set(state.follow_up_refs)) != len(state.follow_up_refs):
        problems.append("each follow-up is applied once")
    return problems
