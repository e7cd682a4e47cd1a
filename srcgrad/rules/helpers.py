"""Rules for the runtime's helpers, so that emitted code can itself be differentiated
(derivatives of derivatives: `jvp(grad(f))` is a Hessian-vector product, `grad(grad(f))`
a second derivative).

Keys are the helper functions of `srcgrad.runtime`; emitted code calls them as
`xp.<name>(...)` with the backend bound, so the templates leave `xp` out. Most helpers are
linear in their cotangent or tangent: the tangent applies the helper to `d[...]`, the
adjoint applies its transpose (another helper or a NumPy kernel). Arguments a helper reads
only for a shape, rank or dtype get no derivative. Helpers that compute local derivatives
(`*_partials`) have derivatives of their own; piecewise-constant masks and weights are
flat (their derivative is zero wherever it exists). `require_*` and `item_restore` are
only ever statements, never values, and need no rule.

This module: broadcasting, indexing and slot updates, elementwise helpers. The others:
`helpers_reductions`, `helpers_products` (matmul, dot, inner, outer, einsum),
`helpers_arrays` (shape manipulation, joins, linspace), `helpers_containers`.

Third and higher derivatives: the helpers these rules introduce (`*_adjoint_*_tangent`,
`einsum_cross_*`, `std_partials_dy`, `norm_partials_dx`/`_dy`, `prod_second_partials`) have
rules too, mostly the same helpers again; `std_partials_derivative` and
`norm_partials_derivative` take the order as an argument, and the derivatives of prod and
einsum beyond the second are jets (`helpers_jets`), a family closed under both modes, so
derivatives compose to any depth.
"""

from srcgrad.rules.registry import adjoint, d, nondifferentiable, rule, tangent, xp
from srcgrad.runtime import adjoints, elementwise_helpers

# ---------------------------------------------------------------- undoing broadcasting


@rule(adjoints.unbroadcast, kernel="unbroadcast")
def unbroadcast(out, g, x):
    """Sums g down to x's shape (or spreads a smaller g over it): linear in g. Each axis
    is summed, spread or kept, so the transpose goes back the same way: unbroadcast to
    g's shape."""
    with adjoint:
        d[g] = xp.unbroadcast(d[out], g)
    with tangent:
        d[out] = xp.unbroadcast(d[g], x)


@rule(adjoints.broadcast_like, kernel="broadcast_like")
def broadcast_like(out, t, y):
    """Spreads t to y's shape: linear in t."""
    with adjoint:
        d[t] = xp.unbroadcast(d[out], t)
    with tangent:
        d[out] = xp.broadcast_like(d[t], y)


@rule(adjoints.repeated_product, kernel="repeated_product")
def repeated_product(out, g, factor, count):
    """g * factor ** count for numbers factor and count: linear in g."""
    with adjoint:
        d[g] = xp.repeated_product(d[out], factor, count)
    with tangent:
        d[out] = xp.repeated_product(d[g], factor, count)


@rule(adjoints.unreduce, kernel="unreduce")
def unreduce(out, g, x, axis=None, keepdims=False):
    """Spreads a reduced g back over x's shape: linear in g; its adjoint is the reduction."""
    with adjoint:
        d[g] = xp.unbroadcast(xp.sum(d[out], axis=axis, keepdims=keepdims), g)
    with tangent:
        d[out] = xp.unreduce(d[g], x, axis, keepdims)


# ---------------------------------------------------------------- indexing and slot updates


@rule(adjoints.unindex, kernel="unindex")
def unindex(out, g, x, key):
    """Zeros shaped like x with g at key (added up where an advanced key repeats): linear
    in g; its adjoint gathers at key. For a container x, a container adjoint."""
    with adjoint:
        d[g] = xp.unbroadcast(xp.item_adjoint(d[out], key, g), g)
    with tangent:
        d[out] = xp.unindex(d[g], x, key)


@rule(adjoints.accumulate_at, kernel="accumulate_at")
def accumulate_at(out, acc, g, x, key):
    """acc + unindex(g, x, key), in place: linear in acc and g."""
    with adjoint:
        d[acc] = xp.unbroadcast(d[out], acc)
        d[g] = xp.unbroadcast(xp.item_adjoint(d[out], key, g), g)
    with tangent:
        d[out] = xp.accumulate_at(d[acc], d[g], x, key)


@rule(adjoints.slot_adjoint, kernel="slot_adjoint")
def slot_adjoint(out, g, key, v):
    """The written slots of g, summed down to v's shape: linear in g."""
    with adjoint:
        d[g] = xp.slot_adjoint_transpose(d[out], g, key, v)
    with tangent:
        d[out] = xp.slot_adjoint(d[g], key, v)


@rule(adjoints.slot_adjoint_transpose, kernel="slot_adjoint_transpose")
def slot_adjoint_transpose(out, c, g, key, v):
    """Linear in c; slot_adjoint is its transpose."""
    with adjoint:
        d[c] = xp.slot_adjoint(d[out], key, v)
    with tangent:
        d[out] = xp.slot_adjoint_transpose(d[c], g, key, v)


@rule(adjoints.zero_slot, kernel="zero_slot")
def zero_slot(out, g, key):
    """g with the slots at key zeroed: a projection, its own transpose."""
    with adjoint:
        d[g] = xp.zero_slot(d[out], key)
    with tangent:
        d[out] = xp.zero_slot(d[g], key)


@rule(adjoints.update_slot, kernel="update_slot")
def update_slot(out, t, key, value):
    """t with t[key] = value: linear in (t, value). A zero tangent of t is made dense
    first (the update writes into it)."""
    with adjoint:
        d[t] = xp.zero_slot(d[out], key)
        d[value] = xp.slot_adjoint(d[out], key, value)
    with tangent:
        d[out] = xp.update_slot(xp.broadcast_like(d[t], t), key, d[value])


# The record of an array kept for its shape and dtype only.
nondifferentiable(adjoints.like, kernel="like")
# `item_record` has no rule: what it keeps flows into `item_restore`, a statement whose
# effect on derivatives srcgrad does not follow, so a derivative through it is refused.

# ---------------------------------------------------------------- elementwise helpers

# Piecewise-constant weights and masks: only ever multiplied into a cotangent or tangent,
# with derivative zero wherever it exists (they change only where operands tie or touch
# a clip bound, a set of measure zero).
nondifferentiable(elementwise_helpers.tie_weight, kernel="tie_weight")
nondifferentiable(elementwise_helpers.clip_passes, kernel="clip_passes")
nondifferentiable(elementwise_helpers.clip_below, kernel="clip_below")
nondifferentiable(elementwise_helpers.clip_above, kernel="clip_above")


@rule(elementwise_helpers.astype_adjoint, kernel="astype_adjoint")
def astype_adjoint(out, g, x, dtype):
    """g cast to x's dtype (zeros for a flat cast to an integer dtype): linear in g; its
    transpose casts back to g's dtype."""
    with adjoint:
        d[g] = xp.astype_adjoint(d[out], g, dtype)
    with tangent:
        d[out] = xp.astype_adjoint(d[g], x, dtype)


@rule(elementwise_helpers.astype_tangent, kernel="astype_tangent")
def astype_tangent(out, t, dtype):
    """t cast to dtype (zeros for an integer dtype): linear in t."""
    with adjoint:
        d[t] = xp.astype_adjoint(d[out], t, dtype)
    with tangent:
        d[out] = xp.astype_tangent(d[t], dtype)
