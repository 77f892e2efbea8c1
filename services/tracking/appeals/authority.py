"""Who may do what to an appeal (pure: the workflow asks under the appeal's lock, so a
reassignment cannot slip in between the check and the change).

| who | may |
|---|---|
| the lead officer (承办) | accept, contact, progress, resolve, return, ask for an extension |
| an assisting officer (协办) | contact, progress (recorded as theirs); never resolve |
| a dispatcher; a supervisor of the lead's unit | rule on an extension |
| ops; a supervisor or dispatcher of the lead's unit | mark it unreasonable |
"""

from __future__ import annotations

from collections.abc import Iterable

from services.tracking.appeals.lifecycle import Action, Contact, Progress
from shared.identity import Principal, Role, oversees

# What an assisting officer may record on the appeal; everything else is the lead's.
ASSISTANT_ACTIONS: tuple[type[Action], ...] = (Contact, Progress)

LEAD_ONLY = "only the appeal's lead officer may act on it"
LEAD_OR_ASSISTANT = "only the appeal's officers (the lead, or an assisting officer) may do this"
RULERS = "only a dispatcher or a supervisor of the officer's unit"
MARKERS = "only a supervisor of the appeal's unit or ops"


def may_act(action: Action, by: str, *, lead: str | None, assistants: Iterable[str]) -> str | None:
    """None when `by` may take `action`; otherwise why not."""
    if by == lead:
        return None
    if isinstance(action, ASSISTANT_ACTIONS):
        return None if by in set(assistants) else LEAD_OR_ASSISTANT
    return LEAD_ONLY


def may_rule_on_extension(principal: Principal, officer_unit: str | None) -> bool:
    """A dispatcher (zone-wide duty), or a supervisor of the requesting officer's unit."""
    if Role.DISPATCHER in principal.roles:
        return True
    return (
        Role.SUPERVISOR in principal.roles
        and officer_unit is not None
        and principal.unit == officer_unit
    )


def may_mark_unreasonable(principal: Principal, officer_unit: str | None) -> bool:
    """Ops, or a supervisor or dispatcher of the unit of the officer the appeal is assigned to.
    An appeal not assigned yet has no unit: ops only."""
    return oversees(principal, officer_unit)
