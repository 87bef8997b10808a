"""The feedback report as a staff-meeting handout: its opening sentences, the characteristics
it picks out, the quotes it shows, every row on its charts, the same-setting comparison, and
its PDF (at most two A4 pages per unit, one combined PDF for the study).

The PDF tests need Debian's Chromium: skipped without it, unless ``WORKBENCH_REQUIRE_BROWSER=1``
(CI sets it), when a missing browser is a failure.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from workbench import feedback, plotting, survey, views  # noqa: E402
from workbench.project import Project  # noqa: E402
from workbench.study import open_study  # noqa: E402

LABELS = {"m": "Measurement", "p": "Constancy of purpose", "c": "Connection to community", "i": "Investment"}


@pytest.fixture(scope="module")
def demo():
    return open_study("demo")


def positions(study) -> dict[str, pd.DataFrame]:
    """Every unit's rows of unit_profiles merged with its peer positions, as the report merges them."""
    merged = study.view("unit_profiles").merge(study.view("peer_positions"), on=["microsystem_id", "characteristic_id"])
    return {unit: rows.reset_index(drop=True) for unit, rows in merged.groupby("microsystem_id", sort=False)}


def position(**columns) -> pd.DataFrame:
    base = {"characteristic_id": ["m", "p", "c", "i"], "mean": [2.6, 1.2, 1.9, np.nan], "n_scored": [20, 20, 20, 3],
            "agreement": ["shared", "shared", "not shared", "too few"], "share_of_peers_below": [0.9, 0.1, 0.5, np.nan]}
    return pd.DataFrame({**base, **columns})


# --- the opening sentences ------------------------------------------------------------


def test_the_opening_says_who_answered_where_staff_agree_and_stand_and_where_views_differ():
    sentences = feedback.summary_sentences(position(), labels=LABELS, respondents=21, interviews=3,
                                           peers="the 42 other units")
    assert len(sentences) == 3
    assert sentences[0] == "21 staff answered the self-assessment, and 3 interviews were coded."
    assert sentences[1] == ("Staff share a view on two of the four characteristics; against the 42 other units, "
                            "Measurement is in their top quarter and Constancy of purpose in their bottom quarter.")
    assert sentences[2].startswith("Views differ on Connection to community: its average is not a view the staff share")
    assert "too few staff answered on Investment to show a figure" in sentences[2]
    text = " ".join(sentences)
    assert not re.search(r"\bnan\b|_|None", text), "labels, never ids or missing values"


def test_the_opening_has_two_sentences_when_staff_share_every_view():
    shared = position(agreement=["shared"] * 4, mean=[2.6, 1.2, 1.9, 2.0], n_scored=[20] * 4,
                      share_of_peers_below=[0.9, 0.1, 0.5, 0.5])
    sentences = feedback.summary_sentences(shared, labels=LABELS, respondents=12)
    assert len(sentences) == 2
    assert sentences[1].startswith("Staff share a view on all four characteristics; against the other units, "
                                   "Measurement is in their top quarter, Connection to community and Investment in "
                                   "their middle half")


def test_the_opening_copes_with_no_shared_view_no_comparison_and_no_answers():
    apart = position(agreement=["not shared"] * 3 + ["too few"])
    assert "do not share a view on any characteristic" in feedback.summary_sentences(
        apart, labels=LABELS, respondents=8)[1]
    alone = position(share_of_peers_below=[np.nan] * 4)
    assert "cannot be compared with them" in feedback.summary_sentences(alone, labels=LABELS, respondents=8)[1]
    assert feedback.summary_sentences(position(), labels=LABELS, respondents=0, interviews=0) == [
        "No staff answered the self-assessment; no interview was coded."]


def test_every_demo_unit_gets_two_or_three_sentences_naming_every_characteristic(demo):
    labels = demo.characteristics.labels(short=False)
    k = demo.disclosure.min_cell_size
    overview = demo.view("unit_overview").set_index("microsystem_id")
    for unit, rows in positions(demo).items():
        sentences = feedback.summary_sentences(rows, labels=labels, respondents=int(overview.at[unit, "respondents"]),
                                               min_cell_size=k)
        assert 2 <= len(sentences) <= 3, (unit, sentences)
        text = " ".join(sentences)
        # Every characteristic is placed somewhere: among the shared views, where views differ, or too few.
        assert all(label in text for label in labels.values()), (unit, text)


# --- strongest and weakest --------------------------------------------------------------


def test_no_demo_unit_names_one_characteristic_strongest_and_weakest(demo):
    for unit, rows in positions(demo).items():
        chosen = survey.strongest_and_weakest(rows)
        ids = [code for _, code in chosen]
        assert len(ids) == len(set(ids)), (unit, chosen)
        shared = set(rows.loc[rows["shared"] & rows["mean"].notna(), "characteristic_id"])
        assert set(ids) <= shared, unit


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from([1.0, 1.5, 2.0, np.nan]), st.booleans()),
                min_size=0, max_size=8))
def test_strongest_and_weakest_are_never_the_same_characteristic(rows):
    frame = pd.DataFrame(rows, columns=["characteristic_id", "mean", "shared"])
    chosen = survey.strongest_and_weakest(frame)
    assert [word for word, _ in chosen] == ["Strongest", "Weakest"][:len(chosen)]
    if len(chosen) == 2:
        assert chosen[0][1] != chosen[1][1]
        shown = frame.dropna(subset=["mean"])
        means = shown[shown["shared"]].groupby("characteristic_id")["mean"].first()
        assert means[chosen[0][1]] > means[chosen[1][1]]


# --- quotes -----------------------------------------------------------------------------


def test_a_quote_coded_with_two_characteristics_is_shown_once():
    quotes = pd.DataFrame({"characteristic_id": ["a", "a", "b", "b", "b"], "rank": [1, 2, 1, 2, 3],
                           "excerpt": ["We huddle daily.", "No data.", "We  huddle daily. ", "Budgets.", "More."]})
    chosen = feedback.chosen_quotes(quotes, ["a", "b"])
    assert chosen["excerpt"].tolist() == ["We huddle daily.", "No data.", "Budgets.", "More."]
    assert feedback.chosen_quotes(quotes, ["b", "a"])["characteristic_id"].tolist() == ["b", "b", "a"]


def test_no_demo_report_repeats_a_quote(demo):
    quotes = demo.view("unit_quotes")
    profiles = positions(demo)
    repeated_somewhere = False
    for unit, rows in quotes.groupby("microsystem_id"):
        repeated_somewhere |= rows["excerpt"].duplicated().any()
        picked = survey.strongest_and_weakest(profiles[unit]) if unit in profiles else []
        # The report's choice, and the harder case: every characteristic of the unit in one report.
        for codes in (rows["characteristic_id"].unique().tolist(), [code for _, code in picked]):
            chosen = feedback.chosen_quotes(rows, codes)
            normalised = chosen["excerpt"].str.split().str.join(" ").str.casefold()
            assert not normalised.duplicated().any(), unit
    assert repeated_somewhere, "the demo has excerpts coded with two characteristics of one unit"


# --- every row on the charts ------------------------------------------------------------


def test_the_profile_chart_keeps_a_row_without_a_mean_and_says_why():
    rows = pd.DataFrame({
        "characteristic_id": ["a", "b", "c"], "mean": [2.0, np.nan, 1.5], "ci_low": [1.8, np.nan, 1.2],
        "ci_high": [2.2, np.nan, 1.8], "shared": [True, False, False],
        "verdict": ["shared", "too few answers", "views differ"], "peer_min": [1.0] * 3, "peer_q1": [1.5] * 3,
        "peer_median": [2.0, 2.0, np.nan], "peer_q3": [2.5] * 3, "peer_max": [3.0] * 3})
    fig, ax = plt.subplots()
    plotting.peer_comparison(rows, ax=ax, labels={"b": "Community"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "Community", "c"]
    notes = [t.get_text() for t in ax.texts]
    assert "too few answers" in notes and "too few to compare" in notes
    assert ax.get_xlim()[1] > 3.5, "room for the notes right of the highest level"
    plt.close(fig)


def with_min_cell_size(study, k: int):
    """``study`` in memory with another min_cell_size, its views computed anew from its frames.
    In the regenerated demo every figure of MS01 comes from at least the study's 5 people, so
    the tests of withheld figures raise the minimum to MS01's own largest count: the figures
    from fewer people than that are withheld, the others shown."""
    privacy = study.config.privacy.model_copy(update={"min_cell_size": k})
    return dataclasses.replace(study, config=study.config.model_copy(update={"privacy": privacy}), processed=None)


def test_the_item_chart_keeps_every_item_and_the_note_says_which_are_not_broken_down(demo):
    k = int(demo.view("unit_items", microsystem_id="MS01")["n_rated"].max())
    study = with_min_cell_size(demo, k)
    items = study.view("unit_items", microsystem_id="MS01")
    blank = items["share_level_1"].isna()
    assert blank.any() and not blank.all(), "MS01 has items rated by too few, and others"
    assert blank.equals(items["n_rated"] < k)
    fig, ax = plt.subplots()
    plotting.diverging_levels(items, scale=study.scale, ax=ax)
    assert len(ax.get_yticklabels()) == len(items)
    assert [t.get_text() for t in ax.texts].count("not broken down") == blank.sum()
    plt.close(fig)
    labels = study.instrument.labels(short=False)
    note = feedback.items_withheld_note(items, labels=labels, min_cell_size=study.disclosure.min_cell_size)
    assert all(labels[item] in note for item in items.loc[blank, "item_id"])
    assert feedback.items_withheld_note(items[~blank], labels=labels, min_cell_size=k) == ""


def test_the_table_uses_labels_and_verdict_words(demo):
    study = with_min_cell_size(demo, int(demo.view("unit_profiles", microsystem_id="MS01")["n_scored"].max()))
    rows = positions(study)["MS01"]
    table = feedback.position_table(rows, labels=study.characteristics.labels(short=False),
                                    min_cell_size=study.disclosure.min_cell_size)
    assert set(table["staff_views"]) <= {"shared", "views differ", "too few answers", "not shown"}
    assert "too few answers" in set(table["staff_views"])
    assert not table["characteristic"].str.contains("_").any()


# --- compared with the same setting --------------------------------------------------------


def test_the_same_setting_comparison_is_peer_positions_among_that_setting(demo):
    profiles, overview = demo.view("unit_profiles"), demo.view("unit_overview")
    unit = "MS14"
    setting = overview.set_index("microsystem_id").at[unit, "setting"]
    same = overview.loc[overview["setting"].eq(setting), "microsystem_id"]
    own = feedback.peers_in_setting(profiles, overview, unit)
    expected = views.peer_positions(profiles[profiles["microsystem_id"].isin(same)])
    expected = expected[expected["microsystem_id"].eq(unit)].reset_index(drop=True)
    enough = expected["peers"] >= feedback.MIN_SETTING_PEERS
    pd.testing.assert_frame_equal(own[enough.to_numpy()], expected[enough], check_dtype=False)
    assert own.loc[~enough.to_numpy(), "peer_median"].isna().all()
    assert (own["peers"] <= len(same) - 1).all()
    # By hand: the median of the other same-setting units' reported means.
    for row in own[enough.to_numpy()].itertuples():
        others = profiles[profiles["microsystem_id"].isin(same) & profiles["microsystem_id"].ne(unit)
                          & profiles["characteristic_id"].eq(row.characteristic_id) & profiles["reported"]]
        assert row.peer_median == pytest.approx(others["mean"].median())


def test_a_unit_of_a_setting_without_enough_others_gets_no_distribution():
    overview = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "setting": ["x", "x", "y"]})
    profiles = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "characteristic_id": "m", "mean": [1.0, 2.0, 3.0],
                             "reported": True})
    own = feedback.peers_in_setting(profiles, overview, "A")
    assert own["peers"].tolist() == [1] and own[list(feedback.PEER_FIGURES)].isna().all(axis=None)
    with pytest.raises(ValueError, match="'Z'"):
        feedback.peers_in_setting(profiles, overview, "Z")


# --- PDFs -------------------------------------------------------------------------------------


def pages_of(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def test_without_a_browser_the_pdfs_are_skipped_in_one_line(project, tmp_path, capsys):
    from workbench.reports.publishing import write_pdfs

    study = open_study("demo")
    page = project / "reports" / "demo" / "feedback" / "MS01.html"
    page.parent.mkdir(parents=True)
    page.write_text("<!DOCTYPE html><html><head></head><body><h1>Willowdale</h1></body></html>")
    run = write_pdfs(Project(project), study, browser=tmp_path / "no-such-chromium")
    assert run.skipped and "\n" not in run.line() and run.line().startswith("PDFs not made: ")
    assert "chromium" in run.line()
    assert not list((project / "reports" / "demo").rglob("*.pdf"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo (poppler-utils) counts the pages")
def test_a_feedback_report_prints_on_at_most_two_a4_pages_and_the_index_links_it(project, browser):
    from workbench.reports.planning import jobs_for
    from workbench.reports.publishing import write_index, write_pdfs
    from workbench.reports.running import execute

    study = open_study("demo")
    # MS42 fills its two pages the most of the demo's units: a dated change (a new phase on each of its three
    # control charts, long runs), a long name, views that differ on three characteristics and long quotes (the
    # quotes' room on page 2 is what keeps it on two pages). The regeneration printed all 43 on two pages.
    unit = "MS42"
    job = next(j for j in jobs_for(Project(project), study, microsystems=[unit]) if "microsystem_id" in j.parameters)
    outcome = execute(job)
    assert outcome.ok, outcome.error
    run = write_pdfs(Project(project), study)
    reports = project / "reports" / "demo"
    pdf, whole = reports / "feedback" / f"{unit}.pdf", reports / "feedback.pdf"
    assert run.printed == [pdf] and run.combined == [whole] and run.skipped is None
    assert pages_of(pdf) <= 2 and pages_of(whole) == pages_of(pdf)
    assert "A4" in subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    again = write_pdfs(Project(project), study)
    assert (again.printed, again.combined, again.unchanged) == ([], [], 1), "nothing changed: nothing printed"
    index = write_index(Project(project), study, set()).read_text()
    assert f'href="feedback/{unit}.pdf"' in index and 'href="feedback.pdf"' in index
    # A report that is gone takes its PDF with it.
    pdf.with_suffix(".html").unlink()
    write_pdfs(Project(project), study)
    assert not pdf.exists() and not whole.exists()
