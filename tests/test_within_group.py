"""Within-group agreement against named references: the null variances of LeBreton & Senter
(2008, Table 2); R package ``multilevel`` 2.7 (rwg, rwg.j, rwg.j.lindell with each null as
``ranvar``, awg, ad.m, rwg.sim and rwg.j.sim), run by tests/reference/within_group_reference.R
on a 3-level and a 5-level data set, its printed output stored beside it
(within_group_reference.out, read here: the tests need no R); and exact null distributions by
enumeration, for the simulated significance."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from functools import cache
from itertools import combinations_with_replacement
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import agreement
from workbench.vocabulary import AgreementPolicy, DisclosurePolicy, LevelScale

REFERENCE_OUTPUT = Path(__file__).parent / "reference" / "within_group_reference.out"
NULLS = ("uniform", "slight_skew", "moderate_skew", "heavy_skew", "triangular")
THREE, FIVE = LevelScale.from_values([1, 2, 3]), LevelScale.from_values([1, 2, 3, 4, 5])
ITEMS = ["item1", "item2", "item3"]

# The data sets of within_group_reference.R (the 3-level one is multilevel_reference.R's).
DATA = {
    "three": ([*"AAA", *"BBBB", *"CCCCCC", *"DD", *"EEEEE"], {
        "item1": [3, 3, 2, 2, 1, 2, 2, 3, 3, 3, 2, 3, 3, 1, 3, 2, 2, 3, 2, 1],
        "item2": [3, 2, 2, 1, 1, 2, 1, 3, 2, 3, 3, 3, 2, 2, 2, 2, None, 3, 2, 2],
        "item3": [2, 3, 3, 2, 2, 1, 1, 3, 3, 2, 3, 3, 3, 1, 2, 1, 2, 2, 3, 2],
    }),
    "five": ([*"AAAA", *"BBBBB", *"CCCCCC", *"DDDDDDD", *"EEE", *"FFFFFFFF"], {
        "item1": [5, 5, 5, 4, 1, 2, 4, 5, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 4, 3, 2, 3, 4, 5, 4, 1, 2, 2, 3, 1, 5, 4, 2],
        "item2": [5, 4, 5, 5, 2, 1, 5, 4, 3, 3, 4, 3, 3, 2, 3, 3, 3, 2, 4, None, 2, 3, 5, 5, 4, 2, 2, 1, 3, 2, 4, 5,
                  1],
        "item3": [4, 5, 5, 5, 1, 1, 5, 5, 2, 3, 3, 4, 3, 3, 3, 2, 2, 3, 3, 3, 2, 4, 4, 4, 5, 3, 1, 2, 2, 4, 5, 1, 2],
    }),
}
SCALES = {"three": THREE, "five": FIVE}


def long_answers(groups: list[str], items: dict[str, list]) -> pd.DataFrame:
    rows = [{"respondent_id": f"r{position:02d}", "microsystem_id": group, "item_id": item,
             "answer": "level" if level is not None else "cant_rate", "level": level}
            for item, levels in items.items() for position, (group, level) in enumerate(zip(groups, levels))]
    return pd.DataFrame(rows).astype({"level": "Int64"})


ANSWERS = {name: long_answers(*data) for name, data in DATA.items()}


@cache
def r_output() -> dict:
    """within_group_reference.out as {(data set, section, statistic, item): {group: value}},
    with the null variances under ("null variances", levels, null) and the simulations under
    ("sim", levels, items, size): (rwg.95, {value: share of draws at or above it})."""
    found, section = {}, ()
    lines = REFERENCE_OUTPUT.read_text().splitlines()
    for number, line in enumerate(lines):
        words = line.split()
        if line.startswith("== null variances"):
            section = ("null variances",)
        elif line.startswith("== rwg"):
            levels, size = int(words[words.index("nresp") + 1]), int(words[words.index("gsize") + 1])
            n_items = int(words[words.index("nitems") + 1]) if "nitems" in words else 1
            critical = line.split("rwg.95")[1].split()
            tail = {}
            for pair in lines[number + 1].split()[1:]:
                value, share = pair.split(":")
                tail[round(float(value), 9)] = float(share)
            found[("sim", levels, n_items, size)] = (float(critical[0]) if critical else np.nan, tail)
            section = ("sim",)
        elif line.startswith("=="):
            section = (words[1], words[2] if words[2] != "ad.m" else f"ad.m {words[3]}")
        elif section == ("null variances",):
            found[("null variances", int(words[0]), words[1])] = float(words[2])
        elif section and section[0] in DATA:
            statistic, rest = words[0], words[1:]
            item = rest.pop(0) if rest[0].startswith("item") else None
            found[(*section, statistic, item)] = {g: float("nan") if v in ("NA", "NaN") else float(v)
                                                  for g, v in zip(rest[::2], rest[1::2])}
    return found


def assert_groups(table: pd.DataFrame, column: str, expected: dict, *, tolerance=1e-9):
    mine = table.set_index("microsystem_id")[column]
    for group, value in expected.items():
        assert mine[group] == pytest.approx(value, abs=tolerance, nan_ok=True), (group, mine[group], value)


# --- null distributions ----------------------------------------------------------------------
# LeBreton & Senter (2008), Table 2: expected error variances of the uniform, slightly,
# moderately and heavily skewed and triangular nulls for 5- and 7-point items (the same values
# stand in LeBreton's R package WGA, github.com/james-lebreton/WGA, R/RWG.R).
LEBRETON_SENTER = {5: (2.00, 1.34, 0.90, 0.44, 1.32), 7: (4.00, 2.90, 2.14, 1.39, 2.10)}


@pytest.mark.parametrize("levels", sorted(LEBRETON_SENTER))
@pytest.mark.parametrize("position", range(len(NULLS)))
def test_null_variances_reproduce_lebreton_and_senter_table_2(levels, position):
    scale = LevelScale.from_values(range(1, levels + 1))
    variance = AgreementPolicy(null=NULLS[position]).null_variance(scale)
    assert variance == pytest.approx(LEBRETON_SENTER[levels][position], abs=0.005)  # the table's precision
    assert variance == pytest.approx(r_output()[("null variances", levels, NULLS[position])], abs=1e-9)


@pytest.mark.parametrize("null", NULLS[1:])
def test_three_level_nulls_are_distributions_keeping_the_published_share_of_the_uniform_variance(null):
    """The 3-level nulls are ours (the table stops at 5 levels): each keeps the share of the uniform
    variance that the published 5- and 7-level nulls of its kind keep."""
    policy = AgreementPolicy(null=null)
    for levels, percent in policy.NULL_PERCENT[null].items():
        assert len(percent) == levels and sum(percent) == 100 and min(percent) >= 0
    probabilities = policy.null_probabilities(THREE)
    assert sum(probabilities) == 1
    shares = [AgreementPolicy(null=null).null_variance(LevelScale.from_values(range(1, a + 1))) / ((a * a - 1) / 12)
              for a in (5, 7)]
    share = policy.null_variance(THREE) / (2 / 3)
    assert min(shares) - 0.03 <= share <= max(shares) + 0.03, (share, shares)
    assert policy.null_variance(THREE) == pytest.approx(r_output()[("null variances", 3, null)], abs=1e-12)


def test_the_uniform_null_is_the_closed_form_and_other_levels_have_only_it():
    for levels in range(2, 12):
        scale = LevelScale.from_values(range(1, levels + 1))
        assert AgreementPolicy().null_variance(scale) == (levels**2 - 1) / 12 == agreement.uniform_null_variance(levels)
    with pytest.raises(ValueError, match=r"a slightly skewed null is defined for 3, 5 and 7 levels, not 4; choose "
                                         r"null_distribution: uniform or give the study's own null_variance"):
        AgreementPolicy(null="slight_skew").null_variance(LevelScale.from_values([1, 2, 3, 4]))


def test_a_custom_null_variance_is_used_as_given_and_checked_against_the_scale():
    policy = AgreementPolicy(null_variance=0.5)
    assert policy.null_variance(THREE) == 0.5 and policy.null_name == "custom"
    assert policy.describe() == "rwg / rwg(j) against a custom null (variance 0.5), shared at 0.70 or above"
    assert AgreementPolicy(**policy.model_dump()) == policy  # model_dump gives back the settings' keys
    with pytest.raises(ValueError, match=r"null_variance 1.5 is more than any answers on levels 1-3 can vary"):
        AgreementPolicy(null_variance=1.5).null_variance(THREE)
    with pytest.raises(ValueError, match=r"give either null_distribution \('triangular'\) or null_variance \(0.5\), "
                                         r"not both"):
        AgreementPolicy(null="triangular", null_variance=0.5)
    with pytest.raises(ValueError, match="names no distribution"):
        policy.null_probabilities(THREE)


def test_the_policy_describes_itself_and_defaults_to_todays_rule():
    assert AgreementPolicy().describe() == "rwg / rwg(j) against a uniform null, shared at 0.70 or above"
    assert (AgreementPolicy(index="rwg_star", null="moderate_skew", threshold=0.6).describe()
            == "rwg / r*wg(j) against a moderately skewed null, shared at 0.60 or above")
    default = AgreementPolicy()
    assert (default.index, default.null, default.custom_variance, default.threshold) == ("rwg", "uniform", None, 0.7)
    assert [AgreementPolicy(index=i).index_label(n) for i in ("rwg", "rwg_star") for n in (1, 3)] == [
        "rwg", "rwg(j)", "rwg", "r*wg(j)"]


# --- rwg, rwg(j), r*wg(j), awg, AD against R multilevel ---------------------------------------
@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("null", NULLS)
def test_rwg_rwg_j_and_lindells_rwg_star_match_r_multilevel_for_each_null(data, null):
    """multilevel::rwg, rwg.j and rwg.j.lindell with ranvar = the null's variance."""
    answers, scale, reference = ANSWERS[data], SCALES[data], r_output()
    variance = AgreementPolicy(null=null).null_variance(scale)
    for item in ITEMS:
        table = agreement.rwg(answers[answers["item_id"] == item], null_variance=variance)
        assert_groups(table, "rwg", reference[(data, null, "rwg", item)])
    table = agreement.rwg_j(answers, items=ITEMS, null_variance=variance)
    assert_groups(table, "rwg_j", reference[(data, null, "rwg.j", None)])
    assert_groups(table, "rwg_star_j", reference[(data, null, "rwg.j.lindell", None)])
    assert (table["rwg_star_j"] <= table["rwg_j"] + 1e-12).all()  # no Spearman-Brown step, no truncation


@pytest.mark.parametrize("data", list(DATA))
def test_awg_matches_r_multilevel(data):
    """multilevel::awg with range = the scale's ends: per item, and the mean over items (listwise)."""
    answers, scale, reference = ANSWERS[data], SCALES[data], r_output()
    for item in ITEMS:
        assert_groups(agreement.awg(answers, scale=scale, items=[item]), "awg", reference[(data, "awg", "awg", item)])
    assert_groups(agreement.awg(answers, scale=scale), "awg", reference[(data, "awg", "awg.j", None)])


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("center", ["mean", "median"])
def test_average_deviation_matches_r_multilevel(data, center):
    """multilevel::ad.m with type = "mean" (AD(M)) and "median" (AD(Md))."""
    answers, reference = ANSWERS[data], r_output()
    section = f"ad.m {center}"
    for item in ITEMS:
        table = agreement.average_deviation(answers, items=[item], center=center)
        assert_groups(table, "ad", reference[(data, section, "ad.m", item)])
    assert_groups(agreement.average_deviation(answers, center=center), "ad", reference[(data, section, "ad.m.j", None)])
    with pytest.raises(ValueError, match="center must be 'mean' or 'median'"):
        agreement.average_deviation(answers, center="mode")


# --- significance against a simulated null ----------------------------------------------------
def exact_spreads(size: int, probabilities, n_items: int = 1) -> dict[int, float]:
    """The exact null distribution of the spread n * sum(x^2) - (sum x)^2 (summed over independent
    items), by enumerating every multiset of answers: the reference the simulation estimates."""
    one: Counter = Counter()
    levels = range(1, len(probabilities) + 1)
    for answers in combinations_with_replacement(levels, size):
        counts = Counter(answers)
        probability = factorial(size)
        for level, count in counts.items():
            probability *= probabilities[level - 1] ** count / factorial(count)
        one[size * sum(a * a for a in answers) - sum(answers) ** 2] += probability
    total = Counter({0: 1.0})
    for _ in range(n_items):  # independent items: convolve
        following: Counter = Counter()
        for a, pa in total.items():
            for b, pb in one.items():
                following[a + b] += pa * pb
        total = following
    return dict(total)


def exact_tail(distribution: dict[int, float], size: int, n_items: int, null: float) -> dict[float, float]:
    """P(rwg(j) >= value) for every value random answering can give."""
    spreads = np.array(sorted(distribution))
    cumulative = np.cumsum([distribution[s] for s in spreads])
    values = agreement._rwg_from_variance(spreads / (n_items * size * (size - 1)), null, n_items)
    tail: dict[float, float] = {}
    for value, share in zip(values, cumulative):
        tail[round(float(value), 9)] = max(tail.get(round(float(value), 9), 0.0), float(share))
    return tail


def critical_from_tail(tail: dict[float, float]) -> float:
    rare = [value for value, share in tail.items() if share <= 0.05]
    return min(rare) if rare else np.nan


SIMULATIONS = [(3, 1, 3), (3, 1, 5), (3, 1, 10), (3, 1, 20), (5, 1, 5), (5, 1, 10), (3, 3, 5), (3, 3, 10)]
SE = np.sqrt(0.05 * 0.95 / agreement.N_DRAWS)  # Monte-Carlo error of a share near 0.05 from 10,000 draws


@pytest.mark.parametrize(("levels", "n_items", "size"), SIMULATIONS)
def test_simulated_null_matches_r_rwg_sim_and_the_exact_distribution(levels, n_items, size):
    """multilevel::rwg.sim / rwg.j.sim (uniform null, 10,000 draws; Dunlap, Burke & Smith-Crowe 2003)
    and the exact distribution: shares of random groups at or above each value agree within
    simulation error, and so do the critical values (rwg.95)."""
    scale = LevelScale.from_values(range(1, levels + 1))
    r_critical, r_tail = r_output()[("sim", levels, n_items, size)]
    exact = exact_tail(exact_spreads(size, [1 / levels] * levels, n_items), size, n_items, (levels**2 - 1) / 12)
    # Every value above 0 random answering can give, as p for a group of that value (the mean
    # variance back from rwg(j); at 0, truncation makes every larger variance the same value).
    null = (levels**2 - 1) / 12
    values = np.array(sorted(v for v in exact if v > 0))
    ratio = n_items * (1 - values) / (n_items * (1 - values) + values)  # rwg(j) -> s^2 / null
    mine = agreement.rwg_significance(np.full(len(values), size), ratio * null, n_items=n_items, scale=scale)
    for value, p in zip(values, mine["p"]):
        truth = exact[value]
        assert abs(p - truth) <= 4.5 * np.sqrt(max(truth * (1 - truth), 1e-4) / agreement.N_DRAWS), (value, p, truth)
        if value in r_tail:  # R: both are simulations
            share = r_tail[value]
            assert abs(share - truth) <= 4.5 * np.sqrt(max(truth * (1 - truth), 1e-4) / 10_000), (value, share, truth)
    critical = agreement.rwg_critical_values([size], n_items=n_items, scale=scale)["rwg_critical"].iloc[0]
    exact_critical = critical_from_tail(exact)
    for simulated in (critical, r_critical):
        if np.isnan(exact_critical):
            assert np.isnan(simulated)
        elif not simulated == pytest.approx(exact_critical, abs=1e-9):
            # Only a neighbour of the exact critical value, whose share lies within simulation error of 0.05.
            assert abs(exact[round(float(simulated), 9)] - 0.05) <= 3 * SE
    assert (critical == pytest.approx(r_critical, abs=1e-9, nan_ok=True)
            or abs(exact[round(float(critical), 9)] - 0.05) <= 3 * SE)


@pytest.mark.parametrize(("scale", "null", "size", "n_items"), [
    (THREE, "slight_skew", 6, 1), (THREE, "heavy_skew", 8, 1), (THREE, "triangular", 5, 3),
    (FIVE, "moderate_skew", 6, 1), (FIVE, "triangular", 4, 2),
])
def test_simulated_skewed_nulls_match_their_exact_distribution(scale, null, size, n_items):
    """No R function simulates a skewed null: the exact distribution is the reference."""
    policy = AgreementPolicy(null=null)
    probabilities = [float(p) for p in policy.null_probabilities(scale)]
    distribution = exact_spreads(size, probabilities, n_items)
    spreads = np.array(sorted(distribution))
    truth = np.cumsum([distribution[s] for s in spreads])
    mine = agreement.rwg_significance(np.full(len(spreads), size), spreads / (n_items * size * (size - 1)),
                                      n_items=n_items, scale=scale, policy=policy)
    error = np.sqrt(np.maximum(truth * (1 - truth), 1e-4) / agreement.N_DRAWS)
    assert (np.abs(mine["p"].to_numpy() - truth) <= 4.5 * error).all()


def test_significance_is_seeded_per_group_size_and_undefined_where_it_cannot_be_had():
    first = agreement.rwg_significance([4, 6, 6, 1], [0.0, 0.2, 0.0, 0.0], scale=THREE)
    alone = agreement.rwg_significance([6], [0.2], scale=THREE)
    assert first["p"].iloc[1] == alone["p"].iloc[0]  # the same whichever other sizes a study has
    assert first["p"].iloc[0] == agreement.rwg_significance([4], [0.0], scale=THREE)["p"].iloc[0]
    assert np.isnan(first["p"].iloc[3]) and first["significant"].isna().iloc[3]  # one person: no agreement to test
    custom = agreement.rwg_significance([6], [0.2], scale=THREE, policy=AgreementPolicy(null_variance=0.5))
    assert custom[["p", "rwg_critical"]].isna().all().all()  # a custom variance names no distribution to draw from
    other = agreement.rwg_significance([6], [0.2], scale=THREE, seed=1)
    assert other["p"].iloc[0] == pytest.approx(alone["p"].iloc[0], abs=5 * SE)


# --- the policy in characteristic_agreement, and the one table for the survey report ----------
CHARACTERISTIC_OF = {"item1": "information", "item2": "information", "item3": "measurement"}


def with_characteristics(answers: pd.DataFrame, mapping=None) -> pd.DataFrame:
    return answers.assign(characteristic_id=answers["item_id"].map(mapping or CHARACTERISTIC_OF))


@pytest.mark.parametrize("null", ["uniform", "slight_skew"])
def test_characteristic_agreement_reads_the_index_and_null_of_the_policy(null):
    """Against R multilevel: rwg.j (index rwg) and rwg.j.lindell (index rwg_star) on all three items."""
    answers = with_characteristics(ANSWERS["three"], dict.fromkeys(ITEMS, "all"))
    reference = r_output()
    for index, statistic, label in [("rwg", "rwg.j", "rwg(j)"), ("rwg_star", "rwg.j.lindell", "r*wg(j)")]:
        policy = AgreementPolicy(index=index, null=null)
        table = agreement.characteristic_agreement(answers, scale=THREE, policy=policy,
                                                   disclosure=DisclosurePolicy(min_cell_size=2))
        assert set(table["index"]) == {label} and set(table["null"]) == {null}
        assert_groups(table, "agreement_index", reference[("three", null, statistic, None)])


def test_within_group_agreement_gives_every_index_per_unit_characteristic_and_item():
    answers = with_characteristics(ANSWERS["three"])
    reference = r_output()
    table = agreement.within_group_agreement(answers, scale=THREE, disclosure=DisclosurePolicy(min_cell_size=3))
    assert list(table.columns) == ["microsystem_id", *agreement.WITHIN_GROUP_COLUMNS]
    assert len(table) == 5 * 2 + 5 * 3  # five units x (two characteristics + three items)
    items = table[table["scope"] == "item"]
    for item in ITEMS:
        rows = items[items["item_id"] == item]
        assert_groups(rows, "rwg", reference[("three", "uniform", "rwg", item)])
        assert_groups(rows, "awg", reference[("three", "awg", "awg", item)])
        assert_groups(rows, "ad_mean", reference[("three", "ad.m mean", "ad.m", item)])
        assert_groups(rows, "ad_median", reference[("three", "ad.m median", "ad.m", item)])
    information = table[(table["scope"] == "characteristic") & (table["characteristic_id"] == "information")]
    two_items = ANSWERS["three"][ANSWERS["three"]["item_id"].isin(["item1", "item2"])]
    by_unit = agreement.rwg_j(two_items).set_index("microsystem_id")
    assert_groups(information, "rwg", by_unit["rwg_j"].to_dict())
    assert_groups(information, "rwg_star", by_unit["rwg_star_j"].to_dict())
    assert_groups(information, "awg", agreement.awg(two_items, scale=THREE).set_index("microsystem_id")["awg"])
    assert set(information["index"]) == {"rwg(j)"} and (information["n_items"] == 2).all()
    assert (table["null"] == "uniform").all() and (table["null_variance"] == 2 / 3).all()
    assert (table["ad_cutoff"] == 0.5).all()  # c / 6 on three levels (Burke & Dunlap 2002)
    # One simulated null serves rwg(j) and r*wg(j); p and the critical values agree with the verdict.
    rated = table[table["n_rated"] >= 2]
    assert rated["rwg_p"].notna().all()
    assert (rated["rwg_significant"].astype(bool) == (rated["rwg_p"] <= 0.05)).all()
    reached = rated["rwg_critical"].notna()
    assert (rated.loc[reached & rated["rwg_significant"].astype(bool), "rwg"]
            >= rated.loc[reached & rated["rwg_significant"].astype(bool), "rwg_critical"] - 1e-12).all()
    assert table.loc[table["n_rated"] < 3, "agreement"].eq("too few").all()


def test_within_group_agreement_does_not_depend_on_row_order_or_unit_names():
    answers = with_characteristics(ANSWERS["five"])
    rename = dict(zip("ABCDEF", "UVWXYZ"))
    moved = answers.assign(microsystem_id=answers["microsystem_id"].map(rename)).iloc[::-1]
    first = agreement.within_group_agreement(answers, scale=FIVE, policy=AgreementPolicy(null="triangular"))
    second = agreement.within_group_agreement(moved, scale=FIVE, policy=AgreementPolicy(null="triangular"))
    second["microsystem_id"] = second["microsystem_id"].map({v: k for k, v in rename.items()})
    keys = ["microsystem_id", "characteristic_id", "scope", "item_id"]
    pd.testing.assert_frame_equal(first.sort_values(keys).reset_index(drop=True),
                                  second.sort_values(keys).reset_index(drop=True))
    assert (first["null"] == "triangular").all() and (first["null_variance"] == 1.32).all()


def test_with_lindells_index_the_verdict_reads_rwg_star_and_a_negative_value_stays_negative():
    answers = with_characteristics(ANSWERS["three"])
    policy = AgreementPolicy(index="rwg_star", null="triangular")
    table = agreement.within_group_agreement(answers, scale=THREE, policy=policy,
                                             disclosure=DisclosurePolicy(min_cell_size=2))
    several = table[table["n_items"] > 1]
    assert (several["index"] == "r*wg(j)").all() and (several["agreement_index"] == several["rwg_star"]).all()
    assert (several["agreement_index"] < 0).any()  # more spread than random answering: reported as it is
    assert several.loc[several["agreement_index"] < 0, "agreement"].eq("not shared").all()


def plain_shared_counts(answers: pd.DataFrame, characteristic: str, *, levels: int, threshold: float,
                        min_cell_size: int) -> dict[str, int]:
    """How many units share a view of a several-item characteristic by rwg(j) and by r*wg(j),
    in exact arithmetic (fractions: a unit exactly at the threshold is shared, as "shared at
    0.70 or above" says): listwise (people who rated every item), mean item variance (n - 1)
    against the uniform null (levels^2 - 1) / 12, and at least ``min_cell_size`` people."""
    part = answers[answers["characteristic_id"].eq(characteristic) & answers["answer"].eq("level")]
    wide = part.pivot_table(index=["microsystem_id", "respondent_id"], columns="item_id", values="level",
                            aggfunc="first", observed=True).dropna().astype(int)
    items, null, threshold = wide.shape[1], Fraction(levels ** 2 - 1, 12), Fraction(str(threshold))
    counts = {"rwg": 0, "rwg_star": 0}
    for _, group in wide.groupby(level="microsystem_id"):
        if len(group) < max(min_cell_size, 2):
            continue
        variances = []
        for item in group.columns:
            values = [Fraction(int(v)) for v in group[item]]
            mean = sum(values) / len(values)
            variances.append(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        ratio = sum(variances) / len(variances) / null
        rwg_j = 0 if ratio > 1 else items * (1 - ratio) / (items * (1 - ratio) + ratio)
        counts["rwg"] += rwg_j >= threshold
        counts["rwg_star"] += (1 - ratio) >= threshold
    return counts


def test_demo_integration_of_information_is_shared_far_less_often_by_lindells_index():
    """The issue's measurement (#15): rwg(j) counts integration of information (three items) as
    shared in far more units than r*wg(j) (41 against 19 of 43 in the first demo; 43 against 20
    in the regenerated one, one of them, MS10, exactly at 0.70). The counts are computed here
    independently, in exact arithmetic."""
    from workbench.study import open_study

    study = open_study("demo")
    shared = {}
    for index in ("rwg", "rwg_star"):
        table = agreement.characteristic_agreement(study.answers, scale=study.scale, disclosure=study.disclosure,
                                                   policy=AgreementPolicy(index=index))
        rows = table[table["characteristic_id"] == "integration_of_information"]
        shared[index] = (len(rows), int((rows["agreement"] == "shared").sum()))
    plain = plain_shared_counts(study.answers, "integration_of_information", levels=len(study.scale.values),
                                threshold=AgreementPolicy().threshold,
                                min_cell_size=study.disclosure.min_cell_size)
    units = len(study.microsystems)
    assert shared == {"rwg": (units, plain["rwg"]), "rwg_star": (units, plain["rwg_star"])}
    assert 0 < plain["rwg_star"] <= plain["rwg"] / 2  # far less often
