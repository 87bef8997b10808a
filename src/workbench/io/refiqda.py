"""REFI-QDA project exchange (``.qdpx``) and codebook exchange (``.qdc``): read and write.

A ``.qdpx`` file is a zip holding ``project.qde`` (XML in the namespace
``urn:QDA-XML:project:1.0``) and a ``sources/`` folder. NVivo, ATLAS.ti, MAXQDA,
QualCoder and Taguette write it; this module reads what they write into the workbench's
coded-segment frames and writes the workbench's coding back for them.

Reading, and what is assumed:

* A **segment** is one stretch of one source: a ``PlainTextSelection``'s start and end
  positions. Every ``Coding`` in it is one coder (its ``creatingUser``) applying one code,
  so agreement can be computed from one project file. Selections by different coders
  over the same stretch are the same segment.
* **Positions** count characters (Unicode code points) of the source's plain text, the
  end exclusive. Tools differ on line endings: when a source has CRLF line breaks and a
  selection's recorded text (its ``name``) matches the source only if each CRLF counts
  as one character, that source's positions are read that way; the summary says so.
* **Codes** are keyed by guid, shown by their path in the codebook (``Parent/Child``),
  so the same name in two branches stays two codes. A mapping file ties codes (by path
  or guid) to a framework's elements.
* **Cases** are microsystems: a case's name is the microsystem id, and the sources it
  refers to are that microsystem's interviews.
* Sources are found as ``internal://<file>`` (in ``sources/``), by bare file name, or as
  inline ``PlainTextContent``. Empty sources and non-text sources (PDF, pictures, audio,
  ``.docx`` rich text without a plain-text version) are listed in the summary, not read.

The XML is parsed with ``defusedxml`` (no entity expansion) and no archive member is ever
extracted to disk, so hostile files cannot write outside the project.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal
from xml.etree import ElementTree

import pandas as pd
from defusedxml import ElementTree as SafeElementTree
from pydantic import BaseModel, ConfigDict

from workbench.errors import InputError
from workbench.io.files import read_yaml_model, stable_zip, write_bytes_atomic

__all__ = [
    "CODEBOOK_NS", "GUID_NAMESPACE", "NON_TEXT_SOURCES", "PROJECT_NS", "Code", "CodingImport", "CodingMapping",
    "QdaProject", "Selection", "project_frames", "read_coded_interviews", "read_coding_mapping", "read_qdc",
    "read_qdpx", "study_codebook", "write_qdc", "write_qdpx",
]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
NON_TEXT_SOURCES = ("PDFSource", "PictureSource", "AudioSource", "VideoSource")
GUID_NAMESPACE = uuid.UUID("6f1b6a0e-4c53-4e7b-9a5e-2f7c1d3a8b90")  # makes written guids reproducible


def _q(tag: str, namespace: str = PROJECT_NS) -> str:
    return f"{{{namespace}}}{tag}"


# --------------------------------------------------------------------------------------
# The project as plain data, between XML and the workbench's frames.


@dataclass
class Code:
    guid: str
    name: str
    path: str
    codable: bool = True
    description: str = ""
    color: str | None = None
    parent: str | None = None  # parent guid


@dataclass
class Selection:
    """One coding: a coder applying a code to a stretch of a source."""

    selection_guid: str
    source: str  # source name
    start: int
    end: int
    name: str
    coder: str
    code_guid: str


@dataclass
class QdaProject:
    name: str
    users: dict[str, str] = field(default_factory=dict)  # guid -> name
    codes: dict[str, Code] = field(default_factory=dict)  # guid -> code, in codebook order
    sources: dict[str, str] = field(default_factory=dict)  # source name -> plain text
    source_variables: dict[str, dict[str, str]] = field(default_factory=dict)
    cases: dict[str, dict] = field(default_factory=dict)  # case name -> {"variables": {...}, "sources": [names]}
    codings: list[Selection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader set aside or assumed

    def codebook(self) -> pd.DataFrame:
        """One row per code: ``guid``, ``name``, ``path``, ``parent``, ``codable``, ``description``."""
        return pd.DataFrame(
            [
                {
                    "guid": c.guid,
                    "name": c.name,
                    "path": c.path,
                    "parent": c.parent,
                    "codable": c.codable,
                    "description": c.description,
                }
                for c in self.codes.values()
            ],
            columns=["guid", "name", "path", "parent", "codable", "description"],
        )

    def coders(self) -> list[str]:
        return sorted({c.coder for c in self.codings})


# --------------------------------------------------------------------------------------
# Reading.


def read_qdpx(path: Path, *, label: str | None = None) -> QdaProject:
    """Read a ``.qdpx`` project (or a bare ``.qde`` XML file) into a :class:`QdaProject`."""
    shown = label or str(path)
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=shown)
    if path.suffix.lower() == ".qde":
        return _parse_project(path.read_bytes(), {}, shown)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError("not a REFI-QDA .qdpx file: expected a zip archive holding project.qde", file=shown) from None
    with archive:
        members = {}
        for info in archive.infolist():
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if member.is_absolute() or ".." in member.parts:
                raise InputError(
                    f"archive member {info.filename!r} points outside the archive; "
                    "refusing a file built to escape its folder",
                    file=shown,
                )
            members[str(member)] = info.filename
        qde = [name for name in members if name.lower().endswith(".qde")]
        if not qde:
            raise InputError(f"no project.qde in the archive (it holds {sorted(members)[:8]})", file=shown)
        xml = archive.read(members[qde[0]])
        files = {name: (lambda n=members[name]: archive.read(n)) for name in members if name not in qde}
        return _parse_project(xml, files, shown)


def _parse_project(xml: bytes, files: dict, shown: str) -> QdaProject:
    try:
        root = SafeElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        line, column = error.position
        raise InputError(
            f"project.qde is not well-formed XML: {error.msg if hasattr(error, 'msg') else error} "
            f"(line {line}, column {column})",
            file=shown,
        ) from None
    except Exception as error:  # defusedxml refuses entity tricks with its own exceptions
        raise InputError(
            f"project.qde was refused by the safe XML parser: {type(error).__name__}", file=shown
        ) from None
    if root.tag != _q("Project"):
        raise InputError(f"expected a <Project> element in the namespace {PROJECT_NS}, found {root.tag}", file=shown)
    project = QdaProject(name=root.get("name", ""))
    for user in root.iterfind(f"{_q('Users')}/{_q('User')}"):
        project.users[_guid(user.get("guid"))] = user.get("name") or user.get("id") or _guid(user.get("guid"))
    codes = root.find(f"{_q('CodeBook')}/{_q('Codes')}")
    if codes is not None:
        for code in codes.findall(_q("Code")):
            _read_code(code, None, "", project, shown)
    variables = {_guid(v.get("guid")): v.get("name", "") for v in root.iterfind(f"{_q('Variables')}/{_q('Variable')}")}
    source_names: dict[str, str] = {}
    sources = root.find(_q("Sources"))
    if sources is not None:
        for source in sources:
            _read_source(source, project, files, variables, source_names, shown)
    for case in root.iterfind(f"{_q('Cases')}/{_q('Case')}"):
        name = case.get("name") or _guid(case.get("guid"))
        project.cases[name] = {
            "variables": _variable_values(case, variables),
            "sources": [
                source_names[_guid(ref.get("targetGUID"))]
                for ref in case.findall(_q("SourceRef"))
                if _guid(ref.get("targetGUID")) in source_names
            ],
        }
    return project


def _guid(value: str | None) -> str:
    return (value or "").strip("{}").lower()


def _read_code(
    element, parent: str | None, prefix: str, project: QdaProject, shown: str, namespace: str = PROJECT_NS
) -> None:
    """A code and its children, keyed by guid, with its path from the codebook's root."""
    guid = _guid(element.get("guid"))
    name = element.get("name", "")
    if not guid:
        raise InputError(f"a <Code> named {name!r} has no guid", file=shown)
    path = f"{prefix}/{name}" if prefix else name
    description = element.findtext(_q("Description", namespace)) or ""
    codable = element.get("isCodable", "true").lower() == "true"
    project.codes[guid] = Code(guid, name, path, codable, description.strip(), element.get("color"), parent)
    for child in element.findall(_q("Code", namespace)):
        _read_code(child, guid, path, project, shown, namespace)


def _variable_values(element, variables: dict[str, str]) -> dict[str, str]:
    values = {}
    for value in element.findall(_q("VariableValue")):
        ref = value.find(_q("VariableRef"))
        name = variables.get(_guid(ref.get("targetGUID")) if ref is not None else "", "")
        for child in value:
            if child.tag != _q("VariableRef"):
                values[name] = (child.text or "").strip()
    return values


def _read_source(source, project: QdaProject, files: dict, variables: dict, source_names: dict, shown: str) -> None:
    kind = source.tag.split("}")[-1]
    guid = _guid(source.get("guid"))
    name = source.get("name") or guid
    source_names[guid] = name
    if kind in NON_TEXT_SOURCES:
        project.notes.append(f"source {name!r} is a {kind.removesuffix('Source')} source; only text sources are read")
        return
    if kind != "TextSource":
        project.notes.append(f"source {name!r} is a {kind}; not read")
        return
    text = _source_text(source, files, name, project)
    if text is None:
        return
    if not text.strip():
        project.notes.append(f"source {name!r} is empty")
    project.sources[name] = text
    project.source_variables[name] = _variable_values(source, variables)
    crlf_as_one = None
    for selection in source.findall(_q("PlainTextSelection")):
        start = _position(selection, "startPosition", name, shown)
        end = _position(selection, "endPosition", name, shown)
        label = selection.get("name") or ""
        if crlf_as_one is None and "\r\n" in text and label:
            crlf_as_one = _crlf_counts_as_one(text, start, end, label)
            if crlf_as_one:
                project.notes.append(
                    f"source {name!r} has CRLF line breaks and its positions count each as one character"
                )
        length = len(text.replace("\r\n", "\n")) if crlf_as_one else len(text)
        if not 0 <= start < end <= length:
            raise InputError(
                f"selection {selection.get('guid')} in source {name!r} runs from {start} to {end}, "
                f"but the source has {length} characters; "
                "expected 0 <= start < end <= length",
                file=shown,
            )
        for coding in selection.findall(_q("Coding")):
            ref = coding.find(_q("CodeRef"))
            code_guid = _guid(ref.get("targetGUID")) if ref is not None else ""
            if code_guid not in project.codes:
                raise InputError(
                    f"a coding in selection {selection.get('guid')} of source {name!r} "
                    f"refers to code {code_guid or '(none)'}, which is not in the codebook",
                    file=shown,
                )
            user = _guid(coding.get("creatingUser") or selection.get("creatingUser"))
            coder = project.users.get(user, user or "unknown")
            project.codings.append(Selection(_guid(selection.get("guid")), name, start, end, label, coder, code_guid))
    if crlf_as_one:
        project.sources[name] = text.replace("\r\n", "\n")


def _position(selection, attribute: str, source: str, shown: str) -> int:
    value = selection.get(attribute)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(
            f"selection {selection.get('guid')} in source {source!r} has {attribute}={value!r}; "
            "expected a whole number",
            file=shown,
        ) from None


def _crlf_counts_as_one(text: str, start: int, end: int, label: str) -> bool:
    """Does the recorded selection text match only when CRLF is counted as one character?"""
    probe = label.strip()[:40]
    as_is = text[start:end]
    normalised = text.replace("\r\n", "\n")[start:end]
    return probe not in as_is and probe.replace("\r\n", "\n") in normalised


def _source_text(source, files: dict, name: str, project: QdaProject) -> str | None:
    inline = source.find(_q("PlainTextContent"))
    if inline is not None and inline.text is not None:
        return inline.text
    reference = source.get("plainTextPath")
    if not reference:
        rich = source.get("richTextPath", "")
        project.notes.append(f"source {name!r} has no plain-text version{f' (only {rich})' if rich else ''}; not read")
        return None
    wanted = reference.removeprefix("internal://").replace("\\", "/").lstrip("/")
    candidates = [
        member
        for member in files
        if member == wanted or member.endswith("/" + wanted) or PurePosixPath(member).name == PurePosixPath(wanted).name
    ]
    if not candidates:
        project.notes.append(f"source {name!r} points to {reference!r}, which is not in the archive; not read")
        return None
    data = files[candidates[0]]()
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    project.notes.append(f"source {name!r} could not be decoded as text; not read")
    return None


# --------------------------------------------------------------------------------------
# From a project to the workbench's frames, through a mapping file.


class CodingMapping(BaseModel):
    """How a QDA project maps onto the study (YAML; paths relative to the mapping file)::

        format: refi-qda
        file: interviews.qdpx
        codes:                       # codebook code (path or guid) -> framework element id
          "Characteristics/Measurement": measurement
        unmapped_codes: error        # error | ignore (codings with other codes are counted, then left out)
        source_variables:            # the study's interview fields -> the source variables holding them
          interviewee_role: Interviewee role
          interview_date: Interview date
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["refi-qda"]
    file: str
    codes: dict[str, str]
    unmapped_codes: Literal["error", "ignore"] = "error"
    source_variables: dict[str, str] = {"interviewee_role": "Interviewee role", "interview_date": "Interview date"}


def read_coding_mapping(path: Path, *, label: str | None = None) -> CodingMapping:
    return read_yaml_model(path, CodingMapping, shown=label, missing="mapping file not found")


@dataclass
class CodingImport:
    """The frames read from a QDA project, with what was assumed or set aside."""

    interviews: pd.DataFrame
    codings: pd.DataFrame
    transcripts: dict[str, str]
    codebook: pd.DataFrame
    notes: list[str]


def project_frames(
    project: QdaProject,
    mapping: CodingMapping,
    *,
    framework_of: dict[str, str],
    microsystem_ids: list[str],
    roles: list[str],
    shown: str,
) -> CodingImport:
    """Turn a read project into the study's interviews and codings frames."""
    from workbench.io.study_csv import codings_frame, interviews_frame

    notes = list(project.notes)
    by_path = {code.path: guid for guid, code in project.codes.items()}
    element_of: dict[str, str] = {}
    for key, element in mapping.codes.items():
        guid = _guid(key) if _guid(key) in project.codes else by_path.get(key)
        if guid is None:
            raise InputError(
                f"codes: {key!r} is neither a code path nor a code guid in the project's codebook "
                f"(paths look like {next(iter(by_path), 'Parent/Child')!r})",
                file=shown,
            )
        if element not in framework_of:
            raise InputError(
                f"codes: {key!r} maps to {element!r}, which is not an element of the study's coding frameworks",
                file=shown,
            )
        element_of[guid] = element

    interview_of_case = {source: case for case, content in project.cases.items() for source in content["sources"]}
    rows = []
    for name, text in project.sources.items():
        if name not in interview_of_case:
            raise InputError(
                f"source {name!r} belongs to no case; "
                "expected every interview to be assigned to the case of its microsystem",
                file=shown,
            )
        case = interview_of_case[name]
        if case not in microsystem_ids:
            raise InputError(
                f"case {case!r} (holding source {name!r}) is not a microsystem_id in the microsystems file", file=shown
            )
        values = project.source_variables.get(name, {})
        row = {
            "interview_id": name,
            "microsystem_id": case,
            "word_count": str(len(text.split())),
            "characters": str(len(text)),
        }
        for field_name, variable in mapping.source_variables.items():
            if variable not in values:
                raise InputError(
                    f"source {name!r} has no variable {variable!r} (needed for {field_name}); it has {sorted(values)}",
                    file=shown,
                )
            row[field_name] = values[variable]
        if row["interviewee_role"] not in roles:
            raise InputError(
                f"source {name!r}: interviewee role {row['interviewee_role']!r} "
                f"is not a role named in study.yaml ({', '.join(roles)})",
                file=shown,
            )
        rows.append(row)
    interview_columns = [
        "interview_id", "microsystem_id", "interviewee_role", "interview_date", "word_count", "characters",
    ]
    interviews = interviews_frame(pd.DataFrame(rows, columns=interview_columns))

    unmapped = sorted({project.codes[c.code_guid].path for c in project.codings if c.code_guid not in element_of})
    if unmapped and mapping.unmapped_codes == "error":
        raise InputError(
            f"codings use codes the mapping does not map: {unmapped[:6]}{' …' if len(unmapped) > 6 else ''}; "
            "map them under codes:, or set unmapped_codes: ignore",
            file=shown,
        )
    kept = [c for c in project.codings if c.code_guid in element_of and c.source in project.sources]
    if len(kept) < len(project.codings):
        notes.append(
            f"{len(project.codings) - len(kept)} codings left out (codes outside the mapping or sources not read)"
        )
    segment_names = _segment_names(kept)
    role_of = interviews.set_index("interview_id")["interviewee_role"]
    case_of = interviews.set_index("interview_id")["microsystem_id"]
    coding_columns = [
        "segment_id", "interview_id", "microsystem_id", "interviewee_role", "coder", "framework_id", "code_id",
        "excerpt", "start", "end",
    ]
    codings = pd.DataFrame([
        {
            "segment_id": segment_names[(c.source, c.start, c.end)],
            "interview_id": c.source,
            "microsystem_id": case_of[c.source],
            "interviewee_role": role_of[c.source],
            "coder": c.coder,
            "framework_id": framework_of[element_of[c.code_guid]],
            "code_id": element_of[c.code_guid],
            "excerpt": project.sources[c.source][c.start:c.end],
            "start": c.start,
            "end": c.end,
        }
        for c in kept
    ], columns=coding_columns)
    codings[["start", "end"]] = codings[["start", "end"]].astype("Int64")
    if codings.empty:
        notes.append("the project has no codings")
    elif codings["coder"].nunique() == 1:
        notes.append(
            f"every coding was made by one coder ({codings['coder'].iloc[0]}); "
            "agreement between coders cannot be computed"
        )
    return CodingImport(interviews, codings_frame(codings), dict(project.sources), project.codebook(), notes)


def _segment_names(codings: list[Selection]) -> dict[tuple[str, int, int], str]:
    """A segment is named by its selections' name when they agree on one that names no other
    stretch (as the workbench writes them); otherwise ``<source>:<start>-<end>``."""
    names: dict[tuple, set] = {}
    for c in codings:
        names.setdefault((c.source, c.start, c.end), set()).add(c.name)
    chosen = {}
    used: dict[str, int] = {}
    for key, labels in names.items():
        label = next(iter(labels)) if len(labels) == 1 else ""
        if label and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", label):
            used[label] = used.get(label, 0) + 1
        chosen[key] = label
    return {
        key: (label if label and used.get(label) == 1 else f"{key[0]}:{key[1]}-{key[2]}")
        for key, label in chosen.items()
    }


def read_coded_interviews(
    mapping_path: Path,
    *,
    framework_of: dict[str, str],
    microsystem_ids: list[str],
    roles: list[str],
    shown_folder: str | None = None,
) -> CodingImport:
    """Read a QDA project through its mapping file (see :class:`CodingMapping`)."""
    mapping_path = Path(mapping_path)
    prefix = f"{shown_folder}/" if shown_folder else f"{mapping_path.parent}/"
    mapping = read_coding_mapping(mapping_path, label=prefix + mapping_path.name)
    shown = prefix + mapping.file
    project = read_qdpx(mapping_path.parent / mapping.file, label=shown)
    return project_frames(
        project, mapping, framework_of=framework_of, microsystem_ids=microsystem_ids, roles=roles, shown=shown
    )


# --------------------------------------------------------------------------------------
# Writing.


def _stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "/".join(parts)))


def study_codebook(frameworks) -> list[Code]:
    """The study's frameworks as a two-level codebook: one uncodable parent per framework."""
    codes = []
    for framework in frameworks:
        parent = _stable_guid("framework", framework.id)
        codes.append(
            Code(parent, framework.title, framework.title, codable=False, description=f"Framework {framework.id}")
        )
        for element in framework.elements:
            codes.append(Code(
                _stable_guid("code", framework.id, element.id),
                element.label,
                f"{framework.title}/{element.label}",
                description=element.description,
                parent=parent,
            ))
    return codes


def write_qdpx(
    path: Path,
    *,
    name: str,
    codings: pd.DataFrame,
    interviews: pd.DataFrame,
    microsystems: pd.DataFrame,
    frameworks,
    transcripts: dict[str, str] | None = None,
    when: datetime = datetime(2026, 1, 1),
) -> dict[str, str]:
    """Write the study's coding as a ``.qdpx`` project; return the code mapping that reads it back.

    Transcripts are the sources; where a transcript is not known, one is built from the
    interview's excerpts in segment order (and the positions are those in the built text).
    Every guid is derived from the study's own ids, so the same study writes the same file.
    """
    codebook = study_codebook(frameworks)
    transcripts, codings = _with_transcripts(codings, interviews, transcripts)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    users = {coder: _stable_guid("user", coder) for coder in sorted(codings["coder"].unique())}
    ElementTree.register_namespace("", PROJECT_NS)
    root = ElementTree.Element(
        _q("Project"), {"name": name, "origin": "clinical microsystems workbench", "creationDateTime": stamp}
    )
    users_element = ElementTree.SubElement(root, _q("Users"))
    for coder, guid in users.items():
        ElementTree.SubElement(users_element, _q("User"), {"guid": guid, "name": coder})
    codebook_element = ElementTree.SubElement(root, _q("CodeBook"))
    _write_codes(ElementTree.SubElement(codebook_element, _q("Codes")), codebook, PROJECT_NS)
    variables = {
        "Interviewee role": ("interviewee_role", "Text"),
        "Interview date": ("interview_date", "Date"),
        "Setting": ("setting", "Text"),
        "Organisation": ("organisation", "Text"),
    }
    variable_guid = {label: _stable_guid("variable", label) for label in variables}
    variables_element = ElementTree.SubElement(root, _q("Variables"))
    for label, (_, kind) in variables.items():
        ElementTree.SubElement(
            variables_element, _q("Variable"), {"guid": variable_guid[label], "name": label, "typeOfVariable": kind}
        )
    source_guid = {interview: _stable_guid("source", interview) for interview in interviews["interview_id"]}
    cases_element = ElementTree.SubElement(root, _q("Cases"))
    for unit in microsystems.itertuples(index=False):
        case = ElementTree.SubElement(
            cases_element, _q("Case"), {"guid": _stable_guid("case", unit.microsystem_id), "name": unit.microsystem_id}
        )
        _write_value(case, variable_guid["Setting"], "TextValue", unit.setting)
        _write_value(case, variable_guid["Organisation"], "TextValue", unit.organisation)
        for interview in interviews.loc[interviews["microsystem_id"].eq(unit.microsystem_id), "interview_id"]:
            ElementTree.SubElement(case, _q("SourceRef"), {"targetGUID": source_guid[interview]})
    sources_element = ElementTree.SubElement(root, _q("Sources"))
    files = {}
    for interview in interviews.itertuples(index=False):
        guid = source_guid[interview.interview_id]
        files[f"sources/{guid}.txt"] = transcripts[interview.interview_id].encode("utf-8")
        source = ElementTree.SubElement(sources_element, _q("TextSource"), {
            "guid": guid,
            "name": interview.interview_id,
            "plainTextPath": f"internal://{guid}.txt",
            "creationDateTime": stamp,
        })
        own = codings[codings["interview_id"].eq(interview.interview_id)]
        for (segment, start, end), part in own.groupby(["segment_id", "start", "end"], sort=False):
            selection = ElementTree.SubElement(source, _q("PlainTextSelection"), {
                "guid": _stable_guid("selection", segment),
                "name": segment,
                "startPosition": str(int(start)),
                "endPosition": str(int(end)),
                "creatingUser": users[part["coder"].iloc[0]],
                "creationDateTime": stamp,
            })
            for coding in part.itertuples(index=False):
                element = ElementTree.SubElement(selection, _q("Coding"), {
                    "guid": _stable_guid("coding", segment, coding.coder, coding.code_id),
                    "creatingUser": users[coding.coder],
                    "creationDateTime": stamp,
                })
                ElementTree.SubElement(
                    element, _q("CodeRef"), {"targetGUID": _stable_guid("code", coding.framework_id, coding.code_id)}
                )
        _write_value(source, variable_guid["Interviewee role"], "TextValue", interview.interviewee_role)
        _write_value(
            source,
            variable_guid["Interview date"],
            "DateValue",
            pd.Timestamp(interview.interview_date).strftime("%Y-%m-%d"),
        )
    ElementTree.indent(root)
    xml = b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("project.qde", xml)
        for member, data in sorted(files.items()):
            archive.writestr(member, data)
    write_bytes_atomic(Path(path), stable_zip(buffer.getvalue(), when))
    element_of = {_stable_guid("code", f.id, e.id): e.id for f in frameworks for e in f.elements}
    return {c.path: element_of[c.guid] for c in codebook if c.parent}


def _write_value(parent, variable_guid: str, kind: str, value: str) -> None:
    element = ElementTree.SubElement(parent, _q("VariableValue"))
    ElementTree.SubElement(element, _q("VariableRef"), {"targetGUID": variable_guid})
    ElementTree.SubElement(element, _q(kind)).text = str(value)


def _write_codes(parent, codes: list[Code], namespace: str, parent_guid: str | None = None) -> None:
    for code in [c for c in codes if c.parent == parent_guid]:
        attributes = {"guid": code.guid, "name": code.name, "isCodable": "true" if code.codable else "false"}
        element = ElementTree.SubElement(parent, _q("Code", namespace), attributes)
        if code.description:
            ElementTree.SubElement(element, _q("Description", namespace)).text = code.description
        _write_codes(element, codes, namespace, code.guid)


def write_qdc(path: Path, frameworks, *, when: datetime = datetime(2026, 1, 1)) -> None:
    """Write the study's frameworks as a REFI-QDA codebook (``.qdc``, ``urn:QDA-XML:codebook:1.0``)."""
    ElementTree.register_namespace("", CODEBOOK_NS)
    root = ElementTree.Element(_q("CodeBook", CODEBOOK_NS), {"origin": "clinical microsystems workbench"})
    _write_codes(ElementTree.SubElement(root, _q("Codes", CODEBOOK_NS)), study_codebook(frameworks), CODEBOOK_NS)
    ElementTree.indent(root)
    xml = b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")
    write_bytes_atomic(Path(path), xml)


def read_qdc(path: Path, *, label: str | None = None) -> pd.DataFrame:
    """A ``.qdc`` codebook as one row per code.

    Columns: ``guid``, ``name``, ``path``, ``parent``, ``codable``, ``description``.
    """
    shown = label or str(path)
    try:
        root = SafeElementTree.fromstring(Path(path).read_bytes())
    except ElementTree.ParseError as error:
        raise InputError(f"not well-formed XML: {error}", file=shown) from None
    if root.tag != _q("CodeBook", CODEBOOK_NS):
        raise InputError(f"expected a <CodeBook> in the namespace {CODEBOOK_NS}, found {root.tag}", file=shown)
    project = QdaProject(name="")
    holder = root.find(_q("Codes", CODEBOOK_NS))
    for code in holder.findall(_q("Code", CODEBOOK_NS)) if holder is not None else []:
        _read_code(code, None, "", project, shown, CODEBOOK_NS)
    return project.codebook()


def _with_transcripts(codings: pd.DataFrame, interviews: pd.DataFrame, transcripts: dict[str, str] | None):
    """Use the given transcripts; build one from excerpts for any interview without."""
    transcripts = dict(transcripts or {})
    codings = codings.copy()
    for interview in interviews["interview_id"]:
        if interview in transcripts and codings.loc[codings["interview_id"].eq(interview), "start"].notna().all():
            continue
        own = codings[codings["interview_id"].eq(interview)].drop_duplicates("segment_id")
        text, cursor, spans = [], 0, {}
        for segment, excerpt in zip(own["segment_id"], own["excerpt"]):
            spans[segment] = (cursor, cursor + len(excerpt))
            text.append(excerpt)
            cursor += len(excerpt) + 2
        transcripts[interview] = "\n\n".join(text)
        mask = codings["interview_id"].eq(interview)
        # map() calls the lambdas at once; spans=spans binds this interview's spans explicitly
        codings.loc[mask, "start"] = codings.loc[mask, "segment_id"].map(lambda s, spans=spans: spans[s][0])
        codings.loc[mask, "end"] = codings.loc[mask, "segment_id"].map(lambda s, spans=spans: spans[s][1])
    return transcripts, codings
