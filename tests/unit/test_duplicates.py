"""Duplicate detection: same appellant, open, within 72 hours, similar Chinese text."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from services.intake.repeats.matching import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    OpenAppeal,
    bigrams,
    find_duplicate,
    mask_phone,
    normalise,
    shared_phrases,
    similarity,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PHONE = "13800138000"
OTHER_PHONE = "13922225555"
CREDIT = "91441200MA4UX8KQ2C"
OTHER_CREDIT = "91441200MA51QW3T7X"

# --- the same matter, told again ---------------------------------------------------------------
# A 12345 work order, written by the operator.
WORK_ORDER = (
    "市民来电反映：江南小区5栋、6栋自11月24日起停水已经三天，至今没有来水，物业没有说明原因，"
    "居民生活很不方便，请相关部门尽快恢复供水。"
)
# The same appellant's letter to the mayor's line (市长直通车), in the first person.
MAYOR_LETTER = (
    "尊敬的市长：您好！我是江南小区5栋的住户，小区停水已经三天了，至今还没有来水，"
    "物业也没有说明原因，老人小孩生活很不方便，恳请尽快恢复供水！"
)
# A short re-statement on the web form.
WEB_SHORT = "江南小区停水三天，至今没有来水，请尽快恢复供水"
# The work order again, with full-width characters, odd spaces and ASCII punctuation.
WORK_ORDER_WIDE = (
    "市民来电反映:江南小区５栋 、６栋自１１月２４日起停水 已经三天,至今没有来水!"
    "物业没有说明原因……居民生活很不方便,请相关部门尽快恢复供水"
)
# An enterprise: the CSO's visit record, then the enterprise's own web submission.
CSO_VISIT = (
    "企业反映：新生产线12月投产，需增容用电，现有变压器容量不足，请供电部门协调增容，"
    "同时需接驳临时用水。"
)
ENTERPRISE_WEB = (
    "我司新生产线12月即将投产，用电需增容，现有变压器容量不足，请协调供电部门尽快增容。"
)
FLOODING = "大旺大道雨后积水严重，车辆无法通行。"
FLOODING_AGAIN = "大旺大道一下雨就积水严重，车辆无法通行，请处理"

# --- different matters from the same appellant -------------------------------------------------
STREET_LAMP = "江南小区5栋门口的路灯坏了一个星期，晚上出行很不安全，请尽快维修。"
RUBBISH = "市民来电反映：江南小区5栋楼下垃圾站已经三天没人清运，气味很大，请相关部门尽快处理。"
PARKING = "江南小区物业停车收费标准过高，且未公示收费依据，请相关部门核实处理。"
WATER_BILL = "江南小区物业多收了三个月的水费，没有说明原因，请核实退还。"
POTHOLES = "大旺大道路面坑洼严重，车辆通行颠簸，请修补。"
HIRING = "我司招工困难，普工缺口约80人，希望人社部门协助招聘。"
SCHOOL = "我司员工子女秋季入学需要学位，希望教育部门协调。"
TOO_SHORT = "停水了"

SAME_MATTER = [
    ("letter vs work order", MAYOR_LETTER, WORK_ORDER),
    ("web re-statement vs work order", WEB_SHORT, WORK_ORDER),
    ("web re-statement vs letter", WEB_SHORT, MAYOR_LETTER),
    ("full-width and spacing", WORK_ORDER_WIDE, WORK_ORDER),
    ("enterprise web vs CSO visit", ENTERPRISE_WEB, CSO_VISIT),
    ("flooding again", FLOODING_AGAIN, FLOODING),
]
DIFFERENT_MATTER = [
    ("street lamp vs water cut", STREET_LAMP, WORK_ORDER),
    ("rubbish vs water cut (same building, also three days)", RUBBISH, WORK_ORDER),
    ("rubbish vs letter", RUBBISH, MAYOR_LETTER),
    ("parking fees vs water cut", PARKING, WORK_ORDER),
    ("water bill vs water cut (物业, 没有说明原因)", WATER_BILL, WORK_ORDER),
    ("water bill vs web re-statement", WATER_BILL, WEB_SHORT),
    ("street lamp vs web re-statement", STREET_LAMP, WEB_SHORT),
    ("potholes vs flooding on the same road", POTHOLES, FLOODING),
    ("hiring vs power supply", HIRING, CSO_VISIT),
    ("school places vs hiring", SCHOOL, HIRING),
    ("two characters inside a long complaint", TOO_SHORT, WORK_ORDER),
]


def appeal(
    content: str,
    *,
    n: int = 42,
    phone: str | None = PHONE,
    credit: str | None = None,
    hours_ago: float = 3,
    open_: bool = True,
) -> OpenAppeal:
    return OpenAppeal(
        appeal_id=UUID(int=n),
        tracking_code=f"DW-20261127-{n:06d}-7",
        phone=phone,
        enterprise_credit_code=credit,
        content=content,
        received_at=NOW - timedelta(hours=hours_ago),
        open=open_,
    )


# --- the threshold, from the table above --------------------------------------------------------


@pytest.mark.parametrize(("case", "new", "old"), SAME_MATTER, ids=[c[0] for c in SAME_MATTER])
def test_same_matter_scores_at_or_above_the_threshold(case: str, new: str, old: str) -> None:
    assert similarity(new, old) >= DEFAULT_THRESHOLD, case


@pytest.mark.parametrize(
    ("case", "new", "old"), DIFFERENT_MATTER, ids=[c[0] for c in DIFFERENT_MATTER]
)
def test_different_matter_scores_below_the_threshold(case: str, new: str, old: str) -> None:
    assert similarity(new, old) < DEFAULT_THRESHOLD, case


def test_the_threshold_sits_in_the_gap_with_room_on_both_sides() -> None:
    # What DEFAULT_THRESHOLD was picked from: the lowest same-matter score and the highest
    # different-matter score, each at least 0.05 away from it.
    lowest_same = min(similarity(new, old) for _, new, old in SAME_MATTER)
    highest_different = max(similarity(new, old) for _, new, old in DIFFERENT_MATTER)
    assert highest_different + 0.05 <= DEFAULT_THRESHOLD <= lowest_same - 0.05
    assert DEFAULT_THRESHOLD == 0.55


# --- the text ------------------------------------------------------------------------------------


def test_normalise_folds_width_case_whitespace_and_punctuation() -> None:
    assert normalise("江南小区５栋　停水，已经三天！！") == "江南小区5栋停水 已经三天"
    assert normalise("ＡＢＣ abc（１２３）【通知】“停水”…") == "abcabc 123 通知 停水"
    assert normalise(" \t\n") == ""
    # Chinese and ASCII punctuation are the same boundary.
    expected = {"停水", "三天"}
    assert bigrams("停水，三天。") == bigrams("停水,三天.") == bigrams("停水  ;三天") == expected


def test_bigrams_do_not_span_clauses_or_boilerplate() -> None:
    grams = bigrams("市民来电反映：来水，物业请相关部门尽快处理")
    assert grams == {"来水", "物业"}  # no 水物, no 映来, nothing of the boilerplate


def test_similarity_is_symmetric_and_bounded() -> None:
    for _, new, old in SAME_MATTER + DIFFERENT_MATTER:
        assert similarity(new, old) == similarity(old, new)
        assert 0.0 <= similarity(new, old) <= 1.0
    assert similarity(WORK_ORDER, WORK_ORDER) == 1.0
    assert similarity("", WORK_ORDER) == 0.0
    assert similarity("。。。", "！！！") == 0.0


def test_a_short_restatement_inside_a_long_complaint_scores_high() -> None:
    # Why the overlap coefficient and not Dice: Dice divides by both lengths.
    new, old = bigrams(WEB_SHORT), bigrams(WORK_ORDER)
    dice = 2 * len(new & old) / (len(new) + len(old))
    assert dice < DEFAULT_THRESHOLD <= similarity(WEB_SHORT, WORK_ORDER)


def test_shared_phrases_are_readable_runs() -> None:
    phrases = shared_phrases(WEB_SHORT, WORK_ORDER)
    assert phrases[0] == "至今没有来水"
    assert {"江南小区", "恢复供水", "停水", "三天"} <= set(phrases)
    assert shared_phrases(HIRING, CSO_VISIT) == ()


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("0758-2312345") == "075****2345"
    assert mask_phone("1380") == "****"


# --- find_duplicate ------------------------------------------------------------------------------


def test_the_same_water_cut_on_another_channel_joins_the_work_order() -> None:
    order = appeal(WORK_ORDER)
    match = find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [order])
    assert match is not None
    assert match.appeal_id == order.appeal_id
    assert match.tracking_code == order.tracking_code
    assert match.score >= DEFAULT_THRESHOLD
    assert match.matched_on == ("phone",)


def test_a_short_restatement_joins_the_long_letter() -> None:
    match = find_duplicate(PHONE, None, WEB_SHORT, NOW, [appeal(MAYOR_LETTER)])
    assert match is not None and match.score > 0.8


def test_full_width_and_whitespace_do_not_matter() -> None:
    match = find_duplicate(PHONE, None, WORK_ORDER_WIDE, NOW, [appeal(WORK_ORDER)])
    assert match is not None and match.score == 1.0


def test_an_enterprise_is_recognised_by_its_credit_code_across_phones() -> None:
    # The CSO recorded the visit with their own phone; the enterprise then writes itself.
    visit = appeal(CSO_VISIT, phone="13711112222", credit=CREDIT)
    match = find_duplicate(OTHER_PHONE, CREDIT.lower(), ENTERPRISE_WEB, NOW, [visit])
    assert match is not None
    assert match.matched_on == ("enterprise_credit_code",)
    assert CREDIT in match.reason


def test_a_different_matter_from_the_same_person_is_not_merged() -> None:
    candidates = [appeal(WORK_ORDER, n=1), appeal(MAYOR_LETTER, n=2)]
    for text in (STREET_LAMP, RUBBISH, PARKING, WATER_BILL, TOO_SHORT):
        assert find_duplicate(PHONE, None, text, NOW, candidates) is None, text
    visit = appeal(CSO_VISIT, phone=None, credit=CREDIT)
    assert find_duplicate(None, CREDIT, HIRING, NOW, [visit]) is None


def test_another_person_with_the_same_text_is_not_merged() -> None:
    order = appeal(WORK_ORDER)  # the neighbour's
    assert find_duplicate(OTHER_PHONE, None, WORK_ORDER, NOW, [order]) is None
    visit = appeal(CSO_VISIT, phone=None, credit=CREDIT)
    assert find_duplicate(None, OTHER_CREDIT, CSO_VISIT, NOW, [visit]) is None


def test_anonymous_submissions_never_merge() -> None:
    anonymous = appeal(WORK_ORDER, phone=None)
    assert find_duplicate(None, None, WORK_ORDER, NOW, [anonymous]) is None
    assert find_duplicate("", "  ", WORK_ORDER, NOW, [anonymous]) is None
    assert find_duplicate(None, None, WORK_ORDER, NOW, [appeal(WORK_ORDER)]) is None


def test_closed_appeals_are_not_joined() -> None:
    closed = appeal(WORK_ORDER, open_=False)
    assert find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [closed]) is None


@pytest.mark.parametrize(
    ("age", "joins"),
    [
        (timedelta(0), True),
        (timedelta(hours=71, minutes=59), True),
        (DEFAULT_WINDOW, True),  # "at most 72 hours old"
        (DEFAULT_WINDOW + timedelta(seconds=1), False),
        (timedelta(days=5), False),
        (-timedelta(seconds=2), True),  # stamped a moment after `now` (clock skew): fresh
    ],
)
def test_only_appeals_at_most_72_hours_old(age: timedelta, joins: bool) -> None:
    old = replace(appeal(WORK_ORDER), received_at=NOW - age)
    assert (find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [old]) is not None) is joins


def test_the_window_is_a_parameter() -> None:
    old = appeal(WORK_ORDER, hours_ago=30)
    assert find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [old], window=timedelta(hours=24)) is None


def test_the_best_of_several_candidates_wins() -> None:
    candidates = [
        appeal(STREET_LAMP, n=1, hours_ago=1),
        appeal(MAYOR_LETTER, n=2, hours_ago=2),  # eligible, scores less
        appeal(WORK_ORDER, n=3, hours_ago=50),  # the best
        appeal(WORK_ORDER, n=4, phone=OTHER_PHONE),  # identical text, someone else
        appeal(WORK_ORDER, n=5, open_=False),  # identical, closed
        appeal(WORK_ORDER, n=6, hours_ago=80),  # identical, too old
    ]
    match = find_duplicate(PHONE, None, WORK_ORDER_WIDE, NOW, candidates)
    assert match is not None and match.appeal_id == UUID(int=3)
    assert match.score > similarity(WORK_ORDER_WIDE, MAYOR_LETTER)
    # Whatever the order they come in.
    again = find_duplicate(PHONE, None, WORK_ORDER_WIDE, NOW, list(reversed(candidates)))
    assert again == match


def test_a_tie_goes_to_the_earliest_appeal() -> None:
    later, earlier = appeal(WORK_ORDER, n=1, hours_ago=1), appeal(WORK_ORDER, n=2, hours_ago=9)
    for candidates in ([later, earlier], [earlier, later]):
        match = find_duplicate(PHONE, None, WORK_ORDER, NOW, candidates)
        assert match is not None and match.appeal_id == UUID(int=2)


def test_phone_numbers_compare_by_digits() -> None:
    landline = appeal(FLOODING, phone="0758-2312345")
    match = find_duplicate("07582312345", None, FLOODING_AGAIN, NOW, [landline])
    assert match is not None


def test_the_threshold_is_a_parameter() -> None:
    order = appeal(WORK_ORDER)
    score = similarity(MAYOR_LETTER, WORK_ORDER)
    assert find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [order], threshold=score) is not None
    stricter = score + 0.01
    assert find_duplicate(PHONE, None, MAYOR_LETTER, NOW, [order], threshold=stricter) is None


def test_the_reason_names_the_appeal_the_score_and_masks_the_phone() -> None:
    order = appeal(WORK_ORDER)
    match = find_duplicate(PHONE, None, WEB_SHORT, NOW, [order])
    assert match is not None
    assert match.reason.startswith(f"与 {order.tracking_code} 同一诉求人（手机 138****8000），")
    assert f"内容相似度 {match.score:.2f} ≥ 0.55" in match.reason
    assert "“至今没有来水”" in match.reason and "“江南小区”" in match.reason
    assert match.reason_en.startswith(
        f"same appellant as {order.tracking_code} (phone 138****8000)"
    )
    assert f"content similarity {match.score:.2f} >= 0.55" in match.reason_en
    for text in (match.reason, match.reason_en):
        assert PHONE not in text


def test_the_reason_names_both_when_phone_and_enterprise_match() -> None:
    visit = appeal(CSO_VISIT, credit=CREDIT)
    match = find_duplicate(PHONE, CREDIT, ENTERPRISE_WEB, NOW, [visit])
    assert match is not None
    assert match.matched_on == ("phone", "enterprise_credit_code")
    assert f"（手机 138****8000；统一社会信用代码 {CREDIT}）" in match.reason


def test_the_reason_shows_at_most_five_phrases() -> None:
    match = find_duplicate(PHONE, None, WORK_ORDER_WIDE, NOW, [appeal(MAYOR_LETTER)])
    assert match is not None
    assert len(match.shared_phrases) > 5
    assert match.reason.count("“") == 5 and match.reason.endswith("…）")
