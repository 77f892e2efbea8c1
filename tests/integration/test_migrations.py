"""The Alembic migrations and the tables the code uses describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from shared.migrations import ALL_SERVICES, metadata_of

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ALL_SERVICES)
async def test_migrations_match_the_models(settings, service):
    metadata = metadata_of(service)
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "include_schemas": True,
                        "include_name": lambda name, type_, _p: (
                            name == service if type_ == "schema" else name != "alembic_version"
                        ),
                        "compare_type": True,
                    },
                )
                return compare_metadata(context, metadata)

            def tables(sync_conn):
                return set(inspect(sync_conn).get_table_names(schema=service))

            differences = await conn.run_sync(diff)
            present = await conn.run_sync(tables)
    finally:
        await engine.dispose()
    assert differences == []
    assert {t.name for t in metadata.tables.values()} | {"alembic_version"} == present
