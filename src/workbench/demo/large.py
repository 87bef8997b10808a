"""A large synthetic study for benchmarks: a national survey programme's scale.

Vectorised throughout (NumPy), so that writing 250,000 respondents and 500,000 codings
takes seconds. The files have the demo study's layout and load with ``load_study``.
Excerpts are composed from the demo's excerpt bank, so they repeat far more than real ones.
The study has one survey wave and gives its outcomes as one number per unit (no monthly series).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from workbench.demo import CANT_RATE_CODE, LEVEL_CUTS, OUTCOMES, ROLES, SEED, _config
from workbench.demo.excerpts import all_excerpts, load_bank
from workbench.frameworks import load_instrument

__all__ = ["write_large_study"]


def write_large_study(
    folder: Path, *, microsystems: int = 5_000, respondents: int = 250_000, codings: int = 500_000, seed: int = SEED
) -> dict[str, int]:
    """Write the large study to ``folder``; return the row count of each file."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    instrument = load_instrument("microsystem_self_assessment")
    unit_ids = np.array([f"U{i:05d}" for i in range(1, microsystems + 1)])
    organisations = rng.integers(1, 301, microsystems)
    pd.DataFrame({
        "microsystem_id": unit_ids,
        "name": [f"Unit {i}" for i in range(1, microsystems + 1)],
        "setting": rng.choice(["Primary care", "Emergency department", "Dialysis", "Geriatric unit"], microsystems),
        "organisation_id": [f"ORG{o:03d}" for o in organisations],
        "organisation": [f"Organisation {o}" for o in organisations],
    }).to_csv(folder / "microsystems.csv", index=False)

    latent = 0.8 * rng.normal(size=(microsystems, 1)) + 0.6 * rng.normal(size=(microsystems, len(instrument.items)))
    unit_of = rng.integers(0, microsystems, respondents)
    scores = latent[unit_of] + rng.normal(0, 0.5, (respondents, len(instrument.items)))
    codes = (1 + np.searchsorted(LEVEL_CUTS, scores)).astype(str).astype(object)
    codes[rng.random(codes.shape) < 0.05] = CANT_RATE_CODE
    codes[rng.random(codes.shape) < 0.01] = ""
    survey = pd.DataFrame(codes, columns=instrument.item_ids)
    survey.insert(0, "role", rng.choice(ROLES, respondents))
    survey.insert(0, "microsystem_id", unit_ids[unit_of])
    survey.insert(0, "respondent_id", [f"R{i:07d}" for i in range(1, respondents + 1)])
    survey.to_csv(folder / "survey_responses.csv", index=False)

    segments = codings // 2
    interviews = max(1, segments // 10)
    interview_units = rng.integers(0, microsystems, interviews)
    pd.DataFrame({
        "interview_id": [f"I{i:06d}" for i in range(1, interviews + 1)],
        "microsystem_id": unit_ids[interview_units],
        "interviewee_role": rng.choice(ROLES, interviews),
        "interview_date": date(2026, 3, 1).isoformat(),
        "word_count": rng.integers(1000, 9000, interviews),
    }).to_csv(folder / "interviews.csv", index=False)
    bank = load_bank()
    excerpts = [(code, text) for code, level, text in all_excerpts(bank) if level]
    pick = rng.integers(0, len(excerpts), segments)
    segment_codes = np.array([excerpts[i][0] for i in range(len(excerpts))])[pick]
    all_codes = np.array(list(bank["characteristics"]))
    slipped = np.where(rng.random(segments) < 0.1, all_codes[rng.integers(0, len(all_codes), segments)], segment_codes)
    segment_ids = np.array([f"S{i:07d}" for i in range(1, segments + 1)])
    texts = np.array([excerpts[i][1] for i in range(len(excerpts))], dtype=object)[pick]
    interview_of = np.array([f"I{i:06d}" for i in range(1, interviews + 1)])[rng.integers(0, interviews, segments)]
    frame = pd.DataFrame({
        "segment_id": np.concatenate([segment_ids, segment_ids]),
        "interview_id": np.concatenate([interview_of, interview_of]),
        "coder": np.repeat(["coder_A", "coder_B"], segments),
        "code": np.concatenate([segment_codes, slipped]),
        "excerpt": np.concatenate([texts, texts]),
    })
    frame.to_csv(folder / "coded_segments.csv", index=False)
    pd.DataFrame({
        "microsystem_id": unit_ids,
        "staff_turnover_pct": np.round(15 - 3 * latent[:, 0] + rng.normal(0, 2, microsystems), 1),
        "safety_events_per_1000_patient_days": np.round(np.exp(1.2 - 0.2 * latent[:, 1]), 2),
        "patient_experience_score": np.round(78 + 4 * latent[:, 2], 1),
    }).to_csv(folder / "outcomes.csv", index=False)
    config = _config() | {
        "id": folder.name, "title": "Large synthetic study (benchmark)",
        "description": "Written by workbench.demo.large.",
    }
    config["files"] = {k: v for k, v in config["files"].items() if k not in ("journeys", "outcome_series")}
    written = ("staff_turnover_pct", "safety_events_per_1000_patient_days", "patient_experience_score")
    config["outcomes"] = [{k: v for k, v in o.items() if k not in ("kind", "per")} for o in OUTCOMES
                          if o["id"] in written]  # here one number per unit, not monthly series
    for setting in ("waves", "changes"):
        config.pop(setting)
    config["privacy"] = {"min_cell_size": 5}
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return {
        "microsystems": microsystems,
        "respondents": respondents,
        "answers": respondents * len(instrument.items),
        "codings": len(frame),
        "interviews": interviews,
    }
