"""The class's own profile (workbench.teaching.classroom) and the self-assessment form around it.

Submissions: one atomic JSON file per learner, named by a random code, no name stored; a
re-submission replaces the same file; learners writing at the same moment (threads, and two
processes) never leave a partial file for a reader. The class view: malformed files skipped
and counted with a one-line reason; the study's small-group rule (k = ``min_cell_size``): fewer
than k submissions show only their number, a characteristic scored by fewer than k learners is
blank, learners' scores appear only without codes. The form: blank by default, a static HTML
form and a one-line plain text wherever widgets cannot run (as nbconvert renders lesson 2).

Every file is written under the test's tmp_path; the demo study is the session project's.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench import teaching  # noqa: E402
from workbench.study import open_study  # noqa: E402
from workbench.teaching import classroom  # noqa: E402
from workbench.teaching.form import SelfAssessmentForm, static_form_html  # noqa: E402
from workbench.teaching.profile import normalise_responses  # noqa: E402
from workbench.vocabulary import CANT_RATE, DisclosurePolicy  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[1]
LESSON_2 = "02-your-unit-among-the-others.ipynb"
CODE = re.compile(r"[0-9a-f]{8}")


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


@pytest.fixture
def folder(tmp_path) -> Path:
    made = tmp_path / "class"
    made.mkdir()
    return made


class StudyWithPolicy:
    """The demo study under another disclosure policy (everything else delegated)."""

    def __init__(self, study, policy: DisclosurePolicy):
        self._study, self.disclosure = study, policy

    def __getattr__(self, name):
        return getattr(self._study, name)


def learner(demo, seed: int, **fixed) -> dict:
    """A learner's answers: every item a level or can't rate (seeded), then ``fixed`` on top."""
    rng = np.random.default_rng(seed)
    options = [*demo.scale.values, CANT_RATE]
    answers = {item: options[int(rng.integers(len(options)))] for item in demo.instrument.item_ids}
    answers = {item: (int(value) if value != CANT_RATE else CANT_RATE) for item, value in answers.items()}
    return answers | fixed


# ---------------------------------------------------------------------------------------------------
# Submitting


def test_a_submission_is_one_file_named_by_a_random_code_holding_no_name(demo, folder):
    path = classroom.submit(folder, {"measurement": 3, "constancy_of_purpose": "can't rate"}, demo.instrument)
    assert path.parent == folder and CODE.fullmatch(path.stem) and path.suffix == ".json"
    assert [p.name for p in folder.iterdir()] == [path.name], "only the submission: no temporary file left"
    document = json.loads(path.read_text())
    assert set(document) == {"format", "version", "instrument", "code", "answers"}  # nothing about the learner
    assert document["code"] == path.stem and document["instrument"] == demo.instrument.id
    assert document["answers"]["measurement"] == 3 and document["answers"]["constancy_of_purpose"] == CANT_RATE
    assert document["answers"]["connection_to_community"] is None  # not answered
    assert list(document["answers"]) == demo.instrument.item_ids


def test_resubmitting_replaces_the_same_learners_file(demo, folder):
    first = classroom.submit(folder, {"measurement": 1}, demo.instrument)
    again = classroom.submit(folder, {"measurement": 3, "information_patients": 2}, demo.instrument, code=first.stem)
    assert again == first and len(list(folder.iterdir())) == 1
    room = classroom.read_class(folder, demo.instrument)
    assert room.submissions == 1
    levels = room.answers.set_index("item_id")["level"]
    assert levels["measurement"] == 3 and levels["information_patients"] == 2


def test_a_new_code_never_takes_another_learners_file(demo, folder, monkeypatch):
    taken = classroom.submit(folder, {"measurement": 1}, demo.instrument, code="0000abcd")
    codes = iter(["0000abcd", "0000abce"])
    monkeypatch.setattr(classroom, "new_code", lambda: next(codes))
    fresh = classroom.submit(folder, {"measurement": 2}, demo.instrument)
    assert fresh.stem == "0000abce" and json.loads(taken.read_text())["answers"]["measurement"] == 1


@pytest.mark.parametrize("change, message", [
    (lambda f: {"folder": f / "missing"}, "does not exist"),
    (lambda f: {"responses": {}}, "nothing to submit"),
    (lambda f: {"responses": {"measurement": None}}, "nothing to submit"),
    (lambda f: {"responses": {"measurement": 7}}, "must be one of the levels"),
    (lambda f: {"responses": {"not_an_item": 1}}, "not items of"),
    (lambda f: {"code": "../../etc"}, "8 lowercase hex digits"),
])
def test_submit_refuses_what_it_cannot_save_and_says_why(demo, folder, change, message):
    arguments = {"folder": folder, "responses": {"measurement": 2}, "code": None} | change(folder)
    with pytest.raises(ValueError, match=message):
        classroom.submit(arguments["folder"], arguments["responses"], demo.instrument, code=arguments["code"])
    assert not list(folder.iterdir())


def test_the_class_folder_is_the_parameter_else_the_environment_else_none(monkeypatch, tmp_path):
    monkeypatch.delenv(classroom.CLASS_VARIABLE, raising=False)
    assert classroom.class_folder(None) is None
    monkeypatch.setenv(classroom.CLASS_VARIABLE, str(tmp_path / "from-env"))
    assert classroom.class_folder(None) == tmp_path / "from-env"
    assert classroom.class_folder(tmp_path / "named") == tmp_path / "named"


# ---------------------------------------------------------------------------------------------------
# Learners writing at the same moment


def _keep_reading(folder: Path, instrument, stop: threading.Event, problems: list, counts: list) -> None:
    while not stop.is_set():
        room = classroom.read_class(folder, instrument)
        if len(room.skipped):
            problems.append(room.skipped.to_dict("records"))
        counts.append(room.submissions)


def test_learners_submitting_at_the_same_moment_leave_whole_files_only(demo, folder):
    codes = [f"{n:08x}" for n in range(12)]
    start = threading.Barrier(len(codes) + 1)
    stop, problems, counts, errors = threading.Event(), [], [], []

    def learner_submits(code: str, seed: int) -> None:
        try:
            start.wait()
            for round_ in range(25):  # everyone submits, then changes their mind and submits again, at once
                classroom.submit(folder, learner(demo, seed * 100 + round_), demo.instrument, code=code)
        except Exception as error:  # noqa: BLE001 - reported below, from the main thread
            errors.append(error)

    writers = [threading.Thread(target=learner_submits, args=(code, n)) for n, code in enumerate(codes)]
    reader = threading.Thread(target=_keep_reading, args=(folder, demo.instrument, stop, problems, counts))
    for thread in writers:
        thread.start()
    reader.start()
    start.wait()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert not errors and not problems, (errors, problems[:1])
    assert counts and all(a <= b for a, b in zip(counts, counts[1:])), "submissions are never lost once seen"
    room = classroom.read_class(folder, demo.instrument)
    assert room.learners == codes and len(room.skipped) == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{code}.json" for code in codes], "no temporary file left"
    for n, code in enumerate(codes):  # each learner's last submission is the one kept
        kept = room.answers[room.answers["learner"] == code].set_index("item_id")
        last = normalise_responses(learner(demo, n * 100 + 24), demo.instrument)
        assert {item: (None if pd.isna(level) else int(level)) for item, level in kept["level"].items()} == {
            item: (value if isinstance(value, int) else None) for item, value in last.items()}


def _submit_in_another_process(folder: str, code: str, seed: int, start_at: float) -> int:
    from workbench.frameworks import load_instrument

    tool = load_instrument("microsystem_self_assessment")
    rng = np.random.default_rng(seed)
    while time.time() < start_at:
        pass
    for round_ in range(40):
        answers = {item: int(rng.integers(1, 4)) for item in tool.item_ids}
        classroom.submit(folder, answers, tool, code=code)  # the same learner, again and again
        classroom.submit(folder, answers, tool, code=f"{seed:02x}{round_:06x}")  # and a new learner each time
    return seed


def test_two_processes_writing_to_the_class_folder_at_the_same_moment(demo, folder):
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 4  # both processes imported and waiting before either writes
    stop, problems, counts = threading.Event(), [], []
    reader = threading.Thread(target=_keep_reading, args=(folder, demo.instrument, stop, problems, counts))
    with context.Pool(2) as pool:
        results = [pool.apply_async(_submit_in_another_process, (str(folder), code, seed, start_at))
                   for code, seed in [("aaaa0001", 1), ("bbbb0002", 2)]]
        reader.start()
        try:
            assert sorted(result.get(timeout=120) for result in results) == [1, 2]
        finally:
            stop.set()
            reader.join()
    assert not problems, problems[:1]
    room = classroom.read_class(folder, demo.instrument)
    assert room.submissions == 2 + 2 * 40 and len(room.skipped) == 0
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary file left"


# ---------------------------------------------------------------------------------------------------
# Reading the class: malformed files


def test_malformed_files_are_skipped_and_counted_with_a_one_line_reason(demo, folder):
    good = classroom.submit(folder, {"measurement": 2}, demo.instrument, code="0000000a")
    document = json.loads(good.read_text())
    bad = {
        "0000000b.json": good.read_text()[:40],  # cut short
        "0000000c.json": "[1, 2]",
        "0000000d.json": json.dumps(document | {"format": "something else", "code": "0000000d"}),
        "0000000e.json": json.dumps(document | {"instrument": "another_survey", "code": "0000000e"}),
        "0000000f.json": json.dumps(document),  # the code inside is 0000000a
        "00000010.json": json.dumps(document | {"code": "00000010", "answers": {"nonsense": 1}}),
        "00000011.json": json.dumps(document | {"code": "00000011", "answers": {"measurement": 9}}),
        "00000012.json": json.dumps(document | {"code": "00000012", "answers": {"measurement": True}}),
        "00000013.json": json.dumps(document | {"code": "00000013", "answers": {"measurement": None}}),
        "00000014.json": json.dumps(document | {"code": "00000014", "version": 2}),
        "notes.txt": "the instructor's notes",
        "00000015.json": " " * (classroom.MAX_SUBMISSION_BYTES + 1),
    }
    for name, text in bad.items():
        (folder / name).write_text(text)
    (folder / "00000016.json").write_bytes(b"\xff\xfe{}")
    (folder / "00000017.json").mkdir()
    (folder / ".00000018.abc.tmp.json").write_text('{"half": ')  # a submission being written: not read, not counted
    room = classroom.read_class(folder, demo.instrument)
    assert room.learners == ["0000000a"]
    reasons = room.skipped.set_index("file")["reason"]
    assert sorted(reasons.index) == sorted([*bad, "00000016.json", "00000017.json"])
    assert all("\n" not in reason and 10 < len(reason) < 300 for reason in reasons)
    assert reasons["0000000b.json"].startswith("not valid JSON (line")
    assert "another_survey" in reasons["0000000e.json"] and "differs from its file name" in reasons["0000000f.json"]
    assert "nonsense" in reasons["00000010.json"] and "levels" in reasons["00000011.json"]
    assert reasons["00000013.json"] == "no item answered" and "not a submission" in reasons["notes.txt"]
    assert "bytes" in reasons["00000015.json"] and "regular file" in reasons["00000017.json"]
    view = classroom.class_view(room, demo)
    assert view.submissions == 1 and "14 files skipped" in view.summary()
    assert list(view.skipped_table().index) == list(room.skipped["file"])


def test_no_folder_is_an_empty_class_and_a_missing_folder_an_error(demo, tmp_path):
    room = classroom.read_class(None, demo.instrument)
    assert room.submissions == 0 and room.answers.empty
    assert classroom.class_view(room, demo).summary().startswith("No class folder")
    with pytest.raises(ValueError, match="does not exist"):
        classroom.read_class(tmp_path / "typo", demo.instrument)


# ---------------------------------------------------------------------------------------------------
# The class as one group, under the small-group rule


def fill(folder: Path, demo, n: int, **fixed) -> list[dict]:
    everyone = [learner(demo, seed, **fixed) for seed in range(n)]
    for seed, answers in enumerate(everyone):
        classroom.submit(folder, answers, demo.instrument, code=f"{seed:08x}")
    return everyone


def no_code_in(view: classroom.ClassView, codes: list[str]) -> bool:
    text = " ".join([view.summary(), view.profile.to_csv(), view.scores.to_csv(), view.table().to_csv()])
    return not any(code in text for code in codes)


def test_fewer_submissions_than_k_show_nothing_but_their_number(demo, folder):
    k = demo.disclosure.min_cell_size
    fill(folder, demo, k - 1, measurement=3)
    view = classroom.class_view(classroom.read_class(folder, demo.instrument), demo)
    assert view.submissions == k - 1 and not view.shown
    assert f"{k - 1} submissions so far" in view.summary() and f"from {k} on" in view.summary()
    assert view.profile[["class_mean", "class_q1", "class_median", "class_q3", "percentile"]].isna().all().all()
    assert view.profile["learners"].isna().all() and not view.profile["shown"].any() and view.scores.empty
    assert view.table()[["learners", "class_mean", "class_median", "percentile"]].isna().all().all()
    fig, ax = plt.subplots()
    classroom.plot_class_among(view, teaching.unit_means(demo), scale=demo.scale, ax=ax)
    assert not [a for a in ax.collections if a.get_gid() == "class-mean"]
    assert any(f"{k - 1} submissions so far" in text.get_text() for text in ax.texts)
    plt.close(fig)


def test_from_k_submissions_the_class_appears_and_thin_characteristics_stay_blank(demo, folder):
    k = demo.disclosure.min_cell_size
    everyone = fill(folder, demo, k + 2, measurement=2)
    for number, answers in enumerate(everyone):  # only k - 1 learners score connection to community
        answers["connection_to_community"] = CANT_RATE if number < 3 else 2
    for seed, answers in enumerate(everyone):
        classroom.submit(folder, answers, demo.instrument, code=f"{seed:08x}")
    room = classroom.read_class(folder, demo.instrument)
    view = classroom.class_view(room, demo)
    assert view.shown and view.submissions == k + 2
    profile = view.profile.set_index("characteristic_id")
    # Each learner scored as any respondent of a study: the mean of the items they rated.
    scored = pd.DataFrame([teaching.profile_from_answers(a, demo.instrument) for a in everyone])
    for characteristic, row in profile.iterrows():
        values = scored[characteristic].dropna()
        assert row["learners"] == len(values)
        if len(values) >= k:
            assert row["shown"] and row["class_mean"] == pytest.approx(values.mean(), abs=1e-12)
            assert row["class_median"] == pytest.approx(values.median(), abs=1e-12)
            assert sorted(view.scores.loc[view.scores["characteristic_id"] == characteristic, "score"]) == \
                pytest.approx(sorted(values))
        else:
            assert not row["shown"] and np.isnan(row["class_mean"]) and np.isnan(row["class_q1"])
            assert characteristic not in set(view.scores["characteristic_id"])
    assert profile.loc["measurement", "class_mean"] == 2.0 and profile.loc["measurement", "learners"] == k + 2
    assert not profile.loc["connection_to_community", "shown"]
    assert view.table().loc["Connection to community", "learners"] == f"<{k}"
    expected = teaching.position_among(profile["class_mean"], demo).set_index("characteristic_id")
    pd.testing.assert_series_equal(profile["percentile"], expected["percentile"], check_names=False)
    assert no_code_in(view, room.learners)
    fig, ax = plt.subplots()
    own = teaching.profile_from_answers(everyone[0], demo.instrument)
    assert classroom.plot_class_among(view, teaching.unit_means(demo), scale=demo.scale, ax=ax, own=own) is ax
    assert len([a for a in ax.collections if a.get_gid() == "class-mean"]) == 1
    assert [a for a in ax.collections if a.get_gid() == "own-profile"]
    assert not any(code in text.get_text() for text in ax.texts for code in room.learners)
    plt.close(fig)


def test_a_stricter_policy_and_unanimous_hide_blank_more(demo, folder):
    fill(folder, demo, 6, measurement=2)
    room = classroom.read_class(folder, demo.instrument)
    strict = classroom.class_view(room, StudyWithPolicy(demo, DisclosurePolicy(min_cell_size=7)))
    assert not strict.shown and strict.scores.empty
    alike = classroom.class_view(room, StudyWithPolicy(demo, DisclosurePolicy(min_cell_size=2, unanimous="hide")))
    shown = alike.profile.set_index("characteristic_id")["shown"]
    assert not shown["measurement"], "everyone rated measurement 2: hidden when the policy hides unanimity"
    assert shown.drop("measurement").any()


# ---------------------------------------------------------------------------------------------------
# The form


def test_the_form_starts_blank_and_renders_as_a_static_form_where_widgets_cannot_run(demo):
    form = SelfAssessmentForm(demo)
    assert form.answered == 0 and all(value is None for value in form.responses.values())
    bundle = form._repr_mimebundle_()
    assert bundle["text/plain"] == repr(form) == "Self-assessment form for the demo study: 0 of 10 items answered"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert page.count("\u2610") == 4 * len(demo.instrument.items) and "\u2612" not in page
    for item in demo.instrument.items:
        assert item.label in page
        assert all(description.replace("'", "&#x27;") in page for description in item.levels.values())
    notes = [text.get_text() for text in form.figure.axes[0].texts]
    assert notes == ["not answered yet"] * len(notes) == ["not answered yet"] * 8, "blank, not 'can't rate'"
    form.set_answers({"measurement": 3, "constancy_of_purpose": None})
    notes = [text.get_text() for text in form.figure.axes[0].texts]
    assert "can't rate" in notes and "percentile" in " ".join(notes) and notes.count("not answered yet") == 6
    ticked = form._repr_html_()
    assert ticked.count("\u2612") == 2 and "2 of 10 items answered" in form.summary_line()
    assert static_form_html(demo.instrument, {"measurement": 1}).count("\u2612") == 1


def test_lesson_2_rendered_by_nbconvert_shows_a_form_not_a_widget_repr():
    from nbconvert import HTMLExporter

    for version in ("learner", "instructor"):
        book = nbformat.read(CHECKOUT / "notebooks" / "teaching" / version / LESSON_2, as_version=4)
        page, _ = HTMLExporter().from_notebook_node(book)
        assert "SelfAssessmentForm(" not in page and "workbench-static-form" in page
        assert page.count("\u2610") == 40, "the stored form is blank"


def test_the_lessons_example_answers_are_a_parameter_and_the_form_starts_blank():
    book = nbformat.read(teaching.generator.LESSONS_DIR / LESSON_2, as_version=4)
    parameters = next(cell.source for cell in book.cells if "parameters" in cell.metadata.get("tags", []))
    assert "example_answers = False" in parameters and "class_folder = None" in parameters
    form_cell = next(cell.source for cell in book.cells if "SelfAssessmentForm(" in cell.source)
    assert "answers=my_answers if example_answers else None" in form_cell


def test_the_form_uses_the_example_answers_only_while_it_is_blank(demo):
    form = SelfAssessmentForm(demo)
    example = {"measurement": 1, "information_patients": 3}
    assert form.answers_or(example) == teaching.normalise_answers(example, demo.instrument)
    form.choices["constancy_of_purpose"].value = CANT_RATE  # answered, though not rated
    assert form.answers_or(example) == form.answers and form.answers["measurement"] is None


def test_the_forms_submit_button_saves_under_one_code_and_shows_the_class(demo, folder, monkeypatch):
    monkeypatch.delenv(classroom.CLASS_VARIABLE, raising=False)
    assert SelfAssessmentForm(demo).folder is None
    with pytest.raises(ValueError, match="no class folder"):
        SelfAssessmentForm(demo).submit()
    monkeypatch.setenv(classroom.CLASS_VARIABLE, str(folder))
    form = SelfAssessmentForm(demo)
    assert form.folder == folder
    form._submit_clicked(form.submit_button)
    assert "Not submitted" in form.submit_status.value and not list(folder.iterdir())
    form.set_answers({"measurement": 3, "constancy_of_purpose": CANT_RATE})
    form._submit_clicked(form.submit_button)
    assert CODE.fullmatch(form.code) and form.code in form.submit_status.value
    assert [p.stem for p in folder.iterdir()] == [form.code]
    assert form.class_image.value[:8] == b"\x89PNG\r\n\x1a\n" and "1 submission so far" in form.class_summary.value
    form.choices["measurement"].value = 1
    form.submit()
    assert [p.stem for p in folder.iterdir()] == [form.code], "submitting again replaces the learner's file"
    assert json.loads((folder / f"{form.code}.json").read_text())["answers"]["measurement"] == 1
    assert form.code not in form.class_summary.value
