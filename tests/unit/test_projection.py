"""Folding received and assigned events into an appeal record: any order, same record."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.tracking.projection import (
    SUMMARY_CHARS,
    AppealRecord,
    apply_assigned,
    apply_received,
)
from shared.events import AppealAssigned, AppealReceived, Appellant, Location
from shared.vocabulary import AppealStatus, Category, Channel, Urgency

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
        "received_at": T0,
    }
    values.update(overrides)
    return AppealReceived(**values)


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


def fold(record: AppealRecord, event: AppealReceived | AppealAssigned) -> AppealRecord:
    if isinstance(event, AppealReceived):
        return apply_received(record, event)
    return apply_assigned(record, event)


def empty() -> AppealRecord:
    return AppealRecord(appeal_id=str(APPEAL_ID))


FIRST = assigned("cw-1", T0 + timedelta(minutes=1))
REASSIGNED = assigned("cw-2", T0 + timedelta(hours=2))
LABELS = {"received": received(), "assigned": FIRST, "reassigned": REASSIGNED}
ORDERS = list(itertools.permutations(LABELS))


def expected_record() -> AppealRecord:
    return AppealRecord(
        appeal_id=str(APPEAL_ID),
        status=AppealStatus.ASSIGNED,
        tracking_code=CODE,
        channel="hotline_12345",
        category="utilities",
        urgency="urgent",
        summary="宿舍楼停水两天，请协调供水。",
        community="大旺社区",
        enterprise_credit_code=None,
        received_at=T0,
        officer_id="cw-2",
        assigned_at=T0 + timedelta(hours=2),
        assignment_reason="分派给cw-2",
    )


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_converges_to_the_same_record(order: tuple[str, ...]) -> None:
    record = empty()
    for label in order:
        record = fold(record, LABELS[label])
    assert record == expected_record()


def test_all_permutations_are_covered() -> None:
    assert len(set(ORDERS)) == 6


def test_received_alone_sets_status_received_and_fields() -> None:
    record = apply_received(empty(), received())
    assert record.status is AppealStatus.RECEIVED
    assert record.tracking_code == CODE
    assert record.officer_id is None


def test_received_after_assigned_does_not_move_status_back() -> None:
    record = apply_received(apply_assigned(empty(), FIRST), received())
    assert record.status is AppealStatus.ASSIGNED


@pytest.mark.parametrize("later", [AppealStatus.IN_PROGRESS, AppealStatus.RESOLVED])
def test_events_do_not_move_a_further_status_back(later: AppealStatus) -> None:
    record = AppealRecord(appeal_id=str(APPEAL_ID), status=later)
    assert apply_received(record, received()).status is later
    assert apply_assigned(record, FIRST).status is later


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
    assert record.status is AppealStatus.ASSIGNED
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
