"""The synthetic CIFAR-shaped archive (data.synthetic): the official python layout, read by
the same restricted reader as CIFAR-10, with the configured sizes, balanced labels and
classes a nearest-mean classifier tells apart; an archive of other sizes is refused."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from closerlook import config, data, synthetic


def settings(folder, train=100, val=40) -> dict:
    return {
        "dataset": "cifar10",
        "data_dir": str(folder),
        "synthetic": {"train": train, "val": val, "seed": 0},
    }


def test_the_archive_is_read_as_cifar10_with_its_sizes(tmp_path):
    synthetic.write_archive(tmp_path, 100, 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH, "batches.meta"])
    with open(tmp_path / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (20, 3072)
    dataset = data.load(settings(tmp_path))
    assert dataset.train.images.shape == (100, 3, 32, 32) and len(dataset.val) == 40
    assert data.split_sizes(settings(tmp_path)) == {"train": 100, "val": 40}
    assert np.bincount(dataset.train.labels.numpy()).tolist() == [10] * 10


def test_the_classes_can_be_learnt(tmp_path):
    """Nearest class mean (from the training split) classifies the validation split."""
    synthetic.write_archive(tmp_path, 200, 100)
    d = data.load(settings(tmp_path, 200, 100))
    means = torch.stack([d.train.images[d.train.labels == k].mean(0) for k in range(10)])
    distances = ((d.val.images[:, None] - means[None]) ** 2).flatten(2).sum(-1)
    accuracy = (distances.argmin(1) == d.val.labels).float().mean().item()
    assert accuracy > 0.9


def test_the_same_seed_writes_the_same_files(tmp_path):
    synthetic.write_archive(tmp_path / "a", 50, 20, seed=3)
    synthetic.write_archive(tmp_path / "b", 50, 20, seed=3)
    for name in ("data_batch_5", "test_batch"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_an_archive_of_other_sizes_is_refused(tmp_path):
    synthetic.write_archive(tmp_path, 100, 40)
    with pytest.raises(data.DataError, match="holds 100 training and 40 validation"):
        data.load(settings(tmp_path, 120, 40))


def test_the_config_key_is_checked(embedded_config):
    cfg = dict(embedded_config, data={"dataset": "cifar10", "synthetic": {"train": 5, "val": 20}})
    with pytest.raises(config.ConfigError, match="synthetic"):
        config.validate(cfg)
