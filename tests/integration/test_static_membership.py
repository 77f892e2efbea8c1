"""Static group membership (JIBAN_GROUP_INSTANCE_ID, which the Kubernetes manifests set to the
pod's name) against the broker the tests run: a static member consumes, and after a restart
under the same name (a pod coming back) it consumes again."""

from __future__ import annotations

import pytest
from factories import envelope_of, received, small_directory
from harness import count, running

from jiban.setup import load_demo_directory
from shared.topics import APPEALS_IMMEDIATE

pytestmark = pytest.mark.integration


async def _assignments(settings) -> int:
    from services.dispatch.tables import assignments

    return await count(settings, assignments)


async def test_a_static_member_consumes_and_rejoins_under_its_name(settings, topics, wait_until):
    from services.dispatch.app import build

    static = settings.model_copy(update={"group_instance_id": "dispatch-0"})
    await load_demo_directory(static, small_directory())
    for n in (1, 2):
        app = build(static)
        # The second run is the pod coming back: the same name rejoins every group at once
        # (a static member never sent LeaveGroup) and gets a partition to consume again.
        async with running(app):
            members = [s.consumer for s in app.state.runtime.broker.subscribers]
            # Every group the service joins, it joins as the named member.
            assert members and all(m._group_instance_id == "dispatch-0" for m in members)
            env = envelope_of(received())
            await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)
            await wait_until(lambda n=n: _has(static, n))


async def _has(settings, n: int) -> bool:
    return await _assignments(settings) >= n
