"""Derivatives assembled from the transforms of `srcgrad.api`: full Jacobians (one
vector-Jacobian or Jacobian-vector product per entry), Hessians (forward mode over the
emitted gradient) and Hessian-vector products (one forward sweep over it, the Hessian
never built)."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from srcgrad.api import grad, jvp, vjp

__all__ = ["jacobian", "hessian", "hvp", "Jacobian", "HessianVectorProduct"]


class Jacobian:
    """The full Jacobian of a function, assembled from vector-Jacobian products (one per
    output entry, mode "rev") or Jacobian-vector products (one per input entry, "fwd")."""

    def __init__(self, function, wrt=0, mode: str = "rev"):
        if mode not in ("rev", "fwd"):
            raise ValueError(f"mode must be 'rev' or 'fwd', not {mode!r}")
        self._function = function
        self._wrt = wrt
        self._mode = mode
        self._as_tuple = isinstance(wrt, (tuple, list))
        transform = vjp if mode == "rev" else jvp
        self._derivative = transform(function, wrt=tuple(wrt) if self._as_tuple else (wrt,))
        functools.update_wrapper(self, function, updated=())

    def __call__(self, *args, **kwargs):
        derivative = self._derivative
        if derivative._call is None:
            derivative._compile()
        names = derivative._compiled.wrt
        extra = derivative.extra_parameters  # (passed by name: after defaults, keyword-only)
        bound = inspect.signature(self._function).bind(*args, **kwargs)
        bound.apply_defaults()
        inputs = [np.asarray(bound.arguments[n], dtype=float) for n in names]
        output = np.asarray(self._function(*args, **kwargs))
        blocks = [np.zeros(output.shape + x.shape) for x in inputs]
        if self._mode == "rev":
            for index in np.ndindex(output.shape):
                cotangent = np.zeros(output.shape)
                cotangent[index] = 1.0
                rows = derivative(*args, **kwargs,
                                  **{extra[0]: cotangent if output.shape else 1.0})
                for block, row in zip(blocks, rows, strict=True):
                    block[index] = row
        else:
            for which, x in enumerate(inputs):
                for index in np.ndindex(x.shape):
                    tangents = [np.zeros(i.shape) if i.shape else 0.0 for i in inputs]
                    if x.shape:
                        tangents[which][index] = 1.0
                    else:
                        tangents[which] = 1.0
                    _, column = derivative(*args, **kwargs, **dict(zip(extra, tangents)))
                    blocks[which][(Ellipsis, *index)] = column
        return tuple(blocks) if self._as_tuple else blocks[0]


def jacobian(function=None, wrt=0, mode: str = "rev"):
    """The Jacobian of a function: an array of shape output.shape + input.shape (a tuple of
    them for a tuple `wrt`). `mode="rev"` costs one vector-Jacobian product per output
    entry, `mode="fwd"` one Jacobian-vector product per input entry."""
    if function is None:
        return lambda f: Jacobian(f, wrt, mode)
    return Jacobian(function, wrt, mode)


def hessian(function=None, wrt=0):
    """The Hessian of a scalar-valued function with respect to one parameter: an array of
    shape x.shape + x.shape, built column by column by forward mode over the emitted
    gradient (`jacobian(grad(f), mode="fwd")`)."""
    if function is None:
        return lambda f: hessian(f, wrt)
    if isinstance(wrt, (tuple, list)):
        raise TypeError("hessian takes one parameter; use jacobian(grad(f, wrt=...)) for blocks")
    return Jacobian(grad(function, wrt=wrt), wrt=wrt, mode="fwd")


class HessianVectorProduct:
    """H v without forming H: forward mode over the emitted gradient."""

    def __init__(self, function, wrt=0):
        if isinstance(wrt, (tuple, list)):
            raise TypeError("hvp takes one parameter")
        self._pushforward = jvp(grad(function, wrt=wrt), wrt=wrt)
        functools.update_wrapper(self, function, updated=())

    def __call__(self, *args, **kwargs):
        *primal, direction = args
        (name,) = self._pushforward.extra_parameters
        return self._pushforward(*primal, **kwargs, **{name: direction})[1]

    @property
    def source(self) -> str:
        return self._pushforward.source


def hvp(function=None, wrt=0):
    """A function of f's arguments plus a direction v returning the Hessian-vector product
    H v (one forward sweep over the emitted gradient; the Hessian is never built)."""
    if function is None:
        return lambda f: HessianVectorProduct(f, wrt)
    return HessianVectorProduct(function, wrt)
