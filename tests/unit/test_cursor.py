"""Opaque pagination cursors (shared/http.py)."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.http import BadCursor, decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["2026-11-27T09:00:00+00:00", "6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"],
        [42, None, True, 1.5],
        ["大旺社区", "JB261127-7K3Q9X"],
    ],
)
def test_round_trip(values: list[object]) -> None:
    assert decode_cursor(encode_cursor(values)) == values


def test_datetimes_and_uuids_come_back_as_strings() -> None:
    at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    appeal_id = uuid.uuid4()
    assert decode_cursor(encode_cursor([at, appeal_id])) == [str(at), str(appeal_id)]


def test_cursor_is_url_safe() -> None:
    cursor = encode_cursor(["???>>>~~~", "诉求" * 10])
    assert not set(cursor) - set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
    )


@pytest.mark.parametrize("garbage", ["not a cursor!", "abc", "", "游标", "////"])
def test_garbage_is_a_bad_cursor(garbage: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(garbage)


def test_non_utf8_payload_is_a_bad_cursor() -> None:
    with pytest.raises(BadCursor):
        decode_cursor(base64.urlsafe_b64encode(b"\xff\xfe\x00").decode())


@pytest.mark.parametrize("value", [{"after": 1}, "after", 7, None])
def test_json_that_is_not_a_list_is_a_bad_cursor(value: object) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_bad_cursor_is_a_value_error() -> None:
    assert issubclass(BadCursor, ValueError)
