"""Spec rows for the rules of the product helpers (see specs/helpers.py)."""

import srcgrad.runtime as rt
from srcgrad.runtime import adjoints
from srcgrad.runtime import product_helpers as ph

from rulespec import Arg, Case

# ---------------------------------------------------------------- products


def matmul_adjoint_a(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.matmul_adjoint_a(g, a, b)


def matmul_adjoint_b(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.matmul_adjoint_b(g, a, b)


def dot_adjoint_a(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.dot_adjoint_a(g, a, b)


def dot_adjoint_b(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.dot_adjoint_b(g, a, b)


def inner_adjoint_a(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.inner_adjoint_a(g, a, b)


def inner_adjoint_b(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    return xp.inner_adjoint_b(g, a, b)


def dot_tangent(a, b, da, db):
    xp = rt.namespace(a=a, b=b, da=da, db=db)
    return xp.dot_tangent(a, b, da, db)


def dot_tangent_inactive(a, b, db):
    xp = rt.namespace(a=a, b=b, db=db)
    return xp.dot_tangent(a, b, 0.0, db)


def inner_tangent(a, b, da, db):
    xp = rt.namespace(a=a, b=b, da=da, db=db)
    return xp.inner_tangent(a, b, da, db)


def inner_tangent_inactive(a, b, da):
    xp = rt.namespace(a=a, b=b, da=da)
    return xp.inner_tangent(a, b, da, 0.0)


def outer_tangent(a, b, da, db):
    xp = rt.namespace(a=a, b=b, da=da, db=db)
    return xp.outer_tangent(a, b, da, db)


def outer_tangent_inactive(a, b, db):
    xp = rt.namespace(a=a, b=b, db=db)
    return xp.outer_tangent(a, b, 0.0, db)


def einsum_adjoint(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    ga, gb = xp.einsum_adjoint(g, "ij,jk->ik", (a, b))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb * gb)])


def einsum_adjoint_three(g, a, b, c):
    xp = rt.namespace(g=g, a=a, b=b, c=c)
    ga, gb, gc = xp.einsum_adjoint(g, "ij,jk,k->i", (a, b, c))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb), gc])


def einsum_adjoint_diagonal(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    ga, gb = xp.einsum_adjoint(g, "ii,i->i", (a, b))
    return xp.ravel(ga) * 2.0 + xp.sum(gb)


def einsum_tangent(a, b, da, db):
    xp = rt.namespace(a=a, b=b, da=da, db=db)
    y = xp.einsum("ij,jk->ik", a, b)
    return xp.einsum_tangent(y, "ij,jk->ik", (a, b), (da, db))


def einsum_tangent_inactive(a, b, c, da, dc):
    xp = rt.namespace(a=a, b=b, c=c, da=da, dc=dc)
    y = xp.einsum("ij,jk,k->i", a, b, c)
    return xp.einsum_tangent(y, "ij,jk,k->i", (a, b, c), (da, 0.0, dc))


def matmul_adjoint_a_tangent(g, a, b, dg, db):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, db=db)
    return xp.matmul_adjoint_a_tangent(g, a, b, dg, db)


def matmul_adjoint_b_tangent(g, a, b, dg, da):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, da=da)
    return xp.matmul_adjoint_b_tangent(g, a, b, dg, da)


def matmul_adjoint_b_tangent_inactive(g, a, b, dg):
    """A constant operand: the literal 0 for its tangent."""
    xp = rt.namespace(g=g, a=a, b=b, dg=dg)
    return xp.matmul_adjoint_b_tangent(g, a, b, dg, 0.0)


def dot_adjoint_a_tangent(g, a, b, dg, db):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, db=db)
    return xp.dot_adjoint_a_tangent(g, a, b, dg, db)


def dot_adjoint_b_tangent(g, a, b, dg, da):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, da=da)
    return xp.dot_adjoint_b_tangent(g, a, b, dg, da)


def inner_adjoint_a_tangent(g, a, b, dg, db):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, db=db)
    return xp.inner_adjoint_a_tangent(g, a, b, dg, db)


def inner_adjoint_b_tangent(g, a, b, dg, da):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, da=da)
    return xp.inner_adjoint_b_tangent(g, a, b, dg, da)


def einsum_cross_adjoints(g, a, b, c, ra, rb, rc):
    xp = rt.namespace(g=g, a=a, b=b, c=c, ra=ra, rb=rb, rc=rc)
    ga, gb, gc = xp.einsum_cross_adjoints(g, "ij,jk,k->i", (a, b, c), (ra, rb, rc))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb), gc])


def einsum_cross_adjoints_inactive(g, a, b, ra):
    xp = rt.namespace(g=g, a=a, b=b, ra=ra)
    ga, gb = xp.einsum_cross_adjoints(g, "ij,jk->ik", (a, b), (ra, 0.0))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb)])


def einsum_adjoint_tangent(g, a, b, dg, da, db):
    xp = rt.namespace(g=g, a=a, b=b, dg=dg, da=da, db=db)
    ga, gb = xp.einsum_adjoint_tangent(g, "ij,jk->ik", (a, b), dg, (da, db))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb)])


def einsum_adjoint_tangent_three(g, a, b, c, dg, da, dc):
    xp = rt.namespace(g=g, a=a, b=b, c=c, dg=dg, da=da, dc=dc)
    ga, gb, gc = xp.einsum_adjoint_tangent(g, "ij,jk,k->i", (a, b, c), dg, (da, 0.0, dc))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb), gc])


def einsum_cross_tangent(a, b, c, fa, fb, fc, sa, sb, sc):
    xp = rt.namespace(a=a, b=b, c=c, fa=fa, fb=fb, fc=fc, sa=sa, sb=sb, sc=sc)
    y = xp.einsum("ij,jk,k->i", a, b, c)
    return xp.einsum_cross_tangent(y, "ij,jk,k->i", (a, b, c), (fa, fb, fc), (sa, sb, sc))


# ---------------------------------------------------------------- the table

CASES = []
# Products: (g, a, b) shapes for every rank combination the helpers handle.
MATMUL_SHAPES = [((2, 4), (2, 3), (3, 4)), ((), (3,), (3,)), ((4,), (3,), (3, 4)),
                 ((2,), (2, 3), (3,)), ((5, 2, 4), (5, 2, 3), (3, 4)),
                 ((5, 2, 4), (2, 3), (5, 3, 4)), ((4, 2, 2), (1, 2, 3), (4, 3, 2)),
                 ((2, 4), (3,), (2, 3, 4))]
for g_shape, a_shape, b_shape in MATMUL_SHAPES:
    tag = f"{a_shape}-{b_shape}"
    args = (Arg(g_shape), Arg(a_shape), Arg(b_shape))
    CASES += [
        Case(matmul_adjoint_a, args, (adjoints.matmul_adjoint_a,), id=f"matmul_adjoint_a{tag}",
             wrt=(0, 2)),
        Case(matmul_adjoint_b, args, (adjoints.matmul_adjoint_b,), id=f"matmul_adjoint_b{tag}",
             wrt=(0, 1)),
        Case(matmul_adjoint_a_tangent, args + (Arg(g_shape), Arg(b_shape)),
             (ph.matmul_adjoint_a_tangent,), id=f"matmul_adjoint_a_tangent{tag}",
             wrt=(0, 2, 3, 4)),
        Case(matmul_adjoint_b_tangent, args + (Arg(g_shape), Arg(a_shape)),
             (ph.matmul_adjoint_b_tangent,), id=f"matmul_adjoint_b_tangent{tag}",
             wrt=(0, 1, 3, 4)),
    ]
DOT_SHAPES = [((3,), (), (3,)), ((2, 3), (2, 3), ()), ((2,), (2, 3), (3,)),
              ((2, 4), (2, 3), (3, 4)), ((), (3,), (3,)), ((2, 4, 5), (2, 3), (4, 3, 5)),
              ((2, 2, 4, 5), (2, 2, 3), (4, 3, 5)), ((2, 2), (2, 2, 3), (3,))]
for g_shape, a_shape, b_shape in DOT_SHAPES:
    tag = f"{a_shape}-{b_shape}"
    args = (Arg(g_shape), Arg(a_shape), Arg(b_shape))
    CASES += [
        Case(dot_adjoint_a, args, (ph.dot_adjoint_a,), id=f"dot_adjoint_a{tag}", wrt=(0, 2)),
        Case(dot_adjoint_b, args, (ph.dot_adjoint_b,), id=f"dot_adjoint_b{tag}", wrt=(0, 1)),
        Case(dot_adjoint_a_tangent, args + (Arg(g_shape), Arg(b_shape)),
             (ph.dot_adjoint_a_tangent,), id=f"dot_adjoint_a_tangent{tag}", wrt=(0, 2, 3, 4)),
        Case(dot_adjoint_b_tangent, args + (Arg(g_shape), Arg(a_shape)),
             (ph.dot_adjoint_b_tangent,), id=f"dot_adjoint_b_tangent{tag}", wrt=(0, 1, 3, 4)),
    ]
INNER_SHAPES = [((2, 4), (2, 3), (4, 3)), ((), (3,), (3,)), ((3,), (), (3,)),
                ((2,), (2, 3), (3,)), ((2, 5, 4), (2, 5, 3), (4, 3))]
for g_shape, a_shape, b_shape in INNER_SHAPES:
    tag = f"{a_shape}-{b_shape}"
    args = (Arg(g_shape), Arg(a_shape), Arg(b_shape))
    CASES += [
        Case(inner_adjoint_a, args, (ph.inner_adjoint_a,), id=f"inner_adjoint_a{tag}",
             wrt=(0, 2)),
        Case(inner_adjoint_b, args, (ph.inner_adjoint_b,), id=f"inner_adjoint_b{tag}",
             wrt=(0, 1)),
        Case(inner_adjoint_a_tangent, args + (Arg(g_shape), Arg(b_shape)),
             (ph.inner_adjoint_a_tangent,), id=f"inner_adjoint_a_tangent{tag}",
             wrt=(0, 2, 3, 4)),
        Case(inner_adjoint_b_tangent, args + (Arg(g_shape), Arg(a_shape)),
             (ph.inner_adjoint_b_tangent,), id=f"inner_adjoint_b_tangent{tag}",
             wrt=(0, 1, 3, 4)),
    ]
for a_shape, b_shape in [((2, 3), (3, 4)), ((3,), (3,)), ((), (3,)), ((2, 3), (4, 3, 2))]:
    args = (Arg(a_shape), Arg(b_shape), Arg(a_shape), Arg(b_shape))
    CASES.append(Case(dot_tangent, args, (ph.dot_tangent,), id=f"dot_tangent{a_shape}-{b_shape}"))
for a_shape, b_shape in [((2, 3), (4, 3)), ((3,), (3,)), ((3,), ())]:
    args = (Arg(a_shape), Arg(b_shape), Arg(a_shape), Arg(b_shape))
    CASES.append(Case(inner_tangent, args, (ph.inner_tangent,),
                      id=f"inner_tangent{a_shape}-{b_shape}"))
for a_shape, b_shape in [((3,), (4,)), ((2, 2), (3,))]:
    args = (Arg(a_shape), Arg(b_shape), Arg(a_shape), Arg(b_shape))
    CASES.append(Case(outer_tangent, args, (ph.outer_tangent,),
                      id=f"outer_tangent{a_shape}-{b_shape}"))
CASES += [
    Case(dot_tangent_inactive, (Arg((2, 3)), Arg((3, 4)), Arg((3, 4))), (ph.dot_tangent,)),
    Case(inner_tangent_inactive, (Arg((2, 3)), Arg((3,)), Arg((2, 3))), (ph.inner_tangent,)),
    Case(outer_tangent_inactive, (Arg((2,)), Arg((3,)), Arg((3,))), (ph.outer_tangent,)),
    Case(einsum_adjoint, (Arg((2, 4)), Arg((2, 3)), Arg((3, 4))), (ph.einsum_adjoint,),
),
    Case(einsum_adjoint_three, (Arg((2,)), Arg((2, 3)), Arg((3, 4)), Arg((4,))),
         (ph.einsum_adjoint,)),
    Case(einsum_adjoint_diagonal, (Arg((3,)), Arg((3, 3)), Arg((3,))), (ph.einsum_adjoint,),
),
    Case(einsum_tangent, (Arg((2, 3)), Arg((3, 4)), Arg((2, 3)), Arg((3, 4))),
         (ph.einsum_tangent,)),
    Case(einsum_tangent, (Arg((2, 3)), Arg((3, 4)), Arg((2, 3)), Arg((3, 4))),
         (ph.einsum_tangent,), id="einsum_tangent-tangents-only", wrt=(2, 3)),
    Case(einsum_tangent_inactive, (Arg((2, 3)), Arg((3, 4)), Arg((4,)), Arg((2, 3)),
                                   Arg((4,))),
         (ph.einsum_tangent,)),
]
CASES += [
    Case(matmul_adjoint_b_tangent_inactive, (Arg((2, 4)), Arg((2, 3)), Arg((3, 4)),
                                             Arg((2, 4))),
         (ph.matmul_adjoint_b_tangent,), wrt=(0, 1, 3)),
    Case(einsum_cross_adjoints, (Arg((2,)), Arg((2, 3)), Arg((3, 4)), Arg((4,)), Arg((2, 3)),
                                 Arg((3, 4)), Arg((4,))),
         (ph.einsum_cross_adjoints,)),
    Case(einsum_cross_adjoints, (Arg((2,)), Arg((2, 3)), Arg((3, 4)), Arg((4,)), Arg((2, 3)),
                                 Arg((3, 4)), Arg((4,))),
         (ph.einsum_cross_adjoints,), id="einsum_cross_adjoints-no-operands",
         wrt=(0, 4, 5, 6)),
    Case(einsum_cross_adjoints_inactive, (Arg((2, 4)), Arg((2, 3)), Arg((3, 4)),
                                          Arg((2, 3))),
         (ph.einsum_cross_adjoints,)),
    Case(einsum_adjoint_tangent, (Arg((2, 4)), Arg((2, 3)), Arg((3, 4)), Arg((2, 4)),
                                  Arg((2, 3)), Arg((3, 4))),
         (ph.einsum_adjoint_tangent,)),
    Case(einsum_adjoint_tangent_three, (Arg((2,)), Arg((2, 3)), Arg((3, 4)), Arg((4,)),
                                        Arg((2,)), Arg((2, 3)), Arg((4,))),
         (ph.einsum_adjoint_tangent,)),
    Case(einsum_cross_tangent, tuple(Arg(s) for s in [(2, 3), (3, 4), (4,)] * 3),
         (ph.einsum_cross_tangent,)),
    Case(einsum_cross_tangent, tuple(Arg(s) for s in [(2, 3), (3, 4), (4,)] * 3),
         (ph.einsum_cross_tangent,), id="einsum_cross_tangent-no-operands",
         wrt=(3, 4, 5, 6, 7, 8)),
]
