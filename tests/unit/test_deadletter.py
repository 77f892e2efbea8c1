"""dead_letter(): what goes to `<topic>.dlq` when a message cannot be handled."""

from datetime import datetime

from shared.broker import OutgoingMessage
from shared.deadletter import MAX_ERROR_CHARS, DeadLetters, Origin, dead_letter

ORIGIN = Origin(
    topic="appeals.assignments",
    partition=3,
    offset=1042,
    key=b"6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
    group="jiban.tracking.appeals.assignments",
)
BODY = b'{"type": "AppealAssigned", "payload": {}}'


def test_headers_say_what_failed_and_where_it_came_from() -> None:
    message = dead_letter(ORIGIN, BODY, "invalid envelope: type: missing", max_body_bytes=1000)
    assert message.headers["x-error"] == "invalid envelope: type: missing"
    assert message.headers["x-origin-topic"] == "appeals.assignments"
    assert message.headers["x-origin-partition"] == "3"
    assert message.headers["x-origin-offset"] == "1042"
    assert message.headers["x-origin-group"] == "jiban.tracking.appeals.assignments"
    assert datetime.fromisoformat(message.headers["x-failed-at"]).tzinfo is not None


def test_the_messages_own_headers_travel_with_it_and_the_failure_headers_are_ours() -> None:
    origin = Origin(
        **{**ORIGIN.__dict__, "headers": (("traceparent", b"00-ab-cd-01"), ("x-error", b"old"))}
    )
    message = dead_letter(origin, BODY, "boom", max_body_bytes=1000)
    assert message.headers["traceparent"] == "00-ab-cd-01"
    assert message.headers["x-error"] == "boom"


def test_headers_are_all_strings() -> None:
    message = dead_letter(ORIGIN, BODY, "boom", max_body_bytes=1000)
    assert all(isinstance(v, str) for v in message.headers.values())


def test_goes_to_the_dlq_twin_with_the_same_key_and_body() -> None:
    message = dead_letter(ORIGIN, BODY, "boom", max_body_bytes=1000)
    assert message.topic == "appeals.assignments.dlq"
    assert message.key == ORIGIN.key
    assert message.value == BODY
    assert "x-truncated-from-bytes" not in message.headers


def test_missing_key_becomes_empty_bytes() -> None:
    origin = Origin("appeals.immediate", 0, 0, None, "g")
    assert dead_letter(origin, BODY, "boom", max_body_bytes=1000).key == b""


def test_body_at_the_limit_is_kept_whole() -> None:
    message = dead_letter(ORIGIN, b"x" * 100, "boom", max_body_bytes=100)
    assert message.value == b"x" * 100
    assert "x-truncated-from-bytes" not in message.headers


def test_body_above_the_limit_is_truncated_and_says_so() -> None:
    body = b"0123456789" * 50
    message = dead_letter(ORIGIN, body, "boom", max_body_bytes=100)
    assert message.value == body[:100]
    assert message.headers["x-truncated-from-bytes"] == "500"


def test_error_is_truncated() -> None:
    message = dead_letter(ORIGIN, BODY, "错" * (MAX_ERROR_CHARS + 500), max_body_bytes=1000)
    assert message.headers["x-error"] == "错" * MAX_ERROR_CHARS


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def publish(self, message: OutgoingMessage) -> None:
        self.sent.append(message)


async def test_dead_letters_publishes_with_its_body_limit() -> None:
    publisher = RecordingPublisher()
    letters = DeadLetters(publisher, service="dispatch", max_body_bytes=10)  # type: ignore[arg-type]
    await letters.send(ORIGIN, b"x" * 20, "boom")
    (message,) = publisher.sent
    assert message.topic == "appeals.assignments.dlq"
    assert message.value == b"x" * 10
    assert message.headers["x-truncated-from-bytes"] == "20"
