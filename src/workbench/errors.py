"""The one error type the workbench raises for bad input, and how it is worded."""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError"]


class InputError(ValueError):
    """Input that the workbench cannot accept.

    The message names where the problem is (file, row, column or element), what was
    expected and what was found, so that a researcher can fix the file without
    reading a traceback. ``row`` is the line number a spreadsheet or text editor shows
    (the header is line 1).
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        more: int = 0,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else Path(file)
        self.row = row
        self.column = column
        self.more = more
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where)
        text = f"{text}: {self.problem}" if text else self.problem
        if self.more:
            text += f" (and {self.more} more problem{'s' if self.more > 1 else ''} in this file)"
        return text
