"""Plot helpers draw on the axes they are given, return them, and draw what the data say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402

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


def test_level_colours_keep_their_order_in_grey_and_show_on_white():
    colours = plotting.level_colours(plotting.THREE_LEVELS)
    luminance = [sns.utils.relative_luminance(c) for c in colours]
    # Darker to lighter from low to high, so a greyscale print keeps the order of the levels.
    assert luminance == sorted(luminance) and len(set(luminance)) == 3
    # No level is as pale as the old red-yellow-green middle (#ffffbf), which vanished on white.
    assert max(luminance) < 0.75
    # The middle is a colour, not the grey that means "can't rate".
    middle = np.array(colours[1][:3])
    assert middle.max() - middle.min() > 0.2
    # The same colours as a heatmap cell at exactly that level.
    assert colours[0] == matplotlib.colormaps[plotting.LEVEL_PALETTE](0.0)


def test_heatmap_numbers_are_readable_and_a_withheld_mean_is_a_dash():
    means = pd.DataFrame({"x": [1.5, np.nan], "y": [2.0, 3.0]}, index=["A", "B"])
    fig, ax = plt.subplots()
    plotting.level_heatmap(means, ax=ax)
    assert sorted(t.get_text() for t in ax.texts) == ["1.5", "2.0", "3.0", "–"]
    assert min(t.get_fontsize() for t in ax.texts) >= 8


def test_flagged_dot_sits_beside_the_number_in_its_colour():
    means = pd.DataFrame({"x": [1.0, 3.0]}, index=["A", "B"])
    shared = pd.DataFrame({"x": [False, False]}, index=["A", "B"])
    fig, ax = plt.subplots()
    plotting.flagged_level_heatmap(means, shared, ax=ax)
    dots = ax.collections[-1]
    assert dots.get_offsets().tolist() == [[0.5, 0.5], [0.5, 1.5]]  # centred in data, shifted when drawn
    shown = dots.get_offset_transform().transform(dots.get_offsets())
    centre = ax.transData.transform([[0.5, 0.5], [0.5, 1.5]])
    assert (shown[:, 0] - centre[:, 0] > 0).all()  # to the right of the number, not on it
    low, high = (tuple(c) for c in dots.get_facecolors())
    assert low == (1.0, 1.0, 1.0, 1.0) and high != low  # white on the dark low cell, dark on the light one


def test_handoff_network_names_units_legibly_and_keeps_the_legend_clear_of_them():
    units = pd.DataFrame({"microsystem_id": [f"M{i}" for i in range(12)],
                          "name": [f"Unit number {i}" for i in range(12)], "setting": ["a", "b", "c"] * 4})
    links = pd.DataFrame({"from_id": ["M0", "M1"], "to_id": ["M5", "M7"], "handoffs": [9, 3], "weakest": [1.2, np.nan]})
    fig, ax = plt.subplots(figsize=(4, 7))
    plotting.handoff_network(links, units, ax=ax, min_handoffs=1)
    names = [t for t in ax.texts if t.get_text().startswith("Unit number")]
    assert len(names) == 12 and min(t.get_fontsize() for t in names) >= 8
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    lowest_name = min(t.get_window_extent(renderer).y0 for t in names)
    assert ax.get_legend().get_window_extent(renderer).y1 <= lowest_name + 1


def test_role_gap_forest_draws_both_models_per_item_on_a_log_scale():
    gaps = pd.DataFrame({
        "item_id": ["a", "b", "a", "b"], "role": ["Manager", "Manager", "Clerical", "Clerical"],
        "reference_role": "Nurse", "odds_ratio": [2.0, 0.8, 1.1, 0.5], "ci_low": [1.2, 0.5, 0.6, 0.3],
        "ci_high": [3.3, 1.3, 2.0, 0.9], "p_holm": [0.01, 0.6, 0.9, 0.04],
        "within_odds_ratio": [2.5, np.nan, 1.4, 0.7], "within_ci_low": [1.1, np.nan, 0.9, 0.4],
        "within_ci_high": [5.7, np.nan, 2.2, 1.2], "within_p_holm": [0.03, np.nan, 0.2, 0.5],
    })
    axes = plotting.role_gap_forest(gaps, labels={"a": "Item A", "b": "Item B"})
    assert [ax.get_title() for ax in axes] == ["Manager against Nurse", "Clerical against Nurse"]
    manager = axes[0]
    assert manager.get_xscale() == "log"
    assert any(line.get_xdata()[0] == 1 for line in manager.get_lines())  # the line of no gap
    assert [t.get_text() for t in manager.get_yticklabels()] == ["Item A", "Item B"]
    assert any(t.get_text() == "no within units estimate" for t in manager.texts)
    # Filled where clear after Holm (Manager, item a, both models), hollow where not.
    filled = {label: c for c, label in zip(*manager.get_legend_handles_labels())}
    clear = filled["across the study: clear (Holm p < 0.05)"].get_offsets()
    assert np.isfinite(clear[:, 0]).sum() == 1 and clear[np.isfinite(clear[:, 0]), 0][0] == 2.0
    figure = axes[0].figure
    legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]
    assert legends, "the models are explained in a legend"


def _font_sizes(fig) -> list[float]:
    """Every visible text's size in points: ticks, labels, titles, annotations."""
    fig.canvas.draw()
    return [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


def test_outcome_forest_draws_each_interval_keeps_rows_without_an_estimate_and_says_which_side_is_better():
    table = pd.DataFrame({"characteristic_id": ["a", "b", "c"], "standardised_effect": [-0.5, np.nan, 0.2],
                          "ci_low": [-0.8, np.nan, -0.1], "ci_high": [-0.2, np.nan, 0.5]})
    fig, ax = plt.subplots()
    assert plotting.outcome_forest(table, estimate="standardised_effect", labels={"a": "Alpha"}, ax=ax,
                                   better="lower") is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Alpha", "b", "c"]
    segments = ax.collections[0].get_segments()  # one interval per estimate, top row first
    assert [s[:, 0].tolist() for s in segments] == [[-0.8, -0.2], [-0.1, 0.5]]
    assert "no estimate" in [t.get_text() for t in ax.texts] and "← better outcome" in [t.get_text() for t in ax.texts]
    low, high = ax.get_xlim()
    assert low == pytest.approx(-high) and high >= 0.8  # symmetric about no association
    assert min(_font_sizes(fig)) >= 8


def test_survey_interview_scatter_has_a_panel_per_characteristic_and_hollow_points_where_views_differ():
    pairs = pd.DataFrame({"microsystem_id": list("ABCDABCD"), "characteristic_id": ["x"] * 4 + ["y"] * 4,
                          "survey_mean": [1.0, 2.0, 2.5, 3.0, 1.5, np.nan, 2.0, 2.5],
                          "interview_density": [0.0, 1.0, 2.0, 3.0, 1.0, 1.0, 0.5, np.nan],
                          "shared": [True, False, True, True, True, True, True, True]})
    axes = plotting.survey_interview_scatter(pairs, labels={"x": "Ex"}, ncols=3)
    assert len(axes) == 3 and not axes[2].get_visible()
    assert [ax.get_title() for ax in axes[:2]] == ["Ex", "y"]
    filled, hollow = axes[0].collections[:2]
    assert len(filled.get_offsets()) == 3 and hollow.get_offsets().tolist() == [[2.0, 1.0]]
    assert [t.get_text() for t in axes[0].texts] == ["ρ = 1.00, n = 4"]
    assert [t.get_text() for t in axes[1].texts] == ["n = 2"]  # too few points for a correlation
    assert min(_font_sizes(axes[0].figure)) >= 8


def test_qca_xy_plot_draws_the_diagonal_and_numbers_the_cases_against_sufficiency():
    x = pd.Series([0.9, 0.8, 0.2, 0.6], index=["A", "B", "C", "D"])
    y = pd.Series([0.95, 0.3, 0.4, 0.1], index=["A", "B", "C", "D"])
    fig, ax = plt.subplots()
    plotting.qca_xy_plot(x, y, ax=ax, names={"B": "Ward B", "D": "Clinic D"}, consistency=0.71, coverage=0.8)
    assert ax.lines[0].get_xydata().tolist() == [[0, 0], [1, 1]]  # the diagonal
    texts = [t.get_text() for t in ax.texts]
    assert "◆ In the solution, not in the outcome:\n1 Ward B\n2 Clinic D" in texts  # largest membership first
    assert "consistency 0.71\ncoverage 0.80" in texts
    assert ax.collections[1].get_offsets().tolist() == [[0.8, 0.3], [0.6, 0.1]]
    assert min(_font_sizes(fig)) >= 8


def test_case_ordered_heatmap_puts_each_outcome_on_its_row_and_says_where_there_is_none():
    means = pd.DataFrame({"x": [2.5, np.nan, 1.5], "y": [2.0, 2.2, 1.0]}, index=["Ward A", "Clinic B", "Unit C"])
    shared = pd.DataFrame({"x": [True, True, False], "y": True}, index=means.index)
    outcome = pd.Series([3.0, np.nan, 7.5], index=means.index)
    ax, bars = plotting.case_ordered_heatmap(means, shared, outcome, outcome_label="Falls")
    assert [p.get_width() for p in bars.patches] == [3.0, 0.0, 7.5]
    assert [p.get_y() + p.get_height() / 2 for p in bars.patches] == [0.5, 1.5, 2.5]  # the heatmap's rows
    assert bars.get_ylim() == ax.get_ylim() and [t.get_text() for t in bars.texts] == [" no value"]
    assert ax.collections[-1].get_offsets().tolist() == [[0.5, 2.5]]  # x in Unit C flagged
