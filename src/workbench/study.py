"""A study: its configuration, its validated tidy frames, and their processed copies.

``load_study`` reads and checks the raw files. ``build_processed`` writes the frames to
``data/processed/<study>/`` as parquet with a manifest of what they were made from;
``open_study`` reads those copies when they are current and rebuilds them when not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench import __version__, paths, privacy
from workbench.errors import InputError
from workbench.frameworks import Framework, Instrument, load_framework, load_instrument
from workbench.io.files import read_yaml_model, sha256_of, write_parquet_atomic, write_text_atomic

STUDY_FILE = "study.yaml"
FRAMES = ("microsystems", "respondents", "answers", "interviews", "codings", "outcomes", "journeys")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudyFiles(_Strict):
    microsystems: str = "microsystems.csv"
    survey: str = "survey_responses.csv"
    interviews: str = "interviews.csv"
    coded_segments: str = "coded_segments.csv"
    outcomes: str = "outcomes.csv"
    journeys: str | None = None  # patient journeys across microsystems, when the study has them


class SurveyCoding(_Strict):
    """How the survey file writes answers: level codes, and the code(s) for "can't rate"."""

    levels: dict[str, int] = {"1": 1, "2": 2, "3": 3}
    cant_rate: list[str] = ["9"]


class OutcomeSpec(_Strict):
    id: str
    label: str
    unit: str = ""
    better: Literal["higher", "lower"]


class ScrubPattern(_Strict):
    pattern: str
    replacement: str = "[removed]"


class Privacy(_Strict):
    min_cell_size: int = Field(5, ge=1, description="No breakdown is shown for fewer people than this.")
    roster: str | None = Field(None, description="A CSV file with a 'name' column: names masked in every excerpt.")
    scrub_patterns: list[ScrubPattern] = []


class StudyConfig(_Strict):
    id: str
    title: str
    description: str = ""
    instrument: str = "microsystem_self_assessment"
    coding_frameworks: list[str] = ["microsystem_characteristics", "leading_processes"]
    roles: list[str]
    files: StudyFiles = StudyFiles()
    survey_export: str | None = Field(None, description="A mapping file (REDCap, Qualtrics, Excel); when set, the survey is read through it instead of files.survey.")
    coding_export: str | None = Field(None, description="A mapping file for a REFI-QDA project; when set, interviews and codings are read from it instead of the CSV files.")
    survey_coding: SurveyCoding = SurveyCoding()
    outcomes: list[OutcomeSpec] = []
    privacy: Privacy = Privacy()

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles


@dataclass(frozen=True)
class Study:
    """A loaded study: configuration, instrument, frameworks and tidy frames.

    Frames (see :mod:`workbench.schemas` for their columns): ``microsystems``,
    ``respondents``, ``answers`` (respondent x item, long), ``interviews``, ``codings``
    (segment x coder x code), ``outcomes`` (one row per microsystem) and ``journeys``
    (patients' visits across microsystems; empty when the study has none).
    """

    config: StudyConfig
    folder: Path
    instrument: Instrument
    frameworks: tuple[Framework, ...]
    microsystems: pd.DataFrame
    respondents: pd.DataFrame
    answers: pd.DataFrame
    interviews: pd.DataFrame
    codings: pd.DataFrame
    outcomes: pd.DataFrame
    journeys: pd.DataFrame

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def characteristics(self) -> Framework:
        """The framework the survey instrument measures."""
        return load_framework(self.instrument.framework, self.folder)

    def framework(self, framework_id: str) -> Framework:
        for framework in self.frameworks:
            if framework.id == framework_id:
                return framework
        raise KeyError(f"study {self.id!r} codes against {[f.id for f in self.frameworks]}, not {framework_id!r}")

    def outcome(self, outcome_id: str) -> OutcomeSpec:
        for spec in self.config.outcomes:
            if spec.id == outcome_id:
                return spec
        raise ValueError(f"outcome must be one of {[o.id for o in self.config.outcomes]}, got {outcome_id!r}")

    def microsystem_name(self, microsystem_id: str) -> str:
        names = self.microsystems.set_index("microsystem_id")["name"]
        if microsystem_id not in names.index:
            raise ValueError(f"microsystem_id must be one of the study's {len(names)} microsystems (e.g. {names.index[0]!r}), got {microsystem_id!r}")
        return names[microsystem_id]


def study_folder(study: str | Path) -> Path:
    """A study given by name (a folder under ``data/raw/``) or by path."""
    candidate = Path(study)
    if candidate.is_dir():
        return candidate.resolve()
    folder = paths.raw_dir() / str(study)
    if not folder.is_dir():
        known = sorted(p.name for p in paths.raw_dir().iterdir() if (p / STUDY_FILE).exists())
        raise InputError(f"no study called {str(study)!r}: expected a folder data/raw/{study}/ with {STUDY_FILE}; studies here: {known}")
    return folder


def read_config(folder: Path) -> StudyConfig:
    path = folder / STUDY_FILE
    return read_yaml_model(path, StudyConfig, shown=_shown(path), missing=f"file not found; every study folder needs a {STUDY_FILE}")


def _shown(path: Path) -> str:
    """A path as the user should see it in messages: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(paths.project_root()))
    except (ValueError, FileNotFoundError):
        return str(path)


def input_files(folder: Path, config: StudyConfig) -> list[Path]:
    files = [folder / STUDY_FILE, *(folder / name for name in config.files.model_dump().values() if name)]
    if config.privacy.roster:
        files.append(folder / config.privacy.roster)
    if config.survey_export:
        mapping_path = folder / config.survey_export
        files.append(mapping_path)
        try:
            from workbench.io import survey_exports

            mapping = survey_exports.read_mapping(mapping_path)
            files += [mapping_path.parent / name for name in (mapping.file, mapping.dictionary) if name]
        except InputError:
            pass  # load_study reports it properly
    if config.coding_export:
        mapping_path = folder / config.coding_export
        files.append(mapping_path)
        try:
            from workbench.io import refiqda

            files.append(mapping_path.parent / refiqda.read_coding_mapping(mapping_path).file)
        except InputError:
            pass
    return [path for path in files if path.exists()]


def load_study(study: str | Path) -> Study:
    """Read and check every raw file of a study; raise :class:`InputError` on the first bad one."""
    from workbench.io import refiqda, study_csv, survey_exports  # the readers (and pandera) only when raw files are read

    folder = study_folder(study)
    config = read_config(folder)
    instrument = load_instrument(config.instrument, folder)
    frameworks = tuple(load_framework(name, folder) for name in config.coding_frameworks)
    file = lambda key: folder / getattr(config.files, key)  # noqa: E731
    shown = lambda key: _shown(file(key))  # noqa: E731

    microsystems = study_csv.read_microsystems(file("microsystems"), shown=shown("microsystems"))
    ids = microsystems["microsystem_id"].tolist()
    if config.survey_export:
        mapping = folder / config.survey_export
        wide, _summary = survey_exports.read_survey_export(
            mapping, instrument=instrument, microsystem_ids=ids, roles=config.roles, shown_folder=_shown(mapping.parent),
        )
        respondents, answers = study_csv.survey_from_wide(wide, instrument=instrument)
    else:
        respondents, answers = study_csv.read_survey(
            file("survey"), shown=shown("survey"), instrument=instrument, microsystem_ids=ids, roles=config.roles,
            level_codes=config.survey_coding.levels, cant_rate_codes=config.survey_coding.cant_rate,
        )
    if config.coding_export:
        mapping = folder / config.coding_export
        imported = refiqda.read_coded_interviews(
            mapping, framework_of={e: f.id for f in frameworks for e in f.element_ids}, microsystem_ids=ids, roles=config.roles,
            shown_folder=_shown(mapping.parent),
        )
        interviews, codings = imported.interviews, imported.codings
    else:
        interviews = study_csv.read_interviews(file("interviews"), shown=shown("interviews"), microsystem_ids=ids, roles=config.roles)
        codings = study_csv.read_codings(file("coded_segments"), shown=shown("coded_segments"), interviews=interviews, frameworks=list(frameworks))
    outcomes = study_csv.read_outcomes(file("outcomes"), shown=shown("outcomes"), microsystem_ids=ids, outcome_ids=[o.id for o in config.outcomes])
    journeys = (study_csv.read_journeys(file("journeys"), shown=shown("journeys"), microsystem_ids=ids)
                if config.files.journeys else study_csv.empty_journeys())
    respondents, answers, codings = _protect(config, folder, respondents, answers, codings)
    journeys = journeys.assign(patient_id=privacy.pseudonymise(journeys["patient_id"], privacy.study_key(config.id), prefix="PT"))
    return Study(config, folder, instrument, frameworks, microsystems, respondents, answers, interviews, codings, outcomes, journeys)


def _protect(config: StudyConfig, folder: Path, respondents, answers, codings):
    """Pseudonymise respondents and scrub excerpts before anything is stored or shown."""
    from workbench.io.tables import check_columns, read_table, text

    key = privacy.study_key(config.id)
    pseudonyms = privacy.pseudonymise(respondents["respondent_id"], key)
    # answers hold each respondent many times: look their pseudonym up rather than hash again
    position = pd.Index(respondents["respondent_id"]).get_indexer(answers["respondent_id"])
    answers = answers.assign(respondent_id=pseudonyms.take(position).to_numpy())
    respondents = respondents.assign(respondent_id=pseudonyms.to_numpy())
    names: list[str] = []
    if config.privacy.roster:
        roster_path = folder / config.privacy.roster
        names = check_columns(read_table(roster_path, label=_shown(roster_path)), [text("name")], file=_shown(roster_path))["name"].tolist()
    scrub = privacy.scrubber(names, [(p.pattern, p.replacement) for p in config.privacy.scrub_patterns])
    codings = codings.assign(excerpt=privacy.scrub_series(codings["excerpt"], scrub))
    return respondents, answers, codings


def processed_folder(study_id: str) -> Path:
    return paths.processed_dir() / study_id


def _manifest(folder: Path, config: StudyConfig) -> dict:
    return {
        "study": config.id,
        "workbench_version": __version__,
        "inputs": {path.relative_to(folder).as_posix(): sha256_of(path) for path in input_files(folder, config)},
        # Pseudonyms depend on the study's key: a new key must rebuild the processed frames.
        "pseudonym_key": hashlib.sha256(privacy.study_key(config.id)).hexdigest()[:16],
        "pseudonym_scheme": privacy.PSEUDONYM_SCHEME,
    }


def build_processed(study: str | Path) -> Study:
    """Load the raw study and write its frames to ``data/processed/<study>/``.

    Nothing is written unless every raw file passes its checks. Each parquet file is
    replaced atomically and the manifest is written last, so a reader that finds a
    manifest matching the raw files finds the frames it describes.
    """
    loaded = load_study(study)
    target = processed_folder(loaded.id)
    manifest = _manifest(loaded.folder, loaded.config)
    (target / "manifest.json").unlink(missing_ok=True)
    outputs = {}
    for name in FRAMES:
        path = target / f"{name}.parquet"
        write_parquet_atomic(path, getattr(loaded, name))
        outputs[path.name] = sha256_of(path)
    manifest["outputs"] = outputs
    write_text_atomic(target / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return loaded


def open_study(study: str | Path = "demo") -> Study:
    """The study's frames, from ``data/processed/`` when current, rebuilt from raw when not."""
    folder = study_folder(study)
    config = read_config(folder)
    target = processed_folder(config.id)
    try:
        recorded = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        recorded = None
    if recorded is None or {k: v for k, v in recorded.items() if k != "outputs"} != _manifest(folder, config):
        return build_processed(folder)
    frames = {name: pd.read_parquet(target / f"{name}.parquet") for name in FRAMES}
    instrument = load_instrument(config.instrument, folder)
    frameworks = tuple(load_framework(name, folder) for name in config.coding_frameworks)
    return Study(config, folder, instrument, frameworks, **frames)


__all__ = ["Study", "StudyConfig", "build_processed", "load_study", "open_study", "study_folder"]
