"""Spec rows for the rules of the runtime's helpers (srcgrad/rules/helpers*.py): here
broadcasting, indexing and slot updates, elementwise helpers and containers; reductions,
products and shape helpers in the other `helpers_*` spec modules.

Each function is written like emitted code: it binds `xp = rt.namespace(...)` and calls
helpers as `xp.<helper>(...)`, which srcgrad then reads as primitives. Only arguments that
carry derivatives are differentiated (`wrt`); the others give shapes. Flat helpers are
checked through a differentiable expression they multiply, so that their part must come
out zero. Rows whose adjoint uses a helper with no rule of its own (third derivatives:
`prod_second_partials`, `std_partials_dy`, `norm_partials_dx`/`_dy`,
`einsum_cross_adjoints`) skip the second-order check (`order2=False`).
"""

import numpy as np

import srcgrad.runtime as rt
from srcgrad.runtime import adjoints, containers
from srcgrad.runtime import elementwise_helpers as eh

from rulespec import Arg, Case

REPEATED = np.array([0, 2, 0])  # an advanced key naming row 0 twice
MASK = np.array([[True, False, True, False], [False, True, True, False],
                 [True, False, False, True]])

# ---------------------------------------------------------------- broadcasting


def unbroadcast(g, x):
    xp = rt.namespace(g=g, x=x)
    return xp.unbroadcast(g, x)


def broadcast_like(t, y):
    xp = rt.namespace(t=t, y=y)
    return xp.broadcast_like(t, y)


def accumulate_at(acc, g, x, key):
    xp = rt.namespace(acc=acc, g=g, x=x)
    owned = acc * 1.0  # accumulate_at updates its first argument in place
    return xp.accumulate_at(owned, g, x, key)


def own(v):
    xp = rt.namespace(v=v)
    return xp.own(v) * v


def copy_of(v):
    xp = rt.namespace(v=v)
    return xp.copy_of(v) * v


def repeated_product(g, factor, count):
    xp = rt.namespace(g=g)
    return xp.repeated_product(g, factor, count)


def unreduce(g, x, axis, keepdims):
    xp = rt.namespace(g=g, x=x)
    return xp.unreduce(g, x, axis, keepdims)


# ---------------------------------------------------------------- indexing and slots


def unindex(g, x, key):
    xp = rt.namespace(g=g, x=x)
    return xp.unindex(g, x, key)


def slot_adjoint(g, v, key):
    xp = rt.namespace(g=g, v=v)
    return xp.slot_adjoint(g, key, v)


def slot_adjoint_transpose(c, g, v, key):
    xp = rt.namespace(c=c, g=g, v=v)
    return xp.slot_adjoint_transpose(c, g, key, v)


def zero_slot(g, key):
    xp = rt.namespace(g=g)
    return xp.zero_slot(g, key)


def update_slot(t, value, key):
    xp = rt.namespace(t=t, value=value)
    return xp.update_slot(t, key, value)


def like_is_flat(x):
    xp = rt.namespace(x=x)
    kept = xp.like(x)
    return xp.reshape(x * x, kept.shape)


# ---------------------------------------------------------------- elementwise helpers


def tie_weight_is_flat(a, b):
    xp = rt.namespace(a=a, b=b)
    y = xp.maximum(a, b)
    weight = xp.tie_weight(y, a, b)
    return weight * a * a + (1.0 - weight) * b


def clip_masks_are_flat(a, low, high):
    xp = rt.namespace(a=a, low=low, high=high)
    passes = xp.clip_passes(a, low, high)
    below = xp.clip_below(a, low, high)
    above = xp.clip_above(a, low, high)
    return passes * a * a + below * low + above * high * high


def astype_adjoint(g, x, dtype):
    xp = rt.namespace(g=g, x=x)
    return xp.astype_adjoint(g, x, dtype) + g * 0.5


def astype_tangent(t, dtype):
    xp = rt.namespace(t=t)
    return xp.astype_tangent(t, dtype) + t * 0.5


# ---------------------------------------------------------------- containers


def container_items(a, b, x):
    xp = rt.namespace(a=a, b=b, x=x)
    first = xp.item_part([x, x], 0, a)
    second = xp.item_part([x, x], 1, b)
    both = xp.add_tree(first, second)
    return xp.item_adjoint(both, 0, x) * xp.item_adjoint(both, 1, x)


def add_tree_arrays(a, b):
    xp = rt.namespace(a=a, b=b)
    return xp.add_tree(a * a, b)


def item_adjoint_array(b, like):
    xp = rt.namespace(b=b, like=like)
    return xp.item_adjoint(b * b, 1, like)


def unindex_container(g, x):
    xp = rt.namespace(g=g, x=x)
    part = xp.unindex(g * g, [x, x], 1)
    return xp.item_adjoint(part, 1, x) + xp.item_adjoint(part, 0, x)


def list_adjoints(a, b, x):
    xp = rt.namespace(a=a, b=b, x=x)
    full = xp.push_adjoint(xp.item_part([x], 0, a), b, [x])
    kept = xp.drop_last(full, [x, x])
    padded = xp.undrop_last(kept)
    return (xp.item_adjoint(padded, 0, x) * xp.item_adjoint(full, 1, x)
            + xp.item_adjoint(padded, 1, x))


def cotangents(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    parts = xp.unconcatenate(g, [a, b], 0)
    wrapped = xp.cotangents(parts)
    return xp.sum(xp.item_adjoint(wrapped, 0, a) ** 2) * xp.item_adjoint(wrapped, 1, b)


def as_gradient(g, x):
    xp = rt.namespace(g=g, x=x)
    dense = xp.as_gradient(xp.item_part([x, x], 1, g * g), [x, x])
    return dense[0] + dense[1] * 3.0


def zeros_tree_is_flat(x):
    xp = rt.namespace(x=x)
    return x * x + xp.zeros_tree(x)


def by_listed_keys(x):
    """A dict's entry read by its key from `xp.keys` (what a loop over a dict does)."""
    xp = rt.namespace(x=x)
    entries = {"a": x, "b": x * 2.0}
    names = xp.keys(entries)
    return x * entries[names[1]]


# ---------------------------------------------------------------- the table

CASES = []

# Broadcasting: (g or t shape, x or y shape).
for g_shape, x_shape in [((3, 4), (1, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((3,), ()),
                         ((), (3,)), ((3, 4), (3, 4))]:
    tag = f"{g_shape}-{x_shape}"
    CASES.append(Case(unbroadcast, (Arg(g_shape), Arg(x_shape)), (adjoints.unbroadcast,),
                      id=f"unbroadcast{tag}", wrt=(0,)))
for t_shape, y_shape in [((4,), (3, 4)), ((), (3,)), ((1, 4), (3, 4)), ((3,), (3,))]:
    CASES.append(Case(broadcast_like, (Arg(t_shape), Arg(y_shape)), (adjoints.broadcast_like,),
                      id=f"broadcast_like{t_shape}-{y_shape}", wrt=(0,)))
for acc_shape, g_shape, x_shape, key in [
        ((5,), (), (5,), 2), ((4, 3), (3,), (4, 3), 1), ((4, 3), (2, 3), (4, 3), slice(1, 3)),
        (None, (3,), (4, 3), 0), ((5,), (3,), (5,), REPEATED), ((4, 3), (1, 3), (4, 3), (1, None))]:
    CASES.append(Case(accumulate_at, (Arg(acc_shape), Arg(g_shape), Arg(x_shape), key),
                      (adjoints.accumulate_at,), id=f"accumulate_at{acc_shape}-{g_shape}-{key}",
                      wrt=(0, 1)))
for v_shape in [(3, 4), (), None]:
    CASES.append(Case(own, (Arg(v_shape),), (containers.own,), id=f"own{v_shape}"))
    CASES.append(Case(copy_of, (Arg(v_shape),), (containers.copy_of,), id=f"copy_of{v_shape}"))
for g_shape, factor, count in [((3, 4), 2, 5), ((), -0.5, 3), (None, 3.0, 0), ((2,), 1.5, 7)]:
    CASES.append(Case(repeated_product, (Arg(g_shape), factor, count),
                      (adjoints.repeated_product,),
                      id=f"repeated_product{g_shape}-{factor}-{count}", wrt=(0,)))

# Reductions: (g shape, x shape, axis, keepdims); also used for unmean.
REDUCED = [((3,), (3, 4), 1, False), ((), (3, 4), None, False), ((1, 4), (3, 4), 0, True),
           ((4,), (2, 3, 4), (0, 1), False), ((3, 1), (3, 4), -1, True)]
for g_shape, x_shape, axis, keepdims in REDUCED:
    CASES.append(Case(unreduce, (Arg(g_shape), Arg(x_shape), axis, keepdims),
                      (adjoints.unreduce,), id=f"unreduce{x_shape}-{axis}-{keepdims}", wrt=(0,)))

# Indexing and slot updates.
CASES += [
    Case(unindex, (Arg((2, 3)), Arg((3, 4)), (slice(1, None), slice(None, 3))),
         (adjoints.unindex,), id="unindex-basic", wrt=(0,)),
    Case(unindex, (Arg((3, 4)), Arg((3, 4)), REPEATED), (adjoints.unindex,),
         id="unindex-repeated", wrt=(0,)),
    Case(unindex, (Arg((6,)), Arg((3, 4)), MASK), (adjoints.unindex,), id="unindex-mask",
         wrt=(0,)),
    Case(unindex, (Arg(()), Arg((3, 4)), (1, 2)), (adjoints.unindex,), id="unindex-element",
         wrt=(0,)),
    Case(slot_adjoint, (Arg((3, 4)), Arg((4,)), 1), (adjoints.slot_adjoint,),
         id="slot_adjoint-row", wrt=(0,)),
    Case(slot_adjoint, (Arg((3, 4)), Arg(()), (slice(None), slice(1, 3))),
         (adjoints.slot_adjoint,), id="slot_adjoint-broadcast", wrt=(0,)),
    Case(slot_adjoint, (Arg((3, 4)), Arg((3, 4)), REPEATED), (adjoints.slot_adjoint,),
         id="slot_adjoint-repeated", wrt=(0,)),
    Case(slot_adjoint_transpose, (Arg((4,)), Arg((3, 4)), Arg((4,)), 1),
         (adjoints.slot_adjoint_transpose,), id="slot_adjoint_transpose-row", wrt=(0,)),
    Case(slot_adjoint_transpose, (Arg(()), Arg((3, 4)), Arg(()), (slice(None), 2)),
         (adjoints.slot_adjoint_transpose,), id="slot_adjoint_transpose-broadcast", wrt=(0,)),
    Case(slot_adjoint_transpose, (Arg((3, 4)), Arg((3, 4)), Arg((3, 4)), REPEATED),
         (adjoints.slot_adjoint_transpose,), id="slot_adjoint_transpose-repeated", wrt=(0,)),
    Case(zero_slot, (Arg((3, 4)), (slice(None), 1)), (adjoints.zero_slot,), id="zero_slot"),
    Case(zero_slot, (Arg((3, 4)), REPEATED), (adjoints.zero_slot,), id="zero_slot-repeated"),
    Case(update_slot, (Arg((3, 4)), Arg((4,)), 1), (adjoints.update_slot,),
         id="update_slot-row"),
    Case(update_slot, (Arg((3, 4)), Arg(()), (slice(None), slice(0, 2))),
         (adjoints.update_slot,), id="update_slot-broadcast"),
    Case(update_slot, (Arg((3, 4)), Arg((3, 4)), REPEATED), (adjoints.update_slot,),
         id="update_slot-repeated"),
    Case(like_is_flat, (Arg((3, 4)),), (adjoints.like,)),
]

# Elementwise helpers. The bounds of clip are drawn apart from the clipped values, so no
# finite difference steps across a bound.
CASES += [
    Case(tie_weight_is_flat, (Arg((3, 4), distinct=True), Arg((3, 4), -1.9, 1.9, distinct=True)),
         (eh.tie_weight,)),
    Case(clip_masks_are_flat, (Arg((8,), distinct=True), Arg((8,), -1.03, -0.97),
                               Arg((8,), 0.97, 1.03)),
         (eh.clip_passes, eh.clip_below, eh.clip_above)),
    Case(astype_adjoint, (Arg((3,)), Arg((3,)), "float32"), (eh.astype_adjoint,),
         id="astype_adjoint-float", wrt=(0,)),
    Case(astype_adjoint, (Arg((3,)), Arg((3,)), "int64"), (eh.astype_adjoint,),
         id="astype_adjoint-int", wrt=(0,)),
    Case(astype_tangent, (Arg((3,)), "float64"), (eh.astype_tangent,),
         id="astype_tangent-float", wrt=(0,)),
    Case(astype_tangent, (Arg((3,)), "int32"), (eh.astype_tangent,),
         id="astype_tangent-int", wrt=(0,)),
]

# Containers.
CASES += [
    Case(container_items, (Arg((3,)), Arg((3,)), Arg((3,))),
         (containers.item_part, containers.item_adjoint, containers.add_tree), wrt=(0, 1)),
    Case(add_tree_arrays, (Arg((3,)), Arg((3,))), (containers.add_tree,)),
    Case(item_adjoint_array, (Arg((3, 4)), Arg((4,))), (containers.item_adjoint,), wrt=(0,)),
    Case(unindex_container, (Arg((3,)), Arg((3,))), (adjoints.unindex,), wrt=(0,)),
    Case(list_adjoints, (Arg((3,)), Arg((3,)), Arg((3,))),
         (containers.push_adjoint, containers.drop_last, containers.undrop_last), wrt=(0, 1)),
    Case(cotangents, (Arg((5,)), Arg((2,)), Arg((3,))), (containers.cotangents,), wrt=(0,)),
    Case(as_gradient, (Arg((3,)), Arg((3,))), (containers.as_gradient,), wrt=(0,)),
    Case(zeros_tree_is_flat, (Arg((3,)),), (containers.zeros_tree,)),
    Case(by_listed_keys, (Arg((3,)),), (containers.keys,)),
]
