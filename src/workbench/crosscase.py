"""Comparing microsystems side by side: ordered by an outcome, survey against interview."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MIN_UNITS_FOR_MODELS",
    "describe_types",
    "describe_typology",
    "export_table",
    "meta_matrix",
    "multilevel_outcome_association",
    "order_by_outcome",
    "outcome_associations",
    "rank_correlations",
    "small_sample_warning",
    "survey_against_interviews",
    "typology",
]


def order_by_outcome(
    profile_wide: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, better: str
) -> pd.DataFrame:
    """Characteristic profiles (microsystem x characteristic) with ``outcome`` beside them,
    best microsystem first; microsystems without the outcome come last.

    Returns
    -------
    DataFrame indexed by ``microsystem_id``: the profile's columns, then ``outcome``,
    then ``outcome_rank`` (1 = best).

    Examples
    --------
    >>> profile = pd.DataFrame({"leadership": [2.5, 1.8, 2.1]}, index=pd.Index(["A", "B", "C"], name="microsystem_id"))
    >>> outcomes = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "falls": [4.0, 1.0, None]})
    >>> order_by_outcome(profile, outcomes, outcome="falls", better="lower").reset_index()
      microsystem_id  leadership  falls  outcome_rank
    0              B         1.8    1.0             1
    1              A         2.5    4.0             2
    2              C         2.1    NaN          <NA>
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if outcome not in outcomes.columns:
        raise ValueError(
            f"outcome must be one of {[c for c in outcomes.columns if c != 'microsystem_id']}, got {outcome!r}"
        )
    values = outcomes.set_index("microsystem_id")[outcome]
    table = profile_wide.join(values, how="left")
    table = table.sort_values(outcome, ascending=(better == "lower"), na_position="last")
    table["outcome_rank"] = table[outcome].rank(ascending=(better == "lower"), method="min").astype("Int64")
    return table


def survey_against_interviews(profile_wide: pd.DataFrame, density: pd.DataFrame) -> pd.DataFrame:
    """Pair each microsystem's survey mean with its interview evidence, per characteristic.

    Parameters
    ----------
    profile_wide : microsystem x characteristic survey means.
    density : microsystem x code matrix of interview evidence (same characteristic ids).

    Returns
    -------
    Long DataFrame: ``microsystem_id``, ``characteristic_id``, ``survey_mean``, ``interview_density``.
    """
    shared = [c for c in profile_wide.columns if c in density.columns]
    axes = {"index": "microsystem_id", "columns": "characteristic_id"}
    survey = profile_wide[shared].rename_axis(**axes).stack().rename("survey_mean")
    interview = density[shared].rename_axis(**axes).stack().rename("interview_density")
    return pd.concat([survey, interview], axis=1).reset_index()


def rank_correlations(
    pairs: pd.DataFrame, *, x: str = "survey_mean", y: str = "interview_density", by: str = "characteristic_id"
) -> pd.DataFrame:
    """Spearman correlation of ``x`` and ``y`` within each ``by`` group, with its n.

    Returns
    -------
    DataFrame: ``by``, ``n``, ``spearman_rho``.
    """
    rows = []
    for key, group in pairs.dropna(subset=[x, y]).groupby(by, sort=False):
        rows.append({by: key, "n": len(group), "spearman_rho": group[x].corr(group[y], method="spearman")})
    return pd.DataFrame(rows, columns=[by, "n", "spearman_rho"])


def meta_matrix(
    profile: pd.DataFrame,
    unit_agreement: pd.DataFrame,
    density: pd.DataFrame,
    quotes: pd.DataFrame,
    *,
    order: list[str],
    characteristics: list[str],
) -> pd.DataFrame:
    """The case-ordered meta-matrix (joint display): survey and interview evidence side by side.

    Parameters
    ----------
    profile : :func:`workbench.survey.microsystem_profile` output.
    unit_agreement : :func:`workbench.agreement.characteristic_agreement` output.
    density : microsystem x characteristic coded segments per 1,000 words.
    quotes : one row per microsystem x characteristic with an ``excerpt`` (may be empty).
    order : microsystem ids, top row first (e.g. best outcome first).

    Returns
    -------
    DataFrame indexed by ``microsystem_id`` (in ``order``) with a two-level column index:
    characteristic x (``survey``, ``agreement``, ``interview_density``, ``quote``).
    """
    survey_means = profile.pivot(index="microsystem_id", columns="characteristic_id", values="mean")
    flags = unit_agreement.pivot(index="microsystem_id", columns="characteristic_id", values="agreement")
    quote = quotes.pivot(index="microsystem_id", columns="characteristic_id", values="excerpt")
    parts = {}
    for characteristic in characteristics:
        parts[characteristic] = pd.DataFrame({
            "survey": survey_means.get(characteristic),
            "agreement": flags.get(characteristic),
            "interview_density": density.get(characteristic),
            "quote": quote.get(characteristic) if characteristic in quote else None,
        }).reindex(order)
    table = pd.concat(parts, axis=1)
    table.index.name = "microsystem_id"
    return table


def typology(
    profile_wide: pd.DataFrame, *, k_range: tuple[int, int] = (2, 6), method: str = "ward"
) -> tuple[pd.Series, pd.DataFrame]:
    """Types of microsystem by hierarchical clustering of their profiles, the number of
    types chosen by the highest mean silhouette width within ``k_range``.

    Missing means are filled with the characteristic's mean over microsystems; microsystems
    with no mean at all are left out. ``k_range`` is narrowed to what the number of
    microsystems allows (at most one fewer types than microsystems); with fewer than three
    microsystems no types are formed (every microsystem is type 1, and no silhouette is tried).

    Returns
    -------
    (types, silhouettes): ``types`` maps each microsystem to a type number (1 = the type
    with the highest mean profile); ``silhouettes`` lists ``k`` and ``silhouette`` for each
    number of types tried, ``chosen`` marking the one used.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    values = profile_wide.astype(float).dropna(how="all")
    filled = values.fillna(values.mean())
    low, high = k_range
    if not 2 <= low <= high:
        raise ValueError(f"k_range must run from 2 up to a larger number of types, got {k_range}")
    high = min(high, len(filled) - 1)
    if high < low:
        empty = pd.DataFrame({"k": pd.Series(dtype="int64"), "silhouette": pd.Series(dtype="float64"),
                              "chosen": pd.Series(dtype="bool")})
        return pd.Series(1, index=filled.index, name="type"), empty
    tree = linkage(filled.to_numpy(), method=method)
    rows = []
    for k in range(low, high + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        silhouette = float(silhouette_score(filled.to_numpy(), labels)) if len(set(labels)) > 1 else np.nan
        rows.append({"k": k, "silhouette": silhouette})
    scores = pd.DataFrame(rows)
    best = int(scores.loc[scores["silhouette"].idxmax(), "k"])
    scores["chosen"] = scores["k"].eq(best)
    labels = pd.Series(fcluster(tree, best, criterion="maxclust"), index=filled.index)
    rank = filled.mean(axis=1).groupby(labels).mean().rank(ascending=False, method="first").astype(int)
    return labels.map(rank).rename("type"), scores


def describe_typology(types: pd.Series, silhouettes: pd.DataFrame) -> str:
    """One sentence on the types found, or on why none could be formed.

    Examples
    --------
    >>> describe_typology(pd.Series([1, 1], index=["A", "B"]), pd.DataFrame(columns=["k", "silhouette", "chosen"]))
    'Too few microsystems with a survey profile (2) to form types: at least 3 are needed.'
    """
    if silhouettes.empty:
        return f"Too few microsystems with a survey profile ({len(types)}) to form types: at least 3 are needed."
    chosen = silhouettes[silhouettes["chosen"]].iloc[0]
    return (f"{int(chosen['k'])} types of microsystem, chosen by the highest mean silhouette width "
            f"({chosen['silhouette']:.2f}) among {len(silhouettes)} numbers of types tried, "
            f"over {len(types)} microsystems.")


def describe_types(
    profile_wide: pd.DataFrame, types: pd.Series, outcomes: pd.DataFrame, *, outcome_ids: list[str]
) -> pd.DataFrame:
    """Each type's size, mean profile, how it differs from all microsystems, and its outcomes.

    Returns
    -------
    DataFrame indexed by type: ``microsystems``, the characteristics' means, ``distinguishing``
    (the characteristics furthest above and below the overall mean), and each outcome's mean.
    """
    means = profile_wide.groupby(types).mean()
    differences = means - profile_wide.mean()
    table = means.copy()
    table.insert(0, "microsystems", types.value_counts().reindex(means.index))
    table["distinguishing"] = [
        f"high: {row.idxmax()} ({row.max():+.2f}); low: {row.idxmin()} ({row.min():+.2f})"
        for _, row in differences.iterrows()
    ]
    outcome_means = outcomes.set_index("microsystem_id")[outcome_ids].groupby(types).mean()
    return table.join(outcome_means)


def outcome_associations(
    profile_wide: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, confidence: float = 0.95
) -> pd.DataFrame:
    """For each characteristic, an OLS of the (standardised) outcome on the (standardised)
    microsystem mean, with heteroscedasticity-robust (HC3) standard errors.

    One characteristic at a time, because 43 microsystems cannot carry eight predictors.

    Returns
    -------
    DataFrame: ``characteristic_id``, ``n``, ``standardised_effect`` (SDs of outcome per SD
    of characteristic), ``ci_low``, ``ci_high``, ``p``, ``note`` (why a row has no estimate:
    fewer than :data:`MIN_UNITS_FOR_MODELS` microsystems, or no variation).
    """
    import statsmodels.api as sm

    y_all = outcomes.set_index("microsystem_id")[outcome]
    rows = []
    for characteristic in profile_wide.columns:
        data = pd.concat([profile_wide[characteristic].rename("x"), y_all.rename("y")], axis=1).dropna()
        why = _cannot_model(len(data), data.std(ddof=1).min() if len(data) > 1 else 0.0)
        if why:
            rows.append({"characteristic_id": characteristic, "n": len(data), "standardised_effect": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "p": np.nan, "note": why})
            continue
        z = (data - data.mean()) / data.std(ddof=1)
        result = sm.OLS(z["y"], sm.add_constant(z["x"])).fit(cov_type="HC3")
        low, high = result.conf_int(alpha=1 - confidence).loc["x"]
        rows.append({
            "characteristic_id": characteristic,
            "n": len(data),
            "standardised_effect": float(result.params["x"]),
            "ci_low": float(low),
            "ci_high": float(high),
            "p": float(result.pvalues["x"]),
            "note": "",
        })
    columns = ["characteristic_id", "n", "standardised_effect", "ci_low", "ci_high", "p", "note"]
    return pd.DataFrame(rows, columns=columns)


MIN_UNITS_FOR_MODELS = 5  # fewer microsystems than this carry no model of an outcome worth printing


def _cannot_model(units: int, spread: float) -> str:
    """Why no model is fitted ("" when one is)."""
    if units < MIN_UNITS_FOR_MODELS:
        return f"too few microsystems ({units}; a model needs {MIN_UNITS_FOR_MODELS} or more)"
    if not spread > 0:
        return "no variation to model"
    return ""


def multilevel_outcome_association(
    scores: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, confidence: float = 0.95
) -> pd.DataFrame:
    """For each characteristic, a mixed model of respondents' scores on their unit's
    (standardised) outcome, with a random intercept per microsystem.

    Returns
    -------
    DataFrame: ``characteristic_id``, ``respondents``, ``microsystems``,
    ``level_difference_per_sd`` (difference in mean level per SD of outcome), ``ci_low``,
    ``ci_high``, ``p``, ``note`` (why a row has no estimate).
    """
    import warnings

    import statsmodels.formula.api as smf

    unit_outcome = outcomes.set_index("microsystem_id")[outcome]
    standardised = ((unit_outcome - unit_outcome.mean()) / unit_outcome.std(ddof=1)).rename("outcome_z")
    data = scores.dropna(subset=["score"]).join(standardised, on="microsystem_id").dropna(subset=["outcome_z"])
    rows = []
    for characteristic, part in data.groupby("characteristic_id", sort=False):
        units = part["microsystem_id"].nunique()
        why = _cannot_model(units, part["score"].std(ddof=1) if len(part) > 1 else 0.0)
        result = None
        if not why:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    result = smf.mixedlm("score ~ outcome_z", part, groups=part["microsystem_id"]).fit(reml=True)
                except (np.linalg.LinAlgError, ValueError) as error:  # a singular fit: say so, do not stop the report
                    why = f"the model could not be fitted ({type(error).__name__})"
        if result is None:
            rows.append({"characteristic_id": characteristic, "respondents": len(part), "microsystems": units,
                         "level_difference_per_sd": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan,
                         "note": why})
            continue
        low, high = result.conf_int(alpha=1 - confidence).loc["outcome_z"]
        rows.append({
            "characteristic_id": characteristic,
            "respondents": len(part),
            "microsystems": part["microsystem_id"].nunique(),
            "level_difference_per_sd": float(result.params["outcome_z"]),
            "ci_low": float(low),
            "ci_high": float(high),
            "p": float(result.pvalues["outcome_z"]),
            "note": "",
        })
    columns = ["characteristic_id", "respondents", "microsystems", "level_difference_per_sd", "ci_low", "ci_high", "p",
               "note"]
    return pd.DataFrame(rows, columns=columns)


def small_sample_warning(n_microsystems: int, n_predictors: int = 1) -> str:
    """A plain caution for outcome models on few microsystems."""
    return (
        f"With {n_microsystems} microsystems, each association rests on few cases: "
        "read the intervals, not the p-values; "
        f"{n_predictors} characteristic(s) per model at most, and none of this is causal."
    )


def export_table(table: pd.DataFrame, stem) -> list:
    """Write ``table`` as ``<stem>.csv`` and ``<stem>.xlsx`` (atomically); return the paths."""
    from pathlib import Path

    from workbench.io.files import atomic_path

    stem = Path(stem)
    flat = table.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [" | ".join(map(str, c)) for c in flat.columns]
    written = []
    writers = ((".csv", lambda f, p: f.to_csv(p)), (".xlsx", lambda f, p: f.to_excel(p, engine="openpyxl")))
    for suffix, writer in writers:
        target = stem.with_suffix(suffix)
        with atomic_path(target) as temporary:
            writer(flat, temporary)
        written.append(target)
    return written
