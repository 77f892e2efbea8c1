"""What intake keeps of tracking's lifecycle: each appeal's latest status, and when it was
closed. A batch's changes are kept back and written in one statement when its unit of work ends
(`LifecycleChanges.flush`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.vocabulary import AppealStatus

# Per appeal, the status kept unless the appeal already has a later one (a change heard late
# never rolls it back), and the time it was closed unless it was closed before. Rows that would
# not change are not written.
_NEWER = "(a.status_changed_at IS NULL OR a.status_changed_at <= v.changed_at)"
_APPLY = text(
    f"""
    UPDATE intake.appeals AS a SET
      status = CASE WHEN {_NEWER} THEN v.status ELSE a.status END,
      status_changed_at = CASE WHEN {_NEWER} THEN v.changed_at ELSE a.status_changed_at END,
      closed_at = COALESCE(a.closed_at, v.closed_at)
    FROM unnest(
      CAST(:appeal_ids AS uuid[]), CAST(:statuses AS text[]),
      CAST(:changed_ats AS timestamptz[]), CAST(:closed_ats AS timestamptz[])
    ) AS v(appeal_id, status, changed_at, closed_at)
    WHERE a.appeal_id = v.appeal_id
      AND ({_NEWER} OR (a.closed_at IS NULL AND v.closed_at IS NOT NULL))
    """
)


@dataclass
class _Latest:
    status: AppealStatus
    changed_at: datetime
    closed_at: datetime | None = None


@dataclass
class LifecycleChanges:
    """One batch's status changes, reduced per appeal to what applying them one at a time, in
    the order heard, would leave: the latest change (of changes made at the same instant, the
    last heard, which is the order they were made), and the first closure."""

    session: AsyncSession
    _appeals: dict[UUID, _Latest] = field(default_factory=dict)

    def record(self, appeal_id: UUID, status: AppealStatus, changed_at: datetime) -> None:
        latest = self._appeals.get(appeal_id)
        if latest is None:
            latest = self._appeals[appeal_id] = _Latest(status, changed_at)
        elif latest.changed_at <= changed_at:
            latest.status, latest.changed_at = status, changed_at
        if status == AppealStatus.CLOSED and latest.closed_at is None:
            latest.closed_at = changed_at

    async def flush(self) -> None:
        if not self._appeals:
            return
        appeals, self._appeals = self._appeals, {}
        await self.session.execute(
            _APPLY,
            {
                "appeal_ids": list(appeals),
                "statuses": [latest.status.value for latest in appeals.values()],
                "changed_ats": [latest.changed_at for latest in appeals.values()],
                "closed_ats": [latest.closed_at for latest in appeals.values()],
            },
        )
