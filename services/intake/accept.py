"""Accepting what channels submit. Each submission is answered exactly once per (channel,
external_id), in one transaction with the events it causes (outbox):

- a new appeal: classified, given a tracking code, AppealReceived published (202);
- a repeat of one of the appellant's open appeals: it joins that appeal, AppealMerged (200);
- a CSO visit that found no problem: VisitLogged, no appeal (202);
- the same submission again: the first answer again, nothing published (200).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import store
from services.intake.channels import VisitLog
from services.intake.classification import Classification, Rules, classify
from services.intake.duplicates import DEFAULT_THRESHOLD, DEFAULT_WINDOW, OpenAppeal, find_duplicate
from services.intake.submission import AppealSubmission
from services.intake.tracking_code import format_tracking_code, local_day
from shared.envelope import utcnow
from shared.events import (
    AppealMerged,
    AppealReceived,
    Appellant,
    Attachment,
    FollowUpRecorded,
    Location,
    VisitLogged,
)
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import Channel, Satisfaction

log = logging.getLogger(__name__)

SERVICE = "intake"

Status = Literal["received", "merged", "visit_logged"]


class Receipt(BaseModel):
    """Intake's answer to one submission; the same every time it is asked."""

    status: Status
    appeal_id: UUID | None = None
    tracking_code: str | None = None
    visit_id: str | None = None
    # Why a submission joined an existing appeal (similarity and what the texts share).
    reason: str | None = None


@dataclass(frozen=True)
class CodeBook:
    """Tracking codes: the next number of intake's sequence, scrambled and printed by the pure
    formatter (never the same code twice, none guessable from another)."""

    prefix: str
    key: bytes

    async def draw(self, session: AsyncSession, received_at: datetime) -> str:
        n = await session.scalar(text("SELECT nextval('intake.tracking_code_seq')"))
        return format_tracking_code(self.prefix, local_day(received_at), int(n), self.key)


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


def receipt_of(row: Any) -> Receipt:
    if row.outcome == "visit_logged":
        return Receipt(status="visit_logged", visit_id=row.external_id)
    return Receipt(
        status=row.outcome,
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        reason=row.reason,
    )


class UnknownAppeal(LookupError):
    pass


@dataclass
class Intake:
    """The accepting use case; the HTTP routes and the inbound-topic consumers both call it."""

    units: UnitsOfWork
    codes: CodeBook
    rules: Rules
    merge_threshold: float = DEFAULT_THRESHOLD
    merge_window: timedelta = DEFAULT_WINDOW

    async def submit(
        self, submission: AppealSubmission, correlation_id: str
    ) -> tuple[Receipt, bool]:
        """The receipt, and whether this call created it (False: answered before). Raises only
        when the database is unreachable, in which case nothing was stored."""
        async with self.units.begin() as uow:
            return await self.submit_in(uow, submission, correlation_id)

    async def submit_in(
        self, uow: UnitOfWork, submission: AppealSubmission, correlation_id: str
    ) -> tuple[Receipt, bool]:
        """`submit` inside the caller's unit of work (a consumer's, with its inbox row)."""
        session = uow.session
        now = utcnow()
        channel, external_id = submission.channel, submission.external_id
        if not await store.claim_submission(session, channel, external_id, now):
            row = await store.find_submission(session, channel, external_id)
            return receipt_of(row), False
        merged = await self._merge_if_repeat(uow, submission, now, correlation_id)
        if merged is not None:
            return merged, True
        classification = classify(submission, self.rules)
        appeal_id, code = uuid4(), await self.codes.draw(session, now)
        await store.insert_appeal(
            session,
            appeal_id=appeal_id,
            tracking_code=code,
            submission=submission,
            classification=classification.classified_by,
            received_at=now,
        )
        await store.settle_submission(
            session,
            channel,
            external_id,
            outcome="received",
            appeal_id=appeal_id,
            tracking_code=code,
        )
        await uow.publish(
            received_event(submission, appeal_id, code, classification, now),
            correlation_id=correlation_id,
        )
        return Receipt(status="received", appeal_id=appeal_id, tracking_code=code), True

    async def _merge_if_repeat(
        self,
        uow: UnitOfWork,
        submission: AppealSubmission,
        now: datetime,
        correlation_id: str,
    ) -> Receipt | None:
        session = uow.session
        appellant = submission.appellant
        if appellant.anonymous:
            return None  # nobody to recognise
        rows = await store.open_appeals_of(
            session,
            phone=appellant.phone,
            credit_code=appellant.enterprise_credit_code,
            since=now - self.merge_window,
        )
        match = find_duplicate(
            appellant.phone,
            appellant.enterprise_credit_code,
            submission.content,
            now,
            [
                OpenAppeal(
                    appeal_id=r.appeal_id,
                    tracking_code=r.tracking_code,
                    phone=r.phone,
                    enterprise_credit_code=r.enterprise_credit_code,
                    content=r.content or "",
                    received_at=r.received_at,
                )
                for r in rows
            ],
            threshold=self.merge_threshold,
            window=self.merge_window,
        )
        if match is None:
            return None
        await store.settle_submission(
            session,
            submission.channel,
            submission.external_id,
            outcome="merged",
            appeal_id=match.appeal_id,
            tracking_code=match.tracking_code,
            score=match.score,
            reason=match.reason,
        )
        await uow.publish(
            AppealMerged(
                appeal_id=match.appeal_id,
                tracking_code=match.tracking_code,
                channel=submission.channel,
                external_id=submission.external_id,
                appellant=Appellant(**appellant.model_dump()),
                content=submission.content,
                merged_at=now,
                score=match.score,
                reason=match.reason,
            ),
            correlation_id=correlation_id,
        )
        log.info(
            "submission joined an open appeal",
            extra={
                "appeal_id": str(match.appeal_id),
                "channel": submission.channel,
                "score": round(match.score, 2),
            },
        )
        return Receipt(
            status="merged",
            appeal_id=match.appeal_id,
            tracking_code=match.tracking_code,
            reason=match.reason,
        )

    async def log_visit(self, visit: VisitLog, correlation_id: str) -> tuple[Receipt, bool]:
        async with self.units.begin() as uow:
            return await self.log_visit_in(uow, visit, correlation_id)

    async def log_visit_in(
        self, uow: UnitOfWork, visit: VisitLog, correlation_id: str
    ) -> tuple[Receipt, bool]:
        session = uow.session
        channel = Channel.CSO_VISIT
        if not await store.claim_submission(session, channel, visit.visit_id, utcnow()):
            row = await store.find_submission(session, channel, visit.visit_id)
            return receipt_of(row), False
        await store.settle_submission(session, channel, visit.visit_id, outcome="visit_logged")
        await uow.publish(VisitLogged(**visit.model_dump()), correlation_id=correlation_id)
        return Receipt(status="visit_logged", visit_id=visit.visit_id), True

    async def record_follow_up(
        self,
        *,
        channel: Channel,
        appeal_id: UUID | None,
        tracking_code: str | None,
        contacted: bool,
        solved: bool,
        satisfaction: Satisfaction,
        note: str | None,
        correlation_id: str,
    ) -> UUID:
        """Publishes the call-back's result for tracking; UnknownAppeal if intake never
        accepted such an appeal."""
        async with self.units.begin() as uow:
            row = await store.find_appeal(
                uow.session, appeal_id=appeal_id, tracking_code=tracking_code
            )
            if row is None:
                raise UnknownAppeal(str(appeal_id or tracking_code))
            await uow.publish(
                FollowUpRecorded(
                    appeal_id=row.appeal_id,
                    channel=channel,
                    contacted=contacted,
                    solved=solved,
                    satisfaction=satisfaction,
                    note=note,
                    recorded_at=utcnow(),
                ),
                correlation_id=correlation_id,
            )
        return row.appeal_id

    async def receipt(self, channel: Channel, external_id: str) -> Receipt | None:
        async with self.units.begin() as uow:
            row = await store.find_submission(uow.session, channel, external_id)
        return None if row is None or not row.outcome else receipt_of(row)
