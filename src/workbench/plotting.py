"""Axes-level plots over the workbench's tidy frames.

Each function draws on the ``ax`` it is given (or the current one), returns it, and
touches nothing else: no ``show()``, no ``savefig()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

LEVEL_PALETTE = "RdYlGn"


def level_heatmap(table: pd.DataFrame, *, ax=None, vmin: float = 1.0, vmax: float = 3.0, annotate: bool = True,
                  cbar_label: str = "mean level (1 low - 3 high)", **kwargs):
    """Heatmap of a wide table of mean levels (rows: microsystems, columns: items or characteristics)."""
    ax = ax or plt.gca()
    sns.heatmap(table.astype(float), ax=ax, cmap=LEVEL_PALETTE, vmin=vmin, vmax=vmax, annot=annotate, fmt=".1f",
                annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white", cbar_kws={"label": cbar_label}, **kwargs)
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


def peer_comparison(position: pd.DataFrame, *, labels: dict[str, str] | None = None, ax=None, own_label: str = "this microsystem"):
    """One microsystem's mean (dot with its confidence interval) against the other
    microsystems' range (line), interquartile range (bar) and median (tick).

    ``position`` is :func:`workbench.survey.position_among_peers` output.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    rows = position.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    ax.hlines(ys, rows["peer_min"], rows["peer_max"], color="#bbbbbb", linewidth=1, label="other microsystems: range")
    ax.hlines(ys, rows["peer_q1"], rows["peer_q3"], color="#888888", linewidth=6, label="other microsystems: middle half")
    ax.scatter(rows["peer_median"], ys, marker="|", s=200, color="black", zorder=3, label="other microsystems: median")
    ax.errorbar(rows["mean"], ys, xerr=[rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]], fmt="o",
                color="#d62728", ecolor="#d62728", capsize=3, zorder=4, label=f"{own_label} (95% CI)")
    rows_on_level_scale(ax, ys, [labels.get(c, c) for c in rows["characteristic_id"]])
    ax.set_xlabel("mean level")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8, frameon=False)
    return ax


def rows_on_level_scale(ax, ys, row_labels: list[str], *, right: float = 3.1) -> None:
    """One labelled row per ``ys`` on the y axis; the three levels of the instrument on the x axis
    (``right`` leaves room for notes beside the highest level)."""
    ax.set_yticks(ys)
    ax.set_yticklabels(row_labels)
    ax.set_xlim(0.9, right)
    ax.set_xticks([1, 2, 3])
    ax.set_xticklabels(["1 low", "2 middle", "3 high"])


def diverging_levels(summary: pd.DataFrame, *, labels: dict[str, str] | None = None, ax=None, key: str = "item_id",
                     level_names: tuple[str, str, str] = ("low", "middle", "high")):
    """Diverging stacked bars of the three levels per item, centred on the middle level,
    with the can't-rate share drawn apart on the right (it is missing information, not a level).

    ``summary`` is :func:`workbench.survey.item_summary` output grouped by ``key``:
    ``share_level_1..3`` are shares of rated answers, ``cant_rate_share`` of respondents.
    """
    ax = ax or plt.gca()
    labels = labels or {}
    rows = summary.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1]
    low, middle, high = (rows[f"share_level_{v}"].to_numpy() for v in (1, 2, 3))
    colours = sns.color_palette(LEVEL_PALETTE, 3)
    ax.barh(ys, -low, left=-middle / 2, color=colours[0], label=level_names[0])
    ax.barh(ys, middle, left=-middle / 2, color=colours[1], label=level_names[1])
    ax.barh(ys, high, left=middle / 2, color=colours[2], label=level_names[2])
    gap_start = 1.15
    ax.barh(ys, rows["cant_rate_share"].to_numpy(), left=gap_start, color="#9e9e9e", label="can't rate (of respondents)")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(gap_start - 0.05, color="#cccccc", linewidth=0.8, linestyle=":")
    ax.set_yticks(ys)
    ax.set_yticklabels([labels.get(k, k) for k in rows[key]])
    ax.set_xlim(-1.05, gap_start + max(0.25, float(rows["cant_rate_share"].max()) + 0.05))
    ticks = [-1, -0.5, 0, 0.5, 1]
    ax.set_xticks(ticks + [gap_start])
    ax.set_xticklabels([f"{abs(t):.0%}" for t in ticks] + ["0%"])
    ax.set_xlabel("share of rated answers (low to the left, high to the right)  |  can't rate")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize=8, frameon=False)
    return ax


def cluster_order(table: pd.DataFrame, *, method: str = "average") -> list:
    """Row labels of ``table`` in the leaf order of a hierarchical clustering of its rows
    (missing cells filled with the column mean), so similar profiles sit together."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    filled = table.astype(float).fillna(table.astype(float).mean())
    if len(filled) < 3:
        return list(table.index)
    return list(filled.index[leaves_list(linkage(filled.to_numpy(), method=method, metric="euclidean"))])


def masked_level_heatmap(means: pd.DataFrame, shared: pd.DataFrame, *, ax=None, **kwargs):
    """:func:`level_heatmap` that leaves blank (marked with a dot) every cell whose own
    staff do not agree enough to report a mean (``shared`` is False there)."""
    ax = ax or plt.gca()
    shown = means.where(shared.reindex_like(means).fillna(False).astype(bool))
    level_heatmap(shown, ax=ax, **kwargs)
    hidden = means.notna() & shown.isna()
    rows, columns = np.nonzero(hidden.to_numpy())
    ax.scatter(columns + 0.5, rows + 0.5, marker=".", s=12, color="#555555")
    ax.set_xlabel("· staff agreement too low to show a mean")
    return ax


def handoff_network(links: pd.DataFrame, microsystems: pd.DataFrame, *, ax=None, colour_by: str = "weakest", min_handoffs: int = 1):
    """The handoff network: microsystems on a circle grouped by setting, one line per link,
    its width the number of handoffs and its colour ``colour_by`` (1 low - 3 high).

    ``links`` is :func:`workbench.journeys.weak_handoffs` output.
    """
    ax = ax or plt.gca()
    units = microsystems.sort_values(["setting", "microsystem_id"]).reset_index(drop=True)
    angles = np.linspace(0, 2 * np.pi, len(units), endpoint=False)
    position = {m: (np.cos(a), np.sin(a)) for m, a in zip(units["microsystem_id"], angles)}
    shown = links[links["handoffs"] >= min_handoffs]
    cmap = plt.get_cmap(LEVEL_PALETTE)
    widest = max(1, shown["handoffs"].max() if len(shown) else 1)
    for link in shown.sort_values("handoffs").itertuples(index=False):
        (x0, y0), (x1, y1) = position[link.from_id], position[link.to_id]
        value = getattr(link, colour_by)
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": cmap((value - 1) / 2) if pd.notna(value) else "#999999",
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
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(1, 3))
    plt.colorbar(mappable, ax=ax, fraction=0.03, pad=0.25, label=f"{colour_by.replace('_', ' ')} score of the link (1 low - 3 high)")
    return ax
