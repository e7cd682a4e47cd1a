"""Backward loops that only scale a cotangent by a number run as one multiplication
(`codegen/closed_forms.py`); the derivatives stay what the loops computed."""

import ast
import math

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen import closed_forms
from srcgrad.runtime import NUMPY, adjoints

from corpus.control_flow import double_until_large as doubling  # the seeds' loop


def tripling_scalar(x):
    y = x
    while y < 500.0:
        y = 3.0 * y
    return y * y


def alternating(x, n):
    y = x
    for _ in range(n):
        y = -0.5 * y
    return np.sum(np.sin(y))


def doubled_then_squared(x):
    y = x
    while np.sum(y * y) < 100.0:
        y = y * 2
    return np.sum(y ** 3)


def test_the_doubling_loop_vjp_is_one_multiplication_and_exact():
    vjp = srcgrad.vjp(doubling)
    x = np.array([0.011, -0.02, 0.005])
    v = np.array([0.3, -1.2, 2.0])
    result = vjp(x, v)
    trips = 1
    while np.linalg.norm(x * 2 ** trips) < 1000:
        trips += 1
    np.testing.assert_array_equal(result, v * 2.0 ** trips)  # powers of two: exact
    assert "by = xp.repeated_product(by, 2, " in vjp.source
    assert "for _ in range" not in vjp.source
    srcgrad.check_grad(doubling, x, wrt=0)


def test_a_scalar_loop_uses_the_closed_form_and_matches_finite_differences():
    gradient = srcgrad.grad(tripling_scalar)
    x = 0.7
    trips = 0
    y = x
    while y < 500.0:
        y, trips = 3.0 * y, trips + 1
    assert gradient(x) == pytest.approx(2 * x * 9.0 ** trips, rel=1e-14)
    assert "repeated_product" in gradient.source
    srcgrad.check_grad(tripling_scalar, x, wrt=0)


@pytest.mark.parametrize("n", [-2, 0, 1, 4, 7])
def test_a_negative_factor_and_zero_trips(n):
    x = np.linspace(-1.0, 1.0, 5)
    gradient = srcgrad.grad(alternating, wrt=0)
    factor = (-0.5) ** max(n, 0)
    expected = np.cos(x * factor) * factor
    np.testing.assert_allclose(gradient(x, n), expected, rtol=1e-14, atol=1e-15)
    assert "repeated_product" in gradient.source
    srcgrad.check_grad(alternating, x, n, wrt=0)


def test_second_derivatives_through_the_closed_form():
    x = np.array([0.3, -0.2, 0.4])
    srcgrad.check_grad(doubled_then_squared, x, wrt=0, order=2)
    hessian = srcgrad.hessian(doubled_then_squared)(x)
    scale = 1.0
    while np.sum((x * scale) ** 2) < 100.0:
        scale *= 2.0
    np.testing.assert_allclose(hessian, np.diag(6 * x * scale ** 3), rtol=1e-12)


def test_the_helper_overflows_to_infinity_as_the_repeated_products_would():
    assert adjoints.repeated_product(NUMPY, 1.0, 2.0, 2000) == math.inf
    assert adjoints.repeated_product(NUMPY, 1.0, -2, 2001) == -math.inf
    assert adjoints.repeated_product(NUMPY, 1.0, -2, 2000) == math.inf
    assert adjoints.repeated_product(NUMPY, 3.0, 0.5, 3000) == 0.0
    assert adjoints.repeated_product(NUMPY, 3.0, 0.5, -4) == 3.0  # range(-4) is empty
    g = np.ones(3, dtype=np.float32)
    assert adjoints.repeated_product(NUMPY, g, 2, 3).dtype == np.float32  # stays float32


def _rewritten(source: str, primal=frozenset()) -> str:
    function = ast.parse(source).body[0]
    closed_forms.close_scaling_loops(function, frozenset(primal))
    return ast.unparse(function)


def test_loops_that_do_more_than_scale_are_left_alone():
    kept = [
        # the counter is read
        "def f(g, n):\n    xp = rt.namespace(g=g)\n    for i in range(n):\n"
        "        g = g * 2\n    return g + i",
        # a factor that is not a number
        "def f(g, c, n):\n    xp = rt.namespace(g=g)\n    for _ in range(n):\n"
        "        g = g * c\n    return g",
        # two statements
        "def f(g, h, n):\n    xp = rt.namespace(g=g)\n    for _ in range(n):\n"
        "        g = g * 2\n        h = h * 2\n    return g + h",
        # an addition
        "def f(g, n):\n    xp = rt.namespace(g=g)\n    for _ in range(n):\n"
        "        g = g + 2\n    return g",
        # a loop with an else
        "def f(g, n):\n    xp = rt.namespace(g=g)\n    for _ in range(n):\n"
        "        g = g * 2\n    else:\n        g = g * 3\n    return g",
    ]
    for source in kept:
        assert _rewritten(source) == ast.unparse(ast.parse(source).body[0])
    scaling = ("def f(y, n):\n    xp = rt.namespace(y=y)\n    for _ in range(n):\n"
               "        y = y * 2\n    return y")
    assert "for _" in _rewritten(scaling, primal={"y"})  # the user's own loop
    assert "y = xp.repeated_product(y, 2, n)" in _rewritten(scaling)
    backwards = scaling.replace("range(n)", "reversed(range(1, n, 2))")
    assert "y = xp.repeated_product(y, 2, len(range(1, n, 2)))" in _rewritten(backwards)
