"""Masks of the appellant's phone and name (services/notify/decisions/masking.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.decisions.masking import mask_name, mask_phone

# --- phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        (" 138-1234-5678 ", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),  # full-width digits, as some forms send them
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+8613812345678", "+86 138****5678"),
        ("0086-138-1234-5678", "+86 138****5678"),
        ("8613812345678", "+86 138****5678"),
        ("(0758) 281-2345", "075****2345"),  # a landline with its area code: 11 digits
        ("075812345678", "075*****5678"),
        ("2812345", "*****45"),  # a landline without area code: short, at most 2 visible
        ("12345", "***45"),
        ("110", "**0"),
        ("12", "*2"),
        ("7", "*"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("phone", [None, "", "   ", " - "])
def test_mask_phone_of_nothing_is_none(phone: str | None) -> None:
    assert mask_phone(phone) is None


def test_eighty_six_is_only_a_country_code_before_a_mobile() -> None:
    # 86 followed by something that is not an 11-digit mobile is just digits.
    assert mask_phone("86123") == "***23"


# Plain digit strings; those a reader could take for +86 prefixes have their own cases above.
_digits = st.text(alphabet="0123456789", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(("86", "0086"))
)


@given(_digits)
def test_mask_phone_hides_at_least_half_or_four_and_keeps_the_length(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked is not None
    assert len(masked) == len(phone)  # the length hint: a mobile still looks like one
    assert masked.count("*") >= min(4, (len(phone) + 1) // 2)
    # What stays visible is the input's own character at the same place, never invented.
    assert all(m in ("*", p) for m, p in zip(masked, phone, strict=True))
    if len(phone) >= 3:
        assert masked != phone


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["+86", "+86 ", "0086"]))
def test_mask_phone_of_a_mobile_with_country_code(mobile: str, prefix: str) -> None:
    masked = mask_phone(prefix + mobile)
    assert masked == f"+86 {mobile[:3]}****{mobile[-4:]}"
    assert mobile not in masked


@given(st.text(alphabet="0123456789 +-", max_size=24))
def test_mask_phone_is_idempotent(phone: str) -> None:
    once = mask_phone(phone)
    assert mask_phone(once) == once


# --- name --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李女士", "李**"),
        ("Alice", "A****"),
        ("欧阳娜娜", "欧***"),
        ("王五", "王*"),
        ("  李女士 ", "李**"),
        ("Alice Smith", "A**********"),
        ("李", "*"),  # keeping the first character would keep all of it
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("name", [None, "", "  "])
def test_mask_name_of_nothing_is_none(name: str | None) -> None:
    assert mask_name(name) is None


_names = st.text(min_size=1, max_size=30).filter(
    lambda s: s == s.strip() and "*" not in s and unicodedata.normalize("NFC", s) == s
)


@given(_names)
def test_mask_name_keeps_the_first_character_and_the_length(name: str) -> None:
    masked = mask_name(name)
    assert masked is not None
    assert len(masked) == len(name)
    assert set(masked[1:]) <= {"*"}
    if len(name) >= 2:
        assert masked[0] == name[0]
    if len(name) >= 3:
        assert masked != name
    assert mask_name(masked) == masked
