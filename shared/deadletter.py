"""Dead letters: a message that cannot be handled goes to `<topic>.dlq` with the error and where
it came from, so the partition keeps flowing and ops can look at it (and replay it after a fix)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.broker import OutgoingMessage, Publisher
from shared.clock import utcnow
from shared.metrics import DEAD_LETTERS
from shared.topics import dlq_of

MAX_ERROR_CHARS = 2000
# What a dead letter says about its failure; its other headers are the original message's own
# (its trace context, an adapter's signature), so that a replay sends the message as it was.
FAILURE_HEADERS = frozenset(
    {
        "x-error",
        "x-origin-topic",
        "x-origin-partition",
        "x-origin-offset",
        "x-origin-group",
        "x-failed-at",
        "x-truncated-from-bytes",
    }
)


@dataclass(frozen=True)
class Origin:
    topic: str  # logical
    partition: int
    offset: int
    key: bytes | None
    group: str
    # The message's own Kafka headers (trace context, an adapter's signature).
    headers: tuple[tuple[str, bytes], ...] = ()


def dead_letter(origin: Origin, body: bytes, error: str, *, max_body_bytes: int) -> OutgoingMessage:
    headers = {
        **{
            name: value.decode(errors="replace")
            for name, value in origin.headers
            if name not in FAILURE_HEADERS and isinstance(value, bytes)
        },
        "x-error": error[:MAX_ERROR_CHARS],
        "x-origin-topic": origin.topic,
        "x-origin-partition": str(origin.partition),
        "x-origin-offset": str(origin.offset),
        "x-origin-group": origin.group,
        "x-failed-at": utcnow().isoformat(),
    }
    if len(body) > max_body_bytes:
        # The broker refuses oversized messages; keep the head and say how long it was.
        headers["x-truncated-from-bytes"] = str(len(body))
        body = body[:max_body_bytes]
    return OutgoingMessage(dlq_of(origin.topic), origin.key or b"", body, headers)


class DeadLetters:
    def __init__(self, publisher: Publisher, *, service: str, max_body_bytes: int) -> None:
        self.publisher = publisher
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def send(self, origin: Origin, body: bytes, error: str) -> None:
        await self.publisher.publish(
            dead_letter(origin, body, error, max_body_bytes=self.max_body_bytes)
        )
        # Counted once the broker has it (a failed send is retried, and counted then).
        DEAD_LETTERS.labels(self.service, origin.topic).inc()
