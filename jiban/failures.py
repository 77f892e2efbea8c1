"""What the operator reads when a `jiban` command fails: one line on stderr and an exit code,
never a traceback (`jiban --debug COMMAND` shows it).

Exit codes: 1 the command could not do what was asked (rows rejected, no such key, a service
exited), 2 a bad argument or input, 3 a server it needs is unreachable or not ready (not running,
no database, not migrated), 130 interrupted.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from enum import Enum

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from jiban.servers import Servers
from shared.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure said in one line the operator can act on."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class Server(Enum):
    DATABASE = "PostgreSQL"
    BROKER = "the Kafka broker"


# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that mean the
# database is there but not ready for the command.
NO_SUCH_DATABASE = "3D000"
NOT_MIGRATED = ("42P01", "3F000")  # undefined table, undefined schema
LOGIN_CLASS = "28"  # invalid authorisation: no such role, wrong password


def one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(exc: BaseException) -> tuple[str, str] | None:
    """(SQLSTATE, Postgres' message) of the first error in the chain that carries one."""
    for link in _chain(exc):
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str):
            return state, one_line(str(link))
    return None


def _is_database_error(exc: BaseException) -> bool:
    return any(
        isinstance(link, DBAPIError) or type(link).__module__.startswith("asyncpg")
        for link in _chain(exc)
    )


def _socket_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    return one_line(exc.strerror or str(exc)) or type(exc).__name__


def _database(exc: BaseException, servers: Servers) -> CommandError:
    where = f"PostgreSQL at {servers.database} ({servers.database_origin})"
    found = _sqlstate(exc)
    if found is not None:
        state, message = found
        if state == NO_SUCH_DATABASE:
            return CommandError(
                f"{where}: {message}; point DATABASE_URL at a database that exists",
                EXIT_UNAVAILABLE,
            )
        if state in NOT_MIGRATED:
            return CommandError(
                f"{where} is not migrated ({message}): run `jiban migrate`", EXIT_UNAVAILABLE
            )
        if state.startswith(LOGIN_CLASS):
            return CommandError(f"{where} refused the login: {message}", EXIT_UNAVAILABLE)
        return CommandError(f"{where}: {message}")
    for link in _chain(exc):
        if isinstance(link, OSError):
            return CommandError(f"cannot reach {where}: {_socket_reason(link)}", EXIT_UNAVAILABLE)
    return CommandError(f"{where}: {one_line(str(exc)) or type(exc).__name__}", EXIT_UNAVAILABLE)


def _broker(exc: BaseException, servers: Servers) -> CommandError:
    where = f"the Kafka broker at {servers.broker} ({servers.broker_origin})"
    if isinstance(exc, KafkaConnectionError):
        return CommandError(f"cannot reach {where}: no broker answers", EXIT_UNAVAILABLE)
    if isinstance(exc, KafkaTimeoutError):
        return CommandError(f"{where} did not answer in time", EXIT_UNAVAILABLE)
    if isinstance(exc, OSError):
        return CommandError(f"cannot reach {where}: {_socket_reason(exc)}", EXIT_UNAVAILABLE)
    return CommandError(f"{where}: {one_line(str(exc)) or type(exc).__name__}", EXIT_UNAVAILABLE)


def _invalid_settings(exc: ValidationError) -> CommandError:
    problems = []
    for error in exc.errors():
        if not error["loc"]:
            # A check across several settings: its message names the variables itself.
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        field = str(error["loc"][0])
        info = Settings.model_fields.get(field)
        variable = (info.alias if info is not None else None) or f"JIBAN_{field.upper()}"
        problems.append(f"{variable}: {error['msg']}")
    return CommandError("invalid setting " + "; ".join(problems), EXIT_USAGE)


def explain(
    exc: BaseException, servers: Servers | None, needs: frozenset[Server] = frozenset()
) -> CommandError:
    """The one line for `exc`, raised by a command that talks to `needs` (as `servers` say)."""
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return _invalid_settings(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return CommandError(f"{exc.filename}: {exc.strerror or exc}", EXIT_USAGE)
    if servers is not None:
        if isinstance(exc, KafkaError):
            return _broker(exc, servers)
        if _is_database_error(exc):
            return _database(exc, servers)
        # asyncpg lets socket errors through as they are; aiokafka wraps its own in
        # KafkaConnectionError: a bare one comes from the database when the command uses one.
        if isinstance(exc, OSError):
            if Server.DATABASE in needs:
                return _database(exc, servers)
            if Server.BROKER in needs:
                return _broker(exc, servers)
    return CommandError(f"{type(exc).__name__}: {one_line(str(exc))}".rstrip(": "))
