"""Reductions, products and contractions: sum, mean, prod, max/min, var/std, cumsum,
linalg.norm, trace, dot, outer, inner, einsum.

Parameters follow NumPy's signatures; where NumPy puts an unsupported parameter (`out`)
before a supported one, the supported one is keyword-only here, so a positional `out` is
rejected instead of binding to the wrong name. Reductions share one shape: the adjoint
spreads the cotangent back over the input (`unreduce`) and multiplies by the local
derivative (`*_partials`, shaped like the input); the tangent sums the local derivative
times the input's tangent over the same axes.

Conventions where the derivative is not unique (see the helpers for details):
max/min ties share the cotangent equally among the tied elements of each reduced slice;
prod is exact with zeros in the input; std and linalg.norm have derivative 0 where their
value is 0 (a constant slice, the zero vector).

The tangents of dot, inner, outer and einsum go through helpers that leave out an inactive
operand's tangent (forward mode passes the literal 0.0): `dot(0.0, b)` would be a zero of
the wrong shape.
"""

import numpy as np

from srcgrad.rules.registry import adjoint, d, method, rule, tangent, xp

# ---------------------------------------------------------------- sums and averages


@rule(np.sum)
def sum(y, a, axis=None, dtype=None, *, keepdims=False):
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims)
    with tangent:
        d[y] = xp.sum(d[a], axis=axis, dtype=dtype, keepdims=keepdims)


@rule(np.mean)
def mean(y, a, axis=None, dtype=None, *, keepdims=False):
    with adjoint:
        d[a] = xp.unmean(d[y], a, axis, keepdims)
    with tangent:
        d[y] = xp.mean(d[a], axis=axis, dtype=dtype, keepdims=keepdims)


@rule(np.cumsum)
def cumsum(y, a, axis=None, dtype=None):
    """With axis=None the cumulative sum runs over `a` flattened."""
    with adjoint:
        d[a] = xp.uncumsum(d[y], a, axis)
    with tangent:
        d[y] = xp.cumsum(d[a], axis=axis, dtype=dtype)


# ---------------------------------------------------------------- products and extrema


@rule(np.prod)
def prod(y, a, axis=None, dtype=None, *, keepdims=False):
    """Exact with zeros: grad of prod([2., 0., 3.]) is [0, 6, 0]; with two zeros, all 0."""
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims) * xp.prod_partials(a, axis)
    with tangent:
        d[y] = xp.sum(xp.prod_partials(a, axis) * d[a], axis=axis, keepdims=keepdims)


@rule(np.max, aliases=(np.amax,))
def max(y, a, axis=None, *, keepdims=False):
    """Ties share the cotangent equally: grad of max([1., 3., 3.]) is [0, .5, .5]."""
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims) * xp.extremum_partials(a, y, axis, keepdims)
    with tangent:
        d[y] = xp.sum(xp.extremum_partials(a, y, axis, keepdims) * d[a], axis=axis,
                      keepdims=keepdims)


@rule(np.min, aliases=(np.amin,))
def min(y, a, axis=None, *, keepdims=False):
    """Ties share the cotangent equally, as for max."""
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims) * xp.extremum_partials(a, y, axis, keepdims)
    with tangent:
        d[y] = xp.sum(xp.extremum_partials(a, y, axis, keepdims) * d[a], axis=axis,
                      keepdims=keepdims)


# ---------------------------------------------------------------- spread


@rule(np.var)
def var(y, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims) * xp.var_partials(a, axis, ddof)
    with tangent:
        d[y] = xp.sum(xp.var_partials(a, axis, ddof) * d[a], axis=axis, keepdims=keepdims)


@rule(np.std)
def std(y, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    """Where a slice is constant (y == 0) the derivative is 0."""
    with adjoint:
        d[a] = xp.unreduce(d[y], a, axis, keepdims) * xp.std_partials(a, y, axis, ddof, keepdims)
    with tangent:
        d[y] = xp.sum(xp.std_partials(a, y, axis, ddof, keepdims) * d[a], axis=axis,
                      keepdims=keepdims)


@rule(np.linalg.norm, kernel="linalg_norm")
def norm(y, x, ord=None, axis=None, keepdims=False):
    """Vector norms of any order; matrix None/'fro'/1/-1/inf/-inf. At the zero vector the
    gradient is 0."""
    with adjoint:
        d[x] = xp.unreduce(d[y], x, axis, keepdims) * xp.norm_partials(x, y, ord, axis, keepdims)
    with tangent:
        d[y] = xp.sum(xp.norm_partials(x, y, ord, axis, keepdims) * d[x], axis=axis,
                      keepdims=keepdims)


# ---------------------------------------------------------------- contractions


@rule(np.trace)
def trace(y, a, offset=0, axis1=0, axis2=1, dtype=None):
    with adjoint:
        d[a] = xp.untrace(d[y], a, offset, axis1, axis2)
    with tangent:
        d[y] = xp.trace(d[a], offset=offset, axis1=axis1, axis2=axis2, dtype=dtype)


@rule(np.dot)
def dot(y, a, b):
    """Every rank combination NumPy accepts (scalar, 1-D, 2-D, N-D . 1-D, N-D . M-D)."""
    with adjoint:
        d[a] = xp.dot_adjoint_a(d[y], a, b)
        d[b] = xp.dot_adjoint_b(d[y], a, b)
    with tangent:
        d[y] = xp.dot_tangent(a, b, d[a], d[b])


@rule(np.outer)
def outer(y, a, b):
    """Inputs of any shape are flattened, as NumPy does."""
    with adjoint:
        d[a] = xp.reshape(xp.matmul(d[y], xp.ravel(b)), xp.shape(a))
        d[b] = xp.reshape(xp.matmul(xp.ravel(a), d[y]), xp.shape(b))
    with tangent:
        d[y] = xp.outer_tangent(a, b, d[a], d[b])


@rule(np.inner)
def inner(y, a, b):
    with adjoint:
        d[a] = xp.inner_adjoint_a(d[y], a, b)
        d[b] = xp.inner_adjoint_b(d[y], a, b)
    with tangent:
        d[y] = xp.inner_tangent(a, b, d[a], d[b])


@rule(np.einsum)
def einsum(y, subscripts, *operands, optimize=False):
    """Subscripts as a string, explicit (`->`) or implicit, any number of operands, repeated
    labels within an operand and labels summed out of a single operand; no ellipsis."""
    with adjoint:
        d[operands] = xp.einsum_adjoint(d[y], subscripts, operands, optimize)
    with tangent:
        d[y] = xp.einsum_tangent(y, subscripts, operands, d[operands], optimize)


# ---------------------------------------------------------------- array methods

method("sum", np.sum)
method("mean", np.mean)
method("prod", np.prod)
method("max", np.max)
method("min", np.min)
method("var", np.var)
method("std", np.std)
method("cumsum", np.cumsum)
method("trace", np.trace)
method("dot", np.dot)
