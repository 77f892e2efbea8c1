"""Who a notification is for, as the rules name them (pure): a role relative to an appeal, never
a phone number or an address. recipients.py turns each into the people notify can reach today,
from its own copy of the directory, so the rules stay free of I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Appellant:
    """The person who appealed (reachable only when not anonymous and with a phone)."""


@dataclass(frozen=True)
class Officer:
    """A named officer: the one responsible, a duty supervisor, a chief service officer."""

    officer_id: str


@dataclass(frozen=True)
class SupervisorOf:
    """The officer's supervisor in notify's directory copy; else the fallback (the supervisor an
    event named), since an event may come before the directory has told notify."""

    officer_id: str | None
    fallback_supervisor_id: str | None = None


@dataclass(frozen=True)
class UnitLeadership:
    """The unit's leadership (its supervisors in the directory copy); else the fallback."""

    unit: str | None
    fallback_supervisor_id: str | None = None


@dataclass(frozen=True)
class CsoAssistant:
    """The party-building assistant paired with the chief service officer of this enterprise:
    named by the event when dispatch knew them, else looked up in notify's directory copy."""

    credit_code: str | None
    assistant_id: str | None = None


@dataclass(frozen=True)
class ChannelSystem:
    """A channel's system, by its signed callback: the one that submitted the appeal hears every
    status; the one that reported a follow-up hears when it was not applied."""

    channel: str


Audience = Appellant | Officer | SupervisorOf | UnitLeadership | CsoAssistant | ChannelSystem
