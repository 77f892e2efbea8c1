"""The unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters: registration authority (1), organisation type (1), region code (6),
organisation code (9) and a check character computed modulo 31 over the first seventeen.
"""

from __future__ import annotations

# 31 characters: the standard drops I, O, Z, S and V because they read like 1, 0, 2, 5 and U.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CODE_LENGTH = 18

_VALUES: dict[str, int] = {char: value for value, char in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    """Return the check character for the first seventeen characters of a code."""
    if len(first17) != CODE_LENGTH - 1:
        raise ValueError(f"expected {CODE_LENGTH - 1} characters, got {len(first17)}")
    bad = sorted({char for char in first17 if char not in _VALUES})
    if bad:
        raise ValueError(f"characters not allowed in a credit code: {''.join(bad)!r}")
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    # The outer "% 31" maps a remainder of 0 to check value 0 instead of 31.
    return ALPHABET[(31 - total % 31) % 31]


def complete(first17: str) -> str:
    """Append the check character, giving the full eighteen-character code."""
    return first17 + check_character(first17)


def is_valid(code: str) -> bool:
    """True if `code` is a well-formed code with the right check character; never raises.

    Expects upper case: callers normalise (strip, upper) before asking.
    """
    if not isinstance(code, str) or len(code) != CODE_LENGTH:
        return False
    if any(char not in _VALUES for char in code):
        return False
    return check_character(code[:-1]) == code[-1]
