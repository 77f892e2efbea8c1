"""A service down, in a real browser: the officer's queue says plainly which service is not
answering (never a stack trace), and comes back by itself on a reload once it answers again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def test_a_service_down_is_named_on_the_page_and_the_page_comes_back(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    await sign_in_as(page, console, appeal["officer_id"])
    await expect(page.locator(f'tr[data-appeal="{appeal["appeal_id"]}"]')).to_be_visible()

    pipeline = console_stack.pipeline
    await asyncio.to_thread(pipeline.kill, "tracking")
    response = await page.reload()
    assert response is not None and response.status == 503
    await expect(page.get_by_role("alert")).to_contain_text("“跟踪督办”服务暂无响应")
    assert "Traceback" not in await page.content()
    await shot(page, "tracking-down")
    await assert_accessible(page)

    await asyncio.to_thread(pipeline.restart, "tracking")
    await asyncio.to_thread(pipeline.wait_ready, ["tracking"], 120)
    await page.reload()
    await expect(page.locator(f'tr[data-appeal="{appeal["appeal_id"]}"]')).to_be_visible()
