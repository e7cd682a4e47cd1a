"""srcgrad.jacobian in both modes against analytic Jacobians."""

import numpy as np
import pytest

import srcgrad


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def affine(x, W, b):
    return W @ x + b


def loop_map(x):
    y = x
    for _ in range(3):
        y = np.sin(y) * x
    return y


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_softmax_jacobian_is_diag_minus_outer(mode):
    z = np.array([0.3, -1.0, 2.0, 0.5])
    s = softmax(z)
    expected = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(srcgrad.jacobian(softmax, mode=mode)(z), expected, atol=1e-12)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_affine_jacobians_for_a_tuple_of_arguments(mode):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(2)
    jx, jW, jb = srcgrad.jacobian(affine, wrt=(0, 1, 2), mode=mode)(x, W, b)
    np.testing.assert_allclose(jx, W)
    np.testing.assert_allclose(jb, np.eye(2))
    expected_W = np.zeros((2, 2, 3))
    for i in range(2):
        expected_W[i, i] = x
    np.testing.assert_allclose(jW, expected_W)


def test_modes_agree_through_a_loop():
    x = np.array([0.4, -0.9, 1.3])
    forward = srcgrad.jacobian(loop_map, mode="fwd")(x)
    reverse = srcgrad.jacobian(loop_map, mode="rev")(x)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-14)
    eps = 1e-6
    numeric = np.stack([(loop_map(x + eps * e) - loop_map(x - eps * e)) / (2 * eps)
                        for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(reverse, numeric, rtol=1e-6, atol=1e-8)


def test_rejects_an_unknown_mode():
    with pytest.raises(ValueError):
        srcgrad.jacobian(softmax, mode="sideways")
