"""Alembic, once for all services: each service keeps its migrations in
`services/<name>/migrations/` and its version table in its own schema."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import Settings

# The appeal pipeline's four services; the console (web front end) beside them.
SERVICES = ("intake", "dispatch", "tracking", "notify")
CONSOLE = "console"
ALL_SERVICES = (*SERVICES, CONSOLE)


def metadata_of(service: str) -> MetaData:
    """The service's tables (`services/<name>/tables.py`), as its migrations describe them."""
    module = importlib.import_module(f"services.{service}.tables")
    metadata: MetaData = module.metadata
    return metadata


def alembic_config(service: str, settings: Settings) -> Config:
    package = importlib.import_module(f"services.{service}")
    assert package.__file__ is not None  # a regular package, not a namespace
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(package.__file__).parent / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def upgrade(settings: Settings, services: tuple[str, ...] = ALL_SERVICES) -> None:
    """Brings every service's schema to head. Blocking: call it outside an event loop."""
    for service in services:
        command.upgrade(alembic_config(service, settings), "head")


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    schema = target_metadata.schema
    assert schema, "a service's metadata names its schema"
    url = context.config.attributes.get("database_url") or Settings().database_url

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())


# --- operations every service's first migration uses ------------------------------------------


def create_outbox(op: object, schema: str) -> None:
    op.create_table(  # type: ignore[attr-defined]
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
        schema=schema,
    )


def create_inbox(op: object, schema: str) -> None:
    op.create_table(  # type: ignore[attr-defined]
        "inbox",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column(
            "handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_inbox"),
        schema=schema,
    )
