"""Text clean-up shared by every channel."""

import pytest

from shared.credit_code import ALPHABET, complete
from shared.normalize import (
    clean_text,
    fold_width,
    normalize_credit_code,
    normalize_identifier,
    normalize_phone,
)

CREDIT_CODE = complete("91441200MA4WK3Q5X")


# --- prose ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  大旺大道积水  ", "大旺大道积水"),
        ("大旺\u3000\u3000大道 \t 积水", "大旺 大道 积水"),  # ideographic spaces, tabs
        ("Ａ栋１２０３室", "A栋1203室"),  # full-width letters and digits
        ("严重，车辆无法通行！（请尽快）", "严重，车辆无法通行！（请尽快）"),  # punctuation kept
        ("厂房2000㎡，温度38℃", "厂房2000㎡，温度38℃"),  # no NFKC surprises in prose
        ("路灯\u200b不亮\ufeff", "路灯不亮"),  # zero-width space, BOM
        ("停水\x00两天\x07", "停水两天"),  # NUL (JSONB refuses it), BEL
        ("\u202e反向文字\u202c", "反向文字"),  # bidi override hides text from a reader
        ("第一行\n第二行", "第一行 第二行"),  # one-line fields lose line breaks
        ("", ""),
        (" \u3000\t\n ", ""),
    ],
)
def test_clean_text_one_line(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_multiline_keeps_paragraphs_and_drops_blank_lines() -> None:
    raw = "  标题：宿舍停水  \r\n\r\n\u3000\u3000正文第一段，已停两天。\n\n\n第二段  请协调。\u2029"
    assert (
        clean_text(raw, multiline=True) == "标题：宿舍停水\n正文第一段，已停两天。\n第二段 请协调。"
    )


def test_emoji_sequences_survive() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_text(f" 一家{family}没水 ") == f"一家{family}没水"


def test_composed_and_decomposed_forms_compare_equal() -> None:
    assert clean_text("cafe\u0301") == clean_text("café") == "café"


def test_fold_width_touches_only_letters_digits_and_spaces() -> None:
    assert fold_width("０９ＡＺａｚ\u3000，－！") == "09AZaz ，－！"


def test_normalize_identifier_is_full_nfkc() -> None:
    assert normalize_identifier(" ＧＤ－２０２６\u3000００１ ") == "GD-2026 001"
    assert normalize_identifier("hw-017") == "hw-017"  # case kept


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("１３８\u3000００１３\u3000８０００", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("＋８６ １３８００１３８０００", "13800138000"),
        ("+86-13800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("0758-1234567", "0758-1234567"),
        ("07581234567", "0758-1234567"),
        ("0758 12345678", "0758-12345678"),
        ("（0758）1234567", "0758-1234567"),
        ("０７５８－１２３４５６７", "0758-1234567"),
        ("020-12345678", "020-12345678"),
        ("01012345678", "010-12345678"),
        ("+86 758 1234567", "0758-1234567"),
        ("+86 (0)758 1234567", "0758-1234567"),
        ("0086 20 12345678", "020-12345678"),
    ],
)
def test_valid_phones_are_normalised(raw: str, phone: str) -> None:
    assert normalize_phone(raw) == phone


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("123", "11 digits, got 3"),
        ("1380013800", "11 digits, got 10"),
        ("138001380001", "11 digits, got 12"),
        ("12800138000", "start with 13 to 19"),
        ("1234-5678", "11 digits, got 8"),
        ("0758-123456", "area code"),  # local number too short
        ("020-1234567", "area code"),  # 3-digit area codes have 8-digit numbers
        ("0758-1234567 转 801", "'转'"),  # extensions cannot be called back automatically
        ("138ABC00138", "'ABC'"),
        ("138+00138000", "'+'"),
        ("+1 415 555 0100", "mainland China"),
        ("001 415 555 0100", "mainland China"),
        ("--()", "no digits"),
        ("٣٨٠٠١٣٨٠٠٠١", "only digits"),  # Arabic-Indic digits are not ours
    ],
)
def test_invalid_phones_say_why(raw: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_phone(raw)
    assert reason in str(caught.value)


# --- credit codes -----------------------------------------------------------------------------


def test_credit_code_is_folded_upper_cased_and_checked() -> None:
    full_width = CREDIT_CODE.lower().translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert normalize_credit_code(f" {full_width} ") == CREDIT_CODE
    assert normalize_credit_code(f"{CREDIT_CODE[:6]} {CREDIT_CODE[6:]}") == CREDIT_CODE


def test_credit_code_errors_say_why() -> None:
    wrong = ALPHABET[(ALPHABET.index(CREDIT_CODE[-1]) + 1) % len(ALPHABET)]
    with pytest.raises(ValueError, match="check character should be"):
        normalize_credit_code(CREDIT_CODE[:-1] + wrong)
    with pytest.raises(ValueError, match="18 characters, got 17"):
        normalize_credit_code(CREDIT_CODE[:-1])
    with pytest.raises(ValueError, match="not allowed"):
        normalize_credit_code("91441200MA4WK3Q5O" + CREDIT_CODE[-1])  # O is not in the alphabet
