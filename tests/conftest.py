"""Shared fixtures: a throwaway copy of the project so tests never write into the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench import paths

CHECKOUT = Path(__file__).resolve().parents[1]
DEMO = CHECKOUT / "data" / "raw" / "demo"


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with the demo study and the notebooks, set as the workbench root."""
    root = tmp_path / "project"
    shutil.copytree(DEMO, root / "data" / "raw" / "demo")
    (root / "data" / "processed").mkdir(parents=True)
    shutil.copytree(CHECKOUT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT_VARIABLE, str(root))
    return root


@pytest.fixture
def demo_copy(project) -> Path:
    """The raw demo study folder inside the throwaway project, free to corrupt."""
    return project / "data" / "raw" / "demo"
