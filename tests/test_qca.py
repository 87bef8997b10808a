"""QCA against the published output of the R package QCA (Dusa) on the Lipset and Krook data.

Sources (stored copies): truth tables and solutions of ``LC`` from QCA 3.15's rendered examples
(cran/QCA inst/staticdocs/truthTable.html and minimize.html) and its test snapshots
(dusadrian/QCA tests/testthat/_snaps/truthTable.md, minimize.md, pof.md, superSubset.md);
the fuzzy Lipset memberships ``LF`` as printed in cran/QCApro man/superSubset.Rd (Ragin 2009, p. 95),
whose fuzzy truth table and solutions at incl.cut = 0.8 are in QCA's minimize examples;
Krook's (2010) ``d.represent`` from QCA's snapshots; calibration vectors from
tests/testthat/_snaps/calibrate.md (inputs drawn with R's set.seed(12345); rnorm(100, 175, 10)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import qca

CONDITIONS = ["DEV", "URB", "LIT", "IND", "STB"]
LC = {
    "AU": (1, 0, 1, 1, 0, 0), "BE": (1, 1, 1, 1, 1, 1), "CZ": (1, 1, 1, 1, 1, 1), "EE": (0, 0, 1, 0, 1, 0),
    "FI": (1, 0, 1, 0, 1, 1), "FR": (1, 0, 1, 1, 1, 1), "DE": (1, 1, 1, 1, 0, 0), "GR": (0, 0, 0, 0, 0, 0),
    "HU": (0, 0, 1, 0, 0, 0), "IE": (1, 0, 1, 0, 1, 1), "IT": (0, 0, 0, 0, 1, 0), "NL": (1, 1, 1, 1, 1, 1),
    "PL": (0, 0, 1, 0, 0, 0), "PT": (0, 0, 0, 0, 0, 0), "RO": (0, 0, 0, 0, 1, 0), "ES": (0, 0, 0, 0, 0, 0),
    "SE": (1, 0, 1, 1, 1, 1), "UK": (1, 1, 1, 1, 1, 1),
}
LF = {
    "AU": (0.81, 0.12, 0.99, 0.73, 0.43, 0.05), "BE": (0.99, 0.89, 0.98, 1.00, 0.98, 0.95),
    "CZ": (0.58, 0.98, 0.98, 0.90, 0.91, 0.89), "EE": (0.16, 0.07, 0.98, 0.01, 0.91, 0.12),
    "FI": (0.58, 0.03, 0.99, 0.08, 0.58, 0.77), "FR": (0.98, 0.03, 0.99, 0.81, 0.95, 0.95),
    "DE": (0.89, 0.79, 0.99, 0.96, 0.31, 0.05), "GR": (0.04, 0.09, 0.13, 0.36, 0.43, 0.06),
    "HU": (0.07, 0.16, 0.88, 0.07, 0.13, 0.42), "IE": (0.72, 0.05, 0.98, 0.01, 0.95, 0.92),
    "IT": (0.34, 0.10, 0.41, 0.47, 0.58, 0.05), "NL": (0.98, 1.00, 0.99, 0.94, 0.99, 0.95),
    "PL": (0.02, 0.17, 0.59, 0.00, 0.00, 0.12), "PT": (0.01, 0.02, 0.01, 0.11, 0.01, 0.05),
    "RO": (0.01, 0.03, 0.17, 0.00, 0.84, 0.21), "ES": (0.03, 0.30, 0.09, 0.21, 0.20, 0.06),
    "SE": (0.95, 0.13, 0.99, 0.67, 0.91, 0.95), "UK": (0.98, 0.99, 0.99, 1.00, 0.98, 0.95),
}
KROOK_CONDITIONS = ["ES", "QU", "WS", "WM", "LP"]
KROOK = {
    "NZ": (0, 0, 0, 1, 1, 1), "DE": (0, 1, 0, 1, 1, 1), "FI": (1, 0, 1, 0, 0, 1), "DK": (1, 0, 1, 1, 1, 1),
    "AT": (1, 1, 0, 0, 1, 1), "ES": (1, 1, 0, 1, 0, 1), "SE": (1, 1, 1, 0, 0, 1), "NL": (1, 1, 0, 1, 1, 1),
    "BE": (1, 1, 0, 1, 1, 1), "NO": (1, 1, 1, 1, 1, 1), "IS": (1, 1, 1, 1, 1, 1), "IT": (0, 1, 0, 0, 0, 0),
    "LU": (1, 0, 0, 0, 1, 0), "CA": (0, 0, 0, 1, 0, 0), "US": (0, 0, 0, 1, 0, 0), "CH": (1, 1, 0, 0, 0, 0),
    "PT": (1, 1, 0, 0, 0, 0), "GR": (1, 1, 0, 0, 0, 0), "AU": (0, 1, 0, 1, 0, 0), "GB": (0, 1, 0, 1, 0, 0),
    "FR": (0, 1, 0, 1, 0, 0), "IE": (0, 1, 0, 1, 0, 0),
}


def frame(data: dict, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(data, index=columns).T.astype(float)


def fit_table(model, data, outcome) -> dict:
    table = qca.fit(model, data, outcome)
    return {
        term: tuple(round(v, 3) if not np.isnan(v) else None for v in table.loc[term, ["inclS", "PRI", "covS", "covU"]])
        for term in table.index
    }


@pytest.fixture
def lc():
    return frame(LC, [*CONDITIONS, "SURV"])


@pytest.fixture
def lf():
    return frame(LF, [*CONDITIONS, "SURV"])


def test_crisp_truth_table_reproduces_qca_exactly(lc):
    table = qca.truth_table(lc[CONDITIONS], lc["SURV"])
    expected = {
        1: ("0", 3, "GR,PT,ES"), 2: ("0", 2, "IT,RO"), 5: ("0", 2, "HU,PL"), 6: ("0", 1, "EE"), 22: ("1", 2, "FI,IE"),
        23: ("0", 1, "AU"), 24: ("1", 2, "FR,SE"), 31: ("0", 1, "DE"), 32: ("1", 4, "BE,CZ,NL,UK"),
    }
    assert list(table.index) == list(expected)
    for row, (out, n, cases) in expected.items():
        assert (table.loc[row, "OUT"], table.loc[row, "n"], table.loc[row, "cases"]) == (out, n, cases)
        assert table.loc[row, "incl"] == table.loc[row, "PRI"] == (1.0 if out == "1" else 0.0)
    complete = qca.truth_table(lc[CONDITIONS], lc["SURV"], complete=True)
    assert len(complete) == 32 and (complete.drop(index=list(expected))["OUT"] == "?").all()


def test_crisp_solutions_reproduce_qca(lc):
    table = qca.truth_table(lc[CONDITIONS], lc["SURV"])
    conservative = qca.minimize(table, conditions=CONDITIONS)
    assert conservative.expressions() == ["DEV*~URB*LIT*STB + DEV*LIT*IND*STB"]
    assert fit_table(conservative.models[0], lc[CONDITIONS], lc["SURV"]) == {
        "DEV*~URB*LIT*STB": (1.0, 1.0, 0.5, 0.25),
        "DEV*LIT*IND*STB": (1.0, 1.0, 0.75, 0.5),
        "model": (1.0, 1.0, 1.0, None),
    }
    parsimonious = qca.minimize(table, conditions=CONDITIONS, include_remainders=True)
    assert parsimonious.expressions() == ["DEV*STB"]
    assert parsimonious.simplifying_assumptions == [18, 20, 26, 28, 30]
    negated = qca.truth_table(lc[CONDITIONS], 1 - lc["SURV"])
    assert qca.minimize(negated, conditions=CONDITIONS).expressions() == ["~DEV*~URB*~IND + DEV*LIT*IND*~STB"]
    negated_parsimonious = qca.minimize(negated, conditions=CONDITIONS, include_remainders=True)
    assert negated_parsimonious.expressions() == ["~DEV + ~STB"]
    assert fit_table(negated_parsimonious.models[0], lc[CONDITIONS], 1 - lc["SURV"]) == {
        "~DEV": (1.0, 1.0, 0.8, 0.3), "~STB": (1.0, 1.0, 0.7, 0.2), "model": (1.0, 1.0, 1.0, None)}


def test_fuzzy_truth_table_at_cut_point_0_8_reproduces_qca(lf):
    table = qca.truth_table(lf[CONDITIONS], lf["SURV"], incl_cut=0.8)
    expected = {
        1: ("0", 3, 0.216, 0.000), 2: ("0", 2, 0.278, 0.000), 5: ("0", 2, 0.521, 0.113), 6: ("0", 1, 0.529, 0.228),
        22: ("1", 2, 0.804, 0.719), 23: ("0", 1, 0.378, 0.040), 24: ("0", 2, 0.709, 0.634), 31: ("0", 1, 0.445, 0.050),
        32: ("1", 4, 0.904, 0.886),
    }
    assert list(table.index) == list(expected)
    for row, (out, n, incl, pri) in expected.items():
        found = (
            table.loc[row, "OUT"],
            table.loc[row, "n"],
            round(table.loc[row, "incl"], 3),
            round(table.loc[row, "PRI"], 3),
        )
        assert found == (out, n, incl, pri)


def test_fuzzy_solutions_at_0_8_reproduce_qca(lf):
    table = qca.truth_table(lf[CONDITIONS], lf["SURV"], incl_cut=0.8)
    conservative = qca.minimize(table, conditions=CONDITIONS)
    assert conservative.expressions() == ["DEV*URB*LIT*IND*STB + DEV*~URB*LIT*~IND*STB"]
    assert fit_table(conservative.models[0], lf[CONDITIONS], lf["SURV"]) == {
        "DEV*URB*LIT*IND*STB": (0.904, 0.886, 0.454, 0.393), "DEV*~URB*LIT*~IND*STB": (0.804, 0.719, 0.265, 0.204),
        "model": (0.870, 0.843, 0.658, None)}
    parsimonious = qca.minimize(table, conditions=CONDITIONS, include_remainders=True)
    assert parsimonious.expressions() == ["DEV*~IND + URB*STB"]
    assert fit_table(parsimonious.models[0], lf[CONDITIONS], lf["SURV"]) == {
        "DEV*~IND": (0.815, 0.721, 0.284, 0.194),
        "URB*STB": (0.874, 0.845, 0.520, 0.430),
        "model": (0.850, 0.819, 0.714, None),
    }
    assert parsimonious.simplifying_assumptions == [10, 12, 14, 16, 17, 18, 21, 25, 26, 28, 29, 30]


def test_fuzzy_solutions_at_0_7_reproduce_qca(lf):
    table = qca.truth_table(lf[CONDITIONS], lf["SURV"], incl_cut=0.7)
    conservative = qca.minimize(table, conditions=CONDITIONS)
    assert conservative.expressions() == ["DEV*~URB*LIT*STB + DEV*LIT*IND*STB"]
    assert fit_table(conservative.models[0], lf[CONDITIONS], lf["SURV"]) == {
        "DEV*~URB*LIT*STB": (0.809, 0.761, 0.433, 0.196),
        "DEV*LIT*IND*STB": (0.843, 0.821, 0.622, 0.385),
        "model": (0.871, 0.851, 0.818, None),
    }
    parsimonious = qca.minimize(table, conditions=CONDITIONS, include_remainders=True)
    assert parsimonious.expressions() == ["DEV*STB"]
    assert fit_table(parsimonious.models[0], lf[CONDITIONS], lf["SURV"])["DEV*STB"][:3] == (0.869, 0.848, 0.824)


def test_necessity_reproduces_qca_pof(lf, lc):
    table = qca.necessity(lf[CONDITIONS], lf["SURV"]).round(3)
    expected = {
        "DEV": (0.831, 0.811, 0.775), "URB": (0.539, 0.899, 0.771), "LIT": (0.991, 0.509, 0.643),
        "IND": (0.669, 0.786, 0.684), "STB": (0.920, 0.680, 0.707), "~DEV": (0.285, 0.587, 0.274),
        "~URB": (0.568, 0.452, 0.402), "~LIT": (0.096, 0.764, 0.168), "~IND": (0.417, 0.576, 0.367),
        "~STB": (0.218, 0.687, 0.269),
    }
    for condition, values in expected.items():
        assert tuple(table.loc[condition, ["inclN", "RoN", "covN"]]) == values, condition
    crisp = qca.necessity(lc[CONDITIONS], lc["SURV"]).round(3)
    assert tuple(crisp.loc["DEV"]) == (1.0, 0.8, 0.8)
    assert tuple(crisp.loc["LIT"]) == (1.0, 0.5, 0.615)
    assert tuple(crisp.loc["STB"]) == (1.0, 0.7, 0.727)


def test_krook_has_two_parsimonious_models_and_seven_prime_implicants():
    data = frame(KROOK, [*KROOK_CONDITIONS, "WNP"])
    table = qca.truth_table(data[KROOK_CONDITIONS], data["WNP"])
    conservative = qca.minimize(table, conditions=KROOK_CONDITIONS)
    assert set(conservative.expressions()[0].split(" + ")) == {
        "~ES*~WS*WM*LP", "ES*QU*~WS*WM", "ES*QU*~WS*LP", "ES*WS*~WM*~LP", "ES*WS*WM*LP",
    }
    parsimonious = qca.minimize(table, conditions=KROOK_CONDITIONS, include_remainders=True)
    assert {frozenset(e.split(" + ")) for e in parsimonious.expressions()} == {
        frozenset({"WS", "ES*WM", "QU*LP", "~ES*LP"}), frozenset({"WS", "ES*WM", "QU*LP", "WM*LP"})}
    assert set(parsimonious.chart.index) == {"WS", "~ES*LP", "ES*WM", "QU*LP", "WM*LP", "ES*~QU*~LP", "~QU*~WM*~LP"}
    assert list(parsimonious.chart.columns) == [4, 12, 21, 24, 26, 27, 28, 29, 32]
    assert parsimonious.chart.loc["WS"].tolist() == [False, False, True, True, False, False, False, True, True]
    necessity = qca.necessity(data[KROOK_CONDITIONS], data["WNP"]).round(3)
    assert tuple(necessity.loc["LP"]) == (0.727, 0.929, 0.889) and tuple(necessity.loc["~WS"]) == (0.545, 0.312, 0.353)


Y = [
    180.85528817843857, 182.09466017509524, 173.90696685318946, 170.46502826537238, 181.05887455840394,
    156.82044032296272, 181.30098551068392, 172.23815894774785, 172.1584025605663, 165.8067799752587, 173.83752193648,
    193.17312043704217, 178.70627864257955, 180.20216457554957, 167.4946800549767,
]


def test_direct_calibration_reproduces_qca():
    values = pd.Series(Y)
    increasing = qca.calibrate_fuzzy(values, exclusion=165, crossover=175, inclusion=185)
    assert np.allclose(increasing, [
        0.8486502644, 0.8898274110, 0.4202281368, 0.2082848994, 0.8561899153, 0.0047122780, 0.8647466321,
        0.3072074727, 0.3022321494, 0.0625681594, 0.4152546341, 0.9952788213, 0.7486247719, 0.8222615750,
        0.0988653686,
    ], atol=1e-9)
    decreasing = qca.calibrate_fuzzy(values, exclusion=185, crossover=175, inclusion=165)
    assert np.allclose(
        decreasing[:6], [0.151349736, 0.110172589, 0.579771863, 0.791715101, 0.143810085, 0.995287722], atol=1e-8
    )
    assert qca.calibrate_crisp(values, 175).tolist()[:15] == [1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0]


def test_ragins_log_odds_of_three_at_the_anchors():
    # With idm = 0.9526 the anchors sit at log-odds +-3 (Ragin 2008): full membership 0.953, full non-membership 0.047.
    values = pd.Series([10.0, 20.0, 30.0])
    scores = qca.calibrate_fuzzy(values, exclusion=10, crossover=20, inclusion=30, idm=np.exp(3) / (1 + np.exp(3)))
    assert scores.round(3).tolist() == [0.047, 0.5, 0.953]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"the crossover \(5\) must lie strictly between"):
        qca.calibrate_fuzzy(pd.Series([1.0, 2.0]), exclusion=1, crossover=5, inclusion=3)
    with pytest.raises(ValueError, match="memberships must lie between 0 and 1"):
        qca.truth_table(pd.DataFrame({"A": [2.0]}), pd.Series([1.0]))
    table = qca.truth_table(pd.DataFrame({"A": [0.0, 1.0]}), pd.Series([0.0, 0.0]))
    with pytest.raises(ValueError, match="no truth-table row is positive"):
        qca.minimize(table, conditions=["A"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 1)] * 4), min_size=3, max_size=20))
def test_every_model_covers_exactly_the_positive_rows_it_must(rows):
    data = pd.DataFrame(rows, columns=["A", "B", "C", "Y"]).astype(float)
    table = qca.truth_table(data[["A", "B", "C"]], data["Y"])
    if not (table["OUT"] == "1").any():
        return
    for remainders in (False, True):
        solution = qca.minimize(table, conditions=["A", "B", "C"], include_remainders=remainders)
        positives = [tuple(r) for r in table.loc[table["OUT"] == "1", ["A", "B", "C"]].to_numpy()]
        negatives = [tuple(r) for r in table.loc[table["OUT"] == "0", ["A", "B", "C"]].to_numpy()]
        for model in solution.models:
            assert all(any(t.covers(p, ["A", "B", "C"]) for t in model) for p in positives)
            assert not any(t.covers(n, ["A", "B", "C"]) for t in model for n in negatives)
            fit = qca.fit(model, data[["A", "B", "C"]], data["Y"])
            assert fit[["inclS", "covS"]].stack().between(0, 1).all()


def test_cases_at_the_crossover_are_named():
    data = pd.DataFrame({"A": [0.5, 0.9], "B": [0.2, 0.5]}, index=["x", "y"])
    assert qca.cases_at_crossover(data) == ["x", "y"]
    assert qca.cases_at_crossover(data.replace(0.5, 0.6)) == []


def test_solution_membership_is_the_fuzzy_or_of_its_terms_and_gives_the_models_fit(lf):
    table = qca.truth_table(lf[CONDITIONS], lf["SURV"], incl_cut=0.8)
    solved = qca.solutions(table, conditions=CONDITIONS)
    members = solved.membership(lf[CONDITIONS], which="parsimonious")  # DEV*~IND + URB*STB
    expected = np.maximum(np.minimum(lf["DEV"], 1 - lf["IND"]), np.minimum(lf["URB"], lf["STB"]))
    assert members.round(12).tolist() == expected.round(12).tolist() and members.name == "DEV*~IND + URB*STB"
    # The XY plot's consistency and coverage are those of the model in the fit table.
    x, y = members, lf["SURV"]
    fitted = solved.fit(lf[CONDITIONS], lf["SURV"], which="parsimonious").loc["model"]
    assert np.minimum(x, y).sum() / x.sum() == pytest.approx(fitted["inclS"])
    assert np.minimum(x, y).sum() / y.sum() == pytest.approx(fitted["covS"])


def test_no_solution_has_no_membership(lf):
    table = qca.truth_table(lf[CONDITIONS], lf["SURV"], incl_cut=1.0)
    solved = qca.solutions(table, conditions=CONDITIONS)
    assert solved.complex is None and solved.membership(lf[CONDITIONS]).empty
    assert qca.membership([], lf[CONDITIONS]).eq(0).all()
