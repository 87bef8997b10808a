"""Change between survey waves: the Welch interval against R and scipy, a synthetic two-wave survey
with one known shift, disclosure of changes (small cells, complementary suppression, nothing
recoverable by subtraction), can't-rate never a low score, and agreement wave by wave."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import agreement, survey, views, waves
from workbench.vocabulary import AgreementPolicy, DisclosurePolicy, LevelScale

SCALE = LevelScale.from_values([1, 2, 3])
RULE = DisclosurePolicy(min_cell_size=5)
CATEGORIES = ["respondent_id", "microsystem_id", "role", "item_id", "characteristic_id", "answer"]


def answers_from(rows: list[tuple[str, str, str, str, str, object]]) -> pd.DataFrame:
    """rows: (respondent, microsystem, role, item, characteristic, code), code a level or 'cr'
    (can't rate), as :class:`workbench.schemas.SurveyAnswers` holds them (categories, Int8)."""
    frame = pd.DataFrame(rows, columns=[*CATEGORIES[:5], "code"])
    frame["answer"] = np.where(frame["code"].eq("cr"), "cant_rate", "level")
    frame["level"] = pd.array([c if not isinstance(c, str) else None for c in frame["code"]], dtype="Int8")
    return frame.drop(columns="code").astype(dict.fromkeys(CATEGORIES, "category"))


def scores_to_answers(scores_by_unit: dict[str, list[float]], prefix: str) -> pd.DataFrame:
    """Respondents whose score on a two-item characteristic ``m`` is each given value (whole or
    half levels: 2.5 is one answer 2 and one answer 3)."""
    rows = []
    for unit, scores in scores_by_unit.items():
        for number, score in enumerate(scores):
            respondent = f"{prefix}-{unit}-{number}"
            low, high = int(np.floor(score)), int(np.ceil(score))
            rows += [(respondent, unit, "Nurse", "m1", "m", low), (respondent, unit, "Nurse", "m2", "m", high)]
    return answers_from(rows)


# ---------------------------------------------------------------------------------------
# Reference: R 4.2.2, t.test(after, before) (Welch, the default), run by
# tests/reference/waves_welch.R; its printed output, tests/reference/waves_welch.out, is parsed
# here and the score vectors are read from the script itself, so none of them can drift.
REFERENCE = Path(__file__).parent / "reference"


def r_cases() -> dict[str, dict]:
    script = (REFERENCE / "waves_welch.R").read_text(encoding="utf-8")
    vectors = {}
    for match in re.finditer(r'list\(name = "(\w+)", confidence = ([\d.]+),\s*before = c\(([^)]*)\),\s*'
                             r'after = c\(([^)]*)\)\)', script):
        name, confidence, before, after = match.groups()
        vectors[name] = {"confidence": float(confidence), "before": [float(v) for v in before.split(",")],
                         "after": [float(v) for v in after.split(",")]}
    lines = (REFERENCE / "waves_welch.out").read_text(encoding="utf-8").splitlines()
    header = lines[1].split()
    assert header == ["case", "confidence", "change", "ci_low", "ci_high", "df", "t", "p"]
    for line in lines[2:]:
        name, _, *values = line.split()
        vectors[name]["r"] = dict(zip(header[2:], map(float, values)))
    assert len(vectors) == 5 and all("r" in case for case in vectors.values())
    return vectors


CASES = r_cases()


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_welch_interval_df_and_p_are_r_t_test(confidence):
    cases = {name: case for name, case in CASES.items() if case["confidence"] == confidence}
    earlier = scores_to_answers({name: case["before"] for name, case in cases.items()}, "w1")
    later = scores_to_answers({name: case["after"] for name, case in cases.items()}, "w2")
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=DisclosurePolicy(min_cell_size=2),
                               confidence=confidence).set_index("microsystem_id")
    assert set(table.index) == set(cases)
    for name, case in cases.items():
        row, r = table.loc[name], case["r"]
        assert row["n_before"] == len(case["before"]) and row["n_after"] == len(case["after"])
        for column in ("change", "ci_low", "ci_high", "df", "p"):
            assert row[column] == pytest.approx(r[column], rel=1e-9, abs=1e-12), (name, column)
        assert row["change"] / row["se"] == pytest.approx(r["t"], rel=1e-9, abs=1e-12)
        expected = "up" if r["ci_low"] > 0 else "down" if r["ci_high"] < 0 else "within noise"
        assert row["moved"] == expected


def test_welch_interval_is_scipy_ttest_ind_unequal_variances():
    earlier = scores_to_answers({name: case["before"] for name, case in CASES.items()}, "w1")
    later = scores_to_answers({name: case["after"] for name, case in CASES.items()}, "w2")
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=DisclosurePolicy(min_cell_size=2))
    table = table.set_index("microsystem_id")
    for name, case in CASES.items():
        result = stats.ttest_ind(case["after"], case["before"], equal_var=False)
        interval = result.confidence_interval(0.95)
        row = table.loc[name]
        assert row["p"] == pytest.approx(result.pvalue, rel=1e-9, abs=1e-12)
        assert row["df"] == pytest.approx(result.df, rel=1e-9)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high), rel=1e-9, abs=1e-12)
    # The five-against-thirty case: the df follow the small wave (near 5), not n1 + n2 - 2 = 33.
    assert 4 < table.loc["five_vs_thirty", "df"] < 5


# ---------------------------------------------------------------------------------------
# A synthetic two-wave survey (seeded): six units, four characteristics (one of three items);
# unit U1 rises by 0.8 on measurement, nothing else changes.
ITEMS = {"info_staff": "info", "info_patients": "info", "info_tech": "info", "measure": "measurement",
         "team": "interdependence", "purpose": "purpose"}
UNITS = ["U1", "U2", "U3", "U4", "U5", "U6"]


def synthetic_wave(rng, base: np.ndarray, sizes: list[int], prefix: str, shift: dict) -> pd.DataFrame:
    characteristics = sorted(set(ITEMS.values()))
    frames = []
    for u, (unit, size) in enumerate(zip(UNITS, sizes)):  # a few units: one block of answers each
        mean = np.array([base[u, characteristics.index(c)] + shift.get((unit, c), 0.0) for c in ITEMS.values()])
        levels = np.clip(np.rint(mean[None, :] + rng.normal(0, 0.55, size=(size, len(ITEMS)))), 1, 3)
        cant_rate = rng.random((size, len(ITEMS))) < 0.05
        respondents = np.repeat([f"{prefix}-{unit}-{i}" for i in range(size)], len(ITEMS))
        frames.append(pd.DataFrame({
            "respondent_id": respondents, "microsystem_id": unit,
            "role": np.repeat(np.where(np.arange(size) % 4 == 0, "Physician", "Nurse"), len(ITEMS)),
            "item_id": np.tile(list(ITEMS), size), "characteristic_id": np.tile(list(ITEMS.values()), size),
            "answer": np.where(cant_rate, "cant_rate", "level").ravel(),
            "level": pd.array(np.where(cant_rate, np.nan, levels).ravel(), dtype="Int8")}))
    return pd.concat(frames, ignore_index=True).astype(dict.fromkeys(CATEGORIES, "category"))


@pytest.fixture(scope="module")
def two_waves() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    base = rng.uniform(1.6, 2.4, size=(len(UNITS), 4))
    base[0, sorted(set(ITEMS.values())).index("measurement")] = 1.5
    earlier = synthetic_wave(rng, base, [14, 16, 18, 15, 20, 17], "w1", {})
    later = synthetic_wave(rng, base, [17, 15, 19, 16, 18, 20], "w2", {("U1", "measurement"): 0.8})
    return earlier, later


def test_a_shifted_unit_moves_up_and_stable_ones_stay_mostly_within_noise(two_waves):
    earlier, later = two_waves
    copies = earlier.copy(), later.copy()
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, waves=("2025", "2026"))
    pd.testing.assert_frame_equal(earlier, copies[0])  # the inputs are left as they were
    pd.testing.assert_frame_equal(later, copies[1])
    assert len(table) == len(UNITS) * 4 and table["shown"].all()
    assert list(table.columns) == list(waves.UNIT_CHANGE_COLUMNS)
    shifted = table.set_index(["microsystem_id", "characteristic_id"]).loc[("U1", "measurement")]
    # (levels are whole numbers on 1-3, so the +0.8 of the latent mean shows as about +0.5)
    assert shifted["moved"] == "up" and shifted["change"] > 0.3 and shifted["ci_low"] > 0
    assert bool(shifted["stands_adjusted"])
    stable = table[~(table["microsystem_id"].eq("U1") & table["characteristic_id"].eq("measurement"))]
    assert stable["moved"].eq("within noise").mean() >= 0.8
    # An unchanged unit whose interval excludes 0 by chance does not stand after the adjustment.
    assert not stable["stands_adjusted"].any()
    # The adjusted p is Benjamini-Hochberg over the table: never below the raw p, and monotone in it.
    assert (table["p_adjusted"] >= table["p"] - 1e-15).all()
    order = table.sort_values("p")
    assert order["p_adjusted"].is_monotonic_increasing
    # Means and counts are those of the study's own scoring (survey.respondent_scores).
    scores = survey.respondent_scores(later)
    u1 = scores[scores["microsystem_id"].eq("U1") & scores["characteristic_id"].eq("measurement")]["score"]
    assert shifted["mean_after"] == pytest.approx(u1.mean()) and shifted["n_after"] == u1.notna().sum()


def test_study_change_is_the_mean_of_unit_changes_with_a_paired_t_across_units(two_waves):
    earlier, later = two_waves
    changes = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE)
    study = waves.study_change(changes).set_index("characteristic_id")
    assert list(study.reset_index().columns) == list(waves.STUDY_CHANGE_COLUMNS)
    for characteristic, rows in changes.groupby("characteristic_id"):
        row = study.loc[characteristic]
        assert row["n_units"] == len(UNITS)
        assert row["change"] == pytest.approx(rows["change"].mean(), rel=1e-12)
        paired = stats.ttest_rel(rows["mean_after"], rows["mean_before"])  # by hand: units paired with themselves
        interval = paired.confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high), rel=1e-9)
        assert row["p"] == pytest.approx(paired.pvalue, rel=1e-9) and row["df"] == len(UNITS) - 1
        counted = row[["units_up", "units_down", "units_within_noise", "units_not_tested"]].sum()
        assert counted == row["n_units"] and row["units_not_shown"] == 0
    assert study.loc["measurement", "units_up"] >= 1


def test_bootstrap_interval_is_seeded_and_close_to_welch_for_twenty_people(two_waves):
    earlier, later = two_waves
    welch = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE)
    first = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, method="bootstrap", n_resamples=1000)
    again = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, method="bootstrap", n_resamples=1000)
    pd.testing.assert_frame_equal(first, again)
    assert first["df"].isna().all() and first["method"].eq("bootstrap").all()
    assert np.allclose(first["change"], welch["change"])
    assert np.abs(first["ci_low"] - welch["ci_low"]).max() < 0.15
    assert np.abs(first["ci_high"] - welch["ci_high"]).max() < 0.15
    assert first["moved"].iloc[0] == welch["moved"].iloc[0]


# ---------------------------------------------------------------------------------------
# Disclosure


def one_item_wave(sizes: dict[str, int], prefix: str, rng) -> pd.DataFrame:
    rows = []
    for unit, size in sizes.items():
        for number, level in enumerate(rng.integers(1, 4, size=size)):
            rows.append((f"{prefix}-{unit}-{number}", unit, "Nurse", "m", "m", int(level)))
    return answers_from(rows)


@pytest.mark.parametrize("small_wave", ["earlier", "later"])
def test_a_unit_of_four_is_hidden_and_a_second_unit_protects_it(small_wave):
    rng = np.random.default_rng(5)
    small = {"A": 4, "B": 6, "C": 10, "D": 12}
    enough = {"A": 7, "B": 8, "C": 9, "D": 11}
    earlier = one_item_wave(small if small_wave == "earlier" else enough, "w1", rng)
    later = one_item_wave(enough if small_wave == "earlier" else small, "w2", rng)
    names = {"earlier": "2025", "later": "2026"}
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, waves=("2025", "2026"))
    table = table.set_index("microsystem_id")
    figures = ["mean_before", "sd_before", "mean_after", "sd_after", "change", "se", "df", "ci_low", "ci_high", "p",
               "p_adjusted"]
    for unit in ("A", "B"):  # A has four people; B, the next smallest, is hidden so A cannot be recovered
        row = table.loc[unit]
        assert not row["shown"] and pd.isna(row["moved"]) and pd.isna(row["stands_adjusted"])
        assert row[figures].isna().all(), row[figures]
    assert table.loc["A", "note"] == f"fewer than 5 people rated it in {names[small_wave]}"
    assert "other units" in table.loc["B", "note"]
    assert table.loc[["C", "D"], "shown"].all() and table.loc[["C", "D"], "change"].notna().all()
    # Counts are kept, as the views keep them.
    assert table.loc["A", "n_before" if small_wave == "earlier" else "n_after"] == 4
    # The later wave is the study's answers: what its views hide of the means is what is hidden here.
    profiles = views.unit_profiles(later, scale=SCALE, policy=AgreementPolicy(), disclosure=RULE)
    hidden_in_views = set(profiles.loc[profiles["mean"].isna(), "microsystem_id"])
    assert hidden_in_views == ({"A", "B"} if small_wave == "later" else set())

    # Nothing hidden is recoverable by subtraction. The wave's whole-study mean on the item is
    # published (study_items); minus the shown units it gives only A and B pooled, not either.
    wave = earlier if small_wave == "earlier" else later
    levels = wave["level"].astype("float64")
    unit_of = wave["microsystem_id"].astype("str")
    suffix = "before" if small_wave == "earlier" else "after"
    shown = table.loc[["C", "D"]]
    remainder = levels.sum() - (shown[f"n_{suffix}"] * shown[f"mean_{suffix}"]).sum()
    recovered = remainder / (small["A"] + small["B"])
    assert recovered == pytest.approx(levels[unit_of.isin(["A", "B"])].mean())
    assert recovered != pytest.approx(levels[unit_of.eq("A")].mean())
    assert recovered != pytest.approx(levels[unit_of.eq("B")].mean())
    # The study's change rests on the shown units only: n times it, minus the shown changes, is nothing.
    study = waves.study_change(table.reset_index()).iloc[0]
    assert study["n_units"] == 2 and study["units_not_shown"] == 2
    assert study["n_units"] * study["change"] - shown["change"].sum() == pytest.approx(0, abs=1e-12)
    # And the adjustment for many changes is over the shown ones alone.
    assert table["p_adjusted"].notna().sum() == 2


def test_unanimous_groups_are_hidden_when_the_study_says_so():
    rows = [(f"w1-{u}-{i}", u, "Nurse", "m", "m", 2 if u == "A" else 1 + i % 3) for u in "ABC" for i in range(6)]
    rows2 = [(f"w2-{u}-{i}", u, "Nurse", "m", "m", 1 + i % 3) for u in "ABC" for i in range(6)]
    hide = DisclosurePolicy(min_cell_size=5, unanimous="hide")
    table = waves.unit_changes(answers_from(rows), answers_from(rows2), scale=SCALE, disclosure=hide,
                               waves=("2025", "2026")).set_index("microsystem_id")
    assert not table.loc["A", "shown"] and "same answer" in table.loc["A", "note"]
    assert not table.loc["B", "shown"]  # the next smallest protects A from the published total
    shown = waves.unit_changes(answers_from(rows), answers_from(rows2), scale=SCALE, disclosure=RULE)
    assert shown["shown"].all()


def test_cant_rate_is_never_a_low_score():
    def wave(prefix: str, levels: dict[str, list]) -> pd.DataFrame:
        rows = []
        for unit, codes in levels.items():
            for number, code in enumerate(codes):
                respondent = f"{prefix}-{unit}-{number}"
                rows += [(respondent, unit, "Nurse", "measure", "measurement", code),
                         (respondent, unit, "Nurse", "team", "interdependence", 2)]
        return answers_from(rows)

    earlier = wave("w1", {"A": [2, 2, 3, 2, 3, 2], "B": [1, 2, 2, 1, 2, 2]})
    later = wave("w2", {"A": [3, 3, 2, 3, 3, "cr"], "B": [1, 2, "cr", "cr", 2, 2]})
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=DisclosurePolicy(min_cell_size=2))
    table = table.set_index(["microsystem_id", "characteristic_id"])
    a = table.loc[("A", "measurement")]
    assert a["n_after"] == 5  # the respondent who could not rate it has no score and is not counted
    assert a["mean_after"] == pytest.approx(14 / 5)  # not (14 + 0) / 6, nor with a 1 for can't rate
    assert table.loc[("A", "interdependence"), "n_after"] == 6  # the same respondent counts where they rated
    strict = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE).set_index(
        ["microsystem_id", "characteristic_id"])
    assert strict.loc[("B", "measurement"), "n_after"] == 4
    assert not strict.loc[("B", "measurement"), "shown"]
    assert strict.loc[("B", "measurement"), "note"] == "fewer than 5 people rated it in later"


# ---------------------------------------------------------------------------------------
# Agreement per wave, sentences, argument errors


def test_agreement_by_wave_gives_one_row_per_wave_and_item(two_waves):
    earlier, later = two_waves
    policy = AgreementPolicy()
    table = waves.agreement_by_wave({"2025": earlier, "2026": later}, scale=SCALE, policy=policy)
    assert list(table.columns) == list(waves.AGREEMENT_BY_WAVE_COLUMNS)
    assert len(table) == 2 * len(ITEMS) and not table.duplicated(["wave", "item_id"]).any()
    assert table["wave"].tolist() == ["2025"] * len(ITEMS) + ["2026"] * len(ITEMS)
    for column in ("icc1", "icc1_low", "icc1_high", "icc2"):
        assert table[column].between(-1, 1).all(), column
    later_rows = table[table["wave"].eq("2026")].set_index("item_id")
    direct = agreement.icc_by_item(later).assign(item_id=lambda t: t["item_id"].astype("str")).set_index("item_id")
    assert np.allclose(later_rows["icc1"], direct.loc[later_rows.index, "icc1"])
    verdicts = agreement.characteristic_agreement(later, scale=SCALE, policy=policy)
    shared = verdicts[verdicts["agreement"].eq("shared")].groupby("characteristic_id").size()
    for item, characteristic in ITEMS.items():
        assert later_rows.loc[item, "characteristic_id"] == characteristic
        assert later_rows.loc[item, "units_shared"] == shared.get(characteristic, 0)
        assert later_rows.loc[item, "units"] == len(UNITS)


def test_change_sentences_are_words_for_people(two_waves):
    earlier, later = two_waves
    table = waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, waves=("2025", "2026"))
    labels = {"info": "Integration of information", "measurement": "Measurement"}
    sentences = waves.change_sentences(table[table["microsystem_id"].eq("U1")], labels)
    assert len(sentences) == 4
    assert any(re.fullmatch(r"Measurement: up from \d\.\d to \d\.\d \(change \+\d\.\d, 95% interval "
                            r"\+\d\.\d to \+\d\.\d\)\.", s) for s in sentences), sentences
    assert not any(re.search(r"[a-z]_[a-z]", s) for s in sentences), sentences
    hidden = pd.DataFrame({"characteristic_id": ["team_work"], "shown": [False], "moved": [None],
                           "note": ["fewer than 5 people rated it in 2025"]})
    assert waves.change_sentences(hidden, {}) == ["Team work: not shown, fewer than 5 people rated it in 2025."]


def test_arguments_are_checked_with_a_useful_message(two_waves):
    earlier, later = two_waves
    with pytest.raises(ValueError, match="method must be 'welch' or 'bootstrap', got 'pooled'"):
        waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, method="pooled")
    with pytest.raises(ValueError, match="waves must name the earlier and the later wave"):
        waves.unit_changes(earlier, later, scale=SCALE, disclosure=RULE, waves=("2025", "2025"))
    with pytest.raises(ValueError, match=r"later lacks the survey answers' columns \['level'\]"):
        waves.unit_changes(earlier, later.drop(columns="level"), scale=SCALE, disclosure=RULE)
    with pytest.raises(ValueError, match=r"earlier holds levels \[3\], which are not on the scale \[1, 2\]"):
        waves.unit_changes(earlier, later, scale=LevelScale.from_values([1, 2]), disclosure=RULE)
