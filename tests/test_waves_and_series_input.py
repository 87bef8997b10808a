"""Reading survey waves, monthly outcome series, dated changes and staff headcounts: a small
study written here (not the demo), read as a researcher would bring it, and each kind of bad
cell stopped with one line naming the file, row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.errors import InputError
from workbench.frameworks import load_instrument
from workbench.project import Project
from workbench.study import build_processed, load_study

ITEMS = load_instrument("microsystem_self_assessment").item_ids
MONTHS = [f"{year}-{month:02d}" for year in (2024, 2025) for month in range(1, 13)]


def survey_rows(rng, unit: str, count: int, wave: str | None, start: int) -> list[dict]:
    rows = []
    for number in range(count):
        row = {"respondent_id": f"R{start + number:04d}"}
        if wave is not None:
            row["wave"] = wave
        row |= {"microsystem_id": unit, "role": "Nurse" if number else "Manager"}
        row |= {item: str(rng.integers(1, 4)) for item in ITEMS}
        rows.append(row)
    return rows


def write_study(root, *, waves=True, series=True) -> Project:
    rng = np.random.default_rng(7)
    folder = root / "data" / "raw" / "small"
    folder.mkdir(parents=True)
    (root / "data" / "processed").mkdir(parents=True)
    pd.DataFrame({"microsystem_id": ["U1", "U2", "U3"], "name": ["Unit one", "Unit two", "Unit three"],
                  "setting": ["Ward"] * 3, "organisation_id": ["O1"] * 3, "organisation": ["Org"] * 3,
                  "headcount": ["20", "", "12"]}).to_csv(folder / "microsystems.csv", index=False)
    rows, number = [], 1
    for wave, sizes in (("2025", (6, 7, 5)), ("2026", (8, 6, 9))) if waves else ((None, (6, 7, 5)),):
        for unit, size in zip(("U1", "U2", "U3"), sizes):
            rows += survey_rows(rng, unit, size, wave, number)
            number += size
    pd.DataFrame(rows).to_csv(folder / "survey.csv", index=False)
    config = {"id": "small", "title": "Small", "roles": ["Nurse", "Manager"],
              "files": {"microsystems": "microsystems.csv", "survey": "survey.csv", "interviews": None,
                        "coded_segments": None, "outcomes": "outcomes.csv"},
              "outcomes": [{"id": "turnover", "label": "Turnover", "better": "lower"}]}
    pd.DataFrame({"microsystem_id": ["U1", "U2", "U3"], "turnover": [10.0, 12.5, ""]}).to_csv(
        folder / "outcomes.csv", index=False)
    if waves:
        config["waves"] = [{"id": "2025", "label": "Spring 2025"}, {"id": "2026", "label": "Spring 2026"}]
    if series:
        config["files"]["outcome_series"] = "series.csv"
        config["outcomes"] += [
            {"id": "falls", "label": "Falls", "better": "lower", "kind": "rate", "per": 1000},
            {"id": "hygiene", "label": "Hand hygiene", "better": "higher", "kind": "proportion", "per": 100},
            {"id": "score", "label": "Experience", "better": "higher", "kind": "measurement"},
        ]
        config["changes"] = [{"microsystem_id": "U2", "month": "2025-03", "what": "Daily huddle"}]
        lines = []
        for unit in ("U1", "U2", "U3"):
            for month in MONTHS:
                lines.append([unit, "falls", month, "3", "1000", ""])
                lines.append([unit, "hygiene", month, "40", "50", ""])
                if unit != "U3":
                    lines.append([unit, "score", month, "", "", "80.5"])
        pd.DataFrame(lines, columns=["microsystem_id", "outcome_id", "period", "numerator", "denominator",
                                     "value"]).to_csv(folder / "series.csv", index=False)
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Project(root)


@pytest.fixture
def small(tmp_path) -> Project:
    return write_study(tmp_path)


def edit_csv(path, row: int, column: str, value: str) -> None:
    """Set the cell of spreadsheet row ``row`` (the header is row 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False)


def message(project: Project) -> str:
    with pytest.raises(InputError) as caught:
        load_study("small", project)
    return str(caught.value)


def test_the_latest_wave_is_the_answers_and_earlier_waves_keep_their_wave(small):
    study = build_processed("small", small)
    assert len(study.respondents) == 8 + 6 + 9
    assert len(study.past_respondents) == 6 + 7 + 5
    assert set(study.past_answers["wave"].astype(str)) == {"2025"}
    assert len(study.past_answers) == 18 * len(ITEMS)
    # pseudonymised like the latest wave's, and never the file's ids
    assert not study.past_respondents["respondent_id"].astype(str).str.fullmatch(r"R\d{4}").any()
    overview = study.view("unit_overview").set_index("microsystem_id")
    assert overview.loc["U1", "headcount"] == 20 and overview.loc["U1", "response_rate"] == pytest.approx(8 / 20)
    assert pd.isna(overview.loc["U2", "headcount"]) and pd.isna(overview.loc["U2", "response_rate"])


def test_monthly_outcomes_give_each_unit_a_value_over_the_latest_months(small):
    study = load_study("small", small, create_key=True)
    series = study.outcome_series
    assert len(series) == 3 * 24 * 2 + 2 * 24
    assert series["period"].min() == pd.Timestamp("2024-01-01")
    outcomes = study.outcomes.set_index("microsystem_id")
    assert list(outcomes.columns) == ["turnover", "falls", "hygiene", "score"]
    assert outcomes.loc["U1", "falls"] == pytest.approx(3.0)  # 36 events over 12,000 patient-days, per 1,000
    assert outcomes.loc["U1", "hygiene"] == pytest.approx(80.0)
    assert pd.isna(outcomes.loc["U3", "score"]) and pd.isna(outcomes.loc["U3", "turnover"])


def test_the_window_counts_only_the_latest_months(small):
    folder = small.raw_dir / "small"
    frame = pd.read_csv(folder / "series.csv", dtype=str, keep_default_na=False)
    early = frame["period"].lt("2025-01") & frame["outcome_id"].eq("falls")
    frame.loc[early, "numerator"] = "100"  # a bad first year: outside the 12-month window
    frame.to_csv(folder / "series.csv", index=False)
    outcomes = load_study("small", small, create_key=True).outcomes.set_index("microsystem_id")
    assert outcomes.loc["U1", "falls"] == pytest.approx(3.0)


def test_a_wave_column_without_waves_listed_is_refused(tmp_path):
    project = write_study(tmp_path, waves=False)
    folder = project.raw_dir / "small"
    frame = pd.read_csv(folder / "survey.csv", dtype=str, keep_default_na=False)
    frame.insert(1, "wave", "2025")
    frame.to_csv(folder / "survey.csv", index=False)
    text = message(project)
    assert "survey.csv" in text and "row 1" in text and "'wave'" in text and "lists no waves" in text


def test_a_wave_not_listed_is_named_at_its_row(small):
    edit_csv(small.raw_dir / "small" / "survey.csv", 5, "wave", "2027")
    text = message(small)
    assert "row 5" in text and "'wave'" in text and "2025, 2026" in text


def test_a_wave_may_name_its_own_file(small):
    folder = small.raw_dir / "small"
    frame = pd.read_csv(folder / "survey.csv", dtype=str, keep_default_na=False)
    frame[frame["wave"].eq("2025")].drop(columns="wave").to_csv(folder / "survey_2025.csv", index=False)
    frame[frame["wave"].eq("2026")].to_csv(folder / "survey.csv", index=False)
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["waves"][0]["survey"] = "survey_2025.csv"
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    study = load_study("small", small, create_key=True)
    assert len(study.past_respondents) == 18 and len(study.respondents) == 23


@pytest.mark.parametrize(("row", "column", "value", "expected"), [
    (2, "numerator", "", "expected a number for a rate outcome"),
    (3, "value", "7", "expected an empty cell: a proportion outcome fills numerator and denominator"),
    (3, "numerator", "60", "no larger than the denominator"),
    (2, "denominator", "0", "a denominator above 0"),
    (4, "value", "", "expected a number for a measurement outcome"),
    (2, "period", "2025-13", "a month written YYYY-MM"),
    (2, "outcome_id", "turnover", "a monthly outcome of study.yaml"),
    (2, "numerator", "-1", "a number of at least 0"),
])
def test_a_bad_monthly_cell_is_named(small, row, column, value, expected):
    edit_csv(small.raw_dir / "small" / "series.csv", row, column, value)
    text = message(small)
    assert "series.csv" in text and f"row {row}" in text and f"'{column}'" in text and expected in text


def test_a_month_given_twice_is_named(small):
    edit_csv(small.raw_dir / "small" / "series.csv", 5, "period", "2024-01")
    text = message(small)
    assert "row 5" in text and "'period'" in text and "already has a row above" in text


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["changes"][0].update(microsystem_id="U9"), "changes.0.microsystem_id"),
    (lambda c: c["changes"][0].update(month="March 2025"), "expected a month written YYYY-MM"),
    (lambda c: c["changes"][0].update(outcomes=["turnover"]), "expected a monthly outcome"),
    (lambda c: c["files"].update(outcome_series=None), "files.outcome_series is null"),
    (lambda c: c["waves"].append({"id": "2025"}), "each wave id once"),
])
def test_bad_settings_for_waves_series_and_changes_are_one_line(small, change, expected):
    path = small.raw_dir / "small" / "study.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    text = message(small)
    assert expected in text and "\n" not in text.strip()


def test_the_change_since_the_last_wave_is_a_view_of_the_built_study(small):
    study = build_processed("small", small)
    changes = study.view("unit_changes")
    assert set(changes["wave_before"]) == {"2025"} and set(changes["wave_after"]) == {"2026"}
    assert set(changes["microsystem_id"]) == {"U1", "U2", "U3"}
    mine = study.view("unit_changes", microsystem_id="U3")
    assert set(mine["microsystem_id"]) == {"U3"} and len(mine) == len(study.characteristics.element_ids)
    assert len(study.view("study_changes")) == len(study.characteristics.element_ids)


def test_a_study_of_one_wave_has_empty_change_views(tmp_path):
    project = write_study(tmp_path, waves=False, series=False)
    study = build_processed("small", project)
    assert study.view("unit_changes").empty and study.view("study_changes").empty
    assert study.past_answers.empty and list(study.past_answers.columns)[-1] == "wave"


def test_a_study_of_one_wave_gives_each_unit_its_empty_rows_of_the_change_and_outcome_views(tmp_path):
    project = write_study(tmp_path, waves=False, series=False)
    study = build_processed("small", project)
    for name in ("unit_changes", "outcome_charts", "outcome_signals", "outcome_funnels"):
        assert study.view(name, microsystem_id="U1").empty, name  # a filter on an empty view, not an Arrow error
