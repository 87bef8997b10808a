"""Role gaps: the ordinal and mixed models against R and against answers that can be checked by hand."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import perception

# ---------------------------------------------------------------------------------------
# Reference: R 4.2.2, `ordinal` 2022.11.16 (clm) and `lme4` 1.1-31 (lmer), Debian packages,
# run by tests/reference/role_gaps_reference.R; its printed output is
# tests/reference/role_gaps_reference.out, from which the values below are pasted. The data
# (149 respondents in 12 units) are read from the R script itself, so the two cannot drift.
R_SCRIPT = Path(__file__).parent / "reference" / "role_gaps_reference.R"
ROLE_NAMES = {"N": "Nurse", "M": "Manager", "MA": "Medical assistant", "P": "Physician"}
R_TERMS = {"roleM": "Manager", "roleMA": "Medical assistant", "roleP": "Physician"}

# clm(level ~ role): estimate, model-based SE (vcov), cluster-robust SE (CRV1 by unit, by hand in R)
R_POOLED = {
    "1|2": (-0.421717024428060, 0.256529621930521, 0.545575763412315),
    "2|3": (0.812781901042277, 0.263456067073083, 0.574924452234971),
    "roleM": (1.157873309288216, 0.512784027483547, 0.705014983050915),
    "roleMA": (0.475514396598530, 0.384331025064877, 0.761929458676251),
    "roleP": (0.455125717759248, 0.401692210362061, 0.420127012827465),
}
R_POOLED_LOGLIK = -159.471452868506
R_POOLED_P = {"roleM": 0.023945, "roleMA": 0.215993, "roleP": 0.257205}  # summary(): model-based Wald p
R_POOLED_P_CLUSTER = {"roleM": 0.100519855034715, "roleMA": 0.532566894355764, "roleP": 0.278673041231250}
R_POOLED_HOLM = {"roleM": 0.301559565104146, "roleMA": 0.557346082462500, "roleP": 0.557346082462500}
R_POOLED_BH = {"roleM": 0.301559565104146, "roleMA": 0.532566894355764, "roleP": 0.418009561846875}

# clm(level ~ role + unit) without unit 12 (every answer the top level)
R_WITHIN = {
    "1|2": (0.755740421914078, 0.692360847103289),
    "2|3": (2.806892021829328, 0.741507995568738),
    "roleM": (0.469914163792233, 0.635354397263681),
    "roleMA": (-1.823827419074951, 0.569577270230699),
    "roleP": (-0.225896401150332, 0.515015700403745),
    "unit2": (-0.267760660324729, 0.901013664113945),
    "unit3": (0.492588781285191, 0.956420757573824),
    "unit4": (1.439996515409996, 0.868969395769395),
    "unit5": (0.705358256684131, 0.999106020591974),
    "unit6": (3.337720085380002, 1.018088733698664),
    "unit7": (2.360235513698203, 0.918930778925324),
    "unit8": (3.524841046894261, 0.960697710734198),
    "unit9": (3.236582376002955, 0.972619248960440),
    "unit10": (3.368665152801273, 0.985504779997971),
    "unit11": (5.932679742776429, 1.382463247176052),
}
R_WITHIN_LOGLIK = -111.534417267229
R_WITHIN_SE_CLUSTER = {"roleM": 0.9791088270708610, "roleMA": 0.5369597652584818, "roleP": 0.5974185663119782}
R_WITHIN_P_CLUSTER = {"roleM": 0.631269568540612, "roleMA": 0.000682333210044149, "roleP": 0.705340838697538}

# lmer(score ~ role + (1 | unit)), REML: estimate, SE; variance components
R_LMER = {
    "roleM": (0.174438677495374, 0.0822351009083230),
    "roleMA": (-0.127942886289769, 0.0678515041214141),
    "roleP": (0.108924801840233, 0.0648069601224636),
}
R_LMER_UNIT_VARIANCE, R_LMER_RESIDUAL_VARIANCE = 0.3407499541885939, 0.0758846650202195
# lm(score ~ role + unit): estimate, SE, p, 2.5 %, 97.5 %; Holm over the three roles
R_LM = {
    "roleM": (0.162746045237921, 0.0823745048490298, 0.0502449887450857, -0.00017637226216205, 0.3256684627380040),
    "roleMA": (-0.145768654479325, 0.0681194519295760, 0.0341748284341197, -0.28049706113241768, -0.0110402478262327),
    "roleP": (0.102102534885262, 0.0649173031245972, 0.1181211874631843, -0.02629257938011542, 0.2304976491506397),
}
R_LM_HOLM = {"roleM": 0.1025244853023590, "roleMA": 0.1025244853023590, "roleP": 0.118121187463184}


def _r_vector(name: str) -> list[str]:
    text = R_SCRIPT.read_text(encoding="utf-8")
    body = re.search(rf"^{name} <- c\((.*?)\)", text, flags=re.S | re.M).group(1)
    return [value.strip().strip('"') for value in body.split(",")]


def reference_data() -> pd.DataFrame:
    frame = pd.DataFrame({
        "unit": [int(u) for u in _r_vector("unit")], "role": [ROLE_NAMES[r] for r in _r_vector("role")],
        "level": [int(v) for v in _r_vector("level")], "score": [float(v) for v in _r_vector("score")],
    })
    frame["microsystem_id"] = [f"U{u:02d}" for u in frame["unit"]]  # zero-padded: sorts as R's factor levels
    frame["respondent_id"] = [f"r{i:03d}" for i in range(len(frame))]
    return frame


REFERENCE = reference_data()


def reference_answers() -> pd.DataFrame:
    answers = REFERENCE[["respondent_id", "microsystem_id", "role"]].assign(
        item_id="x", answer="level", level=REFERENCE["level"].astype("Int64"))
    return answers


def role_design(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({term: frame["role"].eq(role).astype(float) for term, role in R_TERMS.items()})


def test_reference_data_is_as_described():
    assert len(REFERENCE) == 149 and REFERENCE["unit"].nunique() == 12
    assert set(REFERENCE.loc[REFERENCE["unit"] == 12, "level"]) == {3}


def test_cumulative_logit_matches_r_clm_pooled():
    fit = perception.cumulative_logit(REFERENCE["level"], role_design(REFERENCE), groups=REFERENCE["unit"])
    assert fit.converged and fit.max_grad < 1e-9
    estimates = pd.concat([fit.thresholds, fit.coefficients])
    model_se, cluster_se = fit.se("model"), fit.se("cluster")
    for term, (estimate, se, se_cluster) in R_POOLED.items():
        assert estimates[term] == pytest.approx(estimate, abs=1e-8), term
        assert model_se[term] == pytest.approx(se, abs=1e-8), term
        assert cluster_se[term] == pytest.approx(se_cluster, abs=1e-8), term
    assert fit.loglik == pytest.approx(R_POOLED_LOGLIK, abs=1e-8)


def test_cumulative_logit_matches_r_clm_with_unit_fixed_effects():
    informative = REFERENCE[REFERENCE["unit"] != 12]
    units = pd.DataFrame({f"unit{u}": informative["unit"].eq(u).astype(float) for u in range(2, 12)})
    design = pd.concat([role_design(informative), units], axis=1)
    fit = perception.cumulative_logit(informative["level"], design, groups=informative["unit"])
    estimates, model_se, cluster_se = pd.concat([fit.thresholds, fit.coefficients]), fit.se("model"), fit.se("cluster")
    for term, (estimate, se) in R_WITHIN.items():
        assert estimates[term] == pytest.approx(estimate, abs=1e-9), term
        assert model_se[term] == pytest.approx(se, abs=1e-9), term
    for term, se in R_WITHIN_SE_CLUSTER.items():
        assert cluster_se[term] == pytest.approx(se, abs=1e-9), term
    assert fit.loglik == pytest.approx(R_WITHIN_LOGLIK, abs=1e-8)


def test_role_gap_table_matches_r_pooled_and_within_units():
    table = perception.ordinal_role_gaps(reference_answers(), reference_role="Nurse", min_answers=5).set_index("role")
    for term, role in R_TERMS.items():
        row = table.loc[role]
        assert np.log(row["odds_ratio"]) == pytest.approx(R_POOLED[term][0], abs=1e-8)
        assert row["p"] == pytest.approx(R_POOLED_P_CLUSTER[term], abs=1e-8)
        assert row["p_holm"] == pytest.approx(R_POOLED_HOLM[term], abs=1e-8)  # R p.adjust(, "holm")
        assert row["p_bh"] == pytest.approx(R_POOLED_BH[term], abs=1e-8)  # R p.adjust(, "BH")
        estimate, se = R_WITHIN[term][0], R_WITHIN_SE_CLUSTER[term]
        assert np.log(row["within_odds_ratio"]) == pytest.approx(estimate, abs=1e-7)
        assert np.log(row["within_ci_low"]) == pytest.approx(estimate - 1.959963984540054 * se, abs=1e-7)
        assert np.log(row["within_ci_high"]) == pytest.approx(estimate + 1.959963984540054 * se, abs=1e-7)
        assert row["within_p"] == pytest.approx(R_WITHIN_P_CLUSTER[term], abs=1e-8)
    assert (table["within_units_left_out"] == "U12").all()  # every answer the top level: no information
    assert (table["within_n_answers"] == 132).all() and (table["within_n_microsystems"] == 11).all()
    assert table.loc["Medical assistant", "disagreement"] == "opposite direction"

    model_based = perception.ordinal_role_gaps(reference_answers(), reference_role="Nurse", min_answers=5,
                                               se="model").set_index("role")
    for term, role in R_TERMS.items():
        assert model_based.loc[role, "p"] == pytest.approx(R_POOLED_P[term], abs=1e-6)  # as printed by summary()


def test_describe_ordinal_names_the_family_and_the_reversal():
    table = perception.ordinal_role_gaps(reference_answers(), reference_role="Nurse", min_answers=5)
    lines = perception.describe_ordinal(table, item_labels={"x": "Measurement"})
    assert lines[0].startswith("Gaps are read at Holm-adjusted p < 0.05, each model's family being its item x role "
                               "comparisons (3 across the study, 3 within units)")
    reversal = ("Medical assistant respondents rate 'Measurement' higher than nurse respondents across the study "
                "(x1.61 [0.36, 7.16], Holm p = 0.557), but lower than nurse respondents in their own units "
                "(x0.16 [0.06, 0.46], Holm p = 0.002): the study-wide gap reflects which units employ them.")
    assert reversal in lines, lines
    # physicians point opposite ways too, but neither model shows it clearly: said, and said to be unclear
    unclear = ("Physician respondents rate 'Measurement' higher than nurse respondents across the study but lower "
               "within their own units (x1.58 across the study and x0.80 within units); neither direction is clear "
               "after Holm adjustment")
    assert any(line.startswith(unclear) for line in lines), lines
    bh = perception.describe_ordinal(table, item_labels={"x": "Measurement"}, adjust="bh")
    assert bh[0].startswith("Gaps are read at Benjamini-Hochberg-adjusted p < 0.05")
    with pytest.raises(ValueError, match="adjust must be one of"):
        perception.describe_ordinal(table, adjust="bonferroni")


def test_mixed_model_matches_lmer_and_within_unit_estimate_matches_lm():
    scores = REFERENCE.assign(characteristic_id="c")
    table, model = perception.mixed_role_gaps(scores, reference_role="Nurse", min_respondents=5)
    table = table.set_index("role")
    for term, role in R_TERMS.items():
        row = table.loc[role]
        assert row["difference"] == pytest.approx(R_LMER[term][0], abs=1e-8)
        assert (row["ci_high"] - row["ci_low"]) / (2 * 1.959963984540054) == pytest.approx(R_LMER[term][1], abs=1e-8)
        estimate, se, p, low, high = R_LM[term]
        assert row["within_difference"] == pytest.approx(estimate, abs=1e-10)
        assert row["within_ci_low"] == pytest.approx(low, abs=1e-10)
        assert row["within_ci_high"] == pytest.approx(high, abs=1e-10)
        assert row["within_p"] == pytest.approx(p, abs=1e-10)
        assert row["within_p_holm"] == pytest.approx(R_LM_HOLM[term], abs=1e-10)
    assert model["microsystem_variance"] == pytest.approx(R_LMER_UNIT_VARIANCE, abs=1e-8)
    assert model["residual_variance"] == pytest.approx(R_LMER_RESIDUAL_VARIANCE, abs=1e-8)
    lines = perception.describe_mixed(table.reset_index(), model=model)
    assert lines[0] == ("Differences are read at Holm-adjusted p < 0.05 over the 3 role comparisons of each model; "
                        "intervals unadjusted.")
    assert lines[-1] == "Microsystems account for 82% of the variance in respondents' mean level."


# ---------------------------------------------------------------------------------------
# Answers that can be checked by hand.


def answers_for(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["respondent_id", "microsystem_id", "role", "level"])
    frame["item_id"] = "m"
    frame["answer"] = "level"
    frame["level"] = frame["level"].astype("Int64")
    return frame


def test_with_two_levels_the_ordinal_odds_ratio_is_the_cross_product_ratio():
    # Two levels make the ordinal logit a logistic regression, whose odds ratio for a
    # binary predictor is (a*d)/(b*c) from the 2x2 table.
    cells = {("Nurse", 1): 30, ("Nurse", 2): 20, ("Manager", 1): 10, ("Manager", 2): 25}
    rows, n = [], 0
    for (role, level), count in cells.items():
        for _ in range(count):
            rows.append((f"r{n}", f"U{n % 7}", role, level))
            n += 1
    table = perception.ordinal_role_gaps(answers_for(rows), min_answers=5)
    row = table.set_index("role").loc["Manager"]
    assert row["reference_role"] == "Nurse"  # the most common role
    assert row["odds_ratio"] == pytest.approx((30 * 25) / (20 * 10), rel=1e-10)
    assert row["ci_low"] < row["odds_ratio"] < row["ci_high"]
    assert row["n_microsystems"] == 7
    lines = perception.describe_ordinal(table)
    assert "Manager respondents rate 'm' higher than nurse respondents" in "\n".join(lines[2:])


def test_roles_with_too_few_answers_are_left_out_and_named():
    rows = [
        (f"r{i}", f"U{i % 3}", "Nurse" if i < 40 else "Physician" if i < 70 else "Clerical", 1 + i % 3)
        for i in range(74)
    ]
    table = perception.ordinal_role_gaps(answers_for(rows), min_answers=10)
    assert set(table["role"]) == {"Physician"}
    assert table["roles_left_out"].iloc[0] == "Clerical"
    with pytest.raises(ValueError, match=r"reference_role must be one of the roles present"):
        perception.ordinal_role_gaps(answers_for(rows), reference_role="Surgeon")


def test_a_role_that_never_works_beside_the_others_has_no_within_unit_estimate():
    # Clerical staff work only in units U5 and U6, where nobody else answered: across the
    # study they can be compared, within units they cannot.
    rng = np.random.default_rng(5)
    rows = [(f"r{i}", f"U{i % 5}", "Nurse" if i % 2 else "Physician", int(rng.integers(1, 4))) for i in range(100)]
    rows += [(f"c{i}", f"U{5 + i % 2}", "Clerical", int(rng.integers(1, 4))) for i in range(30)]
    table = perception.ordinal_role_gaps(answers_for(rows), reference_role="Nurse", min_answers=10).set_index("role")
    assert np.isfinite(table.loc["Clerical", "odds_ratio"])
    assert np.isnan(table.loc["Clerical", "within_odds_ratio"]) and np.isnan(table.loc["Clerical", "within_p_holm"])
    assert table.loc["Clerical", "n_units_with_others"] == 0
    assert "no within-unit contrast for Clerical" in table.loc["Clerical", "note"]
    assert np.isfinite(table.loc["Physician", "within_odds_ratio"])
    assert table["within_p_holm"].notna().sum() == 1  # the family holds only estimable comparisons


def test_units_where_everyone_gives_the_lowest_level_are_left_out_of_the_within_model():
    rng = np.random.default_rng(8)
    rows = [(f"r{i}", f"U{i % 6}", "Nurse" if i % 3 else "Physician", int(rng.integers(1, 4))) for i in range(120)]
    rows += [(f"low{i}", "U9", "Nurse" if i % 2 else "Physician", 1) for i in range(6)]
    table = perception.ordinal_role_gaps(answers_for(rows), reference_role="Nurse", min_answers=10)
    assert table["within_units_left_out"].iloc[0] == "U9"
    assert table["within_n_answers"].iloc[0] == 120 and table["n_answers"].iloc[0] == 126


def test_a_separated_role_is_not_estimated():
    # Every physician answers the top level, no nurse does: the odds ratio is infinite.
    rows = [(f"n{i}", f"U{i % 4}", "Nurse", 1 + i % 2) for i in range(40)]
    rows += [(f"p{i}", f"U{i % 4}", "Physician", 3) for i in range(20)]
    table = perception.ordinal_role_gaps(answers_for(rows), reference_role="Nurse", min_answers=10)
    assert np.isnan(table["odds_ratio"].iloc[0]) and np.isnan(table["within_odds_ratio"].iloc[0])
    assert "separated, not estimable: Physician" in table["note"].iloc[0]


def test_mixed_model_difference_is_the_within_unit_difference_when_balanced():
    # Every unit has two nurses and two physicians; physicians sit exactly 0.4 above the
    # nurses of their own unit, units differ a lot. Both estimates must be 0.4.
    rng = np.random.default_rng(3)
    rows = []
    for unit in range(12):
        base = rng.normal(2, 0.4)
        for k, (role, shift) in enumerate([("Nurse", -0.1), ("Nurse", 0.1), ("Physician", 0.3), ("Physician", 0.5)]):
            rows.append({"respondent_id": f"{unit}-{k}", "microsystem_id": f"U{unit}", "role": role,
                         "characteristic_id": "c", "score": base + shift})
    table, model = perception.mixed_role_gaps(pd.DataFrame(rows), reference_role="Nurse", min_respondents=5)
    row = table.set_index("role").loc["Physician"]
    assert row["difference"] == pytest.approx(0.4, abs=1e-6)
    assert row["within_difference"] == pytest.approx(0.4, abs=1e-12)
    assert row["ci_low"] < 0.4 < row["ci_high"]
    assert model["n_microsystems"] == 12 and model["icc"] > 0.5
    assert "higher than nurse staff" in perception.describe_mixed(table)[1]


def test_no_role_gap_gives_a_plain_no_difference_line():
    rng = np.random.default_rng(13)
    rows = [(f"r{i}", f"U{i % 7}", "Nurse" if i % 2 else "Physician", int(rng.integers(1, 4))) for i in range(200)]
    table = perception.ordinal_role_gaps(answers_for(rows))
    assert (table["p_holm"] > 0.05).all() and (table["within_p_holm"] > 0.05).all()
    assert ((table["odds_ratio"] - 1) * (table["within_odds_ratio"] - 1) > 0).all()  # same direction
    assert perception.describe_ordinal(table)[2:] == [
        "No role differs clearly from the reference role on any item, across the study or within units, "
        "and no study-wide gap points the other way within units."
    ]
