"""The similarity rules end to end on the reduced embedded preset: one job per pair, a
tidy table per analysis with its shuffled baseline, an HDF5 file per pair."""

import subprocess

import h5py
import pandas as pd
import pytest
import yaml

from closerlook import compare, config, plan

from support import reduced_config, tool, trim_questions


@pytest.mark.slow
def test_similarity_tables_and_pair_files(repo, tmp_path, embedded_config, snakemake_env):
    cfg = reduced_config(embedded_config)
    cfg["similarity"]["analyses"] = {
        "restarts": {"run": "sgdr", "epochs": "cycle_ends"},
        "runs": {"kind": "across_runs", "runs": ["sgdr", "step"], "epoch": "last"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(trim_questions(cfg)))
    validated = config.validate(cfg)
    tables = [f"results/embedded/similarity/{a}.csv" for a in cfg["similarity"]["analyses"]]
    command = [
        tool("snakemake"),
        "--snakefile",
        str(repo / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(path),
        "--cores",
        "2",
        *tables,
    ]
    done = subprocess.run(command, env=snakemake_env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    methods = validated["similarity"]["methods"]
    for analysis in cfg["similarity"]["analyses"]:
        table = pd.read_csv(tmp_path / f"results/embedded/similarity/{analysis}.csv")
        assert list(table.columns) == compare.COLUMNS
        pairs = plan.analysis_pairs(validated, analysis)
        assert len(table[["run_a", "epoch_a", "run_b", "epoch_b"]].drop_duplicates()) == len(pairs)
        assert set(table["method"]) == {*methods, *(m + "_shuffled" for m in methods)}
        assert table["value"].notna().all()
        for run_a, epoch_a, run_b, epoch_b in pairs:
            name = f"{run_a}.e{epoch_a:03d}--{run_b}.e{epoch_b:03d}.h5"
            h5 = tmp_path / "results/embedded/similarity" / analysis / "seed0" / name
            with h5py.File(h5) as f:
                assert f.attrs["kind"] == "similarity"

    dry = subprocess.run(
        [*command, "-n"], env=snakemake_env, cwd=tmp_path, capture_output=True, text=True
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr
