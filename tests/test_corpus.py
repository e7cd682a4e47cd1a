"""The end-to-end corpus: user-style programs with control flow, in both modes.

Each row of `corpus.control_flow.CASES` goes through `rulespec.check_case` (finite
differences, dot-product test, forward mode, full gradient, strict backend). A few programs
also get exact checks that finite differences cannot give.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import srcgrad
from corpus import control_flow
from rulespec import check_case, draw

CASES = control_flow.CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_program_matches_finite_differences(case):
    check_case(case)


def _is_scalar(value) -> bool:
    return isinstance(value, (float, np.floating)) or (
        isinstance(value, np.ndarray) and value.ndim == 0)


SCALAR_CASES = [c for c in CASES if c.expected is None and _is_scalar(c.fn(*draw(c)))]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=[c.name for c in SCALAR_CASES])
def test_value_and_grad_gives_the_value_and_the_gradient(case):
    """value_and_grad's value is the function's (the backward sweep restores the names
    loops assign, so the value is read before it) and its gradient is vjp's at 1."""
    args = draw(case)
    output = case.fn(*args)
    positions = case.positions()
    value, grads = srcgrad.value_and_grad(case.fn, wrt=positions)(*args)
    pulled = srcgrad.vjp(case.fn, wrt=positions)(*args, 1.0)
    assert float(value) == float(output), case.name
    for g, want in zip(grads, pulled, strict=True):
        np.testing.assert_array_equal(g, want, err_msg=case.name)


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_program_has_a_row():
    programs = {name for name, value in vars(control_flow).items()
                if inspect.isfunction(value) and value.__module__ == control_flow.__name__}
    used = {case.fn.__name__ for case in CASES}
    callees = {f.__name__ for f in control_flow.CALLEES}
    assert programs - callees - used == set()
    assert len(programs - callees) >= 60


# -- a loop whose trip count depends on the data ----------------------------------------------

COTANGENT = np.array([0.1, 1.0, 0.0001])


def doublings(x) -> int:
    """How many times `double_until_large` multiplies its input by 2, counted in NumPy."""
    y = x * 2
    count = 1
    while np.linalg.norm(y) < 1000:
        y = y * 2
        count += 1
    return count


DOUBLING_INPUTS = [
    np.array([600.0, 0.0, 0.0]),  # 1200 after the first doubling: the loop never runs
    np.array([100.0, 200.0, 300.0]),
    np.array([0.5, -1.0, 2.0]),
    np.array([1e-3, 2e-3, -1e-3]),
]


def test_doubling_inputs_take_different_trip_counts():
    assert [doublings(x) for x in DOUBLING_INPUTS] == [1, 2, 9, 19]


@pytest.mark.parametrize("x", DOUBLING_INPUTS, ids=lambda x: f"k={doublings(x)}")
def test_doubling_loop_pulls_back_an_exact_power_of_two(x):
    k = doublings(x)
    pulled_back = srcgrad.vjp(control_flow.double_until_large)(x, COTANGENT)
    np.testing.assert_array_equal(pulled_back, COTANGENT * 2.0 ** k)


@pytest.mark.parametrize("x", DOUBLING_INPUTS, ids=lambda x: f"k={doublings(x)}")
def test_doubling_loop_pushes_forward_an_exact_power_of_two(x):
    k = doublings(x)
    value, tangent = srcgrad.jvp(control_flow.double_until_large)(x, COTANGENT)
    np.testing.assert_array_equal(value, x * 2.0 ** k)
    np.testing.assert_array_equal(tangent, COTANGENT * 2.0 ** k)


# -- in-place updates through an alias --------------------------------------------------------

def doubles_in_place_through_an_alias(x):
    y = x
    for _ in range(3):
        y *= 2.0
    return (y + x).sum()


def test_in_place_update_through_an_alias_keeps_numpy_semantics():
    # `y *= 2.0` doubles the array `x` and `y` share, so the result is (8 x + 8 x).sum():
    # value 16 * sum(x), gradient 16 everywhere. Rebinding `y` instead (9 * sum(x), gradient
    # 9) would silently change the program; refusing it with a diagnostic is also fine.
    x = np.array([1.0, -2.0, 0.5])
    assert doubles_in_place_through_an_alias(x.copy()) == -8.0
    try:
        value, gradient = srcgrad.value_and_grad(doubles_in_place_through_an_alias)(x.copy())
    except srcgrad.SrcgradError as exc:
        assert exc.location is not None and exc.location.line is not None
        return
    assert value == -8.0
    np.testing.assert_array_equal(gradient, [16.0, 16.0, 16.0])
