"""A ruling in a real browser: an officer gives an appeal back (退单) with a reason code, the
duty dispatcher sees it awaiting a ruling with the officer's name, rejects it with a note, and
the officer's open page hears of the ruling without a reload."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from harness import bearer, dev_token, eventually
from playwright.async_api import expect
from test_console_officer import LIVE_WITHIN_MS, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def console_overrides() -> dict[str, Any]:
    return {"console_live_poll_s": 0.5}


async def _duty_dispatcher(console_stack: Any) -> str:
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        r = await http.get(console_stack.url("dispatch") + "/v1/duty")
        assert r.status_code == 200, r.text
        [post] = [d for d in r.json()["items"] if d["post"] == "dispatcher"]
        return str(post["officer_id"])


async def test_a_return_is_ruled_in_place_and_the_officer_hears_of_it_live(
    new_page: Any, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    officer = await new_page()
    await sign_in_as(officer, console, appeal["officer_id"], f"/appeals/{appeal['appeal_id']}")
    give_back = officer.locator("#step-return")
    await give_back.get_by_label("原因类别").select_option("other")
    await give_back.locator("textarea[name=reason]").fill("该路段归属交通部门管理。")
    await give_back.get_by_role("button", name="退单").click()
    await expect(officer.locator('[data-field="status"]')).to_contain_text("已退单")

    dispatcher = await new_page()
    await sign_in_as(dispatcher, console, await _duty_dispatcher(console_stack), "/returns")
    ruling = dispatcher.locator(f'li.ruling[data-appeal="{appeal["appeal_id"]}"]')
    await expect(ruling).to_contain_text(appeal["officer_name"])
    await expect(ruling).to_contain_text("该路段归属交通部门管理。")
    await shot(dispatcher, "returns")
    await assert_accessible(dispatcher)

    await ruling.locator("textarea[name=note]").fill("首接负责，请继续办理。")
    await ruling.get_by_role("button", name="驳回退单").click()
    await expect(dispatcher).to_have_url(re.compile(r"/returns\?ruled="))
    await expect(
        dispatcher.locator(f'li.ruling[data-appeal="{appeal["appeal_id"]}"]')
    ).to_have_count(0)

    notice = officer.locator('#live-notices li[data-kind="return_rejected"]')
    await expect(notice).to_be_visible(timeout=LIVE_WITHIN_MS)
    await shot(officer, "appeal-return-rejected-notice")
    # Back with the officer once tracking has applied the ruling (dispatch announced it first).
    async def back_with_the_officer() -> bool:
        await officer.reload()
        return "已派单" in (await officer.locator('[data-field="status"]').inner_text())

    assert await eventually(back_with_the_officer, timeout_s=30, every_s=0.5)
