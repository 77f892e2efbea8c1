"""Signing in with the organisation's identity provider: OpenID Connect's authorisation code
flow with PKCE (S256), state and nonce.

`/sign-in/oidc` starts it: the discovery document says where the provider's endpoints are,
`start` makes the state, nonce and code verifier and the authorise URL, and `seal` keeps them in a
short-lived, HMAC-signed, HttpOnly cookie of their own (one per attempt, named after its state,
so two tabs signing in at once do not undo each other; any replica can finish the attempt).
`/sign-in/oidc/callback` finishes it: `check_callback` compares the state that came back with the
cookie's, `Provider.exchange` trades the code (with the client secret and the verifier) for the
tokens, `id_token_claims` checks the ID token (signature by the provider's JWKS, iss, aud, azp,
exp, iat, nonce) and `person_of` reads who it is exactly as the services read a bearer token
(`shared.identity.principal_from_claims`: `sub`, `roles`, `unit`).

The console's session holds the ID token and hands it to the services as the bearer token: it
is the one token OpenID Connect guarantees to be a JWT signed with the provider's published keys
(access tokens are opaque at many providers), so the services verify it with
JIBAN_JWT_JWKS_URL = the provider's `jwks_uri`, JIBAN_JWT_AUDIENCE = the console's client id and
JIBAN_JWT_ISSUER = the issuer. The session ends when the ID token does. Like the services, the
console checks an RS256 ID token against the key its header names (`kid`), or against the
provider's only key when it names none.

Everything here but `Provider` does no I/O (the ID token's `exp` is checked against the system
clock, as PyJWT does)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.identity import (
    InvalidToken,
    JwksCache,
    JwksUnavailable,
    Role,
    principal_from_claims,
)
from shared.settings import Settings

CALLBACK_PATH = "/sign-in/oidc/callback"
PENDING_COOKIE_PREFIX = "jiban_oidc_"
PENDING_COOKIE_PATH = "/sign-in/oidc"
# Long enough to type a password and pass a second factor, short enough that a forgotten tab's
# attempt cannot be finished the next day.
PENDING_MAX_AGE_S = 600
# The provider's endpoints are asked for again after this long (a provider moving them is rare).
METADATA_TTL_S = 3600.0
ID_TOKEN_ALGORITHMS = ("RS256",)
LEEWAY_S = 30
_SEAL_CONTEXT = b"jiban console: pending OpenID Connect sign-in"


class Refusal(StrEnum):
    """Why a sign-in through the provider did not finish (the sign-in page words each)."""

    STATE = "state"  # not the attempt this browser started: tampered, replayed or too old
    DENIED = "denied"  # the person (or the provider) refused: error=access_denied
    PROVIDER_ERROR = "provider_error"  # any other error the provider answered
    UNAVAILABLE = "unavailable"  # the provider did not answer
    BAD_TOKEN = "bad_token"  # the ID token does not prove who it is for
    NO_ROLES = "no_roles"  # a valid token, but no role of Jiban's in it
    OFF = "off"  # no identity provider is configured here

    @property
    def status_code(self) -> int:
        return {
            Refusal.STATE: 400,
            Refusal.DENIED: 403,
            Refusal.PROVIDER_ERROR: 502,
            Refusal.UNAVAILABLE: 503,
            Refusal.BAD_TOKEN: 502,
            Refusal.NO_ROLES: 403,
            Refusal.OFF: 404,
        }[self]


class SignInRefused(Exception):
    """The attempt ends here; `detail` is for the log, never for the page."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"{refusal.value}: {detail}")
        self.refusal = refusal
        self.detail = detail


class ProviderMetadata(BaseModel):
    """The parts of the provider's discovery document the console uses."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


class PendingSignIn(BaseModel):
    """One attempt between `/sign-in/oidc` and its callback, as its cookie keeps it."""

    model_config = ConfigDict(frozen=True)

    state: str
    nonce: str
    code_verifier: str = Field(min_length=43, max_length=128)
    next_path: str
    expires_at: int  # unix seconds


class CallbackParams(BaseModel):
    """What the provider sends the browser back with (RFC 6749 §4.1.2, RFC 9207's `iss`)."""

    model_config = ConfigDict(frozen=True)

    code: str | None = Field(None, max_length=4096)
    state: str | None = Field(None, max_length=512)
    error: str | None = Field(None, max_length=200)
    error_description: str | None = Field(None, max_length=2000)
    iss: str | None = Field(None, max_length=2000)


class TokenResponse(BaseModel):
    """The token endpoint's answer (RFC 6749 §5.1 and §5.2), as far as the console reads it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id_token: str | None = None
    error: str | None = None
    error_description: str | None = None


class SignedInPerson(BaseModel):
    """Who the ID token says signed in, read as the services read it."""

    model_config = ConfigDict(frozen=True)

    subject: str
    name: str
    roles: frozenset[Role]
    unit: str | None
    expires_at: datetime


def discovery_url(issuer: str) -> str:
    # OpenID Connect Discovery §4: the issuer without a trailing slash, then the well-known path.
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def redirect_uri(settings: Settings) -> str:
    return settings.console_public_url.rstrip("/") + CALLBACK_PATH


def new_code_verifier() -> str:
    # 64 characters of RFC 7636's unreserved set (43 to 128 are allowed).
    return secrets.token_urlsafe(48)


def start(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    redirect_to: str,
    scope: str,
    next_path: str,
    now: float,
    token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    verifier: Callable[[], str] = new_code_verifier,
) -> tuple[str, PendingSignIn]:
    """The provider's authorise URL for a new attempt, and what its callback is checked with."""
    pending = PendingSignIn(
        state=token(),
        nonce=token(),
        code_verifier=verifier(),
        next_path=next_path,
        expires_at=int(now) + PENDING_MAX_AGE_S,
    )
    url = prepare_grant_uri(
        metadata.authorization_endpoint,
        client_id=client_id,
        response_type="code",
        redirect_uri=redirect_to,
        scope=scope,
        state=pending.state,
        nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.code_verifier),
        code_challenge_method="S256",
    )
    return str(url), pending


# --- the attempt's cookie ----------------------------------------------------------------------


def seal_key(client_secret: str) -> bytes:
    """The cookie's HMAC key, derived from the client secret: every replica has it, nothing else
    does, and it changes when the secret is rotated (dropping attempts under way, harmlessly)."""
    return hmac.new(client_secret.encode(), _SEAL_CONTEXT, hashlib.sha256).digest()


def pending_cookie_name(state: str) -> str:
    return PENDING_COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(pending: PendingSignIn, key: bytes) -> str:
    body = _b64(pending.model_dump_json().encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unseal(value: str | None, key: bytes, *, now: float) -> PendingSignIn | None:
    """The attempt the cookie holds, or None if it is missing, altered or too old."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        pending = PendingSignIn.model_validate_json(_unb64(body))
    except (ValidationError, ValueError):
        return None
    return pending if now < pending.expires_at else None


# --- the callback ------------------------------------------------------------------------------


def check_callback(
    params: CallbackParams, pending: PendingSignIn | None, *, issuer: str
) -> tuple[str, PendingSignIn]:
    """The code to exchange, once the callback belongs to the attempt this browser started."""
    if params.error:
        refusal = Refusal.DENIED if params.error == "access_denied" else Refusal.PROVIDER_ERROR
        raise SignInRefused(refusal, f"{params.error}: {params.error_description or ''}")
    if (
        pending is None
        or not params.state
        or not hmac.compare_digest(params.state.encode(), pending.state.encode())
    ):
        raise SignInRefused(Refusal.STATE, "the state is not this browser's attempt")
    # RFC 9207: a provider that names itself must be the one the attempt went to (mix-up).
    if params.iss is not None and params.iss != issuer:
        raise SignInRefused(Refusal.PROVIDER_ERROR, f"the callback comes from {params.iss!r}")
    if not params.code:
        raise SignInRefused(Refusal.PROVIDER_ERROR, "the callback carries no code")
    return params.code, pending


def id_token_kid(id_token: str) -> str | None:
    """The key the ID token names; None when it names none (the provider's only key then)."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise SignInRefused(Refusal.BAD_TOKEN, f"the ID token is not a JWT: {exc}") from None
    kid = header.get("kid")
    if header.get("alg") not in ID_TOKEN_ALGORITHMS or not (kid is None or isinstance(kid, str)):
        raise SignInRefused(Refusal.BAD_TOKEN, f"unusable ID token header {header!r}")
    return kid or None


def id_token_claims(
    id_token: str,
    key: Any,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    leeway_s: float = LEEWAY_S,
) -> dict[str, Any]:
    """The ID token's claims once it is proven (OpenID Connect Core §3.1.3.7): signed with
    `key` (RS256 only), from `issuer`, for `client_id` (and, among several audiences, authorised
    for it by `azp`), not expired, and carrying this attempt's nonce."""
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=list(ID_TOKEN_ALGORITHMS),
            audience=client_id,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": ["iss", "aud", "sub", "exp", "iat", "nonce"]},
        )
    except jwt.PyJWTError as exc:
        raise SignInRefused(Refusal.BAD_TOKEN, f"the ID token is not valid: {exc}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused(Refusal.BAD_TOKEN, "the ID token is not authorised for this client")
    if not hmac.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
        raise SignInRefused(Refusal.BAD_TOKEN, "the ID token's nonce is not this attempt's")
    return claims


def person_of(claims: dict[str, Any]) -> SignedInPerson:
    """Who signed in: `sub`, `roles` and `unit` exactly as the services read them, a name to
    show (`name`, else `preferred_username`, else the subject) and when the token runs out."""
    try:
        principal = principal_from_claims(claims)
    except InvalidToken as exc:
        raise SignInRefused(Refusal.NO_ROLES, exc.msg) from None
    if not principal.roles:
        raise SignInRefused(Refusal.NO_ROLES, f"{principal.sub} holds no role of Jiban's")
    name = claims.get("name") or claims.get("preferred_username") or principal.sub
    return SignedInPerson(
        subject=principal.sub,
        name=str(name),
        roles=principal.roles,
        unit=principal.unit,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


def issued_by(token: str, issuer: str) -> bool:
    """Whether a session's token came from the provider (not the development sign-in): only
    then is there a provider session to end. Read unverified: it was verified when it came."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return claims.get("iss") == issuer


def end_session_url(
    metadata: ProviderMetadata, *, id_token: str, client_id: str, after: str
) -> str | None:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), where the provider offers
    it: the provider's session ends too, so the next person at this computer signs in afresh."""
    if metadata.end_session_endpoint is None:
        return None
    query = urlencode(
        {"id_token_hint": id_token, "client_id": client_id, "post_logout_redirect_uri": after}
    )
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return metadata.end_session_endpoint + separator + query


# --- talking to the provider -------------------------------------------------------------------


class Provider:
    """The identity provider as the console reaches it: its discovery document (kept for an
    hour), its keys (`shared.identity.JwksCache`: kept, refetched once for an unknown `kid`) and
    the token endpoint (authenticating with the client secret)."""

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret.get_secret_value()
        self.scope = settings.oidc_scope
        self.redirect_uri = redirect_uri(settings)
        self.key = seal_key(self.client_secret)
        # One client for discovery, the token endpoint and the keys (pooled connections);
        # tests hand in a transport.
        self.http = httpx.AsyncClient(
            timeout=settings.console_backend_timeout_s, transport=transport
        )
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._jwks: JwksCache | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is not None and time.monotonic() - self._fetched_at < METADATA_TTL_S:
            return self._metadata
        try:
            response = await self.http.get(discovery_url(self.issuer))
            response.raise_for_status()
            metadata = ProviderMetadata.model_validate_json(response.content)
        except httpx.HTTPError as exc:
            raise SignInRefused(Refusal.UNAVAILABLE, f"discovery: {exc!r}") from None
        except ValidationError as exc:
            raise SignInRefused(Refusal.PROVIDER_ERROR, f"discovery document: {exc}") from None
        # Discovery §4.3: the document must name the issuer it was asked for.
        if metadata.issuer != self.issuer:
            raise SignInRefused(
                Refusal.PROVIDER_ERROR, f"discovery names issuer {metadata.issuer!r}"
            )
        if self._jwks is None or self._jwks.url != metadata.jwks_uri:
            self._jwks = JwksCache(metadata.jwks_uri, client=self.http)
        self._metadata, self._fetched_at = metadata, time.monotonic()
        return metadata

    async def exchange(self, code: str, pending: PendingSignIn) -> str:
        """The ID token the code is worth (RFC 6749 §4.1.3 with RFC 7636's verifier; the client
        authenticates with its secret, HTTP Basic). The access token is not used: see above."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": pending.code_verifier,
        }
        try:
            response = await self.http.post(
                metadata.token_endpoint,
                data=form,
                auth=httpx.BasicAuth(self.client_id, self.client_secret),
                headers={"accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SignInRefused(Refusal.UNAVAILABLE, f"token endpoint: {exc!r}") from None
        if response.status_code >= 500:
            raise SignInRefused(Refusal.UNAVAILABLE, f"token endpoint: {response.status_code}")
        try:
            answer = TokenResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise SignInRefused(Refusal.PROVIDER_ERROR, f"token response: {exc}") from None
        if response.status_code != 200 or answer.error or not answer.id_token:
            detail = f"{response.status_code} {answer.error}: {answer.error_description or ''}"
            raise SignInRefused(Refusal.PROVIDER_ERROR, f"token endpoint: {detail}")
        return answer.id_token

    async def person(self, id_token: str, pending: PendingSignIn) -> SignedInPerson:
        metadata = await self.metadata()
        assert self._jwks is not None
        try:
            kid = id_token_kid(id_token)
            key = await (self._jwks.signing_key(kid) if kid else self._jwks.sole_key())
        except JwksUnavailable as exc:
            raise SignInRefused(Refusal.UNAVAILABLE, f"JWKS: {exc}") from None
        except InvalidToken as exc:
            raise SignInRefused(Refusal.BAD_TOKEN, exc.msg) from None
        claims = id_token_claims(
            id_token, key, issuer=metadata.issuer, client_id=self.client_id, nonce=pending.nonce
        )
        return person_of(claims)
