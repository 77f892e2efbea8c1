"""The dashboard in a real browser: appeals of three enterprises go to their chief service
officers, two are worked to the end and rated by the hotline's follow-up call (one satisfied and
solved, one neither), one is left as it came; the CSO office's supervisor opens the dashboard,
chooses the period on the page, sees every chart drawn, opens each chart's table with one click,
and every number in those tables is what tracking's rates and five-ones reports answer for the
same period (read here with the supervisor's own token). A bad period gives a message on the
page, not an error."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from console_pages import assert_accessible, shot, submit_assigned_appeal
from harness import bearer, dev_token, eventually
from playwright.async_api import Page, expect
from test_console_officer import sign_in_as

from shared.clock import ZONE
from shared.signing import signature_headers

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SUPERVISOR = "sup-1"
CSO_OFFICE = "首席服务官办公室"  # sup-1's unit: the CSOs of enterprises off the industry chains
CHARTS = (
    "rates_by_month",
    "volume_by_month",
    "volume_by_channel",
    "volume_by_category",
    "volume_by_community",
    "officer_ranking",
    "unit_ranking",
    "five_ones",
)
VOLUME_TABLES = {
    "volume_by_channel": "channel",
    "volume_by_category": "category",
    "volume_by_community": "community",
}
FOLLOW_UPS = "/v1/channels/hotline_12345/follow-ups"
MATTERS = (
    "厂区门前道路破损严重，货车进出困难，请协调修复。",
    "企业新建生产线用水报装迟迟未批，影响投产，请协调水务部门。",
    "园区路灯损坏多日，夜班员工出行不安全，请尽快维修。",
)


def written(rate: float | None) -> str:
    """A rate as a person reads it in the tables."""
    return "—" if rate is None else f"{rate * 100:.2f}%"


def with_ratio(row: dict[str, Any], name: str) -> str:
    return f"{written(row[f'{name}_rate'])} {row[f'{name}_numerator']}/{row[f'{name}_denominator']}"


async def _office_enterprises(http: httpx.AsyncClient, dispatch: str, n: int) -> list[str]:
    """Credit codes of `n` enterprises whose CSOs (different ones) sit in the CSO office."""
    r = await http.get(dispatch + "/v1/enterprises", params={"chain": "other", "limit": 60})
    assert r.status_code == 200, r.text
    chosen: dict[str, str] = {}
    for enterprise in r.json()["items"]:
        cso = enterprise["cso_officer_id"]
        if cso in chosen.values():
            continue
        officer = (await http.get(dispatch + f"/v1/officers/{cso}")).json()
        if officer["unit"] == CSO_OFFICE:
            chosen[enterprise["credit_code"]] = cso
        if len(chosen) == n:
            return list(chosen)
    raise AssertionError(f"fewer than {n} enterprises with a CSO in {CSO_OFFICE}")


async def _work_to_resolved(tracking: str, appeal: dict[str, Any]) -> None:
    """The lead officer accepts, calls the appellant and resolves it, through tracking's API."""
    officer = dev_token(appeal["officer_id"], ("officer",), CSO_OFFICE)
    async with httpx.AsyncClient(timeout=10, headers=bearer(officer)) as http:
        steps = (
            ("accept", {}),
            ("contact", {"method": "phone", "note": "已电话联系企业负责人。"}),
            ("resolve", {"resolution": "已协调相关部门处理完毕。"}),
        )
        for step, body in steps:
            r = await http.post(tracking + f"/v1/appeals/{appeal['appeal_id']}/{step}", json=body)
            assert r.status_code == 200, (step, r.status_code, r.text)


async def _follow_up(intake: str, appeal_id: str, solved: bool, satisfaction: str) -> None:
    """The hotline's call back, as its adapter sends it: taken once intake has heard the appeal
    is resolved (409 until then; each try signed afresh, a second apart, never a replay)."""
    payload = {
        "appeal_id": appeal_id,
        "contacted": True,
        "solved": solved,
        "satisfaction": satisfaction,
        "note": "回访记录",
    }
    body = json.dumps(payload, ensure_ascii=False).encode()

    async def taken() -> bool:
        headers = signature_headers(
            "dev-hotline_12345", "dev-secret-hotline_12345", "POST", FOLLOW_UPS, body, time.time()
        )
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(
                intake + FOLLOW_UPS,
                content=body,
                headers={**headers, "content-type": "application/json"},
            )
        assert r.status_code in (202, 409), (r.status_code, r.text)
        return r.status_code == 202

    assert await eventually(taken, timeout_s=60, every_s=1.1)


async def _tracking_knows_every_enterprise(tracking: str, dispatch: str, month: str) -> None:
    """Waits until tracking's copy of the directory (filled from directory.changes once the demo
    is loaded) holds every enterprise a CSO serves, so the five ones stop changing."""
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as ops:
        served, cursor = 0, None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = (await ops.get(dispatch + "/v1/enterprises", params=params)).json()
            served += sum(1 for e in page["items"] if e["cso_officer_id"])
            cursor = page.get("next_cursor")
            if not cursor:
                break

        async def all_heard() -> bool:
            r = await ops.get(tracking + "/v1/reports/five-ones", params={"month": month})
            assert r.status_code == 200, r.text
            return sum(i["enterprises_total"] for i in r.json()["items"]) == served

        assert await eventually(all_heard, timeout_s=90, every_s=0.5)


async def _cells(page: Page, table: str) -> dict[str, dict[str, str]]:
    """A table's rows by data-group, each {data-col: text} (whitespace made single)."""
    rows: dict[str, dict[str, str]] = await page.locator(f'table[data-table="{table}"]').evaluate(
        """(table) => Object.fromEntries([...table.tBodies[0].rows].map((tr) => [
            tr.dataset.group,
            Object.fromEntries([...tr.cells].filter((c) => c.dataset.col).map(
                (c) => [c.dataset.col, c.textContent.replace(/\\s+/g, " ").trim()])),
        ]))"""
    )
    return rows


# Besides the stack's start, it waits for tracking to hear the whole demo directory (1,050
# enterprises on directory.changes) before the five ones can be compared: on a busy two-core
# machine that alone can take a minute or two.
@pytest.mark.timeout(300)
async def test_the_dashboards_numbers_are_the_rates_reports(
    new_page: Any, console_stack: Any
) -> None:
    console = console_stack.url("console")
    intake, tracking, dispatch = (console_stack.url(s) for s in ("intake", "tracking", "dispatch"))
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        codes = await _office_enterprises(http, dispatch, len(MATTERS))
    appeals = []
    for code, matter in zip(codes, MATTERS, strict=True):
        appellant = {"name": "陈经理", "phone": "13800138000", "enterprise_credit_code": code}
        appeals.append(
            await submit_assigned_appeal(console_stack, appellant=appellant, content=matter)
        )
    satisfied, unsatisfied, untouched = appeals
    for appeal in (satisfied, unsatisfied):
        await _work_to_resolved(tracking, appeal)
    await _follow_up(intake, satisfied["appeal_id"], True, "satisfied")
    await _follow_up(intake, unsatisfied["appeal_id"], False, "unsatisfied")

    # The period: the month before this one (Shanghai), to this one.
    this_month = datetime.now(ZONE).date().replace(day=1)
    before = this_month - timedelta(days=1)
    month, previous = this_month.strftime("%Y-%m"), before.strftime("%Y-%m")
    last_day = (this_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    period = {"from": before.replace(day=1).isoformat(), "to": last_day.isoformat()}
    supervisor = bearer(dev_token(SUPERVISOR, ("supervisor",), CSO_OFFICE))
    async with httpx.AsyncClient(timeout=10, headers=supervisor) as http:

        async def rates(group_by: str | None = None) -> dict[str, Any]:
            params = dict(period)
            if group_by:
                params["group_by"] = group_by
            r = await http.get(tracking + "/v1/reports/rates", params=params)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        async def both_followed_up() -> bool:
            overall = (await rates())["overall"]
            return bool(overall["resolution_denominator"] == 2)

        assert await eventually(both_followed_up, timeout_s=60, every_s=0.5)
        reports = {g: await rates(g) for g in ("month", *VOLUME_TABLES.values(), "officer")}
        reports["unit"] = await rates("unit")
        overall = reports["month"]["overall"]
        await _tracking_knows_every_enterprise(tracking, dispatch, month)
        r = await http.get(tracking + "/v1/reports/five-ones", params={"month": month})
        assert r.status_code == 200, r.text
        five = r.json()
    names = {}
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as ops:
        for row in reports["officer"]["rows"]:
            officer = await ops.get(dispatch + f"/v1/officers/{row['group']}")
            assert officer.status_code == 200, officer.text
            names[row["group"]] = officer.json()["name"]
    # What the test put through: three appeals, two followed up, one solved and satisfied
    # (closed); the unsolved one goes back to its officer (重办), open like the untouched one.
    assert (overall["total"], overall["open"]) == (3, 2)
    assert (overall["resolution_numerator"], overall["satisfaction_numerator"]) == (1, 1)
    assert untouched["officer_id"] in names

    page = await new_page()
    await sign_in_as(page, console, SUPERVISOR, "/dashboard")
    await expect(page.get_by_role("heading", name="数据看板", level=1)).to_be_visible()
    await shot(page, "dashboard-default-period")
    await assert_accessible(page)

    # The period is chosen on the page: the month before this one, to this one.
    await page.get_by_label("起始月份").fill(previous)
    await page.get_by_label("结束月份").fill(month)
    await page.get_by_role("button", name="查看").click()
    await expect(page).to_have_url(re.compile(rf"from={previous}&to={month}$"))
    for key in CHARTS:
        chart = page.locator(f'[data-chart="{key}"]')
        await expect(chart).to_have_attribute("data-rendered", "true")
        await expect(chart.locator("canvas")).to_have_count(1)
    drawn = await page.evaluate(
        "() => [...document.querySelectorAll('[data-chart]')]"
        ".filter((e) => window.echarts.getInstanceByDom(e)).length"
    )
    assert drawn == len(CHARTS)
    # The chart draws the report's numbers too (appeals by channel, most first).
    channel_bars = await page.evaluate(
        "() => window.echarts.getInstanceByDom("
        "document.querySelector('[data-chart=\"volume_by_channel\"]')).getOption().series[0].data"
    )
    assert sorted(channel_bars, reverse=True) == sorted(
        (float(r["total"]) for r in reports["channel"]["rows"]), reverse=True
    )
    await shot(page, "dashboard-charts")
    await assert_accessible(page)

    # Each chart's numbers are one click away.
    summaries = page.locator("details.numbers > summary")
    await expect(summaries).to_have_count(len(CHARTS))
    for n in range(len(CHARTS)):
        await summaries.nth(n).click()
    for key in CHARTS:
        await expect(page.locator(f'table[data-table="{key}"]')).to_be_visible()
    await shot(page, "dashboard-tables")
    await assert_accessible(page)

    # The period as a whole.
    whole = page.locator('table[data-table="overall"]')
    for name in ("total", "open", "overdue", "no_feedback", "excluded_unreasonable"):
        await expect(whole.locator(f'td[data-field="{name}"]')).to_have_text(str(overall[name]))
    for name in ("response", "resolution", "satisfaction", "on_time"):
        await expect(whole.locator(f'td[data-field="{name}"]')).to_have_text(
            with_ratio(overall, name)
        )
    await expect(whole.locator('td[data-field="composite"]')).to_have_text(
        written(overall["composite_rate"])
    )

    # Rates by month: every month of the period, the empty one at nought.
    by_month = {r["group"]: r for r in reports["month"]["rows"]}
    table = await _cells(page, "rates_by_month")
    assert list(table) == [previous, month]
    for key, cells in table.items():
        api = by_month.get(key)
        if api is None:
            assert cells["total"] == "0" and cells["response"] == "— 0/0"
            continue
        assert cells["total"] == str(api["total"])
        for name in ("response", "resolution", "satisfaction", "on_time"):
            assert cells[name] == with_ratio(api, name), (key, name)
        assert cells["composite"] == written(api["composite_rate"])
    volume = await _cells(page, "volume_by_month")
    assert {k: v["total"] for k, v in volume.items()} == {
        m: str(by_month[m]["total"]) if m in by_month else "0" for m in (previous, month)
    }

    # Volume by channel, category and community: the report's groups, no more, no fewer.
    for table_key, group_by in VOLUME_TABLES.items():
        table = await _cells(page, table_key)
        api_rows = {r["group"]: r for r in reports[group_by]["rows"]}
        assert set(table) == set(api_rows), table_key
        for key, cells in table.items():
            for name in ("total", "open", "overdue", "no_feedback"):
                assert cells[name] == str(api_rows[key][name]), (table_key, key, name)

    # Rankings, with names: the officers' from the directory, never their ids.
    officers = await _cells(page, "officer_ranking")
    assert set(officers) == {r["group"] for r in reports["officer"]["rows"]}
    for row in reports["officer"]["rows"]:
        cells = officers[row["group"]]
        assert cells["name"] == names[row["group"]] != row["group"]
        assert cells["unit"] == CSO_OFFICE
        assert cells["total"] == str(row["total"])
        assert cells["composite"] == written(row["composite_rate"])
        for name in ("response", "resolution", "satisfaction"):
            assert cells[name] == with_ratio(row, name)
    ranks = [c["rank"] for c in officers.values()]
    assert ranks[0] in ("1", "—")
    units = await _cells(page, "unit_ranking")
    assert list(units) == [CSO_OFFICE]
    [unit_row] = reports["unit"]["rows"]
    assert units[CSO_OFFICE]["name"] == CSO_OFFICE
    assert units[CSO_OFFICE]["composite"] == written(unit_row["composite_rate"])
    assert units[CSO_OFFICE]["total"] == str(unit_row["total"])

    # The five ones of the period's last month, for the CSOs of the supervisor's unit.
    five_ones = await _cells(page, "five_ones")
    items = {i["officer_id"]: i for i in five["items"]}
    assert set(five_ones) == set(items) and items
    for officer_id, cells in five_ones.items():
        item = items[officer_id]
        assert cells["name"] == item["name"]
        for name in ("enterprises_total", "contacted", "visits", "problems_solved"):
            assert cells[name] == str(item[name]), (officer_id, name)
        assert cells["uncontacted"] == str(len(item["uncontacted"]))
        assert cells["complete"] == ("是" if item["complete"] else "否")

    # A bad period: a message on the page naming what was typed, no charts, no error page.
    response = await page.goto(console + f"/dashboard?from={month[:4]}-13&to={month}")
    assert response is not None and response.status == 422
    await expect(page.get_by_role("alert")).to_contain_text(f"“{month[:4]}-13”不是月份")
    await expect(page.locator("[data-chart]")).to_have_count(0)
    await shot(page, "dashboard-bad-period")
    await assert_accessible(page)
    await page.goto(console + f"/dashboard?from={month}&to={previous}")
    await expect(page.get_by_role("alert")).to_contain_text("起始月份晚于结束月份")
    await expect(page.get_by_label("起始月份")).to_have_attribute("aria-invalid", "true")
    await shot(page, "dashboard-reversed-period")
    await assert_accessible(page)
