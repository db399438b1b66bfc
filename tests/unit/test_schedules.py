"""Schedules against closed forms (Loshchilov & Hutter 2017; the study's settings)."""

import math

import pytest

from closerlook import schedules

from support import config_error


def test_sgdr_cycle_ends_match_the_study():
    # T0 = 10, T_mult = 2 over 200 epochs: restarts after epochs 10, 30, 70 and 150.
    assert schedules.sgdr_cycle_ends(10, 2, 200) == [10, 30, 70, 150]
    assert schedules.sgdr_cycle_ends(2, 2, 30) == [2, 6, 14, 30]
    assert schedules.sgdr_cycle_ends(5, 1, 20) == [5, 10, 15, 20]


def test_sgdr_restarts_at_lr_max_and_anneals_to_lr_min():
    f = schedules.sgdr(lr_max=0.05, lr_min=1e-6, T0=10, T_mult=2)
    for start in [0, 10, 30, 70, 150]:
        assert f(start) == pytest.approx(0.05)
    # halfway through the second cycle (length 20, epochs 10..30): the mean of max and min
    assert f(20) == pytest.approx((0.05 + 1e-6) / 2)
    assert f(30 - 1e-9) == pytest.approx(1e-6, abs=1e-9)


def test_sgdr_position():
    assert schedules.sgdr_position(0, 10, 2) == (0, 0, 10)
    assert schedules.sgdr_position(35, 10, 2) == (2, 5, 40)


def test_cosine_single_cycle_closed_form():
    f = schedules.cosine_annealing(1.0, 0.0, 100)
    assert f(0) == 1.0
    assert f(50) == pytest.approx(0.5)
    assert f(25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert f(100) == pytest.approx(0.0)


def test_step_decay_multiplies_by_gamma_after_each_milestone():
    f = schedules.step_decay(0.05, [60, 120, 150], 0.1)
    assert f(0) == 0.05
    assert f(59.99) == 0.05
    assert f(60) == pytest.approx(0.005)
    assert f(130) == pytest.approx(0.0005)
    assert f(199) == pytest.approx(0.00005)


def test_per_epoch_holds_the_rate_within_an_epoch():
    spec = {"kind": "sgdr", "lr_max": 1.0, "lr_min": 0.0, "T0": 4, "T_mult": 1, "per": "epoch"}
    f = schedules.from_config(spec, epochs=8)
    assert f(1.0) == f(1.99)
    g = schedules.from_config({**spec, "per": "iteration"}, epochs=8)
    assert g(1.0) > g(1.5)


def test_sgdr_restart_epochs_of_the_paper_from_config():
    # the rate is back at lr_max exactly at the epochs after which the cycles end
    spec = {"kind": "sgdr", "lr_max": 0.05, "lr_min": 1e-6, "T0": 10, "T_mult": 2}
    f = schedules.from_config(spec, epochs=200)
    restarts = [e for e in range(1, 200) if f(e) > f(e - 1)]
    assert restarts == [10, 30, 70, 150]


def test_linear_warmup_first_steps_by_hand():
    # the paper's setting: lr 2.5, 20 epochs of warmup at 10 iterations per epoch
    f = schedules.from_config({"kind": "constant", "lr": 2.5}, epochs=200, warmup_epochs=20)
    first = [schedules.at_step(f, s, steps_per_epoch=10) for s in range(4)]
    assert first == pytest.approx([0.0, 2.5 / 200, 2 * 2.5 / 200, 3 * 2.5 / 200])
    assert schedules.at_step(f, 100, 10) == pytest.approx(1.25)  # halfway through warmup
    assert schedules.at_step(f, 200, 10) == 2.5
    assert schedules.at_step(f, 1999, 10) == 2.5


def test_warmup_ramps_within_an_epoch_even_for_per_epoch_schedules():
    spec = {"kind": "step", "lr": 1.0, "milestones": [3], "gamma": 0.1, "per": "epoch"}
    f = schedules.from_config(spec, epochs=5, warmup_epochs=2)
    assert f(0.5) == pytest.approx(0.25)
    assert f(1.5) == pytest.approx(0.75)
    assert f(2.5) == 1.0
    assert f(3.5) == pytest.approx(0.1)


def test_warmup_multiplies_any_schedule():
    base = schedules.sgdr(1.0, 0.0, T0=4, T_mult=1)
    f = schedules.linear_warmup(base, 2)
    for t in [0.0, 0.3, 1.0, 1.7]:
        assert f(t) == pytest.approx(base(t) * t / 2)
    for t in [2.0, 3.3, 7.9]:
        assert f(t) == base(t)
    assert schedules.linear_warmup(base, 0) is base


def test_cosine_from_config_spans_the_whole_run():
    f = schedules.from_config({"kind": "cosine", "lr_max": 0.05, "lr_min": 0.0}, epochs=200)
    assert f(0) == 0.05
    assert f(100) == pytest.approx(0.025)
    assert f(200) == pytest.approx(0.0)


# ----------------------------------------------------------------- a schedule of your own
TRIANGULAR = """
def triangular(epoch, epochs, lr_min, lr_max, cycle):
    position = (epoch % cycle) / cycle
    return lr_min + (lr_max - lr_min) * (1 - abs(2 * position - 1))


def late_drop(epoch, epochs):
    return 0.1 if epoch < epochs - 1 else -0.1


def fails(epoch, epochs):
    raise ZeroDivisionError("no rate here")
"""


@pytest.fixture
def own_schedule(tmp_path):
    module = f"sched_{abs(hash(str(tmp_path))) % 10**8}"
    path = tmp_path / f"{module}.py"
    path.write_text(TRIANGULAR)
    return module, str(path)


TRIANGULAR_KWARGS = {"lr_min": 0.01, "lr_max": 0.1, "cycle": 4}


def python_spec(module, source, per="epoch", function="triangular", kwargs=TRIANGULAR_KWARGS):
    return {"kind": "python", "function": f"{module}:{function}", "source": source,
            "kwargs": kwargs, "per": per}  # fmt: skip


def test_a_python_schedule_gives_the_hand_computed_rates(own_schedule):
    # triangular, lr 0.01 -> 0.1 -> 0.01 every 4 epochs: at epoch 0, 1, 2, 3, 4 the rates
    # 0.01, 0.055, 0.1, 0.055, 0.01
    f = schedules.from_config(python_spec(*own_schedule), epochs=8)
    assert [f(e) for e in range(5)] == pytest.approx([0.01, 0.055, 0.1, 0.055, 0.01])
    assert f(1.5) == pytest.approx(0.055)  # per: epoch holds the epoch's rate
    g = schedules.from_config(python_spec(*own_schedule, per="iteration"), epochs=8)
    assert g(1.5) == pytest.approx(0.01 + 0.09 * 0.75)  # position 3/8: 1 - |0.75 - 1|


def test_a_python_schedule_composes_with_warmup_by_hand(own_schedule):
    # 2 epochs of warmup multiply by t/2: at t = 1 the rate is 0.5 * 0.055; at t = 0.5
    # (within an epoch, even per: epoch) 0.25 * 0.01; from t = 2 on the schedule itself
    f = schedules.from_config(python_spec(*own_schedule), epochs=8, warmup_epochs=2)
    assert f(1) == pytest.approx(0.5 * 0.055)
    assert f(0.5) == pytest.approx(0.25 * 0.01)
    assert f(2) == pytest.approx(0.1) and f(3) == pytest.approx(0.055)


def test_a_python_schedule_gets_the_runs_epochs(own_schedule):
    module, source = own_schedule
    f = schedules.from_config(
        python_spec(module, source, function="late_drop", kwargs={}), epochs=5
    )
    assert f(3) == 0.1 and f(4) == -0.1


@pytest.mark.parametrize(
    ("function", "says"),
    [
        # the embedded runs train 30 epochs: late_drop turns negative in the last, 29
        ("late_drop", "gives -0.1 at epoch 29; a learning rate is a finite number >= 0"),
        ("fails", "at epoch 0: ZeroDivisionError: no rate here"),
        ("absent", "has no function 'absent'"),
    ],
)
def test_a_python_schedule_without_a_rate_is_a_one_line_config_error(
    own_schedule, embedded_config, function, says
):
    module, source = own_schedule
    cfg = {**embedded_config, "runs": {**embedded_config["runs"]}}
    spec = python_spec(module, source, function=function, kwargs={})
    cfg["runs"]["cosine"] = {"schedule": spec}
    message = config_error(cfg)
    assert message.startswith("'runs.cosine.schedule.function': ")
    assert says in message
