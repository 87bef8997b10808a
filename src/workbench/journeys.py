"""A patient's own health system: the chain of microsystems they pass through, and its handoffs.

Each pair of consecutive visits of one patient is a handoff from one microsystem to the
next. Counting them gives the network of handoffs; setting each link beside how its two
microsystems score on integration of information and interdependence of the care team
shows the handoffs most likely to fail: busy links between units whose information and
teamwork are weak.
"""

from __future__ import annotations

import pandas as pd

from workbench.vocabulary import LevelScale

__all__ = ["HANDOFF_CHARACTERISTICS", "describe_weak_links", "handoffs", "weak_handoffs"]

HANDOFF_CHARACTERISTICS = ("integration_of_information", "interdependence_of_care_team")


def handoffs(journeys: pd.DataFrame) -> pd.DataFrame:
    """Handoffs between microsystems, from consecutive visits of each patient.

    Returns
    -------
    DataFrame: ``from_id``, ``to_id``, ``handoffs`` (count), ``patients`` (distinct
    patients), busiest first. A visit to the same microsystem again is not a handoff.
    """
    ordered = journeys.sort_values(["patient_id", "visit"])
    following = ordered.groupby("patient_id")["microsystem_id"].shift(-1)
    pairs = ordered.assign(to_id=following).dropna(subset=["to_id"])
    pairs = pairs[pairs["microsystem_id"] != pairs["to_id"]].rename(columns={"microsystem_id": "from_id"})
    table = (
        pairs.groupby(["from_id", "to_id"])
        .agg(handoffs=("patient_id", "size"), patients=("patient_id", "nunique"))
        .reset_index()
    )
    return table.sort_values(["handoffs", "from_id", "to_id"], ascending=[False, True, True]).reset_index(drop=True)


def weak_handoffs(
    links: pd.DataFrame,
    profile_wide: pd.DataFrame,
    *,
    scale: LevelScale,
    characteristics: tuple[str, ...] = HANDOFF_CHARACTERISTICS,
    min_handoffs: int = 1,
) -> pd.DataFrame:
    """Each link with both ends' scores on ``characteristics`` and its weakest score.

    Returns
    -------
    ``links`` with ``from_<c>`` and ``to_<c>`` for each characteristic, ``weakest`` (the lowest
    of those scores) and ``risk`` (handoffs x (highest level of the ``scale`` - weakest): busy
    links between weak units first), sorted by risk.
    """
    missing = [c for c in characteristics if c not in profile_wide.columns]
    if missing:
        raise ValueError(f"characteristics {missing} are not in the profile; it has {list(profile_wide.columns)}")
    table = links[links["handoffs"] >= min_handoffs].copy()
    for c in characteristics:
        table[f"from_{c}"] = table["from_id"].map(profile_wide[c])
        table[f"to_{c}"] = table["to_id"].map(profile_wide[c])
    scores = table[[f"{end}_{c}" for c in characteristics for end in ("from", "to")]].astype("float64")
    table["weakest"] = scores.min(axis=1)
    table["risk"] = table["handoffs"] * (scale.high - table["weakest"])
    return table.sort_values(["risk", "handoffs"], ascending=False).reset_index(drop=True)


def describe_weak_links(weak: pd.DataFrame, *, characteristics: tuple[str, ...] = HANDOFF_CHARACTERISTICS) -> str:
    """One sentence on how the links below were ranked, or why they could not be.

    Examples
    --------
    >>> describe_weak_links(pd.DataFrame({"weakest": [2.5, float("nan")], "handoffs": [3, 1]}))[:40]
    '1 of 2 links have a score at both ends o'
    """
    words = " and ".join(c.replace("_", " ") for c in characteristics)
    scored = int(weak["weakest"].notna().sum()) if len(weak) else 0
    if scored == 0:
        return (f"No link has a reported score at both ends on {words} (the study has no survey scores for them, "
                "or too few people gave them), so the links are listed by the number of handoffs alone.")
    return f"{scored} of {len(weak)} links have a score at both ends on {words}; the riskiest come first."
