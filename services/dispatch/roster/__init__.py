"""Rosters: the directory as the zone keeps it, in Excel workbooks and CSV exports.

`read_roster` turns a file into checked `Officer` and `Enterprise` models plus a row-by-row list
of what was rejected and why, with row numbers as the user sees them in Excel (header = row 1).
It only reads the bytes it is given; what to do with the result is the caller's business.

- Formats: XLSX (read-only) and CSV in UTF-8 (with or without BOM), UTF-16 with BOM (Excel's
  "Unicode text") or GB18030/GBK (what Chinese Excel saves "CSV" as). The format is decided by
  the content, not the file name.
- Sheets: an officers sheet has an id column (工号 / officer_id), an enterprises sheet a credit
  code column (统一社会信用代码 / credit_code), a departments sheet a department id column
  (部门编号 / department_id), a duty sheet a post column (值班岗位 / post) and the holder's id; a
  workbook may hold any of them. Headers may be Chinese or English, and may sit below a title
  row. Sheets without such a header (instructions, notes) are skipped and mentioned in the report.
  A header that could be read two ways is read as duty before officers (a duty sheet names
  officers by 工号 too) unless it has officers' phones, emails, roles or units, and as officers
  before departments (an officers sheet may have a 部门编号 column); between officers and
  enterprises the sheet's name decides.
- Officers' leave (休假) is a list of periods, `2026-12-01~2026-12-05; 2027-01-10` (a single
  day), each with an optional note in brackets: `2026-12-01~2026-12-05（年假）`.
- Cross-row checks: an id appears once per roster; supervisor, partner, CSO, department
  supervisor and duty references name an officer in the roster (not itself rejected) or one the
  caller says already exists; an officer's department names a department in the same way.

One module per job: `files` (reading CSV and XLSX into sheets of text cells), `headers`
(recognising a sheet and its columns), `cells` (parsing one cell), `rows` (parsing a row into its
model), `checks` (duplicates and references across rows), `report` (all of it, into a
`RosterReport`). The import is `import_roster` in services/dispatch/directory/load.py, run by
`jiban directory import` (jiban/directory_import.py) and dispatch's `POST /v1/directory/roster`.
"""

from services.dispatch.roster.cells import MAX_LENGTHS
from services.dispatch.roster.files import RosterFile, RosterUnreadable, open_roster
from services.dispatch.roster.headers import SheetKind
from services.dispatch.roster.report import RosterReport, SheetSummary, check_roster, read_roster
from services.dispatch.roster.rows import RowError

__all__ = [
    "MAX_LENGTHS",
    "RosterFile",
    "RosterReport",
    "RosterUnreadable",
    "RowError",
    "SheetKind",
    "SheetSummary",
    "check_roster",
    "open_roster",
    "read_roster",
]
