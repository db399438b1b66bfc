"""Barriers against the endpoints' interpolation (closerlook.barriers): hand-computed cases,
the difference from "above the larger endpoint", and the curve file's attributes, written
and read back, old files included."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from closerlook import barriers, curve_file
from closerlook.barriers import BARRIERS, error_barrier, loss_barrier, path_barriers
from closerlook.curve_file import PATHS, Bends, barrier_attr, read_curve, write_curve
from closerlook.evidence import barrier_intervals

from support import curve


def above_larger_endpoint(values) -> float:
    """The old definition: max_t f(t) − max(f(0), f(1))."""
    v = np.asarray(values, dtype=float)
    return float(v.max() - max(v[0], v[-1]))


# ------------------------------------------------------------------------- hand-computed
def test_symmetric_bump():
    """E = 0.1, 0.4, 0.1 at t = 0, ½, 1: 0.3 above the flat chord at 0.1."""
    t, err = [0.0, 0.5, 1.0], np.array([0.1, 0.4, 0.1])
    assert error_barrier(t, 1 - err) == pytest.approx(0.3)
    assert loss_barrier(t, err) == pytest.approx(0.3)
    assert above_larger_endpoint(err) == pytest.approx(0.3)  # equal endpoints: both agree


def test_asymmetric_endpoints_count_a_bump_below_the_higher_one():
    """E(0) = 0.1, E(½) = 0.25, E(1) = 0.3: the chord at ½ is 0.2, the barrier 0.05; the
    old definition sees nothing, 0.25 being below E(1)."""
    t, err = [0.0, 0.5, 1.0], np.array([0.1, 0.25, 0.3])
    assert error_barrier(t, 1 - err) == pytest.approx(0.05)
    assert above_larger_endpoint(err) == 0.0


def test_a_straight_path_has_no_barrier():
    t = np.linspace(0, 1, 11)
    err = 0.1 + 0.2 * t  # exactly the chord between E(0) = 0.1 and E(1) = 0.3
    b = error_barrier(t, 1 - err)
    assert 0.0 <= b < 1e-15  # t = 0 and t = 1 give 0 exactly: never negative
    assert loss_barrier(t, 2.0 - 1.5 * t) == pytest.approx(0.0, abs=1e-15)


def test_a_path_below_the_chord_has_no_barrier():
    t = np.linspace(0, 1, 5)
    loss = 1.0 - np.sin(np.pi * t) * 0.5  # a dip between equal endpoints
    assert loss_barrier(t, loss) == 0.0


def test_non_uniform_grid_uses_the_t_values():
    """t = 0, 0.1, 0.25, 1 with E = 0.2, 0.3, 0.25, 0.4: the chord 0.2 + 0.2 t is 0.22 at
    0.1 and 0.25 at 0.25, so the barrier is 0.08 (taking the points as evenly spaced would
    put the second at t = ⅓, chord 0.267, barrier 0.033)."""
    t, err = [0.0, 0.1, 0.25, 1.0], np.array([0.2, 0.3, 0.25, 0.4])
    assert error_barrier(t, 1 - err) == pytest.approx(0.08)
    assert loss_barrier(t, err) == pytest.approx(0.08)
    np.testing.assert_allclose(barriers.chord(t, err), [0.2, 0.22, 0.25, 0.4])


def test_loss_barrier_against_the_interpolation():
    """L = 0.5, 2.0, 1.5: chord 1.0 at t = ½, barrier 1.0 (0.5 above the larger end)."""
    t, loss = [0.0, 0.5, 1.0], [0.5, 2.0, 1.5]
    assert loss_barrier(t, loss) == pytest.approx(1.0)
    assert above_larger_endpoint(loss) == pytest.approx(0.5)


def test_float32_inputs_give_a_float64_answer():
    t = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    acc = np.array([0.9, 0.7, 0.8], dtype=np.float32)
    b = error_barrier(t, acc)
    assert isinstance(b, float)
    assert b == pytest.approx(1 - 0.7 - 0.15, rel=1e-6)  # chord at ½: (0.1 + 0.2) / 2


def test_path_barriers_gives_the_four_keys():
    t = [0.0, 0.5, 1.0]
    metrics = {
        "train_acc": np.array([0.9, 0.6, 0.9]),
        "val_acc": np.array([0.8, 0.6, 0.7]),
        "train_loss": np.array([0.1, 1.1, 0.3]),
        "val_loss": np.array([0.4, 0.9, 0.4]),
    }
    b = path_barriers(t, metrics)
    assert tuple(b) == BARRIERS == ("error_train", "error_val", "loss_train", "loss_val")
    assert b == pytest.approx(
        {"error_train": 0.3, "error_val": 0.15, "loss_train": 0.9, "loss_val": 0.5}
    )


@pytest.mark.parametrize(
    "t, values",
    [
        ([0.0, 0.5], [0.1, 0.2, 0.3]),  # lengths differ
        ([0.1, 0.5, 1.0], [0.1, 0.2, 0.3]),  # 0 missing
        ([0.0, 0.5, 0.9], [0.1, 0.2, 0.3]),  # 1 missing
        ([0.0, 0.6, 0.5, 1.0], [0.1, 0.2, 0.2, 0.3]),  # not rising
        ([0.0], [0.1]),
    ],
)
def test_a_bad_grid_is_refused(t, values):
    with pytest.raises(ValueError, match="t"):
        loss_barrier(t, values)


# ------------------------------------------------------------------------- the curve file
BENDS = Bends(np.zeros((3, 4)), "bezier", ["w"], [[4]], {"epoch": [1], "train_loss": [0.5]})
KINDS = ("error", "loss")
ROOT = {"run_a": "sgdr", "epoch_a": 14, "run_b": "sgdr", "epoch_b": 30}


def test_curve_file_round_trip_stores_the_four_barriers(tmp_path):
    ev = curve(line_peak=1.5, curve_peak=0.012)
    out = write_curve(tmp_path / "c.h5", ev, BENDS, ROOT)
    with h5py.File(out) as f:
        for path in PATHS:
            attrs = dict(f[path].attrs)
            assert sorted(attrs) == [f"{k}_barrier_{s}" for k in KINDS for s in ("train", "val")]
            for key in BARRIERS:
                assert attrs[barrier_attr(key)] == ev.barriers[path][key]
    back = read_curve(out)
    assert back.barriers == ev.barriers
    # support.curve: loss 0.01 + 1.49 sin(πt), accuracy 1 − loss / 3
    assert back.barriers["line"]["loss_train"] == pytest.approx(1.49)
    assert back.barriers["line"]["error_train"] == pytest.approx(1.49 / 3)
    assert curve_file.BARRIERS == BARRIERS


def test_an_old_curve_file_gets_its_barriers_from_the_paths(tmp_path):
    """Written before the four attrs: only barrier_train_loss and barrier_val_loss."""
    ev = curve(line_peak=1.5, curve_peak=0.012)
    out = write_curve(tmp_path / "old.h5", ev, BENDS, ROOT)
    with h5py.File(out, "r+") as f:
        for path in PATHS:
            for key in BARRIERS:
                del f[path].attrs[barrier_attr(key)]
            f[path].attrs["barrier_train_loss"] = above_larger_endpoint(f[path]["train_loss"][()])
            f[path].attrs["barrier_val_loss"] = above_larger_endpoint(f[path]["val_loss"][()])
    back = read_curve(out)
    for path in PATHS:
        assert tuple(back.barriers[path]) == BARRIERS
        assert back.barriers[path] == pytest.approx(path_barriers(ev.t, ev.paths[path]))
    assert back.barriers["line"]["error_val"] == pytest.approx(1.49 / 3)


def test_barrier_intervals_cover_the_four_keys_across_seeds():
    curves = {s: curve(line_peak=1.5 + 0.05 * s, curve_peak=0.012) for s in range(3)}
    intervals = barrier_intervals(curves)
    assert set(intervals) == set(PATHS)
    for path in PATHS:
        assert tuple(intervals[path]) == BARRIERS
    b = intervals["line"]["loss_train"]
    assert b.n == 3 and b.mean == pytest.approx(1.54) and b.low < b.mean < b.high
    assert intervals["line"]["error_train"].mean == pytest.approx(1.54 / 3)
