"""srcgrad.check_grad: passes on correct derivatives, fails loudly on wrong ones."""

import numpy as np
import pytest

import srcgrad
from srcgrad.testing import GradientCheckError


def smooth(x, w):
    return np.tanh(x @ w).sum() + (w ** 2).mean()


def rows(x):
    total = 0.0
    for row in x:
        total = total + np.exp(row).sum()
    return total


def test_passes_on_a_correct_derivative_in_both_modes():
    rng = np.random.default_rng(1)
    results = srcgrad.check_grad(smooth, rng.standard_normal((4, 3)),
                                 rng.standard_normal(3), wrt=(0, 1))
    assert {(r.argument, r.mode) for r in results} == {
        ("x", "rev"), ("x", "fwd"), ("w", "rev"), ("w", "fwd")}
    assert all(r.relative_error < 1e-6 for r in results)


def test_checks_loops_and_names():
    results = srcgrad.check_grad(rows, np.linspace(-1, 1, 6).reshape(3, 2), wrt="x",
                                 modes=("rev",))
    assert [r.mode for r in results] == ["rev"]


def test_catches_a_wrong_derivative():
    # stop_gradient hides a dependence from srcgrad that finite differences see.
    def wrong(x):
        return (srcgrad.stop_gradient(x) * x).sum()

    with pytest.raises(GradientCheckError, match="with respect to `x`"):
        srcgrad.check_grad(wrong, np.array([1.0, 2.0, 3.0]))


def test_rejects_unknown_modes_and_orders():
    with pytest.raises(ValueError):
        srcgrad.check_grad(rows, np.ones((2, 2)), modes=("sideways",))
    with pytest.raises(ValueError):
        srcgrad.check_grad(rows, np.ones((2, 2)), order=3)


def test_second_order_through_a_loop():
    results = srcgrad.check_grad(rows, np.linspace(-1, 1, 6).reshape(3, 2), order=2)
    second = [r for r in results if r.mode == "fwd-over-rev"]
    assert len(second) == 1 and second[0].relative_error < 1e-6
