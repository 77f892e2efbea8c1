"""Dispatch's directory (名录): officers, enterprises, departments and duty posts.

`model` (what the directory holds; importable from here), `store` (its tables' reads and
upserts), `service` (the changes made over HTTP, each with its event), `load` (a whole directory
loaded at once), `api` (HTTP), `demo` (the demo directory). Rosters read from files are in
`services.dispatch.roster`; routing reads the same tables (`services.dispatch.assignments`)."""

from services.dispatch.directory.model import (
    CHAIN_LABELS_ZH,
    Department,
    Directory,
    DutyPost,
    Enterprise,
    LeavePeriod,
    Officer,
    local_today,
    on_leave,
)

__all__ = [
    "CHAIN_LABELS_ZH",
    "Department",
    "Directory",
    "DutyPost",
    "Enterprise",
    "LeavePeriod",
    "Officer",
    "local_today",
    "on_leave",
]
