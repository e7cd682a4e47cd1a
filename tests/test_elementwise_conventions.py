"""The elementwise rules' choices at kinks, ties, NaN and bounds, pinned to exact values.

Finite differences cannot check these points (the derivative does not exist there), so
each convention stated in a rule's docstring is asserted here directly.
"""

import numpy as np
import pytest

import srcgrad

NAN = np.nan


def maximum(a, b):
    return np.maximum(a, b)


def minimum(a, b):
    return np.minimum(a, b)


def fmax(a, b):
    return np.fmax(a, b)


def fmin(a, b):
    return np.fmin(a, b)


def absolute(x):
    return np.abs(x)


def builtin_abs(x):
    return abs(x)


def sqrt(x):
    return np.sqrt(x)


def cbrt(x):
    return np.cbrt(x)


def clip(x, lo, hi):
    return np.clip(x, lo, hi)


def clip_method(x):
    return x.clip(-1.0, 1.0)


def clip_upper_only(x, hi):
    return np.clip(x, None, hi)


def where(c, a, b):
    return np.where(c, a, b)


def where_on_float_condition(c, a, b):
    return np.where(c > 0, a, b)


def to_float32(x):
    return x.astype(np.float32)


def to_float64(x):
    return x.astype(np.float64)


def to_int(x):
    return x.astype(np.int64) * 1.0


def vjp(function, args, cotangent):
    return srcgrad.vjp(function, wrt=tuple(range(len(args))))(*args, cotangent)


def assert_exact(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


# -- maximum, minimum, fmax, fmin ---------------------------------------------------------

A = np.array([1.0, 2.0, 3.0])
B = np.array([1.0, 3.0, 2.0])  # a tie, then b larger, then a larger
COTANGENT = np.array([2.0, 4.0, 8.0])


@pytest.mark.parametrize("function", [maximum, fmax])
def test_max_splits_ties_equally(function):
    da, db = vjp(function, (A, B), COTANGENT)
    assert_exact(da, [1.0, 0.0, 8.0])
    assert_exact(db, [1.0, 4.0, 0.0])


@pytest.mark.parametrize("function", [minimum, fmin])
def test_min_splits_ties_equally(function):
    da, db = vjp(function, (A, B), COTANGENT)
    assert_exact(da, [1.0, 4.0, 0.0])
    assert_exact(db, [1.0, 0.0, 8.0])


@pytest.mark.parametrize("function", [maximum, minimum, fmax, fmin])
def test_scalar_tie_gives_half_to_each(function):
    assert srcgrad.grad(function, wrt=(0, 1))(1.5, 1.5) == (0.5, 0.5)


def test_tie_with_broadcast_operand_sums_the_halves():
    da, db = vjp(maximum, (np.array([0.0, 0.0, -1.0]), 0.0), np.ones(3))
    assert_exact(da, [0.5, 0.5, 0.0])
    assert db == 2.0


@pytest.mark.parametrize("function", [fmax, fmin])
def test_fmax_fmin_give_the_gradient_to_the_non_nan_operand(function):
    a = np.array([NAN, 1.0, NAN])
    b = np.array([2.0, NAN, NAN])
    da, db = vjp(function, (a, b), COTANGENT)
    assert_exact(da, [0.0, 4.0, 0.0])
    assert_exact(db, [2.0, 0.0, 0.0])


@pytest.mark.parametrize("function", [maximum, minimum])
def test_maximum_minimum_give_nothing_where_an_operand_is_nan(function):
    a = np.array([NAN, 1.0, 3.0])
    b = np.array([2.0, NAN, 1.0])
    da, db = vjp(function, (a, b), COTANGENT)
    expected_a = [0.0, 0.0, 8.0] if function is maximum else [0.0, 0.0, 0.0]
    expected_b = [0.0, 0.0, 0.0] if function is maximum else [0.0, 0.0, 8.0]
    assert_exact(da, expected_a)
    assert_exact(db, expected_b)


# -- absolute, sqrt, cbrt -----------------------------------------------------------------

@pytest.mark.parametrize("function", [absolute, builtin_abs])
def test_absolute_has_gradient_zero_at_zero(function):
    assert srcgrad.grad(function)(0.0) == 0.0
    assert_exact(srcgrad.vjp(function)(np.array([-2.0, 0.0, 3.0]), np.ones(3)),
                 [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("function", [sqrt, cbrt])
def test_root_gradient_at_zero_is_inf(function):
    with np.errstate(divide="ignore"):
        assert srcgrad.grad(function)(0.0) == np.inf
        assert_exact(srcgrad.vjp(function)(np.array([0.0, 1.0]), np.ones(2)),
                     [np.inf, 1.0 / (2.0 if function is sqrt else 3.0)])


# -- clip -----------------------------------------------------------------------------------

X = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # below, at a_min, inside, at a_max, above


def test_clip_bounds_are_inclusive_and_get_the_gradient_outside():
    lo, hi = np.full(5, -1.0), np.full(5, 1.0)
    dx, dlo, dhi = vjp(clip, (X, lo, hi), np.ones(5))
    assert_exact(dx, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert_exact(dlo, [1.0, 0.0, 0.0, 0.0, 0.0])
    assert_exact(dhi, [0.0, 0.0, 0.0, 0.0, 1.0])


def test_clip_scalar_bounds_sum_their_gradient():
    dx, dlo, dhi = vjp(clip, (X, -1.0, 1.0), np.array([1.0, 2.0, 4.0, 8.0, 16.0]))
    assert_exact(dx, [0.0, 2.0, 4.0, 8.0, 0.0])
    assert dlo == 1.0
    assert dhi == 16.0


def test_clip_method_and_missing_bound():
    assert_exact(srcgrad.vjp(clip_method)(X, np.ones(5)), [0.0, 1.0, 1.0, 1.0, 0.0])
    dx, dhi = vjp(clip_upper_only, (X, 1.0), np.ones(5))
    assert_exact(dx, [1.0, 1.0, 1.0, 1.0, 0.0])
    assert dhi == 1.0


def test_clip_with_crossed_bounds_gives_everything_to_a_max():
    # NumPy returns a_max everywhere when a_min > a_max.
    dx, dlo, dhi = vjp(clip, (X, 1.0, -1.0), np.ones(5))
    assert_exact(dx, np.zeros(5))
    assert dlo == 0.0
    assert dhi == 5.0


# -- where ----------------------------------------------------------------------------------

def test_where_routes_the_gradient_by_the_condition():
    condition = np.array([True, False, True])
    da, db = srcgrad.vjp(where, wrt=(1, 2))(condition, np.array([1.0, 2.0, 3.0]), 5.0,
                                            np.array([1.0, 2.0, 4.0]))
    assert_exact(da, [1.0, 0.0, 4.0])
    assert db == 2.0


def test_where_condition_gets_no_gradient():
    dc, da, db = vjp(where_on_float_condition, (np.array([1.0, -1.0]), np.ones(2), np.ones(2)),
                     np.array([3.0, 5.0]))
    assert_exact(dc, [0.0, 0.0])
    assert_exact(da, [3.0, 0.0])
    assert_exact(db, [0.0, 5.0])


# -- astype ---------------------------------------------------------------------------------

def test_astype_casts_the_gradient_back_to_the_input_dtype():
    narrow = srcgrad.vjp(to_float32)(np.ones(3), np.full(3, 2.0, dtype=np.float32))
    assert narrow.dtype == np.float64
    assert_exact(narrow, [2.0, 2.0, 2.0])
    wide = srcgrad.vjp(to_float64)(np.ones(3, dtype=np.float32), np.full(3, 2.0))
    assert wide.dtype == np.float32
    assert_exact(wide, [2.0, 2.0, 2.0])


def test_astype_to_an_integer_dtype_is_flat():
    gradient = srcgrad.vjp(to_int)(np.array([0.5, 1.5]), np.ones(2))
    assert gradient.dtype == np.float64
    assert_exact(gradient, [0.0, 0.0])


# -- forward mode follows the same conventions ----------------------------------------------

def jvp(function, args, tangents):
    return srcgrad.jvp(function, wrt=tuple(range(len(args))))(*args, *tangents)[1]


@pytest.mark.parametrize("function", [maximum, minimum, fmax, fmin])
def test_forward_mode_splits_ties_equally(function):
    tangent = jvp(function, (np.array([1.0, 2.0]), np.array([1.0, 2.0])),
                  (np.array([2.0, 0.0]), np.array([0.0, 4.0])))
    assert_exact(tangent, [1.0, 2.0])


@pytest.mark.parametrize("function", [fmax, fmin])
def test_forward_mode_fmax_fmin_follow_the_non_nan_operand(function):
    tangent = jvp(function, (np.array([NAN, 1.0]), np.array([2.0, NAN])),
                  (np.array([3.0, 5.0]), np.array([7.0, 11.0])))
    assert_exact(tangent, [7.0, 5.0])


def test_forward_mode_clip_bounds_are_inclusive():
    tangent = jvp(clip, (X, np.full(5, -1.0), np.full(5, 1.0)),
                  (np.full(5, 1.0), np.full(5, 10.0), np.full(5, 100.0)))
    assert_exact(tangent, [10.0, 1.0, 1.0, 1.0, 100.0])


def test_forward_mode_where_follows_the_condition():
    tangent = srcgrad.jvp(where, wrt=(1, 2))(np.array([True, False]), np.zeros(2), 0.0,
                                             np.array([3.0, 5.0]), 7.0)[1]
    assert_exact(tangent, [3.0, 7.0])


def test_forward_mode_absolute_at_zero_and_astype_to_int():
    assert srcgrad.jvp(absolute)(0.0, 1.0)[1] == 0.0
    assert_exact(srcgrad.jvp(to_int)(np.array([0.5, 1.5]), np.ones(2))[1], [0.0, 0.0])
