"""The classroom as the class sees it: lesson 2 and the class view served as Voilà apps (what
``make lessons`` and ``make class-view`` run), driven in headless Chromium through Playwright.

Five simulated learners each open lesson 2 (learner version) in a fresh page, tick their own
answers and press Submit; the instructor's class view, reloaded, shows only the count while
there are fewer submissions than the study's ``min_cell_size`` (5 in the demo) and the class
as one group from 5 on, without any learner's code.

Uses Debian's ``chromium`` through the ``browser`` fixture (skipped without one, unless
``WORKBENCH_REQUIRE_BROWSER=1``). Both servers run on the test's own built project
(``$WORKBENCH_ROOT``) and a class folder in the test's temporary folder (``$WORKBENCH_CLASS``);
screenshots go to ``$WORKBENCH_SCREENSHOTS`` or the test's temporary folder, never the checkout.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_browser import CHROMIUM_FLAGS, serve_voila
from workbench.teaching.classroom import CLASS_VARIABLE

pytestmark = pytest.mark.slow

LESSON = "02-your-unit-among-the-others.ipynb"
LEVELS = ["Low", "Middle", "High", "Can't rate"]
TIMEOUT_MS = 180_000  # a page runs the whole lesson in a fresh kernel; the machine may be busy


@contextmanager
def voila(target: Path, *, project: Path, class_folder: Path, log: Path):
    """``target`` (a notebook, or a folder of them) served by Voilà as ``make lessons`` does, with the
    class folder; yields its address."""
    with serve_voila(target, project=project, log=log, env={CLASS_VARIABLE: str(class_folder)},
                     patience=90) as address:
        yield address


def answers_of(learner: int, items: int) -> list[str]:
    """Learner ``learner``'s choice for each item: different for every learner; everyone rates item 4 (measurement)."""
    chosen = [LEVELS[(learner + 3 * item + learner * item // 3) % 4] for item in range(items)]
    chosen[3] = LEVELS[learner % 3]
    return chosen


def submit_as_learner(context, lessons: str, learner: int, screenshots: Path) -> tuple[str, str]:
    """One learner: open lesson 2 as an app, answer every item, submit; return the code the page shows
    and the line it says about the class so far."""
    page = context.new_page()
    try:
        page.goto(f"{lessons}voila/render/{LESSON}", wait_until="domcontentloaded")
        form = page.locator(".workbench-self-assessment")
        form.wait_for(timeout=TIMEOUT_MS)
        questions = form.locator(".widget-toggle-buttons")
        assert questions.count() == 10
        assert form.locator(".widget-toggle-button.mod-active").count() == 0, "the form starts blank"
        assert "0 of 10 items rated" in form.inner_text()
        before = form.locator("img").first.get_attribute("src")
        for number, level in enumerate(answers_of(learner, questions.count())):
            questions.nth(number).get_by_role("button", name=level, exact=True).click()
        page.wait_for_function("previous => document.querySelector('.workbench-self-assessment img').src "
                               "!== previous", arg=before, timeout=60_000)
        assert form.locator(".widget-toggle-button.mod-active").count() == 10
        form.get_by_role("button", name="Submit to the class").click()
        page.locator(".workbench-submitted").wait_for(timeout=60_000)
        code = page.locator(".workbench-code").inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{8}", code)
        summary = page.locator(".workbench-class-summary")
        summary.wait_for(timeout=60_000)
        form.screenshot(path=str(screenshots / f"lesson-2-learner-{learner + 1}.png"))
        return code, summary.inner_text()
    finally:
        page.close()


def open_class_view(context, class_view: str, screenshots: Path, name: str) -> tuple[str, list[list[str]], str]:
    """The class view, freshly loaded: its summary line, its table's rows (cells as shown), and all its text."""
    page = context.new_page()
    try:
        page.goto(class_view, wait_until="domcontentloaded")
        summary = page.locator(".workbench-class-summary")
        summary.wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("Reading it with the class").wait_for(timeout=60_000)  # the last cell has run
        rows = [[cell.inner_text().strip() for cell in row.locator("td").all()]
                for row in page.locator(".wb-table tbody tr").all()]
        page.screenshot(path=str(screenshots / name), full_page=True)
        return summary.inner_text(), rows, page.locator("body").inner_text()
    finally:
        page.close()


def test_five_learners_submit_and_the_class_view_keeps_the_small_group_rule(browser, project, tmp_path,
                                                                            screenshots):
    from playwright.sync_api import sync_playwright

    class_folder = tmp_path / "class"
    class_folder.mkdir()
    notebooks = project / "notebooks"
    with voila(notebooks / "teaching" / "learner", project=project, class_folder=class_folder,
               log=tmp_path / "lessons.log") as lessons, \
            voila(notebooks / "class-view.ipynb", project=project, class_folder=class_folder,
                  log=tmp_path / "class-view.log") as class_view, \
            sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, args=CHROMIUM_FLAGS, headless=True)
        try:
            context = chromium.new_context(viewport={"width": 1400, "height": 2400})
            submitted = [submit_as_learner(context, lessons, learner, screenshots) for learner in range(3)]
            codes = [code for code, _ in submitted]
            assert len(set(codes)) == 3 and sorted(p.stem for p in class_folder.iterdir()) == sorted(codes)
            assert submitted[2][1].startswith("3 submissions so far")

            # Three learners, k = 5: the count and nothing else.
            summary, rows, text = open_class_view(context, class_view, screenshots, "class-view-3-learners.png")
            assert summary.startswith("3 submissions so far") and "shown from 5 on" in summary
            assert len(rows) == 8 and all(row[1:5] == ["–"] * 4 for row in rows), rows
            assert not any(code in text for code in codes)

            # Five: the class as one group; a characteristic fewer than five scored stays blank.
            submitted += [submit_as_learner(context, lessons, learner, screenshots) for learner in range(3, 5)]
            codes = [code for code, _ in submitted]
            assert submitted[4][1].startswith("5 submissions: the class as one group")
            summary, rows, text = open_class_view(context, class_view, screenshots, "class-view-5-learners.png")
            assert summary.startswith("5 submissions: the class as one group")
            by_name = {row[0]: row for row in rows}
            assert by_name["Measurement"][1] == "5" and re.fullmatch(r"[123]\.\d\d", by_name["Measurement"][2])
            blank = [row for row in rows if row[1] == "<5"]
            assert blank and all(row[2:5] == ["–"] * 3 for row in blank)
            assert not any(code in text for code in codes)
        finally:
            chromium.close()
    assert sorted(p.stem for p in class_folder.iterdir()) == sorted(codes)
