"""Incremental and distributed regeneration."""

from __future__ import annotations

import csv

import pytest

from workbench import cli
from workbench.project import Project
from workbench.reports import plan, run
from workbench.study import build_processed

pytestmark = pytest.mark.slow


def change_one_answer(project, unit: str) -> None:
    path = project / "data" / "raw" / "demo" / "survey_responses.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    unit_column, wave_column = rows[0].index("microsystem_id"), rows[0].index("wave")
    latest = max(r[wave_column] for r in rows[1:])  # the wave every report describes
    row = next(k for k, r in enumerate(rows) if k and r[unit_column] == unit and r[wave_column] == latest)
    column = rows[0].index("measurement")
    rows[row][column] = "3" if rows[row][column] != "3" else "2"
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_one_changed_answer_changes_only_the_reports_that_read_it(project):
    before_study = build_processed("demo")
    before = plan(Project(project), before_study)
    peers_before = before_study.view("peer_positions")
    change_one_answer(project, "MS37")
    after_study = build_processed("demo")
    after = plan(Project(project), after_study)
    changed = sorted(job.output.name for job in after.jobs if before.parts[job.output] != after.parts[job.output])
    # Other units' reports depend on MS37 only through the peer distribution they show.
    peers_after = after_study.view("peer_positions")
    moved = peers_before.compare(peers_after)  # rows whose peer figures differ
    units_moved = set(peers_before.loc[moved.index, "microsystem_id"]) - {"MS37"}
    expected = [
        "01-study-overview.ipynb", "02-survey-assessment.ipynb", "04-cross-case.ipynb", "06-patient-journeys.ipynb",
        "MS37.ipynb", *(f"{unit}.ipynb" for unit in units_moved),
    ]
    assert changed == sorted(expected)
    # How many other units' peer figures move depends on where MS37's mean lands among theirs (36 of 42 on the
    # demo, whose unit means lie close together): the equality above is what shows that no report reruns
    # without its data having changed; the unit's own report and the study reports always do.
    assert 0 < len(units_moved) < len(peers_before["microsystem_id"].unique()) - 1
    reasons = {job.output.name: after.reasons[job.output] for job in after.jobs}
    assert all(reason == "no report yet" for reason in reasons.values())


def test_regeneration_skips_what_did_not_change_and_explains_why(project, capsys):
    one = ["--microsystem", "MS01", "--jobs", "2", "--no-progress"]
    assert cli.main(["regenerate", "--study", "demo", *one]) == 0
    assert "6 ran, 0 skipped" in capsys.readouterr().out
    assert cli.main(["regenerate", "--study", "demo", *one, "--explain"]) == 0
    out = capsys.readouterr().out
    assert "0 ran, 6 skipped as unchanged" in out
    assert "feedback/MS01.ipynb: unchanged, skipped" in out
    (project / "reports" / "demo" / "feedback" / "MS01.html").unlink()  # a missing output is made again
    change_one_answer(project, "MS02")
    assert cli.main(["regenerate", "--study", "demo", *one, "--explain", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "feedback/MS01.ipynb: runs (its files are missing)" in out
    assert ("02-survey-assessment.ipynb: runs "
            "(changed: answers data, study_items data, unit_items data, unit_profiles data)") in out
    assert "03-interview-coding.ipynb: unchanged, skipped" in out
    assert cli.main(["regenerate", "--study", "demo", *one]) == 0
    # MS01 (missing) and the four that read survey data.
    assert "5 ran, 1 skipped as unchanged" in capsys.readouterr().out


def test_the_dask_backend_runs_reports_on_a_local_cluster_of_two_workers_in_warm_kernels(project):
    study = build_processed("demo")
    planned = plan(Project(project), study, microsystems=["MS01", "MS02", "MS03"])
    jobs = [j for j in planned.jobs if "microsystem_id" in j.parameters]
    summary = run(jobs, workers=2, executor="dask", progress=False)
    assert [o.ok for o in summary.outcomes] == [True, True, True], [o.error for o in summary.outcomes]
    assert all(job.html.exists() for job in jobs)
    with pytest.raises(ValueError, match="executor must be 'local' or 'dask', got 'ray'"):
        run(jobs, executor="ray", progress=False)
