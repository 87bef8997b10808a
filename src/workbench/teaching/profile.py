"""A learner's own self-assessment, scored like any respondent's and placed among a study's units.

The learner answers the items for their own unit: a level of the instrument's scale or
"can't rate". Their profile is scored exactly as :func:`workbench.survey.respondent_scores`
scores every respondent of a study (the mean of the items they rated; can't rate is
missing, never zero), then compared with the study's unit means (the ``unit_profiles``
view) characteristic by characteristic.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench import survey
from workbench.frameworks import Instrument
from workbench.plotting import rows_on_level_scale
from workbench.vocabulary import CANT_RATE, LEVEL, LevelScale

__all__ = ["draw_unit_means", "normalise_answers", "normalise_responses", "plot_profile_among", "position_among",
           "profile_from_answers", "unit_means"]

_CANT_RATE_SPELLINGS = {CANT_RATE, "can't rate", "cant rate", "can't_rate"}
_TIE = 1e-9  # unit means this close to the learner's score count as level with it


def normalise_answers(answers: Mapping[str, object], instrument: Instrument) -> dict[str, int | None]:
    """Every item of ``instrument`` mapped to the level given (an int) or None.

    None stands for "can't rate" and for an item left out of ``answers``: both are missing
    information. Accepted values are the levels of the instrument's scale, None, NaN,
    :data:`~workbench.vocabulary.CANT_RATE` (``"cant_rate"``) or ``"can't rate"``.

    Examples
    --------
    >>> from workbench.frameworks import load_instrument
    >>> tool = load_instrument("microsystem_self_assessment")
    >>> normalise_answers({"measurement": 3, "constancy_of_purpose": "can't rate"}, tool)["measurement"]
    3
    """
    if not isinstance(answers, Mapping):
        raise TypeError(f"answers must be a dict of item id -> level, got {type(answers).__name__}")
    unknown = [key for key in answers if key not in instrument.item_ids]
    if unknown:
        raise ValueError(f"answers name {unknown}, which are not items of {instrument.id!r}; "
                         f"its items are {instrument.item_ids}")
    levels = list(LevelScale.of(instrument).values)
    clean: dict[str, int | None] = {}
    for item_id in instrument.item_ids:
        value = answers.get(item_id)
        if _is_missing(value):
            clean[item_id] = None
        elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and float(value) in levels:
            clean[item_id] = int(value)
        else:
            raise ValueError(f"answers[{item_id!r}] must be one of the levels {levels}, or None or {CANT_RATE!r} "
                             f"for can't rate; got {value!r}")
    return clean


def normalise_responses(responses: Mapping[str, object], instrument: Instrument) -> dict[str, int | str | None]:
    """Every item of ``instrument`` mapped to the level given, :data:`~workbench.vocabulary.CANT_RATE`
    (``"cant_rate"``), or None for not answered: :func:`normalise_answers` keeping can't rate apart.

    Accepted as :func:`normalise_answers` accepts; can't rate is any of its spellings of it
    (``"cant_rate"``, ``"can't rate"``), while None, NaN and an item left out are not answered.

    Examples
    --------
    >>> from workbench.frameworks import load_instrument
    >>> tool = load_instrument("microsystem_self_assessment")
    >>> mine = normalise_responses({"measurement": 3, "constancy_of_purpose": "can't rate"}, tool)
    >>> mine["measurement"], mine["constancy_of_purpose"], mine["connection_to_community"]
    (3, 'cant_rate', None)
    """
    levels = normalise_answers(responses, instrument)  # unknown items and wrong levels are refused here
    return {item_id: level if level is not None else CANT_RATE if isinstance(responses.get(item_id), str) else None
            for item_id, level in levels.items()}


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, str):
        return value.strip().casefold().replace("\u2019", "'") in _CANT_RATE_SPELLINGS
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isnan(float(value))


def profile_from_answers(answers: Mapping[str, object], instrument: Instrument, *, min_items: int = 1) -> pd.Series:
    """One person's score on each characteristic: the mean of the items they rated.

    Parameters
    ----------
    answers : item id -> a level of the instrument's scale, or None / ``"cant_rate"`` for can't rate.
    instrument : the self-assessment (:func:`workbench.frameworks.load_instrument`).
    min_items : rated items a characteristic needs for a score (as in ``respondent_scores``).

    Returns
    -------
    Series named ``score``, indexed by ``characteristic_id`` in the instrument's order;
    NaN where nothing (or fewer than ``min_items``) was rated.

    Examples
    --------
    >>> from workbench.frameworks import load_instrument
    >>> tool = load_instrument("microsystem_self_assessment")
    >>> mine = {"information_providers_staff": 3, "information_patients": None, "information_technology": 2}
    >>> float(profile_from_answers(mine, tool)["integration_of_information"])
    2.5
    """
    clean = normalise_answers(answers, instrument)
    characteristic_of = {item.id: item.characteristic for item in instrument.items}
    long = pd.DataFrame({
        "respondent_id": "you", "microsystem_id": "your unit", "role": "you",
        "item_id": list(clean), "characteristic_id": [characteristic_of[i] for i in clean],
        "answer": [LEVEL if v is not None else CANT_RATE for v in clean.values()],
        "level": pd.array(list(clean.values()), dtype="Int64"),
    })
    scores = survey.respondent_scores(long, min_items=min_items)
    order = list(dict.fromkeys(characteristic_of.values()))
    return scores.set_index("characteristic_id")["score"].astype("float64").reindex(order).rename("score")


def unit_means(study) -> pd.DataFrame:
    """The study's microsystems (rows) by characteristic (columns, framework order): unit means.

    Each unit's mean is the ``analysis_mean`` of the study's ``unit_profiles`` view: the mean
    of its respondents' scores, blank where fewer people scored it than the study's disclosure
    policy allows a figure for, and with no agreement check (lesson 4 adds one).
    """
    profile = study.view("unit_profiles")
    present = set(profile["characteristic_id"])
    order = [c for c in study.characteristics.element_ids if c in present]
    return survey.profile_wide(profile, order=order, value="analysis_mean").astype("float64")


def position_among(
    profile: pd.Series | Mapping[str, float], study, *, means: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Where a profile stands among the study's units, characteristic by characteristic.

    The percentile is the mid-rank one: ``100 * (units below + half the units level with
    it) / units with a mean``, so a score above every unit is 100, below every unit 0.

    Parameters
    ----------
    profile : characteristic id -> score (:func:`profile_from_answers`); NaN for not rated.
    study : a :class:`~workbench.study.Study`; its unit means are the comparison.
    means : the unit means to compare with, if already computed (:func:`unit_means`); a unit
        whose mean is blank on a characteristic is left out there.

    Returns
    -------
    DataFrame, one row per characteristic of ``means``: ``characteristic_id``, ``characteristic``
    (label), ``your_score``, ``units`` (with a mean), ``units_below``, ``units_level``,
    ``units_above``, ``percentile`` (NaN and <NA> where the profile has no score), then
    the units' ``units_min``, ``units_q1``, ``units_median``, ``units_q3``, ``units_max``.
    """
    means = unit_means(study) if means is None else means
    profile = pd.Series(profile, dtype="float64")
    labels = study.characteristics.labels(short=False)
    rows = []
    for characteristic in means.columns:
        values = means[characteristic].dropna().to_numpy(dtype="float64")
        score = float(profile.get(characteristic, np.nan))
        row = {"characteristic_id": characteristic, "characteristic": labels.get(characteristic, characteristic),
               "your_score": score, "units": len(values)}
        if np.isnan(score) or not len(values):
            row |= {"units_below": pd.NA, "units_level": pd.NA, "units_above": pd.NA, "percentile": np.nan}
        else:
            below, above = int((values < score - _TIE).sum()), int((values > score + _TIE).sum())
            level = len(values) - below - above
            row |= {"units_below": below, "units_level": level, "units_above": above,
                    "percentile": 100 * (below + level / 2) / len(values)}
        quartiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1]) if len(values) else [np.nan] * 5
        row |= dict(zip(["units_min", "units_q1", "units_median", "units_q3", "units_max"], map(float, quartiles)))
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("units", "units_below", "units_level", "units_above"):
        table[column] = table[column].astype("Int64")
    return table


def draw_unit_means(position: pd.DataFrame, means: pd.DataFrame, ys, *, ax=None, height: float = 0.45,
                    unit_label: str = "a unit of the study (its mean)"):
    """The study's unit means on rows at ``ys`` (one per row of ``position``): grey dots spread
    ``height`` high by a fixed pattern, their middle half as a bar and their median as a tick.

    ``position`` needs ``characteristic_id``, ``units_q1``, ``units_median`` and ``units_q3``
    (:func:`position_among`); ``means`` is the :func:`unit_means` they describe. Returns ``ax``.
    """
    ax = ax or plt.gca()
    ys = np.asarray(ys, dtype="float64")
    scale_to = height / 0.45  # the sizes below suit rows 0.45 high
    for number, (y, characteristic) in enumerate(zip(ys, position["characteristic_id"])):
        values = np.sort(means[characteristic].dropna().to_numpy(dtype="float64"))
        spread = ((np.arange(len(values)) * 0.618034) % 1 - 0.5) * height
        ax.scatter(values, y + spread, s=10 * min(1.0, 0.4 + 0.6 * scale_to), color="#9e9e9e", alpha=0.8, zorder=2,
                   label=unit_label if number == 0 else None)
    ax.hlines(ys, position["units_q1"], position["units_q3"], color="#555555", linewidth=7 * scale_to ** 0.5,
              alpha=0.3, zorder=1, label="middle half of the units")
    ax.scatter(position["units_median"], ys, marker="|", s=300 * scale_to, color="black", zorder=3,
               label="median unit")
    return ax


def plot_profile_among(position: pd.DataFrame, means: pd.DataFrame, *, scale: LevelScale, ax=None,
                       labels: dict[str, str] | None = None, own_label: str = "your answers",
                       missing_notes: Mapping[str, str] | None = None):
    """The study's unit means as grey dots, their middle half as a bar and median as a tick,
    and the learner's score as a red diamond with its percentile, one row per characteristic,
    on the instrument's level ``scale`` (``study.scale``).

    ``position`` is :func:`position_among` output; ``means`` the :func:`unit_means` it
    compared with. A characteristic the learner could not rate has no diamond and says
    "can't rate" where the percentile would be (or, for a characteristic in ``missing_notes``, the
    note given there, e.g. "not answered yet"). The dots are spread vertically by a fixed
    pattern (no randomness), so the same data always draw the same picture.
    """
    ax = ax or plt.gca()
    labels = labels or dict(zip(position["characteristic_id"], position["characteristic"]))
    rows = position.reset_index(drop=True)
    ys = np.arange(len(rows))[::-1].astype("float64")
    draw_unit_means(rows, means, ys, ax=ax)
    ax.scatter(rows["your_score"], ys, marker="D", s=70, color="#d62728", edgecolor="white", zorder=4,
               label=own_label, gid="your-profile")
    span = scale.high - scale.low
    note_at = scale.high + 0.1 * span  # notes beside the highest level, inside the room left for them
    missing_notes = missing_notes or {}
    for y, characteristic, score, percentile in zip(ys, rows["characteristic_id"], rows["your_score"],
                                                     rows["percentile"]):
        if np.isnan(score):
            ax.text(note_at, y, missing_notes.get(characteristic, "can't rate"), va="center", ha="left", fontsize=8,
                    color="#d62728", style="italic")
        else:
            ax.text(note_at, y, f"percentile {percentile:.0f}", va="center", ha="left", fontsize=8, color="#d62728")
    row_labels = [labels.get(c, c) for c in rows["characteristic_id"]]
    rows_on_level_scale(ax, ys, row_labels, scale=scale, right=scale.high + 0.325 * span)
    ax.set_xlabel("score (a unit's: the mean of its staff's scores)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.15), ncol=2, fontsize=8, frameon=False)
    return ax
