"""What the arguments of a call to a derivative are, as far as choosing its compiled code
goes: the layout of each array (rank and unit axes), which are float64, whether they are
plain enough to skip the argument checks next time, and integer-like values a derivative
cannot be taken with respect to."""

from __future__ import annotations

import numpy as np

from srcgrad import runtime as rt

__all__ = ["layout", "fast_path", "MISS", "plain", "is_integer_like", "describe"]


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


MISS = object()  # a positional argument the call did not pass


def fast_path(args, function, slow):
    """The function a derivative is called through after a plain call with `args`: it
    calls `function` with arguments of the types, shapes and dtypes that `args` have (and
    returns its result) and hands any other call, with its keywords, to `slow`. It is
    written for the one signature, with a positional parameter per argument (no tuple to
    unpack) and no loop, so that the check costs about a tenth of a microsecond an array.
    The errors the full path locates (`rt.SharedMemoryError`, `rt.NonScalarOutputError`)
    go to `slow` too, which runs the call again to report them."""
    names = [f"a{i}" for i in range(len(args))]
    scope = {"ndarray": np.ndarray, "function": function, "slow": slow, "MISS": MISS,
             "located": (rt.SharedMemoryError, rt.NonScalarOutputError)}
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
    parameters = "".join(f"{name}=MISS, " for name in names) + ("/, " if names else "")
    passed = ", ".join(names)
    given = f"*[a for a in ({passed},) if a is not MISS], " if names else ""
    text = (f"def call({parameters}*more, **keywords):\n"
            f"    if {' and '.join(checks + ['not more', 'not keywords'])}:\n"
            f"        try:\n"
            f"            return function({passed})\n"
            f"        except located:\n"
            f"            pass\n"
            f"    return slow({given}*more, **keywords)\n")
    exec(compile(text, "<srcgrad call fast path>", "exec"), scope)  # noqa: S102 - text above
    return scope["call"]


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
