"""Axes-level plots over the workbench's tidy frames.

Each function draws on the ``ax`` it is given (or the current one), returns it, and
touches nothing else: no ``show()``, no ``savefig()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from workbench.vocabulary import LevelScale

__all__ = [
    "LEVEL_PALETTE", "MAX_ROWS_DRAWN", "THREE_LEVELS", "cluster_order", "count_heatmap", "diverging_levels",
    "flagged_level_heatmap", "handoff_network", "level_heatmap", "peer_comparison", "random_groups_plot", "rows_drawn",
    "rows_on_level_scale", "share_bars",
]

LEVEL_PALETTE = "RdYlGn"
# A figure with one row per microsystem stays readable up to about this many rows; a national
# programme has thousands, so such figures then draw both ends of their order.
MAX_ROWS_DRAWN = 60
THREE_LEVELS = LevelScale.from_values([1, 2, 3])  # the self-assessment's scale, for plots given no other


def level_heatmap(table: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, ax=None, annotate: bool = True,
                  cbar_label: str | None = None, **kwargs):
    """Heatmap of a wide table of mean levels (rows: microsystems, columns: items or
    characteristics), coloured over the instrument's ``scale``."""
    ax = ax or plt.gca()
    sns.heatmap(table.astype(float), ax=ax, cmap=LEVEL_PALETTE, vmin=scale.low, vmax=scale.high, annot=annotate,
                fmt=".1f", annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": cbar_label or scale.span_label}, **kwargs)
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
    sns.heatmap(table, ax=ax, cmap="Blues", annot=True, fmt=fmt, annot_kws={"fontsize": 7}, linewidths=0.5,
                linecolor="white", cbar_kws={"label": cbar_label}, **kwargs)
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
                    ax=None, own_label: str = "this microsystem"):
    """One microsystem's mean (dot with its confidence interval; hollow where its staff's
    views differ, ``shared`` False) against the other microsystems' range (line),
    interquartile range (bar) and median (tick).

    ``position``: a microsystem's rows of the ``unit_profiles`` and ``peer_positions`` views.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    rows = position.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    ax.hlines(ys, rows["peer_min"], rows["peer_max"], color="#bbbbbb", linewidth=1, label="other microsystems: range")
    ax.hlines(ys, rows["peer_q1"], rows["peer_q3"], color="#888888", linewidth=6,
              label="other microsystems: middle half")
    ax.scatter(rows["peer_median"], ys, marker="|", s=200, color="black", zorder=3, label="other microsystems: median")
    shared = rows["shared"].to_numpy(dtype=bool) if "shared" in rows else np.ones(len(rows), dtype=bool)
    ax.errorbar(rows["mean"], ys, xerr=[rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]], fmt="none",
                ecolor="#d62728", capsize=3, zorder=4)
    ax.scatter(rows["mean"].where(shared), ys, color="#d62728", zorder=5, label=f"{own_label} (95% CI)")
    if (~shared & rows["mean"].notna().to_numpy()).any():
        # A hollow dot: the staff's average, but their answers are too spread to call it a shared view.
        ax.scatter(rows["mean"].where(~shared), ys, facecolor="white", edgecolor="#d62728", linewidth=1.5, zorder=5,
                   label=f"{own_label}: staff views differ")
    rows_on_level_scale(ax, ys, [labels.get(c, c) for c in rows["characteristic_id"]], scale=scale)
    ax.set_xlabel("mean level")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8, frameon=False)
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
    Rows whose shares were withheld (blank) are left out.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    share_columns = [f"share_level_{v}" for v in scale.values]
    rows = summary.dropna(subset=share_columns).reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    shares = rows[share_columns].to_numpy(dtype="float64")
    colours = sns.color_palette(LEVEL_PALETTE, scale.n)
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
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(gap_start - 0.05, color="#cccccc", linewidth=0.8, linestyle=":")
    ax.set_yticks(ys)
    ax.set_yticklabels([labels.get(k, k) for k in rows[key]])
    ax.set_xlim(-1.05, gap_start + max(0.25, float(np.nanmax(cant_rate, initial=0)) + 0.05))
    ticks = [-1, -0.5, 0, 0.5, 1]
    ax.set_xticks(ticks + [gap_start])
    ax.set_xticklabels([f"{abs(t):.0%}" for t in ticks] + ["0%"])
    ax.set_xlabel("share of rated answers (low to the left, high to the right)  |  can't rate")
    # Legend in level order, whatever order the bars were drawn in.
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(name) for name in (*scale.names, "can't rate (of respondents)") if name in names]
    ax.legend([handles[i] for i in order], [names[i] for i in order], loc="upper center", bbox_to_anchor=(0.5, -0.18),
              ncol=min(4, len(order)), fontsize=8, frameon=False)
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
    ax.scatter(columns + 0.5, rows + 0.5, marker="o", s=14, color="#222222")
    ax.set_xlabel("● staff views differ (agreement below the study's threshold)")
    return ax


def handoff_network(links: pd.DataFrame, microsystems: pd.DataFrame, *, scale: LevelScale = THREE_LEVELS, ax=None,
                    colour_by: str = "weakest", min_handoffs: int = 1):
    """The handoff network: microsystems on a circle grouped by setting, one line per link,
    its width the number of handoffs and its colour ``colour_by`` on the instrument's ``scale``.

    ``links`` is :func:`workbench.journeys.weak_handoffs` output.
    """
    ax = ax or plt.gca()
    units = microsystems.sort_values(["setting", "microsystem_id"]).reset_index(drop=True)
    angles = np.linspace(0, 2 * np.pi, len(units), endpoint=False)
    position = {m: (np.cos(a), np.sin(a)) for m, a in zip(units["microsystem_id"], angles)}
    shown = links[links["handoffs"] >= min_handoffs]
    cmap = plt.get_cmap(LEVEL_PALETTE)
    norm = plt.Normalize(scale.low, scale.high)
    widest = max(1, shown["handoffs"].max() if len(shown) else 1)
    for link in shown.sort_values("handoffs").itertuples(index=False):
        (x0, y0), (x1, y1) = position[link.from_id], position[link.to_id]
        value = getattr(link, colour_by)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": cmap(norm(value)) if pd.notna(value) else "#999999",
                                "lw": 0.5 + 4 * link.handoffs / widest, "alpha": 0.8, "shrinkA": 6, "shrinkB": 6,
                                "connectionstyle": "arc3,rad=0.15"})
    palette = dict(zip(units["setting"].unique(), sns.color_palette("tab10", units["setting"].nunique())))
    for unit in units.itertuples(index=False):
        x, y = position[unit.microsystem_id]
        ax.scatter([x], [y], s=60, color=palette[unit.setting], zorder=3, edgecolor="white")
        ax.text(1.1 * x, 1.1 * y, unit.microsystem_id, ha="center", va="center", fontsize=6)
    for setting, colour in palette.items():
        ax.scatter([], [], color=colour, label=setting)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=7, frameon=False, title="setting")
    ax.set_aspect("equal")
    ax.axis("off")
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    label = f"{colour_by.replace('_', ' ')} score of the link ({scale.tick_labels[0]} - {scale.tick_labels[-1]})"
    plt.colorbar(mappable, ax=ax, fraction=0.03, pad=0.25, label=label)
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
