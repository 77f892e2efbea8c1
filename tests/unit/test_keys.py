"""Channel keys: secrets encrypted at rest, never shown in reprs or logs, and the encryption key
intake insists on outside development."""

from __future__ import annotations

import io
import logging

import pytest
from pydantic import SecretStr

from services.intake.channel_keys.keys import (
    DEV_ENCRYPTION_KEY,
    ChannelKey,
    MissingEncryptionKey,
    Scope,
    SecretCipher,
    UndecryptableSecret,
    cipher_for,
    dev_key_id,
    dev_secret,
    generate_encryption_key,
    new_key_id,
    new_secret,
    parse_scopes,
    valid_key_id,
)
from shared.logs import JsonFormatter
from shared.vocabulary import Channel


def test_encryption_round_trip_and_ciphertext_hides_the_secret():
    cipher = SecretCipher([generate_encryption_key()])
    secret = new_secret()
    token = cipher.encrypt(secret)
    assert secret not in token
    assert cipher.decrypt(token).get_secret_value() == secret
    assert cipher.encrypt(secret) != token  # a fresh IV each time


def test_another_encryption_key_cannot_decrypt():
    token = SecretCipher([generate_encryption_key()]).encrypt("x")
    with pytest.raises(UndecryptableSecret):
        SecretCipher([generate_encryption_key()]).decrypt(token)


def test_rotation_newest_key_first_old_ones_still_decrypt():
    old, new = generate_encryption_key(), generate_encryption_key()
    token = SecretCipher([old]).encrypt("s")
    rotating = cipher_for(f"{new}, {old}", dev_mode=False)
    assert rotating.decrypt(token).get_secret_value() == "s"
    rotated = rotating.rotate(token)
    assert SecretCipher([new]).decrypt(rotated).get_secret_value() == "s"


def test_production_needs_an_encryption_key_and_refuses_the_dev_one():
    with pytest.raises(MissingEncryptionKey, match="JIBAN_CHANNEL_KEY_ENCRYPTION_KEY"):
        cipher_for(None, dev_mode=False)
    with pytest.raises(MissingEncryptionKey):
        cipher_for(" ", dev_mode=False)
    with pytest.raises(MissingEncryptionKey):
        cipher_for(DEV_ENCRYPTION_KEY, dev_mode=False)
    with pytest.raises(MissingEncryptionKey, match="not a Fernet key"):
        cipher_for("too-short", dev_mode=False)
    assert cipher_for(SecretStr(generate_encryption_key()), dev_mode=False)


def test_dev_mode_runs_on_the_published_dev_key():
    token = cipher_for(None, dev_mode=True).encrypt("s")
    assert SecretCipher([DEV_ENCRYPTION_KEY]).decrypt(token).get_secret_value() == "s"


def test_the_cipher_does_not_show_its_keys():
    key = generate_encryption_key()
    assert key not in repr(SecretCipher([key]))


def test_secret_never_appears_in_repr_str_or_a_log_line():
    secret = new_secret()
    key = ChannelKey(
        key_id="hotline-a",
        channel=Channel.HOTLINE_12345,
        scopes=frozenset({Scope.SUBMIT}),
        secret=SecretStr(secret),
    )
    assert secret not in repr(key) and secret not in str(key)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("intake"))
    logger = logging.getLogger("test_keys.secret")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("key %s", key, extra={"key": key, "secret": key.secret})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "hotline-a" in line
    assert secret not in line
    assert key.secret.get_secret_value() == secret  # what signing uses


def test_new_secrets_are_long_and_distinct():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) >= 40 for s in secrets)


def test_key_ids():
    generated = new_key_id(Channel.MAYOR_LINE)
    assert generated.startswith("mayor_line-") and valid_key_id(generated)
    assert dev_key_id(Channel.WEB) == "dev-web" and dev_secret(Channel.WEB) == "dev-secret-web"
    assert not valid_key_id("")
    assert not valid_key_id("-leading-dash")
    assert not valid_key_id("has space")
    assert not valid_key_id("x" * 65)


def test_scopes_parse_from_the_command_line_form():
    assert parse_scopes("submit,follow_up") == frozenset(Scope)
    assert parse_scopes(" submit ") == frozenset({Scope.SUBMIT})
    with pytest.raises(ValueError, match="unknown scope 'admin'"):
        parse_scopes("submit,admin")
    with pytest.raises(ValueError, match="at least one"):
        parse_scopes("")
