"""The last step for specialized code: memory the emitted code owns is updated in place.

Accumulators the code owns (`acc = acc + e` as `acc += e`) and, when every array
argument is float64, temporaries it made, at their last read (`y = a * b` as `y = a;
y *= b`); reductions of arrays are called as their methods. See `specialize` for the
rewrites that run before, with the optimizer's other passes.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import namespace_statement, walk

__all__ = ["update_in_place"]


def _accumulate_in_place(function: ast.FunctionDef, shapes: layouts.Shapes) -> None:
    """`acc = acc + e` as `acc += e` for an accumulator the emitted code owns: it starts
    as a number placeholder (the first `+=` makes a fresh array of it), every update
    adds a value of one known shape, and it is read nowhere else but in the return (so
    no other name can see the array change)."""
    stores: dict = {}
    for node in walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in walk(target):
                    if isinstance(name, ast.Name):
                        stores.setdefault(name.id, []).append(node)
        elif isinstance(node, (ast.AugAssign, ast.For)):
            target = node.target
            if isinstance(target, ast.Name):
                stores.setdefault(target.id, []).append(node)
    returns = [n for n in walk(function) if isinstance(n, ast.Return)]
    params = {a.arg for a in function.args.args}
    for name, assigned in stores.items():
        starts = [s for s in assigned if isinstance(s, ast.Assign)
                  and isinstance(s.value, ast.Constant) and type(s.value.value) is float]
        updates = [s for s in assigned if s not in starts]
        if (name in params or len(starts) != 1 or starts[0] not in function.body or not updates
                or not all(_is_accumulation(s, name) for s in updates)):
            continue
        added = [shapes.of(s.value.right) for s in updates]
        if not added[0] or not all(shapes.equal(added[0], a) for a in added[1:]):
            continue
        allowed = {id(s.value.left) for s in updates}
        allowed |= {id(n) for r in returns for n in walk(r)}
        reads = [n for n in walk(function) if isinstance(n, ast.Name) and n.id == name
                 and isinstance(n.ctx, ast.Load)]
        if any(id(n) not in allowed for n in reads):
            continue
        for stmt in updates:
            stmt.__class__ = ast.AugAssign
            stmt.target, stmt.op, stmt.value = stmt.targets[0], ast.Add(), stmt.value.right
            del stmt.targets


_FLOAT_KERNELS = frozenset({"tanh", "exp", "log", "sqrt", "square", "absolute", "sin", "cos",
                            "tan", "sinh", "cosh", "arctan", "expm1", "log1p", "exp2", "log2",
                            "log10", "cbrt"})
_IN_PLACE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _update_dead_in_place(function: ast.FunctionDef, shapes: layouts.Shapes, floats: frozenset,
                          primal: frozenset) -> None:
    """Reuse the memory of float64 arrays the code made itself (arithmetic results and
    transcendental kernels' results: never a parameter, view, restore or record) at their
    last read, when the result has their shape: `y = a * b * c` becomes `y = a`,
    `y *= b`, `y *= c`; `y = -a` becomes `y = a`, `y *= -1.0`; `y = y + e` becomes
    `y += e`; elementwise operations on such an array at its last read write into it
    (`xp.exp(a, out=a)`, `xp.subtract(1.0, xp.square(t, out=t), out=t)`). Straight-line
    statements of the function body only, and only when every array argument is float64,
    so that no update changes a dtype. The user's own statements keep their operations
    (only derivative statements become chains of updates)."""
    body = function.body
    later: list[set] = [set() for _ in body]  # names read after statement i
    seen: set = set()
    for i in range(len(body) - 1, -1, -1):
        later[i] = set(seen)
        seen |= set(_read_counts(body[i]))
    made: set = set()  # names holding a fresh float64 array nobody else has read
    floating = set(floats)

    def is_float(expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) is float
        if isinstance(expr, ast.Name):
            return expr.id in floating
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (*_IN_PLACE_OPS, ast.Pow,
                                                                ast.MatMult)):
            sides = (expr.left, expr.right)
            return any(is_float(e) for e in sides) and all(
                is_float(e) or _is_number(e) or _is_size(e) for e in sides)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return is_float(expr.operand)
        if isinstance(expr, ast.Attribute) and expr.attr == "T":  # a transposed view
            return is_float(expr.value)
        kernel = _xp_kernel(expr)
        if kernel in _FRESH_REDUCTIONS:  # sum/mean/max/min/prod of floats, any axis
            return bool(expr.args) and is_float(expr.args[0])
        if _writes_into(expr) is not None:  # xp.subtract(1.0, a, out=a) and the like
            return all(is_float(a) or _is_number(a) for a in expr.args)
        return (kernel in _FLOAT_KERNELS and len(expr.args) == 1
                and not expr.keywords and is_float(expr.args[0]))

    def _is_size(expr) -> bool:  # an int: one of the arguments' sizes, or an array's
        return (isinstance(expr, ast.Name) and expr.id in shapes.dims) or (
            isinstance(expr, ast.Attribute) and expr.attr in ("size", "ndim")
            and isinstance(expr.value, ast.Name))

    buffers = _DeadBuffers(made, shapes, is_float,
                           available=namespace_statement(function) is not None)

    out = []
    for i, stmt in enumerate(body):
        reads = _read_counts(stmt)
        simple = (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name))
        steps = None
        if simple and stmt.targets[0].id not in primal:
            steps = _in_place_steps(stmt.value, made, reads, later[i], shapes, is_float,
                                    stmt.targets[0].id)
            if steps is None and buffers.available:
                steps = _chain_steps(stmt.value, stmt.targets[0].id, shapes, is_float)
        if steps is not None:
            target, (first, updates) = stmt.targets[0].id, steps
            chain = []
            if not (isinstance(first, ast.Name) and first.id == target):
                first, _ = buffers.into(first, reads, later[i] | {target})
                chain.append(ast.Assign(targets=[ast.Name(target, ast.Store())], value=first))
            chain += [_update(target, op, other, buffers, reads, later[i] | {target})
                      for op, other in updates]
            for new in chain:
                out.append(ast.copy_location(new, stmt))
                made.difference_update(_aliasing_reads(new))  # `y = a`, `out=a`: y's now
            made.add(target)
            floating.add(target)
            continue
        if isinstance(stmt, (ast.Assign, ast.AugAssign)):
            # the user's `z = a + b`, `z = -a` stay operators (operands may still be reused)
            keep = simple and stmt.targets[0].id in primal and isinstance(
                stmt.value, (ast.BinOp, ast.UnaryOp))
            live = later[i] | ({stmt.target.id} if isinstance(stmt, ast.AugAssign)
                               and isinstance(stmt.target, ast.Name) else set())
            stmt.value, buffer = buffers.into(stmt.value, reads, live, keep)
            if simple and buffer is None:  # a dead array of ours may take the result
                stmt.value = buffers.spare(stmt.value, reads, live)
        for name in _aliasing_reads(stmt):  # a reference may be kept: no longer ours alone
            made.discard(name)
        for node in walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                made.discard(node.id)
                floating.discard(node.id)
        if simple and is_float(stmt.value):
            target = stmt.targets[0].id
            floating.add(target)
            fresh = isinstance(stmt.value, (ast.BinOp, ast.UnaryOp)) or _xp_kernel(stmt.value)
            if fresh and shapes.of(ast.Name(target, ast.Load())):
                made.add(target)
        out.append(stmt)
    function.body = out


_UFUNCS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}


def _writes_into(expr) -> str | None:
    """b for `xp.<elementwise kernel>(..., out=b)`."""
    kernel = _xp_kernel(expr)
    if kernel in _FLOAT_KERNELS or kernel in _UFUNCS.values() or kernel == "negative":
        for keyword in expr.keywords:
            if keyword.arg == "out" and isinstance(keyword.value, ast.Name):
                return keyword.value.id
    return None


class _DeadBuffers:
    """Elementwise operations write into an operand that is our own float64 array
    (`made`) at its last read, instead of allocating their result."""

    def __init__(self, made: set, shapes: layouts.Shapes, is_float, available: bool):
        self.made, self.shapes, self.is_float = made, shapes, is_float
        self.available = available  # `xp` is bound (code that calls no kernel has none)

    def into(self, node, reads: dict, read_later: set, keep: bool = False):
        """(node rewritten, the buffer its result lives in or None); `keep` leaves the
        outermost operator as it is."""
        def free(expr, times=1):
            return (isinstance(expr, ast.Name) and expr.id in self.made
                    and reads.get(expr.id) == times and expr.id not in read_later)

        def scalar(expr):
            return _is_number(expr) or (self.is_float(expr) and self.shapes.of(expr) == ())

        def visit(expr):
            if isinstance(expr, ast.Name):
                return expr, (expr.id if free(expr) else None)
            if isinstance(expr, ast.BinOp) and type(expr.op) in _UFUNCS:
                if (isinstance(expr.op, ast.Mult) and isinstance(expr.left, ast.Name)
                        and isinstance(expr.right, ast.Name) and expr.left.id == expr.right.id
                        and free(expr.left, times=2)):
                    return _into("square", [expr.left], expr.left.id), expr.left.id
                shaped = self.shapes.of(expr)
                # a buffer shaped like the result takes any float64 operand (broadcast
                # into it); judged before the operands are rewritten
                fits = [scalar(side) or self.is_float(side) for side in (expr.left, expr.right)]
                left, into_left = visit(expr.left)
                right, into_right = visit(expr.right)
                expr.left, expr.right = left, right
                for buffer, other_fits in ((into_left, fits[1]), (into_right, fits[0])):
                    if buffer is not None and other_fits and self.shapes.equal(
                            self.shapes.of(ast.Name(buffer, ast.Load())), shaped):
                        return _into(_UFUNCS[type(expr.op)], [left, right], buffer), buffer
                return expr, None
            if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
                operand, buffer = visit(expr.operand)
                if buffer is not None:
                    return _into("negative", [operand], buffer), buffer
                expr.operand = operand
                return expr, None
            kernel = _xp_kernel(expr)
            if kernel in _FLOAT_KERNELS and len(expr.args) == 1 and not expr.keywords:
                operand, buffer = visit(expr.args[0])
                if buffer is not None:
                    return _into(kernel, [operand], buffer), buffer
                expr.args = [operand]
                return expr, None
            for field, value in ast.iter_fields(expr):  # rewrite inside other expressions
                if isinstance(value, ast.expr) and not isinstance(value, ast.Name):
                    setattr(expr, field, visit(value)[0])
                elif isinstance(value, list):
                    setattr(expr, field, [visit(v)[0] if isinstance(v, ast.expr)
                                          and not isinstance(v, ast.Name) else v
                                          for v in value])
            return expr, None

        if not self.available:
            return node, None
        if keep:
            for field in ("left", "right", "operand"):
                if hasattr(node, field):
                    setattr(node, field, visit(getattr(node, field))[0])
            return node, None
        return visit(node)


    def spare(self, node, reads: dict, read_later: set):
        """`node`, an elementwise operation that makes a new float64 array, written into
        an array of ours of its shape that nothing reads any more (`neg = -x` as
        `neg = xp.negative(x, out=t)` once t is dead); `node` itself when there is none."""
        if not self.available or not self.is_float(node):
            return node
        if isinstance(node, ast.BinOp) and type(node.op) in _UFUNCS:
            kernel, args = _UFUNCS[type(node.op)], [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            kernel, args = "negative", [node.operand]
        elif (_xp_kernel(node) in _FLOAT_KERNELS and len(node.args) == 1
              and not node.keywords):
            kernel, args = _xp_kernel(node), node.args
        else:
            return node
        shape = self.shapes.of(node)
        if not shape:
            return node
        for name in sorted(self.made):
            if (name not in reads and name not in read_later
                    and self.shapes.equal(self.shapes.of(ast.Name(name, ast.Load())), shape)):
                self.made.discard(name)
                return _into(kernel, args, name)
        return node


def _update(target: str, op, other, buffers: _DeadBuffers, reads: dict, read_later: set):
    """One step of an in-place chain on `target`: `target op= other` for an operator,
    `target = xp.<op>(other, target, out=target)` for the subtraction or division of
    `target` from a value, `target = xp.<op>(target, out=target)` for a kernel."""
    if isinstance(op, ast.operator):
        other, _ = buffers.into(other, reads, read_later)
        return ast.AugAssign(target=ast.Name(target, ast.Store()), op=op, value=other)
    args = [ast.Name(target, ast.Load())] if other is None else [other,
                                                                 ast.Name(target, ast.Load())]
    return ast.Assign(targets=[ast.Name(target, ast.Store())], value=_into(op, args, target))


def _chain_steps(value, target, shapes, is_float):
    """(e, [(op, operand), ...]) when `value` is a nest of elementwise operations whose
    innermost one, e, makes a new float64 array of the result's shape: the others
    update that array in place (`y = 2.0 * (1.0 - t * t) - t` as `y = t * t`,
    `y = xp.subtract(1.0, y, out=y)`, `y *= 2.0`, `y -= t`); op is an operator
    (`y op= operand`), or the name of a kernel that takes y last (`xp.subtract(1.0, y,
    out=y)`) or alone (operand None). None when there is nothing to chain."""
    shape = shapes.of(value)
    if not shape or target in _read_counts(value) or not is_float(value):
        return None

    def full(expr) -> bool:  # a new float64 array of the result's shape
        return (isinstance(expr, (ast.BinOp, ast.UnaryOp)) or (
            _xp_kernel(expr) in _FLOAT_KERNELS and len(expr.args) == 1
            and not expr.keywords)) and is_float(expr) and shapes.equal(shapes.of(expr), shape)

    def operand(expr) -> bool:
        return is_float(expr) or _is_number(expr)

    updates = []
    while True:
        if isinstance(value, ast.BinOp) and isinstance(value.op, _IN_PLACE_OPS):
            if full(value.left) and operand(value.right):
                updates.insert(0, (value.op, value.right))
                value = value.left
                continue
            if full(value.right) and operand(value.left):
                if isinstance(value.op, (ast.Add, ast.Mult)):
                    updates.insert(0, (value.op, value.left))
                else:
                    updates.insert(0, (_UFUNCS[type(value.op)], value.left))
                value = value.right
                continue
        elif (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
              and full(value.operand)):
            updates.insert(0, (ast.Mult(), ast.Constant(-1.0)))
            value = value.operand
            continue
        elif _xp_kernel(value) in _FLOAT_KERNELS and full(value) and full(value.args[0]):
            updates.insert(0, (_xp_kernel(value), None))
            value = value.args[0]
            continue
        break
    return (value, updates) if updates else None


def _into(kernel: str, args: list, buffer: str) -> ast.Call:
    out = ast.keyword(arg="out", value=ast.Name(buffer, ast.Load()))
    return ast.Call(func=ast.Attribute(value=ast.Name("xp", ast.Load()), attr=kernel,
                                       ctx=ast.Load()), args=args, keywords=[out])


def _in_place_steps(value, made, reads, read_later, shapes, is_float, target):
    """(a, [(op, operand), ...]) when `value` is a left-leaning chain of + - * / (or a
    negation) starting at a name a that holds our own float64 array of the result's
    shape, read only here (or `target` itself: its old value dies here), the operands
    float64 values or numbers; None otherwise."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        leaf, updates = value.operand, [(ast.Mult(), ast.Constant(-1.0))]
    else:
        updates = []
        leaf = value
        while isinstance(leaf, ast.BinOp) and isinstance(leaf.op, _IN_PLACE_OPS):
            if (isinstance(leaf.op, (ast.Add, ast.Mult)) and isinstance(leaf.right, ast.Name)
                    and leaf.right.id in made and (_is_number(leaf.left)
                                                   or shapes.of(leaf.left) == ())):
                leaf = ast.BinOp(left=leaf.right, op=leaf.op, right=leaf.left)  # `2.0 * a`
            updates.insert(0, (leaf.op, leaf.right))
            leaf = leaf.left
        if not updates:
            return None
    if not (isinstance(leaf, ast.Name) and leaf.id in made and reads.get(leaf.id) == 1
            and (leaf.id == target or leaf.id not in read_later)
            and shapes.equal(shapes.of(leaf), shapes.of(value))
            and all(is_float(o) or _is_number(o) for _, o in updates)):
        return None
    if leaf.id != target and any(target in _read_counts(o) for _, o in updates):
        return None  # `y = a * y`: the operand means y's old value, which `y = a` would lose
    return leaf, updates


_FRESH_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "prod"})


def _aliasing_reads(stmt) -> set:
    """Names `stmt` reads where the value could be kept or viewed (assigned, stored,
    passed to a helper, indexed, transposed), as opposed to read by an operator or a
    kernel that makes a new array of it."""
    parents = {}
    for node in walk(stmt):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    kept = set()
    for node in walk(stmt):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        read, parent = node, parents.get(id(node))
        while isinstance(parent, ast.Attribute) and parent.attr == "T":
            read, parent = parent, parents.get(id(parent))  # a view, read by `parent`
        fresh = isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)) or (
            isinstance(parent, ast.AugAssign) and read is parent.value) or (
            isinstance(parent, ast.Call) and read in parent.args[:1]
            and _xp_kernel(parent) in _FLOAT_KERNELS | _FRESH_REDUCTIONS)
        if not fresh:
            kept.add(node.id)
    return kept


def _read_counts(stmt) -> dict:
    counts: dict = {}
    for node in walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _xp_kernel(expr) -> str | None:
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
            and isinstance(expr.func.value, ast.Name) and expr.func.value.id == "xp"):
        return expr.func.attr
    return None


def _is_number(expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float)


def _is_accumulation(stmt, name: str) -> bool:
    value = stmt.value if isinstance(stmt, ast.Assign) else None
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name
            and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name) and value.left.id == name)


def update_in_place(function: ast.FunctionDef, argument_layouts: dict, floats: frozenset,
                    primal: frozenset) -> None:
    """The last step for specialized code: accumulators and dead temporaries updated in
    place (the latter only when every array argument is float64, `floats`), and
    reductions of arrays called as their methods."""
    shapes = layouts.analyze(function, argument_layouts)
    _accumulate_in_place(function, shapes)
    if floats and floats >= set(argument_layouts):
        _update_dead_in_place(function, shapes, floats, primal)
    _ReductionMethods(shapes).visit(function)


class _ReductionMethods(ast.NodeTransformer):
    """`xp.sum(a, axis=0)` as `a.sum(axis=0)` where `a` is provably an array (rank one or
    more): the method skips NumPy's dispatch through `np.sum`, a few microseconds per call
    that small arrays notice. NumPy, CuPy and Dask arrays, and the strict stand-in, all
    have these methods."""

    KERNELS = frozenset({"sum", "mean", "max", "min"})

    def __init__(self, shapes: layouts.Shapes):
        self.shapes = shapes

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "xp" and func.attr in self.KERNELS
                and 1 <= len(node.args) <= 2
                and all(k.arg in ("axis", "keepdims") for k in node.keywords)):
            shape = self.shapes.of(node.args[0])
            if shape:  # known, and not a scalar
                method = ast.Attribute(value=node.args[0], attr=func.attr, ctx=ast.Load())
                return ast.Call(func=method, args=node.args[1:], keywords=node.keywords)
        return node
