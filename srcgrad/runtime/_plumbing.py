"""Private plumbing shared by the adjoint helper modules; nothing here is a helper.

Sizes, reduction results kept broadcastable, floating casts, the tangent literal 0 and
cutting an array into pieces: used by :mod:`~srcgrad.runtime.reduction_helpers`,
:mod:`~srcgrad.runtime.product_helpers` and :mod:`~srcgrad.runtime.array_helpers`. The
module has no ``__all__`` and is not in ``backend.HELPER_MODULES``, so none of these
names appears on a backend.
"""

from __future__ import annotations


def _size(shape) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def _kept(xp, y, shape, axes, keepdims):
    """A reduction's result ``y`` reshaped so that it broadcasts against its input."""
    if keepdims:
        return y
    return xp.reshape(y, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _floating(xp, a):
    """``a`` as a backend array of a floating (or complex) dtype."""
    a = xp.asarray(a)
    if a.dtype.kind not in "fc":
        a = a.astype(xp.float64)
    return a


def _is_zero_literal(value):
    """True for the Python number 0: the tangent forward mode gives an inactive operand."""
    return type(value) in (int, float) and value == 0


def _split(xp, g, sizes, axis):
    """Consecutive pieces of ``g`` along ``axis`` (non-negative) with the given sizes."""
    pieces = []
    start = 0
    lead = (slice(None),) * axis
    for n in sizes:
        pieces.append(g[lead + (slice(start, start + n),)])
        start += n
    return pieces
