"""Browser tests: the system Chromium through Playwright's async API, one browser per test (they
run on pytest-xdist workers next to any other test), screenshots kept under test-artifacts/ (and
one of every open page when a test fails), and the services, the console among them, as
processes.

Fixtures: `browser` (a launched Chromium), `new_page(**context_args)` (a page in a new context:
zh-CN, 1280x900), `page` (one such page), `stack` (as in tests/e2e), `console_stack` (the
demo directory loaded, the four pipeline services and the console running and ready) and
`console_overrides` (extra console settings; override the fixture to change them;
{"dev_mode": False} runs the console as in production)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from console_pages import (
    CHROMIUM_ARGS,
    CONSOLE,
    LOCALE,
    VIEWPORT,
    ConsoleStack,
    artifact_dir_for,
    chromium_or_skip,
    console_exists,
    register_page,
)
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from stack import Instance, Stack

from jiban.local_infra import free_port
from jiban.setup import load_demo_directory
from shared.migrations import SERVICES
from shared.settings import Settings

# --- test outcomes, for the fixtures' teardown ---------------------------------------------------

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(r.failed for when, r in reports.items() if when in ("setup", "call"))


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture
def chromium_executable() -> str:
    """The system Chromium; without one the test is skipped, or fails under JIBAN_REQUIRE_BROWSER=1
    (as CI runs)."""
    return chromium_or_skip()


@pytest.fixture
async def browser(chromium_executable: str, browser_name: str | None) -> AsyncIterator[Browser]:
    """A headless Chromium of the test's own. (`browser_name` comes from pytest-playwright's
    `--browser`: chromium by default; asked for firefox or webkit, these tests skip.)"""
    if browser_name not in (None, "chromium"):
        pytest.skip(f"the browser tests drive the system Chromium, not {browser_name}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            await launched.close()


class NewPage(Protocol):
    def __call__(self, **context_args: Any) -> Awaitable[Page]: ...


@pytest.fixture
async def new_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    """`await new_page()` opens a page in a context of its own (its own cookies: one per person
    signed in), zh-CN and 1280x900 unless `context_args` say otherwise. If the test fails, each
    page still open is saved as failure-<n>.png beside its screenshots."""
    nodeid = request.node.nodeid
    shutil.rmtree(artifact_dir_for(nodeid), ignore_errors=True)  # a previous run's
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    async def open_page(**context_args: Any) -> Page:
        context = await browser.new_context(
            **{"locale": LOCALE, "viewport": dict(VIEWPORT), **context_args}
        )
        contexts.append(context)
        opened = await context.new_page()
        register_page(opened, nodeid)
        pages.append(opened)
        return opened

    try:
        yield open_page
    finally:
        if _failed(request):
            await _failure_screenshots(pages, artifact_dir_for(nodeid))
        for context in contexts:
            await context.close()


async def _failure_screenshots(pages: list[Page], directory: Path) -> None:
    for n, page in enumerate(pages, start=1):
        if page.is_closed():
            continue
        try:  # Playwright makes the directory
            await page.screenshot(path=str(directory / f"failure-{n}.png"), full_page=True)
        except Exception as error:  # the page may be what broke; keep the test's own failure
            _note(directory / f"failure-{n}.txt", f"no screenshot: {error!r}\n")


def _note(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
async def page(new_page: NewPage) -> Page:
    return await new_page()


# --- the services ------------------------------------------------------------------------------


@pytest.fixture
def console_overrides() -> dict[str, Any]:
    """Settings the console runs with beyond the test's and where the others are (e.g.
    {"console_live_poll_s": 0.2}); override this fixture in a module to change them."""
    return {}


READY_TIMEOUT_S = 120  # four workers on two cores: a service start may take a while


class ProductionStack(Stack):
    """A Stack whose processes run outside development mode (a Stack's run in it): the console
    when `console_overrides` says {"dev_mode": False}."""

    def env(self, instance: Instance) -> dict[str, str]:
        return {**super().env(instance), "JIBAN_DEV_MODE": "0"}


@pytest.fixture
async def console_stack(
    settings: Settings, stack: Stack, tmp_path: Path, console_overrides: dict[str, Any]
) -> AsyncIterator[ConsoleStack]:
    """The demo directory loaded; intake, dispatch, tracking and notify running (the `stack`
    fixture's processes) and the console, pointed at them, once services/console exists; all of
    them ready. `.url(name)` is where each listens."""
    await load_demo_directory(settings)
    for name in SERVICES:
        stack.start(name)
    console: Stack | None = None
    if console_exists():
        port = free_port()
        wanted = {
            "console_dispatch_url": stack.url("dispatch"),
            "console_tracking_url": stack.url("tracking"),
            "console_notify_url": stack.url("notify"),
            "console_public_url": f"http://127.0.0.1:{port}",
            **console_overrides,
        }
        # model_copy marks what it updates as set, and the stack passes what is set.
        console_settings = settings.model_copy(update=wanted)
        assert set(wanted) <= console_settings.model_fields_set
        console = (Stack if console_settings.dev_mode else ProductionStack)(
            console_settings, tmp_path
        )
        # On the port its public URL names (a Stack gives an instance a free port when it
        # first starts it, unless it already knows the instance).
        console.instances[CONSOLE] = Instance(CONSOLE, CONSOLE, port, tmp_path / f"{CONSOLE}.log")
        console.start(CONSOLE)
    try:
        await asyncio.to_thread(stack.wait_ready, None, READY_TIMEOUT_S)
        if console is not None:
            await asyncio.to_thread(console.wait_ready, None, READY_TIMEOUT_S)
        yield ConsoleStack(pipeline=stack, console=console)
    finally:
        if console is not None:
            await asyncio.to_thread(console.stop)
