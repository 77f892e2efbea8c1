"""Every `jiban` command as the operator runs it (a process of its own, so that nothing the
libraries log or warn can hide), when what it needs is not there: a server down, a database not
migrated or missing, topics not created, a missing file. Each says so in one line on stderr, with
a non-zero exit code and nothing on stdout, never a traceback."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import admin_sql

from jiban.failures import EXIT_UNAVAILABLE, EXIT_USAGE
from jiban.local_infra import free_port
from jiban.servers import database_location
from shared.settings import Settings

pytestmark = pytest.mark.integration

JIBAN = str(Path(sys.executable).parent / "jiban")
SERVER_VARIABLES = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "JIBAN_TOPIC_PREFIX")


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def one_line(self) -> str:
        assert self.code != 0 and self.out == "", self
        assert self.err.count("\n") == 1 and self.err.endswith("\n"), self
        assert "Traceback" not in self.err
        return self.err.removesuffix("\n")


async def jiban(cwd: Path, env: dict[str, str], *argv: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        JIBAN,
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return Ran(argv, process.returncode, out.decode(), err.decode())


def base_env(**values: str) -> dict[str, str]:
    """The operator's shell in development, with no server configured unless `values` say."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env["JIBAN_DEV_MODE"] = "1"
    return {**env, **values}


def a_roster(folder: Path) -> Path:
    path = folder / "roster.csv"
    path.write_text("工号,姓名,手机,邮箱,角色,单位\n", encoding="utf-8")
    return path


async def test_with_its_server_down_every_command_names_it_in_one_line(tmp_path: Path) -> None:
    pg_port, kafka_port = free_port(), free_port()  # nothing listens there
    env = base_env(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/jiban",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{kafka_port}",
    )
    database = f"cannot reach PostgreSQL at 127.0.0.1:{pg_port}/jiban (from DATABASE_URL)"
    broker = (
        f"cannot reach the Kafka broker at 127.0.0.1:{kafka_port} (from KAFKA_BOOTSTRAP_SERVERS)"
    )
    expected = [  # (argv, the command's name, what it could not reach)
        (("migrate",), "jiban migrate", database),
        (("migrate", "dispatch"), "jiban migrate", database),
        (("topics", "create"), "jiban topics create", broker),
        (("directory", "demo"), "jiban directory demo", database),
        (("directory", "import", str(a_roster(tmp_path))), "jiban directory import", database),
        (("token", "--officer", "cso-001"), "jiban token", database),
        (("channel-keys", "create", "--channel", "web"), "jiban channel-keys create", database),
        (("channel-keys", "list"), "jiban channel-keys list", database),
        (("channel-keys", "revoke", "web-1"), "jiban channel-keys revoke", database),
        (("dlq", "list", "appeals.immediate"), "jiban dlq list", broker),
        (("dlq", "replay", "appeals.immediate"), "jiban dlq replay", broker),
        (("lag",), "jiban lag", broker),
        (("outbox",), "jiban outbox", database),
        (("notifications", "failed"), "jiban notifications failed", database),
        (("notifications", "resend", "--all-failed"), "jiban notifications resend", database),
    ]
    runs = await asyncio.gather(*(jiban(tmp_path, env, *argv) for argv, _, _ in expected))
    for ran, (_, prog, what) in zip(runs, expected, strict=True):
        assert ran.one_line().startswith(f"{prog}: {what}: "), ran
        assert ran.code == EXIT_UNAVAILABLE, ran


async def test_make_run_with_a_configured_server_down_says_so_after_what_it_did(
    tmp_path: Path,
) -> None:
    pg_port = free_port()
    ports = {f"JIBAN_{name}_PORT": str(free_port()) for name in ("INTAKE", "DISPATCH")}
    ports |= {f"JIBAN_{name}_PORT": str(free_port()) for name in ("TRACKING", "NOTIFY", "CONSOLE")}
    env = base_env(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/jiban",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
        **ports,
    )
    ran = await jiban(tmp_path, env, "dev")
    assert ran.code == EXIT_UNAVAILABLE
    assert "using PostgreSQL from DATABASE_URL" in ran.out  # its progress, on stdout
    assert ran.err.count("\n") == 1 and "Traceback" not in ran.err, ran.err
    assert ran.err == (
        f"jiban dev: cannot reach PostgreSQL at 127.0.0.1:{pg_port}/jiban (from DATABASE_URL): "
        "connection refused\n"
    )
    assert not (tmp_path / ".jiban" / "dev.json").exists()


async def test_a_database_missing_or_not_migrated_and_topics_not_created_say_what_to_do(
    infra: Any, tmp_path: Path
) -> None:
    empty = f"jiban_cli_empty_{uuid.uuid4().hex[:8]}"
    missing = f"jiban_cli_missing_{uuid.uuid4().hex[:8]}"
    server = infra.database_url("postgres")
    await admin_sql(server, f'CREATE DATABASE "{empty}"')
    try:
        not_migrated = base_env(DATABASE_URL=infra.database_url(empty))
        no_database = base_env(DATABASE_URL=infra.database_url(missing))
        no_topics = base_env(
            KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
            JIBAN_TOPIC_PREFIX=f"never-created-{uuid.uuid4().hex[:8]}.",
        )
        token, keys, demo, listed, replayed = await asyncio.gather(
            jiban(tmp_path, not_migrated, "token", "--officer", "cso-001"),
            jiban(tmp_path, not_migrated, "channel-keys", "list"),
            jiban(tmp_path, no_database, "directory", "demo"),
            jiban(tmp_path, no_topics, "dlq", "list", "appeals.immediate"),
            jiban(tmp_path, no_topics, "dlq", "replay", "appeals.immediate"),
        )
    finally:
        await admin_sql(server, f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')

    where = database_location(Settings(database_url=infra.database_url(empty)).database_url)
    for ran in (token, keys):
        line = ran.one_line()
        assert ran.code == EXIT_UNAVAILABLE
        assert f"PostgreSQL at {where} (from DATABASE_URL) is not migrated" in line
        assert line.endswith("run `jiban migrate`")
    assert f'database "{missing}" does not exist' in demo.one_line()
    assert demo.code == EXIT_UNAVAILABLE
    for ran in (listed, replayed):
        line = ran.one_line()
        assert ran.code == EXIT_UNAVAILABLE
        assert "appeals.immediate.dlq: run `jiban topics create`" in line


async def test_a_missing_file_an_unknown_topic_and_a_bad_argument_are_one_line_exit_2(
    tmp_path: Path,
) -> None:
    env = base_env()
    runs = await asyncio.gather(
        jiban(tmp_path, env, "directory", "import", str(tmp_path / "名册.xlsx")),
        jiban(tmp_path, env, "dlq", "replay", "appeals.nowhere"),
        jiban(tmp_path, env, "token", "--ops", "--minutes", "forever"),
        jiban(tmp_path, env, "channel-keys", "create", "--channel", "fax"),
    )
    lines = [ran.one_line() for ran in runs]
    assert all(ran.code == EXIT_USAGE for ran in runs), runs
    assert lines[0].startswith("jiban directory import: ") and "名册.xlsx" in lines[0]
    assert lines[1].startswith("jiban dlq replay: 'appeals.nowhere' is not a consumed topic")
    assert lines[2].startswith("jiban token: argument --minutes: invalid int value")
    assert lines[3].startswith("jiban channel-keys create: unknown channel 'fax'")
