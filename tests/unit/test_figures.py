"""The study's figures on hand-made evidence: labelled axes, layer order, log scales,
baselines dashed, colours stable per run, files in every format; means over seeds with a
95% t-interval band (none with one seed) and one panel per similarity measure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import colorsys  # noqa: E402

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from closerlook import (  # noqa: E402
    config,
    figure_style,
    figures,
    path_plots,
    plots,
    study_figures,
)

from support import (  # noqa: E402
    LAYERS,
    METHODS,
    STUDY_FIGURES,  # noqa: E402
    curve,
    paper_like,
)

VERDICTS = [
    ("RQ1.1", "supports", "the straight line crosses a barrier of 1.49"),
    ("RQ2.1", "inconclusive", "large_batch diverged"),
    ("RQ3.1", "contradicts", "distillation lowers deeper-layer similarity"),
]
PROFILE_FIGURES = ["rq1_restart_cca", "rq2_warmup_cca", "rq3_distillation_cca"]


@pytest.fixture
def cfg(embedded_config):
    return config.validate(embedded_config)


def evidence(cfg, seeds=(0,), methods=("dft_svcca",)):
    return paper_like(cfg["questions"], seeds=seeds, methods=methods)


def draw(cfg, ev, name):
    parts = study_figures.question_parts(cfg)[name]
    colours = study_figures.run_colours(cfg, list(cfg["runs"]))
    return study_figures.draw(name, ev, parts, colours, VERDICTS)


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def bar_container(ax) -> BarContainer:
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    return bars


def plot_axes(fig) -> list:
    """Axes that hold data (no colorbars, no text-only panels)."""
    return [ax for ax in fig.axes if ax.axison and ax.lines]


@pytest.fixture
def one(cfg):
    return cfg, evidence(cfg)


@pytest.fixture
def three(cfg):
    return cfg, evidence(cfg, seeds=(0, 1, 2), methods=METHODS)


@pytest.mark.parametrize("name", STUDY_FIGURES)
@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_every_axis_is_labelled(cfg, name, seeds):
    ev = evidence(cfg, seeds=seeds, methods=METHODS[: len(seeds) + 1])
    fig = draw(cfg, ev, name)
    axes = [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        if ax.get_xlabel() == "" and not ax.lines and not ax.patches:
            continue  # colorbars and text panels
        assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
    figures.plt.close(fig)


def test_layer_axes_are_in_network_order_with_dashed_baselines(one):
    fig = draw(*one, "rq3_distillation_cca")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
    styles = [line.get_linestyle() for line in ax.lines]
    assert styles.count("-") == 2 and styles.count("--") >= 2
    assert fig.legends
    figures.plt.close(fig)


@pytest.mark.parametrize("name", PROFILE_FIGURES)
def test_profile_figures_have_one_panel_per_measure_titled_by_it(three, name):
    cfg, ev = three
    fig = draw(cfg, ev, name)
    panels = plot_axes(fig)
    assert [ax.get_title() for ax in panels] == ["DFT-SVCCA", "SVCCA", "PWCCA", "linear CKA"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
        assert ax.get_title() in ax.get_ylabel()
        assert any(line.get_linestyle() == "--" for line in ax.lines)
        assert bands(ax), (name, ax.get_title())
    assert "mean of 3 seeds, band: 95% t-interval" in fig._suptitle.get_text()
    figures.plt.close(fig)


def test_profile_panels_draw_the_mean_with_its_interval(three):
    cfg, ev = three
    fig = draw(cfg, ev, "rq3_distillation_cca")
    ax = plot_axes(fig)[0]
    distilled = next(line for line in ax.lines if line.get_label() == "teacher vs student_distill")
    # the seeds are shifted by 0, -0.005, +0.005: the mean is the unshifted profile
    np.testing.assert_allclose(distilled.get_ydata(), [0.8, 0.75, 0.7, 0.7, 0.8, 0.85])
    (path,) = bands(ax)[0].get_paths()
    ys = path.vertices[:, 1]
    half = 4.302653 * 0.005 / np.sqrt(3)  # t_{0.975, 2} s / sqrt(n), s = 0.005
    assert ys.min() == pytest.approx(0.7 - half, abs=1e-6)
    assert ys.max() == pytest.approx(0.85 + half, abs=1e-6)
    figures.plt.close(fig)


@pytest.mark.parametrize("name", ["rq1_training", "rq2_warmup", "rq1_line_and_curve"])
def test_three_seeds_draw_bands_and_say_so(three, name):
    fig = draw(*three, name)
    assert any(bands(ax) for ax in fig.axes)
    assert "mean of 3 seeds, band: 95% t-interval" in fig._suptitle.get_text()
    figures.plt.close(fig)


@pytest.mark.parametrize("name", [*STUDY_FIGURES])
def test_one_seed_draws_no_band(one, name):
    fig = draw(*one, name)
    assert not any(bands(ax) for ax in fig.axes), name
    title = fig._suptitle.get_text() if fig._suptitle else ""
    assert "seeds" not in title
    figures.plt.close(fig)


def test_training_curves_are_the_mean_over_seeds(three):
    cfg, ev = three
    fig = draw(cfg, ev, "rq1_training")
    acc = fig.axes[1]
    sgdr = next(line for line in acc.lines if line.get_label() == "sgdr")
    assert sgdr.get_ydata()[-1] == pytest.approx(98.0)  # JITTER averages out over seeds 0-2
    figures.plt.close(fig)


def accuracy_axis(fig):
    return next(ax for ax in fig.axes if ax.get_ylabel() == "run")


def test_summary_accuracies_are_dots_with_interval_whiskers_on_a_stated_axis(three, one):
    fig = draw(*three, "rq4_summary")
    ax = accuracy_axis(fig)
    assert not [c for c in ax.containers if isinstance(c, BarContainer)]  # no bars
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(dots) == len(three[1].metrics)
    assert any(c.has_xerr for c in ax.containers)
    lo = ax.get_xlim()[0]
    assert lo > 50 and f"axis from {lo:.1f}%" in ax.get_xlabel()
    assert "95% t-interval" in ax.get_xlabel()
    assert any(bands(ax) for ax in fig.axes[1:3])
    figures.plt.close(fig)
    fig = draw(*one, "rq4_summary")
    assert not accuracy_axis(fig).containers  # one seed: no whiskers
    figures.plt.close(fig)


def test_summary_verdict_rows_do_not_overlap(one):
    cfg, ev = one
    long = "it needs " + "the validation loss to spike in the window after warmup, " * 8
    verdicts = [(f"RQ{k}.{k}", "not testable here", long) for k in range(1, 15)]
    parts = study_figures.question_parts(cfg)["rq4_summary"]
    colours = study_figures.run_colours(cfg, list(cfg["runs"]))
    fig = study_figures.draw("rq4_summary", ev, parts, colours, verdicts)
    fig.canvas.draw()
    (panel,) = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("findings")]
    boxes = [t.get_window_extent() for t in panel.texts]
    assert len(boxes) == 3 * len(verdicts)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    width = fig.get_window_extent().x1
    assert all(b.x1 <= width for b in boxes)  # no reason runs off the page
    figures.plt.close(fig)


def test_rq1_training_compares_its_accuracies_on_an_axis_near_them(three):
    fig = draw(*three, "rq1_training")
    ax = accuracy_axis(fig)
    assert ax.get_title() == "validation accuracy at the compared epochs"
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "sgdr (epoch 30)",
        "step (epoch 30)",
        "cosine (epoch 30)",
    ]
    assert ax.get_xlim()[0] > 50 and "axis from" in ax.get_xlabel()
    assert any(c.has_xerr for c in ax.containers)
    figures.plt.close(fig)


def test_losses_spanning_decades_get_a_log_axis(one):
    fig = draw(*one, "rq1_training")
    loss, acc, lr = fig.axes[:3]
    assert loss.get_yscale() == "log" and acc.get_yscale() == "linear"
    assert "%" in acc.get_ylabel() and "epoch" in loss.get_xlabel()
    figures.plt.close(fig)
    assert plots.spans_decades([1.0, 0.001]) and not plots.spans_decades([1.0, 0.5])


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_a_setup_has_the_same_colour_in_every_figure(cfg, seeds):
    ev = evidence(cfg, seeds=seeds, methods=METHODS[:2])
    want = mcolors.to_rgba(study_figures.run_colours(cfg, ["large_batch"])["large_batch"])
    seen, shaded = [], []
    for name in ("rq2_warmup", "rq2_warmup_cca"):
        fig = draw(cfg, ev, name)
        for ax in fig.axes:
            seen += [
                mcolors.to_rgba(line.get_color())
                for line in ax.lines
                if line.get_label().startswith("large_batch (")
            ]
            shaded += [tuple(c.get_facecolor()[0][:3]) for c in bands(ax)]
        figures.plt.close(fig)
    assert len(seen) >= 3 and all(c == want for c in seen)
    if len(seeds) > 1:
        assert want[:3] in shaded


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_line_and_curve_draws_error_and_loss_with_both_barriers(one):
    """support.curve: loss end + (peak − end) sin(πt), accuracy 1 − loss/3, so the loss
    barrier of the line is 1.49 nats and its error barrier 1.49 / 3 = 49.7 points."""
    fig = draw(*one, "rq1_line_and_curve")
    error, loss = fig.axes
    assert "error (%)" in error.get_ylabel() and "loss" in loss.get_ylabel()
    assert any("train error, straight line (barrier 49.7 points)" in s for s in legend_texts(error))
    assert any("val loss, straight line (barrier 1.49 nats)" in s for s in legend_texts(loss))
    line = next(x for x in error.lines if x.get_label().startswith("train error, straight"))
    np.testing.assert_allclose(line.get_ydata(), 100 * one[1].curve.paths["line"]["train_loss"] / 3)
    figures.plt.close(fig)


def test_line_and_curve_dots_the_endpoints_interpolation(one):
    """The barrier's baseline: per split, the chord between the path's endpoints."""
    fig = draw(*one, "rq1_line_and_curve")
    for ax in fig.axes:
        dotted = [x for x in ax.lines if x.get_linestyle() == ":" and len(x.get_xdata())]
        assert len(dotted) == 2  # train and val
        for x in dotted:
            y = np.asarray(x.get_ydata())
            np.testing.assert_allclose(np.diff(y, 2), 0, atol=1e-9)  # a straight line in t
        assert any(s.startswith("interpolation of the endpoints") for s in legend_texts(ax))
    figures.plt.close(fig)


def test_barrier_legend_shows_the_interval_over_seeds(three):
    fig = draw(*three, "rq1_line_and_curve")
    error, loss = fig.axes
    # loss barriers 1.49, 1.44, 1.54: s = 0.05, half-width 4.303 * 0.05 / sqrt(3) = 0.124;
    # error barriers a third of them, in points: 49.7 ± 4.14
    want = "train loss, straight line (barrier 1.49 [1.37, 1.61] nats)"
    assert any(want in s for s in legend_texts(loss))
    want = "train error, straight line (barrier 49.7 [45.5, 53.8] points)"
    assert any(want in s for s in legend_texts(error))
    figures.plt.close(fig)


def test_small_barriers_keep_three_significant_digits():
    lc = path_plots.line_and_curve({0: curve(line_peak=0.0223, curve_peak=0.0101, end=0.01)})
    error, loss = lc.axes
    assert any("straight line (barrier 0.0123 nats)" in s for s in legend_texts(loss))
    assert any("straight line (barrier 0.410 points)" in s for s in legend_texts(error))
    figures.plt.close(lc)


def test_summary_gives_the_error_barrier_of_line_and_curve(one):
    fig = draw(*one, "rq4_summary")
    labels = legend_texts(fig.axes[1])
    assert any("train error, straight line (barrier 49.7 points)" in s for s in labels)
    assert any("train error, curve (barrier 0.0667 points)" in s for s in labels)
    assert fig.axes[1].get_ylabel() == "error (%)"
    figures.plt.close(fig)


def test_loss_plane_names_its_seed(three):
    fig = draw(*three, "rq1_loss_plane")
    assert "seed 0" in fig._suptitle.get_text()
    figures.plt.close(fig)


def test_layer_similarity_draws_every_pairs_mean_per_measure():
    rows = []
    for seed, shift in enumerate([0.0, -0.01, 0.01]):
        for m in ("svcca", "cka"):
            for i, layer in enumerate(LAYERS):
                for method, value in ((m, 0.5 + 0.05 * i + shift), (f"{m}_shuffled", 0.1)):
                    rows.append(("a", 1, "b", 2, layer, i, method, value, seed))
    cols = ["run_a", "epoch_a", "run_b", "epoch_b", "layer", "layer_index", "method", "value"]
    table = pd.DataFrame(rows, columns=[*cols, "seed"]).sample(frac=1, random_state=0)
    fig = plots.draw_layer_similarity(table, ["svcca", "cka"], "a vs b")
    panels = plot_axes(fig)
    assert [ax.get_title() for ax in panels] == ["SVCCA", "linear CKA"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
        solid = [line for line in ax.lines if line.get_linestyle() == "-"]
        assert len(solid) == 1
        np.testing.assert_allclose(solid[0].get_ydata(), 0.5 + 0.05 * np.arange(6))
        assert len(bands(ax)) == 1
    figures.plt.close(fig)


def test_learning_curves_average_every_runs_seeds():
    from support import metrics

    frames = {"a": {0: metrics(0.9), 1: metrics(0.8)}, "b": {0: metrics(0.7)}}
    fig = plots.learning_curves(frames, {"a": "C0", "b": "C1"})
    acc = fig.axes[1]
    ends = {line.get_label(): line.get_ydata()[-1] for line in acc.lines}
    assert ends == {"a": pytest.approx(85.0), "b": pytest.approx(70.0)}
    assert len(bands(acc)) == 1  # run b has one seed: no band
    figures.plt.close(fig)


def test_save_writes_every_format(three, tmp_path):
    fig = draw(*three, "rq4_summary")
    paths = [tmp_path / "summary.png", tmp_path / "summary.pdf"]
    plots.save(fig, paths, dpi=60)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))


def test_bands_stay_within_what_a_loss_or_an_accuracy_can_be():
    from support import metrics

    frames = {k: metrics(acc) for k, acc in enumerate([0.999, 0.6, 0.999])}
    frames[1]["train_loss"] = frames[1]["train_loss"] * 40  # one seed far above the others
    fig = plots.learning_curves({"sgdr": frames}, {"sgdr": "C0"})
    loss, acc = fig.axes[:2]
    ys = [np.concatenate([p.vertices[:, 1] for p in b.get_paths()]) for b in bands(loss)]
    assert ys and min(y.min() for y in ys) >= 0
    ys = [np.concatenate([p.vertices[:, 1] for p in b.get_paths()]) for b in bands(acc)]
    assert ys and max(y.max() for y in ys) <= 100
    figures.plt.close(fig)


def test_restart_cca_draws_two_independent_seeds_in_grey(embedded_config):
    cfg = config.validate(embedded_config)
    ev = paper_like(cfg["questions"], seeds=(0, 1, 2), methods=METHODS)
    parts = study_figures.question_parts(cfg)["rq1_restart_cca"]
    assert parts["analyses"] == ["sgdr_restarts", "seed_to_seed"]
    fig = study_figures.draw("rq1_restart_cca", ev, parts, {})
    for ax in fig.axes[: len(METHODS)]:
        grey = [line for line in ax.lines if line.get_label().startswith("two seeds of sgdr")]
        assert len(grey) == 1 and mcolors.to_rgb(grey[0].get_color()) == figures.GREY
    figures.plt.close(fig)


# ------------------------------------------------------------------ one colour per run
def hue(colour) -> float:
    return colorsys.rgb_to_hsv(*mcolors.to_rgb(colour))[0]


def similarity_table(pairs) -> pd.DataFrame:
    """Two seeds of every pair (run_a, epoch_a, run_b, epoch_b), SVCCA per layer."""
    rows = [
        (*pair, layer, i, method, 0.5 + 0.05 * i if method == "svcca" else 0.1, seed)
        for pair in pairs
        for seed in (0, 1)
        for i, layer in enumerate(LAYERS)
        for method in ("svcca", "svcca_shuffled")
    ]
    cols = ["run_a", "epoch_a", "run_b", "epoch_b", "layer", "layer_index", "method", "value"]
    return pd.DataFrame(rows, columns=[*cols, "seed"])


def test_a_run_keeps_its_colour_in_every_figure(three):
    """sgdr's colour (study_figures.run_colours, the one mapping) in its training curves,
    its learning curves, its per-layer similarity, its loss plane's iterates and, in
    shades of it, its restarts and its line and curve."""
    cfg, ev = three
    colours = study_figures.run_colours(cfg, list(cfg["runs"]))
    sgdr = mcolors.to_rgb(colours["sgdr"])
    fig = draw(cfg, ev, "rq1_training")
    drawn = [line for ax in fig.axes for line in ax.lines if line.get_label() == "sgdr"]
    assert drawn and {mcolors.to_rgb(line.get_color()) for line in drawn} == {sgdr}
    figures.plt.close(fig)
    fig = plots.learning_curves({r: ev.metrics[r] for r in ("sgdr", "step")}, colours)
    drawn = [line for line in fig.axes[1].lines if line.get_label() == "sgdr"]
    assert [mcolors.to_rgb(line.get_color()) for line in drawn] == [sgdr]
    figures.plt.close(fig)
    one_pair = similarity_table([("sgdr", 14, "sgdr", 30)])
    fig = plots.draw_layer_similarity(one_pair, ["svcca"], "t", colours)
    assert mcolors.to_rgb(plot_axes(fig)[0].lines[0].get_color()) == sgdr
    figures.plt.close(fig)
    fig = draw(cfg, ev, "rq1_loss_plane")
    faces = [c.get_facecolor()[0][:3] for c in fig.axes[0].collections if c.get_label()]
    assert tuple(faces[-1]) == pytest.approx(sgdr)  # the iterates
    figures.plt.close(fig)
    for name in ("rq1_restart_cca", "rq1_line_and_curve"):
        fig = draw(cfg, ev, name)
        solid = [
            line
            for line in fig.axes[0].lines
            if line.get_label().startswith(("epoch", "train", "val")) and line.get_xdata().size
        ]
        assert len(solid) >= 2 and {round(hue(line.get_color()), 3) for line in solid} == {
            round(hue(sgdr), 3)
        }, name
        figures.plt.close(fig)


def test_similarity_figures_colour_each_pair_by_its_run():
    """Several pairs of one run: shades of its colour, each its own marker; a pair of two
    runs: the second run's colour, markers filled with the first's."""
    colours = {"a": "C0", "b": "C1"}
    table = similarity_table([("a", 1, "a", 2), ("a", 2, "a", 3), ("a", 3, "b", 3)])
    fig = plots.draw_layer_similarity(table, ["svcca"], "t", colours)
    solid = [line for line in plot_axes(fig)[0].lines if line.get_linestyle() == "-"]
    first, second, across = solid
    assert first.get_color() != second.get_color()
    assert {round(hue(x.get_color()), 3) for x in (first, second)} == {round(hue("C0"), 3)}
    assert first.get_marker() != second.get_marker()
    assert mcolors.to_rgb(across.get_color()) == mcolors.to_rgb("C1")
    assert mcolors.to_rgb(across.get_markerfacecolor()) == mcolors.to_rgb("C0")
    figures.plt.close(fig)
    assert figure_style.shades("C0", 1) == [mcolors.to_rgb("C0")]


def test_the_loss_plane_draws_u_and_v_on_one_scale_with_labels_apart(one):
    fig = draw(*one, "rq1_loss_plane")
    planes = [ax for ax in fig.axes if ax.get_xlabel().startswith("u:")]
    assert len(planes) == 2
    fig.canvas.draw()
    for ax in planes:
        assert ax.get_aspect() == 1.0
        boxes = [t.get_window_extent() for t in ax.texts]
        assert len(boxes) == 2  # e14 and e30
        assert not boxes[0].overlaps(boxes[1])
    figures.plt.close(fig)


def test_iterate_labels_are_spread_apart():
    at = figure_style.spread([0.5, 0.5, 0.51, 0.0, 0.99], gap=0.05)
    assert np.diff(np.sort(at)).min() >= 0.05 - 1e-12
    assert at.min() >= 0 and at.max() <= 1
    assert at[3] == 0.0  # a label with room keeps its place


def test_warmup_and_freeze_periods_are_shaded(cfg, one):
    periods = study_figures.run_periods(cfg, list(cfg["runs"]))
    assert periods == {
        "large_batch_warmup": [("warmup", 0, 5)],
        "large_batch_frozen": [("frozen", 0, 5)],
    }
    ev = one[1]
    ev.questions = {**ev.questions, "periods": periods}
    fig = draw(cfg, ev, "rq2_warmup")
    for ax in fig.axes:
        spans = [p for p in ax.patches if p.get_hatch()]
        assert len(spans) == 2, ax.get_ylabel()
        assert {p.get_hatch() for p in spans} == {"//", "\\\\"}
    labels = fig.legends[0].get_texts()
    texts = [t.get_text() for t in labels]
    assert "warmup: large_batch_warmup, epochs 0–5" in texts
    assert "classifier frozen: large_batch_frozen, epochs 0–5" in texts
    figures.plt.close(fig)


def test_runs_with_the_same_learning_rate_are_striped():
    x = np.arange(1.0, 6.0)
    series = {"a": (x, np.full(5, 0.1)), "b": (x, np.full(5, 0.1)), "c": (x, np.full(5, 0.05))}
    fig, ax = plots.plt.subplots()
    figure_style.striped_steps(ax, series, {"a": "C0", "b": "C1", "c": "C2"})
    solid = {line.get_label(): line for line in ax.lines if line.get_linestyle() == "-"}
    assert set(solid) == {"a", "b", "c"}  # every run drawn whole
    stripes = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert {mcolors.to_hex(line.get_color()) for line in stripes} == {
        mcolors.to_hex("C0"),
        mcolors.to_hex("C1"),
    }  # over the shared stretch only, in both colours
    offsets = [line._unscaled_dash_pattern[0] for line in stripes]
    assert offsets[0] != offsets[1]  # alternating: neither run hides the other
    figures.plt.close(fig)


def test_a_distilled_runs_training_loss_is_named_its_objective():
    from support import metrics

    frames = {"plain": {0: metrics(0.9)}, "distilled": {0: metrics(0.8)}}
    objective = {"distilled": "distillation objective (T = 4, α = 0.9)"}
    fig = plots.learning_curves(frames, {"plain": "C0", "distilled": "C1"}, objective)
    loss = fig.axes[0]
    assert "cross-entropy" not in loss.get_ylabel()
    styles = {line.get_label(): line.get_linestyle() for line in loss.lines}
    assert styles == {"plain": "-", "distilled": "--"}
    assert "dashed: distillation objective (T = 4, α = 0.9)" in loss.get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["plain", "distilled"]
    figures.plt.close(fig)
