"""Agreement and reliability against published and independently computed reference values."""

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
R_ALPHA, R_ALPHA_N = 0.703564728, 19
R_ITEM_TOTAL = {
    "item1": (0.5991153837, 0.5099601594),
    "item2": (0.5201828764, 0.6164383562),
    "item3": (0.4526436884, 0.7032967033),
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


def test_alpha_and_item_total_match_r_multilevel():
    alpha = agreement.cronbach_alpha(REFERENCE)
    assert alpha["alpha"] == pytest.approx(R_ALPHA, abs=1e-9)
    assert alpha["n_respondents"] == R_ALPHA_N
    table = agreement.item_total_statistics(REFERENCE).set_index("item_id")
    for item, (r, without) in R_ITEM_TOTAL.items():
        assert table.loc[item, "corrected_item_total_r"] == pytest.approx(r, abs=1e-9)
        assert table.loc[item, "alpha_if_deleted"] == pytest.approx(without, abs=1e-9)


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
# Reference 3: Cronbach's alpha.
# pingouin's documented example (15 respondents x 10 items): alpha 0.5917188485995826, Feldt CI [0.195, 0.840].
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


def wide_to_long(columns: dict[str, list]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return long_answers(["A"] * n, columns)


def test_alpha_matches_pingouins_documented_example():
    result = agreement.cronbach_alpha(wide_to_long(PINGOUIN_ALPHA))
    assert result["alpha"] == pytest.approx(0.5917188485995826, abs=1e-12)
    assert (round(result["ci_low"], 3), round(result["ci_high"], 3)) == (0.195, 0.840)
    assert (result["n_respondents"], result["n_items"]) == (15, 10)


def test_alpha_and_item_total_match_a_textbook_spss_example():
    columns = {f"Item_{i + 1}": [row[i] for row in DENIS] for i in range(5)}
    long = wide_to_long(columns)
    assert round(agreement.cronbach_alpha(long)["alpha"], 3) == 0.633
    table = agreement.item_total_statistics(long).set_index("item_id")
    assert round(table.loc["Item_1", "corrected_item_total_r"], 3) == 0.712


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


def test_characteristic_agreement_uses_rwg_j_for_multi_item_characteristics_and_hides_unshared_means():
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
    shown = views.report_where_shared(own.assign(mean=2.0, ci_low=1.5))
    assert shown.loc[shown["agreement"].ne("shared"), ["mean", "ci_low"]].isna().all().all()
    assert (shown.loc[shown["agreement"].eq("shared"), "mean"] == 2.0).all()
    assert shown["reported"].tolist() == shown["agreement"].eq("shared").tolist()


def test_pairwise_alpha_does_not_count_respondents_who_rated_nothing():
    rated = wide_to_long({f"Item_{i + 1}": [row[i] for row in DENIS] for i in range(5)})
    empty = pd.DataFrame([
        {"respondent_id": f"x{n}", "microsystem_id": "A", "item_id": f"Item_{i + 1}", "answer": "cant_rate",
         "level": pd.NA}
        for n in range(20) for i in range(5)
    ]).astype({"level": "Int64"})
    with_empty = agreement.cronbach_alpha(pd.concat([rated, empty]), nan_policy="pairwise")
    alone = agreement.cronbach_alpha(rated, nan_policy="pairwise")
    assert with_empty["n_respondents"] == 10
    assert (with_empty["ci_low"], with_empty["ci_high"]) == (alone["ci_low"], alone["ci_high"])


def test_icc_by_item_leaves_out_answers_without_a_group():
    answers = pd.DataFrame({"microsystem_id": ["A", "A", "B", "B", None], "item_id": "m", "answer": "level",
                            "level": pd.array([1, 2, 3, 3, 1], dtype="Int64")})
    table = agreement.icc_by_item(answers).set_index("item_id")
    assert table.loc["m", "n"] == 4 and table.loc["m", "n_groups"] == 2
