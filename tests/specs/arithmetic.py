"""Spec rows for the operators and their NumPy spellings."""

import operator

import numpy as np

import srcgrad

from rulespec import Arg, Case

PAIRS = [((), ()), ((3,), ()), ((), (3,)), ((3,), (3,)), ((3, 1), (1, 4)), ((3, 4), (4,)),
         ((1, 4), (3, 4)), ((3, 4), (3, 1)), (None, (3,)), ((2, 3), None)]


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b


def power(a, b):
    return a ** b


def square_const(a):
    return a ** 2


def cube_root_const(a):
    return a ** (1.0 / 3.0)


def mod(a, b):
    return a % b


def neg(a):
    return -a


def pos(a):
    return +a


def np_spellings(a, b):
    return np.add(a, b) * np.multiply(a, b) - np.subtract(a, b) / np.divide(b, a)


def np_power(a, b):
    return np.power(a, b) + np.negative(a) + np.positive(b) + np.true_divide(a, b)


def np_mod(a, b):
    return np.mod(a, b) + np.remainder(b, a)


def builtin_pow(a):
    return pow(a, 3)


def floordiv_is_flat(a, b):
    return a // b + np.floor_divide(a, b) + a * b


def matmul(a, b):
    return a @ b


def np_matmul(a, b):
    return np.matmul(a, b)


def getitem(x):
    return x[1:, None, 0] * 2.0


def not_is_flat(a):
    return a * 2.0 + (not a > 0) * 0.0


def detached_scale(x):
    scale = srcgrad.stop_gradient(x * 2.0)
    return scale * x


def loop_over_range(x):
    total = 0.0
    for i in range(1, 4):
        total = total + x * i
    return total


def logic_ops_are_flat(a, b):
    mask = (a > 0) & (b > 0) | (a < -1) ^ (b < -1)
    shifted = (mask << 1) >> 1
    return a * b + ~mask * 0.0 + shifted * 0.0


CASES = []
for left, right in PAIRS:
    tag = f"{left}-{right}"
    CASES += [
        Case(add, (Arg(left), Arg(right)), (operator.add,), id=f"add{tag}"),
        Case(sub, (Arg(left), Arg(right)), (operator.sub,), id=f"sub{tag}"),
        Case(mul, (Arg(left), Arg(right)), (operator.mul,), id=f"mul{tag}"),
        Case(div, (Arg(left), Arg(right, avoid=0.5)), (operator.truediv,), id=f"div{tag}"),
        Case(power, (Arg(left, 0.5, 2.0), Arg(right)), (operator.pow,), id=f"pow{tag}"),
        Case(mod, (Arg(left, 0.1, 0.9), Arg(right, 1.2, 2.0)), (operator.mod,), id=f"mod{tag}"),
    ]
CASES += [
    Case(square_const, (Arg((3, 2)),), (operator.pow,)),
    Case(cube_root_const, (Arg((4,), 0.5, 3.0),), (operator.pow,)),
    Case(power, (Arg((3,), -2.0, -0.5), 3.0), (operator.pow,), id="pow-negative-base-integer-exponent"),
    Case(neg, (Arg((2, 3)),), (operator.neg,)),
    Case(neg, (Arg(None),), (operator.neg,), id="neg-float"),
    Case(pos, (Arg((3,)),), (operator.pos,)),
    Case(np_spellings, (Arg((3,), 0.5, 2.0), Arg((2, 1), 0.5, 2.0)),
         (operator.add, operator.mul, operator.sub, operator.truediv)),
    Case(np_power, (Arg((3,), 0.5, 2.0), Arg((3,), 0.5, 2.0)),
         (operator.pow, operator.neg, operator.pos, operator.truediv)),
    Case(np_mod, (Arg((3,), 0.5, 0.9), Arg((3,), 1.2, 1.9)), (operator.mod,)),
    Case(builtin_pow, (Arg((3,)),), (operator.pow,)),
    Case(floordiv_is_flat, (Arg((3,), 0.1, 0.9), Arg((3,), 1.1, 1.9)), (operator.floordiv,)),
    Case(logic_ops_are_flat, (Arg((4,)), Arg((4,))),
         (operator.and_, operator.or_, operator.xor, operator.invert, operator.lshift,
          operator.rshift)),
    Case(getitem, (Arg((3, 4)),), (operator.getitem,)),
    Case(not_is_flat, (Arg(None),), (operator.not_,)),
    Case(loop_over_range, (Arg((3,)),), (range,)),
    Case(detached_scale, (Arg((3,)),), (srcgrad.stop_gradient,),
         expected=lambda args, v: (2.0 * args[0] * v,)),
]
for left, right in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)),
                    ((4, 3), (2, 1, 3, 2)), ((3,), (2, 3, 4))]:
    CASES.append(Case(matmul, (Arg(left), Arg(right)), (operator.matmul,), id=f"matmul{left}-{right}"))
CASES.append(Case(np_matmul, (Arg((2, 3)), Arg((3,))), (operator.matmul,)))
