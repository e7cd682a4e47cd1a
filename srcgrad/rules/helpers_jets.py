"""Rules for the jet helpers (`srcgrad.runtime.jets`): the derivatives of prod and einsum
of every order, each rule written in terms of the same helpers again.

A jet helper reads off the coefficient of `e[target]` when each factor `a` becomes
`a + sum_r e[masks[r]] terms[r]` (nilpotent generators). Its tangent adds a fresh
generator: the terms' tangents join with their term's mask plus the fresh one, the factors'
tangents with the fresh one alone. Its adjoint pairs with the cotangent as one more term;
the cotangents of the per-term partials take their term's place (mask plus a fresh
generator). `masks`, `positions`, `target` and counts are static integers; the `jet_*`
helpers that compute them carry no derivative.
"""

from srcgrad.rules.registry import Seq, adjoint, d, nondifferentiable, rule, tangent, xp
from srcgrad.runtime import jets

for _helper in (jets.jet_count, jets.jet_target, jets.jet_tangent_masks,
                jets.jet_tangent_positions, jets.jet_adjoint_masks, jets.jet_adjoint_positions,
                jets.jet_paired_masks, jets.jet_paired_positions, jets.jet_set_masks,
                jets.jet_set_positions):
    nondifferentiable(_helper, kernel=_helper.__name__)

# ---------------------------------------------------------------- tuples of terms


@rule(jets.join_terms, kernel="join_terms")
def join_terms(out, first: Seq, second: Seq, count_first, count_second):
    """first + second: linear in both; split_terms takes each back."""
    with adjoint:
        d[first] = xp.split_terms(d[out], 0, count_first, count_first + count_second, first)
        d[second] = xp.split_terms(d[out], count_first, count_first + count_second,
                                   count_first + count_second, second)
    with tangent:
        d[out] = xp.join_terms(d[first], d[second], count_first, count_second)


@rule(jets.split_terms, kernel="split_terms")
def split_terms(out, terms: Seq, start, stop, count, like: Seq):
    """Entries start:stop: linear in terms; pad_terms is its transpose."""
    with adjoint:
        d[terms] = xp.pad_terms(d[out], start, stop, count)
    with tangent:
        d[out] = xp.split_terms(d[terms], start, stop, count, like)


@rule(jets.pad_terms, kernel="pad_terms")
def pad_terms(out, part: Seq, start, stop, count):
    """part among zeros: linear in part; split_terms is its transpose."""
    with adjoint:
        d[part] = xp.split_terms(d[out], start, stop, count, part)
    with tangent:
        d[out] = xp.pad_terms(d[part], start, stop, count)


# ---------------------------------------------------------------- prod


@rule(jets.prod_jet_partials, kernel="prod_jet_partials")
def prod_jet_partials(out, a, masks, target, terms: Seq, axis=None):
    """Paired with a cotangent c, the coefficient of e[target | b] in the whole product
    with c as a term of mask b: its partials for a and for the terms are jets again."""
    with adjoint:
        paired = xp.join_terms(terms, (d[out],), xp.jet_count(terms), 1)
        d[a] = xp.prod_jet_partials(a, xp.jet_adjoint_masks(masks, target),
                                    xp.jet_target(masks, target), paired, axis)
        d[terms] = xp.prod_jet_term_partials(a, xp.jet_adjoint_masks(masks, target),
                                             xp.jet_target(masks, target), paired,
                                             xp.jet_count(terms), axis)
    with tangent:
        grown = xp.join_terms(xp.join_terms(terms, d[terms], xp.jet_count(terms),
                                            xp.jet_count(terms)),
                              (d[a],), 2 * xp.jet_count(terms), 1)
        d[out] = xp.prod_jet_partials(a, xp.jet_tangent_masks(masks, target),
                                      xp.jet_target(masks, target), grown, axis)


@rule(jets.prod_jet_term_partials, kernel="prod_jet_term_partials")
def prod_jet_term_partials(out, a, masks, target, terms: Seq, count, axis=None):
    """Paired with cotangents c_r (each taking term r's place), the coefficient of
    e[target | b] in the whole product."""
    with adjoint:
        paired = xp.join_terms(terms, xp.as_gradient(d[out], out), xp.jet_count(terms), count)
        d[a] = xp.prod_jet_partials(a, xp.jet_paired_masks(masks, target, count),
                                    xp.jet_target(masks, target), paired, axis)
        d[terms] = xp.prod_jet_term_partials(a, xp.jet_paired_masks(masks, target, count),
                                             xp.jet_target(masks, target), paired,
                                             xp.jet_count(terms), axis)
    with tangent:
        grown = xp.join_terms(xp.join_terms(terms, d[terms], xp.jet_count(terms),
                                            xp.jet_count(terms)),
                              (d[a],), 2 * xp.jet_count(terms), 1)
        d[out] = xp.prod_jet_term_partials(a, xp.jet_tangent_masks(masks, target),
                                           xp.jet_target(masks, target), grown, count, axis)


# ---------------------------------------------------------------- einsum


@rule(jets.einsum_jet, kernel="einsum_jet")
def einsum_jet(out, y, subscripts, operands: Seq, masks, positions, target, terms: Seq,
               optimize=False):
    """Multilinear: the adjoints are the jet's adjoints for the operands and the terms;
    y gives only the shape."""
    with adjoint:
        d[operands] = xp.einsum_jet_adjoints(d[out], subscripts, operands, masks, positions,
                                             target, terms, optimize)
        d[terms] = xp.einsum_jet_term_adjoints(d[out], subscripts, operands, masks,
                                               positions, target, terms,
                                               xp.jet_count(terms), optimize)
    with tangent:
        grown = xp.join_terms(xp.join_terms(terms, d[terms], xp.jet_count(terms),
                                            xp.jet_count(terms)),
                              d[operands], 2 * xp.jet_count(terms), xp.jet_count(operands))
        d[out] = xp.einsum_jet(y, subscripts, operands,
                               xp.jet_tangent_masks(masks, target, xp.jet_count(operands)),
                               xp.jet_tangent_positions(positions, xp.jet_count(operands)),
                               xp.jet_target(masks, target), grown, optimize)


@rule(jets.einsum_jet_adjoints, kernel="einsum_jet_adjoints")
def einsum_jet_adjoints(out, g, subscripts, operands: Seq, masks, positions, target,
                        terms: Seq, optimize=False):
    """Paired with cotangents c_p (one per operand, as terms of a fresh mask), <g, the jet
    of e[target | b]>: linear in g, multilinear in the rest."""
    with adjoint:
        paired = xp.join_terms(terms, xp.as_gradient(d[out], out), xp.jet_count(terms),
                               xp.jet_count(operands))
        d[g] = xp.einsum_jet(g, subscripts, operands,
                             xp.jet_adjoint_masks(masks, target, xp.jet_count(operands)),
                             xp.jet_adjoint_positions(positions, xp.jet_count(operands)),
                             xp.jet_target(masks, target), paired, optimize)
        d[operands] = xp.einsum_jet_adjoints(
            g, subscripts, operands, xp.jet_adjoint_masks(masks, target, xp.jet_count(operands)),
            xp.jet_adjoint_positions(positions, xp.jet_count(operands)),
            xp.jet_target(masks, target), paired, optimize)
        d[terms] = xp.einsum_jet_term_adjoints(
            g, subscripts, operands, xp.jet_adjoint_masks(masks, target, xp.jet_count(operands)),
            xp.jet_adjoint_positions(positions, xp.jet_count(operands)),
            xp.jet_target(masks, target), paired, xp.jet_count(terms), optimize)
    with tangent:
        grown = xp.join_terms(xp.join_terms(terms, d[terms], xp.jet_count(terms),
                                            xp.jet_count(terms)),
                              d[operands], 2 * xp.jet_count(terms), xp.jet_count(operands))
        d[out] = xp.add_tree(
            xp.einsum_jet_adjoints(d[g], subscripts, operands, masks, positions, target, terms,
                                   optimize),
            xp.einsum_jet_adjoints(g, subscripts, operands,
                                   xp.jet_tangent_masks(masks, target, xp.jet_count(operands)),
                                   xp.jet_tangent_positions(positions, xp.jet_count(operands)),
                                   xp.jet_target(masks, target), grown, optimize))


@rule(jets.einsum_jet_term_adjoints, kernel="einsum_jet_term_adjoints")
def einsum_jet_term_adjoints(out, g, subscripts, operands: Seq, masks, positions, target,
                             terms: Seq, count, optimize=False):
    """Paired with cotangents c_r (each taking term r's place), <g, the jet of
    e[target | b]>: linear in g, multilinear in the rest."""
    with adjoint:
        paired = xp.join_terms(terms, xp.as_gradient(d[out], out), xp.jet_count(terms), count)
        d[g] = xp.einsum_jet(g, subscripts, operands, xp.jet_paired_masks(masks, target, count),
                             xp.jet_paired_positions(positions, count),
                             xp.jet_target(masks, target), paired, optimize)
        d[operands] = xp.einsum_jet_adjoints(
            g, subscripts, operands, xp.jet_paired_masks(masks, target, count),
            xp.jet_paired_positions(positions, count), xp.jet_target(masks, target), paired,
            optimize)
        d[terms] = xp.einsum_jet_term_adjoints(
            g, subscripts, operands, xp.jet_paired_masks(masks, target, count),
            xp.jet_paired_positions(positions, count), xp.jet_target(masks, target), paired,
            xp.jet_count(terms), optimize)
    with tangent:
        grown = xp.join_terms(xp.join_terms(terms, d[terms], xp.jet_count(terms),
                                            xp.jet_count(terms)),
                              d[operands], 2 * xp.jet_count(terms), xp.jet_count(operands))
        d[out] = xp.add_tree(
            xp.einsum_jet_term_adjoints(d[g], subscripts, operands, masks, positions, target,
                                        terms, count, optimize),
            xp.einsum_jet_term_adjoints(
                g, subscripts, operands,
                xp.jet_tangent_masks(masks, target, xp.jet_count(operands)),
                xp.jet_tangent_positions(positions, xp.jet_count(operands)),
                xp.jet_target(masks, target), grown, count, optimize))
