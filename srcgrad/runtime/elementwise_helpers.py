"""Derivative helpers for elementwise primitives: tie weights, clip masks, astype; and
``blockwise``, which runs an emitted chain of elementwise statements on blocks of rows.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``. (``blockwise`` also
compares its arguments' type with NumPy's array type, which no other backend's arrays
have: it cuts NumPy arrays only.)
"""

from __future__ import annotations

import numpy

__all__ = [
    "tie_weight",
    "clip_passes",
    "clip_below",
    "clip_above",
    "astype",
    "astype_adjoint",
    "astype_tangent",
    "math_floor",
    "math_ceil",
    "blockwise",
]


# -- maximum, minimum, fmax, fmin ------------------------------------------------------

def tie_weight(xp, y, x, other):
    """How much of ``y = maximum(x, other)`` (or ``minimum``, ``fmax``, ``fmin``) comes
    from ``x``: 1.0 where ``y`` equals ``x`` alone, 0.5 where ``x`` and ``other`` tie,
    0.0 elsewhere.

    Because the choice is read off the result, ``fmax``/``fmin`` give all the weight to
    the non-NaN operand, and a NaN produced by ``maximum``/``minimum`` gives none to
    either operand. The result has the broadcast shape of ``y``, ``x`` and ``other``.
    """
    weight = xp.where(y == x, xp.where(y == other, 0.5, 1.0), 0.0)
    dtype = getattr(y, "dtype", None)
    if dtype is not None and dtype.kind == "f":  # float32 arguments keep float32 gradients
        weight = weight.astype(dtype)
    return weight


# -- clip ------------------------------------------------------------------------------
#
# clip(a, a_min, a_max) is minimum(maximum(a, a_min), a_max): every element comes from
# exactly one of a, a_min, a_max. The three masks below partition the elements that way,
# with the bounds inclusive (a == a_min or a == a_max passes a through), None meaning no
# bound, and a_min > a_max giving a_max everywhere, as NumPy does.


def clip_below(xp, a, a_min, a_max):
    """Where ``clip(a, a_min, a_max)`` takes ``a_min``: ``a < a_min <= a_max``.

    Returns a boolean array, or ``False`` when ``a_min`` is None.
    """
    if a_min is None:
        return False
    below = a < a_min
    if a_max is not None:
        below = xp.logical_and(below, a_min <= a_max)
    return below


def clip_above(xp, a, a_min, a_max):
    """Where ``clip(a, a_min, a_max)`` takes ``a_max``: ``a > a_max``, or ``a_min > a_max``.

    Returns a boolean array, or ``False`` when ``a_max`` is None.
    """
    if a_max is None:
        return False
    above = a > a_max
    if a_min is not None:
        above = xp.logical_or(above, a_min > a_max)
    return above


def clip_passes(xp, a, a_min, a_max):
    """Where ``clip(a, a_min, a_max)`` passes ``a`` through: ``a_min <= a <= a_max``.

    The bounds are inclusive, and NaN entries of ``a`` (which clip passes through) count
    as passed. Returns a boolean array (0-d when both bounds are None).
    """
    clipped = xp.logical_or(clip_below(xp, a, a_min, a_max), clip_above(xp, a, a_min, a_max))
    return xp.logical_not(clipped)


# -- astype ----------------------------------------------------------------------------

def _is_inexact(xp, dtype) -> bool:
    return xp.dtype(dtype).kind in "fc"


def astype(xp, x, dtype):
    """The kernel of ``x.astype(dtype)``: a copy of ``x`` cast to ``dtype``.

    Arrays use their own ``astype``; Python numbers become a 0-d array of ``dtype``.
    """
    if hasattr(x, "astype"):
        return x.astype(dtype)
    return xp.asarray(x).astype(dtype)


def astype_adjoint(xp, g, x, dtype):
    """Adjoint of ``y = x.astype(dtype)``: ``g`` cast back to ``x``'s dtype.

    A Python number ``x`` gets ``g`` unchanged. A cast to an integer or boolean dtype is
    flat (truncation), so ``x`` then gets zeros of its own shape and dtype.
    """
    python_number = isinstance(x, (float, int))
    if not _is_inexact(xp, dtype):
        return 0.0 if python_number else xp.zeros(xp.shape(x), dtype=xp.result_type(x))
    if python_number:
        return g
    return astype(xp, g, xp.result_type(x))


def astype_tangent(xp, t, dtype):
    """Tangent of ``y = x.astype(dtype)``: ``t`` cast to ``dtype``; zeros (in ``t``'s
    dtype) when ``dtype`` is an integer or boolean dtype, whose casts are flat."""
    if not _is_inexact(xp, dtype):
        return xp.zeros(xp.shape(t), dtype=xp.result_type(t))
    return astype(xp, t, dtype)


# -- math.floor, math.ceil -------------------------------------------------------------

def math_floor(xp, x):
    """The kernel of ``math.floor(x)``: a Python int, as ``math.floor`` returns (so the
    result can index), for a number or a 0-d array."""
    return int(xp.floor(x))


def math_ceil(xp, x):
    """The kernel of ``math.ceil(x)``: a Python int, as ``math.ceil`` returns."""
    return int(xp.ceil(x))


# -- elementwise chains, block by block -----------------------------------------------

_NDARRAY = numpy.ndarray  # (CuPy's, Dask's and the strict stand-in's arrays: one call)
BLOCK_ELEMENTS = 1 << 14  # 128 KiB of float64: a chain's temporaries stay in the L2 cache
MIN_BLOCKS = 4  # smaller arrays are computed whole


def blockwise(xp, chain, *arrays):
    """``chain(*arrays)``, computed on consecutive blocks of rows of the arrays.

    ``chain`` is an emitted function of elementwise statements over arrays of one shape
    (see ``srcgrad.codegen.blocking``); it returns one array of that shape or a tuple of
    them, and writes into no array but those it makes. Its values do not depend on how
    the rows are cut, so on blocks small enough for the cache the result is the same,
    bit for bit, with fewer passes over memory. Blocks are used for NumPy arrays of one
    shape, all C-contiguous, of at least ``MIN_BLOCKS`` blocks of ``BLOCK_ELEMENTS``
    elements (whole rows); otherwise this is one call of ``chain``.
    """
    first = arrays[0]
    if type(first) is not _NDARRAY or first.size < MIN_BLOCKS * BLOCK_ELEMENTS:
        return chain(*arrays)  # (the common case of small arrays: decided first, cheaply)
    shape = first.shape
    for array in arrays:
        if type(array) is not _NDARRAY or array.shape != shape or not array.flags.c_contiguous:
            return chain(*arrays)
    rows = shape[0]
    step = BLOCK_ELEMENTS * rows // first.size  # rows per block
    if step < 1:
        return chain(*arrays)  # one row is larger than a block
    results = chain(*[array[:step] for array in arrays])
    several = type(results) is tuple
    parts = results if several else (results,)
    block = (step, *shape[1:])
    if any(type(part) is not _NDARRAY or part.shape != block for part in parts):
        # (the compiler makes chains of elementwise statements only: never reached; not
        # computed again whole, in case the chain changed what it was given)
        raise TypeError("srcgrad internal error: an elementwise chain gave "
                        f"{[type(part).__name__ for part in parts]} for rows of shape "
                        f"{block}; please report it, with the function differentiated")
    outputs = tuple(xp.empty(shape, dtype=part.dtype) for part in parts)
    for output, part in zip(outputs, parts):
        output[:step] = part
    for start in range(step, rows, step):
        stop = start + step
        parts = chain(*[array[start:stop] for array in arrays])
        if not several:
            parts = (parts,)
        for output, part in zip(outputs, parts):
            output[start:stop] = part
    return outputs if several else outputs[0]
