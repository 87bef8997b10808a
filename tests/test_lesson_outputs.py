"""Every lesson as reveal.js slides and as a printable handout (workbench.teaching.publishing).

The decks and handouts are made from the executed learner notebooks of a project copied to a
temporary folder (the stored outputs of notebooks/teaching/learner/, which test_teaching checks
against the lesson sources); nothing is written into the checkout.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from workbench.project import Project
from workbench.teaching.generator import EXERCISE_TAG, LESSONS, LESSONS_DIR, validate
from workbench.teaching.publishing import (
    PROMPT_TAG,
    REVEAL_URL,
    presented,
    slide_types,
    slides_html,
    with_slide_metadata,
    write_lesson_outputs,
)

CHECKOUT = Path(__file__).resolve().parents[1]
LEARNER = CHECKOUT / "notebooks" / "teaching" / "learner"
MAX_HANDOUT_PAGES = 6  # the longest (lessons 2 and 3: the paper form, a 43-unit matrix) print on 5 A4 pages


def _png(width: int, height: int) -> str:
    """A base64 PNG header of the given size: all that the slide rule reads of a figure."""
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return base64.b64encode(header + b"\x08\x06\x00\x00\x00").decode()


def _result(data: dict):
    return new_output("execute_result", data, execution_count=1)


def _lesson_book() -> nbformat.NotebookNode:
    """A small executed learner lesson with every kind of cell the rule knows."""
    table = "<table class='dataframe'><tr><td>1</td></tr></table>"
    long_table = "<table>" + "<tr><td>row</td></tr>" * 40 + "</table>"
    return new_notebook(cells=[
        new_markdown_cell("# Lesson 9: A test\n\n*About 5 minutes.*"),
        new_code_cell('study = "demo"  # the study', metadata={"tags": ["parameters"]}),
        new_code_cell("import pandas as pd"),
        new_markdown_cell("## A part\n\nSome text."),
        new_code_cell("s = open_study(study)\nMarkdown('43 units')", outputs=[_result({"text/markdown": "43 units"})]),
        new_code_cell("table", outputs=[_result({"text/html": table, "text/plain": "1"})]),
        new_code_cell("plt.show()", outputs=[new_output("display_data", {"image/png": _png(800, 400)})]),
        new_code_cell("plt.show()", outputs=[new_output("display_data", {"image/png": _png(800, 1200)})]),
        new_markdown_cell("### Exercises\n\nEach exercise has a question."),
        new_code_cell('teaching.ask("9.1", s)', outputs=[_result({"text/markdown": "**Exercise 9.1.** How many?"})]),
        new_code_cell("answer_9_1 = ...  # your answer: a whole number", metadata={"tags": [EXERCISE_TAG]}),
        new_code_cell('teaching.check("9.1", answer_9_1, s)', outputs=[_result({"text/plain": "… Not answered yet"})]),
        new_markdown_cell("## Another part"),
        new_code_cell("long", outputs=[_result({"text/html": long_table})]),
        new_markdown_cell("More text under it."),
    ])


def test_presented_lesson_drops_code_and_boxes_each_exercise():
    shown = presented(_lesson_book())
    sources = [cell.source for cell in shown.cells]
    assert not any("import pandas" in source or "study =" in source or "teaching.check" in source
                   for source in sources)
    prompts = [cell for cell in shown.cells if PROMPT_TAG in cell.metadata.get("tags", [])]
    assert len(prompts) == 1
    assert "<strong>Exercise 9.1.</strong> How many?" in prompts[0].source
    assert "Your answer: a whole number" in prompts[0].source
    assert "answer_9_1" not in prompts[0].source


def test_slide_metadata_follows_the_rule():
    shown = presented(_lesson_book())
    deck = with_slide_metadata(shown)
    assert [cell.metadata["slideshow"]["slide_type"] for cell in deck.cells] == slide_types(shown)
    found = [(cell.source.splitlines()[0][:20] if cell.cell_type == "markdown" or cell.source else "",
              cell.metadata["slideshow"]["slide_type"]) for cell in deck.cells]
    assert [slide for _, slide in found] == [
        "slide",  # the title
        "slide",  # ## A part
        "fragment",  # a sentence the lesson computes
        "-",  # the first small table: on the slide of its text
        "subslide",  # a second display: a slide of its own
        "subslide",  # a figure taller than wide: a slide of its own
        "subslide",  # ### Exercises
        "subslide",  # the exercise prompt
        "slide",  # ## Another part
        "subslide",  # a 40-row table: too large for the slide of its heading
        "-",  # more text
    ], found


def test_answer_hints_drop_what_only_a_notebook_needs():
    book = new_notebook(cells=[
        new_code_cell("answer_1_2 = ...  # your answer: a characteristic id in quotes, e.g. \"measurement\"",
                      metadata={"tags": [EXERCISE_TAG]}),
        new_code_cell("answer_4_1 = ...  # your answer: a number, e.g. computed as 1 - levels.var() / null_variance",
                      metadata={"tags": [EXERCISE_TAG]}),
    ])
    first, second = presented(book).cells
    assert "Your answer: a characteristic id, e.g. &quot;measurement&quot;" in first.source
    assert "<strong>Exercise 1.2.</strong>" in first.source  # no question before it: its number alone
    assert "Your answer: a number</span>" in second.source


def _source(lesson) -> nbformat.NotebookNode:
    return nbformat.read(LESSONS_DIR / f"{lesson.name}.ipynb", as_version=4)


def _visible_text(page: str) -> str:
    """What a reader sees of an HTML page: no styles, scripts or tags."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_lesson_renders_to_slides_without_code(lesson):
    source = _source(lesson)
    book = nbformat.read(LEARNER / f"{lesson.name}.ipynb", as_version=4)
    deck = slides_html(book, title=lesson.title)
    headings = sum(1 for cell in source.cells if cell.cell_type == "markdown"
                   for line in cell.source.splitlines() if re.match(r"#{1,2} ", line))
    assert deck.count("<section") >= headings
    assert not re.search(r'class="[^"]*(jp-InputArea-editor|highlight)', deck)  # no code input
    text = _visible_text(deck)
    assert "import " not in text
    assert not re.search(r"answer_\d+_\d+", text)
    assert "teaching.check" not in text and "Not answered yet" not in text
    for exercise_id in validate(source, name=lesson.name):
        assert f"Exercise {exercise_id}." in text
    exercises = sum(EXERCISE_TAG in cell.metadata.get("tags", []) for cell in source.cells)
    assert deck.count('class="wb-exercise"') == exercises
    # Nothing loaded from the web but reveal.js, tried beside the deck first.
    assert f'["reveal.js", "{REVEAL_URL}"]' in deck
    assert not re.search(r"<script[^>]+src=", deck)


@pytest.fixture(scope="module")
def teaching_project(tmp_path_factory) -> Project:
    """A project of the tests' own holding the executed learner notebooks."""
    root = tmp_path_factory.mktemp("lessons") / "project"
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(LEARNER, root / "notebooks" / "teaching" / "learner")
    return Project(root)


def _checkout_outputs() -> dict[Path, int]:
    """Whatever ``workbench teaching`` run in the checkout itself left there (git-ignored), with times."""
    folder = CHECKOUT / "reports" / "teaching"
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*")} if folder.is_dir() else {}


@pytest.fixture(scope="module")
def printed(teaching_project, browser):
    """Every lesson's slides and handout, PDFs included, written once for the module; and the
    checkout's own teaching outputs before and after."""
    before = _checkout_outputs()
    made = write_lesson_outputs(teaching_project, browser=browser)
    made.checkout_unchanged = _checkout_outputs() == before
    return made


def _pdftotext(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_lesson_prints_to_a_short_handout_without_code(printed, teaching_project, lesson):
    pdf = teaching_project.teaching_outputs / "handouts" / f"{lesson.name}.pdf"
    assert pdf in printed.pdfs and pdf.is_file()
    assert printed.skipped is None
    assert 1 <= _pages(pdf) <= MAX_HANDOUT_PAGES
    text = _pdftotext(pdf)
    assert "import " not in text
    assert not re.search(r"answer_\d+_\d+\s*=", text)
    assert "Not answered yet" not in text
    source = _source(lesson)
    for exercise_id in validate(source, name=lesson.name):
        assert f"Exercise {exercise_id}." in text
    exercises = sum(EXERCISE_TAG in cell.metadata.get("tags", []) for cell in source.cells)
    assert text.count("Your answer") == exercises
    assert lesson.title.split(",")[0] in " ".join(text.split())  # the header names the lesson


@pytest.mark.slow
def test_outputs_land_in_the_projects_teaching_folder(printed, teaching_project):
    target = teaching_project.teaching_outputs
    assert target == teaching_project.root / "reports" / "teaching"
    assert printed.slides == [target / "slides" / f"{lesson.name}.slides.html" for lesson in LESSONS]
    assert printed.handouts == [target / "handouts" / f"{lesson.name}.html" for lesson in LESSONS]
    assert all(path.is_file() for path in [*printed.slides, *printed.handouts, *printed.pdfs])
    assert printed.checkout_unchanged
    assert not list(target.rglob(".*.tmp*"))  # written atomically, nothing left half-done


def test_without_a_browser_slides_are_written_and_handouts_skipped(project):
    made = write_lesson_outputs(Project(project), lessons=LESSONS[:1], browser="/nonexistent/chromium")
    assert made.pdfs == [] and "not an executable" in made.skipped
    assert "\n" not in made.skipped
    assert made.slides[0].is_file() and made.handouts[0].is_file()
    assert not made.handouts[0].with_suffix(".pdf").exists()


def test_gone_lessons_are_removed_and_a_local_reveal_is_kept(project):
    target = Project(project).teaching_outputs
    gone = [target / "slides" / "99-gone.slides.html", target / "handouts" / "99-gone.pdf"]
    local = target / "slides" / "reveal.js" / "dist" / "reveal.js"
    for path in [*gone, local]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("old")
    made = write_lesson_outputs(Project(project), lessons=LESSONS[:1], pdf=False)
    assert not any(path.exists() for path in gone)
    assert local.read_text() == "old"
    assert made.reveal_local and made.skipped == "not asked for"


def test_the_teaching_command_says_where_slides_and_handouts_go(project, monkeypatch, capsys):
    """``workbench teaching`` end to end, with the notebooks' execution replaced by the stored,
    executed versions (running ten notebooks is test_teaching's and nbval's job)."""
    from workbench import cli
    from workbench.reports import running
    from workbench.reports.planning import Job

    def executed(project_, *, only):
        for notebook in only:
            shutil.copyfile(CHECKOUT / "notebooks" / "teaching" / notebook.parent.name / notebook.name, notebook)
        return [running.Outcome(Job(notebook, notebook, {}, notebook.stem), 0.1) for notebook in only]

    monkeypatch.setattr(running, "refresh_source_notebooks", executed)
    monkeypatch.setenv("WORKBENCH_CHROMIUM", "/nonexistent/chromium")
    assert cli.main(["teaching", "--reveal-url", "https://example.org/reveal"]) == 0
    out = capsys.readouterr().out
    assert "5 slide decks -> reports/teaching/slides/ (reveal.js from https://example.org/reveal: needs the " \
           "internet, unless a copy of reveal.js 4 is put in reports/teaching/slides/reveal.js/)" in out
    assert "5 handouts, HTML only -> reports/teaching/handouts/; PDFs not made: WORKBENCH_CHROMIUM=" in out
    deck = (project / "reports" / "teaching" / "slides" / f"{LESSONS[0].name}.slides.html").read_text()
    assert '["reveal.js", "https://example.org/reveal"]' in deck
