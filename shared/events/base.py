"""The base of every event model (the envelope's payload), registered by type name.

Commands would be named as orders; these are facts, named in the past tense."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from shared.envelope import Envelope

EVENT_TYPES: dict[str, type[Event]] = {}


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A base that only shares fields (no TYPE of its own) is not an event type.
        if "TYPE" in cls.__dict__:
            EVENT_TYPES[cls.TYPE] = cls

    def subject(self) -> str:
        raise NotImplementedError

    def envelope(self, *, correlation_id: str, producer: str) -> Envelope:
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            subject_id=self.subject(),
            correlation_id=correlation_id,
            producer=producer,
            payload=self.model_dump(mode="json"),
        )
