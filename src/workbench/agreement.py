"""Is aggregating staff answers to the microsystem justified, and is the scale reliable?

Within-group agreement (rwg, rwg(j)) follows James, Demaree & Wolf (1984) with the
conventions of Bliese's R package ``multilevel``: sample variances, a uniform null
distribution for the item's number of levels, ``sigma_EU^2 = (A^2 - 1) / 12``,
observed variance truncated at the null variance (so agreement is never negative),
and no value for a group with fewer than two ratings. ICC(1) and ICC(2) come from a
one-way ANOVA of answers on microsystem; with unequal group sizes the group size in
ICC(1) is the mean group size N/J by default (as ``multilevel::ICC1``), or the
ANOVA-adjusted n0 when asked for.

All functions are vectorised over groups: no Python loop runs over microsystems.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from workbench.vocabulary import AgreementPolicy, DisclosurePolicy, LevelScale

MIN_RESPONDENTS_FOR_ALPHA = 3  # fewer complete respondents leave alpha and its interval undefined

__all__ = [
    "DEFAULT_AGREEMENT_POLICY", "DEFAULT_DISCLOSURE_POLICY", "agreement_flags", "characteristic_agreement",
    "cronbach_alpha", "icc_by_item", "icc_oneway", "item_total_statistics", "respondent_item_matrix", "rwg", "rwg_j",
    "uniform_null_variance",
]

# The policies a caller that names none gets (both frozen, so one shared instance is safe).
DEFAULT_AGREEMENT_POLICY = AgreementPolicy()
DEFAULT_DISCLOSURE_POLICY = DisclosurePolicy()


def uniform_null_variance(n_levels: int) -> float:
    """Variance of a discrete uniform distribution over ``n_levels`` ordered options."""
    if n_levels < 2:
        raise ValueError(f"n_levels must be at least 2, got {n_levels}")
    return (n_levels**2 - 1) / 12


def _rated(answers: pd.DataFrame) -> pd.DataFrame:
    rated = answers[answers["level"].notna()]
    return rated.assign(level=rated["level"].astype("float64"))


def rwg(
    answers: pd.DataFrame, *, by: tuple[str, ...] = ("microsystem_id", "item_id"), n_levels: int = 3
) -> pd.DataFrame:
    """Within-group agreement on a single item, rwg = 1 - s^2 / sigma_EU^2.

    Parameters
    ----------
    answers : long survey answers; only answers with a level count ("can't rate" is missing).
    by : grouping columns (default microsystem x item).
    n_levels : number of response levels of the item (3 for the self-assessment).

    Returns
    -------
    DataFrame: the ``by`` columns, ``n_rated``, ``variance`` (sample, n-1), ``rwg``
    (NaN where fewer than two rated).

    Examples
    --------
    >>> a = pd.DataFrame({"microsystem_id": ["A"] * 4, "item_id": "m", "level": pd.array([2, 2, 3, 3], dtype="Int64")})
    >>> round(float(rwg(a)["rwg"].iloc[0]), 3)  # s^2 = 1/3, sigma_EU^2 = 8/12
    0.5
    """
    null = uniform_null_variance(n_levels)
    grouped = _rated(answers).groupby(list(by), sort=False)["level"]
    table = pd.DataFrame({"n_rated": grouped.size(), "variance": grouped.var(ddof=1)}).reset_index()
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
) -> pd.DataFrame:
    """Within-group agreement on a multi-item scale (James, Demaree & Wolf 1984).

    ``rwg(j) = J (1 - s̄^2/σ^2) / (J (1 - s̄^2/σ^2) + s̄^2/σ^2)``, with s̄^2 the mean of
    the J item variances within the group (truncated at σ^2).

    Parameters
    ----------
    items : the scale's items (default: every item in ``answers``).
    missing : ``"listwise"`` keeps only respondents who rated every item (as
        ``multilevel::rwg.j``); ``"available"`` uses each item's own ratings.

    Returns
    -------
    DataFrame: ``group``, ``n_respondents`` (those used), ``n_items``, ``mean_item_variance``, ``rwg_j``.
    """
    null = uniform_null_variance(n_levels)
    if missing not in ("listwise", "available"):
        raise ValueError(f"missing must be 'listwise' or 'available', got {missing!r}")
    items = list(pd.unique(answers["item_id"])) if items is None else list(items)
    rated = _rated(answers[answers["item_id"].isin(items)]).drop_duplicates(["respondent_id", "item_id"])
    respondent, _ = pd.factorize(rated["respondent_id"])
    if missing == "listwise":  # only respondents who rated every item of the scale
        complete = np.bincount(respondent, minlength=respondent.max() + 1 if len(respondent) else 0) == len(items)
        rated = rated[complete[respondent]]
        respondent = respondent[complete[respondent]]
    group_codes, groups = pd.factorize(rated[group])
    item_codes = pd.Index(items).get_indexer(rated["item_id"])
    n_groups, j = len(groups), len(items)
    values = rated["level"].to_numpy(dtype="float64")
    # Per group x item: count, mean, and squared deviations from that cell's own mean.
    cell = group_codes * j + item_codes
    count = np.bincount(cell, minlength=n_groups * j).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=values, minlength=n_groups * j) / count
        squares = np.bincount(cell, weights=(values - mean[cell]) ** 2, minlength=n_groups * j)
        variances = np.where(count >= 2, squares / (count - 1), np.nan).reshape(n_groups, j)
        known = ~np.isnan(variances)
        mean_variance = np.clip(np.where(known, variances, 0).sum(axis=1) / known.sum(axis=1), None, null)
    people = np.zeros(n_groups, dtype="int64")
    if len(respondent):
        first = pd.Series(group_codes).groupby(respondent).first()  # each respondent's group
        people = np.bincount(first.to_numpy(), minlength=n_groups)
    ratio = mean_variance / null
    table = pd.DataFrame({
        group: groups, "n_respondents": people, "n_items": j, "mean_item_variance": mean_variance,
        "rwg_j": (j * (1 - ratio)) / (j * (1 - ratio) + ratio),
    })
    table.loc[table["n_respondents"] < 2, ["mean_item_variance", "rwg_j"]] = np.nan
    return table


def icc_oneway(
    data: pd.DataFrame,
    *,
    group: str,
    value: str,
    group_size: Literal["mean", "adjusted"] = "mean",
) -> pd.Series:
    """ICC(1), ICC(2) and eta-squared from a one-way ANOVA of ``value`` on ``group``.

    ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW): the share of variance due to the group,
    or the expected correlation of two members' answers. ICC(2) = (MSB - MSW) / MSB:
    the reliability of group means. Neither is truncated: a negative value says the
    groups differ less than chance would make them. Rows with a missing ``value`` are
    left out.

    ``group_size``: ``"mean"`` uses k = N / J (as ``multilevel::ICC1``); ``"adjusted"``
    uses k0 = (N - Σ n_j^2 / N) / (J - 1), the ANOVA estimator for unequal groups.

    Returns
    -------
    Series: ``n``, ``n_groups``, ``group_size``, ``ms_between``, ``ms_within``, ``F``,
    ``df_between``, ``df_within``, ``p``, ``icc1``, ``icc2``, ``eta_squared``.
    """
    frame = data[[group, value]].dropna()
    result = _oneway_anova(frame[value].to_numpy(dtype="float64"), np.zeros(len(frame), dtype="int64"), 1,
                           pd.factorize(frame[group])[0], group_size).iloc[0]
    if not result["n_groups"] >= 2 or not result["n"] > result["n_groups"]:
        raise ValueError(f"an ICC needs at least two groups and more answers than groups; "
                         f"got {int(result['n'])} answers in {int(result['n_groups'])} groups")
    return result


def icc_by_item(
    answers: pd.DataFrame, *, group: str = "microsystem_id", group_size: Literal["mean", "adjusted"] = "mean"
) -> pd.DataFrame:
    """:func:`icc_oneway` for each item: do microsystems differ more than their staff do?

    All items in one pass over the answers. An item with too few answers for an ICC
    (fewer than two groups, or no more answers than groups) keeps its row, with its
    counts and NaN statistics.
    """
    rated = _rated(answers)
    rated = rated[rated[group].notna() & rated["item_id"].notna()]  # as groupby would: no group, no place in the ANOVA
    item_index, items = pd.factorize(rated["item_id"])
    table = _oneway_anova(rated["level"].to_numpy(dtype="float64"), item_index, len(items),
                          pd.factorize(rated[group])[0], group_size)
    too_few = (table["n_groups"] < 2) | (table["n"] <= table["n_groups"])
    table.loc[too_few, [c for c in table.columns if c not in ("n", "n_groups")]] = np.nan
    return table.assign(item_id=list(items))[["item_id", *table.columns]]


def _oneway_anova(
    values: np.ndarray, part: np.ndarray, n_parts: int, group: np.ndarray, group_size: str
) -> pd.DataFrame:
    """One-way ANOVA of ``values`` on ``group`` within each of ``n_parts`` parts (e.g. items),
    from counts and sums per part x group (bincount): one row of statistics per part."""
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
    return pd.DataFrame({
        "n": n.astype("int64"), "n_groups": j.astype("int64"), "group_size": k,
        "ms_between": ms_between, "ms_within": ms_within,
        "F": f, "df_between": df_between, "df_within": df_within, "p": f_distribution.sf(f, df_between, df_within),
        "icc1": icc1, "icc2": icc2, "eta_squared": eta_squared,
    })


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN when nothing varies (0 / 0), inf when only the numerator does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator == 0, np.where(numerator == 0, np.nan, np.inf), np.asarray(numerator) / denominator)


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


def cronbach_alpha(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    confidence: float = 0.95,
    nan_policy: Literal["listwise", "pairwise"] = "listwise",
) -> pd.Series:
    """Cronbach's alpha of the items, with Feldt's confidence interval (via pingouin).

    Respondents are rows and items columns; "can't rate" is missing, so by default only
    respondents who rated every item are used (``nan_policy="pairwise"`` uses pairwise
    covariances instead).

    Returns
    -------
    Series: ``alpha``, ``ci_low``, ``ci_high``, ``n_respondents`` (used), ``n_items``.
    """
    import pingouin

    # Someone who rated nothing adds nothing, not n.
    wide = respondent_item_matrix(answers, items=items).dropna(how="all")
    used = wide.dropna() if nan_policy == "listwise" else wide
    if len(used) < MIN_RESPONDENTS_FOR_ALPHA or wide.shape[1] < 2:  # undefined: say so with NaN, not warnings
        return pd.Series({"alpha": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_respondents": len(used),
                          "n_items": wide.shape[1]})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant item makes a variance 0: NaN, as documented
        alpha, interval = pingouin.cronbach_alpha(data=wide, nan_policy=nan_policy, ci=confidence)
    return pd.Series({"alpha": float(alpha), "ci_low": float(interval[0]), "ci_high": float(interval[1]),
                      "n_respondents": len(used), "n_items": wide.shape[1]})


def item_total_statistics(answers: pd.DataFrame, *, items: list[str] | None = None) -> pd.DataFrame:
    """Per item, on respondents who rated every item: the corrected item-total correlation
    (the item against the sum of the other items) and alpha if the item were deleted.

    Returns
    -------
    DataFrame: ``item_id``, ``corrected_item_total_r``, ``alpha_if_deleted``, ``n_respondents``.
    """
    wide = respondent_item_matrix(answers, items=items).dropna()
    rows = []
    for item in wide.columns:
        others = wide.drop(columns=item)
        enough = len(wide) >= MIN_RESPONDENTS_FOR_ALPHA
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # no variation: NaN, not a warning in a report
            r = float(np.corrcoef(wide[item], others.sum(axis=1))[0, 1]) if enough else np.nan
            alpha = _alpha(others.to_numpy()) if enough else np.nan
        rows.append({"item_id": item, "corrected_item_total_r": r, "alpha_if_deleted": alpha,
                     "n_respondents": len(wide)})
    return pd.DataFrame(rows, columns=["item_id", "corrected_item_total_r", "alpha_if_deleted", "n_respondents"])


def _alpha(matrix: np.ndarray) -> float:
    k = matrix.shape[1]
    item_variances = matrix.var(axis=0, ddof=1).sum()
    total_variance = matrix.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_variances / total_variance))


def respondent_item_matrix(answers: pd.DataFrame, *, items: list[str] | None = None) -> pd.DataFrame:
    """Respondents as rows, items as columns, levels as floats (NaN where not rated)."""
    items = list(dict.fromkeys(answers["item_id"])) if items is None else list(items)
    rated = _rated(answers[answers["item_id"].isin(items)])
    wide = rated.pivot_table(index="respondent_id", columns="item_id", values="level", aggfunc="first", observed=True)
    all_respondents = pd.Index(list(dict.fromkeys(answers["respondent_id"])), name="respondent_id")
    return wide.reindex(index=all_respondents, columns=items)


def characteristic_agreement(
    answers: pd.DataFrame,
    *,
    scale: LevelScale,
    policy: AgreementPolicy = DEFAULT_AGREEMENT_POLICY,
    disclosure: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
    group: str = "microsystem_id",
) -> pd.DataFrame:
    """Agreement per microsystem x characteristic: rwg for a one-item characteristic,
    rwg(j) (listwise) for one measured by several items, with the policy's verdict.

    Returns
    -------
    DataFrame: ``group``, ``characteristic_id``, ``n_items``, ``n_rated``, ``agreement_index``
    (rwg or rwg(j)), ``index`` (which one), ``agreement`` (``shared`` / ``not shared`` / ``too few``).
    """
    columns = [group, "characteristic_id", "n_items", "n_rated", "agreement_index", "index"]
    parts = []
    items_of = answers[["characteristic_id", "item_id"]].drop_duplicates()
    for characteristic, items in items_of.groupby("characteristic_id", sort=False)["item_id"]:
        items = list(items)
        part = answers[answers["characteristic_id"].eq(characteristic)]
        if len(items) == 1:
            table = rwg(part, by=(group,), n_levels=scale.n).rename(columns={"rwg": "agreement_index"})
            table = table.assign(index="rwg", n_items=1)
        else:
            table = rwg_j(part, items=items, group=group, n_levels=scale.n).rename(
                columns={"rwg_j": "agreement_index", "n_respondents": "n_rated"})
            table = table.assign(index="rwg(j)")
        parts.append(table.assign(characteristic_id=characteristic)[columns])
    combined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return agreement_flags(combined, column="agreement_index", policy=policy, disclosure=disclosure)
