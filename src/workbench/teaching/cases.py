"""Small views of a study chosen for teaching: the unit profiles under an agreement policy a
lesson chooses, a pair of units that make the case for agreement, answer counts, and the
top and bottom units on an outcome.

Nothing here keeps a rule of its own: figures come from :mod:`workbench.views` (with the
study's disclosure policy applied), verdicts from an
:class:`~workbench.vocabulary.AgreementPolicy`, and level values and labels from the
study's :class:`~workbench.vocabulary.LevelScale`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER, NOT_SHARED, SHARED, AgreementPolicy, LevelScale

__all__ = [
    "KIND_COLUMNS", "agreement_policy", "answer_columns", "answer_counts", "characteristic_profiles",
    "contrasting_pair", "single_item", "top_bottom", "unit_labels",
]

# How the answer kinds that are not a level head a table of counts.
KIND_COLUMNS = {CANT_RATE: "can't rate", NO_ANSWER: "no answer"}


def answer_columns(scale: LevelScale) -> dict:
    """Level value or answer kind -> the column it is counted in: the scale's tick labels
    (``"1 low"``), then ``"can't rate"`` and ``"no answer"``.

    Examples
    --------
    >>> answer_columns(LevelScale.from_values([1, 2, 3]))
    {1: '1 low', 2: '2 middle', 3: '3 high', 'cant_rate': "can't rate", 'no_answer': 'no answer'}
    """
    return {**dict(zip(scale.values, scale.tick_labels)), **KIND_COLUMNS}


def unit_labels(study) -> dict[str, str]:
    """Microsystem id -> ``"MS07 Brookside Family Practice"``, for the rows of a matrix."""
    units = study.view("unit_overview")
    return {row.microsystem_id: f"{row.microsystem_id} {row.name}" for row in units.itertuples(index=False)}


def single_item(study, characteristic: str) -> str:
    """The id of the one item that measures ``characteristic`` (an error if it has several)."""
    items = [item.id for item in study.instrument.items if item.characteristic == characteristic]
    if len(items) != 1:
        single = [c for c in dict.fromkeys(i.characteristic for i in study.instrument.items)
                  if sum(i.characteristic == c for i in study.instrument.items) == 1]
        raise ValueError(f"characteristic must be one measured by a single item, one of {single}; "
                         f"{characteristic!r} is measured by {len(items)} items")
    return items[0]


def agreement_policy(study, threshold: float | None = None) -> AgreementPolicy:
    """The study's agreement policy (``analysis.agreement`` in its ``study.yaml``), or the
    same policy with another ``threshold``, for a lesson that lets the learner vary it."""
    policy = study.agreement_policy
    if threshold is None:
        return policy
    return AgreementPolicy(**{**policy.model_dump(), "threshold": threshold})


def characteristic_profiles(study, characteristic: str, *, policy: AgreementPolicy | None = None) -> pd.DataFrame:
    """The ``unit_profiles`` rows of one characteristic, every unit's, with the agreement
    verdicts of ``policy`` (default: the study's own, as its reports show them).

    Computed by :func:`workbench.views.unit_profiles` with the study's scale, disclosure
    policy and ``min_items``, so a figure from too few people is blank and ``reported``
    says whether the mean stands for the unit under ``policy``.
    """
    from workbench import views  # here, not at import: it loads scipy.stats, which not every lesson needs

    answers = study.answers[study.answers["characteristic_id"].eq(characteristic)]
    if answers.empty:
        raise ValueError(f"characteristic must be one the study's survey measures, one of "
                         f"{list(dict.fromkeys(study.answers['characteristic_id']))}; got {characteristic!r}")
    return views.unit_profiles(answers, scale=study.scale, policy=study.agreement_policy if policy is None else policy,
                               disclosure=study.disclosure, min_items=study.config.analysis.min_items)


def answer_counts(answers: pd.DataFrame, *, scale: LevelScale, by: str = "microsystem_id") -> pd.DataFrame:
    """How many answers fell on each level of ``scale``, said can't rate, or were skipped, per ``by``.

    Returns
    -------
    DataFrame indexed by ``by``, columns :func:`answer_columns` (e.g. ``1 low``, ``2 middle``,
    ``3 high``, ``can't rate``, ``no answer``): counts, zero where nobody chose it.

    Examples
    --------
    >>> answers = pd.DataFrame({"microsystem_id": ["A", "A", "A", "B"],
    ...                         "answer": ["level", "level", "cant_rate", "no_answer"],
    ...                         "level": pd.array([3, 2, None, None], dtype="Int64")})
    >>> counts = answer_counts(answers, scale=LevelScale.from_values([1, 2, 3]))
    >>> counts.loc["A"].tolist(), counts.loc["B"].tolist()
    ([0, 1, 1, 1, 0], [0, 0, 0, 0, 1])
    """
    columns = answer_columns(scale)
    kind = answers["answer"].to_numpy(dtype=object)
    level = answers["level"].to_numpy(dtype=object, na_value=None)
    outcome = [columns[int(v)] if k == LEVEL else columns.get(k, k) for k, v in zip(kind, level)]
    categories = pd.Categorical(outcome, categories=list(columns.values()))
    table = pd.crosstab(answers[by].to_numpy(), categories, dropna=False)
    table.index.name, table.columns.name = by, None
    table.columns = list(table.columns.astype(str))
    return table.astype("int64")


def contrasting_pair(study, *, characteristic: str, policy: AgreementPolicy | None = None) -> pd.DataFrame:
    """Two units with (nearly) the same mean on ``characteristic`` whose staff agree on it
    in one and not in the other: the case for checking agreement before averaging.

    Among pairs of a unit whose agreement is ``shared`` and one whose agreement is
    ``not shared`` under ``policy`` (default: the study's; verdicts from
    :func:`characteristic_profiles`), the pair with the closest means is chosen; ties go to
    the larger difference in agreement, then to the smaller ids. ``characteristic`` must be
    measured by one item, so its agreement index is a plain rwg. A unit with fewer people
    than the study's disclosure policy allows a figure for is never chosen.

    Returns
    -------
    DataFrame of two rows, the shared unit first: ``microsystem_id``, ``name``, ``n_rated``,
    ``mean``, ``sd`` (the item's figures, :func:`workbench.views.unit_items`), ``rwg``,
    ``agreement``.
    """
    from workbench import views

    policy = study.agreement_policy if policy is None else policy
    item = single_item(study, characteristic)
    answers = study.answers[study.answers["item_id"].eq(item)]
    figures = views.unit_items(answers, scale=study.scale, policy=policy, disclosure=study.disclosure)
    verdicts = characteristic_profiles(study, characteristic, policy=policy)
    verdicts = verdicts[["microsystem_id", "agreement_index", "agreement"]].rename(columns={"agreement_index": "rwg"})
    table = figures[["microsystem_id", "n_rated", "mean", "sd"]].merge(verdicts, on="microsystem_id")
    shared, not_shared = table[table["agreement"].eq(SHARED)], table[table["agreement"].eq(NOT_SHARED)]
    pairs = shared.merge(not_shared, how="cross", suffixes=("_a", "_b"))
    if pairs.empty:
        raise ValueError(f"no unit pair on {characteristic!r} has one shared and one unshared view at "
                         f"threshold={policy.threshold}, min_cell_size={study.disclosure.min_cell_size}; "
                         "lower the threshold or choose another characteristic")
    pairs["mean_gap"] = (pairs["mean_a"] - pairs["mean_b"]).abs().round(9)
    pairs["rwg_gap"] = (pairs["rwg_a"] - pairs["rwg_b"]).round(9)
    best = pairs.sort_values(["mean_gap", "rwg_gap", "microsystem_id_a", "microsystem_id_b"],
                             ascending=[True, False, True, True]).iloc[0]
    names = study.view("unit_overview").set_index("microsystem_id")["name"]
    chosen = table.set_index("microsystem_id").loc[[best["microsystem_id_a"], best["microsystem_id_b"]]].reset_index()
    chosen.insert(1, "name", chosen["microsystem_id"].map(names))
    return chosen[["microsystem_id", "name", "n_rated", "mean", "sd", "rwg", "agreement"]]


def top_bottom(means: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, better: str, n: int = 10) -> pd.DataFrame:
    """Mean profile of the ``n`` units with the best ``outcome`` against the ``n`` with the worst.

    Units without the outcome are left out; ties on the outcome are broken by microsystem
    id, so the groups never depend on sort order. The middle units are left out on purpose:
    contrasting extremes is a first look, not a model. A blank mean (too few people) is
    left out of its group's average.

    Returns
    -------
    DataFrame, largest difference first: ``characteristic_id``, ``top_mean``, ``bottom_mean``,
    ``difference`` (top minus bottom, in levels).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    values = outcomes.set_index("microsystem_id")[outcome].dropna()
    if not 1 <= n <= len(values) // 2:
        raise ValueError(f"n must be between 1 and half the {len(values)} units with {outcome!r}, got {n}")
    ranked = values.rename("value").rename_axis("microsystem_id").reset_index().sort_values(
        ["value", "microsystem_id"], ascending=[better == "lower", True], kind="stable")
    top, bottom = list(ranked["microsystem_id"].head(n)), list(ranked["microsystem_id"].tail(n))
    table = pd.DataFrame({"top_mean": means.loc[top].mean(), "bottom_mean": means.loc[bottom].mean()})
    table["difference"] = table["top_mean"] - table["bottom_mean"]
    table = table.rename_axis("characteristic_id").reset_index()
    order = np.lexsort((np.arange(len(table)), -table["difference"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)
