"""What an import read, used and left out: REFI-QDA's data-loss rule, for every reader.

Every reader of an outside file (a QDA project, a survey export, the study's CSV files) fills
one :class:`ImportReport`: per kind of element (codes, sources, codings, cases, rows, columns,
...) how many the file held, how many the study uses, and how many were left out and why; plus
notes on what the reader assumed. ``workbench build`` prints each report's summary line, stores
them all in ``data/processed/<study>/import_report.json``, and the study overview shows them.

Examples
--------
>>> report = ImportReport(source="exports/interviews.qdpx", kind="REFI-QDA project")
>>> report.count("codings", in_file=965, used=788, left_out={"code not mapped to the framework": 177})
>>> report.count("sets", in_file=2, used=0, left_out={"sets are not used by the workbench": 2})
>>> for part in report.line().split("; "):
...     print(part)
exports/interviews.qdpx (REFI-QDA project): codings 788 of 965 used (177 left out: code not mapped to the framework)
sets 0 of 2 used (2 left out: sets are not used by the workbench)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["ElementCount", "ImportReport"]


@dataclass
class ElementCount:
    """One kind of element of an imported file: how many it held, used, left out and why."""

    element: str
    in_file: int
    used: int
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> how many

    def __post_init__(self):
        if self.in_file - self.used != sum(self.left_out.values()):
            raise ValueError(f"{self.element}: {self.in_file} in the file, {self.used} used, but "
                             f"{sum(self.left_out.values())} accounted for as left out; "
                             "every element must be one or the other")

    def text(self) -> str:
        text = f"{self.element} {self.used} of {self.in_file} used"
        if self.left_out:
            text += " (" + "; ".join(f"{n} left out: {reason}" for reason, n in self.left_out.items()) + ")"
        return text


@dataclass
class ImportReport:
    """The import of one outside file (``source``, as shown to the user) of a ``kind``."""

    source: str
    kind: str
    counts: list[ElementCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader assumed or set aside, in words

    def count(self, element: str, *, in_file: int, used: int, left_out: dict[str, int] | None = None) -> None:
        """Record one kind of element; the left-out reasons must account for every unused one."""
        reasons = {reason: int(n) for reason, n in (left_out or {}).items() if n}
        self.counts.append(ElementCount(element, int(in_file), int(used), reasons))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def used(self, element: str) -> int | None:
        """How many of ``element`` the study uses (None when this import has no such element)."""
        return next((c.used for c in self.counts if c.element == element), None)

    @property
    def lost_anything(self) -> bool:
        return any(c.left_out for c in self.counts)

    def line(self) -> str:
        """One line for the terminal: what was used of what, and what was left out."""
        parts = "; ".join(c.text() for c in self.counts) or "nothing counted"
        return f"{self.source} ({self.kind}): {parts}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ImportReport:
        counts = [ElementCount(**c) for c in data.get("counts", [])]
        return cls(data["source"], data["kind"], counts, list(data.get("notes", [])))
