"""DFT-CCA without the SV step (`dft_cca`, google/svcca `fourier_ccas`): against an
independent per-frequency reference (principal angles, scipy), its invariances, and small
cases computed by hand."""

import warnings

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from test_similarity_compare import activation_file

from closerlook import compare, config, dft, dft_cca, plan, similarity
from closerlook.dimensions import DimensionWarning


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def maps(rng, n=300, c=5, h=6, w=5, noise=0.8, cy=None):
    x = rng.standard_normal((n, c, h, w))
    mix = rng.standard_normal((c, cy or c))
    y = np.einsum("nchw,cd->ndhw", x, mix)
    return x, y + noise * rng.standard_normal(y.shape)


def reference(x, y, limit=None):
    """Per frequency of the full 2-D DFT: the canonical correlations are the cosines of the
    principal angles between the column spaces of the centred N × C blocks (Björck & Golub
    1973). `limit`: only the frequencies |u|, |v| ≤ limit (maps of different sizes).
    Returns the mean of all coefficients over all frequencies and each frequency's mean."""
    fx, fy = np.fft.fft2(x), np.fft.fft2(y)
    h, w = x.shape[2:]
    if limit is None:
        grid = [(u, v) for u in range(h) for v in range(w)]
    else:
        grid = [(u, v) for u in range(-limit, limit + 1) for v in range(-limit, limit + 1)]
    pooled, per = [], {}
    for u, v in grid:
        a = fx[:, :, u % h, v % w]
        b = fy[:, :, u % fy.shape[2], v % fy.shape[3]]
        a, b = a - a.mean(0), b - b.mean(0)
        rho = np.cos(subspace_angles(a, b))
        pooled.append(rho)
        per[(u, v)] = rho.mean()
    return float(np.concatenate(pooled).mean()), per


@pytest.mark.parametrize("shape", [(6, 5), (4, 4), (1, 3)])
@pytest.mark.parametrize("precision", ["float64", "mixed"])
def test_matches_principal_angles_at_every_frequency(rng, shape, precision):
    x, y = maps(rng, h=shape[0], w=shape[1], cy=4)
    expected, per = reference(x, y)
    value, per_frequency = dft_cca.dft_cca(x, y, device="cpu", precision=precision)
    tol = 1e-10 if precision == "float64" else 1e-6
    assert value == pytest.approx(expected, abs=tol)
    grid = dft.shared_frequencies(shape, shape)
    for i, u in enumerate(grid.rows):
        for j, v in enumerate(grid.cols):
            assert per_frequency[i, j] == pytest.approx(per[(u % shape[0], v)], abs=tol)


def test_different_spatial_sizes_match_the_reference_on_shared_frequencies(rng):
    x, y = maps(rng, h=8, w=8)
    expected, _ = reference(x, y[:, :, ::2, ::2], limit=1)  # 4 × 4: |u|, |v| ≤ 1
    value, _ = dft_cca.dft_cca(x, y[:, :, ::2, ::2], device="cpu", precision="float64")
    assert value == pytest.approx(expected, abs=1e-10)


def test_rank_deficient_channels_match_the_reference(rng):
    x, y = maps(rng, h=4, w=4)
    # a dead channel and a dependent one
    y = np.concatenate([y, np.zeros_like(y[:, :1]), y[:, :1] + y[:, 1:2]], axis=1)
    expected, _ = reference(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, per_frequency = dft_cca.dft_cca(x, y, device="cpu", precision="float64")
    assert [w.category for w in caught] == [DimensionWarning]
    assert np.isfinite(per_frequency).all()
    assert value == pytest.approx(expected, abs=1e-8)


def test_more_channels_than_datapoints_stay_below_one(rng):
    x, y = rng.standard_normal((20, 30, 3, 3)), rng.standard_normal((20, 25, 3, 3))
    with pytest.warns(DimensionWarning):
        value, per_frequency = dft_cca.dft_cca(x, y, device="cpu")
    assert np.isfinite(per_frequency).all() and value < 1.0


@pytest.mark.parametrize("keep", [None, 0.99])
def test_more_channels_than_datapoints_reduce_exactly_to_the_row_space(keep, rng, monkeypatch):
    """Spectra with C > N are solved in their N-dimensional row space (dft_cca.row_space):
    values, per-frequency values, coefficients and the warning equal those of the full
    C x C factorisations (row_space an identity), for DFT-CCA and DFT-SVCCA."""
    x, y = maps(rng, n=12, c=30, h=4, w=4, cy=25, noise=0.3)

    def solve():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = dft_cca.dft_cca_result(x, y, keep, device="cpu", precision="float64")
        return r, [str(w.message) for w in caught]

    reduced, said = solve()
    monkeypatch.setattr(dft_cca, "row_space", lambda z: z)
    full, said_full = solve()
    assert reduced.value == pytest.approx(full.value, abs=1e-10)
    np.testing.assert_allclose(reduced.per_frequency, full.per_frequency, atol=1e-10)
    assert reduced.coefficients.shape == full.coefficients.shape
    np.testing.assert_allclose(reduced.coefficients, full.coefficients, atol=1e-10)
    np.testing.assert_array_equal(reduced.dims_x, full.dims_x)
    assert said == said_full


def test_invariant_to_any_invertible_channel_map_unlike_dft_svcca(rng):
    x, y = maps(rng)
    base = dft_cca.dft_cca(x, y, precision="float64")[0]
    # well conditioned overall, but one channel direction carries ~all the variance
    mix = np.diag([100.0, 1, 1, 1, 1]) @ (np.eye(5) + 0.3 * rng.standard_normal((5, 5)))
    assert np.linalg.cond(mix) < 1e4
    mapped = np.einsum("nchw,cd->ndhw", x, mix)
    assert dft_cca.dft_cca(mapped, y, precision="float64")[0] == pytest.approx(base, abs=1e-9)
    assert dft_cca.dft_cca(y, mapped, precision="float64")[0] == pytest.approx(base, abs=1e-9)
    svcca = dft_cca.dft_svcca(x, y, keep=0.99, precision="float64")[0]
    svcca_mapped = dft_cca.dft_svcca(mapped, y, keep=0.99, precision="float64")[0]
    assert abs(svcca_mapped - svcca) > 0.05  # the SV step sees the map; DFT-CCA does not


@pytest.mark.parametrize("shift", [(1, 0), (2, 3), (5, 4)])
def test_invariant_to_circular_spatial_shifts(rng, shift):
    x, y = maps(rng)
    base = dft_cca.dft_cca(x, y, precision="float64")
    rolled = np.roll(x, shift, axis=(2, 3))
    one = dft_cca.dft_cca(rolled, y, precision="float64")
    both = dft_cca.dft_cca(rolled, np.roll(y, shift, axis=(2, 3)), precision="float64")
    for value, per_frequency in (one, both):
        assert value == pytest.approx(base[0], abs=1e-10)
        assert np.allclose(per_frequency, base[1], atol=1e-10)


def test_identical_and_channel_permuted_maps_give_one(rng):
    x, _ = maps(rng)
    assert dft_cca.dft_cca(x, x)[0] == pytest.approx(1.0, abs=1e-6)
    permuted = 3.0 * x[:, ::-1] + 2.0  # reordered, scaled, offset channels
    value, per_frequency = dft_cca.dft_cca(x, permuted)
    assert value == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(per_frequency, 1.0, atol=1e-6)


def test_a_case_computed_by_hand():
    """One channel, 1 × 2 maps: the DFT has the frequency 0 (a + b) and the Nyquist
    frequency 1 (a − b), each its own CCA of one coefficient, |corr|. The sums of x and y
    are (1, 2, 3, 4) and (1, 3, 2, 4): centred (−1.5, −0.5, 0.5, 1.5) and (−1.5, 0.5,
    −0.5, 1.5), corr = 4 / 5 = 0.8. The differences of y are twice those of x: corr 1.
    Pooled over the 2 frequencies: (0.8 + 1) / 2 = 0.9."""
    sx, sy = np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])
    d = np.array([1.0, -1, 2, 0])
    x = np.stack([(sx + d) / 2, (sx - d) / 2], axis=-1)[:, None, None, :]  # (4, 1, 1, 2)
    y = np.stack([(sy + 2 * d) / 2, (sy - 2 * d) / 2], axis=-1)[:, None, None, :]
    value, per_frequency = dft_cca.dft_cca(x, y, device="cpu", precision="float64")
    assert per_frequency.shape == (1, 2)
    assert per_frequency[0] == pytest.approx([0.8, 1.0], abs=1e-12)
    assert value == pytest.approx(0.9, abs=1e-12)


def test_dense_layers_are_the_zero_frequency_cca(rng):
    a = rng.standard_normal((200, 6))
    b = a @ rng.standard_normal((6, 4)) + rng.standard_normal((200, 4))
    r = similarity.layer_similarity(a, b, "dft_cca")
    assert r.value == pytest.approx(similarity.cca(a, b).mean(), abs=1e-12)
    as_maps = dft_cca.dft_cca(a[:, :, None, None], b[:, :, None, None], precision="float64")
    assert r.value == pytest.approx(as_maps[0], abs=1e-9)
    assert (r.dim_x, r.dim_y) == (6, 4) and "per_frequency" not in r.extras


def test_layer_similarity_dispatches_conv_maps_to_dft_cca(rng):
    x, y = maps(rng, h=4, w=4)
    r = similarity.layer_similarity(x, y, "dft_cca", keep=0.5, precision="float64")
    assert r.value == pytest.approx(dft_cca.dft_cca(x, y, precision="float64")[0])
    assert r.extras["per_frequency"].shape == (4, 3)
    assert r.dim_x == 5 * 16  # every channel at all 16 frequencies: no SV step
    assert r.extras["frequency_coefficients"].shape == (4, 3, 5)  # the half-spectrum


def test_selectable_in_the_config_with_its_shuffled_baseline(embedded_config, tmp_path, rng):
    cfg = dict(embedded_config)
    cfg["similarity"] = {**cfg["similarity"], "methods": ["dft_cca", "svcca"]}
    cfg["figures"] = {**cfg["figures"], "method": "dft_cca"}
    checked = config.validate(cfg)
    assert plan.measures(checked) == ["dft_cca", "svcca"]
    conv = rng.standard_normal((100, 3, 4, 4))
    a = activation_file(tmp_path / "a.h5", "r", 0, {"conv1": conv})
    b = activation_file(tmp_path / "b.h5", "r", 1, {"conv1": conv + rng.random(conv.shape)})
    table = compare.compare_pair(a, b, "x", ["dft_cca"], device="cpu").table
    values = table.set_index("method")["value"]
    assert set(values.index) == {"dft_cca", "dft_cca_shuffled"}
    assert values["dft_cca"] > values["dft_cca_shuffled"] + 0.3
