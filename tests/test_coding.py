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


def test_code_interview_matrix_lists_every_interview_and_counts_a_segment_once():
    segments = coding.segment_codes(CODINGS, rule="any")
    interviews = pd.DataFrame({"interview_id": ["i1", "i2", "i3"], "microsystem_id": ["A", "B", "B"]})
    table = coding.code_interview_matrix(segments, codes=["measurement", "constancy_of_purpose"], interviews=interviews)
    assert table.to_dict("records") == [
        {"interview_id": "i1", "microsystem_id": "A", "measurement": 2, "constancy_of_purpose": 1, "segments": 2},
        {"interview_id": "i2", "microsystem_id": "B", "measurement": 2, "constancy_of_purpose": 1, "segments": 2},
        {"interview_id": "i3", "microsystem_id": "B", "measurement": 0, "constancy_of_purpose": 0, "segments": 0},
    ]


TRANSCRIPT = "Hello. We start at eight. The board is ours. We update it daily. Nobody reads it. Then lunch."
PLACED = pd.DataFrame({
    "segment_id": ["t1", "t2", "t3", "t4"], "interview_id": "i1",
    "excerpt": ["We start at eight.", "The board is ours.", "We update it daily.", "Then lunch."],
    "start": [7, 26, 45, 82], "end": [25, 44, 64, 93],
}).astype({"start": "Int64", "end": "Int64"})


def test_quotes_in_context_take_sentences_from_the_transcript_when_it_fits():
    assert TRANSCRIPT[26:44] == "The board is ours." and TRANSCRIPT[82:93] == "Then lunch."
    quote = pd.DataFrame({"characteristic": ["Measurement"], "interview_id": ["i1"], "excerpt": ["The board is ours."]})
    row = coding.quotes_in_context(quote, PLACED, transcripts={"i1": TRANSCRIPT}, sentences=2).iloc[0]
    assert (row["before"], row["after"]) == ("Hello. We start at eight.", "We update it daily. Nobody reads it.")
    assert row["context_from"] == "transcript" and row["segment_id"] == "t2" and row["characteristic"] == "Measurement"
    # A transcript the positions do not fit (another version of the text) is not used.
    wrong = coding.quotes_in_context(quote, PLACED, transcripts={"i1": "x" + TRANSCRIPT}).iloc[0]
    assert wrong["context_from"] == "neighbouring coded segments"


def test_quotes_in_context_rebuilt_from_neighbouring_segments_say_where_text_is_missing():
    quote = pd.DataFrame({"interview_id": ["i1", "i1", "i9"],
                          "excerpt": ["We update it daily.", "Then lunch.", "gone"]})
    rows = coding.quotes_in_context(quote, PLACED, sentences=2)
    assert list(rows.columns) == ["interview_id", "segment_id", "before", "excerpt", "after", "context_from"]
    daily, lunch, lost = rows.to_dict("records")
    assert daily["before"] == "We start at eight. The board is ours."  # a space between segments is no gap
    assert daily["after"] == "[18 characters not coded] Then lunch."
    assert lunch["after"] == "" and lunch["before"].endswith("We update it daily. [18 characters not coded]")
    assert lost["context_from"] == "not found" and lost["before"] == ""
    # A segment overlapping the quote is the quote's own text, not its context.
    overlapping = pd.concat([PLACED, pd.DataFrame({"segment_id": ["t5"], "interview_id": ["i1"],
                                                   "excerpt": ["is ours. We update"], "start": [35], "end": [55]})])
    again = coding.quotes_in_context(quote.iloc[:1], overlapping.astype({"start": "Int64", "end": "Int64"}))
    assert "is ours. We update" not in again.iloc[0]["before"] + again.iloc[0]["after"]


def test_every_disagreement_is_written_whole_for_the_consensus_meeting(tmp_path):
    import os

    from openpyxl import load_workbook

    from workbench import intercoder

    codings = pd.DataFrame({
        "segment_id": ["s1", "s1", "s2", "s2", "s3"], "interview_id": "i1", "microsystem_id": "A",
        "coder": ["ana", "ben", "ana", "ben", "ana"], "code_id": ["x", "y", "x", "x", "y"],
        "excerpt": ["long " * 8000, "long " * 8000, "same", "same", "one coder"],
        "start": [0, 0, 50, 50, 80], "end": [40_000, 40_000, 54, 54, 89],
    })
    differences = intercoder.disagreements(codings, labels={"x": "Code X", "y": "Code Y"})
    assert differences[["segment_id", "ana", "ben", "differ_on"]].to_dict("records") == [
        {"segment_id": "s1", "ana": "Code X", "ben": "Code Y", "differ_on": "Code X; Code Y"}]
    folder = tmp_path / "internal"
    written = intercoder.write_for_consensus(differences, folder)
    assert [p.name for p in written] == ["coder-disagreements.csv", "coder-disagreements.xlsx"]
    assert os.stat(folder).st_mode & 0o777 == 0o700 and all(os.stat(p).st_mode & 0o777 == 0o600 for p in written)
    assert pd.read_csv(written[0])["excerpt"].iloc[0] == "long " * 8000  # the CSV holds the excerpt whole
    book = load_workbook(written[1])
    sheet = book["Disagreements"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["segment_id", "interview_id", "microsystem_id"] and "ana" in header and "ben" in header
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I2"
    cell = sheet.cell(row=2, column=header.index("excerpt") + 1)
    # Longer than an Excel cell holds (32,767): cut there, saying where the whole text is.
    assert cell.value.endswith("[cut here: the CSV file holds the whole text]") and len(cell.value) == 32_767
    assert cell.alignment.wrap_text
