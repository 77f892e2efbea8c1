"""Tracking codes: short, readable over the phone, unambiguous (Crockford's base32)."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U
ZONE = ZoneInfo("Asia/Shanghai")


def new_tracking_code(received_at: datetime, random_chars: int = 6) -> str:
    """`JB` + the local date of receipt + random characters, e.g. JB261127-7K3Q9X."""
    day = received_at.astimezone(ZONE).strftime("%y%m%d")
    tail = "".join(secrets.choice(ALPHABET) for _ in range(random_chars))
    return f"JB{day}-{tail}"
