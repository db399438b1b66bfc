"""Layer × layer similarity matrices (`matrix: true`): the diagonal is the per-layer value,
layers of different sizes are aligned as documented, the HDF5 round trip, the config key
and the heatmap."""

import copy

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from test_similarity_compare import activation_file

from closerlook import compare, config, layer_matrix, plan, similarity

from support import reduced_config, run_snakemake, trim_questions

LAYERS = ["conv1", "conv2", "fc1"]


def layers(rng, n=150):
    conv1 = rng.standard_normal((n, 4, 8, 8))
    conv2 = np.einsum("nchw,cd->ndhw", conv1[:, :, ::2, ::2], rng.standard_normal((4, 6)))
    conv2 += 0.5 * rng.standard_normal(conv2.shape)
    fc1 = conv2.mean(axis=(2, 3)) @ rng.standard_normal((6, 5))
    return {"conv1": conv1, "conv2": conv2, "fc1": fc1}


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(3)
    a, b = layers(rng), layers(rng)
    b = {k: v + 0.3 * a[k] for k, v in b.items()}  # related to a, layer by layer
    return (
        activation_file(tmp_path / "a.h5", "large_batch", 0, a),
        activation_file(tmp_path / "b.h5", "large_batch", 3, b),
        a,
        b,
    )


def compared(pair, methods, method):
    path_a, path_b, _, _ = pair
    result = compare.compare_pair(path_a, path_b, "warm", methods, device="cpu", replicate=1)
    m = layer_matrix.add_matrix(result, path_a, path_b, method, device="cpu")
    return result, m


@pytest.mark.parametrize("method", ["dft_cca", "svcca", "cka", "pwcca", "dft_svcca"])
def test_the_diagonal_is_the_per_layer_value(pair, method):
    result, m = compared(pair, list(dict.fromkeys([method, "cka"])), method)
    per_layer = result.table.query("method == @method").set_index("layer")["value"]
    assert list(np.diag(m)) == [per_layer[name] for name in LAYERS]
    assert np.isnan(m[np.tril_indices(3, -1)]).all()
    assert np.isfinite(m[np.triu_indices(3)]).all()
    assert ((m[np.triu_indices(3)] > 0) & (m[np.triu_indices(3)] <= 1 + 1e-9)).all()


def test_the_diagonal_is_recomputed_identically_without_the_pair(pair):
    path_a, path_b, _, _ = pair
    result, m = compared(pair, ["dft_cca"], "dft_cca")
    alone = layer_matrix.compare_layers(path_a, path_b, LAYERS, "dft_cca", device="cpu")
    assert np.array_equal(np.diag(alone), np.diag(m))


def test_different_sizes_are_aligned_as_documented(pair):
    _, _, a, b = pair
    _, dft = compared(pair, ["dft_cca"], "dft_cca")
    # DFT-CCA of an 8 × 8 and a 4 × 4 map: their shared low frequencies
    f32 = {k: v.astype(np.float32) for k, v in {**a, **{f"b_{k}": w for k, w in b.items()}}.items()}
    direct = similarity.layer_similarity(f32["conv1"], f32["b_conv2"], "dft_cca", device="cpu")
    assert dft[0, 1] == pytest.approx(direct.value, abs=1e-12)
    # against a dense layer: the zero frequency, i.e. CCA with the spatial sums
    dc = similarity.cca(f32["conv1"].sum(axis=(2, 3)), f32["b_fc1"]).mean()
    assert dft[0, 2] == pytest.approx(dc, abs=1e-5)
    # SVCCA (positions as datapoints): the 8 × 8 map average-pooled to 4 × 4
    _, sv = compared(pair, ["svcca"], "svcca")
    pooled = torch.nn.functional.avg_pool2d(torch.from_numpy(f32["conv1"]), 2).numpy()
    expected = similarity.layer_similarity(pooled, f32["b_conv2"], "svcca").value
    assert sv[0, 1] == pytest.approx(expected, abs=1e-12)
    mean = similarity.layer_similarity(f32["conv1"].mean(axis=(2, 3)), f32["b_fc1"], "svcca")
    assert sv[0, 2] == pytest.approx(mean.value, abs=1e-12)


def test_a_checkpoint_against_itself_has_ones_on_the_diagonal(pair):
    path_a, _, _, _ = pair
    m = layer_matrix.compare_layers(path_a, path_a, LAYERS, "dft_cca", device="cpu")
    assert np.diag(m) == pytest.approx(np.ones(3), abs=1e-6)


def test_the_pair_file_holds_the_matrix_and_reads_back_tidy(pair, tmp_path):
    result, m = compared(pair, ["dft_cca", "svcca"], "dft_cca")
    out = tmp_path / "pair.h5"
    compare.write_coefficients(result, out)
    with h5py.File(out) as f:
        assert f["matrix/dft_cca"].shape == (3, 3)
        assert f.attrs["matrix_method"] == "dft_cca"
    tidy = layer_matrix.read_matrix(out)
    assert list(tidy.columns) == layer_matrix.MATRIX_COLUMNS
    assert len(tidy) == 6  # j >= i of 3 layers
    assert (tidy["layer_index_b"] >= tidy["layer_index_a"]).all()
    row = tidy.query("layer_a == 'conv1' and layer_b == 'fc1'").iloc[0]
    assert row["value"] == pytest.approx(m[0, 2])
    assert (row["seed"], row["run_a"], row["epoch_a"], row["epoch_b"]) == (1, "large_batch", 0, 3)
    diagonal = tidy[tidy["layer_a"] == tidy["layer_b"]].set_index("layer_a")["value"]
    per_layer = result.table.query("method == 'dft_cca'").set_index("layer")["value"]
    assert diagonal.to_dict() == pytest.approx(per_layer.to_dict())


def test_a_pair_without_a_matrix_is_named(pair, tmp_path):
    path_a, path_b, _, _ = pair
    result = compare.compare_pair(path_a, path_b, "warm", ["cka"], device="cpu")
    compare.write_coefficients(result, tmp_path / "pair.h5")
    with pytest.raises(ValueError, match="pair.h5: no layer x layer matrix"):
        layer_matrix.read_matrix(tmp_path / "pair.h5")


def test_a_diverged_run_gives_a_nan_matrix(tmp_path):
    rng = np.random.default_rng(1)
    data = {"fc1": rng.standard_normal((50, 3)), "fc2": rng.standard_normal((50, 2))}
    a = activation_file(tmp_path / "a.h5", "warm", 0, data)
    b = activation_file(tmp_path / "b.h5", "warm", 5, data, diverged=True)
    result = compare.compare_pair(a, b, "x", ["dft_cca"], device="cpu")
    assert np.isnan(layer_matrix.add_matrix(result, a, b, "dft_cca")).all()


def tidy_seeds(values):
    """read_matrix rows of one pair of 2 layers in each seed (value: seed -> (m00, m01, m11))."""
    rows = []
    for seed, cells in values.items():
        for (i, j), v in zip([(0, 0), (0, 1), (1, 1)], cells, strict=True):
            rows.append(
                dict(
                    analysis="w", seed=seed, seed_b=seed, run_a="r", epoch_a=0, run_b="r",
                    epoch_b=3, layer_a=f"l{i}", layer_b=f"l{j}", layer_index_a=i,
                    layer_index_b=j, method="dft_cca", value=v,
                )
            )  # fmt: skip
    return pd.DataFrame(rows, columns=layer_matrix.MATRIX_COLUMNS)


def test_the_figure_draws_the_mean_over_seeds():
    table = tidy_seeds({0: (1.0, 0.4, 0.8), 1: (0.8, 0.6, 0.6)})
    [(key, names, m, seeds)] = layer_matrix.mean_matrices(table, "dft_cca")
    assert key == ("r", 0, "r", 3) and names == ["l0", "l1"] and seeds == 2
    assert m[0] == pytest.approx([0.9, 0.5]) and m[1, 1] == pytest.approx(0.7)
    assert np.isnan(m[1, 0])
    fig = layer_matrix.matrix_figure(table, "dft_cca", "w")
    heatmap = fig.axes[0]
    assert np.ma.getdata(heatmap.images[0].get_array())[0, 1] == pytest.approx(0.5)
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["l0", "l1"]
    assert "DFT-CCA" in fig._suptitle.get_text() and "mean of 2 seeds" in fig._suptitle.get_text()


def test_an_analysis_of_several_pairs_draws_a_heatmap_per_pair():
    """`pairs: from_first` over [0, 3, 5]: 0/3, then 0/5, each its own panel in that order."""
    first = tidy_seeds({0: (1.0, 0.4, 0.8)})
    later = tidy_seeds({0: (0.5, 0.2, 0.3)}).assign(epoch_b=5)
    table = pd.concat([first, later], ignore_index=True)
    drawn = layer_matrix.mean_matrices(table, "dft_cca")
    assert [key for key, *_ in drawn] == [("r", 0, "r", 3), ("r", 0, "r", 5)]
    assert drawn[1][2][0, 1] == pytest.approx(0.2)
    fig = layer_matrix.matrix_figure(table, "dft_cca", "w")
    heatmaps = [ax for ax in fig.axes if ax.images]
    labels = [ax.get_xlabel() for ax in heatmaps]
    assert labels == ["layer of r at epoch 3", "layer of r at epoch 5"]
    assert np.ma.getdata(heatmaps[1].images[0].get_array())[1, 1] == pytest.approx(0.3)


def test_matrix_is_a_within_run_key_for_the_primary_measure(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    analyses = cfg["similarity"]["analyses"]
    analyses["init_large_batch"] = {"run": "large_batch", "epochs": [0, 5], "matrix": True}
    cfg["figures"]["method"] = "svcca"
    checked = config.validate(cfg)
    assert plan.matrix_method(checked, "init_large_batch") == "svcca"
    assert plan.matrix_method(checked, "init_small_batch") is None
    analyses["sgdr_vs_step"]["matrix"] = True
    with pytest.raises(config.ConfigError, match="unknown key 'similarity.analyses.sgdr_vs_step"):
        config.validate(cfg)


@pytest.mark.slow
def test_the_matrix_rules_end_to_end(repo, tmp_path, embedded_config, snakemake_env):
    cfg = reduced_config(embedded_config)
    cfg["similarity"]["analyses"] = {
        "warm": {"run": "large_batch", "epochs": [0, 3], "matrix": True},
        "plain": {"run": "large_batch", "epochs": [0, 3]},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(trim_questions(cfg)))
    figures = [f"results/embedded/figures/similarity_{n}.png" for n in ("warm_matrix", "plain")]
    done = run_snakemake(tmp_path, snakemake_env, *figures)
    assert done.returncode == 0, done.stderr[-3000:]
    results = tmp_path / "results/embedded"
    tidy = pd.read_csv(results / "similarity/warm.matrix.csv")
    table = pd.read_csv(results / "similarity/warm/seed0/large_batch.e000--large_batch.e003.csv")
    method = plan.primary_measure(config.validate(cfg))
    assert set(tidy["method"]) == {method} and len(tidy) == 21  # 6 layers: j >= i
    diagonal = tidy[tidy["layer_a"] == tidy["layer_b"]].set_index("layer_a")["value"]
    per_layer = table[table["method"] == method].set_index("layer")["value"]
    assert diagonal.to_dict() == pytest.approx(per_layer.to_dict(), abs=1e-12)
    assert (results / "figures/similarity_warm_matrix.png").stat().st_size > 1000
    assert not (results / "similarity/plain.matrix.csv").exists()
    dry = run_snakemake(tmp_path, snakemake_env, "-n", *figures)
    assert "Nothing to be done" in dry.stdout + dry.stderr
