"""Benchmark: regeneration against a naive baseline, incremental runs, and a national-scale study.

    .venv/bin/python bench/run.py            # everything (the naive baseline alone takes several minutes)
    .venv/bin/python bench/run.py --quick    # the same comparisons on the study notebooks and 4 feedback reports

Works in a temporary copy of the project; prints one table per part. Not a test: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
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


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def best_of(runs: int, function) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def project_copy() -> Path:
    root = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    shutil.copytree(CHECKOUT / "data" / "raw" / "demo", root / "data" / "raw" / "demo")
    (root / "data" / "processed").mkdir(parents=True)
    shutil.copytree(CHECKOUT / "notebooks", root / "notebooks")
    return root


def regeneration(quick: bool) -> None:
    root = project_copy()
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    units = ["MS01", "MS02", "MS03", "MS04"] if quick else None
    selection = [arg for unit in units for arg in ("--microsystem", unit)] if units else []
    workbench = [str(BIN / "workbench"), "regenerate", "--study", "demo", "--no-progress", *selection]

    # The naive baseline: a shell-style loop of the papermill and nbconvert command lines.
    # It runs first, so its first notebook also builds data/processed/ from the raw files.
    baseline_dir = root / "baseline"
    baseline_dir.mkdir()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    runs = [(nb, {"study": "demo"}) for nb in notebooks if nb.name != "05-feedback-report.ipynb"]
    ids = units or _ids(root)
    runs += [(root / "notebooks" / "05-feedback-report.ipynb", {"study": "demo", "microsystem_id": unit}) for unit in ids]
    started = time.perf_counter()
    for position, (notebook, parameters) in enumerate(runs):
        output = baseline_dir / f"{position:03d}-{notebook.name}"
        arguments = [str(BIN / "papermill"), str(notebook), str(output), "--cwd", str(root / "notebooks"), "-k", "python3"]
        for name, value in parameters.items():
            arguments += ["-p", name, value]
        subprocess.run(arguments, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(output)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    naive = time.perf_counter() - started

    # Ours from the same cold start: no processed data, no reports.
    shutil.rmtree(root / "data" / "processed" / "demo")
    ours = timed([*workbench, "--force"], env)

    unchanged = timed(workbench, env)
    survey = root / "data" / "raw" / "demo" / "survey_responses.csv"
    rows = list(csv.reader(survey.open(newline="")))
    column = rows[0].index("measurement")
    rows[1][column] = "3" if rows[1][column] != "3" else "2"
    with survey.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    one_changed = timed(workbench, env)
    print(f"\n1-2. Demo regeneration ({len(runs)} reports, {os.cpu_count()} cores)")
    print(f"   naive loop (papermill CLI + nbconvert CLI, sequential) {naive:8.1f} s")
    print(f"   workbench regenerate --force (parallel, in-process HTML) {ours:8.1f} s   ratio {naive / ours:.1f}x  (target >= 5x)")
    print(f"   regenerate with nothing changed                          {unchanged:8.1f} s   (target < 2 s)")
    print(f"   regenerate after one microsystem's answers changed      {one_changed:8.1f} s")
    shutil.rmtree(root, ignore_errors=True)


def _ids(root: Path) -> list[str]:
    with (root / "data" / "raw" / "demo" / "microsystems.csv").open(newline="") as handle:
        return [row["microsystem_id"] for row in csv.DictReader(handle)]


def large_study() -> None:
    from workbench import agreement, coding, survey
    from workbench.demo.large import write_large_study

    root = Path(tempfile.mkdtemp(prefix="workbench-large-"))
    os.environ["WORKBENCH_ROOT"] = str(root)
    (root / "data" / "processed").mkdir(parents=True)
    counts = write_large_study(root / "data" / "raw" / "large")
    from workbench.study import build_processed

    stages = []

    def stage(name, function):
        started = time.perf_counter()
        result = function()
        stages.append((name, time.perf_counter() - started))
        return result

    study = stage("load raw CSV, validate, pseudonymise, write parquet", lambda: build_processed("large"))
    stage("score: item summary per microsystem x item", lambda: survey.item_summary(study.answers))
    scores = stage("score: respondent scores and microsystem profiles", lambda: survey.microsystem_profile(survey.respondent_scores(study.answers)))
    stage("agreement: rwg for every microsystem x item", lambda: agreement.rwg(study.answers))
    stage("agreement: ICC(1), ICC(2) for every item", lambda: agreement.icc_by_item(study.answers))
    segments = stage("coding: segment codes (all coders agree)", lambda: coding.segment_codes(study.codings))
    stage("coding: case x code matrix", lambda: coding.case_code_matrix(segments, codes=sorted(segments["code_id"].unique()),
                                                                        microsystems=study.microsystems["microsystem_id"].tolist()))
    # Sub-second timings on a busy 2-core machine jitter: compare the best of three runs each.
    rated = study.answers[study.answers["level"].notna()].astype({"level": "float64"})
    floor = best_of(3, lambda: rated.groupby(["microsystem_id", "item_id"])["level"].mean())
    item_summary_time = best_of(3, lambda: survey.item_summary(study.answers))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n3. Large study: {counts['microsystems']:,} microsystems, {counts['respondents']:,} respondents, "
          f"{counts['answers']:,} answers, {counts['codings']:,} codings")
    for name, seconds in stages:
        print(f"   {name:<55} {seconds:7.2f} s")
    total = sum(seconds for _, seconds in stages)
    print(f"   {'total':<55} {total:7.2f} s   (target < 15 s)")
    print(f"   item summary, best of 3                                  {item_summary_time:7.2f} s")
    print(f"   bare pandas groupby-mean of the same answers, best of 3  {floor:7.2f} s   item summary / floor {item_summary_time / floor:.1f}x (target <= 2x)")
    print(f"   peak memory of this process                              {peak:7.0f} MB  (target < 4096 MB)")
    del scores
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="study notebooks and 4 feedback reports instead of all 43")
    parser.add_argument("--skip-demo", action="store_true", help="only the large study")
    arguments = parser.parse_args()
    if not arguments.skip_demo:
        regeneration(arguments.quick)
    large_study()


if __name__ == "__main__":
    main()
