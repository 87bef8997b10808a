"""Planning a regeneration: which reports a study has, what each is made from, which are stale and why.

Every notebook under ``notebooks/`` whose name starts with two digits is a report. Its
metadata (``workbench``) declares its **scope** (``"study"``: one report; ``"microsystem"``:
one report per microsystem, into the folder ``folder``) and what it **reads** (frames and
views by name). A second per-microsystem report is therefore a new notebook, not new code.

A report's fingerprint combines its notebook's cell sources, its parameters, the package
version, the study's configuration and digests of exactly what it reads: for a study report
the whole frames and views (from the processed manifest); for a microsystem's report that
microsystem's rows of them (``views/unit_digests.parquet``, computed once at build). No
report's display logic is copied here: what it reads is what it depends on.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.project import Project

__all__ = [
    "PROVENANCE_FILE", "SCOPES", "Inputs", "Job", "NotebookFacts", "Plan", "check_parameters", "data_digest",
    "fingerprint_parts", "jobs_for", "notebook_facts", "notebook_parameters", "plan", "read_provenance", "reports_of",
    "title_of",
]

PROVENANCE_FILE = ".provenance.json"
# How a missing frame is named when a report does not apply to a study.
# For a per-microsystem report, the unit_overview column that counts the unit's own rows of a frame.
UNIT_EVIDENCE = {"answers": "respondents", "respondents": "respondents", "codings": "coded_segments",
                 "interviews": "interviews"}
NEEDED_WORDS = {"answers": "survey answers", "codings": "coded interviews", "interviews": "interviews",
                "journeys": "patient journeys", "outcomes": "outcome measures"}
SCOPES = ("study", "microsystem")


@dataclass(frozen=True)
class Job:
    """One notebook to execute with its parameters, and where its outputs go."""

    notebook: Path
    output: Path  # the executed .ipynb; the .html sits beside it
    parameters: dict
    title: str
    study_title: str = ""  # for the page's header
    data: str = ""  # a digest of the processed data the report was made from, for the page's header

    @property
    def html(self) -> Path:
        return self.output.with_suffix(".html")


@dataclass(frozen=True)
class NotebookFacts:
    source: str  # digest of the cells' sources (stored outputs do not change what a notebook computes)
    scope: str
    reads: tuple[str, ...]
    needs: tuple[str, ...]  # frames that must hold rows for the report to apply to a study at all
    folder: str  # where a per-microsystem report's outputs go, under reports/<study>/
    parameters_cells: tuple[str, ...]


@functools.cache
def _notebook_facts(notebook: Path, modified: int) -> NotebookFacts:
    # Plain JSON, not nbformat: importing nbformat pulls in a schema validator that costs
    # seconds at start-up, and a regeneration with nothing to do must stay fast.
    book = json.loads(notebook.read_text(encoding="utf-8"))
    text = lambda cell: "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]  # noqa: E731
    declared = book.get("metadata", {}).get("workbench", {})
    scope = declared.get("scope", "study")
    if scope not in SCOPES:
        raise ValueError(f"{notebook.name}: metadata workbench.scope must be one of {list(SCOPES)}, got {scope!r}")
    return NotebookFacts(
        source=_digest([text(cell) for cell in book["cells"]]),
        scope=scope,
        reads=tuple(declared.get("reads", ())),
        needs=tuple(declared.get("needs", ())),
        folder=declared.get("folder", notebook.stem),
        parameters_cells=tuple(text(c) for c in book["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])),
    )


def notebook_facts(notebook: Path) -> NotebookFacts:
    """What a notebook declares (cached until the file changes)."""
    return _notebook_facts(notebook, notebook.stat().st_mtime_ns)


def notebook_parameters(notebook: Path) -> dict:
    """The defaults in a notebook's cell tagged ``parameters`` (plain literals only)."""
    cells = notebook_facts(notebook).parameters_cells
    if len(cells) != 1:
        raise ValueError(f"{notebook.name} must have exactly one cell tagged 'parameters', found {len(cells)}")
    defaults = {}
    for statement in ast.parse(cells[0]).body:
        assigns_a_name = (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                          and isinstance(statement.targets[0], ast.Name))
        if not assigns_a_name:
            raise ValueError(f"{notebook.name}: the parameters cell may only assign literals to names")
        defaults[statement.targets[0].id] = ast.literal_eval(statement.value)
    return defaults


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse a parameter the notebook does not declare, or a value of another type than its default.

    Values reach the kernel as Python literals written by papermill; checking names and
    types first means nothing unexpected is ever pasted into a notebook.
    """
    defaults = notebook_parameters(notebook)
    for name, value in parameters.items():
        if name not in defaults:
            raise ValueError(f"{notebook.name} has no parameter {name!r}; its parameters are {sorted(defaults)}")
        default = defaults[name]
        allowed = (type(default),) if default is not None else (str, int, float, bool, list, type(None))
        if isinstance(default, float):
            allowed = (int, float)
        bool_for_another_type = isinstance(value, bool) and not isinstance(default, bool) and default is not None
        if not isinstance(value, allowed) or bool_for_another_type:
            raise ValueError(f"{notebook.name}: parameter {name!r} must be a {type(default).__name__} "
                             f"like its default {default!r}, got {value!r}")
        if isinstance(value, str) and any(ch in value for ch in "\n\r\x00"):
            raise ValueError(f"{notebook.name}: parameter {name!r} must be a single line of text, got {value!r}")


def data_digest(study) -> str:
    """A short digest of the processed data a study's reports are made from (its manifest)."""
    if study.processed is None:
        return "held in memory"
    from workbench.io.files import sha256_of
    from workbench.study import MANIFEST

    return sha256_of(Path(study.processed) / MANIFEST)[:12]


def title_of(notebook: Path) -> str:
    return notebook.stem.split("-", 1)[-1].replace("-", " ").capitalize()


def reports_of(project: Project) -> list[Path]:
    """The project's report notebooks (``notebooks/NN-*.ipynb``), in order."""
    return sorted(project.notebooks_dir.glob("[0-9][0-9]-*.ipynb"))


def jobs_for(project: Project, study, *, microsystems: list[str] | None = None) -> list[Job]:
    """The jobs that regenerate ``study`` (a :class:`~workbench.study.Study`); ``microsystems``
    limits the per-microsystem reports to those ids (default: all)."""
    target = project.reports(study.id)
    overview = study.view("unit_overview")
    ids = overview["microsystem_id"].tolist()
    if microsystems is not None:
        unknown = sorted(set(microsystems) - set(ids))
        if unknown:
            raise ValueError(f"microsystems {unknown} are not in study {study.id!r}")
        ids = [m for m in ids if m in set(microsystems)]
    names = dict(zip(overview["microsystem_id"], overview["name"]))
    jobs = []
    header = {"study_title": study.config.title, "data": data_digest(study)}
    for notebook in reports_of(project):
        facts = notebook_facts(notebook)
        if facts.scope == "study":
            jobs.append(Job(notebook, target / notebook.name, {"study": study.id}, title_of(notebook), **header))
        else:
            jobs += [Job(notebook, target / facts.folder / f"{unit}.ipynb", {"study": study.id, "microsystem_id": unit},
                         f"{names[unit]} ({unit}): {title_of(notebook).lower()}", **header) for unit in ids]
    for notebook in {job.notebook for job in jobs}:
        check_parameters(notebook, next(job.parameters for job in jobs if job.notebook == notebook))
    return jobs


def _digest(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class Inputs:
    """Digests of everything reports of one study can read, taken from its build."""

    config: str
    whole: dict[str, str]  # frame or view name -> digest of all of it
    units: dict[str, dict[str, str]]  # microsystem id -> name -> digest of its rows
    rows: dict[str, int] = field(default_factory=dict)  # frame name -> how many rows it has

    @classmethod
    def of(cls, project: Project, study) -> Inputs:
        import pandas as pd

        manifest = json.loads((project.processed(study.id) / "manifest.json").read_text(encoding="utf-8"))
        whole = {name.removesuffix(".parquet"): digest for name, digest in manifest["outputs"].items()}
        whole |= {name: digest for name, digest in manifest["views"].items()}
        if "import_report" in manifest:  # what each import read and left out (the overview shows it)
            whole["import_report"] = manifest["import_report"]
        per_unit = pd.read_parquet(project.processed(study.id) / "views" / "unit_digests.parquet")
        units = per_unit.set_index("microsystem_id").to_dict("index")
        config = _digest(study.config.model_dump(), study.instrument.model_dump(),
                         [f.model_dump() for f in study.frameworks])
        return cls(config, whole, units, manifest.get("rows", {}))

    def missing(self, facts: NotebookFacts) -> list[str]:
        """The frames a notebook needs that this study has no rows of."""
        return [name for name in facts.needs if self.rows.get(name, 0) == 0]

    def read_by(self, job: Job, facts: NotebookFacts) -> dict[str, str]:
        unit = job.parameters.get("microsystem_id")
        reads = facts.reads or tuple(sorted(self.whole))  # a notebook that declares nothing depends on everything
        found = {}
        for name in reads:
            if unit is not None and name in self.units.get(unit, {}):
                found[name] = self.units[unit][name]
            elif name in self.whole:
                found[name] = self.whole[name]
            else:
                raise ValueError(f"{job.notebook.name} declares it reads {name!r}, which the study does not have; "
                                 f"frames and views: {sorted(self.whole)}")
        return {"config": self.config, **found}


def fingerprint_parts(job: Job, inputs: Inputs) -> dict:
    """What a report is made from, part by part (so a rerun can say which part changed)."""
    from workbench import __version__

    facts = notebook_facts(job.notebook)
    return {"notebook": facts.source, "parameters": _digest(job.parameters), "workbench": __version__,
            "inputs": inputs.read_by(job, facts)}


def read_provenance(folder: Path) -> dict:
    try:
        return json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _why(job: Job, recorded, parts: dict) -> str | None:
    """Why the report must be made again, or None when it is current."""
    if not job.output.exists() or not job.html.exists():
        return "no report yet" if recorded is None else "its files are missing"
    if not isinstance(recorded, dict) or "inputs" not in recorded:
        return "no record of what it was made from"
    changed = [name for name in ("notebook", "parameters", "workbench") if recorded.get(name) != parts[name]]
    before, now = recorded["inputs"], parts["inputs"]
    changed += [f"{name} data" if name != "config" else "study settings" for name in sorted(set(before) | set(now))
                if before.get(name) != now.get(name)]
    return ("changed: " + ", ".join(changed)) if changed else None


@dataclass
class Plan:
    """The jobs of a regeneration, what each is made from, and why each runs (or does not)."""

    jobs: list[Job]
    parts: dict[Path, dict]
    reasons: dict[Path, str | None]  # None: unchanged, skipped
    target: Path
    recorded: dict = field(default_factory=dict)
    not_applicable: dict[Path, str] = field(default_factory=dict)  # reports the study's evidence cannot support, why

    @property
    def todo(self) -> list[Job]:
        return [job for job in self.jobs if self.reasons[job.output] is not None]

    @property
    def unchanged(self) -> list[Job]:
        return [job for job in self.jobs if self.reasons[job.output] is None]

    def explain(self) -> list[str]:
        """One line per report: runs, and why; or skipped as unchanged."""
        lines = [f"{job.output.relative_to(self.target).as_posix()}: "
                 f"{'runs (' + self.reasons[job.output] + ')' if self.reasons[job.output] else 'unchanged, skipped'}"
                 for job in self.jobs]
        return lines + [f"{output.relative_to(self.target).as_posix()}: not made ({why})"
                        for output, why in self.not_applicable.items()]


def plan(project: Project, study, *, microsystems: list[str] | None = None, force: bool = False) -> Plan:
    """Which reports of ``study`` to make and why."""
    target = project.reports(study.id)
    inputs = Inputs.of(project, study)
    evidence = study.view("unit_overview").set_index("microsystem_id")  # each unit's respondents, interviews...
    jobs, not_applicable = [], {}
    for job in jobs_for(project, study, microsystems=microsystems):
        facts = notebook_facts(job.notebook)
        missing = inputs.missing(facts)
        unit = job.parameters.get("microsystem_id")
        unit_missing = [] if unit is None else [
            name for name in facts.needs if name in UNIT_EVIDENCE and not evidence.loc[unit, UNIT_EVIDENCE[name]] > 0]
        if missing or unit_missing:
            whose = "the study has" if missing else "this microsystem has"
            absent = " and no ".join(NEEDED_WORDS.get(name, name) for name in (missing or unit_missing))
            not_applicable[job.output] = f"does not apply: {whose} no {absent}"
        else:
            jobs.append(job)
    recorded = read_provenance(target)
    parts, reasons = {}, {}
    for job in jobs:
        parts[job.output] = fingerprint_parts(job, inputs)
        reason = _why(job, recorded.get(job.output.relative_to(target).as_posix()), parts[job.output])
        reasons[job.output] = "forced" if force else reason
    return Plan(jobs, parts, reasons, target, recorded, not_applicable)
