"""Structured JSON logging. Phone and ID numbers are masked in every line, whatever logged them."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# One pass, left to right: a UUID (or other long hex id) is matched whole and kept, so digits
# inside it are never taken for a phone number.
_SENSITIVE = re.compile(
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<id>(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z]))"
    r"|(?P<phone>(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d))"
)
_MASKS = {"id": "[id-number]", "phone": "[phone]"}

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def _mask(match: re.Match[str]) -> str:
    return _MASKS.get(match.lastgroup or "", match.group(0))


def redact(text: str) -> str:
    return _SENSITIVE.sub(_mask, text)


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-message chatter from the frameworks drowns what matters at INFO.
    for noisy in ("aiokafka", "uvicorn.access", "faststream.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
