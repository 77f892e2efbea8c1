"""`jiban outbox`: what each service's outbox holds that its relay has not published yet, and
how long the oldest row has waited. A backlog that grows, or an old oldest row, is a relay that
cannot reach the broker (or is not running)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from jiban.text_table import columns
from services.console import tables as console
from services.dispatch import tables as dispatch
from services.intake import tables as intake
from services.notify import tables as notify
from services.tracking import tables as tracking
from shared.db import Database
from shared.outbox import backlog_of
from shared.settings import Settings

OUTBOXES: dict[str, Table] = {
    "intake": intake.outbox,
    "dispatch": dispatch.outbox,
    "tracking": tracking.outbox,
    "notify": notify.outbox,
    "console": console.outbox,
}


@dataclass(frozen=True)
class ServiceBacklog:
    service: str
    rows: int
    oldest_s: float


async def backlogs(settings: Settings) -> list[ServiceBacklog]:
    db = Database(settings)
    try:
        # One snapshot: the services' counts are of the same moment.
        async with db.transaction(snapshot=True) as session:
            found = []
            for service, table in OUTBOXES.items():
                backlog = await backlog_of(session, table)
                found.append(ServiceBacklog(service, backlog.rows, backlog.oldest_s))
            return found
    finally:
        await db.dispose()


def age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_backlogs(found: list[ServiceBacklog]) -> str:
    rows = [("SERVICE", "WAITING", "OLDEST")]
    rows += [(b.service, str(b.rows), age(b.oldest_s) if b.rows else "-") for b in found]
    total = sum(b.rows for b in found)
    return "\n".join([*columns(rows, right=frozenset({1, 2})), f"{total} events not published"])
