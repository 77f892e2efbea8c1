"""The verified caller of a person-facing request, and its roles."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DISPATCHER = "dispatcher"
    OPS = "ops"


class Principal(BaseModel):
    """The verified caller of a request."""

    model_config = ConfigDict(frozen=True)

    sub: str
    roles: frozenset[Role]
    unit: str | None = None

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)
