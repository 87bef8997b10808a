"""Interview excerpts for the demo study, composed from the parts in ``excerpt_bank.yaml``.

An excerpt of a characteristic at a level is an opening, a detail and (mostly) a reflection,
all written for that characteristic and level, so its tone is the level's. Each cell deals its
combinations like a shuffled deck, so a quote repeats only once a cell's deck runs out (several
hundred excerpts a cell). A coder's slip goes to a code a reader could plausibly confuse with the
right one (:data:`CONFUSIONS`), and a segment carries a second code only when its text was
composed to touch a second characteristic (:data:`TOUCHES`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

__all__ = ["CONFUSIONS", "EXCERPT_BANK", "LEVELS", "SLOTS", "TOUCHES", "ExcerptDeck", "all_excerpts", "load_bank"]

EXCERPT_BANK = Path(__file__).with_name("excerpt_bank.yaml")
LEVELS = ("low", "middle", "high")
SLOTS = ("opening", "detail", "reflection")

# Codes a coder may choose instead of the right one: the neighbours a reader could argue for.
CONFUSIONS = {
    "integration_of_information": ["interdependence_of_care_team", "measurement"],
    "measurement": ["investment_in_improvement", "reviewing_and_reflecting", "integration_of_information"],
    "interdependence_of_care_team": ["integration_of_information", "alignment_of_role_and_training"],
    "supportiveness_of_larger_system": ["constancy_of_purpose", "investment_in_improvement"],
    "constancy_of_purpose": ["supportiveness_of_larger_system", "connection_to_community", "reviewing_and_reflecting"],
    "connection_to_community": ["constancy_of_purpose", "integration_of_information"],
    "investment_in_improvement": ["measurement", "alignment_of_role_and_training", "taking_action"],
    "alignment_of_role_and_training": ["interdependence_of_care_team", "investment_in_improvement"],
    "building_knowledge": ["measurement", "reviewing_and_reflecting"],
    "taking_action": ["investment_in_improvement", "alignment_of_role_and_training"],
    "reviewing_and_reflecting": ["measurement", "building_knowledge", "constancy_of_purpose"],
}
# The characteristics an excerpt of a code may go on to touch (a detail of that characteristic
# after a connector), so the segment fairly carries both codes.
TOUCHES = {
    "integration_of_information": ["interdependence_of_care_team", "measurement"],
    "measurement": ["investment_in_improvement", "integration_of_information"],
    "interdependence_of_care_team": ["integration_of_information", "alignment_of_role_and_training"],
    "supportiveness_of_larger_system": ["constancy_of_purpose", "investment_in_improvement"],
    "constancy_of_purpose": ["supportiveness_of_larger_system", "connection_to_community"],
    "connection_to_community": ["constancy_of_purpose"],
    "investment_in_improvement": ["measurement", "alignment_of_role_and_training"],
    "alignment_of_role_and_training": ["interdependence_of_care_team", "investment_in_improvement"],
    "building_knowledge": ["measurement"],
    "taking_action": ["investment_in_improvement", "alignment_of_role_and_training"],
    "reviewing_and_reflecting": ["measurement", "constancy_of_purpose"],
}
REFLECTION_SHARE = 0.8  # the other excerpts end after their detail


def load_bank() -> dict:
    """The parts of ``excerpt_bank.yaml``, checked to have every slot filled."""
    bank = yaml.safe_load(EXCERPT_BANK.read_text(encoding="utf-8"))
    cells = [(code, level, bank["characteristics"][code][level]) for code in bank["characteristics"]
             for level in LEVELS]
    cells += [(code, None, parts) for code, parts in bank["leading_processes"].items()]
    for code, level, parts in cells:
        for slot in SLOTS:
            if not parts.get(slot):
                raise ValueError(f"{EXCERPT_BANK.name}: {code} {level or ''} has no {slot!r} parts; expected a list")
    return bank


def _combinations(parts: dict) -> list[tuple[int, int, int | None]]:
    """Every (opening, detail, reflection or None) of a cell, in a fixed order."""
    sizes = [len(parts[slot]) for slot in SLOTS]
    return [(o, d, r) for o in range(sizes[0]) for d in range(sizes[1]) for r in [*range(sizes[2]), None]]


def _text(parts: dict, combination: tuple[int, int, int | None], opening: str | None = None) -> str:
    o, d, r = combination
    sentences = [opening or parts["opening"][o], parts["detail"][d]]
    if r is not None:
        sentences.append(parts["reflection"][r])
    return " ".join(sentences)


class ExcerptDeck:
    """Deals excerpts cell by cell without repeating one until the cell's combinations run out."""

    def __init__(self, bank: dict, rng: np.random.Generator):
        self.bank = bank
        self.rng = rng
        self._decks: dict[tuple[str, str | None], list[tuple[int, int, int | None]]] = {}

    def _parts(self, code: str, level: str | None) -> dict:
        if level is None:
            return self.bank["leading_processes"][code]
        return self.bank["characteristics"][code][level]

    def _deal(self, code: str, level: str | None) -> tuple[int, int, int | None]:
        key = (code, level)
        if not self._decks.get(key):
            combinations = _combinations(self._parts(code, level))
            # Most excerpts carry a reflection: weight the full combinations by dealing the
            # short ones from a thinned copy.
            full = [c for c in combinations if c[2] is not None]
            short = [c for c in combinations if c[2] is None]
            keep = int(round(len(full) * (1 - REFLECTION_SHARE) / REFLECTION_SHARE))
            short = [short[i] for i in sorted(self.rng.choice(len(short), size=min(keep, len(short)), replace=False))]
            deck = full + short
            self._decks[key] = [deck[i] for i in self.rng.permutation(len(deck))]
        return self._decks[key].pop()

    def excerpt(self, code: str, level: str | None = None, *, opening: str | None = None) -> str:
        """An excerpt of a characteristic at ``level`` ('low', 'middle', 'high') or of a leading
        process (``level=None``); ``opening`` replaces the dealt opening sentence."""
        return _text(self._parts(code, level), self._deal(code, level), opening)

    def touching(self, code: str, level: str) -> str:
        """A connector and a detail of characteristic ``code`` at ``level``, to follow another excerpt."""
        connector = str(self.rng.choice(self.bank["connectors"]))
        detail = str(self.rng.choice(self.bank["characteristics"][code][level]["detail"]))
        return f"{connector} {detail}"


def all_excerpts(bank: dict | None = None) -> list[tuple[str, str, str]]:
    """Every composable excerpt as (code, level, text); leading processes have level ''."""
    bank = bank or load_bank()
    rows = [(code, level, _text(bank["characteristics"][code][level], c))
            for code in bank["characteristics"] for level in LEVELS
            for c in _combinations(bank["characteristics"][code][level])]
    rows += [(code, "", _text(parts, c)) for code, parts in bank["leading_processes"].items()
             for c in _combinations(parts)]
    return rows
