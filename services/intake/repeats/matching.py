"""Duplicate submissions: the same appellant saying the same thing again joins the open appeal.

A new submission joins one of the appellant's appeals when all of these hold:

- same appellant: the same phone number, or the same enterprise (unified social credit code).
  Anonymous submissions (neither) never merge: there is nobody to be "the same" as;
- that appeal is still open and at most 72 hours old (`DEFAULT_WINDOW`), on any channel;
- the contents are similar: character-bigram overlap of the normalised texts >= 0.55
  (`DEFAULT_THRESHOLD`).

The best-scoring such appeal wins, and `DuplicateMatch.reason` says why, in words a supervisor
can check: which appeal, which appellant (phone masked), the score against the threshold, and
the phrases the two texts share.

Pure: no clock (``now`` is a parameter), no database (the caller passes the candidates).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

DEFAULT_WINDOW = timedelta(hours=72)

# Chosen from the table in tests/unit/test_duplicates.py: the same matter told again (on another
# channel, as a short re-statement, full-width or re-punctuated) scores 0.66-1.00; a different
# matter from the same appellant 0.00-0.43, the top being two problems at one place (积水 and
# 坑洼 on 大旺大道 share the road's name and 车辆通行). 0.55 is the middle of that gap. Heavily
# paraphrased re-tellings (few words in common) score like different matters and are not
# merged: a missed merge costs some duplicate work, a wrong merge hides a new problem.
DEFAULT_THRESHOLD = 0.55

# The overlap coefficient divides by the shorter text's bigram count, but never by less than
# this: a two-word message ("停水了", 2 bigrams) contained in a long complaint should not score
# 1.0 on so little evidence. With 8, it takes at least 5 shared bigrams to reach 0.55.
MIN_DENOMINATOR = 8

# Boilerplate of work orders and letters ("市民来电反映…请相关部门尽快处理", "我司…希望协调"):
# present in appeals about anything, so sharing it says nothing about sharing a matter. These
# phrases are cut out and act as boundaries, like punctuation. Longest first (regex alternation).
BOILERPLATE: tuple[str, ...] = (
    "市民来电反映", "来电人反映", "尊敬的市长", "请相关部门", "请有关部门",
    "来电反映", "来信反映", "企业反映", "群众反映", "相关部门", "有关部门", "核实处理",
    "市长您好", "市长你好", "我公司", "本公司", "诉求人",
    "反映", "市民", "来电", "您好", "你好", "谢谢", "恳请", "请尽快", "尽快", "希望", "请求",
    "要求", "处理", "解决", "协调", "问题", "部门", "我司", "我们",
)  # fmt: skip
_BOUNDARY = re.compile("|".join(map(re.escape, sorted(BOILERPLATE, key=len, reverse=True))))

_SHOWN_PHRASES = 5


@dataclass(frozen=True, slots=True)
class OpenAppeal:
    """One of the appellant's recent appeals, as the caller loaded it."""

    appeal_id: UUID
    tracking_code: str
    phone: str | None
    enterprise_credit_code: str | None
    content: str
    received_at: datetime
    open: bool = True


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    appeal_id: UUID
    tracking_code: str
    score: float
    threshold: float
    matched_on: tuple[str, ...]  # "phone", "enterprise_credit_code", or both
    shared_phrases: tuple[str, ...]
    reason: str  # Chinese, for supervisors; stored with the merge
    reason_en: str


def normalise(text: str) -> str:
    """The text as compared: NFKC (full-width letters, digits, punctuation and spaces become
    ASCII), case folded, whitespace dropped, and every run of punctuation or symbols of either
    script (，。！？、；：“”‘’（）【】… and ASCII) turned into one space: a clause boundary."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for char in folded:
        kind = unicodedata.category(char)[0]
        if kind in "LN":
            out.append(char)
        elif kind != "Z" and char not in "\t\n\r\v\f" and out and out[-1] != " ":
            out.append(" ")
    return "".join(out).strip()


def segments(text: str) -> list[str]:
    """The clauses of the normalised text with boilerplate cut out: bigrams never span a
    boundary, so "来水，物业" gives no "水物" and "…部门尽快…" no "门尽"."""
    return [part for chunk in normalise(text).split(" ") for part in _BOUNDARY.split(chunk) if part]


def bigrams(text: str) -> frozenset[str]:
    """Distinct character bigrams of the text's segments. Chinese has no spaces between words
    and most words are two characters, so bigrams stand in for words without a segmenter (and
    without its dictionary deciding what matches)."""
    return frozenset(seg[i : i + 2] for seg in segments(text) for i in range(len(seg) - 1))


def similarity(a: str, b: str) -> float:
    """Overlap coefficient of the bigram sets: shared / size of the smaller set (floored at
    `MIN_DENOMINATOR`), in [0, 1].

    Why not Dice or Jaccard: channels re-tell the same matter at very different lengths (a
    two-line 12345 work order, a long letter to the mayor's line), and those divide by both
    sizes, so a short re-statement wholly inside a long complaint scores low. The overlap
    coefficient asks "how much of the shorter one is in the longer one", which is what a
    re-statement is. Its weakness, tiny texts scoring 1.0, is what the floor is for."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / max(min(len(x), len(y)), MIN_DENOMINATOR)


def find_duplicate(
    phone: str | None,
    credit_code: str | None,
    content: str,
    now: datetime,
    candidates: Iterable[OpenAppeal],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    window: timedelta = DEFAULT_WINDOW,
) -> DuplicateMatch | None:
    """The open appeal this submission duplicates, or None.

    Eligible: same phone or same credit code, open, received at most ``window`` before ``now``
    (a candidate stamped slightly after ``now``, by clock skew, counts as fresh), scoring at least
    ``threshold``. The best score wins; ties go to the earliest appeal (the first receiver leads,
    首接负责制), then to the smaller appeal id, so the answer never depends on the order given.
    """
    my_phone = _phone_key(phone)
    my_code = _code_key(credit_code)
    if my_phone is None and my_code is None:
        return None  # anonymous: never merged

    best: tuple[float, OpenAppeal, tuple[str, ...]] | None = None
    for candidate in candidates:
        matched_on = tuple(
            name
            for name, mine, theirs in (
                ("phone", my_phone, _phone_key(candidate.phone)),
                ("enterprise_credit_code", my_code, _code_key(candidate.enterprise_credit_code)),
            )
            if mine is not None and mine == theirs
        )
        if not matched_on or not candidate.open or now - candidate.received_at > window:
            continue
        score = similarity(content, candidate.content)
        if score < threshold:
            continue
        if best is None or _better(score, candidate, best[0], best[1]):
            best = (score, candidate, matched_on)

    if best is None:
        return None
    score, appeal, matched_on = best
    phrases = shared_phrases(content, appeal.content)
    return DuplicateMatch(
        appeal_id=appeal.appeal_id,
        tracking_code=appeal.tracking_code,
        score=score,
        threshold=threshold,
        matched_on=matched_on,
        shared_phrases=phrases,
        reason=_reason(_ZH, appeal, matched_on, score, threshold, phrases, my_phone, my_code),
        reason_en=_reason(_EN, appeal, matched_on, score, threshold, phrases, my_phone, my_code),
    )


def shared_phrases(new: str, old: str) -> tuple[str, ...]:
    """The runs of the new text made of bigrams the old one also has, longest first: what the
    score counted, readable ("停水已经三天" rather than 停水, 水已, 已经, 经三, 三天)."""
    common = bigrams(new) & bigrams(old)
    runs: list[str] = []
    for seg in segments(new):
        start: int | None = None
        for i in range(len(seg)):
            inside = seg[i : i + 2] in common and i < len(seg) - 1
            if inside and start is None:
                start = i
            elif not inside and start is not None:
                runs.append(seg[start : i + 1])
                start = None
    unique = dict.fromkeys(runs)  # first occurrence order, no repeats
    return tuple(sorted(unique, key=len, reverse=True))


def mask_phone(phone: str) -> str:
    """138****8000: the first three and last four digits, as on Chinese receipts."""
    digits = _phone_key(phone) or ""
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def _better(score: float, appeal: OpenAppeal, best_score: float, best: OpenAppeal) -> bool:
    if score != best_score:
        return score > best_score
    if appeal.received_at != best.received_at:
        return appeal.received_at < best.received_at
    return str(appeal.appeal_id) < str(best.appeal_id)


def _phone_key(phone: str | None) -> str | None:
    # 0758-1234567 and 07581234567 are one number; full-width digits too.
    if not phone:
        return None
    digits = "".join(c for c in unicodedata.normalize("NFKC", phone) if c.isdigit())
    return digits or None


def _code_key(code: str | None) -> str | None:
    if not code:
        return None
    return unicodedata.normalize("NFKC", code).strip().upper() or None


@dataclass(frozen=True, slots=True)
class _Wording:
    """How a reason reads in one language."""

    phone: str
    credit_code: str
    between_who: str
    between_phrases: str
    more_phrases: str
    sentence: str  # with {code}, {who}, {score}, {threshold}, {phrases}


_ZH = _Wording(
    phone="手机 {}",
    credit_code="统一社会信用代码 {}",
    between_who="；",
    between_phrases="",
    more_phrases="…",
    sentence="与 {code} 同一诉求人（{who}），"
    "内容相似度 {score:.2f} ≥ {threshold:.2f}（共有{phrases}）",
)
_EN = _Wording(
    phone="phone {}",
    credit_code="credit code {}",
    between_who="; ",
    between_phrases=", ",
    more_phrases=", …",
    sentence="same appellant as {code} ({who}), "
    "content similarity {score:.2f} >= {threshold:.2f} (shared: {phrases})",
)


def _reason(
    wording: _Wording,
    appeal: OpenAppeal,
    matched_on: tuple[str, ...],
    score: float,
    threshold: float,
    phrases: tuple[str, ...],
    phone: str | None,
    code: str | None,
) -> str:
    who = []
    if "phone" in matched_on and phone:
        who.append(wording.phone.format(mask_phone(phone)))
    if "enterprise_credit_code" in matched_on and code:
        # A credit code is public (国家企业信用信息公示系统); it is not masked.
        who.append(wording.credit_code.format(code))
    quoted = wording.between_phrases.join(f"“{p}”" for p in phrases[:_SHOWN_PHRASES])
    more = wording.more_phrases if len(phrases) > _SHOWN_PHRASES else ""
    return wording.sentence.format(
        code=appeal.tracking_code,
        who=wording.between_who.join(who),
        score=score,
        threshold=threshold,
        phrases=quoted + more,
    )
