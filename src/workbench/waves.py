"""Change between two waves of the staff self-assessment: per unit, across the study, and in agreement.

Conventions
-----------
* **Two waves, different people.** Each wave asks whoever is on the staff then; answers are
  anonymous and never linked across waves, so a unit's two means come from independent samples
  of unequal size and spread. A unit's change is ``mean_after - mean_before`` of its respondents'
  characteristic scores (:func:`workbench.survey.respondent_scores`: the mean of the items a
  respondent rated; "can't rate" is missing information, never a low score) with a Welch interval
  (R's default ``t.test(x, y)``; the reference values are ``tests/reference/waves_welch.R``).
* **Noise and many units.** ``moved`` reads one interval: ``up`` / ``down`` when it excludes 0,
  else ``within noise``. With 43 units x 8 characteristics about 17 intervals of unchanged units
  exclude 0 at 95 % by chance alone, so the table also carries the Benjamini-Hochberg adjusted p
  over all its shown changes and whether each change still stands after that adjustment.
* **The study's change** takes the unit as the unit of analysis (:func:`study_change`).
* **Disclosure.** Each wave's unit means are published figures, hidden exactly as the study views
  hide them (:func:`workbench.views.disclose` on each wave's counts, ``within`` the
  characteristic: small cells, complementary suppression, unanimous groups if the study hides
  those). A change row shows figures only where both of its means are shown; a hidden row stays in
  the table with ``shown`` False and a ``note`` in words.

Examples
--------
>>> scale, rule = LevelScale.from_values([1, 2, 3]), DisclosurePolicy(min_cell_size=5)
>>> before = pd.DataFrame({"respondent_id": [f"b{i}" for i in range(6)], "microsystem_id": "A", "role": "nurse",
...     "item_id": "m", "characteristic_id": "measurement", "answer": "level",
...     "level": pd.array([1, 1, 2, 1, 2, 1], dtype="Int8")})
>>> after = before.assign(respondent_id=[f"a{i}" for i in range(6)], level=pd.array([2, 3, 2, 3, 2, 2], dtype="Int8"))
>>> changes = unit_changes(before, after, scale=scale, disclosure=rule, waves=("2025", "2026"))
>>> change_sentences(changes, {"measurement": "Measurement"})
['Measurement: up from 1.3 to 2.3 (change +1.0, 95% interval +0.3 to +1.7).']
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from workbench import agreement, survey, views
from workbench.vocabulary import SHARED, TOO_FEW, AgreementPolicy, DisclosurePolicy, LevelScale

__all__ = [
    "AGREEMENT_BY_WAVE_COLUMNS", "DOWN", "MOVED", "NOT_TESTED", "STUDY_CHANGE_COLUMNS", "UNIT_CHANGE_COLUMNS", "UP",
    "WITHIN_NOISE", "agreement_by_wave", "change_sentences", "study_change", "unit_changes",
]

# What ``moved`` says of a shown change.
UP = "up"
DOWN = "down"
WITHIN_NOISE = "within noise"
NOT_TESTED = "not tested"  # no interval: nobody differed from anyone else in either wave
MOVED = (UP, DOWN, WITHIN_NOISE, NOT_TESTED)

UNIT_CHANGE_COLUMNS = (
    "microsystem_id", "characteristic_id", "wave_before", "wave_after", "n_before", "n_after", "mean_before",
    "sd_before", "mean_after", "sd_after", "change", "se", "df", "ci_low", "ci_high", "p", "moved", "p_adjusted",
    "stands_adjusted", "confidence", "method", "shown", "note",
)
STUDY_CHANGE_COLUMNS = (
    "characteristic_id", "wave_before", "wave_after", "n_units", "mean_before", "mean_after", "change", "sd",
    "se", "df", "ci_low", "ci_high", "p", "units_up", "units_down", "units_within_noise", "units_not_tested",
    "units_not_shown", "confidence",
)
AGREEMENT_BY_WAVE_COLUMNS = (
    "wave", "item_id", "characteristic_id", "n", "n_groups", "F", "p", "icc1", "icc1_low", "icc1_high", "icc2",
    "icc2_low", "icc2_high", "units", "units_judged", "units_shared", "share_shared",
)
_KEYS = ["microsystem_id", "characteristic_id"]
_ANSWER_COLUMNS = ("respondent_id", "microsystem_id", "role", "item_id", "characteristic_id", "answer", "level")
# The figures of a change row, blanked together when the row is hidden.
_FIGURES = ("mean_before", "sd_before", "mean_after", "sd_after", "change", "se", "df", "ci_low", "ci_high", "p",
            "p_adjusted")


def unit_changes(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    *,
    scale: LevelScale,
    disclosure: DisclosurePolicy,
    min_items: int = 1,
    confidence: float = 0.95,
    waves: tuple[str, str] | None = None,
    method: Literal["welch", "bootstrap"] = "welch",
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per microsystem x characteristic present in both waves: how far the unit mean moved, with
    an interval that reflects both samples.

    Parameters
    ----------
    earlier, later : the two waves' answers (:class:`workbench.schemas.SurveyAnswers` columns;
        others, such as a ``wave`` column, are ignored).
    scale : the instrument's levels; a level outside it is an error.
    disclosure : the study's small-cell rule (see the module notes).
    min_items : a respondent who rated fewer of a characteristic's items has no score on it
        (as in the study views: pass the study's ``analysis.min_items``).
    confidence : level of each unit's interval, and the false discovery rate of the adjustment
        (``1 - confidence``).
    waves : the two waves' names, for ``wave_before`` / ``wave_after`` and the notes (e.g.
        ``("2025", "2026")``); by default "earlier" / "later".
    method : ``"welch"`` (default) or ``"bootstrap"``: the percentile interval of the change
        from ``n_resamples`` resamples of each wave's respondents within the unit (seeded by
        ``seed``, so a report gives the same interval on every run), and the two-sided p that
        goes with it (twice the smaller share of resampled changes on either side of 0). It
        assumes no normality, but from five respondents a resample can only repeat those five:
        the percentile interval is then too narrow (its variance is short by a factor of about
        (n - 1) / n, and the extremes never appear), so Welch stays the default.

    Why Welch
    ---------
    The two waves are independent samples (different, unlinked respondents), of unequal size and
    with no reason to share a variance: a unit may settle into agreement or split into camps
    between waves. Welch's t uses each wave's own variance, ``se = sqrt(s1^2/n1 + s2^2/n2)``,
    with the Welch-Satterthwaite degrees of freedom
    ``df = se^4 / ((s1^2/n1)^2/(n1-1) + (s2^2/n2)^2/(n2-1))``; the pooled t would take a
    variance weighted towards the larger wave and ``n1 + n2 - 2`` df, too narrow whenever the
    smaller wave varies more. It assumes respondents independent within and between waves, each
    wave a random sample of the unit's staff, and roughly normal sampling of each mean. Staff who
    answered both waves make the two means correlate positively, and a wave that reached most of
    a small staff varies less than the formula says (no finite-population correction): both make
    the interval wider than it need be, never narrower. Scores of a few 3-level items are coarse,
    so with five respondents normality is a rough approximation.

    Five against thirty: the df fall between ``min(n1, n2) - 1`` and ``n1 + n2 - 2`` and follow
    the wave with the larger ``s^2/n``, nearly always the small one. At equal sd 0.5, 5 and 30
    respondents give se 0.24 on about 5.4 df (t 2.5, half-width about 0.6 on the 1-3 scale); 30
    and 30 give se 0.13 on 58 df (half-width 0.26). The small wave sets the width: more
    respondents in one wave cannot make up for few in the other.

    Returns
    -------
    DataFrame, one row per microsystem x characteristic in both waves (later wave's order):
    ``microsystem_id``, ``characteristic_id``, ``wave_before``, ``wave_after``, ``n_before`` and
    ``n_after`` (respondents with a score), ``mean_before``, ``sd_before``, ``mean_after``,
    ``sd_after``, ``change`` (after - before), ``se``, ``df`` (Welch-Satterthwaite; NaN for the
    bootstrap), ``ci_low``, ``ci_high``, ``p``, ``moved`` (``up`` / ``down`` / ``within noise``,
    or ``not tested`` where neither wave varies; missing where hidden), ``p_adjusted``
    (Benjamini-Hochberg over the table's shown, tested changes), ``stands_adjusted`` (the change
    is up or down and ``p_adjusted < 1 - confidence``; NA where not tested), ``confidence``,
    ``method``, ``shown`` (False where the row's figures are hidden for privacy) and ``note``
    (why, in words; empty where shown). Counts are kept for hidden rows, as the views keep them.

    Examples
    --------
    >>> before = pd.DataFrame({"respondent_id": [f"b{i}" for i in range(6)], "microsystem_id": "A",
    ...     "role": "nurse", "item_id": "m", "characteristic_id": "measurement", "answer": "level",
    ...     "level": pd.array([1, 1, 2, 1, 2, 1], dtype="Int8")})
    >>> after = before.assign(respondent_id=[f"a{i}" for i in range(6)],
    ...                       level=pd.array([2, 3, 2, 3, 2, 2], dtype="Int8"))
    >>> rule = DisclosurePolicy(min_cell_size=5)
    >>> table = unit_changes(before, after, scale=LevelScale.from_values([1, 2, 3]), disclosure=rule)
    >>> # R: t.test(c(2, 3, 2, 3, 2, 2), c(1, 1, 2, 1, 2, 1)) gives 0.3356973 to 1.6643027 on 10 df
    >>> table[["n_before", "n_after", "change", "ci_low", "ci_high", "df", "moved"]].round(3)
       n_before  n_after  change  ci_low  ci_high    df moved
    0         6        6     1.0   0.336    1.664  10.0    up
    >>> small = unit_changes(before.iloc[:4], after, scale=LevelScale.from_values([1, 2, 3]), disclosure=rule,
    ...                      waves=("2025", "2026"))
    >>> small[["n_before", "change", "shown", "note"]].values.tolist()
    [[4, nan, False, 'fewer than 5 people rated it in 2025']]
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    if method not in ("welch", "bootstrap"):
        raise ValueError(f"method must be 'welch' or 'bootstrap', got {method!r}")
    if method == "bootstrap" and n_resamples < 100:
        raise ValueError(f"n_resamples must be at least 100 for a percentile interval, got {n_resamples}")
    before_name, after_name = _wave_names(waves)
    _check_answers(earlier, "earlier", scale)
    _check_answers(later, "later", scale)
    scores = {"before": survey.respondent_scores(earlier, min_items=min_items),
              "after": survey.respondent_scores(later, min_items=min_items)}
    shown_waves = {}
    for wave, name in (("before", before_name), ("after", after_name)):
        shown_waves[wave] = _disclosed_wave(scores[wave], disclosure, name)
    table = shown_waves["after"].merge(shown_waves["before"], on=_KEYS, how="inner", suffixes=("_after", "_before"),
                                       validate="one_to_one")
    table = table.assign(wave_before=before_name, wave_after=after_name)
    n1, n2 = table["n_before"].to_numpy("float64"), table["n_after"].to_numpy("float64")
    m1, m2 = table["mean_before"].to_numpy("float64"), table["mean_after"].to_numpy("float64")
    s1, s2 = table["sd_before"].to_numpy("float64"), table["sd_after"].to_numpy("float64")
    table["change"] = m2 - m1
    se, df, low, high, p = _welch(m1, s1, n1, m2, s2, n2, confidence)
    if method == "bootstrap":
        low, high, p = _bootstrap(table, scores, confidence, n_resamples, seed)
        df = np.full(len(table), np.nan)
    table["se"], table["df"], table["ci_low"], table["ci_high"], table["p"] = se, df, low, high, p
    shown = (table["hidden_reason_before"].eq("") & table["hidden_reason_after"].eq("")).to_numpy()
    tested = shown & ~np.isnan(table["ci_low"].to_numpy("float64"))
    moved = np.where(table["ci_low"] > 0, UP, np.where(table["ci_high"] < 0, DOWN, WITHIN_NOISE)).astype(object)
    moved[~tested] = NOT_TESTED
    moved[~shown] = None
    table["moved"] = moved
    table["p_adjusted"] = np.nan
    stands = pd.array([pd.NA] * len(table), dtype="boolean")
    if tested.any():
        from statsmodels.stats.multitest import multipletests  # here, not at import: statsmodels is slow to load

        _, adjusted, _, _ = multipletests(table.loc[tested, "p"].to_numpy("float64"), alpha=1 - confidence,
                                          method="fdr_bh")
        table.loc[tested, "p_adjusted"] = adjusted
        stands[tested] = np.isin(moved[tested], (UP, DOWN)) & (adjusted < 1 - confidence)
    table["stands_adjusted"] = stands
    table["confidence"] = confidence
    table["method"] = method
    table["shown"] = shown
    # A row hidden for either wave: every figure blank, with the reason (the earlier wave's first).
    table["note"] = table["hidden_reason_before"].where(table["hidden_reason_before"].ne(""),
                                                        table["hidden_reason_after"])
    table[list(_FIGURES)] = table[list(_FIGURES)].mask(~shown[:, None].repeat(len(_FIGURES), axis=1))
    table[["n_before", "n_after"]] = table[["n_before", "n_after"]].astype("int64")
    return table[list(UNIT_CHANGE_COLUMNS)].reset_index(drop=True)


def _wave_names(waves) -> tuple[str, str]:
    if waves is None:
        return "earlier", "later"
    if isinstance(waves, str) or len(waves) != 2 or str(waves[0]) == str(waves[1]):
        raise ValueError(f"waves must name the earlier and the later wave, two different names such as "
                         f"('2025', '2026'); got {waves!r}")
    return str(waves[0]), str(waves[1])


def _check_answers(answers: pd.DataFrame, name: str, scale: LevelScale) -> None:
    if not isinstance(answers, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame of survey answers, got {type(answers).__name__}")
    missing = [c for c in _ANSWER_COLUMNS if c not in answers.columns]
    if missing:
        raise ValueError(f"{name} lacks the survey answers' columns {missing}; expected {list(_ANSWER_COLUMNS)} "
                         f"(workbench.schemas.SurveyAnswers)")
    given = pd.unique(answers["level"].dropna().astype("int64"))
    outside = sorted(int(v) for v in given if int(v) not in scale.values)
    if outside:
        raise ValueError(f"{name} holds levels {outside}, which are not on the scale {list(scale.values)}")


def _disclosed_wave(scores: pd.DataFrame, disclosure: DisclosurePolicy, wave: str) -> pd.DataFrame:
    """One wave's unit means and sds, with what the study views would hide of them and why.

    The whole wave (every unit, not only those in both waves) goes through
    :func:`views.disclose` as :func:`views.unit_profiles` does, so a mean hidden in the wave's
    views is hidden here, and complementary suppression sees the same parts of the same total."""
    profile = survey.microsystem_profile(scores)[[*_KEYS, "n_scored", "mean", "sd"]]
    disclosed = views.disclose(profile, disclosure, figures={"mean": "n_scored", "sd": "n_scored"},
                               within="characteristic_id", unanimous=profile["sd"].eq(0))
    k = disclosure.min_cell_size
    hidden = disclosed["mean"].isna().to_numpy() | profile["n_scored"].lt(k).to_numpy()
    small = profile["n_scored"].lt(k).to_numpy()
    alike = (profile["sd"].eq(0) & (disclosure.unanimous == "hide")).to_numpy()
    reason = np.select(
        [~hidden, small, alike],
        ["", f"fewer than {k} people rated it in {wave}",
         f"everyone who rated it in {wave} gave the same answer, which this study does not show"],
        f"hidden in {wave} with other units, so that a smaller unit's answers cannot be worked out")
    return pd.DataFrame({
        **{key: profile[key].to_numpy() for key in _KEYS}, "n": profile["n_scored"].to_numpy(),
        "mean": profile["mean"].to_numpy(), "sd": profile["sd"].to_numpy(), "hidden_reason": reason,
    })


def _welch(m1, s1, n1, m2, s2, n2, confidence: float):
    """Welch's interval of m2 - m1 (arrays): se, df, low, high, two-sided p. NaN where a wave
    has fewer than two scores or neither wave varies (R's t.test stops there: "data are
    essentially constant")."""
    from scipy import stats  # here, not at import: scipy.stats costs most of a second of start-up

    with np.errstate(invalid="ignore", divide="ignore"):
        v1, v2 = s1**2 / n1, s2**2 / n2
        se = np.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        usable = (n1 >= 2) & (n2 >= 2) & (se > 0)
        se, df = np.where(usable, se, np.nan), np.where(usable, df, np.nan)
        t = (m2 - m1) / se
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        p = 2 * stats.t.sf(np.abs(t), df)
    change = m2 - m1
    return se, df, change - half, change + half, p


def _bootstrap(table: pd.DataFrame, scores: dict[str, pd.DataFrame], confidence: float, n_resamples: int,
               seed: int):
    """Percentile interval and p of each row's change from resampling each wave's scores within
    the row (vectorised: every row's resamples drawn at once, replicates in chunks)."""
    rng = np.random.default_rng(seed)
    rows = len(table)
    index = pd.MultiIndex.from_frame(table[_KEYS])
    differences = np.zeros((n_resamples, rows))
    for wave, sign in (("before", -1.0), ("after", 1.0)):
        scored = scores[wave][scores[wave]["score"].notna()]
        row = index.get_indexer(pd.MultiIndex.from_frame(scored[_KEYS]))
        keep = row >= 0
        row, values = row[keep], scored["score"].to_numpy("float64")[keep]
        order = np.argsort(row, kind="stable")
        row, values = row[order], values[order]
        counts = np.bincount(row, minlength=rows)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        chunk = max(1, 2_000_000 // max(1, len(values)))
        for start in range(0, n_resamples, chunk):  # blocks of replicates, to bound memory
            m = min(chunk, n_resamples - start)
            draws = offsets[row] + np.floor(rng.random((m, len(row))) * counts[row]).astype("int64")
            cells = (np.arange(m)[:, None] * rows + row[None, :]).ravel()
            sums = np.bincount(cells, weights=values[draws].ravel(), minlength=m * rows).reshape(m, rows)
            with np.errstate(invalid="ignore", divide="ignore"):
                differences[start:start + m] += sign * sums / counts
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail], axis=0)
    p = np.minimum(1.0, 2 * np.minimum((differences <= 0).mean(axis=0), (differences >= 0).mean(axis=0)))
    usable = ((table["n_before"] >= 2) & (table["n_after"] >= 2)).to_numpy()
    usable = usable & (table["sd_before"].fillna(0) + table["sd_after"].fillna(0)).gt(0).to_numpy()
    return np.where(usable, low, np.nan), np.where(usable, high, np.nan), np.where(usable, p, np.nan)


def study_change(changes: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """The study-wide change per characteristic, with the unit as the unit of analysis.

    Over the units whose change is shown (``changes`` from :func:`unit_changes`): the mean of the
    unit changes, with a t interval across units (``n_units - 1`` df): the paired t of the units'
    later against their earlier means. Hidden units are left out, as the study views leave them
    out of whole-study models (``analysis_mean``): counted in them, a hidden unit's change could
    be worked out as ``n_units`` times the study figure minus the shown ones. The units' verdicts
    are counted beside it.

    Why not pool respondents: staff are nested in units and answer alike within a unit (ICC(1) of
    unit climate scales is typically 0.05-0.30), so N respondents carry far less information
    than N independent answers (the design effect ``1 + (m - 1) ICC(1)``), and a pooled t
    interval is too narrow. A pooled mean also moves when the mix of respondents moves (a large,
    high-scoring unit answering in greater numbers the second time) though no unit changed.
    Pairing by unit compares each unit with itself, removing the stable differences between
    units, and gives each unit one vote whatever its size: the question a coaching programme asks
    is whether its units improved.

    Returns
    -------
    DataFrame, one row per characteristic: ``characteristic_id``, ``wave_before``,
    ``wave_after``, ``n_units`` (shown changes), ``mean_before`` and ``mean_after`` (means of the
    unit means), ``change`` (mean of unit changes), ``sd`` (of unit changes), ``se``, ``df``,
    ``ci_low``, ``ci_high``, ``p`` (NaN below two units), ``units_up``, ``units_down``,
    ``units_within_noise``, ``units_not_tested``, ``units_not_shown``, ``confidence``.

    Examples
    --------
    >>> changes = pd.DataFrame({"characteristic_id": "m", "wave_before": "2025", "wave_after": "2026",
    ...     "mean_before": [1.5, 2.0, 1.8, np.nan], "mean_after": [2.0, 2.1, 2.4, np.nan],
    ...     "change": [0.5, 0.1, 0.6, np.nan], "moved": ["up", "within noise", "up", None],
    ...     "shown": [True, True, True, False]})
    >>> study_change(changes)[["n_units", "change", "ci_low", "ci_high", "units_up", "units_not_shown"]].round(3)
       n_units  change  ci_low  ci_high  units_up  units_not_shown
    0        3     0.4  -0.257    1.057         2                1
    """
    from scipy import stats  # here, not at import: scipy.stats costs most of a second of start-up

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    needed = ["characteristic_id", "mean_before", "mean_after", "change", "moved", "shown"]
    missing = [c for c in needed if c not in changes.columns]
    if missing:
        raise ValueError(f"changes lacks the columns {missing}: pass the table unit_changes gives")
    shown = changes["shown"].fillna(False).astype(bool) & changes["change"].notna()
    frame = changes.assign(
        _shown=shown, _change=changes["change"].where(shown), _before=changes["mean_before"].where(shown),
        _after=changes["mean_after"].where(shown),
        **{f"_{name}": changes["moved"].eq(value) & shown for name, value in
           (("up", UP), ("down", DOWN), ("within", WITHIN_NOISE), ("untested", NOT_TESTED))},
    )
    grouped = frame.groupby("characteristic_id", sort=False)
    table = grouped.agg(
        n_units=("_shown", "sum"), mean_before=("_before", "mean"), mean_after=("_after", "mean"),
        change=("_change", "mean"), sd=("_change", "std"), units_up=("_up", "sum"), units_down=("_down", "sum"),
        units_within_noise=("_within", "sum"), units_not_tested=("_untested", "sum"),
    ).reset_index()
    table["units_not_shown"] = grouped.size().to_numpy() - table["n_units"].to_numpy()
    for column in ("wave_before", "wave_after"):
        table[column] = grouped[column].first().to_numpy() if column in changes else None
    n = table["n_units"].to_numpy("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        se = table["sd"].to_numpy("float64") / np.sqrt(n)
        se = np.where(n >= 2, se, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        t = table["change"].to_numpy("float64") / se
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(t), df), np.nan)
    table["se"], table["df"] = se, df
    table["ci_low"], table["ci_high"] = table["change"] - half, table["change"] + half
    table["p"] = p
    table["confidence"] = confidence
    counts = ["n_units", "units_up", "units_down", "units_within_noise", "units_not_tested", "units_not_shown"]
    table[counts] = table[counts].astype("int64")
    return table[list(STUDY_CHANGE_COLUMNS)]


def agreement_by_wave(
    frames: dict[str, pd.DataFrame],
    *,
    scale: LevelScale,
    policy: AgreementPolicy,
    disclosure: DisclosurePolicy = agreement.DEFAULT_DISCLOSURE_POLICY,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Whether aggregating to the unit is justified, wave by wave: do units differ, and do staff agree?

    Per wave and item, ICC(1) and ICC(2) with their F-based intervals and F test
    (:func:`workbench.agreement.icc_by_item`); beside each item, its characteristic's count of
    units whose staff agree by the study's policy (:func:`workbench.agreement.characteristic_agreement`:
    rwg / rwg(j) / r*wg(j) against the policy's null, units with fewer than the disclosure
    rule's people judged ``too few`` and left out of the share). A characteristic of several
    items (integration of information) repeats its counts on each of its items' rows.

    Parameters
    ----------
    frames : wave name -> that wave's answers, in the order to report them.

    Returns
    -------
    DataFrame, one row per wave x item: ``wave``, ``item_id``, ``characteristic_id``, ``n``
    (ratings), ``n_groups`` (units), ``F``, ``p``, ``icc1``, ``icc1_low``, ``icc1_high``,
    ``icc2``, ``icc2_low``, ``icc2_high``, ``units`` (of the characteristic in the wave),
    ``units_judged`` (with enough people for a verdict), ``units_shared``, ``share_shared``
    (of those judged; NaN when none is).

    Examples
    --------
    >>> def wave(levels, prefix):
    ...     return pd.DataFrame({"respondent_id": [f"{prefix}{i}" for i in range(len(levels))],
    ...         "microsystem_id": ["A"] * 5 + ["B"] * 5, "role": "nurse", "item_id": "m",
    ...         "characteristic_id": "measurement", "answer": "level", "level": pd.array(levels, dtype="Int8")})
    >>> frames = {"2025": wave([1, 1, 1, 2, 1, 3, 3, 2, 3, 3], "a"), "2026": wave([2, 2, 1, 2, 2, 2, 3, 2, 3, 2], "b")}
    >>> table = agreement_by_wave(frames, scale=LevelScale.from_values([1, 2, 3]), policy=AgreementPolicy())
    >>> table[["wave", "item_id", "icc1", "icc2", "units_judged", "units_shared"]].round(2)
       wave item_id  icc1  icc2  units_judged  units_shared
    0  2025       m  0.86  0.97             2             2
    1  2026       m  0.34  0.72             2             1
    """
    if not isinstance(frames, dict) or not frames:
        raise ValueError(f"frames must be a non-empty dict of wave name -> answers, got {type(frames).__name__}")
    parts = []
    for wave, answers in frames.items():  # one pass per wave; each is vectorised over units and items
        _check_answers(answers, f"frames[{wave!r}]", scale)
        iccs = agreement.icc_by_item(answers, confidence=confidence)
        items = answers[["item_id", "characteristic_id"]].drop_duplicates().astype("str")
        verdicts = agreement.characteristic_agreement(answers, scale=scale, policy=policy, disclosure=disclosure)
        units = verdicts.groupby("characteristic_id", sort=False)["agreement"].agg(
            units="size", units_judged=lambda v: int(v.ne(TOO_FEW).sum()),
            units_shared=lambda v: int(v.eq(SHARED).sum())).reset_index()
        table = iccs.assign(item_id=iccs["item_id"].astype("str")).merge(items, on="item_id", how="left")
        table = table.merge(units, on="characteristic_id", how="left")
        parts.append(table.assign(wave=str(wave)))
    table = pd.concat(parts, ignore_index=True)
    counts = ["units", "units_judged", "units_shared"]
    table[counts] = table[counts].fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share_shared"] = table["units_shared"] / table["units_judged"].where(table["units_judged"] > 0)
    return table[list(AGREEMENT_BY_WAVE_COLUMNS)]


def change_sentences(unit_rows: pd.DataFrame, labels: dict[str, str], *, digits: int = 1) -> list[str]:
    """Plain sentences for a unit's feedback report, one per row of :func:`unit_changes`.

    ``labels`` maps characteristic ids to the names people read; an id it lacks is written in
    words from the id. A change reads ``up`` / ``down`` when its interval leaves out no change,
    and ``within noise`` otherwise; a hidden row says why, never a figure.

    Examples
    --------
    >>> rows = pd.DataFrame({"characteristic_id": ["measurement", "constancy_of_purpose", "connection"],
    ...     "wave_before": "2025", "wave_after": "2026",
    ...     "mean_before": [1.6, 2.1, np.nan], "mean_after": [2.3, 2.2, np.nan], "change": [0.7, 0.1, np.nan],
    ...     "ci_low": [0.2, -0.3, np.nan], "ci_high": [1.2, 0.5, np.nan], "confidence": 0.95,
    ...     "moved": ["up", "within noise", None], "shown": [True, True, False],
    ...     "note": ["", "", "fewer than 5 people rated it in 2025"]})
    >>> for sentence in change_sentences(rows, {"measurement": "Measurement"}):
    ...     print(sentence)
    Measurement: up from 1.6 to 2.3 (change +0.7, 95% interval +0.2 to +1.2).
    Constancy of purpose: within noise, 2.1 in 2025 and 2.2 in 2026 (change +0.1, 95% interval -0.3 to +0.5).
    Connection: not shown, fewer than 5 people rated it in 2025.
    """
    def number(value) -> str:
        return f"{value:.{digits}f}"

    def signed(value) -> str:
        text = f"{value:+.{digits}f}"
        return text.replace("-", "+") if float(text) == 0 else text  # no "-0.0"

    sentences = []
    for row in unit_rows.itertuples(index=False):  # a unit's few rows, for people to read
        characteristic = str(row.characteristic_id)
        name = labels.get(characteristic) or characteristic.replace("_", " ").capitalize()
        if not bool(row.shown):
            sentences.append(f"{name}: not shown, {row.note}.")
            continue
        before, after = number(row.mean_before), number(row.mean_after)
        if row.moved == NOT_TESTED or pd.isna(row.ci_low):
            sentences.append(f"{name}: {before} in {row.wave_before} and {after} in {row.wave_after} (change "
                             f"{signed(row.change)}; everyone gave the same answer in each wave, so no interval).")
            continue
        interval = (f"(change {signed(row.change)}, {row.confidence * 100:g}% interval {signed(row.ci_low)} to "
                    f"{signed(row.ci_high)})")
        if row.moved in (UP, DOWN):
            sentences.append(f"{name}: {row.moved} from {before} to {after} {interval}.")
        else:
            sentences.append(f"{name}: within noise, {before} in {row.wave_before} and {after} in "
                             f"{row.wave_after} {interval}.")
    return sentences
