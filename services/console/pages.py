"""Rendering the console's pages: Jinja2 templates, their words from the gettext catalogues
(`locale/`, Simplified Chinese by default, English on the switch), and the few filters the
templates share (local times, time left)."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "jiban_lang"
ZONE = ZoneInfo("Asia/Shanghai")


def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue for `language` (English is the templates' own words)."""
    if language == "en":
        return gettext.NullTranslations()
    po_path = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES" / "console.po"
    with po_path.open("rb") as po:
        messages = read_po(po, locale=language.replace("-", "_"))
    compiled = BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZONE).strftime(fmt)


def time_left_phrase(left: tuple[int, int, bool], words: Callable[[str], str]) -> str:
    """The time left as the page says it ("2d 3h left", "2d 3h late") from (days, hours, late)."""
    days, hours, late = left
    return words(TIME_LATE if late else TIME_LEFT) % {"d": days, "h": hours}


TIME_LEFT = "%(d)sd %(h)sh left"
TIME_LATE = "%(d)sd %(h)sh late"
CATALOGUES = {language: catalogue(language) for language in LANGUAGES}


def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(CATALOGUES[language], newstyle=True)  # type: ignore[attr-defined]
    env.filters["local_time"] = local_time
    # Data words (statuses, categories…) in long lists: a plain lookup, without the i18n
    # extension's per-call context machinery, which dominates a 1,000-row page's render.
    words = CATALOGUES[language].gettext
    env.filters["word"] = words
    env.filters["time_left"] = lambda left: time_left_phrase(left, words)
    env.globals["language"] = language
    return env


ENVIRONMENTS = {language: _environment(language) for language in LANGUAGES}


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def gettext_for(request: Request) -> Callable[[str], str]:
    """The person's words outside a template (the live notices)."""
    return CATALOGUES[language_of(request)].gettext


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    language = language_of(request)
    page = ENVIRONMENTS[language].get_template(template)
    body = page.render(request=request, **context)
    response = HTMLResponse(body, status_code=status_code)
    if request.query_params.get("lang") == language:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def problem_page(
    request: Request,
    problem: str,
    status_code: int,
    *,
    person: Any = None,
    service: str | None = None,
    detail: str | None = None,
) -> HTMLResponse:
    """A page that says what is wrong (templates/error.html words each `problem`)."""
    context = {"person": person, "problem": problem, "service": service, "detail": detail}
    return render(request, "error.html", context, status_code=status_code)
