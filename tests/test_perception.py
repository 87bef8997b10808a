"""Role gaps: the ordinal and mixed models give answers that can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import perception


def answers_for(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["respondent_id", "microsystem_id", "role", "level"])
    frame["item_id"] = "m"
    frame["answer"] = "level"
    frame["level"] = frame["level"].astype("Int64")
    return frame


def test_with_two_levels_the_ordinal_odds_ratio_is_the_cross_product_ratio():
    # Two levels make the ordinal logit a logistic regression, whose odds ratio for a
    # binary predictor is (a*d)/(b*c) from the 2x2 table.
    cells = {("Nurse", 1): 30, ("Nurse", 2): 20, ("Manager", 1): 10, ("Manager", 2): 25}
    rows, n = [], 0
    for (role, level), count in cells.items():
        for _ in range(count):
            rows.append((f"r{n}", f"U{n % 7}", role, level))
            n += 1
    table = perception.ordinal_role_gaps(answers_for(rows), min_answers=5)
    row = table.set_index("role").loc["Manager"]
    assert row["reference_role"] == "Nurse"  # the most common role
    assert row["odds_ratio"] == pytest.approx((30 * 25) / (20 * 10), rel=1e-4)
    assert row["ci_low"] < row["odds_ratio"] < row["ci_high"]
    assert row["n_microsystems"] == 7
    lines = perception.describe_ordinal(table)
    assert lines[0].startswith(
        "Manager respondents rate 'm' higher than nurse respondents: odds of a higher level x3.75"
    )


def test_roles_with_too_few_answers_are_left_out_and_named():
    rows = [
        (f"r{i}", f"U{i % 3}", "Nurse" if i < 40 else "Physician" if i < 70 else "Clerical", 1 + i % 3)
        for i in range(74)
    ]
    table = perception.ordinal_role_gaps(answers_for(rows), min_answers=10)
    assert set(table["role"]) == {"Physician"}
    assert table["roles_left_out"].iloc[0] == "Clerical"
    with pytest.raises(ValueError, match=r"reference_role must be one of the roles present"):
        perception.ordinal_role_gaps(answers_for(rows), reference_role="Surgeon")


def test_mixed_model_difference_is_the_within_unit_difference_when_balanced():
    # Every unit has two nurses and two physicians; physicians sit exactly 0.4 above the
    # nurses of their own unit, units differ a lot. The estimate must be 0.4.
    rng = np.random.default_rng(3)
    rows = []
    for unit in range(12):
        base = rng.normal(2, 0.4)
        for k, (role, shift) in enumerate([("Nurse", -0.1), ("Nurse", 0.1), ("Physician", 0.3), ("Physician", 0.5)]):
            rows.append({"respondent_id": f"{unit}-{k}", "microsystem_id": f"U{unit}", "role": role,
                         "characteristic_id": "c", "score": base + shift})
    table, model = perception.mixed_role_gaps(pd.DataFrame(rows), reference_role="Nurse", min_respondents=5)
    row = table.set_index("role").loc["Physician"]
    assert row["difference"] == pytest.approx(0.4, abs=1e-6)
    assert row["ci_low"] < 0.4 < row["ci_high"]
    assert model["n_microsystems"] == 12 and model["icc"] > 0.5
    assert "higher than nurse staff" in perception.describe_mixed(table)[0]


def test_no_role_gap_gives_a_plain_no_difference_line():
    rng = np.random.default_rng(11)
    rows = [(f"r{i}", f"U{i % 10}", "Nurse" if i % 2 else "Physician", int(rng.integers(1, 4))) for i in range(200)]
    table = perception.ordinal_role_gaps(answers_for(rows))
    if (table["ci_low"] < 1).all() and (table["ci_high"] > 1).all():
        assert perception.describe_ordinal(table) == [
            "No role differs clearly from the reference role on any item (every 95% interval includes no difference)."
        ]
