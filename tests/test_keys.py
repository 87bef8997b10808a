"""Pseudonym keys: outside the project, private, chosen by a random key id recorded with the
study's processed data, kept by rebuilds, not shared by copies, and one clear line when missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workbench import privacy
from workbench.errors import InputError
from workbench.project import KEY_ID, KEYS_ENVIRONMENT_VARIABLE, Project, keys_dir
from workbench.study import build_processed, open_study, stale_inputs


def test_the_suite_keeps_keys_out_of_the_home_folder():
    assert os.environ[KEYS_ENVIRONMENT_VARIABLE]
    assert not keys_dir().is_relative_to(Path.home())


def test_the_key_lives_outside_the_project_readable_by_its_owner_only(tmp_path):
    project = Project(tmp_path / "project")
    key = privacy.study_key(project, "s", create=True)
    path = project.key_file("s")
    assert path.parent == keys_dir() and not path.is_relative_to(project.root)
    assert not (project.root / ".secrets").exists()
    key_id = project.key_id_file("s").read_text().strip()  # recorded beside the processed data
    assert KEY_ID.fullmatch(key_id) and path.name == f"{key_id}.key"  # named by a random id, not the study id
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys_dir().stat().st_mode & 0o777 == 0o700
    assert project.key_index_file("s").parent.stat().st_mode & 0o777 == 0o700
    assert privacy.study_key(project, "s") == key


def test_the_key_folder_is_the_users_own_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(KEYS_ENVIRONMENT_VARIABLE)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert keys_dir() == tmp_path / "home" / ".local" / "share" / "workbench" / "keys"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG rule: only an absolute path counts
    assert keys_dir() == tmp_path / "home" / ".local" / "share" / "workbench" / "keys"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert keys_dir() == tmp_path / "data" / "workbench" / "keys"
    assert keys_dir(create=True).stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv(KEYS_ENVIRONMENT_VARIABLE, str(tmp_path / "mine"))
    assert keys_dir() == tmp_path / "mine"


def test_a_copied_study_gets_a_key_of_its_own_unless_pointed_at_the_old_one(tmp_path):
    first, second = Project(tmp_path / "first"), Project(tmp_path / "second")
    key = privacy.study_key(first, "s", create=True)
    assert privacy.study_key(first, "copy", create=True) != key  # the same study under another id
    assert privacy.study_key(second, "s", create=True) != key  # the same id in another project folder
    # Deliberately pointed at the old key: its id written into the copy's key_id file.
    third = Project(tmp_path / "third")
    third.key_id_file("s").parent.mkdir(parents=True)
    shutil.copy(first.key_id_file("s"), third.key_id_file("s"))
    assert privacy.study_key(third, "s", create=True) == key


def test_a_wiped_processed_folder_finds_its_key_again_but_a_moved_copy_needs_its_key_id(tmp_path):
    project = Project(tmp_path / "project")
    key = privacy.study_key(project, "s", create=True)
    shutil.rmtree(project.processed_dir)  # make clean
    assert privacy.study_key(project, "s", create=True) == key  # the user's index remembers it
    assert project.key_id_file("s").exists()  # and the build records it beside the data again
    moved = Project(tmp_path / "moved")
    shutil.copytree(project.root, moved.root)  # a project moved with its processed data keeps reading them
    assert privacy.study_key(moved, "s") == key


def test_a_missing_key_is_one_line_naming_where_it_was_expected_and_the_fix(tmp_path):
    project = Project(tmp_path / "project")
    with pytest.raises(InputError) as raised:
        privacy.study_key(project, "s")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("no pseudonym key for study 's': it has not been built here (expected its key id in ")
    assert message.endswith("data/processed/s/key_id); run `workbench build --study s`")
    old = privacy.study_key(project, "s", create=True)
    path = project.key_file("s")
    path.unlink()  # the project was copied to a machine without its key
    with pytest.raises(InputError) as raised:
        privacy.study_key(project, "s")
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        f"no pseudonym key for study 's': expected {path} (the key id in data/processed/s/key_id); copy that key "
        "from where the study was built, or run `workbench build --study s` to make a new key (and new pseudonyms)"
    )
    new = privacy.study_key(project, "s", create=True)  # building makes a new key under a new id
    assert new != old and project.key_file("s") != path and project.key_file("s").exists()


def test_a_key_id_file_that_holds_something_else_is_named(tmp_path):
    project = Project(tmp_path / "project")
    project.key_id_file("s").parent.mkdir(parents=True)
    project.key_id_file("s").write_text("demo\n")
    for create in (False, True):
        with pytest.raises(InputError, match=r"^data/processed/s/key_id: expected a key id \(32 hex digits"):
            privacy.study_key(project, "s", create=create)


def test_a_key_an_earlier_version_kept_in_the_project_is_moved_out_with_its_pseudonyms(tmp_path):
    project = Project(tmp_path / "project")
    legacy = project.root / ".secrets"
    legacy.mkdir(parents=True)
    (legacy / ".gitignore").write_text("*\n")
    (legacy / "s.key").write_text("ab" * 32)
    assert privacy.study_key(project, "s", create=True) == bytes.fromhex("ab" * 32)
    assert not legacy.exists()
    assert project.key_file("s").read_text().strip() == "ab" * 32


def test_rebuilding_keeps_the_pseudonyms_and_a_lost_key_makes_the_study_stale(unbuilt_project):
    project = Project(unbuilt_project)
    build_processed("demo")
    key_id = project.key_id("demo")
    respondents = pd.read_parquet(project.processed("demo") / "respondents.parquet")
    build_processed("demo")
    assert project.key_id("demo") == key_id
    assert pd.read_parquet(project.processed("demo") / "respondents.parquet").equals(respondents)
    assert stale_inputs("demo") == []
    project.key_file("demo").unlink()
    assert stale_inputs("demo") == [f"{keys_dir() / key_id}.key (the pseudonym key) is missing"]
    with pytest.raises(InputError, match=r"not up to date \(.*\.key \(the pseudonym key\) is missing\): run "
                                         r"`workbench build --study demo`"):
        open_study("demo")
    project.key_id_file("demo").unlink()
    project.key_index_file("demo").unlink()
    assert stale_inputs("demo") == ["data/processed/demo/key_id (the pseudonym key's id) is missing"]
    build_processed("demo")  # a new key, new pseudonyms, and the study opens again
    assert project.key_id("demo") != key_id
    assert not pd.read_parquet(project.processed("demo") / "respondents.parquet").equals(respondents)
    assert len(open_study("demo").view("unit_profiles")) == 43 * 8
