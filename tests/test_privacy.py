"""Pseudonyms, scrubbing and small-cell suppression."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import privacy
from workbench.errors import InputError
from workbench.project import Project
from workbench.vocabulary import DisclosurePolicy


def test_pseudonyms_are_stable_keyed_and_not_the_raw_id(tmp_path):
    project = Project(tmp_path)
    with pytest.raises(InputError, match="no pseudonym key"):
        privacy.study_key(project, "s")  # reading never creates it
    key = privacy.study_key(project, "s", create=True)
    assert privacy.study_key(project, "s") == key  # created once, then reused
    assert (tmp_path / ".secrets" / "s.key").stat().st_mode & 0o077 == 0  # readable by its owner only
    ids = pd.Series(["R0001", "R0002", "R0001"], dtype="str")
    first = privacy.pseudonymise(ids, key)
    assert first.iloc[0] == first.iloc[2] != first.iloc[1]
    assert not first.str.contains("R000").any()
    other = privacy.pseudonymise(ids, privacy.study_key(project, "t", create=True))
    assert (other != first).all()


@pytest.mark.parametrize(("text", "expected"), [
    ("Ask Dana Whitfield, she knows.", "Ask [name], she knows."),
    ("Dana said so, and Whitfield agreed.", "[name] said so, and [name] agreed."),
    ("Write to d.whitfield@example.org today.", "Write to [email] today."),
    ("Call 555-0142 or (617) 555-0199.", "Call [phone] or [phone]."),
    ("She was born on 12/04/1979 in town.", "She was [date of birth] in town."),
    ("DOB: 3 March 1980.", "[date of birth]."),
    ("We see 120 patients a day in 2026.", "We see 120 patients a day in 2026."),
    ("The Danaher fund helped.", "The Danaher fund helped."),
])
def test_scrubbing_masks_names_contacts_and_birth_dates_only(text, expected):
    scrub = privacy.scrubber(["Dana Whitfield", "Priya Raman"])
    assert scrub(text) == expected


def test_a_study_can_add_its_own_patterns():
    scrub = privacy.scrubber([], [(r"\bBed \d+\b", "[bed]")])
    assert scrub("The patient in Bed 12 was discharged.") == "The patient in [bed] was discharged."


def test_small_groups_are_suppressed_with_a_complementary_cell():
    table = pd.DataFrame({"segments": [40, 12, 3]}, index=["Manager", "Nurse", "Clerical"])
    sizes = pd.Series({"Manager": 40, "Nurse": 12, "Clerical": 2})
    shown = privacy.suppress_small_groups(table, sizes, policy=DisclosurePolicy(min_cell_size=5))
    # Clerical is under k; with a total shown it would be total - others, so Nurse (next smallest) goes too.
    assert shown["segments"].tolist() == [40, "<5", "<5"]
    assert shown["people"].tolist() == ["40", "<5", "<5"]
    alone = privacy.suppress_small_groups(table, sizes, policy=DisclosurePolicy(min_cell_size=5), total_shown=False)
    assert alone["segments"].tolist() == [40, 12, "<5"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(1, 10))
def test_no_group_under_k_is_ever_shown_and_no_small_group_is_recoverable_from_the_total(sizes, k):
    index = [f"g{i}" for i in range(len(sizes))]
    table = pd.DataFrame({"value": sizes}, index=index)
    shown = privacy.suppress_small_groups(table, pd.Series(sizes, index=index),
                                          policy=DisclosurePolicy(min_cell_size=k))
    hidden = shown["value"].eq(f"<{k}").to_numpy()
    sizes = pd.Series(sizes).to_numpy()
    assert all(hidden[sizes < k])
    # Total minus the shown groups = the hidden groups together: never fewer than k people, never one group.
    protected = sizes[hidden & (sizes > 0)]
    if len(protected) and not hidden.all():
        assert len(protected) >= 2 and protected.sum() >= k


def test_two_small_groups_are_not_left_recoverable_together():
    sizes = pd.Series({"Nurse": 20, "Physician": 9, "Clerical": 1, "Manager": 1})
    shown = privacy.suppress_small_groups(sizes.to_frame("n"), sizes, policy=DisclosurePolicy(min_cell_size=5))
    # Clerical + Manager = 2 people: the next smallest group (Physician) is hidden too.
    assert shown["people"].tolist() == ["20", "<5", "<5", "<5"]


def test_study_loading_stores_only_pseudonyms_and_scrubbed_excerpts(project):
    from workbench.study import build_processed

    build_processed("demo")
    folder = Project(project).processed("demo")
    respondents = pd.read_parquet(folder / "respondents.parquet")
    assert respondents["respondent_id"].str.match(r"^P-[0-9a-f]{12}$").all()
    answers = pd.read_parquet(folder / "answers.parquet")
    assert set(answers["respondent_id"]) == set(respondents["respondent_id"])
    excerpts = " ".join(pd.read_parquet(folder / "codings.parquet")["excerpt"])
    assert "Whitfield" not in excerpts and "@example.org" not in excerpts and "[name]" in excerpts
    for path in folder.rglob("*"):
        assert not path.is_file() or b"R0001" not in path.read_bytes(), path.name
