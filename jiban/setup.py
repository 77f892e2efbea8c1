"""Setup steps shared by the CLI, `make run` and the tests."""

from __future__ import annotations

from services.dispatch import store as dispatch_store
from services.dispatch.demo_directory import generate_demo_directory
from services.dispatch.directory import Directory
from services.dispatch.directory_load import LoadReport, load_directory
from shared.db import Database
from shared.outbox import Outbox
from shared.settings import Settings


async def load_demo_directory(settings: Settings, directory: Directory | None = None) -> LoadReport:
    db = Database(settings)
    try:
        return await load_directory(
            db, Outbox(dispatch_store.outbox), directory or generate_demo_directory()
        )
    finally:
        await db.dispose()
