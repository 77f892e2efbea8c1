"""AppealSubmission: what channel adapters may send to POST /v1/appeals."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.submissions.form import (
    MAX_ATTACHMENTS,
    AppealSubmission,
    check_not_future,
    time_errors,
)
from shared.credit_code import ALPHABET, complete
from shared.vocabulary import AppealType, Channel, Urgency

CREDIT_CODE = complete("91441200MA4WK3Q5X")


def sample(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "hotline_12345",
        "external_id": "GD-20261127-000731",
        "appellant": {
            "name": "李女士",
            "phone": "13800138000",
            "enterprise_credit_code": CREDIT_CODE,
        },
        "content": "大旺大道与迎宾大道交界处雨后积水严重，车辆无法通行，请尽快疏通。",
        "location": {"address": "肇庆高新区大旺大道", "community": "大旺社区"},
        "category": "drainage_roads",
        "urgency": "urgent",
        "type": "help",
    }
    body.update(overrides)
    return body


def with_appellant(**fields: Any) -> dict[str, Any]:
    body = sample()
    body["appellant"] = {**body["appellant"], **fields}
    return body


def error_locs(body: dict[str, Any]) -> set[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as caught:
        AppealSubmission.model_validate(body)
    return {tuple(e["loc"]) for e in caught.value.errors()}


def test_realistic_12345_submission_is_valid() -> None:
    appeal = AppealSubmission.model_validate(sample())
    assert appeal.channel is Channel.HOTLINE_12345
    assert appeal.urgency is Urgency.URGENT
    assert appeal.type is AppealType.HELP
    assert appeal.appellant.enterprise_credit_code == CREDIT_CODE
    assert appeal.location.community == "大旺社区"


def test_minimal_submission_is_valid() -> None:
    appeal = AppealSubmission.model_validate(
        {"channel": "web", "external_id": "w-1", "content": "咨询政策"}
    )
    assert appeal.appellant.phone is None
    assert appeal.appellant.anonymous is False
    assert appeal.urgency is None


def test_whitespace_is_stripped() -> None:
    body = sample(external_id="  GD-1  ", content="\n  路灯不亮  \t")
    body["appellant"]["name"] = " 李女士 "
    body["location"] = {"address": " 大旺大道 ", "community": " 大旺社区 "}
    appeal = AppealSubmission.model_validate(body)
    assert appeal.external_id == "GD-1"
    assert appeal.content == "路灯不亮"
    assert appeal.appellant.name == "李女士"
    assert (appeal.location.address, appeal.location.community) == ("大旺大道", "大旺社区")


@pytest.mark.parametrize("content", ["", "   ", "\n\t "])
def test_blank_content_is_rejected(content: str) -> None:
    assert error_locs(sample(content=content)) == {("content",)}


def test_blank_external_id_is_rejected() -> None:
    assert error_locs(sample(external_id="  ")) == {("external_id",)}


@pytest.mark.parametrize("missing", ["channel", "external_id", "content"])
def test_required_fields(missing: str) -> None:
    body = sample()
    del body[missing]
    assert error_locs(body) == {(missing,)}


def test_unknown_channel_is_rejected() -> None:
    assert error_locs(sample(channel="wechat")) == {("channel",)}


@pytest.mark.parametrize(
    ("field", "value"), [("category", "weather"), ("urgency", "asap"), ("type", "praise")]
)
def test_unknown_vocabulary_is_rejected(field: str, value: str) -> None:
    assert error_locs(sample(**{field: value})) == {(field,)}


def test_extra_top_level_field_is_rejected() -> None:
    assert error_locs(sample(priority="high")) == {("priority",)}


def test_extra_appellant_field_is_rejected() -> None:
    assert error_locs(with_appellant(wechat="li_nvshi")) == {("appellant", "wechat")}


def test_extra_location_field_is_rejected() -> None:
    body = sample(location={"address": "大旺大道", "gps": "23.1,112.4"})
    assert error_locs(body) == {("location", "gps")}


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("138 0013 8000", "13800138000"),
        ("0758-1234567", "0758-1234567"),
        # Landlines are stored in one form, AREA-LOCAL, however they were written.
        ("07581234567", "0758-1234567"),
        ("020-12345678", "020-12345678"),
        ("(0758) 123 4567", "0758-1234567"),
        # Widened: country codes, full-width digits and spaces.
        ("+86 138 0013 8000", "13800138000"),
        ("0086-13800138000", "13800138000"),
        ("１３８　００１３　８０００", "13800138000"),
        ("+86 758 1234567", "0758-1234567"),
    ],
)
def test_valid_phone_numbers(phone: str, stored: str) -> None:
    appeal = AppealSubmission.model_validate(with_appellant(phone=phone))
    assert appeal.appellant.phone == stored


@pytest.mark.parametrize(
    "phone",
    ["123", "1380013800", "138001380001", "12800138000", "1234-5678", "+1 415 555 0100", "李"],
)
def test_invalid_phone_numbers(phone: str) -> None:
    assert error_locs(with_appellant(phone=phone)) == {("appellant", "phone")}


def test_credit_code_is_normalised_to_upper_case() -> None:
    appeal = AppealSubmission.model_validate(
        with_appellant(enterprise_credit_code=f" {CREDIT_CODE.lower()} ")
    )
    assert appeal.appellant.enterprise_credit_code == CREDIT_CODE


def test_credit_code_with_wrong_check_character_is_rejected() -> None:
    wrong = ALPHABET[(ALPHABET.index(CREDIT_CODE[-1]) + 1) % len(ALPHABET)]
    body = with_appellant(enterprise_credit_code=CREDIT_CODE[:-1] + wrong)
    assert error_locs(body) == {("appellant", "enterprise_credit_code")}


def test_external_id_length_limit() -> None:
    assert AppealSubmission.model_validate(sample(external_id="x" * 128)).external_id == "x" * 128
    assert error_locs(sample(external_id="x" * 129)) == {("external_id",)}


def test_content_length_limit() -> None:
    assert len(AppealSubmission.model_validate(sample(content="水" * 5000)).content) == 5000
    assert error_locs(sample(content="水" * 5001)) == {("content",)}


def test_name_length_limit() -> None:
    assert error_locs(with_appellant(name="名" * 51)) == {("appellant", "name")}


def test_several_errors_are_reported_together() -> None:
    body = sample(channel="fax", content=" ")
    body["appellant"]["phone"] = "123"
    assert error_locs(body) == {("channel",), ("content",), ("appellant", "phone")}


def test_blank_phone_means_none() -> None:
    assert AppealSubmission.model_validate(with_appellant(phone="  ")).appellant.phone is None


def test_blank_name_means_none() -> None:
    assert AppealSubmission.model_validate(with_appellant(name=" \u3000 ")).appellant.name is None


def test_text_is_cleaned_like_every_channel() -> None:
    body = sample(
        content="  宿舍楼\u3000\u3000停水两天，\x00影响１２０名员工  \n\n\n  请协调供水。\u200b"
    )
    appeal = AppealSubmission.model_validate(body)
    # Full-width digits and spaces fold, Chinese punctuation stays, paragraphs survive,
    # control and zero-width characters go.
    assert appeal.content == "宿舍楼 停水两天，影响120名员工\n请协调供水。"


def test_external_id_is_folded_to_half_width() -> None:
    assert (
        AppealSubmission.model_validate(sample(external_id="ＧＤ－００１")).external_id == "GD-001"
    )


# --- anonymity ------------------------------------------------------------------------------


def anonymous_body(**appellant: Any) -> dict[str, Any]:
    return sample(anonymous=True, appellant=appellant)


def test_top_level_anonymous_sets_the_appellant_flag() -> None:
    appeal = AppealSubmission.model_validate(anonymous_body())
    assert appeal.anonymous is True
    assert appeal.appellant.anonymous is True


def test_appellant_anonymous_still_works_and_is_mirrored() -> None:
    appeal = AppealSubmission.model_validate(sample(appellant={"anonymous": True}))
    assert appeal.anonymous is True


def test_anonymous_without_appellant_object() -> None:
    body = sample(anonymous=True)
    del body["appellant"]
    assert AppealSubmission.model_validate(body).appellant.anonymous is True


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "李女士"), ("phone", "13800138000"), ("enterprise_credit_code", CREDIT_CODE)],
)
def test_anonymous_appellant_names_nobody(field: str, value: str) -> None:
    assert error_locs(anonymous_body(**{field: value})) == {("appellant", field)}
    body = sample(appellant={"anonymous": True, field: value})
    assert error_locs(body) == {("appellant", field)}


# --- attachments ----------------------------------------------------------------------------


def photo(n: int = 1) -> dict[str, str]:
    return {"url": f"https://oss.dawang.example/appeals/{n}.jpg", "media_type": "image/jpeg"}


def test_attachments_are_accepted_up_to_the_limit() -> None:
    body = sample(attachments=[photo(n) for n in range(MAX_ATTACHMENTS)])
    appeal = AppealSubmission.model_validate(body)
    assert [a.url for a in appeal.attachments][-1] == "https://oss.dawang.example/appeals/9.jpg"
    assert appeal.model_dump(mode="json")["attachments"][0]["media_type"] == "image/jpeg"


def test_too_many_attachments_are_rejected() -> None:
    body = sample(attachments=[photo(n) for n in range(MAX_ATTACHMENTS + 1)])
    assert error_locs(body) == {("attachments",)}


def test_null_attachments_mean_none() -> None:
    assert AppealSubmission.model_validate(sample(attachments=None)).attachments == []


def test_media_type_is_lower_cased() -> None:
    body = sample(attachments=[{"url": photo()["url"], "media_type": " Image/JPEG "}])
    assert AppealSubmission.model_validate(body).attachments[0].media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        ({"url": "ftp://files.example/a.jpg", "media_type": "image/jpeg"}, "url"),
        ({"url": "javascript:alert(1)", "media_type": "image/jpeg"}, "url"),
        ({"url": "照片.jpg", "media_type": "image/jpeg"}, "url"),
        ({"url": "https://oss.example/a.jpg", "media_type": "jpeg"}, "media_type"),
        ({"url": "https://oss.example/a.jpg", "media_type": "image/jpeg; q=1"}, "media_type"),
        ({"url": "https://oss.example/a.jpg", "media_type": "image/jpeg", "size": 1}, "size"),
    ],
)
def test_bad_attachments_name_the_field(attachment: dict[str, Any], field: str) -> None:
    assert error_locs(sample(attachments=[attachment])) == {("attachments", 0, field)}


# --- submitted_at, filed_by, channel codes --------------------------------------------------

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_submitted_at_must_be_aware() -> None:
    assert error_locs(sample(submitted_at="2026-11-27T09:00:00")) == {("submitted_at",)}


def test_submitted_at_in_the_past_is_kept() -> None:
    appeal = AppealSubmission.model_validate(
        sample(submitted_at="2026-11-27T08:30:00+08:00"), context={"now": NOW}
    )
    assert appeal.submitted_at == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)


def test_future_submitted_at_is_rejected_given_a_clock() -> None:
    body = sample(submitted_at=(NOW + timedelta(minutes=6)).isoformat())
    with pytest.raises(ValidationError) as caught:
        AppealSubmission.model_validate(body, context={"now": NOW})
    assert [e["loc"] for e in caught.value.errors()] == [("submitted_at",)]
    assert "future" in caught.value.errors()[0]["msg"]
    # Without a clock in the context, no check (and no hidden clock read).
    assert AppealSubmission.model_validate(body).submitted_at == NOW + timedelta(minutes=6)


def test_small_clock_skew_is_tolerated() -> None:
    check_not_future(NOW + timedelta(minutes=5), NOW)
    with pytest.raises(ValueError, match="in the future"):
        check_not_future(NOW + timedelta(minutes=5, seconds=1), NOW)
    with pytest.raises(ValueError):
        check_not_future(NOW + timedelta(seconds=2), NOW, max_skew=timedelta(seconds=1))


def test_check_not_future_compares_offsets_correctly() -> None:
    # 09:03 in China is 01:03 UTC: three minutes ahead, within the skew.
    check_not_future(datetime(2026, 11, 27, 9, 3, tzinfo=timezone(timedelta(hours=8))), NOW)


def test_time_errors_for_the_api() -> None:
    future = AppealSubmission.model_validate(sample(submitted_at="2026-11-28T00:00:00Z"))
    errors = time_errors(future, NOW, loc_prefix=("body",))
    assert [e["loc"] for e in errors] == [("body", "submitted_at")]
    past = AppealSubmission.model_validate(sample(submitted_at="2026-11-26T00:00:00Z"))
    assert time_errors(past, NOW) == []
    assert time_errors(AppealSubmission.model_validate(sample()), NOW) == []


def test_filed_by_and_channel_codes() -> None:
    body = sample(filed_by=" hw-017 ", channel_codes={"type": "０２", "category": " 03 "})
    appeal = AppealSubmission.model_validate(body)
    assert appeal.filed_by == "hw-017"
    assert appeal.channel_codes is not None
    assert (appeal.channel_codes.type, appeal.channel_codes.category) == ("02", "03")
    assert appeal.channel_codes.urgency is None


def test_unknown_channel_code_field_is_rejected() -> None:
    assert error_locs(sample(channel_codes={"priority": "1"})) == {("channel_codes", "priority")}
