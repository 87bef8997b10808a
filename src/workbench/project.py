"""Where a project keeps its studies, processed data, reports and notebooks - and where its keys are not.

A :class:`Project` is a folder with ``data/raw/`` in it. Every path the workbench uses is
derived from one, and every function that reads or writes files is given one (or finds it
with :meth:`Project.discover`: ``$WORKBENCH_ROOT`` when set, else the nearest folder above the
working directory holding ``data/raw``, which is how notebooks run from ``notebooks/`` find it).

Pseudonym keys are the one thing kept outside the project, so that no copy or archive of it
carries them: in the user's own key folder, :func:`keys_dir` (``$WORKBENCH_KEYS``, else
``$XDG_DATA_HOME/workbench/keys``, else ``~/.local/share/workbench/keys``). Each study's key is
named by a random key id, not by the study id; :func:`workbench.privacy.study_key` says where
that id is kept and why.

Examples
--------
>>> project = Project("/srv/study-project")
>>> project.processed("demo").as_posix()
'/srv/study-project/data/processed/demo'
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError

__all__ = ["KEYS_ENVIRONMENT_VARIABLE", "ROOT_ENVIRONMENT_VARIABLE", "STUDY_FILE", "Project", "keys_dir"]

ROOT_ENVIRONMENT_VARIABLE = "WORKBENCH_ROOT"
KEYS_ENVIRONMENT_VARIABLE = "WORKBENCH_KEYS"
KEY_ID = re.compile(r"[0-9a-f]{32}")  # a study key id: 128 random bits in hex
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


def keys_dir(*, create: bool = False) -> Path:
    """The folder of the user's pseudonym keys, outside every project: ``$WORKBENCH_KEYS`` when set,
    else ``$XDG_DATA_HOME/workbench/keys``, else ``~/.local/share/workbench/keys``. Keys are made
    there readable by their owner only: ``create`` makes the folder if need be, mode 0700 (each
    key file is 0600)."""
    configured = os.environ.get(KEYS_ENVIRONMENT_VARIABLE)
    if configured:
        folder = Path(configured).expanduser().resolve()
    else:
        data_home = os.environ.get("XDG_DATA_HOME")
        base = Path(data_home).expanduser() if data_home and Path(data_home).is_absolute() else \
            Path.home() / ".local" / "share"
        folder = (base / "workbench" / "keys").resolve()
    return _private_folder(folder, folder) if create else folder


def _private_folder(folder: Path, keys: Path | None = None) -> Path:
    """``folder``, made if need be and readable by its owner only (0700), as is every folder between it
    and the key folder ``keys`` (default: :func:`keys_dir`)."""
    keys = keys or keys_dir()
    try:
        for level in [folder, *folder.parents]:  # the key folder and what is made inside it
            if level == keys.parent:
                break
            level.mkdir(mode=0o700, parents=True, exist_ok=True)
            if level.stat().st_mode & 0o077:
                os.chmod(level, 0o700)
    except OSError as error:
        raise InputError(f"the pseudonym key folder {keys} cannot be made or kept private ({error.strerror or error}); "
                         f"set {KEYS_ENVIRONMENT_VARIABLE} to a folder of your own") from None
    return folder


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
    def teaching_outputs(self) -> Path:
        """The teaching set's slides and printable handouts (``reports/teaching/``), made from the
        executed learner notebooks by ``workbench teaching``; regenerable, like every report."""
        return self.reports_dir / "teaching"

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

    def key_id_file(self, study_id: str) -> Path:
        """Where the study's key id is recorded: ``data/processed/<study>/key_id``, beside the
        processed data made with that key (kept by every rebuild; see :func:`workbench.privacy.study_key`)."""
        return self.processed(study_id) / "key_id"

    def key_file(self, study_id: str) -> Path | None:
        """The study's pseudonym key file in :func:`keys_dir` (named by its key id), or None when
        no key id is recorded for it (:meth:`key_id_file` holds none, nor the user's index of the
        studies built here). The file itself may be missing (a project copied to another machine)."""
        key_id = self.key_id(study_id)
        return None if key_id is None else keys_dir() / f"{key_id}.key"

    def key_id(self, study_id: str) -> str | None:
        """The study's key id: the one its processed data were made with (:meth:`key_id_file`),
        else the one the user's index remembers for this study's processed folder (which a
        wiped ``data/processed/`` forgets), else None. A key id file that holds anything but a
        key id is an InputError naming it."""
        record = self.key_id_file(study_id)
        try:
            written = record.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            written = None
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"the study's key id cannot be read ({error})", file=self.shown(record)) from None
        if written is not None:
            if not KEY_ID.fullmatch(written):
                raise InputError(f"expected a key id (32 hex digits, the name of a key in {keys_dir()}), found "
                                 f"{written[:40]!r}; write the id of the key the study was built with, or delete "
                                 "the file to make a new key at the next build", file=self.shown(record))
            return written
        try:
            remembered = self.key_index_file(study_id).read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError):
            return None
        return remembered[0] if remembered and KEY_ID.fullmatch(remembered[0]) else None

    def record_key_id(self, study_id: str, key_id: str, *, replace: bool = False) -> str:
        """Record ``key_id`` as the study's, in :meth:`key_id_file` and the user's index; return the key
        id now recorded, which is another build's when one recorded it first (unless ``replace``)."""
        record = self.key_id_file(study_id)
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_name(f".key_id.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        temporary.write_text(key_id + "\n", encoding="utf-8")
        try:
            if replace:
                os.replace(temporary, record)
            else:
                try:
                    os.link(temporary, record)  # the first build to record one wins; the others use its key
                except FileExistsError:
                    key_id = self.key_id(study_id) or key_id
        finally:
            temporary.unlink(missing_ok=True)
        index = self.key_index_file(study_id)
        _private_folder(index.parent)
        if not index.exists() or index.read_text(encoding="utf-8").split()[:1] != [key_id]:
            temporary = index.with_name(f".{index.name}.{os.getpid()}.tmp")
            temporary.write_text(f"{key_id}\n{self.processed(study_id)}\n", encoding="utf-8")
            os.replace(temporary, index)
        return key_id

    def key_index_file(self, study_id: str) -> Path:
        """The user's record of the key id of this project's study (in :func:`keys_dir`, named by a
        digest of the study's processed folder): a rebuild after ``data/processed/`` was wiped
        finds the same key; a copy of the study in another folder or under another id does not."""
        digest = hashlib.sha256(str(self.processed(study_id)).encode("utf-8")).hexdigest()[:32]
        return keys_dir() / "studies" / digest

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
