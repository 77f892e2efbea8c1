"""What a reviewer would check by reading, checked by reading the source (ast), so it holds as the
code changes:

- in tracking, only the appeal repository (appeals/store.py) writes an appeal's row, history,
  deadlines, extension requests or waiting events, and only the workflow (appeals/workflow.py)
  makes that repository; events about an appeal are made only by the rules (appeals/appeal.py);
- in every service, only the unit of work puts rows into the outbox;
- no service imports another service's modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACKING = ROOT / "services" / "tracking"
SERVICES = ("intake", "dispatch", "tracking", "notify")

# The tables that hold an appeal's state (services/tracking/tables.py).
APPEAL_TABLES = {"appeals", "history", "deadlines", "extensions", "waiting_events"}
WRITES = {"insert", "update", "delete"}
REPOSITORY = TRACKING / "appeals" / "store.py"
WORKFLOW = TRACKING / "appeals" / "workflow.py"
RULES = TRACKING / "appeals" / "appeal.py"


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _table_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # tables.appeals, store.deadlines
        return node.attr
    return None


def appeal_table_writes(path: Path) -> list[str]:
    """`insert(appeals)`, `update(tables.deadlines)`, `history.delete()`, and SQL text that
    writes `tracking.appeals` and the like, with their line numbers."""
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in WRITES and node.args:
                table = _table_name(node.args[0])
                if table in APPEAL_TABLES:
                    found.append(f"{path.name}:{node.lineno} {func.id}({table})")
            if isinstance(func, ast.Attribute) and func.attr in WRITES:
                table = _table_name(func.value)
                if table in APPEAL_TABLES:
                    found.append(f"{path.name}:{node.lineno} {table}.{func.attr}()")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            sql = node.value.upper()
            if any(w.upper() in sql for w in WRITES) and any(
                f"TRACKING.{t.upper()}" in sql for t in APPEAL_TABLES
            ):
                found.append(f"{path.name}:{node.lineno} SQL text")
    return found


def test_only_the_appeal_repository_writes_an_appeals_state_history_or_deadlines() -> None:
    writers = {path: appeal_table_writes(path) for path in sources(TRACKING)}
    assert writers[REPOSITORY], "the check finds the repository's own writes"
    others = {str(p.relative_to(ROOT)): w for p, w in writers.items() if w and p != REPOSITORY}
    assert others == {}


def test_only_the_workflow_makes_the_repository_and_only_the_rules_make_appeal_events() -> None:
    made = []
    appeal_events = []
    event_names = _appeal_event_names()
    for path in sources(TRACKING):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "PostgresAppeals":
                    made.append(path)
                if node.func.id in event_names:
                    appeal_events.append((path, node.func.id))
    assert made == [WORKFLOW]
    assert appeal_events, "the check finds the rules' events"
    assert {p for p, _ in appeal_events} == {RULES}


def _appeal_event_names() -> set[str]:
    from shared.events import EVENT_TYPES

    return {
        cls.__name__
        for cls in EVENT_TYPES.values()
        if "appeal_id" in cls.model_fields and cls.__module__.startswith("shared.events")
    }


def test_only_the_unit_of_work_puts_rows_into_an_outbox() -> None:
    callers = []
    for folder in (ROOT / "services", ROOT / "shared", ROOT / "jiban"):
        for path in sources(folder):
            for node in ast.walk(tree(path)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("put", "put_all", "put_event")
                    and "outbox" in ast.unparse(node.func.value).lower()
                ):
                    callers.append(str(path.relative_to(ROOT)))
    assert callers == ["shared/unit_of_work.py"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another_services_modules(service: str) -> None:
    foreign = []
    for path in sources(ROOT / "services" / service):
        for node in ast.walk(tree(path)):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] != service:
                    foreign.append(f"{path.relative_to(ROOT)}: {name}")
    assert foreign == []
