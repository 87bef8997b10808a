"""Notebooks stay thin: a parameters cell of plain literals, no definitions, logic in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from workbench.project import Project
from workbench.reports.running import source_notebooks

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = source_notebooks(Project(FOLDER.parent))  # reports, explorer, teaching set


def shown(path: Path) -> str:
    return path.relative_to(FOLDER).as_posix()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=shown)
def test_one_parameters_cell_of_literals_that_names_the_study(path):
    book = nbformat.read(path, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse(tagged[0].source)
    names = []
    for statement in tree.body:
        assert isinstance(statement, ast.Assign), "the parameters cell only assigns defaults"
        ast.literal_eval(statement.value)  # a literal, nothing derived
        names += [target.id for target in statement.targets]
    assert "study" in names
    for line in tagged[0].source.splitlines():
        assert "#" in line, f"document each parameter with a comment: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=shown)
def test_no_definitions_in_notebooks_and_a_question_first(path):
    book = nbformat.read(path, as_version=4)
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
    for cell in book.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                definition = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                assert not definition, "no def or class in a notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=shown)
def test_stored_outputs_have_no_errors_and_no_papermill_noise(path):
    book = nbformat.read(path, as_version=4)
    assert "papermill" not in book.metadata
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"run `make notebooks`: cell not executed: {cell.source[:40]!r}"
            assert all(o.output_type != "error" for o in cell.outputs)
