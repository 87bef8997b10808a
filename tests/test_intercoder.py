"""Inter-coder reliability against published reference values."""

from __future__ import annotations

import warnings
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import intercoder


def expand_pairs(table: list[list[int]]) -> pd.DataFrame:
    """A two-rater contingency table to one row per unit."""
    rows = [(i, j) for i, row in enumerate(table) for j, count in enumerate(row) for _ in range(count)]
    return pd.DataFrame(rows, columns=["rater1", "rater2"])


def test_cohens_kappa_matches_the_sas_example_documented_in_statsmodels():
    # statsmodels' test of cohens_kappa against a SAS printout (PROC FREQ, AGREE):
    # kappa 0.4842, ASE 0.1380, 95% CI 0.2137 to 0.7547.
    result = intercoder.categorical_agreement(expand_pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]]))
    assert result["cohen_kappa"] == pytest.approx(0.4842, abs=5e-5)
    assert result["kappa_ci_low"] == pytest.approx(0.2137, abs=5e-5)
    assert result["kappa_ci_high"] == pytest.approx(0.7547, abs=5e-5)


def test_cohens_kappa_for_a_yes_no_code():
    # The textbook 2x2 example (yes/yes 20, yes/no 5, no/yes 10, no/no 15): observed
    # agreement 0.70, chance agreement 0.50, kappa 0.40.
    result = intercoder.categorical_agreement(expand_pairs([[15, 10], [5, 20]]))
    assert result["percent_agreement"] == pytest.approx(0.70)
    assert result["cohen_kappa"] == pytest.approx(0.40)


FLEISS_1971 = [  # 30 patients, 6 psychiatrists, 5 diagnoses (Fleiss 1971, Psychological Bulletin 76:378)
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]


def test_fleiss_kappa_reproduces_fleiss_1971():
    # Fleiss (1971) reports kappa = .430 for these diagnoses.
    result = intercoder.categorical_agreement(pd.DataFrame(FLEISS_1971))
    assert round(result["fleiss_kappa"], 3) == 0.430


def test_fleiss_kappa_reproduces_the_fourteen_rater_example():
    # The widely reprinted example of 10 subjects rated by 14 raters into 5 categories
    # (counts per subject); kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = pd.DataFrame([[c for c, n in enumerate(row) for _ in range(n)] for row in counts])
    assert round(intercoder.categorical_agreement(ratings)["fleiss_kappa"], 3) == 0.210


NAN = np.nan
KRIPPENDORFF_2011 = [  # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers x 12 units
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
OBSERVERS = pd.DataFrame(KRIPPENDORFF_2011, index=["A", "B", "C", "D"]).T  # units x observers


def test_krippendorffs_alpha_reproduces_his_worked_example_with_missing_data():
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: nominal alpha = 0.743."""
    result = intercoder.categorical_agreement(OBSERVERS)
    assert round(result["krippendorff_alpha"], 3) == 0.743
    assert result["n_units"] == 12


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849),
                                              ("ratio", 0.797)])
def test_krippendorffs_alpha_at_every_level_reproduces_his_worked_example(level, published):
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability": the same reliability data read at
    the nominal, ordinal, interval and ratio levels give 0.743, 0.815, 0.849 and 0.797."""
    result = intercoder.krippendorff_alpha(OBSERVERS, level=level)
    assert round(result["estimate"], 3) == published
    assert result["n_units"] == 11 and result["n_values"] == 40  # unit 12 has one value: not pairable
    assert result["ci_low"] <= result["estimate"] <= result["ci_high"] <= 1
    table = intercoder.rating_agreement(OBSERVERS, level=level).set_index("coefficient")
    assert round(table.loc["Krippendorff's alpha", "estimate"], 3) == published
    assert table.loc["Krippendorff's alpha", "level"] == level


# irrCAC (Gwet's R package) prints coefficients and standard errors of its raw-ratings functions to five
# decimals and intervals to three; its data set cac.raw4raters is Krippendorff's example above (Gwet 2014,
# Handbook of Inter-Rater Reliability, 4th ed., p. 120; one rating of unit 12 sits with another rater, which
# none of these coefficients can tell).
IRRCAC_RAW4RATERS = {  # coefficient: (estimate, se, ci_low, ci_high, chance agreement pe)
    "identity": {"percent agreement": (0.81818, 0.12561, 0.542, 1, 0.0), "ac": (0.77544, 0.14295, 0.461, 1, 0.1903212),
                 "fleiss": (0.76117, 0.15302, 0.424, 1, 0.2387153), "bp": (0.77273, 0.14472, 0.454, 1, 0.2)},
    "quadratic": {"percent agreement": (0.97538, 0.09062, 0.776, 1, 0.0), "ac": (0.91400, 0.10396, 0.685, 1, 0.7137044),
                  "fleiss": (0.86494, 0.14603, 0.544, 1, 0.8177083), "bp": (0.90152, 0.11089, 0.657, 1, 0.75)},
}


@pytest.mark.parametrize("weights", ["identity", "quadratic"])
def test_gwet_coefficients_reproduce_irrcac_on_four_raters_with_missing_ratings(weights):
    """irrCAC 1.0 README and weighting vignette (Gwet): pa.coeff.raw, gwet.ac1.raw, fleiss.kappa.raw and
    bp.coeff.raw on cac.raw4raters, unweighted and with quadratic weights (AC1 0.77544, se 0.14295, (0.461, 1))."""
    table = intercoder.gwet_coefficients(OBSERVERS, weights=weights)
    for name, (estimate, se, low, high, chance) in IRRCAC_RAW4RATERS[weights].items():
        assert table.loc[name, "estimate"] == pytest.approx(estimate, abs=5e-6), name
        assert table.loc[name, "se"] == pytest.approx(se, abs=5e-6), name
        assert table.loc[name, "ci_low"] == pytest.approx(low, abs=5e-4), name
        assert table.loc[name, "ci_high"] == pytest.approx(high, abs=5e-4), name
        assert table.loc[name, "pe"] == pytest.approx(chance, abs=5e-8), name
    assert (table["n_units"] == 12).all()


IRRCAC_SIX_RATERS = {  # irrCAC's distrib.6raters: coefficient, se, interval printed to 7 digits / 3 decimals
    "identity": {"ac": (0.4448007, 0.08418757, 0.264, 0.625), "fleiss": (0.4139265, 0.08119291, 0.24, 0.588),
                 "bp": (0.4388889, 0.08312142, 0.261, 0.617)},
    "quadratic": {"ac": (0.4837438, 0.1058227, 0.257, 0.711), "fleiss": (0.2511909, 0.1457381, -0.061, 0.564),
                  "bp": (0.4177778, 0.1067493, 0.189, 0.647)},
}


@pytest.mark.parametrize("weights", ["identity", "quadratic"])
def test_gwet_coefficients_reproduce_irrcac_on_six_psychiatrists(weights):
    """irrCAC 1.0 README and weighting vignette (Gwet): gwet.ac1.dist, fleiss.kappa.dist and bp.coeff.dist on
    distrib.6raters, which is the first 15 patients of Fleiss (1971) as counts per diagnosis."""
    table = intercoder.gwet_coefficients(pd.DataFrame(FLEISS_1971[:15]), weights=weights)
    for name, (estimate, se, low, high) in IRRCAC_SIX_RATERS[weights].items():
        assert table.loc[name, "estimate"] == pytest.approx(estimate, abs=5e-7), name
        assert table.loc[name, "se"] == pytest.approx(se, abs=5e-7), name
        assert table.loc[name, ["ci_low", "ci_high"]].tolist() == pytest.approx([low, high], abs=5e-4), name


ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]  # irrCAC's cont3x3abstractors: 100 pregnancies, 2 abstractors


def test_cohens_kappa_and_quadratic_weighted_kappa_reproduce_irrcac_two_abstractors():
    """irrCAC 1.0 README and weighting vignette (Gwet): kappa2.table on cont3x3abstractors gives Cohen's kappa
    0.7964094 (se 0.05891072) and, with quadratic weights, 0.8921569 (se 0.03535151): the large-sample variance
    of Fleiss, Cohen & Everitt (1969). Our interval is normal (SAS); irrCAC's uses t(n-1)."""
    pairs = expand_pairs(ABSTRACTORS)
    unweighted = intercoder.cohen_kappa(pairs["rater1"], pairs["rater2"])
    assert unweighted["estimate"] == pytest.approx(0.7964094, abs=5e-8)
    assert unweighted["se"] == pytest.approx(0.05891072, abs=5e-9)
    quadratic = intercoder.cohen_kappa(pairs["rater1"], pairs["rater2"], weights="quadratic")
    assert quadratic["estimate"] == pytest.approx(0.8921569, abs=5e-8)
    assert quadratic["se"] == pytest.approx(0.03535151, abs=5e-9)


@pytest.mark.parametrize("weights, ac, ac_se, bp, bp_se", [
    ("identity", 0.8493305, 0.04321747, 0.835, 0.04693346), ("quadratic", 0.9402369, 0.01792019, 0.9175, 0.02346673)])
def test_two_rater_ac1_and_brennan_prediger_match_irrcac_tables(weights, ac, ac_se, bp, bp_se):
    """irrCAC 1.0 README and weighting vignette (Gwet): gwet.ac1.table and bp2.table on cont3x3abstractors.
    The table functions divide the variance by n, the raw-ratings ones (ours) by n - 1: the standard errors
    differ by the factor sqrt(n / (n - 1)) and nothing else."""
    pairs = expand_pairs(ABSTRACTORS)
    table = intercoder.gwet_coefficients(pairs, weights=weights)
    shrink = np.sqrt(99 / 100)
    assert table.loc["ac", "estimate"] == pytest.approx(ac, abs=5e-8)
    assert table.loc["ac", "se"] * shrink == pytest.approx(ac_se, abs=5e-9)
    assert table.loc["bp", "estimate"] == pytest.approx(bp, abs=5e-8)
    assert table.loc["bp", "se"] * shrink == pytest.approx(bp_se, abs=5e-9)


def test_linear_weighted_kappa_matches_the_sas_example_documented_in_statsmodels():
    """SAS PROC FREQ (AGREE) printout reproduced in statsmodels' tests, Cicchetti-Allison (linear) weights:
    weighted kappa 0.4701, ASE 0.1457, 95% CI 0.1845 to 0.7558."""
    pairs = expand_pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    result = intercoder.cohen_kappa(pairs["rater1"], pairs["rater2"], weights="linear")
    assert result["estimate"] == pytest.approx(0.4701, abs=5e-5)
    assert result["se"] == pytest.approx(0.1457, abs=5e-5)
    assert [result["ci_low"], result["ci_high"]] == pytest.approx([0.1845, 0.7558], abs=5e-5)


ratings_matrix = st.integers(2, 4).flatmap(lambda raters: st.lists(
    st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=raters, max_size=raters), min_size=3, max_size=30))


@given(ratings_matrix, st.sampled_from(intercoder.LEVELS))
@settings(max_examples=150, deadline=None)
def test_alpha_equals_the_krippendorff_package(rows, level):
    """The ``krippendorff`` package (Castro, fast-krippendorff) computes alpha at every level; ours must agree."""
    import krippendorff

    ratings = pd.DataFrame(rows, dtype=float)
    pairable = ratings.notna().sum(axis=1) >= 2
    values = ratings[pairable].stack().dropna()
    if values.nunique() < 2:
        return  # no variation: alpha is undefined for both
    ours = intercoder.krippendorff_alpha(ratings, level=level, resamples=0)["estimate"]
    theirs = krippendorff.alpha(reliability_data=ratings.to_numpy().T, level_of_measurement=level)
    assert ours == pytest.approx(theirs, abs=1e-12)


@given(ratings_matrix, st.sampled_from(intercoder.LEVELS), st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_each_bootstrap_draw_is_alpha_of_the_units_drawn(rows, level, seed):
    """A draw counts how often each distinct unit pattern is taken; its alpha must be the alpha of the data
    with those units repeated (checked against the ``krippendorff`` package, ordinal ranks included)."""
    import krippendorff

    ratings = pd.DataFrame(rows, dtype=float)
    codes, scores = intercoder._category_codes(ratings, [1, 2, 3, 4])
    counts = intercoder._counts_per_unit(codes, 4)
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0:
        return
    patterns, _ = intercoder._distinct_rows(counts)
    draws = np.random.default_rng(seed).integers(0, 3, size=(1, len(patterns)))
    repeated = np.repeat(patterns, draws[0], axis=0)  # units rebuilt from their value counts
    if len(repeated) == 0 or (repeated > 0).any(axis=0).sum() < 2:
        return
    width = int(repeated.sum(axis=1).max())
    rebuilt = np.full((len(repeated), width), np.nan)
    for row, unit in enumerate(repeated):  # the slow, obvious construction the test compares against
        values = np.repeat(scores, unit)
        rebuilt[row, : len(values)] = values
    ours = intercoder._alpha_of_draws(draws.astype(float), patterns, scores, level)[0]
    theirs = krippendorff.alpha(reliability_data=rebuilt.T, level_of_measurement=level, value_domain=scores)
    assert ours == pytest.approx(theirs, abs=1e-9)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=4, max_size=40),
       st.sampled_from(["identity", "linear", "quadratic"]))
@settings(max_examples=150, deadline=None)
def test_cohens_kappa_point_estimate_equals_scikit_learn(pairs, weights):
    """scikit-learn's cohen_kappa_score (weights None, "linear", "quadratic") for the point estimate."""
    from sklearn.metrics import cohen_kappa_score

    first, second = zip(*pairs, strict=True)
    ours = intercoder.cohen_kappa(first, second, weights=weights, categories=[0, 1, 2, 3])["estimate"]
    with warnings.catch_warnings():  # scikit-learn warns where kappa is undefined, and returns NaN
        warnings.simplefilter("ignore")
        scheme = None if weights == "identity" else weights
        theirs = cohen_kappa_score(first, second, labels=[0, 1, 2, 3], weights=scheme)
    if np.isfinite(theirs) and np.isfinite(ours):
        assert ours == pytest.approx(theirs, abs=1e-12)
    else:
        assert len(set(first) | set(second)) == 1  # undefined only when both coders used one category


@given(st.lists(st.lists(st.integers(0, 2), min_size=3, max_size=3), min_size=2, max_size=30))
@settings(max_examples=100, deadline=None)
def test_fleiss_kappa_on_complete_ratings_equals_statsmodels(rows):
    """statsmodels' fleiss_kappa (Fleiss 1971) for complete ratings: Gwet's generalisation reduces to it."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    counts, _ = aggregate_raters(np.array(rows), n_cat=3)
    with np.errstate(divide="ignore", invalid="ignore"):
        theirs = fleiss_kappa(counts)
    ours = intercoder.gwet_coefficients(pd.DataFrame(rows), categories=[0, 1, 2]).loc["fleiss", "estimate"]
    if np.isfinite(theirs):
        assert ours == pytest.approx(theirs, abs=1e-12)
    else:
        assert np.isnan(ours)


def test_bootstrap_interval_is_seeded_and_reports_its_method():
    first = intercoder.krippendorff_alpha(OBSERVERS, level="interval", seed=3)
    again = intercoder.krippendorff_alpha(OBSERVERS, level="interval", seed=3)
    other = intercoder.krippendorff_alpha(OBSERVERS, level="interval", seed=4)
    assert first == again and first["ci_low"] != other["ci_low"]
    assert first["resamples"] == intercoder.RESAMPLES == 1000
    assert first["interval"] == "percentile bootstrap over units, 1000 resamples (seed 3)"


def test_bootstrap_leaves_out_and_counts_draws_without_variation():
    # One unit of ten disagrees; many draws miss it and hold a single value: alpha undefined there.
    ratings = pd.DataFrame({"A": [1] * 9 + [1], "B": [1] * 9 + [2]})
    result = intercoder.krippendorff_alpha(ratings, resamples=200)
    assert 0 < result["undefined_resamples"] < 200
    assert f"{result['undefined_resamples']} resamples without variation left out" in result["interval"]


def test_ac1_stays_defined_for_a_rare_code_where_kappa_collapses():
    # 100 segments; coder A applies a rare code to segment 0, coder B to segment 1: 98% agreement.
    ratings = pd.DataFrame({"A": [True] + [False] * 99, "B": [False, True] + [False] * 98})
    table = intercoder.rating_agreement(ratings, categories=[False, True]).set_index("coefficient")
    assert table.loc["Cohen's kappa", "estimate"] < 0 and table.loc["Krippendorff's alpha", "estimate"] < 0
    assert table.loc["Gwet's AC1", "estimate"] > 0.97
    nobody = intercoder.rating_agreement(pd.DataFrame({"A": [False] * 5, "B": [False] * 5}), categories=[False, True])
    nobody = nobody.set_index("coefficient")["estimate"]
    assert nobody["Gwet's AC1"] == 1 and nobody["Brennan-Prediger"] == 1
    assert np.isnan(nobody["Cohen's kappa"]) and np.isnan(nobody["Krippendorff's alpha"])


def test_rating_agreement_at_the_ordinal_level_weights_each_coefficient_and_names_it():
    table = intercoder.rating_agreement(OBSERVERS, level="ordinal", unit_of_analysis="answers to one item")
    assert set(table["unit_of_analysis"]) == {"answers to one item"}
    kappas = table[table["coders"] == "A, B"]
    assert kappas[["coefficient", "weights", "level"]].values.tolist() == [
        ["Cohen's kappa", "identity", "nominal"], ["Weighted kappa", "linear", "ordinal"],
        ["Weighted kappa", "quadratic", "interval"]]
    assert len(table[table["coefficient"] == "Cohen's kappa"]) == 6  # every pair of four coders
    rest = table[table["coders"] == "A, B, C, D"].set_index("coefficient")
    assert rest.loc["Gwet's AC2", "weights"] == "ordinal" and rest.loc["Krippendorff's alpha", "level"] == "ordinal"
    assert rest["ci_low"].le(rest["estimate"]).all() and rest["ci_high"].ge(rest["estimate"]).all()
    assert list(table.columns) == ["coefficient", "weights", "coders", "level", "estimate", "se", "ci_low", "ci_high",
                                   "interval", "n_units", "unit_of_analysis"]


def test_labels_take_the_order_given_and_unknown_ratings_are_refused():
    ratings = pd.DataFrame({"A": ["low", "mid", "high", "mid"], "B": ["low", "high", "high", None]})
    ordered = intercoder.krippendorff_alpha(ratings, level="interval", categories=["low", "mid", "high"])
    as_numbers = intercoder.krippendorff_alpha(ratings.replace({"low": 1, "mid": 2, "high": 3}), level="interval")
    assert ordered["estimate"] == pytest.approx(as_numbers["estimate"])
    with pytest.raises(ValueError, match="not among the categories"):
        intercoder.krippendorff_alpha(ratings, categories=["low", "mid"])


CODINGS = pd.DataFrame(
    [  # segment, coder, code, start, end in interview I1 of 100 characters
        ("s1", "A", "x", 0, 10), ("s1", "B", "x", 0, 10),
        ("s2", "A", "x", 20, 30), ("s2", "B", "y", 20, 30),
        ("s3", "A", "y", 40, 50), ("s3", "B", "y", 40, 50), ("s3", "B", "x", 40, 50),
        ("s4", "A", "y", 60, 70),  # coded by one coder only: not compared
    ],
    columns=["segment_id", "coder", "code_id", "start", "end"],
).assign(interview_id="I1", microsystem_id="M1", excerpt=lambda t: "text of " + t["segment_id"])
INTERVIEWS = pd.DataFrame({"interview_id": ["I1"], "characters": pd.array([100], dtype="Int64")})


def test_decisions_cover_every_code_on_segments_two_coders_coded():
    table = intercoder.decisions(CODINGS)
    assert sorted(table.index.get_level_values("segment_id").unique()) == ["s1", "s2", "s3"]
    assert table.loc[("s2", "y")].tolist() == [False, True]
    assert table.loc[("s3", "x")].tolist() == [False, True]


def test_reliability_per_code_and_overall():
    table = intercoder.reliability(CODINGS).set_index("code_id")
    assert table.loc["x", "percent_agreement"] == pytest.approx(1 / 3)  # s1 agree, s2 and s3 differ
    assert table.loc["y", "percent_agreement"] == pytest.approx(2 / 3)
    assert table.loc[intercoder.ALL_CODES, "percent_agreement"] == pytest.approx(3 / 6)
    assert table.loc[intercoder.ALL_CODES, "n_segments"] == 3
    assert {"gwet_ac1", "ac1_ci_low", "ac1_ci_high", "brennan_prediger", "alpha_ci_low", "alpha_ci_high"} <= set(table)
    assert "segment" in table.attrs["unit_of_analysis"]


def test_coefficients_give_every_code_a_tidy_row_per_coefficient_with_its_unit():
    table = intercoder.coefficients(CODINGS)
    assert list(pd.unique(table["code_id"])) == ["x", "y", intercoder.ALL_CODES]
    per_code = table[table["code_id"] == "x"].set_index("coefficient")
    assert list(per_code.index) == ["Percent agreement", "Cohen's kappa", "Fleiss' kappa", "Gwet's AC1",
                                    "Brennan-Prediger", "Krippendorff's alpha"]
    assert per_code.loc["Percent agreement", "estimate"] == pytest.approx(1 / 3)
    assert set(per_code["level"]) == {"nominal"} and set(per_code["coders"]) == {"A, B"}
    assert per_code["unit_of_analysis"].iloc[0] == intercoder.SEGMENT_DECISIONS
    pooled = table[table["code_id"] == intercoder.ALL_CODES]
    assert set(pooled["unit_of_analysis"]) == {intercoder.ALL_DECISIONS}
    assert set(pooled["n_units"]) == {6}  # 3 segments x 2 codes
    wide = intercoder.reliability(CODINGS).set_index("code_id")
    assert per_code.loc["Gwet's AC1", "estimate"] == pytest.approx(wide.loc["x", "gwet_ac1"])
    assert per_code.loc["Krippendorff's alpha", "ci_low"] == pytest.approx(wide.loc["x", "alpha_ci_low"])


def test_character_agreement_with_and_without_uncoded_text():
    table = intercoder.character_agreement(CODINGS, INTERVIEWS).set_index("code_id")
    # code x: A marks 0-10 and 20-30, B marks 0-10 and 40-50 -> 30 characters coded by someone, 10 agreed.
    assert table.loc["x", "coded_characters"] == 30
    assert table.loc["x", "agreement_without_uncoded"] == pytest.approx(10 / 30)
    assert table.loc["x", "agreement_with_uncoded"] == pytest.approx((100 - 20) / 100)


def test_disagreement_table_lists_differing_segments_with_each_coders_codes():
    table = intercoder.disagreements(CODINGS).set_index("segment_id")
    assert list(table.index) == ["s2", "s3"]
    assert table.loc["s3", "B"] == "x; y" and table.loc["s3", "A"] == "y"
    assert table.loc["s2", "excerpt"] == "text of s2"


def test_status_says_plainly_when_agreement_cannot_be_computed():
    assert intercoder.reliability_status(CODINGS) is None
    one = CODINGS[CODINGS["coder"] == "A"]
    assert "coded by one person (A)" in intercoder.reliability_status(one)
    assert "nothing to compare" in intercoder.reliability_status(CODINGS.iloc[0:0])


segment = st.tuples(st.sampled_from(["i1", "i2"]), st.sampled_from(["A", "B", "C"]), st.sampled_from(["x", "y"]),
                    st.integers(0, 40), st.integers(1, 15))


@given(st.lists(segment, min_size=1, max_size=25))
@settings(max_examples=100, deadline=None)
def test_character_agreement_equals_counting_character_by_character(segments):
    lengths = {"i1": 45, "i2": 30}
    codings = pd.DataFrame(
        [
            (f"s{n}", interview, coder, code, start, start + width)
            for n, (interview, coder, code, start, width) in enumerate(segments)
        ],
        columns=["segment_id", "interview_id", "coder", "code_id", "start", "end"],
    ).astype({"start": "Int64", "end": "Int64"})
    interviews = pd.DataFrame(
        {"interview_id": list(lengths), "characters": pd.array(list(lengths.values()), dtype="Int64")}
    )
    coders = ["A", "B", "C"]
    table = intercoder.character_agreement(codings, interviews, codes=["x", "y"], coders=coders).set_index("code_id")
    with mock.patch.object(intercoder, "CHARACTERS_AT_ONCE", 16):  # transcripts taken a few at a time: the same result
        in_stretches = intercoder.character_agreement(codings, interviews, codes=["x", "y"], coders=coders)
        pd.testing.assert_frame_equal(in_stretches.set_index("code_id"), table)
    compared = list(dict.fromkeys(codings["interview_id"]))
    for code in ["x", "y"]:
        characters = coded = agreed = 0
        covered = {}  # (interview, coder) -> characters their segments with this code cover
        for _, interview, coder, code_id, start, end in codings.itertuples(index=False):
            if code_id == code:
                covered.setdefault((interview, coder), set()).update(range(start, min(end, lengths[interview])))
        for interview in compared:
            for character in range(lengths[interview]):
                marked = {coder: character in covered.get((interview, coder), ()) for coder in coders}
                characters += 1
                coded += any(marked.values())
                agreed += len(set(marked.values())) == 1
        assert table.loc[code, ["characters", "coded_characters"]].tolist() == [characters, coded]
        assert table.loc[code, "agreement_with_uncoded"] == pytest.approx(agreed / characters)


def test_character_agreement_without_any_positioned_transcript_gives_empty_rows():
    codings = pd.DataFrame({"segment_id": ["s1", "s1"], "interview_id": "i1", "coder": ["A", "B"], "code_id": "x",
                            "start": pd.array([0, 0], dtype="Int64"), "end": pd.array([5, 5], dtype="Int64")})
    interviews = pd.DataFrame({"interview_id": ["i1"], "characters": pd.array([None], dtype="Int64")})
    table = intercoder.character_agreement(codings, interviews, codes=["x"]).set_index("code_id")
    assert table.loc["x", "characters"] == 0 and pd.isna(table.loc["x", "agreement_with_uncoded"])
