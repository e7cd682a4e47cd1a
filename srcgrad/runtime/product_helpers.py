"""Derivative helpers for products: dot, inner, outer and einsum.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.

``<op>_adjoint_a`` and ``<op>_adjoint_b`` pull a cotangent ``g`` of the product back to
one operand, shaped like it; ``einsum_adjoint`` returns one adjoint per operand.
``<op>_tangent`` gives the product's tangent; an inactive operand's tangent may be the
literal 0, and contributes nothing.

The adjoints are bilinear in the cotangent and the other operand, and read their own
operand only for its shape. ``<op>_adjoint_<a|b>_tangent`` gives their tangents (for
derivatives of derivatives), with the same treatment of the literal 0; the ``einsum_cross_*``
helpers give the terms of second derivatives of einsum that replace two operands.
"""

from __future__ import annotations

import string

from ._plumbing import _is_zero_literal
from .adjoints import matmul_adjoint_a, matmul_adjoint_b, unbroadcast

__all__ = [
    "dot_adjoint_a",
    "dot_adjoint_b",
    "dot_tangent",
    "inner_adjoint_a",
    "inner_adjoint_b",
    "inner_tangent",
    "outer_tangent",
    "einsum_adjoint",
    "einsum_tangent",
    "matmul_adjoint_a_tangent",
    "matmul_adjoint_b_tangent",
    "dot_adjoint_a_tangent",
    "dot_adjoint_b_tangent",
    "inner_adjoint_a_tangent",
    "inner_adjoint_b_tangent",
    "einsum_cross_adjoints",
    "einsum_adjoint_tangent",
    "einsum_cross_tangent",
]


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


def _einsum_labels(xp, subscripts, operands):
    """The input label strings and the output label string of an einsum specification, an
    ellipsis spelled out in labels of its own for these operands."""
    if not isinstance(subscripts, str):
        raise NotImplementedError(
            "srcgrad differentiates np.einsum only with a subscripts string first "
            "(np.einsum('ij,jk->ik', a, b))")
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    inputs = inputs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, "
                         f"{len(operands)} given")
    broadcast = ""
    if "." in spec:  # '...' stands for the axes no label names, aligned on the right
        spare = iter(c for c in string.ascii_letters if c not in spec)
        counts = [len(xp.shape(o)) - len(s.replace("...", "")) if "..." in s else 0
                  for s, o in zip(inputs, operands)]
        broadcast = "".join(next(spare) for _ in range(max(counts)))
        inputs = [s.replace("...", broadcast[len(broadcast) - n:])
                  for s, n in zip(inputs, counts)]
        output = output.replace("...", broadcast)
    if not arrow:  # implicit mode: the ellipsis' axes, then labels seen once, sorted (ASCII)
        joined = "".join(inputs)
        output = broadcast + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                            and c not in broadcast))
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
    inputs, output = _einsum_labels(xp, subscripts, operands)
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
    if _is_zero_literal(tangents):
        tangents = ()
    for i, tangent in enumerate(tangents):
        if _is_zero_literal(tangent):
            continue
        replaced = list(operands)
        replaced[i] = tangent
        term = xp.einsum(subscripts, *replaced, optimize=optimize)
        total = term if total is None else total + term
    return xp.zeros_like(y) if total is None else total


# -- tangents of the adjoints (derivatives of derivatives) -------------------------------
#
# Each adjoint is bilinear in the cotangent `g` and the other operand, so its tangent is
# the adjoint of `dg` plus the adjoint with the other operand replaced by its tangent.


def matmul_adjoint_a_tangent(xp, g, a, b, dg, db):
    """Tangent of ``matmul_adjoint_a(g, a, b)``."""
    return _bilinear_tangent(
        xp, lambda g, b: matmul_adjoint_a(xp, g, a, b), g, b, dg, db)


def matmul_adjoint_b_tangent(xp, g, a, b, dg, da):
    """Tangent of ``matmul_adjoint_b(g, a, b)``."""
    return _bilinear_tangent(
        xp, lambda g, a: matmul_adjoint_b(xp, g, a, b), g, a, dg, da)


def dot_adjoint_a_tangent(xp, g, a, b, dg, db):
    """Tangent of ``dot_adjoint_a(g, a, b)``."""
    return _bilinear_tangent(xp, lambda g, b: dot_adjoint_a(xp, g, a, b), g, b, dg, db)


def dot_adjoint_b_tangent(xp, g, a, b, dg, da):
    """Tangent of ``dot_adjoint_b(g, a, b)``."""
    return _bilinear_tangent(xp, lambda g, a: dot_adjoint_b(xp, g, a, b), g, a, dg, da)


def inner_adjoint_a_tangent(xp, g, a, b, dg, db):
    """Tangent of ``inner_adjoint_a(g, a, b)``."""
    return _bilinear_tangent(xp, lambda g, b: inner_adjoint_a(xp, g, a, b), g, b, dg, db)


def inner_adjoint_b_tangent(xp, g, a, b, dg, da):
    """Tangent of ``inner_adjoint_b(g, a, b)``."""
    return _bilinear_tangent(xp, lambda g, a: inner_adjoint_b(xp, g, a, b), g, a, dg, da)


def _replaced(operands, replacements):
    """``(i, operands with operand i replaced)`` for each replacement that is not the
    literal 0 (an inactive tangent) or None (a zero entry of a container adjoint); the
    literal 0 for the whole tuple (the tangent of inactive operands) gives none."""
    if replacements is None or _is_zero_literal(replacements):
        return
    for i, replacement in enumerate(replacements):
        if replacement is None or _is_zero_literal(replacement):
            continue
        replaced = list(operands)
        replaced[i] = replacement
        yield i, replaced


def einsum_cross_adjoints(xp, g, subscripts, operands, replacements, optimize=False):
    """For each operand ``j``, the sum over ``i != j`` of the adjoint (for operand ``j``,
    cotangent ``g``) of the einsum with operand ``i`` replaced by ``replacements[i]``.

    This is the adjoint, for the operands, of both ``einsum_tangent(y, subscripts,
    operands, replacements)`` and ``sum_i <g, einsum(... operand i -> c_i ...)>``, the
    pairing that defines the adjoint of ``einsum_adjoint``. Returns a tuple, one array
    shaped like each operand.
    """
    total = [None] * len(operands)
    if _is_zero_literal(g):  # an inactive cotangent's tangent
        return tuple(xp.zeros_like(o) for o in operands)
    for i, replaced in _replaced(operands, replacements):
        parts = einsum_adjoint(xp, g, subscripts, replaced, optimize)
        for j, part in enumerate(parts):
            if j != i:
                total[j] = part if total[j] is None else total[j] + part
    return tuple(xp.zeros_like(o) if t is None else t
                 for t, o in zip(total, operands, strict=True))


def einsum_adjoint_tangent(xp, g, subscripts, operands, dg, doperands, optimize=False):
    """Tangent of ``einsum_adjoint(g, subscripts, operands)`` (one array per operand);
    tangents given as the literal 0 contribute nothing."""
    total = list(einsum_cross_adjoints(xp, g, subscripts, operands, doperands, optimize))
    if not _is_zero_literal(dg) and not _is_zero_literal(g):
        parts = einsum_adjoint(xp, dg, subscripts, operands, optimize)
        total = [t + p for t, p in zip(total, parts, strict=True)]
    return tuple(total)


def einsum_cross_tangent(xp, y, subscripts, operands, first, second, optimize=False):
    """The sum over ``i != j`` of the einsum with operand ``i`` replaced by ``first[i]``
    and operand ``j`` by ``second[j]`` (the second-order term of ``einsum_tangent``'s
    tangent); entries given as the literal 0 contribute nothing. Zeros like ``y`` when
    every term does."""
    total = None
    for i, once in _replaced(operands, first):
        for j, twice in _replaced(once, second):
            if j != i:
                term = xp.einsum(subscripts, *twice, optimize=optimize)
                total = term if total is None else total + term
    return xp.zeros_like(y) if total is None else total
