"""Do the coders agree? Inter-coder reliability of coded interviews, per code and overall.

For coded interviews the unit of analysis is a **segment** coded by two or more coders (a
coder "coded" a segment when they applied at least one code to it). For each code, each
coder either applied it to the segment or did not: a yes/no (nominal, two-category)
decision. "All codes" pools every segment x code decision. The same functions take any
ratings matrix (units x coders, missing where a coder did not rate a unit), so they serve
survey-like ordinal, interval or ratio ratings too.

Coefficients, each with a standard error and an interval:

* percent agreement, Fleiss' kappa (generalised to missing ratings and weights), Gwet's
  AC1 (AC2 when weighted) and Brennan-Prediger, for any number of coders, computed as
  Gwet's *Handbook of Inter-Rater Reliability* (4th ed., 2014) and his R package irrCAC
  do (the ``*.raw`` functions): standard errors from Gwet's (2008) linearised variance,
  intervals ``estimate +/- t(n-1) * se`` with the upper end capped at 1;
* Cohen's kappa for each pair of coders, unweighted and, beyond the nominal level, with
  linear and quadratic weights; standard error from the large-sample variance of
  Fleiss, Cohen & Everitt (1969) (SAS PROC FREQ's ASE), normal interval;
* Krippendorff's alpha at the nominal, ordinal, interval and ratio levels of measurement,
  with a **percentile bootstrap over units** (units rated by two or more coders drawn
  with replacement, alpha recomputed from the draw, ordinal distances included; not
  Krippendorff's own bootstrap of pairable values). Its standard error is the standard
  deviation of the resampled alphas.

Every table says its unit of analysis (column ``unit_of_analysis``, or
``DataFrame.attrs["unit_of_analysis"]`` for :func:`reliability`). Agreement per
character of transcript needs positions: it is given with and without the text nobody
coded, because uncoded text, agreed on by default, inflates agreement.
"""

from __future__ import annotations

import os
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ALL_CODES", "ALL_DECISIONS", "CHARACTERS_AT_ONCE", "LEVELS", "RESAMPLES", "SEGMENT_DECISIONS", "WEIGHTS",
    "WEIGHTS_FOR_LEVEL", "categorical_agreement",
    "character_agreement", "coefficients", "cohen_kappa", "decisions", "disagreements", "gwet_coefficients",
    "krippendorff_alpha", "rating_agreement", "reliability", "reliability_status", "weight_matrix",
    "write_for_consensus", "write_restricted",
]

ALL_CODES = "(all codes)"
LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = ("identity", "linear", "ordinal", "quadratic", "ratio")
# Gwet (2014, ch. 3): the weights that suit each level of measurement. Quadratic weights
# make weighted coefficients agree with interval-level alpha (squared differences).
WEIGHTS_FOR_LEVEL = {"nominal": "identity", "ordinal": "ordinal", "interval": "quadratic", "ratio": "ratio"}
_LEVEL_OF_WEIGHTS = {"identity": "nominal", "linear": "ordinal", "ordinal": "ordinal", "quadratic": "interval",
                     "ratio": "ratio"}
RESAMPLES = 1000
_BOOTSTRAP_CELLS = 1 << 22  # resamples x patterns held at once: bounds memory however many units a study has
SEGMENT_DECISIONS = "segments coded by two or more coders: did each coder apply this code (yes / no)"
ALL_DECISIONS = "segment x code decisions (applied / not applied), all codes pooled"
_GWET_INTERVAL = "t(n-1) interval, Gwet (2008) variance"
_COHEN_INTERVAL = "normal interval, large-sample variance (Fleiss, Cohen & Everitt 1969)"


def reliability_status(codings: pd.DataFrame) -> str | None:
    """A plain sentence when agreement cannot be computed, else None."""
    if codings.empty:
        return "No segment is coded, so there is nothing to compare."
    coders = codings["coder"].nunique()
    if coders < 2:
        return (
            f"Every segment was coded by one person ({codings['coder'].iloc[0]}), "
            "so agreement between coders cannot be computed."
        )
    shared = codings.groupby("segment_id")["coder"].nunique().ge(2).sum()
    if shared == 0:
        return "No segment was coded by two or more coders, so agreement between coders cannot be computed."
    return None


def decisions(
    codings: pd.DataFrame, *, codes: list[str] | None = None, coders: list[str] | None = None
) -> pd.DataFrame:
    """Each coder's yes/no decision for each code on each segment that two or more of them coded.

    Returns
    -------
    DataFrame indexed by (``segment_id``, ``code_id``) with one boolean column per coder.
    """
    if coders is not None:
        unknown = sorted(set(coders) - set(codings["coder"]))
        if unknown:
            raise ValueError(f"coders {unknown} coded nothing; coders present: {sorted(codings['coder'].unique())}")
        codings = codings[codings["coder"].isin(coders)]
    coders_of = codings.groupby("segment_id")["coder"].nunique()
    shared = codings[codings["segment_id"].isin(coders_of.index[coders_of >= 2])]
    codes = list(pd.unique(codings["code_id"])) if codes is None else list(codes)
    coder_list = sorted(shared["coder"].unique()) if coders is None else list(coders)
    applied = shared.assign(applied=True).pivot_table(
        index=["segment_id", "code_id"], columns="coder", values="applied", aggfunc="any"
    )
    segments = pd.Index(shared["segment_id"].unique(), name="segment_id")
    grid = pd.MultiIndex.from_product([segments, codes], names=["segment_id", "code_id"])
    table = applied.reindex(index=grid, columns=coder_list).fillna(False).astype(bool)
    table.columns.name = None
    return table


def reliability(
    codings: pd.DataFrame, *, codes: list[str] | None = None, coders: list[str] | None = None,
    confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0,
) -> pd.DataFrame:
    """Agreement per code and over all codes, one row each (the headline figures).

    Returns
    -------
    DataFrame: ``code_id`` (``"(all codes)"`` last), ``n_segments``, ``n_coders``,
    ``n_applied`` (yes decisions), ``percent_agreement``, ``cohen_kappa``,
    ``kappa_ci_low``, ``kappa_ci_high`` (two coders only), ``fleiss_kappa``,
    ``gwet_ac1``, ``ac1_ci_low``, ``ac1_ci_high``, ``brennan_prediger``,
    ``krippendorff_alpha``, ``alpha_ci_low``, ``alpha_ci_high`` (percentile bootstrap).
    ``attrs["unit_of_analysis"]`` says what was compared. :func:`coefficients` gives every
    coefficient with its standard error, interval and method, one row each.
    """
    table = decisions(codings, codes=codes, coders=coders)
    options = {"confidence": confidence, "resamples": resamples, "seed": seed}
    rows = [_agreement(code, part, **options) for code, part in table.groupby(level="code_id", sort=False)]
    rows.append(_agreement(ALL_CODES, table, **options))
    result = pd.DataFrame(rows)
    result.attrs["unit_of_analysis"] = f"per code: {SEGMENT_DECISIONS}; {ALL_CODES}: {ALL_DECISIONS}"
    return result


def _agreement(code: str, part: pd.DataFrame, **options) -> dict:
    values = part.to_numpy(dtype=int)
    row = {
        "code_id": code,
        "n_segments": part.index.get_level_values("segment_id").nunique(),
        "n_coders": values.shape[1],
        "n_applied": int(values.sum()),
    }
    # Both decisions are possible whether or not anyone made them: a code nobody applied is
    # perfect agreement for AC1 and Brennan-Prediger, and undefined for kappa and alpha.
    statistics = categorical_agreement(pd.DataFrame(values, columns=part.columns), categories=[0, 1], **options)
    reported = (
        "percent_agreement", "cohen_kappa", "kappa_ci_low", "kappa_ci_high", "fleiss_kappa", "gwet_ac1",
        "ac1_ci_low", "ac1_ci_high", "brennan_prediger", "krippendorff_alpha", "alpha_ci_low", "alpha_ci_high",
    )
    row.update({k: statistics[k] for k in reported})
    return row


def coefficients(
    codings: pd.DataFrame, *, codes: list[str] | None = None, coders: list[str] | None = None,
    confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0,
) -> pd.DataFrame:
    """Every agreement coefficient for each code and over all codes, as a tidy table.

    The yes/no decisions of :func:`decisions` are nominal with two categories, so the
    coefficients are percent agreement, Cohen's kappa (each pair of coders), Fleiss'
    kappa, Gwet's AC1, Brennan-Prediger and nominal Krippendorff's alpha.

    For ``"(all codes)"`` the units are segment x code decisions, and the standard errors
    and intervals treat them as independent, which decisions on one segment are not: read
    the intervals per code.

    Returns
    -------
    DataFrame: ``code_id`` then the columns of :func:`rating_agreement`.
    """
    table = decisions(codings, codes=codes, coders=coders)
    options = {"level": "nominal", "categories": [False, True], "confidence": confidence, "resamples": resamples,
               "seed": seed}
    parts = [rating_agreement(part, unit_of_analysis=SEGMENT_DECISIONS, **options).assign(code_id=code)
             for code, part in table.groupby(level="code_id", sort=False)]
    parts.append(rating_agreement(table, unit_of_analysis=ALL_DECISIONS, **options).assign(code_id=ALL_CODES))
    result = pd.concat(parts, ignore_index=True)
    return result[["code_id", *result.columns.drop("code_id")]]


def categorical_agreement(ratings: pd.DataFrame, *, confidence: float = 0.95, categories: list | None = None,
                          resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Agreement of raters who each put units into nominal categories.

    Parameters
    ----------
    ratings : one row per unit, one column per rater, the category each rater chose
        (missing where a rater did not rate the unit).
    categories : every category a rater could choose (default: those chosen).

    Returns
    -------
    dict: ``n_units``, ``n_raters``, ``percent_agreement`` (units every rater rated, all
    alike), ``cohen_kappa`` with ``kappa_se``, ``kappa_ci_low``/``kappa_ci_high``
    (exactly two raters, units both rated), ``fleiss_kappa``, ``fleiss_se``,
    ``fleiss_ci_low``/``fleiss_ci_high``, ``gwet_ac1`` with ``ac1_se``,
    ``ac1_ci_low``/``ac1_ci_high``, ``brennan_prediger`` with ``bp_se``,
    ``bp_ci_low``/``bp_ci_high`` (units rated by two or more raters; Gwet's raw-ratings
    formulas), ``krippendorff_alpha`` (nominal) with ``alpha_se``,
    ``alpha_ci_low``/``alpha_ci_high`` (percentile bootstrap over units). A statistic is
    NaN where it is undefined, e.g. kappa and alpha when every rating falls in one category.
    """
    ratings = pd.DataFrame(ratings)
    result = {"n_units": len(ratings), "n_raters": ratings.shape[1], "percent_agreement": np.nan}
    complete = ratings.dropna()
    if len(complete):
        # Every rater alike, compared column by column with the first: a row-wise nunique is
        # a Python loop over rows (160 s for 250,000 segments x 11 codes).
        result["percent_agreement"] = float(complete.eq(complete.iloc[:, 0], axis=0).all(axis=1).mean())
    table = rating_agreement(ratings, level="nominal", categories=categories, confidence=confidence,
                             resamples=resamples, seed=seed)
    names = {"Cohen's kappa": "kappa", "Fleiss' kappa": "fleiss", "Gwet's AC1": "ac1", "Brennan-Prediger": "bp",
             "Krippendorff's alpha": "alpha"}
    estimates = {"kappa": "cohen_kappa", "fleiss": "fleiss_kappa", "ac1": "gwet_ac1", "bp": "brennan_prediger",
                 "alpha": "krippendorff_alpha"}
    for short in names.values():
        result.update({estimates[short]: np.nan, f"{short}_se": np.nan, f"{short}_ci_low": np.nan,
                       f"{short}_ci_high": np.nan})
    for row in table.itertuples(index=False):  # one row per coefficient, a handful: not a loop over the data
        short = names.get(row.coefficient)
        if short is None or (short == "kappa" and ratings.shape[1] != 2):
            continue
        result.update({estimates[short]: row.estimate, f"{short}_se": row.se, f"{short}_ci_low": row.ci_low,
                       f"{short}_ci_high": row.ci_high})
    return result


def rating_agreement(
    ratings: pd.DataFrame | np.ndarray, *, level: str = "nominal", categories: list | None = None,
    weights: str | None = None, unit_of_analysis: str = "units (rows of the ratings table)",
    confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0,
) -> pd.DataFrame:
    """Every agreement coefficient for one ratings matrix, one row per coefficient.

    Parameters
    ----------
    ratings : units x coders (a DataFrame's columns name the coders), missing where a
        coder did not rate a unit.
    level : level of measurement, one of :data:`LEVELS`. Nominal gives percent agreement,
        Cohen's kappa, Fleiss' kappa, Gwet's AC1, Brennan-Prediger and nominal alpha. A
        higher level adds linear and quadratic weighted kappa, weights Fleiss' kappa, AC
        (then AC2) and Brennan-Prediger with ``weights`` and computes alpha at that level.
    categories : every value a coder could give (default: the values given). Numbers are
        the scores that weights and interval/ratio alpha use; other labels count as 1, 2,
        ... in the order listed.
    weights : one of :data:`WEIGHTS` for Fleiss, AC and Brennan-Prediger (default
        :data:`WEIGHTS_FOR_LEVEL` of ``level``).

    Returns
    -------
    DataFrame: ``coefficient``, ``weights``, ``coders`` (the pair, or all coders),
    ``level`` (the level the coefficient treats the ratings at), ``estimate``, ``se``,
    ``ci_low``, ``ci_high``, ``interval`` (how the interval was made), ``n_units`` (units
    that entered the coefficient), ``unit_of_analysis``. Percent agreement is Gwet's: the
    share of agreeing pairs of ratings within a unit, averaged over units (for two coders,
    the share of units they rated alike).

    Examples
    --------
    >>> ratings = pd.DataFrame({"A": [1, 2, 3, 3, 2], "B": [1, 2, 3, 2, 2]})
    >>> table = rating_agreement(ratings, level="ordinal", unit_of_analysis="answers")
    >>> print(table[["coefficient", "weights", "level", "estimate"]].round(3).to_string(index=False))
             coefficient   weights    level  estimate
       Percent agreement  identity  nominal     0.800
           Cohen's kappa  identity  nominal     0.688
          Weighted kappa    linear  ordinal     0.737
          Weighted kappa quadratic interval     0.800
           Fleiss' kappa   ordinal  ordinal     0.767
              Gwet's AC2   ordinal  ordinal     0.839
        Brennan-Prediger   ordinal  ordinal     0.820
    Krippendorff's alpha            ordinal     0.794
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    weights = WEIGHTS_FOR_LEVEL[level] if weights is None else weights
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
    frame = pd.DataFrame(ratings)
    names = [str(c) for c in frame.columns] if isinstance(ratings, pd.DataFrame) else [
        f"rater {n + 1}" for n in range(frame.shape[1])]
    codes, scores = _category_codes(frame, categories)
    rows = []

    def add(coefficient: str, weighting: str, coders: list[str], result: dict, interval: str) -> None:
        rows.append({"coefficient": coefficient, "weights": weighting, "coders": ", ".join(coders),
                     "level": _LEVEL_OF_WEIGHTS.get(weighting, weighting), **result, "interval": interval})

    identity = _gwet_family(codes, weight_matrix(scores, "identity"), confidence)
    add("Percent agreement", "identity", names, identity["percent agreement"], _GWET_INTERVAL)
    kappa_weights = ["identity"] if level == "nominal" else ["identity", "linear", "quadratic"]
    for first, second in combinations(range(len(names)), 2):  # pairs of coders, not units
        for weighting in kappa_weights:
            name = "Cohen's kappa" if weighting == "identity" else "Weighted kappa"
            result = _cohen(codes[:, first], codes[:, second], weight_matrix(scores, weighting), confidence)
            add(name, weighting, [names[first], names[second]], result, _COHEN_INTERVAL)
    weighted = identity if weights == "identity" else _gwet_family(codes, weight_matrix(scores, weights), confidence)
    add("Fleiss' kappa", weights, names, weighted["fleiss"], _GWET_INTERVAL)
    add("Gwet's AC1" if weights == "identity" else "Gwet's AC2", weights, names, weighted["ac"], _GWET_INTERVAL)
    add("Brennan-Prediger", weights, names, weighted["bp"], _GWET_INTERVAL)
    alpha = _alpha_with_bootstrap(codes, scores, level, confidence, resamples, seed)
    rows.append({"coefficient": "Krippendorff's alpha", "weights": "", "coders": ", ".join(names), "level": level,
                 **{k: alpha[k] for k in ("estimate", "se", "ci_low", "ci_high", "n_units")},
                 "interval": alpha["interval"]})
    table = pd.DataFrame(rows, columns=["coefficient", "weights", "coders", "level", "estimate", "se", "ci_low",
                                        "ci_high", "interval", "n_units"])
    return table.assign(n_units=table["n_units"].astype(int), unit_of_analysis=unit_of_analysis)


def _category_codes(frame: pd.DataFrame, categories: list | None) -> tuple[np.ndarray, np.ndarray]:
    """Ratings as category positions (-1 where missing) and each category's numeric score."""
    values = frame.to_numpy()
    flat = values.ravel()
    missing = pd.isna(flat)
    if categories is None:
        observed = pd.unique(flat[~missing])
        try:
            categories = sorted(observed)
        except TypeError:  # labels of mixed types have no order of their own
            categories = sorted(observed, key=str)
    categories = list(categories)
    numeric = all(isinstance(c, (bool, int, float, np.number, np.bool_)) for c in categories)
    if numeric:
        categories = sorted(categories)  # numbers order themselves, whatever order they were listed in
    codes = pd.Index(categories).get_indexer(flat).astype(np.int64)  # -1: missing, or not a category
    unknown = (codes < 0) & ~missing
    if unknown.any():
        raise ValueError(f"ratings {sorted(set(flat[unknown]), key=str)[:5]} are not among the categories {categories}")
    scores = np.asarray(categories, dtype=float) if numeric else np.arange(1.0, len(categories) + 1)
    return codes.reshape(values.shape), scores


def weight_matrix(scores, kind: str = "identity") -> np.ndarray:
    """Agreement weights between categories with numeric ``scores`` (Gwet 2014, ch. 3; irrCAC).

    1 on the diagonal, 0 for the two categories furthest apart. ``linear``:
    1 - |x - y| / (max - min); ``quadratic``: 1 - (x - y)^2 / (max - min)^2; ``ordinal``:
    from ranks, 1 - C(|i - j| + 1, 2) / C(q, 2); ``ratio``: 1 - ((x - y) / (x + y))^2 /
    ((max - min) / (max + min))^2.

    >>> weight_matrix([1, 2, 3], "quadratic")
    array([[1.  , 0.75, 0.  ],
           [0.75, 1.  , 0.75],
           [0.  , 0.75, 1.  ]])
    """
    scores = np.asarray(scores, dtype=float)
    q = len(scores)
    if kind not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {kind!r}")
    spread = scores.max() - scores.min() if q else 0.0
    if kind == "identity" or q < 2 or spread == 0:
        return np.eye(q)
    difference = scores[:, None] - scores[None, :]
    if kind == "linear":
        return 1 - np.abs(difference) / spread
    if kind == "quadratic":
        return 1 - difference**2 / spread**2
    if kind == "ordinal":
        steps = np.abs(np.arange(q)[:, None] - np.arange(q)[None, :]) + 1
        pairs = steps * (steps - 1) / 2
        return 1 - pairs / pairs.max()
    total = scores[:, None] + scores[None, :]
    relative = np.divide(difference, total, out=np.zeros_like(difference), where=total != 0)
    return 1 - relative**2 / (spread / (scores.max() + scores.min())) ** 2


def _interval(estimate: float, se: float, quantile: float) -> tuple[float, float]:
    if not (np.isfinite(estimate) and np.isfinite(se)):
        return np.nan, np.nan
    return float(estimate - quantile * se), float(min(1.0, estimate + quantile * se))  # no coefficient exceeds 1


def cohen_kappa(first, second, *, weights: str = "identity", categories: list | None = None,
                confidence: float = 0.95) -> dict:
    """Cohen's kappa (weighted with ``weights``) between two coders' ratings of the same units.

    Units either coder left unrated are left out. The standard error is the large-sample
    one of Fleiss, Cohen & Everitt (1969), the ASE that SAS PROC FREQ prints; the interval
    is normal, its upper end capped at 1.

    Returns
    -------
    dict: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n_units``.

    >>> cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2])["estimate"]
    0.5
    """
    codes, scores = _category_codes(pd.DataFrame({"first": list(first), "second": list(second)}), categories)
    return _cohen(codes[:, 0], codes[:, 1], weight_matrix(scores, weights), confidence)


def _cohen(first: np.ndarray, second: np.ndarray, weights: np.ndarray, confidence: float) -> dict:
    from scipy import stats

    both = (first >= 0) & (second >= 0)
    n = int(both.sum())
    q = len(weights)
    result = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_units": n}
    if n == 0:
        return result
    table = np.bincount(first[both] * q + second[both], minlength=q * q).reshape(q, q) / n
    row, column = table.sum(axis=1), table.sum(axis=0)
    observed = float((weights * table).sum())
    chance = float((weights * np.outer(row, column)).sum())
    if np.isclose(chance, 1.0):
        return result  # both coders used one category only: kappa is undefined
    kappa = (observed - chance) / (1 - chance)
    row_weight = weights @ column  # mean weight of each row category against the second coder's margin
    column_weight = weights.T @ row
    spread = (table * (weights - (row_weight[:, None] + column_weight[None, :]) * (1 - kappa)) ** 2).sum()
    variance = (spread - (kappa - chance * (1 - kappa)) ** 2) / (n * (1 - chance) ** 2)
    se = float(np.sqrt(max(variance, 0.0)))
    low, high = _interval(kappa, se, stats.norm.ppf(0.5 + confidence / 2))
    return {**result, "estimate": float(kappa), "se": se, "ci_low": low, "ci_high": high}


def gwet_coefficients(ratings: pd.DataFrame | np.ndarray, *, weights: str = "identity",
                      categories: list | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Percent agreement, Fleiss' kappa, Gwet's AC1/AC2 and Brennan-Prediger for any number of coders.

    As irrCAC's ``pa.coeff.raw``, ``fleiss.kappa.raw``, ``gwet.ac1.raw`` and
    ``bp.coeff.raw`` (Gwet 2014): units nobody rated are dropped; agreement comes from the
    units rated by two or more coders, chance agreement from all rated units; the variance
    is Gwet's (2008) linearisation over the n rated units, the interval
    ``estimate +/- t(n-1) * se`` capped at 1.

    Returns
    -------
    DataFrame indexed by coefficient (``percent agreement``, ``fleiss``, ``ac``, ``bp``):
    ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n_units``, ``pa``, ``pe``.
    """
    codes, scores = _category_codes(pd.DataFrame(ratings), categories)
    return pd.DataFrame(_gwet_family(codes, weight_matrix(scores, weights), confidence)).T


def _gwet_family(codes: np.ndarray, weights: np.ndarray, confidence: float) -> dict[str, dict]:
    from scipy import stats

    q = len(weights)
    counts = _counts_per_unit(codes, q).astype(float)
    counts = counts[counts.sum(axis=1) > 0]  # irrCAC: exclude units nobody rated
    n = len(counts)
    raters = counts.sum(axis=1)
    paired = raters >= 2
    n_paired = int(paired.sum())
    empty = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_units": n, "pa": np.nan,
             "pe": np.nan}
    names = ("percent agreement", "fleiss", "ac", "bp")
    if n_paired == 0 or q == 0:
        return {name: dict(empty) for name in names}
    # Agreeing (weighted) pairs of ratings in each unit over all its pairs of ratings.
    agreeing = (counts * (counts @ weights.T - 1)).sum(axis=1)
    unit_agreement = np.where(paired, agreeing / np.where(paired, raters * (raters - 1), 1), 0.0)
    observed = unit_agreement.sum() / n_paired
    shares = counts / raters[:, None]
    prevalence = shares.mean(axis=0)  # mean share of each category per rated unit
    total_weight = weights.sum()
    pairs_of_categories = q * (q - 1) if q > 1 else np.nan
    chance = {
        "percent agreement": 0.0,
        "fleiss": float(prevalence @ weights @ prevalence),
        "ac": float(total_weight * (prevalence * (1 - prevalence)).sum() / pairs_of_categories),
        "bp": float(total_weight / q**2),
    }
    # Each unit's share of chance agreement, the term Gwet's linearisation adds for
    # coefficients whose chance agreement depends on the data (Fleiss, AC1/AC2).
    symmetric = (weights @ prevalence + weights.T @ prevalence) / 2
    unit_chance = {
        "fleiss": counts @ symmetric / raters,
        "ac": total_weight / pairs_of_categories * (counts @ (1 - prevalence)) / raters,
    }
    quantile = stats.t.ppf(0.5 + confidence / 2, n - 1) if n >= 2 else np.nan
    result = {}
    for name in names:  # four coefficients, each vectorised over units
        pe = chance[name]
        if not np.isfinite(pe) or np.isclose(pe, 1.0):  # one category only, or no room for chance: undefined
            result[name] = {**empty, "pa": observed, "pe": pe}
            continue
        estimate = (observed - pe) / (1 - pe)
        terms = (n / n_paired) * (unit_agreement - pe * paired) / (1 - pe)
        if name in unit_chance:
            terms = terms - 2 * (1 - estimate) * (unit_chance[name] - pe) / (1 - pe)
        se = float(np.sqrt(((terms - estimate) ** 2).sum() / (n * (n - 1)))) if n >= 2 else np.nan
        low, high = _interval(estimate, se, quantile)
        result[name] = {"estimate": float(estimate), "se": se, "ci_low": low, "ci_high": high, "n_units": n,
                        "pa": float(observed), "pe": pe}
    return result


def krippendorff_alpha(ratings: pd.DataFrame | np.ndarray, *, level: str = "nominal", categories: list | None = None,
                       confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Krippendorff's alpha at a level of measurement, with a percentile bootstrap interval.

    Alpha is 1 - D_o / D_e from the coincidences of values within units (Krippendorff
    2011), with the nominal, ordinal (mid-rank), interval or ratio difference. Units rated
    by fewer than two coders hold no pairable value and are left out.

    The interval resamples units: the pairable units are drawn with replacement
    ``resamples`` times (seeded) and alpha, ordinal differences included, is recomputed
    from each draw; the interval holds the middle ``confidence`` of those alphas, ``se``
    is their standard deviation. Draws without any variation (alpha undefined) are left
    out and counted in ``undefined_resamples``. Units with the same counts of each value
    are interchangeable, so a draw is a multinomial count of each distinct pattern: the
    work grows with the number of patterns, not of units.

    Returns
    -------
    dict: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n_units`` (pairable units),
    ``n_values`` (pairable values), ``resamples``, ``undefined_resamples``, ``interval``.

    >>> nan = float("nan")
    >>> observers = pd.DataFrame({  # Krippendorff (2011), reliability data with missing values
    ...     "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan], "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     "C": [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan], "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]})
    >>> round(krippendorff_alpha(observers, level="interval")["estimate"], 3)
    0.849
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    codes, scores = _category_codes(pd.DataFrame(ratings), categories)
    return _alpha_with_bootstrap(codes, scores, level, confidence, resamples, seed)


def _alpha_with_bootstrap(codes: np.ndarray, scores: np.ndarray, level: str, confidence: float, resamples: int,
                          seed: int) -> dict:
    q = len(scores)
    counts = _counts_per_unit(codes, q)
    counts = counts[counts.sum(axis=1) >= 2]
    patterns, frequency = _distinct_rows(counts)
    result = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_units": len(counts),
              "n_values": int(counts.sum()), "resamples": int(resamples), "undefined_resamples": 0,
              "interval": f"percentile bootstrap over units, {resamples} resamples (seed {seed})"}
    if len(counts) == 0 or q < 2:
        return result
    result["estimate"] = float(_alpha_of_draws(frequency[None, :].astype(float), patterns, scores, level)[0])
    if len(counts) < 2 or resamples < 1:
        return result
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CELLS // max(len(patterns), q))
    alphas = np.concatenate([
        _alpha_of_draws(rng.multinomial(len(counts), frequency / len(counts), size=min(chunk, resamples - done))
                        .astype(float), patterns, scores, level)
        for done in range(0, resamples, chunk)  # chunks of resamples, so memory stays bounded
    ])
    defined = alphas[np.isfinite(alphas)]
    result["undefined_resamples"] = int(resamples - len(defined))
    if result["undefined_resamples"]:
        result["interval"] += f"; {result['undefined_resamples']} resamples without variation left out"
    if len(defined) >= 2:
        tail = (1 - confidence) / 2
        result["ci_low"], result["ci_high"] = (float(v) for v in np.quantile(defined, [tail, 1 - tail]))
        result["se"] = float(defined.std(ddof=1))
    return result


def _counts_per_unit(codes: np.ndarray, q: int) -> np.ndarray:
    """Units x categories: how many coders gave each category to each unit."""
    units = codes.shape[0]
    rated = codes >= 0
    unit_of = np.broadcast_to(np.arange(units)[:, None], codes.shape)
    return np.bincount(unit_of[rated] * q + codes[rated], minlength=units * q).reshape(units, q)


def _distinct_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a count matrix and how often each occurs."""
    if len(counts) == 0:
        return counts, np.zeros(0, dtype=np.int64)
    base = int(counts.max()) + 1
    if base ** counts.shape[1] < 2**62:
        # Each row read as the digits of one integer: a 1-D unique, far faster than unique(axis=0).
        keys = counts.astype(np.int64) @ base ** np.arange(counts.shape[1], dtype=np.int64)
        _, first, frequency = np.unique(keys, return_index=True, return_counts=True)
        return counts[first], frequency
    return np.unique(counts, axis=0, return_counts=True)


def _alpha_of_draws(draws: np.ndarray, patterns: np.ndarray, scores: np.ndarray, level: str) -> np.ndarray:
    """Alpha for each draw: ``draws`` (draws x patterns) counts how often each unit pattern is taken.

    Alpha = 1 - (n - 1) * sum_units D_u / (m_u - 1) / D, with D_u the summed difference
    over ordered pairs of values within a unit and D over all pairs of values.
    """
    patterns = patterns.astype(float)
    values_per_unit = patterns.sum(axis=1)
    value_counts = draws @ patterns  # draws x categories: n_c of each draw
    n = value_counts.sum(axis=1)
    if level in ("interval", "ordinal"):
        # Squared distances between positions x: over all ordered pairs of a set of values
        # they sum to 2 * (m * sum x^2 - (sum x)^2), so no categories x categories table.
        # Krippendorff's ordinal difference is the squared distance between mid-ranks (values
        # up to a category less half its own), which move with each draw.
        if level == "ordinal":
            positions = np.cumsum(value_counts, axis=1) - value_counts / 2 - n[:, None] / 2
        else:
            positions = np.broadcast_to(scores - scores.mean(), value_counts.shape)  # centred: less rounding
        sums, squares = patterns @ positions.T, patterns @ (positions**2).T  # patterns x draws
        within = 2 * (values_per_unit[:, None] * squares - sums**2) / (values_per_unit[:, None] - 1)
        observed = (draws * within.T).sum(axis=1)
        spread = n * (value_counts * positions**2).sum(axis=1)
        expected = 2 * (spread - (value_counts * positions).sum(axis=1) ** 2)
        # Rounding can leave a trace of expected difference where every value is alike.
        expected = np.where(expected > 1e-12 * spread, expected, 0.0)
    elif level == "nominal":
        within = (values_per_unit**2 - (patterns**2).sum(axis=1)) / (values_per_unit - 1)  # pairs that differ
        observed = draws @ within
        expected = n**2 - (value_counts**2).sum(axis=1)
    else:
        difference = _ratio_difference(scores)
        within = ((patterns @ difference) * patterns).sum(axis=1) / (values_per_unit - 1)
        observed = draws @ within
        expected = ((value_counts @ difference) * value_counts).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - (n - 1) * observed / expected, np.nan)


def _ratio_difference(scores: np.ndarray) -> np.ndarray:
    """Krippendorff's squared ratio difference between categories."""
    difference = scores[:, None] - scores[None, :]
    total = scores[:, None] + scores[None, :]
    return np.divide(difference, total, out=np.zeros_like(difference), where=total != 0) ** 2


CHARACTERS_AT_ONCE = 1 << 24


def character_agreement(codings: pd.DataFrame, interviews: pd.DataFrame, *, codes: list[str] | None = None,
                        coders: list[str] | None = None) -> pd.DataFrame:
    """Agreement per character of transcript, for interviews with known positions and length.

    For each code, a character is "agreed" when every coder made the same decision about
    it (inside a segment they gave that code, or not). Returns per code (and over all
    codes): ``characters`` (all transcript characters compared), ``coded_characters``
    (coded by at least one coder), ``agreement_with_uncoded``, ``agreement_without_uncoded``.
    """
    positioned = codings.dropna(subset=["start", "end"])
    lengths = interviews.dropna(subset=["characters"]).set_index("interview_id")["characters"]
    positioned = positioned[positioned["interview_id"].isin(lengths.index)]
    coder_list = sorted(positioned["coder"].unique()) if coders is None else list(coders)
    codes = list(dict.fromkeys(positioned["code_id"])) if codes is None else list(codes)
    # Compared transcripts laid end to end: a segment becomes a +1 where it starts and a -1
    # where it ends on that one line, and a running sum marks every character it covers.
    # The line is cut into stretches of about CHARACTERS_AT_ONCE, so memory stays bounded
    # however many transcripts a study has.
    compared = lengths.loc[list(dict.fromkeys(positioned["interview_id"]))].astype("int64")
    offset = pd.Series(np.cumsum(compared.to_numpy()) - compared.to_numpy(), index=compared.index)
    stretch_of = offset // CHARACTERS_AT_ONCE
    length = positioned["interview_id"].map(compared).to_numpy()
    origin = positioned["interview_id"].map(offset).to_numpy()  # where each interview starts on the line
    starts = origin + np.clip(positioned["start"].to_numpy(dtype="int64"), 0, length)
    ends = origin + np.clip(positioned["end"].to_numpy(dtype="int64"), 0, length)
    stretch = positioned["interview_id"].map(stretch_of).to_numpy()
    code_of, coder_of = positioned["code_id"].to_numpy(), positioned["coder"].to_numpy()
    totals = {code: np.zeros(3) for code in [*codes, ALL_CODES]}  # characters, coded by anyone, agreed
    for number in pd.unique(stretch_of):
        interviews_here = stretch_of.index[stretch_of.to_numpy() == number]
        first = int(offset[interviews_here].min())
        size = int((offset[interviews_here] + compared[interviews_here]).max()) - first
        here = stretch == number
        for code in codes:
            marks = np.zeros((len(coder_list), size), dtype=bool)
            for row, coder in enumerate(coder_list):
                chosen = here & (code_of == code) & (coder_of == coder)
                edges = (np.bincount(starts[chosen] - first, minlength=size + 1)
                         - np.bincount(ends[chosen] - first, minlength=size + 1)).astype("int32")
                marks[row] = np.cumsum(edges[:size]) > 0
            anyone = marks.any(axis=0)
            agreed = marks.all(axis=0) | ~anyone
            for key in (code, ALL_CODES):
                totals[key] += (size, anyone.sum(), agreed.sum())
    rows = []
    for code, (characters, coded, agreed) in totals.items():
        uncoded = characters - coded
        rows.append({"code_id": code, "characters": int(characters), "coded_characters": int(coded),
                     "agreement_with_uncoded": agreed / characters if characters else np.nan,
                     "agreement_without_uncoded": (agreed - uncoded) / coded if coded else np.nan})
    return pd.DataFrame(rows)


# Excel keeps at most this many characters in a cell; the CSV beside the workbook has no limit.
_XLSX_CELL_LIMIT = 32_767


def write_restricted(table: pd.DataFrame, folder: Path, name: str, *, sheet: str,
                     wrap: tuple[str, ...] = ()) -> list[Path]:
    """Write ``table`` (its columns, not its index) as ``<name>.csv`` and ``<name>.xlsx`` into
    ``folder``, a restricted folder (:meth:`workbench.project.Project.restricted`): folder and
    files readable by their owner only, since what goes there carries interview and unit ids
    next to excerpts, which no shared output may.

    The CSV holds every value in full (UTF-8). The workbook is for reading at a meeting: one
    sheet named ``sheet``, bold header frozen above the rows, filters on every column, widths
    fitted to the content, and the ``wrap`` columns (long text) wide and wrapped. A text longer
    than an Excel cell holds (32,767 characters) is cut there in the workbook with a note that
    the CSV has it whole.
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from workbench.io.files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    flat = table.reset_index(drop=True)
    written = []
    with atomic_path(folder / f"{name}.csv") as temporary:
        flat.to_csv(temporary, index=False, encoding="utf-8")
    written.append(folder / f"{name}.csv")
    note = " [cut here: the CSV file holds the whole text]"
    fitted = flat.apply(lambda column: column.map(
        lambda v: v[:_XLSX_CELL_LIMIT - len(note)] + note if isinstance(v, str) and len(v) > _XLSX_CELL_LIMIT else v)
        if column.dtype == object or pd.api.types.is_string_dtype(column) else column)
    with atomic_path(folder / f"{name}.xlsx") as temporary:
        with pd.ExcelWriter(temporary, engine="openpyxl") as writer:
            fitted.to_excel(writer, sheet_name=sheet, index=False)
            cells = writer.sheets[sheet]
            cells.freeze_panes = "A2"
            cells.auto_filter.ref = cells.dimensions
            for position, column in enumerate(flat.columns, start=1):
                letter = get_column_letter(position)
                cells[f"{letter}1"].font = Font(bold=True)
                longest = max([len(str(column)), *flat[column].astype(str).str.len().head(2000).tolist()])
                cells.column_dimensions[letter].width = 80 if column in wrap else min(max(10, longest + 2), 40)
                if column in wrap:
                    for cell in cells[letter][1:]:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
    written.append(folder / f"{name}.xlsx")
    for path in written:
        os.chmod(path, 0o600)
    return written


def write_for_consensus(differences: pd.DataFrame, folder: Path) -> list[Path]:
    """Write :func:`disagreements` as ``coder-disagreements.csv`` and ``.xlsx`` into ``folder``
    with :func:`write_restricted`: every differing segment, each coder's codes and the whole
    excerpt (wrapped in the workbook), one row per segment."""
    return write_restricted(differences, folder, "coder-disagreements", sheet="Disagreements", wrap=("excerpt",))


def disagreements(
    codings: pd.DataFrame, *, coders: list[str] | None = None, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """The segments where coders differ, for a consensus meeting.

    Returns
    -------
    DataFrame: ``segment_id``, ``interview_id``, ``microsystem_id``, ``start`` and ``end``
    (where the codings give positions), ``excerpt`` (whole), then one column per coder listing
    the codes they applied (labelled when ``labels`` is given; ``(none)`` for a coder who
    applied none of them), and ``differ_on``: the codes some of the segment's coders applied
    and others did not, the agenda for that segment.
    """
    table = decisions(codings, coders=coders)
    differ = table.ne(table.iloc[:, 0], axis=0).any(axis=1)  # yes/no decisions, never missing: any unlike the first
    differing = table[differ].index.get_level_values("segment_id").unique()
    labels = labels or {}
    chosen = codings[codings["segment_id"].isin(differing)]
    if coders is not None:
        chosen = chosen[chosen["coder"].isin(coders)]
    applied = (
        chosen.assign(code=chosen["code_id"].map(lambda c: labels.get(c, c)))
        .groupby(["segment_id", "coder"])["code"]
        .agg(lambda c: "; ".join(sorted(c)))
        .unstack("coder", fill_value="(none)")
    )
    positions = [c for c in ("start", "end") if c in chosen.columns]
    info = chosen.drop_duplicates("segment_id").set_index("segment_id")[
        ["interview_id", "microsystem_id", *positions, "excerpt"]]
    # Per segment and code, how many of its coders applied it: fewer than all (and more than
    # none) is a code they differ on.
    of_segment = chosen.groupby("segment_id")["coder"].nunique()
    per_code = chosen.groupby(["segment_id", "code_id"])["coder"].nunique()
    split = per_code[per_code.lt(of_segment.reindex(per_code.index.get_level_values("segment_id")).to_numpy())]
    differ_on = (split.reset_index().assign(code=lambda t: t["code_id"].map(lambda c: labels.get(c, c)))
                 .groupby("segment_id")["code"].agg(lambda c: "; ".join(sorted(c))).rename("differ_on"))
    result = info.join(applied).join(differ_on).fillna({"differ_on": ""}).reset_index()
    result.columns.name = None
    return result
