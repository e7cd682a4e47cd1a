"""Adjoint helpers that derivative rules emit as ``xp.<helper>(...)``.

Every helper takes the backend ``xp`` as its first parameter and is reached through a
:class:`~srcgrad.runtime.backend.Backend`, which binds it, so emitted code writes
``xp.unbroadcast(g, x)``. The helpers are generic over backends: they call only
``xp.<kernel>`` and array attributes, never NumPy directly, so the same code runs on
NumPy, CuPy and the strict stand-in.

Helpers are maths-free plumbing shared by many rules: undoing broadcasting, reductions
and indexing. The rules that use them live in ``srcgrad.rules``.
"""

from __future__ import annotations

import math
import operator

from ._plumbing import _size
from .containers import LIST_ARITHMETIC, LIST_JOINED_TANGENT, Cotangents

__all__ = [
    "unbroadcast",
    "unreduce",
    "unindex",
    "require_scalar",
    "matmul_adjoint_a",
    "matmul_adjoint_b",
    "stop_gradient",
    "require_same_shape",
    "broadcast_like",
    "repeated_product",
    "accumulate_at",
    "slot_adjoint",
    "slot_adjoint_transpose",
    "zero_slot",
    "update_slot",
    "like",
    "Like",
    "require_unshared",
    "SharedMemoryError",
    "NonScalarOutputError",
]


class SharedMemoryError(ValueError):
    """An in-place update would change an array another name shares (raised by emitted
    code; `filename`, `line`, `col` locate the user's statement)."""

    def __init__(self, message, filename="", line=0, col=0):
        super().__init__(f"{filename}:{line}:{col + 1}: {message}")
        self.message, self.filename, self.line, self.col = message, filename, line, col


class NonScalarOutputError(ValueError):
    """``grad`` was asked for the gradient of a function whose output is not a scalar."""


def unbroadcast(xp, g, x):
    """Sum the cotangent ``g`` down to the shape of ``x``, undoing NumPy broadcasting.

    Leading axes that broadcasting added are summed away; axes where ``x`` has size 1 are
    summed with ``keepdims``. ``x`` may be an array or a Python/NumPy scalar (shape
    ``()``). When the shapes already agree, ``g`` itself is returned (no copy). When ``g``
    has fewer elements than ``x`` (a scalar cotangent for an array, say) it is broadcast
    out and materialised as a fresh array.
    """
    if type(x) in _CONTAINER_KINDS and (g is None or (
            type(g) in _CONTAINER_KINDS and len(g) == len(x))):
        # the adjoint of a container (a sum of two, differentiated again) as it is; one of
        # another length is that of lists joined or repeated, refused below
        return g
    shape = xp.shape(x)
    g_shape = xp.shape(g)
    # The common case in hot loops: elementwise ops on equal shapes.
    if g_shape == shape:
        return g
    if _is_container_adjoint(g):  # (an elementwise result is an array, never a list)
        raise ValueError(LIST_ARITHMETIC)
    extra = len(g_shape) - len(shape)
    if extra > 0:
        g = xp.sum(g, axis=tuple(range(extra)))
    if extra >= 0:
        kept = g_shape[extra:]
        size_one_axes = tuple(
            axis
            for axis, (n, m) in enumerate(zip(shape, kept, strict=True))
            if n == 1 and m != 1
        )
        if size_one_axes:
            g = xp.sum(g, axis=size_one_axes, keepdims=True)
    if xp.shape(g) != shape:
        # g is smaller than x (e.g. a scalar seed): spread it over x's shape.
        g = _spread(xp, g, x, shape)
    return g


def _spread(xp, g, x, shape):
    """``g`` broadcast to ``shape``, the shape of ``x``, as a fresh writable array.

    A Python number ``g`` (the seed 1.0, say) takes ``x``'s floating dtype, so that a
    float32 argument gets a float32 gradient. A chunked ``x`` (a Dask array) gives a
    result chunked like it, rather than one chunk of the whole shape.
    """
    if type(g) in (int, float) and getattr(getattr(x, "dtype", None), "kind", "-") in "fc":
        g = xp.asarray(g, dtype=x.dtype)
    if getattr(x, "chunks", None) is not None:
        return xp.zeros_like(x, dtype=xp.result_type(g)) + g
    return xp.array(xp.broadcast_to(g, shape), order="C")


def _normalize_axes(axis, ndim):
    """``axis`` (None, int or tuple, possibly negative) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    if ndim == 0 and all(operator.index(a) in (0, -1) for a in axes):
        return ()  # (NumPy's reductions take axis 0 or -1 of a 0-d array: no axis at all)
    normalized = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        normalized.append(a % ndim if ndim else a)
    return tuple(sorted(normalized))


def unreduce(xp, g, x, axis=None, keepdims=False):
    """Adjoint of a sum-like reduction of ``x`` over ``axis``: spread ``g`` back over ``x``.

    ``axis`` is None, an int (negative allowed) or a tuple, exactly as given to the
    reduction; ``keepdims`` likewise. The reduced axes are re-inserted into ``g`` (unless
    ``keepdims`` kept them) and ``g`` is broadcast to ``x``'s shape. The result is a fresh,
    writable, contiguous array, never a read-only broadcast view, because adjoints are
    accumulated into in place.
    """
    shape = xp.shape(x)
    if not keepdims and type(g) not in (int, float):  # a number broadcasts as it is
        axes = _normalize_axes(axis, len(shape))
        kept_shape = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g = xp.reshape(g, kept_shape)
    return _spread(xp, g, x, shape)


def _is_basic_index_part(part):
    """True for index parts that select each element of ``x`` at most once."""
    if part is None or part is Ellipsis or isinstance(part, slice):
        return True
    if isinstance(part, bool):
        return False  # x[True] adds an axis like a mask does
    if isinstance(part, int):
        return True
    # NumPy integer scalars and 0-d integer arrays behave like ints; anything else with a
    # shape (arrays, masks) is advanced indexing and may repeat elements.
    dtype = getattr(part, "dtype", None)
    return getattr(part, "ndim", None) == 0 and dtype is not None and dtype.kind in "iu"


def unindex(xp, g, x, key):
    """Adjoint of ``y = x[key]``: zeros shaped like ``x`` with ``g`` accumulated at ``key``.

    ``key`` may be anything NumPy accepts: ints, slices, None, Ellipsis, integer arrays,
    boolean masks, or tuples of these. The result dtype is ``g``'s result dtype. A basic
    key is assigned (``out[key] = g``); an advanced key is accumulated without buffering
    (``xp.add_at``) so that repeated indices add up: the gradient of ``x[[0, 0, 1]].sum()``
    with respect to ``x`` is ``[2, 1, 0]``.
    """
    if isinstance(x, (list, tuple, dict)) or _is_container_adjoint(x):  # a container's item
        from .containers import item_part

        return item_part(xp, x, key, g)
    return _place(xp, xp.zeros(xp.shape(x), dtype=xp.result_type(g)), key, g, add=False)


def _place(xp, out, key, g, add):
    """``out`` with ``g`` written (``add``: added) at ``key``, in place; an advanced key
    always adds, without buffering, so that repeated indices add up."""
    parts = key if isinstance(key, tuple) else (key,)
    # A lazy (Dask) 0-d index cannot key an assignment: accumulate through it instead.
    lazy = any(getattr(part, "chunks", None) is not None for part in parts)
    if not lazy and all(_is_basic_index_part(part) for part in parts):
        if any(part is None for part in parts):
            # The axes None added are g's size-1 axes; not every backend (Dask) takes
            # None in an assignment's key.
            key = tuple(part for part in parts if part is not None)
            g = xp.reshape(g, xp.shape(out[key]))
        out[key] = out[key] + g if add else g
    else:
        xp.add_at(out, key, g)
    return out


def accumulate_at(xp, acc, g, x, key):
    """``acc + unindex(g, x, key)``, adding ``g`` into ``acc`` in place.

    Emitted code calls it in a backward loop that gathers the adjoint of ``x[key]`` one
    slot per trip, with an accumulator only this call ever assigns: the number ``0.0``
    before the first trip, then the array returned here. Without it, each trip would
    make a zero array of ``x``'s shape (O(n) work per trip, O(n^2) in all). Containers,
    lazy (Dask) arrays, and a ``g`` whose dtype would widen ``acc`` take the plain sum.
    """
    if type(acc) in (int, float) or _is_container_adjoint(acc) or isinstance(
            x, (list, tuple, dict)) or getattr(acc, "chunks", None) is not None:
        part = unindex(xp, g, x, key)
        return part if type(acc) in (int, float) and acc == 0 else acc + part
    if xp.result_type(acc, g) != acc.dtype:
        return acc + unindex(xp, g, x, key)
    return _place(xp, acc, key, g, add=True)


def require_scalar(xp, value, function_name):
    """Return ``value`` if it is a scalar (a Python number or 0-d); else raise.

    Raises :class:`NonScalarOutputError` naming ``function_name`` and the output shape,
    pointing to ``srcgrad.vjp`` for non-scalar outputs.
    """
    shape = xp.shape(value)
    if shape != ():
        error = NonScalarOutputError(
            f"grad of {function_name}: the output has shape {shape}, but grad needs a "
            f"scalar output; use srcgrad.vjp({function_name}) to pull back a cotangent of "
            f"that shape, or reduce the output (e.g. .sum()) first"
        )
        error.shape = tuple(shape)
        raise error
    return value


def matmul_adjoint_a(xp, g, a, b):
    """Adjoint of ``y = a @ b`` with respect to ``a``, for every matmul rank combination
    (vectors are promoted and demoted as ``np.matmul`` does; batch broadcasting undone)."""
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if b_ndim == 1:
        if a_ndim == 1:
            return g * b
        ga = g[..., None] * b
    elif a_ndim == 1:
        ga = xp.matmul(b, g[..., None])[..., 0]
    else:
        ga = xp.matmul(g, xp.swapaxes(b, -1, -2))
    return unbroadcast(xp, ga, a)


def matmul_adjoint_b(xp, g, a, b):
    """Adjoint of ``y = a @ b`` with respect to ``b`` (see :func:`matmul_adjoint_a`)."""
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if a_ndim == 1:
        if b_ndim == 1:
            return g * a
        gb = a[:, None] * g[..., None, :]
    elif b_ndim == 1:
        gb = xp.matmul(xp.swapaxes(a, -1, -2), g[..., None])[..., 0]
    else:
        gb = xp.matmul(xp.swapaxes(a, -1, -2), g)
    return unbroadcast(xp, gb, b)


def stop_gradient(xp, x):
    """The kernel of ``srcgrad.stop_gradient``: the identity (its rule gives no gradient)."""
    return x


def require_same_shape(xp, value, reference, description):
    """Return ``value`` if it has the shape of ``reference``; else raise ValueError.

    Used for cotangents (vjp) and tangents (jvp): one that merely broadcasts against the
    value it belongs to would silently give a wrong-shaped answer.
    """
    if isinstance(reference, (list, tuple, dict)) or _is_container_adjoint(reference):
        # containers and their adjoints: one entry per item
        if value is None or (type(value) is float and value == 0.0):
            return value  # a placeholder: all entries zero
        if not hasattr(value, "__len__") or len(value) != len(reference):
            raise ValueError(f"{description} must be a {type(reference).__name__} of "
                             f"{len(reference)} entries")
        return value
    shape, expected = xp.shape(value), xp.shape(reference)
    if any(isinstance(n, float) and math.isnan(n) for n in expected):  # Dask, size unknown
        raise ValueError(
            f"{description} must have the shape of a Dask array whose size Dask does not "
            f"know before computing ({expected}; indexing with a Dask boolean mask gives "
            "one): compute the mask first (mask.compute()), or use np.where(mask, x, 0)")
    if shape != expected:
        raise ValueError(f"{description} has shape {shape}, but must have shape {expected}")
    return value


def broadcast_like(xp, t, y):
    """``t`` spread to the shape of ``y`` (a tangent whose inactive operands were zero).

    Returns ``t`` itself when the shapes already agree, else a fresh materialised array.
    """
    if isinstance(y, (list, tuple)) and isinstance(t, (list, tuple)) and len(t) != len(y):
        raise ValueError(LIST_JOINED_TANGENT)  # (the tangent of one side of `xs + ys`)
    if isinstance(y, (list, tuple, dict)) or _is_container_adjoint(y) or (
            hasattr(y, "__dict__") and not hasattr(y, "shape")):
        return t  # a container, an object, or their adjoint: zeros stay placeholders
    shape = xp.shape(y)
    if xp.shape(t) == shape:
        return t
    return _spread(xp, t, y, shape)


def repeated_product(xp, g, factor, count):
    """``g`` multiplied ``count`` times by the number ``factor``, in one multiplication:
    ``g * factor ** count`` (a loop whose only work is scaling a cotangent, in closed
    form). A negative count multiplies none, as ``range(count)`` runs no steps; a power
    too large for a float is infinite, as the repeated products would be.
    """
    count = max(count, 0)
    try:
        power = float(factor) ** count
    except OverflowError:
        power = -math.inf if factor < 0 and count % 2 else math.inf
    return g * power


def _is_basic_key(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(_is_basic_index_part(part) for part in parts)


def slot_adjoint(xp, g, key, v):
    """Adjoint, for the value ``v``, of the slot update ``y[key] = v``; ``g`` is the adjoint
    of ``y`` after the update. Where an advanced key names a slot more than once, only the
    write that NumPy keeps (the last) receives a gradient.
    """
    if isinstance(v, (list, tuple, dict)) or _is_container_adjoint(g):
        from .containers import item_adjoint

        return item_adjoint(xp, g, key, v)
    if type(g) in _NUMBERS:  # a seed (1.0, for a 0-d array), or a zero: every slot holds g
        return unbroadcast(xp, g, v)
    part = g[key]
    if not _is_basic_key(key):
        part = part * _last_writes(xp, xp.shape(g), key, xp.shape(part))
    return unbroadcast(xp, part, v)


def _last_writes(xp, shape, key, part_shape):
    """For ``y[key] = v`` on an array of ``shape`` with an advanced ``key``: a boolean
    array shaped like ``y[key]``, true at the writes NumPy keeps (the last to each slot)."""
    order = xp.arange(_size(part_shape)).reshape(part_shape)
    written = xp.full(shape, -1)
    written[key] = order
    return written[key] == order


def slot_adjoint_transpose(xp, c, g, key, v):
    """The adjoint of ``slot_adjoint(g, key, v)`` with respect to ``g`` (it is linear in
    ``g``): ``c``, shaped like ``v``, spread over the slots ``y[key] = v`` wrote, in zeros
    shaped like ``g``. Only the writes NumPy keeps receive it, as in :func:`slot_adjoint`.
    """
    if isinstance(v, (list, tuple, dict)) or _is_container_adjoint(g):
        from .containers import item_part

        return item_part(xp, g, key, c)
    out = xp.zeros(xp.shape(g), dtype=xp.result_type(c))
    part_shape = xp.shape(out[key])
    part = xp.broadcast_to(c, part_shape)
    if _is_basic_key(key):
        out[key] = part
    else:
        xp.add_at(out, key, part * _last_writes(xp, xp.shape(g), key, part_shape))
    return out


def zero_slot(xp, g, key):
    """The adjoint of ``y`` before ``y[key] = v``: ``g`` with the overwritten slots zeroed
    (a new array; ``g`` itself is left alone)."""
    if _is_container_adjoint(g):
        entries = dict(g.entries) if isinstance(g.entries, dict) else list(g.entries)
        entries[key] = None
        return Cotangents(entries)
    out = xp.array(g, copy=True)
    out[key] = 0
    return out


def update_slot(xp, t, key, value):
    """``t`` with ``t[key] = value`` applied, as a new array (the tangent of a slot
    update)."""
    if isinstance(t, (list, tuple, dict)):
        out = dict(t) if isinstance(t, dict) else list(t)
        out[key] = value
        return out
    out = xp.array(t, copy=True)
    out[key] = value
    return out


class Like:
    """What the backward sweep keeps of an array it only needs the shape and dtype of."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Like(shape={self.shape}, dtype={self.dtype})"


def like(xp, value):
    """``value`` itself if it is a Python number or not an array (a tuple a call returned,
    say: recording it keeps references, not copies), else a :class:`Like` of its shape and
    dtype: recorded instead of an array whose contents no adjoint reads."""
    if value is None or isinstance(value, (int, float, complex)) or not hasattr(value, "dtype"):
        return value
    return Like(xp.shape(value), value.dtype)


def require_unshared(xp, value, others, message, filename="", line=0, col=0):
    """Raise a located error if the array ``value`` shares memory with one of ``others``
    (an augmented assignment would then update all of them in place); numbers pass."""
    if not hasattr(value, "__setitem__"):  # numbers and NumPy scalars are rebound, not updated
        return
    for other in others:
        if other is value or (hasattr(other, "shape") and xp.may_share_memory(value, other)):
            raise SharedMemoryError(message, filename, line, col)


def _is_container_adjoint(g) -> bool:
    return type(g) is Cotangents


_NUMBERS = frozenset({float, int, complex})
_CONTAINER_KINDS = frozenset({list, tuple, dict, Cotangents})
