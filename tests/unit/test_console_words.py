"""The console's words: every word its templates and data show has a Chinese translation, the
catalogue is what `jiban.catalogues` makes of them (no word dropped or left stale), and the
pages render in both languages."""

from __future__ import annotations

from babel.messages.pofile import read_po

from jiban.catalogues import console_words, po_path
from services.console.pages import catalogue


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
