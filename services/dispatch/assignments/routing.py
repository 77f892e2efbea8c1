"""Routing: an ordered list of rules, each a small pure function; the first rule that finds an
available officer wins. Every rule says whether it matched and why, so a supervisor can read the
whole decision (`GET /v1/appeals/{id}/routing`).

| order | rule                   | picks                                                           |
|-------|------------------------|-----------------------------------------------------------------|
| 1     | `enterprise_cso`       | the enterprise's assigned chief service officer (挂点)          |
| 2     | `cso_backup_assistant` | that CSO's party-building assistant, when the CSO is on leave,  |
|       |                        | off duty or at capacity                                         |
| 3     | `chain_team`           | an industry-chain enterprise without an available CSO: the      |
|       |                        | chain's service team (专班), least loaded                       |
| 4     | `department`           | the category's owning department(s): their officers, least      |
|       |                        | loaded                                                          |
| 5     | `community`            | a resident's appeal with a known community: its workers, least  |
|       |                        | loaded                                                          |
| 6     | `triage`               | nothing fits: the duty supervisor, capacity ignored (the appeal |
|       |                        | is still assigned, never dropped)                               |

Available = on duty, not on leave, open assignments under capacity, and not among the officers
who gave the appeal back. Load = open assignments / capacity; ties go to fewer open
assignments, then the smallest id, so the same directory always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.vocabulary import CATEGORY_LABELS_ZH, Category, IndustryChain, OfficerRole

CHAIN_TEAM_LABELS_ZH: dict[IndustryChain, str] = {
    IndustryChain.NEV: "新能源汽车产业链服务专班",
    IndustryChain.BIOMEDICINE: "生物医药产业链服务专班",
    IndustryChain.FOOD_BEVERAGE: "食品饮料产业链服务专班",
}


@dataclass(frozen=True)
class Candidate:
    officer_id: str
    name: str
    role: OfficerRole
    on_duty: bool
    capacity: int
    open_assignments: int
    on_leave: bool = False

    @property
    def available(self) -> bool:
        return self.on_duty and not self.on_leave and self.open_assignments < self.capacity

    @property
    def load(self) -> float:
        return self.open_assignments / self.capacity if self.capacity > 0 else float("inf")

    def why_unavailable(self) -> str:
        if not self.on_duty:
            return "不在岗"
        if self.on_leave:
            return "休假中"
        if self.open_assignments >= self.capacity:
            return f"在办已满（{self.open_assignments}/{self.capacity} 件）"
        return "可接单"


@dataclass(frozen=True)
class EnterpriseInfo:
    credit_code: str
    name: str
    chain: IndustryChain
    community: str
    has_cso: bool


@dataclass(frozen=True)
class RoutingContext:
    """Everything the rules may look at; built by the store, so the rules do no I/O. The
    groups (chain team, department officers, community workers) hold the few least loaded
    available members the store found, or every member in tests."""

    appeal_id: str
    enterprise: EnterpriseInfo | None = None
    cso: Candidate | None = None
    cso_assistant: Candidate | None = None
    chain_team: Sequence[Candidate] = ()
    category: Category | None = None
    departments: Sequence[str] = ()  # names of the departments that own the category
    department_officers: Sequence[Candidate] = ()
    resident: bool = False  # a person, not an enterprise
    community: str | None = None
    community_workers: Sequence[Candidate] = ()
    duty_supervisor: Candidate | None = None
    excluded: frozenset[str] = frozenset()  # officers who gave the appeal back


@dataclass(frozen=True)
class Decision:
    officer_id: str
    reason_code: str
    reason: str  # a Chinese sentence a supervisor reads


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    matched: bool
    why: str
    decision: Decision | None = None

    def trace(self) -> dict[str, object]:
        return {"rule": self.rule, "matched": self.matched, "why": self.why}


@dataclass(frozen=True)
class Routing:
    decision: Decision
    outcomes: tuple[RuleOutcome, ...] = field(default=())

    def trace(self) -> list[dict[str, object]]:
        return [outcome.trace() for outcome in self.outcomes]


Rule = Callable[[RoutingContext], RuleOutcome]


def _usable(ctx: RoutingContext, candidate: Candidate | None) -> bool:
    return candidate is not None and candidate.officer_id not in ctx.excluded


def _least_loaded(ctx: RoutingContext, group: Sequence[Candidate]) -> Candidate | None:
    available = [c for c in group if c.available and c.officer_id not in ctx.excluded]
    return min(available, key=lambda c: (c.load, c.open_assignments, c.officer_id), default=None)


def _load_text(candidate: Candidate) -> str:
    return f"{candidate.name}（在办 {candidate.open_assignments}/{candidate.capacity} 件）"


def enterprise_cso(ctx: RoutingContext) -> RuleOutcome:
    """The enterprise's assigned chief service officer (挂点); the enterprise is found by the
    appeal's credit code, or its exact name."""
    rule = "enterprise_cso"
    if ctx.enterprise is None:
        return RuleOutcome(rule, False, "诉求未关联到名录中的企业")
    if ctx.cso is None:
        return RuleOutcome(rule, False, f"{ctx.enterprise.name} 尚未配置挂点首席服务官")
    if not _usable(ctx, ctx.cso):
        return RuleOutcome(rule, False, f"挂点首席服务官 {ctx.cso.name} 已退回此件")
    if not ctx.cso.available:
        return RuleOutcome(
            rule, False, f"挂点首席服务官 {ctx.cso.name} {ctx.cso.why_unavailable()}"
        )
    reason = f"{ctx.enterprise.name} 的挂点首席服务官 {ctx.cso.name}"
    return RuleOutcome(rule, True, reason, Decision(ctx.cso.officer_id, rule, reason))


def cso_backup_assistant(ctx: RoutingContext) -> RuleOutcome:
    """That CSO's party-building assistant, when the CSO is on leave, off duty or at capacity."""
    rule = "cso_backup_assistant"
    if ctx.enterprise is None or ctx.cso is None:
        return RuleOutcome(rule, False, "没有挂点首席服务官，无需党建助理顶岗")
    if ctx.cso_assistant is None:
        return RuleOutcome(rule, False, f"首席服务官 {ctx.cso.name} 未配对党建助理")
    if not _usable(ctx, ctx.cso_assistant):
        return RuleOutcome(rule, False, f"党建助理 {ctx.cso_assistant.name} 已退回此件")
    if not ctx.cso_assistant.available:
        why = ctx.cso_assistant.why_unavailable()
        return RuleOutcome(rule, False, f"党建助理 {ctx.cso_assistant.name} {why}")
    cso_state = "已退回此件" if ctx.cso.officer_id in ctx.excluded else ctx.cso.why_unavailable()
    reason = (
        f"{ctx.enterprise.name} 的挂点首席服务官 {ctx.cso.name} {cso_state}，"
        f"由其党建助理 {ctx.cso_assistant.name} 承办"
    )
    return RuleOutcome(rule, True, reason, Decision(ctx.cso_assistant.officer_id, rule, reason))


def chain_team(ctx: RoutingContext) -> RuleOutcome:
    """An industry-chain enterprise with no available CSO: the chain's service team (专班),
    least loaded."""
    rule = "chain_team"
    if ctx.enterprise is None:
        return RuleOutcome(rule, False, "诉求未关联到名录中的企业")
    team = CHAIN_TEAM_LABELS_ZH.get(ctx.enterprise.chain)
    if team is None:
        return RuleOutcome(rule, False, f"{ctx.enterprise.name} 不属于三大产业链")
    pick = _least_loaded(ctx, ctx.chain_team)
    if pick is None:
        return RuleOutcome(rule, False, f"{team} 暂无可接单人员")
    lead = (
        "未配置挂点首席服务官" if not ctx.enterprise.has_cso else "挂点首席服务官及其助理均不可接单"
    )
    reason = f"{ctx.enterprise.name} {lead}，由{team}中负荷最低的 {_load_text(pick)} 承办"
    return RuleOutcome(rule, True, reason, Decision(pick.officer_id, rule, reason))


def department(ctx: RoutingContext) -> RuleOutcome:
    """The category's owning department(s): their officers, least loaded."""
    rule = "department"
    if ctx.category is None:
        return RuleOutcome(rule, False, "诉求未分类")
    label = CATEGORY_LABELS_ZH.get(ctx.category, ctx.category.value)
    if not ctx.departments:
        return RuleOutcome(rule, False, f"“{label}”类诉求没有归口部门")
    owners = "、".join(ctx.departments)
    pick = _least_loaded(ctx, ctx.department_officers)
    if pick is None:
        return RuleOutcome(rule, False, f"归口部门 {owners} 暂无可接单人员")
    reason = f"“{label}”类诉求归口 {owners}，由负荷最低的 {_load_text(pick)} 承办"
    return RuleOutcome(rule, True, reason, Decision(pick.officer_id, rule, reason))


def community(ctx: RoutingContext) -> RuleOutcome:
    """A resident's appeal with a community: that community's workers, least loaded."""
    rule = "community"
    if not ctx.resident:
        return RuleOutcome(rule, False, "企业诉求不按社区派单")
    if ctx.community is None:
        return RuleOutcome(rule, False, "诉求未注明所在社区")
    pick = _least_loaded(ctx, ctx.community_workers)
    if pick is None:
        return RuleOutcome(rule, False, f"{ctx.community} 暂无可接单的社区工作人员")
    reason = f"居民诉求，所在社区 {ctx.community}，由负荷最低的社区工作人员 {_load_text(pick)} 承办"
    return RuleOutcome(rule, True, reason, Decision(pick.officer_id, rule, reason))


def triage(ctx: RoutingContext) -> RuleOutcome:
    """Nothing fits: the duty supervisor, capacity ignored — never dropped."""
    rule = "triage"
    if ctx.duty_supervisor is None:
        return RuleOutcome(rule, False, "未设置值班领导")
    reason = f"以上规则均无可接单人员，转值班领导 {ctx.duty_supervisor.name} 研判分派"
    return RuleOutcome(rule, True, reason, Decision(ctx.duty_supervisor.officer_id, rule, reason))


RULES: tuple[Rule, ...] = (
    enterprise_cso,
    cso_backup_assistant,
    chain_team,
    department,
    community,
    triage,
)
RULE_NAMES: tuple[str, ...] = tuple(rule.__name__ for rule in RULES)


class NoOfficerAvailable(Exception):
    """Not even a duty supervisor is set: the directory is empty or incomplete."""


def route(ctx: RoutingContext, rules: Sequence[Rule] = RULES) -> Routing:
    """The first matching rule decides; the outcome of every rule tried is kept, and the rules
    after the winner are listed as not tried."""
    outcomes: list[RuleOutcome] = []
    for index, rule in enumerate(rules):
        outcome = rule(ctx)
        outcomes.append(outcome)
        if outcome.decision is not None:
            skipped = [
                RuleOutcome(later.__name__, False, "未评估：前序规则已命中")
                for later in rules[index + 1 :]
            ]
            return Routing(outcome.decision, (*outcomes, *skipped))
    raise NoOfficerAvailable(f"no officer available for appeal {ctx.appeal_id}")


def to_supervisor(ctx: RoutingContext, why: str) -> Routing:
    """Straight to the duty supervisor (after two accepted returns), with the reason said."""
    if ctx.duty_supervisor is None:
        raise NoOfficerAvailable(f"no duty supervisor for appeal {ctx.appeal_id}")
    reason = f"{why}，转值班领导 {ctx.duty_supervisor.name} 研判"
    decision = Decision(ctx.duty_supervisor.officer_id, "triage", reason)
    return Routing(decision, (RuleOutcome("triage", True, reason, decision),))
