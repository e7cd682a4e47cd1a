"""Operators: + - * / ** @ % //, unary minus, and their NumPy spellings."""

import builtins
import operator

import numpy as np

from srcgrad import control
from srcgrad.runtime import containers
from srcgrad.rules.registry import adjoint, alias, d, nondifferentiable, rule, tangent, xp

# ---------------------------------------------------------------- binary arithmetic


@rule(operator.add, kernel=None, aliases=(np.add,))
def add(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y], a)
        d[b] = xp.unbroadcast(d[y], b)
    with tangent:
        d[y] = d[a] + d[b]


@rule(operator.sub, kernel=None, aliases=(np.subtract,))
def sub(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y], a)
        d[b] = xp.unbroadcast(-d[y], b)
    with tangent:
        d[y] = d[a] - d[b]


@rule(operator.mul, kernel=None, aliases=(np.multiply,))
def mul(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y] * b, a)
        d[b] = xp.unbroadcast(d[y] * a, b)
    with tangent:
        d[y] = d[a] * b + a * d[b]


@rule(operator.truediv, kernel=None, aliases=(np.divide, np.true_divide))
def truediv(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y] / b, a)
        d[b] = xp.unbroadcast(-d[y] * y / b, b)
    with tangent:
        d[y] = (d[a] - y * d[b]) / b


@rule(operator.pow, kernel=None, aliases=(np.power, builtins.pow))
def pow(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y] * b * a ** (b - 1), a)
        d[b] = xp.unbroadcast(d[y] * y * xp.log(xp.where(a == 0, 1.0, a)), b)
    with tangent:
        d[y] = d[a] * b * a ** (b - 1) + d[b] * y * xp.log(xp.where(a == 0, 1.0, a))


@rule(operator.mod, kernel=None, aliases=(np.mod, np.remainder))
def mod(y, a, b):
    with adjoint:
        d[a] = xp.unbroadcast(d[y], a)
        d[b] = xp.unbroadcast(-d[y] * xp.floor_divide(a, b), b)
    with tangent:
        d[y] = d[a] - d[b] * xp.floor_divide(a, b)


@rule(operator.neg, kernel=None, aliases=(np.negative,))
def neg(y, a):
    with adjoint:
        d[a] = -d[y]
    with tangent:
        d[y] = -d[a]


@rule(operator.pos, kernel=None, aliases=(np.positive,))
def pos(y, a):
    with adjoint:
        d[a] = d[y]
    with tangent:
        d[y] = d[a]


@rule(operator.matmul, kernel=None, aliases=(np.matmul,))
def matmul(y, a, b):
    with adjoint:
        d[a] = xp.matmul_adjoint_a(d[y], a, b)
        d[b] = xp.matmul_adjoint_b(d[y], a, b)
    with tangent:
        d[y] = d[a] @ b + a @ d[b]


@rule(operator.getitem, kernel=None)
def getitem(y, x, key):
    with adjoint:
        d[x] = xp.unindex(d[y], x, key)
    with tangent:
        d[y] = d[x][key]


nondifferentiable(operator.floordiv, operator.not_, operator.invert, operator.and_,
                  operator.or_, operator.xor, operator.lshift, operator.rshift, kernel=None)
alias(np.floor_divide, operator.floordiv)

nondifferentiable(range, kernel=None)  # integers: loop bounds in emitted code
nondifferentiable(control.stop_gradient)  # also control.detach: the same object


@rule(containers.attribute, kernel=None)
def attribute(y, obj, name):
    """`obj.name` for a parameter object (a dataclass, namedtuple or any object holding
    arrays): the adjoint goes to that one attribute of the object's adjoint."""
    with adjoint:
        d[obj] = xp.attribute_part(obj, name, d[y])
    with tangent:
        d[y] = xp.attribute_tangent(d[obj], name)
