"""How reliable is a scale: Cronbach's alpha with its Feldt interval, ordinal alpha and omega.

Reliability is a property of the items as a measure of one thing (do they rank people
alike?), not of how far the staff of one microsystem agree (:mod:`workbench.agreement`).
Every statistic here is computed on the respondents who rated every item of the scale
(listwise deletion; "can't rate" is missing, never a low score), and reports that n.

* **Cronbach's alpha** from the item covariances, with the interval of Feldt (1965) and
  Feldt, Woodruff & Salih (1987): ``(1 - alpha) / (1 - alpha_hat)`` follows an F
  distribution on ``(n - 1, (n - 1)(k - 1))`` degrees of freedom, so
  ``[1 - (1 - alpha_hat) F_{1-a/2}, 1 - (1 - alpha_hat) F_{a/2}]`` (as ``psych::alpha.ci``).
* **Ordinal alpha** (Zumbo, Gadermann & Zeisser 2007): alpha of the polychoric correlation
  matrix, the reliability of the continuous judgements behind three ordered answers;
  plain alpha underestimates it when items have few levels.
* **McDonald's omega total**: ``1 - sum(uniquenesses) / (sum of all correlations)`` from a
  one-factor minimum-residual model of the Pearson correlations (``psych::omega`` with
  ``nfactors = 1``). Unlike alpha, it does not assume every item loads equally. Omega
  hierarchical needs a general factor beside group factors (a bifactor model); with the
  one factor a ten-item tool supports, it is not defined, so it is not reported.

Polychoric correlations are estimated in two steps, as ``psych::polychoric`` does:
thresholds from each item's own answers (the normal quantiles of its cumulative level
shares), then, for every pair of items at once, the correlation that maximises the
likelihood of the pair's cross-table. No PyPI package offers a maintained, vectorised
estimator (``semopy``'s loops over pairs and calls a SciPy routine since removed), so it is
written here: the bivariate normal distribution function from Owen's T (``scipy.special
.owens_t``), a grid search to bracket the maximum and bisection on the score.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "MIN_RESPONDENTS_FOR_ALPHA", "bivariate_normal_cdf", "cronbach_alpha", "feldt_interval", "item_total_statistics",
    "omega_total", "one_factor_loadings", "ordinal_alpha", "polychoric_correlation", "reliability_table",
    "respondent_item_matrix",
]

MIN_RESPONDENTS_FOR_ALPHA = 3  # fewer complete respondents leave alpha and its interval undefined
SCALE = "scale"  # the ``scope`` of the whole instrument in :func:`reliability_table`
# Polychoric correlations are searched in [-1 + _EDGE, 1 - _EDGE]: at +-1 the likelihood is singular, and
# Owen's T loses digits within about 1e-8 of it.
_EDGE = 1e-4


def respondent_item_matrix(answers: pd.DataFrame, *, items: list[str] | None = None) -> pd.DataFrame:
    """Respondents as rows, items as columns, levels as floats (NaN where not rated).

    Examples
    --------
    >>> a = pd.DataFrame({"respondent_id": ["r1", "r1", "r2"], "item_id": ["m", "c", "m"],
    ...                   "level": pd.array([3, 2, None], dtype="Int64")})
    >>> respondent_item_matrix(a).to_dict(orient="index")
    {'r1': {'m': 3.0, 'c': 2.0}, 'r2': {'m': nan, 'c': nan}}
    """
    items = list(dict.fromkeys(answers["item_id"])) if items is None else list(items)
    rated = answers[answers["item_id"].isin(items) & answers["level"].notna()]
    rated = rated.assign(level=rated["level"].astype("float64"))
    wide = rated.pivot_table(index="respondent_id", columns="item_id", values="level", aggfunc="first", observed=True)
    all_respondents = pd.Index(list(dict.fromkeys(answers["respondent_id"])), name="respondent_id")
    return wide.reindex(index=all_respondents, columns=pd.Index(items, name="item_id"))


def feldt_interval(alpha, n, k, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Feldt's (1965; Feldt, Woodruff & Salih 1987) confidence interval for Cronbach's alpha
    of ``k`` items answered by ``n`` respondents (vectorised over its arguments).

    ``n`` must be the number of respondents the alpha was computed from: after listwise
    deletion, not before (a larger n gives a falsely narrow interval).

    Examples
    --------
    >>> low, high = feldt_interval(0.5917188485995826, 15, 10)  # pingouin's documented example
    >>> round(float(low), 3), round(float(high), 3)
    (0.195, 0.84)
    """
    from scipy.stats import f as f_distribution  # here, not at import: scipy.stats is slow to import

    alpha, n, k = (np.asarray(v, dtype="float64") for v in (alpha, n, k))
    tail = (1 - confidence) / 2
    df1, df2 = n - 1, (n - 1) * (k - 1)
    with np.errstate(invalid="ignore"):
        low = 1 - (1 - alpha) * f_distribution.ppf(1 - tail, df1, df2)
        high = 1 - (1 - alpha) * f_distribution.ppf(tail, df1, df2)
    return low, high


def _alpha_from_covariance(covariance: np.ndarray) -> float:
    """k / (k - 1) (1 - trace / sum): alpha of a covariance (or, standardised, correlation) matrix."""
    k = covariance.shape[0]
    total = covariance.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(k / (k - 1) * (1 - np.trace(covariance) / total)) if total > 0 else np.nan


def cronbach_alpha(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    confidence: float = 0.95,
    nan_policy: Literal["listwise", "pairwise"] = "listwise",
) -> pd.Series:
    """Cronbach's alpha of the items, with Feldt's confidence interval on the n actually used.

    Respondents are rows and items columns; "can't rate" is missing, so by default only
    respondents who rated every item are used, and the interval counts only them.
    ``nan_policy="pairwise"`` computes alpha from pairwise covariances; its interval then
    counts the fewest respondents behind any one covariance, so it is never narrower than
    the thinnest pair of items allows.

    Returns
    -------
    Series: ``alpha``, ``ci_low``, ``ci_high``, ``n_respondents`` (the n behind the
    interval), ``n_items``. NaN where fewer than :data:`MIN_RESPONDENTS_FOR_ALPHA`
    respondents or two items, or where the total score does not vary.

    Examples
    --------
    >>> a = pd.DataFrame({"respondent_id": sorted(["r1", "r2", "r3", "r4"] * 2), "item_id": ["m", "c"] * 4,
    ...                   "level": pd.array([1, 1, 2, 3, 3, 3, 2, None], dtype="Int64")})
    >>> result = cronbach_alpha(a)  # r4 rated one item: left out, and not counted in the interval
    >>> round(float(result["alpha"]), 3), int(result["n_respondents"])
    (0.923, 3)
    """
    if nan_policy not in ("listwise", "pairwise"):
        raise ValueError(f"nan_policy must be 'listwise' or 'pairwise', got {nan_policy!r}")
    wide = respondent_item_matrix(answers, items=items).dropna(how="all")  # someone who rated nothing adds nothing
    k = wide.shape[1]
    if nan_policy == "listwise":
        used = wide.dropna().to_numpy()
        n = len(used)
        covariance = np.cov(used, rowvar=False) if n >= 2 else np.full((k, k), np.nan)
    else:
        rated = wide.notna().to_numpy(dtype="float64")
        n = int((rated.T @ rated).min()) if k else 0  # respondents behind the thinnest covariance
        covariance = wide.cov().to_numpy()
    alpha = _alpha_from_covariance(covariance) if n >= MIN_RESPONDENTS_FOR_ALPHA and k >= 2 else np.nan
    low, high = feldt_interval(alpha, n, k, confidence=confidence)
    return pd.Series({"alpha": alpha, "ci_low": float(low), "ci_high": float(high), "n_respondents": n,
                      "n_items": k})


def item_total_statistics(answers: pd.DataFrame, *, items: list[str] | None = None) -> pd.DataFrame:
    """Per item, on respondents who rated every item: the corrected item-total correlation
    (the item against the sum of the other items) and alpha if the item were deleted.

    All items at once from the covariance matrix: with C the item covariances and s_i the
    sum of row i, the rest-score variance is ``sum(C) - 2 s_i + C_ii`` and its covariance
    with item i is ``s_i - C_ii``.

    Returns
    -------
    DataFrame: ``item_id``, ``corrected_item_total_r``, ``alpha_if_deleted``, ``n_respondents``.
    """
    wide = respondent_item_matrix(answers, items=items).dropna()
    k = wide.shape[1]
    n = len(wide)
    if n >= MIN_RESPONDENTS_FOR_ALPHA and k >= 2:
        c = np.cov(wide.to_numpy(), rowvar=False).reshape(k, k)
        row, own = c.sum(axis=1), np.diag(c)
        rest_variance = c.sum() - 2 * row + own
        with np.errstate(invalid="ignore", divide="ignore"):  # an item or rest score that never varies: NaN
            r = (row - own) / np.sqrt(own * rest_variance)
            r = np.where((own > 0) & (rest_variance > 0), r, np.nan)
            alpha = np.where(rest_variance > 0, (k - 1) / (k - 2) * (1 - (np.trace(c) - own) / rest_variance), np.nan) \
                if k > 2 else np.full(k, np.nan)
    else:
        r = alpha = np.full(k, np.nan)
    return pd.DataFrame({"item_id": list(wide.columns), "corrected_item_total_r": r, "alpha_if_deleted": alpha,
                         "n_respondents": n})


# ---------------------------------------------------------------------------------------
# Polychoric correlations and ordinal alpha.

def bivariate_normal_cdf(h, k, rho) -> np.ndarray:
    """P(X <= h, Y <= k) for standard normals with correlation ``rho`` (|rho| < 1),
    vectorised over all three; ``h`` and ``k`` may be infinite.

    Owen's (1956) identity: Φ2(h, k; ρ) = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − β with
    a_h = (k − ρh) / (h √(1−ρ²)), a_k likewise, and β = ½ when h and k lie on opposite
    sides of 0, else 0; T is Owen's T function (``scipy.special.owens_t``).

    Examples
    --------
    >>> round(float(bivariate_normal_cdf(0.0, 0.0, 0.5)), 12)  # 1/4 + asin(rho) / (2 pi) = 1/3
    0.333333333333
    >>> round(float(bivariate_normal_cdf(1.0, np.inf, 0.5)), 6)  # the other variable unbounded: Φ(1)
    0.841345
    """
    from scipy.special import ndtr, owens_t

    h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (h, k, rho)))
    root = np.sqrt((1 - rho) * (1 + rho))
    finite = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(finite, h, 1.0), np.where(finite, k, 1.0)  # placeholders: the infinite cases are set below
    with np.errstate(invalid="ignore", divide="ignore"):
        a_h = (kk - rho * hh) / (hh * root)
        a_k = (hh - rho * kk) / (kk * root)
        # At h = 0, T(h, a_h) is taken as its limit from h > 0, sign(k) / 4 (T(0, a) = atan(a) / 2 pi);
        # beta below is chosen for that side.
        t_h = np.where(hh == 0, np.sign(kk) / 4, owens_t(hh, np.where(hh == 0, 0.0, a_h)))
        t_k = np.where(kk == 0, np.sign(hh) / 4, owens_t(kk, np.where(kk == 0, 0.0, a_k)))
    beta = np.where((hh * kk > 0) | ((hh * kk == 0) & (hh + kk >= 0)), 0.0, 0.5)
    p = 0.5 * (ndtr(hh) + ndtr(kk)) - t_h - t_k - beta
    p = np.where((hh == 0) & (kk == 0), 0.25 + np.arcsin(rho) / (2 * np.pi), p)
    p = np.where(finite, p, np.where(h == np.inf, ndtr(k), ndtr(h)))  # one bound infinite: a margin
    p = np.where((h == -np.inf) | (k == -np.inf), 0.0, p)
    return np.clip(p, 0.0, 1.0)


def _bivariate_normal_pdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Density of the standard bivariate normal; 0 where h or k is infinite. It is also
    d Φ2(h, k; ρ) / d ρ (Plackett 1954), the score's ingredient."""
    finite = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(finite, h, 0.0), np.where(finite, k, 0.0)
    one_minus = (1 - rho) * (1 + rho)
    density = np.exp(-(hh**2 - 2 * rho * hh * kk + kk**2) / (2 * one_minus)) / (2 * np.pi * np.sqrt(one_minus))
    return np.where(finite, density, 0.0)


def _cells(grid: np.ndarray) -> np.ndarray:
    """Rectangle probabilities (or their derivatives) from a grid of a distribution
    function at the cut points: ``F[i+1, j+1] - F[i, j+1] - F[i+1, j] + F[i, j]``."""
    return grid[..., 1:, 1:] - grid[..., :-1, 1:] - grid[..., 1:, :-1] + grid[..., :-1, :-1]


def _pair_terms(rho: np.ndarray, row_cuts: np.ndarray, col_cuts: np.ndarray, counts: np.ndarray, score: bool):
    """Log-likelihood (or its derivative in rho) of each pair's cross-table at ``rho``
    (shape ``rho.shape``, whose last axis runs over the pairs)."""
    h = row_cuts[..., :, None]
    k = col_cuts[..., None, :]
    r = rho[..., None, None]
    probabilities = _cells(bivariate_normal_cdf(h, k, r))
    seen = counts > 0  # an empty cell adds nothing, whatever its probability
    with np.errstate(divide="ignore", invalid="ignore"):
        if score:
            terms = counts * _cells(_bivariate_normal_pdf(h, k, r)) / probabilities
        else:
            terms = counts * np.log(np.clip(probabilities, 0.0, None))  # rounding below 0: impossible, -inf
    return np.where(seen, terms, 0.0).sum(axis=(-2, -1))


def polychoric_correlation(wide: pd.DataFrame, *, levels: list[float] | None = None) -> pd.DataFrame:
    """Polychoric correlations of ordinal items (two-step estimator, as ``psych::polychoric``).

    Step 1: each item's thresholds are the normal quantiles of its cumulative level shares,
    from all its answers. Step 2: for each pair, on the respondents who rated both, the
    correlation of the underlying bivariate normal that maximises the likelihood of their
    cross-table, all pairs at once. No continuity correction is added to empty cells (psych
    adds none with its default global thresholds either), and a matrix that is not
    positive definite is not smoothed.

    Parameters
    ----------
    wide : respondents as rows, items as columns, levels (NaN where not rated).
    levels : the ordered levels (default: every value that occurs); a level nobody chose
        gives its item a zero-width category, which adds nothing to the likelihood.

    Returns
    -------
    DataFrame: items x items, 1 on the diagonal; NaN for an item with fewer than two levels
    used or a pair nobody rated both of.

    Examples
    --------
    >>> wide = pd.DataFrame({"a": [1, 1, 2, 2, 3, 3, 1, 2], "b": [1, 2, 2, 3, 3, 3, 1, 1]})
    >>> round(float(polychoric_correlation(wide).loc["a", "b"]), 4)  # psych::polychoric: 0.867123
    0.8671
    """
    values = wide.to_numpy(dtype="float64")
    items = list(wide.columns)
    k = len(items)
    levels = np.unique(values[~np.isnan(values)]) if levels is None else np.asarray(levels, dtype="float64")
    c = len(levels)
    result = np.full((k, k), np.nan)
    np.fill_diagonal(result, 1.0)
    if c < 2 or k < 2:
        return pd.DataFrame(result, index=items, columns=items)
    known = np.isnan(values) | np.isin(values, levels)
    if not known.all():
        raise ValueError(f"levels {levels.tolist()} do not include {np.unique(values[~known]).tolist()}")
    codes = np.where(np.isnan(values), -1, np.searchsorted(levels, np.nan_to_num(values)))
    # Step 1: thresholds per item from its own level counts.
    rated = codes >= 0
    item_counts = np.bincount((np.arange(k) * c + codes)[rated], minlength=k * c).reshape(k, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.cumsum(item_counts, axis=1) / item_counts.sum(axis=1, keepdims=True)
    from scipy.special import ndtri

    cuts = np.concatenate([np.full((k, 1), -np.inf), ndtri(np.clip(shares[:, :-1], 0, 1)), np.full((k, 1), np.inf)],
                          axis=1)
    usable = (item_counts > 0).sum(axis=1) >= 2
    # Step 2: every pair's cross-table (bincount over pair x row level x column level).
    first, second = np.triu_indices(k, 1)
    pair_ok = usable[first] & usable[second]
    first, second = first[pair_ok], second[pair_ok]
    n_pairs = len(first)
    x, y = codes[:, first], codes[:, second]
    both = (x >= 0) & (y >= 0)
    cell = (np.arange(n_pairs) * c * c + x * c + y)[both]
    counts = np.bincount(cell, minlength=n_pairs * c * c).reshape(n_pairs, c, c).astype("float64")
    row_cuts, col_cuts = cuts[first], cuts[second]
    # The maximum on a grid brackets it; bisection on the score then narrows the bracket.
    grid = np.concatenate([[-1 + _EDGE], np.linspace(-0.99, 0.99, 199), [1 - _EDGE]])
    likelihood = _pair_terms(np.repeat(grid[:, None], n_pairs, axis=1), row_cuts, col_cuts, counts, score=False)
    best = np.argmax(likelihood, axis=0)
    low = grid[np.maximum(best - 1, 0)]
    high = grid[np.minimum(best + 1, len(grid) - 1)]
    for _ in range(60):  # halving a bracket of width 0.02 60 times leaves it far below double precision
        middle = (low + high) / 2
        rising = _pair_terms(middle, row_cuts, col_cuts, counts, score=True) > 0
        low, high = np.where(rising, middle, low), np.where(rising, high, middle)
    rho = np.where(counts.sum(axis=(1, 2)) > 0, (low + high) / 2, np.nan)
    result[first, second] = result[second, first] = rho
    return pd.DataFrame(result, index=items, columns=items)


def ordinal_alpha(answers: pd.DataFrame, *, items: list[str] | None = None) -> float:
    """Ordinal alpha (Zumbo, Gadermann & Zeisser 2007): alpha of the polychoric correlation
    matrix, ``k / (k - 1) (1 - k / sum(R))``, on respondents who rated every item.

    NaN where fewer than :data:`MIN_RESPONDENTS_FOR_ALPHA` respondents or two items.
    """
    return _ordinal_alpha(respondent_item_matrix(answers, items=items).dropna())


def _ordinal_alpha(complete: pd.DataFrame) -> float:
    if len(complete) < MIN_RESPONDENTS_FOR_ALPHA or complete.shape[1] < 2:
        return np.nan
    correlation = polychoric_correlation(complete).to_numpy()
    return _alpha_from_covariance(correlation) if not np.isnan(correlation).any() else np.nan


# ---------------------------------------------------------------------------------------
# Omega.

def one_factor_loadings(correlation: pd.DataFrame) -> pd.Series:
    """Loadings of a one-factor minimum-residual (minres) model of a correlation matrix:
    those that minimise the squared off-diagonal residuals ``sum_{i<j} (r_ij - l_i l_j)^2``
    (``psych::fa(fm = "minres", nfactors = 1)``). As in psych, no uniqueness falls below
    0.005 (a loading of at most sqrt(0.995)); the sign is set so that the loadings sum to a
    positive number. NaN for fewer than three items (one factor is then not identified).

    Examples
    --------
    >>> r = pd.DataFrame([[1, .42, .56], [.42, 1, .48], [.56, .48, 1]], index=list("abc"), columns=list("abc"))
    >>> one_factor_loadings(r).round(2).tolist()  # three items: exact, l_a = sqrt(r_ab r_ac / r_bc)
    [0.7, 0.6, 0.8]
    """
    from scipy.optimize import least_squares

    r = correlation.to_numpy(dtype="float64")
    k = r.shape[0]
    if k < 3 or np.isnan(r).any():
        return pd.Series(np.nan, index=correlation.index, dtype="float64")
    first, second = np.triu_indices(k, 1)
    # Start from the first principal axis of the matrix with squared multiple correlations on its diagonal.
    reduced = r.copy()
    np.fill_diagonal(reduced, 1 - 1 / np.diag(np.linalg.pinv(r)))
    eigenvalues, eigenvectors = np.linalg.eigh(reduced)
    start = eigenvectors[:, -1] * np.sqrt(max(eigenvalues[-1], 1e-6))
    bound = np.sqrt(0.995)
    start = np.clip(start, -bound * 0.999, bound * 0.999)

    def residuals(loadings):
        return r[first, second] - loadings[first] * loadings[second]

    def jacobian(loadings):
        jac = np.zeros((len(first), k))
        rows = np.arange(len(first))
        jac[rows, first] = -loadings[second]
        jac[rows, second] = -loadings[first]
        return jac

    fit = least_squares(residuals, start, jac=jacobian, bounds=(-bound, bound), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    loadings = fit.x if fit.x.sum() >= 0 else -fit.x
    return pd.Series(loadings, index=correlation.index, dtype="float64")


def omega_total(answers: pd.DataFrame, *, items: list[str] | None = None) -> float:
    """McDonald's omega total from a one-factor minres model of the Pearson correlations,
    on respondents who rated every item: ``1 - sum(1 - l_i^2) / sum(R)`` (the share of
    the total score's variance the common factor accounts for, as ``psych::omega``).

    NaN for fewer than three items or :data:`MIN_RESPONDENTS_FOR_ALPHA` respondents.
    """
    return _omega_total(respondent_item_matrix(answers, items=items).dropna())


def _omega_total(complete: pd.DataFrame) -> float:
    if len(complete) < MIN_RESPONDENTS_FOR_ALPHA or complete.shape[1] < 3:
        return np.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an item that never varies: NaN correlations, NaN omega
        correlation = complete.corr()
    loadings = one_factor_loadings(correlation).to_numpy()
    total = correlation.to_numpy().sum()
    return float(1 - (1 - loadings**2).sum() / total) if total > 0 else np.nan


# ---------------------------------------------------------------------------------------
# One table for a report.

def reliability_table(answers: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Reliability of the whole scale and of each characteristic measured by several items.

    Each row on its own complete cases (respondents who rated every item of that scope),
    so a characteristic's n can exceed the whole scale's.

    Parameters
    ----------
    answers : long survey answers with ``respondent_id``, ``item_id``, ``characteristic_id``
        and ``level`` (NA for "can't rate").

    Returns
    -------
    DataFrame: ``scope`` (``"scale"`` or a characteristic id), ``n_complete``, ``n_items``,
    ``alpha``, ``alpha_ci_low``, ``alpha_ci_high`` (Feldt), ``ordinal_alpha``, ``omega_total``.
    """
    items_of = answers[["characteristic_id", "item_id"]].drop_duplicates()
    scopes = {SCALE: list(dict.fromkeys(answers["item_id"]))}
    for characteristic, items in items_of.groupby("characteristic_id", sort=False)["item_id"]:
        if len(items) >= 2:
            scopes[characteristic] = list(items)
    rows = []
    for scope, items in scopes.items():  # a handful of scopes, each one matrix computation
        complete = respondent_item_matrix(answers, items=items).dropna()
        alpha = cronbach_alpha(answers, items=items, confidence=confidence)
        rows.append({"scope": scope, "n_complete": len(complete), "n_items": len(items), "alpha": alpha["alpha"],
                     "alpha_ci_low": alpha["ci_low"], "alpha_ci_high": alpha["ci_high"],
                     "ordinal_alpha": _ordinal_alpha(complete), "omega_total": _omega_total(complete)})
    return pd.DataFrame(rows, columns=["scope", "n_complete", "n_items", "alpha", "alpha_ci_low", "alpha_ci_high",
                                       "ordinal_alpha", "omega_total"])
