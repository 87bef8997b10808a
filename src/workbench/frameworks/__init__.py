"""Frameworks and instruments as data.

A *framework* is a set of elements that interview segments are coded against (the eight
characteristics, the three processes of leading, a study's own codebook). An *instrument*
is a survey whose items each measure one element of a framework, on ordered levels plus
"can't rate". Both are YAML files: the ones shipped here are found by name; a study can
bring its own by giving a path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from workbench.errors import InputError
from workbench.io.files import read_yaml_model
from workbench.vocabulary import CANT_RATE  # re-exported: the answer kinds live in workbench.vocabulary

SHIPPED = Path(__file__).parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Element(_Strict):
    id: str
    label: str
    short: str
    description: str


class Framework(_Strict):
    id: str
    title: str
    kind: Literal["characteristics", "processes", "codebook"]
    elements: tuple[Element, ...]

    @model_validator(mode="after")
    def _ids_unique(self) -> Framework:
        _check_unique([element.id for element in self.elements], "element id")
        return self

    @property
    def element_ids(self) -> list[str]:
        return [element.id for element in self.elements]

    def element(self, element_id: str) -> Element:
        for element in self.elements:
            if element.id == element_id:
                return element
        raise KeyError(f"{element_id!r} is not an element of framework {self.id!r}; it has {self.element_ids}")

    def labels(self, *, short: bool = True) -> dict[str, str]:
        """Element id -> its short (or full) label, for axes and table headers."""
        return {e.id: (e.short if short else e.label) for e in self.elements}

    def table(self) -> pd.DataFrame:
        """One row per element: ``framework_id``, ``element_id``, ``label``, ``short``, ``description``."""
        return pd.DataFrame(
            [
                {
                    "framework_id": self.id,
                    "element_id": e.id,
                    "label": e.label,
                    "short": e.short,
                    "description": e.description,
                }
                for e in self.elements
            ]
        )


def _whole_number(value, what: str):
    """A level number as YAML wrote it: an integer, never converted from ``yes``, ``"2"`` or ``2.0``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected {what} written as a whole number without quotes, found {value!r}")
    return value


class Level(_Strict):
    value: int
    label: str

    @field_validator("value", mode="before")
    @classmethod
    def _strict_value(cls, value):
        return _whole_number(value, "a level")


class Item(_Strict):
    id: str
    characteristic: str
    label: str
    short: str
    levels: dict[int, str]

    @field_validator("levels", mode="before")
    @classmethod
    def _strict_levels(cls, levels):
        if isinstance(levels, dict):
            for value in levels:
                _whole_number(value, "each level")
        return levels


class Instrument(_Strict):
    id: str
    title: str
    framework: str
    levels: tuple[Level, ...]
    cant_rate_label: str
    items: tuple[Item, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        values = [level.value for level in self.levels]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError(f"levels must be listed in increasing order without repeats, found {values}")
        _check_unique([item.id for item in self.items], "item id")
        for item in self.items:
            if sorted(item.levels) != values:
                raise ValueError(
                    f"item {item.id!r} describes levels {sorted(item.levels)}, expected exactly {values}"
                )
        return self

    @property
    def item_ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def level_values(self) -> list[int]:
        return [level.value for level in self.levels]

    def labels(self, *, short: bool = True) -> dict[str, str]:
        """Item id -> its short (or full) label."""
        return {item.id: (item.short if short else item.label) for item in self.items}

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"{item_id!r} is not an item of instrument {self.id!r}; it has {self.item_ids}")

    def table(self) -> pd.DataFrame:
        """One row per item: ``item_id``, ``characteristic_id``, ``label``, ``short``, then one column per level."""
        return pd.DataFrame(
            [
                {
                    "item_id": item.id,
                    "characteristic_id": item.characteristic,
                    "label": item.label,
                    "short": item.short,
                    **{f"level_{value}": text for value, text in item.levels.items()},
                }
                for item in self.items
            ]
        )


class Crosswalk(_Strict):
    """Links from each element of a source framework to elements of a target framework."""

    id: str
    source: str
    target: str
    links: dict[str, tuple[str, ...]]

    def table(self) -> pd.DataFrame:
        """One row per link: ``source_id``, ``target_id``."""
        return pd.DataFrame(
            [(s, t) for s, targets in self.links.items() for t in targets], columns=["source_id", "target_id"]
        )


def _check_unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears more than once")
        seen.add(value)


def _resolve(name_or_path: str | Path, base: Path | None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        return candidate if candidate.is_absolute() or base is None else base / candidate
    shipped = SHIPPED / f"{name_or_path}.yaml"
    if not shipped.exists():
        available = sorted(path.stem for path in SHIPPED.glob("*.yaml"))
        raise InputError(
            f"no shipped framework or instrument called {str(name_or_path)!r}; "
            f"shipped: {available}, or give a path ending in .yaml"
        )
    return shipped


def _read(path: Path, model: type[BaseModel]) -> BaseModel:
    """The file parsed, from a cache keyed on its modification time and size: an edited YAML
    file is read again, an unchanged one is not."""
    try:
        status = path.stat()
        stamp = (status.st_mtime_ns, status.st_size)
    except OSError:
        stamp = None  # read_yaml_model reports the missing file
    return _parse(path, model, stamp)


@lru_cache(maxsize=128)
def _parse(path: Path, model: type[BaseModel], stamp) -> BaseModel:
    return read_yaml_model(path, model, kind="element")


def load_framework(name_or_path: str | Path, base: Path | None = None) -> Framework:
    """Load a framework by shipped name (``"microsystem_characteristics"``) or YAML path."""
    return _read(_resolve(name_or_path, base), Framework)


def load_instrument(name_or_path: str | Path, base: Path | None = None) -> Instrument:
    """Load a survey instrument and check that its items map onto its framework's elements."""
    path = _resolve(name_or_path, base)
    instrument = _read(path, Instrument)
    framework = load_framework(instrument.framework, path.parent)
    for item in instrument.items:
        if item.characteristic not in framework.element_ids:
            raise InputError(
                f"item {item.id!r} measures {item.characteristic!r}, which is not an element of "
                f"framework {framework.id!r} ({', '.join(framework.element_ids)})",
                file=path,
            )
    return instrument


def load_crosswalk(name_or_path: str | Path, base: Path | None = None) -> Crosswalk:
    """Load a crosswalk and check every link names elements of its two frameworks."""
    path = _resolve(name_or_path, base)
    crosswalk = _read(path, Crosswalk)
    source = load_framework(crosswalk.source, path.parent)
    target = load_framework(crosswalk.target, path.parent)
    for source_id, targets in crosswalk.links.items():
        if source_id not in source.element_ids:
            raise InputError(f"links: {source_id!r} is not an element of {source.id!r}", file=path)
        for target_id in targets:
            if target_id not in target.element_ids:
                raise InputError(
                    f"links: {source_id!r} points to {target_id!r}, which is not an element of {target.id!r}",
                    file=path,
                )
    return crosswalk


__all__ = ["CANT_RATE", "SHIPPED", "Crosswalk", "Element", "Framework", "Instrument", "Item", "Level", "load_crosswalk",
           "load_framework", "load_instrument"]
