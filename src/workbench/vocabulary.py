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
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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

    ``index``: rwg for a one-item characteristic, rwg(j) for several items (James, Demaree &
    Wolf 1984). ``null``: the distribution of answers expected if staff answered at random
    (uniform over the instrument's levels). ``threshold``: the index at or above which the
    unit's staff count as agreeing.
    """

    index: Literal["rwg"] = "rwg"
    null: Literal["uniform"] = "uniform"
    threshold: float = Field(0.70, ge=0, le=1, description="rwg / rwg(j) below this: the unit mean is not reported.")

    def null_variance(self, scale: LevelScale) -> float:
        """The variance of answers under the null distribution on ``scale``."""
        return (scale.n**2 - 1) / 12

    def verdict(self, index_values, sizes, disclosure: DisclosurePolicy) -> np.ndarray:
        """``shared`` / ``not shared`` / ``too few`` for each group: too few where fewer than
        the disclosure rule's people answered, else by the index against the threshold."""
        values = np.asarray(index_values, dtype="float64")
        sizes = np.asarray(sizes, dtype="float64")
        with np.errstate(invalid="ignore"):
            agreed = values >= self.threshold
        return np.where(np.nan_to_num(sizes) < disclosure.min_cell_size, TOO_FEW, np.where(agreed, SHARED, NOT_SHARED))
