"""The officer's stories in a real browser (the system Chromium) against the real services,
broker and Postgres: sign in from the directory and come back to the page asked for, work the
queue, take a step, see a refused step keep what was typed, a live update arrive, sign out.
Every page is screenshotted (test-artifacts/screenshots/) and checked with axe-core."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from harness import bearer, dev_token
from playwright.async_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECOND_MATTER = "新厂房用电报装已提交两个月仍未批复，生产线无法按期投产，请协调供电部门。"
THIRD_MATTER = "园区污水管网堵塞，厂区门口污水外溢，影响员工出行，请安排清疏。"
LIVE_WITHIN_MS = 5000
# The restarted replica rejoins its consumer group first (the dead member must time out).
AFTER_RESTART_MS = 60_000


@pytest.fixture
def console_overrides() -> dict[str, Any]:
    return {"console_live_poll_s": 0.5}


async def _enterprise(console_stack: Any) -> str:
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        r = await http.get(console_stack.url("dispatch") + "/v1/enterprises", params={"limit": 1})
        assert r.status_code == 200, r.text
        return str(r.json()["items"][0]["credit_code"])


def _enterprise_appeal(credit_code: str, content: str | None = None) -> dict[str, Any]:
    appellant = {"name": "陈经理", "phone": "13800138000", "enterprise_credit_code": credit_code}
    overrides: dict[str, Any] = {"appellant": appellant}
    if content:
        overrides["content"] = content
    return overrides


async def sign_in_as(page: Page, console: str, officer_id: str, path: str = "/queue") -> None:
    """Opens `path` signed out, is sent to sign in, picks the officer, and lands on `path`."""
    await page.goto(console + path)
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    await page.locator(f'button[data-officer="{officer_id}"]').click()
    await expect(page).to_have_url(console + path)


async def test_officer_signs_in_works_the_queue_takes_steps_and_signs_out(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)

    await page.goto(console + "/sign-in")
    await expect(page.get_by_role("heading", name="登录", exact=True)).to_be_visible()
    await shot(page, "sign-in")
    await assert_accessible(page)

    # Signed out, a filtered queue sends the person to sign in, then back to that very page
    # (a new assignment is due soon: it is to be accepted within 24 hours).
    await sign_in_as(page, console, appeal["officer_id"], "/queue?punctuality=due_soon")
    row = page.locator(f'tr[data-appeal="{appeal["appeal_id"]}"]')
    await expect(row).to_contain_text(appeal["tracking_code"])
    await expect(page.locator('[data-count="total"]')).to_have_text("1")
    await shot(page, "queue")
    await assert_accessible(page)

    # A filter with nothing in it empties the list (htmx, no reload) and keeps the counts.
    await page.get_by_label("时效").select_option("overdue")
    await expect(row).to_have_count(0)
    await expect(page.locator('[data-count="total"]')).to_have_text("1")
    await page.get_by_label("时效").select_option("")
    await expect(row).to_be_visible()

    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(appeal["tracking_code"])
    # Only the steps the lifecycle allows now: a new assignment is accepted (签收) or returned.
    steps = page.locator("form.step")
    await expect(steps).to_have_count(2)
    await shot(page, "appeal-assigned")
    await assert_accessible(page)

    await page.locator("#step-accept").get_by_role("button", name="签收").click()
    await expect(page.locator('[data-field="status"]')).to_contain_text("已签收")
    await expect(page.locator("#step-resolve")).to_be_visible()

    # Resolving before any contact with the appellant is refused by tracking: its reason shows
    # beside the form, and what was typed is still there.
    typed = "已协调排水所疏通，现场积水已排除。"
    await page.locator("#step-resolve textarea[name=resolution]").fill(typed)
    await page.locator("#step-resolve").get_by_role("button", name="办结").click()
    await expect(page.locator("#problem-resolve")).to_be_visible()
    await expect(page.locator("#step-resolve textarea[name=resolution]")).to_have_value(typed)
    await expect(page.locator('[data-field="status"]')).to_contain_text("已签收")
    await shot(page, "appeal-refused-step")
    await assert_accessible(page)

    # Contact, then the same resolution goes through.
    await page.locator("#step-contact textarea[name=note]").fill("电话联系诉求人，约定今日处理。")
    await page.locator("#step-contact").get_by_role("button", name="联系诉求人").click()
    await expect(page.locator('[role="status"]')).to_contain_text("联系诉求人")
    await page.locator("#step-resolve textarea[name=resolution]").fill(typed)
    await page.locator("#step-resolve").get_by_role("button", name="办结").click()
    await expect(page.locator('[data-field="status"]')).to_contain_text("已办结")
    await expect(page.locator("form.step")).to_have_count(0)
    await expect(page.locator(".timeline")).to_contain_text(typed)
    await shot(page, "appeal-resolved")

    # English on the switch, then sign out: the queue asks for sign-in again.
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/sign-in$"))
    await page.goto(console + "/queue")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fqueue"))


async def test_a_new_assignment_shows_on_the_open_queue_without_a_reload(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    credit_code = await _enterprise(console_stack)
    first = await submit_assigned_appeal(console_stack, **_enterprise_appeal(credit_code))
    await sign_in_as(page, console, first["officer_id"])
    await expect(page.locator(f'tr[data-appeal="{first["appeal_id"]}"]')).to_be_visible()
    marker = await page.evaluate("() => (window.__notReloaded = true)")
    assert marker is True

    # The enterprise's second matter goes to the same chief service officer.
    second = await submit_assigned_appeal(
        console_stack, **_enterprise_appeal(credit_code, SECOND_MATTER)
    )
    assert second["officer_id"] == first["officer_id"]
    notice = page.locator('#live-notices li[data-kind="assigned"]')
    await expect(notice).to_contain_text(second["tracking_code"], timeout=LIVE_WITHIN_MS)
    await expect(page.locator(f'tr[data-appeal="{second["appeal_id"]}"]')).to_be_visible(
        timeout=LIVE_WITHIN_MS
    )
    assert await page.evaluate("() => window.__notReloaded === true")
    await shot(page, "queue-live-notice")

    # The console replica serving the page dies and comes back: the page reconnects by itself
    # and the next assignment still shows, without a reload.
    replica = console_stack.console
    await asyncio.to_thread(replica.kill, "console")
    await asyncio.to_thread(replica.restart, "console")
    await asyncio.to_thread(replica.wait_ready, ["console"], 120)
    third = await submit_assigned_appeal(
        console_stack, **_enterprise_appeal(credit_code, THIRD_MATTER)
    )
    assert third["officer_id"] == first["officer_id"]
    await expect(
        page.locator('#live-notices li[data-kind="assigned"]').filter(
            has_text=third["tracking_code"]
        )
    ).to_be_visible(timeout=AFTER_RESTART_MS)
    await expect(page.locator(f'tr[data-appeal="{third["appeal_id"]}"]')).to_be_visible()
    assert await page.evaluate("() => window.__notReloaded === true")
