"""Derivative helpers for products: dot, inner, outer and einsum.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.

``<op>_adjoint_a`` and ``<op>_adjoint_b`` pull a cotangent ``g`` of the product back to
one operand, shaped like it; ``einsum_adjoint`` returns one adjoint per operand.
``<op>_tangent`` gives the product's tangent; an inactive operand's tangent may be the
literal 0, and contributes nothing.
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
