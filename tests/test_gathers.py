"""Slot adjoints gathered by a backward loop go into one buffer (codegen/gathers.py), so
that reading x[i] once per trip costs O(1) per trip in the adjoint, not a whole zero
array; the derivatives stay exact."""

import ast

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen import gathers
import srcgrad.runtime as rt
from srcgrad.runtime import NUMPY, adjoints


def squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
    return s


def rows_and_windows(x, w):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + np.sum(np.tanh(x[i]) * w) + np.sum(x[i:i + 2, 0] ** 2)
    return s


def picked(x, idx):
    s = 0.0
    for k in range(idx.shape[0]):
        if idx[k] > 1:
            s = s + x[idx[k]] ** 3
        else:
            s = s - x[idx[k]]
    return s


def with_dense_use(x):  # bx also gets a dense contribution each trip: left as it is
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * np.sum(x)
    return s


def _backward(source: str) -> str:
    return source.split("# grad of line", 1)[1]


def test_gathering_loops_use_one_buffer_and_match_the_exact_gradient():
    x = np.random.default_rng(0).normal(size=40)
    gradient = srcgrad.grad(squares)
    np.testing.assert_allclose(gradient(x), 2 * x, rtol=1e-15)
    assert "bx_slots = xp.accumulate_at(bx_slots, " in gradient.source
    assert "unindex" not in gradient.source
    generic = gradient.generic_function()(x)  # the generic code gathers the same way
    np.testing.assert_allclose(generic, 2 * x, rtol=1e-15)


def test_rows_windows_and_branches_match_finite_differences():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(6, 3)), rng.normal(size=3)
    gradient = srcgrad.grad(rows_and_windows, wrt=(0, 1))
    gradient(x, w)
    assert "accumulate_at" in gradient.source
    srcgrad.check_grad(rows_and_windows, x, w, wrt=(0, 1))
    idx = np.array([0, 3, 3, 2, 0, 4, 3])  # repeated slots add up
    x = rng.normal(size=5)
    expected = np.zeros(5)
    for k in idx:
        expected[k] += 3 * x[k] ** 2 if k > 1 else -1.0
    gradient = srcgrad.grad(picked)
    np.testing.assert_allclose(gradient(x, idx), expected, rtol=1e-14)
    assert "accumulate_at" in gradient.source
    srcgrad.check_grad(picked, x, idx, wrt=0)


def test_second_derivatives_through_the_gathered_loop():
    x = np.random.default_rng(2).normal(size=5)
    srcgrad.check_grad(squares, x, wrt=0, order=2)
    np.testing.assert_allclose(srcgrad.hessian(squares)(x), 2 * np.eye(5), atol=1e-14)


def test_float32_stays_float32():
    x = np.linspace(-1.0, 1.0, 9, dtype=np.float32)
    result = srcgrad.grad(squares)(x)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, 2 * x, rtol=1e-6)


def test_an_accumulator_read_elsewhere_in_the_loop_is_left_alone():
    x = np.random.default_rng(3).normal(size=6)
    gradient = srcgrad.grad(with_dense_use)
    np.testing.assert_allclose(gradient(x), np.sum(x) + np.sum(x), rtol=1e-13)
    assert "accumulate_at" not in gradient.source
    srcgrad.check_grad(with_dense_use, x, wrt=0)


def test_the_helper_makes_its_buffer_once_and_adds_in_place():
    x = np.zeros((4, 3))
    first = adjoints.accumulate_at(NUMPY, 0.0, np.ones(3), x, 1)
    np.testing.assert_array_equal(first, [[0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]])
    again = adjoints.accumulate_at(NUMPY, first, np.full(3, 2.0), x, 1)
    assert again is first  # updated in place
    np.testing.assert_array_equal(again[1], [3.0, 3.0, 3.0])
    repeated = adjoints.accumulate_at(NUMPY, again, np.ones((3, 3)), x, np.array([0, 0, 3]))
    assert repeated is first
    np.testing.assert_array_equal(repeated[:, 0], [2.0, 3.0, 0.0, 1.0])
    with_none = adjoints.accumulate_at(NUMPY, repeated, np.ones((1, 3)), x, (2, None))
    np.testing.assert_array_equal(with_none[2], [1.0, 1.0, 1.0])
    narrow = np.zeros(3, dtype=np.float32)
    widened = adjoints.accumulate_at(NUMPY, narrow, np.ones(1), np.zeros(3), slice(0, 1))
    assert widened is not narrow and widened.dtype == np.float64  # as the plain sum
    assert adjoints.accumulate_at(NUMPY, 1.5, 2.0, np.zeros(2), 0).tolist() == [3.5, 1.5]


@pytest.mark.parametrize("n", [3, 30])
def test_the_result_does_not_depend_on_the_loop_length(n):
    x = np.random.default_rng(n).normal(size=(n, 2))
    gradient = srcgrad.grad(rows_and_windows, wrt=0)
    w = np.array([0.5, -1.0])
    srcgrad.check_grad(rows_and_windows, x, w, wrt=0)
    assert gradient(x, w).shape == (n, 2)


def test_an_accumulator_assigned_elsewhere_in_the_loop_is_left_alone():
    source = ("def f(g, x, n):\n    xp = rt.namespace(g=g, x=x)\n    bx = 0.0\n"
              "    for i in reversed(range(n)):\n        bx = 0.0\n"
              "        bx = bx + xp.unindex(g, x, i)\n    return bx\n")
    function = ast.parse(source).body[0]
    assert not gathers.gather_in_buffers(function)
    gathered = source.replace("        bx = 0.0\n        bx = bx", "        bx = bx")
    function = ast.parse(gathered).body[0]
    assert gathers.gather_in_buffers(function)
    assert "bx_slots = xp.accumulate_at(bx_slots, g, x, i)" in ast.unparse(function)


def adds_into_a_copy(acc, g, x, key):
    xp = rt.namespace(acc=acc, g=g, x=x)
    owned = acc * 1.0
    return xp.accumulate_at(owned, g, x, key)


def test_the_tangent_of_an_update_in_place_writes_into_a_copy_of_the_callers_tangent():
    # `dacc * 1.0` (the tangent of `acc * 1.0`) used to fold to `dacc`, and the tangent
    # of `accumulate_at` then added into the caller's array
    acc, g, x = np.zeros(5), np.ones(2), np.zeros(5)
    dacc, dg = np.arange(5.0), np.array([10.0, 20.0])
    forward = srcgrad.jvp(adds_into_a_copy, wrt=(0, 1))
    value, tangent = forward(acc, g, x, np.array([1, 3]), dacc, dg)
    assert "downed = dacc * 1.0" in forward.source
    np.testing.assert_array_equal(dacc, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(tangent, [0.0, 11.0, 2.0, 23.0, 4.0])
    np.testing.assert_array_equal(value, [0.0, 1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(acc, np.zeros(5))
