"""Small views of a study chosen for teaching: a pair of units that make the case for
agreement, answer counts, and the top and bottom units on an outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import survey

ANSWER_COLUMNS = {1: "1 low", 2: "2 middle", 3: "3 high", "cant_rate": "can't rate", "no_answer": "no answer"}


def unit_labels(study) -> dict[str, str]:
    """Microsystem id -> ``"MS07 Brookside Family Practice"``, for the rows of a matrix."""
    return {row.microsystem_id: f"{row.microsystem_id} {row.name}" for row in study.microsystems.itertuples(index=False)}


def single_item(study, characteristic: str) -> str:
    """The id of the one item that measures ``characteristic`` (an error if it has several)."""
    items = [item.id for item in study.instrument.items if item.characteristic == characteristic]
    if len(items) != 1:
        single = [c for c in dict.fromkeys(i.characteristic for i in study.instrument.items)
                  if sum(i.characteristic == c for i in study.instrument.items) == 1]
        raise ValueError(f"characteristic must be one measured by a single item, one of {single}; "
                         f"{characteristic!r} is measured by {len(items)} items")
    return items[0]


def answer_counts(answers: pd.DataFrame, *, by: str = "microsystem_id") -> pd.DataFrame:
    """How many answers fell on each level, said can't rate, or were skipped, per ``by``.

    Returns
    -------
    DataFrame indexed by ``by``: ``1 low``, ``2 middle``, ``3 high``, ``can't rate``, ``no answer``
    (counts, zero where nobody chose it).
    """
    kind = answers["answer"].to_numpy(dtype=object)
    level = answers["level"].to_numpy(dtype=object, na_value=None)
    outcome = [ANSWER_COLUMNS[int(v)] if k == "level" else ANSWER_COLUMNS.get(k, k) for k, v in zip(kind, level)]
    table = pd.crosstab(answers[by].to_numpy(), pd.Categorical(outcome, categories=list(ANSWER_COLUMNS.values())), dropna=False)
    table.index.name, table.columns.name = by, None
    table.columns = list(table.columns.astype(str))
    return table.astype("int64")


def contrasting_pair(study, *, characteristic: str, threshold: float | None = None, min_group_size: int = 5) -> pd.DataFrame:
    """Two units with (nearly) the same mean on ``characteristic`` whose staff agree on it
    in one and not in the other: the case for checking agreement before averaging.

    Among pairs of a unit whose agreement is ``shared`` and one whose agreement is
    ``not shared`` (:func:`workbench.agreement.characteristic_agreement`), the pair with
    the closest means is chosen; ties go to the larger difference in agreement, then to
    the smaller ids. ``characteristic`` must be measured by one item, so its agreement
    index is a plain rwg. ``threshold`` defaults to the workbench's
    (:data:`workbench.agreement.DEFAULT_AGREEMENT_THRESHOLD`).

    Returns
    -------
    DataFrame of two rows, the shared unit first: ``microsystem_id``, ``name``, ``n_rated``,
    ``mean``, ``sd``, ``rwg``, ``agreement``.
    """
    from workbench import agreement  # here, not at import: it loads scipy.stats, which lessons without agreement do not need

    threshold = agreement.DEFAULT_AGREEMENT_THRESHOLD if threshold is None else threshold
    item = single_item(study, characteristic)
    answers = study.answers[study.answers["item_id"].eq(item)]
    flags = agreement.characteristic_agreement(answers, n_levels=len(study.instrument.level_values), threshold=threshold,
                                               min_group_size=min_group_size)
    summary = survey.item_summary(answers, by=("microsystem_id",), levels=tuple(study.instrument.level_values))
    table = flags.merge(summary[["microsystem_id", "mean", "sd"]], on="microsystem_id").rename(columns={"agreement_index": "rwg"})
    pairs = table[table["agreement"].eq("shared")].merge(table[table["agreement"].eq("not shared")], how="cross", suffixes=("_a", "_b"))
    if pairs.empty:
        raise ValueError(f"no unit pair on {characteristic!r} has one shared and one unshared view at threshold={threshold}, "
                         f"min_group_size={min_group_size}; lower the threshold or choose another characteristic")
    pairs["mean_gap"] = (pairs["mean_a"] - pairs["mean_b"]).abs().round(9)
    pairs["rwg_gap"] = (pairs["rwg_a"] - pairs["rwg_b"]).round(9)
    best = pairs.sort_values(["mean_gap", "rwg_gap", "microsystem_id_a", "microsystem_id_b"], ascending=[True, False, True, True]).iloc[0]
    names = study.microsystems.set_index("microsystem_id")["name"]
    chosen = table.set_index("microsystem_id").loc[[best["microsystem_id_a"], best["microsystem_id_b"]]].reset_index()
    chosen.insert(1, "name", chosen["microsystem_id"].map(names))
    return chosen[["microsystem_id", "name", "n_rated", "mean", "sd", "rwg", "agreement"]]


def top_bottom(means: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, better: str, n: int = 10) -> pd.DataFrame:
    """Mean profile of the ``n`` units with the best ``outcome`` against the ``n`` with the worst.

    Units without the outcome are left out; ties on the outcome are broken by microsystem
    id, so the groups never depend on sort order. The middle units are left out on purpose:
    contrasting extremes is a first look, not a model.

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
