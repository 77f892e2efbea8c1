"""The ordered routing rules of services/dispatch/routing.py, as a table."""

import re

import pytest

from services.dispatch.routing import (
    RULES,
    Candidate,
    Decision,
    NoOfficerAvailable,
    RoutingContext,
    enterprise_cso,
    least_loaded_handler,
    least_loaded_on_duty,
    route,
)
from shared.vocabulary import OfficerRole

CJK = re.compile(r"[\u4e00-\u9fff]")

CW = OfficerRole.COMMUNITY_WORKER
DO = OfficerRole.DEPARTMENT_OFFICER
CSO = OfficerRole.CHIEF_SERVICE_OFFICER
PBA = OfficerRole.PARTY_BUILDING_ASSISTANT
SUP = OfficerRole.SUPERVISOR


def officer(
    officer_id: str,
    role: OfficerRole = CW,
    *,
    load: int = 0,
    capacity: int = 5,
    on_duty: bool = True,
    name: str | None = None,
) -> Candidate:
    return Candidate(
        officer_id=officer_id,
        name=name or f"干部{officer_id}",
        role=role,
        on_duty=on_duty,
        capacity=capacity,
        open_assignments=load,
    )


def context(
    *officers: Candidate, cso: Candidate | None = None, enterprise_name: str | None = "星河新能源"
) -> RoutingContext:
    return RoutingContext(
        appeal_id="a-1",
        enterprise_credit_code="91441200MA4WK3Q5X0" if cso else None,
        enterprise_name=enterprise_name if cso else None,
        cso=cso,
        officers_on_duty=list(officers),
    )


# (case, context, expected officer, expected rule)
TABLE = [
    (
        "cso_available_wins_over_idler_handlers",
        context(officer("cw-1", load=0), cso=officer("cso-1", CSO, load=4)),
        "cso-1",
        "enterprise_cso",
    ),
    (
        "cso_off_duty_falls_to_least_loaded_handler",
        context(officer("cw-1", load=2), cso=officer("cso-1", CSO, on_duty=False)),
        "cw-1",
        "least_loaded_handler",
    ),
    (
        "cso_at_capacity_falls_to_least_loaded_handler",
        context(officer("cw-1", load=2), cso=officer("cso-1", CSO, load=5, capacity=5)),
        "cw-1",
        "least_loaded_handler",
    ),
    (
        "no_enterprise_uses_least_loaded_handler",
        context(officer("cw-1", load=3), officer("do-1", DO, load=1), officer("cw-2", load=2)),
        "do-1",
        "least_loaded_handler",
    ),
    (
        "tie_goes_to_smallest_id",
        context(officer("cw-b", load=1), officer("cw-a", load=1), officer("cw-c", load=1)),
        "cw-a",
        "least_loaded_handler",
    ),
    (
        "rule_2_ignores_non_handler_roles",
        context(
            officer("pba-1", PBA, load=0), officer("sup-1", SUP, load=0), officer("cw-9", load=4)
        ),
        "cw-9",
        "least_loaded_handler",
    ),
    (
        "rule_2_skips_handlers_at_capacity",
        context(officer("cw-1", load=0, capacity=0), officer("cw-2", load=3, capacity=4)),
        "cw-2",
        "least_loaded_handler",
    ),
    (
        "rule_2_skips_off_duty_handlers",
        context(officer("cw-1", load=0, on_duty=False), officer("cw-2", load=3)),
        "cw-2",
        "least_loaded_handler",
    ),
    (
        "rule_3_when_all_handlers_full_capacity_ignored",
        context(
            officer("cw-1", load=9, capacity=5),
            officer("cw-2", load=7, capacity=5),
            officer("sup-1", SUP, load=0),
        ),
        "cw-2",
        "least_loaded_on_duty",
    ),
    (
        "rule_3_takes_other_roles_but_never_supervisors",
        context(officer("pba-1", PBA, load=6, capacity=1), officer("sup-1", SUP, load=0)),
        "pba-1",
        "least_loaded_on_duty",
    ),
    (
        "rule_3_tie_goes_to_smallest_id",
        context(officer("pba-2", PBA, load=2), officer("pba-1", PBA, load=2)),
        "pba-1",
        "least_loaded_on_duty",
    ),
]


@pytest.mark.parametrize(
    ("ctx", "expected_officer", "expected_rule"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_routing_table(ctx: RoutingContext, expected_officer: str, expected_rule: str) -> None:
    decision = route(ctx)
    assert (decision.officer_id, decision.reason_code) == (expected_officer, expected_rule)


@pytest.mark.parametrize(
    "officers",
    [
        [],
        [officer("cw-1", on_duty=False), officer("pba-1", PBA, on_duty=False)],
        [officer("sup-1", SUP)],
    ],
    ids=["empty_directory", "everyone_off_duty", "only_supervisors_on_duty"],
)
def test_no_officer_available(officers: list[Candidate]) -> None:
    ctx = context(*officers, cso=officer("cso-1", CSO, on_duty=False))
    with pytest.raises(NoOfficerAvailable, match="a-1"):
        route(ctx)


@pytest.mark.parametrize(
    ("ctx", "name"),
    [
        (context(cso=officer("cso-1", CSO, name="陈首席")), "陈首席"),
        (context(officer("cw-1", name="李社工", load=2)), "李社工"),
        (context(officer("pba-1", PBA, name="黄助理", load=8, capacity=1)), "黄助理"),
    ],
    ids=["enterprise_cso", "least_loaded_handler", "least_loaded_on_duty"],
)
def test_reason_is_chinese_and_names_the_officer(ctx: RoutingContext, name: str) -> None:
    reason = route(ctx).reason
    assert name in reason
    assert CJK.search(reason.replace(name, ""))


def test_cso_reason_names_the_enterprise() -> None:
    assert "星河新能源" in route(context(cso=officer("cso-1", CSO))).reason


def test_cso_reason_falls_back_to_credit_code_without_enterprise_name() -> None:
    ctx = context(cso=officer("cso-1", CSO), enterprise_name=None)
    assert "91441200MA4WK3Q5X0" in route(ctx).reason


def test_least_loaded_handler_reason_states_the_load() -> None:
    assert "3" in route(context(officer("cw-1", load=3))).reason


def test_default_rules_are_in_documented_order() -> None:
    assert RULES == (enterprise_cso, least_loaded_handler, least_loaded_on_duty)


def test_custom_rules_are_tried_in_the_given_order() -> None:
    ctx = context(officer("cw-1", load=1), cso=officer("cso-1", CSO))
    assert route(ctx, rules=[least_loaded_handler, enterprise_cso]).officer_id == "cw-1"
    assert route(ctx, rules=[enterprise_cso, least_loaded_handler]).officer_id == "cso-1"


def test_custom_rule_returning_none_is_skipped() -> None:
    calls: list[str] = []

    def never(_ctx: RoutingContext) -> Decision | None:
        calls.append("never")
        return None

    def always(_ctx: RoutingContext) -> Decision:
        calls.append("always")
        return Decision("fixed-1", "fixed", "固定分派")

    decision = route(context(officer("cw-1")), rules=[never, always, least_loaded_handler])
    assert decision.officer_id == "fixed-1"
    assert calls == ["never", "always"]


def test_empty_rules_list_raises() -> None:
    with pytest.raises(NoOfficerAvailable):
        route(context(officer("cw-1")), rules=[])
