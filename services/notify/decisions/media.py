"""Which medium reaches a recipient (pure): one message per recipient and event, by the
medium the kind prefers among those the recipient can be reached by and a provider serves.

| recipient      | media, in order of preference                               |
|----------------|-------------------------------------------------------------|
| appellant      | sms                                                         |
| officer:<id>   | sms first for what is urgent work, e-mail first for reading |
| channel:<code> | webhook, when that channel has a callback endpoint          |

With no real provider configured (development), everything goes to the recording provider."""

from __future__ import annotations

from dataclasses import dataclass

from shared.vocabulary import APPELLANT_RECIPIENT, Medium

# What is read at a desk (a notice, a ruling to make) goes by e-mail first; the rest is a nudge
# to act now and goes by SMS first.
EMAIL_FIRST = frozenset(
    {
        "public_notice",
        "extension_requested",
        "extension_decided",
        "extension_cancelled",
        "extension_lapsed",
        "return_requested",
        "cso_copy",
        "escalation",
        "overdue_supervision",
    }
)


@dataclass(frozen=True)
class Contact:
    """How a recipient can be reached; notify's own copy (never another service's table)."""

    phone: str | None = None
    email: str | None = None
    webhook: bool = False  # the channel has a callback endpoint configured


@dataclass(frozen=True)
class Route:
    medium: Medium
    address: str | None  # the phone or e-mail address; None for webhooks and recordings


def choose(
    recipient: str, kind: str, contact: Contact, available: frozenset[Medium]
) -> Route | None:
    """None: this recipient cannot be reached for this kind (the caller counts it)."""
    real = available - {Medium.RECORD}
    if recipient.startswith("channel:"):
        if not contact.webhook:
            return None
        return Route(Medium.WEBHOOK if Medium.WEBHOOK in real else Medium.RECORD, None)
    if not real:
        return Route(Medium.RECORD, None)
    if recipient == APPELLANT_RECIPIENT:
        order = [Medium.SMS]
    elif kind in EMAIL_FIRST:
        order = [Medium.EMAIL, Medium.SMS]
    else:
        order = [Medium.SMS, Medium.EMAIL]
    for medium in order:
        address = contact.phone if medium == Medium.SMS else contact.email
        if medium in real and address:
            return Route(medium, address)
    return None
