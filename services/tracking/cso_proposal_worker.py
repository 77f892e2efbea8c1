"""The monthly proposal of four chief service officers to report to the zone's party committee
(五个一): computed once per month, stored in `cso_proposals` and announced with
`CsoReportersProposed`, in one transaction. The worker does it when a month starts; the API does
it when someone asks for a month first (`proposal_for`, shared by both)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import reports_store
from services.tracking.rates import (
    GROUP_KEYS,
    Rates,
    compute,
    group,
    month_of,
    month_range,
    parse_counted,
    previous_month,
    propose,
    reported_in_cycle,
)
from shared.clock import utcnow
from shared.events import CsoReportersProposed
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.worker import StateWorker

log = logging.getLogger(__name__)

SERVICE = "tracking"
DEFAULT_COUNTED = parse_counted("satisfied,basically_satisfied")


@dataclass(frozen=True)
class Proposal:
    month: str
    officer_ids: list[str]
    proposed_at: datetime | None  # None while provisional
    # Stored (by this call or before); False: provisional (a month not begun yet), or no CSO.
    stored: bool
    # This call stored it and put CsoReportersProposed in the outbox.
    published: bool
    csos: dict[str, reports_store.Officer]
    # Each CSO's rates over the appeals they lead received in the previous month, as of now.
    standings: dict[str, Rates]


async def month_standings(
    session: AsyncSession,
    month: str,
    csos: Collection[str],
    now: datetime,
    counted: Collection[str],
) -> dict[str, Rates]:
    start, end = month_range(previous_month(month))
    facts = await reports_store.fetch_facts(session, start, end, officer_ids=csos)
    by_officer = group(facts, GROUP_KEYS["officer"], now, counted)
    empty = compute([], now, counted)
    return {officer_id: by_officer.get(officer_id, empty) for officer_id in csos}


async def proposal_for(
    uow: UnitOfWork,
    month: str,
    *,
    now: datetime,
    counted: Collection[str],
    store: bool = True,
) -> Proposal:
    """The month's proposal: the stored one if there is one; otherwise computed now and, with
    `store`, stored with its event (only if this transaction's insert happened, so racing
    replicas announce it once). An empty proposal (no CSO known yet) is never stored: the
    directory may arrive later in the month."""
    session = uow.session
    csos = await reports_store.chief_service_officers(session)
    stored = await reports_store.load_proposal(session, month)
    if stored is not None:
        # Its officers may have stopped being CSOs since: their figures are shown all the same.
        everyone = sorted(set(csos) | set(stored.officer_ids))
        standings = await month_standings(session, month, everyone, now, counted)
        return Proposal(month, stored.officer_ids, stored.proposed_at, True, False, csos, standings)
    standings = await month_standings(session, month, csos, now, counted)
    reported = reported_in_cycle(csos, await reports_store.reports_before(session, month))
    composites = {officer_id: rates.composite for officer_id, rates in standings.items()}
    officer_ids = propose(csos, composites, reported)
    if not store or not officer_ids:
        return Proposal(month, officer_ids, None, False, False, csos, standings)
    if await reports_store.insert_proposal(session, month, officer_ids, now):
        event = CsoReportersProposed(month=month, officer_ids=officer_ids, proposed_at=now)
        await uow.publish(event, correlation_id=f"cso-report:{month}")
        log.info("CSO reporters proposed", extra={"month": month, "officer_ids": officer_ids})
        return Proposal(month, officer_ids, now, True, True, csos, standings)
    # Another replica stored it between our look and our insert (ours waited on the key, then
    # inserted nothing): theirs stands, read back now that it is committed.
    return await proposal_for(uow, month, now=now, counted=counted, store=False)


class CsoProposalWorker(StateWorker):
    """Once a month has begun (Asia/Shanghai) and nothing is stored for it, proposes its four."""

    name = "cso-proposal"

    def __init__(
        self,
        units: UnitsOfWork,
        clock: Callable[[], datetime] = utcnow,
        *,
        counted: Collection[str] = DEFAULT_COUNTED,
        poll_interval_s: float = 60.0,
    ) -> None:
        super().__init__(units, batch_size=1, poll_interval_s=poll_interval_s, max_backoff_s=60.0)
        self.clock = clock
        self.counted = frozenset(counted)

    async def round(self) -> int:
        now = self.clock()
        month = month_of(now)
        async with self.units.begin() as uow:
            # The cheap check first: every poll but one a month ends here.
            if await reports_store.load_proposal(uow.session, month) is not None:
                return 0
            proposal = await proposal_for(uow, month, now=now, counted=self.counted)
        return int(proposal.published)
