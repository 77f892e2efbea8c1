"""Who may push appeals into intake: FastAPI dependencies for signed channel adapters and for
unsigned (rate-limited) web submissions, the development keys, and the replay-record pruner.

Wiring (app.py): build a `ChannelAuth`, add its `pruner` to the runtime's workers, and `install`
it on the app; routes then depend on `signed(scope)`, `rate_limited_web` or `submitter(scope)`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import store
from services.intake.keys import (
    ChannelKey,
    Scope,
    SecretCipher,
    UndecryptableSecret,
    cipher_from_settings,
    dev_key_id,
    dev_secret,
)
from services.intake.ratelimit import (
    IPNetwork,
    TokenBucketLimiter,
    client_address,
    parse_trusted_proxies,
)
from services.intake.signing import (
    AUTH_SCHEME,
    DEFAULT_WINDOW_S,
    HEADER_KEY,
    AuthFailure,
    has_signature_headers,
    missing,
    read_headers,
    replayed,
    verify,
    wrong_channel,
)
from shared.db import Database
from shared.failures import is_transient
from shared.settings import Settings
from shared.vocabulary import Channel
from shared.worker import PollingWorker

log = logging.getLogger(__name__)

AUTH_FAILURES = Counter(
    "jiban_intake_auth_failures_total",
    "Requests intake refused before handling them, by reason (signing.FailureKind, rate_limited)",
    ["reason"],
)

DEFAULT_WEB_PER_MINUTE = 60
DEFAULT_WEB_BURST = 20
# Replicas' clocks differ a little: keep a replay record this long past its expiry, so a replica
# whose clock is behind still finds it.
PRUNE_GRACE_S = 60.0
PRUNE_INTERVAL_S = 60.0
PRUNE_BATCH = 5_000


@dataclass(frozen=True)
class AuthConfig:
    cipher: SecretCipher
    dev_mode: bool = False
    window_s: int = DEFAULT_WINDOW_S
    web_per_minute: int = DEFAULT_WEB_PER_MINUTE
    web_burst: int = DEFAULT_WEB_BURST
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        """Raises keys.MissingEncryptionKey outside dev mode when no encryption key is set, so
        intake refuses to start."""
        dev_mode = settings.dev_mode
        return cls(
            cipher=cipher_from_settings(settings),
            dev_mode=dev_mode,
            window_s=settings.signature_window_s,
            web_per_minute=settings.web_rate_limit_per_minute,
            web_burst=settings.web_rate_limit_burst,
            trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
        )


class DevKeysInProduction(RuntimeError):
    pass


# --- development keys -------------------------------------------------------------------------


async def ensure_dev_keys(db: Database, cipher: SecretCipher) -> list[str]:
    """JIBAN_DEV_MODE=1 only: one key per channel with both scopes, id `dev-<channel>`, secret
    `dev-secret-<channel>`, reset (un-revoked) at every start. Returns their ids."""
    async with db.transaction() as session:
        return await _put_dev_keys(session, cipher)


async def _put_dev_keys(session: AsyncSession, cipher: SecretCipher) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    for channel in sorted(
        Channel, key=lambda c: c.value
    ):  # one order: no deadlock between replicas
        await store.put_key(
            session,
            cipher,
            key_id=dev_key_id(channel),
            channel=channel,
            scopes=frozenset(Scope),
            secret=dev_secret(channel),
            now=now,
        )
        ids.append(dev_key_id(channel))
    return ids


async def refuse_dev_keys_in_production(db: Database, *, dev_mode: bool) -> None:
    """Outside dev mode, raises DevKeysInProduction while any `dev-*` key is not revoked (their
    secrets are published). `jiban channel-keys revoke dev-<channel>` clears it."""
    if dev_mode:
        return
    async with db.transaction() as session:
        found = await store.active_dev_key_ids(session)
    if found:
        raise DevKeysInProduction(
            "development channel keys exist outside JIBAN_DEV_MODE=1: "
            + ", ".join(found)
            + "; revoke them (`jiban channel-keys revoke ID`) before starting intake"
        )


# --- the replay-record pruner -----------------------------------------------------------------


class SignaturePruner(PollingWorker):
    """Drops replay records once no replica could accept their signature any more. Every
    replica runs one; deletes are idempotent, so they need no coordination."""

    name = "signature-pruner"

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = PRUNE_INTERVAL_S,
        grace_s: float = PRUNE_GRACE_S,
        batch_size: int = PRUNE_BATCH,
    ) -> None:
        super().__init__(
            batch_size=batch_size, poll_interval_s=interval_s, max_backoff_s=interval_s
        )
        self.db = db
        self.clock = clock
        self.grace_s = grace_s

    async def round(self) -> int:
        before = datetime.fromtimestamp(self.clock() - self.grace_s, UTC)
        async with self.db.transaction() as session:
            return await store.prune_signatures(session, before=before, limit=self.batch_size)


# --- checking requests ------------------------------------------------------------------------


def _refuse(failure: AuthFailure, key_id: str | None, path: str) -> HTTPException:
    AUTH_FAILURES.labels(failure.kind.value).inc()
    # The key id is not secret; the secret and the signature are never logged.
    log.info(
        "request refused",
        extra={"reason": failure.kind.value, "key_id": key_id, "path": path},
    )
    headers = {"WWW-Authenticate": AUTH_SCHEME} if failure.status == 401 else None
    return HTTPException(failure.status, detail=failure.detail(), headers=headers)


class ChannelAuth:
    def __init__(
        self,
        db: Database,
        config: AuthConfig,
        *,
        clock: Callable[[], float] = time.time,
        limiter: TokenBucketLimiter | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        if limiter is None:  # not `or`: an empty limiter is falsy (it has a length)
            limiter = TokenBucketLimiter(config.web_per_minute, config.web_burst)
        self.limiter = limiter
        self.pruner = SignaturePruner(db, clock=clock)
        # Dev mode only: the dev keys still to be made (start-up found the database away).
        self._dev_keys_pending = config.dev_mode

    async def prepare(self) -> None:
        """At start-up: make the dev keys (dev mode) or refuse to start while any exists. With
        the database away, intake still starts (it answers 503 until it is back): the dev keys
        are then made before the first signed request, and outside dev mode `dev-*` keys are
        refused by every request anyway."""
        try:
            if self.config.dev_mode:
                ids = await ensure_dev_keys(self.db, self.config.cipher)
                self._dev_keys_pending = False
                log.info("development channel keys ready", extra={"key_ids": ids})
            else:
                await refuse_dev_keys_in_production(self.db, dev_mode=False)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "database unavailable at start-up; channel keys will be checked on use",
                extra={"error": type(exc).__name__},
            )

    async def authenticate(
        self, request: Request, scope: Scope | str, channel: str | None = None
    ) -> ChannelKey:
        """The key that signed this request, or HTTPException 401/403. The signature is recorded
        in the same short transaction as the key lookup, before the route does anything."""
        path = request.url.path
        signed = read_headers(request.headers)
        if isinstance(signed, AuthFailure):
            raise _refuse(signed, None, path)
        # Cached by Starlette on the request: the route still parses it.
        body = await request.body()
        raw_path = request.scope.get("raw_path") or path.encode()
        async with self.db.transaction() as session:
            if self._dev_keys_pending:
                await _put_dev_keys(session, self.config.cipher)
            try:
                key = await store.get_key(session, self.config.cipher, signed.key_id)
            except UndecryptableSecret:
                log.error("channel key does not decrypt", extra={"key_id": signed.key_id})
                raise HTTPException(500, detail="internal error") from None
            result = verify(
                signed,
                method=request.method,
                path=raw_path.decode("latin-1"),
                body=body,
                now=self.clock(),
                key=key,
                scope=scope,
                channel=channel,
                window_s=self.config.window_s,
                allow_dev_keys=self.config.dev_mode,
            )
            if isinstance(result, AuthFailure):
                raise _refuse(result, signed.key_id, path)
            expires_at = datetime.fromtimestamp(result.expires_at, UTC)
            if not await store.record_signature(
                session, result.key.key_id, result.signature, expires_at
            ):
                raise _refuse(replayed(), signed.key_id, path)
        self._dev_keys_pending = False
        return result.key

    def limit(self, request: Request) -> str:
        """The client's address, or HTTPException 429 with Retry-After past its limit."""
        client = client_address(
            request.client.host if request.client else None,
            request.headers.getlist("x-forwarded-for"),
            self.config.trusted_proxies,
        )
        decision = self.limiter.hit(client)
        if not decision.allowed:
            AUTH_FAILURES.labels("rate_limited").inc()
            log.info("unsigned request rate-limited", extra={"path": request.url.path})
            raise HTTPException(
                429,
                detail=[
                    {
                        "loc": ["client"],
                        "msg": "too many unsigned submissions from this address; "
                        f"retry after {decision.retry_after_s} s",
                        "type": "rate_limited",
                    }
                ],
                headers={"Retry-After": str(decision.retry_after_s)},
            )
        return client


def install(app: FastAPI, auth: ChannelAuth) -> None:
    """Makes `auth` what the dependencies use, and runs `auth.prepare()` at start-up, before the
    rest of the service starts (DevKeysInProduction stops the start)."""
    app.state.channel_auth = auth
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        await auth.prepare()
        async with inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan


def _auth(request: Request) -> ChannelAuth:
    return request.app.state.channel_auth  # type: ignore[no-any-return]


# --- dependencies -----------------------------------------------------------------------------


def signed(scope: Scope | str) -> Callable[[Request], Awaitable[ChannelKey]]:
    """`Depends(signed("submit"))`: the verified ChannelKey, or 401/403. The route checks the
    key's channel against what it acts on (`require_channel`)."""
    scope = Scope(scope)

    async def dependency(request: Request) -> ChannelKey:
        return await _auth(request).authenticate(request, scope)

    return dependency


async def rate_limited_web(request: Request) -> str:
    """`Depends(rate_limited_web)`: the client address of an unsigned request, or 429."""
    return _auth(request).limit(request)


def require_channel(key: ChannelKey, channel: str, *, path: str = "") -> None:
    """403 unless `key` belongs to `channel`."""
    if key.channel.value != channel:
        raise _refuse(wrong_channel(key, channel), key.key_id, path)


async def _body_channel(request: Request) -> str | None:
    # FastAPI already parsed the JSON body for the route; Starlette caches it on the request.
    try:
        data = await request.json()
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) else None


def submitter(scope: Scope | str = Scope.SUBMIT) -> Callable[[Request], Awaitable[ChannelKey]]:
    """For routes whose body names its channel (`POST /v1/appeals`): the key that signed the
    request, which must belong to the body's `channel` and have `scope`; else 401/403. Unsigned
    is 401 for every channel: browsers use the web channel's own route (`rate_limited_web`)."""
    scope = Scope(scope)

    async def dependency(request: Request) -> ChannelKey:
        if not has_signature_headers(request.headers):
            required = missing(HEADER_KEY)
            failure = AuthFailure(
                required.kind,
                required.loc,
                f"{required.msg}: the unsigned web form is POST /v1/channels/web/appeals",
            )
            raise _refuse(failure, None, request.url.path)
        channel = await _body_channel(request)
        return await _auth(request).authenticate(request, scope, channel=channel)

    return dependency
