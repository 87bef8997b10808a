"""An interactive explorer of one study, for JupyterLab or as a Voilà app.

Choose microsystems, a characteristic, the roles whose answers count and an outcome; the
profile plot, the survey distribution, the agreement figures and matching interview quotes
update in place. It works on any study the workbench can load.

Two layers: :class:`StudyExplorer` computes the tables for a :class:`Selection` (plain
pandas, tested without a browser), and :class:`Explorer` lays out the ipywidgets and redraws
them when a control changes. Figures are drawn off-screen to PNG and tables to HTML, so what
the widgets show can be checked in a test as well as in a browser.

Privacy holds here as in the reports: a microsystem's figures computed from fewer than the
study's minimum cell size of people (easily reached once the roles are narrowed) are hidden,
and so are figures whose role filter sets apart fewer than that many people (the difference
from the all-roles view would describe them). Quotes come from every role, and carry
neither respondent nor role.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import agreement, coding, survey
from workbench.plotting import rows_on_level_scale
from workbench.study import Study

@dataclass(frozen=True)
class Selection:
    """What the explorer shows: these microsystems, this characteristic, answers from
    these roles, and this outcome."""

    microsystems: tuple[str, ...]
    characteristic: str
    roles: tuple[str, ...]
    outcome: str


class StudyExplorer:
    """The explorer's tables for any :class:`Selection` of one study."""

    def __init__(self, study: Study):
        self.study = study
        self.min_cell_size = study.config.privacy.min_cell_size
        self.names = study.microsystems.set_index("microsystem_id")["name"]
        self.characteristic_labels = study.characteristics.labels(short=False)
        self.item_labels = study.instrument.labels(short=True)
        self.outcome_labels = {o.id: f"{o.label} ({o.unit})" if o.unit else o.label for o in study.config.outcomes}
        self.segments = coding.segment_codes(study.codings) if len(study.codings) else None
        self._by_roles: dict[tuple[str, ...], dict[str, pd.DataFrame]] = {}

    def default_selection(self) -> Selection:
        characteristics = self.study.characteristics.element_ids
        return Selection(
            microsystems=tuple(self.study.microsystems["microsystem_id"].head(3)),
            characteristic=characteristics[0],
            roles=tuple(self.study.config.roles),
            outcome=self.study.config.outcomes[0].id if self.study.config.outcomes else "",
        )

    def check(self, selection: Selection) -> None:
        """Refuse ids the study does not have, naming the valid ones."""
        known = set(self.names.index)
        unknown = [m for m in selection.microsystems if m not in known]
        if unknown:
            raise ValueError(f"microsystems {unknown} are not in study {self.study.id!r}")
        if selection.characteristic not in self.characteristic_labels:
            raise ValueError(f"characteristic must be one of {list(self.characteristic_labels)}, got {selection.characteristic!r}")
        unknown_roles = [r for r in selection.roles if r not in self.study.config.roles]
        if unknown_roles:
            raise ValueError(f"roles {unknown_roles} are not among the study's roles {self.study.config.roles}")
        if selection.outcome and selection.outcome not in self.outcome_labels:
            raise ValueError(f"outcome must be one of {list(self.outcome_labels)}, got {selection.outcome!r}")

    def _for_roles(self, roles: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        """Profiles, item summaries and agreement from the answers of ``roles``, with what
        may not be shown already hidden (cached: moving between microsystems or
        characteristics does not recompute them)."""
        key = tuple(sorted(roles))
        if key in self._by_roles:
            return self._by_roles[key]
        k = self.min_cell_size
        levels = tuple(self.study.instrument.level_values)
        answers = self.study.answers[self.study.answers["role"].isin(key)]
        if answers.empty:
            computed = {"profile": pd.DataFrame(columns=["microsystem_id", "characteristic_id", "n_scored", "mean"]),
                        "items": pd.DataFrame(columns=["microsystem_id", "item_id", "n_respondents", "n_rated", "cant_rate_share",
                                                       *[f"{survey.LEVEL_COLUMNS_PREFIX}{v}" for v in levels]]),
                        "agreement": pd.DataFrame(columns=["microsystem_id", "characteristic_id", "n_rated", "index",
                                                           "agreement_index", "agreement"]),
                        "iccs": pd.DataFrame(columns=["item_id", "n", "n_groups", "icc1", "icc2"])}
            self._by_roles[key] = computed
            return computed
        profile = survey.microsystem_profile(survey.respondent_scores(answers))
        items = survey.item_summary(answers, levels=levels)
        unit_agreement = agreement.characteristic_agreement(answers, n_levels=len(levels), min_group_size=k)
        # A figure from fewer than k people is never shown.
        profile_hidden = profile["n_scored"] < k
        shares = [c for c in items.columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)]
        level_hidden = items["n_rated"] < k
        cant_rate_hidden = items["n_respondents"] < k
        agreement_hidden = unit_agreement["agreement"].eq("too few")
        all_roles = tuple(sorted(self.study.config.roles))
        if key != all_roles:
            # Nor may the people a role filter leaves out be fewer than k: set against the
            # all-roles view, the difference between the two would describe them.
            full = self._for_roles(all_roles)
            profile_hidden |= _few_left_out(profile, full["profile"], ["microsystem_id", "characteristic_id"], "n_scored", k)
            level_hidden |= _few_left_out(items, full["items"], ["microsystem_id", "item_id"], "n_rated", k)
            cant_rate_hidden |= _few_left_out(items, full["items"], ["microsystem_id", "item_id"], "n_respondents", k)
            agreement_hidden |= _few_left_out(unit_agreement, full["agreement"], ["microsystem_id", "characteristic_id"], "n_rated", k)
        profile.loc[profile_hidden, ["mean", "median", "sd", "ci_low", "ci_high"]] = np.nan
        items[shares] = items[shares].astype("float64").mask(level_hidden, axis=0)
        items["cant_rate_share"] = items["cant_rate_share"].astype("float64").mask(cant_rate_hidden)
        unit_agreement["agreement_index"] = unit_agreement["agreement_index"].astype("float64").mask(agreement_hidden)
        unit_agreement.loc[agreement_hidden, "agreement"] = "hidden"
        computed = {"profile": profile, "items": items, "agreement": unit_agreement, "iccs": agreement.icc_by_item(answers)}
        self._by_roles[key] = computed
        return computed

    def tables(self, selection: Selection) -> dict[str, pd.DataFrame]:
        """``profile``: characteristic x (each chosen microsystem's mean, the other
        microsystems' quartiles); ``outcome``: every microsystem's mean on the characteristic
        beside the outcome; ``distribution``: level shares of the characteristic's items in
        the chosen microsystems; ``agreement``: their agreement on it, and each item's ICCs
        over all microsystems; ``quotes``: interview excerpts coded with it."""
        self.check(selection)
        computed = self._for_roles(selection.roles)
        chosen = list(selection.microsystems)
        characteristics = self.study.characteristics.element_ids
        means = computed["profile"].pivot(index="characteristic_id", columns="microsystem_id", values="mean")
        means = means.reindex(index=characteristics, columns=list(self.names.index))
        others = means.drop(columns=chosen)
        profile = means[chosen].copy()
        profile["others_q1"] = others.quantile(0.25, axis=1)
        profile["others_median"] = others.median(axis=1)
        profile["others_q3"] = others.quantile(0.75, axis=1)
        profile.columns.name = None

        outcome = pd.DataFrame({"microsystem_id": self.names.index, "name": self.names.to_numpy(),
                                "mean": means.loc[selection.characteristic].to_numpy()})
        if selection.outcome:
            values = self.study.outcomes.set_index("microsystem_id")[selection.outcome]
            outcome[selection.outcome] = outcome["microsystem_id"].map(values)
        outcome["chosen"] = outcome["microsystem_id"].isin(chosen)

        items = [i.id for i in self.study.instrument.items if i.characteristic == selection.characteristic]
        summary = computed["items"]
        distribution = summary[summary["microsystem_id"].isin(chosen) & summary["item_id"].isin(items)].copy()
        shares = [c for c in distribution.columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)] + ["cant_rate_share"]
        distribution = distribution.assign(
            order=distribution["microsystem_id"].map({m: p for p, m in enumerate(chosen)}) * 100
            + distribution["item_id"].map({i: p for p, i in enumerate(items)}),
        ).sort_values("order")[["microsystem_id", "item_id", "n_respondents", "n_rated", *shares]].reset_index(drop=True)

        unit_agreement = computed["agreement"]
        unit_agreement = unit_agreement[unit_agreement["microsystem_id"].isin(chosen)
                                        & unit_agreement["characteristic_id"].eq(selection.characteristic)]
        iccs = computed["iccs"]
        return {
            "profile": profile,
            "outcome": outcome,
            "distribution": distribution,
            "agreement": unit_agreement.set_index("microsystem_id").reindex(chosen).reset_index(),
            "iccs": iccs[iccs["item_id"].isin(items)].reset_index(drop=True),
            "quotes": self.quotes(selection),
        }

    def quotes(self, selection: Selection, *, per_microsystem: int = 2) -> pd.DataFrame:
        """Excerpts coded with the characteristic in the chosen microsystems: up to
        ``per_microsystem`` each, the plainest first. From every role, whatever the role
        filter: a quote shown for one role in one unit could point to the one person
        interviewed in that role there."""
        columns = ["microsystem_id", "excerpt"]
        if self.segments is None:
            return pd.DataFrame(columns=columns)
        segments = self.segments[self.segments["microsystem_id"].isin(selection.microsystems)]
        best = coding.representative_excerpts_by_microsystem(segments, codes=[selection.characteristic], n=per_microsystem)
        order = {m: p for p, m in enumerate(selection.microsystems)}
        return best.sort_values("microsystem_id", key=lambda s: s.map(order), kind="stable")[columns].reset_index(drop=True)


def _few_left_out(shown: pd.DataFrame, everyone: pd.DataFrame, keys: list[str], count: str, k: int) -> pd.Series:
    """Rows of ``shown`` whose ``count`` falls short of the all-roles count by 1 to k - 1."""
    full = shown[keys].merge(everyone[[*keys, count]], on=keys, how="left")[count].fillna(0).to_numpy()
    left_out = full - shown[count].to_numpy()
    return pd.Series((left_out > 0) & (left_out < k), index=shown.index)


# ---------------------------------------------------------------------------------------
# Drawing: matplotlib figures made without pyplot (no global state), saved as PNG bytes.

UNIT_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _png(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def profile_png(profile: pd.DataFrame, *, labels: dict[str, str], highlight: str, names: dict[str, str]) -> bytes:
    """Each chosen microsystem's characteristic means against the other microsystems'
    middle half and median; the chosen characteristic's label in bold."""
    from matplotlib.figure import Figure

    units = [c for c in profile.columns if not c.startswith("others_")]
    figure = Figure(figsize=(7.5, 0.45 * len(profile) + 1.6))
    ax = figure.subplots()
    ys = np.arange(len(profile))[::-1]
    ax.hlines(ys, profile["others_q1"], profile["others_q3"], color="#bbbbbb", linewidth=8, label="other microsystems: middle half")
    ax.scatter(profile["others_median"], ys, marker="|", s=250, color="black", zorder=3, label="other microsystems: median")
    for position, unit in enumerate(units):
        offset = (position - (len(units) - 1) / 2) * 0.12
        ax.scatter(profile[unit], ys + offset, s=45, zorder=4, color=UNIT_COLOURS[position % len(UNIT_COLOURS)],
                   label=f"{unit} {names.get(unit, '')}".strip())
    rows_on_level_scale(ax, ys, [labels.get(c, c) for c in profile.index])
    for tick, characteristic in zip(ax.get_yticklabels(), profile.index):
        tick.set_fontweight("bold" if characteristic == highlight else "normal")
    ax.set_xlabel("mean level (hidden where fewer respondents than the minimum)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
    return _png(figure)


def outcome_png(outcome: pd.DataFrame, *, outcome_id: str, outcome_label: str, characteristic_label: str) -> bytes:
    """Every microsystem's mean on the characteristic against the outcome; the chosen ones
    coloured and named by id."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    ax = figure.subplots()
    if not outcome_id:
        ax.text(0.5, 0.5, "This study records no outcome.", ha="center", va="center")
        ax.set_axis_off()
        return _png(figure)
    others = outcome[~outcome["chosen"]]
    ax.scatter(others["mean"], others[outcome_id], color="#999999", s=20, label="other microsystems")
    for position, row in enumerate(outcome[outcome["chosen"]].itertuples(index=False)):
        colour = UNIT_COLOURS[position % len(UNIT_COLOURS)]
        ax.scatter([row.mean], [getattr(row, outcome_id)], color=colour, s=60, zorder=3)
        ax.annotate(row.microsystem_id, (row.mean, getattr(row, outcome_id)), xytext=(4, 4), textcoords="offset points",
                    color=colour, fontsize=9)
    ax.set_xlim(0.9, 3.1)
    ax.set_xlabel(f"{characteristic_label}: mean level")
    ax.set_ylabel(outcome_label)
    return _png(figure)


def table_html(frame: pd.DataFrame, *, caption: str, percent: list[str] = (), decimals: int = 2, empty: str = "Nothing to show.") -> str:
    """A small, escaped HTML table (percentages and rounding applied, missing shown as ``–``)."""
    if frame.empty:
        return f"<p><b>{html.escape(caption)}</b><br>{html.escape(empty)}</p>"
    shown = frame.copy()
    for column in shown.columns:
        if column in percent:
            shown[column] = shown[column].map(lambda v: "–" if pd.isna(v) else f"{v:.0%}")
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "–" if pd.isna(v) else f"{v:.{decimals}f}")
    body = shown.to_html(index=False, escape=True, border=0, classes="workbench-table", na_rep="–")
    return f"<p><b>{html.escape(caption)}</b></p>{body}"


def quotes_html(quotes: pd.DataFrame, *, names: dict[str, str], characteristic_label: str) -> str:
    if quotes.empty:
        return f"<p><b>Interview quotes: {html.escape(characteristic_label)}</b><br>No coded excerpt in these microsystems from these roles.</p>"
    items = "".join(
        f"<li><b>{html.escape(row.microsystem_id)} {html.escape(names.get(row.microsystem_id, ''))}</b>: "
        f"<q>{html.escape(row.excerpt)}</q></li>" for row in quotes.itertuples(index=False))
    return f"<p><b>Interview quotes: {html.escape(characteristic_label)}</b></p><ul class=\"workbench-quotes\">{items}</ul>"


# ---------------------------------------------------------------------------------------
# The widgets.

class Explorer:
    """The explorer's controls and views as ipywidgets; display it in a notebook cell.

    Changing any control recomputes the tables for the new :attr:`selection` and redraws
    the views in place. :attr:`tables` holds what is shown, for a test or a further look.
    """

    def __init__(self, study: Study, *, microsystems: list[str] | None = None, characteristic: str | None = None,
                 roles: list[str] | None = None, outcome: str | None = None):
        import ipywidgets as widgets

        self.data = StudyExplorer(study)
        start = self.data.default_selection()
        start = Selection(
            microsystems=tuple(microsystems) if microsystems is not None else start.microsystems,
            characteristic=characteristic or start.characteristic,
            roles=tuple(roles) if roles is not None else start.roles,
            outcome=outcome if outcome is not None else start.outcome,
        )
        self.data.check(start)
        names = self.data.names
        wide_label = {"description_width": "initial"}
        self.microsystems = widgets.SelectMultiple(
            options=[(f"{m} {names[m]}", m) for m in names.index], value=start.microsystems, rows=8,
            description="Microsystems", style=wide_label, layout=widgets.Layout(width="22rem"))
        self.characteristic = widgets.Dropdown(
            options=[(label, c) for c, label in self.data.characteristic_labels.items()], value=start.characteristic,
            description="Characteristic", style=wide_label, layout=widgets.Layout(width="24rem"))
        self.roles = widgets.SelectMultiple(options=list(study.config.roles), value=start.roles, rows=min(6, len(study.config.roles)),
                                            description="Roles", style=wide_label, layout=widgets.Layout(width="18rem"))
        self.outcome = widgets.Dropdown(options=[(label, o) for o, label in self.data.outcome_labels.items()] or [("none", "")],
                                        value=start.outcome, description="Outcome", style=wide_label, layout=widgets.Layout(width="24rem"))
        self.message = widgets.HTML()
        self.profile_plot = widgets.Image(format="png")
        self.outcome_plot = widgets.Image(format="png")
        self.distribution = widgets.HTML()
        self.agreement = widgets.HTML()
        self.quotes = widgets.HTML()
        self.tables: dict[str, pd.DataFrame] = {}
        for control in (self.microsystems, self.characteristic, self.roles, self.outcome):
            control.observe(self._changed, names="value")
        style = widgets.HTML("<style>.workbench-table td, .workbench-table th {padding: 2px 8px; text-align: right;}"
                             ".workbench-table th:first-child, .workbench-table td:first-child {text-align: left;}</style>")
        self.widget = widgets.VBox([
            style,
            widgets.HBox([self.microsystems, widgets.VBox([self.characteristic, self.outcome]), self.roles]),
            self.message,
            widgets.HBox([self.profile_plot, self.outcome_plot]),
            widgets.HBox([self.distribution, self.agreement], layout=widgets.Layout(grid_gap="2rem")),
            self.quotes,
        ])
        self.widget.add_class("workbench-explorer")
        self.refresh()

    @property
    def selection(self) -> Selection:
        return Selection(tuple(self.microsystems.value), self.characteristic.value, tuple(self.roles.value), self.outcome.value)

    def _changed(self, _change) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute and redraw for the current selection."""
        selection = self.selection
        if not selection.microsystems or not selection.roles:
            missing = "one or more microsystems" if not selection.microsystems else "one or more roles"
            self.message.value = f"<p class=\"workbench-message\">Choose {missing} to see the views.</p>"
            self.tables = {}
            for view in (self.distribution, self.agreement, self.quotes):
                view.value = ""
            return
        self.message.value = ""
        data = self.data
        tables = data.tables(selection)
        self.tables = tables
        names = data.names.to_dict()
        label = data.characteristic_labels[selection.characteristic]
        self.profile_plot.value = profile_png(tables["profile"], labels=data.characteristic_labels, highlight=selection.characteristic,
                                              names=names)
        self.outcome_plot.value = outcome_png(tables["outcome"], outcome_id=selection.outcome,
                                              outcome_label=data.outcome_labels.get(selection.outcome, ""), characteristic_label=label)
        shares = [c for c in tables["distribution"].columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)] + ["cant_rate_share"]
        level_names = {f"{survey.LEVEL_COLUMNS_PREFIX}{level.value}": level.label.lower() for level in data.study.instrument.levels}
        counted = lambda column: column.map(lambda n: f"<{data.min_cell_size}" if n < data.min_cell_size else str(n))  # noqa: E731
        distribution = tables["distribution"].assign(
            item_id=tables["distribution"]["item_id"].map(data.item_labels),
            n_respondents=counted(tables["distribution"]["n_respondents"]), n_rated=counted(tables["distribution"]["n_rated"]),
        ).rename(columns={**level_names, "cant_rate_share": "can't rate", "item_id": "item", "microsystem_id": "microsystem",
                          "n_respondents": "n", "n_rated": "rated"})
        self.distribution.value = table_html(
            distribution, caption=f"Survey answers: {label} (shares of rated answers; can't rate of all; hidden (–) where "
                                  f"fewer than {data.min_cell_size} people, or as few set apart by the role filter)",
            percent=[level_names.get(c, "can't rate") for c in shares])
        unit_agreement = tables["agreement"][["microsystem_id", "n_rated", "index", "agreement_index", "agreement"]]
        unit_agreement = unit_agreement.assign(n_rated=counted(unit_agreement["n_rated"].fillna(0).astype(int))).rename(
            columns={"microsystem_id": "microsystem", "n_rated": "n", "agreement_index": "value"})
        iccs = tables["iccs"][["item_id", "n", "n_groups", "icc1", "icc2"]].rename(
            columns={"item_id": "item", "n_groups": "microsystems", "icc1": "ICC(1)", "icc2": "ICC(2)"})
        iccs["item"] = iccs["item"].map(data.item_labels)
        self.agreement.value = (table_html(unit_agreement, caption=f"Agreement within each microsystem on {label}")
                                + table_html(iccs, caption="Do microsystems differ? ICCs over all microsystems", decimals=3))
        self.quotes.value = quotes_html(tables["quotes"], names=names, characteristic_label=label)

    def summary(self) -> str:
        """One line on what is shown (the explorer's plain-text form, e.g. in a stored notebook)."""
        chosen = self.selection
        roles = "all roles" if set(chosen.roles) == set(self.data.study.config.roles) else ", ".join(chosen.roles) or "no role"
        return (f"Study explorer for {self.data.study.id!r}: {len(chosen.microsystems)} microsystems "
                f"({', '.join(chosen.microsystems)}), {self.data.characteristic_labels[chosen.characteristic]}, {roles}, "
                f"outcome {self.data.outcome_labels.get(chosen.outcome, 'none')}")

    def _repr_mimebundle_(self, **kwargs):
        return {**self.widget._repr_mimebundle_(**kwargs), "text/plain": self.summary()}
