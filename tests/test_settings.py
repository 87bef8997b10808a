"""Settings files: strictly typed, read by one YAML loader (duplicate keys, syntax errors and deep
nesting are one line naming the line), study ids that are plain names matching their folders,
and a crash log that is a private file with a name of its own."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from workbench import cli
from workbench.errors import InputError
from workbench.frameworks import load_instrument
from workbench.io.files import YAML_DEPTH, load_yaml, read_yaml_model
from workbench.project import Project
from workbench.study import MIN_CELL_SIZE_FLOOR, Privacy, StudyConfig, build_processed, load_study, read_config


def edit_study(folder: Path, old: str, new: str) -> Path:
    path = folder / "study.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def tree(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- strict settings ------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "message"), [
    ("yes", r"Input should be a valid integer, found true at line \d+; YAML reads yes, no, on and off"),
    ("'5'", r"Input should be a valid integer, found '5' at line \d+; write a number without quotes"),
    ("5.0", r"Input should be a valid integer, found 5\.0 at line \d+$"),
    ("1", rf"Input should be greater than or equal to {MIN_CELL_SIZE_FLOOR}, found 1 at line \d+$"),
    ("0", r"Input should be greater than or equal to 2"),
    ("-5", r"Input should be greater than or equal to 2"),
    ("five", r"Input should be a valid integer, found 'five'"),
    ("", r"Input should be a valid integer, found nothing \(an empty value\)"),
])
def test_min_cell_size_is_a_whole_number_at_least_the_floor(demo_copy, written, message):
    edit_study(demo_copy, "  min_cell_size: 5\n", f"  min_cell_size: {written}\n")
    with pytest.raises(InputError, match=r"study\.yaml: setting 'privacy\.min_cell_size': " + message) as raised:
        read_config(demo_copy, Project.discover())
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("written", ["2", "5", "12"])
def test_yaml_integers_still_read(demo_copy, written):
    edit_study(demo_copy, "  min_cell_size: 5\n", f"  min_cell_size: {written}\n")
    assert read_config(demo_copy, Project.discover()).privacy.min_cell_size == int(written)


def test_the_floor_is_documented_and_enforced_in_python_too():
    description = Privacy.model_fields["min_cell_size"].description
    assert f"at least {MIN_CELL_SIZE_FLOOR}" in description
    with pytest.raises(ValueError):
        Privacy(min_cell_size=1)
    with pytest.raises(ValueError):
        Privacy(min_cell_size=True)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("", "analysis:\n  min_items: '2'\n", r"setting 'analysis\.min_items': Input should be a valid integer, found '2'"),
    ("", "analysis:\n  min_items: 2.0\n",
     r"setting 'analysis\.min_items': Input should be a valid integer, found 2\.0"),
    ("", "analysis:\n  agreement:\n    threshold: yes\n",
     r"setting 'analysis\.agreement\.threshold': Input should be a valid number, found true"),
    ("", "analysis:\n  agreement:\n    threshold: '0.7'\n",
     r"setting 'analysis\.agreement\.threshold': Input should be a valid number, found '0\.7'"),
    ("", "analysis:\n  agreement:\n    index: rwg_j\n",
     r"setting 'analysis\.agreement\.index': Input should be 'rwg' or 'rwg_star', found 'rwg_j' at line \d+$"),
    ("", "analysis:\n  agreement:\n    null_distribution: skewed\n",
     r"setting 'analysis\.agreement\.null_distribution': Input should be 'uniform', 'slight_skew', 'moderate_skew', "
     r"'heavy_skew' or 'triangular', found 'skewed' at line \d+$"),
    ("", "analysis:\n  agreement:\n    null: slight_skew\n",
     r"setting 'analysis\.agreement': Value error, YAML reads the key null as nothing: write null_distribution: "),
    ("", "analysis:\n  agreement:\n    null_variance: '0.5'\n",
     r"setting 'analysis\.agreement\.null_variance': Input should be a valid number, found '0\.5'"),
    ("", "analysis:\n  agreement:\n    null_variance: 0\n",
     r"setting 'analysis\.agreement\.null_variance': Input should be greater than 0, found 0 at line \d+$"),
    ("", "analysis:\n  agreement:\n    null_distribution: heavy_skew\n    null_variance: 0.3\n",
     r"setting 'analysis\.agreement': Value error, give either null_distribution \('heavy_skew'\) or null_variance "
     r"\(0\.3\), not both \(line \d+\)$"),
    ("", "analysis:\n  agreement:\n    custom_variance: 0.3\n",
     r"setting 'analysis\.agreement\.custom_variance': Extra inputs are not permitted \(line \d+\)$"),
    ("    '1': 1\n", "    '1': 1.0\n",
     r"setting 'survey_coding\.levels\.1': Input should be a valid integer, found 1\.0"),
    ("    '1': 1\n", "    1: 1\n", r"setting 'survey_coding\.levels\.1\.\[key\]': Input should be a valid string"),
    ("", "title_extra: 1\n", r"setting 'title_extra': Extra inputs are not permitted \(line \d+\)$"),
    ("title: 'Demo study: 43 synthetic clinical microsystems'\n", "title: 2026-01-31\n",
     r"setting 'title': Input should be a valid string, found 2026-01-31 at line 3; YAML reads an unquoted"),
])
def test_other_settings_are_strict_too(demo_copy, old, new, message):
    path = demo_copy / "study.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(old, new, 1) if old else text + new, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_config(demo_copy, Project.discover())


def test_a_whole_number_threshold_still_reads(demo_copy):
    (demo_copy / "study.yaml").write_text((demo_copy / "study.yaml").read_text()
                                          + "analysis:\n  agreement:\n    threshold: 1\n  min_items: 2\n")
    config = read_config(demo_copy, Project.discover())
    assert config.analysis.agreement.threshold == 1.0 and config.analysis.min_items == 2


@pytest.mark.parametrize(("written", "described"), [
    ("index: rwg_star\n    null_distribution: slight_skew\n    threshold: 0.6\n",
     "rwg / r*wg(j) against a slightly skewed null, shared at 0.60 or above"),
    ("null_variance: 0.5\n", "rwg / rwg(j) against a custom null (variance 0.5), shared at 0.70 or above"),
    ("null_variance: 1\n", "rwg / rwg(j) against a custom null (variance 1), shared at 0.70 or above"),
    ("null_distribution: uniform\n", "rwg / rwg(j) against a uniform null, shared at 0.70 or above"),
])
def test_the_agreement_index_and_null_are_settings(demo_copy, written, described):
    (demo_copy / "study.yaml").write_text((demo_copy / "study.yaml").read_text()
                                          + "analysis:\n  agreement:\n    " + written)
    assert read_config(demo_copy, Project.discover()).analysis.agreement.describe() == described


def outcome_number(folder: Path, outcome_id: str) -> int:
    """The outcome's place (from 1) in study.yaml's list, read independently of the loader (the
    demo's list grows as outcomes are added: patient_experience_score is no longer the third)."""
    return [o["id"] for o in load_yaml(folder / "study.yaml")["outcomes"]].index(outcome_id) + 1


def test_duplicate_outcome_ids_are_refused(demo_copy):
    number = outcome_number(demo_copy, "patient_experience_score")
    assert number > 1 and outcome_number(demo_copy, "staff_turnover_pct") == 1
    edit_study(demo_copy, "- id: patient_experience_score\n", "- id: staff_turnover_pct\n")
    with pytest.raises(InputError, match=r"setting 'outcomes': .*found 'staff_turnover_pct' as outcome 1 and again "
                                         rf"as outcome {number} "):
        load_study("demo")


def test_an_outcome_cannot_be_called_microsystem_id(demo_copy):
    number = outcome_number(demo_copy, "patient_experience_score")
    edit_study(demo_copy, "- id: patient_experience_score\n", "- id: microsystem_id\n")
    with pytest.raises(InputError, match=rf"outcome {number} has the id 'microsystem_id'"):
        load_study("demo")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  - value: 1\n", "  - value: '1'\n", r"element 'levels\.0\.value': Value error, expected a level written as a "
                                            r"whole number without quotes, found '1'"),
    ("  - value: 1\n", "  - value: 1.0\n", r"element 'levels\.0\.value': .*found 1\.0"),
    ("  - value: 1\n", "  - value: true\n", r"element 'levels\.0\.value': .*found True"),
])
def test_instrument_levels_are_strict(tmp_path, old, new, message):
    from workbench.frameworks import SHIPPED

    text = (SHIPPED / "microsystem_self_assessment.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "mine.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_instrument(path)


def test_instrument_item_levels_are_not_converted_from_text(tmp_path):
    from workbench.frameworks import SHIPPED

    text = (SHIPPED / "microsystem_self_assessment.yaml").read_text(encoding="utf-8")
    item_level = re.search(r"\n( +)1: ", text)
    assert item_level, "the shipped instrument describes item levels by number"
    path = tmp_path / "mine.yaml"
    path.write_text(text[:item_level.start()] + f"\n{item_level.group(1)}'1': " + text[item_level.end():])
    with pytest.raises(InputError, match=r"element 'items\.0\.levels': Value error, expected each level written as a "
                                         r"whole number"):
        load_instrument(path)


# --- one YAML loader -------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\nb: 2\na: 3\n", r"^f\.yaml: 'a' is given twice \(lines 1 and 3\); expected each key once - a second one "
                          r"would silently replace the first"),
    ("top:\n  x: 1\n  y: 2\n  x: 1\n", r"^f\.yaml: top: 'x' is given twice \(lines 2 and 4\)"),
    ("list:\n  - {k: 1}\n  - {k: 1, k: 2}\n", r"^f\.yaml: list\.1: 'k' is given twice \(lines 3 and 3\)"),
    ("{a: 1, a: 1}\n", r"^f\.yaml: 'a' is given twice \(lines 1 and 1\)"),
    ("1: x\n'1': y\n1: z\n", r"^f\.yaml: 1 is given twice \(lines 1 and 3\)"),
])
def test_a_key_given_twice_is_refused_naming_its_line(tmp_path, text, message):
    with pytest.raises(InputError, match=message) as raised:
        load_yaml(write(tmp_path / "f.yaml", text), shown="f.yaml")
    assert "\n" not in str(raised.value)


def test_merge_keys_may_still_override_what_they_merge(tmp_path):
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 5\n"
    assert load_yaml(write(tmp_path / "f.yaml", text)) == {"base": {"x": 1, "y": 2}, "other": {"x": 5, "y": 2}}


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\n  b: 2\n", r"^f\.yaml: not valid YAML at line 2, column 4: mapping values are not allowed here$"),
    ("a: [1, 2\nb: 3\n", r"^f\.yaml: not valid YAML at line \d+, column \d+: .*\(while parsing a flow sequence at "
                         r"line 1, column 4\)$"),
    ("a: 'open\n", r"^f\.yaml: not valid YAML at line 2, column 1: found unexpected end of stream "
                   r"\(while scanning a quoted scalar at line 1, column 4\)$"),
    ("a: 1\n---\nb: 2\n", r"^f\.yaml: not valid YAML at line 2, column 1: expected a single document in the stream, "
                          r"but found another document$"),
    ("a: !!python/object:os.system x\n", r"^f\.yaml: not valid YAML at line 1, column 4: could not determine a "
                                         r"constructor for the tag"),
])
def test_a_yaml_syntax_error_is_one_line(tmp_path, text, message):
    with pytest.raises(InputError, match=message) as raised:
        load_yaml(write(tmp_path / "f.yaml", text), shown="f.yaml")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("depth", [YAML_DEPTH + 1, 5_000, 50_000])
def test_deep_nesting_is_refused_without_reaching_the_recursion_limit(tmp_path, depth):
    sequences, mappings = "[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth
    for text, column in ((sequences, YAML_DEPTH + 1), (mappings, 4 * (YAML_DEPTH - 1) + 2)):  # node 65 is a key
        with pytest.raises(InputError, match=rf"^f\.yaml: line 1, column {column}: nested more than "
                                             rf"{YAML_DEPTH} levels deep"):
            load_yaml(write(tmp_path / "f.yaml", text), shown="f.yaml")
    block = "".join("  " * level + "a:\n" for level in range(YAML_DEPTH + 1))
    with pytest.raises(InputError, match=rf"^f\.yaml: line {YAML_DEPTH}, column \d+: nested more than"):
        load_yaml(write(tmp_path / "f.yaml", block), shown="f.yaml")


def test_nesting_up_to_the_limit_reads(tmp_path):
    depth = YAML_DEPTH - 1  # the document's top-level mapping is a level too
    data = load_yaml(write(tmp_path / "f.yaml", "a: " + "[" * depth + "]" * depth + "\n"))["a"]
    levels = 1
    while data:
        data, levels = data[0], levels + 1
    assert levels == depth


def test_empty_missing_and_folder(tmp_path):
    assert load_yaml(write(tmp_path / "empty.yaml", "")) is None
    with pytest.raises(InputError, match=r"^gone\.yaml: it is not there$"):
        load_yaml(tmp_path / "gone.yaml", shown="gone.yaml", missing="it is not there")
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(InputError, match=r"^folder\.yaml: expected a regular file, found a folder$"):
        load_yaml(tmp_path / "folder.yaml", shown="folder.yaml")


def test_a_wrong_value_names_its_line(tmp_path):
    path = write(tmp_path / "s.yaml", "id: x\ntitle: T\nroles: [a]\noutcomes:\n  - id: o\n    label: O\n"
                                      "    better: more\n")
    with pytest.raises(InputError, match=r"^s\.yaml: setting 'outcomes\.0\.better': Input should be 'higher' or "
                                         r"'lower', found 'more' at line 7$"):
        read_yaml_model(path, StudyConfig, shown="s.yaml", strict=True)


# --- study identity --------------------------------------------------------------------------

@pytest.mark.parametrize("study_id", ["", ".", "..", "../demo", "a/b", "a b", "-x", "_x", "x" * 101, "dé"])
def test_a_study_id_is_a_plain_name(tmp_path, study_id):
    path = write(tmp_path / "s.yaml", f"id: {study_id!r}\ntitle: T\nroles: [a]\n".replace('"', "'"))
    with pytest.raises(InputError, match=r"setting 'id': Value error, expected a plain name"):
        read_yaml_model(path, StudyConfig, shown="s.yaml", strict=True)
    with pytest.raises(InputError, match=r"a study id must be a plain name"):
        Project(tmp_path).processed(study_id)
    with pytest.raises(InputError, match=r"a study id must be a plain name"):
        Project(tmp_path).reports(study_id)


@pytest.mark.parametrize("study_id", ["demo", "ward-study", "Study_2026", "x" * 100])
def test_plain_names_are_accepted(tmp_path, study_id):
    assert Project(tmp_path).processed(study_id) == Project(tmp_path).processed_dir / study_id


def test_a_study_under_data_raw_has_its_folders_name(demo_copy):
    edit_study(demo_copy, "id: demo\n", "id: ward-study\n")
    with pytest.raises(InputError, match=r"study\.yaml: setting 'id': the study in data/raw/demo/ says id: "
                                         r"'ward-study'; expected its folder's name, 'demo'"):
        load_study("demo")


def test_a_copied_study_cannot_overwrite_the_original(project):
    copy = project / "data" / "raw" / "copy"
    shutil.copytree(project / "data" / "raw" / "demo", copy)
    before = tree(project / "data" / "processed")
    with pytest.raises(InputError, match=r"data/raw/copy/ says id: 'demo'; expected its folder's name, 'copy'"):
        build_processed("copy")
    assert cli.main(["build", "--study", "copy"]) == 2
    assert tree(project / "data" / "processed") == before


def test_a_study_outside_data_raw_cannot_take_a_projects_study_id(project, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "mine"
    shutil.copytree(project / "data" / "raw" / "demo", elsewhere)
    before = tree(project / "data" / "processed")
    assert load_study(elsewhere).id == "demo"  # reading it is fine
    with pytest.raises(InputError, match=r"this study says id: 'demo', the id of the study in data/raw/demo/; "
                                         r"building it would replace that study's processed data"):
        build_processed(elsewhere)
    assert tree(project / "data" / "processed") == before
    edit_study(elsewhere, "id: demo\n", "id: mine\n")
    built = build_processed(elsewhere)
    assert built.processed.resolve() == (project / "data" / "processed" / "mine").resolve()
    assert tree(project / "data" / "processed" / "demo") == {p: b for p, b in before.items()
                                                             if p.is_relative_to(project / "data/processed/demo")}


# --- crash log -------------------------------------------------------------------------------

def test_a_crash_log_is_a_private_file_of_its_own(monkeypatch, tmp_path, capsys):
    def crash(arguments):
        raise RuntimeError("a value from the data\nand a second line")

    monkeypatch.setitem(cli._COMMANDS, "build", crash)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    logs = []
    for _ in range(2):
        assert cli.main(["build"]) == 3
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "a value from the data and a second line" in lines[0]
        found = re.search(r"details, private to you, in (\S+workbench-error-\S+\.log)\)$", lines[0])
        assert found, lines[0]
        logs.append(Path(found.group(1)))
    assert logs[0] != logs[1]
    for log in logs:
        assert log.parent == tmp_path
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
        text = log.read_text(encoding="utf-8")
        assert "Traceback" in text and "RuntimeError: a value from the data" in text
