"""Channel keys against a real Postgres: the key store, the replay record shared by replicas, the
FastAPI dependencies on a small app, the development keys, and `jiban channel-keys`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import select

from jiban import cli
from services.intake import tables
from services.intake.channel_keys import store
from services.intake.channel_keys.dependencies import (
    GuardedRoute,
    Signed,
    SignedForBody,
    WebClient,
    install,
)
from services.intake.channel_keys.keys import (
    ChannelKey,
    Scope,
    SecretCipher,
    cipher_for,
    generate_encryption_key,
)
from services.intake.channel_keys.ratelimit import TokenBucketLimiter
from services.intake.channel_keys.service import (
    AuthConfig,
    ChannelAuth,
    DevKeysInProduction,
    ensure_dev_keys,
    refuse_dev_keys_in_production,
)
from services.intake.channel_keys.worker import SignaturePruner
from shared.client_address import parse_trusted_proxies
from shared.db import Database
from shared.signing import HEADER_SIGNATURE, signature_headers
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Channel

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CIPHER = SecretCipher([generate_encryption_key()])


def units_of(db: Database) -> UnitsOfWork:
    return UnitsOfWork.of(db, tables.metadata, producer="intake")


@asynccontextmanager
async def database(settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def add_key(
    db: Database,
    key_id: str,
    channel: Channel = Channel.HOTLINE_12345,
    scopes: frozenset[Scope] = frozenset({Scope.SUBMIT}),
    secret: str = "secret-of-the-test-key",
) -> None:
    async with db.transaction() as session:
        assert await store.create_key(
            session, CIPHER, key_id=key_id, channel=channel, scopes=scopes, secret=secret, now=T0
        )


# --- the store --------------------------------------------------------------------------------


async def test_keys_are_stored_encrypted_listed_without_secrets_and_revoked(settings):
    async with database(settings) as db:
        await add_key(db, "hotline-a", scopes=frozenset(Scope))
        await add_key(db, "mayor-a", channel=Channel.MAYOR_LINE)
        async with db.transaction() as session:
            taken = await store.create_key(
                session,
                CIPHER,
                key_id="hotline-a",
                channel=Channel.WEB,
                scopes={Scope.SUBMIT},
                secret="other",
                now=T0,
            )
            stored = await session.scalar(
                select(store.channel_keys.c.secret_encrypted).where(
                    store.channel_keys.c.key_id == "hotline-a"
                )
            )
            key = await store.get_key(session, CIPHER, "hotline-a")
            missing = await store.get_key(session, CIPHER, "nope")
            listed = await store.list_keys(session)
        async with db.transaction() as session:
            revoked = await store.revoke_key(session, "mayor-a", now=T0 + timedelta(days=1))
            again = await store.revoke_key(session, "mayor-a", now=T0 + timedelta(days=2))
            unknown = await store.revoke_key(session, "nope", now=T0)
            active = await store.list_keys(session, include_revoked=False)
    assert taken is False
    assert "secret-of-the-test-key" not in stored
    assert key is not None and key.secret.get_secret_value() == "secret-of-the-test-key"
    assert key.channel is Channel.HOTLINE_12345 and key.scopes == frozenset(Scope)
    assert missing is None
    assert [k.key_id for k in listed] == ["hotline-a", "mayor-a"]
    assert not any(hasattr(k, "secret") for k in listed)
    assert revoked is not None and revoked.revoked_at == T0 + timedelta(days=1)
    assert again is not None and again.revoked_at == T0 + timedelta(days=1)  # the first time
    assert unknown is None
    assert [k.key_id for k in active] == ["hotline-a"]


async def test_a_signature_is_accepted_once_across_replicas_and_pruned_after_expiry(settings):
    expires = datetime.now(UTC) + timedelta(minutes=5)
    async with database(settings) as replica_a, database(settings) as replica_b:
        async with replica_a.transaction() as session:
            first = await store.record_signature(session, "k", "a" * 64, expires)
        async with replica_b.transaction() as session:
            second = await store.record_signature(session, "k", "a" * 64, expires)

        async def record(db: Database, signature: str) -> bool:
            async with db.transaction() as session:
                return await store.record_signature(session, "k", signature, expires)

        # The same signature reaching both replicas at once: exactly one accepts it.
        for n in range(5):
            signature = f"{n:064x}"
            outcomes = await asyncio.gather(
                record(replica_a, signature), record(replica_b, signature)
            )
            assert sorted(outcomes) == [False, True]

        async with replica_a.transaction() as session:
            await store.record_signature(session, "k", "b" * 64, datetime.now(UTC) - timedelta(1))
            await store.record_signature(session, "k", "c" * 64, datetime.now(UTC) - timedelta(1))
        async with replica_b.transaction() as session:
            pruned = await store.prune_signatures(session, before=datetime.now(UTC), limit=1)
            pruned += await store.prune_signatures(session, before=datetime.now(UTC))
            left = await store.count_signatures(session)
            replay_still_caught = not await store.record_signature(session, "k", "a" * 64, expires)
    assert (first, second) == (True, False)
    assert pruned == 2
    assert left == 6
    assert replay_still_caught


# --- the dependencies on a small app ----------------------------------------------------------


class Thing(BaseModel):
    channel: str
    text: str


def small_app(db: Database, config: AuthConfig, clock, limiter=None, **auth: Any) -> FastAPI:
    app = FastAPI()
    app.router.route_class = GuardedRoute  # the guards run before the body is validated
    install(app, ChannelAuth(units_of(db), config, clock=clock, limiter=limiter, **auth))

    @app.post("/v1/things", status_code=202)
    async def submit(
        thing: Thing, key: Annotated[ChannelKey, Depends(Signed("submit"))]
    ) -> dict[str, str]:
        return {"key": key.key_id, "text": thing.text}  # the body is still parsed

    @app.post("/v1/things/{thing_id}/follow-ups", status_code=202)
    async def follow_up(
        thing_id: str, key: Annotated[ChannelKey, Depends(Signed(Scope.FOLLOW_UP))]
    ) -> dict[str, str]:
        return {"key": key.key_id, "thing": thing_id}

    @app.post("/v1/appeals", status_code=202)
    async def appeals(
        thing: Thing, key: Annotated[ChannelKey | None, Depends(SignedForBody("submit"))]
    ) -> dict[str, str]:
        return {"key": key.key_id if key else "", "channel": thing.channel}

    @app.post("/v1/web-only", status_code=202)
    async def web_only(client: Annotated[str, Depends(WebClient())]) -> dict[str, str]:
        return {"client": client}

    return app


@asynccontextmanager
async def client_for(app: FastAPI, *, start: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    async with contextlib.AsyncExitStack() as stack:
        if start:  # runs the start-up checks `install` added
            await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


SECRET = "secret-of-the-test-key"
JSON = {"content-type": "application/json"}


def body(channel: str = "hotline_12345", text: str = "积水") -> bytes:
    return json.dumps({"channel": channel, "text": text}, ensure_ascii=False).encode()


def signed_post(
    client: httpx.AsyncClient,
    path: str,
    content: bytes,
    *,
    at: float,
    key_id: str = "hotline-a",
    secret: str = SECRET,
    sign_path: str | None = None,
):
    headers = signature_headers(key_id, secret, "POST", sign_path or path, content, at)
    return client.post(path, content=content, headers={**headers, **JSON})


async def test_signed_requests_through_the_dependencies(settings):
    clock = Clock()
    async with database(settings) as db, database(settings) as other_replica_db:
        await add_key(db, "hotline-a")
        await add_key(db, "revoked-a")
        async with db.transaction() as session:
            await store.revoke_key(session, "revoked-a", now=T0)
        config = AuthConfig(cipher=CIPHER)
        replica = small_app(db, config, clock)
        other_replica = small_app(other_replica_db, config, clock)
        async with client_for(replica) as client, client_for(other_replica) as other:
            good = await signed_post(client, "/v1/things", body(), at=clock.now)
            replayed_here = await signed_post(client, "/v1/things", body(), at=clock.now)
            replayed_elsewhere = await signed_post(other, "/v1/things", body(), at=clock.now)
            resigned = await signed_post(other, "/v1/things", body(), at=clock.now - 1)
            query_ignored = await signed_post(
                client, "/v1/things?trace=1", body(), at=clock.now - 2, sign_path="/v1/things"
            )
            unsigned = await client.post("/v1/things", content=body())
            # The guard runs before FastAPI parses the body: 401, not the JSON error's 422.
            unsigned_not_json = await client.post("/v1/things", content=b"{not", headers=JSON)
            tampered_headers = signature_headers(
                "hotline-a", SECRET, "POST", "/v1/things", body(), clock.now - 3
            )
            tampered = await client.post(
                "/v1/things", content=body(text="改过"), headers=tampered_headers
            )
            wrong_secret = await signed_post(
                client, "/v1/things", body(), at=clock.now - 4, secret="guess"
            )
            stale = await signed_post(client, "/v1/things", body(), at=clock.now - 301)
            unknown = await signed_post(
                client, "/v1/things", body(), at=clock.now - 5, key_id="nobody"
            )
            revoked = await signed_post(
                client, "/v1/things", body(), at=clock.now - 6, key_id="revoked-a"
            )
            wrong_scope = await signed_post(
                client, "/v1/things/t1/follow-ups", b"", at=clock.now - 7
            )
            invalid_body = await signed_post(client, "/v1/things", b"{}", at=clock.now - 8)
        async with db.transaction() as session:
            recorded = await store.count_signatures(session)

    assert good.status_code == 202, good.text
    assert good.json() == {"key": "hotline-a", "text": "积水"}
    for response, kind in [
        (replayed_here, "replayed"),
        (replayed_elsewhere, "replayed"),
        (unsigned, "missing_header"),
        (unsigned_not_json, "missing_header"),
        (tampered, "signature_mismatch"),
        (wrong_secret, "signature_mismatch"),
        (stale, "stale_timestamp"),
        (unknown, "unknown_key"),
        (revoked, "revoked_key"),
    ]:
        assert response.status_code == 401, (kind, response.text)
        assert response.headers["www-authenticate"] == "Jiban-HMAC-SHA256"
        [error] = response.json()["detail"]
        assert error["type"] == kind
        assert error["loc"][0] == "header" and error["msg"]
    assert replayed_elsewhere.json()["detail"][0]["loc"] == ["header", HEADER_SIGNATURE]
    assert resigned.status_code == 202  # a retry signed afresh goes through
    assert query_ignored.status_code == 202
    assert wrong_scope.status_code == 403
    assert wrong_scope.json()["detail"][0]["type"] == "wrong_scope"
    # Authenticated, then validated as usual.
    assert invalid_body.status_code == 422
    # good, resigned, query_ignored, invalid_body: refused requests leave no record.
    assert recorded == 4


async def test_a_key_is_read_once_per_cache_time_and_a_revoked_one_stops_within_it(settings):
    clock, monotonic = Clock(), Clock()
    async with database(settings) as db:
        await add_key(db, "hotline-a")
        app = small_app(db, AuthConfig(cipher=CIPHER), clock, key_cache_s=5, monotonic=monotonic)
        async with client_for(app) as client:
            before = await signed_post(client, "/v1/things", body(), at=clock.now)
            async with db.transaction() as session:
                await store.revoke_key(session, "hotline-a", now=T0)
            monotonic.now += 4.9
            cached = await signed_post(client, "/v1/things", body(), at=clock.now - 1)
            replayed = await signed_post(client, "/v1/things", body(), at=clock.now - 1)
            monotonic.now += 0.1
            revoked = await signed_post(client, "/v1/things", body(), at=clock.now - 2)
    assert before.status_code == cached.status_code == 202
    # The replay record is never cached: it is the database's, shared by every replica.
    assert replayed.status_code == 401 and replayed.json()["detail"][0]["type"] == "replayed"
    assert revoked.status_code == 401 and revoked.json()["detail"][0]["type"] == "revoked_key"


async def test_the_replay_record_commits_alone_and_leaves_no_connection_autocommitting(settings):
    """The guard's one statement runs without a transaction around it; the connection it used
    goes back to the pool transactional: a unit of work on it still rolls back."""
    clock = Clock()
    async with database(settings.model_copy(update={"db_pool_size": 1})) as db:
        await add_key(db, "hotline-a")
        app = small_app(db, AuthConfig(cipher=CIPHER), clock)
        async with client_for(app) as client:
            good = await signed_post(client, "/v1/things", body(), at=clock.now)
        with pytest.raises(RuntimeError):
            async with units_of(db).begin() as uow:
                await store.record_signature(uow.session, "k", "f" * 64, T0)
                raise RuntimeError("roll it back")
        async with db.transaction() as session:
            recorded = await store.count_signatures(session)
    assert good.status_code == 202
    assert recorded == 1


async def test_submitter_needs_a_signature_of_the_bodys_channel(settings):
    clock = Clock()
    limiter_clock = Clock()
    async with database(settings) as db:
        await add_key(db, "hotline-a")
        await add_key(db, "web-a", channel=Channel.WEB)
        config = AuthConfig(cipher=CIPHER)
        # A burst of one: the unsigned attempts must not use it up.
        limiter = TokenBucketLimiter(per_minute=6, burst=1, clock=limiter_clock)
        app = small_app(db, config, clock, limiter=limiter)
        async with client_for(app) as client:
            hotline = await signed_post(client, "/v1/appeals", body(), at=clock.now)
            other_channel = await signed_post(
                client, "/v1/appeals", body("mayor_line"), at=clock.now - 1
            )
            web = await signed_post(
                client, "/v1/appeals", body("web"), at=clock.now - 2, key_id="web-a"
            )
            unsigned_hotline = await client.post("/v1/appeals", content=body(), headers=JSON)
            unsigned_web = await client.post("/v1/appeals", content=body("web"), headers=JSON)
            web_only = await client.post("/v1/web-only")
            web_only_limited = await client.post("/v1/web-only")
            # Ignored: the peer is not a trusted proxy.
            other_client = await client.post(
                "/v1/web-only", headers={"x-forwarded-for": "198.51.100.1"}
            )
            limiter_clock.now += 10
            web_only_again = await client.post("/v1/web-only")
    assert hotline.status_code == 202
    assert hotline.json() == {"key": "hotline-a", "channel": "hotline_12345"}
    assert other_channel.status_code == 403
    assert other_channel.json()["detail"][0] == {
        "loc": ["body", "channel"],
        "msg": other_channel.json()["detail"][0]["msg"],
        "type": "wrong_channel",
    }
    assert web.status_code == 202 and web.json() == {"key": "web-a", "channel": "web"}
    # Unsigned is refused for every channel, the web one included, and is not rate-limited.
    for refused in (unsigned_hotline, unsigned_web):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Jiban-HMAC-SHA256"
        [error] = refused.json()["detail"]
        assert error["loc"] == ["header", "X-Jiban-Key"] and error["type"] == "missing_header"
        assert "/v1/channels/web/appeals" in error["msg"]
    assert web_only.status_code == 202 and web_only.json() == {"client": "203.0.113.9"}
    assert web_only_limited.status_code == 429
    assert web_only_limited.headers["retry-after"] == "10"
    assert web_only_limited.json()["detail"][0]["type"] == "rate_limited"
    assert other_client.status_code == 429
    assert web_only_again.status_code == 202


async def test_trusted_proxy_forwarded_for_gives_each_client_its_own_bucket(settings):
    async with database(settings) as db:
        config = AuthConfig(
            cipher=CIPHER,
            web_per_minute=1,
            web_burst=1,
            trusted_proxies=parse_trusted_proxies("203.0.113.0/24"),
        )
        app = small_app(db, config, Clock())
        async with client_for(app) as client:
            a = await client.post("/v1/web-only", headers={"x-forwarded-for": "198.51.100.1"})
            a_again = await client.post("/v1/web-only", headers={"x-forwarded-for": "198.51.100.1"})
            b = await client.post("/v1/web-only", headers={"x-forwarded-for": "198.51.100.2"})
    assert a.status_code == 202 and a.json() == {"client": "198.51.100.1"}
    assert a_again.status_code == 429
    assert b.status_code == 202 and b.json() == {"client": "198.51.100.2"}


# --- development keys -------------------------------------------------------------------------


async def test_dev_keys_are_made_in_dev_mode_and_refused_in_production(settings):
    dev_cipher = cipher_for(None, dev_mode=True)
    async with database(settings) as db:
        await refuse_dev_keys_in_production(units_of(db), dev_mode=False)  # none yet: fine
        # Dev mode: intake's start-up makes them, and they sign like any key.
        clock = Clock()
        app = small_app(db, AuthConfig(cipher=dev_cipher, dev_mode=True), clock)
        async with client_for(app) as client:
            dev_signed = await signed_post(
                client,
                "/v1/things",
                body("web"),
                at=clock.now,
                key_id="dev-web",
                secret="dev-secret-web",
            )
        assert sorted(await ensure_dev_keys(units_of(db), dev_cipher)) == sorted(
            f"dev-{c.value}" for c in Channel
        )
        async with db.transaction() as session:
            keys = {k.key_id: k for k in await store.list_keys(session)}
            hotline = await store.get_key(session, dev_cipher, "dev-hotline_12345")
        with pytest.raises(DevKeysInProduction, match="dev-cso_visit"):
            await refuse_dev_keys_in_production(units_of(db), dev_mode=False)
        await refuse_dev_keys_in_production(units_of(db), dev_mode=True)

        # Production start-up refuses; in production a dev key does not authenticate.
        prod_config = AuthConfig(cipher=dev_cipher, dev_mode=False)
        prod_app = small_app(db, prod_config, clock)
        with pytest.raises(DevKeysInProduction):
            async with client_for(prod_app):
                pass
        async with client_for(prod_app, start=False) as client:
            refused = await signed_post(
                client,
                "/v1/things",
                body("web"),
                at=clock.now - 1,
                key_id="dev-web",
                secret="dev-secret-web",
            )

        # Revoking them all lets production start.
        async with db.transaction() as session:
            for key_id in keys:
                await store.revoke_key(session, key_id, now=T0)
        await refuse_dev_keys_in_production(units_of(db), dev_mode=False)
    assert dev_signed.status_code == 202, dev_signed.text
    assert set(keys) == {f"dev-{c.value}" for c in Channel}
    assert all(k.scopes == frozenset(Scope) for k in keys.values())
    assert hotline is not None and hotline.secret.get_secret_value() == "dev-secret-hotline_12345"
    assert refused.status_code == 401
    assert refused.json()["detail"][0]["type"] == "unknown_key"


# --- jiban channel-keys -----------------------------------------------------------------------


async def test_cli_create_list_revoke(settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JIBAN_DEV_MODE", "1")  # the dev encryption key (no key configured here)

    async def jiban(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(cli.main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, created, _ = await jiban(
        "channel-keys", "create", "--channel", "hotline_12345", "--scopes", "submit,follow_up"
    )
    assert code == 0
    fields = dict(line.split(None, 1) for line in created.splitlines()[:4])
    key_id, secret = fields["id"], fields["secret"]
    assert key_id.startswith("hotline_12345-") and len(secret) >= 40
    assert fields["scopes"] == "follow_up,submit"

    code, _, _ = await jiban("channel-keys", "create", "--channel", "web", "--id", "web-portal")
    assert code == 0
    code, _, taken = await jiban("channel-keys", "create", "--channel", "web", "--id", "web-portal")
    assert code == 2 and "taken" in taken
    code, _, bad = await jiban("channel-keys", "create", "--channel", "fax")
    assert code == 2 and "unknown channel" in bad
    code, _, reserved = await jiban("channel-keys", "create", "--channel", "web", "--id", "dev-x")
    assert code == 2 and "reserved" in reserved
    code, _, bad_scope = await jiban(
        "channel-keys", "create", "--channel", "web", "--scopes", "all"
    )
    assert code == 2 and "unknown scope" in bad_scope

    code, listed, _ = await jiban("channel-keys", "list")
    assert code == 0
    assert key_id in listed and "web-portal" in listed and "2 keys" in listed
    assert secret not in listed

    code, revoked, _ = await jiban("channel-keys", "revoke", key_id)
    assert code == 0 and f"revoked {key_id}" in revoked
    code, _, missing = await jiban("channel-keys", "revoke", "nobody")
    assert code == 1 and "no key" in missing
    code, listed, _ = await jiban("channel-keys", "list")
    assert "revoked" in next(line for line in listed.splitlines() if key_id in line)

    # The printed secret is the one intake checks signatures with.
    async with database(settings) as db, db.transaction() as session:
        stored = await store.get_key(session, cipher_for(None, dev_mode=True), key_id)
    assert stored is not None and stored.secret.get_secret_value() == secret
    assert stored.revoked


async def test_cli_refuses_to_create_without_an_encryption_key_outside_dev_mode(
    settings, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.delenv("JIBAN_DEV_MODE", raising=False)
    monkeypatch.delenv("JIBAN_CHANNEL_KEY_ENCRYPTION_KEY", raising=False)
    code = await asyncio.to_thread(
        cli.main, ["channel-keys", "create", "--channel", "hotline_12345"]
    )
    assert code == 2
    assert "JIBAN_CHANNEL_KEY_ENCRYPTION_KEY" in capsys.readouterr().err


async def test_pruner_drops_only_records_past_expiry_and_grace(settings):
    clock = Clock()
    now = datetime.fromtimestamp(clock.now, UTC)
    async with database(settings) as db:
        async with db.transaction() as session:
            for n, age_s in enumerate([400, 120, 30, -200]):  # expired that long ago
                expires = now - timedelta(seconds=age_s)
                await store.record_signature(session, "k", f"{n:064x}", expires)
        pruner = SignaturePruner(units_of(db), clock=clock, grace_s=60, batch_size=1)
        rounds = [await pruner.round(), await pruner.round(), await pruner.round()]
        async with db.transaction() as session:
            left = await store.count_signatures(session)
    assert rounds == [1, 1, 0]  # batches of one; the 30 s one is within the grace
    assert left == 2


async def test_start_up_with_the_database_away_still_starts(settings):
    from jiban.local_infra import free_port

    away = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"}
    )
    async with database(away) as db:
        for dev_mode in (True, False):
            auth = ChannelAuth(
                units_of(db), AuthConfig(cipher=cipher_for(None, dev_mode=True), dev_mode=dev_mode)
            )
            await auth.prepare()  # logs a warning, does not raise
