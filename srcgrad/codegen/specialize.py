"""Rewrites of emitted code for the layouts of a call's arrays (rank and unit axes;
see `analysis.layouts`): what a careful person writes once shapes are known.

`specialize` runs with the optimizer's other passes until nothing changes: `unbroadcast`
that changes nothing goes or becomes `xp.sum`, matrix matmul adjoints become `g @ W.T`,
scalar checks of provably scalar outputs go, spread seeds become numbers, negations fold
into factors. `update_in_place` runs last: accumulators the code owns and float64
temporaries it made are updated in place at their last read.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import Comment, call

__all__ = ["specialize", "update_in_place"]


class _Specialize(ast.NodeTransformer):
    """Helpers whose work the argument layouts decide: `unbroadcast` and `broadcast_like`
    that change nothing go, an `unbroadcast` whose summed axes are known becomes `xp.sum`,
    and the matmul adjoints of matrices become products with a transpose."""

    def __init__(self, shapes: layouts.Shapes, parameters=()):
        self.shapes = shapes
        self.parameters = [ast.Name(p, ast.Load()) for p in parameters]

    def visit_Attribute(self, node):
        """`t.size` of a temporary shaped like a parameter p is `p.size`: the temporary
        may then go (`mean((p - y) ** 2)` needs the square only for its size)."""
        self.generic_visit(node)
        if node.attr == "size" and isinstance(node.value, ast.Name) and isinstance(
                node.ctx, ast.Load):
            shape = self.shapes.of(node.value)
            if shape and not any(p.id == node.value.id for p in self.parameters):
                for parameter in self.parameters:
                    if self.shapes.equal(self.shapes.of(parameter), shape):
                        node.value = ast.Name(parameter.id, ast.Load())
                        break
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func, args = node.func, node.args
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "xp"):
            return node
        if (func.attr == "sum" and args and isinstance(args[0], ast.UnaryOp)
                and isinstance(args[0].op, ast.USub)):  # negate the (smaller) sum instead
            node.args = [args[0].operand, *args[1:]]
            return ast.UnaryOp(op=ast.USub(), operand=node)
        if node.keywords:
            return node
        of = self.shapes.of
        if func.attr in ("unbroadcast", "broadcast_like") and len(args) == 2:
            g, x = of(args[0]), of(args[1])
            if self.shapes.equal(g, x):
                return args[0]
            if func.attr == "unbroadcast":
                return self.summed(args[0], g, x) or node
        if func.attr in ("matmul_adjoint_a", "matmul_adjoint_b") and len(args) == 3:
            a, b = of(args[1]), of(args[2])
            if a is not None and b is not None and len(a) == len(b) == 2:
                if func.attr == "matmul_adjoint_a":  # g @ b.T
                    return ast.BinOp(left=args[0], op=ast.MatMult(), right=_transposed(args[2]))
                return ast.BinOp(left=_transposed(args[1]), op=ast.MatMult(), right=args[0])
        return node

    def visit_BinOp(self, node):
        """`xp.unreduce(g, x, ...) * y` with y shaped like x: g broadcasts by itself."""
        self.generic_visit(node)
        if not isinstance(node.op, (ast.Mult, ast.Div, ast.Add, ast.Sub)):
            return node
        for side, other in (("left", node.right), ("right", node.left)):
            if isinstance(node.op, ast.Div) and side == "right":
                continue
            spread = getattr(node, side)
            seed = _seed_of(spread, self.shapes)
            if seed is not None and self.shapes.equal(self.shapes.of(other),
                                                      self.shapes.of(spread.args[1])):
                setattr(node, side, seed)
        return node

    def summed(self, value, g, x):
        """`value` (shaped g) summed down to shape x, or None when that needs more than
        sums (g smaller than x somewhere) or a shape is unknown."""
        if g is None or x is None or len(g) < len(x):
            return None
        find = self.shapes.find
        lead = tuple(range(len(g) - len(x)))
        kept = []
        for axis, (gd, xd) in enumerate(zip(g[len(lead):], x, strict=True)):
            if find(gd) == find(xd):
                continue
            if find(xd) != 1:
                return None  # g is 1 where x is not: a spread, left to the helper
            kept.append(axis)
        if not x:
            return call("xp.sum", [value])
        if lead:
            value = call("xp.sum", [value], [("axis", _axes(lead))])
        if kept:
            value = call("xp.sum", [value], [("axis", _axes(kept)),
                                             ("keepdims", ast.Constant(True))])
        return value


def _axes(axes) -> ast.Constant:
    """`axis=1`, or `axis=(0, 1)` for several."""
    return ast.Constant(tuple(axes) if len(axes) > 1 else axes[0])


def _transposed(expr: ast.expr) -> ast.expr:
    return ast.Attribute(value=expr, attr="T", ctx=ast.Load())


def specialize(function: ast.FunctionDef, argument_layouts: dict, primal: frozenset) -> None:
    """One round of the rewrites the layouts allow (the optimizer repeats its rounds until
    nothing changes): shape helpers, scalar checks, spread seeds, negations."""
    shapes = layouts.analyze(function, argument_layouts)
    body = []
    for stmt in function.body:
        if _requires_scalar(stmt) and shapes.of(stmt.value.args[0]) == ():
            continue  # the output is provably a scalar (so its computation may go too)
        body.append(_Specialize(shapes, argument_layouts).visit(stmt))
    function.body = body
    _scalar_seeds(function, shapes)
    _fold_negations(function, primal)


def _scalar_seeds(function: ast.FunctionDef, shapes) -> None:
    """`b = xp.unreduce(c, x)` / `xp.unmean(c, x)` spread c (a number, or with
    `keepdims` an array with x's unit axes) over an array of x's shape only for it to be
    multiplied into others of that shape: where every use of b is such a product (or
    sum), b is c itself (`c / x.size` for the mean of a whole array)."""
    uses: dict = {}
    parents: dict = {}
    for node in ast.walk(function):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                uses.setdefault(child.id, []).append(child)
    for stmt in function.body:
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)):
            continue
        seed = _seed_of(stmt.value, shapes)
        shape = seed and shapes.of(stmt.value.args[1])
        if seed is not None and all(_keeps_shape(use, parents, shape, shapes)
                                    for use in uses.get(stmt.targets[0].id, [])):
            stmt.value = seed


def _seed_of(call: ast.expr, shapes):
    """For `xp.unreduce(c, x, ...)` / `xp.unmean(c, x)` that only spread c over x's shape
    (the whole array with a number c, or keepdims): the expression that broadcasts the
    same way (c, or c / x.size); None for anything else."""
    if not (isinstance(call, ast.Call) and 2 <= len(call.args) <= 4 and not call.keywords
            and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "xp" and call.func.attr in ("unreduce", "unmean")):
        return None
    extra = call.args[2:]
    whole = all(isinstance(a, ast.Constant) and a.value in (None, False) for a in extra)
    kept = (call.func.attr == "unreduce" and len(extra) == 2
            and isinstance(extra[1], ast.Constant) and extra[1].value is True)
    seed, like = call.args[:2]
    shape, seed_shape = shapes.of(like), shapes.of(seed)
    if not shape or seed_shape is None or len(seed_shape) > len(shape):
        return None
    if seed_shape and not shapes.equal(shapes.broadcast([seed_shape, shape]), shape):
        return None
    if whole and seed_shape == ():
        if call.func.attr == "unmean":
            return ast.BinOp(left=seed, op=ast.Div(),
                             right=ast.Attribute(value=like, attr="size", ctx=ast.Load()))
        return seed
    return seed if kept else None


def _keeps_shape(node: ast.expr, parents: dict, shape, shapes) -> bool:
    """Does the value of `node` only ever meet, through products, quotients, sums and
    differences with numbers, an elementwise operation with an operand of `shape` (so a
    number in place of an array of that shape changes nothing)?"""
    while True:
        use = parents.get(id(node))
        if not (isinstance(use, ast.BinOp) and isinstance(use.op, (ast.Mult, ast.Div, ast.Add,
                                                                    ast.Sub))):
            return False
        other = use.right if use.left is node else use.left
        if isinstance(use.op, ast.Div) and use.right is node:
            return False  # a / b with b the spread array: keep it an array
        found = shapes.of(other)
        if shapes.equal(found, shape):
            return True
        if found != ():
            return False
        node = use


def _fold_negations(function: ast.FunctionDef, primal: frozenset) -> None:
    """`y = -x` where x is a derivative temporary used only there, defined as a product or
    quotient: the sign goes into x's definition, onto a factor that is already negated or
    a number (`-(-a * b / c)` is `a * b / c`; `-(2 * a)` is `-2 * a`), so no pass over
    the array flips it. Exact in floating point."""
    stores, loads = {}, {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            counts = stores if isinstance(node.ctx, ast.Store) else loads
            counts[node.id] = counts.get(node.id, 0) + 1
    defined = {stmt.targets[0].id: stmt for stmt in function.body
               if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
               and isinstance(stmt.targets[0], ast.Name)}

    def movable(name):
        return (name in defined and name not in primal and stores.get(name) == 1
                and loads.get(name) == 1)

    def negated(expr):
        """`-expr` without a negation pass, or None."""
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return expr.operand
        if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return ast.Constant(-expr.value)
        if isinstance(expr, ast.Name) and movable(expr.id):
            inner = negated(defined[expr.id].value)
            if inner is not None:
                defined[expr.id].value = inner
                return expr
            return None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Mult, ast.Div)):
            for side in ("left", "right"):
                inner = negated(getattr(expr, side))
                if inner is not None:
                    return ast.BinOp(**{**vars(expr), side: inner})
        return None

    for stmt in function.body:
        value = getattr(stmt, "value", None)
        if (isinstance(stmt, ast.Assign) and isinstance(value, ast.UnaryOp)
                and isinstance(value.op, ast.USub) and isinstance(value.operand, ast.Name)
                and movable(value.operand.id)):
            inner = negated(defined[value.operand.id].value)
            if inner is not None:
                defined[value.operand.id].value = inner
                stmt.value = value.operand
    _subtract_negated_starts(function, primal)


def _subtract_negated_starts(function: ast.FunctionDef, primal: frozenset) -> None:
    """`y = -a` whose next use is `y = y + c` is `y = c - a`: one pass over the array
    instead of a negation and an addition (an adjoint whose first contribution came
    through a subtraction or negation, the next from elsewhere)."""
    body = function.body
    index = 0
    while index < len(body):
        stmt = body[index]
        index += 1
        value = getattr(stmt, "value", None)
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in primal
                and isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)):
            continue
        target, negated = stmt.targets[0].id, value.operand
        operands = {n.id for n in ast.walk(negated) if isinstance(n, ast.Name)}
        for later in body[index:]:
            names = {n.id for n in ast.walk(later) if isinstance(n, ast.Name)}
            if isinstance(later, Comment):
                continue
            if not isinstance(later, ast.Assign) or target in names or names & operands:
                update = getattr(later, "value", None)
                if (isinstance(later, ast.Assign) and len(later.targets) == 1
                        and isinstance(later.targets[0], ast.Name)
                        and later.targets[0].id == target and isinstance(update, ast.BinOp)
                        and isinstance(update.op, ast.Add) and isinstance(update.left, ast.Name)
                        and update.left.id == target
                        and target not in _read_counts(ast.Expr(update.right))
                        and not _stores(later) & operands):
                    later.value = ast.BinOp(left=update.right, op=ast.Sub(), right=negated)
                    index -= 1
                    del body[index]
                break


def _stores(stmt) -> set:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _accumulate_in_place(function: ast.FunctionDef, shapes: layouts.Shapes) -> None:
    """`acc = acc + e` as `acc += e` for an accumulator the emitted code owns: it starts
    as a number placeholder (the first `+=` makes a fresh array of it), every update
    adds a value of one known shape, and it is read nowhere else but in the return (so
    no other name can see the array change)."""
    stores: dict = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        stores.setdefault(name.id, []).append(node)
        elif isinstance(node, (ast.AugAssign, ast.For)):
            target = node.target
            if isinstance(target, ast.Name):
                stores.setdefault(target.id, []).append(node)
    returns = [n for n in ast.walk(function) if isinstance(n, ast.Return)]
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
        allowed |= {id(n) for r in returns for n in ast.walk(r)}
        reads = [n for n in ast.walk(function) if isinstance(n, ast.Name) and n.id == name
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
    `y += e`. Straight-line statements of the function body only, and only when every
    array argument is float64, so that no update changes a dtype. The user's own
    statements keep their form (derivative statements reuse their arrays)."""
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
        kernel = _xp_kernel(expr)
        if kernel in _FRESH_REDUCTIONS:  # sum/mean/max/min/prod of floats, any axis
            return bool(expr.args) and is_float(expr.args[0])
        return (kernel in _FLOAT_KERNELS and len(expr.args) == 1
                and not expr.keywords and is_float(expr.args[0]))

    def _is_size(expr) -> bool:  # a name holding one of the arguments' sizes (an int)
        return isinstance(expr, ast.Name) and expr.id in shapes.dims

    out = []
    for i, stmt in enumerate(body):
        reads = _read_counts(stmt)
        simple = (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name))
        steps = None
        if simple and stmt.targets[0].id not in primal:
            steps = _in_place_steps(stmt.value, made, reads, later[i], shapes, is_float,
                                    stmt.targets[0].id)
        if steps is not None:
            target, (first, updates) = stmt.targets[0].id, steps
            if first.id != target:
                out.append(ast.copy_location(ast.Assign(
                    targets=[ast.Name(target, ast.Store())], value=first), stmt))
            for op, other in updates:
                out.append(ast.copy_location(ast.AugAssign(
                    target=ast.Name(target, ast.Store()), op=op, value=other), stmt))
            made.discard(first.id)
            made.add(target)
            floating.add(target)
            continue
        for name in _aliasing_reads(stmt):  # a reference may be kept: no longer ours alone
            made.discard(name)
        for node in ast.walk(stmt):
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
    for node in ast.walk(stmt):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    kept = set()
    for node in ast.walk(stmt):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(id(node))
        fresh = isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)) or (
            isinstance(parent, ast.Call) and node in parent.args[:1]
            and _xp_kernel(parent) in _FLOAT_KERNELS | _FRESH_REDUCTIONS)
        if not fresh:
            kept.add(node.id)
    return kept


def _read_counts(stmt) -> dict:
    counts: dict = {}
    for node in ast.walk(stmt):
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


def _requires_scalar(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "require_scalar")
