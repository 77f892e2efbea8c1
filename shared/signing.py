"""HMAC-SHA256 request signatures, one scheme both ways: channel adapters sign what they send
to intake, and notify signs the webhooks it sends to channels (pure: no I/O, no clock).

    X-Jiban-Key:        the key id
    X-Jiban-Timestamp:  Unix seconds when it signed
    X-Jiban-Signature:  lowercase hex HMAC-SHA256(secret, canonical string)

The canonical string is METHOD (upper case), the raw path without the query, the timestamp
header exactly as sent, and the raw body (empty if none), joined by "\\n":

    POST\\n/v1/appeals\\n1767225600\\n{"channel": "hotline_12345", ...}
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

HEADER_KEY = "X-Jiban-Key"
HEADER_TIMESTAMP = "X-Jiban-Timestamp"
HEADER_SIGNATURE = "X-Jiban-Signature"


def canonical(method: str, path: str, timestamp: str | int, body: bytes) -> bytes:
    raw_path = path.split("?", 1)[0]
    head = f"{method.upper()}\n{raw_path}\n{timestamp}\n".encode()
    return head + body


def sign(secret: SecretStr | str, method: str, path: str, timestamp: str | int, body: bytes) -> str:
    plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    message = canonical(method, path, timestamp, body)
    return hmac.new(plain.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    key_id: str, secret: SecretStr | str, method: str, path: str, body: bytes, now: float
) -> dict[str, str]:
    """The three headers a signed request carries."""
    timestamp = str(int(now))
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: sign(secret, method, path, timestamp, body),
    }
