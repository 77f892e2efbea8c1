"""The operator's look at the queues: `jiban outbox` and `jiban notifications failed|resend`, on
the test's database, and each one line when PostgreSQL is down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from jiban.cli import main
from jiban.failures import EXIT_FAILED, EXIT_UNAVAILABLE
from jiban.local_infra import free_port
from services.dispatch import tables as dispatch
from services.notify import tables as notify
from shared.db import Database

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """Runs `jiban ARGS` against the test's database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def _failed_notification(db: Database, medium: str, address: str | None) -> uuid.UUID:
    notification_id = uuid.uuid4()
    failed_at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(notify.notifications).values(
                notification_id=notification_id,
                event_id=uuid.uuid4(),
                recipient="appellant",
                medium=medium,
                kind="appeal_received",
                status="failed",
                language="zh-CN",
                body="您的诉求已受理",
                address=address,
                attempts=2,
                attempts_since_resend=2,
                last_error="gateway said 500:\n  upstream down",
            )
        )
        for attempt, outcome in ((1, "retry"), (2, "failed")):
            await session.execute(
                insert(notify.notification_attempts).values(
                    notification_id=notification_id,
                    attempt=attempt,
                    at=failed_at - timedelta(minutes=2 - attempt),
                    outcome=outcome,
                    error="gateway said 500",
                )
            )
    return notification_id


async def test_outbox_shows_each_services_backlog_and_its_oldest_row(db, cli):
    async with db.transaction() as session:
        for minutes in (3, 1):
            await session.execute(
                insert(dispatch.outbox).values(
                    event_id=uuid.uuid4(),
                    topic="appeals.assignments",
                    key=b"k",
                    value=b"{}",
                    headers={},
                    created_at=datetime.now(UTC) - timedelta(minutes=minutes),
                )
            )
    code, out, err = await cli("outbox")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "WAITING", "OLDEST"]
    by_service = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert set(by_service) == {"intake", "dispatch", "tracking", "notify", "console"}
    assert by_service["dispatch"][0] == "2"
    waited, unit = by_service["dispatch"][1:]
    assert unit == "min" and 3.0 <= float(waited) < 3.5  # the older row's age
    assert by_service["intake"] == ["0", "-"]
    assert lines[-1] == "2 events not published"


async def test_failed_notifications_are_listed_masked_and_resent_by_notify_once(db, cli):
    sms = await _failed_notification(db, "sms", "13812345678")
    email = await _failed_notification(db, "email", "li.na@example.com")
    unknown = uuid.uuid4()

    code, out, err = await cli("notifications", "failed")
    assert (code, err) == (0, "")
    assert "13812345678" not in out and "li.na@" not in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(rows) == {str(sms), str(email)}
    assert rows[str(sms)].split()[:7] == [
        str(sms),
        "appeal_received",
        "sms",
        "appellant",
        "138****5678",
        "2",
        "2026-12-01",
    ]
    assert "l***@example.com" in rows[str(email)]
    assert "08:30:00  gateway said 500: upstream down" in rows[str(sms)]
    assert out.splitlines()[-1] == "2 failed notifications"

    code, out, err = await cli("notifications", "resend", str(sms), str(unknown))
    assert code == EXIT_FAILED
    assert out == f"resent {sms}\n1 notifications resent\n"
    assert err == f"jiban notifications resend: not resent: {unknown} (no such notification)\n"

    async def state(notification_id: uuid.UUID) -> Any:
        async with db.transaction() as session:
            query = select(notify.notifications).where(
                notify.notifications.c.notification_id == notification_id
            )
            return (await session.execute(query)).one()

    resent = await state(sms)
    assert (resent.status, resent.attempts_since_resend, resent.attempts) == ("pending", 0, 2)

    # A second resend of the same one: it is no longer failed.
    code, _, err = await cli("notifications", "resend", str(sms))
    assert code == EXIT_FAILED and "it is pending, not failed" in err

    code, out, err = await cli("notifications", "resend", "--all-failed")
    assert (code, err) == (0, "")
    assert out == f"resent {email}\n1 notifications resent\n"
    assert (await state(email)).status == "pending"
    code, out, _ = await cli("notifications", "failed")
    assert out == "ID  KIND  MEDIUM  RECIPIENT  ADDRESS  ATTEMPTS  FAILED (UTC)  ERROR\n" + (
        "0 failed notifications\n"
    )


async def test_with_postgres_down_each_says_so_in_one_line(monkeypatch, capsys):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/jiban")
    for argv, prog in (
        (["outbox"], "jiban outbox"),
        (["notifications", "failed"], "jiban notifications failed"),
        (["notifications", "resend", "--all-failed"], "jiban notifications resend"),
        (["notifications", "resend", str(uuid.uuid4())], "jiban notifications resend"),
    ):
        code = await asyncio.to_thread(main, argv)
        out, err = capsys.readouterr()
        assert code == EXIT_UNAVAILABLE and out == "", (argv, out, err)
        assert err.startswith(f"{prog}: cannot reach PostgreSQL at 127.0.0.1:{port}/jiban"), err
        assert err.count("\n") == 1 and "Traceback" not in err
