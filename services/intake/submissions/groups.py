"""Group commit for HTTP submissions: those that arrive while a group is being committed wait and
go together in the next one, in one transaction with one commit (and one statement for all their
answers), each answered only once that commit is done. Nothing waits when nothing is in flight,
so a lone submission goes at once; under load the groups grow by themselves. Up to two groups
are in flight (`max_in_flight`), the second only beside a group of one (`eager_up_to`): under
light load a submission then need not wait for the commit ahead of it before its own starts,
which on two busy cores halved the accept latency; under heavy load two groups at once cost more
CPU than one bigger group, and the backlog grew faster. Submissions that touch the same
thing (`keys`: the same submission, the same appellant) are never in two groups in flight at
once, and keep their order: a repeat must see the appeal it repeats committed to join it, as it
would with one group at a time. A group waiting on a row lock (a concurrent duplicate's
transaction, on another replica or the inbound consumer) holds back only what comes after it.

A group that fails for a reason of its own (anything but a dependency being down) is done again
one submission at a time, each in its own transaction: a failing submission fails nobody else.
When a dependency is down, every submission of the group gets that error (nothing was stored;
the routes answer 503), as each would alone."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.failures import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUP = 32
MAX_IN_FLIGHT = 2
# A second group starts beside one in flight only while that one holds at most this many: under
# light load it saves a submission the wait for the commit ahead; under heavy load the groups
# are bigger, and waiting to go together costs less CPU per submission than two transactions.
EAGER_UP_TO = 1
# How long a submission waits for its group to start, as long as a transaction waits for a
# connection from the pool (shared/db.py): then it is refused as the pool would refuse it (503,
# nothing stored), rather than wait behind a transaction that hangs (a database cut off).
MAX_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One caller's item, and the context it called in: what is published for it carries that
    context's trace (its request's), not that of whoever started the group."""

    item: T
    context: contextvars.Context


@dataclass(slots=True, eq=False)  # each is itself: the same submission may wait twice
class _Waiting(Generic[T, R]):
    call: Call[T]
    keys: frozenset[Hashable]
    answer: asyncio.Future[R] = field(repr=False)
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)


def _no_keys(item: object) -> Iterable[Hashable]:
    return ()


class GroupCommit(Generic[T, R]):
    """`await group(item)`: `run(calls)` does a whole group in one transaction and returns one
    result per call, in order, once committed. Items sharing any of `keys(item)` go in one
    group or one after another, never in two groups at once."""

    def __init__(
        self,
        run: Callable[[Sequence[Call[T]]], Awaitable[Sequence[R]]],
        *,
        keys: Callable[[T], Iterable[Hashable]] = _no_keys,
        max_size: int = MAX_GROUP,
        max_in_flight: int = MAX_IN_FLIGHT,
        eager_up_to: int = EAGER_UP_TO,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self._run = run
        self._keys = keys
        self.max_size = max_size
        self.max_in_flight = max_in_flight
        self.eager_up_to = eager_up_to
        self.max_wait_s = max_wait_s
        self._waiting: list[_Waiting[T, R]] = []
        # Groups started (tasks), and of those the ones that have taken their submissions.
        self._in_flight = 0
        self._flying: list[list[_Waiting[T, R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        waiting = _Waiting(
            Call(item, contextvars.copy_context()), frozenset(self._keys(item)), answer
        )
        waiting.expiry = loop.call_later(self.max_wait_s, self._expire, waiting)
        self._waiting.append(waiting)
        self._start(loop)
        # A caller that goes away (its request cancelled) before its group starts is left out;
        # once the group has started, it is stored all the same, as a commit that happened
        # just before the cancellation would be.
        return await waiting.answer

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        # Only for a group that has someone to take (the others wait for a group to end), and
        # beside groups in flight only when each has taken its few (EAGER_UP_TO).
        beside_small = len(self._flying) == self._in_flight and all(
            len(group) <= self.eager_up_to for group in self._flying
        )
        if (
            (self._in_flight == 0 or beside_small)
            and self._in_flight < self.max_in_flight
            and self._next_group(limit=1)
        ):
            self._in_flight += 1
            task = loop.create_task(self._commit())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_group(self, limit: int) -> list[_Waiting[T, R]]:
        """Up to `limit` of those waiting, in arrival order, whose keys no group in flight holds,
        nor one left waiting before them (which keeps its place)."""
        blocked = {key for group in self._flying for waiting in group for key in waiting.keys}
        group: list[_Waiting[T, R]] = []
        for waiting in self._waiting:
            if len(group) == limit:
                break
            if waiting.keys & blocked:
                blocked |= waiting.keys
            else:
                group.append(waiting)
        return group

    async def _commit(self) -> None:
        group: list[_Waiting[T, R]] | None = None
        try:
            # Taken when the task runs, not when it was made: whoever arrived meanwhile joins.
            group = self._next_group(limit=self.max_size)
            self._flying.append(group)
            taken = set(group)
            self._waiting = [w for w in self._waiting if w not in taken]
            for waiting in group:
                if waiting.expiry is not None:
                    waiting.expiry.cancel()
            live = [w for w in group if not w.answer.done()]
            if live:
                await self._answer(live)
        except BaseException:
            for waiting in group or ():
                if not waiting.answer.done():
                    waiting.answer.cancel()
            raise
        finally:
            if group is not None:
                self._flying.remove(group)
            self._in_flight -= 1
            self._start(asyncio.get_running_loop())

    def _expire(self, waiting: _Waiting[T, R]) -> None:
        # Only while it waits: once its group has started, the group answers it.
        if waiting in self._waiting:
            self._waiting.remove(waiting)
            _fail(
                waiting.answer,
                PoolTimeoutError(f"no transaction for this submission within {self.max_wait_s} s"),
            )

    async def _answer(self, group: list[_Waiting[T, R]]) -> None:
        try:
            results = await self._run([w.call for w in group])
        except Exception as exc:
            if len(group) == 1 or is_transient(exc):
                for waiting in group:
                    _fail(waiting.answer, exc)
                return
            log.warning(
                "a group of submissions failed; taking them one at a time",
                exc_info=True,
                extra={"group": len(group)},
            )
            for waiting in group:
                await self._alone(waiting)
            return
        for waiting, result in zip(group, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def _alone(self, waiting: _Waiting[T, R]) -> None:
        try:
            [result] = await self._run([waiting.call])
        except Exception as exc:
            _fail(waiting.answer, exc)
        else:
            if not waiting.answer.done():
                waiting.answer.set_result(result)


def _fail(answer: asyncio.Future[R], exc: Exception) -> None:
    if not answer.done():
        answer.set_exception(exc)
