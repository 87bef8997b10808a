"""Comparing microsystems side by side: ordered by an outcome, survey against interview."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.vocabulary import NOT_SHARED, TOO_FEW

__all__ = [
    "MARKS",
    "MARK_NOTES",
    "MAX_UNITS_SHOWN",
    "MIN_UNITS_FOR_MODELS",
    "Panel",
    "describe_types",
    "describe_typology",
    "export_joint_display",
    "export_table",
    "improvement_against_profiles",
    "joint_display",
    "joint_panel",
    "mark_notes",
    "marked_means",
    "meta_matrix",
    "model_summary",
    "multilevel_outcome_association",
    "name_cases",
    "order_by_outcome",
    "outcome_associations",
    "outcome_header",
    "outcome_improvement",
    "quote_panel",
    "rank_correlations",
    "readable_truth_table",
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


def survey_against_interviews(
    profile_wide: pd.DataFrame, density: pd.DataFrame, *, shared: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Pair each microsystem's survey mean with its interview evidence, per characteristic.

    Parameters
    ----------
    profile_wide : microsystem x characteristic survey means.
    density : microsystem x code matrix of interview evidence (same characteristic ids).
    shared : optional microsystem x characteristic booleans (the staff's views are shared),
        carried along so a plot can mark the means whose staff disagree.

    Returns
    -------
    Long DataFrame: ``microsystem_id``, ``characteristic_id``, ``survey_mean``,
    ``interview_density`` (and ``shared`` when given).
    """
    both = [c for c in profile_wide.columns if c in density.columns]
    axes = {"index": "microsystem_id", "columns": "characteristic_id"}
    survey = profile_wide[both].rename_axis(**axes).stack().rename("survey_mean")
    interview = density[both].rename_axis(**axes).stack().rename("interview_density")
    pairs = pd.concat([survey, interview], axis=1)
    if shared is not None:
        flags = shared.reindex(index=profile_wide.index, columns=both).rename_axis(**axes).stack()
        pairs["shared"] = flags.reindex(pairs.index).astype("boolean")
    return pairs.reset_index()


def rank_correlations(
    pairs: pd.DataFrame, *, x: str = "survey_mean", y: str = "interview_density", by: str = "characteristic_id"
) -> pd.DataFrame:
    """Spearman correlation of ``x`` and ``y`` within each ``by`` group, with its n.

    Returns
    -------
    DataFrame: ``by``, ``n``, ``spearman_rho``.
    """
    rows = []
    complete = pairs.dropna(subset=[x, y])
    # In the order the groups come in the pairs, not the order in which each first has complete data.
    for key in pairs[by].drop_duplicates():
        group = complete[complete[by].eq(key)]
        if len(group):
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


# How a mean is marked in a joint display by its staff's agreement verdict (a shared view is unmarked).
MARKS = {NOT_SHARED: "●", TOO_FEW: "○"}
MARK_NOTES = {
    "●": "● staff views differ: their answers are too spread (agreement below the study's threshold) for the mean "
         "to be called a shared view.",
    "○": "○ too few people rated every item to judge whether the staff agree.",
}
# A report lists every microsystem in its joint display up to this many; a larger study's
# display (hundreds of rows per table, one table per outcome and per characteristic) lives in
# the export the report links to, and the report shows the figures, which draw both ends.
MAX_UNITS_SHOWN = 150


def joint_display(
    matrix: pd.DataFrame, microsystems: pd.DataFrame, outcomes: pd.DataFrame, *, outcome_ids: list[str]
) -> pd.DataFrame:
    """The whole joint display: :func:`meta_matrix` with each microsystem's name, setting and
    outcome values in front, one row per microsystem in the matrix's order.

    Returns
    -------
    DataFrame indexed by ``microsystem_id`` with two-level columns: ``("microsystem", "name")``,
    ``("microsystem", "setting")``, ``("outcome", <id>)`` per outcome, then the matrix's
    characteristic x (``survey``, ``agreement``, ``interview_density``, ``quote``) columns.

    Examples
    --------
    >>> matrix = pd.DataFrame({("m", "survey"): [2.0]}, index=pd.Index(["A"], name="microsystem_id"))
    >>> units = pd.DataFrame({"microsystem_id": ["A"], "name": ["Ward A"], "setting": ["Ward"]})
    >>> joint_display(matrix, units, pd.DataFrame({"microsystem_id": ["A"], "falls": [3.0]}), outcome_ids=["falls"])
    ...                                                                        # doctest: +NORMALIZE_WHITESPACE
                   microsystem         outcome    m
                          name setting   falls survey
    microsystem_id
    A                   Ward A    Ward     3.0    2.0
    """
    units = microsystems.set_index("microsystem_id").reindex(matrix.index)
    # A microsystem missing from the list is still a row: its id stands in for the name.
    names = units["name"].fillna(pd.Series(matrix.index, index=matrix.index)) if "name" in units else matrix.index
    front = {("microsystem", "name"): names,
             ("microsystem", "setting"): units["setting"] if "setting" in units else np.nan}
    values = outcomes.set_index("microsystem_id").reindex(matrix.index)
    front.update({("outcome", o): values[o] if o in values else np.nan for o in outcome_ids})
    table = pd.concat([pd.DataFrame(front, index=matrix.index), matrix], axis=1)
    table.index.name = "microsystem_id"
    return table


def _characteristics(joint: pd.DataFrame) -> list:
    """The characteristics of a joint display, in its order."""
    return [c for c in dict.fromkeys(joint.columns.get_level_values(0)) if (c, "survey") in joint.columns]


def marked_means(joint: pd.DataFrame) -> pd.DataFrame:
    """Microsystem x characteristic: each reported mean written with two decimals and its
    verdict mark (:data:`MARKS`), e.g. ``"2.31 ●"`` where staff views differ; missing where no
    mean is reported (too few answered, or withheld), so a table shows its dash.

    Examples
    --------
    >>> joint = pd.DataFrame({("m", "survey"): [2.314, 1.5, np.nan],
    ...                       ("m", "agreement"): ["not shared", "shared", "too few"]}, index=["A", "B", "C"])
    >>> marked_means(joint)["m"].tolist()
    ['2.31 ●', '1.50', nan]
    """
    written = {}
    for characteristic in _characteristics(joint):
        means = joint[(characteristic, "survey")].astype("float64")
        verdicts = joint[(characteristic, "agreement")] if (characteristic, "agreement") in joint.columns else None
        marks = verdicts.map(MARKS).fillna("") if verdicts is not None else pd.Series("", index=joint.index)
        text = [f"{m:.2f} {k}".strip() if pd.notna(m) else np.nan for m, k in zip(means, marks)]
        written[characteristic] = pd.Series(text, index=joint.index, dtype="object")
    return pd.DataFrame(written, index=joint.index)


def mark_notes(table: pd.DataFrame) -> list[str]:
    """The notes explaining the verdict marks that appear in ``table`` (none when none does)."""
    text = " ".join(table.astype("string").fillna("").to_numpy().ravel().tolist())
    return [note for mark, note in MARK_NOTES.items() if mark in text]


def outcome_header(spec) -> str:
    """An outcome's column header in words: its label and unit (``spec`` is an ``OutcomeSpec``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> outcome_header(SimpleNamespace(label="Staff turnover", unit="% of staff a year"))
    'Staff turnover (% of staff a year)'
    """
    return f"{spec.label} ({spec.unit})" if spec.unit else spec.label


@dataclass
class Panel:
    """One table of a joint display, ready for the report's presentation helper: the frame (its
    columns keyed by what they hold), their headers in words, the kind of number each holds, and
    the notes its marks and units need. ``panel.show(report, caption=...)`` shows it."""

    frame: pd.DataFrame
    labels: dict[str, str]
    kinds: dict[str, str]
    notes: list[str]

    def show(self, report, *, caption: str):
        """The next numbered table of ``report`` (a :class:`workbench.presentation.Report`)."""
        return report.table(self.frame, caption=caption, kinds=self.kinds, labels=self.labels, notes=self.notes)


def _front(joint: pd.DataFrame, outcomes: list) -> tuple[dict, dict, dict, list[str]]:
    """Unit, setting and the ``outcomes`` (objects with ``id``, ``label``, ``unit``) of a panel."""
    frame = {"name": joint[("microsystem", "name")], "setting": joint[("microsystem", "setting")]}
    labels = {"name": "Unit", "setting": "Setting"}
    kinds = {"name": "text", "setting": "text"}
    notes = []
    for spec in outcomes:
        key = f"outcome:{spec.id}"
        frame[key], labels[key], kinds[key] = joint[("outcome", spec.id)], spec.label, "number"
        if getattr(spec, "unit", ""):
            notes.append(f"{spec.label}: {spec.unit}.")
    return frame, labels, kinds, notes


_DENSITY_NOTE = "Interviews: coded segments per 1,000 transcript words."


def joint_panel(joint: pd.DataFrame, characteristics: list[str], *, labels: dict[str, str],
                outcomes: list) -> Panel:
    """Part of a joint display as one table: unit, setting, the ``outcomes`` (objects with
    ``id``, ``label`` and ``unit``, e.g. a study's ``OutcomeSpec``), then for each of
    ``characteristics`` the survey mean with its verdict mark (:func:`marked_means`) and,
    beside it, the interview density. A display of eight characteristics is too wide for a
    page in one table; a few characteristics a table keep each row whole.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> joint = pd.DataFrame({("microsystem", "name"): ["Ward A"], ("microsystem", "setting"): ["Ward"],
    ...                       ("outcome", "falls"): [3.0], ("m", "survey"): [2.5], ("m", "agreement"): ["not shared"],
    ...                       ("m", "interview_density"): [1.25]})
    >>> panel = joint_panel(joint, ["m"], labels={"m": "Measurement"},
    ...                     outcomes=[SimpleNamespace(id="falls", label="Falls", unit="per 1,000 bed-days")])
    >>> panel.frame.to_dict("records")
    [{'name': 'Ward A', 'setting': 'Ward', 'outcome:falls': 3.0, 'm:mean': '2.50 ●', 'm:interviews': 1.25}]
    >>> list(panel.labels.values())
    ['Unit', 'Setting', 'Falls', 'Measurement', 'interviews']
    """
    frame, headers, kinds, notes = _front(joint, outcomes)
    means = marked_means(joint)
    for characteristic in characteristics:
        mean, density = f"{characteristic}:mean", f"{characteristic}:interviews"
        frame[mean], kinds[mean] = means[characteristic], "level"
        headers[mean] = labels.get(characteristic, characteristic)
        frame[density], kinds[density] = joint[(characteristic, "interview_density")], "number"
        headers[density] = "interviews"  # short: the header sits beside its characteristic's
    table = pd.DataFrame(frame).reset_index(drop=True)
    shown = [means[c] for c in characteristics]
    return Panel(table, headers, kinds, mark_notes(pd.concat(shown, axis=1)) + [_DENSITY_NOTE] + notes)


def quote_panel(joint: pd.DataFrame, characteristic: str, *, outcomes: list) -> Panel:
    """One characteristic's joint display as one table: unit, setting, the ``outcomes``
    (objects with ``id``, ``label`` and ``unit``), the survey mean with its verdict mark, the
    interview density and the most representative quote."""
    frame, headers, kinds, notes = _front(joint, outcomes)
    means = marked_means(joint)[characteristic]
    frame["mean"], headers["mean"], kinds["mean"] = means, "Survey mean", "level"
    frame["interviews"], headers["interviews"], kinds["interviews"] = (joint[(characteristic, "interview_density")],
                                                                       "Interviews", "number")
    frame["quote"], headers["quote"], kinds["quote"] = joint[(characteristic, "quote")], "Quote", "text"
    return Panel(pd.DataFrame(frame).reset_index(drop=True), headers, kinds,
                 mark_notes(means.to_frame()) + [_DENSITY_NOTE] + notes)


def export_joint_display(joint: pd.DataFrame, stem, *, labels: dict[str, str], outcomes: list) -> list:
    """Write the joint display (:func:`joint_display`) for people as ``<stem>.csv`` and a
    formatted ``<stem>.xlsx`` (:func:`export_table`): name, id, setting and each of the
    ``outcomes`` (objects with ``id``, ``label`` and ``unit``) first, then per characteristic
    its mean (2 decimals), the staff's verdict, interview density and the quote. Returns the
    paths written."""
    flat = pd.DataFrame({"Unit": joint[("microsystem", "name")], "Unit id": joint.index.to_series(),
                         "Setting": joint[("microsystem", "setting")]}, index=joint.index)
    kinds = {}
    for spec in outcomes:
        header = outcome_header(spec)
        flat[header] = joint[("outcome", spec.id)]
        kinds[header] = "number"
    parts = (("survey", "survey mean", "level"), ("agreement", "staff views", "text"),
             ("interview_density", "interviews (coded segments per 1,000 words)", "number"), ("quote", "quote", "text"))
    for characteristic in _characteristics(joint):
        for part, words, kind in parts:
            if (characteristic, part) in joint.columns:
                header = f"{labels.get(characteristic, characteristic)}: {words}"
                flat[header] = joint[(characteristic, part)]
                kinds[header] = kind
    notes = [
        "One row per microsystem, best on the first outcome first (microsystems without it last).",
        "Survey mean: the staff's mean level on the characteristic; blank where fewer people answered than the "
        "study's disclosure rule allows, or where it is withheld so that a hidden mean cannot be worked out.",
        "Staff views: 'shared' where the staff agree enough for the mean to be a shared view, 'not shared' where "
        "their answers are too spread, 'too few' where too few rated every item to judge.",
        "Interviews: coded segments per 1,000 transcript words; blank where the microsystem has no interview.",
        "Quote: the most representative excerpt coded with the characteristic, scrubbed, without speaker or role.",
    ]
    return export_table(flat.reset_index(drop=True), stem, sheet="Meta-matrix", kinds=kinds, notes=notes)


def readable_truth_table(table: pd.DataFrame, *, conditions: list[str], names: pd.Series | dict) -> pd.DataFrame:
    """A QCA truth table (:func:`workbench.qca.truth_table`) for a report: each row's
    configuration written as a term (``A * ~B``: A present, B absent), its outcome verdict,
    number of microsystems, consistency and PRI, and which microsystems, by name.

    Examples
    --------
    >>> table = pd.DataFrame({"A": [1], "B": [0], "OUT": ["1"], "n": [2], "incl": [0.9], "PRI": [0.8],
    ...                       "cases": ["X,Y"]}, index=pd.Index([3], name="row"))
    >>> readable_truth_table(table, conditions=["A", "B"], names={"X": "Ward X"}).to_dict("records")
    [{'row': 3, 'configuration': 'A * ~B', 'OUT': '1', 'n': 2, 'incl': 0.9, 'PRI': 0.8, 'cases': 'Ward X; Y'}]
    """
    from workbench.qca import Term

    # A condition's name never breaks across lines (no-break spaces); the line breaks between conditions.
    unbroken = [c.replace(" ", "\u00a0") for c in conditions]
    configuration = [Term(tuple(zip(unbroken, row))).label().replace("*", " * ")
                     for row in table[conditions].astype(int).itertuples(index=False)]
    return pd.DataFrame({"row": table.index, "configuration": configuration, "OUT": table["OUT"].to_numpy(),
                         "n": table["n"].to_numpy(), "incl": table["incl"].to_numpy(), "PRI": table["PRI"].to_numpy(),
                         "cases": name_cases(table["cases"], names).to_numpy()})


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
    (the characteristics furthest above and below the overall mean, :func:`_furthest`), and
    each outcome's mean.
    """
    means = profile_wide.groupby(types).mean()
    differences = means - profile_wide.mean()
    table = means.copy()
    table.insert(0, "microsystems", types.value_counts().reindex(means.index))
    table["distinguishing"] = [_furthest(row) for _, row in differences.iterrows()]
    outcome_means = outcomes.set_index("microsystem_id")[outcome_ids].groupby(types).mean()
    return table.join(outcome_means)


def _furthest(differences: pd.Series) -> str:
    """A type's highest and lowest characteristic against all microsystems, in words that stay
    true when both lie on one side (a weak type's "highest" is often still below the mean).

    Examples
    --------
    >>> _furthest(pd.Series({"Purpose": -0.5, "Role": -0.25}))
    'least below: Role (−0.25); most below: Purpose (−0.50)'
    """
    if differences.dropna().empty:
        return ""
    high, low = differences.idxmax(), differences.idxmin()
    signed = lambda value: f"{value:+.2f}".replace("-", "\u2212")  # noqa: E731 - a true minus sign, as the tables
    upper = "most above" if differences[high] > 0 else "least below"
    lower = "most below" if differences[low] < 0 else "least above"
    return f"{upper}: {high} ({signed(differences[high])}); {lower}: {low} ({signed(differences[low])})"


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


def model_summary(
    results: dict[str, pd.DataFrame], *, estimate: str, labels: dict[str, str], outcomes: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """The outcome models of several outcomes as one table for people, and its notes.

    Parameters
    ----------
    results : outcome id -> :func:`outcome_associations` or :func:`multilevel_outcome_association` output.
    estimate : the estimate's column (``standardised_effect`` or ``level_difference_per_sd``).
    labels : characteristic id -> label; outcomes : outcome id -> label.

    Returns
    -------
    (table, notes): one row per outcome x characteristic, ``outcome`` and ``characteristic``
    in words, then the counts, the estimate, its interval and p; the ``note`` of a row without
    an estimate (why none) goes to the notes instead of a column that is blank everywhere else.

    Examples
    --------
    >>> fitted = pd.DataFrame({"characteristic_id": ["m", "c"], "n": [4, 40], "standardised_effect": [np.nan, 0.3],
    ...                        "ci_low": [np.nan, 0.0], "ci_high": [np.nan, 0.6], "p": [np.nan, 0.04],
    ...                        "note": ["too few microsystems", ""]})
    >>> table, notes = model_summary({"y": fitted}, estimate="standardised_effect",
    ...                              labels={"m": "Measurement", "c": "Community"}, outcomes={"y": "Falls"})
    >>> table.columns.tolist()
    ['outcome', 'characteristic', 'n', 'standardised_effect', 'ci_low', 'ci_high', 'p']
    >>> notes
    ['Falls, Measurement: no estimate, too few microsystems.']
    """
    parts, notes = [], []
    for outcome, result in results.items():
        named = result.assign(outcome=outcomes.get(outcome, outcome),
                              characteristic=result["characteristic_id"].map(lambda c: labels.get(c, c)))
        notes += [f"{o}, {c}: no estimate, {n}." for o, c, n in zip(named["outcome"], named["characteristic"],
                                                                     named["note"]) if n]
        parts.append(named)
    if not parts:
        return pd.DataFrame(columns=["outcome", "characteristic", estimate]), notes
    table = pd.concat(parts, ignore_index=True)
    numbers = [c for c in table.columns if c not in ("outcome", "characteristic", "characteristic_id", "note")]
    return table[["outcome", "characteristic", *numbers]], notes


def name_cases(cases: pd.Series, names: pd.Series | dict) -> pd.Series:
    """Comma-separated microsystem ids (as QCA's tables list cases) written as their names,
    separated by semicolons (a name may hold a comma); an id without a name stays as it is.

    Examples
    --------
    >>> name_cases(pd.Series(["A,B", ""]), {"A": "Ward A", "B": "Clinic B"}).tolist()
    ['Ward A; Clinic B', '']
    """
    names = dict(names)
    return cases.fillna("").map(lambda text: "; ".join(str(names.get(i, i)) for i in text.split(",") if i))


def small_sample_warning(n_microsystems: int, n_predictors: int = 1) -> str:
    """A plain caution for outcome models on few microsystems."""
    return (
        f"With {n_microsystems} microsystem{'' if n_microsystems == 1 else 's'}, each association rests on few cases: "
        "read the intervals, not the p-values; "
        f"{n_predictors} characteristic(s) per model at most, and none of this is causal."
    )


# Kind of number (workbench.presentation.KINDS) -> (decimals kept in the export, Excel number format).
_EXPORT_FORMATS = {
    "count": (0, "#,##0"), "share": (1, "0.0"), "percent": (1, "0.0"), "level": (2, "0.00"), "index": (2, "0.00"),
    "ratio": (2, "0.00"), "difference": (2, "+0.00;-0.00;0.00"), "p": (4, "0.0000"), "number": (2, "General"),
}
_WRAP_ABOVE = 50  # text columns with longer values are wrapped in the XLSX, at this width
_HEADER_WIDTH = 16  # a column is made at most this wide for its header's sake; the header wraps


def export_table(table: pd.DataFrame, stem, *, sheet: str | None = None, kinds: dict | None = None,
                 labels: dict | None = None, notes: list[str] | tuple[str, ...] = ()) -> list:
    """Write ``table`` as ``<stem>.csv`` and a formatted ``<stem>.xlsx`` (each atomically);
    return the paths.

    A named index becomes the first column(s); an unnamed one is left out. Two-level columns
    are joined with ``" | "`` unless ``labels`` (column -> header) names them. Each number is
    rounded by its kind (``kinds``: column or header -> a :data:`workbench.presentation.KINDS`
    name; else guessed from the column's name): means and indices to 2 decimals, counts as
    whole numbers, shares as percentages (1 decimal, the header marked ``(%)``). The XLSX has
    one sheet named ``sheet`` (default: from the file name), its header row frozen with the
    first column, a filter on every column, widths to fit, long text wrapped, and ``notes``
    on a second sheet, "Notes".

    Parameters
    ----------
    table : the table to write.
    stem : the path without suffix.
    sheet : the sheet's name (at most 31 characters, as Excel allows).
    kinds, labels : per column, see above.
    notes : lines saying how to read the table.

    Returns
    -------
    list of Path: the CSV and the XLSX written.
    """
    from pathlib import Path

    from workbench.io.files import atomic_path

    stem = Path(stem)
    flat, kinds_of = _for_export(table, kinds or {}, labels or {})
    sheet = _sheet_name(sheet or stem.name.replace("_", " ").replace("-", " ").capitalize())
    written = []
    for suffix in (".csv", ".xlsx"):
        target = stem.with_suffix(suffix)
        with atomic_path(target) as temporary:
            if suffix == ".csv":
                flat.to_csv(temporary, index=False)
            else:
                _write_xlsx(flat, kinds_of, temporary, sheet=sheet, notes=notes)
        written.append(target)
    return written


def _for_export(table: pd.DataFrame, kinds: dict, labels: dict) -> tuple[pd.DataFrame, list[str]]:
    """``table`` flat, with header words and numbers rounded by kind; the kind of each column."""
    from workbench.presentation import kind_of

    if any(name is not None for name in table.index.names):
        table = table.reset_index()
    headers, found = [], []
    for column in table.columns:
        parts = column if isinstance(column, tuple) else (column,)
        parts = tuple(p for p in parts if p != "") or ("",)  # reset_index pads an index name under two levels
        key = parts[0] if len(parts) == 1 else parts
        header = labels.get(key) or " | ".join(map(str, parts))
        kind = kinds.get(key) or kinds.get(header) or kind_of(str(parts[-1]), table[column])
        headers.append(header)
        found.append(kind)
    flat = pd.DataFrame({i: table.iloc[:, i] for i in range(table.shape[1])})
    for position, kind in enumerate(found):
        values = flat[position]
        if kind == "text" or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        decimals = _EXPORT_FORMATS.get(kind, (2, None))[0]
        numbers = values.astype("float64")
        if kind == "share":
            numbers = numbers * 100  # a share reads as a percentage; the header says so
            headers[position] = f"{headers[position]} (%)"
        flat[position] = numbers.round(0).astype("Int64") if kind == "count" else numbers.round(decimals)
    flat.columns = headers
    return flat, found


def _sheet_name(name: str) -> str:
    """``name`` as Excel accepts a sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = " ".join("".join(" " if c in "[]:*?/\\" else c for c in name).split()) or "Table"
    return cleaned[:31]


def _write_xlsx(flat: pd.DataFrame, kinds: list[str], path, *, sheet: str, notes) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        flat.to_excel(writer, sheet_name=sheet, index=False)
        cells = writer.sheets[sheet]
        header_style = (Font(bold=True), PatternFill("solid", fgColor="EEEEEE"),
                        Alignment(wrap_text=True, vertical="top"))
        for cell in cells[1]:
            cell.font, cell.fill, cell.alignment = header_style
        # The header stays in view while scrolling down, the first column (the unit) while scrolling across.
        cells.freeze_panes = "B2" if flat.shape[1] > 1 else "A2"
        cells.auto_filter.ref = cells.dimensions
        header_lines = 1
        for position, (header, kind) in enumerate(zip(flat.columns, kinds), start=1):
            letter = get_column_letter(position)
            values = flat.iloc[:, position - 1]
            longest = int(values.astype("string").str.len().max()) if values.notna().any() else 0
            wrapped = kind == "text" and longest > _WRAP_ABOVE
            # Wide enough for the values and a few words of the header (long headers wrap).
            width = _WRAP_ABOVE + 10 if wrapped else min(max(longest, min(len(str(header)), _HEADER_WIDTH), 6) + 2, 45)
            cells.column_dimensions[letter].width = width
            header_lines = max(header_lines, -(-len(str(header)) // max(int(width) - 2, 1)))
            number_format = _EXPORT_FORMATS.get(kind, (None, None))[1] if kind != "text" else None
            alignment = Alignment(wrap_text=wrapped, vertical="top")
            for (cell,) in cells.iter_rows(min_row=2, min_col=position, max_col=position):
                cell.alignment = alignment
                if number_format:
                    cell.number_format = number_format
        # Tall enough for the longest wrapped header, whichever program opens the file.
        cells.row_dimensions[1].height = 15 * min(header_lines + 1, 8)
        if notes:
            page = writer.book.create_sheet("Notes")
            page.column_dimensions["A"].width = 110
            for row, line in enumerate(notes, start=1):
                page.cell(row=row, column=1, value=line).alignment = Alignment(wrap_text=True, vertical="top")


def outcome_improvement(series: pd.DataFrame, specs: list, *, months: int = 12) -> pd.DataFrame:
    """How much each unit's monthly outcomes improved: its first ``months`` months against its
    last ``months`` months (each unit's own; a unit with fewer than twice ``months`` months
    measured is compared on the halves of what it has).

    A proportion or rate is pooled over each window (numerators over denominators, times
    ``per``); a count or a measurement is the mean of the window's months. ``improvement`` is
    the change signed so that positive is better (``better: lower`` flips it); ``z`` divides it
    by its standard error (binomial or Poisson for proportions and rates, Welch's from the
    months' spread for counts and measurements), so units of different sizes compare fairly.

    Returns
    -------
    DataFrame, one row per microsystem x outcome: ``microsystem_id``, ``outcome_id``,
    ``months_before``, ``months_after``, ``before``, ``after``, ``change``, ``improvement``,
    ``se``, ``z``.

    Examples
    --------
    >>> from types import SimpleNamespace as Spec
    >>> months = pd.date_range("2024-01-01", periods=4, freq="MS")
    >>> s = pd.DataFrame({"microsystem_id": "A", "outcome_id": "falls", "period": months,
    ...     "numerator": [10.0, 10, 5, 5], "denominator": 1000.0, "value": np.nan})
    >>> t = outcome_improvement(s, [Spec(id="falls", kind="rate", per=1000, better="lower")], months=2)
    >>> t[["before", "after", "improvement"]].round(2).to_numpy().tolist()
    [[10.0, 5.0, 5.0]]
    """
    columns = ["microsystem_id", "outcome_id", "months_before", "months_after", "before", "after", "change",
               "improvement", "se", "z"]
    tables = []
    for spec in specs:
        rows = series[series["outcome_id"].eq(spec.id)].sort_values(["microsystem_id", "period"])
        if rows.empty:
            continue
        position = rows.groupby("microsystem_id").cumcount()
        count = rows.groupby("microsystem_id")["period"].transform("size")
        window = np.minimum(months, count // 2)
        part = np.where(position < window, "before", np.where(position >= count - window, "after", "between"))
        rows = rows.assign(part=part)
        rows = rows[rows["part"].ne("between")]
        grouped = rows.groupby(["microsystem_id", "part"])
        if spec.kind in ("proportion", "rate"):
            sums = grouped[["numerator", "denominator"]].sum().unstack("part")
            rate = sums["numerator"] / sums["denominator"]
            if spec.kind == "proportion":
                variance = rate * (1 - rate) / sums["denominator"]
            else:
                variance = rate / sums["denominator"]
            level, variance = rate * spec.per, variance * spec.per**2
        else:
            level = grouped["value"].mean().unstack("part")
            variance = (grouped["value"].var() / grouped["value"].count()).unstack("part")
        sizes = grouped.size().unstack("part")
        table = pd.DataFrame({
            "microsystem_id": level.index, "outcome_id": spec.id,
            "months_before": sizes["before"].to_numpy(), "months_after": sizes["after"].to_numpy(),
            "before": level["before"].to_numpy(), "after": level["after"].to_numpy(),
        })
        table["change"] = table["after"] - table["before"]
        table["improvement"] = table["change"] * (1 if spec.better == "higher" else -1)
        table["se"] = np.sqrt(variance["before"].to_numpy() + variance["after"].to_numpy())
        with np.errstate(divide="ignore", invalid="ignore"):
            table["z"] = np.where(table["se"] > 0, table["improvement"] / table["se"], np.nan)
        tables.append(table)
    if not tables:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(tables, ignore_index=True)[columns]


def improvement_against_profiles(improvement: pd.DataFrame, profiles: dict[str, pd.DataFrame], *,
                                 value: str = "z") -> pd.DataFrame:
    """Do units with a given profile improve more? Spearman's rho between each outcome's
    improvement (``value``: ``z`` by default, so small units' noise does not dominate) and each
    characteristic of each named profile (e.g. ``{"level in 2025": wide_means, "change since
    2025": wide_changes}``, microsystem x characteristic frames), with its p value and n units.

    Returns
    -------
    DataFrame: ``outcome_id``, ``profile``, ``characteristic_id``, ``n``, ``spearman_rho``, ``p``.
    """
    from scipy import stats  # here: scipy.stats costs most of a second at import

    rows = []
    for outcome_id, outcome in improvement.groupby("outcome_id", sort=False):
        y = outcome.set_index("microsystem_id")[value]
        for name, wide in profiles.items():
            for characteristic in wide.columns:
                both = pd.concat([wide[characteristic].rename("x"), y.rename("y")], axis=1, join="inner").dropna()
                rho, p = (stats.spearmanr(both["x"], both["y"]) if len(both) >= 3 and both["x"].nunique() > 1
                          and both["y"].nunique() > 1 else (np.nan, np.nan))
                rows.append({"outcome_id": outcome_id, "profile": name, "characteristic_id": characteristic,
                             "n": len(both), "spearman_rho": float(rho), "p": float(p)})
    return pd.DataFrame(rows, columns=["outcome_id", "profile", "characteristic_id", "n", "spearman_rho", "p"])
