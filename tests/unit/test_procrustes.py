"""Orthogonal Procrustes similarity (closerlook.procrustes) against known answers: the
nuclear-norm formula, |correlation| in one dimension, the distance relation
min_Q ‖X − YQ‖²_F = 2 − 2·similarity with the optimal rotation built independently,
invariance to orthogonal maps and isotropic scaling but not to a general linear map."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from closerlook import similarity
from closerlook.dimensions import DimensionWarning
from closerlook.procrustes import procrustes


def normalised(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=0)
    return xc / np.linalg.norm(xc)


def nuclear_formula(x, y) -> float:
    return float(np.linalg.norm(normalised(x).T @ normalised(y), ord="nuc"))


def related(n=200, p=30, q=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    return x, np.tanh(x @ rng.normal(size=(p, q))) + 0.3 * rng.normal(size=(n, q))


@pytest.mark.parametrize(("n", "p", "q"), [(200, 30, 20), (40, 300, 150), (25, 10, 500)])
def test_procrustes_is_the_nuclear_norm_of_the_normalised_cross_product(n, p, q):
    # the last two take the row-space reduction: more features than examples
    rng = np.random.default_rng(p)
    x, y = rng.normal(size=(n, p)) + 2.0, rng.normal(size=(n, q))
    y[:, :5] += x[:, :5]
    assert procrustes(x, y) == pytest.approx(nuclear_formula(x, y), rel=1e-10)
    assert similarity.procrustes(x, y) == procrustes(x, y)


def test_in_one_dimension_it_is_the_absolute_correlation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 1))
    y = -0.5 * x + rng.normal(size=(100, 1))
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert r < 0 and procrustes(x, y) == pytest.approx(abs(r), rel=1e-12)


def test_the_distance_to_the_best_rotation_is_two_minus_twice_the_similarity():
    x, y = related(p=20, q=20)
    a, b = normalised(x), normalised(y)
    rotation, _ = orthogonal_procrustes(b, a)  # argmin_Q ‖b Q − a‖_F over orthogonal Q
    distance = np.linalg.norm(a - b @ rotation) ** 2
    assert distance == pytest.approx(2 - 2 * procrustes(x, y), rel=1e-10)


def test_identical_inputs_give_one_and_the_value_lies_in_0_1():
    x, y = related()
    assert procrustes(x, x) == pytest.approx(1.0)
    assert 0 < procrustes(x, y) < 1


def test_invariant_to_orthogonal_maps_and_isotropic_scaling():
    x, y = related()
    q_x, q_y = ortho_group.rvs(30, random_state=3), ortho_group.rvs(20, random_state=4)
    assert procrustes(7.0 * x @ q_x + 1.0, 0.1 * y @ q_y) == pytest.approx(procrustes(x, y))


def test_a_general_invertible_linear_map_changes_it_unlike_cca():
    x, y = related()
    stretch = np.diag(np.geomspace(0.05, 20.0, 30)) @ ortho_group.rvs(30, random_state=6)
    assert np.linalg.cond(stretch) < 1e4  # invertible
    assert abs(procrustes(x @ stretch, y) - procrustes(x, y)) > 0.05
    cca = similarity.cca_result(x, y).mean
    assert similarity.cca_result(x @ stretch, y).mean == pytest.approx(cca, rel=1e-8)


def test_a_side_without_variance_is_nan_with_a_warning():
    x, y = related()
    with pytest.warns(DimensionWarning, match="no variance"):
        assert np.isnan(procrustes(np.full_like(x, 3.0), y))
    dead = np.hstack([x, np.zeros((len(x), 4))])
    assert procrustes(dead, y) == pytest.approx(procrustes(x, y), rel=1e-12)
