"""Is aggregating staff answers to the microsystem justified: do staff agree within a unit, and do units differ?

Within-group agreement follows the conventions of Bliese's R package ``multilevel``:
rwg and rwg(j) (James, Demaree & Wolf 1984) from sample variances, the observed variance
truncated at the null variance (so they are never negative), against the null distribution
the study's :class:`~workbench.vocabulary.AgreementPolicy` declares (uniform,
``sigma_EU^2 = (A^2 - 1) / 12``, by default; LeBreton & Senter's skewed and triangular
nulls; or a custom variance); beside them Lindell's r*wg(j), awg, AD(M) and AD(Md), and the
significance of rwg against random answering by simulation (Dunlap et al. 2003). No value
for a group with fewer than two ratings. ICC(1) and ICC(2) come from a
one-way ANOVA of answers on microsystem; with unequal group sizes the group size in
ICC(1) is the mean group size N/J by default (as ``multilevel::ICC1``), or the
ANOVA-adjusted n0 when asked for; each comes with its F test, an F-based interval and the
design effect. Random-group resampling (:func:`random_groups`, as
``multilevel::graph.ran.mean``) sets the actual unit means beside those of pseudo-units of
the same sizes. The reliability of a scale is another question: :mod:`workbench.reliability`.

All functions are vectorised over groups: no Python loop runs over microsystems.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from workbench.vocabulary import SHARED, TOO_FEW, AgreementPolicy, DisclosurePolicy, LevelScale

__all__ = [
    "DEFAULT_AGREEMENT_POLICY", "DEFAULT_DISCLOSURE_POLICY", "DEFAULT_SEED", "N_DRAWS", "WITHIN_GROUP_COLUMNS",
    "agreement_flags", "average_deviation", "awg", "characteristic_agreement", "icc_by_item", "icc_oneway",
    "random_groups", "rwg", "rwg_critical_values", "rwg_j", "rwg_significance", "shared_under_each_null",
    "uniform_null_variance", "within_group_agreement",
]

# The policies a caller that names none gets (both frozen, so one shared instance is safe).
DEFAULT_AGREEMENT_POLICY = AgreementPolicy()
DEFAULT_DISCLOSURE_POLICY = DisclosurePolicy()
# Simulated nulls of rwg: 10,000 random groups per group size (multilevel::rwg.sim asks for 10,000
# or more; the p of a group near 0.05 is then within about 0.005), from a fixed seed so that a
# report gives the same p on every run.
N_DRAWS = 10_000
DEFAULT_SEED = 2003


def uniform_null_variance(n_levels: int) -> float:
    """Variance of a discrete uniform distribution over ``n_levels`` ordered options."""
    if n_levels < 2:
        raise ValueError(f"n_levels must be at least 2, got {n_levels}")
    return (n_levels**2 - 1) / 12


def _rated(answers: pd.DataFrame) -> pd.DataFrame:
    rated = answers[answers["level"].notna()]
    return rated.assign(level=rated["level"].astype("float64"))


def _text_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """A table keyed by columns of the answers, which are categories of text (see
    :mod:`workbench.schemas`), with those keys as text: what grouping text answers gave."""
    coded = {c: "str" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.astype(coded) if coded else frame


def rwg(
    answers: pd.DataFrame,
    *,
    by: tuple[str, ...] = ("microsystem_id", "item_id"),
    n_levels: int = 3,
    null_variance: float | None = None,
) -> pd.DataFrame:
    """Within-group agreement on a single item, rwg = 1 - s^2 / sigma_E^2.

    Parameters
    ----------
    answers : long survey answers; only answers with a level count ("can't rate" is missing).
    by : grouping columns (default microsystem x item).
    n_levels : number of response levels of the item (3 for the self-assessment).
    null_variance : sigma_E^2, the variance of the null distribution
        (:meth:`AgreementPolicy.null_variance`); default the uniform null on ``n_levels``.

    Returns
    -------
    DataFrame: the ``by`` columns, ``n_rated``, ``variance`` (sample, n-1), ``rwg``
    (NaN where fewer than two rated).

    Examples
    --------
    >>> a = pd.DataFrame({"microsystem_id": ["A"] * 4, "item_id": "m", "level": pd.array([2, 2, 3, 3], dtype="Int64")})
    >>> round(float(rwg(a)["rwg"].iloc[0]), 3)  # s^2 = 1/3, sigma_EU^2 = 8/12
    0.5
    >>> round(float(rwg(a, null_variance=0.45)["rwg"].iloc[0]), 3)  # the slightly skewed 3-level null
    0.259
    """
    null = uniform_null_variance(n_levels) if null_variance is None else float(null_variance)
    grouped = _rated(answers).groupby(list(by), sort=False)["level"]
    table = _text_keys(pd.DataFrame({"n_rated": grouped.size(), "variance": grouped.var(ddof=1)}).reset_index())
    table["rwg"] = 1 - table["variance"].clip(upper=null) / null
    table.loc[table["n_rated"] < 2, ["variance", "rwg"]] = np.nan
    return table


def rwg_j(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    group: str = "microsystem_id",
    n_levels: int = 3,
    missing: Literal["listwise", "available"] = "listwise",
    null_variance: float | None = None,
) -> pd.DataFrame:
    """Within-group agreement on a multi-item scale: rwg(j) (James, Demaree & Wolf 1984) and
    Lindell's r*wg(j) (Lindell, Brandt & Whitney 1999).

    ``rwg(j) = J (1 - s̄^2/σ^2) / (J (1 - s̄^2/σ^2) + s̄^2/σ^2)``, with s̄^2 the mean of
    the J item variances within the group (truncated at σ^2, as ``multilevel::rwg.j``);
    it rises with J alone (Spearman-Brown). ``r*wg(j) = 1 - s̄^2/σ^2`` does not, and is
    not truncated: below 0, staff differ more than random answering would make them
    (e.g. split into camps), which is reported as it is (as ``multilevel::rwg.j.lindell``).

    Parameters
    ----------
    items : the scale's items (default: every item in ``answers``).
    missing : ``"listwise"`` keeps only respondents who rated every item (as
        ``multilevel::rwg.j``); ``"available"`` uses each item's own ratings.
    null_variance : σ^2 (:meth:`AgreementPolicy.null_variance`); default the uniform null
        on ``n_levels``.

    Returns
    -------
    DataFrame: ``group``, ``n_respondents`` (those used), ``n_items``, ``mean_item_variance``
    (observed, not truncated), ``rwg_j``, ``rwg_star_j``.
    """
    null = uniform_null_variance(n_levels) if null_variance is None else float(null_variance)
    if missing not in ("listwise", "available"):
        raise ValueError(f"missing must be 'listwise' or 'available', got {missing!r}")
    items = list(pd.unique(answers["item_id"])) if items is None else list(items)
    cells = _item_cells(answers, items, group, listwise=missing == "listwise")
    mean_variance = _mean_item_variance(cells.variance)
    table = pd.DataFrame({
        group: cells.groups, "n_respondents": cells.people, "n_items": len(items), "mean_item_variance": mean_variance,
        "rwg_j": _rwg_from_variance(mean_variance, null, len(items)), "rwg_star_j": 1 - mean_variance / null,
    })
    table.loc[table["n_respondents"] < 2, ["mean_item_variance", "rwg_j", "rwg_star_j"]] = np.nan
    return table


class _Cells(NamedTuple):
    """Answers of each group to each item, as (groups x items) arrays."""

    groups: pd.Index
    people: np.ndarray  # respondents used per group
    count: np.ndarray
    total: np.ndarray  # sum of levels
    mean: np.ndarray
    variance: np.ndarray  # sample variance (n - 1); NaN below two answers
    ad_mean: np.ndarray  # mean absolute deviation from the cell mean
    ad_median: np.ndarray  # ... from the cell median


def _item_cells(answers: pd.DataFrame, items: list[str], group: str, *, listwise: bool) -> _Cells:
    """Counts, means, variances and absolute deviations per group x item, from bincount and one
    grouped median over all cells at once (no loop over groups). Each respondent's first
    answer to an item counts; ``listwise`` keeps only respondents who rated every item."""
    rated = _rated(answers[answers["item_id"].isin(items)]).drop_duplicates(["respondent_id", "item_id"])
    respondent, _ = pd.factorize(rated["respondent_id"])
    if listwise:  # only respondents who rated every item of the scale
        complete = np.bincount(respondent, minlength=respondent.max() + 1 if len(respondent) else 0) == len(items)
        rated = rated[complete[respondent]]
        respondent = respondent[complete[respondent]]
    group_codes, groups = pd.factorize(rated[group])
    if isinstance(groups.dtype, pd.CategoricalDtype):  # the answers' categories: the groups as text
        groups = groups.astype("str")
    item_codes = pd.Index(items).get_indexer(rated["item_id"])
    n_groups, j = len(groups), len(items)
    size = n_groups * j
    values = rated["level"].to_numpy(dtype="float64")
    cell = group_codes * j + item_codes
    count = np.bincount(cell, minlength=size).astype("float64")
    total = np.bincount(cell, weights=values, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        # Deviations from each cell's own mean, not sums of squares, so nothing cancels.
        squares = np.bincount(cell, weights=(values - mean[cell]) ** 2, minlength=size)
        variance = np.where(count >= 2, squares / (count - 1), np.nan)
        median = pd.Series(values).groupby(cell).median().reindex(range(size)).to_numpy()
        ad_mean = np.bincount(cell, weights=np.abs(values - mean[cell]), minlength=size) / count
        ad_median = np.bincount(cell, weights=np.abs(values - median[cell]), minlength=size) / count
    people = np.zeros(n_groups, dtype="int64")
    if len(respondent):
        first = pd.Series(group_codes).groupby(respondent).first()  # each respondent's group
        people = np.bincount(first.to_numpy(), minlength=n_groups)
    shape = (n_groups, j)
    return _Cells(groups, people, *(a.reshape(shape) for a in (count, total, mean, variance, ad_mean, ad_median)))


def _mean_item_variance(variance: np.ndarray) -> np.ndarray:
    """Mean over items (columns) of the known item variances; NaN where none is known."""
    known = ~np.isnan(variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known, variance, 0).sum(axis=1) / known.sum(axis=1)


def _rwg_from_variance(mean_variance, null: float, n_items) -> np.ndarray:
    """rwg (one item) or rwg(j) from the mean item variance, truncated at the null variance."""
    ratio = np.minimum(mean_variance, null) / null
    j = np.asarray(n_items, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(j == 1, 1 - ratio, j * (1 - ratio) / (j * (1 - ratio) + ratio))


def _draw_spreads(n: int, n_items: int, values: np.ndarray, probabilities: np.ndarray, n_draws: int,
                  seed: int) -> np.ndarray:
    """Sorted spreads (summed over items of n * sum(x^2) - (sum x)^2) of ``n_draws`` simulated
    groups of ``n`` people answering ``n_items`` independent items at random from the null.

    Seeded by (seed, n, items), so a group size's null is the same whichever other sizes a
    study has; drawn in blocks of about a million answers to bound memory.
    """
    rng = np.random.default_rng([seed, n, n_items])
    block = max(1, 1_000_000 // (n * n_items))
    parts = []
    for start in range(0, n_draws, block):  # blocks of simulated groups, not the study's units
        draws = values[rng.choice(len(values), size=(min(block, n_draws - start), n, n_items), p=probabilities)]
        parts.append((n * (draws**2).sum(axis=1) - draws.sum(axis=1) ** 2).sum(axis=1))
    return np.sort(np.concatenate(parts))


def rwg_significance(
    group_sizes,
    mean_item_variances,
    *,
    n_items=1,
    scale: LevelScale,
    policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
    n_draws: int = N_DRAWS,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Is a group's agreement more than random answering gives? (Dunlap, Burke & Smith-Crowe
    2003; ``multilevel::rwg.sim`` and ``rwg.j.sim``.)

    For each distinct group size (and number of items), ``n_draws`` groups of that size answer
    the items independently at random from the policy's null on ``scale``; their rwg / rwg(j)
    values are the null distribution. rwg, rwg(j) and r*wg(j) all fall as the mean item
    variance rises, so one p serves all three: the share of random groups whose mean item
    variance is at most the group's (ties count as at least as extreme). The critical value is
    the smallest index the simulation reached that random groups reach at most ``alpha`` of the
    time (``rwg.95`` of ``multilevel``); NaN where even full agreement is that common (e.g. three
    people on three levels: 1 in 9 random groups agree fully). Vectorised over groups: one
    simulation per distinct size, seeded, so the same data give the same p on every run.

    Parameters
    ----------
    group_sizes : people per group (listwise: who rated every item).
    mean_item_variances : the groups' mean item variance (sample, n-1); whole-number levels.
    n_items : items per group (one number, or one per group).
    scale, policy : the levels and the null they are drawn from; a custom ``null_variance``
        names no distribution, so its p and critical values are NaN.

    Returns
    -------
    DataFrame, one row per group: ``group_size``, ``n_items``, ``p``, ``significant``
    (``p <= alpha``; NA where p is), ``rwg_critical`` (rwg or rwg(j)), ``rwg_star_critical``.

    Examples
    --------
    >>> scale = LevelScale.from_values([1, 2, 3])
    >>> rwg_significance([5, 5], [0.0, 0.3], scale=scale)[["p", "significant"]].round(2).values.tolist()
    [[0.01, True], [0.26, False]]
    """
    sizes = np.asarray(group_sizes, dtype="float64")
    variances = np.asarray(mean_item_variances, dtype="float64")
    items = np.broadcast_to(np.asarray(n_items, dtype="float64"), sizes.shape)
    p = np.full(sizes.shape, np.nan)
    critical = np.full(sizes.shape, np.nan)
    usable = (sizes >= 2) & (items >= 1)
    if policy.custom_variance is None and usable.any():
        values = np.asarray(scale.values, dtype="int64")
        probabilities = np.array([float(share) for share in policy.null_probabilities(scale)])
        pairs = np.unique(np.column_stack([sizes[usable], items[usable]]), axis=0)
        for n, j in pairs.astype("int64"):  # one simulation per distinct group size, not per group
            draws = _draw_spreads(int(n), int(j), values, probabilities, n_draws, seed)
            rows = usable & (sizes == n) & (items == j)
            scaling = j * n * (n - 1)
            # Back to the whole-number spread n * sum(x^2) - (sum x)^2 summed over items, so that a
            # group ties exactly with the simulated groups that answered alike.
            observed = np.rint(variances[rows] * scaling)
            with np.errstate(invalid="ignore"):
                p[rows] = np.where(np.isnan(observed), np.nan,
                                   np.searchsorted(draws, observed, side="right") / n_draws)
            reached = np.unique(draws)
            rare = reached[np.searchsorted(draws, reached, side="right") / n_draws <= alpha]
            critical[rows] = rare[-1] / scaling if len(rare) else np.nan
    null = policy.null_variance(scale)
    significant = pd.array(np.where(np.isnan(p), None, p <= alpha), dtype="boolean")
    return pd.DataFrame({
        "group_size": sizes, "n_items": items, "p": p, "significant": significant,
        "rwg_critical": _rwg_from_variance(critical, null, items), "rwg_star_critical": 1 - critical / null,
    })


def rwg_critical_values(
    group_sizes,
    *,
    n_items: int = 1,
    scale: LevelScale,
    policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
    n_draws: int = N_DRAWS,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The rwg (one item) or rwg(j) (``n_items``) that random answering from the policy's null
    reaches at most ``alpha`` of the time, per group size: ``rwg.95`` of ``multilevel::rwg.sim``
    / ``rwg.j.sim`` (Dunlap, Burke & Smith-Crowe 2003), with r*wg(j)'s beside it. See
    :func:`rwg_significance`.

    Returns
    -------
    DataFrame, one row per distinct size: ``group_size``, ``n_items``, ``rwg_critical``,
    ``rwg_star_critical`` (NaN where no value is that rare).

    Examples
    --------
    >>> rwg_critical_values([3, 5, 10], scale=LevelScale.from_values([1, 2, 3]))["rwg_critical"].round(3).tolist()
    [nan, 1.0, 0.517]
    """
    sizes = np.unique(np.asarray(group_sizes, dtype="int64"))
    table = rwg_significance(sizes, np.zeros(len(sizes)), n_items=n_items, scale=scale, policy=policy,
                             n_draws=n_draws, seed=seed, alpha=alpha)
    return table.assign(group_size=sizes)[["group_size", "n_items", "rwg_critical", "rwg_star_critical"]]


def awg(
    answers: pd.DataFrame,
    *,
    scale: LevelScale,
    items: list[str] | None = None,
    group: str = "microsystem_id",
) -> pd.DataFrame:
    """Brown & Hauenstein's (2005) awg: one minus the observed variance over the largest
    variance possible for a group of that size and mean on the scale [L, H],
    ``awg = 1 - 2 s^2 / (((H + L) M - M^2 - H L) k / (k - 1))`` (as ``multilevel::awg``).

    Unlike rwg it needs no null distribution and does not mistake a mean near an end of the
    scale (where little variance is possible) for agreement. It runs from -1 (staff split
    between the two ends) to 1; it is left undefined (NaN) where the mean lies within
    (H - L) / k of an end, 1 where everyone chose the same end level, and NaN for one rating.
    Over several items it is the mean of the items' awg (those defined), on respondents who
    rated every item.

    Returns
    -------
    DataFrame: ``group``, ``n_respondents``, ``n_items``, ``awg``.

    Examples
    --------
    >>> a = pd.DataFrame({"respondent_id": list("pqrs"), "microsystem_id": "A", "item_id": "m",
    ...                   "level": pd.array([1, 2, 2, 2], dtype="Int64")})
    >>> float(awg(a, scale=LevelScale.from_values([1, 2, 3]))["awg"].iloc[0])  # s^2 = 1/4, at most 5/4 at mean 1.75
    0.6
    """
    items = list(pd.unique(answers["item_id"])) if items is None else list(items)
    cells = _item_cells(answers, items, group, listwise=True)
    table = pd.DataFrame({group: cells.groups, "n_respondents": cells.people, "n_items": len(items),
                          "awg": _nanmean_rows(_awg_cells(cells, scale))})
    table.loc[table["n_respondents"] < 2, "awg"] = np.nan
    return table


def _awg_cells(cells: _Cells, scale: LevelScale) -> np.ndarray:
    """awg per group x item (see :func:`awg`); bounds are tested on whole-number sums, exactly."""
    low, high, k, total = float(scale.low), float(scale.high), cells.count, cells.total
    with np.errstate(invalid="ignore", divide="ignore"):
        widest = ((high + low) * cells.mean - cells.mean**2 - high * low) * k / (k - 1)
        value = 1 - 2 * cells.variance / widest
        near_an_end = (total < low * (k - 1) + high) | (total > high * (k - 1) + low)
        value = np.where(near_an_end, np.nan, value)
        value = np.where((total == high * k) | (total == low * k), 1.0, value)
    return np.where(k >= 2, value, np.nan)


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    known = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known, values, 0).sum(axis=1) / known.sum(axis=1)


def average_deviation(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    group: str = "microsystem_id",
    center: Literal["mean", "median"] = "mean",
) -> pd.DataFrame:
    """The average deviation index AD(M) or AD(Md) (Burke, Finkelstein & Dusig 1999): the mean
    absolute difference between each rating and the group's mean (or median) on the item, in
    the scale's own units; over several items the mean of the items' AD, on respondents who
    rated every item (as ``multilevel::ad.m``). 0 is full agreement; Burke & Dunlap (2002)
    take AD at most c / 6 (c levels: 0.5 on three levels) as agreement.

    Returns
    -------
    DataFrame: ``group``, ``n_respondents``, ``n_items``, ``ad`` (NaN for fewer than two).

    Examples
    --------
    >>> a = pd.DataFrame({"respondent_id": list("pqrs"), "microsystem_id": "A", "item_id": "m",
    ...                   "level": pd.array([1, 2, 2, 2], dtype="Int64")})
    >>> float(average_deviation(a)["ad"].iloc[0]), float(average_deviation(a, center="median")["ad"].iloc[0])
    (0.375, 0.25)
    """
    if center not in ("mean", "median"):
        raise ValueError(f"center must be 'mean' or 'median', got {center!r}")
    items = list(pd.unique(answers["item_id"])) if items is None else list(items)
    cells = _item_cells(answers, items, group, listwise=True)
    deviation = cells.ad_mean if center == "mean" else cells.ad_median
    table = pd.DataFrame({group: cells.groups, "n_respondents": cells.people, "n_items": len(items),
                          "ad": _nanmean_rows(deviation)})
    table.loc[table["n_respondents"] < 2, "ad"] = np.nan
    return table


WITHIN_GROUP_COLUMNS = (
    "characteristic_id", "item_id", "scope", "n_items", "n_rated", "mean_item_variance", "null", "null_variance",
    "rwg", "rwg_star", "rwg_critical", "rwg_star_critical", "rwg_p", "rwg_significant", "awg", "ad_mean",
    "ad_median", "ad_cutoff", "index", "agreement_index", "agreement",
)


def within_group_agreement(
    answers: pd.DataFrame,
    *,
    scale: LevelScale,
    policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
    disclosure: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
    group: str = "microsystem_id",
    n_draws: int = N_DRAWS,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every within-group agreement index, per unit x characteristic and per unit x item, in one
    tidy table (for the survey report; figures from fewer than the disclosure rule's people are
    for the caller to hide, as every view does).

    A characteristic's row rests on the respondents who rated all its items (listwise, as
    ``multilevel``); an item's row on everyone who rated the item. Vectorised over units: per
    characteristic one pass of bincounts over the answers, and one simulated null per distinct
    group size (:func:`rwg_significance`).

    Returns
    -------
    DataFrame: ``group``, ``characteristic_id``, ``item_id`` (NA on characteristic rows),
    ``scope`` (``"characteristic"`` / ``"item"``), ``n_items``, ``n_rated`` (people the row
    rests on), ``mean_item_variance``, ``null`` (the policy's null by name), ``null_variance``,
    ``rwg`` (rwg for one item, rwg(j) for several), ``rwg_star`` (Lindell's r*wg(j); for one
    item 1 - s^2 / sigma^2 untruncated), ``rwg_critical`` / ``rwg_star_critical`` and ``rwg_p`` /
    ``rwg_significant`` (against random answering from the null), ``awg``, ``ad_mean`` (AD(M)),
    ``ad_median`` (AD(Md)), ``ad_cutoff`` (c / 6), ``index`` (the index the verdict reads:
    ``rwg`` / ``rwg(j)`` / ``r*wg(j)``), ``agreement_index`` (its value), ``agreement`` (the
    policy's verdict).
    """
    null = policy.null_variance(scale)
    items_of = answers[["characteristic_id", "item_id"]].dropna().drop_duplicates()
    parts = []
    everything = _item_cells(answers, list(items_of["item_id"]), group, listwise=False)
    if len(everything.groups):
        n_groups, n_all = everything.count.shape
        rated = everything.count.ravel() > 0
        parts.append(_within_rows(everything, group, np.repeat(np.arange(n_groups), n_all)[rated],
                                  np.tile(items_of["characteristic_id"].to_numpy(), n_groups)[rated],
                                  np.tile(items_of["item_id"].to_numpy(), n_groups)[rated], scale, null,
                                  flat=rated))
    for characteristic, items in items_of.groupby("characteristic_id", sort=False)["item_id"]:
        cells = _item_cells(answers, list(items), group, listwise=True)
        parts.append(_within_rows(cells, group, np.arange(len(cells.groups)), characteristic, None, scale, null))
    columns = [group, *WITHIN_GROUP_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    significance = rwg_significance(table["n_rated"], table["mean_item_variance"], n_items=table["n_items"],
                                    scale=scale, policy=policy, n_draws=n_draws, seed=seed, alpha=alpha)
    table["rwg_p"] = significance["p"].to_numpy()
    table["rwg_significant"] = significance["significant"].array
    table["rwg_critical"] = significance["rwg_critical"].to_numpy()
    table["rwg_star_critical"] = significance["rwg_star_critical"].to_numpy()
    several = table["n_items"].to_numpy() > 1
    table["index"] = np.where(several, policy.index_label(2), "rwg")
    table["agreement_index"] = np.where(several & (policy.index == "rwg_star"), table["rwg_star"], table["rwg"])
    table["agreement"] = policy.verdict(table["agreement_index"], table["n_rated"], disclosure)
    table = table.assign(null=policy.null_name, null_variance=null, ad_cutoff=scale.n / 6)
    order = table["scope"].map({"characteristic": 0, "item": 1})
    table = table.assign(_order=order).sort_values([group, "characteristic_id", "_order", "item_id"], kind="stable",
                                                   na_position="first")
    return _text_keys(table[columns].reset_index(drop=True))


def _within_rows(cells: _Cells, group: str, rows, characteristic, item, scale: LevelScale, null: float,
                 flat=None) -> pd.DataFrame:
    """Rows of :func:`within_group_agreement` from group x item cells: one per group over all
    of ``cells``' items (``item`` None), or, with ``flat``, one per rated cell (single items)."""
    if flat is None:
        n_items = cells.count.shape[1]
        n_rated = cells.people
        variance = _mean_item_variance(cells.variance)
        awg_value = _nanmean_rows(_awg_cells(cells, scale))
        ad_mean, ad_median = cells.ad_mean.mean(axis=1), cells.ad_median.mean(axis=1)
        scope = "characteristic"
    else:
        n_items = 1
        n_rated = cells.count.ravel()[flat].astype("int64")
        variance = cells.variance.ravel()[flat]
        awg_value = _awg_cells(cells, scale).ravel()[flat]
        ad_mean, ad_median = cells.ad_mean.ravel()[flat], cells.ad_median.ravel()[flat]
        scope = "item"
    table = pd.DataFrame({
        group: cells.groups[rows], "characteristic_id": characteristic, "item_id": item, "scope": scope,
        "n_items": n_items, "n_rated": n_rated, "mean_item_variance": variance,
        "rwg": _rwg_from_variance(variance, null, n_items), "rwg_star": 1 - variance / null, "awg": awg_value,
        "ad_mean": ad_mean, "ad_median": ad_median,
    })
    table.loc[table["n_rated"] < 2, ["mean_item_variance", "rwg", "rwg_star", "awg", "ad_mean", "ad_median"]] = np.nan
    return table


def icc_oneway(
    data: pd.DataFrame,
    *,
    group: str,
    value: str,
    group_size: Literal["mean", "adjusted"] = "mean",
    confidence: float = 0.95,
) -> pd.Series:
    """ICC(1), ICC(2) with their F test and confidence intervals, the design effect and
    eta-squared, from a one-way ANOVA of ``value`` on ``group``.

    ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW): the share of variance due to the group,
    or the expected correlation of two members' answers. ICC(2) = (MSB - MSW) / MSB:
    the reliability of group means. Neither is truncated: a negative value says the
    groups differ less than chance would make them. Rows with a missing ``value`` are
    left out.

    ``group_size``: ``"mean"`` uses k = N / J (as ``multilevel::ICC1``); ``"adjusted"``
    uses k0 = (N - Σ n_j^2 / N) / (J - 1), the ANOVA estimator for unequal groups.

    The F test (``F``, ``p``) asks whether the groups differ at all. The intervals are the
    F-based ones of Shrout & Fleiss (1979) and McGraw & Wong (1996, case 1), with
    F_L = F / F_{1-a/2}(J-1, N-J) and F_U = F · F_{1-a/2}(N-J, J-1): ICC(1) in
    [(F_L - 1) / (F_L + k - 1), (F_U - 1) / (F_U + k - 1)], ICC(2) in [1 - 1/F_L, 1 - 1/F_U].
    They are exact for equal groups (``psych::ICC``'s ICC1 and ICC1k bounds); with unequal
    groups they use the same k as the estimate, an approximation that is closest with
    ``group_size="adjusted"`` (k0, Searle 1971; Donner 1986). The design effect (Kish 1965)
    is 1 + (N / J - 1) ICC(1), with the mean group size whichever k the ICC used: how many
    times larger the variance of a mean is than if the N answers were independent.

    Returns
    -------
    Series: ``n``, ``n_groups``, ``group_size``, ``ms_between``, ``ms_within``, ``F``,
    ``df_between``, ``df_within``, ``p``, ``icc1``, ``icc1_low``, ``icc1_high``, ``icc2``,
    ``icc2_low``, ``icc2_high``, ``design_effect``, ``eta_squared``.

    Examples
    --------
    >>> data = pd.DataFrame({"unit": list("AAABBBCCC"), "score": [1, 2, 1, 2, 3, 3, 2, 2, 3]})
    >>> icc_oneway(data, group="unit", value="score")[["icc1", "icc1_low", "design_effect"]].round(3).tolist()
    [0.526, -0.155, 2.053]
    """
    frame = data[[group, value]].dropna()
    result = _oneway_anova(frame[value].to_numpy(dtype="float64"), np.zeros(len(frame), dtype="int64"), 1,
                           pd.factorize(frame[group])[0], group_size, confidence).iloc[0]
    if not result["n_groups"] >= 2 or not result["n"] > result["n_groups"]:
        raise ValueError(f"an ICC needs at least two groups and more answers than groups; "
                         f"got {int(result['n'])} answers in {int(result['n_groups'])} groups")
    return result


def icc_by_item(
    answers: pd.DataFrame,
    *,
    group: str = "microsystem_id",
    group_size: Literal["mean", "adjusted"] = "mean",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`icc_oneway` for each item: do microsystems differ more than their staff do?

    All items in one pass over the answers. An item with too few answers for an ICC
    (fewer than two groups, or no more answers than groups) keeps its row, with its
    counts and NaN statistics.
    """
    rated = _rated(answers)
    rated = rated[rated[group].notna() & rated["item_id"].notna()]  # as groupby would: no group, no place in the ANOVA
    # Items in the order the answers give them (the instrument's, respondent by respondent), not the order of
    # their first rated answer, which depends on who happened to answer "can't rate" first.
    # (on codes: a million answers' items are never turned into text)
    first_index, first_items = pd.factorize(rated["item_id"])
    appearance = {str(item): place for place, item in enumerate(pd.unique(answers["item_id"]))}
    order = np.argsort([appearance[str(item)] for item in first_items], kind="stable")
    items = pd.Index(np.asarray(first_items, dtype=object)[order])
    item_index = np.argsort(order)[first_index]
    table = _oneway_anova(rated["level"].to_numpy(dtype="float64"), item_index, len(items),
                          pd.factorize(rated[group])[0], group_size, confidence)
    too_few = (table["n_groups"] < 2) | (table["n"] <= table["n_groups"])
    table.loc[too_few, [c for c in table.columns if c not in ("n", "n_groups")]] = np.nan
    return table.assign(item_id=list(items))[["item_id", *table.columns]]


def _oneway_anova(
    values: np.ndarray, part: np.ndarray, n_parts: int, group: np.ndarray, group_size: str, confidence: float = 0.95
) -> pd.DataFrame:
    """One-way ANOVA of ``values`` on ``group`` within each of ``n_parts`` parts (e.g. items),
    from counts and sums per part x group (bincount): one row of statistics per part, with
    the intervals and design effect :func:`icc_oneway` describes."""
    from scipy.stats import f as f_distribution  # here, not at import: scipy.stats costs half a second of start-up

    if group_size not in ("mean", "adjusted"):
        raise ValueError(f"group_size must be 'mean' or 'adjusted', got {group_size!r}")
    n_groups = int(group.max()) + 1 if len(group) else 0
    cell = part * n_groups + group
    cells = n_parts * n_groups
    cell_n = np.bincount(cell, minlength=cells).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_mean = np.bincount(cell, weights=values, minlength=cells) / cell_n
        n = np.bincount(part, minlength=n_parts).astype("float64")
        grand = np.bincount(part, weights=values, minlength=n_parts) / n
        # Deviations from each cell's own mean, not sums of squares, so nothing cancels.
        ss_within = np.bincount(part, weights=(values - cell_mean[cell]) ** 2, minlength=n_parts)
        sizes = cell_n.reshape(n_parts, n_groups)
        ss_between = np.nansum(sizes * (cell_mean.reshape(n_parts, n_groups) - grand[:, None]) ** 2, axis=1)
        j = (sizes > 0).sum(axis=1).astype("float64")
        df_between, df_within = j - 1, n - j
        ms_between, ms_within = ss_between / df_between, ss_within / df_within
        k = n / j if group_size == "mean" else (n - (sizes**2).sum(axis=1) / n) / (j - 1)
        f = _ratio(ms_between, ms_within)
        icc1 = _ratio(ms_between - ms_within, ms_between + (k - 1) * ms_within)
        icc2 = np.where(ms_between > 0, (ms_between - ms_within) / ms_between, np.nan)
        eta_squared = np.where(ss_between + ss_within > 0, ss_between / (ss_between + ss_within), np.nan)
        # F-based bounds (Shrout & Fleiss 1979; McGraw & Wong 1996, case 1): F scaled by the F quantiles.
        tail = (1 - confidence) / 2
        f_low = f / f_distribution.ppf(1 - tail, df_between, df_within)
        f_high = f * f_distribution.ppf(1 - tail, df_within, df_between)
        icc1_low, icc1_high = (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1)
        icc2_low, icc2_high = 1 - 1 / f_low, 1 - 1 / f_high
        # Groups that never vary inside (F infinite) agree perfectly: the bounds are 1, not inf / inf.
        icc1_low = np.where(np.isinf(f_low), 1.0, icc1_low)
        icc1_high = np.where(np.isinf(f_high), 1.0, icc1_high)
        design_effect = 1 + (n / j - 1) * icc1  # Kish: the mean group size, whichever k the ICC used
    return pd.DataFrame({
        "n": n.astype("int64"), "n_groups": j.astype("int64"), "group_size": k,
        "ms_between": ms_between, "ms_within": ms_within,
        "F": f, "df_between": df_between, "df_within": df_within, "p": f_distribution.sf(f, df_between, df_within),
        "icc1": icc1, "icc1_low": icc1_low, "icc1_high": icc1_high, "icc2": icc2, "icc2_low": icc2_low,
        "icc2_high": icc2_high, "design_effect": design_effect, "eta_squared": eta_squared,
    })


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN when nothing varies (0 / 0), inf when only the numerator does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator == 0, np.where(numerator == 0, np.nan, np.inf), np.asarray(numerator) / denominator)


def random_groups(
    data: pd.DataFrame,
    *,
    group: str,
    value: str,
    replicates: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Random-group resampling (Bliese 2000; ``multilevel::graph.ran.mean``): the actual
    group means, sorted, beside those of pseudo-groups of the same sizes formed by shuffling
    people among the groups, ``replicates`` times.

    Each replicate's pseudo-group means are sorted too, and averaged rank by rank: the
    pseudo-means are how far apart group means fall by chance alone. Actual means that
    spread beyond the band (the ``confidence`` quantiles of each rank, as ``bootci = TRUE``)
    say that the groups differ more than chance makes them, the case ICC(1) > 0 makes in
    one number. Rows with a missing ``group`` or ``value`` are left out. Vectorised: one
    shuffle of all values per replicate (numpy's ``permuted``) and group sums by bincount.

    Returns
    -------
    DataFrame, one row per rank (smallest actual mean first): ``rank``, ``group`` (the
    actual group at that rank), ``n`` (its size), ``mean`` (its mean), ``pseudo_mean``,
    ``pseudo_low``, ``pseudo_high``; ``attrs``: ``replicates``, ``confidence``, ``grand_mean``.

    Examples
    --------
    >>> data = pd.DataFrame({"unit": list("AAABBBCCC"), "score": [1, 1, 1, 2, 2, 2, 3, 3, 3]})
    >>> table = random_groups(data, group="unit", value="score", replicates=200)
    >>> table["mean"].tolist()
    [1.0, 2.0, 3.0]
    >>> bool(table["pseudo_mean"].iloc[0] > 1 and table["pseudo_mean"].iloc[-1] < 3)  # chance spreads them less
    True
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    frame = data[[group, value]].dropna()
    codes, groups = pd.factorize(frame[group])
    values = frame[value].to_numpy(dtype="float64")
    n_groups = len(groups)
    sizes = np.bincount(codes, minlength=n_groups).astype("float64")
    actual = np.bincount(codes, weights=values, minlength=n_groups) / sizes if n_groups else np.zeros(0)
    rng = np.random.default_rng(seed)
    pseudo = np.empty((replicates, n_groups))
    # Replicates in chunks of about two million values, so memory stays bounded for large studies.
    chunk = max(1, 2_000_000 // max(1, len(values)))
    for start in range(0, replicates, chunk):
        m = min(chunk, replicates - start)
        shuffled = rng.permuted(np.tile(values, (m, 1)), axis=1)  # each row: the people dealt anew to the groups
        cells = (np.arange(m)[:, None] * n_groups + codes[None, :]).ravel()
        sums = np.bincount(cells, weights=shuffled.ravel(), minlength=m * n_groups).reshape(m, n_groups)
        pseudo[start:start + m] = np.sort(sums / sizes, axis=1)
    order = np.argsort(actual, kind="stable")
    tail = (1 - confidence) / 2
    low, high = np.quantile(pseudo, [tail, 1 - tail], axis=0) if n_groups else (np.zeros(0), np.zeros(0))
    table = pd.DataFrame({
        "rank": np.arange(1, n_groups + 1), "group": np.asarray(groups)[order], "n": sizes[order].astype("int64"),
        "mean": actual[order], "pseudo_mean": pseudo.mean(axis=0), "pseudo_low": low, "pseudo_high": high,
    })
    table.attrs.update(replicates=replicates, confidence=confidence,
                       grand_mean=float(values.mean()) if len(values) else np.nan)
    return table


def agreement_flags(table: pd.DataFrame, *, column: str = "rwg", policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
                    disclosure: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY) -> pd.DataFrame:
    """Mark each row ``agreement`` with the policy's verdict (:meth:`AgreementPolicy.verdict`):
    ``"shared"``, ``"not shared"`` (``column`` below the threshold) or ``"too few"`` (fewer
    people than the disclosure rule allows a figure for).

    Examples
    --------
    >>> table = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "n_rated": [8, 8, 3], "rwg": [0.9, 0.4, 0.95]})
    >>> agreement_flags(table)["agreement"].tolist()
    ['shared', 'not shared', 'too few']
    """
    size = table["n_rated"] if "n_rated" in table else table["n_respondents"]
    return table.assign(agreement=policy.verdict(table[column], size, disclosure))


def characteristic_agreement(
    answers: pd.DataFrame,
    *,
    scale: LevelScale,
    policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
    disclosure: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
    group: str = "microsystem_id",
) -> pd.DataFrame:
    """Agreement per microsystem x characteristic, as the policy reads it: rwg for a one-item
    characteristic; for one measured by several items (listwise) rwg(j), or Lindell's r*wg(j)
    with ``index="rwg_star"``; each against the policy's null, with the verdict.

    Returns
    -------
    DataFrame: ``group``, ``characteristic_id``, ``n_items``, ``n_rated``, ``agreement_index``,
    ``index`` (``rwg`` / ``rwg(j)`` / ``r*wg(j)``), ``null`` (the policy's null by name),
    ``agreement`` (``shared`` / ``not shared`` / ``too few``).
    """
    columns = [group, "characteristic_id", "n_items", "n_rated", "agreement_index", "index"]
    null = policy.null_variance(scale)
    several = "rwg_j" if policy.index == "rwg" else "rwg_star_j"
    parts = []
    items_of = answers[["characteristic_id", "item_id"]].drop_duplicates()
    for characteristic, items in items_of.groupby("characteristic_id", sort=False)["item_id"]:
        items = list(items)
        part = answers[answers["characteristic_id"].eq(characteristic)]
        if len(items) == 1:
            table = rwg(part, by=(group,), null_variance=null).rename(columns={"rwg": "agreement_index"})
            table = table.assign(index="rwg", n_items=1)
        else:
            table = rwg_j(part, items=items, group=group, null_variance=null).rename(
                columns={several: "agreement_index", "n_respondents": "n_rated"})
            table = table.assign(index=policy.index_label(len(items)))
        parts.append(table.assign(characteristic_id=characteristic)[columns])
    combined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    combined["null"] = policy.null_name
    return agreement_flags(combined, column="agreement_index", policy=policy, disclosure=disclosure)


def shared_under_each_null(answers: pd.DataFrame, *, scale: LevelScale,
                           policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
                           disclosure: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY) -> pd.DataFrame:
    """How many units count as sharing a view on each characteristic under each null (with
    the policy's index) and under the other index (uniform null), at the policy's threshold:
    how much the verdict rests on what "random answering" is taken to be. Nulls not defined
    for the scale's number of levels are left out.

    Returns
    -------
    DataFrame indexed by ``characteristic_id``: ``units`` (with enough answers for a verdict),
    then one column per null, named by it (``uniform``, ``slightly skewed``, ...), then the
    other index against a uniform null (``r*wg(j), uniform`` or ``rwg(j), uniform``).
    """
    other = "rwg" if policy.index == "rwg_star" else "rwg_star"
    candidates = [(words, policy.model_copy(update={"null": null, "custom_variance": None}))
                  for null, words in AgreementPolicy.NULL_WORDS.items()]
    candidates.append((f"{'rwg(j)' if other == 'rwg' else 'r*wg(j)'}, uniform",
                       policy.model_copy(update={"null": "uniform", "index": other, "custom_variance": None})))
    columns, units = {}, None
    for label, candidate in candidates:
        try:
            candidate.null_variance(scale)
        except ValueError:  # a skewed null this number of levels has none of
            continue
        verdicts = characteristic_agreement(answers, scale=scale, policy=candidate, disclosure=disclosure).groupby(
            "characteristic_id", sort=False)["agreement"]
        if units is None:
            units = verdicts.agg(lambda v: int(v.ne(TOO_FEW).sum())).rename("units")
        columns[label] = verdicts.agg(lambda v: int(v.eq(SHARED).sum()))
    return pd.concat([units, pd.DataFrame(columns)], axis=1)
