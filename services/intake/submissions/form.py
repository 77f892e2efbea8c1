"""The unified appeal as channel adapters submit it, and the rules it must satisfy.

Every channel ends here: `POST /v1/appeals` takes this model directly, and the channel mappers
(`services/intake/channels/`) build it from each channel's native payload. Text is cleaned the
same way whatever the channel (`shared/normalize.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shared.normalize import (
    CREDIT_CODE_PATTERN,
    PHONE_PATTERN,
    clean_text,
    normalize_credit_code,
    normalize_identifier,
    normalize_phone,
)
from shared.vocabulary import AppealStatus, AppealType, Category, Channel, Urgency

MAX_CONTENT = 5000
MAX_NAME = 50
MAX_ADDRESS = 300
MAX_COMMUNITY = 100
MAX_EXTERNAL_ID = 128
MAX_ID = 64  # officer, operator, staff, window ids
MAX_CODE = 32  # a channel's own classification codes
MAX_ATTACHMENTS = 10
MAX_URL = 2048
# A submitter's clock may run a little ahead of ours; beyond this, submitted_at is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)


# --- cleaned field types, shared with the channel models ---------------------------------------


def _clean_line(value: Any) -> Any:
    # Non-strings pass through untouched so pydantic reports the type error itself.
    return clean_text(value) if isinstance(value, str) else value


def _clean_multiline(value: Any) -> Any:
    return clean_text(value, multiline=True) if isinstance(value, str) else value


def _clean_identifier(value: Any) -> Any:
    return normalize_identifier(value) if isinstance(value, str) else value


def _blank_to_none(value: Any) -> Any:
    # Forms send "" for a field left empty; an empty name or phone means none was given.
    if isinstance(value, str) and not clean_text(value):
        return None
    return value


# The cleaning each kind of text gets before its length is checked, and, outermost on an
# optional field, blank meaning None.
CLEAN_LINE = BeforeValidator(_clean_line)  # one line
CLEAN_TEXT = BeforeValidator(_clean_multiline)  # keeps its line breaks (content, a letter)
CLEAN_IDENTIFIER = BeforeValidator(_clean_identifier)  # an id or code: NFKC, stripped
BLANK_IS_NONE = BeforeValidator(_blank_to_none)


def required(max_length: int) -> StringConstraints:
    """Not blank (once cleaned), at most `max_length` characters."""
    return StringConstraints(min_length=1, max_length=max_length)


def at_most(max_length: int) -> StringConstraints:
    return StringConstraints(max_length=max_length)


def _schema(pattern: str, description: str, *, blank: bool = False) -> WithJsonSchema:
    """What the published schema says of a checked identifier; `blank` when a blank one
    means none (BLANK_IS_NONE)."""
    text = {"type": "string", "pattern": pattern, "description": description}
    if not blank:
        return WithJsonSchema(text)
    return WithJsonSchema(
        {"anyOf": [text, {"type": "string", "pattern": r"^\s*$"}, {"type": "null"}]}
    )


PHONE_TEXT = (
    "A mainland mobile or a landline with its area code (full-width digits, spaces, brackets "
    "and +86 are read too)"
)
CREDIT_CODE_TEXT = (
    "A unified social credit code (GB 32100-2015), its last character a check character"
)
Phone = Annotated[str, AfterValidator(normalize_phone), _schema(PHONE_PATTERN, PHONE_TEXT)]
OptionalPhone = Annotated[
    Phone | None, BLANK_IS_NONE, _schema(PHONE_PATTERN, PHONE_TEXT, blank=True)
]
CreditCode = Annotated[
    str, AfterValidator(normalize_credit_code), _schema(CREDIT_CODE_PATTERN, CREDIT_CODE_TEXT)
]
OptionalCreditCode = Annotated[
    CreditCode | None, BLANK_IS_NONE, _schema(CREDIT_CODE_PATTERN, CREDIT_CODE_TEXT, blank=True)
]

Content = Annotated[str, CLEAN_TEXT, required(MAX_CONTENT)]
Name = Annotated[Annotated[str, CLEAN_LINE, at_most(MAX_NAME)] | None, BLANK_IS_NONE]
Address = Annotated[Annotated[str, CLEAN_LINE, at_most(MAX_ADDRESS)] | None, BLANK_IS_NONE]
Community = Annotated[Annotated[str, CLEAN_LINE, at_most(MAX_COMMUNITY)] | None, BLANK_IS_NONE]
ExternalId = Annotated[str, CLEAN_IDENTIFIER, required(MAX_EXTERNAL_ID)]
Id = Annotated[str, CLEAN_IDENTIFIER, required(MAX_ID)]
OptionalId = Annotated[Id | None, BLANK_IS_NONE]
Code = Annotated[Annotated[str, CLEAN_IDENTIFIER, required(MAX_CODE)] | None, BLANK_IS_NONE]


# --- time --------------------------------------------------------------------------------------


def check_not_future(
    submitted_at: datetime, now: datetime, max_skew: timedelta = MAX_CLOCK_SKEW
) -> None:
    """ValueError if `submitted_at` lies further than `max_skew` after `now`. The clock is the
    caller's: validators never read one."""
    if now.tzinfo is None or submitted_at.tzinfo is None:
        raise TypeError("compare aware datetimes only")
    if submitted_at - now > max_skew:
        ahead = int((submitted_at - now).total_seconds())
        raise ValueError(
            f"lies {ahead} s in the future (clocks may differ by "
            f"{int(max_skew.total_seconds())} s at most)"
        )


def not_future_in_context(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """Field validator body: checks `value` against `context["now"]` when the caller gave one
    (`Model.model_validate(data, context={"now": now})`); without it, the caller checks later
    with `check_not_future` / `time_errors`."""
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now")
    if value is not None and now is not None:
        check_not_future(value, now, context.get("max_clock_skew", MAX_CLOCK_SKEW))
    return value


# --- the unified model -------------------------------------------------------------------------

_http_url = TypeAdapter(HttpUrl)


def _http_url_string(value: str) -> str:
    # Validated as an http(s) URL but kept a plain string, so it serialises as it came.
    try:
        _http_url.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"not an http(s) URL: {exc.errors()[0]['msg']}") from None
    return value


def _media_type(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


MEDIA_TYPE_PATTERN = r"^(image|audio|video|application|text)/[a-z0-9][a-z0-9.+\-]{0,99}$"
# An http(s) URL as the schema shows it: a plain host name, an optional port and path (the
# validator takes what pydantic's HttpUrl takes, which is more).
_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HTTP_URL_PATTERN = rf"^https?://{_LABEL}(\.{_LABEL})*(:[1-9][0-9]{{0,3}})?(/[A-Za-z0-9._~/-]*)?$"

FileName = Annotated[Annotated[str, CLEAN_LINE, at_most(255)] | None, BLANK_IS_NONE]


class Attachment(BaseModel):
    """A photo, recording or document the appellant attached, stored elsewhere (object store,
    the channel's own server): we keep only where it is."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str,
        CLEAN_IDENTIFIER,
        required(MAX_URL),
        AfterValidator(_http_url_string),
        WithJsonSchema(
            {"type": "string", "format": "uri", "maxLength": MAX_URL, "pattern": HTTP_URL_PATTERN}
        ),
    ]
    media_type: Annotated[
        str,
        BeforeValidator(_media_type),
        StringConstraints(pattern=MEDIA_TYPE_PATTERN),
        # The before-validator hides the pattern from pydantic's schema: say it again.
        WithJsonSchema({"type": "string", "pattern": MEDIA_TYPE_PATTERN}),
    ]
    name: FileName = None


class AppellantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # First, so the validators below can see it.
    anonymous: bool = False
    name: Name = None
    phone: OptionalPhone = None
    enterprise_credit_code: OptionalCreditCode = None
    # An enterprise named without its code: dispatch finds it by the exact registered name.
    enterprise_name: Name = None

    @field_validator("name", "phone", "enterprise_credit_code", "enterprise_name")
    @classmethod
    def _nobody_when_anonymous(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Anonymous means nobody to name and nobody to call back: no follow-up call is possible.
        if value is not None and info.data.get("anonymous"):
            raise ValueError(
                "an anonymous appellant gives no name, phone, credit code or enterprise name "
                "(no follow-up call is possible)"
            )
        return value


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Address = None
    community: Community = None


class ChannelCodes(BaseModel):
    """A channel's own classification codes, as its system sent them (the 12345 hotline's type,
    category and urgency codes). Kept raw: classification maps them (see classification.py)."""

    model_config = ConfigDict(extra="forbid")

    type: Code = None
    category: Code = None
    urgency: Code = None


_bool = TypeAdapter(bool)


class AppealSubmission(BaseModel):
    """`POST /v1/appeals`. (channel, external_id) identifies a submission: sending it again is
    harmless and answers with the appeal it created.

    `anonymous` and `appellant.anonymous` are one flag spelled twice: either sets both.
    `submitted_at` is when the appellant submitted it on the channel (the hotline accepted the
    call, the CSO visited), not when intake received it."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: ExternalId
    anonymous: bool = False
    appellant: AppellantIn = Field(default_factory=AppellantIn)
    content: Content
    location: LocationIn = Field(default_factory=LocationIn)
    category: Category | None = None
    urgency: Urgency | None = None
    type: AppealType | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    submitted_at: AwareDatetime | None = None
    # Who filed it for the appellant: the CSO, the hotline operator, the window's staff member.
    filed_by: OptionalId = None
    channel_codes: ChannelCodes | None = None

    @model_validator(mode="before")
    @classmethod
    def _fold_anonymous(cls, data: Any) -> Any:
        # The top-level flag is copied into the appellant before it is validated, so an
        # anonymous appeal that names somebody fails on that very field.
        if not isinstance(data, dict):
            return data
        try:
            anonymous = _bool.validate_python(data.get("anonymous", False))
        except ValidationError:
            return data  # the field's own validation reports it
        if not anonymous:
            return data
        appellant = data.get("appellant")
        if appellant is None:
            appellant = {}
        elif isinstance(appellant, BaseModel):
            appellant = appellant.model_dump(exclude_unset=True)
        if isinstance(appellant, dict):
            data = {**data, "appellant": {**appellant, "anonymous": True}}
        return data

    @model_validator(mode="after")
    def _mirror_anonymous(self) -> AppealSubmission:
        self.anonymous = self.appellant.anonymous
        return self

    @field_validator("attachments", mode="before")
    @classmethod
    def _no_attachments(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("submitted_at")
    @classmethod
    def _submitted_at(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return not_future_in_context(value, info)


def time_errors(
    submission: AppealSubmission,
    now: datetime,
    *,
    max_skew: timedelta = MAX_CLOCK_SKEW,
    loc_prefix: tuple[str | int, ...] = (),
) -> list[dict[str, Any]]:
    """The submission's time problems as pydantic-style error dicts (empty when none), for a
    caller that validated without a clock: the API raises
    `RequestValidationError(time_errors(s, now, loc_prefix=("body",)))` to answer 422."""
    if submission.submitted_at is None:
        return []
    try:
        check_not_future(submission.submitted_at, now, max_skew)
    except ValueError as exc:
        return [
            {
                "type": "value_error",
                "loc": (*loc_prefix, "submitted_at"),
                "msg": f"Value error, {exc}",
                "input": submission.submitted_at.isoformat(),
                "ctx": {"error": str(exc)},
            }
        ]
    return []


class AppealAccepted(BaseModel):
    appeal_id: UUID
    tracking_code: str
    status: AppealStatus = AppealStatus.RECEIVED
