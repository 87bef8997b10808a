"""Privacy by default: pseudonyms for respondents, scrubbed excerpts, no small cells.

* Respondent ids are replaced at load by a keyed hash (BLAKE2b with the key, a MAC in one
  call and three times faster than HMAC-SHA256 over 250,000 ids). The key is a
  per-study secret in ``.secrets/<study>.key`` (git-ignored, created by the first build), so
  the same person keeps the same pseudonym across runs while nobody without the key can
  go back to the raw id. Processed files and reports only ever hold pseudonyms.
* Interview excerpts are scrubbed before they are stored or shown: names from the
  study's roster, e-mail addresses, phone numbers and dates of birth are masked, plus any
  patterns the study adds.
* A breakdown (for example by role) is shown only for groups of at least ``k`` people;
  when a suppressed group could be recovered from a total and the other groups, the next
  smallest group is suppressed too (complementary suppression).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.project import Project
from workbench.vocabulary import DisclosurePolicy

__all__ = [
    "BIRTH_DATE", "EMAIL", "PHONE", "PSEUDONYM_SCHEME", "pseudonymise", "scrub_series", "scrubber", "study_key",
    "suppress_small_groups",
]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<!\w)(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3}[\s.-]\d{4}(?!\w)")
BIRTH_DATE = re.compile(
    r"\b(?:born|date of birth|d\.?o\.?b\.?)\s*(?:on|:)?\s*"
    r"(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}\s+[A-Z][a-z]+\s+\d{4}|[A-Z][a-z]+\s+\d{1,2},?\s+\d{4})",
    re.IGNORECASE,
)


def study_key(project: Project, study_id: str, *, create: bool = False) -> bytes:
    """The study's pseudonymisation key (``.secrets/<study>.key``).

    Only building a study creates it (``create=True``; readable by its owner only); reading a
    study whose key is missing is an error, since pseudonyms made with a new key would not
    match the ones in its processed data and reports.
    """
    path = project.key_file(study_id)
    if not path.exists():
        if not create:
            raise InputError(f"no pseudonym key for study {study_id!r}: expected {project.shown(path)}; run "
                             f"`workbench build --study {study_id}` (or restore the key the study was built with)")
        folder = path.parent
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitignore").write_text("*\n")
        temporary = folder / f".{study_id}.{os.getpid()}.tmp"
        temporary.write_text(secrets.token_hex(32))
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)  # the first writer wins; a concurrent one reads the winner's key
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


PSEUDONYM_SCHEME = "blake2b-48"  # recorded with processed frames: another scheme rebuilds them


def pseudonymise(values: pd.Series, key: bytes, *, prefix: str = "P") -> pd.Series:
    """Keyed-hash pseudonyms: the same value and key always give the same pseudonym.

    Examples
    --------
    >>> ids = pd.Series(["R001", "R002", "R001"], name="respondent_id")
    >>> pseudonymise(ids, b"a fixed key").tolist()
    ['P-a0bbbcea3030', 'P-3ec05abab578', 'P-a0bbbcea3030']
    """
    codes, uniques = pd.factorize(values)
    digests = [hashlib.blake2b(str(v).encode("utf-8"), key=key, digest_size=6).hexdigest() for v in uniques]
    pseudonyms = np.array([f"{prefix}-{digest}" for digest in digests], dtype=object)
    result = pseudonyms[codes] if len(uniques) else np.array([], dtype=object)
    return pd.Series(result, index=values.index, name=values.name).astype(values.dtype)


def scrub_series(texts: pd.Series, scrub) -> pd.Series:
    """Apply ``scrub`` once per distinct text (excerpts repeat: one per coder of a segment)."""
    codes, uniques = pd.factorize(texts)
    cleaned = np.array([scrub(t) for t in uniques], dtype=object)
    result = cleaned[codes] if len(uniques) else np.array([], dtype=object)
    return pd.Series(result, index=texts.index, name=texts.name).astype(texts.dtype)


def scrubber(names: list[str] | None = None, extra_patterns: list[tuple[str, str]] | None = None):
    """A function that masks names, e-mail addresses, phone numbers and dates of birth in text.

    Examples
    --------
    >>> scrub = scrubber(names=["Ann Smith"])
    >>> scrub("Ann Smith (ann.smith@example.org, 555 867-5309) said Ann was born 3 May 1970.")
    '[name] ([email], [phone]) said [name] was [date of birth].'
    """
    rules: list[tuple[re.Pattern, str]] = [(BIRTH_DATE, "[date of birth]"), (EMAIL, "[email]"), (PHONE, "[phone]")]
    cleaned = sorted({n.strip() for n in names or [] if n and n.strip()}, key=len, reverse=True)
    if cleaned:
        # Full names first, then each part of a name on its own (a first name alone still identifies).
        parts = sorted({p for n in cleaned for p in n.split() if len(p) > 2}, key=len, reverse=True)
        alternatives = "|".join(re.escape(n) for n in [*cleaned, *parts])
        rules.append((re.compile(rf"\b(?:{alternatives})\b"), "[name]"))
    for pattern, replacement in extra_patterns or []:
        rules.append((re.compile(pattern), replacement))

    def scrub(text: str) -> str:
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return re.sub(r"\[name\](?:\s+\[name\])+", "[name]", text)

    return scrub


def suppress_small_groups(table: pd.DataFrame, sizes: pd.Series, *, policy: DisclosurePolicy,
                          total_shown: bool = True) -> pd.DataFrame:
    """Blank every row of ``table`` whose group the disclosure ``policy`` hides.

    Parameters
    ----------
    table : one row per group (e.g. per role), any columns of figures.
    sizes : people per group (indexed like ``table``).
    policy : the study's disclosure rule (:class:`workbench.vocabulary.DisclosurePolicy`).
    total_shown : the report also shows the total over groups, so hidden groups must not be
        recoverable as the total minus the others (complementary suppression).

    Returns
    -------
    The table as text, hidden cells shown as the policy's marker (``"<5"``), and a column
    ``people`` with each group's size or the marker.

    Examples
    --------
    >>> table = pd.DataFrame({"share": [0.5, 0.3, 0.2]}, index=["Nurse", "Clerical", "Manager"])
    >>> shown = suppress_small_groups(table, pd.Series([10, 2, 6], index=table.index), policy=DisclosurePolicy())
    >>> shown["people"].tolist()
    ['10', '<5', '<5']
    """
    sizes = sizes.reindex(table.index).fillna(0).astype(int)
    hidden = policy.hidden(sizes.to_numpy(), total_shown=total_shown)
    marker = policy.marker
    shown = table.astype(object).where(~hidden[:, None].repeat(table.shape[1], axis=1), marker)
    shown.insert(0, "people", np.where(hidden, marker, sizes.astype(str)))
    return shown
