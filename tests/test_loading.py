"""Loading a study: counts kept, codes decoded, and bad cells reported by file, row and column."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from workbench import cli, privacy
from workbench.errors import InputError
from workbench.project import Project
from workbench.study import build_processed, load_study, open_study


def processed_folder(study_id: str):
    return Project.discover().processed(study_id)


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def rewrite(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set a cell by its spreadsheet row (header = 1)."""
    rows = rows_of(path)
    rows[row - 2][column] = value
    rewrite(path, rows)


def test_every_row_and_answer_is_kept(project):
    study = load_study("demo")
    raw = rows_of(project / "data/raw/demo/survey_responses.csv")
    # The demo has two survey waves: `respondents`/`answers` hold the latest one, the earlier
    # waves are in `past_respondents`/`past_answers`; together they keep every row of the file.
    latest = study.config.latest_wave.id
    per_wave = pd.Series([row["wave"] for row in raw]).value_counts()
    assert len(per_wave) == len(study.config.waves) == 2
    assert len(study.respondents) == per_wave[latest]
    assert len(study.answers) == per_wave[latest] * 10
    past = per_wave.drop(latest)
    assert study.past_respondents["wave"].value_counts().sort_index().to_dict() == past.sort_index().to_dict()
    assert study.past_answers["wave"].value_counts().sort_index().to_dict() == (past * 10).sort_index().to_dict()
    assert len(study.respondents) + len(study.past_respondents) == len(raw)
    assert len(study.codings) == len(rows_of(project / "data/raw/demo/coded_segments.csv"))
    assert len(study.microsystems) == 43
    assert study.outcomes["microsystem_id"].tolist() == study.microsystems["microsystem_id"].tolist()


def test_answer_codes_are_decoded_and_cant_rate_is_never_a_level(project):
    study = load_study("demo")
    raw = pd.DataFrame(rows_of(project / "data/raw/demo/survey_responses.csv"))
    key = privacy.study_key(Project.discover(), "demo")
    raw["respondent_id"] = privacy.pseudonymise(raw["respondent_id"].astype("str"), key)
    items = study.instrument.item_ids
    codes = raw.melt(id_vars="respondent_id", value_vars=items, var_name="item_id", value_name="code")
    merged = study.answers.merge(codes, on=["respondent_id", "item_id"], validate="one_to_one")
    assert (merged.loc[merged["code"] == "9", "answer"] == "cant_rate").all()
    assert (merged.loc[merged["code"] == "", "answer"] == "no_answer").all()
    levels = merged[merged["answer"] == "level"]
    assert (levels["level"].astype(int).astype(str) == levels["code"]).all()
    assert merged.loc[merged["answer"] != "level", "level"].isna().all()
    assert {"cant_rate", "no_answer", "level"} == set(merged["answer"])


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "expected"),
    [
        ("survey_responses.csv", 7, "measurement", "4",
         "expected 1 (level 1), 2 (level 2), 3 (level 3), 9 (can't rate) or an empty cell, found '4'"),
        ("survey_responses.csv", 12, "constancy_of_purpose", "high", "found 'high'"),
        ("survey_responses.csv", 3, "microsystem_id", "MS99",
         "expected a microsystem_id listed in the microsystems file, found 'MS99'"),
        ("survey_responses.csv", 5, "role", "Surgeon", "expected a role named in study.yaml"),
        ("survey_responses.csv", 4, "respondent_id", "R00001", "already appears at row 2"),  # row 2's id
        ("survey_responses.csv", 9, "completed_at", "31/03/2026", "expected a date written YYYY-MM-DD"),
        ("microsystems.csv", 10, "name", "", "expected a value, found an empty cell"),
        ("interviews.csv", 6, "word_count", "lots", "expected a whole number of at least 0, found 'lots'"),
        ("interviews.csv", 8, "interview_date", "2026-02-30", "expected a date written YYYY-MM-DD"),
        ("coded_segments.csv", 20, "code", "teamwork",
         "expected a code of the study's coding frameworks, found 'teamwork'"),
        ("coded_segments.csv", 15, "interview_id", "INT999", "expected an interview_id listed in the interviews file"),
        ("outcomes.csv", 11, "staff_turnover_pct", "12,5", "expected a number, found '12,5'"),
    ],
)
def test_one_bad_cell_is_named_by_file_row_and_column(demo_copy, file, row, column, value, expected):
    set_cell(demo_copy / file, row, column, value)
    with pytest.raises(InputError) as raised:
        load_study("demo")
    error = raised.value
    assert error.file.name == file
    assert (error.row, error.column) == (row, column)
    assert expected in str(error)


def test_the_command_line_reports_a_bad_cell_in_one_line(demo_copy, capsys):
    set_cell(demo_copy / "survey_responses.csv", 7, "measurement", "4")
    assert cli.main(["build", "--study", "demo"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: data/raw/demo/survey_responses.csv, row 7, column 'measurement': expected")
    assert "Traceback" not in captured.err + captured.out


def test_a_bad_file_writes_nothing_and_keeps_the_previous_processed_data(demo_copy):
    build_processed("demo")
    folder = processed_folder("demo")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    # outcomes.csv now holds only staff_turnover_pct (the other outcomes are monthly series)
    set_cell(demo_copy / "outcomes.csv", 3, "staff_turnover_pct", "n/a")
    with pytest.raises(InputError):
        build_processed("demo")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_missing_column_suggests_the_near_match(demo_copy):
    path = demo_copy / "survey_responses.csv"
    path.write_text(path.read_text().replace("measurement,", "measurment,", 1))
    with pytest.raises(InputError, match=r"row 1, column 'measurement': required column is missing; "
                                         r"found 'measurment' instead"):
        load_study("demo")


def test_ragged_row_is_named(demo_copy):
    path = demo_copy / "microsystems.csv"
    lines = path.read_text().splitlines()
    lines[4] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    # microsystems.csv has six columns now (headcount was added)
    with pytest.raises(InputError, match=r"microsystems\.csv, row 5: the row has 7 cells but the header has 6"):
        load_study("demo")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("microsystem_id,name,setting,organisation_id,organisation\n", "header row but no data rows"),
    ],
)
def test_empty_and_header_only_files(demo_copy, content, message):
    (demo_copy / "microsystems.csv").write_text(content)
    with pytest.raises(InputError, match=message):
        load_study("demo")


def test_excel_exports_with_bom_or_windows_1252_are_read(demo_copy):
    path = demo_copy / "microsystems.csv"
    rows = rows_of(path)
    rows[0]["name"] = "Clinique Sainte-Thérèse"
    rewrite(path, rows)
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("cp1252"))
    assert load_study("demo").microsystems["name"].iloc[0] == "Clinique Sainte-Thérèse"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    study = load_study("demo")
    assert study.microsystems.columns[0] == "microsystem_id"
    assert study.microsystems["name"].iloc[0] == "Clinique Sainte-Thérèse"


def test_a_segment_must_keep_its_excerpt_on_every_row(demo_copy):
    path = demo_copy / "coded_segments.csv"
    rows = rows_of(path)
    second = next(i for i, r in enumerate(rows) if i and r["segment_id"] == rows[0]["segment_id"])
    rows[second]["excerpt"] = "something else"
    rewrite(path, rows)
    with pytest.raises(InputError,
                       match=rf"row {second + 2}, column 'excerpt': segment 'SEG0001' has a different excerpt"):
        load_study("demo")


def test_processed_frames_round_trip_and_carry_a_manifest(project):
    built = build_processed("demo")
    manifest = json.loads((processed_folder("demo") / "manifest.json").read_text())
    raw = project / "data/raw/demo/survey_responses.csv"
    assert manifest["inputs"]["survey_responses.csv"]["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest()
    assert set(manifest["views"]) >= {"unit_profiles", "peer_positions", "unit_items", "unit_quotes", "unit_digests"}
    opened = open_study("demo")
    for name in ("microsystems", "respondents", "answers", "interviews", "codings", "outcomes"):
        pd.testing.assert_frame_equal(getattr(opened, name), getattr(built, name))


def test_open_study_refuses_stale_processed_data_and_writes_nothing(demo_copy):
    from workbench.study import open_or_build

    set_cell(demo_copy / "microsystems.csv", 2, "name", "Renamed Practice")
    folder = processed_folder("demo")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match=r"study 'demo' are not up to date \(microsystems.csv changed\): "
                                         r"run `workbench build --study demo`"):
        open_study("demo")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert open_or_build("demo").microsystems["name"].iloc[0] == "Renamed Practice"
    assert open_study("demo").microsystems["name"].iloc[0] == "Renamed Practice"


def test_open_study_notices_a_change_that_keeps_size_and_time(demo_copy):
    import os

    path = demo_copy / "microsystems.csv"
    status = path.stat()
    text = path.read_text()
    path.write_text(text.replace("MS01,", "MS0X,", 1) if "MS01," in text else text)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    with pytest.raises(InputError, match="microsystems.csv changed"):
        open_study("demo")


def test_reading_never_creates_the_pseudonym_key(unbuilt_project):
    with pytest.raises(InputError, match=r"not up to date \(it has not been built yet\)"):
        open_study("demo")
    with pytest.raises(InputError, match=r"no pseudonym key for study 'demo'.*workbench build --study demo"):
        load_study("demo")
    assert Project(unbuilt_project).key_file("demo") is None
    build_processed("demo")
    assert Project(unbuilt_project).key_file("demo").exists()  # in the key folder, outside the project
    assert len(open_study("demo").view("unit_profiles")) == 43 * 8


def test_unknown_study_lists_the_known_ones(project):
    with pytest.raises(InputError, match=r"no study called 'nope'.*\['demo'\]"):
        load_study("nope")


def test_codings_without_positions_load(demo_copy):
    path = demo_copy / "coded_segments.csv"
    rows = rows_of(path)
    rewrite(path, [{k: v for k, v in row.items() if k not in ("start", "end")} for row in rows])
    study = load_study("demo")
    assert len(study.codings) == len(rows) and study.codings["start"].isna().all()


# --- values out of range: one line naming file, row, column and value ---------------------------

@pytest.mark.parametrize(("file", "row", "column", "value", "message"), [
    ("interviews.csv", 5, "word_count", "1e16", r"expected a whole number of at most 1,000,000,000,000,000, "
                                                 r"found '1e16', which is too large to hold"),
    ("interviews.csv", 5, "characters", "9223372036854775808", r"found '9223372036854775808', which is too large"),
    ("coded_segments.csv", 4, "end", "99999999999999999999999", r"found '99999999999999999999999'"),
    ("interviews.csv", 5, "interview_date", "1677-09-21", r"expected a date from 1677-09-22 to 2262-04-11 "
                                                          r"\(the dates the workbench can hold\), found '1677-09-21'$"),
    ("interviews.csv", 5, "interview_date", "2262-04-12", r"found '2262-04-12'$"),
    ("journeys.csv", 5, "visit_date", "0001-01-01", r"expected a date from 1677-09-22 to 2262-04-11"),
    ("journeys.csv", 5, "visit", "1.5", r"expected a whole number of at least 1, found '1\.5'$"),
])
def test_values_out_of_range_are_one_line(demo_copy, file, row, column, value, message):
    set_cell(demo_copy / file, row, column, value)
    where = rf"^data/raw/demo/{file}, row {row}, column '{column}': "
    with pytest.raises(InputError, match=where + rf"(.*, )?{message}") as raised:
        load_study("demo")
    assert "\n" not in str(raised.value)


def test_dates_at_the_ends_of_the_range_and_whole_numbers_written_as_decimals_load(demo_copy):
    set_cell(demo_copy / "interviews.csv", 3, "interview_date", "1677-09-22")
    set_cell(demo_copy / "interviews.csv", 4, "interview_date", "2262-04-11")
    set_cell(demo_copy / "interviews.csv", 5, "word_count", "900.0")
    visits = rows_of(demo_copy / "journeys.csv")
    assert visits[1]["patient_id"] == visits[0]["patient_id"] and visits[1]["visit"] == "2"
    set_cell(demo_copy / "journeys.csv", 3, "visit", "2.0")
    study = load_study("demo")
    dates = study.interviews.set_index("interview_id")["interview_date"]
    assert str(dates.iloc[1].date()) == "1677-09-22" and str(dates.iloc[2].date()) == "2262-04-11"
    assert study.interviews["interview_date"].dtype == "datetime64[ns]"
    assert study.interviews["word_count"].iloc[3] == 900
    assert len(study.journeys) == len(visits) and study.journeys["visit"].dtype == "int64"


def test_a_visit_number_repeated_as_a_decimal_is_found_as_a_repeat(demo_copy):
    set_cell(demo_copy / "journeys.csv", 3, "visit", "1.0")
    with pytest.raises(InputError, match=r"journeys\.csv, row 3, column 'visit': expected each visit number once"):
        load_study("demo")


def test_a_schema_failure_past_the_readers_checks_is_one_line():
    """Readers check every cell first; should a schema still fail (a check missing in a reader,
    another importer's frame), the message is one line with the column, check and value."""
    from workbench.io import study_csv

    frame = pd.DataFrame({"interview_id": ["I1"], "microsystem_id": ["MS01"], "interviewee_role": ["Nurse"],
                          "interview_date": ["2026-01-05"], "word_count": [-3], "characters": [None]})
    with pytest.raises(InputError, match=r"^column 'word_count': the Interviews data failed the check "
                                         r"'greater_than_or_equal_to\(0\)' with '-3'") as raised:
        study_csv.interviews_frame(frame)
    assert "\n" not in str(raised.value) and "{" not in str(raised.value)
    with pytest.raises(InputError, match=r"^column 'interview_date': interview_id 'I1': expected a date from"):
        study_csv.interviews_frame(frame.assign(interview_date=["1492-10-12"], word_count=[1]))
