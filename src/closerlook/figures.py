"""The study's figures, drawn from the tidy artifacts (metrics.csv, similarity tables).

Each function takes data frames and returns a matplotlib Figure; `save` writes it in every
configured format. Colours are fixed per run name so a setup looks the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from closerlook.provenance import atomic_path  # noqa: E402

PALETTE = plt.get_cmap("tab10").colors


def colour(name: str, names: Sequence[str]) -> tuple[float, float, float]:
    """A run's colour: its position among all configured runs, so it is stable across figures."""
    return PALETTE[list(names).index(name) % len(PALETTE)] if name in names else (0.3, 0.3, 0.3)


def learning_curves(metrics: Mapping[str, pd.DataFrame], run_order: Sequence[str]) -> Figure:
    """Training loss, validation accuracy and learning rate per epoch, one line per run."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    for name, df in metrics.items():
        c = colour(name, run_order)
        trained = df[df["epoch"] > 0]
        axes[0].plot(trained["epoch"], trained["train_loss"], color=c, label=name)
        axes[1].plot(df["epoch"], 100 * df["val_acc"], color=c, label=name)
        axes[2].plot(trained["epoch"], trained["lr"], color=c, label=name, drawstyle="steps-pre")
        bad = df[df["diverged"].astype(bool)]
        if len(bad):
            axes[1].axvline(bad["epoch"].iloc[0], color=c, ls=":", label=f"{name} diverged")
    axes[0].set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    axes[2].set(xlabel="epoch", ylabel="learning rate")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right", fontsize="small")
    return fig


def layer_similarity(table: pd.DataFrame, methods: Sequence[str], title: str) -> Figure:
    """Per-layer similarity (layers in network order on x), one line per compared pair and
    one panel per method."""
    fig, axes = plt.subplots(
        1, len(methods), figsize=(6.5 * len(methods), 3.8), constrained_layout=True, squeeze=False
    )
    cmap = plt.get_cmap("viridis")
    for ax, method in zip(axes[0], methods, strict=True):
        rows = table[table["method"] == method]
        layers = rows.sort_values("layer_index").drop_duplicates("layer")["layer"].tolist()
        pairs = rows.groupby(["run_a", "epoch_a", "run_b", "epoch_b"], sort=True)
        for k, ((ra, ea, rb, eb), df) in enumerate(pairs):
            df = df.sort_values("layer_index")
            label = f"{ra}: epoch {ea} vs {eb}" if ra == rb else f"{ra} e{ea} vs {rb} e{eb}"
            ax.plot(
                df["layer_index"],
                df["value"],
                marker="o",
                label=label,
                color=cmap(k / max(1, pairs.ngroups - 1)),
            )
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
        ax.set(
            xlabel="layer (network order)",
            ylabel=f"{method.upper()} similarity",
            ylim=(0, 1.02),
            title=title,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower left")
    return fig


def save(fig: Figure, paths: Sequence[str | Path], dpi: int) -> None:
    """Write `fig` to every path (format from the suffix), atomically, then close it."""
    for path in paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."))
    plt.close(fig)
