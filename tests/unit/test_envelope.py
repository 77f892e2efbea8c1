"""The envelope every event travels in, the event registry, and the topic table."""

import inspect
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import shared.events
import shared.topics
from shared.envelope import Envelope
from shared.events import EVENT_TYPES, AppealAssigned, Event
from shared.topics import (
    APPEALS_ASSIGNMENTS,
    APPEALS_IMMEDIATE,
    TOPICS,
    Topic,
    TopicNames,
    all_topics,
    dlq_of,
)

APPEAL_ID = uuid.UUID("6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def envelope(**overrides: object) -> Envelope:
    values: dict[str, object] = {
        "type": "AppealAssigned",
        "subject_id": str(APPEAL_ID),
        "correlation_id": "req-1",
        "producer": "dispatch",
        "payload": {"officer_id": "cw-1", "reason": "在岗办理人员中在办诉求最少"},
    }
    values.update(overrides)
    return Envelope(**values)


def assigned() -> AppealAssigned:
    return AppealAssigned(
        appeal_id=APPEAL_ID,
        officer_id="cw-1",
        reason_code="least_loaded_handler",
        reason="在岗办理人员中在办诉求最少",
        assigned_at=NOW,
        tracking_code="JB261127-7K3Q9X",
    )


# --- envelope ------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    original = envelope()
    assert Envelope.model_validate_json(original.to_bytes()) == original


def test_json_keeps_chinese_text() -> None:
    original = envelope()
    assert Envelope.model_validate_json(original.to_bytes()).payload["reason"] == (
        "在岗办理人员中在办诉求最少"
    )


def test_defaults_are_filled() -> None:
    a, b = envelope(), envelope()
    assert a.event_id != b.event_id
    assert a.version == 1
    assert a.occurred_at.tzinfo is not None


def test_key_is_subject_id_bytes() -> None:
    assert envelope(subject_id="cw-李1").key == "cw-李1".encode()


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        envelope(occurred_at=datetime(2026, 11, 27, 9, 0))
    assert [e["loc"] for e in caught.value.errors()] == [("occurred_at",)]


def test_naive_occurred_at_in_json_is_rejected() -> None:
    body = envelope().model_dump(mode="json")
    body["occurred_at"] = "2026-11-27T09:00:00"
    with pytest.raises(ValidationError) as caught:
        Envelope.model_validate(body)
    assert [e["loc"] for e in caught.value.errors()] == [("occurred_at",)]


@pytest.mark.parametrize("field", ["type", "subject_id", "correlation_id"])
def test_empty_identifying_fields_are_rejected(field: str) -> None:
    with pytest.raises(ValidationError):
        envelope(**{field: ""})


def test_unknown_envelope_fields_are_ignored() -> None:
    original = envelope()
    body = original.model_dump(mode="json") | {"added_later": 1}
    assert Envelope.model_validate(body) == original


def test_envelope_is_frozen() -> None:
    with pytest.raises(ValidationError):
        envelope().type = "Other"  # type: ignore[misc]


# --- events --------------------------------------------------------------------------------


def test_event_envelope_sets_type_version_subject_and_payload() -> None:
    event = assigned()
    env = event.envelope(correlation_id="req-9", producer="dispatch")
    assert (env.type, env.version, env.subject_id) == ("AppealAssigned", 1, str(APPEAL_ID))
    assert (env.correlation_id, env.producer) == ("req-9", "dispatch")
    assert env.key == str(APPEAL_ID).encode()
    assert AppealAssigned.model_validate(env.payload) == event


def test_event_envelope_survives_the_wire() -> None:
    event = assigned()
    env = event.envelope(correlation_id="req-9", producer="dispatch")
    back = Envelope.model_validate_json(env.to_bytes())
    assert EVENT_TYPES[back.type].model_validate(back.payload) == event


def defined_events() -> list[type[Event]]:
    return [
        cls
        for _, cls in inspect.getmembers(shared.events, inspect.isclass)
        if issubclass(cls, Event)
        and cls is not Event
        and cls.__module__.startswith("shared.events.")
        and "TYPE" in cls.__dict__  # not a base that only shares fields
    ]


def test_event_types_registers_every_event_class() -> None:
    classes = defined_events()
    assert len(classes) >= 5
    # Every event in shared/ is registered (services may register wrappers of their own).
    assert set(classes) <= set(EVENT_TYPES.values())
    for cls in classes:
        assert EVENT_TYPES[cls.TYPE] is cls


def test_every_event_names_a_known_topic() -> None:
    names = {t.name for t in TOPICS}
    for cls in defined_events():
        assert cls.TOPIC in names, cls.__name__


# --- topics --------------------------------------------------------------------------------


def test_topic_names_with_prefix() -> None:
    names = TopicNames("t1a2b3c4.")
    assert names.physical(APPEALS_IMMEDIATE) == "t1a2b3c4.appeals.immediate"
    assert names.logical("t1a2b3c4.appeals.immediate") == APPEALS_IMMEDIATE
    assert names.group("tracking") == "t1a2b3c4.jiban.tracking"
    assert names.topic_group("tracking", APPEALS_ASSIGNMENTS) == (
        "t1a2b3c4.jiban.tracking.appeals.assignments"
    )


def test_topic_names_without_prefix() -> None:
    names = TopicNames()
    assert names.physical(APPEALS_IMMEDIATE) == APPEALS_IMMEDIATE
    assert names.logical(APPEALS_IMMEDIATE) == APPEALS_IMMEDIATE
    assert names.group("notify") == "jiban.notify"
    assert names.topic_group("notify", APPEALS_IMMEDIATE) == "jiban.notify.appeals.immediate"


def test_all_topics_has_a_dlq_for_each_consumed_topic() -> None:
    topics = all_topics()
    for topic in TOPICS:
        assert topic.name in topics
        assert (dlq_of(topic.name) in topics) == topic.consumed
    assert dlq_of(APPEALS_IMMEDIATE) == "appeals.immediate.dlq"
    assert len(topics) == len(set(topics))


def test_all_topics_has_no_dlq_for_a_topic_nobody_consumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared.topics, "TOPICS", (*TOPICS, Topic("audit.export", "exports", "ops")))
    topics = all_topics()
    assert "audit.export" in topics
    assert "audit.export.dlq" not in topics
