"""Mode connectivity: coefficients, curves, BN recomputation, barriers and the loss plane,
each checked against a closed form or a hand-computed case."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from closerlook import (
    barriers,
    calibration,
    checkpoints,
    config,
    cost,
    curve_eval,
    curve_file,
    curve_fit,
    curves,
    data,
    models,
    plan,
)
from closerlook.data import Dataset, Split
from closerlook.plane import Plane, plane_grid


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return data.load_digits()


@pytest.fixture(scope="module")
def small(digits) -> Dataset:
    """A slice of digits small enough for many evaluations."""
    return Dataset(
        "digits",
        Split(digits.train.images[:300], digits.train.labels[:300]),
        Split(digits.val.images[:150], digits.val.labels[:150]),
        10,
    )


def tiny_vgg(seed: int) -> models.LayeredNet:
    torch.manual_seed(seed)
    return models.vgg([8, "M"], [16], (1, 8, 8), 10)


def sgd(net: torch.nn.Module, split: Split, epochs: int, lr: float = 0.1, seed: int = 0) -> None:
    """A few epochs of plain SGD (the network's BN running stats follow training)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(split), generator=g)
        for i in range(0, len(split), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(net(split.images[idx]), split.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def accuracy(net: torch.nn.Module, split: Split) -> float:
    net.eval()
    with torch.no_grad():
        return (net(split.images).argmax(1) == split.labels).float().mean().item()


# ------------------------------------------------------------------------- coefficients
@pytest.mark.parametrize("kind", ["bezier", "polychain"])
@pytest.mark.parametrize("n_bends", [2, 3, 4, 6])
def test_coefficients_select_the_endpoints_and_sum_to_one(kind, n_bends):
    coefficients = curves.COEFFICIENTS[kind]
    start, end = torch.zeros(n_bends), torch.zeros(n_bends)
    start[0], end[-1] = 1, 1
    assert torch.equal(coefficients(0.0, n_bends), start)
    assert torch.equal(coefficients(1.0, n_bends), end)
    for t in np.linspace(0, 1, 17):
        c = coefficients(float(t), n_bends)
        assert c.min() >= 0
        assert c.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_quadratic_bezier_at_one_half():
    assert torch.allclose(curves.bezier_coefficients(0.5, 3), torch.tensor([0.25, 0.5, 0.25]))


def test_cubic_bezier_is_bernstein():
    # (1-t)^3, 3t(1-t)^2, 3t^2(1-t), t^3 at t = 1/3
    expected = torch.tensor([8, 12, 6, 1]) / 27
    assert torch.allclose(curves.bezier_coefficients(1 / 3, 4), expected, atol=1e-7)


def test_polychain_passes_through_each_bend_at_its_knot():
    assert torch.equal(curves.polychain_coefficients(0.5, 3), torch.tensor([0.0, 1.0, 0.0]))
    for k in range(4):
        expected = torch.zeros(4)
        expected[k] = 1
        assert torch.allclose(curves.polychain_coefficients(k / 3, 4), expected, atol=1e-6)


def test_polychain_is_piecewise_linear():
    c = curves.polychain_coefficients
    assert torch.allclose(c(0.25, 3), torch.tensor([0.5, 0.5, 0.0]))
    assert torch.allclose(c(0.8, 3), torch.tensor([0.0, 0.4, 0.6]))
    # linear within a segment [k/(n-1), (k+1)/(n-1)], only two neighbours non-zero
    for lo, hi in [(0.0, 0.5), (0.5, 1.0)]:
        t1, t2, a = lo + 0.1 * (hi - lo), lo + 0.9 * (hi - lo), 0.3
        mixed = c(a * t1 + (1 - a) * t2, 3)
        assert torch.allclose(mixed, a * c(t1, 3) + (1 - a) * c(t2, 3), atol=1e-6)
        assert (mixed > 0).sum() == 2
    # ... but not across the knot
    assert not torch.allclose(c(0.5, 3), 0.5 * c(0.25, 3) + 0.5 * c(0.75, 3))


def test_too_few_bends_is_an_error():
    with pytest.raises(ValueError, match="at least 2"):
        curves.bezier_coefficients(0.5, 1)
    with pytest.raises(ValueError, match="kind"):
        curves.Curve(tiny_vgg(0), "spline", torch.zeros(3), torch.zeros(3), torch.zeros(1, 3))


# ------------------------------------------------------------------------- the curve
def make_curve(kind: str, n_bends: int = 3) -> curves.Curve:
    a, b = tiny_vgg(0), tiny_vgg(1)
    return curves.Curve.on_segment(
        a, curves.flat_parameters(a), curves.flat_parameters(b), kind, n_bends
    )


@pytest.mark.parametrize(("kind", "n_bends"), [("polychain", 3), ("bezier", 3), ("bezier", 5)])
def test_bends_on_the_segment_give_the_line(kind, n_bends, small):
    curve = make_curve(kind, n_bends)
    ts = [0.0, 0.2, 0.5, 0.7, 1.0]
    for t in ts:
        line = curves.segment(curve.start, curve.end, t)
        assert torch.allclose(curve.flat_weights(t), line, atol=1e-6)
    bn = small.train.images
    net = curve.net
    on_line = curve_eval.evaluate_path(
        lambda t: curves.segment(curve.start, curve.end, t), net, ts, small.train, small.val, bn
    )
    on_curve = curve_eval.evaluate_path(
        lambda t: curve.flat_weights(t).detach(), net, ts, small.train, small.val, bn
    )
    for k in curve_eval.METRICS:
        np.testing.assert_allclose(on_curve[k], on_line[k], rtol=1e-4, atol=1e-5)


def test_functional_call_runs_the_network_at_w_t(small):
    curve = make_curve("bezier")
    x = small.val.images[:8]
    net = tiny_vgg(5).eval()
    curve.net.eval()
    curves.load_flat_parameters(net, curve.flat_weights(0.3).detach())
    assert torch.allclose(curve(x, 0.3), net(x), atol=1e-5)
    assert torch.equal(curve.flat_weights(0.0), curve.start)


def test_weight_decay_gradient_is_coefficient_times_lambda_w(small):
    curve = make_curve("polychain")
    t, lam = 0.25, 0.1
    w = curve.flat_weights(t)
    curve_fit.l2_penalty(w, lam).backward()
    c1 = curves.polychain_coefficients(t, 3)[1]
    assert torch.allclose(curve.interior.grad[0], c1 * lam * w.detach(), atol=1e-7)


def test_training_keeps_the_endpoints_and_moves_the_bend(small):
    curve = make_curve("polychain")
    start, end = curve.start.clone(), curve.end.clone()
    bend = curve.interior.detach().clone()
    history = curve_fit.fit_curve(
        curve, small.train, plan.CurveFit(epochs=2, lr=0.05, batch_size=64), 8
    )
    assert torch.equal(curve.start, start) and torch.equal(curve.end, end)
    assert torch.equal(curve.flat_weights(0.0), start)
    assert torch.equal(curve.flat_weights(1.0), end)
    assert not torch.allclose(curve.interior.detach(), bend)
    assert len(history.train_loss) == 2 and all(map(math.isfinite, history.train_loss))


def test_curve_training_lowers_the_loss_in_the_middle(small):
    """Two trained networks: the middle of the fitted chain beats the middle of the line."""
    a, b = tiny_vgg(0), tiny_vgg(1)
    sgd(a, small.train, 6, seed=0)
    sgd(b, small.train, 6, seed=1)
    curve = curves.Curve.on_segment(
        a, curves.flat_parameters(a), curves.flat_parameters(b), "polychain", 3
    )
    bn = small.train.images
    before = curve_eval.evaluate_weights(
        curve.net, curve.flat_weights(0.5).detach(), small.train, small.val, bn
    )
    curve_fit.fit_curve(curve, small.train, plan.CurveFit(epochs=8, lr=0.05, batch_size=32), 8)
    after = curve_eval.evaluate_weights(
        curve.net, curve.flat_weights(0.5).detach(), small.train, small.val, bn
    )
    assert after["train_loss"] < 0.5 * before["train_loss"]


def test_endpoints_of_different_architectures_are_refused():
    a = {"model_spec": {"arch": "vgg", "conv": [8]}, "in_shape": [1, 8, 8], "num_classes": 10}
    b = {**a, "model_spec": {"arch": "vgg", "conv": [16]}}
    with pytest.raises(ValueError, match="model_spec"):
        curves.curve_from_checkpoints(a, b, "bezier", 3)


# ------------------------------------------------------------------------- barriers
def test_convex_problem_has_no_barrier_along_the_line(digits):
    """Multinomial logistic regression: cross-entropy is convex in the weights, so
    L((1−t)a + tb) ≤ (1−t)L(a) + tL(b) and the loss barrier along the line is 0."""
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        net = models.vgg([], [], (1, 8, 8), 10)  # Flatten + Linear: logistic regression
        with torch.no_grad():
            for p in net.parameters():
                p.normal_(0, 0.5)
        sgd(net, digits.train, 1, lr=0.01, seed=seed)
        nets.append(net)
    a, b = (curves.flat_parameters(n) for n in nets)
    ts = np.linspace(0, 1, 21)
    path = curve_eval.evaluate_path(
        lambda t: curves.segment(a, b, t),
        nets[0],
        ts,
        digits.train,
        digits.val,
        digits.train.images,
    )
    assert barriers.loss_barrier(ts, path["train_loss"]) < 1e-5
    assert barriers.loss_barrier(ts, path["val_loss"]) < 1e-5
    # convexity bounds every point by the chord, the barrier's baseline
    chord = (1 - ts) * path["train_loss"][0] + ts * path["train_loss"][-1]
    assert np.all(path["train_loss"] <= chord + 1e-5)


# ------------------------------------------------------------------------- batch norm
def test_recomputed_bn_mean_is_the_exact_data_mean(small):
    net = tiny_vgg(0)
    images = small.train.images[:250]  # batches 100, 100, 50: unequal sizes
    curve_eval.recompute_batchnorm(net, images, batch_size=100)
    conv, bn = net.stages["conv1"][0], net.stages["conv1"][1]
    with torch.no_grad():
        z = conv(images)
    assert torch.allclose(bn.running_mean, z.mean(dim=(0, 2, 3)), atol=1e-5)


def test_bn_recomputation_restores_the_endpoint_accuracy(small):
    net = tiny_vgg(0)
    sgd(net, small.train, 8)
    endpoint_acc = accuracy(net, small.val)
    curve = curves.Curve.on_segment(
        net, curves.flat_parameters(net), curves.flat_parameters(tiny_vgg(1)), "bezier", 3
    )
    for m in curve.net.modules():  # statistics of another network
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(0.01)
    stale = curve.net.stages["conv1"][1].running_mean.clone()
    broken_acc = accuracy(curve.net, small.val)
    r = curve_eval.evaluate_weights(
        curve.net, curve.flat_weights(0.0).detach(), small.train, small.val, small.train.images
    )
    assert not torch.allclose(curve.net.stages["conv1"][1].running_mean, stale)
    assert broken_acc < endpoint_acc - 0.2
    assert r["val_acc"] == pytest.approx(endpoint_acc, abs=0.03)


def test_bn_subset_is_fixed_by_its_seed(small):
    images = small.train.images
    a, b = curve_eval.bn_subset(images, 50, 3), curve_eval.bn_subset(images, 50, 3)
    assert a.shape[0] == 50 and torch.equal(a, b)
    assert curve_eval.bn_subset(images, 0, 3) is images


# ------------------------------------------------------------------------- the plane
def test_plane_basis_and_projection_hand_computed():
    a, b, theta = torch.zeros(3), torch.tensor([2.0, 0, 0]), torch.tensor([1.0, 1, 0])
    plane = Plane.through(a, b, theta)
    assert torch.allclose(plane.u, torch.tensor([1.0, 0, 0], dtype=torch.float64))
    assert torch.allclose(plane.v, torch.tensor([0.0, 1, 0], dtype=torch.float64))
    assert plane.coordinates(b) == pytest.approx((2.0, 0.0, 0.0))
    assert plane.coordinates(theta) == pytest.approx((1.0, 1.0, 0.0))
    assert plane.coordinates(torch.tensor([2.0, 3, 4])) == pytest.approx((2.0, 3.0, 4.0))
    assert torch.allclose(plane.point(0.5, -1.0), torch.tensor([0.5, -1.0, 0.0]))


def test_plane_in_high_dimension_is_orthonormal_and_contains_its_points():
    g = torch.Generator().manual_seed(0)
    a, b, theta = (torch.randn(1000, generator=g) for _ in range(3))
    plane = Plane.through(a, b, theta)
    assert torch.dot(plane.u, plane.u).item() == pytest.approx(1.0)
    assert torch.dot(plane.v, plane.v).item() == pytest.approx(1.0)
    assert abs(torch.dot(plane.u, plane.v).item()) < 1e-12
    for w in (a, b, theta):
        x, y, off = plane.coordinates(w)
        assert off < 1e-4
        assert torch.allclose(plane.point(x, y), w, atol=1e-5)
    assert plane.coordinates(b)[0] == pytest.approx((b - a).norm().item(), rel=1e-6)


def test_degenerate_planes_are_refused():
    a, b = torch.zeros(3), torch.ones(3)
    with pytest.raises(ValueError, match="no plane"):
        Plane.through(a, b, 0.5 * b)
    with pytest.raises(ValueError, match="coincide"):
        Plane.through(a, a, b)


def test_plane_grid_covers_the_points_with_margin():
    xs, ys = plane_grid(np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 1.0]]), 5, 0.25)
    np.testing.assert_allclose(xs, [-1.0, 0.5, 2.0, 3.5, 5.0])
    np.testing.assert_allclose(ys, [-0.25, 0.125, 0.5, 0.875, 1.25])


# ------------------------------------------------------------------------- files
def fake_checkpoint(net: models.LayeredNet) -> dict:
    return {
        "model": net.state_dict(),
        "model_spec": {"arch": "vgg", "conv": [8, "M"], "fc": [16]},
        "in_shape": [1, 8, 8],
        "num_classes": 10,
    }


def test_fit_and_evaluate_write_the_curve_file(tmp_path, small):
    a, b = tiny_vgg(0), tiny_vgg(1)
    sgd(a, small.train, 2, seed=0)
    sgd(b, small.train, 2, seed=1)
    paths = {}
    for name, net in (("a", a), ("b", b), ("init", tiny_vgg(7))):
        paths[name] = tmp_path / f"{name}.pt"
        checkpoints.save(fake_checkpoint(net), paths[name])
    fit = plan.CurveFit(epochs=1, lr=0.05, batch_size=64, kind="bezier", n_bends=3)
    out = tmp_path / "c.pt"
    curve_fit.fit_between(paths["a"], paths["b"], out, small, fit, {"curve": "c"}, "cpu")
    curve, obj = curves.load_curve(tmp_path / "c.pt")
    assert torch.equal(curve.start, curves.flat_parameters(a))
    assert torch.equal(curve.end, curves.flat_parameters(b))
    assert obj["provenance"]["source_sha256_a"] != obj["provenance"]["source_sha256_b"]

    def evaluate(name: str, grid: int):
        projections = {k: paths[k] for k in ("init", "a", "b")}
        settings = plan.CurveEval(points=5, grid=grid)
        return curve_eval.evaluate_curve_file(
            tmp_path / "c.pt", tmp_path / name, small, settings, projections, device="cpu"
        )

    out = evaluate("c.h5", 3)
    with h5py.File(out) as f:
        assert f.attrs["kind"] == "curve"
        assert len(f.attrs["source_sha256_a"]) == 64 and len(f.attrs["source_sha256_b"]) == 64
        np.testing.assert_allclose(f["t"][:], [0, 0.25, 0.5, 0.75, 1])
        for path in ("line", "curve"):
            for k in curve_eval.METRICS:
                assert f[path][k].shape == (5,)
            for key in barriers.BARRIERS:
                assert f[path].attrs[curve_file.barrier_attr(key)] >= 0
            assert "barrier_train_loss" not in f[path].attrs
        # both paths share their endpoints
        np.testing.assert_allclose(f["line/val_loss"][[0, -1]], f["curve/val_loss"][[0, -1]])
        assert f["bends"].shape == (3, curve.start.numel())
        assert f["plane/train_loss"].shape == (3, 3)
        xyz = f["plane/checkpoints_xyz"][:]
        assert [s.decode() for s in f["plane/checkpoints_label"][:]] == ["init", "a", "b"]
        np.testing.assert_allclose(xyz[1], [0, 0, 0], atol=1e-6)
        np.testing.assert_allclose(xyz[2, 1:], [0, 0], atol=1e-4)
        assert xyz[0, 2] > 0  # the initialisation lies off the plane
        assert f["fit/train_loss"].shape == (1,)

    # without the plane (a curve's `plane: false`): line, curve and barriers the same, an
    # empty grid, the projections still on the plane
    flat = evaluate("flat.h5", 0)
    with h5py.File(out) as f, h5py.File(flat) as g:
        assert g["plane/train_loss"].shape == (0, 0) and g["plane/x"].shape == (0,)
        np.testing.assert_allclose(g["curve/train_loss"][:], f["curve/train_loss"][:])
        np.testing.assert_allclose(g["plane/checkpoints_xyz"][:], xyz)


def test_a_curve_without_its_plane_costs_the_line_and_curve_only(embedded_config):
    cfg = config.validate(embedded_config)
    assert plan.curve_eval(cfg, "sgdr_restarts").grid == 9  # RQ1's loss-plane figure
    assert plan.curve_eval(cfg, "seed_to_seed").grid == 0
    cal = calibration.load(calibration.DEFAULT_CALIBRATION)
    ctx = cost.Context(cfg, cal, (1, 8, 8), data.split_sizes(cfg["data"]))
    with_plane = cost.curve_evaluate_cost(ctx, "sgdr_restarts").seconds
    without = cost.curve_evaluate_cost(ctx, "seed_to_seed").seconds
    assert without < with_plane * (2 * 31) / (2 * 31 + 9**2) * 1.5
