"""The directory in a real browser ("directory edit"): a supervisor edits an officer's capacity,
leave and on-duty flag in place (the row is swapped, the page stays), once with the keyboard
alone; a refused capacity shows dispatch's reason and keeps what was typed; a duty post is
handed over; a small CSV roster with one bad row is imported and its per-row report shown. The
new duty dispatcher (a role dispatch does not let change the directory) reads it without the
controls. Every change is checked through dispatch's API."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot
from harness import bearer, dev_token, eventually
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

from services.dispatch.directory import local_today
from services.dispatch.directory.demo import SUP_SERVICE

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ROSTER_HEADER = ["工号", "姓名", "手机", "邮箱", "角色", "单位", "容量"]
ROSTER_ROWS = [
    ["cw-new-1", "李新", "13900139101", "cw-new-1@jiban.example", "社区工作人员", "大旺社区", "8"],
    ["cw-new-2", "王新", "13900139102", "cw-new-2@jiban.example", "社区工作人员", "大旺社区", ""],
    ["cw-new-3", "赵新", "1390013910", "cw-new-3@jiban.example", "社区工作人员", "大旺社区", ""],
]


def roster_csv() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([ROSTER_HEADER, *ROSTER_ROWS])
    return buffer.getvalue().encode("utf-8")


async def dispatch_get(console_stack: Any, path: str) -> Any:
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        response = await http.get(console_stack.url("dispatch") + path)
        assert response.status_code == 200, response.text
        return response.json()


async def a_community_worker(console_stack: Any) -> dict[str, Any]:
    page = await dispatch_get(
        console_stack, "/v1/officers?role=community_worker&on_leave=false&limit=1"
    )
    officer: dict[str, Any] = page["items"][0]
    return officer


async def still_the_same_page(page: Page) -> bool:
    return bool(await page.evaluate("window.__directoryPage === true"))


async def test_a_supervisor_edits_the_directory_in_place_and_imports_a_roster(
    new_page: Any, console_stack: Any
) -> None:
    console = console_stack.url("console")
    target = await a_community_worker(console_stack)
    officer_id = target["officer_id"]
    page = await new_page()
    await sign_in_as(page, console, SUP_SERVICE, f"/directory?q={officer_id}")
    row = page.locator(f'tr[data-officer="{officer_id}"]')
    await expect(row).to_contain_text(target["name"])
    await expect(page.locator("#duty-dispatcher")).to_be_visible()
    await shot(page, "directory")
    await assert_accessible(page)

    # --- capacity, leave and on-duty, saved in place (htmx swaps the row, not the page) ---
    await page.evaluate("window.__directoryPage = true")
    start = local_today() + timedelta(days=30)
    leave = f"{start.isoformat()}~{(start + timedelta(days=2)).isoformat()}（年假）"
    await row.get_by_label(re.compile("的容量")).fill("17")
    await row.get_by_label(re.compile("的休假")).fill(leave)
    await row.get_by_role("checkbox", name="在岗").uncheck()
    await row.get_by_role("button", name="保存").click()
    await expect(row.get_by_role("status")).to_contain_text("已保存")
    assert await still_the_same_page(page), "the row was swapped, the page not reloaded"
    await expect(row.get_by_label(re.compile("的容量"))).to_have_value("17")
    await expect(row.get_by_role("checkbox", name="在岗")).not_to_be_checked()

    async def changed() -> dict[str, Any] | None:
        officer = await dispatch_get(console_stack, f"/v1/officers/{officer_id}")
        return officer if officer["capacity"] == 17 else None

    officer = await eventually(changed, timeout_s=10)
    assert officer["on_duty"] is False
    assert officer["leave"] == [
        {
            "start": start.isoformat(),
            "end": (start + timedelta(days=2)).isoformat(),
            "note": "年假",
        }
    ]
    await shot(page, "directory-row-saved")
    await assert_accessible(page)

    # --- a refused capacity: dispatch's reason in the row, what was typed still there ---
    await row.get_by_label(re.compile("的容量")).fill("-1")
    await row.get_by_role("button", name="保存").click()
    alert = row.get_by_role("alert")
    await expect(alert).to_contain_text("未能办理")
    await expect(alert).to_contain_text("greater than or equal to 0")
    await expect(row.get_by_label(re.compile("的容量"))).to_have_value("-1")
    await expect(row.get_by_label(re.compile("的容量"))).to_have_attribute("aria-invalid", "true")
    await expect(row.get_by_label(re.compile("的休假"))).to_have_value(leave)
    assert await still_the_same_page(page)
    assert (await dispatch_get(console_stack, f"/v1/officers/{officer_id}"))["capacity"] == 17
    await shot(page, "directory-row-refused")
    await assert_accessible(page)

    # --- the same row with the keyboard alone: capacity 21, back on duty, saved ---
    await row.get_by_label(re.compile("的容量")).focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("21")
    await page.keyboard.press("Shift+Tab")  # the on-duty checkbox
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")  # capacity
    await page.keyboard.press("Tab")  # leave
    await page.keyboard.press("Tab")  # save
    await expect(row.get_by_role("button", name="保存")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(row.get_by_role("status")).to_contain_text("已保存")
    await expect(row.get_by_role("alert")).to_have_count(0)

    async def back_on_duty() -> dict[str, Any] | None:
        officer = await dispatch_get(console_stack, f"/v1/officers/{officer_id}")
        return officer if officer["capacity"] == 21 and officer["on_duty"] else None

    await eventually(back_on_duty, timeout_s=10)
    assert await still_the_same_page(page)
    await shot(page, "directory-row-keyboard")

    # --- a duty post handed over ---
    dispatcher_post = page.locator("#duty-dispatcher")
    await dispatcher_post.get_by_label("交给").select_option(officer_id)
    await dispatcher_post.get_by_role("button", name="交接").click()
    await expect(page).to_have_url(re.compile(r"saved=duty-dispatcher"))
    await expect(page.locator("#duty-dispatcher [data-field=holder]")).to_contain_text(officer_id)
    await expect(page.locator("#duty-dispatcher").get_by_role("status")).to_contain_text("已交接")
    duty = (await dispatch_get(console_stack, "/v1/duty"))["items"]
    assert {d["post"]: d["officer_id"] for d in duty}["dispatcher"] == officer_id
    await shot(page, "directory-duty-handed-over")
    await assert_accessible(page)

    # --- a roster with one bad row: the good ones imported, the bad one reported ---
    roster = page.locator(".directory-roster")
    await roster.get_by_label("名册文件").set_input_files(
        {"name": "名册.csv", "mimeType": "text/csv", "buffer": roster_csv()}
    )
    await roster.get_by_role("button", name="导入", exact=True).click()
    report = page.locator("#roster-report")
    await expect(report).to_contain_text("名册.csv")
    await expect(report.locator('[data-count="rows_read"]')).to_have_text("3")
    await expect(report.locator('[data-count="good"]')).to_have_text("2")
    await expect(report.locator('[data-count="rejected"]')).to_have_text("1")
    rejected = report.locator('table.rejected tr[data-row="4"]')
    await expect(rejected).to_contain_text("phone")
    await expect(rejected).to_contain_text("1390013910")
    await expect(rejected).to_contain_text("row 4")
    imported = await dispatch_get(console_stack, "/v1/officers/cw-new-1")
    assert (imported["name"], imported["capacity"]) == ("李新", 8)
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        missing = await http.get(console_stack.url("dispatch") + "/v1/officers/cw-new-3")
        assert missing.status_code == 404, "the bad row was not imported"
    await shot(page, "directory-roster-report")
    await assert_accessible(page)

    # --- the new duty dispatcher reads the directory without the controls ---
    reader = await new_page()
    await sign_in_as(reader, console, officer_id, "/directory")
    await expect(reader.get_by_role("note")).to_contain_text("运维或督办人")
    await expect(reader.locator("table.officers tbody tr").first).to_be_visible()
    await expect(reader.get_by_role("button", name="保存")).to_have_count(0)
    await expect(reader.locator(".directory-roster")).to_have_count(0)
    await shot(reader, "directory-read-only")
    await assert_accessible(reader)


async def test_without_javascript_a_row_posts_and_comes_back_to_it(
    new_page: Any, console_stack: Any
) -> None:
    console = console_stack.url("console")
    target = await a_community_worker(console_stack)
    officer_id = target["officer_id"]
    page = await new_page(java_script_enabled=False)
    await sign_in_as(page, console, SUP_SERVICE, f"/directory?q={officer_id}")
    row = page.locator(f'tr[data-officer="{officer_id}"]')
    capacity = row.get_by_label(re.compile("的容量"))

    # Refused: the whole page again, dispatch's reason in the row, the typed value kept.
    await capacity.fill("10001")
    await row.get_by_role("button", name="保存").click()
    await expect(row.get_by_role("alert")).to_contain_text("less than or equal to 10000")
    await expect(capacity).to_have_value("10001")
    await expect(page.get_by_label("姓名或工号")).to_have_value(officer_id)
    # (axe-core runs as a script, so it cannot run here: the same markup is checked with
    # scripts on in the test above.)
    await shot(page, "no-js-refused")

    await capacity.fill("9")
    await row.get_by_role("button", name="保存").click()
    await expect(page).to_have_url(
        re.compile(rf"/directory\?q={officer_id}&saved={officer_id}#officer-")
    )
    await expect(row.get_by_role("status")).to_contain_text("已保存")
    await expect(capacity).to_have_value("9")
    assert (await dispatch_get(console_stack, f"/v1/officers/{officer_id}"))["capacity"] == 9
    await shot(page, "no-js-saved")
