"""The monthly proposal of four chief service officers to report to the zone's party committee
(五个一): computed once per month, stored in `cso_proposals` and announced with
`CsoReportersProposed`, in one transaction (`propose`). The worker does it when a month starts;
a supervisor may do it earlier in the month (`POST`). Reading (`proposal_for`) never stores."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.reports import store as reports_store
from services.tracking.reports.rates import (
    GROUP_KEYS,
    Rates,
    compute,
    group,
    month_of,
    month_range,
    parse_counted,
    previous_month,
    reported_in_cycle,
)
from services.tracking.reports.rates import (
    propose as propose_four,
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
    session: AsyncSession, month: str, *, now: datetime, counted: Collection[str]
) -> Proposal:
    """The month's proposal as it stands: the stored one, or (not yet stored: a month not begun,
    or before the worker's round) the four it would be now. Reads only."""
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
    officer_ids = propose_four(csos, composites, reported)
    return Proposal(month, officer_ids, None, False, False, csos, standings)


async def propose(
    uow: UnitOfWork, month: str, *, now: datetime, counted: Collection[str]
) -> Proposal:
    """Stores the month's proposal and announces it (`CsoReportersProposed`) unless one is stored
    already, only if this transaction's insert happened (so racing replicas announce it once).
    An empty proposal (no CSO known yet) is never stored: the directory may arrive later in the
    month."""
    proposal = await proposal_for(uow.session, month, now=now, counted=counted)
    if proposal.stored or not proposal.officer_ids:
        return proposal
    if await reports_store.insert_proposal(uow.session, month, proposal.officer_ids, now):
        event = CsoReportersProposed(month=month, officer_ids=proposal.officer_ids, proposed_at=now)
        await uow.publish(event, correlation_id=f"cso-report:{month}")
        log.info(
            "CSO reporters proposed", extra={"month": month, "officer_ids": proposal.officer_ids}
        )
        return replace(proposal, proposed_at=now, stored=True, published=True)
    # Another replica stored it between our look and our insert (ours waited on the key, then
    # inserted nothing): theirs stands, read back now that it is committed.
    return await proposal_for(uow.session, month, now=now, counted=counted)


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
            proposal = await propose(uow, month, now=now, counted=self.counted)
        return int(proposal.published)
