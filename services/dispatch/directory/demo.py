"""A deterministic demo directory at the real scale of Zhaoqing High-tech Zone (大旺).

132 chief service officers each paired with a party-building assistant, 313 party-building
instructors, 1,050 enterprises on the industry chains, community workers, 13 departments with
the categories they own and their officers, the three industry chains' service teams (专班: the
chain's CSOs and two dedicated members each), six supervisors, and the duty posts (dispatcher,
duty supervisor). All people, companies and codes are invented.

The same seed and `today` always give the same directory. Leave periods are counted from
`today` (a few officers away now, a few later), so whatever day the demo is loaded on, someone is
on leave that day; `today` defaults to a fixed date, so a call without it never moves.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

from services.dispatch.directory.model import (
    CHAIN_LABELS_ZH,
    Department,
    Directory,
    DutyPost,
    Enterprise,
    LeavePeriod,
    Officer,
)
from shared.credit_code import ALPHABET, complete
from shared.vocabulary import Category, IndustryChain, OfficerRole

DEFAULT_SEED = 2021  # the year the zone started its chief service officer system
DEMO_TODAY = date(2026, 12, 1)  # what leave periods are counted from unless told otherwise

CSO_COUNT = 132
INSTRUCTOR_COUNT = 313
WORKERS_PER_COMMUNITY = 3
OFFICERS_PER_DEPARTMENT = 2
TEAM_MEMBERS_PER_CHAIN = 2  # dedicated members of each chain's service team, besides its CSOs
OFF_DUTY_SHARE = 0.05
EMAIL_DOMAIN = "jiban.example"
ZHAOQING_REGION_CODE = "441200"

DUTY_DISPATCHER_ID = "dept-dispatch-1"
DISPATCH_CENTRE_UNIT = "指挥调度中心"

# Community code (used in officer ids) -> name (used in `communities` / `community` fields).
COMMUNITIES: dict[str, str] = {
    "dw01": "大旺社区",
    "dw02": "迳口社区",
    "dw03": "大沙社区",
    "dw04": "龙湾社区",
    "dw05": "汇源社区",
    "dw06": "文华社区",
    "dw07": "白沙社区",
    "dw08": "新城社区",
}

# Fixed counts rather than random weights, so the totals are exact for any seed.
CHAIN_ENTERPRISE_COUNTS: dict[IndustryChain, int] = {
    IndustryChain.NEV: 380,
    IndustryChain.BIOMEDICINE: 240,
    IndustryChain.FOOD_BEVERAGE: 250,
    IndustryChain.OTHER: 180,
}
ENTERPRISE_COUNT = sum(CHAIN_ENTERPRISE_COUNTS.values())

COMMUNITY_WORKER_CATEGORIES: tuple[Category, ...] = (
    Category.DRAINAGE_ROADS,
    Category.ENVIRONMENT,
    Category.PUBLIC_SAFETY,
    Category.HOUSING,
    Category.OTHER,
)

# One supervisor per unit group; every other officer reports to one of them.
SUP_SERVICE = "sup-1"
SUP_PARTY = "sup-2"
SUP_COMMUNITY = "sup-3"
SUP_BUSINESS = "sup-4"
SUP_PUBLIC = "sup-5"
SUP_DISPATCH = "sup-6"
SUPERVISOR_UNITS: dict[str, str] = {
    SUP_SERVICE: "首席服务官办公室",
    SUP_PARTY: "党群工作部",
    SUP_COMMUNITY: "社会事务局",
    SUP_BUSINESS: "营商环境办公室",
    SUP_PUBLIC: "公共服务办公室",
    SUP_DISPATCH: DISPATCH_CENTRE_UNIT,
}


def _department(key: str, name: str, categories: list[Category], supervisor_id: str) -> Department:
    return Department(
        department_id=key, name=name, categories=categories, supervisor_id=supervisor_id
    )


# Department ids are used in officer ids (dept-<id>-<n>); the name is the officers' unit.
DEPARTMENTS: tuple[Department, ...] = (
    _department("hrss", "人社局", [Category.EMPLOYMENT], SUP_BUSINESS),
    _department("nr", "自然资源局", [Category.PREMISES], SUP_BUSINESS),
    _department("invest", "投资促进局", [Category.PREMISES], SUP_BUSINESS),
    _department("gsc", "行政服务中心", [Category.PERMITS], SUP_BUSINESS),
    _department("econ", "经济发展局", [Category.POLICY], SUP_BUSINESS),
    _department("power", "供电局", [Category.UTILITIES], SUP_PUBLIC),
    _department("water", "水务局", [Category.UTILITIES], SUP_PUBLIC),
    _department("transport", "交通运输局", [Category.TRANSPORT], SUP_PUBLIC),
    _department("edu", "教育局", [Category.EDUCATION], SUP_PUBLIC),
    _department("housing", "住建局", [Category.HOUSING, Category.DRAINAGE_ROADS], SUP_PUBLIC),
    _department("env", "生态环境分局", [Category.ENVIRONMENT], SUP_PUBLIC),
    _department("safety", "应急管理局", [Category.PUBLIC_SAFETY], SUP_PUBLIC),
    _department("party", "党建办", [Category.PARTY_BUILDING], SUP_PARTY),
)

# The chains with a service team (专班); enterprises of `other` are served by CSOs alone.
TEAM_CHAINS: tuple[IndustryChain, ...] = (
    IndustryChain.NEV,
    IndustryChain.BIOMEDICINE,
    IndustryChain.FOOD_BEVERAGE,
)
CSO_OFFICE_UNIT = SUPERVISOR_UNITS[SUP_SERVICE]
DUTY: dict[DutyPost, str] = {
    DutyPost.DISPATCHER: DUTY_DISPATCHER_ID,
    DutyPost.SUPERVISOR: SUP_DISPATCH,
}


def team_unit(chain: IndustryChain) -> str:
    return f"{CHAIN_LABELS_ZH[chain]}产业链服务专班"


# Common surnames, with the ones frequent in Guangdong first and repeated to weigh them up.
_SURNAMES = (
    "陈陈陈李李黄黄梁梁张何林罗吴刘郑谢冯麦邓苏叶杨周朱曾彭潘卢钟"
    "赵王徐孙胡高郭马宋唐许韩袁蔡余杜莫区邱严龚伍黎欧"
)
_GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华文辉建国志红俊峰"
    "嘉颖欣怡浩然子轩雅婷宇航思远海燕晓东丽萍永健家豪锦荣少玲玉兰振宏"
)
_BRAND_CHARS = "鹏华德信达宏宇嘉盛泰鑫恒昌利源丰瑞安康美星辉汇联创骏腾飞锐博润亿诚通旺鼎粤端"
_CHAIN_TRADES: dict[IndustryChain, tuple[str, ...]] = {
    IndustryChain.NEV: ("汽车零部件", "新能源科技", "电池材料", "汽车电子", "精密模具", "动力系统"),
    IndustryChain.BIOMEDICINE: ("生物科技", "医药", "制药", "医疗器械", "生物工程", "药业"),
    IndustryChain.FOOD_BEVERAGE: ("食品", "饮料", "酒业", "调味品", "乳业", "粮油"),
    IndustryChain.OTHER: ("五金制品", "金属材料", "包装材料", "智能装备", "电子科技", "建材"),
}
_PLACE_PREFIXES = ("肇庆", "肇庆市", "肇庆高新区")
_COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司")


class _Identities:
    """Hands out names and unique phone numbers from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._phones: set[str] = set()

    def name(self) -> str:
        # Most given names have two characters, some one.
        given = self._rng.choices(_GIVEN_CHARS, k=2 if self._rng.random() < 0.7 else 1)
        return self._rng.choice(_SURNAMES) + "".join(given)

    def phone(self) -> str:
        while True:
            phone = f"1{self._rng.choice('3456789')}{self._rng.randrange(10**9):09d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone


def _officer(
    ids: _Identities, officer_id: str, role: OfficerRole, unit: str, **fields: Any
) -> Officer:
    return Officer(
        officer_id=officer_id,
        name=ids.name(),
        phone=ids.phone(),
        email=f"{officer_id}@{EMAIL_DOMAIN}",
        role=role,
        unit=unit,
        **fields,
    )


def cso_id(number: int) -> str:
    return f"cso-{number:03d}"


def assistant_id(number: int) -> str:
    return f"pba-{number:03d}"


def _credit_code(rng: random.Random, used: set[str]) -> str:
    while True:
        if rng.random() < 0.7:
            # Codes issued since 2015 mostly carry "MA" at the start of the organisation part.
            org = "MA" + "".join(rng.choices(ALPHABET, k=7))
        else:
            # Older codes embed the former 8-digit organisation code and its check character.
            org = "".join(rng.choices(ALPHABET[:10], k=8)) + rng.choice(ALPHABET)
        # 9 = registered by market regulation, 1 = enterprise.
        code = complete("91" + ZHAOQING_REGION_CODE + org)
        if code not in used:
            used.add(code)
            return code


def _company_name(rng: random.Random, chain: IndustryChain, used: set[str]) -> str:
    while True:
        brand = "".join(rng.sample(_BRAND_CHARS, 2))
        name = (
            rng.choice(_PLACE_PREFIXES)
            + brand
            + rng.choice(_CHAIN_TRADES[chain])
            + rng.choice(_COMPANY_SUFFIXES)
        )
        if name not in used:
            used.add(name)
            return name


def _enterprises(rng: random.Random) -> list[Enterprise]:
    codes: set[str] = set()
    names: set[str] = set()
    chains = [chain for chain, count in CHAIN_ENTERPRISE_COUNTS.items() for _ in range(count)]
    community_names = list(COMMUNITIES.values())
    return [
        Enterprise(
            credit_code=_credit_code(rng, codes),
            name=_company_name(rng, chain, names),
            chain=chain,
            community=rng.choice(community_names),
            # Contiguous blocks: 7 or 8 enterprises per CSO, every CSO gets some, and since the
            # list is grouped by chain most CSOs serve a single chain, as chain CSOs do.
            cso_officer_id=cso_id(index * CSO_COUNT // len(chains) + 1),
        )
        for index, chain in enumerate(chains)
    ]


def _supervisors(ids: _Identities) -> list[Officer]:
    return [
        _officer(ids, supervisor_id, OfficerRole.SUPERVISOR, unit)
        for supervisor_id, unit in SUPERVISOR_UNITS.items()
    ]


def _service_officers(ids: _Identities, enterprises: list[Enterprise]) -> list[Officer]:
    """CSOs and their paired party-building assistants, who share the CSO's unit and reach."""
    served: dict[str, list[Enterprise]] = {}
    for enterprise in enterprises:
        served.setdefault(enterprise.cso_officer_id or "", []).append(enterprise)
    officers: list[Officer] = []
    for number in range(1, CSO_COUNT + 1):
        own = served[cso_id(number)]
        chain = Counter(enterprise.chain for enterprise in own).most_common(1)[0][0]
        # A CSO of a chain with a service team is one of its members; the others sit in the
        # CSO office. Their assistants share their unit but not the team.
        team = chain if chain in TEAM_CHAINS else None
        unit = team_unit(chain) if team is not None else CSO_OFFICE_UNIT
        reach = {enterprise.community for enterprise in own}
        communities = [name for name in COMMUNITIES.values() if name in reach]
        # CSOs take any category from their own enterprises, so they list none.
        officers.append(
            _officer(
                ids,
                cso_id(number),
                OfficerRole.CHIEF_SERVICE_OFFICER,
                unit,
                communities=communities,
                supervisor_id=SUP_SERVICE,
                paired_officer_id=assistant_id(number),
                chain=team,
            )
        )
        officers.append(
            _officer(
                ids,
                assistant_id(number),
                OfficerRole.PARTY_BUILDING_ASSISTANT,
                unit,
                categories=[Category.PARTY_BUILDING],
                communities=communities,
                supervisor_id=SUP_SERVICE,
                paired_officer_id=cso_id(number),
            )
        )
    return officers


def _instructors(ids: _Identities) -> list[Officer]:
    community_names = list(COMMUNITIES.values())
    return [
        _officer(
            ids,
            f"pbi-{number:03d}",
            OfficerRole.PARTY_BUILDING_INSTRUCTOR,
            "两新组织党委",  # the party committee for new economic and social organisations
            categories=[Category.PARTY_BUILDING],
            communities=[community_names[(number - 1) % len(community_names)]],
            supervisor_id=SUP_PARTY,
        )
        for number in range(1, INSTRUCTOR_COUNT + 1)
    ]


def _community_workers(ids: _Identities) -> list[Officer]:
    return [
        _officer(
            ids,
            f"cw-{code}-{number}",
            OfficerRole.COMMUNITY_WORKER,
            f"{name}居委会",
            categories=list(COMMUNITY_WORKER_CATEGORIES),
            communities=[name],
            supervisor_id=SUP_COMMUNITY,
        )
        for code, name in COMMUNITIES.items()
        for number in range(1, WORKERS_PER_COMMUNITY + 1)
    ]


def _department_officers(ids: _Identities) -> list[Officer]:
    return [
        _officer(
            ids,
            f"dept-{department.department_id}-{number}",
            OfficerRole.DEPARTMENT_OFFICER,
            department.name,
            categories=list(department.categories),
            supervisor_id=department.supervisor_id,
            department_id=department.department_id,
        )
        for department in DEPARTMENTS
        for number in range(1, OFFICERS_PER_DEPARTMENT + 1)
    ]


def _dispatcher(ids: _Identities) -> Officer:
    return _officer(
        ids,
        DUTY_DISPATCHER_ID,
        OfficerRole.DEPARTMENT_OFFICER,
        DISPATCH_CENTRE_UNIT,
        capacity=200,  # triages whatever the rules cannot route, so holds far more than others
        supervisor_id=SUP_DISPATCH,
    )


def _with_some_off_duty(rng: random.Random, officers: list[Officer]) -> list[Officer]:
    # Supervisors and the dispatcher stay on duty so escalation and triage always have someone.
    eligible = [
        officer.officer_id
        for officer in officers
        if officer.role is not OfficerRole.SUPERVISOR and officer.officer_id != DUTY_DISPATCHER_ID
    ]
    off = set(rng.sample(eligible, round(len(eligible) * OFF_DUTY_SHARE)))
    return [
        officer.model_copy(update={"on_duty": False}) if officer.officer_id in off else officer
        for officer in officers
    ]


def _team_members(ids: _Identities) -> list[Officer]:
    """Each service team's dedicated members (the team's CSOs are members too)."""
    return [
        _officer(
            ids,
            f"team-{chain.value}-{number}",
            OfficerRole.DEPARTMENT_OFFICER,
            team_unit(chain),
            supervisor_id=SUP_SERVICE,
            chain=chain,
        )
        for chain in TEAM_CHAINS
        for number in range(1, TEAM_MEMBERS_PER_CHAIN + 1)
    ]


def _away(today: date, first: int, last: int, note: str) -> LeavePeriod:
    return LeavePeriod(
        start=today + timedelta(days=first), end=today + timedelta(days=last), note=note
    )


def _leave_cso(enterprises: list[Enterprise]) -> str:
    """The CSO whose enterprises come last in credit-code order: whoever reads the first page of
    enterprises (sorted by code) finds CSOs who are not away."""
    first_code: dict[str, str] = {}
    for enterprise in sorted(enterprises, key=lambda e: e.credit_code):
        first_code.setdefault(enterprise.cso_officer_id or "", enterprise.credit_code)
    return max(first_code, key=lambda officer_id: first_code[officer_id])


def _with_leave(
    rng: random.Random, officers: list[Officer], enterprises: list[Enterprise], today: date
) -> list[Officer]:
    """A few officers away today (one CSO, so their assistant stands in; one community worker
    in each of two communities and one officer in each of two departments, so colleagues take
    over; three instructors) and a few with leave to come. Never a supervisor or the dispatcher."""
    instructors = [
        o.officer_id for o in officers if o.role is OfficerRole.PARTY_BUILDING_INSTRUCTOR
    ]
    csos = [o.officer_id for o in officers if o.role is OfficerRole.CHIEF_SERVICE_OFFICER]
    away_cso = _leave_cso(enterprises)
    now = [
        away_cso,
        *(f"cw-{code}-1" for code in rng.sample(sorted(COMMUNITIES), 2)),
        *(f"dept-{d}-1" for d in rng.sample([d.department_id for d in DEPARTMENTS], 2)),
        *rng.sample(instructors, 3),
    ]
    later = [
        *rng.sample([c for c in csos if c != away_cso], 2),
        *rng.sample([i for i in instructors if i not in now], 2),
    ]
    leave = {officer_id: [_away(today, -1, 3, "年假")] for officer_id in now}
    for officer_id in later:
        leave[officer_id] = [_away(today, 14, 18, "年假"), _away(today, 40, 41, "调休")]
    return [
        officer.model_copy(update={"leave": leave[officer.officer_id]})
        if officer.officer_id in leave
        else officer
        for officer in officers
    ]


def generate_demo_directory(seed: int = DEFAULT_SEED, *, today: date = DEMO_TODAY) -> Directory:
    """Build the demo directory; the same seed and `today` always give the same directory."""
    rng = random.Random(seed)
    ids = _Identities(rng)
    enterprises = _enterprises(rng)
    officers = [
        *_supervisors(ids),
        *_service_officers(ids, enterprises),
        *_instructors(ids),
        *_community_workers(ids),
        *_department_officers(ids),
        _dispatcher(ids),
    ]
    officers = _with_some_off_duty(rng, officers)
    # Drawn after everything above, so adding these left the rest of the directory as it was.
    officers += _team_members(ids)
    officers = _with_leave(rng, officers, enterprises, today)
    return Directory(
        officers=officers,
        enterprises=enterprises,
        departments=list(DEPARTMENTS),
        duty=dict(DUTY),
    )
