"""Truncated and altered checkpoints, curve files and activation files: every read finds
the damage, names the path and what to do, and the job fails instead of giving numbers."""

from __future__ import annotations

import shutil
import zipfile

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closerlook import (
    activation_file,
    checkpoints,
    compare,
    curve_eval,
    curves,
    plan,
    train,
)
from closerlook.activation_file import ActivationFileError
from closerlook.plan import RunSettings
from closerlook.provenance import REBUILD, IntegrityError, seal

import jobs

FLIPS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def one_line_naming(exc: BaseException, path) -> str:
    message = str(exc)
    assert "\n" not in message
    assert str(path) in message
    assert "rerun snakemake" in message
    return message


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x5A
    return bytes(b)


# ------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("keep", [0, 100, 0.5, -1])
def test_a_truncated_checkpoint_is_refused_with_its_path_and_remedy(made, tmp_path, keep):
    raw = jobs.checkpoint(made, 6).read_bytes()
    n = {0.5: len(raw) // 2, -1: len(raw) - 1}.get(keep, keep)
    path = tmp_path / "epoch006.pt"
    path.write_bytes(raw[:n])
    with pytest.raises(IntegrityError) as info:
        checkpoints.load_checkpoint(path)
    assert REBUILD in one_line_naming(info.value, path)


def test_altered_weights_are_caught_by_the_seal(made, tmp_path):
    """torch.load reads a file with altered tensor bytes without complaint; the seal not."""
    path = tmp_path / "epoch006.pt"
    raw = jobs.checkpoint(made, 6).read_bytes()
    weight = checkpoints.load_checkpoint(jobs.checkpoint(made, 6))["model"]["stages.fc1.1.weight"]
    at = raw.index(weight.numpy().tobytes()[:64]) + 3  # inside the stored tensor
    path.write_bytes(flip(raw, at))
    loaded = torch.load(path, weights_only=False)  # the bare reader does not notice
    assert not torch.equal(loaded["model"]["stages.fc1.1.weight"], weight)
    with pytest.raises(IntegrityError, match="do not match the SHA-256") as info:
        checkpoints.load_checkpoint(path)
    one_line_naming(info.value, path)


@FLIPS
@given(where=st.floats(0, 1, exclude_max=True))
def test_any_flipped_byte_of_the_stored_tensors_is_caught_or_harmless(made, tmp_path, where):
    """Bytes after the pickled structure: the tensors' storage and the zip directory.
    (A flip inside the pickle fails to unpickle or changes a sealed value.)"""
    raw = jobs.checkpoint(made, 6).read_bytes()
    with zipfile.ZipFile(jobs.checkpoint(made, 6)) as z:
        start = min(i.header_offset for i in z.infolist() if "/data/" in i.filename)
    original = checkpoints.load_checkpoint(jobs.checkpoint(made, 6))
    path = tmp_path / "flipped.pt"
    path.write_bytes(flip(raw, start + int(where * (len(raw) - start))))
    try:
        loaded = checkpoints.load_checkpoint(path)
    except IntegrityError as exc:
        one_line_naming(exc, path)
        return
    # a byte that carries nothing (zip padding): every value is as written
    for key, value in original["model"].items():
        assert torch.equal(loaded["model"][key], value)
    assert loaded["provenance"] == original["provenance"]
    assert loaded["metrics"] == original["metrics"] or np.isnan(
        original["metrics"][0]["train_loss"]
    )


def test_jobs_stop_at_a_corrupt_checkpoint_and_write_nothing(work):
    for epoch in (2, 6):
        path = jobs.checkpoint(work, epoch)
        path.write_bytes(path.read_bytes()[:-500])
    (work / "activations.h5").unlink()
    (work / "curve.pt").unlink()
    with pytest.raises(IntegrityError):
        jobs.dump_job(work)
    with pytest.raises(IntegrityError):
        jobs.curve_job(work)
    assert not (work / "activations.h5").exists() and not (work / "curve.pt").exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_student_stops_at_a_corrupt_teacher(work, tmp_path):
    teacher = jobs.checkpoint(work, 6)
    teacher.write_bytes(flip(teacher.read_bytes(), len(teacher.read_bytes()) // 2))
    run = {**jobs.run_settings(2), "distill": {"temperature": 4, "alpha": 0.9}}
    with pytest.raises(IntegrityError) as info:
        train.train_run(
            RunSettings(**run),
            jobs.SMALL,
            jobs.digits(),
            {2: tmp_path / "student" / "epoch002.pt"},
            tmp_path / "student" / "metrics.csv",
            tmp_path / "student" / "resume",
            device="cpu",
            teacher_checkpoint=teacher,
        )
    one_line_naming(info.value, teacher)
    assert not (tmp_path / "student" / "epoch002.pt").exists()


def test_an_unreadable_resume_state_means_starting_over(made, tmp_path):
    folder = tmp_path / "run"
    (folder / "resume").mkdir(parents=True)
    shutil.copy(jobs.checkpoint(made, 2), folder / "resume" / "last.pt")
    raw = (folder / "resume" / "last.pt").read_bytes()
    (folder / "resume" / "last.pt").write_bytes(raw[: len(raw) // 3])
    jobs.train_job(folder)
    assert checkpoints.read_metrics(folder / "metrics.csv") != []
    for epoch in jobs.EPOCHS:
        a = checkpoints.load_checkpoint(jobs.checkpoint(folder, epoch))["model"]
        b = checkpoints.load_checkpoint(jobs.checkpoint(made, epoch))["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------- curve files
def test_a_damaged_curve_file_is_refused(made, tmp_path):
    raw = (made / "curve.pt").read_bytes()
    bends = curves.load_curve(made / "curve.pt")[1]["bends"]
    at = raw.index(bends.numpy().tobytes()[:64]) + 5
    for name, data in (("truncated.pt", raw[: len(raw) // 2]), ("altered.pt", flip(raw, at))):
        with pytest.raises(IntegrityError) as info:
            curves.load_curve(tmp_path / name if (tmp_path / name).write_bytes(data) else None)
        one_line_naming(info.value, tmp_path / name)


# ------------------------------------------------------------------------- activations
def read_everything(path) -> tuple[dict, dict, np.ndarray]:
    with activation_file.ActivationFile(path) as f:
        layers = {n: f.read(n) for n in f.layer_names()}
        return f.provenance, layers, f.probe_indices


def test_a_truncated_activation_file_is_refused(made, tmp_path):
    raw = (made / "activations.h5").read_bytes()
    for n in (0, 512, len(raw) // 2, len(raw) - 16):
        path = tmp_path / f"cut{n}.h5"
        path.write_bytes(raw[:n])
        with pytest.raises(ActivationFileError) as info:
            read_everything(path)
        one_line_naming(info.value, path)


def test_an_altered_activation_chunk_fails_the_checksum(made, tmp_path):
    path = tmp_path / "altered.h5"
    with h5py.File(made / "activations.h5") as f:
        ds = f["layers/conv1"]
        offset = ds.id.get_chunk_info(1).byte_offset  # the second chunk, as stored
    raw = (made / "activations.h5").read_bytes()
    path.write_bytes(flip(raw, offset + 10))
    with activation_file.ActivationFile(path) as f:
        f.read("conv2")  # other layers still read
        with pytest.raises(ActivationFileError, match="layer 'conv1' is corrupt") as info:
            f.read("conv1")
    one_line_naming(info.value, path)


@FLIPS
@given(where=st.floats(0, 1, exclude_max=True))
def test_any_flipped_byte_of_an_activation_file_is_caught_or_harmless(made, tmp_path, where):
    raw = (made / "activations.h5").read_bytes()
    path = tmp_path / "flipped.h5"
    path.write_bytes(flip(raw, int(where * len(raw))))
    try:
        got = read_everything(path)
    except ActivationFileError as exc:
        one_line_naming(exc, path)
        return
    want = read_everything(made / "activations.h5")
    assert got[0] == want[0]
    for name, values in want[1].items():
        np.testing.assert_array_equal(got[1][name], values)
    np.testing.assert_array_equal(got[2], want[2])


def test_similarity_stops_at_a_corrupt_activation_file(work, tmp_path):
    good = tmp_path / "good.h5"
    shutil.copy(work / "activations.h5", good)
    bad = work / "activations.h5"
    with h5py.File(bad) as f:
        offset = f["layers/logits"].id.get_chunk_info(0).byte_offset
    bad.write_bytes(flip(bad.read_bytes(), offset + 4))
    with pytest.raises(ActivationFileError, match="rerun snakemake"):
        compare.compare_pair(good, bad, "a", ["svcca"], baseline=False, device="cpu")


# ------------------------------------------------------------------------- stale sources
def replace_weights(path) -> None:
    """Rewrite a checkpoint as a valid file with other weights (a rerun, or a mix-up)."""
    ckpt = checkpoints.load_checkpoint(path)
    ckpt["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    torch.save(seal(ckpt), path)


def test_activations_of_a_checkpoint_that_has_changed_are_refused(work):
    act = jobs.dump_job(work)  # records this copy's checkpoint and its SHA-256
    replace_weights(jobs.checkpoint(work, 6))
    with pytest.raises(IntegrityError) as info:
        compare.compare_pair(act, act, "a", ["svcca"], baseline=False, device="cpu")
    message = one_line_naming(info.value, act)
    assert str(jobs.checkpoint(work, 6)) in message


def test_a_curve_whose_endpoint_has_changed_is_not_evaluated(work, tmp_path):
    obj = torch.load(work / "curve.pt", weights_only=False)  # point it at this copy
    obj["provenance"]["source_checkpoint_a"] = str(jobs.checkpoint(work, 2))
    torch.save(seal(obj), work / "curve.pt")
    replace_weights(jobs.checkpoint(work, 2))
    out = tmp_path / "curve.h5"
    with pytest.raises(IntegrityError) as info:
        curve_eval.evaluate_curve_file(
            work / "curve.pt", out, jobs.digits(), plan.CurveEval(points=3, grid=2)
        )
    one_line_naming(info.value, work / "curve.pt")
    assert not out.exists()
