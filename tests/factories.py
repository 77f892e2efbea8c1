"""Realistic sample data for tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from services.dispatch.directory import Directory, Enterprise, Officer
from shared.credit_code import complete
from shared.envelope import Envelope
from shared.events import AppealAssigned, AppealMerged, AppealReceived, Appellant, Location
from shared.vocabulary import Channel, IndustryChain, OfficerRole

_numbers = itertools.count(1)


def submission(**overrides: Any) -> dict[str, Any]:
    n = next(_numbers)
    body: dict[str, Any] = {
        "channel": "hotline_12345",
        "external_id": f"GD-{uuid.uuid4().hex[:10]}",
        "appellant": {
            "name": "李女士",
            "phone": f"1380013{n % 10000:04d}",
            "enterprise_credit_code": None,
        },
        "content": "大旺大道与迎宾大道交界处雨后积水严重，车辆无法通行，请尽快疏通。",
        "location": {"address": "肇庆高新区大旺大道", "community": "大旺社区"},
        "category": None,
        "urgency": None,
    }
    body.update(overrides)
    return body


def credit_code(seed: int) -> str:
    return complete(f"91441200{seed:09d}")


def received(appeal_id: uuid.UUID | None = None, **overrides: Any) -> AppealReceived:
    values: dict[str, Any] = {
        "appeal_id": appeal_id or uuid.uuid4(),
        "tracking_code": f"JB261127-{uuid.uuid4().hex[:6].upper()}",
        "channel": Channel.HOTLINE_12345,
        "external_id": f"GD-{uuid.uuid4().hex[:8]}",
        "appellant": Appellant(name="王先生", phone="13912345678"),
        "content": "宿舍楼停水两天，请协调供水。",
        "location": Location(address="大旺工业园", community="大旺社区"),
        "received_at": datetime.now(UTC),
    }
    values.update(overrides)
    return AppealReceived(**values)


def assigned(
    appeal_id: uuid.UUID, officer_id: str = "cw-dw01-1", **overrides: Any
) -> AppealAssigned:
    values: dict[str, Any] = {
        "appeal_id": appeal_id,
        "officer_id": officer_id,
        "reason_code": "community",
        "reason": "居民诉求，所在社区 大旺社区，由负荷最低的社区工作人员承办",
        "assigned_at": datetime.now(UTC),
    }
    values.update(overrides)
    return AppealAssigned(**values)


def merged(
    appeal_id: uuid.UUID,
    tracking_code: str,
    channel: Channel = Channel.MAYOR_LINE,
    **overrides: Any,
) -> AppealMerged:
    """A repeat of appeal `appeal_id` (by another channel, by default) that joined it."""
    values: dict[str, Any] = {
        "appeal_id": appeal_id,
        "tracking_code": tracking_code,
        "channel": channel,
        "external_id": f"ML-{uuid.uuid4().hex[:8]}",
        "appellant": Appellant(name="王先生", phone="13912345678"),
        "content": "宿舍楼还是停水，已经第三天了。",
        "merged_at": datetime.now(UTC),
        "score": 0.91,
        "reason": "同一诉求人、同一地点、内容相似",
    }
    values.update(overrides)
    return AppealMerged(**values)


def envelope_of(
    event: AppealReceived | AppealAssigned | AppealMerged, **overrides: Any
) -> Envelope:
    env = event.envelope(correlation_id=str(uuid.uuid4()), producer="tests")
    return env.model_copy(update=overrides) if overrides else env


ENTERPRISE = credit_code(7)  # served by cso-1 in small_directory()


def officer(officer_id: str, role: OfficerRole, **kw: Any) -> Officer:
    """A directory officer with made-up contact details."""
    return Officer(
        officer_id=officer_id,
        name=f"干部{officer_id}",
        phone="13700000000",
        email=f"{officer_id}@jiban.example",
        role=role,
        unit="测试",
        **kw,
    )


def small_directory() -> Directory:
    return Directory(
        officers=[
            officer("cso-1", OfficerRole.CHIEF_SERVICE_OFFICER),
            officer("cw-1", OfficerRole.COMMUNITY_WORKER, communities=["大旺社区"]),
            officer("cw-2", OfficerRole.COMMUNITY_WORKER, communities=["大旺社区"]),
            officer("sup-1", OfficerRole.SUPERVISOR),
        ],
        enterprises=[
            Enterprise(
                credit_code=ENTERPRISE,
                name="肇庆测试新能源有限公司",
                chain=IndustryChain.NEV,
                community="大旺社区",
                cso_officer_id="cso-1",
            )
        ],
    )
