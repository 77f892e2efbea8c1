"""The console's OpenID Connect client, its pure parts: the authorise URL with PKCE, state and
nonce; the attempt's signed cookie; the callback's checks; the ID token's checks; who it names,
read as the services read a bearer token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.console.signin.oidc import (
    PENDING_MAX_AGE_S,
    CallbackParams,
    PendingSignIn,
    Provider,
    ProviderMetadata,
    Refusal,
    SignInRefused,
    check_callback,
    discovery_url,
    end_session_url,
    id_token_claims,
    id_token_kid,
    issued_by,
    pending_cookie_name,
    person_of,
    redirect_uri,
    seal,
    seal_key,
    start,
    unseal,
)
from shared.identity import Role
from shared.settings import Settings

ISSUER = "https://id.example.gov.cn/realms/dawang"
CLIENT = "jiban-console"
METADATA = ProviderMetadata(
    issuer=ISSUER,
    authorization_endpoint=ISSUER + "/protocol/openid-connect/auth",
    token_endpoint=ISSUER + "/protocol/openid-connect/token",
    jwks_uri=ISSUER + "/protocol/openid-connect/certs",
    end_session_endpoint=ISSUER + "/protocol/openid-connect/logout",
)
NOW = 1_790_000_000.0
KEY = seal_key("the client secret")
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pending(**changes: Any) -> PendingSignIn:
    values: dict[str, Any] = {
        "state": "the-state",
        "nonce": "the-nonce",
        "code_verifier": "v" * 64,
        "next_path": "/queue?punctuality=overdue",
        "expires_at": int(NOW) + PENDING_MAX_AGE_S,
    }
    return PendingSignIn(**{**values, **changes})


# --- starting ----------------------------------------------------------------------------------


def test_the_authorise_url_asks_for_a_code_with_pkce_state_and_nonce() -> None:
    url, pending = start(
        METADATA,
        client_id=CLIENT,
        redirect_to="https://console.example/sign-in/oidc/callback",
        scope="openid profile",
        next_path="/appeals/42",
        now=NOW,
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == METADATA.authorization_endpoint
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(pending.code_verifier.encode()).digest()
    ).rstrip(b"=")
    assert query == {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": "https://console.example/sign-in/oidc/callback",
        "scope": "openid profile",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    assert pending.next_path == "/appeals/42"
    assert pending.expires_at == int(NOW) + PENDING_MAX_AGE_S
    # The verifier never leaves the console; it is RFC 7636's length.
    assert pending.code_verifier not in url
    assert 43 <= len(pending.code_verifier) <= 128


def test_every_attempt_has_its_own_state_nonce_and_verifier() -> None:
    attempts = [
        start(METADATA, client_id=CLIENT, redirect_to="x", scope="openid", next_path="/", now=NOW)[
            1
        ]
        for _ in range(2)
    ]
    first, second = attempts
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.code_verifier != second.code_verifier
    assert first.state != first.nonce


def test_the_redirect_uri_and_the_discovery_document_follow_the_settings() -> None:
    settings = Settings(console_public_url="https://console.example/")
    assert redirect_uri(settings) == "https://console.example/sign-in/oidc/callback"
    assert discovery_url(ISSUER + "/") == ISSUER + "/.well-known/openid-configuration"
    assert discovery_url(ISSUER) == ISSUER + "/.well-known/openid-configuration"


# --- the attempt's cookie ----------------------------------------------------------------------


def test_a_sealed_attempt_comes_back_as_it_was() -> None:
    pending = _pending()
    assert unseal(seal(pending, KEY), KEY, now=NOW) == pending


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"), id="mac"),
        pytest.param(lambda v: "x" + v, id="body"),
        pytest.param(lambda v: v.split(".")[0], id="no mac"),
        pytest.param(lambda v: v + ".more", id="extra part"),
        pytest.param(lambda v: "", id="empty"),
    ],
)
def test_an_altered_cookie_is_no_attempt(tamper: Any) -> None:
    assert unseal(tamper(seal(_pending(), KEY)), KEY, now=NOW) is None


def test_a_cookie_sealed_with_another_secret_or_too_old_is_no_attempt() -> None:
    value = seal(_pending(), KEY)
    assert unseal(value, seal_key("another secret"), now=NOW) is None
    assert unseal(value, KEY, now=NOW + PENDING_MAX_AGE_S) is None
    assert unseal(None, KEY, now=NOW) is None


def test_a_signed_body_that_is_not_an_attempt_is_none() -> None:
    body = base64.urlsafe_b64encode(b'{"state": 1}').rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(hmac.new(KEY, body.encode(), hashlib.sha256).digest())
    assert unseal(f"{body}.{mac.rstrip(b'=').decode()}", KEY, now=NOW) is None


def test_each_attempt_has_a_cookie_of_its_own() -> None:
    assert pending_cookie_name("one").startswith("jiban_oidc_")
    assert pending_cookie_name("one") != pending_cookie_name("two")
    assert pending_cookie_name("one") == pending_cookie_name("one")


# --- the callback ------------------------------------------------------------------------------


def test_the_callback_of_this_attempt_gives_its_code() -> None:
    pending = _pending()
    params = CallbackParams(code="the-code", state="the-state", iss=ISSUER)
    assert check_callback(params, pending, issuer=ISSUER) == ("the-code", pending)
    assert check_callback(CallbackParams(code="c", state="the-state"), pending, issuer=ISSUER)[0]


@pytest.mark.parametrize(
    ("params", "pending", "refusal"),
    [
        (CallbackParams(code="c", state="another-state"), _pending(), Refusal.STATE),
        (CallbackParams(code="c"), _pending(), Refusal.STATE),
        (CallbackParams(code="c", state="the-state"), None, Refusal.STATE),
        (CallbackParams(error="access_denied", state="the-state"), _pending(), Refusal.DENIED),
        (CallbackParams(error="access_denied"), None, Refusal.DENIED),
        (
            CallbackParams(error="server_error", state="the-state"),
            _pending(),
            Refusal.PROVIDER_ERROR,
        ),
        (CallbackParams(state="the-state"), _pending(), Refusal.PROVIDER_ERROR),
        (
            CallbackParams(code="c", state="the-state", iss="https://evil.example"),
            _pending(),
            Refusal.PROVIDER_ERROR,
        ),
    ],
    ids=[
        "tampered state",
        "no state",
        "no attempt in this browser",
        "denied",
        "denied, no state",
        "provider error",
        "no code",
        "another issuer (mix-up)",
    ],
)
def test_a_callback_that_is_not_this_attempts_is_refused(
    params: CallbackParams, pending: PendingSignIn | None, refusal: Refusal
) -> None:
    with pytest.raises(SignInRefused) as refused:
        check_callback(params, pending, issuer=ISSUER)
    assert refused.value.refusal is refusal


def test_an_oversized_callback_parameter_is_refused_by_its_model() -> None:
    with pytest.raises(ValidationError):
        CallbackParams(state="s" * 513)


def test_every_refusal_has_a_status() -> None:
    assert {r: r.status_code for r in Refusal} == {
        Refusal.STATE: 400,
        Refusal.DENIED: 403,
        Refusal.PROVIDER_ERROR: 502,
        Refusal.UNAVAILABLE: 503,
        Refusal.BAD_TOKEN: 502,
        Refusal.NO_ROLES: 403,
        Refusal.OFF: 404,
    }


# --- the ID token ------------------------------------------------------------------------------


def _id_token(
    *, key: Any = RSA_KEY, alg: str = "RS256", kid: str | None = "k1", **claims: Any
) -> str:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "officer-7",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=30)).timestamp()),
        "nonce": "the-nonce",
        "name": "王小明",
        "roles": ["officer", "supervisor"],
        "unit": "大旺社区",
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def _claims(token: str, key: Any = None, nonce: str = "the-nonce") -> dict[str, Any]:
    return id_token_claims(
        token, key or RSA_KEY.public_key(), issuer=ISSUER, client_id=CLIENT, nonce=nonce
    )


def test_a_good_id_token_gives_its_claims_and_names_its_key() -> None:
    token = _id_token()
    assert id_token_kid(token) == "k1"
    claims = _claims(token)
    assert claims["sub"] == "officer-7"
    assert claims["roles"] == ["officer", "supervisor"]


def test_several_audiences_need_this_client_as_the_authorised_party() -> None:
    assert _claims(_id_token(aud=[CLIENT, "other"], azp=CLIENT))["azp"] == CLIENT
    with pytest.raises(SignInRefused):
        _claims(_id_token(aud=[CLIENT, "other"]))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_id_token(aud="another-client"), id="another audience"),
        pytest.param(_id_token(iss="https://evil.example"), id="another issuer"),
        pytest.param(_id_token(exp=int(datetime.now(UTC).timestamp()) - 120), id="expired"),
        pytest.param(_id_token(nonce="another-nonce"), id="another nonce"),
        pytest.param(_id_token(nonce=None), id="no nonce"),
        pytest.param(_id_token(iat=None), id="no iat"),
        pytest.param(_id_token(key=OTHER_RSA_KEY), id="signed with another key"),
        pytest.param(
            _id_token(key="a-shared-secret-of-at-least-32-bytes!!", alg="HS256"), id="HS256"
        ),
    ],
)
def test_an_id_token_that_does_not_prove_this_sign_in_is_refused(token: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        _claims(token)
    assert refused.value.refusal is Refusal.BAD_TOKEN


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not a token", id="garbled"),
        pytest.param(
            _id_token(key="a-shared-secret-of-at-least-32-bytes!!", alg="HS256"), id="HS256"
        ),
    ],
)
def test_an_id_token_without_a_usable_key_id_is_refused(token: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        id_token_kid(token)
    assert refused.value.refusal is Refusal.BAD_TOKEN


def test_an_id_token_naming_no_key_is_for_the_providers_only_key() -> None:
    assert id_token_kid(_id_token(kid=None)) is None


# --- who signed in -----------------------------------------------------------------------------


def test_the_person_is_read_as_the_services_read_a_token() -> None:
    claims = _claims(_id_token(roles=["officer", "other-application-admin"]))
    person = person_of(claims)
    assert person.subject == "officer-7"
    assert person.name == "王小明"
    assert person.roles == frozenset({Role.OFFICER})  # another application's role grants nothing
    assert person.unit == "大旺社区"
    assert person.expires_at == datetime.fromtimestamp(claims["exp"], UTC)


def test_without_a_name_the_person_is_shown_by_username_then_subject() -> None:
    base = _claims(_id_token())
    assert person_of({**base, "name": None, "preferred_username": "wxm"}).name == "wxm"
    assert person_of({k: v for k, v in base.items() if k != "name"}).name == "officer-7"
    assert person_of({**base, "unit": None}).unit is None


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"roles": []}, id="no roles"),
        pytest.param({"roles": ["another-application"]}, id="only others' roles"),
        pytest.param({"roles": "officer"}, id="roles not a list"),
        pytest.param({"roles": None}, id="roles missing"),
        pytest.param({"unit": 7}, id="unit not a string"),
    ],
)
def test_a_token_without_a_role_of_jibans_signs_no_one_in(changes: dict[str, Any]) -> None:
    claims = {**_claims(_id_token()), **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    with pytest.raises(SignInRefused) as refused:
        person_of(claims)
    assert refused.value.refusal is Refusal.NO_ROLES


# --- signing out -------------------------------------------------------------------------------


def test_signing_out_ends_the_providers_session_where_it_offers_to() -> None:
    url = end_session_url(
        METADATA, id_token="the.id.token", client_id=CLIENT, after="https://console/sign-in"
    )
    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == METADATA.end_session_endpoint
    assert parse_qs(parts.query) == {
        "id_token_hint": ["the.id.token"],
        "client_id": [CLIENT],
        "post_logout_redirect_uri": ["https://console/sign-in"],
    }
    without = METADATA.model_copy(update={"end_session_endpoint": None})
    assert end_session_url(without, id_token="t", client_id=CLIENT, after="/") is None


def test_only_a_token_of_the_provider_has_a_provider_session() -> None:
    assert issued_by(_id_token(), ISSUER)
    assert not issued_by(_id_token(iss="https://elsewhere"), ISSUER)
    assert not issued_by("garbled", ISSUER)


# --- the settings ------------------------------------------------------------------------------


def test_an_issuer_needs_the_clients_id_and_secret() -> None:
    with pytest.raises(ValidationError, match="JIBAN_OIDC_CLIENT_ID"):
        Settings(oidc_issuer=ISSUER)
    with pytest.raises(ValidationError):
        Settings(oidc_issuer=ISSUER, oidc_client_id=CLIENT)
    settings = Settings(oidc_issuer=ISSUER, oidc_client_id=CLIENT, oidc_client_secret="s")
    assert settings.oidc_issuer == ISSUER


def test_blank_oidc_settings_are_unset() -> None:
    settings = Settings(oidc_issuer="", oidc_client_id="", oidc_client_secret="")
    assert settings.oidc_issuer is None
    assert settings.oidc_client_secret is None


# --- talking to the provider (over httpx's mock transport: no network) -------------------------


class FakeProvider:
    """The provider's three endpoints as a handler for httpx.MockTransport."""

    def __init__(self) -> None:
        self.discovery: dict[str, Any] = METADATA.model_dump()
        self.token_status = 200
        self.token_body: dict[str, Any] = {}
        self.down = False
        self.token_requests: list[httpx.Request] = []

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
        return {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        url = str(request.url)
        if url == discovery_url(ISSUER):
            return httpx.Response(200, json=self.discovery)
        if url == METADATA.jwks_uri:
            return httpx.Response(200, json=self.jwks())
        if url == METADATA.token_endpoint:
            self.token_requests.append(request)
            return httpx.Response(self.token_status, json=self.token_body)
        return httpx.Response(404)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def provider(fake: FakeProvider) -> Provider:
    settings = Settings(
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT,
        oidc_client_secret="the client secret",
        console_public_url="https://console.example",
    )
    return Provider(settings, transport=httpx.MockTransport(fake))


async def test_the_code_is_exchanged_for_a_proven_person(
    fake: FakeProvider, provider: Provider
) -> None:
    token = _id_token()
    fake.token_body = {"access_token": "opaque", "token_type": "Bearer", "id_token": token}
    pending = _pending()
    assert await provider.exchange("the-code", pending) == token
    sent = fake.token_requests[0]
    assert parse_qs(sent.content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://console.example/sign-in/oidc/callback"],
        "code_verifier": [pending.code_verifier],
    }
    basic = base64.b64encode(f"{CLIENT}:the client secret".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {basic}"
    person = await provider.person(token, pending)
    assert (person.subject, person.unit) == ("officer-7", "大旺社区")


@pytest.mark.parametrize(
    ("status", "body", "refusal"),
    [
        (400, {"error": "invalid_grant"}, Refusal.PROVIDER_ERROR),
        (200, {"access_token": "opaque", "token_type": "Bearer"}, Refusal.PROVIDER_ERROR),
        (503, {}, Refusal.UNAVAILABLE),
    ],
    ids=["code refused", "no id_token", "provider failing"],
)
async def test_a_failed_exchange_is_a_refusal(
    fake: FakeProvider, provider: Provider, status: int, body: dict[str, Any], refusal: Refusal
) -> None:
    fake.token_status, fake.token_body = status, body
    with pytest.raises(SignInRefused) as refused:
        await provider.exchange("the-code", _pending())
    assert refused.value.refusal is refusal


async def test_a_provider_that_does_not_answer_is_unavailable(
    fake: FakeProvider, provider: Provider
) -> None:
    fake.down = True
    with pytest.raises(SignInRefused) as refused:
        await provider.metadata()
    assert refused.value.refusal is Refusal.UNAVAILABLE


async def test_a_discovery_document_naming_another_issuer_is_refused(
    fake: FakeProvider, provider: Provider
) -> None:
    fake.discovery = {**fake.discovery, "issuer": "https://evil.example"}
    with pytest.raises(SignInRefused) as refused:
        await provider.metadata()
    assert refused.value.refusal is Refusal.PROVIDER_ERROR


async def test_an_id_token_signed_by_an_unpublished_key_is_refused(provider: Provider) -> None:
    with pytest.raises(SignInRefused) as refused:
        await provider.person(_id_token(kid="unpublished"), _pending())
    assert refused.value.refusal is Refusal.BAD_TOKEN
