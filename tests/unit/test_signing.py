"""Signed adapter requests: the canonical string, and each way a request is refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from services.intake.channel_keys.keys import ChannelKey, Scope
from services.intake.channel_keys.signatures import (
    AuthFailure,
    FailureKind,
    Verified,
    has_signature_headers,
    read_headers,
    replayed,
    verify,
)
from shared.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    canonical,
    sign,
    signature_headers,
)
from shared.vocabulary import Channel

NOW = 1_767_225_600
SECRET = "s3cret-for-tests"
BODY = b'{"channel": "hotline_12345", "external_id": "GD-1"}'
PATH = "/v1/appeals"


def key(**changes: object) -> ChannelKey:
    values: dict[str, object] = {
        "key_id": "hotline-a",
        "channel": Channel.HOTLINE_12345,
        "scopes": frozenset({Scope.SUBMIT}),
        "secret": SecretStr(SECRET),
    }
    values.update(changes)
    return ChannelKey(**values)  # type: ignore[arg-type]


def headers(*, at: int = NOW, body: bytes = BODY, path: str = PATH, method: str = "POST"):
    return signature_headers("hotline-a", SECRET, method, path, body, at)


def check(request_headers, *, body: bytes = BODY, path: str = PATH, **kwargs):
    options = {"method": "POST", "now": NOW, "key": key(), "scope": "submit"}
    options.update(kwargs)
    return verify(request_headers, path=path, body=body, **options)


def failure(result: Verified | AuthFailure) -> FailureKind:
    assert isinstance(result, AuthFailure), result
    return result.kind


def test_canonical_string_is_method_path_timestamp_body_joined_by_newlines():
    assert canonical("post", "/v1/appeals?x=1", 1700000000, b"{}") == (
        b"POST\n/v1/appeals\n1700000000\n{}"
    )
    assert canonical("GET", "/v1/x", "1", b"") == b"GET\n/v1/x\n1\n"


def test_signature_is_lowercase_hex_hmac_sha256_an_adapter_can_reproduce():
    expected = hmac.new(
        SECRET.encode(), b"POST\n/v1/appeals\n" + str(NOW).encode() + b"\n" + BODY, hashlib.sha256
    ).hexdigest()
    assert sign(SECRET, "POST", PATH, NOW, BODY) == expected
    assert sign(SecretStr(SECRET), "post", PATH, str(NOW), BODY) == expected
    assert expected == expected.lower() and len(expected) == 64


def test_good_signature_gives_the_key_and_when_its_record_may_go():
    result = check(headers())
    assert isinstance(result, Verified)
    assert result.key.key_id == "hotline-a"
    assert result.signature == headers()[HEADER_SIGNATURE]
    assert result.expires_at == NOW + 300


def test_header_names_are_case_insensitive():
    lowered = {k.lower(): v for k, v in headers().items()}
    assert isinstance(check(lowered), Verified)


@pytest.mark.parametrize("dropped", [HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE])
def test_missing_header_is_401_naming_it(dropped):
    partial = {k: v for k, v in headers().items() if k != dropped}
    result = check(partial)
    assert failure(result) is FailureKind.MISSING_HEADER
    assert result.status == 401
    assert result.detail()[0]["loc"] == ["header", dropped]
    assert result.detail()[0]["type"] == "missing_header"


def test_no_headers_at_all_names_the_key_header_first():
    result = read_headers({})
    assert isinstance(result, AuthFailure) and result.loc == ("header", HEADER_KEY)
    assert not has_signature_headers({"content-type": "application/json"})
    assert has_signature_headers({"x-jiban-signature": "abc"})


def test_timestamp_that_is_not_unix_seconds_is_refused():
    bad = {**headers(), HEADER_TIMESTAMP: "2026-01-01T00:00:00Z"}
    assert failure(check(bad)) is FailureKind.INVALID_TIMESTAMP


def test_wrong_signature_is_401_signature_mismatch():
    wrong = {**headers(), HEADER_SIGNATURE: sign("another secret", "POST", PATH, NOW, BODY)}
    result = check(wrong)
    assert failure(result) is FailureKind.SIGNATURE_MISMATCH
    assert result.status == 401
    assert result.detail() == [
        {"loc": ["header", HEADER_SIGNATURE], "msg": result.msg, "type": "signature_mismatch"}
    ]


def test_uppercase_hex_is_not_the_same_signature():
    # One signature, one spelling: the replay record is keyed by it.
    upper = {**headers(), HEADER_SIGNATURE: headers()[HEADER_SIGNATURE].upper()}
    assert failure(check(upper)) is FailureKind.SIGNATURE_MISMATCH


def test_non_ascii_signature_is_a_mismatch_not_a_crash():
    assert failure(check({**headers(), HEADER_SIGNATURE: "签名"})) is (
        FailureKind.SIGNATURE_MISMATCH
    )


def test_tampered_body_method_or_path_breaks_the_signature():
    assert failure(check(headers(), body=BODY.replace(b"GD-1", b"GD-2"))) is (
        FailureKind.SIGNATURE_MISMATCH
    )
    assert failure(check(headers(), method="PUT")) is FailureKind.SIGNATURE_MISMATCH
    assert failure(check(headers(), path="/v1/appeals/x")) is FailureKind.SIGNATURE_MISMATCH


def test_query_string_is_not_part_of_what_is_signed():
    assert isinstance(check(headers(), path="/v1/appeals?dry_run=1"), Verified)
    assert isinstance(check(headers(path="/v1/appeals?a=b"), path=PATH), Verified)


def test_empty_body_signs_as_empty():
    get = headers(method="GET", body=b"")
    assert isinstance(check(get, method="GET", body=b""), Verified)


@pytest.mark.parametrize(
    ("signed_at", "ok"),
    [(NOW - 300, True), (NOW + 300, True), (NOW - 301, False), (NOW + 301, False)],
)
def test_timestamps_more_than_300_s_away_are_stale(signed_at, ok):
    result = check(headers(at=signed_at))
    if ok:
        assert isinstance(result, Verified)
        assert result.expires_at == signed_at + 300
    else:
        assert failure(result) is FailureKind.STALE_TIMESTAMP
        assert result.status == 401


def test_window_is_configurable():
    assert failure(check(headers(at=NOW - 61), window_s=60)) is FailureKind.STALE_TIMESTAMP


def test_unknown_key_and_revoked_key_are_401():
    assert failure(check(headers(), key=None)) is FailureKind.UNKNOWN_KEY
    # A lookup result for another id is no key at all.
    assert failure(check(headers(), key=key(key_id="other"))) is FailureKind.UNKNOWN_KEY
    revoked = check(headers(), key=key(revoked_at=datetime(2026, 1, 1, tzinfo=UTC)))
    assert failure(revoked) is FailureKind.REVOKED_KEY
    assert revoked.status == 401


def test_dev_keys_do_not_exist_outside_dev_mode():
    dev = key(key_id="dev-hotline_12345", secret=SecretStr("dev-secret-hotline_12345"))
    request = signature_headers("dev-hotline_12345", dev.secret, "POST", PATH, BODY, NOW)
    assert isinstance(check(request, key=dev), Verified)
    assert failure(check(request, key=dev, allow_dev_keys=False)) is FailureKind.UNKNOWN_KEY


def test_key_without_the_scope_is_403():
    result = check(headers(), scope="follow_up")
    assert failure(result) is FailureKind.WRONG_SCOPE
    assert result.status == 403
    both = key(scopes=frozenset(Scope))
    assert isinstance(check(headers(), key=both, scope=Scope.FOLLOW_UP), Verified)


def test_key_used_for_another_channel_is_403_naming_the_body_channel():
    result = check(headers(), channel="mayor_line")
    assert failure(result) is FailureKind.WRONG_CHANNEL
    assert result.status == 403
    assert result.detail()[0]["loc"] == ["body", "channel"]
    assert isinstance(check(headers(), channel="hotline_12345"), Verified)


def test_replayed_is_a_401_on_the_signature():
    result = replayed()
    assert result.kind is FailureKind.REPLAYED and result.status == 401
    assert result.detail()[0]["loc"] == ["header", HEADER_SIGNATURE]


def test_secret_is_not_in_the_key_repr():
    assert SECRET not in repr(key())
    assert SECRET not in str(key())
