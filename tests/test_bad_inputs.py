"""The bad-input corpus (tests/bad_inputs/cases.yaml): every broken file either loads
correctly with every row kept, or stops with one clear line naming the file, row and
column, no traceback, and nothing written to data/processed/."""

from __future__ import annotations

import re
import shutil
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
        assert (CORPUS / case["file"]).exists()
        assert ("message" in case) == (case["expect"] == "error")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, project, demo_copy, capsys):
    if "config" in case:
        config = yaml.safe_load((demo_copy / "study.yaml").read_text())
        config.update(case["config"])
        (demo_copy / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copyfile(CORPUS / case["file"], demo_copy / case["replaces"])
    processed = project / "data" / "processed" / "demo"
    before = {p: p.read_bytes() for p in processed.rglob("*") if p.is_file()}  # from the last good build
    status = cli.main(["build", "--study", "demo"])
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
