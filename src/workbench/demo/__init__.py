"""The demo study: a deterministic synthetic study of 43 clinical microsystems.

Every microsystem gets a latent level on each of the eight characteristics (driven by a
unit-wide quality, its parent organisation and its own noise). Survey answers of two yearly
waves, coded interview excerpts and 24 months of outcomes are all drawn from those latent
levels, so analyses of the demo study have something real to find. A few improving units make
a dated change between the waves: their latent levels on the characteristics the change works
on rise by the second wave, and their monthly outcomes improve from the change month. The same
seed gives byte-identical files.

The survey is tuned to look like a real unit-level staff survey: item ICC(1) of roughly
0.1-0.3 (most of the variance is between people, not units), with enough agreement inside most
units that about half the unit x characteristic means pass rwg(j) >= 0.70.

This module is the only code allowed to write under ``data/raw/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from workbench.demo.excerpts import CONFUSIONS, EXCERPT_BANK, LEVELS, TOUCHES, ExcerptDeck, load_bank
from workbench.demo.exports import EXPORTS, write_exports
from workbench.demo.series import outcome_series
from workbench.frameworks import load_framework, load_instrument
from workbench.io import refiqda
from workbench.io.files import write_text_atomic

__all__ = [
    "BASE_CANT_RATE", "CANT_RATE_CODE", "CANT_RATE_PROPENSITY", "CODERS", "CODER_SLIP", "CONTACT_TEMPLATES",
    "EXCERPT_BANK", "EXCERPT_NOISE", "FIELDWORK_DAYS", "FILLER", "HEADCOUNT", "IMPROVEMENTS", "IMPROVEMENT_SHIFT",
    "IMPROVING_UNITS", "LEVEL_CUTS", "OPENING", "ORGANISATIONS", "OUTCOMES", "PATHWAYS", "PERSON_LENIENCY", "PLACES",
    "QUESTIONS", "QUIET_SHIFT", "RESPONDENTS", "RESPONSE_RATE", "ROLES", "ROLE_LENIENCY", "ROSTER", "SECOND_CODE",
    "SEED", "SETTINGS", "SKIP_RATE", "SURVEY_CUTS", "SURVEY_NOISE", "SURVEY_SLOPE", "TOUCH_RATE", "WAVES",
    "DemoStudy", "generate", "write", "write_coding_export",
]

SEED = 20261123

ROLES = ["Physician", "Nurse", "Medical assistant", "Clerical", "Manager", "Allied health"]
LEVEL_CUTS = (-0.55, 0.55)  # latent -> low / middle / high, for the tone of interview excerpts
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


# The survey's answer model: a respondent's score on an item is SURVEY_SLOPE x the unit's latent
# level + the role's leniency + the respondent's own leniency + the item's bias + noise, cut at
# SURVEY_CUTS into the three levels. The slope is small beside the noise on purpose: in real staff
# surveys most of an item's variance lies between people inside a unit.
SURVEY_SLOPE = 0.33
SURVEY_NOISE = 0.40  # sd of an answer around its respondent's view of the unit
PERSON_LENIENCY = 0.12  # sd of a respondent's own leniency, shared by all their answers
SURVEY_CUTS = (-0.62, 0.62)

# setting: (smallest, largest headcount); response rates vary by unit and a little by wave.
HEADCOUNT = {
    "Primary care": (10, 40),
    "Emergency department": (34, 60),
    "Neonatal intensive care": (28, 52),
    "Adult intensive care": (28, 55),
    "Dialysis": (9, 28),
    "Diabetes clinic": (8, 24),
    "Geriatric unit": (20, 42),
    "Oncology clinic": (10, 32),
    "Cardiac surgery": (22, 46),
}
RESPONSE_RATE = (0.42, 0.83)  # a unit's usual share of its staff who answer; each wave varies around it
RESPONDENTS = (6, 35)  # fewest and most respondents a unit has in a wave

WAVES = [
    {"id": "2025", "label": "Spring 2025", "fieldwork": date(2025, 3, 3)},
    {"id": "2026", "label": "Spring 2026", "fieldwork": date(2026, 3, 2)},
]
FIELDWORK_DAYS = 58  # each wave's answers come in over about eight weeks of March and April

# The changes improving units make between the waves: what the study records (``what``), how
# staff put it in an interview (``spoken``: a clause in the present perfect) and the
# characteristics it works on, besides measurement and investment in improvement.
IMPROVEMENTS = [
    {"what": "Daily huddle at a run chart on the unit board",
     "spoken": "we've met every morning in front of a run chart on the unit board",
     "also": ["interdependence_of_care_team"]},
    {"what": "Weekly improvement hour protected for the whole team",
     "spoken": "the whole team has had an hour a week kept free for improvement work",
     "also": ["constancy_of_purpose"]},
    {"what": "Shared results inbox with a named owner each day",
     "spoken": "every result has gone to a shared inbox with one named person looking after it each day",
     "also": ["integration_of_information"]},
    {"what": "Monthly team review of the unit's data, choosing one change to test",
     "spoken": "we've sat down as a team once a month to look at our data and pick one change to try",
     "also": ["constancy_of_purpose", "interdependence_of_care_team"]},
    {"what": "Nurse-led follow-up under agreed protocols, audited every month",
     "spoken": "nurses have run the routine follow-ups themselves under agreed protocols, with an audit every month",
     "also": ["alignment_of_role_and_training"]},
    {"what": "Improvement coach two days a week and training in small tests of change",
     "spoken": "we've had an improvement coach with us two days a week, and most of us have been trained to test "
               "small changes",
     "also": ["supportiveness_of_larger_system"]},
]
IMPROVING_UNITS = 6
IMPROVEMENT_SHIFT = (2.0, 2.6)  # rise of the latent level on measurement and investment in improvement
QUIET_SHIFT = 0.25  # the last improving unit: outcomes improve, its survey change stays within noise

CODERS = ("coder_A", "coder_B")
CODER_SLIP = {"coder_A": 0.09, "coder_B": 0.15}  # chance of choosing a neighbouring code instead of the right one
SECOND_CODE = 0.85  # chance a coder also applies the second code of a segment composed to carry two
TOUCH_RATE = 0.14  # share of segments whose excerpt goes on to touch a related characteristic
EXCERPT_NOISE = 0.2  # sd of the noise on a unit's latent level before an excerpt's tone is chosen

OUTCOMES = [
    {"id": "staff_turnover_pct", "label": "Staff turnover", "unit": "% of staff a year", "better": "lower"},
    {"id": "safety_events_per_1000_patient_days", "label": "Safety events", "unit": "per 1,000 patient-days",
     "better": "lower", "kind": "rate", "per": 1000},
    {"id": "hand_hygiene_pct", "label": "Hand hygiene compliance", "unit": "% of observed opportunities",
     "better": "higher", "kind": "proportion", "per": 100},
    {"id": "patient_experience_score", "label": "Patient experience", "unit": "score out of 100", "better": "higher",
     "kind": "measurement"},
]


@dataclass(frozen=True)
class DemoStudy:
    """The generated tables, plus the latent truth behind them (never written to a file)."""

    microsystems: pd.DataFrame
    survey: pd.DataFrame  # both waves, told apart by the ``wave`` column
    interviews: pd.DataFrame
    coded_segments: pd.DataFrame
    outcomes: pd.DataFrame  # one number per unit: staff turnover
    outcome_series: pd.DataFrame  # unit x monthly outcome x month, as written (text)
    latent: pd.DataFrame  # microsystem_id x characteristic at the latest wave, on a standard-normal scale
    config: dict
    transcripts: dict[str, str]  # interview_id -> the full transcript the excerpts were cut from
    journeys: pd.DataFrame  # patients' visits across microsystems
    latent_waves: dict[str, pd.DataFrame] = field(default_factory=dict)  # wave id -> latent levels in that wave
    improvers: pd.DataFrame = field(default_factory=pd.DataFrame)  # the changes, with the characteristics raised
    outcome_levels: pd.DataFrame = field(default_factory=pd.DataFrame)  # true level before/after, unit x outcome


def generate(seed: int = SEED) -> DemoStudy:
    rng = np.random.default_rng(seed)
    characteristics = load_framework("microsystem_characteristics").element_ids
    instrument = load_instrument("microsystem_self_assessment")

    microsystems, baseline = _microsystems(rng, characteristics)
    improvers = _improvers(np.random.default_rng(seed + 3), microsystems, baseline)
    latest = baseline.copy()
    for change in improvers.itertuples():
        for characteristic, rise in change.shifts.items():
            latest.at[change.microsystem_id, characteristic] = round(latest.at[change.microsystem_id, characteristic]
                                                                     + rise, 4)
    latent_waves = {WAVES[0]["id"]: baseline, WAVES[-1]["id"]: latest}
    survey = _survey(rng, microsystems, latent_waves, instrument)
    interviews, coded_segments, transcripts = _interviews(np.random.default_rng(seed + 4), microsystems, latest,
                                                          improvers)
    outcomes = _turnover(np.random.default_rng(seed + 5), microsystems, latest)
    series, levels = outcome_series(np.random.default_rng(seed + 6), microsystems, baseline, improvers)
    journeys = _journeys(np.random.default_rng(seed + 2), microsystems)
    return DemoStudy(
        microsystems=microsystems, survey=survey, interviews=interviews, coded_segments=coded_segments,
        outcomes=outcomes, outcome_series=series, latent=latest, config=_config(_changes(improvers)),
        transcripts=transcripts, journeys=journeys, latent_waves=latent_waves, improvers=improvers,
        outcome_levels=levels,
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
    # Staff in the unit: a spread within the setting's usual range, a few small units among them.
    low = microsystems["setting"].map(lambda s: HEADCOUNT[s][0]).to_numpy()
    high = microsystems["setting"].map(lambda s: HEADCOUNT[s][1]).to_numpy()
    microsystems["headcount"] = np.rint(low + (high - low) * rng.beta(1.3, 1.3, len(microsystems))).astype(int)
    return microsystems, latent_frame


def _improvers(rng: np.random.Generator, microsystems: pd.DataFrame, latent: pd.DataFrame) -> pd.DataFrame:
    """The improving units: one from each of several settings, among the units with most room to
    improve on measurement and investment in improvement; their change, its month and the rise
    of their latent levels by the second wave."""
    settings = rng.choice(list(SETTINGS), size=IMPROVING_UNITS, replace=False)
    changes = rng.permutation(len(IMPROVEMENTS))[:IMPROVING_UNITS]
    months = rng.permutation(np.resize(np.arange(3, 8), IMPROVING_UNITS))  # March to July 2025, spread out
    rows = []
    for number, (setting, change, month) in enumerate(zip(settings, changes, months)):
        units = microsystems.loc[microsystems["setting"].eq(setting), "microsystem_id"]
        room = latent.loc[units, ["measurement", "investment_in_improvement"]].mean(axis=1).sort_values()
        unit = str(rng.choice(room.index[: max(2, len(room) // 2)]))
        improvement = IMPROVEMENTS[int(change)]
        quiet = number == IMPROVING_UNITS - 1
        rise = QUIET_SHIFT if quiet else float(rng.uniform(*IMPROVEMENT_SHIFT))
        shifts = {"measurement": rise, "investment_in_improvement": round(rise * 0.9, 4)}
        shifts |= {c: round(rise * 0.6, 4) for c in improvement["also"]}
        rows.append({
            "microsystem_id": unit, "month": f"2025-{int(month):02d}", "what": improvement["what"],
            "spoken": improvement["spoken"], "shifts": {c: round(v, 4) for c, v in shifts.items()},
            "survey_change_within_noise": quiet,
        })
    return pd.DataFrame(rows).sort_values("microsystem_id", ignore_index=True)


def _changes(improvers: pd.DataFrame) -> list[dict]:
    return [{"microsystem_id": r.microsystem_id, "month": r.month, "what": r.what} for r in improvers.itertuples()]


def _survey(rng, microsystems, latent_waves, instrument) -> pd.DataFrame:
    """Both waves: each unit's respondents are a response rate of its headcount, drawn afresh."""
    rows = []
    respondent = 0
    item_bias = {item.id: rng.normal(0, 0.1) for item in instrument.items}
    usual_rate = rng.uniform(*RESPONSE_RATE, len(microsystems))
    for wave in WAVES:
        latent = latent_waves[wave["id"]]
        start = datetime.combine(wave["fieldwork"], datetime.min.time()).replace(hour=8)
        for unit, rate in zip(microsystems.itertuples(), usual_rate):
            mix = np.array(SETTINGS[unit.setting][2])
            this_wave = float(np.clip(rate + rng.normal(0, 0.05), 0.40, 0.85))
            size = int(np.clip(round(this_wave * unit.headcount), RESPONDENTS[0], min(RESPONDENTS[1], unit.headcount)))
            roles = rng.choice(ROLES, size=size, p=mix / mix.sum())
            roles[0] = "Manager"  # every unit has someone who leads it
            for role in roles:
                respondent += 1
                leniency = ROLE_LENIENCY[role] + rng.normal(0, PERSON_LENIENCY)
                when = start + timedelta(days=int(rng.integers(0, FIELDWORK_DAYS)),
                                         minutes=int(rng.integers(0, 60 * 11)))
                row = {"respondent_id": f"R{respondent:05d}", "wave": wave["id"],
                       "microsystem_id": unit.microsystem_id, "role": role,
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
                            SURVEY_SLOPE * latent.at[unit.microsystem_id, item.characteristic]
                            + leniency
                            + item_bias[item.id]
                            + rng.normal(0, SURVEY_NOISE)
                        )
                        row[item.id] = str(1 + int(np.searchsorted(SURVEY_CUTS, score)))
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


MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]


def _tone(value: float, floor: int, ceiling: int, rng) -> str:
    """The level of an excerpt from a unit's latent level, a little noise and the unit's bounds."""
    level = int(np.searchsorted(LEVEL_CUTS, value + rng.normal(0, EXCERPT_NOISE)))
    return LEVELS[min(max(level, floor), ceiling)]


def _interviews(rng, microsystems, latent, improvers) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Interviews (February to May 2026, after the changes), their codings with positions in the
    transcript, and the transcripts. An excerpt's tone follows its unit's latent level: a unit in
    the bottom third of a characteristic is never quoted at the high level, nor one in the top
    third at the low level."""
    bank = load_bank()
    deck = ExcerptDeck(bank, rng)
    characteristics = list(bank["characteristics"])
    leading = list(bank["leading_processes"])
    lower, upper = latent.quantile(1 / 3), latent.quantile(2 / 3)
    change_of = improvers.set_index("microsystem_id") if len(improvers) else improvers

    def bounds(unit: str, code: str) -> tuple[int, int]:
        value = latent.at[unit, code]
        return (1 if value > upper[code] else 0), (1 if value < lower[code] else 2)

    interviews, codings, transcripts = [], [], {}
    interview_number = segment_number = 0
    for unit in microsystems.itertuples():
        unit_id = unit.microsystem_id
        count = int(rng.integers(1, 5))
        staff_roles = [r for r, w in zip(ROLES, SETTINGS[unit.setting][2]) if w > 0 and r != "Manager"]
        change = change_of.loc[unit_id] if unit_id in change_of.index else None
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
                    excerpt = deck.excerpt(code)
                else:
                    # Staff talk more about what their unit does well, so evidence follows strength.
                    weights = np.exp(1.0 * latent.loc[unit_id, characteristics].to_numpy(dtype=float))
                    code = str(rng.choice(characteristics, p=weights / weights.sum()))
                    level = _tone(latent.at[unit_id, code], *bounds(unit_id, code), rng)
                    opening = None
                    if change is not None and level == "high" and code in change["shifts"] and rng.random() < 0.4:
                        month = MONTH_NAMES[int(change["month"][5:]) - 1]
                        template = str(rng.choice(bank["change_openings"]))
                        opening = template.format(month=month, spoken=change["spoken"])
                    excerpt = deck.excerpt(code, level, opening=opening)
                second = None
                if rng.random() < TOUCH_RATE:
                    second = str(rng.choice(TOUCHES[code]))
                    excerpt += " " + deck.touching(second, _tone(latent.at[unit_id, second],
                                                                 *bounds(unit_id, second), rng))
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
                for coder in CODERS:
                    # A slip goes to a neighbouring code, one a reader could argue for.
                    applied = code if rng.random() >= CODER_SLIP[coder] else str(rng.choice(CONFUSIONS[code]))
                    chosen = [applied]
                    if second and second != applied and rng.random() < SECOND_CODE:
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
                "interview_id": interview_id, "microsystem_id": unit_id, "interviewee_role": role,
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


def _turnover(rng, microsystems, latent) -> pd.DataFrame:
    """Staff turnover over the last year: the one outcome given as one number per unit."""
    turnover = (
        16
        - 3.0 * latent["alignment_of_role_and_training"]
        - 2.0 * latent["constancy_of_purpose"]
        + rng.normal(0, 2.5, len(latent))
    )
    return pd.DataFrame({
        "microsystem_id": microsystems["microsystem_id"].to_numpy(),
        "staff_turnover_pct": np.clip(turnover.to_numpy(), 2, 45).round(1),
    })


def _config(changes: list[dict] | None = None) -> dict:
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
            "outcome_series": "outcome_series.csv",
            "journeys": "journeys.csv",
        },
        "survey_coding": {"levels": {"1": 1, "2": 2, "3": 3}, "cant_rate": [CANT_RATE_CODE]},
        "waves": [{"id": wave["id"], "label": wave["label"]} for wave in WAVES],
        "outcomes": OUTCOMES,
        "changes": list(changes or []),
        "privacy": {"min_cell_size": 5, "roster": "roster.csv"},
    }


class _StudyDumper(yaml.SafeDumper):
    """Quotes a month ('2025-05') as the study files' readers and people expect to see it."""


def _quoted_months(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "'" if re.fullmatch(r"\d{4}-\d{2}", value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_StudyDumper.add_representer(str, _quoted_months)


def _study_yaml(config: dict) -> str:
    return yaml.dump(config, Dumper=_StudyDumper, sort_keys=False, allow_unicode=True)


def write(folder: Path, seed: int = SEED) -> DemoStudy:
    """Generate the demo study and write it to ``folder`` (normally ``data/raw/demo``)."""
    study = generate(seed)
    folder = Path(folder)
    header = "# The demo study's settings. Written by `workbench demo`; edit the generator, not this file.\n"
    write_text_atomic(folder / "study.yaml", header + _study_yaml(study.config))
    for name, file_name in study.config["files"].items():
        frame = getattr(study, "survey" if name == "survey" else name)
        write_text_atomic(folder / file_name, frame.to_csv(index=False, lineterminator="\n"))
    write_text_atomic(folder / "roster.csv", "name\n" + "".join(f"{name}\n" for name in ROSTER))
    # The platform exports carry the latest wave only, as one fieldwork's download would: their
    # readers know nothing of waves.
    latest = study.survey[study.survey["wave"].eq(WAVES[-1]["id"])].drop(columns="wave").reset_index(drop=True)
    write_exports(
        folder,
        latest,
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
