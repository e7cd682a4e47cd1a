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

Outside loops, the adjoint of a dict read at constant keys (`params['W']`,
`params['b']`) is a chain of one-entry container adjoints added up,

    bparams = xp.unindex(bparams_b, params, 'b')
    bparams = bparams + xp.unindex(bparams_W, params, 'W')

which `gather_entries` writes as the one adjoint it is,
`bparams = xp.cotangents({'b': bparams_b, 'W': bparams_W})`.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.syntax import assign, call, fresh, name, walk

__all__ = ["gather_in_buffers", "gather_entries"]


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


def gather_entries(function: ast.FunctionDef) -> bool:
    """Write a chain of `b = xp.unindex(g, d, 'k')`, `b = b + xp.unindex(g2, d, 'k2')`,
    ... among the function's top-level statements (d one name, the keys string
    constants, nothing else reading b or rebinding d or a g before the chain ends) as
    `b = xp.cotangents({'k': g, 'k2': g2, ...})` where the chain ends (the entries of a
    key read twice added). Rewrites the first chain; returns whether there was one (the
    optimizer runs its passes until nothing changes)."""
    body = function.body
    for start, stmt in enumerate(body):
        first = _entry_adjoint(stmt)
        if first is None or first[0] is not None:
            continue
        target, container = stmt.targets[0].id, first[1]
        chain, pending = [start], {first[3]}
        for index in range(start + 1, len(body)):
            later = body[index]
            found = _entry_adjoint(later)
            if found is not None and found[0] == target and found[1] == container:
                chain.append(index)
                pending.add(found[3])
                continue
            names = {n.id for n in walk(later) if isinstance(n, ast.Name)}
            if target in names or _stores(later) & (pending | {container}):
                break
        if len(chain) < 2:
            continue
        gathered: dict = {}
        for index in chain:
            _, _, key, adjoint = _entry_adjoint(body[index])
            gathered.setdefault(key, []).append(adjoint)
        entries = ast.Dict(keys=[ast.Constant(k) for k in gathered],
                           values=[_sum(parts) for parts in gathered.values()])
        body[chain[-1]] = ast.copy_location(
            assign(target, call("xp.cotangents", [entries])), body[chain[-1]])
        for index in reversed(chain[:-1]):
            del body[index]
        return True
    return False


def _entry_adjoint(stmt: ast.stmt):
    """(None, d, 'k', g) for `b = xp.unindex(g, d, 'k')`, (b, d, 'k', g) for `b = b +
    xp.unindex(g, d, 'k')`, with b, d and g names; None for anything else."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)):
        return None
    value, added_to = stmt.value, None
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and isinstance(
            value.left, ast.Name) and value.left.id == stmt.targets[0].id:
        value, added_to = value.right, value.left.id
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "xp"
            and value.func.attr == "unindex" and len(value.args) == 3 and not value.keywords
            and isinstance(value.args[0], ast.Name) and isinstance(value.args[1], ast.Name)
            and isinstance(value.args[2], ast.Constant) and type(value.args[2].value) is str):
        return added_to, value.args[1].id, value.args[2].value, value.args[0].id
    return None


def _stores(stmt: ast.stmt) -> set:
    return {n.id for n in walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _sum(parts: list[str]) -> ast.expr:
    total: ast.expr = name(parts[0])
    for part in parts[1:]:
        total = ast.BinOp(left=total, op=ast.Add(), right=name(part))
    return total
