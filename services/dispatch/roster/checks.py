"""Checks across rows: an id appears once per roster; supervisor, partner, CSO, department
supervisor and duty references name an officer in the roster (not itself rejected) or one the
caller says already exists; an officer's department names a department in the same way."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from services.dispatch.roster.headers import KEY_FIELD, SheetKind
from services.dispatch.roster.rows import REFERENCES, Row


def check_duplicates(rows: Sequence[Row]) -> None:
    seen: dict[tuple[SheetKind, str], list[Row]] = {}
    for row in rows:
        if row.key is not None:
            seen.setdefault((row.kind, row.key), []).append(row)
    for (kind, _key), same in seen.items():
        if len(same) < 2:
            continue
        # Every copy is rejected: when they differ, nothing says which one is right.
        for row in same:
            others = ", ".join(
                f"row {o.number}" + ("" if o.sheet == row.sheet else f" of {o.sheet}")
                for o in same
                if o is not row
            )
            row.fail(KEY_FIELD[kind], f"appears more than once (also on {others})")


_WHAT = {SheetKind.OFFICERS: "an officer", SheetKind.DEPARTMENTS: "a department"}


def check_references(
    rows: Sequence[Row],
    known_officer_ids: Collection[str],
    known_department_ids: Collection[str] = frozenset(),
) -> None:
    known = {SheetKind.OFFICERS: known_officer_ids, SheetKind.DEPARTMENTS: known_department_ids}
    rows_by_key: dict[SheetKind, dict[str, Row]] = {kind: {} for kind in known}
    for r in rows:
        if r.kind in rows_by_key and r.key is not None:
            rows_by_key[r.kind][r.key] = r
    # Names of no one at all, reported on every row (rejected or not) so one pass shows it all.
    for row in rows:
        for name, target in row.references.items():
            kind = REFERENCES[row.kind][name]
            if target not in known[kind] and target not in rows_by_key[kind]:
                row.fail(name, f"is not {_WHAT[kind]} in this roster or in the directory")
    # A reference to a row that is rejected would dangle once imported, so rejecting a row can
    # reject the rows that name it: repeat until nothing more falls.
    changed = True
    while changed:
        changed = False
        for row in rows:
            if row.rejected:
                continue
            for name, target in row.references.items():
                kind = REFERENCES[row.kind][name]
                target_row = rows_by_key[kind].get(target)
                if target in known[kind] or target_row is None or not target_row.rejected:
                    continue
                where = "" if target_row.sheet == row.sheet else f" of {target_row.sheet}"
                row.fail(name, f"is rejected too (row {target_row.number}{where})")
                changed = True
