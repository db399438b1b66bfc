"""Bad data (missing or malformed CIFAR-10, empty or oversized probe sets) and a full disk
during a write: clear errors, and never a partial file under a final name."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from closerlook import data
from closerlook.data import DataError

CIFAR = {"dataset": "cifar10", "data_dir": None}


def cifar(folder: Path) -> dict:
    return {**CIFAR, "data_dir": str(folder)}


def write_batches(folder: Path, n: int = 10, **overrides) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in [*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH]:
        batch = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [0] * n}
        batch.update(overrides)
        (folder / name).write_bytes(pickle.dumps(batch))


def test_a_missing_cifar10_folder_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as info:
        data.load(cifar(tmp_path / "nowhere"))
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and "download_cifar10" in message
    assert "cifar-10-python.tar.gz" in message


def test_a_cifar10_folder_lacking_a_batch_names_it(tmp_path):
    write_batches(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        data.load(cifar(tmp_path))


@pytest.mark.parametrize(
    "damage",
    ["truncated", "not a pickle", "wrong image size", "labels of another length", "no labels"],
)
def test_a_malformed_cifar10_batch_names_the_file(tmp_path, damage):
    write_batches(tmp_path)
    bad = tmp_path / "data_batch_2"
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:100])
    elif damage == "not a pickle":
        bad.write_text("<html>404 not found</html>")
    elif damage == "wrong image size":
        bad.write_bytes(pickle.dumps({b"data": np.zeros((10, 100), np.uint8), b"labels": [0] * 10}))
    elif damage == "labels of another length":
        bad.write_bytes(pickle.dumps({b"data": np.zeros((10, 3072), np.uint8), b"labels": [0]}))
    else:
        bad.write_bytes(pickle.dumps({b"data": np.zeros((10, 3072), np.uint8)}))
    with pytest.raises(DataError) as info:
        data.load(cifar(tmp_path))
    assert str(bad) in str(info.value)


def test_a_well_formed_cifar10_folder_loads(tmp_path):
    write_batches(tmp_path)
    ds = data.load(cifar(tmp_path))
    assert (len(ds.train), len(ds.val), ds.image_shape) == (50, 10, (3, 32, 32))


def test_empty_and_oversized_probe_sets_are_refused():
    for size, n in ((0, 100), (5, 0)):
        with pytest.raises(DataError, match="empty probe set"):
            data.probe_indices(n, size, 0)
    with pytest.raises(DataError, match="probe.size is 101 but the split has only 100"):
        data.probe_indices(100, 101, 0)
    assert len(data.probe_indices(100, 100, 0)) == 100


# ------------------------------------------------------------------------- full disk
# Each writer runs in a child process whose files may not grow past LIMIT bytes
# (RLIMIT_FSIZE): every write beyond fails with EFBIG, as on a full disk, for Python,
# torch and the HDF5 library alike.
LIMIT = 4096
WRITERS = r"""
import json, resource, signal, sys
from pathlib import Path
import numpy as np, pandas as pd, torch
import jobs
from closerlook import activations, checkpoints, compare

folder = Path(sys.argv[1])
from closerlook import models
model = models.build(jobs.SMALL, (1, 8, 8), 10)
images = torch.randn(64, 1, 8, 8)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
writers = {
    "checkpoint.pt": lambda p: checkpoints.save({"model": model.state_dict()}, p),
    "activations.h5": lambda p: activations.dump(
        model, images, np.zeros(64), np.arange(64), p, {"run": "r"}, batch_size=16
    ),
    "metrics.csv": lambda p: checkpoints.write_metrics(
        [{"epoch": e, "lr": 0.1} for e in range(400)], p
    ),
    "table.csv": lambda p: compare.write_table(pd.DataFrame({"value": np.arange(2000.0)}), p),
}
for name in sys.argv[3].split(","):
    try:
        writers[name](folder / name)
        print(name, "written", flush=True)
    except Exception as exc:
        print(name, type(exc).__name__, flush=True)
"""
NAMES = ["checkpoint.pt", "activations.h5", "metrics.csv", "table.csv"]


def write(folder: Path, names: list[str], limit: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", WRITERS, str(folder), str(limit), ",".join(names)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("names", [NAMES[:1] + NAMES[2:], NAMES[1:2]])
def test_a_full_disk_leaves_no_partial_file_under_the_final_name(tmp_path, names):
    """Every write fails with an error (or, in the HDF5 library, may bring the process
    down, like a kill); either way no final name ever holds a partial file."""
    out = write(tmp_path, names, LIMIT)
    outcomes = dict(line.split() for line in out.stdout.splitlines())
    assert "written" not in outcomes.values(), outcomes
    if "activations.h5" in names:  # refused before it starts, not a crash in HDF5
        assert out.returncode == 0 and outcomes["activations.h5"] == "DiskSpaceError", out
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    if out.returncode == 0:
        assert sorted(outcomes) == sorted(names)
        assert [p.name for p in tmp_path.iterdir()] == [], "temporary file left"
    else:
        assert out.returncode < 0, out.stderr[-2000:]  # killed by a signal, not a traceback


def test_the_same_writes_succeed_with_room(tmp_path):
    out = write(tmp_path, NAMES, 1 << 30)
    assert out.stdout.split() == [w for name in NAMES for w in (name, "written")], out.stderr
    assert all((tmp_path / name).stat().st_size > LIMIT for name in NAMES)


DUMP_JOB = r"""
import resource, signal, sys
import numpy as np, torch
import jobs
from closerlook import activations, logs, models

logs.setup()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
model = models.build(jobs.SMALL, (1, 8, 8), 10)
activations.dump(model, torch.randn(64, 1, 8, 8), np.zeros(64), np.arange(64), sys.argv[1], {})
"""


def test_a_dump_without_room_fails_in_one_line_with_status_1(tmp_path):
    """The activation job on a full disk: one line that says how much it needs and how
    much there is, exit status 1, no core dump, nothing under the final name."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = tmp_path / "activations.h5"
    result = subprocess.run(
        [sys.executable, "-c", DUMP_JOB, str(out), str(LIMIT)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    (line,) = [s for s in result.stderr.splitlines() if "job failed" in s]
    assert "DiskSpaceError" in line and str(out) in line and "can be written" in line
    assert not [p for p in tmp_path.iterdir()]
