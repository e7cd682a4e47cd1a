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


# ---------------------------------------------------------------- tangents of the adjoints
#
# Each is the adjoint applied twice, once to dg and once to the other operand's tangent, so
# its derivatives are the same helpers again (third and higher derivatives).


@rule(ph.matmul_adjoint_a_tangent, kernel="matmul_adjoint_a_tangent")
def matmul_adjoint_a_tangent(out, g, a, b, dg, db):
    """matmul_adjoint_a(dg, a, b) + matmul_adjoint_a(g, a, db): linear in (dg, b) and in
    (g, db); a gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.matmul(d[out], b), dg)
        d[b] = xp.matmul_adjoint_b(xp.broadcast_like(dg, g), d[out], b)
        d[g] = xp.unbroadcast(xp.matmul(d[out], xp.broadcast_like(db, b)), g)
        d[db] = xp.matmul_adjoint_b(g, d[out], db)
    with tangent:
        d[out] = (xp.matmul_adjoint_a_tangent(g, a, b, d[dg], d[db])
                  + xp.matmul_adjoint_a_tangent(xp.broadcast_like(dg, g), a,
                                              xp.broadcast_like(db, b), d[g], d[b]))


@rule(ph.matmul_adjoint_b_tangent, kernel="matmul_adjoint_b_tangent")
def matmul_adjoint_b_tangent(out, g, a, b, dg, da):
    """matmul_adjoint_b(dg, a, b) + matmul_adjoint_b(g, da, b): linear in (dg, a) and in
    (g, da); b gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.matmul(a, d[out]), dg)
        d[a] = xp.matmul_adjoint_a(xp.broadcast_like(dg, g), a, d[out])
        d[g] = xp.unbroadcast(xp.matmul(xp.broadcast_like(da, a), d[out]), g)
        d[da] = xp.matmul_adjoint_a(g, da, d[out])
    with tangent:
        d[out] = (xp.matmul_adjoint_b_tangent(g, a, b, d[dg], d[da])
                  + xp.matmul_adjoint_b_tangent(xp.broadcast_like(dg, g),
                                              xp.broadcast_like(da, a), b, d[g], d[a]))


@rule(ph.dot_adjoint_a_tangent, kernel="dot_adjoint_a_tangent")
def dot_adjoint_a_tangent(out, g, a, b, dg, db):
    """dot_adjoint_a(dg, a, b) + dot_adjoint_a(g, a, db): linear in (dg, b) and in
    (g, db); a gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.dot(d[out], b), dg)
        d[b] = xp.dot_adjoint_b(xp.broadcast_like(dg, g), d[out], b)
        d[g] = xp.unbroadcast(xp.dot(d[out], xp.broadcast_like(db, b)), g)
        d[db] = xp.dot_adjoint_b(g, d[out], db)
    with tangent:
        d[out] = (xp.dot_adjoint_a_tangent(g, a, b, d[dg], d[db])
                  + xp.dot_adjoint_a_tangent(xp.broadcast_like(dg, g), a,
                                              xp.broadcast_like(db, b), d[g], d[b]))


@rule(ph.dot_adjoint_b_tangent, kernel="dot_adjoint_b_tangent")
def dot_adjoint_b_tangent(out, g, a, b, dg, da):
    """dot_adjoint_b(dg, a, b) + dot_adjoint_b(g, da, b): linear in (dg, a) and in
    (g, da); b gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.dot(a, d[out]), dg)
        d[a] = xp.dot_adjoint_a(xp.broadcast_like(dg, g), a, d[out])
        d[g] = xp.unbroadcast(xp.dot(xp.broadcast_like(da, a), d[out]), g)
        d[da] = xp.dot_adjoint_a(g, da, d[out])
    with tangent:
        d[out] = (xp.dot_adjoint_b_tangent(g, a, b, d[dg], d[da])
                  + xp.dot_adjoint_b_tangent(xp.broadcast_like(dg, g),
                                              xp.broadcast_like(da, a), b, d[g], d[a]))


@rule(ph.inner_adjoint_a_tangent, kernel="inner_adjoint_a_tangent")
def inner_adjoint_a_tangent(out, g, a, b, dg, db):
    """inner_adjoint_a(dg, a, b) + inner_adjoint_a(g, a, db): linear in (dg, b) and in
    (g, db); a gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.inner(d[out], b), dg)
        d[b] = xp.inner_adjoint_b(xp.broadcast_like(dg, g), d[out], b)
        d[g] = xp.unbroadcast(xp.inner(d[out], xp.broadcast_like(db, b)), g)
        d[db] = xp.inner_adjoint_b(g, d[out], db)
    with tangent:
        d[out] = (xp.inner_adjoint_a_tangent(g, a, b, d[dg], d[db])
                  + xp.inner_adjoint_a_tangent(xp.broadcast_like(dg, g), a,
                                              xp.broadcast_like(db, b), d[g], d[b]))


@rule(ph.inner_adjoint_b_tangent, kernel="inner_adjoint_b_tangent")
def inner_adjoint_b_tangent(out, g, a, b, dg, da):
    """inner_adjoint_b(dg, a, b) + inner_adjoint_b(g, da, b): linear in (dg, a) and in
    (g, da); b gives only the shape."""
    with adjoint:
        d[dg] = xp.unbroadcast(xp.inner(a, d[out]), dg)
        d[a] = xp.inner_adjoint_a(xp.broadcast_like(dg, g), a, d[out])
        d[g] = xp.unbroadcast(xp.inner(xp.broadcast_like(da, a), d[out]), g)
        d[da] = xp.inner_adjoint_a(g, da, d[out])
    with tangent:
        d[out] = (xp.inner_adjoint_b_tangent(g, a, b, d[dg], d[da])
                  + xp.inner_adjoint_b_tangent(xp.broadcast_like(dg, g),
                                              xp.broadcast_like(da, a), b, d[g], d[a]))


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


# ---------------------------------------------------------------- higher-order einsum terms
#
# Terms with two or more replacement sets are einsum jets (`srcgrad.runtime.jets`): set s
# joins as terms of mask 2**s at every operand position, the target is all the sets.
# `einsum_cross_*` are the one- and two-set cases, kept for readable second derivatives.


@rule(ph.einsum_cross_adjoints, kernel="einsum_cross_adjoints")
def einsum_cross_adjoints(out, g, subscripts, operands: Seq, replacements: Seq,
                          optimize=False):
    """Paired with cotangents c: sum_{i != j} <g, einsum(i -> replacements_i, j -> c_j)>."""
    with adjoint:
        d[g] = xp.einsum_cross_tangent(g, subscripts, operands, replacements,
                                       xp.as_gradient(d[out], out), optimize)
        d[replacements] = xp.einsum_cross_adjoints(g, subscripts, operands,
                                                   xp.as_gradient(d[out], out), optimize)
        d[operands] = xp.einsum_jet_adjoints(
            g, subscripts, operands, xp.jet_set_masks(2, xp.jet_count(operands)),
            xp.jet_set_positions(2, xp.jet_count(operands)), 3,
            xp.join_terms(replacements, xp.as_gradient(d[out], out), xp.jet_count(operands),
                          xp.jet_count(operands)), optimize)
    with tangent:
        d[out] = xp.add_tree(
            xp.add_tree(xp.einsum_cross_adjoints(d[g], subscripts, operands, replacements,
                                                 optimize),
                        xp.einsum_cross_adjoints(g, subscripts, operands, d[replacements],
                                                 optimize)),
            xp.einsum_jet_adjoints(
                g, subscripts, operands, xp.jet_set_masks(2, xp.jet_count(operands)),
                xp.jet_set_positions(2, xp.jet_count(operands)), 3,
                xp.join_terms(replacements, d[operands], xp.jet_count(operands),
                              xp.jet_count(operands)), optimize))


@rule(ph.einsum_adjoint_tangent, kernel="einsum_adjoint_tangent")
def einsum_adjoint_tangent(out, g, subscripts, operands: Seq, dg, doperands: Seq,
                           optimize=False):
    """einsum_cross_adjoints(g, doperands) + einsum_adjoint(dg): linear in (g, doperands)
    and in dg, and in the operands through every term that keeps them."""
    with adjoint:
        d[dg] = xp.einsum_tangent(dg, subscripts, operands, xp.as_gradient(d[out], out),
                                  optimize)
        d[g] = xp.einsum_cross_tangent(g, subscripts, operands, doperands,
                                       xp.as_gradient(d[out], out), optimize)
        d[doperands] = xp.einsum_cross_adjoints(g, subscripts, operands,
                                                xp.as_gradient(d[out], out), optimize)
        d[operands] = xp.einsum_jet_adjoints(
            g, subscripts, operands, xp.jet_set_masks(2, xp.jet_count(operands)),
            xp.jet_set_positions(2, xp.jet_count(operands)), 3,
            xp.join_terms(doperands, xp.as_gradient(d[out], out), xp.jet_count(operands),
                          xp.jet_count(operands)), optimize)
        d[operands] = xp.einsum_cross_adjoints(dg, subscripts, operands,
                                               xp.as_gradient(d[out], out), optimize)
    with tangent:
        d[out] = xp.add_tree(
            xp.add_tree(xp.einsum_adjoint_tangent(d[g], subscripts, operands, d[dg],
                                                  doperands, optimize),
                        xp.einsum_cross_adjoints(g, subscripts, operands, d[doperands],
                                                 optimize)),
            xp.add_tree(
                xp.einsum_jet_adjoints(
                    g, subscripts, operands, xp.jet_set_masks(2, xp.jet_count(operands)),
                    xp.jet_set_positions(2, xp.jet_count(operands)), 3,
                    xp.join_terms(doperands, d[operands], xp.jet_count(operands),
                                  xp.jet_count(operands)), optimize),
                xp.einsum_cross_adjoints(dg, subscripts, operands, d[operands], optimize)))


@rule(ph.einsum_cross_tangent, kernel="einsum_cross_tangent")
def einsum_cross_tangent(out, y, subscripts, operands: Seq, first: Seq, second: Seq,
                         optimize=False):
    """Linear in first and in second, and in each operand through the terms that keep it;
    y gives only the shape."""
    with adjoint:
        d[first] = xp.einsum_cross_adjoints(d[out], subscripts, operands, second, optimize)
        d[second] = xp.einsum_cross_adjoints(d[out], subscripts, operands, first, optimize)
        d[operands] = xp.einsum_jet_adjoints(
            d[out], subscripts, operands, xp.jet_set_masks(2, xp.jet_count(operands)),
            xp.jet_set_positions(2, xp.jet_count(operands)), 3,
            xp.join_terms(first, second, xp.jet_count(operands), xp.jet_count(operands)),
            optimize)
    with tangent:
        d[out] = (xp.einsum_cross_tangent(y, subscripts, operands, d[first], second,
                                          optimize)
                  + xp.einsum_cross_tangent(y, subscripts, operands, first, d[second],
                                            optimize)
                  + xp.einsum_jet(y, subscripts, operands,
                                  xp.jet_set_masks(3, xp.jet_count(operands)),
                                  xp.jet_set_positions(3, xp.jet_count(operands)), 7,
                                  xp.join_terms(xp.join_terms(first, second,
                                                              xp.jet_count(operands),
                                                              xp.jet_count(operands)),
                                                d[operands], 2 * xp.jet_count(operands),
                                                xp.jet_count(operands)),
                                  optimize))
