"""Routing: an ordered list of rules, each a small pure function; the first rule that finds an
available officer wins, and its reason is what a supervisor reads.

| order | rule                         | picks                                                  |
|-------|------------------------------|--------------------------------------------------------|
| 1     | `enterprise_cso`             | the chief service officer assigned to the appellant's   |
|       |                              | enterprise (挂点), if on duty and under capacity         |
| 2     | `least_loaded_handler`       | among on-duty community workers and department officers |
|       |                              | under capacity, the one with the fewest open appeals    |
| 3     | `least_loaded_on_duty`       | among everyone on duty but supervisors, the fewest open |
|       |                              | appeals (capacity ignored: an appeal is never stuck)    |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.vocabulary import OfficerRole


@dataclass(frozen=True)
class Candidate:
    officer_id: str
    name: str
    role: OfficerRole
    on_duty: bool
    capacity: int
    open_assignments: int

    @property
    def available(self) -> bool:
        return self.on_duty and self.open_assignments < self.capacity


@dataclass(frozen=True)
class RoutingContext:
    """Everything the rules may look at; built by the store, so the rules do no I/O."""

    appeal_id: str
    enterprise_credit_code: str | None
    enterprise_name: str | None
    cso: Candidate | None
    officers_on_duty: Sequence[Candidate]


@dataclass(frozen=True)
class Decision:
    officer_id: str
    reason_code: str
    reason: str


Rule = Callable[[RoutingContext], Decision | None]

GENERAL_HANDLERS = frozenset({OfficerRole.COMMUNITY_WORKER, OfficerRole.DEPARTMENT_OFFICER})


def enterprise_cso(ctx: RoutingContext) -> Decision | None:
    if ctx.cso is None or not ctx.cso.available:
        return None
    return Decision(
        ctx.cso.officer_id,
        "enterprise_cso",
        f"{ctx.enterprise_name or ctx.enterprise_credit_code} 的挂点首席服务官 {ctx.cso.name}",
    )


def _least_loaded(candidates: Sequence[Candidate]) -> Candidate | None:
    # Ties go to the smallest id so that the same directory always gives the same answer.
    return min(candidates, key=lambda c: (c.open_assignments, c.officer_id), default=None)


def least_loaded_handler(ctx: RoutingContext) -> Decision | None:
    pick = _least_loaded(
        [c for c in ctx.officers_on_duty if c.role in GENERAL_HANDLERS and c.available]
    )
    if pick is None:
        return None
    return Decision(
        pick.officer_id,
        "least_loaded_handler",
        f"在岗办理人员中在办诉求最少（{pick.open_assignments} 件）：{pick.name}",
    )


def least_loaded_on_duty(ctx: RoutingContext) -> Decision | None:
    pick = _least_loaded(
        [c for c in ctx.officers_on_duty if c.on_duty and c.role != OfficerRole.SUPERVISOR]
    )
    if pick is None:
        return None
    return Decision(
        pick.officer_id,
        "least_loaded_on_duty",
        f"无可用办理人员，转在岗人员中在办诉求最少者：{pick.name}",
    )


RULES: tuple[Rule, ...] = (enterprise_cso, least_loaded_handler, least_loaded_on_duty)


class NoOfficerAvailable(Exception):
    """Nobody is on duty at all: the directory is empty or everyone is away."""


def route(ctx: RoutingContext, rules: Sequence[Rule] = RULES) -> Decision:
    for rule in rules:
        decision = rule(ctx)
        if decision is not None:
            return decision
    raise NoOfficerAvailable(f"no officer available for appeal {ctx.appeal_id}")
