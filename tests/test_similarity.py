"""CCA and SVCCA against properties with known answers."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from closerlook import similarity


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_identical_inputs_give_one(rng):
    x = rng.standard_normal((500, 20))
    assert similarity.cca(x, x) == pytest.approx(np.ones(20))
    assert similarity.svcca(x, x) == pytest.approx(1.0)


def test_cca_is_invariant_to_invertible_linear_maps(rng):
    x = rng.standard_normal((400, 10))
    y = x[:, :6] @ rng.standard_normal((6, 8)) + 0.5 * rng.standard_normal((400, 8))
    a = rng.standard_normal((10, 10)) + 3 * np.eye(10)  # invertible
    b = rng.standard_normal((8, 8)) + 3 * np.eye(8)
    assert similarity.cca(x @ a + 7.0, y @ b - 2.0) == pytest.approx(similarity.cca(x, y), abs=1e-8)


def test_svcca_is_invariant_to_rotation_and_isotropic_scaling(rng):
    x = rng.standard_normal((300, 12)) * np.linspace(3, 0.1, 12)
    y = x @ rng.standard_normal((12, 12)) + rng.standard_normal((300, 12))
    q = ortho_group.rvs(12, random_state=1)
    assert similarity.svcca(5.0 * x @ q, y) == pytest.approx(similarity.svcca(x, y), abs=1e-8)


def test_k_shared_directions_give_k_ones_then_near_zero(rng):
    n, d, k = 5000, 8, 3
    x = rng.standard_normal((n, d))
    noise = rng.standard_normal((n, d - k))
    y = np.hstack([x[:, :k], noise]) @ rng.standard_normal((d, d))  # mixes shared + noise
    rho = similarity.cca(x, y)
    assert rho[:k] == pytest.approx(np.ones(k), abs=1e-8)
    assert np.all(rho[k:] < 0.1)


def test_symmetric(rng):
    x = rng.standard_normal((300, 10))
    y = np.tanh(x @ rng.standard_normal((10, 7))) + 0.3 * rng.standard_normal((300, 7))
    assert similarity.cca(x, y) == pytest.approx(similarity.cca(y, x), abs=1e-10)
    assert similarity.svcca(x, y) == pytest.approx(similarity.svcca(y, x), abs=1e-10)


def test_constant_and_duplicate_neurons_reduce_the_dimension_without_nan(rng):
    x = rng.standard_normal((200, 5))
    y = np.hstack([x, np.zeros((200, 2)), x[:, :1]])  # dead neurons and a duplicate
    r = similarity.cca_result(x, y)
    assert r.dim_y == 5
    assert np.all(np.isfinite(r.rho))
    assert r.mean == pytest.approx(1.0)


def test_float32_and_float64_agree(rng):
    x = rng.standard_normal((500, 16))
    y = x @ rng.standard_normal((16, 16)) + rng.standard_normal((500, 16))
    v64 = similarity.svcca(x, y)
    v32 = similarity.svcca(x.astype(np.float32), y.astype(np.float32))
    assert v32 == pytest.approx(v64, abs=1e-6)


def test_svd_reduce_keeps_the_requested_variance(rng):
    x = rng.standard_normal((1000, 4)) * np.array([10.0, 1.0, 0.1, 0.01])
    assert similarity.svd_reduce(x, 0.98).shape[1] == 1
    assert similarity.svd_reduce(x, 0.999).shape[1] == 2


def test_conv_maps_use_positions_as_datapoints(rng):
    a = rng.standard_normal((10, 3, 4, 4))
    flat = similarity.as_datapoints(a)
    assert flat.shape == (160, 3)
    assert np.array_equal(flat[5], a[0, :, 1, 1])
