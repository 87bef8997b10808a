"""Writes the corpus files that are awkward to write by hand (archives with a damaged entry,
other encodings, very long cells, workbooks with formulas). Run from the checkout:
``.venv/bin/python tests/bad_inputs/make_cases.py``. The files it writes are committed; this
script only says how they were made. Not a test module (pytest collects ``test_*.py`` only)."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import struct
import warnings
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
DEMO = HERE.parents[1] / "data" / "raw" / "demo"
WHEN = (2026, 1, 1, 0, 0, 0)


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": wanted, for one case
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=WHEN)
                info.compress_type = method
                archive.writestr(info, data)
    return bytearray(buffer.getvalue())


def _patch(data: bytearray, name: str, *, flags: int = 0, method: int | None = None, crc: int | None = None,
           size: int | None = None) -> bytearray:
    """Change one member's entry, in the central directory and in its local header alike."""
    end = data.rindex(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HII", data, end + 10)
    position = start
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        entry = data[position + 46: position + 46 + name_length].decode()
        local = struct.unpack_from("<I", data, position + 42)[0]
        if entry == name:
            for header, offset in ((position, 8), (local, 6)):  # flags sit at 8 (central) and 6 (local)
                old_flags = struct.unpack_from("<H", data, header + offset)[0]
                struct.pack_into("<H", data, header + offset, old_flags | flags)
                if method is not None:
                    struct.pack_into("<H", data, header + offset + 2, method)
                if crc is not None:
                    struct.pack_into("<I", data, header + offset + 8, crc)
                if size is not None:
                    struct.pack_into("<I", data, header + offset + 16, size)
        position += 46 + name_length + extra_length + comment_length
    return data


PROJECT = b"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="tiny" origin="hand"><Sources>
<TextSource guid="11111111-1111-1111-1111-111111111111" name="INT001"
 plainTextPath="internal://11111111-1111-1111-1111-111111111111.txt"/></Sources></Project>
"""
SOURCE = ("sources/11111111-1111-1111-1111-111111111111.txt", b"We meet every morning to plan the day.\n")


def archives() -> None:
    base = [("project.qde", PROJECT), SOURCE]
    (HERE / "qdpx_encrypted_member.qdpx").write_bytes(_patch(_zip(base), "project.qde", flags=0x1))
    (HERE / "qdpx_deflate64_member.qdpx").write_bytes(_patch(_zip(base), SOURCE[0], method=9))
    (HERE / "qdpx_bad_crc.qdpx").write_bytes(_patch(_zip(base), "project.qde", crc=0x12345678))
    (HERE / "qdpx_duplicate_member.qdpx").write_bytes(_zip([*base, (SOURCE[0], b"Another text under one name.\n")]))
    (HERE / "qdpx_member_too_large.qdpx").write_bytes(_patch(_zip(base), "project.qde", size=300 * 2**20))
    workbook = zipfile.ZipFile(DEMO / "exports" / "survey_workbook.xlsx")
    members = [(info.filename, workbook.read(info)) for info in workbook.infolist()]
    (HERE / "excel_bad_crc.xlsx").write_bytes(_patch(_zip(members), "xl/worksheets/sheet1.xml", crc=0xDEADBEEF))
    (HERE / "excel_duplicate_member.xlsx").write_bytes(
        _zip([*members, ("xl/worksheets/sheet1.xml", dict(members)["xl/worksheets/sheet2.xml"])]))
    total = _zip(members)
    for name in ("xl/theme/theme1.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/styles.xml",
                 "docProps/app.xml", "docProps/core.xml"):
        total = _patch(total, name, size=190 * 2**20)  # each under the member limit, together over the total
    (HERE / "excel_members_too_large_together.xlsx").write_bytes(total)
    # What Excel writes for a workbook saved with a password: an OLE2 compound file, not a zip.
    (HERE / "excel_password_protected.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))


def _set_formula(sheet_xml: bytes, cell: str, formula: str, keep_value: bool) -> bytes:
    """Put a formula in ``cell``, keeping its stored value (as Excel saves) or dropping it (as
    openpyxl and some scripts save)."""
    pattern = re.compile(rb'<c r="' + cell.encode() + rb'"([^>]*)>(.*?)</c>')
    match = pattern.search(sheet_xml)
    assert match, cell
    attributes, inner = match.group(1), match.group(2)
    value = re.search(rb"<v>.*?</v>", inner)
    start = b'<c r="' + cell.encode() + b'"'
    if keep_value:
        assert value, cell
        new = start + attributes + b"><f>" + formula.encode() + b"</f>" + value.group() + b"</c>"
    else:
        attributes = re.sub(rb'\s*t="[^"]*"', b"", attributes)
        new = start + attributes + b"><f>" + formula.encode() + b"</f></c>"
    return sheet_xml[: match.start()] + new + sheet_xml[match.end():]


def formulas() -> None:
    workbook = zipfile.ZipFile(DEMO / "exports" / "survey_workbook.xlsx")
    members = {info.filename: workbook.read(info) for info in workbook.infolist()}
    for name, cell, formula, keep in (("excel_formula_without_value_level.xlsx", "H5", "1+1", False),
                                      ("excel_formula_without_value_id.xlsx", "A7", 'CONCATENATE("R","0006")', False),
                                      ("excel_formula_with_value.xlsx", "E5", "0+E5", True)):
        changed = dict(members)
        changed["xl/worksheets/sheet1.xml"] = _set_formula(members["xl/worksheets/sheet1.xml"], cell, formula, keep)
        (HERE / name).write_bytes(_zip(list(changed.items())))


def encodings() -> None:
    survey = (HERE / "survey_crlf.csv").read_bytes().decode("utf-8").replace("\r\n", "\n")
    (HERE / "survey_utf16_bom.csv").write_bytes(codecs.BOM_UTF16_LE + survey.encode("utf-16-le"))
    microsystems = (DEMO / "microsystems.csv").read_text(encoding="utf-8")
    (HERE / "microsystems_utf16_no_bom.csv").write_bytes(microsystems.encode("utf-16-le"))
    lines = microsystems.splitlines(keepends=True)
    lines[1] = lines[1].replace("Willowdale Family Practice", "Clinique Sainte-Thérèse")
    lines[3] = lines[3].replace(lines[3].split(",")[1], "Centre de santé Côte-des-Neiges")
    encoded = [line.encode("utf-8") for line in lines]
    encoded[8] = lines[8].replace(lines[8].split(",")[1], "Hôpital Saint-Jérôme").encode("cp1252")
    (HERE / "microsystems_mixed_encoding.csv").write_bytes(b"".join(encoded))
    codings = (DEMO / "coded_segments.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:13]
    codings[1] = codings[1].replace("I step in", "I\u2019ll step in")
    codings[2] = codings[2].replace("I step in", "I\u2019ll step in")
    encoded = [line.encode("utf-8") for line in codings]
    cells = next(csv.reader([codings[5]]))
    cells[4] = cells[4].replace(" ", "\u2019s ", 1)  # a curly apostrophe typed in Windows-1252
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(cells)
    encoded[5] = line.getvalue().encode("cp1252")
    (HERE / "codings_mixed_encoding.csv").write_bytes(b"".join(encoded))
    lines = microsystems.splitlines(keepends=True)
    lines[5] = lines[5].replace("MS05", "MS05\u200b", 1)
    (HERE / "microsystems_zero_width_id.csv").write_text("".join(lines), encoding="utf-8")
    rows = survey.splitlines(keepends=True)
    rows[3] = rows[3].replace(",Medical assistant,", ",Medical\u2060assistant,", 1)
    (HERE / "survey_invisible_role.csv").write_text("".join(rows), encoding="utf-8")
    rows = survey.splitlines(keepends=True)
    rows[4] = rows[4].replace(",Nurse,", ",Infirmie\u0300re,", 1)  # decomposed: e + combining grave accent
    (HERE / "survey_decomposed_role.csv").write_text("".join(rows), encoding="utf-8")


def long_cells() -> None:
    codings = (DEMO / "coded_segments.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    long = " ".join(["We go through every referral together before the clinic opens."] * 2500)  # 160,000 characters
    first = codings[1].split('"')[1]
    codings[1] = codings[1].replace(first, long)
    codings[2] = codings[2].replace(first, long)
    codings.insert(len(codings) // 2, "\n")  # a blank line: the careful (csv module) reader reads the file
    (HERE / "codings_long_excerpt.csv.gz").write_bytes(gzip.compress("".join(codings).encode("utf-8"), mtime=0))
    lines = (DEMO / "microsystems.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    name = lines[4].split(",")[1]
    lines[4] = lines[4].replace(name, '"' + ", ".join([name] * 60000) + '"')  # about 1.7 million characters
    (HERE / "microsystems_long_name.csv.gz").write_bytes(gzip.compress("".join(lines).encode("utf-8"), mtime=0))


if __name__ == "__main__":
    archives()
    formulas()
    encodings()
    long_cells()
