"""The study's figures on hand-made evidence: labelled axes, layer order, log scales,
baselines dashed, colours stable per run, and files in every format."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import pytest  # noqa: E402
from test_findings import LAYERS, paper_like  # noqa: E402

from closerlook import config as study  # noqa: E402
from closerlook import figures, findings  # noqa: E402

from support import STUDY_FIGURES  # noqa: E402


@pytest.fixture
def evidence(embedded_config):
    cfg = study.validate(embedded_config)
    return cfg, paper_like(cfg["questions"])


def draw(cfg, ev, name):
    parts = study.question_parts(cfg)[name]
    runs = list(cfg["runs"])
    verdicts = [
        (f.claim_id, f.verdict, f.reason) for f in findings.all_findings(ev, findings.Settings())
    ]
    return figures.study_figure(name, ev, parts, study.run_colours(cfg, runs), verdicts)


NAMES = STUDY_FIGURES


@pytest.mark.parametrize("name", NAMES)
def test_every_axis_is_labelled(evidence, name):
    fig = draw(*evidence, name)
    axes = [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        if ax.get_xlabel() == "" and not ax.lines and not ax.patches:
            continue  # colorbars and text panels
        assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
    figures.plt.close(fig)


def test_layer_axes_are_in_network_order_with_dashed_baselines(evidence):
    fig = draw(*evidence, "rq3_distillation_cca")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
    styles = [line.get_linestyle() for line in ax.lines]
    assert styles.count("-") == 2 and styles.count("--") >= 2
    assert ax.get_legend() is not None
    figures.plt.close(fig)


def test_losses_spanning_decades_get_a_log_axis(evidence):
    fig = draw(*evidence, "rq1_training")
    loss, acc, lr = fig.axes[:3]
    assert loss.get_yscale() == "log" and acc.get_yscale() == "linear"
    assert "%" in acc.get_ylabel() and "epoch" in loss.get_xlabel()
    figures.plt.close(fig)
    assert figures.spans_decades([1.0, 0.001]) and not figures.spans_decades([1.0, 0.5])


def test_a_setup_has_the_same_colour_in_every_figure(evidence):
    cfg, ev = evidence
    want = mcolors.to_rgba(study.run_colours(cfg, ["large_batch"])["large_batch"])
    seen = []
    for name in ("rq2_warmup", "rq2_warmup_cca"):
        fig = draw(cfg, ev, name)
        for ax in fig.axes:
            seen += [
                mcolors.to_rgba(line.get_color())
                for line in ax.lines
                if line.get_label().startswith("large_batch (")
            ]
        figures.plt.close(fig)
    assert len(seen) >= 2 and all(c == want for c in seen)


def test_barrier_heights_appear_in_the_legend(evidence):
    fig = draw(*evidence, "rq1_line_and_curve")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("straight line (barrier 1.49)" in s for s in labels)
    figures.plt.close(fig)


def test_save_writes_every_format(evidence, tmp_path):
    fig = draw(*evidence, "rq4_summary")
    paths = [tmp_path / "summary.png", tmp_path / "summary.pdf"]
    figures.save(fig, paths, dpi=60)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))
