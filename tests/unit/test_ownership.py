"""The ownership decisions of services/dispatch/assignments/service.py over an in-memory
repository: capacity claims and releases, returns (退单) and their rulings, reassignments and
assisting officers, as tables. No I/O: the Postgres repository is tested in
tests/integration/test_dispatch_routing.py."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest
from factories import received

from services.dispatch.assignments.model import (
    Assignment,
    PendingReturn,
    ReturnStatus,
    RoutingInput,
)
from services.dispatch.assignments.routing import Candidate, Routing, RoutingContext
from services.dispatch.assignments.service import (
    AssignmentRepository,
    Ownership,
    OwnershipError,
    routing_input,
)
from shared.events import AppealReassigned, Event, Location, ReturnDecided
from shared.vocabulary import Category, OfficerRole

TODAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DEPARTMENTS = {Category.EMPLOYMENT: ("人社局", ["dept-1", "dept-2", "dept-3"])}
DEPARTMENTS[Category.TRANSPORT] = ("交通局", ["dept-9"])
DUTY_SUPERVISOR = "sup-1"


@dataclass
class Kept:
    """A return as the fake keeps it."""

    return_id: UUID
    appeal_id: UUID
    officer_id: str
    reason_code: str
    status: ReturnStatus = ReturnStatus.PENDING
    decided_by: str | None = None
    note: str = ""
    automatic: bool = False


@dataclass
class FakeAssignments:
    """AssignmentRepository in memory: officers' loads, assignments, returns. A claim on an
    officer in `taken_meanwhile` fails once, as when another replica took the last place."""

    capacity: dict[str, int]
    loads: dict[str, int] = field(default_factory=dict)
    assignments: dict[UUID, Assignment] = field(default_factory=dict)
    reasons: dict[UUID, str] = field(default_factory=dict)
    assistants: dict[UUID, list[str]] = field(default_factory=dict)
    returns: list[Kept] = field(default_factory=list)
    counted: dict[str, tuple[int, int]] = field(default_factory=dict)
    taken_meanwhile: set[str] = field(default_factory=set)
    prepared: list[dict[UUID, RoutingInput]] = field(default_factory=list)

    async def load_batch(self, received: Mapping[UUID, RoutingInput]) -> None:
        self.prepared.append(dict(received))

    def candidate(self, officer_id: str) -> Candidate:
        role = (
            OfficerRole.SUPERVISOR
            if officer_id == DUTY_SUPERVISOR
            else OfficerRole.DEPARTMENT_OFFICER
        )
        return Candidate(
            officer_id=officer_id,
            name=f"干部{officer_id}",
            role=role,
            on_duty=True,
            capacity=self.capacity[officer_id],
            open_assignments=self.loads.get(officer_id, 0),
        )

    async def routing_context(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        today: date,
        excluded: Sequence[str] = (),
        supervisor_only: bool = False,
    ) -> RoutingContext:
        assert today == TODAY
        ctx = RoutingContext(
            appeal_id=str(appeal_id),
            category=inputs.category,
            resident=inputs.resident,
            community=inputs.community,
            excluded=frozenset(excluded),
            duty_supervisor=self.candidate(DUTY_SUPERVISOR),
        )
        if supervisor_only or inputs.category not in DEPARTMENTS:
            return ctx
        name, members = DEPARTMENTS[inputs.category]
        return replace(
            ctx,
            departments=[name],
            department_officers=[self.candidate(m) for m in members],
        )

    async def claim(self, officer_id: str, *, ignore_capacity: bool) -> bool:
        if officer_id in self.taken_meanwhile:
            self.taken_meanwhile.discard(officer_id)
            self.loads[officer_id] = self.capacity[officer_id]
            return False
        if not ignore_capacity and self.loads.get(officer_id, 0) >= self.capacity[officer_id]:
            return False
        self.loads[officer_id] = self.loads.get(officer_id, 0) + 1
        return True

    async def release(self, officer_id: str) -> None:
        self.loads[officer_id] = max(0, self.loads.get(officer_id, 0) - 1)

    async def assignment_of(
        self, appeal_id: UUID, *, for_update: bool = False
    ) -> Assignment | None:
        return self.assignments.get(appeal_id)

    async def record_assignment(
        self, appeal_id: UUID, routing: Routing, inputs: RoutingInput, *, assigned_at: datetime
    ) -> None:
        self.assignments[appeal_id] = Assignment(
            appeal_id, routing.decision.officer_id, True, inputs, tracking_code="DW-1"
        )
        self.reasons[appeal_id] = routing.decision.reason

    async def move_assignment(
        self,
        appeal_id: UUID,
        routing: Routing,
        *,
        excluded: Sequence[str],
        accepted_returns: int,
        moved_at: datetime,
    ) -> None:
        self.assignments[appeal_id] = replace(
            self.assignments[appeal_id],
            officer_id=routing.decision.officer_id,
            excluded_officer_ids=tuple(excluded),
            accepted_returns=accepted_returns,
        )
        self.reasons[appeal_id] = routing.decision.reason

    async def close_assignment(self, appeal_id: UUID) -> None:
        self.assignments[appeal_id] = replace(self.assignments[appeal_id], open=False)

    async def set_assistants(
        self, appeal_id: UUID, officer_ids: Sequence[str], *, changed_at: datetime
    ) -> None:
        self.assistants[appeal_id] = list(officer_ids)

    async def officer_name(self, officer_id: str) -> str | None:
        return f"干部{officer_id}" if officer_id in self.capacity else None

    async def existing_officers(self, officer_ids: Sequence[str]) -> set[str]:
        return {o for o in officer_ids if o in self.capacity}

    async def cso_contact(self, inputs: RoutingInput) -> tuple[str, str] | None:
        return None

    async def add_return(
        self,
        appeal_id: UUID,
        officer_id: str,
        *,
        reason_code: str,
        reason: str,
        requested_at: datetime,
    ) -> PendingReturn:
        # The database's partial unique index: one pending return per appeal.
        assert await self.pending_return(appeal_id) is None, "a second pending return"
        kept = Kept(uuid.uuid4(), appeal_id, officer_id, reason_code)
        self.returns.append(kept)
        return PendingReturn(kept.return_id, appeal_id, officer_id, reason_code)

    async def pending_return(self, appeal_id: UUID) -> PendingReturn | None:
        for r in self.returns:
            if r.appeal_id == appeal_id and r.status is ReturnStatus.PENDING:
                return PendingReturn(r.return_id, r.appeal_id, r.officer_id, r.reason_code)
        return None

    async def settle_return(
        self,
        return_id: UUID,
        status: ReturnStatus,
        *,
        decided_by: str,
        note: str,
        automatic: bool,
        decided_at: datetime,
    ) -> None:
        (kept,) = [r for r in self.returns if r.return_id == return_id]
        assert kept.status is ReturnStatus.PENDING, "a return is settled once"
        kept.status, kept.decided_by, kept.note, kept.automatic = (
            status,
            decided_by,
            note,
            automatic,
        )

    async def count_return(self, officer_id: str, *, accepted: bool) -> None:
        yes, no = self.counted.get(officer_id, (0, 0))
        self.counted[officer_id] = (yes + 1, no) if accepted else (yes, no + 1)


@dataclass
class Published:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event, *, correlation_id: str) -> None:
        self.events.append(event)

    def kinds(self) -> list[tuple[str, str | None]]:
        """(type, the ruling or the cause) of each event, in order."""
        return [
            (
                e.TYPE,
                e.decision
                if isinstance(e, ReturnDecided)
                else e.cause
                if isinstance(e, AppealReassigned)
                else None,
            )
            for e in self.events
        ]


def directory(**capacity: int) -> FakeAssignments:
    officers = {"dept-1": 5, "dept-2": 5, "dept-3": 5, "dept-9": 5, "cw-1": 5, DUTY_SUPERVISOR: 5}
    officers.update({k.replace("_", "-"): v for k, v in capacity.items()})
    return FakeAssignments(capacity=officers)


def ownership(repo: FakeAssignments, published: Published) -> Ownership:
    return Ownership(repo, published, today=lambda: TODAY, clock=lambda: NOW)


def appeal(category: Category = Category.EMPLOYMENT) -> Any:
    return received(category=category, location=Location(address="大旺大道"))


def the_invariants_hold(repo: FakeAssignments, published: Published) -> None:
    """A pending return is only ever its holder's, and an accepting ruling travels with the
    move it causes."""
    for r in repo.returns:
        if r.status is ReturnStatus.PENDING:
            held = repo.assignments[r.appeal_id]
            assert held.open and held.officer_id == r.officer_id, r
    kinds = published.kinds()
    for index, kind in enumerate(kinds):
        if kind == ("ReturnDecided", "accept"):
            assert kinds[index + 1] == ("AppealReassigned", "return"), kinds


def test_the_fake_answers_what_the_repository_interface_asks() -> None:
    """The fake stays in step with the interface (the Postgres store is held to it by mypy)."""
    asked = {
        name: inspect.signature(member)
        for name, member in vars(AssignmentRepository).items()
        if inspect.iscoroutinefunction(member)
    }
    assert len(asked) == 16
    for name, signature in asked.items():
        answered = inspect.signature(getattr(FakeAssignments, name))
        assert list(answered.parameters) == list(signature.parameters), name


# --- capacity: claims and releases --------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "appeals", "expected"),
    [
        # Least loaded first, ties to the smallest id.
        ({}, 3, ["dept-1", "dept-2", "dept-3"]),
        # Full officers are passed over; when all are, the duty supervisor takes it (triage).
        ({"dept_1": 1, "dept_2": 1, "dept_3": 0}, 3, ["dept-1", "dept-2", "sup-1"]),
        ({"dept_1": 0, "dept_2": 0, "dept_3": 0, "sup_1": 0}, 2, ["sup-1", "sup-1"]),
    ],
)
async def test_assignments_claim_capacity(
    capacity: dict[str, int], appeals: int, expected: list[str]
) -> None:
    repo, published = directory(**capacity), Published()
    events = [appeal() for _ in range(appeals)]
    for event in events:
        await ownership(repo, published).assign(event, "c")
    assert [repo.assignments[e.appeal_id].officer_id for e in events] == expected
    assert [kind for kind, _ in published.kinds()] == ["AppealAssigned"] * appeals
    for officer in set(expected):
        assert repo.loads[officer] == expected.count(officer)


async def test_a_place_taken_meanwhile_routes_again() -> None:
    repo, published = directory(), Published()
    repo.taken_meanwhile.add("dept-1")
    event = appeal()
    await ownership(repo, published).assign(event, "c")
    assert repo.assignments[event.appeal_id].officer_id == "dept-2"
    assert repo.loads["dept-2"] == 1


async def test_an_appeal_heard_twice_is_assigned_once() -> None:
    repo, published = directory(), Published()
    event = appeal()
    await ownership(repo, published).assign(event, "c")
    await ownership(repo, published).assign(event, "c")
    assert len(published.events) == 1 and repo.loads["dept-1"] == 1


async def test_a_batch_is_prepared_once_with_each_appeal_once() -> None:
    repo, published = directory(), Published()
    first, second = appeal(), appeal(Category.TRANSPORT)
    again = first.model_copy()  # republished under a new event id, in the same batch
    decisions = ownership(repo, published)
    await decisions.prepare([first, second, again])
    for event in (first, second, again):
        await decisions.assign(event, "c")
    assert repo.prepared == [
        {first.appeal_id: routing_input(first), second.appeal_id: routing_input(second)}
    ]
    assert [repo.assignments[e.appeal_id].officer_id for e in (first, second)] == [
        "dept-1",
        "dept-9",
    ]
    assert len(published.events) == 2 and repo.loads == {"dept-1": 1, "dept-9": 1}


async def test_closing_releases_once_and_settles_a_pending_return() -> None:
    repo, published = directory(), Published()
    event = appeal()
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    await decide.request_return(
        appeal_id=event.appeal_id,
        officer_id="dept-1",
        reason_code="workload",
        reason="积压",
        correlation_id="c",
    )
    await decide.close(event.appeal_id)
    await decide.close(event.appeal_id)
    assert repo.loads["dept-1"] == 0 and not repo.assignments[event.appeal_id].open
    assert [(r.status, r.decided_by) for r in repo.returns] == [
        (ReturnStatus.SUPERSEDED, "dispatch")
    ]
    assert repo.counted == {}
    with pytest.raises(OwnershipError) as refused:
        await decide.decide_return(
            event.appeal_id, accept=True, decided_by="disp-1", note="", correlation_id="c"
        )
    assert refused.value.status == 409


# --- returns (退单), as a table of steps -------------------------------------------------------
#
# Steps: ("return", who, reason_code) — `holder` is whoever holds it then; ("rule", decision);
# ("rule refused", decision) — a 409; ("requested",) — tracking's ReassignmentRequested;
# ("manual", officer or None) — a supervisor's reassignment.

Step = tuple[Any, ...]

RETURNS: list[tuple[str, Category, list[Step], dict[str, Any]]] = [
    (
        "pending",
        Category.EMPLOYMENT,
        [("return", "holder", "workload")],
        {"holder": "dept-1", "returns": [("dept-1", "pending", None)], "events": []},
    ),
    (
        "accepted: moved, and the officer excluded",
        Category.EMPLOYMENT,
        [("return", "holder", "workload"), ("rule", "accept")],
        {
            "holder": "dept-2",
            "excluded": ("dept-1",),
            "returns": [("dept-1", "accepted", "disp-1")],
            "events": [("ReturnDecided", "accept"), ("AppealReassigned", "return")],
            "counted": {"dept-1": (1, 0)},
            "loads": {"dept-1": 0, "dept-2": 1},
        },
    ),
    (
        "rejected: it stays",
        Category.EMPLOYMENT,
        [("return", "holder", "workload"), ("rule", "reject")],
        {
            "holder": "dept-1",
            "returns": [("dept-1", "rejected", "disp-1")],
            "events": [("ReturnDecided", "reject")],
            "counted": {"dept-1": (0, 1)},
        },
    ),
    (
        "the second accepted return goes to the duty supervisor",
        Category.EMPLOYMENT,
        [
            ("return", "holder", "workload"),
            ("rule", "accept"),
            ("return", "holder", "workload"),
            ("rule", "accept"),
        ],
        {
            "holder": "sup-1",
            "reason": "已被退单 2 次",
            "excluded": ("dept-1", "dept-2"),
            "returns": [("dept-1", "accepted", "disp-1"), ("dept-2", "accepted", "disp-1")],
            "events": [("ReturnDecided", "accept"), ("AppealReassigned", "return")] * 2,
            "counted": {"dept-1": (1, 0), "dept-2": (1, 0)},
        },
    ),
    (
        "not_my_area with a clear other owner is accepted at once",
        Category.EMPLOYMENT,
        [("return", "holder", "not_my_area")],
        {
            "holder": "dept-2",
            "returns": [("dept-1", "accepted", "dispatch")],
            "automatic": [True],
            "events": [("ReturnDecided", "accept"), ("AppealReassigned", "return")],
            "counted": {"dept-1": (1, 0)},
        },
    ),
    (
        "not_my_area with nobody else but triage waits for the dispatcher",
        Category.TRANSPORT,
        [("return", "holder", "not_my_area")],
        {"holder": "dept-9", "returns": [("dept-9", "pending", None)], "events": []},
    ),
    (
        "superseded by tracking's reassignment request; the new holder's return is heard",
        Category.EMPLOYMENT,
        [
            ("return", "holder", "workload"),
            ("requested",),
            ("rule refused", "accept"),
            ("return", "holder", "workload"),
            ("rule", "accept"),
        ],
        {
            "holder": "dept-3",
            "excluded": ("dept-1", "dept-2"),
            "returns": [("dept-1", "superseded", "dispatch"), ("dept-2", "accepted", "disp-1")],
            "events": [
                ("AppealReassigned", "reassignment_request"),
                ("ReturnDecided", "accept"),
                ("AppealReassigned", "return"),
            ],
            "counted": {"dept-2": (1, 0)},
            "loads": {"dept-1": 0, "dept-2": 0, "dept-3": 1},
        },
    ),
    (
        "superseded by a supervisor's reassignment to a named officer",
        Category.EMPLOYMENT,
        [("return", "holder", "workload"), ("manual", "cw-1"), ("rule refused", "reject")],
        {
            "holder": "cw-1",
            "returns": [("dept-1", "superseded", "sup-9")],
            "events": [("AppealReassigned", "manual")],
        },
    ),
    (
        "superseded by a supervisor's reassignment routed again",
        Category.EMPLOYMENT,
        [("return", "holder", "workload"), ("manual", None)],
        {
            "holder": "dept-2",
            "excluded": ("dept-1",),
            "returns": [("dept-1", "superseded", "sup-9")],
            "events": [("AppealReassigned", "manual")],
        },
    ),
    (
        "a ruling with nothing pending is refused",
        Category.EMPLOYMENT,
        [("rule refused", "accept")],
        {"holder": "dept-1", "returns": [], "events": []},
    ),
    (
        "a return from someone who does not hold it is ignored",
        Category.EMPLOYMENT,
        [("return", "dept-2", "workload")],
        {"holder": "dept-1", "returns": [], "events": []},
    ),
    (
        "the holder asking twice makes one return",
        Category.EMPLOYMENT,
        [("return", "holder", "workload"), ("return", "holder", "other")],
        {"holder": "dept-1", "returns": [("dept-1", "pending", None)], "events": []},
    ),
]


@pytest.mark.parametrize(
    ("category", "steps", "expected"),
    [case[1:] for case in RETURNS],
    ids=[case[0] for case in RETURNS],
)
async def test_returns(category: Category, steps: list[Step], expected: dict[str, Any]) -> None:
    repo, published = directory(), Published()
    event = appeal(category)
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    published.events.clear()
    for step in steps:
        holder = repo.assignments[event.appeal_id].officer_id
        if step[0] == "return":
            await decide.request_return(
                appeal_id=event.appeal_id,
                officer_id=holder if step[1] == "holder" else step[1],
                reason_code=step[2],
                reason="理由",
                correlation_id="c",
            )
        elif step[0] == "rule":
            ruling = await decide.decide_return(
                event.appeal_id,
                accept=step[1] == "accept",
                decided_by="disp-1",
                note="",
                correlation_id="c",
            )
            assert ruling.officer_id == repo.assignments[event.appeal_id].officer_id
        elif step[0] == "rule refused":
            with pytest.raises(OwnershipError) as refused:
                await decide.decide_return(
                    event.appeal_id,
                    accept=step[1] == "accept",
                    decided_by="disp-1",
                    note="",
                    correlation_id="c",
                )
            assert refused.value.status == 409
        elif step[0] == "requested":
            await decide.request_reassignment(
                appeal_id=event.appeal_id, exclude_officer_ids=[], correlation_id="c"
            )
        elif step[0] == "manual":
            await decide.reassign(
                event.appeal_id, by="sup-9", officer_id=step[1], note="", correlation_id="c"
            )
        the_invariants_hold(repo, published)
    held = repo.assignments[event.appeal_id]
    assert held.officer_id == expected["holder"]
    assert [(r.officer_id, r.status.value, r.decided_by) for r in repo.returns] == expected[
        "returns"
    ]
    assert published.kinds() == expected["events"]
    assert repo.counted == expected.get("counted", {})
    if "excluded" in expected:
        assert held.excluded_officer_ids == expected["excluded"]
    if "reason" in expected:
        assert expected["reason"] in repo.reasons[event.appeal_id]
    if "automatic" in expected:
        assert [r.automatic for r in repo.returns] == expected["automatic"]
    for officer, load in expected.get("loads", {}).items():
        assert repo.loads.get(officer, 0) == load
    for kept in repo.returns:
        if kept.status is ReturnStatus.SUPERSEDED:
            assert "改派" in kept.note and not kept.automatic


async def test_someone_elses_stale_pending_return_never_blocks_the_holder() -> None:
    """A pending return left from before moves settled them (data from an earlier version)."""
    repo, published = directory(), Published()
    event = appeal()
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    repo.returns.append(Kept(uuid.uuid4(), event.appeal_id, "dept-7", "workload"))
    await decide.request_return(
        appeal_id=event.appeal_id,
        officer_id="dept-1",
        reason_code="workload",
        reason="积压",
        correlation_id="c",
    )
    assert [(r.officer_id, r.status) for r in repo.returns] == [
        ("dept-7", ReturnStatus.SUPERSEDED),
        ("dept-1", ReturnStatus.PENDING),
    ]
    assert "不再承办" in repo.returns[0].note
    the_invariants_hold(repo, published)


# --- reassignment -----------------------------------------------------------------------------


async def test_a_reassignment_request_excludes_the_holder_and_those_named() -> None:
    repo, published = directory(), Published()
    event = appeal()
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    await decide.request_reassignment(
        appeal_id=event.appeal_id, exclude_officer_ids=["dept-2"], correlation_id="c"
    )
    held = repo.assignments[event.appeal_id]
    assert (held.officer_id, held.excluded_officer_ids) == ("dept-3", ("dept-1", "dept-2"))
    assert published.kinds()[-1] == ("AppealReassigned", "reassignment_request")
    assert (repo.loads["dept-1"], repo.loads["dept-3"]) == (0, 1)


async def test_a_manual_pick_overrules_capacity_and_is_no_longer_excluded() -> None:
    repo, published = directory(cw_1=0), Published()
    event = appeal()
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    await decide.request_reassignment(
        appeal_id=event.appeal_id, exclude_officer_ids=[], correlation_id="c"
    )
    moved = await decide.reassign(
        event.appeal_id, by="sup-9", officer_id="dept-1", note="熟悉情况", correlation_id="c"
    )
    held = repo.assignments[event.appeal_id]
    assert (moved.from_officer_id, moved.officer_id, moved.reason_code) == (
        "dept-2",
        "dept-1",
        "manual",
    )
    assert moved.reason == "主管 sup-9 指定改派给 干部dept-1：熟悉情况"
    assert "dept-1" not in held.excluded_officer_ids and "dept-2" in held.excluded_officer_ids
    full = await decide.reassign(
        event.appeal_id, by="sup-9", officer_id="cw-1", note="", correlation_id="c"
    )
    assert full.officer_id == "cw-1" and repo.loads["cw-1"] == 1  # capacity 0, overruled


@pytest.mark.parametrize(
    ("officer_id", "closed", "known", "status", "field"),
    [
        ("dept-1", False, True, 409, "officer_id"),  # already with them
        ("nobody", False, True, 422, "officer_id"),
        (None, True, True, 409, None),  # closed: it no longer moves
        (None, False, False, 404, None),  # never assigned
    ],
)
async def test_a_reassignment_refused(
    officer_id: str | None, closed: bool, known: bool, status: int, field: str | None
) -> None:
    repo, published = directory(), Published()
    event = appeal()
    decide = ownership(repo, published)
    if known:
        await decide.assign(event, "c")
    if closed:
        await decide.close(event.appeal_id)
    with pytest.raises(OwnershipError) as refused:
        await decide.reassign(
            event.appeal_id, by="sup-9", officer_id=officer_id, note="", correlation_id="c"
        )
    assert (refused.value.status, refused.value.field) == (status, field)


# --- assisting officers (协办) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("officer_ids", "outcome"),
    [
        (["dept-2", "dept-3", "dept-2"], ["dept-2", "dept-3"]),
        ([], []),
        (["dept-1"], 422),  # the lead is not its own assistant
        (["ghost"], 422),
    ],
)
async def test_assistants(officer_ids: list[str], outcome: list[str] | int) -> None:
    repo, published = directory(), Published()
    event = appeal()
    decide = ownership(repo, published)
    await decide.assign(event, "c")
    if isinstance(outcome, int):
        with pytest.raises(OwnershipError) as refused:
            await decide.set_assistants(
                event.appeal_id, by="sup-9", officer_ids=officer_ids, correlation_id="c"
            )
        assert (refused.value.status, refused.value.field) == (outcome, "officer_ids")
        return
    changed = await decide.set_assistants(
        event.appeal_id, by="sup-9", officer_ids=officer_ids, correlation_id="c"
    )
    assert changed.assistant_officer_ids == outcome == repo.assistants[event.appeal_id]
    assert changed.lead_officer_id == "dept-1"
