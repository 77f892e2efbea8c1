"""The services as real OS processes, on free ports, against one test's database and topics.

Each running process is an *instance* with its own name and HTTP port: "dispatch" by default,
or "dispatch-2" for a second member of dispatch's consumer groups. Fault tests kill -9 an
instance, restart it on the same port, stop it gracefully, or point every instance at a proxy
in front of Postgres; `stop()` ends whatever is still running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from jiban.local_infra import free_port
from shared.migrations import SERVICES
from shared.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a service process the test's settings: every field the test
    set (its database, topic prefix, timings, secrets), under the name Settings reads it by."""
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        alias = Settings.model_fields[name].alias
        env[alias or f"JIBAN_{name.upper()}"] = str(value)
    return env


@dataclass
class Instance:
    name: str
    service: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exits: list[int] = field(default_factory=list)  # return codes of the earlier processes

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Stack:
    def __init__(
        self, settings: Settings, log_dir: Path, *, database_url: str | None = None
    ) -> None:
        self.settings = settings
        # The services may reach Postgres some other way than the test does (a cuttable proxy).
        self.database_url = database_url or settings.database_url
        self.log_dir = log_dir
        self.instances: dict[str, Instance] = {}

    # --- where things are --------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.instances[name].port}"

    def running(self) -> list[str]:
        return [name for name, instance in self.instances.items() if instance.alive]

    def env(self, instance: Instance) -> dict[str, str]:
        return {
            **os.environ,
            **settings_env(self.settings),
            "DATABASE_URL": self.database_url,
            "JIBAN_DEV_MODE": "1",
            # One port per process, so two instances of one service can run side by side.
            "JIBAN_HTTP_PORT": str(instance.port),
        }

    # --- starting and stopping ---------------------------------------------------------------

    def start(self, service: str, *, name: str | None = None) -> str:
        """Starts an instance of `service` (named after it unless `name` is given); returns the
        instance name. A name already used restarts that instance on its port."""
        name = name or service
        instance = self.instances.get(name)
        if instance is None:
            instance = Instance(name, service, free_port(), self.log_dir / f"{name}.log")
            self.instances[name] = instance
        if instance.alive:
            raise RuntimeError(f"{name} is already running")
        with open(instance.log_path, "ab") as log:
            log.write(f"\n--- start #{instance.starts + 1} of {name} ---\n".encode())
            log.flush()
            instance.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"],
                env=self.env(instance),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        instance.starts += 1
        return name

    def restart(self, name: str) -> None:
        self.start(self.instances[name].service, name=name)

    def kill(self, name: str) -> None:
        """kill -9: no shutdown hooks, no offset commits, connections dropped mid-flight."""
        self._signal(name, signal.SIGKILL, wait_s=10)

    def terminate(self, name: str, timeout_s: float = 30) -> None:
        """A graceful stop (SIGTERM): the service leaves its consumer groups cleanly."""
        try:
            self._signal(name, signal.SIGTERM, wait_s=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def _signal(self, name: str, signum: int, *, wait_s: float) -> None:
        instance = self.instances[name]
        process = instance.process
        if process is None:
            return
        if process.poll() is None:
            # Its own session: the signal reaches the service and nothing else.
            os.killpg(process.pid, signum)
        instance.exits.append(process.wait(wait_s))
        instance.process = None

    def stop(self) -> None:
        for instance in self.instances.values():
            if instance.alive:
                assert instance.process is not None
                instance.process.terminate()
        for name, instance in self.instances.items():
            if instance.process is None:
                continue
            try:
                instance.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(name)

    # --- readiness and logs ------------------------------------------------------------------

    def ready(self, name: str) -> bool:
        try:
            return httpx.get(self.url(name) + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start_all(self) -> None:
        """Every service, one process each, ready (call it in a thread from async tests)."""
        for name in SERVICES:
            self.start(name)
        self.wait_ready()

    def wait_ready(self, names: Iterable[str] | None = None, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(self.running() if names is None else names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                instance = self.instances[name]
                if not instance.alive:
                    raise RuntimeError(f"{name} died:\n{self.log(name)}")
                if self.ready(name):
                    pending.discard(name)
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready: {pending}\n" + "\n".join(self.log(n) for n in pending))

    def log(self, name: str) -> str:
        return self.instances[name].log_path.read_text(errors="replace")[-4000:]

    def full_log(self, name: str) -> str:
        return self.instances[name].log_path.read_text(errors="replace")
