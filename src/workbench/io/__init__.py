"""Readers and writers for the file formats a study arrives in and leaves as."""

__all__: list[str] = []  # a namespace only: import the submodules (files, refiqda, study_csv, survey_exports, tables)
