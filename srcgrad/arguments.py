"""What the arguments of a call to a derivative are, as far as choosing its compiled code
goes: the layout of each array (rank and unit axes), which are float64, whether they are
plain enough to skip the argument checks next time, and integer-like values a derivative
cannot be taken with respect to."""

from __future__ import annotations

import numpy as np

from srcgrad import runtime as rt

__all__ = ["layout", "guard", "MISS", "plain", "is_integer_like", "describe"]


def layout(value):
    """`(None, 1)` for an array of shape (n, 1) with n != 1, `()` for a float; None for
    values of other kinds (0-d arrays included: only a Python number has the scalar
    layout, which may leave out the choice of backend)."""
    kind = type(value)
    if (kind is np.ndarray or kind is rt.StrictArray) and value.ndim:
        return tuple(1 if n == 1 else None for n in value.shape)
    if kind is float or kind is np.float64:
        return ()
    return None


def is_float64(value) -> bool:
    """A Python float or a float64 array (what may be updated in place)."""
    return type(value) is float or getattr(value, "dtype", None) == np.float64


MISS = object()  # what a guard returns for arguments its function was not made for


def guard(args, function):
    """A function that calls `function` with arguments of the types, shapes and dtypes
    that `args` have (and returns its result) and returns `MISS` for any others: the
    fast path of a call. It is written for the one signature, so that the check costs
    about a tenth of a microsecond an argument and no loop."""
    names = [f"a{i}" for i in range(len(args))]
    scope = {"ndarray": np.ndarray, "function": function, "MISS": MISS}
    checks = []
    for i, (name, value) in enumerate(zip(names, args)):
        kind = type(value)
        if kind is np.ndarray:
            scope[f"shape{i}"], scope[f"dtype{i}"] = value.shape, value.dtype
            checks.append(f"type({name}) is ndarray and {name}.shape == shape{i}"
                          f" and {name}.dtype is dtype{i}")
        else:
            scope[f"type{i}"] = kind
            checks.append(f"type({name}) is type{i}")
    unpack = f"        {', '.join(names)}, = args\n" if names else ""
    text = (f"def guard(*args):\n"
            f"    if len(args) == {len(args)}:\n"
            f"{unpack}"
            f"        if {' and '.join(checks) or 'True'}:\n"
            f"            return function(*args)\n"
            f"    return MISS\n")
    exec(compile(text, "<srcgrad call guard>", "exec"), scope)  # noqa: S102 - text above
    return scope["guard"]


_NEUTRAL = frozenset({float, int, bool, str, type(None), np.float64, np.float32})


def plain(args, wrt_positions) -> bool:
    """Arguments the emitted function takes as they are: floats and float arrays where a
    derivative is taken, those or integers, strings and None elsewhere (no objects or
    containers, whose gradients need restructuring, and no integer wrt arguments)."""
    for i, value in enumerate(args):
        kind = type(value)
        if kind is np.ndarray:
            if i in wrt_positions and value.dtype.kind not in "fc":
                return False
        elif kind not in _NEUTRAL or (i in wrt_positions and kind is not float
                                      and kind is not np.float64 and kind is not np.float32):
            return False
    return True


def is_integer_like(value) -> bool:
    if isinstance(value, (bool, int, np.bool_, np.integer)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and getattr(dtype, "kind", "f") in "biu"


def describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(value, (np.generic,)):
        return f"an array of dtype {dtype}"
    return f"{type(value).__name__} {value!r}"
