"""The words: one template per kind, Simplified Chinese, short enough for one SMS segment."""

from __future__ import annotations

from string import Formatter
from typing import Any

TEMPLATES: dict[str, str] = {
    "appeal_received": "【即办】您的诉求已受理，查询码{tracking_code}。我们将尽快处理并与您联系。",
    "new_assignment": "【即办】您有新诉求待签收：{tracking_code}。{reason}",
}


class MissingValue(KeyError):
    pass


def render(kind: str, context: dict[str, Any]) -> str:
    template = TEMPLATES[kind]
    wanted = {name for _, name, _, _ in Formatter().parse(template) if name}
    missing = wanted - {k for k, v in context.items() if v is not None}
    if missing:
        # A message with a hole in it is worse than a failure someone sees.
        raise MissingValue(f"template {kind} needs {sorted(missing)}")
    return template.format(**context)
