"""Which names hold Python containers (lists, tuples, dicts) rather than arrays.

Container adjoints and tangents are containers too and are combined entry by entry, so the
transformations need to know, per name, which kind of value it holds. A name holds a
container when it is assigned a list, tuple or dict display, or a copy of a container.
"""

from __future__ import annotations

from srcgrad.codegen.syntax import walk

import ast

__all__ = ["containers", "sequence_parameters", "joined_containers", "joined_arguments",
           "joining_error"]


def containers(function: ast.FunctionDef) -> frozenset[str]:
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in walk(function):
            if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
                continue
            value, target = node.value, node.targets[0].id
            if target in found:
                continue
            if isinstance(value, (ast.List, ast.Tuple, ast.Dict)) or (
                    isinstance(value, ast.Name) and value.id in found):
                found.add(target)
                changed = True
    return frozenset(found)


def sequence_parameters(function: ast.FunctionDef, names: frozenset) -> frozenset[str]:
    """The parameters among `names` (those a call passes lists or tuples to) that hold
    them throughout: `function` never assigns them."""
    if not names:
        return frozenset()
    assigned = {node.id for node in walk(function)
                if node.__class__ is ast.Name and node.ctx.__class__ is not ast.Load}
    return frozenset(names) - assigned


def joined_containers(value: ast.expr, names: frozenset, operators=(ast.Add, ast.Mult)):
    """The operator of `a + b` or `a * n` (one of `operators`) where a side is a list or
    tuple (a display, or a name in `names`): a concatenation or repetition, which the
    arithmetic rules would take for an elementwise sum or product; else None."""
    if value.__class__ is not ast.BinOp or value.op.__class__ not in operators:
        return None
    sides = (value.left, value.right)
    if value.op.__class__ is ast.Mult and any(
            side.__class__ is ast.Constant and side.value == 1 for side in sides):
        return None  # `[x] * 1`: the list itself
    if any(side.__class__ in (ast.List, ast.Tuple) or (
            side.__class__ is ast.Name and side.id in names) for side in sides):
        return value.op.__class__
    return None


def joined_arguments(value: ast.expr, names: frozenset):
    """The operator of `xs + ys` where both are lists or tuples the call passes (`names`),
    or `p * 2`, one of them times an int: a concatenation or repetition; else None. (A
    list of numbers and an array, `w * x` or `w + x`, are NumPy's elementwise ones.)"""
    if not names or value.__class__ is not ast.BinOp:
        return None
    sides = (value.left, value.right)
    given = [side.__class__ is ast.Name and side.id in names for side in sides]
    if value.op.__class__ is ast.Add and all(given):
        return ast.Add
    if value.op.__class__ is ast.Mult and any(
            mine and other.__class__ is ast.Constant and type(other.value) is int
            and other.value != 1 for mine, other in zip(given, reversed(sides))):
        return ast.Mult
    return None


def joining_error(operator, mode: str) -> tuple[str, str]:
    """The message and hint of the located error for `joined_containers`."""
    if operator is ast.Add:
        return (f"concatenating lists or tuples with `+` cannot be differentiated in {mode} "
                "mode", "build the list with its items written out ([a, b]) or with .append")
    return (f"repeating a list or tuple with `*` cannot be differentiated in {mode} mode",
            "list the items (`[x, x, x]`), or build the array with np.tile or np.repeat")
