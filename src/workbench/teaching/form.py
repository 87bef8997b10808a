"""The learner's self-assessment form: ten questions, their profile among the study's units, and
(with a class folder) a Submit button that adds their answers to the class's own profile.

Where widgets cannot run (a notebook rendered by nbconvert, a repository's preview, a printed
copy) the form shows as a static form instead (:func:`static_form_html`): the ten items, each
with its level descriptions and an empty box (☐) per description and for can't rate.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path

import ipywidgets as widgets
from matplotlib.figure import Figure

from workbench.frameworks import Instrument
from workbench.teaching import classroom
from workbench.teaching.profile import (
    normalise_answers,
    normalise_responses,
    plot_profile_among,
    position_among,
    profile_from_answers,
    unit_means,
)
from workbench.vocabulary import CANT_RATE, LevelScale

__all__ = ["SelfAssessmentForm", "static_form_html"]

EMPTY_BOX, TICKED_BOX = "\u2610", "\u2612"  # ☐ and ☒


def _level_names(instrument: Instrument) -> dict[int, str]:
    scale = LevelScale.of(instrument)
    return {value: name[:1].upper() + name[1:] for value, name in zip(scale.values, scale.names)}


def static_form_html(instrument: Instrument, responses: Mapping[str, object] | None = None, *,
                     study_id: str | None = None) -> str:
    """The self-assessment as a static HTML form (a fragment for a notebook's output, not a page).

    Every item of ``instrument`` in order, with each level's name and description (from the
    instrument's YAML) and "can't rate", each behind a box: ☐, or ☒ where ``responses`` (item id ->
    a level, ``"cant_rate"`` or None) chose it. This is what a rendered notebook shows in place of
    the interactive form; the printable paper form is :func:`workbench.form.form_html`.

    Examples
    --------
    >>> from workbench.frameworks import load_instrument
    >>> page = static_form_html(load_instrument("microsystem_self_assessment"))
    >>> page.count("\u2610"), page.count("\u2612")
    (40, 0)
    """
    chosen = normalise_responses(responses or {}, instrument)
    names = _level_names(instrument)

    def box(item_id: str, value) -> str:
        return TICKED_BOX if chosen.get(item_id) == value else EMPTY_BOX

    items = []
    for item in instrument.items:
        rows = "".join(f"<tr><td>{box(item.id, value)}</td><td><b>{html.escape(names[value])}</b></td>"
                       f"<td>{html.escape(item.levels[value])}</td></tr>" for value in names)
        rows += (f"<tr><td>{box(item.id, CANT_RATE)}</td>"
                 f"<td colspan='2'><i>{html.escape(instrument.cant_rate_label)}</i></td></tr>")
        items.append(f"<li><b>{html.escape(item.label)}</b><table>{rows}</table></li>")
    where = f" ({html.escape(study_id)} study)" if study_id else ""
    return (f"<div class='workbench-static-form'>{_STATIC_STYLE}<p><b>{html.escape(instrument.title)}</b>{where}: "
            "tick one box per item, the description closest to how your unit works today, or "
            f"<i>{html.escape(instrument.cant_rate_label)}</i> when you cannot see that part of its work. "
            "<i>This is a static copy of the form: run the notebook, or open the lesson as an app "
            f"(<code>make lessons</code>), to answer it on screen.</i></p><ol>{''.join(items)}</ol></div>")


# Scoped to the form; notebook pages right-align table cells, which a form must not do.
_STATIC_STYLE = ("<style>.workbench-static-form ol {padding-left: 1.6em} .workbench-static-form li {margin: 0 0 0.6em} "
                 ".workbench-static-form table {border-collapse: collapse; margin: 0.2em 0 0} "
                 ".workbench-static-form table td {text-align: left !important; vertical-align: top; "
                 "padding: 0.1em 0.6em 0.1em 0; border: none}</style>")


class SelfAssessmentForm(widgets.VBox):
    """Ten toggle-button questions, one per item, beside a plot that follows the answers.

    The form starts blank unless ``answers`` are given. With a class folder (``class_folder``, or
    ``$WORKBENCH_CLASS``), a Submit button saves the answers there under a random code shown to the
    learner (:func:`workbench.teaching.classroom.submit`; submitting again replaces them) and then
    shows the class so far against the study's units, the learner's own profile highlighted
    (:func:`~workbench.teaching.classroom.plot_class_among`, under the study's disclosure policy).
    Rendered where widgets cannot run, the form shows as :func:`static_form_html`; its plain text is
    one line (:meth:`summary_line`).

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
        None (the default): a blank form.
    instrument : the self-assessment to ask (default: the study's own).
    class_folder : the folder the class's submissions go to; None: ``$WORKBENCH_CLASS`` if set,
        else no Submit button.

    Attributes
    ----------
    choices : item id -> its ``ToggleButtons``; set ``.value`` (a level, or ``CANT_RATE``) to answer.
    answers : item id -> level, or None for can't rate and for unanswered items.
    responses : item id -> level, ``"cant_rate"``, or None for unanswered items (what a submission saves).
    profile, position, figure : the latest score per characteristic, its position table and plot.
    summary, image : the widgets showing how many items are rated, and the plot (PNG).
    folder, code : the class folder (None: no submitting) and the learner's code once submitted.
    submit_button, submit_status, class_summary, class_image : the Submit button, what it did, and
        the class so far (a line and a plot), filled in after a submission.
    class_view : the latest :class:`~workbench.teaching.classroom.ClassView`, after a submission.

    Examples
    --------
    Skipped as a doctest: it needs a built study (``workbench build --study demo``).

    >>> from workbench.study import open_study
    >>> form = SelfAssessmentForm(open_study("demo"))  # doctest: +SKIP
    >>> form.choices["measurement"].value = 3  # doctest: +SKIP
    >>> float(form.profile["measurement"])  # doctest: +SKIP
    3.0
    """

    def __init__(self, study, *, answers: Mapping[str, object] | None = None, instrument=None,
                 class_folder: str | Path | None = None):
        super().__init__()
        self.study = study
        self.instrument = instrument if instrument is not None else study.instrument
        self.means = unit_means(study)
        self.choices: dict[str, widgets.ToggleButtons] = {}
        self._holding = False
        self.folder = classroom.class_folder(class_folder)
        self.code: str | None = None
        self.class_view: classroom.ClassView | None = None
        scale = LevelScale.of(self.instrument)
        level_names = _level_names(self.instrument)
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
        self.submit_button = widgets.Button(description="Submit to the class", button_style="primary",
                                            icon="paper-plane", layout=widgets.Layout(width="auto"))
        self.submit_button.on_click(self._submit_clicked)
        self.submit_status = widgets.HTML()
        self.class_summary = widgets.HTML()
        self.class_image = widgets.Image(format="png", layout=widgets.Layout(width="100%", display="none"))
        side = [self.summary, self.image]
        if self.folder is not None:
            side += [widgets.HTML("<b>Your class.</b> Submit your answers to add them to the class's own profile "
                                  "(no name is saved: only a random code, shown here to you alone)."),
                     self.submit_button, self.submit_status, self.class_summary, self.class_image]
        self.children = [
            widgets.HTML("<b>Your unit's self-assessment.</b> For each item choose the description closest to "
                         "how your unit works today, or <i>can't rate</i> when you cannot see that part of it. "
                         "The plot follows your answers."),
            widgets.HBox([widgets.VBox(questions, layout=widgets.Layout(width="52%")),
                          widgets.VBox(side, layout=widgets.Layout(width="48%"))]),
        ]
        self.add_class("workbench-self-assessment")
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

    @property
    def responses(self) -> dict[str, int | str | None]:
        """Item id -> the level chosen, ``"cant_rate"``, or None (not answered yet): what a submission saves."""
        return {item_id: choice.value for item_id, choice in self.choices.items()}

    @property
    def answered(self) -> int:
        """How many items have an answer (a level, or can't rate)."""
        return sum(choice.value is not None for choice in self.choices.values())

    def answers_or(self, example: Mapping[str, object]) -> dict[str, int | None]:
        """The form's :attr:`answers` once any item is answered in it; until then ``example``
        (item id -> level or None, as :func:`normalise_answers` reads it), e.g. the lesson's example answers."""
        return self.answers if self.answered else normalise_answers(example, self.instrument)

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
        self.figure = Figure(figsize=(8.5, 5), layout="constrained")  # room for the notes beside the plot
        ax = self.figure.subplots()
        unanswered = {item.characteristic for item in self.instrument.items}
        unanswered -= {item.characteristic for item in self.instrument.items if self.choices[item.id].value is not None}
        plot_profile_among(self.position, self.means, scale=self.study.scale, ax=ax,
                           missing_notes=dict.fromkeys(unanswered, "not answered yet"))
        ax.set_title(f"Your answers among the {len(self.means)} units of the {self.study.id} study")
        png = io.BytesIO()
        self.figure.savefig(png, format="png", dpi=80, bbox_inches="tight")
        self.image.value = png.getvalue()
        rated = sum(value is not None for value in answers.values())
        self.summary.value = (f"{rated} of {len(answers)} items rated; can't rate and unanswered items are left out "
                              f"of the scores (the grey dots: the study's {len(self.means)} unit means).")

    # --- submitting to the class ---------------------------------------------------------------------

    def submit(self) -> Path:
        """Save the answers in the class folder (under the learner's code; the same file on every
        submission of this form), then show the class so far. Returns the file's path."""
        if self.folder is None:
            raise ValueError("no class folder: name one in class_folder (or $WORKBENCH_CLASS) to submit answers")
        path = classroom.submit(self.folder, self.responses, self.instrument, code=self.code)
        self.code = path.stem
        self.show_class()
        return path

    def show_class(self) -> classroom.ClassView:
        """Read the class folder again and draw the class against the study's units, this learner's own
        profile highlighted (only here, on their own screen)."""
        room = classroom.read_class(self.folder, self.instrument)
        self.class_view = classroom.class_view(room, self.study, means=self.means)
        figure = Figure(figsize=(8.5, 5.5), layout="constrained")
        ax = figure.subplots()
        own_label = f"you ({self.code})" if self.code else "you"
        classroom.plot_class_among(self.class_view, self.means, scale=self.study.scale, ax=ax, own=self.profile,
                                   own_label=own_label)
        ax.set_title("Your class so far")
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=80, bbox_inches="tight")
        self.class_image.value = png.getvalue()
        self.class_image.layout.display = None
        summary = html.escape(self.class_view.summary())
        self.class_summary.value = f"<span class='workbench-class-summary'>{summary}</span>"
        return self.class_view

    def _submit_clicked(self, _button) -> None:
        try:
            self.submit()
        except (ValueError, OSError) as error:
            self.submit_status.value = f"<span style='color:#b00020'>✘ Not submitted: {html.escape(str(error))}</span>"
            return
        self.submit_status.value = (
            f"<span class='workbench-submitted'>✔ Submitted. Your code is <b class='workbench-code'>{self.code}</b>: "
            "it is on your screen only, and marks you (the red diamond) in the class below. Change answers and "
            "submit again to replace yours.</span>")

    # --- where widgets cannot run ------------------------------------------------------------------------

    def summary_line(self) -> str:
        """One line: the form, its study and how many items are answered (the form's plain text)."""
        return (f"Self-assessment form for the {self.study.id} study: {self.answered} of {len(self.choices)} items "
                "answered")

    def __repr__(self) -> str:
        return self.summary_line()

    def _repr_html_(self) -> str:
        return static_form_html(self.instrument, self.responses, study_id=self.study.id)

    def _repr_mimebundle_(self, **kwargs):
        # The widget where a front end runs it; a static form wherever widgets cannot run (nbconvert
        # without widget state, a repository's preview, print); one line as plain text.
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        return {**bundle, "text/html": self._repr_html_(), "text/plain": self.summary_line()}
