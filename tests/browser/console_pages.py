"""Helpers for the browser tests: the system Chromium, screenshots kept as test artefacts, axe-core
accessibility checks, the keyboard (`tab_to`), and the services, the console among them, as
processes.

    async def test_x(page, console_stack):
        appeal = await submit_assigned_appeal(console_stack)
        await page.goto(console_stack.url("console") + "/…")
        await shot(page, "queue")
        await assert_accessible(page)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from factories import submission
from harness import bearer, dev_token, eventually
from playwright.async_api import Locator, Page
from stack import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# --- the browser -------------------------------------------------------------------------------

# Debian's Chromium (no browser is ever downloaded here), as CI installs it.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
CHROMIUM_DEFAULT_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
LOCALE = "zh-CN"
VIEWPORT = {"width": 1280, "height": 900}
# When set to 1 (CI sets it), a missing browser fails the browser tests instead of skipping them.
REQUIRE_BROWSER = "JIBAN_REQUIRE_BROWSER"


def find_chromium() -> str | None:
    """The system Chromium's executable, or None when this machine has none."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if CHROMIUM_DEFAULT_PATH.is_file() and os.access(CHROMIUM_DEFAULT_PATH, os.X_OK):
        return str(CHROMIUM_DEFAULT_PATH)
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER) == "1"


def chromium_or_skip() -> str:
    """The system Chromium; without one the calling test is skipped, saying why, or fails under
    JIBAN_REQUIRE_BROWSER=1 (as CI runs)."""
    found = find_chromium()
    if found is not None:
        return found
    why = "no Chromium on this machine (looked for `chromium` on PATH and /usr/bin/chromium)"
    if browser_required():
        pytest.fail(
            f"{why}, and {REQUIRE_BROWSER}=1 requires the browser tests to run", pytrace=False
        )
    pytest.skip(f"{why}; install Debian's chromium package to run the browser tests")


# --- screenshots -------------------------------------------------------------------------------

# Each page the fixtures open, with the directory of the test that opened it.
_artifact_dirs: weakref.WeakKeyDictionary[Page, Path] = weakref.WeakKeyDictionary()


def sanitised(nodeid: str) -> str:
    """A test's node id as one directory name: `tests/browser/test_x.py::test_y[chromium]` →
    `test_x-test_y-chromium`."""
    nodeid = nodeid.split(" (")[0]  # PYTEST_CURRENT_TEST ends with " (call)" and the like
    nodeid = nodeid.removeprefix("tests/browser/").replace(".py::", "::")
    return re.sub(r"[^A-Za-z0-9_.]+", "-", nodeid).strip("-.") or "test"


def artifact_dir_for(nodeid: str) -> Path:
    return SCREENSHOTS / sanitised(nodeid)


def register_page(page: Page, nodeid: str) -> Path:
    """Remembers which test `page` belongs to (the fixtures do it for the pages they open)."""
    directory = artifact_dir_for(nodeid)
    _artifact_dirs[page] = directory
    return directory


def artifact_dir(page: Page) -> Path:
    directory = _artifact_dirs.get(page)
    if directory is None:  # a page the test opened itself: the test pytest is running now
        directory = artifact_dir_for(os.environ.get("PYTEST_CURRENT_TEST", "unknown"))
    return directory


def _file_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.removesuffix(".png")).strip("-.")
    return (stem or "screenshot") + ".png"


async def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Saves a screenshot of `page` as test-artifacts/screenshots/<test>/<name>.png; returns
    its path."""
    path = artifact_dir(page) / _file_name(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=full_page)
    return path


# --- accessibility -----------------------------------------------------------------------------

FAILING_IMPACTS = ("serious", "critical")
_axe = Axe()


def violations_report(violations: Iterable[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v.get('help', '')}  <{v.get('helpUrl')}>")
        for node in v.get("nodes", []):
            target = " ".join(str(t) for t in node.get("target", []))
            html = " ".join(str(node.get("html", "")).split())
            lines.append(f"    at {target}: {html[:200]}")
            summary = str(node.get("failureSummary") or "").strip()
            for line in summary.splitlines():
                lines.append(f"      {line.strip()}")
    return "\n".join(lines)


async def axe_violations(
    page: Page,
    *,
    context: str | list[Any] | dict[str, Any] | None = None,
    impacts: Iterable[str] = FAILING_IMPACTS,
) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, those of the given impacts."""
    results = await _axe.run(page, context=context)
    wanted = set(impacts)
    return [v for v in results.response["violations"] if v.get("impact") in wanted]


async def assert_accessible(
    page: Page,
    *,
    context: str | list[Any] | dict[str, Any] | None = None,
    impacts: Iterable[str] = FAILING_IMPACTS,
) -> None:
    """Fails, listing them, if axe-core finds violations of a serious or critical impact on the
    page (or in `context`, a CSS selector or an axe context). The violations are also kept as
    axe-<n>.json beside the test's screenshots."""
    found = await axe_violations(page, context=context, impacts=impacts)
    if not found:
        return
    directory = artifact_dir(page)
    directory.mkdir(parents=True, exist_ok=True)
    n = len(list(directory.glob("axe-*.json"))) + 1
    (directory / f"axe-{n}.json").write_text(json.dumps(found, ensure_ascii=False, indent=2))
    raise AssertionError(
        f"{len(found)} accessibility violation(s) of impact {'/'.join(impacts)} "
        f"on {page.url}:\n{violations_report(found)}"
    )


# --- the services ------------------------------------------------------------------------------

CONSOLE = "console"
CONSOLE_MAIN = REPO_ROOT / "services" / CONSOLE / "__main__.py"


def console_exists() -> bool:
    return CONSOLE_MAIN.exists()


@dataclass
class ConsoleStack:
    """The pipeline's four services as processes (`pipeline`, the e2e `stack` fixture's Stack)
    and the console (`console`, a Stack of its own whose settings point it at the others; None
    while services/console does not exist yet)."""

    pipeline: Stack
    console: Stack | None

    def _stack_of(self, name: str) -> Stack:
        if name in self.pipeline.instances:
            return self.pipeline
        if self.console is not None and name in self.console.instances:
            return self.console
        raise KeyError(f"no service {name!r} in this stack (running: {self.names()})")

    def names(self) -> list[str]:
        return [*self.pipeline.instances, *(self.console.instances if self.console else ())]

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port> of "intake", "dispatch", "tracking", "notify" or "console"."""
        return self._stack_of(name).url(name)

    def log(self, name: str) -> str:
        return self._stack_of(name).log(name)

    def full_log(self, name: str) -> str:
        return self._stack_of(name).full_log(name)

    @property
    def has_console(self) -> bool:
        return self.console is not None


async def submit_assigned_appeal(
    console_stack: ConsoleStack, *, timeout_s: float = 60, **overrides: Any
) -> dict[str, Any]:
    """Submits one appeal to intake (tests/factories.py `submission(**overrides)`), waits until
    tracking has it "assigned", and returns tracking's view of it (appeal_id, tracking_code,
    officer_id, …) with `officer_name` (dispatch's directory) and `submission` (the body sent)."""
    body = submission(**overrides)
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        response = await http.post(console_stack.url("intake") + "/v1/appeals", json=body)
        assert response.status_code in (200, 202), (response.status_code, response.text)
        appeal_id = response.json()["appeal_id"]

        async def assigned() -> dict[str, Any] | None:
            r = await http.get(console_stack.url("tracking") + f"/v1/appeals/{appeal_id}")
            if r.status_code != 200 or r.json().get("status") != "assigned":
                return None
            view: dict[str, Any] = r.json()
            return view

        view = await eventually(assigned, timeout_s=timeout_s, every_s=0.2)
        officer = await http.get(
            console_stack.url("dispatch") + f"/v1/officers/{view['officer_id']}"
        )
        assert officer.status_code == 200, (officer.status_code, officer.text)
    return {**view, "officer_name": officer.json()["name"], "submission": body}


# Enough presses of Tab to cross any of the console's pages.
MOST_TABS = 80


async def tab_to(page: Page, target: Locator) -> None:
    """Presses Tab until `target` has the focus: the keyboard reaches it in the page's order."""
    handle = await target.element_handle()
    assert handle is not None
    for _ in range(MOST_TABS):
        await page.keyboard.press("Tab")
        if await page.evaluate("(el) => document.activeElement === el", handle):
            return
    raise AssertionError(f"{MOST_TABS} presses of Tab never reached {target}")
