"""Inter-coder reliability against published reference values."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import intercoder


def expand_pairs(table: list[list[int]]) -> pd.DataFrame:
    """A two-rater contingency table to one row per unit."""
    rows = [(i, j) for i, row in enumerate(table) for j, count in enumerate(row) for _ in range(count)]
    return pd.DataFrame(rows, columns=["rater1", "rater2"])


def test_cohens_kappa_matches_the_sas_example_documented_in_statsmodels():
    # statsmodels' test of cohens_kappa against a SAS printout (PROC FREQ, AGREE):
    # kappa 0.4842, ASE 0.1380, 95% CI 0.2137 to 0.7547.
    result = intercoder.categorical_agreement(expand_pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]]))
    assert result["cohen_kappa"] == pytest.approx(0.4842, abs=5e-5)
    assert result["kappa_ci_low"] == pytest.approx(0.2137, abs=5e-5)
    assert result["kappa_ci_high"] == pytest.approx(0.7547, abs=5e-5)


def test_cohens_kappa_for_a_yes_no_code():
    # The textbook 2x2 example (yes/yes 20, yes/no 5, no/yes 10, no/no 15): observed
    # agreement 0.70, chance agreement 0.50, kappa 0.40.
    result = intercoder.categorical_agreement(expand_pairs([[15, 10], [5, 20]]))
    assert result["percent_agreement"] == pytest.approx(0.70)
    assert result["cohen_kappa"] == pytest.approx(0.40)


FLEISS_1971 = [  # 30 patients, 6 psychiatrists, 5 diagnoses (Fleiss 1971, Psychological Bulletin 76:378)
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]


def test_fleiss_kappa_reproduces_fleiss_1971():
    # Fleiss (1971) reports kappa = .430 for these diagnoses.
    result = intercoder.categorical_agreement(pd.DataFrame(FLEISS_1971))
    assert round(result["fleiss_kappa"], 3) == 0.430


def test_fleiss_kappa_reproduces_the_fourteen_rater_example():
    # The widely reprinted example of 10 subjects rated by 14 raters into 5 categories
    # (counts per subject); kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = pd.DataFrame([[c for c, n in enumerate(row) for _ in range(n)] for row in counts])
    assert round(intercoder.categorical_agreement(ratings)["fleiss_kappa"], 3) == 0.210


def test_krippendorffs_alpha_reproduces_his_worked_example_with_missing_data():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers,
    # 12 units, some unrated; nominal alpha = 0.743.
    nan = np.nan
    observers = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
                 [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    result = intercoder.categorical_agreement(pd.DataFrame(observers).T)
    assert round(result["krippendorff_alpha"], 3) == 0.743
    assert result["n_units"] == 12


CODINGS = pd.DataFrame(
    [  # segment, coder, code, start, end in interview I1 of 100 characters
        ("s1", "A", "x", 0, 10), ("s1", "B", "x", 0, 10),
        ("s2", "A", "x", 20, 30), ("s2", "B", "y", 20, 30),
        ("s3", "A", "y", 40, 50), ("s3", "B", "y", 40, 50), ("s3", "B", "x", 40, 50),
        ("s4", "A", "y", 60, 70),  # coded by one coder only: not compared
    ],
    columns=["segment_id", "coder", "code_id", "start", "end"],
).assign(interview_id="I1", microsystem_id="M1", excerpt=lambda t: "text of " + t["segment_id"])
INTERVIEWS = pd.DataFrame({"interview_id": ["I1"], "characters": pd.array([100], dtype="Int64")})


def test_decisions_cover_every_code_on_segments_two_coders_coded():
    table = intercoder.decisions(CODINGS)
    assert sorted(table.index.get_level_values("segment_id").unique()) == ["s1", "s2", "s3"]
    assert table.loc[("s2", "y")].tolist() == [False, True]
    assert table.loc[("s3", "x")].tolist() == [False, True]


def test_reliability_per_code_and_overall():
    table = intercoder.reliability(CODINGS).set_index("code_id")
    assert table.loc["x", "percent_agreement"] == pytest.approx(1 / 3)  # s1 agree, s2 and s3 differ
    assert table.loc["y", "percent_agreement"] == pytest.approx(2 / 3)
    assert table.loc[intercoder.ALL_CODES, "percent_agreement"] == pytest.approx(3 / 6)
    assert table.loc[intercoder.ALL_CODES, "n_segments"] == 3


def test_character_agreement_with_and_without_uncoded_text():
    table = intercoder.character_agreement(CODINGS, INTERVIEWS).set_index("code_id")
    # code x: A marks 0-10 and 20-30, B marks 0-10 and 40-50 -> 30 characters coded by someone, 10 agreed.
    assert table.loc["x", "coded_characters"] == 30
    assert table.loc["x", "agreement_without_uncoded"] == pytest.approx(10 / 30)
    assert table.loc["x", "agreement_with_uncoded"] == pytest.approx((100 - 20) / 100)


def test_disagreement_table_lists_differing_segments_with_each_coders_codes():
    table = intercoder.disagreements(CODINGS).set_index("segment_id")
    assert list(table.index) == ["s2", "s3"]
    assert table.loc["s3", "B"] == "x; y" and table.loc["s3", "A"] == "y"
    assert table.loc["s2", "excerpt"] == "text of s2"


def test_status_says_plainly_when_agreement_cannot_be_computed():
    assert intercoder.reliability_status(CODINGS) is None
    one = CODINGS[CODINGS["coder"] == "A"]
    assert "coded by one person (A)" in intercoder.reliability_status(one)
    assert "nothing to compare" in intercoder.reliability_status(CODINGS.iloc[0:0])


segment = st.tuples(st.sampled_from(["i1", "i2"]), st.sampled_from(["A", "B", "C"]), st.sampled_from(["x", "y"]),
                    st.integers(0, 40), st.integers(1, 15))


@given(st.lists(segment, min_size=1, max_size=25))
@settings(max_examples=100, deadline=None)
def test_character_agreement_equals_counting_character_by_character(segments):
    lengths = {"i1": 45, "i2": 30}
    codings = pd.DataFrame(
        [
            (f"s{n}", interview, coder, code, start, start + width)
            for n, (interview, coder, code, start, width) in enumerate(segments)
        ],
        columns=["segment_id", "interview_id", "coder", "code_id", "start", "end"],
    ).astype({"start": "Int64", "end": "Int64"})
    interviews = pd.DataFrame(
        {"interview_id": list(lengths), "characters": pd.array(list(lengths.values()), dtype="Int64")}
    )
    coders = ["A", "B", "C"]
    table = intercoder.character_agreement(codings, interviews, codes=["x", "y"], coders=coders).set_index("code_id")
    with mock.patch.object(intercoder, "CHARACTERS_AT_ONCE", 16):  # transcripts taken a few at a time: the same result
        in_stretches = intercoder.character_agreement(codings, interviews, codes=["x", "y"], coders=coders)
        pd.testing.assert_frame_equal(in_stretches.set_index("code_id"), table)
    compared = list(dict.fromkeys(codings["interview_id"]))
    for code in ["x", "y"]:
        characters = coded = agreed = 0
        covered = {}  # (interview, coder) -> characters their segments with this code cover
        for _, interview, coder, code_id, start, end in codings.itertuples(index=False):
            if code_id == code:
                covered.setdefault((interview, coder), set()).update(range(start, min(end, lengths[interview])))
        for interview in compared:
            for character in range(lengths[interview]):
                marked = {coder: character in covered.get((interview, coder), ()) for coder in coders}
                characters += 1
                coded += any(marked.values())
                agreed += len(set(marked.values())) == 1
        assert table.loc[code, ["characters", "coded_characters"]].tolist() == [characters, coded]
        assert table.loc[code, "agreement_with_uncoded"] == pytest.approx(agreed / characters)


def test_character_agreement_without_any_positioned_transcript_gives_empty_rows():
    codings = pd.DataFrame({"segment_id": ["s1", "s1"], "interview_id": "i1", "coder": ["A", "B"], "code_id": "x",
                            "start": pd.array([0, 0], dtype="Int64"), "end": pd.array([5, 5], dtype="Int64")})
    interviews = pd.DataFrame({"interview_id": ["i1"], "characters": pd.array([None], dtype="Int64")})
    table = intercoder.character_agreement(codings, interviews, codes=["x"]).set_index("code_id")
    assert table.loc["x", "characters"] == 0 and pd.isna(table.loc["x", "agreement_with_uncoded"])
