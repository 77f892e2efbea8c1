"""Accepting what channels submit. Each submission is answered exactly once per (channel,
external_id), in one transaction with the events it causes (outbox):

- a new appeal: classified, given a tracking code, AppealReceived published (202);
- a repeat of one of the appellant's open appeals: it joins that appeal, AppealMerged (200);
- a CSO visit that found no problem: VisitLogged, no appeal (202);
- the same submission again: the first answer again, nothing published (200).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import BaseModel

from services.intake.channels import VisitLog
from services.intake.classification.rules import Classification, Rules, classify
from services.intake.repeats.service import Repeats, merged_event
from services.intake.submissions import store
from services.intake.submissions.form import AppealSubmission
from services.intake.tables import AnyRow
from services.intake.tracking_codes.store import CodeBook
from shared.clock import utcnow
from shared.events import AppealReceived, Appellant, Attachment, Location, VisitLogged
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


@dataclass
class Intake:
    """The accepting use case; the HTTP routes and the inbound-topic consumer both call it."""

    units: UnitsOfWork
    codes: CodeBook
    rules: Rules
    repeats: Repeats = field(default_factory=Repeats)

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
        answered = await self._answered_before(uow, channel, external_id, now)
        if answered is not None:
            return answered, False
        match = await self.repeats.find(session, submission, now)
        if match is not None:
            await store.settle_submission(
                session,
                channel,
                external_id,
                outcome="merged",
                appeal_id=match.appeal_id,
                tracking_code=match.tracking_code,
                score=match.score,
                reason=match.reason,
            )
            await uow.publish(merged_event(submission, match, now), correlation_id=correlation_id)
            log.info(
                "submission joined an open appeal",
                extra={
                    "appeal_id": str(match.appeal_id),
                    "channel": channel,
                    "score": round(match.score, 2),
                },
            )
            receipt = Receipt(
                status="merged",
                appeal_id=match.appeal_id,
                tracking_code=match.tracking_code,
                reason=match.reason,
            )
            return receipt, True
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

    async def log_visit(self, visit: VisitLog, correlation_id: str) -> tuple[Receipt, bool]:
        async with self.units.begin() as uow:
            return await self.log_visit_in(uow, visit, correlation_id)

    async def log_visit_in(
        self, uow: UnitOfWork, visit: VisitLog, correlation_id: str
    ) -> tuple[Receipt, bool]:
        channel = Channel.CSO_VISIT
        answered = await self._answered_before(uow, channel, visit.visit_id, utcnow())
        if answered is not None:
            return answered, False
        await store.settle_submission(uow.session, channel, visit.visit_id, outcome="visit_logged")
        await uow.publish(VisitLogged(**visit.model_dump()), correlation_id=correlation_id)
        return Receipt(status="visit_logged", visit_id=visit.visit_id), True

    async def receipt(self, channel: Channel, external_id: str) -> Receipt | None:
        async with self.units.begin() as uow:
            row = await store.find_submission(uow.session, channel, external_id)
        return None if row is None or not row.outcome else receipt_of(row)

    @staticmethod
    async def _answered_before(
        uow: UnitOfWork, channel: Channel, external_id: str, now: datetime
    ) -> Receipt | None:
        """Claims (channel, external_id) for this unit of work, or the answer given before."""
        if await store.claim_submission(uow.session, channel, external_id, now):
            return None
        row = await store.find_submission(uow.session, channel, external_id)
        if row is None:  # the claim met a committed row; only deleting it in between does this
            raise LookupError(f"submission {channel}/{external_id} vanished")
        return receipt_of(row)
