"""The officer's queue as the page shows it (pure): punctuality, filters, counts."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

# Due within this many hours counts as due soon (the deadline warnings come at 80 % of a limit,
# which is a day or more for most: a fixed horizon reads the same on every row).
DUE_SOON_S = 24 * 3600


class Punctuality(StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def punctuality_of(overdue: bool, left_s: float | None) -> Punctuality:
    """Overdue, due within a day, or on time: the one rule the queue and the board colour by."""
    if overdue:
        return Punctuality.OVERDUE
    if left_s is not None and left_s <= DUE_SOON_S:
        return Punctuality.DUE_SOON
    return Punctuality.ON_TIME


def punctuality(item: dict[str, Any]) -> Punctuality:
    return punctuality_of(bool(item.get("overdue")), item.get("time_left_s"))


class QueueFilters(BaseModel):
    status: str = ""
    punctuality: str = ""
    channel: str = ""
    category: str = ""
    role: str = ""
    q: str = ""

    def keeps(self, item: dict[str, Any]) -> bool:
        if self.status and item.get("status") != self.status:
            return False
        if self.punctuality and punctuality(item) != self.punctuality:
            return False
        if self.channel and item.get("channel") != self.channel:
            return False
        if self.category and item.get("category") != self.category:
            return False
        if self.role and item.get("role") != self.role:
            return False
        if self.q:
            needle = self.q.casefold()
            haystack = " ".join(
                str(item.get(k) or "") for k in ("tracking_code", "summary", "category")
            ).casefold()
            if needle not in haystack:
                return False
        return True


class QueueView(BaseModel):
    items: list[dict[str, Any]]
    total: int
    counts: dict[str, int]
    statuses: list[str]
    channels: list[str]
    categories: list[str]


def time_left_words(seconds: int | None) -> tuple[int, int, bool]:
    """(days, hours, overdue) of a time left: the template words them in the language."""
    if seconds is None:
        return 0, 0, False
    overdue = seconds < 0
    seconds = abs(seconds)
    return seconds // 86400, (seconds % 86400) // 3600, overdue


def queue_view(items: list[dict[str, Any]], filters: QueueFilters) -> QueueView:
    """What the page shows: the kept items (the service's order: nearest deadline first), each
    with its punctuality, and counts over the whole queue so the filters' effect is visible."""
    counts: Counter[str] = Counter(punctuality(i).value for i in items)
    counts["total"] = len(items)
    counts["led"] = sum(1 for i in items if i.get("role") == "lead")
    counts["assisted"] = sum(1 for i in items if i.get("role") == "assistant")
    kept = [
        {
            **item,
            "punctuality": punctuality(item).value,
            "left": time_left_words(item.get("time_left_s")),
        }
        for item in items
        if filters.keeps(item)
    ]
    return QueueView(
        items=kept,
        total=len(items),
        counts=dict(counts),
        statuses=sorted({str(i["status"]) for i in items if i.get("status")}),
        channels=sorted({str(i["channel"]) for i in items if i.get("channel")}),
        categories=sorted({str(i["category"]) for i in items if i.get("category")}),
    )
