from __future__ import annotations

import pandas as pd
import pytest

from workbench import journeys
from workbench.vocabulary import LevelScale

VISITS = pd.DataFrame(
    [
        ("p1", 1, "A"), ("p1", 2, "B"), ("p1", 3, "C"), ("p2", 1, "A"), ("p2", 2, "B"), ("p3", 2, "B"), ("p3", 1, "A"),
        ("p4", 1, "C"), ("p4", 2, "C"),
    ],
    columns=["patient_id", "visit", "microsystem_id"],
)


def test_handoffs_follow_each_patients_visits_in_order():
    links = journeys.handoffs(VISITS).set_index(["from_id", "to_id"])
    # p3's rows are out of order in the file
    assert links.loc[("A", "B"), "handoffs"] == 3 and links.loc[("A", "B"), "patients"] == 3
    assert links.loc[("B", "C"), "handoffs"] == 1
    assert ("C", "C") not in links.index  # staying in one unit is not a handoff
    assert len(links) == 2


def test_weak_handoffs_rank_busy_links_between_weak_units_first():
    profile = pd.DataFrame({"integration_of_information": {"A": 2.8, "B": 1.2, "C": 2.9},
                            "interdependence_of_care_team": {"A": 2.5, "B": 2.0, "C": 2.7}})
    scale = LevelScale.from_values([1, 2, 3])
    weak = journeys.weak_handoffs(journeys.handoffs(VISITS), profile, scale=scale)
    assert list(zip(weak["from_id"], weak["to_id"])) == [("A", "B"), ("B", "C")]
    assert weak.loc[0, "weakest"] == 1.2 and weak.loc[0, "risk"] == pytest.approx(3 * 1.8)
    on_five = journeys.weak_handoffs(journeys.handoffs(VISITS), profile, scale=LevelScale.from_values([1, 2, 3, 4, 5]))
    assert on_five.loc[0, "risk"] == pytest.approx(3 * 3.8)  # the gap to the top of a five-level scale
    with pytest.raises(ValueError, match=r"characteristics \['measurement'\] are not in the profile"):
        journeys.weak_handoffs(journeys.handoffs(VISITS), profile, scale=scale, characteristics=("measurement",))
