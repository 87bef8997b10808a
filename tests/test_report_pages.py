"""Every generated report of the demo study, opened in headless Chromium as a reader would.

The reports are regenerated into the test's own project (the study-level ones and two
feedback reports), then each page is opened at 1024 and 1400 px and checked: nothing is
wider than the page, no missing-value or truncation marker appears in the visible text, and
every table and figure has a caption. Screenshots go to ``$WORKBENCH_SCREENSHOTS`` when set
(to look at them), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import SCREENSHOTS_VARIABLE
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS
from workbench import cli

pytestmark = pytest.mark.slow

WIDTHS = (1024, 1400)
# Words a reader must never see: pandas' missing values and truncation, Python's None.
FORBIDDEN = re.compile(r"\bNaN\b|<NA>|\bNone\b|\brows × |\d+ columns\]|^\s*(\.\.\.|…)\s*$", re.M)

# In the page: elements reaching past the right edge, outside any box that scrolls or clips
# them; tables without a caption; images in outputs without a figure caption before them.
_CHECKS = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => { for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !clipped(el)) wide.push(el.tagName + '.' + el.className);
  }
  const uncaptioned = [...document.querySelectorAll('table')].filter(t => !t.querySelector('caption')).length;
  const images = [...document.querySelectorAll('.jp-OutputArea-output img, .jp-RenderedImage img')];
  const figures = images.filter(img => {
    const cell = img.closest('.jp-Cell'); if (!cell) return false;
    const captions = [...cell.querySelectorAll('.wb-figcaption')];
    return captions.some(c => c.compareDocumentPosition(img) & Node.DOCUMENT_POSITION_FOLLOWING);
  }).length;
  return {wide: wide.slice(0, 5), overflow: document.documentElement.scrollWidth - width,
          uncaptioned, images: images.length, captioned: figures, text: document.body.innerText};
}"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The demo's reports regenerated into a fresh built project (two feedback reports)."""
    import shutil

    from tests.conftest import _SESSION

    root = tmp_path_factory.mktemp("pages") / "project"
    shutil.copytree(_SESSION["template"], root, symlinks=True)
    previous = os.environ.get("WORKBENCH_ROOT")
    os.environ["WORKBENCH_ROOT"] = str(root)
    try:
        assert cli.main(["regenerate", "--study", "demo", "--microsystem", "MS01", "--microsystem", "MS14",
                         "--no-progress"]) == 0
    finally:
        if previous is not None:
            os.environ["WORKBENCH_ROOT"] = previous
    return root / "reports" / "demo"


def pages(reports: Path) -> list[Path]:
    return sorted(p for p in reports.rglob("*.html") if "internal" not in p.parts)


def test_every_report_reads_cleanly_at_two_widths(generated, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium found: install Debian's chromium package")
        pytest.skip("no Chromium found")
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get(SCREENSHOTS_VARIABLE) or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    found = pages(generated)
    assert {p.name for p in found} >= {"index.html", "01-study-overview.html", "02-survey-assessment.html",
                                       "03-interview-coding.html", "04-cross-case.html", "MS01.html", "MS14.html"}
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                for path in found:
                    page.goto(path.as_uri(), wait_until="load")
                    result = page.evaluate(_CHECKS)
                    name = f"{path.relative_to(generated).as_posix()} at {width} px"
                    if result["overflow"] > 1 or result["wide"]:
                        problems.append(f"{name}: wider than the page by {result['overflow']} px {result['wide']}")
                    for match in FORBIDDEN.finditer(result["text"]):
                        problems.append(f"{name}: shows {match.group(0).strip()!r}")
                    if result["uncaptioned"]:
                        problems.append(f"{name}: {result['uncaptioned']} table(s) without a caption")
                    if result["captioned"] < result["images"]:
                        problems.append(f"{name}: {result['images'] - result['captioned']} figure(s) without a caption")
                    stem = path.relative_to(generated).with_suffix("").as_posix().replace("/", "-")
                    page.screenshot(path=str(shots / f"{stem}-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert problems == []
