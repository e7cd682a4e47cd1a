"""Every array a derivative returns is the caller's own (analysis/aliases.py, the
optimizer's `_own_results`, the runtime's `own`): copy propagation must not hand back an
argument's array, the cotangent, a global, or one array as two results, since callers
update gradients in place (`w -= lr * gw`)."""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen.analysis.aliases import shared_results
from srcgrad.runtime import NUMPY, adjoints

WEIGHTS = np.arange(3.0)


def bilinear(a, b):
    return np.sum(a * b)


def summed(a, b):
    return np.sum(a + b)


def shifted(x):
    return x + 1.0


def weighted(x):
    return np.dot(x, WEIGHTS)


def copied(x):
    y = x.copy()
    return y


def squares(a, b):
    return np.sum(a * a) + np.sum(b * b)


def _shares(results, others) -> bool:
    arrays = [r for r in results if isinstance(r, np.ndarray)]
    return any(np.shares_memory(r, o) for i, r in enumerate(arrays)
               for o in [*others, *arrays[:i]] if isinstance(o, np.ndarray))


def test_in_place_steps_on_the_gradients_of_a_product_are_right():
    a0, b0 = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    a, b = a0.copy(), b0.copy()
    ga, gb = srcgrad.grad(bilinear, wrt=(0, 1))(a, b)  # ga would be b itself, gb a
    a -= 0.1 * ga
    b -= 0.1 * gb
    np.testing.assert_allclose(a, a0 - 0.1 * b0)
    np.testing.assert_allclose(b, b0 - 0.1 * a0)


@pytest.mark.parametrize("function, args, wrt", [
    (bilinear, (np.ones(3), np.full(3, 2.0)), (0, 1)),
    (summed, (np.ones((2, 3)), np.ones((2, 3))), (0, 1)),
    (weighted, (np.ones(3),), 0),
    (copied, (np.ones(3),), 0),
])
def test_results_share_no_memory_with_arguments_or_each_other(function, args, wrt):
    if function is copied:
        cotangent, direction = np.ones(3), np.ones(3)
        pulled = srcgrad.vjp(function)(*args, cotangent)
        assert not _shares([pulled], [*args, cotangent])
        value, tangent = srcgrad.jvp(function)(*args, direction)
        assert not _shares([value, tangent], [*args, direction])
        return
    derivative = srcgrad.grad(function, wrt=wrt)
    results = derivative(*args)
    results = results if isinstance(results, tuple) else (results,)
    assert not _shares(results, [*args, WEIGHTS])
    assert "xp.own(" in derivative.source
    generic = srcgrad.grad(function, wrt=wrt).generic_function()  # any layout: the CLI's code
    again = generic(*args)
    again = again if isinstance(again, tuple) else (again,)
    assert not _shares(again, [*args, WEIGHTS])
    for one, other in zip(results, again, strict=True):
        np.testing.assert_array_equal(one, other)


def test_a_pulled_back_cotangent_is_not_the_callers():
    cotangent = np.ones(4)
    pulled = srcgrad.vjp(shifted)(np.zeros(4), cotangent)
    assert pulled is not cotangent and not np.shares_memory(pulled, cotangent)
    np.testing.assert_array_equal(pulled, cotangent)
    cotangent[:] = 5.0  # the caller reuses its buffer
    np.testing.assert_array_equal(pulled, np.ones(4))


def test_fresh_results_and_numbers_are_not_copied():
    derivative = srcgrad.grad(squares, wrt=(0, 1))
    derivative(np.ones(3), np.ones(3))
    assert "xp.own(" not in derivative.source  # 2 * a and 2 * b are new arrays
    floats = srcgrad.grad(bilinear, wrt=(0, 1))
    assert floats(2.0, 3.0) == (3.0, 2.0)
    assert "xp.own(" not in floats.source  # numbers: nothing to share


def test_own_copies_arrays_and_keeps_numbers_and_containers_shapes():
    array = np.ones(3)
    copy = adjoints.own(NUMPY, array)
    assert copy is not array and not np.shares_memory(copy, array)
    assert adjoints.own(NUMPY, 2.5) == 2.5 and adjoints.own(NUMPY, None) is None
    items = adjoints.own(NUMPY, (array, [array, 1.0], {"w": array}))
    assert type(items) is tuple and type(items[1]) is list and type(items[2]) is dict
    assert not _shares([items[0], items[1][0], items[2]["w"]], [array])


def test_second_derivatives_through_own():
    srcgrad.check_grad(bilinear, np.ones(3), np.full(3, 2.0), wrt=(0, 1), order=2)
    srcgrad.check_grad(shifted, np.array([0.5, -1.0]), order=2)


# -- the analysis on its own ------------------------------------------------------------------


def _shared(source: str) -> list[str]:
    function = ast.parse(textwrap.dedent(source)).body[0]
    return [ast.unparse(leaf) for leaf in shared_results(function, frozenset({"n"}))]


def test_names_views_and_unknown_calls_pass_their_origins_on():
    assert _shared("""
        def f(x, g, n):
            a = g
            b = xp.reshape(g, (3,))
            c = helper(x)
            d = x[0]
            e = xp.unbroadcast(n, x)
            return (a, b, c, d, e, n)
    """) == ["a", "b", "c", "d"]


def test_new_arrays_are_shared_only_when_returned_twice():
    assert _shared("""
        def f(x, g):
            a = x * g
            b = xp.tanh(x)
            c = xp.multiply(a, 2.0, out=a)
            d = xp.unreduce(g, x)
            return (b, c, d, a)
    """) == ["a"]  # c is a, written in place


def test_branches_join_and_loops_carry_origins():
    assert _shared("""
        def f(x, g, flag):
            if flag:
                a = g
            else:
                a = x * 2.0
            b = x * 3.0
            for i in range(3):
                c = b
                b = g
            return (a, c)
    """) == ["a", "c"]
    assert _shared("""
        def f(x, g):
            a = g
            a = a * 2.0
            return a
    """) == []


def test_records_and_containers_hold_what_is_put_in_them():
    assert _shared("""
        def f(x, g):
            stack = []
            stack.append(g)
            r = stack.pop()
            box = [x * 2.0]
            box[0] = x
            return (r, box)
    """) == ["r", "box"]
    assert _shared("""
        def f(x):
            def chain(x):
                return x
            return xp.blockwise(chain, x)
    """) == []  # the nested function's returns are its own
