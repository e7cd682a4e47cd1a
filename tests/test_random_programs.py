"""Random NumPy programs, differentiated and checked against finite differences.

Hypothesis writes functions of three parameters (an array `x` of a shape that broadcasts
into (2, 3), a Python float `y`, a (3, 3) matrix `w`) from the constructs README lists as
supported: arithmetic with broadcasting, smooth NumPy functions, reductions with and
without `keepdims`, matrix products, einsum, views (`.T`, slices, integer and boolean
indexing), rebinding (parameters too, to other shapes), tuple unpacking, conditional
expressions, augmented assignments (which write into arrays other names may view), slot
updates, `if`/`else` on data, `for` and `while` loops (nested), lists filled in a loop and
then stacked, summed or indexed, and calls to a helper function `g` the program defines.
The program is written statement by statement and each statement runs at once on the
inputs it is checked at, so every name's shape, every view and every branch taken is
known while the next one is written.

For each program and a random subset of its parameters, with a random direction `u` and
cotangent `v`: reverse mode's <J^T v, u> (`srcgrad.vjp`) and forward mode's <v, J u>
(`srcgrad.jvp`) agree to rounding (both are exact), and both agree with a central finite
difference, taken at two steps (an example where those two disagree is discarded: the
difference is unreliable there, not srcgrad). Scalar-valued programs also go through
`grad` and `value_and_grad`, whose value is the function's. A second call of each
derivative gives the same numbers, and no call changes an argument. For a quarter of
them, `srcgrad.hvp` against central differences of the gradient. A refusal passes only if
it is located (file:line and the source line).

The examples are the same at every run (`derandomize`); `SRCGRAD_FUZZ_EXAMPLES=2000
pytest tests/test_random_programs.py` runs more of them, `SRCGRAD_FUZZ_SEED=n` others, and
`SRCGRAD_FUZZ_SHRINK=1` shrinks a failing one (off by default: it takes minutes).
"""

from __future__ import annotations

import copy
import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, seed, settings
from hypothesis import strategies as st

import srcgrad
from fuzzing import generated_module
from srcgrad.errors import SrcgradError

FULL = (2, 3)  # every value broadcasts into it, so any two values can be combined
X_SHAPES = [(2, 3), (1, 3), (2, 1), (3,), (1, 1), ()]
PARAMETERS = ("x", "y", "w")
EXAMPLES = int(os.environ.get("SRCGRAD_FUZZ_EXAMPLES", "150"))
# Shrinking a failure compiles hundreds of programs (minutes); SRCGRAD_FUZZ_SHRINK=1 asks for it.
PHASES = (Phase.explicit, Phase.generate) + (
    (Phase.shrink,) if os.environ.get("SRCGRAD_FUZZ_SHRINK") == "1" else ())
SEED = os.environ.get("SRCGRAD_FUZZ_SEED")

# Expressions, by the number of operands (A, B, C) they take: smooth where finite
# differences are taken (the kinks of maximum, abs and where are met with probability 0).
UNARY = [
    "-{A}", "{A} ** 2", "np.tanh({A})", "np.sin({A})", "np.cos({A})", "np.exp(np.tanh({A}))",
    "np.log(1.5 + {A} * {A})", "np.sqrt(1.2 + {A} * {A})", "np.square({A})",
    "np.arctan({A})", "1.0 / (1.0 + np.exp(-{A}))", "np.abs({A})", "(1.2 + {A} * {A}) ** 0.5",
    "np.sum({A})", "{A}.mean()", "np.sum({A}, axis=0)", "np.sum({A}, axis=0, keepdims=True)",
    "{A}.sum(axis=-1, keepdims=True)", "np.mean({A}, axis=-1, keepdims=True)",
    "np.max({A}, axis=0)", "{A} @ w", "w @ {A}", "{A}.T", "{A}[::-1]", "{A}[..., 1:2]",
    "{A}[0]", "{A}[:, [2, 0, 0]]", "{A}[[1, 1]]", "{A}[{A} > 0.1]", "np.sum({A}[{A} > 0])",
    "{A}.reshape(-1)", "{A}.T @ {A}", "np.tanh({A}) * 2.0", "0.5 * {A}", "{A} - 1.0",
    "np.clip({A}, -0.8, 0.9)", "np.cumsum({A}, axis=-1)", "np.flip({A}, axis=-1)",
    "np.concatenate([{A}, {A}], axis=-1)[..., :3]", "np.stack([{A}, -{A}])[1]",
    "np.outer({A}, {A})[:2, :3]", "np.prod(1.0 + 0.1 * {A}, axis=-1, keepdims=True)",
    "np.linalg.norm({A})", "np.dot({A}, w)", "np.einsum('...j,jk->...k', {A}, w)",
    "np.broadcast_to({A}, (2, 3))", "np.expand_dims({A}, 0)", "np.squeeze({A})",
]
BINARY = [
    "{A} + {B}", "{A} - {B}", "{A} * {B}", "{A} / (1.5 + {B} * {B})",
    "(1.2 + {A} * {A}) ** {B}", "np.maximum({A}, {B})", "np.minimum({A}, {B})",
    "np.where({A} > {B}, {A}, 2.0 * {B})", "np.hypot({A}, {B})", "np.arctan2({A}, 1.5 + {B} ** 2)",
    "{A} @ {B}.T", "{A}.T @ {B}", "np.dot({A}, {B})", "np.tanh({A} * {B} + 0.5)",
]
TERNARY = ["{A} * {B} + {C}", "np.where({A} > 0, {B}, {C})", "{A} @ ({B}.T @ {C})"]
AUGMENTED = ["+=", "-=", "*="]


def _fits(value) -> bool:
    """A value the next statement can combine with any other: it broadcasts into FULL,
    is finite and of moderate size (float64 or a Python float)."""
    if isinstance(value, float):
        return abs(value) < 1e4
    if not isinstance(value, (np.ndarray, np.floating)) or np.asarray(value).dtype != np.float64:
        return False
    try:
        fits = np.broadcast_shapes(np.shape(value), FULL) == FULL
    except ValueError:
        return False
    return fits and bool(np.all(np.isfinite(value))) and float(np.max(np.abs(value))) < 1e4


def _run(text: str, scope: dict, functions: dict | None = None) -> bool:
    """Run one statement on the scope (`functions`: the program's helpers), quietly; False
    if it failed or gave a value that does not fit."""
    try:
        with np.errstate(all="raise"):
            exec(text, {"np": np, **(functions or {})}, scope)  # noqa: S102 - generated text
    except Exception:
        return False
    return all(_fits(value) for name, value in scope.items()
               if name != "w" and not isinstance(value, (int, list)))


class Writer:
    """Writes a program statement by statement, running each on `scope` as it goes."""

    def __init__(self, data, scope: dict):
        self.data, self.scope, self.lines, self.fresh = data, scope, [], itertools.count()
        self.functions: dict = {}  # the helper `g` once written, for the statements to call
        self.helper = ""

    def names(self, scope=None) -> list[str]:
        scope = self.scope if scope is None else scope
        return [n for n in scope if n not in ("w", "i")]

    def operand(self, scope, constants: bool = False) -> str:
        names = self.names(scope) + (["0.7"] if constants else [])
        return self.data.draw(st.sampled_from(names), "operand")

    def expression(self, scope, depth: int = 0) -> str:
        kind = self.data.draw(st.sampled_from(["unary", "binary", "binary", "ternary"]))
        forms = {"unary": UNARY, "binary": BINARY + (["g({A}, {B})"] if self.helper else []),
                 "ternary": TERNARY}[kind]
        form = self.data.draw(st.sampled_from(forms), "form")
        fill = {}
        for slot in "ABC":
            if "{" + slot + "}" in form:
                nested = depth < 1 and self.data.draw(st.booleans(), "nested")
                fill[slot] = (f"({self.expression(scope, depth + 1)})" if nested
                              else self.operand(scope, constants=kind != "unary"))
        return form.format(**fill)

    def arrays_of_our_own(self, scope) -> list[str]:
        """Local arrays that share no memory with an argument: those written into."""
        return [n for n, v in scope.items() if n not in PARAMETERS and isinstance(v, np.ndarray)
                and v.ndim and not any(np.shares_memory(v, scope.get(p, 0.0))
                                       for p in ("x", "w") if isinstance(scope.get(p), np.ndarray))]

    def statement(self, scope, indent: str, depth: int = 0) -> list[str] | None:
        """One statement (or block) that ran on `scope`, or None if the draw did not fit."""
        kind = self.data.draw(st.sampled_from(
            ["assign", "assign", "assign", "rebind", "augment", "slot", "unpack", "choose"]
            + (["if", "for", "while", "list"] if depth < 2 else [])), "statement")
        if kind in ("assign", "rebind"):
            targets = [n for n in self.names(scope) if n not in PARAMETERS]
            target = (self.data.draw(st.sampled_from(targets)) if kind == "rebind" and targets
                      else f"v{next(self.fresh)}")
            lines = [f"{target} = {self.expression(scope)}"]
        elif kind == "unpack":
            first, second = f"v{next(self.fresh)}", f"v{next(self.fresh)}"
            lines = [f"{first}, {second} = {self.expression(scope)}, {self.expression(scope)}"]
        elif kind == "choose":
            condition = self.condition(scope)
            lines = [f"v{next(self.fresh)} = ({self.expression(scope)} if {condition} "
                     f"else {self.expression(scope)})"]
        elif kind == "augment":
            targets = [n for n in self.names(scope) if n != "x"] + self.arrays_of_our_own(scope)
            target = self.data.draw(st.sampled_from(sorted(set(targets))))
            operator = self.data.draw(st.sampled_from(AUGMENTED))
            lines = [f"{target} {operator} {self.expression(scope)}"]
        elif kind == "slot":
            targets = self.arrays_of_our_own(scope)
            if not targets:
                return None
            target = self.data.draw(st.sampled_from(targets))
            index = self.data.draw(st.sampled_from(["0", "-1", "..., 0", "1:", "::2",
                                                    f"{target} > 0"]))
            operator = self.data.draw(st.sampled_from(["=", "+=", "*="]))
            value = self.operand(scope) if index.endswith("> 0") else self.expression(scope)
            lines = [f"{target}[{index}] {operator} {value}"]
        elif kind == "if":
            lines = [f"if {self.condition(scope)}:"]
            for branch in ("body", "orelse"):
                if branch == "orelse":
                    lines.append("else:")
                trial = copy.deepcopy(scope)  # the branch not taken must be valid too
                body = self.block(trial, depth + 1)
                if body is None:
                    return None
                lines += ["    " + line for line in body]
        elif kind == "for":
            count = self.data.draw(st.integers(1, 3), "trips")
            trial = dict(copy.deepcopy(scope), i=0)
            body = self.block(trial, depth + 1, uses_index=True)
            if body is None:
                return None
            lines = [f"for i in range({count}):"] + ["    " + line for line in body]
        elif kind == "while":
            counter, bounded = f"k{next(self.fresh)}", self.operand(scope)
            count = self.data.draw(st.integers(1, 4), "trips")
            trial = copy.deepcopy(scope)
            body = self.block(trial, depth + 1)
            if body is None:
                return None
            lines = ([f"{counter} = 0",
                      f"while {counter} < {count} and np.sum({bounded} * {bounded}) < 40.0:"]
                     + ["    " + line for line in body] + [f"    {counter} += 1"])
        else:  # a list filled in a loop, then stacked, summed or its last entry taken
            items, count = f"items{next(self.fresh)}", self.data.draw(st.integers(1, 3))
            trial = dict(copy.deepcopy(scope), i=0)
            body = self.block(trial, depth + 1, uses_index=True)
            if body is None:
                return None
            entry = self.expression(trial)
            ending = self.data.draw(st.sampled_from(
                ["np.mean(np.stack({L}), axis=0)", "sum({L})", "{L}[-1]", "{L}[0] * {L}[-1]"]))
            lines = ([f"{items} = []", f"for i in range({count}):"]
                     + ["    " + line for line in body]
                     + [f"    {items}.append({entry})",
                        f"v{next(self.fresh)} = {ending.format(L=items)}"])
        text = "\n".join(lines)
        if not _run(text, copy.deepcopy(scope), self.functions):  # (a trial: it may write)
            return None
        before = set(scope)
        _run(text, scope, self.functions)
        for name in [n for n in scope if n not in before and (n == "i" or n[0] in "ki")]:
            del scope[name]  # (counters, lists and a new loop index are not operands)
        return [indent + line for line in lines]

    def condition(self, scope) -> str:
        form = self.data.draw(st.sampled_from(["np.sum({A}) > 0.0", "{A}.mean() < 0.3",
                                               "y > 0", "np.max({A}) > 0.5"]), "condition")
        return form.format(A=self.operand(scope))

    def block(self, scope, depth: int, uses_index: bool = False) -> list[str] | None:
        lines = []
        for _ in range(self.data.draw(st.integers(1, 2), "block length")):
            written = self.statement(scope, "", depth)
            if written is None:
                return None
            lines += written
        if uses_index and self.data.draw(st.booleans(), "index used"):
            target = self.data.draw(st.sampled_from(self.names(scope)))
            line = f"{target} = {target} * 0.9 + np.tanh({target} + 0.3 * i)"
            if not _run(line, copy.deepcopy(scope), self.functions):
                return None
            _run(line, scope, self.functions)
            lines.append(line)
        return lines

    def write_helper(self) -> None:
        """`g(a, b)`, a function of two values that the program may call (srcgrad
        differentiates it too), written and run on an array and a float like x and y."""
        helper = Writer(self.data, {"a": np.copy(self.scope["x"]) if isinstance(
            self.scope["x"], np.ndarray) else self.scope["x"], "b": 0.4})
        helper.fresh = itertools.count(100)
        for _attempt in range(5):
            lines = helper.statement(helper.scope, "    ", depth=2)
            if lines is not None:
                break
        else:
            return
        names = [n for n in helper.scope if n not in ("a", "b")] or ["a"]
        result = self.data.draw(st.sampled_from(names), "helper result")
        text = "def g(a, b):\n" + "\n".join(lines) + f"\n    return {result} * b + a\n"
        functions: dict = {"np": np}
        exec(text, functions)  # noqa: S102 - generated text
        self.helper, self.functions = text, {"g": functions["g"]}

    def program(self) -> str:
        if self.data.draw(st.integers(0, 3), "helper") == 0:
            self.write_helper()
        for _ in range(self.data.draw(st.integers(1, 6), "length")):
            for _attempt in range(5):
                written = self.statement(self.scope, "    ")
                if written is not None:
                    self.lines += written
                    break
        names = [n for n in self.names() if n not in PARAMETERS] or ["x"]
        result = self.data.draw(st.sampled_from(names), "result")
        form = self.data.draw(st.sampled_from(["np.sum({R} * {R})", "np.sum(np.sin({R}))",
                                               "{R}", "{R} * x"]), "return")
        body = "\n".join(self.lines + [f"    return {form.format(R=result)}"])
        return f"{self.helper}\n\ndef f(x, y, w):\n{body}\n" if self.helper else (
            f"def f(x, y, w):\n{body}\n")


def _compile(text: str):
    """The function `f` of `text`, its source compiled where srcgrad can read it."""
    return generated_module(text, "program", np=np).f


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _call(derivative, args, extra=()):
    """Call a derivative with `extra` (its cotangent or tangents, by position); a refusal
    must be located."""
    try:
        keywords = dict(zip(derivative.extra_parameters, extra)) if extra else {}
        return derivative(*args, **keywords)
    except SrcgradError as error:
        message = str(error)
        assert "<random-program-" in message and ":" in message, f"unlocated: {message}"
        assume(False)  # a located refusal: fine, but nothing to check numerically


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def _close(a, b, rtol=1e-12, atol=1e-13) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_close(p, q, rtol, atol) for p, q in zip(a, b))
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol)


def _inputs(rng, x_shape):
    x = rng.standard_normal(x_shape)
    return [x if x_shape else float(x), float(rng.standard_normal()),
            rng.standard_normal((3, 3)) * 0.5]


def _program(data):
    """A program, the arguments it is checked at, the parameters to differentiate, a seed."""
    seed = data.draw(st.integers(0, 2 ** 32 - 1), "seed")
    x_shape = data.draw(st.sampled_from(X_SHAPES), "x shape")
    args = _inputs(np.random.default_rng(seed), x_shape)
    scope = {n: np.copy(a) if isinstance(a, np.ndarray) else a for n, a in zip(PARAMETERS, args)}
    text = Writer(data, scope).program()
    wrt = data.draw(st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=3, unique=True),
                    "wrt")
    return text, args, tuple(sorted(wrt)), seed, data.draw(st.integers(0, 3), "hvp") == 0


def _finite_difference(f, args, wrt, directions, cotangent, step) -> float:
    """Central difference of <cotangent, f> along the directions (on copies of the
    arguments: a program may write into an argument's array through a view)."""
    def moved(sign):
        values = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        for position, direction in zip(wrt, directions):
            values[position] = values[position] + sign * step * direction
        return _inner(f(*values), cotangent)
    with np.errstate(all="raise"):
        return (moved(1.0) - moved(-1.0)) / (2.0 * step)


def _check_second_order(f, args, position, direction, rng) -> None:
    """H u from `srcgrad.hvp` (forward mode over the emitted gradient) against central
    differences of srcgrad's gradient (checked above) along u, paired with a random w."""
    weights = rng.standard_normal(np.shape(args[position]))
    gradient = srcgrad.grad(f, wrt=position)

    def moved(step) -> float:
        values = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        values[position] = values[position] + step * direction
        with np.errstate(all="raise"):
            return _inner(_call(gradient, values), weights)

    numbers = [(moved(h) - moved(-h)) / (2.0 * h) for h in (1e-4, 1e-5)]
    assume(abs(numbers[0] - numbers[1]) <= 1e-5 * (1.0 + abs(numbers[1])))
    product = _call(srcgrad.hvp(f, wrt=position), [*args, direction])
    assert np.shape(product) == np.shape(args[position]), f"H u shaped {np.shape(product)}"
    analytic = _inner(product, weights)
    assert abs(analytic - numbers[1]) <= 1e-4 * (1.0 + abs(numbers[1])) + 10 * abs(
        numbers[0] - numbers[1]), f"hvp {analytic!r} against differences of grad {numbers}"


def _check(text: str, args: list, wrt: tuple, seed: int, second_order: bool = False) -> None:
    note(text)
    note(f"wrt={wrt}, x shape {np.shape(args[0])}, seed {seed}")
    f = _compile(text)
    kept = [np.copy(a) for a in args]
    try:
        with np.errstate(all="raise"):
            output = f(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
    except Exception:  # (the writer ran it: only overflow on other inputs is expected)
        assume(False)
    assume(_fits(output) or isinstance(output, np.ndarray) and np.all(np.isfinite(output)))
    rng = np.random.default_rng(seed + 1)
    scalar = np.ndim(output) == 0
    cotangent = float(rng.standard_normal()) if scalar else rng.standard_normal(np.shape(output))
    directions = [rng.standard_normal(np.shape(args[p])) for p in wrt]
    directions = [d if np.ndim(d) else float(d) for d in directions]
    numbers = [_finite_difference(f, args, wrt, directions, cotangent, h) for h in (1e-5, 1e-6)]
    assume(abs(numbers[0] - numbers[1]) <= 1e-6 * (1.0 + abs(numbers[1])))
    numeric = numbers[1]

    pullback = srcgrad.vjp(f, wrt=wrt)
    pulled = _call(pullback, args, [cotangent])
    assert all(np.shape(g) == np.shape(args[p]) for g, p in zip(pulled, wrt)), (
        f"gradient shapes {[np.shape(g) for g in pulled]} for {[np.shape(args[p]) for p in wrt]}")
    reverse = sum(_inner(g, d) for g, d in zip(pulled, directions))
    again = _call(pullback, args, [cotangent])
    assert _same(again, pulled), "a second vjp call differs"

    pushforward = srcgrad.jvp(f, wrt=wrt)
    value, pushed = _call(pushforward, args, directions)
    forward = _inner(pushed, cotangent)
    assert np.shape(pushed) == np.shape(output), f"tangent shape {np.shape(pushed)}"
    assert _close(value, output), f"jvp's value {value} is not the function's {output}"

    scale = 1.0 + abs(reverse) + abs(forward)
    assert abs(reverse - forward) <= 1e-10 * scale, (
        f"reverse mode {reverse!r} and forward mode {forward!r} disagree")
    tolerance = 1e-5 * (1.0 + abs(numeric)) + 10 * abs(numbers[0] - numbers[1])
    assert abs(reverse - numeric) <= tolerance, (
        f"srcgrad {reverse!r} against finite differences {numeric!r}")

    if scalar:
        gradient = _call(srcgrad.grad(f, wrt=wrt), args)
        assert _close(tuple(g * cotangent for g in gradient), pulled), "grad is not vjp(1)"
        result, gradient = _call(srcgrad.value_and_grad(f, wrt=wrt), args)
        assert _close(result, output), f"value_and_grad's value {result} is not {output}"
        if second_order:
            _check_second_order(f, args, wrt[0], directions[0], rng)
    assert all(_same(a, b) for a, b in zip(args, kept)), "a derivative changed an argument"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
          phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@seed(int(SEED or 0))
@given(st.data())
def test_random_programs_match_finite_differences_in_both_modes(data):
    _check(*_program(data))
