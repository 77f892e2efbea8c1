import re
from collections import Counter

import pytest

from services.dispatch.demo_directory import (
    COMMUNITIES,
    DUTY_DISPATCHER_ID,
    generate_demo_directory,
)
from services.dispatch.directory import Directory, Enterprise, Officer
from shared.credit_code import is_valid
from shared.vocabulary import IndustryChain, OfficerRole


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


def test_officer_ids_unique(directory: Directory) -> None:
    assert len(_by_id(directory)) == len(directory.officers)


def test_deterministic() -> None:
    assert generate_demo_directory(7) == generate_demo_directory(7)
    assert generate_demo_directory() == generate_demo_directory(2021)


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
