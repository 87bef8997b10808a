from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.frameworks import load_framework, load_instrument

EIGHT = [
    "integration_of_information", "measurement", "interdependence_of_care_team", "supportiveness_of_larger_system",
    "constancy_of_purpose", "connection_to_community", "investment_in_improvement", "alignment_of_role_and_training",
]


def test_the_eight_characteristics_in_order():
    framework = load_framework("microsystem_characteristics")
    assert framework.element_ids == EIGHT
    assert framework.kind == "characteristics"


def test_three_processes_of_leading():
    assert load_framework("leading_processes").element_ids == [
        "building_knowledge", "taking_action", "reviewing_and_reflecting",
    ]


def test_self_assessment_has_ten_items_on_the_eight_characteristics():
    instrument = load_instrument("microsystem_self_assessment")
    assert len(instrument.items) == 10
    measured = [item.characteristic for item in instrument.items]
    assert set(measured) == set(EIGHT)
    assert measured.count("integration_of_information") == 3
    assert instrument.level_values == [1, 2, 3]
    for item in instrument.items:
        assert sorted(item.levels) == [1, 2, 3]
        assert len(set(item.levels.values())) == 3, f"{item.id}: each level needs its own description"
    assert instrument.cant_rate_label == "Can't rate"


def test_a_study_can_bring_its_own_framework(tmp_path: Path):
    own = tmp_path / "codebook.yaml"
    own.write_text(
        "id: mine\ntitle: Mine\nkind: codebook\nelements:\n  - {id: a, label: A, short: A, description: first}\n"
    )
    assert load_framework("codebook.yaml", tmp_path).element_ids == ["a"]


def test_an_instrument_item_on_an_unknown_characteristic_is_named(tmp_path: Path):
    shipped = Path(__file__).resolve().parents[1] / "src/workbench/frameworks/microsystem_self_assessment.yaml"
    text = shipped.read_text()
    (tmp_path / "tool.yaml").write_text(text.replace("characteristic: measurement", "characteristic: measurment"))
    with pytest.raises(InputError, match=r"tool\.yaml.*'measurement'.*measurment"):
        load_instrument("tool.yaml", tmp_path)


def test_a_malformed_framework_names_file_and_element(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("id: x\ntitle: X\nkind: codebook\nelements:\n  - {id: a, label: A}\n")
    with pytest.raises(InputError, match=r"bad\.yaml: element 'elements\.0\.short'"):
        load_framework("bad.yaml", tmp_path)


def test_unknown_shipped_name_lists_what_is_shipped():
    with pytest.raises(InputError, match="microsystem_characteristics"):
        load_framework("no_such_framework")
