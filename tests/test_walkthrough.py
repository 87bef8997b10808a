"""The README's walkthrough, followed block by block: a QDA project and a REDCap export become a study.

The files the walkthrough tells a researcher to write are taken from the README itself, so the
README cannot drift from what works; the exports it starts from are this project's own small
fixtures (a MAXQDA-style project, a REDCap project as an R client exports it).
"""

from __future__ import annotations

import re
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.qda.dialects import write_maxqda
from workbench import cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SURVEY = Path(__file__).parent / "fixtures" / "surveys" / "r_tool"
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)


def walkthrough() -> list[tuple[str | None, str, str]]:
    """(file the block is written to or None, language, content) for each block, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Walkthrough:", 1)[1].split("\n### ", 1)[0]
    blocks, previous_end = [], 0
    for match in FENCE.finditer(section):
        before = section[previous_end:match.start()]
        paths = re.findall(r"`(data/raw/[^`]+)`", before)
        blocks.append((paths[-1] if paths and match.group(2) != "sh" else None, match.group(2),
                       textwrap.dedent(match.group(3))))
        previous_end = match.end()
    return blocks


def test_the_readme_walkthrough_builds_a_study_from_a_qda_project_and_a_redcap_export(unbuilt_project, capsys):
    blocks = walkthrough()
    assert [language for _, language, _ in blocks] == ["csv", "csv", "yaml", "yaml", "yaml", "sh"]
    exports = unbuilt_project / "data" / "raw" / "ward-study" / "exports"
    exports.mkdir(parents=True)
    # Step 1: the researcher's own exports (here, this project's fixtures).
    (unbuilt_project / "tool").mkdir()
    write_maxqda(unbuilt_project / "tool")
    shutil.copyfile(unbuilt_project / "tool" / "maxqda.qdpx", exports / "project.qdpx")
    for name in ("records.csv", "dictionary.csv"):
        shutil.copyfile(SURVEY / name, exports / name)
    # Steps 2-6: the files the README shows, written where it says.
    for target, _, content in blocks:
        if target is not None:
            (unbuilt_project / target).parent.mkdir(parents=True, exist_ok=True)
            (unbuilt_project / target).write_text(content, encoding="utf-8")
    # Step 7: the commands.
    commands = [shlex.split(line) for line in blocks[-1][2].splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["workbench", "build"], ["workbench", "regenerate"]]
    assert cli.main(commands[0][1:]) == 0, capsys.readouterr().err
    built = capsys.readouterr().out
    assert "project.qdpx (REFI-QDA project)" in built and "codings" in built
    assert "records.csv (REDCap records export)" in built and "columns" in built
    assert cli.main([*commands[1][1:], "--no-progress", "--jobs", "2"]) == 0, capsys.readouterr().err
    reports = unbuilt_project / "reports" / "ward-study"
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert (reports / "03-interview-coding.html").exists() and (reports / "02-survey-assessment.html").exists()
    assert "not made: does not apply: the study has no outcome measures" in index
    assert (reports / "feedback" / "MS01.html").exists()
