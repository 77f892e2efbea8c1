"""Intake's group commit (submissions/groups.py) over a fake transaction: who shares a group,
each answered only after its group's commit, a failing call failing nobody else, callers that
left, and each call's own context."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from typing import Any

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
    group = GroupCommit(run, max_in_flight=1)
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


def held(**options: Any) -> tuple[Transactions, GroupCommit[str, str]]:
    """A group commit whose transactions hang until `run.hold` is set."""
    run = Transactions()
    run.hold.clear()
    return run, GroupCommit(run, **options)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_with_two_in_flight_a_call_arriving_during_a_commit_starts_at_once() -> None:
    run, group = held()  # two in flight by default
    first = asyncio.create_task(group("a"))
    await settle()
    second = asyncio.create_task(group("b"))
    await settle()
    third = [asyncio.create_task(group(item)) for item in "cd"]
    await settle()
    # b did not wait for a's commit; c and d wait for one of the two to end, then go together.
    assert run.groups == [["a"], ["b"]]
    run.hold.set()
    assert await asyncio.gather(first, second, *third) == [f"{i} by nobody" for i in "abcd"]
    assert run.groups == [["a"], ["b"], ["c", "d"]]


async def test_beside_a_group_of_several_a_call_waits_to_go_with_the_others() -> None:
    # Heavy load: a commit holding several is followed by one group of all that came meanwhile
    # (less CPU per submission than two transactions), not by a second group beside it.
    run, group = held(max_in_flight=1)
    first = [asyncio.create_task(group(item)) for item in "ab"]
    await settle()
    group.max_in_flight = 2  # the two above went together, in one group
    later = [asyncio.create_task(group(item)) for item in "cd"]
    await settle()
    assert run.groups == [["a", "b"]]
    run.hold.set()
    await asyncio.gather(*first, *later)
    assert run.groups == [["a", "b"], ["c", "d"]]


def _letters(item: str) -> set[str]:
    return set(item)


async def test_calls_sharing_a_key_are_never_in_two_groups_at_once_and_keep_their_order() -> None:
    run, group = held(keys=_letters)
    first = asyncio.create_task(group("ab"))
    await settle()
    # "bc" shares b with the group in flight, so it waits though there is room; "cd" came
    # after it and shares c with it, so it waits behind it; "xy" shares nothing and goes.
    later = [asyncio.create_task(group(item)) for item in ("bc", "cd", "xy")]
    await settle()
    assert run.groups == [["ab"], ["xy"]]
    assert not any(t.done() for t in [first, *later])
    run.hold.set()
    assert await asyncio.gather(first, *later) == [
        f"{i} by nobody" for i in ("ab", "bc", "cd", "xy")
    ]
    # bc went once ab had committed, and cd with bc (after it, in its transaction) or after it:
    # never in a group in flight beside bc's.
    rest = run.groups[2:]
    assert rest in ([["bc", "cd"]], [["bc"], ["cd"]]), run.groups


async def test_blocked_calls_start_no_group_until_one_ends() -> None:
    run, group = held(keys=_letters)
    first = asyncio.create_task(group("a"))
    await settle()
    blocked = asyncio.create_task(group("a"))  # the same key again: waits
    await settle()
    assert run.groups == [["a"]] and group._in_flight == 1  # nothing spinning beside it
    run.hold.set()
    assert list(await asyncio.gather(first, blocked)) == ["a by nobody", "a by nobody"]
    assert run.groups == [["a"], ["a"]] and group._in_flight == 0 and not group._flying


async def test_a_group_is_at_most_max_size() -> None:
    run = Transactions()
    group = GroupCommit(run, max_size=2, max_in_flight=1)
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
    group = GroupCommit(run, max_in_flight=1)
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
    group = GroupCommit(run, max_in_flight=1, max_wait_s=0.05)
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
