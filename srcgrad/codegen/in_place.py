"""The last step for specialized code: memory the emitted code owns is updated in place.

Accumulators the code owns (`acc = acc + e` as `acc += e`) and, when every array
argument is float64, temporaries it made, at their last read (`y = a * b` as `y = a;
y *= b`); reductions of arrays are called as their methods. `buffers` has the in-place
forms and the bookkeeping of which arrays are free; see `specialize` and `factoring` for
the rewrites that run before.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.buffers import (
    FLOAT_KERNELS,
    FRESH_REDUCTIONS,
    IN_PLACE_OPS,
    DeadBuffers,
    aliasing_reads,
    chain_steps,
    in_place_steps,
    is_number,
    read_counts,
    update_step,
    writes_into,
    xp_kernel,
)
from srcgrad.codegen.syntax import links, namespace_statement, rewrite, walk

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
    reads_of = None  # identifier -> the Name nodes reading it, found when first needed
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
        if reads_of is None:
            reads_of = links(function)[1]
        if any(id(n) not in allowed for n in reads_of.get(name, ())):
            continue
        for stmt in updates:
            stmt.__class__ = ast.AugAssign
            stmt.target, stmt.op, stmt.value = stmt.targets[0], ast.Add(), stmt.value.right
            del stmt.targets


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
    counted = [read_counts(stmt) for stmt in body]  # (before any statement changes)
    later: list[set] = [set() for _ in body]  # names read after statement i
    seen: set = set()
    for i in range(len(body) - 1, -1, -1):
        later[i] = set(seen)
        seen |= counted[i].keys()
    made: set = set()  # names holding a fresh float64 array nobody else has read
    floating = set(floats)

    def is_float(expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) is float
        if isinstance(expr, ast.Name):
            return expr.id in floating
        if isinstance(expr, ast.Subscript):  # a dict parameter's float64 entry
            return layouts.entry_label(expr) in floating
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (*IN_PLACE_OPS, ast.Pow,
                                                                ast.MatMult)):
            sides = (expr.left, expr.right)
            return any(is_float(e) for e in sides) and all(
                is_float(e) or is_number(e) or _is_size(e) for e in sides)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return is_float(expr.operand)
        if isinstance(expr, ast.Attribute) and expr.attr == "T":  # a transposed view
            return is_float(expr.value)
        kernel = xp_kernel(expr)
        if kernel in FRESH_REDUCTIONS:  # sum/mean/max/min/prod of floats, any axis
            return bool(expr.args) and is_float(expr.args[0])
        if writes_into(expr) is not None:  # xp.subtract(1.0, a, out=a) and the like
            return all(is_float(a) or is_number(a) for a in expr.args)
        return (kernel in FLOAT_KERNELS and len(expr.args) == 1
                and not expr.keywords and is_float(expr.args[0]))

    def _is_size(expr) -> bool:  # an int: one of the arguments' sizes, or an array's
        return (isinstance(expr, ast.Name) and expr.id in shapes.dims) or (
            isinstance(expr, ast.Attribute) and expr.attr in ("size", "ndim")
            and isinstance(expr.value, ast.Name))

    buffers = DeadBuffers(made, shapes, is_float,
                           available=namespace_statement(function) is not None)

    out = []
    for i, stmt in enumerate(body):
        reads = counted[i]
        simple = (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name))
        steps = None
        if simple and stmt.targets[0].id not in primal:
            steps = in_place_steps(stmt.value, made, reads, later[i], shapes, is_float,
                                    stmt.targets[0].id)
            if steps is None and buffers.available:
                steps = chain_steps(stmt.value, stmt.targets[0].id, shapes, is_float)
        if steps is not None:
            target, (first, updates) = stmt.targets[0].id, steps
            chain = []
            if not (isinstance(first, ast.Name) and first.id == target):
                first, _ = buffers.into(first, reads, later[i] | {target})
                chain.append(ast.Assign(targets=[ast.Name(target, ast.Store())], value=first))
            chain += [update_step(target, op, other, buffers, reads, later[i] | {target})
                      for op, other in updates]
            for new in chain:
                out.append(ast.copy_location(new, stmt))
                made.difference_update(aliasing_reads(new))  # `y = a`, `out=a`: y's now
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
        for name in aliasing_reads(stmt):  # a reference may be kept: no longer ours alone
            made.discard(name)
        for node in walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                made.discard(node.id)
                floating.discard(node.id)
        if simple and is_float(stmt.value):
            target = stmt.targets[0].id
            floating.add(target)
            fresh = isinstance(stmt.value, (ast.BinOp, ast.UnaryOp)) or xp_kernel(stmt.value)
            if fresh and shapes.of(ast.Name(target, ast.Load())):
                made.add(target)
        out.append(stmt)
    function.body = out


def _is_accumulation(stmt, name: str) -> bool:
    value = stmt.value if isinstance(stmt, ast.Assign) else None
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name
            and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name) and value.left.id == name)


def update_in_place(function: ast.FunctionDef, argument_layouts: dict, floats: frozenset,
                    primal: frozenset, shapes=None) -> None:
    """The last step for specialized code: accumulators and dead temporaries updated in
    place (the latter only when every array argument is float64, `floats`), and
    reductions of arrays called as their methods. `shapes`: the layouts analysis of the
    function as it is, when the caller has it."""
    if shapes is None:
        shapes = layouts.analyze(function, argument_layouts)
    _accumulate_in_place(function, shapes)
    if floats and floats >= set(argument_layouts):
        _update_dead_in_place(function, shapes, floats, primal)
    function.body = [rewrite(stmt, _reduction_methods(shapes)) for stmt in function.body]


_METHODS = frozenset({"sum", "mean", "max", "min"})


def _reduction_methods(shapes: layouts.Shapes):
    """`xp.sum(a, axis=0)` as `a.sum(axis=0)` where `a` is provably an array (rank one or
    more): the method skips NumPy's dispatch through `np.sum`, a few microseconds per call
    that small arrays notice. NumPy, CuPy and Dask arrays, and the strict stand-in, all
    have these methods."""

    def change(node):
        if node.__class__ is not ast.Call:
            return node
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "xp" and func.attr in _METHODS
                and 1 <= len(node.args) <= 2
                and all(k.arg in ("axis", "keepdims") for k in node.keywords)):
            shape = shapes.of(node.args[0])
            if shape:  # known, and not a scalar
                method = ast.Attribute(value=node.args[0], attr=func.attr, ctx=ast.Load())
                return ast.Call(func=method, args=node.args[1:], keywords=node.keywords)
        return node

    return change
