"""Records: values the forward sweep pushes before overwriting them, for the backward sweep.

The reverse transformation records every value it may need (`stack.append(x)` in the forward
sweep, `x = stack.pop()` in the backward sweep); once the backward sweep is built, these
helpers keep only the records it reads, note which recorded names it reads only for their
shape (so the forward sweep can keep `xp.like(x)` rather than the array), and list the
recorded names that may be unbound when first recorded.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.syntax import STACKS, child_fields, loads, walk

__all__ = ["drop_needless_records", "unset_records", "record_name"]


def drop_needless_records(backward: list[ast.stmt], records: set,
                          views=None) -> tuple[list[ast.stmt], set, set[str]]:
    """Keep a record (push and pop) only for names the backward sweep reads; the record of
    a slot update `y[k] = v` also when it reads a name that may be a view of y (`views`:
    name -> the names that may share its memory), which sees the slots restored.

    Returns (the backward sweep without the needless pops, the recorded statements kept,
    the names the backward sweep reads only for their shape)."""

    def popped(stmt) -> str | None:
        value = getattr(stmt, "value", None)
        if (isinstance(stmt, ast.Assign) and isinstance(value, ast.Call)
                and not value.args and not value.keywords
                and isinstance(value.func, ast.Attribute) and value.func.attr == "pop"
                and isinstance(value.func.value, ast.Name) and value.func.value.id in STACKS):
            return _record_target(stmt)
        return None

    read: set[str] = set()

    def reads(node) -> None:
        if isinstance(node, ast.stmt) and popped(node):
            target = node.targets[0]
            if isinstance(target, ast.Subscript):  # restoring y[k] reads k, not y
                read.update(n.id for n in walk(target.slice) if isinstance(n, ast.Name))
            return
        if isinstance(node, ast.stmt):
            for field in child_fields(node):
                value = getattr(node, field, None)
                for child in value if isinstance(value, list) else (value,):
                    if isinstance(child, ast.AST):
                        reads(child)
        else:
            read.update(loads(node))

    for stmt in backward:
        reads(stmt)
    shape_only = _shape_only_reads(backward, popped)
    kept, needless = set(), set()
    views = views or {}
    for stmt in records:
        target = _record_target(stmt)
        if target in read or (activity_module.is_slot_update(stmt)
                              and views.get(target, frozenset()) & read):
            kept.add(stmt)
        else:
            needless.add(target)

    def keep(stmt) -> bool:
        return popped(stmt) not in needless

    def prune(stmts):
        out = []
        for stmt in stmts:
            if not keep(stmt):
                continue
            for field_name in ("body", "orelse"):
                if hasattr(stmt, field_name) and isinstance(getattr(stmt, field_name), list):
                    setattr(stmt, field_name, prune(getattr(stmt, field_name)))
            out.append(stmt)
        return out

    return prune(backward), kept, shape_only


def unset_records(records: set, assignments) -> list[str]:
    """Recorded names that may be unassigned when first recorded: set to None up front
    so that `stack.append(x)` never meets an unbound name."""
    names = []
    for stmt in records:
        if activity_module.is_slot_update(stmt):
            continue
        target = _record_target(stmt)
        if assignments.may_be_unassigned_before(stmt, target) and target not in names:
            names.append(target)
    return sorted(names)


# Helpers whose argument at this position is only asked for its shape and dtype.
_SHAPE_ARGUMENTS = {"unbroadcast": 1, "unreduce": 1, "unindex": 1, "broadcast_like": 1}


def _shape_only_reads(backward, popped) -> set[str]:
    """Names the backward sweep reads only as the shape argument of an adjoint helper."""
    shape_reads, other_reads = set(), set()

    def visit(node, shape_position: bool = False) -> None:
        if isinstance(node, ast.stmt) and popped(node):
            target = node.targets[0]
            if isinstance(target, ast.Subscript):  # restoring y[k] writes into y's array
                other_reads.add(target.value.id)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            (shape_reads if shape_position else other_reads).add(node.id)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "xp"
                and node.func.attr in _SHAPE_ARGUMENTS):
            position = _SHAPE_ARGUMENTS[node.func.attr]
            for index, arg in enumerate(node.args):
                visit(arg, index == position and isinstance(arg, ast.Name))
            for keyword in node.keywords:
                visit(keyword.value)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in backward:
        visit(stmt)
    return shape_reads - other_reads


def _record_target(stmt: ast.stmt) -> str:
    """The name a recorded statement (or its restoring pop) overwrites."""
    if isinstance(stmt, ast.For):
        return stmt.target.id
    target = stmt.targets[0]
    return target.value.id if isinstance(target, ast.Subscript) else target.id


def record_name(stmt: ast.stmt) -> str | None:
    """x for `stack.append(x)` / `stack.append(xp.like(x))`."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return None
    func = stmt.value.func
    if not (isinstance(func, ast.Attribute) and func.attr == "append"
            and isinstance(func.value, ast.Name) and func.value.id in STACKS):
        return None
    arg = stmt.value.args[0]
    if isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "like":
        arg = arg.args[0]
    return arg.id if isinstance(arg, ast.Name) else None
