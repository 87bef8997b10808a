"""Regeneration end to end, on a throwaway copy of the project (each notebook takes seconds)."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from workbench import cli, demo
from workbench.presentation import DASH
from workbench.project import Project
from workbench.reports import execute, plan, run, write_index
from workbench.study import build_processed

pytestmark = pytest.mark.slow
TWO_UNITS = ["--microsystem", "MS01", "--microsystem", "MS02"]


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_regenerate_writes_every_report_and_an_index_and_exposes_nobody(project, capsys):
    raw_before = tree_hashes(project / "data" / "raw")
    assert cli.main(["regenerate", "--study", "demo", *TWO_UNITS, "--jobs", "2", "--no-progress"]) == 0
    assert tree_hashes(project / "data" / "raw") == raw_before, "regeneration must never write data/raw/"
    reports = project / "reports" / "demo"
    study_level = [
        "01-study-overview", "02-survey-assessment", "03-interview-coding", "04-cross-case", "06-patient-journeys",
    ]
    for name in study_level:
        assert (reports / f"{name}.html").stat().st_size > 10_000
        assert (reports / f"{name}.ipynb").exists()
    index = (reports / "index.html").read_text()
    links = set(re.findall(r'href="([^"]+)"', index))
    assert {f"{name}.html" for name in study_level} | {"feedback/MS01.html", "feedback/MS02.html"} <= links
    assert all((reports / link).exists() for link in links)
    feedback = (reports / "feedback" / "MS01.html").read_text()
    assert "Willowdale Family Practice" in feedback
    assert "open_study(" not in feedback, "reports show outputs and narrative, not code"
    assert not list(reports.rglob("*.tmp*")), "no temporary file left behind"
    assert "7 ran, 0 skipped as unchanged, 0 failed" in capsys.readouterr().out

    everything = "\n".join(p.read_text(errors="replace") for p in reports.rglob("*") if p.suffix in (".html", ".ipynb"))
    assert not re.search(r"\bR\d{4}\b", everything), "a raw respondent id reached a report"
    for name in demo.ROSTER:
        for part in name.split():
            assert not re.search(rf"\b{part}\b", everything), f"a roster name reached a report: {name}"
    assert "@example.org" not in everything and "555-01" not in everything

    # Material for the coding team (excerpts with interview and unit ids: the disagreements, the
    # code x interview table, the quotes in context) only in the restricted folder.
    internal = reports / "internal"
    assert sorted(p.name for p in internal.iterdir()) == [
        f"{stem}.{suffix}" for stem in ("code-by-interview", "coder-disagreements", "quotes-in-context")
        for suffix in ("csv", "xlsx")]
    assert internal.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in internal.iterdir())
    assert not any("internal" in link for link in links)
    consensus = pd.read_csv(internal / "coder-disagreements.csv")
    shared = "\n".join(p.read_text(errors="replace") for p in reports.rglob("*.html"))
    assert len(consensus) and not any(i in shared for i in consensus["interview_id"].unique())
    in_context = pd.read_csv(internal / "quotes-in-context.csv", keep_default_na=False)
    assert len(in_context) and set(in_context["context_from"]) == {"neighbouring coded segments"}
    # No excerpt in a shared report carries both its unit and its speaker's role: the interview
    # report shows excerpts by characteristic alone.
    book = nbformat.read(reports / "03-interview-coding.ipynb", as_version=4)
    cell = next(c for c in book.cells if c.cell_type == "code" and "representative_excerpts" in c.source)
    shown = cell.outputs[0]["data"]["text/html"]
    assert "Interviewee role" not in shown and "Nurse" not in shown and "MS0" not in shown and "INT0" not in shown

    # The one role breakdown of people in the reports: leading processes by interviewee role.
    book = nbformat.read(reports / "03-interview-coding.ipynb", as_version=4)
    cell = next(c for c in book.cells if c.cell_type == "code" and 'by="interviewee_role"' in c.source)
    table = cell.outputs[0]["data"]["text/html"]
    rows = {match[1]: re.findall(r'<td class="num">([^<]*)</td>', match[2])
            for match in re.finditer(r'<tr><td class="text">([^<]+)</td>(.*?)</tr>', table)}
    sizes = build_processed("demo").interviews["interviewee_role"].value_counts()
    shown_rows = {role: rows[role] for role in sizes.index if role in rows}
    assert shown_rows, table
    for role, figures in shown_rows.items():
        if sizes[role] < 5:  # withheld: a dash, with the table's footnote saying why
            assert figures and all(value == DASH for value in figures), figures
        else:
            assert figures[0] == f"{sizes[role]:,}", figures


def test_a_failing_report_keeps_the_previous_one_and_is_named(project):
    study = build_processed("demo")
    job = next(j for j in plan(Project(project), study, microsystems=["MS03"]).jobs if "microsystem_id" in j.parameters)
    first = execute(job)
    assert first.ok, first.error
    before = job.html.read_bytes(), job.output.read_bytes()

    book = nbformat.read(job.notebook, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("this report cannot be made")'))
    nbformat.write(book, job.notebook)
    second = run([job], workers=1, progress=False)
    assert [o.ok for o in second.outcomes] == [False]
    assert "RuntimeError: this report cannot be made" in second.failed[0].error
    assert (job.html.read_bytes(), job.output.read_bytes()) == before
    assert not list(job.output.parent.glob("*.tmp*"))
    index = write_index(Project(project), study, {o.job.output for o in second.failed}).read_text()
    assert "failed in the last run" in index


def test_killing_a_regeneration_midway_leaves_the_previous_outputs_whole(project):
    assert cli.main(["regenerate", "--study", "demo", *TWO_UNITS, "--jobs", "2", "--no-progress"]) == 0
    raw_before = tree_hashes(project / "data" / "raw")
    reports = project / "reports" / "demo"
    old_reports = tree_hashes(reports)
    # A changed answer makes the next build rewrite the processed frames and every report.
    survey = project / "data" / "raw" / "demo" / "survey_responses.csv"
    survey.write_text(survey.read_text().replace("R0001,MS01,Manager,", "R0001,MS01,Manager,", 1))
    command = [sys.executable, "-m", "workbench.cli", "regenerate", "--study", "demo", *TWO_UNITS,
               "--jobs", "2", "--no-progress"]
    process = subprocess.Popen(command,
                               env={**os.environ, "WORKBENCH_ROOT": str(project)}, cwd=project, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(6)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: the command, its workers and their kernels
    process.wait()
    for path in reports.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            if path.suffix == ".ipynb":
                nbformat.read(path, as_version=4)  # whole, old or new
            elif path.suffix == ".html":
                assert path.read_text().rstrip().endswith("</html>"), path
    assert set(old_reports) <= set(tree_hashes(reports)), "a previous report disappeared"
    for path in (project / "data" / "processed" / "demo").glob("*.parquet"):
        pd.read_parquet(path)
    assert tree_hashes(project / "data" / "raw") == raw_before
    assert cli.main(["regenerate", "--study", "demo", *TWO_UNITS, "--jobs", "2", "--no-progress"]) == 0
    assert not list(reports.rglob(".*.tmp.*"))
