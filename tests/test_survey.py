"""Scoring: hand-checkable examples, and can't-rate never counted as a score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import survey


def answers_from(rows: list[tuple[str, str, str, str, str, object]]) -> pd.DataFrame:
    """rows: (respondent, microsystem, role, item, characteristic, code) with code 1-3, 'cr' or ''."""
    frame = pd.DataFrame(
        rows, columns=["respondent_id", "microsystem_id", "role", "item_id", "characteristic_id", "code"]
    )
    frame["answer"] = np.select([frame["code"].eq("cr"), frame["code"].eq("")], ["cant_rate", "no_answer"], "level")
    frame["level"] = pd.array([c if isinstance(c, int) else None for c in frame["code"]], dtype="Int64")
    return frame.drop(columns="code")


SMALL = answers_from([
    ("r1", "A", "Nurse", "info_staff", "info", 1),
    ("r1", "A", "Nurse", "info_tech", "info", 3),
    ("r1", "A", "Nurse", "measure", "measurement", 2),
    ("r2", "A", "Physician", "info_staff", "info", "cr"),
    ("r2", "A", "Physician", "info_tech", "info", 2),
    ("r2", "A", "Physician", "measure", "measurement", 3),
    ("r3", "A", "Clerical", "info_staff", "info", "cr"),
    ("r3", "A", "Clerical", "info_tech", "info", ""),
    ("r3", "A", "Clerical", "measure", "measurement", 3),
    ("r4", "B", "Nurse", "info_staff", "info", 3),
    ("r4", "B", "Nurse", "info_tech", "info", 3),
    ("r4", "B", "Nurse", "measure", "measurement", 1),
])


def test_item_summary_counts_cant_rate_apart_and_never_scores_it():
    summary = survey.item_summary(SMALL, levels=(1, 2, 3)).set_index(["microsystem_id", "item_id"])
    row = summary.loc[("A", "info_staff")]
    assert (row["n_respondents"], row["n_rated"], row["n_cant_rate"], row["n_no_answer"]) == (3, 1, 2, 0)
    assert row["mean"] == 1.0  # not (1 + 0 + 0) / 3
    assert row["cant_rate_share"] == pytest.approx(2 / 3)
    tech = summary.loc[("A", "info_tech")]
    assert (tech["n_rated"], tech["n_no_answer"], tech["mean"]) == (2, 1, 2.5)
    assert tech[["share_level_1", "share_level_2", "share_level_3"]].tolist() == [0.0, 0.5, 0.5]


def test_respondent_scores_average_rated_items_and_respect_min_items():
    scores = survey.respondent_scores(SMALL, min_items=1).set_index(["respondent_id", "characteristic_id"])
    assert scores.loc[("r1", "info"), "score"] == 2.0
    assert scores.loc[("r2", "info"), ["n_items", "n_rated", "score"]].tolist() == [2, 1, 2.0]
    assert np.isnan(scores.loc[("r3", "info"), "score"])
    strict = survey.respondent_scores(SMALL, min_items=2).set_index(["respondent_id", "characteristic_id"])
    assert np.isnan(strict.loc[("r2", "info"), "score"])
    assert strict.loc[("r1", "info"), "score"] == 2.0
    with pytest.raises(ValueError, match="min_items must be at least 1, got 0"):
        survey.respondent_scores(SMALL, min_items=0)


def test_profile_confidence_interval_is_the_t_interval():
    # Four scores 1, 2, 3, 3: mean 2.25, s = 0.9574, t(0.975, 3) = 3.182446 (standard t table),
    # half-width 3.182446 * 0.9574 / 2 = 1.5234, so the 95% CI is (0.7266, 3.7734).
    scores = pd.DataFrame({"respondent_id": list("abcd"), "microsystem_id": "A", "role": "Nurse",
                           "characteristic_id": "measurement", "score": [1.0, 2.0, 3.0, 3.0]})
    row = survey.microsystem_profile(scores).iloc[0]
    assert row["mean"] == 2.25
    assert row["ci_low"] == pytest.approx(0.7266, abs=5e-4)
    assert row["ci_high"] == pytest.approx(3.7734, abs=5e-4)


def test_a_single_scored_respondent_has_no_interval():
    scores = pd.DataFrame({"respondent_id": ["a", "b"], "microsystem_id": "A", "role": "Nurse",
                           "characteristic_id": "measurement", "score": [2.0, np.nan]})
    row = survey.microsystem_profile(scores).iloc[0]
    assert (row["n_respondents"], row["n_scored"], row["mean"]) == (2, 1, 2.0)
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_position_among_peers_uses_only_the_others():
    profile = pd.DataFrame({
        "microsystem_id": ["A", "B", "C", "D"], "characteristic_id": "m", "mean": [2.0, 1.0, 3.0, 2.5],
        "ci_low": np.nan, "ci_high": np.nan, "n_scored": 5,
    })
    row = survey.position_among_peers(profile, "A").iloc[0]
    assert (row["peers"], row["peer_min"], row["peer_median"], row["peer_max"]) == (3, 1.0, 2.5, 3.0)
    assert row["share_of_peers_below"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="'Z' has no survey profile"):
        survey.position_among_peers(profile, "Z")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([1, 2, 3, "cr", ""]), min_size=1, max_size=30), st.randoms())
def test_relabelling_and_reordering_change_no_result(codes, random):
    rows = [(f"r{i}", "A" if i % 2 else "B", "Nurse", "item", "char", code) for i, code in enumerate(codes)]
    answers = answers_from(rows)
    before = survey.item_summary(answers, levels=(1, 2, 3)).set_index("microsystem_id").sort_index()
    shuffled = answers.sample(frac=1.0, random_state=random.randint(0, 10**6))
    shuffled["microsystem_id"] = shuffled["microsystem_id"].map({"A": "Z1", "B": "Z2"})
    after = survey.item_summary(shuffled, levels=(1, 2, 3)).set_index("microsystem_id")
    after = after.rename(index={"Z1": "A", "Z2": "B"}).sort_index()
    pd.testing.assert_frame_equal(before, after[before.columns], check_like=True)
    assert before["mean"].dropna().between(1, 3).all()


def test_every_level_gets_a_share_column_even_when_nobody_chose_it():
    only_threes = answers_from(
        [("r1", "A", "Nurse", "m", "measurement", 3), ("r2", "A", "Nurse", "m", "measurement", 3)]
    )
    summary = survey.item_summary(only_threes, levels=(1, 2, 3)).iloc[0]
    assert summary[["share_level_1", "share_level_2", "share_level_3"]].tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match=r"levels \[3\], which are not among levels=\[1, 2\]"):
        survey.item_summary(only_threes, levels=(1, 2))


def test_select_characteristics_keeps_only_named_ones_and_rejects_unknown():
    assert set(survey.select_characteristics(SMALL, ["info"])["characteristic_id"]) == {"info"}
    assert survey.select_characteristics(SMALL, None) is SMALL
    with pytest.raises(
        ValueError,
        match=r"characteristics must be a non-empty list drawn from \['info', 'measurement'\], got \['infos'\]",
    ):
        survey.select_characteristics(SMALL, ["infos"])


def test_no_rating_means_no_distribution_and_no_position():
    nobody = answers_from(
        [("r1", "A", "Nurse", "m", "measurement", "cr"), ("r2", "A", "Nurse", "m", "measurement", "")]
    )
    row = survey.item_summary(nobody, levels=(1, 2, 3)).iloc[0]
    assert row["n_rated"] == 0 and np.isnan(row["mean"])
    assert np.isnan(row[["share_level_1", "share_level_2", "share_level_3"]].astype(float)).all()
    profile = pd.DataFrame({
        "microsystem_id": ["A", "B"], "characteristic_id": "m", "mean": [np.nan, 2.0],
        "ci_low": np.nan, "ci_high": np.nan, "n_scored": 0,
    })
    assert np.isnan(survey.position_among_peers(profile, "A")["share_of_peers_below"].iloc[0])


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from([1, 2, 3, None])), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_item_summary_moments_from_level_counts_equal_pandas_on_the_answers(rows):
    answers = pd.DataFrame({
        "microsystem_id": [unit for unit, _ in rows],
        "item_id": "measurement",
        "answer": ["level" if level else "cant_rate" for _, level in rows],
        "level": pd.array([level for _, level in rows], dtype="Int64"),
    })
    summary = survey.item_summary(answers, levels=(1, 2, 3)).set_index("microsystem_id").sort_index()
    grouped = answers["level"].astype("float64").groupby(answers["microsystem_id"])
    expected = pd.DataFrame({"mean": grouped.mean(), "median": grouped.median(), "sd": grouped.std()}).sort_index()
    pd.testing.assert_frame_equal(summary[["mean", "median", "sd"]], expected, check_names=False, rtol=1e-12)


@given(st.lists(
    st.tuples(
        st.sampled_from("ABC"),
        st.sampled_from(["Nurse", "Physician"]),
        st.sampled_from(["level", "cant_rate", "no_answer"]),
        st.sampled_from([1, 2, 3]),
    ),
    min_size=1,
    max_size=40,
))
@settings(max_examples=100, deadline=None)
def test_item_summary_groups_and_counts_as_pandas_groupby_does(rows):
    answers = pd.DataFrame(rows, columns=["microsystem_id", "role", "answer", "level"])
    answers["level"] = pd.array(answers["level"].where(answers["answer"].eq("level")), dtype="Int64")
    summary = survey.item_summary(answers, by=("microsystem_id", "role"), levels=(1, 2, 3))
    grouped = answers.groupby(["microsystem_id", "role"], sort=False)
    expected = pd.DataFrame({
        "n_respondents": grouped.size(),
        "n_rated": grouped["answer"].apply(lambda a: a.eq("level").sum()),
        "n_cant_rate": grouped["answer"].apply(lambda a: a.eq("cant_rate").sum()),
        "n_no_answer": grouped["answer"].apply(lambda a: a.eq("no_answer").sum()),
    }).reset_index()
    pd.testing.assert_frame_equal(summary[expected.columns].astype({"microsystem_id": object, "role": object}),
                                  expected.astype({"microsystem_id": object, "role": object}), check_dtype=False)


def test_no_unit_interval_leaves_the_scale_and_wide_ends_are_asymmetric():
    from workbench.study import open_study

    demo = open_study("demo")
    profiles = demo.view("unit_profiles").dropna(subset=["ci_low"])
    scale = demo.scale
    assert len(profiles) > 300
    assert profiles["ci_low"].ge(scale.low).all() and profiles["ci_high"].le(scale.high).all()
    assert (profiles["ci_low"] <= profiles["mean"]).all() and (profiles["mean"] <= profiles["ci_high"]).all()
    # Near the lowest level the interval reaches further up than down (a plain t interval would not).
    low = profiles[(profiles["mean"] > scale.low) & (profiles["mean"] < scale.at(0.15))]
    assert len(low) and ((low["ci_high"] - low["mean"]) > (low["mean"] - low["ci_low"])).all()
