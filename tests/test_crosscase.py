from __future__ import annotations

from types import SimpleNamespace

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


def _joint():
    """A joint display of three units: B without a survey mean (too few answered), C with no
    interview and no outcome value, A's staff views differing."""
    profile = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "characteristic_id": "m", "mean": [2.256, np.nan, 1.5],
                            "agreement": ["not shared", "too few", "shared"]})
    density = pd.DataFrame({"m": [1.234, 0.0, np.nan]}, index=["A", "B", "C"])
    quotes = pd.DataFrame({"microsystem_id": ["A"], "characteristic_id": ["m"], "excerpt": ["We chart falls " * 8]})
    matrix = crosscase.meta_matrix(profile, profile, density, quotes, order=["B", "A", "C"], characteristics=["m"])
    units = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "name": ["Ward A", "Clinic B", "Unit C"],
                          "setting": ["Ward", "Clinic", "Ward"]})
    outcomes = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "falls": [3.456, 1.2, np.nan]})
    return crosscase.joint_display(matrix, units, outcomes, outcome_ids=["falls"])


FALLS = SimpleNamespace(id="falls", label="Falls", unit="per 1,000 bed-days", better="lower")


def test_joint_display_keeps_every_unit_in_order_with_name_setting_and_outcome():
    joint = _joint()
    assert joint.index.tolist() == ["B", "A", "C"]
    assert joint[("microsystem", "name")].tolist() == ["Clinic B", "Ward A", "Unit C"]
    assert joint[("outcome", "falls")].iloc[1] == 3.456 and pd.isna(joint[("outcome", "falls")].iloc[2])


def test_means_carry_their_verdict_mark_and_withheld_ones_stay_missing():
    marked = crosscase.marked_means(_joint())["m"]
    assert pd.isna(marked["B"]) and marked["A"] == "2.26 ●" and marked["C"] == "1.50"
    panel = crosscase.joint_panel(_joint(), ["m"], labels={"m": "Measurement"}, outcomes=[FALLS])
    assert list(panel.labels.values()) == ["Unit", "Setting", "Falls", "Measurement", "interviews"]
    assert any(note.startswith("● staff views differ") for note in panel.notes)
    assert not any(note.startswith("○") for note in panel.notes)  # no mean marked "too few" is shown
    assert "Falls: per 1,000 bed-days." in panel.notes
    quotes = crosscase.quote_panel(_joint(), "m", outcomes=[FALLS])
    assert quotes.frame["quote"].notna().tolist() == [False, True, False]
    assert quotes.labels["quote"] == "Quote" and quotes.kinds["mean"] == "level"


def test_joint_display_exports_for_people_and_reads_back_formatted(tmp_path):
    from openpyxl import load_workbook

    written = crosscase.export_joint_display(_joint(), tmp_path / "meta_matrix", labels={"m": "Measurement"},
                                             outcomes=[FALLS])
    assert [p.name for p in written] == ["meta_matrix.csv", "meta_matrix.xlsx"]
    csv = pd.read_csv(tmp_path / "meta_matrix.csv")
    assert csv.columns.tolist() == ["Unit", "Unit id", "Setting", "Falls (per 1,000 bed-days)",
                                    "Measurement: survey mean", "Measurement: staff views",
                                    "Measurement: interviews (coded segments per 1,000 words)", "Measurement: quote"]
    assert csv["Unit"].tolist() == ["Clinic B", "Ward A", "Unit C"]
    assert csv["Measurement: survey mean"].tolist()[1:] == [2.26, 1.5]  # means to two decimals
    assert csv["Measurement: interviews (coded segments per 1,000 words)"].tolist()[:2] == [0.0, 1.23]

    book = load_workbook(tmp_path / "meta_matrix.xlsx")
    assert book.sheetnames == ["Meta-matrix", "Notes"]
    sheet = book["Meta-matrix"]
    header = [c.value for c in sheet[1]]
    assert header == csv.columns.tolist()
    assert sheet.freeze_panes == "B2"  # header row and unit names stay in view
    assert sheet.auto_filter.ref == f"A1:H{len(csv) + 1}"
    assert all(c.font.bold and c.alignment.wrap_text for c in sheet[1])
    mean = sheet.cell(row=3, column=header.index("Measurement: survey mean") + 1)
    assert mean.value == 2.26 and mean.number_format == "0.00"
    assert sheet.cell(row=2, column=header.index("Measurement: survey mean") + 1).value is None  # withheld: blank
    quote_column = header.index("Measurement: quote") + 1
    quote = sheet.cell(row=3, column=quote_column)
    assert quote.value.startswith("We chart falls") and quote.alignment.wrap_text
    letter = quote.column_letter
    assert sheet.column_dimensions[letter].width >= 50  # wrapped at a readable width
    assert 8 <= sheet.column_dimensions["A"].width <= 45 and sheet.column_dimensions["B"].width < 20
    assert "best on the first outcome first" in book["Notes"]["A1"].value


def test_export_rounds_by_kind_and_names_its_sheet(tmp_path):
    from openpyxl import load_workbook

    table = pd.DataFrame({"unit": ["A", "B"], "n": [12.0, 7.0], "cant_rate_share": [0.4567, 0.1],
                          "rwg": [0.71234, 0.5]}).set_index("unit")
    crosscase.export_table(table, tmp_path / "agreement_by_unit", labels={"n": "People"}, sheet="Agreement: [units]?")
    csv = pd.read_csv(tmp_path / "agreement_by_unit.csv")
    assert csv.columns.tolist() == ["unit", "People", "cant_rate_share (%)", "rwg"]  # a named index is a column
    assert csv["People"].tolist() == [12, 7] and csv["cant_rate_share (%)"].tolist() == [45.7, 10.0]
    assert csv["rwg"].tolist() == [0.71, 0.5]
    sheet = load_workbook(tmp_path / "agreement_by_unit.xlsx").worksheets[0]
    assert sheet.title == "Agreement units" and "Sheet1" not in sheet.title
    assert sheet["B2"].number_format == "#,##0" and sheet["C2"].number_format == "0.0"
    # Without a name, the sheet is named after the file.
    crosscase.export_table(table, tmp_path / "coder-disagreements")
    assert load_workbook(tmp_path / "coder-disagreements.xlsx").sheetnames == ["Coder disagreements"]


def test_outcome_models_read_as_one_table_with_reasons_as_notes():
    fitted = crosscase.outcome_associations(PROFILE, OUTCOMES, outcome="turnover")  # 3 units: too few
    table, notes = crosscase.model_summary({"turnover": fitted}, estimate="standardised_effect",
                                           labels={"measurement": "Measurement"}, outcomes={"turnover": "Turnover"})
    assert table.columns.tolist()[:2] == ["outcome", "characteristic"] and "note" not in table
    assert notes == ["Turnover, Measurement: no estimate, too few microsystems (3; a model needs 5 or more)."]


def test_truth_table_for_people_names_cases_and_keeps_condition_names_whole():
    table = pd.DataFrame({"Role and training": [1, 0], "Purpose": [0, 1], "OUT": ["1", "?"], "n": [2, 1],
                          "incl": [0.9, 0.5], "PRI": [0.8, 0.2], "cases": ["A,B", "C"]},
                         index=pd.Index([3, 2], name="row"))
    shown = crosscase.readable_truth_table(table, conditions=["Role and training", "Purpose"],
                                           names={"A": "Ward A", "B": "Clinic B"})
    whole = "Role\u00a0and\u00a0training"  # no-break spaces: the line breaks only between conditions
    assert shown["configuration"].tolist() == [f"{whole} * ~Purpose", f"~{whole} * Purpose"]
    assert shown["cases"].tolist() == ["Ward A; Clinic B", "C"]


def test_survey_against_interviews_carries_the_verdict_and_correlations_keep_the_order():
    density = pd.DataFrame({"measurement": [0.1, 0.2, 0.0, 0.4], "aim": [1.0, 2.0, 3.0, 4.0]}, index=PROFILE.index)
    profile = PROFILE.assign(aim=[np.nan, 1.0, 2.0, 3.0])[["aim", "measurement"]]
    shared = pd.DataFrame({"aim": True, "measurement": [True, False, True, True]}, index=PROFILE.index)
    pairs = crosscase.survey_against_interviews(profile, density, shared=shared)
    assert pairs.loc[pairs["characteristic_id"].eq("measurement"), "shared"].tolist() == [True, False, True, True]
    # "aim" comes first even though its first unit has no mean.
    assert crosscase.rank_correlations(pairs)["characteristic_id"].tolist() == ["aim", "measurement"]
