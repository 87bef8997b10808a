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
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


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
    ax.set_yticks(ys)
    ax.set_yticklabels([labels.get(c, c) for c in rows["characteristic_id"]])
    ax.set_xlim(0.9, 3.1)
    ax.set_xticks([1, 2, 3])
    ax.set_xticklabels(["1 low", "2 middle", "3 high"])
    ax.set_xlabel("mean level")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8, frameon=False)
    return ax


def evidence_scatter(pairs: pd.DataFrame, *, x: str = "survey_mean", y: str = "interview_density", hue: str | None = None, ax=None, **kwargs):
    """Scatter of survey score against interview evidence (one point per microsystem)."""
    ax = ax or plt.gca()
    sns.scatterplot(data=pairs, x=x, y=y, hue=hue, ax=ax, **kwargs)
    ax.set_xlabel("survey mean level")
    ax.set_ylabel("coded segments per 1,000 words")
    return ax
