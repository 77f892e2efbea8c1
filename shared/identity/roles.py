"""Which token roles a person of the directory holds: the one rule `jiban token` and the
console's development sign-in both sign with."""

from __future__ import annotations

from collections.abc import Collection

from shared.identity.principal import Role
from shared.vocabulary import OfficerRole

# Dispatch's duty posts, by the names its API gives them.
DISPATCHER_POST = "dispatcher"
SUPERVISOR_POST = "supervisor"


def token_roles(directory_role: OfficerRole | str, posts: Collection[str] = ()) -> frozenset[Role]:
    """Directory role and duty posts held → token roles: every officer is an officer;
    supervisors, and whoever holds the duty supervisor post, also supervise; whoever holds the
    dispatcher post also dispatches. The token says what was true when it was issued: handing a
    post to someone else takes effect with their next token."""
    roles = {Role.OFFICER}
    if directory_role == OfficerRole.SUPERVISOR or SUPERVISOR_POST in posts:
        roles.add(Role.SUPERVISOR)
    if DISPATCHER_POST in posts:
        roles.add(Role.DISPATCHER)
    return frozenset(roles)
