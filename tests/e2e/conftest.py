"""The four services as real OS processes, on free ports, against the test's database/topics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import Stack

from shared.settings import Settings


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(settings, tmp_path)
    try:
        yield running
    finally:
        running.stop()
