"""Survey exports from REDCap, Qualtrics and Excel, read through one mapping file.

A mapping file (YAML) ties an export's columns and codes to the instrument::

    format: redcap                 # redcap | qualtrics | excel | csv
    file: redcap_records.csv       # the export, relative to the mapping file
    dictionary: redcap_dictionary.csv   # REDCap only: the project's data dictionary
    sheet: Responses               # Excel only (default: the first sheet)
    columns:                       # the study's fields -> the export's columns
      respondent_id: record_id
      microsystem_id: unit
      role: staff_role
      completed_at: self_assessment_timestamp   # optional
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
one mapping serves both. ``[not completed]`` survey timestamps become empty. Columns the
mapping does not name (other forms, ``<field>___<code>`` checkboxes, free text) are
ignored; a mapped item that is a checkbox, or answers held in repeating instruments, are
refused with a message rather than guessed at.

Qualtrics: the CSV export's three header rows (export tags, question texts, import ids
as JSON); columns may be mapped by export tag or by import id. ``Finished`` marks
incomplete responses.

Every import ends in the same canonical wide frame (one row per respondent; item cells
holding the level as text, ``cant_rate`` or empty), which the study loader turns into
the validated long form. Nothing is dropped unless ``incomplete: exclude`` says so, and
then :class:`ImportSummary` counts and lists what was left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from workbench.errors import InputError
from workbench.frameworks import CANT_RATE, Instrument
from workbench.io.files import read_yaml_model
from workbench.io.tables import check_columns, header_rows_of, identifier, iso_date, one_of, read_table

__all__ = [
    "NOT_COMPLETED", "REDCAP_FIXED_COLUMNS", "Columns", "ImportSummary", "SurveyMapping", "read_mapping",
    "read_redcap_dictionary", "read_survey_export",
]

NOT_COMPLETED = "[not completed]"
REDCAP_FIXED_COLUMNS = (
    "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group",
)


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
    items: dict[str, str]
    levels: dict[str, int | Literal["cant_rate"]]
    roles: dict[str, str] | None = None
    microsystems: dict[str, str] | None = None
    incomplete: Literal["keep", "exclude"] = "keep"
    event: str | None = None
    redcap_values: Literal["auto", "raw", "labels"] = "auto"


@dataclass
class ImportSummary:
    """What an import read, kept and left out (with the export's row numbers and why)."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    excluded: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.source}: {self.rows_read} responses read, {self.rows_kept} kept"
        if self.excluded:
            rows = ", ".join(str(r) for r, _ in self.excluded[:10])
            more = " …" if len(self.excluded) > 10 else ""
            text += f", {len(self.excluded)} left out as incomplete (rows {rows}{more})"
        return text


def read_mapping(path: Path, *, label: str | None = None) -> SurveyMapping:
    return read_yaml_model(path, SurveyMapping, shown=label, missing="mapping file not found")


def read_survey_export(
    mapping_path: Path,
    *,
    instrument: Instrument,
    microsystem_ids: list[str],
    roles: list[str],
    shown_folder: str | None = None,
) -> tuple[pd.DataFrame, ImportSummary]:
    """Read the export a mapping file describes into the canonical wide survey frame.

    Returns
    -------
    (frame, summary): ``frame`` has ``respondent_id``, ``microsystem_id``, ``role``,
    ``completed_at`` and one column per instrument item holding ``"1"``..``"3"``,
    ``"cant_rate"`` or ``""``; ``summary`` counts rows read, kept and left out.
    """
    mapping_path = Path(mapping_path)
    folder = mapping_path.parent
    prefix = f"{shown_folder}/" if shown_folder else f"{folder}/"
    mapping = read_mapping(mapping_path, label=prefix + mapping_path.name)
    missing = [item for item in instrument.item_ids if item not in mapping.items]
    unknown = [item for item in mapping.items if item not in instrument.item_ids]
    if missing or unknown:
        problem = f"items must map every instrument item ({', '.join(instrument.item_ids)})"
        problem += f"; missing {missing}" if missing else f"; not in the instrument: {unknown}"
        raise InputError(problem, file=prefix + mapping_path.name)
    allowed_levels = set(instrument.level_values)
    for code, level in mapping.levels.items():
        if level != CANT_RATE and level not in allowed_levels:
            raise InputError(
                f"levels: code {code!r} maps to {level}, expected one of {sorted(allowed_levels)} or cant_rate",
                file=prefix + mapping_path.name,
            )
    shown = prefix + mapping.file
    readers = {"redcap": _redcap_frame, "qualtrics": _qualtrics_frame, "excel": _excel_frame, "csv": _csv_frame}
    reader = readers[mapping.format]
    frame, first_row, complete, shown = reader(folder, mapping, shown, prefix)
    summary = ImportSummary(source=shown, rows_read=len(frame))
    if mapping.incomplete == "exclude" and complete is not None:
        summary.excluded = [(int(i) + first_row, "marked incomplete by the platform") for i in frame.index[~complete]]
        frame = frame[complete]
    summary.rows_kept = len(frame)
    return _canonical(frame, mapping, instrument, microsystem_ids, roles, shown, first_row), summary


def _canonical(frame, mapping: SurveyMapping, instrument, microsystem_ids, roles, shown, first_row) -> pd.DataFrame:
    columns = mapping.columns
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
        rules.append(iso_date(columns.completed_at, with_time=True, allow_empty=True))
    checked = check_columns(frame, rules, file=shown, first_row=first_row)
    if mapping.microsystems:
        bad = ~checked[columns.microsystem_id].map(mapping.microsystems).isin(microsystem_ids)
        if bad.any():
            row = int(checked.index[bad.to_numpy()][0])
            value = checked.loc[row, columns.microsystem_id]
            raise InputError(
                f"the mapping turns {value!r} into {mapping.microsystems[value]!r}, "
                "which is not in the study's microsystems file",
                file=shown, row=row + first_row, column=columns.microsystem_id,
            )
    out = pd.DataFrame({
        "respondent_id": checked[columns.respondent_id],
        "microsystem_id": (
            checked[columns.microsystem_id].map(mapping.microsystems)
            if mapping.microsystems
            else checked[columns.microsystem_id]
        ),
        "role": checked[columns.role].map(mapping.roles) if mapping.roles else checked[columns.role],
        "completed_at": _iso_minutes(checked[columns.completed_at]) if columns.completed_at else "",
    })
    if mapping.roles:
        unknown_roles = sorted(set(out["role"]) - set(roles))
        if unknown_roles:
            raise InputError(
                f"roles: maps to {unknown_roles}, which are not roles named in study.yaml ({', '.join(roles)})"
            )
    to_canonical = {code: (CANT_RATE if level == CANT_RATE else str(level)) for code, level in mapping.levels.items()}
    to_canonical[""] = ""
    for item in instrument.item_ids:
        out[item] = checked[mapping.items[item]].map(to_canonical)
    return out.reset_index(drop=True)


def _iso_minutes(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values.where(values.ne("")), format="ISO8601")
    return stamps.dt.strftime("%Y-%m-%d %H:%M").fillna("")


def _csv_frame(folder, mapping, shown, prefix):
    return read_table(folder / mapping.file, label=shown), 2, None, shown


def _excel_frame(folder, mapping, shown, prefix):
    path = folder / mapping.file
    try:
        workbook = pd.ExcelFile(path, engine="openpyxl")
    except FileNotFoundError:
        raise InputError("file not found", file=shown) from None
    except Exception as error:  # openpyxl raises several types for a file that is not a workbook
        raise InputError(f"not an Excel .xlsx workbook ({type(error).__name__}: {error})", file=shown) from None
    sheet = mapping.sheet or workbook.sheet_names[0]
    if sheet not in workbook.sheet_names:
        raise InputError(f"no sheet called {sheet!r}; the workbook has {workbook.sheet_names}", file=shown)
    frame = pd.read_excel(workbook, sheet_name=sheet, dtype=object, header=0, keep_default_na=False)
    if frame.empty:
        raise InputError("the sheet has a header row but no data rows", file=f"{shown}, sheet '{sheet}'")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.map(_excel_cell_text)
    return frame, 2, None, f"{shown}, sheet '{sheet}'"


def _excel_cell_text(value) -> str:
    """Excel stores every number as a float: 2.0 in a level column means the code "2"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def _qualtrics_frame(folder, mapping, shown, prefix):
    path = folder / mapping.file
    headers = header_rows_of(path, 3, label=shown)
    if len(headers) < 3 or not any('"ImportId"' in cell for cell in headers[2]):
        raise InputError(
            "expected a Qualtrics CSV export with three header rows (export tags, question texts, "
            'import ids such as {"ImportId":"QID1"}); '
            'export with "Use numeric values" or choice text, not the legacy format',
            file=shown,
            row=3,
        )
    frame = read_table(path, label=shown, header_rows=3)
    import_ids = {}
    for tag, cell in zip(headers[0], headers[2]):
        try:
            import_ids[json.loads(cell)["ImportId"]] = tag.strip()
        except (ValueError, KeyError, TypeError):
            continue
    mapped = [
        mapping.columns.respondent_id, mapping.columns.microsystem_id, mapping.columns.role, *mapping.items.values(),
    ]
    renames = {import_ids[name]: name for name in mapped if name not in frame.columns and name in import_ids}
    frame = frame.rename(columns=renames)
    complete = None
    if "Finished" in frame.columns:
        finished = frame["Finished"].str.strip().str.lower()
        complete = finished.isin(["true", "1"]).to_numpy()
    return frame, 4, complete, shown


def _redcap_frame(folder, mapping, shown, prefix):
    if not mapping.dictionary:
        raise InputError("format redcap needs dictionary: the project's data dictionary CSV", file=prefix + "mapping")
    dictionary = read_redcap_dictionary(folder / mapping.dictionary, label=prefix + mapping.dictionary)
    frame = read_table(folder / mapping.file, label=shown, number_repeated_headers=True)
    frame, labelled_headers = _redcap_headers_to_names(frame, dictionary)
    mapped_fields = [
        mapping.columns.respondent_id, mapping.columns.microsystem_id, mapping.columns.role, *mapping.items.values(),
    ]
    for name in mapped_fields:
        kind = dictionary["types"].get(name)
        if kind == "checkbox":
            raise InputError(
                f"field {name!r} is a checkbox (exported as {name}___<code> columns); "
                "a self-assessment item needs one answer: make it a radio or dropdown field",
                file=shown,
                row=1,
                column=name,
            )
    frame = _redcap_select_event(frame, mapping, shown)
    frame = _redcap_refuse_repeats(frame, mapped_fields, shown)
    for name in mapped_fields:
        if name in frame.columns and name in dictionary["choices"]:
            frame[name] = _codes_from_labels(
                frame[name], dictionary["choices"][name], mapping.redcap_values, labelled_headers
            )
    if mapping.columns.completed_at and mapping.columns.completed_at in frame.columns:
        frame[mapping.columns.completed_at] = frame[mapping.columns.completed_at].replace(NOT_COMPLETED, "")
    complete = None
    forms = list(dict.fromkeys(
        dictionary["forms"][field] for field in dictionary["forms"] if field in set(mapping.items.values())
    ))
    status_columns = [f"{form}_complete" for form in forms if f"{form}_complete" in frame.columns]
    if status_columns:  # a response is complete when every form holding its items is
        complete = (
            frame[status_columns]
            .apply(lambda column: column.str.strip().isin(["2", "Complete"]))
            .all(axis=1)
            .to_numpy()
        )
    return frame, 2, complete, shown


def read_redcap_dictionary(path: Path, *, label: str) -> dict:
    """Field types, forms, labels and choices (code -> label) from a REDCap data dictionary CSV."""
    table = read_table(path, label=label)
    expected = [
        "Variable / Field Name", "Form Name", "Field Type", "Field Label", "Choices, Calculations, OR Slider Labels",
    ]
    table = check_columns(
        table, [one_of(table[c].unique(), "text", allow_empty=True, name=c) for c in expected], file=label
    )
    choices, types, forms, labels = {}, {}, {}, {}
    fields = table[expected].itertuples(index=False, name=None)
    for number, (name, form, kind, field_label, choice_text) in enumerate(fields, start=2):
        types[name], forms[name], labels[name] = kind, form, field_label
        if kind in ("radio", "dropdown", "checkbox") and choice_text:
            parsed = {}
            for part in choice_text.split("|"):
                code, sep, text = part.partition(",")
                if not sep:
                    raise InputError(f"choices must read 'code, label | code, label', found {part.strip()!r}",
                                     file=label, row=number, column=expected[4])
                parsed[code.strip()] = text.strip()
            choices[name] = parsed
        elif kind == "yesno":
            choices[name] = {"1": "Yes", "0": "No"}
    return {"choices": choices, "types": types, "forms": forms, "labels": labels}


def _redcap_headers_to_names(frame: pd.DataFrame, dictionary: dict) -> pd.DataFrame:
    """A labelled export has field labels as headers; turn them back into field names.

    Form-level columns carry no field label: "Survey Timestamp" opens a form's fields and
    "Complete?" closes them, so they are named after the form of the fields beside them.
    """
    names = set(dictionary["types"]) | set(REDCAP_FIXED_COLUMNS)
    if sum(c in names for c in frame.columns) >= len(frame.columns) / 2:
        return frame, False
    by_label = {}
    for name, text in dictionary["labels"].items():
        by_label.setdefault(_plain(text), name)
    fixed = {
        "Event Name": "redcap_event_name",
        "Repeat Instrument": "redcap_repeat_instrument",
        "Repeat Instance": "redcap_repeat_instance",
        "Data Access Group": "redcap_data_access_group",
    }
    columns = list(frame.columns)
    fields = [by_label.get(_plain(column)) for column in columns]
    renamed = {}
    for position, column in enumerate(columns):
        base = re.sub(r"\.\d+$", "", column)
        if column in fixed:
            renamed[column] = fixed[column]
        elif fields[position] and fields[position] not in renamed.values():
            renamed[column] = fields[position]
        elif base == "Complete?":
            before = next((f for f in reversed(fields[:position]) if f), None)
            if before:
                renamed[column] = f"{dictionary['forms'][before]}_complete"
        elif base == "Survey Timestamp":
            after = next((f for f in fields[position + 1:] if f), None)
            if after:
                renamed[column] = f"{dictionary['forms'][after]}_timestamp"
    return frame.rename(columns=renamed), True


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).strip()


def _codes_from_labels(values: pd.Series, choices: dict[str, str], mode: str, labelled_headers: bool) -> pd.Series:
    """A labelled export writes choice labels; a raw one writes codes. Return codes either way.

    The whole column is read one way: as labels when every value is a label and not every
    value is a code, as codes in the opposite case, and when the values fit both (labels
    such as "1", "2", "3") as the export's headers suggest, unless the mapping's
    ``redcap_values`` says which. A value that fits neither is left for the checks to report.
    """
    by_label = {label: code for code, label in choices.items()}
    present = set(values[values.ne("")])
    as_codes, as_labels = present <= set(choices), present <= set(by_label)
    if mode == "labels" or (mode == "auto" and as_labels and (not as_codes or labelled_headers)):
        return values.map(lambda v: by_label.get(v, v))
    return values


def _redcap_select_event(frame: pd.DataFrame, mapping: SurveyMapping, shown: str) -> pd.DataFrame:
    if "redcap_event_name" not in frame.columns:
        if mapping.event:
            raise InputError(
                f"event: {mapping.event!r} is set, but the export has no redcap_event_name column", file=shown, row=1
            )
        return frame
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
    return frame[frame["redcap_event_name"].eq(mapping.event)]


def _redcap_refuse_repeats(frame: pd.DataFrame, mapped_fields: list[str], shown: str) -> pd.DataFrame:
    """Rows of repeating instruments hold other forms' data; answers there cannot be placed."""
    if "redcap_repeat_instrument" not in frame.columns:
        return frame
    instance = frame.get("redcap_repeat_instance", pd.Series("", index=frame.index))
    repeating = frame["redcap_repeat_instrument"].ne("") | instance.ne("")
    items_there = frame.loc[repeating, [f for f in mapped_fields[3:] if f in frame.columns]].ne("").any(axis=1)
    if items_there.any():
        row = int(items_there.index[items_there.to_numpy()][0])
        raise InputError("this row belongs to a repeating instrument and holds self-assessment answers; expected the "
                         "self-assessment on a non-repeating form (one answer set per respondent)",
                         file=shown, row=int(row) + 2, column="redcap_repeat_instrument")
    return frame[~repeating]
