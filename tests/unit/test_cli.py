"""The `jiban` command line without servers: where a command looks for PostgreSQL and Kafka
(the environment, else the running `make run`'s state file, else the defaults), and that every
failure is one line on stderr with a non-zero exit code, never a traceback."""

from __future__ import annotations

import argparse
import os
import socket
import stat
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from jiban import cli
from jiban.failures import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    Server,
    explain,
)
from jiban.servers import (
    STATE_FILE,
    DevState,
    Servers,
    command_servers,
    database_location,
    published,
    read_state,
)
from shared.settings import Settings

GONE_PID = 2**31 - 1  # above any pid_max: no such process
SERVER_VARIABLES = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "JIBAN_DATABASE_URL",
    "JIBAN_KAFKA_BOOTSTRAP_SERVERS",
    "JIBAN_CONSUMER_SESSION_TIMEOUT_MS",
)


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder with no `make run` in it and no server configured."""
    monkeypatch.chdir(tmp_path)
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def dev_state(pid: int | None = None, **changes: object) -> DevState:
    values: dict[str, object] = {
        "pid": os.getpid() if pid is None else pid,
        "database_url": "postgresql+asyncpg://postgres@127.0.0.1:55433/jiban",
        "kafka_bootstrap_servers": "127.0.0.1:9093",
        "consumer_session_timeout_ms": 3000,
        "services": {"tracking": "http://127.0.0.1:8003"},
    }
    return DevState.model_validate({**values, **changes})


def write(state: DevState) -> None:
    STATE_FILE.parent.mkdir(exist_ok=True)
    STATE_FILE.write_text(state.model_dump_json())


# --- where the servers are ---------------------------------------------------------------------


def test_without_make_run_or_variables_the_defaults_are_used_and_said(here: Path) -> None:
    servers = command_servers()
    assert servers.settings.database_url == Settings().database_url
    assert servers.database_origin.startswith("the default: DATABASE_URL is not set")
    assert servers.broker_origin.startswith("the default: KAFKA_BOOTSTRAP_SERVERS is not set")


def test_the_running_make_runs_servers_fill_in_what_the_environment_left_unset(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(dev_state())
    servers = command_servers()
    assert servers.settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1:55433/jiban"
    assert servers.settings.kafka_bootstrap_servers == "127.0.0.1:9093"
    assert servers.settings.consumer_session_timeout_ms == 3000
    assert servers.database_origin == f"from the `make run` running here, pid {os.getpid()}"

    # What the environment names wins, one server at a time.
    monkeypatch.setenv("DATABASE_URL", "postgresql://ops@db.internal:5432/jiban")
    servers = command_servers()
    assert servers.settings.database_url == "postgresql+asyncpg://ops@db.internal:5432/jiban"
    assert servers.database_origin == "from DATABASE_URL"
    assert servers.settings.kafka_bootstrap_servers == "127.0.0.1:9093"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("JIBAN_CONSUMER_SESSION_TIMEOUT_MS", "20000")
    servers = command_servers()
    assert servers.settings.kafka_bootstrap_servers == "kafka-1:9092"
    assert servers.settings.consumer_session_timeout_ms == 20000
    assert servers.broker_origin == "from KAFKA_BOOTSTRAP_SERVERS"


def test_a_state_file_whose_process_is_gone_or_that_is_garbled_is_ignored(here: Path) -> None:
    write(dev_state(pid=GONE_PID))
    assert read_state() is None
    assert command_servers().database_origin.startswith("the default")
    STATE_FILE.write_text('{"pid": ')
    assert read_state() is None


def test_published_state_is_its_owners_alone_and_removed_unless_replaced(here: Path) -> None:
    with published(dev_state()):
        assert read_state() == dev_state()
        assert stat.S_IMODE(STATE_FILE.stat().st_mode) == 0o600  # it may hold a password
    assert not STATE_FILE.exists()

    with published(dev_state()):
        write(dev_state(pid=os.getppid()))  # another `make run` took over meanwhile
    assert read_state() == dev_state(pid=os.getppid())


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("postgresql+asyncpg://ops:s3cret@db.internal:6432/jiban", "db.internal:6432/jiban"),
        ("postgresql+asyncpg://postgres@127.0.0.1/jiban", "127.0.0.1:5432/jiban"),
        ("postgresql+asyncpg://postgres@/jiban?host=/tmp/pg", "/tmp/pg:5432/jiban"),
        ("not a url", "DATABASE_URL (not a database URL)"),
    ],
)
def test_a_database_is_named_by_host_port_and_name_never_its_password(
    url: str, location: str
) -> None:
    assert database_location(url) == location


# --- one line per failure -------------------------------------------------------------------


def servers() -> Servers:
    return Servers(
        Settings(
            database_url="postgresql+asyncpg://postgres@127.0.0.1:55433/jiban",
            kafka_bootstrap_servers="127.0.0.1:9093",
        ),
        database_origin="from DATABASE_URL",
        broker_origin="from KAFKA_BOOTSTRAP_SERVERS",
    )


class PgError(Exception):
    """What asyncpg raises: a message and its SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(error: Exception) -> DBAPIError:
    """As SQLAlchemy hands asyncpg's errors on."""
    try:
        raise DBAPIError("SELECT 1", None, error) from error
    except DBAPIError as exc:
        return exc


def a_settings_error(**values: object) -> ValidationError:
    try:
        Settings.model_validate(values or {"topic_partitions": 2})
    except ValidationError as exc:
        return exc
    raise AssertionError(f"Settings accepted {values or '2 partitions'}")


DATABASE = frozenset({Server.DATABASE})
BROKER = frozenset({Server.BROKER})
WHERE_DB = "PostgreSQL at 127.0.0.1:55433/jiban (from DATABASE_URL)"
WHERE_KAFKA = "the Kafka broker at 127.0.0.1:9093 (from KAFKA_BOOTSTRAP_SERVERS)"


@pytest.mark.parametrize(
    ("exc", "needs", "line", "code"),
    [
        (
            ConnectionRefusedError(111, "Connect call failed"),
            DATABASE,
            f"cannot reach {WHERE_DB}: connection refused",
            EXIT_UNAVAILABLE,
        ),
        (
            socket.gaierror(-2, "Name or service not known"),
            DATABASE,
            f"cannot reach {WHERE_DB}: unknown host (Name or service not known)",
            EXIT_UNAVAILABLE,
        ),
        (TimeoutError(), DATABASE, f"cannot reach {WHERE_DB}: no answer (timed out)", 3),
        (
            wrapped(PgError('database "jiban" does not exist', "3D000")),
            DATABASE,
            f'{WHERE_DB}: database "jiban" does not exist; point DATABASE_URL at a database '
            "that exists",
            EXIT_UNAVAILABLE,
        ),
        (
            wrapped(PgError('relation "dispatch.officers" does not exist', "42P01")),
            DATABASE,
            f'{WHERE_DB} is not migrated (relation "dispatch.officers" does not exist): '
            "run `jiban migrate`",
            EXIT_UNAVAILABLE,
        ),
        (
            wrapped(PgError('password authentication failed for user "ops"', "28P01")),
            DATABASE,
            f'{WHERE_DB} refused the login: password authentication failed for user "ops"',
            EXIT_UNAVAILABLE,
        ),
        (
            wrapped(PgError("deadlock detected\nDETAIL: …", "40P01")),
            DATABASE,
            f"{WHERE_DB}: deadlock detected",
            EXIT_FAILED,
        ),
        (
            KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9093, 2)]"),
            BROKER,
            f"cannot reach {WHERE_KAFKA}: no broker answers",
            EXIT_UNAVAILABLE,
        ),
        (KafkaTimeoutError(), BROKER, f"{WHERE_KAFKA} did not answer in time", EXIT_UNAVAILABLE),
        (
            ConnectionRefusedError(111, "Connect call failed"),
            BROKER,
            f"cannot reach {WHERE_KAFKA}: connection refused",
            EXIT_UNAVAILABLE,
        ),
        (
            FileNotFoundError(2, "No such file or directory", "rules.yaml"),
            DATABASE,
            "rules.yaml: No such file or directory",
            EXIT_USAGE,
        ),
        (
            a_settings_error(),
            DATABASE,
            "invalid setting JIBAN_TOPIC_PARTITIONS: Input should be greater than or equal to 6",
            EXIT_USAGE,
        ),
        (
            a_settings_error(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="PLAIN"),
            BROKER,
            "invalid setting KAFKA_SECURITY_PROTOCOL is SASL_SSL: KAFKA_SASL_USERNAME, "
            "KAFKA_SASL_PASSWORD needed too",
            EXIT_USAGE,
        ),
        (CommandError("no key 'x'", EXIT_FAILED), DATABASE, "no key 'x'", EXIT_FAILED),
        (RuntimeError("something\nwe did not foresee"), DATABASE, "RuntimeError: something", 1),
    ],
)
def test_each_failure_is_one_line_naming_what_failed(
    exc: BaseException, needs: frozenset[Server], line: str, code: int
) -> None:
    failure = explain(exc, servers(), needs)
    assert (str(failure), failure.exit_code) == (line, code)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse's own exit
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ((), "jiban: the following arguments are required: COMMAND"),
        (("nonsense",), "jiban: argument COMMAND: invalid choice: 'nonsense'"),
        (("token",), "jiban token: one of the arguments --officer --ops is required"),
        (("token", "--ops", "--minutes", "abc"), "jiban token: argument --minutes: invalid int"),
        (("migrate", "billing"), "jiban migrate: argument service: unknown service 'billing'"),
        (("dlq",), "jiban dlq: the following arguments are required: ACTION"),
        (("dlq", "list"), "jiban dlq list: the following arguments are required: topic"),
        (("directory", "import"), "jiban directory import: the following arguments are required"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], said: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_USAGE, "")
    assert err.count("\n") == 1 and err.startswith(said), err


def test_migrate_without_services_migrates_them_all(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shared.migrations

    migrated: list[tuple[str, ...]] = []
    monkeypatch.setattr(
        shared.migrations, "upgrade", lambda _s, services: migrated.append(services)
    )
    assert run(capsys, "migrate") == (
        0,
        "migrated: intake, dispatch, tracking, notify, console\n",
        "",
    )
    assert run(capsys, "migrate", "tracking") == (0, "migrated: tracking\n", "")
    assert migrated == [shared.migrations.ALL_SERVICES, ("tracking",)]


def test_an_unreachable_database_found_through_make_run_is_one_line_saying_so(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jiban.tokens

    async def refused(*_args: object, **_kwargs: object) -> str:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 55433)")

    monkeypatch.setattr(jiban.tokens, "officer_token", refused)
    monkeypatch.setenv("JIBAN_DEV_MODE", "1")
    write(dev_state())

    code, out, err = run(capsys, "token", "--officer", "cso-001")
    assert (code, out) == (EXIT_UNAVAILABLE, "")
    assert err == (
        "jiban token: cannot reach PostgreSQL at 127.0.0.1:55433/jiban (from the `make run` "
        f"running here, pid {os.getpid()}): connection refused\n"
    )

    # --debug: the traceback, for whoever digs further.
    with pytest.raises(ConnectionRefusedError):
        cli.main(["--debug", "token", "--officer", "cso-001"])


def test_a_database_url_that_is_not_postgres_is_said_before_connecting(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://ops@db/jiban")
    assert run(capsys, "directory", "demo") == (
        EXIT_USAGE,
        "",
        "jiban directory demo: DATABASE_URL names mysql, not PostgreSQL (from DATABASE_URL)\n",
    )


def test_a_bad_setting_and_an_interruption_are_one_line_too(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIBAN_CONSUMER_SESSION_TIMEOUT_MS", "10")
    code, _, err = run(capsys, "topics", "create")
    assert code == EXIT_USAGE
    assert err.startswith("jiban topics create: invalid setting JIBAN_CONSUMER_SESSION_TIMEOUT_MS")
    assert err.count("\n") == 1
    monkeypatch.delenv("JIBAN_CONSUMER_SESSION_TIMEOUT_MS")

    def interrupted(_args: argparse.Namespace, _settings: Settings) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_topics_list", interrupted)
    assert run(capsys, "topics", "list") == (
        EXIT_INTERRUPTED,
        "",
        "jiban topics list: interrupted\n",
    )


def test_jiban_docs_makes_the_readme_tables_and_check_says_when_they_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jiban.docs

    readme = tmp_path / "README.md"
    current = jiban.docs.README.read_text("utf-8")
    marker = "<!-- generated by `jiban docs`: routing -->\n"
    start = current.index(marker) + len(marker)
    readme.write_text(current[:start] + "| a stale row |\n" + current[start:], "utf-8")
    monkeypatch.setattr(jiban.docs, "README", readme)
    deploy = tmp_path / "deploy" / "README.md"
    deploy.parent.mkdir()
    deploy.write_text(jiban.docs.DEPLOY_README.read_text("utf-8"), "utf-8")
    monkeypatch.setattr(jiban.docs, "DEPLOY_README", deploy)
    both_current = "README.md's tables are the code's\ndeploy/README.md's tables are the code's\n"

    assert run(capsys, "docs", "--check") == (
        EXIT_FAILED,
        "",
        "jiban docs: README.md's tables differ from the code's: run `jiban docs`\n",
    )
    assert run(capsys, "docs") == (
        0,
        "README.md's tables made afresh\ndeploy/README.md's tables already the code's\n",
        "",
    )
    assert readme.read_text("utf-8") == current
    assert run(capsys, "docs", "--check") == (0, both_current, "")
