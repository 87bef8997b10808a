"""The explorer: its tables against the study views and plain pandas, its privacy under role
filters, and its widgets redrawing when a control changes."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from workbench import views
from workbench.demo.large import write_large_study
from workbench.explorer import Explorer, Selection, StudyExplorer, outcome_figure, profile_figure, profile_png
from workbench.study import build_processed, load_study, open_study
from workbench.vocabulary import TOO_FEW, LevelScale


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


@pytest.fixture(scope="module")
def explorer_data(demo):
    return StudyExplorer(demo)


def in_memory(study, **changes):
    """A changed copy of ``study`` held in memory: its views are computed from its own frames,
    not read from the processed folder it was opened from."""
    return dataclasses.replace(study, **changes, processed=None)


def with_small_units_below_the_rule(study):
    """``study`` in memory with min_cell_size one above its smallest unit's number of
    respondents, so that unit's figures (and some of others) are too few to show. The
    regenerated demo's units are large enough that nothing in it falls below its own rule of
    5; this gives the tests of hidden figures something hidden, chosen by a rule."""
    smallest = int(study.respondents.groupby("microsystem_id", observed=True).size().min())
    privacy = study.config.privacy.model_copy(update={"min_cell_size": smallest + 1})
    return in_memory(study, config=study.config.model_copy(update={"privacy": privacy}))


def unit_means(answers: pd.DataFrame, characteristic: str, k: int = 5) -> pd.Series:
    """Microsystem means on a characteristic by hand: each respondent's mean of the items
    they rated, then the mean of those over respondents with a score (from at least k)."""
    rated = answers[answers["characteristic_id"].eq(characteristic) & answers["level"].notna()]
    per_respondent = rated.groupby(["microsystem_id", "respondent_id"])["level"].mean()
    by_unit = per_respondent.groupby("microsystem_id")
    return by_unit.mean().where(by_unit.size() >= k)


def reported_means(study) -> pd.DataFrame:
    """The feedback report's unit means: characteristic x microsystem, NaN where not reported."""
    profiles = study.view("unit_profiles")
    assert profiles.loc[~profiles["reported"], "mean"].isna().all()
    return profiles.pivot(index="characteristic_id", columns="microsystem_id", values="mean")


def test_profile_shows_chosen_microsystems_against_the_others(demo, explorer_data):
    chosen = ("MS04", "MS10")
    tables = explorer_data.tables(Selection(chosen, "measurement", tuple(demo.config.roles), "staff_turnover_pct"))
    profile = tables["profile"]
    reported = reported_means(demo).loc["measurement"]
    by_hand = unit_means(demo.answers, "measurement")
    for unit in chosen:
        assert profile.loc["measurement", unit] == pytest.approx(reported[unit], nan_ok=True)
        if not pd.isna(reported[unit]):
            assert reported[unit] == pytest.approx(by_hand[unit])
    # The others' quartiles come from reported means only.
    others = reported.drop(list(chosen)).dropna()
    assert profile.loc["measurement", "others_median"] == pytest.approx(others.median())
    assert profile.loc["measurement", "others_q1"] == pytest.approx(others.quantile(0.25))
    assert profile.loc["measurement", "others_q3"] == pytest.approx(others.quantile(0.75))
    assert list(profile.index) == demo.characteristics.element_ids
    outcome = tables["outcome"].set_index("microsystem_id")
    assert outcome["chosen"].sum() == 2
    turnover = demo.outcomes.set_index("microsystem_id")["staff_turnover_pct"]
    assert outcome.loc["MS10", "staff_turnover_pct"] == turnover["MS10"]


def test_with_all_roles_the_explorer_shows_exactly_the_feedback_reports_means(demo, explorer_data):
    # The demo as it is (every mean reported), then with a stricter rule that hides some means.
    assert_the_explorer_shows_exactly_the_feedback_reports_means(demo, explorer_data, hidden=False)
    stricter = with_small_units_below_the_rule(demo)
    assert_the_explorer_shows_exactly_the_feedback_reports_means(stricter, StudyExplorer(stricter), hidden=True)


def assert_the_explorer_shows_exactly_the_feedback_reports_means(demo, explorer_data, *, hidden: bool):
    units = tuple(demo.microsystems["microsystem_id"])
    expected = reported_means(demo).reindex(index=demo.characteristics.element_ids, columns=list(units))
    assert expected.notna().any().any()
    assert bool(expected.isna().any().any()) is hidden, "the study has hidden means" if hidden else "nothing hidden"
    profiles = demo.view("unit_profiles")
    for characteristic in demo.characteristics.element_ids:
        tables = explorer_data.tables(Selection(units, characteristic, tuple(demo.config.roles), "staff_turnover_pct"))
        shown = tables["profile"][list(units)]
        pd.testing.assert_frame_equal(shown, expected, check_names=False, check_dtype=False)
        outcome = tables["outcome"].set_index("microsystem_id")["mean"]
        pd.testing.assert_series_equal(outcome.reindex(list(units)), expected.loc[characteristic], check_names=False,
                                       check_index=False)
        # The verdicts and agreement indices are the view's too.
        mine = profiles[profiles["characteristic_id"].eq(characteristic)].set_index("microsystem_id")
        mine = mine.reindex(list(units))
        agreement = tables["agreement"].set_index("microsystem_id")
        assert agreement["agreement"].tolist() == mine["agreement"].tolist()
        np.testing.assert_allclose(agreement["agreement_index"], mine["agreement_index"])
    # Where the unit's staff do not agree the mean is shown, flagged (not censored by how extreme it is).
    not_shared = profiles[profiles["agreement"].eq("not shared")]
    assert len(not_shared) and not_shared["mean"].notna().mean() > 0.95
    assert not not_shared["shared"].any() and profiles.loc[profiles["agreement"].eq("shared"), "shared"].all()
    flagged = tables["shared"]  # the last characteristic's selection: every unit
    assert (~flagged).any().any() and flagged.any().any()
    pd.testing.assert_frame_equal(flagged, profiles.pivot(index="characteristic_id", columns="microsystem_id",
                                                          values="shared").reindex(index=flagged.index,
                                                                                   columns=list(units)),
                                  check_names=False)


def test_a_study_may_hide_means_whose_staff_do_not_agree(demo):
    analysis = demo.config.analysis.model_copy(update={"unshared": "hide"})
    hiding = in_memory(demo, config=demo.config.model_copy(update={"analysis": analysis}))
    profiles = hiding.view("unit_profiles")
    assert profiles.loc[~profiles["shared"], "mean"].isna().all()
    assert profiles.loc[~profiles["shared"], "analysis_mean"].notna().any()
    assert profiles["reported"].equals(profiles["mean"].notna())


def rated_counts(answers: pd.DataFrame, item: str) -> pd.Series:
    return answers[answers["item_id"].eq(item) & answers["level"].notna()].groupby("microsystem_id").size()


def test_narrowing_the_roles_recomputes_and_hides_small_groups(demo, explorer_data):
    k = demo.disclosure.min_cell_size
    units = tuple(demo.microsystems["microsystem_id"])
    nurses = Selection(units, "measurement", ("Nurse",), "staff_turnover_pct")
    tables = explorer_data.tables(nurses)
    only_nurses = demo.answers[demo.answers["role"].eq("Nurse")]
    rated = rated_counts(only_nurses, "measurement").reindex(list(units), fill_value=0)
    left_out = rated_counts(demo.answers, "measurement").reindex(list(units), fill_value=0) - rated
    should_hide = (rated < k) | ((left_out > 0) & (left_out < k))
    distribution = tables["distribution"].set_index("microsystem_id")
    shown = distribution["share_level_1"].reindex(list(units)).notna()
    assert not (shown & should_hide).any()
    assert should_hide.any() and shown.any(), "the demo has units on both sides of the rule"
    expected = unit_means(only_nurses, "measurement", k)
    visible = tables["profile"].loc["measurement"][list(units)].dropna()
    assert len(visible) > 0
    for unit, mean in visible.items():
        assert mean == pytest.approx(expected[unit])
        assert not should_hide[unit]
    # A mean is shown with its verdict (never for too few), flagged where the nurses do not agree.
    agreement = tables["agreement"].set_index("microsystem_id")
    assert agreement.loc[visible.index, "agreement"].isin(["shared", "not shared"]).all()
    assert tables["profile"].loc["measurement", agreement.index[agreement["agreement"].eq("too few")]].isna().all()
    assert (tables["shared"].loc["measurement"] == agreement["agreement"].eq("shared").reindex(units)).all()


def test_leaving_out_one_role_cannot_reveal_the_people_left_out(demo, explorer_data):
    # Find a microsystem with exactly one respondent in some role: leaving that role out
    # must not give figures that differ from the all-roles view by that one person.
    per_role = demo.respondents.groupby(["microsystem_id", "role"]).size()
    everyone_profiles = demo.view("unit_profiles").set_index(["microsystem_id", "characteristic_id"])
    candidates = [(unit, role) for unit, role in per_role[per_role.eq(1)].index
                  if everyone_profiles.loc[(unit, "integration_of_information"), "reported"]]
    unit, role = candidates[0]
    others = tuple(r for r in demo.config.roles if r != role)
    everyone = explorer_data.tables(Selection((unit,), "integration_of_information", tuple(demo.config.roles), ""))
    without = explorer_data.tables(Selection((unit,), "integration_of_information", others, ""))
    mine = demo.answers[demo.answers["microsystem_id"].eq(unit)]
    for item, row in without["distribution"].set_index("item_id").iterrows():
        left_out_rated = (rated_counts(mine, item).get(unit, 0)
                          - rated_counts(mine[mine["role"].ne(role)], item).get(unit, 0))
        assert row[["share_level_1", "share_level_2", "share_level_3"]].isna().all() or left_out_rated == 0, item
        left_out_answers = (mine["item_id"].eq(item).sum() - (mine["item_id"].eq(item) & mine["role"].ne(role)).sum())
        assert pd.isna(row["cant_rate_share"]) or left_out_answers == 0, item
    assert pd.isna(without["profile"].loc["integration_of_information", unit])
    assert not pd.isna(everyone["profile"].loc["integration_of_information", unit])
    assert without["agreement"]["agreement"].tolist() == [TOO_FEW]
    assert without["agreement"]["agreement_index"].isna().all()


def one_and_all_but_one(roles: list[str]) -> list[tuple[str, ...]]:
    return [(role,) for role in roles] + [tuple(r for r in roles if r != role) for role in roles]


def test_no_role_filter_shows_a_figure_from_or_setting_apart_fewer_than_k_people(demo, explorer_data):
    """For each single role and each all-but-one-role filter: every figure shown for any unit
    rests on at least k people and differs from the all-roles figure by none or at least k."""
    k = demo.disclosure.min_cell_size
    everyone = explorer_data._for_roles(tuple(demo.config.roles))

    def safe(count, full):
        return (count >= k) & ((full - count == 0) | (full - count >= k))

    hidden_somewhere = 0
    for roles in one_and_all_but_one(demo.config.roles):
        computed = explorer_data._for_roles(roles)
        keys = ["microsystem_id", "characteristic_id"]
        profile = computed["profile"].merge(everyone["profile"][[*keys, "n_scored", "n_agreement"]], on=keys,
                                            suffixes=("", "_all"))
        shown = profile["mean"].notna()
        assert safe(profile.loc[shown, "n_scored"], profile.loc[shown, "n_scored_all"]).all(), roles
        assert profile.loc[shown, "agreement"].ne("too few").all(), roles
        shown = profile["agreement_index"].notna()
        assert safe(profile.loc[shown, "n_agreement"], profile.loc[shown, "n_agreement_all"]).all(), roles
        hidden_somewhere += int(profile["analysis_mean"].isna().sum())
        keys = ["microsystem_id", "item_id"]
        items = computed["items"].merge(everyone["items"][[*keys, "n_rated", "n_respondents"]], on=keys,
                                        suffixes=("", "_all"))
        shown = items["share_level_1"].notna()
        assert safe(items.loc[shown, "n_rated"], items.loc[shown, "n_rated_all"]).all(), roles
        shown = items["cant_rate_share"].notna()
        assert safe(items.loc[shown, "n_respondents"], items.loc[shown, "n_respondents_all"]).all(), roles
    assert hidden_somewhere > 0


def test_two_role_filters_cannot_be_set_against_each_other(demo, explorer_data):
    """One role, then that role and another: both shown for a unit, their difference describes
    the other role's people there, who must then be none or at least k."""
    k = demo.disclosure.min_cell_size
    keys = ["microsystem_id", "item_id"]
    exposed = []
    for pair in itertools.combinations(demo.config.roles, 2):
        both = explorer_data._for_roles(pair)["items"]
        for role in pair:
            one = explorer_data._for_roles((role,))["items"]
            matched = one.merge(both, on=keys, suffixes=("", "_both"))
            shown = matched["share_level_1"].notna() & matched["share_level_1_both"].notna()
            apart = matched["n_rated_both"] - matched["n_rated"]
            exposed += matched.loc[shown & apart.between(1, k - 1), keys].assign(roles=str(pair)).values.tolist()
    assert exposed == []


def test_the_explorer_keeps_no_rule_of_its_own(demo):
    """A stricter disclosure rule and agreement threshold in the study change what the
    explorer shows exactly as they change the views."""
    privacy = demo.config.privacy.model_copy(update={"min_cell_size": 10})
    policy = demo.agreement_policy.model_copy(update={"threshold": 0.8})
    analysis = demo.config.analysis.model_copy(update={"agreement": policy})
    strict = in_memory(demo, config=demo.config.model_copy(update={"privacy": privacy, "analysis": analysis}))
    assert strict.disclosure.min_cell_size == 10 and strict.agreement_policy.threshold == 0.8
    units = tuple(strict.microsystems["microsystem_id"])
    explorer = StudyExplorer(strict)
    tables = explorer.tables(Selection(units, "measurement", tuple(strict.config.roles), ""))
    expected = reported_means(strict)
    pd.testing.assert_frame_equal(tables["profile"][list(units)], expected.reindex(
        index=strict.characteristics.element_ids, columns=list(units)), check_names=False, check_dtype=False)
    assert expected.notna().sum().sum() < reported_means(demo).notna().sum().sum()
    # A role filter: the views computed from those roles' answers, rows withheld where a role group is small.
    nurses = strict.answers[strict.answers["role"].eq("Nurse")]
    direct = views.unit_profiles(nurses, scale=strict.scale, policy=strict.agreement_policy,
                                 disclosure=strict.disclosure, min_items=strict.config.analysis.min_items)
    shown = explorer._for_roles(("Nurse",))["profile"]
    withheld = shown["n_scored"].isna().to_numpy()
    assert 0 < withheld.sum() < len(shown)
    pd.testing.assert_frame_equal(shown[~withheld], direct[~withheld], check_dtype=False)
    assert shown.loc[withheld, ["mean", "agreement_index", "n_respondents"]].isna().all().all()
    widgets = Explorer(strict, microsystems=list(units), characteristic="measurement")
    assert "&lt;10" in widgets.distribution.value and "&lt;5" not in widgets.distribution.value
    assert "fewer than 10 people" in widgets.distribution.value and "at least 0.80" in widgets.agreement.value


def test_roles_nobody_holds_give_empty_views_not_an_error(demo):
    without_managers = in_memory(demo, answers=demo.answers[demo.answers["role"].ne("Manager")])
    explorer = Explorer(without_managers, roles=["Manager"])
    assert explorer.tables["distribution"].empty and "Nothing to show" in explorer.distribution.value
    assert explorer.tables["profile"][list(explorer.selection.microsystems)].isna().all().all()
    assert explorer.tables["agreement"]["agreement"].eq(TOO_FEW).all()
    explorer.roles.value = ("Manager", "Nurse")
    assert not explorer.tables["distribution"].empty


def test_distribution_agreement_and_quotes_follow_the_characteristic(demo, explorer_data):
    selection = Selection(("MS05",), "integration_of_information", tuple(demo.config.roles), "staff_turnover_pct")
    tables = explorer_data.tables(selection)
    items = ["information_providers_staff", "information_patients", "information_technology"]
    assert tables["distribution"]["item_id"].tolist() == items
    mine = demo.answers[demo.answers["microsystem_id"].eq("MS05") & demo.answers["item_id"].eq("information_patients")]
    rated = mine[mine["level"].notna()]
    share_high = tables["distribution"].set_index("item_id").loc["information_patients", "share_level_3"]
    assert share_high == pytest.approx((rated["level"] == 3).mean())
    assert tables["agreement"]["index"].tolist() == ["rwg(j)"]
    assert tables["iccs"]["item_id"].tolist() == items
    quotes = tables["quotes"]
    assert set(quotes["microsystem_id"]) <= {"MS05"} and list(quotes.columns) == ["microsystem_id", "excerpt"]
    one_role = explorer_data.tables(Selection(("MS05",), "integration_of_information", ("Clerical",),
                                              "staff_turnover_pct"))
    assert one_role["quotes"].equals(quotes), "quotes are never narrowed to a role"


def test_unknown_choices_are_refused_by_name(explorer_data, demo):
    roles = tuple(demo.config.roles)
    with pytest.raises(ValueError, match="MS99"):
        explorer_data.tables(Selection(("MS99",), "measurement", roles, ""))
    with pytest.raises(ValueError, match="characteristic must be one of"):
        explorer_data.tables(Selection(("MS01",), "kindness", roles, ""))
    with pytest.raises(ValueError, match="Surgeon"):
        explorer_data.tables(Selection(("MS01",), "measurement", ("Surgeon",), ""))


def shown_views(explorer: Explorer) -> tuple:
    return (bytes(explorer.profile_plot.value), bytes(explorer.outcome_plot.value), explorer.distribution.value,
            explorer.agreement.value)


def test_changing_a_control_redraws_the_views(demo):
    explorer = Explorer(demo, microsystems=["MS01", "MS02"])
    before = shown_views(explorer)
    assert before[0].startswith(b"\x89PNG") and "Integration of information" in explorer.distribution.value
    explorer.characteristic.value = "measurement"
    assert all(old != new for old, new in zip(before, shown_views(explorer)))
    assert "Measurement" in explorer.distribution.value and "Info - staff" not in explorer.distribution.value
    explorer.microsystems.value = ("MS07",)
    assert "MS07" in explorer.distribution.value and "MS01" not in explorer.distribution.value
    assert explorer.tables["profile"].columns[0] == "MS07"
    explorer.outcome.value = "patient_experience_score"
    assert "patient_experience_score" in explorer.tables["outcome"].columns
    explorer.roles.value = ()
    assert "Choose one or more roles" in explorer.message.value and explorer.distribution.value == ""
    assert explorer.summary().startswith("Study explorer for 'demo': 1 microsystems (MS07), Measurement, no role")


def test_counts_below_the_rule_are_shown_by_the_disclosure_marker(demo):
    assert demo.disclosure.marker == "<5"
    # No count in the demo is below its rule of 5 any more: a stricter rule makes some.
    study = with_small_units_below_the_rule(demo)
    k = study.disclosure.min_cell_size
    units = list(study.microsystems["microsystem_id"])
    small = study.view("unit_profiles").query("n_scored < @k")
    explorer = Explorer(study, microsystems=units, characteristic=small["characteristic_id"].iloc[0])
    marker = study.disclosure.marker
    assert marker == f"<{k}" and f"&lt;{k}" in explorer.distribution.value and f"&lt;{k}" in explorer.agreement.value
    counts = explorer.tables["distribution"]["n_rated"]
    assert ((counts > 0) & (counts < k)).any()
    for small in counts[(counts > 0) & (counts < k)].unique():
        assert f"<td>{small}</td>" not in explorer.distribution.value


def test_under_a_role_filter_counts_are_withheld_or_at_least_k_and_the_role_groups_are_named(demo):
    units = list(demo.microsystems["microsystem_id"])
    explorer = Explorer(demo, microsystems=units, roles=["Clerical"])
    counts = explorer.tables["distribution"]["n_rated"]
    assert counts.isna().any() and (counts.dropna() >= 5).all()
    assert "–" in explorer.distribution.value and "counted together" in explorer.message.value
    assert "Clerical + Manager" in explorer.message.value


@pytest.mark.parametrize("levels", [(1, 2, 3), (1, 2, 3, 4, 5)])
def test_plots_put_the_levels_of_the_scale_on_their_axis(levels):
    scale = LevelScale.from_values(levels)
    profile = pd.DataFrame({"A": [scale.high, np.nan], "others_q1": [scale.low, scale.low], "others_median": [2.0, 2.5],
                            "others_q3": [scale.high, scale.high]}, index=["m", "n"])
    assert profile_png(profile, labels={}, highlight="m", names={"A": "Unit A"}, scale=scale).startswith(b"\x89PNG")
    outcome = pd.DataFrame({"microsystem_id": ["A", "B"], "name": ["a", "b"], "mean": [scale.high, scale.low],
                            "o": [1.0, 2.0], "chosen": [True, False]})
    for figure in (profile_figure(profile, labels={}, highlight="m", names={"A": "Unit A"}, scale=scale),
                   outcome_figure(outcome, outcome_id="o", outcome_label="o", characteristic_label="m", scale=scale)):
        ax = figure.axes[0]
        assert ax.get_xticks().tolist() == list(levels)
        assert [t.get_text() for t in ax.get_xticklabels()] == scale.tick_labels
        low, high = ax.get_xlim()
        assert low < scale.low and scale.high < high < scale.high + 1


def test_it_works_on_another_study(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    (tmp_path / "data" / "processed").mkdir(parents=True)
    write_large_study(tmp_path / "data" / "raw" / "small", microsystems=30, respondents=600, codings=900, seed=3)
    build_processed("small")
    built, held_in_memory = open_study("small"), load_study("small")
    shown = []
    for study in (built, held_in_memory):
        explorer = Explorer(study)
        assert explorer.selection.microsystems == ("U00001", "U00002", "U00003")
        explorer.characteristic.value = study.characteristics.element_ids[-1]
        assert explorer.tables["profile"].shape == (8, 6)
        assert bytes(explorer.profile_plot.value).startswith(b"\x89PNG")
        shown.append(explorer.tables["profile"])
        explorer.roles.value = tuple(study.config.roles[:1])
        assert bytes(explorer.profile_plot.value).startswith(b"\x89PNG")
    pd.testing.assert_frame_equal(*shown)  # the stored views and views computed in memory agree
