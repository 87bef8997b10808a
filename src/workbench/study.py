"""A study: its configuration, its validated tidy frames, their processed copies and views.

``load_study`` reads and checks the raw files. ``build_processed`` writes the frames to
``data/processed/<study>/`` as parquet, computes the study views every report reads
(:mod:`workbench.views`) and writes them beside the frames, with a manifest of what all of it
was made from. ``open_study`` reads those copies, lazily (a feedback report that only reads
views never loads the answers), and refuses processed data that no longer match the raw files:
reading never writes anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench import __version__, privacy
from workbench.errors import InputError
from workbench.frameworks import Framework, Instrument, load_framework, load_instrument
from workbench.io.files import read_yaml_model, sha256_of, write_parquet_atomic, write_text_atomic
from workbench.project import PLAIN_NAME, PLAIN_NAME_RULE, STUDY_FILE, Project
from workbench.vocabulary import AgreementPolicy, DisclosurePolicy, LevelScale

__all__ = [
    "FRAMES", "IMPORT_REPORT", "MANIFEST", "MONTH", "OUTCOME_KINDS", "PROCESSED_FORMAT", "Analysis", "Change",
    "OutcomeSpec", "Privacy", "ScrubPattern", "Study", "StudyConfig", "StudyFiles", "SurveyCoding", "Wave",
    "build_processed", "input_files", "load_study",
    "open_or_build", "open_study", "read_config", "stale_inputs",
]

# The tidy frames of a study, in the order they are built; :mod:`workbench.views` adds the views.
FRAMES = ("microsystems", "respondents", "answers", "past_respondents", "past_answers", "interviews", "codings",
          "outcomes", "outcome_series", "journeys")
MANIFEST = "manifest.json"
IMPORT_REPORT = "import_report.json"
PROCESSED_FORMAT = 5  # raise when build writes something new that readers rely on


class _Strict(BaseModel):
    # Strict: a setting is never converted (``yes`` is not 1, ``"5"`` is not 5, ``5.0`` is not 5);
    # read_config also validates strictly the settings models of other modules (the agreement policy).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StudyFiles(_Strict):
    """The study's CSV files; ``null`` for a kind of evidence the study does not have (every
    report then runs on what there is, and says what it cannot show)."""

    microsystems: str = "microsystems.csv"
    survey: str | None = "survey_responses.csv"
    interviews: str | None = "interviews.csv"
    coded_segments: str | None = "coded_segments.csv"
    outcomes: str | None = "outcomes.csv"
    outcome_series: str | None = None  # monthly values of the outcomes whose kind is declared
    journeys: str | None = None  # patient journeys across microsystems, when the study has them


class SurveyCoding(_Strict):
    """How the survey file writes answers: level codes, and the code(s) for "can't rate"."""

    levels: dict[str, int] = {"1": 1, "2": 2, "3": 3}
    cant_rate: list[str] = ["9"]


OUTCOME_KINDS = ("proportion", "rate", "count", "measurement")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")  # a month written YYYY-MM


class OutcomeSpec(_Strict):
    """An outcome measure. Without ``kind`` it is one number per unit in ``files.outcomes``; with
    ``kind`` it is a monthly series in ``files.outcome_series`` (its unit value, for comparing units,
    is taken over the last ``analysis.outcome_window_months`` months of the study's series)."""

    id: str
    label: str
    unit: str = ""
    better: Literal["higher", "lower"]
    kind: Literal["proportion", "rate", "count", "measurement"] | None = Field(
        None, description="proportion (numerator of denominator), rate (events per exposure), count (events a month, "
                          "exposure about constant) or measurement (a monthly value); declares a monthly series")
    per: float = Field(1, gt=0, description="Proportions and rates are shown per this many (100: a percentage; "
                                            "1000: per 1,000 patient-days).")

    @property
    def series(self) -> bool:
        """Whether the outcome is a monthly series."""
        return self.kind is not None


class Wave(_Strict):
    """One wave of the self-assessment survey. A wave read from the survey file is picked by the
    file's ``wave`` column; a wave may instead name its own file or export."""

    id: str = Field(description="The wave's id, as written in the survey's 'wave' column (e.g. '2025').")
    label: str = ""
    survey: str | None = Field(None, description="This wave's own survey file (the layout of files.survey).")
    survey_export: str | None = Field(None, description="This wave's own export mapping (as survey_export).")

    @property
    def name(self) -> str:
        return self.label or self.id

    @model_validator(mode="after")
    def _one_source(self) -> Wave:
        if self.survey and self.survey_export:
            raise ValueError(f"wave {self.id!r} names both a survey file and a survey export; expected one of them")
        return self


class Change(_Strict):
    """A dated change a unit made to its way of working: its outcome charts start a new phase
    (new centre line and limits) in ``month``, and run charts compare later months with the
    median of the months before."""

    microsystem_id: str
    month: str = Field(description="The first month of the new phase, YYYY-MM.")
    what: str = Field(description="What the unit changed, in a few words (shown on its charts).")
    outcomes: list[str] | None = Field(None, description="The outcomes the change applies to (default: all series).")

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not MONTH.fullmatch(value):
            raise ValueError(f"expected a month written YYYY-MM (e.g. '2025-06'), found {value!r}")
        return value

    @property
    def period(self) -> pd.Timestamp:
        return pd.Timestamp(f"{self.month}-01")


class ScrubPattern(_Strict):
    pattern: str
    replacement: str = "[removed]"


MIN_CELL_SIZE_FLOOR = 2  # a smaller min_cell_size would show one person's answers


class Privacy(_Strict):
    min_cell_size: int = Field(5, ge=MIN_CELL_SIZE_FLOOR,
                               description="No figure is shown for fewer people than this: a whole number, at least "
                                           f"{MIN_CELL_SIZE_FLOOR} (the floor; 1 would show one person's answers).")
    unanimous: Literal["show", "hide"] = Field(
        "show", description="A group of at least min_cell_size people who all gave the same answer: 'show' its "
                            "figures (the finding is the group's), or 'hide' them (each member's answer would be "
                            "known).")
    roster: str | None = Field(None, description="A CSV file with a 'name' column: names masked in every excerpt.")
    scrub_patterns: list[ScrubPattern] = []


class Analysis(_Strict):
    """How answers are aggregated: the agreement policy and how many rated items make a score."""

    agreement: AgreementPolicy = AgreementPolicy()
    min_items: int = Field(1, ge=1, description="A respondent needs this many rated items of a characteristic "
                                                "to get a score on it.")
    unshared: Literal["flag", "hide"] = Field(
        "flag", description="A unit mean whose staff do not agree: 'flag' shows it marked with its verdict, 'hide' "
                            "leaves it out of reports. Either way the verdict is shown; privacy rules are separate.")
    outcome_window_months: int = Field(12, ge=1, description="A monthly outcome's value per unit, for comparing "
                                                             "units, is taken over this many latest months.")


class StudyConfig(_Strict):
    id: str
    title: str
    description: str = ""
    instrument: str = "microsystem_self_assessment"
    coding_frameworks: list[str] = ["microsystem_characteristics", "leading_processes"]
    roles: list[str]
    files: StudyFiles = StudyFiles()
    survey_export: str | None = Field(None, description="A mapping file (REDCap, Qualtrics, Excel); when set, the "
                                                        "survey is read through it instead of files.survey.")
    coding_export: str | None = Field(None, description="A mapping file for a REFI-QDA project; when set, interviews "
                                                        "and codings are read from it instead of the CSV files.")
    survey_coding: SurveyCoding = SurveyCoding()
    outcomes: list[OutcomeSpec] = []
    waves: list[Wave] = Field([], description="The survey's waves, oldest first; the last is the one reports "
                                              "describe as now. None listed: one wave.")
    changes: list[Change] = []
    privacy: Privacy = Privacy()
    analysis: Analysis = Analysis()

    @property
    def series_outcomes(self) -> list[OutcomeSpec]:
        """The outcomes measured monthly (``kind`` declared)."""
        return [o for o in self.outcomes if o.series]

    @property
    def unit_outcomes(self) -> list[OutcomeSpec]:
        """The outcomes given as one number per unit in ``files.outcomes``."""
        return [o for o in self.outcomes if not o.series]

    @property
    def latest_wave(self) -> Wave | None:
        return self.waves[-1] if self.waves else None

    @property
    def disclosure(self) -> DisclosurePolicy:
        """The study's small-cell rule, from ``privacy.min_cell_size`` and ``privacy.unanimous``."""
        return DisclosurePolicy(min_cell_size=self.privacy.min_cell_size, unanimous=self.privacy.unanimous)

    @model_validator(mode="after")
    def _files_for_what_is_declared(self) -> StudyConfig:
        if self.unit_outcomes and not self.files.outcomes:
            raise ValueError("outcomes without a kind are listed but files.outcomes is null: "
                             "name the outcomes file, or list no such outcomes")
        if self.series_outcomes and not self.files.outcome_series:
            raise ValueError(f"outcome {self.series_outcomes[0].id!r} declares a kind (a monthly series) but "
                             "files.outcome_series is null: name the monthly file, or remove the kind")
        if self.files.outcome_series and not self.series_outcomes:
            raise ValueError("files.outcome_series names a monthly file but no outcome declares a kind "
                             f"({', '.join(OUTCOME_KINDS)}): give each monthly outcome its kind")
        waves = [wave.id for wave in self.waves]
        if len(set(waves)) != len(waves):
            raise ValueError(f"expected each wave id once, found {waves}")
        outcome_ids = {o.id for o in self.series_outcomes}
        for number, change in enumerate(self.changes):
            unknown = [o for o in change.outcomes or [] if o not in outcome_ids]
            if unknown:
                raise ValueError(f"changes.{number}.outcomes names {unknown[0]!r}; expected a monthly outcome "
                                 f"({', '.join(sorted(outcome_ids)) or 'none is declared'})")
        if not self.files.outcome_series and self.changes:
            raise ValueError("changes are listed but the study has no monthly outcomes (files.outcome_series)")
        if self.files.coded_segments and not self.files.interviews and not self.coding_export:
            raise ValueError("files.coded_segments needs files.interviews (the interviews the segments come from)")
        return self

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not PLAIN_NAME.fullmatch(value):
            raise ValueError(f"expected {PLAIN_NAME_RULE} (it names the study's folders under data/processed/ and "
                             f"reports/), found {value!r}")
        return value

    @field_validator("outcomes")
    @classmethod
    def _outcomes_unique(cls, outcomes: list[OutcomeSpec]) -> list[OutcomeSpec]:
        first: dict[str, int] = {}
        for number, outcome in enumerate(outcomes, start=1):
            if outcome.id == "microsystem_id":
                raise ValueError(f"outcome {number} has the id 'microsystem_id', the name of the outcomes file's unit "
                                 "column; expected another id")
            if outcome.id in first:
                raise ValueError(f"expected each outcome id once, found {outcome.id!r} as outcome {first[outcome.id]} "
                                 f"and again as outcome {number} (counting from 1)")
            first[outcome.id] = number
        return outcomes


class _Frame:
    """A frame of a :class:`Study` read from its processed parquet file when first used.

    A dataclass field whose default is a descriptor keeps the descriptor: reading goes
    through ``__get__``, so a report that never touches the answers never loads them.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, study, owner=None):
        if study is None:
            return None  # the field's default: not loaded
        frames = study.__dict__.setdefault("_frames", {})
        if frames.get(self.name) is None:
            if study.processed is None:
                raise ValueError(f"study {study.id!r} has no {self.name} frame and no processed folder to read it from")
            frames[self.name] = pd.read_parquet(study.processed / f"{self.name}.parquet")
        return frames[self.name]

    def __set__(self, study, value):
        study.__dict__.setdefault("_frames", {})[self.name] = value


@dataclass(frozen=True)
class Study:
    """A loaded study: configuration, instrument, frameworks and tidy frames.

    Frames (see :mod:`workbench.schemas` for their columns): ``microsystems``,
    ``respondents``, ``answers`` (respondent x item, long: the latest survey wave, the one
    reports describe), ``past_respondents`` and ``past_answers`` (earlier waves, with a ``wave``
    column; empty for a study of one wave), ``interviews``, ``codings`` (segment x coder x code),
    ``outcomes`` (one row per microsystem), ``outcome_series`` (microsystem x monthly outcome x
    month) and ``journeys`` (patients' visits across microsystems; empty when the study has none).
    A study opened from its processed folder reads each frame when it is first used.
    """

    config: StudyConfig
    folder: Path
    instrument: Instrument
    frameworks: tuple[Framework, ...]
    microsystems: pd.DataFrame = _Frame()
    respondents: pd.DataFrame = _Frame()
    answers: pd.DataFrame = _Frame()
    past_respondents: pd.DataFrame = _Frame()
    past_answers: pd.DataFrame = _Frame()
    interviews: pd.DataFrame = _Frame()
    codings: pd.DataFrame = _Frame()
    outcomes: pd.DataFrame = _Frame()
    outcome_series: pd.DataFrame = _Frame()
    journeys: pd.DataFrame = _Frame()
    processed: Path | None = None  # where the frames and views are read from (None: a study held in memory)
    imports: tuple = ()  # the ImportReport of each file read, when the study was just loaded from its raw files

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def characteristics(self) -> Framework:
        """The framework the survey instrument measures."""
        return load_framework(self.instrument.framework, self.folder)

    @property
    def scale(self) -> LevelScale:
        """The level scale of the study's instrument."""
        return LevelScale.of(self.instrument)

    @property
    def disclosure(self) -> DisclosurePolicy:
        return self.config.disclosure

    @property
    def agreement_policy(self) -> AgreementPolicy:
        return self.config.analysis.agreement

    def framework(self, framework_id: str) -> Framework:
        for framework in self.frameworks:
            if framework.id == framework_id:
                return framework
        raise KeyError(f"study {self.id!r} codes against {[f.id for f in self.frameworks]}, not {framework_id!r}")

    def outcome(self, outcome_id: str | None = None) -> OutcomeSpec:
        """The outcome ``outcome_id`` declared in ``study.yaml`` (None: the first one)."""
        if outcome_id is None and self.config.outcomes:
            return self.config.outcomes[0]
        for spec in self.config.outcomes:
            if spec.id == outcome_id:
                return spec
        raise ValueError(f"outcome must be one of {[o.id for o in self.config.outcomes]}, got {outcome_id!r}")

    def microsystem_name(self, microsystem_id: str) -> str:
        names = self.microsystems.set_index("microsystem_id")["name"]
        if microsystem_id not in names.index:
            raise ValueError(f"microsystem_id must be one of the study's {len(names)} microsystems "
                             f"(e.g. {names.index[0]!r}), got {microsystem_id!r}")
        return names[microsystem_id]

    def empty_evidence(self) -> list[str]:
        """The kinds of evidence the study declares but that came out empty, in words."""
        config, problems = self.config, []
        if (config.files.survey or config.survey_export) and self.respondents.empty:
            problems.append("the survey is declared but no respondent was read")
        if (config.files.coded_segments or config.coding_export) and self.codings.empty:
            problems.append("coded interviews are declared but no coded segment was read")
        return problems

    def import_reports(self) -> list:
        """What each import read, used and left out (:class:`~workbench.io.report.ImportReport`)."""
        from workbench.io.report import ImportReport

        if self.imports or self.processed is None:
            return list(self.imports)
        path = self.processed / IMPORT_REPORT
        if not path.exists():
            return []
        return [ImportReport.from_dict(entry) for entry in json.loads(path.read_text(encoding="utf-8"))]

    def unit(self, microsystem_id: str) -> pd.Series:
        """One microsystem's row of the ``unit_overview`` view (name, setting, evidence)."""
        rows = self.view("unit_overview", microsystem_id=microsystem_id)
        if rows.empty:
            known = self.view("unit_overview")["microsystem_id"]
            raise ValueError(f"microsystem_id must be one of the study's {len(known)} microsystems "
                             f"(e.g. {known.iloc[0]!r}), got {microsystem_id!r}")
        return rows.iloc[0]

    def view(self, name: str, *, microsystem_id: str | None = None) -> pd.DataFrame:
        """A study view (:mod:`workbench.views`), or one microsystem's rows of it."""
        from workbench import views

        return views.read_view(self, name, microsystem_id=microsystem_id)


def read_config(folder: Path, project: Project | None = None) -> StudyConfig:
    """The study's settings, strictly typed; its id checked against its folder (under ``data/raw/``
    a study's id is its folder's name) and every file it names checked to be a file, not a folder."""
    path = folder / STUDY_FILE
    shown = project.shown(path) if project else str(path)
    config = read_yaml_model(path, StudyConfig, shown=shown, strict=True,
                             missing=f"file not found; every study folder needs a {STUDY_FILE}")
    if project is not None and _under_raw(folder, project) and config.id != Path(folder).name:
        raise InputError(f"setting 'id': the study in data/raw/{Path(folder).name}/ says id: {config.id!r}; expected "
                         f"its folder's name, {Path(folder).name!r} (the id names its processed data and reports: a "
                         "copied study needs its own folder name and id)", file=shown)
    for setting, name in _named_files(config):
        candidate = Path(folder) / name
        if candidate.exists() and not candidate.is_file():
            what = "a folder" if candidate.is_dir() else "something that is not a regular file"
            raise InputError(f"setting '{setting}': expected a file, found {what} ({name!r})", file=shown)
    return config


def _under_raw(folder: Path, project: Project) -> bool:
    """Whether a study folder is one of the project's studies (a folder of ``data/raw/``)."""
    folder = Path(folder)
    return folder.absolute().parent == project.raw_dir or folder.resolve().parent == project.raw_dir.resolve()


def _named_files(config: StudyConfig) -> list[tuple[str, str]]:
    """Each setting that names a file of the study folder, and the name."""
    named = [(f"files.{key}", name) for key, name in config.files.model_dump().items() if name]
    named += [(setting, getattr(config, setting)) for setting in ("survey_export", "coding_export")
              if getattr(config, setting)]
    named += [(f"waves.{number}.{setting}", getattr(wave, setting)) for number, wave in enumerate(config.waves)
              for setting in ("survey", "survey_export") if getattr(wave, setting)]
    if config.privacy.roster:
        named.append(("privacy.roster", config.privacy.roster))
    named += [(f"coding_frameworks.{number}", name) for number, name in enumerate(config.coding_frameworks)
              if Path(name).suffix in {".yaml", ".yml"}]
    if Path(config.instrument).suffix in {".yaml", ".yml"}:
        named.append(("instrument", config.instrument))
    return named


def input_files(folder: Path, config: StudyConfig) -> list[Path]:
    files = [folder / STUDY_FILE, *(folder / name for name in config.files.model_dump().values() if name)]
    # A study's own instrument or framework YAML is an input like its CSV files.
    files += [folder / name for name in (config.instrument, *config.coding_frameworks)
              if Path(name).suffix in {".yaml", ".yml"}]
    if config.privacy.roster:
        files.append(folder / config.privacy.roster)
    files += [folder / wave.survey for wave in config.waves if wave.survey]
    for export in [config.survey_export, *(wave.survey_export for wave in config.waves)]:
        if not export:
            continue
        mapping_path = folder / export
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

            files += refiqda.mapping_inputs(mapping_path)  # the project, and any sidecar table of sources
        except InputError:
            pass
    return [path for path in files if path.exists()]


def load_study(study: str | Path, project: Project | None = None, *, create_key: bool = False) -> Study:
    """Read and check every raw file of a study; raise :class:`InputError` on the first bad one.

    Pseudonyms need the study's key: ``create_key`` makes one when the study has none yet
    (only :func:`build_processed` does; reading alone never writes a file).
    """
    # The readers (and pandera) only when raw files are read.
    from workbench import schemas
    from workbench.io import refiqda, study_csv

    project = project or Project.discover()
    folder = project.study_folder(study)
    config = read_config(folder, project)
    _shown = project.shown
    instrument = load_instrument(config.instrument, folder)
    _check_null_fits_the_scale(config, instrument, project.shown(folder / STUDY_FILE))
    frameworks = tuple(load_framework(name, folder) for name in config.coding_frameworks)
    file = lambda key: folder / getattr(config.files, key)  # noqa: E731
    shown = lambda key: _shown(file(key))  # noqa: E731

    reports = []  # one ImportReport per outside file read (a QDA project, a survey export)
    microsystems = study_csv.read_microsystems(file("microsystems"), shown=shown("microsystems"))
    ids = microsystems["microsystem_id"].tolist()
    _check_changes(config, ids, project.shown(folder / STUDY_FILE))
    waves = _read_waves(config, folder, project, instrument, ids, reports)
    latest = config.latest_wave.id if config.waves else None
    respondents, answers = waves.pop(latest) if waves else (study_csv.empty_frame(schemas.Respondents),
                                                            study_csv.empty_frame(schemas.SurveyAnswers))
    scrub = _scrubber(config, folder, project)  # a QDA project's source names become interview ids: scrubbed too
    if config.coding_export:
        mapping = folder / config.coding_export
        imported = refiqda.read_coded_interviews(
            mapping, framework_of={e: f.id for f in frameworks for e in f.element_ids}, microsystem_ids=ids,
            roles=config.roles, shown_folder=_shown(mapping.parent), scrub=scrub,
        )
        interviews, codings = imported.interviews, imported.codings
        reports.append(imported.report)
    else:
        interviews = (study_csv.read_interviews(file("interviews"), shown=shown("interviews"), microsystem_ids=ids,
                                                roles=config.roles)
                      if config.files.interviews else study_csv.empty_frame(schemas.Interviews))
        codings = (study_csv.read_codings(file("coded_segments"), shown=shown("coded_segments"), interviews=interviews,
                                          frameworks=list(frameworks))
                   if config.files.coded_segments else study_csv.empty_frame(schemas.Codings))
    outcomes = (study_csv.read_outcomes(file("outcomes"), shown=shown("outcomes"), microsystem_ids=ids,
                                        outcome_ids=[o.id for o in config.unit_outcomes])
                if config.files.outcomes else study_csv.empty_frame(schemas.Outcomes))
    series = (study_csv.read_outcome_series(file("outcome_series"), shown=shown("outcome_series"), microsystem_ids=ids,
                                            kinds={o.id: o.kind for o in config.series_outcomes})
              if config.files.outcome_series else study_csv.empty_frame(schemas.OutcomeSeries))
    outcomes = _with_series_values(outcomes, series, config, ids)
    journeys = (study_csv.read_journeys(file("journeys"), shown=shown("journeys"), microsystem_ids=ids)
                if config.files.journeys else study_csv.empty_journeys())
    key = privacy.study_key(project, config.id, create=create_key)
    respondents, answers, codings = _protect(scrub, key, respondents, answers, codings)
    past_respondents, past_answers = _past_waves(waves, key)
    journeys = journeys.assign(patient_id=privacy.pseudonymise(journeys["patient_id"], key, prefix="PT"))
    frames = {"microsystems": microsystems, "survey": pd.concat([respondents, past_respondents]),
              "interviews": interviews, "coded_segments": codings, "outcomes": outcomes, "outcome_series": series,
              "journeys": journeys}
    reports += [_csv_report(project.shown(file(key)), key, len(frames[key]))
                for key, name in config.files.model_dump().items()
                if name and not (key == "survey" and config.survey_export)
                and not (key in ("interviews", "coded_segments") and config.coding_export)]
    return Study(config, folder, instrument, frameworks, microsystems=microsystems, respondents=respondents,
                 answers=answers, past_respondents=past_respondents, past_answers=past_answers, interviews=interviews,
                 codings=codings, outcomes=outcomes, outcome_series=series, journeys=journeys,
                 imports=tuple(reports))


def _read_waves(config: StudyConfig, folder: Path, project: Project, instrument, ids: list[str],
                reports: list) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each survey wave's ``(respondents, answers)``, in the order listed (one wave, keyed None,
    for a study that lists none; nothing for a study without a survey). A wave naming its own
    file or export is read from it; the others from the survey file's ``wave`` column."""
    from workbench.io import study_csv, survey_exports

    def from_export(mapping: Path):
        wide, report = survey_exports.read_survey_export(mapping, instrument=instrument, microsystem_ids=ids,
                                                         roles=config.roles, shown_folder=project.shown(mapping.parent))
        reports.append(report)
        return study_csv.survey_from_wide(wide, instrument=instrument)

    def from_file(path: Path):
        return study_csv.read_survey(path, shown=project.shown(path), instrument=instrument, microsystem_ids=ids,
                                     roles=config.roles, level_codes=config.survey_coding.levels,
                                     cant_rate_codes=config.survey_coding.cant_rate)

    own = {wave.id: wave for wave in config.waves if wave.survey or wave.survey_export}
    shared = [wave.id for wave in config.waves if wave.id not in own]
    frames: dict = {}
    if config.survey_export:
        whole = from_export(folder / config.survey_export)
        if config.waves and len(shared) != 1:
            raise InputError(f"setting 'survey_export': an export holds one wave, but {len(shared)} waves name no file "
                             f"of their own ({', '.join(shared)}); expected each wave but one to name its own "
                             "survey or survey_export", file=project.shown(folder / STUDY_FILE))
        frames[shared[0] if config.waves else None] = whole
    elif config.files.survey and (shared or not config.waves):
        path = folder / config.files.survey
        if config.waves:
            frames |= study_csv.read_survey_waves(
                path, shown=project.shown(path), instrument=instrument, microsystem_ids=ids, roles=config.roles,
                level_codes=config.survey_coding.levels, cant_rate_codes=config.survey_coding.cant_rate,
                waves=shared)
        else:
            frames[None] = from_file(path)
    elif shared and own:
        raise InputError(f"setting 'waves': wave {shared[0]!r} names no file of its own and the study has no "
                         "survey file (files.survey) to take it from; expected a survey or survey_export for it",
                         file=project.shown(folder / STUDY_FILE))
    for wave in own.values():
        frames[wave.id] = (from_export(folder / wave.survey_export) if wave.survey_export
                           else from_file(folder / wave.survey))
    return {wave.id: frames[wave.id] for wave in config.waves if wave.id in frames} if config.waves else frames


def _past_waves(waves: dict[str, tuple[pd.DataFrame, pd.DataFrame]], key: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The earlier waves' frames, pseudonymised, stacked with a ``wave`` column (text columns
    as categories, as the latest wave's)."""
    from workbench import schemas
    from workbench.io import study_csv

    if not waves:
        return study_csv.empty_frame(schemas.PastRespondents), study_csv.empty_frame(schemas.PastAnswers)
    respondents, answers = [], []
    for wave, (people, rows) in waves.items():
        people, rows = _pseudonymise_survey(key, people, rows)
        respondents.append(people.assign(wave=wave))
        answers.append(rows.assign(wave=wave))

    def stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
        coded = [c for c in frames[0].columns if isinstance(frames[0][c].dtype, pd.CategoricalDtype)] + ["wave"]
        frame = pd.concat([f.astype({c: "str" for c in coded}) for f in frames], ignore_index=True)
        return frame.astype({c: "category" for c in coded})

    return stacked(respondents), stacked(answers)


def _with_series_values(outcomes: pd.DataFrame, series: pd.DataFrame, config: StudyConfig,
                        ids: list[str]) -> pd.DataFrame:
    """The outcomes frame with a column per monthly outcome (its value per unit over the latest
    months), in the order study.yaml lists the outcomes."""
    from workbench.io import study_csv

    if not config.series_outcomes:
        return outcomes
    values = study_csv.unit_values_from_series(series, config.series_outcomes,
                                               months=config.analysis.outcome_window_months, microsystem_ids=ids)
    if outcomes.empty and not config.unit_outcomes:
        merged = values
    else:
        merged = values.merge(outcomes, on="microsystem_id", how="left")
    return merged[["microsystem_id", *(o.id for o in config.outcomes)]]


def _check_changes(config: StudyConfig, ids: list[str], shown: str) -> None:
    """Each dated change names a unit of the study."""
    for number, change in enumerate(config.changes):
        if change.microsystem_id not in ids:
            raise InputError(f"setting 'changes.{number}.microsystem_id': expected a microsystem_id listed in the "
                             f"microsystems file, found {change.microsystem_id!r}", file=shown)


def _csv_report(shown: str, key: str, rows: int):
    """A study CSV file's import: every row is used (a bad row stops the load instead)."""
    from workbench.io.report import ImportReport

    report = ImportReport(source=shown, kind="study CSV file")
    report.count("rows", in_file=rows, used=rows)
    return report


def _scrubber(config: StudyConfig, folder: Path, project: Project):
    """The study's scrubber: the names on its roster and its own patterns."""
    from workbench.io.tables import check_columns, read_table, text

    names: list[str] = []
    if config.privacy.roster:
        roster_path = folder / config.privacy.roster
        shown = project.shown(roster_path)
        names = check_columns(read_table(roster_path, label=shown), [text("name")], file=shown)["name"].tolist()
    return privacy.scrubber(names, [(p.pattern, p.replacement) for p in config.privacy.scrub_patterns])


def _protect(scrub, key: bytes, respondents, answers, codings):
    """Pseudonymise respondents and scrub excerpts before anything is stored or shown."""
    respondents, answers = _pseudonymise_survey(key, respondents, answers)
    codings = codings.assign(excerpt=privacy.scrub_series(codings["excerpt"], scrub))
    return respondents, answers, codings


_PSEUDONYM_BLOCK = 1 << 12  # ids pseudonymised at a time (each one a few Python strings meanwhile)
_PSEUDONYM_CHUNK = 1 << 17  # ids whose pseudonyms are kept as one Arrow array


def _pseudonyms(ids: pd.Series, key: bytes) -> pd.Series:
    """``privacy.pseudonymise(ids, key)`` for a column of Arrow text, a block of ids at a time: a
    few thousand Python strings at once, never millions (a survey of 4.3 M respondents), each
    block's pseudonyms put in Arrow text by the system allocator (Arrow's own keeps what the
    blocks took, about three times the pseudonyms)."""
    if len(ids) <= _PSEUDONYM_BLOCK or getattr(ids.array, "_pa_array", None) is None:
        return privacy.pseudonymise(ids, key)
    import pyarrow

    from workbench.io.tables import release_memory

    pool, text = pyarrow.system_memory_pool(), pyarrow.large_string()
    chunks = []
    for chunk in range(0, len(ids), _PSEUDONYM_CHUNK):
        end = min(chunk + _PSEUDONYM_CHUNK, len(ids))
        blocks = [pyarrow.array(privacy.pseudonymise(ids.iloc[start:min(start + _PSEUDONYM_BLOCK, end)].astype(object),
                                                     key).to_numpy(), type=text, memory_pool=pool)
                  for start in range(chunk, end, _PSEUDONYM_BLOCK)]
        chunks.append(pyarrow.concat_arrays(blocks, memory_pool=pool))
        del blocks
        release_memory()  # (the blocks, freed: kept by the allocator otherwise, a chunk's worth each time)
    pseudonyms = pd.arrays.ArrowStringArray(pyarrow.chunked_array(chunks, type=text), dtype=ids.dtype)
    return pd.Series(pseudonyms, index=ids.index, name=ids.name, copy=False)


def _pseudonymise_survey(key: bytes, respondents: pd.DataFrame,
                         answers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The survey frames with each respondent_id replaced by its pseudonym (what :func:`load_study`
    does to them). Ids are hashed a block at a time. The answers hold respondent_id as categories,
    the respondents' ids in their order: they take the pseudonyms as their categories, and not a
    code of theirs changes (nor is any text per answer made)."""
    from workbench.io.tables import from_codes, has_repeats, release_memory

    ids = respondents["respondent_id"]
    pseudonyms = _pseudonyms(ids, key)
    release_memory()  # (the Python strings the hashing made, a block at a time)
    respondents = respondents.assign(respondent_id=pseudonyms.array)
    answered = answers["respondent_id"]
    codes = answered.array.codes  # (.cat.codes would copy them)
    if answered.cat.categories.equals(pd.Index(ids)):
        named = pseudonyms  # each category's pseudonym
    else:  # pragma: no cover - categories built otherwise than by the survey readers
        position = pd.Index(ids).get_indexer(answered.cat.categories)
        if (position < 0).any():
            raise InputError("internal error: an answer's respondent_id is not among the respondents")
        named = pd.Series(pseudonyms.array.take(position))
    repeats = has_repeats(named)
    release_memory()
    if not repeats:
        renamed = from_codes(codes, named.array, distinct=True)
    else:  # two ids with one pseudonym (a chance of about n^2 / 2^49, 3 % at 4.3 M): they become one category
        import numpy as np
        import pyarrow
        import pyarrow.compute as pc

        # Encoded by Arrow (no Python string per respondent): every chunk holds the one dictionary.
        encoded = pc.dictionary_encode(named.array._pa_array, memory_pool=pyarrow.system_memory_pool())
        merged = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks]).astype(codes.dtype)
        renamed = from_codes(merged[codes], encoded.chunk(0).dictionary, distinct=True)
        del encoded, merged
    # (a new frame of the same columns: assigning a column would copy it)
    return respondents, pd.DataFrame({name: renamed if name == "respondent_id" else answers[name].array
                                      for name in answers.columns}, index=answers.index, copy=False)


def _inputs(folder: Path, config: StudyConfig) -> dict[str, dict]:
    """Each input file's hash, size and modification time (the time lets a check skip hashing)."""
    inputs = {}
    for path in input_files(folder, config):
        status = path.stat()
        inputs[path.relative_to(folder).as_posix()] = {"sha256": sha256_of(path), "size": status.st_size,
                                                       "mtime_ns": status.st_mtime_ns}
    return inputs


def _identity(config: StudyConfig, key: bytes) -> dict:
    """What processed data depend on besides the input files."""
    return {
        "study": config.id,
        "workbench_version": __version__,
        # Pseudonyms depend on the study's key: a new key must rebuild the processed frames.
        "pseudonym_key": hashlib.sha256(key).hexdigest()[:16],
        "pseudonym_scheme": privacy.PSEUDONYM_SCHEME,
        # What the processed folder holds (frames, views, row counts, import report): a folder
        # written by a workbench that stored less is rebuilt, never half read.
        "processed_format": PROCESSED_FORMAT,
    }


def build_processed(study: str | Path, project: Project | None = None) -> Study:
    """Load the raw study and write its frames and views to ``data/processed/<study>/``.

    Creates the study's pseudonym key on the first build. Nothing is written unless every raw
    file passes its checks. Each parquet file is replaced atomically and the manifest is
    written last, so a reader that finds a manifest matching the raw files finds the frames
    and views it describes.
    """
    from workbench import views

    project = project or Project.discover()
    folder = project.study_folder(study)
    _check_own_folder(folder, read_config(folder, project), project)  # before anything is written, the key too
    loaded = load_study(study, project, create_key=True)
    target = project.processed(loaded.id)
    manifest = {**_identity(loaded.config, privacy.study_key(project, loaded.id)),
                "inputs": _inputs(loaded.folder, loaded.config)}
    (target / MANIFEST).unlink(missing_ok=True)
    outputs = {}
    for name in FRAMES:
        path = target / f"{name}.parquet"
        write_parquet_atomic(path, getattr(loaded, name))
        outputs[path.name] = sha256_of(path)
    manifest["outputs"] = outputs
    # Rows per frame; an outcomes frame counts the outcome values measured (a study may list units but no outcome).
    manifest["rows"] = {name: len(getattr(loaded, name)) for name in FRAMES}
    manifest["rows"]["outcomes"] = int(loaded.outcomes.drop(columns="microsystem_id").notna().to_numpy().sum())
    manifest["views"] = views.write_views(loaded, target)
    report_path = target / IMPORT_REPORT
    write_text_atomic(report_path, json.dumps([r.to_dict() for r in loaded.imports], indent=1) + "\n")
    manifest["import_report"] = sha256_of(report_path)
    write_text_atomic(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dataclasses.replace(loaded, processed=target)


def _check_own_folder(folder: Path, config: StudyConfig, project: Project) -> None:
    """A study read from outside ``data/raw/`` may not take the id of a study in it: building
    would replace that study's processed data."""
    other = project.raw_dir / config.id
    if not _under_raw(folder, project) and (other / STUDY_FILE).exists() \
            and other.resolve() != Path(folder).resolve():
        raise InputError(f"setting 'id': this study says id: {config.id!r}, the id of the study in "
                         f"{project.shown(other)}/; building it would replace that study's processed data: give it "
                         "its own id", file=project.shown(Path(folder) / STUDY_FILE))


def stale_inputs(study: str | Path, project: Project | None = None) -> list[str] | None:
    """Why the processed data of a study are out of date: the changed inputs (or what else
    differs), an empty list when current, None when the study has never been built."""
    project = project or Project.discover()
    folder = project.study_folder(study)
    config = read_config(folder, project)
    try:
        recorded = json.loads((project.processed(config.id) / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    key_file = project.key_file(config.id)  # in the user's key folder, named by the key id the build recorded
    if key_file is None:
        return [f"{project.shown(project.key_id_file(config.id))} (the pseudonym key's id) is missing"]
    if not key_file.exists():
        return [f"{key_file} (the pseudonym key) is missing"]
    reasons = [f"{name} changed" for name, value in _identity(config, privacy.study_key(project, config.id)).items()
               if recorded.get(name) != value]
    current = {path.relative_to(folder).as_posix(): path for path in input_files(folder, config)}
    inputs = recorded.get("inputs", {})
    for name in sorted(set(current) | set(inputs)):
        before = inputs.get(name)
        if name not in current or not isinstance(before, dict):
            reasons.append(f"{name} {'removed' if name not in current else 'added'}")
            continue
        status = current[name].stat()
        if (status.st_size, status.st_mtime_ns) == (before.get("size"), before.get("mtime_ns")):
            continue  # unchanged since it was hashed: no need to read it again
        if sha256_of(current[name]) != before.get("sha256"):
            reasons.append(f"{name} changed")
    return reasons


def open_study(study: str | Path = "demo", project: Project | None = None) -> Study:
    """The study as last built: configuration now, frames and views from ``data/processed/``
    when first used. Refuses (with the command that fixes it) processed data that are missing
    or no longer match the raw files; it never writes anything."""
    project = project or Project.discover()
    folder = project.study_folder(study)
    config = read_config(folder, project)
    reasons = stale_inputs(folder, project)
    if reasons is None or reasons:
        why = "it has not been built yet" if reasons is None else "; ".join(reasons)
        raise InputError(f"the processed data of study {config.id!r} are not up to date ({why}): run "
                         f"`workbench build --study {config.id}` (or `workbench regenerate`), then open it again")
    instrument = load_instrument(config.instrument, folder)
    frameworks = tuple(load_framework(name, folder) for name in config.coding_frameworks)
    return Study(config, folder, instrument, frameworks, processed=project.processed(config.id))


def _check_null_fits_the_scale(config: StudyConfig, instrument, shown: str) -> None:
    """A named null defined only for other numbers of levels is a settings error, said when
    the study is read, not when a report first asks for an agreement index."""
    try:
        config.analysis.agreement.null_variance(LevelScale.of(instrument))
    except ValueError as error:
        raise InputError(f"analysis.agreement: {error}", file=shown) from None


def open_or_build(study: str | Path = "demo", project: Project | None = None) -> Study:
    """The study opened from its processed data, built first when they are missing or stale."""
    project = project or Project.discover()
    reasons = stale_inputs(study, project)
    return build_processed(study, project) if reasons is None or reasons else open_study(study, project)
