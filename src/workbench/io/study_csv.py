"""Read a study folder laid out as plain CSV files (the demo study's layout).

Each reader checks its file cell by cell and returns a tidy frame that passes the
matching schema in :mod:`workbench.schemas`. Row counts are kept: every data row of a
file becomes exactly the rows the docstring promises, or the load fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from workbench import schemas
from workbench.errors import InputError
from workbench.frameworks import Framework, Instrument
from workbench.io.tables import (
    check_columns,
    code_type,
    from_codes,
    has_repeats,
    identifier,
    iso_date,
    number,
    one_of,
    read_table,
    release_memory,
    text,
)
from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER

__all__ = [
    "SERIES_CELLS", "SERIES_COLUMNS", "codings_frame", "empty_frame", "empty_journeys", "interviews_frame",
    "latest_months",
    "read_codings", "read_interviews", "read_journeys", "read_microsystems", "read_outcome_series", "read_outcomes",
    "read_survey", "read_survey_waves", "survey_from_wide", "unit_values_from_series",
]

# The largest whole number a count or position may be: held exactly on the way in (as a float
# in the checks) and in the frames (int64). A larger one is refused at its row, never wrapped.
MOST = 10**15
# The dates the frames hold (nanoseconds since 1970 in 64 bits): about 1677-09-22 to 2262-04-11.
EARLIEST, LATEST = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def read_microsystems(path: Path, *, shown: str) -> pd.DataFrame:
    """One row per microsystem; an optional ``headcount`` column (staff in the unit, a whole
    number of at least 1, or empty when unknown) gives the survey's response rates."""
    table = read_table(path, label=shown)
    headcount = "headcount" in table.columns
    frame = check_columns(
        table,
        [
            identifier("microsystem_id", unique=True),
            text("name"),
            text("setting"),
            identifier("organisation_id"),
            text("organisation"),
            *([number("headcount", minimum=1, integer=True, allow_empty=True)] if headcount else []),
        ],
        file=shown,
    )
    columns = list(schemas.Microsystems.columns)
    frame = frame[[c for c in columns if c in frame.columns]].copy()
    frame["headcount"] = (_whole_numbers(frame, "headcount", shown=shown, first_row=2) if headcount
                          else pd.array([pd.NA] * len(frame), dtype="Int64"))
    return _validated(schemas.Microsystems, frame[columns], shown=shown, first_row=2)


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
    ``cant_rate``. Both are missing for scoring, and they are counted apart. A ``wave`` column is
    refused: a survey of several waves is read with :func:`read_survey_waves`, the waves listed
    in ``study.yaml`` (otherwise they would be pooled as one, silently).

    Memory: units, roles and answer codes are read as categories (a small code per cell) and
    checked through their few distinct values; each item column is let go once turned into the
    answers' codes, so a survey loads in about 3 to 4 times its file's size.
    """
    wide, canonical = _checked_survey(path, shown=shown, instrument=instrument, microsystem_ids=microsystem_ids,
                                      roles=roles, level_codes=level_codes, cant_rate_codes=cant_rate_codes)
    return _survey_frames(wide, instrument=instrument, canonical=canonical, shown=shown, first_row=2, take_over=True)


def read_survey_waves(path: Path, *, shown: str, instrument: Instrument, microsystem_ids: list[str],
                      roles: list[str], level_codes: dict[str, int], cant_rate_codes: list[str],
                      waves: list[str]) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """A survey file holding several waves, told apart by its ``wave`` column (one of ``waves``):
    ``{wave: (respondents, answers)}`` for each wave listed, in that order (a wave with no row
    in the file has empty frames). Respondent ids are unique over the whole file."""
    wide, canonical = _checked_survey(path, shown=shown, instrument=instrument, microsystem_ids=microsystem_ids,
                                      roles=roles, level_codes=level_codes, cant_rate_codes=cant_rate_codes,
                                      waves=waves)
    column = wide.pop("wave").astype("str").to_numpy()
    frames = {}
    for wave in waves:
        part = wide.loc[column == wave]  # (its index keeps the file's rows, for messages)
        frames[wave] = _survey_frames(part, instrument=instrument, canonical=canonical, shown=shown, first_row=2)
    return frames


def _checked_survey(path: Path, *, shown: str, instrument: Instrument, microsystem_ids: list[str], roles: list[str],
                    level_codes: dict[str, int], cant_rate_codes: list[str],
                    waves: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The survey file read and checked cell by cell, and the map from its codes to canonical cells."""
    answer_codes = list(level_codes) + list(cant_rate_codes)
    shown_codes = ", ".join(f"{code} (level {value})" for code, value in level_codes.items())
    shown_codes += ", " + ", ".join(f"{code} (can't rate)" for code in cant_rate_codes)
    table = read_table(path, label=shown, categorical=["microsystem_id", "role", *instrument.item_ids])
    release_memory()  # (what the reading held meanwhile: each step below grows from what is in use)
    if waves is None and "wave" in table.columns:
        raise InputError("the survey has a 'wave' column but study.yaml lists no waves; expected the waves listed "
                         "under 'waves:' (oldest first, e.g. - id: '2025'), or no 'wave' column",
                         file=shown, row=1, column="wave")
    wide = check_columns(
        table,
        [
            identifier("respondent_id", unique=True),
            *([one_of(waves, f"a wave listed in study.yaml ({', '.join(waves)})", name="wave")]
              if waves is not None else []),
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
    del table  # the checked frame replaces it: a column stripped of spaces is not held twice
    release_memory()
    canonical = (
        {code: str(value) for code, value in level_codes.items()}
        | {code: CANT_RATE for code in cant_rate_codes}
        | {"": ""}
    )
    return wide, canonical


def survey_from_wide(wide: pd.DataFrame, *, instrument: Instrument, shown: str | None = None,
                     first_row: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical wide survey frame (item cells ``"1"``.., ``"cant_rate"`` or ``""``, as text or
    as categories of text; already checked by its reader) to ``(respondents, answers)`` in long
    form (:data:`workbench.schemas.Respondents`, :data:`workbench.schemas.SurveyAnswers`).
    ``shown`` and ``first_row`` (the file row of index 0) name the file and row of a problem."""
    return _survey_frames(wide, instrument=instrument, canonical=None, shown=shown, first_row=first_row)


_MISSING = np.uint8(255)  # a survey cell without a canonical value (in the cell matrix below)


def _survey_frames(wide: pd.DataFrame, *, instrument: Instrument, canonical: dict[str, str] | None,
                   shown: str | None, first_row: int | None,
                   take_over: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(respondents, answers)`` from a checked wide frame whose item cells are canonical, or
    become so through ``canonical`` (a cell's code -> ``"1"``.., ``"cant_rate"`` or ``""``).

    Built from integer codes, never text per answer: each item column becomes a column of a
    respondent x item matrix of small integers (an index into the canonical cells met), let go
    at once when ``take_over`` (the frame is the caller's to give); the answers' columns are
    categories whose codes are taken from that matrix and from the respondents' codes. The
    schemas' checks are made without pandera, which took 16 times the file over millions of
    answers: an answer per respondent and item and a level exactly where the answer is one hold
    by construction; what could fail is checked cheaply (a repeated or missing respondent_id by
    sorting, a level out of range on the few distinct cells) and, when it fails, explained by
    pandera or in its words (the same message as ever).
    """
    items = instrument.item_ids
    respondents = _respondents(wide, shown=shown, first_row=first_row)
    values: dict[str, int] = {}  # canonical cell -> its index in the matrix
    cells = np.empty((len(wide), len(items)), dtype=np.uint8)
    for position, item in enumerate(items):
        column = wide[item]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes, distinct = column.array.codes, column.cat.categories
        else:
            codes, distinct = pd.factorize(column)
        lookup = [canonical.get(value) if canonical is not None else value for value in distinct]
        lookup = [_MISSING if value is None or value != value else values.setdefault(value, len(values))
                  for value in lookup]
        if len(values) >= _MISSING:  # pragma: no cover - readers allow a few codes
            raise InputError("internal error: too many distinct survey answers")
        cells[:, position] = np.array([*lookup, _MISSING], dtype=np.uint8)[codes]  # code -1 (missing): the last
        del column, codes
        if take_over:
            del wide[item]  # its last use: let it go before the next is encoded
    release_memory()
    if (cells == _MISSING).any():  # pragma: no cover - a missing cell, which readers turn into ""
        raise InputError("internal error: a survey cell is missing instead of empty")
    met = list(values)
    kinds = [CANT_RATE if c == CANT_RATE else NO_ANSWER if c == "" else LEVEL for c in met]
    levels = [int(c) if kind == LEVEL else None for c, kind in zip(met, kinds)]
    _check_levels(cells, levels, shown=shown)
    answer_kinds = sorted(set(kinds))
    count = len(respondents)
    flat = cells.reshape(-1)  # respondent-major: each respondent's items together
    answer = np.array([answer_kinds.index(kind) for kind in kinds] or [0], dtype=np.int8)[flat]
    level = pd.arrays.IntegerArray(np.array([lv or 0 for lv in levels] or [0], dtype=np.int8)[flat],
                                   np.array([lv is None for lv in levels] or [True], dtype=bool)[flat])
    del flat, cells
    # A respondent's answers name it by its position: the categories are the respondents' own ids.
    respondent_codes = np.arange(count, dtype=code_type(count))
    item_ids = sorted(items)
    characteristics = sorted({item.characteristic for item in instrument.items})
    columns = {
        "respondent_id": from_codes(np.repeat(respondent_codes, len(items)), respondents["respondent_id"].array,
                                    distinct=True),  # checked by _respondents
        "microsystem_id": _repeated(respondents["microsystem_id"], len(items)),
        "role": _repeated(respondents["role"], len(items)),
        "item_id": from_codes(np.tile(np.array([item_ids.index(i) for i in items], dtype=np.int8), count), item_ids),
        "characteristic_id": from_codes(
            np.tile(np.array([characteristics.index(i.characteristic) for i in instrument.items], dtype=np.int8),
                    count),
            characteristics),
        "answer": from_codes(answer, answer_kinds),
        "level": level,
    }
    del respondent_codes, answer, level
    answers = pd.DataFrame(columns, copy=False)
    del columns
    if len(answers) != count * len(items):  # pragma: no cover - guards the reshape itself
        raise InputError("internal error: answers lost while reshaping")
    if len(set(items)) != len(items):  # pragma: no cover - an instrument's items are unique
        _explained(schemas.SurveyAnswers, answers, shown=shown)
    return respondents, answers


def _respondents(wide: pd.DataFrame, *, shown: str | None, first_row: int | None) -> pd.DataFrame:
    """The respondents frame of a checked wide survey frame: its units and roles as sorted
    categories (only those used), checked on codes; pandera explains a failure."""
    frame = pd.DataFrame({
        "respondent_id": wide["respondent_id"] if wide["respondent_id"].dtype == "str"
        else wide["respondent_id"].astype("str"),
        "microsystem_id": _sorted_categories(wide["microsystem_id"]),
        "role": _sorted_categories(wide["role"]),
    }, copy=False)
    if frame.isna().to_numpy().any() or has_repeats(frame["respondent_id"]):
        _explained(schemas.Respondents, frame, shown=shown, first_row=first_row)
    return frame.reset_index(drop=True)


def _explained(schema: pa.DataFrameSchema, frame: pd.DataFrame, *, shown: str | None = None,
               first_row: int | None = None) -> None:
    """Raise the InputError pandera's check of ``frame`` gives (:func:`_validated`), for a frame
    that a cheaper check found wrong."""
    _validated(schema, frame, shown=shown, first_row=first_row)
    raise InputError(f"internal error: the {schema.name} data failed a check that pandera passes")  # pragma: no cover


def _check_levels(cells: np.ndarray, levels: list[int | None], *, shown: str | None) -> None:
    """Every level an answer holds within 1..:data:`~workbench.schemas.LEVEL_MOST` (a level is an
    8-bit integer); else the InputError the schema's check gives, naming the first such answer's level."""
    column = schemas.SurveyAnswers.columns["level"]
    for check, outside in zip(column.checks, (lambda v: v < 1, lambda v: v > schemas.LEVEL_MOST)):
        bad = [index for index, level in enumerate(levels) if level is not None and outside(level)]
        if bad:
            first = np.flatnonzero(np.isin(cells.reshape(-1), bad))[0]
            found = levels[cells.reshape(-1)[first]]
            raise InputError(f"the SurveyAnswers data failed the check {check.error!r} with {str(found)!r} "
                             "(a check the reader should have made first: please report it)",
                             file=shown, column="level")


def _sorted_categories(column: pd.Series) -> pd.Series:
    """A column of text (or of categories of text) as categories: sorted, and only those used."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes
        used = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories)) > 0
        old = np.flatnonzero(used)
        order = np.argsort(np.asarray(column.cat.categories[old], dtype=object), kind="stable")
        table = np.full(len(column.cat.categories) + 1, -1, dtype=code_type(len(old)))
        table[old[order]] = np.arange(len(old))
        values = from_codes(table[codes], column.cat.categories[old[order]])
    else:
        codes, uniques = pd.factorize(column, sort=True)
        values = from_codes(codes, uniques)
    return pd.Series(values, index=column.index, name=column.name)


def _repeated(column: pd.Series, times: int) -> pd.Categorical:
    """Each row of a categorical column ``times`` times in a row (a respondent's value for each item)."""
    return pd.Categorical.from_codes(np.repeat(column.array.codes, times), dtype=column.dtype, validate=False)


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
    return interviews_frame(frame, shown=shown, first_row=2)


def interviews_frame(frame: pd.DataFrame, *, shown: str | None = None, first_row: int | None = None) -> pd.DataFrame:
    """Checked interview cells (text) to the typed, validated interviews frame; a count too large
    or a date out of range is one InputError naming the file (``shown``), the row (``first_row``:
    the file row of index 0) or else the interview, and the column."""
    frame = frame[list(schemas.Interviews.columns)].copy()
    where = {"shown": shown, "first_row": first_row, "label": "interview_id"}
    frame["interview_date"] = _dates(frame, "interview_date", **where)
    frame["word_count"] = _whole_numbers(frame, "word_count", **where).astype("int64")
    frame["characters"] = _whole_numbers(frame, "characters", **where)
    return _validated(schemas.Interviews, frame, shown=shown, first_row=first_row).reset_index(drop=True)


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
            _whole_numbers(frame, column, shown=shown, first_row=2)
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
    return codings_frame(frame, shown=shown)


def codings_frame(frame: pd.DataFrame, *, shown: str | None = None) -> pd.DataFrame:
    """The validated codings frame, in a stable order: by interview, position, segment, coder, code."""
    frame = frame[list(schemas.Codings.columns)]
    return _validated(schemas.Codings, frame.reset_index(drop=True), shown=shown)


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
    return _validated(schemas.Outcomes, frame, shown=shown, first_row=2).reset_index(drop=True)


SERIES_COLUMNS = ("numerator", "denominator", "value")
# What each kind of monthly outcome fills: (columns required, columns that must be empty).
SERIES_CELLS = {
    "proportion": (("numerator", "denominator"), ("value",)),
    "rate": (("numerator", "denominator"), ("value",)),
    "count": (("value",), ("numerator", "denominator")),
    "measurement": (("value",), ("numerator", "denominator")),
}


def read_outcome_series(path: Path, *, shown: str, microsystem_ids: list[str],
                        kinds: dict[str, str]) -> pd.DataFrame:
    """One row per microsystem x outcome x month: ``microsystem_id``, ``outcome_id`` (a monthly
    outcome of ``kinds``), ``period`` (``YYYY-MM``), then ``numerator`` and ``denominator`` for a
    proportion or a rate, ``value`` for a count or a measurement. A month not measured has no row
    (an empty required cell is refused, never read as 0)."""
    from workbench.io.tables import ColumnRule

    month = ColumnRule("period", "a month written YYYY-MM (e.g. 2025-06)",
                       lambda s: s.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").fillna(False).astype(bool), key=True)
    frame = check_columns(
        read_table(path, label=shown),
        [
            one_of(microsystem_ids, "a microsystem_id listed in the microsystems file", name="microsystem_id"),
            one_of(list(kinds), f"a monthly outcome of study.yaml (one with a kind: {', '.join(kinds)})",
                   name="outcome_id"),
            month,
            number("numerator", minimum=0, allow_empty=True),
            number("denominator", allow_empty=True),
            number("value", allow_empty=True),
        ],
        file=shown,
    )
    kind = frame["outcome_id"].astype("str").map(kinds).to_numpy()
    empty = {column: frame[column].eq("").to_numpy(dtype=bool) for column in SERIES_COLUMNS}
    values = {column: pd.to_numeric(frame[column].mask(empty[column], None)).astype(float).to_numpy()
              for column in SERIES_COLUMNS}
    problems = []  # (row position, column, message) of each kind of problem, the first of each
    for name, (required, unused) in SERIES_CELLS.items():
        rows = kind == name
        for column in required:
            bad = rows & empty[column]
            problems.append((bad, column, f"expected a number for a {name} outcome, found an empty cell (a month "
                                          "not measured has no row)"))
        for column in unused:
            bad = rows & ~empty[column]
            problems.append((bad, column, f"expected an empty cell: a {name} outcome fills "
                                          f"{' and '.join(required)}"))
    ratio = np.isin(kind, ["proportion", "rate"])
    problems.append((ratio & ~empty["denominator"] & ~(values["denominator"] > 0), "denominator",
                     "expected a denominator above 0"))
    problems.append(((kind == "proportion") & (values["numerator"] > values["denominator"]), "numerator",
                     "expected a numerator no larger than the denominator (a proportion)"))
    problems.append(((kind == "count") & ~empty["value"] & ((values["value"] < 0) | (values["value"] % 1 != 0)),
                     "value", "expected a whole number of at least 0 for a count outcome"))
    firsts = [(int(np.flatnonzero(bad)[0]), column, message, int(bad.sum())) for bad, column, message in problems
              if bad.any()]
    if firsts:
        at, column, message, count = min(firsts)
        raise InputError(f"{message}, found {frame[column].iloc[at]!r}" if frame[column].iloc[at] else message,
                         file=shown, row=at + 2, column=column, more=count - 1)
    series = pd.DataFrame({
        "microsystem_id": frame["microsystem_id"].astype("str").to_numpy(),
        "outcome_id": frame["outcome_id"].astype("str").to_numpy(),
        "period": pd.to_datetime(frame["period"].astype("str") + "-01", format="%Y-%m-%d").astype("datetime64[ns]"),
        **values,
    })
    repeated = series.duplicated(["microsystem_id", "outcome_id", "period"]).to_numpy()
    if repeated.any():
        at = int(np.flatnonzero(repeated)[0])
        raise InputError("expected one row per microsystem, outcome and month; this month already has a row above",
                         file=shown, row=at + 2, column="period")
    ordered = series.sort_values(["microsystem_id", "outcome_id", "period"], kind="stable")
    return _validated(schemas.OutcomeSeries, ordered, shown=shown).reset_index(drop=True)


def latest_months(series: pd.DataFrame, months: int) -> pd.DataFrame:
    """The rows of the study's last ``months`` months: the latest month any unit reported, and the
    ``months - 1`` before it (the window units are compared over)."""
    start = series["period"].max() - pd.DateOffset(months=months - 1)
    return series[series["period"].ge(start)]


def unit_values_from_series(series: pd.DataFrame, specs: list, *, months: int,
                            microsystem_ids: list[str]) -> pd.DataFrame:
    """Each monthly outcome's value per unit over the study's last ``months`` months (the latest
    month any unit reported, and the months before it): a proportion or rate pooled (the sum of
    numerators over the sum of denominators, times ``per``), a count or a measurement averaged
    over the months measured. One row per microsystem, one column per outcome; NaN where a unit
    has no month in the window."""
    table = pd.DataFrame({"microsystem_id": pd.Series(microsystem_ids, dtype="str")})
    if series.empty:
        return table.assign(**{spec.id: np.nan for spec in specs})
    recent = latest_months(series, months)
    for spec in specs:
        rows = recent[recent["outcome_id"].eq(spec.id)].groupby("microsystem_id")
        if spec.kind in ("proportion", "rate"):
            sums = rows[["numerator", "denominator"]].sum(min_count=1)
            value = sums["numerator"] / sums["denominator"] * spec.per
        else:
            value = rows["value"].mean()
        table[spec.id] = table["microsystem_id"].map(value).astype(float)
    return table


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
    frame = frame[["patient_id", "visit", "microsystem_id", "visit_date"]].copy()
    # A visit written 2.0 is visit 2 (the check refused 1.5); read as a number, never with int("2.0").
    frame["visit"] = _whole_numbers(frame, "visit", shown=shown, first_row=2).astype("int64")
    repeated = frame.duplicated(["patient_id", "visit"])
    if repeated.any():
        row = int(repeated.index[repeated.to_numpy()][0])
        raise InputError("expected each visit number once per patient; this patient's visit number appears above",
                         file=shown, row=row + 2, column="visit")
    frame["visit_date"] = _dates(frame, "visit_date", shown=shown, first_row=2)
    if frame.empty:
        return empty_journeys()
    ordered = frame.sort_values(["patient_id", "visit"])
    return _validated(schemas.Journeys, ordered, shown=shown, first_row=2).reset_index(drop=True)


def empty_frame(schema) -> pd.DataFrame:
    """A frame with no rows and the columns and types of ``schema``: a study without that evidence
    (categories of text, as a read frame's, for a categorical column)."""
    frame = schema.validate(pd.DataFrame(columns=list(schema.columns)))
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = from_codes(np.array([], dtype=np.int8), [])
    return frame


def empty_journeys() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series(dtype="str"), "visit": pd.Series(dtype="int64"),
                         "microsystem_id": pd.Series(dtype="str"), "visit_date": pd.Series(dtype="datetime64[ns]")})


def _whole_numbers(frame: pd.DataFrame, column: str, *, shown: str | None, first_row: int | None,
                   label: str | None = None) -> pd.Series:
    """A column of whole numbers (text already checked for form, or numbers) as Int64 (an empty
    cell is missing); a number above :data:`MOST`, which could not be held exactly, is an InputError."""
    cells = frame[column]
    cells = cells.mask(cells.eq("").to_numpy(dtype=bool), None)  # cells are stripped by check_columns
    values = pd.to_numeric(cells, errors="coerce")
    too_large = values.astype("float64").abs().gt(MOST).to_numpy()
    if too_large.any():
        at = frame.index[too_large][0]
        raise _problem(f"expected a whole number of at most {MOST:,}, found {frame[column].loc[at]!r}, which is too "
                       "large to hold", frame, at, column, shown=shown, first_row=first_row, label=label,
                       more=int(too_large.sum()) - 1)
    return values.astype("Int64")


def _dates(frame: pd.DataFrame, column: str, *, shown: str | None, first_row: int | None,
           label: str | None = None) -> pd.Series:
    """ISO dates (already checked for form) as ``datetime64[ns]``; a date outside what that holds
    (:data:`EARLIEST` to :data:`LATEST`) is an InputError, not a wrapped or garbled date."""
    parsed = pd.to_datetime(frame[column], format="ISO8601")
    outside = (parsed.lt(pd.Timestamp.min) | parsed.gt(pd.Timestamp.max)).to_numpy()
    if outside.any():
        at = frame.index[outside][0]
        raise _problem(f"expected a date from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (the dates the workbench can "
                       f"hold), found {frame[column].loc[at]!r}", frame, at, column, shown=shown, first_row=first_row,
                       label=label, more=int(outside.sum()) - 1)
    return parsed.astype("datetime64[ns]")


def _problem(problem: str, frame: pd.DataFrame, at, column: str, *, shown: str | None, first_row: int | None,
             label: str | None, more: int = 0) -> InputError:
    """An InputError at index label ``at`` of a frame: its file row when the index is the file's
    (``first_row`` given), else the ``label`` column's value (an interview id) that names the row."""
    row = int(at) + first_row if first_row is not None else None
    if row is None and label is not None and label in frame.columns:
        problem = f"{label} {frame[label].loc[at]!r}: {problem}"
    return InputError(problem, file=shown, row=row, column=column, more=more)


def _validated(schema: pa.DataFrameSchema, frame: pd.DataFrame, *, shown: str | None = None,
               first_row: int | None = None) -> pd.DataFrame:
    """``schema.validate(frame)``, with a failure as one InputError line (file, row, column, the
    check and the value it failed) rather than pandera's report: the readers check every cell
    before this, so reaching it means a check is missing there."""
    try:
        return schema.validate(frame)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as error:
        raise _schema_problem(schema, error, shown, first_row) from None


def _schema_problem(schema, error, shown: str | None, first_row: int | None) -> InputError:
    """The first failure of a pandera error as an InputError."""
    column = index = None
    found = None
    if isinstance(error, pa.errors.SchemaErrors):
        cases = error.failure_cases
        first = cases.iloc[0] if len(cases) else {}
        column, check = first.get("column"), first.get("check")
        found, index = first.get("failure_case"), first.get("index")
    else:
        if isinstance(error.schema, pa.Column):
            column = error.schema.name
        check = error.check
        check = getattr(check, "error", None) or getattr(check, "name", None) or check or error.reason_code
        cases = error.failure_cases
        if isinstance(cases, pd.DataFrame):
            if len(cases):
                found = cases.iloc[0].get("failure_case")
                index = cases.iloc[0].get("index")
        else:
            found = cases
    row = None
    if first_row is not None and isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        row = int(index) + first_row
    problem = " ".join(f"the {schema.name} data failed the check {str(check)!r}".split())
    if found is not None and not (isinstance(found, float) and np.isnan(found)):
        problem += f" with {' '.join(str(found).split())[:80]!r}"
    return InputError(problem + " (a check the reader should have made first: please report it)", file=shown,
                      row=row, column=column if isinstance(column, str) else None)
