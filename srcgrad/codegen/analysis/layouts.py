"""Static shapes from the layouts of the arguments a derivative is compiled for.

A *layout* is what a call tells about an array argument without its sizes: its rank and
which of its axes have length 1 (`(None, 1)` for a column, `()` for a scalar). Compiled
per layout, emitted code can leave out the work that only exists because shapes were
unknown: `xp.unbroadcast(g, x)` where g provably has x's shape, or becomes one `xp.sum`
where the axes to sum are known; `xp.matmul_adjoint_a(g, a, b)` becomes `g @ b.T` for
matrices. The derivative dispatches on the layout of each call, so this code only ever
runs on arguments of that layout.

A shape is a tuple of dimensions, each the integer 1 or a symbol for an unknown size
other than 1. Broadcasting two symbols together (which NumPy only allows when they are
equal) unifies them; two shapes are equal when they have the same rank and, axis by axis,
both 1 or unified symbols. Names are typed once for the whole function (flow
insensitively): a loop-carried name's shapes must agree in rank and unit axes (their
other sizes are unified); a name whose shapes disagree or unpacked from a tuple has no
known shape. A number has the shape (), so a 0.0 placeholder that later holds arrays has
none, and `reg = 0.0` that only ever adds sums is a scalar (restores from a stack give
back what the name held; the None placeholders of loops are never used as values). A
whole reduction (`xp.sum(a)`) is a scalar whatever a's shape.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis.shapes import all_statements, is_pop
from srcgrad.rules import registry
from srcgrad.codegen.syntax import walk

__all__ = ["Shapes", "analyze", "elementwise_kernel", "entry_label", "entry_name",
           "unchanged_entries"]

_ELEMENTWISE = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)
# the arithmetic kernels emitted code calls to write into a buffer (`xp.subtract(1.0, g,
# out=g)`): elementwise, like the kernels the rules list as such
_ARITHMETIC_KERNELS = frozenset({"negative", "positive", "add", "subtract", "multiply",
                                "divide", "true_divide", "power", "reciprocal"})


def elementwise_kernel(name: str, arguments: int) -> bool:
    """Does `xp.<name>(...)` with that many positional arguments give an array of the
    broadcast shape of its operands, element by element? (`where(mask)` alone gives a
    tuple of index arrays.)"""
    if name in _ARITHMETIC_KERNELS:
        return True
    kernel = registry.KERNELS.get(name)
    return (kernel is not None and kernel.key in registry.ELEMENTWISE
            and (name != "where" or arguments == 3))


_REDUCTIONS = {"sum", "mean", "max", "min", "prod", "amax", "amin", "nansum", "nanmean"}
# helper -> position of the argument whose shape the result has
_SHAPED_LIKE = {"unbroadcast": 1, "broadcast_like": 1, "unreduce": 1, "unmean": 1,
                "unindex": 1, "matmul_adjoint_a": 1, "matmul_adjoint_b": 2, "like": 0,
                "zeros_like": 0, "ones_like": 0, "extremum_partials": 0,
                "prod_partials": 0, "var_partials": 0, "std_partials": 0}
_CONFLICT = "conflict"


class Shapes:
    """Shapes of the names of one function, with the unification of size symbols."""

    def __init__(self, callees=None):
        # the emitted functions the code calls: name -> (kind, parameters, wrt, the
        # shape of the primal result in the symbols of the parameters' layouts, or None)
        self.callees: dict = callees or {}
        self.entries = False  # whether `env` holds the layouts of dict entries
        self.env: dict = {}  # name -> shape, or _CONFLICT
        self.shape_values: dict = {}  # name -> the shape it holds (`X_shape = X.shape`)
        self.dims: dict = {}  # name -> the dimension it holds (`n = X_shape[0]`)
        self.counters: set = set()  # the targets of `for` loops (emitted loops run over ranges)
        self._parent: dict = {}

    # -- dimensions ----------------------------------------------------------------------

    def find(self, dim):
        while dim != 1 and self._parent.get(dim, dim) != dim:
            dim = self._parent[dim]
        return dim

    def _unify(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b and a != 1 and b != 1:
            self._parent[max(a, b)] = min(a, b)

    def equal(self, a, b) -> bool:
        return (a is not None and b is not None and len(a) == len(b)
                and all(self.find(x) == self.find(y) for x, y in zip(a, b, strict=True)))

    def merge(self, a, b) -> bool:
        """Two shapes one (loop-carried) name holds: the same rank and unit axes, their
        other sizes unified. Sound for what the shapes decide: unbroadcast only ever sums
        leading and unit axes, so sizes other than 1 never decide a sum; False when the
        ranks or unit axes differ."""
        if len(a) != len(b) or any((x == 1) != (y == 1) for x, y in zip(a, b, strict=True)):
            return False
        for x, y in zip(a, b, strict=True):
            self._unify(x, y)
        return True

    def broadcast(self, shapes):
        out: list = []
        for shape in shapes:
            if shape is None:
                return None
            if len(shape) > len(out):
                out = [1] * (len(shape) - len(out)) + out
            offset = len(out) - len(shape)
            for i, dim in enumerate(shape):
                mine = out[offset + i]
                if mine == 1:
                    out[offset + i] = dim
                elif dim != 1:
                    self._unify(mine, dim)
        return tuple(self.find(d) for d in out)

    # -- expressions ---------------------------------------------------------------------

    def of(self, expr: ast.expr):
        """The shape of `expr`, or None when unknown."""
        kind = expr.__class__
        if kind is ast.Name:
            if expr.id in self.dims:
                return ()
            found = self.env.get(expr.id)
            return None if found == _CONFLICT else found
        if kind is ast.Constant:
            return () if isinstance(expr.value, (int, float)) else None
        if kind is ast.BinOp:
            left, right = self.of(expr.left), self.of(expr.right)
            if expr.op.__class__ is ast.MatMult:
                return self._matmul(left, right)
            return self.broadcast([left, right]) if isinstance(expr.op, _ELEMENTWISE) else None
        if kind is ast.Call:
            return self._call(expr)
        if kind is ast.UnaryOp:
            return self.of(expr.operand)
        if kind is ast.Attribute:
            base = self.of(expr.value)
            if expr.attr == "T":
                return None if base is None else tuple(reversed(base))
            return () if expr.attr in ("ndim", "size") and base is not None else None
        if kind is ast.Subscript:
            base = self.of(expr.value)
            if base and self._is_integer(expr.slice):
                return base[1:]  # one integer index: the first axis goes
            label = entry_label(expr) if self.entries else None  # a dict parameter's entry
            found = None if label is None else self.env.get(label)
            return None if found == _CONFLICT else found
        if kind is ast.Compare:
            return self.broadcast([self.of(e) for e in (expr.left, *expr.comparators)])
        return None

    def _is_integer(self, index: ast.expr) -> bool:
        """An integer constant or the counter of an emitted `for ... in range(...)` loop
        (not any 0-d value: a boolean index would add an axis)."""
        if isinstance(index, ast.Constant):
            return type(index.value) is int
        return isinstance(index, ast.Name) and index.id in self.counters

    def _matmul(self, a, b):
        if a is None or b is None or not a or not b:
            return None
        if len(a) == 1 and len(b) == 1:
            self._unify(a[0], b[0])
            return ()
        if len(a) == 1:
            self._unify(a[0], b[-2])
            return (*b[:-2], b[-1])
        if len(b) == 1:
            self._unify(a[-1], b[0])
            return a[:-1]
        self._unify(a[-1], b[-2])
        batch = self.broadcast([a[:-2], b[:-2]])
        return None if batch is None else (*batch, a[-2], b[-1])

    def _matmul_adjoint(self, name: str, g, a, b) -> None:
        """The sizes `xp.matmul_adjoint_a(g, a, b)` (`g @ b.T` for matrices) and
        `matmul_adjoint_b` (`a.T @ g`) agree on, as the product specialize writes for
        them would: a rewrite then tells this analysis nothing it did not know."""
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            return
        if name == "matmul_adjoint_a":
            self._matmul(g, tuple(reversed(b)))
        else:
            self._matmul(tuple(reversed(a)), g)

    def result(self, expr: ast.Call, index=None):
        """The shape of what a call of an emitted function of this module returns (item
        `index` of it, for a tuple): a vjp's results have the shapes of the arguments
        they are the adjoints of; a primal, and both halves of a jvp, the shape of the
        function's result, its parameters' symbols bound to the arguments' dimensions."""
        info = self.callees.get(expr.func.id) if expr.func.__class__ is ast.Name else None
        if info is None:
            return None
        kind, parameters, wrt, shape = info
        skip = 1 if kind == "vjp" else len(wrt) if kind == "jvp" else 0
        bound = dict(zip(parameters, expr.args[skip:]))
        bound.update((k.arg, k.value) for k in expr.keywords if k.arg in parameters)
        if kind == "vjp":
            if (len(wrt) > 1) != (index is not None) or (index or 0) >= len(wrt):
                return None
            argument = bound.get(wrt[index or 0])
            return None if argument is None else self.of(argument)
        if shape is None or (kind == "jvp") != (index is not None) or (index or 0) > 1:
            return None
        dimensions = {}
        for parameter in parameters:
            argument = bound.get(parameter)
            found = None if argument is None else self.of(argument)
            for axis, dim in enumerate(found or ()):
                dimensions[f"{parameter}.{axis}"] = dim
        if any(dim != 1 and dim not in dimensions for dim in shape):
            return None
        return tuple(1 if dim == 1 else self.find(dimensions[dim]) for dim in shape)

    def _call(self, expr: ast.Call):
        func = expr.func
        if func.__class__ is ast.Name and func.id in self.callees:
            return self.result(expr)
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "xp"):
            return None
        name = func.attr
        if name in ("matmul_adjoint_a", "matmul_adjoint_b") and len(expr.args) == 3:
            self._matmul_adjoint(name, *(self.of(a) for a in expr.args))
        position = _SHAPED_LIKE.get(name)
        if position is not None:
            return self.of(expr.args[position]) if len(expr.args) > position else None
        if elementwise_kernel(name, len(expr.args)):
            return self.broadcast([self.of(a) for a in expr.args])
        if name in _REDUCTIONS:
            return self._reduction(expr)
        if name in ("zeros", "ones") and expr.args and isinstance(expr.args[0], ast.Tuple):
            dims = [self._dim(e) for e in expr.args[0].elts]
            return None if any(d is None for d in dims) else tuple(dims)
        if name == "transpose" and len(expr.args) == 1 and not expr.keywords:
            base = self.of(expr.args[0])
            return None if base is None else tuple(reversed(base))
        return None

    def never_known(self, expr: ast.expr) -> bool:
        """Is the shape of `expr` unknown whatever the shapes of names are: a call of a
        function other than the backend's kernels this analysis follows, a display?"""
        kind = expr.__class__
        if kind is ast.Call:
            func = expr.func
            if func.__class__ is ast.Name and func.id in self.callees:
                return False
            if not (func.__class__ is ast.Attribute and func.value.__class__ is ast.Name
                    and func.value.id == "xp"):
                return True
            name = func.attr
            return not (name in _SHAPED_LIKE or name in _REDUCTIONS
                        or name in ("zeros", "ones", "transpose")
                        or elementwise_kernel(name, len(expr.args)))
        return kind in (ast.List, ast.Tuple, ast.Dict, ast.Set)

    def _dim(self, expr):
        if isinstance(expr, ast.Constant) and expr.value == 1:
            return 1
        if isinstance(expr, ast.Name):
            return self.dims.get(expr.id)
        return None

    def _reduction(self, expr: ast.Call):
        base = self.of(expr.args[0]) if expr.args else None
        options = dict(zip(("axis", "dtype", "out", "keepdims"), expr.args[1:]))
        options.update({k.arg: k.value for k in expr.keywords})
        if not expr.args or set(options) - {"axis", "keepdims", "dtype"}:
            return None
        axis, keepdims = options.get("axis"), options.get("keepdims")
        if base is None:  # of an array of any shape, only a whole reduction's is known
            whole = axis is None or (isinstance(axis, ast.Constant) and axis.value is None)
            plain = keepdims is None or (isinstance(keepdims, ast.Constant)
                                         and keepdims.value is False)
            return () if whole and plain else None
        if keepdims is not None and not isinstance(keepdims, ast.Constant):
            return None
        keep = bool(keepdims.value) if keepdims is not None else False
        if axis is None or (isinstance(axis, ast.Constant) and axis.value is None):
            axes = set(range(len(base)))
        else:
            values = axis.elts if isinstance(axis, ast.Tuple) else [axis]
            if not all(isinstance(v, ast.Constant) and type(v.value) is int for v in values):
                return None
            if not all(-len(base) <= v.value < len(base) for v in values):
                return None
            axes = {v.value % len(base) for v in values}
        if keep:
            return tuple(1 if i in axes else d for i, d in enumerate(base))
        return tuple(d for i, d in enumerate(base) if i not in axes)


def analyze(function: ast.FunctionDef, layouts: dict, callees=None) -> Shapes:
    """The shapes of `function`'s names, given the layouts of (some of) its parameters
    and of the entries of its dict parameters (by `entry_label`), and what the emitted
    functions it calls return (`callees`, see `Shapes`)."""
    shapes = Shapes(callees)
    for name, layout in layouts.items():
        shapes.env[name] = tuple(1 if d == 1 else f"{name}.{i}" for i, d in enumerate(layout))
        shapes.entries = shapes.entries or "[" in name
    statements = list(all_statements(function.body))
    unknown = set()
    for stmt in statements:
        if isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
            shapes.env[stmt.target.id] = ()  # emitted loops run over ranges
            shapes.counters.add(stmt.target.id)
        elif isinstance(stmt, ast.Assign):
            target = stmt.targets[0]
            if _unpacks_a_result(stmt, shapes.callees):
                continue
            if not isinstance(target, ast.Name) or len(stmt.targets) > 1:
                unknown |= {n.id for t in stmt.targets for n in walk(t)
                            if isinstance(n, ast.Name)}
    final = False
    shapes.counters -= unknown | {s.targets[0].id for s in statements
                                  if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)}
    jobs = _jobs(statements, unknown, shapes.callees)
    for kind, target, value, _ in jobs:
        if kind is _ASSIGN and shapes.never_known(value):
            # (what the last round would find: the name has no one shape; found now, its
            # users see it from the first round, which saves two rounds)
            shapes.env[target] = _CONFLICT
    for _ in range(2 * len(statements) + 4):
        before = (dict(shapes.env), dict(shapes.dims), dict(shapes.shape_values))
        unresolved = set()  # targets of assignments whose shape is unknown
        for kind, target, value, extra in jobs:
            if kind is _DIM:
                held = shapes.shape_values.get(value.value.id)
                if held is not None:
                    if -len(held) <= extra < len(held):
                        shapes.dims[target] = held[extra]
                    continue
                kind = _ASSIGN  # an array's slot, not a dimension
            if kind is _ASSIGN or kind is _RESULT:
                found = shapes.of(value) if kind is _ASSIGN else shapes.result(value, extra)
                current = shapes.env.get(target)
                if found is None:
                    unresolved.add(target)
                    if final:
                        shapes.env[target] = _CONFLICT
                elif current is None:
                    shapes.env[target] = found
                elif current != _CONFLICT and not shapes.merge(current, found):
                    shapes.env[target] = _CONFLICT
            elif kind is _SHAPE:
                base = shapes.of(value)
                if base is not None:
                    shapes.shape_values[target] = base
            else:  # require_same_shape(target, value)
                found = shapes.of(value)
                if target not in shapes.env and found:
                    shapes.env[target] = found
        if before == (shapes.env, shapes.dims, shapes.shape_values):
            if final:
                break
            if not any(shapes.env.get(t, _CONFLICT) != _CONFLICT for t in unresolved):
                # A final round would find the same shapes and only mark these names,
                # unknown at every assignment, as conflicts (which no shape depends on).
                shapes.env.update(dict.fromkeys(unresolved, _CONFLICT))
                break
            final = True  # what is still unknown now stays unknown, and so do its users
    return shapes


_ASSIGN, _SHAPE, _DIM, _SAME, _RESULT = "assign", "shape", "dim", "same", "result"


def _unpacks_a_result(stmt: ast.Assign, callees: dict) -> bool:
    """`a, b = f_vjp(...)` (or `y, dy = f_jvp(...)`) of an emitted function of the
    module, into names."""
    target, value = stmt.targets[0], stmt.value
    return (len(stmt.targets) == 1 and target.__class__ is ast.Tuple
            and all(e.__class__ is ast.Name for e in target.elts)
            and value.__class__ is ast.Call and value.func.__class__ is ast.Name
            and value.func.id in callees)


def entry_name(name: str, key: str) -> str:
    """How the layouts and floats a derivative is compiled for name the entry `key` of
    the dict parameter `name`: as the code reads it, `"params['W1']"`."""
    return f"{name}[{key!r}]"


def entry_label(expr: ast.expr) -> str | None:
    """The `entry_name` of the read `params['W1']`; None for other expressions."""
    if (expr.__class__ is ast.Subscript and expr.slice.__class__ is ast.Constant
            and type(expr.slice.value) is str and expr.value.__class__ is ast.Name):
        return entry_name(expr.value.id, expr.slice.value)
    return None


def unchanged_entries(function: ast.FunctionDef, labels) -> set:
    """The entry labels among `labels` whose dicts `function` neither rebinds nor
    assigns entries of (it reads those entries as the caller passed them)."""
    stored = set()
    for node in walk(function):
        if node.__class__ in (ast.Subscript, ast.Attribute, ast.Name) and isinstance(
                node.ctx, (ast.Store, ast.Del)):
            while node.__class__ in (ast.Subscript, ast.Attribute):
                node = node.value
            if node.__class__ is ast.Name:
                stored.add(node.id)
    return {label for label in labels
            if "[" in label and label.split("[", 1)[0] not in stored}


def _jobs(statements, unknown: set, callees: dict) -> list[tuple]:
    """What each statement tells about shapes, as (kind, target, value, extra), decided
    once: `_ASSIGN` t = value; `_SHAPE` t = value.shape; `_DIM` t = value, a name's slot
    `extra` (a dimension when the name holds a shape); `_SAME` xp.require_same_shape(t,
    value); `_RESULT` t, the `extra`-th of the names a call's results unpack into."""
    jobs = []
    for stmt in statements:
        if isinstance(stmt, ast.Assign) and _unpacks_a_result(stmt, callees):
            jobs += [(_RESULT, e.id, stmt.value, i) for i, e in enumerate(stmt.targets[0].elts)]
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and getattr(
                stmt.value.func, "attr", None) == "require_same_shape":
            value, reference = stmt.value.args[:2]
            if isinstance(value, ast.Name):
                jobs.append((_SAME, value.id, reference, None))
            continue
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            continue
        target, value = stmt.targets[0].id, stmt.value
        if target in unknown or is_pop(value) or (isinstance(value, ast.Constant)
                                                   and value.value is None):
            continue  # a restore gives back what the name held; None is never used
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            jobs.append((_SHAPE, target, value.value, None))
        elif (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)
                and isinstance(value.slice, ast.Constant) and type(value.slice.value) is int):
            jobs.append((_DIM, target, value, value.slice.value))
        else:
            jobs.append((_ASSIGN, target, value, None))
    return jobs
