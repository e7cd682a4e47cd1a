"""Jets of products: the derivatives of ``prod`` and ``einsum`` of every order.

Both are multilinear in their factors, so every derivative of them is a sum of products
with some factors replaced by tangents or cotangents. A *jet* says which: each *term* is
an array with a mask of nilpotent, commuting generators ``e_1, e_2, ...`` (``e_b**2 = 0``),
and a factor ``a`` becomes ``a + sum_r e[masks[r]] terms[r]``. The derivative wanted is the
coefficient of ``e[target]`` in the product: the sum, over every way of covering the bits
of ``target`` with terms of disjoint masks, of the product with those factors replaced.

The family is closed under differentiation, which is what lets a derivative of any order
be differentiated again:

* the tangent adds a fresh generator ``b``: each term ``t`` with mask ``S`` gains the term
  ``dt`` with mask ``S | b``, each factor ``a`` the term ``da`` with mask ``b``, and the
  target gains ``b`` (:func:`jet_tangent_masks`, :func:`jet_target`);
* the adjoint pairs with a cotangent ``c`` as one more term with a fresh mask
  (:func:`jet_adjoint_masks`); a cotangent ``c_r`` paired with the partials for term ``r``
  becomes a term with mask ``masks[r] | b`` (:func:`jet_paired_masks`).

Terms given as ``None`` or the literal 0 (inactive tangents) contribute nothing. Helpers
take the backend ``xp`` first and use only its kernels; ``join_terms``, ``split_terms`` and
``pad_terms`` assemble the tuples of terms that rules pass on.
"""

from __future__ import annotations

from ._plumbing import _is_zero_literal
from .product_helpers import einsum_adjoint
from .reduction_helpers import _floating, _normalize_axes, _size

__all__ = [
    "jet_count",
    "jet_target",
    "jet_tangent_masks",
    "jet_tangent_positions",
    "jet_adjoint_masks",
    "jet_adjoint_positions",
    "jet_paired_masks",
    "jet_paired_positions",
    "jet_set_masks",
    "jet_set_positions",
    "join_terms",
    "split_terms",
    "pad_terms",
    "prod_jet_partials",
    "prod_jet_term_partials",
    "einsum_jet",
    "einsum_jet_adjoints",
    "einsum_jet_term_adjoints",
]


def _zero(value) -> bool:
    return value is None or _is_zero_literal(value)


# -- masks: which generators each term carries (static integers) --------------------------

def _fresh(masks, target) -> int:
    """A generator bit that neither the target nor any term uses."""
    used = int(target)
    for mask in masks:
        used |= int(mask)
    return 1 << used.bit_length()


def jet_count(xp, terms) -> int:
    """The number of entries of a tuple of terms (or of operands)."""
    return len(terms)


def jet_target(xp, masks, target) -> int:
    """The target after a tangent or an adjoint: with the fresh generator added."""
    return int(target) | _fresh(masks, target)


def jet_tangent_masks(xp, masks, target, factors=1):
    """Masks of ``terms + d[terms] + d[factors]``: the tangents of the terms carry their
    term's mask and the fresh generator, the tangents of the factors the fresh one alone."""
    fresh = _fresh(masks, target)
    return tuple(masks) + tuple(m | fresh for m in masks) + (fresh,) * factors


def jet_tangent_positions(xp, positions, factors):
    """Factor positions of ``terms + d[terms] + d[factors]``."""
    return tuple(positions) * 2 + tuple(range(factors))


def jet_adjoint_masks(xp, masks, target, factors=1):
    """Masks of ``terms + cotangents``: one fresh generator for the cotangents, which pair
    with the factors."""
    return tuple(masks) + (_fresh(masks, target),) * factors


def jet_adjoint_positions(xp, positions, factors):
    """Factor positions of ``terms + cotangents`` (one cotangent per factor)."""
    return tuple(positions) + tuple(range(factors))


def jet_paired_masks(xp, masks, target, count):
    """Masks of ``terms + cotangents`` where cotangent ``r`` pairs with the partials for
    term ``r``: it takes that term's place, so it carries the term's mask and a fresh one."""
    fresh = _fresh(masks, target)
    return tuple(masks) + tuple(m | fresh for m in masks[:count])


def jet_paired_positions(xp, positions, count):
    """Factor positions of the terms :func:`jet_paired_masks` describes."""
    return tuple(positions) + tuple(positions[:count])


def jet_set_masks(xp, sets, factors):
    """Masks of ``sets`` replacement sets joined one after another (each one entry per
    factor): set ``s`` carries generator ``s``, and the target is all of them."""
    return tuple(1 << s for s in range(sets) for _ in range(factors))


def jet_set_positions(xp, sets, factors):
    """Factor positions of ``sets`` replacement sets joined one after another."""
    return tuple(range(factors)) * sets


# -- tuples of terms (linear in their entries) --------------------------------------------

def _entries(terms, count):
    """The entries of a tuple of terms, a container adjoint, or a zero placeholder."""
    if _zero(terms):
        return [None] * count
    entries = list(terms)
    if len(entries) != count:
        raise ValueError(f"expected {count} terms, got {len(entries)}")
    return entries


def join_terms(xp, first, second, count_first, count_second):
    """``first + second`` as one tuple; a zero placeholder stands for that many zeros."""
    return tuple(_entries(first, count_first) + _entries(second, count_second))


def split_terms(xp, terms, start, stop, count, like):
    """Entries ``start:stop`` of a tuple of ``count`` terms, each a zero shaped like the
    entry of ``like`` where the entry is zero."""
    part = _entries(terms, count)[start:stop]
    return tuple(xp.zeros_like(t) if _zero(p) and not _zero(t) else p
                 for p, t in zip(part, like, strict=True))


def pad_terms(xp, part, start, stop, count):
    """A tuple of ``count`` terms holding ``part`` at ``start:stop`` and zeros elsewhere:
    the transpose of :func:`split_terms`."""
    entries = [None] * count
    entries[start:stop] = _entries(part, stop - start)
    return tuple(entries)


# -- prod ------------------------------------------------------------------------------

def _kept_terms(masks, target, terms):
    return [(int(m), t) for m, t in zip(masks, terms, strict=True)
            if not _zero(t) and m and int(m) & ~int(target) == 0]


def prod_jet_partials(xp, a, masks, target, terms, axis=None):
    """For ``y = prod(a, axis)``: entry ``i`` is the coefficient of ``e[target]`` in the
    product, over the other elements ``j`` of ``a_i``'s slice, of ``a_j + sum_r
    e[masks[r]] terms[r]_j`` (terms shaped like ``a``). With no terms and target 0 it is
    ``dy/da``; with terms ``v`` (mask 1) and target 1 the second derivative along ``v``;
    and so on. Exact with zeros in ``a``: prefix and suffix products, no division."""
    a = _floating(xp, a)
    axes = _normalize_axes(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    order = rest + list(axes)
    lead = tuple(a.shape[i] for i in rest)
    n = _size(a.shape[i] for i in axes)
    target = int(target)

    def flat(t):
        t = xp.broadcast_to(t, a.shape) if xp.shape(t) != a.shape else t
        return xp.reshape(xp.transpose(t, order), lead + (n,))

    fa = flat(a)
    kept = [(m, flat(t)) for m, t in _kept_terms(masks, target, terms)]
    one = xp.ones(lead, dtype=fa.dtype)

    def scan(indices):
        """The coefficients (mask -> array) of the running product before each index."""
        state = {0: one}
        before = []
        for j in indices:
            before.append(state)
            x = fa[..., j]
            new = {m: c * x for m, c in state.items()}
            for mask, t in kept:
                tj = t[..., j]
                for m, c in state.items():
                    if m & mask == 0:
                        key = m | mask
                        new[key] = new[key] + c * tj if key in new else c * tj
            state = new
        return before

    prefix = scan(range(n))
    suffix = scan(range(n - 1, -1, -1))[::-1]
    columns = []
    for j in range(n):
        column = None
        for m, c in prefix[j].items():
            other = suffix[j].get(target & ~m) if m & ~target == 0 else None
            if other is not None:
                column = c * other if column is None else column + c * other
        columns.append(xp.zeros(lead, dtype=fa.dtype) if column is None else column)
    out = xp.stack(columns, axis=-1) if columns else xp.zeros(lead + (0,), dtype=fa.dtype)
    out = xp.reshape(out, tuple(a.shape[i] for i in order))
    return xp.transpose(out, [order.index(i) for i in range(a.ndim)])


def prod_jet_term_partials(xp, a, masks, target, terms, count, axis=None):
    """The partials of the coefficient behind :func:`prod_jet_partials` with respect to
    each of the first ``count`` terms: for term ``r``, ``prod_jet_partials`` with target
    ``target`` less ``masks[r]`` (zeros when the mask is not inside the target)."""
    return tuple(
        prod_jet_partials(xp, a, masks, int(target) & ~int(m), terms, axis)
        if int(m) & ~int(target) == 0 else xp.zeros_like(_floating(xp, a))
        for m in masks[:count])


# -- einsum ----------------------------------------------------------------------------

def _einsum_assignments(operands, masks, positions, target, terms, base=None):
    """Operand lists, one for every way of covering ``target`` with terms of disjoint masks
    at distinct positions (a position keeps its operand or takes one of its terms);
    position ``base`` keeps its operand."""
    options = [[] for _ in operands]
    for m, p, t in zip(masks, positions, terms, strict=True):
        if not _zero(t) and m and int(m) & ~int(target) == 0 and p != base:
            options[p].append((int(m), t))

    def cover(p, left, chosen):
        if p == len(operands):
            if left == 0:
                yield list(chosen)
            return
        chosen.append(operands[p])
        yield from cover(p + 1, left, chosen)
        chosen.pop()
        for m, t in options[p]:
            if m & ~left == 0:
                chosen.append(t)
                yield from cover(p + 1, left & ~m, chosen)
                chosen.pop()

    yield from cover(0, int(target), [])


def einsum_jet(xp, y, subscripts, operands, masks, positions, target, terms, optimize=False):
    """The coefficient of ``e[target]`` in ``einsum(subscripts, *operands)`` with each
    operand ``p`` replaced by ``operands[p] + sum_{r: positions[r] == p} e[masks[r]]
    terms[r]``; zeros like ``y`` when no assignment covers the target."""
    total = None
    for replaced in _einsum_assignments(operands, masks, positions, target, terms):
        term = xp.einsum(subscripts, *replaced, optimize=optimize)
        total = term if total is None else total + term
    return xp.zeros_like(y) if total is None else total


def einsum_jet_adjoints(xp, g, subscripts, operands, masks, positions, target, terms,
                        optimize=False):
    """For each operand ``p``: the adjoint for operand ``p`` (cotangent ``g``) of
    :func:`einsum_jet`, i.e. the sum over the assignments that keep operand ``p`` of the
    einsum's adjoint for operand ``p``. Zeros where nothing contributes, and everywhere
    when ``g`` is the literal 0."""
    total = [None] * len(operands)
    if not _zero(g):
        for p in range(len(operands)):
            for replaced in _einsum_assignments(operands, masks, positions, target, terms, p):
                part = einsum_adjoint(xp, g, subscripts, replaced, optimize)[p]
                total[p] = part if total[p] is None else total[p] + part
    return tuple(xp.zeros_like(o) if t is None else t
                 for t, o in zip(total, operands, strict=True))


def einsum_jet_term_adjoints(xp, g, subscripts, operands, masks, positions, target, terms,
                             count, optimize=False):
    """For each of the first ``count`` terms ``r``: the adjoint of :func:`einsum_jet`
    for that term, the adjoint at its position with target ``target`` less ``masks[r]``
    (zeros shaped like its operand when the mask is not inside the target)."""
    out = []
    for m, p in zip(masks[:count], positions[:count], strict=True):
        if int(m) & ~int(target) or _zero(g):
            out.append(xp.zeros_like(operands[p]))
            continue
        rest = int(target) & ~int(m)
        out.append(einsum_jet_adjoints(xp, g, subscripts, operands, masks, positions, rest,
                                       terms, optimize)[p])
    return tuple(out)
