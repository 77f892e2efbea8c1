"""Who may read what: pure rules over a verified `Principal` (the caller looks the units up)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.identity.principal import Principal, Role


def oversees(principal: Principal, unit: str | None) -> bool:
    """Ops, or a supervisor or dispatcher of `unit` (an officer's unit as the service last
    heard it; None, unknown: ops only). Supervisors and dispatchers see everything of their
    unit."""
    if Role.OPS in principal.roles:
        return True
    return (
        principal.has_any(Role.SUPERVISOR, Role.DISPATCHER)
        and principal.unit is not None
        and unit is not None
        and principal.unit == unit
    )


def can_read_officer(principal: Principal, officer_id: str, officer_unit: str | None) -> bool:
    """May `principal` read this officer's things (queue, assignments)? The officer themself,
    a supervisor of the officer's unit, or ops. Pure: the caller looks the unit up."""
    if Role.OFFICER in principal.roles and principal.sub == officer_id:
        return True
    return oversees(principal, officer_unit)


def can_read_appeal(
    principal: Principal,
    *,
    officer_id: str | None,
    assistant_officer_ids: Iterable[str],
    officer_unit: str | None,
) -> bool:
    """Ops; the officer it is assigned to; one of its assistants; a supervisor of the assigned
    officer's unit. An appeal not yet assigned is for ops only."""
    if Role.OFFICER in principal.roles and (
        principal.sub == officer_id or principal.sub in set(assistant_officer_ids)
    ):
        return True
    return oversees(principal, officer_unit)


def may_learn_existence(principal: Principal) -> bool:
    """Whether an unknown appeal is answered 404 (ops, supervisors: they oversee many appeals and
    need to tell "not heard of yet" from "not yours") rather than 403 (a plain officer learns
    nothing about appeals that are not theirs, not even whether they exist)."""
    return principal.has_any(Role.OPS, Role.SUPERVISOR)
