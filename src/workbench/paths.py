"""Where things live. Every path the workbench uses is derived here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENVIRONMENT_VARIABLE = "WORKBENCH_ROOT"


def project_root(start: Path | None = None) -> Path:
    """The project folder: ``$WORKBENCH_ROOT``, else the nearest folder holding ``data/raw``.

    Searching upwards from the working directory lets notebooks run from ``notebooks/``
    (as papermill and nbval do) and the command line run from anywhere inside a checkout.
    """
    configured = os.environ.get(ROOT_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "raw").is_dir():
            return folder
    raise FileNotFoundError(
        f"No project folder found above {here}: expected a folder with data/raw/ in it. "
        f"Run from inside a workbench checkout or set {ROOT_ENVIRONMENT_VARIABLE}."
    )


def raw_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "data" / "raw"


def processed_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "data" / "processed"


def reports_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "reports"


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks"


def secrets_dir(root: Path | None = None) -> Path:
    """Per-study keys; never committed (the folder ignores itself)."""
    return (root or project_root()) / ".secrets"
