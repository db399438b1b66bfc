"""Per-pair comparison files and the analysis kinds that generate the pairs."""

import copy
import json

import h5py
import numpy as np
import pandas as pd
import pytest
from artifacts import activation_file

from closerlook import compare, config, plan

from support import trim_questions


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    conv = rng.standard_normal((120, 4, 4, 4))
    fc = rng.standard_normal((120, 6))
    a = activation_file(tmp_path / "a.h5", "sgdr", 2, {"conv1": conv, "fc1": fc})
    b = activation_file(
        tmp_path / "b.h5",
        "sgdr",
        6,
        {"conv1": conv + 0.3 * rng.standard_normal(conv.shape), "fc1": fc @ rng.random((6, 6))},
    )
    return a, b


METHODS = ["dft_svcca", "svcca", "pwcca", "cka"]


def test_pair_table_has_every_layer_method_and_baseline(pair, tmp_path):
    result = compare.compare_pair(*pair, "restarts", METHODS, device="cpu")
    t = result.table
    assert list(t.columns) == compare.COLUMNS
    assert len(t) == 2 * 2 * len(METHODS)
    assert set(t["method"]) == {*METHODS, *(m + "_shuffled" for m in METHODS)}
    assert t[["run_a", "epoch_a", "run_b", "epoch_b"]].drop_duplicates().values.tolist() == [
        ["sgdr", 2, "sgdr", 6]
    ]
    real = t[~t["method"].map(compare.is_baseline)].set_index(["layer", "method"])["value"]
    shuffled = t[t["method"].map(compare.is_baseline)].copy()
    shuffled["method"] = shuffled["method"].str.removesuffix("_shuffled")
    shuffled = shuffled.set_index(["layer", "method"])["value"]
    assert (real > shuffled + 0.3).all()  # related layers sit far above chance
    assert t["value"].notna().all() and (t["dim_a"] > 0).all()


def test_pair_hdf5_holds_coefficients_and_provenance(pair, tmp_path):
    result = compare.compare_pair(*pair, "restarts", METHODS, device="cpu")
    out = tmp_path / "pair.h5"
    compare.write_coefficients(result, out)
    with h5py.File(out) as f:
        assert f.attrs["kind"] == "similarity"
        assert f.attrs["run_a"] == "sgdr" and f.attrs["epoch_b"] == 6
        assert len(f.attrs["source_a_sha256"]) == 64
        assert json.loads(f["layers"].attrs["layer_order"]) == ["conv1", "fc1"]
    svcca = compare.read_coefficients(out, "fc1", "svcca")
    row = result.table.query("layer == 'fc1' and method == 'svcca'").iloc[0]
    assert svcca["value"] == pytest.approx(row["value"])
    assert svcca["coefficients"].mean() == pytest.approx(row["value"])
    dft = compare.read_coefficients(out, "conv1", "dft_svcca")
    assert dft["per_frequency"].shape == (4, 3)
    assert compare.read_coefficients(out, "conv1", "pwcca")["weights"].sum() == pytest.approx(1.0)


def test_diverged_run_gives_nan_rows(tmp_path):
    rng = np.random.default_rng(1)
    layers = {"fc1": rng.standard_normal((50, 3))}
    a = activation_file(tmp_path / "a.h5", "warm", 0, layers)
    b = activation_file(tmp_path / "b.h5", "warm", 5, layers, diverged=True)
    result = compare.compare_pair(a, b, "x", ["svcca"], device="cpu")
    assert result.table["value"].isna().all()
    compare.write_coefficients(result, tmp_path / "pair.h5")


def test_shuffled_rows_move_every_example():
    for n in (2, 3, 10, 101):
        perm = compare.shuffled_rows(n, seed=3)
        assert sorted(perm) == list(range(n)) and not (perm == np.arange(n)).any()


def test_probe_mismatch_is_refused(tmp_path):
    a = activation_file(tmp_path / "a.h5", "r", 0, {"fc1": np.ones((5, 2))})
    b = activation_file(tmp_path / "b.h5", "r", 1, {"fc1": np.ones((6, 2))})
    with pytest.raises(compare.ProbeMismatchError):
        compare.compare_pair(a, b, "x", ["cka"])


def test_concat_tables(pair, tmp_path):
    t = compare.compare_pair(*pair, "x", ["cka"], device="cpu").table
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.csv")
        compare.write_table(t, paths[-1])
    both = compare.concat_tables(paths, tmp_path / "all.csv")
    assert len(both) == 2 * len(t)
    assert pd.read_csv(tmp_path / "all.csv").shape == both.shape


# ------------------------------------------------------------------ analysis kinds
def with_runs(config):
    cfg = copy.deepcopy(config)
    for name in ("teacher", "student_kd", "student"):
        cfg["runs"][name] = copy.deepcopy(cfg["runs"]["step"])
    cfg["runs"]["teacher"]["epochs"] = 40
    return cfg


def test_analysis_kinds_generate_their_pairs(embedded_config):
    cfg = with_runs(embedded_config)
    cfg["similarity"]["analyses"] = {
        "restarts": {"run": "sgdr", "epochs": "cycle_ends"},
        "runs": {"kind": "across_runs", "runs": ["sgdr", "step", "student"], "epoch": 30},
        "kd": {
            "kind": "teacher_student",
            "teacher": "teacher",
            "students": ["student_kd", "student"],
        },
        "seeds": {"kind": "across_seeds", "run": "step", "epoch": 15},
    }
    cfg = config.validate(trim_questions(cfg))
    assert cfg["similarity"]["analyses"]["restarts"]["kind"] == "within_run"
    assert plan.analysis_pairs(cfg, "restarts") == [
        ("sgdr", 2, "sgdr", 6),
        ("sgdr", 6, "sgdr", 14),
        ("sgdr", 14, "sgdr", 30),
    ]
    assert plan.analysis_pairs(cfg, "runs") == [
        ("sgdr", 30, "step", 30),
        ("sgdr", 30, "student", 30),
        ("step", 30, "student", 30),
    ]
    assert plan.analysis_pairs(cfg, "kd") == [
        ("teacher", 40, "student_kd", 30),
        ("teacher", 40, "student", 30),
    ]
    # the same run and epoch, its second network from the independent partner k + 500
    assert plan.analysis_pairs(cfg, "seeds") == [("step", 15, "step", 15)]
    assert [plan.partner_seed(cfg, "seeds", k) for k in (0, 4)] == [500, 504]
    assert plan.partner_seed(cfg, "kd", 4) == 4


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (
            {"kind": "across_runs", "runs": ["sgdr", "nope"]},
            "'similarity.analyses.x.runs.1' is 'nope'",
        ),
        (
            {"kind": "across_runs", "runs": ["sgdr", "step"], "epoch": 8},
            "'similarity.analyses.x.epoch' has 8",
        ),
        ({"kind": "across_runs", "runs": ["sgdr"]}, "'similarity.analyses.x.runs'"),
        (
            {"kind": "across_runs", "run": "sgdr", "runs": ["sgdr", "step"]},
            "unknown key 'similarity.analyses.x.run'",
        ),
        ({"kind": "teacher_student", "teacher": "sgdr"}, "missing: students"),
        (
            {"kind": "across_seeds", "run": "sgdr", "epoch": 8},
            "'similarity.analyses.x.epoch' has 8",
        ),
        ({"kind": "across_seeds", "runs": ["sgdr", "step"]}, "missing: run"),
        (
            {"kind": "teacher_student", "teacher": "t", "students": ["step"]},
            "'similarity.analyses.x.teacher' is 't'",
        ),
        (
            {"kind": "teacher_student", "teacher": "sgdr", "students": ["x"]},
            "'similarity.analyses.x.students.0' is 'x'",
        ),
        (
            {
                "kind": "teacher_student",
                "teacher": "sgdr",
                "students": ["step"],
                "teacher_epoch": 5,
            },
            "'similarity.analyses.x.teacher_epoch' has 5",
        ),
        ({"kind": "within_run"}, "needs run"),
        ({"kind": "pairs", "run": "sgdr"}, "'similarity.analyses.x.kind' is 'pairs'"),
    ],
)
def test_bad_analyses_name_the_key(embedded_config, analysis, expected):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["x"] = analysis
    with pytest.raises(config.ConfigError) as info:
        config.validate(cfg)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"methods": ["svcca", "cca2"]}, "'similarity.methods.1' is 'cca2'"),
        ({"precision": "half"}, "'similarity.precision' is 'half'"),
        ({"baseline": "yes"}, "'similarity.baseline'"),
        ({"seed": -1}, "'similarity.seed'"),
    ],
)
def test_bad_similarity_settings_name_the_key(embedded_config, edit, expected):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"].update(edit)
    with pytest.raises(config.ConfigError) as info:
        config.validate(cfg)
    assert expected in str(info.value)
