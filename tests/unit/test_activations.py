"""Activation dumps: round trip, storage options, row reads, provenance, atomic writes."""

from __future__ import annotations

import copy
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from closerlook import activation_file, checkpoints, config, data, models
from closerlook import activations as act


def small_net(seed: int = 0) -> models.LayeredNet:
    torch.manual_seed(seed)
    net = models.vgg([4, "M", 8], [6], (1, 8, 8), 3)
    for m in net.modules():  # non-trivial BatchNorm statistics, so eval mode matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net


def reference_outputs(net: models.LayeredNet, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Every registered layer's output, by running the stages one after another by hand."""
    net.eval()
    out: dict[str, np.ndarray] = {}
    x = images
    with torch.no_grad():
        for name, stage in net.stages.items():
            x = stage(x)
            if name in net.layer_names():
                out[name] = x.clone().numpy()
    return out


@pytest.fixture
def probe():
    g = torch.Generator().manual_seed(1)
    n = 37  # not a multiple of the batch size
    images = torch.randn(n, 1, 8, 8, generator=g)
    labels = np.arange(n) % 3
    indices = np.sort(np.random.default_rng(0).choice(500, n, replace=False))
    return images, labels, indices


def write(tmp_path: Path, probe, storage: act.Storage | None = None, name: str = "a.h5"):
    images, labels, indices = probe
    net = small_net()
    path = act.dump(
        net,
        images,
        labels,
        indices,
        tmp_path / name,
        {"run": "r", "epoch": 3},
        batch_size=8,
        storage=storage,
    )
    return net, path


def test_round_trip_keeps_values_and_layer_order(tmp_path, probe):
    net, path = write(tmp_path, probe)
    assert net.training  # capture restores the mode it found
    expected = reference_outputs(net, probe[0])
    with activation_file.open_activations(path) as f:
        assert f.layer_names() == net.layer_names() == ["conv1", "conv2", "fc1", "logits"]
        with h5py.File(path) as raw:
            assert list(raw["layers"]) == net.layer_names()  # stored in network order too
        infos = f.layers()
        assert [i.name for i in infos] == net.layer_names()
        assert infos[0].shape == (37, 4, 8, 8) and infos[1].shape == (37, 8, 4, 4)
        assert infos[2].shape == (37, 6) and infos[3].shape == (37, 3)
        assert all(i.dtype == "float32" and i.stored_bytes > 0 for i in infos)
        for name in net.layer_names():
            np.testing.assert_allclose(f.read(name), expected[name], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(f.probe.indices, probe[2])
        np.testing.assert_array_equal(f.probe.labels, probe[1])
        assert len(f.probe) == 37
        prov = f.provenance
        assert prov["kind"] == "activations" and prov["run"] == "r" and prov["epoch"] == 3
        assert prov["probe_size"] == 37 and prov["dtype"] == "float32"


def test_float16_storage_is_the_rounded_float32(tmp_path, probe):
    net, path = write(tmp_path, probe, act.Storage("float16"))
    expected = reference_outputs(net, probe[0])
    with activation_file.ActivationFile(path) as f:
        assert {i.dtype for i in f.layers()} == {"float16"}
        for name in f.layer_names():
            got = f.read(name)
            assert got.dtype == np.float16
            np.testing.assert_allclose(got, expected[name].astype(np.float16), rtol=1e-3)


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compression_is_lossless_and_recorded(tmp_path, probe, compression):
    _, plain = write(tmp_path, probe, act.Storage(compression="none"), "plain.h5")
    _, packed = write(tmp_path, probe, act.Storage(compression=compression), "packed.h5")
    with activation_file.ActivationFile(plain) as a, activation_file.ActivationFile(packed) as b:
        assert b.provenance["compression"] == compression
        for name in a.layer_names():
            np.testing.assert_array_equal(a.read(name), b.read(name))
        # ReLU maps are about half zeros: the filter must shrink them
        assert b.layers()[0].stored_bytes < a.layers()[0].stored_bytes
    with h5py.File(packed) as raw:
        assert raw["layers/conv1"].compression == compression


def test_row_subsets(tmp_path, probe):
    _, path = write(tmp_path, probe)
    with activation_file.ActivationFile(path) as f:
        full = f.read("conv2")
        np.testing.assert_array_equal(f.read("conv2", slice(5, 20, 3)), full[5:20:3])
        rows = [30, 2, 2, -1, 17]  # unsorted, repeated, negative: returned as asked
        np.testing.assert_array_equal(f.read("conv2", rows), full[rows])
        mask = np.arange(37) % 4 == 0
        np.testing.assert_array_equal(f.read("fc1", mask), f.read("fc1")[mask])
        with pytest.raises(activation_file.ActivationFileError, match="out of range"):
            f.read("conv2", [37])
        with pytest.raises(activation_file.ActivationFileError, match="no layer 'conv9'"):
            f.read("conv9")


def test_chunks_hold_whole_rows_within_a_batch():
    assert act.chunk_rows((64, 32, 32), 4, 256) == 4  # 256 KiB rows: 4 per MiB chunk
    assert act.chunk_rows((512,), 4, 256) == 256  # small rows: capped at one batch
    assert act.chunk_rows((512, 64, 64), 4, 256) == 1  # rows bigger than a chunk
    assert act.chunk_rows((10,), 4, 100) == 100
    assert act.chunk_rows((64, 32, 32), 4, 100) == 4  # divides the batch: whole-chunk writes
    assert act.chunk_rows((40_000,), 4, 100) == 5  # 6 fit in a MiB, 5 divides 100
    assert act.chunk_rows((40_000,), 4, 97) == 6  # a prime batch: no useful divisor


def test_capture_streams_one_batch_at_a_time(probe):
    """The sink sees each layer once per batch with batch-sized outputs and the right row."""
    net = small_net()
    seen: list[tuple[str, int, int]] = []
    act.capture(net, probe[0], 16, lambda name, row, out: seen.append((name, row, len(out))))
    names = net.layer_names()
    expected = [(n, row, min(16, 37 - row)) for row in (0, 16, 32) for n in names]
    assert seen == expected
    batches = list(act.capture_batches(net, probe[0], 16))
    assert [len(b["conv1"]) for b in batches] == [16, 16, 5]
    assert list(batches[0]) == names


def test_dump_checkpoint_records_source_and_probe(tmp_path):
    net = small_net(3)
    ckpt = tmp_path / "epoch005.pt"
    spec = {"arch": "vgg", "conv": [4, "M", 8], "fc": [6], "batch_norm": True}
    checkpoints.save(
        {
            "model": net.state_dict(),
            "model_spec": spec,
            "in_shape": [1, 8, 8],
            "num_classes": 3,
            "diverged": False,
            "provenance": {"run": "sgdr", "config_hash": "abc123"},
        },
        ckpt,
    )
    data_config = {"dataset": "digits", "val_fraction": 0.25, "split_seed": 0}
    probe = {
        "split": "val",
        "size": 40,
        "seed": 7,
        "batch_size": 16,
        "dtype": "float32",
        "compression": "gzip",
        "compression_level": 1,
    }
    out = act.dump_checkpoint(ckpt, tmp_path / "a.h5", data_config, probe, epoch=5, device="cpu")
    dataset = data.load_digits(0.25, 0)
    rows = data.probe_indices(len(dataset.val), 40, 7)
    with activation_file.ActivationFile(out) as f:
        prov = f.provenance
        assert prov["source_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
        assert prov["source_checkpoint"] == str(ckpt)
        assert (prov["run"], prov["epoch"], prov["config_hash"]) == ("sgdr", 5, "abc123")
        assert prov["probe_split"] == "val" and prov["probe_seed"] == 7
        assert {"closerlook_version", "created", "torch_version"} <= set(prov)
        np.testing.assert_array_equal(f.probe.indices, rows)
        np.testing.assert_array_equal(f.probe.labels, dataset.val.labels[rows].numpy())
        expected = reference_outputs(net, dataset.val.images[torch.from_numpy(rows)])
        np.testing.assert_allclose(f.read("logits"), expected["logits"], rtol=1e-5, atol=1e-6)


def test_failed_write_leaves_nothing(tmp_path, probe):
    class Failing:
        def __len__(self):
            return 37

        def __getitem__(self, rows):
            if rows.start >= 16:
                raise RuntimeError("disk on fire")
            return probe[0][rows]

    with pytest.raises(RuntimeError, match="disk on fire"):
        act.dump(small_net(), Failing(), probe[1], probe[2], tmp_path / "a.h5", {}, 8)
    assert list(tmp_path.iterdir()) == []


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, numpy as np, torch
    from closerlook import activations, models

    class Stalling:  # the second batch never comes: the file is half written
        def __len__(self):
            return 64
        def __getitem__(self, rows):
            if rows.start > 0:
                print("HALFWAY", flush=True)
                time.sleep(600)
            return torch.randn(rows.stop - rows.start, 1, 8, 8)

    net = models.vgg([4, "M", 8], [6], (1, 8, 8), 3)
    activations.dump(net, Stalling(), np.zeros(64), np.arange(64), sys.argv[1], {}, 16)
    """
)


def test_killed_write_leaves_no_final_file(tmp_path):
    final = tmp_path / "epoch010.h5"
    old = b"previous complete version"
    final.write_bytes(old)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(act.__file__).parents[1]), env.get("PYTHONPATH")])
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(final)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout.readline().strip() == b"HALFWAY"
        partial = [p for p in tmp_path.iterdir() if p != final]
        assert len(partial) == 1 and partial[0].name.startswith(".epoch010.h5.tmp")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert final.read_bytes() == old  # the final name never held a partial file


def test_unreadable_files_raise_activation_file_error(tmp_path, probe):
    with pytest.raises(activation_file.ActivationFileError, match="no such file"):
        activation_file.ActivationFile(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(activation_file.ActivationFileError, match="not a readable HDF5 file"):
        activation_file.ActivationFile(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["kind"] = "curve"
    with pytest.raises(activation_file.ActivationFileError, match="kind is 'curve'"):
        activation_file.ActivationFile(other)


def test_probe_storage_config_defaults_and_bad_values(embedded_config):
    cfg = config.validate(embedded_config)
    assert cfg["probe"]["dtype"] == "float32"
    assert cfg["probe"]["compression"] == "none"
    assert cfg["probe"]["compression_level"] == 1
    assert act.Storage.from_config(cfg["probe"]) == act.Storage("float32", "none", 1)
    for key, value in [("compression", "zstd"), ("compression_level", 0), ("dtype", "int8")]:
        bad = copy.deepcopy(embedded_config)
        bad["probe"][key] = value
        with pytest.raises(config.ConfigError) as info:
            config.validate(bad)
        assert f"probe.{key}" in str(info.value)


def test_a_probe_set_smaller_than_one_batch_dumps(tmp_path):
    import torch

    from closerlook import models

    net = models.vgg([4, "M"], [], (1, 8, 8), 10)
    path = act.dump(
        net, torch.zeros(3, 1, 8, 8), np.zeros(3), np.arange(3), tmp_path / "a.h5", {}, 256
    )
    with activation_file.ActivationFile(path) as f:
        assert f.read("logits").shape == (3, 10)


def test_a_layer_beyond_float16s_range_is_kept_in_float32(tmp_path, probe, caplog):
    """Rows 16 on are 1e5 times larger: from their batch on, float16 would store infinity.
    Every layer they overflow is widened to float32 with the rows written before it (their
    float16 values, widened exactly) and the rest exact; nothing in the file is infinite."""
    images, labels, indices = probe
    images = images.clone()
    images[16:] *= 1e5
    net = small_net()
    with caplog.at_level("WARNING", logger="closerlook"):
        path = act.dump(
            net, images, labels, indices, tmp_path / "wide.h5", {}, 8, act.Storage("float16")
        )
    expected = reference_outputs(net, images)
    with activation_file.ActivationFile(path) as f:
        widened = [info.name for info in f.layers() if info.dtype == "float32"]
        assert widened and "beyond float16's range" in caplog.text
        for name in f.layer_names():
            stored = f.read(name)
            assert np.isfinite(stored).all()
            if name in widened:
                np.testing.assert_array_equal(stored[:16], expected[name][:16].astype(np.float16))
                np.testing.assert_allclose(stored[16:], expected[name][16:], rtol=1e-5)


def test_a_layer_with_infinite_values_is_refused_by_the_comparison(tmp_path, probe):
    from closerlook import compare

    images, labels, indices = probe
    net = small_net()
    path = act.dump(net, images * 1e38, labels, indices, tmp_path / "inf.h5", {"run": "r"}, 8)
    with pytest.raises(ValueError, match="infinite or NaN values"):
        compare.compare_files(path, path, "a", ["cka"])
