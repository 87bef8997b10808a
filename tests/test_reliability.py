"""Reliability of a scale (alpha with its Feldt interval, polychoric correlations, ordinal alpha,
omega) against R, published values and invariants. Each reference names its source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import reliability


def long_answers(columns: dict[str, list], groups: list[str] | None = None) -> pd.DataFrame:
    """Long answers from item columns (None or NaN: can't rate), one respondent per row position."""
    n = len(next(iter(columns.values())))
    groups = groups or ["A"] * n
    rows = [{"respondent_id": f"r{position:03d}", "microsystem_id": groups[position], "item_id": item,
             "characteristic_id": item, "answer": "level" if pd.notna(level) else "cant_rate",
             "level": level if pd.notna(level) else None}
            for item, levels in columns.items() for position, level in enumerate(levels)]
    frame = pd.DataFrame(rows)
    frame["level"] = frame["level"].astype("Int64")
    return frame


# ---------------------------------------------------------------------------------------
# Reference 1: R package `multilevel` 2.7 (cronbach, item.total) on the five-group data of
# tests/reference/multilevel_reference.R (one respondent could not rate item2: 19 complete).
MULTILEVEL_ITEMS = {
    "item1": [3, 3, 2, 2, 1, 2, 2, 3, 3, 3, 2, 3, 3, 1, 3, 2, 2, 3, 2, 1],
    "item2": [3, 2, 2, 1, 1, 2, 1, 3, 2, 3, 3, 3, 2, 2, 2, 2, None, 3, 2, 2],
    "item3": [2, 3, 3, 2, 2, 1, 1, 3, 3, 2, 3, 3, 3, 1, 2, 1, 2, 2, 3, 2],
}
R_ALPHA, R_ALPHA_N = 0.703564728, 19
R_ITEM_TOTAL = {
    "item1": (0.5991153837, 0.5099601594),
    "item2": (0.5201828764, 0.6164383562),
    "item3": (0.4526436884, 0.7032967033),
}


def test_alpha_and_item_total_match_r_multilevel():
    answers = long_answers(MULTILEVEL_ITEMS)
    alpha = reliability.cronbach_alpha(answers)
    assert alpha["alpha"] == pytest.approx(R_ALPHA, abs=1e-9)
    assert alpha["n_respondents"] == R_ALPHA_N
    table = reliability.item_total_statistics(answers).set_index("item_id")
    for item, (r, without) in R_ITEM_TOTAL.items():
        assert table.loc[item, "corrected_item_total_r"] == pytest.approx(r, abs=1e-9)
        assert table.loc[item, "alpha_if_deleted"] == pytest.approx(without, abs=1e-9)
    assert (table["n_respondents"] == R_ALPHA_N).all()


# ---------------------------------------------------------------------------------------
# Reference 2: published alphas.
# pingouin's documented example (15 respondents x 10 items): alpha 0.5917188485995826, Feldt CI
# [0.195, 0.840] (complete data, so pingouin's n is right there); psych::alpha.ci on the same alpha,
# n and k prints 0.1949213907 and 0.8398208146 (tests/reference/reliability_reference.out).
PINGOUIN_ALPHA = {
    "Q1": [3, 5, 7, 2, 6, 1, 4, 2, 6, 5, 4, 4, 5, 6, 4], "Q2": [2, 4, 3, 4, 5, 2, 3, 4, 5, 4, 3, 2, 5, 5, 3],
    "Q3": [4, 6, 5, 3, 6, 3, 5, 4, 5, 6, 5, 3, 6, 5, 5], "Q4": [1, 3, 5, 3, 5, 4, 3, 3, 5, 4, 2, 2, 2, 4, 5],
    "Q5": [4, 5, 6, 2, 4, 2, 5, 7, 1, 3, 5, 5, 3, 2, 3], "Q6": [5, 1, 4, 2, 4, 5, 2, 2, 6, 5, 3, 3, 3, 2, 1],
    "Q7": [1, 2, 3, 2, 4, 2, 1, 2, 5, 3, 2, 4, 2, 1, 3], "Q8": [4, 5, 3, 6, 6, 3, 2, 4, 2, 1, 3, 2, 4, 4, 2],
    "Q9": [3, 5, 6, 6, 7, 5, 4, 6, 3, 7, 4, 3, 4, 6, 3], "Q10": [2, 5, 5, 3, 5, 2, 3, 5, 2, 2, 1, 4, 5, 5, 4],
}
# Denis, Applied Univariate, Bivariate, and Multivariate Statistics (Wiley), SPSS RELIABILITY output:
# alpha 0.633; Item_1's corrected item-total correlation 0.712.
DENIS = [[10, 12, 15, 11, 12], [12, 18, 12, 12, 1], [8, 16, 14, 14, 4], [6, 8, 16, 8, 6], [4, 7, 8, 7, 5],
         [6, 6, 3, 7, 3], [3, 4, 6, 5, 8], [7, 3, 7, 9, 9], [8, 9, 4, 10, 10], [9, 5, 6, 11, 12]]
DENIS_ITEMS = {f"Item_{i + 1}": [row[i] for row in DENIS] for i in range(5)}


def test_alpha_and_feldt_interval_match_pingouins_documented_example_and_psych():
    result = reliability.cronbach_alpha(long_answers(PINGOUIN_ALPHA))
    assert result["alpha"] == pytest.approx(0.5917188485995826, abs=1e-12)
    assert (round(result["ci_low"], 3), round(result["ci_high"], 3)) == (0.195, 0.840)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((0.1949213907, 0.8398208146), abs=1e-9)
    assert (result["n_respondents"], result["n_items"]) == (15, 10)


def test_alpha_and_item_total_match_a_textbook_spss_example():
    long = long_answers(DENIS_ITEMS)
    assert round(reliability.cronbach_alpha(long)["alpha"], 3) == 0.633
    table = reliability.item_total_statistics(long).set_index("item_id")
    assert round(table.loc["Item_1", "corrected_item_total_r"], 3) == 0.712


# ---------------------------------------------------------------------------------------
# Reference 3: psych 2.2.9 (Revelle) by tests/reference/reliability_reference.R, printed output in
# reliability_reference.out: 60 respondents x 5 three-level items, "." = can't rate; 51 rated all.
PSYCH_ITEMS = {
    "q1": "122223222332222223311122322221322232332222221323323213333112",
    "q2": "121233232321223322212122222121221231321111221313323122232212",
    "q3": "2221.312333233333331232332221132.3323.322123232322222322322.",
    "q4": "212223132232122333221122313221311.12333111222333323313233123",
    "q5": "1121221223312113.322111131213112122233312.11.23222211222.121",
}
PSYCH_WIDE = pd.DataFrame({item: [np.nan if c == "." else float(c) for c in text]
                           for item, text in PSYCH_ITEMS.items()})
PSYCH_ANSWERS = long_answers({item: PSYCH_WIDE[item].tolist() for item in PSYCH_WIDE})
R_PSYCH_ALPHA, R_PSYCH_FELDT = 0.7826712723, (0.6716519525, 0.8644114180)  # psych::alpha, $feldt (n = 51)
R_PSYCH_FELDT_N60 = (0.6817154518, 0.8588442466)  # alpha.ci with n = 60: the interval counted before deletion
# polychoric(complete): psych's default (optimize's tolerance, about 1e-4) and psych's own likelihood
# polyF optimised to tol = 1e-12 (the cell probabilities from mnormt::sadmvn, abseps 1e-6).
R_POLYCHORIC_DEFAULT = np.array([
    [1.0, 0.7243695752, 0.6028728193, 0.7007987745, 0.5923425124],
    [0.7243695752, 1.0, 0.4607041203, 0.4080330699, 0.2999253762],
    [0.6028728193, 0.4607041203, 1.0, 0.4160951971, 0.3668716451],
    [0.7007987745, 0.4080330699, 0.4160951971, 1.0, 0.6421230272],
    [0.5923425124, 0.2999253762, 0.3668716451, 0.6421230272, 1.0],
])
R_POLYCHORIC_TIGHT = np.array([
    [1.0, 0.7243870402, 0.6028550090, 0.7007803302, 0.5923501527],
    [0.7243870402, 1.0, 0.4606960379, 0.4080285319, 0.2999282845],
    [0.6028550090, 0.4606960379, 1.0, 0.4161050313, 0.3668834375],
    [0.7007803302, 0.4080285319, 0.4161050313, 1.0, 0.6421218500],
    [0.5923501527, 0.2999282845, 0.3668834375, 0.6421218500, 1.0],
])
# polychoric(d) with the missing answers: pairwise tables, thresholds from all of an item's answers.
R_POLYCHORIC_PAIRWISE = np.array([
    [1.0, 0.7019428605, 0.5815070456, 0.6774062663, 0.6160711044],
    [0.7019428605, 1.0, 0.4940648559, 0.4298723768, 0.3175919703],
    [0.5815070456, 0.4940648559, 1.0, 0.4967376320, 0.3836550841],
    [0.6774062663, 0.4298723768, 0.4967376320, 1.0, 0.6381137846],
    [0.6160711044, 0.3175919703, 0.3836550841, 0.6381137846, 1.0],
])
R_ORDINAL_ALPHA, R_ORDINAL_ALPHA_Q123 = 0.8448995516, 0.815682299  # alpha(polychoric(.)$rho)$total$raw_alpha
R_OMEGA_TOTAL, R_OMEGA_TOTAL_Q123 = 0.7924289118, 0.7483871722  # omega(., nfactors = 1)$omega.tot
R_FA_LOADINGS = [0.8965492951, 0.5801758416, 0.5362548883, 0.6766391898, 0.5725686452]  # fa(., 1, fm = "minres")
R_FA_LOADINGS_Q123 = [0.8747435005, 0.6739011010, 0.5489725337]
R_ALPHA_Q123 = 0.7347026716


def test_alpha_and_its_feldt_interval_count_only_the_respondents_who_rated_every_item():
    result = reliability.cronbach_alpha(PSYCH_ANSWERS)
    assert result["n_respondents"] == 51 == len(PSYCH_WIDE.dropna())
    assert result["alpha"] == pytest.approx(R_PSYCH_ALPHA, abs=1e-9)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(R_PSYCH_FELDT, abs=1e-9)
    # The interval the old library call gave counted all 60 respondents: narrower, and wrong.
    wrong = reliability.feldt_interval(result["alpha"], 60, 5)
    assert (float(wrong[0]), float(wrong[1])) == pytest.approx(R_PSYCH_FELDT_N60, abs=1e-9)
    assert result["ci_high"] - result["ci_low"] > float(wrong[1] - wrong[0])


def test_feldt_interval_of_the_demo_scale_matches_psych_alpha_ci():
    # The demo study's whole scale: alpha 0.8873381049047153 on 410 complete cases of 10 items
    # (755 respondents before deletion). psych::alpha.ci: [0.8703564735, 0.9029215592] with n = 410,
    # [0.8749688243, 0.8989490177] with n = 755 (the interval the issue found reported).
    low, high = reliability.feldt_interval(0.8873381049047153, 410, 10)
    assert (float(low), float(high)) == pytest.approx((0.8703564735, 0.9029215592), abs=1e-9)
    low, high = reliability.feldt_interval(np.array([0.8873381049047153]), np.array([755]), 10)
    assert (float(low[0]), float(high[0])) == pytest.approx((0.8749688243, 0.8989490177), abs=1e-9)


def test_polychoric_correlations_match_psych():
    complete = PSYCH_WIDE.dropna()
    mine = reliability.polychoric_correlation(complete).to_numpy()
    assert mine == pytest.approx(R_POLYCHORIC_TIGHT, abs=1e-6)  # psych's likelihood at its BVN accuracy
    assert mine == pytest.approx(R_POLYCHORIC_DEFAULT, abs=1e-4)  # psych's default optimiser tolerance
    pairwise = reliability.polychoric_correlation(PSYCH_WIDE).to_numpy()
    assert pairwise == pytest.approx(R_POLYCHORIC_PAIRWISE, abs=1e-4)


def test_ordinal_alpha_and_omega_total_match_psych():
    assert reliability.ordinal_alpha(PSYCH_ANSWERS) == pytest.approx(R_ORDINAL_ALPHA, abs=1e-6)
    assert reliability.omega_total(PSYCH_ANSWERS) == pytest.approx(R_OMEGA_TOTAL, abs=1e-6)
    complete = PSYCH_WIDE.dropna()
    assert reliability.one_factor_loadings(complete.corr()).tolist() == pytest.approx(R_FA_LOADINGS, abs=1e-5)
    three = complete[["q1", "q2", "q3"]].corr()
    assert reliability.one_factor_loadings(three).tolist() == pytest.approx(R_FA_LOADINGS_Q123, abs=1e-5)


def test_reliability_table_gives_the_scale_and_each_multi_item_characteristic():
    answers = PSYCH_ANSWERS.assign(characteristic_id=PSYCH_ANSWERS["item_id"].map(
        {"q1": "info", "q2": "info", "q3": "info", "q4": "measurement", "q5": "team"}))
    table = reliability.reliability_table(answers).set_index("scope")
    assert list(table.index) == ["scale", "info"]  # one-item characteristics have no internal consistency
    scale, info = table.loc["scale"], table.loc["info"]
    assert (scale["n_complete"], scale["n_items"]) == (51, 5)
    assert scale[["alpha", "alpha_ci_low", "alpha_ci_high"]].tolist() == pytest.approx(
        [R_PSYCH_ALPHA, *R_PSYCH_FELDT], abs=1e-9)
    assert scale["ordinal_alpha"] == pytest.approx(R_ORDINAL_ALPHA, abs=1e-6)
    assert scale["omega_total"] == pytest.approx(R_OMEGA_TOTAL, abs=1e-6)
    # Each scope on its own complete cases: more people rated all of q1-q3 than all five items.
    assert info["n_complete"] == len(PSYCH_WIDE[["q1", "q2", "q3"]].dropna()) > 51
    assert info["n_items"] == 3
    on_own_cases = long_answers({q: PSYCH_WIDE.loc[PSYCH_WIDE[["q1", "q2", "q3"]].notna().all(axis=1), q].tolist()
                                 for q in ["q1", "q2", "q3"]})
    assert info["alpha"] == pytest.approx(reliability.cronbach_alpha(on_own_cases)["alpha"], abs=1e-12)


def test_three_items_on_the_51_complete_cases_match_psych():
    # R ran q1-q3 on the respondents who rated all five items; psych's optimiser and fa's
    # convergence leave about 1e-6 of their own, hence 1e-5.
    complete = long_answers({q: PSYCH_WIDE.dropna()[q].tolist() for q in ["q1", "q2", "q3"]})
    assert reliability.cronbach_alpha(complete)["alpha"] == pytest.approx(R_ALPHA_Q123, abs=1e-9)
    assert reliability.ordinal_alpha(complete) == pytest.approx(R_ORDINAL_ALPHA_Q123, abs=1e-5)
    assert reliability.omega_total(complete) == pytest.approx(R_OMEGA_TOTAL_Q123, abs=1e-5)


# ---------------------------------------------------------------------------------------
# The bivariate normal distribution function against SciPy's (Genz's algorithm).
def test_bivariate_normal_cdf_matches_scipy_including_zeros_and_infinite_bounds():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(11)
    h, k = rng.normal(0, 1.5, 400), rng.normal(0, 1.5, 400)
    rho = rng.uniform(-0.9999, 0.9999, 400)
    h[:20], k[10:30] = 0.0, 0.0
    mine = reliability.bivariate_normal_cdf(h, k, rho)
    reference = np.array([multivariate_normal.cdf([a, b], cov=[[1, r], [r, 1]], abseps=1e-12, releps=1e-12)
                          for a, b, r in zip(h, k, rho)])
    assert mine == pytest.approx(reference, abs=1e-10)
    from scipy.special import ndtr

    bounds = reliability.bivariate_normal_cdf([np.inf, 0.3, -np.inf, np.inf], [0.3, np.inf, 0.3, np.inf], 0.6)
    assert bounds.tolist() == pytest.approx([ndtr(0.3), ndtr(0.3), 0.0, 1.0])


# ---------------------------------------------------------------------------------------
# Invariants.
def test_polychoric_recovers_a_known_correlation_from_a_large_sample():
    rng = np.random.default_rng(5)
    latent = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=20000)
    levels = 1 + (latent > [-0.5, 0.2]).astype(int) + (latent > [0.7, 1.1]).astype(int)
    r = reliability.polychoric_correlation(pd.DataFrame(levels, columns=["a", "b"])).loc["a", "b"]
    assert r == pytest.approx(0.6, abs=0.03)


def test_tetrachoric_with_median_splits_has_sheppards_closed_form():
    # Two binary items split at their medians (thresholds 0): rho = sin(pi / 2 (P_concordant - P_discordant)),
    # Sheppard's (1899) result; here 4 of 6 concordant gives sin(pi / 6) = 0.5. An unused level changes nothing.
    wide = pd.DataFrame({"a": [1, 2, 2, 1, 2, 1], "b": [1, 2, 2, 2, 1, 1]})
    assert reliability.polychoric_correlation(wide).loc["a", "b"] == pytest.approx(0.5, abs=1e-12)
    assert reliability.polychoric_correlation(wide, levels=[1, 2, 3]).loc["a", "b"] == pytest.approx(0.5, abs=1e-12)
    with pytest.raises(ValueError, match="do not include"):
        reliability.polychoric_correlation(wide, levels=[1, 3])


def test_polychoric_of_a_constant_item_or_a_perfect_table():
    wide = pd.DataFrame({"a": [1, 2, 3, 1, 2, 3], "b": [1, 2, 3, 1, 2, 3], "c": [2.0] * 6})
    result = reliability.polychoric_correlation(wide)
    assert result.loc["a", "b"] > 0.999  # perfect association: the edge of the search
    assert result[["c"]].drop(index="c").isna().all().all() and result.loc["c", "c"] == 1.0
    assert np.isnan(reliability.ordinal_alpha(long_answers(wide.to_dict(orient="list"))))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)), min_size=8, max_size=40))
def test_alpha_is_unchanged_by_row_order_and_its_interval_holds_it(rows):
    columns = {name: [row[i] for row in rows] for i, name in enumerate(["a", "b", "c"])}
    first = reliability.cronbach_alpha(long_answers(columns))
    backwards = reliability.cronbach_alpha(long_answers({k: v[::-1] for k, v in columns.items()}))
    assert first["alpha"] == pytest.approx(backwards["alpha"], nan_ok=True)
    if not np.isnan(first["alpha"]):
        assert first["ci_low"] <= first["alpha"] <= first["ci_high"] <= 1
        assert first["alpha"] <= 1


def test_pairwise_alpha_does_not_count_respondents_who_rated_nothing():
    rated = long_answers(DENIS_ITEMS)
    empty = pd.DataFrame([
        {"respondent_id": f"x{n}", "microsystem_id": "A", "item_id": f"Item_{i + 1}",
         "characteristic_id": f"Item_{i + 1}", "answer": "cant_rate", "level": pd.NA}
        for n in range(20) for i in range(5)
    ]).astype({"level": "Int64"})
    with_empty = reliability.cronbach_alpha(pd.concat([rated, empty]), nan_policy="pairwise")
    alone = reliability.cronbach_alpha(rated, nan_policy="pairwise")
    assert with_empty["n_respondents"] == 10
    assert (with_empty["ci_low"], with_empty["ci_high"]) == (alone["ci_low"], alone["ci_high"])


def test_pairwise_alpha_counts_the_thinnest_pair_for_its_interval():
    pairwise = reliability.cronbach_alpha(PSYCH_ANSWERS, nan_policy="pairwise")
    counts = PSYCH_WIDE.notna().astype(int)
    assert pairwise["n_respondents"] == (counts.T @ counts).to_numpy().min() == 52  # q3 with q5
    assert pairwise["alpha"] == pytest.approx(reliability._alpha_from_covariance(PSYCH_WIDE.cov().to_numpy()))
    with pytest.raises(ValueError, match="nan_policy must be"):
        reliability.cronbach_alpha(PSYCH_ANSWERS, nan_policy="mean")


def test_too_few_respondents_or_items_give_nan_not_warnings(recwarn):
    two = long_answers({"a": [1, 2], "b": [2, 3]})
    result = reliability.cronbach_alpha(two)
    assert np.isnan(result[["alpha", "ci_low", "ci_high"]].astype(float)).all() and result["n_respondents"] == 2
    one_item = long_answers({"a": [1, 2, 3, 2]})
    assert np.isnan(reliability.cronbach_alpha(one_item)["alpha"])
    assert np.isnan(reliability.omega_total(long_answers({"a": [1, 2, 3, 2], "b": [1, 3, 3, 2]})))  # two items
    constant = long_answers({"a": [2, 2, 2, 2], "b": [2, 2, 2, 2], "c": [2, 2, 2, 2]})
    assert np.isnan(reliability.cronbach_alpha(constant)["alpha"])
    statistics = reliability.item_total_statistics(constant)
    assert statistics[["corrected_item_total_r", "alpha_if_deleted"]].isna().all().all()
    assert np.isnan(reliability.omega_total(constant))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
