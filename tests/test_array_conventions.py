"""The array rules' choices at ties, zeros and repeated indices, pinned to exact values.

Finite differences cannot check these points (max at a tie and the norm at zero have no
derivative; a product with zeros is checked there, but only approximately), so each
convention stated in a rule's docstring is asserted here exactly, in both modes and on the
strict stand-in backend.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad.runtime import from_strict, to_strict


def grad_of(function, *args, wrt=0):
    return srcgrad.grad(function, wrt=wrt)(*args)


def vjp_of(function, x, cotangent, *rest):
    return srcgrad.vjp(function)(x, *rest, cotangent)


def tangent_of(function, x, direction, *rest):
    _, tangent = srcgrad.jvp(function)(x, *rest, direction)
    return tangent


def total_max(x):
    return np.max(x)


def total_amax(x):
    return np.amax(x)


def total_min(x):
    return np.min(x)


def max_rows(x):
    return np.max(x, axis=1)


def min_columns_kept(x):
    return x.min(axis=0, keepdims=True)


def total_prod(x):
    return np.prod(x)


def prod_rows(x):
    return np.prod(x, axis=1)


def norm2(x):
    return np.linalg.norm(x)


def norm_rows(x):
    return np.linalg.norm(x, axis=1)


def norm_ord(x, ord):
    return np.linalg.norm(x, ord=ord)


def std_rows(x):
    return np.std(x, axis=1)


def sum_of_repeated(x):
    return np.sum(x[np.array([0, 0, 1])])


def sum_of_masked(x):
    return np.sum(x[x > 0])


def sum_of_rows_and_slice(x):
    return np.sum(x[np.array([2, 0, 2]), 1:])


def sum_of_cumsum(x):
    return np.sum(np.cumsum(x))


def weighted_diagonal(x):
    return np.sum(np.einsum("ii->i", x) * np.arange(1.0, 4.0))


def einsum_trace(x):
    return np.einsum("ii", x)


# ---------------------------------------------------------------- max / min ties


@pytest.mark.parametrize("function", [total_max, total_amax])
def test_max_ties_share_the_gradient_equally(function):
    np.testing.assert_array_equal(grad_of(function, np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])


def test_min_ties_share_the_gradient_equally():
    x = np.array([[2.0, -1.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(grad_of(total_min, x), [[0.0, 1 / 3], [1 / 3, 1 / 3]])


def test_max_ties_are_shared_per_reduced_slice():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    cotangent = np.array([1.0, 3.0, 2.0])
    np.testing.assert_allclose(vjp_of(max_rows, x, cotangent),
                               [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0], [2.0, 0.0, 0.0]], rtol=1e-15)


def test_min_ties_with_keepdims():
    x = np.array([[1.0, 0.0], [1.0, 4.0]])
    cotangent = np.array([[4.0, 8.0]])
    np.testing.assert_array_equal(vjp_of(min_columns_kept, x, cotangent),
                                  [[2.0, 8.0], [2.0, 0.0]])


def test_max_tangent_at_a_tie_is_the_mean_of_the_tied_tangents():
    x = np.array([1.0, 3.0, 3.0])
    assert tangent_of(total_max, x, np.array([10.0, 2.0, 4.0])) == 3.0


# ---------------------------------------------------------------- prod with zeros


@pytest.mark.parametrize("x, expected", [
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
    ([2.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ([0.0], [1.0]),
    ([2.0, 5.0, 3.0], [15.0, 6.0, 10.0]),
])
def test_prod_gradient_is_exact_with_zeros(x, expected):
    np.testing.assert_array_equal(grad_of(total_prod, np.array(x)), expected)


def test_prod_zeros_are_counted_per_reduced_slice():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0], [1.0, 2.0, 4.0]])
    np.testing.assert_array_equal(vjp_of(prod_rows, x, np.ones(3)),
                                  [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])


def test_prod_tangent_with_one_zero():
    x = np.array([2.0, 0.0, 3.0])
    assert tangent_of(total_prod, x, np.array([1.0, 1.0, 1.0])) == 6.0


# ---------------------------------------------------------------- norm and std at zero


def test_norm_gradient_at_the_zero_vector_is_zero():
    np.testing.assert_array_equal(grad_of(norm2, np.zeros(3)), np.zeros(3))
    assert tangent_of(norm2, np.zeros(3), np.ones(3)) == 0.0


@pytest.mark.parametrize("ord", [1, 2, 3, np.inf, -np.inf])
def test_vector_norms_at_zero_have_zero_gradient(ord):
    np.testing.assert_array_equal(grad_of(norm_ord, np.zeros(4), ord), np.zeros(4))


def test_norm_zero_rows_get_zero_and_others_their_direction():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(vjp_of(norm_rows, x, np.array([1.0, 10.0])),
                               [[0.0, 0.0], [6.0, 8.0]], rtol=1e-15)


def test_inf_norm_ties_share_like_max():
    x = np.array([-2.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad_of(norm_ord, x, np.inf), [-0.5, 0.0, 0.5])


def test_matrix_two_norm_is_refused_at_run_time():
    with pytest.raises(NotImplementedError, match="ord=2"):
        grad_of(norm_ord, np.eye(2), 2)


def test_std_of_a_constant_slice_has_zero_gradient():
    x = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    g = vjp_of(std_rows, x, np.array([1.0, 1.0]))
    np.testing.assert_array_equal(g[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g[1], np.array([-1.0, 0.0, 1.0]) / 3 / np.std([1.0, 2.0, 3.0]),
                               rtol=1e-15)


# ---------------------------------------------------------------- indexing and layout


def test_repeated_fancy_indices_accumulate():
    np.testing.assert_array_equal(grad_of(sum_of_repeated, np.array([5.0, 6.0, 7.0])),
                                  [2.0, 1.0, 0.0])


def test_mask_index_gradient_is_the_mask():
    np.testing.assert_array_equal(grad_of(sum_of_masked, np.array([1.0, -2.0, 3.0, 0.0])),
                                  [1.0, 0.0, 1.0, 0.0])


def test_index_array_with_a_slice_accumulates_rows():
    np.testing.assert_array_equal(grad_of(sum_of_rows_and_slice, np.ones((3, 3))),
                                  [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 2.0, 2.0]])


def test_cumsum_without_axis_runs_over_the_flattened_array():
    np.testing.assert_array_equal(grad_of(sum_of_cumsum, np.ones((2, 2))),
                                  [[4.0, 3.0], [2.0, 1.0]])


def test_einsum_diagonal_puts_the_gradient_on_the_diagonal():
    np.testing.assert_array_equal(grad_of(weighted_diagonal, np.ones((3, 3))),
                                  np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(grad_of(einsum_trace, np.ones((3, 3))), np.eye(3))


# ---------------------------------------------------------------- the strict backend


@pytest.mark.parametrize("function, x, expected", [
    (total_max, [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    (total_prod, [2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
    (norm2, [0.0, 0.0], [0.0, 0.0]),
    (sum_of_repeated, [5.0, 6.0, 7.0], [2.0, 1.0, 0.0]),
])
def test_conventions_hold_on_the_strict_backend(function, x, expected):
    g = grad_of(function, to_strict(np.array(x)))
    np.testing.assert_array_equal(from_strict(g), expected)
