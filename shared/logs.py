"""Structured JSON logging. Phone and ID numbers are masked in every line, whatever logged them."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Matched against a copy with full-width digits, letters, +, -, (, ) and the ideographic space
# folded to ASCII (one character for one, so the spans hold in the original text): intake accepts
# "１３８００１３８０００", and a log line carries what was typed.
_FOLD = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
    0x3000: 0x20,
}
_SEP = r"[ \-–—]"  # one space or dash between groups of digits, as people write numbers
# Mainland mobiles: 11 digits, maybe grouped 3-4-4, maybe after +86, 0086 or a bare 86.
_MOBILE = rf"1[3-9][0-9](?:{_SEP}?[0-9]{{4}}){{2}}"
# Landlines: area code (0758, 020, "(0758)"), then a 7- or 8-digit local number (maybe grouped
# 3-4 or 4-4); after +86 or 0086 the area code may drop its trunk 0 (+86 758 1234567).
_AREA = r"(?:\(0[1-9][0-9]{1,2}\)|0[1-9][0-9]{1,2})"
_AREA_INTL = r"(?:\(0?[1-9][0-9]{1,2}\)|0?[1-9][0-9]{1,2})"
_LANDLINE = rf"(?:(?:\+|00)86{_SEP}?{_AREA_INTL}|{_AREA}){_SEP}?[1-9][0-9]{{2,3}}{_SEP}?[0-9]{{4}}"
# Not touching a letter or digit: a grouped or prefixed number inside an id is not a phone.
_ALONE_BEFORE, _ALONE_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"

# One pass, left to right: a UUID (or a tracking code, DW-20261127-418305-7, whose number may
# have up to 12 digits) is matched whole and kept, so digits inside it are never taken for a
# phone or ID number.
_SENSITIVE = re.compile(
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<code>[A-Z]{1,6}-[0-9]{8}-[0-9]{6,12}-[0-9X](?![0-9A-Za-z]))"
    # Resident ID numbers: 18 characters (the last may be X), or the old 15 digits (area code,
    # YYMMDD, sequence: the date has to be one, so that an ordinary 15-digit number is kept).
    rf"|(?P<id>{_ALONE_BEFORE}(?:[0-9]{{17}}[0-9Xx]"
    r"|[1-8][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})"
    rf"{_ALONE_AFTER})"
    rf"|(?P<phone>{_ALONE_BEFORE}(?:(?:\+|00)?86{_SEP}?)?{_MOBILE}{_ALONE_AFTER}"
    rf"|{_ALONE_BEFORE}{_LANDLINE}{_ALONE_AFTER}"
    # Eleven digits in a row are a mobile even when glued to letters (tel13800138000).
    r"|(?<![0-9])1[3-9][0-9]{9}(?![0-9]))"
)
_MASKS = {"id": "[id-number]", "phone": "[phone]"}

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


# The appeal the current work is about (a consumer's message, a route's `appeal_id`): every line
# logged meanwhile names it, so one appeal's lines can be found across the services.
_appeal: ContextVar[str | None] = ContextVar("jiban_appeal_id", default=None)


class about_appeal:
    """`with about_appeal(appeal_id):` lines logged inside the block name `appeal_id` (None: no
    appeal). A class, not a generator: it runs for every message consumed."""

    __slots__ = ("_appeal_id", "_token")
    _token: Token[str | None]

    def __init__(self, appeal_id: str | None) -> None:
        self._appeal_id = appeal_id

    def __enter__(self) -> None:
        self._token = _appeal.set(self._appeal_id)

    def __exit__(self, *_exc: object) -> None:
        _appeal.reset(self._token)


def set_appeal(appeal_id: str | None) -> None:
    """Lines logged from here on in this context name `appeal_id` (an HTTP request's: the
    request is its own task, and the value goes with it)."""
    _appeal.set(appeal_id)


def redact(text: str) -> str:
    parts: list[str] = []
    done = 0
    for match in _SENSITIVE.finditer(text.translate(_FOLD)):
        mask = _MASKS.get(match.lastgroup or "")
        if mask is not None:
            parts += (text[done : match.start()], mask)
            done = match.end()
    parts.append(text[done:])
    return "".join(parts)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        appeal_id = _appeal.get()
        if appeal_id is not None:
            entry.setdefault("appeal_id", appeal_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = redact(json.dumps(entry, ensure_ascii=False, default=str))
        span = trace.get_current_span().get_span_context()
        if not span.is_valid:
            return line
        # After the masking: eleven decimal digits in a row inside a hex id would pass for a
        # phone number.
        ids = f'"trace_id": "{span.trace_id:032x}", "span_id": "{span.span_id:016x}"'
        return f"{line[:-1]}, {ids}}}"


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-message chatter from the frameworks drowns what matters at INFO.
    for noisy in ("aiokafka", "uvicorn.access", "faststream.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
