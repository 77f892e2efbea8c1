"""What notify knows of an appeal (pure): its own copy, filled from the appeal events, which the
rules decide on."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class AppealFacts:
    appeal_id: UUID
    tracking_code: str | None = None
    channel: str | None = None
    external_id: str | None = None
    anonymous: bool = False
    appellant_name: str | None = None
    appellant_phone: str | None = None
    urgency: str = "normal"
    officer_id: str | None = None  # currently responsible
    assistant_officer_ids: tuple[str, ...] = ()
    enterprise_credit_code: str | None = None
    status: str | None = None
