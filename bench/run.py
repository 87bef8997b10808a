"""Benchmark: report regeneration at the demo's 43 units and at a 5,000-unit programme's scale.

    .venv/bin/python bench/run.py              # everything, with a sample of 200 feedback reports of the large study
    .venv/bin/python bench/run.py --quick      # smaller samples (a few minutes)
    .venv/bin/python bench/run.py --full       # also all 5,000 feedback reports and the study reports (about 30 min)
    .venv/bin/python bench/run.py --demo-only  # the demo's measures alone (two minutes)
    .venv/bin/python bench/run.py --survey-only  # the survey load's memory alone (two minutes)

Works in temporary copies of the project; prints one table with each measure beside its
target. Not a test: timings depend on the machine (2 cores here) and on what else it runs.

1. Demo: ``workbench regenerate --force`` (48 reports) against the in-process floor: the same
   notebooks' code cells run one after another in one IPython shell in this process, figures
   rendered to PNG as the inline backend does, no kernels, no papermill, no HTML.
2. Demo: regeneration with nothing changed (the command line, start to end).
3. Per-report cost of a feedback report at 43 units and at 5,000 units, measured in the same run
   the same way (warm kernels, ``--jobs`` workers): the cost must not grow with the study.
4. The 5,000-unit study: build (read, validate, pseudonymise, views), a sample of feedback
   reports (or all of them), the study reports, the same sample on a local Dask cluster, peak memory.
5. Memory of loading a survey, as the peak resident memory of a fresh process above what its
   imports take, per byte of the file: the 2.5 M-answer survey of the 5,000-unit study and a
   200 MB survey CSV (4.3 M respondents), each read, checked and recoded to the canonical wide
   frame (the survey export reader, ``format: csv``), and each loaded in full as ``workbench
   build`` loads it: to the respondents and answers frames, respondent ids pseudonymised
   (``read_survey`` for the study's CSV; the export reader and ``survey_from_wide`` for a
   survey export).

Pseudonym keys made by the builds go to a temporary key folder, never the user's own.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROWS: list[tuple[str, str, str]] = []


def row(measure: str, result: str, target: str = "") -> None:
    ROWS.append((measure, result, target))
    print(f"  {measure:<72} {result:>24}  {target}", flush=True)


def project_copy(*, demo: bool = True) -> Path:
    root = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    (root / "data" / "raw").mkdir(parents=True)
    if demo:
        shutil.copytree(CHECKOUT / "data" / "raw" / "demo", root / "data" / "raw" / "demo")
    (root / "data" / "processed").mkdir(parents=True)
    shutil.copytree(CHECKOUT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


def command(root: Path, *arguments: str) -> float:
    """Wall time of one ``workbench`` command run in ``root`` as a user would."""
    environment = {k: v for k, v in os.environ.items() if k != "WORKBENCH_ROOT"}
    started = time.perf_counter()
    subprocess.run([str(BIN / "workbench"), *arguments], cwd=root, env=environment, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# The in-process floor


def in_process_floor(root: Path, study: str, units: list[str]) -> float:
    """Run every report notebook's code cells in this process's IPython shell (study reports
    once, the feedback notebook once per unit), figures rendered to PNG; return seconds."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    from workbench.reports.planning import notebook_facts, reports_of

    shell = InteractiveShell.instance()
    os.chdir(root / "notebooks")
    rendered = []

    def show(*_args, **_kwargs):  # what the inline backend does: each open figure to PNG, then closed
        for number in plt.get_fignums():
            buffer = io.BytesIO()
            plt.figure(number).savefig(buffer, format="png", bbox_inches="tight")
            rendered.append(buffer.tell())
        plt.close("all")

    plt.show = show
    runs = []
    for notebook in reports_of(_project(root)):
        if notebook_facts(notebook).scope == "study":
            runs.append((notebook, {"study": study}))
        else:
            runs += [(notebook, {"study": study, "microsystem_id": unit}) for unit in units]
    cells = {notebook: [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
             for notebook, _ in runs}
    started = time.perf_counter()
    for notebook, parameters in runs:
        shell.reset(new_session=True)
        shell.run_cell("display = print")
        for cell in cells[notebook]:
            source = "".join(cell["source"])
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                source += "\n" + "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
            with contextlib.redirect_stdout(io.StringIO()):  # outputs are formatted, as in a kernel, not printed
                result = shell.run_cell(source, silent=False)
            if not result.success:
                raise RuntimeError(f"{notebook.name} {parameters}: {result.error_in_exec or result.error_before_exec}")
            show()
    return time.perf_counter() - started


def _project(root: Path):
    from workbench.project import Project

    return Project(root)


# ---------------------------------------------------------------------------------------------
# Feedback reports at two scales


def feedback_cost(root: Path, study: str, count: int | None, workers: int,
                  executor: str = "local") -> tuple[float, int]:
    """Wall seconds to make ``count`` feedback reports (all when None) on ``workers``, and how many ran."""
    from workbench.reports import plan, run
    from workbench.reports.running import skip_slow_format_checkers
    from workbench.study import open_study

    skip_slow_format_checkers()
    project = _project(root)
    opened = open_study(study, project)
    jobs = [job for job in plan(project, opened, force=True).jobs if "microsystem_id" in job.parameters]
    jobs = jobs if count is None else jobs[:count]
    started = time.perf_counter()
    summary = run(jobs, workers=workers, progress=False, executor=executor)
    seconds = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} reports failed, e.g. {summary.failed[0].error}")
    return seconds, len(jobs)


def study_reports(root: Path, study: str, workers: int) -> list[tuple[str, float]]:
    from workbench.reports import plan, run
    from workbench.study import open_study

    project = _project(root)
    opened = open_study(study, project)
    jobs = [job for job in plan(project, opened, force=True).jobs if "microsystem_id" not in job.parameters]
    summary = run(jobs, workers=workers, progress=False)
    for outcome in summary.failed:
        print(f"  failed: {outcome.job.notebook.name}: {outcome.error}")
    return [(o.job.notebook.name, o.seconds) for o in summary.outcomes]


# ---------------------------------------------------------------------------------------------
# Memory of loading a survey


def write_survey(folder: Path, respondents: int) -> int:
    """A study like the 5,000-unit one whose survey has ``respondents`` rows; return the survey's bytes."""
    from workbench.demo.large import write_large_study

    write_large_study(folder, respondents=respondents, codings=1_000)
    return (folder / "survey_responses.csv").stat().st_size


def survey_peak_child(folder: Path, stage: str) -> None:
    """In a fresh process: load the study's survey (``wide``: read, check and recode it to the
    canonical wide frame; ``tidy``: in full, as ``load_study`` loads the study's survey CSV: to
    the respondents and answers frames, then pseudonymised; ``export``: the same from the survey
    export reader through ``survey_from_wide``) and print, as JSON, the file's size, the peak
    resident memory above the baseline (imports, and the same load of the file's first 100 rows)
    and the size of what was loaded."""
    import gc

    from workbench import schemas
    from workbench.frameworks import load_instrument
    from workbench.io import study_csv, survey_exports
    from workbench.study import _protect, read_config

    config = read_config(folder)
    instrument = load_instrument(config.instrument, folder)
    ids = study_csv.read_microsystems(folder / "microsystems.csv", shown="microsystems.csv")["microsystem_id"].tolist()
    codes = {**config.survey_coding.levels, **{code: "cant_rate" for code in config.survey_coding.cant_rate}}
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-survey-"))
    # A fixed key, under which no two of the generated respondents share a pseudonym (48 bits: with
    # 4.3 M ids a random key makes two alike about 3 % of the time, and merging them costs memory).
    key = b"workbench bench key".ljust(32, b".")
    no_codings = study_csv.empty_frame(schemas.Codings)

    def load(path: Path):
        if stage == "tidy":
            respondents, answers = study_csv.read_survey(
                path, shown=path.name, instrument=instrument, microsystem_ids=ids, roles=config.roles,
                level_codes=config.survey_coding.levels, cant_rate_codes=config.survey_coding.cant_rate)
            return _protect(lambda text: text, key, respondents, answers, no_codings)[:2]  # as load_study does
        mapping = scratch / f"{path.stem}_mapping.yaml"
        mapping.write_text(json.dumps({
            "format": "csv", "file": str(path),
            "columns": {"respondent_id": "respondent_id", "microsystem_id": "microsystem_id", "role": "role"},
            "items": {item: item for item in instrument.item_ids}, "levels": codes,
        }))  # JSON is YAML
        wide, _ = survey_exports.read_survey_export(mapping, instrument=instrument, microsystem_ids=ids,
                                                    roles=config.roles)
        if stage == "wide":
            return (wide,)
        respondents, answers = study_csv.survey_from_wide(wide, instrument=instrument)
        return _protect(lambda text: text, key, respondents, answers, no_codings)[:2]

    survey = folder / "survey_responses.csv"
    with survey.open(encoding="utf-8") as handle:
        (scratch / "first_rows.csv").write_text("".join(line for _, line in zip(range(101), handle)))
    load(scratch / "first_rows.csv")  # code paths and lazy imports warmed: part of the baseline
    gc.collect()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    loaded = load(survey)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"file": survey.stat().st_size, "peak": peak - baseline, "seconds": seconds,
                      "loaded": held(loaded),
                      "answers": int(len(loaded[-1])) if stage != "wide" else None}))


def held(frames) -> int:
    """Bytes the frames hold, each Arrow buffer once (the answers' respondent_id categories are the
    respondents' own ids: ``memory_usage(deep=True)`` would count them twice)."""
    import pandas as pd

    seen, total = set(), 0
    for frame in frames:
        for name in frame.columns:
            column = frame[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                total += column.array.codes.nbytes
                column = column.cat.categories
            arrow = getattr(column.array, "_pa_array", None)
            if arrow is None:
                total += column.array.nbytes
                continue
            for chunk in arrow.chunks:
                for buffer in chunk.buffers():
                    if buffer is not None and buffer.address not in seen:
                        seen.add(buffer.address)
                        total += buffer.size
    return total


def survey_peak(folder: Path, stage: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--survey-peak", str(folder), stage], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


SURVEY_STAGES = (
    ("wide", "read, check, recode (wide frame)"),
    ("tidy", "full load, as build: respondents + answers, pseudonymised"),
    ("export", "full load from a CSV export (mapping, survey_from_wide)"),
)


def survey_rows(large_study: Path) -> None:
    """Rows 5: survey load peak / file size, for the 5,000-unit study's survey and a 200 MB one."""
    target = "<= 5 x the file"
    big = Path(tempfile.mkdtemp(prefix="workbench-bench-survey-")) / "data" / "raw" / "survey200"
    subprocess.run([sys.executable, __file__, "--write-survey", str(big), str(4_300_000)], check=True,
                   stdout=subprocess.DEVNULL)
    for folder, survey in ((large_study, "5,000-unit study ({mb:.0f} MB, 2.5 M answers)"),
                           (big, "a {mb:.0f} MB survey CSV (4.3 M respondents, 43 M answers)")):
        for stage, what in SURVEY_STAGES:
            measured = survey_peak(folder, stage)
            note = target if stage == "wide" else \
                f"{target}; the frames themselves: {measured['loaded'] / measured['file']:.1f} x"
            row(f"survey load, {survey.format(mb=measured['file'] / 2**20)}: {what}",
                f"{measured['peak'] / measured['file']:.1f} x file ({measured['peak'] / 2**20:.0f} MB, "
                f"{measured['seconds']:.0f} s)", note)
    shutil.rmtree(big.parents[2], ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller samples")
    parser.add_argument("--full", action="store_true", help="also all 5,000 feedback reports and the study reports")
    parser.add_argument("--sample", type=int, default=None,
                        help="feedback reports of the large study to time (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--demo-only", action="store_true", help="only the demo's measures (1-2)")
    parser.add_argument("--survey-only", action="store_true", help="only the survey load's memory (5)")
    parser.add_argument("--floor-of", nargs="+", metavar=("PROJECT", "UNIT"), help=argparse.SUPPRESS)
    parser.add_argument("--survey-peak", nargs=2, metavar=("STUDY", "STAGE"), help=argparse.SUPPRESS)
    parser.add_argument("--write-survey", nargs=2, metavar=("STUDY", "RESPONDENTS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.floor_of:  # the in-process floor alone, for the run that called it
        print(in_process_floor(Path(arguments.floor_of[0]), "demo", arguments.floor_of[1:]))
        return
    if arguments.survey_peak:  # one survey load in a fresh process, for the run that called it
        survey_peak_child(Path(arguments.survey_peak[0]), arguments.survey_peak[1])
        return
    if arguments.write_survey:
        print(write_survey(Path(arguments.write_survey[0]), int(arguments.write_survey[1])))
        return
    # The builds' pseudonym keys: a temporary key folder, not the user's (inherited by every command run).
    keys = Path(tempfile.mkdtemp(prefix="workbench-bench-keys-"))
    os.environ["WORKBENCH_KEYS"] = str(keys)
    try:
        run_bench(arguments)
    finally:
        shutil.rmtree(keys, ignore_errors=True)


def run_bench(arguments) -> None:
    sample = arguments.sample or (40 if arguments.quick else 200)
    jobs = arguments.jobs
    print(f"workbench benchmark, {os.cpu_count()} cores, --jobs {jobs}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"  {'measure':<72} {'result':>24}  target")
    if arguments.survey_only:
        large = project_copy(demo=False)
        subprocess.run([sys.executable, __file__, "--write-survey", str(large / "data" / "raw" / "large"), "250000"],
                       check=True, stdout=subprocess.DEVNULL)
        survey_rows(large / "data" / "raw" / "large")
        shutil.rmtree(large, ignore_errors=True)
        return

    # 1-2. The demo study.
    demo = project_copy()
    build = command(demo, "build", "--study", "demo")
    row("demo: build (read, validate, pseudonymise, views)", f"{build:.1f} s")
    regenerate = command(demo, "regenerate", "--study", "demo", "--force", "--no-progress", "--jobs", str(jobs))
    units = [p.stem for p in (demo / "reports" / "demo" / "feedback").glob("*.ipynb")]
    # In a process of its own: an in-process IPython shell replaces __main__, which later keeps
    # multiprocessing (the Dask cluster below) from starting workers.
    floor = float(subprocess.run([sys.executable, __file__, "--floor-of", str(demo), *sorted(units)], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1])
    row(f"demo: in-process floor, {len(units) + 5} reports, single-threaded", f"{floor:.1f} s")
    row(f"demo: workbench regenerate --force --jobs {jobs} (wall)", f"{regenerate:.1f} s",
        f"<= 1.5 x floor / jobs = {1.5 * floor / jobs:.1f} s ({regenerate / (floor / jobs):.2f} x floor/jobs)")
    unchanged = min(command(demo, "regenerate", "--study", "demo", "--no-progress") for _ in range(3))
    row("demo: regenerate with nothing changed (command line, best of 3)", f"{unchanged:.2f} s", "<= 1 s")
    if arguments.demo_only:
        shutil.rmtree(demo, ignore_errors=True)
        return

    # 3-4. The large study.
    from workbench.demo.large import write_large_study

    large = project_copy(demo=False)
    counts = write_large_study(large / "data" / "raw" / "large")
    build = command(large, "build", "--study", "large")
    row(f"large: build ({counts['microsystems']:,} units, {counts['respondents']:,} respondents, "
        f"{counts['codings']:,} codings)", f"{build:.1f} s")
    demo_seconds, demo_count = feedback_cost(demo, "demo", None, jobs)
    large_seconds, large_count = feedback_cost(large, "large", sample, jobs)
    per_demo, per_large = demo_seconds * jobs / demo_count, large_seconds * jobs / large_count
    row(f"feedback report cost at 43 units ({demo_count} reports, {jobs} workers)", f"{per_demo:.2f} s/report")
    row(f"feedback report cost at 5,000 units ({large_count} reports, {jobs} workers)", f"{per_large:.2f} s/report",
        f"ratio {per_large / per_demo:.2f} x (target <= 1.5 x)")
    reports = study_reports(large, "large", jobs)
    study_total = sum(seconds for _, seconds in reports)
    row("large: the 5 study reports (" + ", ".join(f"{name[:2]} {seconds:.0f} s" for name, seconds in reports) + ")",
        f"{study_total:.0f} s")
    estimate = counts["microsystems"] * per_large / jobs + study_total / min(jobs, len(reports))
    row(f"large: all {counts['microsystems']:,} feedback reports + study reports, estimated from the sample",
        f"{estimate / 60:.1f} min", "<= 30 min")
    if arguments.full:
        full_seconds, full_count = feedback_cost(large, "large", None, jobs)
        row(f"large: all {full_count:,} feedback reports, measured", f"{full_seconds / 60:.1f} min")
        row("large: all feedback reports + study reports, measured",
            f"{(full_seconds + study_total / jobs) / 60:.1f} min", "<= 30 min")
    dask_seconds, dask_count = feedback_cost(large, "large", sample, jobs, executor="dask")
    row(f"large: the same {dask_count} feedback reports on a local Dask cluster of {jobs} (warm kernels)",
        f"{dask_seconds * jobs / dask_count:.2f} s/report", f"process pool: {per_large:.2f} s/report")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    itself = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row("peak memory of any one process (build, workers, kernels)", f"{max(children, itself):.0f} MB", "< 4096 MB")
    # 5. After the peak above: these children measure memory on purpose.
    survey_rows(large / "data" / "raw" / "large")
    shutil.rmtree(demo, ignore_errors=True)
    shutil.rmtree(large, ignore_errors=True)


if __name__ == "__main__":
    main()
