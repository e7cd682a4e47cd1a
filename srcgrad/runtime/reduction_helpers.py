"""Derivative helpers for reductions and diagonals: mean, prod, max/min, var, std, cumsum,
norm, diagonal, trace and diag.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.

Two kinds of helper live here. ``un<op>(g, ...)`` pulls a cotangent ``g`` of ``<op>``'s
result back to its input, shaped like that input. ``<op>_partials(...)`` returns the local
derivative of a reduction, shaped like its input, so that a rule's adjoint is
``unreduce(g) * partials`` and its tangent ``sum(partials * dx)``: one formula, both modes.
Where a derivative is a matter of convention (ties, kinks, the zero vector) the convention
is stated on the helper and chosen so that both modes agree.

For derivatives of derivatives, ``prod_second_partials``, ``std_partials_dy`` and
``norm_partials_dx``/``_dy`` give the derivatives of the ``*_partials`` helpers themselves
(the others are linear or piecewise constant); the same conventions hold.
"""

from __future__ import annotations

import operator

from ._plumbing import _floating, _is_zero_literal, _kept, _size
from .adjoints import _normalize_axes, unreduce

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
    "prod_second_partials",
    "std_partials_dy",
    "norm_partials_dx",
    "norm_partials_dy",
    "std_partials_derivative",
    "norm_partials_derivative",
]


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
    hits = a == (y if keepdims else _kept(xp, y, a.shape, axes, keepdims))
    count = xp.sum(hits, axis=axes, keepdims=True)
    weights = hits / xp.maximum(count, 1)  # a NaN slice has no hit
    return weights if weights.dtype == a.dtype else weights.astype(a.dtype)


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
    derivative is 0, as for the norm at the zero vector. Linear in ``a``: the literal 0
    (an inactive tangent) gives 0.
    """
    if _is_zero_literal(a):
        return 0.0
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    kept = _kept(xp, y, a.shape, axes, keepdims)
    denominator = xp.where(kept == 0, 1, kept * _dof(a.shape, axes, ddof))
    return _centered(xp, a, axes) / denominator  # the numerator is 0 where y is


def uncumsum(xp, g, a, axis=None):
    """Adjoint of ``y = cumsum(a, axis)``: the reversed cumulative sum of ``g``.

    With ``axis=None`` the cumulative sum runs over ``a`` flattened, so the result is
    reshaped back to ``a``'s shape; so it is for a 0-d ``a``, whose cumulative sum NumPy
    makes of shape (1,) whatever the axis.
    """
    g = xp.asarray(g)
    if axis is None or not xp.shape(a):
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


# -- diagonal, trace, diag ---------------------------------------------------------------

def _diagonal_length(n, m, offset):
    if offset >= 0:
        return max(0, min(n, m - offset))
    return max(0, min(n + offset, m))


def _embed_diagonal(xp, g, shape, offset, axis1, axis2):
    """Zeros of ``shape`` with ``g``'s last axis written onto the ``offset`` diagonal of
    axes ``axis1``, ``axis2`` (the adjoint of ``diagonal``).

    Built with ``where`` rather than an assignment through two index arrays, which not
    every backend (Dask) supports.
    """
    ndim = len(shape)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    n, m = shape[axis1], shape[axis2]
    rest = tuple(s for i, s in enumerate(shape) if i not in (axis1, axis2))
    dtype = xp.result_type(g)
    length = xp.shape(g)[-1]
    if length == 0:
        out = xp.zeros(rest + (n, m), dtype=dtype)
    else:
        # Entry k of g lands in row k + first_row, column k + first_col: spread g over the
        # rows (padding with zeros) and keep the diagonal's columns.
        first_row, first_col = max(-offset, 0), max(offset, 0)
        pad = [xp.zeros(rest + (count,), dtype=dtype)
               for count in (first_row, n - first_row - length)]
        rows = xp.concatenate([pad[0], g, pad[1]], axis=-1)
        on_diagonal = ((xp.arange(n)[:, None] - first_row)
                       == (xp.arange(m)[None, :] - first_col))
        out = xp.where(on_diagonal, rows[..., :, None], xp.zeros((), dtype=dtype))
    return xp.moveaxis(out, (-2, -1), (axis1, axis2))


def undiagonal(xp, g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``y = diagonal(a, offset, axis1, axis2)``: ``g`` put back on the diagonal."""
    return _embed_diagonal(xp, g, xp.shape(a), offset, axis1, axis2)


def untrace(xp, g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``y = trace(a, offset, axis1, axis2)``: ``g`` on every diagonal entry."""
    shape = xp.shape(a)
    length = _diagonal_length(shape[axis1], shape[axis2], offset)
    along = xp.broadcast_to(xp.expand_dims(xp.asarray(g), -1), xp.shape(g) + (length,))
    return _embed_diagonal(xp, along, shape, offset, axis1, axis2)


def undiag(xp, g, v, k=0):
    """Adjoint of ``y = diag(v, k)``: for a vector ``v`` the ``k``-th diagonal of ``g``;
    for a matrix ``v`` (possibly not square) ``g`` put back on its ``k``-th diagonal."""
    if xp.ndim(v) == 1:
        return xp.diag(g, k)
    return _embed_diagonal(xp, g, xp.shape(v), k, 0, 1)


# -- derivatives of the partials (derivatives of derivatives) ----------------------------

def prod_second_partials(xp, a, v, axis=None):
    """``sum_k d2y/(da_i da_k) v_k`` for ``y = prod(a, axis)``: the derivative of
    :func:`prod_partials` along ``v`` (shaped like ``a``). The second derivative of each
    slice's product is symmetric, so this is also the adjoint of ``prod_partials``.

    ``d2y/(da_i da_k)`` is the product of the elements other than ``a_i`` and ``a_k``
    (0 for ``i == k``). Exact with zeros, without dividing by them: with no zero in the
    slice it is ``(y / a_i) (sum_k v_k / a_k - v_i / a_i)``; with one zero, at ``a_m``,
    ``P sum_{k != m} v_k / a_k`` at the zero and ``(P / a_i) v_m`` elsewhere; with two,
    at ``a_m`` and ``a_n``, ``P v_n`` at ``a_m``, ``P v_m`` at ``a_n`` and 0 elsewhere
    (``P`` the product of the non-zero elements); with three or more, 0.
    """
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    is_zero = a == 0
    zeros = xp.sum(is_zero, axis=axes, keepdims=True)
    safe = xp.where(is_zero, 1, a)
    others = xp.prod(safe, axis=axes, keepdims=True)  # product of the non-zero elements
    scaled = xp.where(is_zero, 0, v / safe)
    scaled_sum = xp.sum(scaled, axis=axes, keepdims=True)
    at_zeros = xp.sum(xp.where(is_zero, v, 0), axis=axes, keepdims=True)
    no_zero = others / safe * (scaled_sum - scaled)
    one_zero = xp.where(is_zero, others * scaled_sum, others / safe * at_zeros)
    two_zeros = xp.where(is_zero, others * (at_zeros - v), 0)
    return xp.where(zeros == 0, no_zero,
                    xp.where(zeros == 1, one_zero, xp.where(zeros == 2, two_zeros, 0)))


def _reciprocal(xp, kept):
    """``1 / kept``, with 0 where ``kept`` is 0 (the convention at kinks of std and norm)."""
    return xp.where(kept == 0, 0, 1 / xp.where(kept == 0, 1, kept))


def std_partials_dy(xp, a, y, axis=None, ddof=0, keepdims=False):
    """``d/dy`` of :func:`std_partials` ``(a, y, ...)`` with ``a`` held fixed, shaped like
    ``a``: ``-std_partials / y``; 0 where ``y == 0``. (With ``y`` held fixed,
    ``std_partials`` is linear in ``a``.)"""
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    partials = std_partials(xp, a, y, axis, ddof, keepdims)
    return -partials * _reciprocal(xp, _kept(xp, y, a.shape, axes, keepdims))


def _is_two_norm(kind, ord):
    return kind == "frobenius" or (kind == "vector" and ord in (None, 2)) or (
        kind == "matrix" and ord in (None, "fro"))


def _norm_power(kind, ord):
    """``p`` for the norms whose partials are ``sign(x) |x / y|^(p - 1)``; None for those
    whose partials are piecewise constant (vector 0, 1, inf, -inf; matrix 1, -1, inf,
    -inf) or not implemented."""
    if _is_two_norm(kind, ord):
        return 2.0
    if kind == "vector" and ord not in (0, 1, _INF, -_INF):
        return float(ord)
    return None


def norm_partials_dx(xp, x, y, ord=None, axis=None, keepdims=False):
    """``d/dx`` of :func:`norm_partials` ``(x, y, ...)`` with ``y`` held fixed; the
    partials depend on each element of ``x`` alone, so this is elementwise, shaped like
    ``x``: ``1 / y`` for the 2-norm (and Frobenius), ``(p - 1) |x|^(p - 2) / y^(p - 1)``
    for other p-norms, 0 for the norms whose partials are piecewise constant.

    Conventions: 0 where ``y == 0``, and 0 where ``x == 0`` for p-norms other than 2
    (the exact value for ``p > 2``; for ``p < 2`` the second derivative is infinite
    there).
    """
    x = _floating(xp, x)
    kind, axes = _norm_kind(x.ndim, ord, axis)
    p = _norm_power(kind, ord)
    if p is None:
        return xp.zeros_like(x)
    inverse = _reciprocal(xp, _kept(xp, y, x.shape, axes, keepdims))
    if p == 2.0:
        return xp.zeros_like(x) + inverse
    ratio = xp.abs(x) * inverse
    safe = xp.where(ratio == 0, 1, ratio)
    return xp.where(ratio == 0, 0, (p - 1) * safe ** (p - 2) * inverse)


def norm_partials_dy(xp, x, y, ord=None, axis=None, keepdims=False):
    """``d/dy`` of :func:`norm_partials` ``(x, y, ...)`` with ``x`` held fixed, shaped like
    ``x``: ``-(p - 1) norm_partials / y`` for p-norms (p = 2 for the 2-norm and
    Frobenius), 0 for the norms whose partials are piecewise constant and where
    ``y == 0``."""
    x = _floating(xp, x)
    kind, axes = _norm_kind(x.ndim, ord, axis)
    p = _norm_power(kind, ord)
    if p is None:
        return xp.zeros_like(x)
    inverse = _reciprocal(xp, _kept(xp, y, x.shape, axes, keepdims))
    return -(p - 1) * norm_partials(xp, x, y, ord, axis, keepdims) * inverse


def std_partials_derivative(xp, a, y, axis=None, ddof=0, keepdims=False, ny=0):
    """``d^ny/dy^ny`` of :func:`std_partials` ``(a, y, ...)`` with ``a`` held fixed, shaped
    like ``a``: ``(a - mean) / (n - ddof) * (-1)^ny ny! / y^(ny + 1)``; 0 where
    ``y == 0``. Linear in ``a`` and symmetric (centering is a projection); the literal 0
    (an inactive tangent) gives 0."""
    if _is_zero_literal(a):
        return 0.0
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    inverse = _reciprocal(xp, _kept(xp, y, a.shape, axes, keepdims))
    factor = 1.0
    for t in range(1, ny + 1):
        factor *= -t
    return _centered(xp, a, axes) * (factor / _dof(a.shape, axes, ddof)) * inverse ** (ny + 1)


def norm_partials_derivative(xp, x, y, ord=None, axis=None, keepdims=False, nx=0, ny=0):
    """``d^nx/dx^nx d^ny/dy^ny`` of :func:`norm_partials` ``(x, y, ...)`` (x and y taken as
    independent; elementwise, shaped like ``x``). For p-norms (p = 2 for the 2-norm and
    Frobenius) the partials are ``sign(x) |x|^(p - 1) y^(1 - p)``, so this is
    ``(p-1)...(p-nx) (1-p)...(2-p-ny) s |x/y|^(p-1-nx) / y^(nx+ny)`` with ``s = sign(x)``
    for even ``nx`` and 1 for odd. 0 for the norms whose partials are piecewise constant,
    where ``y == 0``, and where ``x == 0`` and the power of ``|x|`` is negative (the
    conventions of :func:`norm_partials_dx`). For ``nx = 1, ny = 0`` it is
    ``norm_partials_dx``, for ``nx = 0, ny = 1`` ``norm_partials_dy``."""
    x = _floating(xp, x)
    kind, axes = _norm_kind(x.ndim, ord, axis)
    p = _norm_power(kind, ord)
    coefficient = 1.0
    if p is not None:
        for t in range(nx):
            coefficient *= p - 1 - t
        for t in range(ny):
            coefficient *= 1 - p - t
    if p is None or coefficient == 0:
        return xp.zeros_like(x)
    inverse = _reciprocal(xp, _kept(xp, y, x.shape, axes, keepdims))
    ratio = xp.abs(x) * inverse
    power = p - 1 - nx
    if power == 0:
        scaled = xp.ones_like(ratio)
    else:
        safe = xp.where(ratio == 0, 1, ratio)
        scaled = xp.where(ratio == 0, 0, safe ** power)
    if nx % 2 == 0:
        scaled = xp.sign(x) * scaled
    return coefficient * scaled * inverse ** (nx + ny)
