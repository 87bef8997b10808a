"""A study whose instrument has five levels runs every report: the level scale is data."""

from __future__ import annotations

import csv

import pytest
import yaml

from workbench import cli
from workbench.frameworks import SHIPPED
from workbench.project import Project
from workbench.study import build_processed, open_study

pytestmark = pytest.mark.slow
FIVE = {1: "Not at all", 2: "A little", 3: "Partly", 4: "Mostly", 5: "Fully"}


def five_level_study(demo_copy) -> None:
    """The demo study re-asked on a five-level instrument: 1 -> 1 or 2, 2 -> 3, 3 -> 4 or 5."""
    shipped = yaml.safe_load((SHIPPED / "microsystem_self_assessment.yaml").read_text())
    shipped["id"] = "five_level_self_assessment"
    shipped["levels"] = [{"value": v, "label": label} for v, label in FIVE.items()]
    for item in shipped["items"]:
        item["levels"] = {v: f"{label}: {item['label'].lower()}" for v, label in FIVE.items()}
    (demo_copy / "five_levels.yaml").write_text(yaml.safe_dump(shipped, sort_keys=False))
    config = yaml.safe_load((demo_copy / "study.yaml").read_text())
    config["instrument"] = "five_levels.yaml"
    config["survey_coding"] = {"levels": {str(v): v for v in FIVE}, "cant_rate": ["9"]}
    (demo_copy / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    path = demo_copy / "survey_responses.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    first_item = rows[0].index("completed_at") + 1
    spread = {"1": ("1", "2"), "2": ("3", "3"), "3": ("4", "5")}
    for number, row in enumerate(rows[1:]):
        for column in range(first_item, len(row)):
            if row[column] in spread:
                row[column] = spread[row[column]][(number + column) % 2]
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_a_five_level_instrument_runs_every_report_and_the_explorer(project, demo_copy, capsys):
    five_level_study(demo_copy)
    study = build_processed("demo")
    assert study.scale.values == (1, 2, 3, 4, 5)
    assert set(study.answers["level"].dropna().unique()) == {1, 2, 3, 4, 5}
    items = study.view("unit_items")
    assert [c for c in items.columns if c.startswith("share_level_")] == [f"share_level_{v}" for v in FIVE]
    profiles = study.view("unit_profiles")
    assert profiles["analysis_mean"].dropna().between(1, 5).all() and profiles["analysis_mean"].max() > 3
    assert cli.main(["regenerate", "--study", "demo", "--microsystem", "MS01", "--microsystem", "MS02", "--jobs", "2",
                     "--no-progress"]) == 0, capsys.readouterr().err
    assert "7 ran, 0 skipped as unchanged, 0 failed" in capsys.readouterr().out
    feedback = (project / "reports" / "demo" / "feedback" / "MS01.html").read_text()
    assert "Willowdale Family Practice" in feedback and "Feedback report" in feedback

    from workbench.explorer import StudyExplorer

    explorer = StudyExplorer(open_study("demo", Project(project)))
    tables = explorer.tables(explorer.default_selection())
    assert not tables["profile"].empty
