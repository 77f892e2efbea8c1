"""An assisting officer (协办) in a real browser, with the keyboard only: the lead has accepted,
a supervisor of the unit adds an assistant, and the assistant's appeal page offers their part
(contact and progress, none of the lead's steps); they record a contact and a note without the
mouse, and the timeline shows both."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal, tab_to
from harness import bearer, dev_token, eventually
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CONTACT_NOTE = "已电话联系企业负责人，约定明日上午现场查看。"
PROGRESS_NOTE = "协办单位已派员核实现场，排水口堵塞属实。"


async def _add_assistant(console_stack: Any, appeal: dict[str, Any]) -> str:
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        lead = appeal["officer_id"]
        accepted = await http.post(
            console_stack.url("tracking") + f"/v1/appeals/{appeal['appeal_id']}/accept",
            json={},
            headers=bearer(dev_token(sub=lead, roles=("officer",))),
        )
        assert accepted.status_code == 200, accepted.text
        dispatch = console_stack.url("dispatch")
        unit = (await http.get(dispatch + f"/v1/officers/{lead}")).json()["unit"]
        colleagues = (await http.get(dispatch + "/v1/officers", params={"unit": unit})).json()
        assistant = next(o["officer_id"] for o in colleagues["items"] if o["officer_id"] != lead)
        supervisor = bearer(dev_token(sub="supervisor-of-unit", roles=("supervisor",), unit=unit))
        added = await http.post(
            console_stack.url("dispatch") + f"/v1/appeals/{appeal['appeal_id']}/assistants",
            json={"officer_ids": [assistant]},
            headers=supervisor,
        )
        assert added.status_code == 200, added.text

        async def tracking_has_it() -> bool:
            r = await http.get(console_stack.url("tracking") + f"/v1/appeals/{appeal['appeal_id']}")
            return assistant in r.json().get("assistant_officer_ids", [])

        await eventually(tracking_has_it, timeout_s=60, every_s=0.2)
        return str(assistant)


async def test_an_assistant_records_a_contact_and_a_note_with_the_keyboard_only(
    page: Page, console_stack: Any
) -> None:
    console = console_stack.url("console")
    appeal = await submit_assigned_appeal(console_stack)
    assistant = await _add_assistant(console_stack, appeal)
    await sign_in_as(page, console, assistant, f"/appeals/{appeal['appeal_id']}")

    await expect(page.locator("form.step")).to_have_count(2)
    await expect(page.locator("#step-contact")).to_be_visible()
    await expect(page.locator("#step-progress")).to_be_visible()
    for lead_only in ("accept", "resolve", "return", "extension"):
        await expect(page.locator(f"#step-{lead_only}")).to_have_count(0)
    await shot(page, "assistant-appeal")
    await assert_accessible(page)

    contact = page.locator("#step-contact")
    await tab_to(page, contact.locator("select[name=method]"))
    await page.keyboard.press("ArrowDown")  # the next method after the first
    await page.keyboard.press("Tab")
    await page.keyboard.type(CONTACT_NOTE)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("p.done[role=status]")).to_be_visible()
    await expect(page.locator("ol.timeline")).to_contain_text(CONTACT_NOTE)

    await tab_to(page, page.locator("#step-progress textarea[name=note]"))
    await page.keyboard.type(PROGRESS_NOTE)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("ol.timeline")).to_contain_text(PROGRESS_NOTE)
    await shot(page, "assistant-after-notes")
    await assert_accessible(page)

    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        view = (
            await http.get(console_stack.url("tracking") + f"/v1/appeals/{appeal['appeal_id']}")
        ).json()
    by_assistant = [h for h in view["history"] if h["actor"] == assistant]
    assert [h["kind"] for h in by_assistant][-2:] == ["contact", "progress"], by_assistant
    assert view["status"] == "in_progress" or view["status"] == "accepted"
