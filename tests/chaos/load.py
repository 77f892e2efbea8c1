"""A steady stream of appeals over HTTP that behaves like a real channel adapter: each submission
has its own (channel, external_id) and is sent again, unchanged, until intake answers 202 or 200
(intake is idempotent on that pair). Every answer is kept, so tests can assert what intake said
while something was broken."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.dispatch.directory.demo import generate_demo_directory

# Retries back off exponentially with jitter, as a real adapter's would: a fixed short pause
# turns hundreds of waiting submissions into a storm that starves the generator itself (and
# intake, once it is back). A real adapter honours Retry-After (5 s); the test starts sooner to
# stay short, and checks that the header was there.
FIRST_RETRY_S = 0.25
MAX_RETRY_S = 4.0
# At most this many requests in flight: the rest wait their turn here, not in the HTTP pool.
MAX_IN_FLIGHT = 50
GIVE_UP_AFTER_S = 240.0


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer (or the transport error) came
    status: int | str  # HTTP status, or the name of the transport error
    retry_after: str | None = None


@dataclass
class Submission:
    external_id: str
    body: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)
    # Every appeal id intake answered with: more than one would mean the appeal was doubled.
    appeal_ids: set[str] = field(default_factory=set)

    @property
    def accepted(self) -> bool:
        return bool(self.answers) and self.answers[-1].status in (200, 202)


def enterprise_codes() -> list[str]:
    """Credit codes from the demo directory, so some appeals are routed to a chief service
    officer and others to the least loaded handler."""
    return [e.credit_code for e in generate_demo_directory().enterprises]


def new_submission(n: int, codes: list[str]) -> Submission:
    """The n-th appeal of a run. Each has its own appellant (phone, and enterprise for every
    third), so intake never takes one for another's duplicate."""
    external_id = f"chaos-{uuid.uuid4().hex[:12]}"
    body = {
        "channel": "web",
        "external_id": external_id,
        "appellant": {
            "name": "测试",
            "phone": f"139{n:08d}",
            "enterprise_credit_code": codes[n // 3 % len(codes)] if n % 3 == 0 else None,
        },
        "content": "故障测试诉求：大旺大道路灯不亮，请尽快维修。",
        "location": {"address": "肇庆高新区大旺大道", "community": "大旺社区"},
    }
    return Submission(external_id, body)


@dataclass(frozen=True)
class Mark:
    """A fault, or a step of one (a kill, a member joining, a stall…), and when it came."""

    what: str
    at: float  # time.monotonic()
    started: int  # how many submissions the load had started by then


# After `stop()` the load goes on this long, so the last mark is followed by more appeals.
TAIL_S = 2.0
# Behind schedule (the loop was busy) by more than this, the load drops the missed starts
# rather than sending them in a burst: a steady rate, whatever the machine does.
MAX_CATCH_UP_S = 0.5


class Load:
    """Submissions started at `rate` a second, each retried until accepted, from `start()`
    until the test says the faults are over (`await stop()`), and at least `minimum` of them:
    the faults set how long the load lasts, not a count."""

    def __init__(self, intake_url: str, rate: float, minimum: int = 1) -> None:
        # A restarted intake comes back on the same port, so one URL serves the whole run.
        self.url = intake_url + "/v1/appeals"
        self.rate = rate
        self.minimum = minimum
        self._codes = enterprise_codes()
        self.submissions: list[Submission] = []
        self._progress = asyncio.Condition()
        self.began_at: float | None = None
        self.last_started_at: float | None = None
        self.stop_asked_at: float | None = None
        self.finished_at: float | None = None
        self.marks: list[Mark] = []
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> int:
        return len(self.submissions)

    async def __aenter__(self) -> Load:
        self._task = asyncio.create_task(self._offer())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # A test that failed mid-fault leaves no load behind; one that got here has stopped it.
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stop(self) -> None:
        """The faults are over: the load goes on for TAIL_S (and until `minimum` have been
        started), then returns once every submission has been answered."""
        assert self._task is not None, "use `async with Load(...)`"
        self.stop_asked_at = time.monotonic()
        await self._task

    def _offering(self) -> bool:
        if self.stop_asked_at is None or self.started < self.minimum:
            return True
        return time.monotonic() < self.stop_asked_at + TAIL_S

    async def _offer(self) -> None:
        self.began_at = next_at = time.monotonic()
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=20)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            async with asyncio.TaskGroup() as tasks:
                while self._offering():
                    now = time.monotonic()
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    else:
                        next_at = max(next_at, now - MAX_CATCH_UP_S)
                    next_at += 1 / self.rate
                    submission = new_submission(self.started, self._codes)
                    tasks.create_task(self._submit(http, submission))
                    async with self._progress:
                        self.submissions.append(submission)
                        self.last_started_at = time.monotonic()
                        self._progress.notify_all()
        self.finished_at = time.monotonic()

    async def reached(self, n: int) -> None:
        """Returns once `n` submissions have been started (faults are timed by progress)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.started >= n)

    async def accepted_after(self, at: float, timeout_s: float = 60) -> None:
        """Until intake has accepted a submission (202 or 200) answered after `at`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(a.at > at and a.status in (200, 202) for a in self._answers()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"intake accepted nothing in {timeout_s}s: {self.statuses()}")

    def mark(self, what: str) -> None:
        """Notes that `what` (a fault, or a step of one) happens now; `not_under_load()` then
        says whether appeals were still arriving."""
        self.marks.append(Mark(what, time.monotonic(), self.started))

    async def _submit(self, http: httpx.AsyncClient, submission: Submission) -> None:
        give_up_at = time.monotonic() + GIVE_UP_AFTER_S
        pause = FIRST_RETRY_S
        while time.monotonic() < give_up_at:
            async with self._in_flight:
                try:
                    response = await http.post(self.url, json=submission.body)
                except httpx.TransportError as exc:
                    # Refused, reset or timed out: the appeal may or may not be stored; the
                    # same submission again is harmless either way.
                    response = None
                    answer = Answer(time.monotonic(), type(exc).__name__)
                else:
                    retry_after = response.headers.get("retry-after")
                    answer = Answer(time.monotonic(), response.status_code, retry_after)
            submission.answers.append(answer)
            if response is not None:
                if response.status_code in (200, 202):
                    submission.appeal_ids.add(response.json()["appeal_id"])
                    return
                if response.status_code < 500:
                    return  # the test sent something intake refuses: reported by `problems()`
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, MAX_RETRY_S)

    # --- what happened -----------------------------------------------------------------------

    def _answers(self) -> list[Answer]:
        return [a for s in self.submissions for a in s.answers]

    def accepted_ids(self) -> set[str]:
        return {i for s in self.submissions for i in s.appeal_ids}

    def statuses(self) -> Counter[int | str]:
        return Counter(a.status for a in self._answers())

    def answers_between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self._answers() if start <= a.at <= end]

    def timeline(self) -> str:
        """The marks against the load, in seconds since its first submission."""
        began = self.began_at
        if began is None:
            return "the load never began"

        def since(t: float | None) -> str:
            return "-" if t is None else f"{t - began:.1f}s"

        lines = [f"{since(m.at):>7} {m.what} ({m.started} started)" for m in self.marks]
        lines.append(f"{since(self.stop_asked_at):>7} the test stopped the load")
        lines.append(
            f"{since(self.last_started_at):>7} the last submission started ({self.started})"
        )
        lines.append(f"{since(self.finished_at):>7} the last submission answered")
        return "\n".join(lines)

    def not_under_load(self) -> list[str]:
        """The marks that did not fall while appeals were arriving: before the first submission
        was started, or once the last one had been (no appeal was sent after them)."""
        return [
            f"{m.what}: {m.started}/{self.started} submissions started by then"
            for m in self.marks
            if not 0 < m.started < self.started
        ]

    def problems(self) -> list[str]:
        """What a channel adapter would hold against intake, whatever the fault."""
        found = []
        for s in self.submissions:
            if not s.accepted:
                found.append(f"{s.external_id} never accepted: {[a.status for a in s.answers]}")
            if len(s.appeal_ids) > 1:
                found.append(f"{s.external_id} answered with several appeals: {s.appeal_ids}")
            for a in s.answers:
                if isinstance(a.status, int) and a.status >= 500 and a.status != 503:
                    found.append(f"{s.external_id} got {a.status}")
                if a.status == 503 and not a.retry_after:
                    found.append(f"{s.external_id} got 503 without Retry-After")
                if isinstance(a.status, int) and 400 <= a.status < 500:
                    found.append(f"{s.external_id} refused with {a.status}")
        return found
