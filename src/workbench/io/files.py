"""File plumbing shared by every reader and writer: hashing and atomic writes."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

__all__ = [
    "atomic_path", "read_yaml_model", "sha256_of", "stable_zip", "write_bytes_atomic", "write_parquet_atomic",
    "write_text_atomic",
]

_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    A reader never sees a half-written file: either the old version or the whole new
    one. On failure the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    os.chmod(temporary_path, 0o666 & ~_UMASK)  # mkstemp makes files private; outputs are shared
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_parquet_atomic(target: Path, frame: pd.DataFrame) -> None:
    with atomic_path(target) as temporary:
        frame.to_parquet(temporary, index=False)


def stable_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite a zip archive with every member stamped ``when``, so the same content
    always gives the same bytes (zip writers stamp the current time; so does openpyxl,
    inside the workbook's core properties)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            stable = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            stable.compress_type = zipfile.ZIP_DEFLATED
            stable.external_attr = 0o644 << 16
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, content)
            target.writestr(stable, content)
    return out.getvalue()


def read_yaml_model(path: Path, model, *, shown=None, missing: str = "file not found", kind: str = "setting"):
    """Read a YAML file into a pydantic ``model``; any problem is one InputError naming the
    file and, for a wrong value, the dotted path of the ``kind`` ("setting", "element") at fault."""
    import yaml
    from pydantic import ValidationError

    from workbench.errors import InputError

    shown = shown or str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(missing, file=shown) from None
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {error}", file=shown) from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InputError(f"{kind} '{location}': {first['msg']}", file=shown, more=error.error_count() - 1) from None
