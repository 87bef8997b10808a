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
