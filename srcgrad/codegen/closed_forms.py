"""Loops in closed form: a loop whose only work is scaling one value by a number,

    for _ in range(trips):
        by = by * 2

is `by = xp.repeated_product(by, 2, trips)`: one multiplication instead of `trips`. The
adjoint of a loop that scales its state by a constant (the seeds' doubling loop,
`while norm(y) < 1000: y = y * 2`) is such a loop, and on small arrays each of its
multiplications costs a kernel call.
"""

from __future__ import annotations

import ast
from numbers import Number

from srcgrad.codegen.syntax import Comment, call, name, statements, walk

__all__ = ["close_scaling_loops"]


def close_scaling_loops(function: ast.FunctionDef, primal: frozenset) -> bool:
    """Rewrite every scaling loop of `function` in closed form (the caller makes sure `xp`
    is bound). Loops over the user's own values (`primal`) keep their exact operations.
    Returns whether anything changed."""
    if not any(isinstance(s, ast.For) and _single_assignment(s)
               for s in statements(function.body)):
        return False  # (finding the names read takes a walk over the whole function)
    read = {n.id for n in walk(function)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return _close(function.body, read, primal)


def _single_assignment(loop: ast.For) -> bool:
    """Is one assignment the only work of `loop` (comments aside)?"""
    work = [s for s in loop.body if not isinstance(s, Comment)]
    return len(work) == 1 and isinstance(work[0], ast.Assign) and not loop.orelse


def _close(body: list[ast.stmt], read: set[str], primal: frozenset) -> bool:
    changed = False
    for index, stmt in enumerate(body):
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner:
                changed |= _close(inner, read, primal)
        closed = _closed_form(stmt, read, primal)
        if closed is not None:
            body[index:index + 1] = closed
            changed = True
    return changed


def _closed_form(stmt: ast.stmt, read: set[str], primal: frozenset) -> list[ast.stmt] | None:
    """The comments and the one assignment that replace `stmt`, if it is a scaling loop
    `for i in range(n): v = v * c` (or `c * v`, or `-v`) with `c` a number and `i` read
    nowhere."""
    if not (isinstance(stmt, ast.For) and not stmt.orelse
            and isinstance(stmt.target, ast.Name) and stmt.target.id not in read):
        return None
    count = _trip_count(stmt.iter)
    if count is None:
        return None
    comments = [s for s in stmt.body if isinstance(s, Comment)]
    work = [s for s in stmt.body if not isinstance(s, Comment)]
    if len(work) != 1 or not isinstance(work[0], ast.Assign) or len(work[0].targets) != 1:
        return None
    target, value = work[0].targets[0], work[0].value
    if not isinstance(target, ast.Name) or target.id in primal:
        return None
    factor = _factor(value, target.id)
    if factor is None:
        return None
    scaled = call("xp.repeated_product",
                  [name(target.id), ast.Constant(factor), count])
    assign = ast.copy_location(ast.Assign(targets=[name(target.id, store=True)],
                                          value=scaled), work[0])
    return [*comments, assign]


def _trip_count(iterable: ast.expr) -> ast.expr | None:
    """How many times a loop over `iterable` runs: `n` for `range(n)` or
    `reversed(range(n))` (the helper counts a negative n as none), `len(range(...))` for
    other ranges; None for anything else."""
    if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "reversed" and len(iterable.args) == 1
            and not iterable.keywords):
        iterable = iterable.args[0]
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "range" and 1 <= len(iterable.args) <= 3
            and not iterable.keywords):
        return None
    if len(iterable.args) == 1:
        return iterable.args[0]
    return call("len", [iterable])


def _factor(value: ast.expr, variable: str) -> Number | None:
    """c when `value` is `variable * c`, `c * variable` or `-variable` (c = -1)."""
    def is_variable(node):
        return isinstance(node, ast.Name) and node.id == variable

    def number(node):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = number(node.operand)
            return None if inner is None else -inner
        if (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
            return node.value
        return None

    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) and is_variable(
            value.operand):
        return -1
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        if is_variable(value.left):
            return number(value.right)
        if is_variable(value.right):
            return number(value.left)
    return None
