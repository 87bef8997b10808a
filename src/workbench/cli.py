"""The ``workbench`` command.

    workbench build [--study demo]            check the raw study and write data/processed/<study>/
    workbench regenerate [--study demo]       build, then execute every notebook into reports/<study>/
    workbench demo                            rewrite data/raw/demo/ from the generator
    workbench export-qdpx [--study demo]      the coded interviews as a REFI-QDA project for NVivo, ATLAS.ti, MAXQDA…
    workbench form [--study demo] [--microsystem ID]   the printable self-assessment form (HTML and PDF)
    workbench teaching                        rewrite notebooks/teaching/ (learner + instructor) from the lesson
                                              sources, run them, and write each lesson's slides and printable
                                              handout to reports/teaching/
    workbench refresh-notebooks               re-execute notebooks/ in place (stored outputs for nbval)

Bad input ends with one line naming the file, row and column, and exit status 2; a
regeneration in which any report failed ends with exit status 1 after naming each one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.errors import InputError
from workbench.project import Project

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Clinical microsystems workbench.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="check a raw study and write its processed frames")
    build.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    build.add_argument("--strict", action="store_true",
                       help="exit 1 when declared evidence came out empty (no respondents, no coded segments)")

    regenerate = commands.add_parser("regenerate", help="rebuild a study's reports from its raw data")
    regenerate.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    regenerate.add_argument("--jobs", type=int, default=None, help="notebooks run at once (default: one per core)")
    regenerate.add_argument("--microsystem", action="append", dest="microsystems", metavar="ID",
                            help="only this microsystem's feedback report (repeatable; default: all)")
    regenerate.add_argument("--no-progress", action="store_true", help="no progress bar")
    regenerate.add_argument("--force", action="store_true",
                            help="rerun every report, even those whose inputs did not change")
    regenerate.add_argument("--explain", action="store_true",
                            help="say, for every report, why it runs or why it is skipped")
    regenerate.add_argument("--dry-run", action="store_true",
                            help="plan only: with --explain, say what would run; run nothing")
    regenerate.add_argument("--executor", choices=["local", "dask"], default="local",
                            help="local process pool (default) or a Dask distributed cluster")
    regenerate.add_argument("--scheduler", default=None, metavar="ADDRESS",
                            help="with --executor dask: the cluster's scheduler, e.g. tcp://10.0.0.5:8786 "
                                 "(default: a local cluster)")

    demo = commands.add_parser("demo", help="rewrite the demo study's raw files from the generator")
    demo.add_argument("--out", type=Path, default=None, help="folder to write (default: data/raw/demo)")

    export = commands.add_parser("export-qdpx", help="write the study's coded interviews as a REFI-QDA project (.qdpx) "
                                                     "and codebook (.qdc)")
    export.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    export.add_argument("--out", type=Path, default=None,
                        help="the .qdpx to write (default: reports/<study>/<study>.qdpx)")
    export.add_argument("--transcripts", type=Path, default=None, metavar="PATH",
                        help="for a study read from CSV files: its full transcripts, as a folder of "
                             "<interview_id>.txt files or a .qdpx (default: the REFI-QDA projects in the study "
                             "folder; an interview without a fitting transcript gets one built from its excerpts)")

    form = commands.add_parser("form", help="write the printable self-assessment form (HTML and PDF), blank or "
                                            "pre-filled for one microsystem")
    form.add_argument("--study", default="demo", help="study name under data/raw/ or a path (default: demo)")
    form.add_argument("--microsystem", default=None, metavar="ID",
                      help="pre-fill with how this unit's staff answered (default: a blank form)")
    form.add_argument("--out", type=Path, default=None, help="folder to write (default: reports/<study>/forms/)")
    form.add_argument("--no-pdf", action="store_true", help="HTML only; no Chromium needed")
    form.add_argument("--paper", choices=["A4", "letter"], default="A4", help="page size (default: A4)")

    teaching = commands.add_parser("teaching", help="rewrite the teaching set's learner and instructor notebooks from "
                                                    "their lesson sources, run them, and make every lesson's slides "
                                                    "and printable handout (reports/teaching/)")
    teaching.add_argument("--no-execute", action="store_true",
                          help="only write the notebooks (their stored outputs stay empty until refresh-notebooks; "
                               "no slides or handouts)")
    teaching.add_argument("--no-pdf", action="store_true",
                          help="handouts as HTML only; no Chromium needed (the slides are made all the same)")
    teaching.add_argument("--reveal-url", default=None, metavar="URL",
                          help="where the slides load reveal.js 4 from when no copy sits beside them in "
                               "reports/teaching/slides/reveal.js/ (default: a CDN, "
                               "https://unpkg.com/reveal.js@4.0.2)")

    refresh = commands.add_parser("refresh-notebooks",
                                  help="re-execute notebooks/ in place so nbval compares fresh outputs")
    refresh.add_argument("notebooks", nargs="*", type=Path,
                         help="only these notebooks (default: every notebook under notebooks/)")
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
        print(f"error: unexpected {type(error).__name__}: {_one_line(error)} (a bug in the workbench; "
              f"{_crash_log(error)})", file=sys.stderr)
        return 3


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _crash_log(error: BaseException) -> str:
    """Write the traceback to a new private file (mode 0600, a name no one can guess or take
    first: it may hold data values) in the temporary folder; say where, for the message."""
    import os
    import tempfile
    import traceback

    try:
        handle, name = tempfile.mkstemp(prefix="workbench-error-", suffix=".log")  # created 0600, never reused
        with os.fdopen(handle, "w", encoding="utf-8") as log:
            log.write("".join(traceback.format_exception(error)))
    except OSError as failure:
        return f"no details written: {failure}"
    return f"details, private to you, in {name}"


def _build(arguments) -> int:
    from workbench.study import build_processed

    project = Project.discover()
    study = build_processed(arguments.study, project)
    print(f"{study.id}: {len(study.microsystems)} microsystems, {len(study.respondents)} respondents, "
          f"{len(study.answers)} answers, {study.codings['segment_id'].nunique()} coded segments -> "
          f"{project.shown(project.processed(study.id))}")
    for report in study.import_reports():  # what each import left out, as REFI-QDA's data-loss rule asks
        print(f"  {report.line()}")
        for note in report.notes:
            print(f"    note: {note}")
    empty = study.empty_evidence()
    for what in empty:
        print(f"warning: {what}", file=sys.stderr)
    if empty and arguments.strict:
        print("error: --strict: the build left declared evidence empty (see the warnings above)", file=sys.stderr)
        return 1
    return 0


def _regenerate(arguments) -> int:
    from workbench.reports import regenerate_study

    def explain(planned) -> None:
        if arguments.explain:
            print("\n".join(planned.explain()))

    summary = regenerate_study(
        Project.discover(), arguments.study, microsystems=arguments.microsystems, jobs=arguments.jobs,
        force=arguments.force, executor=arguments.executor, scheduler=arguments.scheduler,
        progress=not arguments.no_progress, dry_run=arguments.dry_run, on_plan=explain,
    )
    if arguments.dry_run:
        print(f"{len(summary.planned.todo)} would run, {len(summary.skipped)} unchanged")
        return 0
    print(f"{summary.line()} -> {summary.index}")
    for outcome in summary.failed:
        print(f"failed: {outcome.job.notebook.name} {outcome.job.parameters}: {outcome.error}", file=sys.stderr)
    return 1 if summary.failed else 0


def _demo(arguments) -> int:
    from workbench import demo

    project = Project.discover()
    folder = arguments.out or project.raw_dir / "demo"
    study = demo.write(folder)
    print(f"demo study written to {folder}: {len(study.microsystems)} microsystems, {len(study.survey)} respondents")
    return 0


def _export_qdpx(arguments) -> int:
    import yaml

    from workbench.io import refiqda, study_csv
    from workbench.io.files import write_bytes_atomic, write_text_atomic
    from workbench.study import open_or_build

    project = Project.discover()
    study = open_or_build(arguments.study, project)
    target = arguments.out or project.reports(study.id) / f"{study.id}.qdpx"
    if project.is_raw(target):
        raise ValueError(f"--out must not be under data/raw/ (raw data is read-only), got {target}")
    mapping_target = target.with_name(f"{target.stem}_mapping.yaml")
    config = study.config
    if config.coding_export and arguments.transcripts:
        raise ValueError("--transcripts is for a study read from CSV files; this study's transcripts are those of "
                         f"its QDA project ({config.coding_export})")
    if config.coding_export:  # written back into the project the study was read from: nothing it holds is lost
        mapping_path = study.folder / config.coding_export
        mapping_shown = project.shown(mapping_path)
        mapping = refiqda.read_coding_mapping(mapping_path, label=mapping_shown)
        source = mapping_path.parent / mapping.file
        original = refiqda.read_qdpx(source, label=project.shown(source), keep_files=True)
        codes = refiqda.write_qdpx(target, name=config.title, codings=study.codings, interviews=study.interviews,
                                   microsystems=study.microsystems, frameworks=study.frameworks, project=original,
                                   mapping=mapping)
        written = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        written.update(file=target.name, codes=codes)
        table = mapping.assignment.table
        if table:  # the sidecar table goes beside the project, so the mapping reads it back from there
            copy = target.with_name(f"{target.stem}_sources{Path(table).suffix}")
            write_bytes_atomic(copy, (mapping_path.parent / table).read_bytes())
            written["sources"]["table"] = copy.name
        kept, full = original.in_file, True
        added = refiqda.read_qdpx(target).in_file["codings"] - kept["codings"]
        summary = (f"{project.shown(source)} written back whole ("
                   + ", ".join(f"{n} {kind.removesuffix('s') if n == 1 else kind}" for kind, n in kept.items() if n)
                   + ")"
                   + (f" and {added} codings of the study it did not hold" if added else
                      f"; it holds each of the study's {len(study.codings)} codings"))
    else:  # built from the study's frames, on the full transcripts where the study has them
        candidates, origin = {}, {}
        places = [arguments.transcripts] if arguments.transcripts else []
        places += [path for path in sorted(study.folder.rglob("*"))  # the study's own REFI-QDA mappings
                   if path.suffix in (".yaml", ".yml") and path.name != "study.yaml"]
        for place in places:
            try:
                found = refiqda.transcripts_in(place)
            except InputError:
                if place == arguments.transcripts:
                    raise
                found = {}  # a broken project elsewhere in the study folder holds no transcripts for us
            for interview, text in found.items():
                if interview not in candidates:
                    candidates[interview], origin[interview] = text, project.shown(place)
        segments = study.folder / str(config.files.coded_segments)
        raw = (study_csv.read_codings(segments, shown=project.shown(segments), interviews=study.interviews,
                                      frameworks=list(study.frameworks))
               if config.files.coded_segments else study.codings)  # excerpts as written, before scrubbing
        transcripts, refused = refiqda.transcripts_matching(candidates, study.interviews, raw)
        full = bool(transcripts)
        codes = refiqda.write_qdpx(target, name=config.title, codings=study.codings, interviews=study.interviews,
                                   microsystems=study.microsystems, frameworks=study.frameworks,
                                   transcripts=transcripts)
        written = {"format": "refi-qda", "file": target.name, "codes": codes, "unmapped_codes": "error",
                   "source_variables": {"interviewee_role": "Interviewee role", "interview_date": "Interview date"}}
        built = len(study.interviews) - len(transcripts)
        places = sorted({origin[interview] for interview in transcripts})
        summary = (f"{study.codings['segment_id'].nunique()} coded segments from {len(study.interviews)} interviews"
                   + (f"; full transcripts of {len(transcripts)} from {', '.join(places)}" if transcripts else "")
                   + (f"; {built} built from their excerpts (no transcript found)" if built else ""))
        for interview, why in refused.items():
            print(f"  transcript of {interview} from {origin[interview]} not used: {why}", file=sys.stderr)
    refiqda.write_qdc(target.with_suffix(".qdc"), study.frameworks)
    write_text_atomic(mapping_target, yaml.safe_dump(written, sort_keys=False, allow_unicode=True))
    print(f"{summary} -> {target} (+ .qdc, mapping)")
    if full:
        print("note: transcripts are written in full, as the raw files hold them; names are not masked in them",
              file=sys.stderr)
    return 0


def _form(arguments) -> int:
    from workbench.form import BrowserError, form_filename, write_form
    from workbench.study import open_or_build

    project = Project.discover()
    opened = open_or_build(arguments.study, project)
    folder = Path(arguments.out) if arguments.out is not None else project.reports(opened.id) / "forms"
    if project.is_raw(folder):
        raise ValueError(f"--out must not be under data/raw/ (raw data is read-only), got {folder}")
    try:
        written = write_form(folder, opened.instrument, study=opened, microsystem_id=arguments.microsystem,
                             pdf=not arguments.no_pdf, paper=arguments.paper)
    except BrowserError as error:
        print(f"{folder / form_filename(arguments.microsystem)} written; the PDF was not", file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _print_refreshed(project: Project, outcomes) -> int:
    for outcome in outcomes:
        shown = project.shown(outcome.job.notebook)
        status = "ok    " if outcome.ok else "FAILED"
        error = "" if outcome.ok else ": " + outcome.error
        print(f"{status} {shown} ({outcome.seconds:.1f} s){error}")
    return 0 if all(o.ok for o in outcomes) else 1


def _teaching(arguments) -> int:
    from workbench.reports.running import refresh_source_notebooks, skip_slow_format_checkers
    from workbench.teaching.generator import LESSONS, generate
    from workbench.teaching.publishing import REVEAL_FOLDER, REVEAL_URL, write_lesson_outputs

    project = Project.discover()
    written = generate(project.notebooks_dir / "teaching")
    print(f"{len(written)} teaching notebooks written from {len(LESSONS)} lessons -> "
          f"{project.shown(written[0].parent.parent)}")
    if arguments.no_execute:
        print("not executed: run `workbench refresh-notebooks` on them before nbval compares their outputs; "
              "no slides or handouts made (they show the executed lessons)")
        return 0
    skip_slow_format_checkers()
    outcomes = refresh_source_notebooks(project, only=[path.resolve() for path in written])
    status = _print_refreshed(project, outcomes)
    # Slides and handouts show the executed learner notebooks: only those that ran.
    ran = {o.job.notebook.stem for o in outcomes if o.ok and o.job.notebook.parent.name == "learner"}
    lessons = tuple(lesson for lesson in LESSONS if lesson.name in ran)
    if not lessons:
        print("no slides or handouts made: no learner notebook ran", file=sys.stderr)
        return status or 1
    made = write_lesson_outputs(project, lessons=lessons, pdf=not arguments.no_pdf,
                                reveal_url=arguments.reveal_url or REVEAL_URL)
    slides, handouts = made.slides[0].parent, made.handouts[0].parent
    source = ("the copy beside them, no network needed" if made.reveal_local else
              f"{made.reveal_url}: needs the internet, unless a copy of reveal.js 4 is put in "
              f"{project.shown(slides / REVEAL_FOLDER)}/")
    print(f"{len(made.slides)} slide decks -> {project.shown(slides)}/ (reveal.js from {source})")
    if made.pdfs:
        print(f"{len(made.pdfs)} handouts, PDF and HTML -> {project.shown(handouts)}/ "
              f"(printed in {made.pdf_seconds:.1f} s; {made.seconds:.1f} s in all)")
    else:
        print(f"{len(made.handouts)} handouts, HTML only -> {project.shown(handouts)}/; PDFs not made: {made.skipped}")
    return status


def _refresh_notebooks(arguments) -> int:
    from workbench.reports.running import refresh_source_notebooks, skip_slow_format_checkers

    skip_slow_format_checkers()
    project = Project.discover()
    folder = project.notebooks_dir.resolve()
    chosen = [p.resolve() for p in arguments.notebooks]
    for path in chosen:  # refreshing rewrites a notebook in place: only ever the project's own
        if not path.is_file():
            raise InputError("no such notebook", file=path)
        if folder not in path.parents or path.suffix != ".ipynb":
            raise InputError(f"only notebooks under {folder} are refreshed", file=path)
    return _print_refreshed(project, refresh_source_notebooks(project, only=chosen or None))


_COMMANDS = {"build": _build, "regenerate": _regenerate, "demo": _demo, "export-qdpx": _export_qdpx, "form": _form,
             "teaching": _teaching, "refresh-notebooks": _refresh_notebooks}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
