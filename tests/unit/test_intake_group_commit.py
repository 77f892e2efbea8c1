"""Intake's group commit (submissions/groups.py) over a fake transaction: who shares a group,
each answered only after its group's commit, a failing call failing nobody else, callers that
left, and each call's own context."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from services.intake.submissions.groups import Call, GroupCommit
from shared.failures import is_transient

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


class Transactions:
    """Runs a group as one transaction: records the group, can be held open, and fails on the
    items it is told to."""

    def __init__(self, *, failing: frozenset[str] = frozenset(), error: type = ValueError):
        self.groups: list[list[str]] = []
        self.committed: list[str] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.failing = failing
        self.error = error

    async def __call__(self, calls: Sequence[Call[str]]) -> list[str]:
        items = [call.item for call in calls]
        self.groups.append(items)
        await self.hold.wait()
        if self.failing & set(items):
            raise self.error("bad item")
        self.committed += items
        return [f"{call.item} by {call.context.run(WHO.get)}" for call in calls]


async def call_as(group: GroupCommit[str, str], who: str, item: str) -> str:
    WHO.set(who)
    return await group(item)


async def test_a_lone_call_goes_at_once_in_its_own_group() -> None:
    run = Transactions()
    assert await GroupCommit(run)("a") == "a by nobody"
    assert run.groups == [["a"]]


async def test_calls_arriving_during_a_commit_share_the_next_one() -> None:
    run = Transactions()
    group = GroupCommit(run)
    run.hold.clear()
    first = asyncio.create_task(call_as(group, "ann", "a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.create_task(call_as(group, who, who[0])) for who in ("bob", "cat", "dan")]
    await asyncio.sleep(0.01)
    assert run.groups == [["a"]] and not any(t.done() for t in [first, *later])
    run.hold.set()
    assert await first == "a by ann"
    # Each answered with its own result, in its own context.
    assert await asyncio.gather(*later) == ["b by bob", "c by cat", "d by dan"]
    assert run.groups == [["a"], ["b", "c", "d"]]


async def test_a_group_is_at_most_max_size() -> None:
    run = Transactions()
    group = GroupCommit(run, max_size=2)
    run.hold.clear()
    tasks = [asyncio.create_task(group(str(n))) for n in range(5)]
    await asyncio.sleep(0)
    run.hold.set()
    await asyncio.gather(*tasks)
    assert run.groups == [["0", "1"], ["2", "3"], ["4"]]


async def test_a_failing_call_fails_nobody_else() -> None:
    run = Transactions(failing=frozenset({"b"}))
    group = GroupCommit(run)
    answers = await asyncio.gather(*(group(item) for item in "abc"), return_exceptions=True)
    assert answers[0] == "a by nobody" and answers[2] == "c by nobody"
    assert isinstance(answers[1], ValueError)
    # The group, rolled back, then each alone.
    assert run.groups == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert run.committed == ["a", "c"]


async def test_a_dependency_down_fails_the_whole_group_at_once() -> None:
    run = Transactions(failing=frozenset("abc"), error=ConnectionRefusedError)
    group = GroupCommit(run)
    answers = await asyncio.gather(*(group(item) for item in "abc"), return_exceptions=True)
    assert all(isinstance(a, ConnectionRefusedError) for a in answers)
    assert run.groups == [["a", "b", "c"]]  # not tried again one by one: nothing would change


async def test_a_caller_gone_before_its_group_starts_is_left_out() -> None:
    run = Transactions()
    group = GroupCommit(run)
    run.hold.clear()
    first = asyncio.create_task(group("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gone = asyncio.create_task(group("b"))
    stays = asyncio.create_task(group("c"))
    await asyncio.sleep(0)
    gone.cancel()
    run.hold.set()
    assert await first == "a by nobody" and await stays == "c by nobody"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert run.groups == [["a"], ["c"]]


async def test_a_call_waiting_too_long_is_refused_as_a_busy_pool_would_refuse_it() -> None:
    run = Transactions()
    group = GroupCommit(run, max_wait_s=0.05)
    run.hold.clear()
    first = asyncio.create_task(group("a"))  # its transaction hangs
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(PoolTimeoutError) as refused:
        await group("b")
    assert is_transient(refused.value)  # the routes answer 503: nothing stored, retry
    run.hold.set()
    assert await first == "a by nobody"  # a group that started is answered by its group
    assert run.groups == [["a"]]
