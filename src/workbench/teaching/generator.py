"""The teaching set's learner and instructor notebooks, generated from one source per lesson.

A lesson's source, ``lessons/NN-name.ipynb`` beside this module, holds each exercise as
a cell tagged ``exercise`` (what the learner fills in: ``answer_2_1 = ...``) immediately
followed by a cell tagged ``solution`` (the worked answer, assigning the same name).
:func:`generate` writes two versions of every lesson under ``notebooks/teaching/``:

- ``learner/NN-name.ipynb``: exercise cells kept, solution cells dropped;
- ``instructor/NN-name.ipynb``: solution cells in place of exercise cells, and a note
  under the title saying so.

Both come out with outputs cleared; ``workbench teaching`` then executes them, so the
stored outputs nbval compares are fresh. Edit the sources, never the generated files.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXERCISE_TAG", "LESSONS", "LESSONS_DIR", "NOTE_TAG", "PLACEHOLDER_COMMENT", "SOLUTION_TAG", "VERSIONS", "Lesson",
    "generate", "instructor_version", "learner_version", "lesson_plan", "source_paths", "validate",
]

LESSONS_DIR = Path(__file__).parent / "lessons"
VERSIONS = ("learner", "instructor")
EXERCISE_TAG, SOLUTION_TAG, NOTE_TAG = "exercise", "solution", "instructor-note"
PLACEHOLDER_COMMENT = "# your answer"


@dataclass(frozen=True)
class Lesson:
    number: int
    name: str  # the notebook's file stem
    title: str
    minutes: int


LESSONS = (
    Lesson(1, "01-what-is-a-microsystem", "What a clinical microsystem is, and its eight characteristics", 15),
    Lesson(2, "02-your-unit-among-the-others", "Your own unit's self-assessment, among the study's units", 25),
    Lesson(3, "03-reading-a-case-matrix", "Reading a case x characteristic matrix", 15),
    Lesson(4, "04-agreement-before-averaging", "Why agreement comes before averaging", 20),
    Lesson(5, "05-first-cross-case-comparison", "A first cross-case comparison", 15),
)


def lesson_plan():
    """The lessons as a table: ``lesson``, ``title``, ``minutes``, ``starts_at`` (minutes into the session).

    Examples
    --------
    >>> lesson_plan()[["lesson", "minutes", "starts_at"]].values.tolist()
    [[1, 15, 0], [2, 25, 15], [3, 15, 40], [4, 20, 55], [5, 15, 75]]
    """
    import pandas as pd

    rows = [{"lesson": lesson.number, "title": lesson.title, "minutes": lesson.minutes} for lesson in LESSONS]
    table = pd.DataFrame(rows)
    table["starts_at"] = table["minutes"].cumsum() - table["minutes"]
    return table


def source_paths(folder: Path = LESSONS_DIR) -> list[Path]:
    """The lesson sources, in order; every lesson of :data:`LESSONS` must have one, and nothing else may be there."""
    found = sorted(folder.glob("*.ipynb"))
    names = [path.stem for path in found]
    wanted = [lesson.name for lesson in LESSONS]
    if folder == LESSONS_DIR and names != wanted:
        raise ValueError(f"{folder} must hold exactly the lessons {wanted}, found {names}")
    return found


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _assigned_names(tree: ast.Module) -> list[str]:
    return [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]


def _has_ellipsis(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.Constant) and node.value is Ellipsis for node in ast.walk(tree))


def _checked_ids(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(exercise id, name of the answer passed) for every ``teaching.check("x.y", answer, ...)`` call."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "teaching"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            answer = node.args[1].id if len(node.args) > 1 and isinstance(node.args[1], ast.Name) else None
            found.append((node.args[0].value, answer))
    return found


def validate(book, *, name: str) -> list[str]:
    """Check a lesson source and return the exercise ids it checks, in order.

    A source opens with a Markdown title (``# ``), has one ``parameters`` cell of
    commented literals naming ``study``, defines no function or class, pairs every
    ``exercise`` cell with the ``solution`` cell right after it (both assigning the same
    ``answer_N_M``; only the exercise holds ``...``), and checks each answer once with
    ``teaching.check("N.M", answer_N_M, ...)`` after its solution, for a registered exercise.
    """
    from workbench.teaching.exercises import EXERCISES

    def fail(index: int | None, problem: str):
        where = f"{name}" if index is None else f"{name}, cell {index}"
        raise ValueError(f"{where}: {problem}")

    cells = book.cells
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        fail(0, "a lesson must open with a Markdown cell starting '# ' (its title)")
    parameters = [i for i, cell in enumerate(cells) if "parameters" in _tags(cell)]
    if len(parameters) != 1:
        fail(None, f"exactly one cell must be tagged 'parameters', found {len(parameters)}")
    _validate_parameters(cells[parameters[0]].source, lambda problem: fail(parameters[0], problem))
    checked: list[str] = []
    answered: dict[str, int] = {}
    for index, cell in enumerate(cells):
        tags = _tags(cell)
        if cell.cell_type != "code":
            if EXERCISE_TAG in tags or SOLUTION_TAG in tags:
                fail(index, "only code cells can be exercises or solutions")
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as error:
            fail(index, f"not valid Python: {error.msg} (line {error.lineno})")
        if any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in ast.walk(tree)):
            fail(index, "no def or class in a lesson: logic belongs in workbench.teaching")
        if EXERCISE_TAG in tags and SOLUTION_TAG in tags:
            fail(index, "a cell cannot be both the exercise and its solution")
        if EXERCISE_TAG in tags:
            names = _assigned_names(tree)
            if len(tree.body) != 1 or len(names) != 1 or not names[0].startswith("answer_") or not _has_ellipsis(tree):
                fail(index, "an exercise cell is one line, `answer_N_M = ...  # your answer: ...`")
            following = cells[index + 1] if index + 1 < len(cells) else None
            if following is None or SOLUTION_TAG not in _tags(following):
                fail(index, "an exercise cell must be followed directly by its solution cell (tagged 'solution')")
            solution = ast.parse(following.source)
            if _has_ellipsis(solution):
                fail(index + 1, "a solution must not contain `...`")
            if names[0] not in _assigned_names(solution):
                fail(index + 1, f"the solution must assign {names[0]}, as its exercise does")
            if names[0] in answered:
                fail(index, f"{names[0]} is already the answer of the exercise in cell {answered[names[0]]}")
            answered[names[0]] = index
        elif SOLUTION_TAG in tags and (index == 0 or EXERCISE_TAG not in _tags(cells[index - 1])):
            fail(index, "a solution cell must come directly after its exercise cell")
        for exercise_id, answer in _checked_ids(tree):
            if exercise_id not in EXERCISES:
                fail(index, f"checks exercise {exercise_id!r}, which is not registered in workbench.teaching.exercises")
            wanted = EXERCISES[exercise_id].answer_name
            if answer != wanted:
                fail(index, f"exercise {exercise_id} must be checked with its answer {wanted}, got {answer}")
            if answered.get(wanted) is None:
                fail(index, f"exercise {exercise_id} is checked before its exercise and solution cells")
            if exercise_id in checked:
                fail(index, f"exercise {exercise_id} is checked twice")
            checked.append(exercise_id)
    unchecked = sorted(set(answered) - {EXERCISES[i].answer_name for i in checked})
    if unchecked:
        fail(None, f"answers never checked: {unchecked}")
    return checked


def _validate_parameters(source: str, fail) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        fail(f"the parameters cell is not valid Python: {error.msg}")
    names = []
    for statement in tree.body:
        if (not isinstance(statement, ast.Assign) or len(statement.targets) != 1
                or not isinstance(statement.targets[0], ast.Name)):
            fail("the parameters cell may only assign literals to names")
        try:
            ast.literal_eval(statement.value)
        except ValueError:
            fail(f"parameter {statement.targets[0].id} must be a literal, nothing derived")
        names.append(statement.targets[0].id)
    if "study" not in names:
        fail("the parameters cell must set study = \"demo\"")
    for line in source.splitlines():
        if "#" not in line:
            fail(f"document each parameter line with a # comment: {line!r}")


def _clean(cell):
    """A copy of ``cell`` with no outputs, no execution count and only its tags as metadata."""
    cell = copy.deepcopy(cell)
    tags = _tags(cell)
    cell.metadata = {"tags": tags} if tags else {}
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    cell.pop("attachments", None)
    return cell


def _version(book, *, name: str, version: str):
    import nbformat

    validate(book, name=name)
    dropped = SOLUTION_TAG if version == "learner" else EXERCISE_TAG
    cells = [_clean(cell) for cell in book.cells if dropped not in _tags(cell)]
    if version == "instructor":
        note = nbformat.v4.new_markdown_cell(
            "> **Instructor version.** Worked solutions stand where learners have exercise cells, so every check "
            f"below should say ✔ Right. The learner version is `notebooks/teaching/learner/{name}.ipynb`. Both are "
            f"generated by `workbench teaching` from `src/workbench/teaching/lessons/{name}.ipynb`: edit that source, "
            "never this file.",
            id="instructor-note", metadata={"tags": [NOTE_TAG]},
        )
        cells.insert(1, note)
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "workbench": {"teaching": {"version": version, "source": f"src/workbench/teaching/lessons/{name}.ipynb"}},
    }
    return out


def learner_version(book, *, name: str):
    """The learner's notebook: exercise cells kept, solution cells dropped, outputs cleared."""
    return _version(book, name=name, version="learner")


def instructor_version(book, *, name: str):
    """The instructor's notebook: solutions instead of exercises, a note under the title, outputs cleared."""
    return _version(book, name=name, version="instructor")


def generate(target: Path, *, sources: list[Path] | None = None) -> list[Path]:
    """Write every lesson's learner and instructor notebooks under ``target`` (a project's
    ``notebooks/teaching``), each atomically; remove generated notebooks whose lesson is gone.

    Every source is validated before anything is written, so a broken source changes nothing.

    Returns
    -------
    The paths written: every lesson's learner notebook, then every lesson's instructor notebook.
    """
    import nbformat

    from workbench.io.files import write_text_atomic

    target = Path(target)
    sources = source_paths() if sources is None else list(sources)
    books = {path.stem: nbformat.read(path, as_version=4) for path in sources}
    # Learner versions first, then instructor ones: executed in this order, each folder keeps one warm kernel.
    versions = {
        (name, version): _version(book, name=name, version=version)
        for version in VERSIONS
        for name, book in books.items()
    }
    written = []
    for (name, version), book in versions.items():
        path = target / version / f"{name}.ipynb"
        write_text_atomic(path, nbformat.writes(book) + "\n")
        written.append(path)
    for version in VERSIONS:
        for stale in (target / version).glob("[0-9][0-9]-*.ipynb"):
            if stale.stem not in books:
                stale.unlink()
    return written
