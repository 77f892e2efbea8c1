"""Who may read an appeal's record in tracking: a table of callers against one appeal."""

import pytest

from shared.identity import Principal, Role, can_read_appeal, may_learn_existence


def who(sub: str, *roles: Role, unit: str | None = None) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), unit=unit)


OPS = who("ops", Role.OPS)
LEAD = who("cw-1", Role.OFFICER, unit="大旺社区")
ASSISTANT = who("cw-3", Role.OFFICER, unit="龙湾社区")
OTHER = who("cw-2", Role.OFFICER, unit="大旺社区")
SUPERVISOR = who("sup-1", Role.OFFICER, Role.SUPERVISOR, unit="大旺社区")
OTHER_SUPERVISOR = who("sup-2", Role.OFFICER, Role.SUPERVISOR, unit="龙湾社区")
UNITLESS_SUPERVISOR = who("sup-3", Role.SUPERVISOR)
DISPATCHER = who("disp-1", Role.DISPATCHER)  # no unit: the zone's duty dispatcher
UNIT_DISPATCHER = who("disp-2", Role.DISPATCHER, unit="大旺社区")
OTHER_DISPATCHER = who("disp-3", Role.DISPATCHER, unit="龙湾社区")
# The lead's id without the officer role (a service account named like an officer): not them.
NAMESAKE = who("cw-1", Role.DISPATCHER)


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        (OPS, True),
        (LEAD, True),
        (ASSISTANT, True),
        (OTHER, False),
        (SUPERVISOR, True),
        (OTHER_SUPERVISOR, False),  # supervises the assistant's unit, not the lead's
        (UNITLESS_SUPERVISOR, False),
        (DISPATCHER, False),
        (UNIT_DISPATCHER, True),  # supervisors and dispatchers: everything of their unit
        (OTHER_DISPATCHER, False),
        (NAMESAKE, False),
    ],
)
def test_who_may_read_an_assigned_appeal(caller: Principal, allowed: bool) -> None:
    assert (
        can_read_appeal(
            caller,
            officer_id="cw-1",
            assistant_officer_ids=["cw-3"],
            officer_unit="大旺社区",
        )
        is allowed
    )


@pytest.mark.parametrize(("caller", "allowed"), [(OPS, True), (LEAD, False), (SUPERVISOR, False)])
def test_an_appeal_not_yet_assigned_is_for_ops(caller: Principal, allowed: bool) -> None:
    readable = can_read_appeal(caller, officer_id=None, assistant_officer_ids=[], officer_unit=None)
    assert readable is allowed


def test_a_supervisor_needs_the_lead_officer_known_to_tracking() -> None:
    # The officer has not reached tracking's copy of the directory yet: no unit to compare.
    assert not can_read_appeal(
        SUPERVISOR, officer_id="cw-1", assistant_officer_ids=[], officer_unit=None
    )


@pytest.mark.parametrize(
    ("caller", "learns"),
    [
        (OPS, True),
        (SUPERVISOR, True),
        (UNITLESS_SUPERVISOR, True),
        (LEAD, False),
        (DISPATCHER, False),
    ],
)
def test_only_ops_and_supervisors_learn_that_an_appeal_is_unknown(
    caller: Principal, learns: bool
) -> None:
    assert may_learn_existence(caller) is learns
