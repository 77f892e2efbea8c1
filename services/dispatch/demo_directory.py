"""A deterministic demo directory at the real scale of Zhaoqing High-tech Zone (大旺).

132 chief service officers each paired with a party-building assistant, 313 party-building
instructors, 1,050 enterprises on the industry chains, community workers, department officers,
six supervisors and one on-duty dispatcher. All people, companies and codes are invented.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from services.dispatch.directory import Directory, Enterprise, Officer
from shared.credit_code import ALPHABET, complete
from shared.vocabulary import Category, IndustryChain, OfficerRole

DEFAULT_SEED = 2021  # the year the zone started its chief service officer system

CSO_COUNT = 132
INSTRUCTOR_COUNT = 313
WORKERS_PER_COMMUNITY = 3
OFFICERS_PER_DEPARTMENT = 2
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

CHAIN_LABELS_ZH: dict[IndustryChain, str] = {
    IndustryChain.NEV: "新能源汽车",
    IndustryChain.BIOMEDICINE: "生物医药",
    IndustryChain.FOOD_BEVERAGE: "食品饮料",
    IndustryChain.OTHER: "综合",
}

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


@dataclass(frozen=True)
class Department:
    key: str  # used in officer ids: dept-<key>-<n>
    unit: str
    categories: tuple[Category, ...]
    supervisor_id: str


DEPARTMENTS: tuple[Department, ...] = (
    Department("hrss", "人社局", (Category.EMPLOYMENT,), SUP_BUSINESS),
    Department("nr", "自然资源局", (Category.PREMISES,), SUP_BUSINESS),
    Department("invest", "投资促进局", (Category.PREMISES,), SUP_BUSINESS),
    Department("gsc", "行政服务中心", (Category.PERMITS,), SUP_BUSINESS),
    Department("econ", "经济发展局", (Category.POLICY,), SUP_BUSINESS),
    Department("power", "供电局", (Category.UTILITIES,), SUP_PUBLIC),
    Department("water", "水务局", (Category.UTILITIES,), SUP_PUBLIC),
    Department("transport", "交通运输局", (Category.TRANSPORT,), SUP_PUBLIC),
    Department("edu", "教育局", (Category.EDUCATION,), SUP_PUBLIC),
    Department("housing", "住建局", (Category.HOUSING, Category.DRAINAGE_ROADS), SUP_PUBLIC),
    Department("env", "生态环境分局", (Category.ENVIRONMENT,), SUP_PUBLIC),
    Department("safety", "应急管理局", (Category.PUBLIC_SAFETY,), SUP_PUBLIC),
    Department("party", "党建办", (Category.PARTY_BUILDING,), SUP_PARTY),
)

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
        unit = f"{CHAIN_LABELS_ZH[chain]}产业链服务专班"
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
            f"dept-{department.key}-{number}",
            OfficerRole.DEPARTMENT_OFFICER,
            department.unit,
            categories=list(department.categories),
            supervisor_id=department.supervisor_id,
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


def generate_demo_directory(seed: int = DEFAULT_SEED) -> Directory:
    """Build the demo directory; the same seed always gives the same directory."""
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
    return Directory(officers=_with_some_off_duty(rng, officers), enterprises=enterprises)
