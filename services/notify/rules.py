"""Who hears what: one pure function per event type, tested as a table.

| event           | recipient          | kind             | unless                           |
|-----------------|--------------------|------------------|----------------------------------|
| AppealReceived  | appellant          | appeal_received  | anonymous, or no way to reach    |
| AppealAssigned  | officer:<id>       | new_assignment   |                                  |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.events import AppealAssigned, AppealReceived, Event
from shared.vocabulary import APPELLANT_RECIPIENT, officer_recipient


@dataclass(frozen=True)
class Intent:
    """Somebody should be told something; the medium is the delivery side's choice."""

    recipient: str
    kind: str
    context: dict[str, Any] = field(default_factory=dict)


def on_received(event: AppealReceived) -> list[Intent]:
    appellant = event.appellant
    if appellant.anonymous or not appellant.phone:
        return []
    return [
        Intent(
            APPELLANT_RECIPIENT,
            "appeal_received",
            {"tracking_code": event.tracking_code, "name": appellant.name},
        )
    ]


def on_assigned(event: AppealAssigned) -> list[Intent]:
    return [
        Intent(
            officer_recipient(event.officer_id),
            "new_assignment",
            {"tracking_code": event.tracking_code or str(event.appeal_id), "reason": event.reason},
        )
    ]


RULES: dict[str, Callable[[Any], list[Intent]]] = {
    AppealReceived.TYPE: on_received,
    AppealAssigned.TYPE: on_assigned,
}


def decide(event: Event) -> list[Intent]:
    rule = RULES.get(event.TYPE)
    return [] if rule is None else rule(event)
