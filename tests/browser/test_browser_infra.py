"""The browser tests' own machinery, without the console: Chromium opens a local page, screenshots
land on disk (and one on a failure), axe-core passes a good page and fails a bad one, and the
services come up with an assigned appeal to show."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import console_pages
import httpx
import pytest
from console_pages import (
    REPO_ROOT,
    SCREENSHOTS,
    ConsoleStack,
    assert_accessible,
    axe_violations,
    sanitised,
    shot,
    submit_assigned_appeal,
)
from harness import bearer, dev_token
from playwright.async_api import Page

from shared.migrations import SERVICES

pytestmark = pytest.mark.browser

ACCESSIBLE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>诉求登记</title></head>
<body><main>
  <h1>诉求登记</h1>
  <form>
    <label for="phone">联系电话</label> <input id="phone" name="phone" type="tel">
    <button type="submit">提交</button>
  </form>
</main></body></html>
"""

# Serious and critical: a button whose only content is an image without alt text, an input
# without a label.
INACCESSIBLE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>诉求登记</title></head>
<body><main>
  <h1>诉求登记</h1>
  <form>
    <input id="phone" name="phone" type="text">
    <button type="submit"><img src="send.png"></button>
  </form>
</main></body></html>
"""

# Only moderate: content outside any landmark ("region").
MODERATE_ONLY = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>诉求登记</title></head>
<body><h1>诉求登记</h1><p>无障碍检查只在严重和关键问题上失败。</p></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_site(tmp_path: Path) -> Iterator[str]:
    """A tiny HTTP server on a free port, in a thread, serving the pages above."""
    site = tmp_path / "site"
    site.mkdir()
    for name, html in {
        "accessible.html": ACCESSIBLE,
        "inaccessible.html": INACCESSIBLE,
        "moderate.html": MODERATE_ONLY,
    }.items():
        (site / name).write_text(html, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def test_chromium_opens_a_local_page_and_screenshots_land_on_disk(
    page: Page, local_site: str, request: pytest.FixtureRequest
) -> None:
    response = await page.goto(local_site + "/accessible.html")
    assert response is not None and response.status == 200
    assert await page.get_by_role("heading", level=1).inner_text() == "诉求登记"
    assert await page.evaluate("navigator.language") == "zh-CN"
    assert await page.evaluate("[innerWidth, innerHeight]") == [1280, 900]

    path = await shot(page, "registration form")

    assert path == SCREENSHOTS / sanitised(request.node.nodeid) / "registration-form.png"
    assert path.is_relative_to(REPO_ROOT / "test-artifacts" / "screenshots")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


async def test_assert_accessible_passes_a_page_without_serious_violations(
    page: Page, local_site: str
) -> None:
    await page.goto(local_site + "/accessible.html")
    await assert_accessible(page)

    # Moderate findings are there to read, but do not fail the test.
    await page.goto(local_site + "/moderate.html")
    await assert_accessible(page)
    moderate = await axe_violations(page, impacts=("moderate",))
    assert "region" in {v["id"] for v in moderate}


async def test_assert_accessible_fails_with_the_violations_listed(
    page: Page, local_site: str, request: pytest.FixtureRequest
) -> None:
    await page.goto(local_site + "/inaccessible.html")

    with pytest.raises(AssertionError) as failure:
        await assert_accessible(page)

    message = str(failure.value)
    assert "inaccessible.html" in message
    for rule in ("button-name", "image-alt", "label"):
        assert f"- {rule} (critical)" in message, message
    assert "#phone" in message and 'src="send.png"' in message
    kept = SCREENSHOTS / sanitised(request.node.nodeid) / "axe-1.json"
    assert kept.exists()


def test_a_missing_chromium_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_pages.shutil, "which", lambda name: None)
    monkeypatch.setattr(console_pages, "CHROMIUM_DEFAULT_PATH", Path("/nonexistent/chromium"))
    assert console_pages.find_chromium() is None

    monkeypatch.delenv("JIBAN_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        console_pages.chromium_or_skip()

    monkeypatch.setenv("JIBAN_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="JIBAN_REQUIRE_BROWSER=1"):
        console_pages.chromium_or_skip()


FAILING_TEST = """
async def test_fails_on_purpose(page):
    await page.set_content("<main><h1>出错时的页面</h1></main>")
    assert False, "on purpose"
"""

LOADS_THE_BROWSER_CONFTEST = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location(
    "browser_conftest", {str(Path(__file__).with_name("conftest.py"))!r}
)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
globals().update({{k: v for k, v in vars(_module).items() if not k.startswith("__")}})
"""


def test_a_failing_test_leaves_a_screenshot(tmp_path: Path) -> None:
    """A test that fails, run by a pytest of its own with these fixtures and hook."""
    console_pages.chromium_or_skip()  # it needs the browser: skipped or failed like the others
    name = f"test_fails_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FAILING_TEST)
    (tmp_path / "conftest.py").write_text(LOADS_THE_BROWSER_CONFTEST)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    here = Path(__file__).parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(here), str(here.parent), str(REPO_ROOT)]),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{name}.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "on purpose" in run.stdout and "1 failed" in run.stdout, run.stdout

    directory = SCREENSHOTS / sanitised(f"{name}.py::test_fails_on_purpose[chromium]")
    try:
        failure = directory / "failure-1.png"
        assert failure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", sorted(directory.iterdir())
    finally:
        console_pages.shutil.rmtree(directory, ignore_errors=True)  # the deliberate failure's


@pytest.mark.e2e
async def test_console_stack_runs_the_services_with_an_assigned_appeal(
    console_stack: ConsoleStack,
) -> None:
    appeal = await submit_assigned_appeal(console_stack)

    assert appeal["status"] == "assigned"
    assert appeal["officer_id"] and appeal["officer_name"]
    assert appeal["tracking_code"]
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        officer = await http.get(
            console_stack.url("dispatch") + f"/v1/officers/{appeal['officer_id']}"
        )
        assert officer.json()["name"] == appeal["officer_name"]
        for name in SERVICES:
            assert (await http.get(console_stack.url(name) + "/readyz")).status_code == 200
        if console_stack.has_console:  # services/console/__main__.py exists by now
            assert (await http.get(console_stack.url("console") + "/readyz")).status_code == 200
        else:
            assert not console_pages.console_exists()
            with pytest.raises(KeyError):
                console_stack.url("console")

    for name in console_stack.names():
        assert "Traceback" not in console_stack.full_log(name), console_stack.log(name)
