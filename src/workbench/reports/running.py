"""Executing reports: papermill in warm kernels, on a local process pool or a Dask cluster.

Each report is executed into a temporary file and renamed into place only when it ran to
the end, so a failed run leaves the previous report as it was. One failure does not stop
the others; the summary names every failure.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from workbench.io.files import atomic_path
from workbench.kernels import KERNEL, WarmKernel
from workbench.project import Project
from workbench.reports import publishing
from workbench.reports.planning import Job, title_of

__all__ = ["Outcome", "Summary", "execute", "refresh_source_notebooks", "run", "skip_slow_format_checkers",
           "source_notebooks"]


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
    planned: object = None  # the reports.planning.Plan it carried out
    index: Path | None = None  # the index page written after the run

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def line(self) -> str:
        ran = len(self.outcomes) - len(self.failed)
        return (f"{ran} ran, {len(self.skipped)} skipped as unchanged, {len(self.failed)} failed, "
                f"in {self.seconds:.1f} s")


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
                page.write_text(publishing.to_html(executed, title=job.title, study_title=job.study_title,
                                                   data=job.data, index=_index_link(job)), encoding="utf-8")
    except Exception as error:  # the run goes on; the summary reports it
        kernel.shutdown()  # a failed or timed-out report may leave the kernel busy or odd: the next one starts afresh
        return Outcome(job, time.perf_counter() - started, _describe(error))
    return Outcome(job, time.perf_counter() - started)


def _index_link(job: Job) -> str:
    """The study's index page, relative to the job's page (a per-microsystem report sits a folder deeper)."""
    return "../index.html" if "microsystem_id" in job.parameters else "index.html"


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
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None, silence_logs=40)
    client = Client(scheduler or cluster)
    try:
        # Workers of a cluster we started are ours to trim; an existing cluster's are not.
        futures = client.map(_execute_on_dask_worker, jobs, lean=scheduler is None, pure=False)
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# A Dask worker runs tasks in threads: each thread keeps a warm kernel of its own, started
# with its first report and reused for the next, as the process pool does.
_dask_kernels = threading.local()


def _execute_on_dask_worker(job: Job, lean: bool = True) -> Outcome:
    if lean:
        skip_slow_format_checkers()
    kernel = getattr(_dask_kernels, "kernel", None)
    if kernel is None:
        import atexit

        kernel = _dask_kernels.kernel = WarmKernel(cwd=job.notebook.parent)
        atexit.register(kernel.shutdown)
    return execute(job, kernel=kernel)


def source_notebooks(project: Project) -> list[Path]:
    """Every notebook kept under ``notebooks/`` (reports, explorer, teaching set), in order."""
    folder = project.notebooks_dir
    return sorted(p for p in folder.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("."))


def refresh_source_notebooks(project: Project, *, only: list[Path] | None = None) -> list[Outcome]:
    """Execute each notebook under ``notebooks/`` in place with its default parameters.

    The stored outputs are what nbval compares against, so they are refreshed after a
    deliberate change. Papermill's timing metadata and saved widget state are stripped to
    keep diffs readable. ``only`` limits the refresh to those notebooks.
    """
    import nbformat
    import papermill

    outcomes = []
    chosen = only if only is not None else source_notebooks(project)
    with WarmKernel(cwd=project.notebooks_dir) as kernel:
        for notebook in chosen:
            job = Job(notebook, notebook, {}, title_of(notebook))
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
