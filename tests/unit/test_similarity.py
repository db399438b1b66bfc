"""CCA, SVCCA, PWCCA and linear CKA against properties with known answers."""

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from closerlook import dimensions, similarity
from closerlook.dimensions import DimensionWarning


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def orthonormal_centred(rng, n, k):
    """k orthonormal vectors of length n, each with zero mean."""
    q, _ = np.linalg.qr(similarity.centre(rng.standard_normal((n, k))))
    return q


def related(rng, n=400, d=10, e=7):
    x = rng.standard_normal((n, d))
    return x, np.tanh(x @ rng.standard_normal((d, e))) + 0.3 * rng.standard_normal((n, e))


def test_identical_inputs_give_one(rng):
    x = rng.standard_normal((500, 20))
    assert similarity.cca(x, x) == pytest.approx(np.ones(20))
    assert similarity.svcca(x, x) == pytest.approx(1.0)
    assert similarity.pwcca(x, x) == pytest.approx(1.0)
    assert similarity.linear_cka(x, x) == pytest.approx(1.0)


def test_cca_is_invariant_to_invertible_linear_maps(rng):
    x = rng.standard_normal((400, 10))
    y = x[:, :6] @ rng.standard_normal((6, 8)) + 0.5 * rng.standard_normal((400, 8))
    a = rng.standard_normal((10, 10)) + 3 * np.eye(10)  # invertible
    b = rng.standard_normal((8, 8)) + 3 * np.eye(8)
    assert similarity.cca(x @ a + 7.0, y @ b - 2.0) == pytest.approx(similarity.cca(x, y), abs=1e-8)


def test_svcca_and_cka_are_invariant_to_rotation_and_isotropic_scaling(rng):
    x = rng.standard_normal((300, 12)) * np.linspace(3, 0.1, 12)
    y = x @ rng.standard_normal((12, 12)) + rng.standard_normal((300, 12))
    q = ortho_group.rvs(12, random_state=1)
    assert similarity.svcca(5.0 * x @ q, y) == pytest.approx(similarity.svcca(x, y), abs=1e-8)
    assert similarity.linear_cka(5.0 * x @ q, y @ q.T * 0.2) == pytest.approx(
        similarity.linear_cka(x, y), abs=1e-10
    )


def test_pwcca_is_invariant_to_neuron_permutation_sign_and_scaling(rng):
    x, y = related(rng)
    perm = rng.permutation(x.shape[1])
    signs = rng.choice([-1.0, 1.0], x.shape[1])
    assert similarity.pwcca(3.0 * x[:, perm] * signs, y) == pytest.approx(
        similarity.pwcca(x, y), abs=1e-10
    )


def test_k_shared_directions_give_k_ones_then_near_zero(rng):
    n, d, k = 5000, 8, 3
    x = rng.standard_normal((n, d))
    noise = rng.standard_normal((n, d - k))
    y = np.hstack([x[:, :k], noise]) @ rng.standard_normal((d, d))  # mixes shared + noise
    rho = similarity.cca(x, y)
    assert rho[:k] == pytest.approx(np.ones(k), abs=1e-8)
    assert np.all(rho[k:] < 0.1)


def test_pwcca_hand_computed_weights(rng):
    # x = [a·s, b·n1], y = [s, n2] with s, n1, n2 orthonormal: ρ = (1, 0), the canonical
    # variates of x are s and n1, so α ∝ (a, b) and PWCCA = a / (a + b).
    s, n1, n2 = orthonormal_centred(rng, 200, 3).T
    a, b = 3.0, 1.0
    r = similarity.pwcca_result(np.column_stack([a * s, b * n1]), np.column_stack([s, n2]))
    assert r.coefficients == pytest.approx([1.0, 0.0], abs=1e-12)
    assert r.extras["weights"] == pytest.approx([a / (a + b), b / (a + b)])
    assert r.value == pytest.approx(a / (a + b))


def test_cka_hand_computed(rng):
    # X = s, Y = [s, c·n]: ‖YᵀX‖² = 1, ‖XᵀX‖ = 1, ‖YᵀY‖ = √(1 + c⁴)
    s, n = orthonormal_centred(rng, 100, 2).T
    c = 1.5
    assert similarity.linear_cka(s[:, None], np.column_stack([s, c * n])) == pytest.approx(
        1 / np.sqrt(1 + c**4)
    )


def test_cka_gram_form_equals_feature_form(rng):
    x, y = rng.standard_normal((30, 80)), rng.standard_normal((30, 50))  # features > datapoints
    xc, yc = similarity.centre(x), similarity.centre(y)
    feature_form = np.linalg.norm(yc.T @ xc) ** 2 / (
        np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    )
    assert similarity.linear_cka(x, y) == pytest.approx(feature_form, rel=1e-10)


@pytest.mark.parametrize("measure", ["cca", "svcca", "pwcca", "cka"])
def test_independent_inputs_are_near_the_shuffled_baseline(rng, measure):
    x, y = rng.standard_normal((20000, 8)), rng.standard_normal((20000, 6))
    f = {
        "cca": lambda a, b: similarity.cca(a, b).mean(),
        "svcca": similarity.svcca,
        "pwcca": similarity.pwcca,
        "cka": similarity.linear_cka,
    }[measure]
    value, shuffled = f(x, y), f(x, y[rng.permutation(len(y))])
    assert value < 0.05 and shuffled < 0.05
    assert value == pytest.approx(shuffled, abs=0.02)


def test_symmetric(rng):
    x, y = related(rng, 300)
    assert similarity.cca(x, y) == pytest.approx(similarity.cca(y, x), abs=1e-10)
    assert similarity.svcca(x, y) == pytest.approx(similarity.svcca(y, x), abs=1e-10)
    assert similarity.linear_cka(x, y) == pytest.approx(similarity.linear_cka(y, x), abs=1e-12)
    # PWCCA weighs by its first argument (Morcos et al. 2018); its coefficients are CCA's
    forward, backward = similarity.pwcca_result(x, y), similarity.pwcca_result(y, x)
    assert forward.coefficients == pytest.approx(backward.coefficients, abs=1e-10)


def test_float32_and_float64_agree(rng):
    x = rng.standard_normal((500, 16))
    y = x @ rng.standard_normal((16, 16)) + rng.standard_normal((500, 16))
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    for f in (similarity.svcca, similarity.pwcca, similarity.linear_cka):
        assert f(x32, y32) == pytest.approx(f(x, y), abs=1e-6)


def test_torch_tensors_are_accepted(rng):
    x, y = related(rng)
    assert similarity.svcca(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(
        similarity.svcca(x, y)
    )


def caught(f, *args):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = f(*args)
    return out, [x for x in w if issubclass(x.category, DimensionWarning)]


def test_constant_and_duplicate_neurons_reduce_the_dimension_with_one_warning(rng):
    x = rng.standard_normal((200, 5))
    y = np.hstack([x, np.zeros((200, 2)), x[:, :1]])  # dead neurons and a duplicate
    r, w = caught(similarity.cca_result, x, y)
    assert r.dim_y == 5 and len(w) == 1 and "3 of 8" in str(w[0].message)
    assert np.all(np.isfinite(r.rho))
    assert r.mean == pytest.approx(1.0)
    for f in (similarity.pwcca, similarity.linear_cka):
        value, _ = caught(f, x, y)
        assert np.isfinite(value)


def test_more_features_than_datapoints_fit_the_budget(rng):
    x, y = rng.standard_normal((20, 30)), rng.standard_normal((20, 25))
    r, w = caught(similarity.cca_result, x, y)
    assert (r.dim_x, r.dim_y) == (9, 9)  # 19 centred dimensions, shared evenly
    assert len(w) == 1 and "exceed" in str(w[0].message)
    assert np.all(np.isfinite(r.rho)) and r.mean < 1.0
    assert dimensions.direction_budget(3, 40, 20) == (3, 16)
    assert dimensions.direction_budget(40, 3, 20) == (16, 3)


def test_no_variance_is_nan_with_a_warning(rng):
    x = rng.standard_normal((50, 4))
    value, w = caught(similarity.svcca, np.ones((50, 3)), x)
    assert np.isnan(value) and len(w) == 1 and "no variance" in str(w[0].message)


def test_svd_reduce_keeps_the_requested_variance(rng):
    x = rng.standard_normal((1000, 4)) * np.array([10.0, 1.0, 0.1, 0.01])
    assert similarity.svd_reduce(x, 0.98).shape[1] == 1
    assert similarity.svd_reduce(x, 0.999).shape[1] == 2


def test_conv_maps_use_positions_as_datapoints(rng):
    a = rng.standard_normal((10, 3, 4, 4))
    flat = similarity.as_datapoints(a)
    assert flat.shape == (160, 3)
    assert np.array_equal(flat[5], a[0, :, 1, 1])


def test_layer_similarity_dispatches_every_method(rng):
    a = rng.standard_normal((60, 3, 4, 4))
    b = a + 0.1 * rng.standard_normal(a.shape)
    for method in similarity.METHODS:
        r = similarity.layer_similarity(a, b, method, keep=0.99)
        assert 0.5 < r.value <= 1.0 + 1e-12, method
    with pytest.raises(ValueError, match="allowed values"):
        similarity.layer_similarity(a, b, "mutual_information")
