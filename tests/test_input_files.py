"""Inputs the bad-input corpus cannot hold or only hints at: folders, named pipes and devices in
place of a file, damaged and hostile zip archives, other encodings, invisible characters and
very long cells. Each is refused with one InputError naming where (or read correctly) - never
a hang, a traceback or memory exhausted."""

from __future__ import annotations

import codecs
import csv
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import types
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from pydantic import BaseModel

from workbench.errors import InputError
from workbench.io import files
from workbench.io.files import (
    check_regular_file,
    open_archive,
    open_input,
    read_input_bytes,
    read_yaml_model,
    sha256_of,
)
from workbench.io.tables import check_columns, decode_file, header_rows_of, identifier, one_of, read_table, text

TABLE = "microsystem_id,name\nMS01,Clinique Sainte-Thérèse\nMS02,Centre de santé Côte-des-Neiges\nMS03,Ward 3\n"


class Settings(BaseModel):
    name: str = ""


def every_reader(path: Path) -> dict:
    """Each way an input file is opened: a CSV table, a YAML file, an archive, plain bytes."""
    return {
        "table": lambda: read_table(path),
        "header rows": lambda: header_rows_of(path, 3),
        "yaml": lambda: read_yaml_model(path, Settings),
        "archive": lambda: open_archive(path),
        "bytes": lambda: read_input_bytes(path),
        "hash": lambda: sha256_of(path),
    }


# --------------------------------------------------------------------------------------
# Not regular files.


def test_a_folder_is_refused_by_every_reader(tmp_path):
    folder = tmp_path / "survey.csv"
    folder.mkdir()
    for read in every_reader(folder).values():
        with pytest.raises(InputError, match=r"survey\.csv: expected a regular file, found a folder$"):
            read()


def test_a_missing_file_is_named(tmp_path):
    for read in every_reader(tmp_path / "gone.csv").values():
        with pytest.raises(InputError, match=r"gone\.csv: file not found$"):
            read()


@pytest.fixture
def pipe(tmp_path):
    """A named pipe nobody writes to; should a reader wait on it, a watchdog opens and closes it
    for writing after a while, so the test fails rather than hangs."""
    path = tmp_path / "responses.csv"
    os.mkfifo(path)
    stop = threading.Event()

    def watchdog():
        if not stop.wait(20):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()


def test_a_named_pipe_is_refused_at_once_by_every_reader(pipe):
    started = time.monotonic()
    for read in every_reader(pipe).values():
        with pytest.raises(InputError, match=r"responses\.csv: expected a regular file, found a named pipe$"):
            read()
    assert time.monotonic() - started < 10


def test_a_pipe_put_in_place_after_the_check_is_still_refused(pipe, monkeypatch):
    # open_input opens without blocking and checks the open file again: no window to swap a file for a pipe.
    monkeypatch.setattr(files, "check_regular_file", lambda *args, **kwargs: None)
    started = time.monotonic()
    with pytest.raises(InputError, match="found a named pipe"):
        open_input(pipe)
    assert time.monotonic() - started < 10


def test_a_device_is_refused_before_a_byte_is_read(tmp_path):
    """/dev/zero never ends: reading it would fill memory. Run in a child with a memory cap and a
    timeout, so a regression fails the test instead of the machine."""
    link = tmp_path / "survey.csv"
    link.symlink_to("/dev/zero")
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        from pydantic import BaseModel
        from workbench.errors import InputError
        from workbench.io.files import open_archive, read_input_bytes, read_yaml_model, sha256_of
        from workbench.io.tables import read_table

        class Settings(BaseModel):
            name: str = ""

        for read in (read_table, read_input_bytes, open_archive, sha256_of, lambda p: read_yaml_model(p, Settings)):
            for path in ("/dev/zero", {str(link)!r}):
                try:
                    read(path)
                except InputError as error:
                    print(error)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 10
    assert all(line.endswith("expected a regular file, found a device (character file)") for line in lines), lines
    assert check_regular_file(Path(__file__)).st_size > 0


# --------------------------------------------------------------------------------------
# Archives.


def make_zip(path: Path, members, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            with pytest.warns(UserWarning) if name in archive.namelist() else _nothing():
                archive.writestr(info, data)
    return path


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def patch_entry(path: Path, name: str, *, flags: int = 0, crc: int | None = None, size: int | None = None) -> None:
    """Change one member's flags, CRC or declared size, in the central directory and its local header."""
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    count, _, position = struct.unpack_from("<HII", data, end + 10)
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        if data[position + 46: position + 46 + name_length].decode() == name:
            local = struct.unpack_from("<I", data, position + 42)[0]
            for header, offset in ((position, 8), (local, 6)):
                old = struct.unpack_from("<H", data, header + offset)[0]
                struct.pack_into("<H", data, header + offset, old | flags)
                if crc is not None:
                    struct.pack_into("<I", data, header + offset + 8, crc)
                if size is not None:
                    struct.pack_into("<I", data, header + offset + 16, size)
        position += 46 + name_length + extra_length + comment_length
    path.write_bytes(bytes(data))


def test_an_encrypted_member_is_refused_before_reading(tmp_path):
    path = make_zip(tmp_path / "p.qdpx", [("project.qde", b"<Project/>"), ("sources/a.txt", b"text")])
    patch_entry(path, "sources/a.txt", flags=0x1)
    with pytest.raises(InputError, match=r"p\.qdpx: archive member 'sources/a\.txt' is encrypted"):
        open_archive(path)


@pytest.mark.parametrize("method, name", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")])
def test_compression_other_than_deflate_is_refused(tmp_path, method, name):
    # Only stored and deflated members are inflated in bounded blocks; a bzip2 block can inflate to gigabytes.
    path = make_zip(tmp_path / "book.xlsx", [("xl/workbook.xml", b"<workbook/>")], method)
    with pytest.raises(InputError, match=rf"archive member 'xl/workbook\.xml' is compressed with {name}; expected"):
        open_archive(path)


def test_a_failed_crc_is_an_input_error_when_read_and_when_verified(tmp_path):
    path = make_zip(tmp_path / "p.qdpx", [("project.qde", b"<Project/>" * 100)])
    patch_entry(path, "project.qde", crc=0x12345678)
    with open_archive(path) as archive:
        with pytest.raises(InputError, match=r"archive member 'project\.qde' is damaged \(its CRC check failed\)"):
            archive.read("project.qde")
    with pytest.raises(InputError, match="is damaged"):
        open_archive(path, verify=True)


def test_a_member_that_lies_about_its_size_is_damaged(tmp_path):
    path = make_zip(tmp_path / "p.qdpx", [("project.qde", b"x" * 50_000)])
    patch_entry(path, "project.qde", size=10)
    with open_archive(path) as archive, pytest.raises(InputError, match="'project.qde' is damaged"):
        archive.read("project.qde")


@pytest.mark.parametrize("names", [("a.txt", "a.txt"), ("sources/a.txt", "sources\\a.txt")])
def test_two_members_with_one_name_are_refused(tmp_path, names):
    path = make_zip(tmp_path / "p.qdpx", [(names[0], b"one"), (names[1], b"two")])
    with pytest.raises(InputError, match=r"the archive holds two members named '.*a\.txt'; expected each name once"):
        open_archive(path)


def test_a_member_with_a_windows_path_outside_the_archive_is_refused(tmp_path):
    path = make_zip(tmp_path / "p.qdpx", [("project.qde", b"<Project/>"), ("..\\..\\evil.txt", b"x")])
    with pytest.raises(InputError, match=r"points outside the archive"):
        open_archive(path)


def test_declared_sizes_are_checked_before_inflating(tmp_path):
    path = make_zip(tmp_path / "bomb.xlsx", [("a.xml", bytes(5000)), ("b.xml", bytes(900))])
    # Read lazily (a QDA project): a member is refused when it is to be read, not before.
    with open_archive(path, member_limit=1000) as archive:
        assert archive.read("b.xml") == bytes(900)
        with pytest.raises(InputError, match=r"'a\.xml' says it inflates to 5,000 bytes; expected members of at most"):
            archive.read("a.xml")
    # Read in full by another library (a workbook): refused at once.
    with pytest.raises(InputError, match=r"'a\.xml' says it inflates to 5,000 bytes"):
        open_archive(path, member_limit=1000, verify=True)
    with pytest.raises(InputError, match=r"members say they inflate to more than 5,500 bytes together"):
        open_archive(path, total_limit=5500, verify=True)


def test_limits_are_enforced_while_inflating(tmp_path, monkeypatch):
    path = make_zip(tmp_path / "bomb.qdpx", [("a.txt", bytes(3 * 2**20)), ("b.txt", bytes(3 * 2**20))])
    assert path.stat().st_size < 20_000  # a small zip bomb: 6 MB of zeros
    with open_archive(path, total_limit=4 * 2**20) as archive:
        archive.read("a.txt")
        with pytest.raises(InputError, match=r"members inflate to more than 4 MB together \(reading 'b\.txt'\)"):
            archive.read("b.txt")
    # Should a declared size be trusted wrongly, the count while inflating still stops the member.
    monkeypatch.setattr(files.Archive, "_check_declared", lambda *args: None)
    with open_archive(path, member_limit=2**20) as archive:
        with pytest.raises(InputError, match=r"archive member 'a\.txt' inflates to more than 1 MB"):
            archive.read("a.txt")


def test_not_a_zip_says_what_was_expected(tmp_path):
    path = tmp_path / "p.qdpx"
    path.write_text("respondent_id,role\n")
    with pytest.raises(InputError, match=r"p\.qdpx: not a REFI-QDA file$"):
        open_archive(path, not_a_zip="not a REFI-QDA file")


# --------------------------------------------------------------------------------------
# Encodings.


@pytest.mark.parametrize("encoding, mark", [
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("utf-16-be", b""),
    ("utf-8", codecs.BOM_UTF8), ("utf-32-le", codecs.BOM_UTF32_LE),
])
def test_unicode_files_are_read_as_written(tmp_path, encoding, mark):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(mark + TABLE.encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["microsystem_id", "name"]
    assert frame["name"].tolist() == ["Clinique Sainte-Thérèse", "Centre de santé Côte-des-Neiges", "Ward 3"]


def test_cut_utf16_is_refused_as_utf16_not_as_a_ragged_row(tmp_path):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + TABLE.encode("utf-16-le")[:-1])
    with pytest.raises(InputError, match=r"the file is UTF-16 text, but not valid UTF-16 here"):
        read_table(path)


def test_a_whole_windows_1252_file_is_still_read(tmp_path):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(TABLE.encode("cp1252"))
    assert read_table(path)["name"].iloc[1] == "Centre de santé Côte-des-Neiges"


def test_one_windows_1252_byte_in_utf8_is_refused_at_its_row_and_column(tmp_path):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(TABLE.encode("utf-8") + "MS04,Hôpital Saint-Jérôme\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"microsystems\.csv, row 5, column 'name': expected UTF-8 text, found the "
                                         r"byte 0xF4 \('ô' in Windows-1252\) in a file that is otherwise UTF-8"):
        read_table(path)
    # A byte-order mark says UTF-8 as clearly as an accent does.
    path.write_bytes(codecs.BOM_UTF8 + "microsystem_id,name\nMS01,Ward 1\nMS02,Unité\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"row 3, column 'name': expected UTF-8 text, found the byte 0xE9"):
        read_table(path)


def test_a_byte_that_is_neither_utf8_nor_windows_1252_is_named(tmp_path):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(b"microsystem_id,name\nMS01,Ward\x81 1\n")
    with pytest.raises(InputError, match=r"row 2, column 'name': expected UTF-8 or Windows-1252 text, found the byte "
                                         r"0x81, which is neither"):
        decode_file(path)


def test_a_nul_byte_is_refused_at_its_row(tmp_path):
    path = tmp_path / "microsystems.csv"
    path.write_bytes(b"microsystem_id,name\nMS01,Ward 1\nMS02,Wa\x00rd 2\nMS03,Ward 3\n")
    with pytest.raises(InputError, match=r"row 3, column 'name': expected text, found a NUL byte"):
        read_table(path)


def test_invisible_characters_in_identifiers_are_refused_and_shown_escaped():
    frame = pd.DataFrame({"microsystem_id": ["MS01", "MS02\u200b", "MS03\u200b"], "name": ["a", "b", "c"]})
    rules = [identifier("microsystem_id"), text("name")]
    with pytest.raises(InputError) as raised:
        check_columns(frame, rules, file="microsystems.csv")
    assert str(raised.value) == (
        "microsystems.csv, row 3, column 'microsystem_id': expected an identifier (letters, digits, '_', '.', '-') "
        "with no invisible characters, found 'MS02\\u200b' (U+200B zero width space; delete it and retype the value) "
        "(and 1 more problem in this file)"
    )
    codes = pd.DataFrame({"role": ["Nurse", "Nur\x07se"]})
    with pytest.raises(InputError, match=r"row 3, column 'role': .* found 'Nur\\x07se' \(U\+0007 a control character"):
        check_columns(codes, [one_of(["Nurse"], name="role")], file="survey.csv")


def test_identifiers_are_compared_in_one_unicode_form():
    composed, decomposed = "Infirmi\u00e8re", "Infirmie\u0300re"
    frame = pd.DataFrame({"role": [decomposed, composed], "note": [decomposed, decomposed]})
    checked = check_columns(frame, [one_of([composed], name="role"), text("note")], file="survey.csv")
    assert checked["role"].tolist() == [composed, composed]
    assert checked["note"].tolist() == [decomposed, decomposed]  # free text is kept as written
    both = check_columns(frame, [one_of([decomposed], name="role")], file="survey.csv")
    assert both["role"].tolist() == [composed, composed]


def test_an_invisible_character_in_a_header_is_shown(tmp_path):
    frame = pd.DataFrame({"microsystem_id\u200b": ["MS01"]})
    with pytest.raises(InputError, match=r"found 'microsystem_id\\u200b' instead - rename it"):
        check_columns(frame, [identifier("microsystem_id")], file="microsystems.csv")


# --------------------------------------------------------------------------------------
# Long cells.


@pytest.mark.parametrize("blank_line", [False, True])
def test_a_cell_longer_than_the_csv_modules_default_limit_is_read(tmp_path, blank_line):
    long = "word " * 60_000  # 300,000 characters
    path = tmp_path / "codings.csv"
    path.write_text(f'segment_id,excerpt\nSEG1,"{long}"\n' + ("\n" if blank_line else "") + "SEG2,short\n")
    frame = read_table(path)
    assert frame["excerpt"].tolist() == [long, "short"]


def test_a_cell_over_the_limit_is_one_line_naming_its_row(tmp_path):
    path = tmp_path / "codings.csv"
    path.write_text('segment_id,excerpt\nSEG1,short\n\nSEG2,"' + "x" * 5000 + '"\n')
    limit = csv.field_size_limit()
    csv.field_size_limit(1000)
    try:
        with pytest.raises(InputError, match=r"codings\.csv, row 4: a cell holds more than 1,000 characters"):
            read_table(path)
    finally:
        csv.field_size_limit(limit)


# --------------------------------------------------------------------------------------
# Excel formulas.


def test_a_formula_without_a_stored_value_is_refused_at_its_cell(tmp_path):
    from openpyxl import Workbook

    from workbench.io.survey_exports import _excel_frame

    book = Workbook()
    sheet = book.active
    sheet.title = "My answers"
    sheet.append(["Respondent", "Level"])
    sheet.append(["R1", 2])
    sheet.append(["R2", "=B2+1"])  # openpyxl writes the formula and never its value
    path = tmp_path / "answers.xlsx"
    book.save(path)
    mapping = types.SimpleNamespace(sheet="My answers")
    with pytest.raises(InputError) as raised:
        _excel_frame(path, "answers.xlsx", mapping)
    assert str(raised.value) == (
        "answers.xlsx, row 3, column 'Level': cell 'My answers'!B3 holds a formula (=B2+1) without a stored value; "
        "expected the value Excel stores with every formula - open the workbook in Excel or LibreOffice and save it "
        "again"
    )
    sheet["B3"] = 3
    book.save(path)
    assert _excel_frame(path, "answers.xlsx", mapping).frame["Level"].tolist() == ["2", "3"]


def test_a_workbook_with_a_damaged_member_is_one_line(tmp_path):
    from openpyxl import Workbook

    from workbench.io.survey_exports import _excel_frame

    path = tmp_path / "answers.xlsx"
    Workbook().save(path)
    patch_entry(path, "xl/styles.xml", crc=0)
    with pytest.raises(InputError, match=r"answers\.xlsx: archive member 'xl/styles\.xml' is damaged"):
        _excel_frame(path, "answers.xlsx", types.SimpleNamespace(sheet=None))
