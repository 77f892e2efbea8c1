"""The appeal workflow's rules as fast tables, with a dict for a repository
(tests/tracking_fakes.py): arrival order, reopening, extensions, refused events, assisting
officers, follow-ups, and the alarms that may fire in each status. The same paths run against
Postgres and the broker in tests/integration/test_closed_loop_defects.py."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, envelope_of, received
from tracking_fakes import FakeAppeals, FakeUnitOfWork, fake_workflow

from services.tracking.appeals.appeal import NotYours
from services.tracking.appeals.lifecycle import (
    Accept,
    Contact,
    Progress,
    Refused,
    RequestExtension,
    RequestReturn,
    Resolve,
)
from services.tracking.appeals.workflow import AppealWorkflow, UnknownAppeal
from services.tracking.deadlines.alarms import RUNNING
from services.tracking.deadlines.policy import Stage
from shared.events import (
    AcknowledgementReminder,
    AppealReassigned,
    AppealStatusChanged,
    AssistantsChanged,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionCancelled,
    FollowUpRecorded,
    FollowUpRefused,
    PublicNoticeIssued,
)
from shared.topics import APPEALS_ASSIGNMENTS, APPEALS_FOLLOW_UPS, APPEALS_IMMEDIATE
from shared.vocabulary import AppealStatus, AppealType, Channel, Satisfaction

S = AppealStatus
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
LEAD, OTHER, HELPER = "cw-7", "cw-8", "cw-9"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def setup() -> tuple[AppealWorkflow, FakeAppeals, Clock]:
    clock = Clock()
    workflow, appeals = fake_workflow(clock)
    return workflow, appeals, clock


async def hear(workflow: AppealWorkflow, event: Event, topic: str, at: datetime) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await workflow.hear(uow, envelope_of(event, occurred_at=at), event, topic)  # type: ignore[arg-type]
    return uow


async def act(workflow: AppealWorkflow, appeal_id: uuid.UUID, action: Any) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await workflow.act(uow, appeal_id, action, correlation_id="t")  # type: ignore[arg-type]
    return uow


def follow_up(appeal_id: uuid.UUID, solved: bool, satisfaction: Satisfaction, at: datetime) -> Any:
    return FollowUpRecorded(
        appeal_id=appeal_id,
        channel=Channel.HOTLINE_12345,
        contacted=True,
        solved=solved,
        satisfaction=satisfaction,
        recorded_at=at,
    )


def announced(uows: list[FakeUnitOfWork]) -> list[tuple[S | None, S]]:
    return [(e.from_status, e.to_status) for uow in uows for e in uow.events(AppealStatusChanged)]


async def assigned_appeal(
    workflow: AppealWorkflow, clock: Clock, *, accept: bool = True, **kw: Any
) -> uuid.UUID:
    appeal = received(appeal_type=AppealType.COMPLAINT, received_at=T0, **kw)
    await hear(workflow, appeal, APPEALS_IMMEDIATE, T0)
    await hear(workflow, assigned(appeal.appeal_id, LEAD, assigned_at=T0), APPEALS_ASSIGNMENTS, T0)
    if accept:
        clock.advance(hours=1)
        await act(workflow, appeal.appeal_id, Accept(by=LEAD))
    return appeal.appeal_id


# --- defect 2: events in either order give the same appeal and the same announcements ---------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
async def test_any_arrival_order_ends_the_same_with_announcements_in_lifecycle_order(
    order: tuple[int, ...],
) -> None:
    workflow, appeals, _clock = setup()
    appeal = received(appeal_id=uuid.uuid4(), received_at=T0)
    events = [
        (appeal, APPEALS_IMMEDIATE, T0),
        (assigned(appeal.appeal_id, LEAD, assigned_at=T0), APPEALS_ASSIGNMENTS, T0),
        (
            AssistantsChanged(
                appeal_id=appeal.appeal_id,
                lead_officer_id=LEAD,
                assistant_officer_ids=[HELPER],
                changed_by="sup-1",
                changed_at=T0 + timedelta(minutes=1),
            ),
            APPEALS_ASSIGNMENTS,
            T0 + timedelta(minutes=1),
        ),
    ]
    uows = [await hear(workflow, *events[i]) for i in order]
    final = appeals.appeals[appeal.appeal_id]

    reference, reference_appeals, _ = setup()
    expected = [await hear(reference, *e) for e in events]
    assert final == reference_appeals.appeals[appeal.appeal_id]
    assert announced(uows) == announced(expected) == [(None, S.RECEIVED), (S.RECEIVED, S.ASSIGNED)]
    assert final.record.assistant_officer_ids == (HELPER,)
    assert not appeals.waiting


async def test_nothing_is_done_before_the_receipt_and_a_late_copy_of_it_changes_nothing() -> None:
    workflow, appeals, clock = setup()
    appeal = received(received_at=T0)
    await hear(workflow, assigned(appeal.appeal_id, LEAD, assigned_at=T0), APPEALS_ASSIGNMENTS, T0)
    with pytest.raises(UnknownAppeal):
        await act(workflow, appeal.appeal_id, Accept(by=LEAD))
    await hear(workflow, appeal, APPEALS_IMMEDIATE, T0)
    clock.advance(hours=1)
    await act(workflow, appeal.appeal_id, Accept(by=LEAD))
    accepted = appeals.appeals[appeal.appeal_id]
    assert accepted.deadlines[Stage.ACKNOWLEDGE].met_at == clock.now

    # The receipt again (a replay under another event id): nothing moves, nothing is announced.
    again = await hear(workflow, appeal, APPEALS_IMMEDIATE, clock.advance(hours=1))
    assert appeals.appeals[appeal.appeal_id] == accepted
    assert again.published == []


# --- defect 1: no alarm for a stage that no longer applies --------------------------------------


async def test_a_reopened_appeal_is_accepted_again_and_no_acknowledgement_alarm_outlives_it() -> (
    None
):
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock)
    await act(workflow, appeal_id, Contact(by=LEAD, method="phone"))
    await act(workflow, appeal_id, Resolve(by=LEAD, resolution="已处理"))
    bad = follow_up(appeal_id, False, Satisfaction.UNSATISFIED, clock.advance(hours=1))
    await hear(workflow, bad, APPEALS_FOLLOW_UPS, clock.now)
    reopened = appeals.appeals[appeal_id]
    assert reopened.state.status is S.REOPENED
    assert reopened.due() == (reopened.deadlines[Stage.ACKNOWLEDGE].due_at, Stage.ACKNOWLEDGE)

    for action in (Contact(by=LEAD, method="phone"), Resolve(by=LEAD, resolution="再次处理")):
        with pytest.raises(Refused, match="accept it"):
            await act(workflow, appeal_id, action)
    clock.advance(hours=1)
    for action in (
        Accept(by=LEAD),
        Contact(by=LEAD, method="visit"),
        Resolve(by=LEAD, resolution="再次处理"),
    ):
        await act(workflow, appeal_id, action)
    resolved = appeals.appeals[appeal_id]
    assert resolved.due() == (None, None)  # the queue shows nothing due

    # Weeks later, only the follow-up window may fire: nothing for the officer's stages.
    uow = FakeUnitOfWork()
    await workflow.fire_due(uow, T0 + timedelta(days=60), 100)
    officer_alarms = [
        e
        for e in uow.events()
        if isinstance(e, AcknowledgementReminder | DeadlineWarning | DeadlineOverdue)
        or isinstance(e, PublicNoticeIssued)
    ]
    assert officer_alarms == []
    assert appeals.appeals[appeal_id].state.closed_reason == "no_feedback"


@pytest.mark.parametrize("status", list(AppealStatus), ids=str)
async def test_alarms_fire_only_for_the_stages_that_run_in_the_status(status: AppealStatus) -> None:
    # Every status an appeal can reach, its deadlines all long overdue: what fires is exactly
    # the running stages' alarms.
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock, accept=False)
    steps: dict[AppealStatus, list[Any]] = {
        S.ASSIGNED: [],
        S.ACCEPTED: [Accept(by=LEAD)],
        S.IN_PROGRESS: [Accept(by=LEAD), Progress(by=LEAD, note="在办")],
        S.RETURNED: [RequestReturn(by=LEAD, reason_code="other", reason="不属本人")],
        S.RESOLVED: [
            Accept(by=LEAD),
            Contact(by=LEAD, method="phone"),
            Resolve(by=LEAD, resolution="已处理"),
        ],
    }
    if status not in steps:
        pytest.skip(f"{status} is reached by events, covered above")
    for action in steps[status]:
        await act(workflow, appeal_id, action)
    appeal = appeals.appeals[appeal_id]
    uow = FakeUnitOfWork()
    await workflow.fire_due(uow, T0 + timedelta(days=60), 100)
    fired = {e.stage for e in uow.events() if hasattr(e, "stage")}
    unmet = {s for s, d in appeal.deadlines.items() if d.met_at is None}
    unmet.discard(Stage.FOLLOW_UP)  # its window's end closes the appeal: no alarm event
    assert fired == {s.value for s in unmet & RUNNING[status]}


# --- defect 4: a pending extension ends with its round -----------------------------------------


@pytest.mark.parametrize("ending", ["resolved", "reassigned", "closed"])
async def test_a_pending_extension_is_cancelled_when_its_round_ends(ending: str) -> None:
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock)
    await act(workflow, appeal_id, Contact(by=LEAD, method="phone"))
    uow = FakeUnitOfWork()
    await workflow.request_extension(
        uow, appeal_id, RequestExtension(by=LEAD, days=3, reason="等配件"), correlation_id="t"
    )
    if ending == "resolved":
        ended = await act(workflow, appeal_id, Resolve(by=LEAD, resolution="已处理"))
    elif ending == "reassigned":
        moved = AppealReassigned(
            appeal_id=appeal_id,
            from_officer_id=LEAD,
            officer_id=OTHER,
            reason_code="manual",
            reason="主管改派",
            cause="manual",
            reassigned_at=clock.advance(hours=1),
        )
        ended = await hear(workflow, moved, APPEALS_ASSIGNMENTS, clock.now)
    else:
        await act(workflow, appeal_id, Resolve(by=LEAD, resolution="已处理"))
        ended = FakeUnitOfWork()  # resolving already cancelled it: closing finds none
    (cancelled,) = ended.events(ExtensionCancelled) or [None]
    if ending != "closed":
        assert cancelled is not None and cancelled.reason == ending
        assert cancelled.officer_id == LEAD
        assert cancelled.tracking_code == appeals.appeals[appeal_id].record.tracking_code
    appeal = appeals.appeals[appeal_id]
    assert appeal.pending_extension is None
    # Nobody may grant the stale request any more.
    with pytest.raises(Refused, match="no extension request is pending"):
        await workflow.decide_extension(
            FakeUnitOfWork(), appeal_id, _dispatcher(), grant=True, note="", correlation_id="t"
        )
    if ending == "reassigned":
        # The new officer asks afresh (no "already pending").
        await act(workflow, appeal_id, Accept(by=OTHER))
        await workflow.request_extension(
            FakeUnitOfWork(),
            appeal_id,
            RequestExtension(by=OTHER, days=2, reason="新的理由"),
            correlation_id="t",
        )
        assert appeals.appeals[appeal_id].pending_extension is not None


def _dispatcher() -> Any:
    from shared.identity import Principal, Role

    return Principal(sub="disp-1", roles=frozenset({Role.DISPATCHER}))


# --- defect 6: a refused event changes nothing but the history ---------------------------------


async def test_a_refused_reassignment_leaves_the_record_as_it_was() -> None:
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock)
    await act(workflow, appeal_id, Contact(by=LEAD, method="phone"))
    await act(workflow, appeal_id, Resolve(by=LEAD, resolution="已处理"))
    good = follow_up(appeal_id, True, Satisfaction.SATISFIED, clock.advance(hours=1))
    await hear(workflow, good, APPEALS_FOLLOW_UPS, clock.now)
    closed = appeals.appeals[appeal_id]
    assert closed.state.status is S.CLOSED
    late = AppealReassigned(
        appeal_id=appeal_id,
        from_officer_id=LEAD,
        officer_id=OTHER,
        reason_code="manual",
        reason="改派",
        cause="manual",
        reassigned_at=clock.advance(hours=1),
    )
    uow = await hear(workflow, late, APPEALS_ASSIGNMENTS, clock.now)
    after = appeals.appeals[appeal_id]
    assert (after.record, after.state, after.deadlines) == (
        closed.record,
        closed.state,
        closed.deadlines,
    )
    assert uow.published == []
    assert appeals.changes[-1].history[-1].kind == "reassigned_refused"


# --- defect 8: assisting officers record their part ----------------------------------------------


async def test_an_assisting_officer_adds_contacts_and_notes_and_only_the_lead_resolves() -> None:
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock)
    helpers = AssistantsChanged(
        appeal_id=appeal_id,
        lead_officer_id=LEAD,
        assistant_officer_ids=[HELPER],
        changed_by="sup-1",
        changed_at=clock.advance(minutes=1),
    )
    await hear(workflow, helpers, APPEALS_ASSIGNMENTS, clock.now)
    await act(workflow, appeal_id, Contact(by=HELPER, method="visit", note="现场查看"))
    await act(workflow, appeal_id, Progress(by=HELPER, note="已联系供水公司"))
    actors = [(h.kind, h.actor) for h in appeals.changes[-2].history + appeals.changes[-1].history]
    assert ("contact", HELPER) in actors and ("progress", HELPER) in actors
    assert appeals.appeals[appeal_id].state.contacted  # their contact counts
    for action in (Resolve(by=HELPER, resolution="x"), Accept(by=HELPER)):
        with pytest.raises(NotYours):
            await act(workflow, appeal_id, action)
    with pytest.raises(NotYours):
        await act(workflow, appeal_id, Contact(by=OTHER, method="phone"))
    await act(workflow, appeal_id, Resolve(by=LEAD, resolution="已恢复供水"))
    assert appeals.appeals[appeal_id].state.status is S.RESOLVED


# --- defect 7: a follow-up for an appeal not awaiting one is announced, not swallowed ------------


async def test_a_follow_up_that_came_too_early_is_refused_aloud() -> None:
    workflow, appeals, clock = setup()
    appeal_id = await assigned_appeal(workflow, clock)
    before = appeals.appeals[appeal_id]
    result = follow_up(appeal_id, True, Satisfaction.SATISFIED, clock.advance(hours=1))
    uow = await hear(workflow, result, APPEALS_FOLLOW_UPS, clock.now)
    (refused,) = uow.events(FollowUpRefused)
    assert (refused.channel, refused.status) == (Channel.HOTLINE_12345, S.ACCEPTED)
    assert "not resolved" in refused.reason
    after = appeals.appeals[appeal_id]
    assert (after.state, after.record) == (before.state, before.record)


async def test_a_follow_up_for_an_appeal_never_received_makes_no_record_of_it() -> None:
    workflow, appeals, clock = setup()
    stray = uuid.uuid4()
    uow = await hear(
        workflow, follow_up(stray, True, Satisfaction.SATISFIED, clock.now), APPEALS_FOLLOW_UPS, T0
    )
    assert stray not in appeals.appeals and not appeals.waiting
    assert uow.published == []
