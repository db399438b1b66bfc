"""Planted files: loading a file never runs code from it. A torch file whose pickle holds an
`os.system` payload, given to every loader of checkpoints and curve files and to
`closerlook inspect`, is refused with one line before anything in it is built; so is a
planted CIFAR-10 batch; an unsealed checkpoint is refused; a real one inspects."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from closerlook import activations, checkpoints, curve_eval, curve_fit, curves, data, plan, train
from closerlook.cli import main
from closerlook.data import DataError
from closerlook.provenance import SEAL, IntegrityError, UnsafeFileError

import jobs


class Payload:
    """Unpickled by a plain loader, this runs `touch marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "the-payload-ran"


@pytest.fixture
def planted(made, tmp_path, marker) -> Path:
    """A real checkpoint of the small run with the payload planted in it."""
    ckpt = checkpoints.load_checkpoint(jobs.checkpoint(made, 6))
    path = tmp_path / "epoch006.pt"
    torch.save({**ckpt, "extra": Payload(marker)}, path)
    return path


def refused(call, path: Path, marker: Path) -> str:
    with pytest.raises(UnsafeFileError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "nothing in it ran" in message
    assert not marker.exists(), "the payload ran"
    return message


def test_the_payload_runs_under_a_plain_loader(planted, marker):
    """The planted file is a real threat: an unrestricted unpickler runs it."""
    torch.load(planted, weights_only=False)
    assert marker.exists()


def test_every_loader_refuses_a_planted_checkpoint(planted, made, marker, tmp_path):
    good = jobs.checkpoint(made, 2)
    fit = plan.CurveFit(epochs=1, lr=0.05, batch_size=32)
    probe, every = jobs.PROBE, (planted, marker)
    refused(lambda: checkpoints.load_checkpoint(planted), *every)
    refused(lambda: activations.dump_checkpoint(planted, tmp_path / "a.h5", jobs.DATA, probe, 6),
            *every)  # fmt: skip
    refused(lambda: curve_fit.fit_between(planted, good, tmp_path / "c.pt", jobs.digits(), fit, {}),
            *every)  # fmt: skip
    evaluate = plan.CurveEval(points=3, grid=2)
    refused(lambda: curve_eval.evaluate_curve_file(
        made / "curve.pt", tmp_path / "c.h5", jobs.digits(), evaluate, {"x": planted}, device="cpu"
    ), *every)  # fmt: skip
    run = plan.RunSettings(**{**jobs.run_settings(1), "distill": {"temperature": 4, "alpha": 0.9}})
    out = tmp_path / "student"
    refused(lambda: train.train_run(
        run, jobs.SMALL, jobs.digits(), {1: out / "e1.pt"}, out / "m.csv", out / "resume",
        device="cpu", teacher_checkpoint=planted,
    ), *every)  # fmt: skip
    assert not (tmp_path / "a.h5").exists() and not (tmp_path / "c.pt").exists()


def test_a_planted_curve_file_is_refused(made, tmp_path, marker):
    bends = curves.load_curve(made / "curve.pt")[1]
    path = tmp_path / "curve.pt"
    torch.save({**bends, "history": {"epoch": [Payload(marker)]}}, path)
    refused(lambda: curves.load_curve(path), path, marker)
    out = tmp_path / "c.h5"
    evaluate = plan.CurveEval(points=3, grid=2)
    digits = jobs.digits()
    refused(lambda: curve_eval.evaluate_curve_file(path, out, digits, evaluate), path, marker)
    assert not out.exists()


def test_inspect_refuses_a_planted_file_in_one_line(planted, marker, capsys):
    assert main(["inspect", str(planted)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and str(planted) in err
    assert not marker.exists()


def test_an_unsealed_checkpoint_is_refused(made, tmp_path):
    ckpt = checkpoints.load_checkpoint(jobs.checkpoint(made, 6))
    path = tmp_path / "epoch006.pt"
    torch.save({k: v for k, v in ckpt.items() if k != SEAL}, path)
    with pytest.raises(IntegrityError, match="has no seal") as info:
        checkpoints.load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_planted_cifar_batch_is_a_data_error(tmp_path, marker):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for name in [*data.CIFAR10_TRAIN_BATCHES, data.CIFAR10_TEST_BATCH]:
        (root / name).write_bytes(b"")
    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": []}))
    with pytest.raises(DataError) as info:
        data.load_cifar10(root)
    assert "data_batch_1" in str(info.value) and "posix.system" in str(info.value)
    assert not marker.exists()


def test_inspect_shows_a_real_checkpoint(made, capsys):
    path = jobs.checkpoint(made, 6)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "seal verified" in out and "point      6" in out and "schedule" in out
    for layer in ("conv1", "conv2", "fc1", "logits"):
        assert f"  {layer}" in out
    assert main(["inspect", str(path), "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["seal"] == "verified" and report["run"] == "r" and report["point"] == 6
    conv1 = next(d for d in report["layers"] if d["name"] == "conv1")
    assert conv1["parameters"] == 8 * 1 * 3 * 3 + 8 + 8  # conv weight, BN weight and bias


def test_inspect_shows_a_curve(made, capsys):
    assert main(["inspect", str(made / "curve.pt")]) == 0
    out = capsys.readouterr().out
    assert "closerlook curve bends" in out and "seal verified" in out and "n_bends" in out
