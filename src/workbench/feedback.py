"""The feedback report's words: what a unit manager reads first, and which quotes they see.

A feedback report is a handout for one unit's staff meeting. This module turns the unit's
rows of the study views into what the report says in words, so that the notebook only lays
them out and the wording is tested once:

* :func:`verdicts`: each characteristic's verdict in words ("shared", "views differ",
  "too few answers", "not shown");
* :func:`summary_sentences`: the two or three sentences that open the report;
* :func:`peers_in_setting`: the other units of the same setting as the comparison, with the
  same leave-one-out distribution as the study's ``peer_positions`` view;
* :func:`position_table`: the table under the chart, labels and verdict words instead of ids;
* :func:`items_withheld_note`: which items the item chart cannot show, and why;
* :func:`chosen_quotes`: interview excerpts per characteristic, never one twice;
* :func:`change_summary` and :func:`change_words`: this time against last time (survey waves);
* :func:`outcome_sentences`: the unit's monthly measures and where it sits among the units.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from workbench import views
from workbench.vocabulary import NOT_SHARED, SHARED, TOO_FEW

__all__ = [
    "COMPARE_WITH", "MIN_SETTING_PEERS", "NOT_SHOWN", "PEER_FIGURES", "VERDICTS", "change_summary", "change_words",
    "chosen_quotes", "items_withheld_note", "join_words", "outcome_sentences", "peers_in_setting", "position_table",
    "summary_sentences", "verdicts",
]

# The agreement policy's verdicts, as a unit's staff read them.
VERDICTS = {SHARED: "shared", NOT_SHARED: "views differ", TOO_FEW: "too few answers"}
# A mean withheld although enough people gave it: shown, it would let a smaller unit's
# hidden mean be worked out from the study's figures (complementary suppression).
NOT_SHOWN = "not shown"
COMPARE_WITH = ("all", "setting")
# Fewer other units than this in a setting give no distribution worth drawing (a "middle
# half" of two units is each of them).
MIN_SETTING_PEERS = 3
PEER_FIGURES = ("peer_min", "peer_q1", "peer_median", "peer_q3", "peer_max", "share_of_peers_below")

_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _number(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else f"{n:,}"


def join_words(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``.

    >>> join_words(["Measurement"]), join_words(["a", "b", "c"])
    ('Measurement', 'a, b and c')
    """
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def verdicts(position: pd.DataFrame, *, min_cell_size: int) -> pd.Series:
    """Each row's verdict in words: the agreement verdict (:data:`VERDICTS`) where a mean is
    shown; "too few answers" where the mean is blank because fewer than ``min_cell_size``
    people have a score, and :data:`NOT_SHOWN` where it is blank for another reason.

    ``position``: a unit's rows of the ``unit_profiles`` view (``mean``, ``n_scored``, ``agreement``).

    Examples
    --------
    >>> p = pd.DataFrame({"mean": [2.0, 1.5, None, None, 2.2], "n_scored": [9, 9, 3, 8, 9],
    ...                   "agreement": ["shared", "not shared", "too few", "shared", "too few"]})
    >>> verdicts(p, min_cell_size=5).tolist()
    ['shared', 'views differ', 'too few answers', 'not shown', 'too few answers']
    """
    words = position["agreement"].map(VERDICTS).fillna(VERDICTS[TOO_FEW])
    blank = position["mean"].isna()
    few = pd.to_numeric(position["n_scored"], errors="coerce").fillna(0) < min_cell_size
    words = words.mask(blank & few, VERDICTS[TOO_FEW]).mask(blank & ~few, NOT_SHOWN)
    return words.rename("verdict")


def _standing(share_below: float) -> str | None:
    """Where a mean stands among the other units, by the share of them below it: the same
    quarters the chart draws (the middle half is the bar)."""
    if pd.isna(share_below):
        return None
    if share_below >= 0.75:
        return "top"
    if share_below <= 0.25:
        return "bottom"
    return "middle"


def summary_sentences(position: pd.DataFrame, *, labels: dict[str, str], respondents: int,
                      interviews: int | None = None, peers: str = "the other units",
                      min_cell_size: int = 5) -> list[str]:
    """The two or three plain sentences that open a unit's feedback report.

    1. How many staff answered (and how many interviews were coded).
    2. The characteristics the staff share a view on, and where each stands against
       ``peers`` (top quarter, middle half, bottom quarter of their means).
    3. Where views differ, and where too few answered for a figure (left out when neither).

    ``position``: the unit's rows of ``unit_profiles`` merged with its peer positions
    (``characteristic_id``, ``mean``, ``n_scored``, ``agreement``, ``share_of_peers_below``),
    in the framework's order; ``labels``: characteristic id -> label.

    Examples
    --------
    >>> p = pd.DataFrame({"characteristic_id": ["m", "p", "c", "i"], "mean": [2.6, 1.2, 1.9, None],
    ...     "n_scored": [20, 20, 20, 3], "agreement": ["shared", "shared", "not shared", "too few"],
    ...     "share_of_peers_below": [0.9, 0.1, 0.5, None]})
    >>> labels = {"m": "Measurement", "p": "Purpose", "c": "Community", "i": "Improvement"}
    >>> for sentence in summary_sentences(p, labels=labels, respondents=21, interviews=1):
    ...     print(sentence)  # doctest: +NORMALIZE_WHITESPACE
    21 staff answered the self-assessment, and 1 interview was coded.
    Staff share a view on two of the four characteristics; against the other units, Measurement is in their
    top quarter and Purpose in their bottom quarter.
    Views differ on Community: its average is not a view the staff share, and is worth talking through;
    too few staff answered on Improvement to show a figure.
    """
    rows = position.reset_index(drop=True)
    words = verdicts(rows, min_cell_size=min_cell_size)
    name = [labels.get(c, c) for c in rows["characteristic_id"]]
    staff = "1 member of staff" if respondents == 1 else f"{respondents:,} staff"
    first = f"{staff} answered the self-assessment" if respondents else "No staff answered the self-assessment"
    if interviews is not None:
        first += (", and 1 interview was coded" if interviews == 1 else
                  f", and {interviews:,} interviews were coded" if interviews else "; no interview was coded")
    sentences = [first + "."]
    if not respondents:
        return sentences

    shared = [i for i in range(len(rows)) if words[i] == VERDICTS[SHARED]]
    if shared:
        places = {"top": [], "middle": [], "bottom": [], None: []}
        for i in shared:
            places[_standing(rows.at[i, "share_of_peers_below"])].append(name[i])
        phrases = {"top": "in their top quarter", "middle": "in their middle half", "bottom": "in their bottom quarter",
                   None: "cannot be compared with them (too few of them have a figure)"}
        clauses = []
        for place in ("top", "middle", "bottom", None):
            if places[place]:
                # After the first clause the verb is understood: "A is in the top quarter and B in the bottom".
                verb = "" if clauses or place is None else "is " if len(places[place]) == 1 else "are "
                clauses.append(f"{join_words(places[place])} {verb}{phrases[place]}")
        count = "all" if len(shared) == len(rows) else _number(len(shared))
        of = f"{count} {_number(len(rows))} characteristics" if count == "all" else (
            f"{count} of the {_number(len(rows))} characteristics")
        sentences.append(f"Staff share a view on {of}; against {peers}, {join_words(clauses)}.")
    else:
        sentences.append("Staff do not share a view on any characteristic: each average in this report is the middle "
                         "of answers that differ.")

    differ = [name[i] for i in range(len(rows)) if words[i] == VERDICTS[NOT_SHARED]]
    few = [name[i] for i in range(len(rows)) if words[i] == VERDICTS[TOO_FEW] and pd.isna(rows.at[i, "mean"])]
    unjudged = [name[i] for i in range(len(rows)) if words[i] == VERDICTS[TOO_FEW] and pd.notna(rows.at[i, "mean"])]
    withheld = [name[i] for i in range(len(rows)) if words[i] == NOT_SHOWN]
    parts = []
    if differ and shared:
        its = "its average is" if len(differ) == 1 else "their averages are"
        parts.append(f"views differ on {join_words(differ)}: {its} not a view the staff share, and "
                     f"{'is' if len(differ) == 1 else 'are'} worth talking through")
    if few:
        parts.append(f"too few staff answered on {join_words(few)} to show a figure")
    if unjudged:
        parts.append(f"too few staff rated every item of {join_words(unjudged)} to tell whether their views are shared")
    if withheld:
        parts.append(f"no figure is shown for {join_words(withheld)}, so that another unit's hidden figure cannot be "
                     "worked out from the study's totals")
    if parts:
        sentence = "; ".join(parts)
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return sentences


def peers_in_setting(profiles: pd.DataFrame, overview: pd.DataFrame, microsystem_id: str, *,
                     min_peers: int = MIN_SETTING_PEERS) -> pd.DataFrame:
    """One unit's position among the other units of its own setting only.

    The distribution is :func:`workbench.views.peer_positions` run on the same-setting units'
    rows of the whole ``unit_profiles`` view (``profiles``), so it leaves the unit out and
    counts only reported means exactly as the study-wide view does. Where fewer than
    ``min_peers`` other units of the setting have a reported mean, the peer figures are
    blank: no distribution is drawn from one or two units.

    Returns
    -------
    The unit's rows, with the ``peer_positions`` columns.

    Examples
    --------
    >>> overview = pd.DataFrame({"microsystem_id": list("ABCDE"), "setting": ["x"] * 4 + ["y"]})
    >>> profiles = pd.DataFrame({"microsystem_id": list("ABCDE"), "characteristic_id": "m",
    ...                          "mean": [1.0, 2.0, 3.0, 2.5, 1.0], "reported": True})
    >>> own = peers_in_setting(profiles, overview, "A")
    >>> int(own.at[0, "peers"]), float(own.at[0, "peer_median"]), float(own.at[0, "share_of_peers_below"])
    (3, 2.5, 0.0)
    >>> peers_in_setting(profiles, overview, "E")["peer_median"].isna().all()
    np.True_
    """
    setting = overview.loc[overview["microsystem_id"].eq(microsystem_id), "setting"]
    if setting.empty:
        raise ValueError(f"microsystem_id {microsystem_id!r} is not in the study's unit overview")
    same = overview.loc[overview["setting"].eq(setting.iloc[0]), "microsystem_id"]
    positions = views.peer_positions(profiles[profiles["microsystem_id"].isin(same)])
    own = positions[positions["microsystem_id"].eq(microsystem_id)].reset_index(drop=True)
    too_few = own["peers"].to_numpy() < min_peers
    own[list(PEER_FIGURES)] = own[list(PEER_FIGURES)].astype("float64").mask(
        np.repeat(too_few[:, None], len(PEER_FIGURES), axis=1))
    return own


def position_table(position: pd.DataFrame, *, labels: dict[str, str], min_cell_size: int) -> pd.DataFrame:
    """The table beside the chart: one row per characteristic, labelled, its verdict in words.

    Columns: ``characteristic``, ``n_scored``, ``mean``, ``ci`` (the 95% interval as one text,
    "1.46–2.27", a dash where there is none: one column keeps the table within a printed page),
    ``staff_views``, ``peer_median``, ``share_of_peers_below`` (for
    :meth:`workbench.presentation.Report.table`).

    Examples
    --------
    >>> p = pd.DataFrame({"characteristic_id": ["m", "c"], "n_scored": [9, 3], "mean": [2.0, None],
    ...     "ci_low": [1.456, None], "ci_high": [2.5, None], "agreement": ["shared", "too few"],
    ...     "peer_median": [2.1, 2.0], "share_of_peers_below": [0.4, None]})
    >>> table = position_table(p, labels={"m": "Measurement"}, min_cell_size=5)
    >>> table["characteristic"].tolist(), table["ci"].str.replace("\u2060", "").tolist(), table["staff_views"].tolist()
    (['Measurement', 'c'], ['1.46–2.50', '–'], ['shared', 'too few answers'])
    """
    from workbench.presentation import DASH, format_value

    # Word joiners keep "1.46–2.27" on one line in a narrow column (a line may break after a dash).
    ci = [DASH if pd.isna(low) or pd.isna(high) else
          f"{format_value(low, 'level')}\u2060–\u2060{format_value(high, 'level')}"
          for low, high in zip(position["ci_low"], position["ci_high"])]
    table = position.assign(
        characteristic=position["characteristic_id"].map(lambda c: labels.get(c, c)),
        ci=ci,
        staff_views=verdicts(position, min_cell_size=min_cell_size).to_numpy(),
    )
    return table[["characteristic", "n_scored", "mean", "ci", "staff_views", "peer_median",
                  "share_of_peers_below"]].reset_index(drop=True)


def items_withheld_note(items: pd.DataFrame, *, labels: dict[str, str], min_cell_size: int,
                        share_prefix: str = "share_level_") -> str:
    """A note naming the items whose answers the item chart cannot break down, and why ("" if none).

    ``items``: a unit's rows of the ``unit_items`` view (``item_id``, ``n_rated``, level shares).

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": ["a", "b", "c"], "n_rated": [9, 3, 6],
    ...                       "share_level_1": [0.5, None, None]})
    >>> print(items_withheld_note(items, labels={"b": "Community"}, min_cell_size=5))  # doctest: +NORMALIZE_WHITESPACE
    Not broken down: Community (rated by fewer than 5 staff; "can't rate" is not a rating);
    c (its figures would let another unit's hidden figures be worked out from the study's totals).
    """
    shares = [c for c in items.columns if c.startswith(share_prefix)]
    if not shares:
        return ""
    blank = items[shares].isna().all(axis=1)
    few = pd.to_numeric(items["n_rated"], errors="coerce").fillna(0) < min_cell_size
    parts = []
    too_few = [labels.get(i, i) for i in items.loc[blank & few, "item_id"]]
    if too_few:
        parts.append(f"{join_words(too_few)} (rated by fewer than {min_cell_size} staff; "
                     "\"can't rate\" is not a rating)")
    protected = [labels.get(i, i) for i in items.loc[blank & ~few, "item_id"]]
    if protected:
        parts.append(f"{join_words(protected)} ({'its' if len(protected) == 1 else 'their'} figures would let another "
                     "unit's hidden figures be worked out from the study's totals)")
    return f"Not broken down: {'; '.join(parts)}." if parts else ""


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LONG_SENTENCE = 40  # characters: shorter ones ("That is fair.") may well repeat in anyone's speech


def _sentences(text: str) -> set[str]:
    """The longer sentences of an excerpt, normalised: two excerpts sharing one read as a repeat."""
    return {part for part in _SENTENCE_END.split(_normalised(text)) if len(part) >= _LONG_SENTENCE}


def chosen_quotes(quotes: pd.DataFrame, characteristics: list[str], *, per_characteristic: int = 2,
                  characters: int | None = None) -> pd.DataFrame:
    """Up to ``per_characteristic`` excerpts for each of ``characteristics`` (in that order),
    best ranked first, never the same excerpt twice in one report: an excerpt coded with
    two characteristics is shown under the first only (compared without case or spacing), and
    an excerpt repeating a longer sentence of one already chosen is passed over (people repeat
    themselves, and a handout that quotes the same words twice reads as padding). ``characters``:
    the room a printed page leaves for quotes; while the chosen ones are longer in all, the last
    characteristic's lowest-ranked quote is dropped (each characteristic keeps its best one).

    ``quotes``: a unit's rows of the ``unit_quotes`` view.

    Examples
    --------
    >>> q = pd.DataFrame({"characteristic_id": ["a", "a", "b", "b"], "rank": [1, 2, 1, 2],
    ...                   "excerpt": ["We meet daily.", "No data.", "we meet  daily.", "Budgets."]})
    >>> chosen_quotes(q, ["a", "b"]).values.tolist()
    [['a', 'We meet daily.'], ['a', 'No data.'], ['b', 'Budgets.']]
    >>> said = "We refer people to the food bank, but rarely hear what happened next."
    >>> q = pd.DataFrame({"characteristic_id": ["c", "c"], "rank": [1, 2],
    ...                   "excerpt": [f"It is informal. {said}", f"{said} We had a link once."]})
    >>> len(chosen_quotes(q, ["c"]))
    1
    >>> q = pd.DataFrame({"characteristic_id": ["a", "a", "b", "b"], "rank": [1, 2, 1, 2],
    ...                   "excerpt": ["x" * 50, "y" * 50, "z" * 50, "w" * 50]})
    >>> chosen_quotes(q, ["a", "b"], characters=160)["excerpt"].str[0].tolist()
    ['x', 'y', 'z']
    """
    ordered = quotes.sort_values("rank", kind="stable") if "rank" in quotes else quotes
    seen: set[str] = set()
    said: set[str] = set()
    rows = []
    for characteristic in dict.fromkeys(characteristics):
        taken = 0
        for excerpt in ordered.loc[ordered["characteristic_id"].eq(characteristic), "excerpt"]:
            key = _normalised(excerpt)
            if taken == per_characteristic or key in seen or _sentences(excerpt) & said:
                continue
            seen.add(key)
            said |= _sentences(excerpt)
            rows.append((characteristic, excerpt))
            taken += 1
    if characters is not None:
        while sum(len(excerpt) for _, excerpt in rows) > characters:
            firsts = {characteristic: i for i, (characteristic, _) in reversed(list(enumerate(rows)))}
            extra = [i for i in range(len(rows)) if i not in firsts.values()]
            if not extra:
                break
            del rows[extra[-1]]
    return pd.DataFrame(rows, columns=["characteristic_id", "excerpt"])


def change_words(changes: pd.DataFrame) -> pd.Series:
    """Per characteristic (indexed by id): the change since the last wave as a short table cell,
    "+0.70 up" or "−0.30 down" where it is beyond chance variation, the bare change where it is
    within it, a dash where either wave's mean is not shown (a narrow column keeps the printed
    handout on its two pages; the caption says what the words mean).

    Examples
    --------
    >>> c = pd.DataFrame({"characteristic_id": ["m", "p", "q"], "change": [0.7, -0.04, np.nan],
    ...     "moved": ["up", "within noise", None], "shown": [True, True, False]})
    >>> change_words(c).tolist()
    ['+0.70\u00a0up', '−0.04', '–']
    """
    from workbench.presentation import DASH, format_value
    from workbench.waves import DOWN, UP

    words = [DASH if not shown or pd.isna(change) else
             f"{format_value(change, 'difference')}\u00a0{moved}" if moved in (UP, DOWN) else
             format_value(change, "difference")
             for change, moved, shown in zip(changes["change"], changes["moved"], changes["shown"])]
    return pd.Series(words, index=pd.Index(changes["characteristic_id"], name="characteristic_id"), dtype="str")


def change_summary(changes: pd.DataFrame, *, labels: dict[str, str], before: str) -> str | None:
    """The sentence "In brief" gives on change since the last survey wave (``before``: that
    wave's name), or None when the study has one wave.

    Examples
    --------
    >>> c = pd.DataFrame({"characteristic_id": ["m", "p", "q", "r"], "moved": ["up", "within noise", "down", None],
    ...     "shown": [True, True, True, False]})
    >>> print(change_summary(c, labels={"m": "Measurement", "q": "Purpose"}, before="Spring 2025"))
    ... # doctest: +NORMALIZE_WHITESPACE
    Since Spring 2025, the staff average has risen beyond chance variation on Measurement and fallen on Purpose;
    one other moved within chance variation, and one cannot be compared (too few answers in a wave).
    """
    from workbench.waves import DOWN, UP

    if changes.empty:
        return None
    name = {c: labels.get(c, c) for c in changes["characteristic_id"]}
    shown = changes[changes["shown"].astype(bool)]
    up = [name[c] for c in shown.loc[shown["moved"].eq(UP), "characteristic_id"]]
    down = [name[c] for c in shown.loc[shown["moved"].eq(DOWN), "characteristic_id"]]
    rest = len(shown) - len(up) - len(down)
    hidden = len(changes) - len(shown)
    if up or down:
        moved = [f"risen beyond chance variation on {join_words(up)}" if up else "",
                 ("fallen" if up else "fallen beyond chance variation") + f" on {join_words(down)}" if down else ""]
        sentence = f"Since {before}, the staff average has {' and '.join(m for m in moved if m)}"
        if rest:
            other = "one other" if rest == 1 else f"the other {_number(rest)}"
            sentence += f"; {other} moved within chance variation"
    else:
        sentence = (f"Since {before}, no characteristic's staff average has moved beyond chance variation"
                    if rest else f"Since {before}: no characteristic can be compared")
    if hidden and (up or down or rest):
        sentence += (f", and {_number(hidden)} cannot be compared (too few answers in a wave)" if (up or down)
                     else f" ({_number(hidden)} cannot be compared: too few answers in a wave)")
    return sentence + "."


def outcome_sentences(signals: pd.DataFrame, funnels: pd.DataFrame, specs: list, *, window: int = 12) -> list[str]:
    """One short line per monthly outcome of a unit, for its printed handout: what its charts
    show (``signals``: the unit's rows of ``outcome_signals``) and where it sits among the
    study's units over the latest ``window`` months (``funnels``: its rows of
    ``outcome_funnels``; proportions and rates only). The charts' full sentences are in the
    ``words`` column of ``outcome_signals``.

    Examples
    --------
    >>> from types import SimpleNamespace as Spec
    >>> spec = Spec(id="falls", label="Falls", unit="per 1,000 patient-days", better="lower", kind="rate")
    >>> signals = pd.DataFrame({"outcome_id": ["falls"], "improved": [True], "worsened": [False],
    ...     "longest_run": [10], "run_side": ["below"], "run_start": [pd.Timestamp("2025-05-01")],
    ...     "run_centre_label": ["baseline median"], "crossings_signal": [False], "outside_months": [0]})
    >>> funnels = pd.DataFrame({"outcome_id": ["falls"], "y": [2.14], "target": [3.0], "beyond": [None]})
    >>> print(outcome_sentences(signals, funnels, [spec])[0])  # doctest: +NORMALIZE_WHITESPACE
    Falls: 10 months in a row below the median before the change, from May 2025: an improvement. Last 12 months
    2.14 per 1,000 patient-days (all units 3.00): within chance for a unit of its size.
    """
    from workbench.presentation import format_value
    from workbench.spc import month_label

    lines = []
    for spec in specs:
        row = signals[signals["outcome_id"].eq(spec.id)]
        if row.empty:
            lines.append(f"{spec.label}: no month reported.")
            continue
        row = row.iloc[0]
        median = "the median before the change" if row["run_centre_label"] == "baseline median" else "the median"
        said = []
        if row["improved"] or row["worsened"]:
            said.append(f"{row['longest_run']} months in a row {row['run_side']} {median}, from "
                        f"{month_label(row['run_start'])}: {'an improvement' if row['improved'] else 'a decline'}")
        if row["crossings_signal"]:
            said.append("few crossings of the median: shifting or trending")
        if row["outside_months"]:
            count = int(row["outside_months"])
            said.append(f"{count} month{'' if count == 1 else 's'} outside the control limits")
        text = f"{spec.label}: " + ("; ".join(said) if said else "no signal, the ups and downs of a stable process")
        text += "."
        position = funnels[funnels["outcome_id"].eq(spec.id)]
        if not position.empty and pd.notna(position["y"].iloc[0]):
            place = position.iloc[0]
            value, target = format_value(place["y"], "number"), format_value(place["target"], "number")
            if not isinstance(place["beyond"], str) or not place["beyond"]:
                where = "within chance for a unit of its size"
            else:
                side, limit = place["beyond"].split(" ", 1)
                good = (side == "above") == (spec.better == "higher")
                where = f"{'better' if good else 'worse'} than chance explains ({side} the {limit} funnel limit)"
            unit = f" {spec.unit}" if spec.unit else ""
            text += f" Last {window} months {value}{unit} (all units {target}): {where}."
        lines.append(text)
    return lines
