"""The unit board's pure parts (services/console/board/service.py): the search's filters and
the query tracking gets, the rows and their cells (which the CSV repeats), punctuality, the
officers' load, the requests shown, and the actions' bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from jiban.catalogues import console_words
from services.console.board.service import (
    CELL_WORDS,
    COLUMNS,
    DEFAULT_PAGE_SIZE,
    BoardFilters,
    assistants_body,
    board_rows,
    csv_table,
    officer_loads,
    powers_of,
    punctuality,
    reassign_body,
    unit_returns,
    with_names,
)
from shared.identity import Role

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def words(word: str) -> str:
    """A stand-in for the catalogue: every word marked, so the test sees what was translated."""
    return f"«{word}»"


def item(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "appeal_id": "7b0c8a4e-1f6a-4d7e-9a51-0c3f9e1d2a10",
        "tracking_code": "DW-20261203-418305-7",
        "status": "assigned",
        "channel": "hotline_12345",
        "category": "drainage_roads",
        "summary": "大旺大道雨后积水。",
        "officer_id": "cw-1",
        "assistant_officer_ids": [],
        "due_at": (NOW + timedelta(days=3)).isoformat(),
        "due_stage": "resolve",
        "overdue": False,
        "urged": False,
        "escalated": False,
        "unreasonable": None,
    }
    values.update(overrides)
    return values


# --- the filters ---------------------------------------------------------------------------


def test_open_appeals_unless_asked_otherwise_and_only_what_was_given_goes_to_tracking() -> None:
    assert BoardFilters().search_params() == {"open": "true"}
    typed = BoardFilters.model_validate(
        {"open": "", "urged": "true", "from": "2026-12-01", "q": "  积水 ", "status": ""}
    )
    assert typed.search_params() == {"urged": "true", "from": "2026-12-01", "q": "积水"}


@pytest.mark.parametrize(
    ("limit", "size"),
    [("25", 25), ("200", 200), ("", DEFAULT_PAGE_SIZE), ("7", DEFAULT_PAGE_SIZE), ("x", 50)],
)
def test_a_page_is_one_of_the_sizes_offered(limit: str, size: int) -> None:
    assert BoardFilters(limit=limit).page_size == size


def test_the_query_round_trips_and_links_change_one_thing() -> None:
    filters = BoardFilters.model_validate(
        {"open": "", "overdue": "true", "from": "2026-12-01", "limit": "100", "cursor": "abc"}
    )
    assert BoardFilters.from_query(filters.query()) == filters
    next_page = parse_qs(filters.query(cursor="def"), keep_blank_values=True)
    assert next_page["cursor"] == ["def"] and next_page["overdue"] == ["true"]
    # `open` stays in the query even when empty: absent, it would mean open appeals again.
    assert parse_qs(filters.query(), keep_blank_values=True)["open"] == [""]
    # The default page size is left out; extra keys (what was done) are ignored.
    assert "limit" not in parse_qs(BoardFilters().query())
    assert BoardFilters.from_query("done=assisted&q=x") == BoardFilters(q="x")


def test_a_headline_link_filters_on_its_bucket_alone() -> None:
    filters = BoardFilters(q="积水", officer="cw-1", limit="25")
    assert parse_qs(filters.only("urged"), keep_blank_values=True) == {
        "open": ["true"],
        "urged": ["true"],
        "limit": ["25"],
    }
    assert parse_qs(filters.only("open")) == {"open": ["true"], "limit": ["25"]}


# --- the rows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"overdue": True, "due_at": (NOW - timedelta(hours=1)).isoformat()}, "overdue"),
        ({"due_at": (NOW + timedelta(hours=23)).isoformat()}, "due_soon"),
        ({"due_at": (NOW + timedelta(hours=24)).isoformat()}, "due_soon"),
        ({"due_at": (NOW + timedelta(hours=25)).isoformat()}, "on_time"),
        ({"due_at": None}, "on_time"),
    ],
)
def test_punctuality(overrides: dict[str, Any], expected: str) -> None:
    assert punctuality(item(**overrides), NOW) == expected


def test_a_row_has_the_cells_the_table_shows_in_the_persons_words() -> None:
    (row,) = board_rows(
        [item(urged=True, escalated=True, assistant_officer_ids=["cw-2", "cw-9"])],
        {"cw-1": "李明", "cw-2": "王芳"},
        NOW,
        words,
    )
    assert row.cells == {
        "tracking_code": "DW-20261203-418305-7",
        "summary": "大旺大道雨后积水。",
        "status": "«assigned»",
        "category": "«drainage_roads»",
        "channel": "«hotline_12345»",
        "officer": "李明",
        "due": "2026-12-06 10:00 («resolve»)",
        "punctuality": "«on_time»",
        "marks": "«urged» · «escalated»",
    }
    assert (row.marks, row.assistants, row.unreasonable) == (
        ["urged", "escalated"],
        ["王芳", "cw-9"],  # an officer the directory page does not name: their id
        False,
    )


def test_a_row_with_little_known_says_so() -> None:
    bare = item(
        tracking_code=None,
        status=None,
        category=None,
        channel=None,
        officer_id=None,
        due_at=None,
        unreasonable={"at": NOW.isoformat(), "by": "sup-1", "reason": "无政策依据"},
    )
    (row,) = board_rows([bare], {}, NOW, words)
    assert row.cells["tracking_code"] == bare["appeal_id"]
    assert [row.cells[k] for k in ("status", "category", "channel", "officer", "due")] == ["—"] * 5
    assert (row.cells["marks"], row.unreasonable) == ("«unreasonable»", True)


def test_the_csv_is_the_header_and_exactly_the_rows_cells_in_order() -> None:
    rows = board_rows([item(), item(appeal_id="b", tracking_code="DW-2")], {}, NOW, words)
    header, *body = csv_table(rows, words)
    assert header == [f"«{label}»" for _key, label in COLUMNS]
    assert body == [[r.cells[key] for key, _label in COLUMNS] for r in rows]
    assert [line[0] for line in body] == ["DW-20261203-418305-7", "DW-2"]


def test_every_word_a_cell_or_header_shows_is_in_the_catalogue_words() -> None:
    known = console_words()
    shown = {*CELL_WORDS, *(label for _key, label in COLUMNS)}
    assert shown - known == set()


# --- the officers, the requests ------------------------------------------------------------


def officer(officer_id: str, open_: int, capacity: int, **overrides: Any) -> dict[str, Any]:
    values = {
        "officer_id": officer_id,
        "name": f"干部{officer_id}",
        "role": "community_worker",
        "open_assignments": open_,
        "capacity": capacity,
        "on_duty": True,
        "on_leave_today": False,
        "leave": [],
    }
    return {**values, **overrides}


def test_officers_most_loaded_first_with_their_duty_and_leave() -> None:
    loads = officer_loads(
        [
            officer("a", 2, 10),
            officer("b", 9, 10, on_duty=False),
            officer(
                "c",
                0,
                5,
                on_leave_today=True,
                leave=[
                    {"start": "2026-12-01", "end": "2026-12-05", "note": "调休"},
                    {"start": "2027-01-10", "end": "2027-01-10", "note": ""},
                ],
            ),
            officer("d", 3, 0),
        ]
    )
    assert [(o.officer_id, o.percent, o.full, o.state) for o in loads] == [
        ("d", None, True, "on_duty"),  # no capacity at all: as full as can be
        ("b", 90, False, "off_duty"),
        ("a", 20, False, "on_duty"),
        ("c", 0, False, "on_leave"),
    ]
    assert loads[-1].leave == ["2026-12-01 – 2026-12-05 (调休)", "2027-01-10"]


def test_requests_carry_names_and_returns_are_the_units() -> None:
    returns = [{"appeal_id": "1", "officer_id": "a"}, {"appeal_id": "2", "officer_id": "z"}]
    assert [r["appeal_id"] for r in unit_returns(returns, {"a", "b"})] == ["1"]
    assert [r["appeal_id"] for r in unit_returns(returns, None)] == ["1", "2"]
    named = with_names(returns, {"a": "李明"})
    assert [r["officer_name"] for r in named] == ["李明", "z"]


# --- the actions ---------------------------------------------------------------------------


def test_reassign_to_the_officer_typed_or_route_again() -> None:
    assert reassign_body("chosen", " cw-7 ", "请改派") == {"officer_id": "cw-7", "note": "请改派"}
    # Nothing typed goes as typed: dispatch refuses it, naming the field.
    assert reassign_body("chosen", "", "") == {"officer_id": "", "note": ""}
    assert reassign_body("route", "cw-7", "重新分派") == {"note": "重新分派"}


def test_an_assistant_is_added_to_the_current_list_once() -> None:
    assert assistants_body(["cw-2"], " cw-3 ") == {"officer_ids": ["cw-2", "cw-3"]}
    assert assistants_body(["cw-2", "cw-3"], "cw-2") == {"officer_ids": ["cw-2", "cw-3"]}
    assert assistants_body([], "") == {"officer_ids": [""]}


def test_the_board_offers_each_action_to_the_roles_whose_routes_take_it() -> None:
    supervisor = powers_of(frozenset({Role.SUPERVISOR}))
    assert (supervisor.reassign, supervisor.assistants, supervisor.unreasonable) == (True,) * 3
    assert (supervisor.rule_extensions, supervisor.rule_returns) == (True, False)
    dispatcher = powers_of(frozenset({Role.DISPATCHER}))
    assert (dispatcher.reassign, dispatcher.assistants) == (False, False)
    assert (dispatcher.unreasonable, dispatcher.rule_extensions, dispatcher.rule_returns) == (
        True,
        True,
        True,
    )
    ops = powers_of(frozenset({Role.OPS}))
    assert ops.on_appeals and not (ops.reassign or ops.rule_extensions or ops.rule_returns)
    assert not powers_of(frozenset({Role.OFFICER})).on_appeals
