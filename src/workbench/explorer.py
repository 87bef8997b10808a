"""An interactive explorer of one study, for JupyterLab or as a Voilà app.

Choose microsystems, a characteristic, the roles whose answers count and an outcome; the
profile plot, the survey distribution, the agreement figures and matching interview quotes
update in place. It works on any study the workbench can load.

Two layers: :class:`StudyExplorer` computes the tables for a :class:`Selection` (plain
pandas, tested without a browser), and :class:`Explorer` lays out the ipywidgets and redraws
them when a control changes. Figures are drawn off-screen to PNG and tables to HTML, so what
the widgets show can be checked in a test as well as in a browser.

Privacy and agreement hold here exactly as in the reports, because the explorer's tables
are the study views (:mod:`workbench.views`): with all roles, the stored ``unit_profiles``
and ``unit_items``; with fewer roles, the same views computed from those roles' answers by
the same functions (:class:`workbench.views.RoleFilters`). So a figure computed from
fewer than the study's minimum cell size of people (easily reached once the roles are
narrowed) is hidden, and a unit's role-filtered figures are withheld wherever one of its
role groups is smaller than that (two filters set against each other would describe it);
a unit mean is shown only where the feedback report shows it (its staff agree). The
explorer keeps no rule of its own. ICCs are over all roles. Quotes come from every role,
and carry neither respondent nor role.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import agreement, coding, survey, views
from workbench.plotting import rows_on_level_scale
from workbench.study import Study
from workbench.vocabulary import TOO_FEW, LevelScale

__all__ = [
    "ICC_FIGURES", "UNIT_COLOURS", "Explorer", "Selection", "StudyExplorer", "outcome_figure", "outcome_png",
    "profile_figure", "profile_png", "quotes_html", "run_charts_png", "table_html",
]


@dataclass(frozen=True)
class Selection:
    """What the explorer shows: these microsystems, this characteristic, answers from
    these roles, and this outcome."""

    microsystems: tuple[str, ...]
    characteristic: str
    roles: tuple[str, ...]
    outcome: str


# The statistics of :func:`workbench.agreement.icc_by_item` (each computed from its ``n`` people).
ICC_FIGURES = ("group_size", "ms_between", "ms_within", "F", "p", "icc1", "icc1_low", "icc1_high", "icc2", "icc2_low",
               "icc2_high", "design_effect", "eta_squared")


class StudyExplorer:
    """The explorer's tables for any :class:`Selection` of one study."""

    def __init__(self, study: Study):
        self.study = study
        self.disclosure = study.disclosure
        self.scale = study.scale
        self.names = study.microsystems.set_index("microsystem_id")["name"]
        self.characteristic_labels = study.characteristics.labels(short=False)
        self.item_labels = study.instrument.labels(short=True)
        self.outcome_labels = {o.id: f"{o.label} ({o.unit})" if o.unit else o.label for o in study.config.outcomes}
        self.segments = coding.segment_codes(study.codings) if len(study.codings) else None
        self.filters = views.RoleFilters(study)
        self._by_roles: dict[tuple[str, ...], dict[str, pd.DataFrame]] = {}
        self._iccs: pd.DataFrame | None = None

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
            raise ValueError(f"characteristic must be one of {list(self.characteristic_labels)}, "
                             f"got {selection.characteristic!r}")
        unknown_roles = [r for r in selection.roles if r not in self.study.config.roles]
        if unknown_roles:
            raise ValueError(f"roles {unknown_roles} are not among the study's roles {self.study.config.roles}")
        if selection.outcome and selection.outcome not in self.outcome_labels:
            raise ValueError(f"outcome must be one of {list(self.outcome_labels)}, got {selection.outcome!r}")

    def _for_roles(self, roles: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        """``profile`` (the ``unit_profiles`` view: profile, agreement verdict, reported
        means) and ``items`` (the ``unit_items`` view) from the answers of ``roles``
        (:class:`workbench.views.RoleFilters`: with all roles the stored views, with fewer a
        unit's rows only where no two role filters could be set against each other), and
        ``iccs`` over all roles (cached: moving between microsystems or characteristics does
        not recompute them)."""
        key = tuple(sorted(roles))
        if key not in self._by_roles:
            self._by_roles[key] = {"profile": self.filters.view("unit_profiles", key),
                                   "items": self.filters.view("unit_items", key), "iccs": self.iccs}
        return self._by_roles[key]

    @property
    def iccs(self) -> pd.DataFrame:
        """Each item's ICCs over all microsystems and all roles, disclosed by the same rule as
        the views (``n``: the people who rated the item). Not by role: between-unit variance
        from a role filter, set against the all-roles one, would describe the role groups
        left out."""
        if self._iccs is None:
            iccs = agreement.icc_by_item(self.study.answers)
            statistics = [c for c in ICC_FIGURES if c in iccs.columns]
            self._iccs = views.disclose(iccs, self.disclosure, figures=dict.fromkeys(statistics, "n"))
        return self._iccs

    def run_charts(self, selection: Selection, *, most: int = 4) -> list[tuple[str, pd.DataFrame, object]]:
        """The run chart of the selected outcome for each of the first ``most`` chosen units:
        ``(microsystem_id, chart, summary)`` (:func:`workbench.spc.run_chart`; the median is the
        one before the unit's first dated change, when it has one). Empty when the outcome is not
        a monthly series. A unit's own outcome data only: nothing about people is shown."""
        from workbench import spc

        spec = next((o for o in self.study.config.outcomes if o.id == selection.outcome), None)
        if spec is None or not spec.series:
            return []
        series = self.study.outcome_series
        charts = []
        for unit in selection.microsystems[:most]:
            months = series[series["microsystem_id"].eq(unit) & series["outcome_id"].eq(spec.id)]
            if months.empty:
                charts.append((unit, months, None))
                continue
            first = months["period"].min()
            starts = sorted(c.period for c in self.study.config.changes if c.microsystem_id == unit
                            and (c.outcomes is None or spec.id in c.outcomes) and c.period > first)
            chart, summary = spc.run_chart(months, kind=spec.kind, per=spec.per, better=spec.better,
                                           baseline_end=starts[0] if starts else None)
            charts.append((unit, chart, summary))
        return charts

    def tables(self, selection: Selection) -> dict[str, pd.DataFrame]:
        """``profile``: characteristic x (each chosen microsystem's reported mean, the other
        microsystems' quartiles of their reported means); ``outcome``: every microsystem's
        reported mean on the characteristic beside the outcome; ``distribution``: level shares
        of the characteristic's items in the chosen microsystems; ``agreement``: their
        agreement on it (people, index, verdict, whether the mean is reported); ``iccs``: each
        item's ICCs over all microsystems; ``quotes``: interview excerpts coded with it.

        Reported means are the ``mean`` column of the ``unit_profiles`` view: blank where
        too few people gave them (and, if the study hides them, where the unit's staff do not
        agree); ``shared``: characteristic x chosen microsystem, whether its staff agree."""
        self.check(selection)
        computed = self._for_roles(selection.roles)
        chosen = list(selection.microsystems)
        characteristics = self.study.characteristics.element_ids
        # Only the reported means (the ``mean`` column of unit_profiles), so the explorer never
        # shows a unit mean the feedback report hides.
        means = computed["profile"].pivot(index="characteristic_id", columns="microsystem_id", values="mean")
        shared = computed["profile"].pivot(index="characteristic_id", columns="microsystem_id", values="shared")
        shared = shared.reindex(index=characteristics, columns=chosen).eq(True)  # no row: no shared view
        shared.columns.name = None
        means = means.reindex(index=characteristics, columns=list(self.names.index)).astype("float64")
        means.columns.name = None
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
        ).sort_values("order")
        distribution = distribution[["microsystem_id", "item_id", "n_respondents", "n_rated", *shares]]
        distribution = distribution.reset_index(drop=True)

        profiles = computed["profile"]
        wanted = profiles["microsystem_id"].isin(chosen) & profiles["characteristic_id"].eq(selection.characteristic)
        unit_agreement = profiles.loc[wanted, ["microsystem_id", "n_agreement", "index", "agreement_index", "agreement",
                                               "reported"]]
        unit_agreement = unit_agreement.set_index("microsystem_id").reindex(chosen).reset_index()
        # A chosen microsystem nobody in these roles answered for: no people, so too few.
        unit_agreement = unit_agreement.fillna({"n_agreement": 0, "agreement": TOO_FEW, "reported": False}).astype(
            {"n_agreement": "int64", "reported": "bool"})
        iccs = computed["iccs"]
        return {
            "profile": profile,
            "shared": shared,
            "outcome": outcome,
            "distribution": distribution,
            "agreement": unit_agreement,
            "iccs": iccs[iccs["item_id"].isin(items)].reset_index(drop=True),
            "quotes": self.quotes(selection),
        }

    def coverage_html(self, selection: Selection) -> str:
        """How many of the chosen units the current role filter shows figures for."""
        items = self._for_roles(selection.roles)["items"]
        chosen = items[items["microsystem_id"].isin(selection.microsystems)]
        shown = chosen.loc[chosen["mean"].notna(), "microsystem_id"].nunique()
        total = len(selection.microsystems)
        roles = "all roles" if set(selection.roles) == set(self.study.config.roles) else ", ".join(selection.roles)
        rest = "" if shown == total else "; the others have too few answers from them to show"
        return (f"<p class=\"workbench-message\">{shown} of the {total} chosen units have figures from "
                f"{html.escape(roles)}{rest}.</p>")

    def role_groups_html(self, selection: Selection) -> str:
        """Under a role filter, how the chosen units' roles are grouped (a filter shows a unit
        only where it takes each group whole); nothing with every role."""
        if set(selection.roles) == set(self.study.config.roles):
            return ""
        groups = self.filters.groups()
        groups = groups[groups["microsystem_id"].isin(selection.microsystems)]
        pooled = groups[groups["group"].str.contains(" + ", regex=False)]
        if pooled.empty:
            return ""
        lines = "".join(
            f"<li>{html.escape(unit)}: {html.escape(', '.join(sorted(set(part['group']))))}</li>"
            for unit, part in pooled.groupby("microsystem_id", sort=False))
        k = self.disclosure.min_cell_size
        return (f"<p class=\"workbench-message\">Roles with fewer than {k} people in a unit are counted together "
                f"there; a role filter shows such a unit only where it takes the whole group:</p><ul>{lines}</ul>")

    def quotes(self, selection: Selection, *, per_microsystem: int = 2) -> pd.DataFrame:
        """Excerpts coded with the characteristic in the chosen microsystems: up to
        ``per_microsystem`` each, the plainest first. From every role, whatever the role
        filter: a quote shown for one role in one unit could point to the one person
        interviewed in that role there."""
        columns = ["microsystem_id", "excerpt"]
        if self.segments is None:
            return pd.DataFrame(columns=columns)
        segments = self.segments[self.segments["microsystem_id"].isin(selection.microsystems)]
        best = coding.representative_excerpts_by_microsystem(segments, codes=[selection.characteristic],
                                                             n=per_microsystem)
        order = {m: p for p, m in enumerate(selection.microsystems)}
        best = best.sort_values("microsystem_id", key=lambda s: s.map(order), kind="stable")
        return best[columns].reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Drawing: matplotlib figures made without pyplot (no global state), saved as PNG bytes.

UNIT_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _png(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def profile_png(profile: pd.DataFrame, *, labels: dict[str, str], highlight: str, names: dict[str, str],
                scale: LevelScale, shared: pd.DataFrame | None = None) -> bytes:
    """:func:`profile_figure` as PNG bytes."""
    return _png(profile_figure(profile, labels=labels, highlight=highlight, names=names, scale=scale, shared=shared))


def profile_figure(profile: pd.DataFrame, *, labels: dict[str, str], highlight: str, names: dict[str, str],
                   scale: LevelScale, shared: pd.DataFrame | None = None):
    """Each chosen microsystem's reported characteristic means against the other
    microsystems' middle half and median, on the instrument's level ``scale``; hollow where
    ``shared`` says the unit's staff do not agree; the chosen characteristic's label in bold."""
    from matplotlib.figure import Figure

    units = [c for c in profile.columns if not c.startswith("others_")]
    figure = Figure(figsize=(7.5, 0.45 * len(profile) + 1.6))
    ax = figure.subplots()
    ys = np.arange(len(profile))[::-1]
    ax.hlines(ys, profile["others_q1"], profile["others_q3"], color="#bbbbbb", linewidth=8,
              label="other microsystems: middle half")
    ax.scatter(profile["others_median"], ys, marker="|", s=250, color="black", zorder=3,
               label="other microsystems: median")
    for position, unit in enumerate(units):
        offset = (position - (len(units) - 1) / 2) * 0.12
        colour = UNIT_COLOURS[position % len(UNIT_COLOURS)]
        agree = shared[unit].reindex(profile.index).fillna(False).to_numpy(dtype=bool) if shared is not None \
            else np.ones(len(profile), dtype=bool)
        ax.scatter(profile[unit].where(agree), ys + offset, s=45, zorder=4, color=colour,
                   label=f"{unit} {names.get(unit, '')}".strip())
        ax.scatter(profile[unit].where(~agree), ys + offset, s=45, zorder=4, facecolor="white", edgecolor=colour,
                   linewidth=1.5)
    rows_on_level_scale(ax, ys, [labels.get(c, c) for c in profile.index], scale=scale)
    for tick, characteristic in zip(ax.get_yticklabels(), profile.index):
        tick.set_fontweight("bold" if characteristic == highlight else "normal")
    ax.set_xlabel("mean level (where enough staff answered; hollow: their views differ)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
    return figure


def outcome_png(outcome: pd.DataFrame, *, outcome_id: str, outcome_label: str, characteristic_label: str,
                scale: LevelScale) -> bytes:
    """:func:`outcome_figure` as PNG bytes."""
    return _png(outcome_figure(outcome, outcome_id=outcome_id, outcome_label=outcome_label,
                               characteristic_label=characteristic_label, scale=scale))


def outcome_figure(outcome: pd.DataFrame, *, outcome_id: str, outcome_label: str, characteristic_label: str,
                   scale: LevelScale):
    """Every microsystem's reported mean on the characteristic against the outcome, on the
    instrument's level ``scale``; the chosen ones coloured and named by id."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    ax = figure.subplots()
    if not outcome_id:
        ax.text(0.5, 0.5, "This study records no outcome.", ha="center", va="center")
        ax.set_axis_off()
        return figure
    others = outcome[~outcome["chosen"]]
    ax.scatter(others["mean"], others[outcome_id], color="#999999", s=20, label="other microsystems")
    for position, row in enumerate(outcome[outcome["chosen"]].itertuples(index=False)):
        colour = UNIT_COLOURS[position % len(UNIT_COLOURS)]
        ax.scatter([row.mean], [getattr(row, outcome_id)], color=colour, s=60, zorder=3)
        ax.annotate(row.microsystem_id, (row.mean, getattr(row, outcome_id)), xytext=(4, 4), textcoords="offset points",
                    color=colour, fontsize=9)
    margin = 0.05 * (scale.high - scale.low)
    ax.set_xlim(scale.low - margin, scale.high + margin)
    ax.set_xticks(list(scale.values))
    ax.set_xticklabels(scale.tick_labels)
    ax.set_xlabel(f"{characteristic_label}: mean level (where staff agree)")
    ax.set_ylabel(outcome_label)
    return figure


def run_charts_png(charts: list, *, outcome_label: str, names: dict[str, str]) -> bytes:
    """The chosen units' run charts of one monthly outcome, one small panel each, as PNG bytes
    (a note instead when the outcome is not a monthly series)."""
    from matplotlib.figure import Figure

    from workbench import plotting

    rows = max(len(charts), 1)
    figure = Figure(figsize=(6, 1.9 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, squeeze=False)[:, 0]
    if not charts:
        axes[0].text(0.5, 0.5, f"{outcome_label or 'This outcome'} is not a monthly series: no run chart.",
                     ha="center", va="center")
        axes[0].set_axis_off()
        return _png(figure)
    for ax, (unit, chart, summary) in zip(axes, charts):
        title = f"{unit} {names.get(unit, '')}: {outcome_label}"
        if summary is None:
            ax.text(0.5, 0.5, f"{title}: no month reported.", ha="center", va="center", fontsize=8)
            ax.set_axis_off()
            continue
        plotting.run_chart_plot(chart, summary, ax=ax, title=title, compact=True)
    return _png(figure)


def table_html(frame: pd.DataFrame, *, caption: str, percent: list[str] = (), decimals: int = 2,
               empty: str = "Nothing to show.") -> str:
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
    """The quotes as an escaped HTML list, each under its microsystem's id and name."""
    if quotes.empty:
        return (f"<p><b>Interview quotes: {html.escape(characteristic_label)}</b><br>"
                "No coded excerpt in these microsystems from these roles.</p>")
    items = "".join(
        f"<li><b>{html.escape(row.microsystem_id)} {html.escape(names.get(row.microsystem_id, ''))}</b>: "
        f"<q>{html.escape(row.excerpt)}</q></li>" for row in quotes.itertuples(index=False))
    return (f"<p><b>Interview quotes: {html.escape(characteristic_label)}</b></p>"
            f"<ul class=\"workbench-quotes\">{items}</ul>")


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
        self.roles = widgets.SelectMultiple(
            options=list(study.config.roles), value=start.roles, rows=min(6, len(study.config.roles)),
            description="Roles", style=wide_label, layout=widgets.Layout(width="18rem"))
        self.outcome = widgets.Dropdown(
            options=[(label, o) for o, label in self.data.outcome_labels.items()] or [("none", "")],
            value=start.outcome, description="Outcome", style=wide_label, layout=widgets.Layout(width="24rem"))
        self.message = widgets.HTML()
        self.profile_plot = widgets.Image(format="png")
        self.outcome_plot = widgets.Image(format="png")
        self.run_plot = widgets.Image(format="png")
        self.distribution = widgets.HTML()
        self.agreement = widgets.HTML()
        self.quotes = widgets.HTML()
        self.tables: dict[str, pd.DataFrame] = {}
        for control in (self.microsystems, self.characteristic, self.roles, self.outcome):
            control.observe(self._changed, names="value")
        style = widgets.HTML("<style>.workbench-table td, .workbench-table th {padding: 2px 8px; text-align: right;}"
                             ".workbench-table th:first-child, .workbench-table td:first-child {text-align: left;}"
                             "</style>")
        # Rows wrap instead of overflowing: at 1024 px the controls and the two plots stack.
        wrap = widgets.Layout(display="flex", flex_flow="row wrap", justify_content="flex-start", width="100%")
        self.chosen = widgets.HTML()
        for image in (self.profile_plot, self.outcome_plot, self.run_plot):
            image.layout = widgets.Layout(max_width="100%", height="auto")
        self.widget = widgets.VBox([
            style,
            widgets.Box([widgets.VBox([self.microsystems, self.chosen]),
                         widgets.VBox([self.characteristic, self.outcome]), self.roles], layout=wrap),
            self.message,
            widgets.Box([self.profile_plot, self.outcome_plot], layout=wrap),
            self.run_plot,
            widgets.Box([self.distribution, self.agreement], layout=wrap),
            self.quotes,
        ], layout=widgets.Layout(max_width="100%"))
        self.widget.add_class("workbench-explorer")
        self.refresh()

    @property
    def selection(self) -> Selection:
        return Selection(tuple(self.microsystems.value), self.characteristic.value, tuple(self.roles.value),
                         self.outcome.value)

    def _changed(self, _change) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute and redraw for the current selection."""
        selection = self.selection
        names = self.data.names
        # The chosen units stay in sight under the list, however far it is scrolled.
        self.chosen.value = ("<div style=\"max-width: 22rem; font-size: 0.85em\"><b>Chosen:</b> "
                             + html.escape(", ".join(f"{m} {names[m]}" for m in selection.microsystems) or "none")
                             + "</div>")
        if not selection.microsystems or not selection.roles:
            missing = "one or more microsystems" if not selection.microsystems else "one or more roles"
            self.message.value = f"<p class=\"workbench-message\">Choose {missing} to see the views.</p>"
            self.tables = {}
            for view in (self.distribution, self.agreement, self.quotes):
                view.value = ""
            return
        data = self.data
        self.message.value = data.coverage_html(selection) + data.role_groups_html(selection)
        tables = data.tables(selection)
        self.tables = tables
        names = data.names.to_dict()
        label = data.characteristic_labels[selection.characteristic]
        self.profile_plot.value = profile_png(tables["profile"], labels=data.characteristic_labels,
                                              highlight=selection.characteristic, names=names, scale=data.scale,
                                              shared=tables["shared"])
        self.outcome_plot.value = outcome_png(tables["outcome"], outcome_id=selection.outcome,
                                              outcome_label=data.outcome_labels.get(selection.outcome, ""),
                                              characteristic_label=label, scale=data.scale)
        self.run_plot.value = run_charts_png(data.run_charts(selection), names=names,
                                             outcome_label=data.outcome_labels.get(selection.outcome, ""))
        shares = [c for c in tables["distribution"].columns if c.startswith(survey.LEVEL_COLUMNS_PREFIX)]
        shares.append("cant_rate_share")
        level_names = {f"{survey.LEVEL_COLUMNS_PREFIX}{value}": name.lower()
                       for value, name in zip(data.scale.values, data.scale.names)}
        k = data.disclosure.min_cell_size

        def counted(column: pd.Series) -> list[str]:
            # A withheld row's counts are blank (NA): shown as "–", like its figures.
            text = data.disclosure.count_text(column.fillna(0))
            return ["–" if pd.isna(n) else t for n, t in zip(column, text)]

        distribution = tables["distribution"]
        distribution = distribution.assign(
            item_id=distribution["item_id"].map(data.item_labels),
            n_respondents=counted(distribution["n_respondents"]), n_rated=counted(distribution["n_rated"]),
        ).rename(columns={**level_names, "cant_rate_share": "can't rate", "item_id": "item",
                          "microsystem_id": "microsystem", "n_respondents": "n", "n_rated": "rated"})
        self.distribution.value = table_html(
            distribution, caption=f"Survey answers: {label} (shares of rated answers; can't rate of all; hidden (–) "
                                  f"where fewer than {k} people, or where the role filter splits a unit's role group)",
            percent=[level_names.get(c, "can't rate") for c in shares])
        unit_agreement = tables["agreement"][["microsystem_id", "n_agreement", "index", "agreement_index", "agreement"]]
        unit_agreement = unit_agreement.assign(n_agreement=counted(unit_agreement["n_agreement"])).rename(
            columns={"microsystem_id": "microsystem", "n_agreement": "n", "agreement_index": "value"})
        iccs = tables["iccs"][["item_id", "n", "n_groups", "icc1", "icc2"]].rename(
            columns={"item_id": "item", "n_groups": "microsystems", "icc1": "ICC(1)", "icc2": "ICC(2)"})
        iccs["item"] = iccs["item"].map(data.item_labels)
        iccs["n"] = counted(iccs["n"])
        threshold = data.study.agreement_policy.threshold
        caption = (f"Agreement within each microsystem on {label} (shared: index at least {threshold:.2f}; "
                   f"other means are the staff's average, not a shared view)")
        self.agreement.value = (table_html(unit_agreement, caption=caption)
                                + table_html(iccs, caption="Do microsystems differ? ICCs over all microsystems",
                                             decimals=3))
        self.quotes.value = quotes_html(tables["quotes"], names=names, characteristic_label=label)

    def summary(self) -> str:
        """One line on what is shown (the explorer's plain-text form, e.g. in a stored notebook)."""
        chosen = self.selection
        every_role = set(chosen.roles) == set(self.data.study.config.roles)
        roles = "all roles" if every_role else ", ".join(chosen.roles) or "no role"
        return (f"Study explorer for {self.data.study.id!r}: {len(chosen.microsystems)} microsystems "
                f"({', '.join(chosen.microsystems)}), {self.data.characteristic_labels[chosen.characteristic]}, "
                f"{roles}, "
                f"outcome {self.data.outcome_labels.get(chosen.outcome, 'none')}")

    def _repr_mimebundle_(self, **kwargs):
        return {**self.widget._repr_mimebundle_(**kwargs), "text/plain": self.summary()}
