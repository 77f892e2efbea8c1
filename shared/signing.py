"""HMAC-SHA256 request signatures, one scheme both ways: channel adapters sign what they send
to intake, and notify signs the webhooks it sends to channels (pure: no I/O, no clock).

    X-Jiban-Key:        the key id
    X-Jiban-Timestamp:  Unix seconds when it signed
    X-Jiban-Signature:  lowercase hex HMAC-SHA256(secret, canonical string)

The canonical string is METHOD (upper case), the raw path without the query, the timestamp
header exactly as sent, and the raw body (empty if none), joined by "\\n":

    POST\\n/v1/appeals\\n1767225600\\n{"channel": "hotline_12345", ...}

Kafka messages an adapter publishes to its inbound topic carry the same three headers (values
UTF-8). Their canonical string has the method PUBLISH, the path the LOGICAL topic name (without
the deployment's JIBAN_TOPIC_PREFIX), the timestamp header, and the message's raw value:

    PUBLISH\\nappeals.inbound.hotline_12345\\n1767225600\\n{"order_no": "ZQ12345-...", ...}

`kafka_signature_headers` makes them. The key must belong to that topic's channel and have the
`submit` scope; intake judges the timestamp when it consumes the message (a message older than
JIBAN_SIGNATURE_WINDOW_S by then is refused as stale: re-sign and publish it again) and accepts
each signature once (an adapter signs every publish, retries included, afresh).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

HEADER_KEY = "X-Jiban-Key"
HEADER_TIMESTAMP = "X-Jiban-Timestamp"
HEADER_SIGNATURE = "X-Jiban-Signature"
# The method of a Kafka message's canonical string.
PUBLISH = "PUBLISH"


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


def kafka_signature_headers(
    key_id: str, secret: SecretStr | str, topic: str, value: bytes, now: float
) -> dict[str, str]:
    """The three headers of a signed Kafka message for the logical `topic`; aiokafka takes them
    as `headers=[(k, v.encode()) for k, v in ….items()]`, FastStream as they are."""
    return signature_headers(key_id, secret, PUBLISH, topic, value, now)
