"""Emitted code specialized to the layouts (rank, unit axes) of a call's arrays gives the
same derivatives as the generic code, for every layout a function is called with; golden
files pin the specialized gradients of an MLP, an RNN and W6's elementwise chain.

Regenerate the golden files after an intended change with

    SRCGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_layouts.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from corpus import calls_and_data, control_flow
from rulespec import draw

GOLDEN = Path(__file__).parent / "golden" / "specialized"
UPDATE = os.environ.get("SRCGRAD_UPDATE_GOLDEN") == "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import workloads  # noqa: E402


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _assert_same(actual, expected):
    for got, want in zip(_leaves(actual), _leaves(expected), strict=True):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# Every third row of both corpora: the specialized vjp against the generic one.
ROWS = [c for c in (*control_flow.CASES, *calls_and_data.CASES)][::3]


@pytest.mark.parametrize("case", ROWS, ids=[c.name for c in ROWS])
def test_specialized_code_agrees_with_the_generic_code(case):
    args = draw(case)
    wrt = case.positions()
    derivative = srcgrad.vjp(case.fn, wrt=wrt)
    output = case.fn(*args)
    cotangent = np.ones_like(output) if np.shape(output) else 1.0
    specialized = derivative(*args, cotangent)
    generic = derivative.generic_function()(*args, cotangent)
    _assert_same(specialized, generic)


def affine_loss(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2)


def _sum_to(g, shape):
    """g summed down to `shape` (undoing broadcasting), written out plainly."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _affine_gradients(W, b, X):
    t = np.tanh(X @ W + b)
    dz = 2.0 * t * (1.0 - t * t)
    return X.T @ dz, _sum_to(dz, np.shape(b)) if np.ndim(b) else float(np.sum(dz))


@pytest.mark.parametrize("b_shape,n", [((3,), 4), ((1, 3), 4), ((1,), 4), (None, 4),
                                       ((3,), 1), ((1,), 1)])
def test_one_derivative_called_with_many_layouts(b_shape, n):
    """The same derivative object, called with bias and batch layouts that change which
    axes are summed; each call gets code for its own layout."""
    derivative = srcgrad.grad(affine_loss, wrt=(0, 1))
    rng = np.random.default_rng(0)
    for d in (2, 5):  # sizes change, layouts do not: the compiled code is reused
        W, X = rng.standard_normal((d, 3)), rng.standard_normal((n, d))
        b = 0.3 if b_shape is None else rng.standard_normal(b_shape)
        dW, db = derivative(W, b, X)
        want_W, want_b = _affine_gradients(W, b, X)
        np.testing.assert_allclose(dW, want_W, rtol=1e-12)
        np.testing.assert_allclose(db, want_b, rtol=1e-12)
        assert np.shape(db) == np.shape(b)


def test_specialized_code_is_what_a_person_writes():
    rng = np.random.default_rng(1)
    derivative = srcgrad.grad(workloads.mlp_loss, wrt=(0, 1, 2, 3))
    generic = derivative.source
    assert "xp.unbroadcast" in generic and "matmul_adjoint" in generic
    derivative(*workloads.mlp_inputs(8, rng))
    specialized = derivative.source
    assert "xp.unbroadcast" not in specialized and "matmul_adjoint" not in specialized
    assert "bW2 = h.T @ bshifted" in specialized and "bb2 = bshifted.sum(axis=0)" in specialized
    assert "max_logits" not in specialized.split("# grad of line", 1)[1]  # see test_shift_invariance
    assert "require_scalar" not in specialized  # a sum is a scalar: no check, no loss value


GOLDEN_CASES = {  # name: (function, its arguments, wrt)
    "mlp_grad": (workloads.mlp_loss, lambda: workloads.mlp_inputs(16, np.random.default_rng(2)),
                 (0, 1, 2, 3)),
    "rnn_grad": (workloads.rnn_loss,
                 lambda: next(c for c in workloads.cases(test=True)
                              if c.workload.primal is workloads.rnn_loss).args, (0, 1, 2, 3)),
    # W6: an elementwise chain, run in blocks (codegen/blocking.py)
    "elementwise_grad": (workloads.elementwise, lambda: (np.linspace(-2.0, 2.0, 11),), 0),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_specialized_source_matches_golden_file(name):
    function, arguments, wrt = GOLDEN_CASES[name]
    args = arguments()
    derivative = srcgrad.grad(function, wrt=wrt)
    derivative(*args)
    path = GOLDEN / f"{name}.py"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(derivative.source)
    assert derivative.source == path.read_text(), f"specialized source of {name} changed"
    _assert_same(derivative(*args), derivative.generic_function()(*args))


def test_spread_seeds_become_numbers_where_only_products_read_them():
    x = np.linspace(-2.0, 2.0, 101)
    derivative = srcgrad.grad(workloads.elementwise)
    np.testing.assert_allclose(derivative(x), workloads.elementwise_grad(x), rtol=1e-12)
    assert "unreduce" not in derivative.source and "times" not in derivative.source
    rng = np.random.default_rng(3)
    xor = srcgrad.grad(workloads.xor_loss, wrt=(0, 1, 2, 3))
    args = workloads.xor_inputs(None, rng)
    _assert_same(xor(*args), workloads.xor_loss_grad(*args))
    assert "unmean" not in xor.source


def test_a_spread_array_that_is_returned_stays_an_array():
    def total(x):
        return np.sum(x)

    gradient = srcgrad.grad(total)(np.zeros((2, 3)))
    assert isinstance(gradient, np.ndarray) and gradient.shape == (2, 3)
    np.testing.assert_array_equal(gradient, np.ones((2, 3)))
    gradient[0, 0] = 5.0  # a fresh, writable array


def test_one_element_outputs_differentiate_like_pytorch_backward():
    def square(x):
        return x ** 2

    def linear(W, b, x):
        return x @ W.T + b

    np.testing.assert_array_equal(srcgrad.grad(square)(np.array([2.0])), [4.0])
    dW, db = srcgrad.grad(linear, wrt=(0, 1))(np.array([[0.5]]), np.array([0.1]),
                                             np.array([[3.0]]))
    np.testing.assert_array_equal(dW, [[3.0]])
    np.testing.assert_array_equal(db, [1.0])
    value, gradient = srcgrad.value_and_grad(square)(np.array([[3.0]]))
    np.testing.assert_array_equal(value, [[9.0]])
    np.testing.assert_array_equal(gradient, [[6.0]])
    with pytest.raises(srcgrad.SrcgradError, match="shape"):
        srcgrad.grad(square)(np.array([2.0, 1.0]))


def _scaled_column_sum(x, a=2.0):
    return x.sum(axis=0) * a


def test_one_element_outputs_of_calls_by_keyword_and_with_defaults():
    # (the cotangent of ones went in by position: `x` twice for grad(f)(x=x), and the
    # keyword-only cotangent after a default was missing)
    x = np.array([[1.0], [2.0], [3.0]])
    for args, kwargs, a in [((x,), {}, 2.0), ((), {"x": x}, 2.0), ((x,), {"a": 0.5}, 0.5),
                            ((), {"a": -1.0, "x": x}, -1.0)]:
        np.testing.assert_array_equal(srcgrad.grad(_scaled_column_sum)(*args, **kwargs),
                                      np.full((3, 1), a))
        value, gradient = srcgrad.value_and_grad(_scaled_column_sum)(*args, **kwargs)
        np.testing.assert_array_equal(value, [6.0 * a])
        np.testing.assert_array_equal(gradient, np.full((3, 1), a))


def test_negations_fold_into_factors_and_sums():
    rng = np.random.default_rng(4)
    xor = srcgrad.grad(workloads.xor_loss, wrt=(0, 1, 2, 3))
    args = workloads.xor_inputs(None, rng)
    _assert_same(xor(*args), workloads.xor_loss_grad(*args))
    backward = [line for line in xor.source.split("# grad of line", 1)[1].splitlines()
                if not line.strip().startswith("#")]
    assert not [line for line in backward if " = -" in line or "(-" in line or " -b" in line]
    mlp = srcgrad.grad(workloads.mlp_loss, wrt=(0, 1, 2, 3))
    args = workloads.mlp_inputs(8, rng)
    _assert_same(mlp(*args), workloads.mlp_loss_grad(*args))
    # the row sum's sign goes into the subtraction that uses it, no array is negated
    assert "neg_blog_norm = bminus.sum(axis=1, keepdims=True)" in mlp.source
    assert "bshifted -= xp.multiply(neg_bsum_exp_shifted" in mlp.source


def test_dead_temporaries_are_updated_in_place_only_for_float64():
    x = np.linspace(-2.0, 2.0, 1001)
    derivative = srcgrad.grad(workloads.elementwise)
    np.testing.assert_allclose(derivative(x), workloads.elementwise_grad(x), rtol=1e-12)
    assert "bx -= " in derivative.source and "*= " in derivative.source
    before = x.copy()
    derivative(x)
    np.testing.assert_array_equal(x, before)  # the argument itself is never updated
    single = srcgrad.grad(workloads.elementwise)
    result = single(x.astype(np.float32))
    assert result.dtype == np.float32
    assert not [op for op in ("*= ", "+= ", "-= ") if op in single.source]


def dense(W, b, x):
    return np.tanh(x @ W + b)


def layered_loss(W1, b1, W2, b2, X):
    h = dense(W1, b1, X)
    return np.sum(dense(W2, b2, h) ** 2) + np.sum(h * b1)


@pytest.mark.parametrize("b_shape", [(5,), (1, 5), None], ids=["row", "unit-row", "float"])
def test_called_functions_are_compiled_for_the_layouts_of_the_callers_arguments(b_shape):
    """A function called with the caller's own parameters is compiled for their layouts
    (its primal, vjp and jvp), and the caller's code after the call knows the shapes of
    what it returns: the same derivatives as the generic code, in both modes."""
    rng = np.random.default_rng(4)
    b1 = 0.2 if b_shape is None else rng.standard_normal(b_shape)
    args = (rng.standard_normal((3, 5)), b1, rng.standard_normal((5, 2)),
            rng.standard_normal(2), rng.standard_normal((4, 3)))
    derivative = srcgrad.vjp(layered_loss, wrt=(0, 1, 2, 3))
    specialized = derivative(*args, 1.0)
    _assert_same(specialized, derivative.generic_function()(*args, 1.0))
    functions = derivative.source.split("\n\n\n")
    first_layer, = [f for f in functions if "of dense with respect to W, b." in f]
    assert "unbroadcast" not in first_layer and "matmul_adjoint" not in first_layer
    pushforward = srcgrad.jvp(layered_loss, wrt=(0, 1))
    tangents = {pushforward.extra_parameters[0]: np.ones((3, 5)),
                pushforward.extra_parameters[1]: np.ones_like(b1) if b_shape else 1.0}
    _assert_same(pushforward(*args, **tangents),
                 pushforward.generic_function()(*args, **tangents))
    W1_grad, b1_grad = specialized[:2]
    assert np.shape(W1_grad) == (3, 5) and np.shape(b1_grad) == np.shape(b1)


def test_the_caller_knows_the_shape_of_what_a_called_function_returns():
    rng = np.random.default_rng(5)
    W, b, X = rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal((4, 3))

    derivative = srcgrad.grad(one_layer_then_bias, wrt=(0, 1, 3))
    c = rng.standard_normal(5)
    gradient = derivative(W, b, X, c)
    _assert_same(gradient, derivative.generic_function()(W, b, X, c))
    caller = derivative.source.split("def dense_vjp(")[0]
    assert "unbroadcast" not in caller  # `h + c`: h's shape is known, so c's sum is
    assert "bc = " in caller and ".sum(axis=0)" in caller


def one_layer_then_bias(W, b, X, c):
    return np.sum((dense(W, b, X) + c) ** 2)
