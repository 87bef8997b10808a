"""environment.yml (for conda users) must ask for what pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {}


def requirement_name(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*(.*)$", requirement)
    name = re.sub(r"\[.*\]", "", match.group(1)) if match.group(1) else match.group(1)
    return name.lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(
        requirement_name(d.split("#")[0])
        for d in environment["dependencies"]
        if isinstance(d, str) and not d.startswith(("python", "pip"))
    )
    assert {CONDA_NAME.get(n, n): v for n, v in declared.items()} == conda
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]
    python = next(d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python=" + project["requires-python"].removeprefix(">=")


def test_constraints_pin_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {
        requirement_name(line.split("==")[0])[0]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        assert requirement_name(requirement)[0] in pinned, requirement
