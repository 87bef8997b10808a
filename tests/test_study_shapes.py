"""Every report runs on every study shape researchers bring: with or without journeys,
interviews, a survey or outcomes, coded by one person, with three units or five respondents.

Each shape is the demo study cut down; each is built and regenerated with zero failures, and a
report a study's evidence cannot support is not made and the index says why.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from workbench import cli

pytestmark = pytest.mark.slow
UNITS = ("MS01", "MS02", "MS03")


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, table: list[dict], header: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


def keep(path: Path, wanted) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    write(path, [row for row in rows(path) if wanted(row)], header)


def settings(folder: Path, change) -> None:
    config = yaml.safe_load((folder / "study.yaml").read_text())
    change(config)
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def no_journeys(folder: Path) -> None:
    settings(folder, lambda c: c["files"].pop("journeys"))


def no_interviews(folder: Path) -> None:
    settings(folder, lambda c: c["files"].update(interviews=None, coded_segments=None))


def no_survey(folder: Path) -> None:
    settings(folder, lambda c: c["files"].update(survey=None))


def no_outcomes(folder: Path) -> None:
    # Neither per-unit outcomes nor monthly series; the dated changes go too (they are read
    # against the monthly outcomes, and a study without those may list none).
    settings(folder, lambda c: (c["files"].update(outcomes=None, outcome_series=None), c.update(outcomes=[]),
                                c.pop("changes", None)))


def one_coder(folder: Path) -> None:
    keep(folder / "coded_segments.csv", lambda row: row["coder"] == "coder_A")


def three_units(folder: Path) -> None:
    keep(folder / "microsystems.csv", lambda row: row["microsystem_id"] in UNITS)
    for name in ("survey_responses.csv", "interviews.csv", "outcomes.csv", "outcome_series.csv", "journeys.csv"):
        keep(folder / name, lambda row: row["microsystem_id"] in UNITS)  # journeys: only the visits to these units
    interviews = {row["interview_id"] for row in rows(folder / "interviews.csv")}
    keep(folder / "coded_segments.csv", lambda row: row["interview_id"] in interviews)
    # Only the dated changes made in the units kept.
    settings(folder, lambda c: c.update(changes=[change for change in c.get("changes", [])
                                                 if change["microsystem_id"] in UNITS]))


def five_respondents(folder: Path) -> None:
    """Three units, and five respondents in all: the first five of the survey's latest wave
    (the one reports describe), the only wave the study then lists."""
    three_units(folder)
    latest = yaml.safe_load((folder / "study.yaml").read_text())["waves"][-1]["id"]
    kept = [row["respondent_id"] for row in rows(folder / "survey_responses.csv") if row["wave"] == latest][:5]
    keep(folder / "survey_responses.csv", lambda row: row["respondent_id"] in kept)
    settings(folder, lambda c: c.update(waves=[wave for wave in c["waves"] if wave["id"] == latest]))


def minimal(folder: Path) -> None:
    five_respondents(folder)
    one_coder(folder)
    no_journeys(folder)
    no_outcomes(folder)


SHAPES = {
    "no_journeys": no_journeys, "no_interviews": no_interviews, "no_survey": no_survey, "no_outcomes": no_outcomes,
    "one_coder": one_coder, "three_units": three_units, "five_respondents": five_respondents, "minimal": minimal,
}
# The reports each shape cannot support, and the evidence they miss.
NOT_MADE = {
    "no_journeys": {"06-patient-journeys": "patient journeys"},
    "no_interviews": {"03-interview-coding": "coded interviews"},
    "no_survey": {"02-survey-assessment": "survey answers", "04-cross-case": "survey answers",
                  "feedback": "survey answers"},
    "no_outcomes": {"04-cross-case": "outcome measures"},
    "minimal": {"04-cross-case": "outcome measures", "06-patient-journeys": "patient journeys"},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_report_runs_or_says_why_it_does_not_apply(shape, project, demo_copy, capsys):
    SHAPES[shape](demo_copy)
    assert cli.main(["build", "--study", "demo"]) == 0, capsys.readouterr().err
    status = cli.main(["regenerate", "--study", "demo", "--microsystem", "MS01", "--microsystem", "MS02",
                       "--no-progress", "--jobs", "2"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert " 0 failed" in captured.out
    reports = project / "reports" / "demo"
    index = (reports / "index.html").read_text()
    not_made = NOT_MADE.get(shape, {})
    for name in ("01-study-overview", "02-survey-assessment", "03-interview-coding", "04-cross-case",
                 "06-patient-journeys"):
        if name in not_made:
            assert not (reports / f"{name}.html").exists()
            assert re.search(rf"not made: does not apply: the study has no [^<]*{not_made[name]}", index, re.I), index
        else:
            assert (reports / f"{name}.html").exists(), name
    if "feedback" in not_made:
        assert not (reports / "feedback" / "MS01.html").exists()
    else:
        assert (reports / "feedback" / "MS01.html").exists()
