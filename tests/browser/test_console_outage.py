"""A service down, in a real browser: a step sent while tracking is away gets a page that says
plainly which service is not answering (never a stack trace), and what the officer typed is in
the form again when the appeal's page comes back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

REASON = "该路段由交通部门管养，请改派交通运输局。"


async def test_a_service_down_is_named_and_what_was_typed_comes_back(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    path = f"/appeals/{appeal['appeal_id']}"
    await sign_in_as(page, console, appeal["officer_id"], path)

    pipeline = console_stack.pipeline
    await asyncio.to_thread(pipeline.kill, "tracking")
    give_back = page.locator("#step-return")
    await give_back.locator("textarea[name=reason]").fill(REASON)
    await give_back.get_by_role("button", name="退单").click()
    await expect(page.get_by_role("alert")).to_contain_text("“跟踪督办”服务暂无响应")
    assert "Traceback" not in await page.content()
    await shot(page, "tracking-down")
    await assert_accessible(page)

    await asyncio.to_thread(pipeline.restart, "tracking")
    await asyncio.to_thread(pipeline.wait_ready, ["tracking"], 120)
    await page.goto(console + path)
    kept = page.locator("#step-return textarea[name=reason]")
    await expect(kept).to_have_value(REASON)
    await expect(kept).to_have_attribute("data-restored", "true")
    await shot(page, "typed-text-back")

    # Sent again, and done: the page forgets the draft.
    await page.locator("#step-return").get_by_role("button", name="退单").click()
    await expect(page.locator("p.done[role=status]")).to_be_visible()
    drafts = "Object.keys(sessionStorage).filter((k) => k.startsWith('jiban-draft:')).length"
    assert await page.evaluate(drafts) == 0
