"""What a reviewer would check in dispatch, checked by reading the source (ast):

- one package per feature, with the same file names where the feature has that job;
- only the stores (`*/store.py`) write dispatch's tables;
- only the ownership decisions (assignments/service.py) claim or release an officer's capacity,
  move an assignment or settle a return, and only the composition root (app.py) makes the
  Postgres repository they work over."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = ROOT / "services" / "dispatch"
WRITES = {"insert", "update", "delete"}
OWNERSHIP_ONLY = {"claim", "release", "move_assignment", "settle_return", "count_return"}


def sources() -> list[Path]:
    return sorted(p for p in DISPATCH.rglob("*.py") if "migrations" not in p.parts)


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def where(path: Path) -> str:
    return str(path.relative_to(DISPATCH))


def test_one_package_per_feature_with_the_same_file_names() -> None:
    files = {p.name: sorted(f.name for f in p.glob("*.py")) for p in DISPATCH.iterdir()}
    assert files["directory"] == [
        "__init__.py",
        "api.py",
        "demo.py",
        "load.py",
        "model.py",
        "service.py",
        "store.py",
    ]
    assert files["assignments"] == [
        "__init__.py",
        "api.py",
        "handlers.py",
        "model.py",
        "routing.py",
        "service.py",
        "store.py",
    ]
    assert {"files.py", "headers.py", "cells.py", "rows.py", "checks.py"} <= set(files["roster"])
    top = sorted(p.name for p in DISPATCH.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "app.py", "tables.py"]


def test_only_the_stores_write_dispatchs_tables() -> None:
    writers = set()
    for path in sources():
        for node in ast.walk(tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in WRITES
                and node.args
            ):
                writers.add(where(path))
    assert writers == {"directory/store.py", "assignments/store.py"}


def test_only_the_ownership_decisions_move_appeals_and_capacity() -> None:
    callers: dict[str, set[str]] = {}
    made = []
    for path in sources():
        for node in ast.walk(tree(path)):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute) and node.func.attr in OWNERSHIP_ONLY:
                callers.setdefault(node.func.attr, set()).add(where(path))
            if isinstance(node.func, ast.Name) and node.func.id == "PostgresAssignments":
                made.append(where(path))
    assert callers == {name: {"assignments/service.py"} for name in OWNERSHIP_ONLY}
    assert made == ["app.py"]
