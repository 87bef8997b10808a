"""The teaching set: generated notebooks are exactly what their sources make, every worked
solution passes its check and every check's answer agrees with plain pandas, and the
self-assessment form scores what it is given (can't rate missing, never zero)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from workbench import cli, teaching  # noqa: E402
from workbench.frameworks import SHIPPED  # noqa: E402
from workbench.study import open_study  # noqa: E402
from workbench.teaching import generator  # noqa: E402
from workbench.vocabulary import AgreementPolicy  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[1]
GENERATED = CHECKOUT / "notebooks" / "teaching"
SOURCES = generator.source_paths()
VERSIONS = [(path, version) for path in SOURCES for version in generator.VERSIONS]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INFORMATION = ["information_providers_staff", "information_patients", "information_technology"]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def shape(book) -> list[tuple]:
    """What the generator decides: cell types, sources and tags (not outputs, counts or ids)."""
    return [(cell.cell_type, cell.source, tuple(tags(cell))) for cell in book.cells]


def made(path: Path, version: str):
    make = generator.learner_version if version == "learner" else generator.instructor_version
    return make(read(path), name=path.stem)


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


# ---------------------------------------------------------------------------------------
# The generated notebooks never drift from their sources.

def test_the_lessons_fill_ninety_minutes_and_each_has_a_source():
    assert [path.stem for path in SOURCES] == [lesson.name for lesson in generator.LESSONS]
    plan = teaching.lesson_plan()
    assert plan["minutes"].sum() == 90
    assert plan["starts_at"].tolist() == [0, 15, 40, 55, 75]


@pytest.mark.parametrize("source, version", VERSIONS, ids=lambda v: v if isinstance(v, str) else v.stem)
def test_committed_notebook_is_what_the_generator_makes(source, version):
    committed = GENERATED / version / source.name
    assert committed.exists(), f"run `workbench teaching`: {committed} is missing"
    assert shape(read(committed)) == shape(made(source, version)), (
        f"{committed} drifted from {source}: run `workbench teaching`"
    )


def test_no_generated_notebook_without_a_source():
    for version in generator.VERSIONS:
        assert sorted(p.name for p in (GENERATED / version).glob("*.ipynb")) == sorted(p.name for p in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_learner_version_holds_no_solution_and_instructor_version_every_one(source):
    book = read(source)
    solutions = [cell.source for cell in book.cells if "solution" in tags(cell)]
    exercises = [cell.source for cell in book.cells if "exercise" in tags(cell)]
    assert len(solutions) == len(exercises) >= 2
    learner, instructor = read(GENERATED / "learner" / source.name), read(GENERATED / "instructor" / source.name)
    learner_text = "\n".join(cell.source for cell in learner.cells)
    for solution in solutions:
        code = [line for line in solution.splitlines() if line.strip() and not line.startswith("#")]
        assert all(line not in learner_text for line in code), f"solution text in the learner version: {solution!r}"
    assert not any("solution" in tags(cell) for cell in learner.cells)
    assert [c.source for c in learner.cells if "exercise" in tags(c)] == exercises
    assert [c.source for c in instructor.cells if "solution" in tags(c)] == solutions
    assert not any("exercise" in tags(cell) for cell in instructor.cells)
    for cell in instructor.cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            ellipsis = any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(tree))
            assert not ellipsis, f"`...` left in {cell.source!r}"
    assert instructor.cells[0].source == book.cells[0].source
    assert "Instructor version" in instructor.cells[1].source and "instructor-note" in tags(instructor.cells[1])


ALL_NOTEBOOKS = SOURCES + [GENERATED / version / path.name for path in SOURCES for version in generator.VERSIONS]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_notebooks_are_thin_with_one_parameters_cell_naming_the_study(path):
    book = read(path)
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
    parameters = [cell for cell in book.cells if "parameters" in tags(cell)]
    assert len(parameters) == 1
    defaults = {}
    for statement in ast.parse(parameters[0].source).body:
        assert isinstance(statement, ast.Assign), "the parameters cell only assigns defaults"
        defaults[statement.targets[0].id] = ast.literal_eval(statement.value)
    assert defaults["study"] == "demo"
    assert all("#" in line for line in parameters[0].source.splitlines())
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree))
        if "plt.subplots" in cell.source:
            assert cell.source.rstrip().endswith("plt.show()"), (
                f"a plot cell ends with plt.show(): {cell.source[:60]!r}"
            )


@pytest.mark.parametrize("source, version", VERSIONS, ids=lambda v: v if isinstance(v, str) else v.stem)
def test_stored_outputs_are_clean_and_only_widget_cells_skip_nbval(source, version):
    book = read(GENERATED / version / source.name)
    assert "papermill" not in book.metadata and "widgets" not in book.metadata
    verdicts = []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, "run `workbench teaching`: a cell was not executed"
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata
        shows_widget = any(WIDGET_VIEW in output.get("data", {}) for output in cell.outputs)
        assert ("nbval-ignore-output" in tags(cell)) == shows_widget, (
            "tag nbval-ignore-output exactly the cells that show a widget"
        )
        for output in cell.outputs:
            assert output.output_type != "error" and output.get("name") != "stderr", f"{cell.source[:60]!r}: {output}"
            text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
            assert not re.search(r"np\.(float|int)\d+\(", text), f"numpy repr in an output: {text[:120]!r}"
        if cell.source.startswith("teaching.check("):
            verdicts.append(cell.outputs[0]["data"]["text/plain"])
            # Shown formatted, code in code type, wrapped to the page; never as a line of plain text.
            assert cell.outputs[0]["data"]["text/markdown"].startswith("**"), cell.source
    assert verdicts and all(v.startswith("… Not answered yet" if version == "learner" else "✔ Right") for v in verdicts)
    if source.stem.startswith("02"):
        assert any("nbval-ignore-output" in tags(cell) for cell in book.cells)


# Lesson 2 is moved onto the presentation helper separately.
ON_THE_PRESENTATION_HELPER = [(path, version) for path, version in VERSIONS if not path.stem.startswith("02")]


@pytest.mark.parametrize("source, version", ON_THE_PRESENTATION_HELPER,
                         ids=lambda v: v if isinstance(v, str) else v.stem)
def test_lesson_tables_are_written_for_people_and_no_output_line_runs_off_the_page(source, version):
    book = read(GENERATED / version / source.name)
    tables = 0
    for cell in book.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = data.get("text/html", "")
            # The reports' helper: no raw DataFrame, no NaN beside <NA>, counts without ".0".
            assert 'class="dataframe"' not in html, f"a raw DataFrame in {cell.source[:60]!r}"
            tables += 'class="wb-table"' in html
            cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
            assert not {"NaN", "nan", "&lt;NA&gt;", "None"} & set(cells), cell.source[:60]
            assert not any(re.fullmatch(r"\d+\.0", value) for value in cells), cell.source[:60]
            if not ({"text/html", "text/markdown"} & set(data)):  # shown as plain text: short lines only
                text = output.get("text", "") + data.get("text/plain", "")
                assert all(len(line) <= 100 for line in text.splitlines()), f"long output line: {text[:120]!r}"
    assert tables >= 1


def test_every_registered_exercise_is_asked_and_checked_once_in_its_lesson():
    checked = []
    for path in SOURCES:
        book = read(path)
        ids = generator.validate(book, name=path.stem)
        number = int(path.stem[:2])
        assert ids and all(teaching.exercise(i).lesson == number for i in ids)
        asked = re.findall(r'teaching\.ask\("([0-9.]+)"', "\n".join(cell.source for cell in book.cells))
        assert asked == ids
        checked += ids
    assert sorted(checked) == sorted(teaching.EXERCISES) and len(set(checked)) == len(checked)


# ---------------------------------------------------------------------------------------
# Worked solutions pass; wrong and missing answers do not; answers agree with plain pandas.

def run_cells(book) -> dict:
    """Execute a notebook's code cells in one namespace, as a kernel would (last expression evaluated)."""
    namespace: dict = {}
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"<{cell.id}>", "exec"), namespace)
        if last is not None:
            eval(compile(ast.Expression(last.value), f"<{cell.id}>", "eval"), namespace)
    plt.close("all")
    return namespace


@pytest.fixture(scope="module")
def solved(demo):
    """Every exercise as the instructor versions check it: (id, answer, context, feedback)."""
    calls = {}
    real_check = teaching.check

    def recording(exercise_id, answer, study, **context):
        feedback = real_check(exercise_id, answer, study, **context)
        calls[exercise_id] = (answer, context, feedback)
        return feedback

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(teaching, "check", recording)
        for path in SOURCES:
            run_cells(generator.instructor_version(read(path), name=path.stem))
    return calls


def test_every_worked_solution_is_right(solved):
    assert sorted(solved) == sorted(teaching.EXERCISES)
    for exercise_id, (answer, _, feedback) in solved.items():
        assert feedback.status == "right", f"{exercise_id}: {answer!r} -> {feedback}"
        assert repr(feedback).startswith("✔ Right: ")


def wrong_answer(exercise_id, demo, context):
    right = teaching.expected(exercise_id, demo, **context)
    found = teaching.exercise(exercise_id)
    if found.kind == "number":
        return 1.0 if right is None else float(right) + 1 + found.tolerance
    options = {"characteristic": demo.characteristics.element_ids, "item": demo.instrument.item_ids,
               "microsystem": demo.microsystems["microsystem_id"].tolist()}[found.kind]
    return next(option for option in options if option not in right)


def test_wrong_answers_are_not_quite_with_a_hint_and_ellipsis_is_not_answered(solved, demo):
    for exercise_id, (_, context, _) in solved.items():
        wrong = teaching.check(exercise_id, wrong_answer(exercise_id, demo, context), demo, **context)
        assert wrong.status == "not quite" and repr(wrong).startswith("✘ Not quite: "), exercise_id
        assert len(wrong.message) > 20
        missing = teaching.check(exercise_id, ..., demo, **context)
        assert missing.status == "not answered"
        answer_name = teaching.exercise(exercise_id).answer_name
        assert repr(missing) == (f"… Not answered yet: replace the `...` in `{answer_name} = ...` "
                                 "with your answer, then run that cell and this one again.")


def plain_unit_means(answers: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """Each respondent's mean of the items they rated per characteristic, then the unit's mean of those;
    blank where fewer than ``min_cell_size`` people have a score (no figure describes fewer)."""
    rated = answers[answers["answer"].eq("level")].assign(level=lambda t: t["level"].astype(float))
    per_person = rated.groupby(["microsystem_id", "respondent_id", "characteristic_id"])["level"].mean()
    per_unit = per_person.groupby(["microsystem_id", "characteristic_id"]).agg(["mean", "size"])
    return per_unit["mean"].where(per_unit["size"] >= min_cell_size).unstack()


def plain_rwg(levels) -> float:
    return max(0.0, 1 - float(np.var(np.asarray(levels, dtype=float), ddof=1)) / (8 / 12))


def with_min_cell_size(study, k: int):
    """The study in memory with another min_cell_size: its frames kept, its views computed anew
    (no processed folder, whose views were built with the study's own minimum)."""
    privacy = study.config.privacy.model_copy(update={"min_cell_size": k})
    return dataclasses.replace(study, config=study.config.model_copy(update={"privacy": privacy}), processed=None)


def test_expected_answers_agree_with_plain_pandas(solved, demo):
    assert_expected_answers_agree_with_plain_pandas(solved, demo)
    # The demo's units are now large enough that every unit x characteristic cell has at least
    # min_cell_size people with a score, so the answers are checked again with the minimum set
    # one above the smallest unit's number of respondents: every cell of that unit, and some of
    # others, are then blank (too few people), as the check needs.
    smallest = int(demo.respondents.groupby("microsystem_id", observed=True).size().min())
    stricter = with_min_cell_size(demo, smallest + 1)
    assert_expected_answers_agree_with_plain_pandas(solved, stricter, blank_cells=True)


def assert_expected_answers_agree_with_plain_pandas(solved, demo, *, blank_cells: bool = False):
    a = demo.answers
    means = plain_unit_means(a, demo.config.privacy.min_cell_size)
    assert means.notna().any().any()
    if blank_cells:
        assert means.isna().any().any()  # the study has cells of too few people
    expected = {i: teaching.expected(i, demo, **solved[i][1]) for i in solved}
    instrument = yaml.safe_load((SHIPPED / "microsystem_self_assessment.yaml").read_text())
    information_items = sum(item["characteristic"] == "integration_of_information" for item in instrument["items"])
    assert expected["1.1"] == information_items == 3
    framework = yaml.safe_load((SHIPPED / "microsystem_characteristics.yaml").read_text())
    assert set(expected["1.2"]) <= {element["id"] for element in framework["elements"]}
    assert a["answer"].eq("cant_rate").groupby(a["item_id"]).mean().idxmax() in expected["1.3"]
    assert expected["2.1"] == pytest.approx((3 + 2) / 2)

    mine = solved["2.2"][1]["answers"]
    characteristic_of = dict(zip(a["item_id"], a["characteristic_id"]))
    scores = pd.Series({i: v for i, v in mine.items() if v is not None}, dtype=float).groupby(characteristic_of).mean()
    percentiles = {c: ((means[c].dropna() < s).sum() + (means[c].dropna() == s).sum() / 2) / means[c].notna().sum()
                   for c, s in scores.items()}
    assert max(percentiles, key=percentiles.get) in expected["2.2"]
    on = solved["2.3"][1]["characteristic"]
    assert expected["2.3"] == int((means[on] > scores[on]).sum())

    unit, on = solved["3.1"][1]["microsystem_id"], solved["3.1"][1]["characteristic"]
    assert expected["3.1"] == pytest.approx(means.loc[unit, on])
    assert means.loc[solved["3.2"][1]["microsystem_id"]].idxmin() in expected["3.2"]
    assert means.median().idxmin() in expected["3.3"]

    unit, on = solved["4.1"][1]["microsystem_id"], solved["4.1"][1]["characteristic"]
    item_answers = a[a["characteristic_id"].eq(on) & a["answer"].eq("level")]
    levels = item_answers.groupby("microsystem_id")["level"].apply(lambda s: s.astype(float).tolist())
    assert expected["4.1"] == pytest.approx(plain_rwg(levels[unit]))
    threshold, min_size = solved["4.3"][1]["threshold"], demo.config.privacy.min_cell_size
    shared = {m for m, values in levels.items() if len(values) >= min_size and plain_rwg(values) >= threshold}
    assert set(expected["4.2"]) == set(solved["4.2"][1]["microsystem_ids"]) & shared
    assert expected["4.3"] == len(demo.microsystems) - len(shared)

    outcome, n = solved["5.2"][1]["outcome"], solved["5.2"][1]["n"]
    # Lower is better.
    ranked = demo.outcomes.dropna(subset=[outcome]).sort_values([outcome, "microsystem_id"])["microsystem_id"].tolist()
    assert demo.outcome(outcome).better == "lower" and ranked[0] in expected["5.1"]
    difference = means.loc[ranked[:n]].mean() - means.loc[ranked[-n:]].mean()
    assert difference.idxmax() in expected["5.2"]
    assert expected["5.3"] == pytest.approx(difference.max())


def test_check_accepts_labels_and_numpy_numbers_and_explains_wrong_kinds(demo):
    assert teaching.check("1.2", "Alignment of role and training", demo).ok
    assert teaching.check("1.2", "  ALIGNMENT-of-role-and-training ", demo).ok
    assert teaching.check("2.1", np.float64(2.5), demo).ok
    assert teaching.check("2.1", 2.509, demo).ok and not teaching.check("2.1", 2.52, demo).ok  # tolerance 0.01
    zeros = teaching.check("2.1", 5 / 3, demo)
    assert zeros.status == "not quite" and "can't rate as a zero" in zeros.message and "np." not in repr(zeros)
    assert "answer with a number" in teaching.check("2.1", "2.5", demo).message
    assert "as text in quotes" in teaching.check("1.2", 8, demo).message
    assert "is not a characteristic of this study" in teaching.check("1.2", "leadership", demo).message
    # A mistake with its own hint.
    assert "training and licence" in teaching.check("1.2", "interdependence_of_care_team", demo).message
    with pytest.raises(ValueError, match=r"exercise_id must be one of \['1.1'"):
        teaching.check("9.9", 1, demo)
    with pytest.raises(TypeError,
                       match=r"needs the context \['answers', 'characteristic'\]; missing \['characteristic'\]"):
        teaching.check("2.3", 1, demo, answers={})


def test_check_accepts_the_words_a_table_shows(demo):
    right = teaching.expected("1.3", demo)
    item = next(i for i in demo.instrument.items if i.id in right)
    # The item's label as the table shows it, whatever the case, spaces, dashes or a final full stop.
    for typed in (item.label, item.label.upper(), f"  {item.label.lower().replace(' ', '   ')}. ", item.short, item.id):
        assert teaching.check("1.3", typed, demo).ok, typed
    assert teaching.check("1.2", "Role and training", demo).ok  # the short label of lesson 3's matrix
    other = next(i for i in demo.instrument.items if i.id not in right and i.short != i.label)
    wrong = teaching.check("1.3", other.short.lower(), demo)  # e.g. "info - staff": recognised, and not right
    assert wrong.status == "not quite" and wrong.message.startswith(f"{other.label} (`{other.id}`) is not it.")
    unit = demo.unit("MS07")["name"]
    context = {"microsystem_ids": ["MS07", "MS08"], "characteristic": "measurement", "threshold": 0.0}
    for typed in ("MS07", "ms07", unit, f"MS07 {unit}"):  # as lesson 3's matrix and lesson 4's tables show a unit
        assert teaching.check("4.2", typed, demo, **context).ok, typed
    # No words name two different answers of one kind.
    from workbench.teaching.exercises import _aliases, _normalise, _options
    for kind in ("characteristic", "item", "microsystem"):
        names = _options(kind, demo)
        aliases = _aliases(names)
        assert all(aliases.get(_normalise(word)) == key for key, words in names.items() for word in (key, *words))


def test_feedback_renders_as_markdown_with_code_in_code_type(demo):
    mistune = pytest.importorskip("mistune")
    from IPython.core.formatters import DisplayFormatter

    missing = teaching.check("1.3", ..., demo)
    shown, _ = DisplayFormatter().format(missing)
    assert shown["text/markdown"] == "**… Not answered yet:** " + missing.message
    assert shown["text/plain"] == repr(missing)
    page = mistune.html(shown["text/markdown"])
    assert "<strong>… Not answered yet:</strong>" in page and "<code>answer_1_3 = ...</code>" in page
    assert "`" not in page  # no literal backticks once rendered
    right = teaching.check("1.2", "alignment_of_role_and_training", demo)
    assert "<code>alignment_of_role_and_training</code>" in mistune.html(right._repr_markdown_())
    # What a learner typed is shown as code, never read as Markdown, backticks included.
    for typed, wanted in (("*leadership*", "<code>'*leadership*'</code>"), ("a`b", "<code>'a`b'</code>")):
        page = mistune.html(teaching.check("1.2", typed, demo)._repr_markdown_())
        assert wanted in page and "<em>" not in page, page
    assert "<code>'2.5'</code>" in mistune.html(teaching.check("2.1", "2.5", demo)._repr_markdown_())


def test_a_characteristic_you_cannot_rate_has_no_position(demo):
    mine = {"measurement": None, "constancy_of_purpose": 2}
    assert teaching.expected("2.3", demo, answers=mine, characteristic="measurement") is None
    assert teaching.check("2.3", None, demo, answers=mine, characteristic="measurement").ok
    assert not teaching.check("2.3", 0, demo, answers=mine, characteristic="measurement").ok


def test_questions_name_the_lesson_context(demo):
    question = teaching.ask("3.1", demo, microsystem_id="MS07", characteristic="measurement")
    assert repr(question).startswith("Exercise 3.1. ") and "**MS07** (Brookside Family Practice)" in repr(question)
    assert question._repr_markdown_().startswith("**Exercise 3.1.** ")


# ---------------------------------------------------------------------------------------
# Scoring a learner's answers and placing them among units.

def test_cant_rate_is_missing_never_zero_and_information_averages_rated_items(demo):
    tool = demo.instrument
    profile = teaching.profile_from_answers({"information_providers_staff": 3, "information_patients": "can't rate",
                                             "information_technology": 2, "measurement": 1}, tool)
    assert profile["integration_of_information"] == 2.5  # not (3 + 0 + 2) / 3
    assert profile["measurement"] == 1.0
    assert profile.drop(["integration_of_information", "measurement"]).isna().all()  # unanswered: missing
    assert list(profile.index) == list(dict.fromkeys(item.characteristic for item in tool.items))
    assert teaching.profile_from_answers(dict.fromkeys(INFORMATION, "cant_rate"), tool).isna().all()
    three_rated = teaching.profile_from_answers(dict(zip(INFORMATION, [3, 3, 1])), tool)
    assert three_rated["integration_of_information"] == pytest.approx(7 / 3)
    one_rated = teaching.profile_from_answers(dict(zip(INFORMATION, [3, None, None])), tool, min_items=2)
    assert np.isnan(one_rated["integration_of_information"])
    with pytest.raises(ValueError, match=r"answers\['measurement'\] must be one of the levels \[1, 2, 3\].*got 4"):
        teaching.profile_from_answers({"measurement": 4}, tool)
    with pytest.raises(ValueError, match=r"answers name \['leadership'\]"):
        teaching.profile_from_answers({"leadership": 2}, tool)
    with pytest.raises(TypeError, match="answers must be a dict"):
        teaching.profile_from_answers([2] * 10, tool)


def tiny_study(demo):
    """Four units: measurement means A 1, B 2.5, C 2, D 3; constancy of purpose B 1, C 1, D 2 (A can't rate it)."""
    rows = []
    units = [("A", [1, 1], ["cant_rate"]), ("B", [2, 3], [1, 1]), ("C", [2, 2], [1]), ("D", [3, 3], [2, 2])]
    for unit, measurement, purpose in units:
        for number, (m, p) in enumerate(zip(measurement, purpose * len(measurement))):
            person = f"{unit}{number}"
            for item, value in (("measurement", m), ("constancy_of_purpose", p)):
                rows.append({"respondent_id": person, "microsystem_id": unit, "role": "Nurse", "item_id": item,
                             "characteristic_id": item, "answer": "level" if value != "cant_rate" else "cant_rate",
                             "level": value if value != "cant_rate" else None})
    answers = pd.DataFrame(rows).astype({"level": "Int64"})
    # Held in memory (its views are computed from these answers), with a disclosure rule that shows two people's mean.
    privacy = demo.config.privacy.model_copy(update={"min_cell_size": 2})
    config = demo.config.model_copy(update={"privacy": privacy})
    return dataclasses.replace(demo, config=config, answers=answers, processed=None)


def test_position_among_matches_hand_computed_percentiles(demo):
    tiny = tiny_study(demo)
    table = teaching.position_among({"measurement": 2.0, "constancy_of_purpose": 2.0}, tiny)
    table = table.set_index("characteristic_id")
    assert list(table.index) == ["measurement", "constancy_of_purpose"]
    counts = ["units", "units_below", "units_level", "units_above"]
    # measurement: units 1, 2.5, 2, 3; a score of 2 has one unit below, one level, two above: (1 + 1/2) / 4.
    assert table.loc["measurement", counts].tolist() == [4, 1, 1, 2]
    assert table.loc["measurement", "percentile"] == pytest.approx(37.5)
    assert table.loc["measurement", "units_median"] == pytest.approx(2.25)
    # constancy of purpose: A has no mean, so three units 1, 1, 2; a score of 2: (2 + 1/2) / 3.
    assert table.loc["constancy_of_purpose", counts].tolist() == [3, 2, 1, 0]
    assert table.loc["constancy_of_purpose", "percentile"] == pytest.approx(250 / 3)
    top = teaching.position_among({"measurement": 3.0}, tiny).set_index("characteristic_id")
    assert top.loc["measurement", "percentile"] == pytest.approx(87.5)
    assert np.isnan(top.loc["constancy_of_purpose", "percentile"])
    assert pd.isna(top.loc["constancy_of_purpose", "units_above"])
    bottom = teaching.position_among({"measurement": 1.0}, tiny).set_index("characteristic_id")
    assert bottom.loc["measurement", "percentile"] == pytest.approx(12.5)


def diamonds(ax) -> dict[str, float]:
    """The learner's plotted scores by row label (NaN where nothing is drawn), rows top to bottom."""
    (points,) = [c for c in ax.collections if c.get_gid() == "your-profile"]
    xs = np.ma.filled(np.ma.masked_invalid(points.get_offsets()[:, 0]).astype(float), np.nan)
    return dict(zip([tick.get_text() for tick in ax.get_yticklabels()], xs))


def test_form_rescores_and_redraws_as_each_answer_changes(demo):
    form = teaching.SelfAssessmentForm(demo)
    assert set(form.choices) == set(demo.instrument.item_ids) and all(v is None for v in form.answers.values())
    assert form.profile.isna().all()
    first = demo.instrument.items[0]
    options = form.choices[first.id].options
    assert [label for label, _ in options] == ["Low", "Middle", "High", "Can't rate"]
    ladder = form.children[1].children[0].children[0].children[0].value
    # The three descriptions are shown.
    assert all(text.replace("'", "&#x27;") in ladder for text in first.levels.values())
    chosen = dict(zip(demo.instrument.item_ids, [3, teaching.CANT_RATE, 2, 1, 3, 2, 2, teaching.CANT_RATE, 1, 2]))
    for item_id, value in chosen.items():  # one at a time, as a learner clicks
        form.choices[item_id].value = value
    expected = teaching.profile_from_answers(form.answers, demo.instrument)
    assert form.answers["information_patients"] is None and form.answers["measurement"] == 1
    pd.testing.assert_series_equal(form.profile, expected)
    assert form.profile["integration_of_information"] == 2.5 and np.isnan(form.profile["connection_to_community"])
    plotted = diamonds(form.figure.axes[0])
    labels = demo.characteristics.labels(short=False)
    for characteristic, score in expected.items():
        assert plotted[labels[characteristic]] == pytest.approx(score, nan_ok=True)
    assert "can't rate" in [text.get_text() for text in form.figure.axes[0].texts]
    assert form.image.value[:8] == b"\x89PNG\r\n\x1a\n" and form.summary.value.startswith("8 of 10 items rated")
    pd.testing.assert_frame_equal(form.position, teaching.position_among(expected, demo))


def test_form_starts_from_given_answers_in_one_redraw(demo, monkeypatch):
    given = {"measurement": 3, "constancy_of_purpose": None, "information_technology": 1}
    form = teaching.SelfAssessmentForm(demo, answers=given)
    assert form.choices["constancy_of_purpose"].value == teaching.CANT_RATE
    assert form.choices["alignment_of_role_and_training"].value is None  # not given: unanswered
    assert {k: form.answers[k] for k in given} == given
    assert form.profile["measurement"] == 3.0 and np.isnan(form.profile["constancy_of_purpose"])
    redraws = []
    monkeypatch.setattr(form, "_refresh", lambda: redraws.append(1))
    form.set_answers(dict.fromkeys(demo.instrument.item_ids, 2))
    assert redraws == [1]
    with pytest.raises(ValueError, match="not items of"):
        form.set_answers({"nonsense": 1})


# ---------------------------------------------------------------------------------------
# The views lessons 4 and 5 lean on.

def plain_units(study, item: str, threshold: float) -> pd.DataFrame:
    """Per unit, from the answers alone: rated levels, mean, rwg, whether its view is shared
    (enough people and rwg at the threshold) and whether it is split between the scale's ends."""
    a = study.answers[study.answers["item_id"].eq(item) & study.answers["answer"].eq("level")]
    low, high = study.scale.low, study.scale.high
    rows = []
    for unit, levels in a.groupby("microsystem_id")["level"]:
        levels = levels.astype(float)
        n, rwg = len(levels), plain_rwg(levels) if len(levels) > 1 else np.nan
        enough = n >= study.disclosure.min_cell_size
        rows.append({"microsystem_id": unit, "n": n, "mean": levels.mean(), "rwg": rwg,
                     "shared": enough and rwg >= threshold - 1e-12, "unshared": enough and rwg < threshold - 1e-12,
                     "split": (levels.eq(low).sum() >= n / 4) and (levels.eq(high).sum() >= n / 4)})
    return pd.DataFrame(rows).set_index("microsystem_id")


def assert_pair_follows_the_rule(study, pair, *, item: str, threshold: float, tolerance: float):
    """The pair is a shared and an unshared unit with means within ``tolerance``; a split unshared
    unit when any candidate has one; and no candidate pair differs more in rwg."""
    units = plain_units(study, item, threshold)
    a, b = pair["microsystem_id"]
    assert units.loc[a, "shared"] and units.loc[b, "unshared"]
    assert abs(units.loc[a, "mean"] - units.loc[b, "mean"]) <= tolerance + 1e-9
    for row in pair.itertuples():
        assert row.mean == pytest.approx(units.loc[row.microsystem_id, "mean"])
        assert row.rwg == pytest.approx(units.loc[row.microsystem_id, "rwg"])
        assert row.split == units.loc[row.microsystem_id, "split"]
    candidates = [(x, y) for x in units.index[units["shared"]] for y in units.index[units["unshared"]]
                  if abs(units.loc[x, "mean"] - units.loc[y, "mean"]) <= tolerance + 1e-9]
    if any(units.loc[y, "split"] for _, y in candidates):
        assert units.loc[b, "split"]
        candidates = [(x, y) for x, y in candidates if units.loc[y, "split"]]
    largest = max(units.loc[x, "rwg"] - units.loc[y, "rwg"] for x, y in candidates)
    assert units.loc[a, "rwg"] - units.loc[b, "rwg"] == pytest.approx(largest)


def test_contrasting_pair_follows_its_rule_on_the_demo(demo):
    from workbench.teaching import cases

    for characteristic in ("measurement", "constancy_of_purpose", "connection_to_community"):
        for threshold, tolerance in ((0.7, 0.1), (0.5, 0.1), (0.7, 0.02)):
            pair = teaching.contrasting_pair(demo, characteristic=characteristic,
                                             policy=AgreementPolicy(threshold=threshold), tolerance=tolerance)
            assert pair["agreement"].tolist() == ["shared", "not shared"]
            assert (pair["n_rated"] >= demo.disclosure.min_cell_size).all()
            assert_pair_follows_the_rule(demo, pair, item=characteristic, threshold=threshold, tolerance=tolerance)
    pair = teaching.contrasting_pair(demo, characteristic="measurement")  # the study's own policy
    assert pair["agreement"].tolist() == ["shared", "not shared"]
    story = cases.pair_story(demo, pair, characteristic="measurement")
    assert ("split between" in story) == bool(pair["split"].iloc[1])
    for row in pair.itertuples():
        assert f"**{row.microsystem_id}** ({row.name}), mean {row.mean:.2f}" in story
    with pytest.raises(ValueError, match="measured by a single item"):
        teaching.contrasting_pair(demo, characteristic="integration_of_information")
    with pytest.raises(ValueError, match="no unit pair"):
        teaching.contrasting_pair(demo, characteristic="measurement", policy=AgreementPolicy(threshold=0.0))
    with pytest.raises(ValueError, match="tolerance must be a number of levels"):
        teaching.contrasting_pair(demo, characteristic="measurement", tolerance=-0.1)


def synthetic_study(demo, units: dict[str, list]):
    """The demo's configuration with only measurement answers, unit by unit: a list of levels
    (None: can't rate)."""
    rows = []
    for unit, levels in units.items():
        for number, level in enumerate(levels):
            rows.append({"respondent_id": f"{unit}-{number}", "microsystem_id": unit, "role": "Nurse",
                         "item_id": "measurement", "characteristic_id": "measurement",
                         "answer": "level" if level is not None else "cant_rate", "level": level})
    answers = pd.DataFrame(rows).astype({"level": "Int64"})
    return dataclasses.replace(demo, answers=answers, processed=None)


def test_contrasting_pair_follows_its_rule_on_a_synthetic_study(demo):
    from workbench.teaching import cases

    units = {
        "MS01": [2] * 6,                   # mean 2, all middle: shared
        "MS02": [1, 1, 1, 3, 3, 3],        # mean 2, split between the ends: not shared
        "MS03": [1, 2, 2, 2, 2, 3, None],  # mean 2, a spread but no split: not shared
        "MS04": [2, 2, 2, 2, 2, 3],        # mean 2.17: shared, but its mean is too far from the others
        "MS05": [1] * 6,                   # mean 1, all low: shared
        "MS06": [1, 1, 1, 1, 3, 3],        # mean 1.67, split: not shared, far from every shared mean but MS05's
    }
    policy = AgreementPolicy(threshold=0.7)
    study = synthetic_study(demo, units)
    pair = teaching.contrasting_pair(study, characteristic="measurement", policy=policy)
    assert pair["microsystem_id"].tolist() == ["MS01", "MS02"] and pair["split"].tolist() == [False, True]
    assert pair["n_low"].tolist() == [0, 3] and pair["n_high"].tolist() == [0, 3]
    assert_pair_follows_the_rule(study, pair, item="measurement", threshold=0.7, tolerance=0.1)
    story = cases.pair_story(study, pair, characteristic="measurement")
    assert "all 6 staff who rated measurement chose *middle*" in story
    assert "MS02's staff are split between *low* and *high*: 3 of its 6 at one end, 3 at the other" in story

    # Without a split unit within the tolerance: the largest difference in rwg, and the story says no split.
    study = synthetic_study(demo, {k: v for k, v in units.items() if k != "MS02"})
    pair = teaching.contrasting_pair(study, characteristic="measurement", policy=policy)
    assert pair["microsystem_id"].tolist() == ["MS01", "MS03"]
    assert_pair_follows_the_rule(study, pair, item="measurement", threshold=0.7, tolerance=0.1)
    story = cases.pair_story(study, pair, characteristic="measurement")
    assert "split between" not in story and "not split into two camps" in story
    assert "in MS03, 2 of 6 chose a level other than *middle* (1 *low* and 1 *high*)" in story

    # A wider tolerance lets the split MS06 in, and a split unit comes first; of the units whose staff agree
    # fully (MS01, MS05), the one with the closer mean.
    pair = teaching.contrasting_pair(study, characteristic="measurement", policy=policy, tolerance=0.7)
    assert pair["microsystem_id"].tolist() == ["MS01", "MS06"]
    assert_pair_follows_the_rule(study, pair, item="measurement", threshold=0.7, tolerance=0.7)
    with pytest.raises(ValueError, match=r"within tolerance=0.01 levels \(the closest differ by 0.17\)"):
        teaching.contrasting_pair(synthetic_study(demo, {"MS01": [2] * 6, "MS04": [2] * 5 + [3]}),
                                  characteristic="measurement", policy=AgreementPolicy(threshold=0.8), tolerance=0.01)


def test_spread_and_quarters_agree_with_plain_pandas(demo):
    from workbench.teaching import cases

    means = teaching.unit_means(demo)
    spread = cases.spread_over_units(means).set_index("characteristic_id")
    assert list(spread.index) == list(means.columns)
    described = means.describe().T
    assert spread["units"].tolist() == described["count"].astype(int).tolist()
    for column, statistic in (("lowest", "min"), ("lower_quartile", "25%"), ("median", "50%"),
                              ("upper_quartile", "75%"), ("highest", "max")):
        assert spread[column].to_numpy() == pytest.approx(described[statistic].to_numpy())
    profiles = cases.characteristic_profiles(demo, "measurement")
    quarters = cases.shared_by_quarter(profiles)
    assert quarters["quarter"].tolist() == [1, 2, 3, 4]
    assert quarters["units"].sum() == profiles["analysis_mean"].notna().sum()
    assert quarters["units"].max() - quarters["units"].min() <= 1
    assert quarters["shared"].sum() == profiles["shared"].sum()
    assert (quarters["highest_mean"].iloc[:-1].to_numpy() <= quarters["lowest_mean"].iloc[1:].to_numpy()).all()


def test_answer_counts_keep_cant_rate_apart(demo):
    a = demo.answers[demo.answers["item_id"].eq("connection_to_community")]
    counts = teaching.answer_counts(a, scale=demo.scale)
    assert list(counts.columns) == [*demo.scale.tick_labels, "can't rate", "no answer"]
    assert [column.split()[0] for column in counts.columns[:3]] == ["1", "2", "3"]
    assert counts.to_numpy().sum() == len(a)
    assert counts["can't rate"].sum() == a["answer"].eq("cant_rate").sum()


def test_top_bottom_breaks_outcome_ties_by_id():
    means = pd.DataFrame({"x": [3.0, 2.0, 1.0, 2.5]}, index=pd.Index(["A", "B", "C", "D"], name="microsystem_id"))
    outcomes = pd.DataFrame({"microsystem_id": ["A", "B", "C", "D"], "turnover": [5.0, 5.0, 9.0, None]})
    table = teaching.top_bottom(means, outcomes, outcome="turnover", better="lower", n=1)
    assert table.iloc[0].tolist() == ["x", 3.0, 1.0, 2.0]  # A before B on the tie; D has no outcome
    with pytest.raises(ValueError, match="n must be between 1 and half"):
        teaching.top_bottom(means, outcomes, outcome="turnover", better="lower", n=2)


# ---------------------------------------------------------------------------------------
# The generator refuses broken sources and writes atomically.

def broken(change) -> nbformat.NotebookNode:
    book = read(SOURCES[0])
    change(book)
    return book


def index_of(book, tag: str) -> int:
    return next(i for i, cell in enumerate(book.cells) if tag in tags(cell))


@pytest.mark.parametrize("change, message", [
    (lambda b: b.cells.pop(index_of(b, "solution")), "must be followed directly by its solution"),
    (lambda b: setattr(b.cells[index_of(b, "solution")], "source", "answer_1_1 = ..."), "must not contain `...`"),
    (lambda b: setattr(b.cells[index_of(b, "solution")], "source", "answer_9 = 3"),
     "the solution must assign answer_1_1"),
    (lambda b: b.cells.insert(1, copy.deepcopy(b.cells[index_of(b, "parameters")])),
     "exactly one cell must be tagged 'parameters'"),
    (lambda b: b.cells.append(nbformat.v4.new_code_cell("teaching.check(\"7.7\", answer_7_7, s)")),
     "'7.7', which is not registered"),
    (lambda b: b.cells.append(nbformat.v4.new_code_cell("def helper():\n    pass")), "no def or class"),
    (lambda b: setattr(b.cells[0], "source", "Lesson without a title"), "must open with a Markdown cell"),
    (lambda b: setattr(b.cells[index_of(b, "parameters")], "source", "study = 'demo'"), "document each parameter"),
])
def test_generator_refuses_a_broken_source(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generator.learner_version(broken(change), name="01-broken")


def test_generate_writes_both_versions_and_removes_stale_ones(tmp_path, project, capsys):
    stale = tmp_path / "learner" / "09-old-lesson.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    written = generator.generate(tmp_path)
    assert len(written) == 2 * len(SOURCES) and not stale.exists()
    assert not list(tmp_path.rglob(".*.tmp.*"))
    for path in written:
        book = read(path)
        code = [cell for cell in book.cells if cell.cell_type == "code"]
        assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code)
        assert book.metadata["workbench"]["teaching"]["version"] == path.parent.name
    assert cli.main(["teaching", "--no-execute"]) == 0  # into the test's own project
    assert "10 teaching notebooks written" in capsys.readouterr().out
    assert len(list((project / "notebooks" / "teaching").rglob("*.ipynb"))) == 2 * len(SOURCES)
