"""Coded interviews across microsystems: which codes hold, case x code matrices, excerpts.

Two or more coders code the same segments. Before counting, codings are reduced to one
row per segment and code by a stated rule (``"all"``: every coder of the segment applied
the code, i.e. agreed coding; ``"any"``: at least one did), so a matrix never counts a
segment twice because two people coded it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "EXCERPT_COLUMNS", "SEGMENT_COLUMNS", "case_code_matrix", "cooccurrence", "crosstab_codes", "excerpts_for",
    "representative_excerpts", "representative_excerpts_by_microsystem", "segment_codes", "through_crosswalk",
]

SEGMENT_COLUMNS = [
    "segment_id", "interview_id", "microsystem_id", "interviewee_role", "framework_id", "code_id", "excerpt",
]


def segment_codes(
    codings: pd.DataFrame, *, rule: Literal["all", "any"] = "all", coders: list[str] | None = None
) -> pd.DataFrame:
    """One row per segment x code that holds under ``rule``.

    Parameters
    ----------
    codings : the study's codings (:class:`workbench.schemas.Codings`).
    rule : ``"all"`` keeps a code when every coder who coded the segment applied it;
        ``"any"`` when at least one did.
    coders : restrict to these coders (default: all of them).

    Returns
    -------
    DataFrame with ``segment_id``, ``interview_id``, ``microsystem_id``, ``interviewee_role``,
    ``framework_id``, ``code_id``, ``excerpt``, ``n_coders_applied``, ``n_coders_of_segment``.

    Examples
    --------
    >>> codings = pd.DataFrame({"segment_id": "s1", "interview_id": "i1", "microsystem_id": "A",
    ...     "interviewee_role": "nurse", "framework_id": "f", "excerpt": "...",
    ...     "coder": ["ana", "ana", "ben"], "code_id": ["x", "y", "x"]})
    >>> segment_codes(codings)[["code_id", "n_coders_applied", "n_coders_of_segment"]]
      code_id  n_coders_applied  n_coders_of_segment
    0       x                 2                    2
    >>> segment_codes(codings, rule="any")["code_id"].tolist()
    ['x', 'y']
    """
    if rule not in ("all", "any"):
        raise ValueError(f"rule must be 'all' or 'any', got {rule!r}")
    if coders is not None:
        unknown = sorted(set(coders) - set(codings["coder"]))
        if unknown:
            raise ValueError(
                f"coders {unknown} coded nothing in this study; coders present: {sorted(codings['coder'].unique())}"
            )
        codings = codings[codings["coder"].isin(coders)]
    coders_of_segment = codings.groupby("segment_id")["coder"].nunique().rename("n_coders_of_segment")
    applied = codings.groupby(SEGMENT_COLUMNS, sort=False)["coder"].nunique().rename("n_coders_applied").reset_index()
    applied = applied.join(coders_of_segment, on="segment_id")
    keep = (
        applied["n_coders_applied"].eq(applied["n_coders_of_segment"])
        if rule == "all"
        else applied["n_coders_applied"].ge(1)
    )
    return applied[keep].reset_index(drop=True)


def case_code_matrix(
    segments: pd.DataFrame,
    *,
    codes: list[str],
    microsystems: list[str],
    value: Literal["count", "presence", "density"] = "count",
    interviews: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Microsystems as rows, ``codes`` as columns.

    ``value``: ``"count"`` of coded segments, ``"presence"`` (True when any segment holds
    the code) or ``"density"`` (segments per 1,000 transcript words, which needs
    ``interviews`` for word counts). Every listed microsystem and code appears, with zero
    where nothing was coded, so absence is visible.
    """
    counts = (
        segments.groupby(["microsystem_id", "code_id"]).size().unstack(fill_value=0)
        .reindex(index=microsystems, columns=codes, fill_value=0)
    )
    counts.index.name, counts.columns.name = "microsystem_id", "code_id"
    if value == "count":
        return counts
    if value == "presence":
        return counts.gt(0)
    if value == "density":
        if interviews is None:
            raise ValueError("value='density' needs interviews= (for transcript word counts)")
        words = interviews.groupby("microsystem_id")["word_count"].sum().reindex(microsystems)
        return counts.div(words, axis=0).mul(1000)
    raise ValueError(f"value must be 'count', 'presence' or 'density', got {value!r}")


def excerpts_for(
    segments: pd.DataFrame,
    *,
    code_id: str,
    microsystem_id: str | None = None,
    n: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Up to ``n`` distinct excerpts coded ``code_id`` (optionally in one microsystem).

    The draw is seeded, so a report shows the same quotes each time it is regenerated.
    Only the interview and the interviewee's role travel with an excerpt, never a person.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``interview_id``, ``interviewee_role``, ``excerpt``.
    """
    chosen = segments[segments["code_id"].eq(code_id)]
    if microsystem_id is not None:
        chosen = chosen[chosen["microsystem_id"].eq(microsystem_id)]
    chosen = chosen.drop_duplicates("excerpt")
    if len(chosen) > n:
        picks = np.random.default_rng(seed).choice(len(chosen), size=n, replace=False)
        chosen = chosen.iloc[np.sort(picks)]
    return chosen[["microsystem_id", "interview_id", "interviewee_role", "excerpt"]].reset_index(drop=True)


def cooccurrence(segments: pd.DataFrame, *, rows: list[str], columns: list[str] | None = None,
                 unit: Literal["segment", "interview"] = "segment") -> pd.DataFrame:
    """How often two codes hold in the same segment (or the same interview).

    Returns a ``rows`` x ``columns`` table of counts of units holding both codes; with
    ``columns`` omitted it is square and its diagonal counts units holding the code.
    """
    key = {"segment": "segment_id", "interview": "interview_id"}.get(unit)
    if key is None:
        raise ValueError(f"unit must be 'segment' or 'interview', got {unit!r}")
    columns = rows if columns is None else columns
    presence = pd.crosstab(segments[key], segments["code_id"]).gt(0).astype(int)
    presence = presence.reindex(columns=sorted(set(rows) | set(columns)), fill_value=0)
    table = presence[rows].T.dot(presence[columns])
    table.index.name, table.columns.name = "code_id", "code_id"
    return table


EXCERPT_COLUMNS = ["microsystem_id", "interview_id", "interviewee_role", "excerpt", "other_codes", "coders_agreed"]


def representative_excerpts(
    segments: pd.DataFrame, *, code_id: str, microsystem_id: str | None = None, n: int = 3
) -> pd.DataFrame:
    """The excerpts that show a code most plainly: the verbatim evidence a paper quotes.

    Ranking, in order: every coder of the segment applied the code; the code is the
    segment's only code (a pure example); the excerpt's length is near the typical length
    for the code (neither a fragment nor a ramble); then segment id, so the choice is stable.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``interview_id``, ``interviewee_role``, ``excerpt``,
    ``other_codes`` (other codes on the segment), ``coders_agreed``.
    """
    chosen = segments["code_id"].eq(code_id)
    if microsystem_id is not None:
        chosen &= segments["microsystem_id"].eq(microsystem_id)
    best = _best_excerpts(segments, chosen, by=["code_id"], n=n)
    return best[EXCERPT_COLUMNS].reset_index(drop=True)


def representative_excerpts_by_microsystem(segments: pd.DataFrame, *, codes: list[str], n: int = 1) -> pd.DataFrame:
    """:func:`representative_excerpts` for every microsystem x code at once (the quotes of a
    meta-matrix); the same ranking, with the typical length taken within each microsystem.

    Returns
    -------
    DataFrame: ``code_id`` and the columns of :func:`representative_excerpts`; up to ``n``
    rows per microsystem x code, none where a microsystem has no segment with the code.
    """
    best = _best_excerpts(segments, segments["code_id"].isin(codes), by=["microsystem_id", "code_id"], n=n)
    return best[["code_id", *EXCERPT_COLUMNS]].reset_index(drop=True)


def _best_excerpts(segments: pd.DataFrame, chosen: pd.Series, *, by: list[str], n: int) -> pd.DataFrame:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rows = segments[chosen]
    pairs = segments.loc[segments["segment_id"].isin(rows["segment_id"]), ["segment_id", "code_id"]].drop_duplicates()
    others = pairs.merge(pairs, on="segment_id", suffixes=("", "_other"))
    others = others[others["code_id"].ne(others["code_id_other"])].sort_values("code_id_other")
    other_codes = others.groupby(["segment_id", "code_id"], sort=False)["code_id_other"].agg(", ".join)
    lengths = rows["excerpt"].str.len()
    ranked = rows.assign(
        coders_agreed=rows["n_coders_applied"].eq(rows["n_coders_of_segment"]),
        other_codes=pd.MultiIndex.from_frame(rows[["segment_id", "code_id"]]).map(other_codes.to_dict()).fillna("")
        if not other_codes.empty else "",
        distance=(lengths - lengths.groupby([rows[key] for key in by]).transform("median")).abs(),
    )
    ranked = ranked.assign(purity=ranked["other_codes"].str.len(), disagreed=~ranked["coders_agreed"])
    ranked = ranked.sort_values([*by, "disagreed", "purity", "distance", "segment_id"])
    ranked = ranked.drop_duplicates([*by, "excerpt"])
    return ranked.groupby(by, sort=False).head(n)


def through_crosswalk(segments: pd.DataFrame, crosswalk) -> pd.DataFrame:
    """Segment codes from the crosswalk's source framework re-expressed in its target framework.

    A source code linked to two target elements yields a row for each; codes of other
    frameworks are left out. ``framework_id`` becomes the target framework.
    """
    links = crosswalk.table()
    moved = segments[segments["framework_id"].eq(crosswalk.source)].merge(
        links, left_on="code_id", right_on="source_id", how="inner"
    )
    moved = moved.assign(code_id=moved["target_id"], framework_id=crosswalk.target).drop(
        columns=["source_id", "target_id"]
    )
    return moved.drop_duplicates(["segment_id", "code_id"]).reset_index(drop=True)


def crosstab_codes(segments: pd.DataFrame, *, codes: list[str], by: str) -> pd.DataFrame:
    """Coded segments per value of ``by`` (e.g. ``microsystem_id`` or ``interviewee_role``) and code."""
    chosen = segments[segments["code_id"].isin(codes)]
    table = pd.crosstab(chosen[by], chosen["code_id"]).reindex(columns=codes, fill_value=0)
    table.columns.name = "code_id"
    return table
