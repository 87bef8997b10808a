"""Scoring the self-assessment: from answers to respondent scores to microsystem profiles.

"Can't rate" and skipped items are missing information, never a score: they are counted
and reported beside every summary but never enter a mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER, LevelScale

__all__ = [
    "LEVEL_COLUMNS_PREFIX",
    "item_summary",
    "microsystem_profile",
    "position_among_peers",
    "profile_wide",
    "respondent_scores",
    "select_characteristics",
    "strongest_and_weakest",
]

LEVEL_COLUMNS_PREFIX = "share_level_"


def item_summary(
    answers: pd.DataFrame, *, by: tuple[str, ...] = ("microsystem_id", "item_id"), levels: tuple[int, ...]
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
    >>> item_summary(answers, levels=(1, 2, 3))[["n_rated", "n_cant_rate", "mean"]]
       n_rated  n_cant_rate  mean
    0        2            1   2.0
    """
    by = list(by)
    # Each answer becomes one outcome (a level's position, then can't rate, then no answer),
    # counted per group with one bincount. The mean, median and sd of answers that can only
    # take the given levels follow exactly from how often each level was chosen.
    group, keys = _groups(answers, by)
    kinds = len(levels) + 2
    outcome = np.full(len(answers), -1, dtype="int64")
    outcome[answers["answer"].eq(CANT_RATE).to_numpy()] = len(levels)
    outcome[answers["answer"].eq(NO_ANSWER).to_numpy()] = len(levels) + 1
    is_level = answers["level"].notna().to_numpy()
    given = answers["level"].to_numpy(dtype="float64", na_value=np.nan)[is_level]
    position = pd.Index(np.asarray(levels, dtype="float64")).get_indexer(given)
    if (position < 0).any():
        unexpected = sorted({int(v) if float(v).is_integer() else float(v) for v in given[position < 0]})
        raise ValueError(f"answers hold levels {unexpected}, which are not among levels={list(levels)}")
    outcome[is_level] = position
    counted = (group >= 0) & (outcome >= 0)
    counts = np.bincount(group[counted] * kinds + outcome[counted], minlength=len(keys) * kinds)
    counts = counts.reshape(len(keys), kinds)
    level_counts = counts[:, : len(levels)]
    summary = keys.assign(
        n_respondents=np.bincount(group[group >= 0], minlength=len(keys)),
        n_rated=level_counts.sum(axis=1), n_cant_rate=counts[:, len(levels)], n_no_answer=counts[:, len(levels) + 1],
    )
    summary["mean"], summary["median"], summary["sd"] = _moments_from_counts(
        level_counts.astype("float64"), np.asarray(levels, dtype="float64")
    )
    summary["cant_rate_share"] = summary["n_cant_rate"] / summary["n_respondents"]
    with np.errstate(invalid="ignore", divide="ignore"):  # no rating: no distribution
        shares = level_counts / np.where(summary["n_rated"] > 0, summary["n_rated"], np.nan)[:, None]
    for column, value in enumerate(levels):
        summary[f"{LEVEL_COLUMNS_PREFIX}{value}"] = shares[:, column]
    count_columns = ["n_respondents", "n_rated", "n_cant_rate", "n_no_answer"]
    summary[count_columns] = summary[count_columns].astype("int64")
    return summary


def _groups(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number (-1 where a key is missing, as groupby drops those) and the
    groups' keys, numbered in order of first appearance, from integer codes rather than text."""
    rows = len(frame)
    cell = np.zeros(rows, dtype="int64")
    cells = 1
    missing = np.zeros(rows, dtype=bool)
    for column in by:
        codes, uniques = pd.factorize(frame[column])
        missing |= codes < 0
        cell = cell * (len(uniques) + 1) + codes + 1
        cells *= len(uniques) + 1
        if cells > 4 * rows + 1024:  # sparse combinations: number the ones that occur instead
            cell, seen = pd.factorize(cell)
            cells = len(seen)
    first = np.full(cells, rows, dtype="int64")
    kept = np.flatnonzero(~missing)
    np.minimum.at(first, cell[kept], kept)
    occurring = np.flatnonzero(first < rows)
    ordered = occurring[np.argsort(first[occurring], kind="stable")]
    number = np.full(cells, -1, dtype="int64")
    number[ordered] = np.arange(len(ordered))
    group = np.where(missing, -1, number[cell])
    return group, _text_keys(frame[by].iloc[first[ordered]].reset_index(drop=True))


def _text_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """A table keyed by columns of the answers, which are categories of text (see
    :mod:`workbench.schemas`), with those keys as text: what grouping text answers gave."""
    coded = {c: "str" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.astype(coded) if coded else frame


def _moments_from_counts(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, median and sample sd of each row's answers, given how many times (``counts``,
    rows x values) each of ``values`` was chosen; NaN where there are too few."""
    order = np.argsort(values)
    counts, values = counts[:, order], values[order]
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = counts @ values / n
        sd = np.sqrt((counts * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / (n - 1))
    sd[n < 2] = np.nan
    # The median is the mean of the middle two order statistics (the middle one when n is odd).
    cumulative = counts.cumsum(axis=1)
    lower = values[np.argmax(cumulative > ((n - 1) // 2)[:, None], axis=1)]
    upper = values[np.argmax(cumulative > (n // 2)[:, None], axis=1)]
    median = np.where(n > 0, (lower + upper) / 2, np.nan)
    return mean, median, sd


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

    Examples
    --------
    >>> answers = pd.DataFrame({"respondent_id": ["r1"] * 3, "microsystem_id": ["A"] * 3, "role": ["nurse"] * 3,
    ...     "item_id": ["i1", "i2", "i3"], "characteristic_id": ["info"] * 3,
    ...     "answer": ["level", "level", "cant_rate"], "level": pd.array([1, 2, None], dtype="Int64")})
    >>> respondent_scores(answers)[["characteristic_id", "n_items", "n_rated", "n_cant_rate", "score"]]
      characteristic_id  n_items  n_rated  n_cant_rate  score
    0              info        3        2            1    1.5
    >>> respondent_scores(answers, min_items=3)["score"].tolist()
    [nan]
    """
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, got {min_items}")
    keys = ["respondent_id", "microsystem_id", "role", "characteristic_id"]
    grouped = answers.assign(
        level=answers["level"].astype("float64"),
        rated=answers["answer"].eq(LEVEL),
        cant_rate=answers["answer"].eq(CANT_RATE),
    ).groupby(keys, sort=False)
    scores = grouped.agg(
        n_items=("item_id", "size"),
        n_rated=("rated", "sum"),
        n_cant_rate=("cant_rate", "sum"),
        score=("level", "mean"),
    ).reset_index()
    scores = _text_keys(scores)
    scores[["n_rated", "n_cant_rate"]] = scores[["n_rated", "n_cant_rate"]].astype("int64")
    scores.loc[scores["n_rated"] < min_items, "score"] = np.nan
    return scores


def microsystem_profile(scores: pd.DataFrame, *, confidence: float = 0.95, scale: LevelScale | None = None
                        ) -> pd.DataFrame:
    """Per microsystem x characteristic: how many scored it, and the mean with its interval.

    Parameters
    ----------
    scores : output of :func:`respondent_scores`.
    confidence : level of the confidence interval around the mean.
    scale : the instrument's levels. Given, the interval is a t interval on the logit of the
        mean's position between the lowest and highest level, carried back to the scale (delta
        method), so it never runs past either end, and is asymmetric near one (below: five
        staff at 1 and one at 2 give 1.01-2.2 where the t interval gives 0.74-1.6). Without it,
        the plain t interval.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``characteristic_id``, ``n_respondents``, ``n_scored``,
    ``n_cant_rate`` (can't-rate answers to its items), ``mean``, ``median``, ``sd``,
    ``ci_low``, ``ci_high`` (NaN when fewer than two scored).

    Examples
    --------
    >>> scores = pd.DataFrame({"microsystem_id": "A", "characteristic_id": "m", "respondent_id": list("abcdef"),
    ...                        "score": [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]})
    >>> plain = microsystem_profile(scores).iloc[0]
    >>> round(float(plain["ci_low"]), 2), round(float(plain["ci_high"]), 2)
    (0.74, 1.6)
    >>> inside = microsystem_profile(scores, scale=LevelScale.from_values((1, 2, 3))).iloc[0]
    >>> round(float(inside["ci_low"]), 2), round(float(inside["ci_high"]), 2)
    (1.01, 2.2)
    """
    aggregations = {"n_respondents": ("respondent_id", "size"), "n_scored": ("score", "count")}
    if "n_cant_rate" in scores:  # absent when scores come from elsewhere than respondent_scores
        aggregations["n_cant_rate"] = ("n_cant_rate", "sum")
    aggregations |= {"mean": ("score", "mean"), "median": ("score", "median"), "sd": ("score", "std")}
    profile = scores.groupby(["microsystem_id", "characteristic_id"], sort=False).agg(**aggregations).reset_index()
    from scipy import stats  # here, not at import: scipy.stats alone costs most of a second of start-up

    n = profile["n_scored"]
    critical = stats.t.ppf(0.5 + confidence / 2, (n - 1).where(n > 1))
    standard_error = profile["sd"] / np.sqrt(n)
    if scale is None:
        profile["ci_low"] = profile["mean"] - critical * standard_error
        profile["ci_high"] = profile["mean"] + critical * standard_error
        return profile
    span = scale.high - scale.low
    position = ((profile["mean"] - scale.low) / span).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = np.log(position / (1 - position))
        half_width = (critical * standard_error / span).to_numpy(dtype="float64") / (position * (1 - position))
        low = scale.low + span / (1 + np.exp(-(logit - half_width)))
        high = scale.low + span / (1 + np.exp(-(logit + half_width)))
    # At either end every score is that level (no spread): the interval is the point itself.
    at_end = (position <= 0) | (position >= 1)
    profile["ci_low"] = np.where(at_end, profile["mean"], low)
    profile["ci_high"] = np.where(at_end, profile["mean"], high)
    unknown = n.lt(2).to_numpy()
    profile.loc[unknown, ["ci_low", "ci_high"]] = np.nan
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


def strongest_and_weakest(position: pd.DataFrame) -> list[tuple[str, str]]:
    """The characteristics a unit's report picks out: ``("Strongest", id)`` and ``("Weakest", id)``
    among those whose mean is shown and (where a ``shared`` column says) whose staff agree.

    Never the same characteristic twice: a characteristic listed more than once counts once,
    and there is a weakest only when another characteristic's mean is lower than the
    strongest's (with every mean equal, none is weaker). One pair, one id, or none.

    Examples
    --------
    >>> position = pd.DataFrame({"characteristic_id": ["a", "b", "c"], "mean": [2.5, None, 1.5]})
    >>> strongest_and_weakest(position)
    [('Strongest', 'a'), ('Weakest', 'c')]
    >>> strongest_and_weakest(position.iloc[:2])
    [('Strongest', 'a')]
    >>> strongest_and_weakest(position.assign(shared=[True, True, False]))
    [('Strongest', 'a')]
    >>> strongest_and_weakest(pd.DataFrame({"characteristic_id": ["a", "a"], "mean": [2.0, 2.0]}))
    [('Strongest', 'a')]
    >>> strongest_and_weakest(pd.DataFrame({"characteristic_id": ["a", "b"], "mean": [2.0, 2.0]}))
    [('Strongest', 'a')]
    """
    candidates = position.dropna(subset=["mean"])
    if "shared" in candidates:
        candidates = candidates[candidates["shared"].eq(True)]  # a missing verdict is not a shared view
    candidates = candidates.drop_duplicates("characteristic_id")
    if candidates.empty:
        return []
    # Highest mean first; among equal means the first in the framework's order.
    ranked = candidates.assign(order=range(len(candidates))).sort_values(["mean", "order"], ascending=[False, True])
    strongest, weakest = ranked.iloc[0], ranked.iloc[-1]
    chosen = [("Strongest", strongest["characteristic_id"])]
    if weakest["mean"] < strongest["mean"]:
        # Among equal lowest means, the first in the framework's order too.
        lowest = ranked[ranked["mean"].eq(weakest["mean"])].sort_values("order")
        chosen.append(("Weakest", lowest.iloc[0]["characteristic_id"]))
    return chosen
