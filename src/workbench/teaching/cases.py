"""Small views of a study chosen for teaching: the unit profiles under an agreement policy a
lesson chooses, a pair of units that make the case for agreement (picked by the rule of
:func:`contrasting_pair`) and the words that tell it, answer counts, how unit means spread,
where shared and unshared means lie, and the top and bottom units on an outcome.

Apart from which pair to show, nothing here keeps a rule of its own: figures come from
:mod:`workbench.views` (with the study's disclosure policy applied), verdicts from an
:class:`~workbench.vocabulary.AgreementPolicy`, and level values and labels from the
study's :class:`~workbench.vocabulary.LevelScale`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER, NOT_SHARED, SHARED, AgreementPolicy, LevelScale

__all__ = [
    "KIND_COLUMNS", "SPLIT_SHARE", "agreement_policy", "answer_columns", "answer_counts", "characteristic_profiles",
    "contrasting_pair", "pair_story", "shared_by_quarter", "single_item", "spread_over_units",
    "top_bottom", "unit_labels",
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


# A unit is split between the ends of the scale when at least this share of the staff who
# rated an item chose its lowest level and at least this share its highest.
SPLIT_SHARE = 0.25


def contrasting_pair(study, *, characteristic: str, policy: AgreementPolicy | None = None,
                     tolerance: float = 0.1) -> pd.DataFrame:
    """Two units with (nearly) the same mean on ``characteristic`` whose staff agree on it
    as differently as the study allows: the case for checking agreement before averaging.

    The rule: among pairs of a unit whose agreement is ``shared`` and one whose agreement
    is ``not shared`` under ``policy`` (default: the study's; verdicts from
    :func:`characteristic_profiles`) and whose means differ by at most ``tolerance``
    levels, the pair whose unshared unit is split between the ends of the scale (``split``:
    at least :data:`SPLIT_SHARE` of its staff at the lowest level and as many at the
    highest) if any pair has one, and among those the largest difference in rwg; ties go
    to the larger difference in standard deviation, the closer means, the shared unit with
    more staff who rated, then the smaller ids. ``characteristic`` must be measured by one
    item, so its agreement index is a plain rwg. A unit with fewer people than the study's
    disclosure policy allows a figure for is never chosen.

    Returns
    -------
    DataFrame of two rows, the shared unit first: ``microsystem_id``, ``name``, ``n_rated``,
    ``mean``, ``sd`` (the item's figures, :func:`workbench.views.unit_items`), ``rwg``,
    ``agreement``, ``n_low`` and ``n_high`` (staff who chose the scale's lowest and highest
    level) and ``split``.
    """
    from workbench import views

    if not (isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool) and tolerance >= 0):
        raise ValueError(f"tolerance must be a number of levels, 0 or more, got {tolerance!r}")
    policy = study.agreement_policy if policy is None else policy
    item = single_item(study, characteristic)
    answers = study.answers[study.answers["item_id"].eq(item)]
    figures = views.unit_items(answers, scale=study.scale, policy=policy, disclosure=study.disclosure)
    verdicts = characteristic_profiles(study, characteristic, policy=policy)
    verdicts = verdicts[["microsystem_id", "agreement_index", "agreement"]].rename(columns={"agreement_index": "rwg"})
    table = figures[["microsystem_id", "n_rated", "mean", "sd"]].merge(verdicts, on="microsystem_id")
    counts = answer_counts(answers, scale=study.scale)
    ends = answer_columns(study.scale)
    table["n_low"] = table["microsystem_id"].map(counts[ends[study.scale.low]]).fillna(0).astype("int64")
    table["n_high"] = table["microsystem_id"].map(counts[ends[study.scale.high]]).fillna(0).astype("int64")
    rated = table["n_rated"].astype("float64")
    table["split"] = (table["n_low"] >= SPLIT_SHARE * rated) & (table["n_high"] >= SPLIT_SHARE * rated) & rated.gt(0)
    shared, not_shared = table[table["agreement"].eq(SHARED)], table[table["agreement"].eq(NOT_SHARED)]
    pairs = shared.merge(not_shared, how="cross", suffixes=("_a", "_b"))
    where = (f"threshold={policy.threshold}, min_cell_size={study.disclosure.min_cell_size}")
    if pairs.empty:
        raise ValueError(f"no unit pair on {characteristic!r} has one shared and one unshared view at {where}; "
                         "lower the threshold or choose another characteristic")
    pairs["mean_gap"] = (pairs["mean_a"] - pairs["mean_b"]).abs().round(9)
    close = pairs[pairs["mean_gap"].le(tolerance + 1e-9)].copy()
    if close.empty:
        raise ValueError(f"no unit pair on {characteristic!r} with one shared and one unshared view has means within "
                         f"tolerance={tolerance} levels (the closest differ by {pairs['mean_gap'].min():.2f}) at "
                         f"{where}; raise the tolerance or choose another characteristic")
    close["rwg_gap"] = (close["rwg_a"] - close["rwg_b"]).round(9)
    close["sd_gap"] = (close["sd_b"] - close["sd_a"]).round(9)
    best = close.sort_values(
        ["split_b", "rwg_gap", "sd_gap", "mean_gap", "n_rated_a", "microsystem_id_a", "microsystem_id_b"],
        ascending=[False, False, False, True, False, True, True], kind="stable").iloc[0]
    names = study.view("unit_overview").set_index("microsystem_id")["name"]
    chosen = table.set_index("microsystem_id").loc[[best["microsystem_id_a"], best["microsystem_id_b"]]].reset_index()
    chosen.insert(1, "name", chosen["microsystem_id"].map(names))
    return chosen[["microsystem_id", "name", "n_rated", "mean", "sd", "rwg", "agreement", "n_low", "n_high", "split"]]


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _away_from_mode(mode: str, rated: int, rest: list[tuple[str, int]]) -> str:
    if not rest:
        return f"everyone chose *{mode}*"
    away = sum(n for _, n in rest)
    others = _listed([f"{n} *{name}*" for name, n in rest])
    return f"{away} of {rated} chose a level other than *{mode}* ({others})"


def pair_story(study, pair: pd.DataFrame, *, characteristic: str) -> str:
    """How the staff of a :func:`contrasting_pair` answered, in Markdown worded from their
    answers: a line per unit with its answers level by level, then what sets the two apart.

    That the unshared unit (the second row) is split between the ends of the scale is said
    only when its ``split`` is true; otherwise the story says how many of its staff chose a
    level other than its most common one, against how many in the shared unit.
    """
    scale = study.scale
    item = single_item(study, characteristic)
    answers = study.answers
    answers = answers[answers["item_id"].eq(item) & answers["microsystem_id"].isin(pair["microsystem_id"])]
    counts = answer_counts(answers, scale=scale).reindex(pair["microsystem_id"], fill_value=0)
    columns = answer_columns(scale)
    label = study.characteristics.element(characteristic).label.lower()
    lines, spread = [], {}
    for row in pair.itertuples(index=False):
        levels = {name: int(counts.loc[row.microsystem_id, columns[value]]) for value, name in zip(scale.values,
                                                                                                     scale.names)}
        rated = sum(levels.values())
        chosen = [(name, n) for name, n in levels.items() if n]
        mode = max(levels, key=levels.get)  # the first of the most common levels
        spread[row.microsystem_id] = (mode, rated, [(name, n) for name, n in chosen if name != mode])
        if len(chosen) == 1:
            said = f"all {rated} staff who rated {label} chose *{mode}*"
        else:
            said = f"of {rated} staff who rated {label}, " + _listed(
                [f"{n} chose *{name}*" if i == 0 else f"{n} *{name}*" for i, (name, n) in enumerate(chosen)])
        lines.append(f"- **{row.microsystem_id}** ({row.name}), mean {row.mean:.2f}: {said}.")
    first, second = pair.iloc[0], pair.iloc[1]
    a, b = first["microsystem_id"], second["microsystem_id"]
    same = f"{first['mean']:.2f}" == f"{second['mean']:.2f}"
    means = (f"Both means are {first['mean']:.2f}" if same
             else f"The means are {first['mean']:.2f} and {second['mean']:.2f}")
    if bool(second["split"]):
        ending = (f"{means}, but {b}'s staff are split between *{scale.names[0]}* and *{scale.names[-1]}*: "
                  f"{int(second['n_low'])} of its {int(second['n_rated'])} at one end, {int(second['n_high'])} at "
                  "the other. Its mean lies between two groups of staff and describes neither.")
    else:
        ending = (f"{means}, but not the answers behind them: in {a}, {_away_from_mode(*spread[a])}; "
                  f"in {b}, {_away_from_mode(*spread[b])}. "
                  f"{b}'s staff are not split into two camps, yet its mean stands for a spread of views "
                  "rather than one view they share.")
    return "\n".join(lines) + "\n\n" + ending


def spread_over_units(means: pd.DataFrame) -> pd.DataFrame:
    """How each characteristic's unit means spread: one row per column of ``means`` (units
    as rows, characteristics as columns, blank where a unit has no mean).

    Returns
    -------
    DataFrame: ``characteristic_id``, ``units`` (with a mean), ``lowest``, ``lower_quartile``,
    ``median``, ``upper_quartile``, ``highest`` (quartiles interpolated as pandas' ``quantile``).

    Examples
    --------
    >>> means = pd.DataFrame({"m": [1.0, 2.0, 3.0, None]})
    >>> table = spread_over_units(means)
    >>> table["characteristic_id"].tolist(), table["units"].tolist(), table["lower_quartile"].tolist()
    (['m'], [3], [1.5])
    """
    values = means.astype("float64")
    table = pd.DataFrame({
        "units": values.notna().sum().astype("int64"),
        "lowest": values.min(), "lower_quartile": values.quantile(0.25), "median": values.median(),
        "upper_quartile": values.quantile(0.75), "highest": values.max(),
    })
    return table.rename_axis("characteristic_id").reset_index()


def shared_by_quarter(profiles: pd.DataFrame) -> pd.DataFrame:
    """Where the shared and the unshared means lie: the units of one characteristic's
    ``unit_profiles`` rows (as :func:`characteristic_profiles` gives them) in four groups of
    (nearly) equal size by their staff average, lowest first, with how many in each have a
    mean their report can call a shared view. Units with no staff average (too few people)
    are left out.

    Returns
    -------
    DataFrame: ``quarter`` (1 lowest to 4 highest), ``lowest_mean``, ``highest_mean``,
    ``units``, ``shared``, ``not_shared``.
    """
    rated = profiles[profiles["analysis_mean"].notna()].sort_values(["analysis_mean", "microsystem_id"])
    if len(rated) < 4:
        raise ValueError(f"profiles must hold at least 4 units with a staff average, got {len(rated)}")
    quarter = np.arange(len(rated)) * 4 // len(rated) + 1
    grouped = rated.assign(quarter=quarter, shared=rated["shared"].astype(bool)).groupby("quarter")
    table = pd.DataFrame({
        "lowest_mean": grouped["analysis_mean"].min(), "highest_mean": grouped["analysis_mean"].max(),
        "units": grouped.size(), "shared": grouped["shared"].sum().astype("int64"),
    })
    table["not_shared"] = table["units"] - table["shared"]
    return table.reset_index()


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
