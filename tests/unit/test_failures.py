"""is_transient: a dependency failing (retry) versus a bad message (dead-letter)."""

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from shared.failures import is_transient


class PgError(Exception):
    """Looks like an asyncpg error: carries a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


class Psycopg2Like(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


class Strict(BaseModel):
    n: int


def validation_error() -> ValidationError:
    try:
        Strict.model_validate({"n": "not a number"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


def caused_by(cause: BaseException) -> Exception:
    try:
        raise RuntimeError("while handling") from cause
    except RuntimeError as exc:
        return exc


def in_context_of(context: BaseException) -> Exception:
    try:
        try:
            raise context
        except BaseException:
            raise RuntimeError("during handling")  # noqa: B904 - the implicit chain is the point
    except RuntimeError as exc:
        return exc


TRANSIENT = [
    OSError("network unreachable"),
    ConnectionRefusedError(111, "Connection refused"),
    asyncio.TimeoutError(),  # noqa: UP041 - the name asyncio code raises
    OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    KafkaConnectionError("broker down"),
    KafkaTimeoutError(),
    PgError("40001"),  # serialization_failure
    PgError("40P01"),  # deadlock_detected
    PgError("08006"),  # connection_failure
    PgError("53300"),  # too_many_connections
    PgError("57P01"),  # admin_shutdown
    Psycopg2Like("40001"),
    IntegrityError("UPDATE x", {}, PgError("40001")),  # wrapped: sqlstate on .orig
]

PERMANENT = [
    ValueError("bad value"),
    KeyError("missing"),
    validation_error(),
    PgError("23505"),  # unique_violation
    PgError("22P02"),  # invalid_text_representation
    IntegrityError("INSERT x", {}, PgError("23505")),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc) is True


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_not_transient(exc: BaseException) -> None:
    assert is_transient(exc) is False


def test_cause_is_followed() -> None:
    assert is_transient(caused_by(ConnectionRefusedError(111, "Connection refused")))


def test_cause_chain_is_followed_several_levels() -> None:
    assert is_transient(caused_by(caused_by(PgError("40001"))))


def test_implicit_context_is_followed() -> None:
    assert is_transient(in_context_of(ConnectionResetError()))


def test_permanent_cause_stays_permanent() -> None:
    assert not is_transient(caused_by(ValueError("bad")))


def test_cyclic_chain_terminates() -> None:
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    assert is_transient(a) is False
