import re
from collections import Counter
from datetime import date, timedelta

import pytest

from services.dispatch.directory import Directory, DutyPost, Enterprise, Officer, on_leave
from services.dispatch.directory.demo import (
    COMMUNITIES,
    DEMO_TODAY,
    DEPARTMENTS,
    DUTY_DISPATCHER_ID,
    SUP_DISPATCH,
    TEAM_CHAINS,
    TEAM_MEMBERS_PER_CHAIN,
    generate_demo_directory,
    team_unit,
)
from shared.credit_code import is_valid
from shared.vocabulary import Category, IndustryChain, OfficerRole


@pytest.fixture(scope="module")
def directory() -> Directory:
    return generate_demo_directory()


def _by_role(directory: Directory, role: OfficerRole) -> list[Officer]:
    return [officer for officer in directory.officers if officer.role is role]


def _by_id(directory: Directory) -> dict[str, Officer]:
    return {officer.officer_id: officer for officer in directory.officers}


def test_counts(directory: Directory) -> None:
    roles = Counter(officer.role for officer in directory.officers)
    assert roles[OfficerRole.CHIEF_SERVICE_OFFICER] == 132
    assert roles[OfficerRole.PARTY_BUILDING_ASSISTANT] == 132
    assert roles[OfficerRole.PARTY_BUILDING_INSTRUCTOR] == 313
    assert roles[OfficerRole.COMMUNITY_WORKER] == 3 * len(COMMUNITIES)
    assert roles[OfficerRole.SUPERVISOR] == 6
    assert len(COMMUNITIES) == 8
    assert len(directory.enterprises) == 1050
    assert len(directory.departments) == len(DEPARTMENTS) == 13
    # 132 + 132 + 313 + 24 community workers + 26 department officers + 6 team members + 6
    # supervisors + the dispatcher.
    assert len(directory.officers) == 640


def test_officer_ids_unique(directory: Directory) -> None:
    assert len(_by_id(directory)) == len(directory.officers)


def test_deterministic() -> None:
    assert generate_demo_directory(7) == generate_demo_directory(7)
    assert generate_demo_directory() == generate_demo_directory(2021)
    assert generate_demo_directory() == generate_demo_directory(today=DEMO_TODAY)


def test_different_seed_differs(directory: Directory) -> None:
    assert generate_demo_directory(2022) != directory


def test_first_three_chains_dominate(directory: Directory) -> None:
    chains = Counter(enterprise.chain for enterprise in directory.enterprises)
    assert set(chains) == set(IndustryChain)
    for chain in (IndustryChain.NEV, IndustryChain.BIOMEDICINE, IndustryChain.FOOD_BEVERAGE):
        assert chains[chain] > chains[IndustryChain.OTHER]


def test_every_enterprise_has_an_existing_cso(directory: Directory) -> None:
    officers = _by_id(directory)
    for enterprise in directory.enterprises:
        assert enterprise.cso_officer_id is not None
        cso = officers[enterprise.cso_officer_id]
        assert cso.role is OfficerRole.CHIEF_SERVICE_OFFICER
        assert enterprise.community in COMMUNITIES.values()


def test_every_cso_has_enterprises_spread_evenly(directory: Directory) -> None:
    load = Counter(enterprise.cso_officer_id for enterprise in directory.enterprises)
    csos = _by_role(directory, OfficerRole.CHIEF_SERVICE_OFFICER)
    assert all(load[cso.officer_id] >= 1 for cso in csos)
    assert max(load.values()) - min(load.values()) <= 1


def test_pairing_is_mutual_and_one_to_one(directory: Directory) -> None:
    officers = _by_id(directory)
    csos = _by_role(directory, OfficerRole.CHIEF_SERVICE_OFFICER)
    partners = [cso.paired_officer_id for cso in csos]
    assert len(set(partners)) == len(csos)
    for cso in csos:
        assert cso.paired_officer_id is not None
        assistant = officers[cso.paired_officer_id]
        assert assistant.role is OfficerRole.PARTY_BUILDING_ASSISTANT
        assert assistant.paired_officer_id == cso.officer_id
    for assistant in _by_role(directory, OfficerRole.PARTY_BUILDING_ASSISTANT):
        assert assistant.paired_officer_id is not None
        assert officers[assistant.paired_officer_id].paired_officer_id == assistant.officer_id


def test_credit_codes_valid_and_unique(directory: Directory) -> None:
    codes = [enterprise.credit_code for enterprise in directory.enterprises]
    assert all(is_valid(code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert all(code.startswith("91441200") for code in codes)


def test_enterprise_names_unique(directory: Directory) -> None:
    names = [enterprise.name for enterprise in directory.enterprises]
    assert len(set(names)) == len(names)
    assert all(name.startswith("肇庆") and name.endswith("有限公司") for name in names)


def test_enterprise_rejects_invalid_credit_code() -> None:
    with pytest.raises(ValueError, match="credit_code"):
        Enterprise(
            credit_code="91350100M000100Y44",
            name="x",
            chain=IndustryChain.OTHER,
            community="大旺社区",
            cso_officer_id=None,
        )


def test_phones_unique_and_mobile(directory: Directory) -> None:
    phones = [officer.phone for officer in directory.officers]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"1[3-9]\d{9}", phone) for phone in phones)


def test_emails_follow_ids(directory: Directory) -> None:
    for officer in directory.officers:
        assert officer.email == f"{officer.officer_id}@jiban.example"


def test_exactly_one_dispatcher(directory: Directory) -> None:
    dispatchers = [officer for officer in directory.officers if officer.unit == "指挥调度中心"]
    non_supervisors = [o for o in dispatchers if o.role is not OfficerRole.SUPERVISOR]
    assert [o.officer_id for o in non_supervisors] == [DUTY_DISPATCHER_ID]
    dispatcher = non_supervisors[0]
    assert dispatcher.role is OfficerRole.DEPARTMENT_OFFICER
    assert dispatcher.on_duty
    assert dispatcher.categories == []


def test_supervisors_referenced_exist(directory: Directory) -> None:
    officers = _by_id(directory)
    for officer in directory.officers:
        if officer.role is OfficerRole.SUPERVISOR:
            assert officer.supervisor_id is None
            assert officer.on_duty
        else:
            assert officer.supervisor_id is not None
            assert officers[officer.supervisor_id].role is OfficerRole.SUPERVISOR


def test_about_five_percent_off_duty(directory: Directory) -> None:
    off = [officer for officer in directory.officers if not officer.on_duty]
    assert 0.04 * len(directory.officers) <= len(off) <= 0.06 * len(directory.officers)


def test_community_workers_cover_their_community(directory: Directory) -> None:
    for code, name in COMMUNITIES.items():
        workers = [
            officer
            for officer in _by_role(directory, OfficerRole.COMMUNITY_WORKER)
            if officer.officer_id.startswith(f"cw-{code}-")
        ]
        assert len(workers) == 3
        assert all(worker.communities == [name] for worker in workers)


def test_departments_own_categories_and_have_their_officers(directory: Directory) -> None:
    officers = _by_id(directory)
    ids = [d.department_id for d in directory.departments]
    assert len(set(ids)) == len(ids)
    for department in directory.departments:
        assert department.categories
        assert department.supervisor_id is not None
        assert officers[department.supervisor_id].role is OfficerRole.SUPERVISOR
        members = [o for o in directory.officers if o.department_id == department.department_id]
        assert [o.officer_id for o in members] == [
            f"dept-{department.department_id}-1",
            f"dept-{department.department_id}-2",
        ]
        assert all(o.role is OfficerRole.DEPARTMENT_OFFICER for o in members)
        assert all(o.unit == department.name for o in members)
        assert all(o.categories == department.categories for o in members)
    owned = {c for d in directory.departments for c in d.categories}
    assert Category.EMPLOYMENT in owned and Category.PERMITS in owned
    # Everyone else, the dispatcher included, belongs to no department.
    assert all(
        o.department_id is None
        for o in directory.officers
        if o.role is not OfficerRole.DEPARTMENT_OFFICER or o.unit == "指挥调度中心"
    )


def test_service_teams_of_the_three_chains(directory: Directory) -> None:
    assert set(TEAM_CHAINS) == set(IndustryChain) - {IndustryChain.OTHER}
    chain_of = {e.cso_officer_id: [] for e in directory.enterprises}
    for enterprise in directory.enterprises:
        chain_of[enterprise.cso_officer_id].append(enterprise.chain)
    for chain in TEAM_CHAINS:
        team = [o for o in directory.officers if o.chain is chain]
        csos = [o for o in team if o.role is OfficerRole.CHIEF_SERVICE_OFFICER]
        dedicated = [o for o in team if o.role is not OfficerRole.CHIEF_SERVICE_OFFICER]
        assert len(csos) >= 20
        assert [o.officer_id for o in dedicated] == [
            f"team-{chain.value}-{n}" for n in range(1, TEAM_MEMBERS_PER_CHAIN + 1)
        ]
        assert all(o.unit == team_unit(chain) for o in team)
        # A team CSO serves mostly that chain's enterprises.
        for cso in csos:
            assert Counter(chain_of[cso.officer_id]).most_common(1)[0][0] is chain
    for officer in _by_role(directory, OfficerRole.CHIEF_SERVICE_OFFICER):
        if officer.chain is None:
            assert officer.unit == "首席服务官办公室"
    # Assistants stand in for their CSO, not for the team.
    assert all(o.chain is None for o in _by_role(directory, OfficerRole.PARTY_BUILDING_ASSISTANT))


def test_duty_posts(directory: Directory) -> None:
    assert directory.duty == {
        DutyPost.DISPATCHER: DUTY_DISPATCHER_ID,
        DutyPost.SUPERVISOR: SUP_DISPATCH,
    }
    assert _by_id(directory)[SUP_DISPATCH].role is OfficerRole.SUPERVISOR


def test_some_officers_are_away_today_and_some_later(directory: Directory) -> None:
    today = DEMO_TODAY
    away = {o.officer_id for o in directory.officers if on_leave(o.leave, today)}
    later = {
        o.officer_id
        for o in directory.officers
        if o.leave and not on_leave(o.leave, today) and o.leave[0].start > today
    }
    roles = Counter(_by_id(directory)[officer_id].role for officer_id in away)
    assert roles == {
        OfficerRole.CHIEF_SERVICE_OFFICER: 1,
        OfficerRole.COMMUNITY_WORKER: 2,
        OfficerRole.DEPARTMENT_OFFICER: 2,
        OfficerRole.PARTY_BUILDING_INSTRUCTOR: 3,
    }
    assert len(later) == 4
    assert all(o.leave == [] for o in _by_role(directory, OfficerRole.SUPERVISOR))
    assert _by_id(directory)[DUTY_DISPATCHER_ID].leave == []
    # One at most in any community or department, so their colleagues take over.
    gone = [_by_id(directory)[officer_id] for officer_id in away]
    in_departments = [o.department_id for o in gone if o.department_id]
    in_communities = [o.communities[0] for o in gone if o.role is OfficerRole.COMMUNITY_WORKER]
    assert len(set(in_departments)) == len(in_departments) == 2
    assert len(set(in_communities)) == len(in_communities) == 2
    # The CSO away serves none of the first enterprises in credit-code order, and their
    # assistant is not away.
    (cso,) = [
        o for o in _by_role(directory, OfficerRole.CHIEF_SERVICE_OFFICER) if o.officer_id in away
    ]
    first = sorted(directory.enterprises, key=lambda e: e.credit_code)[:10]
    assert cso.officer_id not in {e.cso_officer_id for e in first}
    assert cso.paired_officer_id not in away


def test_leave_is_counted_from_today() -> None:
    later_day = DEMO_TODAY + timedelta(days=100)
    moved = generate_demo_directory(today=later_day)
    base = generate_demo_directory()
    assert [o.officer_id for o in moved.officers if on_leave(o.leave, later_day)] == [
        o.officer_id for o in base.officers if on_leave(o.leave, DEMO_TODAY)
    ]
    assert not any(on_leave(o.leave, date(2026, 1, 1)) for o in base.officers)
    # Nothing else depends on the day.
    strip = [o.model_copy(update={"leave": []}) for o in moved.officers]
    assert strip == [o.model_copy(update={"leave": []}) for o in base.officers]
