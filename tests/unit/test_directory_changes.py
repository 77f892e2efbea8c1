"""The pure parts of reading and changing the directory: the day leave is counted in, the events,
what a PATCH may say, how an officer is shown, and which token roles the directory grants."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from jiban.tokens import token_roles
from services.dispatch.directory import DutyPost, LeavePeriod, Officer, local_today
from services.dispatch.directory.api import OfficerPatch, OfficerRef, officer_out
from services.dispatch.directory.service import duty_changed, officer_changed
from shared.identity import Role
from shared.vocabulary import IndustryChain, OfficerRole


def officer(**fields: Any) -> Officer:
    return Officer(
        **{
            "officer_id": "cso-1",
            "name": "陈伟",
            "phone": "13800138000",
            "email": "cso-1@jiban.example",
            "role": OfficerRole.CHIEF_SERVICE_OFFICER,
            "unit": "新能源汽车产业链服务专班",
            "paired_officer_id": "pba-1",
            **fields,
        }
    )


def row(model: Officer, **extra: Any) -> SimpleNamespace:
    values = model.model_dump(mode="json")
    values |= {"open_assignments": 3, "returns_accepted": 1, "returns_rejected": 2}
    return SimpleNamespace(**(values | extra))


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2026, 11, 30, 15, 59, tzinfo=UTC), date(2026, 11, 30)),
        (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), date(2026, 12, 1)),  # midnight in Shanghai
    ],
)
def test_leave_days_are_shanghai_days(instant: datetime, day: date) -> None:
    assert local_today(instant) == day


def test_officer_changed_carries_leave_department_and_team_but_not_capacity() -> None:
    leave = [LeavePeriod(start=date(2026, 12, 1), end=date(2026, 12, 3), note="年假")]
    event = officer_changed(
        officer(leave=leave, chain=IndustryChain.NEV, department_id=None, capacity=7)
    )
    payload = event.envelope(correlation_id="c", producer="dispatch").payload
    assert payload["leave"] == [{"start": "2026-12-01", "end": "2026-12-03", "note": "年假"}]
    assert payload["chain"] == "nev" and payload["department_id"] is None
    assert "capacity" not in payload
    assert event.subject() == "cso-1"
    assert duty_changed(DutyPost.DISPATCHER, "x-1").subject() == "duty:dispatcher"


def test_a_csos_assistant_is_shown_and_nobody_elses_partner() -> None:
    today = date(2026, 12, 2)
    away = [LeavePeriod(start=date(2026, 12, 1), end=date(2026, 12, 3))]
    cso = officer_out(row(officer(leave=away)), today)
    assert (cso.assistant_officer_id, cso.paired_officer_id) == ("pba-1", "pba-1")
    assert cso.on_leave_today is True
    assert (cso.open_assignments, cso.returns_accepted, cso.returns_rejected) == (3, 1, 2)
    assistant = officer_out(
        row(
            officer(
                officer_id="pba-1",
                role=OfficerRole.PARTY_BUILDING_ASSISTANT,
                paired_officer_id="cso-1",
            )
        ),
        today,
    )
    assert (assistant.assistant_officer_id, assistant.paired_officer_id) == (None, "cso-1")
    assert assistant.on_leave_today is False
    assert officer_out(row(officer(leave=away)), date(2026, 12, 4)).on_leave_today is False


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"nickname": "老陈"}, ("nickname",)),
        ({"on_duty": None}, ("on_duty",)),
        ({"capacity": None}, ("capacity",)),
        ({"capacity": -1}, ("capacity",)),
        ({"capacity": 10_001}, ("capacity",)),
        ({"leave": [{"start": "2026-12-03", "end": "2026-12-01"}]}, ("leave", 0)),
        ({"leave": None}, ("leave",)),
        ({}, ()),
    ],
)
def test_what_a_patch_may_not_say(body: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as raised:
        OfficerPatch.model_validate(body)
    assert raised.value.errors()[0]["loc"] == loc


def test_a_patch_names_only_what_it_changes() -> None:
    patch = OfficerPatch.model_validate({"on_duty": False, "leave": []})
    assert patch.model_dump(mode="json", include=patch.model_fields_set) == {
        "on_duty": False,
        "leave": [],
    }
    with pytest.raises(ValidationError):
        OfficerRef.model_validate({"officer_id": "cso-1", "why": "moved"})


@pytest.mark.parametrize(
    ("role", "posts", "roles"),
    [
        (OfficerRole.COMMUNITY_WORKER, (), {Role.OFFICER}),
        (OfficerRole.SUPERVISOR, (), {Role.OFFICER, Role.SUPERVISOR}),
        (OfficerRole.DEPARTMENT_OFFICER, (DutyPost.DISPATCHER,), {Role.OFFICER, Role.DISPATCHER}),
        (OfficerRole.COMMUNITY_WORKER, (DutyPost.SUPERVISOR,), {Role.OFFICER, Role.SUPERVISOR}),
        (
            OfficerRole.SUPERVISOR,
            (DutyPost.DISPATCHER, DutyPost.SUPERVISOR),
            {Role.OFFICER, Role.SUPERVISOR, Role.DISPATCHER},
        ),
    ],
)
def test_token_roles(role: OfficerRole, posts: tuple[DutyPost, ...], roles: set[Role]) -> None:
    assert token_roles(role, posts) == roles
