"""Shared fixtures. The suite never writes into the checkout:

* Before anything runs, a session project is made in a temporary folder (the demo study and
  the notebooks, built) and ``$WORKBENCH_ROOT`` points at it, so every test and every nbval
  kernel that looks for "the project" finds that copy, not the checkout.
* ``$WORKBENCH_KEYS`` points at a key folder in the same temporary folder: the pseudonym keys
  that builds make never go to the user's own key folder (``~/.local/share/workbench/keys``).
* ``project`` gives a test its own copy of it, free to change.
* Hypothesis keeps no example database (it would be ``.hypothesis/`` in the checkout).

``.ci/run`` checks that ``git status --porcelain`` is empty after the suite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from workbench.project import KEYS_ENVIRONMENT_VARIABLE, ROOT_ENVIRONMENT_VARIABLE, Project

CHECKOUT = Path(__file__).resolve().parents[1]
SCREENSHOTS_VARIABLE = "WORKBENCH_SCREENSHOTS"
DEMO = CHECKOUT / "data" / "raw" / "demo"

settings.register_profile("workbench", database=None)
settings.load_profile("workbench")

_SESSION: dict[str, Path] = {}


def _fresh_project(root: Path) -> Path:
    shutil.copytree(DEMO, root / "data" / "raw" / "demo")
    (root / "data" / "processed").mkdir(parents=True)
    shutil.copytree(CHECKOUT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


def pytest_configure(config):
    from workbench.study import build_processed

    folder = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
    _SESSION["folder"] = folder
    # Before the first build: every key a test (or a kernel, or a worker) makes goes here.
    os.environ[KEYS_ENVIRONMENT_VARIABLE] = str(folder / "keys")
    template = _fresh_project(folder / "template")
    build_processed("demo", Project(template))
    _SESSION["template"] = template
    # The project every test, and every kernel nbval starts, finds by default: a built copy.
    session_root = folder / "session"
    shutil.copytree(template, session_root, symlinks=True)
    _SESSION["session"] = session_root
    os.environ[ROOT_ENVIRONMENT_VARIABLE] = str(session_root)


def pytest_unconfigure(config):
    folder = _SESSION.get("folder")
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder of the test's own: the demo study (built) and the notebooks, set as the
    workbench root."""
    root = tmp_path / "project"
    shutil.copytree(_SESSION["template"], root, symlinks=True)
    monkeypatch.setenv(ROOT_ENVIRONMENT_VARIABLE, str(root))
    return root


@pytest.fixture
def unbuilt_project(tmp_path, monkeypatch) -> Path:
    """A project folder with the demo study's raw files and the notebooks, never built (no
    processed data, no pseudonym key), set as the workbench root."""
    root = _fresh_project(tmp_path / "project")
    monkeypatch.setenv(ROOT_ENVIRONMENT_VARIABLE, str(root))
    return root


@pytest.fixture
def demo_copy(project) -> Path:
    """The raw demo study folder inside the throwaway project, free to corrupt."""
    return project / "data" / "raw" / "demo"


@pytest.fixture(scope="session")
def browser():
    """The Chromium the workbench prints PDFs with; the test is skipped without one, unless
    ``WORKBENCH_REQUIRE_BROWSER=1`` (CI), when a missing browser fails it."""
    from workbench import form

    try:
        return form.find_browser()
    except form.BrowserError as error:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"WORKBENCH_REQUIRE_BROWSER=1 but no browser: {error}")
        pytest.skip(f"no Chromium on this machine: {error}")


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where browser tests put screenshots: ``$WORKBENCH_SCREENSHOTS`` when set (to keep them), else
    the test's temporary folder; never the checkout."""
    folder = Path(os.environ.get(SCREENSHOTS_VARIABLE) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
