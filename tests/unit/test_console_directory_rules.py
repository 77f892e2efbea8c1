"""The directory page's rules (services/console/directory/service.py): who sees the controls,
which officers a page shows, leave as text and back, a row's form as dispatch's PATCH body."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.console.directory.service import (
    PAGE_SIZE,
    DirectoryFilters,
    DutyPost,
    LeavePeriod,
    LeaveUnreadable,
    Officer,
    RosterResult,
    directory_view,
    edit_of,
    leave_text,
    may_edit,
    officer_patch,
    parse_leave,
    problem_field,
)
from services.console.signin.service import Person
from shared.identity import Role


def person(*roles: Role) -> Person:
    return Person(
        subject="p-1",
        name="陈伟",
        roles=frozenset(roles),
        unit="大旺社区",
        token="t",
        csrf_token="c",
        expires_at=datetime(2026, 12, 3, tzinfo=UTC),
    )


def officer(officer_id: str, unit: str = "大旺社区", role: str = "community_worker", **kw: Any):
    values: dict[str, Any] = {
        "officer_id": officer_id,
        "name": f"干部{officer_id}",
        "role": role,
        "unit": unit,
        "on_duty": True,
        "leave": [],
        "on_leave_today": False,
        "capacity": 30,
        "open_assignments": 0,
        # What dispatch gives beyond what the page shows is ignored.
        "categories": [],
        "returns_accepted": 0,
    }
    return Officer.model_validate({**values, **kw})


@pytest.mark.parametrize(
    ("roles", "editable"),
    [
        ((Role.OPS,), True),
        ((Role.OFFICER, Role.SUPERVISOR), True),
        ((Role.OFFICER, Role.DISPATCHER), False),  # dispatch refuses dispatchers' changes
        ((Role.OFFICER,), False),
    ],
)
def test_only_the_roles_dispatch_accepts_see_the_controls(
    roles: tuple[Role, ...], editable: bool
) -> None:
    assert may_edit(person(*roles)) is editable


def test_the_list_filters_sorts_and_pages() -> None:
    officers = [officer(f"cw-{n:03d}", unit="大旺社区") for n in range(PAGE_SIZE + 5)]
    officers += [
        officer("sup-1", unit="督查室", role="supervisor", name="张主任"),
        officer("cso-1", unit="首席服务官办公室", role="chief_service_officer"),
    ]
    duty = [DutyPost(post="supervisor", officer_id="sup-1", officer_name="张主任")]

    everyone = directory_view(officers, duty, DirectoryFilters())
    assert (everyone.total, everyone.pages, len(everyone.officers)) == (
        PAGE_SIZE + 7,
        2,
        PAGE_SIZE,
    )
    assert everyone.units == ["大旺社区", "督查室", "首席服务官办公室"]
    assert everyone.roles == ["chief_service_officer", "community_worker", "supervisor"]
    # Both posts, in a fixed order, held or not.
    assert [(d.post, d.officer_id) for d in everyone.duty] == [
        ("dispatcher", None),
        ("supervisor", "sup-1"),
    ]
    assert len(everyone.choices) == PAGE_SIZE + 7

    second = directory_view(officers, duty, DirectoryFilters(page=2))
    assert [o.officer_id for o in second.officers][-2:] == ["sup-1", "cso-1"], "by unit"
    beyond = directory_view(officers, duty, DirectoryFilters(page=9))
    assert beyond.page == 2, "a page past the end shows the last"

    by_unit = directory_view(officers, duty, DirectoryFilters(unit="督查室"))
    assert [o.officer_id for o in by_unit.officers] == ["sup-1"]
    by_role = directory_view(officers, duty, DirectoryFilters(role="chief_service_officer"))
    assert [o.officer_id for o in by_role.officers] == ["cso-1"]
    by_name = directory_view(officers, duty, DirectoryFilters(q="张"))
    assert [o.officer_id for o in by_name.officers] == ["sup-1"]
    by_id = directory_view(officers, duty, DirectoryFilters(q=" CW-007 "))
    assert [o.officer_id for o in by_id.officers] == ["cw-007"]
    nobody = directory_view(officers, duty, DirectoryFilters(q="nobody"))
    assert (nobody.total, nobody.pages, nobody.officers) == (0, 1, [])


def test_filters_make_their_query_string_without_defaults() -> None:
    assert DirectoryFilters().query() == ""
    assert (
        DirectoryFilters(unit="大旺社区", page=1).query()
        == "unit=%E5%A4%A7%E6%97%BA%E7%A4%BE%E5%8C%BA"
    )
    assert DirectoryFilters(q="陈", page=2).query(page=3) == "q=%E9%99%88&page=3"


@pytest.mark.parametrize(
    ("text", "periods"),
    [
        ("", []),
        ("2026-12-01", [("2026-12-01", "2026-12-01", "")]),
        ("2026-12-01~2026-12-05（年假）", [("2026-12-01", "2026-12-05", "年假")]),
        (
            "2026-12-01 ～ 2026-12-05 (sick); 2027-01-10（调休）",
            [("2026-12-01", "2026-12-05", "sick"), ("2027-01-10", "2027-01-10", "调休")],
        ),
        (
            "2026-12-01；2026-12-03，",
            [("2026-12-01", "2026-12-01", ""), ("2026-12-03",) * 2 + ("",)],
        ),
        # Backwards is dispatch's to refuse (it names the period): passed on as written.
        ("2026-12-05~2026-12-01", [("2026-12-05", "2026-12-01", "")]),
    ],
)
def test_leave_is_read_as_the_rosters_write_it(text: str, periods: list[tuple]) -> None:
    assert [(p["start"], p["end"], p["note"]) for p in parse_leave(text)] == periods


@pytest.mark.parametrize("text", ["next week", "2026-13-01", "2026-12-01~", "2026/12/01"])
def test_leave_that_is_not_periods_is_refused_naming_the_part(text: str) -> None:
    with pytest.raises(LeaveUnreadable) as raised:
        parse_leave(f"2026-12-01; {text}")
    assert raised.value.item == text


def test_leave_as_text_reads_back_as_the_same_periods() -> None:
    periods = [
        LeavePeriod(start=date(2026, 12, 1), end=date(2026, 12, 5), note="年假"),
        LeavePeriod(start=date(2027, 1, 10), end=date(2027, 1, 10)),
    ]
    text = leave_text(periods)
    assert text == "2026-12-01~2026-12-05（年假）; 2027-01-10"
    assert [LeavePeriod.model_validate(p) for p in parse_leave(text)] == periods
    assert officer("cw-1", leave=[p.model_dump(mode="json") for p in periods]).leave_line == text


def test_a_rows_form_is_dispatchs_patch_body() -> None:
    edit = edit_of({"on_duty": "on", "capacity": " 12 ", "leave": "2026-12-01", "csrf_token": "c"})
    assert officer_patch(edit) == {
        "on_duty": True,
        "capacity": 12,
        "leave": [{"start": "2026-12-01", "end": "2026-12-01", "note": ""}],
    }
    # An unticked checkbox is not sent: off duty. What is not a whole number goes as typed, for
    # dispatch to refuse with its reason; so does a negative one.
    off = edit_of({"capacity": "lots", "leave": ""})
    assert officer_patch(off) == {"on_duty": False, "capacity": "lots", "leave": []}
    assert officer_patch(edit_of({"capacity": "-1"}))["capacity"] == -1
    assert edit_of({"capacity": "9" * 50}).capacity == "9" * 20, "kept short"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"capacity": "Input should be greater than or equal to 0"}, "capacity"),
        ({"0": "the period ends before it starts"}, "leave"),
        ({"on_duty": "Input should be a valid boolean"}, "on_duty"),
        ({"Authorization": "needs one of the roles: ops, supervisor"}, None),
        ({}, None),
    ],
)
def test_a_refusal_is_shown_at_the_control_it_names(
    fields: dict[str, str], named: str | None
) -> None:
    assert problem_field(fields) == named


def test_dispatchs_roster_report_is_read_at_the_boundary() -> None:
    answer = {
        "source": "名册.csv",
        "strict": False,
        "dry_run": False,
        "committed": True,
        "rows_read": 4,
        "rows_rejected": 1,
        "sheets": [
            {"name": "名册", "kind": "officers", "header_row": 1, "rows": 4, "ignored_columns": []}
        ],
        "skipped_sheets": [],
        "errors": [
            {
                "sheet": "名册",
                "row": 5,
                "field": "capacity",
                "value": "-1",
                "message": "row 5: 容量 (capacity) …",
            }
        ],
        "good": {"officers": 3, "enterprises": 0, "departments": 0, "duty": 0},
        "changed": {"officers": 3, "enterprises": 0, "departments": 0, "duty": 0},
        "summary": ["…"],
    }
    report = RosterResult.model_validate(answer)
    assert (report.errors[0].row, report.errors[0].field) == (5, "capacity")
    assert report.changed is not None and report.changed.officers == 3
