"""Privacy by default: pseudonyms for respondents, scrubbed excerpts, no small cells.

* Respondent ids are replaced at load by a keyed hash (BLAKE2b with the key, a MAC in one
  call and three times faster than HMAC-SHA256 over 250,000 ids). The key is a per-study
  secret created by the first build and kept outside the project, in the user's key folder
  (``$WORKBENCH_KEYS``, else ``~/.local/share/workbench/keys``), under a random key id that the
  study's processed folder records (:func:`study_key`), so the same person keeps the same
  pseudonym across runs while nobody without the key - nor anyone given a copy of the project -
  can go back to the raw id. Processed files and reports only ever hold pseudonyms.
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
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.project import Project
from workbench.vocabulary import DisclosurePolicy

__all__ = [
    "BIRTH_DATE", "EMAIL", "PHONE", "PSEUDONYM_SCHEME", "pseudonymise", "scrub_series", "scrubber", "study_key",
    "suppress_small_groups",
]

# E-mail addresses: as written, or spelled out so that harvesters miss them ("ann dot smith at
# example dot org", "ann.smith [at] example [dot] org", "ann(at)example.org", "ann at example.org").
# A spelled-out address must end in a known top-level domain written in lower (or upper) case:
# "we were at home.It was late" is a missing space, not an address.
_TOP_LEVEL_DOMAINS = ("com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "uk", "us", "ca",
                      "au", "nz", "ie", "fr", "de", "nl", "be", "ch", "at", "es", "it", "se", "no", "dk", "fi", "pt",
                      "pl", "eu", "nhs", "ac", "me", "email", "health")
_SPELLED_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
_SPELLED_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+|\s+@\s*|\s*@\s+)"
# "at" between two words is mostly English, not an address: "have a look at nhs.uk" is advice.
_NOT_A_MAILBOX = ("look", "looks", "looked", "looking", "see", "seen", "saw", "visit", "visited", "check", "checked",
                  "available", "online", "found", "is", "are", "was", "were", "be", "been", "it", "us", "me", "him",
                  "her", "them", "you", "here", "there", "out", "go", "went", "work", "works", "worked", "based",
                  "live", "lives", "lived", "trained", "studied")
# Each form starts only where an address can start (not inside a run of address characters, nor
# after a spelled-out "dot"): otherwise a long run such as "a.a.a.a..." is read again from each
# of its characters, and scrubbing takes time growing with the square of the text's length.
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    r"|(?<![\w.@\])}>-])(?<![\])}>]\s)(?<!\bdot\s)"
    rf"(?!(?:{'|'.join(_NOT_A_MAILBOX)})\s+at\s)[\w%+-]+(?:{_SPELLED_DOT}[\w%+-]+)*{_SPELLED_AT}"
    rf"[\w-]+(?:{_SPELLED_DOT}[\w-]+)*{_SPELLED_DOT}"
    rf"(?-i:{'|'.join(d for domain in _TOP_LEVEL_DOMAINS for d in (domain, domain.upper()))})(?![\w-])",
    re.IGNORECASE,
)
# Phone numbers: digits in a phone-like grouping, and enough of them (8 or more; 9 or more for a
# national number with a leading 0), so that years (2019), ranges of years (2019-2020), counts
# (12 beds, 3 of 10), times (7:30), decimals (0.75) and dates (2024-03-05, 05/03/1970) stay.
# A seven-digit range such as "250-1000" still reads as a local North American number.
_INTERNATIONAL_PHONE = (  # +44 20 7946 0958, +33 1 23 45 67 89, +49 30 1234 5678, +61 2 9876 5432, +44 (0)20 ...
    r"\+\d{1,3}(?=(?:[ \u00a0().\-]{0,3}\d){7})(?:[ \u00a0]?\(0\))?[ \u00a0.\-]?\(?\d{1,12}\)?"
    r"(?:[ \u00a0.\-]\(?\d{1,5}\)?){0,5}"
)
_NATIONAL_PHONE = (  # 020 7946 0958, 07700 900123, 01 23 45 67 89, 030 12345678, (030) 1234-5678, (02) 9876 5432
    r"(?!\d{1,2}(?P<date_separator>[./\-])\d{1,2}(?P=date_separator)(?:1[89]|20)\d\d(?!\d))"  # a date, not a phone
    r"(?=(?:[ \u00a0()/.\-]{0,2}\d){9})(?:\(0\d{1,4}\)|0\d{1,4})[ \u00a0]?[/.\-]?[ \u00a0]?\d{2,8}"
    r"(?:[ \u00a0.\-]\d{2,4}){0,3}"
)
_NORTH_AMERICAN_PHONE = (  # (617) 555-0199, 555 867-5309, 1-800-555-0199, and the local 555-0142
    r"(?:1[ .\-])?(?:\(?[2-9]\d\d\)?[ \u00a0.\-]?)?[2-9]\d\d[ \u00a0.\-]\d{4}"
)
PHONE = re.compile(
    rf"(?<![\w+])(?<!\d[.,/:\-])(?:{_INTERNATIONAL_PHONE}|{_NATIONAL_PHONE}|{_NORTH_AMERICAN_PHONE})"
    r"(?!\w)(?![.,/:\-]?\d)"
)
# Dates of birth: after "born", "date of birth", "DOB" and the like, a date in figures or words
# ("3 May 1970", "the third of May 1970", "May third, nineteen seventy", "03/05/1970", "May 1970").
# A year alone ("born in 1970") is left: it tells an age, not a birthday, and de-identification
# rules such as HIPAA's Safe Harbor keep years of birth too (an age over 89 aside).
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_ORDINAL_UNITS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_DAY = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|(?:twenty|thirty)[\s-]?(?:{_ORDINAL_UNITS})|{_ORDINAL_UNITS}|tenth|eleventh"
        r"|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth)"
        r"(?!\w)")
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
          r"|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?)(?!\w)")
_TWO_DIGIT_WORDS = rf"(?:(?:{_TENS})(?:[\s-](?:{_UNITS})(?!\w))?|{_TEENS}|oh[\s-](?:{_UNITS}))"
_YEAR = (rf"(?:\d{{4}}|'\d\d|(?:nineteen|twenty)[\s-](?:hundred|{_TWO_DIGIT_WORDS})"
         rf"|two\s+thousand(?:\s+and)?(?:[\s-](?:{_TWO_DIGIT_WORDS}|{_UNITS}))?)(?!\w)")
BIRTH_DATE = re.compile(
    r"\b(?:born|date\s+of\s+birth|birth\s*date|birthday|d\.?o\.?b\.?)\s*[:\-\u2013]?\s*(?:(?:is|was|on|in)\s+)*"
    r"(?:the\s+)?"
    rf"(?:\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{1,4}}(?!\d)"  # 03/05/1970, 1970-05-03
    rf"|{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"  # 3rd May 1970, the third of May, 1970
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?"  # May third, nineteen seventy; May 3, 1970
    rf"|{_MONTH},?\s+{_YEAR})",  # May 1970
    re.IGNORECASE,
)


def study_key(project: Project, study_id: str, *, create: bool = False) -> bytes:
    """The study's pseudonymisation key, kept outside the project.

    Where: ``<key id>.key`` in the user's key folder (:func:`workbench.project.keys_dir`:
    ``$WORKBENCH_KEYS``, else ``$XDG_DATA_HOME/workbench/keys``, else ``~/.local/share/workbench/keys``;
    the folder 0700, the key 0600), so that no copy or archive of the project carries it.

    Which: each study has a random key id (128 bits) made by its first build - not its study id,
    so a study copied under another id, or into another project, gets a key of its own. The build
    records the id in two places. ``data/processed/<study>/key_id`` sits beside the processed data
    made with that key: every rebuild keeps it (same key, same pseudonyms), and a project moved, or
    copied with its processed data, still reads them. The user's index in the key folder
    (:meth:`~workbench.project.Project.key_index_file`, by the processed folder's path) lets a rebuild
    after ``data/processed/`` was wiped (``make clean``) find the same key again; a copy elsewhere is
    not in it. To build a study with a key made before, write that key's id into its ``key_id``
    file; to give a copied project keys of its own, delete its ``key_id`` files before building.

    Only building creates a key (``create=True``): when none is recorded (a key an earlier version
    kept in the project, ``.secrets/<study>.key``, is moved to the key folder, pseudonyms unchanged),
    or when the recorded one is missing (a new key id, hence new pseudonyms). Reading a study whose
    key is missing is an error naming where it was expected and the command that makes a new one,
    since pseudonyms made with another key would not match its processed data and reports.
    """
    from workbench.project import keys_dir

    path = project.key_file(study_id)  # <keys>/<key id>.key, or None: no key id recorded
    if path is None or not path.exists():
        record = project.shown(project.key_id_file(study_id))
        if not create:
            command = f"`workbench build --study {study_id}`"
            raise InputError(
                f"no pseudonym key for study {study_id!r}: expected {path} (the key id in {record}); copy that key "
                f"from where the study was built, or run {command} to make a new key (and new pseudonyms)"
                if path is not None else
                f"no pseudonym key for study {study_id!r}: it has not been built here (expected its key id in "
                f"{record}); run {command}")
        legacy = project.root / ".secrets" / f"{study_id}.key"  # where earlier versions kept it, in the project
        secret = legacy.read_text(encoding="ascii", errors="replace").strip() if path is None and \
            legacy.is_file() else ""
        if not re.fullmatch(r"(?:[0-9a-f]{2})+", secret):
            secret, legacy = secrets.token_hex(32), None
        key_id = secrets.token_hex(16)
        path = keys_dir(create=True) / f"{key_id}.key"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
        if project.record_key_id(study_id, key_id, replace=project.key_id(study_id) is not None) != key_id:
            path.unlink()  # a concurrent build recorded its key first: use that one
            return study_key(project, study_id)
        if legacy is not None:
            legacy.unlink()
            if {p.name for p in legacy.parent.iterdir()} <= {".gitignore"}:
                (legacy.parent / ".gitignore").unlink(missing_ok=True)
                legacy.parent.rmdir()
    elif create:
        project.record_key_id(study_id, path.stem)  # a no-op, unless it was found through the index only
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as error:
        raise InputError(f"the pseudonym key of study {study_id!r} cannot be read ({error}); expected the hex digits "
                         "the workbench wrote there", file=str(path)) from None


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


# How a roster name is matched. A full name, or a part of three letters or more, is masked in any
# case ("ann smith", "ANN SMITH"). Two kinds of part are masked only when capitalised ("Li", "LI"),
# since in lower case they are mostly words: a part that is also an everyday word ("Will", "Grace",
# "Ward", "Price": "the ward", "the price"), and a two-letter part ("Bo", "Ng": "bo" is a tree).
# A capitalised one is masked even where it opens a sentence ("Will you ...?" too): a lost word
# costs less than a name left in.
# A two-letter part that is a common English word ("An", "Do", "So") is masked only in title case
# and not where it opens a sentence: "An audit ..." and "Do you ..." open many sentences, while
# "I asked An" is the name. A full name is masked however its parts are written, and two masked
# parts side by side become one "[name]". Titles ("Dr") and initials are not parts. Accents are
# matched as written and without them (roster "Zoë", text "Zoe"), apostrophes and hyphens in any
# of their forms ("O'Brien", "O’Brien"); a possessive keeps its "’s" ("[name]’s").
_ANY_CASE, _CAPITALISED, _CAPITALISED_MID_SENTENCE = 0, 1, 2
_EVERYDAY_WORDS = frozenset("""
    ace amber april art august baker bank banks bell best bill bird bishop black bob bond bright brook brooks brown
    buck bud bush can care carter case chance charity chase cherry chip church cliff cook cross crystal dale daisy
    dawn day dean destiny don drake duke earl east faith field fields finch fisher ford fox frank free gates ginger
    glen gold grace gray green grey guy hall hand happy harmony hawk hay hazel head heart heath heather hill hills
    holly honey hood hope house hunter iris ivy jack jay joy june justice king lake lamb lance land lane law lily
    little lock long lord love lucky march mark marsh mason may melody mercy miles moon moss new noble north nurse
    olive page park parks patience pat pearl penny pool pope porter potter power price prince queen rain ray read
    reed rice rich river robin rock root rose ruby rush sage sharp short sky small snow south star stone storm
    street strong sue summer sunny swan sweet temple tower trinity turner unity violet walker wall ward warden well
    wells west white will winter wolf won wood woods wren yard young
""".split())
_SENTENCE_OPENERS = frozenset("""
    ah am an as at be by do eh go ha he hi hm if in is it me my no of oh ok on or so to uh um up us we
""".split())
_TITLES = frozenset("dr mr mrs ms mx miss prof professor sir dame rev revd fr sr jr".split())
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"
_HYPHENS = "-\u2010\u2011\u2013"
_CANONICAL_MARKS = str.maketrans({**{a: "'" for a in _APOSTROPHES}, **{h: "-" for h in _HYPHENS}})


def _name_key(text: str) -> str:
    """What two writings of one name share: case, apostrophe and hyphen forms and spacing aside."""
    return " ".join(text.translate(_CANONICAL_MARKS).casefold().split())


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _roster_rules(names: list[str]) -> tuple[dict[str, int], set[str]]:
    """How each writing of the roster's names (full names and their parts) is matched, by
    :func:`_name_key`; and the writings themselves, in lower case, for the pattern."""
    rules: dict[str, int] = {}
    writings: set[str] = set()

    def add(writing: str, rule: int) -> None:
        for variant in {writing, _without_accents(writing)}:
            key = _name_key(variant)
            rules[key] = min(rule, rules.get(key, rule))  # the stricter match never wins over "any case"
            # lower(), not casefold(): the pattern must still match "ß" itself, not "ss"
            writings.add(" ".join(variant.translate(_CANONICAL_MARKS).lower().split()))

    for name in names:
        name = " ".join(unicodedata.normalize("NFC", name).split())
        forms = [name]
        if name.count(",") == 1:  # "Smith, Ann" is also written "Ann Smith"
            last, first = (p.strip() for p in name.split(","))
            forms.append(f"{first} {last}")
        for writing in forms:
            parts = [p.strip(".()\"") for p in re.split(rf"[\s,/{re.escape(_HYPHENS)}]+", writing)]
            parts = [p for p in parts if len(p) >= 2 and p.casefold() not in _TITLES and not p.isdigit()]
            if len(parts) >= 2:
                add(writing, _ANY_CASE)
                add(" ".join(parts), _ANY_CASE)  # without a title: "Dr Ann Smith" is also "Ann Smith"
                add(f"{parts[0]} {parts[-1]}", _ANY_CASE)  # without a middle name
            for part in parts:
                word = _name_key(part)
                if len(part) == 2:
                    add(part, _CAPITALISED_MID_SENTENCE if word in _SENTENCE_OPENERS else _CAPITALISED)
                else:
                    add(part, _CAPITALISED if word in _EVERYDAY_WORDS else _ANY_CASE)
    return rules, writings


def _prefix_tree_pattern(writings) -> str:
    """One regular expression for many names, as a prefix tree: at each position of the text the
    match follows one branch instead of trying each of hundreds of names in turn."""
    tree: dict = {}
    for writing in writings:
        node = tree
        for char in writing:
            if char == " ":
                unit = r"\s+"
            elif char == "'":
                unit = f"[{_APOSTROPHES}]"
            elif char == "-":
                unit = f"[{re.escape(_HYPHENS)}]"
            else:
                unit = re.escape(char)
            node = node.setdefault(unit, {})
        node[""] = {}  # a name ends here

    def render(node: dict) -> str:
        branches = [unit + render(child) for unit, child in node.items() if unit]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer name first ("Ann Smith", then "Ann")

    return render(tree)


def _opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens the text, a sentence, a line or a speaker's turn."""
    before = text[max(0, start - 20):start].rstrip(" \t\u00a0\"'\u201c\u2018(\u00ab[-\u2013\u2014")
    return not before or before[-1] in ".!?:;\n\r\u2026"


def scrubber(names: list[str] | None = None, extra_patterns: list[tuple[str, str]] | None = None):
    """A function that masks names, e-mail addresses, phone numbers and dates of birth in text.

    ``names`` are the study's roster: each full name and each part of one is masked (how: the
    comment above :func:`_roster_rules`); ``extra_patterns`` are the study's own ``(regex,
    replacement)`` pairs, applied last. Text is compared in Unicode NFC form, and a text that
    is not in that form is returned in it: NFC changes how an accented letter is encoded (one
    code point instead of a letter and a combining mark), never how the text reads.

    Examples
    --------
    >>> scrub = scrubber(names=["Ann Smith"])
    >>> scrub("Ann Smith (ann.smith@example.org, 555 867-5309) said Ann was born 3 May 1970.")
    '[name] ([email], [phone]) said [name] was [date of birth].'
    >>> scrub("ANN’s number is +44 20 7946 0958, or write to ann dot smith at example dot org.")
    '[name]’s number is [phone], or write to [email].'
    """
    rules: list[tuple[re.Pattern, str | Callable[[re.Match], str]]] = [
        (BIRTH_DATE, "[date of birth]"), (EMAIL, "[email]"), (PHONE, "[phone]"),
    ]
    cleaned = [n for n in names or [] if isinstance(n, str) and n.strip()]
    name_rules, writings = _roster_rules(cleaned)
    if name_rules:
        # Not inside a word ("Dana" in "Danaher"), nor a word cut before "n't" ("Don" in "Don't").
        names_pattern = re.compile(
            rf"(?<!\w)(?:{_prefix_tree_pattern(sorted(writings))})(?!\w)(?![{_APOSTROPHES}]t(?!\w))", re.IGNORECASE)

        def mask_name(match: re.Match) -> str:
            found = match.group()
            rule = name_rules.get(_name_key(found), _ANY_CASE)
            if rule == _ANY_CASE or (found[0].isupper() and (
                    rule == _CAPITALISED
                    or (found[1:].islower() and not _opens_sentence(match.string, match.start())))):
                return "[name]"
            return found

        rules.append((names_pattern, mask_name))
    for pattern, replacement in extra_patterns or []:
        rules.append((re.compile(pattern), replacement))

    def scrub(text: str) -> str:
        if not isinstance(text, str):
            return text
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
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
