"""Axes-level plots over the workbench's tidy frames.

Each function draws on the ``ax`` it is given (or the current one), returns it, and
touches nothing else: no ``show()``, no ``savefig()``.
"""

from __future__ import annotations

import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from workbench.spc import month_label
from workbench.vocabulary import LevelScale

__all__ = [
    "ANNOTATION_SIZE", "CROSS_CASE_COLOURS", "LABEL_SIZE", "LEVEL_PALETTE", "MAX_ROWS_DRAWN", "SPC_STYLE",
    "THREE_LEVELS", "case_ordered_heatmap", "cluster_order", "control_chart_plot", "count_heatmap",
    "diverging_levels", "flagged_level_heatmap", "funnel_plot", "handoff_network", "level_colours", "level_heatmap",
    "moving_range_plot", "outcome_forest", "peer_comparison", "qca_xy_plot", "random_groups_plot", "role_gap_forest",
    "rows_drawn", "rows_on_level_scale", "run_chart_plot", "share_bars", "survey_interview_scatter",
]

# The colours of the instrument's levels, low to high: viridis (perceptually uniform, readable with
# every common colour-vision deficiency, and darker to lighter so a greyscale print keeps the
# order), stopped at 0.9 of its range so the highest level is a visible yellow-green rather than
# the near-white yellow at viridis' end; its middle is a strong teal, never a pale colour that
# vanishes on white (as the red-yellow-green map's did), and never the grey that means "can't
# rate". Registered under this name so any code passing a colormap name (seaborn, clustermap)
# gets the same colours.
LEVEL_PALETTE = "workbench_levels"
if LEVEL_PALETTE not in matplotlib.colormaps:
    matplotlib.colormaps.register(matplotlib.colors.LinearSegmentedColormap.from_list(
        LEVEL_PALETTE, matplotlib.colormaps["viridis"](np.linspace(0, 0.9, 256))))
# Text sizes in points for figures a report shows at about their drawn size: cell numbers and
# node labels stay legible on screen and on paper (nothing below 8 pt).
ANNOTATION_SIZE = 8
LABEL_SIZE = 8
# A figure with one row per microsystem stays readable up to about this many rows; a national
# programme has thousands, so such figures then draw both ends of their order.
MAX_ROWS_DRAWN = 60
THREE_LEVELS = LevelScale.from_values([1, 2, 3])  # the self-assessment's scale, for plots given no other


def level_colours(scale: LevelScale = THREE_LEVELS) -> list[tuple]:
    """One colour per level of ``scale``, low to high: the colours a heatmap cell at exactly that
    level gets, so bars of levels and heatmaps of means read alike."""
    cmap = matplotlib.colormaps[LEVEL_PALETTE]
    span = (scale.high - scale.low) or 1
    return [cmap((value - scale.low) / span) for value in scale.values]


def level_heatmap(table: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, ax=None, annotate: bool = True,
                  cbar_label: str | None = None, **kwargs):
    """Heatmap of a wide table of mean levels (rows: microsystems, columns: items or
    characteristics), coloured over the instrument's ``scale``."""
    ax = ax or plt.gca()
    sns.heatmap(table.astype(float), ax=ax, cmap=LEVEL_PALETTE, vmin=scale.low, vmax=scale.high, annot=annotate,
                fmt=".1f", annot_kws={"fontsize": ANNOTATION_SIZE}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": cbar_label or scale.span_label}, **kwargs)
    if annotate:
        # A withheld or missing mean is a dash, as in the tables, not an empty cell that reads
        # as "nothing"; rows left empty on purpose (rows_drawn's gap) stay empty.
        values = table.astype(float)
        blank = values.isna() & values.notna().any(axis=1).to_numpy()[:, None]
        for row, column in zip(*np.nonzero(blank.to_numpy())):
            ax.text(column + 0.5, row + 0.5, "\u2013", ha="center", va="center", fontsize=ANNOTATION_SIZE,
                    color="#666666")
    return _matrix_axes(ax)


def _matrix_axes(ax):
    """Row and column labels only, column labels slanted so long names stay readable."""
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


def count_heatmap(table: pd.DataFrame, *, ax=None, fmt: str = "d", cbar_label: str = "coded segments", **kwargs):
    """Heatmap of a case x code matrix (counts or densities)."""
    ax = ax or plt.gca()
    sns.heatmap(table, ax=ax, cmap="Blues", annot=True, fmt=fmt, annot_kws={"fontsize": ANNOTATION_SIZE},
                linewidths=0.5, linecolor="white", cbar_kws={"label": cbar_label}, **kwargs)
    return _matrix_axes(ax)


def share_bars(data: pd.DataFrame, *, x: str, y: str, ax=None, color: str = "#7f7f7f", xlabel: str | None = None):
    """Horizontal bars of a share (0-1) per category, e.g. the can't-rate share per item."""
    ax = ax or plt.gca()
    sns.barplot(data=data, x=x, y=y, ax=ax, color=color, orient="h")
    ax.set_xlim(0, max(0.05, float(data[x].max()) * 1.15))
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel("")
    return ax


def peer_comparison(position: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, labels: dict[str, str] | None = None,
                    ax=None, own_label: str = "this microsystem", peers_label: str = "other microsystems",
                    before_label: str | None = None):
    """One microsystem's mean (dot with its confidence interval; hollow where its staff's
    views differ, ``shared`` False) against the other microsystems' range (line),
    interquartile range (bar) and median (tick).

    Every row keeps its place: a row without a mean gets a grey note at the right, its
    ``verdict`` where the frame has that column (e.g. "too few answers"), else "too few
    answers", and a row without other units' figures says so; where ``verdict`` is "too few
    answers" but a mean is shown (too few people rated every item to judge agreement), the dot
    is hollow and grey.

    ``position``: a microsystem's rows of the ``unit_profiles`` and ``peer_positions`` views;
    with a ``mean_before`` column (the previous survey wave's mean, from ``unit_changes``) a small
    grey diamond marks it, with an arrow to this wave's mean where the change is beyond chance
    (``moved`` up or down), labelled ``before_label`` in the legend.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    rows = position.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    ax.hlines(ys, rows["peer_min"], rows["peer_max"], color="#bbbbbb", linewidth=1, label=f"{peers_label}: range")
    ax.hlines(ys, rows["peer_q1"], rows["peer_q3"], color="#888888", linewidth=6, label=f"{peers_label}: middle half")
    ax.scatter(rows["peer_median"], ys, marker="|", s=200, color="black", zorder=3, label=f"{peers_label}: median")
    shared = rows["shared"].to_numpy(dtype=bool) if "shared" in rows else np.ones(len(rows), dtype=bool)
    has_mean = rows["mean"].notna().to_numpy()
    verdict = rows["verdict"].astype("object").to_numpy() if "verdict" in rows else np.full(len(rows), None)
    unjudged = has_mean & ~shared & (verdict == "too few answers")
    differ = has_mean & ~shared & ~unjudged
    if "mean_before" in rows and rows["mean_before"].notna().any():
        before = rows["mean_before"].where(rows["mean"].notna())
        ax.scatter(before, ys, marker="D", s=22, color="#555555", zorder=4, label=before_label or "last time")
        moved = rows["moved"].isin(["up", "down"]).to_numpy() if "moved" in rows else np.zeros(len(rows), dtype=bool)
        for y, start, end in zip(ys[moved & before.notna().to_numpy()], before[moved], rows["mean"][moved]):
            ax.annotate("", xy=(end, y + 0.28), xytext=(start, y + 0.28),
                        arrowprops={"arrowstyle": "->", "color": "#555555", "linewidth": 1}, zorder=4)
    ax.errorbar(rows["mean"], ys, xerr=[rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]], fmt="none",
                ecolor="#d62728", capsize=3, zorder=4)
    ax.scatter(rows["mean"].where(shared), ys, color="#d62728", zorder=5, label=f"{own_label} (95% CI)")
    if differ.any():
        # A hollow dot: the staff's average, but their answers are too spread to call it a shared view.
        ax.scatter(rows["mean"].where(differ), ys, facecolor="white", edgecolor="#d62728", linewidth=1.5, zorder=5,
                   label=f"{own_label}: staff views differ")
    if unjudged.any():
        ax.scatter(rows["mean"].where(unjudged), ys, facecolor="white", edgecolor="#777777", linewidth=1.5, zorder=5,
                   label=f"{own_label}: too few answers to judge agreement")
    # No row silently disappears: a row without a mean, or without other units to compare it
    # with, says why in grey, right of the highest level.
    notes = [(note if isinstance(note, str) and note else "too few answers") if not mean else
             "too few to compare" if pd.isna(median) else None
             for mean, note, median in zip(has_mean, verdict, rows["peer_median"])]
    right = None
    if any(notes):
        span = scale.high - scale.low
        right = scale.high + 0.7 * span
        for y, note in zip(ys, notes):
            if note:
                ax.text(scale.high + 0.05 * span, y, note, va="center", ha="left", fontsize=8, color="#666666",
                        style="italic")
    # Only very long labels on two lines, so the rows' labels leave the plot most of a narrow figure.
    row_labels = [textwrap.fill(labels.get(c, c), 38) for c in rows["characteristic_id"]]
    rows_on_level_scale(ax, ys, row_labels, scale=scale, right=right)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlabel("mean level")
    # Anchored below the axes by a fixed distance (in font sizes), clear of the tick labels and the
    # axis label whatever the figure's height.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), borderaxespad=4.2, ncol=3, fontsize=8, frameon=False)
    return ax


def rows_on_level_scale(ax, ys, row_labels: list[str], *, scale: LevelScale = THREE_LEVELS,
                        right: float | None = None) -> None:
    """One labelled row per ``ys`` on the y axis; the instrument's levels on the x axis
    (``right`` leaves room for notes beside the highest level)."""
    ax.set_yticks(ys)
    ax.set_yticklabels(row_labels)
    margin = 0.05 * (scale.high - scale.low)
    ax.set_xlim(scale.low - margin, scale.high + margin if right is None else right)
    ax.set_xticks(list(scale.values))
    ax.set_xticklabels(scale.tick_labels)


def diverging_levels(summary: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, labels: dict[str, str] | None = None,
                     ax=None, key: str = "item_id"):
    """Diverging stacked bars of the levels per item, centred on the middle of the scale
    (with an odd number of levels, the middle level straddles zero), with the can't-rate
    share drawn apart on the right (it is missing information, not a level).

    ``summary`` is :func:`workbench.survey.item_summary` output grouped by ``key``:
    ``share_level_<v>`` are shares of rated answers, ``cant_rate_share`` of respondents.
    Every row keeps its place: one whose shares were withheld (blank) draws no level bars
    but a grey "not broken down" in their place (and its can't-rate share where that is shown),
    so the reader sees the item is there and a note under the chart can say why.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    share_columns = [f"share_level_{v}" for v in scale.values]
    rows = summary.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    withheld = rows[share_columns].isna().all(axis=1).to_numpy()
    shares = np.nan_to_num(rows[share_columns].to_numpy(dtype="float64", na_value=np.nan))
    colours = level_colours(scale)
    half = scale.n // 2
    # Lower levels stack leftwards from the centre, higher ones rightwards; a middle level straddles it.
    centre = shares[:, half] / 2 if scale.n % 2 else np.zeros(len(rows))
    left_edge = -centre
    for position in range(half - 1, -1, -1):
        ax.barh(ys, -shares[:, position], left=left_edge, color=colours[position], label=scale.names[position])
        left_edge = left_edge - shares[:, position]
    if scale.n % 2:
        ax.barh(ys, shares[:, half], left=-centre, color=colours[half], label=scale.names[half])
    right_edge = centre.copy()
    for position in range(half + scale.n % 2, scale.n):
        ax.barh(ys, shares[:, position], left=right_edge, color=colours[position], label=scale.names[position])
        right_edge = right_edge + shares[:, position]
    gap_start = 1.15
    cant_rate = rows["cant_rate_share"].to_numpy(dtype="float64", na_value=np.nan)
    ax.barh(ys, np.nan_to_num(cant_rate), left=gap_start, color="#9e9e9e", label="can't rate (of respondents)")
    for y in ys[withheld]:
        ax.text(0, y, "not broken down", ha="center", va="center", fontsize=8, color="#666666", style="italic",
                zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.axvline(0, color="black", linewidth=0.8, zorder=2)
    ax.axvline(gap_start - 0.05, color="#cccccc", linewidth=0.8, linestyle=":")
    ax.set_yticks(ys)
    ax.set_yticklabels([labels.get(k, k) for k in rows[key]])
    widest = float(np.nanmax(cant_rate, initial=0))
    ax.set_xlim(-1.05, gap_start + max(0.3, widest + 0.2))
    # Each can't-rate share written beside its bar (an axis tick of its own would sit on "100%").
    for y, share in zip(ys, cant_rate):
        if share > 0:
            ax.text(gap_start + share + 0.02, y, f"{share:.0%}", va="center", ha="left", fontsize=7, color="#444444")
    ticks = [-1, -0.5, 0, 0.5, 1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{abs(t):.0%}" for t in ticks])
    ax.set_xlabel("share of rated answers (low to the left, high to the right)  |  can't rate")
    # Legend in level order, whatever order the bars were drawn in; a fixed distance (in font
    # sizes) below the axes, clear of the axis label whatever the figure's height.
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(name) for name in (*scale.names, "can't rate (of respondents)") if name in names]
    ax.legend([handles[i] for i in order], [names[i] for i in order], loc="upper center", bbox_to_anchor=(0.5, 0),
              borderaxespad=4.2, ncol=min(4, len(order)), fontsize=8, frameon=False)
    return ax


def rows_drawn(table: pd.DataFrame, *, limit: int = MAX_ROWS_DRAWN, label: str | None = None) -> pd.DataFrame:
    """The rows a one-row-per-microsystem figure draws: all of them up to ``limit``; beyond it,
    the first and the last ``limit // 2`` (the two ends of the table's order: best and worst,
    smallest and largest), with an empty row between them saying how many are left out.

    ``label``: the column holding the row labels (default: the index).

    Examples
    --------
    >>> table = pd.DataFrame({"mean": range(100)}, index=[f"U{i}" for i in range(100)])
    >>> rows_drawn(table, limit=4).index.tolist()
    ['U0', 'U1', '... 96 more ...', 'U98', 'U99']
    """
    if len(table) <= limit:
        return table
    half = max(1, limit // 2)
    text = f"... {len(table) - 2 * half} more ..."
    gap = pd.DataFrame({column: [np.nan] for column in table.columns}, index=[text])
    if label is not None:
        gap[label] = text
        gap.index = [table.index[half]]
    return pd.concat([table.iloc[:half], gap.astype(table.dtypes.to_dict(), errors="ignore"), table.iloc[-half:]])


def cluster_order(table: pd.DataFrame, *, method: str = "average") -> list:
    """Row labels of ``table`` in the leaf order of a hierarchical clustering of its rows
    (missing cells filled with the column mean), so similar profiles sit together."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    values = table.astype(float).dropna(axis=1, how="all")
    filled = values.fillna(values.mean())
    if len(filled) < 3 or filled.shape[1] == 0:  # nothing to cluster on: keep the table's order
        return list(table.index)
    return list(filled.index[leaves_list(linkage(filled.to_numpy(), method=method, metric="euclidean"))])


def flagged_level_heatmap(means: pd.DataFrame, shared: pd.DataFrame, *, ax=None, **kwargs):
    """:func:`level_heatmap` with a dot in every cell whose own staff do not agree enough for
    the mean to be a shared view (``shared`` False there): the mean is drawn, and flagged."""
    ax = ax or plt.gca()
    level_heatmap(means, ax=ax, **kwargs)
    flagged = means.notna() & ~shared.reindex_like(means).fillna(False).astype(bool)
    rows, columns = np.nonzero(flagged.to_numpy())
    # The dot sits at the cell's centre shifted right by a fixed 11 pt, beside the number rather
    # than on it, and takes the number's colour (seaborn's rule: dark on light cells, white on
    # dark ones), so it reads as one mark everywhere.
    scale = kwargs.get("scale", THREE_LEVELS)
    cmap = matplotlib.colormaps[LEVEL_PALETTE]
    values = means.to_numpy(dtype="float64")[rows, columns]
    fills = cmap(np.clip((values - scale.low) / ((scale.high - scale.low) or 1), 0, 1))
    light = [sns.utils.relative_luminance(fill) > 0.408 for fill in fills]
    beside = matplotlib.transforms.ScaledTranslation(11 / 72, 0, ax.figure.dpi_scale_trans)
    ax.scatter(columns + 0.5, rows + 0.5, marker="o", s=16, color=["#111111" if x else "white" for x in light],
               linewidth=0, transform=ax.transData + beside, zorder=3)
    ax.set_xlabel("● staff views differ (agreement below the study's threshold)")
    return ax


def handoff_network(links: pd.DataFrame, microsystems: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, ax=None,
                    colour_by: str = "weakest", min_handoffs: int = 1, label: str | None = None,
                    stretch: float = 1.6):
    """The handoff network: microsystems on an oval grouped by setting, one line per link,
    its width the number of handoffs and its colour ``colour_by`` on the instrument's ``scale``.

    ``links`` is :func:`workbench.journeys.weak_handoffs` output. Each unit is labelled by its
    ``label`` column (default: ``name`` when the table has one, else the id), written along
    its radius outside the ``ax`` (the saved figure grows to hold them). The oval is ``stretch``
    times taller than wide: a report page limits width, not height, and the names on the left
    and right take width, so a tall oval leaves the links the most room for a figure that is
    shown at about its drawn size (a narrow ``ax``, about 4 x 7 in, suits 40-odd units). The
    settings' legend and the colour bar sit below the lowest name.
    """
    ax = ax or plt.gca()
    label = label or ("name" if "name" in microsystems.columns else "microsystem_id")
    units = microsystems.sort_values(["setting", "microsystem_id"]).reset_index(drop=True)
    angles = np.linspace(0, 2 * np.pi, len(units), endpoint=False)
    position = {m: (np.cos(a), stretch * np.sin(a)) for m, a in zip(units["microsystem_id"], angles)}
    shown = links[links["handoffs"] >= min_handoffs]
    cmap = matplotlib.colormaps[LEVEL_PALETTE]
    norm = plt.Normalize(scale.low, scale.high)
    widest = max(1, shown["handoffs"].max() if len(shown) else 1)
    for link in shown.sort_values("handoffs").itertuples(index=False):
        (x0, y0), (x1, y1) = position[link.from_id], position[link.to_id]
        value = getattr(link, colour_by)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": cmap(norm(value)) if pd.notna(value) else "#999999",
                                "lw": 0.6 + 4 * link.handoffs / widest, "alpha": 0.85, "shrinkA": 5, "shrinkB": 5,
                                "connectionstyle": "arc3,rad=0.15"})
    palette = dict(zip(units["setting"].unique(), sns.color_palette("tab10", units["setting"].nunique())))
    for unit in units.itertuples(index=False):
        x, y = position[unit.microsystem_id]
        ax.scatter([x], [y], s=55, color=palette[unit.setting], zorder=3, edgecolor="white")
        degrees = np.degrees(np.arctan2(y, x)) % 360  # the name points away from the centre
        left_half = 90 < degrees < 270  # names there read from the outside in, so turn them over
        ax.text(x + 0.07 * np.cos(np.radians(degrees)), y + 0.07 * np.sin(np.radians(degrees)),
                str(getattr(unit, label)), fontsize=LABEL_SIZE, va="center",
                ha="right" if left_half else "left", rotation=degrees - 180 if left_half else degrees,
                rotation_mode="anchor")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05 * stretch, 1.05 * stretch)
    ax.set_aspect("equal")
    ax.axis("off")
    # The legend and the colour bar go below the lowest unit name (measured once drawn), so
    # neither covers a name however long the names are.
    renderer = ax.figure.canvas.get_renderer()
    to_axes = ax.transAxes.inverted()
    lowest = min([to_axes.transform(t.get_window_extent(renderer))[:, 1].min() for t in ax.texts], default=0.0)
    for setting, colour in palette.items():
        ax.scatter([], [], color=colour, label=setting)
    legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, min(0.0, lowest) - 0.01), ncol=2,
                       fontsize=LABEL_SIZE, frameon=False, title="setting", title_fontsize=LABEL_SIZE + 1)
    below = to_axes.transform(legend.get_window_extent(renderer))[:, 1].min()
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    label_text = f"{colour_by.replace('_', ' ')} score of the link ({scale.tick_labels[0]} - {scale.tick_labels[-1]})"
    bar = ax.figure.colorbar(mappable, cax=ax.inset_axes((0.1, below - 0.045, 0.8, 0.015)), orientation="horizontal")
    bar.set_label(label_text, fontsize=LABEL_SIZE + 1)
    bar.ax.tick_params(labelsize=LABEL_SIZE)
    return ax


def random_groups_plot(table: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, ax=None,
                       label: str = "microsystems"):
    """Random-group resampling (:func:`workbench.agreement.random_groups`): the actual unit
    means from lowest to highest (dots) against the means of pseudo-units of the same sizes
    (line) and the band chance leaves them (shaded). Actual means outside the band at the
    ends say the units differ more than chance would make them; a unit mean left blank
    (e.g. by the disclosure rule) leaves its rank empty.

    Examples
    --------
    >>> table = pd.DataFrame({"rank": [1, 2, 3], "mean": [1.4, 2.0, 2.7], "pseudo_mean": [1.8, 2.0, 2.2],
    ...                       "pseudo_low": [1.5, 1.8, 2.0], "pseudo_high": [2.0, 2.2, 2.5]})
    >>> ax = random_groups_plot(table)
    >>> len(ax.collections)  # the band and the actual means
    2
    """
    ax = ax or plt.gca()
    confidence = table.attrs.get("confidence", 0.95)
    ax.fill_between(table["rank"], table["pseudo_low"], table["pseudo_high"], color="#cccccc", alpha=0.7,
                    label=f"pseudo-{label}: middle {confidence:.0%} by chance")
    ax.plot(table["rank"], table["pseudo_mean"], color="#555555", linewidth=1.5,
            label=f"pseudo-{label} (people shuffled): mean")
    ax.scatter(table["rank"], table["mean"], color="#d62728", s=18, zorder=3, label=f"actual {label}")
    margin = 0.05 * (scale.high - scale.low)  # a mean at either end of the scale stays whole
    ax.set_ylim(scale.low - margin, scale.high + margin)
    ax.set_yticks(list(scale.values))
    ax.set_yticklabels(scale.tick_labels)
    ax.set_xlabel(f"{label} ranked by mean (lowest first)")
    ax.set_ylabel("mean level")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return ax


# Okabe & Ito's blue and vermillion: the two models of a role gap, told apart with every common
# colour-vision deficiency (and by marker shape, for a greyscale print).
_MODEL_STYLES = (("across the study", "", "#0072B2", "o", 0.17), ("within units", "within_", "#D55E00", "s", -0.17))


def role_gap_forest(gaps: pd.DataFrame, *, labels: dict[str, str] | None = None, axes=None, adjusted: str = "holm",
                    level: float = 0.05, columns: int = 2):
    """Forest plot of role gaps: for each role one panel, for each item its odds ratio of a
    higher level against the reference role with the 95% interval, across the study (blue
    circles) and within units (vermillion squares) side by side, on a log scale with a line at
    1 (no gap). A filled marker is a gap clear at the ``adjusted`` p below ``level``; a hollow
    one is not; an item a model could not estimate says so.

    ``gaps``: :func:`workbench.perception.ordinal_role_gaps` output. ``axes``: one axes per
    role (default: a new figure of ``columns`` panels a row; a spare panel holds the legend).
    Returns the axes drawn on.

    Examples
    --------
    >>> gaps = pd.DataFrame({"item_id": ["a", "b"], "role": "Manager", "reference_role": "Nurse",
    ...     "odds_ratio": [2.0, 0.8], "ci_low": [1.2, 0.5], "ci_high": [3.3, 1.3], "p_holm": [0.01, 0.6],
    ...     "within_odds_ratio": [2.5, float("nan")], "within_ci_low": [1.1, float("nan")],
    ...     "within_ci_high": [5.7, float("nan")], "within_p_holm": [0.03, float("nan")]})
    >>> [ax.get_title() for ax in role_gap_forest(gaps)]
    ['Manager against Nurse']
    """
    labels = labels or {}
    if gaps.empty:  # a study too small for any role gap: one panel that says so
        if axes is None:
            _, ax = plt.subplots(figsize=(6, 1.2))
            axes = [ax]
        axes[0].text(0.5, 0.5, "Too few answers per role for any role gap.", ha="center", va="center")
        axes[0].set_axis_off()
        return list(axes)
    roles = list(dict.fromkeys(gaps["role"]))
    items = list(dict.fromkeys(gaps["item_id"]))
    references = gaps["reference_role"].dropna() if "reference_role" in gaps else pd.Series(dtype=object)
    reference = references.iloc[0] if len(references) else "the reference role"
    made = axes is None
    if made:
        rows = -(-len(roles) // columns) or 1
        width = min(columns, max(1, len(roles)))
        figure, grid = plt.subplots(rows, width, figsize=(4.1 * width, 0.34 * len(items) * rows + 1.4 * rows),
                                    sharex=True, sharey=True, squeeze=False)
        axes = list(grid.flat)
    axes = list(np.ravel(axes))
    ends = gaps[[f"{prefix}{end}" for _, prefix, *_ in _MODEL_STYLES for end in ("ci_low", "ci_high")]]
    finite = ends.to_numpy(dtype="float64")
    finite = finite[np.isfinite(finite) & (finite > 0)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.5, 2.0)
    low, high = min(low, 0.8) / 1.25, max(high, 1.25) * 1.25
    ys = np.arange(len(items))[::-1]
    for ax, role in zip(axes, roles):
        part = gaps[gaps["role"].eq(role)].set_index("item_id").reindex(items)
        for model, prefix, colour, marker, offset in _MODEL_STYLES:
            estimate = part[f"{prefix}odds_ratio"].to_numpy(dtype="float64")
            clear = (part[f"{prefix}p_{adjusted}"] < level).to_numpy()
            ax.hlines(ys + offset, part[f"{prefix}ci_low"], part[f"{prefix}ci_high"], color=colour, linewidth=1.3)
            ax.scatter(np.where(clear, estimate, np.nan), ys + offset, marker=marker, color=colour, s=28, zorder=3,
                       label=f"{model}: clear ({adjusted.capitalize()} p < {level:g})")
            ax.scatter(np.where(clear, np.nan, estimate), ys + offset, marker=marker, facecolor="white",
                       edgecolor=colour, linewidth=1.3, s=28, zorder=3, label=f"{model}: not clear")
            for y in ys[np.isnan(estimate)]:
                ax.text(1.05, y + offset, f"no {model} estimate", fontsize=LABEL_SIZE - 1, color="#555555",
                        va="center")
        ax.axvline(1, color="#444444", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.set_title(f"{role} against {reference}", fontsize=LABEL_SIZE + 1)
        ax.set_yticks(ys)
        ax.set_yticklabels([labels.get(i, i) for i in items], fontsize=LABEL_SIZE)
        ax.set_ylim(-0.6, len(items) - 0.4)
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if low <= t <= high]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=LABEL_SIZE)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_xlabel("odds ratio of a higher level (log scale)", fontsize=LABEL_SIZE)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    handles, names = axes[0].get_legend_handles_labels()
    spare = axes[len(roles):]
    for ax in spare:
        ax.set_axis_off()
    if spare:
        spare[0].legend(handles, names, loc="center", fontsize=LABEL_SIZE, frameon=False,
                        title=f"1 = no gap; right of 1: higher levels than {reference}",
                        title_fontsize=LABEL_SIZE)
    else:
        axes[0].figure.legend(handles, names, loc="lower center", ncol=2, fontsize=LABEL_SIZE, frameon=False,
                              bbox_to_anchor=(0.5, -0.02))
    if made:
        axes[0].figure.tight_layout()
    return axes[:len(roles)]


# --------------------------------------------------------------------------------------
# Cross-case figures: the case-ordered heatmap, outcome models, survey against interviews, QCA.

# Okabe & Ito's colour-blind-safe set: blue for estimates and cases, vermillion for what the
# reader should look at (cases against the rule), grey for reference lines and notes.
CROSS_CASE_COLOURS = {"estimate": "#0072B2", "alert": "#D55E00", "context": "#777777", "outcome": "#56B4E9"}


def case_ordered_heatmap(means: pd.DataFrame, shared: pd.DataFrame, outcome: pd.Series, *,
                         scale: LevelScale = THREE_LEVELS, outcome_label: str = "outcome", axes=None):
    """The case-ordered heatmap: microsystems' means (rows in the order given, e.g. best outcome
    first) drawn by :func:`flagged_level_heatmap`, and beside it each microsystem's outcome as a
    bar on the same row; a row without an outcome value says so.

    ``means`` and ``shared`` are microsystem x characteristic frames labelled for the reader (a
    mean the disclosure rule withholds is missing, and stays blank); ``outcome`` holds the values
    on the same rows. ``axes``: the heatmap's and the bars' axes (default: a new figure sized to
    the rows). Returns the two axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.5, 1.8 + 0.2 * len(means)), gridspec_kw={"width_ratios": [5, 1.4]})
    ax, ax_outcome = axes
    flagged_level_heatmap(means, shared, ax=ax, scale=scale, annotate=False)
    values = outcome.reindex(means.index).astype("float64")
    rows = np.arange(len(values)) + 0.5  # the heatmap's row centres
    ax_outcome.barh(rows, values.fillna(0), height=0.7, color=CROSS_CASE_COLOURS["outcome"])
    for row in rows[values.isna().to_numpy()]:
        ax_outcome.text(0, row, " no value", va="center", ha="left", fontsize=8, color=CROSS_CASE_COLOURS["context"],
                        style="italic")
    ax_outcome.set_ylim(ax.get_ylim())
    ax_outcome.set_yticks([])
    ax_outcome.set_title(outcome_label, fontsize=9)
    ax_outcome.tick_params(axis="x", labelsize=8)
    ax_outcome.spines[["top", "right"]].set_visible(False)
    return ax, ax_outcome


def outcome_forest(table: pd.DataFrame, *, estimate: str, labels: dict[str, str] | None = None,
                   key: str = "characteristic_id", ax=None, better: str | None = None, reference: float = 0.0,
                   xlabel: str = "estimate (95% CI)"):
    """Forest plot of one outcome model: one row per characteristic (in the table's order, top
    first), the estimate as a dot and its confidence interval as a line, a dashed line at
    ``reference`` (no association). A row without an estimate keeps its place, marked "no
    estimate" (the table beside the figure says why).

    ``table`` is :func:`workbench.crosscase.outcome_associations` (``estimate=
    "standardised_effect"``) or :func:`workbench.crosscase.multilevel_outcome_association`
    (``"level_difference_per_sd"``) output. ``better`` ("higher" or "lower", which way the
    outcome is better) labels the side where a characteristic goes with better outcomes.

    Examples
    --------
    >>> table = pd.DataFrame({"characteristic_id": ["a", "b"], "standardised_effect": [0.4, np.nan],
    ...                       "ci_low": [0.1, np.nan], "ci_high": [0.7, np.nan]})
    >>> ax = outcome_forest(table, estimate="standardised_effect", better="lower", ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.texts]
    ['no estimate', '← better outcome']
    >>> plt.close(ax.figure)
    """
    ax = ax or plt.gca()
    labels = labels or {}
    rows = table.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    values, low, high = (rows[c].to_numpy(dtype="float64", na_value=np.nan) for c in (estimate, "ci_low", "ci_high"))
    known = ~np.isnan(values)
    colour, grey = CROSS_CASE_COLOURS["estimate"], CROSS_CASE_COLOURS["context"]
    ax.axvline(reference, color=grey, linewidth=0.8, linestyle="--", zorder=1)
    ax.hlines(ys[known], low[known], high[known], color=colour, linewidth=1.6, zorder=2)
    ax.scatter(values[known], ys[known], color=colour, s=26, zorder=3)
    # Symmetric about the reference, so the side of an effect reads at a glance.
    ends = np.concatenate([low[known], high[known], values[known]])
    reach = max(1.1 * float(np.nanmax(np.abs(ends - reference), initial=0.0)), 0.1)
    ax.set_xlim(reference - reach, reference + reach)
    for y in ys[~known]:
        ax.text(reference, y, "no estimate", ha="center", va="center", fontsize=8, color=grey, style="italic",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_yticks(ys)
    ax.set_yticklabels([labels.get(k, k) for k in rows[key]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=8)
    if better in ("higher", "lower"):
        # A characteristic goes with better outcomes where the estimate has the sign of "better".
        right = better == "higher"
        ax.text(0.99 if right else 0.01, 1.01, "better outcome →" if right else "← better outcome",
                transform=ax.transAxes, ha="right" if right else "left", va="bottom", fontsize=8, color=grey)
    return ax


def survey_interview_scatter(pairs: pd.DataFrame, *, labels: dict[str, str] | None = None,
                             scale: LevelScale = THREE_LEVELS, axes=None, ncols: int = 4, x: str = "survey_mean",
                             y: str = "interview_density", by: str = "characteristic_id"):
    """Small multiples, one panel per characteristic: each microsystem's survey mean (x, on the
    instrument's levels) against how densely its interviews were coded with the characteristic
    (y, coded segments per 1,000 words). A point is hollow where the staff's views differ
    (``shared`` False, when ``pairs`` has that column). Each panel gives Spearman's rho and the
    number of microsystems drawn.

    ``pairs`` is :func:`workbench.crosscase.survey_against_interviews` output. ``axes``: one
    axes per characteristic (default: a new figure, ``ncols`` panels a row, shared axes); axes
    left over are hidden. Returns the axes, flattened.
    """
    labels = labels or {}
    groups = list(dict.fromkeys(pairs[by]))
    if axes is None:
        nrows = max(1, -(-len(groups) // ncols))
        _, axes = plt.subplots(nrows, ncols, figsize=(8.5, 0.6 + 2.1 * nrows), sharex=True, sharey=True,
                               squeeze=False)
    axes = np.asarray(axes).ravel()
    colour = CROSS_CASE_COLOURS["estimate"]
    margin = 0.05 * (scale.high - scale.low)
    top = float(np.nanmax(pairs[y].to_numpy(dtype="float64", na_value=np.nan), initial=0.0))
    for ax, group in zip(axes, groups):
        part = pairs[pairs[by].eq(group)].dropna(subset=[x, y])
        shared = (part["shared"].astype("boolean").fillna(True).to_numpy(dtype=bool) if "shared" in part
                  else np.ones(len(part), dtype=bool))
        ax.scatter(part[x][shared], part[y][shared], s=16, color=colour, alpha=0.85, linewidth=0)
        ax.scatter(part[x][~shared], part[y][~shared], s=16, facecolor="white", edgecolor=colour, linewidth=1)
        rho = part[x].corr(part[y], method="spearman") if len(part) >= 3 else np.nan
        summary = f"ρ = {rho:.2f}, n = {len(part)}" if np.isfinite(rho) else f"n = {len(part)}"
        ax.text(0.03, 0.97, summary, transform=ax.transAxes, va="top", ha="left", fontsize=8)
        ax.set_title(labels.get(group, group), fontsize=9)
        ax.set_xlim(scale.low - margin, scale.high + margin)
        ax.set_xticks(list(scale.values))
        ax.set_ylim(-0.05 * max(top, 1), 1.2 * max(top, 1))
        ax.tick_params(labelsize=8)
        ax.set_xlabel("survey mean", fontsize=8)
        ax.set_ylabel("segments per 1,000 words", fontsize=8)
        ax.label_outer()  # axis words on the outer panels only
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    return axes


def qca_xy_plot(solution: pd.Series, outcome: pd.Series, *, ax=None, names: dict | None = None,
                consistency: float | None = None, coverage: float | None = None,
                xlabel: str = "membership in the solution", ylabel: str = "membership in the outcome"):
    """QCA's XY plot: each case's membership in a solution (x) against its membership in the
    outcome (y), with the diagonal. Cases on or above the diagonal fit the solution being
    sufficient (y ≥ x); cases right of 0.5 and below it (in the solution, not in the outcome)
    contradict it in kind: they are drawn in vermillion and numbered, and listed by name under
    the plot (``names``: case -> name; numbers rather than names at the points, which often sit
    close together). ``consistency`` and ``coverage``, when given, are written in the corner.

    Examples
    --------
    >>> x = pd.Series([0.9, 0.7, 0.2], index=["A", "B", "C"])
    >>> y = pd.Series([0.95, 0.3, 0.4], index=["A", "B", "C"])
    >>> ax = qca_xy_plot(x, y, names={"B": "Ward B"}, consistency=0.8, coverage=0.7, ax=plt.figure().gca())
    >>> sorted(t.get_text() for t in ax.texts)
    ['1', 'consistency 0.80\\ncoverage 0.70', '◆ In the solution, not in the outcome:\\n1 Ward B']
    >>> plt.close(ax.figure)
    """
    from matplotlib import patheffects

    ax = ax or plt.gca()
    names = names or {}
    grey, colour, alert = (CROSS_CASE_COLOURS[k] for k in ("context", "estimate", "alert"))
    data = pd.concat([solution.rename("x"), outcome.rename("y")], axis=1).dropna()
    ax.plot([0, 1], [0, 1], color=grey, linewidth=0.8, zorder=1)
    ax.axhline(0.5, color=grey, linewidth=0.6, linestyle=":", zorder=1)
    ax.axvline(0.5, color=grey, linewidth=0.6, linestyle=":", zorder=1)
    against = (data["x"] > 0.5) & (data["y"] < 0.5)
    ax.scatter(data["x"][~against], data["y"][~against], s=22, color=colour, alpha=0.85, linewidth=0, zorder=2)
    if against.any():
        ax.scatter(data["x"][against], data["y"][against], s=30, color=alert, marker="D", zorder=3)
        listed = data[against].sort_values(["x", "y"], ascending=False)
        for number, (x, y) in enumerate(zip(listed["x"], listed["y"]), start=1):
            # Alternate sides so the numbers of neighbouring points do not sit on each other; always
            # left near the right edge, so a number stays inside the frame.
            left = number % 2 or x > 0.9
            # Above the markers, on a white halo, so a number stays readable where points crowd.
            ax.annotate(str(number), (x, y), xytext=(-6 if left else 6, -3), textcoords="offset points",
                        fontsize=8, color=alert, ha="right" if left else "left", va="top", zorder=4,
                        path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
        # Named under the plot rather than in a legend, which would sit on the cases it names.
        lines = [f"{n} {names.get(case, case)}" for n, case in enumerate(listed.index, start=1)]
        ax.text(0, -0.2, "◆ In the solution, not in the outcome:\n" + "\n".join(lines), transform=ax.transAxes,
                va="top", ha="left", fontsize=8, color=alert)
    if consistency is not None and coverage is not None:
        ax.text(0.03, 0.97, f"consistency {consistency:.2f}\ncoverage {coverage:.2f}", transform=ax.transAxes,
                va="top", ha="left", fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    return ax


# --------------------------------------------------------------------------------------
# Statistical process control: run charts, control charts, moving ranges, funnel plots
# (the numbers come from workbench.spc).

# Okabe & Ito's colours again, and each mark told apart by shape and fill as well, so a
# greyscale print or any colour-vision deficiency keeps them apart: ordinary months are hollow
# circles, months in a signalling run filled orange squares, months outside the limits filled
# vermillion diamonds.
SPC_STYLE = {
    "line": "#555555", "centre": "#0072B2", "limit": "#777777", "run": "#E69F00", "outside": "#D55E00",
    "unit": "#999999", "highlight": "#D55E00", "target": "#0072B2",
}


def _month_edges(periods: np.ndarray) -> np.ndarray:
    """Edges between months (as matplotlib date numbers): midway between neighbours, and half a
    month beyond the ends, so a step drawn over them centres each month's value on its point."""
    x = matplotlib.dates.date2num(pd.to_datetime(periods))
    if len(x) == 1:
        return np.array([x[0] - 15, x[0] + 15])
    middle = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (middle[0] - x[0])], middle, [x[-1] + (x[-1] - middle[-1])]])


def _month_axis(ax, periods, *, compact: bool) -> None:
    """Month labels like "Jun 25" every 1, 2, 3, 6 or 12 months (the fewest that keep at most 4
    labels on a compact panel, 8 otherwise, so they never overlap), and half a month of room at
    each end."""
    stamps = pd.to_datetime(pd.Series(periods)).reset_index(drop=True)
    if stamps.empty:
        return
    most = 4 if compact else 8
    step = next((s for s in (1, 2, 3, 6, 12) if len(stamps) <= s * most), int(np.ceil(len(stamps) / most)))
    ticks = stamps.iloc[::step]
    ax.set_xticks(matplotlib.dates.date2num(ticks))
    ax.set_xticklabels([month_label(t, short=True) for t in ticks])
    edges = _month_edges(stamps.to_numpy())
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _spc_text(ax, *, compact: bool, title: str | None, ylabel: str | None) -> None:
    size = 7 if compact else LABEL_SIZE + 1
    ax.tick_params(labelsize=6 if compact else LABEL_SIZE)
    if compact:
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    if title:
        ax.set_title(title, fontsize=size)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=size)
    ax.spines[["top", "right"]].set_visible(False)


def _spc_points(ax, x, y, *, in_run, outside, compact: bool) -> None:
    """The series as a line through the months with data (a skipped month is not a zero), and
    its points: hollow circles, filled squares in a signalling run, filled diamonds outside the
    limits."""
    known = ~np.isnan(y)
    size = 12 if compact else 22
    ax.plot(x[known], y[known], color=SPC_STYLE["line"], linewidth=0.9 if compact else 1.2, zorder=2)
    plain = known & ~in_run & ~outside
    ax.scatter(x[plain], y[plain], s=size, facecolor="white", edgecolor=SPC_STYLE["line"], linewidth=1, zorder=3,
               label="month")
    if (in_run & known & ~outside).any():
        chosen = in_run & known & ~outside
        ax.scatter(x[chosen], y[chosen], s=size * 1.5, marker="s", color=SPC_STYLE["run"], edgecolor="black",
                   linewidth=0.6, zorder=4, label="in a long run (signal)")
    if (outside & known).any():
        ax.scatter(x[outside], y[outside], s=size * 2, marker="D", color=SPC_STYLE["outside"], edgecolor="black",
                   linewidth=0.6, zorder=5, label="outside the limits (signal)")


def _spc_legend(ax, *, below_label: bool = False) -> None:
    """The legend a fixed distance (in font sizes) below the axes: clear of the month labels, and
    of the axis label too when there is one (``below_label``)."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), borderaxespad=4.2 if below_label else 2.6, ncol=3,
              fontsize=7, frameon=False, handlelength=1.8, columnspacing=1.2)


def _spc_finish(ax, y: np.ndarray, periods, *, compact: bool, title: str | None, ylabel: str | None):
    """What a run chart and a control chart end with: a note when no month has data, the month
    axis, title and label, and (full size) the legend below."""
    if not np.isfinite(y).any():
        ax.text(0.5, 0.5, "no month has data", transform=ax.transAxes, ha="center", va="center", fontsize=8,
                color=SPC_STYLE["limit"], style="italic")
    _month_axis(ax, periods, compact=compact)
    _spc_text(ax, compact=compact, title=title, ylabel=ylabel)
    if not compact:
        _spc_legend(ax)
    return ax


def run_chart_plot(chart: pd.DataFrame, summary=None, *, ax=None, title: str | None = None,
                   ylabel: str | None = None, compact: bool = False):
    """A run chart (:func:`workbench.spc.run_chart`): the months' values, the median (solid
    over the baseline months it comes from, dashed where it is frozen and extended over later
    months), and the points of a run longer than Anhøj's limit as filled squares.

    ``summary`` (the run chart's :class:`~workbench.spc.RunSummary`): when given and the runs
    or crossings signal, a short note says so in the corner. ``compact``: a small panel for a
    printed two-page handout (at most 6 month labels, small fonts, no legend).

    Examples
    --------
    >>> from workbench.spc import run_chart
    >>> months = pd.date_range("2025-01-01", periods=12, freq="MS")
    >>> series = pd.DataFrame({"period": months, "value": [3, 4, 2, 5, 3, 4, 8, 8, 9, 8, 9, 9.0]})
    >>> chart, summary = run_chart(series, kind="measurement", better="higher", baseline_end="2025-07-01")
    >>> ax = run_chart_plot(chart, summary, ax=plt.figure().gca())
    >>> [label.get_text() for label in ax.get_xticklabels()][:3]  # every other month of 12
    ['Jan 25', 'Mar 25', 'May 25']
    >>> plt.close(ax.figure)
    """
    ax = ax or plt.gca()
    periods = chart["period"].to_numpy()
    x = matplotlib.dates.date2num(pd.to_datetime(periods))
    y = chart["y"].to_numpy(dtype="float64", na_value=np.nan)
    edges = _month_edges(periods)
    centre = chart["centre"].to_numpy(dtype="float64", na_value=np.nan)
    baseline = chart["baseline"].to_numpy(dtype=bool)
    if np.isfinite(centre).any():
        ax.stairs(np.where(baseline, centre, np.nan), edges, baseline=None, color=SPC_STYLE["centre"], linewidth=1.2,
                  label="median")
        if not baseline.all():
            ax.stairs(np.where(baseline, np.nan, centre), edges, baseline=None, color=SPC_STYLE["centre"],
                      linewidth=1.2, linestyle="--", label="baseline median, extended")
    in_run = chart["signal_run"].to_numpy(dtype=bool)
    _spc_points(ax, x, y, in_run=in_run, outside=np.zeros(len(y), dtype=bool), compact=compact)
    if summary is not None and summary.signal:
        note = ("long run" if summary.runs_signal else "") + (" + " if summary.runs_signal and
                                                              summary.crossings_signal else "")
        note += "few crossings" if summary.crossings_signal else ""
        ax.text(0.99, 0.98, f"signal: {note}", transform=ax.transAxes, ha="right", va="top",
                fontsize=6 if compact else 7, color="black")
    return _spc_finish(ax, y, periods, compact=compact, title=title, ylabel=ylabel)


def control_chart_plot(chart: pd.DataFrame, *, ax=None, title: str | None = None, ylabel: str | None = None,
                       compact: bool = False):
    """A control chart (:func:`workbench.spc.control_chart`): the months' values, each phase's
    centre line (solid) and three-sigma limits (dashed steps, wider in months with a smaller
    denominator), a vertical line where a new phase starts; months outside the limits as
    filled diamonds and months in a run longer than Anhøj's limit as filled squares (shape and
    fill, not colour alone, tell them apart).

    Examples
    --------
    >>> from workbench.spc import control_chart
    >>> months = pd.date_range("2025-01-01", periods=8, freq="MS")
    >>> series = pd.DataFrame({"period": months, "numerator": [8, 9, 7, 8, 14, 15, 13, 20],
    ...                        "denominator": [100, 120, 80, 100, 100, 90, 110, 100]})
    >>> chart, runs = control_chart(series, kind="rate", per=100, better="lower", phases=["2025-05-01"])
    >>> ax = control_chart_plot(chart, ax=plt.figure().gca())
    >>> len(ax.lines) > 0, ax.get_legend() is not None
    (True, True)
    >>> plt.close(ax.figure)
    """
    ax = ax or plt.gca()
    periods = chart["period"].to_numpy()
    x = matplotlib.dates.date2num(pd.to_datetime(periods))
    y = chart["y"].to_numpy(dtype="float64", na_value=np.nan)
    edges = _month_edges(periods)
    phase = chart["phase"].to_numpy()
    labelled = False
    for number in pd.unique(phase):
        rows = np.flatnonzero(phase == number)
        part = edges[rows[0]:rows[-1] + 2]
        centre, lcl, ucl = (chart[c].to_numpy(dtype="float64", na_value=np.nan)[rows] for c in ("centre", "lcl", "ucl"))
        ax.stairs(centre, part, baseline=None, color=SPC_STYLE["centre"], linewidth=1.2,
                  label=None if labelled else "centre line")
        ax.stairs(ucl, part, baseline=None, color=SPC_STYLE["limit"], linewidth=1, linestyle="--",
                  label=None if labelled else "control limits")
        ax.stairs(lcl, part, baseline=None, color=SPC_STYLE["limit"], linewidth=1, linestyle="--")
        labelled = True
        if rows[0] > 0:  # a new phase: a line where it starts, and its first month named above
            ax.axvline(part[0], color="black", linewidth=0.8, linestyle=":", zorder=1)
            if not compact:
                ax.text(part[0], 1.0, f" from {month_label(periods[rows[0]], short=True)}",
                        transform=ax.get_xaxis_transform(), ha="left", va="bottom", fontsize=7, color="#333333")
    outside = chart["outside"].isin(["above", "below"]).to_numpy()
    in_run = chart["signal_run"].to_numpy(dtype=bool)
    _spc_points(ax, x, y, in_run=in_run, outside=outside, compact=compact)
    return _spc_finish(ax, y, periods, compact=compact, title=title, ylabel=ylabel)


def moving_range_plot(chart: pd.DataFrame, *, ax=None, title: str | None = None, compact: bool = False):
    """The moving-range chart beside an I chart (:func:`workbench.spc.control_chart` of a
    measurement): each month's absolute change from the month before, the mean moving range
    and its upper limit per phase; ranges above the limit as filled diamonds.

    Examples
    --------
    >>> from workbench.spc import control_chart
    >>> series = pd.DataFrame({"period": pd.date_range("2025-01-01", periods=5, freq="MS"), "value": [5, 7, 6, 9, 8.0]})
    >>> chart, _ = control_chart(series, kind="measurement", better="higher")
    >>> moving_range_plot(chart, ax=plt.figure().gca()).get_ylabel()
    'moving range'
    >>> plt.close("all")
    """
    if "mr" not in chart.columns:
        raise ValueError("chart has no moving ranges: pass the control chart of a measurement (an I chart), "
                         f"whose columns include mr, mr_centre and mr_ucl; got columns {list(chart.columns)}")
    ax = ax or plt.gca()
    periods = chart["period"].to_numpy()
    x = matplotlib.dates.date2num(pd.to_datetime(periods))
    mr = chart["mr"].to_numpy(dtype="float64", na_value=np.nan)
    edges = _month_edges(periods)
    phase = chart["phase"].to_numpy()
    for number in pd.unique(phase):
        rows = np.flatnonzero(phase == number)
        part = edges[rows[0]:rows[-1] + 2]
        ax.stairs(chart["mr_centre"].to_numpy(dtype="float64", na_value=np.nan)[rows], part, baseline=None,
                  color=SPC_STYLE["centre"], linewidth=1.2)
        ax.stairs(chart["mr_ucl"].to_numpy(dtype="float64", na_value=np.nan)[rows], part, baseline=None,
                  color=SPC_STYLE["limit"], linewidth=1, linestyle="--")
        if rows[0] > 0:
            ax.axvline(part[0], color="black", linewidth=0.8, linestyle=":", zorder=1)
    with np.errstate(invalid="ignore"):
        above = mr > chart["mr_ucl"].to_numpy(dtype="float64", na_value=np.nan)
    _spc_points(ax, x, mr, in_run=np.zeros(len(mr), dtype=bool), outside=above, compact=compact)
    ax.set_ylim(bottom=0)
    _month_axis(ax, periods, compact=compact)
    _spc_text(ax, compact=compact, title=title, ylabel="moving range")
    return ax


def funnel_plot(result, *, ax=None, highlight=None, names: dict | None = None, title: str | None = None,
                xlabel: str = "denominator", ylabel: str | None = None, compact: bool = False):
    """A funnel plot (:func:`workbench.spc.funnel_table`): each unit's value against its
    denominator, the target as a line, and the limits around it (95% dashed, 99.8% solid; widened
    for overdispersion when the result says so). Units are grey dots and not named, except
    ``highlight`` (a ``microsystem_id``), drawn as a large vermillion diamond and labelled with
    ``names.get(id, id)``: in a unit's feedback report only that unit is named.

    Examples
    --------
    >>> from workbench.spc import funnel_table
    >>> units = pd.DataFrame({"microsystem_id": ["A", "B", "C"], "numerator": [40, 45, 90],
    ...                       "denominator": [50, 60, 100]})
    >>> ax = funnel_plot(funnel_table(units, kind="proportion", per=100), highlight="B", names={"B": "Ward B"},
    ...                  ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.texts]
    ['Ward B']
    >>> plt.close(ax.figure)
    """
    ax = ax or plt.gca()
    names = names or {}
    limits, table = result.limits, result.table
    for probability, part in limits.groupby("probability", sort=True):
        coverage = float(part["coverage"].iloc[0])
        wide = probability == limits["probability"].max()
        style = {"color": "#333333" if wide else SPC_STYLE["limit"], "linestyle": "-" if wide else "--",
                 "linewidth": 1}
        label = f"{coverage * 100:g}% limits" + (" (overdispersion)" if result.adjusted else "")
        ax.plot(part["volume"], part["upper"], label=label, **style)
        ax.plot(part["volume"], part["lower"], **style)
    ax.axhline(result.target, color=SPC_STYLE["target"], linewidth=1.2, label="target")
    others = table["microsystem_id"].ne(highlight) if highlight is not None else np.ones(len(table), dtype=bool)
    ax.scatter(table["denominator"][others], table["y"][others], s=10 if compact else 16, color=SPC_STYLE["unit"],
               alpha=0.8, linewidth=0, zorder=3, label="units")
    if highlight is not None:
        own = table[table["microsystem_id"].eq(highlight)]
        if len(own) and own["y"].notna().any():
            x, y = float(own["denominator"].iloc[0]), float(own["y"].iloc[0])
            ax.scatter([x], [y], s=40 if compact else 60, marker="D", color=SPC_STYLE["highlight"], edgecolor="black",
                       linewidth=0.8, zorder=5)
            ax.annotate(str(names.get(highlight, highlight)), (x, y), xytext=(6, 6), textcoords="offset points",
                        fontsize=7 if compact else LABEL_SIZE, color="black", zorder=6,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.8})
    ax.set_xlabel(xlabel, fontsize=7 if compact else LABEL_SIZE + 1)
    _spc_text(ax, compact=compact, title=title, ylabel=ylabel)
    if compact:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    else:
        _spc_legend(ax, below_label=True)
    return ax
