"""The printable self-assessment form: wording from the YAML, team shares, privacy, PDF printing."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from tests.conftest import CHECKOUT, DEMO
from workbench import cli, form
from workbench.frameworks import load_instrument
from workbench.study import load_study
from workbench.survey import item_summary

INSTRUMENT_YAML = CHECKOUT / "src" / "workbench" / "frameworks" / "microsystem_self_assessment.yaml"
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?!s)")
MINIMAL_PDF = r"%%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%%%EOF\n"  # a printf format: %% is one %


@pytest.fixture(scope="module")
def instrument():
    return load_instrument("microsystem_self_assessment")


@pytest.fixture(scope="module")
def written_down():
    """The instrument as the YAML file states it, read without the workbench's loader."""
    return yaml.safe_load(INSTRUMENT_YAML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def parse(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def with_min_cell_size(study, k: int):
    privacy = study.config.privacy.model_copy(update={"min_cell_size": k})
    return dataclasses.replace(study, config=study.config.model_copy(update={"privacy": privacy}))


def fake_browser(folder: Path, body: str) -> Path:
    """A stand-in for Chromium: a shell script that finds its --print-to-pdf path, then runs ``body``."""
    script = folder / "fake-chromium"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{folder}/arguments"\n'
        'for argument in "$@"; do '
        'case "$argument" in --print-to-pdf=*) out="${argument#--print-to-pdf=}";; esac; '
        'done\n'
        f"{body}\n"
    )
    script.chmod(0o755)
    return script


# --- the blank form -------------------------------------------------------------------


def test_blank_form_prints_every_item_and_level_as_the_yaml_words_them(instrument, written_down):
    page = parse(form.form_html(instrument))
    fieldsets = page.select("fieldset.item")
    assert [f["data-item"] for f in fieldsets] == [item["id"] for item in written_down["items"]]
    for fieldset, item in zip(fieldsets, written_down["items"]):
        assert fieldset.legend.get_text(" ", strip=True).endswith(item["label"])
        in_order = [item["levels"][value] for value in sorted(item["levels"])]
        assert [d.get_text(strip=True) for d in fieldset.select(".description")] == in_order
        assert [b.get("value") for b in fieldset.select("input[type=radio]")] == ["1", "2", "3", "cant_rate"]
        cant_rate = fieldset.select("input[value=cant_rate]")
        assert len(cant_rate) == 1
        label = page.find("label", attrs={"for": cant_rate[0]["id"]})
        assert label.get_text(strip=True) == written_down["cant_rate_label"]
    assert page.h1.get_text(strip=True) == written_down["title"]
    assert not page.select("input[checked]") and not page.select("data")


def test_blank_form_has_unit_role_and_date_fields_and_labels_every_box(instrument):
    page = parse(form.form_html(instrument))
    for field, label in [("unit", "Unit"), ("role", "Your role"), ("date", "Date")]:
        assert page.find("label", attrs={"for": f"field-{field}"}).get_text(strip=True) == label
        assert page.find("input", id=f"field-{field}", attrs={"type": "text"}) is not None
    for box in page.select("input"):
        assert page.find("label", attrs={"for": box["id"]}) is not None, box["id"]
    assert page.html["lang"] == "en"


def test_print_stylesheet_sets_the_page_and_keeps_items_whole(instrument):
    style = parse(form.form_html(instrument, paper="letter")).style.string
    assert "size: letter" in style and "@page" in style
    assert re.search(r"fieldset\.item\s*\{[^}]*break-inside:\s*avoid", style)
    assert "size: A4" in parse(form.form_html(instrument)).style.string
    with pytest.raises(ValueError, match="paper must be one of"):
        form.form_html(instrument, paper="A3")


def test_every_text_from_the_instrument_is_escaped(instrument):
    first = instrument.items[0]
    odd_item = first.model_copy(update={"label": "<b>&", "levels": {**first.levels, 2: 'a < b & "c"'}})
    odd = instrument.model_copy(update={"title": 'Form </style><script>alert("x")</script>',
                                        "items": (odd_item, *instrument.items[1:])})
    html = form.form_html(odd)
    assert "<b>&" not in html and "&lt;b&gt;&amp;" in html
    assert "<script" not in html and html.count("</style>") == 1
    page = parse(html)
    assert page.find("b") is None
    assert page.legend.get_text(" ", strip=True) == "1. <b>&"
    assert page.select(".description")[1].get_text() == 'a < b & "c"'


# --- pre-filled for a unit's review meeting -------------------------------------------


def test_team_form_prints_the_units_shares_and_marks_the_most_common_level(demo, instrument):
    unit = "MS03"
    page = parse(form.form_html(instrument, study=demo, microsystem_id=unit))
    own = demo.answers[demo.answers["microsystem_id"] == unit]
    summary = item_summary(own, levels=demo.scale.values).set_index("item_id")
    shown = 0
    for fieldset in page.select("fieldset.item"):
        row = summary.loc[fieldset["data-item"]]
        shares = fieldset.select(".team-share")
        assert row["n_rated"] >= demo.config.privacy.min_cell_size and len(shares) == 4
        expected = [row[f"share_level_{v}"] for v in demo.scale.values] + [row["cant_rate_share"]]
        for share, wanted in zip(shares, expected):
            assert float(share.data["value"]) == pytest.approx(wanted, abs=1e-4)
            assert abs(int(share.data.get_text().rstrip("%")) - 100 * wanted) <= 0.5
        most = max(expected[:3])
        assert ["most-common" in s["class"] for s in shares] == [v == most for v in expected[:3]] + [False]
        assert len(fieldset.select(".tag")) == sum(v == most for v in expected[:3])
        shown += 1
    assert shown == 10
    header = {o["id"]: o.get_text(strip=True) for o in page.select("output")}
    assert header == {"field-unit": "Sandford Family Practice", "field-setting": "Primary care",
                      "field-organisation": "Three Rivers Children's and Family Health"}
    assert not page.select("input[checked]")


def test_items_rated_by_fewer_than_the_minimum_show_no_breakdown(demo, instrument):
    unit_answers = demo.answers[demo.answers["microsystem_id"] == "MS01"]
    summary = item_summary(unit_answers, levels=(1, 2, 3)).set_index("item_id")
    # In the demo every item of MS01 is rated by at least the study's min_cell_size, so the
    # minimum is set from the unit's own counts: its largest count of ratings, which hides the
    # items fewer people rated and shows those rated by the most.
    k = int(summary["n_rated"].max())
    too_few = set(summary.index[summary["n_rated"] < k])
    assert too_few and too_few != set(summary.index)  # the unit has both kinds at this minimum
    page = parse(form.form_html(instrument, study=with_min_cell_size(demo, k), microsystem_id="MS01"))
    for fieldset in page.select("fieldset.item"):
        hidden = fieldset["data-item"] in too_few
        assert bool(fieldset.select(".team-share")) is not hidden
        assert ("%" in fieldset.get_text()) is not hidden
        note = fieldset.select_one(".team-note").get_text(" ", strip=True)
        assert (f"fewer than {k}" in note) is hidden

    above_all = k + 1  # more than any item's count of ratings
    everyone_hidden = parse(form.form_html(instrument, study=with_min_cell_size(demo, above_all),
                                           microsystem_id="MS01"))
    assert not everyone_hidden.select("data") and len(everyone_hidden.select(".team-note.suppressed")) == 10
    fewest = int(summary["n_rated"].min())  # every item is rated by at least this many
    nothing_hidden = parse(form.form_html(instrument, study=with_min_cell_size(demo, fewest), microsystem_id="MS01"))
    assert len(nothing_hidden.select("data")) == 40 and not nothing_hidden.select(".suppressed")


def test_unknown_microsystem_is_refused_naming_the_valid_ones(demo, instrument):
    with pytest.raises(ValueError, match="MS01, MS02") as raised:
        form.form_html(instrument, study=demo, microsystem_id="MS99")
    assert "MS99" in str(raised.value) and "MS43" in str(raised.value)
    with pytest.raises(ValueError, match="needs study="):
        form.form_html(instrument, microsystem_id="MS01")


# --- pre-filled with one person's answers ---------------------------------------------


def test_own_answers_tick_exactly_those_boxes(instrument):
    ids = instrument.item_ids
    answers = {ids[0]: 1, ids[3]: 3, ids[7]: "cant_rate"}
    page = parse(form.form_html(instrument, answers=answers))
    ticked = {(box["name"], box["value"]) for box in page.select("input[checked]")}
    assert ticked == {(ids[0], "1"), (ids[3], "3"), (ids[7], "cant_rate")}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"not_an_item": 1}, "not_an_item"),
        ({"measurement": 4}, r"measurement.*\[1, 2, 3, 'cant_rate'\].*4"),
        ({"measurement": "2"}, "got '2'"),
        ({"measurement": True}, "got True"),
        ({"measurement": "can't rate"}, "got \"can't rate\""),
    ],
)
def test_bad_answers_are_refused(instrument, answers, message):
    with pytest.raises(ValueError, match=message):
        form.form_html(instrument, answers=answers)


# --- files and the command ------------------------------------------------------------


def test_write_form_writes_the_html_under_the_expected_names(tmp_path, demo, instrument):
    blank = form.write_form(tmp_path, instrument, pdf=False)
    team = form.write_form(tmp_path, instrument, study=demo, microsystem_id="MS01", pdf=False)
    assert blank == [tmp_path / "self-assessment-form.html"]
    assert team == [tmp_path / "self-assessment-form-MS01.html"]
    assert team[0].read_text(encoding="utf-8") == form.form_html(instrument, study=demo, microsystem_id="MS01")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["self-assessment-form-MS01.html", "self-assessment-form.html"]


def test_form_command_writes_to_the_reports_folder_and_keeps_the_html_when_printing_fails(project, monkeypatch, capsys):
    assert cli.main(["form", "--study", "demo", "--microsystem", "MS01", "--no-pdf"]) == 0
    assert (project / "reports" / "demo" / "forms" / "self-assessment-form-MS01.html").is_file()
    capsys.readouterr()

    monkeypatch.setenv(form.CHROMIUM_VARIABLE, str(project / "no-such-browser"))
    assert cli.main(["form", "--study", "demo", "--out", str(project / "printed")]) == 1
    assert [p.name for p in (project / "printed").iterdir()] == ["self-assessment-form.html"]
    assert "chromium" in capsys.readouterr().err
    raw = project / "data" / "raw" / "demo" / "forms"
    assert cli.main(["form", "--study", "demo", "--out", str(raw), "--no-pdf"]) == 2
    assert "data/raw" in capsys.readouterr().err and not raw.exists()


# --- printing to PDF ------------------------------------------------------------------


def test_blank_and_team_forms_print_as_a4_pdfs(tmp_path, demo, instrument, browser):
    blank_html, blank_pdf = form.write_form(tmp_path, instrument, study=demo, browser=browser)
    team_html, team_pdf = form.write_form(tmp_path, instrument, study=demo, microsystem_id="MS01", browser=browser)
    for pdf in (blank_pdf, team_pdf):
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        assert 1 <= len(PAGE_OBJECT.findall(data)) <= 3  # ten whole items: one or two pages, three at most
        assert re.search(rb"/MediaBox\s*\[0 0 59[45]\.\d+ 841\.\d+\]", data), "not printed on A4"
    assert blank_pdf.name == "self-assessment-form.pdf" and team_pdf.name == "self-assessment-form-MS01.pdf"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left behind


def test_missing_browser_gives_one_clear_line_and_leaves_no_pdf(tmp_path, instrument):
    html = tmp_path / "form.html"
    html.write_text(form.form_html(instrument), encoding="utf-8")
    pdf = tmp_path / "form.pdf"
    with pytest.raises(form.BrowserError, match="install the Debian package `chromium`") as raised:
        form.html_to_pdf(html, pdf, browser=tmp_path / "no-such-chromium")
    assert "\n" not in str(raised.value)
    assert not pdf.exists()


def test_a_browser_that_fails_or_stops_halfway_leaves_the_old_pdf_untouched(tmp_path, instrument):
    html = tmp_path / "form.html"
    html.write_text(form.form_html(instrument), encoding="utf-8")
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(b"the previous version")
    failing = fake_browser(tmp_path, 'echo "something went wrong in the renderer" >&2; exit 3')
    with pytest.raises(form.BrowserError, match=r"exit status 3: something went wrong in the renderer"):
        form.html_to_pdf(html, pdf, browser=failing)
    truncated = fake_browser(tmp_path, 'printf "%%PDF-1.4 half a page" > "$out"')
    with pytest.raises(form.BrowserError, match="without writing a complete PDF"):
        form.html_to_pdf(html, pdf, browser=truncated)
    assert pdf.read_bytes() == b"the previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arguments", "fake-chromium", "form.html", "form.pdf"]


def test_a_browser_that_hangs_is_stopped_at_the_timeout(tmp_path, instrument):
    html = tmp_path / "form.html"
    html.write_text("<p>hello</p>", encoding="utf-8")
    hanging = fake_browser(tmp_path, "sleep 30")
    started = time.monotonic()
    with pytest.raises(form.BrowserError, match="did not finish"):
        form.html_to_pdf(html, tmp_path / "form.pdf", browser=hanging, timeout=1)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "form.pdf").exists()


def test_the_browser_named_in_the_environment_is_used_with_the_agreed_flags(tmp_path, monkeypatch):
    html = tmp_path / "form.html"
    html.write_text("<p>hello</p>", encoding="utf-8")
    monkeypatch.setenv(form.CHROMIUM_VARIABLE, str(fake_browser(tmp_path, f'printf "{MINIMAL_PDF}" > "$out"')))
    written = form.html_to_pdf(html, tmp_path / "out" / "form.pdf")
    assert written.read_bytes().startswith(b"%PDF-1.4")
    arguments = (tmp_path / "arguments").read_text().split()
    flags = ("--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--disable-background-networking")
    for flag in flags:
        assert flag in arguments
    assert any(a.startswith("--user-data-dir=") for a in arguments)
    assert any(a.startswith("--print-to-pdf=") for a in arguments)
    assert arguments[-1] == html.resolve().as_uri()
