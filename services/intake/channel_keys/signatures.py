"""Verifying channel adapters' signed requests (pure: no I/O, no clock; `now` is given). The
scheme itself (headers, canonical string, HMAC) is `shared/signing.py`, the one implementation
that notify's webhooks are signed with too; this module decides whether a request passes.

Intake recomputes the signature from the stored secret and answers 401 when a header is missing,
the key is unknown or revoked, the signature does not match, the timestamp is more than the
window (300 s) away from its clock, or the signature was already seen (`replayed`: adapters sign
each retry afresh, with a new timestamp); 403 when the key is used outside its channel or scope.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.intake.channel_keys.keys import ChannelKey, Scope, is_dev_key_id
from shared.signing import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign

HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE)
DEFAULT_WINDOW_S = 300
# The scheme named in WWW-Authenticate on every 401.
AUTH_SCHEME = "Jiban-HMAC-SHA256"

_TIMESTAMP = re.compile(r"^\d{1,12}$")
_MAX_KEY_ID = 128


class FailureKind(StrEnum):
    MISSING_HEADER = "missing_header"
    INVALID_TIMESTAMP = "invalid_timestamp"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    SIGNATURE_MISMATCH = "signature_mismatch"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED = "replayed"
    WRONG_CHANNEL = "wrong_channel"
    WRONG_SCOPE = "wrong_scope"


# Who you are is in doubt → 401; who you are is known but not allowed this → 403.
_FORBIDDEN = {FailureKind.WRONG_CHANNEL, FailureKind.WRONG_SCOPE}


@dataclass(frozen=True)
class AuthFailure:
    kind: FailureKind
    loc: tuple[str, ...]
    msg: str

    @property
    def status(self) -> int:
        return 403 if self.kind in _FORBIDDEN else 401

    def detail(self) -> list[dict[str, object]]:
        """The `detail` list, shaped like the service's 422 bodies (shared/http.py)."""
        return [{"loc": list(self.loc), "msg": self.msg, "type": self.kind.value}]


@dataclass(frozen=True)
class SignedHeaders:
    key_id: str
    timestamp: str  # as sent: it is part of what was signed
    signature: str


@dataclass(frozen=True)
class Verified:
    key: ChannelKey
    signature: str
    # Unix seconds after which this signature would be refused as stale anyway, so the replay
    # record can be dropped then.
    expires_at: float


def has_signature_headers(headers: Mapping[str, str]) -> bool:
    """Whether the request tries to sign at all (any of the three headers present)."""
    present = {k.lower() for k in headers.keys()}
    return any(h.lower() in present for h in HEADERS)


def _header(field: str) -> tuple[str, str]:
    return ("header", field)


def missing(field: str) -> AuthFailure:
    return AuthFailure(FailureKind.MISSING_HEADER, _header(field), f"{field} header is required")


def read_headers(headers: Mapping[str, str]) -> SignedHeaders | AuthFailure:
    """The three headers, or the first one missing or malformed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values: dict[str, str] = {}
    for name in HEADERS:
        value = lowered.get(name.lower(), "").strip()
        if not value:
            return missing(name)
        values[name] = value
    if len(values[HEADER_KEY]) > _MAX_KEY_ID:
        return AuthFailure(FailureKind.UNKNOWN_KEY, _header(HEADER_KEY), "no such key")
    if not _TIMESTAMP.match(values[HEADER_TIMESTAMP]):
        return AuthFailure(
            FailureKind.INVALID_TIMESTAMP,
            _header(HEADER_TIMESTAMP),
            "must be Unix time in whole seconds",
        )
    return SignedHeaders(values[HEADER_KEY], values[HEADER_TIMESTAMP], values[HEADER_SIGNATURE])


def verify(
    headers: SignedHeaders | Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    now: float,
    key: ChannelKey | None,
    scope: Scope | str,
    channel: str | None = None,
    channel_loc: tuple[str, ...] = ("body", "channel"),
    window_s: int = DEFAULT_WINDOW_S,
    allow_dev_keys: bool = True,
    max_age_s: int | None = None,
) -> Verified | AuthFailure:
    """Checks a request against the key its `X-Jiban-Key` names (`key`: the lookup result, None
    when there is no such key). `channel`, when given, is the channel the request acts for.
    Replay is not decided here: the caller records `Verified.signature` (store.record_signature)
    and refuses with `replayed()` when it was already seen. `max_age_s`: how old a signature
    may be, when that differs from `window_s` (a message that waited on a topic); it is never
    accepted more than `window_s` ahead of `now`."""
    signed = headers if isinstance(headers, SignedHeaders) else read_headers(headers)
    if isinstance(signed, AuthFailure):
        return signed
    # Development keys have published secrets: outside dev mode they do not exist.
    if (
        key is None
        or key.key_id != signed.key_id
        or (not allow_dev_keys and is_dev_key_id(key.key_id))
    ):
        return AuthFailure(FailureKind.UNKNOWN_KEY, _header(HEADER_KEY), "no such key")
    if key.revoked:
        return AuthFailure(FailureKind.REVOKED_KEY, _header(HEADER_KEY), "this key was revoked")
    expected = sign(key.secret, method, path, signed.timestamp, body)
    # Constant time; the exact lowercase form only, so one signature has one spelling (the
    # replay record is keyed by it).
    if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "replace")):
        return AuthFailure(
            FailureKind.SIGNATURE_MISMATCH,
            _header(HEADER_SIGNATURE),
            "signature does not match: HMAC-SHA256 over METHOD, path, timestamp and body, "
            "joined by newlines, in lowercase hex",
        )
    timestamp = int(signed.timestamp)
    oldest = window_s if max_age_s is None else max_age_s
    if timestamp - now > window_s or now - timestamp > oldest:
        return AuthFailure(
            FailureKind.STALE_TIMESTAMP,
            _header(HEADER_TIMESTAMP),
            f"more than {window_s if timestamp > now else oldest} s away from the server's "
            f"clock ({int(now)}); sign afresh",
        )
    if not key.allows(scope):
        return AuthFailure(
            FailureKind.WRONG_SCOPE,
            _header(HEADER_KEY),
            f"this key does not have the {Scope(scope).value!r} scope",
        )
    if channel is not None and channel != key.channel.value:
        return wrong_channel(key, channel, channel_loc)
    return Verified(
        key=key, signature=expected, expires_at=float(timestamp + max(window_s, oldest))
    )


def wrong_channel(
    key: ChannelKey, channel: str, loc: tuple[str, ...] = ("body", "channel")
) -> AuthFailure:
    return AuthFailure(
        FailureKind.WRONG_CHANNEL,
        loc,
        f"this key submits for channel {key.channel.value!r}, not {channel!r}",
    )


def replayed() -> AuthFailure:
    return AuthFailure(
        FailureKind.REPLAYED,
        _header(HEADER_SIGNATURE),
        "this signature was already used; sign each request (and each retry) afresh",
    )
