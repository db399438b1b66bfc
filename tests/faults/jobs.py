"""Small jobs of each kind the fault tests run, kill, starve of disk or corrupt.

Run as a script (``python jobs.py KIND FOLDER``) it is a child process to kill: it prints
``ready`` once imports and data are loaded, runs the job, and prints ``done``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from closerlook import activations, checkpoints, curve_fit, curves, plan, train
from closerlook.data import Dataset
from closerlook.plan import RunSettings

import support
from support import reduced_config, tool  # noqa: F401

SMALL = support.SMALL
EPOCHS = (0, 2, 6)
DATA = {"dataset": "digits", "val_fraction": 0.25, "split_seed": 0}
PROBE = {
    "split": "train",
    "size": 600,
    "seed": 0,
    "batch_size": 50,
    "dtype": "float32",
    "compression": "gzip",
    "compression_level": 1,
}


SECONDS: dict[str, float] = {}  # how long each job took uninterrupted (set by the tests)


def digits() -> Dataset:
    return support.small_digits()


def run_settings(epochs: int = EPOCHS[-1]) -> dict:
    return support.run_settings(epochs=epochs)


def checkpoint(folder: Path, epoch: int) -> Path:
    return folder / "checkpoints" / f"epoch{epoch:03d}.pt"


def train_job(folder: Path, dataset: Dataset | None = None) -> checkpoints.TrainState:
    """Train the small run, saving EPOCHS, with its resume state in folder/resume."""
    return train.train_run(
        RunSettings(**run_settings()),
        SMALL,
        dataset or digits(),
        {e: checkpoint(folder, e) for e in EPOCHS},
        folder / "metrics.csv",
        folder / "resume",
        device="cpu",
        config_hash="faults",
    )


def dump_job(folder: Path, dataset: Dataset | None = None) -> Path:
    """Dump the last checkpoint's activations on the probe set to folder/activations.h5."""
    return activations.dump_checkpoint(
        checkpoint(folder, EPOCHS[-1]), folder / "activations.h5", DATA, PROBE, EPOCHS[-1], "cpu"
    )


def curve_job(folder: Path, dataset: Dataset | None = None) -> curves.Curve:
    """Fit a one-bend curve between epochs 2 and 6 to folder/curve.pt."""
    return curve_fit.fit_between(
        checkpoint(folder, EPOCHS[1]),
        checkpoint(folder, EPOCHS[2]),
        folder / "curve.pt",
        dataset or digits(),
        plan.CurveFit(epochs=4, lr=0.05, batch_size=32, kind="polychain", n_bends=3),
        provenance={"curve": "faults"},
        device="cpu",
    )


JOBS = {"train": train_job, "dump": dump_job, "curve": curve_job}

if __name__ == "__main__":
    kind, folder = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    digits()  # warm: the job's own load is then quick
    print("ready", flush=True)
    JOBS[kind](folder)
    print("done", flush=True)
