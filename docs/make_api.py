"""Write docs/API.md: the package's public names by topic, from their docstrings.

    .venv/bin/python docs/make_api.py          # rewrite docs/API.md
    .venv/bin/python docs/make_api.py --check  # exit 1 if docs/API.md is not what the code gives

A test runs the check, so the page never drifts from the code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

PAGE = Path(__file__).with_name("API.md")
TOPICS = {
    "A study and its project": ["workbench.project", "workbench.study", "workbench.schemas", "workbench.errors",
                                "workbench.frameworks"],
    "The shared vocabulary and the study views": ["workbench.vocabulary", "workbench.views", "workbench.privacy"],
    "Survey: scores, agreement, reliability, role gaps": ["workbench.survey", "workbench.agreement",
                                                          "workbench.reliability", "workbench.perception",
                                                          "workbench.overview", "workbench.waves"],
    "Coded interviews": ["workbench.coding", "workbench.intercoder"],
    "Across microsystems": ["workbench.crosscase", "workbench.qca", "workbench.journeys"],
    "Outcomes over time: run charts, control charts, funnel plots": ["workbench.spc"],
    "Reports": ["workbench.reports", "workbench.reports.planning", "workbench.reports.running",
                "workbench.reports.publishing", "workbench.kernels"],
    "Presentation": ["workbench.plotting", "workbench.explorer", "workbench.form"],
    "Reading and writing other tools' files": ["workbench.io.tables", "workbench.io.study_csv",
                                               "workbench.io.survey_exports", "workbench.io.refiqda",
                                               "workbench.io.files"],
    "Teaching set": ["workbench.teaching", "workbench.teaching.cases", "workbench.teaching.exercises",
                     "workbench.teaching.profile", "workbench.teaching.form", "workbench.teaching.generator",
                     "workbench.teaching.publishing", "workbench.teaching.classroom"],
    "Demo studies and the command line": ["workbench.demo", "workbench.demo.large", "workbench.demo.exports",
                                          "workbench.demo.excerpts", "workbench.demo.series", "workbench.cli"],
}


def first_paragraph(text: str | None) -> str:
    lines = inspect.cleandoc(text or "").split("\n\n")[0].splitlines()
    return " ".join(line.strip() for line in lines)


def describe(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    lines = [f"### `{module_name}`", "", first_paragraph(module.__doc__), ""]
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            try:
                # Defaults that are paths inside the installed package would name this machine's folders.
                package = str(Path(importlib.import_module("workbench").__file__).parent)
                signature = str(inspect.signature(value)).replace("\n", " ").replace(package, "<workbench>")
            except (TypeError, ValueError):
                signature = ""
            kind = "class " if inspect.isclass(value) else ""
            summary = first_paragraph(value.__doc__)
            shown = signature if len(signature) < 100 else "(...)"
            lines.append(f"- {kind}`{name}{shown}`" + (f": {summary}" if summary else ""))
        else:
            lines.append(f"- `{name}`: constant")
    return [*lines, ""]


def render() -> str:
    sys.modules.setdefault("rfc3987_syntax", None)  # as regeneration does: no slow optional checker at import
    lines = ["# The workbench's Python API, by topic", "",
             "Generated from the docstrings by `docs/make_api.py`; a test keeps it current. Each module's",
             "`__all__` is its public surface; everything else may change without notice.", ""]
    for topic, modules in TOPICS.items():
        lines += [f"## {topic}", ""]
        for module_name in modules:
            lines += describe(module_name)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that docs/API.md is current")
    page = render()
    if parser.parse_args().check:
        return 0 if PAGE.exists() and PAGE.read_text(encoding="utf-8") == page else 1
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
