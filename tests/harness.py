"""Helpers for tests that run services: start one in-process, read and write topics directly,
wait for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import Table, func, select, text

from shared.db import Database
from shared.identity import DEV_JWT_SECRET, issue_dev_token
from shared.settings import Settings


def dev_token(sub: str = "ops", roles: tuple[str, ...] = ("ops",), unit: str | None = None) -> str:
    """A sign-in token the services accept in development mode (the tests' settings)."""
    return issue_dev_token(DEV_JWT_SECRET, sub=sub, roles=list(roles), unit=unit)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def running(app: FastAPI, *, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Starts the service (broker, consumers, relay) and gives an HTTP client on its app. The
    client signs in as ops unless given another `token`; tests of sign-in pass headers per
    request (`headers={"Authorization": …}` overrides, `bearer("")`-style values included)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = bearer(token or dev_token())
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    partition: int
    offset: int

    def json(self) -> Any:
        return json.loads(self.value)


def _records(batch: dict[Any, list[Any]]) -> list[Record]:
    return [
        Record(m.key, m.value, {k: v.decode() for k, v in m.headers}, m.partition, m.offset)
        for messages in batch.values()
        for m in messages
    ]


class Topics:
    """Reads and writes the test's topics without a consumer group (no join delay)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def name(self, logical: str) -> str:
        return self.settings.topic_prefix + logical

    async def send(
        self, logical: str, value: bytes, key: bytes, headers: dict[str, str] | None = None
    ) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.name(logical),
                value,
                key=key,
                headers=[(k, v.encode()) for k, v in (headers or {}).items()],
            )
        finally:
            await producer.stop()

    async def read(self, logical: str, *, at_least: int, timeout_s: float = 20) -> list[Record]:
        """Everything on the topic, once it holds at least `at_least` messages (or time is up)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            topic = self.name(logical)
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[Record] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline:
                records.extend(_records(await consumer.getmany(timeout_ms=200)))
                if len(records) >= at_least:
                    # A little longer, to see whether more than expected arrive.
                    records.extend(_records(await consumer.getmany(timeout_ms=300)))
                    break
            return records
        finally:
            await consumer.stop()


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20, every_s: float = 0.1
) -> Any:
    """Polls until `check` returns something truthy; returns it, or fails with the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}")


class CuttableProxy:
    """A TCP proxy the test owns, in front of a server it must not stop: `cut()` drops every
    connection and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.cut_off = False

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def admin_sql(database_url: str, *statements: str) -> None:
    """Runs statements outside any transaction (CREATE/DROP DATABASE) on a server the tests use."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def count(settings: Settings, table: Table) -> int:
    """The rows of one of a service's tables, in the test's database."""
    db = Database(settings)
    try:
        async with db.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        await db.dispose()


async def sql(db: Database, statement: str, **params: Any) -> list[Any]:
    """Runs one SQL statement in its own transaction; its rows, if it returns any."""
    async with db.transaction() as session:
        result = await session.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []
