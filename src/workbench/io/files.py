"""File plumbing shared by every reader and writer: hashing and atomic writes."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pandas as pd

__all__ = [
    "ARCHIVE_LIMIT", "MEMBER_LIMIT", "Archive", "atomic_path", "check_regular_file", "load_yaml", "open_archive",
    "open_input", "read_input_bytes", "read_input_text", "read_yaml_model", "sha256_of", "stable_zip",
    "write_bytes_atomic", "write_parquet_atomic", "write_text_atomic",
]

_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open_input(path) as handle:  # never hangs on a named pipe nor reads a device forever
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


YAML_DEPTH = 64  # nesting levels a YAML file may have: settings need a handful; more is a mistake or an attack


def load_yaml(path: Path, *, shown=None, missing: str = "file not found"):
    """A YAML file's data, read safely; any problem is one InputError line naming the file, line and column.

    Refused: a syntax error; a key given twice in one mapping (YAML forbids it, and a second
    ``privacy:`` block would otherwise silently replace the first); nesting deeper than
    ``YAML_DEPTH`` (read without ever reaching Python's recursion limit); a missing file, or a
    folder, pipe or device where the file should be.
    """
    return _load_yaml(path, shown or str(path), missing)[0]


def _load_yaml(path: Path, shown: str, missing: str):
    """:func:`load_yaml`'s data, and the line of every key and list entry: ``{id(container): {key: line}}``."""
    import yaml

    from workbench.errors import InputError

    text = read_input_text(path, shown, missing=missing)  # a regular file only, UTF-8
    loader = _yaml_loader()(text)
    try:
        return loader.get_single_data(), loader.lines
    except yaml.MarkedYAMLError as error:
        raise InputError(_yaml_problem(error), file=shown) from None
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {' '.join(str(error).split())}", file=shown) from None
    finally:
        loader.dispose()


def _yaml_problem(error) -> str:
    """A YAML error from the parser or the loader as one line: line, column, problem, context."""
    def at(mark) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    problem = " ".join(str(error.problem or error.context or "").split())
    if getattr(error, "bare", False):  # a duplicate key: the message names its lines
        return problem
    if getattr(error, "refused", False):  # valid YAML the workbench refuses: deep nesting
        return f"{at(error.problem_mark)}: {problem}"
    where = error.problem_mark or error.context_mark
    context = " ".join(str(error.context).split()) if error.problem and error.context else ""
    if context and problem.startswith("but "):  # "expected a single document ..., but found another document"
        return f"not valid YAML at {at(where)}: {context}, {problem}"
    text = "not valid YAML" + (f" at {at(where)}" if where else "") + f": {problem}"
    if context:
        text += f" ({context}" + (f" at {at(error.context_mark)}" if error.context_mark else "") + ")"
    return text


_LOADER: list = []  # the loader class, made when first needed (yaml is imported only then)


def _yaml_loader():
    """PyYAML's safe loader, refusing duplicate keys and deep nesting, noting where each key is."""
    if _LOADER:
        return _LOADER[0]
    import yaml

    class Loader(yaml.SafeLoader):
        def __init__(self, stream):
            super().__init__(stream)
            self.lines: dict[int, dict] = {}
            self.depth = 0

        def compose_node(self, parent, index):
            # Composing is recursive: refuse deep nesting while the stack is still short.
            if self.depth >= YAML_DEPTH:
                deep = yaml.composer.ComposerError(
                    None, None, f"nested more than {YAML_DEPTH} levels deep; expected a settings file a few levels "
                                "deep", self.peek_event().start_mark)
                deep.refused = True
                raise deep
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def get_single_node(self):
            node = super().get_single_node()
            _refuse_duplicate_keys(node)
            return node

        def construct_yaml_map(self, node):
            data: dict = {}
            yield data
            lines: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *defaults": keys given here may override the merged ones
                try:
                    lines.setdefault(self.construct_object(key_node, deep=True), key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: construct_mapping refuses it
            data.update(self.construct_mapping(node))
            self.lines[id(data)] = lines

        def construct_yaml_seq(self, node):
            data: list = []
            yield data
            data.extend(self.construct_sequence(node))
            self.lines[id(data)] = {index: item.start_mark.line + 1 for index, item in enumerate(node.value)}

    Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_yaml_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", Loader.construct_yaml_seq)
    _LOADER.append(Loader)
    return Loader


def _refuse_duplicate_keys(root) -> None:
    """A key given twice in one mapping of a composed YAML document is one error naming the
    mapping's dotted path and both lines (walked with a stack: no recursion)."""
    import yaml

    stack, seen = [(root, "")], set()
    while stack:
        node, path = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        children = []
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    children.append((value_node, path))
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    children.append((value_node, path))
                    continue
                identity, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if identity in first:
                    key = repr(key_node.value) if key_node.tag.endswith(":str") else key_node.value
                    duplicate = yaml.constructor.ConstructorError(
                        None, None, f"{path + ': ' if path else ''}{key} is given twice (lines {first[identity]} and "
                                    f"{line}); expected each key once - a second one would silently replace the first, "
                                    "so merge them", key_node.start_mark)
                    duplicate.bare = True
                    raise duplicate
                first[identity] = line
                children.append((value_node, f"{path}.{key_node.value}" if path else str(key_node.value)))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, f"{path}.{index}" if path else str(index)) for index, item in enumerate(node.value)]
        stack.extend(reversed(children))  # in the file's order


def read_yaml_model(path: Path, model, *, shown=None, missing: str = "file not found", kind: str = "setting",
                    strict: bool = False):
    """Read a YAML file (:func:`load_yaml`) into a pydantic ``model``; any problem is one InputError naming the
    file and, for a wrong value, the dotted path of the ``kind`` ("setting", "element") at fault, what was found
    and on which line. ``strict``: no value is converted (``yes`` is not 1, ``"5"`` is not 5, ``5.0`` is not 5)."""
    from pydantic import ValidationError

    from workbench.errors import InputError

    shown = shown or str(path)
    raw, lines = _load_yaml(path, shown, missing)
    try:
        return model.model_validate(raw, strict=True if strict else None)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        problem = f"{kind} '{location}': {first['msg']}"
        found, hint = _found(first)
        line = _line_of(raw, first["loc"], lines)
        if found:
            problem += f", found {found}" + (f" at line {line}" if line else "")
        elif line:
            problem += f" (line {line})"
        if hint:
            problem += f"; {hint}"
        raise InputError(problem, file=shown, more=error.error_count() - 1) from None


def _found(error: dict) -> tuple[str, str]:
    """What a pydantic error found, as a user wrote it, and a hint when YAML read it otherwise."""
    value = error.get("input")
    if error["type"] in ("missing", "extra_forbidden", "value_error", "assertion_error") \
            or isinstance(value, (dict, list, tuple)):
        return "", ""  # nothing to show, or the message says what it found
    if isinstance(value, bool):
        return str(value).lower(), "YAML reads yes, no, on and off (unquoted) as true or false"
    if value is None:
        return "nothing (an empty value)", ""
    if hasattr(value, "isoformat"):  # YAML reads 2026-01-31 (unquoted) as a date
        return value.isoformat(), "YAML reads an unquoted YYYY-MM-DD as a date: quote it to keep it as text"
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    number_expected = error["type"] in ("int_type", "int_parsing", "float_type", "float_parsing")
    looks_like_a_number = re.fullmatch(r"\s*[-+]?\d[\d_]*(\.\d*)?([eE][-+]?\d+)?\s*", str(value))
    if isinstance(value, str) and number_expected and looks_like_a_number:
        return shown, "write a number without quotes"
    return shown, ""


def _line_of(raw, loc, lines: dict[int, dict]) -> int | None:
    """The line of the deepest key or entry of ``loc`` (a pydantic error's location) found in ``raw``."""
    line, node = None, raw
    for part in loc:
        known = lines.get(id(node), {})
        if isinstance(node, dict) and part in node:
            line, node = known.get(part, line), node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            line, node = known.get(part, line), node[part]
        else:
            break
    return line


# --------------------------------------------------------------------------------------
# Opening inputs: only regular files, and archives only after their members are checked.

MEMBER_LIMIT = 200 * 2**20  # bytes one archive member may inflate to
ARCHIVE_LIMIT = 2**30  # bytes all the members read from one archive may inflate to, together
_CHUNK = 1 << 20
_READ_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)
_OTHER_METHODS = {1: "Shrink", 6: "Implode", 9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "XZ",
                  98: "PPMd", 99: "WinZip AES encryption"}


def _kind_of(mode: int) -> str | None:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device (character file)"),
             (stat.S_ISBLK, "a device (block file)"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def check_regular_file(path: Path, shown=None, *, missing: str = "file not found") -> os.stat_result:
    """The status of ``path`` if it is a regular file (a symbolic link is followed); anything
    else - missing, a folder, a named pipe, a device - is one InputError, raised before a
    single byte is read (reading a pipe waits forever; reading a device never ends)."""
    from workbench.errors import InputError

    shown = shown or str(path)
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(missing, file=shown) from None
    except OSError as error:
        raise InputError(f"the file cannot be read ({error.strerror or error})", file=shown) from None
    kind = _kind_of(status.st_mode)
    if kind is not None:
        raise InputError(f"expected a regular file, found {kind}", file=shown)
    return status


def open_input(path: Path, shown=None, *, missing: str = "file not found") -> BinaryIO:
    """Open an input file for reading in binary, refusing anything but a regular file.

    The file is opened without blocking and checked again once open, so a named pipe put in
    the place of a file is refused, not waited on, even if it appears after the first check."""
    from workbench.errors import InputError

    shown = shown or str(path)
    check_regular_file(path, shown, missing=missing)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(missing, file=shown) from None
    except OSError as error:
        raise InputError(f"the file cannot be read ({error.strerror or error})", file=shown) from None
    kind = _kind_of(os.fstat(descriptor).st_mode)
    if kind is not None:
        os.close(descriptor)
        raise InputError(f"expected a regular file, found {kind}", file=shown)
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_input_bytes(path: Path, shown=None, *, missing: str = "file not found") -> bytes:
    """The bytes of an input file (a regular file only; see :func:`open_input`)."""
    with open_input(path, shown, missing=missing) as handle:
        return handle.read()


def read_input_text(path: Path, shown=None, *, missing: str = "file not found") -> str:
    """The UTF-8 text of an input file such as a YAML file (a byte-order mark is dropped)."""
    from workbench.errors import InputError

    data = read_input_bytes(path, shown, missing=missing)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(
            f"line {line}: expected UTF-8 text, found the byte 0x{data[error.start]:02X}; save the file as UTF-8",
            file=shown or str(path),
        ) from None


def _size(count: int) -> str:
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count:,} bytes"


class Archive:
    """A zip archive (a ``.qdpx`` project, an ``.xlsx`` workbook) whose members were checked
    when it was opened; see :func:`open_archive`. ``members`` maps each file's name (with
    ``/`` between folders) to its entry; :meth:`read` reads one within the size limits."""

    def __init__(self, archive: zipfile.ZipFile, handle: BinaryIO, shown: str, members: dict[str, zipfile.ZipInfo],
                 *, member_limit: int, total_limit: int) -> None:
        self.zip = archive
        self._handle = handle
        self.shown = shown
        self.members = members
        self.member_limit = member_limit
        self.total_limit = total_limit
        self._inflated = 0

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()
        self._handle.close()

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member's bytes, a block at a time; InputError past a size limit or for a damaged member."""
        from workbench.errors import InputError

        info = self.members[name]
        self._check_declared(name, info)
        read = 0
        try:
            with self.zip.open(info) as stream:
                while block := stream.read(_CHUNK):
                    read += len(block)
                    self._inflated += len(block)
                    if read > self.member_limit:
                        raise InputError(
                            f"archive member {name!r} inflates to more than {_size(self.member_limit)}; expected "
                            f"members of at most {_size(self.member_limit)} (refusing what may be a zip bomb)",
                            file=self.shown,
                        )
                    if self._inflated > self.total_limit:
                        raise InputError(
                            f"the archive's members inflate to more than {_size(self.total_limit)} together "
                            f"(reading {name!r}); expected at most {_size(self.total_limit)} (refusing what may be a "
                            "zip bomb)",
                            file=self.shown,
                        )
                    yield block
        except InputError:
            raise
        except _ZIP_ERRORS as error:
            raise self._damaged(name, error) from None

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))

    def _check_declared(self, name: str, info: zipfile.ZipInfo) -> None:
        from workbench.errors import InputError

        if info.file_size > self.member_limit:
            raise InputError(
                f"archive member {name!r} says it inflates to {_size(info.file_size)}; expected members of at "
                f"most {_size(self.member_limit)} (refusing what may be a zip bomb)",
                file=self.shown,
            )

    def _damaged(self, name: str, error: BaseException):
        from workbench.errors import InputError

        reason = str(error) or type(error).__name__
        if "CRC" in reason:
            reason = "its CRC check failed"
        return InputError(
            f"archive member {name!r} is damaged ({reason}); expected an intact archive - copy or export it again",
            file=self.shown,
        )


def open_archive(path: Path, shown=None, *, not_a_zip: str = "not a zip archive", verify: bool = False,
                 member_limit: int | None = None, total_limit: int | None = None) -> Archive:
    """Open a zip archive after checking every member's entry: refused - one InputError - are a
    file that is not a regular file or not a zip, an encrypted member, a compression method
    other than stored or deflated (the only ones inflated in bounded blocks), a name pointing
    outside the archive, and a name used twice (which copy to read would be a guess). Members
    are read through :meth:`Archive.read` or :meth:`Archive.chunks`, which refuse a member whose
    declared size is over ``member_limit`` before inflating it, enforce ``member_limit`` and
    ``total_limit`` (all members read, together) while inflating, and turn a failed CRC into an
    InputError.

    ``verify``, for an archive that another library will read in full (an ``.xlsx`` read by
    openpyxl): the declared sizes of all members are checked against both limits, then every
    member is read once (in blocks, keeping nothing) before this returns. Without it, a member
    never read (the video of a QDA project) is never refused for its size."""
    from workbench.errors import InputError

    shown = shown or str(path)
    member_limit = MEMBER_LIMIT if member_limit is None else member_limit
    total_limit = ARCHIVE_LIMIT if total_limit is None else total_limit
    handle = open_input(path, shown)
    try:
        archive = zipfile.ZipFile(handle)
    except _ZIP_ERRORS as error:
        handle.close()
        detail = "" if isinstance(error, zipfile.BadZipFile) else f" ({error})"
        raise InputError(not_a_zip + detail, file=shown) from None
    try:
        members = _checked_members(archive, shown, member_limit, total_limit if verify else None)
        checked = Archive(archive, handle, shown, members, member_limit=member_limit, total_limit=total_limit)
        if verify:
            for name in members:
                for _ in checked.chunks(name):
                    pass
            checked._inflated = 0
        return checked
    except BaseException:
        archive.close()
        handle.close()
        raise


def _checked_members(archive: zipfile.ZipFile, shown: str, member_limit: int,
                     total_limit: int | None) -> dict[str, zipfile.ZipInfo]:
    from workbench.errors import InputError

    members: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    declared = 0
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        member = PurePosixPath(name)
        if member.is_absolute() or ".." in member.parts or re.match(r"^[A-Za-z]:", name):
            raise InputError(
                f"archive member {info.filename!r} points outside the archive; refusing a file built to escape its "
                "folder",
                file=shown,
            )
        key = str(member) + ("/" if info.is_dir() else "")
        if key in seen:
            raise InputError(
                f"the archive holds two members named {str(member)!r}; expected each name once (which one to read "
                "would be a guess) - export the archive again",
                file=shown,
            )
        seen.add(key)
        if info.flag_bits & 0x41 or info.compress_type == 99:
            raise InputError(
                f"archive member {str(member)!r} is encrypted; expected an archive saved without a password",
                file=shown,
            )
        if info.compress_type not in _READ_METHODS:
            method = _OTHER_METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise InputError(
                f"archive member {str(member)!r} is compressed with {method}; expected stored or deflated members "
                "(ordinary zip compression) - save the archive again with ordinary compression",
                file=shown,
            )
        if info.is_dir():
            continue
        members[str(member)] = info
        if total_limit is None:
            continue  # members read one by one (a project's media are never read): each checked when read
        if info.file_size > member_limit:
            raise InputError(
                f"archive member {str(member)!r} says it inflates to {_size(info.file_size)}; expected members of "
                f"at most {_size(member_limit)} (refusing what may be a zip bomb)",
                file=shown,
            )
        declared += info.file_size
        if declared > total_limit:
            raise InputError(
                f"the archive's members say they inflate to more than {_size(total_limit)} together; expected at "
                f"most {_size(total_limit)} (refusing what may be a zip bomb)",
                file=shown,
            )
    return members
