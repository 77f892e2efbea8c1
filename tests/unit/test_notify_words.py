"""The words (services/notify/decisions/words.py and its templates), tested with the contexts
the rules make: every sample context below comes from rules.decide on a real event."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from notify_samples import (
    APPEAL_ID,
    CODE,
    FOLLOW_UP_EVENT_ID,
    NOW,
    OFFICER,
    REFUSED_BECAUSE,
    deadline,
    extension_cancelled,
    follow_up_refused,
    status,
)

from services.notify.appeals.facts import AppealFacts
from services.notify.decisions.rules import decide
from services.notify.decisions.words import (
    CALLBACKS,
    DEFAULT_LANGUAGE,
    KINDS,
    LANGUAGES,
    MEDIA,
    MEDIA_WITH_WORDS,
    SMS_SEGMENT,
    TEMPLATES_DIR,
    FollowUpRefusedCallback,
    Message,
    MissingWords,
    StatusCallback,
    environment,
    render,
)
from shared.events import (
    AcknowledgementReminder,
    AppealAssigned,
    AppealEscalated,
    AppealReassigned,
    AppealReceived,
    Appellant,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FiveOnesReminder,
    PublicNoticeIssued,
    ReturnRequested,
)
from shared.vocabulary import AppealStatus, Channel, Urgency

PHONE = "13812345678"
MASKED_PHONE = "138****5678"
NAME = "欧阳娜娜"  # a four-character name: longer than most, for the SMS budget

FACTS = AppealFacts(
    appeal_id=APPEAL_ID,
    tracking_code=CODE,
    channel=Channel.WEB.value,
    external_id="W-0001",
    appellant_name=NAME,
    appellant_phone=PHONE,
    urgency=Urgency.URGENT.value,  # the longest assignment words: 【紧急】
    officer_id=OFFICER,
    enterprise_credit_code="91441200MA4W3XYZ5K",
)
HOTLINE = replace(FACTS, channel=Channel.HOTLINE_12345.value)
ANONYMOUS = replace(FACTS, anonymous=True, appellant_name=None, appellant_phone=None)


def _assigned(reason_code: str) -> AppealAssigned:
    return AppealAssigned(
        appeal_id=APPEAL_ID,
        officer_id=OFFICER,
        reason_code=reason_code,
        reason="居民诉求，所在社区 大旺社区，由负荷最低的社区工作人员承办",
        assigned_at=NOW,
        tracking_code=CODE,
    )


def _decided(decision: str, note: str) -> ExtensionDecided:
    return ExtensionDecided(
        appeal_id=APPEAL_ID,
        extension_id=7,
        officer_id=OFFICER,
        decision=decision,
        decided_by="sup-dw-1",
        note=note,
        previous_due_at=NOW,
        due_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        decided_at=NOW,
    )


# (label, event, what notify knows): every branch of the words is reached by one of them.
EVENTS: list[tuple[str, Event, AppealFacts | None]] = [
    (
        "received",
        AppealReceived(
            appeal_id=APPEAL_ID,
            tracking_code=CODE,
            channel=Channel.HOTLINE_12345,
            external_id="GD-0001",
            appellant=Appellant(name=NAME, phone=PHONE),
            content="宿舍楼停水两天，请协调供水。",
            received_at=NOW,
        ),
        None,
    ),
    ("assigned", _assigned("community"), FACTS),
    ("assigned_anonymous", _assigned("community"), ANONYMOUS),
    ("triage", _assigned("triage"), FACTS),
    (
        "reassigned",
        AppealReassigned(
            appeal_id=APPEAL_ID,
            from_officer_id="cw-dw01-2",
            officer_id=OFFICER,
            reason_code="community",
            reason="退单获批，转本社区",
            cause="return",
            reassigned_at=NOW,
            tracking_code=CODE,
        ),
        FACTS,
    ),
    ("accepted", status(AppealStatus.ACCEPTED), FACTS),
    ("resolved", status(AppealStatus.RESOLVED, note="已协调供水公司抢修，今日恢复供水。"), FACTS),
    ("resolved_hotline", status(AppealStatus.RESOLVED), HOTLINE),
    ("closed", status(AppealStatus.CLOSED, closed_reason="resolved"), FACTS),
    ("closed_no_feedback", status(AppealStatus.CLOSED, closed_reason="no_feedback"), FACTS),
    ("reopened", status(AppealStatus.REOPENED, note="诉求人反映仍未恢复供水"), FACTS),
    (
        "escalated",
        AppealEscalated(
            appeal_id=APPEAL_ID,
            officer_id=OFFICER,
            supervisor_id="sup-dw-1",
            unit="大旺社区",
            reason="reopened_again",
            reopen_count=2,
            escalated_at=NOW,
        ),
        FACTS,
    ),
    (
        "extension_requested",
        ExtensionRequested(
            appeal_id=APPEAL_ID,
            extension_id=7,
            officer_id=OFFICER,
            stage="resolve",
            working_days=3,
            reason="需协调供水公司更换主管道",
            due_at=NOW,
            requested_at=NOW,
        ),
        FACTS,
    ),
    ("extension_granted", _decided("grant", "同意延期"), FACTS),
    ("extension_refused", _decided("refuse", "理由不充分"), FACTS),
    ("extension_cancelled_resolved", extension_cancelled("resolved"), FACTS),
    ("extension_cancelled_reassigned", extension_cancelled("reassigned"), FACTS),
    ("extension_cancelled_closed", extension_cancelled("closed"), FACTS),
    ("follow_up_refused", follow_up_refused(), HOTLINE),
    ("follow_up_refused_elsewhere", follow_up_refused(Channel.WEB), HOTLINE),
    (
        "return_requested",
        ReturnRequested(
            appeal_id=APPEAL_ID,
            officer_id=OFFICER,
            reason_code="not_my_area",
            reason="不属本社区辖区",
        ),
        FACTS,
    ),
    (
        "acknowledgement_reminder",
        deadline(AcknowledgementReminder, "resolve", reminder_number=2),
        FACTS,
    ),
    ("deadline_warning", deadline(DeadlineWarning, "resolve"), FACTS),
    ("deadline_overdue", deadline(DeadlineOverdue, "resolve"), FACTS),
    ("public_notice", deadline(PublicNoticeIssued, "resolve", overdue_working_days=3), FACTS),
    (
        "five_ones",
        FiveOnesReminder(
            officer_id="cso-dw-3",
            month="2026-11",
            uncontacted_credit_codes=["91441200MA4W3XYZ5K", "91441200MA4W3XYZ6L"],
            enterprises_total=12,
            problems_solved=3,
            month_ends_on=date(2026, 11, 30),
        ),
        None,
    ),
]


def _samples() -> list[tuple[str, str, dict[str, Any]]]:
    samples: list[tuple[str, str, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for label, event, appeal in EVENTS:
        for intent in decide(event, appeal):
            # The callback is the same words for every status: two samples are enough.
            if intent.kind == "status_callback" and label not in ("received", "closed"):
                continue
            if (label, intent.kind) not in seen:
                seen.add((label, intent.kind))
                samples.append((f"{label}/{intent.kind}", intent.kind, intent.context))
    return samples


SAMPLES = _samples()
CASES = [
    pytest.param(kind, medium, language, context, id=f"{sample_id}/{medium}/{language}")
    for sample_id, kind, context in SAMPLES
    for medium in MEDIA[kind]
    for language in LANGUAGES
]
ZH_SMS = [
    pytest.param(kind, context, id=sample_id)
    for sample_id, kind, context in SAMPLES
    if "sms" in MEDIA[kind]
]
PREFIX = {"zh-CN": "【即办】", "en": "[Jiban] "}
# A key each kind cannot be said without.
ESSENTIAL = {kind: "tracking_code" for kind in KINDS} | {"five_ones_reminder": "month"}


def sample(sample_id: str) -> dict[str, Any]:
    return next(context for label, _, context in SAMPLES if label == sample_id)


def words(message: Message) -> str:
    return f"{message.subject or ''}\n{message.body}"


# --- coverage: every kind, medium and language ---------------------------------------------


def test_the_samples_reach_every_kind() -> None:
    assert {kind for _, kind, _ in SAMPLES} == KINDS


def test_the_templates_on_disk_are_exactly_the_words_announced() -> None:
    expected = {f"{kind}.{medium}.j2" for kind in KINDS for medium in MEDIA[kind]}
    assert {medium for media in MEDIA.values() for medium in media} <= set(MEDIA_WITH_WORDS)
    for language in LANGUAGES:
        files = {p.name for p in (TEMPLATES_DIR / language).glob("*.j2")}
        assert {f for f in files if not f.startswith("_")} == expected, language


def test_callbacks_are_webhook_only_and_the_rest_are_for_people() -> None:
    assert set(CALLBACKS) == {"status_callback", "follow_up_refused"}
    assert all(MEDIA[kind] == ("webhook",) for kind in CALLBACKS)
    assert all(MEDIA[kind] == ("sms", "email") for kind in KINDS - set(CALLBACKS))


@pytest.mark.parametrize(("kind", "medium", "language", "context"), CASES)
def test_every_kind_medium_and_language_renders(
    kind: str, medium: str, language: str, context: dict[str, Any]
) -> None:
    message = render(kind, medium, context, language=language, reveal_appellant=True)
    text = words(message)
    assert "None" not in text and "{{" not in text and "{%" not in text
    if context.get("tracking_code"):
        assert context["tracking_code"] in message.body
    if medium == "sms":
        assert message.subject is None
        assert message.body.startswith(PREFIX[language])
        assert "\n" not in message.body
    elif medium == "email":
        assert message.subject is not None
        assert message.subject.startswith(PREFIX[language].strip())
        assert "\n" not in message.subject
        if context.get("tracking_code"):
            assert context["tracking_code"] in message.subject
        assert message.body.count("\n\n") >= 2  # greeting, words, footer
    else:
        assert message.subject is None
        assert json.loads(message.body)["type"] == CALLBACKS[kind].model_fields["type"].default


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _without_values(text: str, context: dict[str, Any]) -> str:
    """The words themselves: every value of the context (and its mask) taken out."""
    values = [v for v in context.values() if isinstance(v, str)] + ["欧***", MASKED_PHONE]
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "").replace(value.rstrip("。"), "")
    return text


@pytest.mark.parametrize(("kind", "medium", "language", "context"), CASES)
def test_english_differs_from_chinese(
    kind: str, medium: str, language: str, context: dict[str, Any]
) -> None:
    other = "en" if language == "zh-CN" else "zh-CN"
    mine = render(kind, medium, context, language=language, reveal_appellant=False)
    theirs = render(kind, medium, context, language=other, reveal_appellant=False)
    assert mine.body != theirs.body
    text = words(mine) if medium != "webhook" else json.loads(mine.body)["text"]
    # English words hold no Chinese of their own (values, like a note, may be Chinese).
    has_chinese = CJK.search(_without_values(text, context)) is not None
    assert has_chinese == (language == "zh-CN")


def test_default_language_is_simplified_chinese() -> None:
    assert DEFAULT_LANGUAGE == "zh-CN"
    context = sample("accepted/appeal_accepted")
    assert render("appeal_accepted", "sms", context, reveal_appellant=True) == render(
        "appeal_accepted", "sms", context, language="zh-CN", reveal_appellant=True
    )


def test_record_uses_the_sms_words_and_the_callback_document() -> None:
    context = sample("assigned/new_assignment")
    assert render("new_assignment", "record", context, reveal_appellant=False) == render(
        "new_assignment", "sms", context, reveal_appellant=False
    )
    for kind, callback in (
        ("status_callback", sample("received/status_callback")),
        ("follow_up_refused", sample("follow_up_refused/follow_up_refused")),
    ):
        assert render(kind, "record", callback, reveal_appellant=False) == render(
            kind, "webhook", callback, reveal_appellant=False
        )


# --- one SMS segment ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "context"), ZH_SMS)
def test_chinese_sms_fits_one_segment_with_typical_values(
    kind: str, context: dict[str, Any]
) -> None:
    # Typical values: the real 20-character tracking code, a four-character name, an urgent
    # appeal, and notes and reasons as short as officers usually write them. Those four kinds
    # (appeal_resolved, appeal_reopened, extension_decided, return_requested) carry what
    # people wrote and run longer when it is long; see the next test.
    for reveal in (True, False):
        body = render(kind, "sms", context, language="zh-CN", reveal_appellant=reveal).body
        assert len(body) <= SMS_SEGMENT, (len(body), body)


def test_a_long_note_is_sent_whole_over_more_than_one_segment() -> None:
    note = (
        "已协调供水公司对宿舍楼主管道进行抢修更换，今日18时恢复供水，"
        "并安排专人每日巡查水压，后续如再出现停水请直接联系社区网格员。"
    )
    context = sample("resolved/appeal_resolved") | {"note": note}
    body = render("appeal_resolved", "sms", context, reveal_appellant=True).body
    assert len(body) > SMS_SEGMENT
    assert note.rstrip("。") in body
    assert not body.endswith("。。")


# --- strictness --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "medium", "language", "context"), CASES)
def test_a_missing_value_raises_missing_words(
    kind: str, medium: str, language: str, context: dict[str, Any]
) -> None:
    key = ESSENTIAL[kind]
    lacking = {k: v for k, v in context.items() if k != key}
    with pytest.raises(MissingWords, match=key):
        render(kind, medium, lacking, language=language, reveal_appellant=True)


@pytest.mark.parametrize(("kind", "medium", "language", "context"), CASES)
def test_none_where_the_words_need_a_value_raises_missing_words(
    kind: str, medium: str, language: str, context: dict[str, Any]
) -> None:
    key = ESSENTIAL[kind]
    holed = context | {key: None}
    if kind in CALLBACKS:
        # A callback sends what it knows: a tracking code may be null there.
        message = render(kind, medium, holed, language=language, reveal_appellant=True)
        assert json.loads(message.body)["tracking_code"] is None
        return
    with pytest.raises(MissingWords, match=key):
        render(kind, medium, holed, language=language, reveal_appellant=True)


def test_the_error_names_only_the_value_printed_not_the_optional_ones() -> None:
    context = sample("reopened/appeal_reopened") | {"note": None, "tracking_code": None}
    with pytest.raises(MissingWords) as raised:
        render("appeal_reopened", "sms", context, reveal_appellant=True)
    assert "tracking_code" in str(raised.value)
    assert "note" not in str(raised.value)


@pytest.mark.parametrize(
    ("kind", "key", "absent"),
    [
        ("appeal_resolved", "note", "办理情况："),
        ("appeal_reopened", "note", "原因："),
        ("extension_decided", "note", "意见："),
        ("new_assignment", "appellant_phone", "请及时联系"),
    ],
)
def test_an_optional_value_may_be_none(kind: str, key: str, absent: str) -> None:
    context = next(c for _, k, c in SAMPLES if k == kind) | {key: None}
    for medium in MEDIA[kind]:
        body = render(kind, medium, context, reveal_appellant=True).body
        assert "None" not in body
        assert absent not in body


@pytest.mark.parametrize(
    ("kind", "medium", "language"),
    [
        ("no_such_kind", "sms", "zh-CN"),
        ("new_assignment", "fax", "zh-CN"),
        ("new_assignment", "sms", "fr"),
        ("new_assignment", "webhook", "zh-CN"),
        ("status_callback", "sms", "zh-CN"),
        ("status_callback", "email", "en"),
        ("follow_up_refused", "sms", "en"),
    ],
)
def test_no_words_raises_missing_words(kind: str, medium: str, language: str) -> None:
    context = sample("assigned/new_assignment")
    with pytest.raises(MissingWords):
        render(kind, medium, context, language=language, reveal_appellant=True)
    assert issubclass(MissingWords, LookupError)


def test_a_callback_with_an_unknown_status_is_refused() -> None:
    context = sample("received/status_callback") | {"status": "lost"}
    with pytest.raises(MissingWords, match="status"):
        render("status_callback", "webhook", context, reveal_appellant=False)


# --- masking -----------------------------------------------------------------------------------

MENTIONS_APPELLANT = [
    pytest.param(kind, medium, language, context, id=f"{sample_id}/{medium}/{language}")
    for sample_id, kind, context in SAMPLES
    if context.get("appellant_phone") or context.get("appellant_name")
    for medium in MEDIA[kind]
    for language in LANGUAGES
]


@pytest.mark.parametrize(("kind", "medium", "language", "context"), MENTIONS_APPELLANT)
def test_masked_words_never_show_the_full_phone_or_name(
    kind: str, medium: str, language: str, context: dict[str, Any]
) -> None:
    masked = words(render(kind, medium, context, language=language, reveal_appellant=False))
    assert PHONE not in masked
    assert NAME not in masked
    revealed = words(render(kind, medium, context, language=language, reveal_appellant=True))
    if PHONE in revealed:
        assert MASKED_PHONE in masked
    if NAME in revealed:
        assert "欧***" in masked


def test_the_words_for_the_people_who_call_back_or_watch_mention_the_appellant() -> None:
    shown = {
        kind
        for _, kind, context in SAMPLES
        for medium in MEDIA[kind]
        if PHONE in render(kind, medium, context, reveal_appellant=True).body
    }
    assert {
        "new_assignment",
        "appeal_reopened",
        "triage",
        "escalation",
        "return_requested",
        "public_notice",
        "cso_copy",
    } <= shown


def test_new_assignment_sms_masked_and_revealed() -> None:
    context = sample("assigned/new_assignment")
    masked = render("new_assignment", "sms", context, reveal_appellant=False).body
    assert MASKED_PHONE in masked and PHONE not in masked
    revealed = render("new_assignment", "sms", context, reveal_appellant=True).body
    assert PHONE in revealed and NAME in revealed
    # The caller's context is not changed by masking.
    assert context["appellant_phone"] == PHONE


def test_anonymous_assignment_says_so_instead_of_a_phone() -> None:
    context = sample("assigned_anonymous/new_assignment")
    body = render("new_assignment", "sms", context, reveal_appellant=True).body
    assert "匿名" in body and "电话" not in body


def test_an_appellant_without_a_phone_is_not_called_anonymous() -> None:
    context = sample("assigned/new_assignment") | {"appellant_phone": None}
    body = render("new_assignment", "sms", context, reveal_appellant=True).body
    assert "匿名" not in body and NAME in body and "未留电话" in body


def test_the_appellant_is_greeted_by_name() -> None:
    context = sample("accepted/appeal_accepted")
    assert NAME in render("appeal_accepted", "sms", context, reveal_appellant=True).body
    email = render("appeal_accepted", "email", context, reveal_appellant=True).body
    assert email.startswith(f"尊敬的{NAME}：")


# --- what the words say ------------------------------------------------------------------------


def test_deadlines_are_shown_in_local_time() -> None:
    context = sample("deadline_warning/deadline_warning")
    zh = render("deadline_warning", "sms", context, reveal_appellant=False).body
    en = render("deadline_warning", "sms", context, language="en", reveal_appellant=False).body
    assert "11月27日17:00" in zh and "办结" in zh
    assert "27 Nov 17:00" in en and "resolution" in en


def test_follow_up_request_says_who_calls_back_or_how_to_answer() -> None:
    context = sample("resolved_hotline/follow_up_request")
    hotline = render("follow_up_request", "sms", context, reveal_appellant=True).body
    assert "12345" in hotline and "回访" in hotline and "回复" not in hotline
    other = render(
        "follow_up_request", "sms", sample("resolved/follow_up_request"), reveal_appellant=True
    ).body
    assert "12345" not in other and "回复" in other and "查询码" in other
    for body in (hotline, other):
        assert "是否联系" in body and "是否解决" in body and "满意" in body


@pytest.mark.parametrize(
    ("sample_id", "phrase"),
    [
        ("closed/appeal_closed", "感谢"),
        ("closed_no_feedback/appeal_closed", "未收到评价"),
        ("extension_granted/extension_decided", "12月2日17:00"),
        ("extension_refused/extension_decided", "未获批准"),
        ("reassigned/new_assignment", "转派"),
        ("assigned/new_assignment", "【紧急】"),
        ("five_ones/five_ones_reminder", "2家"),
        ("public_notice/public_notice", "3个工作日"),
        ("extension_cancelled_resolved/extension_cancelled", "诉求已办结"),
        ("extension_cancelled_closed/extension_cancelled", "诉求已结案"),
        ("extension_cancelled_reassigned/extension_cancelled", "无需审批"),
        ("extension_cancelled_reassigned/extension_lapsed", "诉求已改派"),
    ],
)
def test_the_branches_say_what_happened(sample_id: str, phrase: str) -> None:
    kind = sample_id.split("/")[1]
    assert phrase in render(kind, "sms", sample(sample_id), reveal_appellant=True).body


# --- the webhook -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("sample_id", "model", "documented"),
    [
        (
            "closed/status_callback",
            StatusCallback,
            {
                "type": "jiban.appeal.status",
                "channel": "web",
                "external_id": "W-0001",
                "appeal_id": str(APPEAL_ID),
                "tracking_code": CODE,
                "status": "closed",
                "closed_reason": "resolved",
                "note": None,
            },
        ),
        (
            "follow_up_refused/follow_up_refused",
            FollowUpRefusedCallback,
            {
                "type": "jiban.follow_up.refused",
                "channel": "hotline_12345",
                "external_id": "W-0001",  # the hotline submitted it: its own id
                "appeal_id": str(APPEAL_ID),
                "tracking_code": CODE,
                "follow_up_event_id": str(FOLLOW_UP_EVENT_ID),
                "status": "closed",
                "reason": REFUSED_BECAUSE,
            },
        ),
    ],
    ids=["status", "follow_up_refused"],
)
def test_each_callback_body_is_its_documented_json(
    sample_id: str, model: type[Any], documented: dict[str, Any], language: str
) -> None:
    kind = sample_id.split("/")[1]
    body = render(
        kind, "webhook", sample(sample_id), language=language, reveal_appellant=False
    ).body
    document = json.loads(body)
    # Exactly the documented fields (the delivery id travels in a header, not here).
    assert set(document) == set(documented) | {"occurred_at", "text"} == set(model.model_fields)
    assert {name: document[name] for name in documented} == documented
    assert datetime.fromisoformat(document["occurred_at"]) == NOW
    assert CODE in document["text"]
    assert {"zh-CN": "已结案", "en": "closed"}[language] in document["text"]
    assert body == json.dumps(document, ensure_ascii=False, sort_keys=True)


def test_a_refused_follow_up_from_another_channel_carries_no_external_id() -> None:
    context = sample("follow_up_refused_elsewhere/follow_up_refused")
    body = render("follow_up_refused", "webhook", context, reveal_appellant=False).body
    document = json.loads(body)
    assert (document["channel"], document["external_id"]) == ("web", None)


def test_webhook_language_changes_only_the_text() -> None:
    context = sample("received/status_callback")
    zh = json.loads(render("status_callback", "webhook", context, reveal_appellant=False).body)
    en = json.loads(
        render("status_callback", "webhook", context, language="en", reveal_appellant=False).body
    )
    assert zh.pop("text") != en.pop("text")
    assert zh == en


def test_webhook_escapes_what_people_wrote() -> None:
    note = '他说："水还是没来"\n请再查\\一下 </script>'
    context = sample("closed/status_callback") | {"note": note}
    body = render("status_callback", "webhook", context, reveal_appellant=False).body
    assert json.loads(body)["note"] == note
    assert "他说" in body  # not \u-escaped: readable as sent


# --- the environment -----------------------------------------------------------------------------


def test_one_environment_with_cached_templates() -> None:
    assert environment() is environment()
    first = environment().get_template("zh-CN/new_assignment.sms.j2")
    assert environment().get_template("zh-CN/new_assignment.sms.j2") is first
