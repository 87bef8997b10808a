"""REFI-QDA project exchange (``.qdpx``) and codebook exchange (``.qdc``): read and write.

A ``.qdpx`` file is a zip holding ``project.qde`` (XML in the namespace
``urn:QDA-XML:project:1.0``) and a ``sources/`` folder. NVivo, ATLAS.ti, MAXQDA,
QualCoder, qc and Taguette write it; this module reads what they write into the workbench's
coded-segment frames and writes the workbench's coding back for them.

Reading, and what is assumed:

* A **segment** is one stretch of one source: a ``PlainTextSelection``'s start and end
  positions. Every ``Coding`` in it is one coder (its ``creatingUser``) applying one code,
  so agreement can be computed from one project file. Selections by different coders
  over the same stretch are the same segment.
* **Positions** count characters (Unicode code points) of the source's plain text, the
  end exclusive; a byte-order mark is not counted. Tools differ on line endings: when a
  source has CRLF line breaks and a selection's recorded text (its ``name``) matches the
  source only if each CRLF counts as one character, that source's positions are read that
  way; otherwise each CRLF counts as two. The import report says which.
* **Codes** are keyed by guid, shown by their path in the codebook (``Parent/Child``),
  so the same name in two branches stays two codes. The codebook may be written in the
  project's namespace or in either codebook namespace (``urn:QDA-XML:codebook:1.0``,
  ``urn:QDA-XML:codebook:0:4``); guids are read in any case, with or without braces.
* **Sources** are found as ``internal://<file>`` or a bare relative file name (in
  ``sources/`` or ``Sources/``), or as inline ``PlainTextContent``. A source without a
  ``name`` is named by its plain-text file name. Empty sources are read (and noted);
  non-text sources (PDF, pictures, audio, video) and ``.docx`` rich text without a
  plain-text version (NVivo writes a plain-text member holding only a line break) are
  counted and left out.
* **Interview ids** are source names. A study passes its scrubber: a name the scrubber would
  change ("Interview with Ann Smith") becomes ``interview-`` and the end of the source's guid,
  the same on every build, and the import report says how many were replaced (a scrubbed name
  would not do: two people's interviews would share "Interview with [name]").
* Every import fills an :class:`~workbench.io.report.ImportReport` (kind ``"REFI-QDA project"``):
  per kind of element (users, codes, sources, selections, codings, cases, variables, sets,
  notes, links, graphs) how many the file held, how many the study uses and why the others
  were left out; plus notes on what the reader assumed. The first five kinds are always
  counted; the others when the file holds any.

The mapping file (YAML; paths relative to it) ties the project to the study::

    format: refi-qda
    file: interviews.qdpx
    codes:                         # codebook code (path or guid) -> framework element id
      "Characteristics/Measurement": measurement
      "Characteristics/Team/**": interdependence_of_care_team   # the code and every code below it
      "Leadership/Knowledge": {element: building_knowledge, include_children: true}  # the same, long form
    unmapped_codes: error          # error | ignore (codings with other codes are counted, then left out)
    sources:                       # how each source becomes an interview of a microsystem
      from: cases                  # cases | variables | table | pattern
      variables:                   # fields not given by `from`, read from source (or case) variables
        interviewee_role: Interviewee role
        interview_date: Interview date
      table: interview_sources.csv # only with from: table
      pattern: '^(?P<microsystem_id>MS\\d+)_(?P<interviewee_role>[A-Za-z ]+)_(?P<interview_date>[\\d-]+)$'  # only
                                   # with from: pattern
      date_format: '%d/%m/%Y'      # optional; dates are read as YYYY-MM-DD otherwise
      unassigned: error            # error | ignore (sources assigned to no microsystem are left out)

``codes``: several codes may map onto one element; a segment then has ONE coding per coder
and element (the report counts the codings merged). A code may be named by only one entry
(a path and a guid naming the same code are an error); an entry naming a code beats a
``/**`` branch holding it, and a nearer branch beats a farther one. Mapping a code whose
codings all sit on codes below it, without ``/**``, is an error rather than 0 segments.

``sources.from`` says where each source's ``microsystem_id`` (and, where they give them, its
``interviewee_role`` and ``interview_date``) come from:

* ``cases`` (the default): the project's Case holding the source, named by the microsystem_id.
* ``variables``: source variables, or variables of the (possibly nameless) cases holding the
  source, as MAXQDA and Quirkos write them; ``variables: {microsystem_id: <name>}`` is required.
* ``table``: a CSV file beside the mapping with a column ``source`` (a source's name, its
  guid, or its plain-text file name) and any of ``microsystem_id``, ``interviewee_role``,
  ``interview_date``; for projects without cases or variables (qc, NVivo).
* ``pattern``: a regular expression searched in the source name, with named groups
  ``microsystem_id``, ``interviewee_role`` and/or ``interview_date``.

Whatever ``from`` does not give is read from the variables named under ``variables``
(default ``Interviewee role`` and ``Interview date``). The older key ``source_variables: {...}``
still reads as ``sources: {from: cases, variables: {...}}``.

Writing (:func:`write_qdpx`): a study read from a QDA project is written back into that project
(read again with ``read_qdpx(..., keep_files=True)``): every element, attribute and guid and every
archive member byte for byte, so transcripts and positions are those read, plus any of the
study's codings the project does not hold. Only what the QDA-XML schema refuses is changed (a
codebook in a codebook namespace, empty containers such as ``<Users/>``, children out of the
schema's order). A study read from CSV files is written as a new project on its full
transcripts (:func:`transcripts_matching` checks that a transcript is the one its codings'
positions point into). :func:`validate_project` checks a ``project.qde`` against the schema.

The XML is parsed with ``defusedxml`` (no entity expansion) and no archive member is ever
extracted to disk, so hostile files cannot write outside the project.
"""

from __future__ import annotations

import codecs
import copy
import difflib
import functools
import io
import re
import unicodedata
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal
from xml.etree import ElementTree

import pandas as pd
from defusedxml import ElementTree as SafeElementTree
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.errors import InputError
from workbench.io.files import open_archive, read_input_bytes, read_yaml_model, stable_zip, write_bytes_atomic
from workbench.io.report import ImportReport

__all__ = [
    "CODEBOOK_NAMESPACES", "CODEBOOK_NS", "CODEBOOK_NS_0_4", "ELEMENTS", "GUID_NAMESPACE", "NON_TEXT_SOURCES",
    "PROJECT_NS", "SOURCE_FIELDS", "Case", "Code", "CodeTarget", "CodingImport", "CodingMapping", "QdaProject",
    "Selection", "SourceAssignment", "SourceInfo", "mapping_inputs", "project_frames", "read_coded_interviews",
    "read_coding_mapping", "read_qdc", "read_qdpx", "study_codebook", "transcripts_in", "transcripts_matching",
    "validate_project", "write_qdc", "write_qdpx",
]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
CODEBOOK_NS_0_4 = "urn:QDA-XML:codebook:0:4"  # MAXQDA 24 and ATLAS.ti 23 write codebooks in it
CODEBOOK_NAMESPACES = (CODEBOOK_NS, CODEBOOK_NS_0_4)
NON_TEXT_SOURCES = ("PDFSource", "PictureSource", "AudioSource", "VideoSource")
GUID_NAMESPACE = uuid.UUID("6f1b6a0e-4c53-4e7b-9a5e-2f7c1d3a8b90")  # makes written guids reproducible
SOURCE_FIELDS = ("microsystem_id", "interviewee_role", "interview_date")  # what each interview needs
ELEMENTS = ("users", "codes", "sources", "selections", "codings", "cases", "variables", "sets", "notes", "links",
            "graphs")  # the kinds of element an import report counts, in this order
_ALWAYS_COUNTED = ("users", "codes", "sources", "selections", "codings")
_NOT_READ = "in a source that is not read"
_GUID_TEXT = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")


def _q(tag: str, namespace: str = PROJECT_NS) -> str:
    return f"{{{namespace}}}{tag}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _kids(element, name: str) -> list:
    """Children with the local name ``name``, whatever their namespace (codebooks come in three)."""
    return [child for child in element if isinstance(child.tag, str) and _local(child.tag) == name]


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
    user: str = ""  # the coder's user guid, as the project wrote it
    selection: int = -1  # its selection's place in QdaProject.selections


@dataclass
class Case:
    """A project's case: optionally named, with variables, holding whole sources (by name)."""

    guid: str
    name: str | None
    variables: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    selections: int = 0  # SelectionRefs: a case holding parts of sources (counted, not used)


@dataclass
class SourceInfo:
    """Every source element of the project, read or not."""

    guid: str
    name: str  # its name, or its plain-text file name when it has none
    kind: str  # TextSource, PDFSource, ...
    file: str = ""  # plainTextPath (or path) as written
    named: bool = True  # False: the project gives it no name (it is named by its file)
    read: bool = True
    reason: str = ""  # why it was not read


@dataclass
class QdaProject:
    name: str
    users: dict[str, str] = field(default_factory=dict)  # guid -> name
    codes: dict[str, Code] = field(default_factory=dict)  # guid -> code, in codebook order
    sources: dict[str, str] = field(default_factory=dict)  # source name -> plain text (the sources read)
    source_variables: dict[str, dict[str, str]] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)
    codings: list[Selection] = field(default_factory=list)  # codings of stretches of the sources read
    notes: list[str] = field(default_factory=list)  # what the reader set aside or assumed
    variables: dict[str, str] = field(default_factory=dict)  # guid -> variable name
    source_info: dict[str, SourceInfo] = field(default_factory=dict)  # source name -> info, every source
    selections: list[tuple[str, str]] = field(default_factory=list)  # (guid, source name), in the sources read
    in_file: Counter = field(default_factory=Counter)  # element kind -> how many the file holds
    set_aside: dict[str, Counter] = field(default_factory=dict)  # element kind -> reason -> how many
    tree: ElementTree.Element | None = field(default=None, repr=False, compare=False)  # <Project> as read
    members: dict[str, bytes] | None = field(default=None, repr=False, compare=False)  # the archive's other
    # files (sources, rich text, media), byte for byte; kept only when read with keep_files=True

    def put_aside(self, element: str, reason: str, n: int = 1) -> None:
        if n:
            self.set_aside.setdefault(element, Counter())[reason] += n

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

    def descendants(self, guid: str) -> list[tuple[int, str]]:
        """Every code below ``guid`` with its depth under it (1 for a child), in codebook order."""
        children: dict[str | None, list[str]] = {}
        for code in self.codes.values():
            children.setdefault(code.parent, []).append(code.guid)
        found, stack = [], [(1, child) for child in reversed(children.get(guid, []))]
        while stack:
            depth, current = stack.pop()
            found.append((depth, current))
            stack.extend((depth + 1, child) for child in reversed(children.get(current, [])))
        return found


# --------------------------------------------------------------------------------------
# Reading.


def read_qdpx(path: Path, *, label: str | None = None, keep_files: bool = False) -> QdaProject:
    """Read a ``.qdpx`` project (or a bare ``.qde`` XML file) into a :class:`QdaProject`.

    Any archive holding a ``.qde`` file is read, whatever its extension (projects are
    sometimes shared as ``.zip``). The project element is kept as read (``tree``);
    ``keep_files`` also keeps every other archive member byte for byte (``members``), which
    :func:`write_qdpx` needs to write the project back without loss.
    """
    shown = label or str(path)
    path = Path(path)
    if path.suffix.lower() == ".qde":
        project = _parse_project(read_input_bytes(path, shown), {}, shown)
        project.members = {} if keep_files else None
        return project
    # Every member is checked before anything is read (encryption, compression, names, sizes);
    # each read stops past the size limits and a failed CRC is an error, not a crash.
    with open_archive(path, shown, not_a_zip="not a REFI-QDA .qdpx file: expected a zip archive holding project.qde"
                      ) as archive:
        members = archive.members
        qde = [name for name in members if name.lower().endswith(".qde")]
        if not qde:
            raise InputError(f"no project.qde in the archive (it holds {sorted(members)[:8]})", file=shown)
        qde.sort(key=lambda name: (PurePosixPath(name).name.lower() != "project.qde", name))
        xml = archive.read(qde[0])
        files = {name: (lambda n=name: archive.read(n)) for name in members if name not in qde}
        project = _parse_project(xml, files, shown)
        if keep_files:
            project.members = {name: read() for name, read in files.items()}
        return project


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
    project = QdaProject(name=root.get("name", ""), tree=root)
    for holder in _kids(root, "Users"):
        for user in _kids(holder, "User"):
            guid = _guid(user.get("guid"))
            project.users[guid] = user.get("name") or user.get("id") or guid
    project.in_file["users"] = len(project.users)
    _read_codebook(root, project, shown)
    project.in_file["codes"] = len(project.codes)
    for holder in _kids(root, "Variables"):
        for variable in _kids(holder, "Variable"):
            project.variables[_guid(variable.get("guid"))] = variable.get("name", "")
    project.in_file["variables"] = len(project.variables)
    source_names: dict[str, str] = {}
    for holder in _kids(root, "Sources"):
        for source in holder:
            if isinstance(source.tag, str):
                _read_source(source, project, files, source_names, shown)
    for holder in _kids(root, "Cases"):
        for case in _kids(holder, "Case"):
            refs = [_guid(ref.get("targetGUID")) for ref in _kids(case, "SourceRef")]
            project.cases.append(Case(
                _guid(case.get("guid")),
                case.get("name") or None,
                _variable_values(case, project.variables),
                [source_names[ref] for ref in refs if ref in source_names],
                len(_kids(case, "SelectionRef")),
            ))
    project.in_file["cases"] = len(project.cases)
    if any(case.selections and not case.sources for case in project.cases):
        project.notes.append("some cases hold parts of sources (SelectionRef) rather than whole sources; "
                             "those parts are not assigned to cases")
    for kind, holder, child in (("sets", "Sets", "Set"), ("notes", "Notes", "Note"), ("links", "Links", "Link"),
                                ("graphs", "Graphs", "Graph")):
        project.in_file[kind] = sum(len(_kids(element, child)) for element in _kids(root, holder))
    strangers = Counter(c.user or "(none)" for c in project.codings if c.user not in project.users)
    if strangers:
        shown_users = ", ".join(sorted(strangers)[:4])
        project.notes.append(f"{_plural(sum(strangers.values()), 'coding')} by a creatingUser the project does not "
                             f"list among its users ({shown_users}); shown with that guid, or 'unknown', as coder")
    nameless = sum(1 for info in project.source_info.values() if not info.named)
    if nameless:
        project.notes.append(f"{nameless} source{'s have' if nameless > 1 else ' has'} no name; "
                             "named by the plain-text file name")
    return project


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


def _file_name(reference: str) -> str:
    """The file name a ``plainTextPath`` or ``path`` points to (``internal://x/y.txt`` -> ``y.txt``)."""
    bare = re.sub(r"^[a-z]+://", "", reference or "").replace("\\", "/")
    return PurePosixPath(bare).name if bare.strip("/") else ""


def _read_codebook(root, project: QdaProject, shown: str) -> None:
    books = _kids(root, "CodeBook")
    if not books:
        project.notes.append("the project has no codebook (no <CodeBook> element)")
        return
    book = books[0]
    namespace = _namespace(book.tag)
    if namespace not in (PROJECT_NS, *CODEBOOK_NAMESPACES):
        project.notes.append(f"the codebook is written in the namespace {namespace!r}; read as a REFI-QDA codebook")
    elif namespace != PROJECT_NS:
        project.notes.append(f"the codebook is written in the codebook namespace {namespace!r}")
    _read_codes(book, project, shown)


def _read_codes(book, project: QdaProject, shown: str) -> None:
    """Every code of a <CodeBook>, in codebook order (a code, then its children). Depth first
    with a stack of our own, not recursion: a codebook nested thousands deep is read (or
    refused by the XML parser's own depth limit), never a crash."""
    pending = [(code, None, "") for holder in _kids(book, "Codes") for code in _kids(holder, "Code")][::-1]
    while pending:
        element, parent, prefix = pending.pop()
        guid, path = _read_code(element, parent, prefix, project, shown)
        pending.extend((child, guid, path) for child in reversed(_kids(element, "Code")))


def _read_code(element, parent: str | None, prefix: str, project: QdaProject, shown: str) -> tuple[str, str]:
    """A code, keyed by guid, with its path from the codebook's root; returns (guid, path)."""
    guid = _guid(element.get("guid"))
    name = element.get("name", "")
    if not guid:
        raise InputError(f"a <Code> named {name!r} has no guid", file=shown)
    path = f"{prefix}/{name}" if prefix else name
    description = " ".join((d.text or "").strip() for d in _kids(element, "Description")).strip()
    codable = element.get("isCodable", "true").strip().lower() in ("true", "1")
    project.codes[guid] = Code(guid, name, path, codable, description, element.get("color"), parent)
    return guid, path


def _variable_values(element, variables: dict[str, str]) -> dict[str, str]:
    values = {}
    for value in _kids(element, "VariableValue"):
        refs = _kids(value, "VariableRef")
        name = variables.get(_guid(refs[0].get("targetGUID")) if refs else "", "")
        for child in value:
            if isinstance(child.tag, str) and _local(child.tag) != "VariableRef":
                values[name] = (child.text or "").strip()
    return values


def _source_name(source, guid: str, project: QdaProject) -> str:
    """The source's name; without one its file name (never a bare guid where a file is named)."""
    file = source.get("plainTextPath") or source.get("path") or source.get("richTextPath") or ""
    name = (source.get("name") or "").strip() or _file_name(file) or f"unnamed source {guid}"
    if name in project.source_info:
        number = 2
        while f"{name} ({number})" in project.source_info:
            number += 1
        project.notes.append(f"two sources are named {name!r}; the one with guid {guid} is read as "
                             f"{name + f' ({number})'!r}")
        name = f"{name} ({number})"
    return name


def _read_source(source, project: QdaProject, files: dict, source_names: dict, shown: str) -> None:
    kind = _local(source.tag)
    guid = _guid(source.get("guid"))
    name = _source_name(source, guid, project)
    source_names[guid] = name
    info = SourceInfo(guid, name, kind, source.get("plainTextPath") or source.get("path") or "",
                      named=bool((source.get("name") or "").strip()))
    project.source_info[name] = info
    project.in_file["sources"] += 1
    if kind != "TextSource":
        selections = [e for e in source.iter() if isinstance(e.tag, str) and _local(e.tag).endswith("Selection")]
        codings = [e for e in source.iter() if isinstance(e.tag, str) and _local(e.tag) == "Coding"]
        project.in_file["selections"] += len(selections)
        project.in_file["codings"] += len(codings)
        what = kind.removesuffix("Source")
        reason = (f"a {what} source (only text sources are read)" if kind in NON_TEXT_SOURCES
                  else f"a {kind} (not a kind of source the workbench reads)")
        _not_read(project, info, reason, len(selections), len(codings))
        project.notes.append(f"source {name!r} is a {what} source; only text sources are read")
        return
    selections = _kids(source, "PlainTextSelection")
    codings = [c for s in selections for c in _kids(s, "Coding")]
    whole = _kids(source, "Coding")  # codings of the whole source, not of a stretch of it
    project.in_file["selections"] += len(selections)
    project.in_file["codings"] += len(codings) + len(whole)
    project.put_aside("codings", "codes a whole source, not a stretch of its text", len(whole))
    text = _source_text(source, files, info, project)
    if text is None:
        _not_read(project, info, info.reason, len(selections), len(codings))
        return
    if not text.strip():
        rich = source.get("richTextPath")
        if rich:
            reason = "its plain text is empty; the text is only in the rich-text (.docx) file, which is not read"
            project.notes.append(f"source {name!r} has an empty plain text and its text only in {rich}; not read "
                                 "(export it again with plain text, or leave it out)")
            _not_read(project, info, reason, len(selections), len(codings))
            return
        project.notes.append(f"source {name!r} is empty")
    project.source_variables[name] = _variable_values(source, project.variables)
    spans = [
        (
            selection,
            _position(selection, "startPosition", name, shown),
            _position(selection, "endPosition", name, shown),
            selection.get("name") or "",
        )
        for selection in selections
    ]
    crlf_as_one = False
    if "\r\n" in text and spans:
        crlf_as_one = any(_crlf_counts_as_one(text, start, end, label) for _, start, end, label in spans if label)
        project.notes.append(
            f"source {name!r} has CRLF line breaks and its positions count each as one character "
            "(the selections' recorded text says so)" if crlf_as_one else
            f"source {name!r} has CRLF line breaks; its positions are read counting each as two characters"
        )
    if crlf_as_one:
        text = text.replace("\r\n", "\n")
    project.sources[name] = text
    for selection, start, end, label in spans:
        if not 0 <= start < end <= len(text):
            raise InputError(
                f"selection {selection.get('guid')} in source {name!r} runs from {start} to {end}, "
                f"but the source has {len(text)} characters; "
                "expected 0 <= start < end <= length",
                file=shown,
            )
        selection_guid = _guid(selection.get("guid"))
        project.selections.append((selection_guid, name))
        place = len(project.selections) - 1
        for coding in _kids(selection, "Coding"):
            refs = _kids(coding, "CodeRef")
            code_guid = _guid(refs[0].get("targetGUID")) if refs else ""
            if code_guid not in project.codes:
                raise InputError(
                    f"a coding in selection {selection.get('guid')} of source {name!r} "
                    f"refers to code {code_guid or '(none)'}, which is not in the codebook",
                    file=shown,
                )
            user = _guid(coding.get("creatingUser") or selection.get("creatingUser"))
            coder = project.users.get(user, user or "unknown")
            project.codings.append(Selection(selection_guid, name, start, end, label, coder, code_guid, user, place))


def _not_read(project: QdaProject, info: SourceInfo, reason: str, selections: int, codings: int) -> None:
    info.read, info.reason = False, reason
    project.put_aside("sources", reason)
    project.put_aside("selections", _NOT_READ, selections)
    project.put_aside("codings", _NOT_READ, codings)


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
    """Does the recorded selection text (its start) match only when CRLF is counted as one character?"""
    probe = label[:40]
    if not probe.strip():
        return False
    as_is = text[start:end]
    normalised = text.replace("\r\n", "\n")[start:end]
    return not as_is.startswith(probe) and normalised.startswith(probe.replace("\r\n", "\n"))


def _find_member(reference: str, files: dict) -> str | None:
    """The archive member a ``plainTextPath`` points to: ``internal://<guid>.txt`` or a bare
    relative name, under ``sources/`` or ``Sources/``, guids in any case, with or without braces."""
    wanted = re.sub(r"^(internal|relative)://", "", reference).replace("\\", "/").lstrip("/")
    base = PurePosixPath(wanted).name

    def loose(name: str) -> str:
        return name.lower().replace("{", "").replace("}", "")

    tests = (
        lambda member: member == wanted,
        lambda member: member.endswith("/" + wanted),
        lambda member: loose(member) == loose(wanted) or loose(member).endswith("/" + loose(wanted)),
        lambda member: PurePosixPath(member).name == base,
        lambda member: loose(PurePosixPath(member).name) == loose(base),
    )
    for test in tests:
        found = sorted(member for member in files if test(member))
        if found:
            return found[0]
    return None


def _plausibly_utf16(data: bytes) -> bool:
    """Whether bytes that start like a UTF-16 byte-order mark are UTF-16 text: an even length,
    a clean decoding, and the zero bytes that characters of the Latin, Greek and Cyrillic
    scripts, spaces and line breaks leave in UTF-16. A Windows-1252 transcript that happens to
    begin with "ÿþ" has none of them."""
    if len(data) % 2:
        return False
    try:
        data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return data.count(0) >= 0.05 * len(data)


def _source_text(source, files: dict, info: SourceInfo, project: QdaProject) -> str | None:
    name = info.name
    inline = _kids(source, "PlainTextContent")
    if inline and inline[0].text is not None:
        return inline[0].text
    reference = source.get("plainTextPath")
    if not reference:
        rich = source.get("richTextPath", "")
        info.reason = "no plain-text version" + (" (only rich text, which is not read)" if rich else "")
        project.notes.append(f"source {name!r} has no plain-text version{f' (only {rich})' if rich else ''}; not read")
        return None
    member = _find_member(reference, files)
    if member is None:
        info.reason = "its plain-text file is not in the archive"
        project.notes.append(f"source {name!r} points to {reference!r}, which is not in the archive; not read")
        return None
    data = files[member]()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and _plausibly_utf16(data):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        project.notes.append(f"source {name!r} starts with a byte-order mark, which positions do not count")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        info.reason = "could not be decoded as text"
        project.notes.append(f"source {name!r} could not be decoded as text; not read")
        return None
    project.notes.append(f"source {name!r} is not UTF-8; read as Windows-1252")
    return text


# --------------------------------------------------------------------------------------
# From a project to the workbench's frames, through a mapping file.


_DEFAULT_VARIABLES = {"interviewee_role": "Interviewee role", "interview_date": "Interview date"}
_SourceField = Literal["microsystem_id", "interviewee_role", "interview_date"]


class CodeTarget(BaseModel):
    """The long form of a ``codes:`` entry: ``{element: measurement, include_children: true}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    element: str
    include_children: bool = False


class SourceAssignment(BaseModel):
    """``sources:`` in a coding mapping: how each source becomes an interview (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    from_: Literal["cases", "variables", "table", "pattern"] = Field("cases", alias="from")
    variables: dict[_SourceField, str] = Field(default_factory=lambda: dict(_DEFAULT_VARIABLES))
    table: str | None = None
    pattern: str | None = None
    date_format: str | None = None
    unassigned: Literal["error", "ignore"] = "error"

    @field_validator("variables")
    @classmethod
    def _with_defaults(cls, value: dict) -> dict:
        return {**_DEFAULT_VARIABLES, **value}

    @model_validator(mode="after")
    def _complete(self) -> SourceAssignment:
        method = self.from_
        if method == "table" and not self.table:
            raise ValueError("from: table needs table: <file.csv> (a CSV beside the mapping with columns "
                             "source, microsystem_id, interviewee_role, interview_date)")
        if method == "pattern":
            if not self.pattern:
                raise ValueError("from: pattern needs pattern: <a regular expression with named groups "
                                 "microsystem_id, interviewee_role and/or interview_date>")
            try:
                groups = set(re.compile(self.pattern).groupindex)
            except re.error as error:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {error}") from None
            unknown = sorted(groups - set(SOURCE_FIELDS))
            if unknown or not groups:
                raise ValueError(f"pattern {self.pattern!r} must name its groups among {', '.join(SOURCE_FIELDS)} "
                                 f"(as (?P<microsystem_id>...)); it names {sorted(groups) or 'none'}")
            if "microsystem_id" not in groups and "microsystem_id" not in self.variables:
                raise ValueError(f"pattern {self.pattern!r} has no group (?P<microsystem_id>...) and variables: "
                                 "names no variable holding the microsystem_id")
        if method == "variables" and "microsystem_id" not in self.variables:
            raise ValueError("from: variables needs variables: {microsystem_id: <the variable holding it>}")
        for key in ("table", "pattern"):
            if getattr(self, key) and method != key:
                raise ValueError(f"{key}: is read only with from: {key} (this mapping says from: {method})")
        if self.date_format and "%" not in self.date_format:
            raise ValueError(f"date_format {self.date_format!r} is not a strftime format such as '%d/%m/%Y'")
        return self


class CodingMapping(BaseModel):
    """How a QDA project maps onto the study (YAML; paths relative to the mapping file)::

        format: refi-qda
        file: interviews.qdpx
        codes:                       # codebook code (path or guid; "Path/**": it and its descendants)
          "Characteristics/Measurement": measurement
        unmapped_codes: error        # error | ignore (codings with other codes are counted, then left out)
        sources:                     # cases | variables | table | pattern; see the module's docstring
          from: table
          table: interview_sources.csv

    ``source_variables: {interviewee_role: ..., interview_date: ...}`` (the older form) reads as
    ``sources: {from: cases, variables: {...}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["refi-qda"]
    file: str
    codes: dict[str, str | CodeTarget]
    unmapped_codes: Literal["error", "ignore"] = "error"
    sources: SourceAssignment | None = None
    source_variables: dict[_SourceField, str] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CodingMapping:
        if self.sources is not None and self.source_variables is not None:
            raise ValueError("give sources: or the older source_variables:, not both "
                             "(source_variables: X reads as sources: {from: cases, variables: X})")
        return self

    @property
    def assignment(self) -> SourceAssignment:
        """``sources:``, or what the older ``source_variables:`` (or nothing) means."""
        if self.sources is not None:
            return self.sources
        return SourceAssignment.model_validate({"from": "cases", "variables": self.source_variables or {}})


def read_coding_mapping(path: Path, *, label: str | None = None) -> CodingMapping:
    """Read a mapping file; a code named twice under ``codes:`` is an error naming both lines."""
    mapping = read_yaml_model(path, CodingMapping, shown=label, missing="mapping file not found")
    _refuse_repeated_keys(Path(path), label or str(path))
    return mapping


def _refuse_repeated_keys(path: Path, shown: str) -> None:
    """YAML keeps the last of two equal keys silently; a code mapped twice must be said."""
    import yaml

    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value != "codes" or not isinstance(value, yaml.MappingNode):
            continue
        seen: dict[str, int] = {}
        for entry, _ in value.value:
            line = entry.start_mark.line + 1
            if entry.value in seen:
                raise InputError(f"codes: {entry.value!r} is given twice (lines {seen[entry.value]} and {line}); "
                                 "keep one entry per code", file=shown)
            seen[entry.value] = line


def mapping_inputs(mapping_path: Path) -> list[Path]:
    """The files a coding mapping reads besides itself: the project and any sidecar table."""
    mapping_path = Path(mapping_path)
    mapping = read_coding_mapping(mapping_path)
    files = [mapping_path.parent / mapping.file]
    if mapping.assignment.table:
        files.append(mapping_path.parent / mapping.assignment.table)
    return files


@dataclass
class CodingImport:
    """The frames read from a QDA project, with its import report (what was used, left out and assumed)."""

    interviews: pd.DataFrame
    codings: pd.DataFrame
    transcripts: dict[str, str]  # interview_id -> its plain text, for the interviews read
    codebook: pd.DataFrame
    report: ImportReport


@dataclass
class _Origin:
    """Where an interview's value came from, for messages."""

    text: str
    file: str | None = None
    row: int | None = None
    column: str | None = None


def project_frames(
    project: QdaProject,
    mapping: CodingMapping,
    *,
    framework_of: dict[str, str],
    microsystem_ids: list[str],
    roles: list[str],
    shown: str,
    mapping_shown: str | None = None,
    folder: Path | None = None,
    scrub: Callable[[str], str] | None = None,
) -> CodingImport:
    """Turn a read project into the study's interviews and codings frames and its import report.

    ``shown`` names the project file in messages, ``mapping_shown`` the mapping file (mapping
    errors name it); a sidecar table is read from ``folder`` (the mapping's folder).

    ``scrub`` is the study's scrubber (:func:`workbench.privacy.scrubber`). Source names become
    interview ids, and selection names can become segment ids: a name the scrubber would change
    (a person's name, a phone number ...) is replaced by an id made from the source's guid (see
    :func:`_generated_ids`), and the report's notes are scrubbed too, since they quote names.
    """
    from workbench.io.study_csv import codings_frame, interviews_frame

    mapping_shown = mapping_shown or "the coding mapping"
    report = ImportReport(source=shown, kind="REFI-QDA project")
    notes = list(project.notes)
    element_of, explicit = _resolve_codes(project, mapping, framework_of, mapping_shown, shown)
    assignment = mapping.assignment
    rows, left_out_sources, used_cases, used_variables, more_notes = _assign_sources(
        project, assignment, microsystem_ids=microsystem_ids, roles=roles, shown=shown,
        mapping_shown=mapping_shown, folder=folder,
    )
    notes += more_notes
    interview_of = _interview_ids(project, [row["interview_id"] for row in rows], scrub)  # source name -> id
    for row in rows:
        row["interview_id"] = interview_of[row["interview_id"]]
    interview_columns = [
        "interview_id", "microsystem_id", "interviewee_role", "interview_date", "word_count", "characters",
    ]
    interviews = interviews_frame(pd.DataFrame(rows, columns=interview_columns))
    used_sources = set(interview_of)

    in_used = [c for c in project.codings if c.source in used_sources]
    notes += _refuse_parents_without_codings(project, explicit, element_of, in_used, mapping_shown)
    unmapped = sorted({project.codes[c.code_guid].path for c in in_used if c.code_guid not in element_of})
    if unmapped and mapping.unmapped_codes == "error":
        raise InputError(
            f"codings use codes the mapping does not map: {unmapped[:6]}{' …' if len(unmapped) > 6 else ''} "
            f"({_plural(len(unmapped), 'code')} of {shown}); map them under codes: (a whole branch as 'Parent/**'), "
            "or set unmapped_codes: ignore",
            file=mapping_shown,
        )
    fate: list[str] = []  # per coding of project.codings: "" (used) or why it is left out
    candidates: list[Selection] = []
    for coding in project.codings:
        if coding.source not in used_sources:
            fate.append("in a source the mapping leaves out")
        elif coding.code_guid not in element_of:
            fate.append("code not mapped to a framework element")
        else:
            fate.append("")
            candidates.append(coding)
    segment_names, labels_replaced = _segment_names(candidates, interview_of, scrub)
    seen: set[tuple] = set()
    kept: list[Selection] = []
    merged = "repeats another coding's segment, coder and element (merged into one)"
    for index, coding in enumerate(project.codings):
        if fate[index]:
            continue
        key = (coding.source, coding.start, coding.end, coding.coder, element_of[coding.code_guid])
        if key in seen:
            fate[index] = merged
        else:
            seen.add(key)
            kept.append(coding)
    role_of = interviews.set_index("interview_id")["interviewee_role"]
    case_of = interviews.set_index("interview_id")["microsystem_id"]
    coding_columns = [
        "segment_id", "interview_id", "microsystem_id", "interviewee_role", "coder", "framework_id", "code_id",
        "excerpt", "start", "end",
    ]
    codings = pd.DataFrame([
        {
            "segment_id": segment_names[(c.source, c.start, c.end)],
            "interview_id": interview_of[c.source],
            "microsystem_id": case_of[interview_of[c.source]],
            "interviewee_role": role_of[interview_of[c.source]],
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

    reasons = Counter(reason for reason in fate if reason)
    if reasons[merged]:
        notes.append(f"{_plural(reasons[merged], 'coding')} merged into another of the same segment, coder and element "
                     "(several codes mapped onto one element, or one code applied twice)")
    if not project.codings and not project.set_aside.get("codings"):
        notes.append("the project has no codings")
    elif codings.empty:
        notes.append("none of the project's codings is used")
    elif codings["coder"].nunique() == 1:
        notes.append(
            f"every coding was made by one coder ({codings['coder'].iloc[0]}); "
            "agreement between coders cannot be computed"
        )
    _fill_report(report, project, fate, kept, element_of, len(interviews), left_out_sources, used_cases,
                 used_variables, assignment.from_)
    for note in notes:
        report.note(scrub(note) if scrub else note)
    masked = "what the study's scrubber masks (a name, e-mail address, phone number or date of birth)"
    renamed = sum(1 for name, interview in interview_of.items() if name != interview)
    if renamed:
        report.note(f"{_plural(renamed, 'source name')} held {masked}; "
                    f"{'its interview is' if renamed == 1 else 'their interviews are'} identified by an id made from "
                    "the source's guid instead (interview-…)")
    if labels_replaced:
        report.note(f"{_plural(labels_replaced, 'selection name')} held {masked}; "
                    f"{'its segment is' if labels_replaced == 1 else 'their segments are'} named by interview and "
                    "positions instead")
    transcripts = {interview: project.sources[name] for name, interview in interview_of.items()}
    return CodingImport(interviews, codings_frame(codings), transcripts, project.codebook(), report)


def _generated_ids(project: QdaProject) -> dict[str, str]:
    """An interview id for every source of the project that says nothing of its name:
    ``interview-`` and the last 8 characters of the source's guid (all of it where two sources
    share those 8). Made from the project alone, so each rebuild, and writing the project back
    (:func:`_project_back`), gives each source the same id."""
    guids = {name: re.sub(r"[^0-9a-z]", "", info.guid) for name, info in project.source_info.items()}
    ends = Counter(guid[-8:] for guid in guids.values() if guid)
    taken = set(project.source_info)  # never the name of another source
    generated = {}
    for position, (name, guid) in enumerate(guids.items(), 1):
        candidate = f"interview-{guid[-8:] if guid and ends[guid[-8:]] == 1 else guid or position}"
        if candidate in taken:  # a project whose guids repeat or are missing
            candidate = f"{candidate}-{position}"
        taken.add(candidate)
        generated[name] = candidate
    return generated


def _interview_ids(project: QdaProject, names: list[str], scrub: Callable[[str], str] | None) -> dict[str, str]:
    """Source name -> interview id: the name itself, or a generated id where the scrubber would change
    the name. A scrubbed name would not do: two interviews with two people's names would both become
    "Interview with [name]"."""
    if scrub is None:
        return {name: name for name in names}
    generated = _generated_ids(project)
    # The scrubber returns text in NFC: a name only written in another normal form keeps it.
    return {name: name if scrub(name) == unicodedata.normalize("NFC", name) else generated[name] for name in names}


def _resolve_codes(project: QdaProject, mapping: CodingMapping, framework_of: dict[str, str], mapping_shown: str,
                   shown: str) -> tuple[dict[str, str], dict[str, tuple[str, str, bool]]]:
    """Code guid -> element, and the codes the entries name themselves: guid -> (entry, element, branch)."""
    by_path: dict[str, list[str]] = {}
    for guid, code in project.codes.items():
        by_path.setdefault(code.path, []).append(guid)
    explicit: dict[str, tuple[str, str, bool]] = {}
    inherited: dict[str, tuple[int, str]] = {}  # guid -> (depth below the branch's code, element)
    for key, target in mapping.codes.items():
        element, branch = (target, False) if isinstance(target, str) else (target.element, target.include_children)
        base = key
        if key.endswith("/**"):
            base, branch = key[:-3], True
        if _guid(base) in project.codes:
            guid = _guid(base)
        elif len(by_path.get(base, [])) == 1:
            guid = by_path[base][0]
        elif base in by_path:
            raise InputError(f"codes: {key!r} names {len(by_path[base])} codes of the same path in the codebook "
                             f"of {shown}; map them by guid ({', '.join(by_path[base])})", file=mapping_shown)
        else:
            near = difflib.get_close_matches(base, list(by_path), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f" (paths look like {next(iter(by_path), 'A/B')!r})"
            raise InputError(f"codes: {key!r} is neither a code path nor a code guid in the codebook of "
                             f"{shown}{hint}", file=mapping_shown)
        if element not in framework_of:
            known = ", ".join(list(framework_of)[:8]) + (" …" if len(framework_of) > 8 else "")
            raise InputError(f"codes: {key!r} maps to {element!r}, which is not an element of the study's coding "
                             f"frameworks ({known})", file=mapping_shown)
        if guid in explicit:
            raise InputError(f"codes: the entries {explicit[guid][0]!r} and {key!r} both map the code "
                             f"{project.codes[guid].path!r} (guid {guid}); keep one", file=mapping_shown)
        explicit[guid] = (key, element, branch)
        if branch:
            for depth, below in project.descendants(guid):
                if below not in inherited or depth < inherited[below][0]:
                    inherited[below] = (depth, element)
    element_of = {guid: element for guid, (_, element) in inherited.items()}
    element_of.update({guid: element for guid, (_, element, _) in explicit.items()})
    return element_of, explicit


def _refuse_parents_without_codings(project: QdaProject, explicit: dict, element_of: dict, codings: list[Selection],
                                    mapping_shown: str) -> list[str]:
    """A mapped code whose codings all sit on unmapped codes below it would give 0 segments silently:
    an error. One with codings of its own and more below it: a note."""
    own = Counter(c.code_guid for c in codings)
    notes = []
    for guid, (key, element, branch) in explicit.items():
        if branch:
            continue
        below = [d for _, d in project.descendants(guid) if own[d] and d not in element_of]
        count = sum(own[d] for d in below)
        if below and own[guid]:
            notes.append(f"codes: {key!r} is mapped without the {_plural(count, 'coding')} on codes below it "
                         f"(such as {project.codes[below[0]].path!r}); write {key + '/**'!r} to take them with it")
        elif below:
            raise InputError(
                f"codes: {key!r} has no codings of its own, but {count} codings sit on codes below it that the "
                f"mapping does not map (such as {project.codes[below[0]].path!r}); write {key + '/**'!r} "
                f"(or {{element: {element}, include_children: true}}) to take them with it",
                file=mapping_shown,
            )
    return notes


def _assign_sources(project: QdaProject, assignment: SourceAssignment, *, microsystem_ids: list[str],
                    roles: list[str], shown: str, mapping_shown: str, folder: Path | None):
    """One interview row per source read, its microsystem, role and date found as the mapping says."""
    method = assignment.from_
    table = table_shown = None
    if method == "table":
        table_shown = (str(PurePosixPath(mapping_shown).parent / assignment.table)
                       if mapping_shown != "the coding mapping" else assignment.table)
        table = _read_sidecar(Path(folder or ".") / assignment.table, table_shown, microsystem_ids, roles)
        if "microsystem_id" not in table.columns and "microsystem_id" not in assignment.variables:
            raise InputError("the table has no column microsystem_id (and the mapping names no variable holding it "
                             f"under sources: variables:); it has {list(table.columns)}", file=table_shown, row=1)
    pattern = re.compile(assignment.pattern) if method == "pattern" else None
    cases_of: dict[str, list[Case]] = {}
    for case in project.cases:
        for source in case.sources:
            cases_of.setdefault(source, []).append(case)
    rows, unassigned = [], []  # unassigned: (source, why)
    used_cases: set[str] = set()
    used_variables: set[str] = set()
    matched_rows: set[int] = set()
    for name, text in project.sources.items():
        info = project.source_info[name]
        values = _variables_of(name, project, cases_of)
        given: dict[str, tuple[str, _Origin]] = {}
        why = ""
        if method == "cases":
            named = [c for c in cases_of.get(name, []) if c.name]
            units = [c for c in named if c.name in microsystem_ids]
            if len(units) > 1:
                raise InputError(f"source {name!r} belongs to the cases {[c.name for c in units]}, each a "
                                 "microsystem_id; expected one microsystem per interview", file=shown)
            if units:
                given["microsystem_id"] = (units[0].name, _Origin(f"case {units[0].name!r}"))
                used_cases.add(units[0].guid)
            elif named:
                raise InputError(
                    f"case {named[0].name!r} (holding source {name!r}) is not a microsystem_id in the microsystems "
                    f"file; rename the case, or assign sources in the mapping ({mapping_shown}) under sources: "
                    "with from: variables, table or pattern", file=shown)
            elif cases_of.get(name):
                why = (f"source {name!r} belongs only to cases without a name (MAXQDA and Quirkos write such cases "
                       "to carry file variables)")
            else:
                why = f"source {name!r} belongs to no case" + ("" if project.cases else " (the project has no cases)")
        elif method == "table":
            row = _table_row(table, name, info)
            if row is None:
                why = f"source {name!r} is not in the table {table_shown}"
            else:
                matched_rows.add(row)
                for column in SOURCE_FIELDS:
                    if column in table.columns:
                        origin = _Origin(f"table row {row + 2}", table_shown, row + 2, column)
                        given[column] = (table.at[row, column], origin)
        elif method == "pattern":
            match = pattern.search(name)
            if match is None:
                why = f"source name {name!r} does not match the pattern {assignment.pattern!r}"
            else:
                for group, value in match.groupdict().items():
                    if value is not None and value.strip():
                        given[group] = (value.strip(), _Origin(f"the pattern on its name {name!r}"))
        for column in SOURCE_FIELDS:
            variable = assignment.variables.get(column)
            if column not in given and variable in values:
                value, case_guid = values[variable]
                given[column] = (value, _Origin(f"variable {variable!r}"))
                used_variables.add(variable)
                if case_guid:
                    used_cases.add(case_guid)
        if "microsystem_id" not in given:
            if not why:
                variable = assignment.variables.get("microsystem_id")
                lacking = f"source {name!r} has no variable {variable!r} holding its microsystem_id " \
                          f"(it has {sorted(values) or 'none'})"
                why = {"variables": lacking,
                       "pattern": f"the pattern gives no microsystem_id and {lacking}",
                       "table": f"the table {table_shown} has no column microsystem_id and {lacking}"}[method]
            unassigned.append((name, why))
            continue
        row = _interview_row(name, text, given, values, assignment, microsystem_ids, roles, shown, mapping_shown)
        rows.append(row)
    left_out = {}
    notes = []
    if unassigned and assignment.unassigned == "error":
        name, why = unassigned[0]
        raise InputError(
            f"{why}; expected every interview to be assigned to a microsystem. "
            + _assignment_options(method, mapping_shown, table_shown),
            file=shown, more=len(unassigned) - 1,
        )
    if unassigned:
        left_out["assigned to no microsystem by the mapping (unassigned: ignore)"] = len(unassigned)
        names = [name for name, _ in unassigned]
        notes.append(f"{_plural(len(names), 'source')} assigned to no microsystem left out: "
                     f"{', '.join(repr(n) for n in names[:8])}{' …' if len(names) > 8 else ''}")
    if table is not None:
        for name, info in project.source_info.items():
            row = _table_row(table, name, info) if name not in project.sources else None
            if row is not None:
                matched_rows.add(row)
        stray = [f"{table.at[row, 'source']!r} (row {row + 2})" for row in table.index if row not in matched_rows]
        if stray:
            notes.append(f"{_plural(len(stray), 'row')} of {table_shown} name no source of the project: "
                         f"{', '.join(stray[:6])}{' …' if len(stray) > 6 else ''}")
    return rows, left_out, used_cases, used_variables, notes


def _assignment_options(method: str, mapping_shown: str, table_shown: str | None) -> str:
    options = {
        "cases": "from: cases (a case named by the microsystem_id holds the source)",
        "variables": "from: variables (a source or case variable holds it: variables: {microsystem_id: <name>})",
        "table": "from: table (table: a CSV beside the mapping with columns source, microsystem_id, "
                 "interviewee_role, interview_date)",
        "pattern": "from: pattern (a regular expression on the source name with named groups such as "
                   "(?P<microsystem_id>...))",
    }
    fix = {
        "table": f"add the source to {table_shown} (by name, guid or file name), or use ",
        "pattern": "change the pattern, or use ",
        "variables": "give the source that variable, or use ",
        "cases": "put the source in the case of its microsystem, or use ",
    }[method]
    others = "; ".join(text for key, text in options.items() if key != method)
    return (f"Fix: {fix}another way under sources: in the mapping ({mapping_shown}): {others}; "
            "or set unassigned: ignore there to leave such sources out")


def _variables_of(name: str, project: QdaProject, cases_of: dict[str, list[Case]]) -> dict[str, tuple[str, str]]:
    """A source's variables: its own, then those of the cases holding it -> (value, case guid or "")."""
    values: dict[str, tuple[str, str]] = {}
    for variable, value in project.source_variables.get(name, {}).items():
        if value:
            values[variable] = (value, "")
    for case in cases_of.get(name, []):
        for variable, value in case.variables.items():
            if value and variable not in values:
                values[variable] = (value, case.guid)
    return values


def _read_sidecar(path: Path, shown: str, microsystem_ids: list[str], roles: list[str]) -> pd.DataFrame:
    from workbench.io.tables import ColumnRule, check_columns, one_of, read_table, text

    table = read_table(path, label=shown)
    rules = [ColumnRule("source", "a source's name, guid or file name", None, unique=True)]
    present = [column for column in SOURCE_FIELDS if column in table.columns]
    if "source" in table.columns and not present:
        raise InputError(f"the table has none of the columns {', '.join(SOURCE_FIELDS)}; it has "
                         f"{list(table.columns)}", file=shown, row=1)
    if "microsystem_id" in present:
        rules.append(one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"))
    if "interviewee_role" in present:
        rules.append(one_of(roles, f"a role named in study.yaml ({', '.join(roles)})", name="interviewee_role"))
    if "interview_date" in present:
        rules.append(text("interview_date"))
    return check_columns(table, rules, file=shown)


def _table_row(table: pd.DataFrame, name: str, info: SourceInfo) -> int | None:
    """The table's row for a source: by name, guid, plain-text file name or its stem."""
    cells = table["source"]
    keys = [name, info.guid, _file_name(info.file), PurePosixPath(_file_name(info.file)).stem]
    for key in keys:
        if not key:
            continue
        hits = cells.index[cells.eq(key) | cells.map(_guid).eq(key.lower())]
        if len(hits):
            return int(hits[0])
    hits = cells.index[cells.str.casefold().eq(name.casefold())]
    return int(hits[0]) if len(hits) else None


def _interview_row(name: str, text: str, given: dict, values: dict, assignment: SourceAssignment,
                   microsystem_ids: list[str], roles: list[str], shown: str, mapping_shown: str) -> dict:
    def fail(problem: str, origin: _Origin):
        raise InputError(problem, file=origin.file or shown, row=origin.row, column=origin.column)

    for column in ("interviewee_role", "interview_date"):
        if column not in given:
            variable = assignment.variables.get(column)
            raise InputError(
                f"source {name!r} has no {column}: it has no variable {variable!r} (its variables: "
                f"{sorted(values) or 'none'}); name the variable holding it under sources: variables: "
                f"{{{column}: <name>}} in the mapping ({mapping_shown}), or give it in a table (from: table, column "
                f"{column}) or a pattern group (?P<{column}>...)", file=shown)
    unit, origin = given["microsystem_id"]
    if unit not in microsystem_ids:
        fail(f"source {name!r}: microsystem_id {unit!r} (from {origin.text}) is not a microsystem_id in the "
             "microsystems file", origin)
    role, origin = given["interviewee_role"]
    if role not in roles:
        near = [r for r in roles if r.casefold() == role.casefold()]
        hint = f"; did you mean {near[0]!r}?" if near else ""
        fail(f"source {name!r}: interviewee role {role!r} (from {origin.text}) is not a role named in study.yaml "
             f"({', '.join(roles)}){hint}", origin)
    value, origin = given["interview_date"]
    date = _parse_date(value, assignment.date_format)
    if date is None:
        wanted = (f"a date written as {assignment.date_format!r}" if assignment.date_format else
                  "a date written YYYY-MM-DD (set sources: date_format, such as '%d/%m/%Y', for other forms)")
        fail(f"source {name!r}: interview date {value!r} (from {origin.text}) is not {wanted}", origin)
    return {
        "interview_id": name,
        "microsystem_id": unit,
        "interviewee_role": role,
        "interview_date": date,
        "word_count": str(len(text.split())),
        "characters": str(len(text)),
    }


def _parse_date(value: str, date_format: str | None) -> str | None:
    """An ISO 8601 text (``YYYY-MM-DD``, time optional) for the value, or None."""
    try:
        if date_format:
            parsed = datetime.strptime(value.strip(), date_format)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value.strip()):
            parsed = datetime.fromisoformat(value.strip())
        else:
            return None
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=None)
    return parsed.date().isoformat() if parsed.time() == datetime.min.time() else parsed.isoformat()


def _fill_report(report: ImportReport, project: QdaProject, fate: list[str], kept: list[Selection],
                 element_of: dict[str, str], interviews: int, left_out_sources: dict, used_cases: set[str],
                 used_variables: set[str], method: str) -> None:
    """Count every kind of element: in the file, used, and left out with the reason."""
    aside = project.set_aside
    coded_users = {c.user for c in kept}
    users = sum(1 for guid in project.users if guid in coded_users)
    with_codings = {c.code_guid for c in project.codings}
    unmapped = Counter(
        "not in the mapping (its codings are left out)" if guid in with_codings
        else "not in the mapping (no codings)" if project.codes[guid].codable
        else "not in the mapping (a grouping code, not codable, without codings)"
        for guid in project.codes if guid not in element_of
    )
    used_selections = {c.selection for c in kept}
    selection_fate = {}
    for index, coding in enumerate(project.codings):
        if coding.selection not in used_selections:
            selection_fate.setdefault(coding.selection, set()).add(fate[index])
    selections = Counter()
    for place in range(len(project.selections)):
        if place in used_selections:
            continue
        reasons = selection_fate.get(place)
        if not reasons:
            selections["holds no coding"] += 1
        elif reasons == {"in a source the mapping leaves out"}:
            selections["in a source the mapping leaves out"] += 1
        else:
            selections["none of its codings is used"] += 1
    codings = Counter(reason for reason in fate if reason)
    unused_case = ("assigns no interview to a microsystem and gives none of its variables" if method == "cases"
                   else f"not needed: sources are assigned from: {method}")
    used_variable_count = sum(1 for name in project.variables.values() if name in used_variables)
    counts = {
        "users": (users, {"made no coding the study uses": len(project.users) - users}),
        "codes": (len(element_of), unmapped),
        "sources": (interviews, {**aside.get("sources", {}), **left_out_sources}),
        "selections": (len(used_selections), {**aside.get("selections", {}), **selections}),
        "codings": (len(kept), {**aside.get("codings", {}), **codings}),
        "cases": (len(used_cases), {unused_case: len(project.cases) - len(used_cases)}),
        "variables": (used_variable_count,
                      {"not read for any interview": len(project.variables) - used_variable_count}),
    }
    for kind in ("sets", "notes", "links", "graphs"):
        counts[kind] = (0, {f"{kind} are not read by the workbench": project.in_file[kind]})
    for kind in ELEMENTS:
        if kind in _ALWAYS_COUNTED or project.in_file[kind]:
            used, left_out = counts[kind]
            report.count(kind, in_file=project.in_file[kind], used=used, left_out=dict(left_out))


def _segment_names(codings: list[Selection], interview_of: dict[str, str],
                   scrub: Callable[[str], str] | None = None) -> tuple[dict[tuple[str, int, int], str], int]:
    """A segment is named by its selections' name when they agree on one that names no other
    stretch (as the workbench writes them) and that the scrubber leaves as it is; otherwise
    ``<interview_id>:<start>-<end>``. Also: how many names were set aside by the scrubber."""
    names: dict[tuple, set] = {}
    for c in codings:
        names.setdefault((c.source, c.start, c.end), set()).add(c.name)
    chosen = {}
    used: dict[str, int] = {}
    scrubbed = 0
    for key, labels in names.items():
        label = next(iter(labels)) if len(labels) == 1 else ""
        if label and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", label):
            if scrub is not None and scrub(label) != label:  # a selection named after what it selects: "Smith"
                label = ""
                scrubbed += 1
            else:
                used[label] = used.get(label, 0) + 1
        chosen[key] = label
    return {
        key: (label if label and used.get(label) == 1 else f"{interview_of[key[0]]}:{key[1]}-{key[2]}")
        for key, label in chosen.items()
    }, scrubbed


def read_coded_interviews(
    mapping_path: Path,
    *,
    framework_of: dict[str, str],
    microsystem_ids: list[str],
    roles: list[str],
    shown_folder: str | None = None,
    scrub: Callable[[str], str] | None = None,
) -> CodingImport:
    """Read a QDA project through its mapping file (see :class:`CodingMapping`); the result's
    ``report`` says what the import used and left out.

    ``scrub``: the study's scrubber, for the names that become ids (see :func:`project_frames`).
    """
    mapping_path = Path(mapping_path)
    prefix = f"{shown_folder}/" if shown_folder else f"{mapping_path.parent}/"
    mapping_shown = prefix + mapping_path.name
    mapping = read_coding_mapping(mapping_path, label=mapping_shown)
    shown = mapping.file if Path(mapping.file).is_absolute() else prefix + mapping.file
    project = read_qdpx(mapping_path.parent / mapping.file, label=shown)
    return project_frames(
        project, mapping, framework_of=framework_of, microsystem_ids=microsystem_ids, roles=roles, shown=shown,
        mapping_shown=mapping_shown, folder=mapping_path.parent, scrub=scrub,
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
    project: QdaProject | None = None,
    mapping: CodingMapping | None = None,
    when: datetime = datetime(2026, 1, 1),
) -> dict[str, str | dict]:
    """Write the study's coding as a ``.qdpx`` project; return the ``codes:`` of the mapping that reads it back.

    * **Back into the project it came from** (``project`` and ``mapping`` given: the study was
      read from that project through that mapping; read it again with
      ``read_qdpx(..., keep_files=True)``): the project is written back as read. Every element,
      attribute and guid (codebook and its hierarchy, colours and descriptions, users, variables,
      cases and their members, sources, selections, codings, sets, notes, links, graphs) and
      every archive member byte for byte, so each transcript and each position is the one read.
      Only what the schema refuses is changed: a codebook in a codebook namespace is written in
      the project's, empty containers (``<Users/>``) are left out and the standard order of
      elements is kept. Each of the study's codings the project does not already hold (the same
      source, positions, coder and element through the mapping) is added: into the selection of
      the same stretch where there is one, on the code the mapping names for its element (or on
      a code added for it under the framework's title). ``name``, ``interviews``,
      ``microsystems`` and ``transcripts`` are not used. Returns the mapping's ``codes:`` plus an
      entry for each code added.
    * **Built from the study's frames** (no ``project``): one source per interview, holding its
      transcript from ``transcripts``; where an interview has none (or a coding of it has no
      position), one built from its excerpts in segment order (positions in the built text).
      The codebook is the study's frameworks (:func:`study_codebook`), cases are microsystems,
      and every guid is derived from the study's own ids, so the same study writes the same file.
    """
    if project is not None:
        if mapping is None:
            raise ValueError("writing a project back needs the mapping the study was read through")
        xml, members, codes = _project_back(project, mapping, codings, frameworks, when)
    else:
        xml, members, codes = _project_from_frames(name, codings, interviews, microsystems, frameworks, transcripts,
                                                   when)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("project.qde", xml)
        for member, data in members.items():
            archive.writestr(member, data)
    write_bytes_atomic(Path(path), stable_zip(buffer.getvalue(), when))
    return codes


def _project_from_frames(name: str, codings: pd.DataFrame, interviews: pd.DataFrame, microsystems: pd.DataFrame,
                         frameworks, transcripts: dict[str, str] | None, when: datetime):
    codebook = study_codebook(frameworks)
    transcripts, codings = _with_transcripts(codings, interviews, transcripts)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    users = {coder: _stable_guid("user", coder) for coder in sorted(codings["coder"].unique())}
    root = ElementTree.Element(
        _q("Project"), {"name": name, "origin": "clinical microsystems workbench", "creationDateTime": stamp}
    )
    if users:  # the schema wants at least one User in <Users>
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
    if len(microsystems):
        cases_element = ElementTree.SubElement(root, _q("Cases"))
    for unit in microsystems.itertuples(index=False):
        case = ElementTree.SubElement(
            cases_element, _q("Case"), {"guid": _stable_guid("case", unit.microsystem_id), "name": unit.microsystem_id}
        )
        _write_value(case, variable_guid["Setting"], "TextValue", unit.setting)
        _write_value(case, variable_guid["Organisation"], "TextValue", unit.organisation)
        for interview in interviews.loc[interviews["microsystem_id"].eq(unit.microsystem_id), "interview_id"]:
            ElementTree.SubElement(case, _q("SourceRef"), {"targetGUID": source_guid[interview]})
    if len(interviews):
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
    element_of = {_stable_guid("code", f.id, e.id): e.id for f in frameworks for e in f.elements}
    codes = {c.path: element_of[c.guid] for c in codebook if c.parent}
    return _serialise(root), dict(sorted(files.items())), codes


# The schema's order of children, for the elements a written project may have reordered or added to.
_ORDER = {
    "Project": ("Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs",
                "Description", "NoteRef"),
    "TextSource": ("Description", "PlainTextContent", "PlainTextSelection", "Coding", "NoteRef", "VariableValue"),
    "PlainTextSelection": ("Description", "Coding", "NoteRef"),
    "Code": ("Description", "NoteRef", "Code"),
}
_CONTAINERS = ("Users", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs")


def _project_back(project: QdaProject, mapping: CodingMapping, codings: pd.DataFrame, frameworks, when: datetime):
    """The project as read, plus the study's codings it does not hold; see :func:`write_qdpx`."""
    if project.tree is None or project.members is None:
        raise ValueError("a project is written back only as read by read_qdpx(..., keep_files=True), "
                         "which keeps its sources")
    root = copy.deepcopy(project.tree)
    for element in root.iter():
        if isinstance(element.tag, str) and _namespace(element.tag) in CODEBOOK_NAMESPACES:
            element.tag = _q(_local(element.tag))
    framework_of = {e.id: f.id for f in frameworks for e in f.elements}
    element_of, explicit = _resolve_codes(project, mapping, framework_of, "the coding mapping",
                                          project.name or "the project")
    codes: dict[str, str | dict] = {
        key: target if isinstance(target, str) else target.model_dump() for key, target in mapping.codes.items()
    }
    # Interviews whose source name the scrubber changed carry a generated id: back to the source's name.
    source_of = {interview: name for name, interview in _generated_ids(project).items()}
    sources = [i if i in project.sources else source_of.get(i, i) for i in codings["interview_id"]]
    codings = codings.assign(interview_id=sources)
    held = {(c.source, c.start, c.end, c.coder, element_of[c.code_guid])
            for c in project.codings if c.code_guid in element_of}
    new = [row for row in codings.itertuples(index=False)
           if pd.isna(row.start) or pd.isna(row.end)
           or (row.interview_id, int(row.start), int(row.end), row.coder, row.code_id) not in held]
    if new:
        _add_codings(root, project, new, explicit, frameworks, codes, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for holder in list(root):
        if _local(holder.tag) == "CodeBook":
            for codes_element in list(holder):
                if not len(codes_element):
                    holder.remove(codes_element)
        if _local(holder.tag) in (*_CONTAINERS, "CodeBook") and not len(holder):
            root.remove(holder)  # an empty container says nothing, and the schema refuses it
    for element in list(root.iter()):
        order = _ORDER.get(_local(element.tag)) if isinstance(element.tag, str) else None
        if order:
            children = list(element)
            ordered = sorted(children, key=lambda child: order.index(_local(child.tag)) if isinstance(child.tag, str)
                             and _local(child.tag) in order else len(order))
            if ordered != children:
                element[:] = ordered
    return _serialise(root), dict(project.members), codes


def _add_codings(root, project: QdaProject, new: list, explicit: dict, frameworks, codes: dict, stamp: str) -> None:
    """Add the study's codings the project does not hold (rows of the codings frame)."""
    written = {}  # (kind, normalised guid) -> element, for the guids as the project writes them
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("guid"):
            written.setdefault((_local(element.tag), _guid(element.get("guid"))), element)

    def holder(parent, tag: str, position: int | None = None):
        found = _kids(parent, tag)
        if found:
            return found[0]
        element = ElementTree.Element(_q(tag))
        parent.insert(len(parent) if position is None else position, element)
        return element

    user_of = {name: written[("User", guid)].get("guid") for guid, name in project.users.items()
               if ("User", guid) in written}
    code_of: dict[str, str] = {}
    for guid, (_, element, _) in explicit.items():
        if ("Code", guid) in written:
            code_of.setdefault(element, written[("Code", guid)].get("guid"))
    frameworks = {framework.id: framework for framework in frameworks}
    stretches: dict[tuple, ElementTree.Element] = {}
    for row in new:
        if pd.isna(row.start) or pd.isna(row.end):
            raise ValueError(f"coding of segment {row.segment_id!r} by {row.coder} has no start and end; only codings "
                             "with positions can be written into the project")
        start, end = int(row.start), int(row.end)
        info = project.source_info.get(row.interview_id)
        if info is None or row.interview_id not in project.sources:
            raise ValueError(f"interview {row.interview_id!r} is not a text source read from the project")
        if row.coder not in user_of:
            user_of[row.coder] = (row.coder if _GUID_TEXT.fullmatch(row.coder)
                                  else _stable_guid("user", row.coder))
            if not _GUID_TEXT.fullmatch(row.coder):
                ElementTree.SubElement(holder(root, "Users", 0), _q("User"),
                                       {"guid": user_of[row.coder], "name": row.coder})
        if row.code_id not in code_of:
            framework = frameworks[row.framework_id]
            element = next(e for e in framework.elements if e.id == row.code_id)
            parent_guid = _stable_guid("framework", framework.id)
            parent = written.get(("Code", parent_guid))
            if parent is None:
                top = holder(holder(root, "CodeBook"), "Codes")
                parent = ElementTree.SubElement(top, _q("Code"),
                                                {"guid": parent_guid, "name": framework.title, "isCodable": "false"})
                ElementTree.SubElement(parent, _q("Description")).text = f"Framework {framework.id}"
                written[("Code", parent_guid)] = parent
            guid = _stable_guid("code", framework.id, element.id)
            if ("Code", guid) not in written:
                code = ElementTree.SubElement(parent, _q("Code"),
                                              {"guid": guid, "name": element.label, "isCodable": "true"})
                if element.description:
                    ElementTree.SubElement(code, _q("Description")).text = element.description
            code_of[row.code_id] = guid
            codes[guid] = row.code_id
        source = written[("TextSource", info.guid)]
        key = (info.guid, start, end)
        if key not in stretches:
            stretches[key] = next(
                (s for s in _kids(source, "PlainTextSelection")
                 if s.get("startPosition", "").strip() == str(start) and s.get("endPosition", "").strip() == str(end)),
                None,
            ) or ElementTree.SubElement(source, _q("PlainTextSelection"), {
                "guid": _stable_guid("selection", info.guid, str(start), str(end)),
                "name": row.segment_id,
                "startPosition": str(start),
                "endPosition": str(end),
                "creatingUser": user_of[row.coder],
                "creationDateTime": stamp,
            })
        coding = ElementTree.SubElement(stretches[key], _q("Coding"), {
            "guid": _stable_guid("coding", info.guid, str(start), str(end), row.coder, row.code_id),
            "creatingUser": user_of[row.coder],
            "creationDateTime": stamp,
        })
        ElementTree.SubElement(coding, _q("CodeRef"), {"targetGUID": code_of[row.code_id]})


def _serialise(root) -> bytes:
    """The project element as UTF-8 XML with its declaration. A carriage return in text (as in
    inline ``PlainTextContent``) is written ``&#13;``, since a parser reads a bare one as a line feed."""
    ElementTree.register_namespace("", PROJECT_NS)
    returns = [e for e in root.iter() if "\r" in (e.text or "") or "\r" in (e.tail or "")]
    if not returns:
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")
    plain = ElementTree.tostring(root, encoding="unicode")
    mark = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in plain)  # a private-use stand-in
    for element in returns:
        element.text = element.text.replace("\r", mark) if element.text else element.text
        element.tail = element.tail.replace("\r", mark) if element.tail else element.tail
    xml = ElementTree.tostring(root, encoding="utf-8").replace(mark.encode("utf-8"), b"&#13;")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + xml


def validate_project(xml: bytes, schema_path: Path) -> list[str]:
    """What the REFI-QDA project schema (``Project.xsd``) finds wrong in a ``project.qde``, one line
    each (an empty list: the project is valid). Nothing is fetched over the network."""
    import xmlschema

    schema = _schema(str(Path(schema_path).resolve()))
    resource = xmlschema.XMLResource(io.BytesIO(xml), defuse="always", allow="none")
    return [f"{error.path or '/'}: {error.reason}" for error in schema.iter_errors(resource)]


@functools.lru_cache(maxsize=4)
def _schema(path: str):
    import xmlschema

    return xmlschema.XMLSchema(path, allow="sandbox", defuse="always")


def transcripts_matching(candidates: dict[str, str], interviews: pd.DataFrame,
                         codings: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """The candidate transcripts (interview_id -> text) that are the study's: the text is as long as
    the interview's ``characters`` (where known) and every coding's ``start`` and ``end`` cut its
    ``excerpt`` (as the raw file holds it, before scrubbing) out of the text.

    Returns the transcripts kept and, for the interviews given a candidate that does not fit, why.
    """
    kept, refused = {}, {}
    own = {interview: part for interview, part in codings.groupby("interview_id", sort=False)}
    lengths = (interviews.set_index("interview_id")["characters"] if "characters" in interviews.columns
               else pd.Series(dtype="object"))
    for interview in interviews["interview_id"]:
        text = candidates.get(interview)
        if text is None:
            continue
        known = lengths.get(interview)
        part = own.get(interview, codings.iloc[:0])
        if known is not None and not pd.isna(known) and int(known) != len(text):
            refused[interview] = f"the transcript has {len(text)} characters, the interview {int(known)}"
        elif part["start"].isna().any() or part["end"].isna().any():
            refused[interview] = "some of its codings carry no start and end"
        else:
            wrong = [row.segment_id for row in part.itertuples(index=False)
                     if text[int(row.start):int(row.end)] != row.excerpt]
            if wrong:
                refused[interview] = f"the text at the positions of {wrong[0]!r} is not its excerpt"
            else:
                kept[interview] = text
    return kept, refused


def transcripts_in(path: Path) -> dict[str, str]:
    """Transcripts (name -> plain text) held at ``path``: a folder of ``<interview_id>.txt`` files
    (UTF-8), a ``.qdpx`` (or ``.qde``) project's text sources, or those of the project a REFI-QDA
    mapping file names (any other YAML file holds none). Texts are read as written: a CRLF
    stays two characters."""
    path = Path(path)
    if path.is_dir():
        return {file.stem: file.read_bytes().decode("utf-8-sig") for file in sorted(path.glob("*.txt"))}
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return {}
        if not isinstance(content, dict) or content.get("format") != "refi-qda" or not content.get("file"):
            return {}
        path = path.parent / str(content["file"])
    return read_qdpx(path).sources

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
    """A ``.qdc`` codebook (namespace ``urn:QDA-XML:codebook:1.0`` or ``urn:QDA-XML:codebook:0:4``)
    as one row per code.

    Columns: ``guid``, ``name``, ``path``, ``parent``, ``codable``, ``description``.
    """
    shown = label or str(path)
    try:
        root = SafeElementTree.fromstring(Path(path).read_bytes())
    except FileNotFoundError:
        raise InputError("file not found", file=shown) from None
    except ElementTree.ParseError as error:
        raise InputError(f"not well-formed XML: {error}", file=shown) from None
    if _local(root.tag) != "CodeBook" or _namespace(root.tag) not in CODEBOOK_NAMESPACES:
        raise InputError(
            f"expected a <CodeBook> in the namespace {CODEBOOK_NS} or {CODEBOOK_NS_0_4}, found {root.tag}", file=shown
        )
    project = QdaProject(name="")
    _read_codes(root, project, shown)
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
