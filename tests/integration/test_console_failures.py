"""The console in-process on the real Postgres and broker, with the services it calls down or
refusing: a page says what is wrong, never a stack trace; a form without the CSRF token is
refused; a page opened signed out goes to sign-in and remembers where it was."""

from __future__ import annotations

import pytest
from harness import running

from jiban.local_infra import free_port
from services.console.app import build
from shared.settings import Settings

pytestmark = pytest.mark.integration


def _nowhere(settings: Settings) -> Settings:
    down = f"http://127.0.0.1:{free_port()}"
    return settings.model_copy(
        update={
            "dev_mode": True,
            "console_dispatch_url": down,
            "console_tracking_url": down,
            "console_notify_url": down,
        }
    )


async def test_a_service_down_gives_a_page_that_names_it(settings: Settings) -> None:
    async with running(build(_nowhere(settings))) as console:
        page = await console.get("/sign-in")
        assert page.status_code == 503
        assert "text/html" in page.headers["content-type"]
        assert "“派单”服务暂无响应" in page.text and "Traceback" not in page.text
        english = await console.get("/sign-in", params={"lang": "en"})
        assert "The dispatch service is not answering" in english.text
        assert english.cookies.get("jiban_lang") == "en"


async def test_signed_out_pages_go_to_sign_in_and_back(settings: Settings) -> None:
    async with running(build(_nowhere(settings))) as console:
        page = await console.get("/queue", params={"status": "accepted"})
        assert page.status_code == 303
        assert page.headers["location"] == "/sign-in?next=%2Fqueue%3Fstatus%3Daccepted"
        partial = await console.get("/queue", headers={"HX-Request": "true"})
        assert partial.status_code == 401 and partial.headers["HX-Redirect"].startswith("/sign-in")
        live = await console.get("/live")
        assert live.status_code == 303
        home = await console.get("/")
        assert home.headers["location"] == "/sign-in?next=%2F"


async def test_a_form_without_the_csrf_token_is_refused(settings: Settings) -> None:
    async with running(build(_nowhere(settings))) as console:
        refused = await console.post(
            "/sign-in/dev", data={"officer_id": "x", "csrf_token": "forged", "next": "/"}
        )
        assert refused.status_code == 403
        assert "表单已过期" in refused.text
        missing = await console.post("/sign-in/dev", data={"officer_id": "x"})
        assert missing.status_code == 422  # the field named, as every service answers
        assert "csrf_token" in missing.text
