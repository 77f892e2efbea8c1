"""Dispatch loads only the few least loaded officers of each group for routing; the rules must
decide exactly as they would with the whole directory in front of them."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select, update

from jiban.setup import load_demo_directory
from services.dispatch import store
from services.dispatch.routing import GENERAL_HANDLERS, RoutingContext, route
from shared.db import Database

pytestmark = pytest.mark.integration


def context(candidates) -> RoutingContext:
    return RoutingContext(
        appeal_id="a-1",
        enterprise_credit_code=None,
        enterprise_name=None,
        cso=None,
        officers_on_duty=candidates,
    )


async def test_the_loaded_candidates_give_the_decision_the_whole_directory_gives(settings):
    await load_demo_directory(settings)
    rng = random.Random(7)
    general = [r.value for r in GENERAL_HANDLERS]
    db = Database(settings)
    try:
        async with db.transaction() as session:
            everyone = (await session.execute(select(store.officers))).all()
        decisions = []
        # Spread loads at random, then make general handlers run out of capacity step by step,
        # until only the last-resort rule is left.
        for step in range(6):
            async with db.transaction() as session:
                for row in everyone:
                    full = row.role in general and step >= 3 and rng.random() < step / 5
                    load = row.capacity + rng.randint(0, 3) if full else rng.randint(0, 5)
                    await session.execute(
                        update(store.officers)
                        .where(store.officers.c.officer_id == row.officer_id)
                        .values(open_assignments=load)
                    )
            async with db.transaction() as session:
                loaded = await store.officers_on_duty(session)
                whole = [
                    store._candidate(r)
                    for r in (await session.execute(select(store.officers))).all()
                ]
            assert len(loaded) <= 2 * store.CANDIDATES_PER_GROUP < len(whole)
            decision = route(context(loaded))
            assert decision == route(context(whole))
            decisions.append(decision.reason_code)
    finally:
        await db.dispose()
    # Both rules were exercised: general handlers while some had room, then the last resort.
    assert decisions[0] == "least_loaded_handler"
    assert decisions[-1] == "least_loaded_on_duty"
