"""Structured logs: one JSON object per line, phone and ID numbers masked wherever they appear."""

import json
import logging
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

from shared.logs import JsonFormatter, about_appeal, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "[phone]"),
        ("请回电13912345678，谢谢", "请回电[phone]，谢谢"),
        ("phone=19912345678;", "phone=[phone];"),
        ("0758-1234567", "[phone]"),
        ("座机020-12345678转8", "座机[phone]转8"),
        ("07581234567", "[phone]"),
        ("身份证44120219900101123X", "身份证[id-number]"),
        ("id 441202199001011234 ok", "id [id-number] ok"),
        ("44120219900101123x", "[id-number]"),
        ("13800138000 and 13912345678", "[phone] and [phone]"),
        # Every form intake accepts: country codes, groups, full-width digits, brackets.
        ("+8613800138000", "[phone]"),
        ("call +86 138 0013 8000 now", "call [phone] now"),
        ("+86-138-0013-8000", "[phone]"),
        ("0086 13800138000", "[phone]"),
        ("008613800138000", "[phone]"),
        ("8613800138000", "[phone]"),
        ("138 0013 8000", "[phone]"),
        ("电话：138-0013-8000。", "电话：[phone]。"),
        ("１３８００１３８０００", "[phone]"),
        ("请拨打１３８－００１３－８０００，谢谢", "请拨打[phone]，谢谢"),
        ("＋８６\u3000１３８\u3000００１３\u3000８０００", "[phone]"),
        ("tel13800138000", "tel[phone]"),
        ("(0758) 3612345", "[phone]"),
        ("（０７５８）３６１２３４５", "[phone]"),
        ("０７５８ ３６１２３４５", "[phone]"),
        ("010 1234 5678", "[phone]"),
        ("+86 758 1234567", "[phone]"),
        ("0086-20-12345678", "[phone]"),
        # Old 15-digit ID numbers (area, YYMMDD, sequence); 18-digit ones ending in X or x.
        ("旧身份证441202900101123号", "旧身份证[id-number]号"),
        ("id=441202900101123", "id=[id-number]"),
        ("身份证４４１２０２１９９００１０１１２３Ｘ", "身份证[id-number]"),
        ("44120219900101123X, 44120219900101123x", "[id-number], [id-number]"),
    ],
)
def test_redact_masks(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "appeal 123e4567-e89b-12d3-a456-426614174000 assigned",
        "JB261127-7K3Q9X",
        "JB261128-138000",
        "DW-20261127-418305-7",
        "DW-20261128-0138001-5",
        "order 1234567890123456789",
        "offset 1042 partition 3",
        "credit code 91441200MA4WK3Q5X7",
        "2026-11-27T09:00:00.123+00:00",
        "2026-11-27T09:00:00.123456+08:00",
        "2026-11-27 09:00:00",
        # Tracking code numbers have up to 12 digits, shaped like a phone number or not.
        "DW-20261127-075812345678-3",
        "DW-20261127-13800138000-5",
        "DW-20261127-138001380001-X",
        # UUID fragments, hex ids, offsets, ordinary numbers.
        "8a2d-4c3b-9e6f",
        "9e6f-1380-0138-000a",
        "a138-0013-8000-4c3b",
        "ZQ12345-0123456789ab",
        "appeals.inbound.hotline_12345/0/1042",
        "partition 3 offset 13800 lag 1380013",
        "took 1380 ms",
        "1764230400123",
        "123456789012345",
        "127.0.0.1:5432",
    ],
)
def test_redact_leaves_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "uuid_text",
    [
        "0b7f5c1e-8a2d-4c3b-9e6f-13800138000a",  # mobile-like run then a hex letter
        "0b7f5c1e-8a2d-4c3b-0758-1234567abcde",  # landline-like run across two groups
        "0b7f5c1e-8a2d-4c3b-9e6f-012345678901",  # all-digit last group starting with 0
    ],
)
def test_redact_leaves_uuids_with_digit_runs_alone(uuid_text: str) -> None:
    assert redact(f"event_id={uuid_text}") == f"event_id={uuid_text}"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("dispatch"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> tuple[logging.Logger, Capture]:
    logger = logging.Logger("jiban.test")  # not registered: no global logging state touched
    handler = Capture()
    logger.addHandler(handler)
    return logger, handler


def test_one_json_line_with_service_level_and_message(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    logger.warning("assigned %s to %s", "JB261127-7K3Q9X", "李社工")
    (line,) = handler.lines
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["service"] == "dispatch"
    assert entry["level"] == "warning"
    assert entry["logger"] == "jiban.test"
    assert entry["message"] == "assigned JB261127-7K3Q9X to 李社工"
    assert "time" in entry


def test_extra_fields_are_included(captured: tuple[logging.Logger, Capture]) -> None:
    logger, handler = captured
    logger.info("handled", extra={"topic": "appeals.assignments", "offset": 1042})
    entry = json.loads(handler.lines[0])
    assert entry["topic"] == "appeals.assignments"
    assert entry["offset"] == 1042
    assert "args" not in entry and "msg" not in entry and "levelno" not in entry


def test_phone_is_masked_in_message_and_extra(captured: tuple[logging.Logger, Capture]) -> None:
    logger, handler = captured
    logger.info("calling 13800138000", extra={"contact": "0758-1234567", "who": "王先生"})
    (line,) = handler.lines
    assert "13800138000" not in line
    assert "0758-1234567" not in line
    entry = json.loads(line)
    assert entry["message"] == "calling [phone]"
    assert entry["contact"] == "[phone]"
    assert entry["who"] == "王先生"


def test_exception_is_one_line_and_masked(captured: tuple[logging.Logger, Capture]) -> None:
    logger, handler = captured
    try:
        raise ValueError("bad phone 13912345678")
    except ValueError:
        logger.exception("failed")
    (line,) = handler.lines
    assert "\n" not in line
    entry = json.loads(line)
    assert "ValueError: bad phone [phone]" in entry["exception"]
    assert "13912345678" not in line


def test_non_json_extra_values_are_stringified(captured: tuple[logging.Logger, Capture]) -> None:
    logger, handler = captured
    logger.info("x", extra={"payload": {1, 2}, "origin": sys})
    entry = json.loads(handler.lines[0])
    assert isinstance(entry["payload"], str)
    assert "sys" in entry["origin"]


# --- the trace and the appeal a line belongs to ------------------------------------------------

# Eleven decimal digits in a row, as a random trace id can have: a phone number to the masking.
PHONE_LIKE_TRACE = "13800138000a4da6a3ce929d0e0e4736"


def in_span(trace_id: str, span_id: str) -> Any:
    context = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False)
    return trace.use_span(NonRecordingSpan(context))


def test_a_line_inside_a_span_carries_its_trace_and_span_ids_unmasked(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    with in_span(PHONE_LIKE_TRACE, "00f067aa0ba902b7"):
        logger.info("handled", extra={"phone": "13912345678"})
    logger.info("outside")
    inside, outside = (json.loads(line) for line in handler.lines)
    assert (inside["trace_id"], inside["span_id"]) == (PHONE_LIKE_TRACE, "00f067aa0ba902b7")
    assert inside["phone"] == "[phone]"  # the rest of the line is masked as ever
    assert "trace_id" not in outside and "span_id" not in outside


def test_a_line_names_the_appeal_being_worked_on(
    captured: tuple[logging.Logger, Capture],
) -> None:
    logger, handler = captured
    appeal_id = "0b7f5c1e-8a2d-4c3b-9e6f-13800138000a"
    with about_appeal(appeal_id):
        logger.info("assigned")
        # A line that says which appeal it is about itself is believed.
        logger.info("merged", extra={"appeal_id": "6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"})
        with about_appeal(None):
            logger.info("an officer changed")
    logger.info("after")
    assigned, merged, officer, after = (json.loads(line) for line in handler.lines)
    assert assigned["appeal_id"] == appeal_id
    assert merged["appeal_id"] == "6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"
    assert "appeal_id" not in officer and "appeal_id" not in after
