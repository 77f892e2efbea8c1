"""Tracking codes: PREFIX-YYYYMMDD-<keyed permutation of the day's counter>-<MOD 11-2 check>."""

import itertools
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.intake.tracking_codes.codes import (
    _permute,
    check_character,
    format_tracking_code,
    is_valid_tracking_code,
    local_day,
    normalise_tracking_code,
    parse_tracking_code,
    validate_prefix,
)
from shared.logs import redact

FORMAT = re.compile(r"^[A-Z]{1,6}-\d{8}-\d{6,}-[0-9X]$")
KEY = b"jiban-unit-test-key-0000000000000"
OTHER_KEY = b"jiban-unit-test-key-1111111111111"
DAY = date(2026, 11, 27)
N = 20_000


@pytest.fixture(scope="module")
def codes() -> list[str]:
    """The first N codes of one day under one key (computed once: ~0.3 s)."""
    return [format_tracking_code("DW", DAY, n, KEY) for n in range(1, N + 1)]


def digits_of(code: str) -> int:
    return int(code.split("-")[2])


def test_format(codes: list[str]) -> None:
    assert all(FORMAT.match(code) for code in codes)
    assert all(code.startswith("DW-20261127-") for code in codes)
    assert all(len(code.split("-")[2]) == 6 for code in codes)


def test_distinct_counters_give_distinct_codes(codes: list[str]) -> None:
    assert len(set(codes)) == N
    assert len({digits_of(code) for code in codes}) == N


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_the_permutation_is_a_bijection_of_its_whole_domain(width: int) -> None:
    # The same construction as for 6+ digits, exhaustively on domains small enough to enumerate
    # (odd and even widths: the halves differ in size when the width is odd).
    image = {_permute(x, width, KEY, b"t") for x in range(10**width)}
    assert image == set(range(10**width))


def test_consecutive_counters_do_not_give_consecutive_numbers(codes: list[str]) -> None:
    numbers = [digits_of(code) for code in codes]
    steps = [abs(b - a) for a, b in itertools.pairwise(numbers)]
    assert min(steps) > 1
    # Not a disguised affine map either (whose steps would all be one constant mod 10**6): the
    # steps are as varied as random ones (~1 % repeat by the birthday bound).
    wrapped = {(b - a) % 10**6 for a, b in itertools.pairwise(numbers)}
    assert len(wrapped) > 0.97 * len(steps)
    # And the numbers spread over the whole domain, not just the low end.
    assert max(numbers) > 900_000 and min(numbers) < 100_000


def test_keys_days_and_prefixes_give_different_numbers() -> None:
    same_key = [format_tracking_code("DW", DAY, n, KEY) for n in range(1, 501)]
    other_key = [format_tracking_code("DW", DAY, n, OTHER_KEY) for n in range(1, 501)]
    next_day = [format_tracking_code("DW", DAY + timedelta(days=1), n, KEY) for n in range(1, 501)]
    for others in (other_key, next_day):
        same = sum(digits_of(a) == digits_of(b) for a, b in zip(same_key, others, strict=True))
        assert same <= 1  # chance agreement is about 1 in 10**6 per code


def test_the_same_inputs_give_the_same_code() -> None:
    assert format_tracking_code("DW", DAY, 42, KEY) == format_tracking_code("DW", DAY, 42, KEY)


def test_widens_to_seven_digits_after_a_million() -> None:
    six = format_tracking_code("DW", DAY, 999_999, KEY)
    seven = [format_tracking_code("DW", DAY, n, KEY) for n in range(1_000_000, 1_000_200)]
    assert len(six.split("-")[2]) == 6
    assert all(FORMAT.match(code) and len(code.split("-")[2]) == 7 for code in seven)
    assert len(set(seven)) == len(seven)
    assert all(is_valid_tracking_code(code, "DW") for code in seven)


@pytest.mark.parametrize("n", [0, -1, 10**12, True])
def test_rejects_counters_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        format_tracking_code("DW", DAY, n, KEY)


@pytest.mark.parametrize("prefix", ["", "dw", "D W", "DAWANGX", "大旺", "D1"])
def test_rejects_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError):
        validate_prefix(prefix)
    with pytest.raises(ValueError):
        format_tracking_code(prefix, DAY, 1, KEY)


def test_rejects_short_keys() -> None:
    with pytest.raises(ValueError):
        format_tracking_code("DW", DAY, 1, b"short")


def test_check_character_is_iso_7064_mod_11_2() -> None:
    # ORCID uses ISO 7064 MOD 11-2: 0000-0002-1825-0097 is its published example.
    assert check_character("000000021825009") == "7"
    # Its known "X" example: 0000-0002-1694-233X.
    assert check_character("000000021694233") == "X"


def sample(codes: list[str]) -> list[str]:
    return [*codes[:: N // 60], format_tracking_code("JB", DAY, 1234567, KEY)]


def test_check_catches_every_single_digit_change(codes: list[str]) -> None:
    for code in sample(codes):
        for i, char in enumerate(code):
            if not (char.isdigit() or char == "X"):
                continue
            for other in "0123456789X":
                if other == char or (other == "X" and i != len(code) - 1):
                    continue
                changed = code[:i] + other + code[i + 1 :]
                assert not is_valid_tracking_code(changed), (code, changed)


def test_check_catches_every_adjacent_transposition(codes: list[str]) -> None:
    for code in sample(codes):
        # Adjacent as spoken: the hyphens are not said, so swaps across them count too.
        compact = code.replace("-", "")
        start = compact.index("2")  # after the prefix
        for i in range(start, len(compact) - 1):
            a, b = compact[i], compact[i + 1]
            if a == b:
                continue
            swapped = compact[:i] + b + a + compact[i + 2 :]
            assert not is_valid_tracking_code(swapped), (code, swapped)


def test_parse_round_trip(codes: list[str]) -> None:
    for code in sample(codes):
        prefix, day, digits = parse_tracking_code(code)
        assert code.startswith(f"{prefix}-{day:%Y%m%d}-{digits}-")
        assert str(parse_tracking_code(code)) == code
        assert normalise_tracking_code(code) == code
        assert is_valid_tracking_code(code)
        assert is_valid_tracking_code(code, prefix=prefix)


def to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in text)


def test_accepts_what_people_read_over_the_phone() -> None:
    code = format_tracking_code("DW", DAY, 42, KEY)
    number, check = code.split("-")[2:]
    spoken = [
        code.lower(),
        to_full_width(code),
        to_full_width(code.lower()),
        f"  DW 2026 1127 {number[:3]} {number[3:]} {check}  ",
        f"dw20261127{number}{check}",
        f"DW—20261127—{number}—{check}",  # an em dash typed in a Chinese input method
        f"DW\t20261127\n{number} {check.lower()}",
    ]
    for text in spoken:
        assert is_valid_tracking_code(text, prefix="DW"), text
        assert normalise_tracking_code(text) == code
        assert parse_tracking_code(text) == ("DW", DAY, number)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "DW-20261127-000042",  # no check character
        "DW-20261127-00042-7",  # five digits
        "DW-20261127-000042-A",
        "DW-2026112-000042-7",  # a date digit missing
        "DWXYZABC-20261127-000042-7",  # prefix too long
        "20261127-000042-7",  # no prefix
        "DW-20261127-000042-77",
        "DW/20261127/000042/7",
        "大旺-20261127-000042-7",
    ],
)
def test_rejects_malformed_codes(text: str) -> None:
    assert not is_valid_tracking_code(text)
    with pytest.raises(ValueError):
        parse_tracking_code(text)


def test_rejects_impossible_dates_even_with_a_right_check() -> None:
    body = "DW20261332123456"  # 32 December
    code = f"DW-20261332-123456-{check_character(body)}"
    assert not is_valid_tracking_code(code)


def test_validate_with_a_prefix() -> None:
    code = format_tracking_code("GX", DAY, 7, KEY)
    assert is_valid_tracking_code(code, prefix="GX")
    assert is_valid_tracking_code(code, prefix="gx")
    assert not is_valid_tracking_code(code, prefix="DW")


def test_never_raises_on_junk() -> None:
    for junk in [None, 42, b"DW-20261127-000042-7", "-" * 50, "\x00"]:
        assert not is_valid_tracking_code(junk)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("received_at", "day"),
    [
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), date(2026, 11, 28)),  # 01:00 in Shanghai
        (datetime(2026, 11, 27, 15, 59, tzinfo=UTC), date(2026, 11, 27)),  # 23:59 in Shanghai
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), date(2026, 11, 28)),  # midnight in Shanghai
        (datetime(2026, 11, 28, 1, 0, tzinfo=timezone(timedelta(hours=8))), date(2026, 11, 28)),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_date_is_the_local_date_in_shanghai(received_at: datetime, day: date) -> None:
    assert local_day(received_at) == day
    assert format_tracking_code("DW", local_day(received_at), 1, KEY).startswith(
        f"DW-{day:%Y%m%d}-"
    )


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        local_day(datetime(2026, 11, 27, 17, 0))


def test_log_masking_leaves_codes_alone(codes: list[str]) -> None:
    # Logs mask phone and ID numbers; a tracking code must survive that to be useful in them.
    for code in [*sample(codes), format_tracking_code("DW", DAY, 10**11, KEY)]:
        assert redact(f"accepted {code}") == f"accepted {code}"
