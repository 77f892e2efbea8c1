"""The unit board in a real browser against the real services: a supervisor sees their unit's
open appeals counted and their officers' load, reassigns an appeal to an officer they choose,
adds an assisting officer, marks one unreasonable, grants an extension an officer asked for,
sees a refused reassignment keep what they typed, searches with filters, and downloads exactly
the rows shown as CSV. Each change is checked through the services' own APIs."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal, tab_to
from harness import bearer, dev_token, eventually
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# The demo directory's CSO office: the CSOs of enterprises on no chain with a service team,
# their assistants, and their supervisor.
UNIT = "首席服务官办公室"
SUPERVISOR = "sup-1"
MATTERS = (
    "厂区门前道路破损严重，货车进出困难，请安排修补路面。",
    "企业申请的人才公寓入住手续办理进度缓慢，请协调加快。",
    "园区供水压力不足，二楼以上车间经常断水，影响生产。",
)
COLUMNS = (
    "tracking_code",
    "summary",
    "status",
    "category",
    "channel",
    "officer",
    "due",
    "punctuality",
    "marks",
)


@pytest.fixture
def console_overrides() -> dict[str, Any]:
    return {"console_live_poll_s": 0.5}


async def _api(console_stack: Any, service: str, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        r = await http.get(console_stack.url(service) + path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()


async def _unit_appeals(console_stack: Any) -> list[dict[str, Any]]:
    """Three appeals of enterprises whose CSOs are in the CSO office, each assigned there."""
    enterprises = await _api(
        console_stack, "dispatch", "/v1/enterprises", chain="other", limit=len(MATTERS)
    )
    appeals = []
    for enterprise, matter in zip(enterprises["items"], MATTERS, strict=True):
        appellant = {
            "name": "陈经理",
            "phone": "13800138000",
            "enterprise_credit_code": enterprise["credit_code"],
        }
        appeal = await submit_assigned_appeal(console_stack, appellant=appellant, content=matter)
        officer = await _api(console_stack, "dispatch", f"/v1/officers/{appeal['officer_id']}")
        assert officer["unit"] == UNIT, officer
        appeals.append(appeal)
    return appeals


async def _ask_for_extension(console_stack: Any, appeal: dict[str, Any]) -> None:
    """The appeal's officer accepts it and asks for three more working days (tracking's API)."""
    token = dev_token(appeal["officer_id"], ("officer",), UNIT)
    async with httpx.AsyncClient(timeout=10, headers=bearer(token)) as http:
        base = console_stack.url("tracking") + f"/v1/appeals/{appeal['appeal_id']}"
        accepted = await http.post(base + "/accept", json={})
        assert accepted.status_code == 200, accepted.text
        asked = await http.post(
            base + "/extension", json={"days": 3, "reason": "需协调供水部门现场勘查，申请延期。"}
        )
        assert asked.status_code == 201, asked.text


async def _another_officer(console_stack: Any, *not_these: str) -> str:
    """An officer of the unit on duty and not away, other than `not_these`."""
    officers = await _api(
        console_stack, "dispatch", "/v1/officers", unit=UNIT, on_duty="true", on_leave="false"
    )
    return next(
        str(o["officer_id"])
        for o in officers["items"]
        if o["officer_id"] not in not_these and o["role"] != "supervisor"
    )


def _row(page: Page, appeal: dict[str, Any]) -> Any:
    return page.locator(f'table.board tr[data-appeal="{appeal["appeal_id"]}"]')


async def _act(page: Page, appeal: dict[str, Any]) -> Any:
    """The appeal's row with its actions opened (a <details>, as a keyboard user opens it)."""
    row = _row(page, appeal)
    details = row.locator("details")
    if await details.get_attribute("open") is None:
        await row.locator("summary").focus()
        await page.keyboard.press("Enter")
    await expect(details).to_have_attribute("open", "")
    return row


async def _table(page: Page) -> list[list[str]]:
    rows = page.locator("table.board tbody tr")
    table = []
    for n in range(await rows.count()):
        row = rows.nth(n)
        cells = [
            (await row.locator(f'td[data-column="{c}"]').inner_text()).strip() for c in COLUMNS
        ]
        table.append(cells)
    return table


async def test_a_supervisor_works_the_unit_board(new_page: Any, console_stack: Any) -> None:
    console = console_stack.url("console")
    a, b, c = await _unit_appeals(console_stack)
    await _ask_for_extension(console_stack, c)

    page = await new_page()
    await sign_in_as(page, console, SUPERVISOR, "/board")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(UNIT)

    # Tracking learns each officer's unit from the directory's changes, which it may still be
    # reading when the appeals are assigned: the board counts an appeal once it has.
    async def all_three() -> bool:
        await page.reload()
        return await page.locator('[data-count="open"]').inner_text() == "3"

    assert await eventually(all_three, timeout_s=60, every_s=1)
    await expect(page.locator("table.board tbody tr")).to_have_count(3)
    load = page.locator(f'table.officers tr[data-officer="{a["officer_id"]}"]')
    await expect(load.locator('[data-field="open"]')).not_to_have_text("0")
    await expect(load.locator('[data-field="state"]')).to_have_text("在岗")
    extension = page.locator(f'li.extension[data-appeal="{c["appeal_id"]}"]')
    await expect(extension).to_contain_text(c["officer_name"])
    await expect(extension).to_contain_text("需协调供水部门现场勘查")
    await shot(page, "board")
    await assert_accessible(page)

    # Reassign A to an officer the supervisor chooses.
    target = await _another_officer(console_stack, a["officer_id"], b["officer_id"])
    row = await _act(page, a)
    await row.get_by_label("改派给", exact=True).fill(target)
    await row.get_by_label("说明").fill("原承办人外出，改派。")
    await row.get_by_role("button", name="改派给该工作人员").click()
    await expect(page.locator('[role="status"]')).to_contain_text(f"已改派给 {target}")

    async def moved() -> bool:
        assignment = await _api(console_stack, "dispatch", f"/v1/assignments/{a['appeal_id']}")
        view = await _api(console_stack, "tracking", f"/v1/appeals/{a['appeal_id']}")
        return assignment["officer_id"] == target and view["officer_id"] == target

    assert await eventually(moved, timeout_s=30, every_s=0.5)

    # Add an assisting officer to B.
    helper = await _another_officer(console_stack, b["officer_id"])
    row = await _act(page, b)
    await row.get_by_label("协办人", exact=True).fill(helper)
    await row.get_by_role("button", name="添加协办人").click()
    await expect(page.locator('[role="status"]')).to_contain_text("已添加协办人")
    assignment = await _api(console_stack, "dispatch", f"/v1/assignments/{b['appeal_id']}")
    assert assignment["assistant_officer_ids"] == [helper]

    # Mark B unreasonable, with the keyboard only.
    reason = "经核查，诉求已由企业自行解决，无需办理。"
    row = await _act(page, b)
    await tab_to(page, row.locator("textarea[name=reason]"))
    await page.keyboard.type(reason)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator('[role="status"]')).to_contain_text("已标记为不合理诉求")
    view = await _api(console_stack, "tracking", f"/v1/appeals/{b['appeal_id']}")
    assert (view["unreasonable"]["by"], view["unreasonable"]["reason"]) == (SUPERVISOR, reason)
    await expect(_row(page, b).locator('td[data-column="marks"]')).to_contain_text("不合理诉求")

    # Grant C's extension in place.
    extension = page.locator(f'li.extension[data-appeal="{c["appeal_id"]}"]')
    await extension.get_by_label("说明").fill("同意延期三个工作日。")
    await extension.get_by_role("button", name="同意延期").click()
    await expect(page.locator('[role="status"]')).to_contain_text("已同意延期")
    await expect(page.locator(f'li.extension[data-appeal="{c["appeal_id"]}"]')).to_have_count(0)
    view = await _api(console_stack, "tracking", f"/v1/appeals/{c['appeal_id']}")
    assert [(e["status"], e["decided_by"]) for e in view["extensions"]] == [("granted", SUPERVISOR)]

    # A reassignment dispatch refuses (no such officer): its reason beside the form, what was
    # typed still in it.
    row = await _act(page, c)
    await row.get_by_label("改派给", exact=True).fill("nobody-404")
    await row.get_by_label("说明").fill("请改派给专班。")
    await row.get_by_role("button", name="改派给该工作人员").click()
    problem = page.locator(f"#problem-reassign-{c['appeal_id']}")
    await expect(problem).to_contain_text("nobody-404")
    row = _row(page, c)
    await expect(row.get_by_label("改派给", exact=True)).to_have_value("nobody-404")
    await expect(row.get_by_label("说明")).to_have_value("请改派给专班。")
    assignment = await _api(console_stack, "dispatch", f"/v1/assignments/{c['appeal_id']}")
    assert assignment["officer_id"] == c["officer_id"]
    await shot(page, "board-refused-reassignment")
    await assert_accessible(page)

    # A search with filters (htmx swaps the results and keeps the address).
    filters = page.get_by_role("search")
    await filters.get_by_label("不合理诉求").select_option("true")
    await filters.get_by_label("受理日期自").fill(view["received_at"][:10])
    await filters.get_by_role("button", name="筛选").click()
    await expect(page).to_have_url(re.compile(r"unreasonable=true"))
    await expect(page.locator("table.board tbody tr")).to_have_count(1)
    await expect(_row(page, b)).to_be_visible()
    await expect(page.locator('[data-count="matching"]')).to_contain_text("共 1 件")
    await shot(page, "board-search")
    await assert_accessible(page)

    # The search kept as a view: opened again from the board without filters.
    views = page.locator("section.saved-views")
    await views.get_by_label("将当前筛选保存为").fill("不合理诉求")
    await views.get_by_role("button", name="保存视图").click()
    await expect(views.locator('li[data-view="不合理诉求"]')).to_have_count(1)
    await page.goto(console + "/board")
    await page.locator("section.saved-views").get_by_role("link", name="不合理诉求").click()
    await expect(page).to_have_url(re.compile(r"/board\?.*unreasonable=true"))
    await expect(page.locator("table.board tbody tr")).to_have_count(1)
    filters = page.get_by_role("search")

    # Every open appeal again; the CSV holds exactly the rows shown.
    await filters.get_by_label("不合理诉求").select_option("")
    await filters.get_by_label("搜索").fill(a["tracking_code"][:3])
    await filters.get_by_role("button", name="筛选").click()
    await expect(page.locator("table.board tbody tr")).to_have_count(3)
    shown = await _table(page)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="下载当前显示的行（CSV）").click()
    download = await download_info.value
    raw = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert raw.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    text = raw.decode("utf-8").removeprefix("\ufeff")
    header, *lines = list(csv.reader(io.StringIO(text)))
    assert header[0] == "受理编号" and len(header) == len(COLUMNS)
    assert [[cell.strip() for cell in line] for line in lines] == shown
    assert {line[0] for line in lines} == {x["tracking_code"] for x in (a, b, c)}

    # The supervisor's pages in English too (the switch is remembered): each renders whole.
    for path, heading in (
        ("/board?lang=en", "Unit board"),
        ("/returns", "Returns awaiting a ruling"),
        ("/dashboard", "Dashboard"),
        ("/directory", "Directory"),
        (f"/appeals/{b['appeal_id']}", "Appeal"),
    ):
        response = await page.goto(console + path)
        assert response is not None and response.status == 200, path
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    await shot(page, "appeal-in-english")
    await assert_accessible(page)
