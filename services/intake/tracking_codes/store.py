"""Drawing tracking codes: the next number of intake's sequence, printed by the pure formatter
(codes.py)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tracking_codes.codes import format_tracking_code, local_day

# Numbers taken from the sequence at a time. A number is never handed out twice, whichever
# replica took it (a sequence is not transactional), so holding some in memory is safe; those
# left when the process stops are a gap, as a rollback makes.
BLOCK = 32

_NEXT = text(
    "SELECT nextval('intake.tracking_code_seq') AS n FROM generate_series(1, :count)"
).bindparams(bindparam("count"))


@dataclass(frozen=True)
class CodeBook:
    """The zone's prefix and secret key: never the same code twice, none guessable from
    another."""

    prefix: str
    key: bytes
    # Numbers drawn but not used yet: one round trip per BLOCK codes, not per code.
    _numbers: deque[int] = field(default_factory=deque, compare=False, repr=False)

    async def draw(self, session: AsyncSession, received_at: datetime) -> str:
        if not self._numbers:
            drawn = await session.scalars(_NEXT, {"count": BLOCK})
            self._numbers.extend(int(n) for n in drawn)
        return format_tracking_code(
            self.prefix, local_day(received_at), self._numbers.popleft(), self.key
        )
