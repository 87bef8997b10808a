"""Where a project keeps its studies, processed data, reports, notebooks and secrets.

A :class:`Project` is a folder with ``data/raw/`` in it. Every path the workbench uses is
derived from one, and every function that reads or writes files is given one (or finds it
with :meth:`Project.discover`: ``$WORKBENCH_ROOT`` when set, else the nearest folder above the
working directory holding ``data/raw``, which is how notebooks run from ``notebooks/`` find it).

Examples
--------
>>> project = Project("/srv/study-project")
>>> project.processed("demo").as_posix()
'/srv/study-project/data/processed/demo'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError

__all__ = ["ROOT_ENVIRONMENT_VARIABLE", "STUDY_FILE", "Project"]

ROOT_ENVIRONMENT_VARIABLE = "WORKBENCH_ROOT"
STUDY_FILE = "study.yaml"
# A study id names the study's folders under data/processed/ and reports/: a plain name only,
# so that no id ('', '.', '../x', 'a/b') can reach another folder.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
PLAIN_NAME_RULE = "a plain name: letters, digits, '-' and '_', starting with a letter or digit, at most 100 characters"


def plain_study_id(study_id) -> str:
    """``study_id`` if it is a plain name (:data:`PLAIN_NAME`), else an InputError."""
    if not isinstance(study_id, str) or not PLAIN_NAME.fullmatch(study_id):
        raise InputError(f"a study id must be {PLAIN_NAME_RULE} (it names the study's folders), found {study_id!r}")
    return study_id


@dataclass(frozen=True, init=False)
class Project:
    """A project folder: ``data/raw/<study>/`` in, ``data/processed/`` and ``reports/`` out."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root).resolve())

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Project:
        """The project of ``$WORKBENCH_ROOT``, else the nearest folder above ``start`` (default:
        the working directory) that holds ``data/raw``."""
        configured = os.environ.get(ROOT_ENVIRONMENT_VARIABLE)
        if configured:
            return cls(configured)
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "data" / "raw").is_dir():
                return cls(folder)
        raise InputError(f"no project folder found above {here}: expected a folder with data/raw/ in it; "
                         f"run from inside a workbench project or set {ROOT_ENVIRONMENT_VARIABLE}")

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def processed_dir(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def secrets_dir(self) -> Path:
        """Per-study keys; never committed (the folder ignores itself)."""
        return self.root / ".secrets"

    def processed(self, study_id: str) -> Path:
        """The study's processed folder: always ``data/processed/<plain id>``, never that folder itself
        nor one outside it."""
        return self.processed_dir / plain_study_id(study_id)

    def reports(self, study_id: str) -> Path:
        return self.reports_dir / plain_study_id(study_id)

    def restricted(self, study_id: str) -> Path:
        """Material for the research team only (the coders' consensus meeting: excerpts with
        interview and unit ids): under the study's reports, never linked from their index,
        readable by its owner only."""
        return self.reports(study_id) / "internal"

    def key_file(self, study_id: str) -> Path:
        return self.secrets_dir / f"{study_id}.key"

    def study_folder(self, study: str | Path) -> Path:
        """A study given by name (a folder under ``data/raw/``) or by path."""
        candidate = Path(study)
        if candidate.is_dir() and (candidate / STUDY_FILE).exists():
            return candidate.resolve()
        folder = self.raw_dir / str(study)
        if not folder.is_dir():
            known = (sorted(p.name for p in self.raw_dir.iterdir() if (p / STUDY_FILE).exists())
                     if self.raw_dir.is_dir() else [])
            raise InputError(f"no study called {str(study)!r}: expected a folder data/raw/{study}/ with {STUDY_FILE}; "
                             f"studies here: {known}")
        return folder

    def shown(self, path: str | Path) -> str:
        """A path as a user should read it in a message: relative to the project when inside it."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return str(path)

    def is_raw(self, path: str | Path) -> bool:
        """Whether ``path`` lies under ``data/raw/`` (read-only input: nothing is ever written there)."""
        return Path(path).resolve().is_relative_to(self.raw_dir.resolve())
