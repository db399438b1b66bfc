"""The measures take rows as examples (datapoints) and columns as neurons; inputs in
google/svcca's neurons × datapoints layout are warned about or refused
(closerlook.orientation), and the numbers of the normal layout are unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from closerlook import similarity
from closerlook.orientation import OrientationWarning
from closerlook.procrustes import procrustes
from closerlook.unbiased_cka import debiased_cka

CCA_MEASURES = {
    "cca": lambda x, y: float(similarity.cca(x, y).mean()),
    "cca_result": lambda x, y: similarity.cca_result(x, y).mean,
    "svcca": similarity.svcca,
    "svcca_result": lambda x, y: similarity.svcca_result(x, y).mean,
    "pwcca": similarity.pwcca,
    "pwcca_result": lambda x, y: similarity.pwcca_result(x, y).value,
}


def related(n: int = 500, d: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A realistic pair: 500 probe examples (rows) of two layers of 64 neurons, b a noisy
    linear map of a."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    return a, a @ rng.standard_normal((d, d)) + 2.0 * rng.standard_normal((n, d))


@pytest.mark.filterwarnings("ignore::closerlook.dimensions.DimensionWarning")  # 64 rows
@pytest.mark.parametrize("name", CCA_MEASURES)
def test_a_transposed_pair_warns_and_the_normal_layout_does_not(name):
    measure, (a, b) = CCA_MEASURES[name], related()
    with warnings.catch_warnings():
        warnings.simplefilter("error", OrientationWarning)
        normal = measure(a, b)
    with pytest.warns(OrientationWarning, match="look transposed.*neurons × datapoints") as w:
        flipped = measure(a.T, b.T)
    assert w[0].filename == __file__  # the warning points at the caller's line
    assert abs(flipped - normal) > 0.01  # what google/svcca's layout silently gives


def test_svcca_of_the_normal_layout_keeps_its_numbers():
    a, b = related()
    # a linear map of a has the same column space: every canonical correlation is 1
    m = np.random.default_rng(1).standard_normal((64, 64))
    assert similarity.svcca(a, a @ m, keep=1.0) == pytest.approx(1.0, abs=1e-9)
    # the public measure and the pipeline's layer path compute the same number
    assert similarity.svcca(a, b) == similarity.layer_similarity(a, b, "svcca").value
    assert similarity.pwcca(a, b) == similarity.layer_similarity(a, b, "pwcca").value


def test_the_pipeline_layer_path_does_not_warn_on_wide_dense_layers():
    """Activation files are examples × neurons by construction: a dense layer wider than
    the probe set is degenerate for CCA (a DimensionWarning) but not transposed."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((40, 64)), rng.standard_normal((40, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OrientationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        similarity.layer_similarity(a, b, "svcca")


@pytest.mark.parametrize(
    "measure", [similarity.svcca, similarity.linear_cka, debiased_cka, procrustes]
)
def test_mismatched_rows_are_refused_naming_the_side_that_looks_transposed(measure):
    a, b = related()
    with pytest.raises(ValueError, match=r"x has 64 rows but y has 500.*x looks transposed"):
        measure(a.T, b)
    with pytest.raises(ValueError, match=r"y looks transposed.*pass y\.T"):
        measure(a, b.T)
    wider = np.random.default_rng(3).standard_normal((500, 128))
    with pytest.raises(ValueError, match="both look transposed") as info:
        measure(a.T, wider.T)
    assert "\n" not in str(info.value)
