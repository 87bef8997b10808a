"""Incremental and distributed regeneration."""

from __future__ import annotations

import csv

import pytest

from workbench import cli, regenerate
from workbench.study import load_study

pytestmark = pytest.mark.slow


def change_one_answer(project, unit: str) -> None:
    path = project / "data" / "raw" / "demo" / "survey_responses.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    row = next(k for k, r in enumerate(rows) if k and r[1] == unit)
    column = rows[0].index("measurement")
    rows[row][column] = "3" if rows[row][column] != "3" else "2"
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_one_changed_answer_changes_only_the_reports_that_show_it(project):
    study = load_study("demo")
    jobs = regenerate.plan(study, root=project)
    digests = regenerate.study_digests(study)
    before = {job.output.name: regenerate.fingerprint(job, digests) for job in jobs}
    change_one_answer(project, "MS37")
    changed = load_study("demo")
    digests = regenerate.study_digests(changed)
    after = {job.output.name: regenerate.fingerprint(job, digests) for job in jobs}
    assert sorted(name for name in before if before[name] != after[name]) == [
        "01-study-overview.ipynb", "02-survey-assessment.ipynb", "04-cross-case.ipynb", "06-patient-journeys.ipynb", "MS37.ipynb"]


def test_regeneration_skips_what_did_not_change(project, capsys):
    one = ["--microsystem", "MS01", "--jobs", "2", "--no-progress"]
    assert cli.main(["regenerate", "--study", "demo", *one]) == 0
    assert "6 ran, 0 skipped" in capsys.readouterr().out
    assert cli.main(["regenerate", "--study", "demo", *one]) == 0
    assert "0 ran, 6 skipped as unchanged" in capsys.readouterr().out
    (project / "reports" / "demo" / "feedback" / "MS01.html").unlink()  # a missing output is made again
    change_one_answer(project, "MS02")  # another unit: MS01's report shows it only through rounded peer figures
    assert cli.main(["regenerate", "--study", "demo", *one]) == 0
    assert "5 ran, 1 skipped as unchanged" in capsys.readouterr().out  # MS01 (missing) and the four that read survey data


def test_the_dask_backend_runs_reports_on_a_local_cluster_of_two_workers(project):
    study = load_study("demo")
    jobs = [j for j in regenerate.plan(study, root=project, microsystems=["MS01", "MS02"]) if "microsystem_id" in j.parameters]
    from workbench.study import build_processed

    build_processed("demo")
    summary = regenerate.run(jobs, workers=2, executor="dask", progress=False)
    assert [o.ok for o in summary.outcomes] == [True, True], [o.error for o in summary.outcomes]
    assert all(job.html.exists() for job in jobs)
    with pytest.raises(ValueError, match="executor must be 'local' or 'dask', got 'ray'"):
        regenerate.run(jobs, executor="ray", progress=False)
