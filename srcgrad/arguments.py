"""What the arguments of a call to a derivative are, as far as choosing its compiled code
goes: the layout of each array (rank and unit axes), which are float64, whether they are
plain enough to skip the argument checks next time, and integer-like values a derivative
cannot be taken with respect to."""

from __future__ import annotations

import numpy as np

from srcgrad import runtime as rt

__all__ = ["layout", "fast_keys", "plain", "is_integer_like", "describe"]


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


def fast_keys(args) -> tuple:
    """What the fast path of a call compares: (shape, dtype) of arrays, else the type."""
    return tuple((a.shape, a.dtype) if type(a) is np.ndarray else type(a) for a in args)


def matches(args, keys) -> bool:
    """Do `args` have the types, shapes and dtypes `fast_keys` recorded?"""
    if len(args) != len(keys):
        return False
    for value, key in zip(args, keys):
        kind = type(value)
        if kind is np.ndarray:
            if type(key) is not tuple or value.shape != key[0] or value.dtype is not key[1]:
                return False
        elif kind is not key:
            return False
    return True


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
