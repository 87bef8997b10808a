"""Survey exports from REDCap, Qualtrics and Excel, read through one mapping file.

A mapping file (YAML) ties an export's columns and codes to the instrument::

    format: redcap                 # redcap | qualtrics | excel | csv
    file: redcap_records.csv       # the export, relative to the mapping file (or an absolute path)
    dictionary: redcap_dictionary.csv   # REDCap only: the project's data dictionary (web or API layout)
    sheet: Responses               # Excel only (default: the first sheet)
    columns:                       # the study's fields -> the export's columns
      respondent_id: record_id
      microsystem_id: unit
      role: staff_role
      completed_at: self_assessment_timestamp   # optional
    date_format: "%d/%m/%Y %H:%M"  # optional: how completed_at is written (strftime codes); default ISO
    items:                         # every instrument item -> its export column
      information_providers_staff: info_staff
      ...
    levels:                        # an export code (or choice text) -> level, or cant_rate
      "1": 1
      "2": 2
      "3": 3
      "9": cant_rate
    roles: {"1": Physician, ...}   # optional: export code/text -> study role
    microsystems: {...}            # optional: export code/text -> microsystem_id
    incomplete: keep               # keep | exclude responses the platform marks unfinished
    event: baseline_arm_1          # REDCap longitudinal projects: the event to read

REDCap: a raw export (codes) or a labelled export (choice labels, and field labels as
headers) are both read; labels are turned back into codes with the data dictionary, so
one mapping serves both. The dictionary may be REDCap's web export (``Variable / Field
Name``, ``Form Name``, ...) or the API layout (``field_name``, ``form_name``, ... with
``NA`` in empty cells). ``[not completed]`` survey timestamps become empty. Exports
written by R tools are read as REDCap's own: ``TRUE``/``FALSE`` in a form's status column
(``<form>_complete``) as complete or not, and ``NA`` in an item or the timestamp as an empty
cell unless the dictionary or the mapping uses it as a code. Columns the mapping
does not name (other forms, ``<field>___<code>`` checkboxes, free text) are counted as
left out; a mapped item that is a checkbox, or answers held in repeating instruments, are
refused with a message rather than guessed at.

Qualtrics: the CSV export's three header rows (export tags, question texts, import ids
as JSON); columns may be mapped by export tag or by import id. ``Finished`` marks
incomplete responses.

Dates: without ``date_format`` the completion column must hold ISO dates (``YYYY-MM-DD``,
optionally with ``HH:MM`` or ``HH:MM:SS``), which is what REDCap, Qualtrics and a real Excel
date cell give. With it, every non-empty value must match that format (Excel cells that are
real dates are taken as they are).

Every import ends in the same canonical wide frame (one row per respondent; item cells
holding the level as text, ``cant_rate`` or empty), which the study loader turns into
the validated long form, and an :class:`~workbench.io.report.ImportReport` of what the
export held and what was used: ``rows`` (responses) and ``columns`` (plus ``sheets`` for a
workbook), each left-out one with its reason, and notes with the row numbers left out.
Nothing is dropped unless ``incomplete: exclude`` (or ``event:``) says so.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from workbench.errors import InputError
from workbench.frameworks import CANT_RATE, Instrument
from workbench.io.files import open_archive, open_input, read_yaml_model
from workbench.io.report import ImportReport
from workbench.io.tables import (
    ColumnRule,
    check_columns,
    header_rows_of,
    identifier,
    iso_date,
    one_of,
    read_table,
    recode,
)

__all__ = [
    "NOT_COMPLETED", "REDCAP_DICTIONARY_LAYOUTS", "REDCAP_FIXED_COLUMNS", "Columns", "SurveyMapping", "read_mapping",
    "read_redcap_dictionary", "read_survey_export",
]

NOT_COMPLETED = "[not completed]"
REDCAP_FIXED_COLUMNS = (
    "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group",
    "redcap_survey_identifier",
)
# The columns a data dictionary needs, as REDCap's web export and its API (and R/Python clients) name them.
REDCAP_DICTIONARY_LAYOUTS = {
    "web export": (
        "Variable / Field Name", "Form Name", "Field Type", "Field Label", "Choices, Calculations, OR Slider Labels",
    ),
    "API": ("field_name", "form_name", "field_type", "field_label", "select_choices_or_calculations"),
}
# Qualtrics' own columns (by import id): when and how a response was given, not what it says.
_QUALTRICS_METADATA = frozenset({
    "startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate", "_recordId",
    "recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference", "locationLatitude",
    "locationLongitude", "distributionChannel", "userLanguage",
})
_KINDS = {
    "redcap": "REDCap records export", "qualtrics": "Qualtrics CSV export", "excel": "Excel workbook",
    "csv": "CSV table",
}
# Why an export's column or row is not used (the reasons an ImportReport gives).
_OTHER_FORMS = "other forms"
_CHECKBOXES = "checkbox columns"
_NOT_MAPPED = "free text / not mapped"
_METADATA = "platform metadata"
_NOT_IN_DICTIONARY = "not in the data dictionary"
_INCOMPLETE = "marked incomplete by the platform"
_REPEATING = "rows of repeating instruments (no self-assessment answers)"

_EXAMPLE_TIME = datetime(2026, 1, 31, 14, 5, 9)
_ISO = r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?"


class Columns(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    respondent_id: str
    microsystem_id: str
    role: str
    completed_at: str | None = None


class SurveyMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["redcap", "qualtrics", "excel", "csv"]
    file: str
    dictionary: str | None = None
    sheet: str | None = None
    columns: Columns
    date_format: str | None = None
    items: dict[str, str]
    levels: dict[str, int | Literal["cant_rate"]]
    roles: dict[str, str] | None = None
    microsystems: dict[str, str] | None = None
    incomplete: Literal["keep", "exclude"] = "keep"
    event: str | None = None
    redcap_values: Literal["auto", "raw", "labels"] = "auto"

    def mapped_columns(self) -> list[tuple[str, str]]:
        """(entry in the mapping, export column) for every column the mapping names."""
        entries = [(f"columns.{key}", value) for key, value in self.columns.model_dump().items() if value]
        return entries + [(f"items.{item}", column) for item, column in self.items.items()]


@dataclass
class _Export:
    """An export as a reader found it: the rows to use, and what it set aside and why."""

    frame: pd.DataFrame | None  # every column (renamed as the mapping names them), then the mapped ones; None once read
    shown: str  # the export as messages name it (a workbook's with its sheet)
    first_row: int  # the spreadsheet row of the first data row
    rows_in_file: int
    complete: np.ndarray | None = None  # per row of frame: finished, as the platform says
    status_columns: list[str] = field(default_factory=list)  # the columns ``complete`` comes from
    control_columns: list[str] = field(default_factory=list)  # read to choose rows (events, repeats)
    reason_of: Callable[[str], str] = lambda column: _NOT_MAPPED  # why an unused column is not used
    rows_left_out: dict[str, list[int]] = field(default_factory=dict)  # reason -> row numbers
    counts: list[tuple[str, int, int, dict[str, int]]] = field(default_factory=list)  # further elements
    notes: list[str] = field(default_factory=list)
    iso_too: bool = False  # Excel: cells that are real dates arrive as ISO text whatever date_format says
    aliases: list[str] = field(default_factory=list)  # other names a mapping may use for a column (import ids)
    columns: list[str] = field(default_factory=list)  # every column of the export, for the report


def read_mapping(path: Path, *, label: str | None = None) -> SurveyMapping:
    return read_yaml_model(path, SurveyMapping, shown=label, missing="mapping file not found")


def read_survey_export(
    mapping_path: Path,
    *,
    instrument: Instrument,
    microsystem_ids: list[str],
    roles: list[str],
    shown_folder: str | None = None,
) -> tuple[pd.DataFrame, ImportReport]:
    """Read the export a mapping file describes into the canonical wide survey frame.

    Returns
    -------
    (frame, report): ``frame`` has ``respondent_id``, ``microsystem_id``, ``role``,
    ``completed_at`` (``YYYY-MM-DD HH:MM`` or ``""``) and one column per instrument item
    holding ``"1"``..``"3"``, ``"cant_rate"`` or ``""``. ``report`` (an
    :class:`~workbench.io.report.ImportReport` whose source is the export file and whose kind
    is ``"REDCap records export"``, ``"Qualtrics CSV export"``, ``"Excel workbook"`` or
    ``"CSV table"``) counts ``rows`` (responses: in the file, used, and left out as
    ``"marked incomplete by the platform"``, ``"other events than '<event>'"`` or
    ``"rows of repeating instruments (no self-assessment answers)"``) and ``columns`` (used:
    the mapped columns and those read to choose rows; left out as ``"other forms"``,
    ``"checkbox columns"``, ``"free text / not mapped"``, ``"platform metadata"`` or
    ``"not in the data dictionary"``), and for a workbook ``sheets``; its notes give the row
    numbers of every row left out, the columns left out by reason, and what the reader assumed.
    """
    mapping_path = Path(mapping_path)
    folder = mapping_path.parent
    prefix = f"{shown_folder}/" if shown_folder else f"{folder}/"
    label = prefix + mapping_path.name
    mapping = read_mapping(mapping_path, label=label)
    _check_mapping(mapping, instrument, label)
    path, source = _mapped_file(folder, prefix, mapping.file, "file", label)
    readers = {"redcap": _redcap_frame, "qualtrics": _qualtrics_frame, "excel": _excel_frame, "csv": _csv_frame}
    export = readers[mapping.format](path, source, mapping, folder=folder, prefix=prefix, label=label)
    _check_mapped_columns(export, mapping, label)
    # Only the mapped columns go on: the others (other forms, free text) are named in the report and
    # let go now, rather than held, stripped and filtered with the rest of a large export.
    export.columns = [str(c) for c in export.frame.columns]
    export.frame = export.frame[list(dict.fromkeys(column for _, column in mapping.mapped_columns()))]
    incomplete_rows = []
    if export.complete is not None:
        incomplete_rows = [int(i) + export.first_row for i in export.frame.index[~export.complete]]
        if mapping.incomplete == "exclude":
            export.rows_left_out[_INCOMPLETE] = incomplete_rows
            export.frame = export.frame[export.complete]
    wide = _canonical(export, mapping, instrument, microsystem_ids, roles, label)  # takes the frame over
    report = ImportReport(source=source, kind=_KINDS[mapping.format])
    _fill_report(report, export, mapping, len(wide), incomplete_rows)
    return wide, report


def _fill_report(report: ImportReport, export: _Export, mapping: SurveyMapping, used_rows: int, incomplete_rows):
    left = export.rows_left_out
    report.count("rows", in_file=export.rows_in_file, used=used_rows,
                 left_out={reason: len(rows) for reason, rows in left.items()})
    used = {column for _, column in mapping.mapped_columns()} | set(export.control_columns)
    if mapping.incomplete == "exclude" and export.complete is not None:
        used |= set(export.status_columns)
    columns = export.columns
    unused: dict[str, list[str]] = {}
    for column in columns:
        if column not in used:
            unused.setdefault(export.reason_of(column), []).append(column)
    report.count("columns", in_file=len(columns), used=sum(c in used for c in columns),
                 left_out={reason: len(names) for reason, names in unused.items()})
    for element, in_file, used_count, left_out in export.counts:
        report.count(element, in_file=in_file, used=used_count, left_out=left_out)
    for note in export.notes:
        report.note(note)
    for reason, rows in left.items():
        if rows:
            report.note(f"left out as {reason}: {_rows_text(rows)}")
    if incomplete_rows and mapping.incomplete == "keep":
        report.note(f"{len(incomplete_rows)} responses {_INCOMPLETE} are kept (incomplete: keep): "
                    f"{_rows_text(incomplete_rows)}")
    for reason, names in unused.items():
        shown = ", ".join(names[:30]) + (f" … and {len(names) - 30} more" if len(names) > 30 else "")
        report.note(f"columns left out as {reason}: {shown}")


def _rows_text(rows: list[int]) -> str:
    """Row numbers, runs shortened: "rows 2-5, 9"."""
    runs: list[list[int]] = []
    for row in sorted(rows):
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(parts)


def _check_mapping(mapping: SurveyMapping, instrument: Instrument, label: str) -> None:
    missing = [item for item in instrument.item_ids if item not in mapping.items]
    unknown = [item for item in mapping.items if item not in instrument.item_ids]
    if missing or unknown:
        problem = f"items must map every instrument item ({', '.join(instrument.item_ids)})"
        problem += f"; missing {missing}" if missing else f"; not in the instrument: {unknown}"
        raise InputError(problem, file=label)
    allowed_levels = set(instrument.level_values)
    for code, level in mapping.levels.items():
        if level != CANT_RATE and level not in allowed_levels:
            raise InputError(
                f"levels: code {code!r} maps to {level}, expected one of {sorted(allowed_levels)} or cant_rate",
                file=label,
            )
    if mapping.date_format is not None:
        if not mapping.columns.completed_at:
            raise InputError("date_format: is set, but columns.completed_at names no column to read it in", file=label)
        if not re.search(r"%[YyGcxs]", mapping.date_format):
            raise InputError(f"date_format: {mapping.date_format!r} has no year; write it with strftime codes such "
                             "as '%d/%m/%Y' or '%m/%d/%Y %H:%M'", file=label)
        try:
            datetime.strptime(_EXAMPLE_TIME.strftime(mapping.date_format), mapping.date_format)
        except ValueError as error:
            raise InputError(f"date_format: {mapping.date_format!r} is not a date format ({error}); write it with "
                             "strftime codes such as '%d/%m/%Y' or '%m/%d/%Y %H:%M'", file=label) from None


def _mapped_file(folder: Path, prefix: str, name: str, entry: str, label: str) -> tuple[Path, str]:
    """The file a mapping entry names (relative to the mapping file, or absolute) and how to show it."""
    written = Path(name)
    path, shown = (written, str(written)) if written.is_absolute() else (folder / written, prefix + name)
    looked = "" if shown == name else f" (looked for {shown})"
    if not path.exists():
        raise InputError(f"{entry}: {name!r} not found{looked}", file=label)
    if path.is_dir():
        raise InputError(f"{entry}: {name!r} is a folder{looked}; expected a file", file=label)
    if not os.access(path, os.R_OK):
        raise InputError(f"{entry}: {name!r} cannot be read (permission denied){looked}", file=label)
    return path, shown


def _check_mapped_columns(export: _Export, mapping: SurveyMapping, label: str) -> None:
    columns = [str(c) for c in export.frame.columns]
    for entry, column in mapping.mapped_columns():
        if column not in columns:
            near = difflib.get_close_matches(column, columns + export.aliases, n=1)
            shown = ", ".join(repr(c) for c in columns[:12]) + (" …" if len(columns) > 12 else "")
            hint = f"; did you mean {near[0]!r}?" if near else f"; its columns are {shown}"
            raise InputError(f"{entry}: {export.shown} has no column {column!r}{hint}", file=label)


def _canonical(export: _Export, mapping: SurveyMapping, instrument, microsystem_ids, roles, label: str):
    """The export's mapped columns, checked, as the canonical wide frame. The export's frame is taken
    over (``export.frame`` becomes None) so that each source column is let go once it is recoded."""
    frame, export.frame = export.frame, None
    columns = mapping.columns
    shown, first_row = export.shown, export.first_row
    microsystem_values = list(mapping.microsystems) if mapping.microsystems else microsystem_ids
    role_values = list(mapping.roles) if mapping.roles else roles
    level_codes = list(mapping.levels)
    shown_codes = ", ".join(
        f"{code} ({'can' + chr(39) + 't rate' if level == CANT_RATE else 'level ' + str(level)})"
        for code, level in mapping.levels.items()
    )
    microsystem_source = (
        "listed under microsystems: in the mapping"
        if mapping.microsystems
        else "id listed in the study's microsystems file"
    )
    role_source = "listed under roles: in the mapping" if mapping.roles else f"named in study.yaml ({', '.join(roles)})"
    rules = [
        identifier(columns.respondent_id, unique=True),
        one_of(microsystem_values, "a microsystem " + microsystem_source, name=columns.microsystem_id),
        one_of(role_values, "a role " + role_source, name=columns.role),
        *[
            one_of(level_codes, f"{shown_codes} or an empty cell", allow_empty=True, name=mapping.items[item])
            for item in instrument.item_ids
        ],
    ]
    if columns.completed_at:
        rules.append(_date_rule(columns.completed_at, mapping.date_format, export.iso_too))
    checked = check_columns(frame, rules, file=shown, first_row=first_row)
    del frame
    # A mapped value must land on something the study knows: checked the same way for units and roles.
    targets = [
        ("microsystems", mapping.microsystems, columns.microsystem_id, microsystem_ids,
         "which is not in the study's microsystems file"),
        ("roles", mapping.roles, columns.role, roles, f"which is not a role named in study.yaml ({', '.join(roles)})"),
    ]
    for entry, recoding, column, known, unknown in targets:
        if not recoding:
            continue
        bad = ~checked[column].map(recoding).isin(known)
        if bad.any():
            row = int(checked.index[bad.to_numpy()][0])
            value = checked.loc[row, column]
            raise InputError(
                f"{entry}: {value!r} maps to {recoding[value]!r}, {unknown} "
                f"(used at {shown}, row {row + first_row}, column {column!r})",
                file=label,
            )
    out = pd.DataFrame({
        "respondent_id": checked[columns.respondent_id],
        "microsystem_id": (
            recode(checked[columns.microsystem_id], mapping.microsystems)
            if mapping.microsystems
            else checked[columns.microsystem_id]
        ),
        "role": recode(checked[columns.role], mapping.roles) if mapping.roles else checked[columns.role],
        "completed_at": (
            _minutes(checked[columns.completed_at], mapping.date_format, export.iso_too) if columns.completed_at else ""
        ),
    })
    to_canonical = {code: (CANT_RATE if level == CANT_RATE else str(level)) for code, level in mapping.levels.items()}
    to_canonical[""] = ""
    uses = Counter(mapping.items[item] for item in instrument.item_ids)
    for item in instrument.item_ids:
        column = mapping.items[item]
        out[item] = recode(checked[column], to_canonical)
        uses[column] -= 1
        if not uses[column]:
            del checked[column]  # its last use: let it go before the next is recoded
    return out.reset_index(drop=True)


def _date_rule(column: str, date_format: str | None, iso_too: bool) -> ColumnRule:
    if date_format is None:
        return dataclasses.replace(
            iso_date(column, with_time=True, allow_empty=True),
            expected="a date written YYYY-MM-DD, optionally with a time HH:MM or HH:MM:SS (for dates written "
                     "otherwise, set date_format: in the mapping, such as '%d/%m/%Y %H:%M')",
        )
    example = _EXAMPLE_TIME.strftime(date_format)
    return ColumnRule(
        column,
        f"a date written as date_format: {date_format!r} in the mapping says (such as {example!r})",
        lambda values: _parse_dates(values, date_format, iso_too).notna(),
        allow_empty=True,
    )


def _parse_dates(values: pd.Series, date_format: str, iso_too: bool) -> pd.Series:
    """Each value as a (naive, wall-clock) Timestamp; NaT where empty or not a date in the format."""

    def parse(value: str):
        if not value:
            return pd.NaT
        try:
            return pd.Timestamp(datetime.strptime(value, date_format).replace(tzinfo=None))
        except ValueError:
            pass
        if iso_too and re.fullmatch(_ISO, value):
            try:
                return pd.Timestamp(value)
            except ValueError:
                return pd.NaT
        return pd.NaT

    parsed = {value: parse(value) for value in pd.unique(values)}
    return values.map(parsed)


def _minutes(values: pd.Series, date_format: str | None, iso_too: bool) -> pd.Series:
    """Checked dates as ``YYYY-MM-DD HH:MM`` ("" for an empty cell)."""
    if date_format is None:  # ISO, checked by iso_date: the date, then the time's hours and minutes (or midnight)
        time = values.str.slice(11, 16)
        return (values.str.slice(0, 10) + " " + time.where(time.ne(""), "00:00")).where(values.ne(""), "")
    stamps = _parse_dates(values, date_format, iso_too)
    return stamps.map(lambda stamp: "" if pd.isna(stamp) else stamp.strftime("%Y-%m-%d %H:%M"))


def _coded_columns(mapping: SurveyMapping) -> list[str]:
    """The export's columns of codes that repeat (units, roles, answers): read as categories
    (see :func:`~workbench.io.tables.read_table`), a small code per cell rather than its text."""
    return [mapping.columns.microsystem_id, mapping.columns.role, *mapping.items.values()]


def _csv_frame(path, source, mapping, **_) -> _Export:
    frame = read_table(path, label=source, categorical=_coded_columns(mapping))
    return _Export(frame, source, 2, len(frame))


_OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")  # a password-protected workbook, or an old .xls
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _excel_frame(path, source, mapping, **_) -> _Export:
    with open_input(path, source) as handle:  # a regular file only: never a folder, a pipe or a device
        start = handle.read(len(_OLE_SIGNATURE))
    if start == _OLE_SIGNATURE:
        raise InputError(
            "not an Excel .xlsx workbook: it is password-protected (encrypted) or an old .xls file; "
            "expected an .xlsx workbook saved without a password",
            file=source,
        )
    # Every member of the workbook's zip is checked and read once (within the size limits, CRCs
    # verified) before openpyxl reads it.
    with open_archive(path, source, not_a_zip="not an Excel .xlsx workbook (expected a zip archive, as Excel saves)",
                      verify=True) as archive:
        try:
            workbook = pd.ExcelFile(path, engine="openpyxl")
        except Exception as error:  # openpyxl raises several types for a file that is not a workbook
            raise InputError(f"not an Excel .xlsx workbook ({type(error).__name__}: {error})", file=source) from None
        sheet = mapping.sheet or workbook.sheet_names[0]
        if sheet not in workbook.sheet_names:
            raise InputError(f"no sheet called {sheet!r}; the workbook has {workbook.sheet_names}", file=source)
        shown = f"{source}, sheet '{sheet}'"
        try:
            frame = pd.read_excel(workbook, sheet_name=sheet, dtype=object, header=0, keep_default_na=False)
        except Exception as error:  # a damaged sheet: openpyxl and its XML parser raise several types
            raise InputError(f"the sheet cannot be read ({type(error).__name__}: {error})", file=shown) from None
        _refuse_formulas_without_values(archive, sheet, [str(c).strip() for c in frame.columns], source)
    if frame.empty:
        raise InputError("the sheet has a header row but no data rows", file=shown)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.map(_excel_cell_text)
    others = [name for name in workbook.sheet_names if name != sheet]
    export = _Export(frame, shown, 2, len(frame), iso_too=True)
    export.counts.append(("sheets", len(workbook.sheet_names), 1, {"other sheets": len(others)}))
    export.notes.append(f"sheet {sheet!r} read" + (f"; other sheets not read: {', '.join(others)}" if others else ""))
    return export


def _sheet_member(archive, sheet: str) -> str | None:
    """The archive member holding ``sheet`` (through xl/workbook.xml and its relationships)."""
    from defusedxml import ElementTree as SafeElementTree

    try:
        book = SafeElementTree.fromstring(archive.read("xl/workbook.xml"))
        links = SafeElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, SafeElementTree.ParseError):
        return None
    ids = [entry.get(f"{_RELATIONSHIP_NS}id") for entry in book.iter(f"{_SHEET_NS}sheet") if entry.get("name") == sheet]
    targets = {link.get("Id"): link.get("Target", "") for link in links.iter(f"{_PACKAGE_NS}Relationship")}
    if not ids or ids[0] not in targets:
        return None
    target = targets[ids[0]]
    member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return member if member in archive.members else None


def _refuse_formulas_without_values(archive, sheet: str, header: list[str], source: str) -> None:
    """A formula cell saved without its value (openpyxl and some other tools write formulas and
    never compute them) would be read as an empty cell: an answer silently dropped. Refuse it,
    naming its cell."""
    from defusedxml import ElementTree as SafeElementTree

    member = _sheet_member(archive, sheet)
    if member is None:
        return
    tail = b""
    for block in archive.chunks(member):  # most sheets hold no formula at all: a quick look first
        if _FORMULA_TAG.search(tail + block):
            break
        tail = block[-64:]
    else:
        return
    try:
        missing = _formulas_without_values(archive, member)
    except (SafeElementTree.ParseError, ValueError) as error:  # defusedxml's refusals are ValueErrors
        raise InputError(f"the sheet {sheet!r} is not well-formed XML ({error})", file=source) from None
    if not missing:
        return
    cell, formula = missing[0]
    place = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", cell)
    row = column = None
    if place:
        index = 0
        for letter in place.group(1):
            index = index * 26 + ord(letter) - ord("A") + 1
        row = int(place.group(2))
        column = header[index - 1] if 0 < index <= len(header) else None
    quoted = sheet if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet) else "'" + sheet.replace("'", "''") + "'"
    shown_formula = f" (={formula[:60]})" if formula else ""
    raise InputError(
        f"cell {quoted}!{cell} holds a formula{shown_formula} without a stored value; expected the value Excel stores "
        "with every formula - open the workbook in Excel or LibreOffice and save it again",
        file=source, row=row, column=column, more=len(missing) - 1,
    )


def _formulas_without_values(archive, member: str) -> list[tuple[str, str]]:
    """(cell, formula) of each formula cell of a sheet's XML that has no stored value, streamed."""
    from defusedxml import ElementTree as SafeElementTree

    missing = []
    holder = None
    with archive.zip.open(archive.members[member]) as stream:  # already read once, within the limits
        for event, element in SafeElementTree.iterparse(stream, events=("start", "end")):
            if event == "start":
                if element.tag == f"{_SHEET_NS}sheetData":
                    holder = element
                continue
            if element.tag == f"{_SHEET_NS}c":
                formula = element.find(f"{_SHEET_NS}f")
                if formula is not None:
                    value = element.find(f"{_SHEET_NS}v")
                    if value is None or (not value.text and element.get("t") != "str"):  # "" is a stored text
                        missing.append((element.get("r") or "?", formula.text or ""))
            elif element.tag == f"{_SHEET_NS}row" and holder is not None:
                holder.clear()  # keep memory flat: rows already looked at are dropped
    return missing


def _excel_cell_text(value) -> str:
    """Excel stores every number as a float: 2.0 in a level column means the code "2"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _qualtrics_frame(path, source, mapping, **_) -> _Export:
    headers = header_rows_of(path, 3, label=source)
    if len(headers) < 3 or not any('"ImportId"' in cell for cell in headers[2]):
        raise InputError(
            "expected a Qualtrics CSV export with three header rows (export tags, question texts, "
            'import ids such as {"ImportId":"QID1"}); '
            'export with "Use numeric values" or choice text, not the legacy format',
            file=source,
            row=3,
        )
    frame = read_table(path, label=source, header_rows=3, categorical=_coded_columns(mapping))
    import_ids, id_of_tag = {}, {}
    for tag, cell in zip(headers[0], headers[2]):
        try:
            import_id = json.loads(cell)["ImportId"]
        except (ValueError, KeyError, TypeError):
            continue
        import_ids[import_id] = tag.strip()
        id_of_tag[tag.strip()] = import_id
    mapped = [column for _, column in mapping.mapped_columns()]
    renames = {import_ids[name]: name for name in mapped if name not in frame.columns and name in import_ids}
    frame = frame.rename(columns=renames)
    id_of = {renames.get(tag, tag): import_id for tag, import_id in id_of_tag.items()}
    export = _Export(frame, source, 4, len(frame), aliases=[i for i in import_ids if i not in frame.columns])
    export.reason_of = lambda column: (
        _METADATA if id_of.get(column) in _QUALTRICS_METADATA or id_of.get(column, "").startswith("Q_") else _NOT_MAPPED
    )
    if "Finished" in frame.columns:
        finished = frame["Finished"].str.strip().str.lower()
        export.complete = finished.isin(["true", "1"]).to_numpy()
        export.status_columns = ["Finished"]
    if renames:
        export.notes.append("columns mapped by import id: " + ", ".join(
            f"{tag} as {name}" for tag in headers[0] if (name := renames.get(tag.strip()))
        ))
    return export


def _redcap_frame(path, source, mapping, *, folder, prefix, label) -> _Export:
    if not mapping.dictionary:
        raise InputError("dictionary: format redcap needs the project's data dictionary CSV", file=label)
    dictionary_path, dictionary_shown = _mapped_file(folder, prefix, mapping.dictionary, "dictionary", label)
    dictionary = read_redcap_dictionary(dictionary_path, label=dictionary_shown)
    frame = read_table(path, label=source, number_repeated_headers=True)
    rows_in_file = len(frame)
    frame, labelled_headers = _redcap_headers_to_names(frame, dictionary)
    notes = [f"data dictionary {dictionary_shown} read in REDCap's {dictionary['layout']} layout"
             + (" ('NA' cells read as empty)" if dictionary["layout"] == "API" else "")]
    if labelled_headers:
        notes.append("labelled export: field and choice labels read back as field names and codes "
                     "with the data dictionary")
    columns = mapping.columns
    mapped_fields = [columns.respondent_id, columns.microsystem_id, columns.role, *mapping.items.values()]
    for name in mapped_fields:
        if dictionary["types"].get(name) == "checkbox":
            raise InputError(
                f"field {name!r} is a checkbox (exported as {name}___<code> columns); "
                "a self-assessment item needs one answer: make it a radio or dropdown field",
                file=source,
                row=1,
                column=name,
            )
    export = _Export(frame, source, 2, rows_in_file, notes=notes)
    frame = _redcap_select_event(frame, mapping, export)
    frame = _redcap_set_aside_repeats(frame, mapped_fields, export)
    _redcap_r_values(frame, mapping, dictionary, export)
    for name in mapped_fields:
        if name in frame.columns and name in dictionary["choices"]:
            frame[name] = _codes_from_labels(
                frame[name], dictionary["choices"][name], mapping.redcap_values, labelled_headers
            )
    if columns.completed_at and columns.completed_at in frame.columns:
        not_completed = frame[columns.completed_at].str.strip().eq(NOT_COMPLETED)
        if not_completed.any():
            frame[columns.completed_at] = frame[columns.completed_at].mask(not_completed, "")
            export.notes.append(f"{int(not_completed.sum())} survey timestamps {NOT_COMPLETED!r} read as empty")
    forms = list(dict.fromkeys(
        dictionary["forms"][name] for name in mapping.items.values() if name in dictionary["forms"]
    ))
    status_columns = [f"{form}_complete" for form in forms if f"{form}_complete" in frame.columns]
    if status_columns:  # a response is complete when every form holding its items is
        export.complete = (
            frame[status_columns]
            .apply(lambda column: column.str.strip().str.lower().isin(["2", "complete", "true"]))
            .all(axis=1)
            .to_numpy()
        )
        export.status_columns = status_columns
    mapped_forms = {
        form for name in [*mapped_fields[1:], columns.completed_at] if name
        if (form := _redcap_form_of(name, dictionary)) is not None
    }
    export.reason_of = lambda column: _redcap_column_reason(column, dictionary, mapped_forms)
    export.frame = frame
    return export


def _redcap_form_of(column: str, dictionary: dict) -> str | None:
    """The form a record export's column belongs to (a field, a checkbox choice, a form's status or timestamp)."""
    forms = dictionary["forms"]
    if column in forms:
        return forms[column]
    base, sep, _ = column.partition("___")
    if sep and dictionary["types"].get(base) == "checkbox":
        return forms[base]
    for suffix in ("_complete", "_timestamp"):
        if column.endswith(suffix) and column[: -len(suffix)] in set(forms.values()):
            return column[: -len(suffix)]
    return None


def _redcap_column_reason(column: str, dictionary: dict, mapped_forms: set[str]) -> str:
    if column in REDCAP_FIXED_COLUMNS:
        return _METADATA
    form = _redcap_form_of(column, dictionary)
    if form is None:
        return _NOT_IN_DICTIONARY
    if form not in mapped_forms:
        return _OTHER_FORMS
    if column not in dictionary["forms"]:
        base = column.partition("___")[0]
        return _CHECKBOXES if dictionary["types"].get(base) == "checkbox" else _METADATA
    return _NOT_MAPPED


def _redcap_r_values(frame: pd.DataFrame, mapping: SurveyMapping, dictionary: dict, export: _Export) -> None:
    """R tools write NA for an empty cell: read it so in the items and the timestamp, unless it is a code."""
    counts = {}
    for name in dict.fromkeys([*mapping.items.values(), mapping.columns.completed_at]):
        if not name or name not in frame.columns:
            continue
        choices = dictionary["choices"].get(name, {})
        if "NA" in choices or "NA" in choices.values() or "NA" in mapping.levels:
            continue
        missing = frame[name].str.strip().eq("NA")
        if missing.any():
            frame[name] = frame[name].mask(missing, "")
            counts[name] = int(missing.sum())
    if counts:
        export.notes.append(f"{sum(counts.values())} cells 'NA' (R's missing value) read as empty: "
                            + ", ".join(f"{n} in {name}" for name, n in counts.items()))


def read_redcap_dictionary(path: Path, *, label: str) -> dict:
    """Field types, forms, labels and choices (code -> label) from a REDCap data dictionary CSV.

    Either layout is read: REDCap's web export (``Variable / Field Name``, ``Form Name``, ...)
    or the API's (``field_name``, ``form_name``, ..., where ``NA`` marks an empty cell). The
    result's ``layout`` says which (``"web export"`` or ``"API"``).
    """
    table = read_table(path, label=label)
    by_lower = {str(c).lower(): c for c in table.columns}
    layouts = REDCAP_DICTIONARY_LAYOUTS.items()
    found = {layout: sum(h.lower() in by_lower for h in headers) for layout, headers in layouts}
    layout = max(found, key=found.get)
    expected = REDCAP_DICTIONARY_LAYOUTS[layout]
    missing = [h for h in expected if h.lower() not in by_lower]
    if missing:
        near = difflib.get_close_matches(missing[0], [str(c) for c in table.columns], n=1)
        hint = f"; found {near[0]!r} instead" if near else ""
        raise InputError(
            f"required column is missing{hint}; expected a REDCap data dictionary with the columns of the web export "
            f"({', '.join(REDCAP_DICTIONARY_LAYOUTS['web export'])}) or of the API "
            f"({', '.join(REDCAP_DICTIONARY_LAYOUTS['API'])})",
            file=label, row=1, column=missing[0],
        )
    table = table.rename(columns={by_lower[h.lower()]: h for h in expected})[list(expected)]
    if layout == "API":
        table = table.apply(lambda column: column.mask(column.str.strip().eq("NA"), ""))
    table = check_columns(table, [ColumnRule(h, "some text", allow_empty=True) for h in expected], file=label)
    choices, types, forms, labels = {}, {}, {}, {}
    for index, (name, form, kind, field_label, choice_text) in zip(
        table.index, table.itertuples(index=False, name=None)
    ):
        number = int(index) + 2
        if not name:
            if form or kind or field_label or choice_text:
                raise InputError("expected a field name, found an empty cell", file=label, row=number,
                                 column=expected[0])
            continue
        types[name], forms[name], labels[name] = kind, form, field_label
        if kind in ("radio", "dropdown", "checkbox") and choice_text:
            parsed = {}
            for part in choice_text.split("|"):
                code, sep, shown = part.partition(",")
                if not sep:
                    raise InputError(f"choices must read 'code, label | code, label', found {part.strip()!r}",
                                     file=label, row=number, column=expected[4])
                parsed[code.strip()] = shown.strip()
            choices[name] = parsed
        elif kind == "yesno":
            choices[name] = {"1": "Yes", "0": "No"}
        elif kind == "truefalse":
            choices[name] = {"1": "True", "0": "False"}
    return {"choices": choices, "types": types, "forms": forms, "labels": labels, "layout": layout}


def _redcap_headers_to_names(frame: pd.DataFrame, dictionary: dict) -> tuple[pd.DataFrame, bool]:
    """A labelled export has field labels as headers; turn them back into field names.

    Form-level columns carry no field label: "Survey Timestamp" opens a form's fields and
    "Complete?" closes them, so they are named after the form of the fields beside them.
    A checkbox choice, "<field label> (choice=<choice label>)", becomes ``<field>___<code>``.
    """
    known = sum(c in REDCAP_FIXED_COLUMNS or _redcap_form_of(c, dictionary) is not None for c in frame.columns)
    if known >= len(frame.columns) / 2:
        return frame, False
    by_label = {}
    for name, text_ in dictionary["labels"].items():
        by_label.setdefault(_plain(text_), name)
    fixed = {
        "Event Name": "redcap_event_name",
        "Repeat Instrument": "redcap_repeat_instrument",
        "Repeat Instance": "redcap_repeat_instance",
        "Data Access Group": "redcap_data_access_group",
        "Survey Identifier": "redcap_survey_identifier",
    }
    columns = list(frame.columns)
    fields = [by_label.get(_plain(column)) for column in columns]
    renamed = {}
    for position, column in enumerate(columns):
        base = re.sub(r"\.\d+$", "", column)
        choice = re.fullmatch(r"(.*) \(choice=(.*)\)", base, flags=re.DOTALL)
        if column in fixed:
            renamed[column] = fixed[column]
        elif fields[position] and fields[position] not in renamed.values():
            renamed[column] = fields[position]
        elif choice and dictionary["types"].get(by_label.get(_plain(choice[1]), "")) == "checkbox":
            name = by_label[_plain(choice[1])]
            codes = {text_: code for code, text_ in dictionary["choices"].get(name, {}).items()}
            if choice[2] in codes:
                renamed[column] = f"{name}___{codes[choice[2]]}"
        elif base == "Complete?":
            before = next((f for f in reversed(fields[:position]) if f), None)
            if before:
                renamed[column] = f"{dictionary['forms'][before]}_complete"
        elif base == "Survey Timestamp":
            after = next((f for f in fields[position + 1:] if f), None)
            if after:
                renamed[column] = f"{dictionary['forms'][after]}_timestamp"
    return frame.rename(columns=renamed), True


def _plain(text_: str) -> str:
    return re.sub(r"<[^>]+>", "", text_).strip()


def _codes_from_labels(values: pd.Series, choices: dict[str, str], mode: str, labelled_headers: bool) -> pd.Series:
    """A labelled export writes choice labels; a raw one writes codes. Return codes either way.

    The whole column is read one way: as labels when every value is a label and not every
    value is a code, as codes in the opposite case, and when the values fit both (labels
    such as "1", "2", "3") as the export's headers suggest, unless the mapping's
    ``redcap_values`` says which. A value that fits neither is left for the checks to report.
    """
    by_label = {label: code for code, label in choices.items()}
    distinct = pd.unique(values)  # a few values in a column of millions: each looked at once
    present = {value for value in distinct if value != ""}
    as_codes, as_labels = present <= set(choices), present <= set(by_label)
    if mode == "labels" or (mode == "auto" and as_labels and (not as_codes or labelled_headers)):
        return values.map({value: by_label.get(value, value) for value in distinct})
    return values


def _redcap_select_event(frame: pd.DataFrame, mapping: SurveyMapping, export: _Export) -> pd.DataFrame:
    shown = export.shown
    if "redcap_event_name" not in frame.columns:
        if mapping.event:
            raise InputError(
                f"event: {mapping.event!r} is set, but the export has no redcap_event_name column", file=shown, row=1
            )
        return frame
    export.control_columns.append("redcap_event_name")
    events = list(dict.fromkeys(frame["redcap_event_name"]))
    if mapping.event is None:
        if len(events) > 1:
            raise InputError(
                f"a longitudinal export holds several events ({', '.join(events)}); "
                "say which one to read with event: in the mapping",
                file=shown,
                row=1,
                column="redcap_event_name",
            )
        return frame
    if mapping.event not in events:
        raise InputError(
            f"event: {mapping.event!r} is not in the export; its events are {events}",
            file=shown,
            column="redcap_event_name",
        )
    chosen = frame["redcap_event_name"].eq(mapping.event)
    if not chosen.all():
        export.rows_left_out[f"other events than {mapping.event!r}"] = [
            int(i) + export.first_row for i in frame.index[~chosen.to_numpy()]
        ]
    return frame[chosen]


def _redcap_set_aside_repeats(frame: pd.DataFrame, mapped_fields: list[str], export: _Export) -> pd.DataFrame:
    """Rows of repeating instruments hold other forms' data; answers there cannot be placed."""
    if "redcap_repeat_instrument" not in frame.columns:
        return frame
    export.control_columns += [c for c in ("redcap_repeat_instrument", "redcap_repeat_instance") if c in frame.columns]
    instance = frame.get("redcap_repeat_instance", pd.Series("", index=frame.index))
    repeating = frame["redcap_repeat_instrument"].ne("") | instance.ne("")
    items_there = frame.loc[repeating, [f for f in mapped_fields[3:] if f in frame.columns]].ne("").any(axis=1)
    if items_there.any():
        row = int(items_there.index[items_there.to_numpy()][0])
        raise InputError("this row belongs to a repeating instrument and holds self-assessment answers; expected the "
                         "self-assessment on a non-repeating form (one answer set per respondent)",
                         file=export.shown, row=row + export.first_row, column="redcap_repeat_instrument")
    if repeating.any():
        export.rows_left_out[_REPEATING] = [int(i) + export.first_row for i in frame.index[repeating.to_numpy()]]
    return frame[~repeating]
