"""Elementwise functions: exponentials, logarithms, roots, trigonometry, selection, casts.

Each rule reuses the primal result `y` where that is cheaper or more stable than
recomputing (exp, tanh, sqrt, logaddexp). Binary rules undo broadcasting with
`xp.unbroadcast`. NumPy functions, their `math` spellings (`math.exp` is `np.exp`) and
builtins (`abs` is `np.absolute`) share one rule. Constants such as ln 2 are written out
as literals because emitted code imports only the runtime.
"""

import builtins
import math

import numpy as np

from srcgrad.rules.registry import (
    adjoint,
    alias,
    d,
    elementwise,
    method,
    nondifferentiable,
    rule,
    tangent,
    xp,
)

# ---------------------------------------------------------------- exponentials and logarithms


@rule(np.exp, aliases=(math.exp,))
def exp(y, x):
    with adjoint:
        d[x] = d[y] * y
    with tangent:
        d[y] = d[x] * y


@rule(np.exp2)
def exp2(y, x):
    with adjoint:
        d[x] = d[y] * y * 0.6931471805599453  # ln 2
    with tangent:
        d[y] = d[x] * y * 0.6931471805599453


@rule(np.expm1, aliases=(math.expm1,))
def expm1(y, x):
    with adjoint:
        d[x] = d[y] * (y + 1.0)
    with tangent:
        d[y] = d[x] * (y + 1.0)


@rule(np.log, aliases=(math.log,))
def log(y, x):
    with adjoint:
        d[x] = d[y] / x
    with tangent:
        d[y] = d[x] / x


@rule(np.log2, aliases=(math.log2,))
def log2(y, x):
    with adjoint:
        d[x] = d[y] / (x * 0.6931471805599453)  # ln 2
    with tangent:
        d[y] = d[x] / (x * 0.6931471805599453)


@rule(np.log10, aliases=(math.log10,))
def log10(y, x):
    with adjoint:
        d[x] = d[y] / (x * 2.302585092994046)  # ln 10
    with tangent:
        d[y] = d[x] / (x * 2.302585092994046)


@rule(np.log1p, aliases=(math.log1p,))
def log1p(y, x):
    with adjoint:
        d[x] = d[y] / (1.0 + x)
    with tangent:
        d[y] = d[x] / (1.0 + x)


@rule(np.logaddexp)
def logaddexp(y, x1, x2):
    """log(exp(x1) + exp(x2)); the weights exp(x - y) never overflow, since x <= y."""
    with adjoint:
        d[x1] = xp.unbroadcast(d[y] * xp.exp(x1 - y), x1)
        d[x2] = xp.unbroadcast(d[y] * xp.exp(x2 - y), x2)
    with tangent:
        d[y] = d[x1] * xp.exp(x1 - y) + d[x2] * xp.exp(x2 - y)


# ---------------------------------------------------------------- powers and roots


@rule(np.sqrt, aliases=(math.sqrt,))
def sqrt(y, x):
    """At x = 0 the derivative is inf (NaN where the incoming derivative is 0)."""
    with adjoint:
        d[x] = d[y] / (2.0 * y)
    with tangent:
        d[y] = d[x] / (2.0 * y)


@rule(np.square)
def square(y, x):
    with adjoint:
        d[x] = d[y] * 2.0 * x
    with tangent:
        d[y] = d[x] * 2.0 * x


@rule(np.cbrt)
def cbrt(y, x):
    """At x = 0 the derivative is inf, as for sqrt."""
    with adjoint:
        d[x] = d[y] / (3.0 * y * y)
    with tangent:
        d[y] = d[x] / (3.0 * y * y)


# ---------------------------------------------------------------- trigonometric


@rule(np.sin, aliases=(math.sin,))
def sin(y, x):
    with adjoint:
        d[x] = d[y] * xp.cos(x)
    with tangent:
        d[y] = d[x] * xp.cos(x)


@rule(np.cos, aliases=(math.cos,))
def cos(y, x):
    with adjoint:
        d[x] = -d[y] * xp.sin(x)
    with tangent:
        d[y] = -d[x] * xp.sin(x)


@rule(np.tan, aliases=(math.tan,))
def tan(y, x):
    with adjoint:
        d[x] = d[y] * (1.0 + y * y)
    with tangent:
        d[y] = d[x] * (1.0 + y * y)


@rule(np.arcsin, aliases=(math.asin,))
def arcsin(y, x):
    with adjoint:
        d[x] = d[y] / xp.sqrt((1.0 - x) * (1.0 + x))
    with tangent:
        d[y] = d[x] / xp.sqrt((1.0 - x) * (1.0 + x))


@rule(np.arccos, aliases=(math.acos,))
def arccos(y, x):
    with adjoint:
        d[x] = -d[y] / xp.sqrt((1.0 - x) * (1.0 + x))
    with tangent:
        d[y] = -d[x] / xp.sqrt((1.0 - x) * (1.0 + x))


@rule(np.arctan, aliases=(math.atan,))
def arctan(y, x):
    with adjoint:
        d[x] = d[y] / (1.0 + x * x)
    with tangent:
        d[y] = d[x] / (1.0 + x * x)


@rule(np.arctan2, aliases=(math.atan2,))
def arctan2(y, x1, x2):
    """The angle of the point (x2, x1); undefined (NaN) at the origin."""
    with adjoint:
        radius2 = x1 * x1 + x2 * x2
        d[x1] = xp.unbroadcast(d[y] * x2 / radius2, x1)
        d[x2] = xp.unbroadcast(-d[y] * x1 / radius2, x2)
    with tangent:
        d[y] = (d[x1] * x2 - d[x2] * x1) / (x1 * x1 + x2 * x2)


@rule(np.hypot)
def hypot(y, x1, x2):
    """The length of the point (x1, x2); undefined (NaN) at the origin, like arctan2."""
    with adjoint:
        d[x1] = xp.unbroadcast(d[y] * x1 / y, x1)
        d[x2] = xp.unbroadcast(d[y] * x2 / y, x2)
    with tangent:
        d[y] = (d[x1] * x1 + d[x2] * x2) / y


# ---------------------------------------------------------------- hyperbolic


@rule(np.sinh, aliases=(math.sinh,))
def sinh(y, x):
    with adjoint:
        d[x] = d[y] * xp.cosh(x)
    with tangent:
        d[y] = d[x] * xp.cosh(x)


@rule(np.cosh, aliases=(math.cosh,))
def cosh(y, x):
    with adjoint:
        d[x] = d[y] * xp.sinh(x)
    with tangent:
        d[y] = d[x] * xp.sinh(x)


@rule(np.tanh, aliases=(math.tanh,))
def tanh(y, x):
    with adjoint:
        d[x] = d[y] * (1.0 - y * y)
    with tangent:
        d[y] = d[x] * (1.0 - y * y)


@rule(np.arcsinh, aliases=(math.asinh,))
def arcsinh(y, x):
    with adjoint:
        d[x] = d[y] / xp.sqrt(x * x + 1.0)
    with tangent:
        d[y] = d[x] / xp.sqrt(x * x + 1.0)


@rule(np.arccosh, aliases=(math.acosh,))
def arccosh(y, x):
    with adjoint:
        d[x] = d[y] / xp.sqrt((x - 1.0) * (x + 1.0))
    with tangent:
        d[y] = d[x] / xp.sqrt((x - 1.0) * (x + 1.0))


@rule(np.arctanh, aliases=(math.atanh,))
def arctanh(y, x):
    with adjoint:
        d[x] = d[y] / ((1.0 - x) * (1.0 + x))
    with tangent:
        d[y] = d[x] / ((1.0 - x) * (1.0 + x))


# ---------------------------------------------------------------- absolute value and selection


@rule(np.absolute, aliases=(np.abs, builtins.abs, math.fabs, np.fabs))
def absolute(y, x):
    """At x = 0 the derivative is 0 (the sign of 0)."""
    with adjoint:
        d[x] = d[y] * xp.sign(x)
    with tangent:
        d[y] = d[x] * xp.sign(x)


@rule(np.maximum)
@rule(np.minimum)
@rule(np.fmax)
@rule(np.fmin)
def select(y, x1, x2):
    """maximum, minimum, fmax and fmin pass on the derivative of the operand they pick.
    Where x1 == x2 each operand gets half. Where one operand is NaN, fmax and fmin pick
    (and pass everything to) the other; maximum and minimum return NaN and pass nothing
    to either."""
    with adjoint:
        d[x1] = xp.unbroadcast(d[y] * xp.tie_weight(y, x1, x2), x1)
        d[x2] = xp.unbroadcast(d[y] * xp.tie_weight(y, x2, x1), x2)
    with tangent:
        d[y] = d[x1] * xp.tie_weight(y, x1, x2) + d[x2] * xp.tie_weight(y, x2, x1)


@rule(np.clip)
def clip(y, a, a_min=None, a_max=None):
    """Each element comes from exactly one of a, a_min, a_max, which gets its derivative:
    a where a_min <= a <= a_max (bounds inclusive, so at a bound a gets it), a_min where
    a < a_min, a_max where a > a_max (or everywhere if a_min > a_max, as NumPy returns
    a_max there). A None bound gets nothing. NumPy 2's `min=`/`max=` keywords are not
    supported (CuPy's clip lacks them); write the bounds positionally or as a_min/a_max.
    """
    with adjoint:
        d[a] = xp.unbroadcast(xp.where(xp.clip_passes(a, a_min, a_max), d[y], 0.0), a)
        d[a_min] = xp.unbroadcast(xp.where(xp.clip_below(a, a_min, a_max), d[y], 0.0), a_min)
        d[a_max] = xp.unbroadcast(xp.where(xp.clip_above(a, a_min, a_max), d[y], 0.0), a_max)
    with tangent:
        d[y] = (d[a] * xp.clip_passes(a, a_min, a_max)
                + d[a_min] * xp.clip_below(a, a_min, a_max)
                + d[a_max] * xp.clip_above(a, a_min, a_max))


method("clip", np.clip)


@rule(np.where)
def where(z, condition, x=None, y=None, /):
    """The derivative flows to x where the condition holds and to y elsewhere; the
    condition gets none. (One-argument np.where returns indices and carries none.)"""
    with adjoint:
        d[x] = xp.unbroadcast(xp.where(condition, d[z], 0.0), x)
        d[y] = xp.unbroadcast(xp.where(condition, 0.0, d[z]), y)
    with tangent:
        d[z] = xp.where(condition, d[x], d[y])


# ---------------------------------------------------------------- casts


def astype(x, dtype):
    """`x.astype(dtype)` as a function: the key of the astype rule. Python numbers become
    0-d arrays, as the kernel `xp.astype` (runtime.elementwise_helpers) makes them."""
    return x.astype(dtype) if hasattr(x, "astype") else np.asarray(x).astype(dtype)


@rule(astype, kernel="astype", aliases=(np.astype,))
def astype_rule(y, x, dtype):
    """The derivative is cast back to x's dtype (a Python float x gets it as is). A cast
    to an integer or boolean dtype truncates, so its derivative is zero."""
    with adjoint:
        d[x] = xp.astype_adjoint(d[y], x, dtype)
    with tangent:
        d[y] = xp.astype_tangent(d[x], dtype)


method("astype", astype)


@rule(builtins.float, kernel=None)
def to_float(y, x=0.0, /):
    """float(x) of a number or a one-element array: the identity."""
    with adjoint:
        d[x] = xp.unbroadcast(d[y], x)
    with tangent:
        d[y] = float(d[x])


# ---------------------------------------------------------------- non-differentiable

nondifferentiable(np.sign, np.floor, np.ceil, np.round, np.rint, np.trunc, np.fix)
alias(np.around, np.round)
# math.floor and math.ceil return ints (usable as indices), unlike np.floor and np.ceil.
nondifferentiable(math.floor, kernel="math_floor")
nondifferentiable(math.ceil, kernel="math_ceil")

nondifferentiable(np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
                  np.not_equal)
nondifferentiable(np.logical_and, np.logical_or, np.logical_not, np.logical_xor)
nondifferentiable(np.isnan, np.isinf, np.isfinite)

nondifferentiable(builtins.round, builtins.int, builtins.bool, kernel=None)

# ---------------------------------------------------------------- result shapes

# Results with the broadcast shape of the positional operands. Not clip: its bounds may
# come as keywords (a_min=...), which can broadcast the result beyond the positionals.
elementwise(
    np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.logaddexp,
    np.sqrt, np.square, np.cbrt,
    np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan, np.arctan2, np.hypot,
    np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh,
    np.absolute, np.maximum, np.minimum, np.fmax, np.fmin, np.where,
    np.sign, np.floor, np.ceil, np.round, np.rint, np.trunc, np.fix,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isinf, np.isfinite,
)
