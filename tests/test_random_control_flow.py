"""Random programs with control flow: srcgrad's derivatives against each other and against
finite differences.

Hypothesis draws a small program description (statements nested in `for` loops over ranges
and rows, `while` loops with data-dependent conditions and a counter bound, `if`/`elif`/
`else` on data and on loop indices, `break`, `continue`, early `return`, slot updates of
arrays the function makes, lists built with `.append` and stacked, summed or indexed) over
smooth, bounded elementwise operations, reductions and `@ w`. The description is rendered
to Python source, compiled under a unique `<random-control-flow-N>` file name and registered
in `linecache` so that srcgrad can read it. Every value in a program has one of three
shapes, tracked while drawing so that the program always runs: the shape of `x` ("a"), of a
row `x[i]` ("r"), or a number ("s").

For random float64 inputs, a random cotangent v and a random direction u per differentiated
parameter, `check_program` requires:

- reverse and forward mode to agree: <J^T v, u> from `srcgrad.vjp` and <v, J u> from
  `srcgrad.jvp` (each tangent alone, then all together) to ~1e-10, and the primal `jvp`
  returns to be the function's output;
- both to agree with a central finite difference of <v, f> along u; the difference is taken
  at steps 1e-5 and 1e-6, and where the two disagree (a branch or a trip count changes
  within the step) the example is rejected rather than judged;
- for a one-element output, `srcgrad.grad` and `srcgrad.value_and_grad` to give the vjp of
  a cotangent of ones, and the function's value;
- a second call of each derivative with the same arguments (the cached fast path) to give
  the same results bit for bit, without changing the first call's results; no call to
  change an argument, and no result to share memory with an argument.

A srcgrad refusal (a `SrcgradError`) passes only when its message is located in the program
(`file:line:`); the refusals met are collected in `REFUSALS`. Anything else srcgrad raises
fails the example, with the program's source and inputs in the message.

SRCGRAD_FUZZ_EXAMPLES sets the number of examples (default 250, about 35 seconds on two cores),
SRCGRAD_FUZZ_SEED=n draws other examples (by default the same at every run).
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import traceback
from dataclasses import dataclass

import numpy as np
from hypothesis import Phase, assume, given, note, seed, settings
from hypothesis import strategies as st

import srcgrad
from fuzzing import close, generated_module, unparenthesized
from srcgrad.errors import SrcgradError

EXAMPLES = int(os.environ.get("SRCGRAD_FUZZ_EXAMPLES", "250"))
SEED = os.environ.get("SRCGRAD_FUZZ_SEED")
# Shrinking a failure compiles hundreds of programs (minutes); SRCGRAD_FUZZ_SHRINK=1 asks for it.
PHASES = (Phase.explicit, Phase.generate) + (
    (Phase.shrink,) if os.environ.get("SRCGRAD_FUZZ_SHRINK") == "1" else ())
SHAPES = ((4,), (3, 4), (1, 4), (3, 1))
CONSTANTS = ("0.5", "1.3", "0.7", "2.0", "0.25", "(-0.4)", "(-1.1)")
THRESHOLDS = ("0.0", "0.3", "(-0.2)", "1.0", "(-0.8)")
INDEX_NAMES = ("i", "j", "m", "q")
STEPS = (1e-5, 1e-6)
MODES_RTOL = 1e-10  # reverse against forward mode: both exact
FD_RTOL = 1e-6  # srcgrad against the finite difference at step 1e-5
FD_AGREE_RTOL = 1e-6  # the two finite differences must agree this well to be trusted
REFUSALS: list[tuple] = []  # located refusals met: (message, program source)


# -- program descriptions ----------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A drawn program: its statements (nested tuples), argument shapes and `wrt`."""

    body: tuple
    shape: tuple
    has_w: bool
    wrt: tuple

    def __repr__(self) -> str:  # Hypothesis prints this; the source follows it in full
        return f"Program(shape={self.shape}, has_w={self.has_w}, wrt={self.wrt})"

    def _repr_pretty_(self, printer, cycle):  # what Hypothesis' printer asks a dataclass
        printer.text(repr(self))

    @property
    def params(self) -> tuple:
        return ("x", "y", "w") if self.has_w else ("x", "y")

    @property
    def source(self) -> str:
        return render(self)


def render(program: Program) -> str:
    """The Python source of `program`: `import numpy as np` and `def f(x, y[, w])`."""
    lines = ["import numpy as np", "", "", f"def f({', '.join(program.params)}):"]
    _render_block(program.body, 1, lines)
    return "\n".join(lines) + "\n"


def _render_block(block, depth, lines):
    """Append the lines of a statement list at indentation `depth`."""
    pad = "    " * depth
    for node in block:
        kind = node[0]
        if kind == "line":
            lines.append(pad + node[1])
        elif kind == "if":
            for number, (condition, body) in enumerate(node[1]):
                lines.append(f"{pad}{'if' if number == 0 else 'elif'} {condition}:")
                _render_block(body, depth + 1, lines)
            if node[2]:
                lines.append(pad + "else:")
                _render_block(node[2], depth + 1, lines)
        elif kind in ("for", "while"):
            lines.append(f"{pad}{kind} {node[1]}:")
            _render_block(node[2], depth + 1, lines)
            if node[3]:
                lines.append(pad + "else:")
                _render_block(node[3], depth + 1, lines)
        else:
            raise ValueError(f"unknown statement {node!r}")


def _not_bare(text: str) -> str:
    """`text`, or `np.tanh(text)` where it is an argument or a row of one (`x[i]`, `xr0`):
    an update in place of the name it is bound to would write into the caller's array.
    Local names stay bare: sharing among them is the program's own business."""
    text = unparenthesized(text)
    return f"np.tanh({text})" if re.fullmatch(r"(x|w|xr\d+|x\[[^\]]*\])", text) else text


@dataclass
class _Loop:
    """An enclosing loop while drawing: its index name (or None) and whether `x[index]` is
    in bounds for every value of the index."""

    index: str | None
    rows_ok: bool


class _Writer:
    """Draws one program's statements, tracking the shape kind of every name in scope."""

    def __init__(self, draw, shape, has_w):
        self.draw = draw
        self.shape = shape
        self.has_w = has_w
        self.names = {"x": "a", "y": "s"}  # readable name -> "a" | "r" | "s"
        self.slots = set()  # local arrays of x's shape that slot updates may write
        self.rows = []  # row names of `for xr in x` loops in scope
        self.ints = []  # integer names in scope (loop indices, while counters)
        self.loops: list[_Loop] = []
        self.carried = []  # (`hs[-1]`, kind) of the lists being appended to, in their loops
        self.nesting = 0
        self.budget = draw(st.integers(3, 12))
        self.serial = itertools.count()
        self.outputs = draw(st.sampled_from((("a",), ("r",), ("s",), ("s",), ("a", "s"),
                                             ("r", "a"))))

    def value(self, kind, depth=2):
        """`expr` as a statement's value: a bare name or subscript (an alias of an argument
        or of a row of one, which an update in place would then write into) becomes
        `np.tanh(...)` of it."""
        return _not_bare(self.expr(kind, depth))

    def pick(self, options):
        return self.draw(st.sampled_from(tuple(options)))

    def fresh(self, prefix):
        return f"{prefix}{next(self.serial)}"

    # -- expressions ---------------------------------------------------------------------

    def leaf(self, kind):
        """A name or subscript whose value has exactly shape kind `kind`."""
        options = [name for name, k in self.names.items() if k == kind]
        if kind == "r":
            options += ["x[0]", "x[-1]", "np.sum(x, axis=0)", *self.rows]
            for loop in self.loops:
                if loop.index is not None and loop.rows_ok:
                    options += [f"x[{loop.index}]"] * 2 + [f"x[{loop.index} - 1]"]
                    options += [f"{slot}[{loop.index}]" for slot in self.slots]
                    options += [f"{slot}[{loop.index} - 1]" for slot in self.slots]
        if kind == "s":
            options += [f"({self.pick(CONSTANTS)} * {name})" for name in self.ints[-1:]]
            options += ["y"] * 2
        options += [text for text, k in self.carried if k == kind]
        return self.pick(options)

    def operand(self, kind, depth):
        """An expression that broadcasts to shape kind `kind` (its kind or a smaller one)."""
        options = {"a": ("a", "a", "r", "s", "keep"), "r": ("r", "r", "s"), "s": ("s",)}[kind]
        choice = self.pick(options)
        if choice == "keep":
            inner = self.expr("a", depth)
            if self.draw(st.booleans()):
                return f"np.sum({unparenthesized(inner)}, axis=-1, keepdims=True)"
            return f"{inner}.mean(axis=-1, keepdims=True)"
        if choice == "s" and self.draw(st.integers(0, 3)) == 0:
            return self.pick(CONSTANTS)
        return self.expr(choice, depth)

    def expr(self, kind, depth=2):
        """An expression of exactly shape kind `kind`, nested at most `depth` deep."""
        if depth <= 0:
            return self.leaf(kind)
        forms = ["leaf", "unary", "unary", "binary", "binary", "divide", "square", "reduce",
                 "choose"]
        if self.has_w and self.shape[-1] == 4 and (kind == "a" or (
                kind == "r" and len(self.shape) == 2)):
            forms.append("matmul")
        form = self.pick(forms)
        sub = depth - 1
        if form == "leaf":
            return self.leaf(kind)
        if form == "unary":
            inner = unparenthesized(self.expr(kind, sub))
            return self.pick((f"np.tanh({inner})", f"np.sin({inner})", f"np.cos({inner})",
                              f"np.exp(np.tanh({inner}))", f"np.log(1.5 + ({inner}) ** 2)",
                              f"(-{self.leaf(kind)})"))
        if form == "binary":
            left, right = self.expr(kind, sub), self.operand(kind, sub)
            if self.draw(st.booleans()):
                left, right = right, left
            return f"({left} {self.pick('+-*')} {right})"
        if form == "divide":
            below = self.operand(kind, sub)
            return f"({self.expr(kind, sub)} / (1.5 + {below} * {below}))"
        if form == "square":
            return f"({self.expr(kind, sub)} ** 2)"
        if form == "choose":
            return (f"({self.value(kind, sub)} if {self.condition(depth=0)} "
                    f"else {self.value(kind, sub)})")
        if form == "matmul":
            return f"np.tanh({self.expr(kind, sub)} @ w)"
        return self.reduction(kind, sub)

    def reduction(self, kind, depth):
        """A reduction of a larger kind down to `kind` (or an expression of `kind`)."""
        if kind == "a":
            return self.expr("a", depth)
        if kind == "r":
            inner = self.expr("a", depth)
            return self.pick((f"np.sum({unparenthesized(inner)}, axis=0)", f"{inner}.mean(axis=0)"))
        source = self.pick("ar")
        inner = self.expr(source, depth)
        if source == "r":
            return self.pick((f"np.sum({unparenthesized(inner)})", f"np.mean({unparenthesized(inner)})"))
        return self.pick((f"np.sum({unparenthesized(inner)})", f"{inner}.mean()",
                          f"np.mean({unparenthesized(inner)})"))

    def condition(self, allow_index=True, depth=1):
        """A branch condition: on data, or on an enclosing loop's index."""
        indices = [loop.index for loop in self.loops if loop.index is not None]
        forms = ["data", "data", "data", "scalar"] + (["and", "or", "not"] if depth else [])
        if allow_index and indices:
            forms += ["index", "index", "index"]
        form = self.pick(forms)
        if form == "index":
            index = self.pick(indices)
            return self.pick((f"{index} % 2 == 0", f"{index} == 0", f"{index} > 0",
                              f"{index} < 2", f"{index} % 3 == 1"))
        if form == "scalar":
            return f"{unparenthesized(self.expr('s', depth))} > {self.pick(THRESHOLDS)}"
        if form in ("and", "or"):
            left = self.condition(allow_index, depth - 1)
            right = self.condition(allow_index, depth - 1)
            return f"({left}) {form} ({right})"
        if form == "not":
            return f"not ({self.condition(allow_index, depth - 1)})"
        kind = self.pick("aars")
        inner = unparenthesized(self.expr(kind, depth))
        if kind == "a" and self.draw(st.booleans()):
            return self.pick((f"np.max({inner}) < {self.pick(THRESHOLDS)}",
                              f"({inner}).mean() > {self.pick(THRESHOLDS)}"))
        return f"np.sum({inner}) > {self.pick(THRESHOLDS)}"

    # -- statements ----------------------------------------------------------------------

    def block(self, low=1, high=3):
        """A statement list; names first bound in it are out of scope after it."""
        saved = (dict(self.names), set(self.slots), list(self.ints))
        self.nesting += 1
        count = self.draw(st.integers(low, high))
        body = [self.statement() for _ in range(count)]
        self.nesting -= 1
        self.names, self.slots, self.ints = saved[0], saved[1], saved[2]
        return body

    def statement(self):
        """One statement of any kind the context allows."""
        self.budget -= 1
        forms = ["assign", "assign", "update", "augment", "new", "swap"]
        if self.slots:
            forms += ["slot", "slot"]
        if self.budget > 0 and self.nesting < 3:
            forms += ["if", "if", "for", "for", "while", "list", "new_slot"]
        if self.loops:
            forms += ["jump"]
        forms += ["return"]
        form = self.pick(forms)
        return getattr(self, f"_{form}")()

    def _new(self):
        kind = self.pick("aars")
        text = self.value(kind)
        name = self.fresh(kind)
        self.names[name] = kind
        return ("line", f"{name} = {text}")

    def _new_slot(self):
        name = self.fresh("h")
        self.names[name] = "a"
        self.slots.add(name)
        return ("line", f"{name} = {self.pick(('np.zeros_like(x)', 'np.ones_like(x) * 0.5'))}")

    def _target(self):
        """An existing local name to rebind (never a parameter), or None."""
        names = [name for name in self.names if name not in ("x", "y", "w")]
        return self.pick(names) if names else None

    def _assign(self):
        target = self._target()
        if target is None:
            return self._new()
        kind = self.names[target]
        return ("line", f"{target} = {self.value(kind)}")

    def _update(self):
        """A loop-carried style update: `h = np.tanh(h * c + e)`."""
        target = self._target()
        if target is None:
            return self._new()
        kind = self.names[target]
        squash = self.pick(("np.tanh", "np.sin", ""))
        inner = f"{target} * {self.pick(CONSTANTS)} + {self.operand(kind, 1)}"
        return ("line", f"{target} = {squash}({inner})" if squash else f"{target} = {inner}")

    def _swap(self):
        """`a, b = e1, e2` over two names of one kind (each value may read both)."""
        kind = self.pick("aars")
        targets = [name for name, k in self.names.items() if k == kind and name not in "xyw"]
        if len(targets) < 2:
            return self._new()
        first, second = self.draw(st.permutations(targets))[:2]
        return ("line", f"{first}, {second} = {self.value(kind, 1)}, {self.value(kind, 1)}")

    def _augment(self):
        target = self._target()
        if target is None:
            return self._new()
        kind = self.names[target]
        operator = self.pick(("+=", "+=", "-=", "*="))
        value = self.operand(kind, 1)
        if operator == "*=":
            value = f"np.tanh({unparenthesized(value)})"
        return ("line", f"{target} {operator} {unparenthesized(value)}")

    def _slot(self):
        slot = self.pick(sorted(self.slots))
        indices = [loop.index for loop in self.loops if loop.index is not None and loop.rows_ok]
        index = self.pick(indices + ["0", "-1"])
        value = unparenthesized(self.expr("r", 1))
        form = self.pick(("=", "+=", "carry"))
        if form == "carry":
            value = f"np.tanh({slot}[{index}] * {self.pick(CONSTANTS)} + {value})"
            form = "="
        return ("line", f"{slot}[{index}] {form} {value}")

    def _return(self):
        """`if cond: return ...` (a bare return would leave dead code behind it)."""
        return ("if", [(self.condition(), [self.returning()])], [])

    def returning(self):
        values = ", ".join(unparenthesized(self.expr(kind)) for kind in self.outputs)
        return ("line", f"return {values}")

    def _jump(self):
        """`if cond: break` or `continue`, in the innermost loop."""
        word = self.pick(("break", "continue"))
        return ("if", [(self.condition(), [*self.block(0, 1), ("line", word)])], [])

    def _if(self):
        """`if`/`elif`/`else`; with an `else`, maybe a new name that every branch binds."""
        count = self.draw(st.integers(1, 3))
        has_else = self.draw(st.booleans())
        kind = self.pick("aars") if has_else and self.draw(st.booleans()) else None
        conditions = [self.condition() for _ in range(count)]
        blocks = []
        for _ in range(count + has_else):
            tail = self._tail()
            body = self.block()
            if kind is not None:
                body.append(("line", "NEW = " + self.value(kind)))
            blocks.append(body + ([tail] if tail is not None else []))
        if kind is not None:
            name = self.fresh(kind)
            blocks = [[("line", node[1].replace("NEW", name, 1))
                       if node[0] == "line" and node[1].startswith("NEW = ") else node
                       for node in body] for body in blocks]
            self.names[name] = kind
        branches = list(zip(conditions, blocks[:count]))
        return ("if", branches, blocks[count] if has_else else [])

    def _tail(self):
        """What may end a branch: nothing, a `return`, or a `break`/`continue` in a loop."""
        options = [None] * 5 + ["return"] + (["break", "continue"] if self.loops else [])
        choice = self.pick(options)
        if choice == "return":
            return self.returning()
        return ("line", choice) if choice else None

    def _range(self, rows_needed=False):
        """A `range(...)` header text, its index name, and whether `x[index]` is in bounds."""
        outer = [loop for loop in self.loops if loop.index is not None]
        options = ["len", "shape", "const", "const"]
        if outer and not rows_needed:
            options += ["outer"]
        choice = self.pick(options)
        if choice == "outer":
            loop = self.pick(outer)
            text = self.pick((f"range({loop.index})", f"range({loop.index} + 1)"))
            return text, loop.rows_ok
        if choice == "const":
            count = self.draw(st.integers(1, 4))
            return f"range({count})", count <= self.shape[0]
        # (a list's loop must run: `np.stack` of an empty list fails)
        if choice == "shape" and self.draw(st.booleans()) and not (
                rows_needed and self.shape[0] == 1):
            return "range(1, x.shape[0])", True
        return ("range(len(x))" if choice == "len" else "range(x.shape[0])"), True

    def _for(self, append_to=None):
        """A `for` loop over a range (maybe reversed), over the rows of x, or `enumerate(x)`."""
        index = INDEX_NAMES[sum(loop.index is not None for loop in self.loops)]
        form = self.pick(("range", "range", "range", "reversed", "rows", "enumerate"))
        row = None
        if form in ("rows", "enumerate"):
            row = self.fresh("xr")
            header = f"{row} in x" if form == "rows" else f"{index}, {row} in enumerate(x)"
            loop = _Loop(index if form == "enumerate" else None, True)
        else:
            text, rows_ok = self._range(rows_needed=append_to is not None)
            if form == "reversed":
                text = f"reversed({text})"
            header = f"{index} in {text}"
            loop = _Loop(index, rows_ok)
        self.loops.append(loop)
        if row is not None:
            self.rows.append(row)
        if loop.index is not None:
            self.ints.append(loop.index)
        first = []
        if append_to is not None:
            name, kind, started = append_to
            self.carried.append((f"{name}[-1]", kind) if started else (None, None))
            first = [("line", f"{name}.append({self.value(kind)})")]
        body = first + self.block()
        if append_to is not None:
            self.carried.pop()
        if loop.index is not None:
            self.ints.pop()
        if row is not None:
            self.rows.pop()
        self.loops.pop()
        orelse = []
        if append_to is None and self.draw(st.integers(0, 5)) == 0:
            orelse = self.block(1, 1)
        return ("for", header, body, orelse)

    def _while(self):
        """A `while` loop bounded by a counter and stopped early by a data condition."""
        counter = self.fresh("k")
        limit = self.draw(st.integers(1, 5))
        carried = [name for name, kind in self.names.items() if name not in ("x", "y", "w")]
        if not carried:
            return self._new()
        name = self.pick(carried)
        test = self.pick((f"np.sum({name} * {name}) < {self.pick(('2.0', '5.0', '20.0'))}",
                          f"np.max({name}) < {self.pick(THRESHOLDS)}",
                          f"np.sum({name}) > {self.pick(THRESHOLDS)}"))
        orelse = self.block(1, 1) if self.draw(st.integers(0, 5)) == 0 else []
        self.loops.append(_Loop(None, False))
        step = [("line", f"{counter} = {counter} + 1"), self._update_of(name)]
        style = self.pick(("and", "break"))
        if style == "and":
            header = f"{counter} < {limit} and {test}"
            body = step + self.block(0, 2)
        else:
            header = f"{counter} < {limit}"
            body = step + self.block(0, 2) + [("if", [(f"not ({test})", [("line", "break")])],
                                               [])]
        self.loops.pop()
        self.ints.append(counter)
        return ("block", ("line", f"{counter} = 0"), ("while", header, body, orelse))

    def _update_of(self, name):
        kind = self.names[name]
        return ("line", f"{name} = np.tanh({name} * {self.pick(('1.3', '2.0', '0.7'))} + "
                        f"{unparenthesized(self.operand(kind, 1))})")

    def _list(self):
        """`hs = []`, a loop appending to it, and a value made from it after the loop."""
        name = self.fresh("hs")
        kind = self.pick("aars")
        start = self.value(kind) if self.draw(st.booleans()) else ""
        loop = self._for(append_to=(name, kind, bool(start)))
        # builtin sum() is refused (located); it stays, rarely, to keep that so
        reduced = self.pick((f"np.sum(np.stack({name}), axis=0)", f"np.stack({name}).mean(axis=0)",
                             f"{name}[-1]", f"({name}[0] * {name}[-1])") * 3 + (f"sum({name})",))
        target = self.fresh(kind)
        self.names[target] = kind
        return ("block", ("line", f"{name} = [{start}]"), loop,
                ("line", f"{target} = {reduced}"))


def _flatten(block):
    """Expand the ("block", ...) groups the writer returns into plain statements."""
    out = []
    for node in block:
        if node[0] == "block":
            out.extend(_flatten(node[1:]))
        elif node[0] == "if":
            out.append(("if", tuple((c, tuple(_flatten(b))) for c, b in node[1]),
                        tuple(_flatten(node[2]))))
        elif node[0] in ("for", "while"):
            out.append((node[0], node[1], tuple(_flatten(node[2])), tuple(_flatten(node[3]))))
        else:
            out.append(node)
    return out


@st.composite
def programs(draw):
    """A random `Program`: shapes, `wrt`, and a body that ends with a `return`."""
    shape = draw(st.sampled_from(SHAPES))
    has_w = draw(st.booleans())
    writer = _Writer(draw, shape, has_w)
    body = []
    while writer.budget > 0 or not body:
        body.append(writer.statement())
    body.append(writer.returning())
    params = ("x", "y", "w") if has_w else ("x", "y")
    order = draw(st.permutations(params))
    wrt = tuple(order[:draw(st.integers(1, len(params)))])
    return Program(tuple(_flatten(body)), shape, has_w, wrt)


# -- running a program ---------------------------------------------------------------------


def load(program: Program):
    """The program's function, its source compiled where srcgrad can read it."""
    return generated_module(program.source, "control-flow").f


def draw_inputs(program: Program, seed: int) -> dict:
    """Random float64 arguments by name: x of the program's shape, y a Python float."""
    rng = np.random.default_rng(seed)
    args = {"x": rng.standard_normal(program.shape) * 0.8, "y": float(rng.uniform(-1.5, 1.5))}
    if program.has_w:
        args["w"] = rng.standard_normal((4, 4)) * 0.6
    return args


def _parts(value) -> tuple:
    """A function's output (or an output-shaped derivative) as a tuple of items."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def inner(a, b) -> float:
    """<a, b> summed over the items of two outputs of the same structure."""
    return float(sum(np.sum(np.asarray(p, dtype=np.float64) * np.asarray(q, dtype=np.float64))
                     for p, q in zip(_parts(a), _parts(b), strict=True)))


def _like(value, rng):
    """A random value of `value`'s structure and shapes (Python floats for numbers)."""
    if isinstance(value, tuple):
        return tuple(_like(item, rng) for item in value)
    if np.ndim(value) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(value))


def _copy(value):
    """A copy of a value that later writes into the original leave alone."""
    return copy.deepcopy(value)


def _same(a, b) -> bool:
    """Bit-for-bit equality of two values of the same structure (NaN equal to NaN)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(p, q) for p, q in zip(a, b)))
    if a is None or b is None:
        return a is b
    return (np.shape(a) == np.shape(b)
            and np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def _arrays(value):
    """The NumPy arrays inside a value (a number or a tuple of them holds none)."""
    if isinstance(value, (tuple, list)):
        return [a for item in value for a in _arrays(item)]
    return [value] if isinstance(value, np.ndarray) else []


class _Checker:
    """The checks of one program at one point, failing with its source and inputs."""

    def __init__(self, program, function, args):
        self.program = program
        self.function = function
        self.args = args
        self.originals = {name: _copy(value) for name, value in args.items()}

    def fail(self, message):
        """Raise an AssertionError naming the program and the arguments."""
        inputs = "\n".join(f"{name} = {_literal(value)}" for name, value in self.args.items())
        raise AssertionError(f"{message}\nwrt={self.program.wrt!r}\n--- program ---\n"
                             f"{self.program.source}--- inputs ---\n{inputs}")

    def call(self, what, function, *args):
        """`function(*args)`, turning an exception into a failure (or a located refusal
        into None)."""
        try:
            return function(*args)
        except SrcgradError as error:
            text = str(error)
            location = error.location
            if location is not None and f"{location.filename}:{location.line}:" in text:
                REFUSALS.append((text, self.program.source))
                return None
            self.fail(f"{what}: unlocated srcgrad error {type(error).__name__}: {text}")
        except Exception as error:  # noqa: BLE001 - any other exception is the finding
            self.fail(f"{what} raised {type(error).__name__}: {error}\n"
                      f"{''.join(traceback.format_exception(error)[-6:])}")

    def positional(self):
        return [self.args[name] for name in self.program.params]

    def unchanged(self, what):
        """Fail if a call wrote into an argument."""
        for name, value in self.args.items():
            if not _same(value, self.originals[name]):
                self.fail(f"{what} changed the argument `{name}`")

    def independent(self, what, result, *given):
        """Fail if a result shares memory with an argument or another input."""
        inputs = _arrays(tuple(self.args.values())) + _arrays(tuple(given))
        for array in _arrays(result):
            if any(np.shares_memory(array, other) for other in inputs):
                self.fail(f"{what} returned an array sharing memory with its inputs")

    def twice(self, what, function, *args, owned=lambda result: result):
        """Call twice; the second call (the fast path) must repeat the first bit for bit.
        `owned` picks the part of the result that must not share memory with the inputs."""
        first = self.call(what, function, *args)
        if first is None:
            return None
        self.unchanged(what)
        self.independent(what, owned(first), *args)
        kept = _copy(first)
        second = self.call(f"{what} (second call)", function, *args)
        if second is None:
            self.fail(f"{what}: the second call was refused after the first succeeded")
        self.unchanged(f"{what} (second call)")
        if not _same(second, kept):
            self.fail(f"{what}: the second call gave {second!r}, the first {kept!r}")
        if not _same(first, kept):
            self.fail(f"{what}: the second call changed the first call's result")
        return first


def _literal(value) -> str:
    """Source text that rebuilds `value` exactly."""
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    return repr(value)


def _allclose(a, b, rtol) -> bool:
    """Items of the same shapes and (unless `rtol` is None) close to each other."""
    a, b = _parts(a), _parts(b)
    if len(a) != len(b) or any(np.shape(p) != np.shape(q) for p, q in zip(a, b)):
        return False
    return rtol is None or all(np.allclose(p, q, rtol=rtol, atol=rtol * np.max(np.abs(q)))
                               for p, q in zip(a, b))


def primal(function, args, params):
    """The function's output, or None when it raises or is not finite."""
    try:
        with np.errstate(all="ignore"):
            output = function(*[args[name] for name in params])
    except ArithmeticError:  # anything else is a mistake of the generator: let it show
        return None
    if not all(np.all(np.isfinite(part)) for part in _parts(output)):
        return None
    return output


def finite_difference(function, args, params, name, direction, cotangent, step) -> float:
    """Central difference of <cotangent, f> along `direction` in argument `name`."""
    values = []
    for sign in (1.0, -1.0):
        moved = dict(args)
        moved[name] = args[name] + sign * step * direction
        output = primal(function, moved, params)
        if output is None or tuple(np.shape(p) for p in _parts(output)) != tuple(
                np.shape(p) for p in _parts(cotangent)):
            return float("nan")
        values.append(inner(output, cotangent))
    return (values[0] - values[1]) / (2 * step)


def check_program(program: Program, seed: int) -> None:
    """All the checks of the module docstring for one program at inputs drawn from `seed`."""
    function = load(program)
    args = draw_inputs(program, seed)
    output = primal(function, args, program.params)
    assume(output is not None)
    checker = _Checker(program, function, args)
    again = primal(function, args, program.params)
    checker.unchanged("the function itself")  # else the generator made a wrong program
    assert again is not None and _same(again, output), "the primal is not repeatable"
    rng = np.random.default_rng(seed + 1)
    cotangent = _like(output, rng)
    directions = {name: _like(args[name], rng) for name in program.wrt}
    numeric = finite_differences(function, program, args, directions, cotangent)
    assume(numeric is not None)  # a branch or a trip count changes within the step
    wrt = program.wrt if len(program.wrt) > 1 else program.wrt[0]
    pullback = srcgrad.vjp(function, wrt=wrt)
    pushforward = srcgrad.jvp(function, wrt=wrt)
    if check_modes(checker, pullback, pushforward, output, cotangent, directions, numeric):
        check_second_point(program, function, (pullback, pushforward), cotangent, directions,
                           seed)
        if not isinstance(output, tuple) and np.size(output) == 1:
            check_scalar_output(checker, program, wrt, output)


def _magnitude(output) -> float:
    """The size of an output's entries together: the scale of rounding errors in <v, f>."""
    return sum(float(np.sum(np.abs(p))) for p in _parts(output)) + 1.0


def finite_differences(function, program, args, directions, cotangent):
    """{name: d<v, f>/d(name) along its direction} at step 1e-5, or None where the steps
    1e-5 and 1e-6 disagree (or the function fails at a moved point)."""
    scale = 1e-3 * _magnitude(primal(function, args, program.params))
    numeric = {}
    for name in program.wrt:
        small, tiny = (finite_difference(function, args, program.params, name,
                                         directions[name], cotangent, step) for step in STEPS)
        if not (np.isfinite(small) and np.isfinite(tiny) and
                close(small, tiny, FD_AGREE_RTOL, scale)):
            return None
        numeric[name] = small
    return numeric


def check_modes(checker, pullback, pushforward, output, cotangent, directions, numeric):
    """vjp and jvp at the checker's point: shapes, values, the two modes against each other
    and against finite differences. False when srcgrad refused the program."""
    program, args = checker.program, checker.args
    pulled = checker.twice("vjp", pullback, *checker.positional(), cotangent)
    if pulled is None:
        return False
    gradients = dict(zip(program.wrt, pulled if len(program.wrt) > 1 else (pulled,),
                         strict=True))
    for name, gradient in gradients.items():
        if np.shape(gradient) != np.shape(args[name]):
            checker.fail(f"vjp: the gradient of `{name}` has shape {np.shape(gradient)}, "
                         f"the argument {np.shape(args[name])}")
    # the jvp's primal output may share memory with an argument where the function's does
    aliased = [array for array in _arrays(output)
               if any(np.shares_memory(array, arg) for arg in _arrays(tuple(args.values())))]
    owned = (lambda result: result[1]) if aliased else (lambda result: result)
    magnitude = _magnitude(output)
    total = 0.0
    for name in program.wrt:
        tangents = [directions[name] if other == name else _copy(directions[other]) * 0.0
                    for other in program.wrt]
        pushed = checker.twice(f"jvp (tangent of {name} only)", pushforward,
                               *checker.positional(), *tangents, owned=owned)
        if pushed is None:
            return False
        value, tangent = pushed
        if not _allclose(value, output, 1e-12):
            checker.fail(f"jvp: the output {value!r} is not the function's {output!r}")
        if not _allclose(tangent, output, None) or (
                isinstance(output, tuple) and type(tangent) is not tuple):
            checker.fail(f"jvp: the tangent {tangent!r} does not have the output's shape")
        forward = inner(tangent, cotangent)
        reverse = inner(gradients[name], directions[name])
        total += reverse
        terms = inner(np.abs(gradients[name]), np.abs(directions[name]))
        # (plus rounding at the output's scale: terms that cancel exactly, as in `t - t`,
        # leave ~1e-17 in one mode and 0.0 in the other)
        if not close(reverse, forward, MODES_RTOL, terms + 1e-4 * magnitude):
            checker.fail(f"`{name}`: reverse mode <J^T v, u> = {reverse!r}, forward mode "
                         f"<v, J u> = {forward!r}")
        if not close(reverse, numeric[name], FD_RTOL, 1e-4 * magnitude):
            checker.fail(f"`{name}`: srcgrad gives {reverse!r} (reverse) and {forward!r} "
                         f"(forward), finite differences {numeric[name]!r}")
    if len(program.wrt) > 1:
        _, tangent = checker.call("jvp (all tangents)", pushforward, *checker.positional(),
                                  *[directions[name] for name in program.wrt])
        if not close(inner(tangent, cotangent), total, 1e-9, 1e-5 * magnitude):
            checker.fail(f"jvp with every tangent: {inner(tangent, cotangent)!r}, the sum of "
                         f"the directional derivatives {total!r}")
    return True


def check_second_point(program, function, derivatives, cotangent, directions, seed):
    """The derivatives, compiled and cached at the first point, at a second one: nothing
    of the first call's data (a branch taken, a trip count) may stick to the fast path.
    Skipped where the finite differences there are unreliable."""
    args = draw_inputs(program, seed + 2)
    try:
        output = primal(function, args, program.params)
    except Exception:  # (a branch the generator never ran may fail at other inputs)
        return
    if output is None:
        return
    numeric = finite_differences(function, program, args, directions, cotangent)
    if numeric is None:
        return
    checker = _Checker(program, function, args)
    check_modes(checker, *derivatives, output, cotangent, directions, numeric)


def check_scalar_output(checker, program, wrt, output):
    """grad and value_and_grad of a one-element output: the vjp of a cotangent of ones."""
    ones = 1.0 if np.ndim(output) == 0 else np.ones(np.shape(output))
    pulled = checker.call("vjp of ones", srcgrad.vjp(checker.function, wrt=wrt),
                          *checker.positional(), ones)
    gradient = checker.twice("grad", srcgrad.grad(checker.function, wrt=wrt),
                             *checker.positional())
    both = checker.twice("value_and_grad", srcgrad.value_and_grad(checker.function, wrt=wrt),
                         *checker.positional())
    if pulled is None or gradient is None or both is None:
        return
    value, gradient_again = both
    if not np.allclose(np.asarray(value, dtype=np.float64).ravel(),
                       np.asarray(output, dtype=np.float64).ravel(), rtol=1e-12, atol=0.0):
        checker.fail(f"value_and_grad: the value {value!r} is not the function's {output!r}")
    for what, result in (("grad", gradient), ("value_and_grad", gradient_again)):
        for p, q in zip(_parts(result), _parts(pulled), strict=True):
            if not np.allclose(p, q, rtol=1e-10, atol=1e-12):
                checker.fail(f"{what} gives {result!r}, the vjp of ones {pulled!r}")


@settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
          phases=PHASES)
@seed(int(SEED or 0))
@given(program=programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_control_flow_derivatives(program, seed):
    note(program.source)
    check_program(program, seed)


def test_rendered_programs_compile_and_name_their_file():
    """The generator's programs are valid Python and srcgrad locates errors in them."""
    program = Program((("line", "z = np.sort(x)"), ("line", "return np.sum(z * y)")),
                      (4,), False, ("x",))
    function = load(program)
    assert function(np.array([3.0, 1.0, 2.0, 0.0]), 2.0) == 12.0
    try:
        srcgrad.grad(function)(np.array([3.0, 1.0, 2.0, 0.0]), 2.0)
    except SrcgradError as error:
        assert re.match(r"<random-control-flow-\d+>:5:9: ", str(error)), str(error)
    else:
        raise AssertionError("np.sort has no rule: srcgrad should refuse it")
