"""Arrays the emitted code owns, reused: which float64 temporaries are free at a statement,
and the in-place forms that write into them (`y = a; y *= b`, `xp.exp(a, out=a)`, a
nested elementwise expression as a chain of updates of one buffer). `in_place` decides
where they apply.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import links, walk

__all__ = ["FLOAT_KERNELS", "IN_PLACE_OPS", "FRESH_REDUCTIONS", "UFUNCS", "DeadBuffers",
           "aliasing_reads", "chain_steps", "in_place_steps", "into_kernel", "is_number",
           "read_counts", "update_step", "writes_into", "xp_kernel"]


FLOAT_KERNELS = frozenset({"tanh", "exp", "log", "sqrt", "square", "absolute", "sin", "cos",
                            "tan", "sinh", "cosh", "arctan", "expm1", "log1p", "exp2", "log2",
                            "log10", "cbrt"})
IN_PLACE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


UFUNCS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}


def writes_into(expr) -> str | None:
    """b for `xp.<elementwise kernel>(..., out=b)`."""
    kernel = xp_kernel(expr)
    if kernel in FLOAT_KERNELS or kernel in UFUNCS.values() or kernel == "negative":
        for keyword in expr.keywords:
            if keyword.arg == "out" and isinstance(keyword.value, ast.Name):
                return keyword.value.id
    return None


class DeadBuffers:
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
            return is_number(expr) or (self.is_float(expr) and self.shapes.of(expr) == ())

        def visit(expr):
            if isinstance(expr, ast.Name):
                return expr, (expr.id if free(expr) else None)
            if isinstance(expr, ast.BinOp) and type(expr.op) in UFUNCS:
                if (isinstance(expr.op, ast.Mult) and isinstance(expr.left, ast.Name)
                        and isinstance(expr.right, ast.Name) and expr.left.id == expr.right.id
                        and free(expr.left, times=2)):
                    return into_kernel("square", [expr.left], expr.left.id), expr.left.id
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
                        return into_kernel(UFUNCS[type(expr.op)], [left, right], buffer), buffer
                return expr, None
            if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
                operand, buffer = visit(expr.operand)
                if buffer is not None:
                    return into_kernel("negative", [operand], buffer), buffer
                expr.operand = operand
                return expr, None
            kernel = xp_kernel(expr)
            if kernel in FLOAT_KERNELS and len(expr.args) == 1 and not expr.keywords:
                operand, buffer = visit(expr.args[0])
                if buffer is not None:
                    return into_kernel(kernel, [operand], buffer), buffer
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
        if isinstance(node, ast.BinOp) and type(node.op) in UFUNCS:
            kernel, args = UFUNCS[type(node.op)], [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            kernel, args = "negative", [node.operand]
        elif (xp_kernel(node) in FLOAT_KERNELS and len(node.args) == 1
              and not node.keywords):
            kernel, args = xp_kernel(node), node.args
        else:
            return node
        shape = self.shapes.of(node)
        if not shape:
            return node
        for name in sorted(self.made):
            if (name not in reads and name not in read_later
                    and self.shapes.equal(self.shapes.of(ast.Name(name, ast.Load())), shape)):
                self.made.discard(name)
                return into_kernel(kernel, args, name)
        return node


def update_step(target: str, op, other, buffers: DeadBuffers, reads: dict, read_later: set):
    """One step of an in-place chain on `target`: `target op= other` for an operator,
    `target = xp.<op>(other, target, out=target)` for the subtraction or division of
    `target` from a value, `target = xp.<op>(target, out=target)` for a kernel."""
    if isinstance(op, ast.operator):
        other, _ = buffers.into(other, reads, read_later)
        return ast.AugAssign(target=ast.Name(target, ast.Store()), op=op, value=other)
    args = [ast.Name(target, ast.Load())] if other is None else [other,
                                                                 ast.Name(target, ast.Load())]
    return ast.Assign(targets=[ast.Name(target, ast.Store())], value=into_kernel(op, args, target))


def chain_steps(value, target, shapes, is_float):
    """(e, [(op, operand), ...]) when `value` is a nest of elementwise operations whose
    innermost one, e, makes a new float64 array of the result's shape: the others
    update that array in place (`y = 2.0 * (1.0 - t * t) - t` as `y = t * t`,
    `y = xp.subtract(1.0, y, out=y)`, `y *= 2.0`, `y -= t`); op is an operator
    (`y op= operand`), or the name of a kernel that takes y last (`xp.subtract(1.0, y,
    out=y)`) or alone (operand None). None when there is nothing to chain."""
    shape = shapes.of(value)
    if not shape or target in read_counts(value) or not is_float(value):
        return None

    def full(expr) -> bool:  # a new float64 array of the result's shape
        return (isinstance(expr, (ast.BinOp, ast.UnaryOp)) or (
            xp_kernel(expr) in FLOAT_KERNELS and len(expr.args) == 1
            and not expr.keywords)) and is_float(expr) and shapes.equal(shapes.of(expr), shape)

    def operand(expr) -> bool:
        return is_float(expr) or is_number(expr)

    updates = []
    while True:
        if isinstance(value, ast.BinOp) and isinstance(value.op, IN_PLACE_OPS):
            if full(value.left) and operand(value.right):
                updates.insert(0, (value.op, value.right))
                value = value.left
                continue
            if full(value.right) and operand(value.left):
                if isinstance(value.op, (ast.Add, ast.Mult)):
                    updates.insert(0, (value.op, value.left))
                else:
                    updates.insert(0, (UFUNCS[type(value.op)], value.left))
                value = value.right
                continue
        elif (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
              and full(value.operand)):
            updates.insert(0, (ast.Mult(), ast.Constant(-1.0)))
            value = value.operand
            continue
        elif xp_kernel(value) in FLOAT_KERNELS and full(value) and full(value.args[0]):
            updates.insert(0, (xp_kernel(value), None))
            value = value.args[0]
            continue
        break
    return (value, updates) if updates else None


def into_kernel(kernel: str, args: list, buffer: str) -> ast.Call:
    out = ast.keyword(arg="out", value=ast.Name(buffer, ast.Load()))
    return ast.Call(func=ast.Attribute(value=ast.Name("xp", ast.Load()), attr=kernel,
                                       ctx=ast.Load()), args=args, keywords=[out])


def in_place_steps(value, made, reads, read_later, shapes, is_float, target):
    """(a, [(op, operand), ...]) when `value` is a left-leaning chain of + - * / (or a
    negation) starting at a name a that holds our own float64 array of the result's
    shape, read only here (or `target` itself: its old value dies here), the operands
    float64 values or numbers; None otherwise."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        leaf, updates = value.operand, [(ast.Mult(), ast.Constant(-1.0))]
    else:
        updates = []
        leaf = value
        while isinstance(leaf, ast.BinOp) and isinstance(leaf.op, IN_PLACE_OPS):
            if (isinstance(leaf.op, (ast.Add, ast.Mult)) and isinstance(leaf.right, ast.Name)
                    and leaf.right.id in made and (is_number(leaf.left)
                                                   or shapes.of(leaf.left) == ())):
                leaf = ast.BinOp(left=leaf.right, op=leaf.op, right=leaf.left)  # `2.0 * a`
            updates.insert(0, (leaf.op, leaf.right))
            leaf = leaf.left
        if not updates:
            return None
    if not (isinstance(leaf, ast.Name) and leaf.id in made and reads.get(leaf.id) == 1
            and (leaf.id == target or leaf.id not in read_later)
            and shapes.equal(shapes.of(leaf), shapes.of(value))
            and all(is_float(o) or is_number(o) for _, o in updates)):
        return None
    if leaf.id != target and any(target in read_counts(o) for _, o in updates):
        return None  # `y = a * y`: the operand means y's old value, which `y = a` would lose
    return leaf, updates


FRESH_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "prod"})


def aliasing_reads(stmt) -> set:
    """Names `stmt` reads where the value could be kept or viewed (assigned, stored,
    passed to a helper, indexed, transposed), as opposed to read by an operator or a
    kernel that makes a new array of it."""
    parents, reads = links(stmt)
    kept = set()
    for node in (node for nodes in reads.values() for node in nodes):
        read, parent = node, parents.get(id(node))
        while isinstance(parent, ast.Attribute) and parent.attr == "T":
            read, parent = parent, parents.get(id(parent))  # a view, read by `parent`
        fresh = isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)) or (
            isinstance(parent, ast.AugAssign) and read is parent.value) or (
            isinstance(parent, ast.Call) and read in parent.args[:1]
            and xp_kernel(parent) in FLOAT_KERNELS | FRESH_REDUCTIONS)
        if not fresh:
            kept.add(node.id)
    return kept


def read_counts(stmt) -> dict:
    counts: dict = {}
    for node in walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def xp_kernel(expr) -> str | None:
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
            and isinstance(expr.func.value, ast.Name) and expr.func.value.id == "xp"):
        return expr.func.attr
    return None


def is_number(expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float)
