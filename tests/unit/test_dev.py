"""`make run` (jiban/dev.py) without starting anything: which servers it starts itself, that
Ctrl-C at any point of the start-up stops whatever was started so far, at once, that it tells the
other commands where its servers are while it runs, and that what goes wrong is one line."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

import jiban.dev as dev
import shared.migrations
from jiban.failures import EXIT_UNAVAILABLE, CommandError
from jiban.local_infra import LocalServerError
from jiban.servers import STATE_FILE, read_state
from shared.migrations import ALL_SERVICES
from shared.settings import Settings

# --- embedded or external --------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "JIBAN_DATABASE_URL",
        "JIBAN_KAFKA_BOOTSTRAP_SERVERS",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_either_variable_both_are_embedded(clean_env: pytest.MonkeyPatch) -> None:
    assert dev.external_servers(Settings()) == (None, None)


def test_the_configured_servers_are_used_as_they_are(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgres://ops@db.internal:5432/jiban")
    assert dev.external_servers(Settings()) == (
        "postgresql+asyncpg://ops@db.internal:5432/jiban",
        None,
    )
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    assert dev.external_servers(Settings())[1] == "kafka-1:9092,kafka-2:9092"


def test_a_server_set_to_its_default_value_still_counts_as_configured(
    clean_env: pytest.MonkeyPatch,
) -> None:
    default = Settings().kafka_bootstrap_servers
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", default)
    assert dev.external_servers(Settings()) == (None, default)


def test_an_empty_variable_means_embedded(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "")
    assert dev.external_servers(Settings()) == (None, None)


# --- Ctrl-C during start-up ------------------------------------------------------------------


class FakeService:
    """A service process that runs until it gets SIGTERM."""

    started: ClassVar[list[FakeService]] = []

    def __init__(self, args: list[str], **_kwargs: Any) -> None:
        self.name = args[-1].removeprefix("services.")
        self.pid = 4242
        self.returncode: int | None = None
        self.signals: list[int] = []
        FakeService.started.append(self)

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self.returncode = -sig

    def wait(self, _timeout: float | None = None) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Everything `run` starts, faked; `state` tells what was started and what stopped. It runs
    in a folder of its own (its `.jiban/`), whatever holds the services' ports."""
    state: dict[str, Any] = {"infrastructure": "not started", "said": []}
    FakeService.started = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(dev, "port_free", lambda _port, _host: True)

    @contextlib.contextmanager
    def infrastructure(_settings: Settings) -> Iterator[tuple[str, str]]:
        state["infrastructure"] = "running"
        try:
            yield "postgresql+asyncpg://postgres@127.0.0.1:1/jiban", "127.0.0.1:2"
        finally:
            state["infrastructure"] = "stopped"

    async def prepare(_settings: Settings) -> None:
        return None

    monkeypatch.setattr(dev, "infrastructure", infrastructure)
    monkeypatch.setattr(dev, "prepare", prepare)
    monkeypatch.setattr(shared.migrations, "upgrade", lambda _settings: None)
    monkeypatch.setattr(dev.subprocess, "Popen", FakeService)
    monkeypatch.setattr(dev, "say", state["said"].append)
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield state
    # `run` put the handlers back.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def all_stopped() -> bool:
    return all(s.signals == [signal.SIGTERM] for s in FakeService.started)


def test_ctrl_c_while_waiting_for_the_services_stops_everything_at_once(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def not_ready_yet(url: str, **_kwargs: Any) -> httpx.Response:
        asked.append(url)
        if len(asked) == 1:
            ctrl_c()  # the handler runs right here, as the Ctrl-C would
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(dev.httpx, "get", not_ready_yet)

    assert dev.run() == 130

    assert len(asked) == 1  # not another round of waiting
    assert [s.name for s in FakeService.started] == list(ALL_SERVICES)
    assert all_stopped()
    assert stack["infrastructure"] == "stopped"


def test_ctrl_c_while_the_services_are_being_started_stops_those_started(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class InterruptedOnTheThird(FakeService):
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            if len(FakeService.started) == 2:
                ctrl_c()
            super().__init__(args, **kwargs)

    monkeypatch.setattr(dev.subprocess, "Popen", InterruptedOnTheThird)

    assert dev.run() == 130

    assert len(FakeService.started) == 2
    assert all_stopped()
    assert stack["infrastructure"] == "stopped"


def test_ctrl_c_while_migrating_stops_the_embedded_servers(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared.migrations, "upgrade", lambda _settings: ctrl_c())

    assert dev.run() == 130

    assert FakeService.started == []
    assert stack["infrastructure"] == "stopped"


def test_ctrl_c_once_ready_stops_everything_and_exits_0_even_when_pressed_again(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev.httpx, "get", lambda url, **_: httpx.Response(200))
    real_sleep = dev.time.sleep

    def sleep(seconds: float) -> None:
        if "Ctrl-C stops everything." in stack["said"]:
            ctrl_c()
        real_sleep(0)

    monkeypatch.setattr(dev.time, "sleep", sleep)

    def stop_services(children: dict[str, Any]) -> None:
        ctrl_c()  # impatient: pressed again while stopping; must not cut the stop short
        for child in children.values():
            child.send_signal(signal.SIGTERM)

    monkeypatch.setattr(dev, "stop_services", stop_services)

    assert dev.run() == 0

    assert "stopping…" in stack["said"] and stack["said"][-1] == "services stopped"
    assert len(FakeService.started) == len(ALL_SERVICES) and all_stopped()
    assert stack["infrastructure"] == "stopped"


# --- what the other commands are told, and failures ------------------------------------------


def test_while_running_it_says_where_its_servers_are_and_removes_that_on_exit(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev.httpx, "get", lambda url, **_: httpx.Response(200))
    seen: list[Any] = []

    def sleep(_seconds: float) -> None:
        if "Ctrl-C stops everything." in stack["said"]:
            seen.append(read_state())
            ctrl_c()

    monkeypatch.setattr(dev.time, "sleep", sleep)

    assert dev.run() == 0

    (running,) = seen
    assert running.pid == os.getpid()
    assert running.database_url == "postgresql+asyncpg://postgres@127.0.0.1:1/jiban"
    assert running.kafka_bootstrap_servers == "127.0.0.1:2"
    # The embedded broker's short session timeout travels with it (for `jiban dlq replay`).
    assert running.consumer_session_timeout_ms == dev.EMBEDDED_BROKER_SESSION_TIMEOUT_MS
    assert running.services["tracking"] == "http://127.0.0.1:8003"
    assert not STATE_FILE.exists()


def test_a_service_that_exits_once_ready_stops_everything_with_one_line(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev.httpx, "get", lambda url, **_: httpx.Response(200))

    def sleep(_seconds: float) -> None:
        if "Ctrl-C stops everything." in stack["said"]:
            FakeService.started[1].returncode = 1  # dispatch dies

    monkeypatch.setattr(dev.time, "sleep", sleep)

    with pytest.raises(CommandError, match=r"^dispatch exited with 1 .*stopped$"):
        dev.run()

    assert stack["infrastructure"] == "stopped"
    assert not STATE_FILE.exists()


def test_a_service_port_in_use_is_said_before_anything_starts(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev, "port_free", lambda port, _host: port != 8003)

    with pytest.raises(
        CommandError, match=re.escape("tracking's port 127.0.0.1:8003 is in use")
    ) as failed:
        dev.run()

    assert failed.value.exit_code == EXIT_UNAVAILABLE
    assert "JIBAN_TRACKING_PORT" in str(failed.value)
    assert stack["infrastructure"] == "not started" and FakeService.started == []


def test_an_embedded_server_that_cannot_start_is_one_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)

    class Broken:
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            pass

        def __enter__(self) -> Broken:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

        def start(self) -> None:
            raise LocalServerError("the embedded PostgreSQL exited with 1 before listening")

    clean_env.setattr(dev, "LocalPostgres", Broken)
    with (
        pytest.raises(CommandError, match="embedded PostgreSQL exited with 1") as failed,
        dev.infrastructure(Settings()),
    ):
        pass
    assert failed.value.exit_code == EXIT_UNAVAILABLE
