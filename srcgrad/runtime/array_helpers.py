"""Adjoint helpers for reductions, shape manipulation, joining, linear algebra and einsum.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.

Two kinds of helper live here. ``un<op>(g, ...)`` pulls a cotangent ``g`` of ``<op>``'s
result back to one input, shaped like that input. ``<op>_partials(...)`` returns the local
derivative of a reduction, shaped like its input, so that a rule's adjoint is
``unreduce(g) * partials`` and its tangent ``sum(partials * dx)``: one formula, both modes.
Where a derivative is a matter of convention (ties, kinks, the zero vector) the convention
is stated on the helper and chosen so that both modes agree.
"""

from __future__ import annotations

import operator
import string

from .adjoints import (_normalize_axes, matmul_adjoint_a, matmul_adjoint_b, unbroadcast,
                       unreduce)

__all__ = [
    "unmean",
    "prod_partials",
    "extremum_partials",
    "var_partials",
    "std_partials",
    "uncumsum",
    "norm_partials",
    "untrace",
    "undiagonal",
    "undiag",
    "dot_adjoint_a",
    "dot_adjoint_b",
    "dot_tangent",
    "inner_adjoint_a",
    "inner_adjoint_b",
    "inner_tangent",
    "outer_tangent",
    "einsum_adjoint",
    "einsum_tangent",
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
]


# -- shared plumbing ---------------------------------------------------------------------

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


# -- reductions --------------------------------------------------------------------------

def unmean(xp, g, a, axis=None, keepdims=False):
    """Adjoint of ``y = mean(a, axis, keepdims)``: ``g`` spread over ``a``, divided by the
    number of elements averaged."""
    shape = xp.shape(a)
    count = _size(shape[i] for i in _normalize_axes(axis, len(shape)))
    spread = unreduce(xp, g, a, axis, keepdims)
    return spread / count if count else spread


def prod_partials(xp, a, axis=None):
    """``dy/da`` for ``y = prod(a, axis)``: the product of the *other* elements of each slice.

    Exact when the slice holds zeros, without dividing by them: with no zero it is
    ``y / a``; with exactly one zero it is the product of the rest at the zero and 0
    elsewhere; with two or more zeros it is 0 everywhere. (prod([2., 0., 3.]) -> [0, 6, 0].)
    """
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    is_zero = a == 0
    zeros = xp.sum(is_zero, axis=axes, keepdims=True)
    safe = xp.where(is_zero, 1, a)
    others = xp.prod(safe, axis=axes, keepdims=True)  # product of the non-zero elements
    lone_zero = xp.where(is_zero & (zeros == 1), others, 0)
    return xp.where(zeros == 0, others / safe, lone_zero)


def extremum_partials(xp, a, y, axis=None, keepdims=False):
    """``dy/da`` for ``y = max(a, axis)`` or ``min``: ties share the derivative equally.

    Each of the ``k`` elements of a slice that equal the slice's extremum gets ``1/k``, the
    others 0, so the gradient of ``max([1., 3., 3.])`` is ``[0, .5, .5]``. This is the
    average of the one-sided derivatives, and the tangent of the same rule agrees with it.
    """
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    hits = a == _kept(xp, y, a.shape, axes, keepdims)
    count = xp.sum(hits, axis=axes, keepdims=True)
    return (hits / xp.maximum(count, 1)).astype(a.dtype)  # a NaN slice has no hit


def _centered(xp, a, axes):
    return a - xp.mean(a, axis=axes, keepdims=True)


def _dof(shape, axes, ddof):
    """``n - ddof``, the divisor of var/std; NaN (as NumPy's result) when not positive."""
    n = _size(shape[i] for i in axes) - ddof
    return n if n > 0 else float("nan")


def var_partials(xp, a, axis=None, ddof=0):
    """``dy/da`` for ``y = var(a, axis, ddof=ddof)``: ``2 (a - mean) / (n - ddof)``."""
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    return _centered(xp, a, axes) * (2.0 / _dof(a.shape, axes, ddof))


def std_partials(xp, a, y, axis=None, ddof=0, keepdims=False):
    """``dy/da`` for ``y = std(a, axis, ddof=ddof)``: ``(a - mean) / ((n - ddof) y)``.

    Convention: where a slice is constant (``y == 0``, a kink of the square root) the
    derivative is 0, as for the norm at the zero vector.
    """
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    kept = _kept(xp, y, a.shape, axes, keepdims)
    denominator = xp.where(kept == 0, 1, kept * _dof(a.shape, axes, ddof))
    return _centered(xp, a, axes) / denominator  # the numerator is 0 where y is


def uncumsum(xp, g, a, axis=None):
    """Adjoint of ``y = cumsum(a, axis)``: the reversed cumulative sum of ``g``.

    With ``axis=None`` the cumulative sum runs over ``a`` flattened, so the result is
    reshaped back to ``a``'s shape.
    """
    if axis is None:
        return xp.reshape(xp.flip(xp.cumsum(xp.flip(g))), xp.shape(a))
    return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


_INF = float("inf")


def _norm_kind(ndim, ord, axis):
    """('vector' | 'matrix', reduced axes) for np.linalg.norm's arguments."""
    if axis is None:
        if ord is None or ndim == 1:
            return ("vector" if ord is not None else "frobenius"), tuple(range(ndim))
        return "matrix", (0, 1)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(operator.index(i) % ndim for i in axes)
    return ("matrix" if len(axes) == 2 else "vector"), axes


def _shared(xp, hits, axes):
    """Indicator ``hits`` divided among its ties along ``axes``."""
    return hits / xp.maximum(xp.sum(hits, axis=axes, keepdims=True), 1)


def norm_partials(xp, x, y, ord=None, axis=None, keepdims=False):
    """``dy/dx`` for ``y = np.linalg.norm(x, ord, axis, keepdims)``.

    Vector norms: ``ord`` None or 2 (``x / y``), 1 (``sign(x)``), any other p (including
    fractional) (``sign(x) |x/y|^(p-1)``), ``inf`` and ``-inf`` (``sign(x)`` at the entries
    of extreme magnitude, ties sharing equally as for max), 0 (a count: 0). Matrix norms:
    None and ``'fro'`` (``x / y``), 1, -1, inf and -inf (the extreme column or row of
    absolute sums, ties sharing equally). Matrix ``ord`` 2, -2 and ``'nuc'`` (singular
    values) raise NotImplementedError.

    Convention: at the zero vector (``y == 0``) the derivative is 0, the minimum-norm
    subgradient.
    """
    x = _floating(xp, x)
    kind, axes = _norm_kind(x.ndim, ord, axis)
    kept = _kept(xp, y, x.shape, axes, keepdims)
    safe = xp.where(kept == 0, 1, kept)
    if kind == "frobenius" or (kind == "vector" and ord in (None, 2)) or (
            kind == "matrix" and ord in (None, "fro")):
        return x / safe
    magnitude = xp.abs(x)
    if kind == "vector":
        if ord == 0:
            return xp.zeros_like(x)
        if ord == 1:
            return xp.sign(x)
        if ord in (_INF, -_INF):
            return xp.sign(x) * _shared(xp, magnitude == kept, axes)
        p = float(ord)
        return xp.where(kept == 0, 0, xp.sign(x) * (magnitude / safe) ** (p - 1))
    if ord in (1, -1, _INF, -_INF):
        rows, cols = axes
        summed, extreme = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = xp.sum(magnitude, axis=summed, keepdims=True)
        return xp.sign(x) * _shared(xp, sums == kept, extreme)
    raise NotImplementedError(
        f"srcgrad has no derivative for np.linalg.norm with ord={ord!r} on matrices (it "
        "needs singular values); use ord=None, 'fro', 1, -1, inf or -inf")


def _diagonal_length(n, m, offset):
    if offset >= 0:
        return max(0, min(n, m - offset))
    return max(0, min(n + offset, m))


def _embed_diagonal(xp, g, shape, offset, axis1, axis2):
    """Zeros of ``shape`` with ``g``'s last axis written onto the ``offset`` diagonal of
    axes ``axis1``, ``axis2`` (the adjoint of ``diagonal``)."""
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    n, m = shape[axis1], shape[axis2]
    rest = tuple(s for i, s in enumerate(shape) if i not in (axis1, axis2))
    out = xp.zeros(rest + (n, m), dtype=xp.result_type(g))
    steps = xp.arange(xp.shape(g)[-1])
    out[..., steps + max(-offset, 0), steps + max(offset, 0)] = g
    return xp.moveaxis(out, (-2, -1), (axis1, axis2))


def undiagonal(xp, g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``y = diagonal(a, offset, axis1, axis2)``: ``g`` put back on the diagonal."""
    return _embed_diagonal(xp, g, xp.shape(a), offset, axis1, axis2)


def untrace(xp, g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``y = trace(a, offset, axis1, axis2)``: ``g`` on every diagonal entry."""
    shape = xp.shape(a)
    length = _diagonal_length(shape[axis1], shape[axis2], offset)
    along = xp.broadcast_to(xp.expand_dims(g, -1), xp.shape(g) + (length,))
    return _embed_diagonal(xp, along, shape, offset, axis1, axis2)


def undiag(xp, g, v, k=0):
    """Adjoint of ``y = diag(v, k)``: for a vector ``v`` the ``k``-th diagonal of ``g``;
    for a matrix ``v`` (possibly not square) ``g`` put back on its ``k``-th diagonal."""
    if xp.ndim(v) == 1:
        return xp.diag(g, k)
    return _embed_diagonal(xp, g, xp.shape(v), k, 0, 1)


# -- products ----------------------------------------------------------------------------

def dot_adjoint_a(xp, g, a, b):
    """Adjoint of ``y = dot(a, b)`` with respect to ``a``, for every rank combination.

    ``dot`` is a product with a scalar when either side is 0-d, and agrees with ``matmul``
    when ``a`` is 1-D or ``b`` has at most 2 axes; otherwise it contracts ``a``'s last axis
    with ``b``'s second-to-last and keeps all other axes of both (no batch broadcasting).
    """
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if a_ndim == 0 or b_ndim == 0:
        return unbroadcast(xp, g * b, a)
    if a_ndim == 1 or b_ndim <= 2:
        return matmul_adjoint_a(xp, g, a, b)
    b_kept = [i for i in range(b_ndim) if i != b_ndim - 2]
    return xp.tensordot(g, b, axes=(list(range(a_ndim - 1, xp.ndim(g))), b_kept))


def dot_adjoint_b(xp, g, a, b):
    """Adjoint of ``y = dot(a, b)`` with respect to ``b`` (see :func:`dot_adjoint_a`)."""
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if a_ndim == 0 or b_ndim == 0:
        return unbroadcast(xp, g * a, b)
    if a_ndim == 1 or b_ndim <= 2:
        return matmul_adjoint_b(xp, g, a, b)
    lead = list(range(a_ndim - 1))
    return xp.moveaxis(xp.tensordot(a, g, axes=(lead, lead)), 0, b_ndim - 2)


def inner_adjoint_a(xp, g, a, b):
    """Adjoint of ``y = inner(a, b)`` (a product over both last axes) with respect to ``a``."""
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if a_ndim == 0 or b_ndim == 0:
        return unbroadcast(xp, g * b, a)
    b_free = list(range(a_ndim - 1, a_ndim + b_ndim - 2))
    return xp.tensordot(g, b, axes=(b_free, list(range(b_ndim - 1))))


def inner_adjoint_b(xp, g, a, b):
    """Adjoint of ``y = inner(a, b)`` with respect to ``b``."""
    a_ndim, b_ndim = xp.ndim(a), xp.ndim(b)
    if a_ndim == 0 or b_ndim == 0:
        return unbroadcast(xp, g * a, b)
    a_free = list(range(a_ndim - 1))
    return xp.tensordot(g, a, axes=(a_free, a_free))


def _bilinear_tangent(xp, product, a, b, da, db):
    """``product(da, b) + product(a, db)``, leaving out a term whose tangent is the literal
    0: a product of the scalar 0 with an array does not have the result's shape."""
    terms = []
    if not _is_zero_literal(da):
        terms.append(product(da, b))
    if not _is_zero_literal(db):
        terms.append(product(a, db))
    if not terms:
        return 0.0
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def dot_tangent(xp, a, b, da, db):
    """Tangent of ``y = dot(a, b)`` (an inactive operand's tangent may be the literal 0)."""
    return _bilinear_tangent(xp, xp.dot, a, b, da, db)


def inner_tangent(xp, a, b, da, db):
    """Tangent of ``y = inner(a, b)`` (an inactive operand's tangent may be the literal 0)."""
    return _bilinear_tangent(xp, xp.inner, a, b, da, db)


def outer_tangent(xp, a, b, da, db):
    """Tangent of ``y = outer(a, b)`` (an inactive operand's tangent may be the literal 0)."""
    return _bilinear_tangent(xp, xp.outer, a, b, da, db)


def _einsum_labels(subscripts, count):
    """The input label strings and the output label string of an einsum specification."""
    if not isinstance(subscripts, str):
        raise NotImplementedError(
            "srcgrad differentiates np.einsum only with a subscripts string first "
            "(np.einsum('ij,jk->ik', a, b))")
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise NotImplementedError(
            "srcgrad does not differentiate np.einsum with an ellipsis ('...') yet; "
            "name every axis")
    inputs, arrow, output = spec.partition("->")
    inputs = inputs.split(",")
    if not arrow:  # implicit mode: labels seen once, in alphabetical (ASCII) order
        joined = "".join(inputs)
        output = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    if len(inputs) != count:
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, "
                         f"{count} given")
    return inputs, output


def einsum_adjoint(xp, g, subscripts, operands, optimize=False):
    """Adjoints of ``y = einsum(subscripts, *operands)``, one per operand, as a tuple.

    The adjoint of operand ``i`` is itself an einsum: the cotangent ``g`` (labelled by the
    output) times every other operand, producing operand ``i``'s labels. Two cases need
    extra factors. A label repeated within operand ``i`` (``'ii->i'``, a diagonal) gets a
    fresh label per repeat, tied to the first by an identity matrix, so the result lands
    on the diagonal. A label found only in operand ``i`` (summed out, ``'ij->i'``) is
    broadcast back by a vector of ones. Size-1 axes NumPy broadcast are summed back.
    """
    inputs, output = _einsum_labels(subscripts, len(operands))
    unused = iter(c for c in string.ascii_letters if c not in set("".join(inputs) + output))
    dtype = xp.result_type(g, *operands)
    grads = []
    for i, (labels, operand) in enumerate(zip(inputs, operands, strict=True)):
        terms = [(output, g)] + [(s, o) for j, (s, o) in enumerate(
            zip(inputs, operands, strict=True)) if j != i]
        elsewhere = set("".join(s for s, _ in terms))
        target = []
        for label, n in zip(labels, xp.shape(operand), strict=True):
            if label in target:
                repeat = next(unused)
                terms.append((label + repeat, xp.eye(n, dtype=dtype)))
                target.append(repeat)
                continue
            if label not in elsewhere:
                terms.append((label, xp.ones(n, dtype=dtype)))
            target.append(label)
        spec = ",".join(s for s, _ in terms) + "->" + "".join(target)
        grad = xp.einsum(spec, *[t for _, t in terms], optimize=optimize)
        grads.append(unbroadcast(xp, grad, operand))
    return tuple(grads)


def einsum_tangent(xp, y, subscripts, operands, tangents, optimize=False):
    """Tangent of ``y = einsum(subscripts, *operands)``: the sum over operands of the
    einsum with that operand replaced by its tangent. A tangent given as the Python
    number 0 (an inactive operand) contributes nothing."""
    total = None
    for i, tangent in enumerate(tangents):
        if _is_zero_literal(tangent):
            continue
        replaced = list(operands)
        replaced[i] = tangent
        term = xp.einsum(subscripts, *replaced, optimize=optimize)
        total = term if total is None else total + term
    return xp.zeros_like(y) if total is None else total


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
