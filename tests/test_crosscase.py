from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import crosscase

PROFILE = pd.DataFrame({"measurement": [1.0, 2.0, 3.0, 2.5]}, index=pd.Index(["A", "B", "C", "D"], name="microsystem_id"))
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
    pairs = pd.DataFrame({"characteristic_id": "m", "survey_mean": rng.normal(size=30), "interview_density": rng.normal(size=30)})
    pairs.loc[3, "survey_mean"] = np.nan
    row = crosscase.rank_correlations(pairs).iloc[0]
    complete = pairs.dropna()
    assert row["n"] == 29
    assert row["spearman_rho"] == pytest.approx(stats.spearmanr(complete["survey_mean"], complete["interview_density"]).statistic)


def test_survey_against_interviews_pairs_shared_characteristics():
    density = pd.DataFrame({"measurement": [0.1, 0.2, 0.0, 0.4], "other": 1.0}, index=PROFILE.index)
    pairs = crosscase.survey_against_interviews(PROFILE, density)
    assert pairs.columns.tolist() == ["microsystem_id", "characteristic_id", "survey_mean", "interview_density"]
    assert len(pairs) == 4 and set(pairs["characteristic_id"]) == {"measurement"}
