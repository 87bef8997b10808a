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

SEGMENT_COLUMNS = ["segment_id", "interview_id", "microsystem_id", "interviewee_role", "framework_id", "code_id", "excerpt"]


def segment_codes(codings: pd.DataFrame, *, rule: Literal["all", "any"] = "all", coders: list[str] | None = None) -> pd.DataFrame:
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
    """
    if rule not in ("all", "any"):
        raise ValueError(f"rule must be 'all' or 'any', got {rule!r}")
    if coders is not None:
        unknown = sorted(set(coders) - set(codings["coder"]))
        if unknown:
            raise ValueError(f"coders {unknown} coded nothing in this study; coders present: {sorted(codings['coder'].unique())}")
        codings = codings[codings["coder"].isin(coders)]
    coders_of_segment = codings.groupby("segment_id")["coder"].nunique().rename("n_coders_of_segment")
    applied = codings.groupby(SEGMENT_COLUMNS, sort=False)["coder"].nunique().rename("n_coders_applied").reset_index()
    applied = applied.join(coders_of_segment, on="segment_id")
    keep = applied["n_coders_applied"].eq(applied["n_coders_of_segment"]) if rule == "all" else applied["n_coders_applied"].ge(1)
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


def representative_excerpts(segments: pd.DataFrame, *, code_id: str, microsystem_id: str | None = None, n: int = 3) -> pd.DataFrame:
    """The excerpts that show a code most plainly: the verbatim evidence a paper quotes.

    Ranking, in order: every coder of the segment applied the code; the code is the
    segment's only code (a pure example); the excerpt's length is near the typical length
    for the code (neither a fragment nor a ramble); then segment id, so the choice is stable.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``interview_id``, ``interviewee_role``, ``excerpt``,
    ``other_codes`` (other codes on the segment), ``coders_agreed``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    codes_on = segments.groupby("segment_id")["code_id"].agg(lambda c: sorted(set(c)))
    chosen = segments[segments["code_id"].eq(code_id)]
    if microsystem_id is not None:
        chosen = chosen[chosen["microsystem_id"].eq(microsystem_id)]
    if chosen.empty:
        return pd.DataFrame(columns=["microsystem_id", "interview_id", "interviewee_role", "excerpt", "other_codes", "coders_agreed"])
    lengths = chosen["excerpt"].str.len()
    ranked = chosen.assign(
        coders_agreed=chosen["n_coders_applied"].eq(chosen["n_coders_of_segment"]),
        other_codes=chosen["segment_id"].map(lambda s: ", ".join(c for c in codes_on[s] if c != code_id)),
        distance=(lengths - lengths.median()).abs(),
    )
    ranked = ranked.sort_values(["coders_agreed", "other_codes", "distance", "segment_id"], ascending=[False, True, True, True],
                                key=lambda c: c.str.len() if c.name == "other_codes" else c)
    ranked = ranked.drop_duplicates("excerpt").head(n)
    return ranked[["microsystem_id", "interview_id", "interviewee_role", "excerpt", "other_codes", "coders_agreed"]].reset_index(drop=True)


def through_crosswalk(segments: pd.DataFrame, crosswalk) -> pd.DataFrame:
    """Segment codes from the crosswalk's source framework re-expressed in its target framework.

    A source code linked to two target elements yields a row for each; codes of other
    frameworks are left out. ``framework_id`` becomes the target framework.
    """
    links = crosswalk.table()
    moved = segments[segments["framework_id"].eq(crosswalk.source)].merge(links, left_on="code_id", right_on="source_id", how="inner")
    moved = moved.assign(code_id=moved["target_id"], framework_id=crosswalk.target).drop(columns=["source_id", "target_id"])
    return moved.drop_duplicates(["segment_id", "code_id"]).reset_index(drop=True)


def crosstab_codes(segments: pd.DataFrame, *, codes: list[str], by: str) -> pd.DataFrame:
    """Coded segments per value of ``by`` (e.g. ``microsystem_id`` or ``interviewee_role``) and code."""
    chosen = segments[segments["code_id"].isin(codes)]
    table = pd.crosstab(chosen[by], chosen["code_id"]).reindex(columns=codes, fill_value=0)
    table.columns.name = "code_id"
    return table
