"""Channel keys: who may push appeals into intake. A key has an id, a secret, one channel and
scopes. The secret is kept encrypted at rest (a signature must be recomputed from the secret
itself, so a one-way hash would not do) and is never shown again after it is created.

Pure: no database, no clock; `store.py` persists keys, `auth.py` checks requests with them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.settings import Settings
from shared.vocabulary import Channel


class Scope(StrEnum):
    SUBMIT = "submit"
    FOLLOW_UP = "follow_up"


# Reserved for the development keys `ensure_dev_keys` makes under JIBAN_DEV_MODE=1.
DEV_KEY_PREFIX = "dev-"
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECRET_BYTES = 32

# Used only under JIBAN_DEV_MODE=1 when no encryption key is configured. It is published here on
# purpose: anything encrypted with it is readable by anyone, which is fine for dev secrets only.
# Production refuses it (see `cipher_for`).
DEV_ENCRYPTION_KEY = (
    "amliYW4tZGV2LW9ubHktbm90LWEtc2VjcmV0ISEhISE="  # b"jiban-dev-only-not-a-secret!!!!!"
)


def dev_key_id(channel: Channel) -> str:
    return f"{DEV_KEY_PREFIX}{channel.value}"


def dev_secret(channel: Channel) -> str:
    return f"dev-secret-{channel.value}"


def is_dev_key_id(key_id: str) -> bool:
    return key_id.startswith(DEV_KEY_PREFIX)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def new_key_id(channel: Channel) -> str:
    # The channel in the id helps whoever reads logs; the random part makes it unguessable enough
    # that ids need not be treated as secret (they are logged).
    return f"{channel.value}-{secrets.token_hex(4)}"


def valid_key_id(key_id: str) -> bool:
    return bool(KEY_ID.match(key_id))


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """`"submit,follow_up"` (or an iterable of names) → scopes; ValueError naming an unknown one."""
    names = text.split(",") if isinstance(text, str) else list(text)
    scopes: set[Scope] = set()
    for name in (n.strip() for n in names):
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {name!r} (known: {known})") from None
    if not scopes:
        raise ValueError("a key needs at least one scope")
    return frozenset(scopes)


@dataclass(frozen=True)
class ChannelKey:
    key_id: str
    channel: Channel
    scopes: frozenset[Scope]
    # SecretStr prints as '**********' in repr, str and logs; `.get_secret_value()` to sign.
    secret: SecretStr = field(repr=False)
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: Scope | str) -> bool:
        return Scope(scope) in self.scopes


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: everything but its secret."""

    key_id: str
    channel: Channel
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class MissingEncryptionKey(RuntimeError):
    """Raised at start-up: intake will not run without a way to protect secrets at rest."""


class SecretCipher:
    """Encrypts channel-key secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256, authenticated).

    Several keys may be given, newest first: the first encrypts, all decrypt, so the encryption
    key can be rotated without losing the keys already stored (`rotate` re-encrypts one)."""

    def __init__(self, encryption_keys: Sequence[str]) -> None:
        if not encryption_keys:
            raise MissingEncryptionKey("no encryption key for channel-key secrets")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in encryption_keys])
        except ValueError as exc:
            # Fernet's message never includes the key, but keep ours explicit too.
            raise MissingEncryptionKey(
                "channel-key encryption key is not a Fernet key (32 url-safe base64 bytes)"
            ) from exc

    def __repr__(self) -> str:
        return "SecretCipher(<keys hidden>)"

    def encrypt(self, secret: SecretStr | str) -> str:
        plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode("ascii")).decode())
        except InvalidToken:
            raise UndecryptableSecret(
                "stored channel-key secret does not decrypt with the configured keys"
            ) from None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


class UndecryptableSecret(RuntimeError):
    pass


def generate_encryption_key() -> str:
    """A fresh value for the encryption-key setting."""
    return Fernet.generate_key().decode("ascii")


def cipher_for(encryption_key: SecretStr | str | None, *, dev_mode: bool) -> SecretCipher:
    """The cipher intake and the CLI use. `encryption_key` may list several keys separated by
    commas (newest first). Without one, only development mode runs (on the published dev key);
    production also refuses the dev key itself."""
    raw = (
        encryption_key.get_secret_value()
        if isinstance(encryption_key, SecretStr)
        else encryption_key
    )
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    if not keys:
        if dev_mode:
            return SecretCipher([DEV_ENCRYPTION_KEY])
        raise MissingEncryptionKey(
            "set JIBAN_CHANNEL_KEY_ENCRYPTION_KEY (a Fernet key: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())') or run with JIBAN_DEV_MODE=1"
        )
    if not dev_mode and DEV_ENCRYPTION_KEY in keys:
        raise MissingEncryptionKey(
            "the published development encryption key is refused outside JIBAN_DEV_MODE=1"
        )
    return SecretCipher(keys)


def cipher_from_settings(settings: Settings) -> SecretCipher:
    """`cipher_for` on the configured key."""
    return cipher_for(settings.channel_key_encryption_key, dev_mode=settings.dev_mode)
