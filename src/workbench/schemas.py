"""The tidy frames a loaded study is made of, declared once and checked at the boundary.

Every reader, whatever format it read, must hand over frames that pass these schemas;
the analysis modules rely on them and check nothing again.

Declared as pandera ``DataFrameSchema`` objects rather than class-based models: building a
model's schema makes pandera import dask.dataframe when dask is installed (it is, for the
distributed executor), which cost about a second of every load.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from workbench.vocabulary import ANSWER_KINDS, LEVEL

__all__ = ["LEVEL_MOST", "Codings", "Interviews", "Journeys", "Microsystems", "OutcomeSeries", "Outcomes",
           "PastAnswers", "PastRespondents", "Respondents", "SurveyAnswers"]

LEVEL_MOST = 127  # the largest level an answer may hold (levels are 8-bit integers)


def _tidy(name: str, columns: dict[str, pa.Column], *checks: pa.Check, strict: bool = True) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, checks=list(checks), strict=strict, coerce=True, name=name)


def _text(*, unique: bool = False) -> pa.Column:
    return pa.Column(str, unique=unique)


def _coded(*checks: pa.Check) -> pa.Column:
    """Text that repeats (units, roles, items, answer kinds: a few values over millions of rows),
    held as a pandas ``category`` column: one small integer code per row."""
    return pa.Column(pd.CategoricalDtype(), list(checks))


def _once_per(*keys: str, error: str) -> pa.Check:
    return pa.Check(
        lambda frame: ~frame.duplicated(list(keys), keep=False), error=error, name="once_per_" + "_".join(keys)
    )


Microsystems = _tidy("Microsystems", {  # one row per microsystem (the cases of a cross-case study)
    "microsystem_id": _text(unique=True),
    "name": _text(),
    "setting": _text(),
    "organisation_id": _text(),
    "organisation": _text(),
    "headcount": pa.Column(pd.Int64Dtype(), pa.Check.ge(1), nullable=True, required=False),  # staff, when known
})

# The survey's two frames hold their repeated text as categories, and a level as a nullable 8-bit
# integer: the answers frame takes about 12 bytes a row (it took about 130 as text), so a survey
# loads in about 4 times its file's size. Units, roles, items and answer kinds are sorted
# categories, only those used (sorting and grouping order rows as the text did); the answers'
# respondent_id categories are the respondents' ids, in the respondents frame's order. Tables
# grouped from the answers (survey, agreement, views) give their keys as text, as before. The
# readers build the frames from codes and check them without pandera
# (:func:`workbench.io.study_csv.survey_from_wide`); these schemas say what they hold.
Respondents = _tidy("Respondents", {  # one row per survey respondent; respondent_id is never shown in a report
    "respondent_id": _text(unique=True),
    "microsystem_id": _coded(),
    "role": _coded(),
})

SurveyAnswers = _tidy("SurveyAnswers",  # one row per respondent x item; level is missing unless answer is "level"
    {
        "respondent_id": _coded(),
        "microsystem_id": _coded(),
        "role": _coded(),
        "item_id": _coded(),
        "characteristic_id": _coded(),
        "answer": _coded(pa.Check.isin(list(ANSWER_KINDS))),
        "level": pa.Column(pd.Int8Dtype(), [pa.Check.ge(1), pa.Check.le(LEVEL_MOST)], nullable=True),
    },
    pa.Check(lambda frame: frame["level"].notna() == frame["answer"].eq(LEVEL),
             error="level must be given exactly when answer is 'level'", name="level_only_for_levels"),
    _once_per("respondent_id", "item_id", error="each respondent answers each item once"),
)

# Earlier waves of the survey: the same columns and a ``wave`` (the wave's id, as a category); the
# frames above hold the latest wave, the one every report describes as now.
PastRespondents = _tidy("PastRespondents", {**Respondents.columns, "wave": _coded()})
PastAnswers = _tidy("PastAnswers", {**SurveyAnswers.columns, "wave": _coded()},
                    *SurveyAnswers.checks[:1],
                    _once_per("wave", "respondent_id", "item_id",
                              error="each respondent answers each item once a wave"))

Interviews = _tidy("Interviews", {  # one row per interview transcript
    "interview_id": _text(unique=True),
    "microsystem_id": _text(),
    "interviewee_role": _text(),
    "interview_date": pa.Column("datetime64[ns]"),
    "word_count": pa.Column(int, pa.Check.ge(0)),
    "characters": pa.Column(pd.Int64Dtype(), pa.Check.ge(0), nullable=True),  # transcript length, when known
})

Codings = _tidy("Codings",  # one row per code applied by one coder to one segment of an interview
    {
        "segment_id": _text(),
        "interview_id": _text(),
        "microsystem_id": _text(),
        "interviewee_role": _text(),
        "coder": _text(),
        "framework_id": _text(),
        "code_id": _text(),
        "excerpt": _text(),
        # character offsets into the transcript, end exclusive
        "start": pa.Column(pd.Int64Dtype(), pa.Check.ge(0), nullable=True),
        "end": pa.Column(pd.Int64Dtype(), pa.Check.ge(0), nullable=True),
    },
    pa.Check(
        lambda frame: (frame["end"] > frame["start"]).fillna(True).astype(bool),
        error="a segment ends after it starts",
        name="segment_span",
    ),
    _once_per("segment_id", "coder", "code_id", error="a coder applies a code to a segment once"),
)

Journeys = _tidy("Journeys",  # one row per visit of a patient to a microsystem, in order
    {
        "patient_id": _text(),
        "visit": pa.Column(int, pa.Check.ge(1)),
        "microsystem_id": _text(),
        "visit_date": pa.Column("datetime64[ns]"),
    },
    _once_per("patient_id", "visit", error="each patient's visits are numbered once each"),
)

# One row per microsystem; one float column per outcome measure named in the study config (a monthly
# outcome's column is its value over the study's latest months, see ``analysis.outcome_window_months``).
Outcomes = _tidy("Outcomes", {"microsystem_id": _text(unique=True)}, strict=False)

OutcomeSeries = _tidy("OutcomeSeries",  # one row per microsystem x monthly outcome x month measured
    {
        "microsystem_id": _text(),
        "outcome_id": _text(),
        "period": pa.Column("datetime64[ns]"),  # the first day of the month
        "numerator": pa.Column(float, pa.Check.ge(0), nullable=True),  # proportions and rates
        "denominator": pa.Column(float, pa.Check.gt(0), nullable=True),
        "value": pa.Column(float, nullable=True),  # counts and measurements
    },
    _once_per("microsystem_id", "outcome_id", "period", error="one row per microsystem, outcome and month"),
)
