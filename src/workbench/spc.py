"""Is a unit's outcome changing, and is it unusual among its peers: run charts, control charts and funnel plots.

Conventions
-----------
A *series* is one unit's monthly series of one outcome: a tidy frame with ``period`` (the
month, sorted ascending, one row a month), ``numerator``, ``denominator`` and ``value``
(floats, any of them missing). The outcome's ``kind`` says what is plotted, ``y``:

- ``"proportion"``: numerator / denominator * ``per`` (e.g. hand-hygiene opportunities met, per
  100); its control chart is the P chart;
- ``"rate"``: events per exposure, numerator / denominator * ``per`` (e.g. safety events per
  1,000 patient-days); the U chart;
- ``"count"``: ``value``, a count per month at roughly constant exposure; the C chart;
- ``"measurement"``: ``value``, a continuous monthly measure (e.g. a mean patient-experience
  score); the I chart with its moving-range chart.

A month with a missing ``y`` (or a zero denominator) is skipped, never read as zero: it is
kept in the output with a missing ``y`` and takes no part in centre lines, limits or runs.
``better`` ("higher" or "lower") only names the direction of a signal in words.

Run charts and the run rules follow Anhøj & Olesen (2014), "Run charts revisited", PLoS ONE
9:e113825, as R's ``qicharts2`` (``runs.analysis``) applies them: points on the centre line
neither count nor break a run and are not useful observations; with n useful observations a
longest run above ``round(log2(n)) + 3`` signals, and fewer crossings than
``qbinom(0.05, n - 1, 0.5)``. Control charts are Montgomery's (*Introduction to Statistical
Quality Control*, ch. 6-7) three-sigma charts as ``qicharts2`` computes them (``qic.p``,
``qic.u``, ``qic.c``, ``qic.i``), each phase with its own centre line and limits, a lower limit
floored at 0 (as ``qic(..., y.neg = FALSE)``: every outcome here is non-negative) and a P chart's
upper limit capped at 100%. Funnel plots follow Spiegelhalter (2005), "Funnel plots for comparing
institutional performance", Stat Med 24:1185-1202 (exact limits with his interpolation) and
"Handling over-dispersion of performance indicators", Qual Saf Health Care 14:347-351 (z-scores
Winsorised at 10%/90%, an additive random-effects tau^2 when the data call for it).

Everything is computed with numpy over whole series; the run rules are vectorised over many
series at once (:func:`runs_analysis`). Plots are in :mod:`workbench.plotting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from workbench.errors import InputError

__all__ = [
    "BETTER", "CHART_TYPES", "KINDS", "AnhoejCritical", "Funnel", "RunSummary", "anhoej_critical", "control_chart",
    "funnel_limits", "funnel_table", "month_label", "run_chart", "runs_analysis", "signals_in_words",
]

KINDS = ("proportion", "rate", "count", "measurement")
BETTER = ("higher", "lower")
# The Shewhart chart that fits each kind of outcome (Montgomery ch. 6-7).
CHART_TYPES = {"proportion": "P", "rate": "U", "count": "C", "measurement": "I"}
# d2 for moving ranges of two points, and D4 * d2 / d2 for their upper limit (Montgomery, Appendix VI).
_D2 = 1.128
_D4 = 3.267
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
# Anhøj & Olesen's rules are tuned for 10 or more useful observations; below that a chart says so.
_FEW_POINTS = 10


def month_label(period, *, short: bool = False) -> str:
    """A month as staff read it: "June 2025", or "Jun 25" with ``short`` (axis labels).

    Written from a fixed list, so the words do not depend on the machine's locale.

    Examples
    --------
    >>> month_label(pd.Timestamp("2025-06-01")), month_label("2025-06-01", short=True)
    ('June 2025', 'Jun 25')
    """
    stamp = pd.Timestamp(period)
    name = _MONTHS[stamp.month - 1]
    return f"{name[:3]} {stamp.year % 100:02d}" if short else f"{name} {stamp.year}"


# --------------------------------------------------------------------------------------
# Anhøj's run rules


class AnhoejCritical(NamedTuple):
    """Critical values of the run rules for n useful observations: a longest run above
    ``longest_run`` signals, and fewer crossings than ``crossings``."""

    longest_run: int | np.ndarray
    crossings: int | np.ndarray


def anhoej_critical(n) -> AnhoejCritical:
    """Anhøj & Olesen's (2014) critical values for ``n`` useful observations (points not on
    the centre line), for one n or an array of them.

    The longest run signals above ``round(log2(n)) + 3`` (Schilling's prediction limit); the
    number of crossings signals below ``qbinom(0.05, n - 1, 0.5)`` (the 5th percentile of a
    fair coin's changes). Each rule alone gives a false signal about 5% of the time or less.

    Examples
    --------
    >>> anhoej_critical(24)
    AnhoejCritical(longest_run=8, crossings=8)
    >>> anhoej_critical([10, 30, 100]).crossings.tolist()
    [2, 10, 41]
    """
    values = np.asarray(n)
    if values.dtype.kind not in "iuf" or np.any(values < 1) or np.any(values != np.round(values)):
        raise ValueError(f"n must be a whole number of useful observations, at least 1, got {n!r}")
    values = values.astype("int64")
    # log2 of a whole number is never exactly halfway, so numpy's and R's rounding agree.
    longest = np.round(np.log2(values)).astype("int64") + 3
    crossings = stats.binom.ppf(0.05, values - 1, 0.5).astype("int64")
    if values.ndim == 0:
        return AnhoejCritical(int(longest), int(crossings))
    return AnhoejCritical(longest, crossings)


class _Runs(NamedTuple):
    """The run rules over a batch of series (rows): per series and, ``in_long_run``, per point."""

    n_useful: np.ndarray
    longest_run: np.ndarray
    run_first: np.ndarray  # column of the longest run's first point; -1 without one
    run_last: np.ndarray
    run_side: np.ndarray  # +1 above, -1 below, 0 without a run
    crossings: np.ndarray
    longest_run_limit: np.ndarray  # -1 where there is no useful observation
    crossings_limit: np.ndarray
    runs_signal: np.ndarray
    crossings_signal: np.ndarray
    in_long_run: np.ndarray  # (series x points): the point belongs to a run longer than the limit


def _runs(sign: np.ndarray) -> _Runs:
    """The run rules on a (series x points) array of sides: +1 above, -1 below, 0 on the centre
    line or missing. Vectorised over series: each row's useful points are moved to its front
    (stable, so their order is kept), runs are numbered along the row, and their lengths
    counted with one bincount over all rows."""
    sign = np.atleast_2d(sign).astype("int8")
    m, t = sign.shape
    useful = sign != 0
    n_useful = useful.sum(axis=1)
    order = np.argsort(~useful, axis=1, kind="stable")
    packed = np.take_along_axis(sign, order, axis=1)
    valid = np.arange(t) < n_useful[:, None]
    starts = valid & np.concatenate([np.ones((m, 1), dtype=bool), packed[:, 1:] != packed[:, :-1]], axis=1)
    run_id = np.cumsum(starts, axis=1) - 1
    rows = np.repeat(np.arange(m), t).reshape(m, t)
    lengths = np.bincount((rows * t + run_id)[valid], minlength=m * t).reshape(m, t)
    longest = lengths.max(axis=1, initial=0)
    crossings = np.maximum(starts.sum(axis=1) - 1, 0)
    # The most recent of equally long runs: the one staff can still act on.
    which = t - 1 - np.argmax(lengths[:, ::-1], axis=1)
    in_longest = valid & (run_id == which[:, None])
    first_packed = np.argmax(in_longest, axis=1)
    last_packed = np.clip(first_packed + longest - 1, 0, max(t - 1, 0))
    has_run = longest > 0
    column = np.arange(m)
    run_first = np.where(has_run, order[column, first_packed], -1)
    run_last = np.where(has_run, order[column, last_packed], -1)
    run_side = np.where(has_run, packed[column, first_packed], 0)
    limit_run, limit_cross = anhoej_critical(np.maximum(n_useful, 1))
    runs_signal = has_run & (longest > limit_run)
    crossings_signal = has_run & (crossings < limit_cross)
    long_packed = valid & (np.take_along_axis(lengths, run_id.clip(0), axis=1) > limit_run[:, None])
    in_long_run = np.zeros((m, t), dtype=bool)
    np.put_along_axis(in_long_run, order, long_packed, axis=1)
    return _Runs(n_useful, longest, run_first, run_last, run_side, crossings, np.where(has_run, limit_run, -1),
                 np.where(has_run, limit_cross, -1), runs_signal, crossings_signal, in_long_run)


def _sides(y: np.ndarray, centre) -> np.ndarray:
    """+1 above the centre, -1 below, 0 on it or where either is missing."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.sign(np.asarray(y, dtype="float64") - centre)).astype("int8")


def runs_analysis(y, centre) -> pd.DataFrame:
    """Anhøj's run rules for many series at once: one row of ``y`` per series (points in time
    order, NaN where missing) against ``centre``: one number for all, a 1-D array with one per
    series, or an array shaped like ``y`` with one per point.

    Returns
    -------
    DataFrame, one row per series: ``n_useful`` (points not on the centre line), ``longest_run``,
    ``run_first`` and ``run_last`` (positions of the longest run's ends; the latest of equally
    long runs; -1 without one), ``run_side`` ("above", "below"; missing without one), ``crossings``,
    ``longest_run_limit`` and ``crossings_limit`` (:func:`anhoej_critical`; -1 without useful
    observations), ``runs_signal``, ``crossings_signal``, ``signal``.

    Examples
    --------
    >>> y = np.array([[1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2.0], [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2.0]])
    >>> runs_analysis(y, 1.5)[["longest_run", "crossings", "signal"]].to_numpy().tolist()
    [[1, 11, False], [8, 1, True]]
    """
    values = np.atleast_2d(np.asarray(y, dtype="float64"))
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"y must hold one row of at least one point per series, got shape {np.shape(y)}")
    centre = np.asarray(centre, dtype="float64")
    if centre.ndim == 1 and len(centre) == len(values):
        centre = centre[:, None]  # one centre per series
    runs = _runs(_sides(values, centre))
    side = np.where(runs.run_side > 0, "above", np.where(runs.run_side < 0, "below", None))
    return pd.DataFrame({
        "n_useful": runs.n_useful, "longest_run": runs.longest_run, "run_first": runs.run_first,
        "run_last": runs.run_last, "run_side": side, "crossings": runs.crossings,
        "longest_run_limit": runs.longest_run_limit, "crossings_limit": runs.crossings_limit,
        "runs_signal": runs.runs_signal, "crossings_signal": runs.crossings_signal,
        "signal": runs.runs_signal | runs.crossings_signal,
    })


@dataclass(frozen=True)
class RunSummary:
    """The run rules on one series (or one phase of a control chart), ready to put in words.

    ``centre_label`` names the centre line in sentences ("median", "baseline median", "centre
    line"); ``run_start``/``run_end``/``run_side`` describe the longest run (the latest of
    equally long ones); ``run_ongoing`` is True when it runs to the last month with data. The
    limits are None when no point is off the centre line.
    """

    better: str
    centre: float
    centre_label: str
    n_observations: int
    n_useful: int
    longest_run: int
    run_start: pd.Timestamp | None
    run_end: pd.Timestamp | None
    run_side: str | None
    run_ongoing: bool
    crossings: int
    longest_run_limit: int | None
    crossings_limit: int | None
    runs_signal: bool
    crossings_signal: bool
    signal: bool
    phase: int = 0
    phase_start: pd.Timestamp | None = None


def _summary(periods: np.ndarray, y: np.ndarray, centre, *, better: str, centre_label: str, phase: int = 0,
             phase_start=None) -> tuple[RunSummary, np.ndarray]:
    """The :class:`RunSummary` of one series and which of its points are in a signalling run."""
    runs = _runs(_sides(y, centre)[None, :])
    observed = ~np.isnan(y)
    has_run = bool(runs.longest_run[0] > 0)
    first, last = int(runs.run_first[0]), int(runs.run_last[0])
    last_observed = int(np.flatnonzero(observed & (_sides(y, centre) != 0))[-1]) if has_run else -1
    summary = RunSummary(
        better=better, centre=float(np.mean(centre)) if np.size(centre) else float("nan"), centre_label=centre_label,
        n_observations=int(observed.sum()), n_useful=int(runs.n_useful[0]), longest_run=int(runs.longest_run[0]),
        run_start=pd.Timestamp(periods[first]) if has_run else None,
        run_end=pd.Timestamp(periods[last]) if has_run else None,
        run_side=("above" if runs.run_side[0] > 0 else "below") if has_run else None,
        run_ongoing=has_run and last == last_observed, crossings=int(runs.crossings[0]),
        longest_run_limit=int(runs.longest_run_limit[0]) if has_run else None,
        crossings_limit=int(runs.crossings_limit[0]) if has_run else None,
        runs_signal=bool(runs.runs_signal[0]), crossings_signal=bool(runs.crossings_signal[0]),
        signal=bool(runs.runs_signal[0] or runs.crossings_signal[0]), phase=phase,
        phase_start=None if phase_start is None else pd.Timestamp(phase_start))
    return summary, runs.in_long_run[0]


# --------------------------------------------------------------------------------------
# A series: checking it and computing y


def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _check_per(per) -> float:
    if isinstance(per, bool) or not isinstance(per, int | float | np.number) or not np.isfinite(per) or per <= 0:
        raise ValueError(f"per must be a positive number (100 for a percentage, 1000 for per 1,000), got {per!r}")
    return float(per)


def _prepared(series: pd.DataFrame, kind: str, per, better: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """Periods, y, numerator and denominator (the last two NaN for counts and measurements) of a
    checked series; y is NaN where the month is missing."""
    _check_choice("kind", kind, KINDS)
    _check_choice("better", better, BETTER)
    per = _check_per(per)
    if not isinstance(series, pd.DataFrame):
        raise TypeError(f"series must be a DataFrame of one unit's months, got {type(series).__name__}")
    needed = ["period", "numerator", "denominator"] if kind in ("proportion", "rate") else ["period", "value"]
    missing = [c for c in needed if c not in series.columns]
    if missing:
        raise InputError(f"a {kind} series needs the columns {needed}; it lacks {missing}", column=missing[0])
    if series.empty:
        raise InputError("the series has no months; pass at least one row (a month without data has missing values)",
                         column="period")
    periods = pd.to_datetime(series["period"]).to_numpy()
    months = pd.DatetimeIndex(periods).to_period("M")
    if not months.is_monotonic_increasing or months.has_duplicates:
        raise InputError("the months must be sorted ascending with one row a month; sort the series by period and "
                         "drop repeated months", column="period")
    n = len(series)
    if kind in ("proportion", "rate"):
        numerator = pd.to_numeric(series["numerator"]).to_numpy(dtype="float64", na_value=np.nan)
        denominator = pd.to_numeric(series["denominator"]).to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = (numerator < 0) | (denominator < 0)
            if kind == "proportion":
                bad |= numerator > denominator
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{month_label(periods[row])} has numerator {numerator[row]:g} and denominator "
                             f"{denominator[row]:g}; expected both non-negative"
                             + (" and the numerator at most the denominator" if kind == "proportion" else ""),
                             column="numerator", more=int(bad.sum()) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(denominator > 0, numerator / denominator, np.nan) * per
        # A zero denominator is a month without exposure: skipped, like a missing one.
        denominator = np.where(denominator > 0, denominator, np.nan)
        numerator = np.where(np.isnan(y), np.nan, numerator)
    else:
        y = pd.to_numeric(series["value"]).to_numpy(dtype="float64", na_value=np.nan)
        numerator = denominator = np.full(n, np.nan)
        if kind == "count" and (y < 0).any():
            raise InputError(f"a count cannot be negative; {month_label(periods[int(np.nanargmin(y))])} has "
                             f"{np.nanmin(y):g}", column="value")
    return periods, y, numerator, denominator


def _side_words(side: np.ndarray) -> np.ndarray:
    return np.where(side > 0, "above", np.where(side < 0, "below", "on")).astype(object)


# --------------------------------------------------------------------------------------
# Run chart


def run_chart(series: pd.DataFrame, *, kind: str, per: float = 1, better: str,
              baseline_end=None) -> tuple[pd.DataFrame, RunSummary]:
    """A run chart: each month's y against the median, with Anhøj's run rules.

    Parameters
    ----------
    series : one unit's months of one outcome (see the module's conventions).
    kind : "proportion", "rate", "count" or "measurement".
    per : display multiplier of proportions and rates (100 for a percentage).
    better : "higher" or "lower": which way is an improvement (used in words).
    baseline_end : the first month of a new phase after a change (a date or "YYYY-MM-DD"). The
        median is then the baseline's (the months before it) and frozen: extended over the later
        months, and every month's point is judged against it, so a sustained change after the date
        shows as a long run. Default: the median of all months.

    Returns
    -------
    ``(chart, summary)``. ``chart``, one row per month: ``period``, ``y`` (NaN for a skipped
    month), ``centre`` (the median, the same every month), ``side`` ("above", "below", "on";
    missing for a skipped month), ``baseline`` (the month counts in the median), ``signal_run``
    (the point is in a run longer than the limit). ``summary``: a :class:`RunSummary`.

    Examples
    --------
    >>> months = pd.date_range("2024-01-01", periods=20, freq="MS")
    >>> rate = [5, 6, 4, 5, 6, 5, 4, 6, 5, 4, 3, 3, 2, 3, 3, 2, 3, 2, 3, 2]
    >>> series = pd.DataFrame({"period": months, "numerator": rate, "denominator": 1000.0, "value": np.nan})
    >>> chart, summary = run_chart(series, kind="rate", per=1000, better="lower", baseline_end="2024-10-01")
    >>> float(chart["centre"].iloc[0]), summary.longest_run, summary.runs_signal, month_label(summary.run_start)
    (5.0, 11, True, 'October 2024')
    """
    periods, y, _, _ = _prepared(series, kind, per, better)
    if baseline_end is None:
        baseline = np.ones(len(y), dtype=bool)
    else:
        baseline = periods < np.datetime64(pd.Timestamp(baseline_end))
        if not (baseline & ~np.isnan(y)).any() and (~np.isnan(y)).any():
            raise ValueError(f"baseline_end {baseline_end!r} leaves no month with data before it to take the "
                             f"median from; give the first month of the new phase, after some baseline months")
    base_values = y[baseline & ~np.isnan(y)]
    centre = float(np.median(base_values)) if len(base_values) else float("nan")
    frozen = baseline_end is not None and not baseline.all()
    summary, in_long = _summary(periods, y, centre, better=better,
                                centre_label="baseline median" if frozen else "median")
    side = _side_words(_sides(y, centre))
    side[np.isnan(y)] = None
    chart = pd.DataFrame({"period": periods, "y": y, "centre": centre, "side": side, "baseline": baseline,
                          "signal_run": in_long})
    return chart, summary


# --------------------------------------------------------------------------------------
# Control charts


def _phase_numbers(periods: np.ndarray, phases) -> tuple[np.ndarray, list[pd.Timestamp]]:
    if isinstance(phases, str | pd.Timestamp | np.datetime64):  # one start, not its characters
        phases = [phases]
    starts = [pd.Timestamp(p) for p in ([] if phases is None else phases)]
    if any(later <= earlier for earlier, later in zip(starts, starts[1:])):
        raise ValueError(f"phases must be the start months of later phases in ascending order, got {list(phases)}")
    if starts and len(periods) and starts[0] <= pd.Timestamp(periods[0]):
        raise ValueError(f"the first phase start, {month_label(starts[0])}, leaves no baseline before it (the series "
                         f"starts in {month_label(periods[0])}); give the start of the first phase after the baseline")
    phase = np.searchsorted(np.array([np.datetime64(s) for s in starts], dtype="datetime64[ns]"),
                            periods.astype("datetime64[ns]"), side="right")
    return phase, starts


def control_chart(series: pd.DataFrame, *, kind: str, per: float = 1, better: str,
                  phases: Sequence = ()) -> tuple[pd.DataFrame, tuple[RunSummary, ...]]:
    """The Shewhart chart that fits the outcome, with three-sigma limits per phase, points
    outside them, and Anhøj's run rules on each phase's centre line (as ``qicharts2``).

    - measurement: I chart; centre the mean, sigma = mean moving range / 1.128, and beside it
      the moving-range chart (centre the mean moving range, upper limit 3.267 times it);
    - proportion: P chart; centre p̄ = Σ numerator / Σ denominator, sigma_i = sqrt(p̄(1 - p̄)/n_i)
      for each month's denominator n_i (limits vary with it), upper limit at most 1;
    - rate: U chart; ū = Σ numerator / Σ denominator, sigma_i = sqrt(ū / n_i);
    - count: C chart; c̄ the mean count, sigma = sqrt(c̄).

    Lower limits are floored at 0; centre lines and limits are in units of y (times ``per``).

    Parameters
    ----------
    phases : start months of later phases (e.g. the month a change began). Each phase gets its
        own centre line and limits from its own months; the baseline, phase 0, is the months
        before the first start.

    Returns
    -------
    ``(chart, runs)``. ``chart``, one row per month: ``period``, ``phase`` (0, 1, ...), ``y``,
    ``centre``, ``lcl``, ``ucl`` (NaN where a P or U chart's month has no denominator), for I
    charts ``mr`` (|y - previous month's y| within the phase; NaN across a skipped month),
    ``mr_centre``, ``mr_ucl``; ``outside`` ("above", "below"; missing inside the limits),
    ``signal_run`` (the point is in a run longer than the limit), ``runs_signal`` and
    ``crossings_signal`` (of its phase).
    ``runs``: one :class:`RunSummary` per phase.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.date_range("2025-01-01", periods=4, freq="MS"),
    ...                        "numerator": [10, 30, 5, 0], "denominator": [100, 200, 50, 100], "value": np.nan})
    >>> chart, runs = control_chart(series, kind="proportion", per=100, better="higher")
    >>> chart[["centre", "lcl", "ucl"]].round(2).iloc[0].tolist()  # p̄ = 45/450, n = 100
    [10.0, 1.0, 19.0]
    >>> chart["outside"].fillna("").tolist()  # missing: inside the limits
    ['', '', '', 'below']
    """
    periods, y, numerator, denominator = _prepared(series, kind, per, better)
    per = float(per)
    phase, starts = _phase_numbers(periods, phases)
    observed = ~np.isnan(y)
    n = len(y)
    centre, lcl, ucl = (np.full(n, np.nan) for _ in range(3))
    chart_is_i = kind == "measurement"
    mr = np.full(n, np.nan)
    mr_centre, mr_ucl = np.full(n, np.nan), np.full(n, np.nan)
    signal_run = np.zeros(n, dtype=bool)
    runs_signal, crossings_signal = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    summaries = []
    several = len(starts) > 0
    # A loop over phases (a handful at most); within each, everything is whole-array.
    for number in range(len(starts) + 1):
        rows = phase == number
        if not rows.any():
            continue
        used = rows & observed
        if kind == "proportion":
            bar = numerator[used].sum() / denominator[used].sum() if used.any() else np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = np.sqrt(bar * (1 - bar) / denominator[rows])
            middle, low, high = bar, np.maximum(bar - 3 * sigma, 0), np.minimum(bar + 3 * sigma, 1)
            middle, low, high = middle * per, low * per, high * per
        elif kind == "rate":
            bar = numerator[used].sum() / denominator[used].sum() if used.any() else np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = np.sqrt(bar / denominator[rows])
            middle, low, high = bar * per, np.maximum(bar - 3 * sigma, 0) * per, (bar + 3 * sigma) * per
        elif kind == "count":
            bar = y[used].mean() if used.any() else np.nan
            sigma = np.sqrt(bar)
            middle, low, high = bar, np.maximum(bar - 3 * sigma, 0), bar + 3 * sigma
        else:
            values = y[rows]
            ranges = np.abs(np.diff(values))  # NaN next to a skipped month: no range across a gap
            mr[np.flatnonzero(rows)[1:]] = ranges
            mean_range = np.nanmean(ranges) if (~np.isnan(ranges)).any() else np.nan
            bar = y[used].mean() if used.any() else np.nan
            sigma = mean_range / _D2
            middle, low, high = bar, np.maximum(bar - 3 * sigma, 0), bar + 3 * sigma
            mr_centre[rows], mr_ucl[rows] = mean_range, _D4 * mean_range
        centre[rows], lcl[rows], ucl[rows] = middle, low, high
        label = ("centre line" if not several else "baseline centre line" if number == 0 else
                 f"centre line of the phase that began in {month_label(starts[number - 1])}")
        summary, in_long = _summary(periods[rows], y[rows], middle, better=better, centre_label=label, phase=number,
                                    phase_start=periods[rows][0])
        signal_run[rows] = in_long
        runs_signal[rows], crossings_signal[rows] = summary.runs_signal, summary.crossings_signal
        summaries.append(summary)
    with np.errstate(invalid="ignore"):
        outside = np.where(y > ucl, "above", np.where(y < lcl, "below", None)).astype(object)
    chart = pd.DataFrame({"period": periods, "phase": phase, "y": y, "centre": centre, "lcl": lcl, "ucl": ucl})
    if chart_is_i:
        chart = chart.assign(mr=mr, mr_centre=mr_centre, mr_ucl=mr_ucl)
    chart = chart.assign(outside=outside, signal_run=signal_run, runs_signal=runs_signal,
                         crossings_signal=crossings_signal)
    return chart, tuple(summaries)


# --------------------------------------------------------------------------------------
# Signals in words


def _months_listed(months: list[pd.Timestamp]) -> str:
    names = [month_label(m) for m in months]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _direction(side: str, better: str) -> str:
    return "an improvement" if (side == "above") == (better == "higher") else "a deterioration"


def signals_in_words(summary: RunSummary | Sequence[RunSummary] | None = None, chart: pd.DataFrame | None = None, *,
                     better: str | None = None) -> list[str]:
    """Plain sentences for a unit's staff about what a run or control chart shows.

    ``summary``: a :class:`RunSummary` (from :func:`run_chart`) or the phases' summaries (from
    :func:`control_chart`); ``chart``: a control chart frame, whose points outside the limits
    are named. ``better`` defaults to the summaries'. One sentence per signal: a long run (its
    length, side, months and whether that is an improvement), too few crossings, the months
    above or below the control limits; when nothing signals, one sentence saying the variation
    looks like common-cause variation (and, with fewer than 10 months off the centre line, that
    that is too few to be sure).

    Examples
    --------
    >>> months = pd.date_range("2024-07-01", periods=24, freq="MS")
    >>> score = [80, 82, 79, 81, 80, 83, 78, 81, 80, 82, 79, 79] + [85, 86, 84, 87, 85, 86, 88, 85, 86, 87, 85, 86]
    >>> series = pd.DataFrame({"period": months, "value": score})
    >>> chart, summary = run_chart(series, kind="measurement", better="higher", baseline_end="2025-07-01")
    >>> signals_in_words(summary)[0]
    '12 months in a row above the baseline median since July 2025 (higher is better: an improvement).'
    """
    summaries = [] if summary is None else [summary] if isinstance(summary, RunSummary) else list(summary)
    better = better or next((s.better for s in summaries), None)
    _check_choice("better", better, BETTER)
    sentences = []
    for part in summaries:
        if part.runs_signal:
            when = (f"since {month_label(part.run_start)}" if part.run_ongoing else
                    f"from {month_label(part.run_start)} to {month_label(part.run_end)}")
            sentences.append(f"{part.longest_run} months in a row {part.run_side} the {part.centre_label} {when} "
                             f"({better} is better: {_direction(part.run_side, better)}).")
        if part.crossings_signal:
            crossings = f"{part.crossings} crossing{'' if part.crossings == 1 else 's'}"
            sentences.append(f"Only {crossings} of the {part.centre_label} in {part.n_useful} months (fewer than "
                             f"{part.crossings_limit} would happen by chance 1 time in 20 or less): the series is "
                             f"shifting or trending.")
    if chart is not None and "outside" in chart:
        for side, limit in (("above", "upper"), ("below", "lower")):
            months = list(pd.to_datetime(chart.loc[chart["outside"].eq(side), "period"]))
            if months:
                verb = "was" if len(months) == 1 else "were"
                good = (side == "above") == (better == "higher")
                what = "unusually good" if good else "unusually poor"
                sentences.append(f"{_months_listed(months)} {verb} {side} the {limit} control limit ({better} is "
                                 f"better: {what} for this process).")
    if not sentences:
        useful = sum(s.n_useful for s in summaries)
        observed = sum(s.n_observations for s in summaries)
        if summaries and observed == 0:
            return ["No month has data yet."]
        sentences.append("No signal: the variation looks like common-cause variation, the ups and downs any stable "
                         "process shows, so no single month calls for an explanation.")
        if summaries and useful < _FEW_POINTS:
            sentences.append(f"With only {useful} months off the centre line, that is too few to be sure.")
    return sentences


# --------------------------------------------------------------------------------------
# Funnel plots


def _coverage(probability: float) -> float:
    return round(2 * probability - 1, 6)


def _coverage_name(probability: float) -> str:
    return f"{_coverage(probability) * 100:g}"


def _check_probabilities(probabilities) -> np.ndarray:
    values = np.atleast_1d(np.asarray(probabilities, dtype="float64"))
    if values.ndim != 1 or len(values) == 0 or np.any((values <= 0.5) | (values >= 1)):
        raise ValueError(f"probabilities must be upper-tail probabilities between 0.5 and 1, e.g. (0.975, 0.999) for "
                         f"95% and 99.8% limits, got {probabilities!r}")
    return values


def _exact_limit(q: np.ndarray, volume: np.ndarray, theta: float, kind: str) -> np.ndarray:
    """Spiegelhalter's interpolated exact limit at probability ``q`` (0 < q < 1) on the 0-1 or
    per-unit-exposure scale: r_p = F^-1(q); alpha = (F(r_p) - q) / (F(r_p) - F(r_p - 1));
    limit = (r_p - alpha) / volume. Raw: below zero where r_p = 0."""
    dist = stats.binom(volume, theta) if kind == "proportion" else stats.poisson(volume * theta)
    r = dist.ppf(q)
    at, below = dist.cdf(r), dist.cdf(r - 1)
    alpha = (at - q) / (at - below)
    return (r - alpha) / volume


def _band(theta: float, volume: np.ndarray, probabilities: np.ndarray, kind: str,
          tau2: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits (volumes x probabilities) on the 0-1 or per-exposure scale: exact,
    or with ``tau2`` the normal approximation widened by the between-unit variance."""
    v = np.asarray(volume, dtype="float64")[:, None]
    p = probabilities[None, :]
    if tau2 is None:
        lower, upper = _exact_limit(1 - p, v, theta, kind), _exact_limit(p, v, theta, kind)
    else:
        s2 = theta * (1 - theta) / v if kind == "proportion" else theta / v
        half = stats.norm.ppf(p) * np.sqrt(s2 + tau2)
        lower, upper = theta - half, theta + half
    # Where even no event is likely (r_p = 0), the interpolated limit dips below 0: no rate is below 0.
    lower, upper = np.maximum(lower, 0), np.maximum(upper, 0)
    if kind == "proportion":
        upper = np.minimum(upper, 1)
    return lower, upper


def _check_target(theta: float, kind: str, per: float) -> None:
    top = 1 if kind == "proportion" else np.inf
    if not (np.isfinite(theta) and 0 < theta < top):
        raise ValueError(f"target must be above 0{' and below per' if kind == 'proportion' else ''} (in units of y, "
                         f"per = {per:g}), got {theta * per!r}")


def _check_volumes(volumes, kind: str) -> np.ndarray:
    volume = np.atleast_1d(np.asarray(volumes, dtype="float64"))
    if np.any(~np.isfinite(volume) | (volume <= 0)) or (kind == "proportion" and np.any(volume != np.round(volume))):
        raise ValueError(f"volumes must be positive{' whole numbers (trials)' if kind == 'proportion' else ''}, "
                         f"got {volumes!r}")
    return volume


def funnel_limits(target: float, volumes, *, kind: str, per: float = 1,
                  probabilities: Sequence[float] = (0.975, 0.999)) -> pd.DataFrame:
    """Exact funnel-plot limits around ``target`` (Spiegelhalter 2005, Appendix A.1.1).

    For a proportion, the binomial with Spiegelhalter's interpolation between its discrete
    quantiles: r_p = qbinom(p, n, θ), α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)), limit =
    (r_p − α) / n; for a rate the same with the Poisson on the expected count n·θ (n the
    exposure). The lower limit uses 1 − p; it is floored at 0 and a proportion's upper limit
    capped at 1.

    Parameters
    ----------
    target : θ in units of y (e.g. 80 for 80% with ``per=100``).
    volumes : denominators (whole numbers for a proportion; exposure for a rate).
    kind : "proportion" or "rate".
    probabilities : upper-tail probabilities; 0.975 and 0.999 give the 95% and 99.8% limits.

    Returns
    -------
    DataFrame, one row per volume x probability: ``volume``, ``probability``, ``coverage``
    (2p − 1, e.g. 0.95), ``lower``, ``upper`` (in units of y, times ``per``).

    Examples
    --------
    >>> funnel_limits(20, [50], kind="proportion", per=100).round(2).to_dict("records")[0]
    {'volume': 50.0, 'probability': 0.98, 'coverage': 0.95, 'lower': 8.44, 'upper': 30.71}
    """
    _check_choice("kind", kind, ("proportion", "rate"))
    per = _check_per(per)
    probabilities = _check_probabilities(probabilities)
    theta = float(target) / per
    _check_target(theta, kind, per)
    volume = _check_volumes(volumes, kind)
    lower, upper = _band(theta, volume, probabilities, kind, None)
    return pd.DataFrame({
        "volume": np.repeat(volume, len(probabilities)), "probability": np.tile(probabilities, len(volume)),
        "coverage": np.tile([_coverage(p) for p in probabilities], len(volume)),
        "lower": lower.ravel() * per, "upper": upper.ravel() * per,
    })


@dataclass(frozen=True)
class Funnel:
    """A funnel plot's content: ``table`` (one row per unit), ``limits`` (volume x probability,
    drawn as lines), ``target`` (in units of y), Spiegelhalter's overdispersion ``phi`` (from
    z-scores Winsorised at 10%/90%) and ``tau2`` (between-unit variance, in units of y
    squared; 0 unless ``adjusted``), ``adjusted`` (limits widened for overdispersion) and
    ``method`` (one line saying which limits were used and why)."""

    table: pd.DataFrame
    limits: pd.DataFrame
    target: float
    phi: float
    tau2: float
    adjusted: bool
    method: str
    kind: str
    per: float


def funnel_table(units: pd.DataFrame, *, kind: str, per: float = 1, target: float | None = None,
                 probabilities: Sequence[float] = (0.975, 0.999), volumes=None) -> Funnel:
    """Compare units' proportions or rates in a funnel plot (Spiegelhalter 2005a, 2005b).

    The target θ is the pooled rate (Σ numerator / Σ denominator) unless given (in units of y).
    Each unit's z-score is (y − θ) / s with s² = θ(1 − θ)/n for a proportion and θ/n for a rate
    (the normal approximation to the Poisson). Overdispersion: the z-scores are Winsorised at
    their 10th and 90th percentiles (linear interpolation, R's type 7) and φ = mean of their
    squares; when I·φ exceeds the 95% point of chi-square(I − 1) the units differ more than
    chance allows, and the additive random-effects τ² = max(0, (I·φ − (I − 1)) / (Σw − Σw²/Σw)),
    w = 1/s², widens the limits to θ ± z_p·sqrt(s² + τ²). Otherwise the exact limits of
    :func:`funnel_limits` are used.

    Parameters
    ----------
    units : one row per unit: ``microsystem_id``, ``numerator``, ``denominator``. A unit without
        a denominator keeps its row with missing figures and takes no part in θ, φ or τ².
    volumes : the volumes at which ``limits`` gives the limits (default: 150 spanning half the
        smallest denominator to 1.1 times the largest, whole numbers for a proportion).

    Returns
    -------
    :class:`Funnel`; its ``table``: ``microsystem_id``, ``numerator``, ``denominator``, ``y``,
    ``z``, one ``inside_<coverage>`` column per probability (e.g. ``inside_95``, ``inside_99.8``:
    y within those limits at the unit's own denominator) and ``beyond`` (e.g. "above 99.8%",
    the widest limit the unit lies beyond; missing inside all).

    Examples
    --------
    >>> units = pd.DataFrame({"microsystem_id": list("ABCDE"), "numerator": [40, 45, 50, 38, 84],
    ...                       "denominator": [50, 60, 60, 50, 100]})
    >>> funnel = funnel_table(units, kind="proportion", per=100)
    >>> round(funnel.target, 1), funnel.adjusted, funnel.table["inside_95"].tolist()
    (80.3, False, [True, True, True, True, True])
    """
    _check_choice("kind", kind, ("proportion", "rate"))
    per = _check_per(per)
    probabilities = _check_probabilities(probabilities)
    if not isinstance(units, pd.DataFrame):
        raise TypeError(f"units must be a DataFrame with one row per unit, got {type(units).__name__}")
    missing = [c for c in ("microsystem_id", "numerator", "denominator") if c not in units.columns]
    if missing:
        raise InputError(f"units needs the columns microsystem_id, numerator and denominator; it lacks {missing}",
                         column=missing[0])
    numerator = pd.to_numeric(units["numerator"]).to_numpy(dtype="float64", na_value=np.nan)
    denominator = pd.to_numeric(units["denominator"]).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        known = ~np.isnan(numerator) & (denominator > 0)
        bad = known & ((numerator < 0) | ((numerator > denominator) if kind == "proportion" else False))
        if kind == "proportion":
            bad |= known & (denominator != np.round(denominator))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"unit {units['microsystem_id'].iloc[row]!r} has numerator {numerator[row]:g} and "
                         f"denominator {denominator[row]:g}; expected non-negative counts"
                         + (", the numerator at most the denominator" if kind == "proportion" else ""),
                         column="numerator", more=int(bad.sum()) - 1)
    if not known.any():
        raise ValueError("units has no unit with a numerator and a positive denominator: nothing to compare")
    theta = numerator[known].sum() / denominator[known].sum() if target is None else float(target) / per
    _check_target(theta, kind, per)
    with np.errstate(invalid="ignore", divide="ignore"):
        proportion = np.where(known, numerator / denominator, np.nan)
        s2 = np.where(known, theta * (1 - theta) / denominator if kind == "proportion" else theta / denominator,
                      np.nan)
        z = (proportion - theta) / np.sqrt(s2)
    count = int(known.sum())
    phi, tau2, adjusted = np.nan, 0.0, False
    if count >= 2:
        low, high = np.quantile(z[known], [0.1, 0.9])
        phi = float(np.mean(np.clip(z[known], low, high) ** 2))
        critical = stats.chi2.ppf(0.95, count - 1)
        weights = 1 / s2[known]
        adjusted = bool(count * phi > critical)
        if adjusted:
            tau2 = max(0.0, (count * phi - (count - 1)) / (weights.sum() - (weights**2).sum() / weights.sum()))
            # Iφ above the chi-square point but below I - 1 cannot happen (the point exceeds I - 1), so τ² > 0 here.
    name = "proportion" if kind == "proportion" else "rate"
    shown = f"{theta * per:.3g}" + ("%" if kind == "proportion" and per == 100 else "")
    origin = "pooled" if target is None else "given"
    if count < 2:
        method = f"Exact {'binomial' if kind == 'proportion' else 'Poisson'} limits around the {origin} {name} " \
                 f"{shown}; too few units to judge overdispersion."
    elif adjusted:
        method = (f"Limits widened for overdispersion around the {origin} {name} {shown} (additive random effects, "
                  f"tau = {np.sqrt(tau2) * per:.3g}): the {count} units differ more than chance allows "
                  f"(phi = {phi:.2f} from z-scores Winsorised at 10%/90%; I x phi = {count * phi:.1f} above the "
                  f"chi-square({count - 1}) 95% point {critical:.1f}; Spiegelhalter 2005).")
    else:
        method = (f"Exact {'binomial' if kind == 'proportion' else 'Poisson'} limits around the {origin} {name} "
                  f"{shown}: the {count} units' spread is within chance (phi = {phi:.2f}; I x phi = {count * phi:.1f} "
                  f"not above the chi-square({count - 1}) 95% point {critical:.1f}; Spiegelhalter 2005).")
    # Limits at each unit's own volume, to judge it, and on a grid spanning the volumes, to draw.
    own_lower, own_upper = (np.full((len(units), len(probabilities)), np.nan) for _ in range(2))
    band_tau = tau2 if adjusted else None
    if known.any():
        own_lower[known], own_upper[known] = _band(theta, denominator[known], probabilities, kind, band_tau)
    table = pd.DataFrame({"microsystem_id": units["microsystem_id"].to_numpy(), "numerator": numerator,
                          "denominator": denominator, "y": proportion * per, "z": z})
    for column, p in enumerate(probabilities):
        inside = (own_lower[:, column] <= proportion) & (proportion <= own_upper[:, column])
        table[f"inside_{_coverage_name(p)}"] = pd.array(np.where(known, inside, None), dtype="boolean")
    table["beyond"] = _beyond(table, probabilities, known, proportion, own_upper)
    if volumes is None:
        own = denominator[known]
        grid = np.geomspace(max(own.min() * 0.5, 1.0), own.max() * 1.1, 150)
        grid = np.unique(np.round(grid)) if kind == "proportion" else grid
    else:
        grid = _check_volumes(volumes, kind)
    lower, upper = _band(theta, grid, probabilities, kind, band_tau)
    limits = pd.DataFrame({
        "volume": np.repeat(grid, len(probabilities)), "probability": np.tile(probabilities, len(grid)),
        "coverage": np.tile([_coverage(p) for p in probabilities], len(grid)),
        "lower": lower.ravel() * per, "upper": upper.ravel() * per,
    })
    return Funnel(table=table, limits=limits, target=float(theta * per), phi=phi, tau2=float(tau2 * per**2),
                  adjusted=adjusted, method=method, kind=kind, per=per)


def _beyond(table: pd.DataFrame, probabilities: np.ndarray, known: np.ndarray, proportion: np.ndarray,
            own_upper: np.ndarray) -> np.ndarray:
    """The widest limit each unit lies beyond, e.g. "above 99.8%"; None inside all."""
    beyond = np.full(len(table), None, dtype=object)
    for column in np.argsort(probabilities):  # narrowest first, so wider limits overwrite
        p = probabilities[column]
        outside = known & ~table[f"inside_{_coverage_name(p)}"].fillna(True).to_numpy(dtype=bool)
        side = np.where(proportion > own_upper[:, column], "above", "below")
        beyond[outside] = [f"{s} {_coverage_name(p)}%" for s in side[outside]]
    return beyond
