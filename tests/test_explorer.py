"""The explorer: its tables against plain pandas, and its widgets redrawing when a control changes."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.demo.large import write_large_study
from workbench.explorer import Explorer, Selection, StudyExplorer
from workbench.study import load_study, open_study


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


@pytest.fixture(scope="module")
def explorer_data(demo):
    return StudyExplorer(demo)


def unit_means(answers: pd.DataFrame, characteristic: str) -> pd.Series:
    """Microsystem means on a characteristic by hand: each respondent's mean of the items
    they rated, then the mean of those over respondents with a score."""
    rated = answers[answers["characteristic_id"].eq(characteristic) & answers["level"].notna()]
    per_respondent = rated.groupby(["microsystem_id", "respondent_id"])["level"].mean()
    by_unit = per_respondent.groupby("microsystem_id")
    return by_unit.mean().where(by_unit.size() >= 5)


def test_profile_shows_chosen_microsystems_against_the_others(demo, explorer_data):
    chosen = ("MS04", "MS10")
    tables = explorer_data.tables(Selection(chosen, "measurement", tuple(demo.config.roles), "staff_turnover_pct"))
    profile = tables["profile"]
    expected = unit_means(demo.answers, "measurement")
    for unit in chosen:
        assert profile.loc["measurement", unit] == pytest.approx(expected[unit])
    others = expected.drop(list(chosen)).dropna()
    assert profile.loc["measurement", "others_median"] == pytest.approx(others.median())
    assert profile.loc["measurement", "others_q1"] == pytest.approx(others.quantile(0.25))
    assert list(profile.index) == demo.characteristics.element_ids
    outcome = tables["outcome"].set_index("microsystem_id")
    assert outcome["chosen"].sum() == 2
    turnover = demo.outcomes.set_index("microsystem_id")["staff_turnover_pct"]
    assert outcome.loc["MS10", "staff_turnover_pct"] == turnover["MS10"]


def rated_counts(answers: pd.DataFrame, item: str) -> pd.Series:
    return answers[answers["item_id"].eq(item) & answers["level"].notna()].groupby("microsystem_id").size()


def test_narrowing_the_roles_recomputes_and_hides_small_groups(demo, explorer_data):
    k = demo.config.privacy.min_cell_size
    units = tuple(demo.microsystems["microsystem_id"])
    nurses = Selection(units, "measurement", ("Nurse",), "staff_turnover_pct")
    tables = explorer_data.tables(nurses)
    only_nurses = demo.answers[demo.answers["role"].eq("Nurse")]
    rated = rated_counts(only_nurses, "measurement").reindex(list(units), fill_value=0)
    left_out = rated_counts(demo.answers, "measurement").reindex(list(units), fill_value=0) - rated
    should_hide = (rated < k) | ((left_out > 0) & (left_out < k))
    distribution = tables["distribution"].set_index("microsystem_id")
    shown = distribution["share_level_1"].reindex(list(units)).notna()
    assert (shown == ~should_hide).all()
    assert should_hide.any() and (~should_hide).any(), "the demo has units on both sides of the rule"
    expected = unit_means(only_nurses, "measurement")
    visible = tables["profile"].loc["measurement"][list(units)].dropna()
    assert len(visible) > 0
    for unit, mean in visible.items():
        assert mean == pytest.approx(expected[unit])


def test_leaving_out_one_role_cannot_reveal_the_people_left_out(demo, explorer_data):
    # Find a microsystem with exactly one respondent in some role: leaving that role out
    # must not give figures that differ from the all-roles view by that one person.
    per_role = demo.respondents.groupby(["microsystem_id", "role"]).size()
    unit, role = per_role[per_role.eq(1)].index[0]
    others = tuple(r for r in demo.config.roles if r != role)
    everyone = explorer_data.tables(Selection((unit,), "integration_of_information", tuple(demo.config.roles), ""))
    without = explorer_data.tables(Selection((unit,), "integration_of_information", others, ""))
    mine = demo.answers[demo.answers["microsystem_id"].eq(unit)]
    for item, row in without["distribution"].set_index("item_id").iterrows():
        left_out_rated = rated_counts(mine, item).get(unit, 0) - rated_counts(mine[mine["role"].ne(role)], item).get(unit, 0)
        assert row[["share_level_1", "share_level_2", "share_level_3"]].isna().all() or left_out_rated == 0, item
    assert pd.isna(without["profile"].loc["integration_of_information", unit])
    assert not pd.isna(everyone["profile"].loc["integration_of_information", unit])
    assert without["agreement"]["agreement"].tolist() == ["hidden"]


def test_roles_nobody_holds_give_empty_views_not_an_error(demo):
    import dataclasses

    without_managers = dataclasses.replace(demo, answers=demo.answers[demo.answers["role"].ne("Manager")])
    explorer = Explorer(without_managers, roles=["Manager"])
    assert explorer.tables["distribution"].empty and "Nothing to show" in explorer.distribution.value
    explorer.roles.value = ("Manager", "Nurse")
    assert not explorer.tables["distribution"].empty


def test_distribution_agreement_and_quotes_follow_the_characteristic(demo, explorer_data):
    selection = Selection(("MS05",), "integration_of_information", tuple(demo.config.roles), "staff_turnover_pct")
    tables = explorer_data.tables(selection)
    assert tables["distribution"]["item_id"].tolist() == ["information_providers_staff", "information_patients", "information_technology"]
    mine = demo.answers[demo.answers["microsystem_id"].eq("MS05") & demo.answers["item_id"].eq("information_patients")]
    rated = mine[mine["level"].notna()]
    share_high = tables["distribution"].set_index("item_id").loc["information_patients", "share_level_3"]
    assert share_high == pytest.approx((rated["level"] == 3).mean())
    assert tables["agreement"]["index"].tolist() == ["rwg(j)"]
    assert tables["iccs"]["item_id"].tolist() == ["information_providers_staff", "information_patients", "information_technology"]
    quotes = tables["quotes"]
    assert set(quotes["microsystem_id"]) <= {"MS05"} and list(quotes.columns) == ["microsystem_id", "excerpt"]
    one_role = explorer_data.tables(Selection(("MS05",), "integration_of_information", ("Clerical",), "staff_turnover_pct"))
    assert one_role["quotes"].equals(quotes), "quotes are never narrowed to a role"


def test_unknown_choices_are_refused_by_name(explorer_data, demo):
    roles = tuple(demo.config.roles)
    with pytest.raises(ValueError, match="MS99"):
        explorer_data.tables(Selection(("MS99",), "measurement", roles, ""))
    with pytest.raises(ValueError, match="characteristic must be one of"):
        explorer_data.tables(Selection(("MS01",), "kindness", roles, ""))
    with pytest.raises(ValueError, match="Surgeon"):
        explorer_data.tables(Selection(("MS01",), "measurement", ("Surgeon",), ""))


def views(explorer: Explorer) -> tuple:
    return (bytes(explorer.profile_plot.value), bytes(explorer.outcome_plot.value), explorer.distribution.value, explorer.agreement.value)


def test_changing_a_control_redraws_the_views(demo):
    explorer = Explorer(demo, microsystems=["MS01", "MS02"])
    before = views(explorer)
    assert before[0].startswith(b"\x89PNG") and "Integration of information" in explorer.distribution.value
    explorer.characteristic.value = "measurement"
    assert all(old != new for old, new in zip(before, views(explorer)))
    assert "Measurement" in explorer.distribution.value and "Info - staff" not in explorer.distribution.value
    explorer.microsystems.value = ("MS07",)
    assert "MS07" in explorer.distribution.value and "MS01" not in explorer.distribution.value
    assert explorer.tables["profile"].columns[0] == "MS07"
    explorer.outcome.value = "patient_experience_score"
    assert "patient_experience_score" in explorer.tables["outcome"].columns
    explorer.roles.value = ()
    assert "Choose one or more roles" in explorer.message.value and explorer.distribution.value == ""
    assert explorer.summary().startswith("Study explorer for 'demo': 1 microsystems (MS07), Measurement, no role")


def test_it_works_on_another_study(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    (tmp_path / "data" / "processed").mkdir(parents=True)
    write_large_study(tmp_path / "data" / "raw" / "small", microsystems=30, respondents=600, codings=900, seed=3)
    study = load_study("small")
    explorer = Explorer(study)
    assert explorer.selection.microsystems == ("U00001", "U00002", "U00003")
    explorer.characteristic.value = study.characteristics.element_ids[-1]
    assert explorer.tables["profile"].shape == (8, 6)
    assert bytes(explorer.profile_plot.value).startswith(b"\x89PNG")
