"""Who a person-facing request comes from: a bearer JWT, verified, becomes a `Principal`.

Tokens carry `sub` (an officer id, or a service account), `roles` (of `Role`), `unit`, `aud` and
`exp`. In development they are HS256 with a shared secret (`issue_dev_token`, `jiban token`); in
production RS256, verified against the keys the organisation's identity provider publishes at a
JWKS URL (`tokens`).

Services wire it in their composition root (`install_identity(app, verifier_from(...))`) and
protect routes with `CurrentPrincipal` or `Depends(require_roles(Role.SUPERVISOR, ...))`
(`dependencies`); who may read what is decided by the pure rules in `access`. Health, readiness
and metrics stay open: they never depend on these.
"""

from __future__ import annotations

from shared.identity.access import can_read_appeal, can_read_officer, may_learn_existence, oversees
from shared.identity.dependencies import (
    FORBIDDEN,
    SIGN_IN_REQUIRED,
    CurrentPrincipal,
    authenticated,
    document_refusals,
    forbidden,
    install_identity,
    require_roles,
)
from shared.identity.principal import Principal, Role
from shared.identity.tokens import (
    DEFAULT_AUDIENCE,
    DEV_JWT_SECRET,
    MIN_SECRET_BYTES,
    IdentityNotConfigured,
    InvalidToken,
    JwksCache,
    JwksUnavailable,
    TokenVerifier,
    issue_dev_token,
    parse_jwks,
    principal_from_claims,
    verifier_from,
)

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEV_JWT_SECRET",
    "FORBIDDEN",
    "MIN_SECRET_BYTES",
    "SIGN_IN_REQUIRED",
    "CurrentPrincipal",
    "IdentityNotConfigured",
    "InvalidToken",
    "JwksCache",
    "JwksUnavailable",
    "Principal",
    "Role",
    "TokenVerifier",
    "authenticated",
    "can_read_appeal",
    "can_read_officer",
    "document_refusals",
    "forbidden",
    "install_identity",
    "issue_dev_token",
    "may_learn_existence",
    "oversees",
    "parse_jwks",
    "principal_from_claims",
    "require_roles",
    "verifier_from",
]
