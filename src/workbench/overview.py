"""Who, where and how many: the descriptive tables that open every study report."""

from __future__ import annotations

import pandas as pd

from workbench.study import Study
from workbench.vocabulary import ANSWER_KINDS

__all__ = [
    "answer_completeness",
    "by_setting",
    "import_table",
    "microsystem_overview",
    "outcome_completeness",
]


def microsystem_overview(study: Study) -> pd.DataFrame:
    """One row per microsystem: setting, organisation, and how much evidence it has.

    Returns
    -------
    DataFrame: ``microsystem_id``, ``name``, ``setting``, ``organisation``, ``respondents`` (in
    the latest survey wave), ``headcount`` (staff, when the microsystems file gives it),
    ``response_rate`` (respondents / headcount), ``interviews``, ``coded_segments``,
    ``transcript_words``, then one column per outcome.
    """
    respondents = study.respondents.groupby("microsystem_id").size().rename("respondents")
    interviews = study.interviews.groupby("microsystem_id").agg(
        interviews=("interview_id", "size"), transcript_words=("word_count", "sum")
    )
    segments = study.codings.groupby("microsystem_id")["segment_id"].nunique().rename("coded_segments")
    table = (
        study.microsystems.set_index("microsystem_id").reindex(columns=["name", "setting", "organisation", "headcount"])
        .join([respondents, interviews, segments])
        .join(study.outcomes.set_index("microsystem_id"))
    )
    counts = ["respondents", "interviews", "coded_segments", "transcript_words"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["response_rate"] = (table["respondents"] / table["headcount"].astype("float64")).astype("float64")
    return table[["name", "setting", "organisation", "respondents", "headcount", "response_rate", "interviews",
                  "coded_segments", "transcript_words",
                  *[o.id for o in study.config.outcomes]]].reset_index()


def by_setting(overview: pd.DataFrame) -> pd.DataFrame:
    """Microsystems, respondents and interviews per setting, largest first."""
    return (
        overview.groupby("setting")
        .agg(
            microsystems=("microsystem_id", "size"),
            respondents=("respondents", "sum"),
            interviews=("interviews", "sum"),
        )
        .sort_values(["microsystems", "respondents"], ascending=False)
    )


def answer_completeness(answers: pd.DataFrame, *, item_labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Per item: how many answers gave a level, said "can't rate", or were skipped (counts and shares)."""
    counts = pd.crosstab(answers["item_id"], answers["answer"]).reindex(
        columns=list(ANSWER_KINDS), fill_value=0
    )
    counts = counts.reindex(list(dict.fromkeys(answers["item_id"])))
    shares = counts.div(counts.sum(axis=1), axis=0).add_prefix("share_")
    table = counts.join(shares)
    if item_labels:
        table.index = table.index.map(lambda item: item_labels.get(item, item))
    table.index.name = "item"
    return table


def outcome_completeness(study: Study) -> pd.DataFrame:
    """Per outcome measure: its label and unit, how many microsystems report it, and how many do not."""
    rows = []
    for spec in study.config.outcomes:
        values = study.outcomes[spec.id]
        rows.append({"outcome": spec.label, "unit": spec.unit, "better": spec.better,
                     "reported": int(values.notna().sum()), "missing": int(values.isna().sum())})
    return pd.DataFrame(rows)


def import_table(reports) -> pd.DataFrame:
    """What each import read, used and left out: one row per file and kind of element.

    Parameters
    ----------
    reports : the study's :class:`~workbench.io.report.ImportReport` list (``Study.import_reports()``).

    Returns
    -------
    DataFrame: ``file``, ``format``, ``element``, ``in file``, ``used``, ``left out``, ``why``.
    """
    rows = [
        {"file": report.source, "format": report.kind, "element": count.element, "in file": count.in_file,
         "used": count.used, "left out": count.in_file - count.used,
         "why": "; ".join(f"{n}: {reason}" for reason, n in count.left_out.items())}
        for report in reports for count in report.counts
    ]
    return pd.DataFrame(rows, columns=["file", "format", "element", "in file", "used", "left out", "why"])
