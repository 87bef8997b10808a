"""REFI-QDA projects: what tools write is read, what we write reads back identically."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from defusedxml import ElementTree

from tests.conftest import DEMO
from tests.fixtures.qda import dialects
from workbench import privacy
from workbench.errors import InputError
from workbench.frameworks import load_framework
from workbench.io import refiqda
from workbench.io.report import ImportReport
from workbench.study import load_study

NS = {"q": refiqda.PROJECT_NS}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FRAMEWORKS = [load_framework("microsystem_characteristics"), load_framework("leading_processes")]
FRAMEWORK_OF = {e: f.id for f in FRAMEWORKS for e in f.element_ids}


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def with_coding_export(folder: Path, mapping: str) -> None:
    config = yaml.safe_load((folder / "study.yaml").read_text())
    config["coding_export"] = mapping
    (folder / "study.yaml").write_text(yaml.safe_dump(config))


def test_demo_interviews_load_identically_from_qdpx_and_csv(demo_copy, demo):
    with_coding_export(demo_copy, "exports/interviews_mapping.yaml")
    (demo_copy / "coded_segments.csv").unlink()
    from_qdpx = load_study("demo")
    pd.testing.assert_frame_equal(from_qdpx.codings, demo.codings)
    pd.testing.assert_frame_equal(from_qdpx.interviews, demo.interviews)


def read_back(path: Path, codes: dict, study) -> refiqda.CodingImport:
    mapping = refiqda.CodingMapping(format="refi-qda", file=path.name, codes=codes)
    return refiqda.project_frames(
        refiqda.read_qdpx(path),
        mapping,
        framework_of=FRAMEWORK_OF,
        microsystem_ids=study.microsystems["microsystem_id"].tolist(),
        roles=study.config.roles,
        shown=str(path),
    )


def test_export_then_import_gives_identical_frames(tmp_path, demo):
    demo_codes = yaml.safe_load((DEMO / "exports/interviews_mapping.yaml").read_text())["codes"]
    first = read_back(DEMO / "exports/interviews.qdpx", demo_codes, demo)
    codes = refiqda.write_qdpx(
        tmp_path / "out.qdpx",
        name="round trip",
        codings=first.codings,
        interviews=first.interviews,
        microsystems=demo.microsystems,
        frameworks=FRAMEWORKS,
        transcripts=first.transcripts,
    )
    again = read_back(tmp_path / "out.qdpx", codes, demo)
    pd.testing.assert_frame_equal(again.codings, first.codings)
    pd.testing.assert_frame_equal(again.interviews, first.interviews)
    assert again.transcripts == first.transcripts


def test_export_without_transcripts_builds_sources_from_excerpts(tmp_path, demo):
    codings = demo.codings.assign(
        start=pd.array([pd.NA] * len(demo.codings), dtype="Int64"),
        end=pd.array([pd.NA] * len(demo.codings), dtype="Int64"),
    )
    codes = refiqda.write_qdpx(tmp_path / "built.qdpx", name="built", codings=codings, interviews=demo.interviews,
                               microsystems=demo.microsystems, frameworks=FRAMEWORKS)
    again = read_back(tmp_path / "built.qdpx", codes, demo)
    columns = ["segment_id", "interview_id", "coder", "code_id", "excerpt"]
    pd.testing.assert_frame_equal(again.codings[columns].sort_values(columns).reset_index(drop=True),
                                  demo.codings[columns].sort_values(columns).reset_index(drop=True))


def test_written_project_has_the_structure_of_the_standard(tmp_path, demo):
    refiqda.write_qdpx(tmp_path / "s.qdpx", name="structure", codings=demo.codings, interviews=demo.interviews,
                       microsystems=demo.microsystems, frameworks=FRAMEWORKS)
    archive = zipfile.ZipFile(tmp_path / "s.qdpx")
    root = ElementTree.fromstring(archive.read("project.qde"))
    assert root.tag == f"{{{refiqda.PROJECT_NS}}}Project" and root.get("name") == "structure"
    order = ["Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs", "Description"]
    children = [child.tag.split("}")[1] for child in root]
    assert children == sorted(children, key=order.index)
    guids = {e.get("guid") for e in root.iter() if e.get("guid")}
    assert all(GUID.match(g) for g in guids)
    codes = {c.get("guid") for c in root.iterfind(".//q:Code", NS)}
    users = {u.get("guid") for u in root.iterfind(".//q:User", NS)}
    sources = {s.get("guid"): s for s in root.iterfind(".//q:TextSource", NS)}
    assert all(ref.get("targetGUID") in codes for ref in root.iterfind(".//q:CodeRef", NS))
    assert all(ref.get("targetGUID") in sources for ref in root.iterfind(".//q:SourceRef", NS))
    assert all(c.get("creatingUser") in users for c in root.iterfind(".//q:Coding", NS))
    for guid, source in sources.items():
        text = archive.read(f"sources/{guid}.txt").decode("utf-8")
        assert source.get("plainTextPath") == f"internal://{guid}.txt"
        kinds = [child.tag.split("}")[1] for child in source]
        standard_order = ["Description", "PlainTextContent", "PlainTextSelection", "VariableValue", "NoteRef"]
        assert kinds == sorted(kinds, key=standard_order.index)
        for selection in source.iterfind("q:PlainTextSelection", NS):
            assert 0 <= int(selection.get("startPosition")) < int(selection.get("endPosition")) <= len(text)
    for code in root.iterfind(".//q:Code", NS):
        assert code.get("isCodable") in ("true", "false")


def test_codebook_alone_round_trips_as_qdc(tmp_path):
    refiqda.write_qdc(tmp_path / "codebook.qdc", FRAMEWORKS)
    root = ElementTree.fromstring((tmp_path / "codebook.qdc").read_bytes())
    assert root.tag == f"{{{refiqda.CODEBOOK_NS}}}CodeBook"
    table = refiqda.read_qdc(tmp_path / "codebook.qdc")
    expected = [f.title for f in FRAMEWORKS] + [f"{f.title}/{e.label}" for f in FRAMEWORKS for e in f.elements]
    assert sorted(table["path"]) == sorted(expected)
    assert table.loc[table["path"] == FRAMEWORKS[0].title, "codable"].item() is False


# --------------------------------------------------------------------------------------
# Hand-made projects in the shapes different tools write.

def project_xml(sources: str, codes: str = None, cases: str = None) -> str:
    codes = codes or """<Code guid="00000000-0000-0000-0000-0000000000c1" name="Themes" isCodable="false">
        <Code guid="00000000-0000-0000-0000-0000000000c2" name="Measurement" isCodable="true"/></Code>"""
    cases = cases or """<Case guid="00000000-0000-0000-0000-0000000000a1" name="MS01">
        <SourceRef targetGUID="00000000-0000-0000-0000-0000000000f1"/></Case>"""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="hand made">
  <Users><User guid="00000000-0000-0000-0000-0000000000b1" name="Ana"/>\
<User guid="00000000-0000-0000-0000-0000000000b2" name="Ben"/></Users>
  <CodeBook><Codes>{codes}</Codes></CodeBook>
  <Variables><Variable guid="00000000-0000-0000-0000-0000000000d1" name="Interviewee role" typeOfVariable="Text"/>
    <Variable guid="00000000-0000-0000-0000-0000000000d2" name="Interview date" typeOfVariable="Date"/></Variables>
  <Cases>{cases}</Cases>
  <Sources>{sources}</Sources>
</Project>"""


VARIABLES = (
    '<VariableValue><VariableRef targetGUID="00000000-0000-0000-0000-0000000000d1"/>'
    "<TextValue>Nurse</TextValue></VariableValue>\n"
    '  <VariableValue><VariableRef targetGUID="00000000-0000-0000-0000-0000000000d2"/>'
    "<DateValue>2026-03-01</DateValue></VariableValue>"
)


def text_source(path_attribute: str, selections: str) -> str:
    return (
        f'<TextSource guid="00000000-0000-0000-0000-0000000000f1" name="INT1" {path_attribute}>'
        f"{selections}{VARIABLES}</TextSource>"
    )


def selection(start: int, end: int, coder: str = "b1", code: str = "c2", name: str = "") -> str:
    return (
        f'<PlainTextSelection guid="00000000-0000-0000-0000-{start:06d}{end:06d}" name="{name}" '
        f'startPosition="{start}" endPosition="{end}">\n'
        f'      <Coding guid="00000000-0000-0000-0000-{start:06d}{end:06d}" '
        f'creatingUser="00000000-0000-0000-0000-0000000000{coder}">\n'
        f'      <CodeRef targetGUID="00000000-0000-0000-0000-0000000000{code}"/></Coding></PlainTextSelection>'
    )


def qdpx(tmp_path: Path, xml: str, files: dict[str, bytes] | None = None) -> Path:
    path = tmp_path / "project.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return path


TEXT = "Interviewer: Do you track anything?\nParticipant: We chart falls every week and talk about them.\n"
START = TEXT.index("We chart")
END = TEXT.index(" and talk")


def frames(path: Path, codes: dict[str, str] | None = None) -> refiqda.CodingImport:
    mapping = refiqda.CodingMapping(
        format="refi-qda", file=path.name, codes=codes or {"Themes/Measurement": "measurement"}
    )
    return refiqda.project_frames(
        refiqda.read_qdpx(path),
        mapping,
        framework_of=FRAMEWORK_OF,
        microsystem_ids=["MS01"],
        roles=["Nurse", "Manager"],
        shown=str(path),
    )


@pytest.mark.parametrize("reference", ["internal://f1.txt", "f1.txt", "sources/f1.txt"])
def test_sources_referenced_as_internal_or_by_bare_name(tmp_path, reference):
    selections = selection(START, END) + selection(START, END, coder="b2")
    xml = project_xml(text_source(f'plainTextPath="{reference}"', selections))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    result = frames(path)
    assert result.codings["excerpt"].tolist() == ["We chart falls every week"] * 2
    assert result.codings["coder"].tolist() == ["Ana", "Ben"]
    assert result.codings["segment_id"].iloc[0] == f"INT1:{START}-{END}"
    assert result.interviews["characters"].item() == len(TEXT)


def test_inline_plain_text_content(tmp_path):
    source = (
        '<TextSource guid="00000000-0000-0000-0000-0000000000f1" name="INT1">'
        f"<PlainTextContent>{TEXT}</PlainTextContent>{selection(START, END)}{VARIABLES}</TextSource>"
    )
    assert frames(qdpx(tmp_path, project_xml(source))).codings["excerpt"].item() == "We chart falls every week"


def test_codes_with_the_same_name_in_two_branches_stay_apart(tmp_path):
    codes = """<Code guid="00000000-0000-0000-0000-0000000000c1" name="Unit" isCodable="false">
        <Code guid="00000000-0000-0000-0000-0000000000c2" name="Measurement" isCodable="true"/></Code>
      <Code guid="00000000-0000-0000-0000-0000000000c3" name="Leader" isCodable="false">
        <Code guid="00000000-0000-0000-0000-0000000000c4" name="Measurement" isCodable="true"/></Code>"""
    sources = text_source(
        'plainTextPath="internal://f1.txt"', selection(START, END, code="c2") + selection(0, 11, code="c4")
    )
    path = qdpx(tmp_path, project_xml(sources, codes=codes), {"sources/f1.txt": TEXT.encode()})
    project = refiqda.read_qdpx(path)
    assert sorted(project.codebook()["path"]) == ["Leader", "Leader/Measurement", "Unit", "Unit/Measurement"]
    result = frames(
        path, {"Unit/Measurement": "measurement", "00000000-0000-0000-0000-0000000000c4": "building_knowledge"}
    )
    assert dict(zip(result.codings["excerpt"], result.codings["code_id"])) == {
        "We chart falls every week": "measurement", "Interviewer": "building_knowledge",
    }
    with pytest.raises(InputError, match=r"codings use codes the mapping does not map: \['Leader/Measurement'\]"):
        frames(path, {"Unit/Measurement": "measurement"})


def test_empty_pdf_and_rich_text_only_sources_are_reported_not_fatal(tmp_path):
    sources = (text_source('plainTextPath="internal://f1.txt"', selection(START, END))
               + '<PDFSource guid="00000000-0000-0000-0000-0000000000f2" name="Policy" path="internal://p.pdf"/>'
               + '<TextSource guid="00000000-0000-0000-0000-0000000000f3" name="Minutes" richTextPath="internal://m.docx"/>'
               + '<TextSource guid="00000000-0000-0000-0000-0000000000f4" name="Blank" plainTextPath="internal://e.txt"/>')
    cases = (
        '<Case guid="00000000-0000-0000-0000-0000000000a1" name="MS01">'
        '<SourceRef targetGUID="00000000-0000-0000-0000-0000000000f1"/></Case>'
    )
    path = qdpx(tmp_path, project_xml(sources, cases=cases), {"sources/f1.txt": TEXT.encode(), "sources/e.txt": b""})
    project = refiqda.read_qdpx(path)
    assert any("'Policy' is a PDF source" in note for note in project.notes)
    assert any("'Minutes' has no plain-text version (only internal://m.docx)" in note for note in project.notes)
    assert any("'Blank' is empty" in note for note in project.notes)
    with pytest.raises(InputError, match="source 'Blank' belongs to no case"):
        frames(path)


def test_no_codings_and_one_coder_are_said_plainly(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', ""))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    assert "the project has no codings" in frames(path).report.notes
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    assert any("made by one coder (Ana)" in note for note in frames(path).report.notes)


def test_codings_by_users_the_project_does_not_list_are_noted(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END, coder="b9")))
    imported = frames(qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()}))
    assert imported.codings["coder"].item() == "00000000-0000-0000-0000-0000000000b9"
    assert tally(imported.report)["users"] == (2, 0)
    assert any(note.startswith("1 coding by a creatingUser the project does not list among its users")
               for note in imported.report.notes)


def test_crlf_sources_whose_positions_count_crlf_as_one_character(tmp_path):
    crlf = TEXT.replace("\n", "\r\n")
    named = selection(START, END, name="We chart falls every week")
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', named))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": crlf.encode()})
    result = frames(path)
    assert result.codings["excerpt"].item() == "We chart falls every week"
    assert any("CRLF" in note and "as one character" in note for note in result.report.notes)


def test_crlf_sources_whose_positions_count_both_characters(tmp_path):
    crlf = TEXT.replace("\n", "\r\n")
    start, end = crlf.index("We chart"), crlf.index(" and talk")
    named = selection(start, end, name="We chart falls every week")
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', named))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": crlf.encode()})
    assert frames(path).codings["excerpt"].item() == "We chart falls every week"


def test_malformed_xml_names_line_and_column(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', "")).replace("</Sources>", "</Source>")
    path = qdpx(tmp_path, xml)
    with pytest.raises(
        InputError, match=r"project\.qdpx: project\.qde is not well-formed XML: .*\(line \d+, column \d+\)"
    ):
        refiqda.read_qdpx(path)


def test_positions_outside_the_source_are_refused(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, 5000)))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    with pytest.raises(
        InputError,
        match=rf"selection .* in source 'INT1' runs from {START} to 5000, but the source has {len(TEXT)} characters",
    ):
        refiqda.read_qdpx(path)


def test_a_coding_of_a_code_not_in_the_codebook_is_refused(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END, code="c9")))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    with pytest.raises(
        InputError, match=r"refers to code 00000000-0000-0000-0000-0000000000c9, which is not in the codebook"
    ):
        refiqda.read_qdpx(path)


def test_archive_members_escaping_the_folder_are_refused(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', ""))
    path = qdpx(tmp_path, xml, {"../../outside.txt": b"x"})
    with pytest.raises(InputError, match=r"archive member '../../outside.txt' points outside the archive"):
        refiqda.read_qdpx(path)
    assert not (tmp_path.parent / "outside.txt").exists()


def test_not_a_zip_is_named(tmp_path):
    (tmp_path / "broken.qdpx").write_text("hello")
    with pytest.raises(InputError, match=r"broken\.qdpx: not a REFI-QDA \.qdpx file"):
        refiqda.read_qdpx(tmp_path / "broken.qdpx")


def test_command_line_export_writes_project_codebook_and_mapping(project, capsys):
    from workbench import cli

    assert cli.main(["export-qdpx", "--study", "demo"]) == 0
    out = project / "reports" / "demo"
    assert (out / "demo.qdpx").exists() and (out / "demo.qdc").exists() and (out / "demo_mapping.yaml").exists()
    assert cli.main(["export-qdpx", "--study", "demo", "--out", str(project / "data/raw/demo/x.qdpx")]) == 2
    assert "must not be under data/raw/" in capsys.readouterr().err


def test_the_demo_import_reports_every_element_used(demo):
    imported = refiqda.read_coded_interviews(
        DEMO / "exports/interviews_mapping.yaml", framework_of=FRAMEWORK_OF,
        microsystem_ids=demo.microsystems["microsystem_id"].tolist(), roles=demo.config.roles, shown_folder="exports",
    )
    report = imported.report
    assert report.kind == "REFI-QDA project" and report.source == "exports/interviews.qdpx"
    assert [c.element for c in report.counts] == ["users", "codes", "sources", "selections", "codings", "cases",
                                                 "variables"]
    assert report.used("codings") == len(demo.codings) and report.used("sources") == len(demo.interviews)
    assert report.used("cases") == demo.interviews["microsystem_id"].nunique()
    codes = next(c for c in report.counts if c.element == "codes")
    assert codes.left_out == {"not in the mapping (a grouping code, not codable, without codings)": 2}
    assert not report.notes
    assert ImportReport.from_dict(report.to_dict()) == report


# --------------------------------------------------------------------------------------
# Dialects of real tools (tests/fixtures/qda/dialects.py writes each), loaded through a mapping.

def load(writer, folder: Path) -> refiqda.CodingImport:
    return refiqda.read_coded_interviews(writer(folder), framework_of=FRAMEWORK_OF,
                                         microsystem_ids=dialects.MICROSYSTEMS, roles=dialects.ROLES,
                                         shown_folder="exports")


def tally(report) -> dict[str, tuple[int, int]]:
    """Per element: (in the file, used); the report itself checks the left-out reasons add up."""
    return {c.element: (c.in_file, c.used) for c in report.counts}


def left_out(report, element: str) -> dict[str, int]:
    return next(c.left_out for c in report.counts if c.element == element)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(row) for row in frame[columns].astype(str).itertuples(index=False)]


def test_qc_project_without_cases_or_names_loads_through_a_sidecar_table(tmp_path):
    imported = load(dialects.write_qc, tmp_path)
    assert rows(imported.interviews, ["interview_id", "microsystem_id", "interviewee_role", "interview_date"]) == [
        ("board_2017.txt", "MS01", "Manager", "2017-05-09"), ("huddle_2018.txt", "MS02", "Nurse", "2018-01-15"),
    ]
    board = dialects.QC_BOARD.splitlines(keepends=True)
    assert rows(imported.codings, ["segment_id", "code_id", "excerpt"]) == [
        ("board_2017.txt:0-40", "measurement", board[0]),
        ("board_2017.txt:0-40", "building_knowledge", board[0]),  # the same name in another branch stays apart
        ("board_2017.txt:40-76", "measurement", board[1]),  # Measurement and Measurement/Run charts: one coding
        ("board_2017.txt:76-106", "interdependence_of_care_team", board[2]),
        ("huddle_2018.txt:0-28", "interdependence_of_care_team", "The huddle starts at seven.\n"),
    ]
    report = imported.report
    assert tally(report) == {"users": (1, 1), "codes": (6, 4), "sources": (3, 2), "selections": (5, 4),
                             "codings": (7, 5)}
    assert left_out(report, "codings") == {
        "repeats another coding's segment, coder and element (merged into one)": 1,
        "code not mapped to a framework element": 1,  # the coding on the parent Characteristics
    }
    assert left_out(report, "sources") == {"assigned to no microsystem by the mapping (unassigned: ignore)": 1}
    assert "3 sources have no name; named by the plain-text file name" in report.notes
    assert "1 source assigned to no microsystem left out: 'memo.txt'" in report.notes
    assert any("made by one coder (ana)" in note for note in report.notes)


def test_nvivo_project_with_an_empty_plain_text_is_reported_not_fatal(tmp_path):
    imported = load(dialects.write_nvivo_mac, tmp_path)
    assert imported.interviews["interview_id"].tolist() == ["Ward 4 nurse"]
    assert rows(imported.codings, ["coder", "code_id", "excerpt"]) == [
        ("Ana Lopez", "measurement", "We count pressure ulcers"),
        ("Ben Okafor", "measurement", "We count pressure ulcers"),
        ("Ben Okafor", "taking_action", "act on them"),
    ]
    assert imported.codings["segment_id"].nunique() == 2  # two coders' selections of one stretch: one segment
    report = imported.report
    assert tally(report) == {"users": (2, 2), "codes": (2, 2), "sources": (2, 1), "selections": (4, 3),
                             "codings": (4, 3)}
    assert left_out(report, "sources") == {
        "its plain text is empty; the text is only in the rich-text (.docx) file, which is not read": 1
    }
    assert left_out(report, "codings") == {"in a source that is not read": 1}
    note = next(note for note in report.notes if "empty plain text" in note)
    assert note.startswith(f"source '{dialects.guid(99)}' has an empty plain text and its text only in internal://")


def test_maxqda_project_with_nameless_cases_carrying_variables_and_sets(tmp_path):
    imported = load(dialects.write_maxqda, tmp_path)
    assert rows(imported.interviews, ["interview_id", "microsystem_id", "interviewee_role", "interview_date"]) == [
        ("ICLS 2024 3-10", "MS01", "Nurse", "2024-03-10"), ("ICLS 2024 3-12", "MS02", "Physician", "2024-03-12"),
    ]
    codings = imported.codings
    assert rows(codings, ["coder", "code_id", "excerpt"]) == [
        ("Ana", "measurement", "jeder sieht die Stürze 📋"),
        ("Ben", "measurement", "jeder sieht die Stürze 📋"),
        ("Ben", "measurement", "Wir messen wöchentlich"),
        ("Ana", "building_knowledge", "Was haben wir gelernt?"),  # on Führung/Wissen aufbauen, through Führung/**
        ("Ben", "building_knowledge", "Was haben wir gelernt?"),
    ]
    text = dialects.MAXQDA_FIRST
    start = int(codings["start"].iloc[2])
    assert start == text.index("Wir messen") == 67  # code points, not UTF-8 bytes
    assert len(text[:start].encode("utf-8")) == 76
    report = imported.report
    assert tally(report) == {"users": (2, 2), "codes": (3, 3), "sources": (2, 2), "selections": (3, 3),
                             "codings": (5, 5), "cases": (2, 2), "variables": (4, 3), "sets": (2, 0)}
    assert left_out(report, "sets") == {"sets are not read by the workbench": 2}
    assert left_out(report, "variables") == {"not read for any interview": 1}  # Alter


def test_atlas_project_with_braced_guids_crlf_bom_and_a_0_4_codebook(tmp_path):
    imported = load(dialects.write_atlas, tmp_path)
    assert rows(imported.interviews, ["interview_id", "microsystem_id", "interviewee_role", "interview_date"]) == [
        ("MS01_Manager_2023-11-02", "MS01", "Manager", "2023-11-02"),
        ("MS02_Physician_2023-11-05", "MS02", "Physician", "2023-11-05"),
    ]
    assert rows(imported.codings, ["coder", "code_id", "excerpt"]) == [
        ("R. Silva", "measurement", "We check the infection numbers\nevery week"),
        ("R. Silva", "reviewing_and_reflecting", "reflect on it together"),
    ]
    assert imported.transcripts["MS01_Manager_2023-11-02"] == dialects.ATLAS_FIRST.replace("\r\n", "\n")
    report = imported.report
    assert tally(report) == {"users": (1, 1), "codes": (2, 2), "sources": (2, 2), "selections": (2, 2),
                             "codings": (2, 2), "notes": (1, 0), "links": (1, 0), "graphs": (1, 0)}
    assert "the codebook is written in the codebook namespace 'urn:QDA-XML:codebook:0:4'" in report.notes
    assert sum("byte-order mark" in note for note in report.notes) == 2
    assert sum("count each as one character" in note for note in report.notes) == 2


@pytest.mark.parametrize("namespace", refiqda.CODEBOOK_NAMESPACES)
def test_codebooks_in_both_namespaces(tmp_path, namespace):
    table = refiqda.read_qdc(dialects.write_codebook(tmp_path / "codebook.qdc", namespace))
    assert table["path"].tolist() == ["Führung", "Führung/Wissen aufbauen", "Messung"]
    assert table["guid"].tolist() == [dialects.guid(10), dialects.guid(11), dialects.guid(12)]  # lower case, no braces
    assert table["codable"].tolist() == [False, True, True]
    assert table["description"].iloc[0] == "Leitungsprozesse"
    assert table["parent"].iloc[1] == dialects.guid(10)


def test_a_codebook_in_another_namespace_is_refused_by_name(tmp_path):
    path = dialects.write_codebook(tmp_path / "codebook.qdc", "urn:example:other")
    with pytest.raises(InputError, match=r"codebook\.qdc: expected a <CodeBook> in the namespace "
                                         r"urn:QDA-XML:codebook:1\.0 or urn:QDA-XML:codebook:0:4"):
        refiqda.read_qdc(path)


def test_a_project_codebook_in_the_0_4_namespace_reads_its_codes(tmp_path):
    codes = ('<CodeBook xmlns="urn:QDA-XML:codebook:0:4"><Codes><Code guid="00000000-0000-0000-0000-0000000000c2" '
             'name="Measurement" isCodable="true"/></Codes></CodeBook>')
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)))
    xml = re.sub(r"<CodeBook>.*?</CodeBook>", codes, xml, flags=re.S)
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    assert frames(path, {"Measurement": "measurement"}).codings["excerpt"].item() == "We chart falls every week"


@pytest.mark.parametrize(("archive_name", "qde"), [("project.zip", "project.qde"), ("p.qdpx", "Ward study.qde")])
def test_projects_shared_as_zip_or_with_another_project_file_name(tmp_path, archive_name, qde):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)))
    path = dialects.write_archive(tmp_path / archive_name, xml, {"Sources/F1.TXT": TEXT.encode()}, qde=qde)
    assert refiqda.read_qdpx(path).sources["INT1"] == TEXT


# --------------------------------------------------------------------------------------
# Sources to interviews: cases, variables, a sidecar table or a pattern.

def write_mapping(folder: Path, **mapping) -> Path:
    path = folder / "project_mapping.yaml"
    body = {"format": "refi-qda", "file": "project.qdpx", "codes": {"Themes/Measurement": "measurement"}, **mapping}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def read_mapped(mapping: Path) -> refiqda.CodingImport:
    return refiqda.read_coded_interviews(mapping, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01", "MS02"],
                                         roles=["Nurse", "Manager"], shown_folder="exports")


def nameless_project(tmp_path: Path) -> Path:
    """A project whose only source has no name and belongs to no case (as qc writes them)."""
    source = ('<TextSource guid="00000000-0000-0000-0000-0000000000f1" plainTextPath="ward_3.txt">'
              f"{selection(START, END)}{VARIABLES}</TextSource>")
    xml = project_xml(source, cases='<Case guid="00000000-0000-0000-0000-0000000000a9" name="Other"/>')
    return qdpx(tmp_path, xml, {"sources/ward_3.txt": TEXT.encode()})


def test_a_source_in_no_case_is_named_by_its_file_and_the_fixes_are_said(tmp_path):
    nameless_project(tmp_path)
    with pytest.raises(InputError) as error:
        read_mapped(write_mapping(tmp_path))
    message = str(error.value)
    assert message.startswith("exports/project.qdpx: source 'ward_3.txt' belongs to no case; expected every "
                              "interview to be assigned to a microsystem.")
    assert "00000000" not in message
    for option in ("from: variables", "from: table", "from: pattern", "unassigned: ignore",
                   "exports/project_mapping.yaml"):
        assert option in message
    assert "\n" not in message


@pytest.mark.parametrize("table", [
    "source,microsystem_id,interviewee_role,interview_date\nward_3.txt,MS02,Nurse,2026-03-04\n",
    "source,microsystem_id,interviewee_role,interview_date\nward_3,MS02,Nurse,2026-03-04\n",
    "source,microsystem_id,interviewee_role,interview_date\n{00000000-0000-0000-0000-0000000000F1},MS02,Nurse,"
    "2026-03-04\n",
    "source,microsystem_id\nward_3.txt,MS02\n",  # role and date from the source's variables
])
def test_a_sidecar_table_assigns_sources_by_file_name_stem_or_guid(tmp_path, table):
    nameless_project(tmp_path)
    (tmp_path / "units.csv").write_text(table)
    imported = read_mapped(write_mapping(tmp_path, sources={"from": "table", "table": "units.csv"}))
    expected_role, expected_date = ("Nurse", "2026-03-04") if "interviewee_role" in table else ("Nurse", "2026-03-01")
    assert rows(imported.interviews, ["interview_id", "microsystem_id", "interviewee_role", "interview_date"]) == [
        ("ward_3.txt", "MS02", expected_role, expected_date)
    ]
    assert imported.codings["microsystem_id"].tolist() == ["MS02"]


def test_a_source_missing_from_the_table_and_stray_rows_are_named(tmp_path):
    nameless_project(tmp_path)
    (tmp_path / "units.csv").write_text("source,microsystem_id\nward_33.txt,MS02\n")
    mapping = write_mapping(tmp_path, sources={"from": "table", "table": "units.csv"})
    with pytest.raises(InputError, match=r"^exports/project\.qdpx: source 'ward_3\.txt' is not in the table "
                                         r"exports/units\.csv; .*Fix: add the source to exports/units\.csv"):
        read_mapped(mapping)
    mapping = write_mapping(tmp_path, sources={"from": "table", "table": "units.csv", "unassigned": "ignore"})
    report = read_mapped(mapping).report
    assert tally(report)["sources"] == (1, 0) and tally(report)["codings"] == (1, 0)
    assert "1 row of exports/units.csv name no source of the project: 'ward_33.txt' (row 2)" in report.notes
    assert left_out(report, "codings") == {"in a source the mapping leaves out": 1}


def test_table_values_are_checked_with_file_row_and_column(tmp_path):
    nameless_project(tmp_path)
    (tmp_path / "units.csv").write_text("source,microsystem_id,interviewee_role\nward_3.txt,MS09,Nurse\n")
    mapping = write_mapping(tmp_path, sources={"from": "table", "table": "units.csv"})
    with pytest.raises(InputError, match=r"exports/units\.csv, row 2, column 'microsystem_id': .*microsystem_id"):
        read_mapped(mapping)
    (tmp_path / "units.csv").write_text("source,microsystem_id,interview_date\nward_3.txt,MS01,09/05/2017\n")
    with pytest.raises(InputError, match=r"exports/units\.csv, row 2, column 'interview_date': source 'ward_3\.txt': "
                                         r"interview date '09/05/2017' \(from table row 2\) is not a date written "
                                         r"YYYY-MM-DD \(set sources: date_format"):
        read_mapped(mapping)
    dated = write_mapping(tmp_path, sources={"from": "table", "table": "units.csv", "date_format": "%d/%m/%Y"})
    assert str(read_mapped(dated).interviews["interview_date"].item().date()) == "2017-05-09"
    (tmp_path / "units.csv").write_text("source,interviewee_role\nward_3.txt,Nurse\n")
    with pytest.raises(InputError, match=r"^exports/units\.csv, row 1: the table has no column microsystem_id"):
        read_mapped(mapping)
    (tmp_path / "units.csv").unlink()
    with pytest.raises(InputError, match=r"^exports/units\.csv: file not found"):
        read_mapped(mapping)


def test_a_pattern_on_the_source_name(tmp_path):
    source = ('<TextSource guid="00000000-0000-0000-0000-0000000000f1" name="MS02 - Manager"'
              f' plainTextPath="internal://f1.txt">{selection(START, END)}{VARIABLES}</TextSource>')
    qdpx(tmp_path, project_xml(source, cases=" "), {"sources/f1.txt": TEXT.encode()})
    pattern = r"^(?P<microsystem_id>MS\d+) - (?P<interviewee_role>\w+)$"
    imported = read_mapped(write_mapping(tmp_path, sources={"from": "pattern", "pattern": pattern}))
    assert rows(imported.interviews, ["microsystem_id", "interviewee_role", "interview_date"]) == [
        ("MS02", "Manager", "2026-03-01")  # the date from the source variable
    ]
    with pytest.raises(InputError, match=r"source name 'MS02 - Manager' does not match the pattern '\^U\(\?P"):
        read_mapped(write_mapping(tmp_path, sources={"from": "pattern", "pattern": r"^U(?P<microsystem_id>\d+)"}))


def test_variables_of_sources_or_nameless_cases(tmp_path):
    unit = '<Variable guid="00000000-0000-0000-0000-0000000000d3" name="Unit" typeOfVariable="Text"/>'
    value = ('<VariableValue><VariableRef targetGUID="00000000-0000-0000-0000-0000000000d3"/>'
             "<TextValue>MS01</TextValue></VariableValue>")
    case = f'<Case guid="00000000-0000-0000-0000-0000000000a1">{value}' \
           '<SourceRef targetGUID="00000000-0000-0000-0000-0000000000f1"/></Case>'
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)), cases=case)
    xml = xml.replace("</Variables>", unit + "</Variables>")
    qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    with pytest.raises(InputError, match=r"source 'INT1' belongs only to cases without a name .*from: variables"):
        read_mapped(write_mapping(tmp_path))
    by_unit = {"from": "variables", "variables": {"microsystem_id": "Unit"}}
    imported = read_mapped(write_mapping(tmp_path, sources=by_unit))
    assert rows(imported.interviews, ["microsystem_id", "interviewee_role"]) == [("MS01", "Nurse")]
    assert tally(imported.report)["cases"] == (1, 1) and tally(imported.report)["variables"] == (3, 3)
    with pytest.raises(InputError, match=r"source 'INT1' has no variable 'Ward' holding its microsystem_id \(it has "
                                         r"\['Interview date', 'Interviewee role', 'Unit'\]\).*from: table"):
        read_mapped(write_mapping(tmp_path, sources={"from": "variables", "variables": {"microsystem_id": "Ward"}}))
    missing_role = {"from": "variables", "variables": {"microsystem_id": "Unit", "interviewee_role": "Role"}}
    with pytest.raises(InputError, match=r"source 'INT1' has no interviewee_role: it has no variable 'Role'"):
        read_mapped(write_mapping(tmp_path, sources=missing_role))


def test_the_older_source_variables_key_still_reads(tmp_path):
    qdpx(tmp_path, project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END))),
         {"sources/f1.txt": TEXT.encode()})
    mapping = write_mapping(tmp_path, source_variables={"interviewee_role": "Interviewee role",
                                                         "interview_date": "Interview date"})
    assert rows(read_mapped(mapping).interviews, ["microsystem_id", "interviewee_role"]) == [("MS01", "Nurse")]


@pytest.mark.parametrize(("sources", "message"), [
    ({"from": "table"}, r"setting 'sources': Value error, from: table needs table: <file\.csv>"),
    ({"from": "pattern", "pattern": r"MS\d+"}, r"must name its groups among microsystem_id"),
    ({"from": "pattern", "pattern": r"(?P<unit>MS\d+)"}, r"it names \['unit'\]"),
    ({"from": "pattern", "pattern": r"(?P<interviewee_role>\w+)"}, r"has no group \(\?P<microsystem_id>"),
    ({"from": "variables"}, r"from: variables needs variables: \{microsystem_id"),
    ({"from": "cases", "table": "x.csv"}, r"table: is read only with from: table"),
    ({"from": "files"}, r"setting 'sources\.from': Input should be 'cases', 'variables', 'table' or 'pattern'"),
    ({"variables": {"role": "Role"}}, r"setting 'sources\.variables\.role\.\[key\]'"),
])
def test_sources_settings_are_checked_naming_the_mapping_file(tmp_path, sources, message):
    with pytest.raises(InputError, match=r"^exports/project_mapping\.yaml: .*" + message):
        read_mapped(write_mapping(tmp_path, sources=sources))


def test_sources_and_source_variables_together_are_refused(tmp_path):
    mapping = write_mapping(tmp_path, sources={"from": "cases"}, source_variables={"interviewee_role": "Role"})
    with pytest.raises(InputError, match=r"give sources: or the older source_variables:, not both"):
        read_mapped(mapping)


# --------------------------------------------------------------------------------------
# Codes: branches, many codes onto one element, codes mapped twice.

BRANCH = """<Code guid="00000000-0000-0000-0000-0000000000c1" name="Themes" isCodable="true">
    <Code guid="00000000-0000-0000-0000-0000000000c2" name="Measurement" isCodable="true">
      <Code guid="00000000-0000-0000-0000-0000000000c3" name="Charts" isCodable="true"/></Code>
    <Code guid="00000000-0000-0000-0000-0000000000c4" name="Huddles" isCodable="true"/></Code>"""


def coded_branch(tmp_path: Path) -> Path:
    """Ana codes one stretch with Measurement, Charts and Huddles; Ben codes it with Charts."""
    coded = "".join(
        f'<Coding guid="00000000-0000-0000-0000-00000000{n:04d}" creatingUser="00000000-0000-0000-0000-0000000000'
        f'{user}"><CodeRef targetGUID="00000000-0000-0000-0000-0000000000{code}"/></Coding>'
        for n, (user, code) in enumerate([("b1", "c2"), ("b1", "c3"), ("b1", "c4"), ("b2", "c3")])
    )
    stretch = (f'<PlainTextSelection guid="00000000-0000-0000-0000-0000000000e1" startPosition="{START}" '
               f'endPosition="{END}">{coded}</PlainTextSelection>')
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', stretch), codes=BRANCH)
    return qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})


@pytest.mark.parametrize("codes", [
    {"Themes/**": "measurement"},
    {"Themes": {"element": "measurement", "include_children": True}},
    {"00000000-0000-0000-0000-0000000000C1/**": "measurement"},
])
def test_a_branch_maps_a_code_and_its_descendants_into_one_coding_per_coder(tmp_path, codes):
    imported = frames(coded_branch(tmp_path), codes)
    assert rows(imported.codings, ["coder", "code_id"]) == [("Ana", "measurement"), ("Ben", "measurement")]
    assert tally(imported.report)["codings"] == (4, 2) and tally(imported.report)["codes"] == (4, 4)
    assert left_out(imported.report, "codings") == {
        "repeats another coding's segment, coder and element (merged into one)": 2
    }
    assert any("2 codings merged" in note for note in imported.report.notes)


def test_an_entry_naming_a_code_beats_the_branch_holding_it(tmp_path):
    imported = frames(coded_branch(tmp_path), {"Themes/**": "measurement", "Themes/Huddles": "taking_action"})
    assert rows(imported.codings, ["coder", "code_id"]) == [
        ("Ana", "measurement"), ("Ana", "taking_action"), ("Ben", "measurement"),
    ]


def test_a_parent_whose_codings_sit_below_it_is_not_silently_empty(tmp_path):
    path = coded_branch(tmp_path)
    with pytest.raises(InputError, match=r"codes: 'Themes' has no codings of its own, but 4 codings sit on codes "
                                         r"below it .*write 'Themes/\*\*'"):
        frames(path, {"Themes": "measurement"})
    partly = write_mapping(tmp_path, codes={"Themes/Measurement": "measurement", "Themes/Huddles": "taking_action"},
                           unmapped_codes="ignore")
    imported = read_mapped(partly)
    assert ("codes: 'Themes/Measurement' is mapped without the 2 codings on codes below it (such as "
            "'Themes/Measurement/Charts'); write 'Themes/Measurement/**' to take them with it") in imported.report.notes


def test_a_code_mapped_twice_names_both_entries_and_the_mapping_file(tmp_path):
    coded_branch(tmp_path)
    mapping = write_mapping(tmp_path, codes={"Themes/Measurement": "measurement",
                                             "{00000000-0000-0000-0000-0000000000C2}": "taking_action"},
                            unmapped_codes="ignore")
    with pytest.raises(InputError, match=r"^exports/project_mapping\.yaml: codes: the entries 'Themes/Measurement' "
                                         r"and '\{00000000-0000-0000-0000-0000000000C2\}' both map the code "
                                         r"'Themes/Measurement'"):
        read_mapped(mapping)
    mapping.write_text("format: refi-qda\nfile: project.qdpx\ncodes:\n  Themes/Measurement: measurement\n"
                       "  Themes/Huddles: taking_action\n  Themes/Measurement: building_knowledge\n")
    with pytest.raises(InputError, match=r"^exports/project_mapping\.yaml: codes: 'Themes/Measurement' is given "
                                         r"twice \(lines 4 and 6\)"):
        read_mapped(mapping)


@pytest.mark.parametrize(("codes", "message"), [
    ({"Themes/Measurment": "measurement"}, r"codes: 'Themes/Measurment' is neither a code path nor a code guid in "
                                           r"the codebook of exports/project\.qdpx; did you mean 'Themes/Measurement'"),
    ({"Themes/**": "measure"}, r"codes: 'Themes/\*\*' maps to 'measure', which is not an element"),
])
def test_mapping_errors_name_the_mapping_file_and_the_entry(tmp_path, codes, message):
    coded_branch(tmp_path)
    with pytest.raises(InputError, match=r"^exports/project_mapping\.yaml: " + message):
        read_mapped(write_mapping(tmp_path, codes=codes))


def test_unmapped_codes_are_named_in_the_mapping_file(tmp_path):
    coded_branch(tmp_path)
    with pytest.raises(InputError, match=r"^exports/project_mapping\.yaml: codings use codes the mapping does not "
                                         r"map: \['Themes/Huddles', 'Themes/Measurement/Charts'\]"):
        read_mapped(write_mapping(tmp_path, codes={"Themes/Measurement": "measurement"}))
    imported = read_mapped(write_mapping(tmp_path, codes={"Themes/Measurement": "measurement"},
                                         unmapped_codes="ignore"))
    assert left_out(imported.report, "codes") == {"not in the mapping (its codings are left out)": 2,
                                                  "not in the mapping (no codings)": 1}


def test_mapping_inputs_name_the_project_and_the_table(tmp_path):
    mapping = write_mapping(tmp_path, sources={"from": "table", "table": "units.csv"})
    assert refiqda.mapping_inputs(mapping) == [tmp_path / "project.qdpx", tmp_path / "units.csv"]


# --------------------------------------------------------------------------------------
# Writing back: a project read and written unchanged loses nothing, and validates against the schema.

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "refi-qda" / "Project-mrt2019.xsd"
needs_schema = pytest.mark.skipif(
    not SCHEMA.exists(),
    reason=f"the REFI-QDA project schema is not at {SCHEMA} (../shared/refi-qda/ beside the checkout); "
           "the written projects were NOT validated against it",
)
DIALECTS = {"qc": dialects.write_qc, "nvivo": dialects.write_nvivo_mac, "maxqda": dialects.write_maxqda,
            "atlas": dialects.write_atlas}


def fingerprint(root) -> list[tuple]:
    """Every element as (its path of local names, its attributes, its text and tail without the
    whitespace between elements), in document order within each parent's kind of child."""
    found = []

    def walk(element, path: str) -> None:
        here = f"{path}/{element.tag.split('}')[-1]}"
        found.append((here, tuple(sorted(element.attrib.items())), (element.text or "").strip() and element.text))
        for child in element:
            walk(child, here)

    walk(root, "")
    return sorted(found, key=repr)


def project_element(path: Path):
    archive = zipfile.ZipFile(path)
    return ElementTree.fromstring(archive.read(next(n for n in archive.namelist() if n.endswith(".qde"))))


def write_back(mapping_path: Path, out: Path, codings: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write the project a mapping reads back to ``out`` (with the study's codings, by default the
    import's own), and the mapping that reads it, as ``workbench export-qdpx`` does."""
    mapping = refiqda.read_coding_mapping(mapping_path)
    original = refiqda.read_qdpx(mapping_path.parent / mapping.file, keep_files=True)
    imported = load_mapping(mapping_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    codes = refiqda.write_qdpx(out, name="unused", codings=imported.codings if codings is None else codings,
                               interviews=imported.interviews, microsystems=None, frameworks=FRAMEWORKS,
                               project=original, mapping=mapping)
    written = yaml.safe_load(mapping_path.read_text())
    written.update(file=out.name, codes=codes)
    table = mapping.assignment.table
    if table:
        (out.parent / table).write_bytes((mapping_path.parent / table).read_bytes())
    path = out.with_name(f"{out.stem}_mapping.yaml")
    path.write_text(yaml.safe_dump(written, sort_keys=False, allow_unicode=True))
    return out, path


def load_mapping(mapping_path: Path) -> refiqda.CodingImport:
    return refiqda.read_coded_interviews(mapping_path, framework_of=FRAMEWORK_OF,
                                         microsystem_ids=dialects.MICROSYSTEMS, roles=dialects.ROLES)


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_dialect_project_written_back_loses_nothing(tmp_path, dialect):
    mapping_path = DIALECTS[dialect](tmp_path)
    source = mapping_path.parent / refiqda.read_coding_mapping(mapping_path).file
    written, written_mapping = write_back(mapping_path, tmp_path / "out" / "back.qdpx")
    before, after = refiqda.read_qdpx(source, keep_files=True), refiqda.read_qdpx(written, keep_files=True)
    assert after.in_file == before.in_file  # every kind of element, as many as before
    assert after.members == before.members  # every transcript (and rich text, and stray file) byte for byte
    assert after.sources == before.sources and after.selections == before.selections
    assert after.codings == before.codings  # every selection's guid, start, end and text; every coding's coder and code
    for coding in after.codings:
        assert after.sources[coding.source][coding.start:coding.end] == before.sources[coding.source][coding.start:
                                                                                                       coding.end]
    assert after.users == before.users and after.variables == before.variables
    assert after.cases == before.cases and after.source_variables == before.source_variables
    assert after.source_info == before.source_info
    assert after.codes == before.codes  # hierarchy, names, guids, colours, descriptions
    # Nothing else either: every element with every attribute (guids as written, braces and case kept) and text.
    assert fingerprint(project_element(written)) == fingerprint(project_element(source))
    again, first = load_mapping(written_mapping), load_mapping(mapping_path)
    pd.testing.assert_frame_equal(again.codings, first.codings)
    pd.testing.assert_frame_equal(again.interviews, first.interviews)
    assert again.transcripts == first.transcripts
    assert [(c.element, c.in_file, c.used, c.left_out) for c in again.report.counts] == [
        (c.element, c.in_file, c.used, c.left_out) for c in first.report.counts
    ]


def test_sets_notes_links_and_graphs_are_written_back(tmp_path):
    for writer, kinds in ((dialects.write_maxqda, ("Sets",)), (dialects.write_atlas, ("Notes", "Links", "Graphs"))):
        mapping_path = writer(tmp_path)
        source = mapping_path.parent / refiqda.read_coding_mapping(mapping_path).file
        written, _ = write_back(mapping_path, tmp_path / "out" / source.name)
        for kind in kinds:
            before = project_element(source).find(f"q:{kind}", NS)
            after = project_element(written).find(f"q:{kind}", NS)
            assert ElementTree.tostring(after) == ElementTree.tostring(before)
    # The ATLAS.ti codebook, declared in the codebook namespace 0:4, is written in the project's.
    assert project_element(written).find("q:CodeBook/q:Codes/q:Code", NS) is not None


def test_codings_the_project_does_not_hold_are_added_and_read_back(tmp_path):
    mapping_path = dialects.write_maxqda(tmp_path)
    first = load_mapping(mapping_path)
    existing = first.codings.iloc[2]  # Ben's "Wir messen wöchentlich"
    text = first.transcripts[existing["interview_id"]]
    start = text.index("Die Übergabe")
    extra = pd.DataFrame([
        existing.to_dict() | {"coder": "Cleo"},  # a new coder on a stretch the project has
        existing.to_dict() | {"segment_id": "handover", "coder": "Ana", "framework_id": "leading_processes",
                              "code_id": "taking_action", "excerpt": "Die Übergabe", "start": start,
                              "end": start + len("Die Übergabe")},  # an element no code of the project maps onto
    ])
    codings = pd.concat([first.codings, extra], ignore_index=True)
    codings[["start", "end"]] = codings[["start", "end"]].astype("Int64")
    written, written_mapping = write_back(mapping_path, tmp_path / "out" / "more.qdpx", codings)
    before, after = refiqda.read_qdpx(mapping_path.parent / "maxqda.qdpx"), refiqda.read_qdpx(written)
    grown = {kind: after.in_file[kind] - before.in_file[kind] for kind in after.in_file}
    assert grown == {**dict.fromkeys(grown, 0), "users": 1, "codes": 2, "selections": 1, "codings": 2}
    added = {code.path: code for code in after.codes.values() if code.guid not in before.codes}
    title = FRAMEWORKS[1].title
    assert sorted(added) == [title, f"{title}/Taking action"] and not added[title].codable
    mapping = yaml.safe_load(written_mapping.read_text())
    assert mapping["codes"][added[f"{title}/Taking action"].guid] == "taking_action"
    again = load_mapping(written_mapping)
    order = ["interview_id", "start", "end", "coder", "code_id"]
    pd.testing.assert_frame_equal(again.codings.sort_values(order).reset_index(drop=True),
                                  codings.sort_values(order).reset_index(drop=True), check_dtype=False)
    if SCHEMA.exists():
        assert refiqda.validate_project(zipfile.ZipFile(written).read("project.qde"), SCHEMA) == []


def test_a_project_is_written_back_only_with_its_files_and_mapping(tmp_path):
    mapping_path = dialects.write_qc(tmp_path)
    mapping = refiqda.read_coding_mapping(mapping_path)
    imported = load_mapping(mapping_path)
    arguments = dict(name="x", codings=imported.codings, interviews=imported.interviews, microsystems=None,
                     frameworks=FRAMEWORKS)
    with pytest.raises(ValueError, match=r"keep_files=True"):
        refiqda.write_qdpx(tmp_path / "x.qdpx", project=refiqda.read_qdpx(tmp_path / "qc.qdpx"), mapping=mapping,
                           **arguments)
    with pytest.raises(ValueError, match=r"needs the mapping"):
        refiqda.write_qdpx(tmp_path / "x.qdpx", project=refiqda.read_qdpx(tmp_path / "qc.qdpx", keep_files=True),
                           **arguments)


def test_inline_text_with_carriage_returns_keeps_every_character(tmp_path):
    crlf = TEXT.replace("\n", "\r\n")
    start, end = crlf.index("We chart"), crlf.index(" and talk")
    inline = crlf.replace("\r", "&#13;")
    source = ('<TextSource guid="00000000-0000-0000-0000-0000000000f1" name="INT1">'
              f"<PlainTextContent>{inline}</PlainTextContent>{selection(start, end)}{VARIABLES}</TextSource>")
    path = qdpx(tmp_path, project_xml(source))
    mapping = write_mapping(tmp_path)
    written, _ = write_back_hand_made(mapping, tmp_path / "out" / "back.qdpx")
    assert refiqda.read_qdpx(written).sources["INT1"] == refiqda.read_qdpx(path).sources["INT1"] == crlf


def write_back_hand_made(mapping_path: Path, out: Path) -> tuple[Path, Path]:
    mapping = refiqda.read_coding_mapping(mapping_path)
    original = refiqda.read_qdpx(mapping_path.parent / mapping.file, keep_files=True)
    imported = refiqda.project_frames(original, mapping, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01", "MS02"],
                                      roles=["Nurse", "Manager"], shown="project.qdpx", folder=mapping_path.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    codes = refiqda.write_qdpx(out, name="unused", codings=imported.codings, interviews=imported.interviews,
                               microsystems=None, frameworks=FRAMEWORKS, project=original, mapping=mapping)
    return out, codes


def test_demo_export_carries_the_full_transcripts(project, capsys):
    from workbench import cli

    assert cli.main(["export-qdpx", "--study", "demo"]) == 0
    captured = capsys.readouterr()
    interviews = pd.read_csv(DEMO / "interviews.csv")
    # every interview of the demo has its transcript in the generated export (counted from the
    # interviews file, as the demo's number of interviews changes when it is regenerated)
    assert f"full transcripts of {len(interviews)} from data/raw/demo/exports/interviews_mapping.yaml" in captured.out
    assert "names are not masked" in captured.err
    out = project / "reports" / "demo"
    written = refiqda.read_qdpx(out / "demo.qdpx")
    raw = pd.read_csv(DEMO / "coded_segments.csv")  # excerpts as written, before names are masked
    assert {name: len(text) for name, text in written.sources.items()} == dict(
        zip(interviews["interview_id"], interviews["characters"])
    )
    generated = refiqda.read_qdpx(DEMO / "exports" / "interviews.qdpx").sources
    assert written.sources == generated  # the generator's transcripts, every character
    for row in raw.itertuples(index=False):
        assert written.sources[row.interview_id][row.start:row.end] == row.excerpt
    assert len(written.codings) == len(raw)
    demo_study = load_study(DEMO)
    mapping = yaml.safe_load((out / "demo_mapping.yaml").read_text())
    again = read_back(out / "demo.qdpx", mapping["codes"], demo_study)
    first = read_back(DEMO / "exports" / "interviews.qdpx",
                      yaml.safe_load((DEMO / "exports" / "interviews_mapping.yaml").read_text())["codes"], demo_study)
    pd.testing.assert_frame_equal(again.codings, first.codings)
    pd.testing.assert_frame_equal(again.interviews, first.interviews)


def test_export_uses_only_transcripts_that_fit_the_codings(tmp_path, demo):
    texts = {"INT001": "too short", "INT002": "x" * int(demo.interviews["characters"].iloc[1])}
    raw = pd.read_csv(DEMO / "coded_segments.csv")
    generated = refiqda.read_qdpx(DEMO / "exports" / "interviews.qdpx").sources
    kept, refused = refiqda.transcripts_matching({**texts, "INT003": generated["INT003"]}, demo.interviews, raw)
    assert list(kept) == ["INT003"]
    assert refused["INT001"].startswith("the transcript has 9 characters, the interview ")
    assert refused["INT002"].startswith("the text at the positions of 'SEG")
    assert refiqda.transcripts_in(DEMO / "exports" / "interviews_mapping.yaml") == generated
    assert refiqda.transcripts_in(DEMO / "exports" / "redcap_mapping.yaml") == {}
    (tmp_path / "INT009.txt").write_bytes(b"\xef\xbb\xbfline\r\n")
    assert refiqda.transcripts_in(tmp_path) == {"INT009": "line\r\n"}


def test_a_study_read_from_a_qda_project_is_exported_whole_and_reads_back_identically(project, demo_copy, capsys):
    from workbench import cli

    dialects.write_qc(demo_copy / "exports")
    with_coding_export(demo_copy, "exports/qc_mapping.yaml")
    before = load_study("demo")
    assert cli.main(["export-qdpx", "--study", "demo"]) == 0
    assert "written back whole (1 user, 6 codes, 3 sources, 5 selections, 7 codings)" in capsys.readouterr().out
    out = project / "reports" / "demo"
    assert sorted(p.name for p in out.iterdir()) == ["demo.qdc", "demo.qdpx", "demo_mapping.yaml",
                                                    "demo_sources.csv"]
    assert (out / "demo_sources.csv").read_bytes() == (demo_copy / "exports" / "qc_sources.csv").read_bytes()
    back = demo_copy / "back"
    back.mkdir()
    for name in ("demo.qdpx", "demo_mapping.yaml", "demo_sources.csv"):
        (back / name).write_bytes((out / name).read_bytes())
    with_coding_export(demo_copy, "back/demo_mapping.yaml")
    after = load_study("demo")
    pd.testing.assert_frame_equal(after.codings, before.codings)
    pd.testing.assert_frame_equal(after.interviews, before.interviews)
    assert cli.main(["export-qdpx", "--study", "demo", "--transcripts", str(back)]) == 2
    assert "--transcripts is for a study read from CSV files" in capsys.readouterr().err


def empty_containers(tmp_path: Path) -> Path:
    """A project with no codings and empty <Users/>, <Cases/> and <Variables/> (the schema refuses them)."""
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', ""), cases=" ")
    xml = re.sub(r"<Users>.*?</Users>", "<Users/>", xml, flags=re.S)
    xml = re.sub(r"<Variables>.*?</Variables>", "<Variables></Variables>", xml, flags=re.S)
    xml = xml.replace(VARIABLES, "")
    qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    (tmp_path / "units.csv").write_text("source,microsystem_id,interviewee_role,interview_date\n"
                                        "INT1,MS01,Nurse,2026-03-01\n")
    return write_mapping(tmp_path, sources={"from": "table", "table": "units.csv"})


def written_projects(tmp_path: Path, case: str) -> bytes:
    """The project.qde of each kind of project the workbench writes."""
    demo = load_study(DEMO)
    frames = dict(codings=demo.codings, interviews=demo.interviews, microsystems=demo.microsystems,
                  frameworks=FRAMEWORKS)
    out = tmp_path / "out" / "written.qdpx"
    out.parent.mkdir()
    if case == "demo":
        transcripts = refiqda.read_qdpx(DEMO / "exports" / "interviews.qdpx").sources
        refiqda.write_qdpx(out, name="demo", transcripts=transcripts, **frames)
    elif case == "demo built from excerpts":
        refiqda.write_qdpx(out, name="demo", **frames)
    elif case == "no codings":
        refiqda.write_qdpx(out, name="none", **frames | {"codings": demo.codings.iloc[:0]})
    elif case == "no codings, written back":
        out, _ = write_back_hand_made(empty_containers(tmp_path), out)
    else:
        out, _ = write_back(DIALECTS[case](tmp_path), out)
    return zipfile.ZipFile(out).read("project.qde")


@needs_schema
@pytest.mark.parametrize("case", ["demo", "demo built from excerpts", "no codings", "no codings, written back",
                                  *DIALECTS])
def test_written_projects_are_valid_against_the_refi_qda_schema(tmp_path, case):
    xml = written_projects(tmp_path, case)
    assert refiqda.validate_project(xml, SCHEMA) == []
    if case.startswith("no codings"):
        assert b"<Users" not in xml and b"<Coding " not in xml


@needs_schema
def test_the_schema_check_names_what_is_wrong(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', "")).replace(
        "<Users>", "<Users/><Users>").encode()
    problems = refiqda.validate_project(xml, SCHEMA)
    assert problems and all("Users" in problem for problem in problems)
    original = project_element(dialects.write_atlas(tmp_path).with_name("atlas.qdpx"))
    assert refiqda.validate_project(ElementTree.tostring(original), SCHEMA)  # a 0:4 codebook inside a project


# --------------------------------------------------------------------------------------
# Free text from the project that becomes an id passes through the study's scrubber.

NAMED_SOURCES = {  # guid end -> (source name, its selection's name, its selection's end)
    "f1": ("Interview with Ann Smith", "", END),
    "f2": ("Bo Ng, ward nurse", "", END - 1),
    "f3": ("INT3", "Smith", END - 2),  # a selection named after what it selects
}


def named_sources_project(tmp_path: Path) -> Path:
    """Sources of MS01 named after people on the roster (and one plain), plus a source in no case
    whose name holds a name and a phone number."""
    sources, refs = "", ""
    for end_of_guid, (name, label, end) in {**NAMED_SOURCES, "f4": ("Call Bo Ng on 020 7946 0958", "", END)}.items():
        sources += (f'<TextSource guid="00000000-0000-0000-0000-0000000000{end_of_guid}" name="{name}" '
                    f'plainTextPath="internal://{end_of_guid}.txt">{selection(START, end, name=label)}{VARIABLES}'
                    "</TextSource>\n")
        if end_of_guid != "f4":
            refs += f'<SourceRef targetGUID="00000000-0000-0000-0000-0000000000{end_of_guid}"/>'
    xml = project_xml(sources, cases=f'<Case guid="00000000-0000-0000-0000-0000000000a1" name="MS01">{refs}</Case>')
    return qdpx(tmp_path, xml, {f"sources/f{n}.txt": TEXT.encode() for n in range(1, 5)})


def test_source_names_holding_a_name_become_generated_interview_ids(tmp_path):
    named_sources_project(tmp_path)
    mapping = write_mapping(tmp_path, sources={"from": "cases", "unassigned": "ignore"})
    scrub = privacy.scrubber(["Ann Smith", "Bo Ng"])
    imported = refiqda.read_coded_interviews(mapping, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01"],
                                             roles=["Nurse"], shown_folder="exports", scrub=scrub)
    ids = ["interview-000000f1", "interview-000000f2", "INT3"]
    assert imported.interviews["interview_id"].tolist() == ids
    assert list(imported.transcripts) == ids
    assert imported.codings["segment_id"].tolist() == [
        f"interview-000000f1:{START}-{END}", f"interview-000000f2:{START}-{END - 1}", f"INT3:{START}-{END - 2}",
    ]
    notes = imported.report.notes
    assert "2 source names held what the study's scrubber masks" in " ".join(notes)
    assert "1 selection name held what the study's scrubber masks" in " ".join(notes)
    assert "'Call [name] on [phone]'" in " ".join(notes)  # the note naming the source left out is scrubbed
    shown = json.dumps(imported.report.to_dict()) + imported.interviews.to_csv() + imported.codings.to_csv()
    for leak in ("Ann", "Smith", "Bo Ng", "7946"):
        assert leak not in shown
    again = refiqda.read_coded_interviews(mapping, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01"],
                                          roles=["Nurse"], shown_folder="exports", scrub=scrub)
    pd.testing.assert_frame_equal(again.codings, imported.codings)  # the same ids on every build
    plain = refiqda.read_coded_interviews(mapping, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01"],
                                          roles=["Nurse"], shown_folder="exports")
    assert plain.interviews["interview_id"].tolist() == [name for name, _, _ in NAMED_SOURCES.values()]


def test_a_project_with_generated_interview_ids_is_written_back_whole(tmp_path):
    path = named_sources_project(tmp_path)
    mapping_path = write_mapping(tmp_path, sources={"from": "cases", "unassigned": "ignore"})
    imported = refiqda.read_coded_interviews(mapping_path, framework_of=FRAMEWORK_OF, microsystem_ids=["MS01"],
                                             roles=["Nurse"], scrub=privacy.scrubber(["Ann Smith", "Bo Ng"]))
    original = refiqda.read_qdpx(path, keep_files=True)
    out = tmp_path / "out" / "back.qdpx"
    out.parent.mkdir()
    refiqda.write_qdpx(out, name="unused", codings=imported.codings, interviews=imported.interviews,
                       microsystems=None, frameworks=FRAMEWORKS, project=original,
                       mapping=refiqda.read_coding_mapping(mapping_path))
    assert fingerprint(project_element(out)) == fingerprint(project_element(path))  # every coding already held


def test_a_study_scrubs_the_source_names_of_its_qda_project(demo_copy):
    project_file = demo_copy / "exports" / "interviews.qdpx"
    with zipfile.ZipFile(project_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["project.qde"] = members["project.qde"].replace(b'name="INT001"', b'name="INT001 Dana Whitfield"')
    with zipfile.ZipFile(project_file, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with_coding_export(demo_copy, "exports/interviews_mapping.yaml")
    (demo_copy / "coded_segments.csv").unlink()
    study = load_study("demo")
    assert "interview-bdb3e2ca" in set(study.interviews["interview_id"])  # the end of INT001's guid
    assert not study.interviews["interview_id"].str.contains("Whitfield|INT001").any()
    assert not study.codings["interview_id"].str.contains("Whitfield").any()
    assert any("1 source name held" in note for report in study.imports for note in report.notes)


def test_a_windows_1252_transcript_that_begins_like_a_utf16_mark_is_read_as_windows_1252(tmp_path):
    text = "ÿþ " + TEXT.replace("falls", "falls – café")  # 0xFF 0xFE, then Windows-1252 bytes
    start, end = text.index("We chart"), text.index(" and talk")
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(start, end)))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": text.encode("cp1252")})
    result = frames(path)
    assert result.codings["excerpt"].item() == "We chart falls – café every week"
    assert any("read as Windows-1252" in note for note in result.report.notes)


def test_a_utf16_transcript_with_its_mark_is_read_as_utf16(tmp_path):
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode("utf-16")})
    assert frames(path).codings["excerpt"].item() == "We chart falls every week"


@pytest.mark.parametrize("depth", [200, 3000])
def test_a_deeply_nested_codebook_is_read_or_refused_in_one_line_never_a_crash(tmp_path, depth):
    opening = "".join(f'<Code guid="00000000-0000-0000-0001-{n:012d}" name="level {n}" isCodable="false">'
                      for n in range(depth))
    codes = (opening + '<Code guid="00000000-0000-0000-0000-0000000000c2" name="Measurement" isCodable="true"/>'
             + "</Code>" * depth)
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)), codes=codes)
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    code_path = "/".join(f"level {n}" for n in range(depth)) + "/Measurement"
    try:
        result = frames(path, codes={code_path: "measurement"})
    except InputError as error:
        assert "\n" not in str(error) and "project.qdpx" in str(error)
    else:
        assert result.codings["code_id"].item() == "measurement"
