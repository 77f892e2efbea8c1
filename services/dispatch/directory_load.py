"""Loading a directory: an idempotent upsert that publishes what changed on directory.changes."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from services.dispatch import store
from services.dispatch.directory import Directory
from shared.db import Database
from shared.events import EnterpriseChanged, OfficerChanged
from shared.outbox import Outbox

SERVICE = "dispatch"


@dataclass(frozen=True)
class LoadReport:
    officers_changed: int
    enterprises_changed: int


async def load_directory(db: Database, outbox: Outbox, directory: Directory) -> LoadReport:
    correlation_id = f"directory-load-{uuid4()}"
    officers = {o.officer_id: o for o in directory.officers}
    enterprises = {e.credit_code: e for e in directory.enterprises}
    async with db.transaction() as session:
        changed_officers = await store.upsert_officers(session, directory.officers)
        changed_enterprises = await store.upsert_enterprises(session, directory.enterprises)
        for officer_id in changed_officers:
            officer = officers[officer_id]
            await outbox.put_event(
                session,
                OfficerChanged(**officer.model_dump(exclude={"capacity"})),
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
