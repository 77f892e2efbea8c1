"""The topic table: every topic Jiban uses, what travels on it, and who consumes it.

Names here are logical; `TopicNames` adds the deployment's prefix. Each consumed topic has a
dead-letter twin, `<topic>.dlq`. Later issues add their topics to TOPICS."""

from __future__ import annotations

from dataclasses import dataclass

from shared.vocabulary import Channel

APPEALS_IMMEDIATE = "appeals.immediate"
APPEALS_ASSIGNMENTS = "appeals.assignments"
APPEALS_LIFECYCLE = "appeals.lifecycle"
DIRECTORY_CHANGES = "directory.changes"
NOTIFICATIONS_SENT = "notifications.sent"
VISITS_LOGGED = "visits.logged"
APPEALS_FOLLOW_UPS = "appeals.follow-ups"
# Tracking's clock: deadline warnings, urging, public notices, acknowledgement reminders.
APPEALS_DEADLINES = "appeals.deadlines"
# The chief service officers' monthly rules: five-ones reminders, the four proposed to report.
CSO_MONTHLY = "cso.monthly"
# Adapters that prefer Kafka to HTTP publish their native payloads here, one topic per channel
# (keyed by their external id), and learn the outcome on the receipts topic.
INBOUND_PREFIX = "appeals.inbound."
INBOUND_RECEIPTS = "appeals.inbound.receipts"

DLQ_SUFFIX = ".dlq"


def inbound_topic(channel: str) -> str:
    return INBOUND_PREFIX + channel


@dataclass(frozen=True)
class Topic:
    name: str
    carries: str
    produced_by: str
    consumed: bool = True


TOPICS: tuple[Topic, ...] = (
    Topic(
        APPEALS_IMMEDIATE,
        "AppealReceived, AppealMerged: the unified immediate-handling stream",
        "intake",
    ),
    Topic(
        APPEALS_ASSIGNMENTS,
        "AppealAssigned, AppealReassigned, ReturnDecided, AssistantsChanged",
        "dispatch",
    ),
    Topic(
        APPEALS_LIFECYCLE,
        "AppealStatusChanged, AppealEscalated, ExtensionRequested, ExtensionDecided, "
        "AppealMarkedUnreasonable; ReturnRequested, ReassignmentRequested (for dispatch)",
        "tracking",
    ),
    Topic(
        APPEALS_DEADLINES,
        "AcknowledgementReminder, DeadlineWarning, DeadlineOverdue (催办), "
        "PublicNoticeIssued (通报)",
        "tracking",
    ),
    Topic(
        CSO_MONTHLY,
        "FiveOnesReminder, CsoReportersProposed (keyed by officer id / month)",
        "tracking",
    ),
    Topic(
        DIRECTORY_CHANGES,
        "OfficerChanged, EnterpriseChanged, DepartmentChanged, DutyChanged (keyed by id)",
        "dispatch",
    ),
    # Nobody consumes it yet (the bench reads it without a group): no dead-letter twin.
    Topic(
        NOTIFICATIONS_SENT,
        "NotificationSent, NotificationFailed (keyed by appeal id)",
        "notify",
        consumed=False,
    ),
    Topic(
        VISITS_LOGGED,
        "VisitLogged: a CSO visit that found no problem (keyed by enterprise)",
        "intake",
    ),
    Topic(APPEALS_FOLLOW_UPS, "FollowUpRecorded: the 12345 call-back's result", "intake"),
    *(
        Topic(inbound_topic(channel), f"{channel}'s native submissions", f"the {channel} adapter")
        for channel in Channel
    ),
    Topic(INBOUND_RECEIPTS, "SubmissionReceipt: intake's answer to each", "intake", consumed=False),
)


def dlq_of(topic: str) -> str:
    return topic + DLQ_SUFFIX


def all_topics() -> list[str]:
    names: list[str] = []
    for topic in TOPICS:
        names.append(topic.name)
        if topic.consumed:
            names.append(dlq_of(topic.name))
    return names


@dataclass(frozen=True)
class TopicNames:
    """Maps logical names to the names on the cluster (with the deployment's prefix)."""

    prefix: str = ""

    def physical(self, logical: str) -> str:
        return self.prefix + logical

    def logical(self, physical: str) -> str:
        return physical.removeprefix(self.prefix)

    def group(self, service: str, logical_topic: str) -> str:
        return f"{self.prefix}jiban.{service}.{logical_topic}"
