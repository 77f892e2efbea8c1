"""Masks for the appellant's phone and name (pure), for everyone but the appellant and the
officers responsible for the appeal: enough to recognise a case on the phone, not to call.

- Phone: a mainland mobile shows its first 3 and last 4 digits (``138****5678``), the way
  Chinese service SMS do; ``+86``/``0086`` stays visible as ``+86 ``. Shorter or odd input keeps
  at most the last 2 characters, and never more than half, visible.
- Name: the first character and one ``*`` per other character (``李**``, ``A****``); a name of
  one character is a single ``*``.

Both keep the length (the number of characters masked), so a reader can tell a mobile from an
extension. Both are idempotent: masking a mask gives the same mask. Blank input gives None,
like a missing value: there is nothing to show."""

from __future__ import annotations

import re
import unicodedata

# What people type between digits: spaces, hyphens, dots, brackets (after NFKC, so full-width
# forms are already the ASCII ones; the Unicode dashes NFKC keeps are listed).
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−().]+")
_CHINA = re.compile(r"^(?:\+86|0086|86(?=1[0-9]{10}$))(.+)$")
_MOBILE_LENGTH = 11


def mask_phone(phone: str | None) -> str | None:
    """ "13812345678" → "138****5678"; "+86 138-1234-5678" → "+86 138****5678"."""
    if phone is None:
        return None
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", phone))
    if not compact:
        return None
    prefix = ""
    china = _CHINA.match(compact)
    if china is not None:
        prefix, compact = "+86 ", china.group(1)
    n = len(compact)
    if n >= _MOBILE_LENGTH:
        return prefix + compact[:3] + "*" * (n - 7) + compact[-4:]
    # Not a mobile: a short code or a fragment shows too much with 7 visible, so at most 2.
    visible = min(2, n // 2)
    return prefix + "*" * (n - visible) + (compact[n - visible :] if visible else "")


def mask_name(name: str | None) -> str | None:
    """ "李女士" → "李**", "Alice" → "A****"."""
    if name is None:
        return None
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        return None
    if len(text) == 1:
        # Keeping the first character would keep the whole name.
        return "*"
    return text[0] + "*" * (len(text) - 1)
