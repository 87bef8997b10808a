"""Do roles see their microsystem differently? Role gaps in the self-assessment.

The role mix differs strongly between units, so a gap between roles across the whole study
can simply say which units employ a role. Every model is therefore fitted twice:

* **pooled** -- all respondents compared as one population, standard errors clustered by
  microsystem (respondents of a unit are not independent);
* **within units** -- the same comparison among people of the same unit (unit fixed
  effects): only differences between colleagues count. A unit whose every answer to an
  item is the lowest (or the highest) level says nothing about roles and is left out of
  that item's model, by name; a role that never works beside the others gets no estimate.

Where the two disagree -- opposite directions, or one clear and the other not -- a plain
sentence says so. Odds ratios are not collapsible: when units differ a lot, the within-unit
odds ratio runs further from 1 than the pooled one even with the same role mix everywhere,
so the sentences compare direction and clarity, not size.

Models:

* an ordinal (cumulative) logistic regression of each item's level on role, fitted by
  Newton-Raphson with the analytic gradient and Hessian (:func:`cumulative_logit`, the
  model of R's ``ordinal::clm``, matched to 1e-8): the odds of answering at a higher level,
  for each role against a reference role;
* a linear mixed model (statsmodels ``MixedLM``, as R's ``lme4::lmer(score ~ role +
  (1 | unit))``) of each respondent's mean level on role, with a random intercept per
  microsystem, beside the within-unit (fixed-effects) estimate of the same difference.

Many item x role comparisons are read at once, so each model's family of comparisons gets
Holm and Benjamini-Hochberg adjusted p-values (statsmodels ``multipletests``); the plain
sentences read the adjusted p and say which family and method.

Results are tidy tables (estimate, 95% CI, p, adjusted p) plus plain-language lines.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "ADJUSTMENTS",
    "CumulativeLogit",
    "cumulative_logit",
    "describe_mixed",
    "describe_ordinal",
    "mixed_role_gaps",
    "ordinal_role_gaps",
]

#: Multiplicity adjustments offered: name in the tables -> (statsmodels method, words in sentences).
ADJUSTMENTS = {"holm": ("holm", "Holm"), "bh": ("fdr_bh", "Benjamini-Hochberg")}

# A log odds ratio this large (odds x 22,000) only arises when a role or unit is separated
# (all its answers beyond every other's): the estimate runs off to infinity and is not reported.
_SEPARATED = 10.0


@dataclass
class CumulativeLogit:
    """A fitted cumulative logit model, ``P(level <= j) = logistic(threshold_j - x'beta)`` (R ``clm``'s form).

    ``cov`` is the model-based covariance (inverse observed information) of thresholds then
    coefficients, as ``vcov()`` of ``clm``; ``cov_cluster`` the cluster-robust (CRV1)
    covariance when groups were given, with the small-sample factor
    G/(G-1) (N-1)/(N-K) that statsmodels and Stata use.
    """

    thresholds: pd.Series
    coefficients: pd.Series
    cov: pd.DataFrame
    cov_cluster: pd.DataFrame | None
    loglik: float
    n_obs: int
    n_iter: int
    max_grad: float
    converged: bool
    separated: list[str] = field(default_factory=list)

    def se(self, kind: str = "model") -> pd.Series:
        """Standard errors of thresholds and coefficients: ``"model"`` (as ``clm``) or ``"cluster"``."""
        cov = self.cov if kind == "model" else self.cov_cluster
        if cov is None:
            raise ValueError("no cluster-robust covariance: the model was fitted without groups")
        return pd.Series(np.sqrt(np.diag(cov.to_numpy())), index=cov.index)


def _log_cell_probabilities(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    # P = F(upper) - F(lower); when both sit in the right tail the difference of two numbers
    # near 1 loses digits, so take it as the difference of the two survival probabilities.
    from scipy.special import expit

    right = lower > 0
    p = np.where(right, expit(-lower) - expit(-upper), expit(upper) - expit(lower))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p)


def cumulative_logit(
    levels: np.ndarray | pd.Series,
    design: pd.DataFrame,
    *,
    groups: np.ndarray | pd.Series | None = None,
    tolerance: float = 1e-10,
    max_iter: int = 100,
) -> CumulativeLogit:
    """Maximum-likelihood cumulative (proportional-odds) logit, by Newton-Raphson.

    The model is R ``ordinal::clm``'s: ``P(Y <= j | x) = logistic(theta_j - x'beta)``, so a
    positive coefficient means higher levels are more likely. The log-likelihood is concave,
    so Newton steps with step-halving reach the maximum from the marginal thresholds; the
    analytic gradient and Hessian let the fit stop only when the largest gradient component
    is below ``tolerance`` (R ``clm`` stops at 1e-6 by default; the difference in estimates
    is then below 1e-8).

    Parameters
    ----------
    levels : ordered answer levels (integers); only the levels observed are categories.
    design : one column per covariate (no intercept: the thresholds are the intercepts).
    groups : cluster labels for the cluster-robust covariance (optional).
    tolerance, max_iter : convergence criterion on the largest absolute gradient component.

    Returns
    -------
    CumulativeLogit
        Coefficients whose absolute value exceeds 10 (a separated covariate) are named in
        ``separated``; their estimates and standard errors are not meaningful.

    Examples
    --------
    Two levels make it a logistic regression: the odds ratio of a binary covariate is the
    cross-product ratio of the 2x2 table (here (3*3)/(1*1) = 9).

    >>> import pandas as pd
    >>> x = pd.DataFrame({"b": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> fit = cumulative_logit([1, 1, 1, 2, 1, 2, 2, 2], x)
    >>> round(float(np.exp(fit.coefficients["b"])), 6), fit.converged
    (9.0, True)
    """
    from scipy.special import expit

    observed = np.asarray(levels)
    categories = np.unique(observed)
    if len(categories) < 2:
        raise ValueError("an ordinal model needs at least two observed levels")
    y = np.searchsorted(categories, observed)
    x = np.asarray(design, dtype=float)
    n, k = x.shape
    n_thresholds = len(categories) - 1
    n_params = n_thresholds + k
    # Each answer's likelihood involves its upper threshold (none for the top level) and its
    # lower threshold (none for the bottom level). One-hot rows of the parameters they move.
    has_upper, has_lower = y < n_thresholds, y > 0
    upper_rows = np.zeros((n, n_params))
    upper_rows[np.flatnonzero(has_upper), y[has_upper]] = 1.0
    lower_rows = np.zeros((n, n_params))
    lower_rows[np.flatnonzero(has_lower), y[has_lower] - 1] = 1.0
    upper_rows[:, n_thresholds:] = -x
    lower_rows[:, n_thresholds:] = -x

    def pieces(params: np.ndarray):
        theta, beta = params[:n_thresholds], params[n_thresholds:]
        eta = x @ beta
        upper = np.where(has_upper, np.concatenate([theta, [0.0]])[y] - eta, np.inf)
        lower = np.where(has_lower, np.concatenate([[0.0], theta])[y] - eta, -np.inf)
        return upper, lower

    def loglik(params: np.ndarray) -> float:
        theta = params[:n_thresholds]
        if np.any(np.diff(theta) <= 0):
            return -np.inf
        value = _log_cell_probabilities(*pieces(params)).sum()
        return float(value) if np.isfinite(value) else -np.inf

    def derivatives(params: np.ndarray):
        upper, lower = pieces(params)
        p = np.exp(_log_cell_probabilities(upper, lower))
        f_upper, f_lower = expit(upper), expit(lower)
        d_upper, d_lower = f_upper * (1 - f_upper), f_lower * (1 - f_lower)  # logistic densities
        g_upper, g_lower = d_upper / p, -d_lower / p  # d log p / d upper, d log p / d lower
        h_uu = d_upper * (1 - 2 * f_upper) / p - g_upper**2
        h_ll = -d_lower * (1 - 2 * f_lower) / p - g_lower**2
        h_ul = -g_upper * g_lower
        scores = g_upper[:, None] * upper_rows + g_lower[:, None] * lower_rows
        cross = upper_rows.T @ (h_ul[:, None] * lower_rows)
        hessian = (upper_rows.T @ (h_uu[:, None] * upper_rows) + lower_rows.T @ (h_ll[:, None] * lower_rows)
                   + cross + cross.T)
        return scores, hessian

    cumulative = np.cumsum(np.bincount(y, minlength=len(categories)))[:-1] / n
    params = np.concatenate([np.log(cumulative / (1 - cumulative)), np.zeros(k)])
    current = loglik(params)
    converged, iteration = False, 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        scores, hessian = derivatives(params)
        gradient = scores.sum(axis=0)
        if np.max(np.abs(gradient)) < tolerance:
            converged = True
            break
        try:
            step = np.linalg.solve(hessian, -gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian, -gradient, rcond=None)[0]
        for _ in range(60):  # halve until the likelihood does not fall (it is concave: this ends)
            candidate = params + step
            value = loglik(candidate)
            if value >= current - 1e-12 * abs(current):
                break
            step = step / 2
        else:
            break
        params, current = candidate, value
    scores, hessian = derivatives(params)
    gradient = scores.sum(axis=0)
    converged = converged or bool(np.max(np.abs(gradient)) < tolerance)

    threshold_names = [f"{a}|{b}" for a, b in zip(categories[:-1], categories[1:])]
    names = threshold_names + [str(c) for c in design.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cov = np.linalg.inv(-hessian)
        except np.linalg.LinAlgError:
            cov = np.full((n_params, n_params), np.nan)
    cov_cluster = None
    if groups is not None:
        labels = pd.factorize(np.asarray(groups))[0]
        n_groups = labels.max() + 1
        by_group = np.zeros((n_groups, n_params))
        np.add.at(by_group, labels, scores)
        meat = by_group.T @ by_group
        factor = n_groups / (n_groups - 1) * (n - 1) / (n - n_params) if n_groups > 1 and n > n_params else np.nan
        cov_cluster = pd.DataFrame(factor * cov @ meat @ cov, index=names, columns=names)
    beta = params[n_thresholds:]
    return CumulativeLogit(
        thresholds=pd.Series(params[:n_thresholds], index=threshold_names),
        coefficients=pd.Series(beta, index=[str(c) for c in design.columns]),
        cov=pd.DataFrame(cov, index=names, columns=names), cov_cluster=cov_cluster, loglik=current,
        n_obs=n, n_iter=iteration, max_grad=float(np.max(np.abs(gradient))), converged=converged,
        separated=[str(c) for c, b in zip(design.columns, beta) if abs(b) > _SEPARATED],
    )


def _one_blas_thread():
    """Run small dense linear algebra on one thread.

    The matrices here are a few hundred rows by ~50 columns: a multi-threaded BLAS spends
    far longer waking and synchronising threads than computing (10-100x slower on a busy
    two-core machine). threadpoolctl comes with scikit-learn, a dependency.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - only slower without it
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _reference(roles: pd.Series, reference_role: str | None) -> str:
    if reference_role is None:
        # The most common role; a tie goes to the one met first (roles may be categories, whose
        # value_counts would break ties by category order instead).
        codes, uniques = pd.factorize(roles)
        return str(uniques[np.bincount(codes[codes >= 0]).argmax()])
    if reference_role not in set(roles):
        raise ValueError(
            f"reference_role must be one of the roles present {sorted(set(roles))}, got {reference_role!r}"
        )
    return reference_role


def _enough(frame: pd.DataFrame, min_answers: int) -> tuple[pd.DataFrame, list[str]]:
    counts = frame["role"].value_counts()
    counts = counts[counts > 0]  # categories list roles with no answer here: they are not left out, just absent
    too_few = sorted(counts[counts < min_answers].index)
    return frame[~frame["role"].isin(too_few)], too_few


def _dummies(values: pd.Series, categories: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: values.eq(c).to_numpy(dtype=float) for c in categories}, index=values.index)


def _adjusted(p: pd.Series) -> dict[str, pd.Series]:
    """Holm and Benjamini-Hochberg adjusted p over the finite p-values of one family."""
    from statsmodels.stats.multitest import multipletests

    out = {name: pd.Series(np.nan, index=p.index) for name in ADJUSTMENTS}
    finite = p.notna()
    if finite.any():
        for name, (method, _) in ADJUSTMENTS.items():
            out[name][finite] = multipletests(p[finite].to_numpy(), method=method)[1]
    return out


def _disagreement(pooled: float, p_pooled: float, within: float, p_within: float, alpha: float, null: float) -> str:
    """How a pooled and a within-unit estimate disagree ('' when they agree or one is missing)."""
    if not (np.isfinite(pooled) and np.isfinite(within)):
        return ""
    if (pooled - null) * (within - null) < 0:
        return "opposite direction"
    clear_pooled, clear_within = p_pooled < alpha, p_within < alpha
    if clear_pooled and not clear_within:
        return "clear pooled only"
    if clear_within and not clear_pooled:
        return "clear within units only"
    return ""


def _check_adjust(adjust: str) -> None:
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"adjust must be one of {sorted(ADJUSTMENTS)}, got {adjust!r}")


_ORDINAL_COLUMNS = [
    "item_id", "role", "reference_role",
    "odds_ratio", "ci_low", "ci_high", "p", "p_holm", "p_bh",
    "within_odds_ratio", "within_ci_low", "within_ci_high", "within_p", "within_p_holm", "within_p_bh",
    "disagreement", "n_answers", "n_microsystems", "within_n_answers", "within_n_microsystems",
    "n_units_with_others", "within_units_left_out", "note", "roles_left_out",
]


def _role_rows(fit: CumulativeLogit, roles: list[str], kind: str, z: float) -> dict[str, dict[str, float]]:
    from scipy import stats

    se = fit.se(kind)
    out = {}
    for role in roles:
        if role not in fit.coefficients.index or role in fit.separated or not fit.converged:
            out[role] = {"odds_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
            continue
        estimate, error = float(fit.coefficients[role]), float(se[role])
        out[role] = {"odds_ratio": float(np.exp(estimate)), "ci_low": float(np.exp(estimate - z * error)),
                     "ci_high": float(np.exp(estimate + z * error)),
                     "p": float(2 * stats.norm.sf(abs(estimate / error)))}
    return out


def _unidentified(matrix: np.ndarray, roles: list[str], *, offset: int = 0) -> list[str]:
    """Roles (columns ``offset``, ``offset + 1``, ... of ``matrix``) whose coefficient the data cannot identify.

    A role column that adds nothing to the rank is a combination of the others -- in a
    within-unit model, a role that never works beside the roles it would be compared with.
    """
    rank = np.linalg.matrix_rank(matrix)
    if rank == matrix.shape[1]:
        return []
    keep, out = list(range(matrix.shape[1])), []
    for position, role in enumerate(roles, start=offset):
        trial = [k for k in keep if k != position]
        if np.linalg.matrix_rank(matrix[:, trial]) == rank:
            keep, out = trial, [*out, role]
    return out


def _within_ordinal(data: pd.DataFrame, roles: list[str], kind: str, z: float):
    """The unit fixed-effects ordinal model of one item: (per-role results, answers used, units used, dropped, note)."""
    # A unit whose every answer is the lowest (or the highest) level has an infinite unit
    # effect and says nothing about roles: left out (R's clm would report a huge coefficient).
    # Leaving units out can empty a level, making another unit's answers extreme: repeat.
    dropped: list[str] = []
    kept = data
    while not kept.empty:
        levels = kept["level"].astype(int)
        by_unit = levels.groupby(kept["microsystem_id"])
        extreme = (by_unit.max() == levels.min()) | (by_unit.min() == levels.max())
        if not extreme.any():
            break
        dropped = sorted([*dropped, *extreme[extreme].index])
        kept = kept[~kept["microsystem_id"].isin(dropped)]
    empty = {role: {"odds_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan} for role in roles}
    if kept.empty or kept["level"].nunique() < 2 or kept["microsystem_id"].nunique() < 2:
        return empty, len(kept), int(kept["microsystem_id"].nunique()), dropped, "too few informative units"
    units = sorted(kept["microsystem_id"].unique())
    roles_design = _dummies(kept["role"], roles)
    unit_design = _dummies(kept["microsystem_id"], units[1:]).add_prefix("unit:")
    design = pd.concat([roles_design, unit_design], axis=1)
    # A role seen only in units without any other compared role has no within-unit contrast.
    unidentified = _unidentified(np.column_stack([np.ones(len(design)), design.to_numpy()]),
                                 roles, offset=1)
    design = design.drop(columns=unidentified)
    fit = cumulative_logit(kept["level"].astype(int).to_numpy(), design, groups=kept["microsystem_id"].to_numpy())
    results = _role_rows(fit, [r for r in roles if r not in unidentified], kind, z)
    notes = [f"no within-unit contrast for {', '.join(unidentified)}"] if unidentified else []
    return ({**empty, **results}, len(kept), len(units), dropped, "; ".join(notes + _fit_notes(fit, roles)))


def _fit_notes(fit: CumulativeLogit, roles: list[str]) -> list[str]:
    """Why some of a fit's role estimates are missing."""
    separated = [role for role in fit.separated if role in roles]
    notes = [f"separated, not estimable: {', '.join(separated)}"] if separated else []
    return notes + ([] if fit.converged else ["did not converge"])


def _item_rows(item: str, data: pd.DataFrame, reference: str, left_out: list[str], kind: str, z: float) -> list[dict]:
    """The pooled and within-unit rows of one item (none when there is nothing to compare)."""
    roles = [r for r in sorted(data["role"].unique()) if r != reference]
    if reference not in set(data["role"]) or not roles or data["level"].nunique() < 2:
        return []
    fit = cumulative_logit(data["level"].astype(int).to_numpy(), _dummies(data["role"], roles),
                           groups=data["microsystem_id"].to_numpy())
    pooled = _role_rows(fit, roles, kind, z)
    within, n_within, units_within, dropped, within_note = _within_ordinal(data, roles, kind, z)
    notes = [f"pooled: {text}" for text in _fit_notes(fit, roles)]
    notes += [f"within units: {within_note}"] if within_note else []
    kept = data[~data["microsystem_id"].isin(dropped)]
    roles_per_unit = kept.groupby("microsystem_id")["role"].nunique()
    rows = []
    for role in roles:
        shared = kept.loc[kept["role"].eq(role), "microsystem_id"].unique()
        rows.append({
            "item_id": item, "role": role, "reference_role": reference, **pooled[role],
            **{f"within_{key}": value for key, value in within[role].items()},
            "n_answers": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
            "within_n_answers": n_within, "within_n_microsystems": units_within,
            "n_units_with_others": int((roles_per_unit.reindex(shared) > 1).sum()),
            "within_units_left_out": ", ".join(dropped), "note": "; ".join(notes),
            "roles_left_out": ", ".join(left_out),
        })
    return rows


def ordinal_role_gaps(
    answers: pd.DataFrame,
    *,
    items: list[str] | None = None,
    reference_role: str | None = None,
    min_answers: int = 20,
    confidence: float = 0.95,
    se: str = "cluster",
    adjust: str = "holm",
) -> pd.DataFrame:
    """Per item and role, the odds of a higher level against the reference role: pooled and within units.

    Two cumulative logit models per item (:func:`cumulative_logit`, R ``clm``'s model):

    * pooled -- ``level ~ role``, every respondent of the study compared as one population;
    * within units -- ``level ~ role + unit`` (unit fixed effects), only colleagues of the
      same unit compared. Units whose every answer to the item is the lowest level, or every
      answer the highest, have no finite unit effect and no information about roles: they
      are left out of that item's within model and named in ``within_units_left_out``.

    Roles with fewer than ``min_answers`` rated answers to an item are left out of both of
    that item's models (named in ``roles_left_out``). The reference role defaults to the most
    common one.

    Parameters
    ----------
    se : ``"cluster"`` (default) for standard errors robust to the clustering of respondents
        in microsystems (CRV1, in both models), ``"model"`` for model-based ones (as printed by ``clm``).
    adjust : the adjusted p read for ``disagreement`` (``"holm"`` or ``"bh"``); both are in the table.

    Returns
    -------
    DataFrame, one row per item x role: ``item_id``, ``role``, ``reference_role``;
    pooled ``odds_ratio``, ``ci_low``, ``ci_high``, ``p``, ``p_holm``, ``p_bh``; within-unit
    ``within_odds_ratio``, ``within_ci_low``, ``within_ci_high``, ``within_p``,
    ``within_p_holm``, ``within_p_bh``; ``disagreement`` (``"opposite direction"``,
    ``"clear pooled only"``, ``"clear within units only"`` or ``""``, at the ``adjust``-ed
    p below 1 - ``confidence``); ``n_answers``, ``n_microsystems``, ``within_n_answers``,
    ``within_n_microsystems``, ``n_units_with_others`` (units of the within model where the
    role works beside another compared role: where its within-unit contrast comes from),
    ``within_units_left_out``, ``note`` (why an estimate is missing), ``roles_left_out``.

    The multiplicity family of each adjusted p is every item x role comparison of the
    same model in the table (pooled and within-unit adjusted separately). Intervals are
    unadjusted.
    """
    from scipy import stats

    if se not in ("cluster", "model"):
        raise ValueError(f"se must be 'cluster' or 'model', got {se!r}")
    _check_adjust(adjust)
    rated = answers[answers["level"].notna()]
    reference = _reference(rated["role"], reference_role)
    items = list(dict.fromkeys(rated["item_id"])) if items is None else items
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    with _one_blas_thread():
        for item in items:
            data, left_out = _enough(rated[rated["item_id"] == item], min_answers)
            rows.extend(_item_rows(item, data, reference, left_out, se, z))
    table = pd.DataFrame(rows, columns=[c for c in _ORDINAL_COLUMNS if c not in ("p_holm", "p_bh", "within_p_holm",
                                                                                  "within_p_bh", "disagreement")])
    for prefix in ("", "within_"):
        for name, values in _adjusted(table[f"{prefix}p"]).items():
            table[f"{prefix}p_{name}"] = values.to_numpy(dtype=float)
    alpha = 1 - confidence
    table["disagreement"] = [
        _disagreement(r["odds_ratio"], r[f"p_{adjust}"], r["within_odds_ratio"], r[f"within_p_{adjust}"], alpha, 1.0)
        for _, r in table.iterrows()
    ]
    return table[_ORDINAL_COLUMNS]


_MIXED_COLUMNS = [
    "role", "reference_role", "difference", "ci_low", "ci_high", "p", "p_holm", "p_bh",
    "within_difference", "within_ci_low", "within_ci_high", "within_p", "within_p_holm", "within_p_bh",
    "disagreement", "n_respondents", "n_units_with_others",
]


def _within_linear(data: pd.DataFrame, roles: list[str], confidence: float) -> dict[str, dict[str, float]]:
    """Within-unit role differences in ``score``: least squares with unit fixed effects, model-based errors.

    Score and role indicators are centred on their unit means (Frisch-Waugh-Lovell: the same
    coefficients and errors as R's ``lm(score ~ role + factor(unit))``, with n - units -
    roles residual degrees of freedom), which keeps the matrices a few columns wide.
    """
    from scipy import stats

    unit = data["microsystem_id"]
    indicators = _dummies(data["role"].astype(str), roles)
    centred = (indicators - indicators.groupby(unit).transform("mean")).to_numpy()
    y = (data["score"] - data["score"].groupby(unit).transform("mean")).to_numpy(dtype=float)
    unidentified = _unidentified(centred, roles)
    kept = [role for role in roles if role not in unidentified]
    x = centred[:, [roles.index(role) for role in kept]]
    empty = {"within_difference": np.nan, "within_ci_low": np.nan, "within_ci_high": np.nan, "within_p": np.nan}
    out = {role: dict(empty) for role in roles}
    df_resid = len(y) - unit.nunique() - len(kept)
    if not kept or df_resid <= 0:
        return out
    coef = np.linalg.solve(x.T @ x, x.T @ y)
    cov = float(np.sum((y - x @ coef) ** 2) / df_resid) * np.linalg.inv(x.T @ x)
    t = stats.t.ppf(0.5 + confidence / 2, df_resid)
    for position, role in enumerate(kept):
        estimate, error = float(coef[position]), float(np.sqrt(cov[position, position]))
        out[role] = {"within_difference": estimate, "within_ci_low": estimate - t * error,
                     "within_ci_high": estimate + t * error,
                     "within_p": float(2 * stats.t.sf(abs(estimate / error), df_resid))}
    return out


def _mixed_fixed_effects(fit, groups: pd.Series, confidence: float) -> pd.DataFrame:
    """Fixed effects of a random-intercept fit with lme4's errors: ``difference``, ``ci_low``, ``ci_high``, ``p``.

    lme4 reports sigma^2 (X' V^-1 X)^-1 at the REML variance components; statsmodels' own
    errors come from the observed information of all parameters together and differ in the
    third digit. With one random intercept, V^-1 of a unit of n people is
    (I - c 11') / residual variance, c = unit variance / (residual variance + n unit variance),
    so the sum over units needs only each unit's column sums of X. Wald intervals and p
    (normal), as lme4 users get from ``confint(method = "Wald")``.
    """
    from scipy import stats

    x = np.asarray(fit.model.exog, dtype=float)
    labels = pd.factorize(np.asarray(groups))[0]
    unit_variance, residual_variance = float(fit.cov_re.iloc[0, 0]), float(fit.scale)
    sums = np.zeros((labels.max() + 1, x.shape[1]))
    np.add.at(sums, labels, x)
    sizes = np.bincount(labels)
    shrink = unit_variance / (residual_variance + sizes * unit_variance)
    information = (x.T @ x - sums.T @ (shrink[:, None] * sums)) / residual_variance
    se = np.sqrt(np.diag(np.linalg.inv(information)))
    estimate = np.asarray(fit.fe_params, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return pd.DataFrame({"difference": estimate, "ci_low": estimate - z * se, "ci_high": estimate + z * se,
                         "p": 2 * stats.norm.sf(np.abs(estimate / se))}, index=fit.model.exog_names)


def mixed_role_gaps(
    scores: pd.DataFrame,
    *,
    reference_role: str | None = None,
    min_respondents: int = 20,
    confidence: float = 0.95,
    adjust: str = "holm",
) -> tuple[pd.DataFrame, pd.Series]:
    """Each respondent's mean level on role: a random-intercept mixed model and the within-unit estimate.

    * mixed -- ``score ~ role + (1 | microsystem)`` by REML (R ``lme4::lmer``): the role
      difference borrows from both within- and between-unit contrasts, and assumes the unit
      effects are unrelated to the role mix;
    * within units -- ``score ~ role + microsystem`` by least squares (unit fixed effects,
      the same as regressing on group-mean-centred role indicators; R ``lm``), model-based
      standard errors: only differences between colleagues of the same unit count.

    Parameters
    ----------
    scores : :func:`workbench.survey.respondent_scores` output; the respondent's overall
        score is the mean of their characteristic scores.
    adjust : the adjusted p read for ``disagreement`` (``"holm"`` or ``"bh"``).

    Returns
    -------
    (table, model): ``table`` has ``role``, ``reference_role``, ``difference`` (in mean
    level, against the reference role), ``ci_low``, ``ci_high``, ``p``, ``p_holm``, ``p_bh``,
    the same for the within-unit estimate prefixed ``within_``, ``disagreement`` (as in
    :func:`ordinal_role_gaps`), ``n_respondents``, ``n_units_with_others``; the family of each
    adjusted p is the table's role comparisons of that model. ``model`` has ``n_respondents``,
    ``n_microsystems``, ``microsystem_variance``, ``residual_variance``, ``icc``,
    ``roles_left_out``.
    """
    import statsmodels.formula.api as smf

    _check_adjust(adjust)
    overall = (
        scores.groupby(["respondent_id", "microsystem_id", "role"], sort=False)["score"].mean().dropna().reset_index()
    )
    data, left_out = _enough(overall, min_respondents)
    if data["role"].nunique() < 2 or data["microsystem_id"].nunique() < 2:
        # Nothing to compare: fewer than two roles with enough respondents, or a single unit.
        model = pd.Series({"n_respondents": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
                           "microsystem_variance": np.nan, "residual_variance": np.nan, "icc": np.nan,
                           "roles_left_out": ", ".join(left_out)})
        return pd.DataFrame(columns=_MIXED_COLUMNS), model
    reference = _reference(data["role"], reference_role)
    roles = [r for r in sorted(data["role"].unique()) if r != reference]
    data = data.assign(role=pd.Categorical(data["role"], categories=[reference, *roles]))
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore")
        # BFGS to a gradient of 1e-10 reaches lme4's REML optimum (to 1e-9); statsmodels'
        # default L-BFGS stops with the variance components off in the fifth digit.
        fit = smf.mixedlm("score ~ C(role)", data, groups=data["microsystem_id"]).fit(
            reml=True, method=["bfgs", "lbfgs"], gtol=1e-10)
    mixed = _mixed_fixed_effects(fit, data["microsystem_id"], confidence)

    with _one_blas_thread():
        within = _within_linear(data, roles, confidence)
    roles_per_unit = data.groupby("microsystem_id")["role"].nunique()
    rows = []
    for role in roles:
        term = f"C(role)[T.{role}]"
        shared = data.loc[data["role"].eq(role), "microsystem_id"].unique()
        rows.append({"role": role, "reference_role": reference, **mixed.loc[term].to_dict(), **within[role],
                     "n_respondents": int(data["role"].eq(role).sum()),
                     "n_units_with_others": int((roles_per_unit.reindex(shared) > 1).sum())})
    table = pd.DataFrame(rows)
    for prefix in ("", "within_"):
        for name, values in _adjusted(table[f"{prefix}p"]).items():
            table[f"{prefix}p_{name}"] = values.to_numpy(dtype=float)
    table["disagreement"] = [
        _disagreement(r["difference"], r[f"p_{adjust}"], r["within_difference"], r[f"within_p_{adjust}"],
                      1 - confidence, 0.0)
        for _, r in table.iterrows()
    ]
    between = float(fit.cov_re.iloc[0, 0])
    model = pd.Series({"n_respondents": len(data), "n_microsystems": int(data["microsystem_id"].nunique()),
                       "microsystem_variance": between, "residual_variance": float(fit.scale),
                       "icc": between / (between + float(fit.scale)), "roles_left_out": ", ".join(left_out)})
    return table[_MIXED_COLUMNS], model


def _p_text(p: float, method: str) -> str:
    words = ADJUSTMENTS[method][1]
    return f"{words} p < 0.001" if p < 0.001 else f"{words} p = {p:.3f}"


def _odds_text(row, prefix: str, method: str, *, brief: bool = False) -> str:
    odds, low, high = (getattr(row, f"{prefix}{name}") for name in ("odds_ratio", "ci_low", "ci_high"))
    interval = "" if brief else f" [{low:.2f}, {high:.2f}]"
    return f"x{odds:.2f}{interval}, {_p_text(getattr(row, f'{prefix}p_{method}'), method)}"


def _listing(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _details(rows: list, prefixes: tuple[str, ...], labels: dict[str, str], adjust: str, *, brief: bool = False) -> str:
    """Per item (named when there are several), its odds ratios with adjusted p, and intervals unless ``brief``."""
    where = {"": " across the study", "within_": " within units"} if len(prefixes) > 1 else {"": "", "within_": ""}
    parts = []
    for row in rows:
        texts = [_odds_text(row, prefix, adjust, brief=brief) for prefix in prefixes]
        models = " and ".join(text + where[prefix] for text, prefix in zip(texts, prefixes))
        parts.append(models if len(rows) == 1 else f"'{labels.get(row.item_id, row.item_id)}' {models}")
    return "; ".join(parts)


def _direction(odds_ratio: float) -> str:
    return "higher" if odds_ratio > 1 else "lower"


def _pattern(row, adjust: str, alpha: float) -> tuple[str, str] | None:
    """(kind, direction) of one item x role row for the sentences, or None when there is nothing to say."""
    p_pooled, p_within = getattr(row, f"p_{adjust}"), getattr(row, f"within_p_{adjust}")
    kind = _disagreement(row.odds_ratio, p_pooled, row.within_odds_ratio, p_within, alpha, 1.0)
    if kind == "opposite direction":
        clear = p_pooled < alpha or p_within < alpha
        directions = f"{_direction(row.odds_ratio)}/{_direction(row.within_odds_ratio)}"
        return ("reversed, clear" if clear else "reversed"), directions
    if kind == "clear within units only":
        return "within only", _direction(row.within_odds_ratio)
    if kind == "clear pooled only":
        return "pooled only", _direction(row.odds_ratio)
    if p_pooled < alpha:
        return ("both" if np.isfinite(row.within_odds_ratio) else "no within"), _direction(row.odds_ratio)
    return None


_PATTERNS = ["both", "within only", "pooled only", "no within", "reversed, clear", "reversed"]


def _pattern_sentences(kind: str, direction: str, role: str, members: list, labels: dict[str, str],
                       adjust: str, n_items: int) -> list[str]:
    """The sentences for one role's items that share a pattern and direction (of ``n_items`` in the table)."""
    reference = f"{members[0].reference_role.lower()} respondents"
    # One item is named here; several are counted here and named with their figures.
    items = (_listing([labels.get(members[0].item_id, members[0].item_id)]) if len(members) == 1
             else f"all {n_items} items" if len(members) == n_items else f"{len(members)} items")
    subject = f"{role} respondents rate {items}"

    def details(*prefixes: str, brief: bool = False) -> str:
        return _details(members, prefixes, labels, adjust, brief=brief)

    if kind == "both":
        return [f"{subject} {direction} than {reference}, across the study and within their own units "
                f"({details('', 'within_')})."]
    if kind == "within only":
        these = "this gap is not" if len(members) == 1 else "none of these gaps is"
        return [f"Within their own units, {role.lower()} respondents rate {items} {direction} than {reference} "
                f"({details('within_')}); across the study {these} clear ({details('', brief=True)}): the large "
                "differences between units blur the study-wide comparison."]
    if kind == "pooled only":
        return [f"{subject} {direction} than {reference} across the study ({details('')}), but not clearly within "
                f"their own units ({details('within_', brief=True)}): part of the study-wide gap may reflect which "
                "units employ them."]
    if kind == "no within":
        notes = "; ".join(sorted({row.note for row in members if row.note})) or "no within-unit estimate"
        return [f"{subject} {direction} than {reference} across the study ({details('')}); no within-unit "
                f"comparison ({notes})."]
    pooled_way, within_way = direction.split("/")
    if kind == "reversed, clear":
        return [
            f"{role} respondents rate '{labels.get(row.item_id, row.item_id)}' {pooled_way} than {reference} across "
            f"the study ({_odds_text(row, '', adjust)}), but {within_way} than {reference} in their own units "
            f"({_odds_text(row, 'within_', adjust)}): the study-wide gap reflects which units employ them."
            for row in members
        ]
    pairs = "; ".join(
        ("" if len(members) == 1 else f"'{labels.get(row.item_id, row.item_id)}' ")
        + f"x{row.odds_ratio:.2f} across the study and x{row.within_odds_ratio:.2f} within units"
        for row in members
    )
    return [f"{subject} {pooled_way} than {reference} across the study but {within_way} within their own units "
            f"({pairs}); neither direction is clear after {ADJUSTMENTS[adjust][1]} adjustment, but the study-wide "
            "figures are not differences between colleagues."]


def describe_ordinal(
    table: pd.DataFrame, *, item_labels: dict[str, str] | None = None, adjust: str = "holm", alpha: float = 0.05
) -> list[str]:
    """Plain sentences on the role gaps of :func:`ordinal_role_gaps`, read at adjusted p.

    The first two lines say how to read the rest: the multiplicity family and method, and
    that odds ratios within units run further from 1 than pooled ones whenever units differ
    a lot (odds ratios are not collapsible), so the two are compared by direction and
    clarity, not size. Then, role by role, sentences for the items where the pooled or the
    within-unit gap is clear (``adjust``-ed p below ``alpha``) or the two point opposite
    ways: where both agree, where only one is clear, and where they are reversed -- the
    study-wide gap then reflects which units employ the role. Items of a role that share a
    pattern and direction share a sentence; a reversal that either model shows clearly has
    its own. Intervals are the table's unadjusted ones.
    """
    _check_adjust(adjust)
    labels = item_labels or {}
    words = ADJUSTMENTS[adjust][1]
    n_pooled, n_within = int(table["p"].notna().sum()), int(table["within_p"].notna().sum())
    header = [
        f"Gaps are read at {words}-adjusted p < {alpha:g}, each model's family being its item x role comparisons "
        f"({n_pooled} across the study, {n_within} within units). Odds ratios (of answering a level higher) are "
        "shown with their unadjusted 95% interval in brackets.",
        "Odds ratios within units run further from 1 than study-wide ones whenever units differ a lot, even where "
        "every unit has the same role mix: compare the two by direction and clarity, not by size.",
    ]
    lines, n_items = [], table["item_id"].nunique()
    for role, rows in table.groupby("role", sort=False):
        groups: dict[tuple[str, str], list] = {}
        for row in rows.itertuples(index=False):
            pattern = _pattern(row, adjust, alpha)
            if pattern is not None:
                groups.setdefault(pattern, []).append(row)
        for (kind, direction), members in sorted(groups.items(), key=lambda g: (_PATTERNS.index(g[0][0]), g[0][1])):
            lines += _pattern_sentences(kind, direction, str(role), members, labels, adjust, n_items)
    return header + (lines or [
        "No role differs clearly from the reference role on any item, across the study or within units, "
        "and no study-wide gap points the other way within units."
    ])


def describe_mixed(
    table: pd.DataFrame, *, model: pd.Series | None = None, adjust: str = "holm", alpha: float = 0.05
) -> list[str]:
    """Plain sentences on :func:`mixed_role_gaps`, read at adjusted p (or one saying why there are none).

    One sentence per role giving the mixed-model and the within-unit difference, a note
    wherever they disagree, then, given the ``model``, the share of the variance that lies
    between microsystems.
    """
    _check_adjust(adjust)
    if table.empty:
        return ["No role comparison: fewer than two roles have enough respondents in more than one unit."]
    words = ADJUSTMENTS[adjust][1]
    lines = [f"Differences are read at {words}-adjusted p < {alpha:g} over the {len(table)} role comparisons "
             "of each model; intervals unadjusted."]
    for row in table.itertuples(index=False):
        reference = f"{row.reference_role.lower()} staff"
        p_mixed, p_within = getattr(row, f"p_{adjust}"), getattr(row, f"within_p_{adjust}")
        clear = p_mixed < alpha
        verdict = ("higher" if row.difference > 0 else "lower") if clear else "about the same as"
        line = (f"{row.role}: mean level {verdict}{' than' if clear else ''} {reference}, allowing for differences "
                f"between units ({row.difference:+.2f} levels, 95% CI {row.ci_low:+.2f} to {row.ci_high:+.2f}, "
                f"{_p_text(p_mixed, adjust)})")
        if np.isfinite(row.within_difference):
            line += (f"; against {reference} of their own units {row.within_difference:+.2f} "
                     f"(95% CI {row.within_ci_low:+.2f} to {row.within_ci_high:+.2f}, {_p_text(p_within, adjust)})")
        else:
            line += "; no within-unit estimate (they never work beside the other roles compared)"
        disagreement = _disagreement(row.difference, p_mixed, row.within_difference, p_within, alpha, 0.0)
        if disagreement == "opposite direction":
            line += ": the two point opposite ways, so the mixed-model gap reflects which units employ them"
        elif disagreement == "clear pooled only":
            line += ": clear only when differences between units are allowed to count"
        elif disagreement == "clear within units only":
            line += ": clear only among colleagues of the same unit"
        lines.append(line + ".")
    if model is not None and np.isfinite(model["icc"]):
        lines.append(f"Microsystems account for {model['icc']:.0%} of the variance in respondents' mean level.")
    return lines
