"""Intake's start-up configuration: the tracking-code secret is required outside development."""

import pytest

from services.intake.app import DEV_TRACKING_CODE_KEY, ConfigurationError, code_book
from shared.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(database_url="postgresql://x@h/db", **values)  # type: ignore[arg-type]


def test_production_without_a_tracking_code_key_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="JIBAN_TRACKING_CODE_KEY"):
        code_book(settings(dev_mode=False))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 16"):
        code_book(settings(tracking_code_key="short"))


def test_development_falls_back_to_the_documented_dev_key() -> None:
    book = code_book(settings(dev_mode=True, tracking_code_prefix="ZQ"))
    assert (book.prefix, book.key) == ("ZQ", DEV_TRACKING_CODE_KEY)


def test_a_configured_key_wins_even_in_development() -> None:
    book = code_book(settings(dev_mode=True, tracking_code_key="a-real-secret-of-some-length"))
    assert book.key == b"a-real-secret-of-some-length"


def test_prefix_must_be_letters() -> None:
    with pytest.raises(ValueError, match="tracking_code_prefix"):
        settings(tracking_code_prefix="dw-1")
