"""Classification: channel codes, then the submitter, then keyword rules, then defaults."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.classification.rules import (
    Classification,
    Rules,
    RulesError,
    classify,
    default_rules,
    load_rules,
)
from services.intake.submissions.form import AppealSubmission
from shared.vocabulary import AppealType, Category, Urgency

RULES = default_rules()


def appeal(content: str, channel: str = "web", **fields: Any) -> AppealSubmission:
    return AppealSubmission.model_validate(
        {"channel": channel, "external_id": "t-1", "content": content, **fields}
    )


def decided(result: Classification) -> tuple[AppealType, Category, Urgency]:
    return result.type, result.category, result.urgency


# --- the shipped rules ------------------------------------------------------------------------


def test_shipped_rules_load_and_have_unique_names() -> None:
    names = [rule.name for rule in RULES.rules]
    assert len(names) == len(set(names)) > 10
    assert RULES.defaults.type is AppealType.CONSULTATION


@pytest.mark.parametrize(
    ("content", "expected", "category_rule"),
    [
        (
            "大旺大道与迎宾大道交界处雨后积水严重，车辆无法通行，请尽快疏通。",
            (AppealType.HELP, Category.DRAINAGE_ROADS, Urgency.NORMAL),
            "rule:waterlogging_roads",
        ),
        (
            "员工宿舍楼停水两天了，一百多人无法洗漱，请协调自来水公司。",
            (AppealType.HELP, Category.UTILITIES, Urgency.URGENT),
            "rule:water_outage",
        ),
        (
            "工业园三号厂房从今早开始停电，生产线全部停了。",
            (AppealType.CONSULTATION, Category.UTILITIES, Urgency.URGENT),
            "rule:power_outage",
        ),
        (
            "新生产线需要报装用电，请问供电容量怎么申请？",
            (AppealType.CONSULTATION, Category.UTILITIES, Urgency.NORMAL),
            "rule:utility_supply",
        ),
        (
            "园区东门仓库着火了，浓烟很大！",
            (AppealType.CONSULTATION, Category.PUBLIC_SAFETY, Urgency.EMERGENCY),
            "rule:fire",
        ),
        (
            "宿舍一楼厨房闻到很浓的燃气味，怀疑燃气泄漏。",
            (AppealType.CONSULTATION, Category.UTILITIES, Urgency.EMERGENCY),
            "rule:gas_leak",
        ),
        (
            "工地脚手架有倒塌风险，威胁工人人身安全。",
            (AppealType.CONSULTATION, Category.PUBLIC_SAFETY, Urgency.EMERGENCY),
            "rule:personal_safety",
        ),
        (
            "我们公司扩产缺工约200人，希望人社局协助招聘。",
            (AppealType.CONSULTATION, Category.EMPLOYMENT, Urgency.NORMAL),
            "rule:employment",
        ),
        (
            "请问员工子女入学需要准备哪些材料？",
            (AppealType.CONSULTATION, Category.EDUCATION, Urgency.NORMAL),
            "rule:education",
        ),
        (
            "举报某厂夜间偷排废水，河涌有异味。",
            (AppealType.REPORT, Category.ENVIRONMENT, Urgency.NORMAL),
            "rule:environment",
        ),
    ],
)
def test_shipped_rules_on_realistic_appeals(
    content: str, expected: tuple[AppealType, Category, Urgency], category_rule: str
) -> None:
    result = classify(appeal(content), RULES)
    assert decided(result) == expected
    assert result.classified_by["category"] == category_rule


def test_nothing_matches_gives_the_defaults() -> None:
    result = classify(appeal("您好。"), RULES)
    assert decided(result) == (AppealType.CONSULTATION, Category.OTHER, Urgency.NORMAL)
    assert result.classified_by == {"type": "default", "category": "default", "urgency": "default"}
    assert result.notes == ()


def test_full_width_and_spaced_text_still_matches() -> None:
    # The keyword is matched on cleaned text: full-width spaces and letters fold.
    assert classify(appeal("宿舍\u3000停水"), RULES).category is Category.UTILITIES
    rules = load_rules("version: 1\nrules:\n  - {name: led, keywords: [LED], category: other}")
    assert classify(appeal("ｌｅｄ路灯不亮"), rules).classified_by["category"] == "rule:led"


# --- channel codes ----------------------------------------------------------------------------


def hotline(content: str, **codes: str) -> AppealSubmission:
    return appeal(content, channel="hotline_12345", channel_codes=codes)


def test_hotline_codes_decide_every_field() -> None:
    result = classify(hotline("路灯不亮", type="03", category="02", urgency="1"), RULES)
    assert decided(result) == (AppealType.COMPLAINT, Category.DRAINAGE_ROADS, Urgency.URGENT)
    assert set(result.classified_by.values()) == {"channel:hotline_12345"}


def test_channel_codes_win_over_the_submitter_and_the_rules() -> None:
    submission = hotline("宿舍停水两天", type="01", category="05")
    submission = submission.model_copy(
        update={"type": AppealType.HELP, "category": Category.HOUSING}
    )
    result = classify(submission, RULES)
    assert (result.type, result.category) == (AppealType.CONSULTATION, Category.EDUCATION)
    # Urgency had no code: the submitter gave none, so the rule decides.
    assert result.classified_by == {
        "type": "channel:hotline_12345",
        "category": "channel:hotline_12345",
        "urgency": "rule:water_outage",
    }


def test_unknown_code_falls_through_and_is_noted() -> None:
    result = classify(hotline("宿舍停水", category="77"), RULES)
    assert result.category is Category.UTILITIES
    assert result.classified_by["category"] == "rule:water_outage"
    assert result.notes == ("hotline_12345 category code '77' is not in the code table",)


def test_codes_of_a_channel_without_a_table_are_ignored() -> None:
    result = classify(appeal("路灯不亮", channel="web", channel_codes={"type": "02"}), RULES)
    assert result.type is AppealType.CONSULTATION
    assert result.classified_by["type"] == "default"
    assert "web type code '02'" in result.notes[0]


# --- the submitter's choices ------------------------------------------------------------------


def test_explicit_fields_win_over_rules() -> None:
    submission = appeal("宿舍停水两天", type="complaint", category="housing", urgency="normal")
    result = classify(submission, RULES)
    assert decided(result) == (AppealType.COMPLAINT, Category.HOUSING, Urgency.NORMAL)
    assert set(result.classified_by.values()) == {"submitter"}


def test_partial_explicit_fields_leave_the_rest_to_rules() -> None:
    result = classify(appeal("宿舍停水两天", category="housing"), RULES)
    assert result.classified_by == {
        "type": "default",
        "category": "submitter",
        "urgency": "rule:water_outage",
    }


# --- escalation -------------------------------------------------------------------------------


def test_emergency_keywords_escalate_over_a_normal_form_and_codes() -> None:
    result = classify(appeal("楼道里燃气泄漏", urgency="normal"), RULES)
    assert result.urgency is Urgency.EMERGENCY
    assert result.classified_by["urgency"] == "rule:gas_leak"
    assert result.notes == ("urgency raised from normal (submitter) to emergency by rule:gas_leak",)

    coded = classify(hotline("厂区起火", urgency="0"), RULES)
    assert coded.urgency is Urgency.EMERGENCY
    assert "(channel:hotline_12345)" in coded.notes[0]


def test_escalation_never_lowers() -> None:
    rules = load_rules(
        """
version: 1
rules:
  - {name: minor, keywords: [漏水], urgency: urgent, escalate: true}
"""
    )
    result = classify(appeal("水管漏水", urgency="emergency"), rules)
    assert result.urgency is Urgency.EMERGENCY
    assert result.classified_by["urgency"] == "submitter"
    assert result.notes == ()


# --- rule order -------------------------------------------------------------------------------

ORDERED = """
version: 1
defaults: {type: help, category: other, urgency: normal}
rules:
  - name: dormitory_water
    keywords: [宿舍停水]
    category: housing
  - name: water
    keywords: [停水]
    exclude: [不停水]
    category: utilities
    urgency: urgent
  - name: complaint
    keywords: [投诉]
    type: complaint
"""


def test_first_matching_rule_wins_per_field() -> None:
    rules = load_rules(ORDERED)
    result = classify(appeal("宿舍停水，投诉物业"), rules)
    # The first rule decides the category; the second still decides the urgency it alone sets.
    assert decided(result) == (AppealType.COMPLAINT, Category.HOUSING, Urgency.URGENT)
    assert result.classified_by == {
        "type": "rule:complaint",
        "category": "rule:dormitory_water",
        "urgency": "rule:water",
    }


def test_reordering_rules_changes_the_answer() -> None:
    lines = ORDERED.splitlines()
    first, second = lines[4:7], lines[7:12]
    swapped = load_rules("\n".join(lines[:4] + second + first + lines[12:]))
    assert classify(appeal("宿舍停水"), swapped).category is Category.UTILITIES


def test_exclude_keywords_stop_a_rule() -> None:
    result = classify(appeal("通知说明天不停水"), load_rules(ORDERED))
    assert result.classified_by["category"] == "default"
    assert result.type is AppealType.HELP  # the file's own defaults


def test_rules_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ORDERED, encoding="utf-8")
    assert [r.name for r in load_rules(path).rules] == ["dormitory_water", "water", "complaint"]


# --- broken rules files -----------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    return caught.value.problems


def test_broken_rules_name_the_rule_index_and_field() -> None:
    found = problems(
        """
version: 1
rules:
  - {name: water, keywords: [停水], category: utilities}
  - {name: fire, keywords: [火灾], urgency: asap}
  - {name: empty, keywords: [], category: other}
  - {name: nothing, keywords: [漏水]}
  - {name: Bad-Name, keywords: [x], type: help}
  - {name: typo, keywords: [x], categroy: other}
"""
    )
    assert found[0].startswith("rules[1] (fire).urgency: Input should be")
    assert found[1].startswith("rules[2] (empty).keywords:")
    assert found[2] == "rules[3] (nothing): a rule sets at least one of type, category, urgency"
    assert found[3].startswith("rules[4] (Bad-Name).name:")
    assert any(p.startswith("rules[5] (typo).categroy: Extra inputs") for p in found)


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(RulesError) as caught:
        load_rules("version: 1\nrules:\n  - {name: a, keywords: [x], urgency: soon}\n")
    assert "rules[0] (a).urgency" in str(caught.value)


def test_duplicate_rule_names_are_rejected() -> None:
    text = "version: 1\nrules:\n" + "  - {name: water, keywords: [停水], category: utilities}\n" * 2
    assert problems(text) == ["rules[1] (water): name already used by rules[0]"]


def test_unquoted_codes_are_rejected_before_they_lose_their_zeros() -> None:
    found = problems(
        "version: 1\nchannel_codes:\n  hotline_12345:\n    category:\n      01: other\n"
    )
    assert found == [
        'channel_codes.hotline_12345.category: code 1 must be quoted ("1"): unquoted, '
        "YAML reads it as a number and leading zeros are lost"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [\n  - {name: a", "not valid YAML: line"),
        ("- just a list", "expected a mapping"),
        ("version: 2\nrules: []", "version: Input should be 1"),
        ("version: 1\nchannel_codes:\n  fax: {}", "channel_codes.fax"),
        ("version: 1\ndefaults: {urgency: whenever}", "defaults.urgency"),
        (
            "version: 1\nrules:\n  - {name: e, keywords: [爆炸], escalate: true, category: other}",
            "rules[0] (e): an escalating rule needs an urgency",
        ),
    ],
)
def test_other_broken_files(text: str, problem: str) -> None:
    assert problem in "\n".join(problems(text))


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_rules_are_immutable() -> None:
    rules: Rules = load_rules(ORDERED)
    with pytest.raises(ValidationError, match="frozen"):
        rules.rules[0].keywords = ("x",)  # type: ignore[misc]
