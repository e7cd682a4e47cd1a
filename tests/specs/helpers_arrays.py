"""Spec rows for the rules of the shape, join and linspace helpers (see specs/helpers.py)."""

import srcgrad.runtime as rt
from srcgrad.runtime import array_helpers as ah

from rulespec import Arg, Case

# ---------------------------------------------------------------- shapes, joins, linspace


def dense_tangents(a, b, da):
    xp = rt.namespace(a=a, b=b, da=da)
    dense = xp.dense_tangents([a, b], [da, 0.0])
    return dense[0] * dense[0] + dense[1]


def untranspose(g, axes):
    xp = rt.namespace(g=g)
    return xp.untranspose(g, axes)


def unconcatenate(g, a, b, axis):
    xp = rt.namespace(g=g, a=a, b=b)
    p, q = xp.unconcatenate(g, [a, b], axis)
    return xp.sum(p * p) + xp.sum(q * 3.0)


def unconcatenate_one_used(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    p, _ = xp.unconcatenate(g, [a, b], 1)
    return p * p


def stack_adjoint(g, a, b, axis):
    xp = rt.namespace(g=g, a=a, b=b)
    p, q = xp.stack_adjoint(g, [a, b], axis)
    return p * q


def unsum_of(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    p, q = xp.unsum_of(g, [a, b])
    return p * p + q


def unhstack(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    p, q = xp.unhstack(g, [a, b])
    return xp.sum(p * p) + xp.sum(q)


def unvstack(g, a, b):
    xp = rt.namespace(g=g, a=a, b=b)
    p, q = xp.unvstack(g, [a, b])
    return xp.sum(p * p) + xp.sum(q)


def untile(g, A, reps):
    xp = rt.namespace(g=g, A=A)
    return xp.untile(g, A, reps)


def unrepeat(g, a, repeats, axis):
    xp = rt.namespace(g=g, a=a)
    return xp.unrepeat(g, a, repeats, axis)


def linspace_adjoint_start(g, start, stop, num, endpoint, axis):
    xp = rt.namespace(g=g, start=start, stop=stop)
    return xp.linspace_adjoint_start(g, start, stop, num, endpoint, axis)


def linspace_adjoint_stop(g, start, stop, num, endpoint, axis):
    xp = rt.namespace(g=g, start=start, stop=stop)
    return xp.linspace_adjoint_stop(g, start, stop, num, endpoint, axis)


def linspace_tangent(y, dstart, dstop, num, endpoint, axis):
    xp = rt.namespace(y=y, dstart=dstart, dstop=dstop)
    return xp.linspace_tangent(y, dstart, dstop, num, endpoint, axis)


def linspace_tangent_inactive(y, dstop):
    xp = rt.namespace(y=y, dstop=dstop)
    return xp.linspace_tangent(y, 0.0, dstop, 4, False, 0)


# ---------------------------------------------------------------- the table

CASES = []
# Shapes, joins and linspace.
CASES += [
    Case(dense_tangents, (Arg((3,)), Arg((3,)), Arg((3,))), (ah.dense_tangents,), wrt=(2,)),
    Case(untranspose, (Arg((2, 3, 4)), (1, 2, 0)), (ah.untranspose,), id="untranspose-axes"),
    Case(untranspose, (Arg((2, 3)), None), (ah.untranspose,), id="untranspose-None"),
    Case(unconcatenate, (Arg((2, 5)), Arg((2, 2)), Arg((2, 3)), 1), (ah.unconcatenate,),
         id="unconcatenate-1", wrt=(0,)),
    Case(unconcatenate, (Arg((10,)), Arg((2, 2)), Arg((2, 3)), None), (ah.unconcatenate,),
         id="unconcatenate-None", wrt=(0,)),
    Case(unconcatenate_one_used, (Arg((2, 5)), Arg((2, 2)), Arg((2, 3))), (ah.unconcatenate,),
         wrt=(0,)),
    Case(stack_adjoint, (Arg((2, 3)), Arg((3,)), Arg((3,)), 0), (ah.stack_adjoint,),
         id="stack_adjoint-0", wrt=(0,)),
    Case(stack_adjoint, (Arg((3, 2)), Arg((3,)), Arg((3,)), -1), (ah.stack_adjoint,),
         id="stack_adjoint-last", wrt=(0,)),
    Case(unhstack, (Arg((5,)), Arg((2,)), Arg((3,))), (ah.unhstack,), id="unhstack-1d",
         wrt=(0,)),
    Case(unsum_of, (Arg((2, 3)), Arg((3,)), Arg((2, 1))), (ah.unsum_of,), id="unsum_of",
         wrt=(0,)),
    Case(unhstack, (Arg((2, 5)), Arg((2, 2)), Arg((2, 3))), (ah.unhstack,), id="unhstack-2d",
         wrt=(0,)),
    Case(unvstack, (Arg((2, 3)), Arg((3,)), Arg((3,))), (ah.unvstack,), id="unvstack-1d",
         wrt=(0,)),
    Case(unvstack, (Arg((3, 3)), Arg((1, 3)), Arg((2, 3))), (ah.unvstack,), id="unvstack-2d",
         wrt=(0,)),
    Case(untile, (Arg((2, 6)), Arg((3,)), (2, 2)), (ah.untile,), id="untile-promoted",
         wrt=(0,)),
    Case(untile, (Arg((2, 6)), Arg((2, 3)), 2), (ah.untile,), id="untile-int", wrt=(0,)),
    Case(unrepeat, (Arg((6,)), Arg((3,)), 2, None), (ah.unrepeat,), id="unrepeat-int",
         wrt=(0,)),
    Case(unrepeat, (Arg((2, 6)), Arg((2, 3)), [1, 2, 3], 1), (ah.unrepeat,),
         id="unrepeat-counts", wrt=(0,)),
    Case(unrepeat, (Arg((8,)), Arg((2, 2)), 2, None), (ah.unrepeat,), id="unrepeat-flat",
         wrt=(0,)),
]
for g_shape, end_shape, num, endpoint, axis in [((5,), (), 5, True, 0),
                                                ((5, 3), (3,), 5, True, 0),
                                                ((3, 4), (3,), 4, False, 1),
                                                ((2, 1), (1,), 2, True, 0)]:
    tag = f"{g_shape}-{endpoint}-{axis}"
    args = (Arg(g_shape), Arg(end_shape), Arg(end_shape), num, endpoint, axis)
    CASES += [
        Case(linspace_adjoint_start, args, (ah.linspace_adjoint_start,),
             id=f"linspace_adjoint_start{tag}", wrt=(0,)),
        Case(linspace_adjoint_stop, args, (ah.linspace_adjoint_stop,),
             id=f"linspace_adjoint_stop{tag}", wrt=(0,)),
        Case(linspace_tangent, args, (ah.linspace_tangent,), id=f"linspace_tangent{tag}",
             wrt=(1, 2)),
    ]
CASES.append(Case(linspace_tangent_inactive, (Arg((4,)), Arg(())), (ah.linspace_tangent,),
                  wrt=(1,)))
