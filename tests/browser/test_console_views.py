"""Saved views in a real browser: an officer filters their queue, keeps the filters under a name,
opens the view again from a plain queue, is told why a blank name is refused (with what they
typed still there), and deletes the view."""

from __future__ import annotations

import re
from typing import Any

import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def test_an_officer_keeps_opens_and_deletes_a_view_of_their_queue(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    channel = appeal["submission"]["channel"]
    await sign_in_as(page, console, appeal["officer_id"])

    await page.get_by_label("渠道").select_option(channel)
    await expect(page).to_have_url(re.compile(rf"channel={channel}"))
    views = page.locator("section.saved-views")
    await views.get_by_label("将当前筛选保存为").fill("热线来件")
    await views.get_by_role("button", name="保存视图").click()
    await expect(views.locator('li[data-view="热线来件"]')).to_have_count(1)
    await expect(page).to_have_url(re.compile(rf"channel={channel}"))
    await shot(page, "queue-with-a-saved-view")
    await assert_accessible(page)

    await page.goto(console + "/queue")
    await expect(page.get_by_label("渠道")).to_have_value("")
    await page.get_by_role("link", name="热线来件").click()
    await expect(page).to_have_url(re.compile(rf"/queue\?channel={channel}$"))
    await expect(page.get_by_label("渠道")).to_have_value(channel)
    await expect(page.locator(f'tr[data-appeal="{appeal["appeal_id"]}"]')).to_have_count(1)

    # A name of spaces only passes the browser's `required`, and the console refuses it.
    await views.get_by_label("将当前筛选保存为").fill("   ")
    await views.get_by_role("button", name="保存视图").click()
    await expect(page.get_by_role("alert")).to_contain_text("1至60个字")
    await expect(page.get_by_label("将当前筛选保存为")).to_have_value("   ")
    await shot(page, "view-refused")
    await assert_accessible(page)

    await page.goto(console + "/queue")
    await page.get_by_role("button", name="删除视图 热线来件").click()
    await expect(page.locator('li[data-view="热线来件"]')).to_have_count(0)
