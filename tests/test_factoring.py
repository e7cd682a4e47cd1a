"""Common factors taken out of an adjoint's contributions (codegen/factoring.py), nested
elementwise derivative expressions computed in one buffer, and dead arrays taking new
results (codegen/in_place.py): the derivative stays what the generic code and finite
differences say, the emitted source has the asserted form, and the W6 gradient needs no
more memory than the hand-written one."""

import ast
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import srcgrad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


def _same_as_generic(derivative, *args, rtol=1e-12):
    result = derivative(*args)
    generic = derivative.generic_function()(*args)
    results = result if isinstance(result, tuple) else (result,)
    generics = generic if isinstance(generic, tuple) else (generic,)
    for a, b in zip(results, generics, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)
    return result


def _backward(source: str) -> str:
    return source.split("# grad of line", 1)[1]


def test_w6_gradient_is_the_hand_written_schedule():
    """Nine passes over the data and two arrays: t = tanh(x); g = t * t; g = 1 - g;
    g *= 2; g -= t; g *= t; e = exp(-x) into t's memory; g *= e."""
    gradient = srcgrad.grad(workloads.elementwise)
    x = np.linspace(-2.0, 2.0, 1001)
    np.testing.assert_allclose(gradient(x), workloads.elementwise_grad(x), rtol=1e-13)
    lines = [line.strip() for line in _backward(gradient.source).splitlines()[1:]]
    assert lines == [
        "bx = tanh_x * tanh_x",
        "bx = xp.subtract(1.0, bx, out=bx)",
        "bx *= 2",
        "bx -= tanh_x",
        "bx *= tanh_x",
        "neg_x = xp.negative(x, out=tanh_x)",
        "exp_neg_x = xp.exp(neg_x, out=neg_x)",
        "bx *= exp_neg_x",
        "return bx",
        "bx = xp.blockwise(chain, x)",
        "return bx",
    ]
    srcgrad.check_grad(workloads.elementwise, np.linspace(-2.0, 2.0, 9), order=2)


def _peak(function, x) -> int:
    function(x)  # compiled and warm
    tracemalloc.start()
    try:
        function(x)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_w6_gradient_needs_no_more_memory_than_the_hand_written_one():
    x = np.random.default_rng(0).uniform(-2.0, 2.0, 200_000)
    gradient = srcgrad.grad(workloads.elementwise)
    hand = _peak(workloads.elementwise_grad, x)
    assert hand >= 2 * x.nbytes  # NumPy's arrays are traced
    assert _peak(gradient, x) <= hand + x.nbytes // 20


def exp_times_cube(x):
    return np.sum(np.exp(x) * x ** 3)


def shared_factor_of_two_inputs(x, y):
    s = np.sin(x)
    return np.sum(s * y * s + s * np.cos(y))


def broadcast_factor(x, y):
    return np.sum(np.tanh(x) ** 2 * np.exp(-y))


def with_aux(x):
    t = np.tanh(x) ** 2
    return np.sum(t * np.exp(-x)), t


def three_terms(x):
    e = np.exp(x)
    return np.sum(e * x + e * np.sin(x) + e * e)


def quotient_chain(x):
    return np.sum(1.0 / (1.0 + np.exp(-x)) * x)


def rebinding(x):
    a = np.sin(x)
    s = np.sum(a * np.exp(x))
    a = np.cos(x) * x
    return s + np.sum(a * np.exp(x))


def looped(x):
    e = np.exp(x)
    s = 0.0
    for k in range(3):
        s = s + np.sum(e * x ** 2 * k)
        x = x * e
    return s + np.sum(e * x)


CASES = {
    "rebinding": (rebinding, lambda r: (r.normal(size=12),), 0),
    "looped": (looped, lambda r: (0.3 * r.normal(size=12),), 0),
    "exp_times_cube": (exp_times_cube, lambda r: (r.normal(size=40),), 0),
    "shared_factor_of_two_inputs": (shared_factor_of_two_inputs,
                                    lambda r: tuple(r.normal(size=(2, 6, 5))), (0, 1)),
    "broadcast_factor": (broadcast_factor,
                         lambda r: (r.normal(size=(4, 1)), r.normal(size=5)), (0, 1)),
    "three_terms": (three_terms, lambda r: (r.normal(size=30),), 0),
    "quotient_chain": (quotient_chain, lambda r: (r.normal(size=(3, 7)),), 0),
    "elementwise": (workloads.elementwise, lambda r: (r.normal(size=50),), 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_factored_derivatives_match_the_generic_code_and_finite_differences(name):
    function, make, wrt = CASES[name]
    args = make(np.random.default_rng(3))
    _same_as_generic(srcgrad.grad(function, wrt=wrt), *args)
    srcgrad.check_grad(function, *args, wrt=wrt, order=2)
    single = tuple(np.asarray(a, dtype=np.float32) for a in args)  # no in-place updates
    result = srcgrad.grad(function, wrt=wrt)(*single)
    expected = srcgrad.grad(function, wrt=wrt)(*args)
    for a, b in zip(result if isinstance(result, tuple) else (result,),
                    expected if isinstance(expected, tuple) else (expected,), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)


def test_a_shared_factor_is_multiplied_in_once():
    gradient = srcgrad.grad(exp_times_cube)
    x = np.linspace(-1.0, 1.5, 11)
    np.testing.assert_allclose(gradient(x), np.exp(x) * (x ** 3 + 3 * x ** 2), rtol=1e-13)
    backward = _backward(gradient.source).split("\n", 1)[1]  # after the line quoted
    # e^x (x^3 + 3 x^2) as (3 + x) x x e^x: e^x made and multiplied in once, x^3 never
    assert backward.count("exp_x") == 2 and "bx *= exp_x" in backward
    assert "x ** 3" not in backward and "x_pow_3" not in backward
    three = srcgrad.grad(three_terms)
    np.testing.assert_allclose(
        three(x), np.exp(x) * (x + 1 + np.sin(x) + np.cos(x)) + 2 * np.exp(2 * x), rtol=1e-13)


def test_a_value_the_user_returns_is_not_read_into_a_derivative():
    """t is an output (aux): its statement stays, and its derivative factors around it."""
    x = np.linspace(-1.0, 1.0, 13)
    gradient = srcgrad.value_and_grad(with_aux, has_aux=True)
    (value, aux), dx = gradient(x)
    np.testing.assert_allclose(aux, np.tanh(x) ** 2, rtol=1e-15)
    np.testing.assert_allclose(dx, workloads.elementwise_grad(x), rtol=1e-13)
    assert value == pytest.approx(workloads.elementwise(x), rel=1e-15)


def test_overflow_in_the_shared_factor_gives_the_hand_written_result():
    """exp(-x) overflows at x = -800: the factored form multiplies it in last, as the
    hand-written gradient does (the unfactored sum made inf * 0 = nan there)."""
    x = np.array([-800.0, -1.0, 0.0, 2.0])
    with np.errstate(over="ignore", invalid="ignore"):
        got = srcgrad.grad(workloads.elementwise)(x)
        expected = workloads.elementwise_grad(x)
    np.testing.assert_array_equal(got, expected)


def derivative_of_logistic(x):
    p = 1.0 / (1.0 + np.exp(-x))
    return np.sum(p * p)


def test_nested_derivative_expressions_update_one_buffer():
    gradient = srcgrad.grad(derivative_of_logistic)
    x = np.linspace(-3.0, 3.0, 17)
    p = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(gradient(x), 2 * p * p * (1 - p), rtol=1e-13)
    _same_as_generic(gradient, x)
    srcgrad.check_grad(derivative_of_logistic, x, order=2)


def test_a_dead_array_is_reused_only_once_it_is_dead():
    """Each new result written into a dead array of ours must leave every live value as
    it was: a long chain of temporaries of one shape, compared with the generic code."""
    def chain(x, y):
        a = np.exp(-x)
        b = np.sin(y) * a
        c = np.tanh(b) - x
        d = np.cos(c) * y
        return np.sum(d * d + a * c)

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(2, 33))
    gradient = srcgrad.grad(chain, wrt=(0, 1))
    _same_as_generic(gradient, x, y)
    srcgrad.check_grad(chain, x, y, wrt=(0, 1), order=2)


def rebound_operand(x):
    u = x * 1.0
    e = np.exp(u)
    u = x * 3.0
    return np.sum(np.tanh(x) ** 2 * e) + np.sum(u * u)


def test_a_factor_is_not_moved_past_a_change_of_what_it_reads():
    x = np.linspace(-1.0, 1.0, 9)
    gradient = srcgrad.grad(rebound_operand)
    expected = workloads.elementwise_grad(-x) * -1.0 + 18.0 * x  # d/dx of tanh^2 e^x + 9x^2
    np.testing.assert_allclose(gradient(x), expected, rtol=1e-12)
    _same_as_generic(gradient, x)


def test_a_factor_whose_operand_is_rebound_stays_where_it_is():
    """The rewrite on its own, on code where a name the factor reads is assigned again
    between the factor's definition and the sum (the sum's terms read both values)."""
    from srcgrad.codegen import factoring

    text = """
def f(x, u):
    e = xp.exp(u)
    u = x * 3.0
    bx = e * x + e * u
    return bx
"""
    function = ast.parse(text).body[0]
    factoring.factor_contributions(function, {"x": (None,), "u": (None,)}, frozenset())
    lines = ast.unparse(function).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "e = xp.exp(u)", "u = x * 3.0", "bx = (x + u) * e", "return bx"]
    namespace = {"xp": np}
    module = ast.fix_missing_locations(ast.Module([function], []))
    exec(compile(module, "<test>", "exec"), namespace)  # noqa: S102
    x, u = np.linspace(0.0, 1.0, 5), np.linspace(1.0, 2.0, 5)
    np.testing.assert_allclose(namespace["f"](x, u), np.exp(u) * x + np.exp(u) * 3.0 * x)
