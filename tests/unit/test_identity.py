"""Sign-in tokens: HS256 and RS256 (JWKS from a real local HTTP server), the FastAPI dependencies
on a small app, and who may read an officer's things."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, Request

from shared.identity import (
    DEV_JWT_SECRET,
    IdentityNotConfigured,
    InvalidToken,
    JwksCache,
    JwksUnavailable,
    Principal,
    Role,
    TokenVerifier,
    authenticated,
    can_read_officer,
    forbidden,
    install_identity,
    issue_dev_token,
    require_roles,
    verifier_from,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def hs_verifier(**kwargs: Any) -> TokenVerifier:
    return TokenVerifier(secret=SECRET, **kwargs)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token put together by hand, as an attacker would (PyJWT refuses to make these)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


def seconds_from_now(seconds: int) -> int:
    return int(datetime.now(UTC).timestamp()) + seconds


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "cso-1",
        "roles": ["officer"],
        "unit": "首席服务官办公室",
        "aud": "jiban",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


# --- HS256 ------------------------------------------------------------------------------------


async def test_a_good_token_gives_its_principal() -> None:
    token = issue_dev_token(
        SECRET, sub="sup-1", roles=[Role.OFFICER, Role.SUPERVISOR], unit="党群工作部"
    )
    principal = await hs_verifier().verify(token)
    assert principal == Principal(
        sub="sup-1", roles=frozenset({Role.OFFICER, Role.SUPERVISOR}), unit="党群工作部"
    )


async def test_an_ops_token_has_no_unit() -> None:
    principal = await hs_verifier().verify(issue_dev_token(SECRET, sub="ops", roles=["ops"]))
    assert principal.roles == {Role.OPS}
    assert principal.unit is None


@pytest.mark.parametrize(
    ("token_claims", "kind", "words"),
    [
        (lambda: claims(exp=seconds_from_now(-120)), "expired_token", "expired"),
        (lambda: claims(aud="another-app"), "invalid_token", "audience"),
        (lambda: claims(sub=...), "invalid_token", "`sub`"),
        (lambda: claims(exp=...), "invalid_token", "`exp`"),
        (lambda: claims(aud=...), "invalid_token", "`aud`"),
        (lambda: claims(roles=...), "invalid_token", "`roles`"),
        (lambda: claims(roles="officer"), "invalid_token", "list of strings"),
        (lambda: claims(sub=""), "invalid_token", "`sub`"),
        (lambda: claims(unit=7), "invalid_token", "unit"),
        (lambda: claims(iat=seconds_from_now(3600)), "invalid_token", "not valid"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "no-sub",
        "no-exp",
        "no-aud",
        "no-roles",
        "roles-not-a-list",
        "empty-sub",
        "unit-not-a-string",
        "issued-in-the-future",
    ],
)
async def test_bad_claims_are_refused(
    token_claims: Callable[[], dict[str, Any]], kind: str, words: str
) -> None:
    # Claims are made when the test runs, not when it is collected: a long suite outlives `exp`.
    token = jwt.encode(token_claims(), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken) as refused:
        await hs_verifier().verify(token)
    assert refused.value.kind == kind
    assert words in refused.value.msg


async def test_expiry_has_a_small_leeway_for_clock_skew() -> None:
    just_expired = claims(exp=int(datetime.now(UTC).timestamp()) - 5)
    token = jwt.encode(just_expired, SECRET, algorithm="HS256")
    assert (await hs_verifier(leeway_s=30).verify(token)).sub == "cso-1"
    with pytest.raises(InvalidToken, match="expired"):
        await hs_verifier(leeway_s=0).verify(token)


async def test_a_configured_issuer_is_required_and_checked() -> None:
    verifier = hs_verifier(issuer="https://idp.example")
    good = jwt.encode(claims(iss="https://idp.example"), SECRET, algorithm="HS256")
    assert (await verifier.verify(good)).sub == "cso-1"
    for bad in (claims(iss="https://evil.example"), claims()):
        with pytest.raises(InvalidToken):
            await verifier.verify(jwt.encode(bad, SECRET, algorithm="HS256"))


async def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_dev_token("another-secret-also-long-enough-to-be-used", sub="x", roles=["ops"])
    with pytest.raises(InvalidToken, match="signature"):
        await hs_verifier().verify(token)


async def test_a_tampered_token_is_refused() -> None:
    token = issue_dev_token(SECRET, sub="cso-1", roles=["officer"])
    header, _payload, signature = token.split(".")
    forged = b64(json.dumps(claims(roles=["ops"])).encode())
    with pytest.raises(InvalidToken, match="signature"):
        await hs_verifier().verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(alg: str) -> None:
    token = hand_signed({"alg": alg, "typ": "JWT"}, claims(roles=["ops"]), key=None)
    with pytest.raises(InvalidToken, match="not accepted"):
        await hs_verifier().verify(token)


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS256", "ES256"])
async def test_algorithms_not_configured_are_refused(alg: str) -> None:
    token = hand_signed({"alg": alg, "typ": "JWT"}, claims(), key=SECRET.encode())
    with pytest.raises(InvalidToken, match="not accepted"):
        await hs_verifier().verify(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
async def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await hs_verifier().verify(garbage)


async def test_unknown_roles_are_ignored_not_granted() -> None:
    token = jwt.encode(claims(roles=["officer", "admin", "hr-manager"]), SECRET, algorithm="HS256")
    principal = await hs_verifier().verify(token)
    assert principal.roles == {Role.OFFICER}
    only_unknown = jwt.encode(claims(roles=["admin"]), SECRET, algorithm="HS256")
    assert (await hs_verifier().verify(only_unknown)).roles == frozenset()


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(IdentityNotConfigured, match="32 bytes"):
        TokenVerifier(secret="short")


# --- verifier_from ----------------------------------------------------------------------------


async def test_dev_mode_without_a_secret_uses_the_documented_dev_secret() -> None:
    verifier = verifier_from(dev_mode=True, secret=None, jwks_url=None)
    token = issue_dev_token(DEV_JWT_SECRET, sub="ops", roles=["ops"])
    assert (await verifier.verify(token)).sub == "ops"


def test_outside_dev_mode_no_configuration_refuses_to_start() -> None:
    with pytest.raises(IdentityNotConfigured, match="JIBAN_JWT_JWKS_URL"):
        verifier_from(dev_mode=False, secret=None, jwks_url=None)


def test_outside_dev_mode_the_dev_secret_refuses_to_start() -> None:
    with pytest.raises(IdentityNotConfigured, match="development secret"):
        verifier_from(dev_mode=False, secret=DEV_JWT_SECRET, jwks_url=None)


async def test_outside_dev_mode_a_secret_of_ones_own_works() -> None:
    verifier = verifier_from(dev_mode=False, secret=SECRET, jwks_url=None, audience="zone")
    token = issue_dev_token(SECRET, sub="ops", roles=["ops"], audience="zone")
    assert (await verifier.verify(token)).sub == "ops"
    assert verifier.algorithms == ("HS256",)


async def test_jwks_only_accepts_no_hs256_not_even_signed_with_the_public_key(jwks) -> None:
    verifier = verifier_from(dev_mode=False, secret=None, jwks_url=jwks.url)
    assert verifier.algorithms == ("RS256",)
    public_pem = (
        jwks.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for key in (public_pem, DEV_JWT_SECRET.encode()):
        token = hand_signed({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims(), key=key)
        with pytest.raises(InvalidToken, match="not accepted"):
            await verifier.verify(token)
    assert jwks.requests == 0  # refused before any key was looked up
    await verifier.aclose()


# --- RS256 with a JWKS from a real HTTP server ------------------------------------------------


class JwksServer:
    """Serves `keys` (public parts) as a JWK set on localhost and counts the requests."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.extra: list[dict[str, Any]] = []
        self.requests = 0
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(server.document()).encode()
                self.send_response(server.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def document(self) -> dict[str, Any]:
        keys = []
        for kid, private in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys + self.extra}

    def sign(self, kid: str, token_claims: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            token_claims or claims(), self.keys[kid], algorithm="RS256", headers={"kid": kid}
        )


_RSA_KEYS: list[rsa.RSAPrivateKey] = []


def rsa_key(n: int) -> rsa.RSAPrivateKey:
    # Generating RSA keys is the slow part of these tests: a few for the whole module.
    while len(_RSA_KEYS) <= n:
        _RSA_KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _RSA_KEYS[n]


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.keys["k1"] = rsa_key(0)
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rs_verifier(server: JwksServer, clock: Clock, **cache: Any) -> TokenVerifier:
    return TokenVerifier(jwks=JwksCache(server.url, clock=clock, **cache))


async def test_rs256_token_verifies_against_the_jwks(jwks: JwksServer) -> None:
    verifier = rs_verifier(jwks, Clock())
    principal = await verifier.verify(jwks.sign("k1", claims(roles=["officer", "dispatcher"])))
    assert principal.roles == {Role.OFFICER, Role.DISPATCHER}
    assert jwks.requests == 1
    await verifier.aclose()


async def test_rs256_signed_by_a_key_not_in_the_jwks_is_refused(jwks: JwksServer) -> None:
    verifier = rs_verifier(jwks, Clock())
    impostor = jwt.encode(claims(), rsa_key(1), algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify(impostor)
    await verifier.aclose()


async def test_a_token_without_kid_is_checked_against_the_providers_only_key(
    jwks: JwksServer,
) -> None:
    clock = Clock()
    verifier = rs_verifier(jwks, clock, ttl_s=300)
    no_kid = jwt.encode(claims(), rsa_key(0), algorithm="RS256")
    assert (await verifier.verify(no_kid)).sub == claims()["sub"]
    impostor = jwt.encode(claims(), rsa_key(1), algorithm="RS256")
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify(impostor)
    # With two keys published, which one signed is for `kid` to say.
    jwks.keys["k2"] = rsa_key(1)
    clock.now += 301
    with pytest.raises(InvalidToken, match="kid"):
        await verifier.verify(no_kid)
    await verifier.aclose()


async def test_the_jwks_is_cached_for_its_ttl(jwks: JwksServer) -> None:
    clock = Clock()
    verifier = rs_verifier(jwks, clock, ttl_s=300)
    token = jwks.sign("k1")
    for _ in range(3):
        await verifier.verify(token)
    clock.now += 299
    await verifier.verify(token)
    assert jwks.requests == 1
    # After the TTL the set is fetched again, so a key the provider withdrew stops working.
    del jwks.keys["k1"]
    jwks.keys["k2"] = rsa_key(1)
    clock.now += 2
    with pytest.raises(InvalidToken, match="no signing key 'k1'"):
        await verifier.verify(token)
    assert jwks.requests == 2
    await verifier.aclose()


async def test_key_rotation_fetches_the_new_kid_once(jwks: JwksServer) -> None:
    clock = Clock()
    verifier = rs_verifier(jwks, clock, ttl_s=300, refetch_cooldown_s=10)
    await verifier.verify(jwks.sign("k1"))
    assert jwks.requests == 1

    jwks.keys["k2"] = rsa_key(1)  # the provider rotates
    clock.now += 10
    assert (await verifier.verify(jwks.sign("k2"))).sub == "cso-1"
    assert jwks.requests == 2
    await verifier.verify(jwks.sign("k2"))
    await verifier.verify(jwks.sign("k1"))
    assert jwks.requests == 2  # both now cached

    # Made-up key ids: one refetch at most per cooldown, not one per request.
    bogus = jwt.encode(claims(), rsa_key(2), algorithm="RS256", headers={"kid": "nope"})
    for _ in range(5):
        with pytest.raises(InvalidToken, match="no signing key"):
            await verifier.verify(bogus)
    assert jwks.requests == 2
    clock.now += 10
    with pytest.raises(InvalidToken, match="no signing key"):
        await verifier.verify(bogus)
    assert jwks.requests == 3
    await verifier.aclose()


async def test_unusable_jwks_entries_are_skipped(jwks: JwksServer) -> None:
    # A symmetric key in the set must never become an HS256 key, whatever its kid.
    jwks.extra = [
        {"kty": "oct", "kid": "sym", "k": b64(SECRET.encode()), "alg": "HS256"},
        {**jwks.document()["keys"][0], "kid": "enc", "use": "enc"},
        {"kty": "RSA", "kid": "broken", "n": "AQAB"},
    ]
    verifier = rs_verifier(jwks, Clock())
    assert (await verifier.verify(jwks.sign("k1"))).sub == "cso-1"
    forged = hand_signed({"alg": "HS256", "kid": "sym"}, claims(), key=SECRET.encode())
    with pytest.raises(InvalidToken, match="not accepted"):
        await verifier.verify(forged)
    enc_signed = jwt.encode(claims(), rsa_key(0), algorithm="RS256", headers={"kid": "enc"})
    with pytest.raises(InvalidToken, match="no signing key 'enc'"):
        await verifier.verify(enc_signed)
    await verifier.aclose()


async def test_an_unreachable_provider_keeps_the_cached_keys(jwks: JwksServer) -> None:
    clock = Clock()
    verifier = rs_verifier(jwks, clock, ttl_s=60, refetch_cooldown_s=10)
    token = jwks.sign("k1")
    await verifier.verify(token)
    jwks.status = 500
    clock.now += 61
    assert (await verifier.verify(token)).sub == "cso-1"  # stale keys rather than nobody in
    assert jwks.requests == 2
    await verifier.verify(token)
    assert jwks.requests == 2  # retried after the cooldown, not per request
    await verifier.aclose()


async def test_no_keys_and_no_provider_is_unavailable_not_unauthorised(jwks: JwksServer) -> None:
    jwks.status = 503
    clock = Clock()
    verifier = rs_verifier(jwks, clock, refetch_cooldown_s=10)
    token = jwks.sign("k1")
    with pytest.raises(JwksUnavailable):
        await verifier.verify(token)
    with pytest.raises(JwksUnavailable):
        await verifier.verify(token)
    assert jwks.requests == 1
    jwks.status = 200
    clock.now += 10
    assert (await verifier.verify(token)).sub == "cso-1"
    await verifier.aclose()


# --- FastAPI dependencies ---------------------------------------------------------------------


def small_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_identity(app, verifier)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/me")
    async def me(principal: Principal = Depends(authenticated())) -> dict[str, Any]:
        return {"sub": principal.sub, "roles": sorted(principal.roles)}

    @app.get("/officers/{officer_id}")
    async def officer(
        officer_id: str, request: Request, principal: Principal = Depends(authenticated())
    ) -> dict[str, str]:
        # A route's own check on a valid principal, refused like require_roles refuses.
        if principal.sub != officer_id:
            raise forbidden(request, "only the officer themself")
        return {"sub": principal.sub}

    @app.get("/units/{unit}/queue")
    async def unit_queue(
        principal: Principal = Depends(require_roles(Role.SUPERVISOR, Role.OPS)),
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=small_app(hs_verifier()))
    async with httpx.AsyncClient(transport=transport, base_url="http://jiban") as c:
        yield c


def bearer(*roles: str, sub: str = "cso-1", secret: str = SECRET) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_dev_token(secret, sub=sub, roles=roles)}"}


async def test_health_stays_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, "missing_token"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, "missing_token"),
        ({"authorization": "Bearer not-a-jwt"}, "malformed_token"),
        (bearer("officer", secret="another-secret-also-long-enough-to-be-used"), "invalid_token"),
    ],
    ids=["no-header", "basic", "not-a-jwt", "wrong-signature"],
)
async def test_401_without_a_valid_token(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str
) -> None:
    for path in ("/me", "/units/x/queue"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        [detail] = response.json()["detail"]
        assert detail["loc"] == ["header", "Authorization"]
        assert detail["type"] == kind
        assert detail["msg"]


async def test_403_with_the_wrong_role(client: httpx.AsyncClient) -> None:
    response = await client.get("/units/x/queue", headers=bearer("officer", "dispatcher"))
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert response.json() == {
        "detail": [
            {
                "loc": ["header", "Authorization"],
                "msg": "needs one of the roles: ops, supervisor",
                "type": "forbidden",
            }
        ]
    }


async def test_a_routes_own_refusal_is_shaped_like_the_role_check(
    client: httpx.AsyncClient,
) -> None:
    mine = await client.get("/officers/cso-1", headers=bearer("officer"))
    theirs = await client.get("/officers/cso-2", headers=bearer("officer"))
    anonymous = await client.get("/officers/cso-1")
    assert mine.status_code == 200
    assert theirs.status_code == 403
    assert "www-authenticate" not in theirs.headers
    assert theirs.json() == {
        "detail": [
            {
                "loc": ["header", "Authorization"],
                "msg": "only the officer themself",
                "type": "forbidden",
            }
        ]
    }
    assert anonymous.status_code == 401


@pytest.mark.parametrize("roles", [("officer", "supervisor"), ("ops",)])
async def test_200_with_a_right_role(client: httpx.AsyncClient, roles: tuple[str, ...]) -> None:
    response = await client.get("/units/x/queue", headers=bearer(*roles, sub="sup-1"))
    assert response.status_code == 200
    assert response.json() == {"sub": "sup-1"}


async def test_any_valid_token_is_authenticated(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=bearer("officer"))
    assert response.status_code == 200
    assert response.json() == {"sub": "cso-1", "roles": ["officer"]}


async def test_an_unavailable_provider_answers_503(jwks: JwksServer) -> None:
    jwks.status = 500
    transport = httpx.ASGITransport(app=small_app(rs_verifier(jwks, Clock())))
    async with httpx.AsyncClient(transport=transport, base_url="http://jiban") as c:
        response = await c.get("/me", headers={"authorization": f"Bearer {jwks.sign('k1')}"})
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_a_route_without_an_installed_verifier_fails_closed() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: Principal = Depends(authenticated())) -> str:
        return principal.sub

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://jiban") as c:
        assert (await c.get("/me", headers=bearer("ops"))).status_code == 500


def test_require_roles_refuses_unknown_role_names_at_import() -> None:
    with pytest.raises(ValueError):
        require_roles("admin")
    with pytest.raises(ValueError):
        require_roles()


# --- who may read an officer's things ---------------------------------------------------------

UNIT_A = "社会事务局"
UNIT_B = "党群工作部"


def who(sub: str, *roles: Role, unit: str | None = UNIT_A) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), unit=unit)


@pytest.mark.parametrize(
    ("principal", "officer_id", "officer_unit", "allowed"),
    [
        (who("cw-1", Role.OFFICER), "cw-1", UNIT_A, True),  # themself
        (who("cw-1", Role.OFFICER), "cw-2", UNIT_A, False),  # a colleague
        (who("cw-1", Role.DISPATCHER), "cw-1", UNIT_B, False),  # not an officer's token
        (who("d-1", Role.DISPATCHER), "cw-2", UNIT_A, True),  # a dispatcher of the unit
        (who("d-1", Role.DISPATCHER), "pb-1", UNIT_B, False),  # another unit
        (who("sup-3", Role.OFFICER, Role.SUPERVISOR), "cw-2", UNIT_A, True),  # own unit
        (who("sup-3", Role.OFFICER, Role.SUPERVISOR), "pb-1", UNIT_B, False),  # another unit
        (who("sup-3", Role.SUPERVISOR, unit=None), "cw-2", UNIT_A, False),  # no unit: nobody's
        (who("sup-3", Role.SUPERVISOR), "cw-2", None, False),  # officer's unit unknown
        (who("ops", Role.OPS, unit=None), "cw-2", UNIT_A, True),
        (who("ops", Role.OPS, unit=None), "cw-2", None, True),
        # Supervisors and dispatchers see everything of their unit.
        (who("dept-dispatch-1", Role.OFFICER, Role.DISPATCHER), "cw-2", UNIT_A, True),
        (who("x", unit=UNIT_A), "cw-2", UNIT_A, False),  # no known roles at all
    ],
)
def test_can_read_officer(
    principal: Principal, officer_id: str, officer_unit: str | None, allowed: bool
) -> None:
    assert can_read_officer(principal, officer_id, officer_unit) is allowed
