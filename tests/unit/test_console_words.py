"""The console's words: every word its templates and data show has a Chinese translation, the
catalogue is what `jiban.catalogues` makes of them (no word dropped or left stale), and the
pages render in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from jiban.catalogues import console_words, po_path
from services.console.pages import catalogue
from services.console.words import HISTORY_KINDS, NOTIFICATION_KINDS
from services.notify.decisions.words import KINDS as NOTIFY_KINDS
from services.tracking.appeals.appeal import ALARM_KIND, kind_of
from services.tracking.appeals.lifecycle import OFFICER_ACTIONS, RequestExtension

REPO = Path(__file__).resolve().parents[2]


def _catalogue() -> dict[str, str]:
    with po_path("zh_CN").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


def test_every_word_of_the_console_has_a_chinese_translation() -> None:
    translated = _catalogue()
    missing = sorted(w for w in console_words() if not translated.get(w))
    assert missing == [], f"add them to the catalogue (jiban.catalogues.update): {missing}"


def test_the_catalogue_holds_no_word_the_console_no_longer_uses() -> None:
    assert set(_catalogue()) - console_words() == set()


def test_compiled_catalogue_translates_and_keeps_placeholders() -> None:
    zh = catalogue("zh-CN")
    assert zh.gettext("Sign in") == "登录"
    assert zh.gettext("accept") == "签收"
    assert "%(d)s" in zh.gettext("%(d)sd %(h)sh left")
    assert catalogue("en").gettext("Sign in") == "Sign in"


def test_the_console_words_every_kind_of_history_line_tracking_writes() -> None:
    """Tracking's history kinds, read off its workflow's source (the console may not import
    tracking; this test may): the literal kinds it notes, its alarms' kinds, its officers'
    steps, and the `_refused` line of each step an event brings."""
    source = (REPO / "services" / "tracking" / "appeals" / "appeal.py").read_text()
    noted = set(re.findall(r'draft\.note\(\s*"([a-z_]+)"', source))
    named = set(re.findall(r'kind="([a-z_]+)"', source))
    paired = set(re.findall(r'at, kind = [^\n]*, "([a-z_]+)"', source))
    # A step an event brings names its kind among the call's first three lines.
    from_events = set(
        re.findall(r'_event_action\(\s*draft,(?:[^"\n]*\n){0,2}[^"\n]*?"([a-z_]+)"', source)
    )
    kinds = (
        noted
        | named
        | paired
        | from_events
        | {f"{kind}_refused" for kind in from_events | paired}
        | set(ALARM_KIND.values())
        | {kind_of(object.__new__(action)) for action in OFFICER_ACTIONS}
        - {kind_of(object.__new__(RequestExtension))}  # noted as extension_requested
    )
    assert len(noted) >= 8 and len(from_events) >= 3, "the patterns no longer find the kinds"
    assert kinds - set(HISTORY_KINDS) == set()


def test_the_console_words_every_kind_of_notification_notify_sends() -> None:
    assert set(NOTIFY_KINDS) == set(NOTIFICATION_KINDS)
