"""Shape manipulation, joining, repetition, diagonals and triangles, copies, constructors
from values (full, full_like, linspace); and the array functions whose derivative is zero
(shapes, indices, shape-only constructors, predicates).

All differentiable rules here are linear, so each adjoint is the transposed map applied to
the cotangent and each tangent is the rule's own kernel applied to the input's tangent.
Forward mode passes the literal 0.0 as the tangent of an inactive element of a sequence
argument; `dense_tangents` turns it into zeros of the element's shape before joining.
"""

import builtins

import numpy as np

from srcgrad.rules.registry import Seq, adjoint, d, method, nondifferentiable, rule, tangent, xp
from srcgrad.runtime import containers

# ---------------------------------------------------------------- reshaping


@rule(np.reshape)
def reshape(y, a, shape, order="C"):
    with adjoint:
        d[a] = xp.reshape(d[y], xp.shape(a), order=order)
    with tangent:
        d[y] = xp.reshape(d[a], shape, order=order)


@rule(np.ravel)
def ravel(y, a, order="C"):
    """Also `x.ravel()` and `x.flatten()`."""
    with adjoint:
        d[a] = xp.reshape(d[y], xp.shape(a), order=order)
    with tangent:
        d[y] = xp.ravel(d[a], order=order)


@rule(np.expand_dims)
def expand_dims(y, a, axis):
    with adjoint:
        d[a] = xp.reshape(d[y], xp.shape(a))
    with tangent:
        d[y] = xp.expand_dims(d[a], axis)


@rule(np.squeeze)
def squeeze(y, a, axis=None):
    with adjoint:
        d[a] = xp.reshape(d[y], xp.shape(a))
    with tangent:
        d[y] = xp.squeeze(d[a], axis)


@rule(np.broadcast_to)
def broadcast_to(y, array, shape):
    with adjoint:
        d[array] = xp.unbroadcast(d[y], array)
    with tangent:
        d[y] = xp.broadcast_to(d[array], shape)


# ---------------------------------------------------------------- permuting axes


@rule(np.transpose)
def transpose(y, a, axes=None):
    """Also `x.T`, `x.transpose()`, `x.transpose(1, 0)` and `x.transpose((1, 0))`."""
    with adjoint:
        d[a] = xp.untranspose(d[y], axes)
    with tangent:
        d[y] = xp.transpose(d[a], axes)


@rule(np.swapaxes)
def swapaxes(y, a, axis1, axis2):
    with adjoint:
        d[a] = xp.swapaxes(d[y], axis1, axis2)
    with tangent:
        d[y] = xp.swapaxes(d[a], axis1, axis2)


@rule(np.moveaxis)
def moveaxis(y, a, source, destination):
    with adjoint:
        d[a] = xp.moveaxis(d[y], destination, source)
    with tangent:
        d[y] = xp.moveaxis(d[a], source, destination)


@rule(np.flip)
def flip(y, m, axis=None):
    with adjoint:
        d[m] = xp.flip(d[y], axis)
    with tangent:
        d[y] = xp.flip(d[m], axis)


# ---------------------------------------------------------------- joining


@rule(np.concatenate)
def concatenate(y, arrays: Seq, axis=0):
    """With axis=None the arrays are flattened first."""
    with adjoint:
        d[arrays] = xp.unconcatenate(d[y], arrays, axis)
    with tangent:
        d[y] = xp.concatenate(xp.dense_tangents(arrays, d[arrays]), axis=axis)


@rule(np.stack)
def stack(y, arrays: Seq, axis=0):
    with adjoint:
        d[arrays] = xp.stack_adjoint(d[y], arrays, axis)
    with tangent:
        d[y] = xp.stack(xp.dense_tangents(arrays, d[arrays]), axis=axis)


@rule(builtins.sum, kernel="sum_of")
def sum_of(y, iterable: Seq, start=0):
    """Python's builtin `sum(items)` of a list or tuple of arrays or numbers (not a
    generator), from `start`."""
    with adjoint:
        d[iterable] = xp.unsum_of(d[y], iterable)
        d[start] = xp.unbroadcast(d[y], start)
    with tangent:
        d[y] = xp.sum_of(xp.dense_tangents(iterable, d[iterable]), d[start])


@rule(np.hstack)
def hstack(y, tup: Seq):
    """1-D inputs are joined end to end, others along axis 1."""
    with adjoint:
        d[tup] = xp.unhstack(d[y], tup)
    with tangent:
        d[y] = xp.hstack(xp.dense_tangents(tup, d[tup]))


@rule(np.vstack)
def vstack(y, tup: Seq):
    """1-D inputs become rows."""
    with adjoint:
        d[tup] = xp.unvstack(d[y], tup)
    with tangent:
        d[y] = xp.vstack(xp.dense_tangents(tup, d[tup]))


# ---------------------------------------------------------------- repetition


@rule(np.tile)
def tile(y, A, reps):
    with adjoint:
        d[A] = xp.untile(d[y], A, reps)
    with tangent:
        d[y] = xp.tile(d[A], reps)


@rule(np.repeat)
def repeat(y, a, repeats, axis=None):
    """`repeats` is an int or one count per element; axis=None repeats `a` flattened."""
    with adjoint:
        d[a] = xp.unrepeat(d[y], a, repeats, axis)
    with tangent:
        d[y] = xp.repeat(d[a], repeats, axis)


# ---------------------------------------------------------------- diagonals and triangles


@rule(np.diag)
def diag(y, v, k=0):
    """A vector becomes a matrix with it on the k-th diagonal; a matrix gives its k-th
    diagonal."""
    with adjoint:
        d[v] = xp.undiag(d[y], v, k)
    with tangent:
        d[y] = xp.diag(d[v], k)


@rule(np.diagonal)
def diagonal(y, a, offset=0, axis1=0, axis2=1):
    with adjoint:
        d[a] = xp.undiagonal(d[y], a, offset, axis1, axis2)
    with tangent:
        d[y] = xp.diagonal(d[a], offset, axis1, axis2)


@rule(np.triu)
def triu(y, m, k=0):
    """A 1-D `m` is broadcast to a square matrix first, hence the unbroadcast."""
    with adjoint:
        d[m] = xp.unbroadcast(xp.triu(d[y], k), m)
    with tangent:
        d[y] = xp.triu(d[m], k)


@rule(np.tril)
def tril(y, m, k=0):
    with adjoint:
        d[m] = xp.unbroadcast(xp.tril(d[y], k), m)
    with tangent:
        d[y] = xp.tril(d[m], k)


# ---------------------------------------------------------------- copies and conversions


@rule(np.copy)
def copy(y, a, order="K"):
    with adjoint:
        d[a] = d[y]
    with tangent:
        d[y] = d[a]


@rule(np.asarray)
def asarray(y, a, dtype=None, order=None):
    with adjoint:
        d[a] = d[y]
    with tangent:
        d[y] = d[a]


@rule(np.array)
def array(y, object, dtype=None):
    """Only the conversion of one array-like value; `np.array([a, b])` of active arrays is
    not a stack (use np.stack)."""
    with adjoint:
        d[object] = d[y]
    with tangent:
        d[y] = d[object]


# ---------------------------------------------------------------- constructors from values
# Their shape arguments are integers, but the values may carry a derivative:
# np.full(3, a) is `a` broadcast, np.linspace(a, b) is affine in both ends.


@rule(np.full)
def full(y, shape, fill_value, dtype=None, order="C"):
    with adjoint:
        d[fill_value] = xp.unbroadcast(d[y], fill_value)
    with tangent:
        d[y] = xp.broadcast_like(d[fill_value], y)


@rule(np.full_like)
def full_like(y, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    """Only `fill_value` carries a derivative; `a` gives the shape."""
    with adjoint:
        d[fill_value] = xp.unbroadcast(d[y], fill_value)
    with tangent:
        d[y] = xp.broadcast_like(d[fill_value], y)


@rule(np.linspace)
def linspace(y, start, stop, num=50, endpoint=True, *, dtype=None, axis=0):
    """`retstep` is not supported (the result would be a tuple)."""
    with adjoint:
        d[start] = xp.linspace_adjoint_start(d[y], start, stop, num, endpoint, axis)
        d[stop] = xp.linspace_adjoint_stop(d[y], start, stop, num, endpoint, axis)
    with tangent:
        d[y] = xp.linspace_tangent(y, d[start], d[stop], num, endpoint, axis)


# ---------------------------------------------------------------- zero derivative

nondifferentiable(
    np.shape, np.size, np.ndim,
    np.argmax, np.argmin, np.argsort, np.count_nonzero, np.nonzero, np.any, np.all,
    np.zeros, np.ones, np.zeros_like, np.ones_like, np.empty, np.empty_like, np.arange,
    np.eye, np.identity,
)
nondifferentiable(len, kernel=None)

# ---------------------------------------------------------------- array methods

method("reshape", np.reshape)
method("transpose", np.transpose)
method("swapaxes", np.swapaxes)
method("squeeze", np.squeeze)
method("ravel", np.ravel)
method("flatten", np.ravel)
method("repeat", np.repeat)
method("diagonal", np.diagonal)
method("copy", containers.copy_of)  # (also a list's or dict's, which stay one)
method("keys", containers.keys)  # a dict's, as a list
method("argmax", np.argmax)
method("argmin", np.argmin)
method("any", np.any)
method("all", np.all)
