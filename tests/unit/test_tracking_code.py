"""Tracking codes: JB + local (Asia/Shanghai) date + six Crockford base32 characters."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.tracking_code import ALPHABET, new_tracking_code

FORMAT = re.compile(r"^JB\d{6}-[0-9A-HJKMNP-TV-Z]{6}$")
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def test_format() -> None:
    for _ in range(200):
        assert FORMAT.match(new_tracking_code(NOW))


def test_alphabet_has_no_ambiguous_letters() -> None:
    assert len(ALPHABET) == 32
    assert not set("ILOU") & set(ALPHABET)


@pytest.mark.parametrize(
    ("received_at", "day"),
    [
        (datetime(2026, 11, 27, 20, 0, tzinfo=UTC), "261128"),  # 04:00 next day in Shanghai
        (datetime(2026, 11, 27, 15, 59, tzinfo=UTC), "261127"),  # 23:59 in Shanghai
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), "261128"),  # midnight in Shanghai
        (datetime(2026, 11, 28, 1, 0, tzinfo=timezone(timedelta(hours=8))), "261128"),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), "270101"),
    ],
)
def test_date_is_the_local_date_in_shanghai(received_at: datetime, day: str) -> None:
    assert new_tracking_code(received_at).startswith(f"JB{day}-")


def test_codes_differ_across_calls() -> None:
    codes = {new_tracking_code(NOW) for _ in range(200)}
    assert len(codes) == 200
