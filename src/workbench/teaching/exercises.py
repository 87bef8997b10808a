"""The teaching set's exercises and their automatic checks.

One registry, :data:`EXERCISES`, holds each exercise: its question, how the right answer
follows from the study's data (computed with the workbench's own functions, never typed
in), and the hint a learner gets when an answer is not right. A lesson shows a question
with :func:`ask` and checks an answer with :func:`check`; an answer left as ``...``
(Ellipsis) is "not answered yet".

Answers are numbers (compared with the exercise's tolerance) or text naming a
characteristic, an item or a microsystem: by the words a table shows (its label or short
label, a unit's name, or its id and name together) or by its id, whatever the case, spaces
and punctuation. Where several answers are equally right (a tie in the data), any of them is
accepted.

A :class:`Feedback` is Markdown (code in backticks): a notebook renders it as formatted
text that wraps, and plain text keeps the backticks.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd

from workbench.teaching.cases import agreement_policy, characteristic_profiles, single_item, top_bottom
from workbench.teaching.profile import position_among, profile_from_answers, unit_means
from workbench.vocabulary import NOT_SHARED

__all__ = [
    "EXERCISES", "Exercise", "Feedback", "Mistake", "Question", "Status", "ask", "check", "example_information_answers",
    "exercise", "expected",
]

Status = Literal["right", "not quite", "not answered"]
_HEADINGS = {"right": "✔ Right", "not quite": "✘ Not quite", "not answered": "… Not answered yet"}
_NOUNS = {"characteristic": "a characteristic", "item": "an item", "microsystem": "a microsystem"}


@dataclass(frozen=True)
class Feedback:
    """What :func:`check` says about one answer; its text is the same on every run.

    ``message`` is Markdown: a notebook shows the feedback formatted (the heading in bold,
    code in code type, wrapped to the page); its plain text is ``heading: message``.
    """

    exercise_id: str
    status: Status
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def _repr_markdown_(self) -> str:
        return f"**{_HEADINGS[self.status]}:** {self.message}"

    def __repr__(self) -> str:
        return f"{_HEADINGS[self.status]}: {self.message}"

    __str__ = __repr__


@dataclass(frozen=True)
class Question:
    """An exercise's question as shown in a lesson (Markdown in a notebook, plain text elsewhere)."""

    exercise_id: str
    text: str

    def _repr_markdown_(self) -> str:
        return f"**Exercise {self.exercise_id}.** {self.text}"

    def __repr__(self) -> str:
        return f"Exercise {self.exercise_id}. {self.text}"


@dataclass(frozen=True)
class Mistake:
    """A wrong answer worth a message of its own: ``answer(study, **context)`` computes it."""

    answer: Callable[..., object]
    message: str


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    ``solve(study, **context)`` returns the right answer: a number (None when there is
    none), an id, or a set of ids that are all right. ``question``, ``hint`` and ``why``
    (said with a right answer) may name the context in braces, plus ``characteristic_label``,
    ``microsystem_name``, ``microsystem_list``, ``outcome_label`` and ``better``, and the
    study's level scale: ``low`` and ``high`` (its ends), ``top_level`` / ``top_name`` and
    ``next_level`` / ``next_name`` (its two highest levels), ``n_levels`` and ``null_variance``
    (the variance of random answers on it, as a fraction).
    """

    id: str
    question: str
    solve: Callable[..., object]
    hint: str
    kind: Literal["number", "characteristic", "item", "microsystem"] = "number"
    context: tuple[str, ...] = ()
    tolerance: float = 0.0
    decimals: int = 0
    why: str = ""
    mistakes: tuple[Mistake, ...] = ()

    @property
    def lesson(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def answer_name(self) -> str:
        """The variable a lesson's exercise cell assigns, e.g. ``answer_2_1`` for exercise 2.1."""
        return "answer_" + self.id.replace(".", "_")


# ---------------------------------------------------------------------------------------
# How each answer follows from the data.

def _integration_items(study) -> int:
    return sum(item.characteristic == "integration_of_information" for item in study.instrument.items)


def _element(element_id: str) -> Callable:
    """The answer is a framework element chosen by the lesson's author; it must exist in the study's framework."""
    def solve(study) -> str:
        return study.characteristics.element(element_id).id
    return solve


def _most_cant_rate(study) -> frozenset[str]:
    shares = study.view("study_items").set_index("item_id")["cant_rate_share"]
    return _ties(shares, largest=True)


def example_information_answers(study) -> dict[str, int | None]:
    """A colleague's answers to the three information items, for exercise 2.1: the top level
    of the study's scale with providers and staff, can't rate with patients, and the level
    below the top through technology."""
    scale = study.scale
    return {"information_providers_staff": scale.values[-1], "information_patients": None,
            "information_technology": scale.values[-2]}


def _example_score(study) -> float:
    profile = profile_from_answers(example_information_answers(study), study.instrument)
    return float(profile["integration_of_information"])


def _example_score_with_zeros(study) -> float:
    values = [value or 0 for value in example_information_answers(study).values()]
    return sum(values) / len(values)


def _your_position(study, answers):
    profile = profile_from_answers(answers, study.instrument, min_items=study.config.analysis.min_items)
    return position_among(profile, study).set_index("characteristic_id")


def _your_highest(study, answers) -> frozenset[str]:
    return _ties(_your_position(study, answers)["percentile"], largest=True)


def _your_units_above(study, answers, characteristic) -> int | None:
    above = _your_position(study, answers).loc[characteristic, "units_above"]
    return None if _missing(above) else int(above)


def _your_units_above_or_level(study, answers, characteristic) -> int | None:
    row = _your_position(study, answers).loc[characteristic]
    return None if _missing(row["units_above"]) else int(row["units_above"] + row["units_level"])


def _cell(study, microsystem_id, characteristic) -> float | None:
    value = unit_means(study).loc[microsystem_id, characteristic]
    return None if _missing(value) else float(value)


def _weakest_in_row(study, microsystem_id) -> frozenset[str]:
    return _ties(unit_means(study).loc[microsystem_id], largest=False)


def _strongest_in_row(study, microsystem_id) -> frozenset[str]:
    return _ties(unit_means(study).loc[microsystem_id], largest=True)


def _lowest_median(study) -> frozenset[str]:
    return _ties(unit_means(study).median(), largest=False)


def _unit_rwg(study, microsystem_id, characteristic) -> float | None:
    single_item(study, characteristic)  # a characteristic of one item: its agreement index is a plain rwg
    profile = study.view("unit_profiles", microsystem_id=microsystem_id).set_index("characteristic_id")
    value = profile["agreement_index"].get(characteristic)  # blank where too few people answered
    return None if _missing(value) else float(value)


def _unit_rwg_population_variance(study, microsystem_id, characteristic) -> float | None:
    item = single_item(study, characteristic)
    answers = study.answers
    rated = answers.loc[answers["microsystem_id"].eq(microsystem_id) & answers["item_id"].eq(item), "level"].dropna()
    null = study.agreement_policy.null_variance(study.scale)
    return max(0.0, 1 - float(rated.astype("float64").var(ddof=0)) / null) if len(rated) else None


def _agreement_table(study, characteristic, threshold):
    """The characteristic's ``unit_profiles`` rows under the study's policy with ``threshold``."""
    policy = agreement_policy(study, threshold)
    return characteristic_profiles(study, characteristic, policy=policy).set_index("microsystem_id")


def _shown_of_pair(study, microsystem_ids, characteristic, threshold) -> frozenset[str]:
    shared = _agreement_table(study, characteristic, threshold)["shared"]
    return frozenset(m for m in microsystem_ids if bool(shared.get(m, False)))


def _hidden_of_pair(study, microsystem_ids, characteristic, threshold) -> frozenset[str]:
    return frozenset(microsystem_ids) - _shown_of_pair(study, microsystem_ids, characteristic, threshold)


def _hidden_count(study, characteristic, threshold) -> int:
    shared = _agreement_table(study, characteristic, threshold)["shared"].sum()
    return int(len(study.view("unit_overview")) - shared)  # a unit with no profile row at all has no shared view


def _not_shared_count(study, characteristic, threshold) -> int:
    return int(_agreement_table(study, characteristic, threshold)["agreement"].eq(NOT_SHARED).sum())


def _best_unit(study, outcome) -> frozenset[str]:
    values = study.outcomes.set_index("microsystem_id")[outcome].dropna()
    return _ties(values, largest=study.outcome(outcome).better == "higher")


def _worst_unit(study, outcome) -> frozenset[str]:
    values = study.outcomes.set_index("microsystem_id")[outcome].dropna()
    return _ties(values, largest=study.outcome(outcome).better == "lower")


def _contrast(study, outcome, n):
    means = unit_means(study)
    table = top_bottom(means, study.outcomes, outcome=outcome, better=study.outcome(outcome).better, n=n)
    return table.set_index("characteristic_id")


def _largest_contrast(study, outcome, n) -> frozenset[str]:
    return _ties(_contrast(study, outcome, n)["difference"], largest=True)


def _smallest_contrast(study, outcome, n) -> frozenset[str]:
    return _ties(_contrast(study, outcome, n)["difference"], largest=False)


def _largest_difference(study, outcome, n) -> float:
    return float(_contrast(study, outcome, n)["difference"].max())


def _largest_difference_reversed(study, outcome, n) -> float:
    return -_largest_difference(study, outcome, n)


def _ties(values, *, largest: bool) -> frozenset[str]:
    """Every label whose value is the largest (or smallest), so that a tie accepts each of them."""
    values = values.dropna().astype("float64")
    if values.empty:
        return frozenset()
    target = values.max() if largest else values.min()
    return frozenset(values.index[np.isclose(values.to_numpy(), target, rtol=0, atol=1e-9)])


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


# ---------------------------------------------------------------------------------------
# The registry.

_EXERCISES = (
    # Lesson 1: what a microsystem is and its eight characteristics.
    Exercise(
        "1.1", "How many of the self-assessment's items measure **integration of information**? "
               "Answer with a whole number.",
        _integration_items,
        hint="Count the rows of the item table whose characteristic is integration of information: "
             "one characteristic is asked about from more than one side.",
        why="Information is asked about with staff, with patients and through technology; "
            "a person's score on it is the mean of the ones they rated.",
    ),
    Exercise(
        "1.2", "In a dialysis unit, experienced nurses spend much of each shift on tasks an aide could do, and the "
               "unit's pharmacist signs off orders without ever meeting a patient. Which of the eight characteristics "
               "is weak here? Answer with its name as the table shows it, in quotes.",
        _element("alignment_of_role_and_training"), kind="characteristic",
        hint="Compare what each person does with what they were trained and licensed to do.",
        why="When people work below the level of their training, the unit wastes skill and people drift away.",
        mistakes=(Mistake(_element("interdependence_of_care_team"),
                          "teamwork matters here too, but the story is about each person's tasks against their "
                          "training and licence."),),
    ),
    Exercise(
        "1.3", "Which item could the largest share of the study's respondents **not rate**? "
               "Answer with the item's name as the table shows it, in quotes.",
        _most_cant_rate, kind="item",
        hint="In the table of answers per item, find the largest share in the *Can't rate (share)* column.",
        why="A high can't-rate share says that part of the unit is out of sight for many staff: "
            "missing information, not a low score.",
    ),
    # Lesson 2: your own unit's self-assessment.
    Exercise(
        "2.1", "A colleague answers the three information items: **{top_name}** ({top_level}) with providers and "
               "staff, **can't rate** with patients, and **{next_name}** ({next_level}) through technology. What is "
               "her score on integration of information? Two decimals are enough.",
        _example_score, tolerance=0.01, decimals=2,
        hint="Her score is the mean of the items she rated. How many did she rate?",
        why="Can't rate is left out: it says she cannot see that part of the unit, not that it is poor.",
        mistakes=(Mistake(_example_score_with_zeros,
                          "that counts can't rate as a zero. Can't rate is missing information: "
                          "leave it out of the mean."),),
    ),
    Exercise(
        "2.2", "With your own answers: on which characteristic does your unit stand highest among the study's units "
               "(the largest percentile)? Answer with its name as the table shows it, in quotes.",
        _your_highest, kind="characteristic", context=("answers",),
        hint="Read the percentile column of your position table and take its largest value "
             "(any of them if several tie).",
        why="That is where, by your own account, your unit is ahead of most of the study's units.",
    ),
    Exercise(
        "2.3", "With your own answers: on **{characteristic_label}**, how many of the study's units have a higher "
               "mean than your score?",
        _your_units_above, context=("answers", "characteristic"),
        hint="Read the *units above* column of your position table (or count the grey dots to the right of "
             "your diamond); units level with you do not count. If you could not rate it, the answer is `None`.",
        why="Your score is a whole level from one person; the units' means are averages of many staff, "
            "so they fall between levels.",
        mistakes=(Mistake(_your_units_above_or_level,
                          "that includes the units level with your score; count only those strictly above it."),),
    ),
    # Lesson 3: reading a case x characteristic matrix.
    Exercise(
        "3.1", "Reading one cell: what is the mean of **{microsystem_id}** ({microsystem_name}) on "
               "**{characteristic_label}**, to one decimal as the matrix shows it?",
        _cell, context=("microsystem_id", "characteristic"), tolerance=0.05, decimals=1,
        hint="Find the row of {microsystem_id} and the column of {characteristic_label}; "
             "the number where they cross is the unit's mean.",
        why="A cell is one unit's mean on one characteristic: the average of its staff's scores.",
    ),
    Exercise(
        "3.2", "Reading one row: on which characteristic is **{microsystem_id}** ({microsystem_name}) weakest? "
               "Answer with its name as the matrix shows it, in quotes.",
        _weakest_in_row, kind="characteristic", context=("microsystem_id",),
        hint="Read along the row of {microsystem_id} and find its smallest number (the darkest cell).",
        why="A row is one unit's profile: its strengths and weaknesses side by side.",
        mistakes=(Mistake(_strongest_in_row,
                          "that is the unit's strongest characteristic; look for the smallest number in its row."),),
    ),
    Exercise(
        "3.3", "Reading the columns: which characteristic has the lowest **median** across the study's units? "
               "Answer with its name as the table shows it, in quotes.",
        _lowest_median, kind="characteristic",
        hint="The table of how unit means spread gives each characteristic's median over units; "
             "take the smallest.",
        why="A low column says a weakness shared across units and settings, not one unit's problem.",
    ),
    # Lesson 4: agreement before averaging.
    Exercise(
        "4.1", "Compute rwg on **{characteristic_label}** for **{microsystem_id}** ({microsystem_name}): one minus "
               "the variance of its staff's rated answers divided by the variance of random answers on {n_levels} "
               "levels, {null_variance}. Two decimals.",
        _unit_rwg, context=("microsystem_id", "characteristic"), tolerance=0.01, decimals=2,
        hint="Take that unit's rated levels (can't rate left out), their variance with pandas' `.var()`, "
             "then `1 - variance / ({null_variance})`; a result below 0 counts as 0.",
        why="Near 1, the staff share one view; near 0, their answers are as spread as if they had answered "
            "at random.",
        mistakes=(Mistake(_unit_rwg_population_variance,
                          "that divides the squared deviations by n; rwg uses the sample variance, "
                          "divided by n − 1 (the default of pandas' `.var()`)."),),
    ),
    Exercise(
        "4.2", "Of the two units ({microsystem_list}), whose **{characteristic_label}** mean does the feedback report "
               "show as a view its staff share? Answer with its id (or its name), in quotes.",
        _shown_of_pair, kind="microsystem", context=("microsystem_ids", "characteristic", "threshold"),
        hint="The report marks a unit's mean as shared only where its agreement index (rwg) is at least "
             "{threshold} and enough staff answered.",
        why="(Nearly) the same mean, but only in this unit does the number describe a view its staff share.",
        mistakes=(Mistake(_hidden_of_pair,
                          "that unit's staff disagree (rwg below {threshold}), so the report flags its mean as "
                          "not shared."),),
    ),
    Exercise(
        "4.3", "Across all the study's units, how many have no **{characteristic_label}** mean that their feedback "
               "report can call a shared view (agreement not shared, or too few answers)?",
        _hidden_count, context=("characteristic", "threshold"),
        hint="Count the units whose agreement is anything but shared in the agreement table for "
             "{characteristic_label}.",
        why="Each mean without a shared view is a question for the unit itself: why do its staff see the same "
            "unit so differently?",
        mistakes=(Mistake(_not_shared_count,
                          "that counts only *not shared*; units with too few answers have no shared view "
                          "either."),),
    ),
    # Lesson 5: a first cross-case comparison.
    Exercise(
        "5.1", "Which unit has the best **{outcome_label}** ({better} is better)? "
               "Answer with its microsystem id (or its name), in quotes.",
        _best_unit, kind="microsystem", context=("outcome",),
        hint="The ordered matrix puts the best unit at the top; remember that for this outcome {better} is better.",
        why="Ordering cases by an outcome is the first step of a cross-case comparison.",
        mistakes=(Mistake(_worst_unit, "that is the worst unit: for {outcome_label}, {better} is better."),),
    ),
    Exercise(
        "5.2", "On which characteristic do the top {n} units differ most from the bottom {n}? "
               "Answer with its name as the table shows it, in quotes.",
        _largest_contrast, kind="characteristic", context=("outcome", "n"),
        hint="Take the largest value in the difference column of the top-against-bottom table.",
        why="That characteristic goes most with the outcome among these units, which is a lead to follow, "
            "not a cause.",
        mistakes=(Mistake(_smallest_contrast,
                          "that is where the two groups differ least; look for the largest difference."),),
    ),
    Exercise(
        "5.3", "How large is that difference, top minus bottom, in levels? Two decimals.",
        _largest_difference, context=("outcome", "n"), tolerance=0.01, decimals=2,
        hint="Read the difference column on the row of the characteristic you found in 5.2.",
        why="It is in levels of the scale ({low} to {high}); read it against how far the units' means spread "
            "on that characteristic (lesson 3), not against the whole scale.",
        mistakes=(Mistake(_largest_difference_reversed,
                          "the sign is turned round: subtract the bottom group's mean from the top group's."),),
    ),
)

EXERCISES: dict[str, Exercise] = {exercise.id: exercise for exercise in _EXERCISES}


# ---------------------------------------------------------------------------------------
# Asking and checking.

def exercise(exercise_id: str) -> Exercise:
    """The registered exercise ``exercise_id`` (e.g. ``"2.1"``)."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise ValueError(f"exercise_id must be one of {list(EXERCISES)}, got {exercise_id!r}") from None


def _context(found: Exercise, context: dict) -> None:
    missing = [name for name in found.context if name not in context]
    extra = [name for name in context if name not in found.context]
    if missing or extra:
        raise TypeError(f"exercise {found.id} needs the context {list(found.context) or 'none'}; "
                        f"missing {missing}, unexpected {extra}")


def _words(study, context: dict) -> dict:
    """The context, plus the labels a question or hint may name."""
    words = dict(context)
    if study is None:
        return words
    scale = study.scale
    words |= {"low": scale.low, "high": scale.high, "n_levels": scale.n,
              "top_level": scale.values[-1], "top_name": scale.names[-1].lower(),
              "next_level": scale.values[-2], "next_name": scale.names[-2].lower(),
              "null_variance": str(Fraction(study.agreement_policy.null_variance(scale)).limit_denominator(1000))}
    if "characteristic" in context:
        words["characteristic_label"] = study.characteristics.element(context["characteristic"]).label.lower()
    if "microsystem_id" in context:
        words["microsystem_name"] = study.unit(context["microsystem_id"])["name"]
    if "microsystem_ids" in context:
        words["microsystem_list"] = " and ".join(str(m) for m in context["microsystem_ids"])
    if "outcome" in context:
        spec = study.outcome(context["outcome"])
        words["outcome_label"], words["better"] = spec.label.lower(), spec.better
    if "threshold" in context:
        words["threshold"] = f"{float(context['threshold']):.2f}"
    return words


def ask(exercise_id: str, study=None, **context) -> Question:
    """The question of exercise ``exercise_id``, worded for ``study`` and the lesson's ``context``."""
    found = exercise(exercise_id)
    _context(found, context)
    return Question(found.id, found.question.format(**_words(study, context)))


def expected(exercise_id: str, study, **context):
    """The right answer to ``exercise_id`` for ``study``: a number, None, or a set of accepted ids."""
    found = exercise(exercise_id)
    _context(found, context)
    answer = found.solve(study, **context)
    return frozenset([answer]) if isinstance(answer, str) else answer


def check(exercise_id: str, answer, study, **context) -> Feedback:
    """Say whether ``answer`` to exercise ``exercise_id`` is right for ``study``.

    Parameters
    ----------
    exercise_id : the exercise, e.g. ``"2.1"``.
    answer : the learner's answer; ``...`` (Ellipsis) means not answered yet.
    study : the :class:`~workbench.study.Study` the lesson uses; the right answer is computed from it.
    context : what the lesson chose that the question depends on (e.g. ``characteristic="measurement"``).

    Returns
    -------
    :class:`Feedback`: ``✔ Right: ...``, ``✘ Not quite: <hint>`` or ``… Not answered yet: ...``,
    its message in Markdown.

    Examples
    --------
    >>> check("1.1", ..., study=None)
    … Not answered yet: replace the `...` in `answer_1_1 = ...` with your answer, then run that cell and this one again.
    >>> check("1.1", ..., study=None)._repr_markdown_()[:41]
    '**… Not answered yet:** replace the `...`'
    """
    found = exercise(exercise_id)
    if answer is Ellipsis:
        return Feedback(found.id, "not answered",
                        f"replace the `...` in `{found.answer_name} = ...` with your answer, "
                        "then run that cell and this one again.")
    _context(found, context)
    words = _words(study, context)
    right = expected(exercise_id, study, **context)
    if found.kind == "number":
        return _check_number(found, answer, right, study, context, words)
    return _check_choice(found, answer, right, study, context, words)


def _check_number(found: Exercise, answer, right, study, context: dict, words: dict) -> Feedback:
    hint, why = found.hint.format(**words), found.why.format(**words)
    value = _as_number(answer)
    if right is None:
        if answer is None or (value is not None and math.isnan(value)):
            return Feedback(found.id, "right", f"there is no value here. {why}".strip())
        return Feedback(found.id, "not quite", f"there is no value to give here, so the answer is `None`. {hint}")
    if value is None:
        return Feedback(found.id, "not quite", f"answer with a number, not {_code(_shown(answer))}. {hint}")
    close = lambda target: target is not None and abs(value - float(target)) <= found.tolerance + 1e-9  # noqa: E731
    if close(right):
        return Feedback(found.id, "right", f"{_number(right, found.decimals)}. {why}".strip())
    for mistake in found.mistakes:
        if close(mistake.answer(study, **context)):
            return Feedback(found.id, "not quite",
                            f"you gave {_number(value, max(found.decimals, 2))}: {mistake.message.format(**words)}")
    return Feedback(found.id, "not quite", f"you gave {_number(value, max(found.decimals, 2))}. {hint}")


def _check_choice(found: Exercise, answer, right: frozenset, study, context: dict, words: dict) -> Feedback:
    hint, why = found.hint.format(**words), found.why.format(**words)
    names = _options(found.kind, study)
    first = next(iter(names))
    example = _code(repr(names[first][0] if names[first] else first))
    if not isinstance(answer, str):
        return Feedback(found.id, "not quite", f"answer with {_NOUNS[found.kind]}'s name (or id) as text in quotes, "
                                               f"e.g. {example}; you gave {_code(_shown(answer))}. {hint}")
    chosen = _aliases(names).get(_normalise(answer))
    if chosen is None:
        return Feedback(found.id, "not quite", f"{_code(_shown(answer))} is not {_NOUNS[found.kind]} of this study; "
                                               f"use a name (or id) from the tables, e.g. {example}.")
    shown = names[chosen][0] if names[chosen] else chosen
    label = f"{shown} ({_code(chosen)})" if shown != chosen else _code(chosen)
    if chosen in right:
        return Feedback(found.id, "right", f"{label}. {why}".strip())
    for mistake in found.mistakes:
        wrong = mistake.answer(study, **context)
        if chosen in ({wrong} if isinstance(wrong, str) else set(wrong)):
            return Feedback(found.id, "not quite", f"{label}: {mistake.message.format(**words)}")
    return Feedback(found.id, "not quite", f"{label} is not it. {hint}")


def _options(kind: str, study) -> dict[str, tuple[str, ...]]:
    """The ids an answer may name, each with the words it may also be called by, as the
    lessons' tables show them (first: the one to show)."""
    if kind == "characteristic":
        return {e.id: (e.label, e.short) for e in study.characteristics.elements}
    if kind == "item":
        return {i.id: (i.label, i.short) for i in study.instrument.items}
    if kind == "microsystem":
        return {row.microsystem_id: (row.name, f"{row.microsystem_id} {row.name}")
                for row in study.view("unit_overview").itertuples(index=False)}
    raise ValueError(f"kind must be 'number', 'characteristic', 'item' or 'microsystem', got {kind!r}")


def _aliases(names: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Normalised id or label -> the id it names; words that would name two ids name neither."""
    found: dict[str, set[str]] = {}
    for key, labels in names.items():
        for alias in (key, *labels):
            found.setdefault(_normalise(alias), set()).add(key)
    return {alias: next(iter(keys)) for alias, keys in found.items() if len(keys) == 1 and alias}


def _normalise(text: str) -> str:
    """Case, spaces, underscores, dashes and punctuation ignored: ``"Info - staff"`` is ``"info staff"``."""
    return " ".join(re.sub(r"[\W_]+", " ", text.replace("\u2019", "").replace("'", "").casefold()).split())


def _code(text: str) -> str:
    """``text`` as Markdown code (its backticks fenced by more of them)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _as_number(answer) -> float | None:
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


def _number(value, decimals: int) -> str:
    value = float(value)
    if decimals == 0 and value.is_integer():
        return str(int(value))
    return f"{value:.{max(decimals, 1)}f}"


def _shown(answer) -> str:
    """An answer as the learner typed it, short and without numpy's type names."""
    text = repr(answer.item() if isinstance(answer, np.generic) else answer)
    return text if len(text) <= 40 else text[:37] + "..."
