"""The softmax's max shift carries no derivative: analysis, emitted code and numbers.

`analysis/shift.py` proves that an output does not depend on a reduction `m` subtracted
from a softmax's input; activity analysis then treats `m` as a constant. Every case here
is checked against central finite differences in both modes (and at second order for
some), the positive ones also for the missing max adjoint in the emitted source, and the
negative ones (where the output does depend on `m`) for the analysis leaving `m` alone.
"""

import ast

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen import normalize, source
from srcgrad.codegen.analysis import shift


def log_softmax_ce(z, y):
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return -np.sum(y * (s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))))


def methods_last_axis(z, y):
    s = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return -np.mean(y * (s - log_norm))


def softmax_probabilities(z, w):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(w * p)


def global_shift(z, w):
    s = z - np.max(z)
    return np.sum(w * (s - np.log(np.sum(np.exp(s)))))


def mean_shift_with_offset(z, y, t):
    s = z - np.mean(z, axis=-1, keepdims=True)
    u = (s + t) - np.log(np.sum(np.exp(s + t), axis=-1, keepdims=True))
    return np.sum(y * u)


def scaled_by_weight(z, w):
    e = np.exp(z - np.min(z, axis=-1, keepdims=True)) * (w * w + 0.5)
    return np.sum(np.log(e / np.sum(e, axis=-1, keepdims=True)))


def with_aux(z, y):
    s = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(s)
    probs = e / np.sum(e, axis=1, keepdims=True)
    return -np.sum(y * np.log(probs)), probs


POSITIVE = [log_softmax_ce, methods_last_axis, softmax_probabilities, global_shift,
            mean_shift_with_offset, scaled_by_weight]


def shifted_output(z):  # the output moves with m
    s = z - np.max(z, axis=1, keepdims=True)
    return np.sum(s ** 2)


def scaled_output(z):  # exp(s) without its normalization
    return np.sum(np.exp(z - np.max(z, axis=1, keepdims=True)))


def other_axis(z):  # normalized over axis 0, shifted over axis 1
    s = z - np.max(z, axis=1, keepdims=True)
    return np.sum(s - np.log(np.sum(np.exp(s), axis=0, keepdims=True)))


def leading_broadcast(z, t):  # t adds a leading axis, so axis=1 now means z's axis 0
    s = z - np.max(z, axis=1, keepdims=True)
    u = s + t
    return np.sum(np.sin(u - np.log(np.sum(np.exp(u), axis=1, keepdims=True))))


def reused_shift(z):  # m read again outside the subtraction
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return np.sum(s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))) + np.sum(m ** 2)


def without_keepdims(z):  # max over axis 1 without keepdims broadcasts along axis 0
    s = z - np.max(z, axis=1)
    return np.sum(np.sin(s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))))


def shift_in_loop(z):  # analysed only at the top level: left alone
    total = 0.0
    for _ in range(2):
        s = z - np.max(z, axis=1, keepdims=True)
        total = total + np.sum(np.sin(s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))))
        z = z * 1.5
    return total


def scaled_difference(z):  # exp(s) - 1 is neither shifted nor scaled
    s = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(s) - 1.0
    return np.sum(np.log(e / np.sum(e, axis=1, keepdims=True) + 2.0))


NEGATIVE = [shifted_output, scaled_output, other_axis, reused_shift, shift_in_loop,
            scaled_difference]


def _constants(function):
    normalized, _ = normalize.normalize_with_updates(source.parse_function(function))
    return shift.invariant_reductions(normalized)


def _arguments(function, rng):
    shapes = {"z": (5, 4), "y": (5, 4), "w": (5, 4), "t": (4,)}
    names = function.__code__.co_varnames[:function.__code__.co_argcount]
    return [rng.normal(size=shapes[n]) for n in names]


@pytest.mark.parametrize("function", POSITIVE, ids=lambda f: f.__name__)
def test_shift_is_constant_and_gradients_match_finite_differences(function):
    assert len(_constants(function)) == 1
    args = _arguments(function, np.random.default_rng(0))
    srcgrad.check_grad(function, *args, wrt=0, order=2)
    gradient = srcgrad.grad(function, wrt=0)
    gradient(*args)
    assert "extremum_partials" not in gradient.source
    assert "partials" not in gradient.source


@pytest.mark.parametrize("function", NEGATIVE + [leading_broadcast, without_keepdims],
                         ids=lambda f: f.__name__)
def test_a_shift_the_output_depends_on_keeps_its_derivative(function):
    assert not _constants(function)
    rng = np.random.default_rng(1)
    args = _arguments(function, rng)
    if function is leading_broadcast:
        args[1] = rng.normal(size=(3, 5, 4))
    if function is without_keepdims:
        args[0] = rng.normal(size=(4, 4))
    srcgrad.check_grad(function, *args, wrt=0)


def test_with_aux_keeps_the_probabilities_and_drops_the_shift():
    z, y = np.random.default_rng(2).normal(size=(2, 6, 3))
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    value_and_grad = srcgrad.value_and_grad(with_aux, wrt=0, has_aux=True)
    (loss, probs), dz = value_and_grad(z, y)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(loss, -np.sum(y * np.log(expected)), rtol=1e-12)
    np.testing.assert_allclose(dz, expected - y, rtol=1e-10, atol=1e-12)
    assert "partials" not in value_and_grad.source


def test_a_row_with_ties_gets_the_exact_softmax_gradient():
    # Ties make the max's subgradient split; without the shift's derivative the result
    # is the softmax gradient itself, exact rather than a sum that cancels to rounding.
    z = np.array([[1.0, 1.0, 0.5], [2.0, -1.0, 2.0]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    dz = srcgrad.grad(log_softmax_ce, wrt=0)(z, y)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dz, probs - y, rtol=1e-14, atol=1e-15)



def test_only_the_backends_kernels_count_as_exp_and_sums():
    template = ("def f(z):\n    m = xp.max(z, axis=1, keepdims=True)\n    s = z - m\n"
                "    e = {module}.exp(s)\n    t = xp.sum(e, axis=1, keepdims=True)\n"
                "    u = e / t\n    return u\n")
    trusted = ast.parse(template.format(module="xp")).body[0]
    assert len(shift.invariant_reductions(trusted)) == 1
    foreign = ast.parse(template.format(module="other")).body[0]
    assert not shift.invariant_reductions(foreign)
