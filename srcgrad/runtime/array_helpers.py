"""Derivative helpers for shape manipulation, joining and linspace: transpose, concatenate,
stack, hstack, vstack, tile, repeat, linspace.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.

``un<op>(g, ...)`` pulls a cotangent ``g`` of ``<op>``'s result back to its input (or, for
the joins, to each input, as a tuple), shaped like that input. Reductions and diagonals
live in :mod:`~srcgrad.runtime.reduction_helpers`, products in
:mod:`~srcgrad.runtime.product_helpers`.
"""

from __future__ import annotations

import operator

from ._plumbing import _is_zero_literal, _size, _split
from .adjoints import _normalize_axes, unbroadcast

__all__ = [
    "dense_tangents",
    "untranspose",
    "unconcatenate",
    "stack_adjoint",
    "unhstack",
    "unvstack",
    "untile",
    "unrepeat",
    "linspace_adjoint_start",
    "linspace_adjoint_stop",
    "linspace_tangent",
    "sum_of",
    "unsum_of",
]


# -- shape manipulation and joining -------------------------------------------------------

def dense_tangents(xp, arrays, tangents):
    """The tangents of a sequence argument with each literal 0 (an inactive element) made
    an array of zeros shaped like its element, so that joining them keeps the shapes."""
    return [xp.zeros_like(a) if _is_zero_literal(t) else t
            for a, t in zip(arrays, tangents, strict=True)]


def untranspose(xp, g, axes=None):
    """Adjoint of ``y = transpose(a, axes)``: ``g`` transposed by the inverse permutation."""
    if axes is None:
        return xp.transpose(g)
    ndim = xp.ndim(g)
    axes = [operator.index(i) % ndim for i in axes]
    return xp.transpose(g, sorted(range(ndim), key=axes.__getitem__))


def unconcatenate(xp, g, arrays, axis=0):
    """Adjoints of ``y = concatenate(arrays, axis)``: ``g`` cut back into pieces shaped like
    ``arrays`` (flattened and reshaped when ``axis`` is None)."""
    shapes = [xp.shape(a) for a in arrays]
    if axis is None:
        pieces = _split(xp, g, [_size(s) for s in shapes], 0)
        return tuple(xp.reshape(p, s) for p, s in zip(pieces, shapes, strict=True))
    (axis,) = _normalize_axes(axis, xp.ndim(g))
    return tuple(_split(xp, g, [s[axis] for s in shapes], axis))


def stack_adjoint(xp, g, arrays, axis=0):
    """Adjoints of ``y = stack(arrays, axis)``: the slices of ``g`` along ``axis``.

    (Not ``unstack``: that is a NumPy kernel, which a helper of the same name would hide.)
    """
    (axis,) = _normalize_axes(axis, xp.ndim(g))
    moved = xp.moveaxis(g, axis, 0)
    return tuple(moved[i] for i in range(len(arrays)))


def _unjoin(xp, g, arrays, promoted, axis):
    shapes = [xp.shape(a) for a in arrays]
    pieces = _split(xp, g, [s[axis] for s in promoted], axis)
    return tuple(xp.reshape(p, s) for p, s in zip(pieces, shapes, strict=True))


def unhstack(xp, g, tup):
    """Adjoints of ``y = hstack(tup)``: 1-D (and 0-d) inputs were joined along axis 0,
    others along axis 1."""
    promoted = [xp.shape(a) or (1,) for a in tup]
    return _unjoin(xp, g, tup, promoted, 0 if len(promoted[0]) == 1 else 1)


def unvstack(xp, g, tup):
    """Adjoints of ``y = vstack(tup)``: inputs were made at least 2-D (a vector becomes a
    row) and joined along axis 0."""
    promoted = [(1,) * (2 - len(s)) + s for s in (xp.shape(a) for a in tup)]
    return _unjoin(xp, g, tup, promoted, 0)


def untile(xp, g, A, reps):
    """Adjoint of ``y = tile(A, reps)``: the sum of ``g``'s tiles, shaped like ``A``."""
    shape = xp.shape(A)
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    ndim = max(len(shape), len(reps))
    shape_padded = (1,) * (ndim - len(shape)) + shape
    reps_padded = (1,) * (ndim - len(reps)) + tuple(operator.index(r) for r in reps)
    blocks = tuple(n for pair in zip(reps_padded, shape_padded, strict=True) for n in pair)
    summed = xp.sum(xp.reshape(g, blocks), axis=tuple(range(0, 2 * ndim, 2)))
    return xp.reshape(summed, shape)


def unrepeat(xp, g, a, repeats, axis=None):
    """Adjoint of ``y = repeat(a, repeats, axis)``: each element's copies summed.

    ``repeats`` is an int (the copies form a new axis that is summed) or one count per
    element (the copies are accumulated with ``add_at``); ``axis=None`` repeats ``a``
    flattened.
    """
    shape = xp.shape(a)
    if axis is None:
        base, axis = (_size(shape),), 0
    else:
        (axis,) = _normalize_axes(axis, len(shape))
        base = shape
    if not isinstance(repeats, (list, tuple)) and xp.ndim(repeats) == 0:
        g_shape = xp.shape(g)
        split = g_shape[:axis] + (base[axis], int(repeats)) + g_shape[axis + 1:]
        summed = xp.sum(xp.reshape(g, split), axis=axis + 1)
    else:
        owners = xp.repeat(xp.arange(base[axis]), repeats)
        summed = xp.zeros(base, dtype=xp.result_type(g))
        xp.add_at(summed, (slice(None),) * axis + (owners,), g)
    return xp.reshape(summed, shape)


# -- constructors with array-valued arguments ----------------------------------------------

def _linspace_fraction(xp, y, num, endpoint, axis):
    """``t`` with ``y = start + t (stop - start)``: ``i / (num - 1)`` (``i / num`` without
    the endpoint), shaped to broadcast along ``y``'s sample axis ``axis``."""
    ndim = xp.ndim(y)
    (axis,) = _normalize_axes(axis, ndim)
    divisions = num - 1 if endpoint else num
    steps = xp.arange(num, dtype=xp.result_type(y, 1.0))
    fraction = steps / divisions if divisions > 0 else steps * 0
    return xp.reshape(fraction, (num,) + (1,) * (ndim - 1 - axis))


def linspace_adjoint_start(xp, g, start, stop, num=50, endpoint=True, axis=0):
    """Adjoint of ``y = linspace(start, stop, num, endpoint, axis=axis)`` for ``start``."""
    weight = 1 - _linspace_fraction(xp, g, num, endpoint, axis)
    return unbroadcast(xp, xp.sum(g * weight, axis=axis), start)


def linspace_adjoint_stop(xp, g, start, stop, num=50, endpoint=True, axis=0):
    """Adjoint of ``y = linspace(start, stop, num, endpoint, axis=axis)`` for ``stop``."""
    weight = _linspace_fraction(xp, g, num, endpoint, axis)
    return unbroadcast(xp, xp.sum(g * weight, axis=axis), stop)


def linspace_tangent(xp, y, dstart, dstop, num=50, endpoint=True, axis=0):
    """Tangent of ``y = linspace(start, stop, ...)``; a tangent given as the literal 0 (an
    inactive endpoint) contributes nothing."""
    fraction = _linspace_fraction(xp, y, num, endpoint, axis)
    shape = xp.shape(y)
    (position,) = _normalize_axes(axis, len(shape))
    batch = shape[:position] + shape[position + 1:]
    total = 0.0
    for tangent, weight in ((dstart, 1 - fraction), (dstop, fraction)):
        if not _is_zero_literal(tangent):
            total = total + xp.expand_dims(xp.broadcast_to(tangent, batch), axis) * weight
    return total


# -- Python's builtin sum -------------------------------------------------------------------


def sum_of(xp, items, start=0):
    """Python's ``sum(items, start)``: ``start + items[0] + items[1] + ...``, the same
    additions in the same order (arrays broadcast, as ``+`` does)."""
    total = start
    for item in items:
        total = total + item
    return total


def unsum_of(xp, g, items):
    """Adjoints of the items of ``y = sum(items, start)``: ``g`` summed down to each
    item's shape (as a tuple)."""
    return tuple(unbroadcast(xp, g, item) for item in items)
