"""The activations rule end to end: a dump from a trained checkpoint, then `inspect`."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import yaml

from closerlook import data
from closerlook.activation_file import ActivationFile
from closerlook.cli import main

from support import tool


def snakemake(repo, workdir, config_path, env, *args: str) -> subprocess.CompletedProcess:
    cmd = [tool("snakemake"), "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(config_path), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow
def test_activation_rule_dumps_a_checkpoint_and_reruns_only_on_probe_changes(
    repo, tmp_path, small_config, snakemake_env, capsys
):
    cfg = small_config
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["device"] = "cpu"
    cfg["probe"].update(size=120, batch_size=32, compression="gzip")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    target = tmp_path / "results/embedded/runs/step/seed0/activations/epoch003.h5"
    done = snakemake(repo, tmp_path, config_path, snakemake_env, str(target))
    assert done.returncode == 0, done.stderr[-3000:]

    with ActivationFile(target) as f:
        dataset = data.load_digits(cfg["data"]["val_fraction"], 0)
        rows = data.probe_indices(len(dataset.train), 120, 0)  # seed: the default
        np.testing.assert_array_equal(f.probe.indices, rows)
        np.testing.assert_array_equal(f.probe.labels, dataset.train.labels[rows].numpy())
        prov = f.provenance
        assert (prov["run"], prov["epoch"], prov["compression"]) == ("step", 3, "gzip")
        assert prov["source_checkpoint"].endswith("runs/step/seed0/checkpoints/epoch003.pt")
        assert f.layer_names() == ["conv1", "conv2", "conv3", "conv4", "fc1", "logits"]

    assert main(["inspect", str(target), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "activations" and report["probe"]["size"] == 120

    # nothing to do now; a probe setting reruns the dump but never the training
    done = snakemake(repo, tmp_path, config_path, snakemake_env, "-n", str(target))
    assert "Nothing to be done" in done.stdout + done.stderr
    cfg["probe"]["dtype"] = "float16"
    config_path.write_text(yaml.safe_dump(cfg))
    done = snakemake(repo, tmp_path, config_path, snakemake_env, "-n", str(target))
    plan = done.stdout + done.stderr
    assert "rule activations:" in plan and "rule train" not in plan, plan[-3000:]
