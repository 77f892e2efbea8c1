"""`jiban catalogues`: the console's words, extracted from its templates and its data words
(services/console/words.py), merged into each catalogue (`locale/<lang>/LC_MESSAGES/console.po`):
new words are added untranslated, words no longer used are dropped, translations kept."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from services.console.words import data_words

CONSOLE = Path(__file__).resolve().parent.parent / "services" / "console"
LANGUAGES = ("zh_CN",)


def console_words() -> set[str]:
    words = set(data_words())
    for template in sorted((CONSOLE / "templates").glob("*.html")):
        with template.open("rb") as source:
            for _line, _func, message, _comments in babel_extract(
                source, ("_", "gettext"), [], {"extensions": "jinja2.ext.i18n"}
            ):
                if isinstance(message, str):
                    words.add(message)
                elif message and isinstance(message[0], str):
                    words.add(message[0])
    return words


def po_path(language: str) -> Path:
    return CONSOLE / "locale" / language / "LC_MESSAGES" / "console.po"


def update(language: str, translations: dict[str, str] | None = None) -> list[str]:
    """Merges the words into the catalogue; returns those still without a translation."""
    path = po_path(language)
    old: dict[str, str] = {}
    if path.exists():
        with path.open("rb") as po:
            old = {str(m.id): str(m.string) for m in read_po(po) if m.id and m.string}
    old.update(translations or {})
    catalog = Catalog(locale=language, project="jiban-console", domain="console", fuzzy=False)
    missing = []
    for word in sorted(console_words()):
        catalog.add(word, old.get(word, ""))
        if not old.get(word):
            missing.append(word)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, omit_header=False, sort_output=True, width=100)
    return missing
