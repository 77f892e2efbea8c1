"""Words the templates show from data (statuses, categories, roles, steps…): each needs its
entry in the catalogues like the templates' own words; `tests/unit/test_console_words.py`
checks that every one of these and every word in a template has a Chinese translation."""

from __future__ import annotations

from services.console.appeals.service import CONTACT_METHODS, RETURN_REASONS, STEPS
from services.console.dashboard.service import WORDS as DASHBOARD_WORDS
from services.console.live.notices import KINDS
from services.console.pages import TIME_LATE, TIME_LEFT
from services.console.queue.service import Punctuality
from shared.identity import Role
from shared.vocabulary import (
    AppealStatus,
    AppealType,
    Category,
    Channel,
    NotificationStatus,
    OfficerRole,
    Urgency,
)

STAGES = ("acknowledge", "first_contact", "resolve", "follow_up")
QUEUE_ROLES = ("lead", "assistant")
CLASSIFIED_FIELDS = ("type", "category", "urgency")
# The services a page may say are not answering.
SERVICES = ("intake", "dispatch", "tracking", "notify")
# The kinds of line in an appeal's history, as tracking's API names them (its public vocabulary;
# tests/unit/test_console_words.py checks that tracking writes no other).
HISTORY_KINDS = (
    "received",
    "merged",
    "deadlines_set",
    "assigned",
    "reassigned",
    "assistants_changed",
    "accept",
    "contact",
    "progress",
    "resolve",
    "request_return",
    "return_decided",
    "reassignment_requested",
    "extension_requested",
    "extension_decided",
    "extension_cancelled",
    "acknowledgement_reminder",
    "deadline_warning",
    "deadline_overdue",
    "public_notice",
    "follow_up",
    "closed_no_feedback",
    "unreasonable",
    "assigned_refused",
    "reassigned_refused",
    "return_decided_refused",
    "follow_up_refused",
    "closed_no_feedback_refused",
)


# What notify sends, as its delivery log names it (its public vocabulary;
# tests/unit/test_console_words.py checks that notify has no other).
NOTIFICATION_KINDS = (
    "acknowledgement_reminder",
    "appeal_accepted",
    "appeal_closed",
    "appeal_received",
    "appeal_reopened",
    "appeal_resolved",
    "cso_copy",
    "deadline_warning",
    "escalation",
    "extension_cancelled",
    "extension_decided",
    "extension_lapsed",
    "extension_requested",
    "five_ones_reminder",
    "follow_up_refused",
    "follow_up_request",
    "new_assignment",
    "overdue_supervision",
    "public_notice",
    "return_requested",
    "status_callback",
    "triage",
    "urging_notice",
)


def data_words() -> set[str]:
    words: set[str] = set()
    for vocabulary in (
        AppealStatus,
        AppealType,
        Category,
        Channel,
        NotificationStatus,
        OfficerRole,
        Urgency,
        Role,
    ):
        words.update(member.value for member in vocabulary)
    words.update(p.value for p in Punctuality)
    words.update(STEPS, CONTACT_METHODS, RETURN_REASONS, STAGES, QUEUE_ROLES, CLASSIFIED_FIELDS)
    words.update(HISTORY_KINDS)
    words.update(SERVICES)
    words.update(NOTIFICATION_KINDS)
    words.update(KINDS)
    words.update((TIME_LEFT, TIME_LATE))
    words.update(DASHBOARD_WORDS)
    return words
