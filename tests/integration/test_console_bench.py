"""The console's render bench runs against the real Postgres and broker: both ways (the console
alone, with tracking's real app over its tables), both pages, every page answered in full (no
timing is asserted)."""

from __future__ import annotations

import pytest

from jiban.bench import console as bench
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_the_console_bench_times_both_pages_both_ways(settings: Settings) -> None:
    await bench.seed_tracking(settings)
    results = await bench.measure(settings, repeats=1)
    assert set(results) == {"console alone", "with tracking"}
    for way, figures in results.items():
        assert set(figures) == {"queue", "board"}, way
        # A thousand rows of the queue: pages of 500 from tracking, however it answers.
        assert figures["queue"]["service_calls_per_page"] >= 2, way
        assert figures["queue"]["bytes"] > 1000 * 300, way
        assert figures["board"]["open_appeals"] == bench.BOARD_APPEALS
        assert figures["board"]["p50_ms"] > 0
