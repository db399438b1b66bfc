"""The distillation loss against its closed form (Hinton et al. 2015)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from closerlook import distill


def kl_by_hand(student, teacher, T):
    """Σ_c p_t,c log(p_t,c / p_s,c) averaged over rows, in float64 NumPy."""
    s, t = np.asarray(student, float) / T, np.asarray(teacher, float) / T
    p_s = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    p_t = np.exp(t) / np.exp(t).sum(1, keepdims=True)
    return float(np.mean(np.sum(p_t * np.log(p_t / p_s), axis=1)))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(5, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 4, generator=g, dtype=torch.float64) * 3,
        torch.tensor([0, 1, 2, 3, 1]),
    )


def test_alpha_zero_is_cross_entropy(batch):
    s, t, y = batch
    assert distill.distillation_loss(s, t, y, 4.0, 0.0) == F.cross_entropy(s, y)


def test_matches_the_closed_form(batch):
    s, t, y = batch
    for T, a in [(1.0, 0.5), (4.0, 0.9), (10.0, 1.0)]:
        expected = (1 - a) * F.cross_entropy(s, y).item() + a * T**2 * kl_by_hand(s, t, T)
        assert distill.distillation_loss(s, t, y, T, a).item() == pytest.approx(expected, 1e-12)


def test_two_class_case_by_hand():
    # student logits (0, 0): p_s = (1/2, 1/2); teacher (ln 3, 0) at T = 1: p_t = (3/4, 1/4)
    s = torch.zeros(1, 2, dtype=torch.float64)
    t = torch.tensor([[math.log(3.0), 0.0]], dtype=torch.float64)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert distill.soft_kl(s, t, 1.0).item() == pytest.approx(kl)
    # teacher logits (2 ln 3, 0) at T = 2 give the same soft targets, and the T² factor
    t2 = torch.tensor([[2 * math.log(3.0), 0.0]], dtype=torch.float64)
    y = torch.tensor([0])
    assert distill.distillation_loss(s, t2, y, 2.0, 1.0).item() == pytest.approx(4 * kl)


def test_identical_logits_leave_only_the_hard_term(batch):
    s, _, y = batch
    loss = distill.distillation_loss(s, s.clone(), y, 4.0, 0.9)
    assert loss.item() == pytest.approx(0.1 * F.cross_entropy(s, y).item(), 1e-12)


def test_gradient_of_the_soft_term_is_T_times_the_probability_gap(batch):
    # d/ds [T² KL(p_T(t) ‖ p_T(s))] = T (p_T(s) − p_T(t)) / B: the T² keeps it O(1) in T
    s, t, y = batch
    for T in [1.0, 4.0, 20.0]:
        s_ = s.clone().requires_grad_(True)
        distill.distillation_loss(s_, t, y, T, 1.0).backward()
        gap = distill.soft_targets(s, T) - distill.soft_targets(t, T)
        torch.testing.assert_close(s_.grad, T * gap / len(s))


def test_no_gradient_reaches_the_teacher(batch):
    s, t, y = batch
    t = t.clone().requires_grad_(True)
    distill.distillation_loss(s.requires_grad_(True), t, y).backward()
    assert t.grad is None
