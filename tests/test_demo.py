"""The demo study: deterministic, committed as generated, and realistic enough to analyse."""

from __future__ import annotations

import numpy as np

from tests.conftest import DEMO
from workbench import coding, demo, survey
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
    assert per_unit.between(6, 30).all() and len(per_unit) == 43
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
    truth = demo.generate().latent
    profile = survey.profile_wide(survey.microsystem_profile(survey.respondent_scores(load_study(DEMO).answers)))
    for characteristic in truth.columns:
        r = np.corrcoef(profile.loc[truth.index, characteristic], truth[characteristic])[0, 1]
        assert r > 0.8, (characteristic, r)


def test_outcomes_are_related_to_the_latent_levels():
    generated = demo.generate()
    outcomes = load_study(DEMO).outcomes.set_index("microsystem_id")
    alignment = generated.latent["alignment_of_role_and_training"]
    assert outcomes["staff_turnover_pct"].corr(alignment) < -0.3
    assert outcomes["patient_experience_score"].isna().sum() == 2


def excerpt_bank() -> list[str]:
    bank = demo.yaml.safe_load(demo.EXCERPT_BANK.read_text())
    return [e for levels in bank["characteristics"].values() for level in levels.values() for e in level] + [
        e for process in bank["leading_processes"].values() for e in process]


def test_every_excerpt_comes_from_the_bank_and_loads_with_nobody_named():
    bank = excerpt_bank()
    segments = coding.segment_codes(load_study(DEMO).codings, rule="any")
    assert all(any(excerpt.startswith(b) for b in bank) for excerpt in segments["excerpt"].unique())
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
