"""Numerical checking of derivative rules from spec tables.

A spec row is a `Case`: a small user-style function (defined with `def` in a spec module,
so srcgrad can read its source), how to draw its arguments, and which primitives it
exercises (`covers`). `check_case` draws seeded float64 inputs, pulls back a random
cotangent with `srcgrad.vjp`, and compares against central finite differences: the
dot-product test <v, J u> == <J^T v, u> along random directions, and, for small inputs,
the full gradient element by element; forward mode (`srcgrad.jvp`) must give the same
directional derivative. It then reruns the derivative on the strict stand-in backend and
requires the same numbers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import srcgrad
from srcgrad.runtime import from_strict, to_strict

__all__ = ["Arg", "Case", "check_case", "draw"]

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7
FULL_CHECK_MAX_SIZE = 64


@dataclass(frozen=True)
class Arg:
    """A random float64 argument of `shape` with entries in [low, high].

    `shape=None` gives a Python float. `avoid` keeps entries at least that far from 0 in
    absolute value (for kinks and poles). `integer=True` draws integers (never in wrt).
    `distinct=True` makes entries well separated (for max/min/sort-like rules).
    """

    shape: tuple | None = ()
    low: float = -2.0
    high: float = 2.0
    avoid: float = 0.0
    integer: bool = False
    distinct: bool = False


@dataclass(frozen=True)
class Case:
    """One spec row. Plain (non-Arg) entries of `args` are passed through unchanged."""

    fn: Callable
    args: tuple
    covers: tuple
    id: str = ""
    wrt: tuple | None = None  # positions; default: every float Arg
    rtol: float = RTOL
    atol: float = ATOL
    strict: bool = True  # also check on the strict stand-in backend
    order2: bool = True  # second derivatives exist (used by higher-order checks)
    # For rules finite differences cannot see (stop_gradient): the exact VJP, as a function
    # of (args, cotangent) returning one array per wrt position.
    expected: Callable | None = None
    notes: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return self.id or self.fn.__name__

    def positions(self) -> tuple:
        if self.wrt is not None:
            return self.wrt
        return tuple(i for i, a in enumerate(self.args) if isinstance(a, Arg) and not a.integer)


def _rng(case: Case, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.name}/{salt}".encode()))


def _draw_arg(arg: Arg, rng: np.random.Generator):
    shape = () if arg.shape is None else arg.shape
    if arg.integer:
        value = rng.integers(int(arg.low), int(arg.high) + 1, size=shape)
        return int(value) if arg.shape is None else value
    if arg.distinct:
        n = int(np.prod(shape, dtype=int))
        grid = np.linspace(arg.low, arg.high, max(n, 1))
        value = rng.permutation(grid)[:n].reshape(shape)
    else:
        value = rng.uniform(arg.low, arg.high, size=shape)
    if arg.avoid:
        value = np.where(np.abs(value) < arg.avoid, np.sign(value + 1e-300) * arg.avoid + value, value)
    if arg.shape is None:
        return float(value)
    return np.asarray(value, dtype=np.float64)


def draw(case: Case) -> list:
    rng = _rng(case)
    return [_draw_arg(a, rng) if isinstance(a, Arg) else a for a in case.args]


def _perturbed(args, positions, directions, scale):
    out = list(args)
    for position, direction in zip(positions, directions, strict=True):
        out[position] = args[position] + scale * direction
    return out


def _as_float(value) -> float:
    return float(np.sum(value))


def check_case(case: Case) -> None:
    """Raise AssertionError with a readable message when the rule disagrees with FD."""
    args = draw(case)
    positions = case.positions()
    output = case.fn(*args)
    rng = _rng(case, "cotangent")
    cotangent = rng.standard_normal(np.shape(output))
    if np.shape(output) == ():
        cotangent = float(cotangent)
    derivative = srcgrad.vjp(case.fn, wrt=positions)
    grads = derivative(*args, cotangent)
    assert isinstance(grads, tuple) and len(grads) == len(positions)
    for position, g in zip(positions, grads, strict=True):
        assert np.shape(g) == np.shape(args[position]), (
            f"{case.name}: gradient for argument {position} has shape {np.shape(g)}, "
            f"expected {np.shape(args[position])}\n{derivative.source}")

    if case.expected is not None:
        for g, want in zip(grads, case.expected(args, cotangent), strict=True):
            np.testing.assert_allclose(np.asarray(g), want, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{case.name}\n{derivative.source}")
        return

    def objective(values) -> float:
        return _as_float(np.asarray(case.fn(*values)) * cotangent)

    # Dot-product test along one random direction per argument.
    directions = [rng.standard_normal(np.shape(args[p])) for p in positions]
    directions = [float(d) if np.shape(d) == () and not isinstance(args[p], np.ndarray) else d
                  for d, p in zip(directions, positions, strict=True)]
    plus = objective(_perturbed(args, positions, directions, EPS))
    minus = objective(_perturbed(args, positions, directions, -EPS))
    numeric = (plus - minus) / (2 * EPS)
    analytic = sum(_as_float(np.asarray(g) * d) for g, d in zip(grads, directions, strict=True))
    scale = max(1.0, abs(numeric), abs(analytic))
    assert abs(numeric - analytic) <= case.rtol * 10 * scale + case.atol, (
        f"{case.name}: dot-product test failed: finite differences {numeric!r}, "
        f"srcgrad {analytic!r}\n{derivative.source}")

    # Forward mode along the same directions: <v, J u> again, from the tangent.
    forward = srcgrad.jvp(case.fn, wrt=positions)
    primal_out, tangent = forward(*args, *directions)
    np.testing.assert_allclose(np.asarray(primal_out), np.asarray(output), rtol=1e-12,
                               err_msg=f"{case.name}: jvp primal output\n{forward.source}")
    assert np.shape(tangent) == np.shape(output), (
        f"{case.name}: tangent has shape {np.shape(tangent)}, output {np.shape(output)}\n"
        f"{forward.source}")
    forward_numeric = _as_float(np.asarray(tangent) * cotangent)
    assert abs(numeric - forward_numeric) <= case.rtol * 10 * scale + case.atol, (
        f"{case.name}: forward mode disagrees with finite differences: {numeric!r} vs "
        f"{forward_numeric!r}\n{forward.source}")

    # Full gradient, element by element, for small arguments.
    for position, g in zip(positions, grads, strict=True):
        value = np.asarray(args[position], dtype=np.float64)
        if value.size > FULL_CHECK_MAX_SIZE:
            continue
        expected = np.zeros(value.shape)
        for index in np.ndindex(value.shape):
            bump = np.zeros(value.shape)
            bump[index] = 1.0
            step = bump if isinstance(args[position], np.ndarray) else float(bump)
            up = objective(_perturbed(args, [position], [step], EPS))
            down = objective(_perturbed(args, [position], [step], -EPS))
            expected[index] = (up - down) / (2 * EPS)
        np.testing.assert_allclose(
            np.asarray(g), expected, rtol=case.rtol, atol=case.atol * 10 + 1e-6,
            err_msg=f"{case.name}: gradient of argument {position}\n{derivative.source}")

    if case.order2:
        _check_second_order(case, args, positions, cotangent, directions, derivative)

    if case.strict:
        strict_args = [to_strict(a) if isinstance(a, (np.ndarray, tuple, list)) else a for a in args]
        strict_cotangent = to_strict(np.asarray(cotangent)) if np.shape(output) != () else cotangent
        strict_grads = derivative(*strict_args, strict_cotangent)
        for g, sg in zip(grads, strict_grads, strict=True):
            np.testing.assert_allclose(
                np.asarray(from_strict(sg)) if not isinstance(sg, float) else sg, g,
                rtol=1e-12, atol=1e-12,
                err_msg=f"{case.name}: strict backend disagrees\n{derivative.source}")


def _check_second_order(case, args, positions, cotangent, directions, derivative) -> None:
    """Forward mode over the emitted vector-Jacobian product (a second derivative) against
    central differences of that product along the same directions."""
    second = srcgrad.jvp(derivative, wrt=positions)
    _, pushed = second(*args, cotangent, *directions)
    pushed = list(pushed) if isinstance(pushed, (list, tuple)) else [pushed]
    step = 1e-5
    up = derivative(*_perturbed(args, positions, directions, step), cotangent)
    down = derivative(*_perturbed(args, positions, directions, -step), cotangent)
    for index, (u, d, p) in enumerate(zip(up, down, pushed, strict=True)):
        numeric = (np.asarray(u, dtype=float) - np.asarray(d, dtype=float)) / (2 * step)
        scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
        np.testing.assert_allclose(
            np.asarray(p, dtype=float), numeric, rtol=1e-5, atol=1e-6 * scale,
            err_msg=f"{case.name}: second derivative (jvp of vjp) for argument "
                    f"{positions[index]}\n{second.source}")
