"""The teaching set: five short lessons on clinical microsystems for a 90-minute session.

Lessons run on the bundled demo study. Everything they compute is here or in the study's
views (:mod:`workbench.views`); the notebooks only narrate and call it. Level values and
labels come from the study's scale, what may be shown from its disclosure policy, and
agreement verdicts from an agreement policy (:mod:`workbench.vocabulary`).

- :mod:`~workbench.teaching.exercises`: the exercise registry, :func:`ask` and :func:`check`;
- :mod:`~workbench.teaching.profile`: a learner's own answers scored and placed among the study's units;
- :mod:`~workbench.teaching.form`: the self-assessment form (ipywidgets) built on it;
- :mod:`~workbench.teaching.cases`: what lessons 4 and 5 need (profiles under a chosen policy, a contrasting
  pair, answer counts, top against bottom);
- :mod:`~workbench.teaching.generator`: learner and instructor notebooks from the lesson sources.
"""

from workbench.teaching.cases import (
    agreement_policy,
    answer_columns,
    answer_counts,
    characteristic_profiles,
    contrasting_pair,
    single_item,
    top_bottom,
    unit_labels,
)
from workbench.teaching.exercises import EXERCISES, Exercise, Feedback, Question, ask, check, exercise, expected
from workbench.teaching.form import SelfAssessmentForm
from workbench.teaching.generator import LESSONS, generate, lesson_plan
from workbench.teaching.profile import (
    normalise_answers,
    plot_profile_among,
    position_among,
    profile_from_answers,
    unit_means,
)
from workbench.vocabulary import CANT_RATE

__all__ = [
    "CANT_RATE", "EXERCISES", "LESSONS", "Exercise", "Feedback", "Question", "SelfAssessmentForm", "agreement_policy",
    "answer_columns", "answer_counts", "ask", "characteristic_profiles", "check", "contrasting_pair", "exercise",
    "expected", "generate", "lesson_plan", "normalise_answers", "plot_profile_among", "position_among",
    "profile_from_answers", "single_item", "top_bottom", "unit_labels", "unit_means",
]
