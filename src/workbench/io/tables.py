"""Reading delimited text tables strictly, and checking them cell by cell.

Every cell is read as text so nothing is guessed (no "NA" turned into a missing value,
no leading zeros lost); each column is then checked against a rule that says in words
what it expects. Any problem becomes one :class:`~workbench.errors.InputError` naming the
file, the spreadsheet row (the header is row 1), the column and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from workbench.errors import InputError
from workbench.io.files import open_input, read_input_bytes

__all__ = [
    "ENCODINGS", "FIELD_LIMIT", "IDENTIFIER", "ColumnRule", "check_columns", "code_type", "decode_file", "from_codes",
    "has_repeats", "header_rows_of", "identifier", "iso_date", "number", "one_of", "read_table", "recode",
    "release_memory", "text",
]

ENCODINGS = ("utf-8-sig", "utf-16", "cp1252")  # Excel on Windows saves "CSV" as cp1252 unless told otherwise
FIELD_LIMIT = 2**24  # characters one cell may hold (the csv module's default, 131,072, cuts long excerpts)
csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))

# A character sequence that is valid UTF-8 and not ASCII: a file holding one is UTF-8, not Windows-1252.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# Characters no one can see in a cell: controls, zero-width and direction marks, soft hyphens, byte-order marks.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\xad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


@dataclass(frozen=True)
class ColumnRule:
    """What one column must hold. ``valid`` is vectorised: text Series in, boolean Series out."""

    name: str
    expected: str
    valid: Callable[[pd.Series], pd.Series] | None = None
    allow_empty: bool = False
    unique: bool = False
    key: bool = False  # an identifier or code: normalised to NFC, and refused with invisible characters in it


def one_of(values, expected: str | None = None, allow_empty: bool = False, *, name: str) -> ColumnRule:
    allowed = list(dict.fromkeys(unicodedata.normalize("NFC", str(v)) for v in values))
    shown = ", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else "")
    return ColumnRule(name, expected or f"one of {shown}", lambda s: s.isin(allowed), allow_empty, key=True)


IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def identifier(name: str, *, unique: bool = False) -> ColumnRule:
    return ColumnRule(
        name,
        "an identifier (letters, digits, '_', '.', '-')",
        lambda s: s.str.fullmatch(IDENTIFIER.pattern).fillna(False).astype(bool),
        unique=unique,
        key=True,
    )


def text(name: str, *, allow_empty: bool = False) -> ColumnRule:
    return ColumnRule(name, "some text", None, allow_empty)


def number(
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    allow_empty: bool = False,
) -> ColumnRule:
    def valid(series: pd.Series) -> pd.Series:
        values = pd.to_numeric(series, errors="coerce")
        ok = values.notna() & values.abs().lt(float("inf"))
        if integer:
            ok &= values.mod(1).eq(0)
        if minimum is not None:
            ok &= values.ge(minimum)
        if maximum is not None:
            ok &= values.le(maximum)
        return ok.fillna(False).astype(bool)

    kind = "a whole number" if integer else "a number"
    bounds = ""
    if minimum is not None and maximum is not None:
        bounds = f" from {minimum:g} to {maximum:g}"
    elif minimum is not None:
        bounds = f" of at least {minimum:g}"
    elif maximum is not None:
        bounds = f" of at most {maximum:g}"
    return ColumnRule(name, kind + bounds, valid, allow_empty)


def iso_date(name: str, *, with_time: bool = False, allow_empty: bool = False) -> ColumnRule:
    pattern = r"\d{4}-\d{2}-\d{2}" + (r"([ T]\d{2}:\d{2}(:\d{2})?)?" if with_time else "")

    def valid(series: pd.Series) -> pd.Series:
        shaped = series.str.fullmatch(pattern).fillna(False).astype(bool)
        return shaped & _parses_as_dates(series.where(shaped))

    expected = "a date written YYYY-MM-DD" + (" (optionally with a time)" if with_time else "")
    return ColumnRule(name, expected, valid, allow_empty)


_DATE_BLOCK = 1 << 17  # cells parsed at a time: pandas parses text cells as Python objects


def _parses_as_dates(values: pd.Series) -> pd.Series:
    """Where ``pd.to_datetime(values, errors="coerce", format="ISO8601")`` finds a date, parsed a
    block of rows at a time so that a column of millions is never held as Python objects at once."""
    parsed = np.zeros(len(values), dtype=bool)
    for start in range(0, len(values), _DATE_BLOCK):
        block = values.iloc[start:start + _DATE_BLOCK]
        parsed[start:start + len(block)] = pd.to_datetime(block, errors="coerce", format="ISO8601").notna().to_numpy()
    return pd.Series(parsed, index=values.index)


def decode_file(path: Path, *, label=None) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark), UTF-16 (with a byte-order
    mark, or without one when its NUL bytes show it), else Windows-1252 - for a file that
    holds no UTF-8 character at all. A file that is UTF-8 but for a few bytes mixes two
    encodings: it is refused at the row and column of the first bad byte, rather than read
    as Windows-1252 with every accented letter garbled."""
    path = Path(path)
    shown = label or path
    raw = read_input_bytes(path, shown)  # a regular file only: never a folder, a pipe or a device
    text = _decode(raw, shown)
    del raw
    if not text or text.isspace():  # (not text.strip(), without a copy of the whole text)
        raise InputError("the file is empty; expected a header row and at least one data row", file=shown)
    return text


def _decode(raw: bytes, shown) -> str:
    for mark, encoding, name in ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                                 (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if raw.startswith(mark):
            return _decode_as(raw, encoding, name, shown)
    if b"\x00" in raw:
        sample = raw[:4096]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even * 8 < odd:
            return _decode_as(raw, "utf-16-le", "UTF-16 (little-endian, without a byte-order mark)", shown)
        if even > len(sample) // 4 and odd * 8 < even:
            return _decode_as(raw, "utf-16-be", "UTF-16 (big-endian, without a byte-order mark)", shown)
        position = raw.index(b"\x00")
        row, column = _place(raw[:position].decode("utf-8", errors="replace"))
        raise InputError(
            "expected text, found a NUL byte (is this a spreadsheet or another binary file saved with a .csv name?)",
            file=shown, row=row, column=column,
        )
    body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = error.start
    if body is raw and not _UTF8_SEQUENCE.search(raw):
        try:
            return raw.decode("cp1252")  # a whole file of Windows-1252: Excel's "CSV" on Windows
        except UnicodeDecodeError as error:
            bad = error.start
            row, column = _place(raw[:bad].decode("cp1252", errors="replace"))
            raise InputError(
                f"expected UTF-8 or Windows-1252 text, found the byte 0x{raw[bad]:02X}, which is neither; "
                "save the file as 'CSV UTF-8'",
                file=shown, row=row, column=column,
            ) from None
    row, column = _place(body[:bad].decode("utf-8"))
    byte = body[bad]
    meant = bytes([byte]).decode("cp1252", errors="replace")
    guess = f" ({meant!r} in Windows-1252)" if meant != "\ufffd" else ""
    raise InputError(
        f"expected UTF-8 text, found the byte 0x{byte:02X}{guess} in a file that is otherwise UTF-8: the file mixes "
        "two encodings; retype that character, or save the file again as 'CSV UTF-8'",
        file=shown, row=row, column=column,
    )


def _decode_as(raw: bytes, encoding: str, name: str, shown) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        row, column = _place(raw[: error.start - error.start % 2].decode(encoding, errors="replace").lstrip("\ufeff"))
        raise InputError(
            f"the file is {name} text, but not valid {name} here; expected a whole file in one encoding "
            "(best: save it as 'CSV UTF-8')",
            file=shown, row=row, column=column,
        ) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        row, column = _place(text[: text.index("\x00")])
        raise InputError(f"the file looks like {name} text but holds a NUL character; expected text",
                         file=shown, row=row, column=column)
    return text


def _place(before: str) -> tuple[int, str | None]:
    """The spreadsheet row and the column of the character that follows ``before`` (a file's start)."""
    try:
        rows = list(csv.reader(io.StringIO(before + "x", newline="")))
    except csv.Error:
        return before.count("\n") + 1, None
    row = len(rows)
    position = len(rows[-1]) - 1
    column = rows[0][position].strip() if row > 1 and 0 <= position < len(rows[0]) else None
    return row, column


def read_table(path: Path, *, label=None, header_rows: int = 1, number_repeated_headers: bool = False,
               categorical: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV file with every cell as text, empty cells as ``""``.

    The first row names the columns; ``header_rows - 1`` further rows of header (such as
    a Qualtrics export's question texts and import ids) are skipped. Quoted cells may
    hold commas and line breaks. Raises InputError for a missing or empty file, a
    header-only file, an undecodable file and a row with more or fewer cells than the header.

    Memory: a UTF-8 file (most of them, and the large ones) is checked as it streams past and
    then parsed by Arrow straight from the file, so neither its bytes nor its text are ever held
    whole; the frame's own columns are most of the peak. Other encodings, and files the careful
    reader must read (blank lines, rows of the wrong length), are decoded whole first.

    The columns named in ``categorical`` (codes that repeat: units, roles, answer codes) come as
    pandas ``category`` columns of text, each cell a small integer code: Arrow reads them
    dictionary-encoded, so a column of millions of cells never exists as text. The cells are the
    same; :func:`check_columns` checks such columns through their few distinct values.
    """
    shown = label or path
    categorical = frozenset(categorical)
    fast, tried = _read_fast_utf8(Path(path), shown, header_rows, number_repeated_headers, categorical)
    if fast is not None:
        return fast
    content = decode_file(path, label=label)
    if not tried:  # text that was not plain UTF-8 (Windows-1252, UTF-16): Arrow may still read it
        fast = _read_fast(content, shown, header_rows, number_repeated_headers, categorical)
        if fast is not None:
            return fast
    rows = _rows(content, shown)
    del content
    header = rows[0]
    # Blank lines are skipped but still counted, so row numbers stay those a spreadsheet shows:
    # the index of each data row is its row number minus (header_rows + 1).
    numbered = [(number, row) for number, row in enumerate(rows[header_rows:], start=header_rows + 1) if row]
    for number, row in numbered:
        if len(row) != len(header):
            raise InputError(
                f"the row has {len(row)} cells but the header has {len(header)}; "
                "expected one cell per column (check for an unquoted comma)",
                file=shown,
                row=number,
            )
    if not numbered:
        raise InputError("the file has a header row but no data rows", file=shown)
    columns = _column_names(header, number_repeated_headers, shown)
    data = [row for _, row in numbered]
    index = [number - header_rows - 1 for number, _ in numbered]
    frame = pd.DataFrame(data, columns=columns, dtype=str, index=index)
    for position, column in enumerate(frame.columns):
        if column in categorical:
            frame.isetitem(position, frame.iloc[:, position].astype("category"))
    return frame


def _column_names(header: list[str], number_repeated_headers: bool, shown) -> list[str]:
    """The header's names, stripped; a name given twice is an InputError, or numbered
    (``name``, ``name.1``, ...) with ``number_repeated_headers``."""
    columns = [column.strip() for column in header]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated and number_repeated_headers:  # REDCap's labelled export repeats "Complete?" once per form
        seen: dict[str, int] = {}
        for position, column in enumerate(columns):
            if column in duplicated:
                seen[column] = seen.get(column, 0) + 1
                columns[position] = column if seen[column] == 1 else f"{column}.{seen[column] - 1}"
    elif duplicated:
        raise InputError(f"the header names column '{duplicated[0]}' more than once", file=shown, row=1)
    return columns


_SCAN_BLOCK = 1 << 22  # bytes read at a time when a file is checked as it streams past
_NEWLINE_PAIR = re.compile(r"\n[ \t\r]*(?=\n)")  # a line holding nothing but spaces, tabs and CRs: its two ends
_NOT_NEWLINE = re.compile(r"[^\r\n]")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_SPACES = re.compile(r"[ \t\r]*")


class _BlankLineScan:
    """Whether text given piece by piece has a blank line between two lines that are not blank:
    what ``re.search(r"\n[ \t\r]*\n", text.strip("\r\n"))`` says of the whole text, without
    holding it. A blank line counts when a character other than CR and LF comes before it and
    another after it; only a line break and spaces, tabs or CRs are carried from one piece to the next."""

    def __init__(self) -> None:
        self.found = False
        self._before = False  # a character other than CR and LF ahead of the carried text
        self._pending = False  # a blank line that needs such a character after it
        self._carry = ""

    def feed(self, piece: str) -> None:
        if self.found:
            return
        text = self._carry + piece
        first = _NOT_NEWLINE.search(text)
        if self._pending and first is not None:
            self.found = True
            return
        last = len(text.rstrip("\r\n")) - 1  # -1: nothing but line breaks
        for pair in _NEWLINE_PAIR.finditer(text):
            start, end = pair.start(), pair.end() + 1
            if not (self._before or (first is not None and first.start() < start)):
                continue
            if last >= end:
                self.found = True
                return
            self._pending = True  # nothing but line breaks after it so far
            break
        newline = text.rfind("\n")
        self._carry = text[newline:] if newline >= 0 and _SPACES.fullmatch(text, newline + 1) else ""
        self._before = self._before or (first is not None and first.start() < len(text) - len(self._carry))


def _scan_utf8(handle) -> tuple[int, bool] | None:
    """Stream a file once: ``(length of its UTF-8 byte-order mark, whether it has a blank line)``
    when it is UTF-8 text holding more than whitespace and no NUL character; None for anything
    else (another encoding, a stray byte, a NUL, an empty file), which :func:`decode_file` reads
    whole and explains."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    blank = _BlankLineScan()
    first, something = True, False
    try:
        while block := handle.read(_SCAN_BLOCK):
            if b"\x00" in block:
                return None
            if first:
                mark = len(codecs.BOM_UTF8) if block.startswith(codecs.BOM_UTF8) else 0
                first = False
            piece = decoder.decode(block)
            something = something or not (piece == "" or piece.isspace())
            blank.feed(piece)
        blank.feed(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return None
    return (mark, blank.found) if something else None


def _read_fast_utf8(path: Path, shown, header_rows: int, number_repeated_headers: bool,
                    categorical: frozenset[str] = frozenset()):
    """``(frame, tried)``: the frame Arrow reads straight from a well-formed UTF-8 file, or None
    (``tried`` says whether the file was plain UTF-8, so that reading its text again with Arrow
    would fail the same way)."""
    with open_input(path, shown) as handle:  # a regular file only: never a folder, a pipe or a device
        scanned = _scan_utf8(handle)
        if scanned is None:
            return None, False
        mark, blank = scanned
        if blank:
            return None, True
        handle.seek(mark)
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        try:
            header = next(csv.reader(text))
        except (StopIteration, csv.Error):
            return None, True
        finally:
            text.detach()
        handle.seek(mark)
        return _arrow_frame(handle, header, shown, header_rows, number_repeated_headers, categorical), True


def _read_fast(content: str, shown, header_rows: int, number_repeated_headers: bool,
               categorical: frozenset[str] = frozenset()) -> pd.DataFrame | None:
    """Arrow's parser on decoded text (a file that was not plain UTF-8); None when the careful
    reader is needed (see :func:`_arrow_frame`; blank lines)."""
    start = _NOT_NEWLINE.search(content)
    end = len(content)
    while end and content[end - 1] in "\r\n":
        end -= 1
    if start is None or _BLANK_LINE.search(content, start.start(), end):
        return None
    try:
        header = next(csv.reader(io.StringIO(content, newline="")))
    except (StopIteration, csv.Error):
        return None
    return _arrow_frame(io.BytesIO(content.encode("utf-8")), header, shown, header_rows, number_repeated_headers,
                        categorical)


def _arrow_frame(source, header: list[str], shown, header_rows: int, number_repeated_headers: bool,
                 categorical: frozenset[str] = frozenset()) -> pd.DataFrame | None:
    """Arrow's multi-threaded CSV parser for well-formed files (most of them, and the large
    ones); None when the careful reader is needed to keep row numbers or to say exactly what
    is wrong (rows of the wrong length, no data rows, a header Arrow reads otherwise).
    Columns are read as ``large_string``, what pandas' ``str`` columns hold, so that the frame
    shares Arrow's buffers instead of copying them. A name given twice is numbered or refused
    (:func:`_column_names`) once the rest of the file is known to be well formed, which is when
    the careful reader would refuse it.

    With ``categorical`` columns the file is read a block at a time: those columns are read
    dictionary-encoded and each block's indices become the categorical's small codes at once, so
    neither their text nor Arrow's 32-bit indices for the whole file are ever held.

    Arrow, unlike pandas' C parser, refuses a row with too few cells instead of padding it.
    """
    import pyarrow
    from pyarrow import csv as arrow_csv

    text = pyarrow.large_string()
    coded = [name.strip() in categorical for name in header]
    options = {
        "read_options": arrow_csv.ReadOptions(skip_rows_after_names=header_rows - 1),
        "parse_options": arrow_csv.ParseOptions(newlines_in_values=True),
        "convert_options": arrow_csv.ConvertOptions(
            column_types={name: pyarrow.dictionary(pyarrow.int32(), text) if code else text
                          for name, code in zip(header, coded)},
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    }
    try:
        if not any(coded):
            table = arrow_csv.read_csv(source, **options)
            if table.num_rows == 0 or table.column_names != header:
                return None
        else:
            # (the system allocator: Arrow's own keeps what the blocks took after they are let go)
            reader = arrow_csv.open_csv(source, **options, memory_pool=pyarrow.system_memory_pool())
            if reader.schema.names != header:
                return None
            columns: list = [_CodedColumn() if code else [] for code in coded]
            rows = 0
            for batch in reader:
                rows += batch.num_rows
                for column, array in zip(columns, batch.columns):
                    column.append(array)
                del batch, array
            if rows == 0:
                return None
    except (pyarrow.ArrowInvalid, ValueError):
        return None
    names = _column_names(header, number_repeated_headers, shown)
    if not any(coded):
        frame = table.to_pandas()  # no copy: the columns keep Arrow's buffers
    else:
        as_text = pd.StringDtype("pyarrow", na_value=np.nan)  # "str", what to_pandas gives
        frame = pd.DataFrame({
            position: column.categorical(rows) if isinstance(column, _CodedColumn)
            else pd.arrays.ArrowStringArray(pyarrow.chunked_array(column, type=text), dtype=as_text)
            for position, column in enumerate(columns)
        }, copy=False)
    frame.columns = names
    return frame


def release_memory() -> None:
    """Give the system back the memory freed so far that the allocators still hold: glibc's heap
    (``malloc_trim``; nothing elsewhere) and Arrow's own allocator. Called between the steps of a
    large load, so that each step grows from the memory in use rather than from the most the
    steps before it held (blocks of a few hundred kilobytes, freed, are otherwise kept)."""
    import ctypes

    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not glibc (macOS, Windows, musl)
        pass


def code_type(count: int) -> type:
    """The integer type of pandas' codes for ``count`` categories (codes made in it are never copied)."""
    for kind in (np.int8, np.int16, np.int32):
        if count < np.iinfo(kind).max:
            return kind
    return np.int64  # pragma: no cover


def from_codes(codes: np.ndarray, categories, *, distinct: bool = False) -> pd.Categorical:
    """A categorical of text from its codes (-1: missing) and categories, the codes not copied when
    they are of :func:`code_type` already. ``distinct``: the categories are known to be distinct
    (ids checked by :func:`has_repeats`), and pandas does not check them again: its check holds
    each category as a Python string for as long as the column lives (60 bytes a respondent)."""
    categories = pd.Index(categories, dtype="str")
    codes = codes.astype(code_type(len(categories)), copy=False)
    unchecked = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # (pandas' own, for categories it made)
    if distinct and unchecked is not None:
        return pd.Categorical.from_codes(codes, dtype=unchecked(categories, False), validate=False)
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


class _CodedColumn:
    """A dictionary-encoded Arrow column met a block at a time (each block has its own
    dictionary), kept as codes into the values met so far; then one pandas categorical."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.parts: list[np.ndarray] = []

    def append(self, array) -> None:
        codes = [self.values.setdefault(value, len(self.values)) for value in array.dictionary.to_pylist()]
        indices = array.indices.to_numpy(zero_copy_only=False)  # no missing cells: strings_can_be_null=False
        self.parts.append(np.array(codes, dtype=code_type(len(self.values)))[indices])

    def categorical(self, rows: int) -> pd.Categorical:
        codes = np.empty(rows, dtype=code_type(len(self.values)))
        start = 0
        while self.parts:
            part = self.parts.pop(0)
            codes[start:start + len(part)] = part
            start += len(part)
        return from_codes(codes, list(self.values))


def header_rows_of(path: Path, count: int, *, label=None) -> list[list[str]]:
    """The first ``count`` rows of a CSV file (for exports with several header rows)."""
    shown = label or path
    with open_input(Path(path), shown) as handle:  # a UTF-8 file is checked whole but only its first rows read
        scanned = _scan_utf8(handle)
        if scanned is not None:
            handle.seek(scanned[0])
            text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            try:
                return _rows(text, shown, count)
            finally:
                text.detach()
    return _rows(decode_file(path, label=label), shown, count)


def _rows(content, shown, count: int | None = None) -> list[list[str]]:
    """The rows of CSV text or a text stream (all, or the first ``count``); a row the csv module cannot
    read is an InputError."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(content, newline="") if isinstance(content, str) else content)
    try:
        for row in reader:
            rows.append(row)
            if count is not None and len(rows) >= count:
                break
    except csv.Error as error:
        problem = str(error)
        if "field limit" in problem:
            problem = f"a cell holds more than {csv.field_size_limit():,} characters; expected cells of at most that"
        else:
            problem = f"cannot read this row as CSV ({problem})"
        raise InputError(problem, file=shown, row=len(rows) + 1) from None
    return rows


def check_columns(
    frame: pd.DataFrame,
    rules: list[ColumnRule],
    *,
    file,
    extra_allowed: bool = True,
    first_row: int = 2,
    header_row: int = 1,
) -> pd.DataFrame:
    """Check ``frame`` (as read by :func:`read_table`) against ``rules``; return it with cells stripped.

    ``first_row`` is the row number the first data row has in the file as a person sees
    it (2 below a single header; 4 below a Qualtrics export's three header rows).
    """
    missing = [rule.name for rule in rules if rule.name not in frame.columns]
    if missing:
        name = missing[0]
        near = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
        hint = (f"; found {_escaped(near[0])} instead - rename it" if near
                else f"; the file has columns {list(frame.columns)}")
        if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
            hint = "; the file seems to use ';' between cells - save it as comma-separated CSV"
        elif len(frame.columns) == 1 and "\t" in str(frame.columns[0]):
            hint = "; the file seems to use tabs between cells (Excel's 'Unicode Text') - save it as 'CSV UTF-8'"
        raise InputError(
            f"required column is missing{hint}", file=file, row=header_row, column=name, more=len(missing) - 1
        )
    if not extra_allowed:
        known = {rule.name for rule in rules}
        extra = [c for c in frame.columns if c not in known]
        if extra:
            raise InputError(
                f"unexpected column; expected only {sorted(known)}", file=file, row=header_row, column=extra[0]
            )
    stripped = _stripped(frame)
    _check_keys(stripped, [rule for rule in rules if rule.key or rule.name.endswith("_id")], file, first_row)
    # pandera's uniqueness check hashes the column as Python objects (a gigabyte for a few million
    # ids): it runs only when a cheaper count shows a value repeated, to find and name the repeat.
    unique = {rule.name: rule.unique and has_repeats(stripped[rule.name]) for rule in rules}
    coded = {rule.name: isinstance(stripped[rule.name].dtype, pd.CategoricalDtype) for rule in rules}
    schema = pa.DataFrameSchema(
        {rule.name: _pandera_column(rule, unique=unique[rule.name], coded=coded[rule.name]) for rule in rules},
        strict=False)
    try:
        schema.validate(stripped, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise _first_problem(errors, stripped, rules, file, first_row) from None
    return stripped


def _stripped(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every cell stripped of surrounding whitespace; a column with nothing to strip
    is the input's own (no copy of a large file's columns just to find them unchanged)."""
    stripped = frame.copy(deep=False)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):  # its distinct values stripped, not its cells
            categories = column.cat.categories
            trimmed_values = categories.str.strip()
            if not trimmed_values.equals(categories):
                stripped.isetitem(position, _recoded_categories(column, trimmed_values))
            continue
        if _strips(column):
            stripped.isetitem(position, column.str.strip())
    return stripped


_COMPARE_BLOCK = 1 << 14  # cells of an Arrow text column trimmed or compared at a time


def _strips(column: pd.Series) -> bool:
    """Whether ``column.str.strip()`` would change a cell: for an Arrow column, a block of cells
    trimmed (as pandas trims them) and compared at a time, never a stripped copy of the whole column."""
    array = getattr(column.array, "_pa_array", None)
    if array is None or array.null_count:
        return not column.str.strip().equals(column)
    import pyarrow
    import pyarrow.compute as pc

    pool = pyarrow.system_memory_pool()  # let go when freed (Arrow's own allocator keeps it)
    for chunk in array.chunks:
        for start in range(0, len(chunk), _COMPARE_BLOCK):
            piece = chunk.slice(start, _COMPARE_BLOCK)
            if not pc.utf8_trim_whitespace(piece, memory_pool=pool).equals(piece):
                return True
    return False


def _recoded_categories(column: pd.Series, values) -> pd.Series:
    """A categorical column with each category replaced by its entry in ``values`` (one per
    category, in order; None: the cells become missing); categories that become equal are merged."""
    values = pd.Series(values, dtype="str")
    new_codes, categories = pd.factorize(values, use_na_sentinel=True)
    table = np.append(new_codes, -1)  # a missing cell (code -1) stays missing
    codes = column.array.codes
    recoded = pd.Categorical.from_codes(table[codes].astype(codes.dtype, copy=False),
                                        categories=pd.Index(categories, dtype="str"), validate=False)
    return pd.Series(recoded, index=column.index, name=column.name)


def has_repeats(values: pd.Series) -> bool:
    """Whether a value appears twice in the column. An Arrow column is sorted and each value compared
    with the next: no Python objects, and a fifth of the memory of Arrow's own hash table (the
    values are taken in sorted order a block at a time, so only the order is held whole)."""
    array = getattr(values.array, "_pa_array", None)
    if array is None or array.null_count or len(array) < 2:
        return bool(values.duplicated().any())
    import pyarrow
    import pyarrow.compute as pc

    pool = pyarrow.system_memory_pool()  # let go when freed (Arrow's own allocator keeps it)
    order = pc.sort_indices(array, memory_pool=pool).to_numpy().astype(np.int64, copy=False)
    for start in range(0, len(order) - 1, _COMPARE_BLOCK):
        ordered = _taken(array, order[start:start + _COMPARE_BLOCK + 1], pool)
        if pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1), memory_pool=pool)).as_py():
            return True
    return False


def _taken(array, indices: np.ndarray, pool):
    """``array.take(indices)`` for a chunked Arrow array, one take per chunk: Arrow's own take
    of a chunked array joins its chunks into one first (a copy of the whole column per call)."""
    import pyarrow
    import pyarrow.compute as pc

    if array.num_chunks == 1:
        return pc.take(array.chunk(0), indices, memory_pool=pool)
    starts = np.cumsum([0, *(len(chunk) for chunk in array.chunks)])
    chunk_of = np.searchsorted(starts, indices, side="right") - 1
    by_chunk = np.argsort(chunk_of, kind="stable")
    parts = [pc.take(array.chunk(chunk), indices[chunk_of == chunk] - starts[chunk], memory_pool=pool)
             for chunk in np.unique(chunk_of)]
    grouped = pyarrow.concat_arrays(parts, memory_pool=pool)  # by chunk, in order within each
    position = np.empty(len(indices), dtype=np.int64)
    position[by_chunk] = np.arange(len(indices))
    return pc.take(grouped, position, memory_pool=pool)


def _check_keys(frame: pd.DataFrame, rules: list[ColumnRule], file, first_row: int) -> None:
    """Identifiers and codes in place: each normalised to NFC (an accent typed as one character or
    as a letter and a combining mark is one value), and refused if it holds a character no one
    can see (a zero-width space, a control character), shown escaped with its row and column."""
    for rule in rules:
        values = frame[rule.name]
        coded = isinstance(values.dtype, pd.CategoricalDtype)
        distinct = pd.Series(values.cat.categories) if coded else values  # a coded column: its few values
        if not distinct.str.contains(r"[^\x20-\x7e]", regex=True).any():
            continue  # printable ASCII only: nothing to normalise, nothing hidden
        if coded:
            normalised = _nfc(distinct)
            if not normalised.equals(distinct):
                values = _recoded_categories(values, normalised)
            hidden = values.cat.codes.isin(np.flatnonzero(
                pd.Series(values.cat.categories).str.contains(_INVISIBLE.pattern, regex=True).to_numpy(dtype=bool)))
        else:
            values = _nfc(values)
            hidden = values.str.contains(_INVISIBLE.pattern, regex=True)
        frame[rule.name] = values
        if hidden.any():
            label = values.index[hidden.to_numpy()][0]
            value = values.loc[label]
            character = _INVISIBLE.search(value).group()
            name = unicodedata.name(character, "a control character")
            raise InputError(
                f"expected {rule.expected} with no invisible characters, found {_escaped(value)} "
                f"(U+{ord(character):04X} {name.lower()}; delete it and retype the value)",
                file=file, row=int(label) + first_row, column=rule.name, more=int(hidden.sum()) - 1,
            )


def _nfc(values: pd.Series) -> pd.Series:
    """Each value in Unicode's composed form (NFC). Only the distinct values that are not plain
    ASCII are normalised, each once: a column of a few million cells holds a handful of roles."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return values.map(lambda value: unicodedata.normalize("NFC", value))  # cells as Python objects already
    odd = values.str.contains(r"[^\x00-\x7f]", regex=True).to_numpy(dtype=bool)
    if not odd.any():
        return values
    positional = values.reset_index(drop=True)
    changed = positional[odd]
    forms = {value: unicodedata.normalize("NFC", value) for value in pd.unique(changed)}
    normalised = positional.mask(odd, changed.map(forms))
    normalised.index = values.index
    return normalised


def recode(values: pd.Series, codes: dict) -> pd.Series:
    """``values.map(codes)`` for a column of codes: each value replaced by its entry in ``codes`` (a
    value without one becomes missing). An Arrow text column is recoded block by block through its
    few distinct values, in Arrow, never as one Python object per cell: with the column it replaces
    let go, a recoded survey takes the memory its codes took. A categorical column of text (see
    :func:`read_table`) stays one, its categories recoded (those that become equal merged)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) and all(isinstance(code, str) for code in codes.values()):
        return _recoded_categories(values, [codes.get(value) for value in values.cat.categories])
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or \
            not all(isinstance(code, str) for code in codes.values()):
        return values.map(codes)
    import pyarrow

    blocks = []
    for block in values.array._pa_array.chunks:
        encoded = block.dictionary_encode()
        recoded = pyarrow.array([codes.get(value) for value in encoded.dictionary.to_pylist()],
                                type=pyarrow.large_string())
        blocks.append(recoded.take(encoded.indices))
    column = pyarrow.chunked_array(blocks, type=pyarrow.large_string())
    text = pd.StringDtype("pyarrow", na_value=np.nan)  # "str", as Series.map gives
    return pd.Series(pd.arrays.ArrowStringArray(column, dtype=text), index=values.index, name=values.name)


def _escaped(value: str) -> str:
    """``value`` quoted, with every invisible character written as its escape (``\\u200b``)."""
    return "'" + _INVISIBLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), value) + "'"


def _pandera_column(rule: ColumnRule, *, unique: bool | None = None, coded: bool = False) -> pa.Column:
    checks = []
    if not rule.allow_empty:
        checks.append(pa.Check(lambda s: s.ne(""), error="a value (the cell is empty)"))
    if rule.valid is not None:
        valid = rule.valid
        allow_empty = rule.allow_empty
        checks.append(pa.Check(lambda s: valid(s) | (s.eq("") if allow_empty else False), error=rule.expected))
    # A categorical column of text (read_table's ``categorical``) is checked as it is: its checks
    # are vectorised over its codes. Any other column must be text.
    return pa.Column(None if coded else str, checks=checks, unique=rule.unique if unique is None else unique,
                     nullable=False)


def _first_problem(
    errors: pa.errors.SchemaErrors, frame: pd.DataFrame, rules: list[ColumnRule], file, first_row: int
) -> InputError:
    cases = errors.failure_cases.copy()
    order = {rule.name: position for position, rule in enumerate(rules)}
    cases["_row"] = pd.to_numeric(cases["index"], errors="coerce")
    cases["_column_order"] = cases["column"].map(order)
    cases = cases.sort_values(["_row", "_column_order"], na_position="last")
    first = cases.iloc[0]
    column = first["column"]
    row = None if pd.isna(first["_row"]) else int(first["_row"]) + first_row
    found = first["failure_case"]
    check = str(first["check"])
    if "unique" in check:
        values = frame[column]
        # Row numbers come from index labels, which keep the file's order after any filtering.
        repeat = values.index[values.duplicated().to_numpy()][0]
        found = values.loc[repeat]
        earlier = int(values.index[values.eq(found).to_numpy()][0]) + first_row
        row = int(repeat) + first_row
        problem = f"expected each value to appear once, but {found!r} already appears at row {earlier}"
    elif check.startswith("a value"):
        problem = "expected a value, found an empty cell"
    else:
        problem = f"expected {check}, found {found!r}"
    is_unique_check = cases["check"].astype(str).str.contains("unique")
    repeats = sum(int(frame[name].duplicated().sum()) for name in cases.loc[is_unique_check, "column"].unique())
    problems = int((~is_unique_check).sum()) + repeats
    return InputError(problem, file=file, row=row, column=column, more=problems - 1)
