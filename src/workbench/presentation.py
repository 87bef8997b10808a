"""Tables and figures for people: the one presentation helper every report uses.

A report makes one :class:`Report` and shows everything through it::

    show = Report(study)
    show.table(frame, caption="Where this unit stands", kinds={"mean": "level"})
    show.figure(fig, caption="The unit's profile against the other units")

so every table and figure gets a number and a caption, and every table the same rules:

* headers in words (:data:`COLUMN_LABELS`, else the column name made readable), no 0..n index;
* one rounding rule per kind of number (:data:`KINDS`): counts as whole numbers with thousands
  separators, shares as percentages, levels and indices with two decimals, p-values with three
  and ``< 0.001``, odds ratios with two, differences signed;
* a dash for a missing or withheld value, with a footnote saying what a dash means;
* complete: a table is never cut to its first rows or columns (long tables belong in an export
  the report links to, not in a truncated display).

Built on pandas' ``Styler`` rather than a further table library: it renders a complete, static
HTML table in milliseconds (a 5,000-unit regeneration renders tens of thousands of tables), needs
no JavaScript, prints whole, and adds no dependency. Sorting and searching belong to the explorer
and the exports (CSV / XLSX), where readers who need them already are.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["COLUMN_LABELS", "DASH", "KINDS", "Report", "format_value", "interval", "kind_of", "label_of",
           "table_html"]

DASH = "–"


def _count(value) -> str:
    return f"{int(round(value)):,}"


def _share(value) -> str:
    percent = 100 * value
    if 0 < percent < 1:
        return "< 1%"
    if 99 < percent < 100:
        return "> 99%"
    return f"{percent:.0f}%"


def _p(value) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _signed(value) -> str:
    return f"{value:+.2f}".replace("-", "−")


# kind -> how a number of that kind is written. "level": a mean or score on the instrument's
# levels; "index": agreement, reliability, correlations (bounded, unitless).
KINDS: dict[str, Callable[[float], str]] = {
    "count": _count,
    "share": _share,
    "level": lambda v: f"{v:.2f}",
    "index": lambda v: f"{v:.2f}",
    "p": _p,
    "ratio": lambda v: f"{v:.2f}",
    "difference": _signed,
    "number": lambda v: f"{v:.2f}" if abs(v) < 1000 else f"{v:,.0f}",
    "percent": lambda v: f"{v:.0f}%",
}

# Column names the views and analyses use, in words.
COLUMN_LABELS = {
    "microsystem_id": "Unit", "name": "Unit", "setting": "Setting", "organisation": "Organisation",
    "characteristic_id": "Characteristic", "characteristic": "Characteristic", "item_id": "Item", "item": "Item",
    "code_id": "Code", "role": "Role", "scope": "Scope",
    "respondents": "Staff who answered", "n_respondents": "Staff who answered", "n_scored": "Staff with a score",
    "n_rated": "Rated", "n_cant_rate": "Can't rate", "n_no_answer": "Left blank", "n": "People",
    "n_agreement": "People (agreement)", "n_items": "Items", "n_groups": "Units", "n_complete": "Complete answers",
    "interviews": "Interviews", "segments": "Coded segments", "coded_segments": "Coded segments",
    "mean": "Mean", "median": "Median", "sd": "SD", "ci_low": "95% CI from", "ci_high": "to",
    "analysis_mean": "Staff average", "cant_rate_share": "Can't rate", "agreement": "Staff views",
    "agreement_index": "Agreement index", "index": "Index", "rwg": "rwg", "rwg_star": "r*wg(j)", "awg": "awg",
    "ad_mean": "AD(M)", "ad_median": "AD(Md)", "icc1": "ICC(1)", "icc2": "ICC(2)", "design_effect": "Design effect",
    "peer_median": "Other units' median", "peers": "Other units", "share_of_peers_below": "Other units below",
    "odds_ratio": "Odds ratio", "p": "p", "p_holm": "p (Holm)", "p_bh": "p (BH)", "estimate": "Estimate",
    "difference": "Difference", "alpha": "Cronbach's alpha", "ordinal_alpha": "Ordinal alpha",
    "omega_total": "Omega total", "units": "Units",
}

# Column name patterns -> kind, for columns a caller does not name.
_KIND_PATTERNS = (
    (re.compile(r"^(n|n_.*|.*_count|count|respondents|interviews|segments|units|peers|people)$"), "count"),
    (re.compile(r"(^share_|_share$|^share$|_below$)"), "share"),
    (re.compile(r"^(p|p_.*|.*_p)$"), "p"),
    (re.compile(r"(odds_ratio|_or$)"), "ratio"),
    (re.compile(r"(difference)"), "difference"),
    (re.compile(r"^(mean|median|analysis_mean|ci_low|ci_high|peer_.*|.*_mean|score)$"), "level"),
    (re.compile(r"(rwg|awg|icc|alpha|omega|kappa|agreement_index|^ad_|correlation|^r$|rho|estimate)"), "index"),
)


def label_of(column: str) -> str:
    """A column's header in words."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    words = str(column).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def kind_of(column: str, values: pd.Series) -> str:
    """The kind of number a column holds (:data:`KINDS`), or ``"text"``."""
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        return "text"
    for pattern, kind in _KIND_PATTERNS:
        if pattern.search(str(column)):
            return kind
    whole = values.dropna()
    if len(whole) and np.all(np.mod(whole.to_numpy(dtype="float64"), 1) == 0):
        return "count"
    return "number"


def format_value(value, kind: str) -> str:
    """``value`` written as its kind says; missing values as a dash.

    Examples
    --------
    >>> [format_value(v, k) for v, k in [(1234.0, "count"), (0.4567, "share"), (0.0004, "p"), (2.256, "level"),
    ...                                  (float("nan"), "level"), (-0.3, "difference"), (True, "text")]]
    ['1,234', '46%', '< 0.001', '2.26', '–', '−0.30', 'yes']
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if kind == "text" or not isinstance(value, (int, float, np.integer, np.floating)):
        text = str(value)
        return DASH if text in ("nan", "<NA>", "None", "NaN", "") else text
    return KINDS[kind](float(value))


def interval(estimates, lows, highs, *, kind: str = "index") -> list[str]:
    """Each estimate with its interval in one cell, ``"0.68 (0.58 to 0.78)"``, every number
    written as its ``kind`` says; a dash where the estimate is missing. One column instead of
    three keeps wide tables of coefficients within the page; "to" rather than a dash between
    the ends, since an end may be negative. The spaces inside the brackets do not break, so
    a narrow text column wraps a cell only between the estimate and its interval.

    Examples
    --------
    >>> [v.replace("\u00a0", " ") for v in interval([0.6789, float("nan")], [0.58, 1], [0.7777, 2])]
    ['0.68 (0.58 to 0.78)', '–']
    >>> interval([-0.1], [-0.32], [0.12], kind="difference")[0].replace("\u00a0", " ")
    '−0.10 (−0.32 to +0.12)'
    """
    written = []
    for estimate, low, high in zip(estimates, lows, highs):
        value = format_value(estimate, kind)
        if value != DASH and format_value(low, kind) != DASH and format_value(high, kind) != DASH:
            value = f"{value} ({format_value(low, kind)}\u00a0to\u00a0{format_value(high, kind)})"
        written.append(value)
    return written


_STYLE = """
<style>
.wb-table {border-collapse: collapse; margin: 0.4em 0 0.2em; font-size: 0.92em; max-width: 100%;}
.wb-table caption {caption-side: top; text-align: left; font-weight: 600; padding: 0 0 0.3em;}
.wb-table th {border-bottom: 1px solid #444; padding: 3px 8px; text-align: left; vertical-align: bottom;}
/* text left, whatever the notebook page's own table style says (it right-aligns every cell) */
.wb-table th.text, .wb-table td.text {text-align: left;}
.wb-table td {border-bottom: 1px solid #ddd; padding: 3px 8px; vertical-align: top;}
.wb-table td.num, .wb-table th.num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
/* a number's header may wrap (a long label must not widen the table); the numbers never do */
.wb-table th.num {white-space: normal; min-width: 4em;}
.wb-notes {font-size: 0.85em; color: #444; margin: 0 0 1.2em;}
.wb-figcaption {font-weight: 600; margin: 0.8em 0 0.3em;}
.jp-RenderedImage img {max-width: 100%; height: auto;}
.wb-wide {overflow-x: auto; max-width: 100%;}
@media print {.wb-wide {overflow: visible;} .wb-table {font-size: 9pt; page-break-inside: auto;}
  .wb-table tr {page-break-inside: avoid;} .jp-RenderedImage {page-break-inside: avoid;}}
</style>
"""


def table_html(frame: pd.DataFrame, *, caption: str, kinds: dict[str, str] | None = None,
               labels: dict[str, str] | None = None, notes: list[str] | tuple[str, ...] = (),
               dash_note: str | None = None) -> str:
    """``frame`` as one complete, escaped HTML table with its caption and notes.

    The frame's index is shown only when it is named (it then becomes the first column);
    ``kinds`` and ``labels`` override the column kinds and headers; ``dash_note`` says what a
    dash means and is added to the notes when a dash appears.

    Examples
    --------
    >>> t = pd.DataFrame({"characteristic_id": ["m"], "mean": [2.256], "n_scored": [12.0], "p": [0.0002]})
    >>> page = table_html(t, caption="Table 1. Means", labels={"characteristic_id": "Characteristic"})
    >>> "<td class=\\"num\\">2.26</td>" in page and ">12<" in page and "&lt; 0.001" in page and "nan" not in page
    True
    """
    shown = frame.reset_index() if any(n is not None for n in frame.index.names) else frame.reset_index(drop=True)
    kinds = {c: (kinds or {}).get(c) or kind_of(c, shown[c]) for c in shown.columns}
    labels = {c: (labels or {}).get(c) or label_of(c) for c in shown.columns}
    header = "".join(f'<th class="{"num" if kinds[c] != "text" else "text"}">{html.escape(labels[c])}</th>'
                     for c in shown.columns)
    rows, dashes = [], False
    # Column by column (vectorised per column), then joined row by row: tables stay small enough.
    cells = {}
    for column in shown.columns:
        written = [format_value(v, kinds[column]) for v in shown[column].tolist()]
        dashes |= DASH in written
        css = "num" if kinds[column] != "text" else "text"
        cells[column] = [f'<td class="{css}">{html.escape(w)}</td>' for w in written]
    for position in range(len(shown)):
        rows.append("<tr>" + "".join(cells[c][position] for c in shown.columns) + "</tr>")
    all_notes = list(notes)
    if dashes and dash_note:
        all_notes.append(f"{DASH} {dash_note}")
    footer = "".join(f"<div>{html.escape(n)}</div>" for n in all_notes)
    return (f'<div class="wb-wide"><table class="wb-table"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            + (f'<div class="wb-notes">{footer}</div>' if footer else ""))


class _Html:
    """What a notebook cell displays: HTML for the report, plain text for nbval."""

    def __init__(self, body: str, text: str):
        self.body, self.text = body, text

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:
        return self.text


class Report:
    """Numbers and shows a report's tables and figures (one per report).

    ``dash_note``: what a dash means in this report's tables (by default: not shown because too
    few people answered, or not applicable).
    """

    def __init__(self, study=None, *, dash_note: str | None = None):
        k = study.disclosure.min_cell_size if study is not None else None
        self.dash_note = dash_note or (f"not shown: fewer than {k} people answered, or not applicable" if k else
                                       "not shown, or not applicable")
        self.tables = 0
        self.figures = 0
        self._styled = False

    def _style(self) -> str:
        # The stylesheet once per report, with its first table or figure.
        if self._styled:
            return ""
        self._styled = True
        return _STYLE

    def table(self, frame: pd.DataFrame, *, caption: str, kinds: dict[str, str] | None = None,
              labels: dict[str, str] | None = None, notes: list[str] | tuple[str, ...] = ()) -> _Html:
        """The next numbered table."""
        self.tables += 1
        title = f"Table {self.tables}. {caption}"
        body = table_html(frame, caption=title, kinds=kinds, labels=labels, notes=notes, dash_note=self.dash_note)
        return _Html(self._style() + body, f"{title} ({len(frame)} rows)")

    def figure(self, figure, *, caption: str) -> _Figure:
        """The next numbered figure: its caption (shown at once) above the matplotlib figure
        drawn to PNG (and closed). The PNG travels as an image output of its own, which the
        notebook tests do not compare byte for byte, while captions and tables they do."""
        import matplotlib.pyplot as plt
        from IPython.display import HTML, display

        self.figures += 1
        title = f"Figure {self.figures}. {caption}"
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        display(HTML(f'{self._style()}<div class="wb-figcaption">{html.escape(title)}</div>'))
        return _Figure(buffer.getvalue(), title)


class _Figure:
    def __init__(self, png: bytes, title: str):
        self.png, self.title = png, title

    def _repr_mimebundle_(self, **kwargs):
        return {"image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": self.title}
