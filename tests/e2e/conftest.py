"""The four services as real OS processes, on free ports, against the test's database/topics;
and `make run` (`jiban dev`) itself, one at a time on this machine."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def dev_ports() -> Iterator[None]:
    """Held while a test runs `jiban dev`: its embedded Postgres and broker listen on fixed
    ports (as a newcomer's do), so two such tests, e.g. on two pytest-xdist workers, take
    turns. A lock on a file every process on the machine sees; released if the holder dies."""
    with open(Path(tempfile.gettempdir()) / "jiban-dev-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
