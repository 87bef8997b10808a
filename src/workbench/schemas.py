"""The tidy frames a loaded study is made of, declared once and checked at the boundary.

Every reader, whatever format it read, must hand over frames that pass these schemas;
the analysis modules rely on them and check nothing again.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

ANSWER_KINDS = ("level", "cant_rate", "no_answer")


class _Tidy(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class Microsystems(_Tidy):
    """One row per microsystem (the cases of a cross-case study)."""

    microsystem_id: Series[str] = pa.Field(unique=True)
    name: Series[str]
    setting: Series[str]
    organisation_id: Series[str]
    organisation: Series[str]


class Respondents(_Tidy):
    """One row per survey respondent; ``respondent_id`` is never shown in a report."""

    respondent_id: Series[str] = pa.Field(unique=True)
    microsystem_id: Series[str]
    role: Series[str]


class SurveyAnswers(_Tidy):
    """One row per respondent x item. ``level`` is missing unless ``answer`` is ``"level"``."""

    respondent_id: Series[str]
    microsystem_id: Series[str]
    role: Series[str]
    item_id: Series[str]
    characteristic_id: Series[str]
    answer: Series[str] = pa.Field(isin=list(ANSWER_KINDS))
    level: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1)

    @pa.dataframe_check(error="level must be given exactly when answer is 'level'")
    def _level_only_for_levels(cls, frame: pd.DataFrame) -> Series[bool]:
        return frame["level"].notna() == frame["answer"].eq("level")

    @pa.dataframe_check(error="each respondent answers each item once")
    def _one_answer_per_item(cls, frame: pd.DataFrame) -> Series[bool]:
        return ~frame.duplicated(["respondent_id", "item_id"], keep=False)


class Interviews(_Tidy):
    """One row per interview transcript."""

    interview_id: Series[str] = pa.Field(unique=True)
    microsystem_id: Series[str]
    interviewee_role: Series[str]
    interview_date: Series[pd.Timestamp]
    word_count: Series[int] = pa.Field(ge=0)
    characters: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)  # transcript length, when the transcript is known


class Codings(_Tidy):
    """One row per code applied by one coder to one segment of an interview."""

    segment_id: Series[str]
    interview_id: Series[str]
    microsystem_id: Series[str]
    interviewee_role: Series[str]
    coder: Series[str]
    framework_id: Series[str]
    code_id: Series[str]
    excerpt: Series[str]
    start: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)  # character offsets into the transcript, end exclusive
    end: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check(error="a segment ends after it starts")
    def _span(cls, frame: pd.DataFrame) -> Series[bool]:
        return (frame["end"] > frame["start"]).fillna(True).astype(bool)

    @pa.dataframe_check(error="a coder applies a code to a segment once")
    def _one_coding(cls, frame: pd.DataFrame) -> Series[bool]:
        return ~frame.duplicated(["segment_id", "coder", "code_id"], keep=False)


class Journeys(_Tidy):
    """One row per visit of a patient to a microsystem, in order: the patient's own health system."""

    patient_id: Series[str]
    visit: Series[int] = pa.Field(ge=1)
    microsystem_id: Series[str]
    visit_date: Series[pd.Timestamp]

    @pa.dataframe_check(error="each patient's visits are numbered once each")
    def _one_visit_number(cls, frame: pd.DataFrame) -> Series[bool]:
        return ~frame.duplicated(["patient_id", "visit"], keep=False)


class Outcomes(pa.DataFrameModel):
    """One row per microsystem; one float column per outcome measure named in the study config."""

    microsystem_id: Series[str] = pa.Field(unique=True)

    class Config:
        strict = False
        coerce = True
