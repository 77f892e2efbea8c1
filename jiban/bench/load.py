"""The two load generators: appeals over HTTP to intake (what channel adapters do), or
AppealReceived envelopes straight onto appeals.immediate (intake bypassed: what the rest of the
pipeline can take). Both offer a steady rate for a fixed time, open loop: a slow system does not
slow the offer down, so a backlog shows as latency."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaProducer

from services.intake.tracking_codes.codes import format_tracking_code, local_day
from shared.broker import headers_for, kafka_client_options
from shared.events import AppealReceived, Appellant, Location
from shared.settings import Settings
from shared.topics import TopicNames
from shared.vocabulary import Channel

COMMUNITY = "大旺社区"
CONTENT = "基准测试诉求：路灯不亮。"


_appellants = itertools.count(1)


def phone(n: int) -> str:
    # With a phone the appellant is told too: two notifications per appeal, as in real life.
    # Unique per appeal: intake merges repeats from one appellant (same phone, similar text).
    return f"139{n % 10**8:08d}"


def next_appellant() -> int:
    """A number no other appeal of this run had (warm-up included), for its phone and code."""
    return next(_appellants)


@dataclass
class Offered:
    """What a generator sent: the appeal ids it got through, and how long offering took."""

    ids: set[str] = field(default_factory=set)
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    late_s: float = 0.0  # how late the latest send started (the generator fell behind)
    http_accept_ms: list[float] = field(default_factory=list)


async def pace(
    rate: float, seconds: float, send: Callable[[int], Coroutine[Any, Any, None]]
) -> tuple[int, float]:
    """Starts `send(n)` at `rate` per second for `seconds` without waiting for earlier sends
    (open loop), then waits for all of them; returns how many were started and how late the
    latest start was, in seconds.

    Every send due is started, late if need be: on a busy machine the loop wakes late, and each
    wake-up starts all those due by then (one per wake-up would offer less than the rate). How
    late says whether the rate was offered at all (the generator shares the cores)."""
    tasks: list[asyncio.Task[None]] = []
    planned = max(1, math.ceil(rate * seconds - 1e-9))
    begin = time.monotonic()
    n, latest = 0, 0.0
    while True:
        now = time.monotonic()
        due = min(planned, int((now - begin) * rate) + 1)
        if due > n:  # the first of them is the latest
            latest = max(latest, now - (begin + n / rate))
        while n < due:
            tasks.append(asyncio.create_task(send(n)))
            n += 1
        if n == planned:
            break
        await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    return n, latest


# Less than uvicorn's keep-alive (5 s): a connection idle longer may be closed by the server.
IDLE_S = 4.0


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, for JSON POSTs: the load generator shares
    the machine's cores with what it measures, and a general-purpose client costs several
    times the CPU per request of this one (the bench's own share of the run is reported)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open: list[asyncio.StreamWriter] = []

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """The status and the body of the answer; OSError or asyncio.IncompleteReadError
        when the connection failed. A kept connection the server has closed meanwhile (uvicorn
        closes those idle for 5 s) is not used; one that fails anyway is tried once more on a
        new connection (the request is idempotent: the same external id gets the same receipt)."""
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < IDLE_S:
                try:
                    return await self._exchange(reader, writer, body)
                except (OSError, asyncio.IncompleteReadError):
                    writer.close()
                    break
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._open.append(writer)
        return await self._exchange(reader, writer, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes
    ) -> tuple[int, bytes]:
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (self.path.encode(), self.host.encode(), self.port, len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        self._idle.append((reader, writer, time.monotonic()))
        return status, answer

    async def close(self) -> None:
        for writer in self._open:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class HttpLoad:
    """POST /v1/appeals; accepted = a 202 (the appeal and its event are committed)."""

    def __init__(self, intake_url: str) -> None:
        self.url = intake_url.rstrip("/") + "/v1/appeals"

    async def offer(self, rate: float, seconds: float) -> Offered:
        offered = Offered()
        http = Connections(self.url)
        try:

            async def post(n: int) -> None:
                body = {
                    "channel": Channel.WEB,
                    "external_id": str(uuid.uuid4()),
                    "appellant": {"name": "测试", "phone": phone(next_appellant())},
                    "content": CONTENT,
                    "location": {"community": COMMUNITY},
                }
                started = time.perf_counter()
                try:
                    status, answer = await asyncio.wait_for(
                        http.post(json.dumps(body).encode()), 30
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    offered.failed += 1
                    return
                # 200: the same submission answered before (a retry whose first try got in).
                if status in (200, 202):
                    offered.http_accept_ms.append((time.perf_counter() - started) * 1000)
                    offered.ids.add(json.loads(answer)["appeal_id"])
                else:
                    offered.failed += 1

            begin = time.monotonic()
            offered.sent, offered.late_s = await pace(rate, seconds, post)
            offered.seconds = time.monotonic() - begin
        finally:
            await http.close()
        return offered


# The bench plays intake in direct mode: its own prefix and key keep its codes apart.
BENCH_CODE_KEY = b"jiban-bench-tracking-code-key"


def appeal_received(n: int) -> AppealReceived:
    """What intake would have published for the HTTP load's body."""
    now = datetime.now(UTC)
    return AppealReceived(
        appeal_id=uuid.uuid4(),
        tracking_code=format_tracking_code("BN", local_day(now), n, BENCH_CODE_KEY),
        channel=Channel.WEB,
        external_id=str(uuid.uuid4()),
        appellant=Appellant(name="测试", phone=phone(n)),
        content=CONTENT,
        location=Location(community=COMMUNITY),
        received_at=now,
    )


class DirectLoad:
    """AppealReceived envelopes produced to appeals.immediate, keyed by appeal id like intake's
    relay does; accepted = the envelope's occurred_at (made just before the send)."""

    def __init__(self, settings: Settings, names: TopicNames) -> None:
        self.settings = settings
        self.topic = names.physical(AppealReceived.TOPIC)

    async def offer(self, rate: float, seconds: float) -> Offered:
        offered = Offered()
        # acks=all like the services; Tansu refuses idempotent producers.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=False,
            **kafka_client_options(self.settings),
        )
        await producer.start()
        try:

            async def send(n: int) -> None:
                envelope = appeal_received(next_appellant()).envelope(
                    correlation_id=str(uuid.uuid4()), producer="bench"
                )
                headers = [(k, v.encode()) for k, v in headers_for(envelope).items()]
                try:
                    await producer.send_and_wait(
                        self.topic, envelope.to_bytes(), key=envelope.key, headers=headers
                    )
                except Exception:
                    offered.failed += 1
                    return
                offered.ids.add(envelope.subject_id)

            begin = time.monotonic()
            offered.sent, offered.late_s = await pace(rate, seconds, send)
            offered.seconds = time.monotonic() - begin
        finally:
            await producer.stop()
        return offered
