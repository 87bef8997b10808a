"""The ``workbench`` command.

    workbench build [--study demo]            check the raw study and write data/processed/<study>/
    workbench regenerate [--study demo]       build, then execute every notebook into reports/<study>/
    workbench demo                            rewrite data/raw/demo/ from the generator
    workbench export-qdpx [--study demo]      the coded interviews as a REFI-QDA project for NVivo, ATLAS.ti, MAXQDA…
    workbench form [--study demo] [--microsystem ID]   the printable self-assessment form (HTML and PDF)
    workbench teaching                        rewrite notebooks/teaching/ (learner + instructor) from the lesson sources and run them
    workbench refresh-notebooks               re-execute notebooks/ in place (stored outputs for nbval)

Bad input ends with one line naming the file, row and column, and exit status 2; a
regeneration in which any report failed ends with exit status 1 after naming each one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from workbench.errors import InputError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Clinical microsystems workbench.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="check a raw study and write its processed frames")
    build.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")

    regenerate = commands.add_parser("regenerate", help="rebuild a study's reports from its raw data")
    regenerate.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    regenerate.add_argument("--jobs", type=int, default=None, help="notebooks run at once (default: one per core)")
    regenerate.add_argument("--microsystem", action="append", dest="microsystems", metavar="ID",
                            help="only this microsystem's feedback report (repeatable; default: all)")
    regenerate.add_argument("--no-progress", action="store_true", help="no progress bar")
    regenerate.add_argument("--force", action="store_true", help="rerun every report, even those whose inputs did not change")
    regenerate.add_argument("--executor", choices=["local", "dask"], default="local",
                            help="local process pool (default) or a Dask distributed cluster")
    regenerate.add_argument("--scheduler", default=None, metavar="ADDRESS",
                            help="with --executor dask: the cluster's scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")

    demo = commands.add_parser("demo", help="rewrite the demo study's raw files from the generator")
    demo.add_argument("--out", type=Path, default=None, help="folder to write (default: data/raw/demo)")

    export = commands.add_parser("export-qdpx", help="write the study's coded interviews as a REFI-QDA project (.qdpx) and codebook (.qdc)")
    export.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    export.add_argument("--out", type=Path, default=None, help="the .qdpx to write (default: reports/<study>/<study>.qdpx)")

    form = commands.add_parser("form", help="write the printable self-assessment form (HTML and PDF), blank or pre-filled for one microsystem")
    form.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    form.add_argument("--microsystem", default=None, metavar="ID", help="pre-fill with how this unit's staff answered (default: a blank form)")
    form.add_argument("--out", type=Path, default=None, help="folder to write (default: reports/<study>/forms/)")
    form.add_argument("--no-pdf", action="store_true", help="HTML only; no Chromium needed")
    form.add_argument("--paper", choices=["A4", "letter"], default="A4", help="page size (default: A4)")

    teaching = commands.add_parser("teaching", help="rewrite the teaching set's learner and instructor notebooks from their lesson sources, then run them")
    teaching.add_argument("--no-execute", action="store_true", help="only write the notebooks (their stored outputs stay empty until refresh-notebooks)")

    refresh = commands.add_parser("refresh-notebooks", help="re-execute notebooks/ in place so nbval compares fresh outputs")
    refresh.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (default: every notebook under notebooks/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return _COMMANDS[arguments.command](arguments)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished reports were kept, unfinished ones were not written", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback in a file for the report
        import tempfile
        import traceback

        log = Path(tempfile.gettempdir()) / "workbench-error.log"
        log.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        print(f"error: unexpected {type(error).__name__}: {error} (a bug in the workbench; details in {log})", file=sys.stderr)
        return 3


def _build(arguments) -> int:
    from workbench.study import build_processed, processed_folder

    study = build_processed(arguments.study)
    print(f"{study.id}: {len(study.microsystems)} microsystems, {len(study.respondents)} respondents, "
          f"{len(study.answers)} answers, {study.codings['segment_id'].nunique()} coded segments -> {processed_folder(study.id)}")
    return 0


def _regenerate(arguments) -> int:
    import time

    from workbench import paths, regenerate
    from workbench.io.files import write_text_atomic
    from workbench.study import open_study

    started = time.perf_counter()
    regenerate.skip_slow_format_checkers()
    root = paths.project_root()
    os.environ.setdefault(paths.ROOT_ENVIRONMENT_VARIABLE, str(root))  # kernels find the project from any cwd
    study = open_study(arguments.study)  # rebuilds the processed frames only when the raw files changed
    target = paths.reports_dir(root) / study.id
    for folder in (target, paths.processed_dir(root) / study.id):
        regenerate.remove_stale_temporaries(folder)
    jobs = regenerate.plan(study, root=root, microsystems=arguments.microsystems)
    digests = regenerate.study_digests(study)
    prints = {job.output: regenerate.fingerprint(job, digests) for job in jobs}
    recorded = regenerate.read_provenance(target)
    skip = set() if arguments.force else {job.output for job in jobs if regenerate.unchanged(job, recorded, prints[job.output], target)}
    summary = regenerate.run(jobs, workers=arguments.jobs, progress=not arguments.no_progress, executor=arguments.executor,
                             scheduler=arguments.scheduler, skip=skip)
    for outcome in summary.outcomes:
        key = outcome.job.output.relative_to(target).as_posix()
        if outcome.ok:
            recorded[key] = prints[outcome.job.output]
        else:
            recorded.pop(key, None)
    write_text_atomic(target / regenerate.PROVENANCE_FILE, json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    index = regenerate.write_index(study, summary, root=root)
    summary.seconds = time.perf_counter() - started
    print(f"{summary.line()} -> {index}")
    for outcome in summary.failed:
        print(f"failed: {outcome.job.notebook.name} {outcome.job.parameters}: {outcome.error}", file=sys.stderr)
    return 1 if summary.failed else 0


def _demo(arguments) -> int:
    from workbench import demo, paths

    folder = arguments.out or paths.raw_dir() / "demo"
    study = demo.write(folder)
    print(f"demo study written to {folder}: {len(study.microsystems)} microsystems, {len(study.survey)} respondents")
    return 0


def _export_qdpx(arguments) -> int:
    import yaml

    from workbench import paths
    from workbench.io import refiqda
    from workbench.io.files import write_text_atomic
    from workbench.study import open_study

    study = open_study(arguments.study)
    target = arguments.out or paths.reports_dir() / study.id / f"{study.id}.qdpx"
    if target.resolve().is_relative_to(paths.raw_dir().resolve()):
        raise ValueError(f"--out must not be under data/raw/ (raw data is read-only), got {target}")
    codes = refiqda.write_qdpx(target, name=study.config.title, codings=study.codings, interviews=study.interviews,
                               microsystems=study.microsystems, frameworks=study.frameworks)
    refiqda.write_qdc(target.with_suffix(".qdc"), study.frameworks)
    mapping = {"format": "refi-qda", "file": target.name, "codes": codes, "unmapped_codes": "error",
               "source_variables": {"interviewee_role": "Interviewee role", "interview_date": "Interview date"}}
    write_text_atomic(target.with_name(f"{target.stem}_mapping.yaml"), yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True))
    print(f"{study.codings['segment_id'].nunique()} coded segments from {len(study.interviews)} interviews -> {target} (+ .qdc, mapping)")
    return 0


def _form(arguments) -> int:
    from workbench.form import main_form

    return main_form(arguments.study, arguments.microsystem, arguments.out, not arguments.no_pdf, paper=arguments.paper)


def _teaching(arguments) -> int:
    from workbench.teaching.generator import command

    return command(execute=not arguments.no_execute)


def _refresh_notebooks(arguments) -> int:
    from workbench import paths, regenerate

    regenerate.skip_slow_format_checkers()
    os.environ.setdefault(paths.ROOT_ENVIRONMENT_VARIABLE, str(paths.project_root()))
    folder = paths.notebooks_dir().resolve()
    chosen = [p.resolve() for p in arguments.notebooks]
    for path in chosen:  # refreshing rewrites a notebook in place: only ever the project's own
        if not path.is_file():
            raise InputError("no such notebook", file=path)
        if folder not in path.parents or path.suffix != ".ipynb":
            raise InputError(f"only notebooks under {folder} are refreshed", file=path)
    outcomes = regenerate.refresh_source_notebooks(only=chosen or None)
    for outcome in outcomes:
        print(f"{'ok    ' if outcome.ok else 'FAILED'} {outcome.job.notebook.relative_to(paths.notebooks_dir()).as_posix()} ({outcome.seconds:.1f} s){'' if outcome.ok else ': ' + outcome.error}")
    return 0 if all(o.ok for o in outcomes) else 1


_COMMANDS = {"build": _build, "regenerate": _regenerate, "demo": _demo, "export-qdpx": _export_qdpx, "form": _form,
             "teaching": _teaching, "refresh-notebooks": _refresh_notebooks}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
