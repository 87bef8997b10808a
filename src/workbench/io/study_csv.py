"""Read a study folder laid out as plain CSV files (the demo study's layout).

Each reader checks its file cell by cell and returns a tidy frame that passes the
matching schema in :mod:`workbench.schemas`. Row counts are kept: every data row of a
file becomes exactly the rows the docstring promises, or the load fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench import schemas
from workbench.errors import InputError
from workbench.frameworks import Framework, Instrument
from workbench.io.tables import check_columns, identifier, iso_date, number, one_of, read_table, text
from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER

__all__ = [
    "codings_frame", "empty_frame", "empty_journeys", "interviews_frame", "read_codings", "read_interviews",
    "read_journeys", "read_microsystems", "read_outcomes", "read_survey", "survey_from_wide",
]


def read_microsystems(path: Path, *, shown: str) -> pd.DataFrame:
    frame = check_columns(
        read_table(path, label=shown),
        [
            identifier("microsystem_id", unique=True),
            text("name"),
            text("setting"),
            identifier("organisation_id"),
            text("organisation"),
        ],
        file=shown,
    )
    return schemas.Microsystems.validate(frame[list(schemas.Microsystems.columns)])


def read_survey(
    path: Path,
    *,
    shown: str,
    instrument: Instrument,
    microsystem_ids: list[str],
    roles: list[str],
    level_codes: dict[str, int],
    cant_rate_codes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A plain CSV, one row per respondent, to ``(respondents, answers)``.

    An empty item cell is ``no_answer`` (the respondent skipped it); a can't-rate code is
    ``cant_rate``. Both are missing for scoring, and they are counted apart.
    """
    answer_codes = list(level_codes) + list(cant_rate_codes)
    shown_codes = ", ".join(f"{code} (level {value})" for code, value in level_codes.items())
    shown_codes += ", " + ", ".join(f"{code} (can't rate)" for code in cant_rate_codes)
    table = read_table(path, label=shown)
    wide = check_columns(
        table,
        [
            identifier("respondent_id", unique=True),
            one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"),
            one_of(roles, f"a role named in study.yaml ({', '.join(roles)})", name="role"),
            *([iso_date("completed_at", with_time=True, allow_empty=True)] if "completed_at" in table.columns else []),
            *[
                one_of(answer_codes, f"{shown_codes} or an empty cell", allow_empty=True, name=item)
                for item in instrument.item_ids
            ],
        ],
        file=shown,
    )
    answers = (
        {code: str(value) for code, value in level_codes.items()}
        | {code: CANT_RATE for code in cant_rate_codes}
        | {"": ""}
    )
    for item in instrument.item_ids:
        wide[item] = wide[item].map(answers)
    return survey_from_wide(wide, instrument=instrument)


def survey_from_wide(wide: pd.DataFrame, *, instrument: Instrument) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical wide survey frame (item cells ``"1"``.., ``"cant_rate"`` or ``""``,
    already checked by its reader) to ``(respondents, answers)`` in long form."""
    respondents = schemas.Respondents.validate(wide[["respondent_id", "microsystem_id", "role"]].reset_index(drop=True))
    # Respondent-major order (each respondent's items together), built by repeat/tile on the
    # columns' own (Arrow) arrays: no sort, and no text converted to Python objects cell by cell.
    items = instrument.item_ids
    count = len(wide)
    per_respondent = np.repeat(np.arange(count), len(items))
    per_item = np.tile(np.arange(len(items)), count)
    code_values = pd.unique(pd.concat([pd.Series(wide[item].unique(), dtype="str") for item in items]))
    code_index = np.column_stack([pd.Categorical(wide[item], categories=code_values).codes for item in items]).ravel()
    if (code_index < 0).any():  # pragma: no cover - a missing cell, which readers turn into ""
        raise InputError("internal error: a survey cell is missing instead of empty")
    kinds = [CANT_RATE if c == CANT_RATE else NO_ANSWER if c == "" else LEVEL for c in code_values]
    levels = pd.array([int(c) if kind == "level" else None for c, kind in zip(code_values, kinds)], dtype="Int64")
    long = pd.DataFrame({
        "respondent_id": respondents["respondent_id"].array.take(per_respondent),
        "microsystem_id": respondents["microsystem_id"].array.take(per_respondent),
        "role": respondents["role"].array.take(per_respondent),
        "item_id": pd.array(items, dtype="str").take(per_item),
        "characteristic_id": pd.array([item.characteristic for item in instrument.items], dtype="str").take(per_item),
        "answer": pd.array(kinds, dtype="str").take(code_index),
        "level": levels.take(code_index),
    })
    answers = schemas.SurveyAnswers.validate(long[list(schemas.SurveyAnswers.columns)])
    if len(answers) != len(wide) * len(instrument.item_ids):  # pragma: no cover - guards the reshape itself
        raise InputError("internal error: answers lost while reshaping")
    return respondents, answers


def read_interviews(path: Path, *, shown: str, microsystem_ids: list[str], roles: list[str]) -> pd.DataFrame:
    """One row per interview; ``characters`` (the transcript's length) is optional."""
    table = read_table(path, label=shown)
    frame = check_columns(
        table,
        [
            identifier("interview_id", unique=True),
            one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"),
            one_of(roles, f"a role named in study.yaml ({', '.join(roles)})", name="interviewee_role"),
            iso_date("interview_date"),
            number("word_count", minimum=0, integer=True),
            *(
                [number("characters", minimum=0, integer=True, allow_empty=True)]
                if "characters" in table.columns
                else []
            ),
        ],
        file=shown,
    )
    if "characters" not in frame.columns:
        frame["characters"] = ""
    return interviews_frame(frame)


def interviews_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Checked interview cells (text) to the typed, validated interviews frame."""
    frame = frame[list(schemas.Interviews.columns)].copy()
    frame["interview_date"] = pd.to_datetime(frame["interview_date"], format="ISO8601")
    frame["word_count"] = pd.to_numeric(frame["word_count"]).astype(int)
    frame["characters"] = pd.to_numeric(frame["characters"].replace("", None)).astype("Int64")
    return schemas.Interviews.validate(frame.reset_index(drop=True))


def read_codings(path: Path, *, shown: str, interviews: pd.DataFrame, frameworks: list[Framework]) -> pd.DataFrame:
    """One row per coding: segment x coder x code. Segments carry their excerpt on every row."""
    framework_of = {element: framework.id for framework in frameworks for element in framework.element_ids}
    table = read_table(path, label=shown)
    positions = [
        number(column, minimum=0, integer=True, allow_empty=True)
        for column in ("start", "end")
        if column in table.columns
    ]
    frame = check_columns(
        table,
        [
            identifier("segment_id"),
            one_of(interviews["interview_id"], "an interview_id listed in the interviews file", name="interview_id"),
            text("coder"),
            one_of(framework_of, "a code of the study's coding frameworks", name="code"),
            text("excerpt"),
            *positions,
        ],
        file=shown,
    )
    for column in ("start", "end"):
        frame[column] = (
            pd.to_numeric(frame[column].replace("", None)).astype("Int64")
            if column in frame.columns
            else pd.array([pd.NA] * len(frame), dtype="Int64")
        )
    backwards = frame["end"].le(frame["start"]).fillna(False).astype(bool)
    if backwards.any():
        row = int(backwards.index[backwards.to_numpy()][0])
        raise InputError(
            "expected a segment to end after it starts, "
            f"found start {frame.loc[row, 'start']} and end {frame.loc[row, 'end']}",
            file=shown, row=row + 2, column="end", more=int(backwards.sum()) - 1,
        )
    _check_segments_consistent(frame, shown)
    repeated = frame.duplicated(["segment_id", "coder", "code"])
    if repeated.any():
        row = int(repeated.index[repeated.to_numpy()][0])
        raise InputError(
            "expected each coder to apply a code to a segment once; this segment, coder and code already appear above",
            file=shown, row=row + 2, column="code", more=int(repeated.sum()) - 1,
        )
    frame = frame.merge(
        interviews[["interview_id", "microsystem_id", "interviewee_role"]],
        on="interview_id",
        how="left",
        validate="many_to_one",
    )
    frame["framework_id"] = frame["code"].map(framework_of)
    frame = frame.rename(columns={"code": "code_id"})
    return codings_frame(frame)


def codings_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The validated codings frame, in a stable order: by interview, position, segment, coder, code."""
    frame = frame[list(schemas.Codings.columns)]
    return schemas.Codings.validate(frame.reset_index(drop=True))


def _check_segments_consistent(frame: pd.DataFrame, shown: str) -> None:
    """A segment is one stretch of one interview: every row of it must agree on both."""
    positions = (c for c in ("start", "end") if c in frame.columns and frame[c].notna().any())
    for column in ("interview_id", "excerpt", *positions):
        values = frame[column].astype("string").fillna("")
        differs = values.ne(values.groupby(frame["segment_id"], sort=False).transform("first"))
        if differs.any():
            row = int(differs.index[differs.to_numpy()][0])
            segment = frame["segment_id"].loc[row]
            raise InputError(
                f"segment {segment!r} has a different {column} here than on its first row; "
                f"expected every row of a segment to repeat the same {column}",
                file=shown, row=row + 2, column=column,
            )


def read_outcomes(path: Path, *, shown: str, microsystem_ids: list[str], outcome_ids: list[str]) -> pd.DataFrame:
    """One row per microsystem; an empty cell is a missing measurement."""
    frame = check_columns(
        read_table(path, label=shown),
        [
            one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"),
            *[number(outcome, allow_empty=True) for outcome in outcome_ids],
        ],
        file=shown,
    )
    repeated = frame["microsystem_id"].duplicated()
    if repeated.any():
        row = int(repeated.index[repeated.to_numpy()][0])
        raise InputError("expected one row per microsystem; this microsystem already has a row above",
                         file=shown, row=row + 2, column="microsystem_id")
    frame = frame[["microsystem_id", *outcome_ids]].copy()
    for outcome in outcome_ids:
        frame[outcome] = pd.to_numeric(frame[outcome].replace("", None), errors="raise").astype(float)
    return schemas.Outcomes.validate(frame.reset_index(drop=True))


def read_journeys(path: Path, *, shown: str, microsystem_ids: list[str]) -> pd.DataFrame:
    """One row per visit: ``patient_id``, ``visit`` (1, 2, ... in order), ``microsystem_id``, ``visit_date``."""
    frame = check_columns(
        read_table(path, label=shown),
        [
            identifier("patient_id"),
            number("visit", minimum=1, integer=True),
            one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"),
            iso_date("visit_date"),
        ],
        file=shown,
    )
    repeated = frame.duplicated(["patient_id", "visit"])
    if repeated.any():
        row = int(repeated.index[repeated.to_numpy()][0])
        raise InputError("expected each visit number once per patient; this patient's visit number appears above",
                         file=shown, row=row + 2, column="visit")
    frame = frame[["patient_id", "visit", "microsystem_id", "visit_date"]].copy()
    frame["visit"] = frame["visit"].astype(int)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"], format="ISO8601")
    if frame.empty:
        return empty_journeys()
    return schemas.Journeys.validate(frame.sort_values(["patient_id", "visit"]).reset_index(drop=True))


def empty_frame(schema) -> pd.DataFrame:
    """A frame with no rows and the columns and types of ``schema``: a study without that evidence."""
    return schema.validate(pd.DataFrame(columns=list(schema.columns)))


def empty_journeys() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series(dtype="str"), "visit": pd.Series(dtype="int64"),
                         "microsystem_id": pd.Series(dtype="str"), "visit_date": pd.Series(dtype="datetime64[ns]")})
