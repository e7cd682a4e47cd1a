"""Rules for the shape-manipulation, join and linspace helpers (see `helpers` for what
these rules are for).

Every helper here is linear in its cotangent or tangents, and its transpose is the
NumPy function whose adjoint it is. The joins' adjoints return one array per input (a
tuple); their own adjoint receives a container adjoint, made dense with `as_gradient`
(zeros for inputs nothing flowed back to) before joining.
"""

from srcgrad.rules.registry import Seq, adjoint, d, rule, tangent, xp
from srcgrad.runtime import array_helpers as ah

# ---------------------------------------------------------------- shapes and joins


@rule(ah.dense_tangents, kernel="dense_tangents")
def dense_tangents(out, arrays, tangents: Seq):
    """The tangents with each literal 0 made zeros of its array's shape: the identity on
    the active ones."""
    with adjoint:
        d[tangents] = xp.as_gradient(d[out], out)
    with tangent:
        d[out] = xp.dense_tangents(arrays, d[tangents])


@rule(ah.untranspose, kernel="untranspose")
def untranspose(out, g, axes=None):
    with adjoint:
        d[g] = xp.transpose(d[out], axes)
    with tangent:
        d[out] = xp.untranspose(d[g], axes)


@rule(ah.unconcatenate, kernel="unconcatenate")
def unconcatenate(out, g, arrays, axis=0):
    with adjoint:
        d[g] = xp.concatenate(xp.as_gradient(d[out], out), axis=axis)
    with tangent:
        d[out] = xp.unconcatenate(d[g], arrays, axis)


@rule(ah.stack_adjoint, kernel="stack_adjoint")
def stack_adjoint(out, g, arrays, axis=0):
    with adjoint:
        d[g] = xp.stack(xp.as_gradient(d[out], out), axis=axis)
    with tangent:
        d[out] = xp.stack_adjoint(d[g], arrays, axis)


@rule(ah.unsum_of, kernel="unsum_of")
def unsum_of(out, g, items):
    """Each item's part of g, summed down to its shape: the transpose adds the parts,
    broadcast back to g's shape."""
    with adjoint:
        d[g] = xp.broadcast_like(xp.sum_of(xp.as_gradient(d[out], out)), g)
    with tangent:
        d[out] = xp.unsum_of(d[g], items)


@rule(ah.unhstack, kernel="unhstack")
def unhstack(out, g, tup):
    with adjoint:
        d[g] = xp.hstack(xp.as_gradient(d[out], out))
    with tangent:
        d[out] = xp.unhstack(d[g], tup)


@rule(ah.unvstack, kernel="unvstack")
def unvstack(out, g, tup):
    with adjoint:
        d[g] = xp.vstack(xp.as_gradient(d[out], out))
    with tangent:
        d[out] = xp.unvstack(d[g], tup)


# ---------------------------------------------------------------- repetition


@rule(ah.untile, kernel="untile")
def untile(out, g, A, reps):
    """The sum of g's tiles: its transpose is tile."""
    with adjoint:
        d[g] = xp.tile(d[out], reps)
    with tangent:
        d[out] = xp.untile(d[g], A, reps)


@rule(ah.unrepeat, kernel="unrepeat")
def unrepeat(out, g, a, repeats, axis=None):
    """The sum of each element's copies: its transpose is repeat."""
    with adjoint:
        d[g] = xp.repeat(d[out], repeats, axis)
    with tangent:
        d[out] = xp.unrepeat(d[g], a, repeats, axis)


# ---------------------------------------------------------------- linspace
# y = start + t (stop - start): the adjoints weight g by (1 - t) or t and sum it down, the
# tangent spreads the endpoints' tangents with the same weights; each is the other's
# transpose. start and stop are read only for their shapes.


@rule(ah.linspace_adjoint_start, kernel="linspace_adjoint_start")
def linspace_adjoint_start(out, g, start, stop, num=50, endpoint=True, axis=0):
    with adjoint:
        d[g] = xp.linspace_tangent(g, d[out], 0.0, num, endpoint, axis)
    with tangent:
        d[out] = xp.linspace_adjoint_start(d[g], start, stop, num, endpoint, axis)


@rule(ah.linspace_adjoint_stop, kernel="linspace_adjoint_stop")
def linspace_adjoint_stop(out, g, start, stop, num=50, endpoint=True, axis=0):
    with adjoint:
        d[g] = xp.linspace_tangent(g, 0.0, d[out], num, endpoint, axis)
    with tangent:
        d[out] = xp.linspace_adjoint_stop(d[g], start, stop, num, endpoint, axis)


@rule(ah.linspace_tangent, kernel="linspace_tangent")
def linspace_tangent(out, y, dstart, dstop, num=50, endpoint=True, axis=0):
    with adjoint:
        d[dstart] = xp.linspace_adjoint_start(d[out], dstart, dstop, num, endpoint, axis)
        d[dstop] = xp.linspace_adjoint_stop(d[out], dstart, dstop, num, endpoint, axis)
    with tangent:
        d[out] = xp.linspace_tangent(y, d[dstart], d[dstop], num, endpoint, axis)
