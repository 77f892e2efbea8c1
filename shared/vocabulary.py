"""The fixed vocabulary of Jiban. Later issues extend these enums; they never rename a value."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    HOTLINE_12345 = "hotline_12345"
    MAYOR_LINE = "mayor_line"
    CSO_VISIT = "cso_visit"
    WEB = "web"
    WINDOW = "window"


class AppealStatus(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    RETURNED = "returned"
    REOPENED = "reopened"


class OfficerRole(StrEnum):
    CHIEF_SERVICE_OFFICER = "chief_service_officer"
    PARTY_BUILDING_ASSISTANT = "party_building_assistant"
    PARTY_BUILDING_INSTRUCTOR = "party_building_instructor"
    COMMUNITY_WORKER = "community_worker"
    DEPARTMENT_OFFICER = "department_officer"
    SUPERVISOR = "supervisor"


class IndustryChain(StrEnum):
    NEV = "nev"
    BIOMEDICINE = "biomedicine"
    FOOD_BEVERAGE = "food_beverage"
    OTHER = "other"


class AppealType(StrEnum):
    CONSULTATION = "consultation"
    HELP = "help"
    SUGGESTION = "suggestion"
    COMPLAINT = "complaint"
    REPORT = "report"


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"


class Category(StrEnum):
    EMPLOYMENT = "employment"
    PREMISES = "premises"
    UTILITIES = "utilities"
    PERMITS = "permits"
    POLICY = "policy"
    TRANSPORT = "transport"
    EDUCATION = "education"
    HOUSING = "housing"
    ENVIRONMENT = "environment"
    DRAINAGE_ROADS = "drainage_roads"
    PUBLIC_SAFETY = "public_safety"
    PARTY_BUILDING = "party_building"
    OTHER = "other"


CATEGORY_LABELS_ZH: dict[Category, str] = {
    Category.EMPLOYMENT: "用工招聘",
    Category.PREMISES: "场地厂房",
    Category.UTILITIES: "水电气",
    Category.PERMITS: "审批许可",
    Category.POLICY: "政策咨询",
    Category.TRANSPORT: "交通运输",
    Category.EDUCATION: "子女入学",
    Category.HOUSING: "住房宿舍",
    Category.ENVIRONMENT: "生态环境",
    Category.DRAINAGE_ROADS: "排水道路",
    Category.PUBLIC_SAFETY: "公共安全",
    Category.PARTY_BUILDING: "党建",
    Category.OTHER: "其他",
}


class Satisfaction(StrEnum):
    """What the appellant said when called back (回访)."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"
    UNREACHABLE = "unreachable"


class Medium(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    RECORD = "record"


class NotificationStatus(StrEnum):
    SENT = "sent"
    PENDING = "pending"
    # Waiting for a set time: the end of quiet hours, or the provider's rate limit.
    DEFERRED = "deferred"
    FAILED = "failed"


def officer_recipient(officer_id: str) -> str:
    """Recipients name a role or an id, never a phone number or an address."""
    return f"officer:{officer_id}"


def channel_recipient(channel: Channel | str) -> str:
    return f"channel:{channel}"


APPELLANT_RECIPIENT = "appellant"
