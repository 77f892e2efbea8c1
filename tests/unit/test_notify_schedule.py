"""Notify's pure timing and routing rules: quiet hours, the retry schedule, the medium chosen."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.decisions.media import Contact, Route, choose
from services.notify.deliveries.quiet_hours import QuietHours, waits_for_morning
from services.notify.deliveries.retry import RetryPolicy
from shared.clock import ZONE
from shared.vocabulary import Medium

NIGHT = QuietHours.parse("22:00-08:00")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        (local(27, 21, 59), None),
        (local(27, 22, 0), local(28, 8, 0)),  # starts at the minute
        (local(27, 23, 30), local(28, 8, 0)),
        (local(28, 0, 5), local(28, 8, 0)),  # after midnight: this morning
        (local(28, 7, 59), local(28, 8, 0)),
        (local(28, 8, 0), None),  # ends at the minute
        (local(28, 12, 0), None),
    ],
)
def test_quiet_hours_across_midnight(now: datetime, ends: datetime | None) -> None:
    assert NIGHT is not None
    assert NIGHT.ends_after(now) == ends
    # The same instant given in UTC: the window is the zone's local time.
    assert NIGHT.ends_after(now.astimezone(UTC)) == ends


def test_a_daytime_window_and_no_window() -> None:
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch is not None and (lunch.start, lunch.end) == (time(12), time(13, 30))
    assert lunch.ends_after(local(27, 12, 45)) == local(27, 13, 30)
    assert lunch.ends_after(local(27, 13, 30)) is None
    assert QuietHours.parse("off") is None and QuietHours.parse("") is None
    for bad in ("22-08", "22:00", "08:00-08:00", "25:00-08:00"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


def test_only_non_urgent_sms_to_the_appellant_waits() -> None:
    assert waits_for_morning(medium="sms", recipient="appellant", urgent=False)
    assert not waits_for_morning(medium="sms", recipient="appellant", urgent=True)
    assert not waits_for_morning(medium="sms", recipient="officer:cw-7", urgent=False)
    assert not waits_for_morning(medium="email", recipient="appellant", urgent=False)
    assert not waits_for_morning(medium="webhook", recipient="channel:web", urgent=False)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_retry_delays_grow_jittered_and_capped(attempts: int, seed: int) -> None:
    policy = RetryPolicy(max_attempts=50, base_s=30, max_s=3600)
    ceiling = min(3600, 30 * 2 ** (attempts - 1))
    delay = policy.delay_s(attempts, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


def test_retry_spreads_a_crowd_and_gives_up_after_the_budget() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=10, max_s=100)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    rng = random.Random(7)
    delays = {policy.delay_s(1, rng) for _ in range(50)}
    assert len(delays) > 40  # jitter: fifty failures do not retry at one instant
    assert policy.next_attempt(1, now, rng) is not None
    assert policy.next_attempt(2, now, rng) - now <= timedelta(seconds=20)  # type: ignore[operator]
    assert policy.next_attempt(3, now, rng) is None


REAL = frozenset({Medium.SMS, Medium.EMAIL, Medium.WEBHOOK, Medium.RECORD})
BOTH = Contact(phone="13800138000", email="cw7@example.org")


@pytest.mark.parametrize(
    ("recipient", "kind", "contact", "available", "expected"),
    [
        # Development: no real provider, everything recorded.
        (
            "appellant",
            "appeal_received",
            Contact("13800138000"),
            frozenset({Medium.RECORD}),
            Route(Medium.RECORD, None),
        ),
        (
            "officer:cw-7",
            "new_assignment",
            Contact(),
            frozenset({Medium.RECORD}),
            Route(Medium.RECORD, None),
        ),
        # A channel without a callback endpoint hears nothing, even in development.
        ("channel:web", "status_callback", Contact(), frozenset({Medium.RECORD}), None),
        (
            "channel:hotline_12345",
            "status_callback",
            Contact(webhook=True),
            REAL,
            Route(Medium.WEBHOOK, None),
        ),
        (
            "appellant",
            "appeal_received",
            Contact("13800138000"),
            REAL,
            Route(Medium.SMS, "13800138000"),
        ),
        ("appellant", "appeal_received", Contact(email="a@example.org"), REAL, None),
        # Urgent work by SMS first, reading matter by e-mail first, else the other.
        ("officer:cw-7", "acknowledgement_reminder", BOTH, REAL, Route(Medium.SMS, BOTH.phone)),
        ("officer:cw-7", "public_notice", BOTH, REAL, Route(Medium.EMAIL, BOTH.email)),
        # Like the request, its calling off is read at a desk: e-mail first.
        ("officer:sup-1", "extension_requested", BOTH, REAL, Route(Medium.EMAIL, BOTH.email)),
        ("officer:sup-1", "extension_cancelled", BOTH, REAL, Route(Medium.EMAIL, BOTH.email)),
        ("officer:cw-7", "extension_lapsed", BOTH, REAL, Route(Medium.EMAIL, BOTH.email)),
        (
            "channel:hotline_12345",
            "follow_up_refused",
            Contact(webhook=True),
            REAL,
            Route(Medium.WEBHOOK, None),
        ),
        (
            "officer:cw-7",
            "public_notice",
            Contact(phone="13800138000"),
            REAL,
            Route(Medium.SMS, "13800138000"),
        ),
        (
            "officer:cw-7",
            "new_assignment",
            BOTH,
            frozenset({Medium.EMAIL, Medium.RECORD}),
            Route(Medium.EMAIL, BOTH.email),
        ),
        ("officer:cw-7", "new_assignment", Contact(), REAL, None),
    ],
)
def test_the_medium_for_each_recipient(recipient, kind, contact, available, expected) -> None:
    assert choose(recipient, kind, contact, available) == expected
