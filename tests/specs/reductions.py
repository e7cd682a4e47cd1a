"""Spec rows for reductions, products and contractions."""

import numpy as np

from rulespec import Arg, Case

INF = float("inf")

# ---------------------------------------------------------------- sums and averages


def np_sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def sum_default(x):
    return np.sum(x)


def sum_method(x):
    return x.sum(axis=-1) * x.sum()


def sum_positional_dtype(x):
    return np.sum(x, 0, np.float64)


def np_mean(x, axis, keepdims):
    return np.mean(x, axis=axis, keepdims=keepdims)


def mean_method(x):
    return x.mean(axis=(0, 2)) + x.mean()


def np_cumsum(x, axis):
    return np.cumsum(x, axis=axis)


def cumsum_method(x):
    return x.cumsum() + x.cumsum(axis=0).sum()


# ---------------------------------------------------------------- products and extrema


def np_prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims)


def prod_method(x):
    return x.prod(axis=1) * x.prod()


def np_max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def np_min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def extrema_spellings(x):
    return np.amax(x, axis=0) * np.amin(x, axis=1, keepdims=True) + x.max() - x.min(axis=0)


# ---------------------------------------------------------------- spread


def np_var(x, axis, ddof, keepdims):
    return np.var(x, axis=axis, ddof=ddof, keepdims=keepdims)


def np_std(x, axis, ddof, keepdims):
    return np.std(x, axis=axis, ddof=ddof, keepdims=keepdims)


def spread_methods(x):
    return x.var(axis=0) + x.std(axis=-1, ddof=1).sum() * x.var()


def norm(x, ord, axis, keepdims):
    return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def norm_default(x):
    return np.linalg.norm(x)


def norm_inf_constant(x):
    return np.linalg.norm(x, np.inf, axis=0)


# ---------------------------------------------------------------- contractions


def np_trace(x, offset, axis1, axis2):
    return np.trace(x, offset=offset, axis1=axis1, axis2=axis2)


def trace_method(x):
    return x.trace() * x.trace(1)


def np_dot(a, b):
    return np.dot(a, b)


def dot_method(a, b):
    return a.dot(b)


def np_outer(a, b):
    return np.outer(a, b)


def np_inner(a, b):
    return np.inner(a, b)


def einsum1(subscripts, a):
    return np.einsum(subscripts, a)


def einsum2(subscripts, a, b):
    return np.einsum(subscripts, a, b)


def einsum3(subscripts, a, b, c):
    return np.einsum(subscripts, a, b, c)


def einsum_optimized(a, b, c):
    return np.einsum("ij,jk,kl->il", a, b, c, optimize=True)


def einsum_constant_operand(a):
    return np.einsum("ij,j->i", a, np.ones(4))


product_keys = {np_dot: np.dot, np_inner: np.inner, np_outer: np.outer}

CASES = []
for shape, axis, keepdims in [((3,), None, False), ((3,), 0, True), ((3, 4), 0, False),
                              ((3, 4), -1, True), ((2, 3, 4), (0, 2), False),
                              ((2, 3, 4), (-1, 1), True), ((2, 3, 4), None, True),
                              ((3, 4), (), False)]:
    tag = f"{shape}-{axis}-{keepdims}"
    CASES += [
        Case(np_sum, (Arg(shape), axis, keepdims), (np.sum,), id=f"sum{tag}"),
        Case(np_mean, (Arg(shape), axis, keepdims), (np.mean,), id=f"mean{tag}"),
        Case(np_prod, (Arg(shape, 0.5, 1.5), axis, keepdims), (np.prod,), id=f"prod{tag}"),
        Case(np_max, (Arg(shape, distinct=True), axis, keepdims), (np.max,), id=f"max{tag}"),
        Case(np_min, (Arg(shape, distinct=True), axis, keepdims), (np.min,), id=f"min{tag}"),
    ]
    if axis != ():
        for ddof in (0, 1):
            CASES += [
                Case(np_var, (Arg(shape), axis, ddof, keepdims), (np.var,), id=f"var{tag}-{ddof}"),
                Case(np_std, (Arg(shape), axis, ddof, keepdims), (np.std,), id=f"std{tag}-{ddof}"),
            ]
CASES += [
    Case(sum_default, (Arg(None),), (np.sum,), id="sum-float"),
    Case(sum_default, (Arg((2, 3)),), (np.sum,)),
    Case(sum_method, (Arg((2, 3)),), (np.sum,)),
    Case(sum_positional_dtype, (Arg((2, 3)),), (np.sum,)),
    Case(mean_method, (Arg((2, 3, 4)),), (np.mean,)),
    Case(np_mean, (Arg(None), None, False), (np.mean,), id="mean-float"),
    Case(prod_method, (Arg((3, 4), 0.5, 1.5),), (np.prod,)),
    Case(np_prod, (np.array([2.0, 0.0, 3.0]), None, False), (np.prod,), wrt=(0,),
         id="prod-one-zero"),
    Case(np_prod, (np.array([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0], [1.0, 2.0, 3.0]]), 1, False),
         (np.prod,), wrt=(0,), id="prod-zeros-per-row"),
    Case(np_prod, (np.array([[2.0, 0.0], [0.0, 4.0], [1.0, 0.5]]), 0, True),
         (np.prod,), wrt=(0,), id="prod-two-zeros-per-column"),
    Case(extrema_spellings, (Arg((3, 4), distinct=True),), (np.max, np.min)),
    Case(np_max, (Arg(None), None, False), (np.max,), id="max-float"),
    Case(spread_methods, (Arg((3, 4)),), (np.var, np.std)),
    Case(np_cumsum, (Arg((2, 3, 4)), None), (np.cumsum,), id="cumsum-flat"),
    Case(np_cumsum, (Arg((2, 3, 4)), 1), (np.cumsum,), id="cumsum-axis1"),
    Case(np_cumsum, (Arg((3, 4)), -1), (np.cumsum,), id="cumsum-axis-neg"),
    Case(np_cumsum, (Arg(None), None), (np.cumsum,), id="cumsum-float"),
    Case(cumsum_method, (Arg((3, 4)),), (np.cumsum,)),
    # NumPy's reductions take axis 0 or -1 of a 0-d array (reducing nothing), and its
    # cumulative sums give a 0-d array shape (1,): the gradients keep the shape ().
    Case(np_sum, (Arg(()), 0, False), (np.sum,), id="sum-0d-axis0"),
    Case(np_sum, (Arg(None), -1, True), (np.sum,), id="sum-float-axis-neg-keepdims"),
    Case(np_prod, (Arg((), 0.5, 1.5), -1, True), (np.prod,), id="prod-0d-axis-neg-keepdims"),
    Case(np_max, (Arg(()), 0, False), (np.max,), id="max-0d-axis0"),
    Case(np_min, (Arg(None), 0, True), (np.min,), id="min-float-axis0-keepdims"),
    Case(np_cumsum, (Arg(()), -1), (np.cumsum,), id="cumsum-0d-axis-neg"),
    Case(np_cumsum, (Arg(()), None), (np.cumsum,), id="cumsum-0d"),
]

# linalg.norm: vector orders along an axis or of a 1-D input, matrix orders, keepdims.
for shape, ord, axis, keepdims in [
        ((4,), None, None, False), ((4,), 2, None, True), ((4,), 1, None, False),
        ((4,), INF, None, False), ((4,), -INF, None, False), ((4,), 3, None, False),
        ((4,), 0.5, None, False), ((4,), 0, None, False),
        ((3, 4), None, None, False), ((3, 4), "fro", None, True), ((3, 4), None, 1, False),
        ((3, 4), 2, 0, True), ((3, 4), 1, -1, False), ((3, 4), INF, 1, True),
        ((3, 4), 1, None, False), ((3, 4), -1, None, False), ((3, 4), INF, None, True),
        ((3, 4), -INF, None, False), ((2, 3, 4), None, None, True),
        ((2, 3, 4), "fro", (2, 0), False), ((2, 3, 4), 1, (1, 2), True),
        ((2, 3, 4), INF, (-1, 0), False), ((2, 3, 4), 2, (1,), False)]:
    # An asymmetric range keeps distinct entries distinct in magnitude too.
    arg = Arg(shape, -1.7, 2.3, avoid=0.1, distinct=ord in (INF, -INF, 1, -1))
    CASES.append(Case(norm, (arg, ord, axis, keepdims), (np.linalg.norm,),
                      id=f"norm{shape}-{ord}-{axis}-{keepdims}"))
CASES += [
    Case(norm_default, (Arg((3, 4)),), (np.linalg.norm,)),
    # The distinct grid is symmetric, so |x| ties within a column: the gradient jumps
    # there and has no second derivative to check.
    Case(norm_inf_constant, (Arg((3, 4), distinct=True),), (np.linalg.norm,), order2=False),
]

for shape, offset, axis1, axis2 in [((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -2, 0, 1),
                                    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, -1, 0),
                                    ((3, 2), 5, 0, 1)]:
    CASES.append(Case(np_trace, (Arg(shape), offset, axis1, axis2), (np.trace,),
                      id=f"trace{shape}-{offset}-{axis1}-{axis2}"))
CASES.append(Case(trace_method, (Arg((3, 4)),), (np.trace,)))

for left, right in [((), ()), ((), (3,)), ((2, 3), ()), (None, (3,)), ((3,), (3,)),
                    ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 4, 3), (3,)),
                    ((3,), (2, 3, 4)), ((2, 4, 3), (3, 2)), ((2, 3), (4, 3, 2)),
                    ((2, 2, 3), (2, 3, 4))]:
    CASES.append(Case(np_dot, (Arg(left), Arg(right)), (np.dot,), id=f"dot{left}-{right}"))
CASES.append(Case(dot_method, (Arg((2, 3)), Arg((3, 4))), (np.dot,)))
# One operand inactive: forward mode gives it the tangent 0.0, which must not change shapes.
for position in (0, 1):
    for product, left, right in [(np_dot, (2, 3), (3,)), (np_dot, (2, 2, 3), (2, 3, 4)),
                                 (np_dot, (), (3,)), (np_inner, (2, 3), (4, 3)),
                                 (np_outer, (2,), (3,))]:
        CASES.append(Case(product, (Arg(left), Arg(right)), (product_keys[product],),
                          wrt=(position,),
                          id=f"{product.__name__}{left}-{right}-wrt{position}"))

for left, right in [((3,), (4,)), ((2, 3), (4,)), ((), (3,)), ((3,), (2, 2))]:
    CASES.append(Case(np_outer, (Arg(left), Arg(right)), (np.outer,), id=f"outer{left}-{right}"))

for left, right in [((), ()), ((3,), ()), (None, (2, 3)), ((3,), (3,)), ((2, 3), (3,)),
                    ((3,), (4, 3)), ((2, 3), (4, 3)), ((2, 4, 3), (5, 3))]:
    CASES.append(Case(np_inner, (Arg(left), Arg(right)), (np.inner,), id=f"inner{left}-{right}"))

for subscripts, shape in [("ij->ji", (3, 4)), ("ii->i", (3, 3)), ("ii->", (3, 3)),
                          ("ij->i", (3, 4)), ("ij->", (3, 4)), ("ijk->kij", (2, 3, 4)),
                          ("iij->ij", (3, 3, 2)), ("iii->i", (3, 3, 3)), ("ij", (3, 4)),
                          ("ji", (3, 4)), ("ii", (3, 3)), ("i->", (4,)),
                          ("...ii->...i", (2, 3, 3)), ("i...->...", (3, 2, 4)),
                          ("...i", (2, 3)), ("...", (2, 3))]:
    CASES.append(Case(einsum1, (subscripts, Arg(shape)), (np.einsum,),
                      id=f"einsum-{subscripts}"))
for subscripts, left, right in [
        ("ij,jk->ik", (2, 3), (3, 4)), ("ij,j->i", (2, 3), (3,)), ("i,i->", (3,), (3,)),
        ("i,j->ij", (3,), (4,)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
        ("ij,ij->ij", (3, 1), (3, 4)), ("ii,i->i", (3, 3), (3,)), ("ij,kl->ik", (2, 3), (4, 2)),
        ("ij,jk", (2, 3), (3, 4)), (",i->i", (), (3,)), ("ij,jk->", (2, 3), (3, 4)),
        ("i j , j k -> k i", (2, 3), (3, 4)), ("...j,jk->...k", (2, 3), (3, 4)),
        ("...j,kj->...k", (3,), (4, 3)), ("...j,jk", (5, 2, 3), (3, 4)),
        ("i...,i...->...", (3, 2, 4), (3, 1, 4)), ("...ij,...jk->...ik", (2, 3, 4), (4, 5)),
        ("...,...", (2, 3), (3,)), ("...i,...i->...", (1, 3), (4, 3))]:
    CASES.append(Case(einsum2, (subscripts, Arg(left), Arg(right)), (np.einsum,),
                      id=f"einsum-{subscripts.replace(' ', '')}"))
CASES += [
    Case(einsum3, ("ij,jk,kl->il", Arg((2, 3)), Arg((3, 4)), Arg((4, 2))), (np.einsum,),
         id="einsum-ij,jk,kl->il"),
    Case(einsum3, ("i,ij,j->", Arg((3,)), Arg((3, 4)), Arg((4,))), (np.einsum,),
         id="einsum-i,ij,j->"),
    Case(einsum3, ("ij,jk,kl->il", Arg((2, 3)), Arg((3, 4)), Arg((4, 2))), (np.einsum,),
         wrt=(2,), id="einsum-three-wrt-last"),
    Case(einsum_optimized, (Arg((2, 3)), Arg((3, 4)), Arg((4, 2))), (np.einsum,)),
    Case(einsum_constant_operand, (Arg((3, 4)),), (np.einsum,)),
]
