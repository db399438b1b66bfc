"""DFT-CCA of conv maps: the batched solver against a plain per-frequency loop, and the
known answers of the measures it builds on."""

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from closerlook import dft, dft_cca, similarity
from closerlook.dimensions import DimensionWarning


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def maps(rng, n=240, c=5, h=6, w=5, noise=0.7):
    x = rng.standard_normal((n, c, h, w))
    y = np.einsum("nchw,cd->ndhw", x, rng.standard_normal((c, c)))
    return x, y + noise * rng.standard_normal(y.shape)


def loop(x, y, keep=None, rows=None, cols=None):
    """The plain reference: full complex FFT, then one CCA (or SVCCA) per frequency in
    float64 through the SVD-based `similarity.cca`; the pooled mean over all of them."""
    fx, fy = np.fft.fft2(x), np.fft.fft2(y)
    rows = range(x.shape[2]) if rows is None else rows
    cols = range(x.shape[3]) if cols is None else cols
    values, pooled = {}, []
    for u in rows:
        for v in cols:
            a, b = (
                fx[:, :, u % x.shape[2], v % x.shape[3]],
                fy[:, :, u % y.shape[2], v % y.shape[3]],
            )
            r = similarity.cca(a, b) if keep is None else similarity.svcca_result(a, b, keep).rho
            values[(u, v)] = r.mean()
            pooled.append(r)
    return float(np.concatenate(pooled).mean()), values


@pytest.fixture(params=["product", "fft"])
def dft_path(request, monkeypatch):
    """Both ways to the spectrum: the DFT as a matrix product (small maps) and the FFT."""
    if request.param == "fft":
        monkeypatch.setattr(dft, "DFT_AS_PRODUCT_MAX_POSITIONS", 0)
    return request.param


@pytest.mark.parametrize("shape", [(6, 5), (4, 4), (3, 1)])
@pytest.mark.parametrize("keep", [None, 0.9])
def test_batched_equals_a_per_frequency_loop(rng, shape, keep, dft_path):
    x, y = maps(rng, h=shape[0], w=shape[1])
    expected, values = loop(x, y, keep)
    r = dft_cca.dft_cca_result(x, y, keep=keep, precision="float64", device="cpu")
    assert r.value == pytest.approx(expected, abs=1e-10)
    h, w = shape
    for i, u in enumerate(r.grid.rows):
        for j, v in enumerate(r.grid.cols):
            assert r.per_frequency[i, j] == pytest.approx(values[(u % h, v)], abs=1e-10)
            assert r.per_frequency[i, j] == pytest.approx(values[(-u % h, -v % w)], abs=1e-10)
    assert r.grid.size == h * w


def test_mixed_precision_is_within_1e_5_of_float64(rng, dft_path):
    x, y = maps(rng, n=400, c=12, h=8, w=8)
    exact = dft_cca.dft_cca_result(x, y, keep=None, precision="float64", device="cpu")
    mixed = dft_cca.dft_cca_result(x, y, keep=None, precision="mixed", device="cpu")
    assert np.abs(mixed.per_frequency - exact.per_frequency).max() < 1e-5
    assert mixed.value == pytest.approx(exact.value, abs=1e-6)


def test_nearly_dependent_channels_keep_mixed_precision_accurate(rng):
    x, y = maps(rng, n=400, c=6, h=4, w=4)
    x[:, 5] = x[:, 4] + 1e-3 * rng.standard_normal(x[:, 4].shape)  # R² ≈ 1 − 1e-6
    exact = dft_cca.dft_cca_result(x, y, keep=None, precision="float64", device="cpu")
    mixed = dft_cca.dft_cca_result(x, y, keep=None, precision="mixed", device="cpu")
    assert np.abs(mixed.per_frequency - exact.per_frequency).max() < 1e-5


def test_different_spatial_sizes_use_the_shared_low_frequencies(rng, dft_path):
    x, y = maps(rng, h=8, w=8)
    small = y[:, :, ::2, ::2]  # 4 × 4
    r = dft_cca.dft_cca_result(x, small, keep=None, precision="float64", device="cpu")
    assert list(r.grid.rows) == [0, 1, -1] and list(r.grid.cols) == [0, 1]
    expected, values = loop(x, small, rows=[-1, 0, 1], cols=[-1, 0, 1])
    assert r.value == pytest.approx(expected, abs=1e-10)
    assert r.grid.size == 9
    for i, u in enumerate(r.grid.rows):
        for j, v in enumerate(r.grid.cols):
            assert r.per_frequency[i, j] == pytest.approx(values[(u, v)], abs=1e-10)


def test_identical_maps_give_one(rng):
    x, _ = maps(rng)
    assert dft_cca.dft_svcca(x, x, keep=None)[0] == pytest.approx(1.0, abs=1e-6)
    value, per_frequency = dft_cca.dft_svcca(x, x, keep=0.99)
    assert value == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(per_frequency, 1.0, atol=1e-6)


def test_invariant_to_channel_rotation_and_scaling_and_symmetric(rng):
    x, y = maps(rng)
    q = ortho_group.rvs(x.shape[1], random_state=2)
    base = dft_cca.dft_svcca(x, y, keep=0.99, precision="float64")[0]
    turned = np.einsum("nchw,cd->ndhw", x, q) * 4.0
    assert dft_cca.dft_svcca(turned, y, keep=0.99, precision="float64")[0] == pytest.approx(
        base, abs=1e-10
    )
    assert dft_cca.dft_svcca(y, x, keep=0.99, precision="float64")[0] == pytest.approx(
        base, abs=1e-10
    )


def test_k_shared_channels_give_k_ones_at_every_frequency(rng):
    n, c, k = 3000, 6, 2
    x = rng.standard_normal((n, c, 3, 3))
    y = np.concatenate([x[:, :k], rng.standard_normal((n, c - k, 3, 3))], axis=1)
    r = dft_cca.dft_cca_result(x, y, keep=None, precision="float64")
    coefficients = r.coefficients.reshape(-1, c)
    assert coefficients[:, :k] == pytest.approx(np.ones_like(coefficients[:, :k]), abs=1e-8)
    assert np.all(coefficients[:, k:] < 0.15)


def test_independent_maps_are_near_the_shuffled_baseline(rng):
    x, y = rng.standard_normal((3000, 4, 4, 4)), rng.standard_normal((3000, 4, 4, 4))
    value = dft_cca.dft_svcca(x, y, keep=None)[0]
    shuffled = dft_cca.dft_svcca(x, y[rng.permutation(3000)], keep=None)[0]
    assert value < 0.05 and value == pytest.approx(shuffled, abs=0.02)


def test_float32_and_float64_inputs_agree(rng):
    x, y = maps(rng)
    v64 = dft_cca.dft_svcca(x, y, keep=0.99, precision="float64")[0]
    v32 = dft_cca.dft_svcca(
        x.astype(np.float32), y.astype(np.float32), keep=0.99, precision="float64"
    )[0]
    assert v32 == pytest.approx(v64, abs=1e-6)
    assert dft_cca.dft_svcca(torch.from_numpy(x), y, keep=0.99)[0] == pytest.approx(v64, abs=1e-5)


def test_dense_features_are_the_zero_frequency(rng):
    x = rng.standard_normal((300, 6))
    y = x @ rng.standard_normal((6, 4)) + rng.standard_normal((300, 4))
    assert dft_cca.dft_svcca(x, y, keep=0.99)[0] == pytest.approx(
        similarity.svcca(x, y, keep=0.99), abs=1e-6
    )


def dft_with_warnings(x, y, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = dft_cca.dft_cca_result(x, y, device="cpu", **kw)
    return r, [m for m in w if issubclass(m.category, DimensionWarning)]


@pytest.mark.parametrize("precision", ["mixed", "float64"])
def test_dead_and_duplicate_channels_reduce_the_dimension(rng, precision):
    x = rng.standard_normal((200, 5, 4, 4))
    y = np.concatenate([x, np.zeros((200, 2, 4, 4)), x[:, :1]], axis=1)
    r, w = dft_with_warnings(x, y, keep=None, precision=precision)
    assert len(w) == 1
    assert np.all(r.dims_y == 5) and r.dim_y == 5 * 16
    assert np.isfinite(r.per_frequency).all()
    assert r.value == pytest.approx(1.0, abs=1e-6)


def test_channels_constant_in_space_drop_out_above_the_zero_frequency(rng):
    x = rng.standard_normal((200, 3, 4, 4))
    x[:, 2] = rng.standard_normal((200, 1, 1))  # varies over examples, not positions
    r, w = dft_with_warnings(x, x, keep=None, precision="mixed")
    assert len(w) == 1
    assert r.dims_x[0, 0] == 3 and r.dims_x[1, 1] == 2
    assert r.value == pytest.approx(1.0, abs=1e-6)


def test_more_channels_than_datapoints(rng):
    x, y = rng.standard_normal((20, 30, 3, 3)), rng.standard_normal((20, 25, 3, 3))
    r, w = dft_with_warnings(x, y, keep=None)
    assert len(w) == 1
    assert np.all(r.dims_x + r.dims_y <= 19)
    assert np.isfinite(r.per_frequency).all() and r.value < 1.0


def test_no_variance_is_nan_with_a_warning(rng):
    r, w = dft_with_warnings(np.zeros((30, 3, 3, 3)), rng.standard_normal((30, 3, 3, 3)))
    assert np.isnan(r.value) and len(w) == 1


def test_the_named_steps_compose_to_the_result(rng):
    """dft_cca_result is spectra -> covariances -> correlations -> pooled (the benchmark
    times these steps one by one)."""
    x, y = maps(rng)
    zx, zy, grid = dft_cca.spectra(x, y, "cpu", "mixed")
    cov = dft_cca.covariances(zx, zy)
    c = dft_cca.Correlations.empty(cov, zx.shape[3], zy.shape[3])
    eigen = dft_cca.cholesky_correlations(c, cov, zx, zy)
    dft_cca.eigen_correlations(c, cov, eigen, None, zx.shape[2])
    stepwise = dft_cca.pooled(c, grid, None, zx.shape[2])
    assert stepwise.value == dft_cca.dft_cca_result(x, y, device="cpu").value


def test_frequency_grid_weights_count_the_full_spectrum():
    for h, w in [(16, 16), (5, 7), (1, 1), (2, 3)]:
        g = dft.shared_frequencies((h, w), (h, w))
        assert g.size == h * w
    g = dft.shared_frequencies((8, 6), (5, 4))
    assert g.size == 5 * 3
