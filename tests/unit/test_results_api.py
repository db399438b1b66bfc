"""closerlook.results: a finished study read back from its results folder alone (the small
study of tests/small_study.py), and a hand-made table for the network order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from closerlook import results
from closerlook.activation_file import ActivationFile
from closerlook.curve_file import read_curve
from closerlook.results import Checkpoint, ResultsError

import small_study as spec
from support import REPO


@pytest.fixture(scope="module")
def study(small_study) -> results.Results:
    return results.open(small_study)


def one_line_listing(info: pytest.ExceptionInfo, *names: str) -> None:
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message, message


def test_checkpoints_are_epochs_or_steps():
    assert Checkpoint.of(14) == Checkpoint.of("epoch014") == Checkpoint(epoch=14)
    assert Checkpoint.of("step000200") == Checkpoint.of("step200") == Checkpoint(step=200)
    assert Checkpoint(step=200).point == "step200" and Checkpoint(epoch=3).point == 3
    assert str(Checkpoint(step=200)) == "step 200" and Checkpoint(epoch=3).tag == "epoch003"
    with pytest.raises(ValueError):
        Checkpoint(epoch=1, step=2)


def test_the_listing_shows_runs_seeds_checkpoints_analyses_and_curves(study):
    assert study.preset == "embedded"
    assert study.runs() == ["sgdr", "step"]
    assert study.aliases() == {"small_batch": "step"}  # the step run's network
    assert study.seeds("sgdr") == [0, 1] and study.seeds("small_batch") == [0]
    epochs = [Checkpoint(epoch=e) for e in (0, 2, 3)]
    assert study.checkpoints("sgdr", seed=1) == epochs == study.activations("sgdr", 1)
    assert study.checkpoints("step") == [Checkpoint(epoch=0), Checkpoint(epoch=3),
                                         Checkpoint(step=6)]  # fmt: skip
    assert study.analyses() == sorted(spec.ANALYSES)
    assert study.methods("sgdr_restarts") == spec.METHODS
    assert study.curves() == ["sgdr_restarts"]
    assert list(study.metrics("sgdr", 1)["epoch"]) == [0, 1, 2, 3]


def test_a_layer_reads_as_an_array_of_examples_in_network_order(study, small_study):
    assert study.layers("sgdr", 2) == ["conv1", "conv2", "fc1", "logits"]
    conv2 = study.activation("sgdr", "conv2", 2, seed=1)
    with ActivationFile(small_study / "runs/sgdr/seed1/activations/epoch002.h5") as f:
        np.testing.assert_array_equal(conv2, f.read("conv2"))
    assert conv2.shape[0] == spec.PROBE["size"] and conv2.ndim == 4
    # a step checkpoint, through the name the analysis gives the step run's network
    at_step = study.activation("small_batch", "fc1", Checkpoint(step=6))
    np.testing.assert_array_equal(at_step, study.activation("step", "fc1", "step6"))
    assert study.activation("step", "fc1", "step6", rows=slice(0, 5)).shape == (5, 16)


def test_a_similarity_table_has_its_baseline_beside_each_value(study, small_study):
    raw = pd.read_csv(small_study / "similarity/sgdr_restarts.csv")
    wide = study.similarity("sgdr_restarts", "svcca")
    assert len(wide) == 2 * 2 * 4 and set(wide["method"]) == {"svcca"}  # seeds × pairs × layers
    for row in wide.itertuples():
        same = raw[(raw["seed"] == row.seed) & (raw["epoch_a"] == row.epoch_a)
                   & (raw["layer"] == row.layer)]  # fmt: skip
        assert row.value == same.loc[same["method"] == "svcca", "value"].item()
        assert row.baseline == same.loc[same["method"] == "svcca_shuffled", "value"].item()
    assert "svcca_shuffled" not in set(study.similarity("sgdr_restarts")["method"])
    assert list(wide["layer"][:4]) == ["conv1", "conv2", "fc1", "logits"]


def test_a_step_checkpoint_is_an_integer_step_not_a_string(study):
    table = study.similarity("init_small_batch", "cka")
    assert str(table["epoch_b"].dtype) == "Int64" and str(table["step_b"].dtype) == "Int64"
    assert table["epoch_a"].tolist() == [0] * 4 and table["step_a"].isna().all()
    assert table["step_b"].tolist() == [6] * 4 and table["epoch_b"].isna().all()


def test_layers_keep_network_order_not_alphabetical(tmp_path):
    """A VGG-16-like table written in alphabetical order: conv10 before conv2."""
    folder = tmp_path / "results" / "vgg"
    (folder / "similarity").mkdir(parents=True)
    layers = {"conv1": 0, "conv10": 2, "conv2": 1}
    rows = [
        {"analysis": "a", "seed": s, "seed_b": s, "run_a": "sgdr", "epoch_a": 30,
         "run_b": "sgdr", "epoch_b": "step5", "layer": name, "layer_index": index,
         "method": method, "value": index / 10 + (0.5 if "shuffled" in method else 0),
         "dim_a": 4, "dim_b": 4}
        for s in (0, 1) for name, index in layers.items()
        for method in ("svcca", "svcca_shuffled")
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "similarity" / "a.csv", index=False)
    table = results.open(folder).similarity("a")
    assert list(table["layer"][:3]) == ["conv1", "conv2", "conv10"]
    assert list(table["layer"].cat.categories) == ["conv1", "conv2", "conv10"]
    pivot = table.pivot_table(index="layer", columns="seed", values="value", observed=True)
    assert list(pivot.index) == ["conv1", "conv2", "conv10"]
    np.testing.assert_allclose(table["baseline"] - table["value"], 0.5)


def test_a_curve_gives_its_paths_barriers_and_plane(study, small_study):
    curve = study.curve("sgdr_restarts")
    ev = read_curve(small_study / "curves/sgdr_restarts/seed0.h5")
    assert (curve.run_a, curve.a, curve.b) == ("sgdr", Checkpoint(epoch=2), Checkpoint(epoch=3))
    np.testing.assert_array_equal(curve.line["val_loss"], ev.paths["line"]["val_loss"])
    np.testing.assert_array_equal(curve.curve["train_acc"], ev.paths["curve"]["train_acc"])
    assert list(curve.barriers.index) == ["line", "curve"]
    assert curve.barriers.loc["line", "error_val"] == ev.barriers["line"]["error_val"]
    assert curve.plane.values["val_loss"].shape == (len(curve.plane.x), len(curve.plane.y))


def test_findings_are_data(study, small_study):
    found = study.findings()
    doc = json.loads((small_study / "findings.json").read_text())
    assert list(found.claims["id"]) == [c["id"] for c in doc["claims"]]
    assert set(found.claims.columns) >= {"id", "finding", "verdict", "effect", "low", "high"}
    assert found.paper == {k: v["verdict"] for k, v in doc["findings"].items()}


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda r: r.seeds("sgdx"), ["'sgdx'", "runs: sgdr, small_batch, step"]),
        (lambda r: r.activation("sgdr", "conv9", 2), ["'conv9'", "conv1, conv2, fc1, logits"]),
        (lambda r: r.activation("sgdr", "conv1", 7), ["epoch 7", "epoch 0, epoch 2, epoch 3"]),
        (lambda r: r.activation("step", "conv1", "step7"), ["step 7", "step 6"]),
        (lambda r: r.checkpoints("sgdr", seed=4), ["seed 4", "seeds: 0, 1"]),
        (lambda r: r.similarity("sgdr"), ["'sgdr'", "init_small_batch, sgdr_restarts"]),
        (lambda r: r.similarity("sgdr_restarts", "pwcca"), ["'pwcca'", "svcca, cka"]),
        (lambda r: r.curve("restarts"), ["'restarts'", "curves: sgdr_restarts"]),
        (lambda r: r.curve("sgdr_restarts", seed=1), ["seed 1", "seeds: 0"]),
    ],
)
def test_a_wrong_name_gives_one_line_listing_the_valid_ones(study, call, names):
    with pytest.raises(ResultsError) as info:
        call(study)
    one_line_listing(info, *names)


def test_reading_changes_nothing_in_the_folder(study, small_study):
    before = {p: p.stat().st_mtime_ns for p in small_study.rglob("*")}
    study.similarity("init_small_batch")
    study.activation("sgdr", "fc1", 3)
    study.curve("sgdr_restarts")
    study.findings()
    assert {p: p.stat().st_mtime_ns for p in small_study.rglob("*")} == before


def test_a_missing_folder_or_findings_file_is_one_line(tmp_path):
    with pytest.raises(ResultsError, match="no such results folder"):
        results.open(tmp_path / "absent")
    with pytest.raises(ResultsError, match="no findings.json .*make figures"):
        results.open(tmp_path).findings()
    assert results.open(tmp_path).runs() == [] and results.open(tmp_path).analyses() == []


def test_the_example_of_docs_results_md_runs_on_a_finished_study(small_study):
    text = (REPO / "docs" / "results.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", text, re.S)
    done = subprocess.run(
        [sys.executable, "-c", example], cwd=small_study.parents[1], capture_output=True,
        text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rows are probe examples" in done.stdout and "baseline" in done.stdout
