"""Rules for the reduction helpers (see `helpers` for what these rules are for).

The `un<op>` helpers are linear in the cotangent they spread, and their transposes are
the reductions themselves. The `<op>_partials` helpers are local derivatives: their
derivatives are second derivatives of the reduction, with the same conventions (ties,
zeros, the zero vector) as the partials.
"""

from srcgrad.rules.registry import adjoint, d, nondifferentiable, rule, tangent, xp
from srcgrad.runtime import reduction_helpers as rh

# ---------------------------------------------------------------- spreading cotangents


@rule(rh.unmean, kernel="unmean")
def unmean(out, g, a, axis=None, keepdims=False):
    """g spread over a's shape and divided by the count: its transpose is the mean."""
    with adjoint:
        d[g] = xp.unbroadcast(xp.mean(d[out], axis=axis, keepdims=keepdims), g)
    with tangent:
        d[out] = xp.unmean(d[g], a, axis, keepdims)


@rule(rh.uncumsum, kernel="uncumsum")
def uncumsum(out, g, a, axis=None):
    """The reversed cumulative sum of g: its transpose is the cumulative sum (with
    axis=None, of the flattened cotangent)."""
    with adjoint:
        d[g] = xp.cumsum(d[out], axis=axis)
    with tangent:
        d[out] = xp.uncumsum(d[g], a, axis)


@rule(rh.untrace, kernel="untrace")
def untrace(out, g, a, offset=0, axis1=0, axis2=1):
    """g on every diagonal entry: its transpose is the trace."""
    with adjoint:
        d[g] = xp.trace(d[out], offset=offset, axis1=axis1, axis2=axis2)
    with tangent:
        d[out] = xp.untrace(d[g], a, offset, axis1, axis2)


@rule(rh.undiagonal, kernel="undiagonal")
def undiagonal(out, g, a, offset=0, axis1=0, axis2=1):
    """g put on a diagonal: its transpose takes the diagonal."""
    with adjoint:
        d[g] = xp.diagonal(d[out], offset, axis1, axis2)
    with tangent:
        d[out] = xp.undiagonal(d[g], a, offset, axis1, axis2)


@rule(rh.undiag, kernel="undiag")
def undiag(out, g, v, k=0):
    """For a vector v the k-th diagonal of g, for a matrix v g put on it: either way its
    transpose is diag(., k)."""
    with adjoint:
        d[g] = xp.diag(d[out], k)
    with tangent:
        d[out] = xp.undiag(d[g], v, k)


# ---------------------------------------------------------------- local derivatives


@rule(rh.prod_partials, kernel="prod_partials")
def prod_partials(out, a, axis=None):
    """The product of the other elements of each slice. Its derivative is the second
    derivative of prod, symmetric, so one helper serves both modes; exact with zeros."""
    with adjoint:
        d[a] = xp.prod_second_partials(a, d[out], axis)
    with tangent:
        d[out] = xp.prod_second_partials(a, d[a], axis)


# Each of the k tied extrema of a slice gets 1/k, the others 0: piecewise constant, and
# only ever multiplied into a cotangent or tangent.
nondifferentiable(rh.extremum_partials, kernel="extremum_partials")


@rule(rh.var_partials, kernel="var_partials")
def var_partials(out, a, axis=None, ddof=0):
    """2 (a - mean) / (n - ddof): linear in a and symmetric (centering is a projection)."""
    with adjoint:
        d[a] = xp.var_partials(d[out], axis, ddof)
    with tangent:
        d[out] = xp.var_partials(d[a], axis, ddof)


@rule(rh.std_partials, kernel="std_partials")
def std_partials(out, a, y, axis=None, ddof=0, keepdims=False):
    """(a - mean) / ((n - ddof) y), 0 where y == 0. With y held fixed it is linear in a and
    symmetric; `std_partials_dy` is its derivative in y, shaped like a."""
    with adjoint:
        d[a] = xp.std_partials(d[out], y, axis, ddof, keepdims)
        d[y] = xp.sum(d[out] * xp.std_partials_dy(a, y, axis, ddof, keepdims), axis=axis,
                      keepdims=keepdims)
    with tangent:
        d[out] = (xp.std_partials(d[a], y, axis, ddof, keepdims)
                  + xp.std_partials_dy(a, y, axis, ddof, keepdims)
                  * xp.unreduce(d[y], a, axis, keepdims))


@rule(rh.norm_partials, kernel="norm_partials")
def norm_partials(out, x, y, ord=None, axis=None, keepdims=False):
    """Each entry depends on its own element of x and on the norm y of its slice:
    `norm_partials_dx` and `norm_partials_dy` are those two derivatives, shaped like x
    (both 0 where the partials are piecewise constant)."""
    with adjoint:
        d[x] = d[out] * xp.norm_partials_dx(x, y, ord, axis, keepdims)
        d[y] = xp.sum(d[out] * xp.norm_partials_dy(x, y, ord, axis, keepdims), axis=axis,
                      keepdims=keepdims)
    with tangent:
        d[out] = (xp.norm_partials_dx(x, y, ord, axis, keepdims) * d[x]
                  + xp.norm_partials_dy(x, y, ord, axis, keepdims)
                  * xp.unreduce(d[y], x, axis, keepdims))


# Third and higher derivatives. `std_partials_derivative` and `norm_partials_derivative`
# take the order of the derivative as arguments, so their rules raise it by one.


@rule(rh.prod_second_partials, kernel="prod_second_partials")
def prod_second_partials(out, a, v, axis=None):
    """Linear in v and symmetric; its derivative in a is the third derivative of prod
    along v and the other direction, a jet of prod (`prod_jet_partials`, masks 1 and 2)."""
    with adjoint:
        d[v] = xp.prod_second_partials(a, d[out], axis)
        d[a] = xp.prod_jet_partials(a, (1, 2), 3, (v, d[out]), axis)
    with tangent:
        d[out] = (xp.prod_second_partials(a, d[v], axis)
                  + xp.prod_jet_partials(a, (1, 2), 3, (v, d[a]), axis))


@rule(rh.std_partials_dy, kernel="std_partials_dy")
def std_partials_dy(out, a, y, axis=None, ddof=0, keepdims=False):
    """The first y-derivative of std_partials: linear in a and symmetric."""
    with adjoint:
        d[a] = xp.std_partials_derivative(d[out], y, axis, ddof, keepdims, 1)
        d[y] = xp.sum(d[out] * xp.std_partials_derivative(a, y, axis, ddof, keepdims, 2),
                      axis=axis, keepdims=keepdims)
    with tangent:
        d[out] = (xp.std_partials_derivative(d[a], y, axis, ddof, keepdims, 1)
                  + xp.std_partials_derivative(a, y, axis, ddof, keepdims, 2)
                  * xp.unreduce(d[y], a, axis, keepdims))


@rule(rh.std_partials_derivative, kernel="std_partials_derivative")
def std_partials_derivative(out, a, y, axis=None, ddof=0, keepdims=False, ny=0):
    """Linear in a and symmetric; one more y-derivative raises ny."""
    with adjoint:
        d[a] = xp.std_partials_derivative(d[out], y, axis, ddof, keepdims, ny)
        d[y] = xp.sum(d[out] * xp.std_partials_derivative(a, y, axis, ddof, keepdims, ny + 1),
                      axis=axis, keepdims=keepdims)
    with tangent:
        d[out] = (xp.std_partials_derivative(d[a], y, axis, ddof, keepdims, ny)
                  + xp.std_partials_derivative(a, y, axis, ddof, keepdims, ny + 1)
                  * xp.unreduce(d[y], a, axis, keepdims))


@rule(rh.norm_partials_dx, kernel="norm_partials_dx")
def norm_partials_dx(out, x, y, ord=None, axis=None, keepdims=False):
    """Elementwise in x, through the norm y of its slice, as norm_partials."""
    with adjoint:
        d[x] = d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, 2, 0)
        d[y] = xp.sum(d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, 1, 1),
                      axis=axis, keepdims=keepdims)
    with tangent:
        d[out] = (xp.norm_partials_derivative(x, y, ord, axis, keepdims, 2, 0) * d[x]
                  + xp.norm_partials_derivative(x, y, ord, axis, keepdims, 1, 1)
                  * xp.unreduce(d[y], x, axis, keepdims))


@rule(rh.norm_partials_dy, kernel="norm_partials_dy")
def norm_partials_dy(out, x, y, ord=None, axis=None, keepdims=False):
    """Elementwise in x, through the norm y of its slice, as norm_partials."""
    with adjoint:
        d[x] = d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, 1, 1)
        d[y] = xp.sum(d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, 0, 2),
                      axis=axis, keepdims=keepdims)
    with tangent:
        d[out] = (xp.norm_partials_derivative(x, y, ord, axis, keepdims, 1, 1) * d[x]
                  + xp.norm_partials_derivative(x, y, ord, axis, keepdims, 0, 2)
                  * xp.unreduce(d[y], x, axis, keepdims))


@rule(rh.norm_partials_derivative, kernel="norm_partials_derivative")
def norm_partials_derivative(out, x, y, ord=None, axis=None, keepdims=False, nx=0, ny=0):
    """One more derivative in x or y raises nx or ny."""
    with adjoint:
        d[x] = d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, nx + 1, ny)
        d[y] = xp.sum(d[out] * xp.norm_partials_derivative(x, y, ord, axis, keepdims, nx,
                                                            ny + 1),
                      axis=axis, keepdims=keepdims)
    with tangent:
        d[out] = (xp.norm_partials_derivative(x, y, ord, axis, keepdims, nx + 1, ny) * d[x]
                  + xp.norm_partials_derivative(x, y, ord, axis, keepdims, nx, ny + 1)
                  * xp.unreduce(d[y], x, axis, keepdims))
