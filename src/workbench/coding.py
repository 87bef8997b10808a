"""Coded interviews across microsystems: which codes hold, case x code matrices, excerpts.

Two or more coders code the same segments. Before counting, codings are reduced to one
row per segment and code by a stated rule (``"all"``: every coder of the segment applied
the code, i.e. agreed coding; ``"any"``: at least one did), so a matrix never counts a
segment twice because two people coded it.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "EXCERPT_COLUMNS", "SEGMENT_COLUMNS", "case_code_matrix", "code_interview_matrix", "cooccurrence",
    "crosstab_codes", "excerpts_for", "quotes_in_context", "representative_excerpts",
    "representative_excerpts_by_microsystem", "segment_codes", "through_crosswalk",
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


def code_interview_matrix(segments: pd.DataFrame, *, codes: list[str],
                          interviews: pd.DataFrame | None = None) -> pd.DataFrame:
    """Coded segments per interview (rows) and code (columns), for retrieval by the coding team.

    Every interview of ``interviews`` appears (with zeros where nothing was coded, so an
    interview nobody coded is visible), else every interview ``segments`` holds. Columns:
    ``microsystem_id``, one count per code of ``codes``, and ``segments``: the interview's
    coded segments holding any of ``codes`` (a segment with two codes counts once there).
    Carries interview ids: for the restricted folder, never a shared report.

    Examples
    --------
    >>> segments = pd.DataFrame({"segment_id": ["s1", "s1", "s2"], "interview_id": "i1", "microsystem_id": "A",
    ...                          "code_id": ["x", "y", "x"]})
    >>> code_interview_matrix(segments, codes=["x", "y"]).to_dict("records")
    [{'interview_id': 'i1', 'microsystem_id': 'A', 'x': 2, 'y': 1, 'segments': 2}]
    """
    chosen = segments[segments["code_id"].isin(codes)]
    units = (interviews if interviews is not None else segments)[["interview_id", "microsystem_id"]]
    units = units.drop_duplicates("interview_id").set_index("interview_id")
    counts = (pd.crosstab(chosen["interview_id"], chosen["code_id"])
              .reindex(index=units.index, columns=codes, fill_value=0).fillna(0).astype("int64"))
    total = chosen.groupby("interview_id")["segment_id"].nunique().reindex(units.index, fill_value=0)
    table = units[["microsystem_id"]].join(counts).assign(segments=total.astype("int64"))
    table.columns.name = None
    return table.reset_index()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(str(text).strip()) if part]


def quotes_in_context(quotes: pd.DataFrame, codings: pd.DataFrame, *, transcripts: dict[str, str] | None = None,
                      sentences: int = 2) -> pd.DataFrame:
    """Each quote with the text around it in its interview: up to ``sentences`` sentences before
    and after, so a reader can judge what the speaker was answering and where they went next.

    ``quotes`` has ``interview_id`` and ``excerpt`` (e.g. :func:`representative_excerpts`);
    each is found among ``codings`` by interview and excerpt. The context comes from the
    interview's transcript in ``transcripts`` (interview id -> text) when one is given and the
    quote's positions cut the excerpt out of it; otherwise it is rebuilt from the interview's
    neighbouring coded segments, in transcript order, with ``[N characters not coded]`` where
    text nobody coded lies between them (a study's processed data hold the coded excerpts and
    their positions, not the transcripts). Transcripts given are used as they are: pass
    scrubbed ones.

    Returns
    -------
    ``quotes``' columns, then ``segment_id``, ``before``, ``excerpt`` (whole), ``after`` and
    ``context_from`` (``"transcript"``, ``"neighbouring coded segments"`` or, for a quote not
    found in ``codings``, ``"not found"``). Carries interview ids: for the restricted folder.

    Examples
    --------
    >>> codings = pd.DataFrame({"segment_id": ["s1", "s2", "s3"], "interview_id": "i1",
    ...     "excerpt": ["We meet daily. It helps.", "The board is ours.", "Nobody reads it."],
    ...     "start": [0, 30, 48], "end": [24, 48, 64]})
    >>> row = quotes_in_context(pd.DataFrame({"interview_id": ["i1"], "excerpt": ["The board is ours."]}),
    ...                         codings, sentences=1).iloc[0]
    >>> row["before"], row["after"], row["context_from"]
    ('It helps. [6 characters not coded]', 'Nobody reads it.', 'neighbouring coded segments')
    """
    if sentences < 0:
        raise ValueError(f"sentences must be 0 or more, got {sentences}")
    transcripts = transcripts or {}
    has_positions = {"start", "end"} <= set(codings.columns)
    columns = ["segment_id", "interview_id", "excerpt", *(["start", "end"] if has_positions else [])]
    pieces = codings[columns].drop_duplicates("segment_id").reset_index(drop=True)
    pieces["order"] = range(len(pieces))  # the codings' own order where positions are missing
    by_interview = {interview: part.sort_values(["start", "order"] if has_positions else ["order"])
                    .reset_index(drop=True) for interview, part in pieces.groupby("interview_id", sort=False)}
    rows = []
    for quote in quotes.to_dict("records"):
        part = by_interview.get(quote["interview_id"])
        found = part[part["excerpt"].eq(quote["excerpt"])] if part is not None else pd.DataFrame()
        if found.empty:
            rows.append({**quote, "segment_id": "", "before": "", "after": "", "context_from": "not found"})
            continue
        where = found.index[0]
        segment = part.loc[where]
        start, end = (segment.get("start"), segment.get("end")) if has_positions else (None, None)
        text = transcripts.get(quote["interview_id"])
        known = start is not None and not pd.isna(start) and not pd.isna(end)
        if text is not None and known and text[int(start):int(end)] == segment["excerpt"]:
            before = " ".join(_sentences(text[:int(start)])[-sentences:]) if sentences else ""
            after = " ".join(_sentences(text[int(end):])[:sentences]) if sentences else ""
            source = "transcript"
        else:
            before = _neighbours(part, where, step=-1, sentences=sentences)
            after = _neighbours(part, where, step=1, sentences=sentences)
            source = "neighbouring coded segments"
        rows.append({**quote, "segment_id": segment["segment_id"], "before": before, "after": after,
                     "context_from": source})
    ordered = [c for c in quotes.columns if c != "excerpt"]
    return pd.DataFrame(rows, columns=[*ordered, "segment_id", "before", "excerpt", "after", "context_from"])


def _gap(first: pd.Series, second: pd.Series) -> str:
    """What lies between two coded segments of one transcript, ``first`` before ``second``."""
    ends = [first.get("end"), second.get("start")]
    if any(v is None or pd.isna(v) for v in ends):
        return "[text not coded]"
    characters = int(ends[1]) - int(ends[0])
    # Two characters or fewer between segments is the space (or line break) after a sentence,
    # not left-out talk: the two read on as one text.
    if characters <= 2:
        return ""
    return f"[{characters:,} characters not coded]"


def _neighbours(part: pd.DataFrame, where: int, *, step: int, sentences: int) -> str:
    """Up to ``sentences`` sentences of the coded segments before (``step`` -1) or after (+1)
    row ``where`` of one interview's segments in transcript order, with the gaps between them.
    Segments overlapping the quote are skipped: their text is the quote's own."""
    quote = part.loc[where]
    taken, count, previous = [], 0, quote
    position = where + step
    while 0 <= position < len(part) and count < sentences:
        neighbour = part.loc[position]
        position += step
        if "start" in part and not any(pd.isna(v) for v in (neighbour["start"], neighbour["end"], quote["start"],
                                                              quote["end"])) \
                and neighbour["start"] < quote["end"] and neighbour["end"] > quote["start"]:
            continue
        said = _sentences(neighbour["excerpt"])
        said = said[-(sentences - count):] if step < 0 else said[:sentences - count]
        gap = _gap(neighbour, previous) if step < 0 else _gap(previous, neighbour)
        taken.append((" ".join(said), gap))
        count += len(said)
        previous = neighbour
    if step < 0:
        return " ".join(p for said, gap in reversed(taken) for p in (said, gap) if p)
    return " ".join(p for said, gap in taken for p in (gap, said) if p)

