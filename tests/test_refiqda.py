"""REFI-QDA projects: what tools write is read, what we write reads back identically."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from defusedxml import ElementTree

from tests.conftest import DEMO
from workbench.errors import InputError
from workbench.frameworks import load_framework
from workbench.io import refiqda
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
    assert "the project has no codings" in frames(path).notes
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', selection(START, END)))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": TEXT.encode()})
    assert any("made by one coder (Ana)" in note for note in frames(path).notes)


def test_crlf_sources_whose_positions_count_crlf_as_one_character(tmp_path):
    crlf = TEXT.replace("\n", "\r\n")
    named = selection(START, END, name="We chart falls every week")
    xml = project_xml(text_source('plainTextPath="internal://f1.txt"', named))
    path = qdpx(tmp_path, xml, {"sources/f1.txt": crlf.encode()})
    result = frames(path)
    assert result.codings["excerpt"].item() == "We chart falls every week"
    assert any("CRLF" in note for note in result.notes)


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
