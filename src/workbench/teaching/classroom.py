"""A class's own profile: learners' self-assessments saved to a shared folder and read back as one group.

In lesson 2 each learner answers the self-assessment for a unit they know, and may submit it
(the Submit button of :class:`~workbench.teaching.form.SelfAssessmentForm`). A submission is
one JSON file in the class folder the instructor names (the lesson's ``class_folder``
parameter, or ``$WORKBENCH_CLASS``):

- one file per learner, named by a random code (``secrets.token_hex(4)``: ``3fa2c91b.json``)
  that only the learner's own screen shows; no name, time or anything else about the learner
  is stored, only the code, the instrument's id and the ten answers;
- written atomically (:func:`workbench.io.files.write_text_atomic`: a temporary file in the
  same folder, then ``os.replace``), so a reader sees a whole submission or none; submitting
  again with the same code replaces the learner's file.

The instructor's class view (``notebooks/class-view.ipynb``) reads every submission
(:func:`read_class`: a file that is not a whole, valid submission is skipped and counted, with
a one-line reason), scores every learner as any respondent of a study is scored
(:func:`workbench.survey.respondent_scores`: the mean of the items rated, can't rate missing)
and shows the class as one group against the study's units (:func:`class_view`,
:func:`plot_class_among`), under the study's disclosure policy (``study.disclosure``, whose
``min_cell_size`` is k):

- with fewer than k submissions, nothing is shown but their number;
- a characteristic scored by fewer than k learners is blank (and, when the policy says
  ``unanimous: hide``, one every learner scored alike);
- learners' own scores appear only as an unlabelled, sorted strip of dots, never with a code
  and never for fewer than k learners. A learner's own profile is highlighted only on their
  own screen (``own=`` of :func:`plot_class_among`, which the form passes).

Examples
--------
>>> import tempfile
>>> from workbench.frameworks import load_instrument
>>> tool = load_instrument("microsystem_self_assessment")
>>> scratch = tempfile.TemporaryDirectory()
>>> folder = Path(scratch.name)
>>> path = submit(folder, {"measurement": 3, "constancy_of_purpose": "cant_rate"}, tool, code="3fa2c91b")
>>> path.name
'3fa2c91b.json'
>>> room = read_class(folder, tool)
>>> room.submissions, room.learners, len(room.skipped)
(1, ['3fa2c91b'], 0)
>>> scratch.cleanup()
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench import survey
from workbench.errors import InputError
from workbench.frameworks import Instrument
from workbench.io.files import check_regular_file, read_input_bytes, write_text_atomic
from workbench.plotting import rows_on_level_scale
from workbench.teaching.profile import draw_unit_means, normalise_responses, position_among, unit_means
from workbench.vocabulary import CANT_RATE, LEVEL, NO_ANSWER, DisclosurePolicy, LevelScale

__all__ = [
    "CLASS_VARIABLE", "MAX_SUBMISSION_BYTES", "SUBMISSION_FORMAT", "SUBMISSION_VERSION", "ClassAnswers", "ClassView",
    "class_folder", "class_view", "learner_scores", "new_code", "plot_class_among", "read_class", "submission_path",
    "submit",
]

CLASS_VARIABLE = "WORKBENCH_CLASS"
SUBMISSION_FORMAT = "workbench-class-submission"
SUBMISSION_VERSION = 1
MAX_SUBMISSION_BYTES = 64 * 1024  # ten answers take a few hundred bytes
_CODE = re.compile(r"[0-9a-f]{8}")
_CLASS_COLOUR = "#1f77b4"
_OWN_COLOUR = "#d62728"


# --- the class folder and one learner's submission -------------------------------------------------


def class_folder(folder: str | Path | None = None) -> Path | None:
    """The class folder: ``folder`` when given, else ``$WORKBENCH_CLASS`` when set, else None (nothing is saved).

    Examples
    --------
    >>> class_folder("/srv/class-2025-06-12").as_posix()
    '/srv/class-2025-06-12'
    """
    chosen = folder if folder not in (None, "") else os.environ.get(CLASS_VARIABLE) or None
    return None if chosen is None else Path(chosen).expanduser()


def new_code() -> str:
    """A learner's random code: 8 hex digits (``secrets.token_hex(4)``), e.g. ``'3fa2c91b'``."""
    return secrets.token_hex(4)


def submission_path(folder: str | Path, code: str) -> Path:
    """Where the learner with ``code`` has their submission: ``<folder>/<code>.json``."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(f"code must be 8 lowercase hex digits (as new_code() gives), got {code!r}")
    return Path(folder) / f"{code}.json"


def submit(folder: str | Path, responses: Mapping[str, object], instrument: Instrument, *,
           code: str | None = None) -> Path:
    """Save one learner's answers in the class ``folder`` as ``<code>.json``, atomically; return its path.

    Parameters
    ----------
    folder : the class folder (it must exist: the instructor makes it, so a mistyped path is an error
        rather than a folder nobody reads).
    responses : item id -> a level of the instrument's scale, ``"cant_rate"`` (or ``"can't rate"``) for
        can't rate, or None for not answered; items left out are not answered. At least one item must
        be answered.
    instrument : the self-assessment answered (its id is saved, so the class view can refuse others).
    code : the learner's code; the same code again replaces that learner's file. None: a new code,
        not yet used in the folder.

    The file holds the format's name and version, the instrument's id, the code and the answers;
    nothing else about the learner.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"class folder {str(folder)!r} does not exist (or is not a folder); the instructor "
                         f"makes it and names it in class_folder or ${CLASS_VARIABLE}")
    answers = normalise_responses(responses, instrument)
    if all(value is None for value in answers.values()):
        raise ValueError("nothing to submit: answer at least one item (a level, or can't rate)")
    if code is None:
        code = new_code()
        while submission_path(folder, code).exists():  # 2**32 codes: a clash is rare, but never overwrite
            code = new_code()
    path = submission_path(folder, code)
    document = {"format": SUBMISSION_FORMAT, "version": SUBMISSION_VERSION, "instrument": instrument.id,
                "code": code, "answers": answers}
    write_text_atomic(path, json.dumps(document, indent=1) + "\n")
    return path


# --- reading the class ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClassAnswers:
    """Every whole submission of a class folder, and the files skipped.

    Attributes
    ----------
    folder : the class folder read (None: no class folder was named).
    instrument : the self-assessment the submissions answer.
    answers : long, one row per learner and item: ``learner`` (code), ``item_id``, ``characteristic_id``,
        ``answer`` (``level``, ``cant_rate`` or ``no_answer``), ``level`` (Int64, <NA> unless a level).
    skipped : ``file`` (name in the folder), ``reason`` (one line), one row per file not read.
    """

    folder: Path | None
    instrument: Instrument
    answers: pd.DataFrame
    skipped: pd.DataFrame

    @property
    def learners(self) -> list[str]:
        """The learners' codes, sorted."""
        return sorted(self.answers["learner"].unique().tolist())

    @property
    def submissions(self) -> int:
        return int(self.answers["learner"].nunique())

    def summary(self) -> str:
        where = f" in {self.folder}" if self.folder is not None else " (no class folder named)"
        skipped = f"; {_counted(len(self.skipped), 'file')} skipped" if len(self.skipped) else ""
        return f"{_counted(self.submissions, 'submission')}{where}{skipped}"

    def __repr__(self) -> str:
        return f"ClassAnswers({self.summary()})"


_ANSWER_COLUMNS = ["learner", "item_id", "characteristic_id", "answer", "level"]


def read_class(folder: str | Path | None, instrument: Instrument) -> ClassAnswers:
    """Every learner's submission in the class ``folder`` (see :func:`submit`).

    Files whose names start with a dot are ignored: they are submissions still being written
    (:func:`~workbench.io.files.atomic_path`'s temporary files). Every other entry is either a
    whole, valid submission for ``instrument`` or skipped with a one-line reason: a name that
    is not ``<code>.json``, a folder or other non-file, a file over
    :data:`MAX_SUBMISSION_BYTES`, text that is not UTF-8 JSON, another format or version,
    another instrument, a code that differs from the file's name, unknown items or levels,
    nothing answered.

    ``folder`` None (no class folder named) reads as an empty class; a folder that does not
    exist is a ValueError, so a mistyped path is not read as a class nobody joined.

    Returns
    -------
    :class:`ClassAnswers`.
    """
    folder = None if folder is None else Path(folder)
    records: list[dict] = []
    skipped: list[dict] = []
    if folder is not None:
        if not folder.is_dir():
            raise ValueError(f"class folder {str(folder)!r} does not exist (or is not a folder); expected the "
                             f"folder named in class_folder or ${CLASS_VARIABLE} - check the path")
        characteristic_of = {item.id: item.characteristic for item in instrument.items}
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name.startswith("."):
                continue
            try:
                answers = _read_submission(entry, instrument)
            except _Malformed as problem:
                skipped.append({"file": entry.name, "reason": str(problem)})
                continue
            code = entry.name.removesuffix(".json")
            for item_id, value in answers.items():
                kind = LEVEL if isinstance(value, int) else CANT_RATE if value == CANT_RATE else NO_ANSWER
                records.append({"learner": code, "item_id": item_id, "characteristic_id": characteristic_of[item_id],
                                "answer": kind, "level": value if kind == LEVEL else None})
    answers = pd.DataFrame(records, columns=_ANSWER_COLUMNS).astype(
        {"learner": "object", "item_id": "object", "characteristic_id": "object", "answer": "object"})
    answers["level"] = pd.array(answers["level"].tolist(), dtype="Int64")
    return ClassAnswers(folder, instrument, answers, pd.DataFrame(skipped, columns=["file", "reason"]))


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class _Malformed(Exception):
    """A file in the class folder that is not a whole, valid submission (the message: why, in one line)."""


def _read_submission(path: Path, instrument: Instrument) -> dict[str, int | str | None]:
    if not path.name.endswith(".json") or not _CODE.fullmatch(path.name.removesuffix(".json")):
        raise _Malformed("not a submission: expected a name of 8 hex digits and .json, as the form saves")
    try:
        size = check_regular_file(path).st_size
        if size > MAX_SUBMISSION_BYTES:
            raise _Malformed(f"{size:,} bytes; expected a submission of at most {MAX_SUBMISSION_BYTES:,} bytes")
        data = read_input_bytes(path)
    except InputError as error:
        raise _Malformed(error.problem) from None
    except OSError as error:
        raise _Malformed(f"the file cannot be read ({error.strerror or error})") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Malformed("expected UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise _Malformed(f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(document, dict) or document.get("format") != SUBMISSION_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise _Malformed(f"not a class submission: expected format {SUBMISSION_FORMAT!r}, found {found!r}")
    if document.get("version") != SUBMISSION_VERSION:
        raise _Malformed(f"expected version {SUBMISSION_VERSION}, found {document.get('version')!r}")
    if document.get("instrument") != instrument.id:
        raise _Malformed(f"answers instrument {document.get('instrument')!r}, not this study's {instrument.id!r}")
    code = path.name.removesuffix(".json")
    if document.get("code") != code:
        raise _Malformed(f"its code {document.get('code')!r} differs from its file name ({code})")
    answers = document.get("answers")
    if not isinstance(answers, dict):
        raise _Malformed(f"expected answers as an object of item id -> level, found {type(answers).__name__}")
    unknown = [item_id for item_id in answers if item_id not in instrument.item_ids]
    if unknown:
        raise _Malformed(f"answers items {unknown[:3]}{' ...' if len(unknown) > 3 else ''}, which "
                         f"{instrument.id!r} does not ask")
    if any(isinstance(value, bool) or (isinstance(value, str) and value != CANT_RATE) for value in answers.values()):
        bad = next(k for k, v in answers.items() if isinstance(v, bool) or (isinstance(v, str) and v != CANT_RATE))
        raise _Malformed(f"answers[{bad!r}] is {answers[bad]!r}; expected a level, {CANT_RATE!r} or null")
    try:
        clean = normalise_responses(answers, instrument)
    except (TypeError, ValueError) as error:
        raise _Malformed(" ".join(str(error).split())) from None
    if all(value is None for value in clean.values()):
        raise _Malformed("no item answered")
    return clean


def learner_scores(room: ClassAnswers, *, min_items: int = 1) -> pd.DataFrame:
    """Every learner's score on every characteristic, as :func:`workbench.survey.respondent_scores` scores a
    respondent: ``learner``, ``characteristic_id``, ``n_items``, ``n_rated``, ``n_cant_rate``, ``score``
    (NaN where fewer than ``min_items`` items were rated). These carry the learners' codes: show them only
    through :func:`class_view`."""
    columns = ["learner", "characteristic_id", "n_items", "n_rated", "n_cant_rate", "score"]
    if room.answers.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else "object") for c in columns})
    long = room.answers.rename(columns={"learner": "respondent_id"}).assign(microsystem_id="class", role="learner")
    scores = survey.respondent_scores(long, min_items=min_items)
    return scores.rename(columns={"respondent_id": "learner"})[columns]


# --- the class as one group -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClassView:
    """The class's answers as one group beside a study's units, with the disclosure policy applied.

    Attributes
    ----------
    submissions : how many whole submissions were read.
    skipped : the files skipped and why (``file``, ``reason``).
    disclosure : the study's policy; ``disclosure.min_cell_size`` is k.
    profile : one row per characteristic: ``characteristic_id``, ``characteristic`` (label), ``learners``
        (learners with a score; <NA> while there are fewer than k submissions), ``shown`` (bool), the
        class's ``class_mean``, ``class_q1``, ``class_median``, ``class_q3`` (NaN where not shown), the
        class mean's place among the units (``units``, ``units_below``, ``units_level``, ``units_above``,
        ``percentile``, as :func:`position_among` gives) and the units' ``units_min`` ... ``units_max``.
    scores : the learners' scores on the shown characteristics, without codes and sorted:
        ``characteristic_id``, ``score``.
    folder : the class folder read; study_id, units: the study compared with and its number of units.
    """

    submissions: int
    skipped: pd.DataFrame
    disclosure: DisclosurePolicy
    profile: pd.DataFrame
    scores: pd.DataFrame
    folder: Path | None = None
    study_id: str = ""
    units: int = 0

    @property
    def shown(self) -> bool:
        """Whether there are enough submissions (k) to show anything but their number."""
        return self.submissions >= self.disclosure.min_cell_size

    def summary(self) -> str:
        """One line: how many submissions, and what the small-group rule lets the view show."""
        k = self.disclosure.min_cell_size
        if self.folder is None:
            text = ("No class folder: name one in class_folder (or $WORKBENCH_CLASS) to gather the class's "
                    "self-assessments")
        elif not self.shown:
            text = (f"{_counted(self.submissions, 'submission')} so far: the class profile "
                    f"is shown from {k} on (the study's smallest group), so that no learner's answers can be "
                    "picked out")
        else:
            blank = int((~self.profile["shown"]).sum())
            text = (f"{self.submissions} submissions: the class as one group against the study's {self.units} units"
                    + (f"; {_counted(blank, 'characteristic')} scored by fewer than {k} learners "
                       "left blank" if blank else ""))
        if len(self.skipped):
            text += f" ({_counted(len(self.skipped), 'file')} skipped: see the list)"
        return text + "."

    def table(self) -> pd.DataFrame:
        """The profile for people to read: ``characteristic``, ``learners`` (text; ``<k`` below the rule),
        ``class_mean``, ``class_median``, ``percentile`` (the class mean's, among the units) and
        ``units_median``; blank where not shown."""
        table = self.profile[["characteristic", "learners", "class_mean", "class_median", "percentile",
                              "units_median"]].copy()
        counts = self.profile["learners"]
        table["learners"] = (self.disclosure.count_text(counts.fillna(0)) if self.shown
                             else [None] * len(table))
        return table.set_index("characteristic")

    def skipped_table(self) -> pd.DataFrame:
        """The files skipped, one line each (``file``, ``reason``)."""
        return self.skipped.set_index("file")

    def skipped_list(self) -> _Lines:
        """The files skipped for people to read: one line per file and its reason, or that none was."""
        if not len(self.skipped):
            return _Lines(["No file in the class folder was skipped."])
        return _Lines([f"{_counted(len(self.skipped), 'file')} in the class folder skipped:",
                       *(f"{row.file}: {row.reason}" for row in self.skipped.itertuples())], listed=True)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p class='workbench-class-summary'><b>{html.escape(self.summary())}</b></p>"


class _Lines:
    """Lines for a notebook to show: a paragraph (and a list under it), or plain text."""

    def __init__(self, lines: list[str], *, listed: bool = False):
        self.lines, self.listed = lines, listed

    def _repr_html_(self) -> str:
        head, *rest = self.lines
        items = "".join(f"<li>{html.escape(line)}</li>" for line in rest)
        return f"<p class='workbench-skipped'>{html.escape(head)}</p>" + (f"<ul>{items}</ul>" if items else "")

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def class_view(room: ClassAnswers, study, *, means: pd.DataFrame | None = None) -> ClassView:
    """The class as one group against ``study``'s units, under ``study.disclosure``.

    Each learner is scored as any respondent (:func:`learner_scores`, with the study's
    ``min_items``). A characteristic is shown when there are at least k (``min_cell_size``)
    submissions and at least k learners have a score on it (and, when the policy says
    ``unanimous: hide``, not all alike); there, the class mean, quartiles and the anonymous
    sorted scores are kept, and the class mean is placed among the units (:func:`position_among`).

    Parameters
    ----------
    room : :func:`read_class` output.
    study : the :class:`~workbench.study.Study` whose units, scale and disclosure policy to use.
    means : the study's unit means, if already computed (:func:`unit_means`).

    Returns
    -------
    :class:`ClassView`.
    """
    if room.instrument.id != study.instrument.id:
        raise ValueError(f"the class answered {room.instrument.id!r}, but study {study.id!r} asked "
                         f"{study.instrument.id!r}; read the class with the study's instrument")
    means = unit_means(study) if means is None else means
    policy = study.disclosure
    k = policy.min_cell_size
    scores = learner_scores(room, min_items=study.config.analysis.min_items)
    wide = scores.pivot(index="learner", columns="characteristic_id", values="score") if len(scores) else None
    rows, kept = {}, []
    for characteristic in means.columns:
        values = (wide[characteristic].dropna().to_numpy(dtype="float64")
                  if wide is not None and characteristic in wide else np.array([]))
        alike = len(values) > 0 and np.ptp(values) == 0
        show = room.submissions >= k and len(values) >= k and not (alike and policy.unanimous == "hide")
        row = {"learners": len(values) if room.submissions >= k else pd.NA, "shown": show}
        if show:
            q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
            row |= {"class_mean": float(values.mean()), "class_q1": float(q1), "class_median": float(median),
                    "class_q3": float(q3)}
            kept.append(pd.DataFrame({"characteristic_id": characteristic, "score": np.sort(values)}))
        else:
            row |= dict.fromkeys(["class_mean", "class_q1", "class_median", "class_q3"], np.nan)
        rows[characteristic] = row
    class_means = pd.Series({c: row["class_mean"] for c, row in rows.items()}, dtype="float64")
    position = position_among(class_means, study, means=means).rename(columns={"your_score": "class_mean"})
    extra = pd.DataFrame.from_dict(rows, orient="index").drop(columns="class_mean")
    profile = position.join(extra, on="characteristic_id")
    profile["learners"] = profile["learners"].astype("Int64")
    profile["shown"] = profile["shown"].astype(bool)
    order = ["characteristic_id", "characteristic", "learners", "shown", "class_mean", "class_q1", "class_median",
             "class_q3", "units", "units_below", "units_level", "units_above", "percentile", "units_min", "units_q1",
             "units_median", "units_q3", "units_max"]
    empty = pd.DataFrame({"characteristic_id": pd.Series(dtype="object"), "score": pd.Series(dtype="float64")})
    anonymous = pd.concat(kept, ignore_index=True) if kept else empty
    return ClassView(room.submissions, room.skipped, policy, profile[order], anonymous, folder=room.folder,
                     study_id=study.id, units=len(means))


# --- the picture ------------------------------------------------------------------------------------


def plot_class_among(view: ClassView, means: pd.DataFrame, *, scale: LevelScale, ax=None,
                     own: pd.Series | Mapping[str, float] | None = None, own_label: str = "you"):
    """The class against the study's units, one row per characteristic, on the instrument's level ``scale``.

    In each row's upper lane, the study's unit means as grey dots with their middle half (bar) and
    median (tick), as in :func:`~workbench.teaching.profile.plot_profile_among`; in the lower lane,
    the class: each learner's score as a small blue dot (unlabelled, sorted), the class's middle half
    as a blue bar and its mean as a blue square, with the number of learners beside it. A
    characteristic the view does not show says why instead (fewer than k learners); with fewer
    than k submissions the lane is empty and a note says how many there are. ``own`` (a learner's
    own profile, for their own screen only) adds a red diamond.

    ``view`` is :func:`class_view` output; ``means`` the :func:`unit_means` it compared with.
    Dots are spread by a fixed pattern, so the same data always draw the same picture.
    """
    ax = ax or plt.gca()
    rows = view.profile.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1].astype("float64")
    units_at, class_at = ys + 0.17, ys - 0.2
    k = view.disclosure.min_cell_size
    draw_unit_means(rows, means, units_at, ax=ax, height=0.22,
                    unit_label=f"a unit of the {view.study_id or 'study'} study (its staff's mean)")
    labelled = False
    for y, characteristic in zip(class_at, rows["characteristic_id"]):
        values = view.scores.loc[view.scores["characteristic_id"] == characteristic, "score"].to_numpy()
        spread = ((np.arange(len(values)) * 0.381966) % 1 - 0.5) * 0.16
        ax.scatter(values, y + spread, s=10, color=_CLASS_COLOUR, alpha=0.55, zorder=2,
                   label=None if labelled or not len(values) else "a learner of the class (no codes)")
        labelled |= bool(len(values))
    shown = rows["shown"].to_numpy(dtype=bool)
    if shown.any():
        ax.hlines(class_at[shown], rows.loc[shown, "class_q1"], rows.loc[shown, "class_q3"], color=_CLASS_COLOUR,
                  linewidth=6, alpha=0.3, zorder=1, label="middle half of the class")
        ax.scatter(rows.loc[shown, "class_mean"], class_at[shown], marker="s", s=45, color=_CLASS_COLOUR,
                   edgecolor="white", zorder=4, label="class mean", gid="class-mean")
    if own is not None:
        own_scores = pd.Series(own, dtype="float64").reindex(rows["characteristic_id"]).to_numpy()
        ax.scatter(own_scores, class_at, marker="D", s=55, color=_OWN_COLOUR, edgecolor="white", zorder=5,
                   label=own_label, gid="own-profile")
    span = scale.high - scale.low
    note_at = scale.high + 0.1 * span
    counts = view.disclosure.count_text(rows["learners"].fillna(0)) if view.shown else [""] * len(rows)
    counts = ["none" if count == "0" else count for count in counts]
    for y, is_shown, count in zip(class_at, shown, counts):
        if is_shown:
            ax.text(note_at, y, f"{count} learners", va="center", ha="left", fontsize=8, color=_CLASS_COLOUR)
        elif view.shown:
            ax.text(note_at, y, f"{count}: blank", va="center", ha="left", fontsize=8, color="#555555",
                    style="italic")
    rows_on_level_scale(ax, ys, list(rows["characteristic"]), scale=scale, right=scale.high + 0.38 * span)
    if not view.shown:
        message = (f"{_counted(view.submissions, 'submission')} so far:\n"
                   f"the class is shown from {k} on")
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=11,
                color=_CLASS_COLOUR, bbox={"facecolor": "white", "edgecolor": _CLASS_COLOUR, "alpha": 0.9})
    ax.set_xlabel("score")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.13), ncol=2, fontsize=8, frameon=False)
    return ax
