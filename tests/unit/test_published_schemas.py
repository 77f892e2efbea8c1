"""What intake's published schemas say of its checked fields holds: whatever the pattern allows,
the validator takes (found by fuzzing: phones, credit codes, media types and attachment URLs
were any string in the schema, and a follow-up's one reference was not said at all)."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter

from services.intake.follow_ups.api import FollowUpIn
from services.intake.submissions.form import (
    HTTP_URL_PATTERN,
    MEDIA_TYPE_PATTERN,
    AppealSubmission,
    Attachment,
)
from shared.credit_code import complete
from shared.normalize import CREDIT_CODE_PATTERN, PHONE_PATTERN, normalize_phone


@pytest.mark.parametrize(
    "phone", ["13800138000", "19912345678", "0758-1234567", "07581234567", "020-12345678"]
)
def test_a_phone_the_pattern_allows_is_taken_as_it_is(phone: str) -> None:
    assert re.fullmatch(PHONE_PATTERN, phone)
    assert normalize_phone(phone).replace("-", "") == phone.replace("-", "")


@pytest.mark.parametrize("phone", ["12345", "+8613800138000", "0758-0123456", "1280013800"])
def test_the_phone_pattern_says_no_to_what_is_no_phone_as_written(phone: str) -> None:
    assert not re.fullmatch(PHONE_PATTERN, phone)


def test_a_credit_code_has_the_patterns_shape() -> None:
    assert re.fullmatch(CREDIT_CODE_PATTERN, complete("91441200000000001"))
    assert not re.fullmatch(CREDIT_CODE_PATTERN, "91441200000000000I")  # I is not in it


@pytest.mark.parametrize(
    "url", ["https://a.example/x/y.jpg", "http://files-1.jiban.example:8080/a_b~c", "http://h"]
)
def test_an_attachment_the_patterns_allow_is_taken(url: str) -> None:
    assert re.fullmatch(HTTP_URL_PATTERN, url)
    assert re.fullmatch(MEDIA_TYPE_PATTERN, "image/jpeg")
    assert TypeAdapter(Attachment).validate_python({"url": url, "media_type": "image/jpeg"})


def test_the_schemas_show_the_patterns() -> None:
    schema = AppealSubmission.model_json_schema()
    attachment = schema["$defs"]["Attachment"]["properties"]
    assert attachment["media_type"]["pattern"] == MEDIA_TYPE_PATTERN
    assert attachment["url"]["pattern"] == HTTP_URL_PATTERN
    phone = schema["$defs"]["AppellantIn"]["properties"]["phone"]
    assert {"type": "string", "pattern": PHONE_PATTERN}.items() <= phone["anyOf"][0].items()


def test_a_follow_up_names_its_appeal_once_in_the_schema() -> None:
    one_of = FollowUpIn.model_json_schema()["oneOf"]
    assert [branch["required"] for branch in one_of] == [["appeal_id"], ["tracking_code"]]
