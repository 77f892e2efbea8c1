"""Words the templates show from data (statuses, categories, roles, steps…): each needs its
entry in the catalogues like the templates' own words; `tests/unit/test_console_words.py`
checks that every one of these and every word in a template has a Chinese translation."""

from __future__ import annotations

from services.console.appeals.service import CONTACT_METHODS, RETURN_REASONS, STEPS
from services.console.live.notices import KINDS
from services.console.pages import TIME_LATE, TIME_LEFT
from services.console.queue.service import Punctuality
from shared.identity import Role
from shared.vocabulary import (
    AppealStatus,
    AppealType,
    Category,
    Channel,
    OfficerRole,
    Urgency,
)

STAGES = ("acknowledge", "first_contact", "resolve", "follow_up")
QUEUE_ROLES = ("lead", "assistant")
CLASSIFIED_FIELDS = ("type", "category", "urgency")


def data_words() -> set[str]:
    words: set[str] = set()
    for vocabulary in (AppealStatus, AppealType, Category, Channel, OfficerRole, Urgency, Role):
        words.update(member.value for member in vocabulary)
    words.update(p.value for p in Punctuality)
    words.update(STEPS, CONTACT_METHODS, RETURN_REASONS, STAGES, QUEUE_ROLES, CLASSIFIED_FIELDS)
    words.update(KINDS)
    words.update((TIME_LEFT, TIME_LATE))
    return words
