"""The ordered routing rules of services/dispatch/assignments/routing.py: each rule alone, then
the whole table of cases through `route`."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from services.dispatch.assignments.routing import (
    RULE_NAMES,
    RULES,
    Candidate,
    EnterpriseInfo,
    NoOfficerAvailable,
    RoutingContext,
    chain_team,
    community,
    cso_backup_assistant,
    department,
    enterprise_cso,
    route,
    to_supervisor,
    triage,
)
from shared.vocabulary import Category, IndustryChain, OfficerRole

CJK = re.compile(r"[\u4e00-\u9fff]")

CSO = OfficerRole.CHIEF_SERVICE_OFFICER
PBA = OfficerRole.PARTY_BUILDING_ASSISTANT
DO = OfficerRole.DEPARTMENT_OFFICER
CW = OfficerRole.COMMUNITY_WORKER
SUP = OfficerRole.SUPERVISOR


def officer(
    officer_id: str,
    role: OfficerRole = DO,
    *,
    load: int = 0,
    capacity: int = 5,
    on_duty: bool = True,
    on_leave: bool = False,
) -> Candidate:
    return Candidate(
        officer_id=officer_id,
        name=f"干部{officer_id}",
        role=role,
        on_duty=on_duty,
        capacity=capacity,
        open_assignments=load,
        on_leave=on_leave,
    )


ENTERPRISE = EnterpriseInfo(
    credit_code="91441200MA4WK3Q5X0",
    name="肇庆星河新能源有限公司",
    chain=IndustryChain.NEV,
    community="将军社区",
    has_cso=True,
)
NO_CSO = replace(ENTERPRISE, has_cso=False)
DUTY_SUP = officer("sup-6", SUP, load=40, capacity=5)


def ctx(**fields: object) -> RoutingContext:
    base: dict[str, object] = {"appeal_id": "a-1", "duty_supervisor": DUTY_SUP}
    base.update(fields)
    return RoutingContext(**base)  # type: ignore[arg-type]


CSO_CTX = ctx(
    enterprise=ENTERPRISE,
    cso=officer("cso-1", CSO, load=3),
    cso_assistant=officer("pba-1", PBA),
    chain_team=[officer("team-1", CSO)],
    category=Category.EMPLOYMENT,
    departments=["人社局"],
    department_officers=[officer("dept-hrss-1")],
)

# (case, context, expected officer, expected rule)
TABLE = [
    ("cso_on_duty", CSO_CTX, "cso-1", "enterprise_cso"),
    (
        "cso_on_leave_goes_to_assistant",
        replace(CSO_CTX, cso=officer("cso-1", CSO, on_leave=True)),
        "pba-1",
        "cso_backup_assistant",
    ),
    (
        "cso_off_duty_goes_to_assistant",
        replace(CSO_CTX, cso=officer("cso-1", CSO, on_duty=False)),
        "pba-1",
        "cso_backup_assistant",
    ),
    (
        "cso_at_capacity_goes_to_assistant",
        replace(CSO_CTX, cso=officer("cso-1", CSO, load=5, capacity=5)),
        "pba-1",
        "cso_backup_assistant",
    ),
    (
        "cso_and_assistant_away_goes_to_chain_team",
        replace(
            CSO_CTX,
            cso=officer("cso-1", CSO, on_leave=True),
            cso_assistant=officer("pba-1", PBA, on_duty=False),
        ),
        "team-1",
        "chain_team",
    ),
    (
        "chain_enterprise_without_cso_goes_to_least_loaded_of_team",
        ctx(
            enterprise=NO_CSO,
            chain_team=[
                officer("team-b", load=2),
                officer("team-a", load=2),
                officer("team-c", load=1, capacity=1),
            ],
        ),
        "team-a",
        "chain_team",
    ),
    (
        "load_is_open_over_capacity",
        ctx(
            enterprise=NO_CSO,
            chain_team=[
                officer("team-a", load=2, capacity=4),
                officer("team-b", load=3, capacity=10),
            ],
        ),
        "team-b",
        "chain_team",
    ),
    (
        "non_chain_enterprise_without_cso_goes_to_department",
        ctx(
            enterprise=replace(NO_CSO, chain=IndustryChain.OTHER),
            chain_team=[officer("team-1")],
            category=Category.PERMITS,
            departments=["行政服务中心"],
            department_officers=[officer("dept-gsc-1", load=1), officer("dept-gsc-2")],
        ),
        "dept-gsc-2",
        "department",
    ),
    (
        "department_category_for_a_resident",
        ctx(
            category=Category.UTILITIES,
            departments=["供电局", "水务局"],
            department_officers=[officer("dept-power-1", load=2), officer("dept-water-1", load=1)],
            resident=True,
            community="将军社区",
            community_workers=[officer("cw-1", CW)],
        ),
        "dept-water-1",
        "department",
    ),
    (
        "department_skips_officers_on_leave",
        ctx(
            category=Category.UTILITIES,
            departments=["供电局"],
            department_officers=[officer("d-1", on_leave=True), officer("d-2", load=4)],
        ),
        "d-2",
        "department",
    ),
    (
        "community_resident_when_no_department_owns_the_category",
        ctx(
            category=Category.OTHER,
            resident=True,
            community="将军社区",
            community_workers=[officer("cw-2", CW, load=1), officer("cw-1", CW, load=1)],
        ),
        "cw-1",
        "community",
    ),
    (
        "enterprise_appeals_do_not_use_community",
        ctx(
            enterprise=replace(NO_CSO, chain=IndustryChain.OTHER),
            category=Category.OTHER,
            resident=False,
            community="将军社区",
            community_workers=[officer("cw-1", CW)],
        ),
        "sup-6",
        "triage",
    ),
    ("nothing_fits_goes_to_duty_supervisor", ctx(category=None, resident=True), "sup-6", "triage"),
    (
        "everyone_full_goes_to_duty_supervisor_whatever_their_load",
        ctx(
            category=Category.EMPLOYMENT,
            departments=["人社局"],
            department_officers=[officer("dept-hrss-1", load=5, capacity=5)],
        ),
        "sup-6",
        "triage",
    ),
    (
        "excluded_cso_goes_to_assistant",
        replace(CSO_CTX, excluded=frozenset({"cso-1"})),
        "pba-1",
        "cso_backup_assistant",
    ),
    (
        "excluded_everyone_in_a_group_falls_through",
        replace(CSO_CTX, excluded=frozenset({"cso-1", "pba-1", "team-1"})),
        "dept-hrss-1",
        "department",
    ),
]


@pytest.mark.parametrize(
    ("case", "context", "officer_id", "rule"), TABLE, ids=[t[0] for t in TABLE]
)
def test_routing_table(case: str, context: RoutingContext, officer_id: str, rule: str) -> None:
    routing = route(context)
    assert (routing.decision.officer_id, routing.decision.reason_code) == (officer_id, rule)
    assert CJK.search(routing.decision.reason), "the reason is a sentence a supervisor reads"


def test_the_trace_lists_every_rule_in_order_with_one_match() -> None:
    routing = route(replace(CSO_CTX, cso=officer("cso-1", CSO, on_leave=True)))
    trace = routing.trace()
    assert [t["rule"] for t in trace] == list(RULE_NAMES)
    assert [t["matched"] for t in trace] == [False, True, False, False, False, False]
    assert "休假" in str(trace[0]["why"])
    assert all(t["why"] for t in trace)


def test_rules_are_in_the_documented_order() -> None:
    assert RULE_NAMES == (
        "enterprise_cso",
        "cso_backup_assistant",
        "chain_team",
        "department",
        "community",
        "triage",
    )
    assert RULES[0] is enterprise_cso and RULES[-1] is triage


def test_each_rule_alone() -> None:
    assert enterprise_cso(ctx()).matched is False
    assert enterprise_cso(CSO_CTX).decision is not None
    assert cso_backup_assistant(CSO_CTX).matched is True  # alone it only asks: is there one?
    assert cso_backup_assistant(ctx(enterprise=ENTERPRISE)).matched is False
    assert chain_team(ctx(enterprise=NO_CSO)).matched is False
    assert chain_team(ctx(enterprise=NO_CSO, chain_team=[officer("t")])).matched is True
    assert department(ctx(category=Category.EMPLOYMENT)).matched is False
    assert (
        community(ctx(resident=True, community=None, community_workers=[officer("c", CW)])).matched
        is False
    )
    assert triage(ctx()).decision is not None
    assert triage(ctx(duty_supervisor=None)).matched is False


def test_without_any_duty_supervisor_nothing_is_decided() -> None:
    with pytest.raises(NoOfficerAvailable):
        route(ctx(duty_supervisor=None))


def test_ties_are_broken_by_open_count_then_id() -> None:
    team = [
        officer("t-2", load=2, capacity=4),
        officer("t-3", load=1, capacity=2),
        officer("t-1", load=2, capacity=4),
    ]
    assert route(ctx(enterprise=NO_CSO, chain_team=team)).decision.officer_id == "t-3"
    team = [officer("t-2", load=2, capacity=4), officer("t-1", load=2, capacity=4)]
    assert route(ctx(enterprise=NO_CSO, chain_team=team)).decision.officer_id == "t-1"


def test_to_supervisor_says_why() -> None:
    routing = to_supervisor(CSO_CTX, "已被退单 2 次")
    assert routing.decision.officer_id == "sup-6"
    assert routing.decision.reason_code == "triage"
    assert "已被退单 2 次" in routing.decision.reason
