"""Sign-in tokens: verifying a bearer JWT into a `Principal` (HS256 with a shared secret, or RS256
against the identity provider's JWKS), and issuing development tokens.

Which algorithm a token may use follows from what is configured, never from the token: an HS256
token is checked only against the shared secret, an RS256 token only against a JWKS key, and
anything else (`alg: none` included) is refused."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from prometheus_client import Counter
from pydantic import SecretStr

from shared.identity.principal import Principal, Role

log = logging.getLogger(__name__)

# Documented, public, and therefore worthless outside development: `verifier_from` refuses it
# unless dev mode is on. At least 32 bytes, as HS256 keys should be (RFC 7518 §3.2).
DEV_JWT_SECRET = "jiban-development-only-jwt-secret-never-use-in-production"
MIN_SECRET_BYTES = 32
DEFAULT_AUDIENCE = "jiban"
DEFAULT_LEEWAY_S = 30.0
DEFAULT_JWKS_CACHE_S = 300.0
# An unknown `kid` triggers at most one JWKS refetch per this interval, so a stream of tokens
# with made-up key ids cannot turn every request into a call to the identity provider.
JWKS_REFETCH_COOLDOWN_S = 10.0
JWKS_TIMEOUT_S = 5.0
RETRY_AFTER_S = 5

HS256 = "HS256"
RS256 = "RS256"

REFUSALS = Counter(
    "jiban_identity_refusals_total",
    "Person-facing requests refused before the route ran, by reason",
    ["reason"],
)


class InvalidToken(Exception):
    """The token does not prove who the caller is (answered 401). `kind` is the body's `type`."""

    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(msg)
        self.kind = kind
        self.msg = msg


class JwksUnavailable(Exception):
    """The identity provider's keys could not be fetched and none are cached (answered 503:
    the token may well be good, so 401 would make clients throw it away)."""


class IdentityNotConfigured(RuntimeError):
    """Raised at start-up: outside dev mode a service must not run without a way to verify."""


class JwksCache:
    """The identity provider's RS256 signing keys by `kid`, fetched with httpx and kept for
    `ttl_s`. An unknown `kid` (the provider rotated its keys) refetches once, unless the set was
    fetched less than `refetch_cooldown_s` ago. If the provider is unreachable, the keys already
    held stay in use."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = DEFAULT_JWKS_CACHE_S,
        refetch_cooldown_s: float = JWKS_REFETCH_COOLDOWN_S,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.refetch_cooldown_s = refetch_cooldown_s
        self.clock = clock
        self._client = client
        self._own_client = client is None
        self._keys: dict[str, RSAPublicKey] | None = None
        self._expires_at = 0.0
        self._fetched_at = -float("inf")
        # One fetch at a time: a burst of requests after expiry or rotation makes one call.
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def signing_key(self, kid: str) -> RSAPublicKey:
        if self._keys is None or self.clock() >= self._expires_at:
            await self._refresh(wanted=None)
        assert self._keys is not None
        key = self._keys.get(kid)
        if key is None and self.clock() - self._fetched_at >= self.refetch_cooldown_s:
            await self._refresh(wanted=kid)
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown_key", f"no signing key {kid!r} at the identity provider")
        return key

    async def sole_key(self) -> RSAPublicKey:
        """The provider's signing key when it publishes exactly one: OpenID Connect lets a token
        leave out `kid` then (Core 1.0, 10.1), and some providers do."""
        if self._keys is None or self.clock() >= self._expires_at:
            await self._refresh(wanted=None)
        assert self._keys is not None
        if len(self._keys) != 1:
            raise InvalidToken(
                "invalid_token",
                "an RS256 token must name its key (`kid`): the identity provider has "
                f"{len(self._keys)} keys",
            )
        return next(iter(self._keys.values()))

    async def _refresh(self, *, wanted: str | None) -> None:
        """Fetches the set: because it expired (`wanted` None) or to look for a new `kid`."""
        async with self._lock:
            # Another request may have fetched while this one waited for the lock.
            if self._keys is not None:
                if wanted is None and self.clock() < self._expires_at:
                    return
                if wanted is not None and wanted in self._keys:
                    return
            elif self.clock() - self._fetched_at < self.refetch_cooldown_s:
                # Never had keys and the last try failed just now: do not call per request.
                raise JwksUnavailable(f"JWKS at {self.url} was unreachable moments ago")
            self._fetched_at = self.clock()
            try:
                keys = await self._fetch()
            except JwksUnavailable:
                if self._keys is None:
                    raise
                # Keep the keys we have; ask the provider again after a cooldown, not per request.
                log.warning("JWKS refresh failed; keeping the cached keys", extra={"url": self.url})
                self._expires_at = self.clock() + min(self.ttl_s, self.refetch_cooldown_s)
                return
            self._keys = keys
            self._expires_at = self.clock() + self.ttl_s

    async def _fetch(self) -> dict[str, RSAPublicKey]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=JWKS_TIMEOUT_S)
        self.fetches += 1
        try:
            response = await self._client.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JwksUnavailable(f"JWKS at {self.url}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JwksUnavailable(f"JWKS at {self.url} is not a JSON Web Key Set")
        return parse_jwks(document["keys"])

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def parse_jwks(entries: Iterable[Any]) -> dict[str, RSAPublicKey]:
    """The usable RS256 signing keys of a JWK set, by `kid`. Anything else (encryption keys,
    other key types, keys without an id, symmetric `oct` keys above all) is skipped."""
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", RS256) != RS256:
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=RS256).key
        except jwt.PyJWTError:
            log.warning("unusable key in JWKS skipped", extra={"kid": kid})
            continue
        if isinstance(key, RSAPrivateKey):  # a provider publishing private parts: use the public
            key = key.public_key()
        if isinstance(key, RSAPublicKey):
            keys[kid] = key
    return keys


def _secret_bytes(secret: str | bytes | SecretStr | None) -> bytes | None:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    if isinstance(secret, str):
        secret = secret.encode()
    return secret or None


class TokenVerifier:
    """Checks a bearer token and turns it into a Principal. HS256 only with `secret`, RS256 only
    with `jwks`; `exp`, `aud` (and `iss`, when configured) with `leeway_s` for clock skew."""

    def __init__(
        self,
        *,
        audience: str = DEFAULT_AUDIENCE,
        secret: str | bytes | SecretStr | None = None,
        jwks: JwksCache | None = None,
        issuer: str | None = None,
        leeway_s: float = DEFAULT_LEEWAY_S,
    ) -> None:
        self.secret = _secret_bytes(secret)
        if self.secret is None and jwks is None:
            raise IdentityNotConfigured("a TokenVerifier needs a shared secret or a JWKS URL")
        if self.secret is not None and len(self.secret) < MIN_SECRET_BYTES:
            raise IdentityNotConfigured(
                f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes (HS256)"
            )
        self.jwks = jwks
        self.audience = audience
        self.issuer = issuer
        self.leeway_s = leeway_s

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(
            alg
            for alg, on in ((HS256, self.secret is not None), (RS256, self.jwks is not None))
            if on
        )

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed_token", "the bearer token is not a JWT") from None
        alg = header.get("alg")
        key: Any
        # The key is chosen by the algorithm we configured, so an HS256 token can never be
        # checked against a public key, and `none` has no key at all.
        if alg == HS256 and self.secret is not None:
            key = self.secret
        elif alg == RS256 and self.jwks is not None:
            kid = header.get("kid")
            if isinstance(kid, str) and kid:
                key = await self.jwks.signing_key(kid)
            else:
                key = await self.jwks.sole_key()
        else:
            accepted = ", ".join(self.algorithms)
            raise InvalidToken("invalid_token", f"algorithm {alg!r} not accepted ({accepted})")
        required = ["sub", "exp", "aud", "roles"] + (["iss"] if self.issuer else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired_token", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken(
                "invalid_token", "the token is not meant for this audience"
            ) from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("invalid_token", "the token comes from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken("invalid_token", f"the token has no `{exc.claim}` claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("invalid_token", "the token's signature does not verify") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("invalid_token", "the token is not valid yet") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken("invalid_token", f"the token is not valid: {exc}") from None
        return principal_from_claims(claims)

    async def aclose(self) -> None:
        if self.jwks is not None:
            await self.jwks.aclose()


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Unknown role names are ignored, not refused: an organisation's identity provider puts
    other applications' roles in the same claim, and a name we do not know grants nothing."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidToken("invalid_token", "the token's `sub` must be a non-empty string")
    raw_roles = claims.get("roles")
    if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
        raise InvalidToken("invalid_token", "the token's `roles` must be a list of strings")
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in raw_roles if r in known)
    unit = claims.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise InvalidToken("invalid_token", "the token's `unit` must be a string")
    return Principal(sub=sub, roles=roles, unit=unit or None)


def verifier_from(
    *,
    dev_mode: bool,
    secret: str | bytes | SecretStr | None = None,
    jwks_url: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    issuer: str | None = None,
    leeway_s: float = DEFAULT_LEEWAY_S,
    jwks_cache_s: float = DEFAULT_JWKS_CACHE_S,
    http_client: httpx.AsyncClient | None = None,
) -> TokenVerifier:
    """The verifier a service runs with, or IdentityNotConfigured to stop it starting.

    - `jwks_url` set: RS256 tokens from the identity provider.
    - `secret` set: HS256 tokens signed with it (outside dev mode never the documented dev one).
    - dev mode with no secret: HS256 with DEV_JWT_SECRET, so `jiban token` works out of the box.
    - outside dev mode with neither: refused.
    """
    key = _secret_bytes(secret)
    if key is None and dev_mode:
        key = DEV_JWT_SECRET.encode()
    if not dev_mode:
        if key is None and not jwks_url:
            raise IdentityNotConfigured(
                "no way to verify sign-in tokens: set JIBAN_JWT_JWKS_URL (the identity "
                "provider's keys) or JIBAN_JWT_SECRET (HS256), or JIBAN_DEV_MODE=1 in development"
            )
        if key == DEV_JWT_SECRET.encode():
            raise IdentityNotConfigured(
                "JIBAN_JWT_SECRET is the published development secret; set a secret of your own"
            )
    if not audience:
        raise IdentityNotConfigured("JIBAN_JWT_AUDIENCE must not be empty")
    jwks = JwksCache(jwks_url, ttl_s=jwks_cache_s, client=http_client) if jwks_url else None
    return TokenVerifier(
        audience=audience, secret=key, jwks=jwks, issuer=issuer or None, leeway_s=leeway_s
    )


def issue_dev_token(
    secret: str | bytes | SecretStr,
    *,
    sub: str,
    roles: Iterable[Role | str],
    unit: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    issuer: str | None = None,
    minutes: float = 60,
    now: datetime | None = None,
) -> str:
    """An HS256 token as `TokenVerifier` expects it (the CLI and tests; production tokens come
    from the identity provider)."""
    key = _secret_bytes(secret)
    if key is None:
        raise ValueError("a secret is needed to sign a token")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": sorted(Role(r).value for r in roles),
        "unit": unit,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
    }
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, key, algorithm=HS256)
