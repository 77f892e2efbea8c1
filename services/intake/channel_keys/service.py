"""Who may push appeals into intake: checking a signed request against the key store (keys
cached for a few seconds, `KEY_CACHE_S`; the signature recorded in the database, so a replay is
caught on any replica), the web channel's rate limit, and the development keys.

The FastAPI side (reading headers, answering 401/403/429) is `dependencies.py`; the pruner of
old replay records is `worker.py`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channel_keys import store
from services.intake.channel_keys.keys import (
    ChannelKey,
    Scope,
    SecretCipher,
    cipher_from_settings,
    dev_key_id,
    dev_secret,
)
from services.intake.channel_keys.ratelimit import Decision, TokenBucketLimiter
from services.intake.channel_keys.signatures import (
    DEFAULT_WINDOW_S,
    AuthFailure,
    SignedHeaders,
    replayed,
    verify,
)
from shared.client_address import IPNetwork, parse_trusted_proxies
from shared.failures import is_transient
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Channel

log = logging.getLogger(__name__)

DEFAULT_WEB_PER_MINUTE = 60
DEFAULT_WEB_BURST = 20
# How long a key read from the store is used without reading it again: a key revoked stops
# working on every replica within this many seconds.
KEY_CACHE_S = 5.0


@dataclass(frozen=True)
class AuthConfig:
    cipher: SecretCipher
    dev_mode: bool = False
    window_s: int = DEFAULT_WINDOW_S
    inbound_max_age_s: int = DEFAULT_WINDOW_S
    web_per_minute: int = DEFAULT_WEB_PER_MINUTE
    web_burst: int = DEFAULT_WEB_BURST
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        """Raises keys.MissingEncryptionKey outside dev mode when no encryption key is set, so
        intake refuses to start."""
        return cls(
            cipher=cipher_from_settings(settings),
            dev_mode=settings.dev_mode,
            window_s=settings.signature_window_s,
            inbound_max_age_s=settings.inbound_signature_max_age_s,
            web_per_minute=settings.web_rate_limit_per_minute,
            web_burst=settings.web_rate_limit_burst,
            trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
        )


class DevKeysInProduction(RuntimeError):
    pass


# --- development keys -------------------------------------------------------------------------


async def ensure_dev_keys(units: UnitsOfWork, cipher: SecretCipher) -> list[str]:
    """JIBAN_DEV_MODE=1 only: one key per channel with both scopes, id `dev-<channel>`, secret
    `dev-secret-<channel>`, reset (un-revoked) at every start. Returns their ids."""
    async with units.begin() as uow:
        return await _put_dev_keys(uow.session, cipher)


async def _put_dev_keys(session: AsyncSession, cipher: SecretCipher) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    # One order: no deadlock between replicas starting together.
    for channel in sorted(Channel, key=lambda c: c.value):
        key = ChannelKey(
            key_id=dev_key_id(channel),
            channel=channel,
            scopes=frozenset(Scope),
            secret=SecretStr(dev_secret(channel)),
        )
        await store.put_key(session, cipher, key, now=now)
        ids.append(dev_key_id(channel))
    return ids


async def refuse_dev_keys_in_production(units: UnitsOfWork, *, dev_mode: bool) -> None:
    """Outside dev mode, raises DevKeysInProduction while any `dev-*` key is not revoked (their
    secrets are published). `jiban channel-keys revoke dev-<channel>` clears it."""
    if dev_mode:
        return
    async with units.begin() as uow:
        found = await store.active_dev_key_ids(uow.session)
    if found:
        raise DevKeysInProduction(
            "development channel keys exist outside JIBAN_DEV_MODE=1: "
            + ", ".join(found)
            + "; revoke them (`jiban channel-keys revoke ID`) before starting intake"
        )


# --- checking requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers, as the request came."""

    headers: SignedHeaders
    method: str
    raw_path: str
    body: bytes


class ChannelAuth:
    def __init__(
        self,
        units: UnitsOfWork,
        config: AuthConfig,
        *,
        clock: Callable[[], float] = time.time,
        limiter: TokenBucketLimiter | None = None,
        key_cache_s: float = KEY_CACHE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.units = units
        self.config = config
        self.clock = clock
        self.key_cache_s = key_cache_s
        self._monotonic = monotonic
        # key id → (when read, the key with its secret decrypted): no read and no decryption
        # per request.
        self._keys: dict[str, tuple[float, ChannelKey]] = {}
        if limiter is None:  # not `or`: an empty limiter is falsy (it has a length)
            limiter = TokenBucketLimiter(config.web_per_minute, config.web_burst)
        self.limiter = limiter
        # Dev mode only: the dev keys still to be made (start-up found the database away).
        self._dev_keys_pending = config.dev_mode

    async def prepare(self) -> None:
        """At start-up: make the dev keys (dev mode) or refuse to start while any exists. With
        the database away, intake still starts (it answers 503 until it is back): the dev keys
        are then made before the first signed request, and outside dev mode `dev-*` keys are
        refused by every request anyway."""
        try:
            if self.config.dev_mode:
                ids = await ensure_dev_keys(self.units, self.config.cipher)
                self._dev_keys_pending = False
                log.info("development channel keys ready", extra={"key_ids": ids})
            else:
                await refuse_dev_keys_in_production(self.units, dev_mode=False)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "database unavailable at start-up; channel keys will be checked on use",
                extra={"error": type(exc).__name__},
            )

    async def authenticate(
        self,
        request: SignedRequest,
        scope: Scope,
        channel: str | None = None,
        channel_loc: tuple[str, ...] = ("body", "channel"),
    ) -> ChannelKey | AuthFailure:
        """The key that signed `request` for `scope` (and `channel`, when given), or why not.
        An accepted signature is recorded before the route does anything; keys.UndecryptableSecret
        when the stored secret does not decrypt."""
        if self._dev_keys_pending:
            async with self.units.begin() as uow:
                result = await self.authenticate_in(
                    uow.session, request, scope, channel, channel_loc
                )
            self._dev_keys_pending = False
            return result
        # Nothing else commits with the replay record: each statement commits by itself (no
        # BEGIN, no COMMIT), and with the key cached, the record is the only statement.
        async with self.units.db.autocommit() as session:
            return await self.authenticate_in(session, request, scope, channel, channel_loc)

    async def authenticate_in(
        self,
        session: AsyncSession,
        request: SignedRequest,
        scope: Scope,
        channel: str | None = None,
        channel_loc: tuple[str, ...] = ("body", "channel"),
        *,
        max_age_s: int | None = None,
    ) -> ChannelKey | AuthFailure:
        """As `authenticate`, in the caller's transaction: the accepted signature commits (or
        rolls back) with what the caller does with the request. `max_age_s`: see `verify`."""
        if self._dev_keys_pending:
            await _put_dev_keys(session, self.config.cipher)
        key = await self._key(session, request.headers.key_id)
        result = verify(
            request.headers,
            method=request.method,
            path=request.raw_path,
            body=request.body,
            now=self.clock(),
            key=key,
            scope=scope,
            channel=channel,
            channel_loc=channel_loc,
            window_s=self.config.window_s,
            allow_dev_keys=self.config.dev_mode,
            max_age_s=max_age_s,
        )
        if not isinstance(result, AuthFailure) and not await store.record_signature(
            session,
            result.key.key_id,
            result.signature,
            datetime.fromtimestamp(result.expires_at, UTC),
        ):
            result = replayed()
        return result if isinstance(result, AuthFailure) else result.key

    async def _key(self, session: AsyncSession, key_id: str) -> ChannelKey | None:
        """The key, from the cache while it is younger than `key_cache_s` (a revocation, a
        changed secret, scope or channel, takes effect on every replica within that), else read
        and decrypted. An unknown id is never cached: a key created is usable at once, and made
        up ids cannot fill the cache."""
        now = self._monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[0] < self.key_cache_s:
            return cached[1]
        key = await store.get_key(session, self.config.cipher, key_id)
        if key is None:
            self._keys.pop(key_id, None)
        else:
            self._keys[key_id] = (now, key)
        return key

    def limit(self, client: str) -> Decision:
        """One unsigned submission from `client` against its rate limit."""
        return self.limiter.hit(client)
