"""Do roles see their microsystem differently? Role gaps in the self-assessment.

Two models, both respecting that respondents are nested in microsystems:

* an ordinal logistic regression (statsmodels ``OrderedModel``) of each item's level on
  role, with standard errors clustered by microsystem: the odds of answering at a
  higher level, for each role against a reference role;
* a linear mixed model (statsmodels ``MixedLM``) of each respondent's mean level on role,
  with a random intercept per microsystem: the difference in mean level against the
  reference role, after allowing for which unit people work in.

Results are tidy tables (estimate, 95% CI, p) plus a plain-language line for each.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["describe_mixed", "describe_ordinal", "mixed_role_gaps", "ordinal_role_gaps"]


def _reference(roles: pd.Series, reference_role: str | None) -> str:
    if reference_role is None:
        return str(roles.value_counts().index[0])
    if reference_role not in set(roles):
        raise ValueError(
            f"reference_role must be one of the roles present {sorted(set(roles))}, got {reference_role!r}"
        )
    return reference_role


def _enough(frame: pd.DataFrame, min_answers: int) -> tuple[pd.DataFrame, list[str]]:
    counts = frame["role"].value_counts()
    too_few = sorted(counts[counts < min_answers].index)
    return frame[~frame["role"].isin(too_few)], too_few


def ordinal_role_gaps(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    reference_role: str | None = None,
    min_answers: int = 20,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per item, an ordinal logit of level on role with microsystem-clustered standard errors.

    Roles with fewer than ``min_answers`` rated answers to an item are left out of that
    item's model (named in ``roles_left_out``). The reference role defaults to the
    most common one.

    Returns
    -------
    DataFrame: ``item_id``, ``role``, ``reference_role``, ``odds_ratio``, ``ci_low``,
    ``ci_high``, ``p``, ``n_answers``, ``n_microsystems``, ``roles_left_out``.
    """
    from scipy import stats
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rated = answers[answers["level"].notna()]
    reference = _reference(rated["role"], reference_role)
    items = list(dict.fromkeys(rated["item_id"])) if items is None else items
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for item in items:
        data, left_out = _enough(rated[rated["item_id"] == item], min_answers)
        roles = [r for r in sorted(data["role"].unique()) if r != reference]
        if reference not in set(data["role"]) or not roles or data["level"].nunique() < 2:
            continue
        design = pd.DataFrame({role: data["role"].eq(role).astype(float) for role in roles}, index=data.index)
        model = OrderedModel(data["level"].astype(int).to_numpy(), design.to_numpy(), distr="logit")
        groups = pd.factorize(data["microsystem_id"])[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(method="bfgs", disp=False, maxiter=500, cov_type="cluster", cov_kwds={"groups": groups})
        for position, role in enumerate(roles):
            estimate, error = fit.params[position], fit.bse[position]
            rows.append({
                "item_id": item, "role": role, "reference_role": reference,
                "odds_ratio": float(np.exp(estimate)), "ci_low": float(np.exp(estimate - z * error)),
                "ci_high": float(np.exp(estimate + z * error)), "p": float(fit.pvalues[position]),
                "n_answers": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
                "roles_left_out": ", ".join(left_out),
            })
    return pd.DataFrame(rows, columns=["item_id", "role", "reference_role", "odds_ratio", "ci_low", "ci_high", "p",
                                       "n_answers", "n_microsystems", "roles_left_out"])


def mixed_role_gaps(
    scores: pd.DataFrame,
    *,
    reference_role: str | None = None,
    min_respondents: int = 20,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.Series]:
    """Linear mixed model of each respondent's mean level on role, random intercept per microsystem.

    Parameters
    ----------
    scores : :func:`workbench.survey.respondent_scores` output; the respondent's overall
        score is the mean of their characteristic scores.

    Returns
    -------
    (table, model): ``table`` has ``role``, ``reference_role``, ``difference`` (in mean
    level, against the reference role), ``ci_low``, ``ci_high``, ``p``, ``n_respondents``;
    ``model`` has ``n_respondents``, ``n_microsystems``, ``microsystem_variance``,
    ``residual_variance``, ``icc``, ``roles_left_out``.
    """
    import statsmodels.formula.api as smf

    overall = (
        scores.groupby(["respondent_id", "microsystem_id", "role"], sort=False)["score"].mean().dropna().reset_index()
    )
    data, left_out = _enough(overall, min_respondents)
    if data["role"].nunique() < 2 or data["microsystem_id"].nunique() < 2:
        # Nothing to compare: fewer than two roles with enough respondents, or a single unit.
        columns = ["role", "reference_role", "difference", "ci_low", "ci_high", "p", "n_respondents"]
        model = pd.Series({"n_respondents": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
                           "microsystem_variance": np.nan, "residual_variance": np.nan, "icc": np.nan,
                           "roles_left_out": ", ".join(left_out)})
        return pd.DataFrame(columns=columns), model
    reference = _reference(data["role"], reference_role)
    roles = [r for r in sorted(data["role"].unique()) if r != reference]
    data = data.assign(role=pd.Categorical(data["role"], categories=[reference, *roles]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("score ~ C(role)", data, groups=data["microsystem_id"]).fit(reml=True)
    interval = fit.conf_int(alpha=1 - confidence)
    rows = []
    for role in roles:
        term = f"C(role)[T.{role}]"
        rows.append({"role": role, "reference_role": reference, "difference": float(fit.params[term]),
                     "ci_low": float(interval.loc[term, 0]), "ci_high": float(interval.loc[term, 1]),
                     "p": float(fit.pvalues[term]), "n_respondents": int(data["role"].eq(role).sum())})
    between = float(fit.cov_re.iloc[0, 0])
    model = pd.Series({"n_respondents": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
                       "microsystem_variance": between, "residual_variance": float(fit.scale),
                       "icc": between / (between + float(fit.scale)), "roles_left_out": ", ".join(left_out)})
    return pd.DataFrame(rows), model


def describe_ordinal(table: pd.DataFrame, *, item_labels: dict[str, str] | None = None) -> list[str]:
    """One plain sentence per clear role gap (95% CI excluding no difference)."""
    labels = item_labels or {}
    lines = []
    for row in table.itertuples(index=False):
        if row.ci_low > 1 or row.ci_high < 1:
            direction = "higher" if row.odds_ratio > 1 else "lower"
            lines.append(
                f"{row.role} respondents rate '{labels.get(row.item_id, row.item_id)}' {direction} "
                f"than {row.reference_role.lower()} respondents: "
                f"odds of a higher level x{row.odds_ratio:.2f} (95% CI {row.ci_low:.2f} to {row.ci_high:.2f})."
            )
    return lines or [
        "No role differs clearly from the reference role on any item (every 95% interval includes no difference)."
    ]


def describe_mixed(table: pd.DataFrame, *, model: pd.Series | None = None) -> list[str]:
    """One plain sentence per role from the mixed model (or one saying why there is none), then,
    given the ``model``, the share of the variance that lies between microsystems."""
    if table.empty:
        return ["No role comparison: fewer than two roles have enough respondents in more than one unit."]
    lines = []
    for row in table.itertuples(index=False):
        clear = row.ci_low > 0 or row.ci_high < 0
        verdict = ("higher" if row.difference > 0 else "lower") if clear else "about the same as"
        lines.append(
            f"{row.role}: mean level {verdict}{' than' if clear else ''} "
            f"{row.reference_role.lower()} staff in the same units "
            f"({row.difference:+.2f} levels, 95% CI {row.ci_low:+.2f} to {row.ci_high:+.2f})."
        )
    if model is not None and np.isfinite(model["icc"]):
        lines.append(f"Microsystems account for {model['icc']:.0%} of the variance in respondents' mean level.")
    return lines
