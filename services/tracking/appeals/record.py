"""How events fold into an appeal's record: what it is about, who raised it and how often, who
owns it and why. Pure, and order-insensitive: received and assigned events come from different
topics, so they may arrive either way round, and any order must end in the same record.
Ownership moves (reassignments, assistants, return rulings) carry their own times, and the
latest wins whatever order they are heard in.

Where the appeal stands (its status) is not decided here: lifecycle.py is the one authority on
that, and the workflow stores its answer with the record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AssistantsChanged,
    ReturnDecided,
)
from shared.vocabulary import AppealStatus

SubmissionKind = Literal["original", "merged"]


@dataclass(frozen=True)
class Submission:
    """One time the appeal was raised: the original (AppealReceived) or a repeat that merged
    into it (AppealMerged), by whatever channel it came."""

    kind: SubmissionKind
    channel: str
    external_id: str
    at: datetime
    score: float | None = None  # merges only: how alike the repeat was
    reason: str | None = None  # merges only: why intake judged it a repeat

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.external_id)


@dataclass(frozen=True)
class ReturnDecision:
    """The last ruling on a return (退单) of the appeal."""

    officer_id: str  # who asked to give it back
    decision: Literal["accept", "reject"]
    decided_by: str
    automatic: bool
    note: str
    decided_at: datetime


@dataclass(frozen=True)
class AppealRecord:
    appeal_id: str
    # As the lifecycle last decided (None: only a placeholder so far); projections leave it be.
    status: AppealStatus | None = None
    tracking_code: str | None = None
    channel: str | None = None
    appeal_type: str | None = None
    category: str | None = None
    urgency: str | None = None
    # Who decided each of type / category / urgency (`channel:<code>`, `rule:<name>`, …).
    classified_by: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None
    community: str | None = None
    enterprise_credit_code: str | None = None
    # The last four digits of the appellant's phone: what they give to see their appeal's status
    # (GET /v1/status/{code}). None when anonymous.
    phone_last4: str | None = None
    # The appellant, for the officers who must call back (read through the API only, logged).
    appellant_name: str | None = None
    appellant_phone: str | None = None
    received_at: datetime | None = None
    officer_id: str | None = None
    assigned_at: datetime | None = None
    assignment_reason: str | None = None
    # The routing rule (or cause) behind the current owner: `enterprise_cso`, `department`, …
    assignment_reason_code: str | None = None
    # Assisting officers (协办): the appeal is in their queues too; the lead stays responsible.
    assistant_officer_ids: tuple[str, ...] = ()
    assistants_changed_at: datetime | None = None
    last_return_decision: ReturnDecision | None = None
    # Every submission, in the order they happened; times_raised is derived from them.
    submissions: tuple[Submission, ...] = ()
    times_raised: int = 0


def _preference(s: Submission) -> tuple[bool, datetime]:
    return (s.kind != "original", s.at)


def _merge_submissions(current: Iterable[Submission], new: Submission) -> tuple[Submission, ...]:
    """Add `new`, one entry per (channel, external_id), sorted by time. If the same key comes
    twice (a redelivered merge), the same entry wins whatever the order: the original, else the
    earliest; so the result depends only on the set of submissions seen."""
    by_key: dict[tuple[str, str], Submission] = {}
    for s in (*current, new):
        kept = by_key.get(s.key)
        if kept is None or _preference(s) < _preference(kept):
            by_key[s.key] = s
    # The original first among equal times: a merge can only follow it.
    return tuple(sorted(by_key.values(), key=lambda s: (s.at, s.kind != "original", s.key)))


def _times_raised(record: AppealRecord) -> int:
    subs = record.submissions
    has_original = any(s.kind == "original" for s in subs)
    # A merge implies an original even before its AppealReceived arrives (or for records made
    # before submissions were kept, which have received_at but no entries): count it.
    implied = not has_original and (bool(subs) or record.received_at is not None)
    return len(subs) + int(implied)


def _with_count(record: AppealRecord) -> AppealRecord:
    return replace(record, times_raised=_times_raised(record))


SUMMARY_CHARS = 200


def _last4(phone: str | None) -> str | None:
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


NAME_CHARS = 100
PHONE_CHARS = 32


def _cut(text: str | None, chars: int) -> str | None:
    text = (text or "").strip()
    return text[:chars] or None


def apply_received(record: AppealRecord, event: AppealReceived) -> AppealRecord:
    anonymous = event.appellant.anonymous
    original = Submission(
        kind="original",
        channel=event.channel.value,
        external_id=event.external_id,
        at=event.received_at,
    )
    return _with_count(
        replace(
            record,
            tracking_code=event.tracking_code,
            channel=event.channel.value,
            appeal_type=None if event.appeal_type is None else event.appeal_type.value,
            category=None if event.category is None else event.category.value,
            urgency=event.urgency.value,
            classified_by=dict(event.classified_by),
            summary=event.content[:SUMMARY_CHARS],
            community=event.location.community,
            enterprise_credit_code=event.appellant.enterprise_credit_code,
            phone_last4=None if anonymous else _last4(event.appellant.phone),
            appellant_name=None if anonymous else _cut(event.appellant.name, NAME_CHARS),
            appellant_phone=None if anonymous else _cut(event.appellant.phone, PHONE_CHARS),
            received_at=event.received_at,
            submissions=_merge_submissions(record.submissions, original),
        )
    )


def apply_merged(record: AppealRecord, event: AppealMerged) -> AppealRecord:
    """A repeat joined the appeal: one more submission, nothing else changes. Before its
    AppealReceived (it cannot overtake it on the shared topic and key, but a replay could), the
    record keeps what the merge tells: the appeal exists (so it was received) and its code."""
    merge = Submission(
        kind="merged",
        channel=event.channel.value,
        external_id=event.external_id,
        at=event.merged_at,
        score=event.score,
        reason=event.reason,
    )
    return _with_count(
        replace(
            record,
            tracking_code=record.tracking_code or event.tracking_code,
            submissions=_merge_submissions(record.submissions, merge),
        )
    )


def _owned_by(
    record: AppealRecord,
    *,
    officer_id: str,
    at: datetime,
    reason_code: str,
    reason: str,
    tracking_code: str | None,
) -> AppealRecord:
    # A later assignment (reassignment) wins; an older one arriving late does not undo it.
    newer = record.assigned_at is None or at >= record.assigned_at
    return replace(
        record,
        tracking_code=record.tracking_code or tracking_code,
        officer_id=officer_id if newer else record.officer_id,
        assigned_at=at if newer else record.assigned_at,
        assignment_reason=reason if newer else record.assignment_reason,
        assignment_reason_code=reason_code if newer else record.assignment_reason_code,
    )


def apply_assigned(record: AppealRecord, event: AppealAssigned) -> AppealRecord:
    return _owned_by(
        record,
        officer_id=event.officer_id,
        at=event.assigned_at,
        reason_code=event.reason_code,
        reason=event.reason,
        tracking_code=event.tracking_code,
    )


def apply_reassigned(record: AppealRecord, event: AppealReassigned) -> AppealRecord:
    """The appeal moves to `officer_id` (it leaves the old officer's queue). An assignment at
    its time: whichever of the assignments and reassignments happened last owns the appeal,
    in whatever order tracking hears of them; before its AppealReceived, the record keeps
    what the move tells (the appeal exists and is assigned)."""
    return _owned_by(
        record,
        officer_id=event.officer_id,
        at=event.reassigned_at,
        reason_code=event.reason_code,
        reason=event.reason,
        tracking_code=event.tracking_code,
    )


def apply_assistants(record: AppealRecord, event: AssistantsChanged) -> AppealRecord:
    """The assistants become exactly the event's list (deduplicated, in its order); an older
    list heard late does not replace a newer one. The status does not move."""
    if record.assistants_changed_at is not None and event.changed_at < record.assistants_changed_at:
        return record
    return replace(
        record,
        assistant_officer_ids=tuple(dict.fromkeys(event.assistant_officer_ids)),
        assistants_changed_at=event.changed_at,
    )


def apply_return_decided(record: AppealRecord, event: ReturnDecided) -> AppealRecord:
    """Keeps the latest ruling on a return; the move itself (if accepted) comes as
    AppealReassigned. The status does not move."""
    last = record.last_return_decision
    if last is not None and event.decided_at < last.decided_at:
        return record
    return replace(
        record,
        last_return_decision=ReturnDecision(
            officer_id=event.officer_id,
            decision=event.decision,
            decided_by=event.decided_by,
            automatic=event.automatic,
            note=event.note,
            decided_at=event.decided_at,
        ),
    )
