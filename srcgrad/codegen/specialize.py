"""Rewrites of emitted code for the layouts of a call's arrays (rank and unit axes;
see `analysis.layouts`): what a careful person writes once shapes are known.

`specialize` runs with the optimizer's other passes until nothing changes: `unbroadcast`
that changes nothing goes or becomes `xp.sum`, matrix matmul adjoints become `g @ W.T`,
scalar checks of provably scalar outputs go, spread seeds become numbers, negations fold
into factors or subtractions, sizes come from parameters. `in_place.update_in_place` runs
last.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import (
    Comment,
    call,
    fresh,
    links,
    names_in,
    rewrite,
    statements,
    stores_in,
    walk,
    xp_calls,
)

__all__ = ["specialize", "hoist_transposes"]


class _Specialize:
    """Helpers whose work the argument layouts decide: `unbroadcast` and `broadcast_like`
    that change nothing go, an `unbroadcast` whose summed axes are known becomes `xp.sum`,
    and the matmul adjoints of matrices become products with a transpose."""

    def __init__(self, shapes: layouts.Shapes, parameters=()):
        self.shapes = shapes
        self.parameters = [ast.Name(p, ast.Load()) for p in parameters]
        self.changes = 0  # rewrites made

    def visit(self, node: ast.AST) -> ast.AST:
        return rewrite(node, self.change)

    def change(self, node: ast.AST) -> ast.AST:
        kind = type(node)
        if kind is ast.Call:
            new = self._call(node)
        elif kind is ast.BinOp:
            new = self._binop(node)
        elif kind is ast.Attribute:
            new = self._attribute(node)
        else:
            return node
        if new is not node:
            self.changes += 1
        return new

    def _attribute(self, node):
        """`t.size` of a temporary shaped like a parameter p is `p.size`: the temporary
        may then go (`mean((p - y) ** 2)` needs the square only for its size)."""
        if node.attr == "size" and isinstance(node.value, ast.Name) and isinstance(
                node.ctx, ast.Load):
            shape = self.shapes.of(node.value)
            if shape and not any(p.id == node.value.id for p in self.parameters):
                for parameter in self.parameters:
                    if self.shapes.equal(self.shapes.of(parameter), shape):
                        node.value = ast.Name(parameter.id, ast.Load())
                        self.changes += 1
                        break
        return node

    def _call(self, node):
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

    def _binop(self, node):
        """`xp.unreduce(g, x, ...) * y` with y shaped like x: g broadcasts by itself."""
        if not isinstance(node.op, (ast.Mult, ast.Div, ast.Add, ast.Sub)):
            return node
        for side in ("left", "right"):
            if isinstance(node.op, ast.Div) and side == "right":
                continue
            # (the other side as it is now: once one spread is its seed, the other stays)
            other = node.right if side == "left" else node.left
            spread = getattr(node, side)
            seed = _seed_of(spread, self.shapes)
            if seed is not None and self.shapes.equal(self.shapes.of(other),
                                                      self.shapes.of(spread.args[1])):
                setattr(node, side, seed)
                self.changes += 1
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
            return _sum(value)
        if lead:
            value = _sum(value, [("axis", _axes(lead))])
        if kept:
            value = _sum(value, [("axis", _axes(kept)), ("keepdims", ast.Constant(True))])
        return value


def _sum(value: ast.expr, keywords=()) -> ast.expr:
    """`xp.sum(value, ...)`; `-xp.sum(v, ...)` for a negated value: the (smaller) sum is
    negated instead, where the sign can fold further."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        return ast.UnaryOp(op=ast.USub(), operand=call("xp.sum", [value.operand], keywords))
    return call("xp.sum", [value], keywords)


def _axes(axes) -> ast.Constant:
    """`axis=1`, or `axis=(0, 1)` for several."""
    return ast.Constant(tuple(axes) if len(axes) > 1 else axes[0])


def _transposed(expr: ast.expr) -> ast.expr:
    return ast.Attribute(value=expr, attr="T", ctx=ast.Load())


def specialize(function: ast.FunctionDef, argument_layouts: dict, primal: frozenset,
               helpers=None, callees=None) -> bool:
    """One round of the rewrites the layouts allow (the optimizer repeats its rounds until
    nothing changes): shape helpers, scalar checks, spread seeds, negations. `helpers`
    holds (at least) the backend functions the code calls, when the caller knows them.
    Returns whether anything changed."""
    shapes = layouts.analyze(function, argument_layouts, callees)
    rewriter = _Specialize(shapes, [p for p in argument_layouts if p.isidentifier()])
    body = []
    for stmt in function.body:
        if _requires_scalar(stmt) and shapes.of(stmt.value.args[0]) == ():
            rewriter.changes += 1
            continue  # the output is provably a scalar (so its computation may go too)
        body.append(rewriter.visit(stmt))
    function.body = body
    changed = rewriter.changes > 0
    if (xp_calls(function) if helpers is None else helpers) & {"unreduce", "unmean"}:
        changed |= _scalar_seeds(function, shapes, rewriter.visit)
    return _fold_negations(function, primal) or changed


def hoist_transposes(function: ast.FunctionDef, argument_layouts: dict,
                     primal: frozenset, shapes=None) -> bool:
    """`W.T` read by derivative statements inside a top-level loop, W an array the loop
    does not assign: taken once before the loop (`Wh_T = Wh.T`), as a person writes it,
    instead of a new view per trip. Only arrays of known rank, so taking `.T` early can
    never fail where a loop of no trips would not have taken it. `shapes`: the layouts
    analysis of the function as it is, when the caller has it. Returns whether anything
    changed."""
    if not any(isinstance(stmt, (ast.For, ast.While)) for stmt in function.body):
        return False
    if shapes is None:
        shapes = layouts.analyze(function, argument_layouts)
    changed = False
    taken = {n.id for n in walk(function) if isinstance(n, ast.Name)}
    body, index = function.body, 0
    while index < len(body):
        loop = body[index]
        index += 1
        if not isinstance(loop, (ast.For, ast.While)):
            continue
        stored = stores_in(loop)
        hoisted: dict[str, str] = {}

        def replace(node):
            if (isinstance(node, ast.Attribute) and node.attr == "T"
                    and isinstance(node.value, ast.Name) and node.value.id not in stored
                    and shapes.of(node.value)):
                name = node.value.id
                if name not in hoisted:
                    hoisted[name] = fresh(f"{name}_T", taken)
                return ast.Name(hoisted[name], ast.Load())
            for field, value in ast.iter_fields(node):
                if isinstance(value, ast.AST):
                    setattr(node, field, replace(value))
                elif isinstance(value, list):
                    setattr(node, field, [replace(v) if isinstance(v, ast.AST) else v
                                          for v in value])
            return node

        for stmt in statements(loop.body):
            if isinstance(stmt, (ast.Assign, ast.AugAssign)) and not stores_in(stmt) & primal:
                stmt.value = replace(stmt.value)
        for name in sorted(hoisted):
            view = ast.Assign(targets=[ast.Name(hoisted[name], ast.Store())],
                              value=_transposed(ast.Name(name, ast.Load())))
            body.insert(index - 1, ast.copy_location(view, loop))
            index += 1
            changed = True
    return changed


def _scalar_seeds(function: ast.FunctionDef, shapes, respecialize) -> bool:
    """`b = xp.unreduce(c, x)` / `xp.unmean(c, x)` spread c (a number, or with
    `keepdims` an array with x's unit axes) over an array of x's shape only for it to be
    multiplied into others of that shape: where every use of b is such a product (or
    sum), b is c itself (`c / x.size` for the mean of a whole array, passed through
    `respecialize`, the rewrites of this round)."""
    candidates = []
    for stmt in function.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            seed = _seed_of(stmt.value, shapes)
            if seed is not None:
                candidates.append((stmt, seed, shapes.of(stmt.value.args[1])))
    if not candidates:
        return False
    parents, reads = links(function)
    changed = False
    numbers: set[str] = set()  # the spreads made numbers: they no longer carry the shape
    for stmt, seed, shape in candidates:
        target = stmt.targets[0].id
        if all(_keeps_shape(use, parents, shape, shapes, numbers | {target})
               for use in reads.get(target, [])):
            stmt.value = respecialize(seed)
            numbers.add(target)
            changed = True
    return changed


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


def _keeps_shape(node: ast.expr, parents: dict, shape, shapes, numbers=frozenset()) -> bool:
    """Does the value of `node` only ever meet, through products, quotients, sums and
    differences with numbers, an elementwise operation with an operand of `shape` (so a
    number in place of an array of that shape changes nothing)? An operand named in
    `numbers` (the spread itself, `b + b`, or one already made a number) does not count."""
    while True:
        use = parents.get(id(node))
        if not (isinstance(use, ast.BinOp) and isinstance(use.op, (ast.Mult, ast.Div, ast.Add,
                                                                    ast.Sub))):
            return False
        other = use.right if use.left is node else use.left
        if isinstance(use.op, ast.Div) and use.right is node:
            return False  # a / b with b the spread array: keep it an array
        if isinstance(other, ast.Name) and other.id in numbers:
            return False
        found = shapes.of(other)
        if shapes.equal(found, shape):
            return True
        if found != ():
            return False
        node = use


def _fold_negations(function: ast.FunctionDef, primal: frozenset) -> bool:
    """`y = -x` where x is a derivative temporary used only there, defined as a product or
    quotient: the sign goes into x's definition, onto a factor that is already negated or
    a number (`-(-a * b / c)` is `a * b / c`; `-(2 * a)` is `-2 * a`), so no pass over
    the array flips it. A sum or difference takes the sign of a term the same way
    (`y = -s; z = y / q; w = a + z * e` is `z = s / q; w = a - z * e`). Exact in floating
    point."""
    changed = any(_negates_name(stmt) or _adds_terms(stmt) for stmt in function.body) and (
        _fold_negated_names(function, primal))
    return _subtract_negated_starts(function, primal) or changed


def _negates_name(stmt: ast.stmt) -> bool:
    """`y = -x`, x a name."""
    value = getattr(stmt, "value", None)
    return (isinstance(stmt, ast.Assign) and isinstance(value, ast.UnaryOp)
            and isinstance(value.op, ast.USub) and isinstance(value.operand, ast.Name))


def _adds_terms(stmt: ast.stmt) -> bool:
    """`y = a + b` or `y = a - b`, y a name."""
    value = getattr(stmt, "value", None)
    return (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
            and isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)))


def _fold_negated_names(function: ast.FunctionDef, primal: frozenset) -> bool:
    stores, loads = {}, {}
    for node in walk(function):
        if isinstance(node, ast.Name):
            counts = stores if isinstance(node.ctx, ast.Store) else loads
            counts[node.id] = counts.get(node.id, 0) + 1
    defined = {stmt.targets[0].id: stmt for stmt in function.body
               if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
               and isinstance(stmt.targets[0], ast.Name)}

    taken = set(stores) | set(loads)

    def movable(name):
        return (name in defined and name not in primal and stores.get(name) == 1
                and loads.get(name) == 1)

    def constant(name):  # a derivative temporary that only ever holds one number
        value = getattr(defined.get(name), "value", None)
        return (name not in primal and stores.get(name) == 1 and isinstance(value, ast.Constant)
                and type(value.value) in (int, float))

    def negated(expr, numbers=True):
        """`-expr` without a negation pass, or None; without `numbers`, only where a
        negation goes (not onto a number, which would gain nothing)."""
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return expr.operand
        if numbers and isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return ast.Constant(-expr.value)
        if numbers and isinstance(expr, ast.Name) and constant(expr.id):
            return ast.Constant(-defined[expr.id].value.value)  # (not a copy of it)
        if isinstance(expr, ast.Name) and movable(expr.id):
            definition = defined[expr.id]
            inner = negated(definition.value, numbers)
            if inner is None:
                return None
            definition.value = inner  # now the opposite: its name says so
            name = expr.id
            opposite = name[len("neg_"):] if name.startswith("neg_") else f"neg_{name}"
            definition.targets[0].id = renamed = fresh(opposite, taken)
            defined[renamed], stores[renamed], loads[renamed] = definition, 1, 1
            return ast.Name(renamed, ast.Load())
        return negated_product(expr, numbers)

    def negated_product(expr, numbers):
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Mult, ast.Div)):
            for side in ("left", "right"):
                inner = negated(getattr(expr, side), numbers)
                if inner is not None:
                    return ast.BinOp(**{**vars(expr), side: inner})
        return None

    changed = False
    for stmt in function.body:
        if _negates_name(stmt) and movable(stmt.value.operand.id):
            inner = negated(stmt.value.operand)
            if inner is not None:
                stmt.value = inner
                changed = True
        elif _adds_terms(stmt) and stmt.targets[0].id not in primal:
            value = stmt.value
            if isinstance(value.op, ast.Add):
                inner = negated(value.left, numbers=False)
                if inner is not None:  # -a + b is b - a
                    value.left, value.op, value.right = value.right, ast.Sub(), inner
                    changed = True
            inner = negated(value.right, numbers=False)
            while inner is not None:  # a + -b is a - b; a - -b is a + b
                value.op = ast.Sub() if isinstance(value.op, ast.Add) else ast.Add()
                value.right = inner
                changed = True
                inner = negated(inner, numbers=False)  # (b may hold another sign)
    return changed


def _subtract_negated_starts(function: ast.FunctionDef, primal: frozenset) -> bool:
    """`y = -a` whose next use is `y = y + c` is `y = c - a`: one pass over the array
    instead of a negation and an addition (an adjoint whose first contribution came
    through a subtraction or negation, the next from elsewhere)."""
    body = function.body
    index = 0
    changed = False
    while index < len(body):
        stmt = body[index]
        index += 1
        value = getattr(stmt, "value", None)
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in primal
                and isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)):
            continue
        target, negated = stmt.targets[0].id, value.operand
        operands = {n.id for n in walk(negated) if isinstance(n, ast.Name)}
        for later in body[index:]:
            names = {n.id for n in walk(later) if isinstance(n, ast.Name)}
            if isinstance(later, Comment):
                continue
            if not isinstance(later, ast.Assign) or target in names or names & operands:
                update = getattr(later, "value", None)
                if (isinstance(later, ast.Assign) and len(later.targets) == 1
                        and isinstance(later.targets[0], ast.Name)
                        and later.targets[0].id == target and isinstance(update, ast.BinOp)
                        and isinstance(update.op, ast.Add) and isinstance(update.left, ast.Name)
                        and update.left.id == target
                        and target not in names_in(update.right)
                        and not stores_in(later) & operands):
                    later.value = ast.BinOp(left=update.right, op=ast.Sub(), right=negated)
                    index -= 1
                    del body[index]
                    changed = True
                break
    return changed


def _requires_scalar(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "require_scalar")
