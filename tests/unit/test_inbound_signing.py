"""Signed Kafka messages from channel adapters: the canonical string, the helper adapters sign
with, what intake's unwrap keeps for the check, and the rules the check applies."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from services.intake.app import ConfigurationError, unsigned_channels
from services.intake.channel_keys.keys import ChannelKey, Scope
from services.intake.channel_keys.signatures import AuthFailure, FailureKind, Verified, verify
from services.intake.submissions.handlers import InboundSubmission, unwrap
from shared.deadletter import Origin
from shared.settings import Settings
from shared.signing import PUBLISH, canonical, kafka_signature_headers
from shared.vocabulary import Channel

TOPIC = "appeals.inbound.hotline_12345"
NOW = 1_767_225_600
VALUE = json.dumps({"order_no": "ZQ12345-1", "content": "路灯坏了"}, ensure_ascii=False).encode()
HOTLINE = ChannelKey("hotline-1", Channel.HOTLINE_12345, frozenset(Scope), SecretStr("s3cret"))


def _verify(headers: dict[str, str], *, key: ChannelKey = HOTLINE, **overrides: object) -> object:
    values: dict[str, object] = {
        "method": PUBLISH,
        "path": TOPIC,
        "body": VALUE,
        "now": NOW,
        "key": key,
        "scope": Scope.SUBMIT,
        "channel": "hotline_12345",
        "channel_loc": ("topic",),
    }
    values.update(overrides)
    return verify(headers, **values)  # type: ignore[arg-type]


def test_the_canonical_string_of_a_message_is_publish_the_logical_topic_the_time_and_the_value():
    assert canonical(PUBLISH, TOPIC, NOW, VALUE) == (
        b"PUBLISH\nappeals.inbound.hotline_12345\n1767225600\n" + VALUE
    )


def test_adapters_sign_a_message_with_hmac_sha256_over_it():
    headers = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW + 0.9)
    expected = hmac.new(
        b"s3cret", b"PUBLISH\nappeals.inbound.hotline_12345\n1767225600\n" + VALUE, hashlib.sha256
    ).hexdigest()
    assert headers == {
        "X-Jiban-Key": "hotline-1",
        "X-Jiban-Timestamp": "1767225600",
        "X-Jiban-Signature": expected,
    }
    assert isinstance(_verify(headers), Verified)


def test_what_the_signature_does_not_cover_is_refused():
    headers = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW)
    for changed in (
        {"body": VALUE + b" "},
        {"path": "appeals.inbound.mayor_line", "channel": "mayor_line"},
        {"method": "POST"},
    ):
        refused = _verify(headers, **changed)
        assert isinstance(refused, AuthFailure), changed
        assert refused.kind == FailureKind.SIGNATURE_MISMATCH


def test_another_channels_key_is_refused_naming_the_topic():
    mayor = ChannelKey("mayor-1", Channel.MAYOR_LINE, frozenset(Scope), SecretStr("m"))
    headers = kafka_signature_headers("mayor-1", "m", TOPIC, VALUE, NOW)
    refused = _verify(headers, key=mayor)
    assert isinstance(refused, AuthFailure)
    assert (refused.kind, refused.loc, refused.status) == (
        FailureKind.WRONG_CHANNEL,
        ("topic",),
        403,
    )
    assert "'mayor_line', not 'hotline_12345'" in refused.msg


def test_stale_and_unsigned_messages_are_refused():
    headers = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW - 301)
    stale = _verify(headers)
    assert isinstance(stale, AuthFailure) and stale.kind == FailureKind.STALE_TIMESTAMP
    unsigned = _verify({})
    assert isinstance(unsigned, AuthFailure) and unsigned.kind == FailureKind.MISSING_HEADER
    assert unsigned.detail()[0]["loc"] == ["header", "X-Jiban-Key"]


def test_a_message_that_waited_on_its_topic_is_judged_by_the_longer_age_but_not_from_the_future():
    waited = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW - 3000)
    accepted = _verify(waited, max_age_s=3600)
    # Its replay record outlives the longer age, not the HTTP window.
    assert isinstance(accepted, Verified) and accepted.expires_at == NOW - 3000 + 3600
    too_old = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW - 3601)
    refused = _verify(too_old, max_age_s=3600)
    assert isinstance(refused, AuthFailure) and refused.kind == FailureKind.STALE_TIMESTAMP
    assert "3600 s" in refused.msg
    ahead = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW + 301)
    refused = _verify(ahead, max_age_s=3600)
    assert isinstance(refused, AuthFailure) and refused.kind == FailureKind.STALE_TIMESTAMP
    assert "300 s" in refused.msg


def test_unwrap_keeps_the_signature_headers_and_the_value_as_sent():
    signed = kafka_signature_headers("hotline-1", "s3cret", TOPIC, VALUE, NOW)
    headers = tuple((name.lower(), value.encode()) for name, value in signed.items())
    origin = Origin(TOPIC, 2, 41, b"ZQ12345-1", "g", (*headers, ("traceparent", b"00-ab-cd-01")))
    envelope = unwrap(VALUE, origin)
    event = InboundSubmission.model_validate(envelope.payload)
    assert event.raw == VALUE and event.topic == TOPIC
    # Under the names the check reads, whatever their case on the wire; nothing else.
    assert event.signature_headers == signed
    assert isinstance(_verify(event.signature_headers, body=event.raw, path=event.topic), Verified)


def test_channels_taken_unsigned_are_named_in_a_setting_and_a_misspelt_one_stops_the_start():
    assert unsigned_channels(Settings()) == frozenset()
    assert unsigned_channels(Settings(inbound_unsigned_channels=" web, cso_visit ")) == {
        Channel.WEB,
        Channel.CSO_VISIT,
    }
    with pytest.raises(ConfigurationError, match="no channel 'hotline'"):
        unsigned_channels(Settings(inbound_unsigned_channels="hotline"))
