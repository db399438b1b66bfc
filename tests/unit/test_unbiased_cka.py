"""Debiased and minibatch linear CKA (closerlook.unbiased_cka) against known answers: 1 for
identical inputs, invariance to orthogonal maps and isotropic scaling, ~0 for independent
data with more features than examples (where biased CKA is not), the Gram-matrix formula of
the unbiased HSIC (Song et al. 2012) on small hand cases, minibatch CKA as that formula
averaged over batches and tending to debiased CKA, and the streamed comparison of a file
equal to the in-memory one with its memory bounded by a minibatch."""

from __future__ import annotations

import tracemalloc

import h5py
import numpy as np
import pytest
from scipy.stats import ortho_group

from closerlook import compare, similarity
from closerlook.dimensions import DimensionWarning
from closerlook.unbiased_cka import debiased_cka, hsic1, minibatch_cka


def gram_hsic(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, written out on the Gram matrices of the raw (uncentred)
    features: K̃, L̃ with zero diagonals, 1 the vector of ones."""
    n = len(x)
    k, l_ = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l_, 0.0)
    one = np.ones(n)
    value = (
        np.trace(k @ l_)
        + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (one @ k @ l_ @ one)
    )
    return value / (n * (n - 3))


def gram_cka(x, y):
    return gram_hsic(x, y) / np.sqrt(gram_hsic(x, x) * gram_hsic(y, y))


def related(n=300, p=40, q=30, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    return x, x @ rng.normal(size=(p, q)) + noise * rng.normal(size=(n, q))


def test_the_gram_formula_on_a_small_hand_case():
    # one feature x = (0, 1, 2, 3) on n = 4 examples, K = L = x xᵀ; K̃ holds x_i x_j off
    # the diagonal
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    k = x @ x.T
    np.fill_diagonal(k, 0)
    # tr(K̃²) = 2 Σ_{i<j} (x_i x_j)² = 2 (0+0+0+4+9+36) = 98; 1ᵀK̃1 = 2 Σ_{i<j} x_i x_j = 22;
    # 1ᵀK̃²1 = Σ_i (Σ_{j≠i} x_i x_j)² = 0 + 25 + 64 + 81 = 170
    assert np.trace(k @ k) == 98 and k.sum() == 22 and (k.sum(axis=1) ** 2).sum() == 170
    by_hand = (98 + 22 * 22 / (3 * 2) - 2 / 2 * 170) / (4 * 1)  # = 13/6
    assert gram_hsic(x, x) == pytest.approx(by_hand)
    assert hsic1(x - x.mean(0), x - x.mean(0)) == pytest.approx(by_hand)


@pytest.mark.parametrize(("n", "p", "q"), [(6, 3, 2), (9, 20, 15), (40, 5, 70)])
def test_debiased_cka_is_the_unbiased_hsic_of_the_grams(n, p, q):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, p)) + 3.0, rng.normal(size=(n, q)) - 1.0  # not centred
    assert hsic1(x - x.mean(0), y - y.mean(0)) == pytest.approx(gram_hsic(x, y), rel=1e-9)
    assert debiased_cka(x, y) == pytest.approx(gram_cka(x, y), rel=1e-9)
    assert similarity.debiased_cka(x, y) == debiased_cka(x, y)


def test_identical_inputs_give_one():
    x, _ = related()
    assert debiased_cka(x, x) == pytest.approx(1.0)
    assert minibatch_cka(x, x, 50) == pytest.approx(1.0)


@pytest.mark.parametrize("measure", ["debiased", "minibatch"])
def test_invariant_to_orthogonal_maps_and_isotropic_scaling(measure):
    x, y = related()
    q_x, q_y = ortho_group.rvs(x.shape[1], random_state=1), ortho_group.rvs(30, random_state=2)
    f = debiased_cka if measure == "debiased" else (lambda a, b: minibatch_cka(a, b, 64))
    assert f(3.0 * x @ q_x, 0.2 * y @ q_y) == pytest.approx(f(x, y), rel=1e-9)


def test_independent_wide_data_is_near_zero_only_when_debiased():
    # 50 examples of 2,000 features (the embedded first conv layer has 1,024 at 500 examples)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2000)), rng.normal(size=(50, 2000))
    assert similarity.linear_cka(x, y) > 0.9
    assert abs(debiased_cka(x, y)) < 0.05
    assert abs(minibatch_cka(x, y, 25)) < 0.05


def test_minibatch_cka_is_the_gram_formula_averaged_over_batches():
    x, y = related(n=200)
    parts = [(x[i : i + 50], y[i : i + 50]) for i in range(0, 200, 50)]
    xy = sum(gram_hsic(a, b) for a, b in parts)
    xx, yy = sum(gram_hsic(a, a) for a, _ in parts), sum(gram_hsic(b, b) for _, b in parts)
    assert minibatch_cka(x, y, 50) == pytest.approx(xy / np.sqrt(xx * yy), rel=1e-9)
    # the same batches handed over one by one, as a file streams them
    assert minibatch_cka((a for a, _ in parts), (b for _, b in parts)) == pytest.approx(
        minibatch_cka(x, y, 50), rel=1e-12
    )


def test_minibatch_cka_on_one_batch_is_debiased_cka_and_tends_to_it():
    x, y = related(n=2000, p=300, q=200, noise=3.0)
    full = debiased_cka(x, y)
    assert minibatch_cka(x, y) == pytest.approx(full, rel=1e-12)
    assert minibatch_cka(x, y, 2000) == pytest.approx(full, rel=1e-12)
    gaps = [abs(minibatch_cka(x, y, b) - full) for b in (20, 100, 500)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_a_last_short_batch_is_left_out():
    x, y = related(n=203)
    assert minibatch_cka(x, y, 50) == pytest.approx(minibatch_cka(x[:200], y[:200], 50))


def test_dead_neurons_change_nothing_and_a_dead_layer_is_nan():
    x, y = related()
    dead = np.hstack([x, np.full((len(x), 5), 0.7)])
    assert debiased_cka(dead, y) == pytest.approx(debiased_cka(x, y), rel=1e-12)
    with pytest.warns(DimensionWarning, match="no variance"):
        assert np.isnan(debiased_cka(np.ones_like(x), y))
    with pytest.raises(ValueError, match="at least 4 rows"):
        debiased_cka(x[:3], y[:3])


# ----------------------------------------------------------------- streamed from files
def activation_file(path, values):
    """A minimal activation file of one layer "conv" (the reader's layout)."""
    from closerlook.activations import write_header

    with h5py.File(path, "w", libver="latest") as f:
        write_header(f, {"run": "r", "epoch": 0}, np.arange(len(values)), np.zeros(len(values)))
        layers = f.create_group("layers")
        layers.attrs["layer_order"] = '["conv"]'
        layers.create_dataset("conv", data=values, chunks=(16, *values.shape[1:]), fletcher32=True)
    return path


@pytest.fixture
def pair_files(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(600, 8, 4, 4)).astype(np.float32)
    b = (a + 0.8 * rng.normal(size=a.shape)).astype(np.float32)
    return activation_file(tmp_path / "a.h5", a), activation_file(tmp_path / "b.h5", b), a, b


def test_the_streamed_comparison_equals_the_in_memory_one(pair_files):
    path_a, path_b, a, b = pair_files
    pair = compare.compare_pair(
        path_a, path_b, "t", ["cka_minibatch", "cka"], minibatch_size=64, shuffle_seed=5
    )
    got = pair.table.set_index("method")["value"]
    expected = similarity.layer_similarity(a, b, "cka_minibatch", minibatch_size=64).value
    assert got["cka_minibatch"] == pytest.approx(expected, rel=1e-9)
    perm = compare.shuffled_rows(600, 5)
    shuffled = similarity.layer_similarity(a, b[perm], "cka_minibatch", minibatch_size=64).value
    assert got["cka_minibatch_shuffled"] == pytest.approx(shuffled, rel=1e-9)
    assert abs(shuffled) < 0.1 < got["cka_minibatch"]


def peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_holds_one_minibatch_not_the_layer(tmp_path):
    rng = np.random.default_rng(4)
    values = rng.normal(size=(2000, 16, 8, 8)).astype(np.float32)  # 8 MB; 16 MB in float64
    path = activation_file(tmp_path / "a.h5", values)
    layer = values.size * 8
    del values
    options = {"baseline": False, "minibatch_size": 50}
    streamed = peak_bytes(
        lambda: compare.compare_pair(path, path, "t", ["cka_minibatch"], **options)
    )
    whole = peak_bytes(lambda: compare.compare_pair(path, path, "t", ["cka_debiased"], **options))
    assert streamed < layer / 4 < layer < whole
