"""Submissions over Kafka: adapters that prefer it publish their native payloads (the same JSON
as the HTTP channel routes take) to `appeals.inbound.<channel>`. Intake validates them the same
way and answers each on `appeals.inbound.receipts`, in the transaction that accepts it. A
payload that fails validation gets a `rejected` receipt naming the fields; only a message that
is not a JSON object at all goes to the dead-letter topic."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, uuid5

from pydantic import ValidationError

from services.intake.channels import CHANNELS, window
from services.intake.submissions.form import AppealSubmission
from services.intake.submissions.service import Intake, Receipt
from shared.clock import utcnow
from shared.consumer import PoisonMessage, Route
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import Event, SubmissionReceipt
from shared.topics import INBOUND_PREFIX, inbound_topic
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import Channel

TOPICS: tuple[str, ...] = tuple(inbound_topic(channel) for channel in Channel)


class InboundSubmission(Event):
    """An adapter's native payload as read from an inbound topic (not published by us)."""

    TYPE: ClassVar[str] = "InboundSubmission"
    TOPIC: ClassVar[str] = INBOUND_PREFIX + "*"

    channel: Channel
    payload: dict[str, Any]
    source: str  # topic/partition/offset

    def subject(self) -> str:
        return self.source


def unwrap(body: bytes, origin: Origin) -> Envelope:
    """Adapters send no envelope: make one. Its event id comes from where the message sits, so
    a redelivery of the same message is a duplicate for the inbox."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PoisonMessage(f"not a JSON object but {type(payload).__name__}")
    channel = origin.topic.removeprefix(INBOUND_PREFIX)
    source = f"{origin.topic}/{origin.partition}/{origin.offset}"
    return Envelope(
        event_id=uuid5(NAMESPACE_URL, f"jiban:{source}"),
        type=InboundSubmission.TYPE,
        subject_id=(origin.key or b"").decode(errors="replace") or source,
        correlation_id=source,
        producer=f"adapter:{channel}",
        payload={"channel": channel, "payload": payload, "source": source},
    )


def _external_id(channel: Channel, payload: dict[str, Any]) -> str | None:
    """What the adapter will recognise its submission by, even when the payload is invalid:
    for a window record, "<window_id>/<record_id>" as when accepted, given both."""
    if channel == Channel.WINDOW and (both := window.external_id_of(payload)) is not None:
        return both
    for field in ("external_id", "order_no", "message_id", "visit_id", "record_id"):
        value = payload.get(field)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
    return None


def _receipt_event(
    channel: Channel, external_id: str | None, receipt: Receipt
) -> SubmissionReceipt:
    return SubmissionReceipt(channel=channel, external_id=external_id, **receipt.model_dump())


def inbound_routes(intake: Intake) -> dict[str, Route]:
    async def on_submission(uow: UnitOfWork, envelope: Envelope, event: InboundSubmission) -> None:
        spec = CHANNELS[event.channel]
        try:
            result = spec.parse(event.payload, now=utcnow())
        except ValidationError as exc:
            receipt = SubmissionReceipt(
                channel=event.channel,
                external_id=_external_id(event.channel, event.payload),
                status="rejected",
                errors=[
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False)
                ],
                source_offset=event.source,
            )
        else:
            if isinstance(result, AppealSubmission):
                answer, _ = await intake.submit_in(uow, result, envelope.correlation_id)
                receipt = _receipt_event(event.channel, result.external_id, answer)
            else:
                answer, _ = await intake.log_visit_in(uow, result, envelope.correlation_id)
                receipt = _receipt_event(event.channel, result.visit_id, answer)
        await uow.publish(receipt, correlation_id=envelope.correlation_id)

    return {InboundSubmission.TYPE: Route(InboundSubmission, on_submission)}
