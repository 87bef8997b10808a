"""Change over time on the demo study: the charts find the improvements planted in it and
leave its stable units alone, the views behind the reports agree with the statistics they
come from, and a study without monthly outcomes or waves gets empty views, not errors.

Measured on the demo (six improving units, 37 stable ones, three monthly outcomes): the run
chart with the median frozen at a unit's change finds 17 of the 18 planted improvements (all
safety and hand-hygiene ones, 5 of 6 patient-experience ones); among the 109 charts of stable
units 7 signal anything (6%, near Anhøj's design of about 5 to 10% for 24 points) and one
signals an improvement.
"""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import feedback, spc, views
from workbench.explorer import Selection, StudyExplorer
from workbench.study import open_study


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


@pytest.fixture(scope="module")
def signals(demo):
    table = demo.view("outcome_signals")
    improvers = {change.microsystem_id for change in demo.config.changes}
    return table.assign(improver=table["microsystem_id"].isin(improvers))


def test_the_planted_improvements_are_found(signals):
    planted = signals[signals["improver"]]
    assert len(planted) == 6 * 3
    found = planted.groupby("outcome_id")["improved"].mean()
    assert found["safety_events_per_1000_patient_days"] == 1
    assert found["hand_hygiene_pct"] == 1
    assert found["patient_experience_score"] >= 4 / 6
    assert not planted["worsened"].any()


def test_stable_units_rarely_signal(signals):
    stable = signals[~signals["improver"]]
    assert len(stable) > 100
    assert stable["signal"].mean() <= 0.12  # any signal: runs or crossings (false-signal rate)
    assert stable["improved"].mean() <= 0.05


def test_the_charts_view_is_the_statistics_module_on_one_unit(demo):
    spec = demo.outcome("hand_hygiene_pct")
    change = next(c for c in demo.config.changes if c.microsystem_id == "MS08")
    months = demo.outcome_series.query("microsystem_id == 'MS08' and outcome_id == 'hand_hygiene_pct'")
    control, _ = spc.control_chart(months, kind="proportion", per=100, better="higher", phases=[change.period])
    run, summary = spc.run_chart(months, kind="proportion", per=100, better="higher", baseline_end=change.period)
    stored = demo.view("outcome_charts", microsystem_id="MS08").query("outcome_id == 'hand_hygiene_pct'")
    for column in ("y", "centre", "lcl", "ucl", "phase"):
        assert stored[column].to_numpy() == pytest.approx(control[column].to_numpy(), nan_ok=True), column
    assert stored["run_centre"].to_numpy() == pytest.approx(run["centre"].to_numpy())
    assert stored["phase"].max() == 1 and spec.kind == "proportion"
    row = demo.view("outcome_signals", microsystem_id="MS08").query("outcome_id == 'hand_hygiene_pct'").iloc[0]
    assert row["longest_run"] == summary.longest_run and row["change"] == change.what
    assert "an improvement" in row["words"]


def test_funnel_views_are_the_funnel_of_the_latest_months(demo):
    window = demo.config.analysis.outcome_window_months
    series = demo.outcome_series
    recent = series[series["period"] > series["period"].max() - pd.DateOffset(months=window)]
    totals = (recent[recent["outcome_id"].eq("safety_events_per_1000_patient_days")]
              .groupby("microsystem_id")[["numerator", "denominator"]].sum().reset_index())
    direct = spc.funnel_table(totals, kind="rate", per=1000)
    stored = views.funnel(demo, "safety_events_per_1000_patient_days")
    assert stored.target == pytest.approx(direct.target) and stored.tau2 == pytest.approx(direct.tau2)
    assert stored.adjusted == direct.adjusted
    assert stored.table["y"].to_numpy() == pytest.approx(direct.table["y"].to_numpy())
    assert stored.table["beyond"].fillna("").tolist() == direct.table["beyond"].fillna("").tolist()
    # the unit value used to compare units is the same window's pooled rate
    outcome = demo.outcomes.set_index("microsystem_id")["safety_events_per_1000_patient_days"]
    assert outcome.loc[totals["microsystem_id"]].to_numpy() == pytest.approx(direct.table["y"].to_numpy())
    assert views.funnel(demo, "patient_experience_score") is None  # a measurement: no funnel


def test_a_feedback_report_says_what_its_charts_show(demo):
    specs = demo.config.series_outcomes
    improver = feedback.outcome_sentences(demo.view("outcome_signals", microsystem_id="MS08"),
                                          demo.view("outcome_funnels", microsystem_id="MS08"), specs)
    assert len(improver) == 3 and all("an improvement" in line for line in improver[:2])
    stable = demo.view("outcome_signals").query("not signal and outside_months == 0")["microsystem_id"].iloc[0]
    lines = feedback.outcome_sentences(demo.view("outcome_signals", microsystem_id=stable),
                                       demo.view("outcome_funnels", microsystem_id=stable), specs)
    assert any("no signal" in line for line in lines)
    assert all("Last 12 months" in line for line in lines if not line.startswith("Patient experience"))


def test_the_explorer_draws_a_units_run_chart_only_for_monthly_outcomes(demo):
    data = StudyExplorer(demo)
    chosen = Selection(("MS08", "MS01"), "measurement", tuple(demo.config.roles), "hand_hygiene_pct")
    charts = data.run_charts(chosen)
    assert [unit for unit, _, _ in charts] == ["MS08", "MS01"]
    unit, chart, summary = charts[0]
    assert summary.centre_label == "baseline median" and summary.runs_signal
    assert not data.run_charts(Selection(("MS08",), "measurement", tuple(demo.config.roles), "staff_turnover_pct"))


def test_the_change_since_the_last_wave_finds_the_improvers_on_measurement(demo):
    changes = demo.view("unit_changes").query("characteristic_id == 'measurement'").set_index("microsystem_id")
    improvers = sorted({change.microsystem_id for change in demo.config.changes})
    assert (changes.loc[improvers, "change"] > 0).all()
    study = demo.view("study_changes").set_index("characteristic_id")
    assert study.loc["measurement", "units_up"] >= 3
    # the study-wide change is the mean of the shown unit changes
    shown = changes[changes["shown"]]
    assert study.loc["measurement", "change"] == pytest.approx(shown["change"].mean())


def test_a_study_without_monthly_outcomes_has_empty_outcome_views(demo):
    import dataclasses

    bare = dataclasses.replace(demo, config=demo.config.model_copy(update={"outcomes": [], "changes": []}))
    computed = views.outcome_views(bare)
    assert all(frame.empty for frame in computed.values())
    assert list(computed["outcome_signals"].columns) == list(views.SIGNAL_COLUMNS)
