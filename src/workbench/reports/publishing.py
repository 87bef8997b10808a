"""Publishing reports: the reader-facing HTML of an executed notebook, and the study's index page."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from workbench.io.files import write_text_atomic
from workbench.project import Project
from workbench.reports.planning import title_of

__all__ = ["remove_stale_temporaries", "to_html", "write_index"]

# What the index page says above the reports of each per-microsystem notebook.
_PER_MICROSYSTEM_NOTE = ("One report per microsystem, for its own staff: its own figures, with the other microsystems "
                         "only as a distribution.")


@functools.cache
def _exporter():
    """One HTML exporter per process: making one compiles its Jinja templates (0.13 s a report)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)


def to_html(notebook: Path, *, title: str) -> str:
    """The executed notebook as a reader-facing page: outputs and narrative, no code."""
    import nbformat

    book = nbformat.read(notebook, as_version=4)
    book.metadata["title"] = title
    body, _ = _exporter().from_notebook_node(book)
    return body


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files a killed run left behind (``.<name>.*.tmp.<ext>``); return how many."""
    removed = 0
    for leftover in Path(folder).rglob(".*.tmp.*"):
        if leftover.is_file():
            leftover.unlink()
            removed += 1
    return removed


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
        rows = [
            f"<tr><td>{html.escape(unit)}</td><td>{link(target / facts.folder / f'{unit}.ipynb', name)}</td>"
            f"<td>{html.escape(setting)}</td><td>{html.escape(organisation)}</td></tr>"
            for unit, name, setting, organisation in zip(units["microsystem_id"], units["name"], units["setting"],
                                                         units["organisation"])
        ]
        sections.append(f"""<h2>{html.escape(title_of(notebook))} ({len(rows)} microsystems)</h2>
<p>{_PER_MICROSYSTEM_NOTE}</p>
<table><thead><tr><th>id</th><th>microsystem</th><th>setting</th><th>organisation</th></tr></thead>
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
{"".join(f"<li>{link(p, title_of(p))}</li>" for p in study_reports)}
</ul>
{chr(10).join(sections)}
</body></html>
"""
    index = target / "index.html"
    write_text_atomic(index, page)
    return index
