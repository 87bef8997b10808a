"""Monthly outcome series of the demo study: 24 months, April 2024 to March 2026.

Each unit has a true level of each outcome, set by its latent profile (as the one-number
outcomes of earlier demo versions were) plus a unit effect of its own, so units differ by more
than Poisson or binomial noise allows (a funnel plot shows overdispersion). Stable units keep
their level every month. An improving unit's level steps to a better one from its change month,
so its run chart, with the baseline median frozen at the change,
shows a long run. A few months are missing from a few units, and two units never report
patient experience.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "MONTHS", "SAFETY", "outcome_series"]

MONTHS = [f"{year}-{month:02d}" for year, month in
          [(2024 + (3 + m) // 12, (3 + m) % 12 + 1) for m in range(24)]]  # 2024-04 ... 2026-03
COLUMNS = ["microsystem_id", "outcome_id", "period", "numerator", "denominator", "value"]

# setting: (safety events per 1,000 days of exposure, exposure a month per member of staff). Inpatient
# units count patient-days; outpatient units (practice, clinics, dialysis, emergency) count visits
# in their place, and the outcome keeps its name.
SAFETY = {
    "Primary care": (13.0, 65.0),
    "Emergency department": (14.0, 50.0),
    "Neonatal intensive care": (16.0, 14.0),
    "Adult intensive care": (18.0, 12.0),
    "Dialysis": (14.0, 60.0),
    "Diabetes clinic": (13.0, 70.0),
    "Geriatric unit": (17.0, 30.0),
    "Oncology clinic": (13.0, 65.0),
    "Cardiac surgery": (16.0, 20.0),
}


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def outcome_series(rng: np.random.Generator, microsystems: pd.DataFrame, latent: pd.DataFrame,
                   improvers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The monthly rows (``COLUMNS``, as text) and each unit's true level of each outcome
    before and after its change (``microsystem_id, outcome_id, before, after``)."""
    units = microsystems.set_index("microsystem_id")
    ids = units.index.to_list()
    n = len(ids)
    change = improvers.set_index("microsystem_id") if len(improvers) else improvers
    months = np.arange(len(MONTHS))

    # True levels before any change.
    base_rate = units["setting"].map(lambda s: SAFETY[s][0]).to_numpy()
    safety = base_rate * np.exp(
        -0.15 * latent["measurement"].to_numpy()
        - 0.10 * latent["interdependence_of_care_team"].to_numpy()
        + rng.normal(0, 0.08, n)
    )
    exposure = (units["setting"].map(lambda s: SAFETY[s][1]).to_numpy() * units["headcount"].to_numpy()
                * np.exp(rng.normal(0, 0.15, n)))
    exposure = np.clip(exposure, 300, 2350)
    hygiene = _expit(1.5 + 0.15 * latent["measurement"].to_numpy()
                     + 0.10 * latent["investment_in_improvement"].to_numpy() + rng.normal(0, 0.08, n))
    opportunities = rng.integers(20, 121, n)
    experience = (78 + 3.0 * latent.to_numpy().mean(axis=1) + 2.5 * latent["integration_of_information"].to_numpy()
                  + rng.normal(0, 2.5, n))
    experience_sd = rng.uniform(2.0, 2.8, n)

    # An improving unit's better level from its change month.
    after_safety, after_hygiene, after_experience = safety.copy(), hygiene.copy(), experience.copy()
    start = np.full(n, len(MONTHS))
    for position, unit in enumerate(ids):
        if unit not in change.index:
            continue
        start[position] = MONTHS.index(change.at[unit, "month"])
        after_safety[position] = safety[position] * (1 - rng.uniform(0.35, 0.40))
        after_hygiene[position] = min(hygiene[position] + rng.uniform(0.11, 0.15), 0.97)
        after_experience[position] = experience[position] + rng.uniform(4.0, 5.0)

    # Gaps: two units never report patient experience; three stable units miss a few months.
    stable = [p for p in range(n) if ids[p] not in change.index]
    picked = rng.choice(stable, size=5, replace=False)
    no_experience = set(picked[:2].tolist())
    gap = int(rng.integers(2, 20))
    missing = {  # (unit position, outcome id or None for all) -> months left out
        (int(picked[2]), None): {gap, gap + 1},
        (int(picked[3]), "hand_hygiene_pct"): {int(rng.integers(0, 24))},
        (int(picked[4]), "patient_experience_score"): set(rng.choice(24, size=3, replace=False).tolist()),
    }

    rows = []
    for position, unit in enumerate(ids):
        phase = (months >= start[position]).astype(float)  # 0 before the change, 1 from its month on
        days = np.clip(np.rint(exposure[position] * np.exp(rng.normal(0, 0.06, len(months)))), 250, 2500)
        days = days.astype(int)
        rate = safety[position] + phase * (after_safety[position] - safety[position])
        events = rng.poisson(rate * days / 1000)
        observed = np.clip(np.rint(opportunities[position] * np.exp(rng.normal(0, 0.12, len(months)))), 20, 120)
        observed = observed.astype(int)
        share = hygiene[position] + phase * (after_hygiene[position] - hygiene[position])
        compliant = rng.binomial(observed, share)
        level = experience[position] + phase * (after_experience[position] - experience[position])
        score = np.clip(level + rng.normal(0, experience_sd[position], len(months)), 0, 100)
        series = {
            "safety_events_per_1000_patient_days": [(str(e), str(d), "") for e, d in zip(events, days)],
            "hand_hygiene_pct": [(str(c), str(o), "") for c, o in zip(compliant, observed)],
            "patient_experience_score": [("", "", f"{s:.1f}") for s in score],
        }
        if position in no_experience:
            del series["patient_experience_score"]
        for outcome_id, values in series.items():
            gone = missing.get((position, None), set()) | missing.get((position, outcome_id), set())
            rows += [[unit, outcome_id, MONTHS[m], *values[m]] for m in months if m not in gone]

    truth = pd.DataFrame({
        "microsystem_id": np.repeat(ids, 3),
        "outcome_id": ["safety_events_per_1000_patient_days", "hand_hygiene_pct", "patient_experience_score"] * n,
        "before": np.column_stack([safety, 100 * hygiene, experience]).ravel().round(3),
        "after": np.column_stack([after_safety, 100 * after_hygiene, after_experience]).ravel().round(3),
    })
    no_experience_ids = [ids[p] for p in no_experience]
    truth = truth[~(truth["microsystem_id"].isin(no_experience_ids)
                    & truth["outcome_id"].eq("patient_experience_score"))].reset_index(drop=True)
    return pd.DataFrame(rows, columns=COLUMNS), truth
