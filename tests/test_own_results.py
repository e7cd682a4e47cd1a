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
from srcgrad.runtime import NUMPY, containers

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
    assert ("xp.own(" in derivative.source) == (function is not weighted)  # (1.0 * WEIGHTS)
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
    copy = containers.own(NUMPY, array)
    assert copy is not array and not np.shares_memory(copy, array)
    assert containers.own(NUMPY, 2.5) == 2.5 and containers.own(NUMPY, None) is None
    items = containers.own(NUMPY, (array, [array, 1.0], {"w": array}))
    assert type(items) is tuple and type(items[1]) is list and type(items[2]) is dict
    assert not _shares([items[0], items[1][0], items[2]["w"]], [array])


def test_second_derivatives_through_own():
    srcgrad.check_grad(bilinear, np.ones(3), np.full(3, 2.0), wrt=(0, 1), order=2)
    srcgrad.check_grad(shifted, np.array([0.5, -1.0]), order=2)


# -- the analysis on its own ------------------------------------------------------------------


def _shared(source: str, arrays=frozenset(), repeats=False) -> list[str]:
    function = ast.parse(textwrap.dedent(source)).body[0]
    return [ast.unparse(leaf)
            for leaf in shared_results(function, frozenset({"n"}), arrays, repeats)]


def test_tangents_of_a_list_argument_times_an_int_may_be_the_list_repeated():
    source = """
        def f(p, dp, x, n, w):
            q = p * 2
            dq = 3 * dp
            dy = x * 2
            dz = dp * n
            return (q, dq, dy, dz, dp * 2.0, dp * w)
    """
    assert _shared(source, repeats=True) == ["q", "dq", "dy", "dz", "dp * w"]
    assert _shared(source, arrays=frozenset({"x", "w"}), repeats=True) == ["q", "dq", "dz"]
    assert _shared(source) == []  # reverse mode refuses a list's `*`: an array's multiple


def repeated(p):
    q = p * 2
    return q


def repeated_n_times(p, n):
    return p * n


def test_the_jvp_of_a_repeated_list_argument_holds_copies():
    p = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    dp = [np.array([0.5, 0.0]), np.array([0.0, 1.0])]
    for value, tangent in (srcgrad.jvp(repeated)(p, dp),
                           srcgrad.jvp(repeated_n_times, wrt=0)(p, 2, dp)):
        for got, expected in ((value, p * 2), (tangent, dp * 2)):
            assert len(got) == 4
            for item, reference in zip(got, expected, strict=True):
                np.testing.assert_array_equal(item, reference)
            assert not _shares(got, p + dp)
        assert not _shares(value, tangent)


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


# -- containers, objects, helpers (found by review) -------------------------------------------

GLOBAL = np.arange(3.0) + 1.0


def list_sum(ws):
    return np.sum(ws[0] + ws[1])


def dict_sum(ws):
    return np.sum(ws["a"] + ws["b"])


def list_pair(ws):
    return ws[0] + ws[1]


def sines_twice(x):
    y = np.sin(x)
    return y, y


def the_global(z):
    return GLOBAL


def through_a_helper(x):
    return the_global(x * 2.0)


def identity(x):
    return x


def _arrays(tree) -> list:
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _arrays(item)]
    if hasattr(tree, "__dict__") and not isinstance(tree, np.ndarray):
        return _arrays(list(vars(tree).values()))
    return [tree] if isinstance(tree, np.ndarray) else []


@pytest.mark.parametrize("function, argument", [
    (list_sum, [np.ones(3), np.ones(3)]),
    (list_sum, (np.ones(3), np.ones(3))),
    (dict_sum, {"a": np.ones(3), "b": np.ones(3)}),
])
def test_items_of_a_container_gradient_are_their_own(function, argument):
    gradient = srcgrad.grad(function)(argument)
    assert not _shares(_arrays(gradient), _arrays(argument))
    first = _arrays(gradient)[0]
    first *= 0.1  # an in-place step on one item leaves the other alone
    np.testing.assert_array_equal(_arrays(gradient)[1], np.ones(3))


def summed_in_a_loop(ws):
    total = ws[0] * 0.0
    for w in ws:
        total = total + w
    return np.sum(total * 3.0)


def test_a_loop_over_a_list_gives_each_item_its_own_gradient():
    # each trip's adjoint of w is the same array (the adjoint of total)
    ws = [np.ones(3), np.ones(3), np.ones(3)]
    gradient = srcgrad.grad(summed_in_a_loop)(ws)
    assert not _shares(gradient, ws)
    gradient[2] *= 0.5
    np.testing.assert_array_equal(gradient[1], np.full(3, 3.0))


def test_a_pulled_back_container_does_not_hold_the_cotangent():
    ws, cotangent = [np.ones(3), np.full(3, 2.0)], np.ones(3)
    pulled = srcgrad.vjp(list_pair)(ws, cotangent)
    assert not _shares(_arrays(pulled), [*ws, cotangent])


def test_one_array_returned_twice_in_a_list_is_two():
    x, direction = np.ones(3), np.ones(3)
    value, tangent = srcgrad.jvp(sines_twice)(x, direction)
    assert not _shares(_arrays(tangent), [x, direction])
    assert not _shares(_arrays(value) + _arrays(tangent), [])


def test_a_global_a_helper_returns_is_copied():
    value, tangent = srcgrad.jvp(through_a_helper)(np.ones(3), np.ones(3))
    assert value is not GLOBAL and not np.shares_memory(value, GLOBAL)
    np.testing.assert_array_equal(value, GLOBAL)


def test_an_objects_gradient_holds_arrays_of_its_own():
    model = srcgrad.nn.Linear(3, 2, rng=0)
    x, cotangent = np.ones(3), np.array([1.0, -1.0])
    gradient, _ = srcgrad.vjp(lambda_call, wrt=(0, 1))(model, x, cotangent)
    assert not _shares(_arrays(gradient), [cotangent, x, *_arrays(model)])
    gradient.bias *= 0.5
    np.testing.assert_array_equal(cotangent, [1.0, -1.0])


def lambda_call(model, x):
    return model(x)


class Pair:
    def __init__(self):
        self.a = np.ones(3)
        self.b = np.full(3, 2.0)


def attributes_added(p):
    return p.a + p.b


def test_the_gradient_of_an_objects_attributes_holds_arrays_of_its_own():
    pair, cotangent = Pair(), np.ones(3)
    pulled = srcgrad.vjp(attributes_added)(pair, cotangent)  # each attribute's is the cotangent
    assert not _shares([pulled.a, pulled.b], [cotangent, pair.a, pair.b])


def test_the_value_of_a_one_element_output_is_not_the_argument():
    x = np.array([2.0])
    value, gradient = srcgrad.value_and_grad(identity)(x)
    assert value is not x and not np.shares_memory(value, x)
    np.testing.assert_array_equal(gradient, [1.0])


def test_own_copies_the_arrays_of_objects_and_container_adjoints():
    from srcgrad.runtime.containers import Cotangents

    array = np.ones(2)
    model = srcgrad.nn.Linear(2, 1, rng=0)
    copied = containers.own(NUMPY, model)
    assert type(copied) is type(model)
    assert not _shares(_arrays(copied), _arrays(model))
    entries = containers.own(NUMPY, Cotangents([array, None])).entries
    assert entries[1] is None and not np.shares_memory(entries[0], array)


def test_the_analysis_sees_repeated_items_and_joined_containers():
    assert _shared("""
        def f(x):
            y = xp.sin(x)
            pair = [y, y]
            return pair
    """) == ["pair"]
    assert _shared("""
        def f(ws, g):
            a = xp.item_part(ws, 0, g)
            b = xp.item_part(ws, 1, g)
            c = a + b
            return c
    """) == ["c"]
    assert _shared("""
        def f(x):
            return helper(x * 2.0)
    """) == ["helper(x * 2.0)"]
    assert _shared("""
        def f(x):
            rows = [xp.sin(x)] * 3
            return rows
    """) == ["rows"]  # one array three times
    assert _shared("""
        def f(ws, g):
            a = xp.item_part(ws, 0, g * 2.0)
            b = a * 3.0
            c = b / 2.0
            return (b, c)
    """) == []  # only `+` joins container adjoints: products are new arrays
    assert _shared("""
        def f(ws):
            for i, w in enumerate(ws):
                last = w
            return last
    """) == ["last"]  # an item of the argument, through enumerate
    assert _shared("""
        def f(a, b):
            ga, gb = xp.blockwise(chain, a, b)
            return (ga, gb)
    """) == []  # a chain hands back arrays it made, one each
    assert _shared("""
        def f(ws, x):
            a = ws.copy()
            b = x.copy()
            c = xp.tanh(x).copy()
            return (a, b, c)
    """) == ["a", "b"]  # a list's copy holds its items; x may be a list too
    assert _shared("""
        def f(xs, ys, x):
            both = xs + ys
            scaled = x * 2.0
            return (both, scaled)
    """) == ["both"]  # list arguments joined hold their items


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a, self.b = np.ones(2), 3.0


def test_own_copies_the_arrays_of_an_object_with_slots():
    value = Slotted()
    copied = containers.own(NUMPY, value)
    assert copied is not value and type(copied) is Slotted
    assert not np.shares_memory(copied.a, value.a) and copied.b == 3.0
