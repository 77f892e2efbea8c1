"""Tracking codes an appellant can quote on the phone, e.g. ``DW-20261127-418305-7``.

Layout: ``PREFIX-YYYYMMDD-NNNNNN-C``

- ``PREFIX``: 1-6 upper-case letters, configured per zone (``DW`` for 大旺).
- ``YYYYMMDD``: the Asia/Shanghai local date of receipt (`local_day`).
- ``NNNNNN``: a counter ``n`` >= 1 (a database sequence, per day or global: codes are unique as
  long as no ``(day, n)`` repeats) passed through a keyed permutation, so the printed number says
  nothing about ``n``. Six digits while ``n < 10**6``, then as many as ``n`` has (each width is
  its own bijection, and widths never collide because the lengths differ).
- ``C``: an ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``).

Why counting does not reveal neighbours: the permutation is a 10-round Feistel network over the
decimal domain ``[0, 10**width)`` whose round function is HMAC-SHA256 under a secret key, tweaked
with the prefix, the date and the width. Without the key, the number printed for ``n + 1`` is, for
all practical purposes, any of the other 999,999 values, and a fresh permutation is used every
day. Someone holding their own code can therefore not derive a neighbour's; guessing one means
trying about half a million numbers per day (the check character only filters 10 in 11 typos
out), which the lookup endpoints must rate-limit anyway.

The module is pure: prefix and key are parameters, no clock is read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date, datetime
from typing import NamedTuple

from shared.clock import ZONE

MIN_DIGITS = 6
MAX_DIGITS = 12  # a trillion appeals a day is not a use case; keeps the parser bounded
MIN_KEY_BYTES = 16
ROUNDS = 10  # as in NIST FF1; each round is cheap (one HMAC)
PREFIX = re.compile(r"[A-Z]{1,6}")

# After normalisation (NFKC, upper case, separators removed) a code is unambiguous without its
# hyphens: letters, exactly 8 date digits, the number, and the check character last.
_COMPACT = re.compile(rf"([A-Z]{{1,6}})(\d{{8}})(\d{{{MIN_DIGITS},{MAX_DIGITS}}})([0-9X])")
# Separators people type or a phone agent writes down; NFKC already folds － and ﹣ into "-".
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−_·.]+")


class TrackingCode(NamedTuple):
    prefix: str
    day: date
    digits: str  # kept as text: leading zeros are part of the code

    def __str__(self) -> str:
        body = f"{self.prefix}{self.day:%Y%m%d}{self.digits}"
        return f"{self.prefix}-{self.day:%Y%m%d}-{self.digits}-{check_character(body)}"


def local_day(received_at: datetime) -> date:
    """The Asia/Shanghai calendar date of an (aware) instant: what the code prints."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(ZONE).date()


def validate_prefix(prefix: str) -> str:
    """Returns the prefix if it is 1-6 upper-case ASCII letters; raises ValueError otherwise.
    For settings to call at start-up."""
    if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
        raise ValueError(f"tracking code prefix must be 1-6 letters A-Z, got {prefix!r}")
    return prefix


def format_tracking_code(prefix: str, day: date, n: int, key: bytes) -> str:
    """The code for counter value ``n`` (>= 1) of an appeal received on ``day`` (`local_day`).
    Distinct ``(day, n)`` give distinct codes; ``key`` is the zone's secret (>= 16 bytes)."""
    validate_prefix(prefix)
    _check_key(key)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n < 10**MAX_DIGITS:
        raise ValueError(f"n must be an integer in [1, 10**{MAX_DIGITS}), got {n!r}")
    width = max(MIN_DIGITS, len(str(n)))
    tweak = f"{prefix}|{day:%Y%m%d}|{width}".encode()
    digits = str(_permute(n, width, key, tweak)).zfill(width)
    return str(TrackingCode(prefix, day, digits))


def normalise_tracking_code(text: str) -> str:
    """The canonical form (``DW-20261127-418305-7``) of a code as typed or read over the phone:
    full-width characters, lower case, spaces and missing or odd hyphens are all accepted.
    Raises ValueError if it is not a well-formed code with the right check character."""
    return str(parse_tracking_code(text))


def parse_tracking_code(code: str) -> TrackingCode:
    """(prefix, day, digits) of a code; tolerant of case, width and separators (see
    `normalise_tracking_code`). Raises ValueError if malformed or the check character is wrong."""
    if not isinstance(code, str):
        raise ValueError("a tracking code is text")
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", code).upper())
    match = _COMPACT.fullmatch(compact)
    if match is None:
        raise ValueError(f"not a tracking code: {code!r}")
    prefix, ymd, digits, check = match.groups()
    if check_character(prefix + ymd + digits) != check:
        raise ValueError(f"wrong check character in {code!r}")
    try:
        day = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        raise ValueError(f"no such date in {code!r}") from None
    return TrackingCode(prefix, day, digits)


def is_valid_tracking_code(code: str, prefix: str | None = None) -> bool:
    """Well formed, right check character, and (if given) the expected prefix. Never raises."""
    try:
        parsed = parse_tracking_code(code)
    except ValueError:
        return False
    return prefix is None or parsed.prefix == prefix.upper()


def check_character(body: str) -> str:
    """ISO 7064 MOD 11-2 (the ORCID / Chinese ID-card check) over ``body``.

    Chosen because, for decimal digits, it catches every single-digit substitution and every
    adjacent transposition (weights are distinct powers of 2 mod 11, and 11 is prime and larger
    than any difference of two digits), including a swap with the check character itself. Letters
    of the prefix count with their ISO 7064 alphanumeric values A=10 … Z=35; two letters 11 apart
    (A/L/W) are not told apart, but the prefix is fixed per zone and compared as a whole.
    """
    total = 0
    for char in body:
        if "0" <= char <= "9":
            value = ord(char) - 48
        elif "A" <= char <= "Z":
            value = ord(char) - 55
        else:
            raise ValueError(f"cannot check character {char!r}")
        total = (total + value) * 2 % 11
    value = (12 - total) % 11
    return "X" if value == 10 else str(value)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the tracking code key must be at least {MIN_KEY_BYTES} bytes")


def _permute(x: int, width: int, key: bytes, tweak: bytes) -> int:
    """A keyed bijection of ``[0, 10**width)``: an alternating Feistel network on two decimal
    halves of ``u`` and ``v`` digits (the construction of NIST FF1, with HMAC-SHA256 as the round
    function). Each round ``(A, B) -> (B, (A + F(B)) mod 10**m)`` is invertible whatever F is, so
    the whole is a permutation of exactly this domain: no cycle-walking is needed, for even and
    odd widths alike."""
    u = width // 2
    v = width - u
    high: int = 10**v  # int ** int is typed loosely (a negative power is a float)
    a, b = divmod(x, high)  # a has u digits, b has v digits
    base = hmac.new(bytes(key), tweak, hashlib.sha256)
    for i in range(ROUNDS):
        m = u if i % 2 == 0 else v  # a has m digits this round; sizes swap every round
        mac = base.copy()
        mac.update(i.to_bytes(1, "big") + b.to_bytes(8, "big"))
        f = int.from_bytes(mac.digest()[:8], "big")  # 64 bits: bias mod 10**m is negligible
        a, b = b, (a + f) % 10**m
    return a * high + b  # after an even number of rounds a has u digits again
