"""The officer's steps as forms (pure): which fields each takes, and the body tracking gets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

CONTACT_METHODS = ("phone", "visit", "sms")
# `not_my_area` may be accepted by dispatch at once when its rules find another owner.
RETURN_REASONS = ("not_my_area", "needs_other_department", "duplicate", "other")


class Step(BaseModel):
    name: str
    fields: tuple[str, ...]


STEPS: dict[str, Step] = {
    "accept": Step(name="accept", fields=()),
    "contact": Step(name="contact", fields=("method", "note")),
    "progress": Step(name="progress", fields=("note",)),
    "resolve": Step(name="resolve", fields=("resolution",)),
    "return": Step(name="return", fields=("reason_code", "reason")),
    "extension": Step(name="extension", fields=("days", "reason")),
}


def step_body(step: Step, typed: dict[str, str]) -> dict[str, Any]:
    """Tracking's request body from what was typed. A days field that is not a whole number
    goes as typed: tracking refuses it, naming the field, and the form shows why."""
    body: dict[str, Any] = {}
    for field in step.fields:
        value = typed.get(field, "")
        if field == "days" and value.strip().lstrip("-").isdigit():
            body[field] = int(value)
        else:
            body[field] = value
    return body
