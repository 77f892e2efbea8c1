"""services/SEQUENCE.md names topics and events; each must be one the code has, so the document
cannot drift into describing messages that no longer exist."""

from __future__ import annotations

import re
from pathlib import Path

from shared.events import EVENT_TYPES
from shared.topics import TOPICS

DOC = Path(__file__).resolve().parents[2] / "services" / "SEQUENCE.md"


def test_every_event_and_topic_the_sequence_names_exists() -> None:
    text = DOC.read_text("utf-8")
    named = set(re.findall(r"`([A-Za-z][\w.<>-]*)`", text)) | set(
        re.findall(r"\b([A-Z][a-z]+(?:[A-Z][a-z]+)+)\b", text)
    )
    events = {n for n in named if re.fullmatch(r"(?:[A-Z][a-z]+){2,}", n)}
    topics = {n for n in named if re.fullmatch(r"[a-z]+(?:[.-][a-z<>]+)+", n) and "." in n}
    known_topics = {t.name for t in TOPICS} | {"appeals.inbound.<channel>"}
    assert len(events) >= 15 and len(topics) >= 6  # the check reads the document
    assert events - set(EVENT_TYPES) == set()
    assert topics - known_topics == set()


def test_the_sequence_walks_every_step_of_the_loop() -> None:
    headings = re.findall(r"^## \d+\. (\w+)", DOC.read_text("utf-8"), re.M)
    assert [h.lower() for h in headings] == [
        "received",
        "assigned",
        "accepted",
        "returned",
        "reassigned",
        "worked",
        "followed",
        "reopened",
        "closed",
    ]
