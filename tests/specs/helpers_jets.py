"""Spec rows for the rules of the jet helpers, the derivatives of prod and einsum of every
order (see specs/helpers.py). Their rules are written in terms of the same helpers, so the
second-order check of each row differentiates those rules once more."""

import srcgrad.runtime as rt
from srcgrad.runtime import jets

from rulespec import Arg, Case

# ---------------------------------------------------------------- static masks are flat


def jet_masks_are_flat(x):
    xp = rt.namespace(x=x)
    masks = xp.jet_tangent_masks((1, 2), 3, 2)  # (1, 2, 5, 6, 4, 4)
    positions = xp.jet_tangent_positions((0, 1), 2)  # (0, 1, 0, 1, 0, 1)
    total = (xp.jet_count((x, x)) + xp.jet_target((1, 2), 3) + masks[2] + positions[2]
             + xp.jet_adjoint_masks((1,), 1, 2)[1] + xp.jet_adjoint_positions((0,), 2)[2]
             + xp.jet_paired_masks((1, 2), 3, 1)[2] + xp.jet_paired_positions((0, 1), 1)[2]
             + xp.jet_set_masks(2, 3)[4] + xp.jet_set_positions(2, 3)[4])
    return x * x * total


# ---------------------------------------------------------------- tuples of terms


def join_split_pad(a, b, c):
    xp = rt.namespace(a=a, b=b, c=c)
    joined = xp.join_terms((a, b), (c,), 2, 1)
    middle = xp.split_terms(joined, 1, 3, 3, (b, c))
    padded = xp.pad_terms(middle, 1, 3, 3)
    return joined[0] * padded[2] + 2.0 * middle[0] + padded[1] * c


def join_zero_placeholder(a, b):
    xp = rt.namespace(a=a, b=b)
    joined = xp.join_terms((a, b), 0.0, 2, 2)
    back = xp.split_terms(joined, 0, 2, 4, (a, b))
    return back[0] * back[1] + joined[1]


# ---------------------------------------------------------------- prod


def prod_jet(a, v, w, u):
    xp = rt.namespace(a=a, v=v, w=w, u=u)
    return xp.prod_jet_partials(a, (1, 2, 4), 7, (v, w, u), 1)


def prod_jet_mixed_masks(a, v, w):
    """A term carrying two generators, a zero term, and a term outside the target."""
    xp = rt.namespace(a=a, v=v, w=w)
    return xp.prod_jet_partials(a, (1, 2, 3, 8, 4), 3, (v, w, a * w, 0.0, v), None)


def prod_jet_with_zeros(a, v, w, pattern):
    xp = rt.namespace(a=a, v=v, w=w)
    return xp.prod_jet_partials(a * xp.asarray(pattern), (1, 2), 3, (v, w), 1)


def prod_jet_term_partials(a, v, w):
    xp = rt.namespace(a=a, v=v, w=w)
    pv, pw = xp.prod_jet_term_partials(a, (1, 2), 3, (v, w), 2, 0)
    return xp.concatenate([pv, pw])


# ---------------------------------------------------------------- einsum

SUBSCRIPTS = "ij,jk,k->i"


def einsum_jet(a, b, c, ra, rb, rc, sa, sc):
    xp = rt.namespace(a=a, b=b, c=c, ra=ra, rb=rb, rc=rc, sa=sa, sc=sc)
    return xp.einsum_jet(a @ b @ c, SUBSCRIPTS, (a, b, c), (1, 1, 1, 2, 2), (0, 1, 2, 0, 2),
                         3, (ra, rb, rc, sa, sc))


def einsum_jet_mixed_masks(a, b, ra, rb):
    xp = rt.namespace(a=a, b=b, ra=ra, rb=rb)
    return xp.einsum_jet(a @ b, "ij,jk->ik", (a, b), (3, 1, 2, 4), (0, 0, 1, 1), 3,
                         (ra, ra * 2.0, rb, 0.0))


def einsum_jet_adjoints(g, a, b, c, ra, rb, rc):
    xp = rt.namespace(g=g, a=a, b=b, c=c, ra=ra, rb=rb, rc=rc)
    ga, gb, gc = xp.einsum_jet_adjoints(g, SUBSCRIPTS, (a, b, c), (1, 1, 1), (0, 1, 2), 1,
                                        (ra, rb, rc))
    return xp.concatenate([xp.ravel(ga), xp.ravel(gb), gc])


def einsum_jet_term_adjoints(g, a, b, c, ra, rb, sc):
    xp = rt.namespace(g=g, a=a, b=b, c=c, ra=ra, rb=rb, sc=sc)
    pa, pb, pc = xp.einsum_jet_term_adjoints(g, SUBSCRIPTS, (a, b, c), (1, 1, 2), (0, 1, 2),
                                             3, (ra, rb, sc), 3)
    return xp.concatenate([xp.ravel(pa), xp.ravel(pb), pc])


A, B, C = (2, 3), (3, 4), (4,)
CASES = [
    Case(jet_masks_are_flat, (Arg((3,)),),
         tuple(getattr(jets, n) for n in jets.__all__ if n.startswith("jet_"))),
    Case(join_split_pad, (Arg((3,)), Arg((3,)), Arg((3,))),
         (jets.join_terms, jets.split_terms, jets.pad_terms)),
    Case(join_zero_placeholder, (Arg((2, 2)), Arg((2, 2))),
         (jets.join_terms, jets.split_terms)),
    Case(prod_jet, (Arg((3, 4), 0.5, 2.0), Arg((3, 4)), Arg((3, 4)), Arg((3, 4))),
         (jets.prod_jet_partials,)),
    Case(prod_jet_mixed_masks, (Arg((2, 3), -2.0, -0.5), Arg((2, 3)), Arg((2, 3))),
         (jets.prod_jet_partials,)),
    Case(prod_jet_term_partials, (Arg((3, 4), 0.5, 2.0), Arg((3, 4)), Arg((3, 4))),
         (jets.prod_jet_term_partials,)),
    Case(einsum_jet, (Arg(A), Arg(B), Arg(C), Arg(A), Arg(B), Arg(C), Arg(A), Arg(C)),
         (jets.einsum_jet,)),
    Case(einsum_jet_mixed_masks, (Arg((2, 3)), Arg((3, 2)), Arg((2, 3)), Arg((3, 2))),
         (jets.einsum_jet,)),
    Case(einsum_jet_adjoints, (Arg((2,)), Arg(A), Arg(B), Arg(C), Arg(A), Arg(B), Arg(C)),
         (jets.einsum_jet_adjoints,)),
    Case(einsum_jet_term_adjoints, (Arg((2,)), Arg(A), Arg(B), Arg(C), Arg(A), Arg(B),
                                    Arg(C)),
         (jets.einsum_jet_term_adjoints,)),
]
for zeros, pattern in [("one", [1.0, 0.0, 1.0, 1.0]), ("two", [0.0, 1.0, 1.0, 0.0]),
                       ("three", [0.0, 0.0, 1.0, 0.0])]:
    CASES.append(Case(prod_jet_with_zeros, (Arg((3, 4)), Arg((3, 4)), Arg((3, 4)), pattern),
                      (jets.prod_jet_partials,), id=f"prod_jet-{zeros}-zero"))
