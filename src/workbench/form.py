"""The printable self-assessment form, made from the instrument's own definition.

The wording of every item and level is read from the instrument YAML, so the paper form
and the analyses can never disagree about what was asked. Three versions are printed
from the same template:

- blank, for staff to fill in by hand;
- for one microsystem's review meeting: beside each box, how that unit's staff answered
  (shares of each level and of "can't rate", the most common level marked), read from the
  study's ``unit_items`` view, where the study's disclosure policy has already blanked
  the shares of items rated by too few people: those are printed without a breakdown;
- with one person's own answers ticked, for a learner to keep.

``html_to_pdf`` prints the HTML with headless Chromium, and ``write_form`` writes both;
``html_files_to_pdfs`` prints many pages (the feedback reports) with one browser.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from workbench.frameworks import Instrument
from workbench.io.files import write_bytes_atomic, write_text_atomic
from workbench.survey import LEVEL_COLUMNS_PREFIX
from workbench.vocabulary import CANT_RATE, DisclosurePolicy, LevelScale

if TYPE_CHECKING:
    from workbench.study import Study

__all__ = [
    "BROWSER_CANDIDATES", "CHROMIUM_FLAGS", "CHROMIUM_VARIABLE", "FORM_STEM", "INSTALL_HINT", "PAPER_SIZES",
    "PDF_TIMEOUT_SECONDS", "TEMPLATE", "TEMPLATES", "BrowserError", "find_browser", "form_filename", "form_html",
    "html_files_to_pdfs", "html_to_pdf", "write_form",
]

TEMPLATE = "self_assessment_form.html.j2"
TEMPLATES = Path(__file__).with_name("templates")
FORM_STEM = "self-assessment-form"
PAPER_SIZES = {"a4": "A4", "letter": "letter"}

CHROMIUM_VARIABLE = "WORKBENCH_CHROMIUM"
# Debian installs /usr/bin/chromium; the other names cover other distributions and Chrome.
BROWSER_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (f"install the Debian package `chromium` (apt-get install chromium), or set {CHROMIUM_VARIABLE} "
                "to a Chromium or Chrome executable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-pdf-header-footer",
)
PDF_TIMEOUT_SECONDS = 120.0


class BrowserError(RuntimeError):
    """Printing to PDF failed: no browser was found, or it did not produce a whole PDF."""


# --- the form as HTML -----------------------------------------------------------------


@dataclass(frozen=True)
class _TeamShare:
    share: float
    most_common: bool = False

    @property
    def percent(self) -> str:
        return f"{round(self.share * 100)}%"

    @property
    def bar_width(self) -> str:
        return f"{self.share * 100:.1f}%"

    @property
    def value(self) -> str:
        return f"{self.share:.4f}"


@dataclass(frozen=True)
class _Box:
    input_id: str
    value: str
    heading: str
    text: str
    checked: bool
    team: _TeamShare | None


@dataclass(frozen=True)
class _ItemView:
    number: int
    id: str
    label: str
    levels: list[_Box]
    cant_rate: _Box
    team_note: str
    suppressed: bool


@dataclass(frozen=True)
class _Field:
    id: str
    label: str
    value: str = ""
    wide: bool = False


def form_html(
    instrument: Instrument,
    *,
    study: Study | None = None,
    microsystem_id: str | None = None,
    answers: Mapping[str, int | str] | None = None,
    paper: Literal["A4", "letter"] = "A4",
) -> str:
    """The self-assessment as a printable HTML page.

    Parameters
    ----------
    instrument : the instrument whose items and level wording the form shows.
    study : the study the form belongs to; its title is printed under the form's title.
    microsystem_id : with ``study``, pre-fill the form for this unit's review meeting: the
        header names the unit, and beside each box is the share of its staff who chose it
        (the study's ``unit_items`` view). Items whose shares the study's disclosure policy
        (``study.disclosure``) withholds, rated by fewer than its ``min_cell_size`` people,
        show no breakdown, so that no one's answer can be singled out.
    answers : one person's answers to tick, item id -> a level value of the instrument's
        scale or ``"cant_rate"`` (:data:`~workbench.vocabulary.CANT_RATE`); items left out
        stay blank.
    paper : ``"A4"`` or ``"letter"``; only the page size changes.

    Returns
    -------
    A complete HTML document (UTF-8 text) with its print stylesheet inline.

    Examples
    --------
    >>> from workbench.frameworks import load_instrument
    >>> html = form_html(load_instrument("microsystem_self_assessment"), answers={"measurement": 2})
    >>> html.count('type="radio"'), html.count('value="2" checked')
    (40, 1)
    """
    page_size = PAPER_SIZES.get(str(paper).lower())
    if page_size is None:
        raise ValueError(f"paper must be one of {list(PAPER_SIZES.values())}, got {paper!r}")
    scale = LevelScale.of(instrument)
    ticked = _check_answers(instrument, answers or {})
    team = None
    if microsystem_id is not None:
        if study is None:
            raise ValueError(f"microsystem_id={microsystem_id!r} needs study= as well: "
                             "the answers to print come from a study")
        team = _team_answers(instrument, study, microsystem_id)

    fields = [_Field("unit", "Unit", team["name"] if team else "", wide=True)]
    if team:
        fields += [
            _Field("setting", "Setting", team["setting"]),
            _Field("organisation", "Organisation", team["organisation"]),
        ]
    fields += [_Field("role", "Your role"), _Field("date", "Date")]

    items = []
    for number, item in enumerate(instrument.items, start=1):
        summary = team["summaries"].get(item.id) if team else None
        shares, note, suppressed = _item_team_view(summary, scale, team["disclosure"]) if team else ({}, "", False)
        level_boxes = [
            _Box(f"{item.id}-{value}", str(value), name, item.levels[value], ticked.get(item.id) == value,
                 shares.get(value))
            for value, name in zip(scale.values, scale.names)
        ]
        cant_rate_box = _Box(f"{item.id}-cant-rate", CANT_RATE, instrument.cant_rate_label, "",
                             ticked.get(item.id) == CANT_RATE, shares.get(CANT_RATE))
        items.append(_ItemView(number, item.id, item.label, level_boxes, cant_rate_box, note, suppressed))

    return _environment().get_template(TEMPLATE).render(
        title=instrument.title,
        study_title=study.config.title if study is not None else None,
        page_size=page_size,
        fields=fields,
        items=items,
        cant_rate_label=instrument.cant_rate_label,
        item_count=len(instrument.items),
        level_count=scale.n,
        level_count_words=_NUMBER_WORDS.get(scale.n, str(scale.n)),
        team=team,
        answers_ticked=bool(ticked),
    )


_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["css_string"] = _css_string
    return environment


def _css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string. Inside <style> HTML entities are not decoded, so
    HTML escaping would print "&amp;" literally; CSS escapes keep both languages safe."""
    escaped = "".join(c if c.isalnum() or c in " -.,:;()!?" else f"\\{ord(c):06x}" for c in str(text))
    return Markup(f'"{escaped}"')


def _check_answers(instrument: Instrument, answers: Mapping[str, int | str]) -> dict[str, int | str]:
    if not isinstance(answers, Mapping):
        raise TypeError(f"answers must be a dict of item id -> level, got {type(answers).__name__}")
    unknown = [item_id for item_id in answers if item_id not in instrument.item_ids]
    if unknown:
        raise ValueError(f"answers name items {unknown} that are not in instrument {instrument.id!r}; "
                         f"its items are {instrument.item_ids}")
    levels = LevelScale.of(instrument).values
    allowed = [*levels, CANT_RATE]
    ticked: dict[str, int | str] = {}
    for item_id, value in answers.items():
        if value is None:
            continue
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) in levels:
            ticked[item_id] = int(value)
        elif value == CANT_RATE:
            ticked[item_id] = CANT_RATE
        else:
            raise ValueError(f"answers[{item_id!r}] must be one of {allowed}, got {value!r}")
    return ticked


def _team_answers(instrument: Instrument, study: Study, microsystem_id: str) -> dict:
    """The unit's header fields and its rows of the ``unit_items`` view, by item id."""
    if study.instrument.id != instrument.id:
        raise ValueError(f"study {study.id!r} asked instrument {study.instrument.id!r}; "
                         f"its answers cannot fill a form for {instrument.id!r}")
    units = study.view("unit_overview").set_index("microsystem_id")
    if microsystem_id not in units.index:
        raise ValueError(f"microsystem_id must be one of study {study.id!r}'s microsystems "
                         f"({', '.join(map(str, units.index))}), got {microsystem_id!r}")
    unit = units.loc[microsystem_id]
    items = study.view("unit_items", microsystem_id=microsystem_id)  # shares from too few people already blank
    return {
        "id": microsystem_id,
        "name": str(unit["name"]),
        "setting": str(unit["setting"]),
        "organisation": str(unit["organisation"]),
        "respondents": int(unit["respondents"]),
        "disclosure": study.disclosure,
        "min_cell_size": study.disclosure.min_cell_size,
        "summaries": {row["item_id"]: row for row in items.to_dict("records")},
    }


def _item_team_view(summary: dict | None, scale: LevelScale, disclosure: DisclosurePolicy) -> tuple[dict, str, bool]:
    """The shares to print beside each box, the line under the item's title, and whether
    the breakdown was withheld.

    ``summary`` is the unit's ``unit_items`` row for the item: where the disclosure policy
    (:func:`workbench.views.disclose`) blanked its level shares (fewer people chose a level
    than ``disclosure.min_cell_size``), or nobody chose a level, no breakdown is printed.
    """
    if summary is None or summary["n_respondents"] == 0:
        return {}, "No one in this unit answered this item.", False
    rated = summary["n_rated"]
    level_shares = {value: summary.get(f"{LEVEL_COLUMNS_PREFIX}{value}") for value in scale.values}
    if any(share is None or math.isnan(share) for share in level_shares.values()):
        # Counted on the people who chose a level: the level shares are shares of them.
        return {}, (f"No breakdown printed: fewer than {disclosure.min_cell_size} staff chose a description for this "
                    "item, too few to show without revealing individual answers."), True
    level_shares = {value: float(share) for value, share in level_shares.items()}
    top = max(level_shares.values())
    shares: dict = {
        level: _TeamShare(share, most_common=math.isclose(share, top)) for level, share in level_shares.items()
    }
    shares[CANT_RATE] = _TeamShare(float(summary["cant_rate_share"]))
    answered = summary["n_respondents"]
    if rated == answered:
        return shares, f"All {answered} staff who answered the survey chose a description.", False
    parts = [f"{rated} chose a description"]
    if any(math.isnan(summary[count]) for count in ("n_cant_rate", "n_no_answer")):
        # Hidden by the disclosure rule (too few answered, or to protect another unit's figures).
        return shares, f"Of {answered} staff who answered the survey, {rated} chose a description.", False
    if summary["n_cant_rate"]:
        parts.append(f"{int(summary['n_cant_rate'])} could not rate it")
    if summary["n_no_answer"]:
        parts.append(f"{int(summary['n_no_answer'])} left it blank")
    return shares, f"Of {answered} staff who answered the survey, " + ", ".join(parts) + ".", False


# --- printing to PDF ------------------------------------------------------------------


def find_browser(browser: str | Path | None = None) -> str:
    """The Chromium (or Chrome) executable to print with: ``browser`` if given, else
    ``$WORKBENCH_CHROMIUM``, else the first of :data:`BROWSER_CANDIDATES` on this machine."""
    requested, source = (browser, "browser") if browser else (os.environ.get(CHROMIUM_VARIABLE), CHROMIUM_VARIABLE)
    if requested:
        found = shutil.which(str(requested))
        if found is None:
            raise BrowserError(f"cannot print to PDF: {source}={str(requested)!r} is not an executable "
                               f"on this machine; {INSTALL_HINT}")
        return found
    for candidate in BROWSER_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise BrowserError(f"cannot print to PDF: no Chromium found on this machine; {INSTALL_HINT}")


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, *, browser: str | Path | None = None,
                timeout: float = PDF_TIMEOUT_SECONDS) -> Path:
    """Print an HTML file to PDF with headless Chromium.

    The PDF is printed into a private temporary folder and moved into place only when it
    is complete, so ``pdf_path`` is either the whole new PDF or left as it was. Raises
    :class:`BrowserError` (one line, saying what to install) when no browser is found, it
    fails, or it takes longer than ``timeout`` seconds.
    """
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path)
    if not html_path.is_file():
        raise FileNotFoundError(f"html_path: no file at {html_path}")
    executable = find_browser(browser)
    with tempfile.TemporaryDirectory(prefix="workbench-print-", ignore_cleanup_errors=True) as scratch:
        printed = Path(scratch) / "printed.pdf"
        command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={Path(scratch) / 'profile'}",
                   f"--print-to-pdf={printed}", html_path.as_uri()]
        _run_browser(command, timeout=timeout, what=html_path.name)
        _keep_pdf(printed.read_bytes() if printed.exists() else b"", pdf_path, executable=executable,
                  what=html_path.name)
    return pdf_path


def _keep_pdf(data: bytes, pdf_path: Path, *, executable: str, what: str) -> None:
    """Write ``data`` to ``pdf_path`` atomically if it is a whole PDF; else raise, leaving the old file."""
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
        raise BrowserError(f"cannot print to PDF: {executable} exited without writing a complete PDF "
                           f"of {what}; {INSTALL_HINT}")
    write_bytes_atomic(pdf_path, data)


def html_files_to_pdfs(pages: list[tuple[Path, Path]], *, browser: str | Path | None = None,
                       timeout: float = PDF_TIMEOUT_SECONDS) -> list[float]:
    """Print each ``(html_path, pdf_path)`` of ``pages`` to PDF with one headless Chromium for all
    of them; return the seconds each page took.

    Starting Chromium costs about a second, printing a page a tenth of that, so a study's
    feedback reports are printed by one browser driven through Playwright (when installed; in
    a thread that runs an event loop, as in a notebook, Playwright's synchronous API cannot
    run). Without it, each page is printed as :func:`html_to_pdf` prints one. Each PDF is
    written atomically, like :func:`html_to_pdf`'s; ``timeout`` bounds each page. Raises
    :class:`BrowserError` (one line) when no browser is found or printing fails.
    """
    executable = find_browser(browser)
    pages = [(Path(html_path).resolve(), Path(pdf_path)) for html_path, pdf_path in pages]
    for html_path, _ in pages:
        if not html_path.is_file():
            raise FileNotFoundError(f"html_path: no file at {html_path}")
    if not pages:
        return []
    if not _playwright_usable():
        seconds = []
        for html_path, pdf_path in pages:
            started = time.perf_counter()
            html_to_pdf(html_path, pdf_path, browser=executable, timeout=timeout)
            seconds.append(time.perf_counter() - started)
        return seconds
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    seconds = []
    try:
        with sync_playwright() as playwright:
            # Playwright passes its own headless switch; the other flags are those the command line prints with.
            chromium = playwright.chromium.launch(executable_path=executable, headless=True, timeout=timeout * 1000,
                                                  args=[flag for flag in CHROMIUM_FLAGS if flag != "--headless"])
            try:
                page = chromium.new_page()
                page.set_default_timeout(timeout * 1000)
                # The pages are self-contained; what they fetch from the web (the HTML exporter's
                # require.js and MathJax) is not needed on paper and would make printing wait on the network.
                page.route(re.compile(r"^https?://"), lambda route: route.abort())
                for html_path, pdf_path in pages:
                    started = time.perf_counter()
                    page.goto(html_path.as_uri(), wait_until="load")
                    # A4 unless the page's own @page rule names a size (the reports' does).
                    data = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
                    _keep_pdf(data, pdf_path, executable=executable, what=html_path.name)
                    seconds.append(time.perf_counter() - started)
            finally:
                chromium.close()
    except PlaywrightError as error:
        first = (str(error).strip().splitlines() or ["no message"])[0][:200]
        raise BrowserError(f"cannot print to PDF: {executable} failed ({first}); {INSTALL_HINT}") from None
    return seconds


def _playwright_usable() -> bool:
    import asyncio
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def _run_browser(command: list[str], *, timeout: float, what: str) -> None:
    # A session of its own lets a timeout end Chromium's helper processes along with it.
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
    except OSError as error:
        raise BrowserError(f"cannot print to PDF: {command[0]} would not start "
                           f"({error.strerror or error}); {INSTALL_HINT}") from None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_process_group(process.pid)
        process.communicate()
        raise BrowserError(f"cannot print to PDF: {command[0]} did not finish printing {what} "
                           f"within {timeout:g} s") from None
    _end_process_group(process.pid)  # helpers that outlive the browser itself
    if process.returncode != 0:
        last = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()][-1:] or ["no message"]
        raise BrowserError(f"cannot print to PDF: {command[0]} failed (exit status {process.returncode}: "
                           f"{last[0].strip()[:200]}); {INSTALL_HINT}")


def _end_process_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- files and the command ------------------------------------------------------------


def form_filename(microsystem_id: str | None = None, suffix: str = ".html") -> str:
    """``self-assessment-form.html``, or ``self-assessment-form-<microsystem_id>.html``."""
    if microsystem_id is None:
        return f"{FORM_STEM}{suffix}"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(microsystem_id))
    return f"{FORM_STEM}-{safe}{suffix}"


def write_form(
    target_folder: str | Path,
    instrument: Instrument,
    *,
    study: Study | None = None,
    microsystem_id: str | None = None,
    answers: Mapping[str, int | str] | None = None,
    pdf: bool = True,
    paper: Literal["A4", "letter"] = "A4",
    browser: str | Path | None = None,
) -> list[Path]:
    """Write the form as HTML (and PDF) into ``target_folder``; return the paths written.

    The arguments are those of :func:`form_html`. Each file is written atomically. If
    printing fails the HTML is kept and :class:`BrowserError` is raised.
    """
    html = form_html(instrument, study=study, microsystem_id=microsystem_id, answers=answers, paper=paper)
    folder = Path(target_folder)
    html_path = folder / form_filename(microsystem_id, ".html")
    write_text_atomic(html_path, html)
    written = [html_path]
    if pdf:
        written.append(html_to_pdf(html_path, folder / form_filename(microsystem_id, ".pdf"), browser=browser))
    return written
