"""Numerical checking of derivative rules from spec tables.

A spec row is a `Case`: a small user-style function (defined with `def` in a spec module,
so srcgrad can read its source), how to draw its arguments, and which primitives it
exercises (`covers`). `check_case` draws seeded float64 inputs, pulls back a random
cotangent with `srcgrad.vjp`, and compares against central finite differences: the
dot-product test <v, J u> == <J^T v, u> along random directions, and, for small inputs,
the full gradient element by element; forward mode (`srcgrad.jvp`) must give the same
directional derivative. It then reruns the derivative on a second backend and requires the
same numbers: the strict stand-in for CuPy by default, or the backend named by the
environment variable SRCGRAD_TEST_BACKEND (`cupy` on a GPU machine, `dask`).
`check_on_backend` reruns both modes of a case on any backend against NumPy.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import srcgrad
from srcgrad.runtime import from_strict, to_strict

__all__ = ["BACKEND_ENV", "TEST_BACKEND", "UNSUPPORTED", "Arg", "Case", "check_case",
           "check_on_backend", "draw"]

BACKEND_ENV = "SRCGRAD_TEST_BACKEND"
# The backend check_case reruns every derivative on (conftest.py validates it).
TEST_BACKEND = os.environ.get(BACKEND_ENV, "").strip().lower() or "strict"

_UNKNOWN_SIZE = (r"Dask (boolean mask|array whose size Dask does not know)"
                 r"|cannot broadcast shape \(nan")
# Backend -> case name -> (exception type, message pattern): the rows a backend cannot
# run, with the error its users see.
UNSUPPORTED = {"dask": {
    # A boolean mask computed from Dask data selects a number of elements Dask does not
    # know before computing (chunk sizes NaN); the adjoint has to put them back.
    "mask_index": (ValueError, _UNKNOWN_SIZE),
    "unindex-mask": (ValueError, r"shapes \(6,\) \(nan,\)"),
    "slot_mask_zero-(5,)": (ValueError, _UNKNOWN_SIZE),
    "slot_mask_zero-(2,3)": (ValueError, _UNKNOWN_SIZE),
    "slot_mask_value-(5,)": (ValueError, _UNKNOWN_SIZE),
    "slot_mask_value-(2,3)": (ValueError, _UNKNOWN_SIZE),
    # Dask indexes with at most one integer array per subscript (x[i, j] has two).
    "index-argument-pairs": (NotImplementedError, "nd fancy indexing"),
    "mixed_index": (NotImplementedError, "nd fancy indexing"),
    "nonzero_index": (NotImplementedError, "nd fancy indexing"),
    # dask.array has no argsort (nor sort).
    "sort_by_argsort": (AttributeError, "the dask backend has no kernel 'argsort'"),
    # np.cumsum of a Python float beside a Dask cotangent: dask.array's reductions take
    # arrays only.
    "cumsum-float": (AttributeError, "has no attribute 'ndim'"),
    # dask.array's cumsum takes no 0-d array (NumPy flattens it).
    "cumsum-0d-axis-neg": (ValueError, "out of bounds for array of dimension 0"),
    "cumsum-0d": (ValueError, "out of bounds for array of dimension 0"),
    # nor reductions of one over axis 0 or -1 (NumPy allows them)
    "sum-0d-axis0": (ValueError, "out of bounds for array of dimension 0"),
    "prod-0d-axis-neg-keepdims": (ValueError, "out of bounds for array of dimension 0"),
    "max-0d-axis0": (ValueError, "out of bounds for array of dimension 0"),
}}

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
    given = _copied([*args, cotangent])
    grads = derivative(*args, cotangent)
    _require_unchanged(given, [*args, cotangent], f"{case.name}: vjp", derivative)
    _require_own(grads, [*args, cotangent], f"{case.name}: vjp", derivative)
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
    given = _copied([*args, *directions])
    primal_out, tangent = forward(*args, *directions)
    _require_unchanged(given, [*args, *directions], f"{case.name}: jvp", forward)
    _require_own([primal_out, tangent], [*args, *directions], f"{case.name}: jvp", forward)
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
        unsupported = UNSUPPORTED.get(TEST_BACKEND, {}).get(case.name)
        if unsupported is None:
            _rerun(case, derivative, args, cotangent, grads)
        else:
            with pytest.raises(unsupported[0], match=unsupported[1]):
                _rerun(case, derivative, args, cotangent, grads)


def _copied(values: list) -> list:
    return _map_tree(values, lambda v: v.copy() if isinstance(v, np.ndarray) else v)


def _require_unchanged(before: list, after: list, what: str, derivative) -> None:
    """Emitted code never writes into the arrays its caller passed (arguments,
    cotangents, tangents), nor into the containers that hold them."""
    old, new = _leaves(before), _leaves(after)
    assert len(old) == len(new), f"{what} changed a container it was given\n{derivative.source}"
    for index, (was, now) in enumerate(zip(old, new, strict=True)):
        if isinstance(now, np.ndarray):
            assert np.array_equal(was, now, equal_nan=True), (
                f"{what} wrote into an array it was given (leaf {index})\n{derivative.source}")


def _require_own(results, given: list, what: str, derivative) -> None:
    """Each array a derivative returns is its own: it shares no memory with what the
    caller passed, nor with another result (the caller may update it in place)."""
    arrays = [leaf for leaf in _leaves(list(results)) if isinstance(leaf, np.ndarray)]
    others = [leaf for leaf in _leaves(given) if isinstance(leaf, np.ndarray)]
    for index, result in enumerate(arrays):
        for other in [*others, *arrays[:index]]:
            assert not np.shares_memory(result, other), (
                f"{what} returned an array that shares memory with an argument or another "
                f"result\n{derivative.source}")


def _leaves(tree) -> list:
    """The values a tree of lists, tuples, dicts, container adjoints and objects holds."""
    found = []

    def leaf(value):
        entries = getattr(value, "entries", None)  # (a container adjoint)
        if entries is not None:
            _map_tree(list(entries.values()) if isinstance(entries, dict) else entries, leaf)
        elif hasattr(value, "__dict__") and not hasattr(value, "shape"):
            _map_tree(list(vars(value).values()), leaf)
        else:
            found.append(value)

    _map_tree(tree, leaf)
    return found


def _rerun(case, derivative, args, cotangent, grads) -> None:
    """The vector-Jacobian product again on TEST_BACKEND: the same numbers as NumPy's."""
    to_device, to_host = _MOVERS[TEST_BACKEND]()
    device_args = [to_device(a) if isinstance(a, (np.ndarray, tuple, list)) else a
                   for a in args]
    device_cotangent = (to_device(np.asarray(cotangent)) if np.shape(cotangent) != ()
                        else cotangent)
    device_grads = derivative(*device_args, device_cotangent)
    rtol = 1e-12 if TEST_BACKEND == "strict" else 1e-9
    for g, dg in zip(grads, device_grads, strict=True):
        np.testing.assert_allclose(
            np.asarray(to_host(dg)) if not isinstance(dg, float) else dg, g,
            rtol=rtol, atol=1e-12,
            err_msg=f"{case.name}: {TEST_BACKEND} backend disagrees\n{derivative.source}")


def _check_second_order(case, args, positions, cotangent, directions, derivative) -> None:
    """Forward mode over the emitted vector-Jacobian product (a second derivative) against
    central differences of that product along the same directions."""
    second = srcgrad.jvp(derivative, wrt=positions)
    given = _copied([*args, cotangent, *directions])
    _, pushed = second(*args, cotangent, *directions)
    _require_unchanged(given, [*args, cotangent, *directions],
                       f"{case.name}: jvp of vjp", second)
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


# -- other backends ------------------------------------------------------------------------

def _map_tree(tree, leaf):
    if isinstance(tree, tuple):
        items = [_map_tree(v, leaf) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    if isinstance(tree, list):
        return [_map_tree(v, leaf) for v in tree]
    if isinstance(tree, dict):
        return {k: _map_tree(v, leaf) for k, v in tree.items()}
    return leaf(tree)


def _strict_movers():
    return to_strict, from_strict


def _cupy_movers():
    import cupy

    def to_device(tree):
        return _map_tree(tree, lambda v: cupy.asarray(v) if isinstance(v, np.ndarray) else v)

    def to_host(tree):
        return _map_tree(tree, lambda v: cupy.asnumpy(v) if isinstance(v, cupy.ndarray) else v)

    return to_device, to_host


def _dask_movers():
    import dask.array as da

    def chunked(v):
        # Floating data goes to Dask in two chunks along every axis that allows it, so that
        # reductions and contractions combine partial results; integer and boolean arrays
        # (indices, counts, masks) stay NumPy, beside the Dask data.
        if isinstance(v, np.ndarray) and v.dtype.kind in "fc":
            return da.from_array(v, chunks=tuple(max(1, (n + 1) // 2) for n in v.shape))
        return v

    def to_host(tree):
        return _map_tree(tree, lambda v: v.compute() if isinstance(v, da.Array) else v)

    return lambda tree: _map_tree(tree, chunked), to_host


_MOVERS = {"strict": _strict_movers, "cupy": _cupy_movers, "dask": _dask_movers}


def check_on_backend(case: Case, backend: str, rtol: float = 1e-9, atol: float = 1e-12,
                     during=contextlib.nullcontext) -> None:
    """Run the case's vector-Jacobian product and Jacobian-vector product on `backend`
    ("strict", "cupy" or "dask") and require NumPy's numbers. The derivative runs inside
    the context manager `during()` (on Dask: a scheduler that refuses to compute, so
    that nothing is computed before the caller asks). Raises what the derivative raises
    when the backend cannot run it."""
    to_device, to_host = _MOVERS[backend]()
    args = draw(case)
    positions = case.positions()
    output = case.fn(*args)
    rng = _rng(case, "cotangent")
    cotangent = rng.standard_normal(np.shape(output))
    if np.shape(output) == ():
        cotangent = float(cotangent)
    directions = [rng.standard_normal(np.shape(args[p])) for p in positions]
    directions = [float(d) if np.shape(d) == () and not isinstance(args[p], np.ndarray) else d
                  for d, p in zip(directions, positions, strict=True)]

    def moved(values):
        return [to_device(v) if isinstance(v, (np.ndarray, tuple, list)) else v
                for v in values]

    for kind, transform, extra in (("vjp", srcgrad.vjp, [cotangent]),
                                   ("jvp", srcgrad.jvp, directions)):
        derivative = transform(case.fn, wrt=positions)
        want = derivative(*args, *extra)
        device_args = moved(args) + moved(extra)
        with during():
            got = derivative(*device_args)
        message = f"{case.name}: {kind} on {backend} disagrees with NumPy\n{derivative.source}"
        _assert_close(to_host(got), want, rtol, atol, message)


def _assert_close(got, want, rtol, atol, message) -> None:
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), message
        for g, w in zip(got, want, strict=True):
            _assert_close(g, w, rtol, atol, message)
        return
    assert np.shape(got) == np.shape(want), f"shape {np.shape(got)} != {np.shape(want)}: {message}"
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol,
                               err_msg=message)
