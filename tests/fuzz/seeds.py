"""A little data for the fuzz runs to find, put in through each service's own inputs: its topics,
as the services that own them would publish, and its routes. Fixed ids: a run's requests are
the same each time (Hypothesis is derandomised)."""

from __future__ import annotations

import uuid

from factories import assigned, received
from harness import Topics

from shared.events import AppealAssigned, AppealReceived, OfficerChanged
from shared.events.base import Event
from shared.vocabulary import AppealType, OfficerRole

UNIT = "大旺社区"
OFFICER = "cw-7"
SUPERVISOR = "sup-1"
DISPATCHER = "dispatcher-1"


def fixed_id(n: int) -> uuid.UUID:
    """The n-th seeded appeal's id: the same every run, so each run sends the same requests."""
    return uuid.UUID(int=0xF022 << 64 | n)


async def send(topics: Topics, event: Event) -> None:
    env = event.envelope(correlation_id=str(uuid.uuid4()), producer="tests")
    await topics.send(event.TOPIC, env.to_bytes(), env.key)


def officer(officer_id: str = OFFICER, unit: str = UNIT) -> OfficerChanged:
    return OfficerChanged(
        officer_id=officer_id,
        name=f"干部{officer_id}",
        role=OfficerRole.COMMUNITY_WORKER,
        unit=unit,
        on_duty=True,
        supervisor_id=SUPERVISOR,
        phone="13700000007",
        email=f"{officer_id}@jiban.example",
    )


async def assigned_appeals(
    topics: Topics, count: int, officer_id: str = OFFICER
) -> list[tuple[AppealReceived, AppealAssigned]]:
    """`count` appeals received and assigned to `officer_id`, as intake and dispatch say so."""
    appeals = []
    for n in range(1, count + 1):
        appeal = received(
            appeal_id=fixed_id(n),
            tracking_code=f"DW-20261127-{n:06d}-0",
            external_id=f"GD-FUZZ-{n}",
            appeal_type=AppealType.COMPLAINT,
        )
        assignment = assigned(appeal.appeal_id, officer_id)
        await send(topics, appeal)
        await send(topics, assignment)
        appeals.append((appeal, assignment))
    return appeals
