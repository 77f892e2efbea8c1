"""Production sign-in in a real browser: the console outside development mode signs people in
through a real OpenID Connect provider process (oidc-provider-mock, on a free port), and the
services verify the ID token it hands them against that provider's keys. An officer opens their
queue signed out, signs in with the organisation's account, lands on the page asked for and
sees their queue; when the session runs out, the next page asks them to sign in and comes back
to it; signing out ends the provider's session too. A refusal at the provider, a
tampered state and a provider that stopped answering each show the sign-in page saying why.
Every page of the console's is screenshotted and checked with axe-core."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from console_pages import assert_accessible, shot
from factories import submission
from harness import bearer, eventually
from playwright.async_api import Page, expect
from sqlalchemy import text

from jiban.local_infra import free_port
from shared.db import Database
from shared.identity import DEV_JWT_SECRET, issue_dev_token
from shared.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CLIENT_ID = "jiban-console"
CLIENT_SECRET = "the-console-client-secret-of-this-test"
ORGANISATION_BUTTON = "使用单位统一身份登录"
PROVIDER_START_S = 60


@dataclass
class OidcProvider:
    """oidc-provider-mock as a process: its issuer URL (also where it serves everything)."""

    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _discovery_answers(issuer: str) -> bool:
    try:
        r = httpx.get(issuer + "/.well-known/openid-configuration", timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and r.json().get("issuer") == issuer


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A real OpenID Connect provider process on a free port, once its discovery answers."""
    port = free_port()
    log_path = tmp_path / "oidc-provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # Its ID tokens name no key (`kid`): the services take them with its only key.
            [sys.executable, "-m", "oidc_provider_mock", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    provider = OidcProvider(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + PROVIDER_START_S
        while not _discovery_answers(provider.issuer):
            if process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited:\n{provider.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"oidc-provider-mock did not answer:\n{provider.log()}")
            time.sleep(0.1)
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def settings(settings: Settings, oidc_provider: OidcProvider) -> Settings:
    """Every service verifies the provider's ID tokens: its keys, the console's client id as
    the audience, its issuer (they still take the test's HS256 tokens: the stack runs them in
    development mode)."""
    return settings.model_copy(
        update={
            "jwt_jwks_url": oidc_provider.issuer + "/jwks",
            "jwt_audience": CLIENT_ID,
            "jwt_issuer": oidc_provider.issuer,
        }
    )


@pytest.fixture
def console_overrides(oidc_provider: OidcProvider) -> dict[str, Any]:
    """The console as in production: no development sign-in, Secure cookies, the provider."""
    return {
        "dev_mode": False,
        "oidc_issuer": oidc_provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
    }


def _ops_token(issuer: str) -> str:
    """What the test submits and looks things up with (HS256, for the services' audience)."""
    return issue_dev_token(
        DEV_JWT_SECRET, sub="ops", roles=["ops"], audience=CLIENT_ID, issuer=issuer
    )


async def _assigned_appeal(console_stack: Any, issuer: str) -> dict[str, Any]:
    """An appeal submitted and assigned, with its officer as dispatch's directory has them."""
    async with httpx.AsyncClient(timeout=10, headers=bearer(_ops_token(issuer))) as http:
        r = await http.post(console_stack.url("intake") + "/v1/appeals", json=submission())
        assert r.status_code in (200, 202), (r.status_code, r.text)
        appeal_id = r.json()["appeal_id"]

        async def assigned() -> dict[str, Any] | None:
            r = await http.get(console_stack.url("tracking") + f"/v1/appeals/{appeal_id}")
            if r.status_code != 200 or r.json().get("status") != "assigned":
                return None
            view: dict[str, Any] = r.json()
            return view

        view = await eventually(assigned, timeout_s=60, every_s=0.2)
        officer = await http.get(
            console_stack.url("dispatch") + f"/v1/officers/{view['officer_id']}"
        )
        assert officer.status_code == 200, officer.text
    return {**view, "officer": officer.json()}


async def _authorise_at_the_provider(page: Page, issuer: str, subject: str) -> None:
    await expect(page).to_have_url(re.compile(re.escape(issuer) + r"/oauth2/authorize\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["nonce"] and query["state"] and query["client_id"] == [CLIENT_ID]
    await page.get_by_placeholder("sub").fill(subject)
    await page.get_by_role("button", name="Authorize").click()


async def test_an_officer_signs_in_with_the_organisations_account_and_out_again(
    page: Page, console_stack: Any, oidc_provider: OidcProvider, db: Database
) -> None:
    console = console_stack.url("console")
    appeal = await _assigned_appeal(console_stack, oidc_provider.issuer)
    officer = appeal["officer"]
    # The provider's account for this officer: the claims the services read (sub is the id).
    claims = {"name": officer["name"], "roles": ["officer"], "unit": officer["unit"]}
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(
            f"{oidc_provider.issuer}/users/{quote(officer['officer_id'])}", json=claims
        )
    assert r.status_code == 204, r.text

    # Signed out, a filtered queue sends the person to sign in: no demo directory here.
    asked_for = "/queue?punctuality=due_soon"
    await page.goto(console + asked_for)
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    await expect(page.get_by_role("heading", name="登录", exact=True)).to_be_visible()
    await expect(page.locator("button[data-officer]")).to_have_count(0)
    await shot(page, "sign-in")
    await assert_accessible(page)

    await page.get_by_role("link", name=ORGANISATION_BUTTON).click()
    await _authorise_at_the_provider(page, oidc_provider.issuer, officer["officer_id"])

    # Back on the very page asked for, as that officer, with the queue tracking served to the
    # provider's ID token.
    await expect(page).to_have_url(console + asked_for)
    await expect(page.locator(".who")).to_contain_text(officer["name"])
    row = page.locator(f'tr[data-appeal="{appeal["appeal_id"]}"]')
    await expect(row).to_contain_text(appeal["tracking_code"])
    await shot(page, "queue")
    await assert_accessible(page)

    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["jiban_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
    assert not [name for name in cookies if name.startswith("jiban_oidc_")]
    # The session ends when the ID token does (the provider's hour, before the console's 8).
    async with db.transaction() as rows:
        ends = (await rows.execute(text("SELECT expires_at FROM console.sessions"))).scalar_one()
    assert ends <= datetime.now(UTC) + timedelta(hours=1, minutes=1)

    # The session runs out: the next page sends the person to sign in, then back to it.
    async with db.transaction() as rows:
        await rows.execute(text("UPDATE console.sessions SET expires_at = now()"))
    appeal_page = f"/appeals/{appeal['appeal_id']}"
    await page.goto(console + appeal_page)
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fappeals%2F"))
    await page.get_by_role("link", name=ORGANISATION_BUTTON).click()
    await _authorise_at_the_provider(page, oidc_provider.issuer, officer["officer_id"])
    await expect(page).to_have_url(console + appeal_page)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(appeal["tracking_code"])
    await shot(page, "appeal-after-signing-in-again")
    await assert_accessible(page)

    # Signing out ends the provider's session too, which sends the browser back to sign in.
    await page.get_by_role("button", name="退出登录").click()
    await expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + "/oauth2/end_"))
    await page.get_by_role("button", name="End session").click()
    await expect(page).to_have_url(console + "/sign-in")
    await page.goto(console + "/queue")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fqueue"))


async def test_refusals_show_the_sign_in_page_saying_why(
    page: Page, console_stack: Any, oidc_provider: OidcProvider
) -> None:
    console = console_stack.url("console")

    # Production: the development sign-in is not there.
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            console + "/sign-in/dev", data={"officer_id": "x", "csrf_token": "y", "next": "/"}
        )
    assert r.status_code == 404

    # The person (or the provider) refuses: error=access_denied comes back.
    await page.goto(console + "/sign-in?next=/queue")
    await page.get_by_role("link", name=ORGANISATION_BUTTON).click()
    await expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + "/oauth2/"))
    await page.get_by_role("button", name="Deny").click()
    await expect(page.locator('[data-refusal="denied"]')).to_be_visible()
    await expect(page.get_by_role("link", name=ORGANISATION_BUTTON)).to_be_visible()
    await shot(page, "refused-denied")
    await assert_accessible(page)

    # A callback whose state is not this browser's attempt (tampered) is refused, and no one
    # is signed in.
    await page.goto(console + "/sign-in?next=/queue")
    await page.get_by_role("link", name=ORGANISATION_BUTTON).click()
    await expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + "/oauth2/"))
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    callback = console + "/sign-in/oidc/callback?code=forged&state="
    answer = await page.goto(callback + quote(state[::-1]))
    assert answer is not None and answer.status == 400
    await expect(page.locator('[data-refusal="state"]')).to_be_visible()
    await shot(page, "refused-state")
    await assert_accessible(page)

    # The provider stops answering in the middle of an attempt: the code cannot be exchanged.
    await page.goto(console + "/sign-in?next=/queue")
    await page.get_by_role("link", name=ORGANISATION_BUTTON).click()
    await expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + "/oauth2/"))
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    await asyncio.to_thread(oidc_provider.stop)
    answer = await page.goto(callback + quote(state))
    assert answer is not None and answer.status == 503
    await expect(page.locator('[data-refusal="unavailable"]')).to_be_visible()
    await shot(page, "refused-unavailable")
    await assert_accessible(page)
    await page.goto(console + "/queue")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
