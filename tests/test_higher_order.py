"""Derivatives of derivatives, end to end: srcgrad transforms its own emitted code.

Forward over reverse, `jvp(grad(f))(x, v)[1]`, is the Hessian-vector product H v; it is
checked against central differences of `grad(f)` along v and, where the Hessian has a
closed form, against H @ v. Reverse over reverse, `grad(grad(f))`, is checked on
scalar functions against the analytic second derivative.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

RNG_SEED = 20240611

# ---------------------------------------------------------------- functions


def polynomial(x):
    return np.sum(0.25 * x**4 - x**2 + 3.0 * x) + np.sum(x[:-1] * x[1:])


def polynomial_hessian(x):
    n = x.shape[0]
    return np.diag(3.0 * x**2 - 2.0) + np.eye(n, k=1) + np.eye(n, k=-1)


def tanh_layer(x, W, b):
    return np.sum(np.tanh(W @ x + b))


def tanh_layer_hessian(x, W, b):
    t = np.tanh(W @ x + b)
    return W.T @ np.diag(-2.0 * t * (1.0 - t**2)) @ W


def cross_entropy(x, W, label):
    logits = W @ x
    top = np.max(logits)
    log_norm = top + np.log(np.sum(np.exp(logits - top)))
    return log_norm - logits[label]


def cross_entropy_hessian(x, W, label):
    logits = W @ x
    p = np.exp(logits - logits.max())
    p = p / p.sum()
    return W.T @ (np.diag(p) - np.outer(p, p)) @ W


def looped(x):
    y = x
    for _ in range(3):
        y = np.sin(y) * x + 0.5 * y
    return np.sum(y * y)


def branched(x):
    if np.sum(x) > 0:
        y = x**3 * np.cos(x)
    else:
        y = np.exp(0.5 * x) * x
    return np.sum(y)


def kinked(x):
    """max, clip and indexing, evaluated away from their kinks."""
    peak = np.max(x**2)
    clipped = np.clip(x, -0.5, 0.5)
    return peak + np.sum(clipped**3) + x[1] * x[2] ** 2


def kinked_hessian(x):
    h = np.zeros((x.size, x.size))
    top = np.argmax(x**2)
    h[top, top] += 2.0
    inside = np.abs(x) < 0.5
    h[np.diag_indices(x.size)] += np.where(inside, 6.0 * x, 0.0)
    h[1, 2] += 2.0 * x[2]
    h[2, 1] += 2.0 * x[2]
    h[2, 2] += 2.0 * x[1]
    return h


def spread(x):
    """Reductions with their own second-derivative rules: var, std, norm, prod, mean."""
    return (np.var(x) + np.std(x) * np.linalg.norm(x) + np.prod(x[:3])
            + np.mean(x) * np.linalg.norm(x, 3))


def contractions(x, A):
    """dot, einsum, concatenate, stack and a transpose in one function."""
    M = np.reshape(x, (2, 3))
    both = np.concatenate([M, M * M], axis=0)
    gram = np.einsum("ij,kj->ik", both, both)
    rows = np.stack([np.dot(M[0], A), np.dot(M[1], A)])
    return np.sum(np.tanh(gram)) + np.sum(rows.T * rows.T)


def least_squares(w, X, y):
    residual = X @ w - y
    return np.mean(residual * residual)


def least_squares_hessian(w, X, y):
    return 2.0 * X.T @ X / X.shape[0]


# ---------------------------------------------------------------- helpers


def _rng():
    return np.random.default_rng(RNG_SEED)


def _fd_hvp(f, args, v, step=1e-5):
    """Central differences of grad(f) (itself checked elsewhere) along v."""
    gradient = srcgrad.grad(f)
    up = gradient(args[0] + step * v, *args[1:])
    down = gradient(args[0] - step * v, *args[1:])
    return (np.asarray(up) - np.asarray(down)) / (2 * step)


def _hvp(f, args, v):
    return srcgrad.jvp(srcgrad.grad(f))(*args, v)[1]


def _cases():
    rng = _rng()
    x5 = rng.uniform(-1.5, 1.5, 5)
    W = rng.standard_normal((4, 5))
    b = rng.standard_normal(4)
    kinked_x = np.array([0.3, -1.2, 0.8, 0.1, -0.45, 1.7])
    X = rng.standard_normal((8, 3))
    return [
        ("polynomial", polynomial, (x5,), polynomial_hessian),
        ("tanh_layer", tanh_layer, (x5, W, b), tanh_layer_hessian),
        ("cross_entropy", cross_entropy, (x5, W, 2), cross_entropy_hessian),
        ("looped", looped, (x5,), None),
        ("branched_positive", branched, (np.abs(x5),), None),
        ("branched_negative", branched, (-np.abs(x5),), None),
        ("kinked", kinked, (kinked_x,), kinked_hessian),
        ("spread", spread, (rng.uniform(0.5, 2.0, 5),), None),
        ("contractions", contractions, (rng.standard_normal(6), rng.standard_normal((3, 4))),
         None),
        ("least_squares", least_squares, (rng.standard_normal(3), X, rng.standard_normal(8)),
         least_squares_hessian),
    ]


CASES = _cases()


# ---------------------------------------------------------------- forward over reverse


@pytest.mark.parametrize("name, f, args, hessian", CASES, ids=[c[0] for c in CASES])
def test_hessian_vector_product_matches_finite_differences(name, f, args, hessian):
    v = np.random.default_rng(len(name)).standard_normal(np.shape(args[0]))
    hv = _hvp(f, args, v)
    assert np.shape(hv) == np.shape(args[0])
    np.testing.assert_allclose(hv, _fd_hvp(f, args, v), rtol=1e-6, atol=1e-6)
    if hessian is not None:
        np.testing.assert_allclose(hv, hessian(*args) @ v, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, f, args, hessian", CASES, ids=[c[0] for c in CASES])
def test_hvp_api_agrees_with_jvp_of_grad(name, f, args, hessian):
    v = np.linspace(-1.0, 1.0, np.size(args[0])).reshape(np.shape(args[0]))
    np.testing.assert_allclose(srcgrad.hvp(f)(*args, v), _hvp(f, args, v), rtol=1e-12,
                               atol=1e-12)


def test_hessian_vector_product_of_constant_weights_skips_their_zero_tangent():
    """W is not differentiated: the tangent of W's adjoint term is left out, not computed
    as a product with zeros."""
    source = srcgrad.jvp(srcgrad.grad(tanh_layer)).source
    assert "matmul_adjoint_b_tangent" in source
    assert "broadcast_like(0.0" not in source


# ---------------------------------------------------------------- reverse over reverse


def cubic_sine(x):
    return x**3 * np.sin(x)


def cubic_sine_second(x):
    return 6 * x * np.sin(x) + 6 * x**2 * np.cos(x) - x**3 * np.sin(x)


def exp_over(x):
    return np.exp(-x * x) / (1.0 + x * x)


def log_tanh(x):
    return np.log(1.0 + np.tanh(x) ** 2) * x


@pytest.mark.parametrize("x", [-1.3, 0.4, 2.1])
def test_second_derivative_by_reverse_over_reverse(x):
    second = srcgrad.grad(srcgrad.grad(cubic_sine))
    np.testing.assert_allclose(second(x), cubic_sine_second(x), rtol=1e-12)


@pytest.mark.parametrize("f", [cubic_sine, exp_over, log_tanh])
def test_reverse_over_reverse_agrees_with_forward_over_reverse(f):
    x = 0.7
    by_reverse = srcgrad.grad(srcgrad.grad(f))(x)
    by_forward = srcgrad.jvp(srcgrad.grad(f))(x, 1.0)[1]
    step = 1e-5
    first = srcgrad.grad(f)
    numeric = (first(x + step) - first(x - step)) / (2 * step)
    np.testing.assert_allclose(by_reverse, by_forward, rtol=1e-12)
    np.testing.assert_allclose(by_reverse, numeric, rtol=1e-6)


REVERSE_CASES = CASES


@pytest.mark.parametrize("name, f, args, hessian", REVERSE_CASES, ids=[c[0] for c in CASES])
def test_hessian_vector_product_by_reverse_over_reverse(name, f, args, hessian):
    """vjp(grad(f)) pulls v back through the gradient: H^T v = H v."""
    v = np.random.default_rng(len(name)).standard_normal(np.shape(args[0]))
    hv = srcgrad.vjp(srcgrad.grad(f))(*args, v)
    np.testing.assert_allclose(hv, _hvp(f, args, v), rtol=1e-10, atol=1e-10)


def test_reverse_over_reverse_through_a_loop():
    def looped_scalar(x):
        y = x
        for _ in range(3):
            y = np.sin(y) * x
        return y

    second = srcgrad.grad(srcgrad.grad(looped_scalar))
    first = srcgrad.grad(looped_scalar)
    step = 1e-5
    numeric = (first(0.8 + step) - first(0.8 - step)) / (2 * step)
    np.testing.assert_allclose(second(0.8), numeric, rtol=1e-6)


def test_third_derivative_by_forward_over_forward_over_reverse():
    third = srcgrad.jvp(srcgrad.jvp(srcgrad.grad(cubic_sine)), wrt=(0,))
    x = 0.9
    value = third(x, 1.0, 1.0)  # d/dx of (f''(x) along 1.0), tangent of x is 1.0
    step = 1e-5
    numeric = (cubic_sine_second(x + step) - cubic_sine_second(x - step)) / (2 * step)
    np.testing.assert_allclose(value[1][1], numeric, rtol=1e-6)


def test_hessian_vector_product_of_integer_powers_collected_in_a_list():
    """The exponents are restored from a record stack that also holds active values; their
    zero tangent must not meet log of the negative base (0 * nan)."""
    def stacked_powers(x):
        hs = []
        for k in range(3):
            hs.append(x ** (k + 1))
        return np.sum(np.stack(hs))

    x = np.array([-0.5, 1.0])
    np.testing.assert_allclose(srcgrad.hvp(stacked_powers)(x, np.ones(2)), 2.0 + 6.0 * x)


# ---------------------------------------------------------------- third derivatives


def matmul_layer(x, W):
    return np.sum(np.tanh(W @ (x * x)))


def product_of(x):
    return np.prod(x) + np.prod(x[:3] * x[2:])


def _third_along(f, args, u, v):
    """d/dt of (H(x + t v) u) at t = 0, by forward over forward over reverse."""
    third = srcgrad.jvp(srcgrad.jvp(srcgrad.grad(f)), wrt=(0,))
    return np.asarray(third(*args, u, v)[1][1])


def _fd_third(f, args, u, v, step=1e-4):
    hvp = srcgrad.jvp(srcgrad.grad(f))
    up = hvp(args[0] + step * v, *args[1:], u)[1]
    down = hvp(args[0] - step * v, *args[1:], u)[1]
    return (np.asarray(up) - np.asarray(down)) / (2 * step)


THIRD_CASES = [
    ("matmul_layer", matmul_layer,
     lambda rng: (rng.uniform(-1.0, 1.0, 5), rng.standard_normal((4, 5)))),
    ("prod", product_of, lambda rng: (rng.uniform(0.5, 1.5, 5),)),
    ("prod_with_a_zero", product_of, lambda rng: (np.array([0.7, 0.0, -1.2, 0.9, 1.1]),)),
]


@pytest.mark.parametrize("name, f, make", THIRD_CASES, ids=[c[0] for c in THIRD_CASES])
def test_third_derivative_along_directions_matches_finite_differences(name, f, make):
    rng = _rng()
    args = make(rng)
    u, v = rng.standard_normal(5), rng.standard_normal(5)
    value = _third_along(f, args, u, v)
    np.testing.assert_allclose(value, _fd_third(f, args, u, v), rtol=1e-6, atol=1e-6)
    # The third derivative is symmetric: swapping the directions gives the same vector.
    np.testing.assert_allclose(value, _third_along(f, args, v, u), rtol=1e-10, atol=1e-10)


_K = np.array([1.1, 0.4, -0.7, 0.9])


def _pair(u, s):
    return u * 2.0, u * s


def _uses_both_parts(x):
    v0, v1 = _pair(_K, x)
    return np.sum(v0 * v1)


def _mix(q, u):
    return q[0] * u + q[1]


def _two_mixes(p):
    return np.sum(_mix(p, 1.3) - _mix(p, -0.4))


def test_second_derivatives_through_the_adjoints_of_containers():
    # grad of grad adds the adjoints of a helper's returned tuple (unbroadcast of a
    # container adjoint raised); jvp of grad adds zero tangents of list adjoints (None + None)
    assert srcgrad.grad(srcgrad.grad(_uses_both_parts))(0.5) == 0.0  # f is linear in x
    p = [np.array([0.3, -0.2, 0.5, 0.1]), np.array([1.0, 2.0, 3.0, 4.0])]
    dp = [np.ones(4), np.full(4, 2.0)]
    gradient, tangent = srcgrad.jvp(srcgrad.grad(_two_mixes))(p, dp)
    np.testing.assert_allclose(gradient[0], np.full(4, 1.7), rtol=1e-15)
    np.testing.assert_array_equal(gradient[1], np.zeros(4))
    for part in tangent:
        np.testing.assert_array_equal(part, np.zeros(4))


def _scaled_tanh_layer(x, W, b=0.5, *, scale=2.0):
    return np.sum(np.tanh(W @ x + b)) * scale


def test_derivatives_of_derivatives_of_a_function_with_defaults():
    # (the second derivative lost the defaults, and jacobian, hessian and hvp passed
    # their cotangent or tangent by position where it is keyword-only: TypeErrors)
    rng = np.random.default_rng(RNG_SEED)
    x, W, v = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=3)
    for b, scale, kwargs in [(0.5, 2.0, {}), (-0.3, 2.0, {"b": -0.3}),
                             (0.5, 0.7, {"scale": 0.7}), (1.1, -1.5, {"b": 1.1, "scale": -1.5})]:
        expected = tanh_layer_hessian(x, W, b) * scale
        for _ in range(2):  # the full path, then the fast one
            gradient, product = srcgrad.jvp(srcgrad.grad(_scaled_tanh_layer))(
                x, W, **kwargs, dx=v)
            t = np.tanh(W @ x + b)
            np.testing.assert_allclose(gradient, W.T @ (1.0 - t * t) * scale, rtol=1e-12)
            np.testing.assert_allclose(product, expected @ v, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(srcgrad.hvp(_scaled_tanh_layer)(x, W, v, **kwargs),
                                       expected @ v, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(srcgrad.hessian(_scaled_tanh_layer)(x, W, **kwargs),
                                       expected, rtol=1e-12, atol=1e-14)
            for mode in ("rev", "fwd"):
                np.testing.assert_allclose(
                    srcgrad.jacobian(srcgrad.grad(_scaled_tanh_layer), mode=mode)(
                        x, W, **kwargs), expected, rtol=1e-12, atol=1e-14)
