from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import crosscase

PROFILE = pd.DataFrame(
    {"measurement": [1.0, 2.0, 3.0, 2.5]}, index=pd.Index(["A", "B", "C", "D"], name="microsystem_id")
)
OUTCOMES = pd.DataFrame({"microsystem_id": ["A", "B", "C", "D"], "turnover": [20.0, 10.0, 5.0, np.nan]})


def test_lower_is_better_puts_the_lowest_first_and_missing_last():
    ordered = crosscase.order_by_outcome(PROFILE, OUTCOMES, outcome="turnover", better="lower")
    assert ordered.index.tolist() == ["C", "B", "A", "D"]
    assert ordered["outcome_rank"].tolist()[:3] == [1, 2, 3] and pd.isna(ordered["outcome_rank"].iloc[3])


def test_higher_is_better_reverses_the_order():
    ordered = crosscase.order_by_outcome(PROFILE, OUTCOMES, outcome="turnover", better="higher")
    assert ordered.index.tolist() == ["A", "B", "C", "D"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="better must be 'higher' or 'lower', got 'up'"):
        crosscase.order_by_outcome(PROFILE, OUTCOMES, outcome="turnover", better="up")
    with pytest.raises(ValueError, match=r"outcome must be one of \['turnover'\], got 'deaths'"):
        crosscase.order_by_outcome(PROFILE, OUTCOMES, outcome="deaths", better="lower")


def test_rank_correlation_matches_scipy():
    rng = np.random.default_rng(1)
    pairs = pd.DataFrame(
        {"characteristic_id": "m", "survey_mean": rng.normal(size=30), "interview_density": rng.normal(size=30)}
    )
    pairs.loc[3, "survey_mean"] = np.nan
    row = crosscase.rank_correlations(pairs).iloc[0]
    complete = pairs.dropna()
    assert row["n"] == 29
    expected = stats.spearmanr(complete["survey_mean"], complete["interview_density"]).statistic
    assert row["spearman_rho"] == pytest.approx(expected)


def test_survey_against_interviews_pairs_shared_characteristics():
    density = pd.DataFrame({"measurement": [0.1, 0.2, 0.0, 0.4], "other": 1.0}, index=PROFILE.index)
    pairs = crosscase.survey_against_interviews(PROFILE, density)
    assert pairs.columns.tolist() == ["microsystem_id", "characteristic_id", "survey_mean", "interview_density"]
    assert len(pairs) == 4 and set(pairs["characteristic_id"]) == {"measurement"}


def test_typology_finds_planted_groups_and_chooses_k_by_silhouette():
    rng = np.random.default_rng(5)
    high = pd.DataFrame(rng.normal(2.7, 0.05, (10, 4)), columns=list("abcd"))
    low = pd.DataFrame(rng.normal(1.3, 0.05, (8, 4)), columns=list("abcd"))
    profile = pd.concat([high, low], ignore_index=True).rename(index=lambda i: f"M{i:02d}")
    types, scores = crosscase.typology(profile, k_range=(2, 5))
    assert scores.loc[scores["chosen"], "k"].item() == 2
    assert types.iloc[:10].eq(1).all() and types.iloc[10:].eq(2).all()  # type 1 is the stronger one
    outcomes = pd.DataFrame({"microsystem_id": profile.index, "turnover": [10.0] * 10 + [20.0] * 8})
    described = crosscase.describe_types(profile, types, outcomes, outcome_ids=["turnover"])
    assert described.loc[1, "microsystems"] == 10 and described.loc[2, "turnover"] == 20.0


def test_outcome_association_is_the_correlation_for_standardised_variables():
    rng = np.random.default_rng(8)
    x = rng.normal(size=40)
    profile = pd.DataFrame({"m": x}, index=[f"M{i}" for i in range(40)])
    outcomes = pd.DataFrame({"microsystem_id": profile.index, "y": 2 * x + rng.normal(size=40)})
    row = crosscase.outcome_associations(profile, outcomes, outcome="y").iloc[0]
    assert row["standardised_effect"] == pytest.approx(np.corrcoef(x, outcomes["y"])[0, 1])
    assert row["ci_low"] < row["standardised_effect"] < row["ci_high"] and row["n"] == 40


def test_meta_matrix_and_export(tmp_path):
    profile = pd.DataFrame({"microsystem_id": ["A", "B"], "characteristic_id": "m", "mean": [2.0, np.nan]})
    flags = pd.DataFrame(
        {"microsystem_id": ["A", "B"], "characteristic_id": "m", "agreement": ["shared", "not shared"]}
    )
    density = pd.DataFrame({"m": [1.5, 0.0]}, index=["A", "B"])
    quotes = pd.DataFrame({"microsystem_id": ["A"], "characteristic_id": ["m"], "excerpt": ["We chart it."]})
    table = crosscase.meta_matrix(profile, flags, density, quotes, order=["B", "A"], characteristics=["m"])
    assert list(table.index) == ["B", "A"]
    assert table.loc["A", ("m", "quote")] == "We chart it." and pd.isna(table.loc["B", ("m", "survey")])
    written = crosscase.export_table(table, tmp_path / "meta")
    assert [p.name for p in written] == ["meta.csv", "meta.xlsx"]
    assert "m | survey" in (tmp_path / "meta.csv").read_text()
