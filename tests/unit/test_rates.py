"""The three rates and the CSO proposal on a fixture worked out by hand (the answers are written
in the comments, not computed by the code under test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from services.tracking.periods import day_range
from services.tracking.reports.rates import (
    GROUP_KEYS,
    AppealFacts,
    Ratio,
    Stage,
    composite,
    compute,
    group,
    month_of,
    month_range,
    parse_counted,
    parse_month,
    previous_month,
    propose,
    reported_in_cycle,
    responded,
)

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
COUNTED = parse_counted("satisfied,basically_satisfied")


def at(day: int, hour: int = 2, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


R = at(1)  # received, for most: 2026-06-01 10:00 in Shanghai
ACK_OK = Stage(due_at=at(1, 4), met_at=at(1, 3))
FC_OK = Stage(due_at=at(2), met_at=at(1, 20))


def facts(appeal_id: str, **values: Any) -> AppealFacts:
    base: dict[str, Any] = {"received_at": R, "status": "in_progress"}
    return AppealFacts(appeal_id=appeal_id, **{**base, **values})


CLOSED = {"status": "closed", "closed_reason": "resolved"}

# Ten appeals. Per appeal: response outcome (T/F/-), follow-up (solved, answer), resolve stage,
# handling hours, open/overdue.
FIXTURE = [
    # A1: everything in time. Response T; solved, satisfied; resolve in time; 96 h; closed.
    facts(
        "A1",
        **CLOSED,
        officer_id="o1",
        unit="u1",
        channel="hotline_12345",
        category="utilities",
        acknowledge=ACK_OK,
        first_contact=FC_OK,
        resolve=Stage(due_at=at(10), met_at=at(5)),
        resolved_at=at(5),
        followed_up_at=at(6),
        follow_up_solved=True,
        follow_up_satisfaction="satisfied",
    ),
    # A2: acknowledged an hour late. Response F; not solved, basically satisfied; resolved a day
    # late; 240 h; closed.
    facts(
        "A2",
        **CLOSED,
        officer_id="o1",
        unit="u1",
        channel="web",
        category="utilities",
        acknowledge=Stage(due_at=at(1, 4), met_at=at(1, 5)),
        first_contact=FC_OK,
        resolve=Stage(due_at=at(10), met_at=at(11)),
        resolved_at=at(11),
        followed_up_at=at(12),
        follow_up_solved=False,
        follow_up_satisfaction="basically_satisfied",
    ),
    # A3: anonymous, its first contact never made and overdue: ignored. Response T; solved,
    # unsatisfied; resolve in time; 48 h; closed.
    facts(
        "A3",
        **CLOSED,
        anonymous=True,
        officer_id="o2",
        unit="u2",
        channel="mayor_line",
        category="housing",
        acknowledge=ACK_OK,
        first_contact=Stage(due_at=at(2)),
        resolve=Stage(due_at=at(10), met_at=at(3)),
        resolved_at=at(3),
        followed_up_at=at(4),
        follow_up_solved=True,
        follow_up_satisfaction="unsatisfied",
    ),
    # A4: no first-contact deadline: response on acknowledging alone, T. Resolve due 06-20: not
    # counted for on time. Open, not overdue.
    facts(
        "A4",
        officer_id="o2",
        unit="u2",
        channel="hotline_12345",
        category="housing",
        acknowledge=ACK_OK,
        resolve=Stage(due_at=at(20)),
    ),
    # A5: acknowledge due 06-14, not done. Response F; open and overdue.
    facts(
        "A5",
        status="assigned",
        officer_id="o1",
        unit="u1",
        channel="hotline_12345",
        category="utilities",
        acknowledge=Stage(due_at=at(14)),
        first_contact=Stage(due_at=at(16)),
        resolve=Stage(due_at=at(30)),
    ),
    # A6: acknowledge due 06-16: not due yet, not counted. Received 2026-05-31 23:00 in
    # Shanghai (month 2026-05); officer's unit unknown. Open, not overdue.
    facts(
        "A6",
        status="received",
        received_at=datetime(2026, 5, 31, 15, tzinfo=UTC),
        officer_id="o3",
        channel="window",
        category="other",
        acknowledge=Stage(due_at=at(16)),
        resolve=Stage(due_at=at(30)),
    ),
    # A7: acknowledged in time, first contact due 06-20 not made yet: pending, not counted.
    # Open, not overdue.
    facts(
        "A7",
        officer_id="o2",
        unit="u2",
        channel="web",
        category="housing",
        acknowledge=ACK_OK,
        first_contact=Stage(due_at=at(20)),
        resolve=Stage(due_at=at(30)),
    ),
    # A8: acknowledged in time, first contact due 06-10 never made. Response F; open, overdue.
    facts(
        "A8",
        officer_id="o1",
        unit="u1",
        channel="hotline_12345",
        category="transport",
        acknowledge=ACK_OK,
        first_contact=Stage(due_at=at(10)),
        resolve=Stage(due_at=at(30)),
    ),
    # A9: unreasonable: in no figure, counted as excluded.
    facts(
        "A9",
        **CLOSED,
        unreasonable=True,
        officer_id="o1",
        unit="u1",
        channel="hotline_12345",
        category="utilities",
        acknowledge=ACK_OK,
        first_contact=FC_OK,
        resolve=Stage(due_at=at(10), met_at=at(2)),
        resolved_at=at(2),
        followed_up_at=at(3),
        follow_up_solved=True,
        follow_up_satisfaction="satisfied",
    ),
    # A10: closed without feedback. Received 2026-06-01 01:00 in Shanghai (05-31 in UTC).
    # Response T; not followed up; resolve in time; 72 h; no_feedback.
    facts(
        "A10",
        status="closed",
        closed_reason="no_feedback",
        received_at=datetime(2026, 5, 31, 17, tzinfo=UTC),
        officer_id="o3",
        channel="hotline_12345",
        category="other",
        acknowledge=Stage(due_at=at(1), met_at=at(1)),  # met exactly at the due time: in time
        first_contact=FC_OK,
        resolve=Stage(due_at=at(10), met_at=at(3, 17)),
        resolved_at=at(3, 17),
    ),
]


def test_the_fixture_by_hand() -> None:
    r = compute(FIXTURE, NOW, COUNTED)
    assert (r.total, r.excluded_unreasonable) == (9, 1)
    # Response: T = A1 A3 A4 A10, F = A2 A5 A8; A6 not due, A7 pending → 4/7.
    assert r.response == Ratio(4, 7)
    # Followed up: A1 (solved), A2 (not), A3 (solved) → 2/3.
    assert r.resolution == Ratio(2, 3)
    # Satisfied or basically: A1, A2; A3 unsatisfied → 2/3.
    assert r.satisfaction == Ratio(2, 3)
    # Resolve met or due: A1 ok, A2 late, A3 ok, A10 ok → 3/4.
    assert r.on_time == Ratio(3, 4)
    # Hours 48, 72, 96, 240 → (72 + 96) / 2 = 84.
    assert r.median_handling_hours == 84
    # Open: A4 A5 A6 A7 A8; overdue: A5 (acknowledge), A8 (first contact); no feedback: A10.
    assert (r.open, r.overdue, r.no_feedback) == (5, 2, 1)
    # 0.30·4/7 + 0.35·2/3 + 0.35·2/3 = 6/35 + 7/15 = 67/105 ≈ 0.6381.
    assert r.composite == Fraction(67, 105)
    assert round(float(r.composite), 4) == 0.6381


def test_the_satisfaction_setting_decides_what_counts() -> None:
    strict = compute(FIXTURE, NOW, parse_counted(" satisfied , "))
    assert strict.satisfaction == Ratio(1, 3)  # A1 only
    # 6/35 + 0.35·2/3 + 0.35·1/3 = 6/35 + 7/20 = 73/140.
    assert strict.composite == Fraction(73, 140)
    assert parse_counted("") == frozenset()
    assert compute(FIXTURE, NOW, frozenset()).satisfaction == Ratio(0, 3)


def test_zero_denominators_are_none_not_zero_or_one() -> None:
    empty = compute([], NOW, COUNTED)
    for ratio in (empty.response, empty.resolution, empty.satisfaction, empty.on_time):
        assert ratio == Ratio(0, 0) and ratio.value is None
    assert empty.composite is None and empty.median_handling_hours is None
    assert (empty.total, empty.open, empty.overdue, empty.no_feedback) == (0, 0, 0, 0)
    # Only unreasonable appeals: nothing counted, but the exclusion shows.
    only = compute([FIXTURE[8]], NOW, COUNTED)
    assert (only.total, only.excluded_unreasonable, only.response.value) == (0, 1, None)
    assert Ratio(0, 5).value == 0
    assert composite(Fraction(1), None, Fraction(1)) is None


def test_by_unit() -> None:
    by = group(FIXTURE, GROUP_KEYS["unit"], NOW, COUNTED)
    assert list(by) == ["u1", "u2", "unknown"]
    u1, u2, unknown = by["u1"], by["u2"], by["unknown"]
    # u1: A1 A2 A5 A8 (+ A9 excluded). Response A1 only → 1/4; solved 1/2; satisfied 2/2;
    # on time 1/2; hours 96, 240 → 168; composite 0.075 + 0.175 + 0.35 = 3/5.
    assert (u1.total, u1.excluded_unreasonable) == (4, 1)
    assert (u1.response, u1.resolution, u1.satisfaction) == (Ratio(1, 4), Ratio(1, 2), Ratio(2, 2))
    assert (u1.on_time, u1.median_handling_hours) == (Ratio(1, 2), 168)
    assert (u1.open, u1.overdue, u1.composite) == (2, 2, Fraction(3, 5))
    # u2: A3 A4 A7. Response 2/2 (A7 pending); solved 1/1; satisfied 0/1; composite 13/20.
    assert (u2.response, u2.resolution, u2.satisfaction) == (Ratio(2, 2), Ratio(1, 1), Ratio(0, 1))
    assert (u2.composite, u2.open, u2.overdue) == (Fraction(13, 20), 2, 0)
    # unknown: A6 A10. Response 1/1 (A10); nobody followed up → no resolution, no composite.
    assert (unknown.response, unknown.resolution.value, unknown.composite) == (
        Ratio(1, 1),
        None,
        None,
    )
    assert (unknown.open, unknown.no_feedback, unknown.median_handling_hours) == (1, 1, 72)


def test_by_month_channel_category_and_officer() -> None:
    by_month = group(FIXTURE, GROUP_KEYS["month"], NOW, COUNTED)
    # A6 was received on 05-31 in Shanghai; A10 on 06-01 there (05-31 in UTC).
    assert {m: r.total for m, r in by_month.items()} == {"2026-05": 1, "2026-06": 8}
    by_channel = group(FIXTURE, GROUP_KEYS["channel"], NOW, COUNTED)
    # hotline: A1 A4 A5 A8 A10 (A9 excluded); mayor_line: A3; web: A2 A7; window: A6.
    assert {c: r.total for c, r in by_channel.items()} == {
        "hotline_12345": 5,
        "mayor_line": 1,
        "web": 2,
        "window": 1,
    }
    assert by_channel["hotline_12345"].excluded_unreasonable == 1
    by_category = group(FIXTURE, GROUP_KEYS["category"], NOW, COUNTED)
    assert by_category["utilities"].response == Ratio(1, 3)  # A1 T, A2 F, A5 F
    by_officer = group(FIXTURE, GROUP_KEYS["officer"], NOW, COUNTED)
    assert list(by_officer) == ["o1", "o2", "o3"]
    nobody = facts("X", received_at=R)
    assert list(group([nobody], GROUP_KEYS["officer"], NOW, COUNTED)) == ["unassigned"]
    assert list(group([nobody], GROUP_KEYS["unit"], NOW, COUNTED)) == ["unknown"]


def test_response_outcomes() -> None:
    assert responded(facts("a"), NOW) is None  # no acknowledge deadline
    late_contact = facts("b", acknowledge=ACK_OK, first_contact=Stage(at(2), met_at=at(3)))
    assert responded(late_contact, NOW) is False
    # Acknowledged late: failed at once, even with the contact still to come.
    ack_late = facts("c", acknowledge=Stage(at(1, 4), met_at=at(1, 5)), first_contact=Stage(at(20)))
    assert responded(ack_late, NOW) is False
    # Acknowledged early, before its due time: counted already.
    early = facts("d", acknowledge=Stage(at(20), met_at=at(1, 3)))
    assert responded(early, NOW) is True


def test_overdue_is_strictly_past_due_and_only_while_open() -> None:
    due_now = facts("a", acknowledge=Stage(due_at=NOW))
    assert compute([due_now], NOW, COUNTED).overdue == 0
    assert compute([due_now], NOW + timedelta(seconds=1), COUNTED).overdue == 1
    closed = facts("b", status="closed", acknowledge=Stage(due_at=at(1)))
    assert compute([closed], NOW, COUNTED).overdue == 0


def test_days_and_months_are_shanghai_ones() -> None:
    start, end = day_range(date(2026, 6, 1), date(2026, 6, 30))
    assert (start, end) == (
        datetime(2026, 5, 31, 16, tzinfo=UTC),
        datetime(2026, 6, 30, 16, tzinfo=UTC),
    )
    assert month_range("2026-02") == (
        datetime(2026, 1, 31, 16, tzinfo=UTC),
        datetime(2026, 2, 28, 16, tzinfo=UTC),
    )
    assert month_range("2026-12")[1] == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert previous_month("2026-01") == "2025-12"
    assert month_of(datetime(2026, 5, 31, 16, tzinfo=UTC)) == "2026-06"
    for bad in ("2026-13", "2026-1", "26-01", "2026-01-01"):
        with pytest.raises(ValueError):
            parse_month(bad)


# --- the CSO proposal ------------------------------------------------------------------------

SIX = {"a", "b", "c", "d", "e", "f"}


def test_a_cycle_ends_when_every_cso_has_reported() -> None:
    january = [("a", "2026-01"), ("b", "2026-01"), ("c", "2026-01"), ("d", "2026-01")]
    assert reported_in_cycle(SIX, january) == {"a", "b", "c", "d"}
    # February: e and f complete the cycle; a reported again that month, so a has reported in
    # the new one. The order the reports come in does not matter.
    february = [("e", "2026-02"), ("a", "2026-02"), ("f", "2026-02")]
    assert reported_in_cycle(SIX, january + february) == {"a"}
    assert reported_in_cycle(SIX, list(reversed(february + january))) == {"a"}
    # Someone not (or no longer) a CSO neither counts nor blocks.
    assert reported_in_cycle(SIX, [*january, ("x", "2026-01")]) == {"a", "b", "c", "d"}
    # A new CSO (g) must report before the cycle ends.
    assert reported_in_cycle(SIX | {"g"}, january + february) == SIX
    assert reported_in_cycle(set(), january) == frozenset()


def test_lowest_composite_first_none_last_ties_by_id() -> None:
    composites = {
        "a": Fraction(9, 10),
        "b": Fraction(1, 2),
        "c": None,
        "d": Fraction(1, 2),
        "e": Fraction(7, 10),
        # f: no appeals at all (absent): like None
        "g": Fraction(1, 5),
    }
    csos = SIX | {"g"}
    # g has reported: b, d (tie, by id), e, a; c and f have no composite.
    assert propose(csos, composites, {"g"}) == ["b", "d", "e", "a"]
    # Only f and g wait: they go first (g lower), the rest from the others in order.
    assert propose(csos, composites, {"a", "b", "c", "d", "e"}) == ["g", "f", "b", "d"]
    assert propose({"c", "a"}, composites, set()) == ["a", "c"]
    assert propose(set(), composites, set()) == []
