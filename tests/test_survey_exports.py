"""Survey platform exports: every format loads to the frames the plain CSV gives, and the
platforms' quirks are taken or refused with a message, never misread."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import DEMO
from workbench.errors import InputError
from workbench.io import study_csv, survey_exports
from workbench.io.report import ElementCount, ImportReport
from workbench.study import load_study

EXPORT_MAPPINGS = ["redcap_mapping.yaml", "redcap_labels_mapping.yaml", "qualtrics_mapping.yaml", "excel_mapping.yaml"]
FIXTURES = Path(__file__).parent / "fixtures" / "surveys"
INCOMPLETE = "marked incomplete by the platform"
REDCAP_COLUMNS = {"checkbox columns": 3, "platform metadata": 2, "free text / not mapped": 1}
# mapping -> (export file, kind, {element: (in file, used, left out)}) for the demo's exports, rows aside
DEMO_REPORTS = {
    "redcap_mapping.yaml": ("redcap_records.csv", "REDCap records export", {"columns": (20, 14, REDCAP_COLUMNS)}),
    "redcap_labels_mapping.yaml": (
        "redcap_records_labels.csv", "REDCap records export", {"columns": (20, 14, REDCAP_COLUMNS)},
    ),
    "qualtrics_mapping.yaml": ("qualtrics_export.csv", "Qualtrics CSV export",
                               {"columns": (29, 14, {"platform metadata": 15})}),
    "excel_mapping.yaml": ("survey_workbook.xlsx", "Excel workbook",
                           {"columns": (14, 14, {}), "sheets": (2, 1, {"other sheets": 1})}),
}


@pytest.fixture(scope="module")
def reference():
    """The demo study, with its survey frames as the plain CSV gives them (raw ids, before pseudonyms)."""
    study = load_study(DEMO)
    # The exports hold the latest wave only.
    respondents, answers = study_csv.read_survey_waves(
        DEMO / "survey_responses.csv", shown="survey_responses.csv", instrument=study.instrument,
        microsystem_ids=study.microsystems["microsystem_id"].tolist(), roles=study.config.roles,
        level_codes=study.config.survey_coding.levels, cant_rate_codes=study.config.survey_coding.cant_rate,
        waves=[wave.id for wave in study.config.waves])[study.config.latest_wave.id]
    return dataclasses.replace(study, respondents=respondents, answers=answers)


def read(mapping: Path, study, **overrides):
    if overrides:
        content = yaml.safe_load(mapping.read_text()) | overrides
        mapping.write_text(yaml.safe_dump(content))
    return survey_exports.read_survey_export(
        mapping,
        instrument=study.instrument,
        microsystem_ids=study.microsystems["microsystem_id"].tolist(),
        roles=study.config.roles,
    )


@pytest.fixture
def exports(tmp_path) -> Path:
    target = tmp_path / "exports"
    shutil.copytree(DEMO / "exports", target)
    return target


def count(report: ImportReport, element: str) -> ElementCount:
    return next(c for c in report.counts if c.element == element)


def rows_in_note(report: ImportReport, start: str) -> list[int]:
    """The row numbers a report's note lists ("rows 2-4, 9" -> [2, 3, 4, 9])."""
    note = next(n for n in report.notes if n.startswith(start))
    numbers = []
    for part in re.sub(r".*\brows? ", "", note).split(", "):
        first, _, last = part.partition("-")
        numbers += range(int(first), int(last or first) + 1)
    return numbers


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("mapping", EXPORT_MAPPINGS)
def test_every_export_loads_to_the_same_frames_as_the_plain_csv(mapping, reference):
    wide, report = read(DEMO / "exports" / mapping, reference)
    respondents, answers = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_frame_equal(respondents, reference.respondents)
    pd.testing.assert_frame_equal(answers, reference.answers)
    file, kind, counts = DEMO_REPORTS[mapping]
    assert (report.source, report.kind) == (f"{DEMO / 'exports'}/{file}", kind)
    n = len(reference.respondents)
    assert [(c.element, c.in_file, c.used, c.left_out) for c in report.counts] == [
        ("rows", n, n, {}), *[(element, *numbers) for element, numbers in counts.items()]
    ]
    assert ImportReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_the_report_names_the_columns_left_out_and_why(reference):
    _, report = read(DEMO / "exports" / "redcap_labels_mapping.yaml", reference)
    assert "columns left out as checkbox columns: shift___1, shift___2, shift___3" in report.notes
    assert "columns left out as platform metadata: staff_details_complete, self_assessment_complete" in report.notes
    assert "columns left out as free text / not mapped: comments" in report.notes
    assert any(note.startswith("labelled export: ") for note in report.notes)
    _, report = read(DEMO / "exports" / "qualtrics_mapping.yaml", reference)
    assert "Finished" in next(n for n in report.notes if n.startswith("columns left out as platform metadata: "))


def test_a_study_can_read_its_survey_through_a_mapping(demo_copy):
    from_csv = load_study("demo")
    config = yaml.safe_load((demo_copy / "study.yaml").read_text())
    config["survey_export"] = "exports/qualtrics_mapping.yaml"
    config.pop("waves")  # the export holds the latest wave: the study of that one wave
    (demo_copy / "survey_responses.csv").unlink()
    (demo_copy / "study.yaml").write_text(yaml.safe_dump(config))
    pd.testing.assert_frame_equal(load_study("demo").answers, from_csv.answers)


def test_redcap_not_completed_timestamps_become_empty(reference):
    wide, _ = read(DEMO / "exports" / "redcap_mapping.yaml", reference)
    records = csv_rows(DEMO / "exports/redcap_records.csv")
    raw = pd.DataFrame(records[1:], columns=records[0])
    unfinished = raw["self_assessment_timestamp"].eq("[not completed]").to_numpy()
    assert unfinished.any()
    assert wide.loc[unfinished, "completed_at"].eq("").all()
    assert wide.loc[~unfinished, "completed_at"].str.match(r"\d{4}-\d\d-\d\d \d\d:\d\d$").all()


@pytest.mark.parametrize("mapping", ["redcap_mapping.yaml", "redcap_labels_mapping.yaml", "qualtrics_mapping.yaml"])
def test_excluding_incomplete_responses_is_counted_and_listed(exports, reference, mapping):
    skipped_any = reference.answers.groupby("respondent_id", sort=False)["answer"].apply(
        lambda a: a.eq("no_answer").any()
    ).to_numpy()
    first_row = 4 if mapping.startswith("qualtrics") else 2
    incomplete_rows = [position + first_row for position in range(len(skipped_any)) if skipped_any[position]]
    _, kept = read(exports / mapping, reference)
    assert count(kept, "rows").left_out == {}
    assert rows_in_note(kept, f"{len(incomplete_rows)} responses {INCOMPLETE} are kept") == incomplete_rows
    wide, report = read(exports / mapping, reference, incomplete="exclude")
    rows = count(report, "rows")
    assert rows.left_out == {INCOMPLETE: len(incomplete_rows)} and len(incomplete_rows) > 0
    assert rows.used == len(wide) == rows.in_file - len(incomplete_rows) == len(reference.respondents) - len(
        incomplete_rows
    )
    assert rows_in_note(report, f"left out as {INCOMPLETE}: ") == incomplete_rows
    assert f"left out: {INCOMPLETE}" in report.line()
    assert count(report, "columns").used == count(kept, "columns").used + 1  # the form status, now read


def test_redcap_longitudinal_export_needs_an_event(exports, reference):
    rows = csv_rows(exports / "redcap_records.csv")
    header, data = rows[0], rows[1:]
    follow_up = [list(r) for r in data[:5]]
    rows = (
        [["redcap_event_name", *header]]
        + [["baseline_arm_1", *r] for r in data]
        + [["followup_arm_1", *r] for r in follow_up]
    )
    write_rows(exports / "redcap_records.csv", rows)
    with pytest.raises(
        InputError, match=r"several events \(baseline_arm_1, followup_arm_1\); say which one to read with event:"
    ):
        read(exports / "redcap_mapping.yaml", reference)
    wide, report = read(exports / "redcap_mapping.yaml", reference, event="baseline_arm_1")
    assert len(wide) == len(data)
    assert count(report, "rows").left_out == {"other events than 'baseline_arm_1'": len(follow_up)}
    assert rows_in_note(report, "left out as other events") == list(range(len(data) + 2, len(rows) + 1))
    assert count(report, "columns").used == 15  # the event column chooses the rows
    with pytest.raises(InputError, match=r"event: 'month_6' is not in the export"):
        read(exports / "redcap_mapping.yaml", reference, event="month_6")


def test_redcap_repeating_rows_without_answers_are_set_aside_and_with_answers_refused(exports, reference):
    rows = csv_rows(exports / "redcap_records.csv")
    header, data = rows[0], rows[1:]
    blank = ["" for _ in header]
    repeat_row = [data[0][0], *blank[1:]]  # another instrument's repeat for record 1: no self-assessment answers
    rows = (
        [[*header, "redcap_repeat_instrument", "redcap_repeat_instance"]]
        + [[*r, "", ""] for r in data]
        + [[*repeat_row, "medication_log", "1"]]
    )
    write_rows(exports / "redcap_records.csv", rows)
    wide, report = read(exports / "redcap_mapping.yaml", reference)
    assert len(wide) == len(data)
    repeating = "rows of repeating instruments (no self-assessment answers)"
    assert count(report, "rows").left_out == {repeating: 1}
    assert rows_in_note(report, f"left out as {repeating}") == [len(rows)]
    rows[-1][header.index("measurement")] = "2"
    write_rows(exports / "redcap_records.csv", rows)
    with pytest.raises(
        InputError,
        match=rf"row {len(rows)}, column 'redcap_repeat_instrument': this row belongs to a repeating instrument",
    ):
        read(exports / "redcap_mapping.yaml", reference)


def test_redcap_checkbox_item_is_refused(exports, reference):
    rows = csv_rows(exports / "redcap_dictionary.csv")
    for row in rows:
        if row[0] == "measurement":
            row[3] = "checkbox"
    write_rows(exports / "redcap_dictionary.csv", rows)
    with pytest.raises(InputError, match=r"field 'measurement' is a checkbox"):
        read(exports / "redcap_mapping.yaml", reference)


def test_redcap_code_outside_the_mapping_is_named_by_row_and_export_column(exports, reference):
    rows = csv_rows(exports / "redcap_records.csv")
    rows[5][rows[0].index("constancy_of_purpose")] = "7"
    write_rows(exports / "redcap_records.csv", rows)
    with pytest.raises(
        InputError,
        match=r"redcap_records\.csv, row 6, column 'constancy_of_purpose': "
        r"expected 1 \(level 1\), 2 \(level 2\), 3 \(level 3\), 9 \(can't rate\) or an empty cell, found '7'",
    ):
        read(exports / "redcap_mapping.yaml", reference)


def test_redcap_multiline_comments_do_not_shift_rows(reference):
    raw = (DEMO / "exports/redcap_records.csv").read_text()
    assert "Good team.\nShort staffed" in raw
    wide, _ = read(DEMO / "exports" / "redcap_mapping.yaml", reference)
    assert wide["respondent_id"].tolist() == reference.respondents["respondent_id"].tolist()


def test_qualtrics_value_error_counts_rows_below_three_header_rows(exports, reference):
    rows = csv_rows(exports / "qualtrics_export.csv")
    rows[3 + 9][rows[0].index("Q2_4")] = "5"  # the tenth response
    write_rows(exports / "qualtrics_export.csv", rows)
    with pytest.raises(InputError, match=r"qualtrics_export\.csv, row 13, column 'QID2_4': expected .* found '5'"):
        read(exports / "qualtrics_mapping.yaml", reference)


def test_qualtrics_export_without_import_ids_is_refused(exports, reference):
    rows = csv_rows(exports / "qualtrics_export.csv")
    del rows[2]
    write_rows(exports / "qualtrics_export.csv", rows)
    with pytest.raises(InputError, match=r"row 3: expected a Qualtrics CSV export with three header rows"):
        read(exports / "qualtrics_mapping.yaml", reference)


def test_excel_that_is_not_a_workbook_and_a_missing_sheet(exports, reference):
    with pytest.raises(InputError, match=r"no sheet called 'Answers'; the workbook has \['Responses', 'Notes'\]"):
        read(exports / "excel_mapping.yaml", reference, sheet="Answers")
    (exports / "survey_workbook.xlsx").write_text("respondent,unit\nR1,MS01\n")
    with pytest.raises(InputError, match=r"survey_workbook\.xlsx: not an Excel \.xlsx workbook"):
        read(exports / "excel_mapping.yaml", reference)


def test_excel_cell_error_names_sheet_row_and_header(exports, reference):
    from openpyxl import load_workbook

    book = load_workbook(exports / "survey_workbook.xlsx")
    book["Responses"]["H5"] = "often"  # column H is the 4th item, Measurement
    book.save(exports / "survey_workbook.xlsx")
    with pytest.raises(
        InputError,
        match=r"survey_workbook\.xlsx, sheet 'Responses', row 5, column 'Measurement': expected .* found 'often'",
    ):
        read(exports / "excel_mapping.yaml", reference)


def test_a_mapping_must_cover_every_item(exports, reference):
    content = yaml.safe_load((exports / "qualtrics_mapping.yaml").read_text())
    del content["items"]["measurement"]
    (exports / "qualtrics_mapping.yaml").write_text(yaml.safe_dump(content))
    with pytest.raises(
        InputError, match=r"qualtrics_mapping\.yaml: items must map every instrument item .* missing \['measurement'\]"
    ):
        read(exports / "qualtrics_mapping.yaml", reference)


def test_redcap_labelled_values_that_look_like_codes_are_decoded_as_labels(exports, reference):
    # Choices coded 0/1/2 but labelled "1"/"2"/"3": in the labelled export every cell is a
    # valid code AND a valid label, so the reading must follow the export's labelled headers.
    rows = csv_rows(exports / "redcap_dictionary.csv")
    items = {row[0] for row in rows[1:] if row[1] == "self_assessment" and row[3] == "radio"}
    for row in rows[1:]:
        if row[0] in items:
            row[5] = "0, 1 | 1, 2 | 2, 3 | 9, Can't rate"
    write_rows(exports / "redcap_dictionary.csv", rows)
    labelled = csv_rows(exports / "redcap_records_labels.csv")
    raw = csv_rows(exports / "redcap_records.csv")
    item_columns = [raw[0].index(name) for name in raw[0] if name in items]
    label_columns = [i for i, h in enumerate(labelled[0]) if h in {r[4] for r in rows[1:] if r[0] in items}]
    for raw_row, label_row in zip(raw[1:], labelled[1:]):
        for raw_column, label_column in zip(item_columns, label_columns):
            label_row[label_column] = "Can't rate" if raw_row[raw_column] == "9" else raw_row[raw_column]
    write_rows(exports / "redcap_records_labels.csv", labelled)
    mapping = yaml.safe_load((exports / "redcap_labels_mapping.yaml").read_text())
    mapping["levels"] = {"0": 1, "1": 2, "2": 3, "9": "cant_rate"}
    (exports / "redcap_labels_mapping.yaml").write_text(yaml.safe_dump(mapping))
    wide, _ = read(exports / "redcap_labels_mapping.yaml", reference)
    _, answers = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_series_equal(answers["level"], reference.answers["level"])


def test_blank_lines_do_not_shift_reported_row_numbers(exports, reference):
    path = exports / "redcap_records.csv"
    lines = path.read_text().split("\n")
    lines.insert(3, "")  # a blank line becomes spreadsheet row 4
    path.write_text("\n".join(lines))
    rows = csv_rows(path)
    bad = 6  # spreadsheet row 7
    rows[bad][rows[0].index("measurement")] = "7"
    write_rows(path, rows)
    with pytest.raises(InputError, match=r"redcap_records\.csv, row 7, column 'measurement'"):
        read(exports / "redcap_mapping.yaml", reference)


def test_redcap_completion_needs_every_form_holding_items(exports, reference):
    rows = csv_rows(exports / "redcap_dictionary.csv")
    for row in rows[1:]:
        if row[0] in ("measurement", "constancy_of_purpose"):
            row[1] = "part_two"
    write_rows(exports / "redcap_dictionary.csv", rows)
    records = csv_rows(exports / "redcap_records.csv")
    records[0].append("part_two_complete")
    for position, row in enumerate(records[1:]):
        row.append("0" if position % 10 == 0 else "2")
    write_rows(exports / "redcap_records.csv", records)
    _, report = read(exports / "redcap_mapping.yaml", reference, incomplete="exclude")
    status = pd.DataFrame(records[1:], columns=records[0])
    expected = ~(status["self_assessment_complete"].eq("2") & status["part_two_complete"].eq("2"))
    assert count(report, "rows").left_out == {INCOMPLETE: int(expected.sum())}


# Both layouts of a REDCap data dictionary, and exports written by R tools


@pytest.mark.parametrize("mapping", ["redcap_mapping.yaml", "redcap_labels_mapping.yaml"])
def test_an_api_layout_dictionary_decodes_raw_and_labelled_exports_like_the_web_export(exports, reference, mapping):
    web, _ = read(exports / mapping, reference)
    api_layout = csv_rows(FIXTURES / "redcap_dictionary_api.csv")
    assert api_layout[0][:6] == ["field_name", "form_name", "section_header", "field_type", "field_label",
                                 "select_choices_or_calculations"]
    assert sum(row.count("NA") for row in api_layout) > 100
    shutil.copyfile(FIXTURES / "redcap_dictionary_api.csv", exports / "redcap_dictionary.csv")
    api, report = read(exports / mapping, reference)
    pd.testing.assert_frame_equal(api, web)
    assert f"data dictionary {exports}/redcap_dictionary.csv read in REDCap's API layout ('NA' cells read as empty)" \
        in report.notes
    assert count(report, "columns").left_out == REDCAP_COLUMNS


def test_a_study_reads_its_redcap_export_with_an_api_layout_dictionary(demo_copy):
    from_csv = load_study("demo")
    config = yaml.safe_load((demo_copy / "study.yaml").read_text())
    config["survey_export"] = "exports/redcap_labels_mapping.yaml"
    config.pop("waves")  # the export holds the latest wave
    (demo_copy / "study.yaml").write_text(yaml.safe_dump(config))
    shutil.copyfile(FIXTURES / "redcap_dictionary_api.csv", demo_copy / "exports" / "redcap_dictionary.csv")
    pd.testing.assert_frame_equal(load_study("demo").answers, from_csv.answers)


def test_a_dictionary_in_neither_layout_is_refused_in_one_line(exports, reference):
    rows = csv_rows(exports / "redcap_dictionary.csv")
    rows[0][1] = "Form"
    write_rows(exports / "redcap_dictionary.csv", rows)
    with pytest.raises(InputError) as error:
        read(exports / "redcap_mapping.yaml", reference)
    message = str(error.value)
    assert re.match(r".*redcap_dictionary\.csv, row 1, column 'Form Name': required column is missing; found 'Form' "
                    r"instead; expected a REDCap data dictionary with the columns of the web export \(Variable / Field "
                    r"Name, .*\) or of the API \(field_name, form_name, .*\)$", message)
    assert "\n" not in message


def test_an_export_written_by_an_r_client(tmp_path, reference):
    """API-layout dictionary with NA cells; records with TRUE/FALSE form statuses and
    checkboxes, NA for empty cells, and day-first dates read with date_format."""
    shutil.copytree(FIXTURES / "r_tool", tmp_path / "r_tool")
    wide, report = read(tmp_path / "r_tool" / "mapping.yaml", reference)
    assert wide["respondent_id"].tolist() == ["A01", "A02", "A04", "A05"]  # A03: self_assessment_complete FALSE
    assert wide["microsystem_id"].tolist() == ["MS01", "MS01", "MS03", "MS02"]
    assert wide["role"].tolist() == ["Physician", "Nurse", "Allied health", "Clerical"]
    assert wide["completed_at"].tolist() == ["2026-05-09 14:30", "2026-05-13 08:05", "2026-05-31 23:59",
                                             "2026-06-01 07:00"]
    assert wide.loc[0, "constancy_of_purpose"] == "" and wide.loc[0, "investment_in_improvement"] == "cant_rate"
    assert wide.loc[2, "connection_to_community"] == ""
    assert [(c.element, c.in_file, c.used, c.left_out) for c in report.counts] == [
        ("rows", 5, 4, {INCOMPLETE: 1}),
        ("columns", 21, 15, {"checkbox columns": 2, "platform metadata": 1, "free text / not mapped": 1,
                             "other forms": 2}),
    ]
    assert report.kind == "REDCap records export" and report.source.endswith("r_tool/records.csv")
    assert f"left out as {INCOMPLETE}: row 4" in report.notes
    assert "columns left out as other forms: followup_done, follow_up_complete" in report.notes
    assert next(n for n in report.notes if "R's missing value" in n).startswith("12 cells 'NA'")
    records = tmp_path / "r_tool" / "records.csv"
    records.write_text(records.read_text().replace(",FALSE,NA,FALSE\n", ",TRUE,NA,FALSE\n"))  # A03 now complete
    wide, report = read(tmp_path / "r_tool" / "mapping.yaml", reference)
    assert wide.loc[2].tolist()[:4] == ["A03", "MS02", "Manager", ""]  # its timestamp NA: not completed
    assert set(wide.loc[2].tolist()[5:]) == {""}
    assert count(report, "rows").left_out == {}


# Dates


def test_a_date_format_reads_us_dates(exports, reference):
    rows = csv_rows(exports / "redcap_records.csv")
    column = rows[0].index("self_assessment_timestamp")
    for row in rows[1:]:
        if row[column] not in ("", "[not completed]"):
            row[column] = pd.Timestamp(row[column]).strftime("%m/%d/%Y %I:%M %p")
    # The export's first record is the latest wave's first respondent (R00831, completed
    # 2026-04-02 14:15 in survey_responses.csv); month and day are both at most 12, so reading
    # it day-first would give another date and the frames below would differ.
    assert rows[1][column] == "04/02/2026 02:15 PM"
    write_rows(exports / "redcap_records.csv", rows)
    with pytest.raises(InputError, match=r"row 2, column 'self_assessment_timestamp': expected a date written "
                                         r"YYYY-MM-DD, .*, found '04/02/2026 02:15 PM'"):
        read(exports / "redcap_mapping.yaml", reference)
    wide, report = read(exports / "redcap_mapping.yaml", reference, date_format="%m/%d/%Y %I:%M %p")
    respondents, _ = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_frame_equal(respondents, reference.respondents)


@pytest.mark.parametrize(("date_format", "value", "expected"), [
    ("%d/%m/%Y %H:%M", "13/05/2026", r"expected a date written as date_format: '%d/%m/%Y %H:%M' in the mapping says "
                                     r"\(such as '31/01/2026 14:05'\), found '13/05/2026'"),
    ("%d/%m/%Y %H:%M", "05/13/2026 08:05", r".* found '05/13/2026 08:05'"),
    ("%d/%m/%Y %H:%M", "2026-05-13 08:05", r".* found '2026-05-13 08:05'"),  # ISO is not taken for another format
    (None, "13/05/2026 08:05", r"expected a date written YYYY-MM-DD, optionally with a time HH:MM or HH:MM:SS \(for "
                               r"dates written otherwise, set date_format: in the mapping, such as '%d/%m/%Y %H:%M'\), "
                               r"found '13/05/2026 08:05'"),
    (None, "2026-02-30 08:05", r"expected a date written YYYY-MM-DD, .* found '2026-02-30 08:05'"),
])
def test_a_date_that_does_not_parse_is_one_line_naming_file_row_column_and_value(
    tmp_path, reference, date_format, value, expected
):
    shutil.copytree(FIXTURES / "r_tool", tmp_path / "r_tool")
    records = tmp_path / "r_tool" / "records.csv"
    mapping = yaml.safe_load((tmp_path / "r_tool" / "mapping.yaml").read_text())
    if date_format is None:  # the other rows in ISO
        del mapping["date_format"]
        (tmp_path / "r_tool" / "mapping.yaml").write_text(yaml.safe_dump(mapping))
        records.write_text(re.sub(r"(\d\d)/(\d\d)/(\d{4}) ", r"\3-\2-\1 ", records.read_text()))
    text = records.read_text()
    assert text.count(",13/05/2026 08:05,") + text.count(",2026-05-13 08:05,") == 1  # row 3
    records.write_text(text.replace(",13/05/2026 08:05,", f",{value},").replace(",2026-05-13 08:05,", f",{value},"))
    with pytest.raises(InputError) as error:
        read(tmp_path / "r_tool" / "mapping.yaml", reference)
    message = str(error.value)
    assert "\n" not in message
    assert re.match(rf".*r_tool/records\.csv, row 3, column 'self_assessment_timestamp': {expected}$", message), message


def test_excel_cells_that_are_real_dates_pass_any_date_format(exports, reference):
    wide, _ = read(exports / "excel_mapping.yaml", reference, date_format="%d/%m/%Y %H:%M")
    respondents, _ = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_frame_equal(respondents, reference.respondents)


@pytest.mark.parametrize(("change", "expected"), [
    ({"date_format": "%d/%m/%Y %Q"}, r"date_format: '%d/%m/%Y %Q' is not a date format \('Q' is a bad directive"),
    ({"date_format": "%d/%m %H:%M"}, r"date_format: '%d/%m %H:%M' has no year"),
    ({"date_format": "%Y-%m-%d", "columns": {"respondent_id": "ExternalReference", "microsystem_id": "unit",
                                             "role": "Q1"}},
     r"date_format: is set, but columns\.completed_at names no column"),
])
def test_a_date_format_that_cannot_work_is_a_mapping_error(exports, reference, change, expected):
    with pytest.raises(InputError, match=rf"^{re.escape(str(exports))}/qualtrics_mapping\.yaml: {expected}"):
        read(exports / "qualtrics_mapping.yaml", reference, **change)


# Mapping errors name the mapping file and the entry


def test_mapping_errors_name_the_mapping_file_and_the_entry(exports, reference):
    mapping = f"{re.escape(str(exports))}/redcap_mapping\\.yaml"
    content = yaml.safe_load((exports / "redcap_mapping.yaml").read_text())
    items = content["items"] | {"measurement": "measurment"}
    with pytest.raises(InputError, match=rf"^{mapping}: items\.measurement: .*redcap_records\.csv has no column "
                                         r"'measurment'; did you mean 'measurement'\?$"):
        read(exports / "redcap_mapping.yaml", reference, items=items)
    content = yaml.safe_load((exports / "redcap_mapping.yaml").read_text())
    with pytest.raises(InputError, match=rf"^{mapping}: columns\.role: .* has no column 'job'; its columns are "):
        read(exports / "redcap_mapping.yaml", reference, items=content["items"] | {"measurement": "measurement"},
             columns=content["columns"] | {"role": "job"})
    content["columns"]["role"] = "staff_role"
    with pytest.raises(InputError, match=rf"^{mapping}: roles: '2' maps to 'Nurse practitioner', which is not a role "
                                         r"named in study\.yaml \(Physician, .*\) \(used at .*redcap_records\.csv, "
                                         r"row \d+, column 'staff_role'\)$"):
        read(exports / "redcap_mapping.yaml", reference, columns=content["columns"],
             roles=content["roles"] | {"2": "Nurse practitioner"})
    with pytest.raises(InputError, match=rf"^{mapping}: microsystems: '1' maps to 'MS99', which is not in the study's "
                                         r"microsystems file \(used at .*redcap_records\.csv, row 2, column 'unit'\)$"):
        read(exports / "redcap_mapping.yaml", reference, roles=content["roles"],
             microsystems=content["microsystems"] | {"1": "MS99"})
    content.pop("dictionary")
    (exports / "redcap_mapping.yaml").write_text(yaml.safe_dump(content))
    with pytest.raises(InputError, match=rf"^{mapping}: dictionary: format redcap needs the project's data dictionary"):
        read(exports / "redcap_mapping.yaml", reference)


def test_an_absolute_file_path_works_and_a_wrong_one_is_one_clear_line(tmp_path, exports, reference):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(exports / "redcap_records.csv", elsewhere / "records.csv")
    shutil.move(exports / "redcap_dictionary.csv", elsewhere / "dictionary.csv")
    wide, report = read(exports / "redcap_mapping.yaml", reference, file=str(elsewhere / "records.csv"),
                        dictionary=str(elsewhere / "dictionary.csv"))
    respondents, _ = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_frame_equal(respondents, reference.respondents)
    assert report.source == str(elsewhere / "records.csv")
    mapping = f"{re.escape(str(exports))}/redcap_mapping\\.yaml"
    for name, problem in [
        (str(elsewhere / "nope.csv"), "not found"),
        (str(elsewhere), "is a folder; expected a file"),
    ]:
        with pytest.raises(InputError) as error:
            read(exports / "redcap_mapping.yaml", reference, file=name)
        assert re.match(rf"^{mapping}: file: '{re.escape(name)}' {problem}$", str(error.value)), str(error.value)
    with pytest.raises(InputError, match=rf"^{mapping}: file: 'records\.csv' not found \(looked for "
                                         rf"{re.escape(str(exports))}/records\.csv\)$"):
        read(exports / "redcap_mapping.yaml", reference, file="records.csv")
