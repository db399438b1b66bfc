"""`closerlook inspect`: what it shows matches the file; every bad input is exit status 2."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from closerlook import activations as act
from closerlook import barriers, curve_file, inspection, models
from closerlook.activation_file import ActivationFile
from closerlook.cli import main
from closerlook.provenance import record, write_attrs


@pytest.fixture(scope="module")
def activation_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = models.vgg([4, "M", 8], [6], (1, 8, 8), 3)
    n = 40
    images = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    prov = record(run="sgdr", epoch=6, source_sha256="ab" * 32, probe_split="train", probe_seed=0)
    path = tmp_path_factory.mktemp("inspect") / "epoch006.h5"
    return act.dump(net, images, np.arange(n) % 3, np.arange(0, 2 * n, 2), path, prov, 16)


def other_kind(path: Path, kind: str) -> Path:
    """A file of another kind, as the similarity and curve stages write them."""
    with h5py.File(path, "w") as f:
        f.attrs["kind"] = kind
        write_attrs(f, record(run="sgdr", epochs=[14, 30], bends=1))
        f["t"] = np.linspace(0, 1, 5)
        f.create_group("line")["loss"] = np.array([0.0, 1.0, 2.0, 3.0, np.nan])
        f["curve/bends/0/conv1.weight"] = np.ones((2, 3), dtype=np.float32)
        f["names"] = np.array([b"conv1", b"fc1"])
        f["scalar"] = 7
        f["empty"] = np.zeros((0, 3))
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------- statistics
def test_statistics_of_a_known_array(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        ds = f.create_dataset("x", data=np.array([[0.0, 1.0], [2.0, 3.0], [np.inf, np.nan]]))
        s = inspection.statistics(ds)
        assert s.count == 4 and s.nonfinite == 2
        assert s.mean == pytest.approx(1.5) and s.std == pytest.approx(math.sqrt(1.25))
        assert (s.min, s.max, s.zero_fraction) == (0.0, 3.0, 0.25)
        assert inspection.statistics(f.create_dataset("s", data=np.array([b"a"]))) is None


def test_blockwise_statistics_equal_numpy(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.normal(3.0, 2.0, size=(101, 4, 5)), 0).astype(np.float32)
    monkeypatch.setattr(inspection, "BLOCK_BYTES", 7 * 4 * 5 * 4)  # 7 rows per block
    with h5py.File(tmp_path / "x.h5", "w") as f:
        s = inspection.statistics(f.create_dataset("x", data=x))
    x64 = x.astype(np.float64)
    assert s.mean == pytest.approx(x64.mean(), rel=1e-12)
    assert s.std == pytest.approx(x64.std(), rel=1e-12)
    assert s.zero_fraction == pytest.approx((x == 0).mean())


def test_dead_units_are_channels_zero_on_every_image(tmp_path):
    x = np.abs(np.random.default_rng(1).normal(size=(10, 5, 3, 3))) + 0.1
    x[:, [1, 4]] = 0
    x[3, 2, 0, 0] = 0  # one zero value does not make a unit dead
    with h5py.File(tmp_path / "x.h5", "w") as f:
        assert inspection.dead_units(f.create_dataset("x", data=x)) == (2, 5)


# ------------------------------------------------------------------------- activations
def test_inspect_json_matches_the_file(activation_file, capsys):
    code, out, err = run_cli(capsys, activation_file, "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["kind"] == "activations" and report["table"] == "layers"
    with ActivationFile(activation_file) as f:
        assert report["provenance"]["source_sha256"] == f.provenance["source_sha256"]
        assert report["provenance"]["epoch"] == 6
        assert report["probe"]["size"] == 40 and report["probe"]["split"] == "train"
        assert report["probe"]["first_indices"] == list(range(0, 16, 2))
        assert report["probe"]["label_counts"] == {"0": 14, "1": 13, "2": 13}
        assert [d["name"] for d in report["datasets"]] == f.layer_names()
        for d, info in zip(report["datasets"], f.layers(), strict=True):
            values = f.read(info.name).astype(np.float64)
            assert tuple(d["shape"]) == info.shape and d["dtype"] == info.dtype
            assert d["stored_bytes"] == info.stored_bytes
            assert d["mean"] == pytest.approx(values.mean())
            assert d["std"] == pytest.approx(values.std())
            assert d["zero_fraction"] == pytest.approx((values == 0).mean())


def test_inspect_text_shows_provenance_probe_and_layers(activation_file, capsys):
    code, out, _ = run_cli(capsys, activation_file)
    assert code == 0
    assert "closerlook activations file" in out
    assert "source_sha256" in out and "ab" * 32 in out
    assert "probe set: 40 images of the train split (seed 0)" in out
    assert "layers, in network order:" in out
    lines = out.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["name", "shape", "dtype"]
    )
    assert [line.split()[0] for line in lines[header + 1 :]] == ["conv1", "conv2", "fc1", "logits"]
    assert "(40, 4, 8, 8)" in lines[header + 1]


def test_inspect_one_layer(activation_file, capsys):
    code, out, _ = run_cli(capsys, activation_file, "conv2", "--json")
    assert code == 0
    d = json.loads(out)["dataset"]
    with ActivationFile(activation_file) as f:
        values = f.read("conv2").astype(np.float64)
    assert d["name"] == "conv2" and d["shape"] == [40, 8, 4, 4]
    assert d["min"] == pytest.approx(values.min()) and d["max"] == pytest.approx(values.max())
    assert d["units"] == 8
    assert d["dead_units"] == int((values.max(axis=(0, 2, 3)) == 0).sum())
    code, out, _ = run_cli(capsys, activation_file, "conv2")
    assert code == 0 and "layer conv2" in out and "dead units" in out


# ------------------------------------------------------------------------- other kinds
@pytest.mark.parametrize("kind", ["similarity", "curve"])
def test_inspect_other_kinds_generically(tmp_path, capsys, kind):
    path = other_kind(tmp_path / f"{kind}.h5", kind)
    code, out, err = run_cli(capsys, path, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["kind"] == kind and report["table"] == "datasets"
    assert report["provenance"]["epochs"] == "[14, 30]"
    rows = {d["name"]: d for d in report["datasets"]}
    assert set(rows) == {"t", "line/loss", "curve/bends/0/conv1.weight", "names", "scalar", "empty"}
    assert rows["line/loss"]["mean"] == pytest.approx(1.5) and rows["line/loss"]["nonfinite"] == 1
    assert rows["scalar"]["mean"] == 7 and "mean" not in rows["names"]
    assert rows["empty"]["count"] == 0 and rows["empty"]["mean"] is None
    code, out, _ = run_cli(capsys, path)
    assert code == 0 and f"closerlook {kind} file" in out and "line/loss" in out
    code, out, _ = run_cli(capsys, path, "line/loss")
    assert code == 0 and "dataset line/loss" in out and "1 not finite" in out


# ------------------------------------------------------------------------- bad input
def assert_bad(capsys, path, *extra: str, problem: str) -> None:
    code, out, err = run_cli(capsys, path, *extra)
    assert code == 2, (out, err)
    assert out == ""
    assert err.count("\n") == 1 and str(path) in err and problem in err, err
    assert "Traceback" not in err


def test_missing_folder_and_text_files(tmp_path, capsys):
    assert_bad(capsys, tmp_path / "nope.h5", problem="no such file")
    assert_bad(capsys, tmp_path, problem="is a directory")
    text = tmp_path / "notes.h5"
    text.write_text("epoch,loss\n1,2.3\n")
    assert_bad(capsys, text, problem="not an HDF5 file")
    empty = tmp_path / "empty.h5"
    empty.touch()
    assert_bad(capsys, empty, "--json", problem="not an HDF5 file")


def test_foreign_hdf5_files(tmp_path, capsys):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    assert_bad(capsys, foreign, problem="closerlook did not write")
    unversioned = tmp_path / "unversioned.h5"
    with h5py.File(unversioned, "w") as f:
        f.attrs["kind"] = "activations"
    assert_bad(capsys, unversioned, problem="closerlook did not write")


def test_malformed_activation_file_and_unknown_layer(tmp_path, activation_file, capsys):
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.attrs["kind"] = "activations"
        write_attrs(f, record(run="x"))
    assert_bad(capsys, broken, problem="lacks /layers")
    assert_bad(capsys, activation_file, "conv9", problem="no layer 'conv9'")


def test_truncated_file(tmp_path, activation_file, capsys):
    data = activation_file.read_bytes()
    for keep in (len(data) // 2, 4096, 600):
        cut = tmp_path / f"cut{keep}.h5"
        cut.write_bytes(data[:keep])
        assert_bad(capsys, cut, problem="HDF5 file")


def test_corrupt_files_never_give_a_traceback(tmp_path, activation_file, capsys):
    """Overwrite bytes all over a valid file: inspect either works or says why, in one line."""
    data = activation_file.read_bytes()
    rng = np.random.default_rng(0)
    header = tmp_path / "header.h5"
    header.write_bytes(data[:8] + bytes(64) + data[72:])  # superblock gone
    assert_bad(capsys, header, problem="HDF5 file")
    for offset in np.linspace(0, len(data) - 64, 24).astype(int):
        bad = tmp_path / f"bad{offset}.h5"
        noise = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        bad.write_bytes(data[:offset] + noise + data[offset + 64 :])
        for extra in ((), ("--json",), ("conv1",)):
            code, _, err = run_cli(capsys, bad, *extra)
            assert code in (0, 2)
            if code == 2:
                assert err.count("\n") == 1 and str(bad) in err


def test_command_line_exit_status_and_one_line(tmp_path, activation_file):
    """The installed entry point: real exit status, nothing but one line on stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(act.__file__).parents[1]), env.get("PYTHONPATH")])
    )
    text = tmp_path / "a.h5"
    text.write_text("not hdf5")
    cli = [sys.executable, "-m", "closerlook.cli", "inspect"]
    done = subprocess.run([*cli, str(text)], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"closerlook: {text}: not an HDF5 file\n"
    done = subprocess.run(
        [*cli, str(activation_file), "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and json.loads(done.stdout)["kind"] == "activations"


def test_reading_does_not_load_torch():
    """Inspecting and reading files stays quick: torch loads only to capture activations."""
    code = "import sys, closerlook.cli, closerlook.inspection; print('torch' in sys.modules)"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(act.__file__).parents[1])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stderr


# ------------------------------------------------------------------------- headline numbers
def curve_like(path: Path, stored: bool) -> Path:
    """A curve file's line and curve over t, with its barriers stored or (older files)
    left to compute."""
    t = np.linspace(0, 1, 5)
    paths = {
        "line": {"train_loss": [0.1, 0.6, 1.1, 0.6, 0.1], "val_acc": [0.9, 0.7, 0.5, 0.7, 0.9]},
        "curve": {"train_loss": [0.1, 0.1, 0.1, 0.1, 0.1], "val_acc": [0.9, 0.9, 0.9, 0.9, 0.9]},
    }
    with h5py.File(path, "w") as f:
        f.attrs["kind"] = "curve"
        write_attrs(f, record(curve="c", run_a="sgdr", epoch_a=14, run_b="sgdr", epoch_b=30))
        f["t"] = t
        for name, p in paths.items():
            g = f.create_group(name)
            g["train_loss"], g["val_loss"] = p["train_loss"], p["train_loss"]
            g["train_acc"], g["val_acc"] = p["val_acc"], p["val_acc"]
            b = barriers.path_barriers(t, {k: g[k][()] for k in curve_file.METRICS})
            if stored:
                g.attrs.update({curve_file.barrier_attr(k): v for k, v in b.items()})
    return path


@pytest.mark.parametrize("stored", [True, False])
def test_a_curve_file_shows_its_barriers(tmp_path, capsys, stored):
    path = curve_like(tmp_path / "c.h5", stored)
    code, out, _ = run_cli(capsys, path, "--json")
    assert code == 0
    b = json.loads(out)["barriers"]
    assert b["line"]["error_val"] == pytest.approx(0.4) and b["line"]["loss_val"] == 1.0
    assert b["curve"] == {"error_train": 0.0, "error_val": 0.0, "loss_train": 0.0, "loss_val": 0.0}
    code, out, _ = run_cli(capsys, path)
    lines = out.splitlines()
    at = lines.index("barriers (the path's maximum above the endpoints' interpolation):")
    assert lines[at + 1].split() == ["path", "error", "train", "error", "val", "loss", "train",
                                     "loss", "val"]  # fmt: skip
    assert lines[at + 2].split() == ["line", "40.00", "pt", "40.00", "pt", "1.0000", "1.0000"]
    assert lines[at + 3].split()[0] == "curve"


@pytest.fixture(scope="module")
def similarity_file(tmp_path_factory) -> Path:
    """A pair's similarity file as compare.write_coefficients writes it."""
    from closerlook import compare

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("similarity")
    files = []
    for name, shift in (("a", 0.0), ("b", 0.2)):
        path = folder / f"{name}.h5"
        with h5py.File(path, "w") as f:
            f.attrs.update(kind="activations", run="sgdr", epoch=2, diverged=False)
            f["probe/indices"], f["probe/labels"] = np.arange(50), np.zeros(50, dtype=np.int64)
            g = f.create_group("layers")
            g.attrs["layer_order"] = json.dumps(["conv1", "fc1"])
            g["conv1"] = (rng.standard_normal((50, 3, 2, 2)) + shift).astype(np.float32)
            g["fc1"] = (rng.standard_normal((50, 4)) + shift).astype(np.float32)
        files.append(path)
    pair = compare.compare_pair(*files, "x", ["svcca", "cka"], device="cpu")
    compare.write_coefficients(pair, folder / "pair.h5")
    compare.write_table(pair.table, folder / "pair.csv")
    return folder / "pair.h5"


def test_a_similarity_file_shows_its_values_per_layer_and_measure(similarity_file, capsys):
    code, out, _ = run_cli(capsys, similarity_file, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["table"] == "values" and report["datasets"] == []  # no empty coefficients
    values = report["values"]
    assert values["measures"] == ["svcca", "cka"]
    assert [r["layer"] for r in values["layers"]] == ["conv1", "fc1"]
    table = pd.read_csv(similarity_file.with_suffix(".csv")).set_index(["layer", "method"])
    for row in values["layers"]:
        for m in ("svcca", "cka"):
            assert row["values"][m] == pytest.approx(table.loc[(row["layer"], m), "value"])
            shuffled = table.loc[(row["layer"], m + "_shuffled"), "value"]
            assert row["baselines"][m] == pytest.approx(shuffled)
    code, out, _ = run_cli(capsys, similarity_file)
    assert code == 0 and "values per layer (shuffled baseline in brackets)" in out
    fc1 = next(line for line in out.splitlines() if line.split()[:1] == ["fc1"])
    assert f"{table.loc[('fc1', 'cka'), 'value']:.4f}" in fc1
    assert "coefficients" not in out  # no listing of /layers' datasets
    code, out, _ = run_cli(capsys, similarity_file, "fc1")
    assert code == 0 and "layer fc1" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert set(rows) == {"svcca", "cka", "svcca_shuffled", "cka_shuffled"}
    assert float(rows["cka"][0]) == pytest.approx(table.loc[("fc1", "cka"), "value"], abs=1e-4)


def test_a_wrong_layer_name_is_named_with_the_layers_not_called_corrupt(
    similarity_file, activation_file, tmp_path, capsys
):
    layers = "layers: conv1, fc1"
    assert_bad(capsys, similarity_file, "conv9", problem=f"no layer 'conv9'; {layers}")
    code, _, err = run_cli(capsys, activation_file, "conv9")
    assert code == 2 and "corrupt" not in err
    assert f"{activation_file}: no layer 'conv9'; layers: conv1, conv2, fc1, logits" in err
    curve = curve_like(tmp_path / "c.h5", True)
    assert_bad(capsys, curve, "nope", problem="no dataset 'nope'; datasets: curve/train_acc")
    assert "corrupt" not in capsys.readouterr().err


def test_a_metrics_table_is_summarised(tmp_path, capsys):
    rows = [
        "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds,diverged",
        "0,0.1,nan,nan,2.3,0.1,0.0,False",
        "1,0.1,1.0,0.7,0.5,0.85,1.5,False",
        "2,0.05,0.4,0.9,0.4,0.9,1.5,False",
        "3,0.01,0.3,0.95,0.45,0.88,1.0,False",
    ]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = run_cli(capsys, path, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["kind"] == "metrics" and report["format"] == "csv" and report["rows"] == 4
    s = report["summary"]
    assert (s["epochs"], s["best_epoch"], s["best_val_acc"], s["diverged"]) == (3, 2, 0.9, False)
    assert s["last"]["val_acc"] == 0.88 and s["seconds"] == 4.0
    loss = next(c for c in report["columns"] if c["name"] == "train_loss")
    assert (loss["count"], loss["min"], loss["max"]) == (3, 0.3, 1.0)
    code, out, _ = run_cli(capsys, path)
    assert code == 0 and out.startswith(f"{path}: closerlook metrics table")
    assert "epochs: 3; last: val_acc 0.88" in out and "best val_acc 0.9 at epoch 2" in out


def test_a_similarity_table_is_summarised_per_layer_and_measure(similarity_file, capsys):
    one = pd.read_csv(similarity_file.with_suffix(".csv"))
    other = one.assign(seed=1, seed_b=1, value=one["value"] / 2)
    path = similarity_file.parent / "analysis.csv"
    pd.concat([one, other]).to_csv(path, index=False)
    code, out, _ = run_cli(capsys, path, "--json")
    assert code == 0
    s = json.loads(out)["summary"]
    assert json.loads(out)["kind"] == "similarity" and (s["pairs"], s["seeds"]) == (2, [0, 1])
    mean = one.set_index(["layer", "method"])["value"] * 0.75
    conv1 = s["layers"][0]
    assert conv1["layer"] == "conv1"
    assert conv1["values"]["svcca"] == pytest.approx(mean[("conv1", "svcca")])
    assert conv1["baselines"]["cka"] == pytest.approx(mean[("conv1", "cka_shuffled")])
    code, out, _ = run_cli(capsys, path)
    assert code == 0 and "2 pairs, seeds 0, 1" in out and "mean value per layer" in out


def test_bad_csv_tables_are_one_line(tmp_path, capsys):
    assert_bad(capsys, tmp_path / "nope.csv", problem="no such file")
    empty = tmp_path / "empty.csv"
    empty.touch()
    assert_bad(capsys, empty, problem="not a CSV table")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('a,b\n1,2\n"3,4\n')
    assert_bad(capsys, ragged, problem="not a CSV table")
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,x\n")
    assert_bad(capsys, table, "conv1", problem="a CSV table has no layers")
    code, out, _ = run_cli(capsys, table)
    assert code == 0 and "closerlook CSV table" in out and "2 rows" not in out
