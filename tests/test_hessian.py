"""Hessians and Hessian-vector products against analytic second derivatives.

`srcgrad.hessian` is forward mode over the emitted gradient, column by column;
`srcgrad.hvp` is one forward sweep over it. Both must match closed forms, including
through loops and branches, and H @ v must equal hvp(v).
"""

import numpy as np
import pytest

import srcgrad


def quadratic_form(x, A):
    return x @ A @ x


def cubic_sum(x):
    return (x ** 3).sum() + x[0] * x[1] ** 2


def log_sum_exp(x):
    m = x.max()
    return m + np.log(np.exp(x - m).sum())


def looped_sines(x):
    total = 0.0
    for i in range(1, 4):
        total = total + np.sin(x * i).sum()
    return total


def branchy(x):
    if x.sum() > 0:
        y = (x ** 2).sum() * 3.0
    else:
        y = np.exp(x).sum()
    return y


def rosenbrock(x):
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def _rosenbrock_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i, i + 1] += -400.0 * x[i]
        H[i + 1, i] += -400.0 * x[i]
        H[i + 1, i + 1] += 200.0
    return H


A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
X = np.array([0.4, -0.7, 1.1])


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


CASES = [
    ("quadratic_form", quadratic_form, (X, A), A + A.T),
    ("cubic_sum", cubic_sum, (X,), np.diag(6 * X) + np.array(
        [[0, 2 * X[1], 0], [2 * X[1], 2 * X[0], 0], [0, 0, 0]])),
    ("log_sum_exp", log_sum_exp, (X,), np.diag(_softmax(X)) - np.outer(_softmax(X), _softmax(X))),
    ("looped_sines", looped_sines, (X,), np.diag([-sum(i * i * np.sin(i * v) for i in range(1, 4))
                                                  for v in X])),
    ("branchy-positive", branchy, (X,), 6.0 * np.eye(3)),
    ("branchy-negative", branchy, (-X - 1.0,), np.diag(np.exp(-X - 1.0))),
    ("rosenbrock", rosenbrock, (np.array([0.5, -0.2, 1.3, 0.8]),),
     _rosenbrock_hessian(np.array([0.5, -0.2, 1.3, 0.8]))),
]


@pytest.mark.parametrize("name, function, args, expected", CASES, ids=[c[0] for c in CASES])
def test_hessian_matches_the_closed_form(name, function, args, expected):
    H = srcgrad.hessian(function)(*args)
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, function, args, expected", CASES, ids=[c[0] for c in CASES])
def test_hvp_matches_hessian_times_v(name, function, args, expected):
    v = np.linspace(-1.0, 1.0, np.size(args[0])).reshape(np.shape(args[0]))
    np.testing.assert_allclose(srcgrad.hvp(function)(*args, v), expected @ v,
                               rtol=1e-10, atol=1e-10)


def test_second_derivative_by_reverse_over_reverse():
    def f(x):
        return x ** 3 * np.sin(x)

    x = 0.8
    expected = 6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x)
    assert srcgrad.grad(srcgrad.grad(f))(x) == pytest.approx(expected, rel=1e-12)


def test_hvp_source_is_a_forward_sweep_over_the_gradient():
    source = srcgrad.hvp(cubic_sum).source
    assert "def cubic_sum_grad_jvp(" in source
    assert "# tangent of line" in source
