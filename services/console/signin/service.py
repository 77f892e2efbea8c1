"""Who is signed in, and the rules of a session (pure: no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.identity import Role
from shared.identity.roles import token_roles

SESSION_COOKIE = "jiban_session"
CSRF_COOKIE = "jiban_csrf"  # before sign-in only (double submit); a session carries its own


class Person(BaseModel):
    """The signed-in person, as their session holds them."""

    model_config = ConfigDict(frozen=True)

    subject: str
    name: str
    roles: frozenset[Role]
    unit: str | None
    token: str
    csrf_token: str
    expires_at: datetime

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def oversees(self) -> bool:
        return self.has_any(Role.SUPERVISOR, Role.DISPATCHER, Role.OPS)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def session_hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def same_secret(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def expiry(now: datetime, minutes: int, token_expires_at: datetime | None = None) -> datetime:
    """A session ends after its length, or when the token it holds does, whichever is first."""
    ends = now + timedelta(minutes=minutes)
    return min(ends, token_expires_at) if token_expires_at else ends


def safe_next(target: str | None) -> str:
    """Only a path of this console: never an address elsewhere (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class DirectoryPerson(BaseModel):
    officer_id: str
    name: str
    role: str
    unit: str
    roles: frozenset[Role]


def people_of(
    officers: list[dict[str, Any]], duty: list[dict[str, Any]]
) -> dict[str, dict[str, list[DirectoryPerson]]]:
    """The directory by unit, then directory role, each with the token roles they sign in with
    (duty posts included): what the development sign-in page lists."""
    posts: dict[str, set[str]] = defaultdict(set)
    for held in duty:
        if held.get("officer_id"):
            posts[held["officer_id"]].add(str(held["post"]))
    grouped: dict[str, dict[str, list[DirectoryPerson]]] = defaultdict(lambda: defaultdict(list))
    for officer in sorted(officers, key=lambda o: (o["unit"], o["role"], o["name"])):
        person = DirectoryPerson(
            officer_id=officer["officer_id"],
            name=officer["name"],
            role=officer["role"],
            unit=officer["unit"],
            roles=token_roles(officer["role"], posts[officer["officer_id"]]),
        )
        grouped[person.unit][person.role].append(person)
    return {unit: dict(roles) for unit, roles in grouped.items()}
