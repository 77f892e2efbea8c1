"""The dashboard's shaping (services/console/dashboard/service.py), pure: the period chosen on
the page, tracking's reports read at the boundary, rankings with names, every month of the
period, the charts drawn from the tables' numbers, and the page rendered in both languages."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from services.console.dashboard.service import (
    GROUPINGS,
    MAX_MONTHS,
    WORDS,
    FiveOnesIn,
    Period,
    PeriodProblem,
    Preset,
    ProblemKind,
    RatesReportIn,
    YearMonth,
    chart_data,
    dashboard,
    parse_period,
    percent,
    preset_period,
    presets,
    ranking,
)
from services.console.pages import ENVIRONMENTS
from services.console.words import data_words

TODAY = date(2026, 12, 3)


def row(group: str | None, total: int = 1, **values: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "group": group,
        "total": total,
        "excluded_unreasonable": 0,
        "median_handling_hours": None,
        "open": 0,
        "overdue": 0,
        "no_feedback": 0,
        "composite_rate": None,
    }
    for name in ("response", "resolution", "satisfaction", "on_time"):
        body[f"{name}_rate"] = None
        body[f"{name}_numerator"] = 0
        body[f"{name}_denominator"] = 0
    body.update(values)
    return body


def report(rows: list[dict[str, Any]], group_by: str | None = None) -> RatesReportIn:
    overall = row(None, total=sum(r["total"] for r in rows))
    return RatesReportIn.model_validate(
        {
            "from": "2026-10-01",
            "to": "2026-12-31",
            "group_by": group_by,
            "unit": "首席服务官办公室",
            "rows": rows,
            "overall": overall,
            "an_added_field": "ignored",
        }
    )


# --- the period -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_text", "to_text", "preset", "first", "last"),
    [
        (None, None, None, "2026-07", "2026-12"),  # the last six months by default
        ("2026-03", "2026-05", None, "2026-03", "2026-05"),
        (" 2026-03 ", "", None, "2026-03", "2026-03"),  # one alone is that month
        ("", "2025-12", None, "2025-12", "2025-12"),
        ("", "", "this_month", "2026-12", "2026-12"),
        ("", "", "last_3_months", "2026-10", "2026-12"),
        ("", "", "last_12_months", "2026-01", "2026-12"),
        ("", "", "this_year", "2026-01", "2026-12"),
        ("2024-01", "2026-12", None, "2024-01", "2026-12"),  # 36 months: the longest
        ("2026-05", "2026-06", "this_year", "2026-05", "2026-06"),  # months win over a preset
    ],
)
def test_the_period_chosen_on_the_page(
    from_text: str | None, to_text: str | None, preset: str | None, first: str, last: str
) -> None:
    period = parse_period(from_text, to_text, preset, TODAY)
    assert (str(period.first), str(period.last)) == (first, last)


@pytest.mark.parametrize(
    ("from_text", "to_text", "preset", "kind", "field"),
    [
        ("2026-13", "", None, ProblemKind.FORMAT, "from"),
        ("2026-1", "", None, ProblemKind.FORMAT, "from"),
        ("2026-11", "next month", None, ProblemKind.FORMAT, "to"),
        ("0001-01", "2026-01", None, ProblemKind.YEARS, "from"),
        ("2026-01", "9999-01", None, ProblemKind.YEARS, "to"),
        ("2026-06", "2026-05", None, ProblemKind.ORDER, "from"),
        ("2023-12", "2026-12", None, ProblemKind.TOO_LONG, "to"),
        ("", "", "forever", ProblemKind.PRESET, "preset"),
    ],
)
def test_a_bad_period_is_a_problem_naming_its_field(
    from_text: str, to_text: str, preset: str | None, kind: ProblemKind, field: str
) -> None:
    with pytest.raises(PeriodProblem) as raised:
        parse_period(from_text, to_text, preset, TODAY)
    assert (raised.value.kind, raised.value.field) == (kind, field)


def test_months_and_days_of_a_period() -> None:
    period = Period(YearMonth(2025, 11), YearMonth(2026, 2))
    assert period.months == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert period.query == {"from": "2025-11-01", "to": "2026-02-28"}
    assert YearMonth(2024, 2).last_day == date(2024, 2, 29)
    assert YearMonth(2026, 1).plus(-1) == YearMonth(2025, 12)
    assert len(preset_period(Preset.LAST_12_MONTHS, TODAY).months) == 12
    assert [p for p, _ in presets(TODAY)] == list(Preset)
    assert MAX_MONTHS == 36


def test_a_rate_is_written_as_a_percentage_and_none_as_a_dash() -> None:
    assert [percent(0.3333), percent(1.0), percent(0.0), percent(None)] == [
        "33.33%",
        "100.00%",
        "0.00%",
        "—",
    ]


# --- rankings ---------------------------------------------------------------------------------


def test_officers_are_ranked_by_composite_with_names_ties_shared_and_the_unscored_last() -> None:
    rates = report(
        [
            row("cso-001", composite_rate=0.5),
            row("cso-002", composite_rate=0.9),
            row("cso-003", composite_rate=0.5),
            row("cso-004"),  # no composite: nothing followed up yet
            row("gone-9", composite_rate=0.1),  # not in the directory any more
            row("unassigned", composite_rate=None),
        ]
    )
    names = {"cso-001": "周明", "cso-002": "李华", "cso-003": "陈静", "cso-004": "王芳"}
    ranked = ranking(rates, names, {"cso-001": "首席服务官办公室"})
    assert [(r.rank, r.row.label) for r in ranked] == [
        (1, "李华"),
        (2, "周明"),  # ties share the rank, listed by name
        (2, "陈静"),
        (4, "gone-9"),
        (None, "unassigned"),
        (None, "王芳"),
    ]
    assert ranked[1].unit == "首席服务官办公室" and ranked[0].unit is None
    # Only tracking's own group names go through the catalogue, never a person's name.
    assert [r.row.translate for r in ranked] == [False, False, False, False, True, False]


# --- the whole page ---------------------------------------------------------------------------


def reports() -> dict[str, RatesReportIn]:
    month = row(
        "2026-11",
        total=3,
        response_rate=0.6667,
        response_numerator=2,
        response_denominator=3,
        on_time_rate=1.0,
        on_time_numerator=1,
        on_time_denominator=1,
        open=2,
        overdue=1,
    )
    return {
        "month": report([month], "month"),
        "channel": report([row("web", 1), row("hotline_12345", 2)], "channel"),
        "category": report([row("utilities", 3)], "category"),
        "community": report([row("大旺社区", 2), row("unknown", 1)], "community"),
        "officer": report([row("cso-001", 3, composite_rate=0.65)], "officer"),
        "unit": report([row("首席服务官办公室", 3, composite_rate=0.65)], "unit"),
    }


FIVE_ONES = FiveOnesIn.model_validate(
    {
        "month": "2026-11",
        "month_ends_on": "2026-11-30",
        "items": [
            {
                "officer_id": "cso-001",
                "name": "周明",
                "unit": "首席服务官办公室",
                "enterprises_total": 8,
                "contacted": 8,
                "uncontacted": [],
                "visits": 9,
                "problems_solved": 2,
                "complete": True,
            },
            {
                "officer_id": "cso-002",
                "name": None,  # tracking has not heard of them from the directory yet
                "unit": None,
                "enterprises_total": 7,
                "contacted": 3,
                "uncontacted": [{"credit_code": f"C{n}", "name": f"厂{n}"} for n in range(4)],
                "visits": 3,
                "problems_solved": 0,
                "complete": False,
            },
        ],
    }
)


def the_dashboard(five_ones: FiveOnesIn | None = FIVE_ONES) -> Any:
    return dashboard(
        Period(YearMonth(2026, 10), YearMonth(2026, 12)),
        reports(),
        officer_names={"cso-001": "周明", "cso-002": "李华"},
        officer_units={"cso-001": "首席服务官办公室"},
        unit_names={"econ": "经济发展局"},
        five_ones_report=five_ones,
    )


def test_the_dashboard_shapes_every_grouping() -> None:
    view = the_dashboard()
    assert set(GROUPINGS) == set(reports())
    assert view.unit == "首席服务官办公室"
    # Every month of the period, in order, the empty ones with no rates.
    assert [(m.key, m.total, m.ratio("response").rate) for m in view.months] == [
        ("2026-10", 0, None),
        ("2026-11", 3, 0.6667),
        ("2026-12", 0, None),
    ]
    # Most appeals first; channels and tracking's "unknown" are data words, communities names.
    assert [(c.key, c.translate) for c in view.channels] == [
        ("hotline_12345", True),
        ("web", True),
    ]
    assert [(c.key, c.translate) for c in view.communities] == [
        ("大旺社区", False),
        ("unknown", True),
    ]
    assert [r.row.label for r in view.officers] == ["周明"]
    # The least contacted share first; a CSO tracking has no name for gets the directory's.
    assert view.five_ones is not None
    assert [(r.name, r.uncontacted) for r in view.five_ones.rows] == [("李华", 4), ("周明", 0)]
    assert the_dashboard(five_ones=None).five_ones is None


def test_the_charts_carry_the_tables_numbers_in_the_persons_words() -> None:
    view = the_dashboard()
    data = chart_data(view.charts, lambda word: f"«{word}»")
    assert list(data) == [
        "rates_by_month",
        "volume_by_month",
        "volume_by_channel",
        "volume_by_category",
        "volume_by_community",
        "officer_ranking",
        "unit_ranking",
        "five_ones",
    ]
    rates = data["rates_by_month"]
    assert rates["kind"] == "line" and rates["percent"] is True
    assert rates["categories"] == ["2026-10", "2026-11", "2026-12"]
    assert [s["name"] for s in rates["series"]] == [
        "«Response rate»",
        "«Resolution rate»",
        "«Satisfaction rate»",
        "«On-time rate»",
    ]
    assert rates["series"][0]["data"] == [None, 66.67, None]
    assert rates["series"][3]["data"] == [None, 100.0, None]
    assert data["volume_by_channel"]["categories"] == ["«hotline_12345»", "«web»"]
    assert data["volume_by_channel"]["series"][0]["data"] == [2.0, 1.0]
    assert data["volume_by_community"]["categories"] == ["大旺社区", "«unknown»"]
    assert data["officer_ranking"]["categories"] == ["周明"]
    assert data["officer_ranking"]["series"][0]["data"] == [65.0]
    five = data["five_ones"]
    assert five["kind"] == "stacked_hbar"
    assert [s["data"] for s in five["series"]] == [[3.0, 8.0], [4.0, 0.0]]
    json.dumps(data)  # what the page embeds
    assert "five_ones" not in chart_data(the_dashboard(five_ones=None).charts, str)


def test_the_dashboards_words_are_listed_for_the_catalogue() -> None:
    assert set(WORDS) <= data_words()


def _render(language: str, **context: Any) -> str:
    view = context.get("view")
    base: dict[str, Any] = {
        "person": None,
        "typed": {"from": "", "to": "", "preset": ""},
        "presets": presets(TODAY),
        "percent": percent,
        "problem": None,
        "view": view,
        "period": view.period if view else None,
        "charts": chart_data(view.charts, str) if view else {},
        "request": None,
    }
    base.update(context)
    return ENVIRONMENTS[language].get_template("dashboard.html").render(**base)


def test_the_page_renders_tables_and_the_charts_json_in_both_languages() -> None:
    view = the_dashboard()
    zh = _render("zh-CN", view=view)
    assert "各月三率" in zh and "首席服务官“五个一”" in zh
    assert '<td data-col="response">66.67% <span class="ratio">2/3</span></td>' in zh
    assert zh.count("<table") == 9  # the whole period, and one per chart
    assert zh.count('<div class="chart"') == 8
    embedded = re.search(r'id="dashboard-charts">(.*?)</script>', zh, re.S)
    assert embedded is not None and "rates_by_month" in json.loads(embedded[1])
    assert "echarts-5.6.0.min.js" in zh and "<script>" not in zh  # no inline script
    en = _render("en", view=view)
    assert "Rates by month" in en and "Hotline" not in zh


def test_a_bad_period_renders_its_message_and_no_charts() -> None:
    problem = PeriodProblem(ProblemKind.FORMAT, "from", "2026-13")
    page = _render(
        "zh-CN",
        problem=problem,
        typed={"from": "2026-13", "to": "", "preset": ""},
    )
    assert "“2026-13”不是月份" in page
    assert 'aria-invalid="true"' in page and "echarts" not in page
