from __future__ import annotations

import pandas as pd
import pytest

from workbench import coding

CODINGS = pd.DataFrame(
    [
        ("s1", "i1", "A", "Nurse", "c1", "f", "measurement", "we chart it"),
        ("s1", "i1", "A", "Nurse", "c2", "f", "measurement", "we chart it"),
        ("s2", "i1", "A", "Nurse", "c1", "f", "measurement", "numbers on the wall"),
        ("s2", "i1", "A", "Nurse", "c2", "f", "constancy_of_purpose", "numbers on the wall"),
        ("s3", "i2", "B", "Manager", "c1", "f", "constancy_of_purpose", "one aim"),
        ("s3", "i2", "B", "Manager", "c1", "f", "measurement", "one aim"),
        ("s4", "i2", "B", "Manager", "c1", "f", "measurement", "only one coder saw this"),
    ],
    columns=[
        "segment_id", "interview_id", "microsystem_id", "interviewee_role", "coder", "framework_id", "code_id",
        "excerpt",
    ],
)


def test_rule_all_keeps_codes_every_coder_of_the_segment_applied():
    kept = coding.segment_codes(CODINGS, rule="all")
    assert sorted(zip(kept["segment_id"], kept["code_id"])) == [
        ("s1", "measurement"), ("s3", "constancy_of_purpose"), ("s3", "measurement"), ("s4", "measurement"),
    ]


def test_rule_any_keeps_each_segment_code_once():
    kept = coding.segment_codes(CODINGS, rule="any")
    assert len(kept) == 6
    assert kept.set_index(["segment_id", "code_id"]).loc[("s1", "measurement"), "n_coders_applied"] == 2


def test_restricting_to_one_coder():
    kept = coding.segment_codes(CODINGS, rule="all", coders=["c2"])
    assert sorted(zip(kept["segment_id"], kept["code_id"])) == [("s1", "measurement"), ("s2", "constancy_of_purpose")]
    with pytest.raises(ValueError, match=r"coders \['c9'\] coded nothing"):
        coding.segment_codes(CODINGS, coders=["c9"])


def test_case_code_matrix_shows_absence_and_density():
    kept = coding.segment_codes(CODINGS, rule="any")
    counts = coding.case_code_matrix(
        kept, codes=["measurement", "constancy_of_purpose", "connection_to_community"], microsystems=["A", "B", "C"]
    )
    assert counts.loc["A"].tolist() == [2, 1, 0]
    assert counts.loc["C"].tolist() == [0, 0, 0]
    interviews = pd.DataFrame({"interview_id": ["i1", "i2"], "microsystem_id": ["A", "B"], "word_count": [4000, 2000]})
    density = coding.case_code_matrix(
        kept, codes=["measurement"], microsystems=["A", "B"], value="density", interviews=interviews
    )
    assert density["measurement"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="needs interviews="):
        coding.case_code_matrix(kept, codes=["measurement"], microsystems=["A"], value="density")


def test_excerpts_are_seeded_distinct_and_carry_no_person():
    kept = coding.segment_codes(CODINGS, rule="any")
    first = coding.excerpts_for(kept, code_id="measurement", n=2, seed=3)
    assert first.equals(coding.excerpts_for(kept, code_id="measurement", n=2, seed=3))
    assert first["excerpt"].is_unique and len(first) == 2
    assert list(first.columns) == ["microsystem_id", "interview_id", "interviewee_role", "excerpt"]
    assert coding.excerpts_for(kept, code_id="measurement", microsystem_id="B", n=5)["microsystem_id"].eq("B").all()


QUOTABLE = pd.DataFrame(
    [
        # segment, unit, code, excerpt, coders who applied it, coders of the segment
        ("q1", "A", "measurement", "we post the infection rate weekly", 2, 2),
        ("q1", "A", "interdependence", "we post the infection rate weekly", 2, 2),
        ("q2", "A", "measurement", "the run chart sits by the nurses' station", 2, 2),
        ("q3", "A", "measurement", "numbers", 2, 2),
        ("q4", "A", "measurement", "one coder thought this was about measuring turnaround", 1, 2),
        ("q5", "B", "measurement", "audit results come back to the team each month", 1, 2),
        ("q6", "B", "measurement", "audit results come back to the team each month", 1, 2),
        ("q7", "B", "interdependence", "the pharmacist joins our huddle", 2, 2),
    ],
    columns=["segment_id", "microsystem_id", "code_id", "excerpt", "n_coders_applied", "n_coders_of_segment"],
).assign(interview_id=lambda f: "i" + f["microsystem_id"], interviewee_role="Nurse")


def test_representative_excerpts_prefer_agreed_pure_typical_segments():
    best = coding.representative_excerpts(QUOTABLE, code_id="measurement", n=5)
    # q2 is agreed and pure; q3 agreed and pure but far from the typical length; q1 agreed
    # but shares its segment with another code; the single-coder segments come last, the
    # repeated excerpt of B only once.
    assert best["excerpt"].tolist() == [
        "the run chart sits by the nurses' station", "numbers", "we post the infection rate weekly",
        "audit results come back to the team each month", "one coder thought this was about measuring turnaround",
    ]
    assert best["other_codes"].tolist() == ["", "", "interdependence", "", ""]
    assert best["coders_agreed"].tolist() == [True, True, True, False, False]
    in_b = coding.representative_excerpts(QUOTABLE, code_id="measurement", microsystem_id="B", n=3)
    assert in_b["excerpt"].tolist() == ["audit results come back to the team each month"]
    assert coding.representative_excerpts(QUOTABLE, code_id="constancy_of_purpose").empty
    with pytest.raises(ValueError, match="n must be at least 1"):
        coding.representative_excerpts(QUOTABLE, code_id="measurement", n=0)


def test_excerpts_by_microsystem_match_one_call_per_microsystem_and_code():
    codes = ["measurement", "interdependence", "constancy_of_purpose"]
    together = coding.representative_excerpts_by_microsystem(QUOTABLE, codes=codes, n=2)
    one_by_one = pd.concat(
        [coding.representative_excerpts(QUOTABLE, code_id=code, microsystem_id=unit, n=2).assign(code_id=code)
         for unit in ["A", "B"] for code in codes],
        ignore_index=True,
    )
    key = ["microsystem_id", "code_id", "excerpt"]
    pd.testing.assert_frame_equal(together.sort_values(key).reset_index(drop=True),
                                  one_by_one[together.columns].sort_values(key).reset_index(drop=True))
    assert len(together) == 2 + 1 + 1 + 1  # A: two measurement, one interdependence; B: one of each
