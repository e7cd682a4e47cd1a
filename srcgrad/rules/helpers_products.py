"""Rules for the product helpers: the adjoints and tangents of matmul, dot, inner, outer and
einsum (see `helpers` for what these rules are for).

`<op>_adjoint_a(g, a, b)` is the gradient of `<g, op(a, b)>` with respect to `a`: bilinear
in (g, b), reading `a` only for its shape. Pairing it with a cotangent `c` shaped like `a`
gives `<c, <op>_adjoint_a(g, a, b)> = <g, op(c, b)>`, so its adjoint is `op(c, b)` for g
and `<op>_adjoint_b(g, c, b)` for b; likewise for `_b`. Tangents go through
`<op>_adjoint_<a|b>_tangent`, which leave out a term whose tangent is the literal 0 (an
inactive operand, say a constant weight matrix) instead of multiplying by zeros.

`<op>_tangent(a, b, da, db)` is `op(da, b) + op(a, db)`: bilinear in (a, db) and in
(da, b). In emitted code `da` or `db` may be the literal 0; the rules make it dense
(`broadcast_like`) where it meets another operand.
"""

from srcgrad.rules.registry import Seq, adjoint, d, rule, tangent, xp
from srcgrad.runtime import adjoints
from srcgrad.runtime import product_helpers as ph

# ---------------------------------------------------------------- adjoints of matmul, dot, inner


@rule(adjoints.matmul_adjoint_a, kernel="matmul_adjoint_a")
def matmul_adjoint_a(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.matmul(d[out], b), g)
        d[b] = xp.matmul_adjoint_b(g, d[out], b)
    with tangent:
        d[out] = xp.matmul_adjoint_a_tangent(g, a, b, d[g], d[b])


@rule(adjoints.matmul_adjoint_b, kernel="matmul_adjoint_b")
def matmul_adjoint_b(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.matmul(a, d[out]), g)
        d[a] = xp.matmul_adjoint_a(g, a, d[out])
    with tangent:
        d[out] = xp.matmul_adjoint_b_tangent(g, a, b, d[g], d[a])


@rule(ph.dot_adjoint_a, kernel="dot_adjoint_a")
def dot_adjoint_a(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.dot(d[out], b), g)
        d[b] = xp.dot_adjoint_b(g, d[out], b)
    with tangent:
        d[out] = xp.dot_adjoint_a_tangent(g, a, b, d[g], d[b])


@rule(ph.dot_adjoint_b, kernel="dot_adjoint_b")
def dot_adjoint_b(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.dot(a, d[out]), g)
        d[a] = xp.dot_adjoint_a(g, a, d[out])
    with tangent:
        d[out] = xp.dot_adjoint_b_tangent(g, a, b, d[g], d[a])


@rule(ph.inner_adjoint_a, kernel="inner_adjoint_a")
def inner_adjoint_a(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.inner(d[out], b), g)
        d[b] = xp.inner_adjoint_b(g, d[out], b)
    with tangent:
        d[out] = xp.inner_adjoint_a_tangent(g, a, b, d[g], d[b])


@rule(ph.inner_adjoint_b, kernel="inner_adjoint_b")
def inner_adjoint_b(out, g, a, b):
    with adjoint:
        d[g] = xp.unbroadcast(xp.inner(a, d[out]), g)
        d[a] = xp.inner_adjoint_a(g, a, d[out])
    with tangent:
        d[out] = xp.inner_adjoint_b_tangent(g, a, b, d[g], d[a])


# ---------------------------------------------------------------- tangents of dot, inner, outer


@rule(ph.dot_tangent, kernel="dot_tangent")
def dot_tangent(out, a, b, da, db):
    with adjoint:
        d[a] = xp.dot_adjoint_a(d[out], a, xp.broadcast_like(db, b))
        d[b] = xp.dot_adjoint_b(d[out], xp.broadcast_like(da, a), b)
        d[da] = xp.dot_adjoint_a(d[out], da, b)
        d[db] = xp.dot_adjoint_b(d[out], a, db)
    with tangent:
        d[out] = (xp.dot_tangent(a, b, d[da], d[db])
                  + xp.dot_tangent(xp.broadcast_like(da, a), xp.broadcast_like(db, b),
                                   d[a], d[b]))


@rule(ph.inner_tangent, kernel="inner_tangent")
def inner_tangent(out, a, b, da, db):
    with adjoint:
        d[a] = xp.inner_adjoint_a(d[out], a, xp.broadcast_like(db, b))
        d[b] = xp.inner_adjoint_b(d[out], xp.broadcast_like(da, a), b)
        d[da] = xp.inner_adjoint_a(d[out], da, b)
        d[db] = xp.inner_adjoint_b(d[out], a, db)
    with tangent:
        d[out] = (xp.inner_tangent(a, b, d[da], d[db])
                  + xp.inner_tangent(xp.broadcast_like(da, a), xp.broadcast_like(db, b),
                                     d[a], d[b]))


@rule(ph.outer_tangent, kernel="outer_tangent")
def outer_tangent(out, a, b, da, db):
    """outer flattens its operands, so the adjoints are reshaped matrix-vector products."""
    with adjoint:
        d[a] = xp.reshape(xp.matmul(d[out], xp.ravel(xp.broadcast_like(db, b))), xp.shape(a))
        d[b] = xp.reshape(xp.matmul(xp.ravel(xp.broadcast_like(da, a)), d[out]), xp.shape(b))
        d[da] = xp.reshape(xp.matmul(d[out], xp.ravel(b)), xp.shape(da))
        d[db] = xp.reshape(xp.matmul(xp.ravel(a), d[out]), xp.shape(db))
    with tangent:
        d[out] = (xp.outer_tangent(a, b, d[da], d[db])
                  + xp.outer_tangent(xp.broadcast_like(da, a), xp.broadcast_like(db, b),
                                     d[a], d[b]))


# ---------------------------------------------------------------- einsum


@rule(ph.einsum_adjoint, kernel="einsum_adjoint")
def einsum_adjoint(out, g, subscripts, operands: Seq, optimize=False):
    """One adjoint per operand, each linear in g and in every other operand. Paired with
    cotangents c (one per operand) it gives sum_i <g, einsum(operand i -> c_i)>."""
    with adjoint:
        d[g] = xp.einsum_tangent(g, subscripts, operands, xp.as_gradient(d[out], out),
                                 optimize)
        d[operands] = xp.einsum_cross_adjoints(g, subscripts, operands,
                                               xp.as_gradient(d[out], out), optimize)
    with tangent:
        d[out] = xp.einsum_adjoint_tangent(g, subscripts, operands, d[g], d[operands],
                                           optimize)


@rule(ph.einsum_tangent, kernel="einsum_tangent")
def einsum_tangent(out, y, subscripts, operands: Seq, tangents: Seq, optimize=False):
    """sum_i einsum(operand i -> tangent i): linear in the tangents, and in each operand
    through the terms that keep it. y gives only the shape."""
    with adjoint:
        d[operands] = xp.einsum_cross_adjoints(d[out], subscripts, operands, tangents,
                                               optimize)
        d[tangents] = xp.einsum_adjoint(d[out], subscripts, operands, optimize)
    with tangent:
        d[out] = (xp.einsum_tangent(y, subscripts, operands, d[tangents], optimize)
                  + xp.einsum_cross_tangent(y, subscripts, operands, tangents,
                                            d[operands], optimize))
