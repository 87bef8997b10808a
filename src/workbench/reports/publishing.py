"""Publishing reports: the reader-facing HTML of an executed notebook, and the study's index page."""

from __future__ import annotations

import functools
import html
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from workbench.io.files import write_text_atomic
from workbench.project import Project
from workbench.reports.planning import title_of

__all__ = ["PDF_FOLDERS", "PdfRun", "combined_html", "remove_stale_temporaries", "to_html", "write_index",
           "write_pdfs"]

# The per-microsystem reports printed to PDF at each regeneration (one per unit, and all of a
# study's in one): the feedback reports, handed out at the units' staff meetings.
PDF_FOLDERS = ("feedback",)

# What the index page says above the reports of each per-microsystem notebook.
_PER_MICROSYSTEM_NOTE = ("One report per microsystem, for its own staff: its own figures, with the other microsystems "
                         "only as a distribution.")


@functools.cache
def _exporter():
    """One HTML exporter per process: making one compiles its Jinja templates (0.13 s a report)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)


# The page around every report: header, contents, and how it prints (A4, no navigation, no
# scroll boxes, figures and table rows kept whole).
_PAGE_STYLE = """<style>
.wb-page-header {font: 0.85rem system-ui, sans-serif; color: #444; border-bottom: 1px solid #ccc;
  padding: 0.4rem 0 0.5rem; margin-bottom: 0.8rem; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem;}
.wb-page-header a {color: #1a5fb4;}
.wb-toc {font: 0.9rem system-ui, sans-serif; background: #f6f6f6; padding: 0.5rem 1rem; margin: 0 0 1rem;
  max-width: 40rem;}
.wb-toc ol {margin: 0.2rem 0 0; padding-left: 1.2rem;}
body.jp-Notebook {max-width: 72rem; margin: 0 auto; padding: 0 1rem;}
.jp-OutputArea-output, .jp-RenderedHTMLCommon {max-width: 100%; overflow-x: auto;}
@page {size: A4; margin: 12mm 13mm 13mm;}
@media print {
  .wb-page-header a, .wb-toc {display: none;}
  .wb-page-header {font-size: 0.75rem;}
  body.jp-Notebook {max-width: none; padding: 0;}
  .jp-OutputArea-output, .jp-RenderedHTMLCommon {overflow: visible !important;}
  .jp-Cell {padding: 0 !important;}
  h1, h2, h3 {page-break-after: avoid;}
  img {max-width: 100% !important; page-break-inside: avoid;}
  /* Paper is read closer than a screen: a slightly smaller text, tighter headings and quotes,
     so a feedback report fits two A4 pages. */
  :root {--jp-content-font-size1: 12px; --jp-content-line-height: 1.4; --jp-content-heading-margin-top: 0.7em;
    --jp-content-heading-margin-bottom: 0.35em;}
  .jp-RenderedHTMLCommon p {margin-bottom: 0.45em;}
  .jp-RenderedHTMLCommon blockquote {margin: 0.3em 0 0.3em 1em; padding: 0 0.8em; break-inside: avoid;}
  /* Headers may wrap on paper: a table wider than the page loses its right-hand columns. Columns
     as wide as their content (JupyterLab's fixed layout makes them all equal), text to the left. */
  body .wb-table th, body .wb-table th.num {white-space: normal;}
  body table.wb-table {table-layout: auto; font-size: 9pt;}
  body .wb-table td.text, body .wb-table th.text {text-align: left;}
  .wb-figcaption {page-break-after: avoid;}
  /* A table may continue on the next page (row by row) instead of leaving the rest of this one
     empty: JupyterLab keeps every output whole on paper, and a box that scrolls is never split. */
  .jp-OutputArea-child, .jp-OutputArea-output {display: block;}
  .jp-OutputArea, .jp-OutputArea-child {overflow: visible !important;}
  .jp-OutputArea-child:has(table.wb-table), .jp-OutputArea-child:has(blockquote) {break-inside: auto;}
}
</style>"""

_HEADING = re.compile(r'<h2 id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h2>', re.S)


def to_html(notebook: Path, *, title: str, study_title: str = "", data: str = "", index: str = "") -> str:
    """The executed notebook as a reader-facing page: outputs and narrative, no code, inside
    the report page (study and report title, when and from which data it was made, a link
    back to the index, contents from its sections, a print stylesheet)."""
    from datetime import datetime

    import nbformat

    book = nbformat.read(notebook, as_version=4)
    book.metadata["title"] = f"{title} · {study_title}" if study_title else title
    body, _ = _exporter().from_notebook_node(book)
    made = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [f"<span><b>{html.escape(study_title)}</b></span>" if study_title else "",
             f"<span>{html.escape(title)}</span>", f"<span>made {html.escape(made)}</span>",
             f"<span>data {html.escape(data)}</span>" if data else "",
             f'<a href="{html.escape(index)}">all reports of this study</a>' if index else ""]
    header = f'<nav class="wb-page-header">{"".join(p for p in parts if p)}</nav>'
    sections = [(anchor, re.sub(r"<[^>]+>", "", text).strip()) for anchor, text in _HEADING.findall(body)]
    toc = ""
    if len(sections) > 1:
        items = "".join(f'<li><a href="#{html.escape(a, quote=True)}">{html.escape(t)}</a></li>' for a, t in sections)
        toc = f'<nav class="wb-toc"><b>Contents</b><ol>{items}</ol></nav>'
    body = body.replace("</head>", _PAGE_STYLE + "</head>", 1)
    opening = re.search(r"<body[^>]*>", body)
    if opening:
        body = body[:opening.end()] + header + toc + body[opening.end():]
    return body


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files a killed run left behind (``.<name>.*.tmp.<ext>``); return how many."""
    removed = 0
    for leftover in Path(folder).rglob(".*.tmp.*"):
        if leftover.is_file():
            leftover.unlink()
            removed += 1
    return removed


@dataclass
class PdfRun:
    """What :func:`write_pdfs` did: PDFs printed (with the seconds each took), those left as
    they were, the combined PDFs written, or why nothing was printed."""

    printed: list[Path] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per printed page, combined ones included
    unchanged: int = 0
    combined: list[Path] = field(default_factory=list)
    skipped: str | None = None

    def line(self) -> str:
        """One line for the regeneration's output.

        >>> PdfRun(printed=[Path("a.pdf"), Path("b.pdf")], seconds=[0.2, 0.4, 1.5], unchanged=3,
        ...        combined=[Path("feedback.pdf")]).line()
        'PDFs: 2 printed (0.30 s each), 3 unchanged, combined in feedback.pdf (1.5 s)'
        """
        if self.skipped:
            return f"PDFs not made: {self.skipped}"
        each = self.seconds[:len(self.printed)]
        pace = f" ({sum(each) / len(each):.2f} s each)" if each else ""
        combined = ", combined in " + ", ".join(
            f"{path.name} ({seconds:.1f} s)" for path, seconds in zip(self.combined, self.seconds[len(each):])
        ) if self.combined else ""
        return f"PDFs: {len(self.printed)} printed{pace}, {self.unchanged} unchanged{combined}"


def combined_html(pages: list[Path]) -> str:
    """One HTML document holding the bodies of ``pages`` (reports made by :func:`to_html`, which
    share one stylesheet), each starting on a new printed page."""
    parts, head = [], None
    for number, path in enumerate(pages):
        text = Path(path).read_text(encoding="utf-8")
        opening, closing = re.search(r"<body[^>]*>", text), text.rfind("</body>")
        if opening is None or closing < 0:
            raise ValueError(f"{path}: not an HTML page with a body")
        if head is None:
            head = text[:opening.end()]
        # Ids repeat from report to report; harmless on paper, where nothing links to them.
        parts.append('<div style="break-before: page;"></div>' * (number > 0) + text[opening.end():closing])
    return (head or "<!DOCTYPE html><html><body>") + "\n".join(parts) + "</body></html>\n"


def write_pdfs(project: Project, study, *, folders: tuple[str, ...] = PDF_FOLDERS, browser=None) -> PdfRun:
    """Print each per-microsystem report in ``folders`` to ``<folder>/<id>.pdf`` beside its
    HTML, and all of them, in the study's order of units, to ``reports/<study>/<folder>.pdf``.

    Only pages whose HTML is newer than their PDF are printed again (the combined PDF when any
    page is); a PDF whose HTML is gone is removed. All pages are printed by one browser
    (:func:`workbench.form.html_files_to_pdfs`), each PDF written atomically. Without a browser
    nothing is printed and :attr:`PdfRun.skipped` says why, in one line; the HTML reports stand.
    """
    from workbench.form import BrowserError, find_browser, html_files_to_pdfs

    target = project.reports(study.id)
    units = list(study.view("unit_overview")["microsystem_id"])
    run = PdfRun()
    todo: list[tuple[Path, Path]] = []
    combined: list[tuple[list[Path], Path]] = []
    for folder in folders:
        pages = [target / folder / f"{unit}.html" for unit in units if (target / folder / f"{unit}.html").exists()]
        for pdf in (target / folder).glob("*.pdf") if (target / folder).is_dir() else ():
            if not pdf.with_suffix(".html").exists():  # its report is gone (not applicable, unit removed)
                pdf.unlink()
        whole = target / f"{folder}.pdf"
        if not pages:
            whole.unlink(missing_ok=True)
            continue
        stale = [page for page in pages if _older(page.with_suffix(".pdf"), page)]
        todo += [(page, page.with_suffix(".pdf")) for page in stale]
        run.unchanged += len(pages) - len(stale)
        if stale or any(_older(whole, page) for page in pages):
            combined.append((pages, whole))
    if not todo and not combined:
        return run
    try:
        find_browser(browser)
    except BrowserError as error:
        run.skipped = str(error).removeprefix("cannot print to PDF: ")
        return run
    with tempfile.TemporaryDirectory(prefix="workbench-pdfs-") as scratch:
        for number, (pages, whole) in enumerate(combined):
            page = Path(scratch) / f"combined-{number}.html"
            page.write_text(combined_html(pages), encoding="utf-8")
            todo.append((page, whole))
        try:
            run.seconds = html_files_to_pdfs(todo, browser=browser)
        except BrowserError as error:
            run.skipped = str(error).removeprefix("cannot print to PDF: ")
            return run
    run.printed = [pdf for _, pdf in todo[:len(todo) - len(combined)]]
    run.combined = [whole for _, whole in combined]
    return run


def _older(output: Path, source: Path) -> bool:
    """``output`` is missing, or older than ``source``."""
    return not output.exists() or output.stat().st_mtime_ns < source.stat().st_mtime_ns


def _question(project: Project, report: Path) -> str:
    """What a study report answers: the first paragraph under its notebook's title."""
    import json

    notebook = project.notebooks_dir / report.name
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    text = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return f" — {html.escape(re.sub(r'[*_`]', '', paragraphs[0]))}" if paragraphs else ""


# Files the reports write for readers to take away, by name: what each holds.
_EXPORTS = {
    "meta_matrix.xlsx": "the cross-case joint display (also as CSV)",
    "agreement_indices.xlsx": "every within-unit agreement index per unit, characteristic and item (also as CSV)",
}


def _exports(target: Path) -> str:
    """The exports that exist, linked; the restricted folder is never linked."""
    found = [(name, what) for name, what in _EXPORTS.items() if (target / name).exists()]
    forms = sorted((target / "forms").glob("*.*")) if (target / "forms").is_dir() else []
    qdpx = sorted(target.glob("*.qdpx"))
    items = [f'<li><a href="{html.escape(name)}">{html.escape(name)}</a>: {html.escape(what)}</li>'
             for name, what in found]
    if forms:
        items.append(f'<li><a href="forms/">forms/</a>: printable self-assessment forms ({len(forms)} files)</li>')
    items += [f'<li><a href="{html.escape(q.name)}">{html.escape(q.name)}</a>: the coded interviews as a REFI-QDA '
              "project (for the research team)</li>" for q in qdpx]
    return f"<h2>Exports</h2>\n<ul>{''.join(items)}</ul>" if items else ""


def write_index(project: Project, study, failed: set[Path], not_applicable: dict[Path, str] | None = None) -> Path:
    """``reports/<study>/index.html``: links to every report that exists, failures marked, and
    the reports the study's evidence cannot support named with the reason; one section per
    per-microsystem notebook (the feedback report, and any other a project adds)."""
    not_applicable = not_applicable or {}
    from workbench.reports.planning import notebook_facts, reports_of

    target = project.reports(study.id)
    units = study.view("unit_overview")

    def link(output: Path, text: str) -> str:
        if output in not_applicable:
            return f"{html.escape(text)} <span class=\"na\">(not made: {html.escape(not_applicable[output])})</span>"
        relative = output.with_suffix(".html").relative_to(target).as_posix()
        note = ' <span class="failed">(failed in the last run; older version shown)</span>' if output in failed else ""
        if not output.with_suffix(".html").exists():
            why = "failed" if output in failed else "not made yet: regenerate without --microsystem to make it"
            return f"{html.escape(text)} <span class=\"{'failed' if output in failed else 'na'}\">({why})</span>"
        return f'<a href="{html.escape(relative)}">{html.escape(text)}</a>{note}'

    study_reports = [target / n.name for n in reports_of(project) if notebook_facts(n).scope == "study"]
    sections = []
    for notebook in reports_of(project):
        facts = notebook_facts(notebook)
        if facts.scope != "microsystem":
            continue
        reasons = {why for output, why in not_applicable.items() if output.parent == target / facts.folder}
        if len(reasons) == 1 and len(units) and all(target / facts.folder / f"{u}.ipynb" in not_applicable
                                                    for u in units["microsystem_id"]):
            sections.append(f"<h2>{html.escape(title_of(notebook))}</h2>\n"
                            f"<p class=\"na\">Not made: {html.escape(reasons.pop())}.</p>")
            continue
        # Printed versions (write_pdfs): a "PDF" beside each unit whose PDF exists, and the combined one.
        pdfs = {unit: target / facts.folder / f"{unit}.pdf" for unit in units["microsystem_id"]}
        printed = any(pdf.exists() for pdf in pdfs.values())
        pdf_cell = {unit: "" if not printed else "<td></td>" if not pdf.exists() else
                    f'<td><a href="{html.escape(pdf.relative_to(target).as_posix())}">PDF</a></td>'
                    for unit, pdf in pdfs.items()}
        whole = target / f"{facts.folder}.pdf"
        rows = [
            f"<tr><td>{html.escape(unit)}</td><td>{link(target / facts.folder / f'{unit}.ipynb', name)}</td>"
            f"<td>{html.escape(setting)}</td><td>{html.escape(organisation)}</td>{pdf_cell[unit]}</tr>"
            for unit, name, setting, organisation in zip(units["microsystem_id"], units["name"], units["setting"],
                                                         units["organisation"])
        ]
        combined = (f'<p><a href="{html.escape(whole.name)}">All of them in one PDF</a>, each unit from a new page, '
                    "to print.</p>" if whole.exists() else "")
        sections.append(f"""<h2>{html.escape(title_of(notebook))} ({len(rows)} microsystems)</h2>
<p>{_PER_MICROSYSTEM_NOTE}</p>
{combined}
<table><caption>{html.escape(title_of(notebook))}: one per microsystem</caption>
<thead><tr><th>id</th><th>microsystem</th><th>setting</th><th>organisation</th>{"<th>print</th>" * printed}</tr>
</thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>""")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(study.config.title)}: reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; }}
.failed {{ color: #b00020; }}
.na {{ color: #555; font-style: italic; }}
</style></head>
<body>
<h1>{html.escape(study.config.title)}</h1>
<p>{html.escape(study.config.description)}</p>
<h2>Study reports</h2>
<ul>
{"".join(f"<li>{link(p, title_of(p))}{_question(project, p)}</li>" for p in study_reports)}
</ul>
{_exports(target)}
<h2>Exploring</h2>
<p>The explorer compares chosen microsystems on any characteristic, for chosen roles, beside an outcome, under the
same disclosure rules as these reports. It runs as a small app: <code>make explorer</code> (or open
<code>notebooks/explorer.ipynb</code> in JupyterLab).</p>
{chr(10).join(sections)}
</body></html>
"""
    index = target / "index.html"
    write_text_atomic(index, page)
    return index
