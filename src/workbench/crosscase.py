"""Comparing microsystems side by side: ordered by an outcome, survey against interview."""

from __future__ import annotations

import pandas as pd


def order_by_outcome(profile_wide: pd.DataFrame, outcomes: pd.DataFrame, *, outcome: str, better: str) -> pd.DataFrame:
    """Characteristic profiles (microsystem x characteristic) with ``outcome`` beside them,
    best microsystem first; microsystems without the outcome come last.

    Returns
    -------
    DataFrame indexed by ``microsystem_id``: the profile's columns, then ``outcome``,
    then ``outcome_rank`` (1 = best).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if outcome not in outcomes.columns:
        raise ValueError(f"outcome must be one of {[c for c in outcomes.columns if c != 'microsystem_id']}, got {outcome!r}")
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
    survey = profile_wide[shared].rename_axis(index="microsystem_id", columns="characteristic_id").stack().rename("survey_mean")
    interview = density[shared].rename_axis(index="microsystem_id", columns="characteristic_id").stack().rename("interview_density")
    return pd.concat([survey, interview], axis=1).reset_index()


def rank_correlations(pairs: pd.DataFrame, *, x: str = "survey_mean", y: str = "interview_density", by: str = "characteristic_id") -> pd.DataFrame:
    """Spearman correlation of ``x`` and ``y`` within each ``by`` group, with its n.

    Returns
    -------
    DataFrame: ``by``, ``n``, ``spearman_rho``.
    """
    rows = []
    for key, group in pairs.dropna(subset=[x, y]).groupby(by, sort=False):
        rows.append({by: key, "n": len(group), "spearman_rho": group[x].corr(group[y], method="spearman")})
    return pd.DataFrame(rows, columns=[by, "n", "spearman_rho"])
