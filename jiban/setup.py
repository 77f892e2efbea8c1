"""Setup steps shared by the CLI, `make run` and the tests."""

from __future__ import annotations

from datetime import date

from services.dispatch import tables as dispatch_tables
from services.dispatch.directory import Directory, local_today
from services.dispatch.directory.demo import generate_demo_directory
from services.dispatch.directory.load import LoadReport, load_directory
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork


async def load_demo_directory(
    settings: Settings, directory: Directory | None = None, *, today: date | None = None
) -> LoadReport:
    """Loads `directory`, by default the demo directory with its leave counted from `today`
    (default: today in Asia/Shanghai, so some officers are away whenever it is loaded)."""
    db = Database(settings)
    try:
        return await load_directory(
            UnitsOfWork.of(db, dispatch_tables.metadata, producer="dispatch"),
            directory or generate_demo_directory(today=today or local_today()),
        )
    finally:
        await db.dispose()
