"""Loading a directory: an idempotent upsert that publishes what changed on directory.changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import store
from services.dispatch.directory import Directory
from shared.db import Database
from shared.events import EnterpriseChanged, OfficerChanged
from shared.outbox import Outbox

SERVICE = "dispatch"
# PostgreSQL takes at most 32,767 parameters per statement and an officer row has 12: upserts go
# in batches so a directory of any size loads (still in the caller's one transaction).
BATCH_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class LoadReport:
    officers_changed: int
    enterprises_changed: int


def _batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


async def apply_directory(
    session: AsyncSession,
    outbox: Outbox,
    directory: Directory,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> LoadReport:
    """Upserts the officers and enterprises given (others are left alone) and puts an
    OfficerChanged / EnterpriseChanged for each row that is new or actually changed, inside the
    caller's transaction. `progress(done, total)` is called after each batch."""
    correlation_id = f"directory-load-{uuid4()}"
    officers = {o.officer_id: o for o in directory.officers}
    enterprises = {e.credit_code: e for e in directory.enterprises}
    total = len(directory.officers) + len(directory.enterprises)
    done = 0
    changed_officers: list[str] = []
    for batch in _batches(directory.officers, batch_size):
        changed_officers += await store.upsert_officers(session, batch)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    changed_enterprises: list[str] = []
    for batch in _batches(directory.enterprises, batch_size):
        changed_enterprises += await store.upsert_enterprises(session, batch)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    for officer_id in changed_officers:
        await outbox.put_event(
            session,
            OfficerChanged(**officers[officer_id].model_dump(exclude={"capacity"})),
            correlation_id=correlation_id,
            producer=SERVICE,
        )
    for credit_code in changed_enterprises:
        await outbox.put_event(
            session,
            EnterpriseChanged(**enterprises[credit_code].model_dump()),
            correlation_id=correlation_id,
            producer=SERVICE,
        )
    return LoadReport(len(changed_officers), len(changed_enterprises))


async def load_directory(db: Database, outbox: Outbox, directory: Directory) -> LoadReport:
    async with db.transaction() as session:
        return await apply_directory(session, outbox, directory)
