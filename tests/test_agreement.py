"""Within-group agreement and between-unit differences (ICCs, random groups) against published and
independently computed reference values. Reliability of scales: tests/test_reliability.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import agreement, views
from workbench.vocabulary import AgreementPolicy, DisclosurePolicy, LevelScale

# ---------------------------------------------------------------------------------------
# Reference 1: R package `multilevel` 2.7-1 (Bliese), run by tests/reference/multilevel_reference.R
# on the small unbalanced data set below; the printed output is pasted here.
GROUPS = ["A"] * 3 + ["B"] * 4 + ["C"] * 6 + ["D"] * 2 + ["E"] * 5
ITEMS = {
    "item1": [3, 3, 2, 2, 1, 2, 2, 3, 3, 3, 2, 3, 3, 1, 3, 2, 2, 3, 2, 1],
    "item2": [3, 2, 2, 1, 1, 2, 1, 3, 2, 3, 3, 3, 2, 2, 2, 2, None, 3, 2, 2],
    "item3": [2, 3, 3, 2, 2, 1, 1, 3, 3, 2, 3, 3, 3, 1, 2, 1, 2, 2, 3, 2],
}
R_RWG_ITEM1 = {"A": 0.500, "B": 0.625, "C": 0.750, "D": 0.000, "E": 0.250}
R_RWG_ITEM2 = {"A": 0.500, "B": 0.625, "C": 0.600, "D": 1.000, "E": 0.625}
R_RWG_J = {"A": 0.75, "B": 0.8076923077, "C": 0.875, "D": 0.0, "E": 0.4411764706}
R_ICC = {
    "item1": (0.2551210428, 0.5780590717),
    "item2": (0.5144586416, 0.8010471204),
    "item3": (0.477124183, 0.7849462366),
}


def long_answers(groups: list[str], items: dict[str, list]) -> pd.DataFrame:
    rows = []
    for item, levels in items.items():
        for position, (group, level) in enumerate(zip(groups, levels)):
            rows.append({"respondent_id": f"r{position:02d}", "microsystem_id": group, "item_id": item,
                         "answer": "level" if level is not None else "cant_rate", "level": level})
    frame = pd.DataFrame(rows)
    frame["level"] = frame["level"].astype("Int64")
    return frame


REFERENCE = long_answers(GROUPS, ITEMS)


@pytest.mark.parametrize(("item", "expected"), [("item1", R_RWG_ITEM1), ("item2", R_RWG_ITEM2)])
def test_rwg_matches_r_multilevel(item, expected):
    table = agreement.rwg(REFERENCE[REFERENCE["item_id"] == item]).set_index("microsystem_id")
    for group, value in expected.items():
        assert table.loc[group, "rwg"] == pytest.approx(value, abs=1e-9), group
    assert table.loc["E", "n_rated"] == (4 if item == "item2" else 5)  # can't rate is not a rating


def test_rwg_j_matches_r_multilevel_with_listwise_deletion():
    table = agreement.rwg_j(REFERENCE, items=["item1", "item2", "item3"]).set_index("microsystem_id")
    for group, value in R_RWG_J.items():
        assert table.loc[group, "rwg_j"] == pytest.approx(value, abs=1e-9), group
    assert table.loc["E", "n_respondents"] == 4


@pytest.mark.parametrize("item", list(R_ICC))
def test_icc1_and_icc2_match_r_multilevel(item):
    answers = REFERENCE[REFERENCE["item_id"] == item].astype({"level": "float64"})
    result = agreement.icc_oneway(answers, group="microsystem_id", value="level")
    assert result["icc1"] == pytest.approx(R_ICC[item][0], abs=1e-9)
    assert result["icc2"] == pytest.approx(R_ICC[item][1], abs=1e-9)


def test_icc_by_item_gives_one_row_per_item():
    table = agreement.icc_by_item(REFERENCE).set_index("item_id")
    assert list(table.index) == ["item1", "item2", "item3"]
    assert table.loc["item2", "n"] == 19
    for item, (icc1, icc2) in R_ICC.items():
        assert table.loc[item, ["icc1", "icc2"]].tolist() == pytest.approx([icc1, icc2], abs=1e-9)


def test_icc_by_item_equals_one_anova_per_item_and_keeps_items_too_thin_for_one():
    rng = np.random.default_rng(7)
    answers = pd.DataFrame({
        "microsystem_id": rng.choice(list("ABCDEFG"), 400),
        "item_id": rng.choice(["m", "c", "s"], 400),
        "answer": "level",
        "level": pd.array(rng.integers(1, 4, 400), dtype="Int64"),
    })
    thin = pd.DataFrame({
        "microsystem_id": ["A", "A", "A"], "item_id": "lonely", "answer": "level",
        "level": pd.array([1, 2, 3], dtype="Int64"),
    })
    for size in ("mean", "adjusted"):
        combined = pd.concat([answers, thin], ignore_index=True)
        table = agreement.icc_by_item(combined, group_size=size).set_index("item_id")
        for item, part in answers.groupby("item_id"):
            one = agreement.icc_oneway(part.astype({"level": "float64"}), group="microsystem_id", value="level",
                                       group_size=size)
            assert table.loc[item].astype(float).tolist() == pytest.approx(one.astype(float).tolist(), rel=1e-12)
        assert table.loc["lonely", ["n", "n_groups"]].tolist() == [3, 1]
        assert table.loc["lonely", ["icc1", "icc2", "F", "p"]].isna().all()


# ---------------------------------------------------------------------------------------
# Reference 2: Shrout & Fleiss (1979), 6 targets rated by 4 judges. With targets as the
# groups, the one-way ICC(1) and ICC(2) are their ICC(1,1) = .17 and ICC(1,k) = .44;
# DescTools::ICC prints 0.166 and 0.443, F = 1.79 on (5, 18) df, p = 0.164769.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_shrout_fleiss_one_way_iccs():
    data = pd.DataFrame([(target, rating) for target, row in enumerate(SHROUT_FLEISS) for rating in row],
                        columns=["target", "rating"])
    result = agreement.icc_oneway(data, group="target", value="rating")
    assert round(result["icc1"], 2) == 0.17 and round(result["icc2"], 2) == 0.44  # the paper's table
    assert result["icc1"] == pytest.approx(0.166, abs=5e-4)  # DescTools, 3 decimals
    assert result["icc2"] == pytest.approx(0.443, abs=5e-4)
    assert result["F"] == pytest.approx(1.79, abs=5e-3)
    assert (result["df_between"], result["df_within"]) == (5, 18)
    assert result["p"] == pytest.approx(0.164769, abs=5e-7)
    balanced = agreement.icc_oneway(data, group="target", value="rating", group_size="adjusted")
    assert balanced["icc1"] == pytest.approx(result["icc1"])  # n0 = N/J when groups are equal


# ---------------------------------------------------------------------------------------
# Reference 2b: ICC intervals and the design effect, by tests/reference/icc_reference.R (output in
# icc_reference.out). Balanced: psych 2.2.9 ICC(lmer = FALSE) on Shrout & Fleiss's data, the
# bounds of ICC1 and ICC1k. Unbalanced: the F-based interval computed by hand in R from aov's mean
# squares, with k = N/J and with k0 (no R package computes it for unequal groups).
R_SF_ICC1_BOUNDS = (-0.1329323249, 0.7225600623)
R_SF_ICC1K_BOUNDS = (-0.8844421552, 0.9124154203)
R_ICC_INTERVALS = {  # item: (k = N/J: lower, upper), (k0: icc1, lower, upper), ICC2 bounds, design effect
    "item1": ((-0.104062301, 0.8299030634), (0.2612011439, -0.1077809538, 0.8343380115),
              (-0.6051777814, 0.9512575612), 1.765363128),
    "item2": ((0.07123991573, 0.9181869993), (0.5221843003, 0.07331473511, 0.9204816836),
              (0.2256924155, 0.9770891204), 2.440484196),
    "item3": ((0.05265133848, 0.907520687), (0.4850498339, 0.05425761597, 0.9101510039),
              (0.1818771308, 0.9751570796), 2.431372549),
}


def test_icc_intervals_match_psych_for_equal_groups():
    data = pd.DataFrame([(target, rating) for target, row in enumerate(SHROUT_FLEISS) for rating in row],
                        columns=["target", "rating"])
    result = agreement.icc_oneway(data, group="target", value="rating")
    assert (result["icc1_low"], result["icc1_high"]) == pytest.approx(R_SF_ICC1_BOUNDS, abs=1e-9)
    assert (result["icc2_low"], result["icc2_high"]) == pytest.approx(R_SF_ICC1K_BOUNDS, abs=1e-9)
    assert result["icc1_low"] < result["icc1"] < result["icc1_high"]
    assert result["design_effect"] == pytest.approx(1 + 3 * result["icc1"])  # four ratings per target


@pytest.mark.parametrize("item", list(R_ICC_INTERVALS))
def test_icc_intervals_and_design_effect_for_unequal_groups_match_a_hand_computation_in_r(item):
    (low, high), (icc1_k0, low_k0, high_k0), icc2_bounds, design_effect = R_ICC_INTERVALS[item]
    answers = REFERENCE[REFERENCE["item_id"] == item].astype({"level": "float64"})
    result = agreement.icc_oneway(answers, group="microsystem_id", value="level")
    assert (result["icc1_low"], result["icc1_high"]) == pytest.approx((low, high), abs=1e-9)
    assert (result["icc2_low"], result["icc2_high"]) == pytest.approx(icc2_bounds, abs=1e-9)
    assert result["design_effect"] == pytest.approx(design_effect, abs=1e-9)
    adjusted = agreement.icc_oneway(answers, group="microsystem_id", value="level", group_size="adjusted")
    assert adjusted[["icc1", "icc1_low", "icc1_high"]].tolist() == pytest.approx([icc1_k0, low_k0, high_k0], abs=1e-9)
    assert adjusted["design_effect"] == pytest.approx(1 + (result["n"] / 5 - 1) * adjusted["icc1"])  # mean size
    by_item = agreement.icc_by_item(REFERENCE).set_index("item_id").loc[item]
    assert by_item[["icc1_low", "icc1_high", "design_effect"]].tolist() == pytest.approx(
        [low, high, design_effect], abs=1e-9)


def test_icc_intervals_widen_with_confidence_and_are_one_when_groups_never_vary_inside():
    data = pd.DataFrame([(target, rating) for target, row in enumerate(SHROUT_FLEISS) for rating in row],
                        columns=["target", "rating"])
    narrow = agreement.icc_oneway(data, group="target", value="rating", confidence=0.8)
    wide = agreement.icc_oneway(data, group="target", value="rating", confidence=0.99)
    assert wide["icc1_low"] < narrow["icc1_low"] < narrow["icc1_high"] < wide["icc1_high"]
    pure = agreement.icc_oneway(pd.DataFrame({"g": list("AABB"), "v": [1.0, 1.0, 3.0, 3.0]}), group="g", value="v")
    assert pure[["icc1", "icc1_low", "icc1_high", "icc2", "icc2_low", "icc2_high"]].tolist() == [1.0] * 6


# ---------------------------------------------------------------------------------------
# Reference 2c: random-group resampling. multilevel 2.7 graph.ran.mean(nreps = 20000, bootci = TRUE)
# on item1 and item3 of the five groups (tests/reference/icc_reference.R). R's and numpy's random
# streams differ, so the pseudo-group means agree within Monte Carlo error: a rank's pseudo-mean
# has a standard deviation below 0.5 over replicates, so two runs of 20000 differ by less than
# 3 x sqrt(2) x 0.5 / sqrt(20000) = 0.015 (three standard errors). The bands (2.5% and 97.5%
# quantiles, type 7 in both) fall on the few values a mean of 2-6 answers can take, and agree.
R_RANDOM_GROUPS = {  # item: group order, actual means, pseudo-means, band low, band high
    "item1": ("BDEAC", [1.75, 2.0, 2.0, 2.666666667, 2.833333333],
              [1.824705000, 2.103708333, 2.320872500, 2.504137500, 2.744256667],
              [1.333333333, 1.8, 2.0, 2.333333333, 2.5], [2.166666667, 2.333333333, 2.5, 2.75, 3.0]),
    "item3": ("BDEAC", [1.5, 1.5, 2.0, 2.666666667, 2.833333333],
              [1.709464167, 1.998225833, 2.204514167, 2.415078333, 2.672537500],
              [1.0, 1.666666667, 2.0, 2.2, 2.333333333], [2.0, 2.25, 2.5, 2.666666667, 3.0]),
}


@pytest.mark.parametrize("item", list(R_RANDOM_GROUPS))
def test_random_groups_match_multilevel_graph_ran_mean_within_monte_carlo_error(item):
    order, means, pseudo, low, high = R_RANDOM_GROUPS[item]
    answers = REFERENCE[REFERENCE["item_id"] == item]
    table = agreement.random_groups(answers, group="microsystem_id", value="level", replicates=20000, seed=15)
    assert "".join(table["group"]) == order  # ties keep the groups' order, as R's sort does
    assert table["mean"].tolist() == pytest.approx(means, abs=1e-9)
    assert table["pseudo_mean"].tolist() == pytest.approx(pseudo, abs=0.015)
    assert table["pseudo_low"].tolist() == pytest.approx(low, abs=1e-9)
    assert table["pseudo_high"].tolist() == pytest.approx(high, abs=1e-9)
    assert table["n"].sum() == answers["level"].notna().sum()


def test_random_groups_properties():
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(12), 8)
    effect = rng.normal(0, 0.8, 12)
    data = pd.DataFrame({"unit": units, "score": 2 + effect[units] + rng.normal(0, 0.5, len(units))})
    table = agreement.random_groups(data, group="unit", value="score", replicates=500, seed=1)
    # Equal groups: every replicate's pseudo-means average to the grand mean, and so do their rank means.
    assert table["pseudo_mean"].mean() == pytest.approx(data["score"].mean(), abs=1e-12)
    assert table.attrs["grand_mean"] == pytest.approx(data["score"].mean())
    assert table["mean"].is_monotonic_increasing and table["pseudo_mean"].is_monotonic_increasing
    assert (table["pseudo_low"] <= table["pseudo_mean"]).all() and (table["pseudo_mean"] <= table["pseudo_high"]).all()
    # Units that really differ (ICC(1) > 0) spread beyond the chance band at both ends.
    assert agreement.icc_oneway(data, group="unit", value="score")["icc1"] > 0.3
    assert table["mean"].iloc[0] < table["pseudo_low"].iloc[0]
    assert table["mean"].iloc[-1] > table["pseudo_high"].iloc[-1]
    assert table["mean"].std() > table["pseudo_mean"].std()
    # Seeded: the same seed, the same table; chunking the replicates changes nothing but memory.
    again = agreement.random_groups(data, group="unit", value="score", replicates=500, seed=1)
    pd.testing.assert_frame_equal(table, again)
    # People allocated at random: the actual means stay within the band at most ranks.
    shuffled = data.assign(score=rng.permutation(data["score"].to_numpy()))
    chance = agreement.random_groups(shuffled, group="unit", value="score", replicates=500, seed=2)
    inside = chance["mean"].between(chance["pseudo_low"], chance["pseudo_high"])
    assert inside.mean() >= 0.75


def test_random_groups_plot_draws_the_band_the_pseudo_means_and_the_actual_means():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workbench import plotting

    answers = REFERENCE[REFERENCE["item_id"] == "item1"]
    table = agreement.random_groups(answers, group="microsystem_id", value="level", replicates=200)
    figure, ax = plt.subplots()
    try:
        assert plotting.random_groups_plot(table, ax=ax) is ax
        assert ax.lines[0].get_ydata().tolist() == pytest.approx(table["pseudo_mean"].tolist())
        assert ax.collections[1].get_offsets()[:, 1].tolist() == pytest.approx(table["mean"].tolist())
        assert ax.get_ylim()[0] < 1 and ax.get_ylim()[1] > 3  # the whole scale, ends included
    finally:
        plt.close(figure)


def test_random_groups_leave_out_missing_values_and_refuse_no_replicates():
    data = pd.DataFrame({"unit": ["A", "A", "B", "B", None, "C"], "score": [1.0, 2.0, 3.0, np.nan, 2.0, 2.0]})
    table = agreement.random_groups(data, group="unit", value="score", replicates=50)
    assert table.set_index("group")["n"].to_dict() == {"A": 2, "C": 1, "B": 1}
    with pytest.raises(ValueError, match="replicates must be at least 1"):
        agreement.random_groups(data, group="unit", value="score", replicates=0)


# ---------------------------------------------------------------------------------------
# Invariants.
@settings(max_examples=50, deadline=None)
@given(st.integers(2, 12), st.sampled_from([1, 2, 3]), st.integers(3, 5))
def test_rwg_is_one_when_everyone_agrees(size, level, n_levels):
    answers = long_answers(["A"] * size, {"m": [level] * size, "n": [level] * size})
    assert agreement.rwg(answers, n_levels=n_levels)["rwg"].eq(1.0).all()
    assert agreement.rwg_j(answers, n_levels=n_levels)["rwg_j"].iloc[0] == 1.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ABCD"), st.integers(1, 3)), min_size=6, max_size=60),
    st.permutations(list("ABCD")),
)
def test_relabelling_groups_and_reordering_rows_change_nothing_and_bounds_hold(rows, relabel):
    groups, levels = zip(*rows)
    answers = long_answers(list(groups), {"m": list(levels)})
    rename = dict(zip("ABCD", relabel))
    moved = answers.assign(microsystem_id=answers["microsystem_id"].map(rename)).iloc[::-1]
    first = agreement.rwg(answers).set_index("microsystem_id").sort_index()
    back = {v: k for k, v in rename.items()}
    second = agreement.rwg(moved).assign(microsystem_id=lambda t: t["microsystem_id"].map(back))
    second = second.set_index("microsystem_id").sort_index()
    pd.testing.assert_frame_equal(first, second[first.columns])
    assert first["rwg"].dropna().between(0, 1).all()
    if answers["microsystem_id"].nunique() >= 2 and len(answers) > answers["microsystem_id"].nunique():
        a = agreement.icc_oneway(answers.astype({"level": "float64"}), group="microsystem_id", value="level")
        b = agreement.icc_oneway(moved.astype({"level": "float64"}), group="microsystem_id", value="level")
        assert a["icc1"] == pytest.approx(b["icc1"], nan_ok=True) and a["icc2"] == pytest.approx(b["icc2"], nan_ok=True)
        assert a["eta_squared"] == pytest.approx(b["eta_squared"], nan_ok=True)
        assert np.isnan(a["eta_squared"]) or 0 <= a["eta_squared"] <= 1
        assert np.isnan(a["icc1"]) or a["icc1"] <= 1


def test_icc1_is_near_zero_when_people_are_allocated_at_random():
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"group": rng.integers(0, 40, 4000), "value": rng.integers(1, 4, 4000).astype(float)})
    result = agreement.icc_oneway(data, group="group", value="value")
    assert abs(result["icc1"]) < 0.02
    adjusted = agreement.icc_oneway(data, group="group", value="value", group_size="adjusted")
    assert abs(adjusted["icc1"]) < 0.02


def test_agreement_flags_and_argument_errors():
    table = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "n_rated": [10, 10, 2], "rwg": [0.8, 0.5, 1.0]})
    flags = agreement.agreement_flags(table, policy=AgreementPolicy(), disclosure=DisclosurePolicy(min_cell_size=3))
    assert flags["agreement"].tolist() == ["shared", "not shared", "too few"]
    with pytest.raises(ValueError, match="threshold"):
        AgreementPolicy(threshold=7)
    with pytest.raises(ValueError, match="n_levels must be at least 2, got 1"):
        agreement.uniform_null_variance(1)
    with pytest.raises(ValueError, match="at least two groups"):
        agreement.icc_oneway(pd.DataFrame({"g": ["A", "A"], "v": [1.0, 2.0]}), group="g", value="v")


def test_characteristic_agreement_uses_rwg_j_and_unshared_means_are_flagged_or_hidden_as_the_study_says():
    characteristic_of = {"item1": "info", "item2": "info", "item3": "measurement"}
    answers = REFERENCE.assign(characteristic_id=REFERENCE["item_id"].map(characteristic_of))
    table = agreement.characteristic_agreement(answers, scale=LevelScale.from_values([1, 2, 3]),
                                               policy=AgreementPolicy(threshold=0.7),
                                               disclosure=DisclosurePolicy(min_cell_size=3))
    table = table.set_index(["microsystem_id", "characteristic_id"])
    assert table.loc[("A", "info"), "index"] == "rwg(j)"
    # rwg(j) over two items: group A item variances 1/3 and 1/3 -> 2(1-.5)/(2(1-.5)+.5) = 2/3
    assert table.loc[("A", "info"), "agreement_index"] == pytest.approx(2 / 3)
    assert table.loc[("A", "measurement"), "index"] == "rwg"
    assert table.loc[("D", "info"), "agreement"] == "too few"
    own = table.reset_index()
    flagged = views.report_where_shared(own.assign(mean=2.0, ci_low=1.5))
    assert (flagged["mean"] == 2.0).all() and flagged["reported"].all()
    assert flagged["shared"].tolist() == flagged["agreement"].eq("shared").tolist()
    assert not flagged["shared"].all()
    hidden = views.report_where_shared(own.assign(mean=2.0, ci_low=1.5), unshared="hide")
    assert hidden.loc[hidden["agreement"].ne("shared"), ["mean", "ci_low"]].isna().all().all()
    assert (hidden.loc[hidden["agreement"].eq("shared"), "mean"] == 2.0).all()
    assert hidden["reported"].tolist() == hidden["agreement"].eq("shared").tolist()
    with pytest.raises(ValueError, match="'flag' or 'hide'"):
        views.report_where_shared(own.assign(mean=2.0), unshared="censor")


def test_icc_by_item_leaves_out_answers_without_a_group():
    answers = pd.DataFrame({"microsystem_id": ["A", "A", "B", "B", None], "item_id": "m", "answer": "level",
                            "level": pd.array([1, 2, 3, 3, 1], dtype="Int64")})
    table = agreement.icc_by_item(answers).set_index("item_id")
    assert table.loc["m", "n"] == 4 and table.loc["m", "n_groups"] == 2
