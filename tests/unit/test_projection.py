"""Folding received, merged and assigned events into an appeal record: any order, same
record."""

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.tracking.appeals.record import (
    SUMMARY_CHARS,
    AppealRecord,
    ReturnDecision,
    Submission,
    apply_assigned,
    apply_assistants,
    apply_merged,
    apply_reassigned,
    apply_received,
    apply_return_decided,
)
from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    Appellant,
    AssistantsChanged,
    Location,
    ReturnDecided,
)
from shared.vocabulary import AppealStatus, AppealType, Category, Channel, Urgency

APPEAL_ID = uuid.UUID("6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b")
CODE = "JB261127-7K3Q9X"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def received(**overrides: object) -> AppealReceived:
    values: dict[str, object] = {
        "appeal_id": APPEAL_ID,
        "tracking_code": CODE,
        "channel": Channel.HOTLINE_12345,
        "external_id": "GD-0001",
        "appellant": Appellant(name="王先生", phone="13912345678"),
        "content": "宿舍楼停水两天，请协调供水。",
        "location": Location(address="大旺工业园", community="大旺社区"),
        "category": Category.UTILITIES,
        "urgency": Urgency.URGENT,
        "appeal_type": AppealType.HELP,
        "classified_by": CLASSIFIED_BY,
        "received_at": T0,
    }
    values.update(overrides)
    return AppealReceived(**values)


CLASSIFIED_BY = {"type": "rule:help_words", "category": "submitter", "urgency": "channel:12345"}


def merged(channel: Channel, external_id: str, at: datetime, **overrides: object) -> AppealMerged:
    values: dict[str, object] = {
        "appeal_id": APPEAL_ID,
        "tracking_code": CODE,
        "channel": channel,
        "external_id": external_id,
        "appellant": Appellant(name="王先生", phone="13912345678"),
        "content": "还是停水。",
        "merged_at": at,
        "score": 0.9,
        "reason": f"重复诉求（{external_id}）",
    }
    values.update(overrides)
    return AppealMerged(**values)


def assigned(officer_id: str, at: datetime, **overrides: object) -> AppealAssigned:
    values: dict[str, object] = {
        "appeal_id": APPEAL_ID,
        "officer_id": officer_id,
        "reason_code": "least_loaded_handler",
        "reason": f"分派给{officer_id}",
        "assigned_at": at,
        "tracking_code": CODE,
    }
    values.update(overrides)
    return AppealAssigned(**values)


Folded = AppealReceived | AppealAssigned | AppealMerged


def fold(record: AppealRecord, event: Folded) -> AppealRecord:
    if isinstance(event, AppealReceived):
        return apply_received(record, event)
    if isinstance(event, AppealMerged):
        return apply_merged(record, event)
    return apply_assigned(record, event)


def empty() -> AppealRecord:
    return AppealRecord(appeal_id=str(APPEAL_ID))


FIRST = assigned("cw-1", T0 + timedelta(minutes=1))
REASSIGNED = assigned("cw-2", T0 + timedelta(hours=2))
LABELS: dict[str, Folded] = {"received": received(), "assigned": FIRST, "reassigned": REASSIGNED}
ORDERS = list(itertools.permutations(LABELS))

ORIGINAL = Submission(kind="original", channel="hotline_12345", external_id="GD-0001", at=T0)
MAYOR = merged(Channel.MAYOR_LINE, "ML-0001", T0 + timedelta(hours=1))
WEB = merged(Channel.WEB, "W-0001", T0 + timedelta(hours=3))


def expected_record() -> AppealRecord:
    return AppealRecord(
        appeal_id=str(APPEAL_ID),
        appellant_name="王先生",
        appellant_phone="13912345678",
        tracking_code=CODE,
        channel="hotline_12345",
        category="utilities",
        urgency="urgent",
        summary="宿舍楼停水两天，请协调供水。",
        community="大旺社区",
        enterprise_credit_code=None,
        phone_last4="5678",
        received_at=T0,
        officer_id="cw-2",
        assigned_at=T0 + timedelta(hours=2),
        assignment_reason="分派给cw-2",
        assignment_reason_code="least_loaded_handler",
        appeal_type="help",
        classified_by=CLASSIFIED_BY,
        submissions=(ORIGINAL,),
        times_raised=1,
    )


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_converges_to_the_same_record(order: tuple[str, ...]) -> None:
    record = empty()
    for label in order:
        record = fold(record, LABELS[label])
    assert record == expected_record()


def test_all_permutations_are_covered() -> None:
    assert len(set(ORDERS)) == 6


def test_received_alone_sets_the_fields_and_not_the_status() -> None:
    record = apply_received(empty(), received())
    assert record.status is None  # the lifecycle decides it (workflow.py)
    assert record.tracking_code == CODE
    assert record.officer_id is None
    assert (record.appellant_name, record.appellant_phone) == ("王先生", "13912345678")


@pytest.mark.parametrize("status", [AppealStatus.IN_PROGRESS, AppealStatus.RESOLVED])
def test_projections_never_touch_the_status(status: AppealStatus) -> None:
    record = AppealRecord(appeal_id=str(APPEAL_ID), status=status)
    assert apply_received(record, received()).status is status
    assert apply_assigned(record, FIRST).status is status


def test_late_older_assignment_does_not_override_newer() -> None:
    record = apply_assigned(apply_assigned(empty(), REASSIGNED), FIRST)
    assert (record.officer_id, record.assigned_at, record.assignment_reason) == (
        "cw-2",
        REASSIGNED.assigned_at,
        "分派给cw-2",
    )


def test_newer_assignment_replaces_older() -> None:
    record = apply_assigned(apply_assigned(empty(), FIRST), REASSIGNED)
    assert record.officer_id == "cw-2"


def test_tracking_code_comes_from_assignment_before_received_arrives() -> None:
    record = apply_assigned(empty(), FIRST)
    assert record.tracking_code == CODE
    assert record.officer_id == FIRST.officer_id
    assert record.received_at is None


def test_assignment_without_tracking_code_keeps_the_known_one() -> None:
    record = apply_received(empty(), received())
    record = apply_assigned(record, assigned("cw-1", T0, tracking_code=None))
    assert record.tracking_code == CODE


def test_redelivered_event_changes_nothing() -> None:
    once = fold(fold(empty(), received()), FIRST)
    assert fold(fold(once, FIRST), received()) == once


def test_summary_is_truncated() -> None:
    record = apply_received(empty(), received(content="水" * (SUMMARY_CHARS + 50)))
    assert record.summary == "水" * SUMMARY_CHARS


# --- classification and merges ------------------------------------------------------------


def submission_of(event: AppealMerged) -> Submission:
    return Submission(
        kind="merged",
        channel=event.channel.value,
        external_id=event.external_id,
        at=event.merged_at,
        score=event.score,
        reason=event.reason,
    )


def test_received_copies_the_classification_and_who_decided_it() -> None:
    record = apply_received(empty(), received())
    assert (record.appeal_type, record.category, record.urgency) == ("help", "utilities", "urgent")
    assert record.classified_by == CLASSIFIED_BY
    assert record.submissions == (ORIGINAL,)
    assert record.times_raised == 1


def test_received_without_a_type_leaves_it_unknown() -> None:
    record = apply_received(empty(), received(appeal_type=None, classified_by={}))
    assert record.appeal_type is None
    assert record.classified_by == {}


def test_a_merge_counts_one_more_time_raised_and_appends_its_submission() -> None:
    base = apply_assigned(apply_received(empty(), received()), FIRST)
    record = apply_merged(apply_merged(base, MAYOR), WEB)
    assert record.times_raised == 3
    assert record.submissions == (ORIGINAL, submission_of(MAYOR), submission_of(WEB))
    # A repeat changes nothing else: not the status, the officer, nor the classification.
    assert replace(record, submissions=base.submissions, times_raised=1) == base


def test_the_same_merge_twice_counts_once() -> None:
    once = apply_merged(apply_received(empty(), received()), MAYOR)
    assert apply_merged(once, MAYOR) == once
    # ... even republished with another time (the same channel and external id)
    assert apply_merged(once, merged(Channel.MAYOR_LINE, "ML-0001", T0 + timedelta(days=1))) == once


def test_a_merge_before_its_appeal_keeps_what_it_knows_and_counts_the_original() -> None:
    record = apply_merged(empty(), MAYOR)
    assert record.tracking_code == CODE
    assert record.submissions == (submission_of(MAYOR),)
    assert record.times_raised == 2  # the original it repeats, not heard of yet, and itself
    record = apply_received(record, received())
    assert record.submissions == (ORIGINAL, submission_of(MAYOR))
    assert record.times_raised == 2


MERGE_LABELS: dict[str, Folded] = {
    "received": received(),
    "assigned": FIRST,
    "mayor": MAYOR,
    "web": WEB,
}
MERGE_ORDERS = list(itertools.permutations(MERGE_LABELS))


@pytest.mark.parametrize("order", MERGE_ORDERS, ids=["-".join(o) for o in MERGE_ORDERS])
def test_merges_in_any_order_converge(order: tuple[str, ...]) -> None:
    record = empty()
    for label in order:
        record = fold(record, MERGE_LABELS[label])
    assert record == replace(
        expected_record(),
        officer_id="cw-1",
        assigned_at=FIRST.assigned_at,
        assignment_reason=FIRST.reason,
        submissions=(ORIGINAL, submission_of(MAYOR), submission_of(WEB)),
        times_raised=3,
    )


def test_record_from_before_submissions_were_kept_counts_its_original() -> None:
    # Rows migrated from tracking_0001 have received_at but an empty submissions list.
    legacy = AppealRecord(appeal_id=str(APPEAL_ID), status=AppealStatus.RECEIVED, received_at=T0)
    assert apply_merged(legacy, MAYOR).times_raised == 2


# --- ownership moves: reassignments, assistants, rulings on returns ----------------------------


def reassigned(from_officer: str, to_officer: str, at: datetime, **overrides: object):
    values: dict[str, object] = {
        "appeal_id": APPEAL_ID,
        "from_officer_id": from_officer,
        "officer_id": to_officer,
        "reason_code": "department",
        "reason": f"退单后改派给{to_officer}",
        "cause": "return",
        "reassigned_at": at,
    }
    values.update(overrides)
    return AppealReassigned(**values)


def assistants(ids: list[str], at: datetime) -> AssistantsChanged:
    return AssistantsChanged(
        appeal_id=APPEAL_ID,
        lead_officer_id="cw-1",
        assistant_officer_ids=ids,
        changed_by="sup-1",
        changed_at=at,
    )


def ruling(decision: str, at: datetime, note: str = "") -> ReturnDecided:
    return ReturnDecided(
        appeal_id=APPEAL_ID,
        officer_id="cw-1",
        decision=decision,
        decided_by="dispatcher-1",
        note=note,
        decided_at=at,
    )


MOVED = reassigned("cw-1", "dept-9", T0 + timedelta(hours=1))
HELPERS = assistants(["cw-3", "cw-4"], T0 + timedelta(minutes=30))
ACCEPTED = ruling("accept", T0 + timedelta(minutes=59), note="不属本社区")

OwnershipEvent = Folded | AppealReassigned | AssistantsChanged | ReturnDecided


def fold_any(record: AppealRecord, event: OwnershipEvent) -> AppealRecord:
    if isinstance(event, AppealReassigned):
        return apply_reassigned(record, event)
    if isinstance(event, AssistantsChanged):
        return apply_assistants(record, event)
    if isinstance(event, ReturnDecided):
        return apply_return_decided(record, event)
    return fold(record, event)


OWNERSHIP_LABELS: dict[str, OwnershipEvent] = {
    "received": received(),
    "assigned": FIRST,
    "assistants": HELPERS,
    "ruling": ACCEPTED,
    "moved": MOVED,
}
OWNERSHIP_ORDERS = list(itertools.permutations(OWNERSHIP_LABELS))


def test_a_reassignment_moves_the_appeal_to_the_new_officer_with_its_reason() -> None:
    record = apply_reassigned(apply_assigned(apply_received(empty(), received()), FIRST), MOVED)
    assert (record.officer_id, record.assigned_at) == (
        "dept-9",
        MOVED.reassigned_at,
    )
    assert (record.assignment_reason_code, record.assignment_reason) == (
        "department",
        "退单后改派给dept-9",
    )


def test_a_reassignment_before_anything_else_is_kept_and_an_older_assignment_does_not_undo_it():
    record = apply_reassigned(empty(), MOVED)
    assert record.officer_id == "dept-9"
    assert apply_assigned(record, FIRST).officer_id == "dept-9"


def test_a_later_assignment_wins_over_an_earlier_reassignment() -> None:
    later = assigned("cw-5", MOVED.reassigned_at + timedelta(hours=1))
    record = apply_assigned(apply_reassigned(empty(), MOVED), later)
    assert (record.officer_id, record.assignment_reason_code) == ("cw-5", "least_loaded_handler")


def test_assistants_are_replaced_by_the_newest_list_and_deduplicated() -> None:
    record = apply_assistants(empty(), assistants(["cw-3", "cw-4", "cw-3"], T0))
    assert record.assistant_officer_ids == ("cw-3", "cw-4")
    newer = apply_assistants(record, assistants(["cw-9"], T0 + timedelta(hours=1)))
    assert newer.assistant_officer_ids == ("cw-9",)
    # An older list heard late changes nothing; an empty newer list removes them all.
    assert apply_assistants(newer, assistants(["cw-3"], T0)) == newer
    none = apply_assistants(newer, assistants([], T0 + timedelta(hours=2)))
    assert none.assistant_officer_ids == ()
    assert none.status is None  # assistants never move the status


def test_the_latest_ruling_on_a_return_is_kept() -> None:
    rejected = ruling("reject", T0 + timedelta(minutes=10), note="属本社区职责")
    record = apply_return_decided(apply_return_decided(empty(), ACCEPTED), rejected)
    assert record.last_return_decision == ReturnDecision(
        officer_id="cw-1",
        decision="accept",
        decided_by="dispatcher-1",
        automatic=False,
        note="不属本社区",
        decided_at=ACCEPTED.decided_at,
    )
    assert apply_return_decided(empty(), rejected).last_return_decision.decision == "reject"


@pytest.mark.parametrize("order", OWNERSHIP_ORDERS, ids=["-".join(o) for o in OWNERSHIP_ORDERS])
def test_ownership_moves_in_any_order_converge(order: tuple[str, ...]) -> None:
    record = empty()
    for label in order:
        record = fold_any(record, OWNERSHIP_LABELS[label])
    assert record == replace(
        expected_record(),
        officer_id="dept-9",
        assigned_at=MOVED.reassigned_at,
        assignment_reason=MOVED.reason,
        assignment_reason_code="department",
        assistant_officer_ids=("cw-3", "cw-4"),
        assistants_changed_at=HELPERS.changed_at,
        last_return_decision=ReturnDecision(
            officer_id="cw-1",
            decision="accept",
            decided_by="dispatcher-1",
            automatic=False,
            note="不属本社区",
            decided_at=ACCEPTED.decided_at,
        ),
    )


def test_only_the_phones_last_four_digits_are_kept() -> None:
    from factories import received as received_event

    from shared.events import Appellant

    kept = apply_received(
        AppealRecord(appeal_id="a"), received_event(appellant=Appellant(phone="+86 139-1234-5678"))
    )
    anonymous = apply_received(
        AppealRecord(appeal_id="b"), received_event(appellant=Appellant(anonymous=True))
    )
    assert (kept.phone_last4, anonymous.phone_last4) == ("5678", None)
