"""Rules for the helpers that handle adjoints of Python containers (see `helpers` for what
these rules are for).

A container's adjoint is a `Cotangents` (one entry per item, None for zero) or a zero
placeholder; its tangent is a container of tangents. All of these helpers are linear in
the adjoints they take: each rule's adjoint applies the transposed helper.
"""

from srcgrad.rules.registry import adjoint, d, nondifferentiable, rule, tangent, xp
from srcgrad.runtime import containers


@rule(containers.copy_of, kernel="copy_of")
def copy_of(out, value, order="K"):
    """`value.copy()` of a list, dict or array: the identity."""
    with adjoint:
        d[value] = d[out]
    with tangent:
        d[out] = xp.copy_of(d[value], order)


@rule(containers.own, kernel="own")
def own(out, value):
    """A copy of value (numbers as they are): the identity."""
    with adjoint:
        d[value] = d[out]
    with tangent:
        d[out] = xp.own(d[value])


@rule(containers.add_tree, kernel="add_tree")
def add_tree(out, a, b):
    """The sum of two adjoints, entry by entry."""
    with adjoint:
        d[a] = d[out]
        d[b] = d[out]
    with tangent:
        d[out] = xp.add_tree(d[a], d[b])


@rule(containers.item_part, kernel="item_part")
def item_part(out, container, key, g):
    """A container adjoint holding g at key: linear in g; item_adjoint reads it back."""
    with adjoint:
        d[g] = xp.item_adjoint(d[out], key, g)
    with tangent:
        d[out] = xp.item_part(container, key, d[g])


@rule(containers.item_adjoint, kernel="item_adjoint")
def item_adjoint(out, b, key, like):
    """Entry key of the adjoint b (of a container or an array): linear in b; unindex puts
    it back."""
    with adjoint:
        d[b] = xp.unindex(d[out], b, key)
    with tangent:
        d[out] = xp.item_adjoint(d[b], key, like)


@rule(containers.drop_last, kernel="drop_last")
def drop_last(out, b, container):
    """b without its last entry: linear in b."""
    with adjoint:
        d[b] = xp.undrop_last(d[out])
    with tangent:
        d[out] = xp.drop_last(d[b], container)


@rule(containers.undrop_last, kernel="undrop_last")
def undrop_last(out, c):
    """c with a zero entry on the end: linear in c; drop_last is its transpose."""
    with adjoint:
        d[c] = xp.drop_last(d[out], d[out])
    with tangent:
        d[out] = xp.undrop_last(d[c])


@rule(containers.push_adjoint, kernel="push_adjoint")
def push_adjoint(out, b, g, container):
    """b with g on the end: linear in (b, g)."""
    with adjoint:
        d[b] = xp.drop_last(d[out], d[out])
        d[g] = xp.item_adjoint(d[out], -1, g)
    with tangent:
        d[out] = xp.push_adjoint(d[b], d[g], container)


@rule(containers.cotangents, kernel="cotangents")
def cotangents(out, entries):
    """Per-item adjoints wrapped as a container adjoint: the identity on the entries."""
    with adjoint:
        d[entries] = d[out]
    with tangent:
        d[out] = xp.cotangents(d[entries])


@rule(containers.as_gradient, kernel="as_gradient")
def as_gradient(out, gradient, like):
    """An adjoint in the structure of like, zeros where nothing flowed back: the identity
    on the entries."""
    with adjoint:
        d[gradient] = d[out]
    with tangent:
        d[out] = xp.as_gradient(d[gradient], like)


# A zero tangent shaped like its argument.
nondifferentiable(containers.zeros_tree, kernel="zeros_tree")
# The keys of a dict (`d.keys()`; loops over a dict read its entries by them).
nondifferentiable(containers.keys, kernel="keys")


@rule(containers.attribute_part, kernel="attribute_part")
def attribute_part(out, obj, name, g):
    """The adjoint of one attribute, as the adjoint of its object: linear in g."""
    with adjoint:
        d[g] = xp.attribute_tangent(d[out], name)
    with tangent:
        d[out] = xp.attribute_part(obj, name, d[g])


@rule(containers.attribute_tangent, kernel="attribute_tangent")
def attribute_tangent(out, t, name):
    """One attribute of an object's tangent: linear in t."""
    with adjoint:
        d[t] = xp.attribute_part(t, name, d[out])
    with tangent:
        d[out] = xp.attribute_tangent(d[t], name)
