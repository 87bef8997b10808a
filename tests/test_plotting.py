"""Plot helpers draw on the axes they are given, return them, and draw what the data say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_diverging_levels_centres_the_middle_level_and_puts_cant_rate_apart():
    summary = pd.DataFrame({
        "item_id": ["a"],
        "share_level_1": [0.2],
        "share_level_2": [0.5],
        "share_level_3": [0.3],
        "cant_rate_share": [0.1],
    })
    fig, ax = plt.subplots()
    assert plotting.diverging_levels(summary, ax=ax) is ax
    bars = [(p.get_x(), p.get_width()) for p in ax.patches]
    assert bars[0] == pytest.approx((-0.25, -0.2))  # low ends where the middle starts
    assert bars[1] == pytest.approx((-0.25, 0.5))  # middle straddles zero
    assert bars[2] == pytest.approx((0.25, 0.3))
    assert bars[3][0] > 1 and bars[3][1] == pytest.approx(0.1)


def test_flagged_heatmap_draws_every_mean_and_marks_those_without_agreement():
    means = pd.DataFrame({"x": [1.5, 2.5], "y": [2.0, 3.0]}, index=["A", "B"])
    shared = pd.DataFrame({"x": [True, False], "y": [True, True]}, index=["A", "B"])
    fig, ax = plt.subplots()
    plotting.flagged_level_heatmap(means, shared, ax=ax)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["1.5", "2.0", "2.5", "3.0"]  # 2.5 is drawn, and flagged
    assert ax.collections[-1].get_offsets().tolist() == [[0.5, 1.5]]  # column x, row B
    assert "views differ" in ax.get_xlabel()


def test_cluster_order_puts_similar_profiles_together():
    table = pd.DataFrame({"x": [1.0, 3.0, 1.1, 2.9], "y": [1.0, 3.0, 1.0, 3.0]}, index=list("ABCD"))
    order = plotting.cluster_order(table)
    assert sorted(order) == list("ABCD")
    assert abs(order.index("A") - order.index("C")) == 1 and abs(order.index("B") - order.index("D")) == 1


def test_peer_comparison_draws_own_mean_and_skips_hidden_ones():
    position = pd.DataFrame({
        "characteristic_id": ["a", "b"], "mean": [2.0, np.nan], "ci_low": [1.8, np.nan], "ci_high": [2.2, np.nan],
        "peer_min": [1.0, 1.0], "peer_q1": [1.5, 1.5], "peer_median": [2.0, 2.0], "peer_q3": [2.5, 2.5],
        "peer_max": [3.0, 3.0],
    })
    fig, ax = plt.subplots()
    assert plotting.peer_comparison(position, ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_peer_comparison_draws_a_mean_whose_staff_views_differ_hollow():
    position = pd.DataFrame({
        "characteristic_id": ["a", "b"], "mean": [2.0, 1.4], "ci_low": [1.8, 1.1], "ci_high": [2.2, 1.9],
        "shared": [True, False], "peer_min": [1.0, 1.0], "peer_q1": [1.5, 1.5], "peer_median": [2.0, 2.0],
        "peer_q3": [2.5, 2.5], "peer_max": [3.0, 3.0],
    })
    fig, ax = plt.subplots()
    plotting.peer_comparison(position, ax=ax, own_label="MS01")
    labels = ax.get_legend_handles_labels()[1]
    assert "MS01: staff views differ" in labels
    hollow = next(c for c, label in zip(*ax.get_legend_handles_labels()) if label.endswith("views differ"))
    assert hollow.get_facecolor()[0].tolist() == [1.0, 1.0, 1.0, 1.0]
