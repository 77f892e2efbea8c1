"""Who an audience is, in notify's own copies (I/O at the edge of the rules): the rules say
"the supervisor of this officer", this finds the officer id and how to reach them.

An appellant's name and phone are shown in full only to the appellant and to the officers
responsible for the appeal (they must call back); anyone else gets them masked."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from services.notify.appeals.facts import AppealFacts
from services.notify.decisions.audience import (
    Appellant,
    Audience,
    ChannelSystem,
    CsoAssistant,
    Officer,
    SupervisorOf,
    UnitLeadership,
)
from services.notify.decisions.media import Contact
from services.notify.directory.store import DirectoryCopy
from shared.vocabulary import APPELLANT_RECIPIENT, channel_recipient, officer_recipient


@dataclass(frozen=True)
class Recipient:
    label: str  # appellant | officer:<id> | channel:<code>: what the log and events show
    contact: Contact
    reveal_appellant: bool


def responsible(appeal: AppealFacts | None) -> frozenset[str]:
    if appeal is None:
        return frozenset()
    lead = {appeal.officer_id} if appeal.officer_id else set()
    return frozenset(lead | set(appeal.assistant_officer_ids))


async def _officers(
    directory: DirectoryCopy, officer_ids: Collection[str | None], appeal: AppealFacts | None
) -> list[Recipient]:
    found: list[Recipient] = []
    for officer_id in dict.fromkeys(i for i in officer_ids if i):
        row = await directory.officer(officer_id)
        contact = Contact(row.phone, row.email) if row is not None else Contact()
        found.append(
            Recipient(
                officer_recipient(officer_id),
                contact,
                reveal_appellant=officer_id in responsible(appeal),
            )
        )
    return found


async def resolve(
    directory: DirectoryCopy,
    audience: Audience,
    appeal: AppealFacts | None,
    webhook_channels: Collection[str],
) -> list[Recipient]:
    """The recipients an audience names today (none: nobody to tell)."""
    match audience:
        case Appellant():
            if appeal is None or appeal.anonymous or not appeal.appellant_phone:
                return []
            return [Recipient(APPELLANT_RECIPIENT, Contact(appeal.appellant_phone), True)]
        case Officer(officer_id=officer_id):
            return await _officers(directory, [officer_id], appeal)
        case SupervisorOf(officer_id=officer_id, fallback_supervisor_id=fallback):
            row = await directory.officer(officer_id)
            supervisor = row.supervisor_id if row is not None and row.supervisor_id else fallback
            return await _officers(directory, [supervisor], appeal)
        case UnitLeadership(unit=unit, fallback_supervisor_id=fallback):
            leaders = await directory.unit_supervisors(unit) if unit else []
            return await _officers(directory, leaders or [fallback], appeal)
        case CsoAssistant(credit_code=credit_code, assistant_id=assistant_id):
            if assistant_id is None and credit_code is not None:
                cso = await directory.officer(await directory.cso_of(credit_code))
                assistant_id = cso.paired_officer_id if cso else None
            return await _officers(directory, [assistant_id], appeal)
        case ChannelSystem(channel=channel):
            if channel not in webhook_channels:
                return []  # a channel with no callback endpoint has not asked to hear
            return [
                Recipient(channel_recipient(channel), Contact(webhook=True), reveal_appellant=False)
            ]
    raise TypeError(f"unknown audience {audience!r}")
