"""The one way an appeal changes. Whoever moves it — the consumers (what intake and dispatch
report, the call-back's results), the officers' and supervisors' routes, the deadline scheduler —
calls this service with a unit of work; it locks the appeal through the repository
(`store.py`), asks the rules (`appeal.py`, pure) for the change, stores it and puts its events in
the outbox, all in that unit of work. No other module writes an appeal's state, history,
deadlines or extension requests (`tests/unit/test_tracking_architecture.py` holds that).

Events heard before the appeal's receipt (an assignment can overtake it: another topic) wait in
the repository and are applied, in the order they came, right after the receipt, so every
arrival order ends in the same appeal with the same announcements, in lifecycle order."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from prometheus_client import Counter

from services.tracking.appeals.appeal import (
    Appeal,
    AppealRules,
    Cause,
    Change,
    ExtensionChange,
    NotYours,
    PendingExtension,
)
from services.tracking.appeals.authority import (
    MARKERS,
    RULERS,
    may_mark_unreasonable,
    may_rule_on_extension,
)
from services.tracking.appeals.lifecycle import Action, RequestExtension
from services.tracking.appeals.store import AppealRepository, PostgresAppeals
from services.tracking.deadlines.timekeeping import Timekeeping
from shared.clock import utcnow
from shared.envelope import Envelope
from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AssistantsChanged,
    Event,
    FollowUpRecorded,
    ReturnDecided,
)
from shared.identity import Principal
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ALARMS_FIRED = Counter(
    "jiban_deadline_alarms_fired_total",
    "Deadline alarms fired, by stage and alarm",
    ["stage", "alarm"],
)
WAITING = Counter(
    "jiban_tracking_events_waiting_for_receipt_total",
    "Events about an appeal heard before its receipt, kept until it comes",
    ["event_type"],
)
UNKNOWN_FOLLOW_UPS = Counter(
    "jiban_tracking_unknown_follow_ups_total", "Follow-up results for appeals tracking never saw"
)
# An appeal whose alarms fail to fire (a bug, bad data) is set aside this long, not retried at
# the head of every round where it would starve the others.
SET_ASIDE = timedelta(minutes=10)

# What other services report about an appeal.
Heard = (
    AppealReceived
    | AppealMerged
    | AppealAssigned
    | AppealReassigned
    | AssistantsChanged
    | ReturnDecided
    | FollowUpRecorded
)


class UnknownAppeal(LookupError):
    """Tracking has not heard of the appeal (yet): its receipt has not come."""


class AppealWorkflow:
    def __init__(
        self,
        time: Timekeeping,
        appeals: Callable[[UnitOfWork], AppealRepository] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.time = time
        # The time officers' and supervisors' steps happen at (deadlines and history use it).
        self.clock = clock
        self.rules = AppealRules(time)
        # One repository per unit of work: what a batch loaded serves all its messages.
        self._appeals = appeals or (
            lambda uow: uow.attached(
                PostgresAppeals,
                lambda: PostgresAppeals(uow.session, reminder_every=time.reminder_every),
            )
        )

    # -- what other services report ---------------------------------------------------------

    async def prepare(self, uow: UnitOfWork, events: Sequence[Heard]) -> None:
        """Before a batch of what others report: its appeals locked and loaded at once. Not for
        the call-backs' results: they never make an appeal tracking has not heard of."""
        ids = [e.appeal_id for e in events if not isinstance(e, FollowUpRecorded)]
        if ids:
            await self._appeals(uow).load(ids)

    async def hear(self, uow: UnitOfWork, envelope: Envelope, event: Heard, topic: str) -> None:
        """An event about an appeal from another service (the consumers call this)."""
        repo = self._appeals(uow)
        # A call-back can only follow a resolution tracking made, so one for an appeal it has
        # not received names an appeal that does not exist here (intake refuses those it does
        # not know): nothing to change, and no record of an appeal nobody raised.
        following_up = isinstance(event, FollowUpRecorded)
        appeal = await repo.lock(event.appeal_id, create=not following_up)
        if appeal is None or (following_up and not appeal.received):
            log.warning(
                "follow-up for an unknown appeal", extra={"appeal_id": str(event.appeal_id)}
            )
            UNKNOWN_FOLLOW_UPS.inc()
            return
        if not appeal.received and not isinstance(event, AppealReceived):
            await repo.park(event.appeal_id, topic, envelope)
            WAITING.labels(envelope.type).inc()
            return
        appeal = await self._apply(uow, repo, self._decide(appeal, envelope, event), envelope)
        if isinstance(event, AppealReceived):
            for _topic, waited in await repo.unpark(event.appeal_id):
                model = _HEARD[waited.type]
                later = model.model_validate(waited.payload)
                appeal = await self._apply(uow, repo, self._decide(appeal, waited, later), waited)

    def _decide(self, appeal: Appeal, envelope: Envelope, event: Event) -> Change:
        cause = Cause(envelope.event_id, envelope.occurred_at)
        rules = self.rules
        match event:
            case AppealReceived():
                return rules.receive(appeal, event, cause)
            case AppealMerged():
                return rules.merge(appeal, event, cause)
            case AppealAssigned() | AppealReassigned():
                return rules.assign(appeal, event, cause)
            case AssistantsChanged():
                return rules.change_assistants(appeal, event, cause)
            case ReturnDecided():
                return rules.rule_on_return(appeal, event, cause)
            case FollowUpRecorded():
                return rules.follow_up(appeal, event, cause)
        raise TypeError(f"tracking does not hear {type(event).__name__}")

    # -- what officers and their supervisors do ---------------------------------------------

    async def act(
        self, uow: UnitOfWork, appeal_id: UUID, action: Action, *, correlation_id: str
    ) -> Appeal:
        """An officer's step; NotYours, lifecycle.Refused or UnknownAppeal."""
        repo, appeal = await self._known(uow, appeal_id)
        change = self.rules.officer_act(appeal, action, self._now())
        return await self._apply(uow, repo, change, correlation_id)

    async def request_extension(
        self, uow: UnitOfWork, appeal_id: UUID, action: RequestExtension, *, correlation_id: str
    ) -> tuple[Appeal, PendingExtension]:
        repo, appeal = await self._known(uow, appeal_id)
        change = self.rules.request_extension(
            appeal, action, self._now(), extension_id=await repo.next_extension_id()
        )
        after = await self._apply(uow, repo, change, correlation_id)
        assert after.pending_extension is not None
        return after, after.pending_extension

    async def decide_extension(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        caller: Principal,
        *,
        grant: bool,
        note: str,
        correlation_id: str,
    ) -> tuple[Appeal, ExtensionChange]:
        repo, appeal = await self._known(uow, appeal_id)
        if not may_rule_on_extension(caller, appeal.officer.unit if appeal.officer else None):
            raise NotYours(RULERS)
        change = self.rules.decide_extension(
            appeal, grant=grant, by=caller.sub, note=note, cause=self._now()
        )
        after = await self._apply(uow, repo, change, correlation_id)
        return after, change.extensions[-1]

    async def mark_unreasonable(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        caller: Principal,
        *,
        reason: str,
        correlation_id: str,
    ) -> Appeal:
        repo, appeal = await self._known(uow, appeal_id)
        if not may_mark_unreasonable(caller, appeal.officer.unit if appeal.officer else None):
            raise NotYours(MARKERS)
        change = self.rules.mark_unreasonable(
            appeal, by=caller.sub, reason=reason, cause=self._now()
        )
        return await self._apply(uow, repo, change, correlation_id)

    # -- tracking's clock -------------------------------------------------------------------

    async def fire_due(self, uow: UnitOfWork, now: datetime, limit: int) -> int:
        """Fires what has fallen due on up to `limit` appeals; returns how many it took. Each
        appeal in a savepoint of its own: one that fails is set aside, not the round."""
        repo = self._appeals(uow)
        taken = await repo.due(now, limit)
        for appeal_id in taken:
            try:
                async with uow.savepoint():
                    appeal = await repo.lock(appeal_id, create=False)
                    if appeal is None:
                        continue
                    cause = Cause(uuid.uuid5(appeal_id, f"alarms:{now.isoformat()}"), now)
                    await self._apply(
                        uow, repo, self.rules.fire(appeal, now, cause), str(cause.event_id)
                    )
            except Exception:
                log.exception(
                    "deadline alarms failed; set aside", extra={"appeal_id": str(appeal_id)}
                )
                await repo.set_aside(appeal_id, now, now + SET_ASIDE)
        return len(taken)

    # -- the mechanics ----------------------------------------------------------------------

    async def _known(self, uow: UnitOfWork, appeal_id: UUID) -> tuple[AppealRepository, Appeal]:
        repo = self._appeals(uow)
        appeal = await repo.lock(appeal_id, create=False)
        if appeal is None or not appeal.received:
            raise UnknownAppeal(appeal_id)
        return repo, appeal

    def _now(self) -> Cause:
        return Cause(uuid.uuid4(), self.clock())

    async def _apply(
        self,
        uow: UnitOfWork,
        repo: AppealRepository,
        change: Change,
        cause: Envelope | str,
    ) -> Appeal:
        if change.changed:
            await repo.save(change)
            correlation_id = cause if isinstance(cause, str) else cause.correlation_id
            for event in change.events:
                await uow.publish(event, correlation_id=correlation_id)
            for stage, alarm in change.alarms:
                ALARMS_FIRED.labels(stage.value, alarm.value).inc()
        return change.after


_HEARD: dict[str, type[Heard]] = {
    model.TYPE: model
    for model in (
        AppealMerged,
        AppealAssigned,
        AppealReassigned,
        AssistantsChanged,
        ReturnDecided,
        FollowUpRecorded,
    )
}
