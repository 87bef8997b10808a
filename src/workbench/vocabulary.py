"""The study's shared vocabulary: answer kinds, the level scale, the disclosure rule and
the agreement policy. Each is defined here once; every report, view, lesson and form reads
it from here (with the study's own values from ``study.yaml``), never keeps a copy.

* **Answer kinds.** An answer is a level, "can't rate" (the respondent cannot see that part
  of the unit: missing information, never a low score) or no answer at all (skipped).
* **Level scale.** Built from the instrument: a 3-level instrument gives 1-3, a 5-level
  one 1-5; axes, colour ranges, null distributions and tick labels all come from it.
* **Disclosure.** No figure describes fewer than ``min_cell_size`` people; when a hidden
  group could be recovered as a shown total minus the other shown groups, further groups
  are hidden until it cannot (complementary suppression).
* **Agreement.** A unit's mean on a characteristic is reported as the unit's view only when
  its staff agree: rwg (one item) or rwg(j) (several) against a null distribution, at or
  above a threshold, computed from at least ``min_cell_size`` people.

Examples
--------
>>> scale = LevelScale.from_values([1, 2, 3])
>>> scale.tick_labels
['1 low', '2 middle', '3 high']
>>> DisclosurePolicy(min_cell_size=5).hidden([12, 3, 9]).tolist()
[False, True, False]
>>> DisclosurePolicy(min_cell_size=5).hidden([12, 3, 9], total_shown=True).tolist()
[False, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AGREEMENT_VERDICTS", "ANSWER_KINDS", "CANT_RATE", "LEVEL", "NOT_SHARED", "NO_ANSWER", "SHARED", "TOO_FEW",
    "AgreementPolicy", "DisclosurePolicy", "LevelScale",
]

# How each kind of answer is written wherever answers are held as text.
LEVEL = "level"
CANT_RATE = "cant_rate"
NO_ANSWER = "no_answer"
ANSWER_KINDS = (LEVEL, CANT_RATE, NO_ANSWER)

# The verdicts of the agreement policy on one unit x characteristic (or item).
SHARED = "shared"
NOT_SHARED = "not shared"
TOO_FEW = "too few"
AGREEMENT_VERDICTS = (SHARED, NOT_SHARED, TOO_FEW)


@dataclass(frozen=True)
class LevelScale:
    """The ordered levels an instrument's items are answered on.

    ``values`` are the level numbers in increasing order; ``names`` a short word for each
    (the instrument's own level labels, e.g. "low", "middle", "high").
    """

    values: tuple[int, ...]
    names: tuple[str, ...]

    def __post_init__(self):
        if len(self.values) < 2:
            raise ValueError(f"a level scale needs at least two levels, got {list(self.values)}")
        if list(self.values) != sorted(set(self.values)):
            raise ValueError(f"levels must increase without repeats, got {list(self.values)}")
        if len(self.names) != len(self.values):
            raise ValueError(f"one name per level expected: {len(self.values)} levels, {len(self.names)} names")

    @classmethod
    def from_values(cls, values) -> LevelScale:
        """A scale with default names: low / middle / high for three levels, else the numbers."""
        values = tuple(int(v) for v in values)
        names = ("low", "middle", "high") if len(values) == 3 else tuple(str(v) for v in values)
        if len(values) > 3:
            names = ("lowest", *(str(v) for v in values[1:-1]), "highest")
        return cls(values, names)

    @classmethod
    def of(cls, instrument) -> LevelScale:
        """The scale of an :class:`~workbench.frameworks.Instrument`."""
        return cls(tuple(level.value for level in instrument.levels),
                   tuple(level.label.lower() for level in instrument.levels))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def low(self) -> int:
        return self.values[0]

    @property
    def high(self) -> int:
        return self.values[-1]

    @property
    def midpoint(self) -> float:
        return (self.low + self.high) / 2

    @property
    def tick_labels(self) -> list[str]:
        """Axis labels: each level's number and name ("1 low")."""
        return [f"{v} {name}" if name != str(v) else str(v) for v, name in zip(self.values, self.names)]

    @property
    def span_label(self) -> str:
        """For a colour bar: "mean level (1 low - 3 high)"."""
        return f"mean level ({self.tick_labels[0]} - {self.tick_labels[-1]})"

    def at(self, fraction: float) -> float:
        """The point ``fraction`` of the way from the lowest level (0) to the highest (1)."""
        return self.low + fraction * (self.high - self.low)

    def clip(self, values):
        """Values held inside the scale (an interval never runs past its ends)."""
        return np.clip(values, self.low, self.high)


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisclosurePolicy(_Policy):
    """No figure describes fewer than ``min_cell_size`` people.

    The one implementation of the small-cell rule: every view, report, the explorer and
    the form ask this object what to hide.
    """

    # A floor of 2: a "group" of one person is that person, whatever the study asks for.
    min_cell_size: int = Field(5, ge=2, description="No figure is shown for fewer people than this.")
    # Unanimity is not singling out (each member is one of at least k who answered alike) but
    # it does tell each member's answer; a study may prefer to hide it.
    unanimous: Literal["show", "hide"] = Field("show", description="Figures of a group whose members all gave the "
                                                                   "same answer: shown, or hidden.")

    @property
    def marker(self) -> str:
        """What a hidden count or figure shows instead."""
        return f"<{self.min_cell_size}"

    def hidden(self, sizes, *, total_shown: bool = False, already_hidden=None) -> np.ndarray:
        """Which groups (people per group in ``sizes``) must be hidden.

        With ``total_shown``, the groups are parts of one shown total: a hidden part would be
        recoverable as the total minus the shown ones, so further parts are hidden, smallest
        first, until the hidden parts that hold anyone together hold at least ``min_cell_size``
        people and number two or more (or all are hidden). Empty groups are hidden too, but
        describe nobody, so they never count as protecting anyone. ``already_hidden`` marks
        groups hidden for another reason, which need the same protection.

        Examples
        --------
        >>> DisclosurePolicy(min_cell_size=5).hidden([10, 2, 6, 8], total_shown=True).tolist()
        [False, True, True, False]
        """
        sizes = np.asarray(sizes, dtype="float64")
        sizes = np.where(np.isnan(sizes), 0, sizes)
        hidden = sizes < self.min_cell_size
        if already_hidden is not None:
            hidden |= np.asarray(already_hidden, dtype=bool)
        if total_shown:
            # Shown groups join the hidden ones, smallest first, until what the total minus the
            # shown groups reveals is a group of at least k people made of two or more groups.
            for index in np.argsort(np.where(hidden, np.inf, sizes), kind="stable"):
                protected = sizes[hidden & (sizes > 0)]
                protects_enough = len(protected) >= 2 and protected.sum() >= self.min_cell_size
                if len(protected) == 0 or hidden.all() or protects_enough:
                    break
                hidden[index] = True
        return hidden

    def separable(self, part_sizes) -> np.ndarray:
        """For groups split into parts (rows of ``part_sizes``: one column per part, e.g. per
        role), whether figures about any union of parts may be shown side by side: only where
        every part is empty or holds at least ``min_cell_size`` people, since two shown unions
        differing by one part describe that part.

        Examples
        --------
        >>> DisclosurePolicy(min_cell_size=5).separable([[6, 0, 9], [6, 2, 9]]).tolist()
        [True, False]
        """
        sizes = np.nan_to_num(np.asarray(part_sizes, dtype="float64"))
        return ((sizes == 0) | (sizes >= self.min_cell_size)).all(axis=1)

    def count_text(self, sizes) -> list[str]:
        """Counts for people to read: the number, or the marker where it is below the rule."""
        return [self.marker if 0 < n < self.min_cell_size else str(int(n)) for n in np.asarray(sizes, dtype="float64")]


class AgreementPolicy(_Policy):
    """When staff agree enough for a unit mean to stand for the unit.

    ``index``: which within-group agreement index the verdict reads. ``"rwg"``: rwg for a
    one-item characteristic and rwg(j) for several items (James, Demaree & Wolf 1984).
    ``"rwg_star"``: rwg for one item and Lindell's r*wg(j) for several (Lindell, Brandt &
    Whitney 1999): one minus the mean item variance over the null variance, without the
    Spearman-Brown step that makes rwg(j) rise with the number of items alone.

    ``null`` (in ``study.yaml`` ``null_distribution``: YAML reads a bare ``null`` as nothing):
    the distribution of answers expected if staff answered at random, by name.
    ``"uniform"``: every level equally likely. The skewed nulls model a leniency bias (answers
    piling up at the high end; a severity bias, its mirror image, has the same variance) and the
    triangular null a central tendency. Their variances for 5 and 7 levels are LeBreton &
    Senter's (2008, Table 2; the same in LeBreton's R package WGA): 2.00, 1.34, 0.90, 0.44,
    1.32 and 4.00, 2.90, 2.14, 1.39, 2.10 (uniform, slight, moderate, heavy skew, triangular).
    :attr:`NULL_PERCENT` holds distributions that give exactly these: for 5 levels the
    proportions cited from Kozlowski & Hults (1987); for 7 levels (proportions not checked
    against the paper) the one distribution in steps of 5 % shaped like its 5-level counterpart
    (mode at the same place; the triangle symmetric) that gives each published variance. For 3
    levels, which the table does not cover, each keeps about the share of the uniform variance
    the published 5- and 7-level nulls of its kind keep (slight skew 0.67-0.73, moderate
    0.45-0.54, heavy 0.22-0.35, triangular 0.53-0.66), in steps of 5 %: slight skew
    10/30/60 % (variance 0.45), moderate skew 5/25/70 % (0.3275), heavy skew 0/20/80 %
    (0.16), triangular 20/60/20 % (0.40), against the uniform 2/3. Other numbers of levels
    have a uniform null only; give ``null_variance``.

    ``null_variance``: a study's own null variance, used instead of a named null (leave
    ``null_distribution`` unset); its significance cannot be simulated, for it names no
    distribution.

    ``threshold``: the index at or above which the unit's staff count as agreeing.

    Examples
    --------
    >>> scale = LevelScale.from_values([1, 2, 3])
    >>> AgreementPolicy().null_variance(scale), AgreementPolicy(null="slight_skew").null_variance(scale)
    (0.6666666666666666, 0.45)
    >>> AgreementPolicy(null="moderate_skew").null_variance(LevelScale.from_values(range(1, 6)))
    0.9
    >>> AgreementPolicy(index="rwg_star", null="triangular").describe()
    'rwg / r*wg(j) against a triangular null, shared at 0.70 or above'
    """

    # Percent of random answers at each level, lowest level first, per number of levels.
    NULL_PERCENT: ClassVar[dict[str, dict[int, tuple[int, ...]]]] = {
        "slight_skew": {3: (10, 30, 60), 5: (5, 15, 20, 35, 25), 7: (5, 5, 10, 15, 15, 30, 20)},
        "moderate_skew": {3: (5, 25, 70), 5: (0, 10, 15, 40, 35), 7: (0, 5, 10, 10, 15, 35, 25)},
        "heavy_skew": {3: (0, 20, 80), 5: (0, 0, 10, 40, 50), 7: (0, 0, 5, 10, 15, 30, 40)},
        "triangular": {3: (20, 60, 20), 5: (11, 22, 34, 22, 11), 7: (5, 10, 20, 30, 20, 10, 5)},
    }
    NULL_WORDS: ClassVar[dict[str, str]] = {
        "uniform": "uniform", "slight_skew": "slightly skewed", "moderate_skew": "moderately skewed",
        "heavy_skew": "heavily skewed", "triangular": "triangular",
    }

    # serialize_by_alias: model_dump() gives back the keys a policy is built from.
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    index: Literal["rwg", "rwg_star"] = Field(
        "rwg", description="'rwg': rwg for one item, rwg(j) for several; 'rwg_star': rwg for one item, Lindell's "
                           "r*wg(j) for several (does not rise with the number of items).")
    null: Literal["uniform", "slight_skew", "moderate_skew", "heavy_skew", "triangular"] = Field(
        "uniform", validation_alias=AliasChoices("null_distribution", "null"), serialization_alias="null_distribution",
        description="The answers expected from random answering: 'uniform', 'slight_skew', 'moderate_skew', "
                    "'heavy_skew' or 'triangular' (LeBreton & Senter 2008).")
    # Held as custom_variance: null_variance is the method that gives the variance in use.
    custom_variance: float | None = Field(
        None, alias="null_variance", gt=0,
        description="A study's own null variance instead of a named null (then leave null_distribution unset).")
    threshold: float = Field(0.70, ge=0, le=1, description="The index at or above which a unit's staff count as "
                                                           "agreeing (verdict 'shared').")

    @model_validator(mode="before")
    @classmethod
    def _no_bare_null(cls, data):
        if isinstance(data, dict) and None in data:  # what YAML makes of the key null
            raise ValueError("YAML reads the key null as nothing: write null_distribution: (uniform, slight_skew, "
                             "moderate_skew, heavy_skew or triangular)")
        return data

    @model_validator(mode="after")
    def _one_null(self):
        if self.custom_variance is not None and self.null != "uniform":
            raise ValueError(f"give either null_distribution ({self.null!r}) or null_variance "
                             f"({self.custom_variance}), not both")
        return self

    def null_probabilities(self, scale: LevelScale) -> tuple[Fraction, ...]:
        """The probability of each level of ``scale`` under the named null (exact fractions).

        Raises ``ValueError`` for a custom null variance (no distribution) and for a non-uniform
        null on a number of levels it is not defined for.
        """
        if self.custom_variance is not None:
            raise ValueError("a custom null_variance names no distribution of answers")
        if self.null == "uniform":
            return (Fraction(1, scale.n),) * scale.n
        percent = self.NULL_PERCENT[self.null].get(scale.n)
        if percent is None:
            *others, last = (str(n) for n in self.NULL_PERCENT[self.null])
            defined = f"{', '.join(others)} and {last}"
            raise ValueError(f"a {self.NULL_WORDS[self.null]} null is defined for {defined} levels, not {scale.n}; "
                             f"choose null_distribution: uniform or give the study's own null_variance")
        return tuple(Fraction(p, 100) for p in percent)

    def null_variance(self, scale: LevelScale) -> float:
        """The variance of answers under the null distribution on ``scale`` (exact, then rounded
        once to a float: the uniform null on ``A`` consecutive levels gives ``(A^2 - 1) / 12``)."""
        if self.custom_variance is not None:
            widest = (scale.high - scale.low) ** 2 / 4  # half the answers at each end
            if self.custom_variance > widest:
                raise ValueError(f"null_variance {self.custom_variance} is more than any answers on levels "
                                 f"{scale.low}-{scale.high} can vary ({widest})")
            return float(self.custom_variance)
        probabilities = self.null_probabilities(scale)
        mean = sum(p * v for p, v in zip(probabilities, scale.values))
        return float(sum(p * (v - mean) ** 2 for p, v in zip(probabilities, scale.values)))

    @property
    def null_name(self) -> str:
        """The null's name for a table column: one of the ``null`` names, or ``"custom"``."""
        return "custom" if self.custom_variance is not None else self.null

    def index_label(self, n_items: int) -> str:
        """The index the verdict reads for a characteristic of ``n_items`` items: "rwg",
        "rwg(j)" or "r*wg(j)"."""
        if n_items <= 1:
            return "rwg"
        return "rwg(j)" if self.index == "rwg" else "r*wg(j)"

    def describe(self) -> str:
        """The policy in one line, for a verdict's legend: which index, against which null, from
        which threshold on."""
        indices = "rwg / rwg(j)" if self.index == "rwg" else "rwg / r*wg(j)"
        null = (f"a custom null (variance {self.custom_variance:g})" if self.custom_variance is not None
                else f"a {self.NULL_WORDS[self.null]} null")
        threshold = f"{self.threshold:.2f}" if round(self.threshold, 2) == self.threshold else f"{self.threshold:g}"
        return f"{indices} against {null}, shared at {threshold} or above"

    def verdict(self, index_values, sizes, disclosure: DisclosurePolicy) -> np.ndarray:
        """``shared`` / ``not shared`` / ``too few`` for each group: too few where fewer than
        the disclosure rule's people answered, else by the index against the threshold."""
        values = np.asarray(index_values, dtype="float64")
        sizes = np.asarray(sizes, dtype="float64")
        with np.errstate(invalid="ignore"):
            # An index exactly at the threshold (r*wg(j) = 1 - 1/5 / (2/3) = 0.7) can land a rounding error
            # below it; the rule reads "at or above", so it is compared to 12 decimals.
            agreed = np.round(values, 12) >= self.threshold
        return np.where(np.nan_to_num(sizes) < disclosure.min_cell_size, TOO_FEW, np.where(agreed, SHARED, NOT_SHARED))
