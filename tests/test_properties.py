"""Property tests over whole studies: random valid studies load with every answer kept,
and neither the order of rows nor the names of microsystems changes any result."""

from __future__ import annotations

import shutil
import string

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO
from workbench import agreement, survey
from workbench.frameworks import load_instrument
from workbench.study import load_study

ITEMS = load_instrument("microsystem_self_assessment").item_ids
ROLES = ["Physician", "Nurse", "Medical assistant", "Clerical", "Manager", "Allied health"]
# The demo's study.yaml (copied below) lists survey waves: each generated answer belongs to one.
DEMO_CONFIG = yaml.safe_load((DEMO / "study.yaml").read_text(encoding="utf-8"))
WAVES = [wave["id"] for wave in DEMO_CONFIG["waves"]]
answer = st.sampled_from(["1", "2", "3", "9", ""])


@st.composite
def studies(draw):
    units = draw(st.integers(2, 5))
    ids = draw(st.lists(
        st.text(string.ascii_uppercase + string.digits, min_size=2, max_size=5),
        min_size=units,
        max_size=units,
        unique=True,
    ))
    rows = []
    for unit in ids:
        for _ in range(draw(st.integers(1, 6))):
            rows.append({
                "respondent_id": f"R{len(rows):04d}",
                "wave": draw(st.sampled_from(WAVES)),
                "microsystem_id": unit,
                "role": draw(st.sampled_from(ROLES)),
                **{item: draw(answer) for item in ITEMS},
            })
    return ids, pd.DataFrame(rows)


def write_study(folder, ids, responses):
    shutil.copytree(DEMO, folder)
    micro = pd.DataFrame({"microsystem_id": ids, "name": [f"Unit {i}" for i in ids], "setting": "Primary care",
                          "organisation_id": "ORG1", "organisation": "Org"})
    micro.to_csv(folder / "microsystems.csv", index=False)
    responses.to_csv(folder / "survey_responses.csv", index=False)
    (folder / "interviews.csv").write_text(
        "interview_id,microsystem_id,interviewee_role,interview_date,word_count,characters\n"
        f"I1,{ids[0]},Manager,2026-01-05,10,60\n"
    )
    (folder / "coded_segments.csv").write_text(
        "segment_id,interview_id,coder,code,excerpt,start,end\n"
        "S1,I1,A,measurement,We chart falls.,0,15\n"
    )
    (folder / "journeys.csv").write_text(
        "patient_id,visit,microsystem_id,visit_date\n"
        f"PT1,1,{ids[0]},2026-01-01\n"
        f"PT1,2,{ids[-1]},2026-01-09\n"
    )
    # Outcomes as the demo declares them: those without a kind in outcomes.csv, the monthly ones
    # in outcome_series.csv (the demo's first units' series, given to the generated units in
    # order). The demo's dated changes name its own units: left out.
    config = dict(DEMO_CONFIG)
    config.pop("changes", None)
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    unit_outcomes = [o["id"] for o in config["outcomes"] if "kind" not in o]
    pd.DataFrame({"microsystem_id": ids, **{o: 10.0 for o in unit_outcomes}}).to_csv(folder / "outcomes.csv",
                                                                                     index=False)
    series = pd.read_csv(DEMO / "outcome_series.csv", dtype=str, keep_default_na=False)
    demo_units = list(dict.fromkeys(series["microsystem_id"]))[:len(ids)]
    series = series[series["microsystem_id"].isin(demo_units)]
    series.assign(microsystem_id=series["microsystem_id"].map(dict(zip(demo_units, ids)))).to_csv(
        folder / "outcome_series.csv", index=False)
    return folder


def summaries(study) -> dict[str, pd.DataFrame]:
    items = survey.item_summary(study.answers, levels=(1, 2, 3)).set_index(["microsystem_id", "item_id"]).sort_index()
    profile = (
        survey.microsystem_profile(survey.respondent_scores(study.answers))
        .set_index(["microsystem_id", "characteristic_id"])
        .sort_index()
    )
    rwg = agreement.rwg(study.answers).set_index(["microsystem_id", "item_id"]).sort_index()
    return {"items": items, "profile": profile, "rwg": rwg}


SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@SETTINGS
@given(studies())
def test_random_studies_load_with_every_answer_kept_and_statistics_in_bounds(tmp_path_factory, generated):
    ids, responses = generated
    study = load_study(write_study(tmp_path_factory.mktemp("s") / "study", ids, responses))
    # The latest wave is `respondents`/`answers`, the earlier ones `past_respondents`/`past_answers`.
    latest = responses["wave"].eq(WAVES[-1])
    assert len(study.respondents) == latest.sum() and len(study.answers) == latest.sum() * len(ITEMS)
    assert len(study.past_respondents) == (~latest).sum()
    assert len(study.past_answers) == (~latest).sum() * len(ITEMS)
    for answers, rows in ((study.answers, responses[latest]), (study.past_answers, responses[~latest])):
        codes = rows.melt(id_vars="respondent_id", value_vars=ITEMS, value_name="code")["code"]
        assert (answers["answer"].value_counts().reindex(["level", "cant_rate", "no_answer"], fill_value=0).tolist()
                == [int(codes.isin(["1", "2", "3"]).sum()), int(codes.eq("9").sum()), int(codes.eq("").sum())])
    result = summaries(study)
    items = result["items"]
    assert items["mean"].dropna().between(1, 3).all()
    shares = items[["share_level_1", "share_level_2", "share_level_3"]].dropna().sum(axis=1)
    assert np.allclose(shares, 1.0)
    assert result["rwg"]["rwg"].dropna().between(0, 1).all()
    profile = result["profile"].dropna(subset=["ci_low"])
    assert ((profile["ci_low"] <= profile["mean"] + 1e-12) & (profile["mean"] <= profile["ci_high"] + 1e-12)).all()


@SETTINGS
@given(studies(), st.randoms())
def test_row_order_and_microsystem_names_change_no_result(tmp_path_factory, generated, random):
    ids, responses = generated
    first = summaries(load_study(write_study(tmp_path_factory.mktemp("a") / "study", ids, responses)))
    renamed = {old: f"X{n}{old}" for n, old in enumerate(ids)}
    shuffled = responses.sample(frac=1.0, random_state=random.randint(0, 2**31)).assign(
        microsystem_id=lambda t: t["microsystem_id"].map(renamed)
    )
    second = summaries(
        load_study(write_study(tmp_path_factory.mktemp("b") / "study", [renamed[i] for i in ids], shuffled))
    )
    back = {new: old for old, new in renamed.items()}
    for name, table in first.items():
        other = second[name].rename(index=back, level="microsystem_id").sort_index()
        pd.testing.assert_frame_equal(table, other[table.columns], check_exact=False, rtol=1e-9, obj=name)
