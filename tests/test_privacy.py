"""Pseudonyms, scrubbing and small-cell suppression."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import privacy
from workbench.errors import InputError
from workbench.project import Project
from workbench.vocabulary import DisclosurePolicy


def test_pseudonyms_are_stable_keyed_and_not_the_raw_id(tmp_path):
    project = Project(tmp_path)
    with pytest.raises(InputError, match="no pseudonym key"):
        privacy.study_key(project, "s")  # reading never creates it
    key = privacy.study_key(project, "s", create=True)
    assert privacy.study_key(project, "s") == key  # created once, then reused
    assert project.key_file("s").stat().st_mode & 0o077 == 0  # readable by its owner only (tests/test_keys.py)
    ids = pd.Series(["R0001", "R0002", "R0001"], dtype="str")
    first = privacy.pseudonymise(ids, key)
    assert first.iloc[0] == first.iloc[2] != first.iloc[1]
    assert not first.str.contains("R000").any()
    other = privacy.pseudonymise(ids, privacy.study_key(project, "t", create=True))
    assert (other != first).all()


@pytest.mark.parametrize(("text", "expected"), [
    ("Ask Dana Whitfield, she knows.", "Ask [name], she knows."),
    ("Dana said so, and Whitfield agreed.", "[name] said so, and [name] agreed."),
    ("Write to d.whitfield@example.org today.", "Write to [email] today."),
    ("Call 555-0142 or (617) 555-0199.", "Call [phone] or [phone]."),
    ("She was born on 12/04/1979 in town.", "She was [date of birth] in town."),
    ("DOB: 3 March 1980.", "[date of birth]."),
    ("We see 120 patients a day in 2026.", "We see 120 patients a day in 2026."),
    ("The Danaher fund helped.", "The Danaher fund helped."),
])
def test_scrubbing_masks_names_contacts_and_birth_dates_only(text, expected):
    scrub = privacy.scrubber(["Dana Whitfield", "Priya Raman"])
    assert scrub(text) == expected


def test_a_study_can_add_its_own_patterns():
    scrub = privacy.scrubber([], [(r"\bBed \d+\b", "[bed]")])
    assert scrub("The patient in Bed 12 was discharged.") == "The patient in [bed] was discharged."


ROSTER = ["Ann Smith", "Zoë Martin", "Siobhan O'Brien", "Li Wei", "Bo Ng", "An Tran", "Will Ward", "Owen Price",
          "Haddad, Fatima", "Dr Tomas Okafor"]


@pytest.mark.parametrize(("text", "expected"), [
    # any case
    ("I spoke to ann smith yesterday.", "I spoke to [name] yesterday."),
    ("ANN SMITH RUNS THE HUDDLE.", "[name] RUNS THE HUDDLE."),
    ("Ask ANN, or smith.", "Ask [name], or [name]."),
    # decomposed and composed accents, either way round, and without them
    ("Zoe\u0308 keeps the rota.", "[name] keeps the rota."),
    ("Zoe\u0308 Martin keeps the rota.", "[name] keeps the rota."),
    ("Zoe said so.", "[name] said so."),
    # apostrophes in either form
    ("O\u2019Brien agreed.", "[name] agreed."),
    ("O'Brien agreed.", "[name] agreed."),
    ("siobhan o\u2019brien agreed.", "[name] agreed."),
    # possessives keep their ending
    ("It was Ann\u2019s idea.", "It was [name]\u2019s idea."),
    ("Smith's list is long.", "[name]'s list is long."),
    ("Siobhan O\u2019Brien\u2019s team", "[name]\u2019s team"),
    # two-letter parts: capitalised, or in the full name in any case
    ("Li and Bo came.", "[name] and [name] came."),
    ("We asked NG.", "We asked [name]."),
    ("then li wei said", "then [name] said"),
    ("I asked An about it.", "I asked [name] about it."),
    # other ways of writing the roster's names
    ("Fatima Haddad chairs it.", "[name] chairs it."),
    ("Tomas Okafor and Dr Okafor", "[name] and Dr [name]"),
    # everyday words that are names: capitalised only
    ("Price said the price was fair.", "[name] said the price was fair."),
    ("Will Ward left; will ward rounds change?", "[name] left; [name] rounds change?"),
])
def test_names_are_masked_in_their_common_variants(text, expected):
    assert privacy.scrubber(ROSTER)(text) == expected


def test_a_decomposed_roster_name_matches_composed_text():
    scrub = privacy.scrubber(["Zoe\u0308 Martin", "Jose\u0301 Garci\u0301a"])
    assert scrub("Zoë came, then José García.") == "[name] came, then [name]."
    assert scrub("JOSE GARCIA") == "[name]"


@pytest.mark.parametrize("text", [
    "An audit was done on the ward.",  # "An" opens the sentence: the article
    "Interviewer: An example, please.",
    "Is there an easier way? So we tried.",
    "We sat under a bo tree; an li is a Chinese mile.",  # lower-case two-letter words are words
    "The ward was busy and the price went up.",  # everyday words in lower case
    "Don't worry, we won't.",
    "The Danaher fund and the Smithfield market.",  # names inside longer words
    "Annual leave for everyone.",
])
def test_words_that_only_look_like_roster_names_are_kept(text):
    assert privacy.scrubber([*ROSTER, "Don Ames"])(text) == text


@pytest.mark.parametrize("text", [
    # United Kingdom
    "020 7946 0958", "+44 20 7946 0958", "07700 900123", "+44 (0)20 7946 0958", "0161 496 0000",
    # France
    "01 23 45 67 89", "+33 1 23 45 67 89", "01.23.45.67.89",
    # Germany
    "030 12345678", "+49 30 1234 5678", "(030) 1234-5678", "030/1234567",
    # Australia
    "(02) 9876 5432", "0412 345 678", "+61 2 9876 5432",
    # North America
    "555-0142", "(617) 555-0199", "555 867-5309", "1-800-555-0199", "+1 617 555 0199",
])
def test_phone_numbers_of_several_countries_are_masked(text):
    assert privacy.scrubber()(f"Call {text} today.") == "Call [phone] today."


@pytest.mark.parametrize("text", [
    "We started in 2019 and grew in 2019-2020.",
    "From 1999 2000 2001 onwards.",
    "We have 12 beds and 3 of 10 were empty.",
    "Handover is at 7:30 and 19:00.",
    "On 2024-03-05 the audit began.",
    "Scores rose from 0.75 to 0.80.",
    "The form dated 05/03/1970 and 01-02-2020 10 beds.",
    "Ward 12, 120 patients, 1,250 visits, 45 000 euros.",
])
def test_ordinary_numbers_are_not_phone_numbers(text):
    assert privacy.scrubber()(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("Write to ann dot smith at example dot org please.", "Write to [email] please."),
    ("Write to ann.smith [at] example [dot] org please.", "Write to [email] please."),
    ("Write to ann(at)example.org please.", "Write to [email] please."),
    ("Write to ann at example.org please.", "Write to [email] please."),
    ("Write to a.smith {at} nhs (dot) net please.", "Write to [email] please."),
    ("Write to a.smith@example.co.uk please.", "Write to [email] please."),
])
def test_spelled_out_email_addresses_are_masked(text, expected):
    assert privacy.scrubber(["Ann Smith"])(text) == expected


@pytest.mark.parametrize("text", [
    "Have a look at nhs.uk for advice.",
    "We were at home.It was late.",  # a missing space, not an address
    "We met at the clinic dot matrix printer.",
    "Cost was 3 at 2.50 each.",
])
def test_at_and_dot_in_ordinary_text_are_not_addresses(text):
    assert privacy.scrubber()(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("She was born on the third of May 1970, I think.", "She was [date of birth], I think."),
    ("He was born May third, nineteen seventy.", "He was [date of birth]."),
    ("Date of birth: 3rd May 1970.", "[date of birth]."),
    ("DOB 03/05/1970.", "[date of birth]."),
    ("She was born on 3 May 1970.", "She was [date of birth]."),
    ("Born on the 21st of June, 1985.", "[date of birth]."),
    ("He was born in May 1970.", "He was [date of birth]."),
    ("Her birthday is on twenty-first March.", "Her [date of birth]."),
    ("born two thousand and one? No: born on 2 Feb two thousand and one.",
     "born two thousand and one? No: [date of birth]."),
])
def test_dates_of_birth_in_words_and_figures_are_masked(text, expected):
    assert privacy.scrubber()(text) == expected


@pytest.mark.parametrize("text", [
    "She was born in 1970.",  # a year alone tells an age, not a birthday: kept
    "Born and raised here, she joined in May 2019.",
    "The date of birth is not recorded on the form.",
    "He was born in March.",
])
def test_birth_years_and_other_dates_are_kept(text):
    assert privacy.scrubber()(text) == text


def test_scrubbed_text_is_unchanged_where_nothing_is_masked_and_in_nfc_otherwise():
    scrub = privacy.scrubber(["Ann Smith"])
    plain = "Ren\u00e9e \u2019quoted\u2019  twice\tspaced\n"
    assert scrub(plain) == plain  # already NFC: returned as given
    decomposed = "Rene\u0301e asked Ann."
    assert scrub(decomposed) == "Ren\u00e9e asked [name]."  # NFC: the same letters, composed


def test_a_large_roster_is_one_pattern_and_fast():
    import time

    roster = [f"{first} {last}" for first in ("Ann", "Bo", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun")
              for last in (f"Name{n:03d}" for n in range(50))]
    scrub = privacy.scrubber(roster)
    excerpt = "We talked to ann name017 and Hana about the rota, then Name049 called 020 7946 0958. " * 5
    started = time.perf_counter()
    for _ in range(200):
        scrubbed = scrub(excerpt)
    assert time.perf_counter() - started < 5  # about 0.1 s; generous for a shared machine
    assert scrubbed == "We talked to [name] and [name] about the rota, then [name] called [phone]. " * 5


@pytest.mark.parametrize("run", ["a.", "a dot ", "0", "12-", "born on the ", "Ann-", "+1 ", "x at "])
def test_long_runs_of_address_or_number_characters_take_linear_time(run):
    import time

    text = run * (40_000 // len(run))
    started = time.perf_counter()
    privacy.scrubber(ROSTER)(text)
    assert time.perf_counter() - started < 2  # about 0.05 s; a pattern read again from every character took 10 s


def test_small_groups_are_suppressed_with_a_complementary_cell():
    table = pd.DataFrame({"segments": [40, 12, 3]}, index=["Manager", "Nurse", "Clerical"])
    sizes = pd.Series({"Manager": 40, "Nurse": 12, "Clerical": 2})
    shown = privacy.suppress_small_groups(table, sizes, policy=DisclosurePolicy(min_cell_size=5))
    # Clerical is under k; with a total shown it would be total - others, so Nurse (next smallest) goes too.
    assert shown["segments"].tolist() == [40, "<5", "<5"]
    assert shown["people"].tolist() == ["40", "<5", "<5"]
    alone = privacy.suppress_small_groups(table, sizes, policy=DisclosurePolicy(min_cell_size=5), total_shown=False)
    assert alone["segments"].tolist() == [40, 12, "<5"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(2, 10))
def test_no_group_under_k_is_ever_shown_and_no_small_group_is_recoverable_from_the_total(sizes, k):
    index = [f"g{i}" for i in range(len(sizes))]
    table = pd.DataFrame({"value": sizes}, index=index)
    shown = privacy.suppress_small_groups(table, pd.Series(sizes, index=index),
                                          policy=DisclosurePolicy(min_cell_size=k))
    hidden = shown["value"].eq(f"<{k}").to_numpy()
    sizes = pd.Series(sizes).to_numpy()
    assert all(hidden[sizes < k])
    # Total minus the shown groups = the hidden groups together: never fewer than k people, never one group.
    protected = sizes[hidden & (sizes > 0)]
    if len(protected) and not hidden.all():
        assert len(protected) >= 2 and protected.sum() >= k


def test_two_small_groups_are_not_left_recoverable_together():
    sizes = pd.Series({"Nurse": 20, "Physician": 9, "Clerical": 1, "Manager": 1})
    shown = privacy.suppress_small_groups(sizes.to_frame("n"), sizes, policy=DisclosurePolicy(min_cell_size=5))
    # Clerical + Manager = 2 people: the next smallest group (Physician) is hidden too.
    assert shown["people"].tolist() == ["20", "<5", "<5", "<5"]


def test_study_loading_stores_only_pseudonyms_and_scrubbed_excerpts(project):
    from workbench.study import build_processed

    build_processed("demo")
    folder = Project(project).processed("demo")
    respondents = pd.read_parquet(folder / "respondents.parquet")
    assert respondents["respondent_id"].str.match(r"^P-[0-9a-f]{12}$").all()
    answers = pd.read_parquet(folder / "answers.parquet")
    assert set(answers["respondent_id"]) == set(respondents["respondent_id"])
    excerpts = " ".join(pd.read_parquet(folder / "codings.parquet")["excerpt"])
    assert "Whitfield" not in excerpts and "@example.org" not in excerpts and "[name]" in excerpts
    for path in folder.rglob("*"):
        assert not path.is_file() or b"R0001" not in path.read_bytes(), path.name
