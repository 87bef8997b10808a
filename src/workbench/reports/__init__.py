"""Regenerating a study's reports: plan (what is stale and why), execute (process pool or Dask,
warm kernels), publish (HTML and the index page), behind one entry point.

>>> from workbench.reports import regenerate_study   # doctest: +SKIP
>>> summary = regenerate_study(Project("."), "demo", jobs=2)   # doctest: +SKIP
>>> print(summary.line())   # doctest: +SKIP
48 ran, 0 skipped as unchanged, 0 failed, in 41.0 s
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from workbench.io.files import write_text_atomic
from workbench.project import Project
from workbench.reports.planning import PROVENANCE_FILE, Job, Plan, plan
from workbench.reports.publishing import remove_stale_temporaries, to_html, write_index, write_pdfs
from workbench.reports.running import Outcome, Summary, execute, run, skip_slow_format_checkers

__all__ = ["Job", "Outcome", "Plan", "Summary", "execute", "plan", "regenerate_study", "run", "to_html", "write_index",
           "write_pdfs"]


def regenerate_study(
    project: Project,
    study: str | Path,
    *,
    microsystems: list[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    dry_run: bool = False,
    on_plan=None,
) -> Summary:
    """Build the study when its raw files changed, then make every report that is stale.

    Parameters
    ----------
    project : the project holding the study.
    study : a study name under ``data/raw/`` or a path to its folder.
    microsystems : only these microsystems' per-microsystem reports (default: all).
    jobs : reports run at once (default: one per core).
    force : rerun every report, even those made from exactly the same inputs.
    executor, scheduler : ``"local"`` process pool, or ``"dask"`` (a cluster at ``scheduler``,
        or a local one).
    dry_run : plan only; nothing runs and nothing is written.
    on_plan : called with the :class:`Plan` before anything runs (the CLI prints it for
        ``--explain``).

    Returns
    -------
    The :class:`Summary`: reports that ran (with failures), those skipped as unchanged, time.
    """
    from workbench.study import open_or_build

    started = time.perf_counter()
    skip_slow_format_checkers()
    opened = open_or_build(study, project)  # rebuilds frames and views only when the raw files changed
    target = project.reports(opened.id)
    for folder in (target, project.processed(opened.id)):
        remove_stale_temporaries(folder)
    planned = plan(project, opened, microsystems=microsystems, force=force)
    if on_plan is not None:
        on_plan(planned)
    for output in planned.not_applicable:  # an earlier version would be out of date, and misleading
        for stale in (output, output.with_suffix(".html")):
            stale.unlink(missing_ok=True)
    if dry_run:
        return Summary(skipped=planned.unchanged, seconds=time.perf_counter() - started, planned=planned)
    summary = run(planned.jobs, workers=jobs, progress=progress, executor=executor, scheduler=scheduler,
                  skip={job.output for job in planned.unchanged})
    recorded = planned.recorded
    for outcome in summary.outcomes:
        key = outcome.job.output.relative_to(target).as_posix()
        if outcome.ok:
            recorded[key] = planned.parts[outcome.job.output]
        else:
            recorded.pop(key, None)
    write_text_atomic(target / PROVENANCE_FILE, json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    # The feedback reports printed (one PDF per unit and one for the study) before the index, which links them.
    print(write_pdfs(project, opened).line())
    summary.index = write_index(project, opened, {o.job.output for o in summary.failed}, planned.not_applicable)
    summary.planned = planned
    summary.seconds = time.perf_counter() - started
    return summary
