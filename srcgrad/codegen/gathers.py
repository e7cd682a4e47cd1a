"""Slot adjoints gathered in a loop go into one buffer.

The adjoint of `x[i]` is an array shaped like `x`, zero but at `i`. A loop that reads
one slot per trip (`for i in range(n): s = s + x[i] * w[i]`) therefore has a backward
loop of the form

    for i in reversed(range(n)):
        bx = bx + xp.unindex(bx_i, x, i)

which makes and adds a whole array per trip: O(n) work per trip, O(n^2) in all. With
the loop rewritten as

    bx_slots = 0.0
    for i in reversed(range(n)):
        bx_slots = xp.accumulate_at(bx_slots, bx_i, x, i)
    bx = bx + bx_slots

the buffer is made once (at the first trip) and each trip adds into its slots: O(n) in
all. `bx_slots` is assigned only by `accumulate_at`, so nothing else can see the
array it updates in place.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.syntax import assign, call, fresh, name, walk

__all__ = ["gather_in_buffers"]


def gather_in_buffers(function: ast.FunctionDef) -> bool:
    """Rewrite the loops of `function` that gather slot adjoints (see the module
    docstring; the caller makes sure `xp` is bound). Returns whether anything changed."""
    taken = {n.id for n in walk(function) if isinstance(n, ast.Name)}
    return _rewrite(function.body, taken)


def _rewrite(body: list[ast.stmt], taken: set[str]) -> bool:
    changed = False
    index = 0
    while index < len(body):
        stmt = body[index]
        if isinstance(stmt, (ast.For, ast.While)) and not stmt.orelse:
            replaced = _gathered(stmt, taken)
            if replaced is not None:
                body[index:index + 1] = replaced
                index += len(replaced)
                changed = True
                continue
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                changed |= _rewrite(inner, taken)
        index += 1
    return changed


def _gathered(loop: ast.stmt, taken: set[str]) -> list[ast.stmt] | None:
    """[buffer = 0.0, loop, b = b + buffer, ...] for each accumulator b the loop gathers
    slot adjoints into, or None when it gathers none."""
    found: dict[str, list[ast.Assign]] = {}
    for node in walk(loop):
        accumulator = _slot_accumulation(node)
        if accumulator is not None:
            found.setdefault(accumulator, []).append(node)
    stored = {n.id for n in walk(loop)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    before, after = [], []
    for accumulator, statements in sorted(found.items()):
        uses = [n for n in walk(loop) if isinstance(n, ast.Name) and n.id == accumulator]
        reads = [n for n in uses if isinstance(n.ctx, ast.Load)]
        shapes = {s.value.right.args[1].id for s in statements}
        if len(reads) != len(statements) or len(uses) != 2 * len(statements) or (
                shapes & stored):
            continue  # read or assigned elsewhere in the loop, or x changes within it
        buffer = fresh(f"{accumulator}_slots", taken)
        for stmt in statements:
            g, x, key = stmt.value.right.args
            stmt.targets = [name(buffer, store=True)]
            stmt.value = call("xp.accumulate_at", [name(buffer), g, x, key])
        before.append(assign(buffer, ast.Constant(0.0)))
        after.append(assign(accumulator, ast.BinOp(left=name(accumulator), op=ast.Add(),
                                                   right=name(buffer))))
    if not before:
        return None
    for stmt in (*before, *after):
        ast.copy_location(stmt, loop)
    return [*before, loop, *after]


def _slot_accumulation(node: ast.AST) -> str | None:
    """b for `b = b + xp.unindex(g, x, key)` with x a name."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)):
        return None
    value, target = node.value, node.targets[0].id
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name) and value.left.id == target):
        return None
    right = value.right
    if (isinstance(right, ast.Call) and isinstance(right.func, ast.Attribute)
            and isinstance(right.func.value, ast.Name) and right.func.value.id == "xp"
            and right.func.attr == "unindex" and len(right.args) == 3 and not right.keywords
            and isinstance(right.args[1], ast.Name)):
        return target
    return None
