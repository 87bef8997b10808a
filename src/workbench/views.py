"""The study views: every table that reports, the explorer and the lessons display about
microsystems, computed once per build, vectorised over all units, with the disclosure
policy and the agreement policy already applied.

A feedback report reads its own unit's rows of these views (a parquet read filtered on
``microsystem_id``), so its cost does not grow with the number of units; incremental
regeneration keys each report on digests of exactly the rows it reads.

Views (one row per ...):

``unit_overview`` (microsystem)
    name, setting, organisation, respondents, interviews, coded segments, transcript words.
``unit_profiles`` (microsystem x characteristic)
    respondents, those with a score, can't-rate answers, mean, median, sd and t interval,
    the agreement index (rwg or rwg(j)) and the verdict (``shared`` / ``not shared`` /
    ``too few``), ``shared`` (the staff agree) and ``reported`` (a mean is shown). Figures are
    blank where fewer than ``min_cell_size`` people gave them (:func:`disclose`); means whose
    staff do not agree are flagged, or blank if the study says so (:func:`report_where_shared`);
    ``analysis_mean`` keeps a unit's mean from enough people for models of the whole study.
``peer_positions`` (microsystem x characteristic)
    the other microsystems' reported means as a distribution (count, quartiles, range) and
    the share of them below this unit: never another unit by name.
``unit_items`` (microsystem x item)
    answer counts, shares of each level, can't-rate share, mean, rwg and its verdict.
``study_items`` (item)
    the same over the whole study.
``role_items`` (role x item)
    the same per role over the whole study, each role's figures hidden where too few people
    gave them and, as parts of the study's figures, where the hidden ones could be recovered.
``unit_quotes`` (microsystem x characteristic x rank)
    the most representative excerpts, with neither speaker nor role.
``unit_changes`` (microsystem x characteristic)
    the change of the unit's mean since the previous survey wave, with a Welch interval and
    whether it moved beyond noise (:func:`workbench.waves.unit_changes`); each wave's means are
    hidden as ``unit_profiles`` hides them. Empty for a study of one wave.
``study_changes`` (characteristic)
    the study-wide change, the unit as the unit of analysis, and how many units moved.
``outcome_charts`` (microsystem x monthly outcome x month)
    the unit's control chart (:func:`workbench.spc.control_chart`: phases at its dated
    changes) and run chart (median frozen at its first change) of each monthly outcome.
``outcome_signals`` (microsystem x monthly outcome)
    what the charts say: the run rules' figures, whether a run signals an improvement, and the
    signals in plain sentences.
``outcome_funnels`` (microsystem x proportion or rate outcome)
    the unit's value over the study's latest months against the funnel's limits
    (:func:`workbench.spc.funnel_table`); the whole funnel is ``funnel_limits``.
``funnel_limits`` (outcome x volume x probability)
    the lines of each outcome's funnel plot, and its target and overdispersion.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import agreement, coding, survey
from workbench.io.files import sha256_of, write_parquet_atomic
from workbench.vocabulary import SHARED, TOO_FEW, AgreementPolicy, DisclosurePolicy, LevelScale

__all__ = [
    "CHART_COLUMNS",
    "FUNNEL_COLUMNS",
    "LIMIT_COLUMNS",
    "PER_UNIT",
    "PROFILE_FIGURES",
    "QUOTES_PER_CHARACTERISTIC",
    "SIGNAL_COLUMNS",
    "VIEWS",
    "RoleFilters",
    "agreement_indices",
    "compute_views",
    "disclose",
    "outcome_views",
    "peer_positions",
    "previous_wave",
    "read_view",
    "report_where_shared",
    "role_items",
    "study_items",
    "unit_digests",
    "unit_items",
    "unit_overview",
    "unit_profiles",
    "unit_quotes",
    "view_path",
    "wave_changes",
    "write_views",
]

VIEWS = ("unit_overview", "unit_profiles", "peer_positions", "unit_items", "study_items", "role_items", "unit_quotes",
         "unit_changes", "study_changes", "outcome_charts", "outcome_signals", "outcome_funnels", "funnel_limits")
# The views sliceable by microsystem.
PER_UNIT = ("unit_overview", "unit_profiles", "peer_positions", "unit_items", "unit_quotes", "unit_changes",
            "outcome_charts", "outcome_signals", "outcome_funnels")
QUOTES_PER_CHARACTERISTIC = 2
PROFILE_FIGURES = ("mean", "median", "sd", "ci_low", "ci_high")


def disclose(table: pd.DataFrame, policy: DisclosurePolicy, *, figures: dict[str, str],
             within: str | None = None, unanimous=None) -> pd.DataFrame:
    """The one place the small-cell rule is applied to a table of figures.

    Parameters
    ----------
    table : any table of figures, one row per group.
    policy : the study's :class:`~workbench.vocabulary.DisclosurePolicy`.
    figures : figure column -> the column counting the people it was computed from; each
        figure is blanked (NaN) where its count is below the rule.
    within : the rows are parts of a total that is shown too (e.g. the microsystems' rows of
        one item, whose whole-study figures are published): per value of this column, further
        rows are hidden, smallest first, so that the hidden ones cannot be recovered as the
        total minus the shown ones (complementary suppression,
        :meth:`~workbench.vocabulary.DisclosurePolicy.hidden`).
    unanimous : per row, whether every person in the group gave the same answer; those rows'
        figures are hidden too when the policy says ``unanimous: hide``.

    Examples
    --------
    >>> t = pd.DataFrame({"mean": [2.0, 2.5], "n": [7, 3]})
    >>> disclose(t, DisclosurePolicy(min_cell_size=5), figures={"mean": "n"})["mean"].tolist()
    [2.0, nan]
    >>> t = pd.DataFrame({"item": "a", "mean": [2.0, 2.5, 1.5], "n": [7, 3, 9]})
    >>> disclose(t, DisclosurePolicy(min_cell_size=5), figures={"mean": "n"}, within="item")["mean"].tolist()
    [nan, nan, 1.5]
    """
    shown = table.copy()
    alike = np.zeros(len(shown), dtype=bool)
    if unanimous is not None and policy.unanimous == "hide":
        alike = np.asarray(pd.Series(unanimous).fillna(False), dtype=bool)
    for count in dict.fromkeys(figures.values()):
        present = [f for f, c in figures.items() if c == count and f in shown.columns]
        if not present:
            continue
        sizes = shown[count].to_numpy(dtype="float64", na_value=np.nan)
        hidden = (np.nan_to_num(sizes) < policy.min_cell_size) | alike
        if within is not None:
            for rows in shown.groupby(within, sort=False).indices.values():
                hidden[rows] = policy.hidden(sizes[rows], total_shown=True, already_hidden=alike[rows])
        shown[present] = shown[present].astype("float64").mask(hidden[:, None].repeat(len(present), axis=1))
    return shown


def report_where_shared(table: pd.DataFrame, *, unshared: str = "flag", columns=PROFILE_FIGURES) -> pd.DataFrame:
    """The one place the agreement policy acts on unit means (verdict in ``agreement``).

    ``unshared="flag"`` (the default): every mean is kept, and ``shared`` says whether its
    unit's staff agree, for tables and plots to mark; hiding means by how much staff agree
    would keep mostly the units whose staff all answer at one end of the scale. ``"hide"``:
    means whose staff do not agree are blanked. ``reported`` says which means remain.
    """
    if unshared not in ("flag", "hide"):
        raise ValueError(f"unshared must be 'flag' or 'hide', got {unshared!r}")
    shared = table["agreement"].eq(SHARED).to_numpy()
    shown = table.copy()
    if unshared == "hide":
        present = [c for c in columns if c in shown.columns]
        shown[present] = shown[present].astype("float64").mask(~shared[:, None].repeat(len(present), axis=1))
    shown["shared"] = shared
    shown["reported"] = shown["mean"].notna().to_numpy() if "mean" in shown else shared
    return shown


def unit_profiles(answers: pd.DataFrame, *, scale: LevelScale, policy: AgreementPolicy, disclosure: DisclosurePolicy,
                  min_items: int = 1, unshared: str = "flag") -> pd.DataFrame:
    """Per microsystem x characteristic: the profile, its agreement and what may be shown.

    A mean is hidden where fewer than the rule's people gave it, and further units' means
    where the hidden ones could be recovered from the whole study's figure on the
    characteristic (:func:`disclose` ``within``); the agreement index where fewer than the
    rule's people rated every item it rests on.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``characteristic_id``, ``n_respondents``, ``n_scored``,
    ``n_cant_rate``, ``analysis_mean``, ``mean``, ``median``, ``sd``, ``ci_low``, ``ci_high``,
    ``n_items``, ``n_agreement`` (people the agreement index rests on), ``index``
    (``rwg`` / ``rwg(j)``), ``agreement_index``, ``agreement``, ``shared``, ``reported``.
    """
    keys = ["microsystem_id", "characteristic_id"]
    profile = survey.microsystem_profile(survey.respondent_scores(answers, min_items=min_items), scale=scale)
    unit_agreement = agreement.characteristic_agreement(answers, scale=scale, policy=policy, disclosure=disclosure)
    table = profile.merge(unit_agreement.rename(columns={"n_rated": "n_agreement"}), on=keys, how="left",
                          validate="one_to_one")
    table["agreement"] = table["agreement"].fillna(TOO_FEW)
    table["n_agreement"] = table["n_agreement"].fillna(0).astype("int64")
    table = disclose(table, disclosure, figures=dict.fromkeys(PROFILE_FIGURES, "n_scored"), within="characteristic_id",
                     unanimous=table["sd"].eq(0))
    table = disclose(table, disclosure, figures={"n_cant_rate": "n_respondents"}, within="characteristic_id")
    # An index of 1 says every item had one answer in the unit (no spread on any item).
    table = disclose(table, disclosure, figures={"agreement_index": "n_agreement"},
                     unanimous=table["agreement_index"].ge(1 - 1e-12))
    table["analysis_mean"] = table["mean"]
    table = report_where_shared(table, unshared=unshared)
    return table[[*keys, "n_respondents", "n_scored", "n_cant_rate", "analysis_mean", *PROFILE_FIGURES, "n_items",
                  "n_agreement", "index", "agreement_index", "agreement", "shared", "reported"]]


def peer_positions(profiles: pd.DataFrame) -> pd.DataFrame:
    """Where each microsystem stands among the others on each characteristic.

    Peers are the other microsystems whose mean is reported; for every unit at once, the
    distribution leaves the unit itself out (vectorised: within a characteristic the peers'
    sorted means are the sorted means of all with one position skipped).

    Returns
    -------
    DataFrame: ``microsystem_id``, ``characteristic_id``, ``peers``, ``peer_min``,
    ``peer_q1``, ``peer_median``, ``peer_q3``, ``peer_max``, ``share_of_peers_below``
    (NaN where the unit's own mean is not reported).

    Examples
    --------
    >>> p = pd.DataFrame({"microsystem_id": list("ABCD"), "characteristic_id": "m",
    ...                   "mean": [1.0, 2.0, 3.0, np.nan], "reported": [True, True, True, False]})
    >>> peer_positions(p)[["microsystem_id", "peers", "peer_median", "share_of_peers_below"]].values.tolist()
    [['A', 2, 2.5, 0.0], ['B', 2, 2.0, 0.5], ['C', 2, 1.5, 1.0], ['D', 3, 2.0, nan]]
    """
    parts = []
    for characteristic, part in profiles.groupby("characteristic_id", sort=False):
        own = part["mean"].to_numpy(dtype="float64", na_value=np.nan)
        reported = part["reported"].to_numpy(dtype=bool) & ~np.isnan(own)
        ordered = np.sort(own[reported])
        count = len(ordered)
        # The position each unit's own mean takes in the sorted means (count: not among them).
        skipped = np.where(reported, np.searchsorted(ordered, np.where(reported, own, 0.0), side="left"), count)
        peers = count - reported.astype(int)
        row = {"microsystem_id": part["microsystem_id"].to_numpy(), "characteristic_id": characteristic, "peers": peers}
        quantiles = (("peer_min", 0.0), ("peer_q1", 0.25), ("peer_median", 0.5), ("peer_q3", 0.75), ("peer_max", 1.0))
        for name, q in quantiles:
            row[name] = _leave_one_out_quantile(ordered, skipped, peers, q)
        with np.errstate(invalid="ignore", divide="ignore"):
            below = (np.searchsorted(ordered, np.where(reported, own, 0.0), side="left")
                     / np.where(peers > 0, peers, np.nan))
        row["share_of_peers_below"] = np.where(reported, below, np.nan)
        parts.append(pd.DataFrame(row))
    columns = ["microsystem_id", "characteristic_id", "peers", "peer_min", "peer_q1", "peer_median", "peer_q3",
               "peer_max", "share_of_peers_below"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _leave_one_out_quantile(ordered: np.ndarray, skipped: np.ndarray, peers: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` (linear interpolation, as pandas) of ``ordered`` without the element at
    ``skipped`` (``len(ordered)``: none), for many ``skipped`` at once."""
    if len(ordered) == 0:
        return np.full(len(skipped), np.nan)
    position = q * np.maximum(peers - 1, 0)
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, np.maximum(peers - 1, 0))
    fraction = position - lower

    def at(index):  # the index-th smallest peer: positions at or past the skipped one move up by one
        shifted = np.where(index >= skipped, index + 1, index)
        return ordered[np.clip(shifted, 0, len(ordered) - 1)]

    value = at(lower) + fraction * (at(upper) - at(lower))
    return np.where(peers > 0, value, np.nan)


def unit_items(answers: pd.DataFrame, *, scale: LevelScale, policy: AgreementPolicy, disclosure: DisclosurePolicy,
               by: tuple[str, ...] = ("microsystem_id", "item_id")) -> pd.DataFrame:
    """Per group x item (default microsystem x item): answer counts, level shares, mean and
    the item's agreement, with what may not be shown blanked: figures from fewer than the
    rule's people, and further groups' figures where the hidden ones could be recovered from
    the whole study's figures on the item (:func:`disclose` ``within``).

    Returns
    -------
    DataFrame: the :func:`workbench.survey.item_summary` columns, then ``rwg`` and
    ``agreement`` (for microsystem x item).
    """
    items = survey.item_summary(answers, by=by, levels=scale.values)
    shares = [c for c in items.columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)]
    if "microsystem_id" in by:
        rwg = agreement.rwg(answers, by=by, n_levels=scale.n, null_variance=policy.null_variance(scale))[[*by, "rwg"]]
        items = items.merge(rwg, on=list(by), how="left")
        items["agreement"] = policy.verdict(items["rwg"], items["n_rated"], disclosure)
    figures = {**dict.fromkeys([*shares, "mean", "median", "sd", "rwg"], "n_rated"),
               **dict.fromkeys(["cant_rate_share", "n_cant_rate", "n_no_answer"], "n_respondents")}
    return disclose(items, disclosure, figures=figures, within="item_id", unanimous=items["sd"].eq(0))


def study_items(answers: pd.DataFrame, *, scale: LevelScale, disclosure: DisclosurePolicy) -> pd.DataFrame:
    """Per item over the whole study: counts, level shares, can't-rate share, mean."""
    items = survey.item_summary(answers, by=("item_id",), levels=scale.values)
    shares = [c for c in items.columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)]
    figures = {**dict.fromkeys([*shares, "mean", "median", "sd"], "n_rated"),
               **dict.fromkeys(["cant_rate_share", "n_cant_rate", "n_no_answer"], "n_respondents")}
    return disclose(items, disclosure, figures=figures, unanimous=items["sd"].eq(0))


def role_items(answers: pd.DataFrame, *, scale: LevelScale, disclosure: DisclosurePolicy) -> pd.DataFrame:
    """Per role x item over the whole study: counts, level shares, can't-rate share, mean;
    the roles' rows of an item are parts of its whole-study figures (:func:`study_items`),
    so hidden ones are protected from being recovered as the total minus the others."""
    items = survey.item_summary(answers, by=("role", "item_id"), levels=scale.values)
    shares = [c for c in items.columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)]
    figures = {**dict.fromkeys([*shares, "mean", "median", "sd"], "n_rated"),
               **dict.fromkeys(["cant_rate_share", "n_cant_rate", "n_no_answer"], "n_respondents")}
    return disclose(items, disclosure, figures=figures, within="item_id", unanimous=items["sd"].eq(0))


def agreement_indices(answers: pd.DataFrame, *, scale: LevelScale, policy: AgreementPolicy,
                      disclosure: DisclosurePolicy) -> pd.DataFrame:
    """Every within-group agreement index per unit x characteristic and unit x item
    (:func:`workbench.agreement.within_group_agreement`), with the indices of fewer than the
    rule's raters (or of a unanimous group, if the study hides those) blank: for the survey
    report's export."""
    table = agreement.within_group_agreement(answers, scale=scale, policy=policy, disclosure=disclosure)
    figures = ["mean_item_variance", "rwg", "rwg_star", "rwg_p", "awg", "ad_mean", "ad_median", "agreement_index"]
    shown = disclose(table, disclosure, figures=dict.fromkeys(figures, "n_rated"),
                     unanimous=table["mean_item_variance"].eq(0))
    hidden = shown["rwg"].isna() & table["rwg"].notna()
    shown["rwg_significant"] = shown["rwg_significant"].astype("boolean").mask(hidden)
    return shown


def unit_overview(study) -> pd.DataFrame:
    """One row per microsystem: name, setting, organisation and how much evidence it has."""
    from workbench import overview

    return overview.microsystem_overview(study)


def unit_quotes(codings: pd.DataFrame, *, codes: list[str], n: int = QUOTES_PER_CHARACTERISTIC) -> pd.DataFrame:
    """The ``n`` most representative excerpts per microsystem x code (agreed coding), ranked
    from 1; no speaker, interview or role travels with them."""
    columns = ["microsystem_id", "characteristic_id", "rank", "excerpt"]
    if codings.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rank" else "str") for c in columns})
    best = coding.representative_excerpts_by_microsystem(coding.segment_codes(codings), codes=codes, n=n)
    best = best.rename(columns={"code_id": "characteristic_id"})
    best["rank"] = best.groupby(["microsystem_id", "characteristic_id"], sort=False).cumcount() + 1
    return best[columns].sort_values(["microsystem_id", "characteristic_id", "rank"]).reset_index(drop=True)


class RoleFilters:
    """The per-unit views computed from the answers of chosen roles only (the explorer's role
    filter), safe to show side by side for every choice of roles.

    Two role filters, or a filter and the all-roles view, differ by whole role groups of a
    unit, so their difference describes those groups; and a unit nearly always has a role
    held by fewer than the rule's people (its one manager). So within each unit the roles are
    grouped once into *role groups* of at least the rule's people each (:meth:`groups`: roles
    with enough respondents stand alone, the others are pooled, and a pool still too small
    joins the smallest role that stands alone). A role filter shows a unit's figures only
    where it takes each of the unit's role groups whole or not at all; then any difference
    between shown figures is made of whole groups. A row whose groups hold too few people on
    one of the counts its figures rest on (fewer rated an item than answered) is withheld
    under every filter. And since the survey report publishes whole-study figures per role,
    a role's people in withheld units must not be recoverable as that total minus the shown
    units: per role, further units are withheld, smallest first, until the withheld ones
    are two or more holding at least the rule's people.
    """

    # view -> (the column that is not the unit in its key, the counts its figures rest on)
    FILTERABLE = {
        "unit_profiles": ("characteristic_id", ("n_respondents", "n_scored", "n_agreement")),
        "unit_items": ("item_id", ("n_respondents", "n_rated")),
    }

    def __init__(self, study):
        self.study = study
        self.roles = tuple(study.config.roles)
        self._groups: pd.DataFrame | None = None
        self._checked: dict[str, pd.DataFrame] = {}

    def _compute(self, name: str, answers: pd.DataFrame) -> pd.DataFrame:
        study = self.study
        policies = {"scale": study.scale, "policy": study.agreement_policy, "disclosure": study.disclosure}
        if name == "unit_profiles":
            return unit_profiles(answers, **policies, min_items=study.config.analysis.min_items,
                                 unshared=study.config.analysis.unshared)
        return unit_items(answers, **policies)

    def groups(self) -> pd.DataFrame:
        """Each unit's roles grouped for role filters: ``microsystem_id``, ``role``,
        ``respondents`` (the role's survey respondents in the unit) and ``group`` (the roles
        of its role group joined by " + ")."""
        if self._groups is not None:
            return self._groups
        k = self.study.disclosure.min_cell_size
        respondents = self.study.answers[["microsystem_id", "role", "respondent_id"]].drop_duplicates()
        sizes = respondents.groupby(["microsystem_id", "role"], sort=True).size().rename("respondents").reset_index()
        sizes = sizes.astype({"microsystem_id": "str", "role": "str"})  # (the answers hold them as categories)
        group = sizes["role"].astype("object").to_numpy().copy()
        for rows in sizes.groupby("microsystem_id", sort=False).indices.values():
            counts = sizes["respondents"].to_numpy()[rows]
            small = counts < k
            if not small.any():
                continue
            pooled = list(rows[small])
            if counts[small].sum() < k and (~small).any():
                # The pool alone would still be too few: it joins the smallest role that stands alone.
                pooled.append(rows[~small][np.argmin(counts[~small])])
            if counts[small].sum() < k and not (~small).any():
                pooled = list(rows)
            label = " + ".join(sorted(str(sizes.at[r, "role"]) for r in pooled))
            group[pooled] = label
        self._groups = sizes.assign(group=group)
        return self._groups

    def _checked_rows(self, name: str) -> pd.DataFrame:
        """Per unit x element: ``withheld`` (under every filter but all roles) and the unit's
        role groups there."""
        if name in self._checked:
            return self._checked[name]
        element, counts = self.FILTERABLE[name]
        keys = ["microsystem_id", element]
        answers = self.study.answers
        policy = self.study.disclosure
        groups = self.groups()
        group_of = groups.set_index(["microsystem_id", "role"])["group"]
        per_role = pd.concat([self._compute(name, answers[answers["role"].eq(role)])[[*keys, *counts]].assign(role=role)
                              for role in self.roles if answers["role"].eq(role).any()], ignore_index=True)
        per_role["group"] = group_of.reindex(pd.MultiIndex.from_frame(per_role[["microsystem_id", "role"]])).to_numpy()
        per_group = per_role.groupby([*keys, "group"], sort=False)[list(counts)].sum()
        # A row is withheld where one of its role groups holds too few people on any count.
        too_few = ((per_group > 0) & (per_group < policy.min_cell_size)).any(axis=1).groupby(level=keys).any()
        rows = too_few.rename("withheld").reset_index()
        withheld = rows["withheld"].to_numpy().copy()
        # Per role and element: a role's people in withheld units, or pooled with another role,
        # are what the whole-study figure for the role minus the shown units would describe.
        index = pd.MultiIndex.from_frame(rows[keys])
        elements = rows.groupby(element, sort=False).indices
        # Whether each role stands alone as a group in each row: the same for every count.
        alone = per_role.assign(alone=per_role["group"].eq(per_role["role"])).pivot_table(
            index=keys, columns="role", values="alone", fill_value=False, aggfunc="any").reindex(
            index, fill_value=False)
        for count in counts:
            table = per_role.pivot_table(index=keys, columns="role", values=count, fill_value=0, aggfunc="sum")
            table = table.reindex(index, fill_value=0)
            for role in table.columns:
                sizes = table[role].to_numpy(dtype="float64")
                pooled = ~alone[role].to_numpy(dtype=bool) if role in alone else np.ones(len(sizes), dtype=bool)
                for positions in elements.values():
                    hidden = policy.hidden(sizes[positions], total_shown=True,
                                           already_hidden=withheld[positions] | pooled[positions])
                    withheld[positions] |= hidden & ~pooled[positions] & (sizes[positions] > 0)
        rows["withheld"] = withheld
        self._checked[name] = rows
        return rows

    def shown(self, name: str, roles) -> pd.DataFrame:
        """Per unit x element: whether the filter ``roles`` may show the row (``shown``)."""
        element, _ = self.FILTERABLE[name]
        rows = self._checked_rows(name)
        groups = self.groups()
        # A filter takes a unit's role group whole or not at all: count, per group, its roles chosen.
        chosen = groups.assign(chosen=groups["role"].isin(list(roles)))
        split = chosen.groupby(["microsystem_id", "group"], sort=False)["chosen"].agg(lambda c: 0 < c.sum() < len(c))
        unit_split = split.groupby(level="microsystem_id").any()
        splits = rows["microsystem_id"].map(unit_split).fillna(False).astype(bool).to_numpy()
        return rows.assign(shown=~rows["withheld"].to_numpy() & ~splits)[["microsystem_id", element, "shown"]]

    def view(self, name: str, roles) -> pd.DataFrame:
        """The view ``name`` (``unit_profiles`` or ``unit_items``) from the answers of
        ``roles``, with withheld rows' figures and counts blank; with every role, the study's
        stored view."""
        if name not in self.FILTERABLE:
            raise ValueError(f"name must be one of {list(self.FILTERABLE)}, got {name!r}")
        unknown = sorted(set(roles) - set(self.roles))
        if unknown:
            raise ValueError(f"roles {unknown} are not among the study's roles {list(self.roles)}")
        if set(roles) == set(self.roles):
            return self.study.view(name)
        answers = self.study.answers
        computed = self._compute(name, answers[answers["role"].isin(list(roles))])
        element, _ = self.FILTERABLE[name]
        keys = ["microsystem_id", element]
        shown = computed[keys].merge(self.shown(name, roles), on=keys, how="left")["shown"]
        hidden = ~shown.fillna(False).astype(bool).to_numpy()
        figures = [c for c in computed.columns if pd.api.types.is_float_dtype(computed[c])]
        computed[figures] = computed[figures].mask(hidden[:, None].repeat(len(figures), axis=1))
        present = [c for c in computed.columns if c.startswith("n_") and c != "n_items"]
        computed[present] = computed[present].astype("Float64").mask(hidden[:, None].repeat(len(present), axis=1))
        computed[present] = computed[present].astype("Int64")
        if "agreement" in computed:
            computed.loc[hidden, "agreement"] = TOO_FEW
        for flag in ("shared", "reported"):
            if flag in computed:
                computed.loc[hidden, flag] = False
        return computed


def compute_views(study) -> dict[str, pd.DataFrame]:
    """Every view of ``study`` (a :class:`~workbench.study.Study`), by name."""
    scale, policy, disclosure = study.scale, study.agreement_policy, study.disclosure
    answers = study.answers
    profiles = unit_profiles(answers, scale=scale, policy=policy, disclosure=disclosure,
                             min_items=study.config.analysis.min_items, unshared=study.config.analysis.unshared)
    return {
        "unit_overview": unit_overview(study),
        "unit_profiles": profiles,
        "peer_positions": peer_positions(profiles),
        "unit_items": unit_items(answers, scale=scale, policy=policy, disclosure=disclosure),
        "study_items": study_items(answers, scale=scale, disclosure=disclosure),
        "role_items": role_items(answers, scale=scale, disclosure=disclosure),
        "unit_quotes": unit_quotes(study.codings, codes=study.characteristics.element_ids),
        **wave_changes(study),
        **outcome_views(study),
    }


CHART_COLUMNS = ("microsystem_id", "outcome_id", "period", "phase", "y", "centre", "lcl", "ucl", "mr", "mr_centre",
                 "mr_ucl", "outside", "signal_run", "run_centre", "run_side", "run_signal")
SIGNAL_COLUMNS = ("microsystem_id", "outcome_id", "chart", "months", "change_month", "change", "run_centre_label",
                  "longest_run", "longest_run_limit", "run_side", "run_start", "run_ongoing", "crossings",
                  "crossings_limit", "runs_signal", "crossings_signal", "outside_months", "signal", "improved",
                  "worsened", "words")
FUNNEL_COLUMNS = ("microsystem_id", "outcome_id", "numerator", "denominator", "y", "z", "inside_95", "inside_99.8",
                  "beyond", "target", "months")
LIMIT_COLUMNS = ("outcome_id", "volume", "probability", "coverage", "lower", "upper", "target", "phi", "tau2",
                 "adjusted", "method")


def _empty(columns) -> pd.DataFrame:
    """A view with no rows: ids as text (a filter on a unit compares text with text), the rest float."""
    return pd.DataFrame({c: pd.Series(dtype="str" if c.endswith("_id") else "float64") for c in columns})


def outcome_views(study) -> dict[str, pd.DataFrame]:
    """The ``outcome_charts``, ``outcome_signals``, ``outcome_funnels`` and ``funnel_limits``
    views of a study's monthly outcomes (empty tables for a study without them).

    Each unit's series gets its control chart, with a new phase at each dated change that
    applies to the outcome, and its run chart, whose median is the baseline's (the months
    before the unit's first change) when it has one. ``improved`` says a run signals on the
    better side of that median (a sustained improvement); the ``words`` are the signals as
    a unit's staff read them. Funnels compare units over the latest
    ``analysis.outcome_window_months`` months."""
    from workbench import spc

    series, specs = study.outcome_series, study.config.series_outcomes
    empty = {"outcome_charts": _empty(CHART_COLUMNS), "outcome_signals": _empty(SIGNAL_COLUMNS),
             "outcome_funnels": _empty(FUNNEL_COLUMNS), "funnel_limits": _empty(LIMIT_COLUMNS)}
    if series.empty or not specs:
        return empty
    # Columns of every chart, gathered as arrays and made into one frame at the end: a frame per
    # series would cost more than the charts themselves (a 5,000-unit study has 15,000 series).
    columns: dict[str, list] = {c: [] for c in CHART_COLUMNS}
    signals = []
    changes_of: dict[str, list] = {}
    for change in sorted(study.config.changes, key=lambda c: c.month):
        changes_of.setdefault(change.microsystem_id, []).append(change)
    for spec in specs:
        rows = series[series["outcome_id"].eq(spec.id)]
        for unit, months in rows.groupby("microsystem_id", sort=True):
            changes = [c for c in changes_of.get(unit, ()) if c.outcomes is None or spec.id in c.outcomes]
            first = months["period"].min()
            starts = [c.period for c in changes if c.period > first]
            control, phases = spc.control_chart(months, kind=spec.kind, per=spec.per, better=spec.better,
                                                phases=starts)
            run, summary = spc.run_chart(months, kind=spec.kind, per=spec.per, better=spec.better,
                                         baseline_end=starts[0] if starts else None)
            size = len(control)
            for column in CHART_COLUMNS:
                if column in control.columns:
                    columns[column].append(control[column].to_numpy())
                elif column in ("mr", "mr_centre", "mr_ucl"):
                    columns[column].append(np.full(size, np.nan))
            columns["microsystem_id"].append(np.full(size, unit, dtype=object))
            columns["outcome_id"].append(np.full(size, spec.id, dtype=object))
            columns["run_centre"].append(run["centre"].to_numpy())
            columns["run_side"].append(run["side"].to_numpy(dtype=object))
            columns["run_signal"].append(run["signal_run"].to_numpy())
            better_side = "above" if spec.better == "higher" else "below"
            words = spc.signals_in_words(summary, control, better=spec.better)
            signals.append({
                "microsystem_id": unit, "outcome_id": spec.id, "chart": spc.CHART_TYPES[spec.kind],
                "months": size, "change_month": starts[0] if starts else pd.NaT,
                "change": changes[0].what if starts else None, "run_centre_label": summary.centre_label,
                "longest_run": summary.longest_run, "longest_run_limit": summary.longest_run_limit,
                "run_side": summary.run_side, "run_start": summary.run_start, "run_ongoing": summary.run_ongoing,
                "crossings": summary.crossings, "crossings_limit": summary.crossings_limit,
                "runs_signal": summary.runs_signal, "crossings_signal": summary.crossings_signal,
                "outside_months": int(control["outside"].notna().sum()), "signal": summary.signal,
                "improved": bool(summary.runs_signal and summary.run_side == better_side),
                "worsened": bool(summary.runs_signal and summary.run_side not in (better_side, None)),
                "words": " ".join(words),
            })
    funnels, limits = _funnels(series, specs, months=study.config.analysis.outcome_window_months)
    chart_frame = (pd.DataFrame({c: np.concatenate(parts) for c, parts in columns.items()}) if signals
                   else empty["outcome_charts"])
    signal_frame = pd.DataFrame(signals, columns=list(SIGNAL_COLUMNS)) if signals else empty["outcome_signals"]
    return {"outcome_charts": chart_frame, "outcome_signals": signal_frame, "outcome_funnels": funnels,
            "funnel_limits": limits}


def _funnels(series: pd.DataFrame, specs, *, months: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each proportion or rate outcome's funnel over the study's latest ``months`` months."""
    from workbench import spc
    from workbench.io.study_csv import latest_months

    recent = latest_months(series, months)
    units, lines = [], []
    for spec in specs:
        if spec.kind not in ("proportion", "rate"):
            continue  # a count or a measurement has no denominator to set a funnel's width
        rows = recent[recent["outcome_id"].eq(spec.id)].groupby("microsystem_id", sort=True)
        totals = rows[["numerator", "denominator"]].sum().reset_index().assign(months=rows.size().to_numpy())
        if totals.empty:
            continue
        funnel = spc.funnel_table(totals, kind=spec.kind, per=spec.per)
        table = funnel.table.assign(outcome_id=spec.id, target=funnel.target, months=totals["months"].to_numpy())
        units.append(table.reindex(columns=list(FUNNEL_COLUMNS)))
        drawn = funnel.limits
        lines.append(drawn.assign(outcome_id=spec.id, target=funnel.target, phi=funnel.phi, tau2=funnel.tau2,
                                  adjusted=funnel.adjusted, method=funnel.method))
    return (pd.concat(units, ignore_index=True) if units else _empty(FUNNEL_COLUMNS),
            pd.concat(lines, ignore_index=True)[list(LIMIT_COLUMNS)] if lines else _empty(LIMIT_COLUMNS))


def previous_wave(study) -> tuple[pd.DataFrame, tuple[str, str]] | None:
    """The answers of the wave before the latest, and the two waves' ids; None for a study of
    one wave."""
    waves = study.config.waves
    if len(waves) < 2:
        return None
    before, after = waves[-2].id, waves[-1].id
    past = study.past_answers
    return past[past["wave"].astype("str").eq(before).to_numpy()].drop(columns="wave"), (before, after)


def wave_changes(study) -> dict[str, pd.DataFrame]:
    """The ``unit_changes`` and ``study_changes`` views: since the previous wave (empty tables
    of the same columns for a study of one wave)."""
    from workbench import waves

    previous = previous_wave(study)
    if previous is None:
        return {"unit_changes": _empty(waves.UNIT_CHANGE_COLUMNS), "study_changes": _empty(waves.STUDY_CHANGE_COLUMNS)}
    earlier, names = previous
    changes = waves.unit_changes(earlier, study.answers, scale=study.scale, disclosure=study.disclosure,
                                 min_items=study.config.analysis.min_items, waves=names)
    return {"unit_changes": changes, "study_changes": waves.study_change(changes)}


def view_path(folder: Path, name: str) -> Path:
    """Where the view ``name`` of a study processed into ``folder`` is kept."""
    return Path(folder) / "views" / f"{name}.parquet"


def write_views(study, folder: Path) -> dict[str, str]:
    """Compute the views and write them under ``folder/views/``; return each file's digest.

    Also writes ``views/unit_digests.parquet``: for every microsystem, a digest of its rows
    in each per-unit view (and the small per-unit frames), which incremental regeneration
    compares. A per-microsystem report that reads a large frame (answers, codings) is keyed on
    that whole frame instead: coarser, never stale, and no cost at build for reports that do not.
    """
    computed = compute_views(study)
    digests = {}
    for name, frame in computed.items():
        path = view_path(folder, name)
        write_parquet_atomic(path, frame)
        digests[name] = sha256_of(path)
    per_unit = unit_digests({**computed, "outcomes": study.outcomes, "microsystems": study.microsystems},
                            study.microsystems["microsystem_id"])
    path = view_path(folder, "unit_digests")
    write_parquet_atomic(path, per_unit)
    digests["unit_digests"] = sha256_of(path)
    return digests


def unit_digests(tables: dict[str, pd.DataFrame], microsystem_ids: pd.Series) -> pd.DataFrame:
    """For every microsystem and table, a digest of that microsystem's rows (vectorised: one
    row hash per table, then the hashes of each unit combined)."""
    result = pd.DataFrame({"microsystem_id": pd.Series(microsystem_ids, dtype="str").to_numpy()})
    for name, table in tables.items():
        if "microsystem_id" not in table.columns:
            continue
        hashes = pd.util.hash_pandas_object(table, index=False).to_numpy()
        ids = table["microsystem_id"].to_numpy()
        order = np.argsort(ids, kind="stable")
        ids, hashes = ids[order], hashes[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
        digest = {ids[s]: hashlib.blake2b(hashes[s:e].tobytes(), digest_size=12).hexdigest()
                  for s, e in zip(starts, [*starts[1:], len(ids)])}
        # A unit with no rows in a table gets the digest "none" (a map over no keys gives floats: say str first).
        known = result["microsystem_id"].isin(digest)
        result[name] = result["microsystem_id"].map(digest).astype("str").where(known, "none")
    return result


def read_view(study, name: str, *, microsystem_id: str | None = None) -> pd.DataFrame:
    """A view of a built study, or one microsystem's rows of it (read with a filter, so the
    cost does not grow with the number of microsystems)."""
    if name not in (*VIEWS, "unit_digests"):
        raise ValueError(f"name must be one of {list(VIEWS)}, got {name!r}")
    if study.processed is None:  # a study held in memory: compute the view
        frame = compute_views(study)[name]
        if microsystem_id is None:
            return frame
        return frame[frame["microsystem_id"].eq(microsystem_id)].reset_index(drop=True)
    path = view_path(study.processed, name)
    if microsystem_id is None:
        return pd.read_parquet(path)
    if name not in PER_UNIT:
        raise ValueError(f"view {name!r} is not per microsystem; per-microsystem views: {list(PER_UNIT)}")
    return pd.read_parquet(path, filters=[("microsystem_id", "==", microsystem_id)]).reset_index(drop=True)


def funnel(study, outcome_id: str):
    """The funnel plot of a proportion or rate outcome, as the built study's views hold it
    (``outcome_funnels`` and ``funnel_limits``), for :func:`workbench.plotting.funnel_plot`;
    None when the outcome has no funnel (a count or a measurement, or no month)."""
    from workbench import spc

    spec = study.outcome(outcome_id)
    limits = study.view("funnel_limits")
    limits = limits[limits["outcome_id"].eq(outcome_id)]
    if limits.empty:
        return None
    table = study.view("outcome_funnels")
    first = limits.iloc[0]
    return spc.Funnel(table=table[table["outcome_id"].eq(outcome_id)].reset_index(drop=True),
                      limits=limits.reset_index(drop=True), target=float(first["target"]), phi=float(first["phi"]),
                      tau2=float(first["tau2"]), adjusted=bool(first["adjusted"]), method=str(first["method"]),
                      kind=spec.kind, per=float(spec.per))
