"""Regeneration end to end, on a throwaway copy of the project (each notebook takes seconds)."""

from __future__ import annotations

import re

import nbformat
import pytest

from workbench import cli, regenerate
from workbench.study import build_processed

pytestmark = pytest.mark.slow


def test_regenerate_writes_every_report_and_an_index_that_links_them(project, capsys):
    assert cli.main(["regenerate", "--study", "demo", "--microsystem", "MS01", "--microsystem", "MS02", "--jobs", "2", "--no-progress"]) == 0
    reports = project / "reports" / "demo"
    study_level = ["01-study-overview", "02-survey-assessment", "03-interview-coding", "04-cross-case"]
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
    assert not re.search(r"\bR\d{4}\b", feedback), "no respondent id in a feedback report"
    assert not list(reports.rglob("*.tmp*")), "no temporary file left behind"
    assert "6 of 6 reports regenerated" in capsys.readouterr().out


def test_a_failing_report_keeps_the_previous_one_and_is_named(project):
    study = build_processed("demo")
    job = next(j for j in regenerate.plan(study, root=project, microsystems=["MS03"]) if "microsystem_id" in j.parameters)
    first = regenerate.execute(job)
    assert first.ok, first.error
    before = job.html.read_bytes(), job.output.read_bytes()

    book = nbformat.read(job.notebook, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("this report cannot be made")'))
    nbformat.write(book, job.notebook)
    second = regenerate.run([job], workers=1, progress=False)
    assert [o.ok for o in second.outcomes] == [False]
    assert "RuntimeError: this report cannot be made" in second.failed[0].error
    assert (job.html.read_bytes(), job.output.read_bytes()) == before
    assert not list(job.output.parent.glob("*.tmp*"))
    index = regenerate.write_index(study, second, root=project).read_text()
    assert "failed in the last run" in index
