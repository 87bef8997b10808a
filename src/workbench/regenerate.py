"""Regenerating a study's reports: every notebook executed with papermill, exported to HTML.

The study-level notebooks run once; the feedback notebook runs once per microsystem.
Each report is executed into a temporary file and renamed into place only when it ran
to the end, so a failed run leaves the previous report as it was. One failure does not
stop the others; the summary names every failure and the caller exits non-zero.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from workbench import paths
from workbench.io.files import atomic_path, write_text_atomic
from workbench.kernels import KERNEL, WarmKernel

FEEDBACK_NOTEBOOK = "05-feedback-report.ipynb"


@dataclass(frozen=True)
class Job:
    """One notebook to execute with its parameters, and where its outputs go."""

    notebook: Path
    output: Path  # the executed .ipynb; the .html sits beside it
    parameters: dict
    title: str

    @property
    def html(self) -> Path:
        return self.output.with_suffix(".html")


@dataclass(frozen=True)
class Outcome:
    job: Job
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)  # the jobs that ran
    seconds: float = 0.0
    skipped: list[Job] = field(default_factory=list)  # unchanged since they were last made

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def line(self) -> str:
        ran = len(self.outcomes) - len(self.failed)
        return (f"{ran} ran, {len(self.skipped)} skipped as unchanged, {len(self.failed)} failed, "
                f"in {self.seconds:.1f} s")


def plan(study, *, root: Path | None = None, microsystems: list[str] | None = None) -> list[Job]:
    """The jobs that regenerate ``study`` (a :class:`~workbench.study.Study`).

    ``microsystems`` limits the feedback reports to those ids (default: all).
    """
    notebooks = paths.notebooks_dir(root)
    target = paths.reports_dir(root) / study.id
    study_level = sorted(p for p in notebooks.glob("[0-9][0-9]-*.ipynb") if p.name != FEEDBACK_NOTEBOOK)
    jobs = [
        Job(notebook, target / notebook.name, {"study": study.id}, _title(notebook))
        for notebook in study_level
    ]
    ids = study.microsystems["microsystem_id"].tolist()
    if microsystems is not None:
        unknown = sorted(set(microsystems) - set(ids))
        if unknown:
            raise ValueError(f"microsystems {unknown} are not in study {study.id!r}")
        ids = [m for m in ids if m in set(microsystems)]
    names = study.microsystems.set_index("microsystem_id")["name"]
    for microsystem_id in ids:
        jobs.append(Job(notebooks / FEEDBACK_NOTEBOOK, target / "feedback" / f"{microsystem_id}.ipynb",
                        {"study": study.id, "microsystem_id": microsystem_id}, f"{microsystem_id} {names[microsystem_id]}"))
    for job in jobs:
        check_parameters(job.notebook, job.parameters)
    return jobs


# ---------------------------------------------------------------------------------------
# What each report was made from, so that unchanged reports are not made again.

PROVENANCE_FILE = ".provenance.json"
ALL_FRAMES = ("microsystems", "respondents", "answers", "interviews", "codings", "outcomes", "journeys")


def _digest(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def frame_digest(frame) -> str:
    import pandas as pd

    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
                          + "|".join(map(str, frame.columns)).encode()).hexdigest()


@functools.cache
def _notebook_facts(notebook: Path, modified: float) -> tuple[str, tuple[str, ...], str]:
    """(source digest, frames the notebook reads, parameters cell) of a notebook file.

    Only the cells' sources count: stored outputs do not change what a notebook computes.
    The frames it reads are declared in its metadata (``workbench.reads``); all when absent.
    """
    # Plain JSON, not nbformat: importing nbformat pulls in a schema validator that costs
    # seconds at start-up, and a regeneration with nothing to do must stay fast.
    book = json.loads(notebook.read_text(encoding="utf-8"))
    text = lambda cell: "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]  # noqa: E731
    source = _digest([text(cell) for cell in book["cells"]])
    reads = tuple(book.get("metadata", {}).get("workbench", {}).get("reads", ALL_FRAMES))
    cells = [text(c) for c in book["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return source, reads, json.dumps(cells)


def notebook_facts(notebook: Path):
    return _notebook_facts(notebook, notebook.stat().st_mtime)


def study_digests(study) -> dict:
    """Digests of the study's inputs: each frame, the configuration, and for every
    microsystem what its feedback report shows (its own data, and the other microsystems'
    distribution at the precision the report displays)."""
    from workbench import survey

    frames = {name: frame_digest(getattr(study, name)) for name in ALL_FRAMES}
    frames["config"] = _digest(study.config.model_dump(), study.instrument.model_dump(), [f.model_dump() for f in study.frameworks])
    units = {}
    ids = study.microsystems["microsystem_id"]
    answers_by_unit = _digests_by(study.answers, "microsystem_id")
    codings_by_unit = _digests_by(study.codings, "microsystem_id")
    interviews_by_unit = _digests_by(study.interviews, "microsystem_id")
    scores = survey.respondent_scores(study.answers)
    means = scores.groupby(["microsystem_id", "characteristic_id"])["score"].mean().unstack()
    for unit in ids:
        others = means.drop(index=unit, errors="ignore")
        peers = others.quantile([0, 0.25, 0.5, 0.75, 1.0]).round(2)
        below = (others < means.loc[unit]).mean().round(2) if unit in means.index else None  # where the unit stands
        units[unit] = _digest(answers_by_unit.get(unit), codings_by_unit.get(unit), interviews_by_unit.get(unit),
                              study.microsystems[ids.eq(unit)].to_dict("records"), peers.to_dict(),
                              None if below is None else below.to_dict(), frames["config"])
    return {"frames": frames, "units": units}


def _digests_by(frame, column: str) -> dict:
    import pandas as pd

    hashes = pd.util.hash_pandas_object(frame, index=False)
    return {key: hashlib.sha256(part.to_numpy().tobytes()).hexdigest() for key, part in hashes.groupby(frame[column].to_numpy(), sort=False)}


def fingerprint(job: Job, digests: dict) -> str:
    """What a report is made from: notebook source, parameters, package version and inputs."""
    from workbench import __version__

    source, reads, _ = notebook_facts(job.notebook)
    if "microsystem_id" in job.parameters:
        inputs = digests["units"][job.parameters["microsystem_id"]]
    else:
        inputs = [digests["frames"][name] for name in reads] + [digests["frames"]["config"]]
    return _digest(source, job.parameters, __version__, inputs)


def read_provenance(folder: Path) -> dict:
    try:
        return json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def unchanged(job: Job, recorded: dict, current: str, folder: Path) -> bool:
    """The report exists and was made from exactly what it would be made from now."""
    key = job.output.relative_to(folder).as_posix()
    return recorded.get(key) == current and job.output.exists() and job.html.exists()


def notebook_parameters(notebook: Path) -> dict:
    """The defaults in a notebook's cell tagged ``parameters`` (plain literals only)."""
    import ast

    cells = json.loads(notebook_facts(notebook)[2])
    if len(cells) != 1:
        raise ValueError(f"{notebook.name} must have exactly one cell tagged 'parameters', found {len(cells)}")
    defaults = {}
    for statement in ast.parse(cells[0]).body:
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
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
        if not isinstance(value, allowed) or (isinstance(value, bool) and not isinstance(default, bool) and default is not None):
            raise ValueError(f"{notebook.name}: parameter {name!r} must be a {type(default).__name__} like its default {default!r}, got {value!r}")
        if isinstance(value, str) and any(ch in value for ch in "\n\r\x00"):
            raise ValueError(f"{notebook.name}: parameter {name!r} must be a single line of text, got {value!r}")


def _title(notebook: Path) -> str:
    return notebook.stem.split("-", 1)[-1].replace("-", " ").capitalize()


def execute(job: Job, *, kernel: WarmKernel | None = None) -> Outcome:
    """Execute one job; on success write its .ipynb and .html, on failure write nothing.

    ``kernel``: a warm kernel to run in (see :mod:`workbench.kernels`); by default a
    kernel is started for this job alone.
    """
    if kernel is None:
        with WarmKernel(cwd=job.notebook.parent) as own:
            return execute(job, kernel=own)
    import papermill

    started = time.perf_counter()
    try:
        with atomic_path(job.output) as executed:
            papermill.execute_notebook(
                str(job.notebook), str(executed), parameters=job.parameters, kernel_name=KERNEL,
                progress_bar=False, log_output=False, **kernel.lease(cwd=job.notebook.parent),
            )
            with atomic_path(job.html) as page:
                page.write_text(to_html(executed, title=job.title), encoding="utf-8")
    except Exception as error:  # the run goes on; the summary reports it
        kernel.shutdown()  # a failed or timed-out report may leave the kernel busy or odd: the next one starts afresh
        return Outcome(job, time.perf_counter() - started, _describe(error))
    return Outcome(job, time.perf_counter() - started)


def skip_slow_format_checkers() -> None:
    """Keep this process from loading ``rfc3987_syntax``.

    nbformat validates notebooks with jsonschema, whose optional checker for the "iri"
    string formats builds a grammar when imported: 2.3 s of start-up in every process that
    reads a notebook, for formats notebook schemas never use. Marking the module as absent
    makes jsonschema skip that checker. Only for the processes regeneration owns.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


# Each worker process of the local pool keeps one warm kernel for all the reports it runs.
_worker_kernel: WarmKernel | None = None


def _start_worker(cwd: Path) -> None:
    from multiprocessing.util import Finalize

    global _worker_kernel
    skip_slow_format_checkers()
    _worker_kernel = WarmKernel(cwd=cwd)
    # Runs when the pool stops the worker (atexit does not run in pool workers).
    Finalize(_worker_kernel, _worker_kernel.shutdown, exitpriority=10)


def _execute_in_worker(job: Job) -> Outcome:
    return execute(job, kernel=_worker_kernel)


def _describe(error: Exception) -> str:
    try:
        from papermill.exceptions import PapermillExecutionError
    except ImportError:  # pragma: no cover
        PapermillExecutionError = ()  # noqa: N806
    if isinstance(error, PapermillExecutionError):
        return f"{error.ename}: {error.evalue} (cell {error.exec_count})"
    return "".join(traceback.format_exception_only(error)).strip()


def to_html(notebook: Path, *, title: str) -> str:
    """The executed notebook as a reader-facing page: outputs and narrative, no code."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    book = nbformat.read(notebook, as_version=4)
    book.metadata["title"] = title
    body, _ = exporter.from_notebook_node(book)
    return body


def run(
    jobs: list[Job],
    *,
    workers: int | None = None,
    progress: bool = True,
    executor: str = "local",
    scheduler: str | None = None,
    skip: set[Path] | None = None,
) -> Summary:
    """Execute ``jobs``; those whose output is in ``skip`` are counted as unchanged.

    ``executor``: ``"local"`` runs a pool of ``workers`` processes (default: one per core);
    ``"dask"`` submits to a Dask distributed cluster at ``scheduler`` (an address such as
    ``tcp://host:8786``), or to a local cluster of ``workers`` processes when none is given.
    """
    from tqdm import tqdm

    workers = max(1, workers or os.cpu_count() or 1)
    skip = skip or set()
    summary = Summary(skipped=[job for job in jobs if job.output in skip])
    todo = [job for job in jobs if job.output not in skip]
    started = time.perf_counter()
    bar = tqdm(total=len(jobs), initial=len(summary.skipped), unit="report", disable=not progress, desc="regenerating")

    def finished(outcome: Outcome) -> None:
        summary.outcomes.append(outcome)
        if not outcome.ok:
            bar.write(f"failed: {outcome.job.output.name}: {outcome.error}")
        bar.update()

    if not todo:
        pass
    elif executor == "dask":
        for outcome in _run_on_dask(todo, workers, scheduler):
            finished(outcome)
    elif executor != "local":
        raise ValueError(f"executor must be 'local' or 'dask', got {executor!r}")
    elif workers == 1 or len(todo) == 1:
        with WarmKernel(cwd=todo[0].notebook.parent) as kernel:
            for job in todo:
                finished(execute(job, kernel=kernel))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_start_worker,
                                 initargs=(todo[0].notebook.parent,)) as pool:
            for future in as_completed([pool.submit(_execute_in_worker, job) for job in todo]):
                finished(future.result())
    bar.close()
    order = {job.output: position for position, job in enumerate(jobs)}
    summary.outcomes.sort(key=lambda o: order[o.job.output])
    summary.seconds = time.perf_counter() - started
    return summary


def _run_on_dask(jobs: list[Job], workers: int, scheduler: str | None):
    """Run jobs on Dask distributed: an existing cluster, or a local one for this run."""
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None, silence_logs=40)
    client = Client(scheduler or cluster)
    try:
        environment = {paths.ROOT_ENVIRONMENT_VARIABLE: os.environ.get(paths.ROOT_ENVIRONMENT_VARIABLE, "")}
        # Workers of a cluster we started are ours to trim; an existing cluster's are not.
        futures = client.map(_execute_with_environment, jobs, environment=environment, lean=scheduler is None, pure=False)
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_with_environment(job: Job, environment: dict, lean: bool = True) -> Outcome:
    if lean:
        skip_slow_format_checkers()
    os.environ.update({k: v for k, v in environment.items() if v})
    return execute(job)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files a killed run left behind (``.<name>.*.tmp.<ext>``); return how many."""
    removed = 0
    for leftover in Path(folder).rglob(".*.tmp.*"):
        if leftover.is_file():
            leftover.unlink()
            removed += 1
    return removed


def write_index(study, summary: Summary, *, root: Path | None = None) -> Path:
    """``reports/<study>/index.html``: links to every report that exists, failures marked."""
    target = paths.reports_dir(root) / study.id
    failed = {o.job.output for o in summary.failed}
    feedback_dir = target / "feedback"
    names = study.microsystems.set_index("microsystem_id")

    def link(output: Path, text: str) -> str:
        relative = output.with_suffix(".html").relative_to(target).as_posix()
        note = ' <span class="failed">(failed in the last run; older version shown)</span>' if output in failed else ""
        if not output.with_suffix(".html").exists():
            return f"{html.escape(text)} <span class=\"failed\">(not available: failed)</span>"
        return f'<a href="{html.escape(relative)}">{html.escape(text)}</a>{note}'

    study_reports = sorted(p for p in target.glob("[0-9][0-9]-*.ipynb"))
    rows = []
    for microsystem_id, unit in names.iterrows():
        output = feedback_dir / f"{microsystem_id}.ipynb"
        rows.append(
            f"<tr><td>{html.escape(microsystem_id)}</td><td>{link(output, unit['name'])}</td>"
            f"<td>{html.escape(unit['setting'])}</td><td>{html.escape(unit['organisation'])}</td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(study.config.title)}: reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; }}
.failed {{ color: #b00020; }}
</style></head>
<body>
<h1>{html.escape(study.config.title)}</h1>
<p>{html.escape(study.config.description)}</p>
<h2>Study reports</h2>
<ul>
{''.join(f"<li>{link(p, _title(p))}</li>" for p in study_reports)}
</ul>
<h2>Feedback reports ({len(rows)} microsystems)</h2>
<p>One report per microsystem, for its own staff: its profile against the other microsystems, which appear only as a distribution.</p>
<table><thead><tr><th>id</th><th>microsystem</th><th>setting</th><th>organisation</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    index = target / "index.html"
    write_text_atomic(index, page)
    return index


def source_notebooks(root: Path | None = None) -> list[Path]:
    """Every notebook kept under ``notebooks/`` (reports, explorer, teaching set), in order."""
    folder = paths.notebooks_dir(root)
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("."))


def refresh_source_notebooks(*, root: Path | None = None, only: list[Path] | None = None) -> list[Outcome]:
    """Execute each notebook under ``notebooks/`` in place with its default parameters.

    The stored outputs are what nbval compares against, so they are refreshed after a
    deliberate change. Papermill's timing metadata and saved widget state are stripped to
    keep diffs readable. ``only`` limits the refresh to those notebooks.
    """
    import nbformat
    import papermill

    outcomes = []
    chosen = only if only is not None else source_notebooks(root)
    with WarmKernel(cwd=paths.notebooks_dir(root)) as kernel:
        for notebook in chosen:
            job = Job(notebook, notebook, {}, _title(notebook))
            started = time.perf_counter()
            try:
                with atomic_path(notebook) as executed:
                    papermill.execute_notebook(str(notebook), str(executed), kernel_name=KERNEL, progress_bar=False,
                                               log_output=False, **kernel.lease(cwd=notebook.parent))
                    book = nbformat.read(executed, as_version=4)
                    book.metadata.pop("papermill", None)
                    book.metadata.pop("widgets", None)  # saved widget state: new model ids on every run, and large
                    for cell in book.cells:
                        cell.metadata.pop("papermill", None)
                        cell.metadata.pop("execution", None)
                    nbformat.write(book, executed)
                outcomes.append(Outcome(job, time.perf_counter() - started))
            except Exception as error:
                kernel.shutdown()
                outcomes.append(Outcome(job, time.perf_counter() - started, _describe(error)))
    return outcomes
