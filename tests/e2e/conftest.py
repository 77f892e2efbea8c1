"""The four services as real OS processes, on free ports, against the test's database/topics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jiban.local_infra import free_port
from shared.migrations import SERVICES
from shared.settings import Settings


class Stack:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.ports = {name: free_port() for name in SERVICES}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "DATABASE_URL": s.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "JIBAN_TOPIC_PREFIX": s.topic_prefix,
            "JIBAN_OUTBOX_POLL_INTERVAL_S": str(s.outbox_poll_interval_s),
            "JIBAN_DEV_MODE": "1",
            **{f"JIBAN_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }

    def start(self, service: str) -> None:
        log = open(self.log_dir / f"{service}.log", "ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            env=self.env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(self.processes)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} died:\n{self.log(name)}")
                try:
                    if httpx.get(self.url(name) + "/readyz", timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready: {pending}\n" + "\n".join(self.log(n) for n in pending))

    def log(self, service: str) -> str:
        return (self.log_dir / f"{service}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(settings, tmp_path)
    try:
        yield running
    finally:
        running.stop()
