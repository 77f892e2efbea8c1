"""An assignment and a return (退单) as the ownership decisions see them: plain values, no
database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from shared.vocabulary import Category


class RoutingInput(BaseModel):
    """What routing looks at in an appeal; stored with the assignment to route it again."""

    credit_code: str | None = None
    enterprise_name: str | None = None
    category: Category | None = None
    community: str | None = None
    tracking_code: str | None = None

    @property
    def resident(self) -> bool:
        return self.credit_code is None and self.enterprise_name is None


@dataclass(frozen=True)
class Assignment:
    """Who holds an appeal now, and what moving it again must know."""

    appeal_id: UUID
    officer_id: str
    open: bool
    routing_input: RoutingInput
    # Officers who gave it back or were moved off it: routing again never picks them.
    excluded_officer_ids: tuple[str, ...] = ()
    accepted_returns: int = 0
    assistant_officer_ids: tuple[str, ...] = ()
    tracking_code: str | None = None


class ReturnStatus(StrEnum):
    PENDING = "pending"  # awaits the duty dispatcher's ruling
    ACCEPTED = "accepted"  # the appeal moved on (counted against the officer)
    REJECTED = "rejected"  # it stays with the officer (counted too)
    # The appeal moved (a reassignment) or closed before any ruling: nothing left to rule on,
    # and counted neither way.
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class PendingReturn:
    """A return awaiting a ruling. At most one per appeal, and only ever its holder's: every
    move of the appeal settles it (the database refuses a second)."""

    return_id: UUID
    appeal_id: UUID
    officer_id: str
    reason_code: str
