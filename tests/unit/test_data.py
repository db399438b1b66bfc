"""CIFAR-10 from the official python layout, on a tiny archive the test writes itself."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from closerlook import data


def write_batch(path, images, labels):
    """A batch in the official format: a pickled dict of bytes keys, rows of 3072 uint8
    (1024 red, 1024 green, 1024 blue, each row-major)."""
    batch = {
        b"batch_label": b"test",
        b"labels": [int(v) for v in labels],
        b"data": images.reshape(len(images), 3 * 32 * 32),
        b"filenames": [f"{i}.png".encode() for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def tiny_cifar(root, per_batch=4):
    """Five train batches and a test batch of `per_batch` images; image i of batch b is
    constant within each channel: red = 10b + i, green = 100, blue = 200."""
    root.mkdir(parents=True, exist_ok=True)
    for b, name in enumerate([*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH]):
        images = np.zeros((per_batch, 3, 32, 32), np.uint8)
        images[:, 0] = (10 * b + np.arange(per_batch))[:, None, None]
        images[:, 1], images[:, 2] = 100, 200
        write_batch(root / name, images, (np.arange(per_batch) + b) % 10)
    return root


def test_loader_reads_the_official_layout(tmp_path):
    ds = data.load_cifar10(tiny_cifar(tmp_path / "cifar-10-batches-py"))
    assert ds.image_shape == (3, 32, 32) and ds.num_classes == 10
    assert len(ds.train) == 20 and len(ds.val) == 4
    assert ds.train.labels.tolist() == [(i + b) % 10 for b in range(5) for i in range(4)]
    # channel planes in C-H-W order: red varies per image, green and blue are constant
    red = torch.tensor([10 * b + i for b in range(5) for i in range(4)], dtype=torch.float64)
    red = (red / 255 - (red / 255).mean()) / (red / 255).std(unbiased=False)
    torch.testing.assert_close(ds.train.images[:, 0, 5, 7].double(), red, rtol=1e-5, atol=1e-5)
    assert ds.train.images[:, 1].abs().max() < 1e-3  # zero after standardisation
    assert ds.train.images.dtype == torch.float32 and ds.train.labels.dtype == torch.int64


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(data.DataError) as info:
        data.load_cifar10(tmp_path / "nowhere")
    msg = str(info.value)
    assert str(tmp_path / "nowhere") in msg
    assert "data_batch_1" in msg and "cifar-10-batches-py" in msg and "download_cifar10" in msg


def test_a_corrupt_batch_is_named(tmp_path):
    root = tiny_cifar(tmp_path / "c")
    (root / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(data.DataError, match="data_batch_3"):
        data.load_cifar10(root)


def make_archive(tmp_path):
    src = tiny_cifar(tmp_path / "src")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(src.iterdir()):
            tar.add(f, arcname=f"cifar-10-batches-py/{f.name}")
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(buf.getvalue())
    return archive


def test_download_unpacks_the_archive_and_checks_it(tmp_path):
    archive = make_archive(tmp_path)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    dest = tmp_path / "data" / "cifar-10-batches-py"
    data.download_cifar10(dest, url=archive.as_uri(), md5=md5)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH]
    )
    assert len(data.load_cifar10(dest).train) == 20
    with pytest.raises(data.DataError, match="MD5"):
        data.download_cifar10(tmp_path / "other", url=archive.as_uri(), md5="0" * 32)


def test_offline_download_fails_with_where_to_put_the_data(tmp_path):
    with pytest.raises(data.DataError) as info:
        data.download_cifar10(tmp_path / "d", url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    msg = str(info.value)
    assert "could not download" in msg and str(tmp_path / "d") in msg
    assert "cifar-10-batches-py" in msg


def test_load_dispatches_on_the_dataset(tmp_path):
    root = tiny_cifar(tmp_path / "c")
    cfg = {"dataset": "cifar10", "data_dir": str(root), "val_fraction": 0.25, "split_seed": 0}
    assert data.load(cfg).name == "cifar10"
    digits = data.load({**cfg, "dataset": "digits"})
    assert digits.image_shape == (1, 8, 8) and len(digits.train) + len(digits.val) == 1797


def test_the_digits_are_scikit_learns_read_without_importing_it():
    from sklearn.datasets import load_digits as sk_digits

    images, labels = data.digits_arrays()
    bunch = sk_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(labels, bunch.target)
    assert images.shape == (1797, 8, 8) and images.max() == 16
