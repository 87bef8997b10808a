"""The demo study: deterministic, committed as generated, and realistic enough to analyse."""

from __future__ import annotations

import numpy as np

from tests.conftest import DEMO
from workbench import agreement, coding, demo, survey
from workbench.demo import excerpts
from workbench.study import load_study


def files_under(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def test_generating_twice_gives_byte_identical_files(tmp_path):
    demo.write(tmp_path / "one")
    demo.write(tmp_path / "two")
    names = files_under(tmp_path / "one")
    assert names == files_under(tmp_path / "two")
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_the_committed_demo_study_is_what_the_generator_writes(tmp_path):
    demo.write(tmp_path / "fresh")
    committed = files_under(DEMO)
    assert committed == files_under(tmp_path / "fresh")
    for name in committed:
        fresh = (tmp_path / "fresh" / name).read_bytes()
        assert (DEMO / name).read_bytes() == fresh, f"{name}: run `make demo` and commit"


def test_shape_of_the_demo_study():
    study = load_study(DEMO)
    assert len(study.microsystems) == 43
    assert study.microsystems["setting"].nunique() >= 8
    assert 6 <= study.microsystems["organisation_id"].nunique() <= 10
    per_unit = study.respondents.groupby("microsystem_id").size()
    assert per_unit.between(6, 35).all() and len(per_unit) == 43
    interviews = study.interviews.groupby("microsystem_id").size()
    assert interviews.between(1, 4).all() and len(interviews) == 43
    assert set(study.respondents["role"]) == set(study.config.roles)
    assert set(study.codings["framework_id"]) == {"microsystem_characteristics", "leading_processes"}


def test_coders_mostly_agree_but_not_always():
    study = load_study(DEMO)
    coded = study.codings.groupby(["segment_id", "coder"])["code_id"].apply(frozenset).unstack()
    agreement = (coded["coder_A"] == coded["coder_B"]).mean()
    assert 0.6 < agreement < 0.95


def test_cant_rate_follows_the_role_view_of_the_unit():
    answers = load_study(DEMO).answers
    share = answers.assign(cr=answers["answer"].eq("cant_rate")).pivot_table(
        index="role", columns="item_id", values="cr"
    )
    assert share.loc["Clerical", "measurement"] > 3 * share.loc["Manager", "measurement"]


def test_survey_profiles_recover_the_latent_levels():
    truth = demo.generate().latent  # the latest wave's
    profile = survey.profile_wide(survey.microsystem_profile(survey.respondent_scores(load_study(DEMO).answers)))
    for characteristic in truth.columns:
        r = np.corrcoef(profile.loc[truth.index, characteristic], truth[characteristic])[0, 1]
        assert r > 0.7, (characteristic, r)


def test_units_differ_about_as_much_as_in_real_staff_surveys():
    """Unit-level staff surveys report item ICC(1) of roughly 0.05 to 0.30: most of the spread
    of answers lies within units."""
    study = load_study(DEMO)
    for answers in (study.answers, study.past_answers):
        iccs = agreement.icc_by_item(answers)["icc1"]
        assert iccs.between(0.05, 0.32).all(), iccs.round(3).tolist()
    shared = study.view("unit_profiles")["shared"].mean()
    assert 0.4 < shared < 0.85  # agreement is earned, not given


def test_two_waves_a_year_apart_and_the_improving_units_move():
    generated = demo.generate()
    study = load_study(DEMO)
    assert [w.id for w in study.config.waves] == ["2025", "2026"]
    assert set(study.past_answers["wave"].astype(str)) == {"2025"}
    assert len(study.past_respondents) > 700 and len(study.respondents) > 700
    improvers = {change.microsystem_id for change in study.config.changes}
    assert improvers == set(generated.improvers["microsystem_id"]) and 4 <= len(improvers) <= 8
    changes = study.view("unit_changes")
    measurement = changes[changes["characteristic_id"].eq("measurement")].set_index("microsystem_id")
    assert (measurement.loc[sorted(improvers), "change"] > 0).all()
    assert (measurement.loc[sorted(improvers), "moved"] == "up").sum() >= len(improvers) // 2
    stable = changes[~changes["microsystem_id"].isin(improvers) & changes["shown"]]
    # About 5% of a stable unit's intervals leave out 0 by chance; far fewer stand after BH.
    assert stable["moved"].isin(["up", "down"]).mean() < 0.10
    assert stable["stands_adjusted"].mean() < 0.02
    overview = study.view("unit_overview")
    assert overview["response_rate"].between(0.3, 0.9).all()


def test_quotes_rarely_repeat_and_their_tone_follows_the_unit():
    generated = demo.generate()
    segments = coding.segment_codes(load_study(DEMO).codings, rule="any")
    units_per_excerpt = segments.groupby("excerpt")["microsystem_id"].nunique()
    assert (units_per_excerpt > 1).mean() < 0.05
    bank = excerpts.load_bank()["characteristics"]
    tone_of = {detail: (code, level) for code, levels in bank.items() for level, parts in levels.items()
               for detail in parts["detail"]}
    latent = generated.latent
    terciles = latent.apply(lambda column: np.searchsorted(column.quantile([1 / 3, 2 / 3]).to_numpy(), column))
    clash = 0
    for excerpt, unit in zip(segments["excerpt"], segments["microsystem_id"]):
        found = [tone for detail, tone in tone_of.items() if detail in excerpt]
        for code, level in found[:1]:  # the excerpt's own detail comes first
            clash += (terciles.at[unit, code], level) in {(0, "high"), (2, "low")}
    assert clash == 0


def test_outcomes_are_related_to_the_latent_levels():
    generated = demo.generate()
    outcomes = load_study(DEMO).outcomes.set_index("microsystem_id")
    alignment = generated.latent["alignment_of_role_and_training"]
    assert outcomes["staff_turnover_pct"].corr(alignment) < -0.3
    assert outcomes["patient_experience_score"].isna().sum() == 2


def test_every_excerpt_comes_from_the_bank_and_loads_with_nobody_named():
    bank = excerpts.load_bank()
    details = [detail for levels in bank["characteristics"].values() for parts in levels.values()
               for detail in parts["detail"]]
    details += [part for parts in bank["leading_processes"].values() for part in parts["detail"]]
    segments = coding.segment_codes(load_study(DEMO).codings, rule="any")
    assert all(any(d in excerpt for d in details) for excerpt in segments["excerpt"].unique())
    loaded = " ".join(segments["excerpt"])
    assert "[name]" in loaded  # the demo mentions colleagues, and the loader masks them
    for name in demo.ROSTER:
        for part in name.split():
            assert part not in loaded, part
    assert "@" not in loaded and "555-01" not in loaded and "12/04/1979" not in loaded


def test_patients_move_through_several_microsystems():
    study = load_study(DEMO)
    visits = study.journeys.groupby("patient_id").size()
    assert visits.min() >= 2 and len(visits) == 400
    assert study.journeys["patient_id"].str.startswith("PT-").all()  # pseudonymised at load
