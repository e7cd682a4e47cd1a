"""Spec rows for shape manipulation, joining, repetition, diagonals, copies, indexing, and
the array functions with zero derivative."""

import builtins
import operator

import numpy as np

from rulespec import Arg, Case

# ---------------------------------------------------------------- reshaping


def reshape_tuple(x):
    return np.reshape(x, (4, 3))


def reshape_fortran(x):
    return np.reshape(x, (2, 6), order="F")


def reshape_methods(x):
    return x.reshape(2, 6) + x.reshape((-1,)).reshape(6, 2, order="F").reshape(-1).reshape(2, 6)


def reshape_keyword(x):
    return np.reshape(x, shape=(3, 1, 4))


def np_ravel(x, order):
    return np.ravel(x, order=order)


def ravel_methods(x):
    return x.ravel() * x.flatten() + x.flatten(order="F")


def np_expand_dims(x, axis):
    return np.expand_dims(x, axis)


def np_squeeze(x, axis):
    return np.squeeze(x, axis=axis)


def squeeze_method(x):
    return x.squeeze() + x.squeeze(0).squeeze(-2)


def np_broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


# ---------------------------------------------------------------- permuting axes


def np_transpose(x, axes):
    return np.transpose(x, axes)


def transpose_default(x):
    return np.transpose(x)


def transpose_property(x):
    return x.T * 2.0


def transpose_methods(x):
    return x.transpose(2, 0, 1) + x.transpose((2, 0, 1)) + x.transpose().transpose(0, 2, 1)


def transpose_list_axes(x):
    return np.transpose(x, [1, 0])


def np_swapaxes(x, axis1, axis2):
    return np.swapaxes(x, axis1, axis2)


def swapaxes_method(x):
    return x.swapaxes(-1, 0)


def np_moveaxis(x, source, destination):
    return np.moveaxis(x, source, destination)


def np_flip(x, axis):
    return np.flip(x, axis)


def flip_default(x):
    return np.flip(x) * np.flip(x, -1)


# ---------------------------------------------------------------- joining


def concatenate2(a, b, axis):
    return np.concatenate([a, b], axis=axis)


def concatenate3(a, b, c):
    return np.concatenate((a, b, c), 1)


def concatenate_default(a, b):
    return np.concatenate([a, b * 2.0, a])


def concatenate_with_constant(a):
    return np.concatenate([a, np.ones((2, 3))], axis=0)


def builtin_sum(a, b):
    return sum([a, b * 2.0, a])


def builtin_sum_from(a, b):
    return sum((np.sin(a), b), a * 3.0)


def stack2(a, b, axis):
    return np.stack([a, b], axis=axis)


def stack3(a, b, c):
    return np.stack((a, b, c))


def joins_with_constants(a):
    return (np.stack([a, np.ones(3)], axis=1) + np.hstack([np.zeros((3, 1)), a[:, None]])
            + np.vstack([a, np.ones(3)]).T)


def hstack2(a, b):
    return np.hstack([a, b])


def hstack3(a, b, c):
    return np.hstack((a, b, c))


def vstack2(a, b):
    return np.vstack([a, b])


def vstack3(a, b, c):
    return np.vstack((a, b, c))


# ---------------------------------------------------------------- repetition


def np_tile(x, reps):
    return np.tile(x, reps)


def np_repeat(x, repeats, axis):
    return np.repeat(x, repeats, axis=axis)


def repeat_per_element(x):
    return np.repeat(x, [1, 0, 3], axis=1)


def repeat_per_element_flat(x):
    return np.repeat(x, [2, 1, 0, 1, 3, 1])


def repeat_broadcast_count(x):
    return np.repeat(x, [2], axis=0)


def repeat_method(x):
    return x.repeat(2) * x.repeat(3, axis=0).sum()


# ---------------------------------------------------------------- diagonals and triangles


def np_diag(x, k):
    return np.diag(x, k)


def diag_default(x):
    return np.diag(x)


def np_diagonal(x, offset, axis1, axis2):
    return np.diagonal(x, offset, axis1, axis2)


def diagonal_method(x):
    return x.diagonal().sum() * x.diagonal(1, axis1=1, axis2=0)


def np_triu(x, k):
    return np.triu(x, k)


def np_tril(x, k):
    return np.tril(x, k)


def triangles_default(x):
    return np.triu(x) * 2.0 + np.tril(x)


# ---------------------------------------------------------------- copies and conversions


def np_copy(x):
    return np.copy(x) * x.copy()


def copy_order(x):
    return np.copy(x, order="F") + x.copy(order="C")


def conversions(x):
    return np.asarray(x) * np.array(x, dtype=np.float64) + np.asarray(x, dtype=float)


def conversion_float(x):
    return np.array(x) * 3.0


# ---------------------------------------------------------------- indexing


def repeated_index(x):
    return x[np.array([0, 0, 1])] * 3.0


def mask_index(x):
    return x[x > 0] ** 2


def new_axis_index(x):
    return x[:, None] * x[None, :]


def ellipsis_index(x):
    return x[..., 1] * 2.0


def array_then_slice_index(x):
    return x[np.array([2, 0, 2]), 1:]


def index_argument(x, index):
    return x[index] * 2.0


def mixed_index(x):
    return x[np.array([1, 1]), :, np.array([0, 3])] + x[0, None, ..., -1]


# ---------------------------------------------------------------- zero derivative


def shape_queries(x):
    return np.reshape(x, np.shape(x)) * np.size(x) + np.ndim(x) * x + len(x) * x


def arg_queries(x):
    return x[np.argmax(x)] * 2.0 + x[x.argmin()] + x[np.argmin(x)]


def arg_queries_axis(x):
    return np.sum(x * np.argmax(x, axis=0)) + np.sum(x * x.argmax(axis=1)[:, None])


def sort_by_argsort(x):
    return x[np.argsort(x)] * np.arange(4.0)


def counts_and_predicates(x):
    return x * np.count_nonzero(x > 0) + x * np.any(x > 0) + x * np.all(x > -5.0)


def predicate_methods(x):
    return x * (x > 0).any() + x * (x > 1.0).all()


def nonzero_index(x):
    return x[np.nonzero(x > 0)] * 2.0


def constructors(x):
    return x + np.zeros(3) + np.ones((3,)) * np.full(3, 2.0) * x + np.reshape(
        x, np.empty((3,)).shape)


def like_constructors(x):
    return x * np.ones_like(x) + np.zeros_like(x) + np.full_like(x, 2.0) * x + np.reshape(
        x, np.empty_like(x).shape)


def np_full(a):
    return np.full((2, 3), a)


def np_full_like(x, a):
    return np.full_like(x, a) * x


def np_linspace(a, b, num, endpoint, axis):
    return np.linspace(a, b, num, endpoint, axis=axis)


def linspace_default(a):
    return np.linspace(a, 2.0)


def ranges_and_identities(x):
    return x @ np.eye(3) + np.arange(3) * x + np.linspace(0.0, 1.0, 3) * x + np.identity(3) @ x


CASES = [
    Case(reshape_tuple, (Arg((3, 4)),), (np.reshape,)),
    Case(reshape_fortran, (Arg((3, 4)),), (np.reshape,)),
    Case(reshape_methods, (Arg((3, 4)),), (np.reshape,)),
    Case(reshape_keyword, (Arg((3, 4)),), (np.reshape,)),
    Case(np_ravel, (Arg((2, 3, 4)), "C"), (np.ravel,), id="ravel-C"),
    Case(np_ravel, (Arg((3, 4)), "F"), (np.ravel,), id="ravel-F"),
    Case(np_ravel, (Arg(None), "C"), (np.ravel,), id="ravel-float"),
    Case(ravel_methods, (Arg((3, 4)),), (np.ravel,)),
    Case(np_expand_dims, (Arg((3, 4)), 1), (np.expand_dims,), id="expand_dims-1"),
    Case(np_expand_dims, (Arg((3, 4)), (0, -1)), (np.expand_dims,), id="expand_dims-tuple"),
    Case(np_expand_dims, (Arg(()), 0), (np.expand_dims,), id="expand_dims-0d"),
    Case(np_squeeze, (Arg((1, 3, 1, 4)), None), (np.squeeze,), id="squeeze-None"),
    Case(np_squeeze, (Arg((1, 3, 1, 4)), 0), (np.squeeze,), id="squeeze-0"),
    Case(np_squeeze, (Arg((1, 3, 1, 4)), (0, -2)), (np.squeeze,), id="squeeze-tuple"),
    Case(squeeze_method, (Arg((1, 3, 1, 4)),), (np.squeeze,)),
    Case(np_broadcast_to, (Arg((3,)), (2, 3)), (np.broadcast_to,), id="broadcast_to-row"),
    Case(np_broadcast_to, (Arg((3, 1)), (2, 3, 4)), (np.broadcast_to,), id="broadcast_to-3d"),
    Case(np_broadcast_to, (Arg(()), (3,)), (np.broadcast_to,), id="broadcast_to-0d"),
    Case(np_broadcast_to, (Arg(None), (2, 2)), (np.broadcast_to,), id="broadcast_to-float"),
    Case(np_transpose, (Arg((2, 3, 4)), (1, 2, 0)), (np.transpose,), id="transpose-axes"),
    Case(np_transpose, (Arg((2, 3, 4)), (-1, 0, 1)), (np.transpose,), id="transpose-negative"),
    Case(np_transpose, (Arg((2, 3, 4)), None), (np.transpose,), id="transpose-None"),
    Case(transpose_default, (Arg((3, 4)),), (np.transpose,)),
    Case(transpose_property, (Arg((2, 3, 4)),), (np.transpose,)),
    Case(transpose_methods, (Arg((2, 3, 4)),), (np.transpose,)),
    Case(transpose_list_axes, (Arg((3, 4)),), (np.transpose,)),
    Case(np_swapaxes, (Arg((2, 3, 4)), 0, 2), (np.swapaxes,), id="swapaxes-0-2"),
    Case(np_swapaxes, (Arg((2, 3, 4)), 1, 1), (np.swapaxes,), id="swapaxes-same"),
    Case(swapaxes_method, (Arg((2, 3, 4)),), (np.swapaxes,)),
    Case(np_moveaxis, (Arg((2, 3, 4)), 0, -1), (np.moveaxis,), id="moveaxis-int"),
    Case(np_moveaxis, (Arg((2, 3, 4, 5)), (0, 1), (2, 0)), (np.moveaxis,), id="moveaxis-tuple"),
    Case(np_flip, (Arg((2, 3, 4)), None), (np.flip,), id="flip-None"),
    Case(np_flip, (Arg((2, 3, 4)), 1), (np.flip,), id="flip-1"),
    Case(np_flip, (Arg((2, 3, 4)), (0, -1)), (np.flip,), id="flip-tuple"),
    Case(flip_default, (Arg((3, 4)),), (np.flip,)),
    Case(concatenate2, (Arg((2, 3)), Arg((4, 3)), 0), (np.concatenate,), id="concatenate-0"),
    Case(concatenate2, (Arg((2, 3)), Arg((2, 1)), -1), (np.concatenate,), id="concatenate-neg"),
    Case(concatenate2, (Arg((2, 3)), Arg((4,)), None), (np.concatenate,),
         id="concatenate-None"),
    Case(concatenate3, (Arg((2, 1, 2)), Arg((2, 3, 2)), Arg((2, 2, 2))), (np.concatenate,)),
    Case(concatenate_default, (Arg((2,)), Arg((3,))), (np.concatenate,)),
    Case(concatenate_with_constant, (Arg((1, 3)),), (np.concatenate,)),
    Case(concatenate2, (Arg((2, 3)), Arg((4, 3)), 0), (np.concatenate,), wrt=(1,),
         id="concatenate-wrt-second"),
    Case(stack2, (Arg((2, 3)), Arg((2, 3)), 0), (np.stack,), id="stack-0"),
    Case(stack2, (Arg((2, 3)), Arg((2, 3)), -1), (np.stack,), id="stack-neg"),
    Case(stack2, (Arg((2, 3)), Arg((2, 3)), 1), (np.stack,), id="stack-1"),
    Case(stack2, (Arg(None), Arg(None), 0), (np.stack,), id="stack-floats"),
    Case(stack3, (Arg((3,)), Arg((3,)), Arg((3,))), (np.stack,)),
    Case(stack3, (Arg((3,)), Arg((3,)), Arg((3,))), (np.stack,), wrt=(1,), id="stack-wrt-middle"),
    Case(joins_with_constants, (Arg((3,)),), (np.stack, np.hstack, np.vstack)),
    Case(hstack3, (Arg((2,)), Arg((3,)), Arg((1,))), (np.hstack,), wrt=(0, 2),
         id="hstack-wrt-outer"),
    Case(hstack2, (Arg((2,)), Arg((3,))), (np.hstack,), id="hstack-1d"),
    Case(hstack2, (Arg((2, 3)), Arg((2, 1))), (np.hstack,), id="hstack-2d"),
    Case(hstack2, (Arg((2, 3, 2)), Arg((2, 1, 2))), (np.hstack,), id="hstack-3d"),
    Case(hstack3, (Arg(()), Arg((3,)), Arg(None)), (np.hstack,), id="hstack-scalars"),
    Case(vstack2, (Arg((3,)), Arg((3,))), (np.vstack,), id="vstack-rows"),
    Case(vstack2, (Arg((2, 3)), Arg((3,))), (np.vstack,), id="vstack-mixed"),
    Case(vstack3, (Arg((2, 3, 2)), Arg((1, 3, 2)), Arg((1, 3, 2))), (np.vstack,),
         id="vstack-3d"),
    Case(vstack2, (Arg(()), Arg((1,))), (np.vstack,), id="vstack-scalars"),
    Case(builtin_sum, (Arg((3, 4)), Arg((4,))), (builtins.sum,), id="builtin-sum-broadcast"),
    Case(builtin_sum, (Arg(()), Arg(())), (builtins.sum,), id="builtin-sum-scalars"),
    Case(builtin_sum_from, (Arg((2, 3)), Arg((2, 1))), (builtins.sum,),
         id="builtin-sum-from-start"),
    Case(np_tile, (Arg((3,)), 2), (np.tile,), id="tile-int"),
    Case(np_tile, (Arg((2, 3)), (2, 1, 3)), (np.tile,), id="tile-longer-reps"),
    Case(np_tile, (Arg((2, 3, 2)), (2,)), (np.tile,), id="tile-shorter-reps"),
    Case(np_tile, (Arg((2, 3)), (2, 2)), (np.tile,), id="tile-same-rank"),
    Case(np_tile, (Arg(None), 3), (np.tile,), id="tile-float"),
    Case(np_repeat, (Arg((2, 3)), 2, None), (np.repeat,), id="repeat-int-None"),
    Case(np_repeat, (Arg((2, 3)), 3, 1), (np.repeat,), id="repeat-int-1"),
    Case(np_repeat, (Arg((2, 3, 2)), 2, -1), (np.repeat,), id="repeat-int-neg"),
    Case(np_repeat, (Arg((2, 3)), 0, 0), (np.repeat,), id="repeat-zero"),
    Case(repeat_per_element, (Arg((2, 3)),), (np.repeat,)),
    Case(repeat_per_element_flat, (Arg((2, 3)),), (np.repeat,)),
    Case(repeat_broadcast_count, (Arg((2, 3)),), (np.repeat,)),
    Case(repeat_method, (Arg((2, 3)),), (np.repeat,)),
    Case(np_diag, (Arg((3,)), 0), (np.diag,), id="diag-vector"),
    Case(np_diag, (Arg((3,)), 1), (np.diag,), id="diag-vector-above"),
    Case(np_diag, (Arg((3,)), -2), (np.diag,), id="diag-vector-below"),
    Case(np_diag, (Arg((3, 3)), 0), (np.diag,), id="diag-matrix"),
    Case(np_diag, (Arg((3, 5)), 1), (np.diag,), id="diag-wide-above"),
    Case(np_diag, (Arg((4, 2)), -1), (np.diag,), id="diag-tall-below"),
    Case(diag_default, (Arg((2, 4)),), (np.diag,)),
    Case(np_diagonal, (Arg((3, 4)), 0, 0, 1), (np.diagonal,), id="diagonal-default"),
    Case(np_diagonal, (Arg((3, 4)), -1, 1, 0), (np.diagonal,), id="diagonal-swapped"),
    Case(np_diagonal, (Arg((2, 3, 4)), 1, 0, 2), (np.diagonal,), id="diagonal-3d"),
    Case(np_diagonal, (Arg((2, 3, 4)), 0, -1, -2), (np.diagonal,), id="diagonal-negative"),
    Case(diagonal_method, (Arg((3, 3)),), (np.diagonal,)),
    Case(np_triu, (Arg((3, 4)), 0), (np.triu,), id="triu-0"),
    Case(np_triu, (Arg((3, 4)), 1), (np.triu,), id="triu-1"),
    Case(np_triu, (Arg((2, 3, 4)), -1), (np.triu,), id="triu-batched"),
    Case(np_triu, (Arg((3,)), 0), (np.triu,), id="triu-vector"),
    Case(np_tril, (Arg((3, 4)), 0), (np.tril,), id="tril-0"),
    Case(np_tril, (Arg((4, 3)), -1), (np.tril,), id="tril-neg"),
    Case(np_tril, (Arg((3,)), 1), (np.tril,), id="tril-vector"),
    Case(triangles_default, (Arg((3, 3)),), (np.triu, np.tril)),
    Case(np_copy, (Arg((3, 4)),), (np.copy,)),
    Case(copy_order, (Arg((3, 4)),), (np.copy,)),
    Case(conversions, (Arg((3, 4)),), (np.asarray, np.array)),
    Case(conversion_float, (Arg(None),), (np.array,)),
    Case(repeated_index, (Arg((3,)),), (operator.getitem,)),
    Case(repeated_index, (Arg((3, 2)),), (operator.getitem,), id="repeated_index-rows"),
    Case(mask_index, (Arg((3, 4)),), (operator.getitem,)),
    Case(new_axis_index, (Arg((3,)),), (operator.getitem,)),
    Case(ellipsis_index, (Arg((2, 3, 4)),), (operator.getitem,)),
    Case(array_then_slice_index, (Arg((3, 4)),), (operator.getitem,)),
    # Index arrays passed in are NumPy arrays, which the strict backend rightly refuses.
    Case(index_argument, (Arg((4,)), np.array([3, 3, 0, 3])), (operator.getitem,),
         id="index-argument-repeated"),
    Case(index_argument, (Arg((3, 2)), np.array([True, False, True])), (operator.getitem,),
         id="index-argument-mask"),
    Case(index_argument, (Arg((3, 4)), (np.array([0, 0, 2]), np.array([1, 1, 3]))),
         (operator.getitem,), id="index-argument-pairs"),
    Case(mixed_index, (Arg((2, 3, 4)),), (operator.getitem,)),
    Case(shape_queries, (Arg((3, 4)),), (np.shape, np.size, np.ndim, len)),
    Case(arg_queries, (Arg((5,), distinct=True),), (np.argmax, np.argmin)),
    Case(arg_queries_axis, (Arg((3, 4), distinct=True),), (np.argmax,)),
    Case(sort_by_argsort, (Arg((4,), distinct=True),), (np.argsort,)),
    Case(counts_and_predicates, (Arg((4,)),), (np.count_nonzero, np.any, np.all)),
    Case(predicate_methods, (Arg((4,)),), (np.any, np.all)),
    Case(nonzero_index, (Arg((3, 4)),), (np.nonzero,)),
    Case(constructors, (Arg((3,)),), (np.zeros, np.ones, np.full, np.empty)),
    Case(like_constructors, (Arg((3, 2)),),
         (np.zeros_like, np.ones_like, np.full_like, np.empty_like)),
    Case(ranges_and_identities, (Arg((3,)),), (np.eye, np.arange, np.linspace, np.identity)),
    Case(np_full, (Arg(None),), (np.full,), id="full-float"),
    Case(np_full, (Arg((3,)),), (np.full,), id="full-row"),
    Case(np_full_like, (Arg((2, 3)), Arg((2, 1))), (np.full_like,)),
    Case(np_full_like, (Arg((2, 3)), Arg(None)), (np.full_like,), wrt=(1,),
         id="full_like-fill-only"),
    Case(linspace_default, (Arg(None),), (np.linspace,)),
]
for start, stop, num, endpoint, axis in [(None, None, 5, True, 0), (None, None, 4, False, 0),
                                         ((3,), (3,), 4, True, 0), ((3,), None, 4, True, -1),
                                         (None, (2, 3), 3, False, 1), ((2, 1), (3,), 1, True, 0),
                                         ((3,), (3,), 1, False, -1)]:
    CASES.append(Case(np_linspace, (Arg(start), Arg(stop), num, endpoint, axis), (np.linspace,),
                      id=f"linspace{start}-{stop}-{num}-{endpoint}-{axis}"))
    CASES.append(Case(np_linspace, (Arg(start), Arg(stop), num, endpoint, axis), (np.linspace,),
                      wrt=(1,), id=f"linspace{start}-{stop}-{num}-{endpoint}-{axis}-wrt-stop",
))
