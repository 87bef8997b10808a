"""Scoring the self-assessment: from answers to respondent scores to microsystem profiles.

"Can't rate" and skipped items are missing information, never a score: they are counted
and reported beside every summary but never enter a mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVEL_COLUMNS_PREFIX = "share_level_"


def item_summary(
    answers: pd.DataFrame, *, by: tuple[str, ...] = ("microsystem_id", "item_id"), levels: tuple[int, ...] = (1, 2, 3)
) -> pd.DataFrame:
    """Summarise answers per group (default: microsystem x item).

    Parameters
    ----------
    answers : the study's long survey answers (:class:`workbench.schemas.SurveyAnswers`).
    by : the grouping columns.
    levels : the instrument's level values; each gets a share column, even where nobody chose it.

    Returns
    -------
    DataFrame with the ``by`` columns and ``n_respondents``, ``n_rated``, ``n_cant_rate``,
    ``n_no_answer``, ``cant_rate_share`` (of respondents), ``mean``, ``median``, ``sd``
    and ``share_level_<v>`` for each of ``levels`` (shares of rated answers).

    Examples
    --------
    >>> answers = pd.DataFrame({"microsystem_id": ["A", "A", "A"], "item_id": ["m"] * 3,
    ...     "answer": ["level", "level", "cant_rate"], "level": pd.array([1, 3, None], dtype="Int64")})
    >>> item_summary(answers)[["n_rated", "n_cant_rate", "mean"]].iloc[0].tolist()
    [2, 1, 2.0]
    """
    by = list(by)
    unexpected = sorted(set(answers["level"].dropna().astype(int)) - set(levels))
    if unexpected:
        raise ValueError(f"answers hold levels {unexpected}, which are not among levels={list(levels)}")
    # One grouping, numeric columns only: grouping 2.5 million rows by text keys once, not once per statistic.
    level = answers["level"].astype("float64")
    numbers = pd.DataFrame({
        "n_respondents": 1,
        "n_rated": answers["answer"].eq("level").astype("int64"),
        "n_cant_rate": answers["answer"].eq("cant_rate").astype("int64"),
        "n_no_answer": answers["answer"].eq("no_answer").astype("int64"),
        "mean": level,
        **{f"{LEVEL_COLUMNS_PREFIX}{v}": level.eq(v).astype("int64") for v in levels},
    })
    grouped = numbers.groupby([answers[c] for c in by], sort=False, observed=True)
    sums = grouped.sum()
    summary = sums[["n_respondents", "n_rated", "n_cant_rate", "n_no_answer"]].copy()
    summary["mean"] = grouped["mean"].mean()
    summary["median"] = grouped["mean"].median()
    summary["sd"] = grouped["mean"].std()
    summary["cant_rate_share"] = summary["n_cant_rate"] / summary["n_respondents"]
    share_columns = [f"{LEVEL_COLUMNS_PREFIX}{v}" for v in levels]
    summary[share_columns] = sums[share_columns].div(summary["n_rated"].where(summary["n_rated"] > 0), axis=0)  # no rating: no distribution
    summary = summary.reset_index()
    count_columns = ["n_respondents", "n_rated", "n_cant_rate", "n_no_answer"]
    summary[count_columns] = summary[count_columns].astype("int64")
    return summary


def respondent_scores(answers: pd.DataFrame, *, min_items: int = 1) -> pd.DataFrame:
    """Score each respondent on each characteristic: the mean of the items they rated.

    Integration of information has three items; a respondent who rated fewer than
    ``min_items`` of a characteristic's items gets no score for it (a missing value, not
    zero), so one answered item out of three can be made not to count.

    Returns
    -------
    DataFrame: ``respondent_id``, ``microsystem_id``, ``role``, ``characteristic_id``,
    ``n_items`` (items of the characteristic), ``n_rated``, ``n_cant_rate``, ``score``
    (float, NaN when fewer than ``min_items`` were rated).
    """
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, got {min_items}")
    keys = ["respondent_id", "microsystem_id", "role", "characteristic_id"]
    grouped = answers.assign(
        level=answers["level"].astype("float64"), rated=answers["answer"].eq("level"), cant_rate=answers["answer"].eq("cant_rate")
    ).groupby(keys, sort=False)
    scores = grouped.agg(n_items=("item_id", "size"), n_rated=("rated", "sum"), n_cant_rate=("cant_rate", "sum"), score=("level", "mean")).reset_index()
    scores[["n_rated", "n_cant_rate"]] = scores[["n_rated", "n_cant_rate"]].astype("int64")
    scores.loc[scores["n_rated"] < min_items, "score"] = np.nan
    return scores


def microsystem_profile(scores: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per microsystem x characteristic: how many scored it, and the mean with its t interval.

    Parameters
    ----------
    scores : output of :func:`respondent_scores`.
    confidence : level of the confidence interval around the mean.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``characteristic_id``, ``n_respondents``, ``n_scored``,
    ``n_cant_rate`` (can't-rate answers to its items), ``mean``, ``median``, ``sd``,
    ``ci_low``, ``ci_high`` (NaN when fewer than two scored).
    """
    aggregations = {"n_respondents": ("respondent_id", "size"), "n_scored": ("score", "count")}
    if "n_cant_rate" in scores:  # absent when scores come from elsewhere than respondent_scores
        aggregations["n_cant_rate"] = ("n_cant_rate", "sum")
    aggregations |= {"mean": ("score", "mean"), "median": ("score", "median"), "sd": ("score", "std")}
    profile = scores.groupby(["microsystem_id", "characteristic_id"], sort=False).agg(**aggregations).reset_index()
    from scipy import stats  # here, not at import: scipy.stats alone costs most of a second of start-up

    n = profile["n_scored"]
    critical = stats.t.ppf(0.5 + confidence / 2, (n - 1).where(n > 1))
    half_width = critical * profile["sd"] / np.sqrt(n)
    profile["ci_low"] = profile["mean"] - half_width
    profile["ci_high"] = profile["mean"] + half_width
    return profile


def profile_wide(profile: pd.DataFrame, *, order: list[str] | None = None, value: str = "mean") -> pd.DataFrame:
    """Microsystems as rows, characteristics (in ``order``) as columns, ``value`` in the cells."""
    wide = profile.pivot(index="microsystem_id", columns="characteristic_id", values=value)
    return wide[order] if order is not None else wide


def position_among_peers(profile: pd.DataFrame, microsystem_id: str) -> pd.DataFrame:
    """Where one microsystem stands on each characteristic among all the others.

    Only the other microsystems' distribution is returned (median, quartiles, range),
    never their names, so a feedback report can compare without identifying anyone.

    Returns
    -------
    DataFrame: ``characteristic_id``, ``mean`` (this microsystem), ``ci_low``, ``ci_high``,
    ``n_scored``, ``peers`` (how many others have a mean), ``peer_q1``, ``peer_median``,
    ``peer_q3``, ``peer_min``, ``peer_max``, ``share_of_peers_below``.
    """
    if microsystem_id not in set(profile["microsystem_id"]):
        raise ValueError(f"microsystem_id {microsystem_id!r} has no survey profile")
    own = profile[profile["microsystem_id"].eq(microsystem_id)].set_index("characteristic_id")
    others = profile[profile["microsystem_id"].ne(microsystem_id) & profile["mean"].notna()]
    peers = others.groupby("characteristic_id")["mean"]
    table = own[["mean", "ci_low", "ci_high", "n_scored"]].join(
        pd.DataFrame({
            "peers": peers.size(),
            "peer_q1": peers.quantile(0.25),
            "peer_median": peers.median(),
            "peer_q3": peers.quantile(0.75),
            "peer_min": peers.min(),
            "peer_max": peers.max(),
        })
    )
    below = others.merge(own[["mean"]].rename(columns={"mean": "own"}), left_on="characteristic_id", right_index=True)
    table["share_of_peers_below"] = (below["mean"] < below["own"]).groupby(below["characteristic_id"]).mean()
    table.loc[table["mean"].isna(), "share_of_peers_below"] = np.nan  # no own mean: no position
    return table.reset_index()


def select_characteristics(answers: pd.DataFrame, characteristics: list[str] | None) -> pd.DataFrame:
    """The answers to items on ``characteristics`` (all when None); unknown ids are an error."""
    if characteristics is None:
        return answers
    known = list(dict.fromkeys(answers["characteristic_id"]))
    unknown = [c for c in characteristics if c not in known]
    if unknown or not characteristics:
        raise ValueError(f"characteristics must be a non-empty list drawn from {known}, got {characteristics!r}")
    return answers[answers["characteristic_id"].isin(characteristics)]
