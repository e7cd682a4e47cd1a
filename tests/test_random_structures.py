"""Random programs over parameter structures and calls, and their higher derivatives.

Hypothesis writes a small module: module-level arrays `K0`, `K1`; helper functions called
with keyword arguments and defaults (`scale(u, c=..., *, shift=...)`), a helper returning a
tuple that the caller unpacks (`pair`), a recursion of depth two (`rec(u, 2)`), a closure
made at module level (`scaled = make_scaler(c)`, reading `K0` when it runs), and, for the
first kind of program, a helper `mix(q, u, w=...)` taking the whole parameter structure.
Every value has one of two shapes, tracked while drawing: a vector of length 4 ("v") or a
number ("s"). The module is compiled under a unique `<random-structures-N>` file name and
registered in `linecache` so that srcgrad can read it (classes and closures included).

Structure programs, `def f(p, x)`: `p` is a dict of arrays (with a key nothing reads), a
list or a tuple of arrays, an object of a class the module defines (array attributes and a
`__call__` method), or an `srcgrad.nn.Linear`; `x` is a vector. For a random direction of
the structure of each differentiated parameter, `check_structures` requires:

- `srcgrad.grad` to return, per parameter, a value of the parameter's structure and type (a
  dict with the same keys, a list or tuple of the same length, an object of the same class
  whose float array attributes hold the gradients), every array of its parameter's shape,
  and zeros for the dict key nothing reads;
- <grad, u> to agree with `srcgrad.jvp` (a tangent of the same structure) to ~1e-10, the
  `jvp` primal and `value_and_grad`'s value to be the function's output, and both to agree
  with a central finite difference along u, taken at steps 1e-5 and 1e-6; where those two
  disagree the example is rejected, not judged;
- `srcgrad.jvp(srcgrad.grad(f))` along u (tangents of the parameters' structures) to give
  the gradient as its primal and, leaf by leaf, the central difference of the gradient.

Higher-order programs, `def f(x)` with `x` a vector or a Python float and a scalar output;
with `g` the emitted gradient (itself checked as above against finite differences of `f`),
`check_higher_order` requires, against central differences of `g` at the same two steps:

- `srcgrad.hessian` (and `srcgrad.jacobian(grad(f))` in modes "rev" and "fwd"), column by
  column; `srcgrad.hvp` along a random direction; for a float `x`, `grad(grad(f))`;
- `srcgrad.jvp(srcgrad.vjp(f))` along a random direction: its primal is the vjp, its tangent
  the difference of the vjp.

Every derivative is called twice: the second call (the cached fast path) must repeat the
first bit for bit, and no call may change an argument. A srcgrad refusal (a `SrcgradError`)
passes only when its message names the generated file and a line (`<random-structures-N>:L:`);
the refusals met are collected in `REFUSALS`. Anything else srcgrad raises, and any wrong
number, fails the example with the module's source and the inputs in the message.

SRCGRAD_FUZZ_EXAMPLES sets the number of examples (default 120, about 29 seconds on two
cores), SRCGRAD_FUZZ_SEED=n draws other examples, SRCGRAD_FUZZ_SHRINK=1 shrinks a failure.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import traceback
import types
from dataclasses import dataclass

import numpy as np
from hypothesis import Phase, assume, given, note, seed, settings
from hypothesis import strategies as st

import srcgrad
from fuzzing import close, generated_module, unparenthesized
from srcgrad import nn
from srcgrad.errors import SrcgradError

EXAMPLES = int(os.environ.get("SRCGRAD_FUZZ_EXAMPLES", "120"))
SEED = os.environ.get("SRCGRAD_FUZZ_SEED")
# Shrinking a failure compiles hundreds of programs (minutes); SRCGRAD_FUZZ_SHRINK=1 asks for it.
PHASES = (Phase.explicit, Phase.generate) + (
    (Phase.shrink,) if os.environ.get("SRCGRAD_FUZZ_SHRINK") == "1" else ())
STRUCTURES = ("dict", "list", "tuple", "box", "linear")
CONSTANTS = ("0.5", "1.3", "0.7", "2.0", "0.25", "(-0.4)", "(-1.1)")
STEPS = (1e-5, 1e-6)
MODES_RTOL = 1e-10  # two exact derivatives against each other
FD_RTOL = 1e-6  # srcgrad against the finite difference at step 1e-5
FD_AGREE_RTOL = 1e-6  # the two finite differences must agree this well to be trusted
REFUSALS: list[tuple] = []  # located refusals met: (message, program source)


class Rejected(Exception):
    """The finite differences at this example cannot be trusted (the steps disagree)."""


# -- program descriptions ----------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A drawn module: its source, the structure of `p` ("none": `def f(x)`), the kind of
    `x` ("v" or "s") and the names differentiated (structure programs only)."""

    source: str
    structure: str
    x_kind: str
    wrt: tuple
    bias: bool = True

    def __repr__(self) -> str:  # Hypothesis prints this; the source follows it in full
        return (f"Program(structure={self.structure!r}, x_kind={self.x_kind!r}, "
                f"wrt={self.wrt!r})")

    def _repr_pretty_(self, printer, cycle):  # what Hypothesis' printer asks a dataclass
        printer.text(repr(self))

    @property
    def params(self) -> tuple:
        return ("x",) if self.structure == "none" else ("p", "x")


HELPERS = '''

def scale(u, c={c0}, *, shift=0.0):
    return np.tanh(u * c + shift)


def pair(u, v, c={c1}, *, s=1.3):
    return np.sin(u) * c, v * s + u


def rec(u, n):
    if n == 0:
        return np.tanh(u)
    return rec(np.sin(u) * {c2} + 0.1, n - 1) * 1.1


def make_scaler(c):
    def scaler(u):
        return np.cos(u * c) + K0
    return scaler


scaled = make_scaler({c3})
'''

BOX = '''

class Box:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __call__(self, u):
        return np.tanh(self.a * u + self.b)
'''

MIX = {  # the helper taking the whole structure
    "dict": '    return q["a"] * u + q["b"] * w\n',
    "list": "    first, second = q\n    return first * u + second * w\n",
    "tuple": "    first, second = q\n    return first * u + second * w\n",
    "box": "    return q(u) * w + q.b\n",
    "linear": "    return q(u * K1) * w\n",
}

LEAVES = {  # readings of `p` that are vectors
    "dict": ('p["a"]', 'p["b"]'),
    "list": ("p[0]", "p[1]", "p[-1]"),
    "tuple": ("p[0]", "p[1]", "p[-1]"),
    "box": ("p.a", "p.b"),
    "linear": ("p.bias", "p.weight[1]", "p(K0)"),
    "none": (),
}


class _Writer:
    """Draws the body of `f`, tracking the shape kind of every name in scope."""

    def __init__(self, draw, structure, x_kind):
        self.draw = draw
        self.structure = structure
        self.names = {"x": x_kind}
        self.serial = itertools.count()

    def pick(self, options):
        return self.draw(st.sampled_from(tuple(options)))

    def fresh(self, kind):
        return f"{kind}{next(self.serial)}"

    def leaf(self, kind):
        """A name or reading whose value has exactly shape kind `kind`."""
        options = [name for name, k in self.names.items() if k == kind]
        options += ["x"] * 2 if self.names["x"] == kind else []
        if kind == "v":
            options += ["K0", "K1"] + list(LEAVES[self.structure]) * 2
        else:
            options += [self.pick(CONSTANTS)]
        return self.pick(options)

    def operand(self, kind, depth):
        """An expression that broadcasts to `kind`: of that kind, or a number."""
        if kind == "v" and self.draw(st.integers(0, 3)) == 0:
            return self.expr("s", depth)
        return self.expr(kind, depth)

    def expr(self, kind, depth=2):
        """An expression of exactly shape kind `kind`, nested at most `depth` deep."""
        if depth <= 0:
            return self.leaf(kind)
        forms = ["leaf", "unary", "binary", "binary", "divide", "scale", "rec"]
        forms += ["reduce"] if kind == "s" else ["closure"]
        if kind == "v" and self.structure != "none":
            forms += ["mix", "method"] if self.structure in ("box", "linear") else ["mix"]
        form = self.pick(forms)
        sub = depth - 1
        if form == "leaf":
            return self.leaf(kind)
        if form == "unary":
            inner = unparenthesized(self.expr(kind, sub))
            return self.pick((f"np.tanh({inner})", f"np.sin({inner})", f"np.cos({inner})",
                              f"np.exp(np.tanh({inner}))", f"np.log(1.5 + ({inner}) ** 2)"))
        if form == "binary":
            left, right = self.expr(kind, sub), self.operand(kind, sub)
            if self.draw(st.booleans()):
                left, right = right, left
            return f"({left} {self.pick('+-*')} {right})"
        if form == "divide":
            below = self.operand(kind, sub)
            return f"({self.expr(kind, sub)} / (1.5 + {below} * {below}))"
        if form == "reduce":
            inner = unparenthesized(self.expr("v", sub))
            return self.pick((f"np.sum({inner})", f"np.mean({inner})", f"({inner}).sum()"))
        if form == "scale":
            return self._scale(kind, sub)
        if form == "rec":
            inner = unparenthesized(self.expr(kind, sub))
            return self.pick((f"rec({inner}, 2)", f"rec({inner}, n=2)", f"rec(u={inner}, n=2)"))
        if form == "closure":
            return f"scaled({unparenthesized(self.operand('v', sub))})"
        if form == "mix":
            inner = unparenthesized(self.operand("v", sub))
            return self.pick((f"mix(p, {inner})", f"mix(p, {inner}, w={self.leaf('s')})",
                              f"mix(p, {inner}, {unparenthesized(self.operand('v', sub))})",
                              f"mix(q=p, u={inner})"))
        if self.structure == "box":  # method
            return f"p({unparenthesized(self.operand('v', sub))})"
        return f"p({unparenthesized(self.expr('v', sub))})"

    def _scale(self, kind, depth):
        """A call of `scale` with its defaults, positional or keyword arguments."""
        inner = unparenthesized(self.expr(kind, depth))
        constant = self.pick(CONSTANTS)
        shift = unparenthesized(self.operand(kind, depth)) if kind == "v" else self.leaf("s")
        return self.pick((f"scale({inner})", f"scale({inner}, {constant})",
                          f"scale({inner}, c={constant})", f"scale({inner}, shift={shift})",
                          f"scale(shift={shift}, u={inner}, c={constant})"))

    def statement(self):
        """An assignment, or the unpacking of `pair`'s tuple into two new names."""
        kind = self.pick("vvs")
        if self.draw(st.integers(0, 2)) == 0:
            first, second = self.fresh(kind), self.fresh(kind)
            u, v = unparenthesized(self.expr(kind, 1)), unparenthesized(self.expr(kind, 1))
            call = self.pick((f"pair({u}, {v})", f"pair({u}, {v}, s={self.leaf('s')})",
                              f"pair({u}, v={v}, c={self.pick(CONSTANTS)})"))
            self.names[first], self.names[second] = kind, kind
            return f"{first}, {second} = {call}"
        name = self.fresh(kind)
        text = unparenthesized(self.expr(kind))
        self.names[name] = kind
        return f"{name} = {text}"

    def returning(self):
        """The scalar output."""
        kind = self.pick("vvs")
        inner = unparenthesized(self.expr(kind))
        if kind == "s":
            return f"return {inner}"
        return self.pick((f"return np.sum({inner})", f"return np.mean({inner} ** 2)",
                          f"return ({inner}).sum()"))


@st.composite
def programs(draw, structure=None):
    """A random `Program` (a structure program, or with structure "none" a higher-order
    one)."""
    if structure is None:
        structure = draw(st.sampled_from(STRUCTURES + ("none", "none")))
    x_kind = draw(st.sampled_from("vs")) if structure == "none" else "v"
    writer = _Writer(draw, structure, x_kind)
    body = [writer.statement() for _ in range(draw(st.integers(1, 4)))]
    body.append(writer.returning())
    params = ("x",) if structure == "none" else ("p", "x")
    unread = [name for name in params if not re.search(rf"\b{name}\b", "\n".join(body))]
    if unread:  # every parameter reaches the output (through the last term at least)
        couple = " * ".join(f"np.sin({unparenthesized(writer.leaf('v'))} + x)" if name == "x"
                            else unparenthesized(writer.pick(LEAVES[structure])) for name in unread)
        body[-1] += f" + np.sum({couple})"
    constants = [draw(st.sampled_from(("0.5", "0.7", "1.3", "0.8"))) for _ in range(4)]
    lines = ["import numpy as np", "", "K0 = np.array([0.3, -0.2, 0.5, 0.1])",
             "K1 = np.array([1.1, 0.4, -0.7, 0.9])"]
    lines += HELPERS.format(c0=constants[0], c1=constants[1], c2=constants[2],
                            c3=constants[3]).splitlines()
    if structure == "box":
        lines += BOX.splitlines()
    if structure != "none":
        lines += ["", "", "def mix(q, u, w=1.0):"] + MIX[structure].rstrip("\n").split("\n")
    lines += ["", "", f"def f({', '.join(params)}):"] + ["    " + line for line in body]
    if structure == "none":
        wrt = ("x",)
    else:
        wrt = draw(st.sampled_from((("p",), ("p",), ("x",), ("p", "x"), ("x", "p"))))
    return Program("\n".join(lines) + "\n", structure, x_kind, wrt, draw(st.booleans()))


# -- running a program ---------------------------------------------------------------------


def load(program: Program) -> types.ModuleType:
    """The program's module, its source compiled where srcgrad can read it."""
    return generated_module(program.source, "structures")


def draw_inputs(program: Program, module, seed: int) -> dict:
    """Random float64 arguments by name."""
    rng = np.random.default_rng(seed)
    if program.x_kind == "s":
        args = {"x": float(rng.uniform(-1.5, 1.5))}
    else:
        args = {"x": rng.standard_normal(4) * 0.8}
    a, b = rng.standard_normal(4) * 0.8, rng.standard_normal(4) * 0.8
    if program.structure == "dict":
        args["p"] = {"a": a, "b": b, "c": rng.standard_normal(4)}
    elif program.structure in ("list", "tuple"):
        args["p"] = [a, b] if program.structure == "list" else (a, b)
    elif program.structure == "box":
        args["p"] = module.Box(a, b)
    elif program.structure == "linear":
        args["p"] = nn.Linear(4, 4, bias=program.bias, rng=int(rng.integers(1000)))
    return args


# -- parameter trees -----------------------------------------------------------------------


def _is_leaf(value) -> bool:
    return isinstance(value, (np.ndarray, float, int, np.floating))


def _fields(tree) -> list:
    """(key, value) pairs of a tree's differentiable items, in a fixed order."""
    if isinstance(tree, dict):
        return list(tree.items())
    if isinstance(tree, (list, tuple)):
        return list(enumerate(tree))
    return [(key, value) for key, value in vars(tree).items()
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)]


def leaves(tree) -> list:
    """The arrays (or numbers) of a tree, in `_fields` order."""
    if _is_leaf(tree):
        return [tree]
    return [leaf for _, value in _fields(tree) for leaf in leaves(value)]


def tree_map(function, tree, *others):
    """A tree of `tree`'s structure holding `function(leaf, *other leaves)`."""
    if _is_leaf(tree):
        return function(tree, *others)
    if isinstance(tree, dict):
        return {key: tree_map(function, value, *(o[key] for o in others))
                for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(function, value, *(o[i] for o in others))
                          for i, value in enumerate(tree))
    clone = copy.copy(tree)
    for key, value in _fields(tree):
        setattr(clone, key, tree_map(function, value, *(getattr(o, key) for o in others)))
    return clone


def inner(a, b) -> float:
    """<a, b> summed over the leaves of two trees of the same structure."""
    return float(sum(np.sum(np.asarray(p, dtype=np.float64) * np.asarray(q, dtype=np.float64))
                     for p, q in zip(leaves(a), leaves(b), strict=True)))


def _like(tree, rng):
    """A random tree of `tree`'s structure and shapes (Python floats for numbers)."""
    return tree_map(lambda leaf: float(rng.standard_normal()) if np.ndim(leaf) == 0
                    else rng.standard_normal(np.shape(leaf)), tree)


def _same(a, b) -> bool:
    """Bit-for-bit equality of two values (trees, arrays, numbers; NaN equal to NaN)."""
    if type(a) is not type(b) and not (_is_leaf(a) and _is_leaf(b)):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if _is_leaf(a):
        return (np.shape(a) == np.shape(b)
                and np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    if a is None:
        return b is None
    return vars(a).keys() == vars(b).keys() and all(
        _same(value, vars(b)[key]) if isinstance(value, (np.ndarray, float))
        else value == vars(b)[key] for key, value in vars(a).items())


def structure_problem(gradient, param) -> str | None:
    """What is wrong with `gradient` as the gradient of `param`, or None: README's rule is
    the same structure and type, each array of its parameter's shape."""
    if _is_leaf(param):
        if not _is_leaf(gradient) or np.shape(gradient) != np.shape(param):
            return f"{gradient!r} is not of the parameter's shape {np.shape(param)}"
        return None
    if type(gradient) is not type(param):
        return f"a {type(gradient).__name__}, the parameter a {type(param).__name__}"
    if isinstance(param, dict) and gradient.keys() != param.keys():
        return f"keys {list(gradient)}, the parameter's {list(param)}"
    if isinstance(param, (list, tuple)) and len(gradient) != len(param):
        return f"{len(gradient)} items, the parameter {len(param)}"
    for key, value in _fields(param):
        got = gradient[key] if isinstance(param, (dict, list, tuple)) else getattr(
            gradient, key, None)
        problem = structure_problem(got, value)
        if problem:
            return f"[{key!r}]: {problem}"
    return None


# -- checking ------------------------------------------------------------------------------


def _literal(value) -> str:
    """Source text that shows `value` exactly (arrays as lists)."""
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, (dict, list, tuple)) or _is_leaf(value):
        return repr(tree_map(lambda leaf: leaf.tolist() if isinstance(leaf, np.ndarray)
                             else leaf, value))
    return f"{type(value).__name__}({ {k: _literal(v) for k, v in _fields(value)} })"


class _Checker:
    """The checks of one program at one point, failing with its source and inputs."""

    def __init__(self, program, module, args):
        self.program = program
        self.function = module.f
        self.filename = module.__file__
        self.args = args
        self.originals = {name: copy.deepcopy(value) for name, value in args.items()}

    @property
    def positional(self) -> list:
        return [self.args[name] for name in self.program.params]

    def fail(self, message):
        """Raise an AssertionError naming the program and the arguments."""
        inputs = "\n".join(f"{name} = {_literal(value)}" for name, value in self.args.items())
        raise AssertionError(f"{message}\n{self.program!r}\n--- program {self.filename} ---\n"
                             f"{self.program.source}--- inputs ---\n{inputs}")

    def call(self, what, function, *args):
        """`function(*args)`, turning an exception into a failure (or a located refusal
        into None)."""
        try:
            with np.errstate(all="ignore"):
                return function(*args)
        except SrcgradError as error:
            text = str(error)
            if re.search(re.escape(self.filename) + r":\d+:", text):
                REFUSALS.append((text, self.program.source))
                return None
            self.fail(f"{what}: unlocated srcgrad error {type(error).__name__}: {text}")
        except Exception as error:  # noqa: BLE001 - any other exception is the finding
            self.fail(f"{what} raised {type(error).__name__}: {error}\n"
                      f"{''.join(traceback.format_exception(error)[-6:])}")

    def unchanged(self, what):
        """Fail if a call wrote into an argument."""
        for name, value in self.args.items():
            if not _same(value, self.originals[name]):
                self.fail(f"{what} changed the argument `{name}`")

    def twice(self, what, function, *args):
        """Call twice; the second call (the fast path) must repeat the first bit for bit,
        and neither may change the arguments. None for a located refusal."""
        kept_args = copy.deepcopy(args)
        first = self.call(what, function, *args)
        if first is None:
            return None
        self.unchanged(what)
        if not _same(args, kept_args):
            self.fail(f"{what} changed one of its extra arguments")
        kept = copy.deepcopy(first)
        second = self.call(f"{what} (second call)", function, *args)
        if second is None:
            self.fail(f"{what}: the second call was refused after the first succeeded")
        self.unchanged(f"{what} (second call)")
        if not _same(second, kept):
            self.fail(f"{what}: the second call gave {second!r}, the first {kept!r}")
        if not _same(first, kept):
            self.fail(f"{what}: the second call changed the first call's result")
        return first


def primal(function, args: list):
    """The function's output, or None when it is not finite."""
    with np.errstate(all="ignore"):
        output = function(*args)
    return output if np.all(np.isfinite(output)) else None


def difference(function, step, moved) -> object:
    """Central difference (function(moved(+step)) - function(moved(-step))) / (2 step),
    leaf by leaf for tree-valued functions."""
    up, down = function(*moved(step)), function(*moved(-step))
    return tree_map(lambda p, q: (np.asarray(p, dtype=np.float64) - q) / (2 * step), up, down)


def trusted(function, moved, scale):
    """The central difference at step 1e-5, or `Rejected` where the one at 1e-6 disagrees
    with it (a tree's leaves entry by entry, against `scale`)."""
    with np.errstate(all="ignore"):
        small, tiny = (difference(function, step, moved) for step in STEPS)
    for p, q in zip(leaves(small), leaves(tiny), strict=True):
        p, q = np.asarray(p), np.asarray(q)
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))
                and np.all(np.abs(p - q) <= FD_AGREE_RTOL * (np.abs(p) + np.abs(q) + scale))):
            raise Rejected
    return small


def _mover(checker, directions):
    """A function of a step giving the arguments moved by step * direction."""
    def moved(step):
        return [tree_map(lambda a, d: a + step * d, checker.args[name], directions[name])
                if name in directions else checker.args[name] for name in checker.program.params]
    return moved


def check_first_order(checker, rng):
    """grad (structure, values), value_and_grad and jvp against each other and against a
    finite difference of f. Returns the gradient (a dict by name), or None on a refusal."""
    program, function = checker.program, checker.function
    output = primal(function, checker.positional)
    assume(output is not None)
    directions = {name: _like(checker.args[name], rng) for name in program.wrt}
    scale = 1e-3 * (abs(float(output)) + 1.0)
    numeric = float(trusted(function, _mover(checker, directions), scale))
    wrt = program.wrt if len(program.wrt) > 1 else program.wrt[0]
    gradient = checker.twice("grad", srcgrad.grad(function, wrt=wrt), *checker.positional)
    if gradient is None:
        return None
    gradients = dict(zip(program.wrt, gradient if len(program.wrt) > 1 else (gradient,),
                         strict=True))
    for name, value in gradients.items():
        problem = structure_problem(value, checker.args[name])
        if problem:
            checker.fail(f"grad: the gradient of `{name}` is {problem}")
        if program.structure == "dict" and name == "p" and np.any(value["c"] != 0):
            checker.fail(f"grad: p['c'] is never read, its gradient is {value['c']!r}")
    reverse = sum(inner(gradients[name], directions[name]) for name in program.wrt)
    terms = sum(inner(tree_map(np.abs, gradients[name]), tree_map(np.abs, directions[name]))
                for name in program.wrt)
    if not close(reverse, numeric, FD_RTOL, 1e-4 * (abs(float(output)) + 1.0)):
        checker.fail(f"grad: <grad, u> = {reverse!r}, finite differences {numeric!r}")
    both = checker.twice("value_and_grad", srcgrad.value_and_grad(function, wrt=wrt),
                         *checker.positional)
    if both is not None:
        if not np.allclose(both[0], output, rtol=1e-12, atol=0.0):
            checker.fail(f"value_and_grad: the value {both[0]!r}, the function's {output!r}")
        if not all(np.allclose(p, q, rtol=1e-10, atol=1e-12)
                   for p, q in zip(leaves(both[1]), leaves(gradient), strict=True)):
            checker.fail(f"value_and_grad gives {both[1]!r}, grad {gradient!r}")
    pushed = checker.twice("jvp", srcgrad.jvp(function, wrt=wrt), *checker.positional,
                           *[directions[name] for name in program.wrt])
    if pushed is not None:
        value, forward = pushed
        if not np.allclose(value, output, rtol=1e-12, atol=0.0):
            checker.fail(f"jvp: the output {value!r} is not the function's {output!r}")
        if np.ndim(forward) != 0 or not close(float(forward), reverse, MODES_RTOL,
                                               terms + 1e-300):
            checker.fail(f"jvp gives <grad, u> = {forward!r}, grad {reverse!r}")
    return gradients


def check_structures(program: Program, seed: int) -> None:
    """All the checks of the module docstring for a structure program."""
    module = load(program)
    args = draw_inputs(program, module, seed)
    checker = _Checker(program, module, args)
    output = primal(module.f, checker.positional)
    checker.unchanged("the function itself")  # else the generator made a wrong program
    assume(output is not None)
    rng = np.random.default_rng(seed + 1)
    if check_first_order(checker, rng) is not None:
        check_structure_hvp(checker, rng)


def check_structure_hvp(checker, rng):
    """Forward mode over the emitted gradient, with tangents of the parameters' structures,
    against central differences of that gradient: each leaf of the pushed tangent."""
    program, function = checker.program, checker.function
    wrt = program.wrt if len(program.wrt) > 1 else program.wrt[0]
    gradient = srcgrad.grad(function, wrt=wrt)
    directions = {name: _like(checker.args[name], rng) for name in program.wrt}
    base = gradient(*checker.positional)
    scale = 1e-3 * (max(float(np.max(np.abs(leaf))) for leaf in leaves(base)) + 1.0)
    expected = trusted(gradient, _mover(checker, directions), scale)
    pushed = checker.twice("jvp(grad(f))", srcgrad.jvp(gradient, wrt=wrt),
                           *checker.positional, *[directions[name] for name in program.wrt])
    if pushed is None:
        return
    value, tangent = pushed
    for what, got, want, rtol in (("primal", value, base, 1e-12),
                                  ("tangent", tangent, expected, FD_RTOL)):
        problem = structure_problem(got, want)
        if problem:
            checker.fail(f"jvp(grad(f)): the {what} is {problem}")
        for p, q in zip(leaves(got), leaves(want), strict=True):
            if not np.allclose(p, q, rtol=rtol, atol=1e-6 if what == "tangent" else 0.0):
                checker.fail(f"jvp(grad(f)): the {what} is {got!r}, expected {want!r}")


def _near(got, expected, what, checker, rtol=FD_RTOL, atol=1e-6):
    """Fail unless `got` has `expected`'s shape and is close to it."""
    got_shape, expected_shape = np.shape(got), np.shape(expected)
    if got_shape != expected_shape or not np.allclose(got, expected, rtol=rtol, atol=atol):
        checker.fail(f"{what}: srcgrad gives {got!r}, expected {expected!r}")


def check_higher_order(program: Program, seed: int) -> None:
    """All the checks of the module docstring for a higher-order program."""
    module = load(program)
    args = draw_inputs(program, module, seed)
    checker = _Checker(program, module, args)
    function, x = module.f, args["x"]
    output = primal(function, [x])
    checker.unchanged("the function itself")
    assume(output is not None)
    rng = np.random.default_rng(seed + 1)
    if check_first_order(checker, rng) is None:
        return
    gradient = srcgrad.grad(function)
    g = checker.call("grad", gradient, x)
    scale = 1e-3 * (float(np.max(np.abs(g))) + 1.0)
    direction = _like(x, rng)
    along = trusted(gradient, lambda step: [x + step * direction], scale)
    if np.ndim(x) == 0:
        second = checker.twice("grad(grad(f))", srcgrad.grad(gradient), x)
        if second is not None:
            _near(second, float(trusted(gradient, lambda step: [x + step], scale)),
                  "grad(grad(f))", checker)
            _near(second * direction, along, "grad(grad(f)) times a direction", checker)
    else:
        columns = [trusted(gradient, lambda step, j=j: [x + step * np.eye(4)[j]], scale)
                   for j in range(4)]
        expected = np.stack(columns, axis=-1)
        for what, derivative in (("hessian", srcgrad.hessian(function)),
                                 ("jacobian(grad(f), mode='rev')",
                                  srcgrad.jacobian(gradient, mode="rev")),
                                 ("jacobian(grad(f), mode='fwd')",
                                  srcgrad.jacobian(gradient, mode="fwd"))):
            matrix = checker.twice(what, derivative, x)
            if matrix is not None:
                _near(matrix, expected, what, checker)
    product = checker.twice("hvp", srcgrad.hvp(function), x, direction)
    if product is not None:
        _near(product, along, "hvp", checker)
    cotangent = float(rng.uniform(0.5, 1.5))
    pushed = checker.twice("jvp(vjp(f))", srcgrad.jvp(srcgrad.vjp(function), wrt=0), x,
                           cotangent, direction)
    if pushed is not None:
        _near(pushed[0], cotangent * g, "jvp(vjp(f)) primal", checker, rtol=1e-10, atol=1e-12)
        _near(pushed[1], cotangent * along, "jvp(vjp(f)) tangent", checker)


def check_program(program: Program, seed: int) -> None:
    """The checks for `program`'s kind; an example whose finite differences cannot be
    trusted is rejected."""
    try:
        if program.structure == "none":
            check_higher_order(program, seed)
        else:
            check_structures(program, seed)
    except Rejected:
        assume(False)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
          phases=PHASES)
@seed(int(SEED or 0))
@given(program=programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_structure_and_higher_order_derivatives(program, seed):
    note(program.source)
    check_program(program, seed)


def test_generated_modules_run_and_refusals_name_their_file():
    """A generated module runs as Python, and srcgrad locates an error in it."""
    program = Program(
        "import numpy as np\n\n\ndef f(p, x):\n    z = np.sort(p['a'] * x)\n"
        "    return np.sum(z * p['b'])\n", "dict", "v", ("p",))
    module = load(program)
    p = {"a": np.array([3.0, 1.0, 2.0, 0.0]), "b": np.arange(4.0), "c": np.ones(4)}
    assert module.f(p, np.ones(4)) == 14.0
    try:
        srcgrad.grad(module.f)(p, np.ones(4))
    except SrcgradError as error:
        assert re.match(r"<random-structures-\d+>:5:9: ", str(error)), str(error)
    else:
        raise AssertionError("np.sort has no rule: srcgrad should refuse it")
