"""An urging notice (催办) in a real browser: with acknowledgement due a minute after receipt,
the officer's open queue hears the deadline warning and then the urging of the overdue appeal
without a reload, each within 5 s of tracking recording it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from harness import bearer, dev_token, eventually
from playwright.async_api import Page, expect
from test_console_officer import LIVE_WITHIN_MS, sign_in_as

from shared.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Acknowledgement (签收) is due a minute after receipt: the warning comes at 80 % of it (48 s),
# the urging when it passes; the scheduler looks twice a second.
POLICY = 'stages:\n  acknowledge:\n    default: "1 minute"\n'
FIRED_WITHIN_S = 150


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    policy = tmp_path / "deadline-policy.yaml"
    policy.write_text(POLICY)
    return settings.model_copy(
        update={"deadline_policy_path": str(policy), "scheduler_poll_interval_s": 0.5}
    )


@pytest.fixture
def console_overrides() -> dict[str, Any]:
    return {"console_live_poll_s": 0.5}


async def _recorded(console_stack: Any, appeal_id: str, kind: str) -> float:
    """Waits until tracking's history has a line of `kind`; returns when it was seen."""
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:

        async def noted() -> bool:
            r = await http.get(console_stack.url("tracking") + f"/v1/appeals/{appeal_id}")
            return any(h["kind"] == kind for h in r.json().get("history", []))

        await eventually(noted, timeout_s=FIRED_WITHIN_S, every_s=0.25)
    return time.monotonic()


async def test_the_open_queue_hears_the_warning_and_the_urging_of_an_overdue_appeal(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    await sign_in_as(page, console, appeal["officer_id"])
    await page.evaluate("() => (window.__notReloaded = true)")

    for kind, notice in (("deadline_warning", "due_soon"), ("deadline_overdue", "urged")):
        await _recorded(console_stack, appeal["appeal_id"], kind)
        line = page.locator(f'#live-notices li[data-kind="{notice}"]')
        await expect(line).to_contain_text(appeal["tracking_code"], timeout=LIVE_WITHIN_MS)
    assert await page.evaluate("() => window.__notReloaded === true")
    # (An appeal left unacknowledged past its limit is routed again: the refreshed queue may
    # no longer hold it, which is tracking's rule, not the page's.)
    await shot(page, "queue-urged")
    await assert_accessible(page)
