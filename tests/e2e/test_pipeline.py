"""The whole pipeline as users see it: four processes, HTTP in, assignment, tracking, notices."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from factories import submission
from harness import bearer, dev_token

from jiban.setup import load_demo_directory
from shared.migrations import SERVICES

pytestmark = pytest.mark.e2e

APPEALS = 20
SECOND_MATTER = "新厂房用电报装已提交两个月仍未批复，生产线无法按期投产，请协调供电部门。"


async def test_appeals_flow_from_intake_to_officer_queues_and_notifications(
    settings, stack, wait_until
):
    await load_demo_directory(settings)
    await asyncio.to_thread(stack.start_all)

    # People's endpoints (dispatch, tracking, notify) need a sign-in token; the services run in
    # development mode, so an ops token signed with the development secret does. Intake's
    # unified form ignores it (adapters sign with channel keys; open in development).
    async with httpx.AsyncClient(timeout=10, headers=bearer(dev_token())) as http:
        enterprises = (
            await http.get(stack.url("dispatch") + "/v1/enterprises", params={"limit": 5})
        ).json()["items"]
        assert len(enterprises) == 5
        officers = (await http.get(stack.url("dispatch") + "/v1/officers")).json()
        assert {"officer_id", "name", "role", "unit", "on_duty"} <= set(officers["items"][0])

        bodies = []
        for i in range(APPEALS):
            body = submission()
            if i % 2 == 0:  # half from enterprises with a chief service officer
                body["appellant"]["enterprise_credit_code"] = enterprises[i % 5]["credit_code"]
                if i >= 10:
                    # Each enterprise's second appeal is about another matter: the same text
                    # again would (rightly) join its first appeal instead of making new work.
                    body["content"] = SECOND_MATTER
            bodies.append(body)
        responses = await asyncio.gather(
            *(http.post(stack.url("intake") + "/v1/appeals", json=b) for b in bodies)
        )
        assert [r.status_code for r in responses] == [202] * APPEALS
        accepted = [r.json() for r in responses]

        async def assigned_in_tracking():
            views = []
            for a in accepted:
                r = await http.get(stack.url("tracking") + f"/v1/appeals/{a['appeal_id']}")
                if r.status_code != 200 or r.json()["status"] != "assigned":
                    return None
                views.append(r.json())
            return views

        views = await wait_until(assigned_in_tracking, timeout_s=30)

        # Who should hear of each appeal: the appellant, the officer, and for an enterprise's
        # appeal the CSO's party-building assistant (copied, unless handling it themselves).
        expected = []
        for i, view in enumerate(views):
            told = {
                ("appellant", "appeal_received"),
                (f"officer:{view['officer_id']}", "new_assignment"),
            }
            if i % 2 == 0:
                cso = enterprises[i % 5]["cso_officer_id"]
                assistant = (await http.get(stack.url("dispatch") + f"/v1/officers/{cso}")).json()[
                    "paired_officer_id"
                ]
                if assistant and assistant != view["officer_id"]:
                    told.add((f"officer:{assistant}", "cso_copy"))
            expected.append(sorted(told))

        async def notified():
            logs = []
            for a, want in zip(accepted, expected, strict=True):
                r = await http.get(
                    stack.url("notify") + "/v1/notifications", params={"appeal_id": a["appeal_id"]}
                )
                items = r.json()["items"]
                if len(items) < len(want) or any(i["status"] != "sent" for i in items):
                    return None
                logs.append(items)
            return logs

        notices = await wait_until(notified, timeout_s=30)

        for i, (body, view, accepted_one) in enumerate(zip(bodies, views, accepted, strict=True)):
            assert view["tracking_code"] == accepted_one["tracking_code"]
            if i % 2 == 0:
                cso = enterprises[i % 5]["cso_officer_id"]
                assert view["officer_id"] == cso, "an enterprise's appeal goes to its CSO"
            queue = (
                await http.get(stack.url("tracking") + f"/v1/officers/{view['officer_id']}/queue")
            ).json()
            assert view["appeal_id"] in {item["appeal_id"] for item in queue["items"]}
            assert body["appellant"]["phone"] not in str(queue)

        for view, items, want in zip(views, notices, expected, strict=True):
            assert sorted((n["recipient"], n["kind"]) for n in items) == want
            assert all(n["medium"] == "record" and n["attempts"] == 1 for n in items)
            [to_appellant] = [n for n in items if n["recipient"] == "appellant"]
            assert view["tracking_code"] in to_appellant["body"]

        # Resubmitting changes nothing downstream.
        again = await http.post(stack.url("intake") + "/v1/appeals", json=bodies[0])
        assert again.status_code == 200 and again.json() == accepted[0]

    for name in SERVICES:
        assert "Traceback" not in stack.log(name), stack.log(name)
        assert bodies[1]["appellant"]["phone"] not in stack.log(name)
