"""The teaching set: five short lessons on clinical microsystems for a 90-minute session.

Lessons run on the bundled demo study. Everything they compute is here; the notebooks
only narrate and call it.

- :mod:`~workbench.teaching.exercises`: the exercise registry, :func:`ask` and :func:`check`;
- :mod:`~workbench.teaching.profile`: a learner's own answers scored and placed among the study's units;
- :mod:`~workbench.teaching.form`: the self-assessment form (ipywidgets) built on it;
- :mod:`~workbench.teaching.cases`: the views lessons 4 and 5 need (a contrasting pair, top against bottom);
- :mod:`~workbench.teaching.generator`: learner and instructor notebooks from the lesson sources.
"""

from workbench.teaching.cases import answer_counts, contrasting_pair, single_item, top_bottom, unit_labels
from workbench.teaching.exercises import EXERCISES, Exercise, Feedback, Question, ask, check, exercise, expected
from workbench.teaching.form import SelfAssessmentForm
from workbench.teaching.generator import LESSONS, generate, lesson_plan
from workbench.teaching.profile import (CANT_RATE, normalise_answers, plot_profile_among, position_among,
                                        profile_from_answers, unit_means)


__all__ = [
    "CANT_RATE", "EXERCISES", "Exercise", "Feedback", "LESSONS", "Question", "SelfAssessmentForm", "answer_counts", "ask", "check",
    "contrasting_pair", "exercise", "expected", "generate", "lesson_plan", "normalise_answers", "plot_profile_among",
    "position_among", "profile_from_answers", "single_item", "top_bottom", "unit_labels", "unit_means",
]
