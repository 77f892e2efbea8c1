"""Kafka security settings: each protocol and mechanism becomes aiokafka's keyword arguments and
FastStream's security object; incomplete or contradictory settings stop the start-up."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from certificates import self_signed
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from jiban.docs import DEPLOY_README, DEPLOY_TABLES, kafka_acls_table, render
from shared.broker import broker_security, create_broker, kafka_client_options
from shared.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_plaintext_is_the_default_and_needs_no_security() -> None:
    settings = _settings()
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert broker_security(settings) is None


def test_ssl_verifies_the_broker_with_the_given_ca_and_presents_a_client_certificate(
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path, password=b"key-secret")
    settings = _settings(
        KAFKA_SECURITY_PROTOCOL="ssl",
        KAFKA_SSL_CAFILE=str(cert),
        KAFKA_SSL_CERTFILE=str(cert),
        KAFKA_SSL_KEYFILE=str(key),
        KAFKA_SSL_KEY_PASSWORD="key-secret",
    )
    options = kafka_client_options(settings)
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "localhost"),),)]

    security = broker_security(settings)
    assert type(security) is BaseSecurity and security.use_ssl
    assert parse_security(security)["security_protocol"] == "SSL"


def test_ssl_without_a_ca_file_trusts_the_system_cas() -> None:
    options = kafka_client_options(_settings(KAFKA_SECURITY_PROTOCOL="SSL"))
    assert isinstance(options["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_mechanisms_map_to_the_client_options_and_the_faststream_security(
    protocol: str, mechanism: str, kind: type[BaseSecurity]
) -> None:
    settings = _settings(
        KAFKA_SECURITY_PROTOCOL=protocol,
        KAFKA_SASL_MECHANISM=mechanism.lower(),
        KAFKA_SASL_USERNAME="intake",
        KAFKA_SASL_PASSWORD="s3cret",
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == protocol
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "intake"
    assert options["sasl_plain_password"] == "s3cret"
    assert ("ssl_context" in options) == (protocol == "SASL_SSL")

    security = broker_security(settings)
    assert type(security) is kind
    # FastStream turns it back into the very options the raw clients get.
    parsed = parse_security(security)
    assert parsed["security_protocol"] == protocol
    assert parsed["sasl_mechanism"] == mechanism
    assert (parsed["sasl_plain_username"], parsed["sasl_plain_password"]) == ("intake", "s3cret")
    assert (parsed["ssl_context"] is not None) == (protocol == "SASL_SSL")


def test_the_broker_is_made_with_the_security() -> None:
    settings = _settings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="dispatch",
        KAFKA_SASL_PASSWORD="pw",
    )
    broker = create_broker(settings, "dispatch")
    # Its producer's and its consumers' connection options (FastStream keeps them privately).
    producer = broker._connection_kwargs
    consumers = broker.config.builder.keywords
    for params in (producer, consumers):
        assert params["security_protocol"] == "SASL_PLAINTEXT"
        assert params["sasl_mechanism"] == "SCRAM-SHA-512"
        assert params["sasl_plain_username"] == "dispatch"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
            "KAFKA_SECURITY_PROTOCOL is SASL_SSL: KAFKA_SASL_MECHANISM, KAFKA_SASL_PASSWORD "
            "needed too",
        ),
        (
            {"KAFKA_SASL_MECHANISM": "PLAIN"},
            "KAFKA_SASL_MECHANISM set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
            "KAFKA_SSL_CAFILE: no such file /nonexistent/ca.pem",
        ),
        (
            {"KAFKA_SSL_CAFILE": "/etc/hostname"},
            "KAFKA_SSL_CAFILE set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_PASSWORD": "x"},
            "KAFKA_SSL_KEYFILE and KAFKA_SSL_KEY_PASSWORD need KAFKA_SSL_CERTFILE",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM",
        ),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        _settings(**values)


def test_blank_values_from_compose_count_as_unset() -> None:
    settings = _settings(KAFKA_SASL_MECHANISM="", KAFKA_SASL_USERNAME="", KAFKA_SSL_CAFILE="")
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}


def test_the_deploy_readmes_acl_table_is_made_from_the_topic_table() -> None:
    text = DEPLOY_README.read_text("utf-8")
    assert render(text, DEPLOY_TABLES) == text, "run `.venv/bin/jiban docs`"
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:5]]
        for line in kafka_acls_table().splitlines()[2:]
    }
    read, written, groups = rows["`intake`"]
    assert "`appeals.inbound.hotline_12345`" in read and "`appeals.lifecycle`" in read
    assert "`appeals.inbound.receipts`" in written and "`appeals.immediate`" in written
    assert groups == "`jiban.intake`"
    # Whoever reads a topic writes its dead letters; the console reads for its live pages.
    for service in ("dispatch", "tracking", "notify", "console"):
        read, written, _ = rows[f"`{service}`"]
        for topic in read.split(", "):
            assert topic.replace("`", "").strip() + ".dlq" in written.replace("`", ""), service
    assert rows["`console`"][0] != "—"
    assert rows["the `web` adapter"][:2] == ["`appeals.inbound.receipts`", "`appeals.inbound.web`"]
