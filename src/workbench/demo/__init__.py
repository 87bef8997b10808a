"""The demo study: a deterministic synthetic study of 43 clinical microsystems.

Every microsystem gets a latent level on each of the eight characteristics (driven by a
unit-wide quality, its parent organisation and its own noise). Survey answers, coded
interview excerpts and outcomes are all drawn from those latent levels, so analyses of
the demo study have something real to find. The same seed gives byte-identical files.

This module is the only code allowed to write under ``data/raw/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from workbench.demo.exports import EXPORTS, write_exports
from workbench.frameworks import load_framework, load_instrument
from workbench.io import refiqda
from workbench.io.files import write_text_atomic

__all__ = [
    "BASE_CANT_RATE", "CANT_RATE_CODE", "CANT_RATE_PROPENSITY", "CODERS", "CODER_SLIP", "CONTACT_TEMPLATES",
    "EXCERPT_BANK", "FILLER", "LEVEL_CUTS", "OPENING", "ORGANISATIONS", "OUTCOMES", "PATHWAYS", "PLACES", "QUESTIONS",
    "ROLES", "ROLE_LENIENCY", "ROSTER", "SEED", "SETTINGS", "SKIP_RATE", "DemoStudy", "generate", "write",
    "write_coding_export",
]

SEED = 20261123
EXCERPT_BANK = Path(__file__).with_name("excerpt_bank.yaml")

ROLES = ["Physician", "Nurse", "Medical assistant", "Clerical", "Manager", "Allied health"]
LEVEL_CUTS = (-0.55, 0.55)  # latent -> low / middle / high on the self-assessment's three levels
CANT_RATE_CODE = "9"

ORGANISATIONS = [
    ("ORG1", "Harbourview Health", 0.5),
    ("ORG2", "Millbrook Medical Center", -0.3),
    ("ORG3", "Cedar Valley Health System", 0.2),
    ("ORG4", "Northgate University Hospitals", 0.0),
    ("ORG5", "Prairie Lakes Community Care", -0.6),
    ("ORG6", "Saint Aldric Regional", 0.3),
    ("ORG7", "Eastfield Health Partners", -0.1),
    ("ORG8", "Three Rivers Children's and Family Health", 0.4),
]

# setting: (how many, name pattern, role mix weights in ROLES order)
SETTINGS = {
    "Primary care": (8, "{place} Family Practice", [0.25, 0.22, 0.25, 0.16, 0.05, 0.07]),
    "Emergency department": (5, "{place} Emergency Department", [0.22, 0.48, 0.0, 0.12, 0.05, 0.13]),
    "Neonatal intensive care": (4, "{place} Neonatal ICU", [0.15, 0.60, 0.0, 0.06, 0.05, 0.14]),
    "Adult intensive care": (5, "{place} Medical-Surgical ICU", [0.18, 0.55, 0.0, 0.05, 0.05, 0.17]),
    "Dialysis": (4, "{place} Dialysis Unit", [0.10, 0.45, 0.12, 0.10, 0.06, 0.17]),
    "Diabetes clinic": (5, "{place} Diabetes Centre", [0.20, 0.30, 0.15, 0.12, 0.06, 0.17]),
    "Geriatric unit": (4, "{place} Acute Care for Elders Unit", [0.15, 0.50, 0.05, 0.08, 0.05, 0.17]),
    "Oncology clinic": (4, "{place} Cancer Clinic", [0.22, 0.40, 0.08, 0.12, 0.05, 0.13]),
    "Cardiac surgery": (4, "{place} Cardiac Surgery Unit", [0.22, 0.48, 0.0, 0.07, 0.05, 0.18]),
}
PLACES = [
    "Alder", "Birchwood", "Brookside", "Castle Hill", "Dunmore", "Elmhurst", "Fairview", "Glenwood",
    "Hawthorn", "Highgate", "Ironbridge", "Juniper", "Kingsley", "Larchmont", "Maple Grove", "Meadowbank",
    "Northcote", "Oakridge", "Parkside", "Queensway", "Redcliff", "Riverbend", "Rosemont", "Sandford",
    "Southgate", "Stonebridge", "Summerhill", "Thornbury", "Upton", "Valley Road", "Westbrook", "Whitmore",
    "Willowdale", "Windermere", "Yarrow", "Ashford", "Beacon Hill", "Clearwater", "Deerfield", "Eastwood",
    "Foxley", "Greenfield", "Holloway",
]

# How often each role cannot see what an item asks about ("can't rate"), by item.
CANT_RATE_PROPENSITY = {
    "Clerical": {
        "information_technology": 0.05,
        "measurement": 0.30,
        "interdependence_of_care_team": 0.15,
        "investment_in_improvement": 0.25,
        "alignment_of_role_and_training": 0.25,
        "information_patients": 0.15,
    },
    "Medical assistant": {
        "measurement": 0.20, "supportiveness_of_larger_organisation": 0.20, "investment_in_improvement": 0.15,
    },
    "Allied health": {"connection_to_community": 0.20, "information_technology": 0.08},
    "Nurse": {"connection_to_community": 0.18, "supportiveness_of_larger_organisation": 0.10},
    "Physician": {"connection_to_community": 0.12, "alignment_of_role_and_training": 0.05},
    "Manager": {},
}
BASE_CANT_RATE = 0.02
SKIP_RATE = 0.01
ROLE_LENIENCY = {
    "Physician": 0.10,
    "Nurse": -0.15,
    "Medical assistant": 0.0,
    "Clerical": 0.05,
    "Manager": 0.35,
    "Allied health": -0.05,
}

CODERS = ("coder_A", "coder_B")
CODER_SLIP = {"coder_A": 0.07, "coder_B": 0.13}  # chance of choosing another code than the segment's own

OUTCOMES = [
    {"id": "staff_turnover_pct", "label": "Staff turnover", "unit": "% of staff a year", "better": "lower"},
    {
        "id": "safety_events_per_1000_patient_days",
        "label": "Safety events",
        "unit": "per 1,000 patient-days",
        "better": "lower",
    },
    {"id": "patient_experience_score", "label": "Patient experience", "unit": "score out of 100", "better": "higher"},
]


@dataclass(frozen=True)
class DemoStudy:
    """The generated tables, plus the latent truth behind them (never written to a file)."""

    microsystems: pd.DataFrame
    survey: pd.DataFrame
    interviews: pd.DataFrame
    coded_segments: pd.DataFrame
    outcomes: pd.DataFrame
    latent: pd.DataFrame  # microsystem_id x characteristic, on a standard-normal scale
    config: dict
    transcripts: dict[str, str]  # interview_id -> the full transcript the excerpts were cut from
    journeys: pd.DataFrame  # patients' visits across microsystems


def generate(seed: int = SEED) -> DemoStudy:
    rng = np.random.default_rng(seed)
    characteristics = load_framework("microsystem_characteristics").element_ids
    instrument = load_instrument("microsystem_self_assessment")

    microsystems, latent = _microsystems(rng, characteristics)
    survey = _survey(rng, microsystems, latent, instrument)
    interviews, coded_segments, transcripts = _interviews(rng, microsystems, latent)
    outcomes = _outcomes(rng, microsystems, latent)
    journeys = _journeys(np.random.default_rng(seed + 2), microsystems)
    return DemoStudy(
        microsystems, survey, interviews, coded_segments, outcomes, latent, _config(), transcripts, journeys
    )


def _microsystems(rng: np.random.Generator, characteristics: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    places = list(PLACES)
    rng.shuffle(places)
    number = 0
    for setting, (count, pattern, _) in SETTINGS.items():
        for _ in range(count):
            organisation_id, organisation, _support = ORGANISATIONS[rng.integers(len(ORGANISATIONS))]
            rows.append({
                "microsystem_id": f"MS{number + 1:02d}",
                "name": pattern.format(place=places[number]),
                "setting": setting,
                "organisation_id": organisation_id,
                "organisation": organisation,
            })
            number += 1
    microsystems = pd.DataFrame(rows)
    support = {org_id: effect for org_id, _, effect in ORGANISATIONS}
    unit_quality = rng.normal(0, 1, len(microsystems))
    organisation_effect = microsystems["organisation_id"].map(support).to_numpy()
    latent = {}
    for characteristic in characteristics:
        own = rng.normal(0, 1, len(microsystems))
        weight = 0.9 if characteristic == "supportiveness_of_larger_system" else 0.35
        latent[characteristic] = 0.65 * unit_quality + weight * organisation_effect + 0.55 * own
    latent_frame = pd.DataFrame(latent, index=pd.Index(microsystems["microsystem_id"], name="microsystem_id")).round(4)
    return microsystems, latent_frame


def _survey(rng, microsystems, latent, instrument) -> pd.DataFrame:
    start = datetime(2026, 3, 2, 8, 0)
    rows = []
    respondent = 0
    item_bias = {item.id: rng.normal(0, 0.15) for item in instrument.items}
    for unit in microsystems.itertuples():
        mix = np.array(SETTINGS[unit.setting][2])
        size = int(rng.integers(6, 31))
        roles = rng.choice(ROLES, size=size, p=mix / mix.sum())
        roles[0] = "Manager"  # every unit has someone who leads it
        for role in roles:
            respondent += 1
            leniency = ROLE_LENIENCY[role] + rng.normal(0, 0.2)
            when = start + timedelta(days=int(rng.integers(0, 52)), minutes=int(rng.integers(0, 60 * 11)))
            row = {"respondent_id": f"R{respondent:04d}", "microsystem_id": unit.microsystem_id, "role": role,
                   "completed_at": when.strftime("%Y-%m-%d %H:%M")}
            for item in instrument.items:
                cant_rate = BASE_CANT_RATE + CANT_RATE_PROPENSITY[role].get(item.id, 0.0)
                draw = rng.random()
                if draw < SKIP_RATE:
                    row[item.id] = ""
                elif draw < SKIP_RATE + cant_rate:
                    row[item.id] = CANT_RATE_CODE
                else:
                    score = (
                        latent.at[unit.microsystem_id, item.characteristic]
                        + leniency
                        + item_bias[item.id]
                        + rng.normal(0, 0.45)
                    )
                    row[item.id] = str(1 + int(np.searchsorted(LEVEL_CUTS, score)))
            rows.append(row)
    return pd.DataFrame(rows)


# Interview talk that nobody codes: most of a transcript is like this.
QUESTIONS = [
    "Could you walk me through a normal shift here?",
    "How long have you worked in this unit, and in what roles?",
    "What happens from the moment a patient arrives?",
    "How does the team share what it knows during the day?",
    "What gets in the way of doing the work well?",
    "How would you know whether the unit is doing well?",
    "If you could change one thing first, what would it be?",
    "How does the wider organisation shape your work?",
    "Who do you turn to when something goes wrong?",
    "What is this unit trying to achieve, in your words?",
    "How are new colleagues brought up to speed?",
    "Is there anything we have not asked about that matters here?",
]
FILLER = [
    "Let me think about that for a second.",
    "It depends a bit on the day, to be honest.",
    "I have been here a few years now, so I have watched it change.",
    "That is a fair question.",
    "Mostly it is the usual rhythm of appointments, calls and paperwork.",
    "Some weeks are calmer than others.",
    "I suppose it varies with who is on shift.",
    "We had a hard winter, so that colours how I see things.",
    "There are a few things I could say there.",
    "I can give you an example from last month.",
    "People outside the unit do not always see this part.",
    "I would not want to speak for everyone, but that is my view.",
]
# Invented staff names: a few excerpts mention colleagues and contact details, as real
# transcripts do, so the scrubbing that protects them has something to do.
ROSTER = ["Dana Whitfield", "Priya Raman", "Tomas Okafor", "Grace Lindqvist", "Marcus Bell", "Aiko Tanaka",
          "Fatima Haddad", "Owen Price", "Lucia Moreno", "Sam Kowalski"]
CONTACT_TEMPLATES = [
    " {name} keeps the list, you can reach her on 555-01{digits} if you need it.",
    " Ask {name} about it, {first}'s address is {email}.",
    " {name} was born on 12/04/1979 and has been here longer than anyone.",
]

OPENING = (
    "Interviewer: Thank you for making time today. Nothing you say will be linked to your name.\n"
    "Participant: That is fine, happy to help.\n\n"
)


def _interviews(rng, microsystems, latent) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Interviews, their codings (with positions in the transcript) and the transcripts."""
    bank = yaml.safe_load(EXCERPT_BANK.read_text(encoding="utf-8"))
    characteristic_bank = bank["characteristics"]
    leading_bank = bank["leading_processes"]
    characteristics = list(characteristic_bank)
    leading = list(leading_bank)
    all_codes = characteristics + leading
    interviews, codings, transcripts = [], [], {}
    interview_number = segment_number = 0
    for unit in microsystems.itertuples():
        count = int(rng.integers(1, 5))
        staff_roles = [r for r, w in zip(ROLES, SETTINGS[unit.setting][2]) if w > 0 and r != "Manager"]
        for position in range(count):
            interview_number += 1
            interview_id = f"INT{interview_number:03d}"
            role = "Manager" if position == 0 else str(rng.choice(staff_roles))
            text = OPENING
            for _ in range(int(rng.integers(3, 7))):  # exchanges nobody codes
                text += (
                    f"Interviewer: {rng.choice(QUESTIONS)}\n"
                    f"Participant: {' '.join(rng.choice(FILLER, size=int(rng.integers(2, 5))))}\n\n"
                )
            for _ in range(int(rng.integers(6, 13))):
                segment_number += 1
                if role == "Manager" and rng.random() < 0.35:
                    code = str(rng.choice(leading))
                    excerpt = str(rng.choice(leading_bank[code]))
                else:
                    # Staff talk more about what their unit does well, so evidence follows strength.
                    weights = np.exp(1.3 * latent.loc[unit.microsystem_id, characteristics].to_numpy(dtype=float))
                    code = str(rng.choice(characteristics, p=weights / weights.sum()))
                    strength = latent.at[unit.microsystem_id, code] + rng.normal(0, 0.5)
                    level = ("low", "middle", "high")[int(np.searchsorted(LEVEL_CUTS, strength))]
                    excerpt = str(rng.choice(characteristic_bank[code][level]))
                if rng.random() < 0.03:
                    name = str(rng.choice(ROSTER))
                    first, last = name.split()
                    excerpt += str(rng.choice(CONTACT_TEMPLATES)).format(
                        name=name,
                        first=first,
                        digits=f"{int(rng.integers(10, 99))}",
                        email=f"{first[0].lower()}.{last.lower()}@example.org",
                    )
                text += f"Interviewer: {rng.choice(QUESTIONS)}\nParticipant: {rng.choice(FILLER)} "
                start = len(text)
                text += excerpt
                end = len(text)
                text += f" {rng.choice(FILLER)}\n\n" if rng.random() < 0.5 else "\n\n"
                second = str(rng.choice(all_codes)) if rng.random() < 0.15 else None
                for coder in CODERS:
                    applied = (
                        code
                        if rng.random() >= CODER_SLIP[coder]
                        else str(rng.choice([c for c in all_codes if c != code]))
                    )
                    chosen = [applied]
                    if second and second != applied and rng.random() < 0.7:
                        chosen.append(second)
                    for chosen_code in chosen:
                        codings.append({
                            "segment_id": f"SEG{segment_number:04d}",
                            "interview_id": interview_id,
                            "coder": coder,
                            "code": chosen_code,
                            "excerpt": excerpt,
                            "start": start,
                            "end": end,
                        })
            transcripts[interview_id] = text
            interviews.append({
                "interview_id": interview_id, "microsystem_id": unit.microsystem_id, "interviewee_role": role,
                "interview_date": (date(2026, 2, 2) + timedelta(days=int(rng.integers(0, 110)))).isoformat(),
                "word_count": len(text.split()), "characters": len(text),
            })
    return pd.DataFrame(interviews), pd.DataFrame(codings), transcripts


# Pathways a patient's own health system commonly takes through the demo's kinds of unit.
PATHWAYS = [
    ["Primary care", "Emergency department", "Adult intensive care", "Geriatric unit", "Primary care"],
    ["Primary care", "Diabetes clinic", "Dialysis", "Emergency department"],
    ["Primary care", "Oncology clinic", "Emergency department", "Adult intensive care"],
    ["Emergency department", "Cardiac surgery", "Adult intensive care", "Primary care"],
    ["Neonatal intensive care", "Primary care"],
    ["Primary care", "Emergency department", "Cardiac surgery", "Primary care"],
]


def _journeys(rng, microsystems, patients: int = 400) -> pd.DataFrame:
    """Patients moving through several microsystems, mostly within one parent organisation."""
    units = microsystems.set_index("microsystem_id")
    rows = []
    for number in range(1, patients + 1):
        pathway = PATHWAYS[int(rng.integers(len(PATHWAYS)))]
        length = int(rng.integers(2, len(pathway) + 1))
        home = None
        when = date(2025, 9, 1) + timedelta(days=int(rng.integers(0, 240)))
        for visit, setting in enumerate(pathway[:length], start=1):
            candidates = units.index[units["setting"].eq(setting)]
            local = [u for u in candidates if home is not None and units.at[u, "organisation_id"] == home]
            unit = str(rng.choice(local if local and rng.random() < 0.75 else candidates))
            home = home or units.at[unit, "organisation_id"]
            rows.append({
                "patient_id": f"PT{number:04d}", "visit": visit, "microsystem_id": unit, "visit_date": when.isoformat(),
            })
            when += timedelta(days=int(rng.integers(0, 30)))
    return pd.DataFrame(rows)


def _outcomes(rng, microsystems, latent) -> pd.DataFrame:
    unit = latent.to_numpy().mean(axis=1)
    turnover = (
        16
        - 3.0 * latent["alignment_of_role_and_training"]
        - 2.0 * latent["constancy_of_purpose"]
        + rng.normal(0, 2.5, len(latent))
    )
    safety = np.exp(
        1.3
        - 0.25 * latent["measurement"]
        - 0.2 * latent["interdependence_of_care_team"]
        + rng.normal(0, 0.2, len(latent))
    )
    experience = 78 + 4.0 * unit + 3.0 * latent["integration_of_information"] + rng.normal(0, 3.0, len(latent))
    outcomes = pd.DataFrame({
        "microsystem_id": microsystems["microsystem_id"].to_numpy(),
        "staff_turnover_pct": np.clip(turnover.to_numpy(), 2, 45).round(1),
        "safety_events_per_1000_patient_days": safety.to_numpy().round(2),
        "patient_experience_score": np.clip(experience.to_numpy(), 40, 100).round(1),
    })
    # Two units never reported patient experience: real studies have gaps.
    missing = rng.choice(len(outcomes), size=2, replace=False)
    outcomes["patient_experience_score"] = outcomes["patient_experience_score"].astype(object)
    outcomes.loc[missing, "patient_experience_score"] = ""
    return outcomes


def _config() -> dict:
    return {
        "id": "demo",
        "title": "Demo study: 43 synthetic clinical microsystems",
        "description": (
            f"A synthetic study generated by workbench.demo (seed {SEED}). "
            "Every person, unit and organisation in it is invented."
        ),
        "instrument": "microsystem_self_assessment",
        "coding_frameworks": ["microsystem_characteristics", "leading_processes"],
        "roles": ROLES,
        "files": {
            "microsystems": "microsystems.csv",
            "survey": "survey_responses.csv",
            "interviews": "interviews.csv",
            "coded_segments": "coded_segments.csv",
            "outcomes": "outcomes.csv",
            "journeys": "journeys.csv",
        },
        "survey_coding": {"levels": {"1": 1, "2": 2, "3": 3}, "cant_rate": [CANT_RATE_CODE]},
        "outcomes": OUTCOMES,
        "privacy": {"min_cell_size": 5, "roster": "roster.csv"},
    }


def write(folder: Path, seed: int = SEED) -> DemoStudy:
    """Generate the demo study and write it to ``folder`` (normally ``data/raw/demo``)."""
    study = generate(seed)
    folder = Path(folder)
    header = "# The demo study's settings. Written by `workbench demo`; edit the generator, not this file.\n"
    write_text_atomic(folder / "study.yaml", header + yaml.safe_dump(study.config, sort_keys=False, allow_unicode=True))
    for name, file_name in study.config["files"].items():
        frame = getattr(study, "survey" if name == "survey" else name)
        write_text_atomic(folder / file_name, frame.to_csv(index=False, lineterminator="\n"))
    write_text_atomic(folder / "roster.csv", "name\n" + "".join(f"{name}\n" for name in ROSTER))
    write_exports(
        folder,
        study.survey,
        study.microsystems,
        load_instrument("microsystem_self_assessment"),
        np.random.default_rng(seed + 1),
    )
    write_coding_export(folder, study)
    return study


def write_coding_export(folder: Path, study: DemoStudy) -> None:
    """The same coded interviews as a REFI-QDA project, with the mapping that reads it."""
    frameworks = [load_framework(name) for name in study.config["coding_frameworks"]]
    framework_of = {e: f.id for f in frameworks for e in f.element_ids}
    codings = study.coded_segments.rename(columns={"code": "code_id"}).assign(
        framework_id=lambda t: t["code_id"].map(framework_of)
    )
    codes = refiqda.write_qdpx(
        Path(folder) / EXPORTS / "interviews.qdpx",
        name=study.config["title"],
        codings=codings,
        interviews=study.interviews,
        microsystems=study.microsystems,
        frameworks=frameworks,
        transcripts=study.transcripts,
        when=datetime(2026, 6, 1, 9, 0),
    )
    mapping = {
        "format": "refi-qda",
        "file": "interviews.qdpx",
        "codes": codes,
        "unmapped_codes": "error",
        "source_variables": {"interviewee_role": "Interviewee role", "interview_date": "Interview date"},
    }
    header = "# Reads the demo study's coded interviews from its REFI-QDA project. Written by `workbench demo`.\n"
    write_text_atomic(
        Path(folder) / EXPORTS / "interviews_mapping.yaml",
        header + yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True, width=120),
    )
