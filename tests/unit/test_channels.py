"""Each channel's native payload, validated and mapped to the unified AppealSubmission."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.channels import CHANNELS, VisitLog
from services.intake.channels._common import CHINA_TIME
from services.intake.channels.mayor_line import MAX_BODY, MAX_TITLE
from services.intake.channels.window import external_id_of
from services.intake.submissions.form import MAX_CONTENT, AppealSubmission
from shared.credit_code import complete
from shared.vocabulary import AppealType, Category, Channel

ENTERPRISE = complete("91441200MA4WK3Q5X")
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Zhaoqing


def parse(channel: Channel, payload: dict[str, Any], **kw: Any) -> AppealSubmission | VisitLog:
    return CHANNELS[channel].parse(payload, **kw)


def submission(channel: Channel, payload: dict[str, Any], **kw: Any) -> AppealSubmission:
    result = parse(channel, payload, **kw)
    assert isinstance(result, AppealSubmission)
    return result


def error_locs(channel: Channel, payload: dict[str, Any], **kw: Any) -> set[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        parse(channel, payload, **kw)
    return {tuple(e["loc"]) for e in caught.value.errors()}


def test_every_channel_is_registered() -> None:
    assert set(CHANNELS) == set(Channel)
    assert all(spec.channel is channel for channel, spec in CHANNELS.items())


# --- 12345 hotline ----------------------------------------------------------------------------


def work_order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_no": "ZQ12345-20261127-000731",
        "caller_name": "李女士",
        "caller_phone": "13800138000",
        "type_code": "02",
        "category_code": "02",
        "urgency_flag": "1",
        "content": "大旺大道与迎宾大道交界处雨后积水严重，车辆无法通行，请尽快疏通。",
        "address": "肇庆高新区大旺大道与迎宾大道交界处",
        "accepted_at": "2026-11-27 09:15:00",
        "operator_id": "hw-017",
    }
    body.update(overrides)
    return body


def test_hotline_work_order_maps_to_the_unified_submission() -> None:
    appeal = submission(Channel.HOTLINE_12345, work_order())
    assert appeal.channel is Channel.HOTLINE_12345
    assert appeal.external_id == "ZQ12345-20261127-000731"
    assert (appeal.appellant.name, appeal.appellant.phone) == ("李女士", "13800138000")
    assert appeal.location.address == "肇庆高新区大旺大道与迎宾大道交界处"
    assert appeal.filed_by == "hw-017"
    assert appeal.channel_codes is not None
    assert appeal.channel_codes.model_dump() == {"type": "02", "category": "02", "urgency": "1"}
    # The hotline's own codes are classification's job, not the mapper's.
    assert (appeal.type, appeal.category, appeal.urgency) == (None, None, None)
    # A local time without an offset is China time: 09:15 CST is 01:15 UTC.
    assert appeal.submitted_at == datetime(2026, 11, 27, 1, 15, tzinfo=UTC)


def test_hotline_full_width_digits_spaces_and_extra_whitespace() -> None:
    appeal = submission(
        Channel.HOTLINE_12345,
        work_order(
            order_no="  ＺＱ１２３４５－２０２６１１２７－０００７３２ ",
            caller_name="\u3000王 先生 ",
            caller_phone="＋８６ １３９\u3000１２３４\u3000５６７８",
            content="  宿舍楼\u3000\u3000停水两天，   影响１２０名员工。\n\n\n请协调。  ",
            accepted_at="2026-11-27T09:20:00+08:00",
        ),
    )
    assert appeal.external_id == "ZQ12345-20261127-000732"
    assert appeal.appellant.name == "王 先生"
    assert appeal.appellant.phone == "13912345678"
    assert appeal.content == "宿舍楼 停水两天， 影响120名员工。\n请协调。"


def test_hotline_minimal_order_without_optional_fields() -> None:
    payload = work_order()
    for optional in ("caller_name", "caller_phone", "type_code", "category_code", "urgency_flag"):
        del payload[optional]
    payload["address"] = "   "
    appeal = submission(Channel.HOTLINE_12345, payload)
    assert appeal.appellant.phone is None
    assert appeal.location.address is None
    assert appeal.channel_codes is None


def test_hotline_boolean_urgency_flag_and_unknown_fields() -> None:
    # An external system: new fields are ignored, not refused.
    appeal = submission(
        Channel.HOTLINE_12345, work_order(urgency_flag=True, street="大旺街道", version="3.2")
    )
    assert appeal.channel_codes is not None and appeal.channel_codes.urgency == "1"


def test_hotline_errors_name_the_native_fields() -> None:
    payload = work_order(caller_phone="0758-12345", accepted_at="昨天上午", content=" ")
    del payload["operator_id"]
    assert error_locs(Channel.HOTLINE_12345, payload) == {
        ("caller_phone",),
        ("accepted_at",),
        ("content",),
        ("operator_id",),
    }


def test_hotline_content_length_limit() -> None:
    longest = submission(Channel.HOTLINE_12345, work_order(content="积" * MAX_CONTENT))
    assert len(longest.content) == MAX_CONTENT
    too_long = work_order(content="积" * (MAX_CONTENT + 1))
    assert error_locs(Channel.HOTLINE_12345, too_long) == {("content",)}


def test_hotline_order_from_the_future_is_refused_given_a_clock() -> None:
    future = work_order(accepted_at="2026-11-27 10:30:00")  # 30 minutes after NOW
    assert error_locs(Channel.HOTLINE_12345, future, now=NOW) == {("accepted_at",)}
    assert submission(Channel.HOTLINE_12345, work_order(), now=NOW).submitted_at is not None


# --- the mayor's direct line ------------------------------------------------------------------


def letter(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": "SZZTC-2026-11-0452",
        "title": "关于大旺工业园公交线路的建议",
        "body": "工业园上下班高峰公交车太少，建议增开班次，并在园区东门增设站点。",
        "writer_name": "陈先生",
        "contact_phone": "0758-3981234",
        "address": "肇庆高新区大旺工业园",
        "written_at": "2026-11-26 21:40:00",
    }
    body.update(overrides)
    return body


def test_mayor_line_letter_content_is_title_then_body() -> None:
    appeal = submission(Channel.MAYOR_LINE, letter())
    assert appeal.channel is Channel.MAYOR_LINE
    assert appeal.external_id == "SZZTC-2026-11-0452"
    assert appeal.content == (
        "关于大旺工业园公交线路的建议\n"
        "工业园上下班高峰公交车太少，建议增开班次，并在园区东门增设站点。"
    )
    assert (appeal.appellant.name, appeal.appellant.phone) == ("陈先生", "0758-3981234")
    assert appeal.anonymous is False
    assert appeal.submitted_at == datetime(2026, 11, 26, 21, 40, tzinfo=CHINA_TIME)
    assert appeal.filed_by is None


def test_anonymous_letter_keeps_no_contact_so_no_follow_up() -> None:
    appeal = submission(Channel.MAYOR_LINE, letter(anonymous=True))
    assert appeal.anonymous is True
    assert appeal.appellant.anonymous is True
    # The writer asked not to be identified: the name and phone left on the letter are dropped.
    assert (appeal.appellant.name, appeal.appellant.phone) == (None, None)


def test_letter_without_contact_or_time() -> None:
    payload = letter(writer_name="", contact_phone=None)
    del payload["written_at"]
    appeal = submission(Channel.MAYOR_LINE, payload)
    assert (appeal.appellant.name, appeal.appellant.phone, appeal.submitted_at) == (None,) * 3
    assert appeal.anonymous is False


def test_longest_letter_fits_the_unified_content() -> None:
    appeal = submission(Channel.MAYOR_LINE, letter(title="题" * MAX_TITLE, body="文" * MAX_BODY))
    assert len(appeal.content) == MAX_CONTENT


def test_letter_limits_name_the_field() -> None:
    assert error_locs(Channel.MAYOR_LINE, letter(body="文" * (MAX_BODY + 1))) == {("body",)}
    assert error_locs(Channel.MAYOR_LINE, letter(title="题" * (MAX_TITLE + 1))) == {("title",)}
    assert error_locs(Channel.MAYOR_LINE, letter(title="\u3000 ")) == {("title",)}


def test_letter_with_bad_phone_and_unknown_field() -> None:
    # Unknown fields from the external system are ignored; a bad phone is still an error.
    assert error_locs(Channel.MAYOR_LINE, letter(contact_phone="110", reply_type="电话")) == {
        ("contact_phone",)
    }


# --- chief service officers' visits -----------------------------------------------------------


def visit(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "visit_id": "cso-visit-2026-11-27-0012",
        "officer_id": "cso-017",
        "enterprise_credit_code": ENTERPRISE,
        "visited_at": "2026-11-27T09:30:00+08:00",
        "problem": "新生产线下月投产，需新增一台2000千伏安变压器，供电报装进度慢，请协调供电局。",
        "category": "utilities",
        "contact_name": "刘经理",
        "contact_phone": "13612345678",
    }
    body.update(overrides)
    return body


def test_visit_with_a_problem_is_the_enterprises_appeal_filed_by_the_cso() -> None:
    appeal = submission(Channel.CSO_VISIT, visit())
    assert appeal.channel is Channel.CSO_VISIT
    assert appeal.external_id == "cso-visit-2026-11-27-0012"
    assert appeal.appellant.enterprise_credit_code == ENTERPRISE
    assert (appeal.appellant.name, appeal.appellant.phone) == ("刘经理", "13612345678")
    assert appeal.filed_by == "cso-017"
    assert appeal.category is Category.UTILITIES
    assert appeal.submitted_at == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


def test_visit_without_a_problem_is_a_visit_log() -> None:
    payload = visit(problem="  \u3000 ", category=None, note="走访了解生产经营情况，企业暂无诉求。")
    result = parse(Channel.CSO_VISIT, payload)
    assert result == VisitLog(
        visit_id="cso-visit-2026-11-27-0012",
        officer_id="cso-017",
        enterprise_credit_code=ENTERPRISE,
        visited_at=datetime(2026, 11, 27, 1, 30, tzinfo=UTC),
        note="走访了解生产经营情况，企业暂无诉求。",
    )


def test_visit_with_no_problem_field_at_all() -> None:
    payload = visit()
    for field in ("problem", "category", "contact_name", "contact_phone"):
        del payload[field]
    result = parse(Channel.CSO_VISIT, payload)
    assert isinstance(result, VisitLog)
    assert result.note is None


def test_visit_credit_code_is_checked_and_normalised() -> None:
    spaced = f" {ENTERPRISE[:8].lower()} {ENTERPRISE[8:]} "
    assert submission(Channel.CSO_VISIT, visit(enterprise_credit_code=spaced)).appellant == (
        submission(Channel.CSO_VISIT, visit()).appellant
    )
    bad = ENTERPRISE[:-1] + ("0" if ENTERPRISE[-1] != "0" else "1")
    assert error_locs(Channel.CSO_VISIT, visit(enterprise_credit_code=bad)) == {
        ("enterprise_credit_code",)
    }


def test_category_without_a_problem_is_refused() -> None:
    assert error_locs(Channel.CSO_VISIT, visit(problem=None)) == {("category",)}


def test_visit_errors_name_the_fields() -> None:
    payload = visit(visited_at="2026-11-27T09:30:00", officer_id=" ", problem="水" * 5001)
    assert error_locs(Channel.CSO_VISIT, payload) == {
        ("visited_at",),  # our own app sends aware times
        ("officer_id",),
        ("problem",),
    }
    assert error_locs(Channel.CSO_VISIT, visit(gps="23.1,112.4")) == {("gps",)}


# --- web and mini-program ---------------------------------------------------------------------

FORM_ID = "6f1c2b9e-3d4a-4c1b-9a7e-2f8d5c6b1a90"


def form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": FORM_ID,
        "name": "黄女士",
        "phone": "13712345678",
        "content": "请问高新区人才住房补贴怎么申请？需要哪些材料？",
        "community": "大旺社区",
        "type": "consultation",
        "category": "housing",
        "submitted_at": "2026-11-27T09:58:00+08:00",
    }
    body.update(overrides)
    return body


def test_person_web_form() -> None:
    appeal = submission(Channel.WEB, form(), now=NOW)
    assert appeal.channel is Channel.WEB
    assert appeal.external_id == FORM_ID
    assert (appeal.type, appeal.category) == (AppealType.CONSULTATION, Category.HOUSING)
    assert appeal.location.community == "大旺社区"
    assert appeal.appellant.enterprise_credit_code is None


def test_enterprise_web_form_with_attachments() -> None:
    photos = [
        {"url": f"https://oss.dawang.example/web/{FORM_ID}/{n}.jpg", "media_type": "image/jpeg"}
        for n in range(3)
    ]
    appeal = submission(
        Channel.WEB,
        form(
            appellant_kind="enterprise",
            enterprise_credit_code=ENTERPRISE.lower(),
            content="厂区门口道路破损，货车进出困难。",
            attachments=photos,
        ),
    )
    assert appeal.appellant.enterprise_credit_code == ENTERPRISE
    assert [a.url for a in appeal.attachments] == [p["url"] for p in photos]


def test_anonymous_web_form() -> None:
    appeal = submission(Channel.WEB, form(anonymous=True, name=None, phone=""))
    assert appeal.anonymous is True and appeal.appellant.anonymous is True
    assert error_locs(Channel.WEB, form(anonymous=True)) == {("name",), ("phone",)}


def test_web_external_id_must_be_a_uuid() -> None:
    assert error_locs(Channel.WEB, form(external_id="web-12345")) == {("external_id",)}
    upper = submission(Channel.WEB, form(external_id=FORM_ID.upper().replace("-", "")))
    assert upper.external_id == FORM_ID  # one canonical spelling, so retries deduplicate


def test_web_enterprise_needs_its_credit_code_and_a_person_has_none() -> None:
    assert error_locs(Channel.WEB, form(appellant_kind="enterprise")) == {
        ("enterprise_credit_code",)
    }
    assert error_locs(Channel.WEB, form(enterprise_credit_code=ENTERPRISE)) == {
        ("enterprise_credit_code",)
    }


def test_web_form_is_strict() -> None:
    assert error_locs(Channel.WEB, form(urgency="emergency")) == {("urgency",)}
    too_many = [{"url": "https://oss.example/a.jpg", "media_type": "image/png"}] * 11
    assert error_locs(Channel.WEB, form(attachments=too_many)) == {("attachments",)}


def test_web_submitted_at_from_a_fast_clock() -> None:
    slightly_fast = form(submitted_at=(NOW + timedelta(minutes=4)).isoformat())
    assert submission(Channel.WEB, slightly_fast, now=NOW).submitted_at is not None
    far_ahead = form(submitted_at=(NOW + timedelta(days=1)).isoformat())
    assert error_locs(Channel.WEB, far_ahead, now=NOW) == {("submitted_at",)}


# --- convenience windows ----------------------------------------------------------------------

RECORD_ID = "0b7e4f0c-8f1d-4b55-a6a1-3f2d9c1e7b42"


def window_record(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "record_id": RECORD_ID,
        "window_id": "dw-window-01",
        "staff_id": "staff-203",
        "visitor_name": "张阿姨",
        "visitor_phone": "0758 3612345",
        "request": "村里小巷雨后积水，老人出行不便，希望安排清淤。",
        "community": "大旺社区",
        "recorded_at": "2026-11-27T09:45:00+08:00",
    }
    body.update(overrides)
    return body


def test_window_record_maps_with_staff_as_filer() -> None:
    appeal = submission(Channel.WINDOW, window_record(), now=NOW)
    assert appeal.channel is Channel.WINDOW
    assert appeal.external_id == f"dw-window-01/{RECORD_ID}"
    assert appeal.filed_by == "staff-203"
    assert appeal.appellant.phone == "0758-3612345"
    assert appeal.content.startswith("村里小巷雨后积水")
    assert appeal.category is None


def test_window_walk_in_without_name_or_phone() -> None:
    payload = window_record(visitor_name=" ", category="drainage_roads")
    del payload["visitor_phone"], payload["recorded_at"]
    appeal = submission(Channel.WINDOW, payload)
    assert (appeal.appellant.name, appeal.appellant.phone) == (None, None)
    assert appeal.category is Category.DRAINAGE_ROADS
    assert appeal.submitted_at is None


def test_window_full_width_input() -> None:
    appeal = submission(
        Channel.WINDOW,
        window_record(
            window_id="ＤＷ－０１",
            visitor_phone="１３５\u3000００００\u3000１２３４",
            request="  办理营业执照变更，\u3000需要带什么材料？  ",
        ),
    )
    assert appeal.external_id == f"DW-01/{RECORD_ID}"
    assert appeal.appellant.phone == "13500001234"
    assert appeal.content == "办理营业执照变更， 需要带什么材料？"


def test_window_errors_name_the_fields() -> None:
    payload = window_record(record_id="42", request="", category="queue", note="多余")
    del payload["staff_id"]
    assert error_locs(Channel.WINDOW, payload) == {
        ("record_id",),
        ("request",),
        ("category",),
        ("note",),
        ("staff_id",),
    }


def test_a_rejected_window_record_keeps_the_external_id_it_would_have_had() -> None:
    # Kafka receipts name a rejected record as an accepted one would be named.
    invalid = window_record(window_id=" ＤＷ－０１ ", record_id=RECORD_ID.upper(), request="")
    with pytest.raises(ValidationError):
        parse(Channel.WINDOW, invalid)
    accepted = submission(Channel.WINDOW, window_record(window_id="ＤＷ－０１"))
    assert external_id_of(invalid) == accepted.external_id == f"DW-01/{RECORD_ID}"
    # An id that is itself invalid is named as sent; without both ids there is none.
    assert external_id_of(window_record(record_id=" 42 ")) == "dw-window-01/42"
    assert external_id_of({"record_id": RECORD_ID}) is None
    assert external_id_of({"window_id": "dw-window-01", "record_id": " "}) is None
