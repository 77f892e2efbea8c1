"""Notify end to end against a real broker, Postgres, SMTP server and HTTP servers: who hears
what through which provider, in which words, once; a provider down then up; a failure ops
resend; quiet hours; status callbacks to the submitting channel; a refused follow-up told to
the channel that reported it; a called-off extension told to whoever was to rule on it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import assigned, received
from harness import bearer, dev_token, running
from local_servers import Mailbox, Receiver, serve, smtp_server
from sqlalchemy import select

from services.notify import tables
from services.notify.app import build
from shared.clock import ZONE
from shared.events import (
    AppealStatusChanged,
    Appellant,
    Event,
    ExtensionCancelled,
    ExtensionRequested,
    FollowUpRefused,
    NotificationFailed,
    NotificationSent,
    OfficerChanged,
)
from shared.settings import Settings
from shared.signing import HEADER_SIGNATURE, HEADER_TIMESTAMP, sign
from shared.topics import NOTIFICATIONS_SENT
from shared.vocabulary import AppealStatus, OfficerRole, Urgency

pytestmark = pytest.mark.integration

PHONE = "13912345678"  # the factories' appellant
MASKED = "139****5678"
OFFICER_PHONE = "13700001111"
SUPERVISOR_EMAIL = "lin.supervisor@example.org"
HOOK_SECRET = "hotline-callback-secret"


async def send(topics: Any, event: Event) -> None:
    env = event.envelope(correlation_id=str(uuid.uuid4()), producer="tests")
    await topics.send(event.TOPIC, env.to_bytes(), env.key)


def officer(officer_id: str, role: OfficerRole, **kw: Any) -> OfficerChanged:
    values: dict[str, Any] = {
        "officer_id": officer_id,
        "name": f"officer {officer_id}",
        "role": role,
        "unit": "大旺社区",
        "on_duty": True,
    }
    return OfficerChanged(**(values | kw))


async def directory(topics: Any) -> None:
    await send(topics, officer("sup-1", OfficerRole.SUPERVISOR, email=SUPERVISOR_EMAIL))
    await send(
        topics,
        officer(
            "cw-7",
            OfficerRole.COMMUNITY_WORKER,
            phone=OFFICER_PHONE,
            email="cw7@example.org",
            supervisor_id="sup-1",
        ),
    )


async def knows_the_directory(db: Any, wait_until: Any) -> None:
    """Notify learns contacts from directory.changes, a topic of its own: before the appeal
    events, wait until it has them (else an officer cannot be reached yet)."""

    async def known() -> bool:
        async with db.transaction() as session:
            found = await session.scalars(select(tables.officers.c.officer_id))
            return {"sup-1", "cw-7"} <= set(found)

    await wait_until(known)


class Providers:
    """A real SMTP server and two HTTP servers: the SMS gateway and the hotline's callbacks."""

    def __init__(
        self,
        mailbox: Mailbox,
        smtp_port: int,
        sms: Receiver,
        sms_url: str,
        hooks: Receiver,
        hook_url: str,
    ) -> None:
        self.mailbox, self.smtp_port = mailbox, smtp_port
        self.sms, self.sms_url, self.hooks, self.hook_url = sms, sms_url, hooks, hook_url

    def settings(self, base: Settings, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.smtp_port,
            "smtp_sender": "notify@jiban.test",
            "sms_gateway_url": self.sms_url + "/sms/send",
            "sms_gateway_headers": {"Authorization": "Bearer sms-vendor-token"},
            "notify_webhooks": {
                "hotline_12345": {
                    "url": self.hook_url + "/callbacks/jiban",
                    "key_id": "jiban-notify",
                    "secret": HOOK_SECRET,
                }
            },
            "notify_quiet_hours": "off",
            "notify_retry_base_s": 0.2,
            "notify_retry_max_s": 0.5,
            "notify_max_attempts": 4,
            "notify_poll_interval_s": 0.1,
        }
        return base.model_copy(update=values | overrides)

    def texts_to(self, phone: str) -> list[str]:
        return [
            json.loads(r.body)["text"]
            for r in self.sms.requests
            if json.loads(r.body)["to"] == phone
        ]

    def callbacks(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.hooks.requests]


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    mailbox = Mailbox()
    sms, hooks = Receiver(), Receiver()
    with smtp_server(mailbox) as smtp:
        async with serve(sms) as sms_url, serve(hooks) as hook_url:
            yield Providers(mailbox, smtp.port, sms, sms_url, hooks, hook_url)


async def log_of(notify: Any, appeal_id: uuid.UUID, **params: Any) -> list[dict[str, Any]]:
    r = await notify.get("/v1/notifications", params={"appeal_id": str(appeal_id), **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def by_kind(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(n["recipient"], n["kind"]): n for n in items}


def assert_signed(hook: Any) -> None:
    """Verified as the channel's system would: over what arrived, with the shared secret."""
    expected = sign(
        HOOK_SECRET, "POST", hook.raw_path, hook.headers[HEADER_TIMESTAMP.lower()], hook.body
    )
    assert hook.headers[HEADER_SIGNATURE.lower()] == expected


async def test_each_recipient_hears_by_its_medium_in_its_words(
    settings, topics, wait_until, providers, db
):
    await directory(topics)
    appeal = received()
    async with running(build(providers.settings(settings))) as notify:
        await knows_the_directory(db, wait_until)
        await send(topics, appeal)
        # As in the pipeline, the assignment follows the receipt (dispatch assigns what it
        # received): the officer's words then have the appellant to call back.
        await wait_until(lambda: log_of(notify, appeal.appeal_id))
        await send(topics, assigned(appeal.appeal_id, "cw-7", tracking_code=appeal.tracking_code))

        async def first_three():
            items = await log_of(notify, appeal.appeal_id)
            sent = [n for n in items if n["status"] == "sent"]
            return items if len(sent) == 3 else None

        items = by_kind(await wait_until(first_three))
        await send(
            topics,
            ExtensionRequested(
                appeal_id=appeal.appeal_id,
                extension_id=1,
                officer_id="cw-7",
                stage="resolve",
                working_days=5,
                reason="需协调供水公司更换主管道",
                due_at=datetime.now(UTC) + timedelta(days=10),
                requested_at=datetime.now(UTC),
            ),
        )
        await wait_until(lambda: _mail_count(providers, 1))
        sent_events = await topics.read(NOTIFICATIONS_SENT, at_least=4)

    assert set(items) == {
        ("appellant", "appeal_received"),
        ("officer:cw-7", "new_assignment"),
        ("channel:hotline_12345", "status_callback"),
    }
    assert items[("appellant", "appeal_received")]["medium"] == "sms"
    assert items[("officer:cw-7", "new_assignment")]["medium"] == "sms"
    assert items[("channel:hotline_12345", "status_callback")]["medium"] == "webhook"
    assert all(n["attempts"] == 1 and len(n["attempt_log"]) == 1 for n in items.values())
    # The log names who, never the address.
    assert PHONE not in json.dumps(list(items))
    assert OFFICER_PHONE not in str(list(items.values()))

    # The appellant's SMS: the tracking code, through the gateway with the vendor's auth.
    [to_appellant] = providers.texts_to(PHONE)
    assert appeal.tracking_code in to_appellant and to_appellant.startswith("【即办】")
    assert all(
        r.headers["authorization"] == "Bearer sms-vendor-token" for r in providers.sms.requests
    )
    # The officer must call back: the full phone.
    [to_officer] = providers.texts_to(OFFICER_PHONE)
    assert PHONE in to_officer

    # The hotline's callback: signed like adapters sign, with its own external id.
    [hook] = providers.hooks.requests
    callback = json.loads(hook.body)
    assert (callback["external_id"], callback["status"]) == (appeal.external_id, "received")
    assert callback["appeal_id"] == str(appeal.appeal_id)
    assert_signed(hook)
    notification_ids = {n["notification_id"] for n in items.values()}
    assert hook.headers["x-jiban-delivery-id"] in notification_ids

    # The supervisor reads the extension request by e-mail, the appellant's phone masked.
    [mail] = providers.mailbox.received
    assert mail.rcpt_tos == [SUPERVISOR_EMAIL]
    text = mail.message.get_content()
    assert PHONE not in text and PHONE not in str(mail.message["Subject"])
    assert "需协调供水公司更换主管道" in text

    # One NotificationSent per delivery.
    sent = [r.json() for r in sent_events if r.json()["type"] == NotificationSent.TYPE]
    assert len({e["payload"]["notification_id"] for e in sent}) == len(sent) == 4


async def _mail_count(providers: Providers, n: int) -> bool:
    return len(providers.mailbox.received) >= n


async def test_a_provider_down_then_up_delivers_everything_once(
    settings, topics, wait_until, providers
):
    providers.hooks.status = 503  # the hotline's system is down
    appeals = [received() for _ in range(4)]
    config = providers.settings(settings, notify_max_attempts=50)
    async with running(build(config)) as notify:
        for appeal in appeals:
            await send(topics, appeal)

        async def retrying():
            logs = [
                await log_of(notify, a.appeal_id, recipient="channel:hotline_12345")
                for a in appeals
            ]
            ok = all(len(log) == 1 and log[0]["attempts"] >= 2 for log in logs)
            return logs if ok else None

        logs = await wait_until(retrying)
        assert all(log[0]["status"] == "pending" for log in logs)
        assert all(e["outcome"] == "retry" for log in logs for e in log[0]["attempt_log"])
        # While the hotline is down the topics are still consumed: the appellants' SMS go out.
        assert len(providers.texts_to(PHONE)) == len(appeals)

        providers.hooks.status = 200

        async def all_sent():
            logs = [
                await log_of(notify, a.appeal_id, recipient="channel:hotline_12345")
                for a in appeals
            ]
            return logs if all(log[0]["status"] == "sent" for log in logs) else None

        logs = await wait_until(all_sent)

    requests = providers.hooks.requests
    delivered: dict[str, int] = {}
    for log in logs:
        delivered[log[0]["notification_id"]] = log[0]["attempts"]
        assert log[0]["attempt_log"][-1]["outcome"] == "sent"
    # Every attempt reached the server under the same delivery id; the last one succeeded.
    per_id: dict[str, int] = {}
    for r in requests:
        per_id[r.headers["x-jiban-delivery-id"]] = (
            per_id.get(r.headers["x-jiban-delivery-id"], 0) + 1
        )
    assert per_id == delivered
    # Each appeal's callback carries its own external id, once per delivery id.
    assert {json.loads(r.body)["external_id"] for r in requests} == {a.external_id for a in appeals}


async def test_a_refused_delivery_fails_once_and_ops_resend_it(
    settings, topics, wait_until, providers
):
    providers.hooks.status = 400  # the hotline refuses: no point retrying
    appeal = received(appellant=Appellant(anonymous=True))
    async with running(build(providers.settings(settings))) as notify:
        await send(topics, appeal)

        async def failed():
            items = await log_of(notify, appeal.appeal_id)
            return items if items and items[0]["status"] == "failed" else None

        # Anonymous: the appellant hears nothing, the channel still gets its callback.
        [item] = await wait_until(failed)
        assert (item["recipient"], item["attempts"]) == ("channel:hotline_12345", 1)
        assert item["last_error"] == "webhook 400"
        failures = [
            r.json()
            for r in await topics.read(NOTIFICATIONS_SENT, at_least=1)
            if r.json()["type"] == NotificationFailed.TYPE
        ]
        assert [f["payload"]["notification_id"] for f in failures] == [item["notification_id"]]

        url = f"/v1/notifications/{item['notification_id']}/resend"
        supervisor = bearer(dev_token("sup-1", ("supervisor",)))
        assert (await notify.post(url, headers=supervisor)).status_code == 403
        providers.hooks.status = 200
        again = await notify.post(url)
        assert again.status_code == 202 and again.json()["status"] == "pending"

        async def resent():
            items = await log_of(notify, appeal.appeal_id)
            return items if items[0]["status"] == "sent" else None

        [item] = await wait_until(resent)
        assert item["attempts"] == 2
        assert [a["outcome"] for a in item["attempt_log"]] == ["failed", "sent"]
        conflict = await notify.post(url)
        assert conflict.status_code == 409 and "sent" in conflict.json()["detail"]
        assert (await notify.post(f"/v1/notifications/{uuid.uuid4()}/resend")).status_code == 404
    ids = {r.headers["x-jiban-delivery-id"] for r in providers.hooks.requests}
    assert ids == {item["notification_id"]}


async def test_quiet_hours_hold_the_appellants_sms_until_morning(
    settings, topics, wait_until, providers, db
):
    await directory(topics)
    now = datetime.now(ZONE)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    window = f"{start:%H:%M}-{end:%H:%M}"
    calm = received()
    emergency = received(urgency=Urgency.EMERGENCY)
    config = providers.settings(settings, notify_quiet_hours=window)
    async with running(build(config)) as notify:
        await knows_the_directory(db, wait_until)
        for appeal in (calm, emergency):
            await send(topics, appeal)
            await send(topics, assigned(appeal.appeal_id, "cw-7"))

        async def settled():
            logs = [by_kind(await log_of(notify, a.appeal_id)) for a in (calm, emergency)]
            # Settled: the officers told, and the emergency's appellant too.
            told = [log.get(("officer:cw-7", "new_assignment")) for log in logs]
            told.append(logs[1].get(("appellant", "appeal_received")))
            if all(n and n["status"] == "sent" for n in told):
                return logs
            return None

        calm_log, emergency_log = await wait_until(settled)

    waiting = calm_log[("appellant", "appeal_received")]
    assert (waiting["status"], waiting["attempts"]) == ("deferred", 0)
    morning = datetime.fromisoformat(waiting["next_attempt_at"]).astimezone(ZONE)
    assert (morning.hour, morning.minute) == (end.hour, end.minute)
    assert timedelta(0) < morning - now <= timedelta(hours=2)
    # An emergency is told at once; officers' work is never held back.
    assert emergency_log[("appellant", "appeal_received")]["status"] == "sent"
    assert len(providers.texts_to(PHONE)) == 1


async def test_status_changes_heard_before_the_receipt_wait_for_it_then_reach_everyone(
    settings, topics, wait_until, providers, db
):
    appeal = received()
    changes = [
        (AppealStatus.RECEIVED, AppealStatus.ASSIGNED),
        (AppealStatus.ASSIGNED, AppealStatus.ACCEPTED),
        (AppealStatus.IN_PROGRESS, AppealStatus.RESOLVED),
        (AppealStatus.RESOLVED, AppealStatus.CLOSED),
    ]
    async with running(build(providers.settings(settings))) as notify:
        for before, after in changes:
            await send(
                topics,
                AppealStatusChanged(
                    appeal_id=appeal.appeal_id,
                    from_status=before,
                    to_status=after,
                    changed_at=datetime.now(UTC),
                    note="已恢复供水" if after == AppealStatus.RESOLVED else None,
                    closed_reason="resolved" if after == AppealStatus.CLOSED else None,
                    tracking_code=appeal.tracking_code,
                ),
            )

        # Heard before the receipt (another topic): who they concern is not known yet.
        async def parked() -> list[uuid.UUID]:
            async with db.transaction() as session:
                return list(await session.scalars(select(tables.waiting_events.c.appeal_id)))

        async def waiting() -> bool:
            return await parked() == [appeal.appeal_id] * len(changes)

        await wait_until(waiting)
        assert await log_of(notify, appeal.appeal_id) == []
        await send(topics, appeal)

        async def all_sent():
            items = await log_of(notify, appeal.appeal_id)
            done = len(items) >= 10 and all(n["status"] == "sent" for n in items)
            return items if done else None

        items = await wait_until(all_sent)

    to_appellant = sorted(n["kind"] for n in items if n["recipient"] == "appellant")
    assert to_appellant == [
        "appeal_accepted",
        "appeal_closed",
        "appeal_received",
        "appeal_resolved",
        "follow_up_request",
    ]
    # In the order they happened, once each; and nothing is left waiting.
    statuses = [c["status"] for c in providers.callbacks()]
    assert sorted(statuses) == sorted(["received", "assigned", "accepted", "resolved", "closed"])
    assert await parked() == []
    assert {c["external_id"] for c in providers.callbacks()} == {appeal.external_id}
    assert any("已恢复供水" in t for t in providers.texts_to(PHONE))


async def test_a_providers_rate_limit_spreads_its_messages_without_using_up_attempts(
    settings, topics, wait_until, providers
):
    appeals = [received(appellant=Appellant(anonymous=True)) for _ in range(6)]
    config = providers.settings(settings, notify_rate_limits={"webhook": 2})
    async with running(build(config)) as notify:
        for appeal in appeals:
            await send(topics, appeal)

        async def all_sent():
            logs = [await log_of(notify, a.appeal_id) for a in appeals]
            return logs if all(log and log[0]["status"] == "sent" for log in logs) else None

        logs = await wait_until(all_sent)
    sent_at = sorted(datetime.fromisoformat(log[0]["sent_at"]) for log in logs)
    # Two a second (a burst of two): six take two seconds at least, each in one attempt.
    assert sent_at[-1] - sent_at[0] >= timedelta(seconds=1.5)
    assert all(log[0]["attempts"] == 1 for log in logs)
    assert len(providers.hooks.requests) == len(appeals)


async def test_a_refused_follow_up_reaches_the_channel_that_reported_it_signed(
    settings, topics, wait_until, providers
):
    appeal = received(appellant=Appellant(anonymous=True))  # the channel hears all the same
    async with running(build(providers.settings(settings))) as notify:
        await send(topics, appeal)

        async def receipt_called_back() -> bool:
            return len(providers.hooks.requests) == 1

        await wait_until(receipt_called_back)
        follow_up_event_id = uuid.uuid4()
        await send(
            topics,
            FollowUpRefused(
                appeal_id=appeal.appeal_id,
                follow_up_event_id=follow_up_event_id,
                channel=appeal.channel,
                status=AppealStatus.CLOSED,
                reason="Follow-up refused: the appeal is closed, not resolved",
                refused_at=datetime.now(UTC),
                tracking_code=appeal.tracking_code,
            ),
        )

        async def told():
            items = await log_of(notify, appeal.appeal_id, recipient="channel:hotline_12345")
            refusals = [n for n in items if n["kind"] == "follow_up_refused"]
            return refusals if refusals and refusals[0]["status"] == "sent" else None

        [logged] = await wait_until(told)

    [hook] = [r for r in providers.hooks.requests if b"jiban.follow_up.refused" in r.body]
    document = json.loads(hook.body)
    assert document["type"] == "jiban.follow_up.refused"
    assert (document["channel"], document["external_id"]) == ("hotline_12345", appeal.external_id)
    assert document["appeal_id"] == str(appeal.appeal_id)
    assert document["tracking_code"] == appeal.tracking_code
    assert document["follow_up_event_id"] == str(follow_up_event_id)
    assert (document["status"], document["reason"]) == (
        "closed",
        "Follow-up refused: the appeal is closed, not resolved",
    )
    assert "回访结果未采用" in document["text"]
    assert hook.headers["x-jiban-delivery-id"] == logged["notification_id"]
    assert_signed(hook)


async def test_a_called_off_extension_reaches_the_supervisor_and_the_officer_it_moved_from(
    settings, topics, wait_until, providers, db
):
    await directory(topics)
    appeal = received()
    async with running(build(providers.settings(settings))) as notify:
        await knows_the_directory(db, wait_until)
        await send(topics, appeal)
        await send(
            topics,
            ExtensionCancelled(
                appeal_id=appeal.appeal_id,
                extension_id=3,
                officer_id="cw-7",
                supervisor_id="sup-1",
                reason="reassigned",
                cancelled_at=datetime.now(UTC),
                tracking_code=appeal.tracking_code,
            ),
        )
        await wait_until(lambda: _mail_count(providers, 2))
        items = by_kind(await log_of(notify, appeal.appeal_id))

    assert items[("officer:sup-1", "extension_cancelled")]["medium"] == "email"
    assert items[("officer:cw-7", "extension_lapsed")]["medium"] == "email"
    mails = {tuple(m.rcpt_tos): m.message for m in providers.mailbox.received}
    to_supervisor = mails[(SUPERVISOR_EMAIL,)]
    assert "延期申请已撤销" in str(to_supervisor["Subject"])
    assert appeal.tracking_code in to_supervisor.get_content()
    assert "诉求已改派" in to_supervisor.get_content()
    to_officer = mails[("cw7@example.org",)]
    assert "延期申请已失效" in str(to_officer["Subject"])
    # Nothing of the appellant travels in either.
    assert all(PHONE not in m.get_content() for m in mails.values())
