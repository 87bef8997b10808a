"""Do the coders agree? Inter-coder reliability of coded interviews, per code and overall.

The unit of analysis is a **segment** coded by two or more coders (a coder "coded" a
segment when they applied at least one code to it). For each code, each coder either
applied it to the segment or did not: a yes/no decision. From those decisions:

* percent agreement (every coder made the same decision);
* Cohen's kappa with its asymptotic 95% interval for two coders (statsmodels);
* Fleiss' kappa for two or more coders (statsmodels);
* Krippendorff's alpha, nominal (the ``krippendorff`` package).

"All codes" pools every segment x code decision. Agreement per character of transcript
needs positions: it is given with and without the text nobody coded, because uncoded
text, agreed on by default, inflates agreement.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ALL_CODES", "CHARACTERS_AT_ONCE", "categorical_agreement", "character_agreement", "decisions", "disagreements",
    "reliability", "reliability_status", "write_for_consensus",
]

ALL_CODES = "(all codes)"


def reliability_status(codings: pd.DataFrame) -> str | None:
    """A plain sentence when agreement cannot be computed, else None."""
    if codings.empty:
        return "No segment is coded, so there is nothing to compare."
    coders = codings["coder"].nunique()
    if coders < 2:
        return (
            f"Every segment was coded by one person ({codings['coder'].iloc[0]}), "
            "so agreement between coders cannot be computed."
        )
    shared = codings.groupby("segment_id")["coder"].nunique().ge(2).sum()
    if shared == 0:
        return "No segment was coded by two or more coders, so agreement between coders cannot be computed."
    return None


def decisions(
    codings: pd.DataFrame, *, codes: list[str] | None = None, coders: list[str] | None = None
) -> pd.DataFrame:
    """Each coder's yes/no decision for each code on each segment that two or more of them coded.

    Returns
    -------
    DataFrame indexed by (``segment_id``, ``code_id``) with one boolean column per coder.
    """
    if coders is not None:
        unknown = sorted(set(coders) - set(codings["coder"]))
        if unknown:
            raise ValueError(f"coders {unknown} coded nothing; coders present: {sorted(codings['coder'].unique())}")
        codings = codings[codings["coder"].isin(coders)]
    coders_of = codings.groupby("segment_id")["coder"].nunique()
    shared = codings[codings["segment_id"].isin(coders_of.index[coders_of >= 2])]
    codes = list(pd.unique(codings["code_id"])) if codes is None else list(codes)
    coder_list = sorted(shared["coder"].unique()) if coders is None else list(coders)
    applied = shared.assign(applied=True).pivot_table(
        index=["segment_id", "code_id"], columns="coder", values="applied", aggfunc="any"
    )
    segments = pd.Index(shared["segment_id"].unique(), name="segment_id")
    grid = pd.MultiIndex.from_product([segments, codes], names=["segment_id", "code_id"])
    table = applied.reindex(index=grid, columns=coder_list).fillna(False).astype(bool)
    table.columns.name = None
    return table


def reliability(
    codings: pd.DataFrame, *, codes: list[str] | None = None, coders: list[str] | None = None
) -> pd.DataFrame:
    """Agreement per code and over all codes.

    Returns
    -------
    DataFrame: ``code_id`` (``"(all codes)"`` last), ``n_segments``, ``n_coders``,
    ``n_applied`` (yes decisions), ``percent_agreement``, ``cohen_kappa``,
    ``kappa_ci_low``, ``kappa_ci_high`` (two coders only), ``fleiss_kappa``,
    ``krippendorff_alpha``.
    """
    table = decisions(codings, codes=codes, coders=coders)
    rows = [_agreement(code, part) for code, part in table.groupby(level="code_id", sort=False)]
    rows.append(_agreement(ALL_CODES, table))
    return pd.DataFrame(rows)


def _agreement(code: str, part: pd.DataFrame) -> dict:
    values = part.to_numpy(dtype=int)
    row = {
        "code_id": code,
        "n_segments": part.index.get_level_values("segment_id").nunique(),
        "n_coders": values.shape[1],
        "n_applied": int(values.sum()),
    }
    statistics = categorical_agreement(pd.DataFrame(values, columns=part.columns))
    reported = (
        "percent_agreement", "cohen_kappa", "kappa_ci_low", "kappa_ci_high", "fleiss_kappa", "krippendorff_alpha",
    )
    row.update({k: statistics[k] for k in reported})
    return row


def categorical_agreement(ratings: pd.DataFrame, *, confidence: float = 0.95) -> dict:
    """Agreement of raters who each put units into nominal categories.

    Parameters
    ----------
    ratings : one row per unit, one column per rater, the category each rater chose
        (missing where a rater did not rate the unit).

    Returns
    -------
    dict: ``n_units``, ``n_raters``, ``percent_agreement`` (units every rater rated, all
    alike), ``cohen_kappa`` with ``kappa_ci_low``/``kappa_ci_high`` (exactly two raters),
    ``fleiss_kappa`` (units every rater rated), ``krippendorff_alpha`` (nominal; uses
    incomplete units too). A statistic is NaN where it is undefined, e.g. when every
    rating falls in one category.
    """
    import krippendorff
    from scipy import stats
    from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

    result = {"n_units": len(ratings), "n_raters": ratings.shape[1], "percent_agreement": np.nan, "cohen_kappa": np.nan,
              "kappa_ci_low": np.nan, "kappa_ci_high": np.nan, "fleiss_kappa": np.nan, "krippendorff_alpha": np.nan}
    complete = ratings.dropna()
    categories = sorted(pd.unique(ratings.stack().dropna()), key=str)
    if len(complete):
        # Every rater alike, compared column by column with the first: a row-wise nunique is
        # a Python loop over rows (160 s for 250,000 segments x 11 codes).
        result["percent_agreement"] = float(complete.eq(complete.iloc[:, 0], axis=0).all(axis=1).mean())
    if len(categories) < 2:
        return result  # one category only: chance-corrected agreement is undefined
    codes = {category: position for position, category in enumerate(categories)}
    coded = complete.apply(lambda column: column.map(codes)).to_numpy(dtype=int)
    if ratings.shape[1] == 2 and len(complete):
        table = np.zeros((len(categories), len(categories)))
        np.add.at(table, (coded[:, 0], coded[:, 1]), 1)
        kappa = cohens_kappa(table)
        half_width = stats.norm.ppf(0.5 + confidence / 2) * kappa.std_kappa  # statsmodels' own interval is fixed at 95%
        result.update(
            cohen_kappa=float(kappa.kappa),
            kappa_ci_low=float(kappa.kappa - half_width),
            kappa_ci_high=float(kappa.kappa + half_width),
        )
    if len(complete):
        counts, _ = aggregate_raters(coded, n_cat=len(categories))
        result["fleiss_kappa"] = float(fleiss_kappa(counts))
    matrix = ratings.apply(lambda column: column.map(codes)).to_numpy(dtype=float).T
    result["krippendorff_alpha"] = float(
        krippendorff.alpha(
            reliability_data=matrix, level_of_measurement="nominal", value_domain=list(range(len(categories)))
        )
    )
    return result


CHARACTERS_AT_ONCE = 1 << 24


def character_agreement(codings: pd.DataFrame, interviews: pd.DataFrame, *, codes: list[str] | None = None,
                        coders: list[str] | None = None) -> pd.DataFrame:
    """Agreement per character of transcript, for interviews with known positions and length.

    For each code, a character is "agreed" when every coder made the same decision about
    it (inside a segment they gave that code, or not). Returns per code (and over all
    codes): ``characters`` (all transcript characters compared), ``coded_characters``
    (coded by at least one coder), ``agreement_with_uncoded``, ``agreement_without_uncoded``.
    """
    positioned = codings.dropna(subset=["start", "end"])
    lengths = interviews.dropna(subset=["characters"]).set_index("interview_id")["characters"]
    positioned = positioned[positioned["interview_id"].isin(lengths.index)]
    coder_list = sorted(positioned["coder"].unique()) if coders is None else list(coders)
    codes = list(dict.fromkeys(positioned["code_id"])) if codes is None else list(codes)
    # Compared transcripts laid end to end: a segment becomes a +1 where it starts and a -1
    # where it ends on that one line, and a running sum marks every character it covers.
    # The line is cut into stretches of about CHARACTERS_AT_ONCE, so memory stays bounded
    # however many transcripts a study has.
    compared = lengths.loc[list(dict.fromkeys(positioned["interview_id"]))].astype("int64")
    offset = pd.Series(np.cumsum(compared.to_numpy()) - compared.to_numpy(), index=compared.index)
    stretch_of = offset // CHARACTERS_AT_ONCE
    length = positioned["interview_id"].map(compared).to_numpy()
    origin = positioned["interview_id"].map(offset).to_numpy()  # where each interview starts on the line
    starts = origin + np.clip(positioned["start"].to_numpy(dtype="int64"), 0, length)
    ends = origin + np.clip(positioned["end"].to_numpy(dtype="int64"), 0, length)
    stretch = positioned["interview_id"].map(stretch_of).to_numpy()
    code_of, coder_of = positioned["code_id"].to_numpy(), positioned["coder"].to_numpy()
    totals = {code: np.zeros(3) for code in [*codes, ALL_CODES]}  # characters, coded by anyone, agreed
    for number in pd.unique(stretch_of):
        interviews_here = stretch_of.index[stretch_of.to_numpy() == number]
        first = int(offset[interviews_here].min())
        size = int((offset[interviews_here] + compared[interviews_here]).max()) - first
        here = stretch == number
        for code in codes:
            marks = np.zeros((len(coder_list), size), dtype=bool)
            for row, coder in enumerate(coder_list):
                chosen = here & (code_of == code) & (coder_of == coder)
                edges = (np.bincount(starts[chosen] - first, minlength=size + 1)
                         - np.bincount(ends[chosen] - first, minlength=size + 1)).astype("int32")
                marks[row] = np.cumsum(edges[:size]) > 0
            anyone = marks.any(axis=0)
            agreed = marks.all(axis=0) | ~anyone
            for key in (code, ALL_CODES):
                totals[key] += (size, anyone.sum(), agreed.sum())
    rows = []
    for code, (characters, coded, agreed) in totals.items():
        uncoded = characters - coded
        rows.append({"code_id": code, "characters": int(characters), "coded_characters": int(coded),
                     "agreement_with_uncoded": agreed / characters if characters else np.nan,
                     "agreement_without_uncoded": (agreed - uncoded) / coded if coded else np.nan})
    return pd.DataFrame(rows)


def write_for_consensus(differences: pd.DataFrame, folder: Path) -> list[Path]:
    """Write :func:`disagreements` as ``coder-disagreements.csv`` and ``.xlsx`` into ``folder``
    (a restricted folder, :meth:`workbench.project.Project.restricted`), folder and files
    readable by their owner only: they carry interview and unit ids next to excerpts, which no
    shared output may."""
    from workbench.crosscase import export_table

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written = export_table(differences.set_index("segment_id"), folder / "coder-disagreements")
    for path in written:
        os.chmod(path, 0o600)
    return written


def disagreements(
    codings: pd.DataFrame, *, coders: list[str] | None = None, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """The segments where coders differ, for a consensus meeting.

    Returns
    -------
    DataFrame: ``segment_id``, ``interview_id``, ``microsystem_id``, ``excerpt``, then one
    column per coder listing the codes they applied (labelled when ``labels`` is given).
    """
    table = decisions(codings, coders=coders)
    differ = table.ne(table.iloc[:, 0], axis=0).any(axis=1)  # yes/no decisions, never missing: any unlike the first
    differing = table[differ].index.get_level_values("segment_id").unique()
    labels = labels or {}
    chosen = codings[codings["segment_id"].isin(differing)]
    if coders is not None:
        chosen = chosen[chosen["coder"].isin(coders)]
    applied = (
        chosen.assign(code=chosen["code_id"].map(lambda c: labels.get(c, c)))
        .groupby(["segment_id", "coder"])["code"]
        .agg(lambda c: "; ".join(sorted(c)))
        .unstack("coder", fill_value="(none)")
    )
    info = chosen.drop_duplicates("segment_id").set_index("segment_id")[["interview_id", "microsystem_id", "excerpt"]]
    result = info.join(applied).reset_index()
    result.columns.name = None
    return result
