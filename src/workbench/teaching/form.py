"""The learner's self-assessment form: ten questions, and their profile among the study's units."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping

import ipywidgets as widgets
from matplotlib.figure import Figure

from workbench.teaching.profile import (
    normalise_answers,
    plot_profile_among,
    position_among,
    profile_from_answers,
    unit_means,
)
from workbench.vocabulary import CANT_RATE, LevelScale

__all__ = ["SelfAssessmentForm"]


class SelfAssessmentForm(widgets.VBox):
    """Ten toggle-button questions, one per item, beside a plot that follows the answers.

    Each question shows the item, its level descriptions (from the instrument's YAML) and
    one button per level (named as the instrument names them) plus can't rate. Every change
    rescores the answers (:func:`profile_from_answers`, with the study's ``min_items``),
    places them among the study's units (:func:`position_among`) and redraws the plot on the
    study's level scale, shown as an image beside the questions.
    (An image widget rather than an ``Output`` widget: executing a notebook whose cell
    writes into an ``Output`` widget can hang nbclient, jupyter/nbclient#312.)

    Parameters
    ----------
    study : the :class:`~workbench.study.Study` to compare with.
    answers : item id -> level or None (can't rate) to start from; items left out start unanswered.
    instrument : the self-assessment to ask (default: the study's own).

    Attributes
    ----------
    choices : item id -> its ``ToggleButtons``; set ``.value`` (a level, or ``CANT_RATE``) to answer.
    answers : item id -> level, or None for can't rate and for unanswered items.
    profile, position, figure : the latest score per characteristic, its position table and plot.
    summary, image : the widgets showing how many items are rated, and the plot (PNG).

    Examples
    --------
    Skipped as a doctest: it needs a built study (``workbench build --study demo``).

    >>> from workbench.study import open_study
    >>> form = SelfAssessmentForm(open_study("demo"))  # doctest: +SKIP
    >>> form.choices["measurement"].value = 3  # doctest: +SKIP
    >>> float(form.profile["measurement"])  # doctest: +SKIP
    3.0
    """

    def __init__(self, study, *, answers: Mapping[str, object] | None = None, instrument=None):
        super().__init__()
        self.study = study
        self.instrument = instrument if instrument is not None else study.instrument
        self.means = unit_means(study)
        self.choices: dict[str, widgets.ToggleButtons] = {}
        self._holding = False
        scale = LevelScale.of(self.instrument)
        level_names = {value: name[:1].upper() + name[1:] for value, name in zip(scale.values, scale.names)}
        questions = []
        for number, item in enumerate(self.instrument.items, start=1):
            ladder = "".join(f"<li><b>{html.escape(level_names[value])}</b>: {html.escape(item.levels[value])}</li>"
                             for value in scale.values)
            choice = widgets.ToggleButtons(
                options=[*((level_names[value], value) for value in scale.values),
                         (self.instrument.cant_rate_label, CANT_RATE)],
                value=None, style={"button_width": "6.5em"},
            )
            choice.observe(self._changed, names="value")
            self.choices[item.id] = choice
            heading = widgets.HTML(f"<b>{number}. {html.escape(item.label)}</b><ul style='margin:0'>{ladder}</ul>")
            questions.append(widgets.VBox([heading, choice]))
        self.summary = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%"))
        self.children = [
            widgets.HTML("<b>Your unit's self-assessment.</b> For each item choose the description closest to "
                         "how your unit works today, or <i>can't rate</i> when you cannot see that part of it. "
                         "The plot follows your answers."),
            widgets.HBox([widgets.VBox(questions, layout=widgets.Layout(width="52%")),
                          widgets.VBox([self.summary, self.image], layout=widgets.Layout(width="48%"))]),
        ]
        if answers:
            self.set_answers(answers)
        else:
            self._refresh()

    @property
    def answers(self) -> dict[str, int | None]:
        """Item id -> the level chosen, or None (can't rate, or not answered yet)."""
        return {
            item_id: (choice.value if choice.value != CANT_RATE else None) for item_id, choice in self.choices.items()
        }

    def set_answers(self, answers: Mapping[str, object]) -> None:
        """Answer every item named in ``answers`` at once (None or ``"cant_rate"``: can't rate), then redraw once."""
        clean = normalise_answers(answers, self.instrument)
        self._holding = True
        try:
            for item_id, choice in self.choices.items():
                if item_id in answers:
                    choice.value = clean[item_id] if clean[item_id] is not None else CANT_RATE
        finally:
            self._holding = False
        self._refresh()

    def _changed(self, change) -> None:
        if not self._holding:
            self._refresh()

    def _refresh(self) -> None:
        answers = self.answers
        self.profile = profile_from_answers(answers, self.instrument, min_items=self.study.config.analysis.min_items)
        self.position = position_among(self.profile, self.study, means=self.means)
        self.figure = Figure(figsize=(7, 5), layout="constrained")
        ax = self.figure.subplots()
        plot_profile_among(self.position, self.means, scale=self.study.scale, ax=ax)
        ax.set_title(f"Your answers among the {len(self.means)} units of the {self.study.id} study")
        png = io.BytesIO()
        self.figure.savefig(png, format="png", dpi=80)
        self.image.value = png.getvalue()
        rated = sum(value is not None for value in answers.values())
        self.summary.value = (f"{rated} of {len(answers)} items rated; can't rate and unanswered items are left out "
                              f"of the scores (the grey dots: the study's {len(self.means)} unit means).")
