"""Spec rows for the elementwise rules: ufuncs, their math and builtin spellings, clip,
where, casts, and the non-differentiable functions (checked through a product, so the flat
factor must contribute zero)."""

import builtins
import math

import numpy as np
from numpy import tanh

from rulespec import Arg, Case
from srcgrad.rules.elementwise import astype

SHAPES = [(), (3,), (2, 3), None]
PAIRS = [((), ()), ((3,), ()), ((), (3,)), ((3,), (3,)), ((3, 1), (1, 4)), ((3, 4), (4,)),
         ((1, 4), (3, 1)), (None, (3,)), ((2, 3), None), (None, None)]


# ---------------------------------------------------------------- unary functions


def exp(x):
    return np.exp(x)


def exp2(x):
    return np.exp2(x)


def expm1(x):
    return np.expm1(x)


def log(x):
    return np.log(x)


def log2(x):
    return np.log2(x)


def log10(x):
    return np.log10(x)


def log1p(x):
    return np.log1p(x)


def sqrt(x):
    return np.sqrt(x)


def square(x):
    return np.square(x)


def cbrt(x):
    return np.cbrt(x)


def sin(x):
    return np.sin(x)


def cos(x):
    return np.cos(x)


def tan(x):
    return np.tan(x)


def arcsin(x):
    return np.arcsin(x)


def arccos(x):
    return np.arccos(x)


def arctan(x):
    return np.arctan(x)


def sinh(x):
    return np.sinh(x)


def cosh(x):
    return np.cosh(x)


def np_tanh(x):
    return np.tanh(x)


def arcsinh(x):
    return np.arcsinh(x)


def arccosh(x):
    return np.arccosh(x)


def arctanh(x):
    return np.arctanh(x)


def absolute(x):
    return np.absolute(x)


# (function, key, low, high, avoid): a domain where the function is smooth.
UNARY = [
    (exp, np.exp, -2.0, 2.0, 0.0),
    (exp2, np.exp2, -2.0, 2.0, 0.0),
    (expm1, np.expm1, -2.0, 2.0, 0.0),
    (log, np.log, 0.1, 3.0, 0.0),
    (log2, np.log2, 0.1, 3.0, 0.0),
    (log10, np.log10, 0.1, 3.0, 0.0),
    (log1p, np.log1p, -0.8, 3.0, 0.0),
    (sqrt, np.sqrt, 0.1, 3.0, 0.0),
    (square, np.square, -2.0, 2.0, 0.0),
    (cbrt, np.cbrt, -2.0, 2.0, 0.2),
    (sin, np.sin, -3.0, 3.0, 0.0),
    (cos, np.cos, -3.0, 3.0, 0.0),
    (tan, np.tan, -1.3, 1.3, 0.0),
    (arcsin, np.arcsin, -0.9, 0.9, 0.0),
    (arccos, np.arccos, -0.9, 0.9, 0.0),
    (arctan, np.arctan, -3.0, 3.0, 0.0),
    (sinh, np.sinh, -2.0, 2.0, 0.0),
    (cosh, np.cosh, -2.0, 2.0, 0.0),
    (np_tanh, np.tanh, -2.0, 2.0, 0.0),
    (arcsinh, np.arcsinh, -3.0, 3.0, 0.0),
    (arccosh, np.arccosh, 1.1, 3.0, 0.0),
    (arctanh, np.arctanh, -0.9, 0.9, 0.0),
    (absolute, np.absolute, -2.0, 2.0, 0.1),
]


# ---------------------------------------------------------------- spellings


def abs_spellings(x):
    return np.abs(x) + abs(x) * 2.0 + np.fabs(x) * 3.0


def imported_tanh(x):
    return tanh(x) * x


def math_exp_log(x):
    return math.exp(x) + math.log(x) + math.log2(x) + math.log10(x) + math.log1p(x) + math.expm1(x)


def math_sqrt_fabs(x):
    return math.sqrt(x) * math.fabs(x - 1.5)


def math_trig(x):
    return math.sin(x) + math.cos(x) + math.tan(x) + math.asin(x) + math.acos(x) + math.atan(x)


def math_hyperbolic(x):
    return math.sinh(x) + math.cosh(x) + math.tanh(x) + math.asinh(x) + math.atanh(x)


def math_acosh(x):
    return math.acosh(x)


def math_atan2(a, b):
    return math.atan2(a, b)


def builtin_float(x):
    return float(x) * x + float(x)


# ---------------------------------------------------------------- binary functions


def arctan2(a, b):
    return np.arctan2(a, b)


def hypot(a, b):
    return np.hypot(a, b)


def maximum(a, b):
    return np.maximum(a, b)


def minimum(a, b):
    return np.minimum(a, b)


def fmax(a, b):
    return np.fmax(a, b)


def fmin(a, b):
    return np.fmin(a, b)


def logaddexp(a, b):
    return np.logaddexp(a, b)


def relu(x):
    return np.maximum(x, 0.0) * x


def where(c, a, b):
    return np.where(c > 0, a, b)


def where_same(x):
    return np.where(x > 0, x * x, -x)


def clip(a, lo, hi):
    return np.clip(a, lo, hi)


def clip_keywords(a, lo, hi):
    return np.clip(a, a_min=lo, a_max=hi)


def clip_scalar_bounds(x):
    return np.clip(x, -0.5, 0.5) * x


def clip_method(x):
    return x.clip(-0.5, 0.5) * x


def clip_lower_only(x, lo):
    return np.clip(x, lo, None)


def clip_upper_only(x, hi):
    return np.clip(x, None, hi)


def clip_crossed_bounds(x, lo, hi):
    return np.clip(x, lo + 1.0, hi - 1.0)


# ---------------------------------------------------------------- casts


def astype_method(x):
    return np.sin(x.astype(np.float64))


def astype_function(x):
    return np.astype(x, np.float64) * x


def astype_integer_is_flat(x):
    return x.astype(np.int64) * x


# ---------------------------------------------------------------- non-differentiable


def rounding_is_flat(x):
    return (np.floor(x) + np.ceil(x) + np.round(x) + np.around(x, 1) + np.rint(x)
            + np.trunc(x) + np.fix(x) + np.sign(x)) * x


def comparisons_are_flat(a, b):
    flags = (np.greater(a, b) + np.greater_equal(a, b) * 2.0 + np.less(a, b) * 3.0
             + np.less_equal(a, b) * 4.0 + np.equal(a, b) * 5.0 + np.not_equal(a, b) * 6.0)
    return flags * a * b


def logic_is_flat(a, b):
    p = np.greater(a, 0.0)
    q = np.less(b, 0.0)
    flags = (np.logical_and(p, q) + np.logical_or(p, q) * 2.0 + np.logical_not(p) * 3.0
             + np.logical_xor(p, q) * 4.0)
    return flags * a + b


def checks_are_flat(x):
    return (np.isnan(x) + np.isinf(x) * 2.0 + np.isfinite(x) * 3.0) * x


def builtins_are_flat(x):
    return (round(x) + int(x) * 2.0 + bool(x) * 3.0 + math.floor(x) + math.ceil(x)) * x


def math_floor_indexes(x, t):
    return x[math.floor(t)] * x[math.ceil(t)]


CASES = []
for fn, key, low, high, avoid in UNARY:
    for shape in SHAPES:
        CASES.append(Case(fn, (Arg(shape, low, high, avoid=avoid),), (key,),
                          id=f"{fn.__name__}{shape}"))

for left, right in PAIRS:
    tag = f"{left}-{right}"
    CASES += [
        Case(arctan2, (Arg(left, avoid=0.2), Arg(right)), (np.arctan2,), id=f"arctan2{tag}"),
        Case(hypot, (Arg(left, avoid=0.2), Arg(right)), (np.hypot,), id=f"hypot{tag}"),
        Case(maximum, (Arg(left), Arg(right)), (np.maximum,), id=f"maximum{tag}"),
        Case(minimum, (Arg(left), Arg(right)), (np.minimum,), id=f"minimum{tag}"),
        Case(fmax, (Arg(left), Arg(right)), (np.fmax,), id=f"fmax{tag}"),
        Case(fmin, (Arg(left), Arg(right)), (np.fmin,), id=f"fmin{tag}"),
        Case(logaddexp, (Arg(left), Arg(right)), (np.logaddexp,), id=f"logaddexp{tag}"),
    ]

# (condition, a, b) and (a, a_min, a_max) shape triples that broadcast together.
TRIPLES = [((), (), ()), ((3,), (3,), (3,)), ((3, 1), (1, 4), ()), ((), (3,), (3,)),
           ((3, 4), (4,), (3, 1)), ((2, 3), None, (3,)), ((3,), (2, 3), None),
           (None, None, None)]
for c, a, b in TRIPLES:
    tag = f"{c}-{a}-{b}"
    CASES += [
        Case(where, (Arg(c, avoid=0.1), Arg(a), Arg(b)), (np.where,), id=f"where{tag}"),
        Case(clip, (Arg(c, -2.0, 2.0), Arg(a, -1.0, -0.2), Arg(b, 0.2, 1.0)), (np.clip,),
             id=f"clip{tag}"),
    ]

CASES += [
    Case(abs_spellings, (Arg((3,), avoid=0.1),), (np.absolute,)),
    Case(abs_spellings, (Arg(None, avoid=0.1),), (np.absolute,), id="abs_spellings-float"),
    Case(imported_tanh, (Arg((2, 3)),), (np.tanh,)),
    Case(math_exp_log, (Arg(None, 0.1, 2.0),),
         (np.exp, np.log, np.log2, np.log10, np.log1p, np.expm1)),
    Case(math_sqrt_fabs, (Arg(None, 0.1, 3.0),), (np.sqrt, np.absolute)),
    Case(math_trig, (Arg(None, -0.9, 0.9),),
         (np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan)),
    Case(math_hyperbolic, (Arg(None, -0.9, 0.9),),
         (np.sinh, np.cosh, np.tanh, np.arcsinh, np.arctanh)),
    Case(math_acosh, (Arg(None, 1.1, 3.0),), (np.arccosh,)),
    Case(math_atan2, (Arg(None, avoid=0.2), Arg(None)), (np.arctan2,)),
    Case(builtin_float, (Arg(None),), (builtins.float,)),
    Case(builtin_float, (Arg(()),), (builtins.float,), id="builtin_float-0d"),
    Case(logaddexp, (Arg((3,), 700.0, 760.0), Arg((3,), 700.0, 760.0)), (np.logaddexp,),
         id="logaddexp-large", notes="exp(760) overflows; the rule must not"),
    Case(logaddexp, (Arg((3,), -760.0, -700.0), Arg((3,), -2.0, 2.0)), (np.logaddexp,),
         id="logaddexp-lopsided"),
    Case(relu, (Arg((2, 3), avoid=0.1),), (np.maximum,)),
    Case(where_same, (Arg((2, 3), avoid=0.1),), (np.where,)),
    Case(clip_keywords, (Arg((3, 4)), Arg((4,), -1.0, -0.2), Arg((3, 1), 0.2, 1.0)),
         (np.clip,)),
    Case(clip_scalar_bounds, (Arg((2, 3)),), (np.clip,)),
    Case(clip_scalar_bounds, (Arg(None),), (np.clip,), id="clip_scalar_bounds-float"),
    Case(clip_method, (Arg((2, 3)),), (np.clip,)),
    Case(clip_lower_only, (Arg((3, 4)), Arg((4,), -1.0, 1.0)), (np.clip,)),
    Case(clip_upper_only, (Arg((3, 4)), Arg((3, 1), -1.0, 1.0)), (np.clip,)),
    Case(clip_crossed_bounds, (Arg((3, 4)), Arg((4,), 0.5, 1.0), Arg((3, 1), 0.0, 0.5)),
         (np.clip,), notes="a_min > a_max: NumPy returns a_max everywhere"),
    Case(astype_method, (Arg((2, 3)),), (astype,)),
    Case(astype_method, (Arg(()),), (astype,), id="astype_method-0d"),
    Case(astype_function, (Arg((3,)),), (astype,)),
    Case(astype_integer_is_flat, (Arg((2, 3), -3.0, 3.0),), (astype,)),
]
for shape in SHAPES:
    CASES += [
        Case(rounding_is_flat, (Arg(shape, -3.0, 3.0, avoid=0.1),),
             (np.floor, np.ceil, np.round, np.rint, np.trunc, np.fix, np.sign),
             id=f"rounding_is_flat{shape}"),
        Case(checks_are_flat, (Arg(shape),), (np.isnan, np.isinf, np.isfinite),
             id=f"checks_are_flat{shape}"),
    ]
for left, right in [((), ()), ((3,), (3,)), ((3, 1), (1, 4)), (None, (3,))]:
    tag = f"{left}-{right}"
    CASES += [
        Case(comparisons_are_flat, (Arg(left), Arg(right)),
             (np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal),
             id=f"comparisons_are_flat{tag}"),
        Case(logic_is_flat, (Arg(left, avoid=0.1), Arg(right, avoid=0.1)),
             (np.logical_and, np.logical_or, np.logical_not, np.logical_xor),
             id=f"logic_is_flat{tag}"),
    ]
CASES.append(Case(math_floor_indexes, (Arg((4,)), Arg(None, 0.1, 2.9)),
                  (math.floor, math.ceil), wrt=(0,)))
CASES.append(Case(builtins_are_flat, (Arg(None, 0.1, 2.9),),
                  (builtins.round, builtins.int, builtins.bool, math.floor, math.ceil)))
