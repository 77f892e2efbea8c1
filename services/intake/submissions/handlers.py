"""Submissions over Kafka: adapters that prefer it publish their native payloads (the same JSON
as the HTTP channel routes take) to `appeals.inbound.<channel>`, signed like an HTTP request
(shared/signing.py: the headers X-Jiban-Key, X-Jiban-Timestamp, X-Jiban-Signature over PUBLISH,
the logical topic, the timestamp and the raw value) with a `submit` key of that channel. Intake
checks the signature first, then validates the payload the same way as over HTTP, and answers
each message on `appeals.inbound.receipts`, in the transaction that accepts it (the accepted
signature is recorded in it too: a copy of the message is refused as replayed). An unsigned,
wrongly signed, stale or replayed message, or one signed with another channel's key, gets a
`rejected` receipt whose error names the header and the reason (as a 401/403 would); a payload
that fails validation gets one naming the fields; only a message that is not a JSON object at
all goes to the dead-letter topic. JIBAN_INBOUND_UNSIGNED_CHANNELS lists channels whose
messages are taken unsigned."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, uuid5

from pydantic import Base64Bytes, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channel_keys.dependencies import AUTH_FAILURES
from services.intake.channel_keys.keys import Scope
from services.intake.channel_keys.service import ChannelAuth, SignedRequest
from services.intake.channel_keys.signatures import HEADERS, AuthFailure, read_headers
from services.intake.channels import CHANNELS, window
from services.intake.submissions.form import AppealSubmission
from services.intake.submissions.service import Intake, Receipt
from shared.clock import utcnow
from shared.consumer import PoisonMessage, Route
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import Event, SubmissionReceipt
from shared.signing import HEADER_KEY, PUBLISH
from shared.topics import INBOUND_PREFIX, inbound_topic
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import Channel

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = tuple(inbound_topic(channel) for channel in Channel)
# Header names as adapters may spell them → as the signature module names them.
_SIGNATURE_HEADERS = {h.lower(): h for h in HEADERS}
# Where a refusal for the wrong channel points: the topic names the channel.
_TOPIC_LOC = ("topic",)


class InboundSubmission(Event):
    """An adapter's native payload as read from an inbound topic (not published by us)."""

    TYPE: ClassVar[str] = "InboundSubmission"
    TOPIC: ClassVar[str] = INBOUND_PREFIX + "*"

    channel: Channel
    payload: dict[str, Any]
    source: str  # topic/partition/offset
    # What the signature covers: the logical topic and the value as sent, and its headers.
    topic: str
    raw: Base64Bytes
    signature_headers: dict[str, str]

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
    signature_headers = {
        _SIGNATURE_HEADERS[name.lower()]: value.decode("utf-8", "replace")
        for name, value in origin.headers
        if name.lower() in _SIGNATURE_HEADERS
    }
    return Envelope(
        event_id=uuid5(NAMESPACE_URL, f"jiban:{source}"),
        type=InboundSubmission.TYPE,
        subject_id=(origin.key or b"").decode(errors="replace") or source,
        correlation_id=source,
        producer=f"adapter:{channel}",
        payload={
            "channel": channel,
            "payload": payload,
            "source": source,
            "topic": origin.topic,
            "raw": base64.b64encode(body).decode(),
            "signature_headers": signature_headers,
        },
    )


async def _signature_refusal(
    session: AsyncSession, auth: ChannelAuth, event: InboundSubmission
) -> AuthFailure | None:
    """Why the message's signature is refused, or None when a `submit` key of its channel
    signed it (that signature is then recorded in this transaction)."""
    headers = read_headers(event.signature_headers)
    if isinstance(headers, AuthFailure):
        return headers
    request = SignedRequest(headers=headers, method=PUBLISH, raw_path=event.topic, body=event.raw)
    # A message may have waited on its topic (intake down): its age is judged by the longer
    # inbound limit, not the HTTP window.
    result = await auth.authenticate_in(
        session,
        request,
        Scope.SUBMIT,
        event.channel.value,
        _TOPIC_LOC,
        max_age_s=auth.config.inbound_max_age_s,
    )
    return result if isinstance(result, AuthFailure) else None


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


def inbound_routes(
    intake: Intake, auth: ChannelAuth, unsigned: Iterable[Channel] = ()
) -> dict[str, Route]:
    """`unsigned`: the channels whose messages are taken without a signature."""
    taken_unsigned = frozenset(unsigned)

    async def on_submission(uow: UnitOfWork, envelope: Envelope, event: InboundSubmission) -> None:
        refusal = None
        if event.channel not in taken_unsigned:
            refusal = await _signature_refusal(uow.session, auth, event)
        if refusal is not None:
            AUTH_FAILURES.labels(refusal.kind.value).inc()
            # The key id is not secret; the secret and the signature are never logged.
            log.info(
                "inbound message refused",
                extra={
                    "reason": refusal.kind.value,
                    "key_id": event.signature_headers.get(HEADER_KEY),
                    "source": event.source,
                },
            )
            refused = SubmissionReceipt(
                channel=event.channel,
                external_id=_external_id(event.channel, event.payload),
                status="rejected",
                errors=refusal.detail(),
                source_offset=event.source,
            )
            await uow.publish(refused, correlation_id=envelope.correlation_id)
            return
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
