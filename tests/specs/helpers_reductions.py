"""Spec rows for the rules of the reduction helpers (see specs/helpers.py)."""

import srcgrad.runtime as rt
from srcgrad.runtime import reduction_helpers as rh

from rulespec import Arg, Case
from specs.helpers import REDUCED

INF = float("inf")

# ---------------------------------------------------------------- reductions


def unmean(g, a, axis, keepdims):
    xp = rt.namespace(g=g, a=a)
    return xp.unmean(g, a, axis, keepdims)


def uncumsum(g, a, axis):
    xp = rt.namespace(g=g, a=a)
    return xp.uncumsum(g, a, axis)


def untrace(g, a, offset, axis1, axis2):
    xp = rt.namespace(g=g, a=a)
    return xp.untrace(g, a, offset, axis1, axis2)


def undiagonal(g, a, offset, axis1, axis2):
    xp = rt.namespace(g=g, a=a)
    return xp.undiagonal(g, a, offset, axis1, axis2)


def undiag(g, v, k):
    xp = rt.namespace(g=g, v=v)
    return xp.undiag(g, v, k)


def prod_partials(a, axis):
    xp = rt.namespace(a=a)
    return xp.prod_partials(a, axis)


def prod_partials_with_zeros(a, pattern):
    """`pattern` zeroes whole columns, so each slice holds a fixed number of zeros."""
    xp = rt.namespace(a=a)
    return xp.prod_partials(a * xp.asarray(pattern), 1)


def extremum_partials_is_flat(a):
    xp = rt.namespace(a=a)
    y = xp.max(a, axis=1)
    return xp.extremum_partials(a, y, 1, False) * a * a


def var_partials(a, axis, ddof):
    xp = rt.namespace(a=a)
    return xp.var_partials(a, axis, ddof)


def std_partials(a, y, axis, ddof, keepdims):
    xp = rt.namespace(a=a, y=y)
    return xp.std_partials(a, y, axis, ddof, keepdims)


def std_partials_of_std(a):
    xp = rt.namespace(a=a)
    y = xp.std(a, axis=1, ddof=1)
    return xp.std_partials(a, y, 1, 1, False)


def norm_partials(x, y, ord, axis, keepdims):
    xp = rt.namespace(x=x, y=y)
    return xp.norm_partials(x, y, ord, axis, keepdims)


def norm_partials_of_norm(x):
    xp = rt.namespace(x=x)
    y = xp.linalg_norm(x)
    return xp.norm_partials(x, y)


def prod_second_partials(a, v, axis):
    xp = rt.namespace(a=a, v=v)
    return xp.prod_second_partials(a, v, axis)


def prod_second_partials_with_zeros(a, v, pattern):
    xp = rt.namespace(a=a, v=v)
    return xp.prod_second_partials(a * xp.asarray(pattern), v, 1)


def std_partials_dy(a, y, axis, ddof, keepdims):
    xp = rt.namespace(a=a, y=y)
    return xp.std_partials_dy(a, y, axis, ddof, keepdims)


def std_partials_derivative(a, y, axis, ddof, keepdims, ny):
    xp = rt.namespace(a=a, y=y)
    return xp.std_partials_derivative(a, y, axis, ddof, keepdims, ny)


def norm_partials_dx(x, y, ord, axis, keepdims):
    xp = rt.namespace(x=x, y=y)
    return xp.norm_partials_dx(x, y, ord, axis, keepdims)


def norm_partials_dy(x, y, ord, axis, keepdims):
    xp = rt.namespace(x=x, y=y)
    return xp.norm_partials_dy(x, y, ord, axis, keepdims)


def norm_partials_derivative(x, y, ord, axis, keepdims, nx, ny):
    xp = rt.namespace(x=x, y=y)
    return xp.norm_partials_derivative(x, y, ord, axis, keepdims, nx, ny)


# ---------------------------------------------------------------- the table

CASES = []
for g_shape, x_shape, axis, keepdims in REDUCED:
    CASES.append(Case(unmean, (Arg(g_shape), Arg(x_shape), axis, keepdims), (rh.unmean,),
                      id=f"unmean{x_shape}-{axis}-{keepdims}", wrt=(0,)))

# Spreading reductions' cotangents back.
CASES += [
    Case(uncumsum, (Arg((3, 4)), Arg((3, 4)), 1), (rh.uncumsum,), id="uncumsum-1", wrt=(0,)),
    Case(uncumsum, (Arg((12,)), Arg((3, 4)), None), (rh.uncumsum,), id="uncumsum-None",
         wrt=(0,)),
    Case(untrace, (Arg(()), Arg((3, 4)), 1, 0, 1), (rh.untrace,), id="untrace-offset",
         wrt=(0,)),
    Case(untrace, (Arg((2,)), Arg((2, 3, 3)), 0, 1, 2), (rh.untrace,), id="untrace-batch",
         wrt=(0,)),
    Case(undiagonal, (Arg((3,)), Arg((3, 4)), 0, 0, 1), (rh.undiagonal,),
         id="undiagonal-matrix", wrt=(0,)),
    Case(undiagonal, (Arg((2, 2)), Arg((2, 3, 3)), -1, 1, 2), (rh.undiagonal,),
         id="undiagonal-batch", wrt=(0,)),
    Case(undiag, (Arg((4, 4)), Arg((3,)), 1), (rh.undiag,), id="undiag-vector", wrt=(0,)),
    Case(undiag, (Arg((3,)), Arg((3, 4)), 0), (rh.undiag,), id="undiag-matrix", wrt=(0,)),
]

# Local derivatives of reductions.
THIRD_ORDER = "its adjoint uses a helper with no rule (third derivative)"
CASES += [
    Case(prod_partials, (Arg((3, 4), 0.5, 2.0), 1), (rh.prod_partials,), id="prod_partials-1",
         ),
    Case(prod_partials, (Arg((2, 3), -2.0, -0.5), None), (rh.prod_partials,),
         id="prod_partials-None", ),
    Case(prod_partials_with_zeros, (Arg((3, 4)), [1.0, 0.0, 1.0, 1.0]), (rh.prod_partials,),
         id="prod_partials-one-zero", ),
    Case(prod_partials_with_zeros, (Arg((3, 4)), [0.0, 1.0, 1.0, 0.0]), (rh.prod_partials,),
         id="prod_partials-two-zeros", ),
    Case(prod_partials_with_zeros, (Arg((3, 4)), [0.0, 0.0, 1.0, 0.0]), (rh.prod_partials,),
         id="prod_partials-three-zeros", ),
    Case(extremum_partials_is_flat, (Arg((3, 4), distinct=True),), (rh.extremum_partials,)),
    Case(var_partials, (Arg((3, 4)), 1, 0), (rh.var_partials,), id="var_partials-1"),
    Case(var_partials, (Arg((3, 4)), None, 1), (rh.var_partials,), id="var_partials-None"),
    Case(std_partials, (Arg((3, 4)), Arg((3,), 0.5, 2.0), 1, 0, False), (rh.std_partials,),
         id="std_partials-1", ),
    Case(std_partials, (Arg((3, 4)), Arg((3, 1), 0.5, 2.0), -1, 1, True), (rh.std_partials,),
         id="std_partials-keepdims", ),
    Case(std_partials, (Arg((3, 4)), Arg((), 0.5, 2.0), None, 0, False), (rh.std_partials,),
         id="std_partials-None", ),
    Case(std_partials_of_std, (Arg((3, 4)),), (rh.std_partials,), order2=False,
         notes=THIRD_ORDER),
    Case(norm_partials_of_norm, (Arg((4,)),), (rh.norm_partials,)),
]
for x_shape, y_shape, ord, axis, keepdims in [
        ((4,), (), None, None, False), ((3, 4), (3,), 2, 1, False),
        ((3, 4), (1, 4), 3, 0, True), ((3, 4), (3,), 0.5, -1, False),
        ((3, 4), (), "fro", None, False), ((3, 4), (3,), 1, 1, False),
        ((3, 4), (4,), INF, 0, False), ((3, 4), (), 1, None, False)]:
    CASES.append(Case(norm_partials, (Arg(x_shape, avoid=0.2), Arg(y_shape, 0.5, 2.0), ord,
                                      axis, keepdims),
                      (rh.norm_partials,), id=f"norm_partials-{ord}-{axis}"))

# Derivatives of the local derivatives (third and higher derivatives of the reductions).
CASES += [
    Case(prod_second_partials, (Arg((3, 4), 0.5, 2.0), Arg((3, 4)), 1),
         (rh.prod_second_partials,), id="prod_second_partials-1"),
    Case(prod_second_partials, (Arg((2, 3), -2.0, -0.5), Arg((2, 3)), None),
         (rh.prod_second_partials,), id="prod_second_partials-None"),
    Case(prod_second_partials, (Arg((2, 3, 2), 0.5, 2.0), Arg((2, 3, 2)), (0, 2)),
         (rh.prod_second_partials,), id="prod_second_partials-axes"),
    Case(prod_second_partials, (Arg((3, 4), 0.5, 2.0), Arg((3, 4)), 1),
         (rh.prod_second_partials,), id="prod_second_partials-v-only", wrt=(1,)),
]
for zeros, pattern in [("one", [1.0, 0.0, 1.0, 1.0]), ("two", [0.0, 1.0, 1.0, 0.0]),
                       ("three", [0.0, 0.0, 1.0, 0.0]), ("four", [0.0, 0.0, 0.0, 0.0])]:
    CASES.append(Case(prod_second_partials_with_zeros, (Arg((3, 4)), Arg((3, 4)), pattern),
                      (rh.prod_second_partials,), id=f"prod_second_partials-{zeros}-zero"))
for tag, y_shape, axis, ddof, keepdims in [("1", (3,), 1, 0, False), ("keepdims", (3, 1), -1, 1, True),
                                         ("None", (), None, 0, False)]:
    args = (Arg((3, 4)), Arg(y_shape, 0.5, 2.0), axis, ddof, keepdims)
    CASES.append(Case(std_partials_dy, args, (rh.std_partials_dy,), id=f"std_partials_dy-{tag}"))
    for ny in (0, 2, 3):
        CASES.append(Case(std_partials_derivative, args + (ny,), (rh.std_partials_derivative,),
                          id=f"std_partials_derivative-{tag}-{ny}"))
for x_shape, y_shape, ord, axis, keepdims in [
        ((4,), (), None, None, False), ((3, 4), (3,), 2, 1, False),
        ((3, 4), (1, 4), 3, 0, True), ((3, 4), (3,), 0.5, -1, False),
        ((3, 4), (3,), 4, 1, False),
        ((3, 4), (), "fro", None, False), ((3, 4), (3,), 1, 1, False),
        ((3, 4), (4,), INF, 0, False)]:
    args = (Arg(x_shape, avoid=0.2), Arg(y_shape, 0.5, 2.0), ord, axis, keepdims)
    tag = f"{ord}-{axis}"
    CASES += [
        Case(norm_partials_dx, args, (rh.norm_partials_dx,), id=f"norm_partials_dx-{tag}"),
        Case(norm_partials_dy, args, (rh.norm_partials_dy,), id=f"norm_partials_dy-{tag}"),
        Case(norm_partials_derivative, args + (2, 1), (rh.norm_partials_derivative,),
             id=f"norm_partials_derivative-{tag}"),
    ]
