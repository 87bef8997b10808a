"""Run charts, control charts and funnel plots against published values.

Sources: Montgomery, *Introduction to Statistical Quality Control* (Examples 7.1, 7.3 and the
personal-computer U chart of chapter 7); Anhøj & Olesen (2014), "Run charts revisited", PLoS ONE
9:e113825 (Table 1), cross-checked with base R in tests/reference/anhoej_critical.R; Spiegelhalter
(2005), Stat Med 24:1185-1202 and Qual Saf Health Care 14:347-351, computed in base R by
tests/reference/funnel_limits.R. The .out files hold R's printed output; these tests parse them
and never need R.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench import plotting, spc  # noqa: E402
from workbench.errors import InputError  # noqa: E402

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def monthly(*, numerator=None, denominator=None, value=None, start="2020-01-01") -> pd.DataFrame:
    """A tidy monthly series from lists (missing columns are NaN)."""
    length = len(next(v for v in (numerator, value) if v is not None))
    nan = np.full(length, np.nan)

    def column(values):
        return nan if values is None else np.broadcast_to(np.asarray(values, dtype="float64"), (length,)).copy()

    return pd.DataFrame({"period": pd.date_range(start, periods=length, freq="MS"), "numerator": column(numerator),
                         "denominator": column(denominator), "value": column(value)})


# --------------------------------------------------------------------------------------
# Shewhart charts against Montgomery

# Montgomery, Example 7.1: nonconforming orange-juice cans in 30 samples of n = 50 (Table 7.1).
# Transcribed from the book; the transcription is checked two ways the book prints: the total is
# 347 (p̄ = 347/1500 = 0.2313) and samples 15 and 23 are the two above the UCL. p̄ and the limits
# depend only on the total and n (see the next test), so a slip in one count could only move the
# flags.
ORANGE_JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13,
                9, 6]
# Montgomery, Example 7.3: nonconformities in 26 samples of 100 printed circuit boards (Table 7.7).
# Checked the same way: total 516 (c̄ = 19.85), samples 6 and 20 outside the limits.
CIRCUIT_BOARDS = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]
# Montgomery's personal-computer U chart (chapter 7): total nonconformities in 20 samples of n = 5
# computers. Total 193 (ū = 1.93), no sample outside; I am less sure of the order of the counts than
# of their total, which is all ū and the limits depend on.
COMPUTERS = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]


def test_p_chart_reproduces_montgomery_example_7_1():
    assert sum(ORANGE_JUICE) == 347
    chart, runs = spc.control_chart(monthly(numerator=ORANGE_JUICE, denominator=50), kind="proportion",
                                    better="lower")
    # The book prints 4 decimals: tolerance half a unit in the last place.
    assert chart["centre"].iloc[0] == pytest.approx(0.2313, abs=5e-5)
    assert chart["ucl"].iloc[0] == pytest.approx(0.4102, abs=5e-5)
    assert chart["lcl"].iloc[0] == pytest.approx(0.0524, abs=5e-5)
    assert (chart.index[chart["outside"].eq("above")] + 1).tolist() == [15, 23]
    assert chart["outside"].ne("below").all()
    assert len(runs) == 1 and runs[0].n_useful == 30

    # The book's revised limits, once the two samples with assignable causes are set aside.
    revised = list(ORANGE_JUICE)
    revised[14] = revised[22] = np.nan
    chart, _ = spc.control_chart(monthly(numerator=revised, denominator=50), kind="proportion", better="lower")
    assert chart[["centre", "ucl", "lcl"]].iloc[0].tolist() == pytest.approx([0.2150, 0.3893, 0.0407], abs=5e-5)


def test_p_chart_limits_depend_only_on_pbar_and_n():
    """Montgomery's p̄ = 0.2313, UCL 0.4102, LCL 0.0524 from p̄ and n = 50 alone: any 30 counts
    totalling 347 give them, so this holds whatever the individual counts in the book."""
    rng = np.random.default_rng(71)
    counts = rng.multinomial(347 - 30 * 4, np.full(30, 1 / 30)) + 4  # 30 counts, each at most 50, total 347
    assert counts.sum() == 347 and counts.max() <= 50
    chart, _ = spc.control_chart(monthly(numerator=counts, denominator=50), kind="proportion", better="lower",
                                 per=100)
    assert chart[["centre", "ucl", "lcl"]].iloc[0].tolist() == pytest.approx([23.13, 41.02, 5.24], abs=5e-3)


def test_p_chart_limits_vary_with_each_months_denominator():
    chart, _ = spc.control_chart(monthly(numerator=[10, 30, 5, 0], denominator=[100, 200, 50, 100]),
                                 kind="proportion", per=100, better="higher")
    # p̄ = 45/450 = 0.1; sigma_i = sqrt(0.09 / n_i); by hand:
    assert chart["centre"].tolist() == pytest.approx([10.0] * 4)
    assert chart["ucl"].tolist() == pytest.approx([19.0, 16.3640, 22.7279, 19.0], abs=1e-4)
    assert chart["lcl"].tolist() == pytest.approx([1.0, 3.6360, 0.0, 1.0], abs=1e-4)  # n = 50: floored at 0
    assert chart["outside"].fillna("").tolist() == ["", "", "", "below"]


def test_p_chart_caps_the_upper_limit_at_100_percent():
    chart, _ = spc.control_chart(monthly(numerator=[9, 4, 5, 5], denominator=[10, 5, 5, 6]), kind="proportion",
                                 per=100, better="higher")
    assert chart["ucl"].max() == 100.0
    assert chart["lcl"].min() > 0


def test_c_chart_reproduces_montgomery_example_7_3():
    assert sum(CIRCUIT_BOARDS) == 516
    chart, _ = spc.control_chart(monthly(value=CIRCUIT_BOARDS), kind="count", better="lower")
    # The book works from c̄ rounded to 19.85 (19.85 + 3 sqrt(19.85) = 33.22); from c̄ = 516/26 exactly the
    # UCL is 33.211, so the tolerance is the book's rounding, 0.01.
    assert chart[["centre", "ucl", "lcl"]].iloc[0].tolist() == pytest.approx([19.85, 33.22, 6.48], abs=0.01)
    assert (chart.index[chart["outside"].notna()] + 1).tolist() == [6, 20]
    assert chart.loc[5, "outside"] == "below" and chart.loc[19, "outside"] == "above"
    # The book's revised chart without samples 6 and 20: c̄ = 19.67, UCL 32.97, LCL 6.36.
    revised = np.array(CIRCUIT_BOARDS, dtype="float64")
    revised[[5, 19]] = np.nan
    chart, _ = spc.control_chart(monthly(value=revised), kind="count", better="lower")
    assert chart[["centre", "ucl", "lcl"]].iloc[0].tolist() == pytest.approx([19.67, 32.97, 6.36], abs=5e-3)


def test_u_chart_reproduces_montgomerys_personal_computers():
    assert sum(COMPUTERS) == 193
    chart, _ = spc.control_chart(monthly(numerator=COMPUTERS, denominator=5), kind="rate", better="lower")
    assert chart[["centre", "ucl", "lcl"]].iloc[0].tolist() == pytest.approx([1.93, 3.79, 0.07], abs=5e-3)
    assert chart["outside"].isna().all()


def test_i_chart_and_moving_ranges_by_hand():
    chart, _ = spc.control_chart(monthly(value=[5, 7, 6, 9, 8]), kind="measurement", better="higher")
    # Mean 7; moving ranges 2, 1, 3, 1 (mean 1.75); sigma = 1.75 / 1.128; MR UCL = 3.267 x 1.75.
    assert chart["mr"].tolist()[1:] == [2, 1, 3, 1] and np.isnan(chart["mr"].iloc[0])
    assert chart["centre"].iloc[0] == 7
    assert chart["ucl"].iloc[0] == pytest.approx(7 + 3 * 1.75 / 1.128)  # 11.654
    assert chart["lcl"].iloc[0] == pytest.approx(7 - 3 * 1.75 / 1.128)  # 2.346
    assert chart["mr_centre"].iloc[0] == 1.75
    assert chart["mr_ucl"].iloc[0] == pytest.approx(5.71725)


def test_i_chart_takes_no_moving_range_across_a_skipped_month():
    chart, _ = spc.control_chart(monthly(value=[5, 7, np.nan, 9, 8]), kind="measurement", better="higher")
    assert chart["mr"].isna().tolist() == [True, False, True, True, False]
    assert chart["mr_centre"].iloc[0] == pytest.approx(1.5)  # (2 + 1) / 2
    assert chart["centre"].iloc[0] == pytest.approx(7.25)


def test_each_phase_has_its_own_centre_and_limits():
    rng = np.random.default_rng(5)
    den = rng.integers(800, 1200, 24).astype(float)
    num = rng.poisson(np.r_[np.full(12, 0.015), np.full(12, 0.008)] * den).astype(float)
    series = monthly(numerator=num, denominator=den, start="2024-04-01")
    chart, runs = spc.control_chart(series, kind="rate", per=1000, better="lower", phases=["2025-04-01"])
    assert chart["phase"].tolist() == [0] * 12 + [1] * 12
    assert len(runs) == 2 and runs[1].phase_start == pd.Timestamp("2025-04-01")
    base, after = chart[chart["phase"].eq(0)], chart[chart["phase"].eq(1)]
    assert base["centre"].iloc[0] == pytest.approx(num[:12].sum() / den[:12].sum() * 1000)
    assert after["centre"].iloc[0] == pytest.approx(num[12:].sum() / den[12:].sum() * 1000)
    assert after["centre"].iloc[0] < base["centre"].iloc[0]
    # Each phase's limits are those of a chart of its own months alone.
    alone, _ = spc.control_chart(series.iloc[12:].reset_index(drop=True), kind="rate", per=1000, better="lower")
    np.testing.assert_allclose(after["ucl"], alone["ucl"])
    np.testing.assert_allclose(after["lcl"], alone["lcl"])
    assert "phase that began in April 2025" in runs[1].centre_label


def test_control_chart_rejects_a_phase_without_baseline():
    with pytest.raises(ValueError, match="no baseline"):
        spc.control_chart(monthly(value=[1, 2, 3]), kind="count", better="lower", phases=["2020-01-01"])


# --------------------------------------------------------------------------------------
# Anhøj's run rules

# Anhøj & Olesen (2014), Table 1: upper limit for the longest run and lower limit for the number of
# crossings by number of useful observations (qicharts2 applies the same two numbers).
ANHOEJ_TABLE = {10: (6, 2), 11: (6, 2), 12: (7, 3), 13: (7, 3), 14: (7, 4), 16: (7, 4), 18: (7, 5), 20: (7, 6),
                22: (7, 7), 23: (8, 7), 24: (8, 8), 26: (8, 8), 30: (8, 10), 40: (8, 14), 50: (9, 19), 60: (9, 23),
                100: (10, 41)}


def test_anhoej_critical_values_match_the_published_table():
    n = np.array(list(ANHOEJ_TABLE))
    longest, crossings = spc.anhoej_critical(n)
    assert list(zip(longest.tolist(), crossings.tolist())) == list(ANHOEJ_TABLE.values())
    assert spc.anhoej_critical(24) == (8, 8)


def test_anhoej_critical_values_match_r_for_every_n_from_10_to_100():
    lines = (REFERENCE / "anhoej_critical.out").read_text().splitlines()
    table = np.array([[int(v) for v in line.split()] for line in lines[2:]])
    assert table[0, 0] == 10 and table[-1, 0] == 100
    longest, crossings = spc.anhoej_critical(table[:, 0])
    np.testing.assert_array_equal(longest, table[:, 1])
    np.testing.assert_array_equal(crossings, table[:, 2])


def test_anhoej_critical_rejects_fewer_than_one_observation():
    with pytest.raises(ValueError, match="at least 1"):
        spc.anhoej_critical(0)


def _runs_by_loop(sides):
    """Longest run and crossings the plain way: drop points on the centre line, count runs."""
    useful = [s for s in sides if s != 0]
    if not useful:
        return 0, 0
    runs = [1]
    for before, now in zip(useful, useful[1:]):
        if now == before:
            runs[-1] += 1
        else:
            runs.append(1)
    return max(runs), len(runs) - 1


def test_vectorised_runs_agree_with_a_plain_loop():
    rng = np.random.default_rng(11)
    y = rng.integers(-1, 2, size=(500, 17)).astype(float)  # -1, 0 (on the centre line) or +1
    y[:3] = 0  # series without a useful point
    y[3, 5] = np.nan  # a skipped month
    table = spc.runs_analysis(y, 0.0)
    expected = [_runs_by_loop(np.nan_to_num(row)) for row in y]
    assert list(zip(table["longest_run"], table["crossings"])) == expected
    assert table["n_useful"].tolist() == [int(np.sum(np.nan_to_num(row) != 0)) for row in y]
    assert not table["signal"].iloc[:3].any()


def test_run_chart_signals_a_sustained_shift_after_a_frozen_baseline():
    before = [14, 16, 15, 13, 17, 15, 14, 16, 15, 13, 17, 16]
    after = [11, 10, 12, 11, 9, 10, 11, 12, 10]
    series = monthly(numerator=before + after, denominator=1000, start="2024-04-01")
    chart, summary = spc.run_chart(series, kind="rate", per=1000, better="lower", baseline_end="2025-04-01")
    assert chart["centre"].tolist() == [15.0] * 21  # the baseline's median, extended over later months
    assert chart["baseline"].tolist() == [True] * 12 + [False] * 9
    assert summary.centre_label == "baseline median"
    assert summary.longest_run == 9 and summary.run_side == "below" and summary.run_ongoing
    assert summary.run_start == pd.Timestamp("2025-04-01")
    assert summary.runs_signal and summary.signal
    assert chart["signal_run"].tolist() == [False] * 12 + [True] * 9
    words = spc.signals_in_words(summary)
    assert words[0] == ("9 months in a row below the baseline median since April 2025 (lower is better: an "
                        "improvement).")
    # The same months without a frozen baseline: the median of all 21 months, no frozen label.
    _, whole = spc.run_chart(series, kind="rate", per=1000, better="lower")
    assert whole.centre_label == "median" and whole.centre == 13.0


def test_run_chart_of_a_stable_series_does_not_signal():
    rng = np.random.default_rng(2024)
    series = monthly(value=rng.normal(80, 3, 24))
    chart, summary = spc.run_chart(series, kind="measurement", better="higher")
    assert summary.n_useful == 24 and not summary.signal
    assert summary.longest_run_limit == 8 and summary.crossings_limit == 8
    assert spc.signals_in_words(summary)[0].startswith("No signal: the variation looks like common-cause")


def test_points_on_the_median_neither_count_nor_break_a_run():
    # Baseline 1, 3, 5: median 3. Later, 4 and 3 alternate: the 3s sit on the median.
    values = [1, 3, 5] + [4, 3] * 9
    chart, summary = spc.run_chart(monthly(value=values), kind="measurement", better="higher",
                                   baseline_end="2020-04-01")
    assert chart["side"].tolist()[:5] == ["below", "on", "above", "above", "on"]
    assert summary.n_useful == 2 + 9  # the 1, the 5 and the nine 4s
    assert summary.longest_run == 10  # the 5 and the nine 4s: the 3s between them do not break it
    assert summary.crossings == 1
    assert summary.longest_run_limit == 6 and summary.runs_signal
    on = chart["side"].eq("on").to_numpy()
    assert not chart["signal_run"][on].any() and chart["signal_run"][~on].iloc[1:].all()


def test_few_crossings_signal_in_words():
    # Up for a year, then down: two long runs and one crossing.
    values = np.r_[np.linspace(10, 12, 6), np.linspace(14, 16, 6), np.linspace(8, 9, 6), np.linspace(13, 15, 6)]
    chart, summary = spc.run_chart(monthly(value=values), kind="measurement", better="higher")
    assert summary.crossings == 3 and summary.crossings_limit == 8 and summary.crossings_signal
    sentence = [s for s in spc.signals_in_words(summary) if s.startswith("Only")][0]
    assert sentence == ("Only 3 crossings of the median in 24 months (fewer than 8 would happen by chance 1 time in 20 "
                        "or less): the series is shifting or trending.")


def test_months_outside_the_limits_in_words():
    values = [80, 81, 79, 80, 82, 79, 81, 80, 60, 80, 81, 79]
    chart, runs = spc.control_chart(monthly(value=values, start="2025-01-01"), kind="measurement", better="higher")
    assert chart["outside"].eq("below").tolist() == [i == 8 for i in range(12)]
    words = spc.signals_in_words(runs, chart)
    assert "September 2025 was below the lower control limit (higher is better: unusually poor for this process)." \
        in words


def test_simulated_false_signal_rate_of_stable_series():
    """Anhøj's rules on 2,000 stable series of 24 months (seeded normal noise).

    With this seed, against each series' own median (how a run chart is drawn) 3.05% of the
    series signal (runs rule 0.5%, crossings rule 2.8%); against the true centre line
    (independent coin flips, the rules' design) 7.35% (runs 3.35%, crossings 5.45%; the
    crossings rule alone by design: P(Bin(23, 0.5) < 8) = 4.66%). With 200,000 series the rates
    settle at 3.0% and 6.6%. An error in the rules (e.g. >= for >) moves them outside the bands.
    """
    rng = np.random.default_rng(20140)
    y = rng.normal(size=(2000, 24))
    own = spc.runs_analysis(y, np.median(y, axis=1))
    true = spc.runs_analysis(y, 0.0)
    assert 0.015 <= own["signal"].mean() <= 0.05
    assert 0.04 <= true["signal"].mean() <= 0.09
    assert 0.03 <= true["crossings_signal"].mean() <= 0.065
    assert (own["n_useful"] == 24).all()


def test_run_chart_skips_missing_months_and_handles_no_data():
    values = [5, np.nan, 6, 4, np.nan, 5]
    chart, summary = spc.run_chart(monthly(value=values), kind="count", better="lower")
    assert summary.n_observations == 4 and chart["side"].isna().tolist() == [False, True, False, False, True, False]
    empty, nothing = spc.run_chart(monthly(value=[np.nan] * 4), kind="count", better="lower")
    assert nothing.n_useful == 0 and not nothing.signal and nothing.longest_run_limit is None
    assert spc.signals_in_words(nothing) == ["No month has data yet."]


def test_a_month_with_zero_denominator_is_skipped_not_zero():
    chart, _ = spc.run_chart(monthly(numerator=[3, 0, 4], denominator=[100, 0, 100]), kind="rate", per=100,
                             better="lower")
    assert np.isnan(chart["y"].iloc[1]) and chart["centre"].iloc[0] == 3.5


def test_series_input_errors_name_the_problem():
    with pytest.raises(ValueError, match="kind must be one of"):
        spc.run_chart(monthly(value=[1, 2]), kind="ratio", better="lower")
    with pytest.raises(ValueError, match="better must be one of"):
        spc.run_chart(monthly(value=[1, 2]), kind="count", better="up")
    with pytest.raises(InputError, match="lacks \\['numerator'"):
        spc.run_chart(monthly(value=[1, 2]).drop(columns="numerator"), kind="rate", better="lower")
    with pytest.raises(InputError, match="numerator at most the denominator"):
        spc.run_chart(monthly(numerator=[5, 12], denominator=[10, 10]), kind="proportion", better="higher")
    with pytest.raises(InputError, match="sorted ascending"):
        spc.run_chart(monthly(value=[1, 2]).iloc[::-1], kind="count", better="lower")
    with pytest.raises(ValueError, match="baseline_end"):
        spc.run_chart(monthly(value=[1, 2, 3]), kind="count", better="lower", baseline_end="2019-01-01")


def test_month_labels_do_not_depend_on_the_locale():
    assert spc.month_label("2025-06-01") == "June 2025"
    assert spc.month_label(pd.Timestamp("2026-01-01"), short=True) == "Jan 26"


# --------------------------------------------------------------------------------------
# Funnel plots against base R


def _funnel_reference():
    limits, blocks, block = [], {}, None
    for line in (REFERENCE / "funnel_limits.out").read_text().splitlines():
        words = line.split()
        if not words or words[0] in ("R", "kind") or words[:2] == ["section", "limit"]:
            continue
        if words[:2] == ["section", "overdispersion"]:
            block = blocks.setdefault(words[2], {"kind": words[3], "adjusted": {}})
        elif block is None:
            limits.append((words[0], float(words[1]), float(words[2]), float(words[3]), float(words[4])))
        elif words[0] == "adjusted":
            block["adjusted"][(float(words[1]), words[2])] = np.array(words[3:], dtype="float64")
        else:
            block[words[0]] = np.array(words[1:], dtype="float64")
    return pd.DataFrame(limits, columns=["kind", "theta", "volume", "p", "limit"]), blocks


def test_exact_funnel_limits_match_r():
    reference, _ = _funnel_reference()
    assert len(reference) == 5 * 6 * 4 + 4 * 5 * 4
    for (kind, theta), rows in reference.groupby(["kind", "theta"]):
        ours = spc.funnel_limits(theta, sorted(rows["volume"].unique()), kind=kind).set_index(["volume", "probability"])
        for row in rows.itertuples():
            upper = row.p > 0.5
            value = ours.loc[(row.volume, row.p if upper else 1 - row.p), "upper" if upper else "lower"]
            # R prints the raw interpolated limit; the workbench floors it at 0 (and caps a proportion at 1).
            expected = min(max(row.limit, 0.0), 1.0 if kind == "proportion" else np.inf)
            assert value == pytest.approx(expected, abs=1e-12), (kind, theta, row.volume, row.p)


def test_funnel_limits_scale_with_per():
    plain = spc.funnel_limits(0.015, [500, 2000], kind="rate")
    shown = spc.funnel_limits(15, [500, 2000], kind="rate", per=1000)
    np.testing.assert_allclose(shown[["lower", "upper"]], plain[["lower", "upper"]] * 1000)
    assert shown["coverage"].tolist() == [0.95, 0.998, 0.95, 0.998]


@pytest.mark.parametrize("name", ["hygiene", "safety", "safety_wide"])
def test_overdispersion_matches_r_and_the_formulae_by_hand(name):
    _, blocks = _funnel_reference()
    ref = blocks[name]
    kind = ref["kind"]
    units = pd.DataFrame({"microsystem_id": [f"U{i}" for i in range(len(ref["numerator"]))],
                          "numerator": ref["numerator"], "denominator": ref["denominator"]})
    funnel = spc.funnel_table(units, kind=kind, volumes=ref["volumes"])

    # By hand with numpy, independently of the module: Spiegelhalter's formulae.
    r, n = ref["numerator"], ref["denominator"]
    theta = r.sum() / n.sum()
    s2 = theta * (1 - theta) / n if kind == "proportion" else theta / n
    z = (r / n - theta) / np.sqrt(s2)
    low, high = np.percentile(z, [10, 90])
    phi = np.mean(np.clip(z, low, high) ** 2)
    w = 1 / s2
    tau2 = max(0.0, (len(z) * phi - (len(z) - 1)) / (w.sum() - (w**2).sum() / w.sum()))

    assert funnel.target == pytest.approx(theta, rel=1e-12) == pytest.approx(ref["theta"][0], rel=1e-12)
    np.testing.assert_allclose(funnel.table["z"], z, rtol=1e-12)
    np.testing.assert_allclose(funnel.table["z"], ref["z"], rtol=1e-12)
    assert funnel.phi == pytest.approx(phi, rel=1e-12) == pytest.approx(ref["phi"][0], rel=1e-12)
    overdispersed = ref["I_phi"][0] > ref["chisq_95"][0]
    assert funnel.adjusted is bool(overdispersed)
    assert funnel.tau2 == pytest.approx(tau2 if overdispersed else 0.0, rel=1e-12, abs=1e-18)
    if overdispersed:
        assert funnel.tau2 == pytest.approx(ref["tau2"][0], rel=1e-12)
        top = 1.0 if kind == "proportion" else np.inf
        for (p, side), expected in ref["adjusted"].items():
            ours = funnel.limits[funnel.limits["probability"].eq(p)][side].to_numpy()
            np.testing.assert_allclose(ours, np.clip(expected, 0, top), rtol=1e-12, atol=1e-15)
        assert funnel.method.startswith("Limits widened for overdispersion")
    else:
        assert funnel.method.startswith("Exact Poisson limits")
        exact = spc.funnel_limits(theta, ref["volumes"], kind=kind)
        np.testing.assert_allclose(funnel.limits[["lower", "upper"]], exact[["lower", "upper"]])


def test_hand_example_values_hard_coded_from_r():
    """The hygiene example's φ and τ² as R printed them (tests/reference/funnel_limits.out)."""
    _, blocks = _funnel_reference()
    units = pd.DataFrame({"microsystem_id": list("ABCDEFGHIJKL"), "numerator": blocks["hygiene"]["numerator"],
                          "denominator": blocks["hygiene"]["denominator"]})
    funnel = spc.funnel_table(units, kind="proportion", per=100)
    assert funnel.phi == pytest.approx(3.06889940051118, rel=1e-10)
    assert funnel.tau2 == pytest.approx(0.00321001769660854 * 100**2, rel=1e-10)  # in units of y (%) squared
    assert funnel.adjusted


def test_funnel_table_marks_units_beyond_the_limits():
    units = pd.DataFrame({"microsystem_id": ["A", "B", "C", "D", "E", "F"],
                          "numerator": [80, 81, 79, 80, 99, np.nan], "denominator": [100, 100, 100, 100, 100, 100]})
    funnel = spc.funnel_table(units, kind="proportion", per=100, target=80)
    table = funnel.table.set_index("microsystem_id")
    assert table.loc["E", "beyond"] == "above 99.8%"
    assert not table.loc["E", "inside_95"] and not table.loc["E", "inside_99.8"]
    assert table.loc["A", "inside_95"] and pd.isna(table.loc["A", "beyond"])
    assert pd.isna(table.loc["F", "y"]) and pd.isna(table.loc["F", "inside_95"])
    assert funnel.target == 80


def test_funnel_input_errors():
    units = pd.DataFrame({"microsystem_id": ["A"], "numerator": [5], "denominator": [10]})
    with pytest.raises(ValueError, match="kind must be one of"):
        spc.funnel_table(units, kind="count")
    with pytest.raises(ValueError, match="probabilities"):
        spc.funnel_limits(0.5, [10], kind="proportion", probabilities=(0.05,))
    with pytest.raises(ValueError, match="whole numbers"):
        spc.funnel_limits(0.5, [10.5], kind="proportion")
    with pytest.raises(InputError, match="lacks"):
        spc.funnel_table(units.drop(columns="denominator"), kind="rate")


# --------------------------------------------------------------------------------------
# Plots


def _u_chart(months=18, missing=()):
    rng = np.random.default_rng(3)
    den = rng.integers(600, 1400, months).astype(float)
    num = rng.poisson(0.012 * den).astype(float)
    num[list(missing)] = np.nan
    return monthly(numerator=num, denominator=den, start="2024-04-01")


@pytest.mark.parametrize("compact", [False, True])
def test_run_and_control_charts_draw_and_return_their_axes(compact):
    series = _u_chart(missing=[4])
    chart, summary = spc.run_chart(series, kind="rate", per=1000, better="lower", baseline_end="2025-01-01")
    fig, (a, b) = plt.subplots(1, 2)
    assert plotting.run_chart_plot(chart, summary, ax=a, title="Safety", ylabel="per 1,000", compact=compact) is a
    control, _ = spc.control_chart(series, kind="rate", per=1000, better="lower", phases=["2025-01-01"])
    assert plotting.control_chart_plot(control, ax=b, compact=compact) is b
    labels = [t.get_text() for t in a.get_xticklabels()]
    assert labels[0] == "Apr 24" and len(labels) <= (4 if compact else 8)
    assert any(line.get_linestyle() == ":" for line in b.lines)  # the phase boundary


def test_signalling_points_differ_in_shape_and_fill_not_colour_alone():
    values = [80, 81, 79, 80, 82, 79, 81, 80, 60] + [85, 86, 87, 85, 86, 88, 87, 86, 85]
    chart, _ = spc.control_chart(monthly(value=values), kind="measurement", better="higher")
    assert chart["outside"].eq("below").sum() == 1 and chart["signal_run"].sum() >= 9
    ax = plotting.control_chart_plot(chart, ax=plt.figure().gca())
    marks = {c.get_label(): c for c in ax.collections}
    plain, run, outside = (marks[k] for k in ("month", "in a long run (signal)", "outside the limits (signal)"))
    assert tuple(plain.get_facecolor()[0]) == (1, 1, 1, 1)  # hollow
    assert tuple(run.get_facecolor()[0]) != (1, 1, 1, 1) and tuple(outside.get_facecolor()[0]) != (1, 1, 1, 1)
    shapes = [c.get_paths()[0].vertices for c in (plain, run, outside)]  # circle, square, diamond
    assert all(a.shape != b.shape or not np.allclose(a, b) for i, a in enumerate(shapes) for b in shapes[i + 1:])


def test_moving_range_plot_draws_an_i_chart_and_refuses_others():
    chart, _ = spc.control_chart(monthly(value=[5, 7, 6, 9, 8, 30, 7]), kind="measurement", better="higher")
    ax = plt.figure().gca()
    assert plotting.moving_range_plot(chart, ax=ax) is ax
    u_chart, _ = spc.control_chart(_u_chart(), kind="rate", better="lower")
    with pytest.raises(ValueError, match="no moving ranges"):
        plotting.moving_range_plot(u_chart)


@pytest.mark.parametrize("series", [
    monthly(value=[np.nan] * 6),  # every month missing
    monthly(value=[4.0]),  # a unit with one month
    monthly(value=[4.0, 6.0]),
])
def test_plots_survive_edge_inputs(series):
    chart, summary = spc.run_chart(series, kind="count", better="lower")
    control, _ = spc.control_chart(series, kind="measurement", better="higher")
    fig, axes = plt.subplots(1, 3)
    assert plotting.run_chart_plot(chart, summary, ax=axes[0]) is axes[0]
    assert plotting.control_chart_plot(control, ax=axes[1], compact=True) is axes[1]
    assert plotting.moving_range_plot(control, ax=axes[2]) is axes[2]
    fig.canvas.draw()


def test_funnel_plot_names_only_the_highlighted_unit():
    rng = np.random.default_rng(8)
    units = pd.DataFrame({"microsystem_id": [f"U{i}" for i in range(20)], "denominator": rng.integers(30, 300, 20)})
    units["numerator"] = rng.binomial(units["denominator"], 0.8)
    funnel = spc.funnel_table(units, kind="proportion", per=100)
    ax = plt.figure().gca()
    assert plotting.funnel_plot(funnel, ax=ax, highlight="U7", names={"U7": "Ward 7", "U8": "Ward 8"}) is ax
    assert [t.get_text() for t in ax.texts] == ["Ward 7"]
    styles = {line.get_label(): line.get_linestyle() for line in ax.lines if not line.get_label().startswith("_")}
    assert styles["95% limits"] == "--" and styles["99.8% limits"] == "-"
    compact = plotting.funnel_plot(funnel, ax=plt.figure().gca(), compact=True)
    assert len(compact.texts) == 0 and compact.get_legend() is None
