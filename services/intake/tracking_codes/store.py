"""Drawing tracking codes: the next number of intake's sequence, printed by the pure formatter
(codes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tracking_codes.codes import format_tracking_code, local_day


@dataclass(frozen=True)
class CodeBook:
    """The zone's prefix and secret key: never the same code twice, none guessable from
    another."""

    prefix: str
    key: bytes

    async def draw(self, session: AsyncSession, received_at: datetime) -> str:
        n = await session.scalar(text("SELECT nextval('intake.tracking_code_seq')"))
        return format_tracking_code(self.prefix, local_day(received_at), int(n), self.key)
