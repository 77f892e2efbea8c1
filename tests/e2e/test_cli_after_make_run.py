"""The README's commands in a second terminal while `make run` (`jiban dev`) runs: `jiban token`
finds the embedded Postgres (not on the default port) through the state file `jiban dev` writes,
the token it prints signs in, and once `make run` has stopped, the same command fails in one line
naming what it could not reach, never with a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jiban.local_infra import free_port
from jiban.servers import STATE_FILE, database_location
from shared.migrations import ALL_SERVICES
from shared.settings import Settings

pytestmark = pytest.mark.e2e

# What a newcomer's shell has: no server configured (the test session's servers are its own).
CONFIGURED = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "JIBAN_DATABASE_URL",
    "JIBAN_KAFKA_BOOTSTRAP_SERVERS",
)
JIBAN = str(Path(sys.executable).parent / "jiban")  # .venv/bin/jiban


def newcomer_env(ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    env.update({f"JIBAN_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return env


def jiban(cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`JIBAN_DEV_MODE=1 .venv/bin/jiban ARGV…`, as the README shows it."""
    return subprocess.run(
        [JIBAN, *argv],
        cwd=cwd,
        env={**env, "JIBAN_DEV_MODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def a_token(run: subprocess.CompletedProcess[str]) -> str:
    assert (run.returncode, run.stderr) == (0, ""), run.stderr
    (token,) = run.stdout.splitlines()
    assert token.count(".") == 2, run.stdout
    return token


def test_jiban_token_after_make_run_signs_in_and_fails_in_one_line_once_stopped(
    tmp_path: Path, dev_ports: None
) -> None:
    ports = {name: free_port() for name in ALL_SERVICES}
    env = newcomer_env(ports)
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "jiban.cli", "dev"],
            cwd=tmp_path,
            env={**env, "JIBAN_DEV_MODE": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "all five services are ready" not in log.read_text(errors="replace"):
            assert dev.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        assert (tmp_path / STATE_FILE).exists()

        # The README's "Try it": an ops token, then an officer from the directory.
        ops = {"Authorization": f"Bearer {a_token(jiban(tmp_path, env, 'token', '--ops'))}"}
        dispatch = f"http://127.0.0.1:{ports['dispatch']}"
        officers = httpx.get(f"{dispatch}/v1/officers?limit=1", headers=ops)
        assert officers.status_code == 200, officers.text
        officer_id = officers.json()["items"][0]["officer_id"]

        token = a_token(jiban(tmp_path, env, "token", "--officer", officer_id))
        queue = httpx.get(
            f"http://127.0.0.1:{ports['tracking']}/v1/officers/{officer_id}/queue",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert queue.status_code == 200, queue.text

        unknown = jiban(tmp_path, env, "token", "--officer", "nobody-99")
        assert (unknown.returncode, unknown.stdout) == (2, "")
        assert unknown.stderr.count("\n") == 1 and "nobody-99" in unknown.stderr
    finally:
        if dev.poll() is None:
            os.kill(dev.pid, signal.SIGINT)
        code = dev.wait(60)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert not (tmp_path / STATE_FILE).exists()  # removed on exit

    # Nothing runs any more: one line naming the database it fell back to, and why (on a
    # machine with a Postgres on the default port, the database is missing instead).
    stopped = jiban(tmp_path, env, "token", "--officer", officer_id)
    assert stopped.returncode == 3 and stopped.stdout == ""
    assert stopped.stderr.count("\n") == 1, stopped.stderr
    where = (
        f"PostgreSQL at {database_location(Settings.model_fields['database_url'].default)} "
        "(the default: DATABASE_URL is not set and no `make run` is running in this folder)"
    )
    assert stopped.stderr.startswith("jiban token: ") and where in stopped.stderr, stopped.stderr
