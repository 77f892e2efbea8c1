"""Which PostgreSQL and Kafka a `jiban` command talks to: the ones the environment names
(DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS), else those of the `jiban dev` (`make run`) running in
this folder, else the settings' defaults.

`jiban dev` starts its embedded servers on ports of its own, so it writes where they are to
`.jiban/dev.json` once they are migrated and loaded, and removes the file when it exits. A file
whose process is gone (killed with -9) is ignored. The file is no configuration: it only fills in
what the environment left unset, through Settings' own constructor.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shared.settings import Settings

STATE_DIR = Path(".jiban")
STATE_FILE = STATE_DIR / "dev.json"


class DevState(BaseModel):
    """What a running `jiban dev` tells the other commands."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pid: int
    database_url: str
    kafka_bootstrap_servers: str
    # The embedded broker answers group joins after a fraction of it: `jiban dlq replay` uses the
    # value the services were given.
    consumer_session_timeout_ms: int | None = None
    services: dict[str, str] = {}  # name → base URL


def configured(settings: Settings, field: str) -> str | None:
    """The value the environment gave `field`, None when it gave none (or an empty one): a
    default is not a choice."""
    value = getattr(settings, field) if field in settings.model_fields_set else None
    return str(value) if value not in (None, "") else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def read_state(path: Path = STATE_FILE) -> DevState | None:
    """The running `jiban dev`'s state, None when there is none (no file, a garbled one, or one
    whose process is gone)."""
    try:
        state = DevState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
    return state if process_alive(state.pid) else None


@contextlib.contextmanager
def published(state: DevState, path: Path = STATE_FILE) -> Iterator[None]:
    """Writes `state` for the other commands while the block runs. Written whole or not at all
    (renamed into place), readable by its owner only (a configured DATABASE_URL may hold a
    password); on exit removed unless another `jiban dev` has replaced it since."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{state.pid}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(state.model_dump_json(indent=2))
    partial.replace(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValidationError):
            if DevState.model_validate_json(path.read_bytes()).pid == state.pid:
                path.unlink()


# --- what a command uses -----------------------------------------------------------------------

FROM_ENVIRONMENT = "from {variable}"
FROM_DEV = "from the `make run` running here, pid {pid}"
DEFAULT = "the default: {variable} is not set and no `make run` is running in this folder"


@dataclass(frozen=True)
class Servers:
    """A command's settings, and where its database and broker came from (for its messages)."""

    settings: Settings
    database_origin: str
    broker_origin: str

    @property
    def database(self) -> str:
        return database_location(self.settings.database_url)

    @property
    def broker(self) -> str:
        return self.settings.kafka_bootstrap_servers


def not_postgres(url: str) -> str | None:
    """Why `url` cannot be the database (None when it can)."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        return "is not a database URL"
    return None if backend == "postgresql" else f"names {backend}, not PostgreSQL"


def database_location(url: str) -> str:
    """host:port/database, never the password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "DATABASE_URL (not a database URL)"
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database or ''}"


def command_servers(path: Path = STATE_FILE) -> Servers:
    """The settings a command runs with: the environment's, with the running `jiban dev`'s
    servers where the environment names none."""
    environment = Settings()
    state = read_state(path)
    taken: dict[str, object] = {}
    if state is not None:
        if not configured(environment, "database_url"):
            taken["database_url"] = state.database_url
        if not configured(environment, "kafka_bootstrap_servers"):
            taken["kafka_bootstrap_servers"] = state.kafka_bootstrap_servers
            if state.consumer_session_timeout_ms and not configured(
                environment, "consumer_session_timeout_ms"
            ):
                taken["consumer_session_timeout_ms"] = state.consumer_session_timeout_ms

    def origin(field: str, variable: str) -> str:
        if state is not None and field in taken:
            return FROM_DEV.format(pid=state.pid)
        if configured(environment, field):
            return FROM_ENVIRONMENT.format(variable=variable)
        return DEFAULT.format(variable=variable)

    return Servers(
        # The values were validated as Settings when `jiban dev` wrote them.
        environment.model_copy(update=taken),
        database_origin=origin("database_url", "DATABASE_URL"),
        broker_origin=origin("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    )
