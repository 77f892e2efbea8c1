"""AppealSubmission: what channel adapters may send to POST /v1/appeals."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.submission import AppealSubmission
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
        ("07581234567", "07581234567"),
        ("020-12345678", "020-12345678"),
    ],
)
def test_valid_phone_numbers(phone: str, stored: str) -> None:
    appeal = AppealSubmission.model_validate(with_appellant(phone=phone))
    assert appeal.appellant.phone == stored


@pytest.mark.parametrize("phone", ["123", "1380013800", "138001380001", "12800138000", "1234-5678"])
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
