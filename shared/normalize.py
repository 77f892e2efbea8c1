"""Text clean-up for what people type (every channel's submissions, the directory's rosters): made
comparable and storable.

Two strengths, on purpose:
- prose (content, names, addresses) gets `clean_text`: full-width letters, digits and spaces
  become half-width, but Chinese punctuation (，：（）！？) is kept — full NFKC would turn
  "严重，车辆" into "严重,车辆" and "2000㎡" into "2000m2", which changes what the person wrote;
- identifiers (phone numbers, codes, external ids) get full NFKC (`normalize_identifier`),
  since there "１３８－００１３" must simply become "138-0013".
Both drop control and invisible format characters (PostgreSQL's JSONB refuses NUL; zero-width
spaces and bidi overrides hide text from the officer reading it).
"""

from __future__ import annotations

import re
import unicodedata

from shared.credit_code import ALPHABET, CODE_LENGTH, check_character

# Full-width ASCII letters and digits (U+FF10–FF19, U+FF21–FF3A, U+FF41–FF5A) and the
# ideographic space (U+3000) map to their half-width forms; nothing else.
_FULL_WIDTH_ALNUM = {
    **{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},
    **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},
    **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},
    0x3000: 0x20,
}
_ZERO_WIDTH_JOINER = "\u200d"  # kept: emoji sequences (👨‍👩‍👧) fall apart without it
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")


def fold_width(text: str) -> str:
    """Full-width letters, digits and spaces to half-width; punctuation untouched."""
    return text.translate(_FULL_WIDTH_ALNUM)


def _drop_invisible(text: str) -> str:
    # Cc (controls) and Cf (zero-width spaces, BOM, bidi overrides, soft hyphen), except the
    # whitespace controls, which the whitespace collapsing handles, and the zero-width joiner.
    return "".join(
        char
        for char in text
        if char.isspace()
        or char == _ZERO_WIDTH_JOINER
        or unicodedata.category(char) not in ("Cc", "Cf")
    )


def _collapse(line: str) -> str:
    return " ".join(line.split())


def clean_text(text: str, *, multiline: bool = False) -> str:
    """NFC, full-width letters/digits/spaces to half-width, invisible characters dropped, runs of
    whitespace collapsed to one space, stripped. With `multiline`, line breaks survive (a run of
    whitespace holding a line break becomes one "\\n"; blank lines go): an appeal's paragraphs
    stay readable for the officer."""
    text = _drop_invisible(fold_width(unicodedata.normalize("NFC", text)))
    if not multiline:
        return _collapse(text)
    lines = (_collapse(line) for line in _LINE_BREAKS.split(text))
    return "\n".join(line for line in lines if line)


def normalize_identifier(text: str) -> str:
    """Ids and codes: full NFKC ("ＧＤ－００１" → "GD-001"), invisible characters dropped,
    whitespace collapsed, stripped. Case is kept: external systems' ids may be case-sensitive."""
    return _collapse(_drop_invisible(unicodedata.normalize("NFKC", text)))


def normalize_credit_code(raw: str) -> str:
    """A unified social credit code, upper case, without spaces; ValueError saying what is wrong
    otherwise (GB 32100-2015: 18 characters, check character modulo 31)."""
    code = "".join(normalize_identifier(raw).split()).upper()
    if len(code) != CODE_LENGTH:
        raise ValueError(
            f"a unified social credit code has {CODE_LENGTH} characters, got {len(code)}"
        )
    try:
        expected = check_character(code[:-1])
    except ValueError as exc:  # characters outside the code's alphabet (I, O, Z, S, V, …)
        raise ValueError(f"not a unified social credit code: {exc}") from None
    if code[-1] != expected:
        raise ValueError(
            "not a valid unified social credit code (GB 32100-2015): "
            f"check character should be {expected!r}, got {code[-1]!r}"
        )
    return code


# --- phone numbers -----------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[0-9\s\-–—()]+$")
_MOBILE_DIGITS = "1[3-9][0-9]{9}"
# Area codes: 010 and 020–029 have three digits (and 8-digit local numbers); every other area
# code has four (0758 is Zhaoqing), with 7- or 8-digit local numbers.
_AREA_3, _LOCAL_3 = "0[12][0-9]", "[1-9][0-9]{7}"
_AREA_4, _LOCAL_4 = "0[3-9][0-9]{2}", "[1-9][0-9]{6,7}"
_MOBILE = re.compile(f"^{_MOBILE_DIGITS}$")
_LANDLINE_3 = re.compile(f"^({_AREA_3})({_LOCAL_3})$")
_LANDLINE_4 = re.compile(f"^({_AREA_4})({_LOCAL_4})$")

# For published schemas: a phone as `normalize_phone` writes it (it also reads full-width
# digits, spaces, brackets and +86), and a credit code's shape (its check character is beyond
# a pattern).
PHONE_PATTERN = f"^({_MOBILE_DIGITS}|{_AREA_3}-?{_LOCAL_3}|{_AREA_4}-?{_LOCAL_4})$"
CREDIT_CODE_PATTERN = f"^[{ALPHABET}]{{{CODE_LENGTH}}}$"

PHONE_FORMS = (
    "a mainland mobile (11 digits starting 13–19) or a landline with area code (0758-1234567)"
)


def normalize_phone(raw: str) -> str:
    """A mainland mobile as 11 digits ("13800138000") or a landline as "AREA-LOCAL"
    ("0758-1234567", "020-12345678").

    Accepts full-width digits, spaces, dashes, brackets around the area code, and the country
    code as "+86", "0086" or (before a mobile) "86"; "+86 758 1234567" (the international form,
    without the trunk 0) is a landline. Raises ValueError saying why otherwise (extensions and
    foreign numbers included: no follow-up call could reach them)."""
    text = normalize_identifier(raw)
    if not text:
        raise ValueError("empty phone number")
    if not _PHONE_CHARS.match(text):
        bad = sorted({c for c in text if not (c.isspace() or c in "0123456789+-–—()")})
        shown = "".join(bad) or "+"  # only a + that is not leading
        raise ValueError(
            f"a phone number has only digits, spaces, dashes and a leading +; got {shown!r}"
        )
    digits = re.sub(r"[^0-9]", "", text)
    international = False
    if digits.startswith("0086"):
        digits, international = digits[4:], True
    elif text.startswith("+"):
        if not digits.startswith("86"):
            raise ValueError("only mainland China numbers (+86) are accepted")
        digits, international = digits[2:], True
    elif digits.startswith("00"):
        raise ValueError("only mainland China numbers (0086) are accepted")
    elif digits.startswith("86") and len(digits) == 13 and _MOBILE.match(digits[2:]):
        digits = digits[2:]  # "8613800138000": a bare country code, only unambiguous here
    if international and digits[:1] not in ("0", "1", ""):
        digits = "0" + digits  # "+86 758 1234567" drops the trunk prefix 0
    if _MOBILE.match(digits):
        return digits
    for pattern in (_LANDLINE_3, _LANDLINE_4):
        match = pattern.match(digits)
        if match:
            return f"{match[1]}-{match[2]}"
    raise ValueError(f"{_phone_problem(digits)}; expected {PHONE_FORMS}")


def _phone_problem(digits: str) -> str:
    if not digits:
        return "no digits"
    if digits.startswith("1"):
        if len(digits) != 11:
            return f"a mobile number has 11 digits, got {len(digits)}"
        return "mobile numbers start with 13 to 19"
    if digits.startswith("0"):
        return "a landline needs a known area code and a 7- or 8-digit local number"
    return f"{len(digits)} digits without an area code"
