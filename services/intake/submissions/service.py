"""Accepting what channels submit. Each submission is answered exactly once per (channel,
external_id), in one transaction with the events it causes (outbox):

- a new appeal: classified, given a tracking code, AppealReceived published (202);
- a repeat of one of the appellant's open appeals: it joins that appeal, AppealMerged (200);
- a CSO visit that found no problem: VisitLogged, no appeal (202);
- the same submission again: the first answer again, nothing published (200).

A submission costs one read (what was answered before, the appellant's open appeals) and one
write (its answer and the appeal it creates), whatever it turns out to be; HTTP submissions that
arrive together share them, and their transaction (groups.py).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from opentelemetry import context as otel_context
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channels import VisitLog
from services.intake.classification.rules import Classification, Rules, classify
from services.intake.repeats.matching import DuplicateMatch, OpenAppeal
from services.intake.repeats.service import Repeats, merged_event
from services.intake.submissions import store
from services.intake.submissions.form import AppealSubmission
from services.intake.submissions.groups import Call, GroupCommit
from services.intake.tables import AnyRow
from services.intake.tracking_codes.store import CodeBook
from shared.clock import utcnow
from shared.events import AppealReceived, Appellant, Attachment, Event, Location, VisitLogged
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import Channel

log = logging.getLogger(__name__)

Status = Literal["received", "merged", "visit_logged"]


class Receipt(BaseModel):
    """Intake's answer to one submission; the same every time it is asked."""

    status: Status
    appeal_id: UUID | None = None
    tracking_code: str | None = None
    visit_id: str | None = None
    # Why a submission joined an existing appeal (similarity and what the texts share).
    reason: str | None = None


def received_event(
    submission: AppealSubmission,
    appeal_id: UUID,
    tracking_code: str,
    classification: Classification,
    received_at: datetime,
) -> AppealReceived:
    return AppealReceived(
        appeal_id=appeal_id,
        tracking_code=tracking_code,
        channel=submission.channel,
        external_id=submission.external_id,
        appellant=Appellant(**submission.appellant.model_dump()),
        content=submission.content,
        location=Location(**submission.location.model_dump()),
        category=classification.category,
        urgency=classification.urgency,
        appeal_type=classification.type,
        classified_by=classification.classified_by,
        attachments=[Attachment(**a.model_dump(mode="json")) for a in submission.attachments],
        submitted_at=submission.submitted_at,
        filed_by=submission.filed_by,
        received_at=received_at,
    )


def receipt_of(row: AnyRow) -> Receipt:
    if row.outcome == "visit_logged":
        return Receipt(status="visit_logged", visit_id=row.external_id)
    return Receipt(
        status=row.outcome,
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        reason=row.reason,
    )


# What a channel submits: an appeal, or a CSO's visit that found no problem.
Submitted = AppealSubmission | VisitLog
# The receipt, and whether this call created it (False: answered before).
Answered = tuple[Receipt, bool]


class AnsweredMeanwhile(Exception):
    """A concurrent transaction answered one of a group's submissions first: the group is rolled
    back and its submissions taken one at a time (alone, the earlier answer is given)."""


def _key(what: Submitted) -> tuple[str, str]:
    if isinstance(what, VisitLog):
        return Channel.CSO_VISIT.value, what.visit_id
    return what.channel.value, what.external_id


def _open_appeal(row: AnyRow) -> OpenAppeal:
    return OpenAppeal(
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        phone=row.phone,
        enterprise_credit_code=row.enterprise_credit_code,
        content=row.content or "",
        received_at=row.received_at,
    )


def _appellant(what: Submitted) -> set[tuple[str, str]]:
    """Who a submission is from, as repeats are recognised: its phone and its credit code."""
    who: set[tuple[str, str]] = set()
    if isinstance(what, AppealSubmission) and not what.appellant.anonymous:
        if what.appellant.phone:
            who.add(("phone", what.appellant.phone))
        if what.appellant.enterprise_credit_code:
            who.add(("credit_code", what.appellant.enterprise_credit_code))
    return who


def _touches(item: tuple[Submitted, str]) -> set[tuple[str, ...]]:
    """What two groups in flight must not share: the submission itself, and its appellant
    (a repeat joins an appeal only once that appeal is committed)."""
    what, _ = item
    return {("submission", *_key(what)), *_appellant(what)}


@dataclass(frozen=True, slots=True)
class _Decision:
    """A new answer, not stored yet: the row, the receipt, the event, which call it is for, and
    the appeal it opens (one a later submission of the same group may repeat)."""

    answer: store.Answer
    receipt: Receipt
    event: Event
    index: int
    match: DuplicateMatch | None = None
    opens: OpenAppeal | None = None


@dataclass
class Intake:
    """The accepting use case; the HTTP routes and the inbound-topic consumer both call it."""

    units: UnitsOfWork
    codes: CodeBook
    rules: Rules
    repeats: Repeats = field(default_factory=Repeats)
    # HTTP submissions arriving together share one transaction (groups.py).
    _groups: GroupCommit[tuple[Submitted, str], Answered] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._groups = GroupCommit(self._accept_group, keys=_touches)

    async def submit(self, submission: AppealSubmission, correlation_id: str) -> Answered:
        """The receipt, and whether this call created it (False: answered before). Raises only
        when the database is unreachable, in which case nothing was stored."""
        return await self._groups((submission, correlation_id))

    async def log_visit(self, visit: VisitLog, correlation_id: str) -> Answered:
        return await self._groups((visit, correlation_id))

    async def submit_in(
        self, uow: UnitOfWork, submission: AppealSubmission, correlation_id: str
    ) -> Answered:
        """`submit` inside the caller's unit of work (a consumer's, with its inbox row)."""
        [answered] = await self.accept_in(uow, [(submission, correlation_id)])
        return answered

    async def log_visit_in(self, uow: UnitOfWork, visit: VisitLog, correlation_id: str) -> Answered:
        [answered] = await self.accept_in(uow, [(visit, correlation_id)])
        return answered

    async def receipt(self, channel: Channel, external_id: str) -> Receipt | None:
        async with self.units.begin() as uow:
            row = await store.find_submission(uow.session, channel, external_id)
        return None if row is None or not row.outcome else receipt_of(row)

    async def _accept_group(self, calls: Sequence[Call[tuple[Submitted, str]]]) -> list[Answered]:
        async with self.units.begin() as uow:
            return await self.accept_in(
                uow, [call.item for call in calls], [call.context for call in calls]
            )

    async def accept_in(
        self,
        uow: UnitOfWork,
        items: Sequence[tuple[Submitted, str]],
        contexts: Sequence[contextvars.Context] | None = None,
    ) -> list[Answered]:
        """Answers each (submission, correlation id) as if they came one after another, and
        publishes their events (with `contexts`, each in its caller's trace). A repeat of an
        appeal created earlier in the group joins it; the same submission twice gets one answer
        (new only the first time). With several items, AnsweredMeanwhile when a concurrent
        transaction answered one first; alone, that transaction's answer is given.

        One statement when each is new: those that can only be new (their appellant not met
        earlier in the group) are stored as new in the statement that reads what was answered
        before and the appellants' open appeals, unless it finds either; the others are
        decided from what it read and stored in a second one."""
        session = uow.session
        now = utcnow()
        keys = [_key(what) for what, _ in items]
        hopeful: dict[tuple[str, str], _Decision] = {}
        met: set[tuple[str, str]] = set()
        for index, ((what, _), key) in enumerate(zip(items, keys, strict=True)):
            appellant = _appellant(what)
            if key not in hopeful and not appellant & met:
                hopeful[key] = await self._new(session, what, index, now)
            met |= appellant
        found = await store.accept(
            session,
            [d.answer for d in hopeful.values()],
            keys=list(dict.fromkeys(keys)),
            phones=sorted(value for kind, value in met if kind == "phone"),
            credit_codes=sorted(value for kind, value in met if kind == "credit_code"),
            since=now - self.repeats.window,
        )
        candidates = [_open_appeal(row) for row in found.candidates]
        answers: list[Answered | None] = []
        decided: dict[tuple[str, str], _Decision] = {}
        for index, ((what, _), key) in enumerate(zip(items, keys, strict=True)):
            if (earlier := decided.get(key)) is not None:
                answers.append((earlier.receipt, False))
                continue
            if key in found.inserted:
                decision = hopeful[key]
            elif (row := found.answers.get(key)) is not None:
                answers.append((receipt_of(row), False))
                continue
            else:
                decision = await self._decide(session, what, index, now, candidates, hopeful)
            decided[key] = decision
            if decision.opens is not None:
                candidates.append(decision.opens)
            answers.append(None)
        later = [d for key, d in decided.items() if key not in found.inserted]
        if later:
            stored = (await store.accept(session, [d.answer for d in later], since=now)).inserted
            if len(stored) < len(later):
                if len(items) > 1:
                    raise AnsweredMeanwhile(f"{len(later) - len(stored)} of a group")
                # Alone: a concurrent transaction answered it first (the insert waited for
                # it), and nothing was written here.
                [(channel, external_id)] = decided
                row = await store.find_submission(session, channel, external_id)
                if row is None:  # the conflict met a committed row; only deleting it does this
                    raise LookupError(f"submission {channel}/{external_id} vanished")
                return [(receipt_of(row), False)]
        await self._publish(uow, items, list(decided.values()), contexts)
        for decision in decided.values():
            answers[decision.index] = (decision.receipt, True)
        done = [answer for answer in answers if answer is not None]
        assert len(done) == len(items)
        return done

    async def _decide(
        self,
        session: AsyncSession,
        what: Submitted,
        index: int,
        now: datetime,
        candidates: list[OpenAppeal],
        hopeful: dict[tuple[str, str], _Decision],
    ) -> _Decision:
        """The answer to `what` given the open appeals it may repeat; a new appeal (or a visit)
        is the one already made for it, if any."""
        if isinstance(what, AppealSubmission):
            match = self.repeats.find(what, now, candidates)
            if match is not None:
                return _Decision(
                    store.Answer(
                        what.channel.value,
                        what.external_id,
                        "merged",
                        now,
                        appeal_id=match.appeal_id,
                        tracking_code=match.tracking_code,
                        score=match.score,
                        reason=match.reason,
                    ),
                    Receipt(
                        status="merged",
                        appeal_id=match.appeal_id,
                        tracking_code=match.tracking_code,
                        reason=match.reason,
                    ),
                    merged_event(what, match, now),
                    index,
                    match,
                )
        made = hopeful.get(_key(what))
        return made if made is not None else await self._new(session, what, index, now)

    async def _new(
        self, session: AsyncSession, what: Submitted, index: int, now: datetime
    ) -> _Decision:
        """`what` as a new appeal (classified, a tracking code drawn), or as a visit logged."""
        if isinstance(what, VisitLog):
            return _Decision(
                store.Answer(Channel.CSO_VISIT.value, what.visit_id, "visit_logged", now),
                Receipt(status="visit_logged", visit_id=what.visit_id),
                VisitLogged(**what.model_dump()),
                index,
            )
        classification = classify(what, self.rules)
        appeal_id, code = uuid4(), await self.codes.draw(session, now)
        appellant = what.appellant
        return _Decision(
            store.Answer(
                what.channel.value,
                what.external_id,
                "received",
                now,
                appeal_id=appeal_id,
                tracking_code=code,
                appeal=store.NewAppeal(
                    submission=what.model_dump(mode="json"),
                    phone=appellant.phone,
                    enterprise_credit_code=appellant.enterprise_credit_code,
                    classification=classification.classified_by,
                ),
            ),
            Receipt(status="received", appeal_id=appeal_id, tracking_code=code),
            received_event(what, appeal_id, code, classification, now),
            index,
            opens=None
            if appellant.anonymous
            else OpenAppeal(
                appeal_id=appeal_id,
                tracking_code=code,
                phone=appellant.phone,
                enterprise_credit_code=appellant.enterprise_credit_code,
                content=what.content,
                received_at=now,
            ),
        )

    @staticmethod
    async def _publish(
        uow: UnitOfWork,
        items: Sequence[tuple[Submitted, str]],
        decisions: list[_Decision],
        contexts: Sequence[contextvars.Context] | None,
    ) -> None:
        for decision in decisions:
            if (match := decision.match) is not None:
                log.info(
                    "submission joined an open appeal",
                    extra={
                        "appeal_id": str(match.appeal_id),
                        "channel": decision.answer.channel,
                        "score": round(match.score, 2),
                    },
                )
        for decision in decisions:
            correlation_id = items[decision.index][1]
            if contexts is None:
                await uow.publish(decision.event, correlation_id=correlation_id)
                continue
            # In its caller's trace: the outbox row carries the context current when it is
            # published, which here is that of whoever started the group.
            token = otel_context.attach(contexts[decision.index].run(otel_context.get_current))
            try:
                await uow.publish(decision.event, correlation_id=correlation_id)
            finally:
                otel_context.detach(token)
