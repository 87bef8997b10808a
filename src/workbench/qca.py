"""Qualitative comparative analysis (QCA): which configurations of conditions go with an outcome.

No mature Python library does QCA, so it is built here, following the conventions of the
R package ``QCA`` (Dusa) so that results can be checked against its published output:

* **Calibration** into crisp sets (a case is in the set from a threshold up) and fuzzy
  sets by the direct method: a logistic through three anchors (full non-membership,
  crossover, full membership). ``idm`` is the membership given at the full anchors:
  0.95 as in R ``QCA`` (log-odds ±2.94), or 0.9526 for Ragin's ±3. Memberships under
  0.0001 become 0 and over 0.9999 become 1.
* **Truth table**: each case sits in the row where its membership exceeds 0.5; for each
  row, n (cases with membership > 0.5), raw consistency Σmin(X,Y)/ΣX and PRI
  (Σmin(X,Y) − Σmin(X,Y,1−Y)) / (ΣX − Σmin(X,Y,1−Y)). OUT is "?" (a remainder) below the
  frequency threshold, 1 at or above the consistency cut-off (and the PRI cut-off), "C"
  (contradiction) between an optional lower cut-off and the upper one, otherwise 0.
* **Minimisation**: Quine–McCluskey prime implicants of the positive rows; the complex
  (conservative) solution uses no remainders, the parsimonious one lets remainders be
  used as "don't care". A prime-implicant chart gives every cover of the positive rows
  with the fewest terms (there can be several models).
* **Parameters of fit** per term and per model: consistency (inclS), PRI, raw coverage
  (covS) and unique coverage (covU: coverage not shared with the model's other terms).
* **Necessity**: consistency (inclN), coverage (covN) and relevance (RoN) of each
  condition and its negation.

Conditions are columns of a case x condition frame of memberships in [0, 1] (crisp sets
hold 0 and 1). Terms are written like ``DEV*~URB*STB``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "TOLERANCE", "Solution", "Solutions", "Term", "anchors_from", "calibrate_crisp", "calibrate_fuzzy",
    "cases_at_crossover", "fit", "membership", "minimize", "necessity", "solutions", "truth_table",
]

TOLERANCE = 1e-9  # consistency exactly at a cut-off counts as reaching it


# --------------------------------------------------------------------------------------
# Calibration


def calibrate_crisp(values: pd.Series, thresholds: float | list[float]) -> pd.Series:
    """Crisp (or multi-value) sets: the number of thresholds at or below each value."""
    cuts = np.sort(np.atleast_1d(np.asarray(thresholds, dtype=float)))
    data = values.astype(float)
    if len(cuts) and (cuts.min() < data.min() or cuts.max() > data.max()):
        raise ValueError(
            f"thresholds {cuts.tolist()} must lie within the range of the values ({data.min()} to {data.max()})"
        )
    result = np.searchsorted(cuts, data.to_numpy(), side="right").astype(float)
    return pd.Series(np.where(data.isna(), np.nan, result), index=values.index, name=values.name)


def calibrate_fuzzy(
    values: pd.Series, *, exclusion: float, crossover: float, inclusion: float, idm: float = 0.95
) -> pd.Series:
    """Fuzzy sets by the direct method: a logistic through the three anchors.

    ``exclusion`` > ``inclusion`` calibrates a decreasing set (higher values, less membership),
    e.g. "low staff turnover".

    Examples
    --------
    >>> turnover = pd.Series([2.0, 8.0, 12.0, 20.0], index=["A", "B", "C", "D"])
    >>> calibrate_fuzzy(turnover, exclusion=2, crossover=8, inclusion=20).round(3).tolist()
    [0.05, 0.5, 0.727, 0.95]
    >>> calibrate_fuzzy(turnover, exclusion=20, crossover=8, inclusion=2).round(3).tolist()
    [0.95, 0.5, 0.273, 0.05]
    """
    if not 0.5 < idm < 1:
        raise ValueError(f"idm must lie between 0.5 and 1, got {idm}")
    low, high = sorted((exclusion, inclusion))
    if not low < crossover < high:
        raise ValueError(
            f"the crossover ({crossover}) must lie strictly between the other two anchors ({exclusion}, {inclusion})"
        )
    x = values.astype(float).to_numpy()
    scale = np.log(idm / (1 - idm))
    distance = np.where(x < crossover, crossover - low, high - crossover)
    membership = 1 / (1 + np.exp(-(x - crossover) * scale / distance))
    if exclusion > inclusion:
        membership = 1 - membership
    membership = np.where(membership < 1e-4, 0.0, np.where(membership > 0.9999, 1.0, membership))
    return pd.Series(membership, index=values.index, name=values.name)


# --------------------------------------------------------------------------------------
# Terms


@dataclass(frozen=True)
class Term:
    """A conjunction of conditions, each present (1) or absent (0): ``{"DEV": 1, "IND": 0}``."""

    literals: tuple[tuple[str, int], ...]

    def label(self) -> str:
        return "*".join(c if v else f"~{c}" for c, v in self.literals) or "1"

    def membership(self, data: pd.DataFrame) -> pd.Series:
        columns = [data[c] if v else 1 - data[c] for c, v in self.literals]
        return pd.concat(columns, axis=1).min(axis=1) if columns else pd.Series(1.0, index=data.index)

    def covers(self, row: tuple[int, ...], conditions: list[str]) -> bool:
        position = {c: i for i, c in enumerate(conditions)}
        return all(row[position[c]] == v for c, v in self.literals)


# --------------------------------------------------------------------------------------
# Truth table


def _row_number(bits: tuple[int, ...]) -> int:
    return 1 + sum(b << (len(bits) - 1 - i) for i, b in enumerate(bits))


def truth_table(
    data: pd.DataFrame,
    outcome: pd.Series,
    *,
    incl_cut: float | tuple[float, float] = 1.0,
    n_cut: int = 1,
    pri_cut: float = 0.0,
    complete: bool = False,
) -> pd.DataFrame:
    """The truth table of ``data`` (cases x conditions, memberships) for ``outcome``.

    Parameters
    ----------
    incl_cut : the consistency a row needs for OUT = 1; a pair (upper, lower) makes rows
        between the two contradictions ("C").
    n_cut : rows with fewer cases are remainders ("?"), whatever their consistency.
    pri_cut : rows with a lower PRI are 0 even when consistent.
    complete : also list the rows no case falls in.

    Returns
    -------
    DataFrame indexed by row number (first condition most significant, as R ``QCA``):
    one 0/1 column per condition, ``OUT``, ``n``, ``incl``, ``PRI``, ``cases``.
    """
    conditions = list(data.columns)
    _check_memberships(data, outcome)
    upper, lower = (incl_cut, incl_cut) if np.isscalar(incl_cut) else incl_cut
    if not 0 <= lower <= upper <= 1:
        raise ValueError(
            f"incl_cut must be a consistency (0 to 1), or an (upper, lower) pair with lower <= upper, got {incl_cut!r}"
        )
    y = outcome.astype(float)
    crisp_rows = (data > 0.5).astype(int)
    rows = []
    seen = sorted(set(map(tuple, crisp_rows.to_numpy())))
    every = list(itertools.product((0, 1), repeat=len(conditions))) if complete else seen
    for bits in every:
        term = Term(tuple(zip(conditions, bits)))
        x = term.membership(data)
        in_row = x > 0.5
        n = int(in_row.sum())
        row = {**dict(zip(conditions, bits)), "n": n, "cases": ",".join(map(str, data.index[in_row]))}
        if bits in seen:
            both = np.minimum(x, y)
            neither = np.minimum(both, 1 - y)
            row["incl"] = both.sum() / x.sum() if x.sum() else np.nan
            row["PRI"] = (both.sum() - neither.sum()) / (x.sum() - neither.sum()) if x.sum() - neither.sum() else np.nan
        else:
            row["incl"] = row["PRI"] = np.nan
        if n < n_cut:
            row["OUT"] = "?"
        elif row["incl"] >= upper - TOLERANCE and row["PRI"] >= pri_cut - TOLERANCE:
            row["OUT"] = "1"
        elif lower < upper and row["incl"] >= lower - TOLERANCE:
            row["OUT"] = "C"
        else:
            row["OUT"] = "0"
        rows.append((_row_number(bits), row))
    table = pd.DataFrame([r for _, r in rows], index=pd.Index([k for k, _ in rows], name="row"))
    return table[[*conditions, "OUT", "n", "incl", "PRI", "cases"]].sort_index()


def _check_memberships(data: pd.DataFrame, outcome: pd.Series) -> None:
    if data.empty or not data.columns.size:
        raise ValueError("data must hold at least one case and one condition")
    values = pd.concat([data, outcome.rename("__outcome__")], axis=1)
    if values.isna().any().any():
        missing = values.columns[values.isna().any()].tolist()
        raise ValueError(f"memberships must not be missing; missing in {missing} (calibrate, or leave those cases out)")
    if ((values < 0) | (values > 1)).any().any():
        raise ValueError("memberships must lie between 0 and 1; calibrate raw values first")


# --------------------------------------------------------------------------------------
# Minimisation


@dataclass
class Solution:
    """Models that each cover every positive row, with the prime-implicant chart behind them."""

    conditions: list[str]
    outcome: str
    models: list[list[Term]]
    prime_implicants: list[Term]
    chart: pd.DataFrame  # prime implicant x positive row: True where the PI covers the row
    simplifying_assumptions: list[int] = field(default_factory=list)  # remainders the models use

    def expressions(self) -> list[str]:
        return [" + ".join(t.label() for t in model) for model in self.models]


def minimize(
    table: pd.DataFrame,
    *,
    conditions: list[str],
    include_remainders: bool = False,
    include_contradictions: bool = False,
    outcome: str = "outcome",
) -> Solution:
    """Minimise the positive rows of a truth table (Quine–McCluskey with a prime-implicant chart).

    ``include_remainders=False`` gives the complex (conservative) solution; ``True`` the
    parsimonious one, using any remainder that simplifies. Every model with the fewest
    terms that covers all positive rows is returned.
    """
    as_rows = lambda mask: {tuple(int(b) for b in row) for row in table.loc[mask, conditions].to_numpy()}  # noqa: E731
    positive_out = table["OUT"].eq("1") | (table["OUT"].eq("C") if include_contradictions else False)
    positives = sorted(as_rows(positive_out), key=_row_number)
    if not positives:
        raise ValueError(
            "no truth-table row is positive (OUT = 1): nothing to minimise; "
            "lower the consistency cut-off or check the outcome"
        )
    # Remainders: rows no case decides, whether unobserved or below the frequency threshold.
    decided = as_rows(table["OUT"].ne("?"))
    dont_care = set(itertools.product((0, 1), repeat=len(conditions))) - decided if include_remainders else set()
    implicants = _prime_implicants(set(positives) | dont_care, len(conditions))
    implicants = [p for p in implicants if any(_matches(p, m) for m in positives)]
    terms = [Term(tuple((c, v) for c, v in zip(conditions, p) if v is not None)) for p in implicants]
    chart = pd.DataFrame(
        {_row_number(m): [_matches(p, m) for p in implicants] for m in sorted(positives, key=_row_number)},
        index=[t.label() for t in terms],
    )
    models = _minimal_covers(chart)
    chosen = [[terms[i] for i in model] for model in models]
    used = sorted({_row_number(r) for model in models for i in model for r in dont_care if _matches(implicants[i], r)})
    order = {c: k for k, c in enumerate(conditions)}
    in_order = lambda term: (len(term.literals), [(order[c], 1 - v) for c, v in term.literals])  # noqa: E731 - shorter terms first
    ordered = [sorted(model, key=in_order) for model in chosen]
    return Solution(conditions, outcome, sorted(ordered, key=lambda m: [in_order(t) for t in m]), terms, chart, used)


def anchors_from(values: pd.Series, *, better: str) -> list[float]:
    """Calibration anchors (full non-membership, crossover, full membership in the set of good
    outcomes) from the data: the 10th, 50th and 90th percentiles, ordered by which way is
    better. A stand-in until the researcher sets anchors on substantive grounds.

    Examples
    --------
    >>> anchors_from(pd.Series(range(11), dtype=float), better="lower")
    [9.0, 5.0, 1.0]
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    low, middle, high = (float(values.quantile(q)) for q in (0.1, 0.5, 0.9))
    return [low, middle, high] if better == "higher" else [high, middle, low]


@dataclass
class Solutions:
    """The complex and parsimonious solutions of one truth table, or why there are none."""

    complex: Solution | None
    parsimonious: Solution | None
    reason: str = ""  # why there is no solution, in words

    def describe(self) -> str:
        """The solutions as Markdown, or the sentence saying why none was found."""
        if self.complex is None:
            return f"_No solution: {self.reason}._"
        show = lambda solution: "; ".join(f"`{e}`" for e in solution.expressions())  # noqa: E731
        return f"**Complex solution:** {show(self.complex)}\n\n**Parsimonious solution:** {show(self.parsimonious)}"

    def membership(self, data: pd.DataFrame, *, which: str = "complex") -> pd.Series:
        """Each case's membership in the first model of the ``which`` solution (:func:`membership`;
        empty when there is none): the X of the XY plot against the outcome."""
        solution = {"complex": self.complex, "parsimonious": self.parsimonious}[which]
        if solution is None:
            return pd.Series(dtype="float64", name=which)
        return membership(solution.models[0], data).rename(" + ".join(t.label() for t in solution.models[0]))

    def fit(self, data: pd.DataFrame, outcome: pd.Series, *, which: str = "complex") -> pd.DataFrame:
        """:func:`fit` of the first model of the ``which`` solution (empty when there is none)."""
        solution = {"complex": self.complex, "parsimonious": self.parsimonious}[which]
        if solution is None:
            return pd.DataFrame()
        return fit(solution.models[0], data, outcome)


def solutions(table: pd.DataFrame, *, conditions: list[str], outcome: str = "outcome") -> Solutions:
    """Both solutions of a truth table (:func:`minimize` without and with remainders), or, when no
    row is positive (too few cases, or none consistent enough), none and the reason."""
    if not table["OUT"].eq("1").any():
        cases = int(table["n"].sum()) if "n" in table and len(table) else 0
        return Solutions(None, None, f"no configuration of the {cases} cases is consistently linked to the outcome "
                                     f"(no truth-table row has OUT = 1); lower the consistency cut-off or the "
                                     f"frequency threshold, or check the outcome's calibration")
    return Solutions(minimize(table, conditions=conditions, outcome=outcome),
                     minimize(table, conditions=conditions, include_remainders=True, outcome=outcome))


def _matches(implicant: tuple, row: tuple) -> bool:
    return all(v is None or v == b for v, b in zip(implicant, row))


def _prime_implicants(minterms: set[tuple], width: int) -> list[tuple]:
    """Quine–McCluskey: combine terms differing in one position until nothing combines."""
    current = {tuple(m) for m in minterms}
    primes: set[tuple] = set()
    while current:
        combined, used = set(), set()
        groups: dict[tuple, list[tuple]] = {}
        for term in current:
            groups.setdefault(tuple(i for i, v in enumerate(term) if v is None), []).append(term)
        for same_gaps in groups.values():
            for a, b in itertools.combinations(same_gaps, 2):
                differences = [i for i in range(width) if a[i] != b[i]]
                if len(differences) == 1:
                    merged = list(a)
                    merged[differences[0]] = None
                    combined.add(tuple(merged))
                    used.update((a, b))
        primes |= current - used
        current = combined
    return sorted(primes, key=lambda p: (sum(v is not None for v in p), [(-1 if v is None else v) for v in p]))


def _minimal_covers(chart: pd.DataFrame) -> list[list[int]]:
    """All covers of the chart's columns with the fewest prime implicants (essential ones first)."""
    matrix = chart.to_numpy()
    essential = sorted({int(np.flatnonzero(column)[0]) for column in matrix.T if column.sum() == 1})
    remaining = ~matrix[essential].any(axis=0) if essential else np.ones(matrix.shape[1], dtype=bool)
    if not remaining.any():
        return [essential]
    candidates = [i for i in range(len(matrix)) if i not in essential and matrix[i, remaining].any()]
    for size in range(1, len(candidates) + 1):
        covers = [
            list(c)
            for c in itertools.combinations(candidates, size)
            if matrix[list(c)][:, remaining].any(axis=0).all()
        ]
        if covers:
            return [sorted(essential + c) for c in covers]
    raise ValueError("the positive rows cannot be covered")  # pragma: no cover - prime implicants always cover


# --------------------------------------------------------------------------------------
# Parameters of fit and necessity


def membership(model: list[Term], data: pd.DataFrame) -> pd.Series:
    """Each case's membership in a model (a union of terms): the largest of its memberships in
    the terms, each the smallest of its memberships in the term's conditions (fuzzy OR of ANDs).

    Examples
    --------
    >>> data = pd.DataFrame({"A": [0.9, 0.2], "B": [0.6, 0.7]}, index=["x", "y"])
    >>> model = [Term((("A", 1), ("B", 1))), Term((("A", 0),))]
    >>> membership(model, data).tolist()
    [0.6, 0.8]
    """
    if not model:
        return pd.Series(0.0, index=data.index)
    return pd.concat([t.membership(data) for t in model], axis=1).max(axis=1)


def fit(model: list[Term], data: pd.DataFrame, outcome: pd.Series) -> pd.DataFrame:
    """Consistency, PRI, raw and unique coverage of each term and of the model (their union).

    Returns
    -------
    DataFrame indexed by term (the model last, as ``"model"``): ``inclS``, ``PRI``,
    ``covS``, ``covU`` (NaN for the model and for a one-term model), ``cases`` (with
    membership > 0.5 in the term).
    """
    y = outcome.astype(float)
    members = pd.DataFrame({t.label(): t.membership(data) for t in model})
    rows = {}
    for term in members.columns:
        x = members[term]
        others = members.drop(columns=term).max(axis=1) if members.shape[1] > 1 else None
        unique = (
            (np.minimum(x, y).sum() - np.minimum(np.minimum(x, y), others).sum()) / y.sum()
            if others is not None
            else np.nan
        )
        rows[term] = {**_sufficiency(x, y), "covU": unique, "cases": ",".join(map(str, data.index[x > 0.5]))}
    union = membership(model, data)
    rows["model"] = {**_sufficiency(union, y), "covU": np.nan, "cases": ",".join(map(str, data.index[union > 0.5]))}
    return pd.DataFrame(rows).T.astype({"inclS": float, "PRI": float, "covS": float, "covU": float})


def _sufficiency(x: pd.Series, y: pd.Series) -> dict:
    both = np.minimum(x, y).sum()
    neither = np.minimum(np.minimum(x, y), 1 - y).sum()
    return {"inclS": both / x.sum() if x.sum() else np.nan,
            "PRI": (both - neither) / (x.sum() - neither) if x.sum() - neither else np.nan,
            "covS": both / y.sum() if y.sum() else np.nan}


def necessity(data: pd.DataFrame, outcome: pd.Series, *, negations: bool = True) -> pd.DataFrame:
    """Is each condition (and its absence) necessary for the outcome?

    Returns
    -------
    DataFrame indexed by condition (``~X`` for absence): ``inclN`` (consistency of
    necessity, Σmin(X,Y)/ΣY), ``RoN`` (relevance, Σ(1−X)/Σ(1−min(X,Y))) and ``covN``
    (coverage, Σmin(X,Y)/ΣX).
    """
    _check_memberships(data, outcome)
    y = outcome.astype(float)
    rows = {}
    for condition in data.columns:
        sides = [(condition, data[condition])] + ([(f"~{condition}", 1 - data[condition])] if negations else [])
        for label, x in sides:
            both = np.minimum(x, y)
            rows[label] = {"inclN": both.sum() / y.sum() if y.sum() else np.nan,
                           "RoN": (1 - x).sum() / (1 - both).sum() if (1 - both).sum() else np.nan,
                           "covN": both.sum() / x.sum() if x.sum() else np.nan}
    return pd.DataFrame(rows).T


def cases_at_crossover(data: pd.DataFrame) -> list:
    """Cases with a membership of exactly 0.5 in some condition: they belong to no
    configuration (neither in nor out), so they drop out of the truth table. Move the
    crossover anchor off a value the raw data take."""
    return list(data.index[(data == 0.5).any(axis=1)])
