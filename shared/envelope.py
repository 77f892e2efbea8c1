"""The one envelope every Jiban event travels in."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.clock import utcnow


class Envelope(BaseModel):
    """`subject_id` is the Kafka message key: the appeal id for appeal events, the officer or
    enterprise id for directory events, so everything about one subject stays in order."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid4)
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(1, ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    subject_id: str = Field(min_length=1, max_length=200)
    correlation_id: str = Field(min_length=1, max_length=200)
    # Which service wrote it: for the logs and the DLQ, never for routing decisions.
    producer: str = ""
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @property
    def key(self) -> bytes:
        return self.subject_id.encode()
