"""Survey platform exports: every format loads to the frames the plain CSV gives, and the
platforms' quirks are taken or refused with a message, never misread."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import DEMO
from workbench.errors import InputError
from workbench.io import study_csv, survey_exports
from workbench.study import load_study

EXPORT_MAPPINGS = ["redcap_mapping.yaml", "redcap_labels_mapping.yaml", "qualtrics_mapping.yaml", "excel_mapping.yaml"]


@pytest.fixture(scope="module")
def reference():
    """The demo study, with its survey frames as the plain CSV gives them (raw ids, before pseudonyms)."""
    study = load_study(DEMO)
    respondents, answers = study_csv.read_survey(
        DEMO / "survey_responses.csv", shown="survey_responses.csv", instrument=study.instrument,
        microsystem_ids=study.microsystems["microsystem_id"].tolist(), roles=study.config.roles,
        level_codes=study.config.survey_coding.levels, cant_rate_codes=study.config.survey_coding.cant_rate)
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


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("mapping", EXPORT_MAPPINGS)
def test_every_export_loads_to_the_same_frames_as_the_plain_csv(mapping, reference):
    wide, summary = read(DEMO / "exports" / mapping, reference)
    respondents, answers = study_csv.survey_from_wide(wide, instrument=reference.instrument)
    pd.testing.assert_frame_equal(respondents, reference.respondents)
    pd.testing.assert_frame_equal(answers, reference.answers)
    assert summary.rows_read == summary.rows_kept == len(reference.respondents)


def test_a_study_can_read_its_survey_through_a_mapping(demo_copy):
    from_csv = load_study("demo")
    config = yaml.safe_load((demo_copy / "study.yaml").read_text())
    config["survey_export"] = "exports/qualtrics_mapping.yaml"
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
    wide, summary = read(exports / mapping, reference, incomplete="exclude")
    skipped_any = reference.answers.groupby("respondent_id", sort=False)["answer"].apply(
        lambda a: a.eq("no_answer").any()
    )
    assert len(summary.excluded) == int(skipped_any.sum()) > 0
    assert summary.rows_kept == len(wide) == summary.rows_read - len(summary.excluded)
    first_row = 4 if mapping.startswith("qualtrics") else 2
    first_excluded = skipped_any.index[skipped_any.to_numpy()][0]
    assert summary.excluded[0][0] == reference.respondents["respondent_id"].tolist().index(first_excluded) + first_row
    assert "left out as incomplete" in summary.line()


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
    wide, _ = read(exports / "redcap_mapping.yaml", reference, event="baseline_arm_1")
    assert len(wide) == len(data)
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
    wide, _ = read(exports / "redcap_mapping.yaml", reference)
    assert len(wide) == len(data)
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
    _, summary = read(exports / "redcap_mapping.yaml", reference, incomplete="exclude")
    status = pd.DataFrame(records[1:], columns=records[0])
    expected = ~(status["self_assessment_complete"].eq("2") & status["part_two_complete"].eq("2"))
    assert len(summary.excluded) == int(expected.sum())
