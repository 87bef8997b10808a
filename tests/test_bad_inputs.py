"""The bad-input corpus (tests/bad_inputs/cases.yaml): every broken file either loads
correctly with every row kept, or stops with one clear line naming the file, row and
column, no traceback, and nothing written to data/processed/.

A case's ``file`` replaces the demo's file (a ``.gz`` file is stored compressed and
unpacked in place); a case may instead ``make`` something that cannot be stored in the
repository: a ``folder``, a named pipe (``fifo``) or a link to a ``device``."""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
from pathlib import Path

import pytest
import yaml

from workbench import cli
from workbench.study import load_study

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def test_the_corpus_is_large_and_every_case_states_its_expectation():
    assert len(CASES) >= 30
    for case in CASES:
        assert case["expect"] in ("error", "loads") and case["note"]
        assert ("file" in case) != ("make" in case)
        assert case.get("make", "folder") in ("folder", "fifo", "device")
        assert "make" in case or (CORPUS / case["file"]).exists()
        assert ("message" in case) == (case["expect"] == "error")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, project, demo_copy, capsys):
    config = yaml.safe_load((demo_copy / "study.yaml").read_text())
    if case["replaces"] == "survey_responses.csv" or "survey_export" in case.get("config", {}):
        config.pop("waves")  # the corpus's surveys, and the demo's exports, are of one wave (no 'wave' column)
    config.update(case.get("config", {}))
    (demo_copy / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    target = demo_copy / case["replaces"]
    release = _put(case, target)
    processed = project / "data" / "processed" / "demo"
    before = {p: p.read_bytes() for p in processed.rglob("*") if p.is_file()}  # from the last good build
    started = time.monotonic()
    try:
        status = cli.main(["build", "--study", "demo"])
    finally:
        release.cancel()
    assert time.monotonic() - started < PIPE_PATIENCE, "the build waited on a named pipe"
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    if case["expect"] == "error":
        assert status == 2, captured.out
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert re.search(case["message"], lines[0]), lines[0]
        after = {p: p.read_bytes() for p in processed.rglob("*") if p.is_file()}
        assert after == before, "nothing may be written for a bad input"
    else:
        assert status == 0, captured.err
        study = load_study("demo")
        for frame, count in case["counts"].items():
            assert len(getattr(study, frame)) == count, frame


PIPE_PATIENCE = 30  # seconds: a build still reading a named pipe by then is unblocked, and the case fails


def _put(case, target: Path) -> threading.Timer:
    """Put the case's file (or folder, pipe, device link) in place of ``target``. Returns a timer
    that, should the build wait on a named pipe, opens it for writing and closes it so the
    reader sees its end rather than hanging the suite; cancel it when the build returns."""
    make = case.get("make")
    timer = threading.Timer(PIPE_PATIENCE, _unblock, [target])
    timer.daemon = True
    if make is None:
        source = CORPUS / case["file"]
        data = source.read_bytes()
        target.write_bytes(gzip.decompress(data) if source.suffix == ".gz" else data)
        return timer
    target.unlink()
    if make == "folder":
        target.mkdir()
    elif make == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/null")
    timer.start()
    return timer


def _unblock(pipe: Path) -> None:
    try:
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody is reading it
