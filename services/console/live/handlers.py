"""The console's consumers: the events someone's open page shows, saved as live notices in the
same transaction as the inbox row (a redelivered event adds nothing)."""

from __future__ import annotations

from services.console.live import store
from services.console.live.notices import HEARD, notices_of
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import Event
from shared.unit_of_work import UnitOfWork


async def noticed(uow: UnitOfWork, _envelope: Envelope, event: Event) -> None:
    # A batch's notices are written together when its unit of work ends.
    uow.attached(store.Notices, lambda: store.Notices(uow.session)).add(notices_of(event))


def routes() -> dict[str, dict[str, Route]]:
    """Per topic, the event types heard (other types on those topics are passed over)."""
    by_topic: dict[str, dict[str, Route]] = {}
    for kind in HEARD:
        by_topic.setdefault(kind.TOPIC, {})[kind.TYPE] = Route(kind, noticed)
    return by_topic
