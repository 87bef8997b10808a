"""The demo survey as three survey platforms would export it, from the same answers.

REDCap (raw and labelled records exports with their data dictionary), Qualtrics (CSV
with its three header rows) and an Excel workbook, each with the mapping file that reads
it. All of them load to exactly the frames the plain CSV gives; a test checks it.

The platforms' exports know nothing of survey waves: ``write_exports`` is given one wave's
answers (the demo passes its latest wave, the one a fieldwork's download would hold).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml

from workbench.frameworks import Instrument
from workbench.io.files import stable_zip, write_bytes_atomic, write_text_atomic
from workbench.vocabulary import CANT_RATE

__all__ = ["CANT_RATE_CODE", "EXPORTS", "FIXED_TIME", "QUALTRICS_CANT_RATE", "ROLE_CODES", "write_exports"]

EXPORTS = "exports"
ROLE_CODES = {
    "Physician": "1", "Nurse": "2", "Medical assistant": "3", "Clerical": "4", "Manager": "5", "Allied health": "6",
}
CANT_RATE_CODE = "9"
QUALTRICS_CANT_RATE = "4"
FIXED_TIME = datetime(2026, 6, 1, 9, 0, 0)


def write_exports(folder: Path, survey: pd.DataFrame, microsystems: pd.DataFrame, instrument: Instrument, rng) -> None:
    target = Path(folder) / EXPORTS
    unit_codes = {mid: str(position + 1) for position, mid in enumerate(microsystems["microsystem_id"])}
    names = microsystems.set_index("microsystem_id")["name"]
    incomplete = survey[instrument.item_ids].eq("").any(axis=1)  # a skipped item: the platform saw an unfinished survey
    _redcap(target, survey, instrument, unit_codes, names, incomplete, rng)
    _qualtrics(target, survey, instrument, incomplete)
    _excel(target, survey, instrument)


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _yaml(header: str, content: dict) -> str:
    return header + yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=120)


def _redcap(target, survey, instrument, unit_codes, names, incomplete, rng) -> None:
    level_choices = lambda item: (  # noqa: E731
        " | ".join(f"{v}, {t}" for v, t in item.levels.items()) + f" | {CANT_RATE_CODE}, Can't rate"
    )
    dictionary = [
        [
            "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
            "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
            "Required Field?",
        ],
        ["record_id", "staff_details", "", "text", "Record ID", "", "", "", ""],
        [
            "unit", "staff_details", "", "dropdown", "Microsystem",
            " | ".join(f"{code}, {names[mid]}" for mid, code in unit_codes.items()), "", "", "y",
        ],
        [
            "staff_role", "staff_details", "", "radio", "Your role in the unit",
            " | ".join(f"{c}, {r}" for r, c in ROLE_CODES.items()), "", "", "y",
        ],
        [
            "shift", "staff_details", "", "checkbox", "Shifts you usually work", "1, Day | 2, Evening | 3, Night",
            "", "", "",
        ],
    ]
    for item in instrument.items:
        dictionary.append([item.id[:26], "self_assessment", "", "radio", item.label, level_choices(item), "", "", ""])
    dictionary.append(["comments", "self_assessment", "", "notes", "Anything else about your unit?", "", "", "", ""])
    field_of = {item.id: item.id[:26] for item in instrument.items}  # REDCap field names are short

    shifts = rng.integers(0, 2, size=(len(survey), 3))
    comments = ["", "", "", "", "Good team.\nShort staffed on weekends, though.", "Huddles help, when they happen."]
    raw_rows, label_rows = [], []
    header_raw = ["record_id", "unit", "staff_role", "shift___1", "shift___2", "shift___3", "staff_details_complete",
                  "self_assessment_timestamp", *field_of.values(), "comments", "self_assessment_complete"]
    header_labels = [
        "Record ID", "Microsystem", "Your role in the unit", "Shifts you usually work (choice=Day)",
        "Shifts you usually work (choice=Evening)", "Shifts you usually work (choice=Night)", "Complete?",
        "Survey Timestamp", *[item.label for item in instrument.items], "Anything else about your unit?", "Complete?",
    ]
    for position, row in enumerate(survey.itertuples(index=False)):
        row = row._asdict()
        unfinished = bool(incomplete.iloc[position])
        stamp = "[not completed]" if unfinished else row["completed_at"] + ":00"
        comment = comments[int(rng.integers(len(comments)))]
        codes = [CANT_RATE_CODE if row[i] == "9" else row[i] for i in instrument.item_ids]
        raw_rows.append([row["respondent_id"], unit_codes[row["microsystem_id"]], ROLE_CODES[row["role"]],
                         *[str(s) for s in shifts[position]], "2", stamp, *codes, comment, "0" if unfinished else "2"])
        labels = [
            ("Can't rate" if c == CANT_RATE_CODE else instrument.item(i).levels[int(c)]) if c else ""
            for i, c in zip(instrument.item_ids, codes)
        ]
        label_rows.append([
            row["respondent_id"], names[row["microsystem_id"]], row["role"],
            *["Checked" if s else "Unchecked" for s in shifts[position]], "Complete", stamp, *labels, comment,
            "Incomplete" if unfinished else "Complete",
        ])
    write_text_atomic(target / "redcap_dictionary.csv", _csv_text(dictionary))
    write_text_atomic(target / "redcap_records.csv", _csv_text([header_raw, *raw_rows]))
    write_text_atomic(target / "redcap_records_labels.csv", _csv_text([header_labels, *label_rows]))
    mapping = {
        "format": "redcap",
        "file": "redcap_records.csv",
        "dictionary": "redcap_dictionary.csv",
        "columns": {
            "respondent_id": "record_id",
            "microsystem_id": "unit",
            "role": "staff_role",
            "completed_at": "self_assessment_timestamp",
        },
        "items": field_of,
        "levels": {"1": 1, "2": 2, "3": 3, CANT_RATE_CODE: CANT_RATE},
        "roles": {code: role for role, code in ROLE_CODES.items()},
        "microsystems": {code: mid for mid, code in unit_codes.items()},
        "incomplete": "keep",
    }
    header = "# Reads the demo study's REDCap records export. Written by `workbench demo`.\n"
    write_text_atomic(target / "redcap_mapping.yaml", _yaml(header, mapping))
    header = "# The same mapping reads REDCap's labelled export: labels are decoded with the data dictionary.\n"
    write_text_atomic(
        target / "redcap_labels_mapping.yaml", _yaml(header, mapping | {"file": "redcap_records_labels.csv"})
    )


def _qualtrics(target, survey, instrument, incomplete) -> None:
    meta = [
        "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished", "RecordedDate",
        "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail", "ExternalReference",
        "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
    ]
    tags = [*meta, "Q1", *[f"Q2_{n}" for n in range(1, len(instrument.items) + 1)], "unit"]
    texts = [
        *meta[:5], "Duration (in seconds)", "Finished", "Recorded Date", "Response ID", "Recipient Last Name",
        "Recipient First Name", "Recipient Email", "External Data Reference", "Location Latitude", "Location Longitude",
        "Distribution Channel", "User Language",
        "What is your role in this unit?",
        *[
            f"For each part of your unit, choose the description that fits best. - {item.label}"
            for item in instrument.items
        ],
        "unit",
    ]
    meta_ids = [
        "startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate", "_recordId",
        "recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference", "locationLatitude",
        "locationLongitude", "distributionChannel", "userLanguage",
    ]
    compact = lambda value: json.dumps(value, separators=(",", ":"))  # noqa: E731
    import_ids = [
        compact({"ImportId": i, "timeZone": "America/New_York"} if "Date" in i else {"ImportId": i}) for i in meta_ids
    ]
    import_ids += [
        compact({"ImportId": "QID1"}),
        *[compact({"ImportId": f"QID2_{n}"}) for n in range(1, len(instrument.items) + 1)],
        compact({"ImportId": "unit"}),
    ]
    rows = [tags, texts, import_ids]
    for position, row in enumerate(survey.itertuples(index=False)):
        row = row._asdict()
        finished = not bool(incomplete.iloc[position])
        end = datetime.strptime(row["completed_at"], "%Y-%m-%d %H:%M")
        duration = 240 + 37 * (position % 9)
        start = end - pd.Timedelta(seconds=duration)
        values = [(QUALTRICS_CANT_RATE if row[i] == "9" else row[i]) for i in instrument.item_ids]
        rows.append([
            start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"), "IP Address", "",
            "100" if finished else "91", str(duration), "True" if finished else "False",
            end.strftime("%Y-%m-%d %H:%M:%S"), f"R_demo{position + 1:05d}",
            "", "", "", row["respondent_id"], "", "", "email", "EN", row["role"], *values, row["microsystem_id"],
        ])
    write_text_atomic(target / "qualtrics_export.csv", _csv_text(rows))
    mapping = {
        "format": "qualtrics",
        "file": "qualtrics_export.csv",
        "columns": {
            "respondent_id": "ExternalReference", "microsystem_id": "unit", "role": "Q1", "completed_at": "EndDate",
        },
        "items": {item.id: f"QID2_{n}" for n, item in enumerate(instrument.items, start=1)},
        "levels": {"1": 1, "2": 2, "3": 3, QUALTRICS_CANT_RATE: CANT_RATE},
        "incomplete": "keep",
    }
    header = "# Reads the demo study's Qualtrics CSV export (items mapped by import id). Written by `workbench demo`.\n"
    write_text_atomic(target / "qualtrics_mapping.yaml", _yaml(header, mapping))


def _excel(target, survey, instrument) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Responses"
    headers = ["Respondent", "Unit", "Role", "Completed", *[item.short for item in instrument.items]]
    sheet.append(headers)
    for row in survey.itertuples(index=False):
        row = row._asdict()
        cells = [
            int(row[i]) if row[i] in ("1", "2", "3") else ("Can't rate" if row[i] == "9" else None)
            for i in instrument.item_ids
        ]
        sheet.append([
            row["respondent_id"],
            row["microsystem_id"],
            row["role"],
            datetime.strptime(row["completed_at"], "%Y-%m-%d %H:%M"),
            *cells,
        ])
    notes = book.create_sheet("Notes")
    notes.append(["Cleaned in Excel by the study team; one row per respondent. Blank = skipped."])
    book.properties.created = book.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    write_bytes_atomic(target / "survey_workbook.xlsx", stable_zip(buffer.getvalue(), FIXED_TIME))
    mapping = {
        "format": "excel",
        "file": "survey_workbook.xlsx",
        "sheet": "Responses",
        "columns": {
            "respondent_id": "Respondent", "microsystem_id": "Unit", "role": "Role", "completed_at": "Completed",
        },
        "items": {item.id: item.short for item in instrument.items},
        "levels": {"1": 1, "2": 2, "3": 3, "Can't rate": CANT_RATE},
    }
    header = "# Reads the demo study's survey as cleaned in an Excel workbook. Written by `workbench demo`.\n"
    write_text_atomic(target / "excel_mapping.yaml", _yaml(header, mapping))
